"""The Launchpad Factory: a paid deployment through the backend (10 ICP, charged exactly), the
registry entry of a sale (kind, owner, details, status), a sale controlled by its factory alone,
and the listings of sales by state, paginated, with private sales left out for outsiders.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from icto import E8S, IC, Account, Err, Principal
from icto.backend import DEFAULT_FEES, LAUNCHPAD_FACTORY, InvalidConfig
from icto.backend.types import DeploymentFailed
from icto.factory import CREATOR
from icto.launchpad import (
    PARTICIPANT,
    ExistingToken,
    FairLaunch,
    FixedPrice,
    LaunchpadConfig,
    LaunchpadDetails,
    LaunchpadSale,
    ProjectInfo,
    SaleState,
)
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import ApproveArgs
from icto.system import System, deploy_system
from icto.token import TokenConfig
from tests.helpers import live_canisters, rejected

ALICE, BOB, CAROL, MALLORY = (
    Principal.from_name(name) for name in ("alice", "bob", "carol", "mallory")
)
TOKEN_MINTER = Principal.from_name("sale-token-minter")
FEE: Final = 10_000
HOUR: Final = 3_600 * 10**9
SERVICE_FEE: Final = DEFAULT_FEES[LAUNCHPAD_FACTORY]
FUNDS: Final = 1_000 * E8S


class World:
    """The platform and a sale token; alice and bob hold 1,000 ICP. Snapshot ``empty``: no
    sale yet. Snapshot ``listed``: seven sales, created in this order (private ones marked *):
    alice's a, b*, c, d; bob's e, f*, g. Sales a, c, e and g start in one hour, the others in
    two; all end in three. Carol contributed to b once it opened (``opened``)."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.factory = self.system.launchpad_factory
        self.icp = self.system.icp_ledger
        self.token = deploy_ledger(self.ic, ICP.init(Account(TOKEN_MINTER)))
        for user in (ALICE, BOB, CAROL):
            self.system.faucet(user, FUNDS)
        self.t0 = self.ic.time
        self.empty = self.ic.snapshot()
        self.sales: dict[str, Principal] = {}
        for name, owner, private, start in (
            ("a", ALICE, False, 1), ("b", ALICE, True, 2), ("c", ALICE, False, 1),
            ("d", ALICE, False, 2), ("e", BOB, False, 1), ("f", BOB, True, 2), ("g", BOB, False, 1),
        ):  # fmt: skip
            self.system.approve_backend(owner, SERVICE_FEE + FEE)
            config = self.config(name, is_public=not private, sale_start=self.t0 + start * HOUR)
            deployed = self.system.backend.as_caller(owner).deploy_launchpad(config).unwrap()
            self.sales[name] = deployed.canister_id
        self.listed = self.ic.snapshot()
        self.ic.set_time(self.t0 + 2 * HOUR)
        approval = ApproveArgs(spender=Account(self.sales["b"]), amount=10 * E8S)
        self.icp.as_caller(CAROL).icrc2_approve(approval).unwrap()
        self.ic.actor(self.sales["b"], CAROL).contribute(5 * E8S).unwrap()
        self.opened = self.ic.snapshot()

    def config(self, name: str = "Sale", **changes: Any) -> LaunchpadConfig:
        fields: dict[str, Any] = {
            "project": ProjectInfo(name, "a sale", "https://example.org"),
            "sale_token": TokenConfig(name="Sale Token", symbol="SALE"),
            "purchase_token": self.icp.id, "sale_type": FixedPrice(E8S),
            "tokens_for_sale": 1_000 * E8S, "soft_cap": 50 * E8S, "hard_cap": 100 * E8S,
            "min_contribution": E8S, "max_contribution": 60 * E8S,
            "sale_start": self.t0 + HOUR, "sale_end": self.t0 + 3 * HOUR,
            "raised_allocation": ((Account(ALICE), 10_000),),
        }  # fmt: skip
        return LaunchpadConfig(**(fields | changes))

    def balance(self, owner: Principal) -> int:
        return int(self.icp.icrc1_balance_of(Account(owner)))

    def ids(self, page: Any) -> list[str]:
        names = {sale: name for name, sale in self.sales.items()}
        return [names[info.id] for info in page.items]


@pytest.fixture(scope="module")
def built() -> World:
    return World()


def _reset(built: World, snapshot: Any) -> World:
    built.ic.restore(snapshot)
    built.ic.faults.clear()
    return built


@pytest.fixture
def empty(built: World) -> World:
    return _reset(built, built.empty)


@pytest.fixture
def listed(built: World) -> World:
    return _reset(built, built.listed)


@pytest.fixture
def opened(built: World) -> World:
    return _reset(built, built.opened)


# -- a paid deployment ----------------------------------------------------------------------------


