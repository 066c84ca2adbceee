"""``InvoiceStorage``: payment records and refunds, moved only along their state machines.

* A payment starts ``Pending`` and is charged (``Completed(block)``) or not (``Failed``). Its
  refund states (``RefundPending`` → ``Refunded`` | ``RefundFailed`` → ``RefundPending`` …)
  follow its refund and are never set directly.
* A refund is of a ``Completed`` payment, for its amount, to its user; one per payment. It goes
  ``RefundWaiting`` → ``RefundCompleted`` | ``RefundAttemptFailed`` → ``RefundWaiting`` (a retry).
* Every illegal change is rejected and changes nothing, in either record; every legal one is in
  the record's history.
* Re-delivering a write (the same draft, the same status change, the same link) answers the
  current record and changes nothing.
* Nothing is deleted; users read their own records, writers and admins everything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from icto import IC, Principal, RejectCode
from icto.ic.proxy import CanisterProxy
from icto.storage import (
    MAX_PAGE,
    MAX_TEXT,
    Completed,
    Failed,
    InvoiceStorage,
    PaymentDraft,
    PaymentRecord,
    Pending,
    Refund,
    RefundAttemptFailed,
    RefundCompleted,
    RefundDraft,
    Refunded,
    RefundFailed,
    RefundPending,
    RefundWaiting,
    ServiceTotals,
    StatusChange,
)
from tests.helpers import rejected

TOKEN = Principal.from_canister_index(900)
CONTRACT = Principal.from_canister_index(901)
OTHER_CONTRACT = Principal.from_canister_index(902)
ALICE = Principal.from_name("alice")


def draft(**fields: Any) -> PaymentDraft:
    values: dict[str, Any] = {
        "id": "pay-1", "user": ALICE, "service": "token_factory", "amount": 100_000_000,
        "token": TOKEN, "audit_id": 0,
    }  # fmt: skip
    return PaymentDraft(**(values | fields))


def refund_draft(**fields: Any) -> RefundDraft:
    values: dict[str, Any] = {
        "id": "refund-1", "payment_id": "pay-1", "user": ALICE, "amount": 100_000_000,
        "reason": "deployment failed", "audit_id": 5,
    }  # fmt: skip
    return RefundDraft(**(values | fields))


def unchanged(ic: IC, storage: CanisterProxy, call: Callable[[], Any], message: str) -> None:
    """``call`` is rejected with a message containing ``message`` and changes nothing."""
    before = ic.state_of(storage.id)
    refusal = rejected(call)
    assert refusal.reject_code == RejectCode.CANISTER_REJECT
    assert message in refusal.message
    assert ic.state_of(storage.id) == before


def statuses(record: PaymentRecord | Refund) -> list[object]:
    return [change.status for change in record.history]


@pytest.fixture
def completed(invoice: CanisterProxy) -> CanisterProxy:
    """``pay-1`` recorded and charged at block 7."""
    invoice.create_payment(draft())
    invoice.set_payment_status("pay-1", Completed(7), 1)
    return invoice


@pytest.fixture
def refunding(completed: CanisterProxy) -> CanisterProxy:
    """``pay-1`` charged, then ``refund-1`` recorded for it."""
    completed.create_refund(refund_draft())
    return completed


class TestPayments:
    def test_a_new_payment_is_pending_with_one_history_entry(self, ic, invoice):
        record = invoice.create_payment(draft())
        assert record == PaymentRecord(
            id="pay-1", user=ALICE, service="token_factory", amount=100_000_000, token=TOKEN,
            status=Pending(), created_at=ic.time, updated_at=ic.time, contract_id=None,
            audit_ids=(0,), history=(StatusChange(Pending(), ic.time, 0),),
        )  # fmt: skip
        assert invoice.get_payment("pay-1") == record

    def test_without_an_audit_id_there_is_none_to_keep(self, invoice):
        record = invoice.create_payment(draft(audit_id=None))
        assert record.audit_ids == ()
        assert record.history[0].audit_id is None

    @pytest.mark.parametrize(
        ("amount", "status"),
        [(100_000_000, Completed(7)), (0, Completed(None)), (100_000_000, Failed("no funds"))],
    )
    def test_a_pending_payment_is_charged_or_fails(self, ic, invoice, amount, status):
        invoice.create_payment(draft(amount=amount))
        created = ic.time
        ic.advance_time(seconds=30)
        record = invoice.set_payment_status("pay-1", status, 3)
        assert record.status == status
        assert (record.created_at, record.updated_at) == (created, ic.time)
        assert record.history[-1] == StatusChange(status, ic.time, 3)
        assert record.audit_ids == (0, 3)
        assert invoice.get_payment("pay-1") == record

    @pytest.mark.parametrize(
        "setup, status, message",
        [
            ("completed", Completed(8), "Completed → Completed"),
            ("completed", Failed("late"), "Completed → Failed"),
            ("completed", Pending(), "Completed → Pending"),
            ("failed", Completed(8), "Failed → Completed"),
            ("failed", Failed("again"), "Failed → Failed"),
            ("pending", Pending(), "Pending → Pending"),
        ],
    )
    def test_an_illegal_transition_is_rejected_naming_both_states(
        self, ic, invoice, setup, status, message
    ):
        invoice.create_payment(draft())
        if setup == "completed":
            invoice.set_payment_status("pay-1", Completed(7), 1)
        elif setup == "failed":
            invoice.set_payment_status("pay-1", Failed("no funds"), 1)
        unchanged(ic, invoice, lambda: invoice.set_payment_status("pay-1", status, 9), message)

    @pytest.mark.parametrize("status", [RefundPending(), Refunded(3), RefundFailed("x")])
    def test_refund_states_are_never_set_directly(self, ic, completed, status):
        unchanged(
            ic, completed, lambda: completed.set_payment_status("pay-1", status),
            "refund statuses change through the refund",
        )  # fmt: skip

    @pytest.mark.parametrize(
        "status, audit_id",
        [(Completed(-1), None), (Completed(True), None), (Failed(""), None),
         (Failed("r" * (MAX_TEXT + 1)), None), (Completed(1), -1)],
        ids=["negative-block", "bool-block", "empty-reason", "long-reason", "negative-audit"],
    )  # fmt: skip
    def test_a_malformed_status_is_rejected(self, ic, invoice, status, audit_id):
        invoice.create_payment(draft())
        unchanged(ic, invoice, lambda: invoice.set_payment_status("pay-1", status, audit_id), "")

    def test_an_unknown_payment_is_rejected(self, ic, invoice):
        unchanged(
            ic, invoice, lambda: invoice.set_payment_status("nope", Completed(1)), "no payment"
        )

    def test_a_charged_payment_completes_with_the_block_that_took_it(self, ic, invoice):
        invoice.create_payment(draft())
        unchanged(
            ic, invoice, lambda: invoice.set_payment_status("pay-1", Completed(None)),
            "completes with the ledger block",
        )  # fmt: skip

    @pytest.mark.parametrize(
        "fields",
        [{"id": ""}, {"id": "x" * 129}, {"id": 5}, {"amount": -1}, {"amount": True},
         {"amount": 1.0}, {"service": ""}, {"service": "s" * (MAX_TEXT + 1)}, {"user": "alice"},
         {"token": None}, {"audit_id": -2}, {"service": "a\u2066b"}, {"id": "p\x00"},
         {"user": Principal.anonymous()}, {"user": Principal.management_canister()},
         {"token": ALICE}, {"token": Principal.anonymous()}, {"id": "a\nb"}, {"id": " p "},
         {"id": "a\tb"}, {"service": "token\nfactory"}, {"service": "token_factory "}],
    )  # fmt: skip
    def test_a_malformed_draft_is_rejected(self, ic, invoice, fields):
        unchanged(ic, invoice, lambda: invoice.create_payment(draft(**fields)), "invalid payment")

    def test_limits_are_inclusive(self, invoice):
        invoice.create_payment(draft(id="x" * 128, service="s" * MAX_TEXT, amount=0))


class TestRedelivery:
    def test_the_same_draft_again_answers_the_current_record(self, ic, invoice):
        first = invoice.create_payment(draft())
        before = ic.state_of(invoice.id)
        assert invoice.create_payment(draft()) == first
        assert ic.state_of(invoice.id) == before
        charged = invoice.set_payment_status("pay-1", Completed(7), 1)
        assert invoice.create_payment(draft()) == charged

    @pytest.mark.parametrize(
        "fields", [{"amount": 1}, {"user": Principal.from_name("bob")}, {"audit_id": None},
                   {"service": "dao_factory"}, {"token": Principal.from_canister_index(904)}],
    )  # fmt: skip
    def test_another_payment_under_a_known_id_is_rejected(self, ic, invoice, fields):
        invoice.create_payment(draft())
        unchanged(ic, invoice, lambda: invoice.create_payment(draft(**fields)), "already records")

    def test_the_same_status_change_again_changes_nothing(self, ic, completed):
        before = ic.state_of(completed.id)
        record = completed.set_payment_status("pay-1", Completed(7), 1)
        assert record.history[-1].status == Completed(7)
        assert ic.state_of(completed.id) == before

    def test_the_same_status_from_another_event_is_illegal(self, ic, completed):
        change = lambda: completed.set_payment_status("pay-1", Completed(7), 2)  # noqa: E731
        unchanged(ic, completed, change, "Completed → Completed")

    def test_the_same_refund_draft_again_answers_the_current_refund(self, ic, refunding):
        before = ic.state_of(refunding.id)
        assert refunding.create_refund(refund_draft()) == refunding.get_refund("refund-1")
        assert ic.state_of(refunding.id) == before
        failed = refunding.set_refund_status("refund-1", RefundAttemptFailed("ledger down"))
        assert refunding.create_refund(refund_draft()) == failed

    def test_the_same_refund_outcome_again_is_counted_once(self, ic, refunding):
        refunding.set_refund_status("refund-1", RefundAttemptFailed("ledger down"), 6)
        before = ic.state_of(refunding.id)
        refund = refunding.set_refund_status("refund-1", RefundAttemptFailed("ledger down"), 6)
        assert refund.attempts == 1
        assert ic.state_of(refunding.id) == before


class TestLinking:
    def test_a_completed_payment_is_linked_to_its_contract(self, ic, completed):
        ic.advance_time(seconds=1)
        record = completed.link_contract("pay-1", CONTRACT, 4)
        assert (record.contract_id, record.updated_at) == (CONTRACT, ic.time)
        assert record.audit_ids == (0, 1, 4)
        assert statuses(record) == [Pending(), Completed(7)]
        assert completed.get_payment("pay-1") == record

    def test_linking_again_to_the_same_contract_changes_nothing(self, ic, completed):
        completed.link_contract("pay-1", CONTRACT)
        before = ic.state_of(completed.id)
        assert completed.link_contract("pay-1", CONTRACT, 9).contract_id == CONTRACT
        assert ic.state_of(completed.id) == before

    def test_a_linked_payment_is_not_relinked(self, ic, completed):
        completed.link_contract("pay-1", CONTRACT)
        unchanged(
            ic, completed, lambda: completed.link_contract("pay-1", OTHER_CONTRACT),
            "already linked",
        )  # fmt: skip

    @pytest.mark.parametrize("status", [None, Failed("no funds")], ids=["pending", "failed"])
    def test_only_a_completed_payment_is_linked(self, ic, invoice, status):
        invoice.create_payment(draft())
        if status is not None:
            invoice.set_payment_status("pay-1", status)
        unchanged(ic, invoice, lambda: invoice.link_contract("pay-1", CONTRACT), "only a Completed")

    def test_an_unknown_payment_is_not_linked(self, ic, invoice):
        unchanged(ic, invoice, lambda: invoice.link_contract("nope", CONTRACT), "no payment")

    @pytest.mark.parametrize(
        "contract",
        [ALICE, Principal.anonymous(), Principal.management_canister()],
        ids=["a user", "anonymous", "management"],
    )
    def test_a_payment_is_linked_to_a_canister_only(self, ic, completed, contract):
        unchanged(
            ic, completed, lambda: completed.link_contract("pay-1", contract), "a canister id"
        )

    def test_a_payment_that_paid_for_a_contract_is_not_refunded(self, ic, completed):
        completed.link_contract("pay-1", CONTRACT)
        unchanged(
            ic, completed, lambda: completed.create_refund(refund_draft()),
            "paid for contract",
        )  # fmt: skip


class TestRefunds:
    def test_a_refund_starts_waiting_and_moves_its_payment(self, ic, completed):
        ic.advance_time(seconds=2)
        refund = completed.create_refund(refund_draft())
        assert refund == Refund(
            id="refund-1", payment_id="pay-1", user=ALICE, amount=100_000_000,
            reason="deployment failed", status=RefundWaiting(), attempts=0, created_at=ic.time,
            updated_at=ic.time, history=(StatusChange(RefundWaiting(), ic.time, 5),),
        )  # fmt: skip
        payment = completed.get_payment("pay-1")
        assert (payment.status, payment.refund_id, payment.updated_at) == (
            RefundPending(), "refund-1", ic.time,
        )  # fmt: skip
        assert payment.history[-1] == StatusChange(RefundPending(), ic.time, 5)
        assert payment.audit_ids == (0, 1, 5)

    def test_the_whole_flow_with_a_failed_attempt_and_a_retry(self, ic, refunding):
        steps = [
            (RefundAttemptFailed("ledger down"), RefundFailed("ledger down"), 1),
            (RefundWaiting(), RefundPending(), 1),
            (RefundCompleted(42), Refunded(42), 2),
        ]
        for audit_id, (refund_status, payment_status, attempts) in enumerate(steps, start=10):
            ic.advance_time(seconds=1)
            refund = refunding.set_refund_status("refund-1", refund_status, audit_id)
            payment = refunding.get_payment("pay-1")
            assert (refund.status, refund.attempts, refund.updated_at) == (
                refund_status, attempts, ic.time,
            )  # fmt: skip
            assert (payment.status, payment.updated_at) == (payment_status, ic.time)
            assert refund.history[-1] == StatusChange(refund_status, ic.time, audit_id)
            assert payment.history[-1] == StatusChange(payment_status, ic.time, audit_id)
        assert statuses(refunding.get_payment("pay-1")) == [
            Pending(), Completed(7), RefundPending(), RefundFailed("ledger down"),
            RefundPending(), Refunded(42),
        ]  # fmt: skip
        assert refunding.get_payment("pay-1").audit_ids == (0, 1, 5, 10, 11, 12)
        assert statuses(refunding.get_refund("refund-1")) == [
            RefundWaiting(), RefundAttemptFailed("ledger down"), RefundWaiting(),
            RefundCompleted(42),
        ]  # fmt: skip

    @pytest.mark.parametrize(
        "path, status, message",
        [
            ((), RefundWaiting(), "RefundWaiting → RefundWaiting"),
            ((RefundCompleted(4),), RefundWaiting(), "RefundCompleted → RefundWaiting"),
            ((RefundCompleted(4),), RefundAttemptFailed("x"), "RefundCompleted → RefundAttempt"),
            ((RefundCompleted(4),), RefundCompleted(5), "RefundCompleted → RefundCompleted"),
            ((RefundAttemptFailed("x"),), RefundCompleted(4), "RefundAttemptFailed → RefundComp"),
            ((RefundAttemptFailed("x"),), RefundAttemptFailed("y"), "RefundAttemptFailed → Refu"),
        ],
    )
    def test_an_illegal_refund_transition_changes_neither_record(
        self, ic, refunding, path, status, message
    ):
        for step in path:
            refunding.set_refund_status("refund-1", step)
        change = lambda: refunding.set_refund_status("refund-1", status, 77)  # noqa: E731
        unchanged(ic, refunding, change, message)

    @pytest.mark.parametrize(
        "status", [RefundCompleted(-1), RefundCompleted(None), RefundAttemptFailed("")]
    )
    def test_a_malformed_refund_status_is_rejected(self, ic, refunding, status):
        unchanged(ic, refunding, lambda: refunding.set_refund_status("refund-1", status), "")

    @pytest.mark.parametrize(
        "fields, message",
        [
            ({"payment_id": "nope"}, "no payment"),
            ({"amount": 1}, "returns the payment's amount to its user"),
            ({"user": Principal.from_name("bob")}, "returns the payment's amount to its user"),
            ({"reason": ""}, "invalid refund draft"),
            ({"id": ""}, "invalid refund draft"),
            ({"amount": -1}, "invalid refund draft"),
        ],
    )
    def test_a_refund_that_does_not_fit_its_payment_is_rejected(
        self, ic, completed, fields, message
    ):
        unchanged(ic, completed, lambda: completed.create_refund(refund_draft(**fields)), message)

    @pytest.mark.parametrize("status", [None, Failed("no funds")], ids=["pending", "failed"])
    def test_only_a_completed_payment_is_refunded(self, ic, invoice, status):
        invoice.create_payment(draft())
        if status is not None:
            invoice.set_payment_status("pay-1", status)
        unchanged(
            ic, invoice, lambda: invoice.create_refund(refund_draft()), "only a Completed payment"
        )

    def test_a_payment_has_one_refund(self, ic, refunding):
        refunding.set_refund_status("refund-1", RefundAttemptFailed("x"))
        unchanged(
            ic, refunding, lambda: refunding.create_refund(refund_draft(id="refund-2")),
            "already has refund 'refund-1'",
        )  # fmt: skip

    def test_another_refund_under_a_known_id_is_rejected(self, ic, refunding):
        refunding.create_payment(draft(id="pay-2"))
        refunding.set_payment_status("pay-2", Completed(9))
        unchanged(
            ic, refunding, lambda: refunding.create_refund(refund_draft(payment_id="pay-2")),
            "already records another refund",
        )  # fmt: skip

    def test_an_unknown_refund_is_rejected(self, ic, refunding):
        unchanged(
            ic, refunding, lambda: refunding.set_refund_status("nope", RefundWaiting()),
            "no refund",
        )  # fmt: skip


class TestReadsAndListings:
    @pytest.fixture
    def books(self, invoice, bob) -> CanisterProxy:
        """alice: pay-0, pay-2 (completed, refunded-ish: refund-2 waiting), pay-4; bob: pay-1,
        pay-3 (completed)."""
        for n in range(5):
            invoice.create_payment(draft(id=f"pay-{n}", user=ALICE if n % 2 == 0 else bob))
        for n in (2, 3):
            invoice.set_payment_status(f"pay-{n}", Completed(n))
        invoice.create_refund(refund_draft(id="refund-2", payment_id="pay-2"))
        return invoice

    def ids(self, page: Any) -> list[str]:
        return [record.id for record in page.items]

    def test_a_user_lists_their_payments_newest_first(self, books):
        as_alice = books.as_caller(ALICE)
        assert self.ids(as_alice.get_payments_by_user(ALICE)) == ["pay-4", "pay-2", "pay-0"]
        assert self.ids(as_alice.get_refunds_by_user(ALICE)) == ["refund-2"]

    def test_pages_follow_the_cursor(self, books):
        first = books.get_payments_by_user(ALICE, None, 2)
        assert (self.ids(first), first.next_cursor) == (["pay-4", "pay-2"], 0)
        rest = books.get_payments_by_user(ALICE, first.next_cursor, 2)
        assert (self.ids(rest), rest.next_cursor) == (["pay-0"], None)
        assert books.get_payments_by_user(ALICE, None, 3).next_cursor is None

    def test_listings_by_status_follow_every_transition(self, books):
        assert self.ids(books.get_payments_by_status("Pending")) == ["pay-4", "pay-1", "pay-0"]
        assert self.ids(books.get_payments_by_status("Completed")) == ["pay-3"]
        assert self.ids(books.get_payments_by_status("RefundPending")) == ["pay-2"]
        assert self.ids(books.get_payments_by_status("Refunded")) == []
        assert self.ids(books.get_refunds_by_status("RefundWaiting")) == ["refund-2"]
        books.set_refund_status("refund-2", RefundCompleted(11))
        assert self.ids(books.get_payments_by_status("Refunded")) == ["pay-2"]
        assert self.ids(books.get_payments_by_status("RefundPending")) == []
        assert self.ids(books.get_refunds_by_status("RefundWaiting")) == []
        assert self.ids(books.get_refunds_by_status("RefundCompleted")) == ["refund-2"]

    @pytest.mark.parametrize("name", ["pending", "Refund", "RefundWaiting", ""])
    def test_an_unknown_payment_status_name_is_rejected(self, books, name):
        refusal = rejected(lambda: books.get_payments_by_status(name))
        assert "unknown payment status" in refusal.message

    @pytest.mark.parametrize("name", ["Completed", "RefundPending", "Waiting"])
    def test_an_unknown_refund_status_name_is_rejected(self, books, name):
        assert (
            "unknown refund status" in rejected(lambda: books.get_refunds_by_status(name)).message
        )

    @pytest.mark.parametrize(
        "cursor, limit", [(-1, 10), (True, 10), (None, 0), (None, MAX_PAGE + 1), (None, False)]
    )
    def test_a_malformed_page_request_is_rejected(self, books, cursor, limit):
        rejected(lambda: books.get_payments_by_user(ALICE, cursor, limit))
        rejected(lambda: books.get_refunds_by_status("RefundWaiting", cursor, limit))

    def test_a_user_reads_nothing_of_anyone_else(self, books, bob):
        as_bob = books.as_caller(bob)
        assert as_bob.get_payment("pay-0") is None
        assert as_bob.get_refund("refund-2") is None
        assert as_bob.get_payment("pay-1").user == bob
        for call in (
            lambda: as_bob.get_payments_by_user(ALICE),
            lambda: as_bob.get_refunds_by_user(ALICE),
            lambda: as_bob.get_payments_by_status("Pending"),
            lambda: as_bob.get_refunds_by_status("RefundWaiting"),
            lambda: as_bob.get_stats(),
        ):
            assert rejected(call).message.startswith("Unauthorized")

    def test_an_admin_reads_everything(self, books, admin, bob):
        as_admin = books.as_caller(admin)
        assert as_admin.get_refund("refund-2").payment_id == "pay-2"
        assert self.ids(as_admin.get_payments_by_user(bob)) == ["pay-3", "pay-1"]
        assert as_admin.get_payment("nope") is None

    def test_stats_count_statuses_and_sum_money_per_service_and_token(self, books):
        other = Principal.from_canister_index(903)
        books.create_payment(draft(id="pay-5", service="dao_factory", token=other, amount=3))
        books.set_payment_status("pay-5", Completed(12))
        books.set_refund_status("refund-2", RefundCompleted(11))
        stats = books.get_stats()
        assert (stats.payments, stats.refunds) == (6, 1)
        assert dict(stats.payments_by_status) == {
            "Pending": 3, "Completed": 2, "Failed": 0, "RefundPending": 0, "RefundFailed": 0,
            "Refunded": 1,
        }  # fmt: skip
        assert dict(stats.refunds_by_status) == {
            "RefundWaiting": 0, "RefundAttemptFailed": 0, "RefundCompleted": 1,
        }  # fmt: skip
        fee = 100_000_000
        assert set(stats.totals) == {
            ServiceTotals("token_factory", TOKEN, 5, 2 * fee, fee),
            ServiceTotals("dao_factory", other, 1, 3, 0),
        }
        assert books.health().records == 7


class TestNothingIsEverDeleted:
    @pytest.mark.parametrize(
        "method",
        ["delete_payment", "archive_old_records", "archiveOldRecords", "update_payment_record",
         "delete_refund", "update_refund", "wipe"],
    )  # fmt: skip
    def test_no_method_removes_or_overwrites_records(self, ic, completed, admin, method):
        refusal = rejected(lambda: ic.update_call(completed.id, method, "pay-1", caller=admin))
        assert refusal.error_code == "IC0536"

    def test_the_only_updates_are_the_state_machines_and_the_whitelist(self):
        updates = {name for name, spec in InvoiceStorage.__icto_methods__.items()
                   if spec.kind == "update"}  # fmt: skip
        assert updates == {
            "create_payment", "set_payment_status", "link_contract", "create_refund",
            "set_refund_status", "add_to_whitelist", "remove_from_whitelist", "set_admins",
        }  # fmt: skip

    def test_records_and_indexes_survive_an_upgrade(self, ic, refunding, admin):
        class InvoiceStorageNext(InvoiceStorage):
            VERSION = "1.0.1"

        def reads() -> tuple[Any, ...]:
            return (
                refunding.get_payment("pay-1"), refunding.get_refund("refund-1"),
                refunding.get_payments_by_user(ALICE), refunding.get_stats(),
                refunding.get_refunds_by_status("RefundWaiting"),
            )  # fmt: skip

        before = reads()
        ic.upgrade_canister(refunding.id, InvoiceStorageNext, caller=admin)
        assert reads() == before
        assert refunding.set_refund_status("refund-1", RefundCompleted(3)).attempts == 1
        assert attrs.evolve(refunding.health(), cycles=0).version == "1.0.1"
