"""Many users deploy tokens through the paid flow while faults, admin changes and time go by.

A hypothesis state machine drives one platform per example: 3 to 5 users with different balances
and approvals (some too low) deploy valid and invalid tokens; faults (a reject or a trap, once,
after a few matching calls) hit the ledger, the storages, the factory and the management
canister, at most two at a time, including a lost factory reply that cannot be looked up and a
refund transfer that fails after a deployment failed at ``create_canister``; the operator changes
the fee, auto-refund and the daily limit, closes the service for a while (maintenance, or the
factory disabled), pauses and resumes the factory, suspends users and retries refunds; time
moves (the backend's timer flushes the outbox, settles deployments whose reply was lost and
retries failed refunds; the 24 h rate-limit window slides).

A plain model predicts every answer it can: a refusal at admission (and which one; a paused
factory's among them), which changes nothing on the backend, the ledger or the storages; a
refusal of the approval or the balance; the exact balance and allowance change of every
attempt; that a charge fails only when faulted twice (once, its identical request settles it);
that a deployment only fails after the charge for a fault that fired; the refunds still
owed and the contracts each user owns.
After every step the money guarantee holds (one outcome per fee charged, the ICP books
balance) and the ledger, the factory and the backend agree with the model. At the end, with the
faults gone, the outbox delivers the whole trail, every deployment is settled and every refund
still owed can be paid.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from icto import IC, Account, AllowanceArgs, ApproveArgs, Err, InsufficientFunds, Ok, Principal
from icto.backend import (
    TOKEN_FACTORY,
    AllowanceTooLow,
    ConfigError,
    DeploymentFailed,
    DeploymentResult,
    InsufficientBalance,
    InvalidConfig,
    MaintenanceMode,
    PaymentFailed,
    RateLimited,
    ServiceDisabled,
    ServiceUnavailable,
    UnknownRefund,
    UserStatus,
    UserSuspended,
)
from icto.backend.base import AUTO_REFUND_ATTEMPTS
from icto.backend.types import DAY_NS
from icto.ic.faults import FaultRule
from icto.ic.router import MANAGEMENT_ID
from icto.system import System, deploy_system
from icto.token import TokenConfig
from tests.backend.conftest import FEE, LEDGER_FEE, token_config
from tests.backend.invariants import (
    Books,
    assert_money_never_lost,
    assert_trail_complete,
    read_books,
)
from tests.helpers import failing_deployments, rejected

NAMES = ("alice", "bob", "carol", "dave", "erin")
STORAGES = frozenset({"audit_storage", "invoice_storage"})
Target = tuple[str, str | None]
"""(callee role, method; ``None``: any method)."""

FAULT_TARGETS: tuple[Target, ...] = (
    ("icp_ledger", "icrc2_transfer_from"), ("icp_ledger", "icrc1_transfer"),
    ("icp_ledger", "icrc1_fee"), ("icp_ledger", "icrc2_allowance"),
    ("audit_storage", "log_event"), ("invoice_storage", None),
    ("token_factory", "create_contract"), ("token_factory", "get_deployment"),
    ("token_factory", "notify_deployment_complete"),
    ("management", "create_canister"), ("management", "install_code"),
)  # fmt: skip
FUNDS_CHECK: frozenset[Target] = frozenset(
    {("icp_ledger", "icrc1_fee"), ("icp_ledger", "icrc2_allowance")}
)
CHARGE: Target = ("icp_ledger", "icrc2_transfer_from")
REFUND: Target = ("icp_ledger", "icrc1_transfer")

# the common case (enough for many deployments) weighs as much as the edge cases together
balances = st.sampled_from(
    [50 * FEE] * 5 + [3 * FEE, FEE + 2 * LEDGER_FEE, FEE // 2, LEDGER_FEE, 0]
)  # fmt: skip
approvals = st.sampled_from(
    [20 * FEE] * 5 + [2 * (FEE + LEDGER_FEE), FEE + LEDGER_FEE, FEE, 0, None]
)  # fmt: skip
CONFIG_SHAPES = ("valid",) * 5 + ("empty name", "one-char symbol", "minting holder")
config_changes = st.one_of(
    st.tuples(
        st.just("token_factory.fee"), st.sampled_from([FEE, 0, LEDGER_FEE, FEE // 2, 2 * FEE])
    ),
    st.tuples(st.just("payment.auto_refund"), st.booleans()),
    st.tuples(st.just("user.max_deployments_per_day"), st.sampled_from([10, 3, 2, 1])),
)
Attempt = tuple[int, str, str, int]
"""(user, config shape, symbol, initial holder)."""
an_attempt = st.tuples(
    st.integers(0, 4), st.sampled_from(CONFIG_SHAPES),
    st.sampled_from(["ALP", "BETA", "GAMMA9", "dlt"]), st.integers(0, 4),
)  # fmt: skip
bad_config_changes = st.sampled_from(
    [
        ("token_factory.fee", -1), ("token_factory.fee", 2**64),
        ("user.max_deployments_per_day", 0), ("system.maintenance_mode", 1),
        ("payment.auto_refund", "yes"), ("token_factory.speed", 1),
    ]
)  # fmt: skip


@attrs.define
class Wallet:
    """What the model knows of one user."""

    user: Principal
    name: str
    balance: int = 0
    allowance: int = 0
    status: UserStatus = UserStatus.ACTIVE
    attempts: list[int] = attrs.Factory(list)
    """IC times of the attempts that reached payment (the rate limit counts them)."""
    contracts: set[Principal] = attrs.Factory(set)
    pending: dict[str, int] = attrs.Factory(dict)
    """Payment id → fee of deployments whose factory reply was lost (unconfirmed)."""


@attrs.define
class Owed:
    """A refund the backend still owes, as the model knows it."""

    wallet: Wallet
    amount: int
    payment_id: str
    attempts: int

    @property
    def user(self) -> Principal:
        return self.wallet.user


class PaidFlowUnderFaults(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        system = self.system
        self.ids: dict[str, Principal] = {
            "icp_ledger": system.icp_ledger.id, "audit_storage": system.audit_storage.id,
            "invoice_storage": system.invoice_storage.id,
            "token_factory": system.token_factory.id, "management": MANAGEMENT_ID,
        }  # fmt: skip
        self.wallets: list[Wallet] = []
        self.config: dict[str, Any] = {
            "token_factory.enabled": True, "token_factory.fee": FEE,
            "system.maintenance_mode": False, "payment.auto_refund": True,
            "user.max_deployments_per_day": 10,
        }  # fmt: skip
        self.paused = False
        self.faults: list[tuple[FaultRule, Target]] = []
        self.owed: dict[str, Owed] = {}
        """Refund id → what the backend still owes."""
        self.paid_refunds: list[str] = []

    # -- harness ----------------------------------------------------------------------------

    @contextmanager
    def faults_aside(self) -> Iterator[None]:
        """Run the harness's own calls (minting, reading balances) past the installed faults,
        which are aimed at the platform."""
        saved = list(self.ic.faults.rules)
        self.ic.faults.rules.clear()
        try:
            yield
        finally:
            self.ic.faults.rules[:] = saved

    def _fired_counts(self) -> list[int]:
        return [rule.fired for rule, _ in self.faults]

    def _fired_since(self, counts: list[int]) -> set[Target]:
        return {
            target for (rule, target), before in zip(self.faults, counts, strict=False)
            if rule.fired > before
        }  # fmt: skip

    def _times_fired_since(self, counts: list[int], point: Target) -> int:
        return sum(
            rule.fired - before for (rule, target), before in zip(self.faults, counts, strict=False)
            if target == point
        )  # fmt: skip

    def _wallet(self, pick: int) -> Wallet:
        return self.wallets[pick % len(self.wallets)]

    def _approve(self, wallet: Wallet, amount: int) -> None:
        """The user approves the backend for ``amount``; the ledger charges its fee for it."""
        approval = ApproveArgs(spender=Account(self.system.backend.id), amount=amount)
        result = self.system.icp_ledger.as_caller(wallet.user).icrc2_approve(approval)
        if wallet.balance < LEDGER_FEE:
            assert result == Err(InsufficientFunds(wallet.balance))
            return
        assert isinstance(result, Ok), result
        wallet.balance -= LEDGER_FEE
        wallet.allowance = amount

    def _config_for(self, wallet: Wallet, shape: str, symbol: str, holder: Wallet) -> TokenConfig:
        if shape == "valid":
            return token_config(symbol, owner_name=holder.name)
        if shape == "empty name":
            return token_config(symbol, owner_name=holder.name, name="")
        if shape == "one-char symbol":
            return token_config(symbol[0], owner_name=holder.name)
        # the owner's default account is the minting account: it cannot hold a balance
        return token_config(symbol, initial_balances=((Account(wallet.user), 1_000),))

    # -- users ------------------------------------------------------------------------------

    @initialize(funding=st.lists(st.tuples(balances, approvals), min_size=3, max_size=5))
    def users_arrive(self, funding: list[tuple[int, int | None]]) -> None:
        for name, (balance, approval) in zip(NAMES, funding, strict=False):
            wallet = Wallet(Principal.from_name(name), name)
            if balance:
                self.system.faucet(wallet.user, balance)
                wallet.balance = balance
            if approval is not None:
                self._approve(wallet, approval)
            self.wallets.append(wallet)

    @rule(pick=st.integers(0, 4), amount=st.sampled_from([5 * FEE, FEE, LEDGER_FEE]))
    def a_user_buys_icp(self, pick: int, amount: int) -> None:
        wallet = self._wallet(pick)
        with self.faults_aside():
            self.system.faucet(wallet.user, amount)
        wallet.balance += amount

    @rule(
        pick=st.integers(0, 4),
        amount=st.sampled_from([20 * FEE, 3 * FEE, FEE + LEDGER_FEE, FEE, 0]),
    )
    def a_user_approves_the_backend(self, pick: int, amount: int) -> None:
        self._approve(self._wallet(pick), amount)

    # -- deployments ------------------------------------------------------------------------

    @rule(attempts=st.lists(an_attempt, min_size=1, max_size=5))
    def users_deploy_tokens(self, attempts: list[Attempt]) -> None:
        self._deploy_all(attempts)

    def _deploy_all(self, attempts: list[Attempt]) -> None:
        for pick, shape, symbol, holder in attempts:
            wallet = self._wallet(pick)
            config = self._config_for(wallet, shape, symbol, self._wallet(holder))
            self._deploy(wallet, shape, config)

    def _expected_refusal(self, wallet: Wallet, shape: str) -> object | None:
        """The refusal admission must give (before any money moves), or ``None``."""
        limit = self.config["user.max_deployments_per_day"]
        recent = [at for at in wallet.attempts if at > self.ic.time - DAY_NS]
        if wallet.status != UserStatus.ACTIVE:
            return UserSuspended(wallet.status)
        if len(recent) >= limit:
            return RateLimited(limit, recent[-limit] + DAY_NS)
        if not self.config["token_factory.enabled"]:
            return ServiceDisabled(TOKEN_FACTORY)
        if self.config["system.maintenance_mode"]:
            return MaintenanceMode()
        if shape != "valid":
            return InvalidConfig(())
        if self.paused:
            return ServiceUnavailable(f"the {TOKEN_FACTORY} is paused; an admin must resume it")
        return None

    def _platform_states(self) -> tuple[object, ...]:
        """The states of the canisters a paid deployment writes to: the backend, the ledger and
        the storages."""
        names = ("icp_ledger", "audit_storage", "invoice_storage")
        return (
            self.ic.state_of(self.system.backend.id),
            *(self.ic.state_of(self.ids[name]) for name in names),
        )

    def _deploy(self, wallet: Wallet, shape: str, config: TokenConfig) -> None:
        fee = self.config["token_factory.fee"]
        required = fee + LEDGER_FEE
        counts = self._fired_counts()
        states_before = self._platform_states()
        result = self.system.backend.as_caller(wallet.user).deploy_token(config)
        fired = self._fired_since(counts)
        flow_faults = {target for target in fired if target[0] not in STORAGES}
        event(f"deploy: {type(result.error).__name__ if isinstance(result, Err) else 'Ok'}")

        refusal = self._expected_refusal(wallet, shape)
        if isinstance(refusal, InvalidConfig):
            assert isinstance(result, Err) and isinstance(result.error, InvalidConfig), result
            assert result.error.reasons, "an invalid config is refused with its reasons"
            return
        if refusal is not None:
            assert result == Err(refusal)
            assert self._platform_states() == states_before, f"{refusal} changed something"
            return
        if fee > 0:
            if fired & FUNDS_CHECK:
                assert isinstance(result, Err) and isinstance(result.error, ServiceUnavailable)
                return
            if wallet.allowance < required:
                assert result == Err(AllowanceTooLow(required, wallet.allowance))
                return
            if wallet.balance < required:
                assert result == Err(InsufficientBalance(required, wallet.balance))
                return

        # the attempt reached payment: it counts towards the daily limit
        wallet.attempts.append(self.ic.time)
        paid = not (isinstance(result, Err) and isinstance(result.error, PaymentFailed))
        # One fault on the charge is settled by its identical request; after two, the ledger's
        # log shows it never ran (the ICP ledger takes nothing from a call it rejects or traps).
        charge_faults = self._times_fired_since(counts, CHARGE)
        assert paid == (charge_faults < 2), f"{result}: {charge_faults} faults on the charge"
        if not paid:
            assert not result.error.pending, result
            return
        charged = required if fee > 0 else 0
        wallet.balance -= charged
        wallet.allowance -= charged
        books = read_books(self.system)
        if isinstance(result, Ok):
            self._deployed(wallet, result.value, fee, books.charged)
            return
        assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed), result
        failure = result.error
        assert flow_faults, f"{failure} with no fault"
        assert (failure.payment_id in books.charged) == (fee > 0)
        if failure.pending:
            assert failure.refund is None
            wallet.pending[failure.payment_id] = fee
            return
        if fee == 0:
            assert failure.refund is None
            return
        refund = failure.refund
        assert refund is not None and refund.amount == fee
        if not self.config["payment.auto_refund"]:
            assert refund.status == "AwaitingApproval"
        else:
            expected = "Failed" if REFUND in fired else "Completed"
            assert refund.status == expected, f"{refund}, faults fired: {sorted(fired, key=str)}"
        event(f"refund at deployment: {refund.status}")
        if refund.status == "Completed":
            assert books.refunded[failure.payment_id] == (fee, refund.block)
            wallet.balance += fee
            self.paid_refunds.append(refund.refund_id)
        else:
            assert refund.status in {"AwaitingApproval", "Failed"}, refund
            attempts = 1 if refund.status == "Failed" else 0
            self.owed[refund.refund_id] = Owed(wallet, fee, failure.payment_id, attempts)

    def _deployed(
        self, wallet: Wallet, deployed: DeploymentResult, fee: int, charged: dict[str, int]
    ) -> None:
        assert not self.paused, "a paused factory deployed a contract"
        assert deployed.service == TOKEN_FACTORY and deployed.fee_paid == fee
        if fee > 0:
            assert charged[deployed.payment_id] == fee and deployed.block_index is not None
        else:
            assert deployed.payment_id not in charged and deployed.block_index is None
        mine = self.system.token_factory.as_caller(wallet.user).get_my_contracts(wallet.user)
        entry = next(e for e in mine.items if e.info.id == deployed.canister_id)
        assert entry.info.owner == wallet.user
        wallet.contracts.add(deployed.canister_id)

    # -- faults -----------------------------------------------------------------------------

    @precondition(lambda self: len(self.ic.faults) < 2)
    @rule(
        kind=st.sampled_from(["reject", "trap"]),
        point=st.sampled_from(FAULT_TARGETS),
        after=st.integers(0, 3),
    )
    def a_fault_is_armed(self, kind: str, point: Target, after: int) -> None:
        role, method = point
        install = self.ic.faults.reject if kind == "reject" else self.ic.faults.trap
        self.faults.append((install(canister=self.ids[role], method=method, after=after), point))

    @precondition(lambda self: len(self.ic.faults) == 0)
    @rule(kind=st.sampled_from(["reject", "trap"]))
    def the_factory_reply_gets_lost(self, kind: str) -> None:
        """The next deployment's reply is lost (a reject: nothing was deployed; a trap: the
        factory registered the contract, then trapped) and the factory cannot be asked about
        it three times: the deployment stays unconfirmed until the backend's timer settles
        it."""
        factory = self.ids["token_factory"]
        install = self.ic.faults.reject if kind == "reject" else self.ic.faults.trap
        self.faults.append((install(canister=factory, method="create_contract"),
                            ("token_factory", "create_contract")))  # fmt: skip
        lookups = self.ic.faults.reject(canister=factory, method="get_deployment", times=3)
        self.faults.append((lookups, ("token_factory", "get_deployment")))

    @precondition(lambda self: len(self.ic.faults) == 0 and not self.paused)
    @rule(kind=st.sampled_from(["reject", "trap"]), attempt=an_attempt)
    def a_deployment_fails_and_so_does_its_refund(self, kind: str, attempt: Attempt) -> None:
        """For one attempt the management canister rejects ``create_canister`` (the deployment
        fails after the charge) and the ledger fails the refund transfer: the refund is owed,
        and the backend's timer (or the operator) pays it later."""
        install = self.ic.faults.reject if kind == "reject" else self.ic.faults.trap
        self.faults.append((install(canister=self.ids["icp_ledger"], method="icrc1_transfer"),
                            REFUND))  # fmt: skip
        with failing_deployments(self.system, times=1) as failing:
            self.faults.append((failing, ("management", "create_canister")))
            self._deploy_all([attempt])

    # -- the operator -----------------------------------------------------------------------

    @rule(change=config_changes)
    def the_operator_changes_the_config(self, change: tuple[str, Any]) -> None:
        key, value = change
        assert self.system.backend.admin_set_config(key, value) == Ok(None)
        self.config[key] = value
        assert dict(self.system.backend.get_config())[key] == value

    @rule(
        key=st.sampled_from(["system.maintenance_mode", "token_factory.enabled"]),
        attempt=an_attempt,
    )
    def the_service_is_closed_for_a_while(self, key: str, attempt: Attempt) -> None:
        """Maintenance, or the token factory disabled: every attempt is refused before any
        money moves; then the service opens again."""
        closed = key == "system.maintenance_mode"
        assert self.system.backend.admin_set_config(key, closed) == Ok(None)
        self.config[key] = closed
        self._deploy_all([attempt])
        assert self.system.backend.admin_set_config(key, not closed) == Ok(None)
        self.config[key] = not closed

    @rule(change=bad_config_changes)
    def a_bad_config_value_changes_nothing(self, change: tuple[str, Any]) -> None:
        key, value = change
        before = self.system.backend.get_config()
        result = self.system.backend.admin_set_config(key, value)
        assert isinstance(result, Err) and isinstance(result.error, ConfigError)
        assert result.error.key == key
        assert self.system.backend.get_config() == before

    @rule(paused=st.booleans())
    def the_operator_pauses_or_resumes_the_factory(self, paused: bool) -> None:
        """A paused factory: every attempt that passes admission is refused before payment."""
        if paused:
            self.system.token_factory.pause_factory()
        else:
            self.system.token_factory.resume_factory()
        self.paused = paused

    @rule(
        pick=st.integers(0, 4),
        status=st.sampled_from(
            [UserStatus.ACTIVE, UserStatus.SUSPENDED, UserStatus.ACTIVE, UserStatus.BANNED]
        ),
    )
    def the_operator_sets_a_user_status(self, pick: int, status: UserStatus) -> None:
        wallet = self._wallet(pick)
        self.system.backend.admin_set_user_status(wallet.user, status)
        wallet.status = status

    @precondition(lambda self: bool(self.owed))
    @rule(pick=st.integers(0, 50))
    def the_operator_retries_a_refund(self, pick: int) -> None:
        refund_id = sorted(self.owed)[pick % len(self.owed)]
        owed = self.owed[refund_id]
        wallet, amount = owed.wallet, owed.amount
        denied = rejected(lambda: self.system.backend.as_caller(wallet.user).admin_retry_refund(
            refund_id))  # fmt: skip
        assert "Unauthorized" in denied.message
        counts = self._fired_counts()
        result = self.system.backend.admin_retry_refund(refund_id)
        fired = self._fired_since(counts)
        assert isinstance(result, Ok), result
        outcome = result.value
        assert (outcome.refund_id, outcome.amount) == (refund_id, amount)
        assert outcome.status == ("Failed" if REFUND in fired else "Completed"), outcome
        if outcome.status == "Completed":
            del self.owed[refund_id]
            self.paid_refunds.append(refund_id)
            wallet.balance += amount
        else:
            assert outcome.status == "Failed", outcome
            owed.attempts += 1
        event(f"retried refund: {outcome.status}")

    @precondition(lambda self: bool(self.paid_refunds))
    @rule(pick=st.integers(0, 50))
    def a_paid_refund_is_never_paid_again(self, pick: int) -> None:
        refund_id = self.paid_refunds[pick % len(self.paid_refunds)]
        blocks = self.system.icp_ledger.get_transaction_count()
        assert self.system.backend.admin_retry_refund(refund_id) == Err(UnknownRefund(refund_id))
        assert self.system.icp_ledger.get_transaction_count() == blocks

    # -- time -------------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([61, 1, 3600, 12 * 3600, 24 * 3600 + 1]))
    def time_passes(self, seconds: int) -> None:
        counts = self._fired_counts()
        self.ic.advance_time(seconds=seconds)
        fired = self._fired_since(counts)
        books = read_books(self.system)
        self._refunds_retried_by_the_timer(
            books, timer_ran=seconds > 60, refund_fault=REFUND in fired
        )
        self._settled_by_the_timer(books)

    def _timer_retries(self, owed: Owed) -> bool:
        """The backend's timer retries a refund by itself: auto-refund on, after a failed
        attempt, fewer than three attempts so far."""
        return self.config["payment.auto_refund"] and 0 < owed.attempts < AUTO_REFUND_ATTEMPTS

    def _refunds_retried_by_the_timer(
        self, books: Books, *, timer_ran: bool, refund_fault: bool
    ) -> None:
        """Refunds owed before time passed: the timer paid the ones it retries, unless a fault
        on the refund transfer fired; it never touches the others."""
        still_owed = {r.refund_id: r for r in self.system.backend.admin_list_pending_refunds()}
        for refund_id, owed in list(self.owed.items()):
            retried = self._timer_retries(owed)
            if refund_id not in still_owed:
                assert retried, f"{refund_id} was paid without being retried"
                assert books.refunded[owed.payment_id][0] == owed.amount
                del self.owed[refund_id]
                self.paid_refunds.append(refund_id)
                owed.wallet.balance += owed.amount
                event("the timer paid a refund")
                continue
            attempts = still_owed[refund_id].attempts
            if not retried:
                assert attempts == owed.attempts, f"{refund_id} was retried by the timer"
            elif timer_ran:
                assert refund_fault, f"{refund_id} was not retried within a minute: {owed}"
            owed.attempts = attempts

    def _settled_by_the_timer(self, books: Books) -> None:
        """Fold what the backend's timer settled (unconfirmed deployments) into the model."""
        for wallet in self.wallets:
            for payment, fee in list(wallet.pending.items()):
                if payment in books.unconfirmed:
                    continue
                del wallet.pending[payment]
                event("an unconfirmed deployment was settled")
                if payment in books.deployed:
                    wallet.contracts.add(books.deployed[payment])
                elif payment in books.refunded:
                    wallet.balance += fee
                elif payment in books.owed:
                    refund = books.owed[payment]
                    self.owed[refund.refund_id] = Owed(wallet, fee, payment, refund.attempts)
                else:
                    assert fee == 0, f"{payment} charged {fee}, settled with no outcome"

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def no_money_is_lost(self) -> None:
        with self.faults_aside():
            books = assert_money_never_lost(self.system, unconfirmed_allowed=True)
        pending = {payment for wallet in self.wallets for payment in wallet.pending}
        assert books.unconfirmed == pending

    @invariant()
    def the_ledger_agrees_with_the_model(self) -> None:
        backend = Account(self.system.backend.id)
        with self.faults_aside():
            for wallet in self.wallets:
                assert self.system.icp_balance(wallet.user) == wallet.balance, wallet.name
                allowance = self.system.icp_ledger.icrc2_allowance(
                    AllowanceArgs(Account(wallet.user), backend)
                )
                assert allowance.allowance == wallet.allowance, wallet.name

    @invariant()
    def each_user_owns_exactly_the_contracts_deployed_for_them(self) -> None:
        """The contracts of successful deployments, and those the factory registered for a
        deployment whose reply was lost (the backend links them once it can ask)."""
        deployed = read_books(self.system).deployed
        for wallet in self.wallets:
            unconfirmed = {deployed[p] for p in wallet.pending if p in deployed}
            created = self.system.token_factory.as_caller(wallet.user).get_created_contracts(
                wallet.user
            )
            assert {info.id for info in created.items} == wallet.contracts | unconfirmed

    @invariant()
    def the_backend_owes_exactly_the_refunds_the_model_owes(self) -> None:
        pending = self.system.backend.admin_list_pending_refunds()
        owed = {r.refund_id: (r.user, r.amount, r.payment_id, r.attempts) for r in pending}
        assert owed == {
            refund_id: (o.user, o.amount, o.payment_id, o.attempts)
            for refund_id, o in self.owed.items()
        }

    # -- the end ----------------------------------------------------------------------------

    def teardown(self) -> None:
        """With the faults gone and the factory running, a minute settles everything (and a
        queue the storages refused, once its backoff has passed and the timer came by): the outbox
        delivers the whole trail, no deployment stays unconfirmed, and every refund still owed
        can be paid."""
        self.ic.faults.clear()
        self.system.token_factory.resume_factory()
        self.ic.advance_time(seconds=61)
        queues = [q for q in self.ic.state_of(self.system.backend.id).outbox.values() if len(q)]
        if queues:  # the timer's next round after the last backoff ends delivers them
            backoff_ends = max(self.ic.time, *(queue.retry_at for queue in queues))
            self.ic.advance_time(nanos=backoff_ends - self.ic.time + 61 * 10**9)
        assert self.system.backend.get_outbox_size() == 0
        books = assert_money_never_lost(self.system)
        assert_trail_complete(self.system, books)
        for refund in self.system.backend.admin_list_pending_refunds():
            assert self.system.backend.admin_retry_refund(refund.refund_id).unwrap().status == (
                "Completed"
            )
        books = assert_money_never_lost(self.system)
        assert not books.owed
        assert_trail_complete(self.system, books)


