"""``icrc2_transfer_from``: spending an allowance, self transfer_from, burns through an allowance,
traps, fees and blocks (icrc.md §1.3, §1.4, §2.3, §2.9, §2.12, §2.13, §4 items 1, 3, 5, 7, 8)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icto import (
    E8S,
    IC,
    TX_WINDOW_NS,
    Account,
    Allowance,
    ApproveArgs,
    BadBurn,
    BadFee,
    Block,
    Err,
    InsufficientAllowance,
    InsufficientFunds,
    LedgerInit,
    Ok,
    Principal,
    TooOld,
    TransferArgs,
    TransferFromArgs,
    deploy_ledger,
)
from icto.ic.proxy import CanisterProxy
from tests.ledger.conftest import FEE
from tests.ledger.helpers import (
    ALICE_START,
    BOB_START,
    SUB,
    SUB2,
    SUPPLY_START,
    ZEROS,
    allowance_of,
    approve,
    books,
    fund,
    rejected,
)

# -- helpers ------------------------------------------------------------------------------------


# -- the basic movement -------------------------------------------------------------------------


def test_transfer_from_moves_amount_charges_from_and_spends_amount_plus_fee_of_the_allowance(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    approve(ledger, alice, Account(bob), 3 * E8S)  # block 2
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=E8S)
    )
    assert result == Ok(3)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE - (E8S + FEE)
    assert ledger.icrc1_balance_of(Account(carol)) == E8S
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(2 * E8S - FEE, None)
    assert ledger.icrc1_total_supply() == SUPPLY_START - 2 * FEE


def test_the_spender_pays_nothing(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    approve(ledger, alice, Account(bob), 3 * E8S)
    assert (
        ledger.as_caller(bob)
        .icrc2_transfer_from(TransferFromArgs(from_=Account(alice), to=Account(carol), amount=E8S))
        .is_ok
    )
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START


def test_the_spender_may_send_to_itself(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), 3 * E8S)
    assert ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(bob), amount=E8S)
    ) == Ok(3)
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + E8S


def test_an_expiry_survives_partial_use(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    expiry = ic.time + 10**12
    approve(ledger, alice, Account(bob), 3 * E8S, expires_at=expiry)
    assert (
        ledger.as_caller(bob)
        .icrc2_transfer_from(TransferFromArgs(from_=Account(alice), to=Account(carol), amount=E8S))
        .is_ok
    )
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(2 * E8S - FEE, expiry)


@pytest.mark.parametrize("expiring", [False, True])
def test_an_allowance_of_exactly_amount_plus_fee_is_enough_and_disappears(
    ic: IC,
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    expiring: bool,
) -> None:
    """icrc.md §2.9 / §4 item 6: an allowance used down to 0 is deleted, expiry included."""
    approve(
        ledger, alice, Account(bob), E8S + FEE, expires_at=ic.time + 10**12 if expiring else None
    )
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=E8S)
    )
    assert result == Ok(3)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(0, None)
    assert ledger.icrc1_balance_of(Account(carol)) == E8S


@pytest.mark.parametrize("short_by", [1, FEE, E8S + FEE - 1])
def test_an_allowance_short_of_amount_plus_fee_is_insufficient_allowance_and_changes_nothing(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal, short_by: int
) -> None:
    allowed = E8S + FEE - short_by
    approve(ledger, alice, Account(bob), allowed)
    accounts = [Account(alice), Account(bob), Account(carol)]
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, accounts, pairs)
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=E8S)
    )
    assert result == Err(InsufficientAllowance(allowance=allowed))
    assert books(ledger, accounts, pairs) == before


def test_without_any_approval_the_allowance_is_zero(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    before = books(ledger, [Account(alice), Account(carol)])
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1)
    )
    assert result == Err(InsufficientAllowance(allowance=0))
    assert books(ledger, [Account(alice), Account(carol)]) == before


def test_the_allowance_is_checked_before_the_funds(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    """Both the allowance (1 token) and Alice's funds are too small for 20 tokens."""
    approve(ledger, alice, Account(bob), E8S)
    before = books(ledger, [Account(alice), Account(carol)], [(Account(alice), Account(bob))])
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=20 * E8S)
    )
    assert result == Err(InsufficientAllowance(allowance=E8S))
    assert (
        books(ledger, [Account(alice), Account(carol)], [(Account(alice), Account(bob))]) == before
    )


