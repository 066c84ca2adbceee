"""Records the backend takes and returns: setup, profiles, deployment results and errors.

Every ``deploy_*`` endpoint returns ``Ok(DeploymentResult)`` or ``Err`` of one of the error
records below. Errors before the charge say nothing was paid; ``PaymentFailed`` says the charge
itself failed (nothing was taken) or, ``pending``, that whether it took the fee is not known yet;
``DeploymentFailed`` carries what happened to the refund.
"""

from __future__ import annotations

import enum
from typing import Any, Final, TypeAlias

import attrs

from icto.factory.types import InvalidConfig
from icto.ic.account import Account
from icto.ic.principal import Principal
from icto.ledger.types import TransferFromArgs

TOKEN_FACTORY: Final = "token_factory"
MULTISIG_FACTORY: Final = "multisig_factory"
DISTRIBUTION_FACTORY: Final = "distribution_factory"
DAO_FACTORY: Final = "dao_factory"
LAUNCHPAD_FACTORY: Final = "launchpad_factory"
SERVICES: Final = (
    TOKEN_FACTORY, MULTISIG_FACTORY, DISTRIBUTION_FACTORY, DAO_FACTORY, LAUNCHPAD_FACTORY,
)  # fmt: skip
AUDIT_STORAGE: Final = "audit_storage"
INVOICE_STORAGE: Final = "invoice_storage"
STORAGES: Final = (AUDIT_STORAGE, INVOICE_STORAGE)

DAY_NS: Final = 24 * 3600 * 10**9


class UserStatus(enum.StrEnum):
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    BANNED = "Banned"


@attrs.frozen(kw_only=True)
class BackendInit:
    """How to start the backend: its admins (controllers are admins too) and the ledger that
    charges fees (``payment.token``; default: the ICP ledger's mainnet id)."""

    admins: tuple[Principal, ...] = ()
    payment_token: Principal | None = None


def _pairs(value: Any) -> tuple[tuple[str, Principal], ...]:
    """A mapping or pairs, as a tuple of pairs (later pairs win)."""
    return tuple(dict(value).items())


@attrs.frozen(kw_only=True)
class SetupArgs:
    """Where the storages and factories live; ``factories`` maps a service name to its id."""

    audit_storage: Principal
    invoice_storage: Principal
    factories: tuple[tuple[str, Principal], ...] = attrs.field(default=(), converter=_pairs)


@attrs.frozen
class ServiceSetup:
    """One microservice as the backend sees it: ``whitelisted`` is the counterpart's own answer
    (``None`` when it could not be asked; ``error`` says why)."""

    service: str
    canister_id: Principal | None
    whitelisted: bool | None
    error: str | None = None


@attrs.frozen(kw_only=True)
class UserProfile:
    user: Principal
    status: UserStatus
    first_seen: int
    deployments: int = 0
    total_paid: int = 0
    total_refunded: int = 0
    recent: tuple[int, ...] = ()
    """When this user's recent paid attempts started, oldest first (for the daily limit)."""

    def recent_since(self, since: int) -> tuple[int, ...]:
        """The attempts that started after ``since``, oldest first."""
        return tuple(at for at in self.recent if at > since)

    def attempted(self, at: int, since: int, limit: int) -> UserProfile:
        """This profile with an attempt at ``at`` recorded: the attempts after ``since`` and this
        one, the last ``limit`` of them (built in one step: the paid flow does it every time)."""
        recent = (*self.recent_since(since), at)[-limit:]
        return UserProfile(
            user=self.user, status=self.status, first_seen=self.first_seen,
            deployments=self.deployments, total_paid=self.total_paid,
            total_refunded=self.total_refunded, recent=recent,
        )  # fmt: skip

    def plus(self, *, deployments: int = 0, paid: int = 0, refunded: int = 0) -> UserProfile:
        """This profile with the given amounts added to its totals, in one new record."""
        return UserProfile(
            user=self.user, status=self.status, first_seen=self.first_seen,
            deployments=self.deployments + deployments, total_paid=self.total_paid + paid,
            total_refunded=self.total_refunded + refunded, recent=self.recent,
        )  # fmt: skip

    def with_status(self, status: UserStatus) -> UserProfile:
        """This profile under another status (an admin suspends, bans or reactivates)."""
        return UserProfile(
            user=self.user, status=status, first_seen=self.first_seen,
            deployments=self.deployments, total_paid=self.total_paid,
            total_refunded=self.total_refunded, recent=self.recent,
        )  # fmt: skip


