"""The constant-product arithmetic of ``icto.dex.math``: exact integers, rounding for the pool.

- ``amount_out(a, r_in, r_out, fee_bp)`` is ``⌊a·(10_000 - fee)·r_out / (r_in·10_000 +
  a·(10_000 - fee))⌋``; the tables below are computed by hand (fee 0, 0.3 % and 10 %, tiny,
  huge and zero amounts and reserves), and so are those of ``optimal_amounts`` (the most of the
  desired amounts at the pool's ratio, everything into an empty pool), ``shares_for``
  (``isqrt(a0·a1)`` for the first deposit, then the smaller of the two proportions of the
  supply, floored) and ``amounts_for`` (``shares / supply`` of each reserve, floored).
- For any reserves, amount and fee: a swap never lowers ``k`` (``(r_in + a)·(r_out - out) ≥
  r_in·r_out``), never empties the output reserve (``out < r_out``), more input never buys less
  output and a higher fee never buys more, and a round trip a → b → a never returns more than
  was put in.
- Adding liquidity and removing the shares it minted at once returns at most what was added, of
  each token (exactly what was added into an empty pool), and neither adding nor removing ever
  lowers the reserves behind one share.
"""

from __future__ import annotations

from typing import Final

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from icto.dex import amount_out, amounts_for, optimal_amounts, shares_for
from icto.dex.math import BP

MAX: Final = 2**128 - 1
"""The largest amount the pool accepts."""

# -- amount_out -----------------------------------------------------------------------------------

# (amount_in, reserve_in, reserve_out, fee_bp, out), by hand: eff = a·(10_000 - fee),
# out = ⌊eff·r_out / (r_in·10_000 + eff)⌋.
SWAPS = [
    # eff 1_000_000; 10**9 / 11_000_000 = 90.9
    pytest.param(100, 1_000, 1_000, 0, 90, id="fee 0: 100 into 1_000/1_000"),
    # eff 10**7; 10**10 / (10**7 + 10**7) = 500 exactly
    pytest.param(1_000, 1_000, 1_000, 0, 500, id="fee 0: doubling the input reserve halves out"),
    # eff 9_970_000; 9_970_000_000 / 19_970_000 = 499.25
    pytest.param(1_000, 1_000, 1_000, 30, 499, id="fee 30: 499.25 floored"),
    # eff 9_000_000; 9 * 10**9 / 19_000_000 = 473.68
    pytest.param(1_000, 1_000, 1_000, 1_000, 473, id="fee 1000: 473.68 floored"),
    # eff 9_000_000 = r_in·10_000: out = r_out / 2
    pytest.param(1_000, 900, 1_000, 1_000, 500, id="fee 1000: eff equal to r_in, half"),
    # eff 99_700_000 = r_in·10_000: out = 1_001 / 2 = 500.5
    pytest.param(10_000, 9_970, 1_001, 30, 500, id="fee 30: half of an odd reserve floored"),
    # eff 997_000_000_000; 9.97e23 / 10_000_997_000_000_000 = 99_700_000·(1 - 9.97e-5 + …)
    # = 99_700_000 - 9_940.09 + 0.99 - … = 99_690_060.9
    pytest.param(10**8, 10**12, 10**12, 30, 99_690_060, id="fee 30: 1 ICP into 10_000 ICP"),
    # eff 9_970: 9_970·10**8 / (10**12 + 9_970) = 0.997
    pytest.param(1, 10**8, 10**8, 30, 0, id="tiny: 1 unit buys nothing (fee 30)"),
    # eff 10_000: 10**12 / (10**12 + 10_000) = 0.99999999
    pytest.param(1, 10**8, 10**8, 0, 0, id="tiny: 1 unit buys nothing (fee 0)"),
    # eff 20_000: 2·10**12 / (10**12 + 20_000) = 1.99999996
    pytest.param(2, 10**8, 10**8, 0, 1, id="tiny: 2 units buy 1 (fee 0)"),
    # eff 10_000: 10**7 / 20_000 = 500
    pytest.param(1, 1, 1_000, 0, 500, id="tiny reserves: 1 into 1/1_000"),
    # out = r_out - ⌈r_out·r_in·10_000 / (r_in·10_000 + eff)⌉ and that ratio is in (0, 1)
    pytest.param(MAX, 10**12, 10**12, 30, 999_999_999_999, id="huge: 2**128 - 1 drains all but 1"),
    # 10**18 / (1 + 10**-12) = 10**18 - 10**6 + 10**-6 - …
    pytest.param(10**18, 10**30, 10**30, 0, 999_999_999_999_000_000, id="huge reserves, fee 0"),
    # 9.97e17 / (1 + 9.97e-13) = 9.97e17 - 994_009 + 9.9e-7 - …
    pytest.param(10**18, 10**30, 10**30, 30, 996_999_999_999_005_991, id="huge reserves, fee 30"),
    pytest.param(0, 1_000, 1_000, 30, 0, id="zero amount"),
    pytest.param(-5, 1_000, 1_000, 30, 0, id="negative amount"),
    pytest.param(100, 0, 1_000, 30, 0, id="empty input reserve"),
    pytest.param(100, 1_000, 0, 30, 0, id="empty output reserve"),
    pytest.param(100, 1_000, 1_000, 10_000, 0, id="fee 100%: nothing"),
]


