"""``Distribution``: hands one token to recipients on vesting schedules, with real ledger payouts.

Lifecycle: Created → Funded (the owner's ``fund()`` pulls total + fee reserve by
``icrc2_transfer_from``, or ``activate()`` sees a direct deposit) → Active from the start →
Completed at the end (claims go on until everything is taken). The owner may pause an Active
distribution (it pays nothing while paused; the schedule keeps running) and, if it is
cancellable, cancel it: vesting stops at that instant, what had vested stays claimable, and the
unvested remainder and the spare fee reserve go back to the owner.

Every payout is recorded before its ledger transfer, a deduplicated request (memo numbered by
the distribution, ``created_at_time``) journalled in ``requests`` and sent again identical after
a reject, and undone only if the ledger surely never ran it; one left in doubt counts as paid
until ``settle_transfers`` sends the same request. ``fund``'s and top-ups' pulls are journalled
the same way (counted once they landed). So a fault never pays or pulls twice or loses a claim.
A recipient receives exactly what they claim while the fee reserve lasts; anyone may top it up
(``top_up_reserve``). The owner's additions before the start
keep the promises each category made (its places, whitelisted amounts, equal shares). Every
recipient added, registered or removed reaches the factory (role ``recipient``), through the
contract's outbox when the factory does not answer.
"""

from __future__ import annotations

from typing import Any, Final

import immutables

from icto.collections import SortedSet
from icto.collections.records import evolve
from icto.collections.vector import Vector, newest_first
from icto.distribution.config import (
    MAX_AMOUNT,
    Category,
    DistributionConfig,
    Fixed,
    MerkleRoot,
    Open,
    Whitelist,
    Window,
    max_recipients,
    validate_distribution_config,
)
from icto.distribution.merkle import leaf, verify
from icto.distribution.schedule import BP, end_of, next_unlock, unlock_curve, unlocked
from icto.distribution.types import (
    RECIPIENT,
    Claim,
    ClaimPayout,
    DistributionError,
    DistributionState,
    InvalidRequest,
    LedgerRequest,
    NotEligible,
    NotFunded,
    NothingToClaim,
    NotOwner,
    NotRecipient,
    OwnerPayout,
    Participant,
    ParticipantInfo,
    PenaltyPayout,
    Phase,
    Pull,
    Stats,
    TransferFailed,
    WrongPhase,
)
from icto.factory.base import check_page
from icto.factory.contract import FactoryContract
from icto.factory.types import DEFAULT_PAGE, ContractInit, Page
from icto.ic.account import Account
from icto.ic.canister import query, update
from icto.ic.errors import CallRejected
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.ic.world import AWAIT_GIVEN_UP_NS
from icto.ledger.client import (
    LedgerFailure,
    due_first,
    ledger_error,
    memo_of,
    settle_or_look_up,
)
from icto.ledger.types import U64_MAX, TransferArgs, TransferFromArgs
from icto.validation import identified_problem, is_nat, nat_in

_NO_CLAIMS: SortedSet[int] = SortedSet()
_NOTHING: immutables.Map[int, int] = immutables.Map()
_PULLING = "a pull into the distribution (its funding or a reserve top-up) ran meanwhile: ask again"
_IN_DOUBT = "a transfer's outcome is in doubt: settle_transfers() first"
IN_FLIGHT_GIVEN_UP_NS: Final = AWAIT_GIVEN_UP_NS
"""How long a transfer counted as in flight holds the guards that wait for it: a message that
trapped after its ledger call leaves its count behind (its last segment rolled back)."""
SETTLE_BATCH: Final = 20
"""Ledger requests ``settle_transfers`` sends again per call at most."""



