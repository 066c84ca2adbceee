"""``validate_token_config``: the one rule for what a token may be.

Every constraint of ``TokenConfig`` is checked by this one function; it lists every reason at
once. The Token Factory refuses exactly the configs it refuses (``Err(InvalidConfig(reasons))``
with the same reasons, nothing created) and deploys the others; a ``Token`` installed directly
refuses them in ``init``.
"""

from __future__ import annotations

import string
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from icto import (
    IC,
    U64_MAX,
    Account,
    ContractInit,
    Err,
    InvalidConfig,
    Ok,
    Principal,
    RejectCode,
    Token,
    TokenConfig,
    TokenFactory,
    validate_token_config,
)
from icto.factory import deploy_factory
from icto.ic.proxy import CanisterProxy
from icto.testing import strategies
from tests.helpers import live_canisters, rejected
from tests.token.conftest import SUB1, SUB2, ZEROS, token_config

OWNER = Principal.from_name("token-owner")
HOLDER = Principal.from_name("holder")
OTHER = Principal.from_name("other")
MINTER = Principal.from_name("minter")
ADMIN = Principal.from_name("factory-admin")
BACKEND = Principal.from_name("backend")


def many_balances(count: int) -> tuple[tuple[Account, int], ...]:
    """``count`` distinct accounts of one holder, 1 token each."""
    return tuple((Account(HOLDER, i.to_bytes(32, "big")), 1) for i in range(1, count + 1))


def reasons_for(owner: Any = OWNER, **overrides: Any) -> tuple[str, ...]:
    return validate_token_config(token_config(**overrides), owner)


# -- what is valid ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"name": "abc"},
        {"name": "x" * 32},
        {"name": "Ünïcödé Tökén"},
        {"name": "A  B"},
        {"symbol": "AB"},
        {"symbol": "ABCDEFGH"},
        {"symbol": "aB3x"},
        {"symbol": "42"},
        {"decimals": 0},
        {"decimals": 18},
        {"transfer_fee": 0},
        {"transfer_fee": U64_MAX},
        {"initial_balances": ((Account(HOLDER), 0),)},
        {"initial_balances": {Account(HOLDER): 5, Account(OTHER, SUB1): 7}},
        {"initial_balances": [[Account(HOLDER), 5]]},
        {"initial_balances": ((Account(OWNER, SUB1), 1),)},
        {"initial_balances": ((Account(HOLDER), U64_MAX),)},
        {"initial_balances": ((Account(HOLDER), U64_MAX - 1), (Account(OTHER), 1))},
        {"initial_balances": many_balances(10_000)},
        {"initial_balances": ((Account(HOLDER), 1), (Account(HOLDER, SUB1), 1))},
        {"minting_account": Account(MINTER), "initial_balances": ((Account(OWNER), 9),)},
        {"fee_collector": Account(OWNER, SUB1)},
        {"fee_collector": Account(HOLDER), "initial_balances": ((Account(HOLDER), 3),)},
        {"minting_account": Account(MINTER), "fee_collector": Account(OWNER)},
        {"logo": ""},
        {"logo": "x" * (30 * 1024)},
        {"logo": "é" * (15 * 1024)},
        {"max_memo_length": 0},
        {"max_memo_length": 256},
        {"description": "d" * 1000},
        {"is_public": False},
    ],
    ids=lambda overrides: ",".join(overrides) or "defaults",
)
def test_configs_within_every_range_are_valid(overrides: dict[str, Any]) -> None:
    assert reasons_for(**overrides) == ()


def test_the_owner_is_optional_for_a_check_without_one() -> None:
    """Without an owner the function checks what it can (the default minting account is
    unknown, so the owner's default account is not refused)."""
    config = token_config(initial_balances=((Account(OWNER), 5),))
    assert validate_token_config(config) == ()
    assert validate_token_config(config, OWNER) != ()


# -- every constraint, one at a time --------------------------------------------------------------

INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("name too short", {"name": "ab"}, "name must be 3 to 32 characters"),
    ("name too long", {"name": "x" * 33}, "name must be 3 to 32 characters"),
    ("name empty", {"name": ""}, "name must be 3 to 32 characters"),
    ("name leading space", {"name": " Token"}, "name must not start or end with whitespace"),
    ("name trailing space", {"name": "Token "}, "name must not start or end with whitespace"),
    ("name with a tab", {"name": "To\tken"}, "name must not contain U+0009"),
    ("name with a newline", {"name": "To\nken"}, "name must not contain U+000A"),
    ("name with a control char", {"name": "Tok\x00en"}, "name must not contain U+0000"),
    ("name not text", {"name": 12345}, "name must be text"),
    ("symbol too short", {"symbol": "A"}, "symbol must be 2 to 8 characters"),
    ("symbol too long", {"symbol": "ABCDEFGHI"}, "symbol must be 2 to 8 characters"),
    ("symbol with a dash", {"symbol": "AB-C"}, "symbol must use only the ASCII"),
    ("symbol with a space", {"symbol": "AB C"}, "symbol must use only the ASCII"),
    ("symbol non-ASCII letter", {"symbol": "ÄBC"}, "symbol must use only the ASCII"),
    ("symbol non-ASCII digits", {"symbol": "١٢٣"}, "symbol must use only the ASCII"),
    ("symbol not text", {"symbol": None}, "symbol must be text"),
    ("decimals negative", {"decimals": -1}, "decimals"),
    ("decimals above 18", {"decimals": 19}, "decimals"),
    ("decimals a bool", {"decimals": True}, "decimals"),
    ("decimals a float", {"decimals": 8.0}, "decimals"),
    ("fee negative", {"transfer_fee": -1}, "transfer_fee"),
    ("fee above u64", {"transfer_fee": U64_MAX + 1}, "transfer_fee"),
    ("fee a bool", {"transfer_fee": False}, "transfer_fee"),
    ("balance negative", {"initial_balances": ((Account(HOLDER), -1),)}, "pairs"),
    ("balance a bool", {"initial_balances": ((Account(HOLDER), True),)}, "pairs"),
    ("balance a float", {"initial_balances": ((Account(HOLDER), 1.0),)}, "pairs"),
    ("balance not an Account", {"initial_balances": ((HOLDER, 1),)}, "pairs"),
    ("balance a triple", {"initial_balances": ((Account(HOLDER), 1, 2),)}, "pairs"),
    ("balance not a pair", {"initial_balances": (Account(HOLDER),)}, "pairs"),
    ("balances not a sequence", {"initial_balances": "lots"}, "pairs"),
    (
        "duplicate account",
        {"initial_balances": ((Account(HOLDER), 1), (Account(HOLDER), 2))},
        "more than once",
    ),
    (
        "duplicate account, None and zero subaccount",
        {"initial_balances": ((Account(HOLDER), 1), (Account(HOLDER, ZEROS), 2))},
        "more than once",
    ),
    (
        "too many balances",
        {"initial_balances": many_balances(10_001)},
        "at most 10000 initial balances, got 10001",
    ),
    (
        "supply above u64",
        {"initial_balances": ((Account(HOLDER), U64_MAX), (Account(OTHER), 1))},
        "total supply must fit in 64 bits",
    ),
    (
        "owner's default account holds a balance",
        {"initial_balances": ((Account(OWNER), 1),)},
        "minting account",
    ),
    (
        "owner's default account holds a balance (zero subaccount)",
        {"initial_balances": ((Account(OWNER, ZEROS), 1),)},
        "minting account",
    ),
    (
        "explicit minting account holds a balance",
        {
            "minting_account": Account(MINTER, SUB2),
            "initial_balances": ((Account(MINTER, SUB2), 1),),
        },
        "minting account",
    ),
    (
        "fee collector is the default minting account",
        {"fee_collector": Account(OWNER)},
        "fee collector",
    ),
    (
        "fee collector is the default minting account (zero subaccount)",
        {"fee_collector": Account(OWNER, ZEROS)},
        "fee collector",
    ),
    (
        "fee collector is the explicit minting account",
        {"minting_account": Account(MINTER), "fee_collector": Account(MINTER, ZEROS)},
        "fee collector",
    ),
    ("minting account not an Account", {"minting_account": MINTER}, "minting_account must be"),
    ("fee collector not an Account", {"fee_collector": "me"}, "fee_collector must be"),
    ("logo too big", {"logo": "x" * (30 * 1024 + 1)}, "logo"),
    ("logo too big in bytes", {"logo": "é" * (15 * 1024 + 1)}, "logo"),
    ("logo not text", {"logo": b"\x89PNG"}, "logo"),
    ("memo length negative", {"max_memo_length": -1}, "max_memo_length"),
    ("memo length above 256", {"max_memo_length": 257}, "max_memo_length"),
    ("memo length a bool", {"max_memo_length": True}, "max_memo_length"),
    ("description too long", {"description": "d" * 1001}, "description"),
    ("description not text", {"description": None}, "description"),
    ("is_public not a bool", {"is_public": 1}, "is_public"),
    ("is_public text", {"is_public": "yes"}, "is_public"),
]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_each_constraint_is_refused_with_its_own_reason(
    overrides: dict[str, Any], fragment: str
) -> None:
    reasons = reasons_for(**overrides)
    assert reasons, f"{overrides} was accepted"
    assert any(fragment in reason for reason in reasons), reasons


