"""``LaunchpadSale``: a token sale with escrowed contributions, caps that hold and refunds paid
exactly once.

States: Upcoming → (WhitelistOpen, for whitelisted members from ``whitelist.opens``) →
SaleActive (from ``sale_start``) → SaleEnded (at ``sale_end``, or the moment the hard cap is
reached) → Successful (soft cap and minimum participants reached; funds stay in escrow,
allocations final) or Failed. The creator may cancel before SaleEnded. Failed and Cancelled go on
to Refunding → Refunded. Timers make each transition at its exact instant; ``check_status()``
(anyone) makes any that are due.

Money: ``contribute`` checks every rule before anything moves, holds the contribution's room
while its ``icrc2_transfer_from`` is in flight (so interleaved contributions never pass a cap),
and takes only what fits under the hard cap. Every pull is journalled before it is sent; one no
message settled (a trap after the call) is settled by ``settle_pulls()`` once it lapses. Nothing
leaves escrow but refunds (and, later, finalize): each contributor gets their contribution back
less one ledger fee, once, in batches a timer drives; a refund is recorded before its transfer
and undone if the ledger refuses, and ``retry_refunds()`` resumes after a fault. A sale of an
existing token needs its creator's deposit of the sale tokens before it opens
(``deposit_sale_tokens``); a sale that fails returns them.
"""

from __future__ import annotations

from typing import Any, Final

from icto.collections.records import evolve
from icto.collections.vector import Vector
from icto.factory.base import check_page
from icto.factory.types import DEFAULT_PAGE, ContractInit, Page
from icto.ic.account import Account
from icto.ic.canister import query, update
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.ic.world import AWAIT_GIVEN_UP_NS, within_clock
from icto.launchpad.allocation import fair_allocation, fixed_allocation
from icto.launchpad.config import (
    ExistingToken,
    FixedPrice,
    LaunchpadConfig,
    sale_tokens_needed,
    sure_allocation,
    validate_launchpad_config,
)
from icto.launchpad.pipeline import (
    CLAIMS_COVERED,
    FinalizePipeline,
    PipelineState,
    StepStatus,
)
from icto.launchpad.types import (
    PARTICIPANT,
    REFUND_BATCH,
    AboveMaximum,
    BelowMinimum,
    BuysNothing,
    InvalidRequest,
    LaunchpadError,
    LaunchpadState,
    NotCreator,
    NotWhitelisted,
    Participant,
    ParticipantInfo,
    PullInFlight,
    RefundProgress,
    RefundStatus,
    SaleInfo,
    SaleState,
    SaleStats,
    TransferFailed,
    WrongState,
)
from icto.ledger.client import (
    LedgerFailure,
    due_first,
    fee_of,
    memo_of,
    settle_or_find,
    settle_or_look_up,
)
from icto.ledger.types import TransferArgs, TransferFromArgs
from icto.validation import is_nat, require_identified

FINALIZE_AFTER_NS: Final = 3600 * 10**9
"""A successful sale starts its pipeline by itself an hour after it ends (anyone may start it
sooner with ``finalize()``)."""
_OPEN = (SaleState.WHITELIST_OPEN, SaleState.SALE_ACTIVE)
_BEFORE_END = (SaleState.UPCOMING, SaleState.WHITELIST_OPEN, SaleState.SALE_ACTIVE)
SETTLE_BATCH: Final = 20
"""Pulls ``settle_pulls`` settles per message (each one or two ledger calls, or a log read)."""



