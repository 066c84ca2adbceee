"""The holder hook: a ledger subclass learns when owners start or stop holding tokens.

"Holding" is per owner: any of its accounts with a positive balance. The hook fires once per
transaction that changes the set of holders, never on a transfer that leaves it as it was.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from icto import (
    E8S,
    IC,
    Account,
    ApproveArgs,
    LedgerInit,
    Principal,
    TransferArgs,
)
from icto.ic.proxy import CanisterProxy
from icto.ledger import Ledger

FEE = 10_000
ANN, BEN, CAT = (Principal.from_name(n) for n in ("ann", "ben", "cat"))
MINTER = Account(Principal.from_name("mint"))
SUB = bytes(31) + b"\x07"


class HookedLedger(Ledger):
    """Writes each holder change to its canister log, where a test can read it."""

    def on_holders_changed(
        self, added: tuple[Principal, ...], removed: tuple[Principal, ...]
    ) -> None:
        self.log(f"+{sorted(map(str, added))} -{sorted(map(str, removed))}")


def deploy(ic: IC) -> CanisterProxy:
    init = LedgerInit(
        name="Hooked", symbol="HK", transfer_fee=FEE, minting_account=MINTER,
        initial_balances=((Account(ANN), E8S),),
    )  # fmt: skip
    return ic.deploy(HookedLedger, init)


def changes(ic: IC, ledger: CanisterProxy) -> list[str]:
    return [r.content for r in ic.canister_logs(ledger.id)]


def test_a_first_positive_balance_adds_the_owner(ic: IC) -> None:
    ledger = deploy(ic)
    ledger.as_caller(ANN).icrc1_transfer(TransferArgs(to=Account(BEN), amount=100))
    assert changes(ic, ledger) == [f"+['{BEN}'] -[]"]


def test_emptying_the_last_account_removes_the_owner(ic: IC) -> None:
    ledger = deploy(ic)
    ledger.as_caller(ANN).icrc1_transfer(TransferArgs(to=Account(BEN), amount=E8S - FEE))
    assert changes(ic, ledger) == [f"+['{BEN}'] -['{ANN}']"]


def test_moving_between_own_subaccounts_changes_nothing(ic: IC) -> None:
    ledger = deploy(ic)
    ledger.as_caller(ANN).icrc1_transfer(TransferArgs(to=Account(ANN, SUB), amount=E8S - FEE))
    assert changes(ic, ledger) == []


def test_transfers_between_existing_holders_do_not_call_the_hook(ic: IC) -> None:
    ledger = deploy(ic)
    ledger.as_caller(ANN).icrc1_transfer(TransferArgs(to=Account(BEN), amount=1_000))
    ledger.as_caller(ANN).icrc1_transfer(TransferArgs(to=Account(BEN), amount=1_000))
    ledger.as_caller(BEN).icrc1_transfer(TransferArgs(to=Account(ANN), amount=10))
    assert len(changes(ic, ledger)) == 1


def test_mint_burn_and_an_approval_fee_count(ic: IC) -> None:
    ledger = deploy(ic)
    ledger.as_caller(MINTER.owner).icrc1_transfer(TransferArgs(to=Account(CAT), amount=FEE))
    ledger.as_caller(CAT).icrc2_approve(ApproveArgs(spender=Account(BEN), amount=5))
    assert changes(ic, ledger) == [f"+['{CAT}'] -[]", f"+[] -['{CAT}']"]
    ledger.as_caller(ANN).icrc1_transfer(TransferArgs(to=MINTER, amount=E8S))
    assert changes(ic, ledger)[-1] == f"+[] -['{ANN}']"


def test_failed_transactions_do_not_call_the_hook(ic: IC) -> None:
    ledger = deploy(ic)
    ledger.as_caller(BEN).icrc1_transfer(TransferArgs(to=Account(CAT), amount=1))
    assert changes(ic, ledger) == []


moves = st.lists(
    st.tuples(
        st.sampled_from([ANN, BEN, CAT]),
        st.sampled_from([None, SUB]),
        st.sampled_from([Account(p, s) for p in (ANN, BEN, CAT) for s in (None, SUB)]),
        st.integers(0, E8S // 2),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(moves)
def test_the_holder_counts_match_the_balances(transfers: list[tuple[Any, ...]]) -> None:
    ic = IC(trace=False)
    ledger = deploy(ic)
    for owner, sub, to, amount in transfers:
        ledger.as_caller(owner).icrc1_transfer(
            TransferArgs(to=to, amount=amount, from_subaccount=sub)
        )
    state = ic.state_of(ledger.id)
    expected: dict[Principal, int] = {}
    for owner in (ANN, BEN, CAT):
        positive = sum(1 for sub in (None, SUB) if ledger.icrc1_balance_of(Account(owner, sub)) > 0)
        if positive:
            expected[owner] = positive
    assert dict(state.holders.items()) == expected
