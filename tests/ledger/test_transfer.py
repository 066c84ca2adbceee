"""icrc1_transfer between ordinary accounts (reference icrc.md §1.2, §2.1, §2.2, §2.4, §2.5, §2.12,
§2.13): balances and boundaries, fees and where they go, subaccounts, memos, block indices, the
anonymous principal, bad input and the recorded block."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from icto import (
    E8S,
    IC,
    Account,
    ApproveArgs,
    BadFee,
    Block,
    CallRejected,
    Err,
    InsufficientAllowance,
    InsufficientFunds,
    InvalidArguments,
    LedgerInit,
    Ok,
    Principal,
    RejectCode,
    TooOld,
    TransferArgs,
    TransferFromArgs,
    deploy_ledger,
)
from icto.ic.proxy import CanisterProxy
from tests.ledger.conftest import FEE
from tests.ledger.helpers import ALICE_START, BOB_START, SUB2, ZEROS, only_block, state, transfer

SUB1 = bytes(31) + b"\x01"
DAY_NS = 24 * 3600 * 10**9


# -- helpers ------------------------------------------------------------------------------------


def trapped(fn: Callable[..., Any], *args: Any) -> CallRejected:
    with pytest.raises(CallRejected) as info:
        fn(*args)
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert info.value.reject_code == 5
    return info.value


@pytest.fixture
def accounts(
    alice: Principal, bob: Principal, carol: Principal, minter: Principal
) -> list[Account]:
    return [
        Account(alice),
        Account(alice, SUB1),
        Account(alice, SUB2),
        Account(bob),
        Account(bob, SUB1),
        Account(carol),
        Account(minter),
        Account(Principal.anonymous()),
    ]


def make_ledger(ic: IC, minter: Principal, alice: Principal, **options: Any) -> CanisterProxy:
    """A ledger like the fixture's (Alice holds 10 tokens), with extra init options."""
    init = LedgerInit(
        name="Other Token",
        symbol="OTH",
        transfer_fee=FEE,
        minting_account=Account(minter),
        initial_balances=((Account(alice), ALICE_START),),
        **options,
    )
    return deploy_ledger(ic, init)


# -- exact boundary balances --------------------------------------------------------------------


@pytest.mark.parametrize("balance", [FEE, FEE + 1, 5 * FEE + 7, BOB_START])
def test_a_transfer_of_exactly_the_balance_minus_the_fee_succeeds_and_leaves_zero(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal, balance: int
) -> None:
    assert transfer(ledger, alice, to=Account(carol), amount=balance) == Ok(2)
    supply = ledger.icrc1_total_supply()
    assert transfer(ledger, carol, to=Account(bob), amount=balance - FEE) == Ok(3)
    assert ledger.icrc1_balance_of(Account(carol)) == 0
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + balance - FEE
    assert ledger.icrc1_total_supply() == supply - FEE


@pytest.mark.parametrize("balance", [FEE, FEE + 1, 5 * FEE + 7, BOB_START])
def test_one_unit_more_than_the_balance_gives_insufficient_funds_with_the_exact_balance(
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    accounts: list[Account],
    balance: int,
) -> None:
    assert transfer(ledger, alice, to=Account(carol), amount=balance) == Ok(2)
    before = state(ledger, accounts)
    result = transfer(ledger, carol, to=Account(bob), amount=balance - FEE + 1)
    assert result == Err(InsufficientFunds(balance=balance))
    assert state(ledger, accounts) == before
    assert transfer(ledger, carol, to=Account(bob), amount=balance - FEE) == Ok(3)


@pytest.mark.parametrize("balance", [1, FEE - 1])
def test_a_balance_below_the_fee_cannot_pay_even_a_zero_transfer(
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    accounts: list[Account],
    balance: int,
) -> None:
    assert transfer(ledger, alice, to=Account(carol), amount=balance) == Ok(2)
    before = state(ledger, accounts)
    result = transfer(ledger, carol, to=Account(bob), amount=0)
    assert result == Err(InsufficientFunds(balance=balance))
    assert state(ledger, accounts) == before


