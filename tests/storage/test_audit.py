"""``AuditStorage``: an append-only trail.

* Entries are numbered 0, 1, 2 … in the order they arrive; the storage stamps its own time and
  the writer, whatever the event says.
* An invalid event is rejected with every reason at once, and changes nothing.
* There is no way to change or remove an entry: no such method exists, and entries survive an
  upgrade.
* Writers and admins read everything; a user reads only the entries about them (a query about
  somebody else is rejected, an entry about somebody else reads as ``None``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import attrs
import pytest

from icto import IC, Principal, RejectCode
from icto.collections import Vector
from icto.ic.proxy import CanisterProxy
from icto.storage import (
    MAX_DETAIL_KEY,
    MAX_DETAIL_VALUE,
    MAX_DETAILS,
    MAX_PAGE,
    MAX_TEXT,
    AuditAction,
    AuditEntry,
    AuditEvent,
    AuditQuery,
    AuditStorage,
    InvoiceStorage,
    Severity,
    StorageInit,
)
from tests.helpers import rejected, saved_records

CONTRACT = Principal.from_canister_index(901)


def event(**fields: Any) -> AuditEvent:
    fields.setdefault("action", AuditAction.PAYMENT_PROCESSED)
    return AuditEvent(**fields)


def all_entries(storage: CanisterProxy, **filters: Any) -> tuple[AuditEntry, ...]:
    """Every entry matching ``filters``, oldest first, in one page."""
    page = storage.query(AuditQuery(descending=False, limit=MAX_PAGE, **filters))
    assert page.next_cursor is None
    items: tuple[AuditEntry, ...] = page.items
    return items


class TestAppending:
    def test_ids_count_up_from_zero(self, audit, alice):
        assert [audit.log_event(event(user=alice)) for _ in range(4)] == [0, 1, 2, 3]
        assert audit.count() == 4

    def test_the_storage_stamps_time_and_writer_itself(self, ic, audit, admin, alice, bob):
        audit.as_caller(admin).add_to_whitelist(bob)
        stamps = []
        for writer in (audit, audit.as_caller(bob), audit):
            ic.advance_time(seconds=5)
            stamps.append((writer.log_event(event(occurred_at=1)), ic.time, writer.caller))
        for id_, time, writer in stamps:
            entry = audit.get_entry(id_)
            assert (entry.id, entry.timestamp, entry.writer) == (id_, time, writer)
            assert entry.event.occurred_at == 1

    def test_an_entry_keeps_the_event_as_logged(self, audit, alice):
        logged = AuditEvent(
            action=AuditAction.CUSTOM, custom="KycPassed", user=alice, service="launchpad",
            contract_id=CONTRACT, payment_id="pay-1", severity=Severity.WARNING,
            details=(("level", "2"), ("note", "")), occurred_at=7,
        )  # fmt: skip
        audit.log_event(event())
        id_ = audit.log_event(attrs.evolve(logged, ref_id=0))
        assert audit.get_entry(id_).event == attrs.evolve(logged, ref_id=0)

    def test_a_status_change_is_a_new_entry_referencing_the_first(self, audit, alice):
        first = audit.log_event(event(action=AuditAction.DEPLOYMENT_INITIATED, user=alice))
        second = audit.log_event(
            event(action=AuditAction.DEPLOYMENT_SUCCEEDED, user=alice, ref_id=first)
        )
        assert audit.get_entry(second).event.ref_id == first
        assert audit.get_entry(first).action is AuditAction.DEPLOYMENT_INITIATED

    @pytest.mark.parametrize(
        "fields",
        [
            {"details": tuple((f"k{n}", "v") for n in range(MAX_DETAILS))},
            {"details": (("k" * MAX_DETAIL_KEY, "v" * MAX_DETAIL_VALUE),)},
            {"action": AuditAction.CUSTOM, "custom": "c" * MAX_TEXT},
            {"service": "s" * MAX_TEXT, "payment_id": "p" * MAX_TEXT},
            {"ref_id": 0},
            {"details": (("reason", "line one\n\tline two"),), "service": "token factory"},
        ],
        ids=[
            "most-details",
            "longest-detail",
            "longest-custom",
            "longest-texts",
            "ref-to-0",
            "free-text-value",
        ],
    )
    def test_events_at_the_limits_are_taken(self, audit, fields):
        audit.log_event(event())
        assert audit.log_event(event(**fields)) == 1


class _Text(str):
    """Not text to Candid; stored, it would keep the world from being saved."""


class _Nat(int):
    """Not a nat to Candid, for the same reason."""


INVALID_EVENTS = {
    "action-not-enum": event(action="PaymentProcessed"),
    "custom-without-text": event(action=AuditAction.CUSTOM),
    "custom-empty-text": event(action=AuditAction.CUSTOM, custom=""),
    "custom-too-long": event(action=AuditAction.CUSTOM, custom="c" * (MAX_TEXT + 1)),
    "custom-text-on-other-action": event(custom="Oops"),
    "user-not-principal": event(user="alice"),
    "contract-not-principal": event(contract_id=b"\x01"),
    "contract-a-user": event(contract_id=Principal.from_name("alice")),
    "contract-anonymous": event(contract_id=Principal.anonymous()),
    "service-empty": event(service=""),
    "service-too-long": event(service="s" * (MAX_TEXT + 1)),
    "payment-id-not-text": event(payment_id=5),
    "ref-id-unknown": event(ref_id=1),
    "ref-id-negative": event(ref_id=-1),
    "ref-id-bool": event(ref_id=False),
    "severity-not-enum": event(severity="Info"),
    "occurred-at-negative": event(occurred_at=-1),
    "too-many-details": event(details=tuple((f"k{n}", "v") for n in range(MAX_DETAILS + 1))),
    "details-not-tuple": event(details={"k": "v"}),
    "detail-not-pair": event(details=(("k", "v", "w"),)),
    "detail-key-empty": event(details=(("", "v"),)),
    "detail-key-too-long": event(details=(("k" * (MAX_DETAIL_KEY + 1), "v"),)),
    "detail-value-too-long": event(details=(("k", "v" * (MAX_DETAIL_VALUE + 1)),)),
    "detail-value-not-text": event(details=(("k", 1),)),
    "detail-value-control": event(details=(("k", "a\x00b"),)),
    "detail-value-bidi": event(details=(("k", "a\u202eb"),)),
    "service-surrogate": event(service="s\ud800"),
    "detail-key-twice": event(details=(("k", "1"), ("k", "2"))),
    "service-newline": event(service="token\nfactory"),
    "service-tab": event(service="a\tb"),
    "payment-id-padded": event(payment_id=" pay-1 "),
    "detail-key-newline": event(details=(("k\n", "v"),)),
    "detail-key-padded": event(details=((" k ", "v"),)),
    "custom-newline": event(action=AuditAction.CUSTOM, custom="Kyc\nPassed"),
    "service-line-separator": event(service="token\u2028factory"),
    "detail-value-str-subclass": event(details=(("k", _Text("v")),)),
    "ref-id-int-subclass": event(ref_id=_Nat(0)),
    "occurred-at-int-subclass": event(occurred_at=_Nat(5)),
}


class TestValidation:
    @pytest.mark.parametrize("bad", INVALID_EVENTS.values(), ids=INVALID_EVENTS.keys())
    def test_an_invalid_event_is_rejected_and_changes_nothing(self, ic, audit, bad):
        audit.log_event(event())
        before = ic.state_of(audit.id)
        refusal = rejected(lambda: audit.log_event(bad))
        assert refusal.reject_code == RejectCode.CANISTER_REJECT
        assert refusal.message.startswith("InvalidRecord: invalid audit event: ")
        assert ic.state_of(audit.id) == before

    def test_every_reason_is_given_at_once(self, audit):
        refusal = rejected(lambda: audit.log_event(event(user="alice", severity="Loud")))
        assert "user must be a Principal" in refusal.message
        assert "severity must be a Severity" in refusal.message

    def test_something_that_is_not_an_event_does_not_decode(self, audit):
        assert rejected(lambda: audit.log_event({"action": "Custom"})).error_code == "IC0503"


class TestNothingIsEverChanged:
    @pytest.mark.parametrize(
        "method",
        ["update_entry", "delete_entry", "reset_audit_entries", "resetAuditEntries", "wipe",
         "archive_old_records", "set_entry", "clear"],
    )  # fmt: skip
    def test_no_method_changes_or_removes_entries(self, ic, audit, admin, method):
        audit.log_event(event())
        refusal = rejected(lambda: ic.update_call(audit.id, method, 0, caller=admin))
        assert refusal.error_code == "IC0536"
        assert audit.count() == 1

    def test_the_only_updates_are_appending_and_the_whitelist(self):
        updates = {name for name, spec in AuditStorage.__icto_methods__.items()
                   if spec.kind == "update"}  # fmt: skip
        assert updates == {"log_event", "add_to_whitelist", "remove_from_whitelist", "set_admins"}

    def test_entries_and_indexes_survive_an_upgrade(self, ic, audit, admin, alice):
        class AuditStorageNext(AuditStorage):
            VERSION = "1.1.0"

        for n in range(3):
            ic.advance_time(seconds=1)
            audit.log_event(event(user=alice if n % 2 else None, contract_id=CONTRACT))
        before = (all_entries(audit), all_entries(audit, user=alice), audit.get_stats())
        ic.upgrade_canister(audit.id, AuditStorageNext, caller=admin)
        assert audit.health().version == "1.1.0"
        after = (all_entries(audit), all_entries(audit, user=alice), audit.get_stats())
        assert after == before
        assert audit.log_event(event(user=alice)) == 3
        assert [e.id for e in all_entries(audit, user=alice)] == [1, 3]

    @pytest.mark.parametrize(
        ("kept", "code"),
        [("audit", InvoiceStorage), ("invoice", AuditStorage)],
        ids=["audit-as-invoice", "invoice-as-audit"],
    )
    def test_an_upgrade_to_the_other_storages_code_traps_and_keeps_the_old(
        self, request, ic, admin, alice, kept, code
    ):
        """The new code cannot read the kept state: its post_upgrade traps, so the upgrade is
        rolled back (code and state as before), rather than every later call trapping."""
        storage = request.getfixturevalue(kept)
        if kept == "audit":
            storage.log_event(event(user=alice))
        old_code, before = ic.code_of(storage.id), ic.state_of(storage.id)
        refusal = rejected(lambda: ic.upgrade_canister(storage.id, code, caller=admin))
        assert "trapped in post_upgrade" in refusal.message and "another kind" in refusal.message
        assert (ic.code_of(storage.id), ic.state_of(storage.id)) == (old_code, before)
        assert storage.health().kind == kept

    @pytest.mark.parametrize(
        "arg", [StorageInit(writers=(Principal.from_name("bob"),)), "xyz"], ids=["init", "junk"]
    )
    def test_an_upgrade_argument_is_refused_and_nothing_changes(self, ic, audit, admin, arg):
        """A storage's upgrade takes no argument (the whitelist is edited by its methods): one
        given is not silently dropped but refused, the upgrade rolled back."""
        before = ic.state_of(audit.id)
        refusal = rejected(lambda: ic.upgrade_canister(audit.id, AuditStorage, arg, caller=admin))
        assert "upgrade takes no argument" in refusal.message
        assert ic.state_of(audit.id) == before
        assert not audit.is_whitelisted(Principal.from_name("bob"))


class TestReading:
    @pytest.fixture
    def trail(self, audit, alice, bob) -> CanisterProxy:
        """Entries 0 and 2 about alice, 1 about bob, 3 about nobody."""
        for user in (alice, bob, alice, None):
            audit.log_event(event(user=user))
        return audit

    def test_a_user_reads_their_own_entries(self, trail, alice):
        assert [e.id for e in all_entries(trail.as_caller(alice), user=alice)] == [0, 2]
        assert trail.as_caller(alice).get_entry(2).user == alice

    def test_the_anonymous_principal_reads_no_entry_about_it(self, audit):
        """An entry about the anonymous principal (a refused anonymous call) is nobody's own:
        anyone can call as the anonymous principal."""
        anonymous = Principal.anonymous()
        entry = audit.log_event(event(user=anonymous, details=(("ip", "private"),)))
        as_anonymous = audit.as_caller(anonymous)
        assert as_anonymous.get_entry(entry) is None
        refusal = rejected(lambda: as_anonymous.query(AuditQuery(user=anonymous)))
        assert refusal.message.startswith("Unauthorized")

    def test_a_user_reads_nothing_about_others(self, trail, alice):
        as_alice = trail.as_caller(alice)
        assert as_alice.get_entry(1) is None
        assert as_alice.get_entry(3) is None

    @pytest.mark.parametrize(
        "filters",
        [{}, {"user": Principal.from_name("bob")}, {"action": AuditAction.PAYMENT_PROCESSED}],
        ids=["everything", "another-user", "by-action"],
    )
    def test_a_user_asking_beyond_themselves_is_rejected(self, trail, alice, filters):
        refusal = rejected(lambda: trail.as_caller(alice).query(AuditQuery(**filters)))
        assert refusal.message.startswith("Unauthorized")

    @pytest.mark.parametrize("who", ["backend", "admin"], ids=["writer", "controller"])
    def test_writers_and_admins_read_everything(self, request, trail, who):
        reader = trail.as_caller(request.getfixturevalue(who))
        assert [e.id for e in all_entries(reader)] == [0, 1, 2, 3]
        assert reader.get_entry(1).id == 1

    def test_a_stranger_cannot_count(self, trail, alice):
        assert rejected(lambda: trail.as_caller(alice).count()).message.startswith("Unauthorized")

    @pytest.mark.parametrize("id_", [-1, 4, 10**9])
    def test_an_unknown_id_reads_as_none(self, trail, id_):
        assert trail.get_entry(id_) is None

    def test_stats_count_each_action_and_span_the_trail(self, ic, audit, alice):
        first = ic.time
        audit.log_event(event(action=AuditAction.CUSTOM, custom="A"))
        ic.advance_time(seconds=3)
        audit.log_event(event(action=AuditAction.CUSTOM, custom="B"))
        audit.log_event(event(action=AuditAction.REFUND_FAILED))
        stats = audit.get_stats()
        assert stats.entries == 3
        assert dict(stats.by_action) == {action.value: 0 for action in AuditAction} | {
            "Custom": 2, "RefundFailed": 1,
        }  # fmt: skip
        assert (stats.first_timestamp, stats.last_timestamp) == (first, ic.time)
        assert stats.writers == 1

    def test_stats_of_an_empty_trail(self, audit):
        stats = audit.get_stats()
        assert (stats.entries, stats.first_timestamp, stats.last_timestamp) == (0, None, None)


class TestQueries:
    @pytest.fixture
    def trail(self, ic: IC, audit, alice, bob) -> CanisterProxy:
        """Six entries, one per second: alice pays (0), bob pays (1), alice deploys CONTRACT (2),
        bob fails to pay (3), alice pays again (4), CONTRACT changes config (5)."""
        rows = [
            (alice, AuditAction.PAYMENT_PROCESSED, None),
            (bob, AuditAction.PAYMENT_PROCESSED, None),
            (alice, AuditAction.DEPLOYMENT_SUCCEEDED, CONTRACT),
            (bob, AuditAction.PAYMENT_FAILED, None),
            (alice, AuditAction.PAYMENT_PROCESSED, None),
            (None, AuditAction.CONFIG_CHANGED, CONTRACT),
        ]
        for user, action, contract in rows:
            ic.advance_time(seconds=1)
            audit.log_event(event(user=user, action=action, contract_id=contract))
        return audit

    def ids(self, storage: CanisterProxy, **fields: Any) -> list[int]:
        return [e.id for e in storage.query(AuditQuery(**fields)).items]

    def test_newest_first_by_default(self, trail):
        assert self.ids(trail) == [5, 4, 3, 2, 1, 0]

    def test_filters_combine_with_and(self, trail, alice):
        paid = AuditAction.PAYMENT_PROCESSED
        assert self.ids(trail, user=alice, descending=False) == [0, 2, 4]
        assert self.ids(trail, action=paid) == [4, 1, 0]
        assert self.ids(trail, user=alice, action=paid) == [4, 0]
        assert self.ids(trail, contract_id=CONTRACT) == [5, 2]
        assert self.ids(trail, contract_id=CONTRACT, action=AuditAction.CONFIG_CHANGED) == [5]
        assert self.ids(trail, user=alice, contract_id=CONTRACT) == [2]
        assert self.ids(trail, user=alice, contract_id=CONTRACT, action=paid) == []

    def test_every_combination_of_filters_reads_only_the_entries_it_returns(
        self, ic, audit, alice, bob, monkeypatch
    ):
        """The spec's O(log n + page): alice's one entry about OTHER is found without reading
        her hundreds of entries about CONTRACT or bob's hundreds about OTHER, whatever else the
        query filters on (a time range costs a bisection of the trail, O(log n) reads)."""
        other = Principal.from_canister_index(902)
        audit.log_event(event(user=alice, contract_id=other))
        for _ in range(300):
            ic.advance_time(seconds=1)
            audit.log_event(event(user=alice, contract_id=CONTRACT))
            audit.log_event(event(user=bob, contract_id=other))
        reads = []
        getitem = Vector.__getitem__
        monkeypatch.setattr(Vector, "__getitem__", lambda v, i: reads.append(i) or getitem(v, i))
        paid = AuditAction.PAYMENT_PROCESSED
        combinations = [
            {"user": alice, "contract_id": other},
            {"user": alice, "contract_id": other, "action": paid},
            {"user": alice, "contract_id": other, "time_to": ic.time},
        ]
        for descending in (True, False):
            for filters in combinations:
                reads.clear()
                page = audit.query(AuditQuery(descending=descending, limit=1, **filters))
                assert [e.id for e in page.items] == [0]
                bisection = 2 * (601).bit_length() if "time_to" in filters else 0
                assert len(reads) <= 1 + bisection

    def test_a_trail_saved_before_the_user_and_contract_indexes_answers_the_same(
        self, ic, trail, alice, tmp_path
    ):
        """A world saved before ``by_user_contract`` existed loads without it: its combined
        queries still answer right (by filtering), and its next entry builds the index."""
        path = tmp_path / "world.icto"
        ic.save(path)
        header, payload, _ = path.read_bytes().split(b"\n", 2)
        tree = json.loads(payload)
        (state,) = saved_records(tree, "icto.storage.audit:AuditState")
        del state["f"]["by_user_contract"], state["f"]["by_user_contract_action"]
        signed = header + b"\n" + json.dumps(tree).encode() + b"\n"
        path.write_bytes(signed + f"sha256 {hashlib.sha256(signed).hexdigest()}\n".encode())
        loaded = IC.load(path)
        old = loaded.actor(trail.id, caller=trail.caller)
        assert loaded.state_of(trail.id).by_user_contract is None
        assert self.ids(old, user=alice, contract_id=CONTRACT) == [2]
        assert (
            self.ids(old, user=alice, contract_id=CONTRACT, action=AuditAction.CONFIG_CHANGED) == []
        )
        old.log_event(event(user=alice, contract_id=CONTRACT))
        trail.log_event(event(user=alice, contract_id=CONTRACT))
        assert loaded.state_of(trail.id) == ic.state_of(trail.id)
        assert self.ids(old, user=alice, contract_id=CONTRACT) == [6, 2]

    def test_a_time_range_is_inclusive_at_both_ends(self, ic, trail):
        second = 10**9
        start = trail.get_entry(0).timestamp
        window = {"time_from": start + second, "time_to": start + 3 * second}
        assert self.ids(trail, **window) == [3, 2, 1]
        assert self.ids(trail, time_from=start + 4 * second, descending=False) == [4, 5]
        assert self.ids(trail, time_to=start - 1) == []
        assert self.ids(trail, time_from=start + 3 * second, time_to=start + second) == []

    def test_cursors_walk_both_ways_without_repeats_or_gaps(self, trail, alice):
        for descending in (True, False):
            seen, cursor = [], None
            while True:
                page = trail.query(AuditQuery(descending=descending, cursor=cursor, limit=4))
                seen += [e.id for e in page.items]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            assert seen == ([5, 4, 3, 2, 1, 0] if descending else [0, 1, 2, 3, 4, 5])

    def test_the_cursor_is_the_next_entry_to_return(self, trail, alice):
        page = trail.query(AuditQuery(user=alice, limit=2))
        assert ([e.id for e in page.items], page.next_cursor) == ([4, 2], 0)
        last = trail.query(AuditQuery(user=alice, cursor=0, limit=2))
        assert ([e.id for e in last.items], last.next_cursor) == ([0], None)

    def test_a_full_last_page_says_there_is_no_more(self, trail, alice):
        page = trail.query(AuditQuery(user=alice, limit=3))
        assert page.next_cursor is None

    def test_a_cursor_stays_valid_as_the_trail_grows(self, trail, alice):
        page = trail.query(AuditQuery(limit=3))
        trail.log_event(event(user=alice))
        rest = trail.query(AuditQuery(cursor=page.next_cursor, limit=10))
        assert [e.id for e in rest.items] == [2, 1, 0]

    @pytest.mark.parametrize(
        "fields",
        [{"limit": 0}, {"limit": MAX_PAGE + 1}, {"limit": True}, {"cursor": -1},
         {"cursor": True}, {"cursor": "5"}, {"time_from": -1}, {"time_to": 1.5},
         {"action": "Custom"}, {"user": "alice"}, {"descending": 0}],
    )  # fmt: skip
    def test_a_malformed_query_is_rejected(self, trail, fields):
        refusal = rejected(lambda: trail.query(AuditQuery(**fields)))
        assert refusal.reject_code == RejectCode.CANISTER_REJECT
