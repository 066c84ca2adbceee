"""``LaunchpadConfig`` and the one function that says whether it is valid (the backend before any
payment, the Launchpad Factory before deploying and the sale at install all call
``validate_launchpad_config``).

A sale sells ``tokens_for_sale`` of a sale token for a purchase token. Every amount is in the
smallest unit of its own token (purchase amounts: caps and contributions; sale amounts: tokens
for sale and allocations); every time is absolute ns. A fixed ``price`` is purchase-token
smallest units per *whole* sale token (``10**sale_decimals`` smallest units).
"""

from __future__ import annotations

from typing import Final, TypeAlias

import attrs

from icto.collections.records import evolve
from icto.dao.config import DAOConfig, validate_dao_config
from icto.distribution.schedule import BP, Instant, Schedule, end_of, schedule_problems
from icto.ic.account import Account
from icto.ic.principal import Principal
from icto.ic.world import MAX_TIME
from icto.launchpad.allocation import fair_allocation, fixed_allocation
from icto.ledger.types import U64_MAX
from icto.multisig.config import MultisigConfig, validate_multisig_config
from icto.token.config import TokenConfig, validate_token_config
from icto.validation import as_tuple, identified_problem, nat_in, pairs, text_problem

MAX_AMOUNT: Final = 2**128 - 1
MAX_DECIMALS: Final = 18
MAX_PLATFORM_FEE_BP: Final = 1_000
MAX_WHITELIST: Final = 10_000
MAX_GROUPS: Final = 10
MAX_RECIPIENTS: Final = 1_000
MAX_PARTICIPANTS: Final = 1_000_000
MAX_BUYERS: Final = 2_000_000
"""20 categories of 100,000 Fixed recipients: the most one distribution holds."""
_STAND_IN_TOKEN: Final = Principal.from_canister_index(0)
"""Validates a treasury ``DAOConfig`` whose token is left to be the sale token."""


@attrs.frozen
class ProjectInfo:
    name: str
    description: str = ""
    website: str = ""


@attrs.frozen
class ExistingToken:
    """A sale token that already exists: its ledger and decimals (checked against the ledger
    before deployment). Its creator deposits what the sale needs before the sale opens."""

    ledger: Principal
    decimals: int


SaleToken: TypeAlias = ExistingToken | TokenConfig
"""An existing ledger, or a ``TokenConfig`` deployed at finalize with the sale as its minting
account."""


@attrs.frozen
class FixedPrice:
    """``price`` purchase-token smallest units buy one whole sale token."""

    price: int


@attrs.frozen
class FairLaunch:
    """The tokens for sale are shared pro rata of the contributions at the end."""


SaleType: TypeAlias = FixedPrice | FairLaunch


@attrs.frozen
class Whitelist:
    """``members`` may contribute from ``opens`` (before the public ``sale_start``)."""

    members: tuple[Principal, ...] = attrs.field(converter=as_tuple)
    opens: int


@attrs.frozen
class AllocationGroup:
    """Sale tokens set aside for ``recipients`` (amounts summing to ``amount``), vested on
    ``vesting`` after ``initial_bp`` unlocked at the distribution's start."""

    name: str
    amount: int
    recipients: tuple[tuple[Principal, int], ...] = attrs.field(converter=pairs)
    vesting: Schedule = Instant()
    initial_bp: int = 0


Treasury: TypeAlias = DAOConfig | MultisigConfig | None


@attrs.frozen(kw_only=True)
class LaunchpadConfig:
    """What a creator asks the Launchpad Factory to deploy. Building one never fails on values;
    ``validate_launchpad_config`` lists what is wrong."""

    project: ProjectInfo
    sale_token: SaleToken
    purchase_token: Principal
    sale_type: SaleType
    tokens_for_sale: int
    soft_cap: int
    hard_cap: int
    min_contribution: int
    max_contribution: int
    sale_start: int
    sale_end: int
    min_participants: int = 1
    whitelist: Whitelist | None = None
    buyer_vesting: Schedule = Instant()
    buyer_initial_bp: int = BP
    allocations: tuple[AllocationGroup, ...] = attrs.field(default=(), converter=as_tuple)
    raised_allocation: tuple[tuple[Account, int], ...] = attrs.field(default=(), converter=pairs)
    """Who gets the raised funds left after the platform fee, commissions and liquidity, by bp
    (summing to 10,000)."""
    treasury: Treasury = None
    liquidity_bp: int = 0
    """The share of the raised funds (and matching sale tokens at the sale price) that seeds a
    pool."""
    platform_fee_bp: int = 0
    affiliate_bp: int = 0
    """Commission on each contribution that names an affiliate, paid from the raised funds."""
    is_public: bool = True

    @property
    def sale_decimals(self) -> int:
        token = self.sale_token
        return int(token.decimals) if isinstance(token, ExistingToken | TokenConfig) else 0

    @property
    def allocated(self) -> int:
        """Sale tokens the allocation groups take."""
        return sum(group.amount for group in self.allocations)


