"""``MultisigWallet``: a wallet of ICRC tokens that moves money and changes itself only through
proposals its signers approve.

A signer proposes (that is their approval); signers approve or reject, one vote each; at the
policy's threshold the proposal is Approved, and Executable once the timelock has passed; any
signer then executes it, and it ends Executed or Failed. It is Rejected as soon as the threshold
can no longer be reached, and Expired at the end of its lifetime. Time-driven changes happen at
their exact instants (one timer, set for the earliest deadline). Nothing executes by itself, and
nothing but a signer's call moves a proposal.

Every rule is checked when a proposal is made and again when it executes, against the wallet as
it is then (``icto.multisig.rules``). A transfer's proposal is closed (Executing) before its
ledger calls, each transfer planned as one deduplicated ledger request, and finished from the
ledger's answers: a transfer whose outcome stays in doubt keeps the proposal Executing, and
executing it again sends the identical request, so it can neither be paid twice nor be recorded
as paid, or as failed, when it was not. Member and visibility changes reach the factory in the
same execution (or through the contract's outbox when the factory does not answer).
"""

from __future__ import annotations

from typing import Any

import immutables

from icto.collections import SortedSet
from icto.collections.records import evolve
from icto.collections.vector import Vector, newest_first
from icto.factory.base import check_page
from icto.factory.contract import FactoryContract
from icto.factory.types import DEFAULT_PAGE, ContractInit, Page
from icto.ic.account import Account
from icto.ic.canister import may_still_await, query, update
from icto.ic.errors import CallRejected, Reject, RejectCode
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.ic.world import AWAIT_GIVEN_UP_NS, MAX_TIME
from icto.ledger.client import LedgerFailure, ledger_error, logged_outcome, memo_of, settle_or_find
from icto.ledger.types import Duplicate, TooOld, TransferArgs
from icto.multisig.config import MultisigConfig, Role, validate_multisig_config
from icto.multisig.rules import (
    action_problems,
    counted,
    limit_problem,
    reachable,
    required,
    spent_today,
    transfers_of,
    window,
)
from icto.multisig.types import (
    OBSERVER,
    OPEN,
    SIGNER,
    Action,
    AddObserver,
    AddSigner,
    AlreadyVoted,
    ChangeRole,
    ChangeThreshold,
    ChangeVisibility,
    Freeze,
    InvalidProposal,
    LedgerBalance,
    Members,
    MultisigError,
    NotASigner,
    NotEnoughApprovals,
    NotExecutable,
    Proposal,
    ProposalClosed,
    RemoveObserver,
    RemoveSigner,
    SetDailyLimit,
    SetPolicy,
    Spent,
    Status,
    TransferOutcome,
    Unfreeze,
    UnknownProposal,
    WalletEvent,
    WalletInfo,
    WalletState,
)
from icto.validation import foreign_text, is_nat, text_problem

MAX_PROPOSAL_DESCRIPTION = 1000
MAX_BALANCES = 20
"""Most ledgers one ``get_balances`` asks."""
_EMPTY: SortedSet[int] = SortedSet()


def _deadline(proposal: Proposal, timelock: int) -> int | None:
    """When an open proposal next changes by itself: its timelock's end, or its expiry."""
    if proposal.status not in OPEN:
        return None
    if proposal.status is Status.APPROVED:
        assert proposal.approved_at is not None
        return min(proposal.approved_at + timelock, proposal.expires_at)
    return proposal.expires_at


def _with_sorted_votes(proposal: Proposal) -> Proposal:
    """``proposal`` with its votes as sorted sets: a world saved while they were frozensets
    (which iterate in the process's hash order) loads with them so, and reads them sorted."""
    if type(proposal.approvals) is SortedSet and type(proposal.rejections) is SortedSet:
        return proposal
    return evolve(
        proposal, approvals=SortedSet(proposal.approvals),
        rejections=SortedSet(proposal.rejections),
    )  # fmt: skip


