"""The management canister ``aaaaa-aa``: canister lifecycle, settings, status, cycles, randomness.

A built-in reached through the router like any canister, so faults and the trace apply to it. Each
call is atomic: if it fails, the world is put back as it was. Only controllers may install,
uninstall, change settings, stop, start or delete a canister (5 / ``IC0512`` otherwise).
"""

from __future__ import annotations

import enum
import hashlib
import sys
from collections.abc import Iterable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
import immutables
from pyrsistent import PMap

from icto.collections.sorted_set import SortedSet
from icto.collections.vector import Vector
from icto.ic import cycles as costs
from icto.ic.canister import UPDATE, Canister, MethodSpec, hook_trap_message, module_hash
from icto.ic.context import INGRESS, INGRESS_QUERY, MANAGEMENT_ID, InjectedTrap
from icto.ic.errors import CallRejected, ErrorCode, InvalidArguments
from icto.ic.errors import RejectCode as RC
from icto.ic.principal import Principal
from icto.ic.world import DELETED, RUNNING, STOPPED, CanisterLog, CanisterRecord, World

if TYPE_CHECKING:
    from icto.ic.faults import FaultRule
    from icto.ic.trace import TraceEntry

MAX_CONTROLLERS: Final = 10
FIRST_CANISTER_INDEX: Final = 0xFFFFFFFFFFE00000
"""Ordinary canister ids start where PocketIC's first application subnet starts
(``lxzze-o7777-77777-aaaaa-cai``), leaving the NNS ids (``ryjl3-…`` = index 2 …) free to pin."""


class HookTrapped(CallRejected):
    """``init``, ``pre_upgrade`` or ``post_upgrade`` trapped: the install is rejected."""

    def __init__(self, *args: Any, trapped_canister: Principal | None = None) -> None:
        super().__init__(*args)
        self.trapped_canister = trapped_canister


class InstallMode(enum.StrEnum):
    INSTALL = "install"
    REINSTALL = "reinstall"
    UPGRADE = "upgrade"


def _controllers(value: Any) -> tuple[Principal, ...] | None:
    if value is None:
        return None
    if isinstance(value, Principal) or not isinstance(value, Iterable):
        raise TypeError("controllers must be a sequence of Principals")
    controllers = tuple(dict.fromkeys(value))
    if not all(isinstance(p, Principal) for p in controllers):
        raise TypeError("controllers must be Principals")
    if len(controllers) > MAX_CONTROLLERS:
        raise ValueError(f"a canister has at most {MAX_CONTROLLERS} controllers")
    return controllers


@attrs.frozen(slots=True)
class CanisterSettings:
    """Settings for ``create_canister`` / ``update_settings``; ``None`` leaves a field unchanged."""

    controllers: tuple[Principal, ...] | None = attrs.field(default=None, converter=_controllers)


@attrs.frozen(slots=True)
class CanisterStatus:
    """What ``canister_status`` reports."""

    status: str
    controllers: tuple[Principal, ...]
    module_hash: bytes | None
    version: str | None
    cycles: int
    memory_size: int

    def __repr__(self) -> str:
        module = self.module_hash.hex()[:12] + "…" if self.module_hash is not None else None
        controllers = ", ".join(str(c) for c in self.controllers)
        return (
            f"CanisterStatus(status={self.status!r}, version={self.version!r}, "
            f"module_hash={module!r}, cycles={self.cycles:_}, memory_size={self.memory_size}, "
            f"controllers=[{controllers}])"
        )