@pytest.mark.parametrize("extra", [1, FEE, E8S])
def test_sufficient_allowance_but_insufficient_funds_is_insufficient_funds(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal, extra: int
) -> None:
    approve(ledger, alice, Account(bob), 100 * E8S)
    balance = ALICE_START - FEE
    amount = balance - FEE + extra  # amount + fee exceeds the balance by `extra`
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, [Account(alice), Account(carol)], pairs)
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=amount)
    )
    assert result == Err(InsufficientFunds(balance=balance))
    assert books(ledger, [Account(alice), Account(carol)], pairs) == before
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(100 * E8S, None)


def test_the_whole_balance_can_be_spent(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    approve(ledger, alice, Account(bob), 100 * E8S)
    amount = ALICE_START - 2 * FEE
    assert ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=amount)
    ) == Ok(3)
    assert ledger.icrc1_balance_of(Account(alice)) == 0


# -- expiry -------------------------------------------------------------------------------------


@pytest.mark.parametrize("advance", [10, 11, 10**9])
def test_an_expired_approval_is_insufficient_allowance_zero(
    ic: IC,
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    advance: int,
) -> None:
    """icrc.md §2.10: an approval with expires_at == now is already expired."""
    approve(ledger, alice, Account(bob), 5 * E8S, expires_at=ic.time + 10)
    ic.advance_time(nanos=advance)
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, [Account(alice), Account(carol)], pairs)
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1)
    )
    assert result == Err(InsufficientAllowance(allowance=0))
    assert books(ledger, [Account(alice), Account(carol)], pairs) == before


def test_an_approval_one_nanosecond_before_expiry_is_still_usable(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    approve(ledger, alice, Account(bob), 5 * E8S, expires_at=ic.time + 10)
    ic.advance_time(nanos=9)
    assert ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1)
    ) == Ok(3)


# -- who is the spender -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_sub", "spender_sub"),
    [(None, None), (ZEROS, None), (None, ZEROS), (ZEROS, ZEROS), (SUB, SUB)],
    ids=["none-none", "zeros-none", "none-zeros", "zeros-zeros", "sub-sub"],
)
def test_spending_from_ones_own_spender_account_needs_no_allowance(
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    from_sub: bytes | None,
    spender_sub: bytes | None,
) -> None:
    """icrc.md §2.9 / §4 item 7: from == spender account (normalised) moves funds like a transfer
    and touches no allowance."""
    fund(ledger, alice, Account(alice, SUB), 2 * E8S)  # block 2
    approve(ledger, alice, Account(bob), 777)  # block 3
    source = Account(alice, from_sub)
    start = ledger.icrc1_balance_of(source)
    result = ledger.as_caller(alice).icrc2_transfer_from(
        TransferFromArgs(
            from_=source, to=Account(carol), amount=E8S // 2, spender_subaccount=spender_sub
        )
    )
    assert result == Ok(4)
    assert ledger.icrc1_balance_of(source) == start - E8S // 2 - FEE
    assert ledger.icrc1_balance_of(Account(carol)) == E8S // 2
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(777, None)
    assert allowance_of(ledger, source, Account(alice, spender_sub)) == Allowance(0, None)


@pytest.mark.parametrize(
    ("from_sub", "spender_sub"),
    [(SUB, None), (None, SUB), (SUB, SUB2)],
    ids=["from-sub", "spender-sub", "two-subs"],
)
def test_spending_from_ones_other_subaccount_is_insufficient_allowance_zero(
    ledger: CanisterProxy,
    alice: Principal,
    carol: Principal,
    from_sub: bytes | None,
    spender_sub: bytes | None,
) -> None:
    """Self transfer_from is decided by full account equality, not by principal; and an
    allowance to one's own subaccount cannot exist (self-approval traps)."""
    fund(ledger, alice, Account(alice, SUB), 2 * E8S)
    accounts = [Account(alice), Account(alice, SUB), Account(alice, SUB2), Account(carol)]
    before = books(ledger, accounts)
    result = ledger.as_caller(alice).icrc2_transfer_from(
        TransferFromArgs(
            from_=Account(alice, from_sub),
            to=Account(carol),
            amount=1,
            spender_subaccount=spender_sub,
        )
    )
    assert result == Err(InsufficientAllowance(allowance=0))
    assert books(ledger, accounts) == before


