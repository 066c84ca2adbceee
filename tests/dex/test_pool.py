"""The ``Pool`` canister through two real ICRC ledgers (ICP's parameters: fee 10_000).

One world is built per module: two ledgers that minted ``BIG`` of each token to alice, bob and
carol, a pool of the two at a 0.3 % fee, and every user's approval of the pool on both ledgers
(each approval costs its fee, so a user holds ``HELD``). Every test and every example starts
again from that snapshot, with no fault installed.

- Adding, removing and swapping move exactly the hand-computed amounts: every pull costs the user
  the amount plus one ledger fee, every payout reaches the user less one ledger fee (the pool's
  ledger balance drops by the whole payout), and with nothing in flight each token's pool ledger
  balance is its reserve plus its users' balances at the pool (``get_owed``). A payout that does
  not cover the ledger fee stays owed.
- A swap whose quote is below ``min_out`` is refused with ``Slippage`` before anything moves: no
  ledger block, no state change.
- Every ledger request is journalled in ``in_flight`` (with its memo and ``created_at_time``)
  before it is sent and removed once its outcome is known; ``settle`` sends it once more after a
  reject. A pull is credited to the user's pool balance once it arrived, never before; a payout
  is taken from it first and credited back if the ledger refuses it. A payout rejected once is
  paid exactly once; one rejected twice (outcome unknown) stays in flight, neither paid nor owed,
  until ``settle_requests`` (anyone) or the user's next operation sends it again; a trap after a
  request leaves it in flight, and settling credits a pull that arrived without a new block (the
  ledger answers ``Duplicate``), pulls now one that had not, drops one the ledger refuses, and
  pays a payout that had not happened, once.
- Per token (``World.reconcile``): the pool's ledger balance is its reserve, plus its users' pool
  balances, plus its in-flight pulls the ledger ran, plus its in-flight payouts it did not run
  (looked up by memo in the ledger's blocks). So it exceeds reserve + balances + in-flight payouts
  by at most the in-flight pulls, and falls short of it by at most the in-flight payouts the
  ledger already ran (a trap after a payout); with nothing in flight it is exactly reserve +
  balances.
- Bad input (a token not in the pool, amounts 0 / negative / too large / bool, more shares than
  held, an anonymous caller or beneficiary, a minimum above the quote) gets a typed ``Err``
  (a bool is refused at the boundary, as Candid decoding would), and nothing changes.
- A hypothesis state machine drives random adds, removes, swaps, withdrawals and
  ``settle_requests`` by three users, often with a rejected or trapped ledger call (pull, payout,
  fee or allowance read; once, so the retry goes through, or every time, which leaves requests in
  flight) or a trap at the end of the pool's own method (its last segment rolls back), while
  time passes (up to more than a day, so requests go past their ledger's window). A model
  of the pool runs each step from the state before it, committing at each ledger call as the IC
  does, and predicts the answer, the pool's state (reserves, supply, shares, pool balances,
  in-flight requests), every user's ledger balance and allowance, the pool's ledger balances,
  the ledgers' blocks and which in-flight requests they ran, and how often the fault fired; all
  are checked exactly. After every step: no step lowered the reserves behind one share, the supply
  is the sum of the holders' shares, the pool reconciles, a call moves only its caller's tokens
  (``settle_requests``: those of the users it settles for), each user's tokens (ledger balance,
  pool balance, and what is in flight for them) are exactly what they started with, less what
  they put into the reserves, plus what the reserves paid them, less one fee per ledger block of
  theirs, and each ledger's supply fell by exactly the fees of its new blocks.
- A request settled after the ledger's deduplication window (24 h) is answered ``TooOld``; the
  pool then reads the ledger's log: a pull that arrived is credited, a payout that happened is
  not paid again, and one that never ran is settled as refused (a payout goes back to its
  user's pool balance). ``settle_requests`` goes through the requests the ledger can still
  recognise first, then the rest, each group in the order sent; the model follows that order,
  which shows when the call traps after settling some of them.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import attrs
import immutables
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from icto import IC, Account, CallRejected, Err, InvalidArguments, Ok, Principal
from icto.dex import (
    InvalidRequest,
    Liquidity,
    Pool,
    PoolInit,
    Slippage,
    Swapped,
    TransferFailed,
    amount_out,
    amounts_for,
    optimal_amounts,
    shares_for,
)
from icto.dex.types import InFlight
from icto.ic.canister import update
from icto.ic.proxy import CanisterProxy
from icto.ledger.ledger import Ledger
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import (
    TX_WINDOW_NS,
    AllowanceArgs,
    ApproveArgs,
    Block,
    TemporarilyUnavailable,
    TransferArgs,
    TransferFromArgs,
)
from tests.helpers import Relay

MINTER = Principal.from_name("dex-minter")
ALICE, BOB, CAROL = (Principal.from_name(name) for name in ("alice", "bob", "carol"))
USERS: Final = (ALICE, BOB, CAROL)
FEE: Final = 10_000
"""Both ledgers' fee (ICP's parameters)."""
BIG: Final = 10**15
"""Of each token minted to each user."""
HELD: Final = BIG - FEE
"""What each user holds of each token once its approval of the pool is paid."""
MAX: Final = 2**128 - 1
PULL: Final = "icrc2_transfer_from"
PAYOUT: Final = "icrc1_transfer"
DAY_AND_DRIFT: Final = {"days": 1, "minutes": 2}
"""Longer than a ledger's deduplication window (24 h) plus its permitted drift (60 s)."""

# The first deposit, chosen so that the numbers come out round: 9_970_000_000 · 39_880_000_000 =
# (2 · 9_970_000_000)**2, and a swap of 10**10 into it has eff = 10**10 · 9_970 = R0 · 10_000.
R0: Final = 9_970_000_000
R1: Final = 39_880_000_000
SHARES: Final = 19_940_000_000
"""isqrt(R0 · R1) = 2 · R0."""
SWAP_IN: Final = 10**10
SWAP_OUT: Final = 19_940_000_000
"""amount_out(SWAP_IN, R0, R1, 30) = eff · R1 / (2 · eff) = R1 / 2, exactly."""

Request = tuple[str, Principal, CanisterProxy, int]
"""An in-flight request as the tests spell it: (kind, user, ledger, amount)."""


class Refusing(Ledger):
    """A ledger that refuses every transfer with a definite ``TemporarilyUnavailable`` (the test
    upgrades a token to it and back)."""

    VERSION = "1.0.1"

    @update
    def icrc1_transfer(self, args: TransferArgs) -> Err[TemporarilyUnavailable]:
        return Err(TemporarilyUnavailable())


def args_of(request: InFlight) -> TransferArgs | TransferFromArgs:
    """The exact request an in-flight record sends again."""
    args = request.args
    assert isinstance(args, TransferArgs | TransferFromArgs), request
    return args


def memo_and_time(request: InFlight) -> tuple[bytes, int]:
    """The memo and ``created_at_time`` that make the ledger deduplicate the request."""
    args = args_of(request)
    assert args.memo is not None and args.created_at_time is not None, request
    return args.memo, args.created_at_time


class World:
    """The IC, the two ledgers and the pool; ``ready`` is the snapshot every test starts from."""

    def __init__(self) -> None:
        self.ic = IC(trace=False)
        balances = [(Account(user), BIG) for user in USERS]
        self.t0 = deploy_ledger(self.ic, ICP.init(Account(MINTER), balances))
        self.t1 = deploy_ledger(self.ic, ICP.init(Account(MINTER), balances))
        self.ledgers = (self.t0, self.t1)
        self.pool = self.ic.deploy(Pool, PoolInit(self.t0.id, self.t1.id, 30))
        self.pool_id: Principal = self.pool.id
        for ledger in self.ledgers:
            for user in USERS:
                approval = ApproveArgs(spender=Account(self.pool_id), amount=2**64 - 1)
                ledger.as_caller(user).icrc2_approve(approval).unwrap()
        self.ready = self.ic.snapshot()
        self.memos: dict[Principal, dict[bytes, Block]] = {}
        """Per ledger, the blocks read so far that carry a memo (the pool's requests), by memo."""
        self.indexed: dict[Principal, int] = {}
        """Per ledger, how many of its blocks ``memos`` has read."""

    def reset(self) -> World:
        self.ic.restore(self.ready)
        self.ic.faults.clear()
        self.memos, self.indexed = {}, {}
        return self

    def by(self, caller: Principal) -> CanisterProxy:
        return self.pool.as_caller(caller)

    def balance(self, ledger: CanisterProxy, owner: Principal) -> int:
        return int(ledger.icrc1_balance_of(Account(owner)))

    def allowance(self, ledger: CanisterProxy, owner: Principal) -> int:
        args = AllowanceArgs(Account(owner), Account(self.pool_id))
        return int(ledger.icrc2_allowance(args).allowance)

    def owed(self, user: Principal, ledger: CanisterProxy) -> int:
        return int(self.pool.get_owed(user, ledger.id))

    def pool_balances(self) -> dict[tuple[Principal, CanisterProxy], int]:
        """Every user's balance at the pool: (user, ledger) → amount (none is 0)."""
        by_id = {ledger.id: ledger for ledger in self.ledgers}
        owed = self.ic.state_of(self.pool_id).owed
        return {(user, by_id[token]): amount for (user, token), amount in owed.items()}

    def requests(self) -> list[InFlight]:
        """The pool's in-flight requests, in the order it sent them."""
        return [request for _, request in sorted(self.ic.state_of(self.pool_id).in_flight.items())]

    def in_flight(self) -> list[Request]:
        by_id = {ledger.id: ledger for ledger in self.ledgers}
        return [(r.kind, r.user, by_id[r.ledger], r.amount) for r in self.requests()]

    def reserves(self) -> tuple[int, int, int]:
        reserves = self.pool.get_reserves()
        return reserves.reserve0, reserves.reserve1, reserves.supply

    def blocks(self) -> tuple[int, int]:
        return self.t0.get_transaction_count(), self.t1.get_transaction_count()

    def states(self) -> tuple[Any, Any, Any]:
        """The pool's state (less the counter of its ledger requests) and both ledgers' states:
        equal before and after means nothing moved."""
        ic = self.ic
        pool = attrs.asdict(ic.state_of(self.pool_id), recurse=False)
        pool.pop("nonce", None)
        return pool, ic.state_of(self.t0.id), ic.state_of(self.t1.id)

    def block_of(self, request: InFlight) -> Block | None:
        """The ledger's block of ``request`` (found by its memo), or None if the ledger has not
        run it; checked to be exactly the request."""
        ledger = next(ledger for ledger in self.ledgers if ledger.id == request.ledger)
        memos = self.memos.setdefault(ledger.id, {})
        start, count = self.indexed.get(ledger.id, 0), ledger.get_transaction_count()
        for index, block in enumerate(ledger.get_blocks(start, count - start), start):
            if block.memo is not None:
                assert block.memo not in memos, (index, block)  # one block per request
                memos[block.memo] = block
        self.indexed[ledger.id] = count
        block = memos.get(memo_and_time(request)[0])
        if block is not None:
            pool, user = Account(self.pool_id), Account(request.user)
            if request.kind == "pull":
                assert (block.kind, block.from_, block.to, block.spender, block.amount) == (
                    "transfer_from", user, pool, pool, request.amount
                ), block  # fmt: skip
            else:
                assert (block.kind, block.from_, block.to, block.amount) == (
                    "transfer", pool, user, request.amount - FEE
                ), block  # fmt: skip
        return block

    def reconcile(self, *in_flight: Request) -> None:
        """The pool's in-flight requests are exactly ``in_flight`` (in the order they were sent;
        none if not given), each exactly what its kind says, with a memo of its own. Per token,
        the pool's ledger balance is its reserve plus its users' pool balances plus its
        in-flight pulls the ledger ran plus its in-flight payouts the ledger did not run. So
        0 <= balance - (reserve + balances + in-flight payouts) <= in-flight pulls when no
        in-flight payout has happened (after a trap that followed a payout, the difference goes
        down to minus that payout), and with nothing in flight balance == reserve + balances."""
        assert self.in_flight() == list(in_flight)
        state = self.ic.state_of(self.pool_id)
        requests = list(state.in_flight.values())
        pool = Account(self.pool_id)
        for request in requests:
            assert request.user in USERS and request.kind in ("pull", "payout"), request
            args = args_of(request)
            assert isinstance(args.memo, bytes) and len(args.memo) == 16, args
            assert args.created_at_time is not None and 0 < args.created_at_time <= self.ic.time
            if request.kind == "pull":
                assert args == TransferFromArgs(
                    from_=Account(request.user), to=pool, amount=request.amount,
                    memo=args.memo, created_at_time=args.created_at_time,
                ), request  # fmt: skip
            else:
                assert args == TransferArgs(
                    to=Account(request.user), amount=request.amount - FEE, fee=FEE,
                    memo=args.memo, created_at_time=args.created_at_time,
                ), request  # fmt: skip
        assert len({args_of(request).memo for request in requests}) == len(requests)
        assert {user for user, _ in state.owed} <= set(USERS)
        assert all(amount > 0 for amount in state.owed.values())
        for ledger, reserve in ((self.t0, state.reserve0), (self.t1, state.reserve1)):
            owed = sum(amount for (_, token), amount in state.owed.items() if token == ledger.id)
            mine = [request for request in requests if request.ledger == ledger.id]
            ran = [request for request in mine if self.block_of(request) is not None]
            pulls = sum(r.amount for r in mine if r.kind == "pull")
            payouts = sum(r.amount for r in mine if r.kind == "payout")
            pulled = sum(r.amount for r in ran if r.kind == "pull")
            paid = sum(r.amount for r in ran if r.kind == "payout")
            balance = self.balance(ledger, self.pool_id)
            assert balance == reserve + owed + pulled + payouts - paid
            assert -paid <= balance - (reserve + owed + payouts) <= pulls
            if not mine:
                assert balance == reserve + owed


