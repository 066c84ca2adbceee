"""Shared pieces of the ledger tests: the fixture's starting balances and small helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from icto import (
    E8S,
    Account,
    Allowance,
    AllowanceArgs,
    ApproveArgs,
    Block,
    CallRejected,
    LedgerInit,
    Ok,
    Principal,
    RejectCode,
    TransferArgs,
)
from icto.ic.proxy import CanisterProxy

ALICE_START = 10 * E8S
BOB_START = 1 * E8S
SUPPLY_START = ALICE_START + BOB_START
SUB = bytes(31) + b"\x01"
SUB2 = bytes(31) + b"\x02"
ZEROS = bytes(32)


def allowance_of(ledger: CanisterProxy, account: Account, spender: Account) -> Allowance:
    return ledger.icrc2_allowance(AllowanceArgs(account, spender))


def books(
    ledger: CanisterProxy,
    accounts: Iterable[Account],
    pairs: Iterable[tuple[Account, Account]] = (),
) -> tuple[Any, ...]:
    """Everything an Err or a trap must leave untouched."""
    return (
        tuple(ledger.icrc1_balance_of(account) for account in accounts),
        ledger.icrc1_total_supply(),
        ledger.get_transaction_count(),
        tuple(allowance_of(ledger, account, spender) for account, spender in pairs),
    )


def fund(ledger: CanisterProxy, source: Principal, to: Account, amount: int) -> None:
    assert ledger.as_caller(source).icrc1_transfer(TransferArgs(to=to, amount=amount)).is_ok


def approve(
    ledger: CanisterProxy,
    owner: Principal,
    spender: Account,
    amount: int,
    expires_at: int | None = None,
    from_subaccount: bytes | None = None,
) -> int:
    result = ledger.as_caller(owner).icrc2_approve(
        ApproveArgs(
            spender=spender, amount=amount, expires_at=expires_at, from_subaccount=from_subaccount
        )
    )
    assert isinstance(result, Ok)
    index: int = result.value
    return index


def rejected(fn: Callable[..., Any], *args: Any) -> CallRejected:
    with pytest.raises(CallRejected) as info:
        fn(*args)
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    return info.value


State = tuple[tuple[int, ...], int, int]


def make_init(minter: Principal, **overrides: Any) -> LedgerInit:
    fields: dict[str, Any] = {
        "name": "Meta Token",
        "symbol": "MTA",
        "transfer_fee": 2_500,
        "minting_account": Account(minter),
    }
    fields.update(overrides)
    return LedgerInit(**fields)


def owner_books(ledger: CanisterProxy, *owners: Principal) -> tuple[Any, ...]:
    balances = tuple(ledger.icrc1_balance_of(Account(owner)) for owner in owners)
    allowances = tuple(
        ledger.icrc2_allowance(AllowanceArgs(Account(a), Account(b)))
        for a in owners
        for b in owners
        if a != b
    )
    return balances, allowances, ledger.icrc1_total_supply(), ledger.get_transaction_count()


def state(ledger: CanisterProxy, accounts: Iterable[Account]) -> State:
    """Balances of ``accounts``, total supply and transaction count: what a failure must keep."""
    return (
        tuple(ledger.icrc1_balance_of(account) for account in accounts),
        ledger.icrc1_total_supply(),
        ledger.get_transaction_count(),
    )


def transfer(ledger: CanisterProxy, caller: Principal, **fields: Any) -> Any:
    return ledger.as_caller(caller).icrc1_transfer(TransferArgs(**fields))


def only_block(ledger: CanisterProxy, index: int) -> Block:
    (block,) = ledger.get_blocks(index, 1)
    return block
