"""A DAO's proposal submission, vote and end-of-voting tally cost the same with 10 members or
100,000.

A DAO of n members is deployed through the DAO Factory (governed by a token of its own ledger)
and then given its members by writing them straight into its ``DAOState`` the way ``stake()``
keeps them: one ``Stake`` each in ``stakes`` (locked for 0, 90 or 365 days, so 1x, 1.5x or 2x
power), a ``SortedSet`` of its id in ``stakes_by_owner``, its power in ``power.own``, ``staked``
and ``next_stake``; a short delegation chain (3 → 2 → 1 → 0) is laid with ``voting.delegated``
(the code ``delegate()`` runs), the staking subaccount is minted exactly Σ stakes in one transfer,
and the factory's ``ContractIndex`` indexes the members with the index's own ``with_role`` (the
code ``notify_participant_added`` runs). A test checks, with a few members, that the states equal
those that real ``stake()`` and ``delegate()`` calls leave.

For the tally, a proposal is submitted for real on that DAO and every member's vote is written
into its tally with ``voting.cast_vote`` (the code ``vote()`` runs), each at its moment in the
first six days of the week-long voting period; the same test checks that against real ``vote()``
calls.

The operations go through the IC like a member's, each round inside ``ic.anchor()`` so every
round meets the same world: member 0 (the top of the chain) submits Motions; members vote on a
fresh proposal (member 3, the bottom of the chain, whose vote walks it, and the last members);
the clock reaches the end of the voting period, whose timer decides the voted proposal (quorum
and approval reached: Accepted, the deposit returned through the ledger), and ``tally()`` reports
it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import immutables
import pytest

from benchmarks.conftest import FIGURES, MEDIUM
from icto import E8S, IC, Account, Principal
from icto.collections import SortedSet
from icto.dao import MEMBER, Choice, DAOConfig, Motion, ProposalStatus, Stake
from icto.dao.types import DEPOSITS_SUBACCOUNT, STAKING_SUBACCOUNT, DAOState, DepositStatus
from icto.dao.voting import Power, cast_vote, delegated
from icto.distribution import days
from icto.ic.proxy import CanisterProxy
from icto.ic.world import World
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import ApproveArgs, TransferArgs
from icto.system import System, deploy_system

OWNER = Principal.from_name("dao-owner")
MINTER = Principal.from_name("governance-minter")
FEE = ICP.fee
STAKE = 100 * E8S
"""Each member's one stake."""
LOCKS = (0, days(90), days(365))
"""Member ``i`` locks its stake for ``LOCKS[i % 3]``."""
TIERS = ((0, 10_000), (days(90), 15_000), (days(365), 20_000))
DELEGATIONS = ((1, 0), (2, 1), (3, 2))
"""(delegator, delegate) member indexes: the chain 3 → 2 → 1 → 0, laid in this order."""
DEPOSIT = 10 * E8S
PROPOSER_FUNDS = 1_000_000 * E8S
"""Minted to the proposer (member 0), who approves the DAO for all of it (deposits)."""
HISTORY = days(30)
"""Between the stakes and the benchmarks."""
VOTING_PERIOD = days(7)
VOTES_DURING = days(6)
"""The members vote evenly over the first six days of the voting period."""
FEW = 10
"""The small DAO's members."""


def _config(token: Principal) -> DAOConfig:
    return DAOConfig(
        name="Scale DAO", token=token, minimum_stake=E8S, proposal_threshold=50 * E8S,
        proposal_deposit=DEPOSIT, quorum_bp=2_000, approval_bp=5_000,
        voting_period=VOTING_PERIOD, timelock=days(2), lock_tiers=TIERS,
    )  # fmt: skip


@functools.cache
def member(index: int) -> Principal:
    return Principal.from_name(f"member-{index}")


def choice(index: int) -> Choice:
    """Member ``index``'s vote: 8 in 10 Yes, 1 No, 1 Abstain."""
    return {8: Choice.ABSTAIN, 9: Choice.NO}.get(index % 10, Choice.YES)


@attrs.frozen
class Scene:
    system: System
    ledger: CanisterProxy
    dao: Principal
    members: int
    world: World
    """The world as built; ``entered()`` puts it back."""
    proposal: int | None = None
    """The voted proposal (``voted`` scenes)."""

    @property
    def ic(self) -> IC:
        return self.system.ic

    def actor(self, index: int) -> CanisterProxy:
        return self.ic.actor(self.dao, member(index))

    @contextlib.contextmanager
    def entered(self) -> Iterator[IC]:
        """The IC at this scene's world, rolled back at exit (scenes share their IC)."""
        ic = self.ic
        ic.restore(self.world)
        with ic.anchor():
            yield ic


