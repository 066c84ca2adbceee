"""Deploying a token through the Token Factory, and the factory's token listings.

A deployed token is a working ICRC-1/2 ledger built from its ``TokenConfig``; the factory indexes
its owner as creator (never the backend that asked), its initial holders as ``holder``, and keeps
``TokenDetails`` in its info. ``get_tokens_by_symbol`` and ``search_tokens`` find tokens
case-insensitively, oldest first, without revealing private tokens to strangers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from icto import (
    IC,
    MANAGEMENT_ID,
    Account,
    DeploymentFailed,
    Err,
    InsufficientFunds,
    InvalidConfig,
    Ok,
    Principal,
    RejectCode,
    TokenDetails,
    TransferArgs,
)
from icto.factory import OWNER_IS_FACTORY
from icto.ic.proxy import CanisterProxy
from tests.helpers import live_canisters, rejected
from tests.token.conftest import SUB1, SUB2, token_config

CreateToken = Callable[..., CanisterProxy]
STRANGER = Principal.from_name("stranger")


def holders_of(factory: CanisterProxy, token: CanisterProxy, *users: Principal) -> set[Principal]:
    """The users the factory indexes as holders of ``token`` (each asking about itself)."""
    return {
        user
        for user in users
        if token.id
        in {info.id for info in factory.as_caller(user).get_contracts_by_role(user, "holder").items}
    }


def info_of(factory: CanisterProxy, admin: Principal, token: CanisterProxy) -> Any:
    return factory.as_caller(admin).get_contract_info(token.id)


# -- the deployed ledger ------------------------------------------------------------------------


def test_the_deployed_token_is_the_ledger_its_config_describes(
    create_token: CreateToken, alice: Principal, bob: Principal, carol: Principal
) -> None:
    logo = "data:image/png;base64,iVBORw0KGgo="
    token = create_token(
        alice,
        name="Alpha Coin",
        symbol="ALP",
        decimals=6,
        transfer_fee=500,
        initial_balances=((Account(alice, SUB1), 1_000_000), (Account(bob), 250_000)),
        logo=logo,
        max_memo_length=16,
    )
    assert token.icrc1_name() == "Alpha Coin"
    assert token.icrc1_symbol() == "ALP"
    assert token.icrc1_decimals() == 6
    assert token.icrc1_fee() == 500
    assert token.icrc1_total_supply() == 1_250_000
    assert token.icrc1_balance_of(Account(alice, SUB1)) == 1_000_000
    assert token.icrc1_balance_of(Account(bob)) == 250_000
    assert token.icrc1_balance_of(Account(alice)) == 0
    assert token.icrc1_minting_account() == Account(alice)
    metadata = dict(token.icrc1_metadata())
    assert metadata["icrc1:logo"] == logo
    assert metadata["icrc1:max_memo_length"] == 16
    assert metadata["icrc1:name"] == "Alpha Coin"
    assert metadata["icrc1:symbol"] == "ALP"
    assert metadata["icrc1:decimals"] == 6
    assert metadata["icrc1:fee"] == 500

    assert token.as_caller(bob).icrc1_transfer(
        TransferArgs(to=Account(carol), amount=1_000, memo=b"x" * 16)
    ) == Ok(2)
    assert token.icrc1_balance_of(Account(bob)) == 250_000 - 1_000 - 500
    assert token.icrc1_balance_of(Account(carol)) == 1_000
    assert token.icrc1_total_supply() == 1_250_000 - 500, "the fee is burned"
    error = rejected(
        lambda: token.as_caller(bob).icrc1_transfer(
            TransferArgs(to=Account(carol), amount=1, memo=b"x" * 17)
        )
    )
    assert error.reject_code is RejectCode.CANISTER_ERROR
    assert token.icrc1_balance_of(Account(carol)) == 1_000


def test_a_token_without_a_logo_has_no_logo_metadata(
    create_token: CreateToken, alice: Principal
) -> None:
    token = create_token(alice)
    keys = [key for key, _ in token.icrc1_metadata()]
    assert "icrc1:logo" not in keys
    assert dict(token.icrc1_metadata())["icrc1:max_memo_length"] == 80


def test_an_explicit_minting_account_replaces_the_owners_default_account(
    create_token: CreateToken, alice: Principal, bob: Principal
) -> None:
    """With ``minting_account`` set, the owner's default account is an ordinary account that
    may hold an initial balance, and transfers to it are not burns."""
    minter = Account(bob, SUB2)
    token = create_token(
        alice, minting_account=minter, initial_balances=((Account(alice), 100_000),)
    )
    assert token.icrc1_minting_account() == minter
    assert token.icrc1_balance_of(Account(alice)) == 100_000
    assert token.as_caller(bob).icrc1_transfer(
        TransferArgs(to=Account(alice), amount=5, from_subaccount=SUB2)
    ) == Ok(1)
    assert token.icrc1_total_supply() == 100_005, "bob's minting subaccount mints"


def test_a_fee_collector_receives_the_transfer_fees(
    create_token: CreateToken, alice: Principal, bob: Principal, carol: Principal
) -> None:
    token = create_token(
        alice,
        transfer_fee=300,
        fee_collector=Account(carol, SUB1),
        initial_balances=((Account(bob), 10_000),),
    )
    assert token.as_caller(bob).icrc1_transfer(
        TransferArgs(to=Account(alice, SUB1), amount=1)
    ) == Ok(1)
    assert token.icrc1_balance_of(Account(carol, SUB1)) == 300
    assert token.icrc1_total_supply() == 10_000


# -- what the factory records ---------------------------------------------------------------------


def test_the_factory_records_the_owner_as_creator_and_the_initial_holders(
    ic: IC,
    factory: CanisterProxy,
    create_token: CreateToken,
    admin: Principal,
    backend: Principal,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    dave: Principal,
) -> None:
    token = create_token(
        alice,
        name="Alpha Coin",
        symbol="ALP",
        decimals=6,
        transfer_fee=500,
        description="the first letter",
        initial_balances=(
            (Account(bob), 70),
            (Account(bob, SUB1), 30),
            (Account(carol, SUB2), 1),
            (Account(dave), 0),
        ),
    )
    info = info_of(factory, admin, token)
    assert info.id == token.id
    assert info.kind == "token"
    assert info.owner == alice
    assert info.name == "Alpha Coin"
    assert info.status == "active"
    assert info.version == "1.0.0"
    assert info.is_public is True
    assert info.details == TokenDetails(
        symbol="ALP", decimals=6, transfer_fee=500, initial_supply=101,
        description="the first letter",
    )  # fmt: skip
    assert dict(info.role_counts) == {"holder": 2}, "bob (two accounts) and carol; dave holds 0"

    created = factory.as_caller(alice).get_created_contracts(alice)
    assert [i.id for i in created.items] == [token.id]
    assert factory.as_caller(backend).get_created_contracts(backend).items == ()
    assert factory.as_caller(backend).get_my_contracts(backend).total == 0
    (entry,) = factory.as_caller(alice).get_my_contracts(alice).items
    assert entry.roles == ("creator",), "alice holds nothing: her default account is the minter"
    assert holders_of(factory, token, alice, bob, carol, dave, backend) == {bob, carol}
    (bob_entry,) = factory.as_caller(bob).get_my_contracts(bob).items
    assert bob_entry.roles == ("holder",)


def test_an_owner_holding_tokens_is_both_creator_and_holder(
    factory: CanisterProxy, create_token: CreateToken, alice: Principal
) -> None:
    token = create_token(alice, initial_balances=((Account(alice, SUB1), 5),))
    (entry,) = factory.as_caller(alice).get_my_contracts(alice).items
    assert entry.info.id == token.id
    assert entry.roles == ("creator", "holder")


def test_the_token_is_controlled_by_the_factory_and_its_owner(
    ic: IC, factory: CanisterProxy, create_token: CreateToken, alice: Principal
) -> None:
    token = create_token(alice)
    assert set(ic.controllers_of(token.id)) == {factory.id, alice}
    assert len(ic.controllers_of(token.id)) == 2
    meta = token.get_contract_meta()
    assert (meta.factory, meta.owner, meta.pending_notifications) == (factory.id, alice, 0)


def test_the_factory_cannot_own_a_token(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    """Its minting account would be the factory's default account: nobody could ever mint."""
    canisters = live_canisters(ic)
    before = ic.state_of(factory.id)
    config = token_config(initial_balances=((Account(alice), 1000),))
    result = factory.as_caller(backend).create_contract(factory.id, config)
    assert result == Err(InvalidConfig((OWNER_IS_FACTORY,)))
    assert live_canisters(ic) == canisters
    assert ic.state_of(factory.id) == before


