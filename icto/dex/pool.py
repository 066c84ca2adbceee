"""``Pool``: a constant-product AMM pool of two ICRC-1/2 tokens, a canister like any other.

Liquidity providers add both tokens for shares, and burn shares for their part of both reserves.
Traders swap one token for the other with a minimum-out guard. Every user has a balance of each
token at the pool (``get_owed``): a payment in (``icrc2_transfer_from``; approve the amount plus
one fee) is credited there once the ledger has it; liquidity and swaps spend that balance first
and pull only the rest, so trying again pulls nothing twice; a payout is taken from it before
its transfer and given back if the ledger refuses (``withdraw_owed`` retries). A payout's ledger
fee comes out of it. Every ledger request is journalled with its exact arguments before it is
sent and settled in its reply; one whose reply was never processed (the message trapped) is
settled by ``settle_requests``, which sends the identical request again and the ledger
deduplicates. So, per token, with nothing in flight, the pool's ledger balance is its reserve
plus its users' balances.
"""

from __future__ import annotations

from typing import Any

from icto.collections.records import evolve
from icto.dex.math import amount_out, amounts_for, optimal_amounts, shares_for
from icto.dex.types import (
    InFlight,
    InvalidRequest,
    Liquidity,
    PoolError,
    PoolInit,
    PoolState,
    Reserves,
    Slippage,
    Swapped,
    TransferFailed,
)
from icto.ic.account import Account
from icto.ic.canister import Canister, Trap, may_still_await, query, update
from icto.ic.errors import CallRejected
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.ic.world import AWAIT_GIVEN_UP_NS
from icto.ledger.client import (
    LedgerFailure,
    fee_of,
    ledger_error,
    logged_outcome,
    memo_of,
    settle,
)
from icto.ledger.types import TX_WINDOW_NS, AllowanceArgs, TransferArgs, TransferFromArgs
from icto.validation import identified_problem, is_nat

MAX_FEE_BP = 1_000
MAX_AMOUNT = 2**128 - 1