@functools.cache
def built() -> World:
    return World()


@pytest.fixture
def world() -> Iterator[World]:
    yield built().reset()
    built().ic.faults.clear()


def seeded(world: World) -> World:
    """Alice's first deposit of ``R0`` and ``R1`` is in the pool."""
    assert world.by(ALICE).add_liquidity(R0, R1) == Ok(Liquidity(SHARES, R0, R1))
    return world


def trapped(world: World, method: str, call: Callable[[], Any]) -> None:
    """Make ``call`` with a trap at the end of the pool's ``method`` (its last segment rolls
    back): the caller gets a reject."""
    with (
        world.ic.faults.trap(canister=world.pool_id, method=method) as fault,
        pytest.raises(CallRejected, match="injected trap"),
    ):
        call()
    assert fault.fired == 1


# -- liquidity and swaps, exactly ---------------------------------------------------------------


def test_the_first_deposit_mints_isqrt_and_pulls_each_amount_plus_one_fee(world: World) -> None:
    blocks = world.blocks()
    seeded(world)
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.reserves() == (R0, R1, SHARES)
    assert world.pool.get_shares(ALICE) == SHARES
    assert world.balance(world.t0, ALICE) == HELD - R0 - FEE
    assert world.balance(world.t1, ALICE) == HELD - R1 - FEE
    assert world.balance(world.t0, world.pool_id) == R0
    assert world.balance(world.t1, world.pool_id) == R1
    assert world.pool_balances() == {}
    world.reconcile()


@pytest.mark.parametrize(
    ("desired0", "desired1"),
    [
        pytest.param(997_000_000, 10**10, id="too much token1"),
        pytest.param(10**10, 3_988_000_000, id="too much token0"),
        pytest.param(997_000_000, 3_988_000_000, id="exactly the ratio"),
    ],
)
def test_a_later_deposit_takes_the_pool_ratio_and_pulls_only_that(
    world: World, desired0: int, desired1: int
) -> None:
    """At 1 : 4, 997_000_000 of token0 matches 3_988_000_000 of token1, and mints
    997_000_000 · 19_940_000_000 / 9_970_000_000 = 1_994_000_000 shares."""
    seeded(world)
    blocks = world.blocks()
    added = world.by(BOB).add_liquidity(desired0, desired1)
    assert added == Ok(Liquidity(1_994_000_000, 997_000_000, 3_988_000_000))
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.reserves() == (R0 + 997_000_000, R1 + 3_988_000_000, SHARES + 1_994_000_000)
    assert world.pool.get_shares(BOB) == 1_994_000_000
    assert world.balance(world.t0, BOB) == HELD - 997_000_000 - FEE
    assert world.balance(world.t1, BOB) == HELD - 3_988_000_000 - FEE
    assert world.pool_balances() == {}
    world.reconcile()


def test_shares_can_go_to_another_holder(world: World) -> None:
    assert world.by(ALICE).add_liquidity(R0, R1, 0, CAROL) == Ok(Liquidity(SHARES, R0, R1))
    assert (world.pool.get_shares(ALICE), world.pool.get_shares(CAROL)) == (0, SHARES)
    assert world.balance(world.t0, CAROL) == world.balance(world.t1, CAROL) == HELD
    assert world.balance(world.t0, ALICE) == HELD - R0 - FEE
    assert world.balance(world.t1, ALICE) == HELD - R1 - FEE
    assert world.reserves() == (R0, R1, SHARES)
    world.reconcile()


def test_removing_a_quarter_pays_a_quarter_of_each_reserve_less_the_ledger_fee(
    world: World,
) -> None:
    """4_985_000_000 of 19_940_000_000 shares: 2_492_500_000 and 9_970_000_000."""
    seeded(world)
    blocks = world.blocks()
    removed = world.by(ALICE).remove_liquidity(4_985_000_000)
    assert removed == Ok(Liquidity(4_985_000_000, 2_492_500_000, 9_970_000_000))
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.reserves() == (7_477_500_000, 29_910_000_000, 14_955_000_000)
    assert world.pool.get_shares(ALICE) == 14_955_000_000
    assert world.balance(world.t0, ALICE) == HELD - R0 - FEE + 2_492_500_000 - FEE
    assert world.balance(world.t1, ALICE) == HELD - R1 - FEE + 9_970_000_000 - FEE
    assert world.balance(world.t0, world.pool_id) == 7_477_500_000
    assert world.balance(world.t1, world.pool_id) == 29_910_000_000
    world.reconcile()


def test_removing_every_share_empties_the_pool(world: World) -> None:
    seeded(world)
    assert world.by(ALICE).remove_liquidity(SHARES) == Ok(Liquidity(SHARES, R0, R1))
    assert world.reserves() == (0, 0, 0)
    assert world.pool.get_shares(ALICE) == 0
    assert world.balance(world.t0, ALICE) == HELD - 2 * FEE
    assert world.balance(world.t1, ALICE) == HELD - 2 * FEE
    assert world.balance(world.t0, world.pool_id) == world.balance(world.t1, world.pool_id) == 0
    world.reconcile()


@pytest.mark.parametrize(
    ("shares", "out0", "out1"),
    [
        # 3 · 9_970_000_000 / 19_940_000_000 = 1.5 and 3 · 39_880_000_000 / 19_940_000_000 = 6
        pytest.param(3, 1, 6, id="1 and 6: both kept"),
        # exactly the fee of token0 is kept; token1's 40_000 reaches alice as 30_000
        pytest.param(20_000, FEE, 40_000, id="exactly the fee: kept"),
        # one above the fee is sent: alice receives 1 of token0
        pytest.param(20_002, FEE + 1, 40_004, id="one above the fee: sent"),
    ],
)
def test_a_payout_that_does_not_cover_the_fee_stays_owed(
    world: World, shares: int, out0: int, out1: int
) -> None:
    seeded(world)
    blocks = world.blocks()
    assert world.by(ALICE).remove_liquidity(shares) == Ok(Liquidity(shares, out0, out1))
    sent = [out > FEE for out in (out0, out1)]
    assert world.blocks() == (blocks[0] + sent[0], blocks[1] + sent[1])
    outs = {(ALICE, world.t0): out0, (ALICE, world.t1): out1}
    assert world.pool_balances() == {key: out for key, out in outs.items() if out <= FEE}
    assert world.balance(world.t0, ALICE) == HELD - R0 - FEE + (out0 - FEE if sent[0] else 0)
    assert world.balance(world.t1, ALICE) == HELD - R1 - FEE + (out1 - FEE if sent[1] else 0)
    assert world.reserves() == (R0 - out0, R1 - out1, SHARES - shares)
    world.reconcile()


def test_a_swap_pays_the_hand_computed_output_less_the_fee(world: World) -> None:
    seeded(world)
    blocks = world.blocks()
    assert world.pool.quote(world.t0.id, SWAP_IN) == SWAP_OUT
    swapped = world.by(BOB).swap(world.t0.id, SWAP_IN, SWAP_OUT)
    assert swapped == Ok(Swapped(world.t0.id, SWAP_IN, world.t1.id, SWAP_OUT))
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.reserves() == (R0 + SWAP_IN, R1 - SWAP_OUT, SHARES)
    assert (R0 + SWAP_IN) * (R1 - SWAP_OUT) >= R0 * R1
    assert world.balance(world.t0, BOB) == HELD - SWAP_IN - FEE
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    assert world.balance(world.t0, world.pool_id) == R0 + SWAP_IN
    assert world.balance(world.t1, world.pool_id) == R1 - SWAP_OUT
    assert world.pool_balances() == {}
    world.reconcile()


def test_a_swap_the_other_way_pays_what_was_quoted(world: World) -> None:
    """1_000_000 of token1 into 39_880_000_000 / 9_970_000_000: eff 9_970_000_000, out =
    9_970_000_000 · 9_970_000_000 / (398_800_000_000_000 + 9_970_000_000) = 249_250 /
    1.000025 = 249_243.8."""
    seeded(world)
    swapped = world.by(CAROL).swap(world.t1.id, 1_000_000, 249_243)
    assert swapped == Ok(Swapped(world.t1.id, 1_000_000, world.t0.id, 249_243))
    assert world.reserves() == (R0 - 249_243, R1 + 1_000_000, SHARES)
    assert world.balance(world.t0, CAROL) == HELD + 249_243 - FEE
    assert world.balance(world.t1, CAROL) == HELD - 1_000_000 - FEE
    assert world.pool_balances() == {}
    world.reconcile()


@pytest.mark.parametrize(
    ("seed", "amount", "min_out", "got"),
    [
        pytest.param(True, SWAP_IN, SWAP_OUT + 1, SWAP_OUT, id="one unit above the quote"),
        pytest.param(True, SWAP_IN, MAX, SWAP_OUT, id="far above the quote"),
        pytest.param(True, 1_000_000, 249_244, 249_243, id="one above 249_243"),
        pytest.param(False, SWAP_IN, 0, 0, id="an empty pool quotes nothing"),
        # 1 · 9_970 · 9_970_000_000 / (398_800_000_000_000 + 9_970) = 0.249
        pytest.param(True, 1, 0, 0, id="too little to buy one unit"),
    ],
)
def test_a_swap_below_its_minimum_is_refused_before_anything_moves(
    world: World, seed: bool, amount: int, min_out: int, got: int
) -> None:
    if seed:
        seeded(world)
    token_in = world.t0.id if amount == SWAP_IN else world.t1.id
    before, blocks = world.states(), world.blocks()
    assert world.by(BOB).swap(token_in, amount, min_out) == Err(Slippage(min_out, got))
    assert world.blocks() == blocks
    assert world.states() == before
    assert world.balance(world.t0, BOB) == world.balance(world.t1, BOB) == HELD
    world.reconcile()