class MultisigWallet(FactoryContract):
    """The multisig wallet contract (installed by the Multisig Factory with a ``ContractInit``)."""

    VERSION = "1.0.0"

    state: WalletState

    def init(self, arg: ContractInit) -> None:
        never_vote = (self.id, self.caller)  # the wallet and its factory

        def validate(config: object, owner: Principal) -> tuple[str, ...]:
            return validate_multisig_config(config, owner, never_vote=never_vote)

        arg = self.checked_init(arg, validate)
        config: MultisigConfig = arg.config
        roles = immutables.Map(dict(config.members))
        self.state = WalletState(
            meta=self.new_meta(arg.owner, config.is_public), name=config.name,
            description=config.description, members=Members(roles, config.voters),
            threshold=config.threshold, timelock=config.timelock, lifetime=config.lifetime,
            policies=immutables.Map(dict(config.policies)),
            limits=immutables.Map(dict(config.daily_limits)), spent=immutables.Map(),
            frozen=False, proposals=Vector(), by_status=immutables.Map(),
            deadlines=SortedSet(), events=Vector(), wallet=self.id,
        )  # fmt: skip

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Keep every proposal; timers do not survive an upgrade, so re-arm the deadline."""
        super().post_upgrade(stable, arg)
        self.state = evolve(self.state, timer=None, wallet=self.id)
        self._arm()

    def has_role(self, user: Principal, role: str) -> bool:
        member = self.state.members.role(user)
        if role == SIGNER:
            return member is not None and member.votes
        return role == OBSERVER and member is Role.OBSERVER

    @update
    def on_visibility_changed(self, is_public: bool) -> None:
        """Refused: a wallet's visibility changes only through an executed ``ChangeVisibility``
        proposal, never by its owner or a factory admin alone."""
        self._only_factory("on_visibility_changed")
        raise Reject("a wallet's visibility changes only through a ChangeVisibility proposal")

    # -- proposals ------------------------------------------------------------------------------

    @update
    def propose(self, action: Action, description: str = "") -> Ok[int] | Err[MultisigError]:
        """An Owner or Signer proposes ``action``; it counts as their approval. The action is
        checked against the wallet now (and again at execution)."""
        self._sweep()
        proposer = self.caller
        if not self.state.members.votes(proposer):
            return Err(NotASigner(proposer))
        reasons = action_problems(self.state, action)
        problem = text_problem(
            "description", description, 0, MAX_PROPOSAL_DESCRIPTION, multiline=True
        )
        if problem is not None:
            reasons = (*reasons, problem)
        if reasons:
            return Err(InvalidProposal(reasons))
        state, now = self.state, self.time
        proposal = self._tallied(
            Proposal(
                id=len(state.proposals), action=action, proposer=proposer,
                description=description, created_at=now,
                expires_at=min(now + state.lifetime, MAX_TIME),  # the IC clock's last instant
                status=Status.PENDING, threshold=required(state, action),
                approvals=SortedSet((proposer,)),
            )
        )  # fmt: skip
        self._store(proposal, None, WalletEvent(now, "Proposed", proposer, proposal.id,
                                                str(action.KIND)))  # fmt: skip
        return Ok(proposal.id)

    @update
    def approve(self, proposal_id: int) -> Ok[Status] | Err[MultisigError]:
        """An Owner or Signer approves an open proposal (once); the new status."""
        return self._vote(proposal_id, approve=True)

    @update
    def reject(self, proposal_id: int) -> Ok[Status] | Err[MultisigError]:
        """An Owner or Signer rejects an open proposal (once); the new status."""
        return self._vote(proposal_id, approve=False)

    def _signers_proposal(self, proposal_id: object) -> Proposal | MultisigError:
        """The proposal a signer's call is about, once due deadlines have passed; or why not
        (the caller does not vote, or there is no such proposal)."""
        self._sweep()
        if not self.state.members.votes(self.caller):
            return NotASigner(self.caller)
        return self._proposal(proposal_id)

    def _vote(self, proposal_id: int, *, approve: bool) -> Ok[Status] | Err[MultisigError]:
        voter = self.caller
        found = self._signers_proposal(proposal_id)
        if not isinstance(found, Proposal):
            return Err(found)
        if found.status not in OPEN:
            return Err(ProposalClosed(found.id, found.status))
        if voter in found.approvals or voter in found.rejections:
            return Err(AlreadyVoted(found.id))
        if approve:
            voted = evolve(found, approvals=found.approvals.add(voter))
        else:
            voted = evolve(found, rejections=found.rejections.add(voter))
        proposal = self._tallied(voted)
        name = "Approved" if approve else "Rejected"
        self._store(proposal, found, WalletEvent(self.time, f"{name}By", voter, found.id))
        return Ok(proposal.status)

    def _tallied(self, proposal: Proposal) -> Proposal:
        """``proposal`` with the status its votes give it now. One approved that no longer has
        enough approvals (the threshold rose, an approver left) is Pending again: its timelock
        starts anew when it reaches the threshold again."""
        state, now = self.state, self.time
        if proposal.status not in OPEN:
            return proposal
        if not reachable(state, proposal):
            return evolve(proposal, status=Status.REJECTED, finished_at=now)
        enough = counted(proposal.approvals, state.members) >= required(state, proposal.action)
        if proposal.status is Status.PENDING and enough:
            status = Status.EXECUTABLE if state.timelock == 0 else Status.APPROVED
            return evolve(proposal, status=status, approved_at=now)
        if proposal.status is not Status.PENDING and not enough:
            return evolve(proposal, status=Status.PENDING, approved_at=None)
        return proposal

    # -- execution ------------------------------------------------------------------------------

    @update
    def execute(self, proposal_id: int) -> Ok[Proposal] | Err[MultisigError]:
        """Any Owner or Signer executes an Executable proposal; the proposal as it ended
        (Executed, or Failed with the reason and, for transfers, the ledger's error), or
        Executing while a transfer's outcome is in doubt. Executing such a proposal again sends
        each transfer still in doubt again, as the identical request."""
        executor = self.caller
        found = self._signers_proposal(proposal_id)
        if not isinstance(found, Proposal):
            return Err(found)
        refusal = self._not_executable(found)
        if refusal is not None:
            return Err(refusal)
        if found.status is Status.EXECUTING:
            return Ok(self._settle(found.id, executor))
        state, now = self.state, self.time
        problems = action_problems(state, found.action)
        transfers = transfers_of(found.action)
        problem = problems[0] if problems else limit_problem(state, transfers, now)
        if problem is not None:
            failed = evolve(found, status=Status.FAILED, finished_at=now,
                                  executed_by=executor, failure=problem)  # fmt: skip
            self._store(failed, found, WalletEvent(now, "Failed", executor, found.id, problem))
            return Ok(failed)
        if transfers:
            return Ok(self._pay(found, executor))
        done = evolve(found, status=Status.EXECUTED, finished_at=now, executed_by=executor)
        self._store(done, found, WalletEvent(now, "Executed", executor, found.id))
        self._apply(found.action)
        return Ok(done)

    def _not_executable(self, proposal: Proposal) -> MultisigError | None:
        """Why ``proposal`` cannot be executed now. One Executing (a transfer in doubt) was
        executed with its approvals: only a freeze holds its transfers back."""
        if proposal.status.final:
            return ProposalClosed(proposal.id, proposal.status)
        if proposal.status not in (Status.EXECUTABLE, Status.EXECUTING):
            at = None if proposal.approved_at is None else proposal.approved_at + (
                self.state.timelock
            )  # fmt: skip
            return NotExecutable(proposal.id, proposal.status, at)
        if self.state.frozen and not isinstance(proposal.action, Unfreeze):
            return InvalidProposal(("the wallet is frozen: it executes nothing but Unfreeze",))
        if proposal.status is Status.EXECUTING:
            return None
        have = counted(proposal.approvals, self.state.members)
        need = required(self.state, proposal.action)
        if have < need:
            return NotEnoughApprovals(proposal.id, have, need)
        return None

    def _pay(self, proposal: Proposal, executor: Principal) -> Proposal:
        """Close the proposal (Executing) with each transfer planned as its one ledger request
        and count the spending first, then send them (``_settle``)."""
        now = self.time
        transfers = transfers_of(proposal.action)
        first = max(now, self.state.requested_at + 1)
        planned = tuple(
            TransferOutcome(transfer, None, created_at=min(first + i, MAX_TIME), in_doubt=True)
            for i, transfer in enumerate(transfers)
        )
        self.state = evolve(self.state, requested_at=planned[-1].created_at)
        closed = evolve(proposal, status=Status.EXECUTING, finished_at=now,
                        executed_by=executor, outcomes=planned)  # fmt: skip
        self._store(closed, proposal, None)
        for transfer in transfers:
            self._spend(transfer.ledger, transfer.amount)
        return self._settle(proposal.id, executor)

    def _settle(self, proposal_id: int, executor: Principal) -> Proposal:
        """Send each transfer of an Executing proposal that is still in doubt, in order, and
        record what the ledger says; then the proposal is Executed (every transfer paid), Failed
        (one was not), or still Executing (one is still in doubt). A transfer another message
        settled meanwhile is not sent again, nor one another message is still sending."""
        count = len(self.state.proposals[proposal_id].outcomes)
        for index in range(count):
            outcome = self.state.proposals[proposal_id].outcomes[index]
            if outcome.in_doubt and not self._being_sent(outcome):
                self._replace_outcome(proposal_id, index, sent_at=self.time)
                self._settled(proposal_id, index, self._transfer(proposal_id, index))
        current = _with_sorted_votes(self.state.proposals[proposal_id])
        if current.status is not Status.EXECUTING:
            return current  # another message finished it meanwhile
        outcomes = current.outcomes
        doubt = [i for i, outcome in enumerate(outcomes) if outcome.in_doubt]
        failed = [i for i, outcome in enumerate(outcomes) if outcome.block is None]
        status, reason, detail = Status.EXECUTED, None, ""
        if doubt:
            status = Status.EXECUTING
            detail = f"transfer {doubt[0]} of {count} is in doubt: {outcomes[doubt[0]].error}"
        elif failed:
            status = Status.FAILED
            reason = f"transfer {failed[0]} of {count} failed: {outcomes[failed[0]].error}"
            reason = detail = foreign_text(reason, 1024)
        final = evolve(current, status=status, failure=reason)
        self._store(final, current, WalletEvent(self.time, str(status), executor, proposal_id,
                                                detail))  # fmt: skip
        return final

    def _request(self, proposal_id: int, index: int) -> TransferArgs:
        """The one ledger request of a proposal's transfer ``index``, as planned now."""
        outcome = self.state.proposals[proposal_id].outcomes[index]
        transfer = outcome.transfer
        memo = transfer.memo
        if memo is None:
            memo = memo_of(f"multisig transfer {proposal_id} {index}")
        return TransferArgs(
            to=transfer.to, amount=transfer.amount, memo=memo, created_at_time=outcome.created_at
        )

    def _transfer(self, proposal_id: int, index: int) -> int | LedgerFailure | str:
        """Send the request of a transfer and say what became of it: its block; a
        ``LedgerFailure``, refused (nothing moved) or ``in_doubt``; or, from a canister that is
        not a ledger, its answer as text (neither a block nor an error: whether it moved is
        unknown, and no resend can tell). A reject is followed by the identical request, whose
        answer (the block, or ``Duplicate`` of the first) says what happened; a request the
        ledger still rejects, or no longer recognises, is looked up in the ledger's log, and one
        that never ran past the ledger's window is planned anew and sent. A canister that does
        not exist never ran it."""
        transfer = self.state.proposals[proposal_id].outcomes[index].transfer
        ledger, to = transfer.ledger, transfer.to
        first = ""
        try:
            answer = self.call(ledger, "icrc1_transfer", self._request(proposal_id, index))
        except CallRejected as rejected:
            if rejected.reject_code is RejectCode.DESTINATION_INVALID:  # no such canister
                return LedgerFailure(ledger_error(rejected.message))
            answer, first = None, rejected.message
        if isinstance(answer, Ok) and is_nat(answer.value):
            return int(answer.value)
        if isinstance(answer, Err) and isinstance(answer.error, Duplicate):
            return int(answer.error.duplicate_of)
        if isinstance(answer, Err) and not isinstance(answer.error, TooOld):
            return LedgerFailure(ledger_error(answer.error))
        if answer is not None and not isinstance(answer, Err):
            return ledger_error(f"the ledger answered {answer!r}, neither a block nor an error")

        def replan() -> TransferArgs:
            self._replace_outcome(proposal_id, index, created_at=self._next_request_at())
            return self._request(proposal_id, index)

        sent = settle_or_find(
            self, ledger, "icrc1_transfer", self._request(proposal_id, index), to, replan, sends=1
        )
        if not (isinstance(sent, LedgerFailure) and sent.in_doubt and not sent.expired):
            return sent
        logged = logged_outcome(self, ledger, self._request(proposal_id, index), None, to)
        if not isinstance(logged, LedgerFailure):
            return logged
        rejects = sent.reason
        if answer is None:
            rejects = f"the ledger rejected the request twice: {ledger_error(first)}"
        return LedgerFailure(f"{rejects}; {logged.reason}", in_doubt=logged.in_doubt)

    def _next_request_at(self) -> int:
        """A ``created_at_time`` for a new ledger request: later than any before it."""
        at = min(max(self.time, self.state.requested_at + 1), MAX_TIME)
        self.state = evolve(self.state, requested_at=at)
        return at

    def _being_sent(self, outcome: TransferOutcome) -> bool:
        """Whether the message that sent ``outcome``'s request may still await its answer
        (``may_still_await``, giving up ``AWAIT_GIVEN_UP_NS`` after it sent it)."""
        sent_at = outcome.sent_at
        return sent_at is not None and may_still_await(self, sent_at + AWAIT_GIVEN_UP_NS)

    def _settled(self, proposal_id: int, index: int, result: int | LedgerFailure | str) -> None:
        """Record what became of a transfer in doubt, once (the first message to learn it): a
        refused one gives its spending back; one in doubt, or with an answer that says nothing,
        keeps it."""
        outcome = self.state.proposals[proposal_id].outcomes[index]
        if not outcome.in_doubt:
            return
        if isinstance(result, int):
            self._replace_outcome(
                proposal_id, index, block=result, error=None, in_doubt=False, sent_at=None
            )
        elif isinstance(result, LedgerFailure) and result.in_doubt:
            self._replace_outcome(proposal_id, index, error=result.reason, sent_at=None)
        elif isinstance(result, LedgerFailure):
            self._replace_outcome(
                proposal_id, index, error=result.reason, in_doubt=False, sent_at=None
            )
            executed_at = self.state.proposals[proposal_id].finished_at
            if executed_at is not None and window(executed_at) == window(self.time):
                self._spend(outcome.transfer.ledger, -outcome.transfer.amount)
        else:
            self._replace_outcome(proposal_id, index, error=result, in_doubt=False, sent_at=None)

    def _replace_outcome(self, proposal_id: int, index: int, **changes: Any) -> None:
        before: Proposal = self.state.proposals[proposal_id]
        outcomes = list(before.outcomes)
        outcomes[index] = evolve(outcomes[index], **changes)
        self._store(evolve(before, outcomes=tuple(outcomes)), before, None)

    def _spend(self, ledger: Principal, amount: int) -> None:
        now = self.time
        used = spent_today(self.state.spent.get(ledger), now) + amount
        spent = self.state.spent.set(ledger, Spent(window(now), used))
        self.state = evolve(self.state, spent=spent)

    def _apply(self, action: Action) -> None:
        """Carry out an executed change to the wallet itself, and tell the factory."""
        state = self.state
        if isinstance(action, AddSigner | ChangeRole):
            before = state.members.role(action.principal)
            self._set_members(state.members.with_role(action.principal, action.role))
            self._notify_roles(action.principal, before, action.role)
        elif isinstance(action, AddObserver):
            self._set_members(state.members.with_role(action.principal, Role.OBSERVER))
            self.notify_role(action.principal, OBSERVER)
        elif isinstance(action, RemoveSigner | RemoveObserver):
            before = state.members.role(action.principal)
            self._set_members(state.members.with_role(action.principal, None))
            self._notify_roles(action.principal, before, None)
        elif isinstance(action, ChangeThreshold):
            self.state = evolve(state, threshold=action.threshold)
            self._retally()
        elif isinstance(action, SetPolicy):
            policies = (
                state.policies.delete(action.kind) if action.threshold is None
                else state.policies.set(action.kind, action.threshold)
            )  # fmt: skip
            self.state = evolve(state, policies=policies)
            self._retally()
        elif isinstance(action, SetDailyLimit):
            limits = (
                state.limits.delete(action.ledger) if action.amount is None
                else state.limits.set(action.ledger, action.amount)
            )  # fmt: skip
            self.state = evolve(state, limits=limits)
        elif isinstance(action, Freeze | Unfreeze):
            self.state = evolve(state, frozen=isinstance(action, Freeze))
        elif isinstance(action, ChangeVisibility):
            self.notify_visibility(action.is_public)

    def _set_members(self, members: Members) -> None:
        self.state = evolve(self.state, members=members)
        self._retally()

    def _retally(self) -> None:
        """After the voters, the threshold or a policy changed: a pending proposal that now has
        enough approvals is Approved, an approved one that no longer has them is Pending again,
        and an open one that can no longer get them is Rejected. (Costs one look per open
        proposal; such changes are rare.)"""
        open_ids = [
            proposal_id for status in (Status.PENDING, Status.APPROVED, Status.EXECUTABLE)
            for proposal_id in self.state.by_status.get(status, _EMPTY)
        ]  # fmt: skip
        for proposal_id in open_ids:
            before: Proposal = self.state.proposals[proposal_id]
            after = self._tallied(before)
            if after is not before:
                self._store(after, before, None)

    def _notify_roles(self, user: Principal, before: Role | None, after: Role | None) -> None:
        """Tell the factory about each indexed role whose holding changed."""
        for role, held in ((SIGNER, lambda r: r is not None and r.votes),
                           (OBSERVER, lambda r: r is Role.OBSERVER)):  # fmt: skip
            if held(before) != held(after):
                self.notify_role(user, role)

    # -- bookkeeping ----------------------------------------------------------------------------

    def _proposal(self, proposal_id: object) -> Proposal | UnknownProposal:
        proposals = self.state.proposals
        if not isinstance(proposal_id, int) or isinstance(proposal_id, bool) or not (
            0 <= proposal_id < len(proposals)
        ):  # fmt: skip
            return UnknownProposal(proposal_id)
        return _with_sorted_votes(proposals[proposal_id])

    def _store(
        self, proposal: Proposal, before: Proposal | None, event: WalletEvent | None
    ) -> None:
        """Put ``proposal`` in place of ``before`` (``None``: it is new), keeping the status
        index and the deadlines in step, log ``event``, and re-arm the deadline timer."""
        state = self.state
        timelock = state.timelock
        by_status, deadlines = state.by_status, state.deadlines
        if before is not None:
            if before.status is not proposal.status:
                ids = by_status.get(before.status, _EMPTY).discard(before.id)
                by_status = by_status.set(before.status, ids)
            old = _deadline(before, timelock)
            if old is not None:
                deadlines = deadlines.discard((old, before.id))
        if before is None or before.status is not proposal.status:
            by_status = by_status.set(
                proposal.status, by_status.get(proposal.status, _EMPTY).add(proposal.id)
            )
        new = _deadline(proposal, timelock)
        if new is not None:
            deadlines = deadlines.add((new, proposal.id))
        proposals = (
            state.proposals.append(proposal) if before is None
            else state.proposals.set(proposal.id, proposal)
        )  # fmt: skip
        events = state.events if event is None else state.events.append(event)
        self.state = evolve(
            state, proposals=proposals, by_status=by_status, deadlines=deadlines, events=events
        )
        self._arm()

    def _sweep(self) -> None:
        """Carry out every time-driven change due by now (timelock ends, expiries)."""
        now = self.time
        while self.state.deadlines and self.state.deadlines.at(0)[0] <= now:
            _, proposal_id = self.state.deadlines.at(0)
            before: Proposal = self.state.proposals[proposal_id]
            if now >= before.expires_at:
                after = evolve(before, status=Status.EXPIRED, finished_at=before.expires_at)
                event = WalletEvent(before.expires_at, "Expired", None, before.id)
            else:
                after = evolve(before, status=Status.EXECUTABLE)
                event = None
            self._store(after, before, event)

    def _arm(self) -> None:
        """Keep one timer at the earliest deadline."""
        state = self.state
        due = state.deadlines.at(0)[0] if state.deadlines else None
        armed = state.timer
        if armed is not None and armed[1] == due:
            return
        if armed is not None:
            self.cancel_timer(armed[0])
        timer = None
        if due is not None:
            timer = (self.set_timer(max(0, due - self.time), "_on_deadline"), due)
        self.state = evolve(self.state, timer=timer)

    def _on_deadline(self) -> None:
        self.state = evolve(self.state, timer=None)
        self._sweep()
        self._arm()

    # -- reads ----------------------------------------------------------------------------------

    def _may_read(self) -> bool:
        """A private wallet exists only for its members (and its factory)."""
        caller = self.caller
        return (
            self.meta.is_public or self.state.members.role(caller) is not None
            or caller == self.meta.factory
        )  # fmt: skip

    @query
    def get_wallet_info(self) -> WalletInfo | None:
        if not self._may_read():
            return None
        state, now = self.state, self.time
        return WalletInfo(
            name=state.name, description=state.description, owner=self.meta.owner,
            members=tuple(sorted(state.members.roles.items())), threshold=state.threshold,
            timelock=state.timelock, lifetime=state.lifetime,
            policies=tuple(sorted(state.policies.items())),
            daily_limits=tuple(
                (ledger, limit, spent_today(state.spent.get(ledger), now))
                for ledger, limit in sorted(state.limits.items())
            ),
            frozen=state.frozen, is_public=self.meta.is_public,
            proposals=len(state.proposals),
            by_status=tuple((status, len(state.by_status.get(status, _EMPTY)))
                            for status in Status),
        )  # fmt: skip

    @query
    def get_proposal(self, proposal_id: int) -> Proposal | None:
        """One proposal with its votes (``None`` if unknown, or for strangers of a private
        wallet)."""
        found = self._proposal(proposal_id)
        return None if isinstance(found, UnknownProposal) or not self._may_read() else found

    @query
    def get_proposals(
        self, status: Status | None = None, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[Proposal]:
        """Proposals, newest first, all or of one status: O(log n + page)."""
        check_page(offset, limit)
        if not self._may_read():
            return Page((), None, None)
        state = self.state
        if status is None:
            total = len(state.proposals)
            ids: Any = newest_first(total, offset, limit)
        else:
            chosen = state.by_status.get(Status(status), _EMPTY)
            total = len(chosen)
            ids = chosen.page(offset, limit, descending=True)
        items = tuple(_with_sorted_votes(state.proposals[i]) for i in ids)
        end = offset + len(items)
        return Page(items, total, end if end < total else None)

    @query
    def get_events(self, offset: int = 0, limit: int = DEFAULT_PAGE) -> Page[WalletEvent]:
        """The wallet's history, newest first."""
        check_page(offset, limit)
        if not self._may_read():
            return Page((), None, None)
        events = self.state.events
        total = len(events)
        items = tuple(events[i] for i in newest_first(total, offset, limit))
        end = offset + len(items)
        return Page(items, total, end if end < total else None)

    @query(composite=True)
    def get_balances(self, ledgers: tuple[Principal, ...]) -> tuple[LedgerBalance, ...]:
        """The wallet's balance on each of ``ledgers``, asked of each ledger; one that does not
        answer with an amount is reported with why, next to the others."""
        if len(ledgers) > MAX_BALANCES:
            raise Reject(f"ask for at most {MAX_BALANCES} ledgers at once")
        if not self._may_read():
            return ()
        return tuple(self._balance(ledger) for ledger in ledgers)

    def _balance(self, ledger: Principal) -> LedgerBalance:
        try:
            answer = self.query_call(ledger, "icrc1_balance_of", Account(self.id))
        except CallRejected as rejected:
            return LedgerBalance(ledger, None, ledger_error(rejected.message))
        if not is_nat(answer):
            unknown = f"icrc1_balance_of answered {answer!r}, not an amount"
            return LedgerBalance(ledger, None, ledger_error(unknown))
        return LedgerBalance(ledger, int(answer))
