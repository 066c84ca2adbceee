"""``icto.ledger.client.settle``: a request whose answer does not say what happened is left
in doubt, never taken for a block (nor a trap in the canister that sent it)."""

from __future__ import annotations

from typing import Any

import pytest

from icto import IC, Account, Canister, Ok, Principal, update
from icto.ledger.client import LedgerFailure, memo_of, settle
from icto.ledger.types import TransferArgs


class Sender(Canister):
    """Sends one transfer through ``settle``, as canisters do, and says what it learnt."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @update
    def send(self, ledger: Principal, to: Principal) -> int | LedgerFailure:
        args = TransferArgs(
            to=Account(to), amount=1, memo=memo_of("one"), created_at_time=self.time
        )
        return settle(self, ledger, "icrc1_transfer", args)


class OddLedger(Canister):
    """Answers a transfer with whatever it was installed with."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = arg

    @update
    def icrc1_transfer(self, args: Any) -> Any:
        return self.state


@pytest.mark.parametrize("answer", [Ok("block-1"), Ok(-1), Ok(None), "7", None])
def test_an_answer_that_is_neither_a_block_nor_an_error_leaves_the_request_in_doubt(
    ic: IC, alice: Principal, answer: Any
) -> None:
    odd = ic.deploy(OddLedger, answer)
    outcome = ic.deploy(Sender).send(odd.id, alice)
    assert isinstance(outcome, LedgerFailure)
    assert outcome.in_doubt and not outcome.expired
    assert "neither a block nor an error" in outcome.reason
