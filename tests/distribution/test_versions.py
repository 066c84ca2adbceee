"""Version management of distributions: a distribution upgraded by its factory keeps everything.

A new distribution version (1.1.0, whose state adds a ``memo`` field and migrates the old state
in ``post_upgrade``) is uploaded to the Distribution Factory. Upgrading a funded, active
distribution whose recipients have claimed, unlocked early and registered keeps every
participant, claim, total and the factory's index of it; the distribution then runs 1.1.0, the
factory says so, and claims go on paying exactly what the schedule unlocks. Only the owner or an
admin may upgrade; a notification the factory did not take before the upgrade is still resent;
a rollback to 1.0.0 keeps everything too, and a migration that traps leaves the distribution
exactly as it was.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from icto import E8S, IC, Account, Err, Ok, Principal, Trap, query
from icto.distribution import (
    RECIPIENT,
    Category,
    Distribution,
    DistributionConfig,
    DistributionState,
    Fixed,
    Linear,
    NothingToClaim,
    Phase,
    Whitelist,
    Window,
    days,
)
from icto.factory import CREATOR, ContractInit, UpgradeFailed
from icto.ic.proxy import CanisterProxy
from icto.ledger.types import ApproveArgs
from icto.system import System, deploy_system
from tests.helpers import rejected

ALICE, BOB, CAROL, DAVE, FRANK, MALLORY = (
    Principal.from_name(name) for name in ("alice", "bob", "carol", "dave", "frank", "mallory")
)
EVERYONE = (ALICE, BOB, CAROL, DAVE, FRANK, MALLORY)
FEE = 10_000
DAY = days(1)
VESTING = days(10)


@attrs.frozen
class DistributionStateV2(DistributionState):
    memo: str = ""


class DistributionV2(Distribution):
    """Distribution 1.1.0: the state carries a memo; the 1.0.0 state is migrated on upgrade."""

    VERSION = "1.1.0"

    state: DistributionStateV2

    def init(self, arg: ContractInit) -> None:
        super().init(arg)
        self.state = DistributionStateV2(**attrs.asdict(self.state, recurse=False))

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        super().post_upgrade(DistributionStateV2(**attrs.asdict(stable, recurse=False)), arg)

    @query
    def get_memo(self) -> str | None:
        return self.state.memo if self._may_read() else None


class DistributionBrokenMigration(DistributionV2):
    """A 1.2.0 whose migration traps."""

    VERSION = "1.2.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        raise Trap("cannot migrate")


class World:
    """The platform and alice's distribution of ICP: "team" 100 to bob 60 and carol 40, "pool"
    30 on a whitelist of dave for 10, both linear over 10 days, early unlock at a 50 % penalty.
    Two snapshots: ``before_start`` (funded, the whitelist open, 1.1.0 not uploaded yet) and
    ``active``: halfway through, after dave registered, bob claimed 10, carol unlocked early
    and dave claimed 2, with 1.1.0 uploaded."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.factory = self.system.distribution_factory
        self.start = self.ic.time + DAY
        window = Window(self.ic.time, self.start)
        config = DistributionConfig(
            title="Team vesting", token=self.system.icp_ledger.id, start=self.start,
            categories=(
                Category("team", 100 * E8S, Fixed(((BOB, 60 * E8S), (CAROL, 40 * E8S))),
                         Linear(VESTING)),
                Category("pool", 30 * E8S, Whitelist(((DAVE, 10 * E8S),), window),
                         Linear(VESTING)),
            ),
            penalty_bp=5_000,
        )  # fmt: skip
        self.config = config
        self.system.faucet(ALICE, 1_000 * E8S)
        self.system.approve_backend(ALICE, 5 * E8S)
        deployed = self.system.backend.as_caller(ALICE).deploy_distribution(config).unwrap()
        self.dist: Principal = deployed.canister_id
        approval = ApproveArgs(spender=Account(self.dist), amount=1_000 * E8S)
        self.system.icp_ledger.as_caller(ALICE).icrc2_approve(approval).unwrap()
        self.as_(ALICE).fund().unwrap()
        self.before_start = self.ic.snapshot()
        assert self.as_(DAVE).register(1) == Ok(10 * E8S)
        self.ic.set_time(self.start + VESTING // 2)
        assert self.as_(BOB).claim(10 * E8S).unwrap().amount == 10 * E8S
        assert self.as_(CAROL).early_unlock().unwrap().amount == 30 * E8S
        assert self.as_(DAVE).claim(2 * E8S).unwrap().amount == 2 * E8S
        uploaded = self.factory.upload_version("1.1.0", DistributionV2, "adds memo")
        assert uploaded == Ok("1.1.0")
        self.active = self.ic.snapshot()

    def as_(self, user: Principal) -> CanisterProxy:
        return self.ic.actor(self.dist, user)

    def reset(self, snapshot: Any) -> World:
        self.ic.restore(snapshot)
        self.ic.faults.clear()
        return self

    def view(self) -> dict[str, Any]:
        """Everything the distribution and the factory show of it, but its version."""
        owner = self.as_(ALICE)
        info = self.factory.as_caller(ALICE).get_contract_info(self.dist)
        return {
            "participants": {user: owner.get_participant(user) for user in EVERYONE},
            "schedules": {user: owner.get_schedule(user) for user in EVERYONE},
            "claims": owner.get_claims(None, 0, 100),
            "claims by user": {user: owner.get_claims(user, 0, 100) for user in EVERYONE},
            "stats": owner.get_stats(),
            "phase": owner.get_phase(),
            "info": attrs.evolve(info, version="?"),
            "roles": {user: self.indexed_roles(user) for user in EVERYONE},
            "balance": self.system.icp_balance(self.dist),
        }

    def kept_state(self) -> dict[str, Any]:
        """The distribution's state fields, but the memo."""
        fields = attrs.asdict(self.ic.state_of(self.dist), recurse=False)
        return {name: value for name, value in fields.items() if name != "memo"}

    def indexed_roles(self, user: Principal) -> set[str]:
        page = self.factory.as_caller(user).get_my_contracts(user)
        return {role for entry in page.items if entry.info.id == self.dist for role in entry.roles}

    def version(self) -> str:
        info = self.factory.as_caller(ALICE).get_contract_info(self.dist)
        running: str = self.as_(ALICE).get_contract_meta().version
        assert info.version == running
        return running


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    return built.reset(built.active)


# -- upgrading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("upgrader", ["owner", "admin"])
def test_an_upgrade_keeps_every_participant_claim_total_and_index_entry(
    world: World, upgrader: str
) -> None:
    view, state = world.view(), world.kept_state()
    factory = world.factory.as_caller(ALICE) if upgrader == "owner" else world.factory
    assert factory.upgrade_contract(world.dist) == Ok("1.1.0")
    assert world.ic.code_of(world.dist) is DistributionV2
    assert isinstance(world.ic.state_of(world.dist), DistributionStateV2)
    assert world.version() == "1.1.0"
    assert world.kept_state() == state
    assert world.view() == view
    assert world.as_(ALICE).get_memo() == ""
    (record,) = world.factory.get_upgrade_history(world.dist)
    assert (record.kind, record.from_version, record.to_version, record.ok) == (
        "upgrade", "1.0.0", "1.1.0", True,
    )  # fmt: skip


def test_the_totals_and_the_index_are_as_they_were_after_an_upgrade(world: World) -> None:
    world.factory.as_caller(ALICE).upgrade_contract(world.dist).unwrap()
    stats = world.as_(ALICE).get_stats()
    assert (stats.phase, stats.total, stats.claimed, stats.penalties, stats.participants) == (
        Phase.ACTIVE, 130 * E8S, 52 * E8S, 10 * E8S, 3,
    )  # fmt: skip
    claims = world.as_(ALICE).get_claims().items
    assert [(c.user, c.amount, c.kind) for c in claims] == [
        (DAVE, 2 * E8S, "claim"), (CAROL, 30 * E8S, "early_unlock"), (BOB, 10 * E8S, "claim"),
    ]  # fmt: skip
    expected = {
        ALICE: {CREATOR}, BOB: {RECIPIENT}, CAROL: {RECIPIENT}, DAVE: {RECIPIENT},
        FRANK: set(), MALLORY: set(),
    }  # fmt: skip
    assert {user: world.indexed_roles(user) for user in EVERYONE} == expected


def test_claims_keep_paying_exactly_what_unlocks_after_an_upgrade(world: World) -> None:
    world.factory.as_caller(ALICE).upgrade_contract(world.dist).unwrap()
    world.ic.set_time(world.start + days(8))
    expected = {BOB: 48 * E8S - 10 * E8S, DAVE: 8 * E8S - 2 * E8S}
    for user, due in expected.items():
        before = world.system.icp_balance(user)
        claim = world.as_(user).claim().unwrap()
        assert (claim.amount, claim.fee_from_reserve) == (due, True)
        assert world.system.icp_balance(user) == before + due
    assert world.as_(CAROL).claim() == Err(NothingToClaim(0))
    world.ic.set_time(world.start + VESTING)
    assert world.as_(ALICE).get_phase() is Phase.COMPLETED
    assert world.as_(BOB).claim().unwrap().amount == 12 * E8S
    assert world.as_(DAVE).claim().unwrap().amount == 2 * E8S
    stats = world.as_(ALICE).get_stats()
    assert (stats.claimed, stats.remaining) == (110 * E8S, 20 * E8S)
    assert [c.id for c in world.as_(ALICE).get_claims().items] == [6, 5, 4, 3, 2, 1, 0]


@pytest.mark.parametrize("user", [BOB, DAVE, MALLORY])
@pytest.mark.parametrize(
    ("move", "version"), [("upgrade_contract", None), ("rollback_contract", "1.0.0")]
)
def test_only_the_owner_or_an_admin_may_change_a_distributions_code(
    world: World, user: Principal, move: str, version: str | None
) -> None:
    state = world.ic.state_of(world.dist)
    factory = world.factory.as_caller(user)
    error = rejected(lambda: getattr(factory, move)(world.dist, version))
    assert "Unauthorized" in error.message
    assert world.ic.state_of(world.dist) == state
    assert world.ic.code_of(world.dist) is Distribution
    assert world.version() == "1.0.0"


def test_a_distribution_asks_its_factory_for_an_upgrade_and_hears_the_outcome(
    world: World,
) -> None:
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


def test_a_notification_the_factory_did_not_take_is_resent_after_an_upgrade(
    built: World,
) -> None:
    world = built.reset(built.before_start)
    world.factory.upload_version("1.1.0", DistributionV2).unwrap()
    world.as_(ALICE).blacklist(DAVE).unwrap()  # frees the pool's one whitelist place for frank
    with world.ic.faults.reject(
        canister=world.factory.id, method="notify_participant_added", times=None
    ):
        assert world.as_(ALICE).add_recipient(FRANK, 1, 20 * E8S) == Ok(None)
        world.factory.as_caller(ALICE).upgrade_contract(world.dist).unwrap()
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 1
    assert world.indexed_roles(FRANK) == set()
    world.ic.advance_time(seconds=61)
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 0
    assert world.indexed_roles(FRANK) == {RECIPIENT}
    world.ic.set_time(world.start + VESTING)
    assert world.as_(FRANK).claim().unwrap().amount == 20 * E8S


def test_a_new_distribution_is_installed_from_the_latest_stable_version(world: World) -> None:
    deployed = world.system.backend.as_caller(ALICE).deploy_distribution(world.config).unwrap()
    second = deployed.canister_id
    assert world.ic.code_of(second) is DistributionV2
    assert world.ic.actor(second, ALICE).get_memo() == ""
    assert world.factory.as_caller(ALICE).get_contract_info(second).version == "1.1.0"


# -- refusals and rollbacks -----------------------------------------------------------------------


def test_a_migration_that_traps_leaves_the_distribution_exactly_as_it_was(world: World) -> None:
    assert world.factory.upload_version("1.2.0", DistributionBrokenMigration) == Ok("1.2.0")
    state, view = world.ic.state_of(world.dist), world.view()
    result = world.factory.as_caller(ALICE).upgrade_contract(world.dist, "1.2.0")
    assert isinstance(result, Err) and isinstance(result.error, UpgradeFailed)
    assert "cannot migrate" in result.error.reason
    assert world.ic.code_of(world.dist) is Distribution
    assert world.ic.state_of(world.dist) == state
    assert (world.version(), world.view()) == ("1.0.0", view)
    assert world.as_(BOB).claim().unwrap().amount == 20 * E8S


def test_a_distribution_rolls_back_to_1_0_0_keeping_everything(world: World) -> None:
    view, state = world.view(), world.kept_state()
    factory = world.factory.as_caller(ALICE)
    factory.upgrade_contract(world.dist).unwrap()
    assert factory.rollback_contract(world.dist, "1.0.0") == Ok("1.0.0")
    assert world.ic.code_of(world.dist) is Distribution
    assert world.version() == "1.0.0"
    assert (world.kept_state(), world.view()) == (state, view)
    assert world.as_(BOB).claim().unwrap().amount == 20 * E8S
    kinds = [record.kind for record in world.factory.get_upgrade_history(world.dist)]
    assert kinds == ["upgrade", "rollback"]
