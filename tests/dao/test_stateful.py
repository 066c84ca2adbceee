"""A DAO keeps its stakes, deposits and treasury apart and decides every proposal by the votes
counted against the voting power as it was when the proposal was submitted.

One DAO is deployed once per module, straight through the DAO Factory as the backend, over its
own governance-token ledger (fee 10,000): three lock tiers (1x from no lock, 1.5x from 30 days,
2x from 90 days), a minimum stake of 5,000, 100,000 of voting power to submit a proposal and a
deposit of 50,000, a 3 day vote, a 50 % quorum of the snapshot's power, a 50 % approval of the yes
and no votes (halves are frequent, so ties show whether the bounds are inclusive), a 1 day
timelock, and an emergency contact. Six holders (the owner among them) get
3,000,000 tokens each and approve the DAO; a seventh principal, Frank, holds nothing and has
approved nothing, but may be delegated to and vote with that power. The treasury starts with
1,000,000. Every example starts again from the snapshot taken after that setup, with three to
eight stakes.

A hypothesis state machine stakes (amounts around the minimum and the fee, locks around the
tiers and past the longest lock), unstakes (locked or not, someone else's, unknown), delegates
(one link, or a whole line of principals, sometimes closing a loop) and undelegates, submits
motions, treasury transfers (some for more than the treasury holds), emergency (un)pauses and
invalid actions (while paused or not, from principals with too little power or no tokens),
votes (one principal, or a crowd in any order), moves time (by hours, or to the nanosecond
around a vote's end, a timelock's end or a stake's unlock), tallies, executes (too early, on
time, twice), retries an owed deposit, funds the treasury and pauses or unpauses as the
emergency contact or as someone else. One rule runs a proposal through its whole life, so deep
paths come often. The governance ledger sometimes rejects or traps the call that moves tokens
(a stake's or a deposit's ``icrc2_transfer_from``, an unstake's, a transfer's or a deposit
return's ``icrc1_transfer``) and its identical resend, so the ledger's log shows it never ran,
or rejects the ``icrc1_fee`` the DAO asks first. A plain model
predicts every answer: ``Ok`` with its exact value, or which typed ``Err``; a refused call changes
nothing that any read, the DAO's state or the ledger shows (a failed unstake is restored: the
stake, its power and the member index as they were).

After every step:

1. the staking subaccount's ledger balance is the sum of the model's active stakes, and is what
   ``get_balances`` reports as ``staking`` and as ``staked``; each member's stakes read as the
   model's;
2. the treasury (the DAO's default account) holds what was funded less every executed transfer
   and its ledger fee;
3. the deposits subaccount holds the deposits still held plus the forfeited ones; a deposit is
   returned (less one fee) unless its proposal was rejected with quorum reached; every holder's
   ledger balance is the model's;
4. every proposal's tally is the model's, counted from its snapshot: at submission the model
   records each member's own power (Σ amount · multiplier // 10,000 of its stakes, the multiplier
   of the largest tier not longer than the lock) and who delegated to whom; a member's own power
   counts for the nearest principal up its snapshot delegation chain, itself included, that
   voted, for that voter's choice. Stakes, unstakes and delegations made later never change it;
   what each principal could still vote with, and each vote's counted power, are the model's;
5. a proposal is Open exactly until its end and decided at that nanosecond: Accepted iff
   ``(yes + no + abstain) · 10,000 ≥ quorum_bp · snapshot total``, ``yes + no > 0`` and
   ``yes · 10,000 ≥ approval_bp · (yes + no)``; executable from ``ends_at + timelock``, executed
   at most once;
6. the DAO Factory lists the DAO for a principal with the role ``member`` iff it has at least one
   active stake (and ``creator`` for the owner only), with no notification pending; each
   principal's own, delegated and effective power reads as the model's.

A plain example pins a tally by hand: delegators who vote take their power back from their
delegates, and a stake made after the submission counts for nothing.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
import pytest
from hypothesis import event, settings, target
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from icto import IC, Account, ApproveArgs, CanisterProxy, Err, Ok, Principal, TransferArgs
from icto.dao import (
    MAX_CHAIN,
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
    Stake,
    StillLocked,
    TallyView,
    TransferFailed,
    TreasuryTransfer,
    UnknownProposal,
    UnknownStake,
    WrongStatus,
)
from icto.dao.config import MAX_LOCK
from icto.dao.types import DEPOSITS_SUBACCOUNT, STAKING_SUBACCOUNT
from icto.distribution import days
from icto.factory.types import CREATOR
from icto.ledger.presets import ICP, deploy_ledger
from icto.system import System, deploy_system

OWNER, ALICE, BOB, CAROL, DAVE, ERIN, FRANK, CONTACT, MINTER = (
    Principal.from_name(name)
    for name in ("owner", "alice", "bob", "carol", "dave", "erin", "frank", "contact", "minter")
)
HOLDERS: Final = (OWNER, ALICE, BOB, CAROL, DAVE, ERIN)
"""Hold tokens and approved the DAO for far more than they will ever stake."""
PRINCIPALS: Final = (*HOLDERS, FRANK)
"""Who stakes, delegates and votes: seven, so a line of them is longer than a chain may be."""
CALLERS: Final = (*PRINCIPALS, CONTACT)

BP: Final = 10_000
FEE: Final = 10_000
HOUR: Final = 3600 * 10**9
MINIMUM_STAKE: Final = 5_000
THRESHOLD: Final = 100_000
DEPOSIT: Final = 50_000
QUORUM_BP: Final = 5_000
APPROVAL_BP: Final = 5_000
VOTING_PERIOD: Final = days(3)
TIMELOCK: Final = days(1)
TIERS: Final = ((0, 10_000), (days(30), 15_000), (days(90), 20_000))
MINTED: Final = 3_000_000
FUNDED: Final = 1_000_000
ALLOWANCE: Final = 10**15
CONFIG: Final = DAOConfig(
    name="Stateful DAO", token=Principal.anonymous(), minimum_stake=MINIMUM_STAKE,
    proposal_threshold=THRESHOLD, proposal_deposit=DEPOSIT, quorum_bp=QUORUM_BP,
    approval_bp=APPROVAL_BP, voting_period=VOTING_PERIOD, timelock=TIMELOCK, lock_tiers=TIERS,
    emergency_contacts=(CONTACT,),
)  # fmt: skip
"""The token is filled in once the governance ledger exists."""

AFTER_ACCEPTANCE: Final = frozenset({
    ProposalStatus.ACCEPTED, ProposalStatus.EXECUTING, ProposalStatus.EXECUTED,
    ProposalStatus.FAILED,
})  # fmt: skip


@attrs.frozen
class Deployed:
    ic: IC
    system: System
    gov: Principal
    dao: Principal
    snapshot: Any


@functools.cache
def deployed() -> Deployed:
    ic = IC(trace=False)
    system = deploy_system(ic)
    gov = deploy_ledger(ic, ICP.init(Account(MINTER)))
    assert gov.icrc1_fee() == FEE
    config = attrs.evolve(CONFIG, token=gov.id)
    dao = system.dao_factory.as_caller(system.backend.id).create_contract(OWNER, config).unwrap()
    minter = gov.as_caller(MINTER)
    for holder in HOLDERS:
        minter.icrc1_transfer(TransferArgs(to=Account(holder), amount=MINTED + FEE)).unwrap()
        approval = ApproveArgs(spender=Account(dao), amount=ALLOWANCE)
        gov.as_caller(holder).icrc2_approve(approval).unwrap()
    minter.icrc1_transfer(TransferArgs(to=Account(dao), amount=FUNDED)).unwrap()
    return Deployed(ic, system, gov.id, dao, ic.snapshot())


# -- the model ----------------------------------------------------------------------------------


def multiplier(lock: int) -> int:
    """The multiplier of the largest tier whose duration is at most ``lock``."""
    return max(multiplier_bp for duration, multiplier_bp in TIERS if duration <= lock)


def chain_of(delegates: Mapping[Principal, Principal], start: Principal) -> list[Principal]:
    """``start`` and the delegates above it, nearest first (delegations have no cycle)."""
    found = [start]
    while (above := delegates.get(found[-1])) is not None:
        assert len(found) <= len(delegates), "a delegation cycle"
        found.append(above)
    return found


def longest_chain(delegates: Mapping[Principal, Principal]) -> int | None:
    """The most links from any principal to the end of its chain; ``None`` with a cycle."""
    longest = 0
    for start in delegates:
        at, links = start, 0
        while at in delegates:
            at, links = delegates[at], links + 1
            if links > len(delegates):
                return None
        longest = max(longest, links)
    return longest


def accepted_by_the_rules(yes: int, no: int, abstain: int, total: int) -> bool:
    quorum = (yes + no + abstain) * BP >= QUORUM_BP * total
    return quorum and yes + no > 0 and yes * BP >= APPROVAL_BP * (yes + no)


@attrs.define
class ProposalModel:
    """A proposal as its rules say it must be, with its snapshot as plain dicts."""

    id: int
    proposer: Principal
    action: Any
    ends_at: int
    own: dict[Principal, int]
    """Each member's own power at submission."""
    delegates: dict[Principal, Principal]
    """Who delegated to whom at submission."""
    votes: dict[Principal, Choice] = attrs.Factory(dict)
    status: ProposalStatus = ProposalStatus.OPEN
    deposit_status: DepositStatus = DepositStatus.HELD
    executable_at: int | None = None

    @property
    def total(self) -> int:
        return sum(self.own.values())

    def credited(self, votes: Mapping[Principal, Choice]) -> dict[Principal, int]:
        """The power each voter counts: every member's own power goes to the nearest principal
        up its snapshot chain, itself included, that voted."""
        counted: dict[Principal, int] = {}
        for member, power in self.own.items():
            for principal in chain_of(self.delegates, member):
                if principal in votes:
                    counted[principal] = counted.get(principal, 0) + power
                    break
        return counted

    def tally(self) -> tuple[int, int, int]:
        counted = self.credited(self.votes)
        return tuple(  # type: ignore[return-value]
            sum(counted.get(voter, 0) for voter, vote in self.votes.items() if vote is choice)
            for choice in (Choice.YES, Choice.NO, Choice.ABSTAIN)
        )

    def weight_of(self, voter: Principal) -> int:
        """What ``voter`` would vote with now (0 once it has voted)."""
        if voter in self.votes:
            return 0
        return self.credited({**self.votes, voter: Choice.YES}).get(voter, 0)