def test_a_sale_costs_the_launchpad_fee_exactly(empty: World) -> None:
    world = empty
    assert SERVICE_FEE == 10 * E8S
    backend = world.balance(world.system.backend.id)
    world.system.approve_backend(ALICE, SERVICE_FEE + FEE)
    config = world.config("Paid")
    deployed = world.system.backend.as_caller(ALICE).deploy_launchpad(config).unwrap()
    assert (deployed.service, deployed.fee_paid) == (LAUNCHPAD_FACTORY, SERVICE_FEE)
    assert world.balance(ALICE) == FUNDS - FEE - SERVICE_FEE - FEE
    assert world.balance(world.system.backend.id) == backend + SERVICE_FEE
    assert world.ic.code_of(deployed.canister_id) is LaunchpadSale
    assert world.ic.actor(deployed.canister_id, MALLORY).get_config() == config


def test_the_registry_entry_of_a_sale(empty: World) -> None:
    world = empty
    world.system.approve_backend(ALICE, 2 * (SERVICE_FEE + FEE))
    backend = world.system.backend.as_caller(ALICE)
    fixed = backend.deploy_launchpad(world.config("Fixed")).unwrap().canister_id
    fair = backend.deploy_launchpad(world.config("Fair", sale_type=FairLaunch())).unwrap()
    info = world.factory.as_caller(MALLORY).get_contract_info(fixed)
    assert (info.id, info.kind, info.owner, info.name, info.version, info.status) == (
        fixed, "launchpad", ALICE, "Fixed", "1.0.0", "Upcoming",
    )  # fmt: skip
    assert (info.is_public, info.created_at, info.seq) == (True, world.t0, 0)
    assert info.details == LaunchpadDetails(
        project="Fixed", purchase_token=world.icp.id, sale_type="FixedPrice",
        soft_cap=50 * E8S, hard_cap=100 * E8S, sale_start=world.t0 + HOUR,
        sale_end=world.t0 + 3 * HOUR,
    )  # fmt: skip
    fair_info = world.factory.as_caller(MALLORY).get_contract_info(fair.canister_id)
    assert fair_info.details.sale_type == "FairLaunch"
    meta = world.ic.actor(fixed, MALLORY).get_contract_meta()
    assert (meta.factory, meta.owner, meta.pending_notifications) == (world.factory.id, ALICE, 0)
    created = world.factory.as_caller(ALICE).get_created_contracts(ALICE)
    assert [i.id for i in created.items] == [fixed, fair.canister_id]
    (entry, _) = world.factory.as_caller(ALICE).get_my_contracts(ALICE).items
    assert entry.roles == (CREATOR,)
    backend_id = world.system.backend.id
    assert world.factory.as_caller(backend_id).get_my_contracts(backend_id).total == 0


def test_a_sale_is_controlled_by_its_factory_alone(listed: World) -> None:
    world = listed
    for sale in world.sales.values():
        assert world.ic.controllers_of(sale) == (world.factory.id,)
    sale = world.sales["a"]
    for caller in (ALICE, world.system.operator):
        error = rejected(
            lambda c=caller: world.ic.upgrade_canister(sale, LaunchpadSale, None, caller=c)
        )
        assert "controller" in error.message.lower()
        assert rejected(lambda c=caller: world.ic.stop_canister(sale, caller=c))
    assert not world.ic.is_stopped(sale)


def test_an_invalid_config_costs_nothing_and_deploys_nothing(empty: World) -> None:
    world = empty
    world.system.approve_backend(ALICE, SERVICE_FEE + FEE)
    before, canisters = world.balance(ALICE), live_canisters(world.ic)
    config = world.config(soft_cap=200 * E8S, max_contribution=0)
    result = world.system.backend.as_caller(ALICE).deploy_launchpad(config)
    assert isinstance(result, Err) and isinstance(result.error, InvalidConfig)
    assert "the soft cap must not be above the hard cap" not in result.error.reasons
    assert any("max_contribution" in reason for reason in result.error.reasons)
    assert (world.balance(ALICE), live_canisters(world.ic)) == (before, canisters)
    assert world.factory.get_stats().contracts == 0


def test_a_sale_token_with_other_decimals_is_refunded(empty: World) -> None:
    world = empty
    world.system.approve_backend(ALICE, SERVICE_FEE + FEE)
    before, canisters = world.balance(ALICE), live_canisters(world.ic)
    config = world.config(sale_token=ExistingToken(world.token.id, 6), tokens_for_sale=10**9)
    result = world.system.backend.as_caller(ALICE).deploy_launchpad(config)
    assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed)
    assert "8 decimals, not the 6" in result.error.reason
    assert result.error.refund is not None and result.error.refund.status == "Completed"
    assert result.error.refund.amount == SERVICE_FEE
    assert world.balance(ALICE) == before - SERVICE_FEE - FEE + SERVICE_FEE
    assert live_canisters(world.ic) == canisters
    assert world.factory.get_stats().contracts == 0


@pytest.mark.parametrize("caller", [ALICE, MALLORY], ids=["a creator", "a stranger"])
def test_only_the_backend_may_ask_the_factory_to_deploy(listed: World, caller: Principal) -> None:
    world = listed
    canisters, index = live_canisters(world.ic), world.ic.state_of(world.factory.id).index
    error = rejected(
        lambda: world.factory.as_caller(caller).create_contract(caller, world.config())
    )
    assert "Unauthorized: deploy via the backend" in error.message
    assert live_canisters(world.ic) == canisters
    assert world.ic.state_of(world.factory.id).index == index


