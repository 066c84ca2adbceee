"""Mint and burn through icrc1_transfer, genesis mints and total-supply accounting (reference
icrc.md §2.3, §2.4, §2.7, §2.12, §4.5, §4.9, §4.15)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto import (
    E8S,
    IC,
    Account,
    BadBurn,
    BadFee,
    Block,
    CallRejected,
    Duplicate,
    Err,
    InsufficientFunds,
    LedgerInit,
    Ok,
    Principal,
    RejectCode,
    TransferArgs,
    deploy_ledger,
)
from icto.ic.proxy import CanisterProxy
from tests.ledger.conftest import FEE
from tests.ledger.helpers import (
    ALICE_START,
    BOB_START,
    SUPPLY_START,
    ZEROS,
    only_block,
    state,
    transfer,
)

SUB1 = bytes(31) + b"\x01"


# -- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def accounts(
    alice: Principal, bob: Principal, carol: Principal, minter: Principal
) -> list[Account]:
    return [
        Account(alice),
        Account(alice, SUB1),
        Account(bob),
        Account(carol),
        Account(minter),
        Account(minter, SUB1),
    ]


def fund(ledger: CanisterProxy, minter: Principal, account: Account, amount: int) -> int:
    """Mint ``amount`` to ``account``; return the block index."""
    result = transfer(ledger, minter, to=account, amount=amount)
    assert isinstance(result, Ok)
    return int(result.value)


# -- mint ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [1, FEE, 7 * E8S, 10**30])
def test_a_transfer_from_the_minting_account_creates_tokens_without_fee(
    ledger: CanisterProxy, minter: Principal, carol: Principal, amount: int
) -> None:
    assert transfer(ledger, minter, to=Account(carol), amount=amount) == Ok(2)
    assert ledger.icrc1_balance_of(Account(carol)) == amount
    assert ledger.icrc1_total_supply() == SUPPLY_START + amount
    assert ledger.icrc1_balance_of(Account(minter)) == 0


def test_a_mint_is_recorded_as_a_mint_block_without_source_or_fee(
    ic: IC, ledger: CanisterProxy, minter: Principal, carol: Principal
) -> None:
    ic.advance_time(seconds=30)
    created = ic.time - 10**9
    result = transfer(
        ledger, minter, to=Account(carol, SUB1), amount=5 * E8S, memo=b"airdrop",
        created_at_time=created,
    )  # fmt: skip
    assert result == Ok(2)
    assert only_block(ledger, 2) == Block(
        kind="mint",
        timestamp=ic.time,
        amount=5 * E8S,
        from_=None,
        to=Account(carol, SUB1),
        fee=None,
        memo=b"airdrop",
        created_at_time=created,
    )


@pytest.mark.parametrize("fee", [None, 0])
def test_a_mint_accepts_fee_none_or_zero(
    ledger: CanisterProxy, minter: Principal, carol: Principal, fee: int | None
) -> None:
    assert transfer(ledger, minter, to=Account(carol), amount=E8S, fee=fee) == Ok(2)
    assert ledger.icrc1_balance_of(Account(carol)) == E8S
    assert ledger.icrc1_total_supply() == SUPPLY_START + E8S
    assert only_block(ledger, 2).fee is None


@pytest.mark.parametrize("fee", [1, FEE, E8S])
def test_a_mint_with_a_nonzero_fee_is_bad_fee_zero_and_changes_nothing(
    ledger: CanisterProxy, minter: Principal, carol: Principal, accounts: list[Account], fee: int
) -> None:
    before = state(ledger, accounts)
    result = transfer(ledger, minter, to=Account(carol), amount=E8S, fee=fee)
    assert result == Err(BadFee(expected_fee=0))
    assert state(ledger, accounts) == before
    assert transfer(ledger, minter, to=Account(carol), amount=E8S) == Ok(2)


def test_a_mint_of_zero_is_accepted_and_creates_a_block(
    ledger: CanisterProxy, minter: Principal, carol: Principal
) -> None:
    """RUST accepts zero mints: a block is created, no balance changes (§2.3)."""
    assert transfer(ledger, minter, to=Account(carol), amount=0) == Ok(2)
    assert ledger.get_transaction_count() == 3
    assert ledger.icrc1_balance_of(Account(carol)) == 0
    assert ledger.icrc1_total_supply() == SUPPLY_START
    block = only_block(ledger, 2)
    assert (block.kind, block.amount, block.to) == ("mint", 0, Account(carol))


def test_a_mint_needs_no_balance_and_has_no_limit_from_the_supply(
    ledger: CanisterProxy, minter: Principal, carol: Principal
) -> None:
    for index in range(2, 6):
        assert transfer(ledger, minter, to=Account(carol), amount=SUPPLY_START) == Ok(index)
    assert ledger.icrc1_balance_of(Account(carol)) == 4 * SUPPLY_START
    assert ledger.icrc1_total_supply() == 5 * SUPPLY_START


def test_a_mint_from_the_minter_naming_32_zero_bytes_is_still_a_mint(
    ledger: CanisterProxy, minter: Principal, carol: Principal
) -> None:
    """ "Is this the minting account?" uses normalised equality (§2.1)."""
    assert transfer(ledger, minter, from_subaccount=ZEROS, to=Account(carol), amount=E8S) == Ok(2)
    assert ledger.icrc1_total_supply() == SUPPLY_START + E8S
    assert only_block(ledger, 2).kind == "mint"


def test_a_mint_with_a_fee_collector_pays_the_collector_nothing(
    ic: IC, minter: Principal, alice: Principal, carol: Principal
) -> None:
    init = LedgerInit(
        name="T", symbol="T", transfer_fee=FEE, minting_account=Account(minter),
        fee_collector=Account(carol),
    )  # fmt: skip
    ledger = deploy_ledger(ic, init)
    assert transfer(ledger, minter, to=Account(alice), amount=E8S) == Ok(0)
    assert transfer(ledger, alice, to=Account(minter), amount=E8S // 2) == Ok(1)
    assert ledger.icrc1_balance_of(Account(carol)) == 0
    assert ledger.icrc1_balance_of(Account(alice)) == E8S // 2
    assert ledger.icrc1_total_supply() == E8S // 2


def test_the_minting_account_balance_stays_zero_through_every_operation(
    ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal
) -> None:
    minting = Account(minter)
    assert ledger.icrc1_balance_of(minting) == 0
    assert transfer(ledger, minter, to=Account(alice), amount=E8S) == Ok(2)
    assert ledger.icrc1_balance_of(minting) == 0
    assert transfer(ledger, alice, to=minting, amount=3 * E8S) == Ok(3)
    assert ledger.icrc1_balance_of(minting) == 0
    assert transfer(ledger, bob, to=Account(minter, ZEROS), amount=FEE) == Ok(4)
    assert ledger.icrc1_balance_of(minting) == 0
    assert ledger.icrc1_balance_of(Account(minter, ZEROS)) == 0
    assert transfer(ledger, alice, to=Account(bob), amount=E8S) == Ok(5)
    assert ledger.icrc1_balance_of(minting) == 0


def test_a_minter_subaccount_that_is_not_the_minting_account_cannot_mint(
    ledger: CanisterProxy, minter: Principal, carol: Principal, accounts: list[Account]
) -> None:
    before = state(ledger, accounts)
    result = transfer(ledger, minter, from_subaccount=SUB1, to=Account(carol), amount=E8S)
    assert result == Err(InsufficientFunds(0))
    assert state(ledger, accounts) == before


def test_a_minter_subaccount_is_an_ordinary_account_that_pays_the_fee(
    ledger: CanisterProxy, minter: Principal, alice: Principal, carol: Principal
) -> None:
    assert transfer(ledger, alice, to=Account(minter, SUB1), amount=E8S) == Ok(2)
    assert ledger.icrc1_balance_of(Account(minter, SUB1)) == E8S
    assert ledger.icrc1_total_supply() == SUPPLY_START - FEE
    assert only_block(ledger, 2).kind == "transfer"
    result = transfer(ledger, minter, from_subaccount=SUB1, to=Account(carol), amount=E8S // 2)
    assert result == Ok(3)
    assert ledger.icrc1_balance_of(Account(minter, SUB1)) == E8S - E8S // 2 - FEE
    assert ledger.icrc1_balance_of(Account(carol)) == E8S // 2
    assert ledger.icrc1_total_supply() == SUPPLY_START - 2 * FEE
    block = only_block(ledger, 3)
    assert (block.kind, block.from_, block.fee) == ("transfer", Account(minter, SUB1), FEE)


def test_a_minter_subaccount_rejects_a_mint_fee_of_zero_as_an_ordinary_account(
    ledger: CanisterProxy, minter: Principal, alice: Principal, carol: Principal
) -> None:
    assert transfer(ledger, alice, to=Account(minter, SUB1), amount=E8S) == Ok(2)
    result = transfer(ledger, minter, from_subaccount=SUB1, to=Account(carol), amount=1, fee=0)
    assert result == Err(BadFee(expected_fee=FEE))


def test_a_minting_account_on_a_subaccount_leaves_the_default_account_ordinary(
    ic: IC, minter: Principal, alice: Principal, carol: Principal
) -> None:
    init = LedgerInit(
        name="T", symbol="T", transfer_fee=FEE, minting_account=Account(minter, SUB1),
        initial_balances=((Account(alice), E8S),),
    )  # fmt: skip
    ledger = deploy_ledger(ic, init)
    assert ledger.icrc1_minting_account() == Account(minter, SUB1)
    assert transfer(ledger, minter, to=Account(carol), amount=1) == Err(InsufficientFunds(0))
    assert transfer(ledger, minter, from_subaccount=SUB1, to=Account(carol), amount=5) == Ok(1)
    assert transfer(ledger, alice, to=Account(minter), amount=E8S // 2) == Ok(2)
    assert ledger.icrc1_balance_of(Account(minter)) == E8S // 2
    assert ledger.icrc1_total_supply() == E8S + 5 - FEE
    assert [b.kind for b in ledger.get_blocks(0, 3)] == ["mint", "mint", "transfer"]


# -- burn ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [FEE, FEE + 1, 3 * E8S, ALICE_START])
def test_a_transfer_to_the_minting_account_burns_without_fee(
    ledger: CanisterProxy, minter: Principal, alice: Principal, amount: int
) -> None:
    assert transfer(ledger, alice, to=Account(minter), amount=amount) == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - amount
    assert ledger.icrc1_total_supply() == SUPPLY_START - amount
    assert ledger.icrc1_balance_of(Account(minter)) == 0


def test_a_burn_is_recorded_as_a_burn_block_without_destination_or_fee(
    ic: IC, ledger: CanisterProxy, minter: Principal, alice: Principal
) -> None:
    ic.advance_time(seconds=30)
    assert transfer(
        ledger, alice, from_subaccount=None, to=Account(minter), amount=2 * E8S, memo=b"b"
    ) == Ok(2)
    assert only_block(ledger, 2) == Block(
        kind="burn",
        timestamp=ic.time,
        amount=2 * E8S,
        from_=Account(alice),
        to=None,
        fee=None,
        memo=b"b",
        created_at_time=None,
    )


@pytest.mark.parametrize("fee", [None, 0])
def test_a_burn_accepts_fee_none_or_zero(
    ledger: CanisterProxy, minter: Principal, alice: Principal, fee: int | None
) -> None:
    assert transfer(ledger, alice, to=Account(minter), amount=E8S, fee=fee) == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - E8S
    assert ledger.icrc1_total_supply() == SUPPLY_START - E8S


@pytest.mark.parametrize("fee", [1, FEE, E8S])
def test_a_burn_with_a_nonzero_fee_is_bad_fee_zero_and_changes_nothing(
    ledger: CanisterProxy, minter: Principal, alice: Principal, accounts: list[Account], fee: int
) -> None:
    before = state(ledger, accounts)
    result = transfer(ledger, alice, to=Account(minter), amount=E8S, fee=fee)
    assert result == Err(BadFee(expected_fee=0))
    assert state(ledger, accounts) == before


def test_bad_fee_on_a_burn_is_reported_before_bad_burn_and_insufficient_funds(
    ledger: CanisterProxy, minter: Principal, alice: Principal, carol: Principal
) -> None:
    """Rust order (§2.12 step 3): fee first, then the minimum burn, funds last (step 6)."""
    assert transfer(ledger, alice, to=Account(minter), amount=1, fee=FEE) == Err(BadFee(0))
    assert transfer(ledger, carol, to=Account(minter), amount=5, fee=FEE) == Err(BadFee(0))
    assert transfer(ledger, carol, to=Account(minter), amount=0, fee=FEE) == Err(BadFee(0))


def test_a_burn_to_the_minting_account_named_with_32_zero_bytes_is_a_burn(
    ledger: CanisterProxy, minter: Principal, alice: Principal
) -> None:
    assert transfer(ledger, alice, to=Account(minter, ZEROS), amount=E8S) == Ok(2)
    assert ledger.icrc1_total_supply() == SUPPLY_START - E8S
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - E8S
    assert only_block(ledger, 2).kind == "burn"


def test_a_burn_from_a_subaccount_debits_that_subaccount(
    ledger: CanisterProxy, minter: Principal, alice: Principal
) -> None:
    assert transfer(ledger, alice, to=Account(alice, SUB1), amount=E8S) == Ok(2)
    assert transfer(ledger, alice, from_subaccount=SUB1, to=Account(minter), amount=E8S) == Ok(3)
    assert ledger.icrc1_balance_of(Account(alice, SUB1)) == 0
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - E8S - FEE
    assert ledger.icrc1_total_supply() == SUPPLY_START - FEE - E8S
    assert only_block(ledger, 3).from_ == Account(alice, SUB1)


@pytest.mark.parametrize(("amount", "ok"), [(FEE - 1, False), (FEE, True), (1, False), (0, False)])
def test_with_a_balance_of_at_least_the_fee_the_minimum_burn_is_the_fee(
    ledger: CanisterProxy,
    minter: Principal,
    alice: Principal,
    accounts: list[Account],
    amount: int,
    ok: bool,
) -> None:
    before = state(ledger, accounts)
    result = transfer(ledger, alice, to=Account(minter), amount=amount)
    if ok:
        assert result == Ok(2)
        assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - amount
        assert ledger.icrc1_total_supply() == SUPPLY_START - amount
    else:
        assert result == Err(BadBurn(min_burn_amount=FEE))
        assert state(ledger, accounts) == before


@pytest.mark.parametrize("balance", [1, 2, FEE // 2, FEE - 1])
def test_a_holder_below_the_fee_can_burn_exactly_the_whole_balance(
    ledger: CanisterProxy, minter: Principal, carol: Principal, balance: int
) -> None:
    assert fund(ledger, minter, Account(carol), balance) == 2
    assert transfer(ledger, carol, to=Account(minter), amount=balance) == Ok(3)
    assert ledger.icrc1_balance_of(Account(carol)) == 0
    assert ledger.icrc1_total_supply() == SUPPLY_START


@pytest.mark.parametrize("balance", [2, FEE // 2, FEE - 1])
def test_a_holder_below_the_fee_burning_less_than_the_balance_gets_bad_burn_balance(
    ledger: CanisterProxy,
    minter: Principal,
    carol: Principal,
    accounts: list[Account],
    balance: int,
) -> None:
    fund(ledger, minter, Account(carol), balance)
    before = state(ledger, accounts)
    for amount in (1, balance - 1):
        result = transfer(ledger, carol, to=Account(minter), amount=amount)
        assert result == Err(BadBurn(min_burn_amount=balance))
    assert state(ledger, accounts) == before


@pytest.mark.parametrize(
    ("balance", "expected"), [(1, 1), (FEE - 1, FEE - 1), (FEE, FEE), (E8S, FEE)]
)
def test_a_zero_burn_with_a_positive_balance_is_bad_burn_min_of_fee_and_balance(
    ledger: CanisterProxy,
    minter: Principal,
    carol: Principal,
    accounts: list[Account],
    balance: int,
    expected: int,
) -> None:
    fund(ledger, minter, Account(carol), balance)
    before = state(ledger, accounts)
    result = transfer(ledger, carol, to=Account(minter), amount=0)
    assert result == Err(BadBurn(min_burn_amount=expected))
    assert state(ledger, accounts) == before


def test_a_zero_burn_from_a_zero_balance_is_bad_burn_fee(
    ledger: CanisterProxy, minter: Principal, carol: Principal, accounts: list[Account]
) -> None:
    """min(fee, 0) = 0 lets amount 0 pass the minimum, then "amount 0" gives BadBurn(fee)."""
    before = state(ledger, accounts)
    result = transfer(ledger, carol, to=Account(minter), amount=0)
    assert result == Err(BadBurn(min_burn_amount=FEE))
    assert state(ledger, accounts) == before


@pytest.mark.parametrize("amount", [1, FEE, E8S])
def test_a_positive_burn_from_a_zero_balance_is_insufficient_funds_zero(
    ledger: CanisterProxy, minter: Principal, carol: Principal, accounts: list[Account], amount: int
) -> None:
    before = state(ledger, accounts)
    result = transfer(ledger, carol, to=Account(minter), amount=amount)
    assert result == Err(InsufficientFunds(balance=0))
    assert state(ledger, accounts) == before


@pytest.mark.parametrize("excess", [1, FEE, E8S])
def test_burning_more_than_the_balance_is_insufficient_funds_with_the_balance(
    ledger: CanisterProxy,
    minter: Principal,
    bob: Principal,
    accounts: list[Account],
    excess: int,
) -> None:
    before = state(ledger, accounts)
    result = transfer(ledger, bob, to=Account(minter), amount=BOB_START + excess)
    assert result == Err(InsufficientFunds(balance=BOB_START))
    assert state(ledger, accounts) == before
    assert transfer(ledger, bob, to=Account(minter), amount=BOB_START) == Ok(2)
    assert ledger.icrc1_balance_of(Account(bob)) == 0


def test_a_burn_needs_the_amount_only_not_amount_plus_fee(
    ledger: CanisterProxy, minter: Principal, bob: Principal
) -> None:
    """A transfer of the whole balance fails for want of the fee; a burn of it succeeds."""
    assert transfer(ledger, bob, to=Account(minter), amount=BOB_START) == Ok(2)
    assert ledger.icrc1_total_supply() == ALICE_START


def test_a_too_long_memo_traps_a_burn_and_a_mint_and_consumes_nothing(
    ledger: CanisterProxy,
    minter: Principal,
    alice: Principal,
    carol: Principal,
    accounts: list[Account],
) -> None:
    before = state(ledger, accounts)
    for caller, to in ((alice, Account(minter)), (minter, Account(carol))):
        with pytest.raises(CallRejected) as info:
            transfer(ledger, caller, to=to, amount=E8S, memo=bytes(33))
        assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert state(ledger, accounts) == before
    assert transfer(ledger, alice, to=Account(minter), amount=E8S, memo=bytes(32)) == Ok(2)


# -- minting account to minting account ---------------------------------------------------------


def test_minting_account_to_itself_with_amount_zero_is_bad_burn_fee(
    ledger: CanisterProxy, minter: Principal, accounts: list[Account]
) -> None:
    """RUST checks "to is minting" first: a burn from a zero balance (§2.3, §4.15)."""
    before = state(ledger, accounts)
    result = transfer(ledger, minter, to=Account(minter), amount=0)
    assert result == Err(BadBurn(min_burn_amount=FEE))
    assert state(ledger, accounts) == before


@pytest.mark.parametrize("amount", [1, FEE, E8S])
def test_minting_account_to_itself_with_a_positive_amount_is_insufficient_funds_zero(
    ledger: CanisterProxy, minter: Principal, accounts: list[Account], amount: int
) -> None:
    before = state(ledger, accounts)
    result = transfer(ledger, minter, to=Account(minter), amount=amount)
    assert result == Err(InsufficientFunds(balance=0))
    assert state(ledger, accounts) == before


def test_minting_account_to_itself_with_a_fee_is_bad_fee_zero(
    ledger: CanisterProxy, minter: Principal, accounts: list[Account]
) -> None:
    before = state(ledger, accounts)
    result = transfer(ledger, minter, to=Account(minter), amount=E8S, fee=FEE)
    assert result == Err(BadFee(expected_fee=0))
    assert state(ledger, accounts) == before


# -- genesis ------------------------------------------------------------------------------------


def test_initial_balances_are_mint_blocks_zero_and_one(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    blocks = ledger.get_blocks(0, 10)
    assert [(b.kind, b.from_, b.to, b.amount, b.fee, b.timestamp) for b in blocks] == [
        ("mint", None, Account(alice), ALICE_START, None, ic.time),
        ("mint", None, Account(bob), BOB_START, None, ic.time),
    ]
    assert ledger.get_transaction_count() == 2
    assert ledger.icrc1_total_supply() == SUPPLY_START
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START


def test_genesis_mint_blocks_carry_the_init_time_as_created_at_time(
    ic: IC, ledger: CanisterProxy
) -> None:
    """RUST records each initial balance as a mint with created_at_time = init time (§4.9)."""
    assert [b.created_at_time for b in ledger.get_blocks(0, 2)] == [ic.time, ic.time]


@pytest.mark.parametrize(
    ("caller_name", "to_name", "amount"),
    [("alice", "bob", 1), ("minter", "carol", 1), ("alice", "minter", FEE)],
    ids=["transfer", "mint", "burn"],
)
def test_the_first_user_transaction_gets_index_two(
    ledger: CanisterProxy,
    principal: Any,
    caller_name: str,
    to_name: str,
    amount: int,
) -> None:
    result = transfer(ledger, principal(caller_name), to=Account(principal(to_name)), amount=amount)
    assert result == Ok(2)


def test_a_ledger_without_initial_balances_starts_at_index_zero(
    ic: IC, minter: Principal, alice: Principal
) -> None:
    init = LedgerInit(name="T", symbol="T", transfer_fee=FEE, minting_account=Account(minter))
    ledger = deploy_ledger(ic, init)
    assert ledger.get_transaction_count() == 0
    assert ledger.icrc1_total_supply() == 0
    assert transfer(ledger, minter, to=Account(alice), amount=E8S) == Ok(0)


def test_initial_balances_to_several_subaccounts_are_consecutive_mints(
    ic: IC, minter: Principal, alice: Principal, bob: Principal
) -> None:
    initial = ((Account(alice), 5), (Account(alice, SUB1), 7), (Account(bob), 11))
    init = LedgerInit(
        name="T", symbol="T", transfer_fee=FEE, minting_account=Account(minter),
        initial_balances=initial,
    )  # fmt: skip
    ledger = deploy_ledger(ic, init)
    blocks = ledger.get_blocks(0, 10)
    assert [(b.kind, b.to, b.amount) for b in blocks] == [("mint", a, n) for a, n in initial]
    assert [ledger.icrc1_balance_of(a) for a, _ in initial] == [5, 7, 11]
    assert ledger.icrc1_total_supply() == 23


@pytest.mark.parametrize("subaccount", [None, ZEROS], ids=["null", "32-zeros"])
def test_an_initial_balance_to_the_minting_account_makes_install_fail(
    ic: IC, minter: Principal, alice: Principal, subaccount: bytes | None
) -> None:
    init = LedgerInit(
        name="T", symbol="T", transfer_fee=FEE, minting_account=Account(minter),
        initial_balances=((Account(alice), E8S), (Account(minter, subaccount), E8S)),
    )  # fmt: skip
    before = ic.snapshot()
    with pytest.raises(CallRejected) as info:
        deploy_ledger(ic, init)
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert "minting account" in info.value.message
    assert ic.snapshot() is before


# -- total supply = sum of balances -------------------------------------------------------------


def test_total_supply_is_the_sum_of_balances_after_a_mixed_sequence(
    ledger: CanisterProxy,
    minter: Principal,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    accounts: list[Account],
) -> None:
    minting = Account(minter)
    steps = [
        (minter, {"to": Account(carol), "amount": 3 * E8S}),
        (alice, {"to": Account(bob), "amount": 2 * E8S}),
        (carol, {"to": minting, "amount": E8S}),
        (bob, {"to": Account(alice, SUB1), "amount": E8S // 3}),
        (alice, {"to": Account(minter, SUB1), "amount": 12_345}),
        (alice, {"from_subaccount": SUB1, "to": minting, "amount": E8S // 3}),
        (minter, {"to": Account(alice, SUB1), "amount": 0}),
        (bob, {"to": minting, "amount": FEE}),
        (carol, {"to": Account(carol), "amount": 0}),
        (minter, {"from_subaccount": SUB1, "to": Account(bob), "amount": 2_345}),
    ]
    for index, (caller, fields) in enumerate(steps, start=2):
        assert transfer(ledger, caller, **fields) == Ok(index)
    balances = [ledger.icrc1_balance_of(account) for account in accounts]
    assert ledger.icrc1_total_supply() == sum(balances)
    fees = 5 * FEE  # alice→bob, bob→alice.1, alice→minter.1, carol self, minter.1→bob
    assert sum(balances) == SUPPLY_START + 3 * E8S - E8S - E8S // 3 - FEE - fees
    assert ledger.icrc1_balance_of(minting) == 0


_PEOPLE = ("alice", "bob", "carol", "anonymous")


def _owner(name: str) -> Principal:
    return Principal.anonymous() if name == "anonymous" else Principal.from_name(name)


_account_choice = st.tuples(st.sampled_from(_PEOPLE), st.sampled_from([None, SUB1]))
_amount = st.one_of(st.integers(0, 3 * FEE), st.integers(0, 3 * E8S))
_operation = st.one_of(
    st.tuples(st.just("transfer"), _account_choice, _account_choice, _amount),
    st.tuples(st.just("mint"), st.none(), _account_choice, _amount),
    st.tuples(st.just("burn"), _account_choice, st.none(), _amount),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_operation, max_size=12))
def test_total_supply_always_equals_the_sum_of_balances_and_results_follow_the_rules(
    operations: list[tuple[str, Any, Any, int]],
) -> None:
    """A small model of §2.3/§2.4 predicts every result; supply = sum of balances throughout."""
    ic = IC()
    minter = Principal.from_name("minter")
    minting = Account(minter)
    known = [Account(_owner(name), sub) for name in _PEOPLE for sub in (None, SUB1)]
    model = {account: 0 for account in known}
    model[Account(_owner("alice"))] = ALICE_START
    init = LedgerInit(
        name="T", symbol="T", transfer_fee=FEE, minting_account=minting,
        initial_balances=((Account(_owner("alice")), ALICE_START),),
    )  # fmt: skip
    ledger = deploy_ledger(ic, init)
    supply, count = ALICE_START, 1
    for kind, source, target, amount in operations:
        if kind == "mint":
            to = Account(_owner(target[0]), target[1])
            result = transfer(ledger, minter, to=to, amount=amount)
            expected: Any = Ok(count)
            model[to] += amount
            supply += amount
        elif kind == "burn":
            owner, sub = _owner(source[0]), source[1]
            balance = model[Account(owner, sub)]
            result = transfer(ledger, owner, from_subaccount=sub, to=minting, amount=amount)
            if amount < min(FEE, balance):
                expected = Err(BadBurn(min(FEE, balance)))
            elif amount == 0:
                expected = Err(BadBurn(FEE))
            elif amount > balance:
                expected = Err(InsufficientFunds(balance))
            else:
                expected = Ok(count)
                model[Account(owner, sub)] -= amount
                supply -= amount
        else:
            owner, sub = _owner(source[0]), source[1]
            to = Account(_owner(target[0]), target[1])
            balance = model[Account(owner, sub)]
            result = transfer(ledger, owner, from_subaccount=sub, to=to, amount=amount)
            if amount + FEE > balance:
                expected = Err(InsufficientFunds(balance))
            else:
                expected = Ok(count)
                model[Account(owner, sub)] -= amount + FEE
                model[to] += amount
                supply -= FEE
        assert result == expected
        if isinstance(result, Ok):
            count += 1
        assert ledger.get_transaction_count() == count
        assert ledger.icrc1_total_supply() == supply == sum(model.values())
        assert ledger.icrc1_balance_of(minting) == 0
    assert {account: ledger.icrc1_balance_of(account) for account in known} == model


def test_a_mint_identical_to_a_genesis_mint_is_a_duplicate(
    ic: IC, ledger: CanisterProxy, minter: Principal, alice: Principal
) -> None:
    """Genesis mints carry the init time as created_at_time and are remembered for dedup."""
    genesis_time = ic.time
    count = ledger.get_transaction_count()
    again = TransferArgs(to=Account(alice), amount=10 * E8S, created_at_time=genesis_time)
    assert ledger.as_caller(minter).icrc1_transfer(again) == Err(Duplicate(0))
    assert ledger.get_transaction_count() == count
