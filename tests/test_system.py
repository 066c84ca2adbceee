"""``deploy_system(ic)``: the whole platform on one IC, deployed and wired as an operator would.

The ICP ledger is at its mainnet id; the operator controls every canister; the backend is the
one whitelisted writer of both storages and the one backend of the Token Factory (each asked
directly); the backend holds a float of ICP for refunds' ledger fees; the test helpers move
ICP the way they say; and the same calls give the same platform on any IC. It is all or
nothing: bad arguments are refused before anything is deployed, and a deployment that fails part
way leaves the IC as it was.
"""

from __future__ import annotations

from typing import Any

import pytest

from icto import E8S, IC, Account, CallRejected, Principal
from icto.backend import (
    DAO_FACTORY,
    DISTRIBUTION_FACTORY,
    LAUNCHPAD_FACTORY,
    MULTISIG_FACTORY,
    TOKEN_FACTORY,
)
from icto.ledger import ICP, AllowanceArgs
from icto.system import OPERATOR, REFUND_FLOAT, System, deploy_system

ALICE = Principal.from_name("alice")
LEDGER_FEE = 10_000


def canisters(system: System) -> dict[str, Principal]:
    return {
        "icp_ledger": system.icp_ledger.id, "backend": system.backend.id,
        "audit_storage": system.audit_storage.id, "invoice_storage": system.invoice_storage.id,
        "token_factory": system.token_factory.id, "multisig_factory": system.multisig_factory.id,
        "distribution_factory": system.distribution_factory.id,
        "dao_factory": system.dao_factory.id,
        "launchpad_factory": system.launchpad_factory.id,
    }  # fmt: skip


@pytest.fixture
def system(ic: IC) -> System:
    return deploy_system(ic)


def test_the_icp_ledger_lives_at_its_mainnet_id(system: System) -> None:
    assert system.icp_ledger.id == Principal.from_text("ryjl3-tyaaa-aaaaa-aaaba-cai")
    assert system.icp_ledger.id == ICP.canister_id
    assert system.icp_ledger.icrc1_symbol() == "ICP"
    assert system.icp_ledger.icrc1_fee() == LEDGER_FEE
    assert dict(system.backend.get_config())["payment.token"] == system.icp_ledger.id


def test_the_operator_controls_every_canister(ic: IC, system: System) -> None:
    assert system.operator == OPERATOR
    ids = canisters(system)
    assert len(set(ids.values())) == len(ids) == 9
    for name, canister in ids.items():
        assert ic.controllers_of(canister) == (OPERATOR,), name
    assert set(ic.world.canisters) == set(ids.values())


def test_another_operator_can_be_named(ic: IC) -> None:
    operator = Principal.from_name("someone-else")
    system = deploy_system(ic, operator=operator)
    assert system.operator == operator
    assert {ic.controllers_of(canister) for canister in canisters(system).values()} == {(operator,)}
    assert system.backend.caller == operator
    assert system.backend.is_admin(operator) and not system.backend.is_admin(OPERATOR)


def test_the_proxies_call_as_the_operator(system: System) -> None:
    proxies = (system.icp_ledger, system.backend, system.audit_storage, system.invoice_storage,
               *system.factories.values())  # fmt: skip
    assert {proxy.caller for proxy in proxies} == {OPERATOR}
    assert system.factories == {
        TOKEN_FACTORY: system.token_factory, MULTISIG_FACTORY: system.multisig_factory,
        DISTRIBUTION_FACTORY: system.distribution_factory, DAO_FACTORY: system.dao_factory,
        LAUNCHPAD_FACTORY: system.launchpad_factory,
    }


def test_the_backend_is_whitelisted_in_both_storages_and_the_factory(system: System) -> None:
    backend = system.backend.id
    for storage in (system.audit_storage, system.invoice_storage):
        assert storage.is_whitelisted(backend)
        assert not storage.is_whitelisted(OPERATOR)
        assert storage.get_whitelist() == (backend,)
    for factory in system.factories.values():
        assert factory.is_backend(backend)
        assert not factory.is_backend(OPERATOR)
        assert factory.get_backends() == (backend,)


def test_the_backend_administers_its_services_without_controlling_them(
    ic: IC, system: System
) -> None:
    backend = system.backend.id
    for service in (system.audit_storage, system.invoice_storage, *system.factories.values()):
        assert service.get_admins() == (backend,)
        assert backend not in ic.controllers_of(service.id)
    assert system.backend.get_admins() == ()
    state = ic.state_of(backend)
    assert (state.audit_storage, state.invoice_storage) == (
        system.audit_storage.id, system.invoice_storage.id,
    )  # fmt: skip
    assert dict(state.factories) == {
        service: factory.id for service, factory in system.factories.items()
    }