class Pool(Canister):
    VERSION = "1.0.0"

    state: PoolState

    def init(self, arg: PoolInit) -> None:
        if not isinstance(arg, PoolInit):
            raise TypeError(f"Pool is installed with a PoolInit, got {type(arg).__name__}")
        for token in (arg.token0, arg.token1):
            if not isinstance(token, Principal) or not token.is_canister:
                raise Trap(f"a pool's tokens are ledger canister ids, got {token!r}")
        if arg.token0 == arg.token1:
            raise Trap("a pool's two tokens must be different ledgers")
        if not is_nat(arg.fee_bp) or arg.fee_bp > MAX_FEE_BP:
            raise Trap(f"fee_bp must be an int from 0 to {MAX_FEE_BP}")
        first: object = arg.first_provider
        if first is not None and (problem := identified_problem(first, "liquidity provider")):
            raise Trap(f"first_provider: {problem}")
        self.state = PoolState(
            token0=arg.token0, token1=arg.token1, fee_bp=arg.fee_bp,
            first_provider=arg.first_provider,
        )  # fmt: skip

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Keep everything; no message awaits across an upgrade, so every request left in
        flight may be sent again at once."""
        super().post_upgrade(stable, arg)
        flight = self.state.in_flight
        for nonce, request in self.state.in_flight.items():
            flight = flight.set(nonce, evolve(request, settle_from=self.time))
        self.state = evolve(self.state, in_flight=flight)

    # -- ledgers --------------------------------------------------------------------------------

    def _send(self, kind: str, user: Principal, ledger: Principal, amount: int,
              args: object, nonce: int) -> int | LedgerFailure:  # fmt: skip
        """Send one journalled request: recorded (with its exact arguments) before the call,
        settled in the reply. If the reply's processing never runs (a trap), the record stays
        and ``settle_requests`` finishes it by sending the identical request again."""
        request = InFlight(kind, user, ledger, amount, args, self.time + AWAIT_GIVEN_UP_NS)
        self.state = evolve(self.state, in_flight=self.state.in_flight.set(nonce, request))
        method = "icrc2_transfer_from" if kind == "pull" else "icrc1_transfer"
        outcome = settle(self, ledger, method, args)
        if isinstance(outcome, LedgerFailure) and outcome.in_doubt:
            self.log(f"{kind} {nonce} of {amount} for {user} is unsettled: {outcome.reason}")
            left = self.state.in_flight.get(nonce)
            if left is not None:  # its message ends here: it may be sent again at once
                due = self.state.in_flight.set(nonce, evolve(left, settle_from=self.time))
                self.state = evolve(self.state, in_flight=due)
            return outcome
        self._settled(nonce, outcome)
        if isinstance(outcome, LedgerFailure) and self.state.nonce == nonce + 1:
            self.state = evolve(self.state, nonce=nonce)
        return outcome

    def _settled(self, nonce: int, outcome: int | LedgerFailure) -> None:
        """Apply a request's known outcome: a pull that arrived credits its user; a payout the
        ledger refused goes back to its user's pool balance."""
        request = self.state.in_flight.get(nonce)
        if request is None:
            return
        self.state = evolve(self.state, in_flight=self.state.in_flight.delete(nonce))
        arrived = not isinstance(outcome, LedgerFailure)
        if (request.kind == "pull") == arrived:
            self._owe(request.user, request.ledger, request.amount)

    def _nonce(self) -> int:
        nonce = self.state.nonce
        self.state = evolve(self.state, nonce=nonce + 1)
        return int(nonce)

    def _pull(self, ledger: Principal, user: Principal, amount: int) -> str | None:
        """Make ``user``'s balance at the pool hold ``amount``: pull what is missing; it is
        credited once the ledger has it."""
        missing = amount - self.state.owed.get((user, ledger), 0)
        if missing <= 0:
            return None
        nonce = self._nonce()
        args = TransferFromArgs(
            from_=Account(user), to=Account(self.id), amount=missing,
            memo=memo_of(f"pool request {nonce}"), created_at_time=self.time,
        )  # fmt: skip
        pulled = self._send("pull", user, ledger, missing, args, nonce)
        return pulled.reason if isinstance(pulled, LedgerFailure) else None

    @update
    def settle_requests(self) -> int:
        """Anyone: settle up to 20 requests a failed message left unsettled (each sent again,
        identical: the ledger runs it or says it already did), those the ledger can still
        recognise first; one past its deduplication window is looked up in the ledger's log.
        A request is due once its message can no longer be awaiting it (``settle_from``). How
        many remain."""
        horizon = self.time - TX_WINDOW_NS
        fresh = [n for n, r in self.state.in_flight.items() if _created_at(r) >= horizon]
        stale = [n for n, r in self.state.in_flight.items() if _created_at(r) < horizon]
        self._settle(tuple(sorted(fresh) + sorted(stale))[:20])
        return len(self.state.in_flight)

    def _settle(self, nonces: tuple[int, ...]) -> None:
        for nonce in nonces:
            request = self.state.in_flight.get(nonce)
            if request is None or not self._due(request):
                continue
            method = "icrc2_transfer_from" if request.kind == "pull" else "icrc1_transfer"
            outcome = settle(self, request.ledger, method, request.args)
            if isinstance(outcome, LedgerFailure) and outcome.expired:
                outcome = self._looked_up(request)
            if not (isinstance(outcome, LedgerFailure) and outcome.in_doubt):
                self._settled(nonce, outcome)

    def _due(self, request: InFlight) -> bool:
        """Whether ``request`` may be sent again: its message can no longer be awaiting it
        (``may_still_await``, giving up at ``settle_from``)."""
        return not may_still_await(self, request.settle_from)

    def _looked_up(self, request: InFlight) -> int | LedgerFailure:
        """The outcome of a request past the ledger's deduplication window, from its log: its
        block if it ran, a known failure if it never did (a payout then goes back to its user's
        pool balance), still in doubt if the log cannot be read."""
        args: Any = request.args
        pull = request.kind == "pull"
        payer = Account(request.user) if pull else None
        recipient = Account(self.id) if pull else args.to
        return logged_outcome(self, request.ledger, args, payer, recipient)

    def _settle_mine(self, user: Principal) -> None:
        """Before a user's operation: settle what their earlier failed messages left in flight,
        so their pool balance is what the ledgers say."""
        flight = self.state.in_flight
        if flight:
            self._settle(tuple(n for n, request in flight.items() if request.user == user))

    def _cannot_pull(self, ledger: Principal, user: Principal, amount: int) -> str | None:
        """Why pulling ``amount`` of ``user``'s (beyond their pool balance) would fail now: the
        allowance or the balance is short (asked before anything moves, so a deposit of two
        tokens does not stop halfway for want of either)."""
        missing = amount - self.state.owed.get((user, ledger), 0)
        if missing <= 0:
            return None
        try:
            fee: int = self.call(ledger, "icrc1_fee")
            allowance = self.call(
                ledger, "icrc2_allowance", AllowanceArgs(Account(user), Account(self.id))
            ).allowance
            balance: int = self.call(ledger, "icrc1_balance_of", Account(user))
        except CallRejected as rejected:
            return ledger_error(rejected.message)
        if allowance < missing + fee or balance < missing + fee:
            return (
                f"{ledger} needs an allowance and a balance of {missing + fee} (with the fee); "
                f"there are {allowance} and {balance}"
            )
        return None

    def _fee(self, ledger: Principal) -> int | str:
        return fee_of(self, ledger)

    def _pay_out(self, user: Principal, ledger: Principal, amount: int) -> str | None:
        """Send ``amount`` (less its fee) to ``user``, or keep it owed if the ledger refuses or
        the amount does not cover the fee: why it was kept, or ``None``."""
        if amount <= 0:
            return None
        self._owe(user, ledger, amount)
        fee = self._fee(ledger)
        if isinstance(fee, str):
            return f"the ledger's fee is unknown: {fee}"
        if amount <= fee:
            return f"{amount} does not cover the ledger's fee ({fee})"
        if self.state.owed.get((user, ledger), 0) < amount:
            return None  # ``withdraw_owed`` ran while the fee was asked, and paid it
        self._owe(user, ledger, -amount)
        nonce = self._nonce()
        args = TransferArgs(
            to=Account(user), amount=amount - fee, fee=fee,
            memo=memo_of(f"pool request {nonce}"), created_at_time=self.time,
        )  # fmt: skip
        sent = self._send("payout", user, ledger, amount, args, nonce)
        if isinstance(sent, LedgerFailure):
            self.log(f"payout of {amount} to {user} not made: {sent.reason}")
            return None if sent.in_doubt else sent.reason
        return None

    def _owe(self, user: Principal, ledger: Principal, delta: int) -> None:
        owed = self.state.owed
        key = (user, ledger)
        now = owed.get(key, 0) + delta
        if now:
            owed = owed.set(key, now)
        elif key in owed:
            owed = owed.delete(key)
        self.state = evolve(self.state, owed=owed)

    def _other(self, token: object) -> Principal | None:
        state = self.state
        if token == state.token0:
            return state.token1
        if token == state.token1:
            return state.token0
        return None

    # -- liquidity ------------------------------------------------------------------------------

    @update
    def add_liquidity(
        self, amount0: int, amount1: int, min_shares: int = 0, to: Principal | None = None
    ) -> Ok[Liquidity] | Err[PoolError]:
        """Add up to ``amount0`` of token0 and ``amount1`` of token1 at the pool's ratio (all of
        both into an empty pool); the shares go to ``to`` (default: the caller, never the pool).
        Refused if fewer than ``min_shares`` would be minted, before anything moves or, if the
        reserves moved while the pulls were in flight, after them: what arrived then stays in the
        caller's pool balance."""
        user = self.caller
        self._settle_mine(user)
        beneficiary = user if to is None else to
        problems = [
            f"{name} must be an int from 1 to 2**128 - 1"
            for name, value in (("amount0", amount0), ("amount1", amount1))
            if not is_nat(value) or not 0 < value <= MAX_AMOUNT
        ]
        if not is_nat(min_shares):
            problems.append("min_shares must be an int >= 0")
        for principal, role in ((user, "liquidity provider"), (beneficiary, "share holder")):
            problem = identified_problem(principal, role)
            if problem:
                problems.append(problem)
        if beneficiary == self.id:
            problems.append("the pool cannot hold shares: nothing could ever burn them")
        if problems:
            return Err(InvalidRequest(tuple(problems)))
        state = self.state
        first = state.first_provider
        if first is not None and user != first:
            return Err(InvalidRequest(
                (f"only {first} may add the first liquidity: it sets the opening price",)
            ))  # fmt: skip
        take0, take1 = optimal_amounts(amount0, amount1, state.reserve0, state.reserve1)
        expected = shares_for(take0, take1, state.reserve0, state.reserve1, state.supply)
        if take0 == 0 or take1 == 0 or expected == 0:
            return Err(InvalidRequest(("too little to mint a share at the pool's ratio",)))
        if expected < min_shares:
            return Err(Slippage(min_shares, expected))
        wanted = ((state.token0, take0), (state.token1, take1))
        for ledger, amount in wanted:
            short = self._cannot_pull(ledger, user, amount)
            if short is not None:
                return Err(TransferFailed(short))
        for ledger, amount in wanted:
            failed = self._pull(ledger, user, amount)
            if failed is not None:
                return Err(TransferFailed(f"{failed} (what arrived stays in your pool balance)"))
        state = self.state
        if state.owed.get((user, state.token0), 0) < take0 or (
            state.owed.get((user, state.token1), 0) < take1
        ):  # fmt: skip
            return Err(InvalidRequest(("your pool balance was spent meanwhile; try again",)))
        minted = shares_for(take0, take1, state.reserve0, state.reserve1, state.supply)
        if minted < min_shares:  # the reserves moved while the pulls were in flight
            return Err(Slippage(min_shares, minted))
        self._owe(user, state.token0, -take0)
        self._owe(user, state.token1, -take1)
        state = self.state
        self.state = evolve(
            state, reserve0=state.reserve0 + take0, reserve1=state.reserve1 + take1,
            supply=state.supply + minted,
            shares=state.shares.set(beneficiary, state.shares.get(beneficiary, 0) + minted),
            first_provider=None,
        )  # fmt: skip
        return Ok(Liquidity(minted, take0, take1))

    @update
    def remove_liquidity(
        self, shares: int, min0: int = 0, min1: int = 0
    ) -> Ok[Liquidity] | Err[PoolError]:
        """Burn ``shares`` of the caller's for their part of both reserves (each payout less its
        ledger fee), refused below ``min0`` / ``min1``."""
        user = self.caller
        self._settle_mine(user)
        state = self.state
        held = state.shares.get(user, 0)
        if not is_nat(shares) or not 0 < shares <= held:
            return Err(InvalidRequest((f"shares must be an int from 1 to {held}",)))
        if not (is_nat(min0) and is_nat(min1)):
            return Err(InvalidRequest(("min0 and min1 must be ints >= 0",)))
        out0, out1 = amounts_for(shares, state.reserve0, state.reserve1, state.supply)
        if out0 < min0 or out1 < min1:
            return Err(Slippage(min0 if out0 < min0 else min1, out0 if out0 < min0 else out1))
        left = held - shares
        self.state = evolve(
            state, reserve0=state.reserve0 - out0, reserve1=state.reserve1 - out1,
            supply=state.supply - shares,
            shares=state.shares.set(user, left) if left else state.shares.delete(user),
        )  # fmt: skip
        self._pay_out(user, state.token0, out0)
        self._pay_out(user, state.token1, out1)
        return Ok(Liquidity(shares, out0, out1))

    # -- swaps ----------------------------------------------------------------------------------

    @update
    def swap(
        self, token_in: Principal, amount_in: int, min_out: int
    ) -> Ok[Swapped] | Err[PoolError]:
        """Swap ``amount_in`` of ``token_in`` for the other token (from the caller's pool
        balance, pulling what is missing: approve it plus one fee); refused, before anything
        moves, if it would buy less than ``min_out``. The output is priced once the input has
        arrived; if the price moved below ``min_out`` meanwhile, the input stays in the caller's
        pool balance."""
        user = self.caller
        self._settle_mine(user)
        token_out = self._other(token_in)
        if token_out is None:
            return Err(InvalidRequest((f"{token_in!r} is not one of this pool's tokens",)))
        if not is_nat(amount_in) or not 0 < amount_in <= MAX_AMOUNT or not is_nat(min_out):
            return Err(InvalidRequest(("amount_in must be an int > 0, min_out an int >= 0",)))
        problem = identified_problem(user, "trader")
        if problem:
            return Err(InvalidRequest((problem,)))
        quoted = self._quote(token_in, amount_in)
        if quoted == 0 or quoted < min_out:
            return Err(Slippage(min_out, quoted))
        failed = self._pull(token_in, user, amount_in)
        if failed is not None:
            return Err(TransferFailed(failed))
        out = self._quote(token_in, amount_in)
        if out == 0 or out < min_out or self.state.owed.get((user, token_in), 0) < amount_in:
            return Err(Slippage(min_out, out))
        self._owe(user, token_in, -amount_in)
        state = self.state
        incoming0 = token_in == state.token0
        self.state = evolve(
            state, swaps=state.swaps + 1,
            reserve0=state.reserve0 + amount_in if incoming0 else state.reserve0 - out,
            reserve1=state.reserve1 - out if incoming0 else state.reserve1 + amount_in,
        )  # fmt: skip
        self._pay_out(user, token_out, out)
        return Ok(Swapped(token_in, amount_in, token_out, out))

    @update
    def withdraw_owed(self, ledger: Principal) -> Ok[int] | Err[PoolError]:
        """Pay out the caller's balance of ``ledger`` at the pool (a refused payout, or a
        payment in that was not spent); what it was."""
        self._settle_mine(self.caller)
        owed = self.state.owed.get((self.caller, ledger), 0)
        if owed == 0:
            return Err(InvalidRequest(("nothing is owed to you on this ledger",)))
        self._owe(self.caller, ledger, -owed)
        kept = self._pay_out(self.caller, ledger, owed)
        return Ok(owed) if kept is None else Err(TransferFailed(f"still owed: {kept}"))

    # -- reads ----------------------------------------------------------------------------------

    def _quote(self, token_in: object, amount_in: int) -> int:
        state = self.state
        if token_in == state.token0:
            return amount_out(amount_in, state.reserve0, state.reserve1, state.fee_bp)
        if token_in == state.token1:
            return amount_out(amount_in, state.reserve1, state.reserve0, state.fee_bp)
        return 0

    @query
    def quote(self, token_in: Principal, amount_in: int) -> int:
        """What a swap of ``amount_in`` of ``token_in`` would buy now (before the output fee)."""
        if not is_nat(amount_in):
            return 0
        return self._quote(token_in, amount_in)

    @query
    def get_reserves(self) -> Reserves:
        state = self.state
        return Reserves(
            state.token0, state.token1, state.reserve0, state.reserve1, state.supply,
            state.fee_bp,
        )  # fmt: skip

    @query
    def price(self) -> tuple[int, int]:
        """Token1 per token0 as the fraction ``(reserve1, reserve0)``."""
        return self.state.reserve1, self.state.reserve0

    @query
    def get_shares(self, user: Principal) -> int:
        return int(self.state.shares.get(user, 0))

    @query
    def get_owed(self, user: Principal, ledger: Principal) -> int:
        return int(self.state.owed.get((user, ledger), 0))


def _created_at(request: InFlight) -> int:
    at = getattr(request.args, "created_at_time", None)
    return at if isinstance(at, int) else 0