# -- failures: credited once it arrived, paid once, nothing lost ---------------------------------
# The pool journals each ledger request in ``in_flight`` with a memo of its own and a
# ``created_at_time`` and sends it once more after a reject (``icto.ledger.client.settle``): one
# injected reject or trap is retried and the transfer happens once; a ledger that rejects both
# tries leaves the request in flight, its outcome unknown. A trap of the pool's own method rolls
# back its last segment, which processed the last reply, so that request stays in flight too.
# ``settle_requests`` (anyone) or the user's next operation sends it again, identically.

NOTHING_OWED: Final = Err(InvalidRequest(("nothing is owed to you on this ledger",)))


@pytest.mark.parametrize("kind", ["reject", "trap"])
def test_a_payout_rejected_once_is_retried_and_paid_exactly_once(world: World, kind: str) -> None:
    seeded(world)
    blocks = world.blocks()
    install = world.ic.faults.reject if kind == "reject" else world.ic.faults.trap
    with install(canister=world.t1.id, method=PAYOUT, times=1) as fault:
        swapped = world.by(BOB).swap(world.t0.id, SWAP_IN, 0)
    assert fault.fired == 1
    assert swapped == Ok(Swapped(world.t0.id, SWAP_IN, world.t1.id, SWAP_OUT))
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.pool_balances() == {}
    assert world.balance(world.t0, BOB) == HELD - SWAP_IN - FEE
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    assert world.reserves() == (R0 + SWAP_IN, R1 - SWAP_OUT, SHARES)
    world.reconcile()


def payout_rejected_twice(world: World, kind: str) -> tuple[int, int]:
    """Alice's deposit is in; bob's swap of ``SWAP_IN`` has its payout rejected (or trapped)
    twice: neither paid nor owed, in flight. The blocks after alice's deposit."""
    seeded(world)
    blocks = world.blocks()
    install = world.ic.faults.reject if kind == "reject" else world.ic.faults.trap
    with install(canister=world.t1.id, method=PAYOUT, times=None) as fault:
        swapped = world.by(BOB).swap(world.t0.id, SWAP_IN, 0)
    assert fault.fired == 2  # the request and its one retry
    assert swapped == Ok(Swapped(world.t0.id, SWAP_IN, world.t1.id, SWAP_OUT))
    assert world.blocks() == (blocks[0] + 1, blocks[1])
    assert world.pool_balances() == {}
    assert world.balance(world.t0, BOB) == HELD - SWAP_IN - FEE
    assert world.balance(world.t1, BOB) == HELD
    assert world.balance(world.t1, world.pool_id) == R1  # nothing left the pool
    assert world.reserves() == (R0 + SWAP_IN, R1 - SWAP_OUT, SHARES)
    world.reconcile(("payout", BOB, world.t1, SWAP_OUT))
    return blocks


@pytest.mark.parametrize("kind", ["reject", "trap"])
@pytest.mark.parametrize("settler", ["anyone", "bob's next operation"])
def test_a_payout_rejected_twice_stays_in_flight_until_settled_and_is_paid_once(
    world: World, kind: str, settler: str
) -> None:
    blocks = payout_rejected_twice(world, kind)
    with world.ic.faults.reject(canister=world.t1.id, method=PAYOUT, times=None) as fault:
        assert world.by(CAROL).settle_requests() == 1  # rejected twice again: still in flight
    assert fault.fired == 2
    assert world.blocks() == (blocks[0] + 1, blocks[1])
    assert world.balance(world.t1, BOB) == HELD
    world.reconcile(("payout", BOB, world.t1, SWAP_OUT))
    if settler == "anyone":
        assert world.by(CAROL).settle_requests() == 0
    else:  # withdraw_owed settles bob's requests first; then nothing is owed to him
        assert world.by(BOB).withdraw_owed(world.t1.id) == NOTHING_OWED
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.pool_balances() == {}
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    assert world.balance(world.t1, CAROL) == HELD
    assert world.balance(world.t1, world.pool_id) == R1 - SWAP_OUT
    world.reconcile()
    assert world.by(CAROL).settle_requests() == 0  # nothing is paid twice
    assert world.by(BOB).withdraw_owed(world.t1.id) == NOTHING_OWED
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    world.reconcile()


def test_settle_requests_settles_up_to_20_requests_of_anyone_a_call(world: World) -> None:
    """21 swaps of 10**6 of token0, bob's and carol's in turn, each with its payout rejected
    twice: 21 payouts in flight. Alice's first ``settle_requests`` pays 20, her second the last
    one."""
    seeded(world)
    blocks = world.blocks()
    paid = {BOB: 0, CAROL: 0}
    reserve0, reserve1 = R0, R1
    with world.ic.faults.reject(canister=world.t1.id, method=PAYOUT, times=None) as fault:
        for i in range(21):
            trader = (BOB, CAROL)[i % 2]
            out = amount_out(10**6, reserve0, reserve1, 30)
            swapped = world.by(trader).swap(world.t0.id, 10**6, 0)
            assert swapped == Ok(Swapped(world.t0.id, 10**6, world.t1.id, out))
            reserve0, reserve1 = reserve0 + 10**6, reserve1 - out
            paid[trader] += out - FEE
    # each swap sends its payout twice, after sending each of its trader's earlier ones twice
    # (its own operation settles them first): 2 · (21 + (0 + … + 10) + (0 + … + 9))
    assert fault.fired == 2 * (21 + 55 + 45)
    assert world.blocks() == (blocks[0] + 21, blocks[1])
    assert len(world.in_flight()) == 21
    world.reconcile(*world.in_flight())
    assert world.by(ALICE).settle_requests() == 1
    assert world.blocks() == (blocks[0] + 21, blocks[1] + 20)
    world.reconcile(*world.in_flight())
    assert world.by(ALICE).settle_requests() == 0
    assert world.blocks() == (blocks[0] + 21, blocks[1] + 21)
    assert world.balance(world.t1, BOB) == HELD + paid[BOB]
    assert world.balance(world.t1, CAROL) == HELD + paid[CAROL]
    assert world.balance(world.t1, ALICE) == HELD - R1 - FEE
    assert world.pool_balances() == {}
    assert world.reserves() == (reserve0, reserve1, SHARES)
    world.reconcile()


def test_requests_past_the_ledgers_window_never_hold_up_one_that_can_be_settled(
    world: World,
) -> None:
    """25 of carol's payouts go past the ledger's window in flight (it can no longer tell
    whether they happened); bob's fresh one is settled first by anyone's ``settle_requests``,
    and carol's are then looked up in the ledger's log, 20 in all per call: they never ran, so
    each goes back to her pool balance."""
    seeded(world)
    with world.ic.faults.reject(canister=world.t1.id, method=PAYOUT, times=None):
        for i in range(25):
            world.by(CAROL).swap(world.t0.id, 10**6 + i, 0)
    world.ic.advance_time(**DAY_AND_DRIFT)
    with world.ic.faults.reject(canister=world.t1.id, method=PAYOUT, times=None):
        world.by(BOB).swap(world.t0.id, SWAP_IN, 0)
    assert len(world.in_flight()) == 26
    (bobs,) = [request for request in world.in_flight() if request[1] == BOB]
    carols = sum(amount for _, user, _, amount in world.in_flight() if user == CAROL)
    before = world.balance(world.t1, BOB)
    assert world.by(ALICE).settle_requests() == 6
    assert world.balance(world.t1, BOB) == before + bobs[3] - FEE
    assert all(user == CAROL for _, user, *_ in world.in_flight())
    assert world.by(ALICE).settle_requests() == 0
    assert world.pool_balances() == {(CAROL, world.t1): carols}
    world.reconcile()


def test_a_trapped_settle_requests_keeps_what_it_settled_before_its_last_ledger_call(
    world: World,
) -> None:
    """Alice's pull of 1 token0 is rejected twice (it never ran; in flight) and goes past the
    ledger's window. Her next deposit of 1 and 1 first settles hers: the ledger's log shows the
    stale pull never ran, so it is dropped. It pulls both, but traps at its end: the token0 pull
    is credited, the token1 pull ran and stays in flight. A ``settle_requests`` that traps at
    its end settles that pull (``Duplicate``: no new block) after its last ledger call, so the
    trap rolls the settling back and the pull stays in flight; a plain call then credits it."""
    with world.ic.faults.reject(canister=world.t0.id, method=PULL, times=None):
        added = world.by(ALICE).add_liquidity(1, 1)
    assert isinstance(added, Err) and isinstance(added.error, TransferFailed), added
    world.reconcile(("pull", ALICE, world.t0, 1))
    world.ic.advance_time(**DAY_AND_DRIFT)
    blocks = world.blocks()
    trapped(world, "add_liquidity", lambda: world.by(ALICE).add_liquidity(1, 1))
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.pool_balances() == {(ALICE, world.t0): 1}
    world.reconcile(("pull", ALICE, world.t1, 1))
    trapped(world, "settle_requests", lambda: world.by(ALICE).settle_requests())
    world.reconcile(("pull", ALICE, world.t1, 1))
    assert world.by(ALICE).settle_requests() == 0
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.pool_balances() == {(ALICE, world.t0): 1, (ALICE, world.t1): 1}
    assert world.reserves() == (0, 0, 0)
    world.reconcile()


def test_a_payout_the_ledger_refuses_is_credited_back_and_withdraw_owed_pays_it(
    world: World,
) -> None:
    seeded(world)
    blocks = world.blocks()
    world.ic.upgrade_canister(world.t1.id, Refusing)
    swapped = world.by(BOB).swap(world.t0.id, SWAP_IN, 0)
    assert swapped == Ok(Swapped(world.t0.id, SWAP_IN, world.t1.id, SWAP_OUT))
    assert world.blocks() == (blocks[0] + 1, blocks[1])
    assert world.pool_balances() == {(BOB, world.t1): SWAP_OUT}
    assert world.balance(world.t1, BOB) == HELD
    assert world.reserves() == (R0 + SWAP_IN, R1 - SWAP_OUT, SHARES)
    world.reconcile()
    # refused again: ``withdraw_owed`` says so, and it stays owed (it used to answer Ok)
    refused = world.by(BOB).withdraw_owed(world.t1.id)
    assert isinstance(refused, Err) and isinstance(refused.error, TransferFailed), refused
    assert refused.error.reason.startswith("still owed: ")
    assert world.pool_balances() == {(BOB, world.t1): SWAP_OUT}
    world.reconcile()
    world.ic.upgrade_canister(world.t1.id, Ledger)
    assert world.by(BOB).withdraw_owed(world.t1.id) == Ok(SWAP_OUT)
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.pool_balances() == {}
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    world.reconcile()
    assert world.by(BOB).withdraw_owed(world.t1.id) == NOTHING_OWED


def test_a_payout_in_flight_that_the_ledger_then_refuses_is_credited_back(world: World) -> None:
    blocks = payout_rejected_twice(world, "reject")
    world.ic.upgrade_canister(world.t1.id, Refusing)
    assert world.by(CAROL).settle_requests() == 0
    assert world.blocks() == (blocks[0] + 1, blocks[1])
    assert world.pool_balances() == {(BOB, world.t1): SWAP_OUT}
    assert world.balance(world.t1, BOB) == HELD
    world.reconcile()
    world.ic.upgrade_canister(world.t1.id, Ledger)
    assert world.by(BOB).withdraw_owed(world.t1.id) == Ok(SWAP_OUT)
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.pool_balances() == {}
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    world.reconcile()


