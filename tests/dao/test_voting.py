"""Voting power, quorum, approval, delegation and tallies of a DAO.

- A stake's voting power is ``amount · multiplier_bp // 10_000`` (floored per stake), with the
  multiplier of the largest lock tier whose duration ≤ the lock: one nanosecond short of a tier
  keeps the tier below. The tables below are computed by hand, and the contract's ``stake``
  records exactly those numbers.
- Quorum is ``(yes + no + abstain)·10_000 ≥ quorum_bp · snapshot total`` and approval is
  ``yes·10_000 ≥ approval_bp · (yes + no)`` with ``yes + no > 0``: at the boundary passes, one
  unit below fails, abstention counts for quorum only. Through a deployed DAO, a proposal exactly
  at the quorum is Accepted, one unit of voting power below is Rejected, and the deposit is
  forfeited only when the quorum was reached and the proposal rejected.
- The pure functions of ``icto.dao.voting`` agree with a naive model after every step of any
  sequence of stakes, withdrawals, delegations and undelegations: ``received`` is the own power
  of everyone whose chain reaches a principal, ``total`` is Σ own, no cycle and no chain of more
  than ``MAX_CHAIN`` links ever exists, ``height`` is the longest chain ending at a principal, and
  ``delegation_problem`` refuses exactly the delegations that would make a cycle or a longer
  chain (and the no-ops: to oneself, to one's current delegate).
- A tally counts every member's own power for the nearest principal up its snapshot chain
  (itself included) who voted, whatever order the votes came in; each vote's ``power`` is what
  is finally counted for that voter; and a snapshot never changes after it is taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs
import pytest
from hypothesis import currently_in_test_context, event, example, given
from hypothesis import strategies as st

from icto import E8S, IC, Account, Err, Ok, Principal
from icto.dao import (
    MAX_CHAIN,
    Choice,
    DAOConfig,
    DepositStatus,
    InvalidRequest,
    Motion,
    ProposalInfo,
    ProposalStatus,
    UpdateParams,
    multiplier_for,
    voting_power,
)
from icto.dao.voting import (
    Power,
    Tally,
    approved,
    cast_vote,
    delegated,
    delegation_problem,
    quorum_reached,
    undelegated,
    voting_power_at,
    with_stake,
)
from icto.distribution import days
from icto.ic.proxy import CanisterProxy
from icto.ic.world import MAX_TIME
from icto.ledger.ledger import Ledger
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import ApproveArgs, TransferArgs, TransferFromArgs
from icto.system import System, deploy_system

YES, NO, ABSTAIN = Choice.YES, Choice.NO, Choice.ABSTAIN
TIERS: Final = ((0, 10_000), (days(30), 12_500), (days(180), 15_000), (days(365), 20_000))


# -- voting power per tier ------------------------------------------------------------------------

# lock → the multiplier of the largest tier whose duration ≤ lock.
MULTIPLIERS = [
    pytest.param(0, 10_000, id="no lock: 1x"),
    pytest.param(days(30) - 1, 10_000, id="1 ns short of 30 days: 1x"),
    pytest.param(days(30), 12_500, id="30 days: 1.25x"),
    pytest.param(days(180) - 1, 12_500, id="1 ns short of 180 days: 1.25x"),
    pytest.param(days(180), 15_000, id="180 days: 1.5x"),
    pytest.param(days(365), 20_000, id="365 days: 2x"),
    pytest.param(days(4000), 20_000, id="4000 days: 2x"),
]

# (lock, amount, power): amount · multiplier // 10_000, floored, computed by hand.
POWERS = [
    pytest.param(lock, amount, power, id=f"{name} x {amount}")
    for name, lock, rows in (
        ("0", 0, ((1, 1), (3, 3), (7, 7), (10**8 + 1, 100_000_001))),
        ("30d-1", days(30) - 1, ((1, 1), (3, 3), (7, 7), (10**8 + 1, 100_000_001))),
        # 1.25, 3.75, 8.75, 125_000_001.25
        ("30d", days(30), ((1, 1), (3, 3), (7, 8), (10**8 + 1, 125_000_001))),
        ("180d-1", days(180) - 1, ((1, 1), (3, 3), (7, 8), (10**8 + 1, 125_000_001))),
        # 1.5, 4.5, 10.5, 150_000_001.5
        ("180d", days(180), ((1, 1), (3, 4), (7, 10), (10**8 + 1, 150_000_001))),
        ("365d", days(365), ((1, 2), (3, 6), (7, 14), (10**8 + 1, 200_000_002))),
        ("4000d", days(4000), ((1, 2), (3, 6), (7, 14), (10**8 + 1, 200_000_002))),
    )
    for amount, power in rows
]


@pytest.mark.parametrize(("lock", "multiplier"), MULTIPLIERS)
def test_a_lock_gets_the_multiplier_of_the_largest_tier_it_reaches(
    lock: int, multiplier: int
) -> None:
    assert multiplier_for(TIERS, lock) == multiplier


@pytest.mark.parametrize(("lock", "amount", "power"), POWERS)
def test_voting_power_is_the_floor_of_amount_times_the_tier_multiplier(
    lock: int, amount: int, power: int
) -> None:
    multiplier = multiplier_for(TIERS, lock)
    assert multiplier is not None
    assert voting_power(amount, multiplier) == power


@pytest.mark.parametrize(
    ("amount", "multiplier", "power"),
    [
        pytest.param(3, 13_333, 3, id="3 x 1.3333 = 3.9999"),
        pytest.param(10**8 + 1, 13_333, 133_330_001, id="(10**8+1) x 1.3333"),
        pytest.param(7, 50_000, 35, id="7 x 5"),
        pytest.param(2**128 - 1, 50_000, 5 * (2**128 - 1), id="max amount x 5: no overflow"),
        pytest.param(9_999, 10_001, 9_999, id="9_999 x 1.0001 = 9_999.9999"),
    ],
)
def test_voting_power_with_awkward_multipliers(amount: int, multiplier: int, power: int) -> None:
    assert voting_power(amount, multiplier) == power


def test_a_lock_shorter_than_every_tier_has_no_multiplier() -> None:
    tiers = ((days(7), 10_000), (days(30), 12_500))
    assert multiplier_for(tiers, days(7) - 1) is None
    assert multiplier_for(tiers, 0) is None
    assert multiplier_for(tiers, days(7)) == 10_000


# -- the deployed DAO -----------------------------------------------------------------------------

CREATOR, ALICE, BOB, CAROL = (
    Principal.from_name(name) for name in ("dao-creator", "alice", "bob", "carol")
)
MINTER = Principal.from_name("gov-minter")
FEE: Final = 10_000
"""The governance ledger's fee (ICP's parameters)."""
TOKENS: Final = 10**12
"""Governance tokens each member is minted (and approves the DAO for)."""
HELD: Final = TOKENS - FEE
"""What each member holds once its approval's fee is paid."""
DEPOSIT: Final = 1_000_000
VOTING_PERIOD: Final = 3600 * 10**9


