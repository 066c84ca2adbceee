"""The paid deployment flow, shared by every ``deploy_*`` endpoint, and the refunds it owes.

The guarantee: for every fee charged there is exactly one of a deployed, indexed contract, a
completed refund, or a refund the backend still owes (listed by ``admin_list_pending_refunds``,
retried by ``admin_retry_refund``). Nothing is charged when the caller, the service, the config
or the approval is refused. A factory reply that is lost (a reject or a trap after the factory
committed) is settled with the deployment's ticket, never guessed; a charge the ledger rejected
is settled by its identical request and the ledger's log, never taken for failed while it may
have run. From the charge to its outcome, a deployment is recorded in flight, so a trap of the
deploying message leaves it to the timer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

import attrs

from icto.backend.base import BackendBase, record_id
from icto.backend.types import (
    DAO_FACTORY,
    DAY_NS,
    DISTRIBUTION_FACTORY,
    LAUNCHPAD_FACTORY,
    MULTISIG_FACTORY,
    TOKEN_FACTORY,
    AllowanceTooLow,
    Charge,
    DeployError,
    DeploymentFailed,
    DeploymentResult,
    InsufficientBalance,
    MaintenanceMode,
    PaymentFailed,
    PendingRefund,
    RateLimited,
    RefundOutcome,
    ServiceDisabled,
    ServiceUnavailable,
    Unauthorized,
    Unconfirmed,
    UserStatus,
    UserSuspended,
    fee_recipient_or,
)
from icto.collections.maps import without
from icto.dao.config import validate_dao_config
from icto.distribution.config import validate_distribution_config
from icto.factory.types import FactoryCapacity, InvalidConfig
from icto.ic.account import Account
from icto.ic.errors import CallRejected
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.launchpad.config import validate_launchpad_config
from icto.ledger.client import LedgerFailure, logged_outcome, settle, settle_or_find
from icto.ledger.types import AllowanceArgs, TransferArgs, TransferFromArgs
from icto.multisig.config import validate_multisig_config
from icto.storage.types import (
    MAX_TEXT,
    AuditAction,
    Completed,
    Failed,
    PaymentDraft,
    RefundAttemptFailed,
    RefundCompleted,
    RefundDraft,
    RefundWaiting,
    Severity,
)
from icto.token.config import validate_token_config
from icto.validation import foreign_text, identified_problem, text_problem

Validator = Callable[[object, Principal], tuple[str, ...]]

VALIDATORS: Final[dict[str, Validator]] = {
    TOKEN_FACTORY: validate_token_config,
    MULTISIG_FACTORY: validate_multisig_config,
    DISTRIBUTION_FACTORY: validate_distribution_config,
    DAO_FACTORY: validate_dao_config,
    LAUNCHPAD_FACTORY: validate_launchpad_config,
}
"""Each service's one config check, the same function its factory applies."""

LOOKUP_TRIES: Final = 3
"""How often the backend asks a factory about a ticket before leaving it to the timer."""
PAYMENT_UNCONFIRMED: Final = "PaymentUnconfirmed"
"""The custom audit action of a charge whose outcome the ledger left unknown."""


def refund_memo(payment_id: str) -> bytes:
    """The memo of a refund's ledger transfer: it names the payment it gives back."""
    return b"refund:" + payment_id.encode()


def _refund_request(owed: PendingRefund) -> TransferArgs:
    """The one ledger request that pays ``owed`` (sent again, it is deduplicated)."""
    return TransferArgs(
        to=Account(owed.user), amount=owed.amount, memo=refund_memo(owed.payment_id),
        created_at_time=owed.request_at,
    )  # fmt: skip


def describe(error: object) -> str:
    """A readable reason from another canister's ``Err`` record (or text), safe to store: cut
    to the storages' limit and with forbidden characters escaped."""
    if isinstance(error, str):
        return foreign_text(error, MAX_TEXT)
    fields = attrs.asdict(cast(Any, error), recurse=False) if attrs.has(type(error)) else {}
    inner = ", ".join(f"{name}={value!r}" for name, value in fields.items())
    return foreign_text(f"{type(error).__name__}({inner})", MAX_TEXT)


