"""Every way a deployment is refused before payment (spec: services §2 steps 1-4): a typed ``Err``
and nothing anywhere changed: no ICP moved, no ledger block, no storage record, no contract and
not even the backend's own state.

Also shows the real code's B8 is absent: an approval of exactly the fee passes the real check and
then fails in ``transfer_from``; here it is refused up front with ``AllowanceTooLow``.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from icto import E8S, IC, U64_MAX, Account, Err, Ok, Principal
from icto.backend import (
    TOKEN_FACTORY,
    AllowanceTooLow,
    DeploymentResult,
    InsufficientBalance,
    InvalidConfig,
    MaintenanceMode,
    RateLimited,
    ServiceDisabled,
    ServiceUnavailable,
    Unauthorized,
    UserStatus,
    UserSuspended,
)
from icto.backend.types import DAY_NS
from icto.ledger import AllowanceArgs
from icto.system import System, deploy_system
from icto.token import TokenConfig, validate_token_config
from tests.backend.conftest import FEE, LEDGER_FEE, token_config
from tests.helpers import live_canisters, rejected

Fund = Callable[..., Principal]
ALICE = Principal.from_name("alice")


@attrs.frozen
class Scene:
    """What a refused deployment must leave exactly as it was."""

    balances: tuple[int, ...]
    ledger_blocks: int
    audit_entries: int
    invoice_records: tuple[int, int]
    contracts: int
    canisters: int
    backend_state: Any
    states: tuple[Any, ...]
    """Every platform canister's whole state (ledger, storages, factory)."""

    @classmethod
    def of(cls, system: System, *users: Principal) -> Scene:
        ic = system.ic
        invoices = system.invoice_storage.get_stats()
        others = (system.icp_ledger, system.audit_storage, system.invoice_storage,
                  system.token_factory)  # fmt: skip
        return cls(
            balances=tuple(system.icp_balance(p) for p in (*users, system.backend.id)),
            ledger_blocks=system.icp_ledger.get_transaction_count(),
            audit_entries=system.audit_storage.count(),
            invoice_records=(invoices.payments, invoices.refunds),
            contracts=system.token_factory.get_stats().contracts,
            canisters=len(live_canisters(ic)),
            backend_state=ic.state_of(system.backend.id),
            states=tuple(ic.state_of(proxy.id) for proxy in others),
        )


def attempt(system: System, user: Principal, config: object | None = None) -> object:
    return system.backend.as_caller(user).deploy_token(
        token_config() if config is None else config
    )


def refused(system: System, user: Principal, config: object | None = None) -> object:
    """Deploy as ``user``; assert nothing changed anywhere and return the error."""
    before = Scene.of(system, user)
    result = attempt(system, user, config)
    assert isinstance(result, Err), result
    assert Scene.of(system, user) == before
    return result.error


def succeeds(system: System, user: Principal, symbol: str = "ALP") -> DeploymentResult:
    result = attempt(system, user, token_config(symbol))
    assert isinstance(result, Ok), result
    assert isinstance(result.value, DeploymentResult)
    return result.value


# -- who may deploy --------------------------------------------------------------------------------


def test_an_anonymous_caller_is_refused(system: System) -> None:
    error = refused(system, Principal.anonymous())
    assert isinstance(error, Unauthorized)


@pytest.mark.parametrize("status", [UserStatus.SUSPENDED, UserStatus.BANNED])
def test_suspended_and_banned_users_are_refused_until_reactivated(
    system: System, fund: Fund, alice: Principal, status: UserStatus
) -> None:
    fund(alice)
    system.backend.admin_set_user_status(alice, status)
    assert refused(system, alice) == UserSuspended(status)
    system.backend.admin_set_user_status(alice, UserStatus.ACTIVE)
    succeeds(system, alice)


def test_suspending_one_user_does_not_refuse_another(
    system: System, fund: Fund, alice: Principal, bob: Principal
) -> None:
    fund(alice)
    fund(bob)
    system.backend.admin_set_user_status(alice, UserStatus.SUSPENDED)
    assert refused(system, alice) == UserSuspended(UserStatus.SUSPENDED)
    succeeds(system, bob)


# -- the service -----------------------------------------------------------------------------------


