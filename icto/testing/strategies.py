"""Hypothesis strategies for icto values and the configs users hand the platform.

Contract: ``valid=True`` strategies only ever draw configs their validator accepts
(``validate_token_config(config, owner)``, ``validate_multisig_config(config, owner)``,
``validate_distribution_config(config, owner)``, ``validate_dao_config(config, owner)``,
``validate_launchpad_config(config, owner)``, for any identified ``owner``); ``valid=False``
ones draw a valid config with one thing broken, so the validator always refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from hypothesis import strategies as st

from icto.collections.records import evolve
from icto.dao.config import (
    APPROVAL_BP,
    MAX_LOCK,
    MAX_TIMELOCK,
    MULTIPLIER_BP,
    QUORUM_BP,
    VOTING_PERIOD,
    DAOConfig,
)
from icto.distribution.config import (
    CLAIMS_COVERED,
    Category,
    DistributionConfig,
    Fixed,
    HoldsToken,
    MerkleRoot,
    Open,
    Whitelist,
    Window,
)
from icto.distribution.schedule import BP, MAX_STEPS, Cliff, Instant, Linear, Lock, Schedule, Steps
from icto.ic.account import DEFAULT_SUBACCOUNT, Account
from icto.ic.principal import Principal
from icto.launchpad.config import (
    MAX_PLATFORM_FEE_BP,
    FairLaunch,
    FixedPrice,
    LaunchpadConfig,
    ProjectInfo,
    liquidity_tokens,
)
from icto.launchpad.config import Whitelist as SaleWhitelist
from icto.ledger.types import U64_MAX
from icto.multisig.config import MAX_LIFETIME_NS, Kind, MultisigConfig, Role
from icto.token.config import MAX_DECIMALS, MAX_MEMO_LENGTH, TokenConfig
from icto.validation import trimmed

T = TypeVar("T")
_BIDI: Final = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BALANCES: Final = 4
_NS_YEAR: Final = 365 * 24 * 3600 * 10**9


# -- building blocks ----------------------------------------------------------------------------


def principals() -> st.SearchStrategy[Principal]:
    """Identified user principals (self-authenticating, as ``Principal.from_name`` makes)."""
    return st.builds(Principal.from_name, st.text(max_size=12))


def canister_ids() -> st.SearchStrategy[Principal]:
    """Canister ids (for ledgers and other canisters a config names)."""
    return st.builds(Principal.from_canister_index, st.integers(0, 2**20))


def subaccounts() -> st.SearchStrategy[bytes]:
    """32-byte subaccounts, never all zero (so never the default subaccount)."""
    return st.binary(min_size=32, max_size=32).filter(any)


def accounts(*, default: bool | None = None) -> st.SearchStrategy[Account]:
    """ICRC-1 accounts of users (``principals()``) and of canisters (``canister_ids()``): on the
    default subaccount (``default=True``), on another one (``False``), or either (``None``).

    The default subaccount is drawn both ways ICRC-1 writes it, ``None`` and 32 zero bytes:
    ``Account(p)`` and ``Account(p, bytes(32))`` are the same account (equal, one balance) yet
    keep the subaccount as given, so code keying by ``.subaccount`` meets both."""
    owners = principals() | canister_ids()
    on_default = st.builds(Account, owners, st.none() | st.just(DEFAULT_SUBACCOUNT))
    on_other = st.builds(Account, owners, subaccounts())
    if default is None:
        return on_default | on_other
    return on_default if default else on_other


def amounts(*, min_value: int = 0, max_value: int = U64_MAX) -> st.SearchStrategy[int]:
    """Token amounts (nats) from ``min_value`` to ``max_value``."""
    return st.integers(min_value, max_value)


def text(low: int, high: int, *, multiline: bool = False) -> st.SearchStrategy[str]:
    """Text that ``icto.validation.text_problem`` accepts for ``low`` to ``high`` characters."""
    if multiline:
        allowed = st.characters(
            codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters=_BIDI
        )
        return st.text(allowed | st.sampled_from("\n\t"), min_size=low, max_size=high)
    allowed = st.characters(
        codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters=_BIDI + "\u2028\u2029"
    )
    drawn = st.text(allowed, min_size=low, max_size=high)
    return drawn.filter(lambda value: value == trimmed(value))


def _broken(
    valid: st.SearchStrategy[T], breakers: list[Callable[[T], st.SearchStrategy[T]]]
) -> st.SearchStrategy[T]:
    """``valid`` values with one of ``breakers`` applied."""
    return st.tuples(valid, st.sampled_from(breakers)).flatmap(lambda pair: pair[1](pair[0]))


def _evolved(**changes: Any) -> Callable[[Any], st.SearchStrategy[Any]]:
    return lambda config: st.just(evolve(config, **changes))


# -- tokens -------------------------------------------------------------------------------------


@st.composite
def _valid_token(draw: st.DrawFn) -> TokenConfig:
    minting = draw(st.none() | accounts())
    # With no minting account the owner's default account mints: nobody's default account may
    # then hold a balance or collect fees, whoever the owner is.
    holder = accounts(default=False) if minting is None else accounts()
    holders = draw(st.lists(
        holder.filter(lambda account: minting is None or account != minting),
        max_size=_BALANCES, unique_by=Account.normalized,
    ))  # fmt: skip
    share = amounts(max_value=U64_MAX // _BALANCES)
    balances = tuple((account, draw(share)) for account in holders)
    collector = draw(st.none() | holder.filter(lambda account: account != minting))
    return TokenConfig(
        name=draw(text(3, 32)),
        symbol=draw(
            st.text(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                min_size=2,
                max_size=8,
            )
        ),
        decimals=draw(st.integers(0, MAX_DECIMALS)),
        transfer_fee=draw(amounts()),
        initial_balances=balances,
        minting_account=minting,
        fee_collector=collector,
        logo=draw(st.none() | text(0, 40)),
        max_memo_length=draw(st.integers(0, MAX_MEMO_LENGTH)),
        is_public=draw(st.booleans()),
        description=draw(text(0, 40, multiline=True)),
    )


def _minting_holds_balance(config: TokenConfig) -> st.SearchStrategy[TokenConfig]:
    minting = Account(Principal.from_name("minter"), b"\x07" * 32)
    return st.just(evolve(
        config, minting_account=minting, initial_balances=((minting, 1), *config.initial_balances)
    ))  # fmt: skip


def _collector_is_minting(config: TokenConfig) -> st.SearchStrategy[TokenConfig]:
    minting = Account(Principal.from_name("minter"), b"\x07" * 32)
    balances = tuple(pair for pair in config.initial_balances if pair[0] != minting)
    return st.just(evolve(
        config, minting_account=minting, fee_collector=minting, initial_balances=balances
    ))  # fmt: skip


def _repeated_holder(config: TokenConfig) -> st.SearchStrategy[TokenConfig]:
    holder = Account(Principal.from_name("holder"), b"\x09" * 32)
    return st.just(evolve(config, initial_balances=((holder, 1), (holder, 2))))


_TOKEN_BREAKERS: Final[list[Callable[[TokenConfig], st.SearchStrategy[TokenConfig]]]] = [
    _evolved(name="ab"), _evolved(name=" leading space"), _evolved(name="x" * 33),
    _evolved(symbol="A"), _evolved(symbol="AB-C"), _evolved(symbol="ABCDEFGHI"),
    _evolved(decimals=MAX_DECIMALS + 1), _evolved(decimals=-1), _evolved(transfer_fee=-1),
    _evolved(transfer_fee=U64_MAX + 1), _evolved(max_memo_length=MAX_MEMO_LENGTH + 1),
    _evolved(logo="two\nlines"), _evolved(description="\x00"), _evolved(is_public="yes"),
    _minting_holds_balance, _collector_is_minting, _repeated_holder,
    _evolved(minting_account=Account(Principal.anonymous())),
    _evolved(fee_collector=Account(Principal.management_canister())),
]  # fmt: skip


def token_configs(*, valid: bool = True) -> st.SearchStrategy[TokenConfig]:
    """``TokenConfig``s valid for any identified owner (``valid=True``) or for none."""
    return _valid_token() if valid else _broken(_valid_token(), _TOKEN_BREAKERS)


# -- multisig wallets ---------------------------------------------------------------------------


@st.composite
def _valid_multisig(draw: st.DrawFn, owner: Principal) -> MultisigConfig:
    others = draw(st.lists(principals().filter(lambda p: p != owner), max_size=5, unique=True))
    members = ((owner, Role.OWNER), *((p, draw(st.sampled_from(Role))) for p in others))
    voters = sum(1 for _, role in members if role.votes)
    kinds = draw(st.lists(st.sampled_from(Kind), max_size=3, unique=True))
    ledgers = draw(st.lists(canister_ids(), max_size=3, unique=True))
    lifetime = draw(st.integers(1, MAX_LIFETIME_NS))
    return MultisigConfig(
        name=draw(text(1, 30)),
        members=members,
        threshold=draw(st.integers(1, voters)),
        timelock=draw(st.integers(0, min(_NS_YEAR, lifetime - 1))),
        lifetime=lifetime,
        policies=tuple((kind, draw(st.integers(1, voters))) for kind in kinds),
        daily_limits=tuple((ledger, draw(amounts(min_value=1))) for ledger in ledgers),
        is_public=draw(st.booleans()),
        description=draw(text(0, 40, multiline=True)),
    )


def _timelock_outlives_proposals(config: MultisigConfig) -> st.SearchStrategy[MultisigConfig]:
    return st.just(evolve(config, timelock=config.lifetime))


def _demoted_owner(config: MultisigConfig) -> st.SearchStrategy[MultisigConfig]:
    first, *rest = config.members
    return st.just(evolve(config, members=((first[0], Role.SIGNER), *rest)))


def _repeated_member(config: MultisigConfig) -> st.SearchStrategy[MultisigConfig]:
    return st.just(evolve(config, members=(*config.members, config.members[0])))


def _threshold_above_voters(config: MultisigConfig) -> st.SearchStrategy[MultisigConfig]:
    return st.just(evolve(config, threshold=config.voters + 1))


def _policy_above_voters(config: MultisigConfig) -> st.SearchStrategy[MultisigConfig]:
    return st.just(evolve(config, policies=((Kind.TRANSFER, config.voters + 1),)))


_MULTISIG_BREAKERS: Final[list[Callable[[MultisigConfig], st.SearchStrategy[MultisigConfig]]]] = [
    _evolved(name=""), _evolved(members=()), _evolved(threshold=0), _evolved(timelock=-1),
    _evolved(lifetime=0), _evolved(lifetime=MAX_LIFETIME_NS + 1), _evolved(is_public=1),
    _evolved(policies=((Kind.FREEZE, 1), (Kind.FREEZE, 1))),
    _evolved(daily_limits=((Principal.from_name("not a ledger"), 1),)),
    _evolved(daily_limits=((Principal.from_canister_index(1), 0),)),
    _demoted_owner, _repeated_member, _threshold_above_voters, _policy_above_voters,
    _timelock_outlives_proposals,
]  # fmt: skip


def multisig_configs(owner: Principal, *, valid: bool = True) -> st.SearchStrategy[MultisigConfig]:
    """``MultisigConfig``s that ``owner`` (an identified principal, a member with the Owner role)
    may deploy (``valid=True``), or may not."""
    valid_configs = _valid_multisig(owner)
    return valid_configs if valid else _broken(valid_configs, _MULTISIG_BREAKERS)


# -- distributions ------------------------------------------------------------------------------


def windows() -> st.SearchStrategy[Window]:
    """Registration windows with ``0 <= opens < closes``."""
    return st.tuples(st.integers(0, _NS_YEAR), st.integers(1, _NS_YEAR)).map(
        lambda pair: Window(pair[0], pair[0] + pair[1])
    )


@st.composite
def _steps(draw: st.DrawFn) -> Steps:
    count = draw(st.integers(1, min(5, MAX_STEPS)))
    offsets = sorted(draw(st.lists(st.integers(0, _NS_YEAR), min_size=count, max_size=count,
                                   unique=True)))  # fmt: skip
    cuts = sorted(draw(st.lists(st.integers(1, BP - 1), min_size=count - 1, max_size=count - 1,
                                unique=True)))  # fmt: skip
    bps = [high - low for low, high in zip([0, *cuts], [*cuts, BP], strict=True)]
    return Steps(tuple(zip(offsets, bps, strict=True)))


def schedules() -> st.SearchStrategy[Schedule]:
    """Valid vesting schedules of every kind."""
    durations = st.integers(1, _NS_YEAR)
    return st.one_of(
        st.just(Instant()),
        st.builds(Linear, durations),
        st.builds(Cliff, st.integers(0, _NS_YEAR), st.integers(0, BP), durations),
        _steps(),
        st.builds(Lock, st.integers(0, _NS_YEAR)),
    )


def _listed() -> st.SearchStrategy[list[tuple[Principal, int]]]:
    return st.lists(
        st.tuples(principals(), amounts(min_value=1, max_value=2**40)),
        min_size=1, max_size=5, unique_by=lambda pair: pair[0],
    )  # fmt: skip


@st.composite
def _category(draw: st.DrawFn) -> Category:
    kind = draw(st.sampled_from(("fixed", "whitelist", "open", "merkle")))
    amount = draw(amounts(min_value=1, max_value=2**60))
    recipients: Fixed | Whitelist | Open | MerkleRoot
    if kind == "fixed":
        listed = draw(_listed())
        recipients, amount = Fixed(tuple(listed)), sum(value for _, value in listed)
    elif kind == "whitelist":
        listed = draw(_listed())
        recipients = Whitelist(tuple(listed), draw(windows()))
        amount = max(amount, sum(value for _, value in listed))
    elif kind == "open":
        seats = draw(st.integers(1, 1000))
        recipients, amount = Open(seats, draw(windows())), seats * draw(st.integers(1, 2**40))
    else:
        recipients = MerkleRoot(
            draw(st.binary(min_size=32, max_size=32)),
            draw(st.integers(1, 10_000)),
            draw(st.none() | windows()),
        )
    return Category(
        name=draw(text(1, 20)), amount=amount, recipients=recipients, schedule=draw(schedules()),
        initial_bp=draw(st.integers(0, BP)), start_offset=draw(st.integers(0, _NS_YEAR)),
    )  # fmt: skip


@st.composite
def _valid_distribution(draw: st.DrawFn, token: Principal) -> DistributionConfig:
    low, high = CLAIMS_COVERED
    eligibility = st.builds(HoldsToken, canister_ids(), amounts())
    return DistributionConfig(
        title=draw(text(1, 30)),
        token=token,
        start=draw(st.integers(0, 2**62)),
        categories=tuple(draw(st.lists(_category(), min_size=1, max_size=3))),
        description=draw(text(0, 40, multiline=True)),
        eligibility=draw(st.none() | eligibility),
        cancellable=draw(st.booleans()),
        penalty_bp=draw(st.integers(0, BP)),
        penalty_to=draw(st.none() | accounts()),
        claims_covered=draw(st.integers(low, high)),
        is_public=draw(st.booleans()),
    )


def _first_category(**changes: Any) -> Callable[[DistributionConfig], st.SearchStrategy[Any]]:
    def broken(config: DistributionConfig) -> st.SearchStrategy[DistributionConfig]:
        first, *rest = config.categories
        return st.just(evolve(config, categories=(evolve(first, **changes), *rest)))

    return broken


def _uneven_open(config: DistributionConfig) -> st.SearchStrategy[DistributionConfig]:
    return _first_category(amount=3, recipients=Open(2, Window(0, 1)))(config)


def _fixed_mismatch(config: DistributionConfig) -> st.SearchStrategy[DistributionConfig]:
    listed = ((Principal.from_name("recipient"), 5),)
    return _first_category(amount=6, recipients=Fixed(listed))(config)


def _oversubscribed_whitelist(
    config: DistributionConfig,
) -> st.SearchStrategy[DistributionConfig]:
    listed = ((Principal.from_name("first"), 4), (Principal.from_name("second"), 4))
    return _first_category(amount=7, recipients=Whitelist(listed, Window(0, 1)))(config)


_DISTRIBUTION_BREAKERS: Final[
    list[Callable[[DistributionConfig], st.SearchStrategy[DistributionConfig]]]
] = [
    _evolved(title=""), _evolved(token=Principal.from_name("not a ledger")), _evolved(start=-1),
    _evolved(categories=()), _evolved(penalty_bp=BP + 1), _evolved(claims_covered=0),
    _evolved(claims_covered=CLAIMS_COVERED[1] + 1), _evolved(cancellable=None),
    _evolved(eligibility=HoldsToken(Principal.from_name("not a ledger"), 0)),
    _first_category(amount=0), _first_category(initial_bp=BP + 1),
    _first_category(schedule=Linear(0)), _first_category(start_offset=-1),
    _first_category(recipients=Whitelist(((Principal.anonymous(), 1),), Window(0, 1))),
    _first_category(recipients=Open(1, Window(5, 5))), _uneven_open, _fixed_mismatch,
    _oversubscribed_whitelist, _evolved(penalty_to=Account(Principal.anonymous())),
]  # fmt: skip


def distribution_configs(
    token: Principal, owner: Principal, *, valid: bool = True
) -> st.SearchStrategy[DistributionConfig]:
    """``DistributionConfig``s of ``token`` (a ledger canister id) that ``owner`` (identified)
    may deploy (``valid=True``), or may not. The validator does not look at who owns a
    distribution beyond its being identified, so ``owner`` only documents the pairing."""
    del owner
    valid_configs = _valid_distribution(token)
    return valid_configs if valid else _broken(valid_configs, _DISTRIBUTION_BREAKERS)


# -- DAOs ---------------------------------------------------------------------------------------


@st.composite
def _tiers(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    count = draw(st.integers(1, 4))
    durations = sorted(draw(st.lists(st.integers(1, MAX_LOCK), min_size=count - 1,
                                     max_size=count - 1, unique=True)))  # fmt: skip
    low, high = MULTIPLIER_BP
    multipliers = sorted(draw(st.lists(st.integers(low, high), min_size=count, max_size=count)))
    return tuple(zip([0, *durations], multipliers, strict=True))


@st.composite
def _valid_dao(draw: st.DrawFn, token: Principal) -> DAOConfig:
    low_period, high_period = VOTING_PERIOD
    return DAOConfig(
        name=draw(text(1, 30)), token=token,
        minimum_stake=draw(amounts(min_value=1, max_value=U64_MAX)),
        proposal_threshold=draw(amounts(min_value=1, max_value=2**64)),
        proposal_deposit=draw(amounts(max_value=U64_MAX)),
        quorum_bp=draw(st.integers(*QUORUM_BP)), approval_bp=draw(st.integers(*APPROVAL_BP)),
        voting_period=draw(st.integers(low_period, high_period)),
        timelock=draw(st.integers(0, MAX_TIMELOCK)), lock_tiers=draw(_tiers()),
        emergency_contacts=tuple(draw(st.lists(principals(), max_size=3, unique=True))),
        description=draw(text(0, 40, multiline=True)), is_public=draw(st.booleans()),
    )  # fmt: skip


_DAO_BREAKERS: Final[list[Callable[[DAOConfig], st.SearchStrategy[DAOConfig]]]] = [
    _evolved(name=""), _evolved(token=Principal.from_name("not a ledger")),
    _evolved(minimum_stake=0), _evolved(proposal_threshold=0), _evolved(proposal_deposit=-1),
    _evolved(quorum_bp=0), _evolved(quorum_bp=BP + 1), _evolved(approval_bp=BP // 2 - 1),
    _evolved(voting_period=VOTING_PERIOD[0] - 1), _evolved(timelock=MAX_TIMELOCK + 1),
    _evolved(lock_tiers=()), _evolved(lock_tiers=((0, BP), (0, BP))),
    _evolved(lock_tiers=((0, BP - 1),)), _evolved(is_public=None),
    _evolved(emergency_contacts=(Principal.anonymous(),)),
]  # fmt: skip


def dao_configs(
    token: Principal, owner: Principal, *, valid: bool = True
) -> st.SearchStrategy[DAOConfig]:
    """``DAOConfig``s governed by ``token`` (a ledger canister id) that ``owner`` (identified)
    may deploy (``valid=True``), or may not. As for distributions, ``owner`` only documents the
    pairing."""
    del owner
    valid_configs = _valid_dao(token)
    return valid_configs if valid else _broken(valid_configs, _DAO_BREAKERS)


# -- launchpad sales --------------------------------------------------------------------------


@st.composite
def _valid_sale(draw: st.DrawFn, purchase_token: Principal) -> LaunchpadConfig:
    decimals = draw(st.sampled_from((0, 2, 8, 18)))
    price = draw(st.integers(1, 10**12))
    hard_cap = draw(st.integers(1, 10**15))
    soft_cap = draw(st.integers(1, hard_cap))
    fixed = draw(st.booleans())
    sale_type = FixedPrice(price) if fixed else FairLaunch()
    scale: int = 10**decimals
    if fixed:
        hard_cap = max(hard_cap, -(-price // scale))
        soft_cap = max(soft_cap, -(-price // scale))
    sold = hard_cap * scale // price if fixed else 1
    tokens_for_sale = max(sold, draw(st.integers(1, 10**20)))
    # the minimum buys a sale token: at the price, or its share of a raise at the hard cap
    buys_one = -(-price // scale) if fixed else -(-hard_cap // tokens_for_sale)
    least = max(1, hard_cap // 1_000_000, buys_one)
    max_contribution = draw(st.integers(least, hard_cap))
    start = draw(st.integers(1, 2**62))
    whitelist = draw(st.none() | st.builds(
        SaleWhitelist, st.lists(principals(), min_size=1, max_size=3, unique=True),
        st.integers(0, start - 1),
    ))  # fmt: skip
    shares = draw(st.lists(st.integers(0, 2_000), min_size=3, max_size=3))
    config = LaunchpadConfig(
        project=ProjectInfo(draw(text(1, 30)), draw(text(0, 40, multiline=True))),
        sale_token=TokenConfig(name=draw(text(3, 20)), symbol="SALE", decimals=decimals),
        purchase_token=purchase_token, sale_type=sale_type,
        tokens_for_sale=tokens_for_sale, soft_cap=soft_cap,
        hard_cap=hard_cap, min_contribution=draw(st.integers(least, max_contribution)),
        max_contribution=max_contribution, sale_start=start,
        sale_end=start + draw(st.integers(1, _NS_YEAR)),
        min_participants=draw(st.integers(0, 100)), whitelist=whitelist,
        buyer_vesting=draw(schedules()), buyer_initial_bp=draw(st.integers(0, BP)),
        raised_allocation=((draw(accounts()), BP),), liquidity_bp=shares[0],
        platform_fee_bp=min(shares[1], MAX_PLATFORM_FEE_BP), affiliate_bp=shares[2],
        is_public=draw(st.booleans()),
    )  # fmt: skip
    while liquidity_tokens(config) > U64_MAX:  # the pool is pulled by one approval
        config = evolve(config, liquidity_bp=config.liquidity_bp // 2)
    return config


_SALE_BREAKERS: Final[list[Callable[[LaunchpadConfig], st.SearchStrategy[LaunchpadConfig]]]] = [
    _evolved(project=ProjectInfo("")), _evolved(purchase_token=Principal.from_name("no ledger")),
    _evolved(sale_type=FixedPrice(0)), _evolved(tokens_for_sale=0), _evolved(soft_cap=0),
    _evolved(min_contribution=0), _evolved(sale_start=-1),
    _evolved(platform_fee_bp=MAX_PLATFORM_FEE_BP + 1), _evolved(raised_allocation=()),
    _evolved(buyer_initial_bp=BP + 1), _evolved(is_public=None),
    lambda config: st.just(evolve(config, soft_cap=config.hard_cap + 1)),
    lambda config: st.just(evolve(config, sale_end=config.sale_start)),
    lambda config: st.just(evolve(config, max_contribution=config.hard_cap + 1)),
]  # fmt: skip


def launchpad_configs(
    purchase_token: Principal, owner: Principal, *, valid: bool = True
) -> st.SearchStrategy[LaunchpadConfig]:
    """``LaunchpadConfig``s paid in ``purchase_token`` (a ledger canister id) that ``owner``
    (identified) may deploy (``valid=True``), or may not; the sale token is a new one."""
    del owner
    valid_configs = _valid_sale(purchase_token)
    return valid_configs if valid else _broken(valid_configs, _SALE_BREAKERS)