def test_the_backend_holds_the_refund_float(system: System) -> None:
    assert system.icp_balance(system.backend.id) == REFUND_FLOAT == 1 * E8S
    assert system.icp_ledger.icrc1_total_supply() == REFUND_FLOAT


@pytest.mark.parametrize("refund_float", [0, 3 * E8S])
def test_the_refund_float_can_be_chosen(ic: IC, refund_float: int) -> None:
    system = deploy_system(ic, refund_float=refund_float)
    assert system.icp_balance(system.backend.id) == refund_float
    assert system.icp_ledger.icrc1_total_supply() == refund_float


def test_the_faucet_mints(system: System) -> None:
    supply = system.icp_ledger.icrc1_total_supply()
    block = system.faucet(ALICE, 7 * E8S)
    assert system.icp_balance(ALICE) == 7 * E8S
    assert system.icp_ledger.icrc1_total_supply() == supply + 7 * E8S
    (minted,) = system.icp_ledger.get_blocks(block, 1)
    assert (minted.kind, minted.to, minted.amount) == ("mint", Account(ALICE), 7 * E8S)
    subaccount = Account(ALICE, b"\x02" * 32)
    system.faucet(subaccount, 5)
    assert system.icp_balance(subaccount) == 5
    assert system.icp_ledger.icrc1_total_supply() == supply + 7 * E8S + 5


def test_approve_backend_sets_the_allowance(system: System) -> None:
    system.faucet(ALICE, 1 * E8S)
    block = system.approve_backend(ALICE, 3 * E8S)
    allowance = system.icp_ledger.icrc2_allowance(
        AllowanceArgs(Account(ALICE), Account(system.backend.id))
    )
    assert allowance.allowance == 3 * E8S
    (approved,) = system.icp_ledger.get_blocks(block, 1)
    assert approved.kind == "approve"
    assert system.icp_balance(ALICE) == 1 * E8S - LEDGER_FEE
    system.approve_backend(ALICE, 1)
    again = system.icp_ledger.icrc2_allowance(
        AllowanceArgs(Account(ALICE), Account(system.backend.id))
    )
    assert again.allowance == 1


def test_two_deployments_on_two_ics_are_the_same() -> None:
    first, second = IC(), IC()
    one, two = deploy_system(first), deploy_system(second)
    assert canisters(one) == canisters(two)
    for canister in canisters(one).values():
        assert first.state_of(canister) == second.state_of(canister)
    assert first.time == second.time


@pytest.mark.parametrize(
    ("operator", "reason"),
    [
        (Principal.anonymous(), "the anonymous principal cannot be an operator"),
        (Principal.management_canister(), "the management canister cannot be an operator"),
    ],
    ids=["anonymous", "management canister"],
)
def test_an_unidentified_operator_is_refused_before_anything_is_deployed(
    ic: IC, operator: Principal, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        deploy_system(ic, operator=operator)
    assert len(ic.world.canisters) == 0


@pytest.mark.parametrize(
    ("arguments", "error", "reason"),
    [
        ({"operator": "alice"}, TypeError, "operator must be a Principal, got str"),
        ({"refund_float": -1}, ValueError, "refund_float must be an int >= 0, got -1"),
        ({"refund_float": 0.5}, TypeError, "refund_float must be an int, got float"),
        ({"refund_float": True}, TypeError, "refund_float must be an int, got bool"),
        ({"factory_cycles": -5}, ValueError, "factory_cycles must be an int >= 0, got -5"),
        ({"factory_cycles": None}, TypeError, "factory_cycles must be an int, got NoneType"),
        ({"factory_cycles": 2**128}, ValueError, "factory_cycles must be a u128"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_deployed_and_a_retry_works(
    ic: IC, arguments: dict[str, Any], error: type[Exception], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        deploy_system(ic, **arguments)
    assert len(ic.world.canisters) == 0
    assert deploy_system(ic).icp_balance(OPERATOR) == 0


def test_deploy_system_needs_an_ic() -> None:
    with pytest.raises(TypeError, match="deploy_system deploys on an IC, got NoneType"):
        deploy_system(None)  # type: ignore[arg-type]


def test_a_second_platform_on_the_same_ic_is_refused_and_changes_nothing(system: System) -> None:
    before = system.ic.snapshot()
    with pytest.raises(ValueError, match="ICP ledger's id ryjl3-tyaaa-aaaaa-aaaba-cai is taken"):
        deploy_system(system.ic)
    assert system.ic.snapshot() is before


def test_a_deployment_that_fails_part_way_leaves_the_ic_as_it_was(ic: IC) -> None:
    before = ic.snapshot()
    with ic.faults.reject(method="setup_microservices"), pytest.raises(CallRejected):
        deploy_system(ic)
    assert ic.snapshot() is before
    assert deploy_system(ic).backend.get_admins() == ()