class LaunchpadSale(FinalizePipeline):
    """The sale contract (installed by the Launchpad Factory)."""

    VERSION = "1.0.0"

    state: LaunchpadState

    def init(self, arg: ContractInit) -> None:
        arg = self.checked_init(arg, validate_launchpad_config)
        config: LaunchpadConfig = arg.config
        self.state = LaunchpadState(
            meta=self.new_meta(arg.owner, config.is_public), config=config, order=Vector(),
            history=((SaleState.UPCOMING, self.time),), deployer=arg.deployer,
        )  # fmt: skip
        self._arm_timer()

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Keep everything; an upgrade clears timers, so the next transition and any refunding
        are re-armed."""
        super().post_upgrade(stable, arg)
        state = self.state
        pulls, sending = state.pulls, state.sending
        for nonce, flight in state.pulls.items():  # no message awaits across an upgrade
            pulls = pulls.set(nonce, evolve(flight, settle_from=self.time))
        for user in state.sending:
            sending = sending.set(user, 0)
        watch = self.set_timer(0, "_watch") if sending else None
        pipeline = state.pipeline
        if pipeline is not None and pipeline.running_since is not None:
            pipeline = evolve(pipeline, running_since=0)  # left unfinished: resumable at once
        self.state = evolve(
            state, timer=None, refund_timer=None, finalize_timer=None, pulls=pulls,
            sending=sending, watch_timer=watch, pipeline=pipeline,
        )  # fmt: skip
        self._arm_timer()
        if self.state.status is SaleState.REFUNDING and self.state.refund_error is None:
            self._arm_refunds()
        if self.state.status is SaleState.SUCCESSFUL:
            self._arm_finalize()

    def has_role(self, user: Principal, role: str) -> bool:
        participant = self.state.participants.get(user)
        return role == PARTICIPANT and participant is not None and participant.contribution > 0

    @update
    def on_deployed(self) -> None:
        """Confirm the deployment, then give the factory the sale's state for its indexes."""
        super().on_deployed()
        self.notify_status(str(self.state.status))

    # -- the clock ------------------------------------------------------------------------------

    def _opens_at(self) -> int:
        whitelist = self.config.whitelist
        return self.config.sale_start if whitelist is None else whitelist.opens

    def _transitions(self, now: int) -> list[tuple[SaleState, int, str | None]]:
        """The transitions due by ``now`` from the recorded state: (state, the instant it was
        due, why it failed). Pure: reads apply it without recording."""
        state, config = self.state, self.config
        status = state.status
        found: list[tuple[SaleState, int, str | None]] = []
        needs_deposit = isinstance(config.sale_token, ExistingToken)
        deposited = 0 < state.tokens_required <= state.tokens_deposited and not state.depositing
        if status is SaleState.UPCOMING and now >= self._opens_at():
            if needs_deposit and not deposited:
                why = "the sale tokens were not deposited before the sale opened"
                return [(SaleState.FAILED, self._opens_at(), why)]
            if config.whitelist is not None and now < config.sale_start:
                return [(SaleState.WHITELIST_OPEN, config.whitelist.opens, None)]
            if config.whitelist is not None:
                found.append((SaleState.WHITELIST_OPEN, config.whitelist.opens, None))
            status = SaleState.SALE_ACTIVE
            found.append((status, config.sale_start, None))
        if status is SaleState.WHITELIST_OPEN and now >= config.sale_start:
            status = SaleState.SALE_ACTIVE
            found.append((status, config.sale_start, None))
        if status is SaleState.SALE_ACTIVE and now >= config.sale_end:
            found.extend(self._ending(config.sale_end))
        return found

    def _ending(self, at: int) -> list[tuple[SaleState, int, str | None]]:
        state, config = self.state, self.config
        contributors = len(state.order)
        if state.raised < config.soft_cap:
            why = f"raised {state.raised}, below the soft cap of {config.soft_cap}"
        elif contributors < config.min_participants:
            why = f"{contributors} participants, fewer than {config.min_participants}"
        else:
            why = None
        verdict = SaleState.SUCCESSFUL if why is None else SaleState.FAILED
        return [(SaleState.SALE_ENDED, at, None), (verdict, at, why)]

    def _phase(self) -> SaleState:
        due = self._transitions(self.time)
        return due[-1][0] if due else self.state.status

    def _advance(self) -> SaleState:
        """Record every transition that is due; tell the factory the state reached."""
        due = self._transitions(self.time)
        if due:
            self._enter(due)
        return self.state.status

    def _enter(self, due: list[tuple[SaleState, int, str | None]]) -> None:
        state = self.state
        final, _, why = due[-1]
        history = state.history + tuple((entered, at) for entered, at, _ in due)
        changes: dict[str, Any] = {"status": final, "history": history}
        if why is not None:
            changes["outcome"] = why
        if final is SaleState.SUCCESSFUL:
            changes.update(self._final_allocations())
        self.state = evolve(state, **changes)
        if final in (SaleState.FAILED, SaleState.CANCELLED):
            self._start_refunds()
        if final is SaleState.SUCCESSFUL:
            self._arm_finalize()
        self._arm_timer()
        self.notify_status(str(self.state.status))

    def _final_allocations(self) -> dict[str, Any]:
        config, state = self.config, self.state
        if isinstance(config.sale_type, FixedPrice):
            allocated = state.allocated
        else:
            allocated = sum(
                fair_allocation(p.contribution, state.raised, config.tokens_for_sale)
                for p in state.participants.values()
            )  # fmt: skip
        return {"allocated": allocated, "leftover": config.tokens_for_sale - allocated}

    def _arm_timer(self) -> None:
        """One timer, at the next scheduled instant of the state the sale is in."""
        state, config = self.state, self.config
        if state.timer is not None:
            self.cancel_timer(state.timer)
        at = {
            SaleState.UPCOMING: self._opens_at(),
            SaleState.WHITELIST_OPEN: config.sale_start,
            SaleState.SALE_ACTIVE: config.sale_end,
        }.get(state.status)
        timer = None if at is None else self.set_timer(max(0, at - self.time), "_on_timer")
        self.state = evolve(self.state, timer=timer)

    def _on_timer(self) -> None:
        self.state = evolve(self.state, timer=None)
        if not self._transitions(self.time):
            self._arm_timer()
            return
        self._advance()

    @update
    def check_status(self) -> SaleState:
        """Anyone: make the transitions that are due; the state now."""
        return self._advance()

    # -- the creator ----------------------------------------------------------------------------

    def _deposit_needed(self, fee: int) -> int:
        """The deposit an existing token's sale needs: the sale tokens for sale, allocations and
        liquidity, and the ledger fees of the pipeline's transfers (one claim per possible
        buyer and group recipient, each transfer into a distribution, the pool's approval and
        pull, the leftover's transfer). What is not used goes to the treasury or back."""
        config = self.config
        buyers = -(-config.hard_cap // config.min_contribution)
        recipients = buyers + sum(len(group.recipients) for group in config.allocations)
        transfers = 1 + len(config.allocations) + 2 + 1
        return sale_tokens_needed(config) + fee * (CLAIMS_COVERED * recipients + transfers)

    @update
    def deposit_sale_tokens(self) -> Ok[int] | Err[LaunchpadError]:
        """Creator, for a sale of an existing token, before it opens: pull what the sale needs
        (``get_deposit_needed()``: for sale, allocations, liquidity and the pipeline's ledger
        fees) by ``icrc2_transfer_from`` (approve that plus one fee). The amount deposited."""
        config = self.config
        if self.caller != self.meta.owner:
            return Err(NotCreator(self.caller))
        token = config.sale_token
        if not isinstance(token, ExistingToken):
            return Err(InvalidRequest(("the sale token is minted at finalize: no deposit",)))
        if self._advance() is not SaleState.UPCOMING:
            return Err(WrongState(self.state.status, "Upcoming"))
        if self.state.tokens_required:
            return Err(InvalidRequest(("the sale tokens are deposited already",)))
        fee = self._fee_of(token.ledger)
        if isinstance(fee, str):
            return Err(TransferFailed(fee))
        if self.state.tokens_required or self.state.status is not SaleState.UPCOMING:
            return Err(InvalidRequest(("the sale tokens are deposited already",)))
        needed = self._deposit_needed(fee)
        self.state = evolve(
            self.state, tokens_deposited=needed, tokens_required=needed, depositing=True
        )
        paid = self._pull(token.ledger, self.caller, needed, deposit=True)
        return Err(TransferFailed(paid.reason)) if isinstance(paid, LedgerFailure) else Ok(needed)

    @update
    def get_deposit_needed(self) -> Ok[int] | Err[LaunchpadError]:
        """What ``deposit_sale_tokens`` will pull (it asks the sale token's ledger fee)."""
        token = self.config.sale_token
        if not isinstance(token, ExistingToken):
            return Err(InvalidRequest(("the sale token is minted at finalize: no deposit",)))
        fee = self._fee_of(token.ledger)
        if isinstance(fee, str):
            return Err(TransferFailed(fee))
        return Ok(self._deposit_needed(fee))

    def _fee_of(self, ledger: Principal) -> int | str:
        return fee_of(self, ledger)

    @update
    def cancel(self) -> Ok[SaleState] | Err[LaunchpadError]:
        """Creator, before the sale ends: cancel it; every contributor is refunded."""
        if self.caller != self.meta.owner:
            return Err(NotCreator(self.caller))
        if self._advance() not in _BEFORE_END:
            return Err(WrongState(self.state.status, "Upcoming, WhitelistOpen or SaleActive"))
        self._enter([(SaleState.CANCELLED, self.time, "cancelled by the creator")])
        return Ok(self.state.status)

    # -- contributing ---------------------------------------------------------------------------

    def _pull(
        self, ledger: Principal, user: Principal, amount: int,
        affiliate: Principal | None = None, deposit: bool = False,
    ) -> int | LedgerFailure:  # fmt: skip
        """``icrc2_transfer_from`` of ``amount`` from ``user`` into the sale's account, under a
        memo numbered by the sale, journalled in ``pulls`` before it is sent and settled by its
        reply (``_pulled``). One whose outcome stays in doubt is left for ``settle_pulls``; a
        request that did not run gives its number back."""
        state = self.state
        nonce = state.nonce
        args = TransferFromArgs(
            from_=Account(user), to=Account(self.id), amount=amount,
            memo=memo_of(f"sale pull {nonce}"), created_at_time=self.time,
        )  # fmt: skip
        flight = PullInFlight(
            user, amount, ledger, args, self.time + AWAIT_GIVEN_UP_NS, affiliate, deposit
        )
        self.state = evolve(state, nonce=nonce + 1, pulls=state.pulls.set(nonce, flight))
        pulled = self._pull_outcome(flight)
        if isinstance(pulled, LedgerFailure) and pulled.in_doubt:
            self.log(f"a pull of {amount} from {user} may have happened: {pulled.reason}")
            left = self.state.pulls.get(nonce)
            if left is not None:
                pulls = self.state.pulls.set(nonce, evolve(left, settle_from=self.time))
                self.state = evolve(self.state, pulls=pulls)
            reason = f"{pulled.reason} (settle_pulls() settles it)"
            return LedgerFailure(reason, in_doubt=True)
        self._pulled(nonce, pulled)
        if isinstance(pulled, LedgerFailure) and self.state.nonce == nonce + 1:
            self.state = evolve(self.state, nonce=nonce)
        return pulled

    def _pull_outcome(self, flight: PullInFlight) -> int | LedgerFailure:
        """Send ``flight``'s request (and the identical request after a reject) and say what
        happened: its block, a failure, or in doubt (``settle_or_look_up``: a ledger can commit
        a pull and then fail)."""
        args = flight.args
        return settle_or_look_up(
            self, flight.ledger, "icrc2_transfer_from", args, args.from_, Account(self.id)
        )

    def _pulled(self, nonce: int, outcome: int | LedgerFailure) -> None:
        """Apply a journalled pull's known outcome, once (the first message to learn it): a
        contribution that arrived is accepted, one refused lets its room go; a deposit counts as
        made, or not at all."""
        flight = self.state.pulls.get(nonce)
        if flight is None:
            return
        self.state = evolve(self.state, pulls=self.state.pulls.delete(nonce))
        arrived = not isinstance(outcome, LedgerFailure)
        if not flight.deposit:
            if arrived:
                self._accept(flight.user, flight.amount, flight.affiliate)
            else:
                self._hold(flight.user, flight.amount, -1)
        elif arrived:
            self.state = evolve(self.state, depositing=False)
        else:
            self.state = evolve(
                self.state, tokens_deposited=0, tokens_required=0, depositing=False
            )
        if self.state.status is SaleState.REFUNDING:  # the refunds wait for every pull
            self._arm_refunds()

    @update
    def settle_pulls(self) -> int:
        """Anyone: settle pulls that no message will settle (their message trapped after the
        call, ``AWAIT_GIVEN_UP_NS`` ago, or ended with the outcome in doubt): each is sent
        again, identical, so the ledger runs it or says it already did, and past the ledger's
        window its log tells. The contribution is then accepted or its room let go, the deposit
        made or not. How many pulls are still in flight."""
        self._settle_due_pulls()
        return len(self.state.pulls)

    def _settle_due_pulls(self) -> None:
        for nonce in due_first(self.state.pulls, self.time, SETTLE_BATCH):
            flight = self.state.pulls.get(nonce)
            if flight is None:
                continue
            outcome = self._pull_outcome(flight)
            if not (isinstance(outcome, LedgerFailure) and outcome.in_doubt):
                self._pulled(nonce, outcome)
            elif (left := self.state.pulls.get(nonce)) is not None:  # due again from now
                pulls = self.state.pulls.set(nonce, evolve(left, settle_from=self.time))
                self.state = evolve(self.state, pulls=pulls)

    def _purchase_fee(self) -> int | str:
        return self._fee_of(self.config.purchase_token)

    @update
    def contribute(
        self, amount: int, affiliate: Principal | None = None
    ) -> Ok[int] | Err[LaunchpadError]:
        """Put ``amount`` of the purchase token into the sale (approve it plus one ledger fee):
        pulled by ``icrc2_transfer_from`` into escrow once every rule holds. Only what fits under
        the hard cap is taken; the amount taken. ``affiliate`` (not the caller, not the sale)
        earns the commission on it. The minimum applies until a first contribution has landed.
        One that would leave the caller with no sale token is refused (``BuysNothing``: counted
        on what has landed and what is taken; a fair launch's share as if the hard cap were
        raised)."""
        user = self.caller
        refused = require_identified(user, PARTICIPANT)
        if refused is not None:
            return Err(refused.error)
        if not is_nat(amount) or amount == 0:
            return Err(InvalidRequest(("amount must be an int > 0",)))
        if affiliate is not None:
            problem = require_identified(affiliate, "affiliate")
            if problem is not None:
                return Err(problem.error)
            if affiliate == user:
                return Err(InvalidRequest(("a participant cannot be its own affiliate",)))
            if affiliate == self.id:
                return Err(InvalidRequest(("the sale cannot be an affiliate: its commission "
                                           "would never leave the escrow",)))
        fee = self._purchase_fee()
        if isinstance(fee, str):
            return Err(TransferFailed(fee))
        take = self._admissible(user, amount, fee)
        if not isinstance(take, int):
            return Err(take)
        self._hold(user, take, +1)
        paid = self._pull(self.config.purchase_token, user, take, affiliate)
        return Err(TransferFailed(paid.reason)) if isinstance(paid, LedgerFailure) else Ok(take)

    def _admissible(self, user: Principal, amount: int, fee: int) -> int | LaunchpadError:
        """What of ``amount`` the sale takes from ``user`` now, or why it takes nothing."""
        state = self._advance()
        if state not in _OPEN:
            return WrongState(state, "WhitelistOpen or SaleActive")
        config = self.config
        whitelist = config.whitelist
        if state is SaleState.WHITELIST_OPEN and (
            whitelist is None or user not in whitelist.members
        ):  # fmt: skip
            return NotWhitelisted(user)
        held = self.state.participants.get(user)
        before = 0 if held is None else held.contribution + held.pending
        if before + amount > config.max_contribution:
            return AboveMaximum(config.max_contribution, before + amount)
        room = config.hard_cap - self.state.raised - self.state.reserved
        if room <= 0:
            return WrongState(state, "room under the hard cap (it is reached)")
        take = min(amount, room)
        first = held is None or held.contribution == 0  # one in flight may still fail
        if first and take < config.min_contribution and take < amount:
            pass  # the last room under the hard cap: the minimum does not apply
        elif first and take < config.min_contribution:
            return BelowMinimum(config.min_contribution, take)
        landed = 0 if held is None else held.contribution  # one in flight may still fail
        if sure_allocation(config, landed + take) == 0:
            return BuysNothing(take)
        if before + take <= fee:
            return InvalidRequest((f"a contribution must be above the ledger fee ({fee})",))
        return take

    def _hold(self, user: Principal, take: int, sign: int) -> None:
        """Hold ``take`` as ``user``'s contribution in flight, and its room (+1), or let it go
        (-1). In flight, it counts against the caps but is neither raised nor refundable."""
        state = self.state
        held = state.participants.get(user)
        if held is None:
            held = Participant(contribution=0, first_at=self.time)
        pending = held.pending + sign * take
        gone = pending == 0 and held.contribution == 0 and held.seq is None
        participants = (
            state.participants.delete(user) if gone
            else state.participants.set(user, evolve(held, pending=pending))
        )  # fmt: skip
        self.state = evolve(
            state, participants=participants, reserved=state.reserved + sign * take
        )

    def _bought(self, before: int, after: int) -> int:
        """Change in the fixed-price allocation of a participant going from ``before`` to
        ``after`` (0 for a fair launch, whose allocations are set at the end)."""
        sale_type = self.config.sale_type
        if not isinstance(sale_type, FixedPrice):
            return 0
        decimals = self.config.sale_decimals
        return fixed_allocation(after, sale_type.price, decimals) - fixed_allocation(
            before, sale_type.price, decimals
        )

    def _accept(self, user: Principal, take: int, affiliate: Principal | None) -> None:
        """The ledger took ``take``: it is raised, and ``user`` joins the contributors (in the
        order of their first accepted contribution) if new."""
        state = self.state
        held = state.participants[user]
        joined = held.seq is None
        accepted = evolve(
            held, contribution=held.contribution + take, pending=held.pending - take,
            seq=len(state.order) if joined else held.seq,
        )  # fmt: skip
        referrals = state.referrals
        if affiliate is not None:
            referrals = referrals.set(affiliate, referrals.get(affiliate, 0) + take)
        self.state = evolve(
            state, raised=state.raised + take, reserved=state.reserved - take,
            participants=state.participants.set(user, accepted), referrals=referrals,
            order=state.order.append(user) if joined else state.order,
            allocated=state.allocated + self._bought(held.contribution, accepted.contribution),
        )  # fmt: skip
        status = self.state.status
        if status not in _OPEN:
            self._late(status, held, accepted)
        if joined:
            self.notify_role(user, PARTICIPANT)
        if self.state.raised == self.config.hard_cap and self.state.status in _OPEN:
            self._enter(self._ending(self.time))

    def _late(self, status: SaleState, before: Participant, participant: Participant) -> None:
        """A contribution admitted while the sale was open whose transfer completed after it
        closed (a ledger that answered late): it counts like any other, and is refunded like
        any other if the sale is refunding or refunded."""
        if status is SaleState.SUCCESSFUL:
            self.state = evolve(self.state, **self._final_allocations())
            return
        if status not in (SaleState.REFUNDING, SaleState.REFUNDED):
            return
        assert participant.seq is not None
        cursor = min(self.state.refund_cursor, participant.seq)
        was_refunded = _refunded(before)
        self.state = evolve(
            self.state, refund_cursor=cursor,
            refunded_count=self.state.refunded_count - was_refunded,
        )  # fmt: skip
        if status is SaleState.REFUNDED:
            self._reopen_refunds(arm=True)

    # -- finalize -------------------------------------------------------------------------------

    def _arm_finalize(self) -> None:
        if self.state.finalize_timer is None and self.state.pipeline is None:
            timer = self.set_timer(within_clock(self.time, FINALIZE_AFTER_NS), "_auto_finalize")
            self.state = evolve(self.state, finalize_timer=timer)

    def _auto_finalize(self) -> None:
        self.state = evolve(self.state, finalize_timer=None)
        if self.state.status is SaleState.SUCCESSFUL:
            if self.state.reserved:
                self._settle_due_pulls()  # a late contribution keeps the sale Successful
            if self.state.reserved:
                self._arm_finalize()
            else:
                self._start_pipeline()

    @update
    def finalize(self) -> Ok[SaleState] | Err[LaunchpadError]:
        """Anyone, once the sale is Successful (it starts by itself ``FINALIZE_AFTER_NS``
        after): run the pipeline. The state after it: Finalized, or Finalizing with the failed
        step in ``get_pipeline()``."""
        state = self._advance()
        if state is not SaleState.SUCCESSFUL:
            return Err(WrongState(state, "Successful (a failed step resumes with retry_pipeline)"))
        if self.state.reserved:
            self._settle_due_pulls()
            state = self.state.status
        if state is not SaleState.SUCCESSFUL or self.state.reserved:
            return Err(WrongState(state, "no contribution still in flight (retry shortly)"))
        return Ok(self._start_pipeline())

    def _start_pipeline(self) -> SaleState:
        timer = self.state.finalize_timer
        if timer is not None:
            self.cancel_timer(timer)
        state = self.state
        self.state = evolve(
            state, status=SaleState.FINALIZING, finalize_timer=None,
            pipeline=PipelineState(started_at=self.time),
            history=(*state.history, (SaleState.FINALIZING, self.time)),
        )  # fmt: skip
        self.notify_status(str(SaleState.FINALIZING))
        return self._continue_pipeline()

    @update
    def retry_pipeline(self) -> Ok[SaleState] | Err[LaunchpadError]:
        """Anyone, while Finalizing after a failed step, or after a run its message left
        unfinished (a trap, ``AWAIT_GIVEN_UP_NS`` ago or before an upgrade): resume from the
        first step not done (what it had done is recognised, never redone)."""
        pipeline = self.state.pipeline
        failed = None if pipeline is None else next(
            (r.step for r in pipeline.steps if r.status is StepStatus.FAILED), None
        )  # fmt: skip
        since = None if pipeline is None else pipeline.running_since
        stalled = since is not None and since + AWAIT_GIVEN_UP_NS <= self.time
        if self.state.status is not SaleState.FINALIZING or not (failed or stalled):
            return Err(WrongState(self.state.status, "Finalizing with a failed step"))
        if failed is not None:
            self._mark(failed, StepStatus.PENDING, pipeline.record(failed).error)
        return Ok(self._continue_pipeline())

    def _continue_pipeline(self) -> SaleState:
        self._set_pipeline(running_since=self.time)
        done = self._run_steps()
        self._set_pipeline(running_since=None)
        if done and self.state.status is SaleState.FINALIZING:
            state = self.state
            self.state = evolve(
                state, status=SaleState.FINALIZED,
                history=(*state.history, (SaleState.FINALIZED, self.time)),
            )  # fmt: skip
            self.notify_status(str(SaleState.FINALIZED))
        return self.state.status

    @query
    def get_pipeline(self) -> PipelineState | None:
        """Each step's state, the contracts and pool created, every transfer planned and sent,
        and the last error."""
        return self.state.pipeline if self._may_read() else None

    # -- refunds --------------------------------------------------------------------------------

    def _start_refunds(self) -> None:
        """Failed or Cancelled: on to Refunding, the first batch at once."""
        state = self.state
        self.state = evolve(
            state, status=SaleState.REFUNDING,
            history=(*state.history, (SaleState.REFUNDING, self.time)),
        )  # fmt: skip
        self._arm_refunds()

    def _arm_refunds(self) -> None:
        if self.state.refund_timer is None:
            timer = self.set_timer(0, "_refund_batch")
            self.state = evolve(self.state, refund_timer=timer)

    def _refund_batch(self) -> None:
        """Refund up to ``REFUND_BATCH`` contributors; arm the next batch, or stop at a fault
        (``retry_refunds`` resumes), or finish."""
        self.state = evolve(self.state, refund_timer=None)
        if self.state.status is not SaleState.REFUNDING:
            return
        fee = self._purchase_fee()
        if isinstance(fee, str):
            self.state = evolve(self.state, refund_error=fee)
            return
        for _ in range(REFUND_BATCH):
            index = self._next_owed()
            if index is None:
                self._finish_refunds()
                return
            problem = self._refund(index, fee)
            if problem is not None:
                self._stopped_refunding(problem)
                return
        if self._next_owed() is None:
            self._finish_refunds()
        else:
            self._arm_refunds()

    def _next_owed(self) -> int | None:
        """The first contributor still owed a refund: one a trapped message left in flight
        first, then by the cursor, which moves past those who are settled. A refund another
        message has in flight is neither owed nor settled yet: the cursor stops before it."""
        state = self.state
        sending = state.sending
        if sending:
            left = self._left_unfinished()
            if left is not None:
                return int(state.participants[left].seq or 0)
        cursor, order, participants = state.refund_cursor, state.order, state.participants
        while cursor < len(order) and not participants[order[cursor]].owed and (
            order[cursor] not in sending
        ):  # fmt: skip
            cursor += 1
        if cursor != state.refund_cursor:
            self.state = evolve(state, refund_cursor=cursor)
        index = cursor
        while index < len(order) and (
            order[index] in sending or not participants[order[index]].owed
        ):  # fmt: skip
            index += 1
        return index if index < len(order) else None

    def _refund(self, index: int, fee: int) -> str | None:
        """Refund one contributor what the sale took from them and has not given back, less
        one fee: recorded first, undone if the ledger refuses. Every try of the same refund is
        the same request (amount, memo, ``created_at_time``), so a refund whose reply was lost
        is the ledger's duplicate, never paid twice; past the ledger's window its log says
        whether it ran, and one that never did is planned anew. A plan covers what was owed
        when it was made: a late contribution meanwhile is refunded by the next plan."""
        user = self.state.order[index]
        held = self.state.participants[user]
        if user in self.state.sending:  # left unfinished by a trapped message: undo its mark
            assert held.refund_planned is not None and self._left_unfinished() == user
            held = evolve(held, refund_paid=held.refund_paid - held.refund_planned[2])
            self._put_participant(user, held)
        plan = held.refund_planned
        if plan is None:
            covers = held.contribution - held.refund_paid
            plan = (covers - fee, self.time, covers)
        amount, at, covers = plan
        if amount <= 0:
            self.log(f"{user}'s last {covers} do not cover a fee")
            self._put_participant(
                user, evolve(held, refund_paid=held.refund_paid + covers, refund_planned=None)
            )
            return None
        self._put_participant(
            user, evolve(held, refund_paid=held.refund_paid + covers, refund_planned=plan)
        )
        self._sending(user, self.time)
        memo = memo_of(f"sale refund {user} {held.refund_paid}")
        ledger = self.config.purchase_token

        def request(created_at: int) -> TransferArgs:
            return TransferArgs(
                to=Account(user), amount=amount, memo=memo, created_at_time=created_at
            )

        def replan() -> TransferArgs:
            now = self.state.participants[user]
            self._put_participant(user, evolve(now, refund_planned=(amount, self.time, covers)))
            return request(self.time)

        sent = settle_or_find(self, ledger, "icrc1_transfer", request(at), Account(user), replan)
        self._sending(user, None)
        now = self.state.participants[user]
        if isinstance(sent, LedgerFailure):
            # A refused request (it did not happen) may be planned anew; one whose outcome is
            # unknown keeps its plan, so a retry is the ledger's duplicate (or, past the
            # ledger's window, is looked up in its log).
            keep = now.refund_planned if sent.in_doubt else None
            self._put_participant(
                user, evolve(now, refund_paid=now.refund_paid - covers, refund_planned=keep)
            )
            self.state = evolve(self.state, refund_cursor=min(self.state.refund_cursor, index))
            return f"refund to {user}: {sent.reason}"
        self._put_participant(user, evolve(now, refund_block=sent, refund_planned=None))
        return None

    def _sending(self, user: Principal, since: int | None) -> None:
        """Mark ``user``'s refund as in flight from ``since`` (with the watch armed), or no
        longer (``None``)."""
        state = self.state
        if since is None:
            if user in state.sending:
                self.state = evolve(state, sending=state.sending.delete(user))
            return
        self.state = evolve(state, sending=state.sending.set(user, since))
        self._arm_watch()

    def _arm_watch(self) -> None:
        if self.state.watch_timer is None:
            delay = within_clock(self.time, AWAIT_GIVEN_UP_NS)
            self.state = evolve(self.state, watch_timer=self.set_timer(delay, "_watch"))

    def _left_unfinished(self) -> Principal | None:
        """The first contributor (by the refund order) whose refund a trapped message left in
        flight: sent ``AWAIT_GIVEN_UP_NS`` ago or more."""
        state, now = self.state, self.time
        left = [user for user, at in state.sending.items() if at + AWAIT_GIVEN_UP_NS <= now]
        return min(left, key=lambda user: int(state.participants[user].seq or 0), default=None)

    def _watch(self) -> None:
        """Timer, ``AWAIT_GIVEN_UP_NS`` after a refund, a deposit return or a wait for a pull
        began: settle the pulls that are due, and resume the refunds if a message left them
        unfinished (it trapped after its call), Refunded → Refunding again if need be. Armed
        again while a pull or a refund is still in flight."""
        self.state = evolve(self.state, watch_timer=None)
        if self.state.pulls:
            self._settle_due_pulls()
        state = self.state
        stuck = self._left_unfinished() is not None or (
            state.status is SaleState.REFUNDING and state.refund_timer is None
            and state.refund_error is None
        )  # fmt: skip
        if stuck and state.status is SaleState.REFUNDED:
            self._reopen_refunds(arm=True)
        elif stuck and state.status is SaleState.REFUNDING:
            self._arm_refunds()
        if self.state.pulls or self.state.sending:
            self._arm_watch()

    def _put_participant(self, user: Principal, participant: Participant) -> None:
        """Store ``participant`` with the refund totals following the change: the amount
        refunded, and the count of contributors refunded in full."""
        state = self.state
        old = state.participants[user]
        self.state = evolve(
            state, participants=state.participants.set(user, participant),
            refunded_amount=state.refunded_amount + participant.refund_paid - old.refund_paid,
            refunded_count=state.refunded_count + _refunded(participant) - _refunded(old),
        )  # fmt: skip

    def _stopped_refunding(self, problem: str) -> None:
        """A refund (or the deposit's return) failed: the batch stops here, with the reason
        for ``retry_refunds``. If another message finished the refunds meanwhile (it saw this
        contributor as paid while the transfer was in flight), they are open again."""
        self.state = evolve(self.state, refund_error=problem)
        if self.state.status is SaleState.REFUNDED:
            self._reopen_refunds()

    def _reopen_refunds(self, arm: bool = False) -> None:
        """Refunded → Refunding again (the next batch armed at once if ``arm``)."""
        state = self.state
        self.state = evolve(
            state, status=SaleState.REFUNDING,
            history=(*state.history, (SaleState.REFUNDING, self.time)),
        )  # fmt: skip
        if arm:
            self._arm_refunds()
        self.notify_status(str(SaleState.REFUNDING))

    def _finish_refunds(self) -> None:
        """Everyone is refunded: give an existing token's deposit back; Refunded. A pull (a late
        contribution or the deposit) or a refund another message still has in flight is waited
        for: that message arms the refunds again (or finishes them) once the ledger has
        answered, or the watch does once it lapses."""
        if self.state.pulls:  # one a trapped message left may be owed a refund, or returned
            self._settle_due_pulls()
            if self._next_owed() is not None:
                self._arm_refunds()
                return
        state = self.state
        if state.depositing or state.sending or state.pulls:
            self._arm_watch()  # their messages finish the refunds, or the watch once they lapse
            return
        sale_token = self.config.sale_token
        if isinstance(sale_token, ExistingToken) and state.tokens_deposited and not (
            state.tokens_returned
        ):  # fmt: skip
            problem = self._return_tokens(sale_token.ledger)
            if problem is not None:
                self._stopped_refunding(problem)
                return
            if self._next_owed() is not None or self.state.pulls or self.state.sending:
                self._arm_refunds()  # a contribution landed while the deposit went back
                return
        watch = self.state.watch_timer
        if watch is not None:  # nothing is left in flight to watch
            self.cancel_timer(watch)
        self.state = evolve(
            self.state, status=SaleState.REFUNDED, refund_error=None, watch_timer=None,
            history=(*self.state.history, (SaleState.REFUNDED, self.time)),
        )  # fmt: skip
        self.notify_status(str(SaleState.REFUNDED))

    def _return_tokens(self, ledger: Principal) -> str | None:
        """Give the creator's deposit back, less one fee: one request, planned once and sent
        alike on every try (the ledger deduplicates one whose reply was lost; past its window
        its log tells), counted as returned once the ledger has taken it."""
        plan = self.state.deposit_return
        if plan is None:
            fee = self._fee_of(ledger)
            if isinstance(fee, str):
                return f"sale tokens not returned: {fee}"
            deposited = self.state.tokens_deposited
            if deposited <= fee:
                self.state = evolve(self.state, tokens_returned=True)
                return None
            plan = (deposited - fee, self.time)
            self.state = evolve(self.state, deposit_return=plan)
        amount, at = plan
        owner = Account(self.meta.owner)

        def request(created_at: int) -> TransferArgs:
            memo = memo_of("sale deposit return")
            return TransferArgs(to=owner, amount=amount, memo=memo, created_at_time=created_at)

        def replan() -> TransferArgs:
            self.state = evolve(self.state, deposit_return=(amount, self.time))
            return request(self.time)

        self._arm_watch()
        sent = settle_or_find(self, ledger, "icrc1_transfer", request(at), owner, replan)
        if isinstance(sent, LedgerFailure):
            if not sent.in_doubt:
                self.state = evolve(self.state, deposit_return=None)
            return f"sale tokens not returned: {sent.reason}"
        self.state = evolve(self.state, tokens_returned=True)
        return None

    @update
    def retry_refunds(self) -> Ok[RefundProgress] | Err[LaunchpadError]:
        """Anyone, while refunding: resume after a fault; the progress after one batch."""
        if self.state.status is not SaleState.REFUNDING:
            return Err(WrongState(self.state.status, "Refunding"))
        armed = self.state.refund_timer
        if armed is not None:
            self.cancel_timer(armed)
        self.state = evolve(self.state, refund_error=None, refund_timer=None)
        self._refund_batch()
        return Ok(self._progress())

    # -- reads ----------------------------------------------------------------------------------

    def _may_read(self, about: Principal | None = None) -> bool:
        caller = self.caller
        return (
            self.meta.is_public or caller in (self.meta.owner, self.meta.factory, about)
            or caller in self.state.participants
        )  # fmt: skip

    def _allocation(self, contribution: int) -> int:
        config, state = self.config, self.state
        if isinstance(config.sale_type, FixedPrice):
            return fixed_allocation(contribution, config.sale_type.price, config.sale_decimals)
        if state.raised == 0:
            return 0
        return fair_allocation(contribution, state.raised, config.tokens_for_sale)

    @query
    def get_sale(self) -> SaleInfo | None:
        if not self._may_read():
            return None
        state, config = self.state, self.config
        phase = self._phase()
        history = state.history + tuple((s, at) for s, at, _ in self._transitions(self.time))
        return SaleInfo(
            id=self.id, name=config.project.name, state=phase,
            sale_type=type(config.sale_type).__name__, raised=state.raised,
            soft_cap=config.soft_cap, hard_cap=config.hard_cap, participants=len(state.order),
            tokens_for_sale=config.tokens_for_sale, allocated=state.allocated,
            sale_start=config.sale_start, sale_end=config.sale_end, history=history,
        )  # fmt: skip

    @query
    def get_state(self) -> SaleState:
        return self._phase()

    @query
    def get_config(self) -> LaunchpadConfig | None:
        return self.config if self._may_read() else None

    def _participant_info(self, user: Principal, held: Participant) -> ParticipantInfo:
        refunding = self.state.status in (SaleState.REFUNDING, SaleState.REFUNDED)
        status = (
            RefundStatus.OWED if refunding and held.owed
            else RefundStatus.REFUNDED if held.refund_block is not None and not held.owed
            else RefundStatus.NOT_DUE
        )  # fmt: skip
        return ParticipantInfo(
            user=user, contribution=held.contribution,
            allocation=self._allocation(held.contribution), refund=status,
            refund_block=held.refund_block,
        )  # fmt: skip

    @query
    def get_participant(self, user: Principal) -> ParticipantInfo | None:
        """``user``'s contribution, allocation and refund status."""
        held = self.state.participants.get(user)
        if held is None or not self._may_read(user):
            return None
        return self._participant_info(user, held)

    @query
    def get_participants(
        self, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ParticipantInfo]:
        """Contributors in the order they first contributed."""
        check_page(offset, limit)
        if not self._may_read():
            return Page((), None, None)
        order = self.state.order
        users = order[offset : offset + limit]
        items = tuple(self._participant_info(u, self.state.participants[u]) for u in users)
        end = offset + len(items)
        return Page(items, len(order), end if end < len(order) else None)

    def _progress(self) -> RefundProgress:
        state = self.state
        return RefundProgress(
            state=state.status, contributors=len(state.order), refunded=state.refunded_count,
            owed=len(state.order) - state.refunded_count if state.status in (
                SaleState.REFUNDING, SaleState.REFUNDED) else 0,
            amount_refunded=state.refunded_amount, last_error=state.refund_error,
            tokens_returned=state.tokens_returned,
        )  # fmt: skip

    @query
    def get_refund_progress(self) -> RefundProgress | None:
        return self._progress() if self._may_read() else None

    @query
    def get_stats(self) -> SaleStats | None:
        info = self.get_sale()
        if info is None:
            return None
        state = self.state
        return SaleStats(
            state=info.state, raised=state.raised, in_flight=state.reserved,
            participants=info.participants, soft_cap_progress_bp=info.soft_cap_progress_bp,
            hard_cap_progress_bp=info.hard_cap_progress_bp, allocated=info.allocated,
            leftover=state.leftover, affiliates=len(state.referrals),
        )  # fmt: skip

    @query
    def get_affiliates(self) -> tuple[tuple[Principal, int], ...]:
        """Each affiliate and the contributions that named it (its commission is
        ``referred x affiliate_bp // 10,000``)."""
        return tuple(sorted(self.state.referrals.items())) if self._may_read() else ()


def _refunded(participant: Participant) -> bool:
    """Whether ``participant`` counts as refunded: something was refunded and nothing is owed."""
    return participant.refund_paid > 0 and not participant.owed