class World:
    """The platform, a governance ledger, and a DAO deployed by ``CREATOR`` with ``TIERS``,
    quorum 20 %, approval 50 %, a 1 h voting period, no timelock and a deposit of ``DEPOSIT``;
    alice, bob and carol were minted ``TOKENS`` each and have approved the DAO for all of it
    (they hold ``HELD``). Nobody
    has staked yet (``ready``)."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.gov = deploy_ledger(self.ic, ICP.init(Account(MINTER)))
        self.config = DAOConfig(
            name="Voting DAO", token=self.gov.id, minimum_stake=1, proposal_threshold=1,
            proposal_deposit=DEPOSIT, quorum_bp=2_000, approval_bp=5_000,
            voting_period=VOTING_PERIOD, timelock=0, lock_tiers=TIERS,
        )  # fmt: skip
        self.system.faucet(CREATOR, 100 * E8S)
        self.system.approve_backend(CREATOR, 10 * E8S)
        deployed = self.system.backend.as_caller(CREATOR).deploy_dao(self.config).unwrap()
        self.dao_id: Principal = deployed.canister_id
        for member in (ALICE, BOB, CAROL):
            self.gov.as_caller(MINTER).icrc1_transfer(
                TransferArgs(to=Account(member), amount=TOKENS)
            ).unwrap()
            approval = ApproveArgs(spender=Account(self.dao_id), amount=TOKENS)
            self.gov.as_caller(member).icrc2_approve(approval).unwrap()
        self.ready = self.ic.snapshot()

    def dao(self, caller: Principal) -> CanisterProxy:
        return self.ic.actor(self.dao_id, caller)

    def balance(self, owner: Principal) -> int:
        return int(self.gov.icrc1_balance_of(Account(owner)))


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    built.ic.restore(built.ready)
    return built


# The same table through ``DAO.stake``: a stake must be above the ledger fee (10_000), so the
# awkward amounts are 10_001, 10_003, 10_007 and 10**8 + 1; locks beyond eight years are refused.
STAKED_POWERS = [
    pytest.param(lock, amount, power, id=f"{name} x {amount}")
    for name, lock, rows in (
        ("0", 0, ((10_001, 10_001), (10_003, 10_003), (10_007, 10_007),
                  (10**8 + 1, 100_000_001))),
        ("30d-1", days(30) - 1, ((10_001, 10_001), (10_003, 10_003), (10_007, 10_007),
                                 (10**8 + 1, 100_000_001))),
        # 12_501.25, 12_503.75, 12_508.75, 125_000_001.25
        ("30d", days(30), ((10_001, 12_501), (10_003, 12_503), (10_007, 12_508),
                           (10**8 + 1, 125_000_001))),
        ("180d-1", days(180) - 1, ((10_001, 12_501), (10_003, 12_503), (10_007, 12_508),
                                   (10**8 + 1, 125_000_001))),
        # 15_001.5, 15_004.5, 15_010.5, 150_000_001.5
        ("180d", days(180), ((10_001, 15_001), (10_003, 15_004), (10_007, 15_010),
                             (10**8 + 1, 150_000_001))),
        ("365d", days(365), ((10_001, 20_002), (10_003, 20_006), (10_007, 20_014),
                             (10**8 + 1, 200_000_002))),
    )
    for amount, power in rows
]  # fmt: skip


@pytest.mark.parametrize(("lock", "amount", "power"), STAKED_POWERS)
def test_a_stake_records_the_hand_computed_power_of_its_tier(
    world: World, lock: int, amount: int, power: int
) -> None:
    stake = world.dao(ALICE).stake(amount, lock).unwrap()
    assert (stake.amount, stake.power) == (amount, power)
    assert stake.unlocks_at == stake.staked_at + lock
    member = world.dao(ALICE).get_member(ALICE)
    assert (member.own, member.effective) == (power, power)
    assert world.dao(ALICE).get_stats().total_power == power
    assert world.balance(ALICE) == HELD - amount - FEE


def test_power_is_floored_per_stake_then_summed(world: World) -> None:
    """Two stakes of 10_003 locked 30 days: 12_503 each (12_503.75 floored), 25_006 in all —
    not 25_007, the floor of 20_006 x 1.25."""
    for _ in range(2):
        assert world.dao(ALICE).stake(10_003, days(30)).unwrap().power == 12_503
    assert world.dao(ALICE).get_member(ALICE).own == 25_006


def test_a_proposal_whose_vote_would_outlast_ic_time_is_refused_before_its_deposit(
    world: World,
) -> None:
    """Within a voting period of the IC clock's last instant no timer could end the vote: the
    proposal is refused before the deposit is pulled (it used to trap after the pull, leaving
    the deposit owed to nobody)."""
    dao = world.dao(ALICE)
    assert isinstance(dao.stake(10 * DEPOSIT, 0), Ok)
    world.ic.set_time(MAX_TIME - VOTING_PERIOD)
    last_chance = world.ic.snapshot()
    assert isinstance(dao.submit_proposal(Motion("Just in time")), Ok)
    world.ic.restore(last_chance)
    world.ic.advance_time(nanos=1)
    before = (world.balance(ALICE), world.ic.state_of(world.dao_id))
    refused = dao.submit_proposal(Motion("Too late"))
    assert isinstance(refused, Err) and isinstance(refused.error, InvalidRequest), refused
    assert (world.balance(ALICE), world.ic.state_of(world.dao_id)) == before


PULL_HOOK: list[Callable[[Any], Any]] = []
"""What runs, once, while the governance ledger pulls a deposit (``PullHookLedger``)."""


class PullHookLedger(Ledger):
    VERSION = "1.0.1"

    def icrc2_transfer_from(self, args: TransferFromArgs) -> Any:
        if PULL_HOOK:
            PULL_HOOK.pop()(self)
        return super().icrc2_transfer_from(args)

    icrc2_transfer_from.__icto_kind__ = (  # type: ignore[attr-defined]
        Ledger.icrc2_transfer_from.__icto_kind__  # type: ignore[attr-defined]
    )


def test_a_proposal_keeps_the_parameters_checked_before_its_deposit_was_pulled(
    world: World,
) -> None:
    """An ``UpdateParams`` executed while a deposit is pulled applies from the next proposal:
    the one being submitted keeps the voting period it was checked with (near the clock's end,
    a longer one could no longer be timed, and the pulled deposit was owed to nobody)."""
    world.ic.upgrade_canister(world.gov.id, PullHookLedger)
    alice, bob = world.dao(ALICE), world.dao(BOB)
    alice.stake(10**11, 0).unwrap()
    bob.stake(10**11, 0).unwrap()
    longer = alice.submit_proposal(UpdateParams(voting_period=days(30))).unwrap()
    alice.vote(longer, Choice.YES).unwrap()
    bob.vote(longer, Choice.YES).unwrap()
    world.ic.set_time(MAX_TIME - 2 * VOTING_PERIOD)
    executed: list[Any] = []
    PULL_HOOK.append(lambda ledger: executed.append(ledger.call(world.dao_id, "execute", longer)))
    proposal_id = alice.submit_proposal(Motion("Edge of time")).unwrap()
    assert executed == [Ok(ProposalStatus.EXECUTED)]
    assert world.ic.state_of(world.dao_id).config.voting_period == days(30)
    proposal = alice.get_proposal(proposal_id)
    assert proposal.ends_at == proposal.submitted_at + VOTING_PERIOD
    assert world.ic.state_of(world.dao_id).deposits_held == DEPOSIT


def test_a_lock_that_would_end_past_ic_time_is_refused_and_takes_nothing(world: World) -> None:
    """A stake locked past the IC clock's last instant could never be unstaked."""
    world.ic.set_time(MAX_TIME - days(30) + 1)
    before = (world.balance(ALICE), world.ic.state_of(world.dao_id))
    refused = world.dao(ALICE).stake(10 * DEPOSIT, days(30))
    assert isinstance(refused, Err) and isinstance(refused.error, InvalidRequest), refused
    assert "past 2**64 - 1 ns" in refused.error.reasons[0]
    assert (world.balance(ALICE), world.ic.state_of(world.dao_id)) == before


