"""Voting power, delegation and tallies: pure functions on persistent maps.

``Power`` is the DAO's voting power now. It is made of ``immutables.Map`` values, so a change
builds a new ``Power`` sharing almost everything with the old one, and a proposal's snapshot is
just the ``Power`` it was submitted under: one reference, the same cost with 10 or 100,000
members, and nothing it holds ever changes.

Delegation: a member may delegate to one other principal; delegations form chains (a delegate
may delegate too) of at most ``MAX_CHAIN`` links and never a cycle. A member's *subtree power*
is its own power plus everything delegated to it through any chain (``received``).

Voting (the rule the IC's SNS uses for following): any principal with power at the snapshot may
vote, a delegator included. A vote counts the voter's subtree power minus the power of voters
below it who voted themselves. So a delegator who votes takes its power (and its own
delegators' power) back from its delegate for that proposal, whether the delegate voted before
or after. Put another way: every member's own power counts for the nearest principal up its
snapshot chain, itself included, who voted.
"""

from __future__ import annotations

import enum
from typing import Final

import attrs
import immutables

from icto.collections.records import evolve
from icto.collections.vector import Vector
from icto.ic.principal import Principal

MAX_CHAIN: Final = 5
"""The most delegation links from any member to the end of its chain."""
_NO_CHILDREN: Final = (0,) * MAX_CHAIN


class Choice(enum.StrEnum):
    YES = "Yes"
    NO = "No"
    ABSTAIN = "Abstain"


@attrs.frozen
class Power:
    """Who has how much voting power, and who delegates to whom."""

    own: immutables.Map[Principal, int] = immutables.Map()
    """Power of each member's active stakes (absent: 0)."""
    received: immutables.Map[Principal, int] = immutables.Map()
    """Power delegated to each principal through any chain below it (absent: 0)."""
    delegates: immutables.Map[Principal, Principal] = immutables.Map()
    """Delegator → delegate."""
    below: immutables.Map[Principal, tuple[int, ...]] = immutables.Map()
    """For each delegate: how many direct delegators it has of each height (index 0 to 4),
    a height being the longest chain of delegations ending at that delegator."""
    total: int = 0
    """Σ own: the total voting power."""

    def subtree(self, who: Principal) -> int:
        """``who``'s own power plus everything delegated to it."""
        return self.own.get(who, 0) + self.received.get(who, 0)

    def height(self, who: Principal) -> int:
        """The longest chain of delegations ending at ``who``."""
        return _height_of(self.below.get(who, _NO_CHILDREN))

    def chain(self, start: Principal) -> tuple[Principal, ...]:
        """The delegates above ``start``, nearest first."""
        found: list[Principal] = []
        at = self.delegates.get(start)
        while at is not None and len(found) < MAX_CHAIN:
            found.append(at)
            at = self.delegates.get(at)
        return tuple(found)


def _add_up(received: immutables.Map[Principal, int], chain: tuple[Principal, ...],
            delta: int) -> immutables.Map[Principal, int]:  # fmt: skip
    with received.mutate() as changed:
        for delegate in chain:
            value = changed.get(delegate, 0) + delta
            if value:
                changed[delegate] = value
            else:
                changed.pop(delegate, None)
        result: immutables.Map[Principal, int] = changed.finish()
    return result


def with_stake(power: Power, member: Principal, delta: int) -> Power:
    """``member``'s own power changes by ``delta`` (a stake added or withdrawn)."""
    if delta == 0:
        return power
    own = power.own.get(member, 0) + delta
    assert own >= 0, "a member's power never goes below zero"
    return Power(
        own=power.own.set(member, own) if own else power.own.delete(member),
        received=_add_up(power.received, power.chain(member), delta),
        delegates=power.delegates, below=power.below, total=power.total + delta,
    )  # fmt: skip


def delegation_problem(power: Power, delegator: Principal, delegate: Principal) -> str | None:
    """Why ``delegator`` may not delegate to ``delegate`` now (``None``: it may)."""
    if delegate == delegator:
        return "a member cannot delegate to itself"
    if power.delegates.get(delegator) == delegate:
        return f"already delegating to {delegate}"
    above = power.chain(delegate)
    if delegator in above:
        return f"{delegate} already delegates to {delegator} through its chain: a cycle"
    links = power.height(delegator) + 1 + len(above)
    if links > MAX_CHAIN:
        return f"the delegation chain would have {links} links; at most {MAX_CHAIN}"
    return None


def delegated(power: Power, delegator: Principal, delegate: Principal) -> Power:
    """``delegator`` delegates to ``delegate`` (replacing any delegation it had); the caller has
    checked ``delegation_problem``."""
    if delegator in power.delegates:
        power = undelegated(power, delegator)
    carried = power.subtree(delegator)
    chain = (delegate, *power.chain(delegate))
    return Power(
        own=power.own, received=_add_up(power.received, chain, carried),
        delegates=power.delegates.set(delegator, delegate),
        below=_rebalance(power, delegator, chain, +1), total=power.total,
    )  # fmt: skip


