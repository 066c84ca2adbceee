"""``Backend``: the payment gateway. It charges ICRC-2 fees, asks the factories to deploy, refunds
what failed, and writes the trail to AuditStorage and InvoiceStorage. It keeps no user↔contract
relationship: users ask the factories.
"""

from __future__ import annotations

from typing import Any

from icto.backend.config import check_config_value, with_config_value
from icto.backend.payments import PaidDeployments
from icto.backend.state import Undelivered
from icto.backend.types import (
    AUDIT_STORAGE,
    DAO_FACTORY,
    DISTRIBUTION_FACTORY,
    INVOICE_STORAGE,
    LAUNCHPAD_FACTORY,
    MULTISIG_FACTORY,
    SERVICES,
    TOKEN_FACTORY,
    BackendCounters,
    ConfigError,
    DeployError,
    DeploymentResult,
    LastAdmin,
    PendingRefund,
    RefundInProgress,
    RefundOutcome,
    ServiceHealth,
    ServiceSetup,
    SetupArgs,
    SystemStatus,
    UnknownRefund,
    UserProfile,
    UserStatus,
    fee_recipient_or,
)
from icto.collections.records import evolve
from icto.dao.config import DAOConfig
from icto.distribution.config import DistributionConfig
from icto.ic.account import Account
from icto.ic.canister import query, update
from icto.ic.errors import CallRejected, ErrorCode, Reject
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.ic.router import MANAGEMENT_ID
from icto.launchpad.config import LaunchpadConfig
from icto.ledger.client import ledger_problem
from icto.multisig.config import MultisigConfig
from icto.storage.types import MAX_TEXT, AuditAction
from icto.token.config import TokenConfig
from icto.validation import NotIdentified, foreign_text, require_identified

ID_PREFIX_BYTES = 6
"""Random bytes in a payment id's installation part (12 hex digits)."""