def test_a_lock_beyond_eight_years_is_refused_and_takes_nothing(world: World) -> None:
    result = world.dao(ALICE).stake(10**8 + 1, days(4000))
    assert not isinstance(result, Ok)
    assert isinstance(result.error, InvalidRequest)
    assert world.balance(ALICE) == HELD
    assert world.dao(ALICE).get_stats().total_power == 0


# -- quorum and approval --------------------------------------------------------------------------


def tally(yes: int = 0, no: int = 0, abstain: int = 0) -> Tally:
    return Tally(yes=yes, no=no, abstain=abstain)


QUORUMS = [
    pytest.param(tally(yes=200), 1_000, 2_000, True, id="200 of 1_000 at 20%: reached"),
    pytest.param(tally(yes=199), 1_000, 2_000, False, id="199 of 1_000 at 20%: not reached"),
    pytest.param(tally(no=200), 1_000, 2_000, True, id="no votes count for quorum"),
    pytest.param(tally(abstain=200), 1_000, 2_000, True, id="abstentions count for quorum"),
    pytest.param(tally(abstain=199), 1_000, 2_000, False, id="199 abstentions: not reached"),
    pytest.param(tally(50, 50, 100), 1_000, 2_000, True, id="50+50+100: reached"),
    pytest.param(tally(50, 50, 99), 1_000, 2_000, False, id="50+50+99: not reached"),
    # 3_333 · 7 = 23_331: 3 · 10_000 passes, 2 · 10_000 does not.
    pytest.param(tally(yes=3), 7, 3_333, True, id="3 of 7 at 33.33%: reached"),
    pytest.param(tally(yes=2), 7, 3_333, False, id="2 of 7 at 33.33%: not reached"),
    pytest.param(tally(yes=1), 1, 1, True, id="1 of 1 at 0.01%: reached"),
    pytest.param(tally(), 1, 1, False, id="nothing cast at 0.01%: not reached"),
    pytest.param(tally(yes=1), 10_000, 1, True, id="1 of 10_000 at 0.01%: reached"),
    pytest.param(tally(yes=1), 10_001, 1, False, id="1 of 10_001 at 0.01%: not reached"),
    pytest.param(tally(600, 400), 1_000, 10_000, True, id="everything at 100%: reached"),
    pytest.param(tally(600, 399), 1_000, 10_000, False, id="all but 1 at 100%: not reached"),
    # 2_000 · (10**8 + 1) = 200_000_002_000: 20_000_001 · 10_000 passes, 20_000_000 does not.
    pytest.param(tally(yes=20_000_001), 10**8 + 1, 2_000, True, id="20_000_001 of 10**8+1"),
    pytest.param(tally(yes=20_000_000), 10**8 + 1, 2_000, False, id="20_000_000 of 10**8+1"),
]


