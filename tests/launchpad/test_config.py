"""A launchpad config is valid or refused for named reasons; a refusal costs nothing, a failed
preflight is refunded in full.

- ``validate_launchpad_config`` gives a config with one rule broken exactly one reason, naming the
  problem: the project name follows the platform's text rule; the purchase token is a canister; an
  existing sale token is another ledger than the purchase token, with 0 to 18 decimals; a new sale
  token is a valid ``TokenConfig``; a fixed price is at least 1; soft cap ≤ hard cap, min ≤ max
  contribution ≤ hard cap, start < end, times fit the IC clock (a nat64 of ns), a whitelist opens
  before the sale starts and names identified principals once each; an allocation group's recipients
  sum to its amount; the raised funds are shared by 1 or more accounts summing to exactly 10_000 bp;
  the platform fee is at most 1_000 bp and fee + affiliate + liquidity below 10_000 bp; at the fixed
  price the hard cap buys no more than the tokens for sale, the soft cap and the minimum
  contribution at least one (a fair launch's minimum: of a raise at the hard cap); a treasury
  multisig lists the creator as an Owner and a treasury DAO config is valid (its token left
  ``None`` means the sale token); ``is_public`` is a bool. Every bound itself is valid.
- Deploying a refused config through the paid flow costs nothing: ``Err(InvalidConfig)`` with the
  same reasons, the creator's ICP balance and the Launchpad Factory's contract count unchanged,
  no canister created.
- A valid config the Launchpad Factory's preflight refuses (a purchase ledger that does not
  exist or is no ledger, an existing sale token whose ledger reports other decimals) is charged
  and refunded in full: the creator ends with exactly its balance less the ledger fees of its
  approval and of the charge (the backend pays the refund's fee), and no sale is indexed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import attrs
import pytest

from icto import E8S, IC, Account, Err, Principal
from icto.backend.types import DeploymentFailed, RefundOutcome
from icto.dao import DAOConfig
from icto.distribution import Lock, days
from icto.factory import InvalidConfig
from icto.ic.world import MAX_TIME
from icto.launchpad import (
    AllocationGroup,
    ExistingToken,
    FairLaunch,
    FixedPrice,
    LaunchpadConfig,
    ProjectInfo,
    Whitelist,
    validate_launchpad_config,
)
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import LedgerInit
from icto.multisig.config import MultisigConfig, Role
from icto.system import System, deploy_system
from icto.token import TokenConfig
from tests.helpers import live_canisters

CREATOR, ALICE, BOB, TEAM, ADVISOR = (
    Principal.from_name(name) for name in ("sale-creator", "alice", "bob", "team", "advisor")
)
ANONYMOUS = Principal.anonymous()
MANAGEMENT = Principal.management_canister()
ICP_ID: Final = ICP.canister_id
OTHER: Final = Principal.from_text("mxzaz-hqaaa-aaaar-qaada-cai")
"""A second ledger (8 decimals), deployed there in the paid-flow world."""
NOWHERE: Final = Principal.from_canister_index(987_654)
"""A canister id no canister has."""
FEE: Final = 10_000
"""The ICP ledger's fee."""
LAUNCHPAD_FEE: Final = 10 * E8S
"""What the backend charges for a launchpad (its default service fee)."""
T0: Final = 1_767_225_600 * 10**9
"""The simulated IC's clock at start."""
HOUR: Final = 3_600 * 10**9
START: Final = T0 + days(1)
END: Final = T0 + days(8)

SALE_TOKEN = TokenConfig(name="Sale Token", symbol="SALE", decimals=8)
TREASURY_DAO = DAOConfig(
    name="Sale DAO", minimum_stake=1, proposal_threshold=1, proposal_deposit=0, quorum_bp=2_000,
    approval_bp=5_000, voting_period=days(3), timelock=0,
)  # fmt: skip
TREASURY_MULTISIG = MultisigConfig(
    name="Sale treasury", members=((CREATOR, Role.OWNER), (TEAM, Role.SIGNER)), threshold=2
)

