"""Records of a constant-product pool: its state, reads and errors."""

from __future__ import annotations

from typing import TypeAlias

import attrs
import immutables

from icto.ic.principal import Principal


@attrs.frozen
class PoolInit:
    """Two different ICRC-1/2 ledgers and the swap fee (bp of each input, kept by the pool).
    ``first_provider``, if set, is the only one who may add the first liquidity (it sets the
    opening price): a launchpad's pool opens at the sale's price, not at a front-runner's."""

    token0: Principal
    token1: Principal
    fee_bp: int = 30
    first_provider: Principal | None = None


@attrs.frozen
class InFlight:
    """A ledger request the pool has sent and not yet settled: a pull to credit ``user`` with
    ``amount`` once it arrives, or a payout of ``amount`` already taken from ``user``'s pool
    balance. ``args`` is the exact request, sent again to settle it (the ledger runs it or
    answers ``Duplicate``)."""

    kind: str
    user: Principal
    ledger: Principal
    amount: int
    args: object
    settle_from: int = 0
    """From when it may be sent again even while a message of the pool awaits a call:
    ``AWAIT_GIVEN_UP_NS`` after it was sent (its message may await the reply until then, and a
    resend refused meanwhile would not prove that the first never runs); at once if its message
    ended with it in doubt, or after an upgrade."""


@attrs.frozen
class PoolState:
    token0: Principal
    token1: Principal
    fee_bp: int
    reserve0: int = 0
    reserve1: int = 0
    supply: int = 0
    shares: immutables.Map[Principal, int] = immutables.Map()
    owed: immutables.Map[tuple[Principal, Principal], int] = immutables.Map()
    """(user, ledger) → what the pool owes a user whose payout the ledger refused
    (``withdraw_owed``)."""
    swaps: int = 0
    nonce: int = 0
    """Numbers each ledger request the pool sends (its memo), so a retry is a duplicate."""
    in_flight: immutables.Map[int, InFlight] = immutables.Map()
    """Requests sent and not settled yet, by nonce: recorded before each call, removed once its
    outcome is known; a message that fails halfway leaves its request here for
    ``settle_requests``."""
    first_provider: Principal | None = None
    """Who alone may add the first liquidity; ``None`` once it has (or if anyone may)."""


@attrs.frozen
class Reserves:
    token0: Principal
    token1: Principal
    reserve0: int
    reserve1: int
    supply: int
    fee_bp: int

    def __repr__(self) -> str:
        return (
            f"<Pool {self.reserve0:,} {self.token0} / {self.reserve1:,} {self.token1}, "
            f"{self.supply:,} shares, fee {self.fee_bp / 100:g}%>"
        )


@attrs.frozen
class Swapped:
    """A swap: what went in, what came out (the recipient received ``amount_out`` less the
    output ledger's fee)."""

    token_in: Principal
    amount_in: int
    token_out: Principal
    amount_out: int


@attrs.frozen
class Liquidity:
    """Shares minted or burned, and the amounts that moved."""

    shares: int
    amount0: int
    amount1: int


@attrs.frozen
class InvalidRequest:
    reasons: tuple[str, ...]


@attrs.frozen
class Slippage:
    """The pool would give ``got``, less than the ``minimum`` asked for."""

    minimum: int
    got: int


@attrs.frozen
class TransferFailed:
    reason: str


PoolError: TypeAlias = InvalidRequest | Slippage | TransferFailed