def undelegated(power: Power, delegator: Principal) -> Power:
    """``delegator`` ends its delegation (if it has one)."""
    if delegator not in power.delegates:
        return power
    chain = power.chain(delegator)
    return Power(
        own=power.own, received=_add_up(power.received, chain, -power.subtree(delegator)),
        delegates=power.delegates.delete(delegator),
        below=_rebalance(power, delegator, chain, -1), total=power.total,
    )  # fmt: skip


def _rebalance(
    power: Power, delegator: Principal, chain: tuple[Principal, ...], sign: int
) -> immutables.Map[Principal, tuple[int, ...]]:
    """The height counts after ``delegator`` joins (+1) or leaves (-1) its delegate's children;
    only the delegates up the chain whose height changes are touched."""
    below = power.below
    old = new = power.height(delegator)
    for index, delegate in enumerate(chain):
        before = _height_of(below.get(delegate, _NO_CHILDREN))
        counts = list(below.get(delegate, _NO_CHILDREN))
        if index == 0:
            counts[new] += sign
        else:
            counts[old] -= 1
            counts[new] += 1
        below = below.set(delegate, tuple(counts)) if any(counts) else below.delete(delegate)
        after = _height_of(tuple(counts))
        if after == before:
            break
        old, new = before, after
    return below


def _height_of(counts: tuple[int, ...]) -> int:
    for height in range(MAX_CHAIN - 1, -1, -1):
        if counts[height]:
            return height + 1
    return 0


# -- ballots --------------------------------------------------------------------------------------


@attrs.frozen
class Vote:
    """One principal's vote and the power it counts now (it shrinks when a delegator below it
    votes for itself)."""

    choice: Choice
    power: int
    at: int


@attrs.frozen
class Tally:
    """A proposal's votes so far, counted against its snapshot."""

    yes: int = 0
    no: int = 0
    abstain: int = 0
    votes: immutables.Map[Principal, Vote] = immutables.Map()
    withdrawn: immutables.Map[Principal, int] = immutables.Map()
    """Power taken from a principal that has not voted by voters below it who did."""
    order: Vector[Principal] = Vector()
    """The voters, in the order they voted (for paging through the votes)."""

    @property
    def cast(self) -> int:
        return self.yes + self.no + self.abstain

    def counted(self, choice: Choice) -> int:
        return {Choice.YES: self.yes, Choice.NO: self.no, Choice.ABSTAIN: self.abstain}[choice]


def voting_power_at(snapshot: Power, tally: Tally, voter: Principal) -> int:
    """The power ``voter`` would vote with now on a proposal with this snapshot and tally."""
    if voter in tally.votes:
        return 0
    return snapshot.subtree(voter) - tally.withdrawn.get(voter, 0)


def cast_vote(snapshot: Power, tally: Tally, voter: Principal, choice: Choice, at: int) -> Tally:
    """``voter`` votes ``choice`` (the caller has checked it has not voted and has power):
    its power counts for ``choice`` and is taken from the nearest voter above it, or set aside
    for the first one above it to vote later."""
    weight = voting_power_at(snapshot, tally, voter)
    counts = {Choice.YES: tally.yes, Choice.NO: tally.no, Choice.ABSTAIN: tally.abstain}
    votes, withdrawn = tally.votes, tally.withdrawn
    for delegate in snapshot.chain(voter):
        earlier = votes.get(delegate)
        if earlier is not None:
            counts[earlier.choice] -= weight
            votes = votes.set(delegate, evolve(earlier, power=earlier.power - weight))
            break
        withdrawn = withdrawn.set(delegate, withdrawn.get(delegate, 0) + weight)
    counts[choice] += weight
    return Tally(
        yes=counts[Choice.YES], no=counts[Choice.NO], abstain=counts[Choice.ABSTAIN],
        votes=votes.set(voter, Vote(choice, weight, at)), withdrawn=withdrawn,
        order=tally.order.append(voter),
    )  # fmt: skip


def quorum_reached(tally: Tally, total: int, quorum_bp: int) -> bool:
    """``(yes + no + abstain)·BP ≥ quorum_bp·total``."""
    return tally.cast * 10_000 >= quorum_bp * total


def approved(tally: Tally, approval_bp: int) -> bool:
    """``yes·BP ≥ approval_bp·(yes + no)`` with at least one yes or no (abstain does not
    count)."""
    decided = tally.yes + tally.no
    return decided > 0 and tally.yes * 10_000 >= approval_bp * decided