# At 2_000_000 e8s per whole token (8 decimals) the hard cap of 10**11 e8s buys exactly
# 10**11 * 10**8 // 2_000_000 = 5 * 10**12 units: the tokens for sale.
BASE = LaunchpadConfig(
    project=ProjectInfo("Sale project", "A sale\nover two lines", "https://example.org"),
    sale_token=SALE_TOKEN, purchase_token=ICP_ID, sale_type=FixedPrice(2_000_000),
    tokens_for_sale=5 * 10**12, soft_cap=10**9, hard_cap=10**11, min_contribution=10**6,
    max_contribution=10**10, sale_start=START, sale_end=END,
    whitelist=Whitelist((ALICE, BOB), opens=T0 + 12 * HOUR),
    allocations=(
        AllocationGroup("Team", 1_000_000, ((TEAM, 600_001), (ADVISOR, 399_999))),
    ),
    raised_allocation=((Account(CREATOR), 7_000), (Account(TEAM), 3_000)),
    treasury=TREASURY_MULTISIG, liquidity_bp=2_000, platform_fee_bp=250, affiliate_bp=500,
)  # fmt: skip


def base(**changes: Any) -> Callable[[], LaunchpadConfig]:
    return lambda: attrs.evolve(BASE, **changes)


DECIMALS_0 = TokenConfig(name="Whole Token", symbol="WHOLE", decimals=0)
SALE_18 = attrs.evolve(SALE_TOKEN, decimals=18)
GROUP = BASE.allocations[0]
MANY: Final = tuple(Principal.from_name(f"member-{i}") for i in range(10_001))
AT_MAX: Final = 2**128 - 1 - 1_000_000
"""Tokens for sale that bring a sale of an 18-decimal token at price 1, without a pool, to
exactly 2**128 - 1 units with the 1_000_000 of the team group."""