def liquidity_tokens(config: LaunchpadConfig) -> int:
    """The most sale tokens the pool can need: the liquidity share of the hard cap at the sale
    price (fixed), or that share of the tokens for sale (fair launch)."""
    if isinstance(config.sale_type, FixedPrice):
        share = config.hard_cap * config.liquidity_bp // BP
        scale: int = 10**config.sale_decimals
        return share * scale // config.sale_type.price
    return config.tokens_for_sale * config.liquidity_bp // BP


def sure_allocation(config: LaunchpadConfig, contribution: int) -> int:
    """The sale tokens ``contribution`` is sure to buy: at the fixed price, or (fair launch,
    shared at the end) its share if the hard cap is raised, the least it can be."""
    if isinstance(config.sale_type, FixedPrice):
        return fixed_allocation(contribution, config.sale_type.price, config.sale_decimals)
    return fair_allocation(contribution, config.hard_cap, config.tokens_for_sale)


def sale_tokens_needed(config: LaunchpadConfig) -> int:
    """Sale tokens the sale must be able to deliver: for sale, allocations and liquidity."""
    return config.tokens_for_sale + config.allocated + liquidity_tokens(config)


def validate_launchpad_config(
    config: object, owner: Principal | None = None
) -> tuple[str, ...]:
    """Every reason ``config`` cannot be deployed (for ``owner``, the creator, if given)."""
    if not isinstance(config, LaunchpadConfig):
        return (f"expected a LaunchpadConfig, got {type(config).__name__}",)
    reasons = [] if owner is None else [p for p in (identified_problem(owner, "creator"),) if p]
    reasons.extend(_project_problems(config.project))
    reasons.extend(_token_problems(config, owner))
    amounts = ("tokens_for_sale", "soft_cap", "hard_cap", "min_contribution", "max_contribution")
    for field in amounts:
        if not nat_in(getattr(config, field), 1, MAX_AMOUNT):
            reasons.append(f"{field} must be an int from 1 to 2**128 - 1")
    times = ("sale_start", "sale_end")
    for field in times:
        if not nat_in(getattr(config, field), 0, MAX_TIME):
            reasons.append(f"{field} must be an int of ns from 0 to 2**64 - 1 (IC time)")
    if not nat_in(config.min_participants, 0, MAX_PARTICIPANTS):
        reasons.append(f"min_participants must be an int from 0 to {MAX_PARTICIPANTS}")
    limits = (("buyer_initial_bp", BP), ("liquidity_bp", BP),
              ("platform_fee_bp", MAX_PLATFORM_FEE_BP), ("affiliate_bp", BP))  # fmt: skip
    for field, high in limits:
        if not nat_in(getattr(config, field), 0, high):
            reasons.append(f"{field} must be an int from 0 to {high}")
    reasons.extend(f"buyer_vesting: {p}" for p in schedule_problems(config.buyer_vesting))
    reasons.extend(_sale_type_problems(config.sale_type))
    reasons.extend(_whitelist_problems(config.whitelist))
    reasons.extend(_groups_problems(config.allocations))
    reasons.extend(_raised_problems(config.raised_allocation))
    reasons.extend(_treasury_problems(config.treasury, owner))
    is_public: object = config.is_public
    if not isinstance(is_public, bool):
        reasons.append("is_public must be a bool")
    if not reasons:
        reasons.extend(_cross_field_problems(config))
    return tuple(reasons)


def _project_problems(project: object) -> list[str]:
    if not isinstance(project, ProjectInfo):
        return ["project is a ProjectInfo(name, description, website)"]
    return [
        problem for problem in (
            text_problem("project name", project.name, 1, 100),
            text_problem("project description", project.description, 0, 2000, multiline=True),
            text_problem("project website", project.website, 0, 200),
        ) if problem
    ]  # fmt: skip


