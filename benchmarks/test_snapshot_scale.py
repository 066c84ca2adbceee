"""Snapshots are O(1): snapshot + one update + restore costs the same at 1k and 1M.

Two ways to grow the world: many canisters, or one canister with a large state map.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import immutables
import pytest

from benchmarks.conftest import LARGE, SMALL
from icto import IC, Canister, update
from tests.ic.toys import Counter


@attrs.frozen
class Table:
    rows: immutables.Map[int, int]


class BigTable(Canister):
    def init(self, size: int) -> None:
        empty: immutables.Map[int, int] = immutables.Map()
        with empty.mutate() as rows:
            for key in range(size):
                rows[key] = key
            self.state = Table(rows.finish())

    @update
    def bump(self, key: int) -> int:
        value: int = self.state.rows.get(key, 0) + 1
        self.state = Table(self.state.rows.set(key, value))
        return value


def world_with_canisters(count: int) -> tuple[IC, Any]:
    ic = IC(trace=False)
    counter = ic.deploy(Counter)
    for _ in range(count - 1):
        ic.create_canister()
    return ic, counter


@pytest.mark.parametrize(("key", "count"), [("snap_canisters_small", SMALL),
                                            ("snap_canisters_large", LARGE)])  # fmt: skip
def test_snapshot_update_restore_with_many_canisters(
    measure: Callable[..., Any], key: str, count: int
) -> None:
    ic, counter = world_with_canisters(count)

    def run() -> None:
        snap = ic.snapshot()
        counter.inc(1)
        ic.restore(snap)

    measure(key, run)
    assert counter.get() == 0


@pytest.mark.parametrize(("key", "size"), [("snap_entries_small", SMALL),
                                           ("snap_entries_large", LARGE)])  # fmt: skip
def test_snapshot_update_restore_with_a_large_state(
    measure: Callable[..., Any], key: str, size: int
) -> None:
    ic = IC(trace=False)
    table = ic.deploy(BigTable, size)

    def run() -> None:
        with ic.anchor():
            table.bump(size // 2)

    measure(key, run)
    assert ic.state_of(table.id).rows[size // 2] == size // 2