@attrs.define
class Model:
    """The DAO and the governance ledger as the rules say they must be."""

    stakes: dict[int, Stake] = attrs.Factory(dict)
    next_stake: int = 0
    delegates: dict[Principal, Principal] = attrs.Factory(dict)
    proposals: list[ProposalModel] = attrs.Factory(list)
    paused: bool = False
    funded: int = FUNDED
    """Everything sent to the treasury."""
    paid: int = 0
    """What executed transfers took from the treasury, fees included."""
    deposits_held: int = 0
    forfeited: int = 0
    balances: dict[Principal, int] = attrs.Factory(
        lambda: {principal: MINTED if principal in HOLDERS else 0 for principal in CALLERS}
    )

    @property
    def treasury(self) -> int:
        return self.funded - self.paid

    def own(self) -> dict[Principal, int]:
        power: dict[Principal, int] = {}
        for stake in self.stakes.values():
            power[stake.owner] = power.get(stake.owner, 0) + stake.power
        return power

    def is_member(self, user: Principal) -> bool:
        """Whether ``user`` has a stake (only members delegate)."""
        return any(stake.owner == user for stake in self.stakes.values())

    def stakes_of(self, user: Principal) -> list[Stake]:
        return [stake for _, stake in sorted(self.stakes.items()) if stake.owner == user]

    def subtree(self, who: Principal) -> int:
        """``who``'s own power and everything delegated to it through any chain, now."""
        return sum(
            power for member, power in self.own().items()
            if who in chain_of(self.delegates, member)
        )  # fmt: skip

    def proposal(self, proposal_id: int) -> ProposalModel | None:
        return self.proposals[proposal_id] if proposal_id < len(self.proposals) else None

    def blocks(self, action: Any) -> bool:
        """While paused, only an unpause goes forward."""
        return self.paused and not isinstance(action, EmergencyUnpause)

    def decide(self, until: int, refuse_one_return: bool) -> bool:
        """The timers of every vote ending by ``until``, in order: each proposal decided, its
        deposit forfeited or returned (the first return refused if asked). Whether a return was
        refused."""
        due = sorted(
            (p for p in self.proposals if p.status is ProposalStatus.OPEN and p.ends_at <= until),
            key=lambda p: (p.ends_at, p.id),
        )  # fmt: skip
        refused = False
        for proposal in due:
            yes, no, abstain = proposal.tally()
            total = proposal.total
            quorum = (yes + no + abstain) * BP >= QUORUM_BP * total
            accepted = accepted_by_the_rules(yes, no, abstain, total)
            proposal.status = ProposalStatus.ACCEPTED if accepted else ProposalStatus.REJECTED
            event(f"decided: {proposal.status}{'' if quorum else ' without quorum'}")
            if (yes + no + abstain) * BP == QUORUM_BP * total:
                event("decided with exactly the quorum")
            if yes * BP == APPROVAL_BP * (yes + no) > 0:
                event("decided with exactly the approval")
            proposal.executable_at = proposal.ends_at + TIMELOCK if accepted else None
            if quorum and not accepted:
                proposal.deposit_status = DepositStatus.FORFEITED
                self.deposits_held -= DEPOSIT
                self.forfeited += DEPOSIT
            elif refuse_one_return and not refused:
                proposal.deposit_status = DepositStatus.OWED
                refused = True
            else:
                self.return_deposit(proposal)
        return refused

    def return_deposit(self, proposal: ProposalModel) -> None:
        proposal.deposit_status = DepositStatus.RETURNED
        self.deposits_held -= DEPOSIT
        self.balances[proposal.proposer] += DEPOSIT - FEE