@pytest.mark.parametrize(("votes", "total", "quorum_bp", "reached"), QUORUMS)
def test_quorum_at_and_one_below_its_boundary(
    votes: Tally, total: int, quorum_bp: int, reached: bool
) -> None:
    assert quorum_reached(votes, total, quorum_bp) is reached


APPROVALS = [
    pytest.param(tally(100, 100), 5_000, True, id="100 yes 100 no at 50%: approved"),
    pytest.param(tally(99, 100), 5_000, False, id="99 yes 100 no at 50%: not approved"),
    pytest.param(tally(100, 100, 10**9), 5_000, True, id="abstentions do not dilute approval"),
    pytest.param(tally(99, 100, 10**9), 5_000, False, id="nor do they help it"),
    # 6_667 · 3 = 20_001 > 2 · 10_000: two thirds is below 66.67 %.
    pytest.param(tally(2, 1), 6_667, False, id="2 yes 1 no at 66.67%: not approved"),
    # 6_667 · 30_000 = 200_010_000 = 20_001 · 10_000.
    pytest.param(tally(20_001, 9_999), 6_667, True, id="20_001 yes 9_999 no at 66.67%"),
    pytest.param(tally(20_000, 10_000), 6_667, False, id="20_000 yes 10_000 no at 66.67%"),
    pytest.param(tally(5, 0), 10_000, True, id="unanimous at 100%: approved"),
    pytest.param(tally(5, 1), 10_000, False, id="one no at 100%: not approved"),
    pytest.param(tally(1, 0), 5_000, True, id="1 yes alone: approved"),
    pytest.param(tally(0, 1), 5_000, False, id="1 no alone: not approved"),
    pytest.param(tally(abstain=500), 5_000, False, id="only abstentions: not approved"),
    pytest.param(tally(), 5_000, False, id="no votes: not approved"),
]