def test_a_payout_of_a_removal_rejected_twice_stays_in_flight_until_the_next_removal(
    world: World,
) -> None:
    """A quarter of the shares pays 2_492_500_000 and 9_970_000_000; token0's ledger traps both
    tries. Alice's next removal, of a third of what is left (the same amounts), settles it
    first."""
    seeded(world)
    blocks = world.blocks()
    with world.ic.faults.trap(canister=world.t0.id, method=PAYOUT, times=None) as fault:
        removed = world.by(ALICE).remove_liquidity(4_985_000_000)
    assert fault.fired == 2
    assert removed == Ok(Liquidity(4_985_000_000, 2_492_500_000, 9_970_000_000))
    assert world.blocks() == (blocks[0], blocks[1] + 1)
    assert world.pool_balances() == {}
    assert world.balance(world.t0, ALICE) == HELD - R0 - FEE
    assert world.balance(world.t1, ALICE) == HELD - R1 - FEE + 9_970_000_000 - FEE
    assert world.balance(world.t0, world.pool_id) == R0
    assert world.reserves() == (7_477_500_000, 29_910_000_000, 14_955_000_000)
    world.reconcile(("payout", ALICE, world.t0, 2_492_500_000))
    removed = world.by(ALICE).remove_liquidity(4_985_000_000)
    assert removed == Ok(Liquidity(4_985_000_000, 2_492_500_000, 9_970_000_000))
    assert world.blocks() == (blocks[0] + 2, blocks[1] + 2)
    assert world.balance(world.t0, ALICE) == HELD - R0 - FEE + 2 * (2_492_500_000 - FEE)
    assert world.balance(world.t1, ALICE) == HELD - R1 - FEE + 2 * (9_970_000_000 - FEE)
    assert world.reserves() == (4_985_000_000, 19_940_000_000, 9_970_000_000)
    assert world.pool_balances() == {}
    world.reconcile()


def test_an_unreadable_fee_keeps_the_payout_owed(world: World) -> None:
    seeded(world)
    blocks = world.blocks()
    with world.ic.faults.reject(canister=world.t1.id, method="icrc1_fee", times=None) as fault:
        swapped = world.by(BOB).swap(world.t0.id, SWAP_IN, 0)
    assert fault.fired == 1  # a read is not retried
    assert swapped == Ok(Swapped(world.t0.id, SWAP_IN, world.t1.id, SWAP_OUT))
    assert world.blocks() == (blocks[0] + 1, blocks[1])
    assert world.pool_balances() == {(BOB, world.t1): SWAP_OUT}
    assert world.balance(world.t1, BOB) == HELD
    world.reconcile()


def test_a_pull_rejected_twice_stays_in_flight_and_what_arrived_stays_in_the_pool_balance(
    world: World,
) -> None:
    blocks = world.blocks()
    with world.ic.faults.reject(canister=world.t1.id, method=PULL, times=None) as fault:
        added = world.by(ALICE).add_liquidity(R0, R1)
    assert fault.fired == 2
    assert isinstance(added, Err) and isinstance(added.error, TransferFailed)
    assert "what arrived stays in your pool balance" in added.error.reason
    assert world.blocks() == (blocks[0] + 1, blocks[1])
    assert world.pool_balances() == {(ALICE, world.t0): R0}
    assert world.balance(world.t0, ALICE) == HELD - R0 - FEE
    assert world.balance(world.t1, ALICE) == HELD
    assert world.reserves() == (0, 0, 0)
    world.reconcile(("pull", ALICE, world.t1, R1))
    [request] = world.requests()
    # the retry first settles the pull in flight (it happens now), then pulls nothing more
    assert world.by(ALICE).add_liquidity(R0, R1) == Ok(Liquidity(SHARES, R0, R1))
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.t1.get_blocks(blocks[1], 1)[0].memo == args_of(request).memo
    assert world.balance(world.t0, ALICE) == HELD - R0 - FEE
    assert world.balance(world.t1, ALICE) == HELD - R1 - FEE
    assert world.pool_balances() == {}
    assert world.reserves() == (R0, R1, SHARES)
    world.reconcile()


def test_a_trap_at_the_end_of_add_liquidity_leaves_the_last_pull_in_flight_and_a_retry_pulls_nothing(  # noqa: E501
    world: World,
) -> None:
    blocks = world.blocks()
    trapped(world, "add_liquidity", lambda: world.by(ALICE).add_liquidity(R0, R1))
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)  # both pulls happened
    # token0's pull was credited in the segment that sent token1's; token1's credit and the
    # minting were in the last one, rolled back
    assert world.pool_balances() == {(ALICE, world.t0): R0}
    assert world.reserves() == (0, 0, 0)
    assert world.pool.get_shares(ALICE) == 0
    assert world.balance(world.t0, ALICE) == HELD - R0 - FEE
    assert world.balance(world.t1, ALICE) == HELD - R1 - FEE
    world.reconcile(("pull", ALICE, world.t1, R1))
    assert world.by(ALICE).add_liquidity(R0, R1) == Ok(Liquidity(SHARES, R0, R1))
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)  # Duplicate: nothing pulled again
    assert world.balance(world.t0, ALICE) == HELD - R0 - FEE
    assert world.balance(world.t1, ALICE) == HELD - R1 - FEE
    assert world.pool_balances() == {}
    assert world.reserves() == (R0, R1, SHARES)
    assert world.pool.get_shares(ALICE) == SHARES
    world.reconcile()


def test_settle_requests_after_a_trapped_deposit_credits_the_pull_that_arrived_without_a_block(
    world: World,
) -> None:
    blocks = world.blocks()
    trapped(world, "add_liquidity", lambda: world.by(ALICE).add_liquidity(R0, R1))
    [request] = world.requests()
    assert world.block_of(request) is not None  # it arrived; its credit was rolled back
    world.reconcile(("pull", ALICE, world.t1, R1))
    assert world.by(CAROL).settle_requests() == 0
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)  # the ledger answered Duplicate
    assert world.pool_balances() == {(ALICE, world.t0): R0, (ALICE, world.t1): R1}
    assert world.balance(world.t0, ALICE) == HELD - R0 - FEE
    assert world.balance(world.t1, ALICE) == HELD - R1 - FEE
    assert world.balance(world.t0, CAROL) == world.balance(world.t1, CAROL) == HELD
    assert world.reserves() == (0, 0, 0)
    world.reconcile()
    before = world.states()
    assert world.by(CAROL).settle_requests() == 0
    assert world.states() == before
    assert world.by(ALICE).withdraw_owed(world.t1.id) == Ok(R1)
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 2)
    assert world.balance(world.t1, ALICE) == HELD - 2 * FEE
    assert world.pool_balances() == {(ALICE, world.t0): R0}
    world.reconcile()


def test_a_trap_after_a_payout_that_happened_leaves_it_in_flight_and_settling_pays_nothing_more(
    world: World,
) -> None:
    """The payout left the pool, but its processing was rolled back: the pool's ledger balance is
    its reserve plus its users' balances, below that plus the payout in flight."""
    seeded(world)
    blocks = world.blocks()
    trapped(world, "swap", lambda: world.by(BOB).swap(world.t0.id, SWAP_IN, 0))
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    # the swap was committed with the payout's fee read, before the payout
    assert world.reserves() == (R0 + SWAP_IN, R1 - SWAP_OUT, SHARES)
    assert world.pool_balances() == {}
    assert world.balance(world.t0, BOB) == HELD - SWAP_IN - FEE
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    assert world.balance(world.t1, world.pool_id) == R1 - SWAP_OUT
    world.reconcile(("payout", BOB, world.t1, SWAP_OUT))
    assert world.by(CAROL).settle_requests() == 0
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)  # Duplicate: not paid again
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    assert world.pool_balances() == {}
    world.reconcile()


def test_a_pull_in_flight_that_had_not_arrived_is_pulled_when_settled(world: World) -> None:
    """Bob keeps only one fee of token0, so his swap's pull is refused, and the swap traps after
    it (the refusal's processing is rolled back). Once bob holds the tokens again, settling sends
    the approved pull: it happens now and is credited; bob's next swap spends it."""
    seeded(world)
    away = HELD - 2 * FEE
    world.t0.as_caller(BOB).icrc1_transfer(TransferArgs(to=Account(CAROL), amount=away)).unwrap()
    assert world.balance(world.t0, BOB) == FEE
    blocks = world.blocks()
    trapped(world, "swap", lambda: world.by(BOB).swap(world.t0.id, SWAP_IN, 0))
    assert world.blocks() == blocks
    assert world.pool_balances() == {}
    assert world.reserves() == (R0, R1, SHARES)
    world.reconcile(("pull", BOB, world.t0, SWAP_IN))
    world.t0.as_caller(CAROL).icrc1_transfer(TransferArgs(to=Account(BOB), amount=away)).unwrap()
    assert world.by(ALICE).settle_requests() == 0
    assert world.blocks() == (blocks[0] + 2, blocks[1])  # carol's transfer back, the pull
    assert world.balance(world.t0, BOB) == HELD - SWAP_IN - 2 * FEE
    assert world.balance(world.t0, CAROL) == HELD - FEE
    assert world.pool_balances() == {(BOB, world.t0): SWAP_IN}
    world.reconcile()
    swapped = world.by(BOB).swap(world.t0.id, SWAP_IN, SWAP_OUT)
    assert swapped == Ok(Swapped(world.t0.id, SWAP_IN, world.t1.id, SWAP_OUT))
    assert world.blocks() == (blocks[0] + 2, blocks[1] + 1)  # no second pull
    assert world.balance(world.t0, BOB) == HELD - SWAP_IN - 2 * FEE
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    assert world.pool_balances() == {}
    assert world.reserves() == (R0 + SWAP_IN, R1 - SWAP_OUT, SHARES)
    world.reconcile()


def test_a_retry_for_more_pulls_only_the_difference(world: World) -> None:
    blocks = world.blocks()
    trapped(world, "add_liquidity", lambda: world.by(ALICE).add_liquidity(R0, R1))
    # into the still empty pool: everything, isqrt((R0 + 5) · (R1 + 20)) = 2 · R0 + 10
    assert world.by(ALICE).add_liquidity(R0 + 5, R1 + 20) == Ok(
        Liquidity(SHARES + 10, R0 + 5, R1 + 20)
    )
    assert world.blocks() == (blocks[0] + 2, blocks[1] + 2)
    assert world.balance(world.t0, ALICE) == HELD - R0 - 5 - 2 * FEE
    assert world.balance(world.t1, ALICE) == HELD - R1 - 20 - 2 * FEE
    assert world.pool_balances() == {}
    assert world.reserves() == (R0 + 5, R1 + 20, SHARES + 10)
    world.reconcile()


def test_a_swap_spends_the_pool_balance_before_pulling(world: World) -> None:
    """Bob's deposit of 10**10 and 4 · 10**10 traps at its end: token0 is in his pool balance,
    token1's pull in flight. His swap of 10**10 settles that (no block), then pulls nothing."""
    seeded(world)
    trapped(world, "add_liquidity", lambda: world.by(BOB).add_liquidity(SWAP_IN, 4 * SWAP_IN))
    assert world.pool_balances() == {(BOB, world.t0): SWAP_IN}
    world.reconcile(("pull", BOB, world.t1, 4 * SWAP_IN))
    blocks = world.blocks()
    swapped = world.by(BOB).swap(world.t0.id, SWAP_IN, SWAP_OUT)
    assert swapped == Ok(Swapped(world.t0.id, SWAP_IN, world.t1.id, SWAP_OUT))
    assert world.blocks() == (blocks[0], blocks[1] + 1)  # the payout only
    assert world.pool_balances() == {(BOB, world.t1): 4 * SWAP_IN}
    assert world.balance(world.t0, BOB) == HELD - SWAP_IN - FEE
    assert world.balance(world.t1, BOB) == HELD - 4 * SWAP_IN - FEE + SWAP_OUT - FEE
    assert world.reserves() == (R0 + SWAP_IN, R1 - SWAP_OUT, SHARES)
    world.reconcile()


