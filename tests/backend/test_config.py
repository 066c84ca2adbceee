"""The backend's configuration (spec: services §1): the defaults of the spec's table, typed and
range-checked changes (a refused one changes nothing), each change audited, admins only.

Enforcement of each flag is in ``test_nothing_paid`` (enabled, maintenance, daily limit),
``test_flow`` (fee recipient, a zero fee) and ``test_refunds`` (auto-refund); here: values round
trip, and a changed fee or payment token is what is actually charged.

Also shows the real code's B13 (controllers admins for some checks and not others) and B14
(monitoring calls that fan out to every canister, open to anyone) are absent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from icto import E8S, IC, U64_MAX, Account, CallRejected, Err, Ok, Principal
from icto.backend import (
    SERVICES,
    TOKEN_FACTORY,
    AllowanceTooLow,
    Backend,
    BackendInit,
    ConfigError,
    LastAdmin,
)
from icto.backend.config import MAX_DEPLOYMENTS_PER_DAY
from icto.ic import MANAGEMENT_ID
from icto.ic.management import CanisterSettings
from icto.ledger import ApproveArgs, LedgerInit, deploy_ledger
from icto.storage import AuditAction, AuditQuery
from icto.system import System
from tests.backend.conftest import LEDGER_FEE, token_config
from tests.helpers import rejected

Fund = Callable[..., Principal]

ICP_LEDGER = Principal.from_text("ryjl3-tyaaa-aaaaa-aaaba-cai")
OTHER_CANISTER = Principal.from_text("mxzaz-hqaaa-aaaar-qaada-cai")
TREASURY = Principal.from_name("treasury")
ALICE = Principal.from_name("alice")

SPEC_DEFAULTS: dict[str, Any] = {
    "token_factory.enabled": True,
    "multisig_factory.enabled": True,
    "distribution_factory.enabled": True,
    "dao_factory.enabled": True,
    "launchpad_factory.enabled": True,
    "token_factory.fee": 1 * E8S,
    "multisig_factory.fee": E8S // 2,
    "distribution_factory.fee": 1 * E8S,
    "dao_factory.fee": 5 * E8S,
    "launchpad_factory.fee": 10 * E8S,
    "system.maintenance_mode": False,
    "payment.token": ICP_LEDGER,
    "payment.fee_recipient": None,
    "payment.auto_refund": True,
    "user.max_deployments_per_day": 10,
}
"""The spec's table; ``payment.fee_recipient`` ``None`` is the backend's own account."""

BOOL_KEYS = [key for key in SPEC_DEFAULTS if key.endswith(".enabled")] + [
    "system.maintenance_mode", "payment.auto_refund",
]  # fmt: skip
FEE_KEYS = [key for key in SPEC_DEFAULTS if key.endswith(".fee")]

VALID: list[tuple[str, Any]] = [
    *((key, not SPEC_DEFAULTS[key]) for key in BOOL_KEYS),
    *((key, value) for key in FEE_KEYS for value in (0, 3 * E8S + 7, U64_MAX)),
    ("payment.token", OTHER_CANISTER),
    ("payment.fee_recipient", Account(TREASURY)),
    ("payment.fee_recipient", Account(TREASURY, b"\x05" * 32)),
    ("user.max_deployments_per_day", 1),
    ("user.max_deployments_per_day", MAX_DEPLOYMENTS_PER_DAY),
]

class _Amount(int):
    """Not a nat to Candid; kept in the config, it would keep the world from being saved."""


INVALID: list[tuple[str, Any]] = [
    *((key, value) for key in BOOL_KEYS for value in (1, 0, "true", None)),
    *(
        (key, value) for key in FEE_KEYS
        for value in (-1, U64_MAX + 1, True, "100", 1.5, None, _Amount(1))
    ),
    ("payment.token", "ryjl3-tyaaa-aaaaa-aaaba-cai"),
    ("payment.token", Account(ICP_LEDGER)),
    ("payment.token", ALICE),
    ("payment.token", Principal.anonymous()),
    ("payment.token", None),
    ("payment.fee_recipient", TREASURY),
    ("payment.fee_recipient", "treasury"),
    ("payment.fee_recipient", 5),
    ("payment.fee_recipient", Account(Principal.anonymous())),
    ("payment.fee_recipient", Account(Principal.management_canister(), b"\x05" * 32)),
    *(
        ("user.max_deployments_per_day", value)
        for value in (0, -1, MAX_DEPLOYMENTS_PER_DAY + 1, True, 10.0, "10", None)
    ),
]

UNKNOWN_KEYS: list[Any] = [
    "token_factory.fees", "system.emergency_stop", "template_deployer.fee", "payment.min_amount",
    "TOKEN_FACTORY.FEE", "",
]  # fmt: skip


def config_of(system: System) -> dict[str, Any]:
    return dict(system.backend.get_config())


def config_changes(system: System) -> list[dict[str, str]]:
    page = system.audit_storage.query(
        AuditQuery(action=AuditAction.CONFIG_CHANGED, descending=False)
    )
    return [dict(entry.event.details) for entry in page.items]


def case_id(case: tuple[str, Any]) -> str:
    return f"{case[0]}={case[1]!r}"[:60]


# -- defaults --------------------------------------------------------------------------------------


def test_the_defaults_are_the_spec_table(system: System) -> None:
    assert config_of(system) == SPEC_DEFAULTS


def test_the_key_lists_here_cover_every_key(system: System) -> None:
    """A key added to the backend without a type/range case here fails this test."""
    keys = set(config_of(system))
    assert {key for key, _ in VALID} == keys
    assert {key for key, _ in INVALID} == keys


@pytest.mark.parametrize("service", SERVICES)
def test_get_service_fee_answers_each_service_fee(system: System, service: str) -> None:
    assert system.backend.get_service_fee(service) == SPEC_DEFAULTS[f"{service}.fee"]


def test_get_service_fee_rejects_an_unknown_service(system: System) -> None:
    failure = rejected(lambda: system.backend.get_service_fee("template_deployer"))
    assert failure.error_code == "IC0406"


def test_anyone_may_read_the_config(system: System, alice: Principal) -> None:
    assert dict(system.backend.as_caller(alice).get_config()) == SPEC_DEFAULTS
    assert system.backend.as_caller(alice).get_service_fee(TOKEN_FACTORY) == E8S


# -- changes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", VALID, ids=case_id)
def test_a_valid_value_round_trips_and_is_audited_as_config_changed(
    system: System, case: tuple[str, Any]
) -> None:
    key, value = case
    if key == "payment.token":  # a ledger must answer there
        init = LedgerInit(name="Other", symbol="OT", transfer_fee=1, minting_account=Account(ALICE))
        deploy_ledger(system.ic, init, canister_id=value)
    before = config_of(system)
    assert system.backend.admin_set_config(key, value) == Ok(None)
    assert config_of(system) == {**before, key: value}
    if key.endswith(".fee"):
        assert system.backend.get_service_fee(key.removesuffix(".fee")) == value
    (change,) = config_changes(system)
    assert change["key"] == key
    assert change["to"] == repr(value)
    assert change["from"] == repr(before[key])
    (entry,) = system.audit_storage.query(AuditQuery(action=AuditAction.CONFIG_CHANGED)).items
    assert entry.writer == system.backend.id
    assert entry.event.user == system.operator


@pytest.mark.parametrize("key", list(SPEC_DEFAULTS))
def test_setting_the_value_a_key_already_has_changes_nothing_and_is_not_audited(
    system: System, key: str
) -> None:
    backend_before = system.ic.state_of(system.backend.id)
    audit_before = system.audit_storage.count()
    system.ic.trace.clear()
    assert system.backend.admin_set_config(key, config_of(system)[key]) == Ok(None)
    assert system.ic.state_of(system.backend.id) == backend_before
    assert system.audit_storage.count() == audit_before
    assert system.ic.trace.calls(caller=system.backend.id) == []


@pytest.mark.parametrize(
    "token", ["a canister that does not exist", "the audit storage", "the backend itself"]
)
def test_a_payment_token_that_is_no_icrc2_ledger_is_refused_and_changes_nothing(
    system: System, token: str
) -> None:
    """Every deployment would be refused as unavailable (and never charged) until an admin
    noticed; the ledger is asked for its standards before it is set."""
    canister = {
        "a canister that does not exist": OTHER_CANISTER,
        "the audit storage": system.audit_storage.id,
        "the backend itself": system.backend.id,
    }[token]
    backend_before = system.ic.state_of(system.backend.id)
    audit_before = system.audit_storage.count()
    result = system.backend.admin_set_config("payment.token", canister)
    assert isinstance(result, Err) and result.error.key == "payment.token", result
    assert str(canister) in result.error.reason
    assert system.ic.state_of(system.backend.id) == backend_before
    assert system.audit_storage.count() == audit_before


def test_every_change_is_audited_in_order(system: System) -> None:
    system.backend.admin_set_config("token_factory.fee", 2 * E8S).unwrap()
    system.backend.admin_set_config("token_factory.fee", 3 * E8S).unwrap()
    system.backend.admin_set_config("system.maintenance_mode", True).unwrap()
    assert [(c["key"], c["from"], c["to"]) for c in config_changes(system)] == [
        ("token_factory.fee", repr(E8S), repr(2 * E8S)),
        ("token_factory.fee", repr(2 * E8S), repr(3 * E8S)),
        ("system.maintenance_mode", "False", "True"),
    ]


@pytest.mark.parametrize("case", INVALID, ids=case_id)
def test_a_value_of_the_wrong_type_or_out_of_range_is_refused_and_changes_nothing(
    system: System, case: tuple[str, Any]
) -> None:
    key, value = case
    backend_before = system.ic.state_of(system.backend.id)
    audit_before = system.audit_storage.count()
    result = system.backend.admin_set_config(key, value)
    assert isinstance(result, Err) and isinstance(result.error, ConfigError), result
    assert result.error.key == key
    assert result.error.reason
    assert system.ic.state_of(system.backend.id) == backend_before
    assert config_of(system) == SPEC_DEFAULTS
    assert system.audit_storage.count() == audit_before


@pytest.mark.parametrize(
    "token",
    [value for key, value in INVALID if key == "payment.token" and value is not None],
    ids=lambda token: repr(token)[:40],
)
def test_a_payment_token_the_config_refuses_is_refused_at_install_in_the_same_words(
    ic: IC, system: System, token: Any
) -> None:
    """``BackendInit.payment_token`` gets the check ``admin_set_config`` applies: the install
    traps naming the problem (``None`` is the default). A text id or a user's principal used to
    be installed, and then every deployment trapped with a ``TypeError``."""
    reason = system.backend.admin_set_config("payment.token", token).error.reason
    canisters = set(ic.world.canisters)
    refusal = rejected(lambda: ic.deploy(Backend, BackendInit(payment_token=token)))
    assert f"BackendInit.payment_token {reason}" in refusal.message
    assert {c for c in ic.world.canisters if ic.canister_exists(c)} <= canisters


@pytest.mark.parametrize("key", UNKNOWN_KEYS, ids=repr)
def test_an_unknown_key_is_refused_and_changes_nothing(system: System, key: Any) -> None:
    backend_before = system.ic.state_of(system.backend.id)
    audit_before = system.audit_storage.count()
    result = system.backend.admin_set_config(key, True)
    assert isinstance(result, Err) and isinstance(result.error, ConfigError), result
    assert result.error.key == str(key)
    assert "unknown" in result.error.reason
    assert system.ic.state_of(system.backend.id) == backend_before
    assert system.audit_storage.count() == audit_before


@pytest.mark.parametrize("key", [42, None, b"token_factory.fee"], ids=repr)
def test_a_key_that_is_not_text_is_rejected_before_the_backend_runs(
    system: System, key: Any
) -> None:
    backend_before = system.ic.state_of(system.backend.id)
    failure = rejected(lambda: system.backend.admin_set_config(key, True))
    assert failure.error_code == "IC0503"
    assert "must be str" in failure.message
    assert system.ic.state_of(system.backend.id) == backend_before


# -- who may change it -----------------------------------------------------------------------------


def test_a_non_admin_is_rejected_counted_and_changes_nothing(
    system: System, alice: Principal
) -> None:
    before = system.ic.state_of(system.backend.id)
    audit_before = system.audit_storage.count()
    for attempt in range(1, 3):
        failure = rejected(
            lambda: system.backend.as_caller(alice).admin_set_config("token_factory.fee", 0)
        )
        assert failure.error_code == "IC0406"
        assert "Unauthorized" in failure.message
        after = system.ic.state_of(system.backend.id)
        assert after.counters.access_denied == attempt
        assert attrs.evolve(after, counters=before.counters) == before
    assert config_of(system) == SPEC_DEFAULTS
    assert system.audit_storage.count() == audit_before


def test_controllers_and_listed_admins_are_admins_for_every_check(
    system: System, bob: Principal, alice: Principal
) -> None:
    """B13 is absent: ``is_admin`` and what admin-only methods accept agree, for a controller
    that is not in the admin list and for a listed admin that is not a controller."""
    assert system.backend.get_admins() == ()
    assert system.operator in system.ic.controllers_of(system.backend.id)
    system.backend.add_admin(bob)
    assert bob not in system.ic.controllers_of(system.backend.id)

    def may_configure(principal: Principal) -> bool:
        try:
            system.backend.as_caller(principal).admin_set_config("token_factory.fee", 2 * E8S)
        except CallRejected:
            return False
        return True

    for principal, admin in ((system.operator, True), (bob, True), (alice, False)):
        assert system.backend.is_admin(principal) is admin
        assert may_configure(principal) is admin
    system.backend.remove_admin(bob)
    assert system.backend.is_admin(bob) is False
    assert may_configure(bob) is False


def test_adding_an_admin_twice_is_audited_once(system: System, bob: Principal) -> None:
    assert system.backend.add_admin(bob) == Ok(None)
    audit_before = system.audit_storage.count()
    assert system.backend.add_admin(bob) == Ok(None)
    assert system.backend.get_admins() == (bob,)
    assert system.audit_storage.count() == audit_before


def test_the_last_admin_cannot_be_removed_once_no_controller_is_left(
    system: System, bob: Principal, carol: Principal
) -> None:
    """Once the operator hands the backend over to its admin list (no controller left), the
    list cannot be emptied: nobody could configure it or retry a refund again."""
    backend = system.backend
    backend.add_admin(bob).unwrap()
    backend.add_admin(carol).unwrap()
    system.ic.update_call(
        MANAGEMENT_ID, "update_settings", backend.id, CanisterSettings(controllers=()),
        caller=system.operator,
    )  # fmt: skip
    assert backend.as_caller(bob).remove_admin(carol) == Ok(None)
    before = system.ic.state_of(backend.id)
    audit_before = system.audit_storage.count()
    assert backend.as_caller(bob).remove_admin(bob) == Err(LastAdmin(bob))
    assert system.ic.state_of(backend.id) == before
    assert system.audit_storage.count() == audit_before
    assert backend.as_caller(bob).admin_set_config("token_factory.fee", 2 * E8S) == Ok(None)


def test_the_last_listed_admin_may_go_while_a_controller_is_left(
    system: System, bob: Principal
) -> None:
    system.backend.add_admin(bob).unwrap()
    assert system.backend.remove_admin(bob) == Ok(None)
    assert system.backend.get_admins() == ()
    assert system.backend.is_admin(system.operator)


@pytest.mark.parametrize(
    "method",
    ["get_factory_health", "get_system_status", "get_microservice_setup_status", "flush_outbox"],
)
def test_calls_that_fan_out_are_admin_only_and_make_no_call_for_others(
    system: System, alice: Principal, method: str
) -> None:
    """B14 is absent: anyone cannot make the backend call every canister (and spend cycles)."""
    denied = system.backend.get_counters().access_denied
    system.ic.trace.clear()
    failure = rejected(lambda: getattr(system.backend.as_caller(alice), method)())
    assert failure.error_code == "IC0406"
    assert system.ic.trace.calls(caller=system.backend.id) == []
    assert system.backend.get_counters().access_denied == denied + 1
    system.ic.trace.clear()
    getattr(system.backend, method)()  # the operator, a controller, may
    if method != "flush_outbox":
        assert system.ic.trace.calls(caller=system.backend.id) != []


# -- what a change changes -------------------------------------------------------------------------


def test_a_changed_fee_is_what_is_charged_and_what_the_approval_must_cover(
    system: System, fund: Fund, alice: Principal
) -> None:
    fee = 2 * E8S + 12_345
    fund(alice, approve=fee)
    system.backend.admin_set_config("token_factory.fee", fee).unwrap()
    result = system.backend.as_caller(alice).deploy_token(token_config())
    assert result == Err(AllowanceTooLow(required=fee + LEDGER_FEE, allowance=fee))
    system.approve_backend(alice, fee + LEDGER_FEE)
    before = system.icp_balance(alice), system.icp_balance(system.backend.id)
    paid = system.backend.as_caller(alice).deploy_token(token_config()).unwrap()
    assert paid.fee_paid == fee
    assert system.icp_ledger.get_blocks(paid.block_index, 1)[0].amount == fee
    assert system.icp_balance(alice) == before[0] - fee - LEDGER_FEE
    assert system.icp_balance(system.backend.id) == before[1] + fee
    assert system.invoice_storage.get_payment(paid.payment_id).amount == fee


def test_a_changed_payment_token_is_the_ledger_charged(
    system: System, alice: Principal, admin: Principal
) -> None:
    coin_fee = 1_000
    coin = deploy_ledger(
        system.ic,
        LedgerInit(
            name="Test Coin", symbol="TCN", transfer_fee=coin_fee,
            minting_account=Account(admin), initial_balances=((Account(alice), 10 * E8S),),
        ),
    )  # fmt: skip
    coin.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(system.backend.id), amount=5 * E8S)
    ).unwrap()
    system.backend.admin_set_config("payment.token", coin.id).unwrap()
    icp_blocks = system.icp_ledger.get_transaction_count()
    paid = system.backend.as_caller(alice).deploy_token(token_config()).unwrap()
    assert system.icp_ledger.get_transaction_count() == icp_blocks
    assert coin.icrc1_balance_of(Account(system.backend.id)) == paid.fee_paid == E8S
    assert coin.icrc1_balance_of(Account(alice)) == 10 * E8S - coin_fee - E8S - coin_fee
    record = system.invoice_storage.get_payment(paid.payment_id)
    assert record.token == coin.id
