"""A toy canister whose state is any nested value, for the persistence tests."""

from __future__ import annotations

import enum
from typing import Any

import attrs

from icto import MANAGEMENT_ID, Canister, Principal, query, update


class Colour(enum.Enum):
    RED = "red"
    BLUE = 2


class Access(enum.Flag):
    """A flag: ``READ | WRITE`` and ``Access(0)`` are values without a member name."""

    READ = 1
    WRITE = 2


def _doubled(n: int) -> int:
    return n * 2


@attrs.frozen
class Box:
    """An attrs record whose converter must not run again on load (it would double ``n``)."""

    n: int = attrs.field(converter=_doubled)
    payload: Any = None


@attrs.frozen(cache_hash=True)
class Cached:
    """A record that caches its hash (the cache is not saved: it starts empty on load)."""

    key: Any


class Keeper(Canister):
    """Keeps whatever value it is given; ticks by timer; draws randomness; logs."""

    def init(self, arg: Any) -> None:
        self.state = arg

    @update
    def put(self, value: Any) -> None:
        self.state = value

    @update
    def schedule(self, delay_ns: int, label: str) -> int:
        return self.set_timer(delay_ns, "ring", label)

    @update
    def ring(self, label: str) -> None:
        self.log(f"ring {label} at {self.time}")
        self.state = (self.state, label, self.time)

    @update
    def draw(self) -> bytes:
        randomness: bytes = self.call(MANAGEMENT_ID, "raw_rand")
        return randomness

    @query
    def get(self) -> Any:
        return self.state

    @query
    def whoami(self) -> Principal:
        return self.id
