"""The call context: what one executing message is, and what its code may ask of the system.

The bottom of the message layer. A ``CallContext`` is built by the router for each message and
handed to the canister's code with its state; ``Host`` is the small interface that code calls
back into (the router implements it). Nothing here imports the router, so canister code, the
router and the management canister all stand on this module and none of them on each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias

from icto.ic.principal import Principal

if TYPE_CHECKING:
    from icto.ic.trace import TraceEntry
    from icto.ic.world import CanisterRecord

# Message kinds.
INGRESS: Final = "ingress"  # ingress update call
INGRESS_QUERY: Final = "query"  # ingress query call
CALL: Final = "call"  # inter-canister call
TIMER: Final = "timer"
HOOK: Final = "hook"  # init / pre_upgrade / post_upgrade inside install_code

MANAGEMENT_ID: Final = Principal.management_canister()


class InjectedTrap(RuntimeError):
    """The trap a ``ic.faults.trap`` rule raises at the end of the callee's method."""


class CallContextLost(BaseException):
    """The canister's code changed while it awaited a call: the rest of the method is dropped.

    A ``BaseException`` so canister code's ``except Exception`` cannot swallow it.
    """


Segment: TypeAlias = list[Any]
"""The router's bookkeeping for the part of a message since its last call (mutable, never world
state): ``[start, start_timers, pending_charge, cycles_accepted, accepted_at_start]``, indexed by
the names below. ``start`` and ``start_timers`` are the canisters and the timer queue a trap rolls
back to (nothing else in the world changes within a segment); ``pending_charge`` is the execution
fee not yet taken from the canister (it goes with the segment's first commit, or after a trap's
rollback, so each message writes the world once); ``cycles_accepted`` counts the attached cycles
taken so far, and ``accepted_at_start`` what a trap of this segment puts that count back to. A
plain list because one is made for every message and a list is the cheapest mutable record."""

START: Final = 0
START_TIMERS: Final = 1
PENDING_CHARGE: Final = 2
CYCLES_ACCEPTED: Final = 3
ACCEPTED_AT_START: Final = 4


CallContext: TypeAlias = tuple[
    "Host", Principal, Principal, int, int, int, bool, bool, int, "TraceEntry | None", Segment
]
"""One executing message: who runs it, for whom, when, and the router serving it, as a plain
tuple read by the index names below: ``(host, canister_id, caller, time, depth, generation,
is_query, can_call, cycles_available, trace_entry, segment)``.

Immutable, so canister code cannot make its calls come from someone else; the mutable part is
the router's ``segment``. Never part of the world. A plain tuple rather than a ``NamedTuple``
because one is built for every message and read on every call: CPython unpacks and indexes an
exact tuple on its fast path, and a tuple subclass through the generic iterator and item
protocols (about 7 % of an inter-canister call)."""

HOST: Final = 0
CANISTER_ID: Final = 1
CALLER: Final = 2
TIME: Final = 3
DEPTH: Final = 4
GENERATION: Final = 5
IS_QUERY: Final = 6
"""A query (or composite query) runs: nothing it does reaches the world."""
CAN_CALL: Final = 7
"""Calls are allowed: ``False`` in ``init`` / ``pre_upgrade`` / ``post_upgrade`` and plain
queries."""
CYCLES_AVAILABLE: Final = 8
"""Cycles attached to the message (what it may accept)."""
TRACE_ENTRY: Final = 9
SEGMENT: Final = 10


class View(Protocol):
    """A canister instance as the router sees it: its state and its context."""

    state: Any

    @property
    def _msg(self) -> CallContext: ...


class Host(Protocol):
    """What canister code can ask of the system during a message (the router implements it)."""

    def inter_canister_call(
        self,
        instance: View,
        ctx: CallContext,
        callee: Principal,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        cycles: int,
        query_only: bool,
    ) -> Any: ...

    def set_timer(
        self, instance: View, delay_ns: int, method: str, args: tuple[Any, ...]
    ) -> int: ...

    def cancel_timer(self, ctx: CallContext, timer_id: int) -> bool: ...

    def accept_cycles(self, ctx: CallContext, max_amount: int) -> int: ...

    def balance_seen_by(self, ctx: CallContext) -> int: ...

    def append_log(self, ctx: CallContext, text: str) -> None: ...

    def record_of(self, canister_id: Principal) -> CanisterRecord: ...

    def awaiting(self, canister_id: Principal) -> bool: ...
