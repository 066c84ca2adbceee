"""Attacks on the DAO Factory and its DAOs: the real system's bugs B2, B5, B6, B7 and B12, each
tried by strangers, members, the creator and a stranger canister relaying calls.

Every refused attack is a typed error (``Err(InsufficientVotingPower)``, ``Err(NoVotingPower)``,
``Err(Paused)``, ``Err(UnknownStake)``, ``Err(InvalidRequest)`` …), ``InvalidArguments`` for a
mistyped argument, or a ``CallRejected`` for what only the factory (or one of its DAOs) may call,
and leaves both DAOs' states, the factory's index, every user's listing and every balance on the
governance ledger and the ICP ledger exactly as they were. The rules those bugs broke hold:
only the factory plays the factory; staking always gives voting power and only staked power
votes or proposes; power is snapshotted at submission; the timelock is in nanoseconds; deposits
are returned unless the proposal was rejected with quorum; a pause can be lifted by a proposal
or an emergency contact; the treasury is apart from the stakes; a stake is withdrawn once,
whatever the ledger does or whoever calls back in the middle; the creator is the paying user;
a paid deployment whose token does not answer is refunded; every join, exit and re-join reaches
the factory's index, even when the factory is down at first.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto import E8S, IC, Account, Canister, Err, InvalidArguments, Ok, Principal
from icto import query as query_method
from icto import update as update_method
from icto.backend import DAO_FACTORY, DEFAULT_FEES
from icto.backend.types import DeploymentFailed
from icto.dao import (
    MEMBER,
    AlreadyVoted,
    Choice,
    DAOConfig,
    DepositStatus,
    EmergencyPause,
    EmergencyUnpause,
    InsufficientVotingPower,
    InvalidRequest,
    Motion,
    NotEmergencyContact,
    NotYet,
    NoVotingPower,
    Paused,
    ProposalStatus,
    TransferFailed,
    TreasuryTransfer,
    UnknownProposal,
    UnknownStake,
    UpdateParams,
    WrongStatus,
)
from icto.dao.config import MAX_LOCK
from icto.dao.types import DEPOSITS_SUBACCOUNT, STAKING_SUBACCOUNT
from icto.distribution import days
from icto.factory import CREATOR
from icto.ic.proxy import CanisterProxy
from icto.ledger.ledger import Ledger
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import ApproveArgs, StandardRecord, TransferArgs, TransferFromArgs
from icto.system import System, deploy_system
from icto.validation import NotIdentified
from tests.helpers import Relay, live_canisters, rejected

ALICE, BOB, CAROL, DAVE, ERIN, FRANK, MALLORY = (
    Principal.from_name(name)
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "mallory")
)
RECIPIENT = Principal.from_name("recipient")
USERS: Final = (ALICE, BOB, CAROL, DAVE, ERIN, FRANK, MALLORY, RECIPIENT)
GOV_MINTER = Principal.from_name("gov-minter")
GOV_OPERATOR = Principal.from_name("gov-operator")
FEE: Final = 10_000
"""The governance ledger's fee (the ICP preset's)."""
SERVICE_FEE: Final = DEFAULT_FEES[DAO_FACTORY]
DAY: Final = days(1)
VOTING: Final = DAY
TIMELOCK: Final = 2 * DAY
MIN_STAKE: Final = 2 * E8S
THRESHOLD: Final = 10 * E8S
DEPOSIT: Final = 5 * E8S
TREASURY: Final = 50 * E8S
TIERS: Final = ((0, 10_000), (days(30), 15_000), (days(365), 20_000))
POWER: Final = {BOB: 100 * E8S, CAROL: 90 * E8S, DAVE: 100 * E8S}
"""Voting power at the ``staked`` snapshot: bob 100 unlocked, carol 60 for 30 days (1.5x), dave
50 for a year (2x)."""
TOTAL_POWER: Final = sum(POWER.values())
YES, NO, ABSTAIN = Choice.YES, Choice.NO, Choice.ABSTAIN
REENTRY: dict[str, Any] = {}
"""What the reentering ledger does during its next payout to the relay canister."""


class ReenteringLedger(Ledger):
    """A ledger that, while a payout to the relay canister (or a pull from it) is in flight,
    lets the relay call the DAO again (as an interleaved message would on the IC)."""

    VERSION = "1.0.1"

    def _reenter(self, moment: str, party: Principal) -> None:
        """Run the relay's calls queued for ``moment`` when ``party`` is the relay."""
        if party == REENTRY.get("relay"):
            for target, method, call_args in REENTRY.pop(moment, ()):
                answer = self.call(REENTRY["relay"], "relay", target, method, call_args)
                REENTRY["answers"].append(answer)

    def icrc1_transfer(self, args: TransferArgs) -> Any:
        self._reenter("during_payout", args.to.owner)
        return super().icrc1_transfer(args)

    icrc1_transfer.__icto_kind__ = Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]

    def icrc2_transfer_from(self, args: TransferFromArgs) -> Any:
        self._reenter("during_pull", args.from_.owner)
        return super().icrc2_transfer_from(args)

    icrc2_transfer_from.__icto_kind__ = (  # type: ignore[attr-defined]
        Ledger.icrc2_transfer_from.__icto_kind__  # type: ignore[attr-defined]
    )