@pytest.mark.parametrize(("votes", "approval_bp", "passes"), APPROVALS)
def test_approval_at_and_one_below_its_boundary(
    votes: Tally, approval_bp: int, passes: bool
) -> None:
    assert approved(votes, approval_bp) is passes


ACCEPTED, REJECTED = ProposalStatus.ACCEPTED, ProposalStatus.REJECTED
RETURNED, FORFEITED = DepositStatus.RETURNED, DepositStatus.FORFEITED

# Every row totals 1_000_000 of voting power (no lock: power = amount), so the 20 % quorum is
# exactly 200_000 cast; alice proposes.
DECISIONS = [
    pytest.param(
        {ALICE: 200_000, BOB: 800_000}, {ALICE: YES}, ACCEPTED, RETURNED,
        id="exactly the quorum, yes: accepted",
    ),
    pytest.param(
        {ALICE: 199_999, BOB: 800_001}, {ALICE: YES}, REJECTED, RETURNED,
        id="one unit below the quorum, yes: rejected, deposit returned",
    ),
    pytest.param(
        {ALICE: 200_000, BOB: 800_000}, {ALICE: NO}, REJECTED, FORFEITED,
        id="exactly the quorum, no: rejected, deposit forfeited",
    ),
    pytest.param(
        {ALICE: 199_999, BOB: 800_001}, {ALICE: NO}, REJECTED, RETURNED,
        id="one unit below the quorum, no: rejected, deposit returned",
    ),
    pytest.param(
        {ALICE: 200_000, BOB: 800_000}, {ALICE: ABSTAIN}, REJECTED, FORFEITED,
        id="the quorum by abstention alone: rejected, deposit forfeited",
    ),
    pytest.param(
        {ALICE: 100_000, CAROL: 100_000, BOB: 800_000}, {ALICE: YES, CAROL: NO},
        ACCEPTED, RETURNED, id="exactly half yes: accepted",
    ),
    pytest.param(
        {ALICE: 99_999, CAROL: 100_001, BOB: 800_000}, {ALICE: YES, CAROL: NO},
        REJECTED, FORFEITED, id="one unit below half yes: rejected, deposit forfeited",
    ),
    pytest.param(
        {ALICE: 99_999, CAROL: 100_000, BOB: 800_001}, {ALICE: YES, CAROL: NO},
        REJECTED, RETURNED, id="below half yes and below the quorum: deposit returned",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("stakes", "votes", "status", "deposit"), DECISIONS)
def test_a_proposal_at_the_boundary_is_decided_by_the_hand_computed_rule(
    world: World,
    stakes: dict[Principal, int],
    votes: dict[Principal, Choice],
    status: ProposalStatus,
    deposit: DepositStatus,
) -> None:
    for member, amount in stakes.items():
        assert world.dao(member).stake(amount, 0).unwrap().power == amount
    proposal_id = world.dao(ALICE).submit_proposal(Motion("At the boundary")).unwrap()
    for voter, choice in votes.items():
        assert world.dao(voter).vote(proposal_id, choice) == Ok(stakes[voter])
    world.ic.advance_time(hours=1)  # the proposal's timer decides it at its end
    info: ProposalInfo = world.dao(BOB).get_proposal(proposal_id)
    assert info.tally.snapshot_total == 1_000_000
    assert (info.status, info.deposit_status) == (status, deposit)
    assert info.executable_at == (info.ends_at if status is ACCEPTED else None)
    balances = world.dao(BOB).get_balances()
    kept = DEPOSIT if deposit is FORFEITED else 0
    assert (balances.deposits, balances.forfeited, balances.deposits_held) == (kept, kept, 0)
    paid = stakes[ALICE] + FEE + DEPOSIT + FEE
    back = DEPOSIT - FEE if deposit is RETURNED else 0
    assert world.balance(ALICE) == HELD - paid + back


# -- the pure functions against a naive model -----------------------------------------------------

MEMBERS: Final = tuple(Principal.from_name(f"member-{i}") for i in range(8))
member_index = st.integers(0, len(MEMBERS) - 1)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("stake"), member_index, st.integers(-1_000, 1_000)),
        st.tuples(st.just("delegate"), member_index, member_index),
        # member i → member i+1: makes long chains (and their refusal) common.
        st.tuples(st.just("link"), st.integers(0, len(MEMBERS) - 2)),
        # links i → i+1 → … around the circle, one step each: long chains and cycles.
        st.tuples(st.just("around"), member_index, st.integers(2, len(MEMBERS))),
        st.tuples(st.just("undelegate"), member_index),
    ),
    max_size=40,
)

