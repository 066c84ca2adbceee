"""A minimal constant-product AMM: the pool a launched token lists on, reached by id."""

from icto.dex.math import amount_out, amounts_for, optimal_amounts, shares_for
from icto.dex.pool import Pool
from icto.dex.types import (
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

__all__ = [
    "InvalidRequest",
    "Liquidity",
    "Pool",
    "PoolError",
    "PoolInit",
    "PoolState",
    "Reserves",
    "Slippage",
    "Swapped",
    "TransferFailed",
    "amount_out",
    "amounts_for",
    "optimal_amounts",
    "shares_for",
]