# name → (the config, a fragment of its one reason)
BAD_CONFIGS: dict[str, tuple[Callable[[], LaunchpadConfig], str]] = {
    "empty project name": (
        base(project=ProjectInfo("")), "project name must be 1 to 100 characters, got 0",
    ),
    "project name with a newline": (
        base(project=ProjectInfo("Sale\nproject")), "project name must not contain U+000A",
    ),
    "a user as purchase token": (
        base(purchase_token=ALICE), "purchase_token must be a ledger canister id",
    ),
    "the anonymous principal as purchase token": (
        base(purchase_token=ANONYMOUS), "purchase_token must be a ledger canister id",
    ),
    "the management canister as purchase token": (
        base(purchase_token=MANAGEMENT), "purchase_token must be a ledger canister id",
    ),
    "purchase token as text": (
        base(purchase_token=str(ICP_ID)), "purchase_token must be a ledger canister id",
    ),
    "an existing sale token on the purchase ledger": (
        base(sale_token=ExistingToken(ICP_ID, 8)),
        "the sale token and the purchase token must be different ledgers",
    ),
    "an existing sale token of 19 decimals": (
        base(sale_token=ExistingToken(OTHER, 19)),
        "the sale token's decimals must be an int from 0 to 18",
    ),
    "an existing sale token of -1 decimals": (
        base(sale_token=ExistingToken(OTHER, -1)),
        "the sale token's decimals must be an int from 0 to 18",
    ),
    "an existing sale token on a user's principal": (
        base(sale_token=ExistingToken(ALICE, 8)), "the sale token's ledger must be a canister id",
    ),
    "a new sale token with a 1-letter symbol": (
        base(sale_token=attrs.evolve(SALE_TOKEN, symbol="S")),
        "sale token: symbol must be 2 to 8 characters, got 1",
    ),
    "a new sale token of 19 decimals": (
        base(sale_token=attrs.evolve(SALE_TOKEN, decimals=19)),
        "sale token: decimals must be an int from 0 to 18",
    ),
    "a sale token that is a ledger id": (
        base(sale_token=OTHER), "sale_token is an ExistingToken(ledger, decimals) or a TokenConfig",
    ),
    "FixedPrice(0)": (
        base(sale_type=FixedPrice(0)), "a fixed price must be an int from 1 to 2**128 - 1",
    ),
    "FixedPrice(-1)": (
        base(sale_type=FixedPrice(-1)), "a fixed price must be an int from 1 to 2**128 - 1",
    ),
    "sale type as text": (base(sale_type="fair"), "sale_type is FixedPrice(price) or FairLaunch()"),
    "tokens_for_sale 0": (
        base(sale_type=FairLaunch(), tokens_for_sale=0),
        "tokens_for_sale must be an int from 1 to 2**128 - 1",
    ),
    "soft cap 1 above the hard cap": (
        base(soft_cap=10**11 + 1), "the soft cap must not be above the hard cap",
    ),
    "min contribution 1 above the max": (
        base(min_contribution=10**10 + 1), "min_contribution must not be above max_contribution",
    ),
    "max contribution 1 above the hard cap": (
        base(max_contribution=10**11 + 1), "max_contribution must not be above the hard cap",
    ),
    "hard cap / min contribution rounded up = 2_000_041 buyers": (
        base(min_contribution=49_999),
        "up to 2000041 buyers could take part (hard cap / min contribution); the buyers' "
        "distribution takes at most 2000000",
    ),
    "start == end": (base(sale_start=END), "the sale must start before it ends"),
    "start after end": (base(sale_start=END + 1), "the sale must start before it ends"),
    "negative end": (base(sale_end=-1), "sale_end must be an int of ns from 0 to 2**64 - 1"),
    "start past the IC clock's last ns": (
        base(sale_start=MAX_TIME + 1), "sale_start must be an int of ns from 0 to 2**64 - 1",
    ),
    "end past the IC clock's last ns": (
        base(sale_end=MAX_TIME + 1), "sale_end must be an int of ns from 0 to 2**64 - 1",
    ),
    "whitelist opening at the sale's start": (
        base(whitelist=Whitelist((ALICE,), opens=START)),
        "the whitelist must open before the public sale starts",
    ),
    "whitelist opening after the sale's start": (
        base(whitelist=Whitelist((ALICE,), opens=START + 1)),
        "the whitelist must open before the public sale starts",
    ),
    "the anonymous principal whitelisted": (
        base(whitelist=Whitelist((ALICE, ANONYMOUS), opens=T0)),
        "the anonymous principal cannot be a whitelisted participant",
    ),
    "a principal whitelisted twice": (
        base(whitelist=Whitelist((ALICE, BOB, ALICE), opens=T0)),
        "the whitelist names a principal more than once",
    ),
    "an empty whitelist": (
        base(whitelist=Whitelist((), opens=T0)), "a whitelist has 1 to 10000 members",
    ),
    "recipients 1 short of their group's amount": (
        base(allocations=(AllocationGroup("Team", 1_000_000, ((TEAM, 600_000),
                                                               (ADVISOR, 399_999))),)),
        "allocation 0: recipients' amounts sum to 999999, not the group's 1000000",
    ),
    "recipients 1 above their group's amount": (
        base(allocations=(AllocationGroup("Team", 1_000_000, ((TEAM, 600_001),
                                                               (ADVISOR, 400_000))),)),
        "allocation 0: recipients' amounts sum to 1000001, not the group's 1000000",
    ),
    "a group with no recipients": (
        base(allocations=(AllocationGroup("Team", 1_000_000, ()),)),
        "allocation 0: recipients are 1 to 1000 (Principal, amount) pairs",
    ),
    "raised funds shared to 9_999 bp": (
        base(raised_allocation=((Account(CREATOR), 6_999), (Account(TEAM), 3_000))),
        "raised_allocation shares sum to 9999 bp, not 10000",
    ),
    "raised funds shared to 10_001 bp": (
        base(raised_allocation=((Account(CREATOR), 7_001), (Account(TEAM), 3_000))),
        "raised_allocation shares sum to 10001 bp, not 10000",
    ),
    "raised funds shared by nobody": (
        base(raised_allocation=()), "raised_allocation is 1 to 1000 (Account, bp) pairs",
    ),
    "raised funds to one account twice": (
        base(raised_allocation=((Account(CREATOR), 5_000), (Account(CREATOR), 5_000))),
        "raised_allocation names an account more than once",
    ),
    "platform_fee_bp 1_001": (
        base(platform_fee_bp=1_001), "platform_fee_bp must be an int from 0 to 1000",
    ),
    "liquidity + fee + affiliate = 10_001 bp": (
        base(liquidity_bp=9_000, platform_fee_bp=1_000, affiliate_bp=1),
        "platform fee, affiliate and liquidity shares take 10001 bp of 10000",
    ),
    "liquidity + fee = 10_000 bp: nothing left to pay the transfers' fees": (
        base(liquidity_bp=9_000, platform_fee_bp=1_000, affiliate_bp=0),
        "platform fee, affiliate and liquidity shares take 10000 bp of 10000",
    ),
    "liquidity alone 10_000 bp": (
        base(liquidity_bp=10_000, platform_fee_bp=0, affiliate_bp=0),
        "platform fee, affiliate and liquidity shares take 10000 bp of 10000",
    ),
    "the hard cap buys 1 unit more than for sale": (
        base(tokens_for_sale=5 * 10**12 - 1),
        "the hard cap buys 5000000000000 sale tokens at this price; only 4999999999999 are for "
        "sale",
    ),
    "the soft cap buys no sale token": (
        base(sale_token=DECIMALS_0, tokens_for_sale=50_000, soft_cap=1_999_999,
             min_contribution=2_000_000),
        "the soft cap buys no sale token at this price",
    ),
    "the minimum contribution buys no sale token": (
        base(sale_token=DECIMALS_0, tokens_for_sale=50_000, soft_cap=2_000_000,
             min_contribution=1_999_999),
        "min_contribution buys no sale token at this price",
    ),
    "a fair launch's minimum has no share of a raise at the hard cap": (
        base(sale_type=FairLaunch(), tokens_for_sale=100, min_contribution=10**9 - 1),
        "min_contribution buys no sale token if the hard cap is raised",
    ),
    "a treasury multisig without the creator": (
        base(treasury=MultisigConfig(name="T", members=((TEAM, Role.OWNER),), threshold=1)),
        "treasury multisig: the deploying user must be a member with the Owner role",
    ),
    "a treasury multisig with the creator as a Signer": (
        base(treasury=MultisigConfig(
            name="T", members=((TEAM, Role.OWNER), (CREATOR, Role.SIGNER)), threshold=1,
        )),
        "treasury multisig: the deploying user must be a member with the Owner role",
    ),
    "a treasury DAO with quorum 0": (
        base(treasury=attrs.evolve(TREASURY_DAO, quorum_bp=0)),
        "treasury DAO: quorum_bp must be an int from 1 to 10000",
    ),
    "a treasury DAO governed by a user": (
        base(treasury=attrs.evolve(TREASURY_DAO, token=ALICE)),
        "treasury DAO: token must be a ledger canister id",
    ),
    "a treasury that is a principal": (
        base(treasury=CREATOR), "treasury is a DAOConfig, a MultisigConfig or None",
    ),
    "project as text": (
        base(project="Sale project"), "project is a ProjectInfo(name, description, website)",
    ),
    "min_participants -1": (
        base(min_participants=-1), "min_participants must be an int from 0 to 1000000",
    ),
    "buyer_initial_bp 10_001": (
        base(buyer_initial_bp=10_001), "buyer_initial_bp must be an int from 0 to 10000",
    ),
    "affiliate_bp 10_001": (
        base(affiliate_bp=10_001), "affiliate_bp must be an int from 0 to 10000",
    ),
    "negative liquidity_bp": (
        base(liquidity_bp=-1), "liquidity_bp must be an int from 0 to 10000",
    ),
    "a whitelist that is a tuple": (
        base(whitelist=(ALICE, BOB)), "whitelist is None or a Whitelist(members, opens)",
    ),
    "a whitelist of 10_001": (
        base(whitelist=Whitelist(MANY[:10_001], opens=T0)), "a whitelist has 1 to 10000 members",
    ),
    "a whitelist opening at -1": (
        base(whitelist=Whitelist((ALICE,), opens=-1)),
        "the whitelist's opens must be an int of ns from 0 to 2**64 - 1",
    ),
    "a whitelist opening past the IC clock's last ns": (
        base(whitelist=Whitelist((ALICE,), opens=MAX_TIME + 1)),
        "the whitelist's opens must be an int of ns from 0 to 2**64 - 1",
    ),
    "11 allocation groups": (
        base(allocations=(GROUP,) * 11), "allocations are at most 10 AllocationGroup records",
    ),
    "an allocation group with an empty name": (
        base(allocations=(attrs.evolve(GROUP, name=""),)),
        "allocation 0 name must be 1 to 100 characters, got 0",
    ),
    "an allocation group of amount 0": (
        base(allocations=(AllocationGroup("Team", 0, ()),)),
        "allocation 0: amount must be an int from 1 to 2**128 - 1",
    ),
    "an allocation group with initial_bp 10_001": (
        base(allocations=(attrs.evolve(GROUP, initial_bp=10_001),)),
        "allocation 0: initial_bp must be an int from 0 to 10000",
    ),
    "the anonymous principal as a recipient": (
        base(allocations=(AllocationGroup("Team", 2, ((TEAM, 1), (ANONYMOUS, 1))),)),
        "allocation 0: the anonymous principal cannot be a recipient",
    ),
    "a recipient of 0": (
        base(allocations=(AllocationGroup("Team", 2, ((TEAM, 2), (ADVISOR, 0))),)),
        f"allocation 0: {ADVISOR}'s amount must be an int > 0",
    ),
    "a recipient twice": (
        base(allocations=(AllocationGroup("Team", 2, ((TEAM, 1), (TEAM, 1))),)),
        "allocation 0: recipients name a principal more than once",
    ),
    "a group of 1_001 recipients": (
        base(allocations=(AllocationGroup("Team", 1_001, tuple((m, 1) for m in MANY[:1_001])),)),
        "allocation 0: recipients are 1 to 1000 (Principal, amount) pairs",
    ),
    "raised funds to a principal, not an Account": (
        base(raised_allocation=((CREATOR, 10_000),)), "raised_allocation names Accounts",
    ),
    "raised funds to the anonymous principal": (
        base(raised_allocation=((Account(ANONYMOUS), 10_000),)),
        "the anonymous principal cannot be a raised-funds recipient",
    ),
    "a raised-funds share of 0 bp": (
        base(raised_allocation=((Account(CREATOR), 10_000), (Account(TEAM), 0))),
        "'s share must be an int from 1 to 10000 bp",
    ),
    "raised funds shared by 1_001 accounts": (
        base(raised_allocation=tuple((Account(m), 10) for m in MANY[:1_001])),
        "raised_allocation is 1 to 1000 (Account, bp) pairs",
    ),
    "sale + allocations 1 unit beyond 2**128 - 1": (
        base(sale_token=SALE_18, sale_type=FixedPrice(1), tokens_for_sale=AT_MAX + 1,
             liquidity_bp=0),
        "the sale token cannot cover the sale, allocations and liquidity",
    ),
    "a new token's initial balances take it beyond 2**128 - 1": (
        base(sale_token=attrs.evolve(SALE_18, initial_balances=((Account(TEAM), 1),)),
             sale_type=FixedPrice(1), tokens_for_sale=AT_MAX, liquidity_bp=0),
        "the sale token cannot cover the sale, allocations and liquidity",
    ),
    "a pool of more sale tokens than one approval holds (18 decimals)": (
        base(sale_token=SALE_18, tokens_for_sale=5 * 10**22),
        "the pool's sale tokens are more than 2**64 - 1",
    ),
    "an existing token's deposit beyond what one approval holds": (
        base(sale_token=ExistingToken(OTHER, 18), liquidity_bp=0, tokens_for_sale=2**64,
             sale_type=FairLaunch()),
        "need more than 2**64 - 1 sale tokens",
    ),
    "a pool of more ICP than one approval holds": (
        base(hard_cap=2**64 * 5, max_contribution=2**64 * 5, min_contribution=10**14,
             soft_cap=10**14, sale_type=FairLaunch()),
        "the pool's share of the hard cap is more than 2**64 - 1",
    ),
    "buyers' vesting unlocking past IC time": (
        base(buyer_vesting=Lock(MAX_TIME)),
        "the distributions that start when the sale ends unlock past 2**64 - 1 ns",
    ),
    "a group's vesting unlocking past IC time": (
        base(allocations=(attrs.evolve(GROUP, vesting=Lock(MAX_TIME - 1)),)),
        "the distributions that start when the sale ends unlock past 2**64 - 1 ns",
    ),
    "a minimum contribution beyond what one approval holds": (
        base(min_contribution=2**64, max_contribution=2**64, soft_cap=2**64, hard_cap=2**65,
             sale_type=FairLaunch(), liquidity_bp=0),
        "min_contribution must be at most 2**64 - 1",
    ),
    "is_public as text": (base(is_public="yes"), "is_public must be a bool"),
    "is_public 1": (base(is_public=1), "is_public must be a bool"),
}  # fmt: skip