LINE: Final = [("stake", i, 10 + i) for i in range(8)] + [("link", i) for i in range(7)]
"""Everyone staked, then links 0 → 1 → … → 7 in turn: 5 → 6 is refused (it would make a chain of
seven links), 6 → 7 is not: 0 → 1 → 2 → 3 → 4 → 5 and 6 → 7."""
CYCLE: Final = [("stake", 0, 5), ("stake", 1, 7), ("delegate", 0, 1), ("delegate", 1, 0),
                ("link", 0), ("delegate", 2, 0), ("delegate", 1, 2), ("undelegate", 0),
                ("delegate", 1, 2), ("stake", 0, -5)]  # fmt: skip


class Naive:
    """Own power and delegations as plain dicts; everything else recomputed by walking."""

    def __init__(self) -> None:
        self.own: dict[Principal, int] = {}
        self.delegates: dict[Principal, Principal] = {}

    def chain(self, start: Principal, delegates: dict[Principal, Principal] | None = None
              ) -> list[Principal] | None:  # fmt: skip
        """The delegates above ``start``, nearest first; ``None`` on a cycle."""
        delegates = self.delegates if delegates is None else delegates
        found: list[Principal] = []
        at = delegates.get(start)
        while at is not None:
            if at == start or at in found:
                return None
            found.append(at)
            at = delegates.get(at)
        return found

    def received(self, who: Principal) -> int:
        return sum(power for member, power in self.own.items() if who in (self.chain(member) or ()))

    def height(self, who: Principal) -> int:
        """Longest chain of delegations ending at ``who``: links from the farthest delegator."""
        return max(
            (chain.index(who) + 1 for m in MEMBERS if who in (chain := self.chain(m) or [])),
            default=0,
        )

    def refusal(self, delegator: Principal, delegate: Principal) -> str | None:
        """Why the delegation must be refused: it would change nothing, or leave a cycle or a
        chain of more than ``MAX_CHAIN`` links; ``None`` if it may go ahead."""
        if delegator == delegate:
            return "to oneself"
        if self.delegates.get(delegator) == delegate:
            return "to the current delegate"
        after = {**self.delegates, delegator: delegate}
        chains = [self.chain(member, after) for member in {*after, *MEMBERS}]
        if any(chain is None for chain in chains):
            return "a cycle"
        if any(len(chain) > MAX_CHAIN for chain in chains if chain is not None):
            return "a chain too long"
        return None

    def allows(self, delegator: Principal, delegate: Principal) -> bool:
        return self.refusal(delegator, delegate) is None