class PaidDeployments(BackendBase):
    """Steps 1-10 of the paid flow (spec: services §2)."""

    # -- admission: everything checked before any money moves -----------------------------------

    def _admission(
        self, user: Principal, service: str, config: object, owner: Principal | None = None
    ) -> DeployError | None:
        """Why this attempt is refused before payment (``None``: it may go on). Changes nothing
        but the outbox, which it tries to deliver when it is full. ``owner`` is set for a
        launchpad's fee-exempt deployment: no rate limit, and the config is checked for the
        owner."""
        standing = self._standing(user, service, owner)
        if standing is not None:
            return standing
        state = self.state
        missing = [name for name, where in (
            (service, state.factories.get(service)), ("audit_storage", state.audit_storage),
            ("invoice_storage", state.invoice_storage), ("id prefix", state.id_prefix),
        ) if where is None]  # fmt: skip
        if missing:
            return ServiceUnavailable(f"not set up: {', '.join(missing)}")
        if self._outbox_full():
            self._flush_outbox(force=True)
            if self._outbox_full():
                return ServiceUnavailable("the storage outbox is full; retry once it drains")
        reasons = VALIDATORS[service](config, user if owner is None else owner)
        if reasons:
            return InvalidConfig(tuple(reasons))
        return None

    def _standing(
        self, user: Principal, service: str, owner: Principal | None, *, attempted: bool = False
    ) -> DeployError | None:
        """The caller's and the service's standing now: identified, active, under the daily
        limit (unless this attempt is already counted: ``attempted``), the service enabled and
        out of maintenance. Checked on admission, again after the awaits before the attempt is
        recorded, and once more right before the fee is taken, so a message run meanwhile (an
        admin's change, the same user's other deployments) is seen before anything is
        charged."""
        settings = self.state.config
        if user.is_anonymous:
            return Unauthorized("anonymous callers cannot deploy")
        profile = self.state.profiles.get(user)
        if profile is not None and profile.status != UserStatus.ACTIVE:
            return UserSuspended(profile.status)
        limit = settings.max_deployments_per_day
        recent = () if profile is None else profile.recent_since(self.time - DAY_NS)
        if owner is None and not attempted and len(recent) >= limit:
            return RateLimited(limit, recent[-limit] + DAY_NS)
        if not settings.enabled[service]:
            return ServiceDisabled(service)
        if settings.maintenance_mode:
            return MaintenanceMode()
        return None

    def _exemption_problem(
        self, user: Principal, owner: Principal | None, request: str | None
    ) -> DeployError | None:
        """A deployment that names an owner or a request is a launchpad's pipeline: the caller
        must be a contract of the Launchpad Factory (asked), which pays nothing."""
        if owner is None or request is None:
            return Unauthorized("a fee-exempt deployment names both its owner and its request")
        problem = identified_problem(owner, "owner") or text_problem("request", request, 1, 64)
        if problem is not None:
            return Unauthorized(problem)
        factory = self.state.factories.get(LAUNCHPAD_FACTORY)
        if factory is None:
            return ServiceUnavailable("no launchpad factory is set up")
        try:
            known: bool = self.query_call(factory, "is_contract", user)
        except CallRejected as rejected:
            reason = self._reason(rejected)
            return ServiceUnavailable(f"the launchpad factory did not answer: {reason}")
        if known is not True:
            return Unauthorized("only a launchpad sale may deploy for another owner")
        return None

    def _check_capacity(self, service: str) -> DeployError | None:
        """The factory must take this backend's deployments, be deploying (not paused) and be
        able to pay for one more contract before anybody is charged."""
        factory = self.state.factories[service]
        try:
            capacity: FactoryCapacity = self.query_call(factory, "capacity")
        except CallRejected as rejected:
            return ServiceUnavailable(f"the {service} did not answer: {self._reason(rejected)}")
        if not capacity.whitelisted:
            return ServiceUnavailable(
                f"the {service} does not whitelist this backend; an admin must set it up again "
                f"(setup_microservices)"
            )
        if capacity.paused:
            return ServiceUnavailable(f"the {service} is paused; an admin must resume it")
        if capacity.deployments_left < 1:
            return ServiceUnavailable(
                f"the {service} has too few cycles for another contract; an operator must top "
                f"it up"
            )
        return None

    def _check_funds(self, user: Principal, token: Principal, fee: int) -> DeployError | None:
        """Step 4: the approval must cover fee + ledger fee, and so must the balance."""
        payer = Account(user)
        try:
            ledger_fee: int = self.call(token, "icrc1_fee")
            allowance = self.call(
                token, "icrc2_allowance", AllowanceArgs(payer, Account(self.id))
            ).allowance
            if allowance < fee + ledger_fee:
                return AllowanceTooLow(fee + ledger_fee, allowance)
            balance: int = self.call(token, "icrc1_balance_of", payer)
        except CallRejected as rejected:
            reason = self._reason(rejected)
            return ServiceUnavailable(f"the payment ledger did not answer: {reason}")
        if balance < fee + ledger_fee:
            return InsufficientBalance(fee + ledger_fee, balance)
        return None

    # -- the flow -------------------------------------------------------------------------------

    def _deploy(
        self, service: str, config: object, owner: Principal | None = None,
        request: str | None = None,
    ) -> Ok[DeploymentResult] | Err[DeployError]:
        """The paid flow for one ``deploy_*`` call of the caller's. A launchpad sale deploying
        its pipeline names the ``owner`` (its creator) and its ``request`` (the same request
        again returns the same contract): it is charged nothing, and a zero payment records the
        deployment under the sale."""
        user = self.caller
        if owner == user and request is None:
            owner = None  # naming oneself as the owner is what every deployment does
        exempt = owner is not None or request is not None
        refusal = self._exemption_problem(user, owner, request) if exempt else None
        refusal = (
            refusal or self._admission(user, service, config, owner)
            or self._check_capacity(service)
        )  # fmt: skip
        if refusal is not None:
            return Err(refusal)
        self._flush_outbox(force=True)
        settings = self.state.config
        fee = 0 if exempt else settings.fee(service)
        token = settings.payment_token
        if fee > 0:
            refusal = self._check_funds(user, token, fee)
            if refusal is not None:
                return Err(refusal)
        refusal = self._standing(user, service, owner)
        if refusal is not None:
            return Err(refusal)
        ticket = f"{user}/{request}" if exempt else None
        charge = self._open_payment(user, service, fee, token, owner, ticket)
        paid = self._charge(charge)
        if isinstance(paid, PaymentFailed):
            return Err(paid)
        return self._dispatch(paid, config)

    def _open_payment(
        self,
        user: Principal,
        service: str,
        fee: int,
        token: Principal,
        owner: Principal | None = None,
        ticket: str | None = None,
    ) -> Charge:
        """Step 5: a payment id, the attempt counted (one new state), the trail opened."""
        state = self.state
        payment_id = record_id("pay", state)
        now = self.time
        profile = self._profile(user).attempted(
            now, now - DAY_NS, state.config.max_deployments_per_day
        )
        self.state = state.changed(
            profiles=state.profiles.set(user, profile), next_id=state.next_id + 1
        )
        initiated = self._audit(
            AuditAction.DEPLOYMENT_INITIATED, user=user, service=service, payment_id=payment_id,
            details=(("fee", str(fee)), ("token", str(token))),
        )  # fmt: skip
        self._invoice(
            "create_payment",
            PaymentDraft(
                id=payment_id, user=user, service=service, amount=fee, token=token,
                audit_id=initiated,
            ),
        )  # fmt: skip
        return Charge(payment_id, user, service, fee, token, initiated, None, owner, ticket)

    def _charge(self, charge: Charge) -> Charge | PaymentFailed:
        """Steps 6-7: take the fee with ``icrc2_transfer_from``; the charge with its block, or
        why it failed. A reject does not prove that nothing was taken (a platform ``Token``
        commits the transfer, then awaits its factory), so the request is deduplicated (memo:
        the payment id; ``created_at_time``) and settled: sent again, then looked up in the
        ledger's log. The payment fails only when the ledger refused it or its log shows it
        never ran; one still in doubt is left to the timer (``_charge_in_doubt``)."""
        block: int | None = None
        found: str | None = None
        standing = self._standing(charge.user, charge.service, charge.owner, attempted=True)
        if standing is not None:  # it changed while the trail was written
            return self._payment_failed(charge, describe(standing))
        if charge.amount > 0:
            recipient = fee_recipient_or(self.state.config.fee_recipient, self.id)
            args = TransferFromArgs(
                from_=Account(charge.user), to=recipient, amount=charge.amount,
                memo=charge.payment_id.encode(), created_at_time=self.time,
            )  # fmt: skip
            sent = settle(self, charge.token, "icrc2_transfer_from", args)
            if isinstance(sent, LedgerFailure) and sent.in_doubt:
                logged = logged_outcome(self, charge.token, args, args.from_, recipient)
                if isinstance(logged, LedgerFailure) and logged.in_doubt:
                    return self._charge_in_doubt(charge, args, f"{sent.reason}; {logged.reason}")
                found = "in the ledger's log, after the ledger rejected the request"
                sent = logged if isinstance(logged, int) else LedgerFailure(
                    f"{sent.reason}; {logged.reason}"
                )  # fmt: skip
            if isinstance(sent, LedgerFailure):
                return self._payment_failed(charge, foreign_text(sent.reason, MAX_TEXT))
            block = sent
        charged = charge.charged(block)
        user, state, now = charge.user, self.state, self.time
        in_flight = Unconfirmed(charged, now, state.factories[charge.service])
        # One new state: the fee in the profile and the counters, and the deployment in flight,
        # held by this message, with the timer armed. It is committed at the next call, so from
        # then on a trap of this message leaves the deployment to the timer (once the hold
        # lapses), never forgotten.
        self.state = state.changed(
            profiles=state.profiles.set(user, self._profile(user).plus(paid=charge.amount)),
            counters=state.counters.plus(payments=1, fees_collected=charge.amount),
            unconfirmed=state.unconfirmed.set(charge.payment_id, in_flight),
            in_flight=state.in_flight.set(charge.payment_id, now),
            maintenance_timer=self._maintenance_timer(),
        )  # fmt: skip
        self._payment_processed(charged, found)
        return charged

    def _payment_processed(self, charge: Charge, found: str | None = None) -> None:
        """The trail of a fee taken: ``PaymentProcessed`` and the payment ``Completed`` with its
        block; ``found`` says where the block was found when the ledger did not answer with it."""
        details: tuple[tuple[str, str], ...] = (
            ("amount", str(charge.amount)), ("block", str(charge.block)),
        )  # fmt: skip
        if found is not None:
            details = (*details, ("found", found))
        audit_id = self._audit(
            AuditAction.PAYMENT_PROCESSED, user=charge.user, service=charge.service,
            payment_id=charge.payment_id, ref_id=charge.initiated, details=details,
        )  # fmt: skip
        self._invoice("set_payment_status", charge.payment_id, Completed(charge.block), audit_id)

    def _payment_failed(self, charge: Charge, reason: str) -> PaymentFailed:
        """The trail of a charge that took nothing (and, when the timer settles a charge that was
        in doubt, its record dropped first: whoever drops it records the outcome)."""
        if charge.payment_id in self.state.unconfirmed:
            self.state = self.state.changed(
                unconfirmed=self.state.unconfirmed.delete(charge.payment_id)
            )
        audit_id = self._audit(
            AuditAction.PAYMENT_FAILED, user=charge.user, service=charge.service,
            payment_id=charge.payment_id, ref_id=charge.initiated, details=(("reason", reason),),
        )  # fmt: skip
        self._invoice("set_payment_status", charge.payment_id, Failed(reason), audit_id)
        return PaymentFailed(reason, charge.payment_id)

    def _charge_in_doubt(
        self, charge: Charge, args: TransferFromArgs, reason: str
    ) -> PaymentFailed:
        """The ledger rejected the charge twice and its log could not be read: whether the fee
        was taken is unknown. Nothing is deployed; the charge is kept unconfirmed with its
        request, for the timer to read the log again (``_settle_unconfirmed``); the payment
        stays ``Pending``, and a ``PaymentUnconfirmed`` entry says why."""
        reason = foreign_text(reason, MAX_TEXT)
        pending = Unconfirmed(charge, self.time, None, args)
        self.state = self.state.changed(
            unconfirmed=self.state.unconfirmed.set(charge.payment_id, pending)
        )
        self._arm_maintenance()
        self._audit(
            AuditAction.CUSTOM, Severity.WARNING, custom=PAYMENT_UNCONFIRMED, user=charge.user,
            service=charge.service, payment_id=charge.payment_id, ref_id=charge.initiated,
            details=(("reason", reason),),
        )  # fmt: skip
        return PaymentFailed(reason, charge.payment_id, pending=True)

    def _dispatch(
        self, charge: Charge, config: object
    ) -> Ok[DeploymentResult] | Err[DeployError]:
        """Steps 8-10: ask the factory the deployment was recorded for; link the contract, or
        refund the fee. Whoever drops the deployment's in-flight record records its outcome:
        should another message settle it while this one waited past its hold's lapse (the
        timer, after ten minutes), this one records nothing and deploys nothing more."""
        payment_id = charge.payment_id
        pending = self.state.unconfirmed.get(payment_id)
        if pending is None:
            return Err(self._settled_meanwhile(charge))
        held = pending.since
        if not self.state.held_since(payment_id, held):  # it lapsed while the trail was written
            held = self._hold(payment_id)
        factory = pending.factory or self.state.factories[charge.service]
        try:
            result = self.call(
                factory, "create_contract", charge.contract_owner, config,
                ticket=charge.factory_ticket,
            )  # fmt: skip
        except CallRejected as rejected:
            reason = foreign_text(f"the factory did not answer: {rejected.message}", MAX_TEXT)
            return self._after_lost_reply(charge, reason, factory, held)
        if payment_id not in self.state.unconfirmed:
            return Err(self._settled_meanwhile(charge))
        if isinstance(result, Ok):
            return Ok(self._deployed(charge, result.value))
        return Err(self._failed(charge, describe(result.error)))

    def _after_lost_reply(
        self, charge: Charge, reason: str, factory: Principal, held: int
    ) -> Ok[DeploymentResult] | Err[DeployError]:
        """The factory's reply is lost: its ticket says whether a contract was registered (the
        factory asked is asked again, even if the service is pointed at another one since). If
        it cannot say, the deployment stays unconfirmed, released to the timer."""
        asked, found = self._look_up(charge, factory)
        if charge.payment_id not in self.state.unconfirmed:
            return Err(self._settled_meanwhile(charge))
        if asked and found is None:
            return Err(self._failed(charge, reason))
        if found is not None:
            return Ok(self._deployed(charge, found))
        self._release(charge.payment_id, held)
        self._arm_maintenance()
        return Err(DeploymentFailed(reason, charge.payment_id, None, pending=True))

    @staticmethod
    def _settled_meanwhile(charge: Charge) -> DeploymentFailed:
        """What a deploying message reports when another message settled its deployment while
        it waited past its hold's lapse (that one recorded the outcome)."""
        reason = (
            "this deployment waited past its hold and another message settled it; the "
            "payment's record says how"
        )
        return DeploymentFailed(reason, charge.payment_id, None, pending=True)

    def _look_up(self, charge: Charge, factory: Principal) -> tuple[bool, Principal | None]:
        """Whether ``factory`` answered about the charge's ticket, and the contract it names."""
        for _ in range(LOOKUP_TRIES):
            try:
                found: Principal | None = self.query_call(
                    factory, "get_deployment", charge.factory_ticket
                )
            except CallRejected:
                continue
            return True, found
        return False, None

    def _deployed(self, charge: Charge, contract: Principal) -> DeploymentResult:
        """Record a deployment that registered ``contract``: first, in one new state, its
        in-flight record and hold dropped (whoever drops them records the outcome) and the
        profile and counters; then the trail."""
        state, payment_id = self.state, charge.payment_id
        self.state = state.changed(
            profiles=state.profiles.set(
                charge.user, self._profile(charge.user).plus(deployments=1)
            ),
            counters=state.counters.plus(deployments=1),
            unconfirmed=without(state.unconfirmed, payment_id),
            in_flight=without(state.in_flight, payment_id),
        )  # fmt: skip
        audit_id = self._audit(
            AuditAction.DEPLOYMENT_SUCCEEDED, user=charge.user, service=charge.service,
            contract_id=contract, payment_id=payment_id, ref_id=charge.initiated,
        )  # fmt: skip
        self._invoice("link_contract", payment_id, contract, audit_id)
        return DeploymentResult(
            contract, charge.service, payment_id, charge.block, charge.amount
        )

    def _failed(self, charge: Charge, reason: str) -> DeploymentFailed:
        """Record a deployment that registered no contract (its in-flight record and hold dropped
        first, as ``_deployed`` does) and refund its fee."""
        state, payment_id = self.state, charge.payment_id
        self.state = state.changed(
            counters=state.counters.plus(failed_deployments=1),
            unconfirmed=without(state.unconfirmed, payment_id),
            in_flight=without(state.in_flight, payment_id),
        )
        failed = self._audit(
            AuditAction.DEPLOYMENT_FAILED, user=charge.user, service=charge.service,
            payment_id=payment_id, ref_id=charge.initiated, details=(("reason", reason),),
        )  # fmt: skip
        refund = self._open_refund(charge, reason, failed) if charge.amount > 0 else None
        return DeploymentFailed(reason, payment_id, refund)

    # -- unconfirmed deployments ----------------------------------------------------------------

    def _settle_unconfirmed(self) -> None:
        """Settle what the backend has not recorded the outcome of, oldest first (whatever the
        hash seed), each held while it is asked about; one a message still holds is left to it
        until the hold lapses (the message trapped, then). A deployment is linked if the factory
        it was sent to registered the contract and refunded if not; a charge in doubt fails if
        the ledger's log shows it never ran, and is refunded if it ran (nothing was deployed).
        One nobody could answer for stays, for the next run."""
        for payment_id in sorted(self.state.unconfirmed):
            pending = self.state.unconfirmed.get(payment_id)
            if pending is None or self.state.holds(payment_id, self.time):
                continue
            held = self._hold(payment_id)
            asked, outcome = self._ask_about(pending)
            mine = self.state.held_since(payment_id, held)
            self._release(payment_id, held)
            if not asked or not mine or payment_id not in self.state.unconfirmed:
                continue  # another message settled it, or took it over while this one waited
            charge = pending.charge
            if isinstance(outcome, Principal):
                self._deployed(charge, outcome)
            elif outcome is None:
                self._failed(charge, "the factory registered no contract for this payment")
            elif isinstance(outcome, int):
                self._charge_found(charge, outcome)
            else:
                self._payment_failed(charge, foreign_text(outcome.reason, MAX_TEXT))

    def _ask_about(
        self, pending: Unconfirmed
    ) -> tuple[bool, Principal | int | LedgerFailure | None]:
        """Whether the factory (for a deployment) or the ledger's log (for a charge in doubt)
        answered, and what: the contract registered (``None``: none), or the charge's block
        (a ``LedgerFailure``: it never ran)."""
        charge, payment = pending.charge, pending.payment
        if payment is None:
            return self._look_up(charge, pending.factory or self.state.factories[charge.service])
        logged = logged_outcome(self, charge.token, payment, payment.from_, payment.to)
        return not (isinstance(logged, LedgerFailure) and logged.in_doubt), logged

    def _charge_found(self, charge: Charge, block: int) -> None:
        """A charge left in doubt ran after all: recorded as taken (its record dropped first),
        then refunded, since nothing was deployed for it."""
        charged, state = charge.charged(block), self.state
        self.state = state.changed(
            profiles=state.profiles.set(
                charge.user, self._profile(charge.user).plus(paid=charge.amount)
            ),
            counters=state.counters.plus(payments=1, fees_collected=charge.amount),
            unconfirmed=without(state.unconfirmed, charge.payment_id),
        )  # fmt: skip
        self._payment_processed(charged, "in the ledger's log, by the backend's timer")
        self._failed(charged, "nothing was deployed: the charge was found taken only later")

    # -- refunds --------------------------------------------------------------------------------

    def _open_refund(self, charge: Charge, reason: str, failed: int | None) -> RefundOutcome:
        """Step 10: record the refund owed; pay it now unless auto-refund is off. ``failed`` is
        the id of the ``DeploymentFailed`` entry the refund answers."""
        state = self.state
        refund_id = record_id("ref", state)
        paid_now = self.state.config.auto_refund
        owed = PendingRefund(
            refund_id, charge.payment_id, charge.user, charge.amount, charge.token,
            charge.service, reason, 0, None, self.time, failed,
            self.time if paid_now else None,  # owed to the timer too, should this message end
        )  # fmt: skip
        self.state = state.changed(
            next_id=state.next_id + 1, pending_refunds=state.pending_refunds.set(refund_id, owed)
        )
        held = self._hold(refund_id)  # this message pays it
        self._invoice(
            "create_refund",
            RefundDraft(
                id=refund_id, payment_id=charge.payment_id, user=charge.user,
                amount=charge.amount, reason=reason, audit_id=failed,
            ),
        )  # fmt: skip
        taken = self._taken_over(refund_id, held, charge.amount, None)
        self._release(refund_id, held)
        if taken is not None:
            return taken
        if not paid_now:
            return RefundOutcome(refund_id, charge.amount, "AwaitingApproval")
        return self._pay_refund(refund_id)

    def _pay_refund(self, refund_id: str) -> RefundOutcome:
        """One attempt at paying a refund owed, from the backend's own account (the backend
        pays the ledger fee). A failed attempt stays owed and retryable. Every attempt sends the
        refund's one deduplicated request (``PendingRefund.request_at``), so an attempt whose
        transfer happened unseen (a reject after the ledger committed, or a trap here after
        it) is found, not paid again."""
        owed = self.state.pending_refunds[refund_id]
        if owed.request_at is None:
            owed = self._record_request(owed)
        held = self._hold(refund_id)
        if owed.attempts > 0:
            self._invoice("set_refund_status", refund_id, RefundWaiting())
        sent = settle_or_find(
            self, owed.token, "icrc1_transfer", _refund_request(owed), Account(owed.user),
            lambda: self._replanned(refund_id, owed), sends=1,
        )  # fmt: skip
        taken = self._taken_over(refund_id, held, owed.amount, sent)
        if taken is not None:
            return taken
        current = self.state.pending_refunds[refund_id]
        if not self.state.held_since(refund_id, held):
            held = self._hold(refund_id)  # it lapsed and nobody took it: this message records
            if current.attempts > owed.attempts:  # another attempt failed meanwhile: retry it
                self._invoice("set_refund_status", refund_id, RefundWaiting())
        # Held until the outcome is in the storages too: a retry meanwhile would write its own
        # status changes across these, and the storage would refuse them.
        if isinstance(sent, int):
            outcome = self._refunded(current, sent)
        else:
            outcome = self._refund_failed(current, foreign_text(sent.reason, MAX_TEXT))
        self._release(refund_id, held)
        self._arm_maintenance()  # released, a failed refund is the timer's to retry
        return outcome

    def _taken_over(
        self, refund_id: str, held: int, amount: int, sent: int | LedgerFailure | None
    ) -> RefundOutcome | None:
        """What this message reports if, while it waited past its hold's lapse, another message
        settled the refund or is settling it now (that one records the outcome: both send the
        same request, so the user is paid once); ``None`` if the refund is still this
        message's to record."""
        state = self.state
        if refund_id in state.pending_refunds and (
            state.held_since(refund_id, held) or not state.holds(refund_id, self.time)
        ):
            return None
        if refund_id not in state.pending_refunds:
            block = sent if isinstance(sent, int) else None
            return RefundOutcome(refund_id, amount, "Completed", block=block)
        reason = "another attempt is paying this refund now"
        return RefundOutcome(refund_id, amount, "Failed", reason=reason)

    def _replanned(self, refund_id: str, sent: PendingRefund) -> TransferArgs:
        """The request to send once the ledger's log shows ``sent``'s never ran: a new one
        created now; or, if another attempt replanned meanwhile (or settled the refund), that
        attempt's, so that two attempts never send two different requests."""
        current = self.state.pending_refunds.get(refund_id)
        if current is None or current.request_at != sent.request_at:
            return _refund_request(current or sent)
        return _refund_request(self._record_request(current))

    def _record_request(self, owed: PendingRefund) -> PendingRefund:
        """Give the refund a new ledger request created now (kept before it is sent)."""
        owed = owed.requested_at(self.time)
        self.state = self.state.changed(
            pending_refunds=self.state.pending_refunds.set(owed.refund_id, owed)
        )
        return owed

    def _refunded(self, owed: PendingRefund, block: int) -> RefundOutcome:
        self.state = self.state.changed(
            pending_refunds=self.state.pending_refunds.delete(owed.refund_id)
        )
        audit_id = self._audit(
            AuditAction.REFUND_ISSUED, user=owed.user, service=owed.service,
            payment_id=owed.payment_id, ref_id=owed.failed_audit_id,
            details=(("refund_id", owed.refund_id), ("amount", str(owed.amount)),
                     ("block", str(block))),
        )  # fmt: skip
        self._invoice("set_refund_status", owed.refund_id, RefundCompleted(block), audit_id)
        self._store_profile(
            self._profile(owed.user).plus(refunded=owed.amount),
            self.state.counters.plus(refunds=1, refunded=owed.amount),
        )
        return RefundOutcome(owed.refund_id, owed.amount, "Completed", block=block)

    def _refund_failed(self, owed: PendingRefund, reason: str) -> RefundOutcome:
        owed = owed.attempt_failed(reason)
        self.state = self.state.changed(
            pending_refunds=self.state.pending_refunds.set(owed.refund_id, owed)
        )
        audit_id = self._audit(
            AuditAction.REFUND_FAILED, user=owed.user, service=owed.service,
            payment_id=owed.payment_id, ref_id=owed.failed_audit_id,
            details=(("refund_id", owed.refund_id), ("reason", reason)),
        )  # fmt: skip
        self._invoice("set_refund_status", owed.refund_id, RefundAttemptFailed(reason), audit_id)
        self._count(failed_refunds=1)
        self._arm_maintenance()
        return RefundOutcome(owed.refund_id, owed.amount, "Failed", reason=reason)
