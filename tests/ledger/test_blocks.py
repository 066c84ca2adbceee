"""The block log: slicing, what each kind of transaction records, reprs.

References: icrc.md §2.7 (block indices); ledger.md "Interface" (block log).
"""

from __future__ import annotations

from typing import Any

import pytest

from icto import (
    E8S,
    IC,
    Account,
    ApproveArgs,
    Block,
    CallRejected,
    Ok,
    Principal,
    RejectCode,
    TransferArgs,
    TransferFromArgs,
)
from icto.ic.proxy import CanisterProxy
from tests.ledger.conftest import FEE
from tests.ledger.helpers import owner_books

ALICE_START = 10 * E8S
BOB_START = 1 * E8S
ZERO_SUB = bytes(32)
SUB1 = bytes(31) + b"\x01"
PINNED = Principal.from_canister_index(4242)


# -- reprs ----------------------------------------------------------------------------------------


def test_block_repr_shows_accounts_as_text(ledger: CanisterProxy, alice: Principal) -> None:
    block = ledger.get_blocks(0, 1)[0]
    assert f"Account('{alice.to_text()}')" in repr(block)


def test_block_repr_shows_a_subaccount_in_icrc1_text(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    assert ledger.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(bob, SUB1), amount=5)
    ) == Ok(2)
    text = Account(bob, SUB1).to_text()
    assert text.startswith(bob.to_text() + "-")
    assert text.endswith(".1")
    assert f"Account('{text}')" in repr(ledger.get_blocks(2, 1)[0])


# -- the block log: slicing -----------------------------------------------------------------------


@pytest.fixture
def five_blocks(ledger: CanisterProxy, alice: Principal, bob: Principal) -> CanisterProxy:
    """Blocks 0, 1 genesis; 2, 3, 4 transfers of 1, 2, 3 from Alice to Bob."""
    for amount in (1, 2, 3):
        assert (
            ledger.as_caller(alice)
            .icrc1_transfer(TransferArgs(to=Account(bob), amount=amount))
            .is_ok
        )
    assert ledger.get_transaction_count() == 5
    return ledger


def test_transaction_count_counts_genesis_blocks(ledger: CanisterProxy) -> None:
    assert ledger.get_transaction_count() == 2


@pytest.mark.parametrize(
    "start, length, amounts",
    [
        (0, 5, [ALICE_START, BOB_START, 1, 2, 3]),
        (0, 2, [ALICE_START, BOB_START]),
        (2, 1, [1]),
        (1, 3, [BOB_START, 1, 2]),
        (3, 10, [2, 3]),
        (4, 1, [3]),
        (0, 0, []),
        (3, 0, []),
        (5, 1, []),
        (5, 0, []),
        (1000, 5, []),
    ],
)
def test_get_blocks_returns_exactly_the_existing_part_of_the_slice(
    five_blocks: CanisterProxy, start: int, length: int, amounts: list[int]
) -> None:
    blocks = five_blocks.get_blocks(start, length)
    assert [block.amount for block in blocks] == amounts
    assert all(isinstance(block, Block) for block in blocks)


def test_get_blocks_slices_agree_with_the_whole_log(five_blocks: CanisterProxy) -> None:
    whole = five_blocks.get_blocks(0, 5)
    for start in range(6):
        for length in range(7):
            assert five_blocks.get_blocks(start, length) == whole[start : start + length]


@pytest.mark.parametrize("start, length", [(-1, 1), (0, -1), (-5, -5), (-1, 0)])
def test_negative_start_or_length_traps_and_changes_nothing(
    five_blocks: CanisterProxy, alice: Principal, bob: Principal, start: int, length: int
) -> None:
    before = owner_books(five_blocks, alice, bob)
    with pytest.raises(CallRejected) as info:
        five_blocks.get_blocks(start, length)
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert owner_books(five_blocks, alice, bob) == before
    assert five_blocks.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(bob), amount=1)
    ) == Ok(5)


