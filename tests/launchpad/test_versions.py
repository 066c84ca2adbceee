"""Version management of sales: a sale upgraded by its factory keeps everything, and its clock.

A new sale version (1.1.0, whose state adds a ``memo`` field and migrates the old state in
``post_upgrade``) is uploaded to the Launchpad Factory. Upgrading a sale during SaleActive keeps
every contribution, participant, affiliate, the amount raised, the escrow and the factory's
index of it; the sale then runs 1.1.0 and the factory says so. Timers do not survive an upgrade,
so the sale re-arms the next transition: without anyone calling ``check_status``, it ends at its
exact end (Successful, or Failed and refunded). A sale upgraded while Refunding re-arms its
refund batches. Only the creator or an admin may upgrade; the creator may have the sale ask for
it; a notification the factory did not take is still resent; a migration that traps leaves the
sale exactly as it was, and a rollback to 1.0.0 keeps everything too, timers included.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
import pytest

from icto import E8S, IC, Account, Err, Ok, Principal, Trap, query
from icto.factory import CREATOR, ContractInit, UpgradeFailed
from icto.ic.proxy import CanisterProxy
from icto.launchpad import (
    PARTICIPANT,
    FixedPrice,
    LaunchpadConfig,
    LaunchpadSale,
    ProjectInfo,
    RefundStatus,
    SaleState,
)
from icto.launchpad.sale import FINALIZE_AFTER_NS
from icto.launchpad.types import LaunchpadState
from icto.ledger.types import ApproveArgs
from icto.system import System, deploy_system
from icto.token import TokenConfig
from tests.helpers import rejected

ALICE, BOB, CAROL, DAVE, ERIN, MALLORY = (
    Principal.from_name(name) for name in ("alice", "bob", "carol", "dave", "erin", "mallory")
)
EVERYONE: Final = (ALICE, BOB, CAROL, DAVE, ERIN, MALLORY)
FEE: Final = 10_000
HOUR: Final = 3_600 * 10**9
CONTRIBUTED: Final = {BOB: 20 * E8S, CAROL: 15 * E8S, DAVE: 10 * E8S}
RAISED: Final = sum(CONTRIBUTED.values())
SOFT_CAP: Final = 50 * E8S


@attrs.frozen
class LaunchpadStateV2(LaunchpadState):
    memo: str = ""


class LaunchpadSaleV2(LaunchpadSale):
    """Sale 1.1.0: the state carries a memo; the 1.0.0 state is migrated on upgrade."""

    VERSION = "1.1.0"

    state: LaunchpadStateV2

    def init(self, arg: ContractInit) -> None:
        super().init(arg)
        self.state = LaunchpadStateV2(**attrs.asdict(self.state, recurse=False))

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        super().post_upgrade(LaunchpadStateV2(**attrs.asdict(stable, recurse=False)), arg)

    @query
    def get_memo(self) -> str | None:
        return self.state.memo if self._may_read() else None


class LaunchpadSaleBrokenMigration(LaunchpadSaleV2):
    """A 1.2.0 whose migration traps."""

    VERSION = "1.2.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        raise Trap("cannot migrate")


class World:
    """The platform and alice's sale of a new token for ICP (soft cap 50, hard cap 100, 1 to
    60 each), open from ``start`` to ``end``. Snapshots: ``upcoming`` (before the start, 1.1.0
    not uploaded yet) and ``active``: an hour into the sale, bob (naming carol as affiliate),
    carol and dave have contributed 45 in all, and 1.1.0 is uploaded."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.factory = self.system.launchpad_factory
        self.icp = self.system.icp_ledger
        self.start = self.ic.time + HOUR
        self.end = self.start + 2 * HOUR
        self.config = LaunchpadConfig(
            project=ProjectInfo("Upgradable"), sale_token=TokenConfig(name="Upper", symbol="UP"),
            purchase_token=self.icp.id, sale_type=FixedPrice(E8S), tokens_for_sale=1_000 * E8S,
            soft_cap=SOFT_CAP, hard_cap=100 * E8S, min_contribution=E8S,
            max_contribution=60 * E8S, sale_start=self.start, sale_end=self.end,
            affiliate_bp=500, raised_allocation=((Account(ALICE), 10_000),),
        )  # fmt: skip
        for user in EVERYONE:
            self.system.faucet(user, 1_000 * E8S)
        self.system.approve_backend(ALICE, 5 * 11 * E8S)
        deployed = self.system.backend.as_caller(ALICE).deploy_launchpad(self.config).unwrap()
        self.sale: Principal = deployed.canister_id
        approval = ApproveArgs(spender=Account(self.sale), amount=100 * E8S)
        for user in EVERYONE:
            self.icp.as_caller(user).icrc2_approve(approval).unwrap()
        self.upcoming = self.ic.snapshot()
        self.ic.set_time(self.start + HOUR // 2)
        for user, amount in CONTRIBUTED.items():
            affiliate = CAROL if user == BOB else None
            assert self.as_(user).contribute(amount, affiliate) == Ok(amount)
        self.ic.set_time(self.start + HOUR)
        assert self.factory.upload_version("1.1.0", LaunchpadSaleV2, "adds memo") == Ok("1.1.0")
        self.active = self.ic.snapshot()

    def as_(self, user: Principal) -> CanisterProxy:
        return self.ic.actor(self.sale, user)

    def reset(self, snapshot: Any) -> World:
        self.ic.restore(snapshot)
        self.ic.faults.clear()
        return self

    def balance(self, owner: Principal) -> int:
        return int(self.icp.icrc1_balance_of(Account(owner)))

    def view(self) -> dict[str, Any]:
        """Everything the sale and the factory show of the sale, but its version."""
        owner = self.as_(ALICE)
        info = self.factory.as_caller(ALICE).get_contract_info(self.sale)
        return {
            "sale": owner.get_sale(),
            "state": owner.get_state(),
            "config": owner.get_config(),
            "stats": owner.get_stats(),
            "participants": owner.get_participants(),
            "each": {user: owner.get_participant(user) for user in EVERYONE},
            "affiliates": owner.get_affiliates(),
            "refunds": owner.get_refund_progress(),
            "info": attrs.evolve(info, version="?"),
            "roles": {user: self.indexed_roles(user) for user in EVERYONE},
            "escrow": self.balance(self.sale),
        }

    def kept_state(self) -> dict[str, Any]:
        """The sale's state fields, but the memo and the timers' ids (re-armed on upgrade)."""
        fields = attrs.asdict(self.ic.state_of(self.sale), recurse=False)
        left_out = ("memo", "timer", "refund_timer", "finalize_timer")
        return {name: value for name, value in fields.items() if name not in left_out}

    def indexed_roles(self, user: Principal) -> set[str]:
        page = self.factory.as_caller(user).get_my_contracts(user)
        return {role for entry in page.items if entry.info.id == self.sale for role in entry.roles}

    def version(self) -> str:
        info = self.factory.as_caller(ALICE).get_contract_info(self.sale)
        running: str = self.as_(ALICE).get_contract_meta().version
        assert info.version == running
        return running

    def recorded(self) -> SaleState:
        """The state the sale has recorded (reads derive the due one; this does not)."""
        status: SaleState = self.ic.state_of(self.sale).status
        return status

    def registry_status(self) -> str:
        status: str = self.factory.as_caller(ALICE).get_contract_info(self.sale).status
        return status

    def assert_ends_by_itself(self, verdict: SaleState) -> None:
        """Without a ``check_status`` call: still open one ns before the end, ``verdict`` (and
        the registry says so) at it."""
        self.ic.set_time(self.end - 1)
        assert self.recorded() is SaleState.SALE_ACTIVE
        assert self.registry_status() == "SaleActive"
        self.ic.set_time(self.end)
        assert self.recorded() is verdict
        assert self.registry_status() == str(verdict)

    def assert_refunded_once(
        self, owed: dict[Principal, int], before: dict[Principal, int]
    ) -> None:
        for user, amount in owed.items():
            assert self.balance(user) == before[user] + amount - FEE, user
            assert self.as_(ALICE).get_participant(user).refund is RefundStatus.REFUNDED
        assert self.balance(self.sale) == 0
        assert self.recorded() is SaleState.REFUNDED
        assert self.registry_status() == "Refunded"


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    return built.reset(built.active)


# -- upgrading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("upgrader", ["creator", "admin"])
def test_an_upgrade_during_the_sale_keeps_every_contribution_and_index_entry(
    world: World, upgrader: str
) -> None:
    view, state, timers = world.view(), world.kept_state(), world.ic.pending_timers()
    factory = world.factory.as_caller(ALICE) if upgrader == "creator" else world.factory
    assert factory.upgrade_contract(world.sale) == Ok("1.1.0")
    assert world.ic.code_of(world.sale) is LaunchpadSaleV2
    assert isinstance(world.ic.state_of(world.sale), LaunchpadStateV2)
    assert world.version() == "1.1.0"
    assert world.kept_state() == state
    assert world.view() == view
    assert world.as_(ALICE).get_memo() == ""
    assert world.ic.pending_timers() == timers
    (record,) = world.factory.get_upgrade_history(world.sale)
    assert (record.kind, record.from_version, record.to_version, record.ok) == (
        "upgrade", "1.0.0", "1.1.0", True,
    )  # fmt: skip


def test_contributions_participants_and_raised_are_as_they_were(world: World) -> None:
    world.factory.as_caller(ALICE).upgrade_contract(world.sale).unwrap()
    sale = world.as_(ALICE).get_sale()
    assert (sale.raised, sale.participants, sale.state) == (RAISED, 3, SaleState.SALE_ACTIVE)
    listed = [(p.user, p.contribution) for p in world.as_(ALICE).get_participants().items]
    assert listed == list(CONTRIBUTED.items())
    assert world.as_(MALLORY).get_affiliates() == ((CAROL, 20 * E8S),)
    assert world.balance(world.sale) == RAISED
    expected = {
        ALICE: {CREATOR}, BOB: {PARTICIPANT}, CAROL: {PARTICIPANT}, DAVE: {PARTICIPANT},
        ERIN: set(), MALLORY: set(),
    }  # fmt: skip
    assert {user: world.indexed_roles(user) for user in EVERYONE} == expected
    assert world.as_(BOB).contribute(41 * E8S).error.would_be == 61 * E8S
    assert world.as_(ERIN).contribute(5 * E8S) == Ok(5 * E8S)
    assert world.as_(ALICE).get_sale().raised == RAISED + 5 * E8S


def test_the_end_of_the_sale_is_rearmed_by_the_upgrade(world: World) -> None:
    world.factory.as_caller(ALICE).upgrade_contract(world.sale).unwrap()
    assert world.as_(ERIN).contribute(10 * E8S) == Ok(10 * E8S)
    world.assert_ends_by_itself(SaleState.SUCCESSFUL)
    stats = world.as_(ALICE).get_stats()
    assert (stats.raised, stats.allocated, stats.leftover) == (55 * E8S, 55 * E8S, 945 * E8S)
    assert world.balance(world.sale) == 55 * E8S


def test_a_successful_sale_upgraded_before_its_pipeline_finalizes_by_itself(world: World) -> None:
    assert world.as_(ERIN).contribute(10 * E8S) == Ok(10 * E8S)
    world.ic.set_time(world.end)
    assert world.recorded() is SaleState.SUCCESSFUL
    world.factory.as_caller(ALICE).upgrade_contract(world.sale).unwrap()
    assert world.ic.state_of(world.sale).finalize_timer is not None
    world.ic.set_time(world.end + FINALIZE_AFTER_NS - 1)
    assert world.recorded() is SaleState.SUCCESSFUL
    world.ic.set_time(world.end + FINALIZE_AFTER_NS)
    assert world.recorded() is SaleState.FINALIZED
    assert world.registry_status() == "Finalized"
    assert world.balance(world.sale) == 0


def test_a_sale_upgraded_during_its_run_fails_and_refunds_by_itself(world: World) -> None:
    before = {user: world.balance(user) for user in CONTRIBUTED}
    world.factory.as_caller(ALICE).upgrade_contract(world.sale).unwrap()
    world.ic.set_time(world.end - 1)
    assert world.recorded() is SaleState.SALE_ACTIVE
    world.ic.set_time(world.end)
    world.assert_refunded_once(CONTRIBUTED, before)


def test_a_sale_upgraded_before_it_opens_opens_by_itself(built: World) -> None:
    world = built.reset(built.upcoming)
    world.factory.upload_version("1.1.0", LaunchpadSaleV2).unwrap()
    world.factory.as_caller(ALICE).upgrade_contract(world.sale).unwrap()
    world.ic.set_time(world.start - 1)
    assert (world.recorded(), world.registry_status()) == (SaleState.UPCOMING, "Upcoming")
    world.ic.set_time(world.start)
    assert (world.recorded(), world.registry_status()) == (SaleState.SALE_ACTIVE, "SaleActive")
    assert world.as_(BOB).contribute(60 * E8S) == Ok(60 * E8S)
    world.assert_ends_by_itself(SaleState.SUCCESSFUL)


def test_upgrading_a_sale_while_refunding_rearms_the_refund_batches(world: World) -> None:
    before = {user: world.balance(user) for user in CONTRIBUTED}
    assert world.as_(ALICE).cancel() == Ok(SaleState.REFUNDING)
    assert world.ic.state_of(world.sale).refund_timer is not None
    world.factory.as_caller(ALICE).upgrade_contract(world.sale).unwrap()
    assert world.ic.state_of(world.sale).refund_timer is not None
    assert world.recorded() is SaleState.REFUNDING
    world.ic.tick()
    world.assert_refunded_once(CONTRIBUTED, before)
    assert world.version() == "1.1.0"


def test_refunds_stopped_by_a_fault_finish_after_an_upgrade(world: World) -> None:
    before = {user: world.balance(user) for user in CONTRIBUTED}
    with world.ic.faults.reject(
        canister=world.icp.id, method="icrc1_transfer", after=1, times=None
    ) as rule:
        world.ic.set_time(world.end)
    assert rule.fired >= 1
    progress = world.as_(MALLORY).get_refund_progress()
    assert (progress.state, progress.refunded) == (SaleState.REFUNDING, 1)
    world.factory.as_caller(ALICE).upgrade_contract(world.sale).unwrap()
    world.ic.advance_time(minutes=1)
    if world.recorded() is SaleState.REFUNDING:
        world.as_(MALLORY).retry_refunds().unwrap()
        world.ic.tick()
    world.assert_refunded_once(CONTRIBUTED, before)


@pytest.mark.parametrize("user", [BOB, MALLORY])
@pytest.mark.parametrize(
    ("move", "version"), [("upgrade_contract", None), ("rollback_contract", "1.0.0")]
)
def test_only_the_creator_or_an_admin_may_change_a_sales_code(
    world: World, user: Principal, move: str, version: str | None
) -> None:
    state = world.ic.state_of(world.sale)
    factory = world.factory.as_caller(user)
    error = rejected(lambda: getattr(factory, move)(world.sale, version))
    assert "Unauthorized" in error.message
    assert world.ic.state_of(world.sale) == state
    assert world.ic.code_of(world.sale) is LaunchpadSale
    assert world.version() == "1.0.0"


@pytest.mark.parametrize("user", [BOB, MALLORY])
def test_only_the_creator_may_have_the_sale_ask_for_an_upgrade(
    world: World, user: Principal
) -> None:
    state = world.ic.state_of(world.sale)
    assert "only the owner" in rejected(lambda: world.as_(user).request_upgrade("1.1.0")).message
    world.ic.tick()
    assert world.ic.state_of(world.sale) == state
    assert world.version() == "1.0.0"


def test_a_sale_asks_its_factory_for_an_upgrade_and_hears_the_outcome(world: World) -> None:
    state = world.kept_state()
    assert world.as_(ALICE).request_upgrade("1.1.0") == Ok("1.1.0")
    world.ic.tick()
    meta = world.as_(ALICE).get_contract_meta()
    assert (meta.version, meta.upgrade_requested, meta.last_upgrade) == (
        "1.1.0", None, ("1.1.0", None),
    )  # fmt: skip
    assert world.version() == "1.1.0"
    changed = {name for name, value in world.kept_state().items() if state[name] != value}
    assert changed == {"meta"}
    assert world.as_(ERIN).contribute(10 * E8S) == Ok(10 * E8S)
    world.assert_ends_by_itself(SaleState.SUCCESSFUL)


def test_a_notification_the_factory_did_not_take_is_resent_after_an_upgrade(
    world: World,
) -> None:
    with world.ic.faults.reject(
        canister=world.factory.id, method="notify_participant_added", times=None
    ):
        assert world.as_(ERIN).contribute(5 * E8S) == Ok(5 * E8S)
        world.factory.as_caller(ALICE).upgrade_contract(world.sale).unwrap()
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 1
    assert world.indexed_roles(ERIN) == set()
    world.ic.advance_time(seconds=61)
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 0
    assert world.indexed_roles(ERIN) == {PARTICIPANT}


def test_a_new_sale_is_installed_from_the_latest_stable_version(world: World) -> None:
    config = attrs.evolve(world.config, project=ProjectInfo("Second"))
    deployed = world.system.backend.as_caller(ALICE).deploy_launchpad(config).unwrap()
    second = deployed.canister_id
    assert world.ic.code_of(second) is LaunchpadSaleV2
    assert world.ic.actor(second, ALICE).get_memo() == ""
    assert world.factory.as_caller(ALICE).get_contract_info(second).version == "1.1.0"
    assert world.ic.actor(second, ALICE).get_state() is SaleState.SALE_ACTIVE


# -- refusals and rollbacks -----------------------------------------------------------------------


def test_a_migration_that_traps_leaves_the_sale_exactly_as_it_was(world: World) -> None:
    assert world.factory.upload_version("1.2.0", LaunchpadSaleBrokenMigration) == Ok("1.2.0")
    state, view = world.ic.state_of(world.sale), world.view()
    result = world.factory.as_caller(ALICE).upgrade_contract(world.sale, "1.2.0")
    assert isinstance(result, Err) and isinstance(result.error, UpgradeFailed)
    assert "cannot migrate" in result.error.reason
    assert world.ic.code_of(world.sale) is LaunchpadSale
    assert world.ic.state_of(world.sale) == state
    assert (world.version(), world.view()) == ("1.0.0", view)
    assert world.as_(ERIN).contribute(10 * E8S) == Ok(10 * E8S)
    world.assert_ends_by_itself(SaleState.SUCCESSFUL)


def test_a_sale_rolls_back_to_1_0_0_keeping_everything(world: World) -> None:
    view, state = world.view(), world.kept_state()
    factory = world.factory.as_caller(ALICE)
    factory.upgrade_contract(world.sale).unwrap()
    assert factory.rollback_contract(world.sale, "1.0.0") == Ok("1.0.0")
    assert world.ic.code_of(world.sale) is LaunchpadSale
    assert world.version() == "1.0.0"
    assert (world.kept_state(), world.view()) == (state, view)
    kinds = [record.kind for record in world.factory.get_upgrade_history(world.sale)]
    assert kinds == ["upgrade", "rollback"]
    before = {user: world.balance(user) for user in CONTRIBUTED}
    world.ic.set_time(world.end)
    world.assert_refunded_once(CONTRIBUTED, before)