_MAPPINGS: Final = (immutables.Map, PMap, dict)
_COLLECTIONS: Final = (tuple, list, frozenset, set, Vector, SortedSet)
_SCALARS: Final = (str, bytes, int, float, Principal, type)
_MAPPING_ENTRY: Final = 40
"""Bytes a mapping spends on one entry beyond its key and value (hash-table or trie slot)."""
_GROWN: Final[dict[type, tuple[int, int]]] = {
    list: (sys.getsizeof([]), 8),
    set: (sys.getsizeof(set()), 16),
    frozenset: (sys.getsizeof(frozenset()), 16),
    dict: (sys.getsizeof({}), _MAPPING_ENTRY),
}
"""Header and per-item bytes of the containers whose ``getsizeof`` depends on how they grew
(spare capacity), not on what they hold."""
_WIDE_STR_HEADER: Final = sys.getsizeof("\xe9" * 8) - 9
"""CPython's header of a string that is not ASCII (its UTF-8 copy, made on demand, excluded)."""


def _str_size(text: str) -> int:
    """A string's bytes from its characters alone: ``getsizeof`` adds a UTF-8 copy CPython
    keeps only once some code asked for one."""
    if text.isascii():
        return sys.getsizeof(text)
    widest = ord(max(text))
    kind = 1 if widest < 0x100 else 2 if widest < 0x10000 else 4
    return _WIDE_STR_HEADER + (len(text) + 1) * kind


def _own_size(obj: Any) -> int:
    """The bytes of ``obj`` itself (its parts excluded), from its value alone."""
    if isinstance(obj, str):
        return _str_size(obj)
    grown = _GROWN.get(type(obj))
    if grown is not None:
        header, per_item = grown
        return header + per_item * len(obj)
    size = sys.getsizeof(obj)
    if isinstance(obj, _MAPPINGS):
        size += _MAPPING_ENTRY * len(obj)
    return size


def _parts(obj: Any) -> list[Any]:
    """The values ``obj`` holds: a mapping's keys and values, a collection's items, a record's
    fields; none for a scalar or an object of another kind."""
    if isinstance(obj, _SCALARS) or obj is None:
        return []
    if isinstance(obj, _MAPPINGS):
        return [part for item in obj.items() for part in item]
    if isinstance(obj, _COLLECTIONS):
        return list(obj)
    if attrs.has(type(obj)):
        return [getattr(obj, f.name) for f in attrs.fields(type(obj))]
    return []


_LEAVES: Final = frozenset({int, bool, float, type(None), bytes, str})
"""Types of values that hold nothing: weighed where they are held, never queued."""


def _weight_of(part: Any, weights: dict[int, tuple[Any, int]]) -> int:
    """A part's weight: a leaf's own size, else the weight found for it (0 for a container
    still being weighed, one that holds itself)."""
    if part.__class__ in _LEAVES:
        return _own_size(part)
    found = weights.get(id(part))
    return 0 if found is None else found[1]


def estimate_memory(value: Any) -> int:
    """A rough byte count of a state value, as if no part were shared: equal values (of the same
    types) weigh the same however their objects are shared, so a world saved and loaded reports
    what it did. Each distinct container is weighed once and its weight reused, so the cost is
    O(objects in the state) even when sharing makes the count far larger."""
    if value.__class__ in _LEAVES:
        return _own_size(value)
    weights: dict[int, tuple[Any, int]] = {}  # each object kept alive, so no id is reused
    weighing: set[int] = set()
    stack: list[tuple[Any, list[Any] | None]] = [(value, None)]
    while stack:
        obj, parts = stack.pop()
        key = id(obj)
        if parts is not None:
            weighing.discard(key)
            weights[key] = (obj, _own_size(obj) + sum(_weight_of(p, weights) for p in parts))
        elif key not in weights and key not in weighing:
            weighing.add(key)
            parts = _parts(obj)
            stack.append((obj, parts))
            stack.extend((p, None) for p in parts if p.__class__ not in _LEAVES)
    return weights[id(value)][1]


