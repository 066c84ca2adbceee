"""Records AuditStorage and InvoiceStorage exchange with their writers (the backend) and readers.

They live here, not in the canisters, so the backend builds them without importing a canister.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any, Final, Generic, TypeAlias, TypeVar

import attrs

from icto.ic.principal import Principal

T = TypeVar("T")

MAX_PAGE: Final = 1000
DEFAULT_PAGE: Final = 100
MAX_DETAILS: Final = 16
"""Most ``details`` pairs one audit entry may carry."""
MAX_DETAIL_KEY: Final = 64
MAX_DETAIL_VALUE: Final = 1024
MAX_TEXT: Final = 1024
"""Longest reason, custom action or service name a record may carry."""
INVALID_RECORD: Final = "InvalidRecord"
"""How a storage's reject message starts when it refuses a record itself (bad fields, an id
that names another record, a status change its state machine forbids): a permanent refusal, so
a writer sets the record aside instead of retrying it."""


@attrs.frozen
class CursorPage(Generic[T]):
    """One page of a storage listing. Pass ``next_cursor`` as ``cursor`` for the next page
    (``None``: this was the last). Cursors are opaque ints, stable as the storage grows."""

    items: tuple[T, ...]
    next_cursor: int | None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def _repr_html_(self) -> str:
        from icto.ic.html import items_table

        kind = type(self.items[0]).__name__ if self.items else "item"
        more = "last page" if self.next_cursor is None else f"next cursor {self.next_cursor}"
        return items_table(f"{kind} page: {len(self.items)} items ({more})", self.items)


# -- audit ------------------------------------------------------------------------------------


class AuditAction(enum.StrEnum):
    DEPLOYMENT_INITIATED = "DeploymentInitiated"
    PAYMENT_PROCESSED = "PaymentProcessed"
    PAYMENT_FAILED = "PaymentFailed"
    DEPLOYMENT_SUCCEEDED = "DeploymentSucceeded"
    DEPLOYMENT_FAILED = "DeploymentFailed"
    REFUND_ISSUED = "RefundIssued"
    REFUND_FAILED = "RefundFailed"
    CONFIG_CHANGED = "ConfigChanged"
    ADMIN_ACTION = "AdminAction"
    ACCESS_DENIED = "AccessDenied"
    CUSTOM = "Custom"


class Severity(enum.StrEnum):
    DEBUG = "Debug"
    INFO = "Info"
    WARNING = "Warning"
    ERROR = "Error"
    CRITICAL = "Critical"


@attrs.frozen(kw_only=True)
class AuditEvent:
    """What a writer logs. ``custom`` names the action when ``action`` is ``CUSTOM`` (and only
    then). ``occurred_at`` is when the writer saw it happen (it may deliver later, from an
    outbox); the storage stamps its own ``timestamp`` and ``writer``."""

    action: AuditAction
    user: Principal | None = None
    service: str | None = None
    contract_id: Principal | None = None
    payment_id: str | None = None
    ref_id: int | None = None
    severity: Severity = Severity.INFO
    details: tuple[tuple[str, str], ...] = ()
    custom: str | None = None
    occurred_at: int | None = None


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One immutable entry of the trail: the event as logged, its sequence id, when the storage
    received it and from whom."""

    id: int
    timestamp: int
    writer: Principal
    event: AuditEvent

    @property
    def action(self) -> AuditAction:
        return self.event.action

    @property
    def user(self) -> Principal | None:
        return self.event.user

    def _html_columns_(self) -> tuple[tuple[str, Any], ...]:
        from icto.ic.html import timestamp

        event = self.event
        return (
            ("id", self.id), ("time", timestamp(self.timestamp)), ("action", str(event.action)),
            ("severity", str(event.severity)), ("user", event.user), ("service", event.service),
            ("contract", event.contract_id), ("payment", event.payment_id),
        )  # fmt: skip


@attrs.frozen(kw_only=True)
class AuditQuery:
    """Filters (all optional, combined with *and*), order and page of an audit query.
    ``time_from`` / ``time_to`` bound the storage's timestamp, both inclusive."""

    user: Principal | None = None
    action: AuditAction | None = None
    contract_id: Principal | None = None
    time_from: int | None = None
    time_to: int | None = None
    descending: bool = True
    cursor: int | None = None
    limit: int = DEFAULT_PAGE


@attrs.frozen
class AuditStats:
    entries: int
    by_action: tuple[tuple[str, int], ...]
    writers: int
    first_timestamp: int | None
    last_timestamp: int | None
    access_denied: int = 0
    """Refused updates (callers off the whitelist or admin list)."""


# -- invoices ---------------------------------------------------------------------------------


@attrs.frozen
class Pending:
    """The payment is about to be charged."""


@attrs.frozen
class Completed:
    """Charged at ``block`` (``None`` for a zero-amount, fee-exempt payment)."""

    block: int | None


@attrs.frozen
class Failed:
    """The charge did not happen; nothing was taken."""

    reason: str


@attrs.frozen
class RefundPending:
    """A refund of this payment is under way."""


@attrs.frozen
class Refunded:
    block: int


@attrs.frozen
class RefundFailed:
    """The last refund attempt failed; it stays retryable."""

    reason: str


PaymentStatus: TypeAlias = Pending | Completed | Failed | RefundPending | Refunded | RefundFailed

PAYMENT_TRANSITIONS: Final[dict[type, frozenset[type]]] = {
    Pending: frozenset({Completed, Failed}),
    Completed: frozenset({RefundPending}),
    Failed: frozenset(),
    RefundPending: frozenset({Refunded, RefundFailed}),
    RefundFailed: frozenset({RefundPending}),
    Refunded: frozenset(),
}
"""The payment state machine: status type → the status types it may move to."""