def run(operations: Iterable[tuple[Any, ...]], power: Power | None = None,
        naive: Naive | None = None, check: bool = True) -> tuple[Power, Naive]:  # fmt: skip
    """Apply ``operations`` to a ``Power`` and to the naive model (a stake's negative delta is
    clipped so that own power stays ≥ 0, and a zero delta is skipped; a delegation goes ahead
    only if ``delegation_problem`` allows it), checking they agree after every step."""
    power = Power() if power is None else power
    naive = Naive() if naive is None else naive
    steps = (
        step for operation in operations for step in (
            [("link", (operation[1] + k) % len(MEMBERS)) for k in range(operation[2])]
            if operation[0] == "around" else [operation]
        )
    )  # fmt: skip
    for kind, *args in steps:
        if kind == "stake":
            member, delta = MEMBERS[args[0]], args[1]
            delta = max(delta, -naive.own.get(member, 0))
            if delta:  # a stake's power is ≥ 1: the contract never adds or withdraws 0
                power = with_stake(power, member, delta)
                naive.own[member] = naive.own.get(member, 0) + delta
        elif kind in ("delegate", "link"):
            delegator, delegate = (
                (MEMBERS[args[0]], MEMBERS[args[1]]) if kind == "delegate"
                else (MEMBERS[args[0]], MEMBERS[(args[0] + 1) % len(MEMBERS)])
            )  # fmt: skip
            problem = delegation_problem(power, delegator, delegate)
            assert (problem is None) is naive.allows(delegator, delegate), problem
            if problem is None:
                power = delegated(power, delegator, delegate)
                naive.delegates[delegator] = delegate
            else:
                note(f"delegation refused: {naive.refusal(delegator, delegate)}")
        else:
            delegator = MEMBERS[args[0]]
            power = undelegated(power, delegator)
            naive.delegates.pop(delegator, None)
        if check:
            agree(power, naive)
    return power, naive


def note(what: str) -> None:
    """A Hypothesis event (for ``--hypothesis-show-statistics``), outside a test too."""
    if currently_in_test_context():
        event(what)


def agree(power: Power, naive: Naive) -> None:
    assert power.total == sum(naive.own.values())
    assert dict(power.delegates) == naive.delegates
    assert 0 not in power.own.values() and 0 not in power.received.values()
    longest = 0
    for member in MEMBERS:
        chain = naive.chain(member)
        assert chain is not None, f"a cycle through {member}"
        assert len(chain) <= MAX_CHAIN
        longest = max(longest, len(chain))
        assert list(power.chain(member)) == chain
        assert power.own.get(member, 0) == naive.own.get(member, 0)
        assert power.received.get(member, 0) == naive.received(member)
        assert power.subtree(member) == naive.own.get(member, 0) + naive.received(member)
        assert power.height(member) == naive.height(member)
        for delegate in MEMBERS:
            allowed = naive.allows(member, delegate)
            assert (delegation_problem(power, member, delegate) is None) is allowed
    note(f"longest chain: {longest} links")


@given(operations)
@example(LINE)
@example(CYCLE)
def test_power_agrees_with_the_naive_model_after_every_step(
    operations: list[tuple[Any, ...]],
) -> None:
    run(operations)


def test_the_sixth_link_of_a_chain_is_refused() -> None:
    power, _ = run(LINE)
    assert power.chain(MEMBERS[0]) == MEMBERS[1:6]
    assert power.height(MEMBERS[5]) == 5 and MEMBERS[5] not in power.delegates
    assert power.chain(MEMBERS[6]) == (MEMBERS[7],)
    # 0 → … → 5 → 6 → 7
    assert delegation_problem(power, MEMBERS[5], MEMBERS[6]) == (
        "the delegation chain would have 7 links; at most 5"
    )
    assert delegation_problem(power, MEMBERS[5], MEMBERS[7]) == (
        "the delegation chain would have 6 links; at most 5"
    )
    assert power.received[MEMBERS[5]] == 10 + 11 + 12 + 13 + 14
    # Shortening the chain from below makes room for one more link above, not two (6 → 7).
    shorter = undelegated(power, MEMBERS[0])
    assert delegation_problem(shorter, MEMBERS[5], MEMBERS[7]) is None
    assert delegation_problem(shorter, MEMBERS[5], MEMBERS[6]) == (
        "the delegation chain would have 6 links; at most 5"
    )


def test_a_delegation_closing_a_cycle_is_refused() -> None:
    power, _ = run([("link", 0), ("link", 1), ("link", 2)])
    assert delegation_problem(power, MEMBERS[3], MEMBERS[0]) == (
        f"{MEMBERS[0]} already delegates to {MEMBERS[3]} through its chain: a cycle"
    )
    assert delegation_problem(power, MEMBERS[3], MEMBERS[3]) == (
        "a member cannot delegate to itself"
    )
    already = delegation_problem(power, MEMBERS[0], MEMBERS[1])
    assert already == f"already delegating to {MEMBERS[1]}"