# -- listings -------------------------------------------------------------------------------------


def _pages(world: World, method: str, reader: Principal, *args: Any, limit: int = 3) -> Any:
    """Every page of a listing read by ``reader``, ``limit`` at a time: (names, next_offset,
    total) per page."""
    factory = world.factory.as_caller(reader)
    pages, offset = [], 0
    while offset is not None:
        page = getattr(factory, method)(*args, offset, limit)
        pages.append((world.ids(page), page.next_offset, page.total))
        offset = page.next_offset
    return pages


def test_active_sales_paginate_oldest_first(listed: World) -> None:
    world = listed
    assert _pages(world, "get_active_sales", ALICE) == [
        (["a", "b", "c"], 3, None), (["d", "e", "g"], None, None),
    ]  # fmt: skip
    assert _pages(world, "get_active_sales", MALLORY) == [
        (["a", "c", "d"], 3, None), (["e", "g"], None, None),
    ]  # fmt: skip
    assert _pages(world, "get_active_sales", BOB, limit=2) == [
        (["a", "c"], 2, None), (["d", "e"], 4, None), (["f", "g"], None, None),
    ]  # fmt: skip
    operator = world.system.operator
    assert [names for page in _pages(world, "get_active_sales", operator, limit=7)
            for names in page[0]] == list("abcdefg")  # fmt: skip


def test_sales_by_state_paginate_and_follow_the_clock(opened: World) -> None:
    world = opened
    assert _pages(world, "get_sales_by_state", MALLORY, SaleState.UPCOMING) == [([], None, None)]
    assert _pages(world, "get_sales_by_state", MALLORY, SaleState.SALE_ACTIVE) == [
        (["a", "c", "d"], 3, None), (["e", "g"], None, None),
    ]  # fmt: skip
    assert _pages(world, "get_sales_by_state", CAROL, SaleState.SALE_ACTIVE, limit=4) == [
        (["a", "b", "c", "d"], 4, None), (["e", "g"], None, None),
    ]  # fmt: skip
    world.ic.set_time(world.t0 + 3 * HOUR)
    assert _pages(world, "get_active_sales", ALICE) == [([], None, None)]
    assert _pages(world, "get_sales_by_state", ALICE, SaleState.REFUNDED, limit=4) == [
        (["a", "b", "c", "d"], 4, None), (["e", "g"], None, None),
    ]  # fmt: skip
    stats = world.factory.get_stats()
    assert stats.by_status == (("Refunded", 7),)
    assert world.ic.actor(world.sales["b"], CAROL).get_participant(CAROL).refund_block is not None


def test_a_private_sale_is_listed_for_its_participants(opened: World) -> None:
    world = opened
    carol = world.factory.as_caller(CAROL)
    assert world.ids(carol.get_active_sales()) == ["a", "b", "c", "d", "e", "g"]
    (entry,) = carol.get_my_contracts(CAROL).items
    assert (entry.info.id, entry.roles) == (world.sales["b"], (PARTICIPANT,))
    by_role = carol.get_contracts_by_role(CAROL, PARTICIPANT)
    assert [info.id for info in by_role.items] == [world.sales["b"]]
    assert world.ids(world.factory.as_caller(MALLORY).get_active_sales()) == [
        "a",
        "c",
        "d",
        "e",
        "g",
    ]


@pytest.mark.parametrize(("offset", "limit"), [(-1, 3), (0, 0), (0, 1001), (True, 3), (0, "3")])
def test_a_bad_page_is_rejected(listed: World, offset: Any, limit: Any) -> None:
    world = listed
    for method, args in (("get_active_sales", ()), ("get_sales_by_state", (SaleState.UPCOMING,))):
        assert rejected(
            lambda m=method, a=args: getattr(world.factory.as_caller(MALLORY), m)(*a, offset, limit)
        )


def test_a_sale_reports_its_state_once_per_change(listed: World) -> None:
    world = listed
    world.ic.trace.clear()
    world.ic.set_time(world.t0 + HOUR)
    reports = world.ic.trace.calls("notify_status_changed", world.factory.id, outcome="reply")
    assert sorted(entry.args for entry in reports) == [("SaleActive",)] * 4
    assert {entry.caller for entry in reports} == {world.sales[n] for n in "aceg"}
    info = world.factory.as_caller(ALICE).get_contract_info(world.sales["a"])
    assert info.status == "SaleActive"
    assert world.factory.as_caller(ALICE).get_contract_info(world.sales["b"]).status == "Upcoming"


def test_the_factory_counts_its_sales(listed: World) -> None:
    world = listed
    stats = world.factory.get_stats()
    assert (stats.kind, stats.contracts, stats.public_contracts, stats.deployed) == (
        "launchpad", 7, 5, 7,
    )  # fmt: skip
    assert stats.by_status == (("Upcoming", 7),)
    assert world.factory.get_latest_stable_version() == LaunchpadSale.VERSION