class FeelessToken(Canister):
    """Speaks ICRC-1 only (no ``icrc2_transfer_from``, so no stake could ever be taken), and
    answers ``icrc1_fee`` with something that is not an amount."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @query_method
    def icrc1_supported_standards(self) -> Any:
        return (StandardRecord("ICRC-1", "https://github.com/dfinity/ICRC-1"),)

    @query_method
    def icrc1_fee(self) -> Any:
        return "free"


class World:
    """The platform, a governance token and two DAOs created by alice, as snapshots.

    - ``dao``: minimum stake 2, proposal threshold 10 power, deposit 5, quorum 20 %, approval
      50 %, voting 1 day, timelock 2 days, tiers 1x / 30 days 1.5x / a year 2x, erin the
      emergency contact; a treasury of 50.
    - ``low``: minimum stake 1 unit, threshold 1, no deposit, every lock at least a day.

    ``staked``: bob, carol and dave have staked in ``dao`` (``POWER``); frank, mallory and the
    relay hold tokens and have approved both DAOs but staked nothing. ``proposed``: then bob
    submitted a motion (#0).
    """

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.factory = self.system.dao_factory
        self.gov = deploy_ledger(
            self.ic, ICP.init(Account(GOV_MINTER)), controllers=(GOV_OPERATOR,),
            caller=GOV_OPERATOR,
        )  # fmt: skip
        self.relay = self.ic.deploy(Relay, None, caller=MALLORY)
        self.system.faucet(ALICE, 100 * E8S)
        self.system.approve_backend(ALICE, 100 * E8S)
        self.dao = self.deploy(self.config())
        self.low = self.deploy(
            self.config(name="Low", minimum_stake=1, proposal_threshold=1, proposal_deposit=0,
                        lock_tiers=((DAY, 10_000),), emergency_contacts=())
        )  # fmt: skip
        for user in (BOB, CAROL, DAVE, FRANK, MALLORY):
            self.mint(Account(user), 1_000 * E8S)
            for dao in self.daos:
                approval = ApproveArgs(spender=Account(dao), amount=10_000 * E8S)
                self.gov.as_caller(user).icrc2_approve(approval).unwrap()
        self.mint(Account(self.relay.id), 100 * E8S)
        approval = ApproveArgs(spender=Account(self.dao), amount=10_000 * E8S)
        self.relayed_call(self.gov.id, "icrc2_approve", approval).unwrap()
        self.mint(Account(self.dao), TREASURY)
        self.as_(BOB).stake(100 * E8S, 0).unwrap()
        self.as_(CAROL).stake(60 * E8S, days(30)).unwrap()
        self.as_(DAVE).stake(50 * E8S, days(365)).unwrap()
        self.staked = self.ic.snapshot()
        self.bob_before_submit = self.gov_balance(Account(BOB))
        self.submitted_at = self.ic.time
        assert self.as_(BOB).submit_proposal(Motion("Adopt the charter")) == Ok(0)
        self.proposed = self.ic.snapshot()

    # -- building -------------------------------------------------------------------------------

    def config(self, **changes: Any) -> DAOConfig:
        fields: dict[str, Any] = {
            "name": "Gov DAO", "token": self.gov.id, "minimum_stake": MIN_STAKE,
            "proposal_threshold": THRESHOLD, "proposal_deposit": DEPOSIT, "quorum_bp": 2_000,
            "approval_bp": 5_000, "voting_period": VOTING, "timelock": TIMELOCK,
            "lock_tiers": TIERS, "emergency_contacts": (ERIN,),
        }  # fmt: skip
        return DAOConfig(**(fields | changes))

    def deploy(self, config: DAOConfig, user: Principal = ALICE) -> Principal:
        deployed = self.system.backend.as_caller(user).deploy_dao(config).unwrap()
        canister: Principal = deployed.canister_id
        return canister

    def mint(self, to: Account, amount: int) -> None:
        self.gov.as_caller(GOV_MINTER).icrc1_transfer(TransferArgs(to=to, amount=amount)).unwrap()

    @property
    def daos(self) -> tuple[Principal, Principal]:
        return (self.dao, self.low)

    # -- acting ---------------------------------------------------------------------------------

    def as_(self, user: Principal, dao: Principal | None = None) -> CanisterProxy:
        return self.ic.actor(self.dao if dao is None else dao, user)

    def relayed_call(self, target: Principal, method: str, *args: Any) -> Any:
        return self.relay.as_caller(MALLORY).relay(target, method, args)

    def accepted(self, action: Any, proposer: Principal = BOB) -> int:
        """A proposal of ``action`` by ``proposer``, voted yes by bob and dave, decided at its
        end (Accepted) and past its timelock: ready to execute."""
        proposal_id: int = self.as_(proposer).submit_proposal(action).unwrap()
        for voter in (BOB, DAVE):
            self.as_(voter).vote(proposal_id, YES).unwrap()
        ends_at = self.proposal(proposal_id).ends_at
        self.ic.set_time(ends_at + TIMELOCK)
        assert self.proposal(proposal_id).status is ProposalStatus.ACCEPTED
        return proposal_id

    # -- reading --------------------------------------------------------------------------------

    def proposal(self, proposal_id: int, dao: Principal | None = None) -> Any:
        return self.as_(ALICE, dao).get_proposal(proposal_id)

    def gov_balance(self, account: Account) -> int:
        return int(self.gov.icrc1_balance_of(account))

    def accounts(self) -> tuple[Account, ...]:
        holders = (*USERS, self.relay.id, self.system.backend.id)
        dao_accounts = tuple(
            Account(dao, sub)
            for dao in self.daos for sub in (None, STAKING_SUBACCOUNT, DEPOSITS_SUBACCOUNT)
        )  # fmt: skip
        return (*(Account(holder) for holder in holders), *dao_accounts)

    def balances(self) -> dict[tuple[str, Account], int]:
        return {
            (name, account): int(ledger.icrc1_balance_of(account))
            for name, ledger in (("gov", self.gov), ("icp", self.system.icp_ledger))
            for account in self.accounts()
        }

    def listings(self) -> dict[Principal, Any]:
        """What the factory lists for each user, asked by that user."""
        return {
            user: self.factory.as_caller(user).get_my_contracts(user, 0, 100)
            for user in (*USERS, self.relay.id)
        }

    def indexed_roles(self, user: Principal) -> dict[Principal, set[str]]:
        page = self.factory.as_caller(user).get_my_contracts(user, 0, 100)
        return {entry.info.id: set(entry.roles) for entry in page.items if entry.roles}

    def true_roles(self, user: Principal) -> dict[Principal, set[str]]:
        """The roles ``user`` holds according to the DAOs themselves."""
        roles: dict[Principal, set[str]] = {}
        for dao in self.daos:
            state = self.ic.state_of(dao)
            held = {CREATOR} if user == state.meta.owner else set()
            if user in state.stakes_by_owner:
                held.add(MEMBER)
            if held:
                roles[dao] = held
        return roles

    def assert_index_exact(self) -> None:
        for user in (*USERS, self.relay.id):
            assert self.indexed_roles(user) == self.true_roles(user), user
        for dao in self.daos:
            info = self.factory.as_caller(ALICE).get_contract_info(dao)
            members = len(self.ic.state_of(dao).stakes_by_owner)
            assert info.role_counts.get(MEMBER, 0) == members

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """Assert that the block leaves both DAOs, the factory's index, every user's listing
        and every balance on both ledgers as they were."""
        states = {dao: self.ic.state_of(dao) for dao in self.daos}
        factory = self.ic.state_of(self.factory.id)
        balances, listings = self.balances(), self.listings()
        yield
        assert {dao: self.ic.state_of(dao) for dao in self.daos} == states
        after = self.ic.state_of(self.factory.id)
        assert (after.index, after.by_token) == (factory.index, factory.by_token)
        assert self.balances() == balances
        assert self.listings() == listings


@pytest.fixture(scope="module")
def built() -> World:
    return World()


def _reset(built: World, snapshot: Any) -> World:
    built.ic.restore(snapshot)
    built.ic.faults.clear()
    REENTRY.clear()
    return built


@pytest.fixture
def staked(built: World) -> World:
    return _reset(built, built.staked)


@pytest.fixture
def proposed(built: World) -> World:
    return _reset(built, built.proposed)


# -- B2: playing the factory -----------------------------------------------------------------------

FACTORY_ONLY = (
    ("on_upgraded", ("9.9.9", None)),
    ("on_upgraded", ("1.0.0", "a failure that never happened")),
    ("on_visibility_changed", (False,)),
    ("on_deployed", ()),
)
INSIDERS = {"stranger": MALLORY, "creator": ALICE, "member": BOB, "emergency contact": ERIN}


@pytest.mark.parametrize("caller", INSIDERS.values(), ids=INSIDERS.keys())
@pytest.mark.parametrize(("method", "args"), FACTORY_ONLY)
def test_b2_no_one_but_the_factory_may_call_a_daos_callbacks(
    proposed: World, caller: Principal, method: str, args: tuple[Any, ...]
) -> None:
    world = proposed
    meta = world.as_(ALICE).get_contract_meta()
    with world.unchanged():
        error = rejected(lambda: getattr(world.as_(caller), method)(*args))
    assert "only this contract's factory" in error.message
    assert world.as_(ALICE).get_contract_meta() == meta
    info = world.factory.as_caller(MALLORY).get_contract_info(world.dao)
    assert (info.version, info.is_public) == ("1.0.0", True)


@pytest.mark.parametrize(("method", "args"), FACTORY_ONLY)
def test_b2_a_stranger_canister_cannot_play_the_factory(
    proposed: World, method: str, args: tuple[Any, ...]
) -> None:
    world = proposed
    for dao in world.daos:
        with world.unchanged():
            error = rejected(lambda dao=dao: world.relayed_call(dao, method, *args))  # type: ignore[misc]
        assert "only this contract's factory" in error.message


FACTORY_CALLBACKS = (
    ("notify_participant_added", (MALLORY, MEMBER)),
    ("notify_participant_added", (FRANK, MEMBER)),
    ("notify_participant_removed", (BOB, MEMBER)),
    ("notify_visibility_changed", (False,)),
    ("notify_deployment_complete", ()),
)


@pytest.mark.parametrize(("method", "args"), FACTORY_CALLBACKS)
def test_b2_no_one_but_a_dao_may_write_the_factorys_index(
    proposed: World, method: str, args: tuple[Any, ...]
) -> None:
    world = proposed
    calls: tuple[Callable[[], object], ...] = (
        lambda: getattr(world.factory.as_caller(MALLORY), method)(*args),
        lambda: getattr(world.factory.as_caller(ALICE), method)(*args),
        lambda: getattr(world.factory.as_caller(BOB), method)(*args),
        lambda: world.relayed_call(world.factory.id, method, *args),
    )
    for call in calls:
        with world.unchanged():
            assert "only a contract of this factory" in rejected(call).message
    world.assert_index_exact()
    assert world.indexed_roles(MALLORY) == {}


@pytest.mark.parametrize("caller", [MALLORY, BOB, ERIN], ids=["stranger", "member", "contact"])
def test_b2_only_the_creator_may_have_a_dao_ask_for_an_upgrade(
    proposed: World, caller: Principal
) -> None:
    world = proposed
    with world.unchanged():
        error = rejected(lambda: world.as_(caller).request_upgrade(None))
    assert "only the owner" in error.message


# -- B5: voting power comes from stakes ------------------------------------------------------------


@settings(max_examples=min(30, settings().max_examples))
@given(
    amount=st.integers(MIN_STAKE, 990 * E8S),  # FRANK keeps enough for a deposit and its fees
    lock=st.one_of(
        st.sampled_from([0, days(30) - 1, days(30), days(365) - 1, days(365), MAX_LOCK]),
        st.integers(0, MAX_LOCK),
    ),
)
def test_b5_every_stake_gives_voting_power_of_at_least_its_amount(
    built: World, amount: int, lock: int
) -> None:
    world = _reset(built, built.staked)
    multiplier = 20_000 if lock >= days(365) else 15_000 if lock >= days(30) else 10_000
    stake = world.as_(FRANK).stake(amount, lock).unwrap()
    assert stake.power == amount * multiplier // 10_000 >= amount
    assert (stake.owner, stake.amount, stake.multiplier_bp) == (FRANK, amount, multiplier)
    assert stake.unlocks_at == world.ic.time + lock
    member = world.as_(FRANK).get_member(FRANK)
    assert (member.own, member.effective, member.staked) == (stake.power, stake.power, amount)
    assert world.as_(FRANK).get_stats().total_power == TOTAL_POWER + stake.power
    assert world.gov_balance(Account(world.dao, STAKING_SUBACCOUNT)) == 210 * E8S + amount
    if stake.power >= THRESHOLD:
        proposal_id = world.as_(FRANK).submit_proposal(Motion("mine")).unwrap()
        assert world.as_(FRANK).vote(proposal_id, YES) == Ok(stake.power)


@pytest.mark.parametrize("user", [MALLORY, ALICE, ERIN], ids=["stranger", "creator", "contact"])
def test_b5_a_principal_without_a_stake_cannot_propose_or_vote(
    proposed: World, user: Principal
) -> None:
    world = proposed
    dao = world.as_(user)
    with world.unchanged():
        assert dao.submit_proposal(Motion("free lunch")) == Err(
            InsufficientVotingPower(0, THRESHOLD)
        )
        assert dao.vote(0, YES) == Err(NoVotingPower(user))
        assert dao.get_voting_power(user, 0) == 0
        assert world.relayed_call(world.dao, "vote", 0, YES) == Err(NoVotingPower(world.relay.id))
        assert world.relayed_call(world.dao, "submit_proposal", Motion("relayed")) == Err(
            InsufficientVotingPower(0, THRESHOLD)
        )


def test_b5_a_member_below_the_threshold_cannot_propose(staked: World) -> None:
    world = staked
    world.as_(FRANK).stake(MIN_STAKE, 0).unwrap()
    with world.unchanged():
        assert world.as_(FRANK).submit_proposal(Motion("small")) == Err(
            InsufficientVotingPower(MIN_STAKE, THRESHOLD)
        )
    world.as_(FRANK).stake(THRESHOLD - MIN_STAKE, 0).unwrap()
    assert world.as_(FRANK).submit_proposal(Motion("enough")) == Ok(0)


def test_b5_a_member_who_staked_after_a_submission_has_no_power_on_it(proposed: World) -> None:
    world = proposed
    stake = world.as_(FRANK).stake(500 * E8S, days(365)).unwrap()
    assert stake.power == 1_000 * E8S
    with world.unchanged():
        assert world.as_(FRANK).vote(0, YES) == Err(NoVotingPower(FRANK))
    assert world.as_(FRANK).get_voting_power(FRANK, 0) == 0
    assert world.as_(FRANK).submit_proposal(Motion("next")) == Ok(1)
    assert world.as_(FRANK).vote(1, YES) == Ok(1_000 * E8S)
    assert world.as_(FRANK).get_tally(0).snapshot_total == TOTAL_POWER


def test_b5_a_stake_below_the_minimum_or_not_above_the_ledger_fee_is_refused(
    staked: World,
) -> None:
    world = staked
    with world.unchanged():
        result = world.as_(FRANK).stake(MIN_STAKE - 1, 0)
        assert isinstance(result, Err) and isinstance(result.error, InvalidRequest)
        assert "amount must be an int from 200000000" in result.error.reasons[0]
        for amount in (1, FEE - 1, FEE):
            assert world.as_(FRANK, world.low).stake(amount, DAY) == Err(
                InvalidRequest((f"a stake must be above the ledger fee ({FEE})",))
            )
    assert world.as_(FRANK).stake(MIN_STAKE, 0).unwrap().power == MIN_STAKE
    assert world.as_(FRANK, world.low).stake(FEE + 1, DAY).unwrap().power == FEE + 1


# -- B6 (a): voting power is snapshotted at submission ---------------------------------------------


def test_b6_staking_more_after_a_submission_does_not_change_power_on_it(proposed: World) -> None:
    world = proposed
    world.as_(CAROL).stake(100 * E8S, days(365)).unwrap()
    assert world.as_(CAROL).get_member(CAROL).own == POWER[CAROL] + 200 * E8S
    assert world.as_(CAROL).get_voting_power(CAROL, 0) == POWER[CAROL]
    assert world.as_(CAROL).vote(0, YES) == Ok(POWER[CAROL])
    assert world.as_(CAROL).submit_proposal(Motion("later")) == Ok(1)
    assert world.as_(CAROL).vote(1, YES) == Ok(POWER[CAROL] + 200 * E8S)
    assert world.as_(ALICE).get_tally(0).snapshot_total == TOTAL_POWER


def test_b6_a_delegation_after_a_submission_does_not_change_power_on_it(proposed: World) -> None:
    world = proposed
    assert world.as_(DAVE).delegate(CAROL) == Ok(None)
    assert world.as_(CAROL).get_member(CAROL).delegated == POWER[DAVE]
    assert world.as_(CAROL).vote(0, YES) == Ok(POWER[CAROL])
    assert world.as_(DAVE).vote(0, NO) == Ok(POWER[DAVE])
    tally = world.as_(ALICE).get_tally(0)
    assert (tally.yes, tally.no) == (POWER[CAROL], POWER[DAVE])
    assert world.as_(BOB).submit_proposal(Motion("after the delegation")) == Ok(1)
    assert world.as_(CAROL).get_voting_power(CAROL, 1) == POWER[CAROL] + POWER[DAVE]


def test_b6_unstaking_after_a_submission_keeps_the_snapshot_power(proposed: World) -> None:
    world = proposed
    bob = world.gov_balance(Account(BOB))
    assert world.as_(BOB).unstake(0) == Ok(100 * E8S - FEE)
    assert world.gov_balance(Account(BOB)) == bob + 100 * E8S - FEE
    assert world.as_(BOB).get_member(BOB).own == 0
    assert world.as_(BOB).vote(0, YES) == Ok(POWER[BOB])
    assert world.as_(ALICE).get_tally(0).yes == POWER[BOB]
    assert world.as_(ALICE).get_stats().total_power == TOTAL_POWER - POWER[BOB]
    world.ic.set_time(world.submitted_at + VOTING)
    assert world.proposal(0).status is ProposalStatus.ACCEPTED


# -- B6 (b): the timelock and the voting period are in nanoseconds --------------------------------


def test_b6_votes_close_and_the_timer_decides_at_the_exact_end(proposed: World) -> None:
    world = proposed
    ends_at = world.submitted_at + VOTING
    assert world.proposal(0).ends_at == ends_at
    world.as_(DAVE).vote(0, YES).unwrap()
    world.ic.set_time(ends_at - 1)
    assert world.as_(CAROL).vote(0, NO) == Ok(POWER[CAROL])
    assert world.proposal(0).status is ProposalStatus.OPEN
    with world.unchanged():
        assert world.as_(MALLORY).tally(0) == Err(NotYet(ends_at))
    world.ic.advance_time(nanos=1)
    decided = world.proposal(0)
    assert (decided.status, decided.executable_at) == (ProposalStatus.ACCEPTED, ends_at + TIMELOCK)
    with world.unchanged():
        assert world.as_(BOB).vote(0, YES) == Err(
            WrongStatus(ProposalStatus.ACCEPTED, f"Open, before {ends_at}")
        )


def test_b6_a_vote_at_the_end_is_refused_even_before_the_timer_ran_and_anyone_may_tally(
    proposed: World,
) -> None:
    world = proposed
    ends_at = world.submitted_at + VOTING
    world.as_(DAVE).vote(0, YES).unwrap()
    factory = world.factory.id
    world.ic.stop_canister(world.dao, caller=factory)
    world.ic.set_time(ends_at)
    world.ic.start_canister(world.dao, caller=factory)
    assert world.proposal(0).status is ProposalStatus.OPEN
    with world.unchanged():
        assert world.as_(CAROL).vote(0, NO) == Err(
            WrongStatus(ProposalStatus.OPEN, f"Open, before {ends_at}")
        )
    assert world.as_(MALLORY).tally(0) == Ok(ProposalStatus.ACCEPTED)
    world.ic.tick()
    decided = world.ic.state_of(world.dao).proposals[0]
    assert (decided.status, decided.decided_at, decided.tally.no) == (
        ProposalStatus.ACCEPTED, ends_at, 0,
    )  # fmt: skip
    assert world.gov_balance(Account(BOB)) == world.bob_before_submit - 2 * FEE


def test_b6_the_timelock_is_nanoseconds_from_the_end(proposed: World) -> None:
    world = proposed
    ends_at = world.submitted_at + VOTING
    world.as_(BOB).vote(0, YES).unwrap()
    world.ic.set_time(ends_at + TIMELOCK - 1)
    with world.unchanged():
        for caller in (MALLORY, BOB):
            assert world.as_(caller).execute(0) == Err(NotYet(ends_at + TIMELOCK))
    world.ic.advance_time(nanos=1)
    assert world.as_(MALLORY).execute(0) == Ok(ProposalStatus.EXECUTED)
    assert world.ic.state_of(world.dao).proposals[0].executed_at == ends_at + TIMELOCK
    with world.unchanged():
        assert world.as_(MALLORY).execute(0) == Err(
            WrongStatus(ProposalStatus.EXECUTED, "Accepted")
        )


# -- B6 (c): deposits are returned unless the proposal was rejected with quorum -------------------

DEPOSIT_CASES = {
    "accepted": ({BOB: YES, DAVE: YES}, ProposalStatus.ACCEPTED, DepositStatus.RETURNED),
    "rejected without quorum": ({}, ProposalStatus.REJECTED, DepositStatus.RETURNED),
    "rejected with quorum": ({DAVE: NO}, ProposalStatus.REJECTED, DepositStatus.FORFEITED),
    "only abstentions": ({CAROL: ABSTAIN}, ProposalStatus.REJECTED, DepositStatus.FORFEITED),
    "a tie": ({BOB: YES, DAVE: NO}, ProposalStatus.ACCEPTED, DepositStatus.RETURNED),
}


@pytest.mark.parametrize(("votes", "status", "deposit"), DEPOSIT_CASES.values(),
                         ids=DEPOSIT_CASES.keys())  # fmt: skip
def test_b6_a_deposit_is_returned_less_one_fee_unless_rejected_with_quorum(
    proposed: World, votes: dict[Principal, Choice], status: ProposalStatus,
    deposit: DepositStatus,
) -> None:  # fmt: skip
    world = proposed
    deposits = Account(world.dao, DEPOSITS_SUBACCOUNT)
    assert world.gov_balance(Account(BOB)) == world.bob_before_submit - DEPOSIT - FEE
    assert world.gov_balance(deposits) == DEPOSIT
    for voter, choice in votes.items():
        world.as_(voter).vote(0, choice).unwrap()
    world.ic.set_time(world.submitted_at + VOTING)
    decided = world.proposal(0)
    assert (decided.status, decided.deposit_status) == (status, deposit)
    state = world.ic.state_of(world.dao)
    assert state.deposits_held == 0
    if deposit is DepositStatus.RETURNED:
        assert world.gov_balance(Account(BOB)) == world.bob_before_submit - 2 * FEE
        assert world.gov_balance(deposits) == state.forfeited == 0
    else:
        assert world.gov_balance(Account(BOB)) == world.bob_before_submit - DEPOSIT - FEE
        assert world.gov_balance(deposits) == state.forfeited == DEPOSIT
    balances = world.as_(ALICE).get_balances()
    assert (balances.treasury, balances.staking, balances.staked) == (
        TREASURY, 210 * E8S, 210 * E8S,
    )  # fmt: skip
    with world.unchanged():
        assert world.as_(MALLORY).return_deposit(0) == Err(
            WrongStatus(status, "a deposit still owed")
        )


def test_b6_a_deposit_the_ledger_refused_to_return_is_owed_and_returned_once(
    proposed: World,
) -> None:
    world = proposed
    world.as_(BOB).vote(0, YES).unwrap()
    with world.ic.faults.reject(canister=world.gov.id, method="icrc1_transfer", times=None):
        world.ic.set_time(world.submitted_at + VOTING)
    assert world.proposal(0).deposit_status is DepositStatus.OWED
    assert world.ic.state_of(world.dao).deposits_held == DEPOSIT
    assert world.as_(MALLORY).return_deposit(0) == Ok(DepositStatus.RETURNED)
    assert world.gov_balance(Account(BOB)) == world.bob_before_submit - 2 * FEE
    with world.unchanged():
        assert world.as_(MALLORY).return_deposit(0) == Err(
            WrongStatus(ProposalStatus.ACCEPTED, "a deposit still owed")
        )


# -- B6 (d): a pause can always be lifted ----------------------------------------------------------


def _assert_paused_refusals(world: World, open_proposal: int, accepted: int | None) -> None:
    with world.unchanged():
        assert world.as_(FRANK).stake(10 * E8S, 0) == Err(Paused())
        assert world.as_(BOB).submit_proposal(Motion("while paused")) == Err(Paused())
        assert world.as_(BOB).submit_proposal(EmergencyPause()) == Err(Paused())
        assert world.as_(CAROL).vote(open_proposal, YES) == Err(Paused())
        if accepted is not None:
            assert world.as_(MALLORY).execute(accepted) == Err(Paused())


def test_b6_a_pause_by_proposal_is_lifted_by_an_unpause_proposal(staked: World) -> None:
    world = staked
    pause = world.as_(BOB).submit_proposal(EmergencyPause()).unwrap()
    motion = world.as_(CAROL).submit_proposal(Motion("after the pause")).unwrap()
    for proposal_id in (pause, motion):
        for voter in (BOB, DAVE):
            world.as_(voter).vote(proposal_id, YES).unwrap()
    world.ic.set_time(world.proposal(pause).ends_at + TIMELOCK)
    still_open = world.as_(DAVE).submit_proposal(Motion("open during the pause")).unwrap()
    assert world.as_(MALLORY).execute(pause) == Ok(ProposalStatus.EXECUTED)
    assert world.as_(MALLORY).is_paused() is True
    _assert_paused_refusals(world, still_open, motion)
    bob = world.gov_balance(Account(BOB))
    assert world.as_(BOB).unstake(0) == Ok(100 * E8S - FEE)
    assert world.gov_balance(Account(BOB)) == bob + 100 * E8S - FEE
    unpause = world.as_(DAVE).submit_proposal(EmergencyUnpause()).unwrap()
    assert world.as_(DAVE).vote(unpause, YES) == Ok(POWER[DAVE])
    assert world.as_(CAROL).vote(unpause, YES) == Ok(POWER[CAROL])
    world.ic.set_time(world.proposal(still_open).ends_at)
    assert world.proposal(still_open).status is ProposalStatus.REJECTED
    assert world.proposal(still_open).deposit_status is DepositStatus.RETURNED
    world.ic.set_time(world.proposal(unpause).ends_at)
    assert world.proposal(unpause).status is ProposalStatus.ACCEPTED
    world.ic.set_time(world.proposal(unpause).executable_at)
    assert world.as_(MALLORY).execute(unpause) == Ok(ProposalStatus.EXECUTED)
    assert world.as_(MALLORY).is_paused() is False
    assert world.as_(MALLORY).execute(motion) == Ok(ProposalStatus.EXECUTED)
    assert world.as_(FRANK).stake(10 * E8S, 0).unwrap().power == 10 * E8S


def test_b6_an_emergency_contact_pauses_and_unpauses_directly(proposed: World) -> None:
    world = proposed
    for caller in (MALLORY, ALICE, BOB):
        with world.unchanged():
            assert world.as_(caller).emergency_pause() == Err(NotEmergencyContact(caller))
            assert world.relayed_call(world.dao, "emergency_pause") == Err(
                NotEmergencyContact(world.relay.id)
            )
    assert world.as_(ERIN).emergency_pause() == Ok(None)
    _assert_paused_refusals(world, 0, None)
    for caller in (MALLORY, ALICE, BOB):
        with world.unchanged():
            assert world.as_(caller).emergency_unpause() == Err(NotEmergencyContact(caller))
    assert world.as_(BOB).unstake(0) == Ok(100 * E8S - FEE)
    unpause = world.as_(DAVE).submit_proposal(EmergencyUnpause()).unwrap()
    assert world.as_(ERIN).emergency_unpause() == Ok(None)
    assert world.as_(MALLORY).is_paused() is False
    assert world.as_(CAROL).vote(0, YES) == Ok(POWER[CAROL])
    assert world.as_(CAROL).vote(unpause, YES) == Ok(POWER[CAROL])


def test_b6_a_tally_still_runs_while_paused(proposed: World) -> None:
    world = proposed
    world.as_(DAVE).vote(0, YES).unwrap()
    world.as_(ERIN).emergency_pause().unwrap()
    world.ic.set_time(world.submitted_at + VOTING)
    decided = world.proposal(0)
    assert (decided.status, decided.deposit_status) == (
        ProposalStatus.ACCEPTED, DepositStatus.RETURNED,
    )  # fmt: skip


# -- B6 (e): the treasury is apart from the stakes and the deposits --------------------------------


def test_b6_a_transfer_larger_than_the_treasury_fails_even_with_stakes_in_the_dao(
    proposed: World,
) -> None:
    world = proposed
    too_much = TreasuryTransfer(world.gov.id, Account(RECIPIENT), TREASURY)
    proposal_id = world.accepted(too_much)
    stakes = world.ic.state_of(world.dao).stakes
    staking = world.gov_balance(Account(world.dao, STAKING_SUBACCOUNT))
    assert staking == 210 * E8S
    assert world.as_(MALLORY).execute(proposal_id) == Ok(ProposalStatus.FAILED)
    failed = world.proposal(proposal_id)
    assert failed.status is ProposalStatus.FAILED
    assert failed.outcome is not None and "InsufficientFunds" in failed.outcome
    state = world.ic.state_of(world.dao)
    assert state.stakes == stakes
    assert state.treasury_paid.get(world.gov.id, 0) == 0
    assert world.gov_balance(Account(world.dao, STAKING_SUBACCOUNT)) == staking
    assert world.gov_balance(Account(world.dao)) == TREASURY
    assert world.gov_balance(Account(RECIPIENT)) == 0
    with world.unchanged():
        assert world.as_(MALLORY).execute(proposal_id) == Err(
            WrongStatus(ProposalStatus.FAILED, "Accepted")
        )


@pytest.mark.parametrize("subaccount", [None, STAKING_SUBACCOUNT, bytes(31) + b"\x03"])
def test_the_treasury_cannot_pay_into_any_account_of_the_dao(
    staked: World, subaccount: bytes | None
) -> None:
    """Only the treasury (the default account) pays out: tokens sent to another subaccount of
    the DAO could never leave it, and the treasury paying itself only burns a fee."""
    world = staked
    into_itself = TreasuryTransfer(world.gov.id, Account(world.dao, subaccount), E8S)
    with world.unchanged():
        assert _invalid("the DAO's own accounts")(world.as_(BOB).submit_proposal(into_itself))


class OddLedger(Canister):
    """Answers every transfer with ``Ok`` of something that is not a block index."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @query_method
    def icrc1_fee(self) -> int:
        return 10

    @update_method
    def icrc1_transfer(self, args: Any) -> Any:
        return Ok("block-1")


def test_a_transfer_answered_with_neither_a_block_nor_an_error_stays_in_doubt_and_counted(
    proposed: World,
) -> None:
    """Whether the tokens moved is unknown (and the ledger's log cannot be read): the proposal
    stays Executing with the answer in its outcome and the debit stays counted, so nothing can
    pay it a second time; executing it again only sends the same request again."""
    world = proposed
    odd = world.ic.deploy(OddLedger, None, caller=MALLORY)
    proposal_id = world.accepted(TreasuryTransfer(odd.id, Account(RECIPIENT), 5))
    assert world.as_(MALLORY).execute(proposal_id) == Ok(ProposalStatus.EXECUTING)
    unsettled = world.proposal(proposal_id)
    assert unsettled.outcome is not None and "neither a block nor an error" in unsettled.outcome
    assert world.ic.state_of(world.dao).treasury_paid[odd.id] == 5 + 10
    with world.unchanged():
        assert world.as_(MALLORY).execute(proposal_id) == Ok(ProposalStatus.EXECUTING)


def test_a_member_who_leaves_ends_its_own_delegation_and_keeps_those_made_to_it(
    staked: World,
) -> None:
    """Bob (unlocked) delegates to Carol and Frank to Bob; Bob unstakes his only stake and
    leaves: his delegation ends (no zero-power link stays in anyone's chain), Frank's stays."""
    world = staked
    world.as_(FRANK).stake(MIN_STAKE, 0).unwrap()
    assert world.as_(BOB).delegate(CAROL) == Ok(None)
    assert world.as_(FRANK).delegate(BOB) == Ok(None)
    assert world.as_(BOB).unstake(0) == Ok(100 * E8S - FEE)
    delegates = world.ic.state_of(world.dao).power.delegates
    assert BOB not in delegates and delegates[FRANK] == BOB
    assert world.as_(BOB).undelegate() == Err(InvalidRequest(("not delegating",)))
    assert world.indexed_roles(BOB) == world.true_roles(BOB) == {}


def test_b6_the_treasury_pays_its_transfers_fee_and_the_recipient_gets_the_amount(
    proposed: World,
) -> None:
    world = proposed
    everything = TreasuryTransfer(world.gov.id, Account(RECIPIENT), TREASURY - FEE, b"grant")
    proposal_id = world.accepted(everything)
    assert world.as_(MALLORY).execute(proposal_id) == Ok(ProposalStatus.EXECUTED)
    assert world.gov_balance(Account(RECIPIENT)) == TREASURY - FEE
    assert world.gov_balance(Account(world.dao)) == 0
    assert world.gov_balance(Account(world.dao, STAKING_SUBACCOUNT)) == 210 * E8S
    assert world.ic.state_of(world.dao).treasury_paid[world.gov.id] == TREASURY
    (block,) = world.gov.get_blocks(world.gov.get_transaction_count() - 1, 1)
    assert block.memo == b"grant"


# -- B6 (f): a stake is withdrawn once -------------------------------------------------------------


def test_b6_the_same_stake_is_not_withdrawn_twice(staked: World) -> None:
    world = staked
    bob = world.gov_balance(Account(BOB))
    assert world.as_(BOB).unstake(0) == Ok(100 * E8S - FEE)
    with world.unchanged():
        assert world.as_(BOB).unstake(0) == Err(UnknownStake(0))
        assert world.as_(MALLORY).unstake(1) == Err(UnknownStake(1))
        assert world.relayed_call(world.dao, "unstake", 1) == Err(UnknownStake(1))
    assert world.gov_balance(Account(BOB)) == bob + 100 * E8S - FEE
    assert world.gov_balance(Account(world.dao, STAKING_SUBACCOUNT)) == 110 * E8S


def test_b6_a_stake_whose_transfer_the_ledger_refused_is_restored_and_withdrawn_once(
    staked: World,
) -> None:
    world = staked
    with world.unchanged():  # the request and its identical resend: it never ran
        fault = world.ic.faults.reject(canister=world.gov.id, method="icrc1_transfer", times=2)
        result = world.as_(BOB).unstake(0)
        assert isinstance(result, Err) and isinstance(result.error, TransferFailed)
        assert fault.fired == 2
    assert world.as_(BOB).get_member(BOB).own == POWER[BOB]
    assert world.as_(BOB).unstake(0) == Ok(100 * E8S - FEE)
    with world.unchanged():
        assert world.as_(BOB).unstake(0) == Err(UnknownStake(0))


@pytest.fixture
def relay_staked(staked: World) -> tuple[World, int]:
    """The relay canister has staked 20 and the governance ledger reenters on its payouts."""
    world = staked
    world.ic.upgrade_canister(world.gov.id, ReenteringLedger, caller=GOV_OPERATOR)
    stake = world.relayed_call(world.dao, "stake", 20 * E8S, 0).unwrap()
    REENTRY.update(relay=world.relay.id, answers=[])
    return world, stake.id


def test_b6_an_unstake_arriving_while_the_first_is_paid_out_finds_no_stake(
    relay_staked: tuple[World, int],
) -> None:
    world, stake_id = relay_staked
    relay = world.gov_balance(Account(world.relay.id))
    REENTRY["during_payout"] = [(world.dao, "unstake", (stake_id,))] * 2
    assert world.relayed_call(world.dao, "unstake", stake_id) == Ok(20 * E8S - FEE)
    assert REENTRY["answers"] == [Err(UnknownStake(stake_id))] * 2
    assert world.gov_balance(Account(world.relay.id)) == relay + 20 * E8S - FEE
    assert world.gov_balance(Account(world.dao, STAKING_SUBACCOUNT)) == 210 * E8S
    assert world.ic.state_of(world.dao).staked == 210 * E8S
    assert world.indexed_roles(world.relay.id) == {}


def test_b6_an_unstake_arriving_while_a_failing_payout_is_in_flight_leaves_one_withdrawal(
    relay_staked: tuple[World, int],
) -> None:
    world, stake_id = relay_staked
    relay = world.gov_balance(Account(world.relay.id))
    state = world.ic.state_of(world.dao)
    REENTRY["during_payout"] = [(world.dao, "unstake", (stake_id,))]
    trap = world.ic.faults.trap(canister=world.gov.id, method="icrc1_transfer", times=2)
    result = world.relayed_call(world.dao, "unstake", stake_id)
    assert trap.fired == 2
    assert isinstance(result, Err) and isinstance(result.error, TransferFailed)
    assert REENTRY["answers"] == [Err(UnknownStake(stake_id))]
    assert world.ic.state_of(world.dao) == state
    assert world.gov_balance(Account(world.relay.id)) == relay
    assert world.relayed_call(world.dao, "unstake", stake_id) == Ok(20 * E8S - FEE)
    assert world.relayed_call(world.dao, "unstake", stake_id) == Err(UnknownStake(stake_id))
    assert world.gov_balance(Account(world.relay.id)) == relay + 20 * E8S - FEE
    assert world.gov_balance(Account(world.dao, STAKING_SUBACCOUNT)) == 210 * E8S


def test_a_failed_payout_that_makes_the_user_a_member_again_tells_the_factory(
    relay_staked: tuple[World, int],
) -> None:
    """While the payout of the relay's first stake is in flight, it unstakes its second one,
    leaves, and the factory is told; then the first payout fails and puts that stake back: the
    relay is a member again, and the factory must hear it too."""
    world, first = relay_staked
    second = world.relayed_call(world.dao, "stake", 20 * E8S, 0).unwrap().id
    REENTRY["during_payout"] = [(world.dao, "unstake", (second,))]
    # The first payout and its resend trap (the second payout, nested, goes through).
    world.ic.faults.trap(canister=world.gov.id, method="icrc1_transfer", times=1)
    world.ic.faults.trap(canister=world.gov.id, method="icrc1_transfer", times=1, after=1)
    result = world.relayed_call(world.dao, "unstake", first)
    assert isinstance(result, Err) and isinstance(result.error, TransferFailed)
    assert REENTRY["answers"] == [Ok(20 * E8S - FEE)]
    assert set(world.ic.state_of(world.dao).stakes_by_owner[world.relay.id]) == {first}
    assert world.indexed_roles(world.relay.id) == world.true_roles(world.relay.id)
    assert world.indexed_roles(world.relay.id) == {world.dao: {"member"}}


def test_b6_a_proposal_counts_the_power_it_was_admitted_with_if_its_proposer_unstakes_meanwhile(
    relay_staked: tuple[World, int],
) -> None:
    """The threshold check and the snapshot are one moment, before the deposit is pulled: an
    unstake landing while the deposit is in flight changes neither (as for a Governor, power
    moved after the snapshot does not count), and the tally is not measured against nothing."""
    world, stake_id = relay_staked
    relay = world.relay.id
    before = world.ic.state_of(world.dao).power
    REENTRY["during_pull"] = [(world.dao, "unstake", (stake_id,))]
    proposal_id = world.relayed_call(world.dao, "submit_proposal", Motion("Mid-flight")).unwrap()
    assert REENTRY["answers"] == [Ok(20 * E8S - FEE)]
    assert world.ic.state_of(world.dao).power.subtree(relay) == 0
    snapshot = world.ic.state_of(world.dao).proposals[proposal_id].snapshot
    assert snapshot == before and snapshot.subtree(relay) >= THRESHOLD
    tally = world.as_(ALICE).get_tally(proposal_id)
    assert tally.snapshot_total == TOTAL_POWER + snapshot.subtree(relay)


# -- B6 (g, h): the creator is the payer; the minimum stake is not the deposit ---------------------


def test_b6_the_creator_is_the_paying_user_not_the_backend(proposed: World) -> None:
    world = proposed
    backend = world.system.backend.id
    for dao in world.daos:
        info = world.factory.as_caller(MALLORY).get_contract_info(dao)
        assert (info.owner, info.kind) == (ALICE, "dao")
        assert world.ic.state_of(dao).meta.owner == ALICE
    entries = world.factory.as_caller(ALICE).get_my_contracts(ALICE).items
    assert [(entry.info.id, entry.roles) for entry in entries] == [
        (world.dao, (CREATOR,)), (world.low, (CREATOR,)),
    ]  # fmt: skip
    created = world.factory.as_caller(ALICE).get_created_contracts(ALICE)
    assert [info.id for info in created.items] == [world.dao, world.low]
    assert world.factory.as_caller(backend).get_my_contracts(backend).total == 0


def test_b6_the_minimum_stake_and_the_deposit_are_separate_parameters(staked: World) -> None:
    world = staked
    deposits = Account(world.dao, DEPOSITS_SUBACCOUNT)
    bob = world.gov_balance(Account(BOB))
    proposal_id = world.as_(BOB).submit_proposal(Motion("deposit")).unwrap()
    assert world.gov_balance(Account(BOB)) == bob - DEPOSIT - FEE
    assert world.gov_balance(deposits) == DEPOSIT != MIN_STAKE
    assert world.proposal(proposal_id).deposit == DEPOSIT
    low = world.as_(FRANK, world.low)
    assert low.get_config().minimum_stake == 1
    frank = world.gov_balance(Account(FRANK))
    low.stake(FEE + 1, DAY).unwrap()
    assert low.submit_proposal(Motion("no deposit")) == Ok(0)
    assert world.gov_balance(Account(FRANK)) == frank - FEE - 1 - FEE
    info = low.get_proposal(0)
    assert (info.deposit, info.deposit_status) == (0, DepositStatus.NONE)
    assert world.gov_balance(Account(world.low, DEPOSITS_SUBACCOUNT)) == 0


# -- B7: a paid deployment whose token does not answer is refunded ---------------------------------


def _stopped_ledger(world: World) -> Principal:
    world.ic.stop_canister(world.gov.id, caller=GOV_OPERATOR)
    return world.gov.id


def _rejecting_ledger(world: World) -> Principal:
    world.ic.faults.reject(canister=world.gov.id, method="icrc1_supported_standards")
    return world.gov.id


BAD_TOKENS: dict[str, Callable[[World], Principal]] = {
    "a canister that does not exist": lambda w: Principal.from_text("rrkah-fqaaa-aaaaa-aaaaq-cai"),
    "a stopped ledger": _stopped_ledger,
    "a canister that is not a ledger": lambda w: w.system.audit_storage.id,
    "a canister without ICRC-2": lambda w: w.ic.deploy(FeelessToken, None).id,
    "a ledger that rejects the call": _rejecting_ledger,
}


@pytest.mark.parametrize("bad_token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_b7_a_paid_deployment_whose_token_does_not_answer_is_refunded(
    staked: World, bad_token: Callable[[World], Principal]
) -> None:
    world = staked
    token = bad_token(world)
    icp = world.system.icp_ledger
    alice = world.system.icp_balance(ALICE)
    backend = world.system.icp_balance(world.system.backend.id)
    canisters = live_canisters(world.ic)
    listing = world.factory.as_caller(ALICE).get_my_contracts(ALICE)
    stats = world.factory.get_stats()
    by_token = world.factory.get_daos_by_token(token)
    transactions = icp.get_transaction_count()
    result = world.system.backend.as_caller(ALICE).deploy_dao(world.config(token=token))
    assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed)
    failure = result.error
    assert "preflight" in failure.reason and str(token) in failure.reason
    assert failure.refund is not None
    assert (failure.refund.status, failure.refund.amount) == ("Completed", SERVICE_FEE)
    assert world.system.icp_balance(ALICE) == alice - FEE
    assert world.system.icp_balance(world.system.backend.id) == backend - FEE
    assert icp.get_transaction_count() == transactions + 2
    assert world.system.backend.admin_list_pending_refunds() == ()
    assert live_canisters(world.ic) == canisters
    assert world.factory.as_caller(ALICE).get_my_contracts(ALICE) == listing
    assert world.factory.get_daos_by_token(token) == by_token
    listed = tuple(info.id for info in world.factory.get_daos_by_token(token).items)
    assert listed in ((), (world.dao, world.low))
    after = world.factory.get_stats()
    assert (after.contracts, after.deployed) == (stats.contracts, stats.deployed)
    assert after.failed_deployments == stats.failed_deployments + 1