def test_an_approval_for_the_default_spender_cannot_be_used_from_another_spender_subaccount(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    approve(ledger, alice, Account(bob), 5 * E8S)
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, [Account(alice), Account(carol)], pairs)
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1, spender_subaccount=SUB)
    )
    assert result == Err(InsufficientAllowance(allowance=0))
    assert books(ledger, [Account(alice), Account(carol)], pairs) == before


def test_an_approval_for_a_spender_subaccount_is_used_only_from_that_subaccount(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    approve(ledger, alice, Account(bob, SUB), 5 * E8S)
    as_bob = ledger.as_caller(bob)
    assert as_bob.icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1)
    ) == Err(InsufficientAllowance(allowance=0))
    assert as_bob.icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1, spender_subaccount=SUB)
    ) == Ok(3)
    assert allowance_of(ledger, Account(alice), Account(bob, SUB)) == Allowance(
        5 * E8S - 1 - FEE, None
    )


@pytest.mark.parametrize("approved_as", [None, ZEROS])
@pytest.mark.parametrize("spender_subaccount", [None, ZEROS])
def test_spender_subaccount_none_and_zeros_use_the_default_spender_allowance(
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    approved_as: bytes | None,
    spender_subaccount: bytes | None,
) -> None:
    approve(ledger, alice, Account(bob, approved_as), 5 * E8S)
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(
            from_=Account(alice),
            to=Account(carol),
            amount=E8S,
            spender_subaccount=spender_subaccount,
        )
    )
    assert result == Ok(3)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(4 * E8S - FEE, None)


def test_from_given_with_zeros_uses_the_default_accounts_allowance_and_balance(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    approve(ledger, alice, Account(bob), 5 * E8S)
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice, ZEROS), to=Account(carol), amount=E8S)
    )
    assert result == Ok(3)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE - E8S - FEE
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(4 * E8S - FEE, None)


def test_allowances_are_not_transitive(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    """Alice approves Bob, Bob approves Carol: Carol still cannot spend Alice's tokens."""
    approve(ledger, alice, Account(bob), 5 * E8S)  # block 2
    approve(ledger, bob, Account(carol), 5 * E8S)  # block 3
    accounts = [Account(alice), Account(bob), Account(carol)]
    pairs = [(Account(alice), Account(bob)), (Account(bob), Account(carol))]
    before = books(ledger, accounts, pairs)
    result = ledger.as_caller(carol).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1)
    )
    assert result == Err(InsufficientAllowance(allowance=0))
    assert books(ledger, accounts, pairs) == before
    # Carol's own approval (from Bob) works
    assert ledger.as_caller(carol).icrc2_transfer_from(
        TransferFromArgs(from_=Account(bob), to=Account(carol), amount=1)
    ) == Ok(4)


def test_an_approval_from_a_subaccount_covers_only_that_subaccount(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    fund(ledger, alice, Account(alice, SUB), 2 * E8S)  # block 2
    approve(ledger, alice, Account(bob), 5 * E8S, from_subaccount=SUB)  # block 3
    as_bob = ledger.as_caller(bob)
    assert as_bob.icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1)
    ) == Err(InsufficientAllowance(allowance=0))
    assert as_bob.icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice, SUB), to=Account(carol), amount=1)
    ) == Ok(4)
    assert ledger.icrc1_balance_of(Account(alice, SUB)) == 2 * E8S - FEE - 1 - FEE


# -- fees ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fee", [None, FEE])
def test_fee_may_be_omitted_or_given_exactly(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal, fee: int | None
) -> None:
    approve(ledger, alice, Account(bob), 5 * E8S)
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=E8S, fee=fee)
    )
    assert result == Ok(3)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE - E8S - FEE


@pytest.mark.parametrize("fee", [0, 1, FEE - 1, FEE + 1])
def test_a_wrong_fee_is_bad_fee_and_changes_nothing(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal, fee: int
) -> None:
    approve(ledger, alice, Account(bob), 5 * E8S)
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, [Account(alice), Account(carol)], pairs)
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=E8S, fee=fee)
    )
    assert result == Err(BadFee(expected_fee=FEE))
    assert books(ledger, [Account(alice), Account(carol)], pairs) == before