def _token_problems(config: LaunchpadConfig, owner: Principal | None) -> list[str]:
    problems = []
    purchase: object = config.purchase_token
    if not isinstance(purchase, Principal) or not purchase.is_canister:
        problems.append(f"purchase_token must be a ledger canister id, got {purchase!r}")
    token: object = config.sale_token
    if isinstance(token, ExistingToken):
        ledger: object = token.ledger
        if not isinstance(ledger, Principal) or not ledger.is_canister:
            problems.append(f"the sale token's ledger must be a canister id, got {ledger!r}")
        elif ledger == purchase:
            problems.append("the sale token and the purchase token must be different ledgers")
        if not nat_in(token.decimals, 0, MAX_DECIMALS):
            problems.append(f"the sale token's decimals must be an int from 0 to {MAX_DECIMALS}")
    elif isinstance(token, TokenConfig):
        problems.extend(f"sale token: {p}" for p in validate_token_config(token, owner))
        if not problems and token.decimals > MAX_DECIMALS:
            problems.append(f"the sale token's decimals are at most {MAX_DECIMALS}")
    else:
        problems.append("sale_token is an ExistingToken(ledger, decimals) or a TokenConfig")
    return problems


def _sale_type_problems(sale_type: object) -> list[str]:
    if isinstance(sale_type, FairLaunch):
        return []
    if isinstance(sale_type, FixedPrice):
        if not nat_in(sale_type.price, 1, MAX_AMOUNT):
            return ["a fixed price must be an int from 1 to 2**128 - 1"]
        return []
    return ["sale_type is FixedPrice(price) or FairLaunch()"]


def _whitelist_problems(whitelist: object) -> list[str]:
    if whitelist is None:
        return []
    if not isinstance(whitelist, Whitelist):
        return ["whitelist is None or a Whitelist(members, opens)"]
    members: object = whitelist.members
    if not isinstance(members, tuple) or not 1 <= len(members) <= MAX_WHITELIST:
        return [f"a whitelist has 1 to {MAX_WHITELIST} members"]
    for member in members:
        problem = identified_problem(member, "whitelisted participant")
        if problem:
            return [problem]
    if len(set(members)) != len(members):
        return ["the whitelist names a principal more than once"]
    if not nat_in(whitelist.opens, 0, MAX_TIME):
        return ["the whitelist's opens must be an int of ns from 0 to 2**64 - 1 (IC time)"]
    return []


def _recipients_problems(where: str, recipients: object, total: int) -> list[str]:
    if not isinstance(recipients, tuple) or not 1 <= len(recipients) <= MAX_RECIPIENTS or not all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in recipients
    ):  # fmt: skip
        return [f"{where}: recipients are 1 to {MAX_RECIPIENTS} (Principal, amount) pairs"]
    for principal, amount in recipients:
        problem = identified_problem(principal, "recipient")
        if problem:
            return [f"{where}: {problem}"]
        if not nat_in(amount, 1, MAX_AMOUNT):
            return [f"{where}: {principal}'s amount must be an int > 0"]
    if len({principal for principal, _ in recipients}) != len(recipients):
        return [f"{where}: recipients name a principal more than once"]
    listed = sum(amount for _, amount in recipients)
    if listed != total:
        return [f"{where}: recipients' amounts sum to {listed}, not the group's {total}"]
    return []


def _groups_problems(groups: object) -> list[str]:
    if not isinstance(groups, tuple) or len(groups) > MAX_GROUPS or not all(
        isinstance(group, AllocationGroup) for group in groups
    ):  # fmt: skip
        return [f"allocations are at most {MAX_GROUPS} AllocationGroup records"]
    problems = []
    for index, group in enumerate(groups):
        where = f"allocation {index}"
        problem = text_problem(f"{where} name", group.name, 1, 100)
        if problem:
            problems.append(problem)
        if not nat_in(group.amount, 1, MAX_AMOUNT):
            problems.append(f"{where}: amount must be an int from 1 to 2**128 - 1")
            continue
        if not nat_in(group.initial_bp, 0, BP):
            problems.append(f"{where}: initial_bp must be an int from 0 to {BP}")
        problems.extend(f"{where}: {p}" for p in schedule_problems(group.vesting))
        problems.extend(_recipients_problems(where, group.recipients, group.amount))
    return problems


def _raised_problems(shares: object) -> list[str]:
    if not isinstance(shares, tuple) or not 1 <= len(shares) <= MAX_RECIPIENTS or not all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in shares
    ):  # fmt: skip
        return [f"raised_allocation is 1 to {MAX_RECIPIENTS} (Account, bp) pairs"]
    for account, bp in shares:
        if not isinstance(account, Account):
            return ["raised_allocation names Accounts"]
        problem = identified_problem(account.owner, "raised-funds recipient")
        if problem:
            return [problem]
        if not nat_in(bp, 1, BP):
            return [f"{account}'s share must be an int from 1 to {BP} bp"]
    if len({account for account, _ in shares}) != len(shares):
        return ["raised_allocation names an account more than once"]
    total = sum(bp for _, bp in shares)
    if total != BP:
        return [f"raised_allocation shares sum to {total} bp, not {BP}"]
    return []