# -- B12: every join, exit and re-join reaches the factory's index --------------------------------


def test_b12_a_first_stake_a_full_exit_and_a_rejoin_are_all_indexed(staked: World) -> None:
    world = staked
    world.assert_index_exact()
    assert world.indexed_roles(BOB) == {world.dao: {MEMBER}}
    first = world.as_(FRANK).stake(5 * E8S, 0).unwrap()
    second = world.as_(FRANK).stake(5 * E8S, 0).unwrap()
    assert world.indexed_roles(FRANK) == {world.dao: {MEMBER}}
    world.as_(FRANK).unstake(first.id).unwrap()
    assert world.indexed_roles(FRANK) == {world.dao: {MEMBER}}
    world.as_(FRANK).unstake(second.id).unwrap()
    assert world.indexed_roles(FRANK) == {}
    world.assert_index_exact()
    world.as_(FRANK).stake(3 * E8S, 0).unwrap()
    world.as_(FRANK, world.low).stake(3 * E8S, DAY).unwrap()
    assert world.indexed_roles(FRANK) == {world.dao: {MEMBER}, world.low: {MEMBER}}
    world.as_(BOB).unstake(0).unwrap()
    assert world.indexed_roles(BOB) == {}
    world.as_(BOB).stake(MIN_STAKE, 0).unwrap()
    assert world.indexed_roles(BOB) == {world.dao: {MEMBER}}
    world.assert_index_exact()


