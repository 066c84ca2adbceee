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

import sys
import traceback
from types import FrameType
from typing import Any, Final, Protocol

from icto.ic import cycles as costs
from icto.ic.argcheck import is_int
from icto.ic.canister import (
    QUERY,
    RESERVED_NAMES,
    UPDATE,
    Canister,
    MethodSpec,
    check_state,
    describe_error,
    hook_trap_message,
    immutable_state_types,
    set_context,
    unstarted_kind,
)
from icto.ic.context import (
    ACCEPTED_AT_START,
    CALL,
    CAN_CALL,
    CANISTER_ID,
    CYCLES_ACCEPTED,
    CYCLES_AVAILABLE,
    DEPTH,
    GENERATION,
    HOOK,
    INGRESS,
    INGRESS_QUERY,
    IS_QUERY,
    MANAGEMENT_ID,
    PENDING_CHARGE,
    SEGMENT,
    START,
    START_TIMERS,
    TIME,
    TIMER,
    TRACE_ENTRY,
    CallContext,
    CallContextLost,
    InjectedTrap,
    Segment,
    View,
)
from icto.ic.errors import CallRejected, CallsNotAllowed, ErrorCode, InvalidArguments, Reject
from icto.ic.errors import RejectCode as RC
from icto.ic.faults import FaultRule, Faults
from icto.ic.principal import Principal
from icto.ic.timers import Timer
from icto.ic.trace import Trace, TraceEntry
from icto.ic.world import DELETED, MAX_TIME, RUNNING, STOPPED, CanisterRecord, World

_new_tuple: Final[Any] = tuple.__new__
_new_object: Final = object.__new__
_IMMUTABLE: Final = immutable_state_types
_UPDATE_COST: Final = costs.UPDATE_MESSAGE
_CALL_COST: Final = costs.INTER_CANISTER_CALL
_INGRESS_COST: Final = costs.UPDATE_MESSAGE + costs.INGRESS_MESSAGE
_MAX_CYCLES: Final = costs.MAX_CYCLES

MAX_CALL_DEPTH: Final = 100
"""The largest ``max_call_depth`` an IC accepts. Each hop of a call chain is about 5 Python
frames (the method, ``self.call``, the router's call, delivery and run), so Python's default
recursion limit of 1,000 ends the simplest chain near depth 195, in a ``RecursionError`` trap
instead of the depth reject; 100 leaves room for the test's own frames and for helpers canister
code calls between hops."""


class BuiltinCanister(Protocol):
    """A canister the router serves itself, reached by its id (the management canister).

    ``handle`` runs one call atomically and returns ``(reply, cycles accepted)``, or raises
    ``CallRejected``.
    """

    def handle(
        self,
        caller: Principal,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        cycles: int,
        kind: str,
        entry: TraceEntry | None,
        fault: FaultRule | None,
    ) -> tuple[Any, int]: ...


def _reject(
    code: RC, error: ErrorCode, message: str, callee: Principal, method: str
) -> CallRejected:
    return CallRejected(code, error.value, message, callee, method)


def _view(code: type[Canister], ctx: CallContext, state: Any) -> Canister:
    """A fresh instance of the canister class for one message: its context and its state."""
    instance: Canister = _new_object(code)
    set_context(instance, ctx)
    instance.state = state
    return instance


def _bad_arguments(callee: Principal, method: str, problem: str) -> InvalidArguments:
    return InvalidArguments(
        RC.CANISTER_ERROR, ErrorCode.CANISTER_CALLED_TRAP.value,
        f"Canister {callee} trapped decoding arguments: {problem}", callee, method,
    )  # fmt: skip


def _out_of_cycles(record: CanisterRecord, cost: int, method: str) -> CallRejected:
    callee = record.canister_id
    return _reject(
        RC.SYS_TRANSIENT, ErrorCode.CANISTER_OUT_OF_CYCLES,
        f"Canister {callee} is out of cycles: balance {record.cycles}, "
        f"needs {cost} to execute a message", callee, method,
    )  # fmt: skip


def _mark_trap(entry: TraceEntry | None, exc: BaseException, fault: FaultRule | None) -> None:
    if entry is not None:
        entry.outcome = "trap"
        entry.injected = isinstance(exc, InjectedTrap) and fault is not None
        entry.traceback = "".join(traceback.format_exception(exc))


