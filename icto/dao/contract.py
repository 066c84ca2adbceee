"""``DAO``: token-weighted governance with staking, delegation, snapshotted voting power, a
timelock and a treasury kept apart from the stakes.

Accounts on the governance token's ledger: stakes in the staking subaccount (its balance is
exactly the sum of the active stakes), proposal deposits in the deposits subaccount, and the
treasury in the DAO's default account (anyone funds it by sending to the DAO's id).

A proposal snapshots the voting power when it is submitted: it keeps a reference to the
persistent power maps as they were (``icto.dao.voting``), so submitting, voting and tallying cost
the same with 10 or 100,000 members, and stakes or delegations made later do not count for it.
A timer decides it at the end of its voting period: Accepted (quorum and approval reached, the
timelock starts) or Rejected; the deposit is returned (less one ledger fee) unless the proposal
was rejected with quorum reached. After the timelock anyone may execute it, once.

Money moves only through the ledger. An outgoing transfer is recorded before the call and the
record is undone only if the transfer never ran, so no interleaving of messages pays twice. A
stake is recorded after its ``icrc2_transfer_from`` has landed, so no snapshot ever sees power
that was not paid for. A reject does not prove that nothing ran (a platform token commits a
transfer before it tells its factory, and can fail after): every request carries a memo numbered
by the DAO and a ``created_at_time``, is journalled in ``state.requests`` before it is sent, and
a reject is followed by the identical request, which the ledger runs or answers ``Duplicate``;
rejected twice, the ledger's log tells. One whose outcome stays in doubt stays counted as made
and is sent again, identical, by ``settle_transfers()`` (or the call that made it).
"""

from __future__ import annotations

from typing import Any, Final

from icto.collections import SortedSet
from icto.collections.records import evolve
from icto.collections.vector import Vector, newest_first
from icto.dao.config import (
    MAX_AMOUNT,
    MAX_LOCK,
    DAOConfig,
    multiplier_for,
    validate_dao_config,
    voting_power,
)
from icto.dao.types import (
    DEPOSITS_SUBACCOUNT,
    MEMBER,
    STAKING_SUBACCOUNT,
    TREASURY_SUBACCOUNT,
    Action,
    AlreadyVoted,
    Balances,
    DAOError,
    DAOState,
    DAOStats,
    DepositPull,
    DepositReturn,
    DepositStatus,
    EmergencyPause,
    EmergencyUnpause,
    InsufficientVotingPower,
    InvalidRequest,
    LedgerRequest,
    MemberInfo,
    Motion,
    NotEmergencyContact,
    NotYet,
    NoVotingPower,
    Paused,
    Proposal,
    ProposalInfo,
    ProposalStatus,
    Purpose,
    Stake,
    StakePayout,
    StakePull,
    StillLocked,
    TallyView,
    TransferFailed,
    TreasuryPayout,
    TreasuryTransfer,
    UnknownProposal,
    UnknownStake,
    UpdateParams,
    WrongStatus,
)
from icto.dao.voting import (
    Choice,
    Vote,
    approved,
    cast_vote,
    delegated,
    delegation_problem,
    quorum_reached,
    undelegated,
    voting_power_at,
    with_stake,
)
from icto.factory.base import check_page
from icto.factory.contract import FactoryContract
from icto.factory.types import DEFAULT_PAGE, ContractInit, Page
from icto.ic.account import Account
from icto.ic.canister import query, update
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.ic.world import AWAIT_GIVEN_UP_NS, MAX_TIME
from icto.ledger.client import LedgerFailure, due_first, fee_of, memo_of, settle_or_look_up
from icto.ledger.types import U64_MAX, TransferArgs, TransferFromArgs
from icto.validation import (
    NotIdentified,
    identified_problem,
    is_nat,
    require_identified,
    text_problem,
)

MAX_MOTION: Final = 10_000
SETTLE_BATCH: Final = 20
"""Ledger requests ``settle_transfers`` settles per message."""
_NONE: SortedSet[int] = SortedSet()