@pytest.mark.parametrize("step", ["install_code", "on_deployed"])
def test_a_failed_deployment_leaves_no_token_behind(
    ic: IC, factory: CanisterProxy, admin: Principal, backend: Principal, alice: Principal,
    step: str,
) -> None:  # fmt: skip
    """If installing the token or its confirmation fails, the backend gets
    ``Err(DeploymentFailed(step, ...))``, the half-created canister is deleted, and the token is
    in no listing (registry, creator index, symbol index, search)."""
    before = len(live_canisters(ic))
    target = MANAGEMENT_ID if step == "install_code" else None
    with ic.faults.reject(target, step):
        result = factory.as_caller(backend).create_contract(alice, token_config(symbol="GONE"))
    assert isinstance(result, Err), result
    assert isinstance(result.error, DeploymentFailed)
    assert result.error.step == step
    assert len(live_canisters(ic)) == before
    as_admin = factory.as_caller(admin)
    assert as_admin.get_tokens_by_symbol("GONE").items == ()
    assert as_admin.search_tokens("GONE").items == ()
    assert factory.as_caller(alice).get_my_contracts(alice).total == 0
    stats = as_admin.get_stats()
    assert (stats.contracts, stats.deployed, stats.failed_deployments) == (0, 0, 1)
    assert as_admin.get_failed_cleanups() == ()