def treasury_dao_config(config: DAOConfig, sale_token: Principal) -> DAOConfig:
    """A treasury ``DAOConfig`` as deployed: without a token it is governed by the sale token."""
    return config if config.token is not None else evolve(config, token=sale_token)


def _treasury_problems(treasury: object, owner: Principal | None) -> list[str]:
    if treasury is None:
        return []
    if isinstance(treasury, DAOConfig):
        as_deployed = treasury_dao_config(treasury, _STAND_IN_TOKEN)
        return [f"treasury DAO: {p}" for p in validate_dao_config(as_deployed, owner)]
    if isinstance(treasury, MultisigConfig):
        return [f"treasury multisig: {p}" for p in validate_multisig_config(treasury, owner)]
    return ["treasury is a DAOConfig, a MultisigConfig or None"]


def _cross_field_problems(config: LaunchpadConfig) -> list[str]:
    problems = []
    if config.soft_cap > config.hard_cap:
        problems.append("the soft cap must not be above the hard cap")
    if config.min_contribution > config.max_contribution:
        problems.append("min_contribution must not be above max_contribution")
    if config.max_contribution > config.hard_cap:
        problems.append("max_contribution must not be above the hard cap")
    buyers = -(-config.hard_cap // config.min_contribution)
    if buyers > MAX_BUYERS:
        problems.append(
            f"up to {buyers} buyers could take part (hard cap / min contribution); the buyers' "
            f"distribution takes at most {MAX_BUYERS}"
        )
    if config.sale_start >= config.sale_end:
        problems.append("the sale must start before it ends")
    if config.whitelist is not None and config.whitelist.opens >= config.sale_start:
        problems.append("the whitelist must open before the public sale starts")
    if isinstance(config.sale_type, FixedPrice):
        sold = config.hard_cap * 10**config.sale_decimals // config.sale_type.price
        if sold > config.tokens_for_sale:
            problems.append(
                f"the hard cap buys {sold} sale tokens at this price; only "
                f"{config.tokens_for_sale} are for sale"
            )
        if config.soft_cap * 10**config.sale_decimals // config.sale_type.price == 0:
            problems.append("the soft cap buys no sale token at this price")
        if sure_allocation(config, config.min_contribution) == 0:
            problems.append("min_contribution buys no sale token at this price")
    elif sure_allocation(config, config.min_contribution) == 0:
        problems.append("min_contribution buys no sale token if the hard cap is raised (its "
                        "share of the tokens for sale rounds to 0)")
    spent = config.platform_fee_bp + config.affiliate_bp + config.liquidity_bp
    if spent >= BP:
        problems.append(
            f"platform fee, affiliate and liquidity shares take {spent} bp of {BP}: the raised-"
            f"funds recipients need a share, and it pays the transfers' ledger fees"
        )
    # What is pulled by icrc2_transfer_from must fit one approval, which holds at most a u64:
    # an existing token's deposit, the pool's sale tokens and ICP, a contribution.
    supply = sale_tokens_needed(config)
    if isinstance(config.sale_token, TokenConfig):
        supply += config.sale_token.total_supply
    if supply > MAX_AMOUNT:
        problems.append("the sale token cannot cover the sale, allocations and liquidity: "
                        "more than 2**128 - 1 units")  # fmt: skip
    elif not isinstance(config.sale_token, TokenConfig) and supply > U64_MAX:
        problems.append("the sale, allocations and liquidity need more than 2**64 - 1 sale "
                        "tokens: the deposit is pulled by one approval, which holds at most that")
    if liquidity_tokens(config) > U64_MAX:
        problems.append("the pool's sale tokens are more than 2**64 - 1: they are pulled by one "
                        "approval, which holds at most that")
    if config.hard_cap * config.liquidity_bp // BP > U64_MAX:
        problems.append("the pool's share of the hard cap is more than 2**64 - 1: it is pulled "
                        "by one approval, which holds at most that")
    vestings = (config.buyer_vesting, *(group.vesting for group in config.allocations))
    if config.sale_end + max(end_of(vesting) for vesting in vestings) > MAX_TIME:
        problems.append("the distributions that start when the sale ends unlock past "
                        "2**64 - 1 ns (IC time)")
    if config.min_contribution > U64_MAX:
        problems.append("min_contribution must be at most 2**64 - 1: a contribution is pulled "
                        "by one approval, which holds at most that")
    return problems