@pytest.mark.parametrize(
    ("owner", "reason"),
    [
        (Principal.anonymous(), "the anonymous principal cannot be an owner"),
        (Principal.management_canister(), "the management canister cannot be an owner"),
        ("alice", "an owner must be a Principal, got str"),
        (Account(OWNER), "an owner must be a Principal, got Account"),
    ],
    ids=["anonymous", "management", "str", "account"],
)
def test_an_anonymous_or_malformed_owner_is_refused(owner: Any, reason: str) -> None:
    assert reasons_for(owner) == (reason,)


NOBODY = [
    (Principal.anonymous(), "the anonymous principal cannot be"),
    (Principal.management_canister(), "the management canister cannot be"),
]


@pytest.mark.parametrize(("nobody", "reason"), NOBODY, ids=["anonymous", "management"])
@pytest.mark.parametrize(
    ("field", "role"),
    [("minting_account", "a minter"), ("fee_collector", "a fee collector")],
)
@pytest.mark.parametrize("subaccount", [None, SUB1], ids=["default", "sub"])
def test_nobody_can_mint_or_collect_the_fees(
    nobody: Principal, reason: str, field: str, role: str, subaccount: bytes | None
) -> None:
    """Anyone may sign as the anonymous principal, and nobody as the management canister: a
    minter or fee collector of theirs would let anyone mint, or lose the fees."""
    assert reasons_for(**{field: Account(nobody, subaccount)}) == (f"{reason} {role}",)


@pytest.mark.parametrize(("nobody", "reason"), NOBODY, ids=["anonymous", "management"])
def test_nobody_can_hold_an_initial_balance(nobody: Principal, reason: str) -> None:
    balances = ((Account(HOLDER), 5), (Account(nobody), 7), (Account(nobody, SUB1), 9))
    assert reasons_for(initial_balances=balances) == (f"{reason} an initial holder",)


@pytest.mark.parametrize(
    "config",
    [None, {"name": "Test Token", "symbol": "TST"}, ("Test Token", "TST"), "TST"],
    ids=["None", "dict", "tuple", "str"],
)
def test_anything_but_a_token_config_is_refused(config: object) -> None:
    (reason,) = validate_token_config(config, OWNER)
    assert reason.startswith("expected a TokenConfig")


def test_every_reason_is_listed_at_once() -> None:
    config = TokenConfig(
        name=" x",
        symbol="$",
        decimals=40,
        transfer_fee=-5,
        initial_balances=(
            (Account(HOLDER), 1),
            (Account(HOLDER, ZEROS), 1),
            (Account(MINTER), 1),
        ),
        minting_account=Account(MINTER),
        fee_collector=Account(MINTER, ZEROS),
        logo="x" * (31 * 1024),
        max_memo_length=1000,
        is_public="no",  # type: ignore[arg-type]
        description="d" * 2000,
    )
    reasons = validate_token_config(config, Principal.anonymous())
    expected = [
        "the anonymous principal cannot be an owner",
        "name must be 3 to 32",
        "symbol must be 2 to 8",
        "symbol must use only",
        "decimals",
        "transfer_fee",
        "max_memo_length",
        "is_public",
        "description",
        "logo",
        "more than once",
        "cannot hold an initial balance",
        "fee collector cannot",
    ]
    assert len(reasons) == len(expected), reasons
    for fragment in expected:
        assert sum(fragment in reason for reason in reasons) == 1, (fragment, reasons)


def test_a_logo_that_is_not_valid_text_is_a_reason_not_a_crash() -> None:
    """A lone surrogate cannot be encoded as UTF-8: the logo is not valid text, so it is one
    more reason (the function lists what is wrong; it does not raise)."""
    reasons = reasons_for(logo="\ud800")
    assert len(reasons) == 1 and "logo" in reasons[0], reasons