@pytest.mark.parametrize(("amount", "reserve_in", "reserve_out", "fee", "out"), SWAPS)
def test_amount_out_is_the_hand_computed_floor(
    amount: int, reserve_in: int, reserve_out: int, fee: int, out: int
) -> None:
    assert amount_out(amount, reserve_in, reserve_out, fee) == out


# -- optimal_amounts, shares_for, amounts_for -----------------------------------------------------

# (desired0, desired1, reserve0, reserve1, taken): matching1 = ⌊d0·r1 / r0⌋ if it fits in d1,
# else (⌊d1·r0 / r1⌋, d1).
OPTIMAL = [
    pytest.param(5, 7, 0, 0, (5, 7), id="empty pool: everything"),
    pytest.param(10, 20, 100, 200, (10, 20), id="exactly the ratio"),
    pytest.param(10, 30, 100, 200, (10, 20), id="too much token1: 10 needs 20"),
    pytest.param(10, 15, 100, 200, (7, 15), id="too little token1: 15 matches 7.5"),
    pytest.param(5, 100, 3, 7, (5, 11), id="35 / 3 = 11.67 floored"),
    pytest.param(5, 10, 3, 7, (4, 10), id="30 / 7 = 4.29 floored"),
    pytest.param(10**11, 5, 10**12, 1, (10**11, 0), id="too small to match one unit"),
]


@pytest.mark.parametrize(("desired0", "desired1", "reserve0", "reserve1", "taken"), OPTIMAL)
def test_optimal_amounts_by_hand(
    desired0: int, desired1: int, reserve0: int, reserve1: int, taken: tuple[int, int]
) -> None:
    assert optimal_amounts(desired0, desired1, reserve0, reserve1) == taken


# (amount0, amount1, reserve0, reserve1, supply, shares)
SHARES = [
    pytest.param(4, 9, 0, 0, 0, 6, id="first: isqrt(36)"),
    pytest.param(2, 3, 0, 0, 0, 2, id="first: isqrt(6) = 2.45 floored"),
    pytest.param(1, 1, 0, 0, 0, 1, id="first: one of each, one share"),
    pytest.param(10**8, 10**8, 0, 0, 0, 10**8, id="first: 1 ICP of each"),
    pytest.param(10**12, 2, 0, 0, 0, 1_414_213, id="first: isqrt(2·10**12) = 1_414_213.56"),
    pytest.param(MAX, MAX, 0, 0, 0, MAX, id="first: the largest amounts"),
    # 1_410 / 100 = 14.1 and 2_820 / 200 = 14.1
    pytest.param(10, 20, 100, 200, 141, 14, id="later: at the ratio"),
    # 14.1 and 4_230 / 200 = 21.15
    pytest.param(10, 30, 100, 200, 141, 14, id="later: extra token1 is not counted"),
    # 7_050 / 100 = 70.5 and 14.1
    pytest.param(50, 20, 100, 200, 141, 14, id="later: extra token0 is not counted"),
    # 2 / 3 = 0.67
    pytest.param(1, 1, 3, 3, 2, 0, id="later: too little for one share"),
]


@pytest.mark.parametrize(("amount0", "amount1", "reserve0", "reserve1", "supply", "shares"), SHARES)
def test_shares_for_by_hand(
    amount0: int, amount1: int, reserve0: int, reserve1: int, supply: int, shares: int
) -> None:
    assert shares_for(amount0, amount1, reserve0, reserve1, supply) == shares


# (shares, reserve0, reserve1, supply, amounts)
AMOUNTS = [
    # 1_540 / 155 = 9.94 and 3_080 / 155 = 19.87
    pytest.param(14, 110, 220, 155, (9, 19), id="both floored"),
    pytest.param(155, 110, 220, 155, (110, 220), id="every share: both reserves"),
    pytest.param(1, 10**12, 10**12, 10**12, (1, 1), id="one share of a million ICP"),
    pytest.param(1, 5, 7, 10, (0, 0), id="0.5 and 0.7: nothing"),
    pytest.param(2, 5, 7, 10, (1, 1), id="1 and 1.4"),
]