def _factory_down(world: World) -> None:
    world.ic.stop_canister(world.factory.id, caller=world.system.operator)


def _factory_up(world: World) -> None:
    world.ic.start_canister(world.factory.id, caller=world.system.operator)


def test_b12_a_join_while_the_factory_is_down_is_delivered_by_the_retry_timer(
    staked: World,
) -> None:
    world = staked
    _factory_down(world)
    assert world.as_(FRANK).stake(5 * E8S, 0).unwrap().power == 5 * E8S
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 1
    _factory_up(world)
    assert world.indexed_roles(FRANK) == {}
    world.ic.advance_time(seconds=59)
    assert world.indexed_roles(FRANK) == {}
    world.ic.advance_time(seconds=1)
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 0
    assert world.indexed_roles(FRANK) == {world.dao: {MEMBER}}
    world.assert_index_exact()


def test_b12_a_join_and_an_exit_queued_while_the_factory_is_down_carry_the_daos_truth(
    staked: World,
) -> None:
    world = staked
    _factory_down(world)
    stake = world.as_(FRANK).stake(5 * E8S, 0).unwrap()
    world.as_(BOB).unstake(0).unwrap()
    world.ic.advance_time(seconds=61)
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 2
    _factory_up(world)
    assert world.as_(MALLORY).sync_roles() == 0
    assert world.indexed_roles(FRANK) == {world.dao: {MEMBER}}
    assert world.indexed_roles(BOB) == {}
    world.assert_index_exact()
    world.as_(FRANK).unstake(stake.id).unwrap()
    world.assert_index_exact()
    with world.unchanged():
        assert world.as_(MALLORY).sync_roles() == 0