class DAO(FactoryContract):
    """The DAO contract (installed by the DAO Factory)."""

    VERSION = "1.0.0"

    state: DAOState

    def init(self, arg: ContractInit) -> None:
        arg = self.checked_init(arg, validate_dao_config)
        self.state = DAOState(
            meta=self.new_meta(arg.owner, arg.config.is_public), config=arg.config,
            proposals=Vector(),
        )  # fmt: skip

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Keep everything; an upgrade clears timers, so each open proposal's end is re-armed.
        No message awaits across an upgrade: unsettled ledger requests may be settled at once."""
        super().post_upgrade(stable, arg)
        proposals = self.state.proposals
        for proposal_id in self.state.by_status.get(ProposalStatus.OPEN, _NONE):
            proposal = proposals[proposal_id]
            timer = self.set_timer(max(0, proposal.ends_at - self.time), "_end_voting", proposal_id)
            proposals = proposals.set(proposal_id, evolve(proposal, timer=timer))
        requests = self.state.requests
        for nonce, request in self.state.requests.items():
            requests = requests.set(nonce, evolve(request, settle_from=self.time))
        self.state = evolve(self.state, proposals=proposals, requests=requests)

    def has_role(self, user: Principal, role: str) -> bool:
        return role == MEMBER and user in self.state.stakes_by_owner

    @property
    def config(self) -> DAOConfig:
        config: DAOConfig = self.state.config
        return config

    @property
    def _token(self) -> Principal:
        token = self.config.token
        assert token is not None, "a deployed DAO's config names its token"
        return token

    # -- ledger ---------------------------------------------------------------------------------

    def _fee(self, ledger: Principal) -> int | str:
        return fee_of(self, ledger)

    def _journal(self, ledger: Principal, args: Any, purpose: Purpose) -> int:
        """Journal a new ledger request before it is sent, ``args`` given a memo numbered by
        the DAO and a ``created_at_time``, so the ledger tells a resend from a new request. A
        treasury transfer may name its own memo: its time is later than the last one's. Its
        nonce."""
        state = self.state
        nonce, at = state.nonce, self.time
        if isinstance(purpose, TreasuryPayout):
            at = max(at, state.treasury_sent_at + 1)
            state = evolve(state, treasury_sent_at=at)
        memo = memo_of(f"dao request {nonce}") if args.memo is None else args.memo
        request = LedgerRequest(
            ledger, evolve(args, memo=memo, created_at_time=at), purpose,
            self.time + AWAIT_GIVEN_UP_NS,
        )  # fmt: skip
        self.state = evolve(state, nonce=nonce + 1, requests=state.requests.set(nonce, request))
        return nonce

    def _settle(self, nonce: int) -> tuple[int | LedgerFailure, Any]:
        """Send a journalled request (no other message sends it meanwhile) and apply its
        outcome once known: the outcome, and what applying it made (``_apply``). One left in
        doubt stays journalled, counted as made, for the identical request later."""
        request: LedgerRequest = self.state.requests[nonce]
        self._put_request(nonce, evolve(request, settle_from=self.time + AWAIT_GIVEN_UP_NS))
        outcome = self._outcome(request)
        if isinstance(outcome, LedgerFailure) and outcome.in_doubt:
            self.log(f"ledger request {nonce} is in doubt: {outcome.reason}")
            left = self.state.requests.get(nonce)
            if left is not None:
                left = evolve(left, settle_from=self.time)
                self._put_request(nonce, left)
                self._left_in_doubt(nonce, left, outcome.reason)
            return outcome, None
        made = self._apply(nonce, outcome)
        if isinstance(outcome, LedgerFailure) and self.state.nonce == nonce + 1:
            self.state = evolve(self.state, nonce=nonce)  # it never ran: its number is free
        return outcome, made

    def _put_request(self, nonce: int, request: LedgerRequest) -> None:
        self.state = evolve(self.state, requests=self.state.requests.set(nonce, request))

    def _outcome(self, request: LedgerRequest) -> int | LedgerFailure:
        """Send ``request`` (and the identical request after a reject) and say what happened:
        its block, a failure (it never ran), or in doubt (``settle_or_look_up``)."""
        args = request.args
        pull = isinstance(args, TransferFromArgs)
        method = "icrc2_transfer_from" if pull else "icrc1_transfer"
        payer = args.from_ if pull else None
        return settle_or_look_up(self, request.ledger, method, args, payer, args.to)

    def _apply(self, nonce: int, outcome: int | LedgerFailure) -> Any:
        """Apply a journalled request's known outcome, once (the first message to learn it):
        the stake recorded or the proposal opened by a pull that landed; a payout that never
        ran is undone. What it made, or ``None``."""
        request = self.state.requests.get(nonce)
        if request is None:
            return None
        self.state = evolve(self.state, requests=self.state.requests.delete(nonce))
        landed = not isinstance(outcome, LedgerFailure)
        purpose, args = request.purpose, request.args
        if isinstance(purpose, StakePull):
            return self._record_stake(args.from_.owner, args.amount, purpose) if landed else None
        if isinstance(purpose, DepositPull):
            return self._open(args.from_.owner, purpose, args.amount) if landed else None
        if isinstance(purpose, StakePayout):
            if not landed:
                self._restore(purpose)
            elif not purpose.closed:
                self._left(purpose.stake.owner)
            return None
        proposal = self.state.proposals[purpose.proposal_id]
        if isinstance(purpose, DepositReturn):
            if landed:
                self._save(proposal, evolve(proposal, deposit_status=DepositStatus.RETURNED))
            else:
                self._save(proposal, evolve(proposal, deposit_status=DepositStatus.OWED))
                held = self.state.deposits_held + proposal.deposit
                self.state = evolve(self.state, deposits_held=held)
            return None
        action = proposal.action
        if landed:
            self._finish(proposal.id, True, f"sent {action.amount} to {action.to} (block "
                                            f"{outcome})")  # fmt: skip
        else:
            assert isinstance(outcome, LedgerFailure)
            self._count_paid(request.ledger, -purpose.debit)
            self._finish(proposal.id, False, outcome.reason)
        return None

    def _left_in_doubt(self, nonce: int, request: LedgerRequest, reason: str) -> None:
        """A payout left in doubt counts as made: an unstake's owner leaves if it was its last
        stake; a treasury transfer's proposal says so (it stays Executing)."""
        purpose = request.purpose
        if isinstance(purpose, StakePayout) and not purpose.closed:
            self._put_request(nonce, evolve(request, purpose=evolve(purpose, closed=True)))
            self._left(purpose.stake.owner)
        elif isinstance(purpose, TreasuryPayout):
            proposal = self.state.proposals[purpose.proposal_id]
            outcome = (f"{reason}; in doubt, counted as paid: execute({proposal.id}) sends the "
                       f"same request again")  # fmt: skip
            self._save(proposal, evolve(proposal, outcome=outcome))

    def _due(self, purpose: type, subject: int) -> int | None:
        """The nonce of a journalled request for ``purpose`` about ``subject`` (a stake's or a
        proposal's id) that may be sent again now, if any."""
        now = self.time
        for nonce, request in self.state.requests.items():
            kept = request.purpose
            if not isinstance(kept, purpose) or request.settle_from > now:
                continue
            if isinstance(kept, StakePayout):
                about = kept.stake.id
            elif isinstance(kept, DepositReturn | TreasuryPayout):
                about = kept.proposal_id
            else:
                continue
            if about == subject:
                return int(nonce)
        return None

    @update
    def settle_transfers(self) -> int:
        """Anyone: settle ledger requests that no message will settle (left in doubt, or their
        message trapped ``AWAIT_GIVEN_UP_NS`` ago), up to ``SETTLE_BATCH``: each sent again,
        identical, so the ledger runs it or answers ``Duplicate``; past its window its log
        tells. The longest due first: one still in doubt after its resend goes to the back, so
        requests that stay in doubt never keep the others waiting. How many are still
        unsettled."""
        for nonce in due_first(self.state.requests, self.time, SETTLE_BATCH):
            request = self.state.requests.get(nonce)
            if request is not None and request.settle_from <= self.time:
                self._settle(nonce)
        return len(self.state.requests)

    @staticmethod
    def _failed(failure: LedgerFailure, then: str) -> Err[DAOError]:
        """The answer to a request that failed; one in doubt says ``then``: what follows."""
        if not failure.in_doubt:
            return Err(TransferFailed(failure.reason))
        return Err(TransferFailed(f"{failure.reason}; whether it ran is unknown: {then}"))

    # -- staking --------------------------------------------------------------------------------

    @update
    def stake(self, amount: int, lock_duration: int = 0) -> Ok[Stake] | Err[DAOError]:
        """Lock ``amount`` for ``lock_duration`` ns: pulled by ``icrc2_transfer_from`` into the
        staking subaccount (approve the DAO for amount + one ledger fee). Its voting power is
        amount x the multiplier of the largest tier whose duration ≤ the lock. A pull left in
        doubt is settled by ``settle_transfers()``, which records the stake if it landed."""
        user = self.caller
        refused = require_identified(user, "member")
        if refused is not None:
            return Err(refused.error)
        if self._paused():
            return Err(Paused())
        config = self.config
        problems = []
        if not is_nat(amount) or not config.minimum_stake <= amount <= U64_MAX:
            problems.append(f"amount must be an int from {config.minimum_stake} to 2**64 - 1 "
                            f"(one approval's most)")  # fmt: skip
        if not is_nat(lock_duration) or lock_duration > MAX_LOCK:
            problems.append(f"lock_duration must be an int of ns from 0 to {MAX_LOCK}")
        elif self.time + lock_duration > MAX_TIME:
            problems.append("the lock would end past 2**64 - 1 ns, the IC clock's reach")
        multiplier = None if problems else multiplier_for(config.lock_tiers, lock_duration)
        if not problems and multiplier is None:
            problems.append(f"the shortest lock is {config.lock_tiers[0][0]} ns")
        if problems or multiplier is None:
            return Err(InvalidRequest(tuple(problems)))
        fee = self._fee(self._token)
        if isinstance(fee, str):
            return Err(TransferFailed(fee))
        if amount <= fee:
            return Err(InvalidRequest((f"a stake must be above the ledger fee ({fee})",)))
        if self._paused():
            return Err(Paused())
        args = TransferFromArgs(
            from_=Account(user), to=Account(self.id, STAKING_SUBACCOUNT), amount=amount
        )
        nonce = self._journal(self._token, args, StakePull(lock_duration, multiplier))
        paid, stake = self._settle(nonce)
        if isinstance(paid, LedgerFailure):
            return self._failed(paid, "settle_transfers() sends the same request again and "
                                      "records the stake if it landed")  # fmt: skip
        if stake is None:
            return Err(TransferFailed("the pull landed and settle_transfers() recorded it"))
        return Ok(stake)

    def _record_stake(self, user: Principal, amount: int, terms: StakePull) -> Stake:
        """Record a stake whose pull has landed (its lock starts now)."""
        now = self.time
        state = self.state
        stake = Stake(
            id=state.next_stake, owner=user, amount=amount,
            power=voting_power(amount, terms.multiplier_bp), multiplier_bp=terms.multiplier_bp,
            staked_at=now, unlocks_at=min(now + terms.lock_duration, MAX_TIME),
        )  # fmt: skip
        joined = user not in state.stakes_by_owner
        mine = state.stakes_by_owner.get(user, _NONE).add(stake.id)
        self.state = evolve(
            state, stakes=state.stakes.set(stake.id, stake),
            stakes_by_owner=state.stakes_by_owner.set(user, mine), next_stake=stake.id + 1,
            power=with_stake(state.power, user, stake.power), staked=state.staked + amount,
        )  # fmt: skip
        if joined:
            self.notify_role(user, MEMBER)
        return stake

    @update
    def unstake(self, stake_id: int) -> Ok[int] | Err[DAOError]:
        """Withdraw a stake of the caller's once unlocked (``now ≥ unlocks_at``): they receive
        amount - one ledger fee. The amount sent. The caller's last stake paid out, they leave:
        their own delegation ends (delegations to them stay) and the factory is told. A transfer
        that never ran puts the stake back (and tells the factory if that makes the caller a
        member again after another unstake reported them gone meanwhile). One left in doubt
        keeps the stake closed; calling again sends the same request."""
        user = self.caller
        fee = self._fee(self._token)
        if isinstance(fee, str):
            return Err(TransferFailed(fee))
        stake = self.state.stakes.get(stake_id) if is_nat(stake_id) else None
        if stake is None and is_nat(stake_id):
            nonce = self._due(StakePayout, stake_id)
            payout = None if nonce is None else self.state.requests[nonce].purpose
            if nonce is not None and isinstance(payout, StakePayout) and payout.stake.owner == user:
                return self._paid_out(nonce, stake_id)
        if stake is None or stake.owner != user:
            return Err(UnknownStake(stake_id))
        if self.time < stake.unlocks_at:
            return Err(StillLocked(stake.unlocks_at))
        if stake.amount <= fee:
            return Err(InvalidRequest((f"the stake does not cover the ledger fee ({fee})",)))
        self._withdraw(stake, -1)
        args = TransferArgs(
            to=Account(user), amount=stake.amount - fee, from_subaccount=STAKING_SUBACCOUNT,
            fee=fee,
        )  # fmt: skip
        nonce = self._journal(self._token, args, StakePayout(stake, self.meta.notifications))
        return self._paid_out(nonce, stake_id)

    def _paid_out(self, nonce: int, stake_id: int) -> Ok[int] | Err[DAOError]:
        amount: int = self.state.requests[nonce].args.amount
        sent, _ = self._settle(nonce)
        if isinstance(sent, LedgerFailure):
            return self._failed(sent, f"the stake stays closed; unstake({stake_id}) sends the "
                                      f"same request again")  # fmt: skip
        return Ok(amount)

    def _restore(self, payout: StakePayout) -> None:
        """Put back a stake whose payout never ran; if that makes its owner a member again and
        a notification went out meanwhile (its exit may have been reported), the factory hears
        it."""
        owner = payout.stake.owner
        rejoins = owner not in self.state.stakes_by_owner
        self._withdraw(payout.stake, +1)
        if rejoins and self.meta.notifications != payout.notified:
            self.notify_role(owner, MEMBER)

    def _left(self, user: Principal) -> None:
        """``user``'s stake is paid out: if it was its last, its own delegation ends and the
        factory is told."""
        if user not in self.state.stakes_by_owner:
            if user in self.state.power.delegates:
                self.state = evolve(self.state, power=undelegated(self.state.power, user))
            self.notify_role(user, MEMBER)

    def _withdraw(self, stake: Stake, sign: int) -> None:
        """Take ``stake`` out of the records (-1), or put it back after a failed transfer (+1)."""
        state = self.state
        held = state.stakes_by_owner.get(stake.owner, _NONE)
        mine = held.discard(stake.id) if sign < 0 else held.add(stake.id)
        self.state = evolve(
            state,
            stakes=state.stakes.delete(stake.id) if sign < 0 else state.stakes.set(stake.id, stake),
            stakes_by_owner=state.stakes_by_owner.set(stake.owner, mine) if mine
            else state.stakes_by_owner.delete(stake.owner),
            power=with_stake(state.power, stake.owner, sign * stake.power),
            staked=state.staked + sign * stake.amount,
        )  # fmt: skip

    # -- delegation -----------------------------------------------------------------------------

    @update
    def delegate(self, to: Principal) -> Ok[None] | Err[DAOError]:
        """Let ``to`` vote with the caller's power (and what is delegated to the caller) on
        proposals submitted from now on; replaces any earlier delegation. Only a member (with a
        stake) delegates, never to the DAO itself (it never votes, so the power would count for
        no one); no cycles; chains of at most five links."""
        for principal, role in ((self.caller, "delegator"), (to, "delegate")):
            refused = require_identified(principal, role)
            if refused is not None:
                return Err(refused.error)
        if to == self.id:
            reason = "the DAO itself cannot be a delegate: it never votes"
            return Err(NotIdentified(to, "delegate", reason))
        if self.caller not in self.state.stakes_by_owner:
            return Err(InvalidRequest(("only a member (with a stake) may delegate",)))
        problem = delegation_problem(self.state.power, self.caller, to)
        if problem is not None:
            return Err(InvalidRequest((problem,)))
        self.state = evolve(self.state, power=delegated(self.state.power, self.caller, to))
        return Ok(None)

    @update
    def undelegate(self) -> Ok[None] | Err[DAOError]:
        if self.caller not in self.state.power.delegates:
            return Err(InvalidRequest(("not delegating",)))
        self.state = evolve(self.state, power=undelegated(self.state.power, self.caller))
        return Ok(None)

    # -- proposals ------------------------------------------------------------------------------

    def _paused(self) -> bool:
        return bool(self.state.paused)

    def _blocked(self, action: object) -> bool:
        """While paused, only an unpause goes forward."""
        return self._paused() and not isinstance(action, EmergencyUnpause)

    @update
    def submit_proposal(self, action: Action) -> Ok[int] | Err[DAOError]:
        """Propose ``action``. Needs voting power (own + delegated now) ≥ the proposal threshold
        and pays the deposit by ``icrc2_transfer_from`` (approve deposit + one ledger fee).
        The voting power is snapshotted when the threshold is checked, before the deposit is
        pulled: power moved while the pull is in flight does not count. A pause landing then
        does not undo the submission: the proposal is like any other open when the DAO was
        paused. The proposal's id."""
        user = self.caller
        if self._blocked(action):
            return Err(Paused())
        problems = self._action_problems(action)
        if problems:
            return Err(InvalidRequest(problems))
        config = self.config
        if self.time + config.voting_period + config.timelock > MAX_TIME:
            return Err(InvalidRequest(("its vote and timelock would end past 2**64 - 1 ns, the "
                                       "IC clock's reach: no timer could end them",)))  # fmt: skip
        snapshot = self.state.power
        have = snapshot.subtree(user)
        if have < config.proposal_threshold:
            return Err(InsufficientVotingPower(have, config.proposal_threshold))
        terms = DepositPull(action, snapshot, config)
        deposit = config.proposal_deposit
        if not deposit:
            return Ok(self._open(user, terms, 0))
        args = TransferFromArgs(
            from_=Account(user), to=Account(self.id, DEPOSITS_SUBACCOUNT), amount=deposit
        )
        paid, proposal_id = self._settle(self._journal(self._token, args, terms))
        if isinstance(paid, LedgerFailure):
            return self._failed(paid, "settle_transfers() sends the same request again and "
                                      "submits the proposal if the deposit landed")  # fmt: skip
        if proposal_id is None:
            return Err(TransferFailed("the deposit landed and settle_transfers() submitted it"))
        return Ok(proposal_id)

    def _open(self, user: Principal, terms: DepositPull, deposit: int) -> int:
        """Open ``user``'s proposal once its deposit has landed: its id. The config and
        snapshot are those checked before the pull: an UpdateParams run meanwhile applies from
        the next proposal."""
        config = terms.config
        state = self.state
        proposal_id = len(state.proposals)
        now = self.time
        ends_at = min(now + config.voting_period, MAX_TIME)  # checked unless settled late
        timer = self.set_timer(ends_at - now, "_end_voting", proposal_id)
        proposal = Proposal(
            id=proposal_id, proposer=user, action=terms.action, submitted_at=now,
            ends_at=ends_at, quorum_bp=config.quorum_bp, approval_bp=config.approval_bp,
            timelock=config.timelock, deposit=deposit, snapshot=terms.snapshot, timer=timer,
            deposit_status=DepositStatus.HELD if deposit else DepositStatus.NONE,
        )  # fmt: skip
        self.state = evolve(
            state, proposals=state.proposals.append(proposal),
            by_status=_moved(state.by_status, proposal_id, None, ProposalStatus.OPEN),
            deposits_held=state.deposits_held + deposit,
        )  # fmt: skip
        return proposal_id

    def _action_problems(self, action: object) -> tuple[str, ...]:
        if isinstance(action, Motion):
            problem = text_problem("motion text", action.text, 1, MAX_MOTION, multiline=True)
            if problem is None and not action.text.strip():
                problem = "motion text must not be blank"
            return () if problem is None else (problem,)
        if isinstance(action, TreasuryTransfer):
            problems = _transfer_problems(action)
            to: object = action.to
            if isinstance(to, Account) and to.owner == self.id:
                problems += (
                    "the treasury cannot pay into the DAO's own accounts (only the treasury "
                    "pays out, and it would pay a fee to itself)",
                )
            return problems
        if isinstance(action, UpdateParams):
            changes = action.changes()
            if not changes:
                return ("an UpdateParams proposal changes at least one parameter",)
            return validate_dao_config(evolve(self.config, **changes))
        if isinstance(action, EmergencyPause | EmergencyUnpause):
            return ()
        return (f"an action is one of Motion, TreasuryTransfer, UpdateParams, EmergencyPause, "
                f"EmergencyUnpause; got {type(action).__name__}",)  # fmt: skip

    def _proposal(self, proposal_id: object) -> Proposal | None:
        proposals = self.state.proposals
        if not isinstance(proposal_id, int) or not is_nat(proposal_id):
            return None
        if proposal_id >= len(proposals):
            return None
        found: Proposal = proposals[proposal_id]
        return found

    def _named(self, proposal_id: object) -> Proposal | None:
        """The proposal a call names, as the caller may know it: ``None`` if there is none, or if
        the DAO is private and the caller may neither read it (``_may_read``) nor vote on it
        (power in its snapshot) nor proposed it. To such a stranger it does not exist."""
        proposal = self._proposal(proposal_id)
        if proposal is None or self._may_read():
            return proposal
        caller = self.caller
        if caller == proposal.proposer or proposal.snapshot.subtree(caller) > 0:
            return proposal
        return None

    def _save(self, before: Proposal, after: Proposal) -> None:
        state = self.state
        by_status = state.by_status
        if after.status is not before.status:
            by_status = _moved(by_status, after.id, before.status, after.status)
        self.state = evolve(
            state, proposals=state.proposals.set(after.id, after), by_status=by_status
        )

    @update
    def vote(self, proposal_id: int, choice: Choice) -> Ok[int] | Err[DAOError]:
        """Vote yes, no or abstain with the power the caller had at the proposal's snapshot
        (own + delegated, less what delegators who voted themselves took back). Once; while
        ``now < ends_at``. The power counted."""
        proposal = self._named(proposal_id)
        if proposal is None:
            return Err(UnknownProposal(proposal_id))
        given: object = choice
        if not isinstance(given, Choice):
            return Err(InvalidRequest((f"choice is a Choice (Yes, No, Abstain), got {given!r}",)))
        if proposal.status is not ProposalStatus.OPEN or self.time >= proposal.ends_at:
            return Err(WrongStatus(proposal.status, f"Open, before {proposal.ends_at}"))
        if self._blocked(proposal.action):
            return Err(Paused())
        voter = self.caller
        earlier = proposal.tally.votes.get(voter)
        if earlier is not None:
            return Err(AlreadyVoted(voter, earlier.choice))
        weight = voting_power_at(proposal.snapshot, proposal.tally, voter)
        if weight <= 0:
            return Err(NoVotingPower(voter))
        tally = cast_vote(proposal.snapshot, proposal.tally, voter, choice, self.time)
        self._save(proposal, evolve(proposal, tally=tally))
        return Ok(weight)

    def _end_voting(self, proposal_id: int) -> None:
        self._decide(proposal_id)

    @update
    def tally(self, proposal_id: int) -> Ok[ProposalStatus] | Err[DAOError]:
        """Anyone (of a private DAO: anyone it exists for, see ``_named``), once the voting
        period is over: decide the proposal now (its timer does the same at the exact end). Its
        status."""
        proposal = self._named(proposal_id)
        if proposal is None:
            return Err(UnknownProposal(proposal_id))
        if proposal.status is ProposalStatus.OPEN and self.time < proposal.ends_at:
            return Err(NotYet(proposal.ends_at))
        return Ok(self._decide(proposal_id))

    def _decide(self, proposal_id: int) -> ProposalStatus:
        proposal: Proposal = self.state.proposals[proposal_id]
        if proposal.status is not ProposalStatus.OPEN or self.time < proposal.ends_at:
            return proposal.status
        if proposal.timer is not None:
            self.cancel_timer(proposal.timer)
        tally, total = proposal.tally, proposal.snapshot.total
        quorum = quorum_reached(tally, total, proposal.quorum_bp)
        accepted = quorum and approved(tally, proposal.approval_bp)
        forfeit = quorum and not accepted
        decided = evolve(
            proposal, timer=None, decided_at=self.time,
            status=ProposalStatus.ACCEPTED if accepted else ProposalStatus.REJECTED,
            executable_at=proposal.ends_at + proposal.timelock if accepted else None,
            deposit_status=(
                DepositStatus.FORFEITED if forfeit and proposal.deposit
                else proposal.deposit_status
            ),
        )  # fmt: skip
        self._save(proposal, decided)
        if decided.deposit_status is DepositStatus.FORFEITED:
            self._forfeit(proposal.deposit)
        elif decided.deposit_status is DepositStatus.HELD:
            self._return_deposit(decided)
        status: ProposalStatus = decided.status
        return status

    def _forfeit(self, deposit: int) -> None:
        state = self.state
        self.state = evolve(
            state, deposits_held=state.deposits_held - deposit,
            forfeited=state.forfeited + deposit,
        )  # fmt: skip

    def _return_deposit(self, proposal: Proposal) -> None:
        """Send the deposit back less one fee (recorded first, undone only if the transfer
        never ran; a deposit not above the fee is forfeited)."""
        fee = self._fee(self._token)
        current = self.state.proposals[proposal.id]
        if current.deposit_status not in (DepositStatus.HELD, DepositStatus.OWED):
            return
        if isinstance(fee, str):
            owed = evolve(
                current, deposit_status=DepositStatus.OWED,
                outcome=f"deposit not returned yet: {fee}",
            )  # fmt: skip
            self._save(current, owed)
            return
        if current.deposit <= fee:
            self._save(current, evolve(current, deposit_status=DepositStatus.FORFEITED))
            self._forfeit(current.deposit)
            return
        returning = evolve(current, deposit_status=DepositStatus.RETURNING)
        self._save(current, returning)
        held = self.state.deposits_held - current.deposit
        self.state = evolve(self.state, deposits_held=held)
        args = TransferArgs(
            to=Account(current.proposer), amount=current.deposit - fee,
            from_subaccount=DEPOSITS_SUBACCOUNT, fee=fee,
        )  # fmt: skip
        self._settle(self._journal(self._token, args, DepositReturn(current.id)))

    @update
    def return_deposit(self, proposal_id: int) -> Ok[DepositStatus] | Err[DAOError]:
        """Anyone (of a private DAO: anyone it exists for): retry returning a deposit the ledger
        refused earlier (Owed), or send again the same request for one whose return was left in
        doubt (Returning). Its status now."""
        proposal = self._named(proposal_id)
        if proposal is None:
            return Err(UnknownProposal(proposal_id))
        in_doubt = self._due(DepositReturn, proposal.id)
        if in_doubt is not None:
            self._settle(in_doubt)
        elif proposal.deposit_status is DepositStatus.OWED:
            self._return_deposit(proposal)
        else:
            return Err(WrongStatus(proposal.status, "a deposit still owed"))
        return Ok(self.state.proposals[proposal.id].deposit_status)

    @update
    def execute(self, proposal_id: int) -> Ok[ProposalStatus] | Err[DAOError]:
        """Anyone (of a private DAO: anyone it exists for), once an Accepted proposal's timelock
        has passed (``now ≥ ends_at + timelock``): carry out its action, once. Executed, or
        Failed with the reason (final). A treasury transfer left in doubt stays Executing,
        counted as paid: calling again sends the same request."""
        proposal = self._named(proposal_id)
        if proposal is None:
            return Err(UnknownProposal(proposal_id))
        in_doubt = self._due(TreasuryPayout, proposal.id)
        if in_doubt is not None:
            self._settle(in_doubt)
            return Ok(self.state.proposals[proposal.id].status)
        if proposal.status is not ProposalStatus.ACCEPTED:
            return Err(WrongStatus(proposal.status, "Accepted"))
        assert proposal.executable_at is not None
        if self.time < proposal.executable_at:
            return Err(NotYet(proposal.executable_at))
        if self._blocked(proposal.action):
            return Err(Paused())
        self._save(proposal, evolve(proposal, status=ProposalStatus.EXECUTING))
        if isinstance(proposal.action, TreasuryTransfer):
            self._pay_from_treasury(proposal.id, proposal.action)
        else:
            self._finish(proposal.id, *self._carry_out(proposal.action))
        return Ok(self.state.proposals[proposal.id].status)

    def _finish(self, proposal_id: int, ok: bool, outcome: str) -> None:
        """An executing proposal is done: Executed, or Failed with the reason."""
        current = self.state.proposals[proposal_id]
        done = evolve(
            current, executed_at=self.time, outcome=outcome,
            status=ProposalStatus.EXECUTED if ok else ProposalStatus.FAILED,
        )  # fmt: skip
        self._save(current, done)

    def _carry_out(
        self, action: Motion | EmergencyPause | EmergencyUnpause | UpdateParams
    ) -> tuple[bool, str]:
        """Do what a proposal other than a treasury transfer says: whether it worked, and what
        it did or why it failed."""
        if isinstance(action, Motion):
            return True, "motion recorded"
        if isinstance(action, EmergencyPause | EmergencyUnpause):
            self.state = evolve(self.state, paused=isinstance(action, EmergencyPause))
            return True, "paused" if self.state.paused else "unpaused"
        updated = evolve(self.config, **action.changes())
        problems = validate_dao_config(updated)
        if problems:
            return False, "; ".join(problems)
        self.state = evolve(self.state, config=updated)
        return True, "parameters updated: " + ", ".join(sorted(action.changes()))

    def _pay_from_treasury(self, proposal_id: int, action: TreasuryTransfer) -> None:
        """Send the transfer, counted as paid from before it is sent: Executed once it ran,
        Failed (counted back) if it never did, Executing while in doubt."""
        fee = self._fee(action.ledger)
        if isinstance(fee, str):
            self._finish(proposal_id, False, fee)
            return
        debit = action.amount + fee
        self._count_paid(action.ledger, debit)
        args = TransferArgs(
            to=action.to, amount=action.amount, from_subaccount=TREASURY_SUBACCOUNT, fee=fee,
            memo=action.memo,
        )  # fmt: skip
        self._settle(self._journal(action.ledger, args, TreasuryPayout(proposal_id, debit)))

    def _count_paid(self, ledger: Principal, debit: int) -> None:
        paid = self.state.treasury_paid
        self.state = evolve(
            self.state, treasury_paid=paid.set(ledger, paid.get(ledger, 0) + debit)
        )

    # -- emergency ------------------------------------------------------------------------------

    def _not_contact(self) -> NotEmergencyContact | None:
        if self.caller not in self.config.emergency_contacts:
            return NotEmergencyContact(self.caller)
        return None

    @update
    def emergency_pause(self) -> Ok[None] | Err[DAOError]:
        """An emergency contact pauses staking, proposing, voting and executing."""
        refused = self._not_contact()
        if refused is not None:
            return Err(refused)
        self.state = evolve(self.state, paused=True)
        return Ok(None)

    @update
    def emergency_unpause(self) -> Ok[None] | Err[DAOError]:
        """An emergency contact lifts a pause (always possible)."""
        refused = self._not_contact()
        if refused is not None:
            return Err(refused)
        self.state = evolve(self.state, paused=False)
        return Ok(None)

    # -- reads ----------------------------------------------------------------------------------

    def _may_read(self, about: Principal | None = None) -> bool:
        caller = self.caller
        return (
            self.meta.is_public or caller in (self.meta.owner, self.meta.factory, about)
            or caller in self.state.stakes_by_owner
            or caller in self.config.emergency_contacts
        )  # fmt: skip

    @query
    def get_config(self) -> DAOConfig | None:
        return self.config if self._may_read() else None

    @query
    def is_paused(self) -> bool:
        return bool(self.state.paused)

    @query
    def get_member(self, user: Principal) -> MemberInfo | None:
        """``user``'s stakes and voting power now (own, delegated to it, effective)."""
        if not self._may_read(user):
            return None
        power = self.state.power
        delegate = power.delegates.get(user)
        own, received = power.own.get(user, 0), power.received.get(user, 0)
        mine = self.state.stakes_by_owner.get(user, _NONE)
        stakes = self.state.stakes
        return MemberInfo(
            user=user, stakes=len(mine), staked=sum(stakes[i].amount for i in mine), own=own,
            delegated=received, effective=0 if delegate is not None else own + received,
            delegate=delegate,
        )  # fmt: skip

    @query
    def get_stakes(
        self, user: Principal, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[Stake]:
        """``user``'s active stakes, oldest first."""
        check_page(offset, limit)
        if not self._may_read(user):
            return Page((), None, None)
        mine = self.state.stakes_by_owner.get(user, _NONE)
        items = tuple(self.state.stakes[i] for i in mine.page(offset, limit))
        end = offset + len(items)
        return Page(items, len(mine), end if end < len(mine) else None)

    def _info(self, proposal: Proposal) -> ProposalInfo:
        return ProposalInfo(
            id=proposal.id, proposer=proposal.proposer, action=proposal.action,
            status=proposal.status, submitted_at=proposal.submitted_at,
            ends_at=proposal.ends_at, executable_at=proposal.executable_at,
            deposit=proposal.deposit, deposit_status=proposal.deposit_status,
            outcome=proposal.outcome, tally=self._tally_view(proposal),
        )  # fmt: skip

    def _tally_view(self, proposal: Proposal) -> TallyView:
        tally, total = proposal.tally, proposal.snapshot.total
        return TallyView(
            proposal_id=proposal.id, status=proposal.status, yes=tally.yes, no=tally.no,
            abstain=tally.abstain, voters=len(tally.votes), snapshot_total=total,
            quorum_bp=proposal.quorum_bp, approval_bp=proposal.approval_bp,
            quorum_reached=quorum_reached(tally, total, proposal.quorum_bp),
            approved=approved(tally, proposal.approval_bp), ends_at=proposal.ends_at,
        )  # fmt: skip

    @query
    def get_proposal(self, proposal_id: int) -> ProposalInfo | None:
        proposal = self._named(proposal_id)
        return None if proposal is None else self._info(proposal)

    @query
    def get_proposals(
        self, status: ProposalStatus | None = None, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ProposalInfo]:
        """Proposals, newest first: all of them, or those with ``status``."""
        check_page(offset, limit)
        if not self._may_read():
            return Page((), None, None)
        proposals = self.state.proposals
        if status is None:
            total = len(proposals)
            ids: Any = newest_first(total, offset, limit)
        else:
            chosen = self.state.by_status.get(status, _NONE)
            total = len(chosen)
            ids = chosen.page(offset, limit, descending=True)
        items = tuple(self._info(proposals[i]) for i in ids)
        end = offset + len(items)
        return Page(items, total, end if end < total else None)

    @query
    def get_tally(self, proposal_id: int) -> TallyView | None:
        proposal = self._named(proposal_id)
        return None if proposal is None else self._tally_view(proposal)

    @query
    def get_votes(
        self, proposal_id: int, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[tuple[Principal, Vote]]:
        """A proposal's votes in the order they were cast, each with the power it counts now."""
        check_page(offset, limit)
        proposal = self._named(proposal_id)
        if proposal is None:
            return Page((), None, None)
        tally = proposal.tally
        voters = tally.order[offset : offset + limit]
        items = tuple((voter, tally.votes[voter]) for voter in voters)
        total = len(tally.order)
        end = offset + len(items)
        return Page(items, total, end if end < total else None)

    @query
    def get_voting_power(self, user: Principal, proposal_id: int) -> int | None:
        """What ``user`` would vote with on the proposal now (0 once it has voted)."""
        proposal = self._named(proposal_id)
        if proposal is None or not self._may_read(user):
            return None
        return voting_power_at(proposal.snapshot, proposal.tally, user)

    @query(composite=True)
    def get_balances(self) -> Balances | None:
        """The treasury, staking and deposits accounts as the ledger reports them, next to the
        DAO's records (a composite query: it asks the ledger)."""
        if not self._may_read():
            return None
        token = self._token
        treasury, staking, deposits = (
            int(self.query_call(token, "icrc1_balance_of", Account(self.id, subaccount)))
            for subaccount in (TREASURY_SUBACCOUNT, STAKING_SUBACCOUNT, DEPOSITS_SUBACCOUNT)
        )
        state = self.state
        return Balances(
            treasury=treasury, staking=staking, deposits=deposits, staked=state.staked,
            deposits_held=state.deposits_held, forfeited=state.forfeited,
        )  # fmt: skip

    @query
    def get_accounts(self) -> tuple[tuple[str, Account], ...]:
        """The DAO's accounts: fund the treasury by sending to ``treasury``."""
        return (
            ("treasury", Account(self.id, TREASURY_SUBACCOUNT)),
            ("staking", Account(self.id, STAKING_SUBACCOUNT)),
            ("deposits", Account(self.id, DEPOSITS_SUBACCOUNT)),
        )

    @query
    def get_stats(self) -> DAOStats | None:
        if not self._may_read():
            return None
        state = self.state
        return DAOStats(
            members=len(state.stakes_by_owner), stakes=len(state.stakes), staked=state.staked,
            total_power=state.power.total, delegations=len(state.power.delegates),
            proposals=len(state.proposals),
            by_status=tuple((status, len(state.by_status.get(status, _NONE)))
                            for status in ProposalStatus),
            paused=state.paused,
        )  # fmt: skip


def _moved(by_status: Any, proposal_id: int, before: ProposalStatus | None,
           after: ProposalStatus) -> Any:  # fmt: skip
    if before is not None:
        left = by_status.get(before, _NONE).discard(proposal_id)
        by_status = by_status.set(before, left)
    return by_status.set(after, by_status.get(after, _NONE).add(proposal_id))


def _transfer_problems(action: TreasuryTransfer) -> tuple[str, ...]:
    problems = []
    ledger: object = action.ledger
    if not isinstance(ledger, Principal) or not ledger.is_canister:
        problems.append(f"ledger must be a ledger canister id, got {ledger!r}")
    to: object = action.to
    if not isinstance(to, Account):
        problems.append("to must be an Account")
    elif (problem := identified_problem(to.owner, "recipient")) is not None:
        problems.append(problem)
    if not is_nat(action.amount) or not 0 < action.amount <= MAX_AMOUNT:
        problems.append("amount must be an int from 1 to 2**128 - 1")
    memo: object = action.memo
    if memo is not None and not (memo.__class__ is bytes and len(memo) <= 32):
        problems.append("memo is None or at most 32 bytes")
    return tuple(problems)


__all__ = ["DAO"]
