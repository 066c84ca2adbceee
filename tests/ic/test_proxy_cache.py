"""A proxy keeps the callables it built, and still follows the code the canister runs now."""

from __future__ import annotations

import pytest

from icto import IC, Canister, query, update
from tests.ic.toys import Counter, Tally


class CounterV3(Canister):
    """``inc`` is gone, ``get`` is an update now."""

    VERSION = "3.0.0"

    def post_upgrade(self, stable: Tally, arg: None) -> None:
        self.state = stable

    @update
    def get(self) -> int:
        self.state = Tally(self.state.n + 100)
        return self.state.n


class CounterV4(Canister):
    VERSION = "4.0.0"

    def post_upgrade(self, stable: Tally, arg: None) -> None:
        self.state = stable

    @query
    def get(self) -> int:
        return self.state.n


def test_a_method_used_before_an_upgrade_that_removed_it_is_gone(ic: IC) -> None:
    counter = ic.deploy(Counter)
    assert counter.inc(1) == 1
    ic.upgrade_canister(counter.id, CounterV3)
    with pytest.raises(AttributeError, match="inc"):
        counter.inc(1)
    assert not hasattr(counter, "inc")


def test_a_method_whose_kind_changed_is_sent_as_its_new_kind(ic: IC) -> None:
    counter = ic.deploy(Counter)
    counter.inc(5)
    assert counter.get() == 5  # a query: nothing changes
    ic.upgrade_canister(counter.id, CounterV3)
    assert counter.get() == 105  # an update now: its change is kept
    assert ic.state_of(counter.id) == Tally(105)
    ic.upgrade_canister(counter.id, CounterV4)
    assert counter.get() == 105
    assert ic.trace.last(1)[0].kind == "query"


def test_each_proxy_keeps_its_caller(ic: IC) -> None:
    counter = ic.deploy(Counter)
    alice, bob = (counter.as_caller(ic.create_canister()) for _ in range(2))
    assert alice.whoami() == alice.caller
    assert bob.whoami() == bob.caller != alice.caller