@attrs.frozen
class Refused:
    """A refusal the model expects: the error's type and the fields it can tell."""

    error: type
    fields: tuple[tuple[str, Any], ...] = ()


def refused(error: type, **fields: Any) -> Refused:
    return Refused(error, tuple(fields.items()))


def check(result: Any, expected: Any) -> None:
    if isinstance(expected, Refused):
        assert isinstance(result, Err), (result, expected)
        assert type(result.error) is expected.error, (result, expected)
        for name, value in expected.fields:
            assert getattr(result.error, name) == value, (result, expected)
    else:
        assert result == expected, (result, expected)


def faulted(fault: str | None, fired: bool) -> str:
    return f" ({fault} fault)" if fault is not None and fired else ""


def outcome(expected: Any) -> str:
    if isinstance(expected, Refused):
        return expected.error.__name__
    return "Ok"


# -- strategies ---------------------------------------------------------------------------------

holders = st.sampled_from(HOLDERS)
principals = st.sampled_from(PRINCIPALS)
callers = st.sampled_from(CALLERS)
stake_amounts = st.sampled_from([
    1, MINIMUM_STAKE - 1, MINIMUM_STAKE, FEE, FEE + 1, 50_000, 123_457, 150_000, 400_000,
    1_000_000, MINTED,
])  # fmt: skip
good_amounts = st.sampled_from([100_000, 100_000, 200_000, 300_000])
good_locks = st.sampled_from([0, HOUR, days(2), days(90)])
"""The first stakes: powers of whole 100,000s (1x or 2x), so tallies often tie a bound."""
locks = st.sampled_from([
    0, 0, HOUR, days(30) - 1, days(30), days(45), days(90), days(400), MAX_LOCK, MAX_LOCK + 1,
])  # fmt: skip
ledger_faults = st.sampled_from([None, None, None, "reject", "trap", "fee"])
"""No fault; the governance ledger rejecting or trapping the call that moves the tokens; or
rejecting the ``icrc1_fee`` the DAO asks first."""
proposal_picks = st.integers(0, 9)
"""Below 8: one of the proposals the rule prefers (else any), newest first; 8: any; 9: an id
that does not exist."""
actions = st.tuples(
    st.sampled_from([*["motion"] * 3, *["transfer"] * 4, "pause", "unpause", "invalid"]),
    st.sampled_from(PRINCIPALS),
    st.sampled_from([1, 100_000, 700_000, FUNDED - FEE, FUNDED, 5_000_000]),
)
"""(kind, recipient, amount): a motion, a treasury transfer, an emergency (un)pause, or an
invalid action (an empty motion, or a transfer of nothing)."""
offsets = st.sampled_from([-1, 0, 0, 1, HOUR])
"""Where to move the clock around a landmark, in ns."""
refusals = st.sampled_from([None, None, None, "icrc1_transfer", "icrc1_fee"])
"""No fault, or which call of the ledger's refuses the first deposit return while time moves."""
choices = st.sampled_from(Choice)
ballots = st.lists(st.sampled_from([None, None, *Choice, Choice.YES]), min_size=7, max_size=7)
"""One ballot for each of the seven principals: a choice, or ``None`` (does not vote)."""


class DAOMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        world = deployed()
        self.ic, self.system = world.ic, world.system
        self.gov_id, self.dao_id = world.gov, world.dao
        self.ic.restore(world.snapshot)
        self.gov = self.ic.actor(self.gov_id)
        self.dao = self.ic.actor(self.dao_id)
        self.model = Model()
        self.seen: set[str] = set()

    # -- harness ------------------------------------------------------------------------------

    def _as(self, caller: Principal) -> CanisterProxy:
        return self.ic.actor(self.dao_id, caller)

    def _saw(self, what: str) -> None:
        event(what)
        self.seen.add(what)

    def teardown(self) -> None:
        target(len(self.seen), label="different outcomes")

    def _balance(self, owner: Principal, subaccount: bytes | None = None) -> int:
        return int(self.gov.icrc1_balance_of(Account(owner, subaccount)))

    def _observe(self) -> tuple[Any, ...]:
        """Everything a refused call must leave as it was."""
        dao = self.dao
        return (
            self.ic.state_of(self.dao_id), dao.get_stats(), dao.get_balances(), dao.is_paused(),
            tuple(dao.get_member(principal) for principal in PRINCIPALS),
            tuple(dao.get_stakes(principal) for principal in PRINCIPALS),
            dao.get_proposals(limit=1000),
            tuple(self._balance(principal) for principal in CALLERS),
            self.gov.get_transaction_count(),
        )  # fmt: skip

    def _call(
        self, call: Callable[[], Any], expected: Any, fault: str | None = None,
        method: str = "icrc1_transfer", fires: bool = False,
    ) -> None:  # fmt: skip
        """``call()`` checked against ``expected``; a refusal must change nothing. With a
        ``fault`` the governance ledger rejects or traps its next two ``method`` calls (the
        request and its identical resend; or, for ``fee``, rejects its next ``icrc1_fee``), and
        ``fires`` says whether the call gets that far."""
        before = self._observe() if isinstance(expected, Refused) else None
        if fault is None:
            result = call()
            fired = False
        else:
            install = self.ic.faults.trap if fault == "trap" else self.ic.faults.reject
            method = "icrc1_fee" if fault == "fee" else method
            times = 1 if fault == "fee" else 2
            with install(canister=self.gov_id, method=method, times=times) as injected:
                result = call()
            fired = injected.fired > 0
        check(result, expected)
        assert fired == (fault is not None and fires), (fault, fires, result)
        if before is not None:
            assert self._observe() == before, result

    def _pick(self, pick: int, preferred: list[ProposalModel]) -> int:
        proposals = self.model.proposals
        if pick == 9 or not proposals:
            return len(proposals) + pick % 3
        if pick < 8 and preferred:
            return preferred[-1 - pick % len(preferred)].id
        return proposals[-1 - pick % len(proposals)].id

    # -- setup ----------------------------------------------------------------------------------

    @initialize(
        stakes=st.lists(st.tuples(holders, good_amounts, good_locks), min_size=3, max_size=8),
        everyone=st.booleans(),
    )
    def some_holders_have_staked(
        self, stakes: list[tuple[Principal, int, int]], everyone: bool
    ) -> None:
        """Examples start with three to eight stakes, so proposals and votes come early; in
        half of them every holder has one, so that lines of delegating members can be long."""
        if everyone:
            stakes = [(who, 100_000, 0) for who in HOLDERS] + stakes[:2]
        for who, amount, lock in stakes:
            self._stake(who, amount, lock, None)

    # -- staking --------------------------------------------------------------------------------

    @rule(who=principals, amount=stake_amounts, lock=locks, fault=ledger_faults)
    def a_principal_stakes(self, who: Principal, amount: int, lock: int, fault: str | None) -> None:
        """Refused while paused, below the minimum or the fee, past the longest lock, or when the
        ledger does not pull the amount; else a stake with the tier's power, the member indexed."""
        self._stake(who, amount, lock, fault)

    def _stake(self, who: Principal, amount: int, lock: int, fault: str | None) -> None:
        model, now = self.model, self.ic.time
        asks_fee = pulls = False
        if model.paused:
            expected: Any = refused(Paused)
        elif amount < MINIMUM_STAKE or lock > MAX_LOCK:
            expected = refused(InvalidRequest)
        elif (asks_fee := True) and fault == "fee":
            expected = refused(TransferFailed)
        elif amount <= FEE:
            expected = refused(InvalidRequest)
        else:
            pulls = True
            if fault is not None or who not in HOLDERS or model.balances[who] < amount + FEE:
                expected = refused(TransferFailed)
            else:
                bp = multiplier(lock)
                stake = Stake(model.next_stake, who, amount, amount * bp // BP, bp, now, now + lock)
                expected = Ok(stake)
                model.stakes[stake.id] = stake
                model.next_stake += 1
                model.balances[who] -= amount + FEE
        fires = asks_fee if fault == "fee" else pulls
        self._call(
            lambda: self._as(who).stake(amount, lock), expected, fault, "icrc2_transfer_from",
            fires,
        )  # fmt: skip
        self._saw(f"stake: {outcome(expected)}{faulted(fault, fires)}")

    @precondition(lambda self: bool(self.model.stakes))
    @rule(pick=st.integers(0, 20), as_owner=st.sampled_from([True, True, True, False]),
          fault=ledger_faults)  # fmt: skip
    def a_member_unstakes(self, pick: int, as_owner: bool, fault: str | None) -> None:
        """Refused when the ledger does not tell its fee, for someone else's or an unknown
        stake, before it unlocks, or when the ledger refuses the payout (the stake then stays,
        power and index untouched); else the owner receives the amount less one fee."""
        model, now = self.model, self.ic.time
        ids = sorted(model.stakes)
        stake_id = ids[pick % len(ids)] if ids and pick < 20 else model.next_stake + pick
        stake = model.stakes.get(stake_id)
        owner = stake.owner if stake is not None else PRINCIPALS[pick % len(PRINCIPALS)]
        who = owner if as_owner else PRINCIPALS[(PRINCIPALS.index(owner) + 1) % len(PRINCIPALS)]
        sends = False
        if fault == "fee":
            expected: Any = refused(TransferFailed)
        elif stake is None or stake.owner != who:
            expected = refused(UnknownStake, stake_id=stake_id)
        elif now < stake.unlocks_at:
            expected = refused(StillLocked, unlocks_at=stake.unlocks_at)
        else:
            sends = True
            if fault is not None:
                expected = refused(TransferFailed)
            else:
                expected = Ok(stake.amount - FEE)
                del model.stakes[stake_id]
                model.balances[who] += stake.amount - FEE
                if not model.is_member(who) and model.delegates.pop(who, None) is not None:
                    self._saw("a delegator left: its delegation ended")
        fires = fault == "fee" or sends
        self._call(lambda: self._as(who).unstake(stake_id), expected, fault, fires=fires)
        self._saw(f"unstake: {outcome(expected)}{faulted(fault, fires)}")

    # -- delegation -----------------------------------------------------------------------------

    @rule(who=principals, to=principals)
    def a_principal_delegates(self, who: Principal, to: Principal) -> None:
        """Refused from a non-member, to itself, to its delegate again, into a cycle or past
        five links."""
        self._delegate(who, to)

    @rule(
        line=st.permutations(PRINCIPALS), length=st.integers(2, len(PRINCIPALS)),
        close_the_loop=st.booleans(),
    )  # fmt: skip
    def principals_delegate_in_a_line(
        self, line: list[Principal], length: int, close_the_loop: bool
    ) -> None:
        """Each of the first ``length`` principals delegates to the next (and the last to the
        first, if ``close_the_loop``): chains longer than five links and cycles are refused."""
        for who, to in itertools.pairwise(line[:length]):
            self._delegate(who, to)
        if close_the_loop:
            self._delegate(line[length - 1], line[0])

    def _delegate(self, who: Principal, to: Principal) -> None:
        model = self.model
        links = longest_chain({**model.delegates, who: to})
        if not model.is_member(who):
            expected: Any = refused(InvalidRequest)
            self._saw("delegation refused: not a member")
        elif to == who or model.delegates.get(who) == to or links is None or links > MAX_CHAIN:
            expected: Any = refused(InvalidRequest)
            why = "itself" if to == who else "again" if model.delegates.get(who) == to else (
                "cycle" if links is None else "too long"
            )  # fmt: skip
            self._saw(f"delegation refused: {why}")
        else:
            expected = Ok(None)
            model.delegates[who] = to
            self._saw(f"delegation of {links} links")
        self._call(lambda: self._as(who).delegate(to), expected)

    @rule(who=principals)
    def a_principal_undelegates(self, who: Principal) -> None:
        model = self.model
        if who in model.delegates:
            expected: Any = Ok(None)
            del model.delegates[who]
        else:
            expected = refused(InvalidRequest)
        self._call(lambda: self._as(who).undelegate(), expected)
        self._saw(f"undelegate: {outcome(expected)}")

    # -- proposals ------------------------------------------------------------------------------

    @rule(
        who=principals, strongest=st.booleans(), action=actions, fault=ledger_faults,
        then_votes=st.sampled_from([None, Choice.YES, Choice.YES, Choice.NO]),
    )  # fmt: skip
    def a_principal_submits_a_proposal(
        self, who: Principal, strongest: bool, action: tuple[str, Principal, int],
        fault: str | None, then_votes: Choice | None,
    ) -> None:  # fmt: skip
        """Refused while paused (unless it unpauses), when invalid, below the threshold (own and
        delegated power now) or when the ledger does not pull the deposit; else the power as it
        is now is its snapshot. The proposer is ``who`` or the principal with the most power
        now, and may vote on its proposal at once."""
        if strongest:
            who = max(PRINCIPALS, key=self.model.subtree)
        proposal_id = self._submit(who, action, fault)
        if proposal_id is not None and then_votes is not None:
            self._vote(who, proposal_id, then_votes)

    @rule(
        action=actions, order=st.permutations(PRINCIPALS),
        ballots=ballots,
        refuse_a_return=refusals, fault=ledger_faults,
    )  # fmt: skip
    def a_proposal_runs_its_course(
        self, action: tuple[str, Principal, int], order: list[Principal],
        ballots: list[Choice | None], refuse_a_return: str | None, fault: str | None,
    ) -> None:  # fmt: skip
        """The principal with the most power submits it and a crowd votes; time moves to its
        end, deciding it and any other proposal ending by then. If accepted, anyone tries to
        execute it then and a nanosecond before its timelock ends (too early), at that end (the
        ledger refusing or trapping a transfer if ``fault``) and once more (too late). Every
        step is checked as in the rules above."""
        proposal_id = self._submit(max(PRINCIPALS, key=self.model.subtree), action, None)
        if proposal_id is None:
            return
        for voter, choice in zip(order, ballots, strict=True):
            if choice is not None:
                self._vote(voter, proposal_id, choice)
        proposal = self.model.proposals[proposal_id]
        ends_at = proposal.ends_at
        self._move(lambda: self.ic.set_time(ends_at), ends_at, refuse_a_return)
        if proposal.executable_at is None:
            return
        executable_at = proposal.executable_at
        self._execute(order[0], proposal_id, None)
        self._move(lambda: self.ic.set_time(executable_at - 1), executable_at - 1, None)
        self._execute(order[1], proposal_id, None)
        self._move(lambda: self.ic.set_time(executable_at), executable_at, None)
        self._execute(order[2], proposal_id, fault)
        self._execute(order[3], proposal_id, None)

    def _submit(
        self, who: Principal, action: tuple[str, Principal, int], fault: str | None
    ) -> int | None:
        """``who`` submits the proposal ``action`` describes; its id if it was taken."""
        kind, recipient, amount = action
        proposed: Any = {
            "motion": Motion("Adopt the roadmap"),
            "transfer": TreasuryTransfer(self.gov_id, Account(recipient), amount),
            "pause": EmergencyPause(),
            "unpause": EmergencyUnpause(),
            "invalid": Motion("") if amount % 2 else TreasuryTransfer(
                self.gov_id, Account(recipient), 0
            ),
        }[kind]  # fmt: skip
        model, now = self.model, self.ic.time
        pulls = False
        have = model.subtree(who)
        if model.blocks(proposed):
            expected: Any = refused(Paused)
        elif kind == "invalid":
            expected = refused(InvalidRequest)
        elif have < THRESHOLD:
            expected = refused(InsufficientVotingPower, have=have, need=THRESHOLD)
        else:
            pulls = True
            if fault in ("reject", "trap") or who not in HOLDERS or (
                model.balances[who] < DEPOSIT + FEE
            ):  # fmt: skip
                expected = refused(TransferFailed)
            else:
                expected = Ok(len(model.proposals))
                model.proposals.append(ProposalModel(
                    len(model.proposals), who, proposed, now + VOTING_PERIOD, model.own(),
                    dict(model.delegates),
                ))  # fmt: skip
                model.balances[who] -= DEPOSIT + FEE
                model.deposits_held += DEPOSIT
        fires = pulls and fault != "fee"
        self._call(
            lambda: self._as(who).submit_proposal(proposed), expected, fault,
            "icrc2_transfer_from", fires,
        )  # fmt: skip
        self._saw(f"submit {kind}: {outcome(expected)}{faulted(fault, fires)}")
        return expected.value if isinstance(expected, Ok) else None

    @precondition(lambda self: bool(self.model.proposals))
    @rule(voter=callers, pick=proposal_picks, choice=choices)
    def a_principal_votes(self, voter: Principal, pick: int, choice: Choice) -> None:
        """Mostly on an open proposal; any principal, the emergency contact (no power) too."""
        self._vote(voter, self._pick(pick, self._open()), choice)

    @precondition(lambda self: any(p.status is ProposalStatus.OPEN for p in self.model.proposals))
    @rule(
        pick=proposal_picks, order=st.permutations(PRINCIPALS),
        ballots=ballots,
    )  # fmt: skip
    def a_crowd_votes(
        self, pick: int, order: list[Principal], ballots: list[Choice | None]
    ) -> None:
        """The principals in ``order`` each vote their ballot on one open proposal (``None``:
        not)."""
        open_ids = [p.id for p in self._open()]
        proposal_id = open_ids[-1 - pick % len(open_ids)]
        for voter, choice in zip(order, ballots, strict=True):
            if choice is not None:
                self._vote(voter, proposal_id, choice)

    def _open(self) -> list[ProposalModel]:
        return [p for p in self.model.proposals if p.status is ProposalStatus.OPEN]

    def _vote(self, voter: Principal, proposal_id: int, choice: Choice) -> None:
        """Refused for an unknown proposal, after its end, while paused (unless it unpauses),
        twice, or without power left at its snapshot; else the power the model credits."""
        model, now = self.model, self.ic.time
        proposal = model.proposal(proposal_id)
        if proposal is None:
            expected: Any = refused(UnknownProposal, proposal_id=proposal_id)
        elif proposal.status is not ProposalStatus.OPEN or now >= proposal.ends_at:
            expected = refused(WrongStatus, status=proposal.status)
        elif model.blocks(proposal.action):
            expected = refused(Paused)
        elif voter in proposal.votes:
            expected = refused(AlreadyVoted, voter=voter, choice=proposal.votes[voter])
        elif (weight := proposal.weight_of(voter)) == 0:
            expected = refused(NoVotingPower, voter=voter)
        else:
            expected = Ok(weight)
            above = chain_of(proposal.delegates, voter)[1:]
            if any(principal in proposal.votes for principal in above):
                self._saw("a delegator takes its power back from a delegate who voted")
            if any(voter in chain_of(proposal.delegates, other) for other in proposal.votes):
                self._saw("a delegate votes after a delegator took its power back")
            proposal.votes[voter] = choice
        self._call(lambda: self._as(voter).vote(proposal_id, choice), expected)
        self._saw(f"vote: {outcome(expected)}")

    @precondition(lambda self: bool(self.model.proposals))
    @rule(caller=callers, pick=proposal_picks)
    def anyone_tallies_a_proposal(self, caller: Principal, pick: int) -> None:
        """Too early before the end; after it, the status the timer decided, nothing changed."""
        proposal_id = self._pick(pick, self.model.proposals)
        proposal = self.model.proposal(proposal_id)
        if proposal is None:
            expected: Any = refused(UnknownProposal, proposal_id=proposal_id)
        elif proposal.status is ProposalStatus.OPEN:
            assert self.ic.time < proposal.ends_at
            expected = refused(NotYet, at=proposal.ends_at)
        else:
            expected = Ok(proposal.status)
        before = self._observe()
        self._call(lambda: self._as(caller).tally(proposal_id), expected)
        assert self._observe() == before

    @precondition(lambda self: bool(self.model.proposals))
    @rule(caller=callers, pick=proposal_picks, fault=ledger_faults)
    def anyone_executes_a_proposal(self, caller: Principal, pick: int, fault: str | None) -> None:
        """Only an Accepted proposal past its timelock, not while paused (unless it unpauses),
        once; a transfer the ledger refuses (too much, or a fault) Fails for good."""
        accepted = [p for p in self.model.proposals if p.status is ProposalStatus.ACCEPTED]
        self._execute(caller, self._pick(pick, accepted), fault)

    @precondition(lambda self: bool(self._ripe()))
    @rule(caller=callers, pick=st.integers(0, 3), fault=ledger_faults)
    def anyone_executes_a_proposal_whose_timelock_has_passed(
        self, caller: Principal, pick: int, fault: str | None
    ) -> None:
        """Executed (or Failed, for a transfer the ledger refuses), unless paused."""
        ripe = self._ripe()
        self._execute(caller, ripe[pick % len(ripe)].id, fault)

    def _ripe(self) -> list[ProposalModel]:
        return [
            p for p in self.model.proposals
            if p.status is ProposalStatus.ACCEPTED and (p.executable_at or 0) <= self.ic.time
        ]  # fmt: skip

    def _execute(self, caller: Principal, proposal_id: int, fault: str | None) -> None:
        model, now = self.model, self.ic.time
        proposal = model.proposal(proposal_id)
        sends = False
        if proposal is None:
            expected: Any = refused(UnknownProposal, proposal_id=proposal_id)
        elif proposal.status is not ProposalStatus.ACCEPTED:
            expected = refused(WrongStatus, status=proposal.status)
        elif now < (executable_at := proposal.executable_at or 0):
            expected = refused(NotYet, at=executable_at)
        elif model.blocks(proposal.action):
            expected = refused(Paused)
        else:
            action = proposal.action
            worked = True
            if isinstance(action, TreasuryTransfer):
                sends = True
                worked = fault is None and model.treasury >= action.amount + FEE
                if worked:
                    model.paid += action.amount + FEE
                    model.balances[action.to.owner] += action.amount
            elif isinstance(action, EmergencyPause | EmergencyUnpause):
                model.paused = isinstance(action, EmergencyPause)
            proposal.status = ProposalStatus.EXECUTED if worked else ProposalStatus.FAILED
            expected = Ok(proposal.status)
        self._call(lambda: self._as(caller).execute(proposal_id), expected, fault, fires=sends)
        kind = type(proposal.action).__name__ if proposal is not None else "unknown"
        said = expected.value if isinstance(expected, Ok) else outcome(expected)
        self._saw(f"execute {kind}: {said}{faulted(fault, sends)}")

    @precondition(
        lambda self: any(p.deposit_status is DepositStatus.OWED for p in self.model.proposals)
    )
    @rule(caller=callers, pick=proposal_picks, fault=ledger_faults)
    def anyone_retries_an_owed_deposit(
        self, caller: Principal, pick: int, fault: str | None
    ) -> None:
        """Returned (less one fee) unless the ledger refuses again; refused for a proposal whose
        deposit is not owed, or an unknown one."""
        model = self.model
        owed = [p for p in model.proposals if p.deposit_status is DepositStatus.OWED]
        proposal_id = self._pick(pick, owed)
        proposal = model.proposal(proposal_id)
        sends = False
        if proposal is None:
            expected: Any = refused(UnknownProposal, proposal_id=proposal_id)
        elif proposal.deposit_status is not DepositStatus.OWED:
            expected = refused(WrongStatus, status=proposal.status)
        else:
            sends = True
            if fault is None:
                model.return_deposit(proposal)
            expected = Ok(proposal.deposit_status)
        self._call(lambda: self._as(caller).return_deposit(proposal_id), expected, fault,
                   fires=sends)  # fmt: skip
        self._saw(f"return deposit: {outcome(expected)}{faulted(fault, sends)}")

    # -- the treasury, the emergency contact, time ------------------------------------------------

    @rule(amount=st.sampled_from([1, 250_000, 2_000_000]))
    def someone_funds_the_treasury(self, amount: int) -> None:
        minter = self.ic.actor(self.gov_id, MINTER)
        minter.icrc1_transfer(TransferArgs(to=Account(self.dao_id), amount=amount)).unwrap()
        self.model.funded += amount

    @rule(
        action=st.sampled_from(["toggle", "toggle", "toggle", "pause", "unpause"]),
        by_contact=st.sampled_from([True, True, True, False]),
    )  # fmt: skip
    def the_emergency_contact_pauses_or_unpauses(self, action: str, by_contact: bool) -> None:
        """Only an emergency contact may; pausing or unpausing twice is no error. ``toggle``:
        unpause if paused, else pause."""
        pause = action == "pause" or (action == "toggle" and not self.model.paused)
        caller = CONTACT if by_contact else OWNER
        if by_contact:
            expected: Any = Ok(None)
            self.model.paused = pause
        else:
            expected = refused(NotEmergencyContact, caller=caller)
        dao = self._as(caller)
        self._call(dao.emergency_pause if pause else dao.emergency_unpause, expected)
        self._saw(f"{'pause' if pause else 'unpause'}: {outcome(expected)}")

    @rule(hours=st.integers(1, 5 * 24), refuse_a_return=refusals)
    def time_passes(self, hours: int, refuse_a_return: str | None) -> None:
        """Every vote ending meanwhile is decided by its timer at its end (the ledger refusing
        the ``refuse_a_return`` call of the first deposit return, if given)."""
        until = self.ic.time + hours * HOUR
        self._move(lambda: self.ic.advance_time(hours=hours), until, refuse_a_return)

    @precondition(lambda self: any(p.status is ProposalStatus.OPEN for p in self.model.proposals))
    @rule(which=st.integers(0, 3), offset=offsets, refuse_a_return=refusals)
    def time_moves_to_around_a_votes_end(
        self, which: int, offset: int, refuse_a_return: str | None
    ) -> None:
        """To the nanosecond before, at or after an open proposal's end (or an hour after)."""
        ends = sorted({p.ends_at for p in self._open()})
        self._move_to_one_of(ends, which, offset, refuse_a_return)

    @precondition(
        lambda self: (
            any(p.status is ProposalStatus.ACCEPTED for p in self.model.proposals)
            or any(stake.unlocks_at > self.ic.time for stake in self.model.stakes.values())
        )
    )
    @rule(which=st.integers(0, 3), offset=offsets)
    def time_moves_to_around_a_timelocks_end_or_else_an_unlock(
        self, which: int, offset: int
    ) -> None:
        """To the nanosecond before, at or after the end of an accepted proposal's timelock (or an
        hour after); if none is ahead, around a stake's unlock."""
        model, now = self.model, self.ic.time
        ends = sorted({
            p.executable_at for p in model.proposals
            if p.status is ProposalStatus.ACCEPTED and p.executable_at is not None
            and p.executable_at > now
        })  # fmt: skip
        unlocks = sorted({stake.unlocks_at for stake in model.stakes.values()})
        self._move_to_one_of(ends or unlocks, which, offset, None)

    def _move_to_one_of(
        self, landmarks: list[int], which: int, offset: int, refuse_a_return: str | None
    ) -> None:
        ahead = [landmark + offset for landmark in landmarks if landmark + offset > self.ic.time]
        if ahead:
            until = ahead[which % len(ahead)]
            self._move(lambda: self.ic.set_time(until), until, refuse_a_return)

    def _move(
        self, move_clock: Callable[[], None], until: int, refuse_a_return: str | None
    ) -> None:
        if refuse_a_return is not None:
            times = 2 if refuse_a_return == "icrc1_transfer" else 1  # the request and its resend
            with self.ic.faults.reject(
                canister=self.gov_id, method=refuse_a_return, times=times
            ) as injected:
                move_clock()
            fired = injected.fired > 0
        else:
            move_clock()
            fired = False
        assert self.ic.time == until
        assert self.model.decide(until, refuse_a_return is not None) == fired
        if fired:
            self._saw(f"a deposit return refused ({refuse_a_return})")

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def the_staking_subaccount_holds_exactly_the_active_stakes(self) -> None:
        model = self.model
        staked = sum(stake.amount for stake in model.stakes.values())
        balances = self.dao.get_balances()
        ledger = self._balance(self.dao_id, STAKING_SUBACCOUNT)
        assert ledger == staked == balances.staking == balances.staked
        stats = self.dao.get_stats()
        assert (stats.stakes, stats.staked, stats.total_power, stats.paused) == (
            len(model.stakes), staked, sum(model.own().values()), model.paused,
        )  # fmt: skip
        assert self.dao.is_paused() == model.paused
        for principal in PRINCIPALS:
            page = self.dao.get_stakes(principal)
            assert list(page.items) == model.stakes_of(principal), principal

    @invariant()
    def the_treasury_lost_exactly_the_executed_transfers_and_their_fees(self) -> None:
        model = self.model
        executed = [
            p.action for p in model.proposals
            if p.status is ProposalStatus.EXECUTED and isinstance(p.action, TreasuryTransfer)
        ]  # fmt: skip
        spent = sum(transfer.amount + FEE for transfer in executed)
        assert spent == model.paid
        treasury = self._balance(self.dao_id)
        assert treasury == model.funded - spent == self.dao.get_balances().treasury
        assert self.ic.state_of(self.dao_id).treasury_paid.get(self.gov_id, 0) == spent

    @invariant()
    def the_deposits_subaccount_holds_the_held_and_forfeited_deposits(self) -> None:
        model = self.model
        statuses = [p.deposit_status for p in model.proposals]
        held = DEPOSIT * sum(s in (DepositStatus.HELD, DepositStatus.OWED) for s in statuses)
        forfeited = DEPOSIT * statuses.count(DepositStatus.FORFEITED)
        assert (model.deposits_held, model.forfeited) == (held, forfeited)
        balances = self.dao.get_balances()
        ledger = self._balance(self.dao_id, DEPOSITS_SUBACCOUNT)
        assert ledger == held + forfeited == balances.deposits
        assert (balances.deposits_held, balances.forfeited) == (held, forfeited)
        for proposal in model.proposals:
            if proposal.status is ProposalStatus.OPEN:
                assert proposal.deposit_status is DepositStatus.HELD
            else:
                view = self.dao.get_tally(proposal.id)
                forfeit = view.quorum_reached and proposal.status is ProposalStatus.REJECTED
                assert (proposal.deposit_status is DepositStatus.FORFEITED) == forfeit
        for principal in CALLERS:
            assert self._balance(principal) == model.balances[principal], principal

    @invariant()
    def every_tally_is_counted_from_its_snapshot(self) -> None:
        for proposal in self.model.proposals:
            view: TallyView = self.dao.get_tally(proposal.id)
            assert (view.yes, view.no, view.abstain) == proposal.tally(), proposal.id
            assert (view.voters, view.snapshot_total) == (len(proposal.votes), proposal.total)
            assert view.status is proposal.status
            if proposal.status is not ProposalStatus.OPEN:
                continue
            counted = proposal.credited(proposal.votes)
            votes = self.dao.get_votes(proposal.id)
            assert [(voter, vote.choice, vote.power) for voter, vote in votes.items] == [
                (voter, choice, counted.get(voter, 0)) for voter, choice in proposal.votes.items()
            ]  # fmt: skip
            for principal in PRINCIPALS:
                power = self.dao.get_voting_power(principal, proposal.id)
                assert power == proposal.weight_of(principal), (proposal.id, principal)

    @invariant()
    def every_proposal_is_decided_by_quorum_and_approval_at_its_end(self) -> None:
        now = self.ic.time
        state = self.ic.state_of(self.dao_id)
        for proposal in self.model.proposals:
            info = self.dao.get_proposal(proposal.id)
            kept = state.proposals[proposal.id]
            assert (info.status, info.deposit_status) == (
                proposal.status, proposal.deposit_status
            ), proposal.id  # fmt: skip
            assert (info.ends_at, info.executable_at) == (
                proposal.ends_at, proposal.executable_at
            )  # fmt: skip
            if now < proposal.ends_at:
                assert info.status is ProposalStatus.OPEN
                continue
            assert kept.decided_at == proposal.ends_at
            view = info.tally
            accepted = accepted_by_the_rules(view.yes, view.no, view.abstain, view.snapshot_total)
            assert (info.status in AFTER_ACCEPTANCE) == accepted, info
            assert (info.executable_at is not None) == accepted
            if info.status in (ProposalStatus.EXECUTED, ProposalStatus.FAILED):
                assert kept.executed_at >= proposal.ends_at + TIMELOCK
            else:
                assert kept.executed_at is None
        stats = self.dao.get_stats()
        assert stats.proposals == len(self.model.proposals)
        assert dict(stats.by_status) == {
            status: sum(p.status is status for p in self.model.proposals)
            for status in ProposalStatus
        }  # fmt: skip

    @invariant()
    def the_factory_indexes_exactly_the_members(self) -> None:
        assert self.dao.get_contract_meta().pending_notifications == 0
        factory = self.system.dao_factory
        owners = {stake.owner for stake in self.model.stakes.values()}
        for principal in CALLERS:
            entries = [
                entry for entry in factory.as_caller(principal).get_my_contracts(principal)
                if entry.info.id == self.dao_id
            ]  # fmt: skip
            roles = set(entries[0].roles) if entries else set()
            assert (MEMBER in roles) == (principal in owners), principal
            assert (CREATOR in roles) == (principal == OWNER), principal

    @invariant()
    def every_principals_power_now_is_the_models(self) -> None:
        model = self.model
        own = model.own()
        for principal in PRINCIPALS:
            member = self.dao.get_member(principal)
            mine = model.stakes_of(principal)
            subtree = model.subtree(principal)
            delegate = model.delegates.get(principal)
            assert (member.stakes, member.staked) == (len(mine), sum(s.amount for s in mine))
            assert (member.own, member.delegated, member.delegate) == (
                own.get(principal, 0), subtree - own.get(principal, 0), delegate,
            ), principal  # fmt: skip
            assert member.effective == (0 if delegate is not None else subtree)


DAOMachine.TestCase.settings = settings(
    max_examples=min(50, settings().max_examples), stateful_step_count=80, deadline=None
)
TestDAO = DAOMachine.TestCase


# -- a tally by hand ----------------------------------------------------------------------------


@pytest.fixture
def world() -> Deployed:
    world = deployed()
    world.ic.restore(world.snapshot)
    return world


def test_delegators_who_vote_take_their_power_back_and_later_stakes_do_not_count(
    world: Deployed,
) -> None:
    """Alice stakes 300,000 unlocked (300,000 power), Bob 100,000 for 90 days (200,000), Carol
    100,000 for 30 days (150,000); Bob delegates to Alice, Carol to Bob. Alice proposes, then
    Dave stakes 1,000,000 (too late to count). Alice votes yes with all 650,000; Carol votes no
    and takes her 150,000 back; Bob votes no with his own 200,000 (Carol's is hers now): yes
    300,000, no 350,000. Quorum is reached but not approval: rejected, the deposit forfeited."""
    ic = world.ic
    dao = {who: ic.actor(world.dao, who) for who in (ALICE, BOB, CAROL, DAVE)}
    assert dao[ALICE].stake(300_000, 0).unwrap().power == 300_000
    assert dao[BOB].stake(100_000, days(90)).unwrap().power == 200_000
    assert dao[CAROL].stake(100_000, days(30)).unwrap().power == 150_000
    assert dao[BOB].delegate(ALICE) == Ok(None)
    assert dao[CAROL].delegate(BOB) == Ok(None)
    proposal_id = dao[ALICE].submit_proposal(Motion("Adopt the roadmap")).unwrap()
    dao[DAVE].stake(1_000_000, 0).unwrap()
    assert dao[ALICE].vote(proposal_id, Choice.YES) == Ok(650_000)
    assert dao[CAROL].vote(proposal_id, Choice.NO) == Ok(150_000)
    assert dao[BOB].vote(proposal_id, Choice.NO) == Ok(200_000)
    assert dao[DAVE].vote(proposal_id, Choice.NO) == Err(NoVotingPower(DAVE))
    tally = dao[DAVE].get_tally(proposal_id)
    assert (tally.yes, tally.no, tally.abstain, tally.snapshot_total) == (
        300_000, 350_000, 0, 650_000,
    )  # fmt: skip
    ic.advance_time(days=3)
    info = dao[DAVE].get_proposal(proposal_id)
    assert (info.status, info.deposit_status) == (
        ProposalStatus.REJECTED, DepositStatus.FORFEITED,
    )  # fmt: skip


def test_exactly_the_quorum_and_exactly_the_approval_accept_a_proposal(world: Deployed) -> None:
    """Alice, Bob and Carol stake 100,000, 100,000 and 200,000 unlocked (400,000 power). Alice
    votes yes and Bob no: 200,000 cast is exactly the 50 % quorum, and 100,000 yes is exactly
    the 50 % approval of yes and no. Both bounds are inclusive: accepted, the deposit returned."""
    ic = world.ic
    dao = {who: ic.actor(world.dao, who) for who in (ALICE, BOB, CAROL)}
    for who, amount in ((ALICE, 100_000), (BOB, 100_000), (CAROL, 200_000)):
        dao[who].stake(amount, 0).unwrap()
    proposal_id = dao[CAROL].submit_proposal(Motion("Adopt the roadmap")).unwrap()
    assert dao[ALICE].vote(proposal_id, Choice.YES) == Ok(100_000)
    assert dao[BOB].vote(proposal_id, Choice.NO) == Ok(100_000)
    ic.advance_time(days=3)
    info = dao[CAROL].get_proposal(proposal_id)
    assert (info.tally.quorum_reached, info.tally.approved) == (True, True)
    assert (info.status, info.deposit_status) == (
        ProposalStatus.ACCEPTED, DepositStatus.RETURNED,
    )  # fmt: skip
    assert info.executable_at == info.ends_at + TIMELOCK