def test_malformed_balances_do_not_hide_the_other_reasons() -> None:
    reasons = reasons_for(name="no", initial_balances=((HOLDER, -1),), max_memo_length=-1)
    assert len(reasons) == 3, reasons


# -- generated configs ----------------------------------------------------------------------------

PEOPLE = [OWNER, HOLDER, OTHER, MINTER]
SUBACCOUNTS = [None, ZEROS, SUB1, SUB2]
accounts = st.builds(Account, st.sampled_from(PEOPLE), st.sampled_from(SUBACCOUNTS))
NAME_CHARS = string.ascii_letters + string.digits + " -_.'&éßΩ漢"


@st.composite
def valid_configs(draw: st.DrawFn) -> TokenConfig:
    """A ``TokenConfig`` with every field drawn from its valid range (for ``OWNER``)."""
    minting = draw(st.none() | accounts)
    effective_minting = Account(OWNER) if minting is None else minting
    holders = st.dictionaries(
        accounts.filter(lambda a: a != effective_minting),
        st.integers(0, U64_MAX // 8),
        max_size=6,
    )
    name = draw(st.text(NAME_CHARS, min_size=3, max_size=32).filter(lambda s: s == s.strip()))
    return TokenConfig(
        name=name,
        symbol=draw(st.text(string.ascii_letters + string.digits, min_size=2, max_size=8)),
        decimals=draw(st.integers(0, 18)),
        transfer_fee=draw(st.integers(0, U64_MAX)),
        initial_balances=draw(holders),
        minting_account=minting,
        fee_collector=draw(st.none() | accounts.filter(lambda a: a != effective_minting)),
        logo=draw(st.none() | strategies.text(0, 200)),
        max_memo_length=draw(st.integers(0, 256)),
        is_public=draw(st.booleans()),
        description=draw(strategies.text(0, 100, multiline=True)),
    )


BAD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from(["", "ab", "x" * 33, " lead", "trail ", "a\tb", 7]),
    "symbol": st.sampled_from(["", "A", "ABCDEFGHI", "A-B", "ÄB", 3]),
    "decimals": st.sampled_from([-1, 19, 255, True, 1.5]),
    "transfer_fee": st.sampled_from([-1, U64_MAX + 1, True, 0.5]),
    "initial_balances": st.sampled_from(
        [
            ((Account(HOLDER), -1),),
            ((Account(HOLDER), 1), (Account(HOLDER, ZEROS), 1)),
            ((Account(OWNER), 1),),
            ((Account(HOLDER), U64_MAX), (Account(OTHER), 1)),
            ((Account(Principal.anonymous()), 1),),
            "x",
        ]
    ),
    "fee_collector": st.sampled_from(
        [Account(OWNER), Account(OWNER, ZEROS), Account(Principal.anonymous()), "x"]
    ),
    "minting_account": st.sampled_from(
        [Account(Principal.anonymous()), Account(Principal.management_canister(), SUB1), "x"]
    ),
    "logo": st.sampled_from(["x" * (30 * 1024 + 1), b"png"]),
    "max_memo_length": st.sampled_from([-1, 257, False]),
    "is_public": st.sampled_from([0, "yes", None]),
    "description": st.sampled_from(["d" * 1001, None]),
}


@st.composite
def any_configs(draw: st.DrawFn) -> TokenConfig:
    """A valid config, about half the time with one to three fields made invalid."""
    config = draw(valid_configs())
    broken = draw(st.sets(st.sampled_from(sorted(BAD_VALUES)), max_size=3))
    if not broken:
        return config
    changes = {field: draw(BAD_VALUES[field]) for field in broken}
    return attrs.evolve(config, **changes)


@settings(max_examples=100, deadline=None)
@given(valid_configs())
def test_configs_drawn_from_the_valid_ranges_have_no_reason(config: TokenConfig) -> None:
    assert validate_token_config(config, OWNER) == ()


