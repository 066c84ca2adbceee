"""The router: delivers every message and applies the IC's message semantics.

Rules (the IC interface specification's, numbered as in the design):

1. An update runs as one atomic message. A trap (any exception but ``Reject``) restores the
   canister to the start of the current *segment* and rejects with 5 / ``IC0503``.
2. ``self.call`` ends a segment: the caller's state is committed, the callee runs as its own
   message, and the caller resumes in a new segment seeing whatever the world holds then.
3. ``raise Reject(msg)`` keeps the segment's changes and rejects with 4 / ``IC0406``.
4. Rejects reach the caller as ``CallRejected``.
5. Destination errors: unknown / deleted canister, missing method, empty or stopped canister.
6. The caller is the user (ingress) or the calling canister; canister code cannot choose it.
7. Reentrancy is allowed.
8. Call depth is limited.

A segment never sees another canister run (calls end segments), so rolling a trap back is putting
back the world as it was when the segment began: O(1), whatever the size of the world. Cycles
charged for execution and the canister's log survive the rollback, as on the IC.
"""

from __future__ import annotations

import traceback
from typing import Any, Final, NamedTuple

from icto.ic import cycles as costs
from icto.ic.canister import QUERY, RESERVED_NAMES, Canister, MethodSpec, check_state
from icto.ic.errors import CallRejected, CallsNotAllowed, ErrorCode, InvalidArguments, Reject
from icto.ic.errors import RejectCode as RC
from icto.ic.faults import FaultRule, Faults
from icto.ic.principal import Principal
from icto.ic.trace import Trace, TraceEntry
from icto.ic.world import DELETED, RUNNING, STOPPED, CanisterRecord, World, _new_tuple

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


class Segment:
    """Router bookkeeping for the current segment of a message (mutable, never world state).

    ``start`` is the world a trap rolls back to; ``pending_charge`` is the execution fee not yet
    taken from the canister (it is taken with the segment's commit, or after a trap's rollback,
    so each message costs one world write less).
    """

    __slots__ = ("accepted_at_start", "cycles_accepted", "pending_charge", "start")

    def __init__(self, start: World, pending_charge: int) -> None:
        self.start = start
        self.pending_charge = pending_charge
        self.cycles_accepted = 0
        self.accepted_at_start = 0


class Message(NamedTuple):
    """The identity of one executing message: immutable, so canister code cannot make its calls
    come from someone else. Router-owned; never part of the world."""

    router: Router
    canister_id: Principal
    caller: Principal
    time: int
    depth: int
    code: type[Canister]
    generation: int
    is_query: bool
    can_call: bool
    cycles_available: int
    trace_entry: TraceEntry | None
    segment: Segment


def _reject(
    code: RC, error: ErrorCode, message: str, callee: Principal, method: str
) -> CallRejected:
    return CallRejected(code, error.value, message, callee, method)


def _view(code: type[Canister], msg: Message, state: Any) -> Canister:
    """A fresh instance of the canister class for one message: its context and its state."""
    instance: Canister = object.__new__(code)
    object.__setattr__(instance, "_msg", msg)
    object.__setattr__(instance, "state", state)
    return instance


def _mark_trap(entry: TraceEntry | None, exc: BaseException, fault: FaultRule | None) -> None:
    if entry is not None:
        entry.outcome = "trap"
        entry.injected = isinstance(exc, InjectedTrap) and fault is not None
        entry.traceback = "".join(traceback.format_exception(exc))


def _trap_message(callee: Principal, exc: BaseException) -> str:
    if isinstance(exc, CallRejected):
        return f"Canister {callee} trapped: unhandled reject: {exc}"
    text = str(exc)
    return f"Canister {callee} trapped: {type(exc).__name__}" + (f": {text}" if text else "")


