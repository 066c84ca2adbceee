"""``AuditStorage``: the platform's append-only audit trail.

Whitelisted writers append entries with ``log_event``; the storage numbers them 0, 1, 2 … and
stamps its own time and the writer. Nothing changes or removes an entry: there is no such method,
and a correction is a new entry whose ``ref_id`` points at the earlier one.

Reads follow the storage reader rule (``icto.storage.base``). Entries are indexed by every
combination of user, action and contract a query may filter on (each alone, each pair, all
three), each index a ``SortedSet`` of entry ids; since IC time never goes backwards, ids are in
time order too, so a time range is an id range found by bisection. A query walks the one index
that covers all its filters from the cursor on: O(log n + page) for every combination.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable, Iterator
from typing import Any, TypeVar

import attrs
import immutables

from icto.collections import SortedSet, Vector
from icto.collections.records import evolve
from icto.ic.canister import query as query_method
from icto.ic.canister import update
from icto.ic.errors import Reject
from icto.ic.principal import Principal
from icto.storage.base import (
    InvalidRecord,
    StorageBase,
    StorageState,
    are_clean_lines,
    check_page,
    ids_between,
    is_clean_text,
    is_line,
    take_page,
)
from icto.storage.types import (
    MAX_DETAIL_KEY,
    MAX_DETAIL_VALUE,
    MAX_DETAILS,
    MAX_TEXT,
    AuditAction,
    AuditEntry,
    AuditEvent,
    AuditQuery,
    AuditStats,
    CursorPage,
    Severity,
    StorageHealth,
)
from icto.validation import is_nat, text_problem

K = TypeVar("K", bound=Hashable)

_EMPTY: SortedSet[int] = SortedSet()


@attrs.frozen(kw_only=True)
class AuditState(StorageState):
    entries: Vector[AuditEntry] = Vector()
    by_user: immutables.Map[Principal, SortedSet[int]] = immutables.Map()
    by_action: immutables.Map[AuditAction, SortedSet[int]] = immutables.Map()
    """Every ``CUSTOM`` entry is under ``AuditAction.CUSTOM``, whatever its ``custom`` text."""
    by_contract: immutables.Map[Principal, SortedSet[int]] = immutables.Map()
    by_user_action: immutables.Map[tuple[Principal, AuditAction], SortedSet[int]] = immutables.Map()
    by_contract_action: immutables.Map[tuple[Principal, AuditAction], SortedSet[int]] = (
        immutables.Map()
    )
    by_user_contract: immutables.Map[tuple[Principal, Principal], SortedSet[int]] | None = None
    """Entries with both a user and a contract. ``None`` only in a world saved before this
    index existed: the first ``log_event`` (or an upgrade) builds it from the entries, and a
    query until then filters the user's entries one by one, as that version did."""
    by_user_contract_action: (
        immutables.Map[tuple[Principal, Principal, AuditAction], SortedSet[int]] | None
    ) = None
    """As ``by_user_contract``, per action too."""

    def with_entry(self, entry: AuditEntry) -> AuditState:
        """This state with ``entry`` (numbered ``len(entries)``) appended and indexed, built in
        one constructor call."""
        id_, event = entry.id, entry.event
        action, user, contract = event.action, event.user, event.contract_id
        by_user, by_user_action = self.by_user, self.by_user_action
        if user is not None:
            by_user = _indexed(by_user, user, id_)
            by_user_action = _indexed(by_user_action, (user, action), id_)
        by_contract, by_contract_action = self.by_contract, self.by_contract_action
        if contract is not None:
            by_contract = _indexed(by_contract, contract, id_)
            by_contract_action = _indexed(by_contract_action, (contract, action), id_)
        by_user_contract, by_user_contract_action = self.pair_indexes()
        if user is not None and contract is not None:
            by_user_contract = _indexed(by_user_contract, (user, contract), id_)
            by_user_contract_action = _indexed(
                by_user_contract_action, (user, contract, action), id_
            )
        return AuditState(
            admins=self.admins, writers=self.writers, access_denied=self.access_denied,
            entries=self.entries.append(entry), by_user=by_user,
            by_action=_indexed(self.by_action, action, id_), by_contract=by_contract,
            by_user_action=by_user_action, by_contract_action=by_contract_action,
            by_user_contract=by_user_contract, by_user_contract_action=by_user_contract_action,
        )  # fmt: skip

    def pair_indexes(self) -> tuple[
        immutables.Map[tuple[Principal, Principal], SortedSet[int]],
        immutables.Map[tuple[Principal, Principal, AuditAction], SortedSet[int]],
    ]:  # fmt: skip
        """``by_user_contract`` and ``by_user_contract_action``, built from the entries if this
        state (from a world saved before they existed) lacks them: O(n log n), once."""
        pairs, triples = self.by_user_contract, self.by_user_contract_action
        if pairs is not None and triples is not None:
            return pairs, triples
        by_pair: dict[tuple[Principal, Principal], list[int]] = {}
        by_triple: dict[tuple[Principal, Principal, AuditAction], list[int]] = {}
        for entry in self.entries:
            event = entry.event
            user, contract = event.user, event.contract_id
            if user is not None and contract is not None:
                by_pair.setdefault((user, contract), []).append(entry.id)
                by_triple.setdefault((user, contract, event.action), []).append(entry.id)
        return _frozen_index(by_pair), _frozen_index(by_triple)


