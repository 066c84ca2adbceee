"""``icrc2_approve``: replacing allowances, the fee, expected_allowance, expiry, capping,
revocation, traps and the order of checks
(icrc.md §1.3, §1.4, §2.3, §2.8, §2.12, §2.13, §4 items 1, 3, 6, 8)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from icto import (
    E8S,
    IC,
    TX_WINDOW_NS,
    U64_MAX,
    Account,
    Allowance,
    AllowanceChanged,
    ApproveArgs,
    BadFee,
    Block,
    Duplicate,
    Err,
    Expired,
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
    books,
    fund,
    rejected,
)

# -- helpers ------------------------------------------------------------------------------------


# -- success: replace, fee, index, block --------------------------------------------------------


def test_approve_returns_the_next_block_index(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """Genesis used blocks 0 and 1, so the first approvals get 2 then 3."""
    as_alice = ledger.as_caller(alice)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=100)) == Ok(2)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=200)) == Ok(3)
    assert ledger.get_transaction_count() == 4


@pytest.mark.parametrize(("first", "second"), [(100, 50), (50, 100), (100, 100)])
def test_a_new_approval_replaces_the_previous_one_instead_of_adding(
    ledger: CanisterProxy, alice: Principal, bob: Principal, first: int, second: int
) -> None:
    as_alice = ledger.as_caller(alice)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=first)).is_ok
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=second)).is_ok
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(second, None)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - 2 * FEE


def test_the_approver_pays_only_the_fee_and_may_approve_more_than_its_balance(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    amount = 100 * E8S  # ten times Alice's balance
    assert ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=amount)
    ) == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(amount, None)


def test_the_approve_fee_is_burned(ledger: CanisterProxy, alice: Principal, bob: Principal) -> None:
    assert ledger.as_caller(alice).icrc2_approve(ApproveArgs(spender=Account(bob), amount=5)).is_ok
    assert ledger.icrc1_total_supply() == SUPPLY_START - FEE


def test_approve_fees_are_burned_even_when_a_fee_collector_is_configured(
    ic: IC, minter: Principal, alice: Principal, bob: Principal, principal: Any
) -> None:
    """icrc.md §4 item 8: the collector gets transfer fees, never approve fees."""
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
    as_alice = ledger.as_caller(alice)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=7)) == Ok(1)
    assert ledger.icrc1_balance_of(collector) == 0
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE
    assert ledger.icrc1_total_supply() == ALICE_START - FEE
    # the collector is live: a transfer's fee does reach it
    assert as_alice.icrc1_transfer(TransferArgs(to=Account(bob), amount=1)) == Ok(2)
    assert ledger.icrc1_balance_of(collector) == FEE
    assert ledger.icrc1_total_supply() == ALICE_START - FEE


@pytest.mark.parametrize("fee", [None, FEE])
def test_fee_may_be_omitted_or_given_exactly(
    ledger: CanisterProxy, alice: Principal, bob: Principal, fee: int | None
) -> None:
    result = ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=10, fee=fee)
    )
    assert result == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE


def test_approve_records_an_approve_block(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    now = ic.time
    args = ApproveArgs(
        spender=Account(bob, SUB),
        amount=123,
        expected_allowance=0,
        expires_at=now + 1_000,
        memo=b"memo",
        created_at_time=now,
    )
    assert ledger.as_caller(alice).icrc2_approve(args) == Ok(2)
    (block,) = ledger.get_blocks(2, 1)
    assert block == Block(
        "approve",
        now,
        123,
        from_=Account(alice),
        to=None,
        spender=Account(bob, SUB),
        fee=FEE,
        memo=b"memo",
        created_at_time=now,
        expected_allowance=0,
        expires_at=now + 1_000,
    )


# -- fee errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fee", [0, 1, FEE - 1, FEE + 1, 10 * FEE])
def test_a_wrong_fee_is_bad_fee_and_changes_nothing(
    ledger: CanisterProxy, alice: Principal, bob: Principal, fee: int
) -> None:
    accounts = [Account(alice), Account(bob)]
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, accounts, pairs)
    result = ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=10, fee=fee)
    )
    assert result == Err(BadFee(expected_fee=FEE))
    assert books(ledger, accounts, pairs) == before


@pytest.mark.parametrize("balance", [0, 1, FEE - 1])
def test_an_approver_that_cannot_pay_the_fee_gets_insufficient_funds(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal, balance: int
) -> None:
    if balance:
        fund(ledger, alice, Account(carol), balance)
    accounts = [Account(carol), Account(bob), Account(alice)]
    pairs = [(Account(carol), Account(bob))]
    before = books(ledger, accounts, pairs)
    result = ledger.as_caller(carol).icrc2_approve(ApproveArgs(spender=Account(bob), amount=1))
    assert result == Err(InsufficientFunds(balance=balance))
    assert books(ledger, accounts, pairs) == before


def test_an_approver_holding_exactly_the_fee_can_approve_and_ends_at_zero(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    fund(ledger, alice, Account(carol), FEE)
    result = ledger.as_caller(carol).icrc2_approve(ApproveArgs(spender=Account(bob), amount=E8S))
    assert result == Ok(3)
    assert ledger.icrc1_balance_of(Account(carol)) == 0
    assert allowance_of(ledger, Account(carol), Account(bob)) == Allowance(E8S, None)


# -- expected_allowance -------------------------------------------------------------------------


def test_a_matching_expected_allowance_lets_the_approval_through(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    as_alice = ledger.as_caller(alice)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=100)).is_ok
    result = as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=40, expected_allowance=100)
    )
    assert result == Ok(3)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(40, None)


@pytest.mark.parametrize("expected", [0, 1, 99, 101, 2 * E8S])
def test_a_mismatched_expected_allowance_is_allowance_changed_and_changes_nothing(
    ledger: CanisterProxy, alice: Principal, bob: Principal, expected: int
) -> None:
    as_alice = ledger.as_caller(alice)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=100)).is_ok
    accounts = [Account(alice), Account(bob)]
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, accounts, pairs)
    result = as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=40, expected_allowance=expected)
    )
    assert result == Err(AllowanceChanged(current_allowance=100))
    assert books(ledger, accounts, pairs) == before
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(100, None)


def test_expected_allowance_zero_succeeds_when_there_is_no_approval(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    result = ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=70, expected_allowance=0)
    )
    assert result == Ok(2)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(70, None)


def test_a_nonzero_expected_allowance_without_approval_reports_current_zero(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    before = books(ledger, [Account(alice)], [(Account(alice), Account(bob))])
    result = ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=70, expected_allowance=1)
    )
    assert result == Err(AllowanceChanged(current_allowance=0))
    assert books(ledger, [Account(alice)], [(Account(alice), Account(bob))]) == before


@pytest.mark.parametrize("expected", [U64_MAX + 1, 2**70])
def test_an_expected_allowance_above_u64_max_is_allowance_changed(
    ledger: CanisterProxy, alice: Principal, bob: Principal, expected: int
) -> None:
    """icrc.md §2.8 / §4 item 6: an unrepresentable expected_allowance never matches."""
    as_alice = ledger.as_caller(alice)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=100)).is_ok
    before = books(ledger, [Account(alice)], [(Account(alice), Account(bob))])
    result = as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=1, expected_allowance=expected)
    )
    assert result == Err(AllowanceChanged(current_allowance=100))
    assert books(ledger, [Account(alice)], [(Account(alice), Account(bob))]) == before


def test_an_expected_allowance_above_u64_max_never_matches_a_capped_allowance(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """The stored allowance is capped at 2**64-1: expecting the uncapped value fails,
    expecting the cap succeeds."""
    as_alice = ledger.as_caller(alice)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=2**70)).is_ok
    result = as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=5, expected_allowance=2**70)
    )
    assert result == Err(AllowanceChanged(current_allowance=U64_MAX))
    result = as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=5, expected_allowance=U64_MAX)
    )
    assert result == Ok(3)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(5, None)


# -- expiry -------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 1, 10**9])
def test_expires_at_not_after_now_is_expired_and_changes_nothing(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, offset: int
) -> None:
    """icrc.md §2.8: expires_at must be strictly greater than ledger time; equality is Expired."""
    now = ic.time
    accounts = [Account(alice), Account(bob)]
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, accounts, pairs)
    result = ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=10, expires_at=now - offset)
    )
    assert result == Err(Expired(ledger_time=now))
    assert books(ledger, accounts, pairs) == before


def test_expires_at_one_nanosecond_in_the_future_is_accepted(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    now = ic.time
    result = ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=10, expires_at=now + 1)
    )
    assert result == Ok(2)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(10, now + 1)


def test_expired_reports_the_current_ledger_time_after_time_moves(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    start = ic.time
    ic.advance_time(seconds=5)
    result = ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=10, expires_at=start + 10**9)
    )
    assert result == Err(Expired(ledger_time=start + 5 * 10**9))


def test_reapproving_without_expires_at_clears_a_previous_expiry(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    as_alice = ledger.as_caller(alice)
    expiry = ic.time + 10**9
    assert as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=10, expires_at=expiry)
    ).is_ok
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(10, expiry)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=20)).is_ok
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(20, None)
    ic.advance_time(seconds=2)  # past the old expiry: the new approval still stands
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(20, None)


def test_reapproving_with_a_new_expiry_replaces_the_old_one(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    as_alice = ledger.as_caller(alice)
    now = ic.time
    assert as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=10, expires_at=now + 100)
    ).is_ok
    assert as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=10, expires_at=now + 50)
    ).is_ok
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(10, now + 50)


# -- capping and revocation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "stored"),
    [(U64_MAX - 1, U64_MAX - 1), (U64_MAX, U64_MAX), (U64_MAX + 1, U64_MAX), (2**70, U64_MAX)],
)
def test_approved_amounts_are_capped_at_u64_max(
    ledger: CanisterProxy, alice: Principal, bob: Principal, amount: int, stored: int
) -> None:
    result = ledger.as_caller(alice).icrc2_approve(ApproveArgs(spender=Account(bob), amount=amount))
    assert result == Ok(2)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(stored, None)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE


def test_approving_zero_revokes_creates_a_block_and_charges_the_fee(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    as_alice = ledger.as_caller(alice)
    assert as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=100, expires_at=ic.time + 10**9)
    ) == Ok(2)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=0)) == Ok(3)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(0, None)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - 2 * FEE
    assert ledger.icrc1_total_supply() == SUPPLY_START - 2 * FEE
    (block,) = ledger.get_blocks(3, 1)
    assert (block.kind, block.amount, block.fee) == ("approve", 0, FEE)


def test_a_revoked_approval_can_no_longer_be_spent(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    as_alice = ledger.as_caller(alice)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=E8S)).is_ok
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=0)).is_ok
    result = ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1)
    )
    assert result == Err(InsufficientAllowance(allowance=0))


def test_approving_zero_without_a_previous_approval_still_makes_a_block(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    result = ledger.as_caller(alice).icrc2_approve(ApproveArgs(spender=Account(bob), amount=0))
    assert result == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(0, None)


# -- traps --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_subaccount", "spender_sub"),
    [(None, None), (None, ZEROS), (None, SUB), (SUB, None), (SUB, SUB), (SUB, SUB2)],
    ids=["default-default", "default-zeros", "default-sub", "sub-default", "sub-same", "sub-other"],
)
def test_self_approval_traps_at_owner_level_and_changes_nothing(
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    from_subaccount: bytes | None,
    spender_sub: bytes | None,
) -> None:
    """icrc.md §2.8 / §4 item 1: a spender owned by the caller is refused, even another
    subaccount of the caller; the call traps (no Err, no block index)."""
    fund(ledger, alice, Account(alice, SUB), E8S)
    accounts = [Account(alice), Account(alice, SUB), Account(alice, SUB2)]
    pairs = [(Account(alice, from_subaccount), Account(alice, spender_sub))]
    before = books(ledger, accounts, pairs)
    err = rejected(
        ledger.as_caller(alice).icrc2_approve,
        ApproveArgs(
            spender=Account(alice, spender_sub), amount=10, from_subaccount=from_subaccount
        ),
    )
    assert "self approval" in err.message
    assert books(ledger, accounts, pairs) == before
    count = ledger.get_transaction_count()
    assert ledger.as_caller(alice).icrc2_approve(ApproveArgs(spender=Account(bob), amount=1)) == Ok(
        count
    )


@pytest.mark.parametrize("from_subaccount", [None, ZEROS])
def test_approve_from_the_minting_account_traps_and_changes_nothing(
    ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal, from_subaccount: Any
) -> None:
    """icrc.md §2.3: the minting account cannot delegate mints. The trap comes before the funds
    check (the minting account holds nothing, which would otherwise be InsufficientFunds(0))."""
    accounts = [Account(minter), Account(bob), Account(alice)]
    pairs = [(Account(minter), Account(bob))]
    before = books(ledger, accounts, pairs)
    err = rejected(
        ledger.as_caller(minter).icrc2_approve,
        ApproveArgs(spender=Account(bob), amount=10, from_subaccount=from_subaccount),
    )
    assert "cannot delegate mints" in err.message
    assert books(ledger, accounts, pairs) == before
    assert ledger.as_caller(alice).icrc2_approve(ApproveArgs(spender=Account(bob), amount=1)) == Ok(
        2
    )


def test_a_minters_other_subaccount_is_an_ordinary_approver(
    ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal
) -> None:
    fund(ledger, alice, Account(minter, SUB), FEE)
    result = ledger.as_caller(minter).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=10, from_subaccount=SUB)
    )
    assert result == Ok(3)
    assert allowance_of(ledger, Account(minter, SUB), Account(bob)) == Allowance(10, None)


@pytest.mark.parametrize("length", [0, 1, 32])
def test_memos_up_to_the_limit_are_accepted(
    ledger: CanisterProxy, alice: Principal, bob: Principal, length: int
) -> None:
    result = ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=10, memo=b"m" * length)
    )
    assert result == Ok(2)
    assert ledger.get_blocks(2, 1)[0].memo == b"m" * length


@pytest.mark.parametrize("length", [33, 100])
def test_a_memo_over_the_limit_traps_and_changes_nothing(
    ledger: CanisterProxy, alice: Principal, bob: Principal, length: int
) -> None:
    accounts = [Account(alice), Account(bob)]
    pairs = [(Account(alice), Account(bob))]
    before = books(ledger, accounts, pairs)
    rejected(
        ledger.as_caller(alice).icrc2_approve,
        ApproveArgs(spender=Account(bob), amount=10, memo=b"m" * length),
    )
    assert books(ledger, accounts, pairs) == before
    assert ledger.as_caller(alice).icrc2_approve(ApproveArgs(spender=Account(bob), amount=1)) == Ok(
        2
    )


def test_a_memo_over_the_limit_traps_before_any_err_check(
    ic: IC, ledger: CanisterProxy, carol: Principal, bob: Principal
) -> None:
    """Carol has no funds, gives a wrong fee and a past expiry: the memo trap still wins."""
    before = books(ledger, [Account(carol)], [(Account(carol), Account(bob))])
    rejected(
        ledger.as_caller(carol).icrc2_approve,
        ApproveArgs(spender=Account(bob), amount=10, fee=1, expires_at=ic.time, memo=b"m" * 33),
    )
    assert books(ledger, [Account(carol)], [(Account(carol), Account(bob))]) == before


def test_self_approval_traps_before_the_memo_check(ledger: CanisterProxy, alice: Principal) -> None:
    err = rejected(
        ledger.as_caller(alice).icrc2_approve,
        ApproveArgs(spender=Account(alice, SUB), amount=10, memo=b"m" * 33),
    )
    assert "self approval" in err.message


def test_bad_input_is_refused_at_the_call_site_and_nothing_changed(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    before = books(ledger, [Account(alice), Account(bob)], [(Account(alice), Account(bob))])
    with pytest.raises(ValueError):
        ApproveArgs(spender=Account(bob), amount=-1)
    with pytest.raises(ValueError):
        ApproveArgs(spender=Account(bob), amount=1, fee=-1)
    with pytest.raises(ValueError):
        ApproveArgs(spender=Account(bob), amount=1, expected_allowance=-1)
    with pytest.raises(ValueError):
        ApproveArgs(spender=Account(bob), amount=1, expires_at=U64_MAX + 1)
    with pytest.raises(ValueError):
        ApproveArgs(spender=Account(bob), amount=1, from_subaccount=bytes(31))
    with pytest.raises(ValueError):
        Account(bob, bytes(33))
    with pytest.raises(TypeError):
        ApproveArgs(spender=bob, amount=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ApproveArgs(spender=Account(bob), amount="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ApproveArgs(spender=Account(bob), amount=1, memo="text")  # type: ignore[arg-type]
    assert books(ledger, [Account(alice), Account(bob)], [(Account(alice), Account(bob))]) == before


# -- order of checks (icrc.md §2.12, approve) ----------------------------------------------------


def _order_cases() -> list[Any]:
    """(carol's balance or None for Alice as approver, prior approval, args, error).

    ``args`` and ``error`` take the ledger time."""
    return [
        pytest.param(
            None,
            100,
            lambda now: {"fee": 1, "expected_allowance": U64_MAX + 1},
            lambda now: AllowanceChanged(100),
            id="unrepresentable-expected-before-bad-fee",
        ),
        pytest.param(
            0,
            None,
            lambda now: {"expected_allowance": U64_MAX + 1},
            lambda now: AllowanceChanged(0),
            id="unrepresentable-expected-before-insufficient-funds",
        ),
        pytest.param(
            None,
            None,
            lambda now: {"fee": 1, "expires_at": now},
            lambda now: BadFee(FEE),
            id="bad-fee-before-expired",
        ),
        pytest.param(
            None,
            100,
            lambda now: {"fee": 1, "expected_allowance": 5},
            lambda now: BadFee(FEE),
            id="bad-fee-before-allowance-changed",
        ),
        pytest.param(
            0,
            None,
            lambda now: {"fee": 1},
            lambda now: BadFee(FEE),
            id="bad-fee-before-insufficient-funds",
        ),
        pytest.param(
            None,
            None,
            lambda now: {"fee": 1, "created_at_time": now - TX_WINDOW_NS - 61 * 10**9},
            lambda now: BadFee(FEE),
            id="bad-fee-before-too-old",
        ),
        pytest.param(
            0,
            None,
            lambda now: {"created_at_time": now - TX_WINDOW_NS - 61 * 10**9},
            lambda now: TooOld(),
            id="too-old-before-insufficient-funds",
        ),
        pytest.param(
            FEE - 1,
            None,
            lambda now: {"expires_at": now},
            lambda now: InsufficientFunds(FEE - 1),
            id="insufficient-funds-before-expired",
        ),
        pytest.param(
            FEE - 1,
            None,
            lambda now: {"expected_allowance": 5},
            lambda now: InsufficientFunds(FEE - 1),
            id="insufficient-funds-before-allowance-changed",
        ),
        pytest.param(
            None,
            100,
            lambda now: {"expires_at": now, "expected_allowance": 5},
            lambda now: Expired(now),
            id="expired-before-allowance-changed",
        ),
    ]


@pytest.mark.parametrize(("carol_balance", "prior", "extra", "error"), _order_cases())
def test_order_of_checks_follows_the_production_ledger(
    ic: IC,
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    carol_balance: int | None,
    prior: int | None,
    extra: Callable[[int], dict[str, Any]],
    error: Callable[[int], Any],
) -> None:
    if carol_balance is None:
        approver = alice
    else:
        approver = carol
        if carol_balance:
            fund(ledger, alice, Account(carol), carol_balance)
    if prior is not None:
        assert (
            ledger.as_caller(approver)
            .icrc2_approve(ApproveArgs(spender=Account(bob), amount=prior))
            .is_ok
        )
    now = ic.time
    accounts = [Account(approver), Account(bob)]
    pairs = [(Account(approver), Account(bob))]
    before = books(ledger, accounts, pairs)
    result = ledger.as_caller(approver).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=10, **extra(now))
    )
    assert result == Err(error(now))
    assert books(ledger, accounts, pairs) == before


def test_duplicate_is_reported_before_insufficient_funds(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    """Carol spends her whole balance on an approval; resending it is Duplicate, not
    InsufficientFunds(0) (time/dedup checks precede the funds check)."""
    fund(ledger, alice, Account(carol), FEE)
    args = ApproveArgs(spender=Account(bob), amount=10, created_at_time=ic.time)
    assert ledger.as_caller(carol).icrc2_approve(args) == Ok(3)
    assert ledger.icrc1_balance_of(Account(carol)) == 0
    assert ledger.as_caller(carol).icrc2_approve(args) == Err(Duplicate(duplicate_of=3))
    assert ledger.get_transaction_count() == 4


def test_approvals_are_deduplicated_as_recorded_so_capped_amounts_are_one_approval(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """Both amounts are recorded as 2**64 - 1, so the second request is the first one again:
    ``Duplicate``, not a second approval and a second fee (the production ledger caps the
    amount before it builds the transaction it deduplicates)."""
    as_alice = ledger.as_caller(alice)
    first = ApproveArgs(spender=Account(bob), amount=2**64, created_at_time=ic.time)
    assert as_alice.icrc2_approve(first) == Ok(2)
    before = ic.state_of(ledger.id)
    again = ApproveArgs(spender=Account(bob), amount=2**65, created_at_time=ic.time)
    assert as_alice.icrc2_approve(again) == Err(Duplicate(duplicate_of=2))
    assert ic.state_of(ledger.id) == before


# -- approvals are per (account, account) -------------------------------------------------------


def test_spender_subaccounts_are_distinct_spenders(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    as_alice = ledger.as_caller(alice)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=100)) == Ok(2)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob, SUB), amount=200)) == Ok(3)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(100, None)
    assert allowance_of(ledger, Account(alice), Account(bob, SUB)) == Allowance(200, None)
    assert allowance_of(ledger, Account(alice), Account(bob, SUB2)) == Allowance(0, None)


def test_a_spender_given_as_zeros_is_the_default_spender(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """Approving Account(bob, 32 zeros) replaces the approval made for Account(bob)."""
    as_alice = ledger.as_caller(alice)
    assert as_alice.icrc2_approve(ApproveArgs(spender=Account(bob), amount=100)).is_ok
    result = as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob, ZEROS), amount=30, expected_allowance=100)
    )
    assert result == Ok(3)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(30, None)


def test_an_approval_from_a_subaccount_is_separate_and_paid_by_that_subaccount(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    fund(ledger, alice, Account(alice, SUB), E8S)
    result = ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=500, from_subaccount=SUB)
    )
    assert result == Ok(3)
    assert allowance_of(ledger, Account(alice, SUB), Account(bob)) == Allowance(500, None)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(0, None)
    assert ledger.icrc1_balance_of(Account(alice, SUB)) == E8S - FEE
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - E8S - FEE


def test_from_subaccount_zeros_is_the_default_approver(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    result = ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=500, from_subaccount=ZEROS)
    )
    assert result == Ok(2)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(500, None)
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - FEE


def test_approvals_of_different_approvers_do_not_mix(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    assert (
        ledger.as_caller(alice).icrc2_approve(ApproveArgs(spender=Account(carol), amount=1)).is_ok
    )
    assert ledger.as_caller(bob).icrc2_approve(ApproveArgs(spender=Account(carol), amount=2)).is_ok
    assert allowance_of(ledger, Account(alice), Account(carol)) == Allowance(1, None)
    assert allowance_of(ledger, Account(bob), Account(carol)) == Allowance(2, None)
    assert allowance_of(ledger, Account(carol), Account(alice)) == Allowance(0, None)
