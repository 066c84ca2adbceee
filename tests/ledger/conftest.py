"""Ledger fixtures: a fresh IC with a small ICP-like ledger and funded users."""

from __future__ import annotations

import pytest

from icto import E8S, IC, Account, LedgerInit, Principal, deploy_ledger
from icto.ic.proxy import CanisterProxy

FEE = 10_000


@pytest.fixture
def minter() -> Principal:
    return Principal.from_name("minter")


@pytest.fixture
def ledger(ic: IC, minter: Principal, alice: Principal, bob: Principal) -> CanisterProxy:
    """Alice holds 10 tokens and Bob 1 (blocks 0 and 1); fee 10_000; minting account = minter."""
    init = LedgerInit(
        name="Test Token",
        symbol="TST",
        transfer_fee=FEE,
        minting_account=Account(minter),
        initial_balances=((Account(alice), 10 * E8S), (Account(bob), 1 * E8S)),
    )
    return deploy_ledger(ic, init)