@pytest.mark.parametrize(("shares", "reserve0", "reserve1", "supply", "amounts"), AMOUNTS)
def test_amounts_for_by_hand(
    shares: int, reserve0: int, reserve1: int, supply: int, amounts: tuple[int, int]
) -> None:
    assert amounts_for(shares, reserve0, reserve1, supply) == amounts


# -- properties -----------------------------------------------------------------------------------

positive = st.one_of(st.integers(1, 1_000), st.integers(1, 10**15), st.integers(1, MAX))
"""Reserves and amounts at every scale: tiny ones are where floors bite."""
fees = st.one_of(st.sampled_from([0, 30, 1_000, BP]), st.integers(0, BP))


@given(positive, positive, positive, fees)
@example(1, 1, 1, 0)
@example(MAX, 1, MAX, 0)
@example(1, MAX, 1, 0)
def test_a_swap_never_lowers_k_nor_empties_the_output_reserve(
    amount: int, reserve_in: int, reserve_out: int, fee: int
) -> None:
    out = amount_out(amount, reserve_in, reserve_out, fee)
    assert 0 <= out < reserve_out
    assert (reserve_in + amount) * (reserve_out - out) >= reserve_in * reserve_out


@given(positive, positive, positive, positive, fees, fees)
def test_more_input_never_buys_less_and_a_higher_fee_never_buys_more(
    a: int, b: int, reserve_in: int, reserve_out: int, fee_a: int, fee_b: int
) -> None:
    small, large = sorted((a, b))
    low, high = sorted((fee_a, fee_b))
    assert amount_out(small, reserve_in, reserve_out, low) <= amount_out(
        large, reserve_in, reserve_out, low
    )
    assert amount_out(small, reserve_in, reserve_out, high) <= amount_out(
        small, reserve_in, reserve_out, low
    )


@given(positive, positive, positive, fees)
@example(10**8, 10**12, 10**12, 0)
@example(MAX, 1, 1, 0)
def test_a_round_trip_never_returns_more_than_was_put_in(
    amount: int, reserve0: int, reserve1: int, fee: int
) -> None:
    out = amount_out(amount, reserve0, reserve1, fee)
    back = amount_out(out, reserve1 - out, reserve0 + amount, fee)
    assert back <= amount


@given(positive, positive, positive, st.integers(0, MAX), st.integers(0, MAX))
@example(100, 200, 141, 10, 30)
@example(3, 3, 2, 1, 1)
def test_adding_then_removing_returns_at_most_what_was_added(
    reserve0: int, reserve1: int, supply: int, amount0: int, amount1: int
) -> None:
    shares = shares_for(amount0, amount1, reserve0, reserve1, supply)
    back0, back1 = amounts_for(shares, reserve0 + amount0, reserve1 + amount1, supply + shares)
    assert back0 <= amount0 and back1 <= amount1
    # and through ``optimal_amounts``, as the pool adds
    take0, take1 = optimal_amounts(amount0, amount1, reserve0, reserve1)
    assert take0 <= amount0 and take1 <= amount1
    minted = shares_for(take0, take1, reserve0, reserve1, supply)
    back0, back1 = amounts_for(minted, reserve0 + take0, reserve1 + take1, supply + minted)
    assert back0 <= take0 and back1 <= take1


@given(st.integers(1, MAX), st.integers(1, MAX))
@example(2, 3)
def test_the_first_deposit_removed_at_once_returns_exactly_what_was_added(
    amount0: int, amount1: int
) -> None:
    shares = shares_for(amount0, amount1, 0, 0, 0)
    assert shares >= 1
    assert amounts_for(shares, amount0, amount1, shares) == (amount0, amount1)


@given(positive, positive, positive, st.integers(0, MAX), st.integers(0, MAX), st.data())
def test_adding_or_removing_never_lowers_the_reserves_behind_a_share(
    reserve0: int, reserve1: int, supply: int, amount0: int, amount1: int, data: st.DataObject
) -> None:
    take0, take1 = optimal_amounts(amount0, amount1, reserve0, reserve1)
    minted = shares_for(take0, take1, reserve0, reserve1, supply)
    # (r + t) / (S + s) ≥ r / S, for each reserve
    assert (reserve0 + take0) * supply >= reserve0 * (supply + minted)
    assert (reserve1 + take1) * supply >= reserve1 * (supply + minted)
    burned = data.draw(st.integers(1, supply), label="burned")
    out0, out1 = amounts_for(burned, reserve0, reserve1, supply)
    assert out0 <= reserve0 and out1 <= reserve1
    if burned < supply:
        assert (reserve0 - out0) * supply >= reserve0 * (supply - burned)
        assert (reserve1 - out1) * supply >= reserve1 * (supply - burned)
    else:
        assert (out0, out1) == (reserve0, reserve1)