@pytest.mark.parametrize("start, length", [("0", 1), (0, 1.0), (None, 1), (True, 1)])
def test_non_integer_get_blocks_arguments_are_rejected(
    five_blocks: CanisterProxy, alice: Principal, bob: Principal, start: Any, length: Any
) -> None:
    before = owner_books(five_blocks, alice, bob)
    with pytest.raises(CallRejected) as info:
        five_blocks.get_blocks(start, length)
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert owner_books(five_blocks, alice, bob) == before
    assert five_blocks.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(bob), amount=1)
    ) == Ok(5)


# -- the block log: what each kind records --------------------------------------------------------


def test_genesis_balances_are_mint_blocks_at_install_time(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    genesis = ic.time
    first, second = ledger.get_blocks(0, 2)
    for block, owner, amount in ((first, alice, ALICE_START), (second, bob, BOB_START)):
        assert block.kind == "mint"
        assert block.timestamp == genesis
        assert block.amount == amount
        assert block.from_ is None
        assert block.to == Account(owner)
        assert block.spender is None
        assert block.fee is None
        assert block.memo is None


def test_mint_block_records_to_amount_memo_and_no_from_or_fee(
    ic: IC, ledger: CanisterProxy, minter: Principal, carol: Principal
) -> None:
    ic.advance_time(seconds=17)
    cat = ic.time - 5
    args = TransferArgs(to=Account(carol, SUB1), amount=3 * E8S, memo=b"mint", created_at_time=cat)
    assert ledger.as_caller(minter).icrc1_transfer(args) == Ok(2)
    block = ledger.get_blocks(2, 1)[0]
    assert block == Block(
        "mint", ic.time, 3 * E8S, from_=None, to=Account(carol, SUB1), spender=None, fee=None,
        memo=b"mint", created_at_time=cat,
    )  # fmt: skip
    assert block.to.subaccount == SUB1


def test_burn_block_records_from_amount_and_no_to_or_fee(
    ic: IC, ledger: CanisterProxy, alice: Principal, minter: Principal
) -> None:
    ic.advance_time(minutes=3)
    assert ledger.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(minter), amount=E8S, memo=b"")
    ) == Ok(2)
    assert ledger.get_blocks(2, 1)[0] == Block(
        "burn", ic.time, E8S, from_=Account(alice), to=None, spender=None, fee=None, memo=b"",
        created_at_time=None,
    )  # fmt: skip


def test_transfer_block_records_accounts_fee_memo_and_created_at_time(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    ic.advance_time(hours=2)
    cat = ic.time - 10**9
    args = TransferArgs(
        to=Account(bob, SUB1), amount=12_345, memo=b"\x01" * 32, created_at_time=cat
    )
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(2)
    assert ledger.get_blocks(2, 1)[0] == Block(
        "transfer", ic.time, 12_345, from_=Account(alice), to=Account(bob, SUB1), spender=None,
        fee=FEE, memo=b"\x01" * 32, created_at_time=cat,
    )  # fmt: skip


def test_transfer_block_records_accounts_as_given(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """Account(p, 32 zero bytes) stays spelled that way in the block (None stays None)."""
    args = TransferArgs(to=Account(bob, ZERO_SUB), amount=7, from_subaccount=ZERO_SUB)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(2)
    assert ledger.as_caller(alice).icrc1_transfer(TransferArgs(to=Account(bob), amount=8)) == Ok(3)
    given, plain = ledger.get_blocks(2, 2)
    assert given.to.subaccount == ZERO_SUB
    assert given.from_.subaccount == ZERO_SUB
    assert plain.to.subaccount is None
    assert plain.from_.subaccount is None
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + 15


def test_approve_block_records_spender_expected_allowance_expiry_and_fee(
    ic: IC, ledger: CanisterProxy, alice: Principal, carol: Principal
) -> None:
    ic.advance_time(seconds=42)
    expires = ic.time + 3_600 * 10**9
    cat = ic.time
    args = ApproveArgs(
        spender=Account(carol, SUB1), amount=77_000, expected_allowance=0, expires_at=expires,
        memo=b"ap", created_at_time=cat,
    )  # fmt: skip
    assert ledger.as_caller(alice).icrc2_approve(args) == Ok(2)
    assert ledger.get_blocks(2, 1)[0] == Block(
        "approve", ic.time, 77_000, from_=Account(alice), to=None, spender=Account(carol, SUB1),
        fee=FEE, memo=b"ap", created_at_time=cat, expected_allowance=0, expires_at=expires,
    )  # fmt: skip


def test_approve_block_without_optional_fields(
    ic: IC, ledger: CanisterProxy, alice: Principal, carol: Principal
) -> None:
    assert ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(carol), amount=1)
    ) == Ok(2)
    assert ledger.get_blocks(2, 1)[0] == Block(
        "approve", ic.time, 1, from_=Account(alice), spender=Account(carol), fee=FEE,
    )  # fmt: skip
    block = ledger.get_blocks(2, 1)[0]
    assert (block.expected_allowance, block.expires_at, block.memo, block.created_at_time) == (
        None, None, None, None,
    )  # fmt: skip