def test_transfer_from_fees_go_to_the_fee_collector(
    ic: IC, minter: Principal, alice: Principal, bob: Principal, carol: Principal, principal: Any
) -> None:
    collector = Account(principal("collector"))
    ledger = deploy_ledger(
        ic,
        LedgerInit(
            name="Collected",
            symbol="COL",
            transfer_fee=FEE,
            minting_account=Account(minter),
            initial_balances=((Account(alice), ALICE_START),),
            fee_collector=collector,
        ),
    )
    approve(ledger, alice, Account(bob), 5 * E8S)  # block 1, fee burned
    assert ledger.icrc1_total_supply() == ALICE_START - FEE
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=E8S)
    )
    assert result == Ok(2)
    assert ledger.icrc1_balance_of(collector) == FEE
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE - E8S - FEE
    assert ledger.icrc1_total_supply() == ALICE_START - FEE
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(4 * E8S - FEE, None)


# -- burns through an allowance -----------------------------------------------------------------


@pytest.mark.parametrize("fee", [None, 0])
def test_a_burn_via_transfer_from_spends_amount_only_from_allowance_and_supply(
    ledger: CanisterProxy,
    minter: Principal,
    alice: Principal,
    bob: Principal,
    fee: int | None,
) -> None:
    """icrc.md §2.3: to = minting account is a burn; the allowance must cover the amount only
    and is reduced by the amount only; no fee is charged."""
    approve(ledger, alice, Account(bob), E8S)  # exactly the amount
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(minter), amount=E8S, fee=fee)
    )
    assert result == Ok(3)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE - E8S
    assert ledger.icrc1_total_supply() == SUPPLY_START - FEE - E8S
    assert ledger.icrc1_balance_of(Account(minter)) == 0
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(0, None)


def test_a_burn_via_transfer_from_reduces_a_larger_allowance_by_the_amount(
    ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), 3 * E8S)
    assert (
        ledger.as_caller(bob)
        .icrc2_transfer_from(TransferFromArgs(from_=Account(alice), to=Account(minter), amount=E8S))
        .is_ok
    )
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(2 * E8S, None)


def test_a_burn_via_transfer_from_records_a_burn_block_with_the_spender(
    ic: IC, ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), 3 * E8S)
    assert ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(minter), amount=E8S)
    ) == Ok(3)
    (block,) = ledger.get_blocks(3, 1)
    assert (block.kind, block.amount, block.from_, block.to, block.spender, block.fee) == (
        "burn",
        E8S,
        Account(alice),
        None,
        Account(bob),
        None,
    )
    assert block.timestamp == ic.time


def test_a_burn_allowance_one_short_of_the_amount_is_insufficient_allowance(
    ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), E8S - 1)
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, [Account(alice)], pairs)
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(minter), amount=E8S)
    )
    assert result == Err(InsufficientAllowance(allowance=E8S - 1))
    assert books(ledger, [Account(alice)], pairs) == before


@pytest.mark.parametrize("fee", [1, FEE])
def test_a_burn_via_transfer_from_with_a_nonzero_fee_is_bad_fee_zero(
    ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal, fee: int
) -> None:
    approve(ledger, alice, Account(bob), 3 * E8S)
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, [Account(alice)], pairs)
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(minter), amount=E8S, fee=fee)
    )
    assert result == Err(BadFee(expected_fee=0))
    assert books(ledger, [Account(alice)], pairs) == before


@pytest.mark.parametrize("amount", [0, 1, FEE - 1])
def test_a_burn_via_transfer_from_below_the_fee_is_bad_burn(
    ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal, amount: int
) -> None:
    """min_burn_amount = min(fee, balance) = fee for Alice."""
    approve(ledger, alice, Account(bob), 3 * E8S)
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, [Account(alice)], pairs)
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(minter), amount=amount)
    )
    assert result == Err(BadBurn(min_burn_amount=FEE))
    assert books(ledger, [Account(alice)], pairs) == before