# -- bad input: typed refusals that change nothing -------------------------------------------------

MISTYPED: dict[str, tuple[str, tuple[Any, ...]]] = {
    "stake a bool": ("stake", (True, 0)),
    "stake text": ("stake", ("100", 0)),
    "stake a float": ("stake", (10.0 * E8S, 0)),
    "stake with a float lock": ("stake", (10 * E8S, 1.5)),
    "unstake text": ("unstake", ("0",)),
    "unstake a float": ("unstake", (0.0,)),
    "unstake a bool": ("unstake", (False,)),
    "delegate to text": ("delegate", ("bob",)),
    "delegate to None": ("delegate", (None,)),
    "vote with text": ("vote", (0, "Yes")),
    "vote with a bool": ("vote", (0, True)),
    "vote on a text id": ("vote", ("0", Choice.YES)),
    "submit text": ("submit_proposal", ("a motion",)),
    "submit a dict": ("submit_proposal", ({"Motion": "text"},)),
    "submit a stake": ("submit_proposal", (None,)),
    "execute text": ("execute", ("0",)),
    "tally a float": ("tally", (0.0,)),
}  # fmt: skip


@pytest.mark.parametrize(("method", "args"), MISTYPED.values(), ids=MISTYPED.keys())
def test_a_mistyped_argument_is_refused_before_the_method_runs(
    proposed: World, method: str, args: tuple[Any, ...]
) -> None:
    world = proposed
    with world.unchanged():
        error = rejected(lambda: getattr(world.as_(BOB), method)(*args))
    assert isinstance(error, InvalidArguments)