def _mark_hook_trap(
    entry: TraceEntry | None, exc: BaseException, canister_id: Principal, hook: str, code: type
) -> None:
    if entry is not None:
        _mark_trap(entry, exc, None)
        entry.reject_code = RC.CANISTER_ERROR
        entry.error_code = ErrorCode.CANISTER_CALLED_TRAP.value
        entry.message = hook_trap_message(canister_id, hook, exc, code)


def _trap_message(callee: Principal, exc: BaseException, code: type | None) -> str:
    if isinstance(exc, CallRejected):
        return f"Canister {callee} trapped: unhandled reject: {exc}"
    return f"Canister {callee} trapped: {describe_error(exc, code)}"


class Router:
    """Owns the world and delivers messages: the plumbing under ``IC``, never on its surface.

    Implements ``Host`` for canister code. Built-in canisters (the management canister) are
    registered by id with ``add_builtin`` and reached like any other canister.
    """

    def __init__(self, world: World, max_call_depth: int, trace: bool) -> None:
        if not is_int(max_call_depth) or not 1 <= max_call_depth <= MAX_CALL_DEPTH:
            raise ValueError(
                f"max_call_depth must be an int from 1 to {MAX_CALL_DEPTH} (deeper chains would "
                f"hit Python's recursion limit first), got {max_call_depth!r}"
            )
        self._assembled: World = world
        self.set_world(world)
        self.max_call_depth = max_call_depth
        self.trace = Trace(enabled=trace)
        self.faults = Faults()
        self._builtins: dict[Principal, BuiltinCanister] = {}
        self._running: CallContext | None = None
        """The context of the message executing now: only its view may act (a view handed to
        another canister, or kept past its message, cannot call, set timers or log)."""
        self._replicated_query = False
        """A query runs in replicated mode now: its log lines are kept. Such a query makes no
        calls (a plain query cannot, a composite query never runs replicated), so while it runs
        no other message does."""

    def add_builtin(self, canister_id: Principal, canister: BuiltinCanister) -> None:
        """Serve calls to ``canister_id`` with ``canister`` when no canister has that id."""
        self._builtins[canister_id] = canister

    # -- world access -------------------------------------------------------------------------

    # The world is kept in its parts, so that a message's commit writes the canisters map and
    # nothing else; ``world`` puts them together (O(1)) for a snapshot.

    @property
    def world(self) -> World:
        """The whole world now, as one immutable value: the same object as long as nothing
        changed, so ``ic.snapshot() is before`` tells that nothing happened."""
        world = self._assembled
        if (
            world[0] is not self._canisters
            or world[1] is not self._timers
            or world[2] != self._time
            or world[3] != self._next_canister_index
            or world[4] != self._rand_counter
        ):
            world = self._assembled = World(
                self._canisters, self._timers, self._time, self._next_canister_index,
                self._rand_counter,
            )  # fmt: skip
        return world

    def set_world(self, world: World) -> None:
        """Replace the whole world (restores, rollbacks of built-in calls)."""
        (self._canisters, self._timers, self._time, self._next_canister_index,
         self._rand_counter) = world  # fmt: skip
        self._assembled = world

    def record_of(self, canister_id: Principal) -> CanisterRecord:
        return self._canisters[canister_id]

    def code_of(self, canister_id: Principal) -> type[Any] | None:
        """The class a canister runs; ``None`` if it is empty or does not exist."""
        record = self._canisters.get(canister_id)
        return None if record is None else record.code

    def put(self, record: CanisterRecord) -> None:
        """Store one canister's record in the world."""
        self._canisters = self._canisters.set(record[0], record)

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
        parent: CallContext | None = None,
        query_only: bool = False,
    ) -> Any:
        """Deliver one message and return its reply, or raise ``CallRejected``.

        ``cycles`` were already taken from the calling canister; whatever the callee does not
        accept is refunded to it here.
        """
        entry = None
        if self.trace.enabled:
            entry = self.trace.open(
                parent[TRACE_ENTRY] if parent is not None else None,
                depth, kind, caller, callee, method, args, kwargs, self._time,
            )  # fmt: skip
        fault = None
        try:
            if self.faults.rules:
                fault = self.faults.match(callee, method)
                if fault is not None and fault.kind == "reject":
                    raise CallRejected(fault.code, fault.error_code, fault.message, callee, method)
            record = self._canisters.get(callee)
            code = None if record is None or record.status != RUNNING else record.code
            spec = None if code is None else code.__icto_dispatch__.get(method)
            if spec is None or record is None:
                result, accepted = self._deliver_other(
                    record, caller, callee, method, args, kwargs, depth, kind, cycles, parent,
                    query_only, fault, entry,
                )  # fmt: skip
            elif spec.kind == UPDATE and not query_only and kind != INGRESS_QUERY:
                if args or kwargs or spec.needs_arguments:
                    problem = spec.check_arguments(args, kwargs)
                    if problem is not None:
                        raise _bad_arguments(callee, method, problem)
                cost = _INGRESS_COST if kind == INGRESS else _UPDATE_COST
                if record.cycles < cost:
                    raise _out_of_cycles(record, cost, method)
                if entry is not None:
                    entry.cycles = cost
                result, accepted = self._run_update(
                    record, spec.fn, method, caller, args, kwargs, depth, cycles, cost, fault, entry
                )
            elif kind == INGRESS_QUERY and spec.kind == QUERY:
                if args or kwargs or spec.needs_arguments:
                    problem = spec.check_arguments(args, kwargs)
                    if problem is not None:
                        raise _bad_arguments(callee, method, problem)
                result = self._run_query(record, spec, caller, args, kwargs, depth, fault, entry)
                accepted = 0
            else:
                result, accepted = self._deliver_other(
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
            if fault is not None:
                self.faults.finished(fault)
            raise
        except BaseException:  # an interruption (Ctrl-C): the matched call is over all the same
            if fault is not None:
                self.faults.finished(fault)
            raise
        if fault is not None:
            self.faults.finished(fault)
        if entry is not None:
            entry.outcome = "reply"
            entry.result = result
        if cycles > accepted:
            self._refund(caller, cycles - accepted)
        return result

    def _refund(self, caller: Principal, amount: int) -> None:
        record = self._canisters.get(caller)
        if record is not None and record.status != DELETED:
            self.put(record.with_cycles(min(record.cycles + amount, _MAX_CYCLES)))

    def _resolve(
        self, record: CanisterRecord | None, callee: Principal, method: str, query_only: bool
    ) -> MethodSpec:
        """The method a message addresses, or the destination error the IC gives."""
        if record is None or record.status == DELETED:
            raise _reject(
                RC.DESTINATION_INVALID, ErrorCode.CANISTER_NOT_FOUND,
                f"Canister {callee} not found", callee, method,
            )  # fmt: skip
        if record.status != RUNNING:  # refused before any method is looked up, as on the IC
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_STOPPED,
                f"Canister {callee} is stopped", callee, method,
            )  # fmt: skip
        code = record.code
        if code is None:
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_WASM_MODULE_NOT_FOUND,
                f"Canister {callee} is empty: it has no code installed", callee, method,
            )  # fmt: skip
        spec: MethodSpec | None = code.__icto_methods__.get(method)
        if spec is None or (query_only and spec.kind != QUERY):
            kind = "query" if query_only else "update or query"
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_METHOD_NOT_FOUND,
                f"Canister {callee} ({code.__name__}) has no {kind} method {method!r}",
                callee, method,
            )  # fmt: skip
        return spec

    def _deliver_other(
        self,
        record: CanisterRecord | None,
        caller: Principal,
        callee: Principal,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        depth: int,
        kind: str,
        cycles: int,
        parent: CallContext | None,
        query_only: bool,
        fault: FaultRule | None,
        entry: TraceEntry | None,
    ) -> tuple[Any, int]:
        """Every message but the two common ones (an update called as an update, an ingress
        query): built-in canisters, queries called by canisters, and the destination errors."""
        if record is None and callee in self._builtins:
            if query_only:  # a query's call or a query_call: the IC's built-ins have no queries
                raise _reject(
                    RC.CANISTER_ERROR, ErrorCode.CANISTER_METHOD_NOT_FOUND,
                    f"Canister {callee} has no query method {method!r}", callee, method,
                )  # fmt: skip
            return self._builtins[callee].handle(
                caller, method, args, kwargs, cycles, kind, entry, fault
            )
        query_only = query_only or kind == INGRESS_QUERY
        spec = None
        if record is not None and record.status == RUNNING and record.code is not None:
            spec = record.code.__icto_methods__.get(method)
        if spec is None or (query_only and spec.kind != QUERY):
            spec = self._resolve(record, callee, method, query_only)
        assert record is not None
        problem = spec.check_arguments(args, kwargs)
        if problem is not None:
            raise _bad_arguments(callee, method, problem)
        non_replicated = kind == INGRESS_QUERY or (
            parent is not None and parent[IS_QUERY] and query_only
        )
        if spec.composite and not non_replicated:
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.COMPOSITE_QUERY_CALLED_IN_REPLICATED_MODE,
                f"Composite query {method!r} cannot be called in replicated mode", callee, method,
            )  # fmt: skip
        if non_replicated:
            return self._run_query(record, spec, caller, args, kwargs, depth, fault, entry), 0
        cost = _INGRESS_COST if kind == INGRESS else _UPDATE_COST
        if record.cycles < cost:
            raise _out_of_cycles(record, cost, method)
        if entry is not None:
            entry.cycles = cost
        if spec.kind == QUERY:
            self.put(record.with_cycles(record.cycles - cost))
            return self._run_replicated_query(
                record, spec, caller, args, kwargs, depth, fault, entry
            ), 0  # fmt: skip
        return self._run_update(
            record, spec.fn, method, caller, args, kwargs, depth, cycles, cost, fault, entry
        )

    def awaiting(self, canister_id: Principal) -> bool:
        """Whether a message of ``canister_id`` is suspended at an await: its ``_run_update``
        is on the interpreter's stack below the message running now. Read from the stack, so
        that no message pays for it. A message of code replaced since (reinstalled or
        upgraded) never resumes, so it does not count, nor does any of a deleted canister."""
        current = self._canisters.get(canister_id)
        if current is None or current.status == DELETED:
            return False
        running = self._running
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            if frame.f_code is _RUN_UPDATE:
                found = frame.f_locals
                if (
                    found.get("callee") == canister_id and found.get("ctx") is not running
                    and found.get("generation") == current.generation
                ):  # fmt: skip
                    return True
            frame = frame.f_back
        return False

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
        """Run an update message and commit it; ``charge`` is taken with its first commit (or
        after a trap)."""
        callee, code, stored, controllers, status, balance, timer_ids, log, generation = record
        assert code is not None
        start = self._canisters
        segment: Segment = [start, self._timers, charge, 0, 0]
        ctx: CallContext = (
            self, callee, caller, self._time, depth, generation, False, True, cycles, entry, segment
        )
        instance = _new_object(code)
        set_context(instance, ctx)
        instance.state = stored
        reject = None
        running, self._running = self._running, ctx
        try:
            try:
                # The usual argument counts are passed directly: ``fn(instance, *args)`` builds
                # a list and a tuple on every call (about 2 % of an inter-canister call).
                if kwargs:
                    result = fn(instance, *args, **kwargs)
                elif len(args) == 1:
                    result = fn(instance, args[0])
                elif not args:
                    result = fn(instance)
                else:
                    result = fn(instance, *args)
            except Reject as raised:  # keeps the segment's changes, then rejects
                reject, result = raised, None
            if fault is not None:
                raise fault.inject()
            # The segment's end: its state and the pending charge in the world (one write, none
            # when neither changed). While nothing was written, the record is the one it began with.
            state = instance.state
            canisters = self._canisters
            current = generation
            if canisters is not start:
                _, code, stored, controllers, status, balance, timer_ids, log, current = (
                    canisters[callee]
                )
            if current != generation:  # its code changed, and it caught CallContextLost
                raise CallContextLost()
            charge = segment[PENDING_CHARGE]
            if state is not stored or charge:
                if state is not stored and state.__class__ not in _IMMUTABLE:
                    check_state(state)
                self._canisters = canisters.set(callee, _new_tuple(CanisterRecord, (
                    callee, code, state, controllers, status, balance - charge, timer_ids, log,
                    generation,
                )))  # fmt: skip
                segment[PENDING_CHARGE] = 0
        except CallContextLost:
            rejected = _reject(
                RC.CANISTER_REJECT, ErrorCode.CANISTER_REJECTED_MESSAGE,
                f"Canister {callee} was upgraded, reinstalled, uninstalled or deleted while "
                f"awaiting a call; the rest of {method!r} was dropped", callee, method,
            )  # fmt: skip
            rejected.cycles_accepted = segment[CYCLES_ACCEPTED]
            raise rejected from None
        except Exception as exc:
            raise self._trap(ctx, exc, method, fault) from exc
        except BaseException:  # an interrupt (Ctrl-C): this segment is undone, as by a trap
            self._canisters = segment[START]
            self._timers = segment[START_TIMERS]
            raise
        finally:
            self._running = running
        if reject is not None:
            if entry is not None:
                entry.outcome = "reject"
            rejected = _reject(
                RC.CANISTER_REJECT, ErrorCode.CANISTER_REJECTED_MESSAGE, reject.message,
                callee, method,
            )  # fmt: skip
            rejected.cycles_accepted = segment[CYCLES_ACCEPTED]
            raise rejected from None
        return result, segment[CYCLES_ACCEPTED]

    def _trap(
        self, ctx: CallContext, exc: BaseException, method: str, fault: FaultRule | None
    ) -> CallRejected:
        """Roll the current segment back and build the reject its caller receives.

        The log written so far and the execution fee survive the rollback, as on the IC.
        """
        callee = ctx[CANISTER_ID]
        segment = ctx[SEGMENT]
        current = self._canisters.get(callee)
        self._canisters = segment[START]
        self._timers = segment[START_TIMERS]
        segment[CYCLES_ACCEPTED] = segment[ACCEPTED_AT_START]
        message = _trap_message(callee, exc, None if current is None else current.code)
        restored = self._canisters.get(callee)
        if restored is not None and current is not None and restored.generation == ctx[GENERATION]:
            self.put(
                restored._replace(
                    cycles=restored.cycles - segment[PENDING_CHARGE],
                    log=current.log.append(self._time, f"[TRAP]: {message}"),
                )
            )
            segment[PENDING_CHARGE] = 0
        _mark_trap(ctx[TRACE_ENTRY], exc, fault)
        rejected = _reject(
            RC.CANISTER_ERROR, ErrorCode.CANISTER_CALLED_TRAP, message, callee, method
        )
        rejected.cycles_accepted = segment[CYCLES_ACCEPTED]
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
        callee = record.canister_id
        ctx: CallContext = (
            self, callee, caller, self._time, depth, record.generation, True, spec.composite, 0,
            entry, [self._canisters, self._timers, 0, 0, 0],
        )  # fmt: skip
        code: Any = record.code
        instance = _new_object(code)
        set_context(instance, ctx)
        instance.state = record.state
        running, self._running = self._running, ctx
        try:
            try:
                result = spec.fn(instance, *args, **kwargs) if kwargs else spec.fn(instance, *args)
            except Reject:
                if fault is None:
                    raise
            if fault is not None:
                raise fault.inject()
        except Reject as reject:
            raise _reject(
                RC.CANISTER_REJECT, ErrorCode.CANISTER_REJECTED_MESSAGE, reject.message,
                callee, spec.name,
            ) from None  # fmt: skip
        except Exception as exc:
            _mark_trap(entry, exc, fault)
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_CALLED_TRAP, _trap_message(callee, exc, code),
                callee, spec.name,
            ) from exc  # fmt: skip
        finally:
            self._running = running
        return result

    def _run_replicated_query(
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
        """Run a query called as an update or by a canister's update (replicated mode): nothing
        it assigns reaches the world, but its log lines and its trap record are kept, as on the
        IC. A query run by itself (an ingress query, a composite query's call) logs nothing."""
        replicated, self._replicated_query = self._replicated_query, True
        try:
            return self._run_query(record, spec, caller, args, kwargs, depth, fault, entry)
        except CallRejected as rejected:
            if rejected.error_code == ErrorCode.CANISTER_CALLED_TRAP.value:
                self._log_trap(record.canister_id, rejected.message)
            raise
        finally:
            self._replicated_query = replicated

    def _log_trap(self, canister_id: Principal, message: str) -> None:
        record = self._canisters[canister_id]
        self.put(record.with_log(record.log.append(self._time, f"[TRAP]: {message}")))

    # -- what canister code can do (the Host interface) ------------------------------------------

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
    ) -> Any:
        """Commit the caller's segment, deliver the call, and start the caller's next segment."""
        _, me, _, _, depth, generation, is_query, can_call, _, _, segment = ctx
        if (
            is_query
            or not can_call
            or ctx is not self._running
            or callee.__class__ is not Principal
            or method.__class__ is not str
            or cycles.__class__ is not int
            or cycles < 0
            or depth >= self.max_call_depth
        ):
            self._refuse_call(ctx, callee, method, cycles, query_only)
            return self.deliver(me, callee, method, args, kwargs, depth + 1, CALL, 0, ctx, True)
        canisters = self._canisters
        _, code, stored, controllers, status, balance, timer_ids, log, current = canisters[me]
        if current != generation:  # its code changed: the old code caught CallContextLost
            raise CallContextLost()
        cost = _CALL_COST + cycles + segment[PENDING_CHARGE]
        if balance < cost:
            if cycles > _MAX_CYCLES:  # no balance is larger: such an amount always lands here
                raise ValueError(f"cycles must be a u128 (at most 2**128 - 1), got {cycles}")
            raise _reject(
                RC.SYS_TRANSIENT, ErrorCode.CANISTER_OUT_OF_CYCLES,
                f"Canister {me} cannot pay {cost} cycles to call {method!r} (balance {balance})",
                callee, method,
            )  # fmt: skip
        state = instance.state
        if state is not stored and state.__class__ not in _IMMUTABLE:
            check_state(state)
        self._canisters = canisters.set(me, _new_tuple(CanisterRecord, (
            me, code, state, controllers, status, balance - cost, timer_ids, log, current
        )))  # fmt: skip
        segment[PENDING_CHARGE] = 0
        try:
            return self.deliver(
                me, callee, method, args, kwargs, depth + 1, CALL, cycles, ctx, query_only
            )
        finally:
            canisters = self._canisters
            now = canisters.get(me)
            if now is None or now.generation != generation or now.status == DELETED:
                raise CallContextLost()
            instance.state = now.state
            segment[START] = canisters
            segment[START_TIMERS] = self._timers
            segment[ACCEPTED_AT_START] = segment[CYCLES_ACCEPTED]

    def _refuse_call(
        self, ctx: CallContext, callee: Any, method: Any, cycles: Any, query_only: bool
    ) -> None:
        """Raise what is wrong with a call canister code asked for; return if it is a query's
        call to a query (delivered as a query, nothing committed)."""
        self._require_running(ctx, "call")
        if not ctx[CAN_CALL]:
            where = "a query" if ctx[IS_QUERY] else "init, pre_upgrade or post_upgrade"
            raise CallsNotAllowed(f"canisters cannot make calls from {where} (called {method!r})")
        if ctx[IS_QUERY] and not query_only:
            raise CallsNotAllowed("a composite query can only call queries (use self.query_call)")
        if callee.__class__ is not Principal:
            raise TypeError(f"callee must be a Principal, not {type(callee).__name__}")
        if method.__class__ is not str:
            raise TypeError(f"method must be str, not {type(method).__name__}")
        if cycles.__class__ is not int or cycles < 0:
            raise TypeError(f"cycles must be a non-negative int, got {cycles!r}")
        if ctx[DEPTH] >= self.max_call_depth:
            raise _reject(
                RC.CANISTER_ERROR, ErrorCode.CALL_GRAPH_TOO_DEEP,
                f"call depth limit {self.max_call_depth} reached calling {method!r}",
                callee, method,
            )  # fmt: skip

    def _require_running(self, ctx: CallContext, what: str) -> None:
        """Refuse a view whose message is not the one executing (one handed to another canister
        or kept after its message ended): on the IC a canister acts only in its own messages."""
        if ctx is not self._running:
            raise CallsNotAllowed(
                f"a view of canister {ctx[CANISTER_ID]} cannot {what} outside its own message "
                f"(pass canister ids, not canister objects)"
            )

    def _own_record(self, ctx: CallContext, what: str) -> CanisterRecord:
        """The running canister's record, for an action of its message; ``CallContextLost`` if
        its code changed since the message began (old code that caught it goes no further)."""
        self._require_running(ctx, what)
        record = self._canisters[ctx[CANISTER_ID]]
        if record.generation != ctx[GENERATION]:
            raise CallContextLost()
        return record

    def _writable(self, ctx: CallContext, what: str) -> CanisterRecord:
        if ctx[IS_QUERY]:
            raise CallsNotAllowed(f"a query cannot {what}")
        return self._own_record(ctx, what)

    def set_timer(
        self, instance: View, delay_ns: int, method: str, args: tuple[Any, ...]
    ) -> int:
        ctx = instance._msg
        code: Any = type(instance)
        record = self._writable(ctx, "set timers")
        if not isinstance(delay_ns, int) or isinstance(delay_ns, bool) or delay_ns < 0:
            raise ValueError(f"timer delay must be a non-negative int of nanoseconds: {delay_ns!r}")
        if ctx[TIME] + delay_ns > MAX_TIME:
            raise ValueError(
                f"timer delay {delay_ns!r} puts its deadline past the last instant IC time can "
                f"name (2**64 - 1 ns): it could never fire"
            )
        target = getattr(code, method, None) if isinstance(method, str) else None
        spec = code.__icto_methods__.get(method)
        if (
            not callable(target)
            or method.startswith("__")
            or method in RESERVED_NAMES
            or (spec is not None and spec.kind == QUERY)
        ):
            raise ValueError(f"{code.__name__} has no update or private method {method!r}")
        unstarted = unstarted_kind(target)
        if unstarted is not None:
            raise ValueError(
                f"{code.__name__}.{method} is {unstarted} function: a timer would never run "
                f"its body"
            )
        for arg in args:
            if arg.__class__ not in _IMMUTABLE:
                try:
                    check_state(arg)
                except TypeError:
                    raise TypeError(
                        f"timer arguments live in the world's snapshots and must be immutable, "
                        f"got a mutable {type(arg).__name__}"
                    ) from None
        self._timers, timer_id = self._timers.add(
            ctx[CANISTER_ID], ctx[TIME] + delay_ns, method, args
        )
        self.put(record._replace(timer_ids=record.timer_ids.set(timer_id, None)))
        return timer_id

    def cancel_timer(self, ctx: CallContext, timer_id: int) -> bool:
        record = self._writable(ctx, "cancel timers")
        if timer_id not in record.timer_ids:
            return False
        self.clear_timers(record, (timer_id,))
        return True

    def clear_timers(self, record: CanisterRecord, timer_ids: Any = None) -> CanisterRecord:
        """Drop some (default: all) pending timers of a canister; return its updated record."""
        ids = tuple(record.timer_ids.keys()) if timer_ids is None else tuple(timer_ids)
        if not ids:
            return record
        remaining = record.timer_ids
        for timer_id in ids:
            remaining = remaining.delete(timer_id)
        record = record._replace(timer_ids=remaining)
        self.put(record)
        self._timers = self._timers.cancel(ids)
        return record

    def accept_cycles(self, ctx: CallContext, max_amount: int) -> int:
        if not isinstance(max_amount, int) or isinstance(max_amount, bool) or max_amount < 0:
            raise ValueError(f"max_amount must be a non-negative int, got {max_amount!r}")
        segment = ctx[SEGMENT]
        amount: int = min(max_amount, ctx[CYCLES_AVAILABLE] - segment[CYCLES_ACCEPTED])
        if amount and not ctx[IS_QUERY]:
            record = self._own_record(ctx, "accept cycles")
            # The balance saturates at u128 once the execution fee is paid (the IC reserves the
            # fee first; here it is taken at the segment's end).
            top = _MAX_CYCLES + segment[PENDING_CHARGE]
            self.put(record.with_cycles(min(record.cycles + amount, top)))
            segment[CYCLES_ACCEPTED] += amount
            return amount
        return 0

    def balance_seen_by(self, ctx: CallContext) -> int:
        """The canister's balance as its code sees it (the pending execution fee deducted)."""
        charge: int = ctx[SEGMENT][PENDING_CHARGE]
        return self._canisters[ctx[CANISTER_ID]].cycles - charge

    def append_log(self, ctx: CallContext, text: str) -> None:
        """Append to the running canister's log; a query's line only in replicated mode."""
        if ctx[IS_QUERY] and not (self._replicated_query and ctx is self._running):
            return
        record = self._own_record(ctx, "log")
        self.put(record.with_log(record.log.append(ctx[TIME], str(text))))

    # -- lifecycle hooks and timers -------------------------------------------------------------

    def run_hook(
        self, record: CanisterRecord, code: type[Canister], hook: str, args: tuple[Any, ...],
        caller: Principal, depth: int, parent: TraceEntry | None,
    ) -> tuple[Any, Any]:  # fmt: skip
        """Run ``init`` / ``pre_upgrade`` / ``post_upgrade`` on ``record`` (already in the world).

        Returns ``(state, return value)``. Exceptions propagate: the caller (install_code) rolls
        the whole install back. With the trace on, the run is a ``"hook"`` entry under
        ``parent`` (the install_code message): a reply, or a trap with its traceback.
        """
        canister_id = record.canister_id
        entry = None
        if self.trace.enabled:
            entry = self.trace.open(
                parent, depth + 1, HOOK, caller, canister_id, hook, args, {}, self._time
            )
        ctx: CallContext = (
            self, canister_id, caller, self._time, depth, record.generation, False, False, 0,
            entry, [self._canisters, self._timers, 0, 0, 0],
        )  # fmt: skip
        instance = _view(code, ctx, record.state)
        running, self._running = self._running, ctx
        try:
            returned = getattr(code, hook)(instance, *args)
            check_state(instance.state)
        except Exception as exc:
            _mark_hook_trap(entry, exc, canister_id, hook, code)
            raise
        finally:
            self._running = running
        if entry is not None:
            entry.outcome = "reply"
            entry.result = returned
        return instance.state, returned

    def fire_timer(self, timer_canister: Principal, method: str, args: tuple[Any, ...]) -> None:
        """Deliver a due timer as its own message (caller = the canister itself)."""
        entry = None
        if self.trace.enabled:
            entry = self.trace.open(
                None, 1, TIMER, timer_canister, timer_canister, method, args, {}, self._time
            )
        record = self._canisters.get(timer_canister)
        if record is None or record.code is None or record.status != RUNNING:
            if entry is not None:
                entry.outcome = "reject"
                entry.message = "canister is not running"
            return
        cost = _UPDATE_COST
        if record.cycles < cost:
            if entry is not None:
                entry.outcome = "reject"
                entry.reject_code = RC.SYS_TRANSIENT
                entry.error_code = ErrorCode.CANISTER_OUT_OF_CYCLES.value
                entry.message = f"Canister {timer_canister} is out of cycles"
            return
        fn = getattr(record.code, method, None)
        if not callable(fn):  # only a hand-made world can hold one: set_timer checks the name
            if entry is not None:
                entry.outcome = "reject"
                entry.message = f"{record.code.__name__} has no method {method!r}"
            return
        if entry is not None:
            entry.cycles = cost
        try:
            result, _ = self._run_update(
                record, fn, method, timer_canister, args, {}, 1, 0, cost, None, entry,
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

    def run_timers_until(self, target: int) -> None:
        """Move the clock to ``target``, delivering every timer due by then at its deadline.

        A timer of a stopped canister, or of one that cannot pay for the message (frozen),
        waits (it is put back) until the canister can run it: in this advance if a later timer
        starts or tops it up, else in a later one (the IC keeps a frozen canister's global timer
        until it runs). A waiting timer whose canister is upgraded, reinstalled, uninstalled or
        deleted meanwhile is gone, as its others are.
        """
        while True:
            deferred: list[Timer] = []
            try:
                self._fire_due(target, deferred)
            finally:  # an interrupt included: no waiting timer is lost
                resumed = self._requeue(deferred)
            if not resumed:
                break
        self._time = max(self._time, target)

    def _requeue(self, deferred: list[Timer]) -> bool:
        """Put back the waiting timers whose canister still has them; whether one of those
        canisters runs again."""
        timers = self._timers
        resumed = False
        for timer in deferred:
            record = self._canisters[timer.canister_id]
            if timer.timer_id in record.timer_ids:
                timers = timers.requeue(timer)
                resumed = resumed or _runs_timers(record)
        self._timers = timers
        return resumed

    def _fire_due(self, target: int, deferred: list[Timer]) -> None:
        """Deliver the timers due by ``target`` in order; those of canisters that cannot run them
        (stopped, or frozen) are taken off the queue into ``deferred``, and put back as soon as
        a timer starts or tops up their canister (overdue, they fire next, in their order)."""
        while True:
            timer = self._timers.peek()
            if timer is None or timer.deadline > target:
                return
            self._timers, _ = self._timers.pop()
            record = self._canisters[timer.canister_id]
            if not _runs_timers(record):
                deferred.append(timer)
                continue
            self.put(record._replace(timer_ids=record.timer_ids.delete(timer.timer_id)))
            self._time = max(self._time, timer.deadline)
            self.fire_timer(timer.canister_id, timer.method, timer.args)
            if deferred:  # a canister this timer started again: its overdue timers come next
                canisters = self._canisters
                back = [t for t in deferred if _runs_timers(canisters[t.canister_id])]
                if back:
                    deferred[:] = [t for t in deferred if t not in back]
                    self._requeue(back)


__all__ = [
    "CALL",
    "HOOK",
    "INGRESS",
    "INGRESS_QUERY",
    "MANAGEMENT_ID",
    "MAX_CALL_DEPTH",
    "TIMER",
    "BuiltinCanister",
    "CallContextLost",
    "InjectedTrap",
    "Router",
]


def _runs_timers(record: CanisterRecord) -> bool:
    """Whether the canister can run a timer now: not stopped, and able to pay the message."""
    return record.status != STOPPED and record.cycles >= _UPDATE_COST


_RUN_UPDATE: Final = Router._run_update.__code__
"""The code of the frame an update message (or timer) runs in, while it awaits."""