def test_an_account_that_never_held_tokens_has_insufficient_funds_zero(
    ledger: CanisterProxy, bob: Principal, carol: Principal, accounts: list[Account]
) -> None:
    before = state(ledger, accounts)
    assert transfer(ledger, carol, to=Account(bob), amount=1) == Err(InsufficientFunds(0))
    assert state(ledger, accounts) == before


def test_a_zero_amount_transfer_still_costs_the_fee(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    assert transfer(ledger, alice, to=Account(bob), amount=0) == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START
    assert ledger.icrc1_total_supply() == ALICE_START + BOB_START - FEE
    block = only_block(ledger, 2)
    assert (block.kind, block.amount, block.fee) == ("transfer", 0, FEE)


# -- the fee argument ---------------------------------------------------------------------------


@pytest.mark.parametrize("fee", [None, FEE])
def test_fee_left_out_or_given_as_the_ledger_fee_both_succeed_and_charge_the_fee(
    ledger: CanisterProxy, alice: Principal, bob: Principal, fee: int | None
) -> None:
    assert transfer(ledger, alice, to=Account(bob), amount=5 * E8S, fee=fee) == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - 5 * E8S - FEE
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + 5 * E8S
    assert only_block(ledger, 2).fee == FEE


@pytest.mark.parametrize("fee", [0, 1, FEE - 1, FEE + 1, 2 * FEE, E8S])
def test_any_other_fee_is_bad_fee_with_the_expected_fee_and_changes_nothing(
    ledger: CanisterProxy, alice: Principal, bob: Principal, accounts: list[Account], fee: int
) -> None:
    before = state(ledger, accounts)
    result = transfer(ledger, alice, to=Account(bob), amount=E8S, fee=fee)
    assert result == Err(BadFee(expected_fee=FEE))
    assert state(ledger, accounts) == before
    assert transfer(ledger, alice, to=Account(bob), amount=E8S) == Ok(2)


def test_icrc1_fee_reports_the_fee_that_transfers_charge(ledger: CanisterProxy) -> None:
    assert ledger.icrc1_fee() == FEE


def test_bad_fee_is_reported_before_insufficient_funds(
    ledger: CanisterProxy, bob: Principal, carol: Principal, accounts: list[Account]
) -> None:
    """Rust order (§2.12): the fee is checked (step 3) before the balance (step 6)."""
    before = state(ledger, accounts)
    result = transfer(ledger, carol, to=Account(bob), amount=E8S, fee=1)
    assert result == Err(BadFee(expected_fee=FEE))
    assert state(ledger, accounts) == before


def test_bad_fee_is_reported_before_the_time_checks(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, accounts: list[Account]
) -> None:
    """Rust order (§2.12): fee validation (step 3) precedes TooOld (step 4)."""
    ic.advance_time(seconds=2 * 24 * 3600)
    old = ic.time - DAY_NS - 1
    before = state(ledger, accounts)
    result = transfer(ledger, alice, to=Account(bob), amount=1, fee=0, created_at_time=old)
    assert result == Err(BadFee(expected_fee=FEE))
    result = transfer(ledger, alice, to=Account(bob), amount=1, created_at_time=old)
    assert result == Err(TooOld())
    assert state(ledger, accounts) == before


def test_too_old_is_reported_before_insufficient_funds(
    ic: IC, ledger: CanisterProxy, bob: Principal, carol: Principal, accounts: list[Account]
) -> None:
    """Rust order (§2.12): time checks (step 4) precede the balance check (step 6)."""
    ic.advance_time(seconds=2 * 24 * 3600)
    before = state(ledger, accounts)
    result = transfer(ledger, carol, to=Account(bob), amount=1, created_at_time=0)
    assert result == Err(TooOld())
    assert state(ledger, accounts) == before


# -- effects on balances and supply -------------------------------------------------------------


@pytest.mark.parametrize("amount", [1, FEE, 3 * E8S, ALICE_START - FEE])
def test_a_transfer_debits_amount_plus_fee_credits_amount_and_burns_the_fee(
    ledger: CanisterProxy, alice: Principal, bob: Principal, minter: Principal, amount: int
) -> None:
    assert transfer(ledger, alice, to=Account(bob), amount=amount) == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - amount - FEE
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + amount
    assert ledger.icrc1_total_supply() == ALICE_START + BOB_START - FEE
    assert ledger.icrc1_balance_of(Account(minter)) == 0


def test_fees_accumulate_as_burned_supply_over_several_transfers(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    quarter, eighth = E8S // 4, E8S // 8
    moves = [(alice, bob, quarter), (bob, carol, quarter), (carol, alice, eighth),
             (alice, carol, quarter)]  # fmt: skip
    for index, (sender, receiver, amount) in enumerate(moves, start=2):
        assert transfer(ledger, sender, to=Account(receiver), amount=amount) == Ok(index)
    assert ledger.icrc1_total_supply() == ALICE_START + BOB_START - 4 * FEE
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - 3 * eighth - 2 * FEE
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START - FEE
    assert ledger.icrc1_balance_of(Account(carol)) == 3 * eighth - FEE


def test_with_a_fee_collector_the_fee_goes_to_it_and_the_supply_is_unchanged(
    ic: IC, minter: Principal, alice: Principal, bob: Principal, carol: Principal
) -> None:
    ledger = make_ledger(ic, minter, alice, fee_collector=Account(carol))
    assert transfer(ledger, alice, to=Account(bob), amount=E8S) == Ok(1)
    assert transfer(ledger, alice, to=Account(bob), amount=0) == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - E8S - 2 * FEE
    assert ledger.icrc1_balance_of(Account(bob)) == E8S
    assert ledger.icrc1_balance_of(Account(carol)) == 2 * FEE
    assert ledger.icrc1_total_supply() == ALICE_START
    assert only_block(ledger, 1).fee == FEE


def test_a_fee_collector_on_a_subaccount_receives_on_that_subaccount_only(
    ic: IC, minter: Principal, alice: Principal, bob: Principal, carol: Principal
) -> None:
    ledger = make_ledger(ic, minter, alice, fee_collector=Account(carol, SUB1))
    assert transfer(ledger, alice, to=Account(bob), amount=E8S) == Ok(1)
    assert ledger.icrc1_balance_of(Account(carol, SUB1)) == FEE
    assert ledger.icrc1_balance_of(Account(carol)) == 0
    assert ledger.icrc1_total_supply() == ALICE_START


def test_the_fee_collectors_own_transfer_pays_its_fee_back_to_itself(
    ic: IC, minter: Principal, alice: Principal, bob: Principal, carol: Principal
) -> None:
    ledger = make_ledger(ic, minter, alice, fee_collector=Account(carol))
    assert transfer(ledger, alice, to=Account(carol), amount=E8S) == Ok(1)
    assert transfer(ledger, carol, to=Account(bob), amount=E8S // 2) == Ok(2)
    assert ledger.icrc1_balance_of(Account(carol)) == E8S + FEE - E8S // 2
    assert ledger.icrc1_balance_of(Account(bob)) == E8S // 2
    assert ledger.icrc1_total_supply() == ALICE_START


def test_a_failed_transfer_pays_nothing_to_the_fee_collector(
    ic: IC, minter: Principal, alice: Principal, bob: Principal, carol: Principal
) -> None:
    ledger = make_ledger(ic, minter, alice, fee_collector=Account(carol))
    result = transfer(ledger, alice, to=Account(bob), amount=ALICE_START)
    assert result == Err(InsufficientFunds(ALICE_START))
    assert transfer(ledger, alice, to=Account(bob), amount=1, fee=1) == Err(BadFee(FEE))
    assert ledger.icrc1_balance_of(Account(carol)) == 0
    assert ledger.icrc1_total_supply() == ALICE_START
    assert ledger.get_transaction_count() == 1


@pytest.mark.parametrize("subaccount", [None, ZEROS], ids=["null", "32-zeros"])
def test_the_fee_collector_cannot_be_the_minting_account(
    ic: IC, minter: Principal, alice: Principal, subaccount: bytes | None
) -> None:
    """Install traps (RUST, §4.8); deploy raises and leaves no canister behind."""
    before = ic.snapshot()
    with pytest.raises(CallRejected) as info:
        make_ledger(ic, minter, alice, fee_collector=Account(minter, subaccount))
    err = info.value
    assert err.reject_code is RejectCode.CANISTER_ERROR
    assert "fee collector" in err.message
    assert ic.snapshot() is before


def test_a_fee_collector_owned_by_the_minter_principal_on_another_subaccount_is_allowed(
    ic: IC, minter: Principal, alice: Principal, bob: Principal
) -> None:
    ledger = make_ledger(ic, minter, alice, fee_collector=Account(minter, SUB1))
    assert transfer(ledger, alice, to=Account(bob), amount=E8S) == Ok(1)
    assert ledger.icrc1_balance_of(Account(minter, SUB1)) == FEE
    assert ledger.icrc1_total_supply() == ALICE_START


# -- subaccounts --------------------------------------------------------------------------------


def test_from_subaccount_selects_the_source_account(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    assert transfer(ledger, alice, to=Account(alice, SUB1), amount=2 * E8S) == Ok(2)
    assert transfer(ledger, alice, from_subaccount=SUB1, to=Account(bob), amount=E8S) == Ok(3)
    assert ledger.icrc1_balance_of(Account(alice, SUB1)) == E8S - FEE
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - 2 * E8S - FEE
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + E8S
    assert only_block(ledger, 3).from_ == Account(alice, SUB1)


def test_an_empty_subaccount_has_no_funds_even_if_the_default_one_has(
    ledger: CanisterProxy, alice: Principal, bob: Principal, accounts: list[Account]
) -> None:
    before = state(ledger, accounts)
    result = transfer(ledger, alice, from_subaccount=SUB2, to=Account(bob), amount=1)
    assert result == Err(InsufficientFunds(0))
    assert state(ledger, accounts) == before


def test_from_subaccount_of_32_zero_bytes_is_the_default_account(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    assert transfer(ledger, alice, from_subaccount=ZEROS, to=Account(bob), amount=E8S) == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - E8S - FEE
    assert ledger.icrc1_balance_of(Account(alice, ZEROS)) == ALICE_START - E8S - FEE


def test_null_and_32_zero_subaccount_name_the_same_balance(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    assert ledger.icrc1_balance_of(Account(alice, ZEROS)) == ALICE_START
    assert transfer(ledger, alice, to=Account(bob, ZEROS), amount=E8S) == Ok(2)
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + E8S
    assert ledger.icrc1_balance_of(Account(bob, ZEROS)) == BOB_START + E8S


def test_the_block_keeps_the_destination_as_given(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """ledger.md: block accounts are as the caller gave them (32 zeros stay 32 zeros)."""
    assert transfer(ledger, alice, to=Account(bob, ZEROS), amount=E8S) == Ok(2)
    assert only_block(ledger, 2).to.subaccount == ZEROS


def test_subaccounts_of_one_owner_have_separate_balances(
    ledger: CanisterProxy, alice: Principal
) -> None:
    assert transfer(ledger, alice, to=Account(alice, SUB1), amount=3 * E8S) == Ok(2)
    assert transfer(ledger, alice, to=Account(alice, SUB2), amount=E8S) == Ok(3)
    assert ledger.icrc1_balance_of(Account(alice, SUB1)) == 3 * E8S
    assert ledger.icrc1_balance_of(Account(alice, SUB2)) == E8S
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - 4 * E8S - 2 * FEE
    assert transfer(ledger, alice, from_subaccount=SUB2, to=Account(alice, SUB1), amount=0) == Ok(4)
    assert ledger.icrc1_balance_of(Account(alice, SUB1)) == 3 * E8S
    assert ledger.icrc1_balance_of(Account(alice, SUB2)) == E8S - FEE


@pytest.mark.parametrize("to_subaccount", [None, ZEROS], ids=["null", "32-zeros"])
@pytest.mark.parametrize("amount", [0, E8S])
def test_a_self_transfer_costs_the_fee_only(
    ledger: CanisterProxy, alice: Principal, to_subaccount: bytes | None, amount: int
) -> None:
    assert transfer(ledger, alice, to=Account(alice, to_subaccount), amount=amount) == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE
    assert ledger.icrc1_total_supply() == ALICE_START + BOB_START - FEE


def test_a_self_transfer_needs_amount_plus_fee(
    ledger: CanisterProxy, alice: Principal, accounts: list[Account]
) -> None:
    before = state(ledger, accounts)
    result = transfer(ledger, alice, to=Account(alice), amount=ALICE_START - FEE + 1)
    assert result == Err(InsufficientFunds(ALICE_START))
    assert state(ledger, accounts) == before
    assert transfer(ledger, alice, to=Account(alice), amount=ALICE_START - FEE) == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE


# -- memo ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("memo", [b"", b"\x00", bytes(range(32)), b"\xff" * 32])
def test_memos_up_to_the_maximum_length_are_accepted_and_recorded(
    ledger: CanisterProxy, alice: Principal, bob: Principal, memo: bytes
) -> None:
    assert transfer(ledger, alice, to=Account(bob), amount=E8S, memo=memo) == Ok(2)
    assert only_block(ledger, 2).memo == memo
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + E8S


def test_an_empty_memo_is_recorded_as_empty_not_as_none(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    assert transfer(ledger, alice, to=Account(bob), amount=1, memo=b"") == Ok(2)
    assert transfer(ledger, alice, to=Account(bob), amount=1) == Ok(3)
    assert only_block(ledger, 2).memo == b""
    assert only_block(ledger, 3).memo is None


@pytest.mark.parametrize("length", [33, 64, 1000])
def test_a_memo_longer_than_the_maximum_traps_and_consumes_nothing(
    ledger: CanisterProxy, alice: Principal, bob: Principal, accounts: list[Account], length: int
) -> None:
    before = state(ledger, accounts)
    args = TransferArgs(to=Account(bob), amount=E8S, memo=b"m" * length)
    err = trapped(ledger.as_caller(alice).icrc1_transfer, args)
    assert "memo" in err.message
    assert state(ledger, accounts) == before
    assert transfer(ledger, alice, to=Account(bob), amount=E8S, memo=b"m" * 32) == Ok(2)


def test_a_too_long_memo_traps_before_the_fee_and_funds_are_checked(
    ledger: CanisterProxy, bob: Principal, carol: Principal, accounts: list[Account]
) -> None:
    """Rust order (§2.12): the memo length is step 1, before BadFee and InsufficientFunds."""
    before = state(ledger, accounts)
    args = TransferArgs(to=Account(bob), amount=E8S, fee=1, memo=bytes(33))
    trapped(ledger.as_caller(carol).icrc1_transfer, args)
    assert state(ledger, accounts) == before


@pytest.mark.parametrize(("length", "accepted"), [(63, True), (64, True), (65, False)])
def test_a_ledger_with_max_memo_length_64_accepts_up_to_64_bytes(
    ic: IC,
    minter: Principal,
    alice: Principal,
    bob: Principal,
    accounts: list[Account],
    length: int,
    accepted: bool,
) -> None:
    ledger = make_ledger(ic, minter, alice, max_memo_length=64)
    args = TransferArgs(to=Account(bob), amount=E8S, memo=b"x" * length)
    if accepted:
        assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(1)
        assert only_block(ledger, 1).memo == b"x" * length
        assert ledger.icrc1_balance_of(Account(bob)) == E8S
    else:
        before = state(ledger, accounts)
        trapped(ledger.as_caller(alice).icrc1_transfer, args)
        assert state(ledger, accounts) == before


# -- block indices ------------------------------------------------------------------------------


def test_each_success_returns_the_transaction_count_before_it(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    pairs = [(alice, bob), (bob, carol), (alice, carol), (carol, alice), (alice, alice)]
    for sender, receiver in pairs:
        count = ledger.get_transaction_count()
        assert transfer(ledger, sender, to=Account(receiver), amount=E8S // 10) == Ok(count)
        assert ledger.get_transaction_count() == count + 1
    assert ledger.get_transaction_count() == 2 + len(pairs)
    assert len(ledger.get_blocks(0, 100)) == 2 + len(pairs)


def test_failed_and_trapped_transfers_leave_no_gap_in_the_indices(
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    accounts: list[Account],
) -> None:
    assert transfer(ledger, alice, to=Account(bob), amount=1) == Ok(2)
    before = state(ledger, accounts)
    assert transfer(ledger, carol, to=Account(bob), amount=1) == Err(InsufficientFunds(0))
    assert transfer(ledger, alice, to=Account(bob), amount=1, fee=0) == Err(BadFee(FEE))
    trapped(
        ledger.as_caller(alice).icrc1_transfer,
        TransferArgs(to=Account(bob), amount=1, memo=bytes(40)),
    )
    assert state(ledger, accounts) == before
    assert transfer(ledger, alice, to=Account(bob), amount=1) == Ok(3)
    assert [block.kind for block in ledger.get_blocks(0, 10)] == [
        "mint",
        "mint",
        "transfer",
        "transfer",
    ]


def test_queries_consume_no_block_index(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    for _ in range(3):
        ledger.icrc1_balance_of(Account(alice))
        ledger.icrc1_total_supply()
        ledger.get_blocks(0, 5)
    assert transfer(ledger, alice, to=Account(bob), amount=1) == Ok(2)


# -- the anonymous principal --------------------------------------------------------------------


def test_the_anonymous_principal_can_receive_and_transfer(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """RUST accepts the anonymous principal as owner and sender (§2.1, test_anonymous_transfers)."""
    anonymous = Principal.anonymous()
    assert transfer(ledger, alice, to=Account(anonymous), amount=E8S) == Ok(2)
    assert ledger.icrc1_balance_of(Account(anonymous)) == E8S
    assert transfer(ledger, anonymous, to=Account(bob), amount=E8S // 2) == Ok(3)
    assert ledger.icrc1_balance_of(Account(anonymous)) == E8S - E8S // 2 - FEE
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + E8S // 2
    assert only_block(ledger, 3).from_ == Account(anonymous)


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"amount": -1}, ValueError),
        ({"amount": "100"}, TypeError),
        ({"amount": 1.0}, TypeError),
        ({"amount": True}, TypeError),
        ({"amount": None}, TypeError),
        ({"from_subaccount": bytes(31)}, ValueError),
        ({"from_subaccount": bytes(33)}, ValueError),
        ({"from_subaccount": bytearray(32)}, TypeError),
        ({"fee": -1}, ValueError),
        ({"fee": "10000"}, TypeError),
        ({"memo": "text"}, TypeError),
        ({"created_at_time": -1}, ValueError),
        ({"created_at_time": 2**64}, ValueError),
        ({"to": "bob"}, TypeError),
    ],
    ids=lambda value: repr(value) if isinstance(value, dict) else value.__name__,
)
def test_malformed_transfer_args_are_refused_at_the_call_site(
    ledger: CanisterProxy,
    bob: Principal,
    accounts: list[Account],
    fields: dict[str, Any],
    error: type[Exception],
) -> None:
    before = state(ledger, accounts)
    args = {"to": Account(bob), "amount": 1, **fields}
    with pytest.raises(error):
        TransferArgs(**args)
    assert state(ledger, accounts) == before


@pytest.mark.parametrize(
    ("record", "fields"),
    [
        (TransferArgs, {"amount": -5}),
        (TransferArgs, {"amount": 1, "fee": -1}),
        (ApproveArgs, {"amount": -1}),
        (ApproveArgs, {"amount": 1, "expected_allowance": -1}),
        (TransferFromArgs, {"amount": -5}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else repr(value),
)
def test_amounts_are_checked_even_with_attrs_validators_switched_off(
    bob: Principal, carol: Principal, record: Any, fields: dict[str, Any]
) -> None:
    """``attrs.validators.set_disabled(True)`` is a global switch a benchmark may flip; the
    ledger's argument records carry money, so they refuse a negative amount regardless."""
    parties = {"spender": Account(carol)} if record is ApproveArgs else {"to": Account(carol)}
    if record is TransferFromArgs:
        parties["from_"] = Account(bob)
    with attrs.validators.disabled(), pytest.raises(ValueError):
        record(**parties, **fields)


def built_around_validators(record: Any, **fields: Any) -> Any:
    """A ``record`` instance with ``fields`` stored as given, no validator run (a hostile caller
    can send such a record through the router: only its class is checked there)."""
    built = object.__new__(record)
    for field in attrs.fields(record):
        object.__setattr__(built, field.name, fields.get(field.name, field.default))
    return built


@pytest.mark.parametrize(
    ("method", "record", "fields"),
    [
        ("icrc1_transfer", TransferArgs, {"amount": -5_000_000}),
        ("icrc1_transfer", TransferArgs, {"amount": 2.5}),
        ("icrc2_transfer_from", TransferFromArgs, {"amount": -5}),
        ("icrc2_approve", ApproveArgs, {"amount": -1}),
    ],
    ids=["transfer-negative", "transfer-float", "transfer-from-negative", "approve-negative"],
)
def test_an_amount_that_is_no_nat_traps_in_the_ledger_and_changes_nothing(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, accounts: list[Account],
    method: str, record: Any, fields: dict[str, Any],
) -> None:  # fmt: skip
    """The ledger checks amounts itself: a negative amount would move money the wrong way and
    leave a negative balance."""
    parties: dict[str, Any] = {"to": Account(alice)}
    if record is TransferFromArgs:
        parties["from_"] = Account(bob)
    if record is ApproveArgs:
        parties = {"spender": Account(alice)}
    args = built_around_validators(record, **parties, **fields)
    before = (state(ledger, accounts), ic.state_of(ledger.id))
    with pytest.raises(CallRejected) as refusal:
        getattr(ledger.as_caller(bob), method)(args)
    assert refusal.value.error_code == "IC0503" and "amount must be a nat" in refusal.value.message
    assert (state(ledger, accounts), ic.state_of(ledger.id)) == before


def test_to_must_be_an_account_not_a_principal(
    ledger: CanisterProxy, bob: Principal, accounts: list[Account]
) -> None:
    before = state(ledger, accounts)
    with pytest.raises(TypeError):
        TransferArgs(to=bob, amount=1)  # type: ignore[arg-type]
    assert state(ledger, accounts) == before


@pytest.mark.parametrize("length", [31, 33, 0])
def test_a_destination_subaccount_of_the_wrong_length_is_refused(
    ledger: CanisterProxy, bob: Principal, accounts: list[Account], length: int
) -> None:
    before = state(ledger, accounts)
    with pytest.raises(ValueError):
        Account(bob, bytes(length))
    assert state(ledger, accounts) == before


@pytest.mark.parametrize(
    "argument",
    [{"to": "bob", "amount": 1}, None, 5],
    ids=["dict", "none", "int"],
)
def test_an_argument_that_is_not_transfer_args_is_rejected_and_changes_nothing(
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    accounts: list[Account],
    argument: Any,
) -> None:
    before = state(ledger, accounts)
    with pytest.raises(InvalidArguments) as info:
        ledger.as_caller(alice).icrc1_transfer(argument)
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert state(ledger, accounts) == before
    assert transfer(ledger, alice, to=Account(bob), amount=1) == Ok(2)


# -- the recorded block -------------------------------------------------------------------------


@pytest.mark.parametrize("fee", [None, FEE])
def test_the_block_records_the_transfer_as_made(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, fee: int | None
) -> None:
    ic.advance_time(seconds=90)
    created = ic.time - 5 * 10**9
    result = transfer(
        ledger,
        alice,
        from_subaccount=None,
        to=Account(bob, SUB1),
        amount=12_345,
        fee=fee,
        memo=b"invoice 42",
        created_at_time=created,
    )
    assert result == Ok(2)
    assert only_block(ledger, 2) == Block(
        kind="transfer",
        timestamp=ic.time,
        amount=12_345,
        from_=Account(alice),
        to=Account(bob, SUB1),
        spender=None,
        fee=FEE,
        memo=b"invoice 42",
        created_at_time=created,
    )


def test_block_timestamps_follow_the_ledger_clock(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    genesis = ic.time
    ic.advance_time(seconds=10)
    assert transfer(ledger, alice, to=Account(bob), amount=1) == Ok(2)
    first = ic.time
    ic.advance_time(minutes=3)
    assert transfer(ledger, alice, to=Account(bob), amount=1) == Ok(3)
    assert [b.timestamp for b in ledger.get_blocks(0, 4)] == [genesis, genesis, first, ic.time]
    assert first == genesis + 10 * 10**9
    assert ic.time == first + 180 * 10**9


def test_a_block_without_memo_or_created_at_time_records_none(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    assert transfer(ledger, alice, to=Account(bob), amount=7) == Ok(2)
    block = only_block(ledger, 2)
    assert (block.memo, block.created_at_time, block.spender) == (None, None, None)


def test_on_a_fee_0_ledger_an_empty_account_cannot_move_even_0(
    ic: IC, minter: Principal, alice: Principal, bob: Principal, carol: Principal
) -> None:
    """The production ledger debits only an account it has a balance for: a 0-amount transfer
    (or transfer_from) out of an empty account, free on a fee-0 ledger, is
    ``InsufficientFunds(0)`` and records nothing; one out of a funded account goes through. A
    transfer_from of 0 with no approval at all is ``InsufficientAllowance(0)`` (it trapped)."""
    init = LedgerInit(
        name="Free", symbol="FRE", transfer_fee=0, minting_account=Account(minter),
        initial_balances=((Account(alice), 5),),
    )  # fmt: skip
    free = deploy_ledger(ic, init, caller=minter)
    before = ic.state_of(free.id)
    nothing = TransferArgs(to=Account(bob), amount=0)
    assert free.as_caller(carol).icrc1_transfer(nothing) == Err(InsufficientFunds(0))
    pulled = TransferFromArgs(from_=Account(carol), to=Account(bob), amount=0)
    assert free.as_caller(bob).icrc2_transfer_from(pulled) == Err(InsufficientAllowance(0))
    assert ic.state_of(free.id) == before
    free.as_caller(carol).icrc2_approve(ApproveArgs(spender=Account(bob), amount=5)).unwrap()
    approved = ic.state_of(free.id)
    assert free.as_caller(bob).icrc2_transfer_from(pulled) == Err(InsufficientFunds(0))
    assert ic.state_of(free.id) == approved
    assert free.as_caller(alice).icrc1_transfer(nothing).is_ok