def test_a_disabled_service_is_refused_until_enabled(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice)
    system.backend.admin_set_config(f"{TOKEN_FACTORY}.enabled", False).unwrap()
    assert refused(system, alice) == ServiceDisabled(TOKEN_FACTORY)
    system.backend.admin_set_config(f"{TOKEN_FACTORY}.enabled", True).unwrap()
    succeeds(system, alice)


def test_maintenance_mode_refuses_every_deployment_until_lifted(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice)
    system.backend.admin_set_config("system.maintenance_mode", True).unwrap()
    assert refused(system, alice) == MaintenanceMode()
    system.backend.admin_set_config("system.maintenance_mode", False).unwrap()
    succeeds(system, alice)


FACTORY_REFUSALS: dict[str, tuple[Callable[[System], object], Callable[[System], object], str]] = {
    "paused": (
        lambda system: system.token_factory.pause_factory(),
        lambda system: system.token_factory.resume_factory(),
        f"the {TOKEN_FACTORY} is paused; an admin must resume it",
    ),
    "no longer whitelisting the backend": (
        lambda system: system.token_factory.remove_backend(system.backend.id),
        lambda system: system.token_factory.add_backend(system.backend.id),
        f"the {TOKEN_FACTORY} does not whitelist this backend; an admin must set it up again "
        f"(setup_microservices)",
    ),
}


@pytest.mark.parametrize("case", list(FACTORY_REFUSALS))
def test_a_factory_that_would_refuse_is_refused_before_payment_until_it_is_back(
    system: System, fund: Fund, alice: Principal, case: str
) -> None:
    """The backend asks the factory's ``capacity()`` before anybody is charged: a paused
    factory, or one that no longer whitelists the backend, is refused with
    ``ServiceUnavailable`` saying so, and that question is the only call made (the fee used to
    be taken and then refunded, or, for the whitelist, left in doubt for good). Once the factory
    is back, the same deployment succeeds."""
    stop, restart, reason = FACTORY_REFUSALS[case]
    fund(alice)
    succeeds(system, alice, "FIRST")  # alice has a profile, payments and trail entries to keep
    stop(system)
    before = Scene.of(system, alice)
    approved = system.icp_ledger.icrc2_allowance(
        AllowanceArgs(Account(alice), Account(system.backend.id))
    )
    profile = system.backend.as_caller(alice).get_my_profile()
    counters = system.backend.get_counters()
    payments = system.invoice_storage.as_caller(alice).get_payments_by_user(alice).items
    system.ic.trace.clear()
    result = attempt(system, alice)
    called = {(entry.callee, entry.method) for entry in system.ic.trace.calls(kind="call")}
    assert result == Err(ServiceUnavailable(reason))
    assert called == {(system.token_factory.id, "capacity")}
    assert Scene.of(system, alice) == before  # balances, blocks, records and every state
    assert system.icp_ledger.icrc2_allowance(
        AllowanceArgs(Account(alice), Account(system.backend.id))
    ) == approved
    assert system.backend.as_caller(alice).get_my_profile() == profile
    assert system.backend.get_counters() == counters
    assert system.invoice_storage.as_caller(alice).get_payments_by_user(alice).items == payments
    restart(system)
    succeeds(system, alice)


# -- the config ------------------------------------------------------------------------------------


def test_an_invalid_config_is_refused_with_every_reason_the_shared_rule_gives(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice)
    config = token_config(name="ab", symbol="A-B")
    expected = validate_token_config(config, alice)
    assert len(expected) >= 2
    error = refused(system, alice, config)
    assert error == InvalidConfig(expected)
    assert isinstance(error, InvalidConfig)
    assert any(reason.startswith("name") for reason in error.reasons)
    assert any(reason.startswith("symbol") for reason in error.reasons)


def test_a_config_invalid_only_for_this_owner_is_refused(
    system: System, fund: Fund, alice: Principal
) -> None:
    """The rule is applied for the caller: alice's default account is the minting account."""
    fund(alice)
    config = token_config(initial_balances=((Account(alice), 5),))
    assert validate_token_config(config) == ()
    assert refused(system, alice, config) == InvalidConfig(validate_token_config(config, alice))