@attrs.frozen
class RefundWaiting:
    """The refund is recorded; its transfer has not been attempted or is being attempted."""


@attrs.frozen
class RefundCompleted:
    block: int


@attrs.frozen
class RefundAttemptFailed:
    reason: str


RefundStatus: TypeAlias = RefundWaiting | RefundCompleted | RefundAttemptFailed

REFUND_TRANSITIONS: Final[dict[type, frozenset[type]]] = {
    RefundWaiting: frozenset({RefundCompleted, RefundAttemptFailed}),
    RefundAttemptFailed: frozenset({RefundWaiting}),
    RefundCompleted: frozenset(),
}
"""The refund state machine: a failed attempt goes back to waiting when it is retried."""


def status_name(status: object) -> str:
    """The name a status is indexed and counted under (its record's class name)."""
    return type(status).__name__


@attrs.frozen
class StatusChange(Generic[T]):
    status: T
    at: int
    audit_id: int | None = None


def with_audit(audit_ids: tuple[int, ...], audit_id: int | None) -> tuple[int, ...]:
    """A record's audit ids with ``audit_id`` added (when there is one)."""
    return audit_ids if audit_id is None else (*audit_ids, audit_id)


@attrs.frozen(kw_only=True)
class PaymentDraft:
    """What a writer records before charging: ids are the writer's, so a retried delivery of
    the same draft is recognised (and an id reused for another payment is refused)."""

    id: str
    user: Principal
    service: str
    amount: int
    token: Principal
    audit_id: int | None = None


@attrs.frozen(kw_only=True)
class PaymentRecord:
    id: str
    user: Principal
    service: str
    amount: int
    token: Principal
    status: PaymentStatus
    created_at: int
    updated_at: int
    contract_id: Principal | None
    audit_ids: tuple[int, ...]
    history: tuple[StatusChange[PaymentStatus], ...]
    refund_id: str | None = None

    def moved(
        self, status: PaymentStatus, at: int, audit_id: int | None, refund_id: str | None = None
    ) -> PaymentRecord:
        """This payment moved to ``status`` at ``at`` (the change kept in its history), and
        given its refund when ``refund_id`` is set: one new record."""
        return PaymentRecord(
            id=self.id, user=self.user, service=self.service, amount=self.amount,
            token=self.token, status=status, created_at=self.created_at, updated_at=at,
            contract_id=self.contract_id, audit_ids=with_audit(self.audit_ids, audit_id),
            history=(*self.history, StatusChange(status, at, audit_id)),
            refund_id=self.refund_id if refund_id is None else refund_id,
        )  # fmt: skip

    def linked(self, contract_id: Principal, at: int, audit_id: int | None) -> PaymentRecord:
        """This payment linked to the contract it paid for."""
        return PaymentRecord(
            id=self.id, user=self.user, service=self.service, amount=self.amount,
            token=self.token, status=self.status, created_at=self.created_at, updated_at=at,
            contract_id=contract_id, audit_ids=with_audit(self.audit_ids, audit_id),
            history=self.history, refund_id=self.refund_id,
        )  # fmt: skip

    def _html_columns_(self) -> tuple[tuple[str, Any], ...]:
        from icto.ic.html import timestamp

        return (
            ("id", self.id), ("user", self.user), ("service", self.service),
            ("amount", self.amount), ("status", status_name(self.status)),
            ("contract", self.contract_id), ("updated", timestamp(self.updated_at)),
        )  # fmt: skip


@attrs.frozen(kw_only=True)
class RefundDraft:
    id: str
    payment_id: str
    user: Principal
    amount: int
    reason: str
    audit_id: int | None = None


@attrs.frozen(kw_only=True)
class Refund:
    id: str
    payment_id: str
    user: Principal
    amount: int
    reason: str
    status: RefundStatus
    attempts: int
    created_at: int
    updated_at: int
    history: tuple[StatusChange[RefundStatus], ...]

    def moved(self, status: RefundStatus, at: int, audit_id: int | None) -> Refund:
        """This refund moved to ``status`` at ``at``; an attempt that ended (anything but a
        retry's ``RefundWaiting``) is counted."""
        return Refund(
            id=self.id, payment_id=self.payment_id, user=self.user, amount=self.amount,
            reason=self.reason, status=status,
            attempts=self.attempts + (not isinstance(status, RefundWaiting)),
            created_at=self.created_at, updated_at=at,
            history=(*self.history, StatusChange(status, at, audit_id)),
        )  # fmt: skip


@attrs.frozen
class ServiceTotals:
    """Money through one (service, token): charged, refunded, and how many payments."""

    service: str
    token: Principal
    payments: int
    charged: int
    refunded: int

    def plus(self, *, payments: int = 0, charged: int = 0, refunded: int = 0) -> ServiceTotals:
        """These totals with the given amounts added."""
        return ServiceTotals(
            self.service, self.token, self.payments + payments, self.charged + charged,
            self.refunded + refunded,
        )  # fmt: skip


@attrs.frozen
class InvoiceStats:
    payments: int
    refunds: int
    payments_by_status: tuple[tuple[str, int], ...]
    refunds_by_status: tuple[tuple[str, int], ...]
    totals: tuple[ServiceTotals, ...]
    access_denied: int = 0
    """Refused updates (callers off the whitelist or admin list)."""


@attrs.frozen(kw_only=True)
class StorageInit:
    """How to start either storage: its admins and whitelisted writers (controllers are admins
    too)."""

    admins: tuple[Principal, ...] = ()
    writers: tuple[Principal, ...] = ()


@attrs.frozen
class StorageHealth:
    kind: str
    records: int
    writers: int
    cycles: int
    version: str
