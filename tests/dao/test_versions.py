"""Version management of DAOs: a DAO upgraded by its factory keeps everything.

A new DAO version (1.1.0, whose state adds a ``memo`` field and migrates the old state in
``post_upgrade``) is uploaded to the DAO Factory. Upgrading a DAO that holds stakes, a
delegation, an Accepted proposal in its timelock and two open proposals with votes keeps every
stake, vote, tally, snapshot, delegation, deposit, the config, the treasury and the factory's
index of it; the DAO then runs 1.1.0 and the factory says so. Timers do not survive an upgrade,
so the DAO re-arms each open proposal's end: without anyone calling ``tally``, the open
proposals are decided at their exact end (one Accepted, one Rejected with quorum), and the
Accepted one executes at the exact end of its timelock. Only the creator or an admin may
upgrade; the creator may have the DAO ask for it; a notification the factory did not take is
still resent; a migration that traps leaves the DAO exactly as it was, and a rollback to 1.0.0
keeps everything too, timers included.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
import pytest

from icto import E8S, IC, Account, Err, Ok, Principal, Trap, query
from icto.dao import (
    DAO,
    MEMBER,
    Choice,
    DAOConfig,
    DepositStatus,
    Motion,
    NotYet,
    ProposalStatus,
    StillLocked,
    TreasuryTransfer,
)
from icto.dao.types import DAOState
from icto.distribution import days
from icto.factory import CREATOR, ContractInit, UpgradeFailed
from icto.ic.proxy import CanisterProxy
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import ApproveArgs, TransferArgs
from icto.system import System, deploy_system
from tests.helpers import rejected

ALICE, BOB, CAROL, DAVE, ERIN, FRANK, MALLORY = (
    Principal.from_name(name)
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "mallory")
)
RECIPIENT = Principal.from_name("recipient")
EVERYONE: Final = (ALICE, BOB, CAROL, DAVE, ERIN, FRANK, MALLORY)
GOV_MINTER = Principal.from_name("gov-minter")
FEE: Final = 10_000
VOTING: Final = days(3)
TIMELOCK: Final = days(1)
DEPOSIT: Final = 5 * E8S
TREASURY: Final = 30 * E8S
YES, NO = Choice.YES, Choice.NO


@attrs.frozen
class DAOStateV2(DAOState):
    memo: str = ""


class DAOV2(DAO):
    """DAO 1.1.0: the state carries a memo; the 1.0.0 state is migrated on upgrade."""

    VERSION = "1.1.0"

    state: DAOStateV2

    def init(self, arg: ContractInit) -> None:
        super().init(arg)
        self.state = DAOStateV2(**attrs.asdict(self.state, recurse=False))

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        super().post_upgrade(DAOStateV2(**attrs.asdict(stable, recurse=False)), arg)

    @query
    def get_memo(self) -> str | None:
        return self.state.memo if self._may_read() else None


class DAOBrokenMigration(DAOV2):
    """A 1.2.0 whose migration traps."""

    VERSION = "1.2.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        raise Trap("cannot migrate")


class World:
    """The platform and alice's DAO of a governance token (threshold 10, deposit 5, quorum
    20 %, approval 50 %, voting 3 days, timelock 1 day, 1.5x for 30-day locks), with 1.1.0
    uploaded. Bob staked 100 unlocked, carol 60 for 30 days (90 power), dave 50 unlocked and
    delegates to carol; the treasury holds 30.

    - #0 ``accepted``: bob's motion, voted yes by bob and carol, Accepted, in its timelock;
    - #1 ``passing``: carol's transfer of 10 from the treasury to the recipient, voted yes by
      bob, open;
    - #2 ``failing``: bob's motion, voted no by carol (with dave's power), open.
    """

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.factory = self.system.dao_factory
        self.gov = deploy_ledger(self.ic, ICP.init(Account(GOV_MINTER)))
        self.system.faucet(ALICE, 100 * E8S)
        self.system.approve_backend(ALICE, 20 * E8S)
        self.config = DAOConfig(
            name="Gov DAO", token=self.gov.id, minimum_stake=E8S, proposal_threshold=10 * E8S,
            proposal_deposit=DEPOSIT, quorum_bp=2_000, approval_bp=5_000, voting_period=VOTING,
            timelock=TIMELOCK, lock_tiers=((0, 10_000), (days(30), 15_000)),
            emergency_contacts=(ERIN,),
        )  # fmt: skip
        deployed = self.system.backend.as_caller(ALICE).deploy_dao(self.config).unwrap()
        self.dao: Principal = deployed.canister_id
        for user in (BOB, CAROL, DAVE, FRANK):
            self.mint(Account(user), 1_000 * E8S)
            approval = ApproveArgs(spender=Account(self.dao), amount=10_000 * E8S)
            self.gov.as_caller(user).icrc2_approve(approval).unwrap()
        self.mint(Account(self.dao), TREASURY)
        self.as_(BOB).stake(100 * E8S, 0).unwrap()
        self.as_(CAROL).stake(60 * E8S, days(30)).unwrap()
        self.as_(DAVE).stake(50 * E8S, 0).unwrap()
        self.as_(DAVE).delegate(CAROL).unwrap()
        self.accepted = self.as_(BOB).submit_proposal(Motion("Adopt the charter")).unwrap()
        self.as_(BOB).vote(self.accepted, YES).unwrap()
        assert self.as_(CAROL).vote(self.accepted, YES) == Ok(140 * E8S)
        self.ic.advance_time(nanos=VOTING + 3600 * 10**9)
        assert self.info(self.accepted).status is ProposalStatus.ACCEPTED
        grant = TreasuryTransfer(self.gov.id, Account(RECIPIENT), 10 * E8S)
        self.passing = self.as_(CAROL).submit_proposal(grant).unwrap()
        self.as_(BOB).vote(self.passing, YES).unwrap()
        self.failing = self.as_(BOB).submit_proposal(Motion("Dissolve")).unwrap()
        self.as_(CAROL).vote(self.failing, NO).unwrap()
        self.ic.advance_time(hours=1)
        assert self.factory.upload_version("1.1.0", DAOV2, "adds memo") == Ok("1.1.0")
        self.active = self.ic.snapshot()

    def mint(self, to: Account, amount: int) -> None:
        self.gov.as_caller(GOV_MINTER).icrc1_transfer(TransferArgs(to=to, amount=amount)).unwrap()

    def as_(self, user: Principal) -> CanisterProxy:
        return self.ic.actor(self.dao, user)

    def info(self, proposal_id: int) -> Any:
        return self.as_(ALICE).get_proposal(proposal_id)

    def reset(self) -> World:
        self.ic.restore(self.active)
        self.ic.faults.clear()
        return self

    def view(self) -> dict[str, Any]:
        """Everything the DAO and the factory show of the DAO, but its version."""
        reader = self.as_(ALICE)
        ids = (self.accepted, self.passing, self.failing)
        info = self.factory.as_caller(ALICE).get_contract_info(self.dao)
        return {
            "config": reader.get_config(),
            "stats": reader.get_stats(),
            "balances": reader.get_balances(),
            "members": {user: reader.get_member(user) for user in EVERYONE},
            "stakes": {user: reader.get_stakes(user, 0, 100) for user in EVERYONE},
            "proposals": reader.get_proposals(None, 0, 100),
            "votes": {i: reader.get_votes(i, 0, 100) for i in ids},
            "power": {(u, i): reader.get_voting_power(u, i) for u in EVERYONE for i in ids},
            "paused": reader.is_paused(),
            "info": attrs.evolve(info, version="?"),
            "roles": {user: self.indexed_roles(user) for user in EVERYONE},
        }

    def kept_state(self) -> dict[str, Any]:
        """The DAO's state fields, but the memo and the open proposals' timer ids (re-armed on
        upgrade)."""
        fields = attrs.asdict(self.ic.state_of(self.dao), recurse=False)
        fields["proposals"] = [attrs.evolve(p, timer=None) for p in fields["proposals"]]
        return {name: value for name, value in fields.items() if name != "memo"}

    def indexed_roles(self, user: Principal) -> set[str]:
        page = self.factory.as_caller(user).get_my_contracts(user)
        return {role for entry in page.items if entry.info.id == self.dao for role in entry.roles}

    def version(self) -> str:
        info = self.factory.as_caller(ALICE).get_contract_info(self.dao)
        running: str = self.as_(ALICE).get_contract_meta().version
        assert info.version == running
        return running

    def assert_open_proposals_end_on_time(self) -> None:
        """Without a ``tally`` call: both open proposals are Open one ns before their end and
        decided at it; then the accepted ones execute at the end of their timelock."""
        ends_at = self.info(self.passing).ends_at
        assert self.info(self.failing).ends_at == ends_at
        self.ic.set_time(ends_at - 1)
        assert self.info(self.passing).status is self.info(self.failing).status is (
            ProposalStatus.OPEN
        )  # fmt: skip
        self.ic.advance_time(nanos=1)
        passed, failed = self.info(self.passing), self.info(self.failing)
        assert (passed.status, passed.deposit_status, passed.executable_at) == (
            ProposalStatus.ACCEPTED, DepositStatus.RETURNED, ends_at + TIMELOCK,
        )  # fmt: skip
        assert (failed.status, failed.deposit_status) == (
            ProposalStatus.REJECTED, DepositStatus.FORFEITED,
        )  # fmt: skip
        state = self.ic.state_of(self.dao)
        assert state.proposals[self.passing].decided_at == ends_at
        assert state.proposals[self.failing].decided_at == ends_at
        assert (state.deposits_held, state.forfeited) == (0, DEPOSIT)
        assert self.as_(MALLORY).execute(self.accepted) == Ok(ProposalStatus.EXECUTED)
        self.ic.set_time(ends_at + TIMELOCK - 1)
        assert self.as_(MALLORY).execute(self.passing) == Err(NotYet(ends_at + TIMELOCK))
        self.ic.advance_time(nanos=1)
        assert self.as_(MALLORY).execute(self.passing) == Ok(ProposalStatus.EXECUTED)
        assert int(self.gov.icrc1_balance_of(Account(RECIPIENT))) == 10 * E8S
        assert int(self.gov.icrc1_balance_of(Account(self.dao))) == TREASURY - 10 * E8S - FEE


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    return built.reset()


# -- upgrading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("upgrader", ["creator", "admin"])
def test_an_upgrade_keeps_every_stake_vote_tally_delegation_and_index_entry(
    world: World, upgrader: str
) -> None:
    view, state = world.view(), world.kept_state()
    factory = world.factory.as_caller(ALICE) if upgrader == "creator" else world.factory
    assert factory.upgrade_contract(world.dao) == Ok("1.1.0")
    assert world.ic.code_of(world.dao) is DAOV2
    assert isinstance(world.ic.state_of(world.dao), DAOStateV2)
    assert world.version() == "1.1.0"
    assert world.kept_state() == state
    assert world.view() == view
    assert world.as_(ALICE).get_memo() == ""
    (record,) = world.factory.get_upgrade_history(world.dao)
    assert (record.kind, record.from_version, record.to_version, record.ok) == (
        "upgrade", "1.0.0", "1.1.0", True,
    )  # fmt: skip


def test_the_records_are_as_they_were_after_an_upgrade(world: World) -> None:
    world.factory.as_caller(ALICE).upgrade_contract(world.dao).unwrap()
    reader = world.as_(MALLORY)
    assert reader.get_config() == world.config
    stats = reader.get_stats()
    assert (stats.members, stats.stakes, stats.staked, stats.total_power, stats.delegations) == (
        3, 3, 210 * E8S, 240 * E8S, 1,
    )  # fmt: skip
    carol = reader.get_member(CAROL)
    assert (carol.own, carol.delegated, carol.effective) == (90 * E8S, 50 * E8S, 140 * E8S)
    assert reader.get_member(DAVE).delegate == CAROL
    passing, failing = reader.get_tally(world.passing), reader.get_tally(world.failing)
    assert (passing.yes, passing.no, passing.snapshot_total) == (100 * E8S, 0, 240 * E8S)
    assert (failing.yes, failing.no, failing.voters) == (0, 140 * E8S, 1)
    assert reader.get_voting_power(DAVE, world.failing) == 50 * E8S
    assert reader.get_voting_power(CAROL, world.passing) == 140 * E8S
    balances = reader.get_balances()
    assert (balances.treasury, balances.staking, balances.deposits) == (
        TREASURY, 210 * E8S, 2 * DEPOSIT,
    )  # fmt: skip
    expected = {
        ALICE: {CREATOR}, BOB: {MEMBER}, CAROL: {MEMBER}, DAVE: {MEMBER}, ERIN: set(),
        FRANK: set(), MALLORY: set(),
    }  # fmt: skip
    assert {user: world.indexed_roles(user) for user in EVERYONE} == expected


def test_open_proposals_are_decided_at_their_exact_end_after_an_upgrade(world: World) -> None:
    world.factory.as_caller(ALICE).upgrade_contract(world.dao).unwrap()
    state = world.ic.state_of(world.dao)
    assert state.proposals[world.passing].timer is not None
    assert state.proposals[world.failing].timer is not None
    world.assert_open_proposals_end_on_time()


def test_an_upgraded_dao_keeps_working(world: World) -> None:
    world.factory.as_caller(ALICE).upgrade_contract(world.dao).unwrap()
    assert world.as_(DAVE).vote(world.passing, YES) == Ok(50 * E8S)
    assert world.as_(CAROL).get_voting_power(CAROL, world.passing) == 90 * E8S
    bob = int(world.gov.icrc1_balance_of(Account(BOB)))
    assert world.as_(BOB).unstake(0) == Ok(100 * E8S - FEE)
    assert int(world.gov.icrc1_balance_of(Account(BOB))) == bob + 100 * E8S - FEE
    assert world.indexed_roles(BOB) == set()
    unlocks = world.ic.state_of(world.dao).stakes[1].unlocks_at
    assert world.as_(CAROL).unstake(1) == Err(StillLocked(unlocks))
    assert world.as_(FRANK).stake(20 * E8S, days(30)).unwrap().power == 30 * E8S
    assert world.indexed_roles(FRANK) == {MEMBER}
    new = world.as_(CAROL).submit_proposal(Motion("after the upgrade")).unwrap()
    assert world.as_(CAROL).vote(new, YES) == Ok(140 * E8S)
    assert world.as_(DAVE).undelegate() == Ok(None)
    assert world.as_(CAROL).get_member(CAROL).effective == 90 * E8S


@pytest.mark.parametrize("user", [BOB, ERIN, MALLORY], ids=["member", "contact", "stranger"])
@pytest.mark.parametrize(
    ("move", "version"), [("upgrade_contract", None), ("rollback_contract", "1.0.0")]
)
def test_only_the_creator_or_an_admin_may_change_a_daos_code(
    world: World, user: Principal, move: str, version: str | None
) -> None:
    state = world.ic.state_of(world.dao)
    factory = world.factory.as_caller(user)
    error = rejected(lambda: getattr(factory, move)(world.dao, version))
    assert "Unauthorized" in error.message
    assert world.ic.state_of(world.dao) == state
    assert world.ic.code_of(world.dao) is DAO
    assert world.version() == "1.0.0"


def test_a_dao_asks_its_factory_for_an_upgrade_and_hears_the_outcome(world: World) -> None:
    state = world.kept_state()
    assert world.as_(ALICE).request_upgrade("1.1.0") == Ok("1.1.0")
    assert world.as_(ALICE).get_contract_meta().upgrade_requested == "1.1.0"
    world.ic.tick()
    meta = world.as_(ALICE).get_contract_meta()
    assert (meta.version, meta.upgrade_requested, meta.last_upgrade) == (
        "1.1.0", None, ("1.1.0", None),
    )  # fmt: skip
    assert world.version() == "1.1.0"
    changed = {name for name, value in world.kept_state().items() if state[name] != value}
    assert changed == {"meta"}
    world.assert_open_proposals_end_on_time()


def test_a_notification_the_factory_did_not_take_is_resent_after_an_upgrade(
    world: World,
) -> None:
    with world.ic.faults.reject(
        canister=world.factory.id, method="notify_participant_added", times=None
    ):
        world.as_(FRANK).stake(5 * E8S, 0).unwrap()
        world.factory.as_caller(ALICE).upgrade_contract(world.dao).unwrap()
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 1
    assert world.indexed_roles(FRANK) == set()
    world.ic.advance_time(seconds=61)
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 0
    assert world.indexed_roles(FRANK) == {MEMBER}


def test_a_new_dao_is_installed_from_the_latest_stable_version(world: World) -> None:
    deployed = world.system.backend.as_caller(ALICE).deploy_dao(world.config).unwrap()
    second = deployed.canister_id
    assert world.ic.code_of(second) is DAOV2
    assert world.ic.actor(second, ALICE).get_memo() == ""
    assert world.factory.as_caller(ALICE).get_contract_info(second).version == "1.1.0"


# -- refusals and rollbacks -----------------------------------------------------------------------


def test_a_migration_that_traps_leaves_the_dao_exactly_as_it_was(world: World) -> None:
    assert world.factory.upload_version("1.2.0", DAOBrokenMigration) == Ok("1.2.0")
    state, view = world.ic.state_of(world.dao), world.view()
    result = world.factory.as_caller(ALICE).upgrade_contract(world.dao, "1.2.0")
    assert isinstance(result, Err) and isinstance(result.error, UpgradeFailed)
    assert "cannot migrate" in result.error.reason
    assert world.ic.code_of(world.dao) is DAO
    assert world.ic.state_of(world.dao) == state
    assert (world.version(), world.view()) == ("1.0.0", view)
    world.assert_open_proposals_end_on_time()


def test_a_dao_rolls_back_to_1_0_0_keeping_everything(world: World) -> None:
    view, state = world.view(), world.kept_state()
    factory = world.factory.as_caller(ALICE)
    factory.upgrade_contract(world.dao).unwrap()
    assert factory.rollback_contract(world.dao, "1.0.0") == Ok("1.0.0")
    assert world.ic.code_of(world.dao) is DAO
    assert world.version() == "1.0.0"
    assert (world.kept_state(), world.view()) == (state, view)
    kinds = [record.kind for record in world.factory.get_upgrade_history(world.dao)]
    assert kinds == ["upgrade", "rollback"]
    world.assert_open_proposals_end_on_time()