# -- get_tokens_by_symbol -------------------------------------------------------------------------


@pytest.fixture
def tokens_abc(
    create_token: CreateToken, alice: Principal, bob: Principal, carol: Principal
) -> list[CanisterProxy]:
    """Four tokens, oldest first: public "abc" (alice), private "ABC" (bob, carol holds some),
    public "Abc" (carol), public "XYZ" (alice)."""
    return [
        create_token(alice, name="First ABC", symbol="abc"),
        create_token(
            bob,
            name="Secret ABC",
            symbol="ABC",
            is_public=False,
            initial_balances=((Account(carol), 10),),
        ),
        create_token(carol, name="Third ABC", symbol="Abc"),
        create_token(alice, name="Other", symbol="XYZ"),
    ]


@pytest.mark.parametrize("query", ["abc", "ABC", "aBc"])
def test_tokens_by_symbol_ignore_case_and_come_oldest_first(
    factory: CanisterProxy, tokens_abc: list[CanisterProxy], admin: Principal, query: str
) -> None:
    first, secret, third, _ = tokens_abc
    page = factory.as_caller(admin).get_tokens_by_symbol(query)
    assert [info.id for info in page.items] == [first.id, secret.id, third.id]
    assert page.next_offset is None


@pytest.mark.parametrize(
    ("query", "looks_like"),
    [("\u00df", "SS"), ("\u0131cp", "ICP"), ("\ufb00", "FF")],
    ids=["sharp-s", "dotless-i", "ff-ligature"],
)
def test_text_that_upper_cases_into_a_symbol_finds_no_token(
    factory: CanisterProxy, create_token: CreateToken, alice: Principal, admin: Principal,
    query: str, looks_like: str,
) -> None:  # fmt: skip
    """Symbols are ASCII letters and digits; text outside ASCII that ``str.upper`` turns into a
    symbol is no symbol, and finds nothing."""
    create_token(alice, name="Looks like", symbol=looks_like)
    assert len(factory.as_caller(admin).get_tokens_by_symbol(looks_like).items) == 1
    assert factory.as_caller(admin).get_tokens_by_symbol(query).items == ()


def test_tokens_by_symbol_hide_private_tokens_from_strangers(
    factory: CanisterProxy, tokens_abc: list[CanisterProxy]
) -> None:
    first, _, third, _ = tokens_abc
    page = factory.as_caller(STRANGER).get_tokens_by_symbol("ABC")
    assert [info.id for info in page.items] == [first.id, third.id]
    assert page.total is None, "a total would count the private token"


@pytest.mark.parametrize("viewer", ["bob", "carol"], ids=["owner", "holder"])
def test_tokens_by_symbol_show_a_private_token_to_its_owner_and_holders(
    factory: CanisterProxy, tokens_abc: list[CanisterProxy], viewer: str
) -> None:
    page = factory.as_caller(Principal.from_name(viewer)).get_tokens_by_symbol("abc")
    assert [info.id for info in page.items] == [token.id for token in tokens_abc[:3]]


def test_tokens_by_symbol_page_and_miss(
    factory: CanisterProxy, tokens_abc: list[CanisterProxy], admin: Principal
) -> None:
    first, secret, third, xyz = tokens_abc
    as_admin = factory.as_caller(admin)
    page = as_admin.get_tokens_by_symbol("abc", 0, 2)
    assert [info.id for info in page.items] == [first.id, secret.id]
    assert page.next_offset == 2
    rest = as_admin.get_tokens_by_symbol("abc", page.next_offset, 2)
    assert [info.id for info in rest.items] == [third.id]
    assert rest.next_offset is None
    assert [i.id for i in as_admin.get_tokens_by_symbol("xyz").items] == [xyz.id]
    assert as_admin.get_tokens_by_symbol("AB").items == ()
    assert as_admin.get_tokens_by_symbol("ABCD").items == ()


# -- search_tokens --------------------------------------------------------------------------------


@pytest.fixture
def searchable(
    create_token: CreateToken, alice: Principal, bob: Principal
) -> dict[str, CanisterProxy]:
    specs = [
        ("alpha", "Alpha Coin", "AC"),
        ("beta", "Beta", "BETA"),
        ("alpaca", "Woolly", "ALPACA"),
        ("secret", "Alpha Secret", "SEC", False),
        ("gamma", "Gamma", "GAM"),
        ("pal", "The Pal Token", "XALPX"),
    ]
    tokens = {}
    for key, name, symbol, *public in specs:
        owner = bob if key == "secret" else alice
        tokens[key] = create_token(
            owner, name=name, symbol=symbol, is_public=public[0] if public else True
        )
    return tokens


