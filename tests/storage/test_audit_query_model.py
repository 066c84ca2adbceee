"""Every audit query answers what a brute-force filter over a plain list would.

A state machine logs random events (a few users, actions and contracts, some fields unset) with
random pauses between them, so several entries share a timestamp. The model is the list of the
entries it expects, in id order. Each query draws random filters (user, action, contract, a time
window whose ends may fall on, between or beyond the entries' timestamps), an order, a page size
and a reader allowed to ask it, and follows ``next_cursor`` to the end. The pages, concatenated,
must be exactly the model's matching entries in that order: nothing repeated, nothing skipped,
no page longer than asked, only the last one short, and each cursor the id of the next entry
returned. A query starting from an arbitrary cursor returns the matches from that id on. For one
drawn user, contract, action and time window, every combination of them (each filter set or not,
sixteen queries) answers what the model does.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from icto import IC, Principal
from icto.storage import (
    AuditAction,
    AuditEntry,
    AuditEvent,
    AuditQuery,
    AuditStorage,
    deploy_storage,
)

USERS = tuple(Principal.from_name(f"user-{n}") for n in range(3))
CONTRACTS = tuple(Principal.from_canister_index(900 + n) for n in range(2))
ACTIONS = (
    AuditAction.PAYMENT_PROCESSED,
    AuditAction.DEPLOYMENT_SUCCEEDED,
    AuditAction.REFUND_ISSUED,
    AuditAction.CUSTOM,
)
WRITER = Principal.from_name("backend")
ADMIN = Principal.from_name("storage-admin")
SECOND = 10**9

users = st.none() | st.sampled_from(USERS)
contracts = st.none() | st.sampled_from(CONTRACTS)
actions = st.sampled_from(ACTIONS)
filter_actions = st.none() | actions
seconds = st.none() | st.integers(min_value=-1, max_value=40)


def matches(entry: AuditEntry, q: AuditQuery) -> bool:
    event = entry.event
    return (
        (q.user is None or event.user == q.user)
        and (q.action is None or event.action == q.action)
        and (q.contract_id is None or event.contract_id == q.contract_id)
        and (q.time_from is None or entry.timestamp >= q.time_from)
        and (q.time_to is None or entry.timestamp <= q.time_to)
    )


class AuditQueriesAgainstModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ic = IC(trace=False)
        self.storage = deploy_storage(self.ic, AuditStorage, writers=[WRITER], caller=ADMIN)
        self.start = self.ic.time
        self.model: list[AuditEntry] = []

    @rule(
        batch=st.lists(
            st.tuples(users, actions, contracts, st.integers(min_value=0, max_value=2)),
            min_size=1, max_size=8,
        )
    )  # fmt: skip
    def log(self, batch: list[tuple[Principal | None, AuditAction, Principal | None, int]]) -> None:
        for user, action, contract, pause in batch:
            self.ic.advance_time(seconds=pause)
            event = AuditEvent(
                action=action, user=user, contract_id=contract,
                custom="Custom-thing" if action is AuditAction.CUSTOM else None,
            )  # fmt: skip
            id_ = self.storage.as_caller(WRITER).log_event(event)
            assert id_ == len(self.model)
            self.model.append(
                AuditEntry(id=id_, timestamp=self.ic.time, writer=WRITER, event=event)
            )

    def _query(self, reader_kind: str, fields: dict[str, Any]) -> tuple[Principal, AuditQuery]:
        for end in ("time_from", "time_to"):
            if fields[end] is not None:
                fields[end] = max(0, self.start + fields[end] * SECOND)
        q = AuditQuery(**fields)
        if reader_kind == "user" and q.user is not None:
            return q.user, q
        return (ADMIN if reader_kind == "admin" else WRITER), q

    @rule(
        reader_kind=st.sampled_from(("writer", "admin", "user")),
        user=users,
        action=filter_actions,
        contract=contracts,
        time_from=seconds,
        time_to=seconds,
        descending=st.booleans(),
        limit=st.integers(min_value=1, max_value=4),
    )
    def query_to_the_end(self, reader_kind: str, **fields: Any) -> None:
        fields["contract_id"] = fields.pop("contract")
        reader, q = self._query(reader_kind, fields)
        expected = [e for e in self.model if matches(e, q)]
        if q.descending:
            expected.reverse()
        storage = self.storage.as_caller(reader)
        seen: list[AuditEntry] = []
        cursor = None
        while True:
            page = storage.query(AuditQuery(**{**fields, "cursor": cursor}))
            assert len(page.items) <= q.limit
            seen.extend(page.items)
            if page.next_cursor is None:
                break
            assert len(page.items) == q.limit
            assert page.next_cursor == expected[len(seen)].id
            cursor = page.next_cursor
        assert seen == expected

    @rule(
        user=st.sampled_from(USERS),
        contract=st.sampled_from(CONTRACTS),
        action=actions,
        time_from=st.integers(min_value=-1, max_value=40),
        time_to=st.integers(min_value=-1, max_value=40),
        descending=st.booleans(),
        limit=st.integers(min_value=1, max_value=4),
    )
    def every_combination_of_filters(
        self, user: Principal, contract: Principal, action: AuditAction, time_from: int,
        time_to: int, descending: bool, limit: int,
    ) -> None:  # fmt: skip
        drawn = {
            "user": user, "contract_id": contract, "action": action,
            "time_from": max(0, self.start + time_from * SECOND),
            "time_to": max(0, self.start + time_to * SECOND),
        }  # fmt: skip
        filters = ("user", "contract_id", "action", "time_from")
        for chosen in itertools.product((False, True), repeat=4):
            names = [name for name, on in zip(filters, chosen, strict=True) if on]
            if "time_from" in names:
                names.append("time_to")
            q = AuditQuery(descending=descending, limit=limit, **{n: drawn[n] for n in names})
            expected = [e for e in self.model if matches(e, q)]
            if descending:
                expected.reverse()
            page = self.storage.as_caller(WRITER).query(q)
            assert list(page.items) == expected[:limit], names
            assert page.next_cursor == (expected[limit].id if len(expected) > limit else None)

    @rule(
        action=filter_actions,
        descending=st.booleans(),
        cursor=st.integers(min_value=0, max_value=60),
        limit=st.integers(min_value=1, max_value=6),
    )
    def query_from_a_cursor(
        self, action: AuditAction | None, descending: bool, cursor: int, limit: int
    ) -> None:
        q = AuditQuery(action=action, descending=descending, cursor=cursor, limit=limit)
        expected = [
            e for e in self.model
            if matches(e, q) and (e.id <= cursor if descending else e.id >= cursor)
        ]  # fmt: skip
        if descending:
            expected.reverse()
        page = self.storage.as_caller(WRITER).query(q)
        assert list(page.items) == expected[:limit]
        assert page.next_cursor == (expected[limit].id if len(expected) > limit else None)

    @rule(data=st.data())
    def read_one_entry(self, data: st.DataObject) -> None:
        id_ = data.draw(st.integers(min_value=-1, max_value=len(self.model)))
        reader = data.draw(st.sampled_from((WRITER, *USERS)))
        entry = self.model[id_] if 0 <= id_ < len(self.model) else None
        visible = entry if entry is not None and reader in (WRITER, entry.user) else None
        assert self.storage.as_caller(reader).get_entry(id_) == visible


AuditQueriesAgainstModel.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None
)
TestAuditQueriesAgainstModel = AuditQueriesAgainstModel.TestCase