GOOD_CONFIGS: dict[str, Callable[[], LaunchpadConfig]] = {
    "a treasury DAO governed by the sale token (token=None)": base(treasury=TREASURY_DAO),
    "a treasury DAO governed by another ledger": base(
        treasury=attrs.evolve(TREASURY_DAO, token=OTHER)
    ),
    "no treasury": base(treasury=None),
    "no whitelist": base(whitelist=None),
    "no allocations": base(allocations=()),
    "a fair launch": base(sale_type=FairLaunch()),
    "an existing sale token of 18 decimals": base(
        sale_token=ExistingToken(OTHER, 18), sale_type=FixedPrice(2_000_000 * 10**10)
    ),
    "an existing sale token of 0 decimals": base(
        sale_token=ExistingToken(OTHER, 0), sale_type=FixedPrice(20_000_000),
        tokens_for_sale=5_000, min_contribution=20_000_000,
    ),
    "a new sale token of 18 decimals": base(
        sale_token=attrs.evolve(SALE_TOKEN, decimals=18), tokens_for_sale=5 * 10**22,
        liquidity_bp=1,
    ),
    "soft cap == hard cap == max contribution == min contribution": base(
        soft_cap=10**11, max_contribution=10**11, min_contribution=10**11
    ),
    "the soft cap buys exactly one whole-token unit": base(
        sale_token=DECIMALS_0, tokens_for_sale=50_000, soft_cap=2_000_000,
        min_contribution=2_000_000,
    ),
    "the minimum contribution buys exactly one whole-token unit": base(
        sale_token=DECIMALS_0, tokens_for_sale=50_000, soft_cap=2_000_000,
        min_contribution=2_000_000,
    ),
    "a fair launch's minimum has a share of one unit of a raise at the hard cap": base(
        sale_type=FairLaunch(), tokens_for_sale=100, min_contribution=10**9
    ),
    "hard cap / min contribution = 2_000_000 buyers": base(min_contribution=50_000),
    "the start 1 ns before the end": base(sale_start=END - 1),
    "the whitelist opens 1 ns before the start": base(
        whitelist=Whitelist((ALICE,), opens=START - 1)
    ),
    "platform_fee_bp 1_000": base(platform_fee_bp=1_000),
    "liquidity + fee + affiliate = 9_999 bp": base(
        liquidity_bp=8_499, platform_fee_bp=1_000, affiliate_bp=500
    ),
    "all raised funds to one account": base(raised_allocation=((Account(CREATOR), 10_000),)),
    "private": base(is_public=False),
    "a sale ending at the IC clock's last ns": base(sale_end=MAX_TIME),
    "empty description and website": base(project=ProjectInfo("Sale project")),
    "a whitelist of 10_000": base(whitelist=Whitelist(MANY[:10_000], opens=T0)),
    "10 allocation groups": base(allocations=(GROUP,) * 10),
    "a group of one recipient": base(allocations=(AllocationGroup("Team", 7, ((TEAM, 7),)),)),
    "a group of 1_000 recipients": base(
        allocations=(AllocationGroup("Team", 1_000, tuple((m, 1) for m in MANY[:1_000])),)
    ),
    "raised funds shared by 1_000 accounts": base(
        raised_allocation=tuple((Account(m), 10) for m in MANY[:1_000])
    ),
    "sale + allocations of exactly 2**128 - 1 (fixed price)": base(
        sale_token=SALE_18, sale_type=FixedPrice(1), tokens_for_sale=AT_MAX, liquidity_bp=0
    ),
    "sale + allocations + liquidity of exactly 2**128 - 1 (fair launch)": base(
        sale_type=FairLaunch(), liquidity_bp=0, tokens_for_sale=2**128 - 1 - 1_000_000
    ),

}  # fmt: skip