# -- once library bugs, now fixed ----------------------------------------------------------------


def test_a_removal_paying_nothing_of_one_token_is_not_a_trap(world: World) -> None:
    """2 shares of (1, 4): burning 1 pays ⌊1/2⌋ = 0 and ⌊4/2⌋ = 2 (below the fee: owed)."""
    assert world.by(ALICE).add_liquidity(1, 4) == Ok(Liquidity(2, 1, 4))
    blocks = world.blocks()
    assert world.by(ALICE).remove_liquidity(1) == Ok(Liquidity(1, 0, 2))
    assert world.blocks() == blocks
    assert world.reserves() == (1, 2, 1)
    assert world.pool.get_shares(ALICE) == 1
    assert world.pool_balances() == {(ALICE, world.t1): 2}
    assert world.balance(world.t0, ALICE) == HELD - 1 - FEE
    assert world.balance(world.t1, ALICE) == HELD - 4 - FEE
    world.reconcile()


def test_a_payout_rejected_twice_of_a_removal_paying_nothing_of_the_other_token_stays_in_flight(
    world: World,
) -> None:
    """isqrt(10**9 · 1) = 31_622 shares; burning 100 pays ⌊10**11 / 31_622⌋ = 3_162_355 of
    token0 and 0 of token1; token0's ledger rejects the payout (both tries)."""
    assert world.by(ALICE).add_liquidity(10**9, 1) == Ok(Liquidity(31_622, 10**9, 1))
    blocks = world.blocks()
    with world.ic.faults.reject(canister=world.t0.id, method=PAYOUT, times=None) as fault:
        result = world.by(ALICE).remove_liquidity(100)
    assert fault.fired == 2
    assert result == Ok(Liquidity(100, 3_162_355, 0))
    assert world.blocks() == blocks
    assert world.reserves() == (10**9 - 3_162_355, 1, 31_522)
    assert world.pool_balances() == {}
    assert world.balance(world.t0, ALICE) == HELD - 10**9 - FEE
    world.reconcile(("payout", ALICE, world.t0, 3_162_355))
    assert world.by(BOB).settle_requests() == 0
    assert world.blocks() == (blocks[0] + 1, blocks[1])
    assert world.balance(world.t0, ALICE) == HELD - 10**9 - FEE + 3_162_355 - FEE
    assert world.pool_balances() == {}
    world.reconcile()


def test_a_trap_after_a_refused_pull_leaves_no_phantom_pool_balance(world: World) -> None:
    seeded(world)
    blocks = world.blocks()
    # more than bob has: the pull is refused, and the refusal's processing is rolled back
    trapped(world, "swap", lambda: world.by(BOB).swap(world.t0.id, 2 * BIG, 0))
    assert world.blocks() == blocks
    assert world.pool_balances() == {}
    assert world.reserves() == (R0, R1, SHARES)
    assert world.balance(world.t0, BOB) == HELD
    world.reconcile(("pull", BOB, world.t0, 2 * BIG))
    assert world.by(CAROL).settle_requests() == 0  # refused again: dropped
    assert world.blocks() == blocks
    assert world.pool_balances() == {}
    assert world.balance(world.t0, BOB) == HELD
    world.reconcile()


def test_a_trap_after_a_payout_rejected_twice_loses_nothing(world: World) -> None:
    seeded(world)
    blocks = world.blocks()
    with world.ic.faults.reject(canister=world.t1.id, method=PAYOUT, times=None) as fault:
        trapped(world, "swap", lambda: world.by(BOB).swap(world.t0.id, SWAP_IN, 0))
    assert fault.fired == 2
    assert world.blocks() == (blocks[0] + 1, blocks[1])
    assert world.reserves() == (R0 + SWAP_IN, R1 - SWAP_OUT, SHARES)
    assert world.pool_balances() == {}
    assert world.balance(world.t1, BOB) == HELD
    world.reconcile(("payout", BOB, world.t1, SWAP_OUT))
    assert world.by(CAROL).settle_requests() == 0
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    assert world.pool_balances() == {}
    world.reconcile()


# -- settled after the ledger's deduplication window -------------------------------------------


def test_a_pull_that_arrived_and_is_settled_after_a_day_is_not_lost(world: World) -> None:
    """A day later the ledger answers ``TooOld``; its log shows the pull arrived, so alice is
    credited and withdraws it with the rest."""
    blocks = world.blocks()
    trapped(world, "add_liquidity", lambda: world.by(ALICE).add_liquidity(R0, R1))
    world.reconcile(("pull", ALICE, world.t1, R1))
    world.ic.advance_time(**DAY_AND_DRIFT)
    assert world.by(CAROL).settle_requests() == 0
    assert world.pool_balances() == {(ALICE, world.t0): R0, (ALICE, world.t1): R1}
    assert world.by(ALICE).withdraw_owed(world.t0.id) == Ok(R0)
    assert world.by(ALICE).withdraw_owed(world.t1.id) == Ok(R1)
    assert world.blocks() == (blocks[0] + 2, blocks[1] + 2)
    assert world.pool_balances() == {}
    assert world.balance(world.t0, ALICE) == HELD - 2 * FEE
    assert world.balance(world.t1, ALICE) == HELD - 2 * FEE
    assert world.reserves() == (0, 0, 0)
    world.reconcile()


def test_a_payout_that_happened_and_is_settled_after_a_day_is_not_paid_twice(
    world: World,
) -> None:
    seeded(world)
    blocks = world.blocks()
    trapped(world, "swap", lambda: world.by(BOB).swap(world.t0.id, SWAP_IN, 0))
    world.reconcile(("payout", BOB, world.t1, SWAP_OUT))
    world.ic.advance_time(**DAY_AND_DRIFT)
    assert world.by(CAROL).settle_requests() == 0  # the log shows it ran: settled as paid
    assert world.by(BOB).withdraw_owed(world.t1.id) == NOTHING_OWED
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    assert world.pool_balances() == {}
    assert world.reserves() == (R0 + SWAP_IN, R1 - SWAP_OUT, SHARES)
    world.reconcile()


def test_a_payout_that_did_not_happen_and_is_settled_after_a_day_goes_back_to_its_user(
    world: World,
) -> None:
    """The ledger's log shows it never ran: it is settled as refused, owed to bob again, and
    ``withdraw_owed`` pays it once."""
    blocks = payout_rejected_twice(world, "reject")
    world.ic.advance_time(**DAY_AND_DRIFT)
    assert world.by(CAROL).settle_requests() == 0
    assert world.pool_balances() == {(BOB, world.t1): SWAP_OUT}
    assert world.by(BOB).withdraw_owed(world.t1.id) == Ok(SWAP_OUT)
    assert world.by(BOB).withdraw_owed(world.t1.id) == NOTHING_OWED
    assert world.blocks() == (blocks[0] + 1, blocks[1] + 1)
    assert world.balance(world.t1, BOB) == HELD + SWAP_OUT - FEE
    assert world.pool_balances() == {}
    world.reconcile()


# -- bad input ------------------------------------------------------------------------------------

NOT_A_TOKEN = Principal.from_canister_index(999_999)
ANON = Principal.anonymous()
SWAP_REASON = "amount_in must be an int > 0, min_out an int >= 0"
SHARES_REASON = f"shares must be an int from 1 to {SHARES}"