class Router:
    """Owns the world and delivers messages. ``IC`` adds the test-facing API on top."""

    def __init__(self, world: World, max_call_depth: int, trace: bool) -> None:
        if not isinstance(max_call_depth, int) or max_call_depth < 1:
            raise ValueError(f"max_call_depth must be a positive int, got {max_call_depth!r}")
        self._world = world
        self.max_call_depth = max_call_depth
        self.trace = Trace(enabled=trace)
        self.faults = Faults()
        from icto.ic.management import ManagementCanister

        self._management = ManagementCanister(self)

    # -- world access -------------------------------------------------------------------------

    @property
    def world(self) -> World:
        return self._world

    def record_of(self, canister_id: Principal) -> CanisterRecord:
        return self._world.canisters[canister_id]

    def _put(self, record: CanisterRecord) -> None:
        self._world = self._world.with_canister(record)

    # -- delivery -----------------------------------------------------------------------------

    def deliver(
        self,
        caller: Principal,
        callee: Principal,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        depth: int,
        kind: str,
        cycles: int = 0,
        parent: Message | None = None,
        query_only: bool = False,
    ) -> Any:
        """Deliver one message and return its reply, or raise ``CallRejected``.

        ``cycles`` were already taken from the calling canister; whatever the callee does not
        accept is refunded to it here.
        """
        entry = None
        if self.trace.enabled:
            entry = self.trace.open(
                parent.trace_entry if parent is not None else None,
                depth, kind, caller, callee, method, args, kwargs, self._world.time,
            )  # fmt: skip
        accepted = 0
        fault = None
        try:
            if self.faults.rules:
                fault = self.faults.match(callee, method)
                if fault is not None and fault.kind == "reject":
                    raise CallRejected(fault.code, fault.error_code, fault.message, callee, method)
            record = self._world.canisters.get(callee)
            if record is None and callee.is_management_canister:
                result, accepted = self._management.handle(
                    caller, method, args, kwargs, cycles, kind, entry, fault
                )
            else:
                result, accepted = self._execute(
                    record, caller, callee, method, args, kwargs, depth, kind, cycles, parent,
                    query_only, fault, entry,
                )  # fmt: skip
        except CallRejected as rejected:
            if entry is not None:
                if entry.outcome == "pending":
                    entry.outcome = "reject"
                entry.reject_code = rejected.reject_code
                entry.error_code = rejected.error_code
                entry.message = rejected.message
                entry.injected = entry.injected or (
                    fault is not None and rejected.message == fault.message
                )
            if cycles > rejected.cycles_accepted:
                self._refund(caller, cycles - rejected.cycles_accepted)
            raise
        if entry is not None:
            entry.outcome = "reply"
            entry.result = result
        if cycles > accepted:
            self._refund(caller, cycles - accepted)
        return result

    def _refund(self, caller: Principal, amount: int) -> None:
        record = self._world.canisters.get(caller)
        if record is not None and record.status != DELETED:
            self._put(record.with_cycles(record.cycles + amount))

    def _resolve(
        self, record: CanisterRecord | None, callee: Principal, method: str, query_only: bool
    ) -> tuple[CanisterRecord, MethodSpec]:
        """The method a message addresses, or the destination error the IC gives."""
        if record is None or record.status == DELETED:
            raise _reject(
                RC.DESTINATION_INVALID, ErrorCode.CANISTER_NOT_FOUND,
                f"Canister {callee} not found", callee, method,
            )  # fmt: skip
        code = record.code
        if code is None:
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_WASM_MODULE_NOT_FOUND,
                f"Canister {callee} is empty: it has no code installed", callee, method,
            )  # fmt: skip
        spec = code.__icto_methods__.get(method)
        if spec is None or (query_only and spec.kind != QUERY):
            kind = "query" if query_only else "update or query"
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_METHOD_NOT_FOUND,
                f"Canister {callee} ({code.__name__}) has no {kind} method {method!r}",
                callee, method,
            )  # fmt: skip
        if record.status != RUNNING:
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_STOPPED,
                f"Canister {callee} is stopped", callee, method,
            )  # fmt: skip
        return record, spec

    def _execute(
        self,
        record_or_none: CanisterRecord | None,
        caller: Principal,
        callee: Principal,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        depth: int,
        kind: str,
        cycles: int,
        parent: Message | None,
        query_only: bool,
        fault: FaultRule | None,
        entry: TraceEntry | None,
    ) -> tuple[Any, int]:
        record, spec = self._resolve(
            record_or_none, callee, method, query_only or kind == INGRESS_QUERY
        )
        problem = spec.check_arguments(args, kwargs)
        if problem is not None:
            raise InvalidArguments(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_CALLED_TRAP.value,
                f"Canister {callee} trapped decoding arguments: {problem}", callee, method,
            )  # fmt: skip
        non_replicated = kind == INGRESS_QUERY or (
            parent is not None and parent.is_query and query_only
        )
        if spec.composite and not non_replicated:
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_CONTRACT_VIOLATION,
                f"Composite query {method!r} cannot be called in replicated mode", callee, method,
            )  # fmt: skip
        if non_replicated:
            return self._run_query(record, spec, caller, args, kwargs, depth, fault, entry), 0
        cost = costs.UPDATE_MESSAGE + (costs.INGRESS_MESSAGE if kind == INGRESS else 0)
        if record.cycles < cost:
            raise _reject(
                RC.SYS_TRANSIENT, ErrorCode.CANISTER_OUT_OF_CYCLES,
                f"Canister {callee} is out of cycles: balance {record.cycles}, "
                f"needs {cost} to execute a message", callee, method,
            )  # fmt: skip
        if entry is not None:
            entry.cycles = cost
        if spec.kind == QUERY:
            self._put(record.with_cycles(record.cycles - cost))
            return self._run_query(record, spec, caller, args, kwargs, depth, fault, entry), 0
        return self._run_update(
            record, spec.fn, method, caller, args, kwargs, depth, cycles, cost, fault, entry
        )

    def _run_update(
        self,
        record: CanisterRecord,
        fn: Any,
        method: str,
        caller: Principal,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        depth: int,
        cycles: int,
        charge: int,
        fault: FaultRule | None,
        entry: TraceEntry | None,
    ) -> tuple[Any, int]:
        """Run an update message; ``charge`` is taken with its first commit (or after a trap)."""
        code = record.code
        assert code is not None
        callee = record.canister_id
        segment = Segment(self._world, charge)
        msg = _new_tuple(
            Message,
            (self, callee, caller, self._world.time, depth, code, record.generation, False, True,
             cycles, entry, segment),
        )  # fmt: skip
        instance = _view(code, msg, record.state)
        try:
            result = fn(instance, *args, **kwargs)
            if fault is not None:
                raise InjectedTrap(fault.message)
            self._commit(msg, instance)
        except Reject as reject:
            try:
                if fault is not None:
                    raise InjectedTrap(fault.message) from None
                self._commit(msg, instance)
            except Exception as exc:
                raise self._trap(msg, exc, entry, method, fault) from exc
            if entry is not None:
                entry.outcome = "reject"
            rejected = _reject(
                RC.CANISTER_REJECT, ErrorCode.CANISTER_REJECTED_MESSAGE, reject.message,
                callee, method,
            )  # fmt: skip
            rejected.cycles_accepted = segment.cycles_accepted
            raise rejected from None
        except CallContextLost:
            rejected = _reject(
                RC.CANISTER_REJECT, ErrorCode.CANISTER_REJECTED_MESSAGE,
                f"Canister {callee} was upgraded, reinstalled or uninstalled while awaiting a "
                f"call; the rest of {method!r} was dropped", callee, method,
            )  # fmt: skip
            rejected.cycles_accepted = segment.cycles_accepted
            raise rejected from None
        except Exception as exc:
            raise self._trap(msg, exc, entry, method, fault) from exc
        return result, segment.cycles_accepted

    def _commit(self, msg: Message, instance: Canister) -> None:
        """End a segment: store the instance's state (and any pending charge) in the world."""
        segment = msg.segment
        record = self._world.canisters[msg.canister_id]
        state = instance.state
        charge = segment.pending_charge
        if (state is not record.state or charge) and record.generation == msg.generation:
            if state is not record.state:
                check_state(state)
            self._put(record.with_state(state, record.cycles - charge))
            segment.pending_charge = 0

    def _trap(
        self,
        msg: Message,
        exc: BaseException,
        entry: TraceEntry | None,
        method: str,
        fault: FaultRule | None,
    ) -> CallRejected:
        """Roll the current segment back and build the reject its caller receives.

        The log written so far and the execution fee survive the rollback, as on the IC.
        """
        callee = msg.canister_id
        segment = msg.segment
        current = self._world.canisters.get(callee)
        self._world = segment.start
        segment.cycles_accepted = segment.accepted_at_start
        message = _trap_message(callee, exc)
        restored = self._world.canisters.get(callee)
        if restored is not None and current is not None and restored.generation == msg.generation:
            self._put(
                restored._replace(
                    cycles=restored.cycles - segment.pending_charge,
                    log=current.log.append(self._world.time, f"[TRAP]: {message}"),
                )
            )
            segment.pending_charge = 0
        _mark_trap(entry, exc, fault)
        rejected = _reject(
            RC.CANISTER_ERROR, ErrorCode.CANISTER_CALLED_TRAP, message, callee, method
        )
        rejected.cycles_accepted = segment.cycles_accepted
        return rejected

    def _run_query(
        self,
        record: CanisterRecord,
        spec: MethodSpec,
        caller: Principal,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        depth: int,
        fault: FaultRule | None,
        entry: TraceEntry | None,
    ) -> Any:
        """Run a query on a throwaway view: nothing it assigns reaches the world."""
        code = record.code
        assert code is not None
        callee = record.canister_id
        msg = Message(
            self, callee, caller, self._world.time, depth, code, record.generation,
            True, spec.composite, 0, entry, Segment(self._world, 0),
        )  # fmt: skip
        instance = _view(code, msg, record.state)
        try:
            try:
                result = spec.fn(instance, *args, **kwargs)
            except Reject:
                if fault is None:
                    raise
            if fault is not None:
                raise InjectedTrap(fault.message)
        except Reject as reject:
            raise _reject(
                RC.CANISTER_REJECT, ErrorCode.CANISTER_REJECTED_MESSAGE, reject.message,
                callee, spec.name,
            ) from None  # fmt: skip
        except Exception as exc:
            _mark_trap(entry, exc, fault)
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_CALLED_TRAP, _trap_message(callee, exc),
                callee, spec.name,
            ) from exc  # fmt: skip
        return result

    # -- what canister code can do ------------------------------------------------------------

    def inter_canister_call(
        self,
        instance: Canister,
        callee: Principal,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        cycles: int,
        query_only: bool,
    ) -> Any:
        msg = instance._msg
        if not msg.can_call:
            where = "a query" if msg.is_query else "init, pre_upgrade or post_upgrade"
            raise CallsNotAllowed(f"canisters cannot make calls from {where} (called {method!r})")
        if msg.is_query and not query_only:
            raise CallsNotAllowed("a composite query can only call queries (use self.query_call)")
        if callee.__class__ is not Principal:
            raise TypeError(f"callee must be a Principal, not {type(callee).__name__}")
        if method.__class__ is not str:
            raise TypeError(f"method must be str, not {type(method).__name__}")
        if cycles.__class__ is not int or cycles < 0:
            raise TypeError(f"cycles must be a non-negative int, got {cycles!r}")
        if msg.depth >= self.max_call_depth:
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.CALL_GRAPH_TOO_DEEP,
                f"call depth limit {self.max_call_depth} reached calling {method!r}",
                callee, method,
            )  # fmt: skip
        if msg.is_query:
            return self.deliver(
                msg.canister_id, callee, method, args, kwargs, msg.depth + 1, CALL, 0, msg, True
            )
        segment = msg.segment
        record = self._world.canisters[msg.canister_id]
        cost = costs.INTER_CANISTER_CALL + cycles + segment.pending_charge
        if record.cycles < cost:
            raise _reject(
                RC.SYS_TRANSIENT, ErrorCode.CANISTER_OUT_OF_CYCLES,
                f"Canister {msg.canister_id} cannot pay {cost} cycles to call {method!r} "
                f"(balance {record.cycles})", callee, method,
            )  # fmt: skip
        state = instance.state
        if state is not record.state:
            check_state(state)
        self._world = self._world.with_canister(record.with_state(state, record.cycles - cost))
        segment.pending_charge = 0
        try:
            return self.deliver(
                msg.canister_id, callee, method, args, kwargs, msg.depth + 1, CALL, cycles, msg,
                query_only,
            )  # fmt: skip
        finally:
            self._resume(msg, instance)

    def _resume(self, msg: Message, instance: Canister) -> None:
        """Start the segment after a call: reload the state the world now holds."""
        record = self._world.canisters.get(msg.canister_id)
        if record is None or record.generation != msg.generation or record.status == DELETED:
            raise CallContextLost()
        object.__setattr__(instance, "state", record.state)
        segment = msg.segment
        segment.start = self._world
        segment.accepted_at_start = segment.cycles_accepted

    def _writable(self, msg: Message, what: str) -> CanisterRecord:
        if msg.is_query:
            raise CallsNotAllowed(f"a query cannot {what}")
        return self._world.canisters[msg.canister_id]

    def set_timer(self, msg: Message, delay_ns: int, method: str, args: tuple[Any, ...]) -> int:
        record = self._writable(msg, "set timers")
        if not isinstance(delay_ns, int) or isinstance(delay_ns, bool) or delay_ns < 0:
            raise ValueError(f"timer delay must be a non-negative int of nanoseconds: {delay_ns!r}")
        target = getattr(msg.code, method, None) if isinstance(method, str) else None
        spec = msg.code.__icto_methods__.get(method)
        if (
            not callable(target)
            or method.startswith("__")
            or method in RESERVED_NAMES
            or (spec is not None and spec.kind == QUERY)
        ):
            raise ValueError(f"{msg.code.__name__} has no update or private method {method!r}")
        timers, timer_id = self._world.timers.add(
            msg.canister_id, msg.time + delay_ns, method, args
        )
        record = record._replace(timer_ids=record.timer_ids.set(timer_id, None))
        world = self._world
        self._world = world._replace(canisters=world.canisters.set(msg.canister_id, record),
                                     timers=timers)  # fmt: skip
        return timer_id

    def cancel_timer(self, msg: Message, timer_id: int) -> bool:
        record = self._writable(msg, "cancel timers")
        if timer_id not in record.timer_ids:
            return False
        self._clear_timers(record, (timer_id,))
        return True

    def _clear_timers(self, record: CanisterRecord, timer_ids: Any = None) -> CanisterRecord:
        """Drop some (default: all) pending timers of a canister; return its updated record."""
        ids = tuple(record.timer_ids.keys()) if timer_ids is None else tuple(timer_ids)
        if not ids:
            return record
        remaining = record.timer_ids
        for timer_id in ids:
            remaining = remaining.delete(timer_id)
        record = record._replace(timer_ids=remaining)
        world = self._world
        self._world = world._replace(
            canisters=world.canisters.set(record.canister_id, record),
            timers=world.timers.cancel(ids),
        )
        return record

    def accept_cycles(self, msg: Message, max_amount: int) -> int:
        if not isinstance(max_amount, int) or isinstance(max_amount, bool) or max_amount < 0:
            raise ValueError(f"max_amount must be a non-negative int, got {max_amount!r}")
        segment = msg.segment
        amount = min(max_amount, msg.cycles_available - segment.cycles_accepted)
        if amount and not msg.is_query:
            record = self._world.canisters[msg.canister_id]
            self._put(record.with_cycles(record.cycles + amount))
            segment.cycles_accepted += amount
            return amount
        return 0

    def balance_seen_by(self, msg: Message) -> int:
        """The canister's balance as its code sees it (the pending execution fee deducted)."""
        return self._world.canisters[msg.canister_id].cycles - msg.segment.pending_charge

    def append_log(self, msg: Message, text: str) -> None:
        if msg.is_query:
            return
        record = self._world.canisters[msg.canister_id]
        self._put(record.with_log(record.log.append(msg.time, str(text))))

    # -- lifecycle hooks and timers -------------------------------------------------------------

    def run_hook(
        self, record: CanisterRecord, code: type[Canister], hook: str, args: tuple[Any, ...],
        caller: Principal, depth: int,
    ) -> tuple[Any, Any]:  # fmt: skip
        """Run ``init`` / ``pre_upgrade`` / ``post_upgrade`` on ``record`` (already in the world).

        Returns ``(state, return value)``. Exceptions propagate: the caller (install_code) rolls
        the whole install back.
        """
        msg = Message(
            self, record.canister_id, caller, self._world.time, depth, code, record.generation,
            False, False, 0, None, Segment(self._world, 0),
        )  # fmt: skip
        instance = _view(code, msg, record.state)
        returned = getattr(code, hook)(instance, *args)
        check_state(instance.state)
        return instance.state, returned

    def fire_timer(self, timer_canister: Principal, method: str, args: tuple[Any, ...]) -> None:
        """Deliver a due timer as its own message (caller = the canister itself)."""
        entry = None
        if self.trace.enabled:
            entry = self.trace.open(
                None, 1, TIMER, timer_canister, timer_canister, method, args, {}, self._world.time
            )
        record = self._world.canisters.get(timer_canister)
        if record is None or record.code is None or record.status != RUNNING:
            if entry is not None:
                entry.outcome = "reject"
                entry.message = "canister is not running"
            return
        cost = costs.UPDATE_MESSAGE
        if record.cycles < cost:
            if entry is not None:
                entry.outcome = "reject"
                entry.reject_code = RC.SYS_TRANSIENT
                entry.error_code = ErrorCode.CANISTER_OUT_OF_CYCLES.value
                entry.message = f"Canister {timer_canister} is out of cycles"
            return
        if entry is not None:
            entry.cycles = cost
        try:
            result, _ = self._run_update(
                record, getattr(record.code, method), method, timer_canister, args, {}, 1, 0,
                cost, None, entry,
            )  # fmt: skip
        except CallRejected as rejected:
            if entry is not None:
                entry.reject_code = rejected.reject_code
                entry.error_code = rejected.error_code
                entry.message = rejected.message
            return
        if entry is not None:
            entry.outcome = "reply"
            entry.result = result


__all__ = ["CALL", "INGRESS", "INGRESS_QUERY", "MANAGEMENT_ID", "STOPPED", "TIMER", "Router"]