class Kernel(Protocol):
    """What the management canister needs of the system it manages (the router provides it)."""

    @property
    def world(self) -> World: ...

    def set_world(self, world: World) -> None: ...

    def put(self, record: CanisterRecord) -> None: ...

    def record_of(self, canister_id: Principal) -> CanisterRecord: ...

    def clear_timers(self, record: CanisterRecord, timer_ids: Any = None) -> CanisterRecord: ...

    def run_hook(
        self, record: CanisterRecord, code: type[Canister], hook: str, args: tuple[Any, ...],
        caller: Principal, depth: int, parent: TraceEntry | None,
    ) -> tuple[Any, Any]: ...  # fmt: skip


def _check_amount(amount: int) -> None:
    """Refuse a cycles amount that is not a u128."""
    if not 0 <= amount <= costs.MAX_CYCLES:
        raise ValueError(f"amount must be a u128 of cycles (0 to 2**128 - 1), got {amount}")


class ManagementCanister:
    """Serves calls addressed to ``aaaaa-aa``: a built-in the router reaches by that id.

    ``seed`` makes ``raw_rand`` deterministic per IC.
    """

    PUBLIC: Final = frozenset(
        {
            "create_canister",
            "provisional_create_canister_with_cycles",
            "provisional_top_up_canister",
            "install_code",
            "uninstall_code",
            "update_settings",
            "canister_status",
            "stop_canister",
            "start_canister",
            "delete_canister",
            "deposit_cycles",
            "raw_rand",
        }
    )
    CANISTERS_ONLY: Final = frozenset({"create_canister", "raw_rand"})

    def __init__(self, kernel: Kernel, seed: int = 0) -> None:
        self._kernel = kernel
        self._seed = seed
        self._checkers: dict[str, Any] = {}
        self._caller = Principal.anonymous()
        self._cycles = 0
        self._accepted = 0
        self._depth = 1
        self._entry: TraceEntry | None = None

    @property
    def _id(self) -> Principal:
        return MANAGEMENT_ID

    # -- dispatch -----------------------------------------------------------------------------

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
    ) -> tuple[Any, int]:
        if method not in self.PUBLIC:
            raise self._error(
                RC.CANISTER_REJECT, ErrorCode.UNKNOWN_MANAGEMENT_MESSAGE,
                f"Management canister has no method {method!r}", method,
            )  # fmt: skip
        if kind == INGRESS_QUERY:
            raise self._error(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_METHOD_NOT_FOUND,
                f"Management canister has no query method {method!r}", method,
            )  # fmt: skip
        if kind == INGRESS and method in self.CANISTERS_ONLY:
            raise self._error(
                RC.CANISTER_REJECT,
                ErrorCode.CANISTER_REJECTED_MESSAGE,
                f"{method} can only be called by canisters"
                + ("; tests use ic.create_canister(...)" if method == "create_canister" else ""),
                method,
            )
        problem = self._checker(method).check(args, kwargs)
        if problem is not None:
            raise InvalidArguments(
                RC.CANISTER_REJECT, ErrorCode.INVALID_MANAGEMENT_PAYLOAD.value, problem,
                self._id, method,
            )  # fmt: skip
        kernel = self._kernel
        start = kernel.world
        self._caller, self._cycles, self._accepted = caller, cycles, 0
        self._depth = entry.depth if entry is not None else 1
        self._entry = entry
        try:
            result = getattr(self, method)(*args, **kwargs)
            if fault is not None:
                raise fault.inject()
        except InjectedTrap as trap:
            kernel.set_world(start)
            if entry is not None:
                entry.outcome = "trap"
                entry.injected = True
            raise self._error(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_CALLED_TRAP,
                f"Management canister trapped: {trap}", method,
            ) from None  # fmt: skip
        except (CallRejected, TypeError, ValueError) as exc:
            hook = exc if isinstance(exc, HookTrapped) else None
            trapped = None if hook is None else hook.trapped_canister
            failed = None if trapped is None else kernel.world.canisters.get(trapped)
            kernel.set_world(start)
            if hook is not None and trapped is not None:
                self._log_trap(trapped, f"[TRAP]: {hook.message}", _kept_log(start, failed))
            if isinstance(exc, CallRejected):
                raise
            raise InvalidArguments(
                RC.CANISTER_REJECT, ErrorCode.INVALID_MANAGEMENT_PAYLOAD.value, str(exc),
                self._id, method,
            ) from exc  # fmt: skip
        except BaseException:  # an interrupt (Ctrl-C) inside a hook: the call is undone whole
            kernel.set_world(start)
            raise
        return result, self._accepted

    def _checker(self, method: str) -> Any:
        from icto.ic.argcheck import ArgumentChecker

        checker = self._checkers.get(method)
        if checker is None:
            checker = ArgumentChecker(getattr(ManagementCanister, method), f"aaaaa-aa.{method}()")
            self._checkers[method] = checker
        return checker

    def _error(self, code: RC, error: ErrorCode, message: str, method: str) -> CallRejected:
        return CallRejected(code, error.value, message, self._id, method)

    # -- helpers ------------------------------------------------------------------------------

    def _target(self, canister_id: Principal, method: str) -> CanisterRecord:
        record = self._kernel.world.canisters.get(canister_id)
        if record is None or record.status == DELETED:
            raise self._error(
                RC.DESTINATION_INVALID, ErrorCode.CANISTER_NOT_FOUND,
                f"Canister {canister_id} not found", method,
            )  # fmt: skip
        return record

    def _controlled(self, canister_id: Principal, method: str) -> CanisterRecord:
        record = self._target(canister_id, method)
        if self._caller not in record.controllers:
            raise self._error(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_INVALID_CONTROLLER,
                f"Only the controllers of canister {canister_id} can call {method}; "
                f"{self._caller} is not one of them", method,
            )  # fmt: skip
        return record

    def _put(self, record: CanisterRecord) -> None:
        self._kernel.put(record)

    def _log_trap(self, canister_id: Principal, message: str, log: Any = None) -> None:
        """Append ``message`` to the canister's log (to ``log``, the log it had when its hook
        trapped, if given)."""
        record = self._kernel.world.canisters.get(canister_id)
        if record is not None:
            kept = record.log if log is None else log
            self._put(record.with_log(kept.append(self._kernel.world.time, message)))

    def _new_canister(
        self, settings: CanisterSettings | None, cycles: int, specified_id: Principal | None
    ) -> Principal:
        world = self._kernel.world
        if specified_id is not None:
            if not specified_id.is_canister:
                raise ValueError(
                    f"{specified_id} is not a canister id (u64 big-endian followed by 01 01)"
                )
            if specified_id in world.canisters:
                raise self._error(
                    RC.CANISTER_ERROR, ErrorCode.CANISTER_ALREADY_INSTALLED,
                    f"Canister {specified_id} is already installed", "create_canister",
                )  # fmt: skip
            canister_id, next_index = specified_id, world.next_canister_index
        else:
            index = world.next_canister_index
            while Principal.from_canister_index(index) in world.canisters:
                index = (index + 1) % 2**64
            canister_id, next_index = Principal.from_canister_index(index), (index + 1) % 2**64
        controllers = (
            settings.controllers
            if settings is not None and settings.controllers is not None
            else (self._caller,)
        )
        record = CanisterRecord(
            canister_id, None, None, controllers, RUNNING, cycles, immutables.Map(),
            CanisterLog(), 0,
        )  # fmt: skip
        self._kernel.set_world(World(
            world.canisters.set(canister_id, record), world.timers, world.time, next_index,
            world.rand_counter,
        ))  # fmt: skip
        return canister_id

    # -- the interface ------------------------------------------------------------------------

    def create_canister(self, settings: CanisterSettings | None = None) -> Principal:
        """Create an empty canister paid for by the cycles attached to the call."""
        if self._cycles < costs.CANISTER_CREATION:
            raise self._error(
                RC.CANISTER_REJECT, ErrorCode.INSUFFICIENT_CYCLES_FOR_CREATE,
                f"Creating a canister costs {costs.CANISTER_CREATION} cycles; "
                f"{self._cycles} were attached", "create_canister",
            )  # fmt: skip
        self._accepted = self._cycles
        return self._new_canister(settings, self._cycles - costs.CANISTER_CREATION, None)

    def provisional_create_canister_with_cycles(
        self,
        settings: CanisterSettings | None = None,
        amount: int | None = None,
        specified_id: Principal | None = None,
    ) -> Principal:
        """Create a canister with free cycles (test networks only; callable by ingress)."""
        if amount is not None:
            _check_amount(amount)
        cycles = costs.DEFAULT_CANISTER_CYCLES if amount is None else amount
        return self._new_canister(settings, cycles, specified_id)

    def provisional_top_up_canister(self, canister_id: Principal, amount: int) -> None:
        """Add free cycles to a canister (test networks only); its balance saturates at u128."""
        _check_amount(amount)
        record = self._target(canister_id, "provisional_top_up_canister")
        self._put(record.with_cycles(min(record.cycles + amount, costs.MAX_CYCLES)))

    def install_code(
        self,
        canister_id: Principal,
        code: type,
        arg: Any = None,
        mode: str = InstallMode.INSTALL,
    ) -> None:
        """Install, reinstall or upgrade ``code`` (a ``Canister`` subclass); atomic."""
        record = self._controlled(canister_id, "install_code")
        if not issubclass(code, Canister) or code is Canister:
            raise TypeError(f"code must be a Canister subclass, got {code!r}")
        try:
            install_mode = InstallMode(mode)
        except ValueError:
            raise ValueError(
                f"mode must be one of {[m.value for m in InstallMode]}, got {mode!r}"
            ) from None
        if install_mode is InstallMode.INSTALL and record.code is not None:
            raise self._error(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_NON_EMPTY,
                f"Canister {canister_id} is not empty: use mode 'reinstall' or 'upgrade'",
                "install_code",
            )  # fmt: skip
        if install_mode is InstallMode.UPGRADE and record.code is None:
            raise self._error(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_WASM_MODULE_NOT_FOUND,
                f"Canister {canister_id} is empty: there is nothing to upgrade", "install_code",
            )  # fmt: skip
        kernel = self._kernel
        stable: Any = None
        if install_mode is InstallMode.UPGRADE:
            assert record.code is not None
            stable = self._hook(record, record.code, "pre_upgrade", ())
            record = kernel.record_of(canister_id)
        record = kernel.clear_timers(record)
        log = CanisterLog() if install_mode is InstallMode.REINSTALL else record.log
        fresh = CanisterRecord(
            canister_id, code, None, record.controllers, record.status, record.cycles,
            record.timer_ids, log, record.generation + 1,
        )  # fmt: skip
        self._put(fresh)
        if install_mode is InstallMode.UPGRADE:
            self._hook(fresh, code, "post_upgrade", (stable, arg))
        else:
            self._hook(fresh, code, "init", (arg,))

    def _hook(self, record: CanisterRecord, code: type, hook: str, args: tuple[Any, ...]) -> Any:
        """Run a lifecycle hook; store the resulting state; turn a trap into a reject (the
        hook's own trace entry, under this call's, keeps the traceback)."""
        kernel = self._kernel
        try:
            state, returned = kernel.run_hook(
                record, code, hook, args, self._caller, self._depth, self._entry
            )
        except Exception as exc:
            message = hook_trap_message(record.canister_id, hook, exc, code)
            raise HookTrapped(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_CALLED_TRAP.value, message, self._id,
                "install_code", trapped_canister=record.canister_id,
            ) from exc  # fmt: skip
        if hook != "pre_upgrade":
            current = kernel.record_of(record.canister_id)
            self._put(current.with_state(state, current.cycles))
        return returned

    def uninstall_code(self, canister_id: Principal) -> None:
        record = self._kernel.clear_timers(self._controlled(canister_id, "uninstall_code"))
        self._put(
            CanisterRecord(
                canister_id, None, None, record.controllers, record.status, record.cycles,
                record.timer_ids, CanisterLog(), record.generation + 1,
            )
        )  # fmt: skip

    def update_settings(self, canister_id: Principal, settings: CanisterSettings) -> None:
        record = self._controlled(canister_id, "update_settings")
        if settings.controllers is not None:
            self._put(record._replace(controllers=settings.controllers))

    def canister_status(self, canister_id: Principal) -> CanisterStatus:
        record = self._target(canister_id, "canister_status")
        if self._caller not in record.controllers and self._caller != canister_id:
            raise self._error(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_INVALID_CONTROLLER,
                f"Only the controllers of canister {canister_id} or the canister itself can "
                f"call canister_status", "canister_status",
            )  # fmt: skip
        code = record.code
        return CanisterStatus(
            status=record.status,
            controllers=record.controllers,
            module_hash=module_hash(code) if code is not None else None,
            version=getattr(code, "VERSION", None) if code is not None else None,
            cycles=record.cycles,
            memory_size=estimate_memory(record.state),
        )

    def stop_canister(self, canister_id: Principal) -> None:
        record = self._controlled(canister_id, "stop_canister")
        self._put(record._replace(status=STOPPED))

    def start_canister(self, canister_id: Principal) -> None:
        record = self._controlled(canister_id, "start_canister")
        self._put(record._replace(status=RUNNING))

    def delete_canister(self, canister_id: Principal) -> None:
        record = self._controlled(canister_id, "delete_canister")
        if record.status != STOPPED:
            raise self._error(
                RC.CANISTER_ERROR, ErrorCode.CANISTER_NOT_STOPPED,
                f"Canister {canister_id} must be stopped before it is deleted", "delete_canister",
            )  # fmt: skip
        record = self._kernel.clear_timers(record)
        self._put(
            CanisterRecord(
                canister_id, None, None, (), DELETED, 0, record.timer_ids, CanisterLog(),
                record.generation + 1,
            )
        )  # fmt: skip

    def deposit_cycles(self, canister_id: Principal) -> None:
        """Move every cycle attached to the call into ``canister_id`` (its balance saturates at
        u128)."""
        record = self._target(canister_id, "deposit_cycles")
        self._accepted = self._cycles
        self._put(record.with_cycles(min(record.cycles + self._cycles, costs.MAX_CYCLES)))

    def raw_rand(self) -> bytes:
        """32 pseudo-random bytes, deterministic for a given IC seed and call order."""
        kernel = self._kernel
        world = kernel.world
        seed = self._seed
        digest = hashlib.sha256(
            b"icto.raw_rand" + seed.to_bytes(16, "big", signed=True)
            + world.rand_counter.to_bytes(8, "big")
        ).digest()  # fmt: skip
        kernel.set_world(world._replace(rand_counter=world.rand_counter + 1))
        return digest


MANAGEMENT_METHODS: Final = MappingProxyType(
    {
        name: MethodSpec("aaaaa-aa", name, UPDATE, False, getattr(ManagementCanister, name))
        for name in sorted(ManagementCanister.PUBLIC)
    }
)
"""The management canister's public methods as a proxy sees them: ``ic.actor(MANAGEMENT_ID,
caller).canister_status(cid)`` sends an update to ``aaaaa-aa`` like any other actor's call."""


def _kept_log(start: Any, failed: CanisterRecord | None) -> CanisterLog | None:
    """The log a canister keeps when its install trapped in a hook: the one the hooks wrote to,
    if it goes on from the log the canister had (an upgrade keeps its log); else ``None``, the
    log it had (a reinstall's fresh log goes with the reinstall)."""
    if failed is None:
        return None
    before = start.canisters.get(failed.canister_id)
    if before is None:
        return None
    old, new = before.log, failed.log
    goes_on = new.next_idx >= old.next_idx and tuple(new.records[:1]) == tuple(old.records[:1])
    return new if goes_on else None
