"""The DAO Factory through the paid flow: the paying user owns the DAO and pays exactly the fee,
DAOs are listed per governance token, a private DAO shows outsiders nothing (not even which
proposals exist: every method naming one answers them as for one that does not), only the
factory controls a DAO, and a config the DAO would refuse costs nothing."""

from __future__ import annotations

from typing import Any

import pytest

from icto import E8S, IC, Account, Err, Ok, Principal
from icto.backend import DAO_FACTORY, DEFAULT_FEES
from icto.dao import (
    DAO,
    MEMBER,
    Choice,
    DAOConfig,
    DAODetails,
    DAOStats,
    DepositStatus,
    Motion,
    NoVotingPower,
    ProposalStatus,
    UnknownProposal,
)
from icto.distribution import days
from icto.factory import CREATOR, InvalidConfig
from icto.factory.types import Page
from icto.ic.proxy import CanisterProxy
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import ApproveArgs, TransferArgs
from icto.system import System, deploy_system
from tests.helpers import live_canisters, rejected

ALICE, BOB, CAROL, MALLORY = (Principal.from_name(n) for n in ("alice", "bob", "carol", "mallory"))
DAVE = Principal.from_name("dave")
GOV_MINTER = Principal.from_name("gov-minter")
FEE = DEFAULT_FEES[DAO_FACTORY]
LEDGER_FEE = 10_000