def test_a_burn_via_transfer_from_of_exactly_the_fee_is_allowed(
    ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), 3 * E8S)
    assert ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(minter), amount=FEE)
    ) == Ok(3)
    assert ledger.icrc1_total_supply() == SUPPLY_START - 2 * FEE


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (4_999, Err(BadBurn(min_burn_amount=5_000))),
        (5_000, Ok(4)),
        (5_001, Err(InsufficientFunds(balance=5_000))),
    ],
)
def test_the_minimum_burn_via_transfer_from_is_capped_by_a_small_balance(
    ledger: CanisterProxy,
    minter: Principal,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    amount: int,
    expected: Any,
) -> None:
    """Carol holds 5_000 (< fee) after approving: min_burn_amount = min(fee, 5_000)."""
    fund(ledger, alice, Account(carol), FEE + 5_000)  # block 2
    approve(ledger, carol, Account(bob), E8S)  # block 3
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(carol), to=Account(minter), amount=amount)
    )
    assert result == expected
    remaining = 0 if expected == Ok(4) else 5_000
    assert ledger.icrc1_balance_of(Account(carol)) == remaining


def test_a_zero_burn_from_an_empty_account_is_bad_burn_fee(
    ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal, carol: Principal
) -> None:
    """Carol's approval fee empties her account: min(fee, 0) = 0 passes, the zero burn is
    BadBurn(fee)."""
    fund(ledger, alice, Account(carol), FEE)
    approve(ledger, carol, Account(bob), E8S)
    before = books(ledger, [Account(carol)], [(Account(carol), Account(bob))])
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(carol), to=Account(minter), amount=0)
    )
    assert result == Err(BadBurn(min_burn_amount=FEE))
    assert books(ledger, [Account(carol)], [(Account(carol), Account(bob))]) == before


# -- traps --------------------------------------------------------------------------------------


@pytest.mark.parametrize("minter_sub", [None, ZEROS])
@pytest.mark.parametrize("caller_name", ["bob", "minter"])
def test_transfer_from_the_minting_account_traps_and_changes_nothing(
    ledger: CanisterProxy,
    principal: Any,
    minter: Principal,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    minter_sub: bytes | None,
    caller_name: str,
) -> None:
    """icrc.md §2.3: mints cannot be delegated, not even by the minter to itself."""
    accounts = [Account(minter), Account(carol), Account(alice), Account(bob)]
    before = books(ledger, accounts)
    err = rejected(
        ledger.as_caller(principal(caller_name)).icrc2_transfer_from,
        TransferFromArgs(from_=Account(minter, minter_sub), to=Account(carol), amount=E8S),
    )
    assert "cannot delegate mints" in err.message
    assert books(ledger, accounts) == before
    assert ledger.as_caller(alice).icrc1_transfer(TransferArgs(to=Account(carol), amount=1)) == Ok(
        2
    )


def test_transfer_from_the_minting_account_traps_even_with_a_wrong_fee(
    ledger: CanisterProxy, minter: Principal, bob: Principal, carol: Principal
) -> None:
    before = books(ledger, [Account(carol)])
    rejected(
        ledger.as_caller(bob).icrc2_transfer_from,
        TransferFromArgs(from_=Account(minter), to=Account(carol), amount=E8S, fee=FEE),
    )
    assert books(ledger, [Account(carol)]) == before


@pytest.mark.parametrize("length", [0, 32])
def test_memos_up_to_the_limit_are_accepted(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal, length: int
) -> None:
    approve(ledger, alice, Account(bob), 5 * E8S)
    assert ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1, memo=b"x" * length)
    ) == Ok(3)
    assert ledger.get_blocks(3, 1)[0].memo == b"x" * length


@pytest.mark.parametrize("length", [33, 64])
def test_a_memo_over_the_limit_traps_and_changes_nothing(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal, length: int
) -> None:
    approve(ledger, alice, Account(bob), 5 * E8S)
    accounts = [Account(alice), Account(carol)]
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, accounts, pairs)
    rejected(
        ledger.as_caller(bob).icrc2_transfer_from,
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1, memo=b"x" * length),
    )
    assert books(ledger, accounts, pairs) == before
    assert ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1)
    ) == Ok(3)


def test_a_memo_over_the_limit_traps_before_any_err_check(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    """No allowance and a wrong fee, yet the memo trap comes first."""
    before = books(ledger, [Account(alice), Account(carol)])
    rejected(
        ledger.as_caller(bob).icrc2_transfer_from,
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1, fee=1, memo=b"x" * 33),
    )
    assert books(ledger, [Account(alice), Account(carol)]) == before