def _invalid(reason_part: str) -> Callable[[object], bool]:
    def check(result: object) -> bool:
        return (
            isinstance(result, Err) and isinstance(result.error, InvalidRequest)
            and any(reason_part in reason for reason in result.error.reasons)
        )  # fmt: skip

    return check


def _is(expected: object) -> Callable[[object], bool]:
    return lambda result: result == expected


def _not_identified(result: object) -> bool:
    return isinstance(result, Err) and isinstance(result.error, NotIdentified)


BAD_VALUES: dict[str, tuple[Principal, str, tuple[Any, ...], Callable[[object], bool]]] = {
    "stake a negative amount": (FRANK, "stake", (-1, 0), _invalid("amount must be")),
    "stake nothing": (FRANK, "stake", (0, 0), _invalid("amount must be")),
    "stake 2**128": (FRANK, "stake", (2**128, 0), _invalid("amount must be")),
    "stake more than one approval holds": (FRANK, "stake", (2**64, 0), _invalid("2**64 - 1")),
    "stake more than the balance": (
        FRANK, "stake", (2**64 - 1, 0),
        lambda r: isinstance(r, Err) and isinstance(r.error, TransferFailed),
    ),
    "lock past the maximum": (FRANK, "stake", (10 * E8S, MAX_LOCK + 1), _invalid("lock_duration")),
    "a negative lock": (FRANK, "stake", (10 * E8S, -1), _invalid("lock_duration")),
    "an anonymous staker": (Principal.anonymous(), "stake", (10 * E8S, 0), _not_identified),
    "unstake a negative id": (BOB, "unstake", (-1,), _is(Err(UnknownStake(-1)))),
    "unstake an unknown id": (BOB, "unstake", (99,), _is(Err(UnknownStake(99)))),
    "unstake another's stake": (BOB, "unstake", (1,), _is(Err(UnknownStake(1)))),
    "unstake a locked stake": (
        CAROL, "unstake", (1,),
        lambda r: isinstance(r, Err) and type(r.error).__name__ == "StillLocked",
    ),
    "delegate to anonymous": (BOB, "delegate", (Principal.anonymous(),), _not_identified),
    "delegate to the management canister": (
        BOB, "delegate", (Principal.management_canister(),), _not_identified,
    ),
    "delegate to oneself": (BOB, "delegate", (BOB,), _invalid("cannot delegate to itself")),
    "an anonymous delegator": (Principal.anonymous(), "delegate", (BOB,), _not_identified),
    "undelegate without a delegation": (BOB, "undelegate", (), _invalid("not delegating")),
    "vote on an unknown proposal": (BOB, "vote", (99, Choice.YES), _is(Err(UnknownProposal(99)))),
    "vote on a negative id": (BOB, "vote", (-1, Choice.YES), _is(Err(UnknownProposal(-1)))),
    "an empty motion": (BOB, "submit_proposal", (Motion(""),), _invalid("motion text")),
    "a blank motion": (BOB, "submit_proposal", (Motion(" \n\t\u3000"),), _invalid("blank")),
    "a delegation by a non-member": (FRANK, "delegate", (BOB,), _invalid("only a member")),
    "a transfer to the anonymous principal": (
        BOB, "submit_proposal",
        (TreasuryTransfer(ICP.canister_id, Account(Principal.anonymous()), E8S),),
        _invalid("anonymous principal cannot be a recipient"),
    ),
    "a transfer to the management canister": (
        BOB, "submit_proposal",
        (TreasuryTransfer(ICP.canister_id, Account(Principal.management_canister()), E8S),),
        _invalid("management canister cannot be a recipient"),
    ),
    "a motion with a NUL": (BOB, "submit_proposal", (Motion("a\x00b"),), _invalid("U+0000")),
    "a motion with a bell": (BOB, "submit_proposal", (Motion("ring\x07"),), _invalid("U+0007")),
    "a motion with a bidi override": (
        BOB, "submit_proposal", (Motion("\u202eevil"),), _invalid("U+202E"),
    ),
    "a motion too long": (BOB, "submit_proposal", (Motion("x" * 10_001),), _invalid("motion")),
    "a motion that is not text": (BOB, "submit_proposal", (Motion(5),), _invalid("must be text")),  # type: ignore[arg-type]
    "a transfer of nothing": (
        BOB, "submit_proposal", (TreasuryTransfer(ICP.canister_id, Account(BOB), 0),),
        _invalid("amount must be"),
    ),
    "a transfer with a 33-byte memo": (
        BOB, "submit_proposal",
        (TreasuryTransfer(ICP.canister_id, Account(BOB), E8S, b"m" * 33),), _invalid("memo"),
    ),
    "a transfer from a user's ledger": (
        BOB, "submit_proposal", (TreasuryTransfer(BOB, Account(BOB), E8S),), _invalid("ledger"),
    ),
    "a transfer to a principal": (
        BOB, "submit_proposal", (TreasuryTransfer(ICP.canister_id, BOB, E8S),),  # type: ignore[arg-type]
        _invalid("to must be an Account"),
    ),
    # Unhashable recipients: the check that ``to`` is not one of the DAO's own subaccounts used
    # to look them up in a set and trap (TypeError: unhashable type) instead of refusing.
    "a transfer to a list": (
        BOB, "submit_proposal", (TreasuryTransfer(ICP.canister_id, [1], E8S),),  # type: ignore[arg-type]
        _invalid("to must be an Account"),
    ),
    "a transfer to a dict": (
        BOB, "submit_proposal", (TreasuryTransfer(ICP.canister_id, {"owner": BOB}, E8S),),  # type: ignore[arg-type]
        _invalid("to must be an Account"),
    ),
    "a transfer of 2**128": (
        BOB, "submit_proposal", (TreasuryTransfer(ICP.canister_id, Account(BOB), 2**128),),
        _invalid("amount must be"),
    ),
    "an empty parameter change": (
        BOB, "submit_proposal", (UpdateParams(),), _invalid("at least one parameter"),
    ),
    "a quorum of zero": (BOB, "submit_proposal", (UpdateParams(quorum_bp=0),), _invalid("quorum")),
    "an approval below half": (
        BOB, "submit_proposal", (UpdateParams(approval_bp=4_999),), _invalid("approval_bp"),
    ),
    "a minimum stake of zero": (
        BOB, "submit_proposal", (UpdateParams(minimum_stake=0),), _invalid("minimum_stake"),
    ),
    "execute an unknown proposal": (MALLORY, "execute", (99,), _is(Err(UnknownProposal(99)))),
    "execute an open proposal": (
        MALLORY, "execute", (0,), _is(Err(WrongStatus(ProposalStatus.OPEN, "Accepted"))),
    ),
    "tally an unknown proposal": (MALLORY, "tally", (7,), _is(Err(UnknownProposal(7)))),
    "return a deposit that is held": (
        MALLORY, "return_deposit", (0,),
        _is(Err(WrongStatus(ProposalStatus.OPEN, "a deposit still owed"))),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("caller", "method", "args", "check"), BAD_VALUES.values(),
                         ids=BAD_VALUES.keys())  # fmt: skip
def test_a_bad_value_is_a_typed_error_that_changes_nothing(
    proposed: World, caller: Principal, method: str, args: tuple[Any, ...],
    check: Callable[[object], bool],
) -> None:  # fmt: skip
    world = proposed
    with world.unchanged():
        result = getattr(world.as_(caller), method)(*args)
    assert check(result), result


def test_a_second_vote_a_delegation_by_a_non_member_a_cycle_or_an_overlong_chain_are_refused(
    proposed: World,
) -> None:
    world = proposed
    assert world.as_(BOB).vote(0, YES) == Ok(POWER[BOB])
    with world.unchanged():
        assert world.as_(BOB).vote(0, NO) == Err(AlreadyVoted(BOB, YES))
    chain = (BOB, CAROL, DAVE, FRANK, MALLORY, ERIN)
    with world.unchanged():  # Erin has no stake yet: only members delegate
        assert _invalid("only a member")(world.as_(ERIN).delegate(BOB))
    world.mint(Account(ERIN), MIN_STAKE + E8S)
    approval = ApproveArgs(spender=Account(world.dao), amount=MIN_STAKE + E8S)
    world.gov.as_caller(ERIN).icrc2_approve(approval).unwrap()
    for member in (FRANK, MALLORY, ERIN):
        world.as_(member).stake(MIN_STAKE, 0).unwrap()
    for delegator, delegate in itertools.pairwise(chain):
        assert world.as_(delegator).delegate(delegate) == Ok(None)
    with world.unchanged():
        assert _invalid("a cycle")(world.as_(ERIN).delegate(BOB))
        assert _invalid("at most 5")(world.as_(ERIN).delegate(RECIPIENT))
        assert _invalid("already delegating")(world.as_(BOB).delegate(CAROL))


def test_a_member_cannot_delegate_to_the_dao_itself(staked: World) -> None:
    """The DAO never votes: power delegated to it would count for no one."""
    world = staked
    with world.unchanged():
        result = world.as_(BOB).delegate(world.dao)
        assert _not_identified(result) and result.error == NotIdentified(
            world.dao, "delegate", result.error.reason
        )  # fmt: skip
        assert "the DAO itself" in result.error.reason
        assert _not_identified(world.relayed_call(world.dao, "delegate", world.dao))
    assert world.as_(BOB).get_member(BOB).delegate is None


def test_an_invalid_update_is_refused_at_execution_too(staked: World) -> None:
    world = staked
    lower = world.accepted(UpdateParams(approval_bp=5_000, quorum_bp=1))
    assert world.as_(MALLORY).execute(lower) == Ok(ProposalStatus.EXECUTED)
    config = world.as_(ALICE).get_config()
    assert (config.quorum_bp, config.minimum_stake, config.proposal_deposit) == (
        1, MIN_STAKE, DEPOSIT,
    )  # fmt: skip
    assert attrs.evolve(world.config(), quorum_bp=1) == config


def test_a_call_rejected_by_the_ledger_during_staking_records_nothing(staked: World) -> None:
    world = staked
    with world.unchanged():
        world.ic.faults.reject(canister=world.gov.id, method="icrc2_transfer_from", times=2)
        result = world.as_(FRANK).stake(10 * E8S, 0)
    assert isinstance(result, Err) and isinstance(result.error, TransferFailed)
    assert world.indexed_roles(FRANK) == {}