class Backend(PaidDeployments):
    """The ICTO backend canister (spec: services §1-3)."""

    # -- deployments (any authenticated user; a fee is charged) --------------------------------
    # A launchpad sale deploying its pipeline names the ``owner`` (its creator) and a ``request``
    # name: the backend asks the Launchpad Factory that the caller is one of its sales, charges
    # nothing, and the same request again returns the same contract.

    @update
    def deploy_token(
        self, config: TokenConfig, owner: Principal | None = None, request: str | None = None
    ) -> Ok[DeploymentResult] | Err[DeployError]:
        """Deploy an ICRC-1/2 token for the caller through the paid flow."""
        return self._deploy(TOKEN_FACTORY, config, owner, request)

    @update
    def deploy_multisig(
        self, config: MultisigConfig, owner: Principal | None = None, request: str | None = None
    ) -> Ok[DeploymentResult] | Err[DeployError]:
        """Deploy a multisig wallet for the caller (who must be one of its Owners)."""
        return self._deploy(MULTISIG_FACTORY, config, owner, request)

    @update
    def deploy_distribution(
        self, config: DistributionConfig, owner: Principal | None = None, request: str | None = None
    ) -> Ok[DeploymentResult] | Err[DeployError]:
        """Deploy a vesting, airdrop or lock distribution owned by the caller."""
        return self._deploy(DISTRIBUTION_FACTORY, config, owner, request)

    @update
    def deploy_dao(
        self, config: DAOConfig, owner: Principal | None = None, request: str | None = None
    ) -> Ok[DeploymentResult] | Err[DeployError]:
        """Deploy a DAO governed by ``config.token``; the caller is recorded as its creator."""
        return self._deploy(DAO_FACTORY, config, owner, request)

    @update
    def deploy_launchpad(
        self, config: LaunchpadConfig
    ) -> Ok[DeploymentResult] | Err[DeployError]:
        """Deploy a token sale; the caller is its creator."""
        return self._deploy(LAUNCHPAD_FACTORY, config)

    @query
    def get_fee_recipient(self) -> Account:
        """Where the platform's fees go (a launchpad sends its platform fee here)."""
        return fee_recipient_or(self.state.config.fee_recipient, self.id)

    # -- configuration (admins) -----------------------------------------------------------------

    @update
    def admin_set_config(self, key: str, value: Any) -> Ok[None] | Err[ConfigError]:
        """Set one configuration key; a value of the wrong type or out of range changes nothing.
        A new ``payment.token`` must answer as an ICRC-2 ledger (asked before it is set). A
        value equal to the current one changes nothing and writes no audit entry."""
        self._require_admin("change the configuration")
        problem = check_config_value(key, value)
        if problem is None and self.state.config.value(key) == value:
            return Ok(None)
        if problem is None and key == "payment.token":
            problem = ledger_problem(self, value, "the payment ledger")
            self._require_admin("change the configuration")  # still, after the await
        if problem is not None:
            return Err(ConfigError(str(key), problem))
        before = self.state.config.value(key)
        if before == value:  # set meanwhile, by a message run while the ledger was asked
            return Ok(None)
        config = with_config_value(self.state.config, key, value)
        self.state = evolve(self.state, config=config)
        self._arm_maintenance()
        self._audit(
            AuditAction.CONFIG_CHANGED, user=self.caller,
            details=(("key", key), ("from", repr(before)[:200]), ("to", repr(value)[:200])),
        )  # fmt: skip
        return Ok(None)

    @query
    def get_config(self) -> tuple[tuple[str, Any], ...]:
        return self.state.config.items()

    @query
    def get_service_fee(self, service: str) -> int:
        if service not in SERVICES:
            raise Reject(f"unknown service {service!r}; services are {', '.join(SERVICES)}")
        return self.state.config.fee(service)

    # -- admins ---------------------------------------------------------------------------------

    @update
    def add_admin(self, admin: Principal) -> Ok[None] | Err[NotIdentified]:
        """Make ``admin`` an admin; the anonymous principal and the management canister cannot
        be one."""
        self._require_admin("add an admin")
        refused = require_identified(admin, "admin")
        if refused is not None:
            return refused
        if admin in self.state.admins:
            return Ok(None)
        self.state = evolve(self.state, admins=self.state.admins | {admin})
        self._audit(AuditAction.ADMIN_ACTION, user=self.caller,
                    details=(("action", "add_admin"), ("admin", str(admin))))  # fmt: skip
        return Ok(None)

    @update
    def remove_admin(self, admin: Principal) -> Ok[None] | Err[LastAdmin]:
        """Take ``admin`` off the admin list (a controller stays an admin); refused if nobody
        would be left to administer the backend (``LastAdmin``). Removing somebody who is not
        on it changes nothing and writes no audit entry."""
        self._require_admin("remove an admin")
        admins = self.state.admins
        if admin not in admins:
            return Ok(None)
        left = admins - {admin}
        if not left and all(controller == self.id for controller in self.controllers):
            return Err(LastAdmin(admin))
        self.state = evolve(self.state, admins=left)
        self._audit(AuditAction.ADMIN_ACTION, user=self.caller,
                    details=(("action", "remove_admin"), ("admin", str(admin))))  # fmt: skip
        return Ok(None)

    @query
    def get_admins(self) -> tuple[Principal, ...]:
        return tuple(sorted(self.state.admins))

    @query
    def is_admin(self, principal: Principal) -> bool:
        return self._is_admin(principal)

    # -- microservices --------------------------------------------------------------------------

    @update
    def setup_microservices(
        self, args: SetupArgs
    ) -> Ok[tuple[ServiceSetup, ...]] | Err[ConfigError]:
        """Record where the storages and factories live and ask each to whitelist the backend
        (the backend must be their controller or admin). The report says, per service, whether
        the counterpart now confirms the whitelist."""
        self._require_admin("set up the microservices")
        problem = _setup_problem(args) or self._kinds_problem(args) or self._draw_id_prefix()
        problem = problem or self._repoint_problem(args)  # after the awaits: what holds now
        if problem is not None:
            return Err(problem)
        state = self.state
        before = (state.audit_storage, state.invoice_storage, dict(state.factories))
        self.state = evolve(
            state, audit_storage=args.audit_storage, invoice_storage=args.invoice_storage,
            factories=state.factories.update(dict(args.factories)),
        )  # fmt: skip
        for storage in (args.audit_storage, args.invoice_storage):
            self._ask(storage, "add_to_whitelist", self.id)
        for _, factory in args.factories:
            self._ask(factory, "add_backend", self.id)
        after = (args.audit_storage, args.invoice_storage, dict(self.state.factories))
        self._audit(
            AuditAction.ADMIN_ACTION, user=self.caller,
            details=(("action", "setup_microservices"), *_setup_changes(before, after)),
        )  # fmt: skip
        return Ok(self._setup_report())

    def _kinds_problem(self, args: SetupArgs) -> ConfigError | None:
        """A counterpart that answers ``health()`` as another kind of service (the storages
        swapped, a multisig factory named as the token factory) is refused before anything is
        recorded; one that does not answer is set up, and the report says so."""
        for service, canister in _setup_services(args):
            try:
                report = self.query_call(canister, "health")
            except CallRejected as rejected:
                if rejected.error_code != ErrorCode.CANISTER_METHOD_NOT_FOUND:
                    continue
                report = None
            problem = _kind_problem(service, canister, report)
            if problem is not None:
                return ConfigError(service, problem)
        return None

    def _repoint_problem(self, args: SetupArgs) -> ConfigError | None:
        """Refuse to move a storage elsewhere while the backend keeps records that refer to the
        one in use: the entry ids and payment and refund records of a refund owed, a deployment
        unconfirmed, a payment or refund a message is settling, or the trail a deployment is
        writing (it awaits a call, carrying its entry id and payment record) would reach a
        storage that does not hold them (refused and set aside, or a ``ref_id`` naming an
        unrelated entry), and the outbox would deliver what it holds for one storage to the
        other. The admin settles them first (``admin_retry_refund``, ``flush_outbox``, or
        waits); nothing is recorded meanwhile."""
        state, now = self.state, self.time
        for storage, current, wanted in (
            (AUDIT_STORAGE, state.audit_storage, args.audit_storage),
            (INVOICE_STORAGE, state.invoice_storage, args.invoice_storage),
        ):
            if current is None or current == wanted:
                continue
            open_records = [
                f"{len(state.pending_refunds)} refunds owed" if state.pending_refunds else "",
                f"{len(state.unconfirmed)} unconfirmed deployments" if state.unconfirmed else "",
                f"{len(self._queue(storage))} records waiting in the outbox"
                if len(self._queue(storage)) else "",
                "payments or refunds being settled"
                if any(state.holds(key, now) for key in state.in_flight) else "",
                "messages awaiting calls (deployments writing their trail)"
                if self.awaiting_calls() else "",
            ]  # fmt: skip
            found = [what for what in open_records if what]
            if found:
                return ConfigError(
                    storage, f"cannot move from {current} while records refer to it: "
                    + ", ".join(found) + "; settle them first",
                )  # fmt: skip
        return None

    def _draw_id_prefix(self) -> ConfigError | None:
        """Draw this installation's id prefix from ``raw_rand`` once (kept across upgrades; a
        reinstall draws a new one)."""
        if self.state.id_prefix is not None:
            return None
        try:
            randomness: bytes = self.call(MANAGEMENT_ID, "raw_rand")
        except CallRejected as rejected:
            return ConfigError("setup", f"raw_rand did not answer: {self._reason(rejected)}")
        self.state = evolve(self.state, id_prefix=randomness[:ID_PREFIX_BYTES].hex())
        return None

    def _ask(self, canister: Principal, method: str, *args: Any) -> str | None:
        """Call and report a reject as text instead of raising it."""
        try:
            self.call(canister, method, *args)
        except CallRejected as rejected:
            return self._reason(rejected)
        return None

    @update
    def get_microservice_setup_status(self) -> tuple[ServiceSetup, ...]:
        """Admin: per service, whether its id is set and whether it confirms the whitelist (each
        counterpart is asked)."""
        self._require_admin("read the setup status")
        return self._setup_report()

    def _setup_report(self) -> tuple[ServiceSetup, ...]:
        state = self.state
        wanted = [
            (AUDIT_STORAGE, state.audit_storage, "is_whitelisted"),
            (INVOICE_STORAGE, state.invoice_storage, "is_whitelisted"),
            *((service, state.factories.get(service), "is_backend") for service in SERVICES),
        ]
        report = []
        for service, canister, method in wanted:
            if canister is None:
                report.append(ServiceSetup(service, None, None, "not set"))
                continue
            try:
                problem = _kind_problem(service, canister, self.query_call(canister, "health"))
                confirmed = bool(self.query_call(canister, method, self.id))
            except CallRejected as rejected:
                report.append(ServiceSetup(service, canister, None, self._reason(rejected)))
                continue
            report.append(ServiceSetup(service, canister, confirmed and problem is None, problem))
        return tuple(report)

    # -- users ----------------------------------------------------------------------------------

    @query
    def get_my_profile(self) -> UserProfile | None:
        return self.state.profiles.get(self.caller)

    @query
    def admin_get_profile(self, user: Principal) -> UserProfile | None:
        self._require_admin("read profiles")
        return self.state.profiles.get(user)

    @update
    def admin_set_user_status(
        self, user: Principal, status: UserStatus
    ) -> Ok[None] | Err[NotIdentified]:
        """Suspend, ban or reactivate a user; suspended and banned users cannot deploy. The
        anonymous principal and the management canister are nobody's profile (and cannot
        deploy anyway)."""
        self._require_admin("change a user's status")
        refused = require_identified(user, "user")
        if refused is not None:
            return refused
        self._store_profile(self._profile(user).with_status(UserStatus(status)))
        self._audit(AuditAction.ADMIN_ACTION, user=user,
                    details=(("action", "set_user_status"), ("status", str(status)),
                             ("by", str(self.caller))))  # fmt: skip
        return Ok(None)

    # -- refunds --------------------------------------------------------------------------------

    @query
    def admin_list_pending_refunds(self) -> tuple[PendingRefund, ...]:
        """Refunds still owed: awaiting approval (auto-refund off) or after a failed attempt."""
        self._require_admin("list pending refunds")
        return tuple(sorted(self.state.pending_refunds.values(), key=lambda r: r.refund_id))

    @update
    def admin_retry_refund(
        self, refund_id: str
    ) -> Ok[RefundOutcome] | Err[UnknownRefund | RefundInProgress]:
        """Pay a refund still owed (approve it, or retry a failed attempt). While another
        message is paying it, the answer is ``RefundInProgress`` and nothing is sent."""
        self._require_admin("retry a refund")
        if refund_id not in self.state.pending_refunds:
            return Err(UnknownRefund(refund_id))
        if self.state.holds(refund_id, self.time):
            return Err(RefundInProgress(refund_id))
        return Ok(self._pay_refund(refund_id))

    # -- monitoring -----------------------------------------------------------------------------

    @query
    def get_outbox_size(self) -> int:
        return self.state.outbox_size()

    @query
    def admin_list_undelivered(self) -> tuple[Undelivered, ...]:
        """Admin: storage records the storage refused as invalid, oldest first, each with the
        storage's answer. They left the outbox so that they block nothing."""
        self._require_admin("list undelivered records")
        return tuple(self.state.undelivered)

    @update
    def flush_outbox(self) -> int:
        """Admin: deliver what the outbox holds now; return how many records remain."""
        self._require_admin("flush the outbox")
        self._flush_outbox(force=True)
        self._settle_unconfirmed()
        return self.state.outbox_size()

    @update
    def get_factory_health(self) -> tuple[ServiceHealth, ...]:
        """Admin: each configured factory's own ``health()``; a factory that does not answer is
        reported, not fatal."""
        self._require_admin("read factory health")
        return self._factories_health()

    def _factories_health(self) -> tuple[ServiceHealth, ...]:
        factories = self.state.factories
        return tuple(self._health(name, factories[name]) for name in SERVICES if name in factories)

    @update
    def get_system_status(self) -> SystemStatus:
        self._require_admin("read the system status")
        state = self.state
        storages = tuple(
            self._health(name, self._storage_id(name)) for name in (AUDIT_STORAGE, INVOICE_STORAGE)
        )
        factories = self._factories_health()
        return SystemStatus(
            maintenance_mode=state.config.maintenance_mode, factories=factories,
            storages=storages, counters=self.state.counters,
            outbox_size=self.state.outbox_size(), pending_refunds=len(state.pending_refunds),
            unconfirmed_deployments=len(state.unconfirmed), users=len(state.profiles),
            undelivered=len(state.undelivered),
        )  # fmt: skip

    def _health(self, service: str, canister: Principal | None) -> ServiceHealth:
        if canister is None:
            return ServiceHealth(service, None, False, error="not set up")
        try:
            report = self.query_call(canister, "health")
        except CallRejected as rejected:
            return ServiceHealth(service, canister, False, error=self._reason(rejected))
        problem = _kind_problem(service, canister, report)
        healthy = bool(getattr(report, "healthy", True)) and problem is None
        return ServiceHealth(service, canister, healthy, report, problem)

    @query
    def get_counters(self) -> BackendCounters:
        return self.state.counters