def test_what_is_not_a_token_config_is_rejected_before_the_backend_runs(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice)
    before = Scene.of(system, alice)
    failure = rejected(lambda: attempt(system, alice, {"name": "Token", "symbol": "TOK"}))
    assert failure.error_code == "IC0503"
    assert "must be TokenConfig" in failure.message
    assert Scene.of(system, alice) == before


def test_the_config_is_checked_before_the_approval(system: System, alice: Principal) -> None:
    """alice approved nothing: the invalid config is what she is told about."""
    config = token_config(symbol="")
    assert refused(system, alice, config) == InvalidConfig(validate_token_config(config, alice))


# -- the approval and the balance ------------------------------------------------------------------


def test_an_approval_of_exactly_the_fee_is_refused_as_too_low(
    system: System, fund: Fund, alice: Principal
) -> None:
    """B8 is absent: the approval must cover fee + ledger fee, which transfer_from needs."""
    fund(alice, approve=FEE)
    assert refused(system, alice) == AllowanceTooLow(required=FEE + LEDGER_FEE, allowance=FEE)


def test_an_approval_one_short_is_refused_and_an_exact_one_is_used_up(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice, approve=FEE + LEDGER_FEE - 1)
    assert refused(system, alice) == AllowanceTooLow(FEE + LEDGER_FEE, FEE + LEDGER_FEE - 1)
    system.approve_backend(alice, FEE + LEDGER_FEE)
    succeeds(system, alice)
    assert refused(system, alice) == AllowanceTooLow(FEE + LEDGER_FEE, 0)


def test_no_approval_at_all_is_refused(system: System, fund: Fund, alice: Principal) -> None:
    fund(alice, approve=None)
    assert refused(system, alice) == AllowanceTooLow(FEE + LEDGER_FEE, 0)