def _deploy() -> tuple[System, CanisterProxy, Principal]:
    """The platform, the governance token's ledger and a DAO it governs (no members yet)."""
    system = deploy_system(IC(trace=False))
    ledger = deploy_ledger(system.ic, ICP.init(Account(MINTER)))
    factory = system.dao_factory.as_caller(system.backend.id)
    dao: Principal = factory.create_contract(OWNER, _config(ledger.id)).unwrap()
    return system, ledger, dao


def _mint(ledger: CanisterProxy, to: Account, amount: int) -> None:
    ledger.as_caller(MINTER).icrc1_transfer(TransferArgs(to=to, amount=amount)).unwrap()


def _approve(ledger: CanisterProxy, owner: Principal, dao: Principal, amount: int) -> None:
    approval = ApproveArgs(spender=Account(dao), amount=amount)
    ledger.as_caller(owner).icrc2_approve(approval).unwrap()


def _fund_proposer(ledger: CanisterProxy, dao: Principal) -> None:
    _mint(ledger, Account(member(0)), PROPOSER_FUNDS)
    _approve(ledger, member(0), dao, PROPOSER_FUNDS)


def _stake(index: int, now: int) -> Stake:
    """Member ``index``'s stake as ``stake(STAKE, LOCKS[index % 3])`` at ``now`` records it."""
    lock = LOCKS[index % len(LOCKS)]
    multiplier = dict(TIERS)[lock]
    return Stake(
        id=index, owner=member(index), amount=STAKE, power=STAKE * multiplier // 10_000,
        multiplier_bp=multiplier, staked_at=now, unlocks_at=now + lock,
    )  # fmt: skip


def _with_members(state: DAOState, count: int, now: int) -> DAOState:
    """``state`` with members 0 to ``count - 1`` holding one stake each, staked at ``now`` in
    that order, then ``DELEGATIONS`` laid."""
    stakes = [_stake(n, now) for n in range(count)]
    power = Power(
        own=immutables.Map((stake.owner, stake.power) for stake in stakes),
        total=sum(stake.power for stake in stakes),
    )
    for delegator, delegate in DELEGATIONS:
        if delegator < count:
            power = delegated(power, member(delegator), member(delegate))
    return attrs.evolve(
        state, power=power, stakes=immutables.Map((stake.id, stake) for stake in stakes),
        stakes_by_owner=immutables.Map((stake.owner, SortedSet((stake.id,))) for stake in stakes),
        next_stake=count, staked=count * STAKE, nonce=state.nonce + count,  # one pull each
        # each member's first stake told the factory once (the notifications are numbered)
        meta=attrs.evolve(state.meta, notifications=state.meta.notifications + count),
    )  # fmt: skip


def _install(system: System, dao: Principal, state: DAOState) -> None:
    """Replace the DAO's state, and index its members in the factory."""
    ic = system.ic
    factory_id = system.dao_factory.id
    factory_state = ic.state_of(factory_id)
    index = factory_state.index
    for user in state.stakes_by_owner:
        index = index.with_role(dao, user, MEMBER)
    states = {dao: state, factory_id: attrs.evolve(factory_state, index=index)}
    world = ic.world
    canisters = world.canisters
    for canister_id, value in states.items():
        record = canisters[canister_id]
        canisters = canisters.set(canister_id, record.with_state(value, record.cycles))
    ic.restore(world._replace(canisters=canisters))


def _built(build: Callable[[], Scene], what: str) -> Scene:
    """Run ``build`` with the cyclic garbage collector paused, then freeze the result out of its
    reach (``gc.freeze``), as in ``test_factory_scale.py``."""
    started = time.perf_counter()
    gc.disable()
    try:
        scene = build()
    finally:
        gc.enable()
    gc.freeze()
    if scene.members == MEDIUM:
        FIGURES[f"ms to build {what} of {MEDIUM:,} members"] = (
            time.perf_counter() - started
        ) * 1e3
    return scene