def test_the_reference_config_is_valid() -> None:
    assert validate_launchpad_config(BASE) == ()
    assert validate_launchpad_config(BASE, CREATOR) == ()


@pytest.mark.parametrize("make", GOOD_CONFIGS.values(), ids=GOOD_CONFIGS.keys())
def test_every_bound_is_itself_valid(make: Callable[[], LaunchpadConfig]) -> None:
    assert validate_launchpad_config(make(), CREATOR) == ()


@pytest.mark.parametrize(("make", "fragment"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_config_with_one_rule_broken_has_one_reason_naming_it(
    make: Callable[[], LaunchpadConfig], fragment: str
) -> None:
    reasons = validate_launchpad_config(make(), CREATOR)
    assert len(reasons) == 1, reasons
    assert fragment in reasons[0]
    assert len(reasons[0]) < 300


def test_the_treasury_multisig_is_checked_against_the_creator() -> None:
    """The same multisig is valid for the Owner it lists and refused for anybody else."""
    assert validate_launchpad_config(BASE, CREATOR) == ()
    assert validate_launchpad_config(BASE, ALICE) == (
        "treasury multisig: the deploying user must be a member with the Owner role",
    )


@pytest.mark.parametrize("nobody", [ANONYMOUS, MANAGEMENT], ids=["anonymous", "management"])
def test_nobody_can_create_a_sale(nobody: Principal) -> None:
    """The creator is checked first (a new sale token then also refuses it as its owner)."""
    reasons = validate_launchpad_config(attrs.evolve(BASE, treasury=None), nobody)
    assert reasons and "cannot be a creator" in reasons[0], reasons
    existing = attrs.evolve(BASE, treasury=None, sale_token=ExistingToken(OTHER, 8))
    reasons = validate_launchpad_config(existing, nobody)
    assert len(reasons) == 1 and "cannot be a creator" in reasons[0], reasons


@pytest.mark.parametrize("junk", ["config", None, (BASE,)], ids=repr)
def test_something_else_than_a_config_is_refused(junk: object) -> None:
    assert validate_launchpad_config(junk) == (
        f"expected a LaunchpadConfig, got {type(junk).__name__}",
    )


# -- the paid flow --------------------------------------------------------------------------------


START_BALANCE: Final = 1_000 * E8S


class World:
    """The platform and a second ledger (8 decimals) at ``OTHER``; the creator has 1_000 ICP
    and has approved the backend for 11 ICP, enough for one launchpad (``ready``)."""

    def __init__(self) -> None:
        self.ic = IC()
        assert self.ic.time == T0
        self.system: System = deploy_system(self.ic)
        self.other = deploy_ledger(
            self.ic,
            LedgerInit(name="Other", symbol="OTH", decimals=8, transfer_fee=FEE,
                       minting_account=Account(Principal.from_name("other-minter"))),
            canister_id=OTHER,
        )  # fmt: skip
        self.factory = self.system.launchpad_factory
        self.system.faucet(CREATOR, START_BALANCE)
        self.system.approve_backend(CREATOR, 11 * E8S)
        self.ready = self.ic.snapshot()

    def deploy(self, config: object) -> Any:
        return self.system.backend.as_caller(CREATOR).deploy_launchpad(config)

    @contextmanager
    def nothing_deployed(self) -> Iterator[None]:
        """Assert that the block leaves the factory's index and the set of canisters alone."""
        contracts = self.factory.get_stats().contracts
        index = self.ic.state_of(self.factory.id).index
        canisters = live_canisters(self.ic)
        yield
        assert self.factory.get_stats().contracts == contracts
        assert self.ic.state_of(self.factory.id).index == index
        assert live_canisters(self.ic) == canisters
        assert self.factory.get_active_sales().items == ()


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    built.ic.restore(built.ready)
    built.ic.faults.clear()
    return built


@pytest.mark.parametrize(("make", "fragment"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_bad_config_is_refused_before_payment_and_deploys_nothing(
    world: World, make: Callable[[], LaunchpadConfig], fragment: str
) -> None:
    config = make()
    backend = world.system.icp_balance(world.system.backend.id)
    with world.nothing_deployed():
        result = world.deploy(config)
    assert result == Err(InvalidConfig(validate_launchpad_config(config, CREATOR)))
    assert any(fragment in reason for reason in result.error.reasons), result.error
    assert world.system.icp_balance(CREATOR) == START_BALANCE - FEE
    assert world.system.icp_balance(world.system.backend.id) == backend
    assert world.factory.get_stats().failed_deployments == 0


def test_a_valid_config_deploys_and_costs_the_fee(world: World) -> None:
    """The control: what the refusals above leave unchanged does change for a valid config."""
    deployed = world.deploy(BASE).unwrap()
    assert deployed.fee_paid == LAUNCHPAD_FEE
    assert world.system.icp_balance(CREATOR) == START_BALANCE - FEE - LAUNCHPAD_FEE - FEE
    assert world.factory.get_stats().contracts == 1
    assert [info.id for info in world.factory.get_active_sales().items] == [deployed.canister_id]


# name → (the config, given the world; a fragment of the factory's reason)
PREFLIGHT_FAILURES: dict[str, tuple[Callable[[World], LaunchpadConfig], str]] = {
    "a purchase ledger that does not exist": (
        lambda world: attrs.evolve(BASE, purchase_token=NOWHERE),
        f"the purchase token {NOWHERE} did not answer",
    ),
    "a purchase 'ledger' that is no ledger (the audit storage)": (
        lambda world: attrs.evolve(BASE, purchase_token=world.system.audit_storage.id),
        "the purchase token {audit} ",
    ),
    "an existing sale token whose ledger has 8 decimals, said to have 6": (
        lambda world: attrs.evolve(
            BASE, sale_token=ExistingToken(OTHER, 6), sale_type=FixedPrice(20_000)
        ),
        "the sale token has 8 decimals, not the 6",
    ),
    "an existing sale token on a ledger that does not exist": (
        lambda world: attrs.evolve(BASE, sale_token=ExistingToken(NOWHERE, 8)),
        f"the sale token {NOWHERE} did not answer",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("make", "fragment"), PREFLIGHT_FAILURES.values(), ids=PREFLIGHT_FAILURES.keys()
)
def test_a_config_the_factory_cannot_deploy_is_charged_then_refunded_in_full(
    world: World, make: Callable[[World], LaunchpadConfig], fragment: str
) -> None:
    config = make(world)
    assert validate_launchpad_config(config, CREATOR) == ()
    fragment = fragment.replace("{audit}", str(world.system.audit_storage.id))
    backend = world.system.icp_balance(world.system.backend.id)
    with world.nothing_deployed():
        result = world.deploy(config)
    assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed), result
    failed = result.error
    assert fragment in failed.reason, failed.reason
    assert not failed.pending
    assert isinstance(failed.refund, RefundOutcome)
    assert (failed.refund.amount, failed.refund.status) == (LAUNCHPAD_FEE, "Completed")
    # 1_000 ICP - the approval's fee - (10 ICP + the charge's fee) + the 10 ICP refunded.
    assert world.system.icp_balance(CREATOR) == 99_999_980_000
    # The backend took 10 ICP and gave them back, paying the refund's ledger fee.
    assert world.system.icp_balance(world.system.backend.id) == backend - FEE
    assert world.system.backend.admin_list_pending_refunds() == ()
    stats = world.factory.get_stats()
    assert (stats.contracts, stats.deployed, stats.failed_deployments) == (0, 0, 1)