def test_transfer_from_block_records_the_spender(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    assert ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(carol, SUB1), amount=E8S)
    ) == Ok(2)
    ic.advance_time(seconds=9)
    cat = ic.time
    args = TransferFromArgs(
        from_=Account(alice), to=Account(bob), amount=4_000, spender_subaccount=SUB1,
        memo=b"tf", created_at_time=cat,
    )  # fmt: skip
    assert ledger.as_caller(carol).icrc2_transfer_from(args) == Ok(3)
    assert ledger.get_blocks(3, 1)[0] == Block(
        "transfer_from", ic.time, 4_000, from_=Account(alice), to=Account(bob),
        spender=Account(carol, SUB1), fee=FEE, memo=b"tf", created_at_time=cat,
    )  # fmt: skip


def test_self_transfer_from_block_records_the_caller_as_spender(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    args = TransferFromArgs(from_=Account(alice), to=Account(bob), amount=10)
    assert ledger.as_caller(alice).icrc2_transfer_from(args) == Ok(2)
    assert ledger.get_blocks(2, 1)[0] == Block(
        "transfer_from", ic.time, 10, from_=Account(alice), to=Account(bob),
        spender=Account(alice), fee=FEE,
    )  # fmt: skip


def test_burn_through_transfer_from_is_a_burn_block_with_the_spender(
    ic: IC, ledger: CanisterProxy, alice: Principal, carol: Principal, minter: Principal
) -> None:
    assert ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(carol), amount=E8S)
    ) == Ok(2)
    args = TransferFromArgs(from_=Account(alice), to=Account(minter), amount=FEE)
    assert ledger.as_caller(carol).icrc2_transfer_from(args) == Ok(3)
    block = ledger.get_blocks(3, 1)[0]
    assert block == Block(
        "burn", ic.time, FEE, from_=Account(alice), to=None, spender=Account(carol), fee=None
    )
    assert block.spender is not None


def test_block_timestamps_follow_ic_time_at_each_call(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    times = []
    for step in (1, 60, 3_600, 86_400):
        ic.advance_time(seconds=step)
        times.append(ic.time)
        assert ledger.as_caller(alice).icrc1_transfer(TransferArgs(to=Account(bob), amount=1)).is_ok
    assert [block.timestamp for block in ledger.get_blocks(2, 4)] == times


def test_block_indices_are_consecutive_across_kinds(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal, minter: Principal
) -> None:
    results = [
        ledger.as_caller(minter).icrc1_transfer(TransferArgs(to=Account(carol), amount=E8S)),
        ledger.as_caller(alice).icrc1_transfer(TransferArgs(to=Account(minter), amount=FEE)),
        ledger.as_caller(alice).icrc2_approve(ApproveArgs(spender=Account(carol), amount=E8S)),
        ledger.as_caller(carol).icrc2_transfer_from(
            TransferFromArgs(from_=Account(alice), to=Account(bob), amount=1)
        ),
        ledger.as_caller(bob).icrc1_transfer(TransferArgs(to=Account(carol), amount=1)),
    ]
    assert results == [Ok(2), Ok(3), Ok(4), Ok(5), Ok(6)]
    kinds = [block.kind for block in ledger.get_blocks(0, 100)]
    assert kinds == ["mint", "mint", "mint", "burn", "approve", "transfer_from", "transfer"]
    assert ledger.get_transaction_count() == 7