@functools.cache
def dao(count: int) -> Scene:
    """A DAO of ``count`` members staked at its deployment, ``HISTORY`` ago; the proposer
    (member 0) funded and approved for deposits."""

    def build() -> Scene:
        system, ledger, dao_id = _deploy()
        ic = system.ic
        staked_at = ic.time
        _install(system, dao_id, _with_members(ic.state_of(dao_id), count, staked_at))
        _mint(ledger, Account(dao_id, STAKING_SUBACCOUNT), count * STAKE)
        _fund_proposer(ledger, dao_id)
        ic.set_time(staked_at + HISTORY)
        return Scene(system, ledger, dao_id, count, ic.snapshot())

    s = _built(build, "a DAO")
    stats = s.ic.actor(s.dao, OWNER).get_stats()
    assert stats.members == stats.stakes == count
    assert stats.delegations == len(DELEGATIONS)
    balances = s.ic.actor(s.dao, OWNER).get_balances()
    assert balances.staking == balances.staked == count * STAKE
    return s


def dao_for_real(count: int) -> Scene:
    """``dao(count)`` built by the operations themselves: each member is minted its stake,
    approves the DAO and calls ``stake()``; then the delegations, by ``delegate()``."""
    system, ledger, dao_id = _deploy()
    ic = system.ic
    staked_at = ic.time
    for n in range(count):
        _mint(ledger, Account(member(n)), STAKE + 2 * FEE)
        _approve(ledger, member(n), dao_id, STAKE + FEE)
        ic.actor(dao_id, member(n)).stake(STAKE, LOCKS[n % len(LOCKS)]).unwrap()
    for delegator, delegate in DELEGATIONS:
        ic.actor(dao_id, member(delegator)).delegate(member(delegate)).unwrap()
    _fund_proposer(ledger, dao_id)
    ic.set_time(staked_at + HISTORY)
    return Scene(system, ledger, dao_id, count, ic.snapshot())


def _submit(s: Scene) -> int:
    """Member 0 submits a Motion, now; its id."""
    proposal_id: int = s.actor(0).submit_proposal(Motion("Adopt the roadmap")).unwrap()
    return proposal_id


def _vote_time(submitted_at: int, index: int, count: int) -> int:
    return submitted_at + index * VOTES_DURING // count


@functools.cache
def voted(count: int) -> Scene:
    """``dao(count)`` with a Motion submitted by member 0 and voted by every member (``choice``),
    in member order over ``VOTES_DURING``; the clock at the end of that span (a day before the
    voting period ends)."""

    def build() -> Scene:
        s = dao(count)
        ic = s.ic
        ic.restore(s.world)
        proposal_id = _submit(s)
        state = ic.state_of(s.dao)
        proposal = state.proposals[proposal_id]
        tally = proposal.tally
        for n in range(count):
            at = _vote_time(proposal.submitted_at, n, count)
            tally = cast_vote(proposal.snapshot, tally, member(n), choice(n), at)
        proposals = state.proposals.set(proposal_id, attrs.evolve(proposal, tally=tally))
        _install(s.system, s.dao, attrs.evolve(state, proposals=proposals))
        ic.set_time(proposal.submitted_at + VOTES_DURING)
        return attrs.evolve(s, world=ic.snapshot(), proposal=proposal_id)

    s = _built(build, "a proposal's tally")
    with s.entered():
        view = s.ic.actor(s.dao, OWNER).get_tally(s.proposal)
    assert view.voters == count
    assert view.quorum_reached and view.approved
    assert view.status is ProposalStatus.OPEN
    return s


def voted_for_real(count: int) -> Scene:
    """``voted(count)`` built by the operations themselves: each member calls ``vote()`` at
    its moment."""
    s = dao_for_real(count)
    ic = s.ic
    submitted_at = ic.time
    proposal_id = _submit(s)
    for n in range(count):
        ic.set_time(_vote_time(submitted_at, n, count))
        s.actor(n).vote(proposal_id, choice(n)).unwrap()
    ic.set_time(submitted_at + VOTES_DURING)
    return attrs.evolve(s, world=ic.snapshot(), proposal=proposal_id)


@pytest.mark.parametrize(("written", "real"), [(dao, dao_for_real),
                                               (voted, voted_for_real)])  # fmt: skip