@attrs.frozen
class DeploymentResult:
    canister_id: Principal
    service: str
    payment_id: str
    block_index: int | None
    fee_paid: int


@attrs.frozen
class RefundOutcome:
    """What became of the refund of a failed deployment: ``status`` is ``"Completed"``,
    ``"Failed"`` (retryable with ``admin_retry_refund``) or ``"AwaitingApproval"`` (auto-refund
    is off)."""

    refund_id: str
    amount: int
    status: str
    block: int | None = None
    reason: str | None = None


# -- errors -----------------------------------------------------------------------------------


@attrs.frozen
class Unauthorized:
    reason: str


@attrs.frozen
class UserSuspended:
    status: UserStatus


@attrs.frozen
class RateLimited:
    limit: int
    retry_at: int
    """IC time (ns) when the oldest attempt of the last 24 h leaves the window."""


@attrs.frozen
class ServiceDisabled:
    service: str


@attrs.frozen
class MaintenanceMode:
    pass


@attrs.frozen
class ServiceUnavailable:
    """The backend cannot take a paid deployment now (a service is not set up, the outbox is
    full, the ledger does not answer): nothing was paid."""

    reason: str


@attrs.frozen
class AllowanceTooLow:
    """The user's ICRC-2 approval to the backend does not cover fee + ledger fee."""

    required: int
    allowance: int


@attrs.frozen
class InsufficientBalance:
    required: int
    balance: int


@attrs.frozen
class PaymentFailed:
    """The charge failed (the ledger refused it, or its log shows it never ran); nothing was
    taken. ``pending``: the ledger rejected the charge and its log could not be read, so
    whether the fee was taken is not known yet; nothing is deployed, and the backend's timer
    reads the log again and refunds a fee it finds taken."""

    reason: str
    payment_id: str
    pending: bool = False


@attrs.frozen
class DeploymentFailed:
    """The fee was charged and the deployment failed; ``refund`` says what became of the fee.
    ``refund`` is ``None`` only while the factory's answer is unknown (``pending``)."""

    reason: str
    payment_id: str
    refund: RefundOutcome | None
    pending: bool = False


DeployError: TypeAlias = (
    Unauthorized | UserSuspended | RateLimited | ServiceDisabled | MaintenanceMode
    | ServiceUnavailable | InvalidConfig | AllowanceTooLow | InsufficientBalance | PaymentFailed
    | DeploymentFailed
)  # fmt: skip


@attrs.frozen
class ConfigError:
    key: str
    reason: str


@attrs.frozen
class LastAdmin:
    """Taking ``admin`` off the list would leave the backend with no admin (nobody else listed
    and no controller but itself): nobody could configure it, suspend a user or retry a
    refund again."""

    admin: Principal


@attrs.frozen
class UnknownRefund:
    refund_id: str


@attrs.frozen
class RefundInProgress:
    """Another message is paying this refund right now (it awaits its ledger transfer); the
    refund is paid once, by that message."""

    refund_id: str


@attrs.frozen
class ServiceHealth:
    """One canister's health as the backend measured it: ``report`` is its own ``health()``
    answer, or ``error`` says why it could not be had."""

    service: str
    canister_id: Principal | None
    healthy: bool
    report: Any = None
    error: str | None = None


@attrs.frozen(kw_only=True)
class BackendCounters:
    deployments: int = 0
    failed_deployments: int = 0
    payments: int = 0
    fees_collected: int = 0
    refunds: int = 0
    refunded: int = 0
    failed_refunds: int = 0
    access_denied: int = 0

    def plus(
        self,
        *,
        deployments: int = 0,
        failed_deployments: int = 0,
        payments: int = 0,
        fees_collected: int = 0,
        refunds: int = 0,
        refunded: int = 0,
        failed_refunds: int = 0,
        access_denied: int = 0,
    ) -> BackendCounters:
        """These counters with the given amounts added, in one new record."""
        return BackendCounters(
            deployments=self.deployments + deployments,
            failed_deployments=self.failed_deployments + failed_deployments,
            payments=self.payments + payments,
            fees_collected=self.fees_collected + fees_collected,
            refunds=self.refunds + refunds,
            refunded=self.refunded + refunded,
            failed_refunds=self.failed_refunds + failed_refunds,
            access_denied=self.access_denied + access_denied,
        )