def event_problems(event: AuditEvent, entries: int) -> tuple[str, ...]:
    """Every reason ``event`` cannot be logged into a trail of ``entries`` entries (empty when it
    can). A well-formed event passes one cheap pass (``_plainly_valid``); only an event that
    fails it is examined field by field, for every reason."""
    if _plainly_valid(event, entries):
        return ()
    return _every_event_problem(event, entries)


def _plainly_valid(event: AuditEvent, entries: int) -> bool:
    """Whether ``event`` certainly has no problem, tested with exact type checks, lengths and one
    scan of all its text at once. ``False`` means "look closer", not "invalid": a value of a
    subclass, for example, is left to ``_every_event_problem``."""
    action, custom = event.action, event.custom
    if type(action) is not AuditAction or type(event.severity) is not Severity:
        return False
    lines: list[str] = []
    texts: list[str] = []
    if action is AuditAction.CUSTOM:
        if type(custom) is not str or not 1 <= len(custom) <= MAX_TEXT:
            return False
        lines.append(custom)
    elif custom is not None:
        return False
    user, contract = event.user, event.contract_id
    if (user is not None and type(user) is not Principal) or (
        contract is not None and (type(contract) is not Principal or not contract.is_canister)
    ):
        return False
    for text in (event.service, event.payment_id):
        if text is not None:
            if type(text) is not str or not 1 <= len(text) <= MAX_TEXT:
                return False
            lines.append(text)
    ref_id, occurred_at = event.ref_id, event.occurred_at
    if ref_id is not None and not (type(ref_id) is int and 0 <= ref_id < entries):
        return False
    if occurred_at is not None and not (type(occurred_at) is int and occurred_at >= 0):
        return False
    details = event.details
    if type(details) is not tuple or len(details) > MAX_DETAILS:
        return False
    keys: set[str] = set()
    for pair in details:
        if type(pair) is not tuple or len(pair) != 2:
            return False
        key, value = pair
        if (
            type(key) is not str or not 1 <= len(key) <= MAX_DETAIL_KEY or key in keys
            or type(value) is not str or len(value) > MAX_DETAIL_VALUE
        ):  # fmt: skip
            return False
        keys.add(key)
        lines.append(key)
        texts.append(value)
    return (not lines or are_clean_lines(lines)) and (not texts or is_clean_text("\n".join(texts)))


def _every_event_problem(event: AuditEvent, entries: int) -> tuple[str, ...]:
    """Every reason ``event`` cannot be logged, each field checked on its own."""
    fields: dict[str, object] = attrs.asdict(event, recurse=False)
    problems: list[str] = []
    action, custom = fields["action"], fields["custom"]
    if not isinstance(action, AuditAction):
        problems.append(f"action must be an AuditAction, got {action!r}")
    elif action is AuditAction.CUSTOM:
        if not is_line(custom, MAX_TEXT):
            problems.append(f"a Custom action needs custom text of 1 to {MAX_TEXT} characters")
    elif custom is not None:
        problems.append("custom text is only for the Custom action")
    for name in ("user", "contract_id"):
        if fields[name] is not None and not isinstance(fields[name], Principal):
            problems.append(f"{name} must be a Principal or None, got {fields[name]!r}")
    contract = fields["contract_id"]
    if isinstance(contract, Principal) and not contract.is_canister:
        problems.append(f"contract_id must be a canister id, got {contract}")
    for name in ("service", "payment_id"):
        if fields[name] is not None and not is_line(fields[name], MAX_TEXT):
            problems.append(f"{name} must be None or one line of 1 to {MAX_TEXT} characters")
    ref_id = fields["ref_id"]
    if ref_id is not None and not (is_nat(ref_id) and ref_id < entries):  # type: ignore[operator]
        problems.append(f"ref_id must be the id of an existing entry, got {ref_id!r}")
    if not isinstance(fields["severity"], Severity):
        problems.append(f"severity must be a Severity, got {fields['severity']!r}")
    occurred_at = fields["occurred_at"]
    if occurred_at is not None and not is_nat(occurred_at):
        problems.append(f"occurred_at must be None or a non-negative int, got {occurred_at!r}")
    problems.extend(_details_problems(fields["details"]))
    return tuple(problems)