def _setup_services(args: SetupArgs) -> tuple[tuple[str, Principal], ...]:
    """Every service a ``SetupArgs`` names, with its canister."""
    return (
        (AUDIT_STORAGE, args.audit_storage), (INVOICE_STORAGE, args.invoice_storage),
        *args.factories,
    )  # fmt: skip


def _kind_problem(service: str, canister: Principal, report: object) -> str | None:
    """Why a ``health()`` answer shows ``canister`` is not the ``service`` (its ``kind`` is
    another's); ``None`` when it is."""
    expected = {AUDIT_STORAGE: "audit", INVOICE_STORAGE: "invoice"}.get(service)
    expected = expected or service.removesuffix("_factory")
    kind = getattr(report, "kind", None)
    if kind == expected:
        return None
    what = f"of kind {kind!r}" if isinstance(kind, str) else "no ICTO service"
    return foreign_text(f"{canister} is {what}, not the {service}", MAX_TEXT)


def _setup_changes(
    before: tuple[Principal | None, Principal | None, dict[str, Principal]],
    after: tuple[Principal | None, Principal | None, dict[str, Principal]],
) -> tuple[tuple[str, str], ...]:
    """The audit details of a setup: each service whose canister changed, ``old -> new``, the
    storages first, then the factories in service order."""
    olds = {AUDIT_STORAGE: before[0], INVOICE_STORAGE: before[1], **before[2]}
    news = {AUDIT_STORAGE: after[0], INVOICE_STORAGE: after[1]}
    news.update((service, after[2][service]) for service in SERVICES if service in after[2])
    return tuple(
        (service, f"{olds.get(service)} -> {canister}")
        for service, canister in news.items() if olds.get(service) != canister
    )  # fmt: skip


def _setup_problem(args: object) -> ConfigError | None:
    if not isinstance(args, SetupArgs):
        return ConfigError("setup", f"expects SetupArgs, got {type(args).__name__}")
    for name, _ in args.factories:
        if name not in SERVICES:
            return ConfigError(name, f"unknown service; services are {', '.join(SERVICES)}")
    named: dict[Principal, str] = {}
    for name, canister in _setup_services(args):
        if not isinstance(canister, Principal) or not canister.is_canister:
            return ConfigError(name, f"expects a canister id, got {canister!r}")
        if named.setdefault(canister, name) != name:
            return ConfigError(name, f"{canister} is already named as the {named[canister]}")
    return None

