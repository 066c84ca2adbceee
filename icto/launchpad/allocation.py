"""How many sale tokens each buyer gets, and what is left over: pure integer functions.

- Fixed price: ``amount · 10**decimals // price`` for a buyer's whole contribution.
- Fair launch: the tokens for sale pro rata of the contributions at the end,
  ``tokens · contribution // raised``.
- Leftover: the tokens for sale no buyer gets (unsold, and rounding); it goes to the treasury at
  finalize, so ``Σ allocations + leftover = tokens for sale`` always.
- Affiliate commission: ``referred · affiliate_bp // 10_000`` of the purchase token.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

BP: Final = 10_000


def fixed_allocation(contribution: int, price: int, decimals: int) -> int:
    """Sale-token smallest units bought by ``contribution`` at ``price`` (purchase units per
    whole sale token of ``decimals``)."""
    scale: int = 10**decimals
    return contribution * scale // price


def fair_allocation(contribution: int, raised: int, tokens_for_sale: int) -> int:
    """A buyer's pro-rata share of ``tokens_for_sale`` (``raised`` > 0)."""
    return tokens_for_sale * contribution // raised


def leftover(tokens_for_sale: int, allocations: Iterable[int]) -> int:
    """What the tokens for sale keep after every buyer's allocation."""
    left = tokens_for_sale - sum(allocations)
    assert left >= 0, "allocations never exceed the tokens for sale"
    return left


def commission(referred: int, affiliate_bp: int) -> int:
    """An affiliate's commission on the contributions it referred."""
    return referred * affiliate_bp // BP