def found(page: Any) -> list[Principal]:
    return [info.id for info in page.items]


@pytest.mark.parametrize("text", ["alp", "ALP", "Alp"])
def test_search_matches_name_or_symbol_case_insensitively_over_public_tokens(
    factory: CanisterProxy, searchable: dict[str, CanisterProxy], text: str
) -> None:
    """ "Alpha Coin" by name, "Woolly" by its symbol ALPACA, "XALPX" by symbol; the private
    "Alpha Secret" is not listed."""
    page = factory.as_caller(STRANGER).search_tokens(text)
    expected = [searchable[key].id for key in ("alpha", "alpaca", "pal")]
    assert found(page) == expected
    assert page.next_offset is None
    assert page.total is None


def test_search_does_not_list_private_tokens_even_to_their_owner(
    factory: CanisterProxy, searchable: dict[str, CanisterProxy], bob: Principal
) -> None:
    assert searchable["secret"].id not in found(factory.as_caller(bob).search_tokens("secret"))
    assert found(factory.as_caller(bob).search_tokens("secret")) == []


def test_search_pages_continue_from_next_offset(
    factory: CanisterProxy, searchable: dict[str, CanisterProxy]
) -> None:
    search = factory.as_caller(STRANGER).search_tokens
    everything = found(search("a"))
    assert everything == [searchable[key].id for key in ("alpha", "beta", "alpaca", "gamma", "pal")]
    collected: list[Principal] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = search("a", offset, 2)
        assert len(page.items) <= 2
        collected.extend(found(page))
        offset = page.next_offset
        pages += 1
    assert collected == everything
    assert pages == 3


def test_search_with_no_match_returns_an_empty_page(
    factory: CanisterProxy, searchable: dict[str, CanisterProxy]
) -> None:
    page = factory.as_caller(STRANGER).search_tokens("zzz")
    assert page.items == ()
    assert page.next_offset is None


def test_a_token_made_private_leaves_the_search_and_strangers_listings(
    factory: CanisterProxy, searchable: dict[str, CanisterProxy], alice: Principal
) -> None:
    gamma = searchable["gamma"]
    assert factory.as_caller(alice).set_contract_visibility(gamma.id, False) == Ok(None)
    assert found(factory.as_caller(STRANGER).search_tokens("gamma")) == []
    assert found(factory.as_caller(STRANGER).get_tokens_by_symbol("GAM")) == []
    assert found(factory.as_caller(alice).get_tokens_by_symbol("GAM")) == [gamma.id]
    assert gamma.get_contract_meta().is_public is False


# -- holders follow mints and burns ---------------------------------------------------------------


def test_a_mint_makes_a_new_holder_and_burning_everything_removes_it(
    factory: CanisterProxy,
    create_token: CreateToken,
    admin: Principal,
    alice: Principal,
    bob: Principal,
    carol: Principal,
) -> None:
    token = create_token(alice, initial_balances=((Account(bob), 50_000),))
    assert holders_of(factory, token, alice, bob, carol) == {bob}

    assert token.icrc1_transfer(TransferArgs(to=Account(carol, SUB1), amount=25_000)) == Ok(1)
    assert token.icrc1_total_supply() == 75_000
    (block,) = token.get_blocks(1, 1)
    assert block.kind == "mint"
    assert holders_of(factory, token, alice, bob, carol) == {bob, carol}
    assert dict(info_of(factory, admin, token).role_counts) == {"holder": 2}

    burn = TransferArgs(to=Account(alice), amount=25_000, from_subaccount=SUB1)
    assert token.as_caller(carol).icrc1_transfer(burn) == Ok(2)
    assert token.icrc1_balance_of(Account(carol, SUB1)) == 0
    assert token.icrc1_total_supply() == 50_000
    assert holders_of(factory, token, alice, bob, carol) == {bob}
    assert dict(info_of(factory, admin, token).role_counts) == {"holder": 1}
    assert factory.as_caller(carol).get_my_contracts(carol).total == 0


def test_a_failed_transfer_changes_no_holder(
    factory: CanisterProxy, create_token: CreateToken, alice: Principal, bob: Principal,
    carol: Principal,
) -> None:  # fmt: skip
    token = create_token(alice, initial_balances=((Account(bob), 15_000),))
    result = token.as_caller(bob).icrc1_transfer(TransferArgs(to=Account(carol), amount=6_000))
    assert result == Err(InsufficientFunds(15_000))
    assert holders_of(factory, token, alice, bob, carol) == {bob}
