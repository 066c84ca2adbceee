"""``IC``: one simulated Internet Computer subnet, in process, deterministic.

The test-facing API, in PocketIC's vocabulary: ``update_call`` / ``query_call``,
``create_canister`` / ``install_code`` / ``deploy``, ``set_time`` / ``advance_time`` / ``tick``,
``add_cycles``, ``canister_logs``; and titanoboa's context managers: ``as_caller`` (prank),
``anchor`` (roll everything back on exit). Snapshots are O(1): the world is one persistent value.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterable, Iterator
from typing import Any, Final

import immutables

from icto.ic.argcheck import is_int
from icto.ic.canister import Canister
from icto.ic.context import INGRESS, INGRESS_QUERY, MANAGEMENT_ID
from icto.ic.errors import BadUse
from icto.ic.faults import Faults
from icto.ic.management import (
    FIRST_CANISTER_INDEX,
    CanisterSettings,
    CanisterStatus,
    ManagementCanister,
)
from icto.ic.principal import Principal
from icto.ic.proxy import CanisterProxy
from icto.ic.router import Router
from icto.ic.timers import TimerQueue
from icto.ic.trace import Trace
from icto.ic.world import DELETED, MAX_TIME, STOPPED, CanisterRecord, LogRecord, World

GENESIS_TIME: Final = (
    int(datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC).timestamp()) * 1_000_000_000
)
"""2026-01-01T00:00:00Z in nanoseconds since the Unix epoch."""

SEED_BITS: Final = 128
"""``raw_rand`` mixes the seed in as a signed 128-bit number."""

_NS: Final = {
    "days": 86_400 * 10**9,
    "hours": 3_600 * 10**9,
    "minutes": 60 * 10**9,
    "seconds": 10**9,
    "nanos": 1,
}


def _as_principal(value: Principal | CanisterProxy | str, what: str) -> Principal:
    if isinstance(value, Principal):
        return value
    if isinstance(value, CanisterProxy):
        return value.id
    if isinstance(value, str):
        return Principal.from_text(value)
    raise TypeError(f"{what} must be a Principal, a canister proxy or principal text, "
                    f"not {type(value).__name__}")  # fmt: skip


class IC:
    """A simulated IC subnet.

    ``IC(genesis_time=..., max_call_depth=64, seed=0, trace=True)``; ``max_call_depth`` is at
    most ``MAX_CALL_DEPTH`` (100), the depth Python's default recursion limit leaves room for.
    Nothing happens unless the test drives it: time moves only with ``set_time`` /
    ``advance_time``, and ids, times and ``raw_rand`` are the same in every run. Message
    delivery is the router's (``icto.ic.router``); this class is the surface a test or notebook
    holds.
    """

    def __init__(
        self,
        *,
        genesis_time: int = GENESIS_TIME,
        max_call_depth: int = 64,
        seed: int = 0,
        trace: bool = True,
    ) -> None:
        if not is_int(genesis_time) or not 0 <= genesis_time <= MAX_TIME:
            raise TypeError(
                f"genesis_time must be an int of ns from 0 to 2**64 - 1, got {genesis_time!r}"
            )
        if not is_int(seed):
            raise TypeError(f"seed must be an int, got {seed!r}")
        if not -(2 ** (SEED_BITS - 1)) <= seed < 2 ** (SEED_BITS - 1):
            raise ValueError(f"seed must fit in {SEED_BITS} signed bits, got {seed}")
        if not isinstance(trace, bool):
            raise TypeError(f"trace must be True or False, got {trace!r}")
        world = World(immutables.Map(), TimerQueue(), genesis_time, FIRST_CANISTER_INDEX, 0)
        self._router = Router(world, max_call_depth, trace)
        self._router.add_builtin(MANAGEMENT_ID, ManagementCanister(self._router, seed))
        self._seed = seed
        self._callers: list[Principal] = [Principal.anonymous()]
        self._caller_blocks: list[object] = []
        """One token per open ``as_caller`` block, for ``_callers[1:]``: each block withdraws
        its own caller, whichever order the blocks are left in."""

    # -- settings and instruments -------------------------------------------------------------

    @property
    def world(self) -> World:
        """The whole world now (an immutable value; ``snapshot()`` returns the same)."""
        return self._router.world

    @property
    def trace(self) -> Trace:
        """Every delivered message (``ic.trace.enabled = False`` to stop recording)."""
        return self._router.trace

    @property
    def faults(self) -> Faults:
        """Fault injection: ``ic.faults.reject(...)`` / ``ic.faults.trap(...)``."""
        return self._router.faults

    @property
    def max_call_depth(self) -> int:
        return self._router.max_call_depth

    @property
    def seed(self) -> int:
        """The seed ``raw_rand`` mixes in, fixed when the IC is made (``IC(seed=...)``)."""
        return self._seed

    @seed.setter
    def seed(self, value: object) -> None:
        """Refused: the management canister holds the seed it was made with, so a new value
        would change nothing here yet be saved by ``save`` and used by ``load``."""
        raise AttributeError(
            f"the seed is fixed when the IC is made: use IC(seed={value!r}), not ic.seed = ..."
        )

    # -- callers ------------------------------------------------------------------------------

    @property
    def default_caller(self) -> Principal:
        """The caller of ingress messages that name none (anonymous unless ``as_caller``)."""
        return self._callers[-1]

    @contextlib.contextmanager
    def as_caller(self, caller: Principal) -> Iterator[Principal]:
        """Within the block, ingress messages without ``caller=`` come from ``caller``.

        Blocks nest, and each one withdraws its own caller when it is left, not the latest:
        blocks left out of order (entered by hand, or held open by a generator) leave the
        caller of the latest block still open in force, and the anonymous caller once none is.
        """
        if not isinstance(caller, Principal):
            raise TypeError(f"caller must be a Principal, not {type(caller).__name__}")
        block = object()
        self._callers.append(caller)
        self._caller_blocks.append(block)
        try:
            yield caller
        finally:
            at = len(self._caller_blocks) - 1
            while self._caller_blocks[at] is not block:
                at -= 1
            del self._caller_blocks[at]
            del self._callers[at + 1]

    # -- ingress ------------------------------------------------------------------------------

    def update_call(
        self,
        canister_id: Principal | CanisterProxy | str,
        method: str,
        *args: Any,
        caller: Principal | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send an ingress update message; return the reply or raise ``CallRejected``."""
        return self._ingress(INGRESS, canister_id, method, args, kwargs, caller)

    def query_call(
        self,
        canister_id: Principal | CanisterProxy | str,
        method: str,
        *args: Any,
        caller: Principal | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send an ingress query: free, state changes dropped, update methods refused."""
        return self._ingress(INGRESS_QUERY, canister_id, method, args, kwargs, caller)

    def _ingress(
        self,
        kind: str,
        canister_id: Principal | CanisterProxy | str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        caller: Principal | None,
    ) -> Any:
        callee = _as_principal(canister_id, "canister_id")
        sender = self._sender(caller)
        if not isinstance(method, str):
            raise TypeError(f"method must be str, not {type(method).__name__}")
        return self._router.deliver(sender, callee, method, args, kwargs, 1, kind)

    def _send(
        self,
        kind: str,
        callee: Principal,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        caller: Principal | None,
    ) -> Any:
        """The proxies' channel: an ingress message with checked arguments, sent as they are."""
        sender = self._callers[-1] if caller is None else caller
        return self._router.deliver(sender, callee, method, args, kwargs, 1, kind)

    def _sender(self, caller: Principal | None) -> Principal:
        if caller is None:
            return self._callers[-1]
        if not isinstance(caller, Principal):
            raise TypeError(f"caller must be a Principal or None, not {type(caller).__name__}")
        return caller

    def actor(
        self, canister_id: Principal | CanisterProxy | str, caller: Principal | None = None
    ) -> CanisterProxy:
        """A proxy: ``ic.actor(id).method(*args)``; ``caller=None`` follows ``as_caller``."""
        return CanisterProxy(self, _as_principal(canister_id, "canister_id"), caller)

    # -- canisters (provisional conveniences, through the management canister) ---------------

    def create_canister(
        self,
        controllers: list[Principal] | tuple[Principal, ...] | None = None,
        caller: Principal | None = None,
        cycles: int | None = None,
        canister_id: Principal | str | None = None,
    ) -> Principal:
        """Create an empty canister, funded with free cycles; ``canister_id`` pins its id.

        Controllers default to ``[caller]`` (the default caller when not given).
        """
        sender = self._sender(caller)
        settings = CanisterSettings(controllers=controllers)
        pinned = None if canister_id is None else _as_principal(canister_id, "canister_id")
        created: Principal = self.update_call(
            MANAGEMENT_ID, "provisional_create_canister_with_cycles", settings, cycles, pinned,
            caller=sender,
        )  # fmt: skip
        return created

    def install_code(
        self,
        canister_id: Principal | CanisterProxy | str,
        code: type[Canister],
        arg: Any = None,
        mode: str = "install",
        caller: Principal | None = None,
    ) -> None:
        """Install (or ``mode="reinstall"`` / ``"upgrade"``) ``code`` as a controller."""
        target = _as_principal(canister_id, "canister_id")
        self.update_call(MANAGEMENT_ID, "install_code", target, code, arg, mode, caller=caller)

    def upgrade_canister(
        self,
        canister_id: Principal | CanisterProxy | str,
        code: type[Canister],
        arg: Any = None,
        caller: Principal | None = None,
    ) -> None:
        """``install_code(..., mode="upgrade")``."""
        self.install_code(canister_id, code, arg, "upgrade", caller)

    def deploy(
        self,
        code: type[Canister],
        arg: Any = None,
        controllers: list[Principal] | tuple[Principal, ...] | None = None,
        caller: Principal | None = None,
        cycles: int | None = None,
        canister_id: Principal | str | None = None,
    ) -> CanisterProxy:
        """Create a canister, install ``code`` with ``arg``, and return a proxy on it.

        ``caller`` creates it; it installs the code too, unless ``controllers`` are given without
        it among them: then the first of them installs (only a controller may).
        Atomic for the test: if installing fails the canister is not left behind.
        """
        sender = self._sender(caller)
        installer = sender
        if controllers and sender not in controllers and caller is None:
            installer = controllers[0]
        before = self._router.world
        new_id = self.create_canister(controllers, sender, cycles, canister_id)
        try:
            self.install_code(new_id, code, arg, "install", installer)
        except BaseException:
            self._router.set_world(before)
            raise
        return CanisterProxy(self, new_id)

    def canister_status(
        self, canister_id: Principal | CanisterProxy | str, caller: Principal | None = None
    ) -> CanisterStatus:
        status: CanisterStatus = self.update_call(
            MANAGEMENT_ID, "canister_status", _as_principal(canister_id, "canister_id"),
            caller=caller,
        )  # fmt: skip
        return status

    def stop_canister(self, canister_id: Principal | CanisterProxy | str,
                      caller: Principal | None = None) -> None:  # fmt: skip
        self.update_call(MANAGEMENT_ID, "stop_canister",
                         _as_principal(canister_id, "canister_id"), caller=caller)  # fmt: skip

    def start_canister(self, canister_id: Principal | CanisterProxy | str,
                       caller: Principal | None = None) -> None:  # fmt: skip
        self.update_call(MANAGEMENT_ID, "start_canister",
                         _as_principal(canister_id, "canister_id"), caller=caller)  # fmt: skip

    def delete_canister(self, canister_id: Principal | CanisterProxy | str,
                        caller: Principal | None = None) -> None:  # fmt: skip
        self.update_call(MANAGEMENT_ID, "delete_canister",
                         _as_principal(canister_id, "canister_id"), caller=caller)  # fmt: skip

    def add_cycles(self, canister_id: Principal | CanisterProxy | str, amount: int) -> int:
        """Top a canister up with free cycles; return its new balance."""
        target = _as_principal(canister_id, "canister_id")
        self.update_call(MANAGEMENT_ID, "provisional_top_up_canister", target, amount)
        return self.cycles_balance(target)

    # -- inspection (no message; like reading PocketIC's state directly) ----------------------

    def _live(self, canister_id: Principal | CanisterProxy | str) -> CanisterRecord:
        target = _as_principal(canister_id, "canister_id")
        record = self._router.world.canisters.get(target)
        if record is None or record.status == DELETED:
            raise BadUse(f"no canister {target}")
        return record

    def canister_exists(self, canister_id: Principal | CanisterProxy | str) -> bool:
        record = self._router.world.canisters.get(_as_principal(canister_id, "canister_id"))
        return record is not None and record.status != DELETED

    def code_of(self, canister_id: Principal | CanisterProxy | str) -> type[Canister] | None:
        """The class the canister runs, ``None`` if it is empty or does not exist."""
        if type(canister_id) is not Principal:  # proxies ask with a Principal on every call
            canister_id = _as_principal(canister_id, "canister_id")
        return self._router.code_of(canister_id)

    def state_of(self, canister_id: Principal | CanisterProxy | str) -> Any:
        """The canister's current state value (read-only: it is immutable)."""
        return self._live(canister_id).state

    def cycles_balance(self, canister_id: Principal | CanisterProxy | str) -> int:
        balance: int = self._live(canister_id).cycles
        return balance

    def controllers_of(self, canister_id: Principal | CanisterProxy | str) -> tuple[Principal, ...]:
        controllers: tuple[Principal, ...] = self._live(canister_id).controllers
        return controllers

    def is_stopped(self, canister_id: Principal | CanisterProxy | str) -> bool:
        return bool(self._live(canister_id).status == STOPPED)

    def canister_logs(self, canister_id: Principal | CanisterProxy | str) -> tuple[LogRecord, ...]:
        """The canister's log records, oldest first (kept across upgrades, bounded)."""
        records: tuple[LogRecord, ...] = self._live(canister_id).log.tail()
        return records

    def pending_timers(self) -> int:
        return len(self._router.world.timers)

    # -- time ---------------------------------------------------------------------------------

    @property
    def time(self) -> int:
        """IC time, nanoseconds since the Unix epoch."""
        return self._router.world.time

    def set_time(self, ns: int) -> None:
        """Move the clock to ``ns`` (never backwards), delivering every timer due by then."""
        if not isinstance(ns, int) or isinstance(ns, bool):
            raise TypeError(f"time must be an int of nanoseconds, not {type(ns).__name__}")
        if ns < self._router.world.time:
            raise BadUse(f"time cannot go backwards: now {self._router.world.time}, asked {ns}")
        if ns > MAX_TIME:
            raise BadUse(f"IC time is a nat64 of nanoseconds: {ns} is past its end")
        self._run_timers_until(ns)

    def advance_time(
        self, *, days: int = 0, hours: int = 0, minutes: int = 0, seconds: int = 0, nanos: int = 0
    ) -> None:
        """Move the clock forward, delivering due timers at their own deadlines, in order."""
        delta = 0
        for unit, amount in (("days", days), ("hours", hours), ("minutes", minutes),
                             ("seconds", seconds), ("nanos", nanos)):  # fmt: skip
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise BadUse(f"advance_time({unit}=...) takes a non-negative int, got {amount!r}")
            delta += amount * _NS[unit]
        if self._router.world.time + delta > MAX_TIME:
            raise BadUse("IC time is a nat64 of nanoseconds: that moves it past its end")
        self._run_timers_until(self._router.world.time + delta)

    def tick(self) -> None:
        """Deliver the timers due now (``advance_time`` and ``set_time`` do this as well)."""
        self._run_timers_until(self._router.world.time)

    def _run_timers_until(self, target: int) -> None:
        self._router.run_timers_until(target)

    # -- snapshots ----------------------------------------------------------------------------

    def snapshot(self) -> World:
        """The whole world as an immutable value; O(1)."""
        return self._router.world

    def restore(self, snapshot: World) -> None:
        """Put the world back as it was at ``snapshot``; O(1). Faults and trace are kept."""
        if not isinstance(snapshot, World):
            raise TypeError(f"restore() takes a snapshot from ic.snapshot(), not "
                            f"{type(snapshot).__name__}")  # fmt: skip
        self._router.set_world(snapshot)

    @contextlib.contextmanager
    def anchor(self) -> Iterator[World]:
        """Everything inside the block is rolled back at exit, even on exception. Nests."""
        router = self._router
        snapshot = router.world
        try:
            yield snapshot
        finally:
            router.set_world(snapshot)

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the whole world and the settings needed to continue to ``path``, atomically.

        The file is JSON with a header, a version and a SHA-256 checksum (``icto.ic.persistence``).
        """
        from icto.ic.persistence import save_ic

        save_ic(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], allow: Iterable[str] = ()) -> IC:
        """A new IC continuing from a file written by ``save``; it behaves exactly as the saved
        one would have. Loading runs no code from the file: classes it names must come from
        ``icto`` or a module prefix in ``allow`` (e.g. ``allow=("mypackage.contracts",)``).
        """
        from icto.ic.persistence import InvalidPayload, load_world

        world, settings = load_world(path, allow)
        try:
            ic = cls(
                genesis_time=world.time,
                max_call_depth=settings["max_call_depth"],
                seed=settings["seed"],
                trace=settings["trace"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidPayload(f"invalid settings: {exc}") from exc
        ic.restore(world)
        return ic

    # -- display ------------------------------------------------------------------------------

    def __repr__(self) -> str:
        """The live canisters (deleted ones are not counted) and the time, to the microsecond
        below it (integer arithmetic: a float would round 999_999_999 ns up to a second)."""
        world = self._router.world
        live = sum(record.status != DELETED for record in world.canisters.values())
        seconds, ns = divmod(world.time, 10**9)
        moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC).replace(
            microsecond=ns // 1_000
        )
        return f"<IC {live} canisters at {moment.isoformat()} ({world.time} ns)>"

    def _repr_html_(self) -> str:
        from icto.ic.html import table

        rows = [
            (
                record.canister_id,
                "(empty)" if record.code is None else record.code.__name__,
                "" if record.code is None else record.code.VERSION,
                record.status,
                record.cycles,
            )
            for record in self._router.world.canisters.values()
            if record.status != DELETED
        ]
        rows.sort(key=lambda row: row[0])
        return table(repr(self), ("canister", "code", "version", "status", "cycles"), rows)