PaidFlowUnderFaults.TestCase.settings = settings(
    max_examples=100, stateful_step_count=30, deadline=None
)
TestPaidFlowUnderFaults = PaidFlowUnderFaults.TestCase


def test_a_failed_refund_is_retried_by_the_timer_once_auto_refund_is_back_on() -> None:
    """The machine's timer rule, as one fixed sequence: a refund whose first attempt failed
    is retried by the backend's timer whenever auto-refund is on, even if auto-refund was
    off when the timer last ran."""
    ic = IC()
    system = deploy_system(ic)
    alice = Principal.from_name("alice")
    system.faucet(alice, 10 * FEE)
    system.approve_backend(alice, 5 * FEE)
    failing_deployments(system)
    with ic.faults.reject(canister=system.icp_ledger.id, method="icrc1_transfer"):
        failed = system.backend.as_caller(alice).deploy_token(token_config())
    assert isinstance(failed, Err) and isinstance(failed.error, DeploymentFailed)
    assert failed.error.refund is not None and failed.error.refund.status == "Failed"
    system.backend.admin_set_config("payment.auto_refund", False).unwrap()
    ic.advance_time(seconds=61)
    system.backend.admin_set_config("payment.auto_refund", True).unwrap()
    ic.advance_time(seconds=61)
    assert system.backend.admin_list_pending_refunds() == ()
    assert system.icp_balance(alice) == 10 * FEE - 2 * LEDGER_FEE
    assert_money_never_lost(system)
