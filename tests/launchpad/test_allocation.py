"""How many sale tokens each buyer gets, and what is left over.

- Fixed price: a buyer's allocation is ``contribution · 10**decimals // price`` (price in
  purchase-token units per *whole* sale token), floored once on the buyer's whole contribution,
  however many contributions made it up. Fair launch: ``tokens_for_sale · contribution //
  raised``. The tables below are computed by hand, for sale-token decimals 0, 8 and 18.
- Nothing is lost: ``Σ allocations + leftover == tokens_for_sale`` with ``leftover ≥ 0``. In a
  fair launch each floor loses less than one unit, so the leftover is less than the number of
  buyers; at a fixed price any contributions within a hard cap the validator accepts (the hard
  cap buys no more than the tokens for sale) fit in the tokens for sale.
- An affiliate's commission is ``referred · affiliate_bp // 10_000``: the commissions of any
  set of affiliates never exceed the exact shares and fall short of them by less than one unit
  per affiliate.
- Through a deployed sale (new sale token, ICP as the purchase token, a multisig treasury),
  once the sale ends successfully ``get_sale().allocated + get_stats().leftover ==
  tokens_for_sale`` and every ``get_participant(u).allocation`` is the hand-computed number, for
  fixed-price sales of 0-, 8- and 18-decimal tokens (one of them closed early by a contribution
  trimmed at the hard cap) and for fair launches (whose ``allocated`` is 0 until the end).
  Finalized, the buyers' distribution holds exactly those allocations and the treasury exactly
  the leftover.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icto import E8S, IC, Account, Ok, Principal
from icto.distribution import days
from icto.ic.proxy import CanisterProxy
from icto.launchpad import (
    FairLaunch,
    FixedPrice,
    LaunchpadConfig,
    ProjectInfo,
    SaleState,
    commission,
    fair_allocation,
    fixed_allocation,
    leftover,
    validate_launchpad_config,
)
from icto.launchpad.config import SaleType
from icto.ledger.types import ApproveArgs
from icto.multisig.config import MultisigConfig, Role
from icto.system import System, deploy_system
from icto.token import TokenConfig

MAX: Final = 2**128 - 1
"""340_282_366_920_938_463_463_374_607_431_768_211_455"""

# -- fixed price ----------------------------------------------------------------------------------

# (contribution, price, decimals, allocation): contribution · 10**decimals // price, by hand.
FIXED = [
    pytest.param(10, 3, 0, 3, id="dec 0: 10 at 3 = 3.33"),
    pytest.param(2, 3, 0, 0, id="dec 0: 2 at 3 = 0.67"),
    pytest.param(7, 1, 0, 7, id="dec 0: 7 at 1"),
    pytest.param(
        MAX, 7, 0, 48_611_766_702_991_209_066_196_372_490_252_601_636,
        id="dec 0: 2**128-1 at 7 (remainder 3)",
    ),
    pytest.param(
        1_000_000_007, 123_456_789, 8, 810_000_013,
        id="dec 8: 1_000_000_007 at 123_456_789 (remainder 5_061_743)",
    ),
    pytest.param(1, 3, 8, 33_333_333, id="dec 8: 1 at 3"),
    pytest.param(10**8, 10**8 + 1, 8, 99_999_999, id="dec 8: 10**8 at 10**8+1"),
    pytest.param(1, 10**8, 8, 1, id="dec 8: 1 at 10**8"),
    pytest.param(10**8 - 1, 10**16, 8, 0, id="dec 8: a price above 10**8 x the amount"),
    pytest.param(
        1_000_000_007, 123_456_789, 18, 8_100_000_130_410_001_186,
        id="dec 18: 1_000_000_007 at 123_456_789 (remainder 90_248_246)",
    ),
    pytest.param(10, 3, 18, 3_333_333_333_333_333_333, id="dec 18: 10 at 3"),
    pytest.param(
        7 * 10**18, 7 * 10**18 + 1, 18, 999_999_999_999_999_999, id="dec 18: 7e18 at 7e18+1",
    ),
    pytest.param(1, MAX, 18, 0, id="dec 18: 1 at 2**128-1"),
    pytest.param(MAX, MAX, 18, 10**18, id="dec 18: 2**128-1 at 2**128-1"),
]  # fmt: skip


@pytest.mark.parametrize(("contribution", "price", "decimals", "allocation"), FIXED)
def test_a_fixed_price_allocation_is_the_floor_of_amount_times_scale_over_price(
    contribution: int, price: int, decimals: int, allocation: int
) -> None:
    assert fixed_allocation(contribution, price, decimals) == allocation


# -- fair launch ----------------------------------------------------------------------------------

# (tokens for sale, contributions, allocations, leftover): tokens · c // Σ c, by hand.
FAIR = [
    pytest.param(1_000, (1, 2, 4), (142, 285, 571), 2, id="1_000 over 1, 2, 4 (/7)"),
    pytest.param(10, (1, 1, 1), (3, 3, 3), 1, id="10 over three equal"),
    pytest.param(1, (1, 1), (0, 0), 1, id="1 over two equal: nobody gets it"),
    pytest.param(100, (1,), (100,), 0, id="a single buyer gets everything"),
    pytest.param(7, (3, 5), (2, 4), 1, id="7 over 3, 5 (/8)"),
    pytest.param(5, (1,) * 7, (0,) * 7, 5, id="5 over seven equal"),
    pytest.param(
        10**8, (10**8, 10**8, 10**8), (33_333_333,) * 3, 1, id="10**8 over three equal",
    ),
    pytest.param(
        999_999, (10**8, 2 * 10**8, 3 * 10**8 + 1), (166_666, 333_332, 499_999), 2,
        id="999_999 over 1, 2, 3 ICP + 1 e8s",
    ),
    pytest.param(
        10**24 + 7, (100_000_007, 333_333_333, 1_234_567_891),
        (59_955_592_778_143_347_985_814, 199_851_961_737_655_195_723_038,
         740_192_445_484_201_456_291_154),
        1, id="dec 18: 10**24+7 over three awkward amounts",
    ),
    pytest.param(
        MAX, (1, 2**64, 3),
        (18_446_744_073_709_551_612, 340_282_366_920_938_463_389_587_631_136_930_005_006,
         55_340_232_221_128_654_836),
        1, id="2**128-1 over 1, 2**64, 3",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("tokens", "contributions", "allocations", "left"), FAIR)
def test_a_fair_launch_shares_the_tokens_pro_rata_and_keeps_the_rounding(
    tokens: int, contributions: tuple[int, ...], allocations: tuple[int, ...], left: int
) -> None:
    raised = sum(contributions)
    got = tuple(fair_allocation(c, raised, tokens) for c in contributions)
    assert got == allocations
    assert leftover(tokens, got) == left


# -- affiliate commission -------------------------------------------------------------------------

# (referred, affiliate_bp, commission): referred · bp // 10_000, by hand.
COMMISSIONS = [
    pytest.param(10_001, 333, 333, id="10_001 at 3.33% = 333.03"),
    pytest.param(1, 9_999, 0, id="1 at 99.99%"),
    pytest.param(100_000_007, 250, 2_500_000, id="100_000_007 at 2.5% = 2_500_000.175"),
    pytest.param(123_456_789, 1, 12_345, id="123_456_789 at 0.01%"),
    pytest.param(9_999, 10_000, 9_999, id="all of 9_999"),
    pytest.param(10**8, 0, 0, id="no commission"),
    pytest.param(MAX, 10_000, MAX, id="all of 2**128-1"),
]  # fmt: skip


@pytest.mark.parametrize(("referred", "bp", "paid"), COMMISSIONS)
def test_a_commission_is_the_floor_of_its_share(referred: int, bp: int, paid: int) -> None:
    assert commission(referred, bp) == paid


# -- properties -----------------------------------------------------------------------------------


@given(
    contributions=st.lists(st.integers(1, 10**20), min_size=1, max_size=50),
    tokens=st.integers(1, MAX),
)
def test_fair_allocations_and_leftover_make_up_the_tokens_for_sale(
    contributions: list[int], tokens: int
) -> None:
    raised = sum(contributions)
    allocations = [fair_allocation(c, raised, tokens) for c in contributions]
    for contribution, allocation in zip(contributions, allocations, strict=True):
        exact = Fraction(tokens * contribution, raised)
        assert allocation <= exact < allocation + 1
    left = leftover(tokens, allocations)
    assert sum(allocations) + left == tokens
    assert 0 <= left < len(contributions)


@st.composite
def fixed_sales(draw: st.DrawFn) -> tuple[int, int, int, int, list[int]]:
    """(decimals, price, hard cap, tokens for sale, contributions within the hard cap) with the
    hard cap buying no more than the tokens for sale."""
    decimals = draw(st.integers(0, 18))
    price = draw(st.integers(1, 10**15))
    contributions = draw(st.lists(st.integers(1, 10**13), min_size=1, max_size=50))
    hard_cap = sum(contributions) + draw(st.integers(0, 10**13))
    tokens = max(1, hard_cap * 10**decimals // price + draw(st.integers(0, 10**6)))
    return decimals, price, hard_cap, tokens, contributions


@given(fixed_sales())
def test_fixed_allocations_within_the_hard_cap_fit_in_the_tokens_for_sale(
    sale: tuple[int, int, int, int, list[int]],
) -> None:
    decimals, price, hard_cap, tokens, contributions = sale
    config = LaunchpadConfig(
        project=ProjectInfo("P"), sale_token=TokenConfig(name="Sale", symbol="SALE",
        decimals=decimals), purchase_token=Principal.from_canister_index(1),
        sale_type=FixedPrice(price), tokens_for_sale=tokens, soft_cap=hard_cap,
        hard_cap=hard_cap, min_contribution=1, max_contribution=hard_cap, sale_start=0,
        sale_end=1, raised_allocation=((Account(Principal.from_name("p")), 10_000),),
    )  # fmt: skip
    assert not any("hard cap buys" in reason for reason in validate_launchpad_config(config))
    allocations = [fixed_allocation(c, price, decimals) for c in contributions]
    for contribution, allocation in zip(contributions, allocations, strict=True):
        assert allocation <= Fraction(contribution * 10**decimals, price) < allocation + 1
    left = leftover(tokens, allocations)
    assert sum(allocations) + left == tokens
    assert left >= 0
    assert sum(allocations) <= sum(contributions) * 10**decimals // price


@given(
    referred=st.lists(st.integers(0, 10**20), min_size=1, max_size=50),
    bp=st.integers(0, 10_000),
)
def test_commissions_never_exceed_the_exact_shares_by_less_than_a_unit_each(
    referred: list[int], bp: int
) -> None:
    paid = [commission(amount, bp) for amount in referred]
    for amount, each in zip(referred, paid, strict=True):
        assert each <= Fraction(amount * bp, 10_000) < each + 1
    exact = sum(Fraction(amount * bp, 10_000) for amount in referred)
    assert sum(paid) <= exact
    assert exact - sum(paid) < len(referred)


# -- through a deployed sale ----------------------------------------------------------------------

CREATOR, ALICE, BOB, CAROL = (
    Principal.from_name(name) for name in ("sale-creator", "alice", "bob", "carol")
)
FEE: Final = 10_000
"""The ICP ledger's fee."""
T0: Final = 1_767_225_600 * 10**9
"""The simulated IC's clock at start."""
START: Final = T0 + days(1)
END: Final = T0 + days(3)
TREASURY = MultisigConfig(name="Treasury", members=((CREATOR, Role.OWNER),), threshold=1)


