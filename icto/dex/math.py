"""Constant-product pool arithmetic: exact integers, every division rounding in the pool's favour.

``x · y = k``: a swap of ``a`` in (after the pool's fee of ``fee_bp``) takes out
``a' · y // (x + a')`` with ``a' = a · (10_000 - fee_bp) / 10_000``, so ``k`` never decreases.
Liquidity shares: the first deposit mints ``isqrt(a0 · a1)``; later deposits mint the smaller of
their two proportions of the supply; withdrawing ``s`` shares returns ``s / supply`` of each
reserve, floored.
"""

from __future__ import annotations

import math
from typing import Final

BP: Final = 10_000


def amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bp: int) -> int:
    """What ``amount_in`` buys from a pool holding ``reserve_in`` and ``reserve_out``."""
    if amount_in <= 0 or reserve_in <= 0 or reserve_out <= 0:
        return 0
    effective = amount_in * (BP - fee_bp)
    return effective * reserve_out // (reserve_in * BP + effective)


def optimal_amounts(
    desired0: int, desired1: int, reserve0: int, reserve1: int
) -> tuple[int, int]:
    """The most of (``desired0``, ``desired1``) that keeps the pool's ratio (all of both into
    an empty pool)."""
    if reserve0 == 0 and reserve1 == 0:
        return desired0, desired1
    matching1 = desired0 * reserve1 // reserve0
    if matching1 <= desired1:
        return desired0, matching1
    return desired1 * reserve0 // reserve1, desired1


def shares_for(amount0: int, amount1: int, reserve0: int, reserve1: int, supply: int) -> int:
    """Shares minted for adding ``amount0`` and ``amount1``."""
    if supply == 0:
        return math.isqrt(amount0 * amount1)
    return min(amount0 * supply // reserve0, amount1 * supply // reserve1)


def amounts_for(shares: int, reserve0: int, reserve1: int, supply: int) -> tuple[int, int]:
    """What burning ``shares`` returns of each reserve."""
    return shares * reserve0 // supply, shares * reserve1 // supply