def _details_problems(details: object) -> list[str]:
    if not isinstance(details, tuple):
        return [f"details must be a tuple of (key, value) text pairs, got {details!r}"]
    if len(details) > MAX_DETAILS:
        return [f"details may hold at most {MAX_DETAILS} pairs, got {len(details)}"]
    problems: list[str] = []
    seen: set[str] = set()
    for pair in details:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            problems.append(f"a detail is a (key, value) pair, got {pair!r}")
            continue
        key, value = pair
        if not is_line(key, MAX_DETAIL_KEY):
            problems.append(f"a detail key is one line of 1 to {MAX_DETAIL_KEY} characters")
        elif key in seen:
            problems.append(f"detail key {key!r} appears twice")
        else:
            seen.add(key)
        problem = text_problem("a detail value", value, 0, MAX_DETAIL_VALUE, multiline=True)
        if problem is not None:
            problems.append(problem)
    return problems


def query_problems(q: AuditQuery) -> tuple[str, ...]:
    """Every reason ``q`` is not a valid query (empty when it is). Cursor and limit are checked
    by ``check_page``."""
    fields: dict[str, object] = attrs.asdict(q, recurse=False)
    problems: list[str] = []
    for name in ("user", "contract_id"):
        if fields[name] is not None and not isinstance(fields[name], Principal):
            problems.append(f"{name} must be a Principal or None, got {fields[name]!r}")
    if fields["action"] is not None and not isinstance(fields["action"], AuditAction):
        problems.append(f"action must be an AuditAction or None, got {fields['action']!r}")
    for name in ("time_from", "time_to"):
        if fields[name] is not None and not is_nat(fields[name]):
            problems.append(f"{name} must be None or a non-negative int, got {fields[name]!r}")
    if not isinstance(fields["descending"], bool):
        problems.append(f"descending must be a bool, got {fields['descending']!r}")
    return tuple(problems)


def _frozen_index(ids: dict[K, list[int]]) -> immutables.Map[K, SortedSet[int]]:
    """An index of the ascending ``ids`` per key."""
    return immutables.Map({key: SortedSet.from_sorted(found) for key, found in ids.items()})


def _indexed(
    index: immutables.Map[K, SortedSet[int]], key: K, id_: int
) -> immutables.Map[K, SortedSet[int]]:
    """``index`` with ``id_`` added under ``key``."""
    return index.set(key, index.get(key, _EMPTY).add(id_))