# (caller, method, args, the error's type, what it says: a part of an InvalidRequest's reasons or
# of a boundary reject's message, or the exact Slippage); the pool holds alice's first deposit.
BAD = [
    pytest.param(BOB, "swap", (NOT_A_TOKEN, SWAP_IN, 0), InvalidRequest,
                 "is not one of this pool's tokens", id="swap: not a token"),
    pytest.param(BOB, "swap", ("pool", SWAP_IN, 0), InvalidRequest,
                 "is not one of this pool's tokens", id="swap: the pool itself"),
    pytest.param(BOB, "swap", ("t0", 0, 0), InvalidRequest, SWAP_REASON, id="swap: amount 0"),
    pytest.param(BOB, "swap", ("t0", -1, 0), InvalidRequest, SWAP_REASON, id="swap: amount -1"),
    pytest.param(BOB, "swap", ("t0", MAX + 1, 0), InvalidRequest, SWAP_REASON,
                 id="swap: amount 2**128"),
    pytest.param(BOB, "swap", ("t0", SWAP_IN, -1), InvalidRequest, SWAP_REASON,
                 id="swap: min_out -1"),
    pytest.param(BOB, "swap", ("t0", 2 * BIG, 0), TransferFailed, "", id="swap: beyond balance"),
    pytest.param(BOB, "swap", ("t0", True, 0), InvalidArguments, "'amount_in' must be int",
                 id="swap: amount True"),
    pytest.param(BOB, "swap", ("t0", SWAP_IN, False), InvalidArguments, "'min_out' must be int",
                 id="swap: min_out bool"),
    pytest.param(ANON, "swap", ("t0", SWAP_IN, 0), InvalidRequest,
                 "the anonymous principal cannot be a trader", id="swap: anonymous"),
    pytest.param(ALICE, "remove_liquidity", (SHARES + 1,), InvalidRequest, SHARES_REASON,
                 id="remove: too many"),
    pytest.param(ALICE, "remove_liquidity", (0,), InvalidRequest, SHARES_REASON,
                 id="remove: 0 shares"),
    pytest.param(ALICE, "remove_liquidity", (-1,), InvalidRequest, SHARES_REASON,
                 id="remove: -1 shares"),
    pytest.param(BOB, "remove_liquidity", (1,), InvalidRequest, "shares must be an int from 1 to 0",
                 id="remove: holds none"),
    pytest.param(ALICE, "remove_liquidity", (True,), InvalidArguments, "'shares' must be int",
                 id="remove: True"),
    # a quarter of the shares: 2_492_500_000 and 9_970_000_000
    pytest.param(ALICE, "remove_liquidity", (4_985_000_000, 2_492_500_001), Slippage,
                 Slippage(2_492_500_001, 2_492_500_000), id="remove: min0 one above"),
    pytest.param(ALICE, "remove_liquidity", (4_985_000_000, 0, 9_970_000_001), Slippage,
                 Slippage(9_970_000_001, 9_970_000_000), id="remove: min1 one above"),
    pytest.param(ALICE, "remove_liquidity", (1, -1), InvalidRequest,
                 "min0 and min1 must be ints >= 0", id="remove: min0 negative"),
    pytest.param(BOB, "add_liquidity", (0, R1), InvalidRequest,
                 "amount0 must be an int from 1 to 2**128 - 1", id="add: amount0 0"),
    pytest.param(BOB, "add_liquidity", (R0, 0), InvalidRequest,
                 "amount1 must be an int from 1 to 2**128 - 1", id="add: amount1 0"),
    pytest.param(BOB, "add_liquidity", (-1, R1), InvalidRequest,
                 "amount0 must be an int from 1 to 2**128 - 1", id="add: amount0 -1"),
    pytest.param(BOB, "add_liquidity", (R0, MAX + 1), InvalidRequest,
                 "amount1 must be an int from 1 to 2**128 - 1", id="add: amount1 2**128"),
    pytest.param(BOB, "add_liquidity", (True, R1), InvalidArguments, "'amount0' must be int",
                 id="add: amount0 True"),
    pytest.param(BOB, "add_liquidity", (R0, R1, -1), InvalidRequest,
                 "min_shares must be an int >= 0", id="add: min_shares -1"),
    pytest.param(BOB, "add_liquidity", (R0, R1, 0, ANON), InvalidRequest,
                 "the anonymous principal cannot be a share holder",
                 id="add: anonymous beneficiary"),
    pytest.param(ANON, "add_liquidity", (R0, R1), InvalidRequest,
                 "the anonymous principal cannot be a liquidity provider", id="add: anonymous"),
    pytest.param(BOB, "add_liquidity", (R0, R1, 0, "pool"), InvalidRequest,
                 "the pool cannot hold shares", id="add: the pool as beneficiary"),
    # 1 of token0 matches 4 of token1; 1 of token1 matches 0 of token0
    pytest.param(BOB, "add_liquidity", (1, 1), InvalidRequest, "too little to mint a share",
                 id="add: too little for a share"),
    pytest.param(BOB, "add_liquidity", (R0, R1, SHARES + 1), Slippage,
                 Slippage(SHARES + 1, SHARES), id="add: min_shares one above"),
    # 1 : 4, so 10**15 of token0 with 4 · 10**15 of token1: more than bob has of either
    pytest.param(BOB, "add_liquidity", (BIG, 4 * BIG), TransferFailed, "",
                 id="add: beyond balance"),
    # BIG / 4 of token0 bob has; BIG of token1 he has not: nothing is pulled, not even token0
    pytest.param(BOB, "add_liquidity", (BIG // 4, BIG), TransferFailed, "",
                 id="add: token1 beyond balance"),
    pytest.param(BOB, "withdraw_owed", ("t0",), InvalidRequest, "nothing is owed to you",
                 id="withdraw: nothing owed"),
    pytest.param(BOB, "withdraw_owed", (NOT_A_TOKEN,), InvalidRequest, "nothing is owed to you",
                 id="withdraw: not a token"),
]  # fmt: skip


@pytest.mark.parametrize(("caller", "method", "args", "error", "says"), BAD)
def test_bad_input_gets_a_typed_error_and_changes_nothing(
    world: World, caller: Principal, method: str, args: tuple[Any, ...], error: type, says: Any
) -> None:
    seeded(world)
    names = {"t0": world.t0.id, "t1": world.t1.id, "pool": world.pool_id}
    args = tuple(names.get(arg, arg) if isinstance(arg, str) else arg for arg in args)
    before, blocks = world.states(), world.blocks()
    call = getattr(world.by(caller), method)
    if issubclass(error, CallRejected):
        with pytest.raises(error, match=re.escape(says)):
            call(*args)
    else:
        result = call(*args)
        assert isinstance(result, Err) and isinstance(result.error, error), result
        if isinstance(says, Slippage):
            assert result.error == says
        elif isinstance(result.error, InvalidRequest):
            assert any(says in reason for reason in result.error.reasons), result.error
    assert world.states() == before
    assert world.blocks() == blocks
    world.reconcile()


def test_a_pool_with_a_first_provider_takes_its_first_liquidity_from_it_alone(
    world: World,
) -> None:
    """Whoever adds the first liquidity sets the opening price; a pool created for a sale names
    the sale as its first provider, so nobody can open it at another price first."""
    pool = world.ic.deploy(Pool, PoolInit(world.t0.id, world.t1.id, 30, first_provider=ALICE))
    for ledger in world.ledgers:
        approval = ApproveArgs(spender=Account(pool.id), amount=2**64 - 1)
        for user in (ALICE, BOB):
            ledger.as_caller(user).icrc2_approve(approval).unwrap()
    before = world.ic.state_of(pool.id), world.blocks()
    refused = pool.as_caller(BOB).add_liquidity(R0, R1)
    assert isinstance(refused, Err) and "first liquidity" in refused.error.reasons[0]
    assert (world.ic.state_of(pool.id), world.blocks()) == before
    assert pool.as_caller(ALICE).add_liquidity(R0, R1) == Ok(Liquidity(SHARES, R0, R1))
    assert pool.as_caller(BOB).add_liquidity(R0, R1).is_ok, "then anyone may"


@pytest.mark.parametrize(
    "first", ["alice", Principal.anonymous(), Principal.management_canister()],
    ids=["text", "anonymous", "management"],
)  # fmt: skip
def test_a_first_provider_is_an_identified_principal_or_none(world: World, first: Any) -> None:
    """The anonymous principal and the management canister can never provide liquidity, so a
    pool waiting for them would never open."""
    with pytest.raises(CallRejected, match="first_provider"):
        world.ic.deploy(Pool, PoolInit(world.t0.id, world.t1.id, 30, first_provider=first))


# -- messages interleaved at the pool's awaits ---------------------------------------------------

HOOKS: dict[str, Any] = {}
"""What the hooking ledger runs, through the relay, while the pool awaits it."""


class Hooking(Ledger):
    """An honest ledger that, while the pool awaits its ``icrc1_fee`` or one of its pulls, runs
    the relay's queued calls first (as any message may run at an await on the IC)."""

    VERSION = "1.0.1"

    def _interleave(self, moment: str) -> None:
        for target, method, args in HOOKS.pop(moment, ()):
            HOOKS["answers"].append(self.call(HOOKS["relay"], "relay", target, method, args))

    @update
    def icrc1_fee(self) -> int:
        self._interleave("during_fee")
        return int(self.state.config.fee)

    def icrc2_transfer_from(self, args: TransferFromArgs) -> Any:
        self._interleave("during_pull")
        return super().icrc2_transfer_from(args)

    icrc2_transfer_from.__icto_kind__ = (  # type: ignore[attr-defined]
        Ledger.icrc2_transfer_from.__icto_kind__  # type: ignore[attr-defined]
    )

    def icrc1_transfer(self, args: TransferArgs) -> Any:
        """Runs the ``during_payout`` calls first; with ``refuse_meanwhile``, a transfer they
        ask for is refused with a definite ``TemporarilyUnavailable``."""
        if HOOKS.get("refuse_meanwhile") and "during_payout" not in HOOKS:
            return Err(TemporarilyUnavailable())
        self._interleave("during_payout")
        return super().icrc1_transfer(args)

    icrc1_transfer.__icto_kind__ = Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]


def interleaving(world: World) -> CanisterProxy:
    """``world`` seeded by alice, token0 on the hooking ledger, and a relay canister holding
    10**12 of each token with the pool approved: the relay, to act through."""
    seeded(world)
    relay = world.ic.deploy(Relay)
    for ledger in world.ledgers:
        ledger.as_caller(CAROL).icrc1_transfer(
            TransferArgs(to=Account(relay.id), amount=10**12)
        ).unwrap()  # fmt: skip
        approval = ApproveArgs(spender=Account(world.pool_id), amount=2**64 - 1)
        relay.relay(ledger.id, "icrc2_approve", (approval,)).unwrap()
    world.ic.upgrade_canister(world.t0.id, Hooking)
    HOOKS.clear()
    HOOKS.update(relay=relay.id, answers=[])
    return relay


def test_a_payout_is_not_paid_again_by_a_withdrawal_run_while_its_fee_is_asked(
    world: World,
) -> None:
    """The payout is owed while the pool asks the ledger for its fee; a ``withdraw_owed`` that
    runs then pays it, and the payout must not pay it a second time."""
    relay = interleaving(world)
    assert relay.relay(world.pool_id, "add_liquidity", (R0, R1)).is_ok
    shares = world.pool.get_shares(relay.id)
    held0 = world.balance(world.t0, relay.id)
    HOOKS["during_fee"] = [(world.pool_id, "withdraw_owed", (world.t0.id,))]
    removed = relay.relay(world.pool_id, "remove_liquidity", (shares,)).unwrap()
    assert HOOKS["answers"] == [Ok(removed.amount0)]
    assert world.balance(world.t0, relay.id) == held0 + removed.amount0 - FEE
    assert world.pool.get_owed(relay.id, world.t0.id) == 0
    reserve0 = world.pool.get_reserves().reserve0
    assert world.balance(world.t0, world.pool_id) >= reserve0 == R0
    world.reconcile()


def test_a_payout_still_awaited_is_not_sent_again_by_settle_requests(world: World) -> None:
    """While bob's payout is at the ledger, anyone's ``settle_requests`` leaves it alone: its
    message still awaits it. (It used to send it again; the ledger refused that resend for a
    moment, so the payout went back to bob's pool balance, and then the first one ran: bob was
    paid twice, out of the other providers' reserve.)"""
    interleaving(world)
    HOOKS["refuse_meanwhile"] = True
    HOOKS["during_payout"] = [(world.pool_id, "settle_requests", ())]
    held0 = world.balance(world.t0, BOB)
    swapped = world.by(BOB).swap(world.t1.id, SWAP_IN, 0).unwrap()
    HOOKS["refuse_meanwhile"] = False
    assert HOOKS["answers"] == [1]
    assert world.balance(world.t0, BOB) == held0 + swapped.amount_out - FEE
    assert world.owed(BOB, world.t0) == 0
    assert world.by(CAROL).settle_requests() == 0
    world.reconcile()


def test_min_shares_holds_after_the_pulls_when_a_swap_moved_the_reserves_meanwhile(
    world: World,
) -> None:
    """Bob's deposit is priced before its pulls; a swap runs during the first and halves what
    his amounts are worth in shares. Fewer than his minimum are not minted: what arrived stays
    in his pool balance, to withdraw."""
    interleaving(world)
    HOOKS["during_pull"] = [(world.pool_id, "swap", (world.t0.id, 4 * R0, 0))]
    supply = world.pool.get_reserves().supply
    result = world.by(BOB).add_liquidity(R0, R1, SHARES)
    assert HOOKS["answers"][0].is_ok
    assert isinstance(result, Err) and isinstance(result.error, Slippage), result
    assert result.error.minimum == SHARES and result.error.got < SHARES
    assert world.pool.get_shares(BOB) == 0 and world.pool.get_reserves().supply == supply
    assert (world.owed(BOB, world.t0), world.owed(BOB, world.t1)) == (R0, R1)
    assert world.by(BOB).withdraw_owed(world.t1.id) == Ok(R1)
    world.reconcile()


# -- the state machine ----------------------------------------------------------------------------

POOL_TRAP: Final = ("trap", None, None, 1)


def faults(*methods: str) -> st.SearchStrategy[Any]:
    """Half the time no fault; else (kind, 0 | 1, method, times): reject or trap the next call
    (times 1: the pool's retry goes through) or every call (None) of one of ``methods`` to that
    ledger during the message, or ``POOL_TRAP``: trap the pool's own method at its end (its last
    segment rolls back)."""
    some = st.one_of(
        st.tuples(
            st.sampled_from(("reject", "trap")), st.sampled_from((0, 1)),
            st.sampled_from(methods), st.sampled_from((1, None)),
        ),
        st.just(POOL_TRAP),
    )  # fmt: skip
    return st.one_of(st.none(), some)


users = st.sampled_from(USERS)
sides = st.sampled_from((0, 1))
amounts = st.one_of(
    st.integers(1, 10**12), st.integers(1, 30_000), st.sampled_from([1, FEE, FEE + 1, BIG, MAX])
)


@attrs.define
class Req:
    """An in-flight request as the model keeps it (tokens by side)."""

    kind: str
    user: Principal
    side: int
    amount: int
    created: int
    """Its ``created_at_time``: the time of the message that sent it first."""


@attrs.define
class Books:
    """The pool's state as the model keeps it (tokens by side)."""

    reserves: list[int]
    supply: int
    shares: dict[Principal, int]
    owed: dict[tuple[Principal, int], int]
    flight: dict[int, Req]
    swaps: int
    nonce: int = attrs.field(eq=False)
    """What the pool numbers its next request with (the number itself is not compared)."""


@attrs.define
class Ledgers:
    """What the model keeps of both ledgers, by side; a trap of the pool does not touch it."""

    wallets: dict[tuple[Principal, int], int]
    allowances: dict[tuple[Principal, int], int]
    pool: list[int]
    blocks: list[int]
    ran: set[int]
    """The in-flight requests (by nonce) the ledgers have run."""


