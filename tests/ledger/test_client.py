"""``icto.ledger.client.find_block``: finding a request's block in a ledger's log once the
request is past the ledger's deduplication window."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from icto import IC, PERMITTED_DRIFT_NS, TX_WINDOW_NS, Account, Canister, Principal, update
from icto.ic.proxy import CanisterProxy
from icto.ledger.client import due_first, fee_of, find_block
from icto.ledger.types import TransferArgs


class Finder(Canister):
    """Asks a ledger, as canisters do, for the block of a memo (the predicate ``find_block``
    takes is built here from the memo)."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @update
    def find(self, ledger: Principal, memo: bytes, created_at: int) -> int | str | None:
        return find_block(self, ledger, created_at, lambda block: block.memo == memo)

    @update
    def fee(self, ledger: Principal) -> int | str:
        return fee_of(self, ledger)


class Garbled(Canister):
    """Says it has three blocks, and answers ``get_blocks`` with something else."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @update
    def get_transaction_count(self) -> int:
        return 3

    @update
    def get_blocks(self, start: int, length: int) -> Any:
        return "not blocks"


@pytest.fixture
def finder(ic: IC) -> CanisterProxy:
    return ic.deploy(Finder)


def _send(ledger: CanisterProxy, sender: Principal, to: Principal, memo: bytes, at: int) -> int:
    args = TransferArgs(to=Account(to), amount=1, memo=memo, created_at_time=at)
    index: int = ledger.as_caller(sender).icrc1_transfer(args).unwrap()
    return index


def test_the_block_of_a_request_is_found_among_many_and_only_in_its_window(
    ic: IC, ledger: CanisterProxy, finder: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """Blocks before and after the request, over three days; the request's block is found,
    and a memo used again outside the request's possible window is not mistaken for it."""
    for n in range(250):
        _send(ledger, alice, bob, f"early {n}".encode(), ic.time)
    ic.advance_time(days=1)
    at = ic.time
    wanted = _send(ledger, alice, bob, b"the request", at)
    for n in range(250):
        _send(ledger, alice, bob, f"later {n}".encode(), ic.time)
    ic.advance_time(days=2)
    _send(ledger, alice, bob, b"the request", ic.time)  # the same memo, long after
    assert finder.find(ledger.id, b"the request", at) == wanted
    assert finder.find(ledger.id, b"never sent", at) is None
    later = at + 2 * (TX_WINDOW_NS + PERMITTED_DRIFT_NS)  # after the memo's reuse
    assert finder.find(ledger.id, b"the request", later) is None


def test_a_log_that_does_not_read_as_blocks_is_a_reason_not_a_trap(
    ic: IC, finder: CanisterProxy
) -> None:
    garbled = ic.deploy(Garbled)
    answer = finder.find(garbled.id, b"memo", ic.time)
    assert isinstance(answer, str) and "not blocks" in answer


class OddFee(Canister):
    """Answers ``icrc1_fee`` with whatever it was installed with."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = arg

    @update
    def icrc1_fee(self) -> Any:
        return self.state


def test_a_ledger_fee_is_a_nat_or_a_reason(
    ic: IC, ledger: CanisterProxy, finder: CanisterProxy
) -> None:
    """``fee_of`` gives a nat fee, or why there is none: a fee that is not a nat (negative, a
    bool, text) would otherwise go into a transfer's arguments and trap the canister there."""
    assert finder.fee(ledger.id) == ledger.icrc1_fee()
    for odd in (-1, True, "10000", 1.5):
        reason = finder.fee(ic.deploy(OddFee, odd).id)
        assert isinstance(reason, str) and "not a nat" in reason, odd


@attrs.frozen
class Journalled:
    settle_from: int


def test_due_first_gives_the_longest_due_requests_first_and_only_those_due() -> None:
    """Requests due by now, by how long they have been due (then by number), at most as many
    as asked: one sent again and still in doubt, due again from then, goes to the back."""
    requests = {
        7: Journalled(5), 3: Journalled(9), 9: Journalled(5), 4: Journalled(11), 1: Journalled(2),
    }
    assert due_first(requests, 10, 10) == [1, 7, 9, 3]
    assert due_first(requests, 10, 2) == [1, 7]
    assert due_first(requests, 1, 10) == []
    requests[1] = Journalled(10)  # resent at 10, still in doubt
    assert due_first(requests, 10, 2) == [7, 9]