def test_a_written_scene_is_the_world_its_own_operations_leave(
    written: Callable[[int], Scene], real: Callable[[int], Scene]
) -> None:
    """The DAO's and the factory's states, the DAO's staking and deposits balances, the pending
    timers and the time are those the stakes, delegations and votes leave (checked with a few
    members)."""
    count = 12
    a, b = written(count), real(count)
    assert a.dao == b.dao
    assert a.ledger.id == b.ledger.id
    assert a.proposal == b.proposal
    with a.entered(), b.entered():
        assert a.ic.time == b.ic.time
        assert a.ic.pending_timers() == b.ic.pending_timers()
        for canister in (a.dao, a.system.dao_factory.id):
            assert a.ic.state_of(canister) == b.ic.state_of(canister)
        for subaccount in (STAKING_SUBACCOUNT, DEPOSITS_SUBACCOUNT):
            account = Account(a.dao, subaccount)
            assert a.ledger.icrc1_balance_of(account) == b.ledger.icrc1_balance_of(account)


OPS = 10
"""Proposals submitted per measured round."""


@pytest.mark.parametrize(("key", "count"), [("dao_submit_small", FEW),
                                            ("dao_submit_large", MEDIUM)])  # fmt: skip
def test_submitting_a_proposal_costs_the_same_in_a_dao_of_any_size(
    measure: Callable[..., Any], key: str, count: int
) -> None:
    """Member 0 submits ``OPS`` Motions per round (each pulls its deposit through the ledger,
    arms a timer and snapshots the voting power)."""
    s = dao(count)
    proposer = s.actor(0)
    with s.entered() as ic:

        def run() -> list[int]:
            with ic.anchor():
                return [proposer.submit_proposal(Motion(f"Motion {n}")).unwrap()
                        for n in range(OPS)]  # fmt: skip

        assert measure(key, run, OPS) == list(range(OPS))
        proposal_id = _submit(s)
        assert proposal_id == 0
        view = proposer.get_tally(proposal_id)
        assert view.snapshot_total == ic.state_of(s.dao).power.total
        assert view.status is ProposalStatus.OPEN


def _voters(count: int) -> list[int]:
    """Member 3 (whose vote walks the chain 3 → 2 → 1 → 0) and the last four members."""
    return [3, *range(count - 4, count)]


@pytest.mark.parametrize(("key", "count"), [("dao_vote_small", FEW),
                                            ("dao_vote_large", MEDIUM)])  # fmt: skip
def test_a_vote_costs_the_same_in_a_dao_of_any_size(
    measure: Callable[..., Any], key: str, count: int
) -> None:
    """Each round, five members vote on a proposal submitted just before."""
    s = dao(count)
    voters = [(n, s.actor(n)) for n in _voters(count)]
    with s.entered() as ic:
        proposal_id = _submit(s)

        def run() -> list[int]:
            with ic.anchor():
                return [voter.vote(proposal_id, choice(n)).unwrap() for n, voter in voters]

        weights = measure(key, run, len(voters))
        assert weights == [ic.state_of(s.dao).stakes[n].power for n in _voters(count)]
        assert s.actor(0).get_tally(proposal_id).voters == 0


@pytest.mark.parametrize(("key", "count"), [("dao_tally_small", FEW),
                                            ("dao_tally_large", MEDIUM)])  # fmt: skip
def test_the_tally_at_the_end_of_voting_costs_the_same_in_a_dao_of_any_size(
    measure: Callable[..., Any], key: str, count: int
) -> None:
    """Each round, the clock reaches the end of the voting period of a proposal every member
    voted on: its timer decides it (Accepted; the deposit, less one fee, goes back to the
    proposer through the ledger) and ``tally()`` reports the decision."""
    s = voted(count)
    assert s.proposal is not None
    proposal_id = s.proposal
    anyone = s.ic.actor(s.dao, OWNER)
    with s.entered() as ic:
        ends_at = ic.state_of(s.dao).proposals[proposal_id].ends_at

        def run() -> ProposalStatus:
            with ic.anchor():
                ic.set_time(ends_at)
                status: ProposalStatus = anyone.tally(proposal_id).unwrap()
            return status

        assert measure(key, run) is ProposalStatus.ACCEPTED
        assert anyone.get_tally(proposal_id).status is ProposalStatus.OPEN
        ic.set_time(ends_at)
        info = anyone.get_proposal(proposal_id)
        assert info.status is ProposalStatus.ACCEPTED
        assert info.deposit_status is DepositStatus.RETURNED
        assert info.tally.voters == count
        assert ic.pending_timers() == 0