class Model:
    """The pool as specified, run for one message from the state before it under ``fault``.

    Every call to a ledger commits the pool's state (the model keeps a copy); ``POOL_TRAP``, a
    trap at the end of the pool's method, puts that copy back: what followed the last call is
    rolled back. A faulted ledger call fails (rejected, or run and rolled back: the same to the
    pool); a ``times=1`` fault fails only the first matching call. A request is sent once more
    after a failure; what the ledger answers is its rule: a request older than its window is
    ``TooOld``, and the pool then reads the ledger's log (it ran, or it never did), one it ran is
    a ``Duplicate``, and a pull needs the user's allowance and balance for it and its fee."""

    def __init__(
        self, books: Books, ledgers: Ledgers, fault: Any, tokens: tuple[Any, Any], now: int
    ) -> None:
        self.books, self.ledgers, self.fault, self.tokens = books, ledgers, fault, tokens
        self.now = now
        self.committed = copy.deepcopy(books)
        self.fired = 0

    # -- ledgers ----------------------------------------------------------------------------------

    def _call(self, side: int, method: str) -> bool:
        """A call to ``side``'s ledger: commits the pool's state; False if the fault fails it."""
        self.committed = copy.deepcopy(self.books)
        if self.fault is None:
            return True
        _, faulted, name, times = self.fault
        if (faulted, name) != (side, method) or (times is not None and self.fired >= times):
            return True
        self.fired += 1
        return False

    def _run(self, nonce: int) -> bool | None:
        """``settle`` the request: whether it happened (now, before: ``Duplicate``, or as the
        log of a ledger too old to tell says), False if the ledger refuses it, None if both
        tries failed."""
        request, ledgers = self.books.flight[nonce], self.ledgers
        key, side = (request.user, request.side), request.side
        for _ in range(2):
            if not self._call(side, PULL if request.kind == "pull" else PAYOUT):
                continue
            if request.created + TX_WINDOW_NS < self.now:
                self._call(side, "get_blocks")  # too old to tell: the ledger's log says
                return nonce in ledgers.ran
            if nonce in ledgers.ran:
                return True
            if request.kind == "pull":
                cost = request.amount + FEE
                if min(ledgers.allowances[key], ledgers.wallets[key]) < cost:
                    return False
                ledgers.allowances[key] -= cost
                ledgers.wallets[key] -= cost
                ledgers.pool[side] += request.amount
            else:
                if ledgers.pool[side] < request.amount:
                    return False
                ledgers.pool[side] -= request.amount
                ledgers.wallets[key] += request.amount - FEE
            ledgers.blocks[side] += 1
            ledgers.ran.add(nonce)
            return True
        return None

    # -- the pool ---------------------------------------------------------------------------------

    def _owe(self, user: Principal, side: int, delta: int) -> None:
        owed = self.books.owed
        now = owed.pop((user, side), 0) + delta
        if now:
            owed[user, side] = now

    def _settled(self, nonce: int, happened: bool) -> None:
        request = self.books.flight.pop(nonce)
        if (request.kind == "pull") == happened:
            self._owe(request.user, request.side, request.amount)

    def _send(self, kind: str, user: Principal, side: int, amount: int) -> bool | None:
        nonce = self.books.nonce
        self.books.nonce += 1
        self.books.flight[nonce] = Req(kind, user, side, amount, self.now)
        happened = self._run(nonce)
        if happened is not None:
            self._settled(nonce, happened)
        return happened

    def _settle(self, nonces: tuple[int, ...]) -> None:
        for nonce in nonces:
            if nonce in self.books.flight:
                happened = self._run(nonce)
                if happened is not None:
                    self._settled(nonce, happened)

    def _order(self) -> tuple[int, ...]:
        """The in-flight nonces in the order a user's operation goes through theirs (an
        immutables.Map's)."""
        return tuple(immutables.Map(dict.fromkeys(self.books.flight)))

    def _settle_order(self) -> tuple[int, ...]:
        """The in-flight nonces in the order ``settle_requests`` goes through them: those the
        ledger can still recognise (sent within its deduplication window) first, then those past
        it, each in the order they were sent. The order matters beyond the first 20, and when the
        message traps: what was settled before its last ledger call stays settled."""
        flight = self.books.flight
        recognised = sorted(n for n, r in flight.items() if r.created + TX_WINDOW_NS >= self.now)
        too_old = sorted(n for n, r in flight.items() if r.created + TX_WINDOW_NS < self.now)
        return (*recognised, *too_old)

    def _settle_mine(self, user: Principal) -> None:
        self._settle(tuple(n for n in self._order() if self.books.flight[n].user == user))

    def _cannot_pull(self, side: int, user: Principal, amount: int) -> bool:
        missing = amount - self.books.owed.get((user, side), 0)
        if missing <= 0:
            return False
        if not (self._call(side, "icrc1_fee") and self._call(side, "icrc2_allowance")):
            return True
        self._call(side, "icrc1_balance_of")
        key = (user, side)
        return min(self.ledgers.allowances[key], self.ledgers.wallets[key]) < missing + FEE

    def _pull(self, side: int, user: Principal, amount: int) -> bool:
        missing = amount - self.books.owed.get((user, side), 0)
        return missing <= 0 or self._send("pull", user, side, missing) is True

    def _pay_out(self, user: Principal, side: int, amount: int) -> bool:
        """Whether the amount stays owed for want of a fee, of an amount above it, or because
        the ledger refused the payout."""
        if amount <= 0:
            return False
        self._owe(user, side, amount)
        if not self._call(side, "icrc1_fee") or amount <= FEE:
            return True
        self._owe(user, side, -amount)
        return self._send("payout", user, side, amount) is False

    def end(self, answer: Any) -> Any:
        """The message ends: ``POOL_TRAP`` rolls back its last segment, and the caller gets a
        reject."""
        if self.fault == POOL_TRAP:
            self.books = self.committed
            return CallRejected
        return answer

    # -- its methods (the answer, ``TransferFailed`` for any such error) -------------------------

    def add(self, user: Principal, amount0: int, amount1: int, minimum: int, to: Principal) -> Any:
        self._settle_mine(user)
        books = self.books
        (r0, r1), supply = books.reserves, books.supply
        takes = optimal_amounts(amount0, amount1, r0, r1)
        expected = shares_for(takes[0], takes[1], r0, r1, supply)
        if 0 in takes or expected == 0:
            return Err(InvalidRequest(("too little to mint a share at the pool's ratio",)))
        if expected < minimum:
            return Err(Slippage(minimum, expected))
        if any(self._cannot_pull(side, user, takes[side]) for side in (0, 1)):
            return TransferFailed
        if not all(self._pull(side, user, takes[side]) for side in (0, 1)):
            return TransferFailed
        for side in (0, 1):
            self._owe(user, side, -takes[side])
            books.reserves[side] += takes[side]
        books.supply += expected
        books.shares[to] = books.shares.get(to, 0) + expected
        return Ok(Liquidity(expected, *takes))

    def remove(self, user: Principal, shares: int, min0: int, min1: int) -> Any:
        self._settle_mine(user)
        books = self.books
        held = books.shares.get(user, 0)
        if not 0 < shares <= held:
            return Err(InvalidRequest((f"shares must be an int from 1 to {held}",)))
        outs = amounts_for(shares, books.reserves[0], books.reserves[1], books.supply)
        for minimum, out in ((min0, outs[0]), (min1, outs[1])):
            if out < minimum:
                return Err(Slippage(minimum, out))
        books.reserves = [reserve - out for reserve, out in zip(books.reserves, outs, strict=True)]
        books.supply -= shares
        books.shares[user] = held - shares
        if held == shares:
            del books.shares[user]
        for side in (0, 1):
            self._pay_out(user, side, outs[side])
        return Ok(Liquidity(shares, *outs))

    def swap(self, user: Principal, side: int, amount: int, min_out: int) -> Any:
        self._settle_mine(user)
        books = self.books
        out = amount_out(amount, books.reserves[side], books.reserves[1 - side], 30)
        if out == 0 or out < min_out:
            return Err(Slippage(min_out, out))
        if not self._pull(side, user, amount):
            return TransferFailed
        self._owe(user, side, -amount)
        books.reserves[side] += amount
        books.reserves[1 - side] -= out
        books.swaps += 1
        self._pay_out(user, 1 - side, out)
        return Ok(Swapped(self.tokens[side], amount, self.tokens[1 - side], out))

    def withdraw(self, user: Principal, side: int) -> Any:
        self._settle_mine(user)
        owed = self.books.owed.get((user, side), 0)
        if owed == 0:
            return NOTHING_OWED
        self._owe(user, side, -owed)
        return TransferFailed if self._pay_out(user, side, owed) else Ok(owed)

    def settle_requests(self) -> int:
        self._settle(self._settle_order()[:20])
        return len(self.books.flight)


