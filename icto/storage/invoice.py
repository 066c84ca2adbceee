"""``InvoiceStorage``: payment records and refunds, with their state machines and history.

A payment is ``Pending`` until charged (``Completed(block)``) or not (``Failed(reason)``); a
refund of a completed payment moves it to ``RefundPending``, then ``Refunded(block)`` or
``RefundFailed(reason)``, which goes back to ``RefundPending`` when the refund is retried
(``PAYMENT_TRANSITIONS``). The refund itself is ``RefundWaiting`` → ``RefundCompleted(block)``
or ``RefundAttemptFailed(reason)`` → ``RefundWaiting`` again on a retry (``REFUND_TRANSITIONS``);
its payment's refund states follow from it and are never set directly. An illegal change is
rejected and changes nothing; every change is kept in the record's ``history``. Nothing is ever
deleted or overwritten.

Writes come from whitelisted writers and are safe to re-deliver: a create with the same id and
the same draft, or the same status change again (same status and audit id as the change that
set it), answers the current record and changes nothing.

Records are numbered in creation order (their *seq*); per-user and per-status indexes are
``SortedSet``s of seqs, so every listing is newest first in O(log n + page), its cursor the seq
to continue from. Reads follow the storage reader rule (``icto.storage.base``).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final, TypeVar

import attrs
import immutables

from icto.collections import SortedSet, Vector
from icto.collections.maps import listed, unlisted
from icto.ic.canister import query, update
from icto.ic.errors import Reject
from icto.ic.principal import Principal
from icto.storage.base import (
    InvalidRecord,
    StorageBase,
    StorageState,
    are_clean_lines,
    check_page,
    ids_between,
    is_line,
    is_text,
    take_page,
)
from icto.storage.types import (
    DEFAULT_PAGE,
    MAX_TEXT,
    PAYMENT_TRANSITIONS,
    REFUND_TRANSITIONS,
    Completed,
    CursorPage,
    Failed,
    InvoiceStats,
    PaymentDraft,
    PaymentRecord,
    PaymentStatus,
    Pending,
    Refund,
    RefundAttemptFailed,
    RefundCompleted,
    RefundDraft,
    Refunded,
    RefundFailed,
    RefundPending,
    RefundStatus,
    RefundWaiting,
    ServiceTotals,
    StatusChange,
    StorageHealth,
    status_name,
    with_audit,
)
from icto.validation import identified_problem, is_nat

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")
S = TypeVar("S")

MAX_ID: Final = 128
"""Longest payment or refund id."""

PAYMENT_STATUS_NAMES: Final = tuple(cls.__name__ for cls in PAYMENT_TRANSITIONS)
REFUND_STATUS_NAMES: Final = tuple(cls.__name__ for cls in REFUND_TRANSITIONS)

_EMPTY: SortedSet[int] = SortedSet()
_WITH_BLOCK: Final = (Refunded, RefundCompleted)
"""Statuses whose ``block`` must be a non-negative int."""
_WITH_REASON: Final = (Failed, RefundFailed, RefundAttemptFailed)
"""Statuses whose ``reason`` must be text of 1 to ``MAX_TEXT`` characters."""


@attrs.frozen(kw_only=True)
class InvoiceState(StorageState):
    payments: Vector[PaymentRecord] = Vector()
    """By seq (creation order)."""
    payment_seqs: immutables.Map[str, int] = immutables.Map()
    payments_by_user: immutables.Map[Principal, SortedSet[int]] = immutables.Map()
    payments_by_status: immutables.Map[str, SortedSet[int]] = immutables.Map()
    refunds: Vector[Refund] = Vector()
    refund_seqs: immutables.Map[str, int] = immutables.Map()
    refunds_by_user: immutables.Map[Principal, SortedSet[int]] = immutables.Map()
    refunds_by_status: immutables.Map[str, SortedSet[int]] = immutables.Map()
    totals: immutables.Map[tuple[str, Principal], ServiceTotals] = immutables.Map()

    def with_payments(
        self,
        payments: Vector[PaymentRecord],
        *,
        seqs: immutables.Map[str, int] | None = None,
        by_user: immutables.Map[Principal, SortedSet[int]] | None = None,
        by_status: immutables.Map[str, SortedSet[int]] | None = None,
        totals: immutables.Map[tuple[str, Principal], ServiceTotals] | None = None,
    ) -> InvoiceState:
        """This state with new payments and, where given, their indexes and totals: one
        constructor call (every payment write comes through here)."""
        return InvoiceState(
            admins=self.admins, writers=self.writers, access_denied=self.access_denied,
            payments=payments,
            payment_seqs=self.payment_seqs if seqs is None else seqs,
            payments_by_user=self.payments_by_user if by_user is None else by_user,
            payments_by_status=self.payments_by_status if by_status is None else by_status,
            refunds=self.refunds, refund_seqs=self.refund_seqs,
            refunds_by_user=self.refunds_by_user, refunds_by_status=self.refunds_by_status,
            totals=self.totals if totals is None else totals,
        )  # fmt: skip

    def with_refunds(
        self,
        refunds: Vector[Refund],
        by_status: immutables.Map[str, SortedSet[int]],
        *,
        seqs: immutables.Map[str, int] | None = None,
        by_user: immutables.Map[Principal, SortedSet[int]] | None = None,
    ) -> InvoiceState:
        """This state with new refunds and their indexes (the seqs and the user index where
        given): one constructor call."""
        return InvoiceState(
            admins=self.admins, writers=self.writers, access_denied=self.access_denied,
            payments=self.payments, payment_seqs=self.payment_seqs,
            payments_by_user=self.payments_by_user, payments_by_status=self.payments_by_status,
            refunds=refunds,
            refund_seqs=self.refund_seqs if seqs is None else seqs,
            refunds_by_user=self.refunds_by_user if by_user is None else by_user,
            refunds_by_status=by_status, totals=self.totals,
        )  # fmt: skip


def _moved(
    index: immutables.Map[str, SortedSet[int]], old: object, new: object, seq: int
) -> immutables.Map[str, SortedSet[int]]:
    """``index`` with ``seq`` moved from ``old``'s status name to ``new``'s."""
    return listed(unlisted(index, status_name(old), seq), status_name(new), seq)


def _id_problem(what: str, value: object) -> list[str]:
    if is_line(value, MAX_ID):
        return []
    return [f"{what} must be one line of 1 to {MAX_ID} characters, without spaces at its ends"]


def _audit_id_problem(value: object) -> list[str]:
    return [] if value is None or is_nat(value) else ["audit_id must be None or a non-negative int"]


def payment_draft_problems(draft: PaymentDraft) -> tuple[str, ...]:
    """Every reason ``draft`` cannot be recorded (empty when it can). A well-formed draft passes
    one cheap pass (``_plainly_valid_draft``); any other is examined field by field."""
    if _plainly_valid_draft(draft):
        return ()
    return _every_draft_problem(draft)


def _plainly_valid_draft(draft: PaymentDraft) -> bool:
    """Whether ``draft`` certainly has no problem (exact type tests and one scan of its text);
    ``False`` means "look closer", not "invalid"."""
    id_, service, amount, audit_id = draft.id, draft.service, draft.amount, draft.audit_id
    return (
        type(id_) is str and 1 <= len(id_) <= MAX_ID
        and type(service) is str and 1 <= len(service) <= MAX_TEXT
        and type(draft.user) is Principal and type(draft.token) is Principal
        and draft.token.is_canister and identified_problem(draft.user, "payer") is None
        and type(amount) is int and amount >= 0
        and (audit_id is None or (type(audit_id) is int and audit_id >= 0))
        and are_clean_lines([id_, service])
    )  # fmt: skip


def _every_draft_problem(draft: PaymentDraft) -> tuple[str, ...]:
    fields: dict[str, object] = attrs.asdict(draft, recurse=False)
    problems = _id_problem("id", draft.id)
    user, token = fields["user"], fields["token"]
    if (payer := identified_problem(user, "payer")) is not None:
        problems.append(payer)
    if not (isinstance(token, Principal) and token.is_canister):
        problems.append(f"token must be a ledger canister id, got {token!r}")
    if not is_line(draft.service, MAX_TEXT):
        problems.append(f"service must be one line of 1 to {MAX_TEXT} characters")
    if not is_nat(draft.amount):
        problems.append(f"amount must be a non-negative int, got {draft.amount!r}")
    return (*problems, *_audit_id_problem(draft.audit_id))


def refund_draft_problems(draft: RefundDraft) -> tuple[str, ...]:
    """Every reason ``draft`` cannot be recorded, before looking at its payment."""
    user: object = draft.user
    problems = _id_problem("id", draft.id) + _id_problem("payment_id", draft.payment_id)
    if not isinstance(user, Principal):
        problems.append("user must be a Principal")
    if not is_nat(draft.amount):
        problems.append(f"amount must be a non-negative int, got {draft.amount!r}")
    if not is_text(draft.reason, MAX_TEXT):
        problems.append(f"reason must be text of 1 to {MAX_TEXT} characters")
    return (*problems, *_audit_id_problem(draft.audit_id))


def status_problem(status: object) -> str | None:
    """What is wrong with a status record's field, or ``None``. The status kinds are disjoint,
    so the first kind that matches decides."""
    if isinstance(status, Completed):
        if status.block is None or is_nat(status.block):
            return None
        return "a Completed block is None or a non-negative int"
    if isinstance(status, _WITH_BLOCK):
        if is_nat(status.block):
            return None
        return f"a {status_name(status)} block is a non-negative int"
    if isinstance(status, _WITH_REASON) and not is_text(status.reason, MAX_TEXT):
        return f"a {status_name(status)} reason is text of 1 to {MAX_TEXT} characters"
    return None


def draft_of_payment(record: PaymentRecord) -> PaymentDraft:
    """The draft ``record`` was created from."""
    return PaymentDraft(
        id=record.id, user=record.user, service=record.service, amount=record.amount,
        token=record.token, audit_id=record.history[0].audit_id,
    )  # fmt: skip


def draft_of_refund(refund: Refund) -> RefundDraft:
    """The draft ``refund`` was created from."""
    return RefundDraft(
        id=refund.id, payment_id=refund.payment_id, user=refund.user, amount=refund.amount,
        reason=refund.reason, audit_id=refund.history[0].audit_id,
    )  # fmt: skip


def _redelivered(status: S, history: tuple[StatusChange[S], ...], audit_id: int | None) -> bool:
    """The change ``status`` / ``audit_id`` is the one that set the current status."""
    last = history[-1]
    return last.status == status and last.audit_id == audit_id


class InvoiceStorage(StorageBase):
    """Payment records and refunds. Writers: whitelisted principals only."""

    VERSION = "1.0.0"
    STATE = InvoiceState

    state: InvoiceState

    # -- payments -----------------------------------------------------------------------------

    @update
    def create_payment(self, draft: PaymentDraft) -> PaymentRecord:
        """Writer: record a ``Pending`` payment. The same draft again answers the current record;
        another payment under a known id is rejected."""
        self._require_writer("record payments")
        problems = payment_draft_problems(draft)
        if problems:
            raise InvalidRecord("invalid payment draft: " + "; ".join(problems))
        state = self.state
        seq = state.payment_seqs.get(draft.id)
        if seq is not None:
            existing = state.payments[seq]
            if draft_of_payment(existing) == draft:
                return existing
            raise InvalidRecord(f"payment id {draft.id!r} already records another payment")
        seq = len(state.payments)
        now = self.time
        record = PaymentRecord(
            id=draft.id, user=draft.user, service=draft.service, amount=draft.amount,
            token=draft.token, status=Pending(), created_at=now, updated_at=now,
            contract_id=None, audit_ids=with_audit((), draft.audit_id),
            history=(StatusChange(Pending(), now, draft.audit_id),),
        )  # fmt: skip
        key = (draft.service, draft.token)
        totals = state.totals.get(key, ServiceTotals(draft.service, draft.token, 0, 0, 0))
        self.state = state.with_payments(
            state.payments.append(record),
            seqs=state.payment_seqs.set(draft.id, seq),
            by_user=listed(state.payments_by_user, draft.user, seq),
            by_status=listed(state.payments_by_status, status_name(record.status), seq),
            totals=state.totals.set(key, totals.plus(payments=1)),
        )
        return record

    @update
    def set_payment_status(
        self, payment_id: str, status: PaymentStatus, audit_id: int | None = None
    ) -> PaymentRecord:
        """Writer: move a payment to ``Completed`` or ``Failed`` (its refund states follow its
        refund). An illegal transition is rejected naming both states; re-delivering the change
        that set the current status answers the record unchanged."""
        self._require_writer("change payment status")
        if isinstance(status, RefundPending | Refunded | RefundFailed):
            raise InvalidRecord("refund statuses change through the refund (set_refund_status)")
        self._check_change(status, audit_id)
        seq, record = self._payment(payment_id)
        if _redelivered(status, record.history, audit_id):
            return record
        self._check_move(PAYMENT_TRANSITIONS, "payment", payment_id, record.status, status)
        if isinstance(status, Completed) and status.block is None and record.amount > 0:
            raise InvalidRecord(
                f"payment {payment_id!r} charged {record.amount}: it completes with the ledger "
                f"block that took it"
            )
        return self._move_payment(seq, record, status, audit_id)

    @update
    def link_contract(
        self, payment_id: str, contract_id: Principal, audit_id: int | None = None
    ) -> PaymentRecord:
        """Writer: record the contract a ``Completed`` payment paid for. Linking it to the same
        contract again answers the record unchanged; to another one is rejected."""
        self._require_writer("link payments to contracts")
        self._check_change(None, audit_id)
        if not contract_id.is_canister:
            raise InvalidRecord(f"a contract is a canister id, got {contract_id!r}")
        seq, record = self._payment(payment_id)
        if record.contract_id == contract_id:
            return record
        if record.contract_id is not None:
            raise InvalidRecord(f"payment {payment_id!r} is already linked to {record.contract_id}")
        if not isinstance(record.status, Completed):
            raise InvalidRecord(
                f"only a Completed payment is linked to a contract; {payment_id!r} is "
                f"{status_name(record.status)}"
            )
        linked = record.linked(contract_id, self.time, audit_id)
        self.state = self.state.with_payments(self.state.payments.set(seq, linked))
        return linked

    # -- refunds ------------------------------------------------------------------------------

    @update
    def create_refund(self, draft: RefundDraft) -> Refund:
        """Writer: record a refund (``RefundWaiting``) of a ``Completed`` payment, for its whole
        amount and its user, which moves the payment to ``RefundPending``. A payment has at most
        one refund; the same draft again answers the current refund."""
        self._require_writer("record refunds")
        problems = refund_draft_problems(draft)
        if problems:
            raise InvalidRecord("invalid refund draft: " + "; ".join(problems))
        state = self.state
        seq = state.refund_seqs.get(draft.id)
        if seq is not None:
            existing = state.refunds[seq]
            if draft_of_refund(existing) == draft:
                return existing
            raise InvalidRecord(f"refund id {draft.id!r} already records another refund")
        payment_seq, payment = self._payment(draft.payment_id)
        if payment.refund_id is not None:
            raise InvalidRecord(f"payment {payment.id!r} already has refund {payment.refund_id!r}")
        if payment.contract_id is not None:
            raise InvalidRecord(
                f"payment {payment.id!r} paid for contract {payment.contract_id}: it is not "
                f"refunded"
            )
        if not isinstance(payment.status, Completed):
            raise InvalidRecord(
                f"only a Completed payment is refunded; {payment.id!r} is "
                f"{status_name(payment.status)}"
            )
        if (draft.amount, draft.user) != (payment.amount, payment.user):
            raise InvalidRecord(
                f"a refund returns the payment's amount to its user: {payment.amount} to "
                f"{payment.user}, not {draft.amount} to {draft.user}"
            )
        seq = len(state.refunds)
        now = self.time
        refund = Refund(
            id=draft.id, payment_id=draft.payment_id, user=draft.user, amount=draft.amount,
            reason=draft.reason, status=RefundWaiting(), attempts=0, created_at=now,
            updated_at=now, history=(StatusChange(RefundWaiting(), now, draft.audit_id),),
        )  # fmt: skip
        self.state = state.with_refunds(
            state.refunds.append(refund),
            listed(state.refunds_by_status, status_name(refund.status), seq),
            seqs=state.refund_seqs.set(draft.id, seq),
            by_user=listed(state.refunds_by_user, draft.user, seq),
        )
        self._move_payment(payment_seq, payment, RefundPending(), draft.audit_id, draft.id)
        return refund

    @update
    def set_refund_status(
        self, refund_id: str, status: RefundStatus, audit_id: int | None = None
    ) -> Refund:
        """Writer: record a refund attempt's outcome, or a retry starting, and its payment's
        matching state: ``RefundCompleted(block)`` makes the payment ``Refunded(block)``,
        ``RefundAttemptFailed(reason)`` makes it ``RefundFailed(reason)``, ``RefundWaiting``
        (a retry) makes it ``RefundPending`` again. ``attempts`` counts the attempts that ended,
        failed or completed. An illegal transition is rejected and changes neither record; the
        payment needs no check of its own, since its refund states change nowhere else."""
        self._require_writer("change refund status")
        self._check_change(status, audit_id)
        seq, refund = self._refund(refund_id)
        if _redelivered(status, refund.history, audit_id):
            return refund
        self._check_move(REFUND_TRANSITIONS, "refund", refund_id, refund.status, status)
        payment_seq, payment = self._payment(refund.payment_id)
        follows: PaymentStatus
        if isinstance(status, RefundCompleted):
            follows = Refunded(status.block)
        elif isinstance(status, RefundAttemptFailed):
            follows = RefundFailed(status.reason)
        else:
            follows = RefundPending()
        moved = refund.moved(status, self.time, audit_id)
        state = self.state
        self.state = state.with_refunds(
            state.refunds.set(seq, moved),
            _moved(state.refunds_by_status, refund.status, status, seq),
        )
        self._move_payment(payment_seq, payment, follows, audit_id)
        return moved

    # -- shared steps -------------------------------------------------------------------------

    @staticmethod
    def _check_change(status: object, audit_id: object) -> None:
        """Reject a malformed status record or audit id."""
        problem = status_problem(status)
        if problem is None and audit_id is not None and not is_nat(audit_id):
            problem = "audit_id must be None or a non-negative int"
        if problem is not None:
            raise InvalidRecord(problem)

    @staticmethod
    def _check_move(
        transitions: dict[type, frozenset[type]], kind: str, id_: str, old: object, new: object
    ) -> None:
        if type(new) not in transitions[type(old)]:
            raise InvalidRecord(
                f"illegal {kind} transition for {id_!r}: {status_name(old)} → {status_name(new)}"
            )

    def _payment(self, payment_id: str) -> tuple[int, PaymentRecord]:
        seq = self.state.payment_seqs.get(payment_id)
        if seq is None:
            raise InvalidRecord(f"no payment {payment_id!r}")
        return seq, self.state.payments[seq]

    def _refund(self, refund_id: str) -> tuple[int, Refund]:
        seq = self.state.refund_seqs.get(refund_id)
        if seq is None:
            raise InvalidRecord(f"no refund {refund_id!r}")
        return seq, self.state.refunds[seq]

    def _move_payment(
        self,
        seq: int,
        record: PaymentRecord,
        status: PaymentStatus,
        audit_id: int | None,
        refund_id: str | None = None,
    ) -> PaymentRecord:
        """Store ``record`` moved to ``status`` (already checked) and given ``refund_id`` (when
        set), its indexes and totals: one new record and one new state."""
        moved = record.moved(status, self.time, audit_id, refund_id)
        state = self.state
        totals = state.totals
        key = (record.service, record.token)
        if isinstance(status, Completed):
            totals = totals.set(key, totals[key].plus(charged=record.amount))
        elif isinstance(status, Refunded):
            totals = totals.set(key, totals[key].plus(refunded=record.amount))
        self.state = state.with_payments(
            state.payments.set(seq, moved),
            by_status=_moved(state.payments_by_status, record.status, status, seq),
            totals=totals,
        )
        return moved

    # -- reads --------------------------------------------------------------------------------

    @query
    def get_payment(self, payment_id: str) -> PaymentRecord | None:
        """The payment; ``None`` if there is none or the caller may not read it."""
        seq = self.state.payment_seqs.get(payment_id)
        record = None if seq is None else self.state.payments[seq]
        return record if record is not None and self._may_read(record.user) else None

    @query
    def get_refund(self, refund_id: str) -> Refund | None:
        """The refund; ``None`` if there is none or the caller may not read it."""
        seq = self.state.refund_seqs.get(refund_id)
        refund = None if seq is None else self.state.refunds[seq]
        return refund if refund is not None and self._may_read(refund.user) else None

    @query
    def get_payments_by_user(
        self, user: Principal, cursor: int | None = None, limit: int = DEFAULT_PAGE
    ) -> CursorPage[PaymentRecord]:
        """``user``'s payments, newest first (the user, writers and admins)."""
        check_page(cursor, limit)
        self._require_reader_of(user, "list another user's payments")
        ids = self.state.payments_by_user.get(user, _EMPTY)
        return _page(self.state.payments, ids, cursor, limit)

    @query
    def get_payments_by_status(
        self, status_name: str, cursor: int | None = None, limit: int = DEFAULT_PAGE
    ) -> CursorPage[PaymentRecord]:
        """The payments now in status ``status_name`` (``"Pending"``, ``"Completed"`` …),
        newest first (writers and admins)."""
        check_page(cursor, limit)
        self._require_privileged("list payments by status")
        if status_name not in PAYMENT_STATUS_NAMES:
            raise Reject(f"unknown payment status {status_name!r}; one of {PAYMENT_STATUS_NAMES}")
        ids = self.state.payments_by_status.get(status_name, _EMPTY)
        return _page(self.state.payments, ids, cursor, limit)

    @query
    def get_refunds_by_user(
        self, user: Principal, cursor: int | None = None, limit: int = DEFAULT_PAGE
    ) -> CursorPage[Refund]:
        """``user``'s refunds, newest first (the user, writers and admins)."""
        check_page(cursor, limit)
        self._require_reader_of(user, "list another user's refunds")
        ids = self.state.refunds_by_user.get(user, _EMPTY)
        return _page(self.state.refunds, ids, cursor, limit)

    @query
    def get_refunds_by_status(
        self, status_name: str, cursor: int | None = None, limit: int = DEFAULT_PAGE
    ) -> CursorPage[Refund]:
        """The refunds now in status ``status_name`` (``"RefundWaiting"``,
        ``"RefundCompleted"``, ``"RefundAttemptFailed"``), newest first (writers and admins)."""
        check_page(cursor, limit)
        self._require_privileged("list refunds by status")
        if status_name not in REFUND_STATUS_NAMES:
            raise Reject(f"unknown refund status {status_name!r}; one of {REFUND_STATUS_NAMES}")
        ids = self.state.refunds_by_status.get(status_name, _EMPTY)
        return _page(self.state.refunds, ids, cursor, limit)

    @query
    def get_stats(self) -> InvoiceStats:
        """Writers and admins: counts per status (every status, in state-machine order) and,
        per (service, token), the payments, the amount charged (payments that reached
        ``Completed``) and the amount refunded (``Refunded``)."""
        self._require_privileged("read invoice statistics")
        state = self.state
        return InvoiceStats(
            payments=len(state.payments),
            refunds=len(state.refunds),
            payments_by_status=_counts(state.payments_by_status, PAYMENT_STATUS_NAMES),
            refunds_by_status=_counts(state.refunds_by_status, REFUND_STATUS_NAMES),
            totals=tuple(state.totals[key] for key in sorted(state.totals)),
            access_denied=state.access_denied,
        )

    @query
    def health(self) -> StorageHealth:
        """Anyone: kind ``"invoice"``, records (payments and refunds), writers, cycles, version."""
        state = self.state
        return StorageHealth(
            kind="invoice",
            records=len(state.payments) + len(state.refunds),
            writers=len(state.writers),
            cycles=self.cycles_balance,
            version=self.VERSION,
        )


def _page(
    records: Vector[R], seqs: SortedSet[int], cursor: int | None, limit: int
) -> CursorPage[R]:
    """A newest-first page of ``seqs`` from ``cursor`` (a seq, inclusive) down."""
    high = len(records) - 1 if cursor is None else cursor
    page, next_cursor = take_page(ids_between(seqs, len(records), 0, high, True), limit)
    return CursorPage(tuple(records[seq] for seq in page), next_cursor)


def _counts(
    index: immutables.Map[str, SortedSet[int]], names: tuple[str, ...]
) -> tuple[tuple[str, int], ...]:
    return tuple((name, len(index.get(name, _EMPTY))) for name in names)