class World:
    """The platform and a governance token; alice has 100 ICP and approved the backend for 20;
    bob holds 100 tokens and approved nothing yet. Snapshot ``start``."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.factory = self.system.dao_factory
        self.gov = deploy_ledger(self.ic, ICP.init(Account(GOV_MINTER)))
        self.other = deploy_ledger(self.ic, ICP.init(Account(GOV_MINTER)))
        self.system.faucet(ALICE, 100 * E8S)
        self.system.approve_backend(ALICE, 20 * E8S)
        mint = TransferArgs(to=Account(BOB), amount=100 * E8S)
        self.gov.as_caller(GOV_MINTER).icrc1_transfer(mint).unwrap()
        self.start = self.ic.snapshot()

    def config(self, **changes: Any) -> DAOConfig:
        fields: dict[str, Any] = {
            "name": "Gov DAO", "token": self.gov.id, "minimum_stake": E8S,
            "proposal_threshold": 10 * E8S, "proposal_deposit": 5 * E8S, "quorum_bp": 2_000,
            "approval_bp": 6_000, "voting_period": days(3), "timelock": days(2),
            "emergency_contacts": (CAROL,), "description": "Governs the token",
        }  # fmt: skip
        return DAOConfig(**(fields | changes))

    def deploy(self, **changes: Any) -> Principal:
        deployed = self.system.backend.as_caller(ALICE).deploy_dao(self.config(**changes))
        canister: Principal = deployed.unwrap().canister_id
        return canister

    def as_(self, dao: Principal, user: Principal) -> CanisterProxy:
        return self.ic.actor(dao, user)

    def listed(self, reader: Principal, token: Principal | None = None) -> list[Principal]:
        page = self.factory.as_caller(reader).get_daos_by_token(token or self.gov.id, 0, 100)
        return [info.id for info in page.items]


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    built.ic.restore(built.start)
    return built


def test_a_paid_deployment_costs_the_fee_and_is_owned_and_listed_as_the_payers(
    world: World,
) -> None:
    before = world.system.icp_balance(ALICE)
    backend = world.system.icp_balance(world.system.backend.id)
    canisters = live_canisters(world.ic)
    result = world.system.backend.as_caller(ALICE).deploy_dao(world.config()).unwrap()
    assert (result.service, result.fee_paid, FEE) == (DAO_FACTORY, 5 * E8S, 5 * E8S)
    assert world.system.icp_balance(ALICE) == before - FEE - LEDGER_FEE
    assert world.system.icp_balance(world.system.backend.id) == backend + FEE
    dao = result.canister_id
    assert live_canisters(world.ic) == canisters | {dao}
    assert world.ic.code_of(dao) is DAO
    info = world.factory.as_caller(MALLORY).get_contract_info(dao)
    assert (info.kind, info.owner, info.name, info.version, info.status, info.is_public) == (
        "dao", ALICE, "Gov DAO", "1.0.0", "active", True,
    )  # fmt: skip
    assert info.details == DAODetails(world.gov.id, 2_000, 6_000, days(3), days(2))
    (entry,) = world.factory.as_caller(ALICE).get_my_contracts(ALICE).items
    assert (entry.info.id, entry.roles) == (dao, (CREATOR,))
    assert world.as_(dao, MALLORY).get_config() == world.config()
    assert world.ic.state_of(dao).meta.owner == ALICE
    meta = world.as_(dao, MALLORY).get_contract_meta()
    assert (meta.factory, meta.owner, meta.version) == (world.factory.id, ALICE, "1.0.0")


def test_daos_are_listed_per_governance_token(world: World) -> None:
    first = world.deploy()
    second = world.deploy(name="Second")
    elsewhere = world.deploy(name="Other", token=world.other.id)
    assert world.listed(MALLORY) == [first, second]
    assert world.listed(MALLORY, world.other.id) == [elsewhere]
    for token in (world.system.icp_ledger.id, world.factory.id, ALICE):
        assert world.listed(MALLORY, token) == []
    assert world.factory.get_stats().contracts == 3


def test_a_private_dao_is_hidden_from_strangers_and_shown_to_its_people(world: World) -> None:
    public = world.deploy()
    private = world.deploy(name="Quiet", is_public=False)
    assert world.listed(MALLORY) == [public]
    assert world.listed(BOB) == [public]
    assert world.listed(ALICE) == [public, private]
    assert world.factory.as_caller(MALLORY).get_contract_info(private) is None
    assert world.factory.as_caller(ALICE).get_contract_info(private).is_public is False
    quiet = world.as_(private, MALLORY)
    assert (quiet.get_config(), quiet.get_stats(), quiet.get_balances()) == (None, None, None)
    assert quiet.get_member(BOB) is None
    assert quiet.get_proposals().items == ()
    for reader in (ALICE, CAROL):
        assert world.as_(private, reader).get_config().name == "Quiet"
        assert isinstance(world.as_(private, reader).get_stats(), DAOStats)
    bob = world.as_(private, BOB)
    assert bob.get_stats() is None
    approval = ApproveArgs(spender=Account(private), amount=50 * E8S)
    world.gov.as_caller(BOB).icrc2_approve(approval).unwrap()
    assert bob.stake(10 * E8S, 0).unwrap().power == 10 * E8S
    assert bob.get_config() == world.config(name="Quiet", is_public=False)
    stats = bob.get_stats()
    assert (stats.members, stats.staked, stats.total_power) == (1, 10 * E8S, 10 * E8S)
    assert world.listed(BOB) == [public, private]
    assert world.listed(MALLORY) == [public]
    (entry,) = world.factory.as_caller(BOB).get_my_contracts(BOB).items
    assert (entry.info.id, entry.roles) == (private, (MEMBER,))
    assert world.as_(private, MALLORY).get_stats() is None


def named(dao: CanisterProxy, proposal_id: int) -> tuple[Any, ...]:
    """What the caller gets from every method that names ``proposal_id``."""
    return (
        dao.vote(proposal_id, Choice.YES), dao.tally(proposal_id), dao.execute(proposal_id),
        dao.return_deposit(proposal_id), dao.get_proposal(proposal_id),
        dao.get_tally(proposal_id), dao.get_votes(proposal_id),
        dao.get_voting_power(MALLORY, proposal_id), dao.get_voting_power(BOB, proposal_id),
    )  # fmt: skip


def missing(proposal_id: int) -> tuple[Any, ...]:
    """What every method naming ``proposal_id`` answers when there is no such proposal."""
    unknown = Err(UnknownProposal(proposal_id))
    return (unknown,) * 4 + (None, None, Page((), None, None), None, None)


def test_a_private_dao_answers_strangers_about_its_proposals_as_if_none_existed(
    world: World,
) -> None:
    """Open, decided, executable or executed, a private DAO's proposal is to a stranger what a
    missing id is, whichever method names it, and asking changes nothing; dave, who has no stake
    but holds power delegated in the proposal's snapshot, still sees it and votes, and once
    the timelock has passed anyone it exists for executes it."""
    dao = world.deploy(name="Quiet", is_public=False)
    bob = world.as_(dao, BOB)
    world.gov.as_caller(BOB).icrc2_approve(ApproveArgs(spender=Account(dao), amount=50 * E8S))
    bob.stake(20 * E8S, 0).unwrap()
    bob.delegate(DAVE).unwrap()
    proposal_id = bob.submit_proposal(Motion("a secret plan")).unwrap()
    mallory, dave = world.as_(dao, MALLORY), world.as_(dao, DAVE)

    def stranger_sees_nothing() -> None:
        state = world.ic.state_of(dao)
        assert named(mallory, proposal_id) == missing(proposal_id)
        assert named(mallory, proposal_id + 1) == missing(proposal_id + 1)
        assert world.ic.state_of(dao) == state

    stranger_sees_nothing()
    assert dao_proposal_status(dave, proposal_id) is ProposalStatus.OPEN
    assert dave.get_voting_power(DAVE, proposal_id) == 20 * E8S
    assert dave.vote(proposal_id, Choice.YES) == Ok(20 * E8S)
    stranger_sees_nothing()
    world.ic.advance_time(days=3)
    assert dao_proposal_status(bob, proposal_id) is ProposalStatus.ACCEPTED
    assert bob.get_proposal(proposal_id).deposit_status is DepositStatus.RETURNED
    stranger_sees_nothing()
    world.ic.advance_time(days=2)
    stranger_sees_nothing()
    assert dave.execute(proposal_id) == Ok(ProposalStatus.EXECUTED)
    stranger_sees_nothing()


def test_on_a_public_dao_anyone_tallies_and_executes(world: World) -> None:
    dao = world.deploy()
    bob = world.as_(dao, BOB)
    world.gov.as_caller(BOB).icrc2_approve(ApproveArgs(spender=Account(dao), amount=50 * E8S))
    bob.stake(20 * E8S, 0).unwrap()
    proposal_id = bob.submit_proposal(Motion("an open plan")).unwrap()
    bob.vote(proposal_id, Choice.YES).unwrap()
    mallory = world.as_(dao, MALLORY)
    assert mallory.get_voting_power(MALLORY, proposal_id) == 0
    assert mallory.vote(proposal_id, Choice.YES) == Err(NoVotingPower(MALLORY))
    world.ic.advance_time(days=3)
    assert mallory.tally(proposal_id) == Ok(ProposalStatus.ACCEPTED)
    world.ic.advance_time(days=2)
    assert mallory.execute(proposal_id) == Ok(ProposalStatus.EXECUTED)


def dao_proposal_status(dao: CanisterProxy, proposal_id: int) -> ProposalStatus:
    info = dao.get_proposal(proposal_id)
    assert info is not None and info.id == proposal_id
    status: ProposalStatus = info.status
    return status


def test_only_the_factory_controls_a_dao(world: World) -> None:
    dao = world.deploy()
    assert world.ic.controllers_of(dao) == (world.factory.id,)
    for user in (ALICE, MALLORY):
        state = world.ic.state_of(dao)
        error = rejected(lambda user=user: world.ic.upgrade_canister(dao, DAO, caller=user))  # type: ignore[misc]
        assert "controller" in error.message.lower()
        error = rejected(lambda user=user: world.ic.stop_canister(dao, caller=user))  # type: ignore[misc]
        assert "controller" in error.message.lower()
        assert world.ic.state_of(dao) == state
    assert world.ic.controllers_of(dao) == (world.factory.id,)


def test_no_one_but_the_backend_may_ask_the_factory_to_deploy(world: World) -> None:
    canisters = live_canisters(world.ic)
    for caller in (ALICE, MALLORY):
        factory = world.factory.as_caller(caller)
        error = rejected(lambda factory=factory: factory.create_contract(ALICE, world.config()))  # type: ignore[misc]
        assert "Unauthorized: deploy via the backend" in error.message
    assert live_canisters(world.ic) == canisters
    assert world.factory.get_stats().contracts == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"name": ""},
        {"name": "Gov\x00DAO"},
        {"quorum_bp": 0},
        {"approval_bp": 4_999},
        {"voting_period": 3600 * 10**9 - 1},
        {"timelock": days(30) + 1},
        {"minimum_stake": 0},
        {"proposal_threshold": 0},
        {"proposal_deposit": -1},
        {"lock_tiers": ((days(30), 10_000), (0, 20_000))},
        {"lock_tiers": ((0, 9_999),)},
        {"emergency_contacts": (Principal.anonymous(),)},
        {"token": Principal.from_name("not-a-canister")},
        {"is_public": "yes"},
    ],
    ids=["empty-name", "nul-name", "no-quorum", "minority-approval", "short-vote",
         "long-timelock", "no-minimum", "no-threshold", "negative-deposit", "unsorted-tiers",
         "weak-tier", "anonymous-contact", "token-not-a-canister", "visibility-text"],
)  # fmt: skip
def test_a_config_the_dao_would_refuse_is_refused_before_payment(
    world: World, changes: dict[str, Any]
) -> None:
    balance = world.system.icp_balance(ALICE)
    canisters = live_canisters(world.ic)
    result = world.system.backend.as_caller(ALICE).deploy_dao(world.config(**changes))
    assert isinstance(result, Err) and isinstance(result.error, InvalidConfig)
    assert world.system.icp_balance(ALICE) == balance
    assert live_canisters(world.ic) == canisters
    assert len(world.factory.as_caller(ALICE).get_my_contracts(ALICE)) == 0
    assert world.system.backend.get_counters().payments == 0
