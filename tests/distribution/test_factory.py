"""The Distribution Factory through the paid flow: the paying user owns the distribution, its
listed recipients are indexed, distributions are listed per token, and a config the contract
would refuse costs nothing."""

from __future__ import annotations

import pytest

from icto import E8S, IC, Err, Principal
from icto.backend import DEFAULT_FEES, DISTRIBUTION_FACTORY
from icto.distribution import (
    Category,
    DistributionConfig,
    DistributionDetails,
    Fixed,
    Linear,
    Open,
    Window,
    days,
)
from icto.factory.types import InvalidConfig
from icto.system import System, deploy_system

ALICE, BOB, CAROL = (Principal.from_name(n) for n in ("alice", "bob", "carol"))
FEE = DEFAULT_FEES[DISTRIBUTION_FACTORY]
LEDGER_FEE = 10_000


@pytest.fixture(scope="module")
def world() -> tuple[System, object]:
    system = deploy_system(IC())
    system.faucet(ALICE, 10 * E8S)
    system.approve_backend(ALICE, 5 * E8S)
    return system, system.ic.snapshot()


@pytest.fixture
def system(world: tuple[System, object]) -> System:
    system, snapshot = world
    system.ic.restore(snapshot)  # type: ignore[arg-type]
    return system


def config(system: System, **changes: object) -> DistributionConfig:
    ic = system.ic
    fields: dict[str, object] = {
        "title": "Seed round", "token": system.icp_ledger.id, "start": ic.time + days(1),
        "categories": (
            Category("team", 300, Fixed(((BOB, 100), (CAROL, 200))), Linear(days(30))),
            Category("drop", 40, Open(4, Window(ic.time, ic.time + days(1)))),
        ),
    }  # fmt: skip
    fields.update(changes)
    return DistributionConfig(**fields)  # type: ignore[arg-type]


def test_a_paid_deployment_is_owned_by_the_payer_and_indexes_its_listed_recipients(
    system: System,
) -> None:
    result = system.backend.as_caller(ALICE).deploy_distribution(config(system)).unwrap()
    assert (result.service, result.fee_paid) == (DISTRIBUTION_FACTORY, FEE)
    assert system.icp_balance(ALICE) == 10 * E8S - LEDGER_FEE - FEE - LEDGER_FEE
    factory = system.distribution_factory
    info = factory.get_contract_info(result.canister_id)
    assert (info.kind, info.owner, info.name) == ("distribution", ALICE, "Seed round")
    assert info.details == DistributionDetails(system.icp_ledger.id, 340, info.details.start, 2)
    for person, roles in ((ALICE, ("creator",)), (BOB, ("recipient",)), (CAROL, ("recipient",))):
        (entry,) = factory.as_caller(person).get_my_contracts(person)
        assert (entry.info.id, entry.roles) == (result.canister_id, roles)
    listed = factory.get_distributions_by_token(system.icp_ledger.id)
    assert [item.id for item in listed] == [result.canister_id]
    assert len(factory.get_distributions_by_token(system.token_factory.id)) == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"title": ""},
        {"categories": (Category("team", 300, Fixed(((BOB, 100),))),)},
        {"token": Principal.from_name("not-a-canister")},
    ],
    ids=["empty-title", "fixed-not-summing", "token-not-a-canister"],
)
def test_a_config_the_contract_would_refuse_is_refused_before_payment(
    system: System, changes: dict[str, object]
) -> None:
    balance = system.icp_balance(ALICE)
    result = system.backend.as_caller(ALICE).deploy_distribution(config(system, **changes))
    assert isinstance(result, Err) and isinstance(result.error, InvalidConfig)
    assert system.icp_balance(ALICE) == balance
    assert len(system.distribution_factory.as_caller(ALICE).get_my_contracts(ALICE)) == 0