class PoolMachine(RuleBasedStateMachine):
    """Random adds, removes, swaps, withdrawals and settlements by three users, under faults,
    each checked against the ``Model`` run from the state before it, and all of them against a
    model of each user's tokens (ledger balance, pool balance and what is in flight for them)."""

    def __init__(self) -> None:
        super().__init__()
        self.world = built().reset()
        self.ledgers = self.world.ledgers
        self.supply0 = tuple(ledger.icrc1_total_supply() for ledger in self.ledgers)
        self.start_blocks = self.world.blocks()
        self.seen = list(self.start_blocks)
        self.fees = [0, 0]
        self.tokens = {
            (user, side): self.world.balance(ledger, user)
            for user in USERS
            for side, ledger in enumerate(self.ledgers)
        }
        """What each user must hold of each token: at the ledger, at the pool, in flight."""

    # -- harness ----------------------------------------------------------------------------------

    def state(self) -> Any:
        return self.world.ic.state_of(self.world.pool_id)

    def observe(self) -> tuple[Books, Ledgers]:
        world, s = self.world, self.state()
        side_of = {ledger.id: side for side, ledger in enumerate(self.ledgers)}
        books = Books(
            [s.reserve0, s.reserve1], s.supply, dict(s.shares),
            {(user, side_of[token]): amount for (user, token), amount in s.owed.items()},
            {
                n: Req(r.kind, r.user, side_of[r.ledger], r.amount, memo_and_time(r)[1])
                for n, r in s.in_flight.items()
            },
            s.swaps, s.nonce,
        )  # fmt: skip
        each = [(user, side, ledger) for user in USERS for side, ledger in enumerate(self.ledgers)]
        ledgers = Ledgers(
            {(user, side): world.balance(ledger, user) for user, side, ledger in each},
            {(user, side): world.allowance(ledger, user) for user, side, ledger in each},
            [world.balance(ledger, world.pool_id) for ledger in self.ledgers],
            list(world.blocks()),
            {n for n, r in s.in_flight.items() if world.block_of(r) is not None},
        )
        return books, ledgers

    def step(
        self, caller: Principal, fault: Any, label: str,
        predict: Callable[[Model], Any], call: Callable[[CanisterProxy], Any],
    ) -> Any:  # fmt: skip
        """Predict the step with the model, make the call under ``fault`` and check that the
        answer, the pool, the ledgers and the fault's count are exactly the model's."""
        books, ledgers = self.observe()
        flying = set(books.flight)
        owners = {caller} | {r.user for r in books.flight.values() if label == "settle"}
        tokens = (self.ledgers[0].id, self.ledgers[1].id)
        model = Model(books, ledgers, fault, tokens, self.world.ic.time)
        expected = model.end(predict(model))
        result, fired = self.run(caller, fault, call, owners)
        outcome = type(getattr(result, "error", getattr(result, "value", result))).__name__
        event(f"{label}: {outcome}")
        if expected is CallRejected:
            assert isinstance(result, CallRejected) and "injected trap" in result.message, result
        elif expected is TransferFailed:
            assert isinstance(result, Err) and isinstance(result.error, TransferFailed), result
        else:
            assert result == expected
        if fault is not None and fault != POOL_TRAP:
            assert fired == model.fired, (fired, model.fired)
        model.ledgers.ran &= set(model.books.flight)
        assert self.observe() == (model.books, model.ledgers)
        if model.books.flight:
            event(f"{label}: requests left in flight")
        if flying - set(model.books.flight):
            event(f"{label}: settled a request")
        return result

    def run(
        self, caller: Principal, fault: Any, call: Callable[[CanisterProxy], Any],
        owners: set[Principal],
    ) -> tuple[Any, int]:  # fmt: skip
        """Make the call under ``fault`` (a reject reaching the test is returned, with how often
        the fault fired), then account for what moved: each new ledger block is between the pool
        and one of ``owners`` and costs that owner one fee; each change of a reserve is the
        caller's tokens going in or out."""
        world = self.world
        before = self.state()
        fired = 0
        with contextlib.ExitStack() as stack:
            rule = None
            if fault is not None:
                kind, side, method, times = fault
                target = world.pool_id if side is None else self.ledgers[side].id
                install = world.ic.faults.reject if kind == "reject" else world.ic.faults.trap
                rule = stack.enter_context(install(canister=target, method=method, times=times))
            try:
                result = call(world.by(caller))
            except CallRejected as rejected:
                result = rejected
            if rule is not None:
                fired = rule.fired
                event(f"fault {kind} {method or 'pool'} x{times or 'all'}: fired {fired}")
        after = self.state()
        pool = Account(world.pool_id)
        for side, ledger in enumerate(self.ledgers):
            count = ledger.get_transaction_count()
            for block in ledger.get_blocks(self.seen[side], count - self.seen[side]):
                [other] = {block.from_, block.to} - {pool}
                assert pool in (block.from_, block.to) and other.owner in owners, block
                assert block.fee == FEE
                self.tokens[other.owner, side] -= FEE
                self.fees[side] += FEE
            self.seen[side] = count
        self.tokens[caller, 0] -= after.reserve0 - before.reserve0
        self.tokens[caller, 1] -= after.reserve1 - before.reserve1
        # neither adding, removing nor swapping lowers the reserves behind a share
        if before.supply and after.supply:
            k_before, k_after = before.reserve0 * before.reserve1, after.reserve0 * after.reserve1
            assert k_after * before.supply**2 >= k_before * after.supply**2
        return result, fired

    # -- what happens ---------------------------------------------------------------------------

    @initialize(
        seed=st.one_of(
            st.none(),
            st.tuples(st.integers(1, 10**12), st.integers(1, 10**12)),
            st.sampled_from([(1, 4), (10**9, 1), (FEE, 10**12)]),  # removals that pay 0 of one
        )
    )
    def maybe_seed(self, seed: tuple[int, int] | None) -> None:
        if seed is not None:
            self.add(ALICE, seed[0], seed[1], None, None, None)

    @rule(
        user=users, amount0=amounts, amount1=amounts,
        fault=faults(PULL, "icrc1_fee", "icrc2_allowance"),
        beneficiary=st.one_of(st.none(), users), min_shares=st.sampled_from([None, 0, 1]),
    )  # fmt: skip
    def add(
        self, user: Principal, amount0: int, amount1: int, fault: Any,
        beneficiary: Principal | None, min_shares: int | None,
    ) -> None:  # fmt: skip
        """``min_shares`` None: 0; 0: exactly the expected shares; 1: one above them."""
        s = self.state()
        take0, take1 = optimal_amounts(amount0, amount1, s.reserve0, s.reserve1)
        expected = shares_for(take0, take1, s.reserve0, s.reserve1, s.supply)
        minimum = 0 if min_shares is None else expected + min_shares
        to = user if beneficiary is None else beneficiary
        self.step(
            user, fault, "add", lambda model: model.add(user, amount0, amount1, minimum, to),
            lambda pool: pool.add_liquidity(amount0, amount1, minimum, to),
        )  # fmt: skip

    @rule(
        pick=st.one_of(st.none(), users),
        portion=st.one_of(st.integers(1, 10_000), st.sampled_from(["all", "more"])),
        fault=faults(PAYOUT, "icrc1_fee"), guard=st.sampled_from([None, 0, 1]),
    )  # fmt: skip
    def remove(
        self, pick: Principal | None, portion: int | str, fault: Any, guard: int | None
    ) -> None:
        """``pick`` None: a holder of shares; ``guard`` None: no minimum; 0: exactly the
        amounts; 1: one above token1's."""
        s = self.state()
        user = pick if pick is not None else min(s.shares, default=ALICE)
        held = int(s.shares.get(user, 0))
        if portion == "all":
            shares = held
        elif portion == "more":
            shares = held + 1
        else:
            shares = max(1, held * int(portion) // 10_000)
        valid = 0 < shares <= held
        out0, out1 = amounts_for(shares, s.reserve0, s.reserve1, s.supply) if valid else (0, 0)
        min0, min1 = (0, 0) if guard is None else (out0, out1 + guard)
        if valid and 0 in (out0, out1):
            event("remove: pays nothing of one token")
        self.step(
            user, fault, "remove", lambda model: model.remove(user, shares, min0, min1),
            lambda pool: pool.remove_liquidity(shares, min0, min1),
        )  # fmt: skip

    @rule(
        user=users, side=sides, amount=amounts, fault=faults(PULL, PAYOUT, "icrc1_fee"),
        guard=st.sampled_from([None, 0, 1]),
    )  # fmt: skip
    def swap(self, user: Principal, side: int, amount: int, fault: Any, guard: int | None) -> None:
        """``guard`` None: min_out 0; 0: exactly the quote; 1: one above it."""
        s = self.state()
        quote = amount_out(amount, (s.reserve0, s.reserve1)[side], (s.reserve1, s.reserve0)[side],
                           s.fee_bp)  # fmt: skip
        token_in = self.ledgers[side].id
        assert self.world.pool.quote(token_in, amount) == quote
        min_out = 0 if guard is None else quote + guard
        self.step(
            user, fault, "swap", lambda model: model.swap(user, side, amount, min_out),
            lambda pool: pool.swap(token_in, amount, min_out),
        )  # fmt: skip
        after = self.state()
        assert after.reserve0 * after.reserve1 >= s.reserve0 * s.reserve1  # k never decreases
        assert after.supply == s.supply

    @rule(user=users, side=sides, fault=faults(PAYOUT, "icrc1_fee"))
    def withdraw(self, user: Principal, side: int, fault: Any) -> None:
        token = self.ledgers[side].id
        self.step(
            user, fault, "withdraw", lambda model: model.withdraw(user, side),
            lambda pool: pool.withdraw_owed(token),
        )  # fmt: skip

    @rule(user=users, fault=faults(PULL, PAYOUT))
    def settle(self, user: Principal, fault: Any) -> None:
        self.step(
            user, fault, "settle", lambda model: model.settle_requests(),
            lambda pool: pool.settle_requests(),
        )  # fmt: skip

    @rule(span=st.sampled_from([{"seconds": 1}, {"minutes": 30}, {"hours": 6}, DAY_AND_DRIFT]))
    def wait(self, span: dict[str, int]) -> None:
        """Time passes: a request sent more than a day before is past its ledger's window."""
        before = self.world.states()
        self.world.ic.advance_time(**span)
        assert self.world.states() == before
        now = self.world.ic.time
        if any(memo_and_time(r)[1] + TX_WINDOW_NS < now for r in self.world.requests()):
            event("wait: requests in flight past their window")

    # -- after every step -------------------------------------------------------------------------

    @invariant()
    def the_supply_is_the_sum_of_the_holders_shares(self) -> None:
        r0, r1, supply = self.world.reserves()
        assert supply == sum(self.world.pool.get_shares(user) for user in USERS)
        assert set(self.state().shares) <= set(USERS)
        assert (supply == 0) == (r0 == 0) == (r1 == 0)

    @invariant()
    def the_pool_reconciles(self) -> None:
        self.world.reconcile(*self.world.in_flight())

    @invariant()
    def every_user_holds_exactly_what_the_model_says(self) -> None:
        """A pull in flight is its user's once the ledger ran it; a payout in flight is its
        user's until the ledger runs it."""
        world = self.world
        for user in USERS:
            for side, ledger in enumerate(self.ledgers):
                flying = 0
                for request in world.requests():
                    if (request.user, request.ledger) == (user, ledger.id):
                        ran = world.block_of(request) is not None
                        flying += request.amount if ran == (request.kind == "pull") else 0
                held = world.balance(ledger, user) + world.owed(user, ledger) + flying
                assert held == self.tokens[user, side], (user, side)

    @invariant()
    def only_ledger_fees_are_lost(self) -> None:
        reserves = self.world.reserves()
        for side, ledger in enumerate(self.ledgers):
            supply = ledger.icrc1_total_supply()
            assert supply == self.supply0[side] - self.fees[side]
            assert self.fees[side] == FEE * (self.seen[side] - self.start_blocks[side])
            held = sum(self.world.balance(ledger, user) for user in USERS)
            assert held + self.world.balance(ledger, self.world.pool_id) == supply
            everyone = sum(self.tokens[user, side] for user in USERS) + reserves[side]
            assert everyone == supply


PoolMachine.TestCase.settings = settings(
    max_examples=min(100, settings().max_examples), stateful_step_count=50, deadline=None
)
TestPool = PoolMachine.TestCase


@given(st.lists(st.tuples(users, sides, st.integers(1, 10**11)), max_size=12))
def test_any_swaps_leave_every_token_accounted_for(swaps: list[tuple[Principal, int, int]]) -> None:
    """After any swaps against alice's first deposit: k only grew, and each token's pool ledger
    balance is its reserve."""
    world = seeded(built().reset())
    k = R0 * R1
    for user, side, amount in swaps:
        world.by(user).swap(world.ledgers[side].id, amount, 0)
        r0, r1, supply = world.reserves()
        assert r0 * r1 >= k and supply == SHARES
        k = r0 * r1
    world.reconcile()


INVARIANTS: Final = (
    "the_supply_is_the_sum_of_the_holders_shares", "the_pool_reconciles",
    "every_user_holds_exactly_what_the_model_says", "only_ledger_fees_are_lost",
)  # fmt: skip


@settings(max_examples=1, database=None, deadline=None)
@given(st.none())
def test_the_model_settles_in_the_pools_order_when_settle_requests_traps(_: None) -> None:
    """What the state machine found once (the model was wrong, not the pool), kept as a replay:
    alice's pull of token0 rejected twice goes past the ledger's window; her next deposit first
    settles hers (the ledger's log shows the stale pull never ran: dropped), then traps after
    its token1 pull ran (in flight); a ``settle_requests`` that traps at its end rolls that
    pull's settling back, as its last ledger call came before it. Replayed step by step, with
    every invariant after each (inside ``given``, as the machine records events)."""
    machine = PoolMachine()
    steps: tuple[Callable[[], None], ...] = (
        lambda: machine.maybe_seed(None),
        lambda: machine.add(ALICE, 1, 1, ("reject", 0, PULL, None), None, None),
        lambda: machine.wait(DAY_AND_DRIFT),
        lambda: machine.add(ALICE, 1, 1, POOL_TRAP, None, None),
        lambda: machine.settle(ALICE, POOL_TRAP),
    )
    for step in steps:
        step()
        for name in INVARIANTS:
            getattr(machine, name)()
    assert machine.world.in_flight() == [("pull", ALICE, machine.world.t1, 1)]
    machine.teardown()