class World:
    """The platform; the creator has approved the backend for one launchpad; alice, bob and
    carol have 1_000 ICP each (``ready``)."""

    def __init__(self) -> None:
        self.ic = IC()
        assert self.ic.time == T0
        self.system: System = deploy_system(self.ic)
        self.system.faucet(CREATOR, 100 * E8S)
        self.system.approve_backend(CREATOR, 11 * E8S)
        for user in (ALICE, BOB, CAROL):
            self.system.faucet(user, 1_000 * E8S)
        self.ready = self.ic.snapshot()

    def open_sale(
        self, sale_type: SaleType, decimals: int, tokens: int, hard_cap: int
    ) -> CanisterProxy:
        """Deploy a sale of a new ``decimals`` token for ICP, and let it start. Its minimum is
        1_000_000 e8s, or more if that buys no sale token (fair launch: of the hard cap)."""
        if isinstance(sale_type, FixedPrice):
            buys_one = -(-sale_type.price // 10**decimals)
        else:
            buys_one = -(-hard_cap // tokens)
        config = LaunchpadConfig(
            project=ProjectInfo("Awkward sale"),
            sale_token=TokenConfig(name="Sale Token", symbol="SALE", decimals=decimals),
            purchase_token=self.system.icp_ledger.id, sale_type=sale_type,
            tokens_for_sale=tokens, soft_cap=10**8, hard_cap=hard_cap,
            min_contribution=max(10**6, buys_one),
            max_contribution=hard_cap, sale_start=START, sale_end=END,
            raised_allocation=((Account(CREATOR), 10_000),), treasury=TREASURY,
        )  # fmt: skip
        deployed = self.system.backend.as_caller(CREATOR).deploy_launchpad(config)
        sale = self.ic.actor(deployed.unwrap().canister_id)
        self.ic.advance_time(days=1)
        assert sale.get_state() is SaleState.SALE_ACTIVE
        return sale

    def contribute(self, sale: CanisterProxy, user: Principal, amount: int) -> object:
        approval = ApproveArgs(spender=Account(sale.id), amount=amount + FEE)
        self.system.icp_ledger.as_caller(user).icrc2_approve(approval).unwrap()
        return sale.as_caller(user).contribute(amount)


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    built.ic.restore(built.ready)
    built.ic.faults.clear()
    return built


def check_final(
    world: World, sale: CanisterProxy, tokens: int, expected: dict[Principal, int], left: int
) -> None:
    """After the end: Successful, each allocation as expected, allocated + leftover = tokens."""
    info, stats = sale.get_sale(), sale.get_stats()
    assert info.state is SaleState.SUCCESSFUL, sale.get_sale()
    assert info.tokens_for_sale == tokens
    assert (info.allocated, stats.allocated, stats.leftover) == (tokens - left, tokens - left, left)
    assert info.allocated + stats.leftover == tokens
    for user, allocation in expected.items():
        assert sale.get_participant(user).allocation == allocation, user
    page = sale.get_participants()
    assert sum(p.allocation for p in page.items) == info.allocated
    assert world.system.icp_balance(sale.id) == info.raised == stats.raised


def check_delivered(
    world: World, sale: CanisterProxy, tokens: int, expected: dict[Principal, int], left: int
) -> None:
    """Finalized: the buyers' distribution holds each allocation, the treasury the leftover."""
    assert sale.finalize() == Ok(SaleState.FINALIZED), sale.get_pipeline()
    pipeline = sale.get_pipeline()
    buyers = world.ic.actor(dict(pipeline.distributions)["buyers"])
    for user, allocation in expected.items():
        assert buyers.get_participant(user).allocation == allocation, user
    assert buyers.get_stats().total == tokens - left
    token = world.ic.actor(pipeline.sale_token)
    assert token.icrc1_balance_of(Account(pipeline.treasury)) == left
    info, stats = sale.get_sale(), sale.get_stats()
    assert (info.allocated, stats.leftover) == (tokens - left, left)


# (decimals, price, tokens for sale, hard cap, contributions as (user, asked, taken),
#  allocations, leftover): allocations computed by hand on each buyer's whole contribution.
FIXED_SALES = [
    pytest.param(
        0, 3_000_007, 5_000, 10**10,
        ((ALICE, 100_000_000, 100_000_000), (BOB, 125_000_000, 125_000_000),
         (BOB, 125_000_001, 125_000_001), (CAROL, 7_777_777_777, 7_777_777_777)),
        # 33.33; bob's 250_000_001: 83.33 (his two parts alone: 41 + 41); 2592.59.
        {ALICE: 33, BOB: 83, CAROL: 2_592}, 5_000 - 2_708,
        id="dec 0, price 3_000_007",
    ),
    pytest.param(
        8, 123_456_789, 10**12, 10**11,
        ((ALICE, 1_000_000_007, 1_000_000_007), (BOB, 55_555_555, 55_555_555),
         (BOB, 44_444_446, 44_444_446), (CAROL, 333_333_333, 333_333_333)),
        # bob's 100_000_001 buys 81_000_001 (his two parts alone: 44_999_999 + 36_000_001).
        {ALICE: 810_000_013, BOB: 81_000_001, CAROL: 270_000_002},
        10**12 - 1_161_000_016, id="dec 8, price 123_456_789",
    ),
    pytest.param(
        8, 123_456_789, 810_000_007, 10**9,
        ((ALICE, 555_555_555, 555_555_555), (BOB, 444_444_446, 444_444_445)),
        # The hard cap buys exactly the 810_000_007 for sale; bob's last contribution is
        # trimmed to the room left and closes the sale: 450_000_003.6 + 360_000_003.6.
        {ALICE: 450_000_003, BOB: 360_000_003}, 1,
        id="dec 8, the hard cap reached by a trimmed contribution",
    ),
    pytest.param(
        18, 999_999_937, 10**21, 10**11,
        ((ALICE, 1_000_000_007, 1_000_000_007), (BOB, 123_456_789, 123_456_789),
         (BOB, 987_654_321, 987_654_321), (CAROL, 77_777_777_777, 77_777_777_777)),
        {ALICE: 1_000_000_070_000_004_410, BOB: 1_111_111_180_000_004_340,
         CAROL: 77_777_782_677_000_308_651},
        10**21 - 79_888_893_927_000_317_401, id="dec 18, price 999_999_937",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("decimals", "price", "tokens", "hard_cap", "contributions", "expected", "left"), FIXED_SALES
)
def test_a_fixed_price_sale_allocates_exactly_and_keeps_the_rest(
    world: World,
    decimals: int,
    price: int,
    tokens: int,
    hard_cap: int,
    contributions: tuple[tuple[Principal, int, int], ...],
    expected: dict[Principal, int],
    left: int,
) -> None:
    sale = world.open_sale(FixedPrice(price), decimals, tokens, hard_cap)
    for user, asked, taken in contributions:
        assert world.contribute(sale, user, asked) == Ok(taken)
    for user, allocation in expected.items():
        assert sale.get_participant(user).allocation == allocation
    assert sale.get_sale().allocated == tokens - left
    closed_early = sum(taken for _, _, taken in contributions) == hard_cap
    assert sale.get_state() is (SaleState.SUCCESSFUL if closed_early else SaleState.SALE_ACTIVE)
    if not closed_early:
        world.ic.advance_time(days=2)
    check_final(world, sale, tokens, expected, left)
    check_delivered(world, sale, tokens, expected, left)


# (decimals, tokens for sale, contributions as (user, amount), allocations, leftover).
FAIR_SALES = [
    pytest.param(
        0, 1_000, ((ALICE, 10**8), (BOB, 2 * 10**8), (CAROL, 4 * 10**8)),
        {ALICE: 142, BOB: 285, CAROL: 571}, 2, id="dec 0: 1_000 over 1, 2, 4 ICP",
    ),
    pytest.param(
        8, 999_999, ((ALICE, 10**8), (BOB, 2 * 10**8), (CAROL, 3 * 10**8 + 1)),
        {ALICE: 166_666, BOB: 333_332, CAROL: 499_999}, 2,
        id="dec 8: 999_999 over 1, 2, 3 ICP + 1 e8s",
    ),
    pytest.param(
        18, 10**24 + 7,
        ((ALICE, 100_000_007), (BOB, 111_111_111), (CAROL, 1_234_567_891), (BOB, 222_222_222)),
        {ALICE: 59_955_592_778_143_347_985_814, BOB: 199_851_961_737_655_195_723_038,
         CAROL: 740_192_445_484_201_456_291_154}, 1,
        id="dec 18: 10**24+7 over three awkward amounts",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("decimals", "tokens", "contributions", "expected", "left"), FAIR_SALES)
def test_a_fair_launch_allocates_pro_rata_at_the_end_and_keeps_the_rounding(
    world: World,
    decimals: int,
    tokens: int,
    contributions: tuple[tuple[Principal, int], ...],
    expected: dict[Principal, int],
    left: int,
) -> None:
    sale = world.open_sale(FairLaunch(), decimals, tokens, 10**11)
    first, amount = contributions[0]
    assert world.contribute(sale, first, amount) == Ok(amount)
    # Alone so far, the first buyer's share is every token for sale.
    assert sale.get_participant(first).allocation == tokens
    for user, amount in contributions[1:]:
        assert world.contribute(sale, user, amount) == Ok(amount)
    assert (sale.get_sale().allocated, sale.get_stats().leftover) == (0, None)
    world.ic.advance_time(days=2)
    check_final(world, sale, tokens, expected, left)
    check_delivered(world, sale, tokens, expected, left)
