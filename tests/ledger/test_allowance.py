"""``icrc2_allowance``: the active approval or ``Allowance(0, None)``, normalised lookups, and a
free query (icrc.md §1.3, §2.8, §2.9, §2.10, §4 item 6)."""

from __future__ import annotations

import pytest

from icto import (
    E8S,
    IC,
    Account,
    Allowance,
    AllowanceArgs,
    AllowanceChanged,
    ApproveArgs,
    Err,
    Ok,
    Principal,
    TransferFromArgs,
)
from icto.ic.proxy import CanisterProxy
from tests.ledger.conftest import FEE
from tests.ledger.helpers import SUB, ZEROS, allowance_of


def approve(
    ledger: CanisterProxy,
    owner: Principal,
    spender: Account,
    amount: int,
    expires_at: int | None = None,
    from_subaccount: bytes | None = None,
) -> None:
    result = ledger.as_caller(owner).icrc2_approve(
        ApproveArgs(
            spender=spender, amount=amount, expires_at=expires_at, from_subaccount=from_subaccount
        )
    )
    assert result.is_ok


# -- no active approval: {0, None} --------------------------------------------------------------


def test_a_never_approved_pair_reads_zero_without_expiry(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(0, None)


def test_a_revoked_approval_reads_zero_without_expiry(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), 100, expires_at=ic.time + 10**12)
    approve(ledger, alice, Account(bob), 0)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(0, None)


def test_a_revocation_with_an_expiry_still_reads_zero_without_expiry(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), 100)
    approve(ledger, alice, Account(bob), 0, expires_at=ic.time + 10**12)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(0, None)


def test_a_fully_used_approval_reads_zero_without_expiry(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    approve(ledger, alice, Account(bob), E8S + FEE, expires_at=ic.time + 10**12)
    assert ledger.as_caller(bob).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=E8S)
    ) == Ok(3)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(0, None)


@pytest.mark.parametrize("after", [0, 1, 10**9])
def test_an_expired_approval_reads_zero_without_expiry(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, after: int
) -> None:
    """icrc.md §2.10: active iff expires_at > now, so at now == expires_at it is gone."""
    expiry = ic.time + 1_000
    approve(ledger, alice, Account(bob), 100, expires_at=expiry)
    ic.advance_time(nanos=1_000 + after)
    assert ic.time == expiry + after
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(0, None)


# -- an active approval -------------------------------------------------------------------------


def test_an_active_approval_without_expiry_reads_its_amount(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), 4_321)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(4_321, None)


def test_an_active_approval_reads_its_amount_and_expiry_until_one_nanosecond_before(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    expiry = ic.time + 1_000
    approve(ledger, alice, Account(bob), 100, expires_at=expiry)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(100, expiry)
    ic.advance_time(nanos=999)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(100, expiry)


def test_a_partly_used_approval_reads_what_is_left(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    approve(ledger, alice, Account(bob), 5 * E8S)
    assert (
        ledger.as_caller(bob)
        .icrc2_transfer_from(TransferFromArgs(from_=Account(alice), to=Account(carol), amount=E8S))
        .is_ok
    )
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(4 * E8S - FEE, None)


def test_the_allowance_is_directional(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), 100)
    assert allowance_of(ledger, Account(bob), Account(alice)) == Allowance(0, None)


def test_other_subaccounts_do_not_share_an_approval(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), 100)
    assert allowance_of(ledger, Account(alice), Account(bob, SUB)) == Allowance(0, None)
    assert allowance_of(ledger, Account(alice, SUB), Account(bob)) == Allowance(0, None)


# -- normalised lookups -------------------------------------------------------------------------


@pytest.mark.parametrize("query_account_sub", [None, ZEROS])
@pytest.mark.parametrize("query_spender_sub", [None, ZEROS])
@pytest.mark.parametrize("approved_from_sub", [None, ZEROS])
@pytest.mark.parametrize("approved_spender_sub", [None, ZEROS])
def test_lookups_are_normalised_on_account_and_spender(
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    query_account_sub: bytes | None,
    query_spender_sub: bytes | None,
    approved_from_sub: bytes | None,
    approved_spender_sub: bytes | None,
) -> None:
    """None and 32 zero bytes name the same default account on both sides of the pair."""
    approve(
        ledger,
        alice,
        Account(bob, approved_spender_sub),
        250,
        from_subaccount=approved_from_sub,
    )
    assert allowance_of(
        ledger, Account(alice, query_account_sub), Account(bob, query_spender_sub)
    ) == Allowance(250, None)


# -- it is a query ------------------------------------------------------------------------------


def test_allowance_is_a_free_query_that_changes_nothing(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), 100)
    cycles = ic.cycles_balance(ledger.id)
    count = ledger.get_transaction_count()
    args = AllowanceArgs(Account(alice), Account(bob))
    assert ic.query_call(ledger.id, "icrc2_allowance", args, caller=bob) == Allowance(100, None)
    assert ic.query_call(ledger.id, "icrc2_allowance", args) == Allowance(100, None)
    assert ic.cycles_balance(ledger.id) == cycles
    assert ledger.get_transaction_count() == count
    assert ledger.icrc1_balance_of(Account(alice)) == 10 * E8S - FEE


def test_reading_an_expired_allowance_does_not_revive_or_change_it(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    expiry = ic.time + 10
    approve(ledger, alice, Account(bob), 100, expires_at=expiry)
    ic.advance_time(nanos=10)
    count = ledger.get_transaction_count()
    for _ in range(2):
        assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(0, None)
    assert ledger.get_transaction_count() == count


def test_bad_allowance_args_are_refused_at_the_call_site(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    with pytest.raises(TypeError):
        AllowanceArgs(Account(alice), bob)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        AllowanceArgs(alice, Account(bob))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AllowanceArgs(Account(alice), Account(bob, bytes(31)))


# -- expired approvals count as 0 for expected_allowance ----------------------------------------


def test_an_expired_allowance_counts_as_zero_for_expected_allowance(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    approve(ledger, alice, Account(bob), 100, expires_at=ic.time + 10)
    ic.advance_time(nanos=10)
    as_alice = ledger.as_caller(alice)
    result = as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=70, expected_allowance=100)
    )
    assert result == Err(AllowanceChanged(current_allowance=0))
    result = as_alice.icrc2_approve(
        ApproveArgs(spender=Account(bob), amount=70, expected_allowance=0)
    )
    assert result == Ok(3)
    assert allowance_of(ledger, Account(alice), Account(bob)) == Allowance(70, None)
