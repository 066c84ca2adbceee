"""Arguments are exactly the types Candid decodes: a subclass of ``int``, ``str``, ``bytes`` or
``Principal`` is refused where the record is built, so none reaches a block or a balance key
(where it would stay for good and keep the world from being saved)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from icto import Account, Principal
from icto.ic.account import InvalidAccount
from icto.ledger import ApproveArgs, LedgerInit, TransferArgs, TransferFromArgs


class _Nat(int):
    pass


class _Text(str):
    pass


class _Blob(bytes):
    pass


class _Principal(Principal):
    pass


ALICE = Principal.from_name("alice")
BOB = Account(Principal.from_name("bob"))

CASES: dict[str, Callable[[], Any]] = {
    "transfer amount": lambda: TransferArgs(to=BOB, amount=_Nat(5)),
    "transfer fee": lambda: TransferArgs(to=BOB, amount=5, fee=_Nat(1)),
    "transfer created_at_time": lambda: TransferArgs(to=BOB, amount=5, created_at_time=_Nat(1)),
    "transfer from_subaccount": lambda: TransferArgs(
        to=BOB, amount=5, from_subaccount=_Blob(bytes(32))
    ),
    "approve expires_at": lambda: ApproveArgs(spender=BOB, amount=5, expires_at=_Nat(10)),
    "approve expected_allowance": lambda: ApproveArgs(
        spender=BOB, amount=5, expected_allowance=_Nat(0)
    ),
    "transfer_from amount": lambda: TransferFromArgs(from_=BOB, to=BOB, amount=_Nat(5)),
    "account subaccount": lambda: Account(ALICE, _Blob(bytes(32))),
    "account owner": lambda: Account(_Principal(ALICE.bytes)),
    "init name": lambda: LedgerInit(
        name=_Text("Coin"), symbol="C", transfer_fee=1, minting_account=BOB
    ),
    "init fee": lambda: LedgerInit(
        name="Coin", symbol="C", transfer_fee=_Nat(1), minting_account=BOB
    ),
    "init balance": lambda: LedgerInit(
        name="Coin", symbol="C", transfer_fee=1, minting_account=BOB,
        initial_balances=((Account(ALICE), _Nat(5)),),
    ),
    "init metadata value": lambda: LedgerInit(
        name="Coin", symbol="C", transfer_fee=1, minting_account=BOB,
        metadata=(("icto:site", _Text("x")),),
    ),
}


@pytest.mark.parametrize("build", CASES.values(), ids=CASES.keys())
def test_a_subclass_of_a_candid_type_is_refused_where_the_record_is_built(
    build: Callable[[], Any],
) -> None:
    with pytest.raises((TypeError, ValueError, InvalidAccount)):
        build()


def test_the_exact_types_are_taken() -> None:
    assert TransferArgs(to=BOB, amount=5, created_at_time=1, from_subaccount=bytes(32)).amount == 5
    assert Account(ALICE, bytes(32)) == Account(ALICE)