@attrs.frozen(kw_only=True)
class SystemStatus:
    maintenance_mode: bool
    factories: tuple[ServiceHealth, ...]
    storages: tuple[ServiceHealth, ...]
    counters: BackendCounters
    outbox_size: int
    pending_refunds: int
    unconfirmed_deployments: int
    users: int
    undelivered: int = 0
    """Storage records the storage refused as invalid (``admin_list_undelivered``)."""


@attrs.frozen
class PendingRefund:
    """A refund the backend still owes: waiting for approval or after a failed attempt."""

    refund_id: str
    payment_id: str
    user: Principal
    amount: int
    token: Principal
    service: str
    reason: str
    attempts: int
    last_error: str | None
    created_at: int
    failed_audit_id: int | None = None
    """The ``DeploymentFailed`` entry this refund answers (its audit entries refer to it)."""
    request_at: int | None = None
    """The ``created_at_time`` of the refund's ledger request once one was sent. Every attempt
    sends the same request, so the ledger's deduplication answers ``Duplicate`` if an earlier
    attempt paid it (its caller saw a reject, or trapped after the transfer)."""

    def attempt_failed(self, reason: str) -> PendingRefund:
        """This refund after one more failed attempt."""
        return PendingRefund(
            self.refund_id, self.payment_id, self.user, self.amount, self.token, self.service,
            self.reason, self.attempts + 1, reason, self.created_at, self.failed_audit_id,
            self.request_at,
        )  # fmt: skip

    def requested_at(self, at: int) -> PendingRefund:
        """This refund with its ledger request created at ``at``."""
        return PendingRefund(
            self.refund_id, self.payment_id, self.user, self.amount, self.token, self.service,
            self.reason, self.attempts, self.last_error, self.created_at, self.failed_audit_id,
            at,
        )  # fmt: skip


@attrs.frozen
class Charge:
    """One paid attempt as the flow carries it from step to step: its payment, who pays, how
    much in which token, the ``DeploymentInitiated`` entry id (``None`` while that entry waits
    in the outbox) and, once charged, the ledger block (``None`` for a zero fee)."""

    payment_id: str
    user: Principal
    service: str
    amount: int
    token: Principal
    initiated: int | None
    block: int | None = None
    owner: Principal | None = None
    """Who the contract is for, when a launchpad deploys for its creator (``None``: the
    payer)."""
    ticket: str | None = None
    """The factory ticket, when a launchpad names its request (``None``: the payment id)."""

    def charged(self, block: int | None) -> Charge:
        """This charge, taken at ``block``."""
        return Charge(
            self.payment_id, self.user, self.service, self.amount, self.token, self.initiated,
            block, self.owner, self.ticket,
        )  # fmt: skip

    @property
    def contract_owner(self) -> Principal:
        return self.user if self.owner is None else self.owner

    @property
    def factory_ticket(self) -> str:
        return self.payment_id if self.ticket is None else self.ticket


@attrs.frozen
class Unconfirmed:
    """A paid deployment whose outcome the backend has not recorded yet. Kept from the moment
    the fee is taken (held by the deploying message until its hold lapses) to the moment the
    outcome is recorded, so that a message that traps on the way, or whose factory reply was
    lost and whose ticket could not be looked up, leaves it to the backend's timer: linked if
    the factory it was sent to (``None``: the service's factory now) registered the contract,
    refunded if not. ``payment``: the charge's ledger request while whether it took the fee is
    not known (the ledger rejected it and its log could not be read); the timer then reads the
    log, and refunds the fee if it was taken (nothing was deployed)."""

    charge: Charge
    since: int
    factory: Principal | None = None
    payment: TransferFromArgs | None = None


def fee_recipient_or(recipient: Account | None, backend: Principal) -> Account:
    """Where fees go: the configured account, or the backend's own default account."""
    return recipient if recipient is not None else Account(backend)
