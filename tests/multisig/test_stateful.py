"""A multisig wallet does exactly what its rules say, whoever calls it and whenever.

One wallet is deployed through the paid flow once per module (Alice Owner, Bob and Carol
Signers, Dave Observer; 2 of 3, a 1 h timelock, a 2 day lifetime) and funded with 100 ICP; every
example starts again from that snapshot, with up to four proposals made. At each step of a
hypothesis state machine one of five candidates (Erin is a stranger) proposes any kind of action
with random values (transfers above the balance, batches, member, threshold, policy, limit,
visibility and freeze changes), approves, rejects or executes a random proposal (or an unknown
id), executes while the ICP ledger rejects or traps one transfer (the wallet sends the identical
request again, which runs) or while the factory is unreachable, or time moves by a random amount
or to the exact nanosecond of a timelock's end or an expiry (one before, at, one after).

A plain model predicts every answer (Ok, or exactly which error) and every proposal as the wallet
keeps it: status, votes, times, executor, failure and ledger blocks. An open proposal is tallied
on each vote and after each executed change to the wallet: a pending one is Approved once the
approvals of current voters reach the threshold of that moment, an approved one that falls short
of it is Pending again, and any open one is Rejected once the voters who have not rejected it can
no longer reach that threshold. Execution re-checks the
approvals and the action's validity. Whether a transfer is paid follows from the ledger's balance
before the call.

After every step:

1. the wallet's ICP balance is the funding less the amount and fee of each payment, and its
   outgoing ledger blocks are exactly the model's payments, in order;
2. every executed proposal had, when it executed, approvals of the then-current voters reaching
   the then-required threshold, and was executed by a voter;
3. the factory indexes each candidate exactly as a member (``signer`` for Owners and Signers,
   ``observer`` for Observers, nothing otherwise) and the wallet's visibility, unless a
   notification the factory missed is waiting for the wallet's retry;
4. no proposal is paid twice: each recorded block is a payment of its own transfer (its memo, or
   the wallet's memo for it, and the request's ``created_at_time``), no block is claimed by two
   transfers, every payment belongs to a proposal, an Executed proposal has a block for each of
   its transfers, and no outcome is left in doubt.

Plain examples pin the basic transitions with exact values.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from icto import E8S, IC, Account, Err, Ok, Principal
from icto.collections import SortedSet
from icto.ledger.client import memo_of
from icto.ledger.presets import ICP
from icto.multisig import (
    AddObserver,
    AddSigner,
    AlreadyVoted,
    BatchTransfer,
    ChangeRole,
    ChangeThreshold,
    ChangeVisibility,
    Freeze,
    InvalidProposal,
    Kind,
    MultisigConfig,
    NotASigner,
    NotEnoughApprovals,
    NotExecutable,
    Proposal,
    ProposalClosed,
    RemoveObserver,
    RemoveSigner,
    Role,
    SetDailyLimit,
    SetPolicy,
    Status,
    Transfer,
    Unfreeze,
    UnknownProposal,
)
from icto.system import System, deploy_system

ALICE, BOB, CAROL, DAVE, ERIN = (
    Principal.from_name(name) for name in ("alice", "bob", "carol", "dave", "erin")
)
CANDIDATES = (ALICE, BOB, CAROL, DAVE, ERIN)
SECOND_NS = 10**9
HOUR_NS = 3600 * SECOND_NS
DAY_NS = 24 * HOUR_NS
TIMELOCK = HOUR_NS
LIFETIME = 2 * DAY_NS
FUNDING = 100 * E8S
LEDGER_FEE = 10_000
MAX_AMOUNT = 2**128 - 1
MAX_MEMO = 32
RETRY_NS = 60 * SECOND_NS
"""How long a wallet waits before resending what its factory did not take."""
ICP_LEDGER = ICP.canister_id
NO_LEDGER = Principal.from_canister_index(999_999)
"""A canister id nothing is installed at: a transfer naming it fails at the call."""
CONFIG = MultisigConfig(
    name="Treasury", threshold=2, timelock=TIMELOCK, lifetime=LIFETIME,
    members=((ALICE, Role.OWNER), (BOB, Role.SIGNER), (CAROL, Role.SIGNER), (DAVE, Role.OBSERVER)),
)  # fmt: skip
OPEN = frozenset({Status.PENDING, Status.APPROVED, Status.EXECUTABLE})
PENDING = frozenset({Status.PENDING})
APPROVED = frozenset({Status.APPROVED})
EXECUTABLE = frozenset({Status.EXECUTABLE})


@attrs.frozen
class Deployed:
    ic: IC
    system: System
    wallet_id: Principal
    blocks: int
    """Ledger blocks at the snapshot (the wallet's funding is the last of them)."""
    snapshot: Any


@functools.cache
def deployed() -> Deployed:
    ic = IC(trace=False)
    system = deploy_system(ic)
    system.faucet(ALICE, 10 * E8S)
    system.approve_backend(ALICE, 5 * E8S)
    wallet_id = system.backend.as_caller(ALICE).deploy_multisig(CONFIG).unwrap().canister_id
    system.faucet(Account(wallet_id), FUNDING)
    blocks = system.icp_ledger.get_transaction_count()
    return Deployed(ic, system, wallet_id, blocks, ic.snapshot())


# -- the model ----------------------------------------------------------------------------------


def indexed(role: Role | None) -> frozenset[str]:
    """The factory roles a wallet role is indexed under."""
    if role is None:
        return frozenset()
    return frozenset({"observer"}) if role is Role.OBSERVER else frozenset({"signer"})


def transfers_in(action: object) -> tuple[Transfer, ...]:
    if isinstance(action, Transfer):
        return (action,)
    if isinstance(action, BatchTransfer):
        return action.transfers
    return ()


@attrs.define
class Ballot:
    """One proposal as the model expects the wallet to keep it."""

    id: int
    action: Any
    proposer: Principal
    created_at: int
    threshold: int
    approvals: set[Principal]
    status: Status = Status.PENDING
    rejections: set[Principal] = attrs.Factory(set)
    approved_at: int | None = None
    finished_at: int | None = None
    executed_by: Principal | None = None
    failure: str | None = None
    """A part of the failure reason the wallet must give ("" for any reason)."""
    paid: tuple[tuple[Transfer, int | None], ...] = ()
    """(transfer, block or ``None`` if refused), once executed."""
    tally: tuple[int, int, bool] | None = None
    """At execution: approvals of the voters then, the threshold then, whether the executor
    voted."""

    @property
    def expires_at(self) -> int:
        return self.created_at + LIFETIME

    def view(self) -> tuple[Any, ...]:
        return (
            self.id, self.action, self.proposer, self.created_at, self.expires_at, self.status,
            self.threshold, SortedSet(self.approvals), SortedSet(self.rejections),
            self.approved_at, self.finished_at, self.executed_by, self.failure is not None,
            self.paid,
        )  # fmt: skip


def view_of(proposal: Proposal) -> tuple[Any, ...]:
    return (
        proposal.id, proposal.action, proposal.proposer, proposal.created_at,
        proposal.expires_at, proposal.status, proposal.threshold, proposal.approvals,
        proposal.rejections, proposal.approved_at, proposal.finished_at, proposal.executed_by,
        proposal.failure is not None,
        tuple((outcome.transfer, outcome.block) for outcome in proposal.outcomes),
    )  # fmt: skip


@attrs.define
class Model:
    """The wallet as its rules say it must be."""

    roles: dict[Principal, Role] = attrs.Factory(lambda: dict(CONFIG.members))
    threshold: int = CONFIG.threshold
    policies: dict[Kind, int] = attrs.Factory(dict)
    limits: dict[Principal, int] = attrs.Factory(dict)
    spent: dict[Principal, tuple[int, int]] = attrs.Factory(dict)
    """Ledger → (24 h window, amount paid in it)."""
    frozen: bool = False
    is_public: bool = False
    ballots: list[Ballot] = attrs.Factory(list)
    payments: list[tuple[Account, int, bytes | None]] = attrs.Factory(list)
    """The wallet's outgoing ledger transfers, in order."""
    retry_at: int | None = None
    """When the wallet resends the notifications its factory missed."""

    # -- who votes and how many are needed ------------------------------------------------------

    def votes(self, principal: Principal) -> bool:
        role = self.roles.get(principal)
        return role is not None and role is not Role.OBSERVER

    @property
    def voters(self) -> int:
        return sum(1 for principal in self.roles if self.votes(principal))

    def required(self, action: Any) -> int:
        """The threshold, raised by the policy of every kind of change the action makes: a
        batch is transfers too, a role change adds or removes a signer, and a policy change
        must meet the policy it changes."""
        kinds = [action.KIND]
        if action.KIND is Kind.BATCH_TRANSFER:
            kinds.append(Kind.TRANSFER)
        elif action.KIND is Kind.CHANGE_ROLE:
            kinds += [Kind.ADD_SIGNER, Kind.REMOVE_SIGNER]
        elif action.KIND is Kind.SET_POLICY and isinstance(action.kind, Kind):
            kinds.append(action.kind)
        return max([self.threshold, *(self.policies.get(kind, 0) for kind in kinds)])

    def counted(self, votes: set[Principal]) -> int:
        return sum(1 for principal in votes if self.votes(principal))

    def spent_today(self, ledger: Principal, now: int) -> int:
        window, amount = self.spent.get(ledger, (-1, 0))
        return amount if window == now // DAY_NS else 0

    # -- what may be proposed --------------------------------------------------------------------

    def problems(self, action: object) -> list[str]:
        """Why ``action`` cannot be made (or executed) against the wallet as it is now."""
        match action:
            case Transfer():
                return transfer_problems(action)
            case BatchTransfer(transfers=transfers):
                if not 1 <= len(transfers) <= 100:
                    return ["batch size"]
                return [problem for t in transfers for problem in transfer_problems(t)]
            case AddSigner(principal=principal, role=role):
                return self.newcomer(principal) + ([] if role is not Role.OBSERVER else ["role"])
            case RemoveSigner(principal=principal):
                if not self.votes(principal):
                    return ["not a voter"]
                return self.after(principal, None)
            case ChangeRole(principal=principal, role=role):
                if principal not in self.roles:
                    return ["not a member"]
                if self.roles[principal] is role:
                    return ["same role"]
                return self.after(principal, role)
            case ChangeThreshold(threshold=threshold):
                if not 1 <= threshold <= self.voters:
                    return ["threshold out of range"]
                return ["same threshold"] if threshold == self.threshold else []
            case AddObserver(principal=principal):
                return self.newcomer(principal)
            case RemoveObserver(principal=principal):
                return [] if self.roles.get(principal) is Role.OBSERVER else ["not an observer"]
            case ChangeVisibility(is_public=is_public):
                return ["same visibility"] if is_public == self.is_public else []
            case SetPolicy(kind=kind, threshold=threshold):
                if threshold is not None and not 1 <= threshold <= self.voters:
                    return ["policy out of range"]
                return ["same policy"] if self.policies.get(kind) == threshold else []
            case SetDailyLimit(ledger=ledger, amount=amount):
                if not ledger.is_canister:
                    return ["not a ledger"]
                if amount is not None and not 0 < amount <= MAX_AMOUNT:
                    return ["limit out of range"]
                return ["same limit"] if self.limits.get(ledger) == amount else []
            case Freeze():
                return ["frozen already"] if self.frozen else []
            case Unfreeze():
                return [] if self.frozen else ["not frozen"]
        raise AssertionError(f"no rule for {action!r}")

    def newcomer(self, principal: Principal) -> list[str]:
        return ["a member already"] if principal in self.roles else []

    def after(self, principal: Principal, role: Role | None) -> list[str]:
        """What would break if ``principal`` had ``role`` (``None``: left the wallet)."""
        roles = {p: r for p, r in self.roles.items() if p != principal}
        if role is not None:
            roles[principal] = role
        problems = []
        if Role.OWNER not in roles.values():
            problems.append("the last Owner")
        voters = sum(1 for r in roles.values() if r is not Role.OBSERVER)
        if voters < max([self.threshold, *self.policies.values()]):
            problems.append("too few voters")
        return problems

    def limit_problem(self, transfers: tuple[Transfer, ...], now: int) -> str | None:
        totals: dict[Principal, int] = {}
        for transfer in transfers:
            totals[transfer.ledger] = totals.get(transfer.ledger, 0) + transfer.amount
        for ledger, total in totals.items():
            limit = self.limits.get(ledger)
            if limit is not None and self.spent_today(ledger, now) + total > limit:
                return "daily limit"
        return None

    # -- transitions ------------------------------------------------------------------------------

    def tally(self, ballot: Ballot, now: int) -> None:
        """An open proposal against the wallet as it is: any is Rejected once the voters who
        have not rejected it cannot reach its threshold; else a pending one is Approved at its
        threshold, and an approved one that falls short of it is Pending again."""
        if ballot.status not in OPEN:
            return
        required = self.required(ballot.action)
        enough = self.counted(ballot.approvals) >= required
        if self.voters - self.counted(ballot.rejections) < required:
            ballot.status, ballot.finished_at = Status.REJECTED, now
        elif ballot.status is Status.PENDING and enough:
            ballot.status, ballot.approved_at = Status.APPROVED, now
        elif ballot.status is not Status.PENDING and not enough:
            ballot.status, ballot.approved_at = Status.PENDING, None

    def time_reaches(self, now: int) -> None:
        for ballot in self.ballots:
            if ballot.status not in OPEN:
                continue
            if now >= ballot.expires_at:
                ballot.status, ballot.finished_at = Status.EXPIRED, ballot.expires_at
            elif ballot.status is Status.APPROVED:
                assert ballot.approved_at is not None
                if now >= ballot.approved_at + TIMELOCK:
                    ballot.status = Status.EXECUTABLE
        if self.retry_at is not None and now >= self.retry_at:
            self.retry_at = None

    def propose(self, proposer: Principal, action: object, now: int) -> Any:
        if not self.votes(proposer):
            return Err(NotASigner(proposer))
        if self.problems(action):
            return InvalidProposal
        ballot = Ballot(
            id=len(self.ballots), action=action, proposer=proposer, created_at=now,
            threshold=self.required(action), approvals={proposer},
        )  # fmt: skip
        self.tally(ballot, now)
        self.ballots.append(ballot)
        return Ok(ballot.id)

    def vote(self, voter: Principal, proposal_id: int, now: int, *, approve: bool) -> Any:
        if not self.votes(voter):
            return Err(NotASigner(voter))
        if not 0 <= proposal_id < len(self.ballots):
            return Err(UnknownProposal(proposal_id))
        ballot = self.ballots[proposal_id]
        if ballot.status.final:
            return Err(ProposalClosed(proposal_id, ballot.status))
        if voter in ballot.approvals or voter in ballot.rejections:
            return Err(AlreadyVoted(proposal_id))
        (ballot.approvals if approve else ballot.rejections).add(voter)
        self.tally(ballot, now)
        return Ok(ballot.status)

    def refusal(self, executor: Principal, proposal_id: int) -> Any:
        """The error ``execute`` must answer before anything runs, or ``None``."""
        if not self.votes(executor):
            return NotASigner(executor)
        if not 0 <= proposal_id < len(self.ballots):
            return UnknownProposal(proposal_id)
        ballot = self.ballots[proposal_id]
        if ballot.status.final:
            return ProposalClosed(proposal_id, ballot.status)
        if ballot.status is not Status.EXECUTABLE:
            at = None if ballot.approved_at is None else ballot.approved_at + TIMELOCK
            return NotExecutable(proposal_id, ballot.status, at)
        if self.frozen and not isinstance(ballot.action, Unfreeze):
            return InvalidProposal
        have, need = self.counted(ballot.approvals), self.required(ballot.action)
        if have < need:
            return NotEnoughApprovals(proposal_id, have, need)
        return None

    def pay(self, ballot: Ballot, now: int, balance: int, next_block: int, faults: int) -> int:
        """Pay a proposal's transfers as the ledger will: refused when the balance does not
        cover amount and fee (or the ledger does not exist). A fault armed on the ICP ledger
        rejects or traps the first request, and the wallet sends the identical request again,
        which runs. Each payment carries the transfer's memo or, without one, the wallet's
        memo for it. Returns how many faults fired."""
        paid: list[tuple[Transfer, int | None]] = []
        fired = 0
        for index, transfer in enumerate(transfers_in(ballot.action)):
            block = None
            if transfer.ledger == ICP_LEDGER and fired < faults:
                fired += 1
            if transfer.ledger == ICP_LEDGER and balance >= transfer.amount + LEDGER_FEE:
                block, next_block = next_block, next_block + 1
                balance -= transfer.amount + LEDGER_FEE
                memo = sent_memo(ballot.id, index, transfer)
                self.payments.append((transfer.to, transfer.amount, memo))
                window_amount = self.spent_today(transfer.ledger, now) + transfer.amount
                self.spent[transfer.ledger] = (now // DAY_NS, window_amount)
            paid.append((transfer, block))
        ballot.paid = tuple(paid)
        refused = [i for i, (_, block) in enumerate(paid) if block is None]
        if refused:
            ballot.status = Status.FAILED
            ballot.failure = f"transfer {refused[0]} of {len(paid)} failed"
        return fired

    def apply(self, action: object, now: int) -> bool:
        """Carry out an executed change and tally every pending proposal against the wallet it
        leaves; whether the factory has to be told."""
        before, was_public = dict(self.roles), self.is_public
        match action:
            case (
                AddSigner(principal=principal, role=role)
                | ChangeRole(principal=principal, role=role)
            ):
                self.roles[principal] = role
            case AddObserver(principal=principal):
                self.roles[principal] = Role.OBSERVER
            case RemoveSigner(principal=principal) | RemoveObserver(principal=principal):
                del self.roles[principal]
            case ChangeThreshold(threshold=threshold):
                self.threshold = threshold
            case SetPolicy(kind=kind, threshold=threshold):
                if threshold is None:
                    del self.policies[kind]
                else:
                    self.policies[kind] = threshold
            case SetDailyLimit(ledger=ledger, amount=amount):
                if amount is None:
                    del self.limits[ledger]
                else:
                    self.limits[ledger] = amount
            case Freeze():
                self.frozen = True
            case Unfreeze():
                self.frozen = False
            case ChangeVisibility(is_public=is_public):
                self.is_public = is_public
        for ballot in self.ballots:
            self.tally(ballot, now)
        return self.is_public != was_public or any(
            indexed(before.get(p)) != indexed(self.roles.get(p)) for p in CANDIDATES
        )


def sent_memo(proposal_id: int, index: int, transfer: Transfer) -> bytes:
    """The memo of a transfer's ledger request: its own, or one naming the proposal and its
    place in it (unique to the wallet, so the ledger can deduplicate the request)."""
    if transfer.memo is not None:
        return transfer.memo
    return memo_of(f"multisig transfer {proposal_id} {index}")


def transfer_problems(transfer: Transfer) -> list[str]:
    problems = []
    if not transfer.ledger.is_canister:
        problems.append("not a ledger")
    if not 0 < transfer.amount <= MAX_AMOUNT:
        problems.append("amount out of range")
    if transfer.memo is not None and len(transfer.memo) > MAX_MEMO:
        problems.append("memo too long")
    return problems


# -- strategies ---------------------------------------------------------------------------------

POLICY_KINDS = (
    Kind.TRANSFER, Kind.BATCH_TRANSFER, Kind.ADD_SIGNER, Kind.SET_POLICY, Kind.CHANGE_THRESHOLD,
    Kind.UNFREEZE,
)  # fmt: skip

candidates = st.sampled_from(CANDIDATES)
limit_ledgers = st.sampled_from([ICP_LEDGER, ICP_LEDGER, NO_LEDGER, ALICE])
limits = st.sampled_from([None, 20 * E8S, E8S, 50 * E8S, 0])
roles = st.sampled_from(list(Role))
accounts = st.builds(Account, candidates, st.sampled_from([None, b"\x07" * 32]))
amounts = st.sampled_from(
    [1, LEDGER_FEE, E8S, E8S, 10 * E8S, 10 * E8S, 45 * E8S, FUNDING - LEDGER_FEE, FUNDING,
     2**64, MAX_AMOUNT, 0, MAX_AMOUNT + 1]
)  # fmt: skip
"""Mostly affordable, some only once, some never, some invalid."""
transfers = st.builds(
    Transfer,
    ledger=st.sampled_from([ICP_LEDGER] * 9 + [NO_LEDGER]),
    to=accounts,
    amount=amounts,
    memo=st.sampled_from([None, None, b"", b"m" * MAX_MEMO, b"m" * (MAX_MEMO + 1)]),
)
payments = st.one_of(
    transfers, st.builds(BatchTransfer, st.lists(transfers, min_size=1, max_size=3).map(tuple))
)


def actions_for(model: Model) -> st.SearchStrategy[Any]:
    """Any kind of action, its principals and values drawn mostly where it could be valid
    against the wallet as the model has it (a newcomer for AddSigner, a voter for RemoveSigner,
    a threshold up to the voters…), else anywhere."""
    members = sorted(model.roles)
    voters = [p for p in members if model.votes(p)]
    observers = [p for p in members if model.roles[p] is Role.OBSERVER]
    strangers = [p for p in CANDIDATES if p not in model.roles]
    counts = st.integers(0, model.voters + 1)

    def mostly(group: list[Principal]) -> st.SearchStrategy[Principal]:
        return st.one_of(st.sampled_from(group), candidates) if group else candidates

    return st.one_of(
        st.builds(AddSigner, mostly(strangers), roles),
        st.builds(RemoveSigner, mostly(voters)),
        st.builds(ChangeRole, mostly(members), roles),
        st.builds(ChangeThreshold, counts),
        st.builds(AddObserver, mostly(strangers)),
        st.builds(RemoveObserver, mostly(observers)),
        st.builds(ChangeVisibility, st.booleans()),
        st.builds(SetPolicy, st.sampled_from(POLICY_KINDS), st.one_of(st.none(), counts)),
        st.builds(SetDailyLimit, limit_ledgers, limits),
        st.sampled_from([Unfreeze(), Freeze()]),
        payments,
    )


HAPPENINGS = (
    "propose", "propose_a_payment", "execute", "the_voters_approve", "vote", "time_passes",
)  # fmt: skip
"""The machine's behaviours, one of which each step runs."""
picks = st.integers(0, 40)
"""Which known proposal: 0 is the newest."""
faults = st.sampled_from([None, None, None, "ledger reject", "ledger trap", "factory down"])
supporters = st.sampled_from([1, 0, 2, 3])
"""How many other voters approve a proposal as soon as it is made."""
callers = st.sampled_from(range(12))
"""Who calls: mostly one of the wallet's voters as they are then, else Dave or Erin (not voters
at first)."""
unknown = st.sampled_from([False] * 7 + [True])
seconds = st.one_of(
    st.sampled_from([0, 1, 59, 61, 3599, 3600, 3601]),
    st.integers(0, 2 * 3600),
    st.integers(0, 2 * 3600),
    st.integers(0, 12 * 3600),
    st.integers(0, 3 * 24 * 3600),
)
"""0 s to 3 days, mostly around the 1 h timelock."""
deadlines = st.one_of(
    st.none(),
    st.tuples(picks, st.sampled_from([False, False, False, True]), st.sampled_from([-1, 0, 1])),
)
"""(which proposal, its expiry or else its timelock's end, offset in ns) or ``None``."""


class WalletMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        world = deployed()
        self.ic, self.system, self.wallet_id = world.ic, world.system, world.wallet_id
        self.first_block = world.blocks
        self.ic.restore(world.snapshot)
        self.model = Model()
        self.reader = self.ic.actor(self.wallet_id, self.system.multisig_factory.id)
        """Reads as the factory, which a private wallet answers whoever its members are."""

    # -- harness ------------------------------------------------------------------------------

    def _wallet(self, caller: Principal) -> Any:
        return self.ic.actor(self.wallet_id, caller)

    def _caller(self, pick: int) -> Principal:
        voters = [p for p in CANDIDATES if self.model.votes(p)]
        return voters[pick % len(voters)] if pick < 10 else CANDIDATES[pick - 7]

    def _proposal_id(
        self, pick: int, unknown: bool = False, prefer: frozenset[Status] = OPEN
    ) -> int:
        """Mostly a proposal of a ``prefer`` status (0: the newest), sometimes any, or an
        unknown id."""
        ballots = self.model.ballots
        if unknown or not ballots:
            return len(ballots) if pick % 2 == 0 else -1
        preferred = [b.id for b in ballots if b.status in prefer]
        ids = preferred if preferred and pick % 4 != 3 else [b.id for b in ballots]
        return ids[-1 - pick % len(ids)]

    def _check(self, result: Any, expected: Any) -> None:
        if expected is InvalidProposal:
            assert isinstance(result, Err) and isinstance(result.error, InvalidProposal), result
            assert result.error.reasons, result
        else:
            assert result == expected

    # -- what happens -----------------------------------------------------------------------------

    @initialize(data=st.data(), count=st.integers(0, 4))
    def a_few_proposals_are_open(self, data: st.DataObject, count: int) -> None:
        for _ in range(count):
            self.propose(data, st.one_of(payments, actions_for(self.model)))

    @rule(data=st.data())
    def something_happens(self, data: st.DataObject) -> None:
        """One rule draws what happens next (hypothesis's swarm testing turns whole rules off
        for an example; one rule keeps every behaviour in every example)."""
        happening = data.draw(st.sampled_from(HAPPENINGS), label="happening")
        getattr(self, happening)(data)

    def propose(self, data: st.DataObject, kinds: st.SearchStrategy[Any] | None = None) -> None:
        """A candidate proposes any kind of action; if it is made, ``support`` other voters
        approve it at once."""
        proposer = self._caller(data.draw(callers, label="proposer"))
        action = data.draw(actions_for(self.model) if kinds is None else kinds, label="action")
        support = data.draw(supporters, label="support")
        result = self._wallet(proposer).propose(action)
        expected = self.model.propose(proposer, action, self.ic.time)
        event(f"propose {type(action).__name__}: {'Ok' if isinstance(expected, Ok) else 'Err'}")
        self._check(result, expected)
        if isinstance(expected, Ok):
            self._approve(self.model.ballots[expected.value], support)

    def propose_a_payment(self, data: st.DataObject) -> None:
        self.propose(data, payments)

    def vote(self, data: st.DataObject) -> None:
        """A candidate approves or rejects a proposal (or an unknown id)."""
        voter = self._caller(data.draw(callers, label="voter"))
        pick, is_unknown = data.draw(picks, label="pick"), data.draw(unknown, label="unknown")
        proposal_id = self._proposal_id(pick, is_unknown)
        approve = data.draw(st.booleans(), label="approve")
        wallet = self._wallet(voter)
        result = wallet.approve(proposal_id) if approve else wallet.reject(proposal_id)
        expected = self.model.vote(voter, proposal_id, self.ic.time, approve=approve)
        event(f"{'approve' if approve else 'reject'}: {expected}"[:40])
        assert result == expected

    def the_voters_approve(self, data: st.DataObject) -> None:
        """Each voter who has not voted approves a proposal, in turn, while it is pending."""
        pick = data.draw(picks, label="pick")
        if self.model.ballots:
            ballot = self.model.ballots[self._proposal_id(pick, prefer=PENDING)]
            self._approve(ballot, len(CANDIDATES), while_pending=True)

    def _approve(self, ballot: Ballot, count: int, while_pending: bool = False) -> None:
        """The first ``count`` voters who have not voted on ``ballot`` approve it."""
        for voter in CANDIDATES:
            if count == 0 or (while_pending and ballot.status is not Status.PENDING):
                return
            if not self.model.votes(voter) or voter in ballot.approvals | ballot.rejections:
                continue
            result = self._wallet(voter).approve(ballot.id)
            assert result == self.model.vote(voter, ballot.id, self.ic.time, approve=True)
            count -= 1

    def execute(self, data: st.DataObject) -> None:
        """A candidate executes a proposal (or an unknown id), having waited for the end of its
        timelock if ``wait``, maybe while the ICP ledger rejects or traps the next transfer or
        the factory takes no notification."""
        executor = self._caller(data.draw(callers, label="executor"))
        pick, is_unknown = data.draw(picks, label="pick"), data.draw(unknown, label="unknown")
        proposal_id = self._proposal_id(pick, is_unknown, EXECUTABLE | APPROVED)
        if data.draw(st.booleans(), label="wait") and 0 <= proposal_id < len(self.model.ballots):
            ballot = self.model.ballots[proposal_id]
            if ballot.status is Status.APPROVED:
                assert ballot.approved_at is not None
                self._time_reaches(ballot.approved_at + TIMELOCK)
        fault = data.draw(faults, label="fault")
        if fault is None:
            self._execute(executor, proposal_id)
        elif fault == "factory down":
            factory = self.system.multisig_factory.id
            with self.ic.faults.reject(canister=factory, times=None):
                self._execute(executor, proposal_id, factory_down=True)
        else:
            install = self.ic.faults.reject if fault == "ledger reject" else self.ic.faults.trap
            with install(canister=ICP_LEDGER, method="icrc1_transfer", times=1) as armed:
                fired = self._execute(executor, proposal_id, faults=1)
            assert armed.fired == fired
            event(f"{fault} fired: {fired}")

    def _execute(
        self, executor: Principal, proposal_id: int, faults: int = 0, factory_down: bool = False
    ) -> int:
        """Execute as ``executor``, compare with the model; how many ledger faults fired."""
        model, now = self.model, self.ic.time
        balance = self.system.icp_balance(Account(self.wallet_id))
        next_block = self.system.icp_ledger.get_transaction_count()
        result = self._wallet(executor).execute(proposal_id)
        refusal = model.refusal(executor, proposal_id)
        if refusal is not None:
            event(f"execute refused: {type(refusal).__name__}")
            self._check(result, refusal if refusal is InvalidProposal else Err(refusal))
            return 0
        ballot = model.ballots[proposal_id]
        ballot.tally = (
            model.counted(ballot.approvals), model.required(ballot.action),
            model.votes(executor),
        )  # fmt: skip
        ballot.executed_by, ballot.finished_at = executor, now
        ballot.status = Status.EXECUTED
        fired = 0
        transfers = transfers_in(ballot.action)
        if model.problems(ballot.action):
            ballot.status, ballot.failure = Status.FAILED, ""
        elif limit := model.limit_problem(transfers, now):
            ballot.status, ballot.failure = Status.FAILED, limit
        elif transfers:
            fired = model.pay(ballot, now, balance, next_block, faults)
        elif model.apply(ballot.action, now) and factory_down and model.retry_at is None:
            model.retry_at = now + RETRY_NS
        event(f"execute: {ballot.status}")
        assert isinstance(result, Ok), result
        assert view_of(result.value) == ballot.view()
        assert ballot.failure is None or ballot.failure in (result.value.failure or "")
        return fired

    def time_passes(self, data: st.DataObject) -> None:
        """Time moves by some seconds, or to the nanosecond before, at or after an approved
        proposal's timelock end or an open proposal's expiry."""
        target = self.ic.time + data.draw(seconds, label="seconds") * SECOND_NS
        deadline = data.draw(deadlines, label="deadline")
        if deadline is not None:
            pick, expiry, offset = deadline
            wanted = OPEN if expiry else APPROVED
            ballots = [b for b in self.model.ballots if b.status in wanted]
            if ballots:
                ballot = ballots[-1 - pick % len(ballots)]
                if expiry or ballot.approved_at is None:
                    target = max(self.ic.time, ballot.expires_at + offset)
                else:
                    target = max(self.ic.time, ballot.approved_at + TIMELOCK + offset)
        self._time_reaches(target)

    def _time_reaches(self, target: int) -> None:
        self.ic.set_time(target)
        self.model.time_reaches(target)

    # -- invariants -------------------------------------------------------------------------------

    def _ledger_blocks(self) -> list[tuple[int, Any]]:
        """(index, block) of every block since the snapshot."""
        ledger = self.system.icp_ledger
        count = ledger.get_transaction_count()
        blocks = ledger.get_blocks(self.first_block, count - self.first_block)
        return list(enumerate(blocks, start=self.first_block))

    @invariant()
    def every_proposal_is_as_the_model_says(self) -> None:
        model = self.model
        for ballot in model.ballots:
            proposal = self.reader.get_proposal(ballot.id)
            assert proposal is not None and view_of(proposal) == ballot.view(), ballot.id
        assert self.reader.get_proposal(len(model.ballots)) is None
        info = self.reader.get_wallet_info()
        now = self.ic.time
        assert info.members == tuple(sorted(model.roles.items()))
        expected = (model.threshold, model.frozen, model.is_public, len(model.ballots))
        assert (info.threshold, info.frozen, info.is_public, info.proposals) == expected
        assert info.policies == tuple(sorted(model.policies.items()))
        assert info.daily_limits == tuple(
            (ledger, limit, model.spent_today(ledger, now))
            for ledger, limit in sorted(model.limits.items())
        )
        counts = {status: 0 for status in Status}
        for ballot in model.ballots:
            counts[ballot.status] += 1
        assert info.by_status == tuple(counts.items())
        for status in Status:
            page = self.reader.get_proposals(status)
            newest_first = [b.id for b in reversed(model.ballots) if b.status is status]
            assert [proposal.id for proposal in page] == newest_first, status
        for candidate in CANDIDATES:
            readable = model.is_public or candidate in model.roles
            answer = self._wallet(candidate).get_wallet_info()
            assert (answer is not None) == readable, candidate

    @invariant()
    def the_balance_is_the_funding_less_what_was_paid(self) -> None:
        account = Account(self.wallet_id)
        blocks = self._ledger_blocks()
        outgoing = [block for _, block in blocks if block.from_ == account]
        assert not [block for _, block in blocks if block.to == account]
        assert all(block.kind == "transfer" and block.fee == LEDGER_FEE for block in outgoing)
        paid = sum(block.amount + block.fee for block in outgoing)
        assert self.system.icp_balance(account) == FUNDING - paid
        assert [(b.to, b.amount, b.memo) for b in outgoing] == self.model.payments

    @invariant()
    def executed_proposals_had_their_approvals(self) -> None:
        for ballot in self.model.ballots:
            if ballot.status is Status.EXECUTED:
                assert ballot.tally is not None
                approvals, required, executor_voted = ballot.tally
                assert approvals >= required and executor_voted, ballot

    @invariant()
    def the_factory_indexes_exactly_the_members(self) -> None:
        pending = self._wallet(ERIN).get_contract_meta().pending_notifications
        assert (pending > 0) == (self.model.retry_at is not None)
        if pending:
            return
        factory = self.system.multisig_factory
        for candidate in CANDIDATES:
            entries = [
                entry for entry in factory.as_caller(candidate).get_my_contracts(candidate)
                if entry.info.id == self.wallet_id
            ]  # fmt: skip
            held = set(entries[0].roles) if entries else set()
            assert ("creator" in held) == (candidate == ALICE)
            assert held - {"creator"} == indexed(self.model.roles.get(candidate)), candidate
            if entries:
                assert entries[0].info.is_public == self.model.is_public

    @invariant()
    def no_proposal_is_paid_twice(self) -> None:
        account = Account(self.wallet_id)
        blocks = self._ledger_blocks()
        by_index = dict(blocks)
        outgoing = {index for index, block in blocks if block.from_ == account}
        claimed: list[int] = []
        for ballot in self.model.ballots:
            proposal = self.reader.get_proposal(ballot.id)
            if proposal.status is Status.EXECUTED and transfers_in(proposal.action):
                assert len(proposal.outcomes) == len(transfers_in(proposal.action))
                assert all(outcome.block is not None for outcome in proposal.outcomes)
            for index, outcome in enumerate(proposal.outcomes):
                assert not outcome.in_doubt
                if outcome.block is None:
                    assert outcome.error is not None
                    continue
                assert outcome.block in by_index, outcome
                block = by_index[outcome.block]
                paid = outcome.transfer
                assert block.from_ == account
                memo = sent_memo(proposal.id, index, paid)
                assert (block.to, block.amount, block.memo) == (paid.to, paid.amount, memo)
                assert block.created_at_time == outcome.created_at
                claimed.append(outcome.block)
        assert len(claimed) == len(set(claimed))
        assert set(claimed) == outgoing


WalletMachine.TestCase.settings = settings(stateful_step_count=30, deadline=None)
TestMultisigWallet = WalletMachine.TestCase


# -- the basic transitions, with exact values ---------------------------------------------------


@pytest.fixture
def world() -> Deployed:
    world = deployed()
    world.ic.restore(world.snapshot)
    return world


def test_a_two_of_three_transfer_waits_out_its_timelock_then_pays_exactly_the_amount(
    world: Deployed,
) -> None:
    ic, system = world.ic, world.system
    alice, bob = ic.actor(world.wallet_id, ALICE), ic.actor(world.wallet_id, BOB)
    to = Account(ERIN)
    proposal_id = alice.propose(Transfer(ICP_LEDGER, to, 7 * E8S)).unwrap()
    created = ic.time
    assert alice.get_proposal(proposal_id).status is Status.PENDING
    assert alice.execute(proposal_id) == Err(NotExecutable(proposal_id, Status.PENDING, None))

    ic.advance_time(minutes=5)
    approved = ic.time
    assert bob.approve(proposal_id) == Ok(Status.APPROVED)
    proposal = alice.get_proposal(proposal_id)
    assert proposal.status is Status.APPROVED and proposal.approved_at == approved
    assert proposal.approvals == SortedSet((ALICE, BOB))
    assert (proposal.created_at, proposal.expires_at) == (created, created + LIFETIME)
    assert bob.execute(proposal_id) == Err(
        NotExecutable(proposal_id, Status.APPROVED, approved + TIMELOCK)
    )
    ic.set_time(approved + TIMELOCK - 1)
    assert alice.get_proposal(proposal_id).status is Status.APPROVED
    ic.set_time(approved + TIMELOCK)
    assert alice.get_proposal(proposal_id).status is Status.EXECUTABLE

    executed = bob.execute(proposal_id).unwrap()
    assert executed.status is Status.EXECUTED and executed.failure is None
    assert (executed.executed_by, executed.finished_at) == (BOB, approved + TIMELOCK)
    (outcome,) = executed.outcomes
    assert outcome.block == world.blocks
    assert system.icp_balance(to) == 7 * E8S
    assert system.icp_balance(Account(world.wallet_id)) == FUNDING - 7 * E8S - LEDGER_FEE
    assert bob.execute(proposal_id) == Err(ProposalClosed(proposal_id, Status.EXECUTED))
    assert system.icp_ledger.get_transaction_count() == world.blocks + 1


def test_once_the_threshold_is_out_of_reach_the_proposal_is_rejected_for_good(
    world: Deployed,
) -> None:
    ic = world.ic
    alice, bob, carol = (ic.actor(world.wallet_id, p) for p in (ALICE, BOB, CAROL))
    proposal_id = alice.propose(AddObserver(ERIN)).unwrap()
    assert bob.reject(proposal_id) == Ok(Status.PENDING)
    assert bob.approve(proposal_id) == Err(AlreadyVoted(proposal_id))
    ic.advance_time(seconds=30)
    assert carol.reject(proposal_id) == Ok(Status.REJECTED)
    proposal = alice.get_proposal(proposal_id)
    assert proposal.status is Status.REJECTED and proposal.finished_at == ic.time
    assert proposal.rejections == SortedSet((BOB, CAROL))
    assert alice.approve(proposal_id) == Err(ProposalClosed(proposal_id, Status.REJECTED))
    assert alice.execute(proposal_id) == Err(ProposalClosed(proposal_id, Status.REJECTED))
    ic.advance_time(days=3)
    assert alice.get_proposal(proposal_id).status is Status.REJECTED
    assert ERIN not in dict(alice.get_wallet_info().members)


def test_a_proposal_expires_exactly_at_its_creation_plus_the_lifetime(world: Deployed) -> None:
    ic = world.ic
    alice, bob, carol = (ic.actor(world.wallet_id, p) for p in (ALICE, BOB, CAROL))
    proposal_id = alice.propose(ChangeThreshold(3)).unwrap()
    created = ic.time
    ic.set_time(created + LIFETIME - 1)
    assert alice.get_proposal(proposal_id).status is Status.PENDING
    assert bob.approve(proposal_id) == Ok(Status.APPROVED)
    assert alice.execute(proposal_id) == Err(
        NotExecutable(proposal_id, Status.APPROVED, created + LIFETIME - 1 + TIMELOCK)
    )
    ic.advance_time(nanos=1)
    proposal = alice.get_proposal(proposal_id)
    assert (proposal.status, proposal.finished_at) == (Status.EXPIRED, created + LIFETIME)
    assert carol.approve(proposal_id) == Err(ProposalClosed(proposal_id, Status.EXPIRED))
    assert alice.execute(proposal_id) == Err(ProposalClosed(proposal_id, Status.EXPIRED))
    assert alice.get_wallet_info().threshold == 2


def test_a_transfer_the_ledger_refuses_fails_for_good_and_moves_nothing(world: Deployed) -> None:
    """The ledger rejects the transfer and its identical resend before running either; its log
    shows it never ran, so the proposal fails (nothing moved)."""
    ic, system = world.ic, world.system
    alice, bob = ic.actor(world.wallet_id, ALICE), ic.actor(world.wallet_id, BOB)
    proposal_id = alice.propose(Transfer(ICP_LEDGER, Account(ERIN), 5 * E8S)).unwrap()
    bob.approve(proposal_id).unwrap()
    ic.advance_time(hours=1)
    with ic.faults.reject(canister=ICP_LEDGER, method="icrc1_transfer", times=None) as fault:
        failed = alice.execute(proposal_id).unwrap()
    assert fault.fired == 2
    assert failed.status is Status.FAILED and failed.executed_by == ALICE
    assert failed.failure is not None and failed.failure.startswith("transfer 0 of 1 failed")
    (outcome,) = failed.outcomes
    assert outcome.block is None and not outcome.in_doubt
    assert "never ran" in str(outcome.error)
    assert bob.execute(proposal_id) == Err(ProposalClosed(proposal_id, Status.FAILED))
    assert system.icp_balance(Account(world.wallet_id)) == FUNDING
    assert system.icp_balance(ERIN) == 0
    assert system.icp_ledger.get_transaction_count() == world.blocks


def test_an_approved_proposal_that_can_no_longer_pass_is_rejected(world: Deployed) -> None:
    """Bob approves a payment and Carol rejects it; then the threshold rises to 3 of 3: the
    voters who have not rejected it (2) can no longer reach 3, so it is Rejected at once rather
    than left Executable until it expires."""
    ic = world.ic
    alice, bob, carol = (ic.actor(world.wallet_id, p) for p in (ALICE, BOB, CAROL))
    payment = alice.propose(Transfer(ICP_LEDGER, Account(ERIN), E8S)).unwrap()
    assert bob.approve(payment) == Ok(Status.APPROVED)
    assert carol.reject(payment) == Ok(Status.APPROVED)
    raise_threshold = alice.propose(ChangeThreshold(3)).unwrap()
    bob.approve(raise_threshold).unwrap()
    ic.advance_time(hours=1)
    assert alice.execute(raise_threshold).unwrap().status is Status.EXECUTED
    proposal = alice.get_proposal(payment)
    assert (proposal.status, proposal.finished_at) == (Status.REJECTED, ic.time)
    assert alice.execute(payment) == Err(ProposalClosed(payment, Status.REJECTED))