class Distribution(FactoryContract):
    """The distribution contract (installed by the Distribution Factory)."""

    VERSION = "1.0.0"

    state: DistributionState

    def init(self, arg: ContractInit) -> None:
        arg = self.checked_init(arg, validate_distribution_config)
        config: DistributionConfig = arg.config
        participants: dict[Principal, dict[int, int]] = {}
        eligible: dict[Principal, dict[int, int]] = {}
        registered: dict[int, int] = {}
        counts: dict[int, int] = {}
        for index, category in enumerate(config.categories):
            mode = category.recipients
            if isinstance(mode, Fixed):
                for principal, amount in mode.recipients:
                    participants.setdefault(principal, {})[index] = amount
                registered[index] = category.amount
                counts[index] = len(mode.recipients)
            elif isinstance(mode, Whitelist):
                for principal, amount in mode.recipients:
                    eligible.setdefault(principal, {})[index] = amount
        now = self.time
        self.state = DistributionState(
            meta=self.new_meta(arg.owner, config.is_public), config=config, status=Phase.CREATED,
            fee=0, reserve=0,
            participants=immutables.Map({
                principal: Participant(immutables.Map(shares), registered_at=now)
                for principal, shares in participants.items()
            }),
            eligible=immutables.Map({p: immutables.Map(s) for p, s in eligible.items()}),
            registered=immutables.Map(registered), counts=immutables.Map(counts),
            blacklist=immutables.Map(), claims=Vector(), claims_by_user=immutables.Map(),
        )  # fmt: skip

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Keep the state. Messages of the old code that awaited a transfer can do nothing
        after the upgrade, so no transfer is counted as in flight any more: every journalled
        request may be settled at once, and a penalty held for a payout no request stands for
        (its message was cut) waits in ``pending_penalty`` for ``send_penalties``."""
        super().post_upgrade(stable, arg)
        state = self.state
        requests = immutables.Map({
            nonce: evolve(request, settle_from=0, in_flight=False)
            for nonce, request in state.requests.items()
        })  # fmt: skip
        held = sum(
            request.purpose.penalty for request in requests.values()
            if isinstance(request.purpose, ClaimPayout)
        )  # fmt: skip
        self.state = evolve(
            state, requests=requests, penalty_held=held,
            pending_penalty=state.pending_penalty + state.penalty_held - held,
        )  # fmt: skip

    def has_role(self, user: Principal, role: str) -> bool:
        return role == RECIPIENT and user in self.state.participants

    # -- time ---------------------------------------------------------------------------------

    @property
    def config(self) -> DistributionConfig:
        config: DistributionConfig = self.state.config
        return config

    def _end(self) -> int:
        config = self.config
        return config.start + max(
            category.start_offset + end_of(category.schedule) for category in config.categories
        )

    def _phase(self) -> Phase:
        status = self.state.status
        if status is not Phase.FUNDED:
            return status
        now = self.time
        if now < self.config.start:
            return Phase.FUNDED
        return Phase.COMPLETED if now >= self._end() else Phase.ACTIVE

    def _still(self, status: Phase) -> bool:
        """Whether the status is still ``status`` after an await (another message may have
        changed it meanwhile)."""
        return bool(self.state.status is status)

    def _vesting_time(self) -> int:
        """Vesting runs until now, or froze when the distribution was cancelled."""
        cancelled = self.state.cancelled_at
        return self.time if cancelled is None else min(self.time, cancelled)

    def _unlocked(self, participant: Participant, at: int) -> int:
        if participant.early_unlocked:
            return participant.allocation
        categories = self.config.categories
        start = self.config.start
        return sum(
            unlocked(category.schedule, amount, at - start - category.start_offset,
                     category.initial_bp)
            for index, amount in participant.allocations.items()
            for category in (categories[index],)
        )  # fmt: skip

    def _claimable(self, participant: Participant) -> int:
        if not self.state.funded:
            return 0
        return max(0, self._unlocked(participant, self._vesting_time()) - participant.claimed)

    # -- funding --------------------------------------------------------------------------------

    def _reserve_needed(self, fee: int) -> int:
        config = self.config
        recipients = sum(max_recipients(category) for category in config.categories)
        return config.claims_covered * recipients * fee

    def _required(self, fee: int) -> int:
        return self.config.total_amount + self._reserve_needed(fee)

    @update
    def fund(self) -> Ok[int] | Err[DistributionError]:
        """Owner: pull exactly the total and the fee reserve from the owner's account
        (``icrc2_transfer_from``; approve the distribution for that plus one ledger fee)."""
        if self.caller != self.meta.owner:
            return Err(NotOwner(self.caller))
        if self.state.status is not Phase.CREATED:
            return Err(WrongPhase(self._phase(), "Created"))
        left = self._funding_pull()
        if left is not None:  # a pull left in doubt (or by a trapped message): the same again
            if self.state.requests[left].settle_from > self.time:
                return Err(InvalidRequest((_PULLING,)))  # another fund() is pulling
            settled, _ = self._send(left)
            if not isinstance(settled, LedgerFailure):
                return Ok(settled)
            if settled.in_doubt or not self._still(Phase.CREATED):
                return Err(self._failed(settled))
        token = self.config.token
        try:
            fee: int = self.call(token, "icrc1_fee")
        except CallRejected as rejected:
            return Err(TransferFailed(ledger_error(rejected.message)))
        if not self._still(Phase.CREATED):
            return Err(WrongPhase(self._phase(), "Created"))
        if self._funding_pull() is not None:
            return Err(InvalidRequest((_PULLING,)))  # another fund() is pulling
        required = self._required(fee)
        # Funded once the ledger took the funding (nothing is paid out of a pull in flight).
        result = self._pull(Account(self.meta.owner), required, Pull(fee))
        if isinstance(result, LedgerFailure):
            return Err(self._failed(result))
        return Ok(result)

    def _funding_pull(self) -> int | None:
        """The nonce of ``fund``'s pull if it is journalled (in flight or in doubt)."""
        for nonce, request in self.state.requests.items():
            if isinstance(request.purpose, Pull) and request.purpose.fee is not None:
                return int(nonce)
        return None

    def _pull(self, payer: Account, amount: int, purpose: Pull) -> int | LedgerFailure:
        """``amount`` taken from ``payer`` into the distribution's account by a journalled
        ``icrc2_transfer_from``: its block, or why it failed (in doubt: not counted until it
        is settled)."""
        args = TransferFromArgs(from_=payer, to=Account(self.id), amount=amount)
        outcome, _ = self._send(self._journal(args, purpose))
        return outcome

    # -- ledger requests ------------------------------------------------------------------------

    def _journal(self, args: Any, purpose: Any, debit: int = 0, burn: bool = False) -> int:
        """Journal a ledger request before it is sent, ``args`` given a memo numbered by the
        distribution and a ``created_at_time``, so the ledger tells a resend from a new
        request; a payout's ``debit`` counts in ``outflow`` from now. Its nonce."""
        state = self.state
        nonce = state.nonce
        args = evolve(args, memo=memo_of(f"distribution request {nonce}"),
                      created_at_time=self.time)  # fmt: skip
        request = LedgerRequest(args, purpose, debit, self.time + IN_FLIGHT_GIVEN_UP_NS, burn)
        self.state = evolve(
            state, nonce=nonce + 1, requests=state.requests.set(nonce, request),
            outflow=state.outflow + debit,
        )  # fmt: skip
        return nonce

    def _put_request(self, nonce: int, request: LedgerRequest) -> None:
        self.state = evolve(self.state, requests=self.state.requests.set(nonce, request))

    def _send(self, nonce: int) -> tuple[int | LedgerFailure, Claim | None]:
        """Send a journalled request (and the identical one after a reject; in doubt still, the
        ledger's log tells: ``settle_or_look_up``) and apply its outcome once known: the
        outcome, and the claim it recorded. One left in doubt stays journalled (a payout
        counted as paid, a pull as not made) for the identical request later."""
        request = self.state.requests[nonce]
        pull = request.is_pull
        state = self.state
        self.state = evolve(
            state, pulls=state.pulls + pull, requests=state.requests.set(nonce, evolve(
                request, settle_from=self.time + IN_FLIGHT_GIVEN_UP_NS, in_flight=True
            )),
        )  # fmt: skip
        args = request.args
        method = "icrc2_transfer_from" if pull else "icrc1_transfer"
        outcome = settle_or_look_up(
            self, self.config.token, method, args, args.from_ if pull else None,
            None if request.burn else args.to,
        )  # fmt: skip
        if isinstance(outcome, LedgerFailure) and not outcome.in_doubt:
            # nothing moved: as if it had never started
            self.state = evolve(self.state, pulls=self.state.pulls - pull)
            made = self._apply(nonce, outcome)
            if self.state.nonce == nonce + 1:
                self.state = evolve(self.state, nonce=nonce)  # it never ran: its number is free
            return outcome, made
        if isinstance(outcome, LedgerFailure):
            self.log(f"ledger request {nonce} is in doubt: {outcome.reason}")
            left = self.state.requests.get(nonce)
            if left is not None:
                self._put_request(nonce, evolve(left, settle_from=self.time, in_flight=False))
            return outcome, None
        return outcome, self._apply(nonce, outcome)

    def _apply(self, nonce: int, outcome: int | LedgerFailure) -> Claim | None:
        """Apply a journalled request's known outcome, once (the first message to learn it): a
        payout that ran records its claim (an early unlock's penalty then waits in
        ``pending_penalty``), one that never ran is undone; a pull that ran funds the
        distribution or adds to its reserve. The claim recorded, if any."""
        request = self.state.requests.get(nonce)
        if request is None:
            return None
        state = self.state
        self.state = evolve(
            state, requests=state.requests.delete(nonce),
            outflow=state.outflow - (request.debit if isinstance(outcome, LedgerFailure) else 0),
        )  # fmt: skip
        purpose = request.purpose
        if isinstance(outcome, LedgerFailure):
            self._undo(purpose)
            return None
        state = self.state
        if isinstance(purpose, Pull) and purpose.fee is None:
            amount = request.args.amount
            self.state = evolve(
                state, topped_up=state.topped_up + amount, reserve=state.reserve + amount
            )
        elif isinstance(purpose, Pull) and purpose.fee is not None:  # a top-up stays counted
            self.state = evolve(
                state, status=Phase.FUNDED, funded=True, fee=purpose.fee,
                reserve=state.reserve + self._reserve_needed(purpose.fee),
            )  # fmt: skip
        elif isinstance(purpose, ClaimPayout):
            self.state = evolve(
                state, penalty_held=state.penalty_held - purpose.penalty,
                pending_penalty=state.pending_penalty + purpose.penalty,
            )  # fmt: skip
            return self._record(
                purpose.user, request.args.amount, purpose.fee, purpose.from_reserve, outcome,
                purpose.kind,
            )  # fmt: skip
        return None

    def _undo(self, purpose: Any) -> None:
        """Undo the books of a request that never ran (a pull's were never made)."""
        state = self.state
        if isinstance(purpose, ClaimPayout):
            participant = state.participants[purpose.user]
            restored = evolve(
                participant, claimed=participant.claimed - purpose.taken,
                early_unlocked=participant.early_unlocked and purpose.kind != "early_unlock",
            )  # fmt: skip
            self.state = evolve(
                state, participants=state.participants.set(purpose.user, restored),
                total_claimed=state.total_claimed - purpose.taken,
                total_penalties=state.total_penalties - purpose.penalty,
                reserve=state.reserve + purpose.reserve_used,
                penalty_held=state.penalty_held - purpose.penalty,
            )  # fmt: skip
        elif isinstance(purpose, PenaltyPayout):
            self.log(f"penalty of {purpose.amount} not sent yet")
            self.state = evolve(state, pending_penalty=state.pending_penalty + purpose.amount)
        elif isinstance(purpose, OwnerPayout):
            registered = state.registered
            for index, amount in purpose.registered:
                registered = registered.set(index, registered[index] - amount)
            self.state = evolve(
                state, registered=registered, reserve=state.reserve + purpose.reserve_back
            )
            if purpose.status is not None:  # a cancel's refund: the cancel is undone
                self.state = evolve(
                    self.state, status=purpose.status, cancelled_at=None, owner_refund=None
                )

    @staticmethod
    def _failed(failure: LedgerFailure) -> TransferFailed:
        """The answer to a transfer that failed, or whose outcome is in doubt."""
        if not failure.in_doubt:
            return TransferFailed(failure.reason)
        return TransferFailed(
            f"{failure.reason}; in doubt (a payout counts as paid, a pull as not made): "
            f"settle_transfers() sends the same request again"
        )

    @update
    def settle_transfers(self) -> int:
        """Anyone: settle ledger requests that no message will settle (left in doubt, or their
        message trapped ``IN_FLIGHT_GIVEN_UP_NS`` ago), up to ``SETTLE_BATCH``, the longest due
        first: each sent again, identical, so the ledger runs it or answers ``Duplicate``; past
        its window its log tells. A payout that never ran is undone; an early unlock's penalty
        then waits for ``send_penalties``. How many are still unsettled."""
        for nonce in due_first(self.state.requests, self.time, SETTLE_BATCH):
            request = self.state.requests.get(nonce)
            if request is not None and request.settle_from <= self.time:
                self._send(nonce)
        return len(self.state.requests)

    def _in_doubt(self) -> bool:
        """Whether a journalled request is left in doubt (or by a trapped message)."""
        now = self.time
        return any(request.settle_from <= now for request in self.state.requests.values())

    @update
    def activate(self) -> Ok[Phase] | Err[DistributionError]:
        """Anyone: mark the distribution funded once its balance (from a direct deposit) covers
        the total and the fee reserve."""
        if self.state.status is not Phase.CREATED:
            return Err(WrongPhase(self._phase(), "Created"))
        token = self.config.token
        pulls = self.state.pulls
        try:
            fee: int = self.call(token, "icrc1_fee")
            outflow = self.state.outflow
            balance: int = self.call(token, "icrc1_balance_of", Account(self.id))
        except CallRejected as rejected:
            return Err(TransferFailed(ledger_error(rejected.message)))
        if not self._still(Phase.CREATED):
            return Err(WrongPhase(self._phase(), "Created"))
        if self._pulls_moved(pulls):
            return Err(InvalidRequest((_PULLING,)))
        balance -= self.state.outflow - outflow  # paid out by messages that ran meanwhile
        required = self._required(fee)
        if balance < required:
            return Err(NotFunded(required, balance))
        reserve = balance - self.config.total_amount
        self.state = evolve(
            self.state, status=Phase.FUNDED, funded=True, fee=fee, reserve=reserve
        )
        return Ok(self._phase())

    @update
    def top_up_reserve(self, amount: int) -> Ok[int] | Err[DistributionError]:
        """Anyone: add ``amount`` to the fee reserve, pulled from the caller's account by
        ``icrc2_transfer_from`` (approve the distribution for amount + one ledger fee), while a
        payout can still happen. Counted once the ledger has taken it; a plain transfer to the
        distribution is not counted. The new reserve."""
        payer = self.caller
        if not nat_in(amount, 1, U64_MAX):
            return Err(InvalidRequest(("amount must be an int from 1 to 2**64 - 1",)))
        if not self._payouts_ahead():
            return Err(WrongPhase(self._phase(), "funded, with payouts still to come"))
        pulled = self._pull(Account(payer), amount, Pull())
        if isinstance(pulled, LedgerFailure):
            return Err(self._failed(pulled))
        return Ok(self.state.reserve)

    def _pulls_moved(self, pulls: int) -> bool:
        """Whether a pull into the distribution (a top-up, or ``fund``'s) started or was in
        flight since ``pulls`` was read: a balance asked meanwhile may or may not hold it, so
        it cannot be set against what is owed; nor while one is left in doubt."""
        return self.state.pulls != pulls or any(r.is_pull for r in self.state.requests.values())

    def _payouts_ahead(self) -> bool:
        """Whether the distribution is funded and may still pay someone: a recipient is owed
        something (after a cancellation, what had vested), or a category may still take a
        recipient (by registering while its window is open, or, before the start, by the
        owner's addition)."""
        state = self.state
        if not state.funded or state.status is Phase.CREATED:
            return False
        if state.status is Phase.CANCELLED:
            return any(self._claimable(p) > 0 for p in state.participants.values())
        if any(p.claimed < p.allocation for p in state.participants.values()):
            return True
        now = self.time
        owner_may_add = state.status is Phase.FUNDED and now < self.config.start
        return any(
            category.amount > state.registered.get(index, 0)
            and (owner_may_add or not self._allocation_closed(index, now))
            for index, category in enumerate(self.config.categories)
        )

    # -- payouts --------------------------------------------------------------------------------

    @update
    def claim(self, amount: int | None = None) -> Ok[Claim] | Err[DistributionError]:
        """A recipient takes ``amount`` (default: everything claimable now). They receive
        exactly ``amount`` while the fee reserve lasts; after that the fee comes out of it."""
        user = self.caller
        participant = self.state.participants.get(user)
        if participant is None:
            return Err(NotRecipient(user))
        phase = self._phase()
        if phase not in (Phase.ACTIVE, Phase.COMPLETED, Phase.CANCELLED):
            return Err(WrongPhase(phase, "Active, Completed or Cancelled (and not paused)"))
        claimable = self._claimable(participant)
        wanted = claimable if amount is None else amount
        if not is_nat(wanted) or not 0 < wanted <= claimable:
            return Err(NothingToClaim(claimable))
        fee = self.state.fee
        from_reserve = self._reserve_pays(1) == 1
        sent = wanted if from_reserve else wanted - fee
        if sent <= 0:
            return Err(NothingToClaim(claimable))
        used = fee if from_reserve else 0
        self._take(user, wanted, used)
        payout = ClaimPayout(user, wanted, used, fee, from_reserve)
        outcome, record = self._pay(Account(user), sent, payout)
        if isinstance(outcome, LedgerFailure):
            return Err(self._failed(outcome))
        return Ok(record or self._claim_of(user, outcome))

    def _reserve_pays(self, fees: int) -> int:
        """How many of ``fees`` ledger fees the reserve pays: as many as it holds."""
        fee = self.state.fee
        return fees if fee == 0 else min(fees, self.state.reserve // fee)

    def _take(self, user: Principal, amount: int, reserve_used: int) -> None:
        """Count ``amount`` as claimed by ``user`` (negative: give it back)."""
        state = self.state
        participant = state.participants[user]
        taken = evolve(participant, claimed=participant.claimed + amount)
        self.state = evolve(
            state, participants=state.participants.set(user, taken),
            total_claimed=state.total_claimed + amount, reserve=state.reserve - reserve_used,
        )  # fmt: skip

    def _pay(
        self, to: Account, amount: int, purpose: Any, burn: bool = False
    ) -> tuple[int | LedgerFailure, Claim | None]:
        """One journalled ledger transfer from the distribution (a burn, to the minting
        account, costs no fee): its block and the claim recorded, or why it failed. The outflow
        is counted before the call; the caller's books (already made) are undone only if it
        surely never ran; one in doubt counts as paid until ``settle_transfers`` knows."""
        debit = amount + (0 if burn else self.state.fee)
        args = TransferArgs(to=to, amount=amount)
        return self._send(self._journal(args, purpose, debit, burn))

    def _claim_of(self, user: Principal, block: int) -> Claim:
        """``user``'s claim paid in ``block`` (recorded by the message that settled it)."""
        claims = self.state.claims
        ids = self.state.claims_by_user.get(user, _NO_CLAIMS)
        found: Claim = next(claims[i] for i in ids if claims[i].block == block)
        return found

    def _record(
        self, user: Principal, sent: int, fee: int, from_reserve: bool, block: int, kind: str
    ) -> Claim:
        state = self.state
        record = Claim(len(state.claims), user, sent, fee, from_reserve, self.time, block, kind)
        mine = state.claims_by_user.get(user, _NO_CLAIMS).add(record.id)
        self.state = evolve(
            state, claims=state.claims.append(record),
            claims_by_user=state.claims_by_user.set(user, mine),
        )  # fmt: skip
        return record

    @update
    def early_unlock(self) -> Ok[Claim] | Err[DistributionError]:
        """A recipient takes everything now, once: the vested part, and the unvested part less
        the penalty (``penalty_bp`` of it), which goes to the penalty account or is burned.
        Offered only when the config sets a penalty; later claims are refused."""
        user = self.caller
        if user not in self.state.participants:
            return Err(NotRecipient(user))
        config = self.config
        if config.penalty_bp == 0:
            return Err(InvalidRequest(("this distribution offers no early unlock",)))
        # Where a burn goes is asked first: between recording the unlock and counting its
        # payout there must be no await (a cancel meanwhile would refund it to the owner).
        penalty_to, burn = self._penalty_destination()
        participant = self.state.participants.get(user)
        if participant is None:
            return Err(NotRecipient(user))
        phase = self._phase()
        if phase is not Phase.ACTIVE or participant.early_unlocked:
            return Err(WrongPhase(phase, "Active, and not unlocked early before"))
        vested = self._unlocked(participant, self.time)
        unvested = participant.allocation - vested
        penalty = unvested * config.penalty_bp // BP
        wanted = participant.allocation - participant.claimed - penalty
        fee = self.state.fee
        fees = 2 if penalty and not burn else 1
        reserved = self._reserve_pays(fees)  # the payout's own fee first, then the penalty's
        used = reserved * fee
        sent = wanted - (fees - reserved) * fee
        if sent <= 0:
            return Err(NothingToClaim(wanted))
        before = self.state
        unlocked_early = evolve(participant, early_unlocked=True,
                                      claimed=participant.allocation)  # fmt: skip
        self.state = evolve(
            before, participants=before.participants.set(user, unlocked_early),
            total_claimed=before.total_claimed + wanted + penalty,
            total_penalties=before.total_penalties + penalty,
            reserve=before.reserve - used,
            penalty_held=before.penalty_held + penalty,
        )  # fmt: skip
        payout = ClaimPayout(user, wanted + penalty, used, fee, reserved > 0, "early_unlock",
                             penalty)  # fmt: skip
        outcome, record = self._pay(Account(user), sent, payout)
        if isinstance(outcome, LedgerFailure):  # in doubt, the penalty stays held
            return Err(self._failed(outcome))
        if penalty and record is not None:  # else the message that settled it sends it on
            self.state = evolve(self.state, pending_penalty=self.state.pending_penalty - penalty)
            self._send_penalty(penalty, penalty_to, burn)
        return Ok(record or self._claim_of(user, outcome))

    def _penalty_destination(self) -> tuple[Account | None, bool]:
        """Where forfeited amounts go, and whether that is a burn: no ``penalty_to``, or one
        that is the ledger's minting account (a transfer there is a burn, which costs no fee
        and is refused below the fee)."""
        minting = self._minting_account()
        to = self.config.penalty_to
        if to is None or to == minting:
            return minting, True
        return to, False

    def _send_penalty(self, penalty: int, to: Account | None, burn: bool) -> None:
        """Send a forfeited amount on; if the ledger does not take it, it waits in
        ``pending_penalty`` for ``send_penalties()``. One too small to burn (ICRC-1 ledgers
        refuse a burn below the fee) joins the fee reserve instead of waiting for ever."""
        if burn and penalty < self.state.fee:
            self.log(f"penalty of {penalty} is below the fee: kept in the fee reserve")
            self.state = evolve(self.state, reserve=self.state.reserve + penalty)
            return
        if to is None:
            self.log(f"penalty of {penalty} not sent yet: no minting account to burn to")
            self.state = evolve(
                self.state, pending_penalty=self.state.pending_penalty + penalty
            )
            return
        self._pay(to, penalty, PenaltyPayout(penalty), burn)  # one that never ran waits

    @update
    def send_penalties(self) -> int:
        """Anyone: retry sending forfeited amounts the ledger did not take; what is still
        pending."""
        if self.state.pending_penalty:
            to, burn = self._penalty_destination()
            pending = self.state.pending_penalty  # read after the await, and sent at once
            if pending:
                self.state = evolve(self.state, pending_penalty=0)
                self._send_penalty(pending, to, burn)
        return self.state.pending_penalty

    def _minting_account(self) -> Account | None:
        """Where a burn goes: the ledger's minting account (``None`` if it will not say)."""
        try:
            account: Account | None = self.call(self.config.token, "icrc1_minting_account")
        except CallRejected:
            return None
        return account

    # -- the owner ------------------------------------------------------------------------------

    def _owner_in(self, *phases: Phase) -> DistributionError | None:
        if self.caller != self.meta.owner:
            return NotOwner(self.caller)
        phase = self._phase()
        if phase not in phases:
            return WrongPhase(phase, " or ".join(phases))
        return None

    @update
    def pause(self) -> Ok[None] | Err[DistributionError]:
        """Owner: stop payouts (from Active only); the schedule keeps running."""
        refused = self._owner_in(Phase.ACTIVE)
        if refused is not None:
            return Err(refused)
        self.state = evolve(self.state, status=Phase.PAUSED, paused_at=self.time)
        return Ok(None)

    @update
    def resume(self) -> Ok[None] | Err[DistributionError]:
        refused = self._owner_in(Phase.PAUSED)
        if refused is not None:
            return Err(refused)
        self.state = evolve(self.state, status=Phase.FUNDED, paused_at=None)
        return Ok(None)

    @update
    def cancel(self) -> Ok[int] | Err[DistributionError]:
        """Owner, if cancellable: stop vesting now. What had vested stays claimable (with one
        fee kept per recipient who can still claim); the rest of the balance goes back to the
        owner, less that transfer's fee. The amount returned. Refused, changing nothing, if a
        reserve top-up was pulled while the balance was asked (ask again)."""
        refused = self._owner_in(Phase.CREATED, Phase.FUNDED, Phase.ACTIVE, Phase.PAUSED)
        if refused is not None:
            return Err(refused)
        if not self.config.cancellable:
            return Err(InvalidRequest(("this distribution is not cancellable",)))
        token = self.config.token
        pulls = self.state.pulls
        try:
            fee: int = self.call(token, "icrc1_fee")
            # Payouts sent before the balance is asked are in it; those sent while it is asked
            # are not (the ledger answers in order), so only they are taken off below.
            outflow = self.state.outflow
            balance: int = self.call(token, "icrc1_balance_of", Account(self.id))
        except CallRejected as rejected:
            return Err(TransferFailed(ledger_error(rejected.message)))
        before = self.state
        if before.status is Phase.CANCELLED:
            return Err(WrongPhase(Phase.CANCELLED, "not cancelled"))
        if self._pulls_moved(pulls):
            return Err(InvalidRequest((_PULLING,)))
        if self._in_doubt():  # the balance may or may not hold it
            return Err(InvalidRequest((_IN_DOUBT,)))
        balance -= before.outflow - outflow  # paid out by messages that ran meanwhile
        now = self.time
        self.state = evolve(before, status=Phase.CANCELLED, cancelled_at=now)
        owed, claimers = 0, 0
        if before.status is not Phase.CREATED:
            for participant in before.participants.values():
                left = self._claimable(participant)
                if left > 0:
                    owed += left
                    claimers += 1
        pending = before.pending_penalty + before.penalty_held
        penalty = pending + (fee if pending and self.config.penalty_to is not None else 0)
        back = balance - owed - claimers * fee - penalty - fee
        if back <= 0:
            spare = max(0, balance - owed - penalty)
            self.state = evolve(
                self.state, owner_refund=0, reserve=min(claimers * fee, spare)
            )
            return Ok(0)
        # While the refund is in flight, claims may take only fees that are both kept (one per
        # claimer) and in the reserve already, whichever way the refund ends.
        kept, reserve = claimers * fee, self.state.reserve
        held = min(kept, reserve)
        self.state = evolve(self.state, owner_refund=back, reserve=held)
        refund = OwnerPayout(status=before.status, reserve_back=reserve - held)
        outcome, _ = self._pay(Account(self.meta.owner), back, refund)
        if isinstance(outcome, LedgerFailure) and not outcome.in_doubt:
            return Err(self._failed(outcome))  # undone: status, refund and reserve
        # Paid, or in doubt and counted as paid: the fees kept for claimers join the reserve
        # (less what claims took meanwhile), and leave it again if the refund never ran.
        self.state = evolve(self.state, reserve=self.state.reserve + kept - held)
        if isinstance(outcome, LedgerFailure):
            for nonce, request in self.state.requests.items():
                if request.purpose == refund:
                    undo = evolve(refund, reserve_back=reserve - kept)
                    self._put_request(nonce, evolve(request, purpose=undo))
            return Err(self._failed(outcome))
        return Ok(back)

    @update
    def withdraw_unallocated(self) -> Ok[int] | Err[DistributionError]:
        """Owner: take back what nobody can be allocated any more (less the transfer's fee): a
        category's unregistered amount once its registration window has closed, and what fixed
        recipients removed before the start held, once it has come. The amount returned."""
        if self.caller != self.meta.owner:
            return Err(NotOwner(self.caller))
        if not self.state.funded or self.state.status is Phase.CANCELLED:
            return Err(WrongPhase(self._phase(), "funded and not cancelled"))
        now, state = self.time, self.state
        closed = {}
        for index, category in enumerate(self.config.categories):
            left = category.amount - state.registered.get(index, 0)
            if left > 0 and self._allocation_closed(index, now):
                closed[index] = left
        back = sum(closed.values()) - state.fee
        if back <= 0:
            return Err(InvalidRequest(("nothing unallocated in a closed window",)))
        registered = state.registered
        for index, left in closed.items():
            registered = registered.set(index, registered.get(index, 0) + left)
        self.state = evolve(state, registered=registered)
        returned = OwnerPayout(registered=tuple(closed.items()))
        outcome, _ = self._pay(Account(self.meta.owner), back, returned)
        if isinstance(outcome, LedgerFailure):  # undone if it never ran
            return Err(self._failed(outcome))
        return Ok(back)

    @update
    def withdraw_spare_reserve(self) -> Ok[int] | Err[DistributionError]:
        """Owner: once nobody can be paid any more (every recipient has had everything, and no
        category can take a recipient), take back the fee reserve left over, less the
        transfer's fee; otherwise it would stay in the contract for good. The amount
        returned."""
        if self.caller != self.meta.owner:
            return Err(NotOwner(self.caller))
        state = self.state
        if not state.funded or self._payouts_ahead():
            return Err(WrongPhase(self._phase(), "funded, with nobody left to pay"))
        if state.pending_penalty or state.penalty_held or state.requests:
            return Err(InvalidRequest(("a transfer is on its way: ask again later",)))
        back = state.reserve - state.fee
        if back <= 0:
            return Err(InvalidRequest(("the fee reserve holds no more than this transfer's fee",)))
        self.state = evolve(state, reserve=0)
        spare = OwnerPayout(reserve_back=state.reserve)
        outcome, _ = self._pay(Account(self.meta.owner), back, spare)
        if isinstance(outcome, LedgerFailure):  # undone if it never ran
            return Err(self._failed(outcome))
        return Ok(back)

    def _allocation_closed(self, index: int, now: int) -> bool:
        """Whether nobody can be given more of category ``index``: its registration window
        has closed; its recipients are fixed and the distribution has started (the owner adds
        recipients only before); or, once it has started, all its places are taken (nobody
        can leave one after the start)."""
        category = self.config.categories[index]
        mode = category.recipients
        if isinstance(mode, Fixed):
            return now >= self.config.start
        window: Window | None = getattr(mode, "window", None)
        if window is not None and now >= window.closes:
            return True
        full = self.state.counts.get(index, 0) >= max_recipients(category)
        return full and now >= self.config.start

    @update
    def add_recipient(
        self, user: Principal, category: int, amount: int
    ) -> Ok[None] | Err[DistributionError]:
        """Owner, before the start: give ``user`` ``amount`` in ``category``, keeping the
        category's promises: no more recipients than its fee reserve was sized for, room and
        places kept for whitelisted principals who have not registered yet, an ``Open``
        category's equal share; a ``MerkleRoot`` category takes no additions."""
        refused = self._owner_in(Phase.CREATED, Phase.FUNDED)
        if refused is not None:
            return Err(refused)
        problem = self._allocation_problem(user, category, amount, by_owner=True)
        if problem is not None:
            return Err(InvalidRequest((problem,)))
        self._allocate(user, category, amount)
        return Ok(None)

    def _allocation_problem(
        self, user: object, category: object, amount: object, by_owner: bool = False
    ) -> str | None:
        """Why ``user`` cannot be given ``amount`` in ``category`` (by registering, or by the
        owner's addition, which must also keep the category's promises), or ``None``."""
        problem = identified_problem(user, "recipient")
        if problem is not None:
            return problem
        categories = self.config.categories
        if not is_nat(category) or category >= len(categories):  # type: ignore[operator]
            return f"category must be an index from 0 to {len(categories) - 1}"
        if not is_nat(amount) or amount == 0:
            return "amount must be an int > 0"
        assert isinstance(category, int) and isinstance(amount, int)
        assert isinstance(user, Principal)
        if user in self.state.blacklist:
            return f"{user} is blacklisted"
        promise = self._promise_problem(user, category, amount) if by_owner else None
        if promise is not None:
            return promise
        room = categories[category].amount - self.state.registered.get(category, 0)
        if amount > room:
            return f"only {room} of the category is left to allocate"
        held = self.state.participants.get(user)
        if held is not None and category in held.allocations:
            return f"{user} already has an allocation in category {category}"
        return None

    def _promise_problem(self, user: Principal, index: int, amount: int) -> str | None:
        """Which promise of category ``index`` giving ``user`` ``amount`` would break: the
        recipients its fee reserve was sized for (``max_recipients``), the room and places kept
        for whitelisted principals who have not registered yet, an ``Open`` category's equal
        shares, a ``MerkleRoot`` category's places for those who prove them."""
        category = self.config.categories[index]
        mode = category.recipients
        if isinstance(mode, MerkleRoot):
            return "a Merkle category's recipients prove their place: the owner adds none"
        if index in self.state.eligible.get(user, _NOTHING):
            return f"{user} is on category {index}'s whitelist: they register for their amount"
        if isinstance(mode, Open) and amount != category.amount // mode.max_recipients:
            return f"an Open category's share is exactly {category.amount // mode.max_recipients}"
        waiting, kept = self._promised(index)
        room = category.amount - self.state.registered.get(index, 0) - kept
        if amount > room:
            return f"only {max(0, room)} of the category is left to allocate"
        most = max_recipients(category)
        if self.state.counts.get(index, 0) + waiting >= most:
            return f"the category's {most} places are taken or kept for its whitelist"
        return None

    def _promised(self, index: int) -> tuple[int, int]:
        """Whitelisted principals of category ``index`` who have not registered yet: how many,
        and the amount kept for them."""
        kept = [shares[index] for shares in self.state.eligible.values() if index in shares]
        return len(kept), sum(kept)

    def _allocate(self, user: Principal, category: int, amount: int) -> None:
        """Give ``user`` an allocation (registration or the owner's addition) and tell the
        factory."""
        state = self.state
        held = state.participants.get(user)
        shares = (_NOTHING if held is None else held.allocations).set(category, amount)
        participant = (
            Participant(shares, registered_at=self.time) if held is None
            else evolve(held, allocations=shares)
        )  # fmt: skip
        self.state = evolve(
            state, participants=state.participants.set(user, participant),
            registered=state.registered.set(category, state.registered.get(category, 0) + amount),
            counts=state.counts.set(category, state.counts.get(category, 0) + 1),
        )  # fmt: skip
        if held is None:
            self.notify_role(user, RECIPIENT)

    @update
    def remove_recipient(self, user: Principal) -> Ok[None] | Err[DistributionError]:
        """Owner, before the start: take ``user``'s allocations back."""
        refused = self._owner_in(Phase.CREATED, Phase.FUNDED)
        if refused is not None:
            return Err(refused)
        if user not in self.state.participants:
            return Err(NotRecipient(user))
        self._drop(user)
        return Ok(None)

    def _drop(self, user: Principal) -> None:
        state = self.state
        participant = state.participants[user]
        registered, counts = state.registered, state.counts
        for category, amount in participant.allocations.items():
            registered = registered.set(category, registered[category] - amount)
            counts = counts.set(category, counts[category] - 1)
        self.state = evolve(
            state, participants=state.participants.delete(user), registered=registered,
            counts=counts,
        )  # fmt: skip
        self.notify_role(user, RECIPIENT)

    @update
    def blacklist(self, user: Principal) -> Ok[None] | Err[DistributionError]:
        """Owner, before the start: remove ``user`` if they are a recipient, and keep them from
        registering."""
        refused = self._owner_in(Phase.CREATED, Phase.FUNDED)
        if refused is not None:
            return Err(refused)
        self.state = evolve(
            self.state, blacklist=self.state.blacklist.set(user, None),
            eligible=self.state.eligible.delete(user) if user in self.state.eligible
            else self.state.eligible,
        )  # fmt: skip
        if user in self.state.participants:
            self._drop(user)
        return Ok(None)

    # -- registration ---------------------------------------------------------------------------

    @update
    def register(
        self, category: int = 0, amount: int | None = None, proof: tuple[bytes, ...] = ()
    ) -> Ok[int] | Err[DistributionError]:
        """Become a recipient of ``category`` while its window is open: a whitelisted principal
        for its listed amount, anyone in an open airdrop for an equal share (first come), or a
        Merkle recipient proving ``(caller, amount, category)``. The allocation."""
        user = self.caller
        phase = self._phase()
        if phase is Phase.CANCELLED:
            return Err(WrongPhase(phase, "not cancelled"))
        categories = self.config.categories
        if not is_nat(category) or category >= len(categories):
            return Err(InvalidRequest((f"no category {category!r}",)))
        chosen = categories[category]
        share = self._share(user, category, chosen, amount, proof)
        if isinstance(share, str):
            return Err(NotEligible(share))
        gate = self._gate(user)
        if gate is not None:
            return Err(NotEligible(gate))
        phase = self._phase()  # asking the gate awaited: the owner may have cancelled meanwhile
        if phase is Phase.CANCELLED:
            return Err(WrongPhase(phase, "not cancelled"))
        share = self._share(user, category, chosen, amount, proof)
        if isinstance(share, str):
            return Err(NotEligible(share))
        mode = chosen.recipients
        full = isinstance(mode, Open | MerkleRoot) and (
            self.state.counts.get(category, 0) >= mode.max_recipients
        )
        problem = "the airdrop is full" if full else self._allocation_problem(
            user, category, share
        )  # fmt: skip
        if problem is not None:
            return Err(NotEligible(problem))
        if isinstance(chosen.recipients, Whitelist):
            left = self.state.eligible[user].delete(category)
            eligible = (self.state.eligible.set(user, left) if left
                        else self.state.eligible.delete(user))  # fmt: skip
            self.state = evolve(self.state, eligible=eligible)
        self._allocate(user, category, share)
        return Ok(share)

    def _share(
        self, user: Principal, index: int, category: Category, amount: object, proof: object
    ) -> int | str:
        """What ``user`` would receive by registering in ``category``, or why they cannot."""
        mode = category.recipients
        window: Window | None = getattr(mode, "window", None)
        if isinstance(mode, Fixed):
            return "recipients of this category are fixed"
        if window is not None and not window.opens <= self.time < window.closes:
            return "registration is not open"
        if isinstance(mode, Whitelist):
            listed = self.state.eligible.get(user, _NOTHING).get(index)
            return "not on the whitelist" if listed is None else listed
        if isinstance(mode, Open):
            return category.amount // mode.max_recipients
        if not is_nat(amount) or not isinstance(proof, tuple) or len(proof) > 64:
            return "a Merkle registration needs the amount and a proof"
        if amount > MAX_AMOUNT:  # type: ignore[operator]
            return "an amount is at most 2**128 - 1"
        assert isinstance(amount, int)
        if not verify(mode.root, leaf(user, amount, index), proof):
            return "the proof does not match the root"
        return amount

    def _gate(self, user: Principal) -> str | None:
        """The eligibility gate, asked of the real ledger."""
        gate = self.config.eligibility
        if gate is None:
            return None
        try:
            balance: int = self.call(gate.ledger, "icrc1_balance_of", Account(user))
        except CallRejected as rejected:
            return f"the eligibility ledger did not answer: {ledger_error(rejected.message)}"
        if balance < gate.min_balance:
            return f"holds {balance} of {gate.ledger}, needs {gate.min_balance}"
        return None

    # -- reads ----------------------------------------------------------------------------------

    def _may_read(self, about: Principal | None = None) -> bool:
        caller = self.caller
        return (
            self.meta.is_public or caller == self.meta.owner or caller == self.meta.factory
            or (about is not None and caller == about) or caller in self.state.participants
        )  # fmt: skip

    @query
    def get_participant(self, user: Principal) -> ParticipantInfo | None:
        """A recipient's allocation, unlocked, claimed, claimable now and next unlock."""
        participant = self.state.participants.get(user)
        if participant is None or not self._may_read(user):
            return None
        at = self._vesting_time()
        upcoming = None if self.state.cancelled_at is not None else self._next_unlock(participant)
        return ParticipantInfo(
            user=user, allocation=participant.allocation,
            unlocked=self._unlocked(participant, at), claimed=participant.claimed,
            claimable=self._claimable(participant), next_unlock=upcoming,
            early_unlocked=participant.early_unlocked,
        )  # fmt: skip

    def _next_unlock(self, participant: Participant) -> int | None:
        if participant.early_unlocked:
            return None
        config, now = self.config, self.time
        found = []
        for index, amount in participant.allocations.items():
            category = config.categories[index]
            begins = config.start + category.start_offset
            after = next_unlock(category.schedule, amount, now - begins, category.initial_bp)
            if after is not None:
                found.append(begins + after)
        return min(found) if found else None

    @query
    def get_schedule(self, user: Principal, points: int = 50) -> tuple[tuple[int, int], ...]:
        """``user``'s unlock curve: (absolute time, unlocked) pairs, ready to plot."""
        participant = self.state.participants.get(user)
        if participant is None or not self._may_read(user) or not 2 <= points <= 1000:
            return ()
        config = self.config
        total: dict[int, int] = {}
        curves = []
        for index, amount in participant.allocations.items():
            category = config.categories[index]
            begins = config.start + category.start_offset
            curve = unlock_curve(category.schedule, amount, category.initial_bp, points)
            curves.append((begins, category, amount))
            for elapsed, _ in curve:
                total[begins + elapsed] = 0
        for moment in total:
            total[moment] = sum(
                unlocked(category.schedule, amount, moment - begins, category.initial_bp)
                for begins, category, amount in curves
            )
        return tuple(sorted(total.items()))

    @query
    def get_stats(self) -> Stats | None:
        if not self._may_read():
            return None
        state = self.state
        total = self.config.total_amount
        return Stats(
            phase=self._phase(), total=total, funded=state.funded,
            balance_required=self._required(state.fee), claimed=state.total_claimed,
            remaining=total - state.total_claimed, participants=len(state.participants),
            penalties=state.total_penalties, reserve=state.reserve,
        )  # fmt: skip

    @query
    def get_phase(self) -> Phase:
        return self._phase()

    @query
    def get_claims(
        self, user: Principal | None = None, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[Claim]:
        """Payouts, newest first: all of them, or ``user``'s."""
        check_page(offset, limit)
        if not self._may_read(user):
            return Page((), None, None)
        claims = self.state.claims
        if user is None:
            total = len(claims)
            ids: Any = newest_first(total, offset, limit)
        else:
            mine = self.state.claims_by_user.get(user, _NO_CLAIMS)
            total = len(mine)
            ids = mine.page(offset, limit, descending=True)
        items = tuple(claims[i] for i in ids)
        end = offset + len(items)
        return Page(items, total, end if end < total else None)

