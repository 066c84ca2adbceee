"""Ledger transfers cost the same with 1k or 1M accounts holding balances.

Aims: ``transfer_large`` / ``transfer_small`` at most 2x (``RATIOS``), and each an ICRC-1 transfer
through the router in at most 8 µs median (``ABSOLUTE`` in ``conftest.py``).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import attrs
import immutables
import pytest

from benchmarks.conftest import LARGE, SMALL
from icto import E8S, IC, Account, LedgerInit, Principal, TransferArgs, deploy_ledger

FEE = 10_000
OPS = 200


def ledger_with_accounts(count: int) -> tuple[IC, Any, Principal]:
    """A ledger whose balances map holds ``count`` accounts (built directly for speed), frozen
    out of the garbage collector's reach as a long-running process would."""
    ic = IC(trace=False)
    sender = Principal.from_name("sender")
    init = LedgerInit(
        name="Bench", symbol="BN", transfer_fee=FEE,
        minting_account=Account(Principal.from_name("mint")),
        initial_balances=((Account(sender), 10**6 * E8S),),
    )  # fmt: skip
    ledger = deploy_ledger(ic, init)
    state = ic.state_of(ledger.id)
    with state.balances.mutate() as balances:
        for index in range(count - 1):
            balances[Account(Principal.from_canister_index(index))] = 1
        filled = balances.finish()
    record = ic.world.canisters[ledger.id]
    seeded = attrs.evolve(state, balances=filled, total_supply=state.total_supply + count - 1)
    ic.restore(ic.world.with_canister(record.with_state(seeded, record.cycles)))
    gc.freeze()
    return ic, ledger, sender


@pytest.mark.parametrize(("key", "count"), [("transfer_small", SMALL), ("transfer_large", LARGE)])
def test_transfer_cost_does_not_grow_with_accounts(
    measure: Callable[..., Any], key: str, count: int
) -> None:
    ic, ledger, sender = ledger_with_accounts(count)
    payer = ledger.as_caller(sender)
    targets = [Account(Principal.from_canister_index(i)) for i in range(OPS)]

    def run() -> None:
        with ic.anchor():
            for to in targets:
                payer.icrc1_transfer(TransferArgs(to=to, amount=1))

    measure(key, run, OPS)
    assert len(ic.state_of(ledger.id).balances) == count
    assert isinstance(ic.state_of(ledger.id).balances, immutables.Map)