def token_state(ic: IC, factory: CanisterProxy, symbol: object) -> tuple[Any, ...]:
    """What a refused deployment must leave as it was."""
    stats = factory.as_caller(ADMIN).get_stats()
    mine = factory.as_caller(OWNER).get_my_contracts(OWNER)
    by_symbol = (
        factory.as_caller(ADMIN).get_tokens_by_symbol(symbol).items
        if isinstance(symbol, str)
        else ()
    )
    return len(live_canisters(ic)), stats.contracts, stats.deployed, mine.total, by_symbol


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_configs())
def test_the_factory_deploys_exactly_the_configs_the_rule_accepts(config: TokenConfig) -> None:
    ic = IC(trace=False)
    factory = deploy_factory(ic, TokenFactory, backends=[BACKEND], caller=ADMIN)
    reasons = validate_token_config(config, OWNER)
    event("refused" if reasons else "deployed")
    before = token_state(ic, factory, config.symbol)
    result = factory.as_caller(BACKEND).create_contract(OWNER, config)
    if reasons:
        assert result == Err(InvalidConfig(reasons))
        assert token_state(ic, factory, config.symbol) == before
        return
    assert isinstance(result, Ok), result
    token = ic.actor(result.value, OWNER)
    assert token.icrc1_name() == config.name
    assert token.icrc1_symbol() == config.symbol
    assert token.icrc1_decimals() == config.decimals
    assert token.icrc1_fee() == config.transfer_fee
    assert token.icrc1_total_supply() == config.total_supply
    assert token.icrc1_minting_account() == config.minting_account_for(OWNER)
    for account, amount in config.initial_balances:
        assert token.icrc1_balance_of(account) == amount
    holders = {account.owner for account, amount in config.initial_balances if amount > 0}
    info = factory.as_caller(ADMIN).get_contract_info(token.id)
    assert info.role_counts.get("holder", 0) == len(holders)
    stats = factory.as_caller(ADMIN).get_stats()
    assert (stats.contracts, stats.deployed) == (1, 1)


def test_the_factory_refuses_an_anonymous_owner_and_creates_nothing(
    ic: IC, factory: CanisterProxy, backend: Principal
) -> None:
    config = token_config()
    before = token_state(ic, factory, "TST")
    result = factory.as_caller(backend).create_contract(Principal.anonymous(), config)
    assert result == Err(InvalidConfig(("the anonymous principal cannot be an owner",)))
    assert token_state(ic, factory, "TST") == before


def test_the_factory_refuses_what_is_not_a_token_config(
    ic: IC, factory: CanisterProxy, backend: Principal
) -> None:
    before = len(live_canisters(ic))
    result = factory.as_caller(backend).create_contract(OWNER, {"name": "Test", "symbol": "TST"})
    assert result == Err(InvalidConfig(("expected a TokenConfig, got dict",)))
    assert len(live_canisters(ic)) == before
    assert factory.as_caller(ADMIN).get_stats().contracts == 0


# -- the token's own init -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "config"),
    [
        (OWNER, token_config(symbol="T$T")),
        (OWNER, token_config(initial_balances=((Account(OWNER), 1),))),
        (OWNER, token_config(name="ab", decimals=19)),
        (Principal.anonymous(), token_config()),
        (OWNER, token_config(minting_account=Account(Principal.anonymous()))),
        (OWNER, {"name": "Test Token", "symbol": "TST"}),
    ],
    ids=[
        "bad symbol", "minting account funded", "two reasons", "anonymous owner",
        "anonymous minter", "a dict",
    ],
)
def test_token_init_refuses_an_invalid_config(ic: IC, owner: Principal, config: Any) -> None:
    """Installed directly (not through the factory), a token traps in init with the same
    reasons, and no canister is left."""
    before = len(live_canisters(ic))
    error = rejected(lambda: ic.deploy(Token, ContractInit(owner, config), caller=owner))
    assert error.reject_code is RejectCode.CANISTER_ERROR
    for reason in validate_token_config(config, owner):
        assert reason in error.message
    assert len(live_canisters(ic)) == before


def test_token_init_refuses_an_argument_that_is_not_a_contract_init(ic: IC) -> None:
    before = len(live_canisters(ic))
    error = rejected(lambda: ic.deploy(Token, token_config(), caller=OWNER))
    assert error.reject_code is RejectCode.CANISTER_ERROR
    assert "ContractInit" in error.message
    assert len(live_canisters(ic)) == before


def test_token_init_takes_a_valid_config(ic: IC) -> None:
    """The counterpart of the refusals: the same install with a valid config works."""
    config = token_config(initial_balances=((Account(HOLDER), 500),))
    token = ic.deploy(Token, ContractInit(OWNER, config), caller=OWNER)
    assert token.icrc1_balance_of(Account(HOLDER)) == 500
    assert token.icrc1_minting_account() == Account(OWNER)
