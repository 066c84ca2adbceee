"""The world state: one persistent value holding every canister, the clock and the counters.

Everything the simulated IC knows lives in a ``World``; a snapshot is a reference to one and a
rollback is putting it back, whatever the number of canisters or contracts.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import attrs
import immutables

from icto.collections.vector import Vector
from icto.ic.principal import Principal
from icto.ic.timers import TimerQueue

RUNNING: Final = "running"
STOPPED: Final = "stopped"
DELETED: Final = "deleted"

LOG_CAPACITY: Final = 1000


@attrs.frozen(slots=True)
class LogRecord:
    """One line of a canister's log: its index (never reused), the IC time and the text."""

    idx: int
    timestamp: int
    content: str


@attrs.frozen(slots=True)
class CanisterLog:
    """The last ``LOG_CAPACITY`` records of a canister; kept across upgrades."""

    records: Vector[LogRecord] = Vector()
    next_idx: int = 0

    def append(self, timestamp: int, content: str) -> CanisterLog:
        records = self.records.append(LogRecord(self.next_idx, timestamp, content))
        if len(records) > 2 * LOG_CAPACITY:
            records = Vector(records[-LOG_CAPACITY:])
        return CanisterLog(records, self.next_idx + 1)

    def tail(self) -> tuple[LogRecord, ...]:
        return tuple(self.records[-LOG_CAPACITY:])


class CanisterRecord(NamedTuple):
    """Everything the IC keeps about one canister.

    ``code`` is the canister class, a ``Canister`` subclass (``None`` when empty);
    ``generation`` counts code changes, so callbacks of an older code version can be recognised.
    A ``NamedTuple`` rather than an attrs record because one is built on every message: it is
    immutable all the same and several times cheaper to construct.
    """

    canister_id: Principal
    code: type[Any] | None
    state: Any
    controllers: tuple[Principal, ...]
    status: str
    cycles: int
    timer_ids: immutables.Map[int, None]
    log: CanisterLog
    generation: int

    def with_state(self, state: Any, cycles: int) -> CanisterRecord:
        record: CanisterRecord = _new_tuple(
            CanisterRecord,
            (self[0], self[1], state, self[3], self[4], cycles, self[6], self[7], self[8]),
        )
        return record

    def with_cycles(self, cycles: int) -> CanisterRecord:
        return self.with_state(self[2], cycles)

    def with_log(self, log: CanisterLog) -> CanisterRecord:
        return self._replace(log=log)


class World(NamedTuple):
    """The whole simulated IC at one moment: an immutable value, so a snapshot is a reference."""

    canisters: immutables.Map[Principal, CanisterRecord]
    timers: TimerQueue
    time: int
    next_canister_index: int
    rand_counter: int

    def with_canister(self, record: CanisterRecord) -> World:
        world: World = _new_tuple(
            World, (self[0].set(record[0], record), self[1], self[2], self[3], self[4])
        )
        return world


MAX_TIME: Final = 2**64 - 1
"""The last instant IC time can name: it is a nat64 of nanoseconds (in the year 2554)."""

AWAIT_GIVEN_UP_NS: Final = 10 * 60 * 10**9
"""How long canister code treats a call of its own as still awaited: a message that trapped
after its call leaves its in-flight marker behind (its last segment rolled back), and a marker
older than this is taken as left behind."""


def within_clock(now: int, delay: int) -> int:
    """``delay`` cut so that ``now + delay`` is at most ``MAX_TIME``: a canister's periodic timer
    near the clock's end (``set_timer`` refuses a deadline past it, as ``ic-cdk-timers``
    does)."""
    return min(delay, MAX_TIME - now)

_new_tuple: Final[Any] = tuple.__new__