class AuditStorage(StorageBase):
    """The append-only audit trail. Writers: whitelisted principals only."""

    VERSION = "1.0.0"
    STATE = AuditState

    state: AuditState

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Keep the trail, with the user and contract indexes built if it lacks them."""
        super().post_upgrade(stable, arg)
        state = self.state
        pairs, triples = state.pair_indexes()
        self.state = evolve(state, by_user_contract=pairs, by_user_contract_action=triples)

    @update
    def log_event(self, event: AuditEvent) -> int:
        """Writer: append ``event`` stamped with this storage's time and the caller; return its
        id (0, 1, 2 …). An invalid event is rejected with every reason, and nothing is kept."""
        self._require_writer("log audit events")
        state = self.state
        id_ = len(state.entries)
        problems = event_problems(event, id_)
        if problems:
            raise InvalidRecord("invalid audit event: " + "; ".join(problems))
        entry = AuditEntry(id=id_, timestamp=self.time, writer=self.caller, event=event)
        self.state = state.with_entry(entry)
        return id_

    @query_method
    def query(self, q: AuditQuery) -> CursorPage[AuditEntry]:
        """The entries matching every filter of ``q``, newest first (or oldest first), from
        ``q.cursor`` (an entry id, inclusive) on. ``next_cursor`` is the id of the next match,
        ``None`` after the last. Writers and admins may ask anything; anyone else must set
        ``user`` to themselves."""
        problems = query_problems(q)
        if problems:
            raise Reject("invalid audit query: " + "; ".join(problems))
        check_page(q.cursor, q.limit)
        self._require_reader_of(q.user, "query another user's audit entries")
        entries = self.state.entries
        low, high = self._id_range(q)
        ids, covers_all = self._index_for(q)
        found = ids_between(ids, len(entries), low, high, q.descending)
        if not covers_all:
            found = self._matching(found, q)
        page, next_cursor = take_page(found, q.limit)
        return CursorPage(tuple(entries[i] for i in page), next_cursor)

    def _id_range(self, q: AuditQuery) -> tuple[int, int]:
        """The ids whose timestamps are in ``q``'s time range, cut at its cursor."""
        entries = self.state.entries
        low, high = 0, len(entries) - 1
        if q.time_from is not None:
            low = bisect_left(entries, q.time_from, key=_timestamp)
        if q.time_to is not None:
            high = bisect_right(entries, q.time_to, key=_timestamp) - 1
        if q.cursor is not None:
            if q.descending:
                high = min(high, q.cursor)
            else:
                low = max(low, q.cursor)
        return low, high

    def _index_for(self, q: AuditQuery) -> tuple[SortedSet[int] | None, bool]:
        """The index of the entries matching every filter of ``q`` (``None``: every entry), and
        whether it covers them all (it does unless the state lacks the user and contract indexes,
        see ``AuditState.by_user_contract``)."""
        state = self.state
        action, user, contract = q.action, q.user, q.contract_id
        if user is not None and contract is not None:
            pairs, triples = state.by_user_contract, state.by_user_contract_action
            if pairs is None or triples is None:
                return state.by_user.get(user, _EMPTY), False
            if action is None:
                return pairs.get((user, contract), _EMPTY), True
            return triples.get((user, contract, action), _EMPTY), True
        if user is not None:
            if action is None:
                return state.by_user.get(user, _EMPTY), True
            return state.by_user_action.get((user, action), _EMPTY), True
        if contract is not None:
            if action is None:
                return state.by_contract.get(contract, _EMPTY), True
            return state.by_contract_action.get((contract, action), _EMPTY), True
        if action is not None:
            return state.by_action.get(action, _EMPTY), True
        return None, True

    def _matching(self, ids: Iterator[int], q: AuditQuery) -> Iterator[int]:
        """The ``ids`` whose entries match ``q``'s contract and action (the user's index holds
        the ids): only for a state that lacks the user and contract indexes."""
        entries = self.state.entries
        for i in ids:
            event = entries[i].event
            if event.contract_id == q.contract_id and q.action in (None, event.action):
                yield i

    @query_method
    def get_entry(self, id: int) -> AuditEntry | None:
        """Entry ``id``; ``None`` if there is none or the caller may not read it (only writers
        and admins read entries about others)."""
        entries = self.state.entries
        if not 0 <= id < len(entries):
            return None
        entry = entries[id]
        return entry if self._may_read(entry.user) else None

    @query_method
    def count(self) -> int:
        """Writers and admins: how many entries the trail holds."""
        self._require_privileged("count audit entries")
        return len(self.state.entries)

    @query_method
    def get_stats(self) -> AuditStats:
        """Writers and admins: entries per action (every action, in declaration order), writers,
        the first and last timestamps."""
        self._require_privileged("read audit statistics")
        state = self.state
        entries = state.entries
        return AuditStats(
            entries=len(entries),
            by_action=tuple(
                (action.value, len(state.by_action.get(action, _EMPTY))) for action in AuditAction
            ),
            writers=len(state.writers),
            first_timestamp=entries[0].timestamp if entries else None,
            last_timestamp=entries[-1].timestamp if entries else None,
            access_denied=state.access_denied,
        )

    @query_method
    def health(self) -> StorageHealth:
        """Anyone: kind ``"audit"``, entries, writers, cycles, version."""
        return StorageHealth(
            kind="audit",
            records=len(self.state.entries),
            writers=len(self.state.writers),
            cycles=self.cycles_balance,
            version=self.VERSION,
        )


def _timestamp(entry: AuditEntry) -> int:
    return entry.timestamp