def test_bad_input_is_refused_at_the_call_site_and_nothing_changed(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    before = books(ledger, [Account(alice), Account(carol)])
    with pytest.raises(ValueError):
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=-1)
    with pytest.raises(ValueError):
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1, fee=-1)
    with pytest.raises(ValueError):
        TransferFromArgs(
            from_=Account(alice), to=Account(carol), amount=1, spender_subaccount=bytes(31)
        )
    with pytest.raises(TypeError):
        TransferFromArgs(from_=alice, to=Account(carol), amount=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1.0)  # type: ignore[arg-type]
    assert books(ledger, [Account(alice), Account(carol)]) == before


# -- order of checks (icrc.md §2.12) ------------------------------------------------------------


def test_bad_fee_comes_before_insufficient_allowance(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1, fee=1)
    )
    assert result == Err(BadFee(expected_fee=FEE))


def test_burn_checks_come_before_insufficient_allowance(
    ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal
) -> None:
    as_bob = ledger.as_caller(bob)
    assert as_bob.icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(minter), amount=E8S, fee=FEE)
    ) == Err(BadFee(expected_fee=0))
    assert as_bob.icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(minter), amount=1)
    ) == Err(BadBurn(min_burn_amount=FEE))


def test_time_checks_come_before_insufficient_allowance(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    old = ic.time - TX_WINDOW_NS - 1
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1, created_at_time=old)
    )
    assert result == Err(TooOld())


# -- the block ----------------------------------------------------------------------------------


def test_transfer_from_records_a_transfer_from_block_with_the_spender(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    approve(ledger, alice, Account(bob, SUB), 5 * E8S)
    now = ic.time
    args = TransferFromArgs(
        from_=Account(alice),
        to=Account(carol),
        amount=E8S,
        spender_subaccount=SUB,
        memo=b"invoice",
        created_at_time=now,
    )
    assert ledger.as_caller(bob).icrc2_transfer_from(args) == Ok(3)
    (block,) = ledger.get_blocks(3, 1)
    assert block == Block(
        "transfer_from",
        now,
        E8S,
        from_=Account(alice),
        to=Account(carol),
        spender=Account(bob, SUB),
        fee=FEE,
        memo=b"invoice",
        created_at_time=now,
    )
    assert ledger.get_transaction_count() == 4


def test_a_self_transfer_from_is_still_a_transfer_from_block(
    ledger: CanisterProxy, alice: Principal, carol: Principal
) -> None:
    assert ledger.as_caller(alice).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=5)
    ) == Ok(2)
    (block,) = ledger.get_blocks(2, 1)
    assert (block.kind, block.spender, block.from_, block.fee) == (
        "transfer_from",
        Account(alice),
        Account(alice),
        FEE,
    )


# -- a model of repeated spending ---------------------------------------------------------------


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    allowed=st.integers(min_value=0, max_value=5 * E8S),
    amounts=st.lists(st.integers(min_value=0, max_value=2 * E8S), min_size=1, max_size=6),
)
def test_repeated_transfer_froms_follow_the_allowance_model(
    allowed: int, amounts: list[int], alice: Principal, bob: Principal, carol: Principal
) -> None:
    """Each spend succeeds iff the remaining allowance covers amount + fee; it then lowers the
    allowance by amount + fee; otherwise it reports the remaining allowance."""
    ic = IC()
    ledger = deploy_ledger(
        ic,
        LedgerInit(
            name="Model",
            symbol="MDL",
            transfer_fee=FEE,
            minting_account=Account(Principal.from_name("minter")),
            initial_balances=((Account(alice), ALICE_START),),
        ),
    )
    assert ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=allowed)
    ) == Ok(1)
    left, alice_balance, carol_balance, index = allowed, ALICE_START - FEE, 0, 2
    for amount in amounts:
        result = ledger.as_caller(bob).icrc2_transfer_from(
            TransferFromArgs(from_=Account(alice), to=Account(carol), amount=amount)
        )
        if left >= amount + FEE:
            assert result == Ok(index)
            index += 1
            left -= amount + FEE
            alice_balance -= amount + FEE
            carol_balance += amount
        else:
            assert result == Err(InsufficientAllowance(allowance=left))
        assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(left, None)
        assert ledger.icrc1_balance_of(Account(alice)) == alice_balance
        assert ledger.icrc1_balance_of(Account(carol)) == carol_balance
        assert ledger.get_transaction_count() == index