def test_a_balance_below_fee_plus_ledger_fee_is_refused_despite_a_big_approval(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice, balance=E8S // 2, approve=5 * E8S)
    balance = system.icp_balance(alice)
    assert balance == E8S // 2 - LEDGER_FEE
    assert refused(system, alice) == InsufficientBalance(required=FEE + LEDGER_FEE, balance=balance)


def test_a_balance_one_short_is_refused_and_an_exact_one_is_enough(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice, balance=FEE + 2 * LEDGER_FEE - 1)  # the approval costs one ledger fee
    assert refused(system, alice) == InsufficientBalance(FEE + LEDGER_FEE, FEE + LEDGER_FEE - 1)
    system.faucet(alice, 1)
    succeeds(system, alice)
    assert system.icp_balance(alice) == 0


# -- the daily limit -------------------------------------------------------------------------------


def test_the_daily_limit_refuses_until_the_oldest_attempt_leaves_the_24h_window(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice)
    system.backend.admin_set_config("user.max_deployments_per_day", 2).unwrap()
    first = system.ic.time
    succeeds(system, alice, "ONE")
    system.ic.advance_time(hours=1)
    succeeds(system, alice, "TWO")
    system.ic.advance_time(hours=1)
    assert refused(system, alice) == RateLimited(limit=2, retry_at=first + DAY_NS)
    system.ic.set_time(first + DAY_NS - 1)
    assert refused(system, alice) == RateLimited(limit=2, retry_at=first + DAY_NS)
    system.ic.set_time(first + DAY_NS)
    succeeds(system, alice, "THREE")
    second = first + 3600 * 10**9
    assert refused(system, alice) == RateLimited(limit=2, retry_at=second + DAY_NS)


def test_a_lowered_limit_waits_for_the_attempt_that_brings_the_count_below_it(
    system: System, fund: Fund, alice: Principal
) -> None:
    """Three attempts an hour apart, then the limit set to 2: alice may deploy again when only
    one attempt is left in the window, i.e. 24 h after the second."""
    fund(alice)
    times = []
    for symbol in ("ONE", "TWO", "THREE"):
        times.append(system.ic.time)
        succeeds(system, alice, symbol)
        system.ic.advance_time(hours=1)
    system.backend.admin_set_config("user.max_deployments_per_day", 2).unwrap()
    assert refused(system, alice) == RateLimited(limit=2, retry_at=times[1] + DAY_NS)
    system.ic.set_time(times[1] + DAY_NS)
    succeeds(system, alice, "FOUR")


def test_the_daily_limit_is_per_user(
    system: System, fund: Fund, alice: Principal, bob: Principal
) -> None:
    fund(alice)
    fund(bob)
    system.backend.admin_set_config("user.max_deployments_per_day", 1).unwrap()
    succeeds(system, alice)
    assert isinstance(refused(system, alice), RateLimited)
    succeeds(system, bob)


def test_refusals_before_payment_do_not_use_up_the_daily_limit(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice, approve=None)
    system.backend.admin_set_config("user.max_deployments_per_day", 2).unwrap()
    for _ in range(3):
        assert isinstance(refused(system, alice), AllowanceTooLow)
        assert isinstance(refused(system, alice, token_config(symbol="")), InvalidConfig)
    system.approve_backend(alice, 5 * E8S)
    succeeds(system, alice, "ONE")
    succeeds(system, alice, "TWO")


# -- generated configs -----------------------------------------------------------------------------

OTHER = Principal.from_name("holder")
SUBS = [b"\x01" * 32, b"\x02" * 32, None]
accounts = st.builds(Account, st.sampled_from([ALICE, OTHER]), st.sampled_from(SUBS)).filter(
    lambda account: account.normalized() != Account(ALICE).normalized()
)

BAD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from(["", "ab", "x" * 33, " lead", "a\nb", 7]),
    "symbol": st.sampled_from(["", "A", "ABCDEFGHI", "A-B", "ÄB", None]),
    "decimals": st.sampled_from([-1, 19, True, 2.0]),
    "transfer_fee": st.sampled_from([-1, U64_MAX + 1, False]),
    "initial_balances": st.sampled_from(
        [
            ((Account(OTHER), -1),),
            ((Account(ALICE), 1),),
            ((Account(OTHER), 1), (Account(OTHER, bytes(32)), 1)),
            ((Account(OTHER), U64_MAX), (Account(ALICE, SUBS[0]), 1)),
        ]
    ),
    "fee_collector": st.sampled_from([Account(ALICE), "x"]),
    "logo": st.sampled_from(["x" * (30 * 1024 + 1), b"png"]),
    "max_memo_length": st.sampled_from([-1, 257]),
    "is_public": st.sampled_from([1, None]),
    "description": st.sampled_from(["d" * 1001, None]),
}


@st.composite
def configs(draw: st.DrawFn) -> TokenConfig:
    """A valid config for alice, most of the time with one to three fields made invalid."""
    config = TokenConfig(
        name=draw(st.text(string.ascii_letters + " ", min_size=3, max_size=32).map(
            lambda s: "T" + s.strip()[:30] + "n"
        )),
        symbol=draw(st.text(string.ascii_letters + string.digits, min_size=2, max_size=8)),
        decimals=draw(st.integers(0, 18)),
        transfer_fee=draw(st.integers(0, 10**9)),
        initial_balances=draw(st.dictionaries(accounts, st.integers(0, 10**12), max_size=3)),
        max_memo_length=draw(st.integers(0, 256)),
        is_public=draw(st.booleans()),
    )  # fmt: skip
    broken = draw(st.sets(st.sampled_from(sorted(BAD_VALUES)), max_size=3))
    return attrs.evolve(config, **{field: draw(BAD_VALUES[field]) for field in broken})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_a_config_is_refused_before_payment_exactly_when_the_shared_rule_refuses_it(
    config: TokenConfig,
) -> None:
    ic = IC(trace=False)
    system = deploy_system(ic)
    system.faucet(ALICE, 10 * E8S)
    system.approve_backend(ALICE, 5 * E8S)
    reasons = validate_token_config(config, ALICE)
    event("refused" if reasons else "deployed")
    if reasons:
        assert refused(system, ALICE, config) == InvalidConfig(reasons)
        return
    result = attempt(system, ALICE, config)
    assert isinstance(result, Ok), result
    assert result.value.fee_paid == FEE
    token = ic.actor(result.value.canister_id, ALICE)
    assert (token.icrc1_name(), token.icrc1_symbol()) == (config.name, config.symbol)