def naive_tally(naive: Naive, voters: dict[Principal, Choice]
                ) -> tuple[dict[Choice, int], dict[Principal, int]]:  # fmt: skip
    """Every member's own power counts for the nearest principal up its chain, itself included,
    who voted: the counts per choice and the power counted for each voter."""
    counts = dict.fromkeys(Choice, 0)
    attributed = dict.fromkeys(voters, 0)
    for member, own in naive.own.items():
        for principal in (member, *(naive.chain(member) or ())):
            if principal in voters:
                counts[voters[principal]] += own
                attributed[principal] += own
                break
    return counts, attributed


def vote_all(snapshot: Power, naive: Naive, ballots: list[tuple[int, Choice]]
             ) -> tuple[Tally, dict[Principal, Choice]]:  # fmt: skip
    """Cast ``ballots`` in order as the contract does (a voter with no power left is refused),
    checking each voter's power before it votes against the naive rule."""
    result = Tally()
    voted: dict[Principal, Choice] = {}
    for at, (index, choice) in enumerate(ballots):
        voter = MEMBERS[index]
        weight = voting_power_at(snapshot, result, voter)
        _, would = naive_tally(naive, {**voted, voter: choice})
        assert weight == would[voter]
        if 0 < weight < snapshot.subtree(voter):
            note("delegators below the voter had taken their power back")
        if weight <= 0:
            note("a voter with no power left")
            continue
        before = result
        result = cast_vote(snapshot, result, voter, choice, at)
        voted[voter] = choice
        if any(result.votes[v].power < vote.power for v, vote in before.votes.items()):
            note("a delegator took its power back from a voter above it")
    return result, voted


def check_tally(result: Tally, naive: Naive, voted: dict[Principal, Choice]) -> None:
    counts, attributed = naive_tally(naive, voted)
    assert (result.yes, result.no, result.abstain) == (counts[YES], counts[NO], counts[ABSTAIN])
    assert {voter: vote.power for voter, vote in result.votes.items()} == attributed
    assert {voter: vote.choice for voter, vote in result.votes.items()} == voted
    assert list(result.order) == list(voted)  # the voters in the order they voted


first_stakes = st.lists(st.integers(0, 1_000), min_size=len(MEMBERS), max_size=len(MEMBERS)).map(
    lambda amounts: [("stake", i, amount) for i, amount in enumerate(amounts)]
)
"""A first stake for every member (0 included), so that most voters have power."""
ballots = st.lists(
    st.tuples(member_index, st.sampled_from(list(Choice))), unique_by=lambda b: b[0], max_size=8
)


@given(first_stakes, operations, ballots, st.data())
@example([], LINE[:13], [(5, YES), (0, NO), (3, ABSTAIN), (7, YES)], None)
def test_a_tally_counts_each_members_power_for_its_nearest_voter_in_any_order(
    stakes: list[tuple[Any, ...]], operations: list[tuple[Any, ...]],
    ballots: list[tuple[int, Choice]], data: Any,
) -> None:  # fmt: skip
    snapshot, naive = run(stakes + operations, check=False)
    first, voted = vote_all(snapshot, naive, ballots)
    check_tally(first, naive, voted)
    reordered = ballots[::-1] if data is None else data.draw(st.permutations(ballots))
    second, voted_again = vote_all(snapshot, naive, list(reordered))
    check_tally(second, naive, voted_again)
    assert (second.yes, second.no, second.abstain) == (first.yes, first.no, first.abstain)
    assert first.cast <= snapshot.total


@given(first_stakes, operations, operations, ballots)
def test_a_snapshot_never_changes_after_it_is_taken(
    stakes: list[tuple[Any, ...]], before: list[tuple[Any, ...]], after: list[tuple[Any, ...]],
    ballots: list[tuple[int, Choice]],
) -> None:  # fmt: skip
    before = stakes + before
    snapshot, naive = run(before, check=False)
    frozen = attrs.asdict(snapshot, recurse=False)
    contents = {name: dict(value) if name != "total" else value for name, value in frozen.items()}
    kept = Naive()
    kept.own, kept.delegates = dict(naive.own), dict(naive.delegates)
    run(after, snapshot, naive, check=False)
    result, voted = vote_all(snapshot, kept, ballots)
    check_tally(result, kept, voted)
    for name, value in attrs.asdict(snapshot, recurse=False).items():
        assert (dict(value) if name != "total" else value) == contents[name]
    assert snapshot == run(before, check=False)[0]
