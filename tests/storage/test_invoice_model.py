"""InvoiceStorage against a plain model, under random writes legal and illegal.

A state machine records payments (random user, service, token, amount), re-delivers their
drafts, tries random status changes on random payments (charged, failed, back to pending), links
random contracts, records refunds (sometimes for the wrong amount), and reports random refund
outcomes (completed, failed attempt, retry), with time passing in between. The model keeps, per
payment and refund, its status and the list of statuses it went through, and knows the rules
independently of the storage:

* a payment is charged or fails only while ``Pending``;
* a refund is for a ``Completed``, not yet refunded payment, for its amount;
* a refund attempt ends (completed or failed) only while the refund is waiting, and a failed one
  is retried; the payment follows (``RefundPending`` / ``Refunded`` / ``RefundFailed``);
* a payment is linked once, and only when ``Completed``.

Each write the model refuses must be rejected and change nothing; each one it accepts must give
the model's record. After every step, the listings by status and by user (walked page by page),
the stats (counts per status and totals per service and token) and every record's history are
the model's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from icto import IC, CallRejected, Principal
from icto.storage import (
    Completed,
    Failed,
    InvoiceStorage,
    PaymentDraft,
    Pending,
    RefundAttemptFailed,
    RefundCompleted,
    RefundDraft,
    Refunded,
    RefundFailed,
    RefundPending,
    RefundWaiting,
    ServiceTotals,
    deploy_storage,
    status_name,
)

USERS = tuple(Principal.from_name(f"user-{n}") for n in range(3))
TOKENS = tuple(Principal.from_canister_index(900 + n) for n in range(2))
SERVICES = ("token_factory", "dao_factory")
CONTRACTS = tuple(Principal.from_canister_index(910 + n) for n in range(2))
WRITER = Principal.from_name("backend")
ADMIN = Principal.from_name("storage-admin")
MAX_PAYMENTS = 10

PAYMENT_STATUSES = ("Pending", "Completed", "Failed", "RefundPending", "RefundFailed", "Refunded")
REFUND_STATUSES = ("RefundWaiting", "RefundAttemptFailed", "RefundCompleted")

payment_statuses = st.one_of(
    st.builds(Completed, st.none() | st.integers(0, 50)),
    st.builds(Failed, st.sampled_from(("no funds", "rejected"))),
    st.just(Pending()),
)
refund_outcomes = st.one_of(
    st.builds(RefundCompleted, st.integers(0, 50)),
    st.builds(RefundAttemptFailed, st.sampled_from(("ledger down", "too old"))),
    st.just(RefundWaiting()),
)


@attrs.define
class ModelPayment:
    seq: int
    draft: PaymentDraft
    history: list[Any]
    contract: Principal | None = None
    refund: str | None = None

    @property
    def status(self) -> Any:
        return self.history[-1]


@attrs.define
class ModelRefund:
    seq: int
    payment: str
    user: Principal
    history: list[Any]

    @property
    def status(self) -> Any:
        return self.history[-1]

    @property
    def attempts(self) -> int:
        return sum(not isinstance(s, RefundWaiting) for s in self.history)


def newest_first(records: dict[str, Any], key: Callable[[Any], object]) -> dict[object, list[str]]:
    """The ids of ``records`` grouped by ``key``, each group newest first."""
    groups: dict[object, list[str]] = defaultdict(list)
    for record_id, record in sorted(records.items(), key=lambda item: -item[1].seq):
        groups[key(record)].append(record_id)
    return groups


def walk(listing: Any, *args: Any) -> list[str]:
    """Every id a cursor listing yields, two at a time, checking the cursor protocol."""
    ids: list[str] = []
    cursor = None
    while True:
        page = listing(*args, cursor, 2)
        ids += [record.id for record in page.items]
        if page.next_cursor is None:
            return ids
        assert len(page.items) == 2
        cursor = page.next_cursor


class InvoiceAgainstModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ic = IC(trace=False)
        self.storage = deploy_storage(
            self.ic, InvoiceStorage, writers=[WRITER], caller=ADMIN
        ).as_caller(WRITER)
        self.payments: dict[str, ModelPayment] = {}
        self.refunds: dict[str, ModelRefund] = {}
        self.audit_ids = iter(range(10**6))

    # -- helpers ----------------------------------------------------------------------------

    def refused(self, call: Any) -> None:
        before = self.ic.state_of(self.storage.id)
        try:
            call()
        except CallRejected:
            assert self.ic.state_of(self.storage.id) == before
        else:
            raise AssertionError("the storage took a write the model refuses")

    def check_payment(self, payment_id: str) -> None:
        model = self.payments[payment_id]
        record = self.storage.get_payment(payment_id)
        assert [change.status for change in record.history] == model.history
        assert (record.status, record.contract_id, record.refund_id) == (
            model.status, model.contract, model.refund,
        )  # fmt: skip
        assert (record.user, record.amount, record.service) == (
            model.draft.user, model.draft.amount, model.draft.service,
        )  # fmt: skip

    def check_refund(self, refund_id: str) -> None:
        model = self.refunds[refund_id]
        refund = self.storage.get_refund(refund_id)
        assert [change.status for change in refund.history] == model.history
        assert (refund.status, refund.attempts) == (model.status, model.attempts)

    # -- rules ------------------------------------------------------------------------------

    @rule(seconds=st.integers(0, 100))
    def wait(self, seconds: int) -> None:
        self.ic.advance_time(seconds=seconds)

    @precondition(lambda self: len(self.payments) < MAX_PAYMENTS)
    @rule(
        user=st.sampled_from(USERS),
        service=st.sampled_from(SERVICES),
        token=st.sampled_from(TOKENS),
        amount=st.integers(0, 1000),
    )
    def create_payment(self, user: Principal, service: str, token: Principal, amount: int) -> None:
        draft = PaymentDraft(
            id=f"pay-{len(self.payments)}", user=user, service=service, amount=amount,
            token=token, audit_id=next(self.audit_ids),
        )  # fmt: skip
        record = self.storage.create_payment(draft)
        self.payments[draft.id] = ModelPayment(len(self.payments), draft, [Pending()])
        assert (record.created_at, record.status) == (self.ic.time, Pending())

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def redeliver_a_draft(self, data: st.DataObject) -> None:
        payment = data.draw(st.sampled_from(sorted(self.payments)))
        before = self.ic.state_of(self.storage.id)
        self.storage.create_payment(self.payments[payment].draft)
        assert self.ic.state_of(self.storage.id) == before

    @precondition(lambda self: self.payments)
    @rule(data=st.data(), status=payment_statuses)
    def set_payment_status(self, data: st.DataObject, status: Any) -> None:
        model = self.payments[data.draw(st.sampled_from(sorted(self.payments)))]
        call = lambda: self.storage.set_payment_status(  # noqa: E731
            model.draft.id, status, next(self.audit_ids)
        )
        if isinstance(model.status, Pending) and isinstance(status, Completed | Failed) and not (
            status == Completed(None) and model.draft.amount > 0
        ):
            call()
            model.history.append(status)
        else:
            self.refused(call)
        self.check_payment(model.draft.id)

    @precondition(lambda self: any(isinstance(p.status, Pending) for p in self.payments.values()))
    @rule(data=st.data(), block=st.none() | st.integers(0, 50))
    def charge_a_pending_payment(self, data: st.DataObject, block: int | None) -> None:
        pending = sorted(k for k, p in self.payments.items() if isinstance(p.status, Pending))
        model = self.payments[data.draw(st.sampled_from(pending))]
        call = lambda: self.storage.set_payment_status(  # noqa: E731
            model.draft.id, Completed(block), next(self.audit_ids)
        )
        if block is None and model.draft.amount > 0:
            self.refused(call)  # a charge is completed by the block that took it
            return
        call()
        model.history.append(Completed(block))
        self.check_payment(model.draft.id)

    @precondition(lambda self: self.payments)
    @rule(data=st.data(), contract=st.sampled_from(CONTRACTS))
    def link_contract(self, data: st.DataObject, contract: Principal) -> None:
        model = self.payments[data.draw(st.sampled_from(sorted(self.payments)))]
        call = lambda: self.storage.link_contract(model.draft.id, contract)  # noqa: E731
        if model.contract == contract:
            before = self.ic.state_of(self.storage.id)
            call()
            assert self.ic.state_of(self.storage.id) == before
        elif model.contract is None and isinstance(model.status, Completed):
            call()
            model.contract = contract
        else:
            self.refused(call)
        self.check_payment(model.draft.id)

    def refundable(self) -> list[str]:
        return sorted(
            k for k, p in self.payments.items() if isinstance(p.status, Completed) and not p.refund
        )

    @precondition(lambda self: self.payments)
    @rule(data=st.data(), short=st.booleans())
    def create_refund(self, data: st.DataObject, short: bool) -> None:
        self.refund(data.draw(st.sampled_from(sorted(self.payments))), short)

    @precondition(lambda self: self.refundable())
    @rule(data=st.data())
    def refund_a_completed_payment(self, data: st.DataObject) -> None:
        self.refund(data.draw(st.sampled_from(self.refundable())), short=False)

    def refund(self, payment_id: str, short: bool) -> None:
        model = self.payments[payment_id]
        refund_id = f"refund-{len(self.refunds)}"
        draft = RefundDraft(
            id=refund_id, payment_id=payment_id, user=model.draft.user,
            amount=model.draft.amount + short, reason="deployment failed",
            audit_id=next(self.audit_ids),
        )  # fmt: skip
        call = lambda: self.storage.create_refund(draft)  # noqa: E731
        if (
            isinstance(model.status, Completed) and model.refund is None
            and model.contract is None and not short
        ):  # fmt: skip
            call()
            self.refunds[refund_id] = ModelRefund(
                len(self.refunds), payment_id, model.draft.user, [RefundWaiting()]
            )
            model.refund = refund_id
            model.history.append(RefundPending())
            self.check_refund(refund_id)
        else:
            self.refused(call)
        self.check_payment(payment_id)

    @precondition(lambda self: self.refunds)
    @rule(data=st.data(), outcome=refund_outcomes)
    def set_refund_status(self, data: st.DataObject, outcome: Any) -> None:
        self.set_refund_status_of(
            self.refunds[data.draw(st.sampled_from(sorted(self.refunds)))], outcome
        )

    def set_refund_status_of(self, refund: ModelRefund, outcome: Any) -> None:
        payment = self.payments[refund.payment]
        call = lambda: self.storage.set_refund_status(  # noqa: E731
            f"refund-{refund.seq}", outcome, next(self.audit_ids)
        )
        waiting = isinstance(refund.status, RefundWaiting)
        if waiting and isinstance(outcome, RefundCompleted):
            call()
            payment.history.append(Refunded(outcome.block))
        elif waiting and isinstance(outcome, RefundAttemptFailed):
            call()
            payment.history.append(RefundFailed(outcome.reason))
        elif isinstance(refund.status, RefundAttemptFailed) and isinstance(outcome, RefundWaiting):
            call()
            payment.history.append(RefundPending())
        else:
            self.refused(call)
            return
        refund.history.append(outcome)
        self.check_refund(f"refund-{refund.seq}")
        self.check_payment(refund.payment)

    def unsettled(self) -> list[str]:
        return sorted(
            k for k, r in self.refunds.items() if not isinstance(r.status, RefundCompleted)
        )

    @precondition(lambda self: self.unsettled())
    @rule(data=st.data(), succeeds=st.booleans())
    def move_a_refund_on(self, data: st.DataObject, succeeds: bool) -> None:
        refund = self.refunds[data.draw(st.sampled_from(self.unsettled()))]
        if isinstance(refund.status, RefundAttemptFailed):
            outcome: Any = RefundWaiting()
        else:
            outcome = RefundCompleted(9) if succeeds else RefundAttemptFailed("ledger down")
        self.set_refund_status_of(refund, outcome)

    # -- what must always hold --------------------------------------------------------------

    @invariant()
    def listings_are_the_models(self) -> None:
        storage = self.storage
        by_status = newest_first(self.payments, lambda p: status_name(p.status))
        for name in PAYMENT_STATUSES:
            assert walk(storage.get_payments_by_status, name) == by_status.get(name, [])
        refunds_by_status = newest_first(self.refunds, lambda r: status_name(r.status))
        for name in REFUND_STATUSES:
            assert walk(storage.get_refunds_by_status, name) == refunds_by_status.get(name, [])
        by_user = newest_first(self.payments, lambda p: p.draft.user)
        refunds_by_user = newest_first(self.refunds, lambda r: r.user)
        for user in USERS:
            reader = storage.as_caller(user)
            assert walk(reader.get_payments_by_user, user) == by_user.get(user, [])
            assert walk(reader.get_refunds_by_user, user) == refunds_by_user.get(user, [])

    @invariant()
    def stats_are_the_models(self) -> None:
        stats = self.storage.get_stats()
        assert (stats.payments, stats.refunds) == (len(self.payments), len(self.refunds))
        payment_counts = Counter(status_name(p.status) for p in self.payments.values())
        assert stats.payments_by_status == tuple((n, payment_counts[n]) for n in PAYMENT_STATUSES)
        refund_counts = Counter(status_name(r.status) for r in self.refunds.values())
        assert stats.refunds_by_status == tuple((n, refund_counts[n]) for n in REFUND_STATUSES)
        totals: dict[tuple[str, Principal], ServiceTotals] = {}
        for p in self.payments.values():
            key = (p.draft.service, p.draft.token)
            sums = totals.get(key, ServiceTotals(*key, 0, 0, 0))
            charged = any(isinstance(s, Completed) for s in p.history)
            refunded = isinstance(p.status, Refunded)
            totals[key] = ServiceTotals(
                *key, sums.payments + 1, sums.charged + p.draft.amount * charged,
                sums.refunded + p.draft.amount * refunded,
            )  # fmt: skip
        assert stats.totals == tuple(totals[key] for key in sorted(totals))

    @invariant()
    def every_record_is_the_models(self) -> None:
        for payment_id in self.payments:
            self.check_payment(payment_id)
        for refund_id in self.refunds:
            self.check_refund(refund_id)


InvoiceAgainstModel.TestCase.settings = settings(
    max_examples=30, stateful_step_count=30, deadline=None
)
TestInvoiceAgainstModel = InvoiceAgainstModel.TestCase
