"""Canister code: a Python class whose public methods are marked ``@update`` or ``@query``.

An instance is a stateless view created for one message: the router hands it the canister's state
as ``self.state`` and a message context, runs one method, and stores ``self.state`` back in the
world (or drops it, for queries and traps). ``self.state`` is the only attribute canister code may
set; anything else fails loudly, because it would not survive the message.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import importlib
import inspect
import re
from collections import deque
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar, overload

import attrs

from icto.ic.argcheck import ArgumentChecker
from icto.ic.context import (
    CALLER,
    CANISTER_ID,
    CYCLES_ACCEPTED,
    CYCLES_AVAILABLE,
    HOST,
    SEGMENT,
    TIME,
)

if TYPE_CHECKING:
    from icto.ic.context import CallContext
    from icto.ic.principal import Principal

UPDATE: Final = "update"
QUERY: Final = "query"

F = TypeVar("F", bound=Callable[..., Any])

_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
"""ASCII digits only, matched whole (``fullmatch``: no trailing newline slips through)."""


def parse_semver(text: object) -> tuple[int, int, int]:
    """``"1.2.3"`` → ``(1, 2, 3)``, the order versions compare in; ``ValueError`` otherwise."""
    match = _SEMVER.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"a version is semver text 'major.minor.patch', got {text!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch)

MUTABLE_TYPES: Final = (list, dict, set, bytearray, deque)
"""Containers a canister may not keep in its state or in class attributes: they change in
place, so no snapshot or rollback could hold them."""


class Trap(RuntimeError):
    """Raise to trap the current message on purpose, like ``ic_cdk::trap``."""


class MethodSpec:
    """What the router knows about one public method.

    ``check_arguments(args, kwargs)`` returns ``None`` or what is wrong; the checker is built on
    first use (type hints may name classes defined after the canister class). ``needs_arguments``
    is false for a method that can be called with none at all, so such a call needs no check.
    """

    __slots__ = ("check_arguments", "composite", "fn", "kind", "name", "needs_arguments", "owner")

    check_arguments: Callable[[tuple[Any, ...], dict[str, Any]], str | None]

    def __init__(self, owner: str, name: str, kind: str, composite: bool, fn: Callable[..., Any]):
        self.owner = owner
        self.name = name
        self.kind = kind
        self.composite = composite
        self.fn = fn
        self.check_arguments = self._build_checker_and_check
        code = getattr(fn, "__code__", None)
        self.needs_arguments = (
            code is None
            or code.co_argcount - 1 > len(getattr(fn, "__defaults__", None) or ())
            or code.co_kwonlyargcount > len(getattr(fn, "__kwdefaults__", None) or {})
        )

    def _build_checker_and_check(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        self.check_arguments = ArgumentChecker(self.fn, f"{self.owner}.{self.name}()").compiled()
        return self.check_arguments(args, kwargs)

    def __repr__(self) -> str:
        return f"<{self.kind} {self.owner}.{self.name}>"


def update(fn: F) -> F:
    """Mark a public update method: it may change ``self.state`` and call other canisters."""
    fn.__icto_kind__ = UPDATE  # type: ignore[attr-defined]
    return fn


@overload
def query(fn: F, /) -> F: ...
@overload
def query(*, composite: bool = False) -> Callable[[F], F]: ...
def query(fn: F | None = None, /, *, composite: bool = False) -> F | Callable[[F], F]:
    """Mark a public query: it reads state; whatever it assigns is dropped.

    ``@query(composite=True)`` may call other canisters' queries with ``self.query_call`` when it
    is called as a query (not from an update), as composite queries do on the IC.
    """

    def mark(f: F) -> F:
        f.__icto_kind__ = QUERY  # type: ignore[attr-defined]
        f.__icto_composite__ = composite  # type: ignore[attr-defined]
        return f

    return mark(fn) if fn is not None else mark


def unstarted_kind(fn: object) -> str | None:
    """``"an async"`` or ``"a generator"`` for a function whose call returns an object that
    has not run its body yet (``None`` for any other): a message runs to completion at once, so
    it would reply with that object and never run the body."""
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return "an async"
    if inspect.isgeneratorfunction(fn):
        return "a generator"
    return None


_ATTRS_FROZEN_SETATTR: Final = getattr(
    importlib.import_module("attr._make"), "_frozen_setattrs", None
)


def _is_frozen_record(cls: type) -> bool:
    if attrs.has(cls):
        if _ATTRS_FROZEN_SETATTR is None:
            return cls.__setattr__ is not object.__setattr__
        return cls.__setattr__ is _ATTRS_FROZEN_SETATTR
    if dataclasses.is_dataclass(cls):
        return bool(cls.__dataclass_params__.frozen)  # type: ignore[attr-defined]
    return True


known_state_types: dict[type, bool] = {}
"""Whether each type seen as canister state is immutable (filled by ``check_state``)."""

immutable_state_types: set[type] = set()
"""The types ``check_state`` found immutable: a commit tests membership instead of calling it."""


def check_state(value: Any) -> None:
    """Refuse obviously mutable canister state (top level only; the check is O(1) per type),
    and a canister object (a view of one message, not a value)."""
    cls = type(value)
    ok = known_state_types.get(cls)
    if ok is None:
        ok = (
            not issubclass(cls, MUTABLE_TYPES) and not issubclass(cls, Canister)
            and _is_frozen_record(cls)
        )  # fmt: skip
        known_state_types[cls] = ok
        if ok:
            immutable_state_types.add(cls)
    if not ok:
        what = "a canister object" if issubclass(cls, Canister) else "mutable"
        raise TypeError(
            f"canister state must be immutable (frozen attrs record, immutables.Map, Vector, "
            f"tuple, int, str …), got {what} {cls.__name__}"
        )


def check_upgrade(stable: Any, arg: Any, state_type: type, kind: str) -> None:
    """For a ``post_upgrade`` that takes no argument and keeps only its own kind of state:
    raise (a trap, so the IC rolls the upgrade back and the old code and state stay) if
    ``arg`` is given or ``stable`` is not a ``state_type``. ``kind`` names the canister."""
    if arg is not None:
        raise TypeError(f"{kind}'s upgrade takes no argument, got {type(arg).__name__}")
    if not isinstance(stable, state_type):
        raise TypeError(
            f"{kind} keeps a {state_type.__name__}, and this canister holds "
            f"{type(stable).__name__}: it is another kind of canister"
        )


def module_hash(code: type) -> bytes:
    """A stable digest standing for the Wasm module hash: qualified name and declared version."""
    version = getattr(code, "VERSION", "0.0.0")
    return hashlib.sha256(f"{code.__module__}.{code.__qualname__}@{version}".encode()).digest()


class _CanisterType(abc.ABCMeta):
    """Makes every canister class slots-only: an instance holds its context and ``state`` and
    has no ``__dict__``, so ``self.state = …`` is a plain slot write (no Python ``__setattr__``
    on each assignment) and any other attribute fails to set, as it would not survive the
    message. A base that would give instances a ``__dict__`` (a mixin without ``__slots__``) is
    refused, as is a canister class's own ``__slots__``. Built on ``ABCMeta``, so a canister
    class may also be an abstract base class."""

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> _CanisterType:
        slots = namespace.get("__slots__", ())
        if bases and slots not in ((), []):
            raise TypeError(
                f"{name} declares __slots__ {slots!r}: canister data must live in self.state"
            )
        cls = super().__new__(mcs, name, bases, {**namespace, "__slots__": slots}, **kwargs)
        if cls.__dictoffset__:
            lax = [base.__qualname__ for base in cls.__mro__ if "__dict__" in vars(base)]
            raise TypeError(
                f"{name} would give its instances a __dict__ (from {', '.join(lax)}): a base "
                f"mixed into a canister class must declare __slots__ = (), so that canister data "
                f"can only live in self.state"
            )
        return cls


_NOT_SET: Final = re.compile(
    r"'(?P<cls>[^']+)' object (?:has no attribute|attribute) '(?P<name>[^']+)'"
)


def describe_error(exc: BaseException, code: type | None) -> str:
    """``"Type: text"`` for a trap message; an attribute canister code could not *set* on its
    view says why (the view keeps ``self.state`` only). A failed read is left as Python says it:
    Python names the attribute of a failed read (``exc.name``), and of a failed set only in the
    wordings that say so ("read-only", "for setting new attributes")."""
    text = str(exc)
    described = type(exc).__name__ + (f": {text}" if text else "")
    found = _NOT_SET.match(text) if isinstance(exc, AttributeError) else None
    if (
        found is not None
        and code is not None
        and found["cls"] == code.__name__
        and (exc.name is None or "read-only" in text or "for setting" in text)  # type: ignore[attr-defined]
    ):
        described += (
            f" ({code.__name__} cannot keep {found['name']!r}: canister code keeps its data in "
            f"self.state only; the instance is a view that lives for one message)"
        )
    return described


def hook_trap_message(canister_id: Principal, hook: str, exc: BaseException, code: type) -> str:
    """What a trap in ``init`` / ``pre_upgrade`` / ``post_upgrade`` says: the install's reject,
    the canister's log and the hook's trace entry all say the same."""
    return f"Canister {canister_id} trapped in {hook}: {describe_error(exc, code)}"


class Canister(metaclass=_CanisterType):
    """Base class of canister code.

    Subclasses declare ``VERSION`` (semver text), keep all data in ``self.state`` (an immutable
    value) and mark public methods with ``@update`` / ``@query``. Inside a method use ``self.id``,
    ``self.caller``, ``self.time``, ``self.call(...)``, ``self.set_timer(...)``, ``self.log(...)``.
    """

    __slots__ = ("__context", "state")

    VERSION: ClassVar[str] = "0.0.0"
    __icto_methods__: ClassVar[Mapping[str, MethodSpec]] = MappingProxyType({})
    __icto_dispatch__: ClassVar[dict[str, MethodSpec]] = {}
    """The same table as a plain dict, for the router's per-message lookup (read-only)."""

    __context: CallContext
    state: Any

    @property
    def _msg(self) -> CallContext:
        """The current message's context (read-only: canister code cannot make its messages
        come from someone else)."""
        return self.__context

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.VERSION, str) or not _SEMVER.fullmatch(cls.VERSION):
            raise TypeError(f"{cls.__qualname__}.VERSION must be semver text like '1.0.0'")
        for name, value in vars(cls).items():
            if isinstance(value, MUTABLE_TYPES) and not name.startswith("__"):
                raise TypeError(
                    f"{cls.__qualname__}.{name} is a mutable {type(value).__name__} class "
                    f"attribute: canister data must live in self.state"
                )
        methods: dict[str, MethodSpec] = {}
        for klass in reversed(cls.__mro__):
            if not issubclass(klass, Canister):
                continue
            declared = vars(klass).get("__icto_methods__", {}) if klass is not cls else {}
            for name, value in vars(klass).items():
                kind = getattr(value, "__icto_kind__", None)
                if kind is None:
                    methods.pop(name, None)
                elif name in declared:
                    methods[name] = declared[name]
                else:
                    if name.startswith("_") or name in RESERVED_NAMES:
                        raise TypeError(
                            f"{klass.__qualname__}.{name} cannot be a public canister method"
                        )
                    unstarted = unstarted_kind(value)
                    if unstarted is not None:
                        raise TypeError(
                            f"{klass.__qualname__}.{name} is {unstarted} function: a canister "
                            f"method runs to completion in its message (self.call returns the "
                            f"reply, nothing is awaited), so its body would never run"
                        )
                    composite = bool(getattr(value, "__icto_composite__", False))
                    methods[name] = MethodSpec(klass.__qualname__, name, kind, composite, value)
        cls.__icto_methods__ = MappingProxyType(methods)
        cls.__icto_dispatch__ = methods

    # -- lifecycle hooks (override as needed) -------------------------------------------------

    def init(self, arg: Any) -> None:
        """Runs at install and reinstall; cannot make calls. Default: the argument is the state."""
        self.state = arg

    def pre_upgrade(self) -> Any:
        """Runs on the old code before an upgrade; returns the value kept in stable memory."""
        return self.state

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Runs on the new code after an upgrade; migrates ``stable`` into ``self.state``."""
        self.state = stable

    # -- the message context -------------------------------------------------------------------

    @property
    def id(self) -> Principal:
        """This canister's id."""
        return self.__context[CANISTER_ID]

    @property
    def caller(self) -> Principal:
        """Who sent the current message: a user (ingress) or a canister (inter-canister call)."""
        return self.__context[CALLER]

    @property
    def time(self) -> int:
        """IC time in nanoseconds since the epoch; constant during one message."""
        return self.__context[TIME]

    def call(self, canister_id: Principal, method: str, *args: Any, cycles: int = 0,
             **kwargs: Any) -> Any:  # fmt: skip
        """Call another canister (or this one) and return its reply.

        Commits this message's state so far; the callee runs as its own message; this method then
        continues in a new segment that sees whatever the callee (or reentrant calls) left. A
        reject raises ``CallRejected`` here.
        """
        context = self.__context
        return context[HOST].inter_canister_call(
            self, context, canister_id, method, args, kwargs, cycles, False
        )

    def query_call(self, canister_id: Principal, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a query method of another canister; refused for update methods.

        From an update it is an ordinary inter-canister call (commits); from a composite query it
        runs the callee as a query.
        """
        context = self.__context
        return context[HOST].inter_canister_call(
            self, context, canister_id, method, args, kwargs, 0, True
        )

    def set_timer(self, delay_ns: int, method: str, *args: Any) -> int:
        """Schedule ``method(*args)`` on this canister in ``delay_ns``; return the timer id."""
        return self.__context[HOST].set_timer(self, delay_ns, method, args)

    def cancel_timer(self, timer_id: int) -> bool:
        """Cancel one of this canister's pending timers; ``False`` if it is not pending."""
        return self.__context[HOST].cancel_timer(self.__context, timer_id)

    @property
    def cycles_balance(self) -> int:
        return self.__context[HOST].balance_seen_by(self.__context)

    @property
    def cycles_available(self) -> int:
        """Cycles attached to the current message and not yet accepted."""
        context = self.__context
        accepted: int = context[SEGMENT][CYCLES_ACCEPTED]
        return context[CYCLES_AVAILABLE] - accepted

    def accept_cycles(self, max_amount: int) -> int:
        """Move up to ``max_amount`` attached cycles into this canister; return how many."""
        return self.__context[HOST].accept_cycles(self.__context, max_amount)

    def log(self, text: str) -> None:
        """Append a line to this canister's log (``ic.canister_logs``)."""
        self.__context[HOST].append_log(self.__context, text)

    def awaiting_calls(self) -> bool:
        """Whether a message of this canister is suspended at an await now, its call context
        open. Motoko's ``pre_upgrade`` refuses an upgrade then: the callback could not run on
        the new code (stop the canister first, or upgrade once the call is done)."""
        context = self.__context
        return context[HOST].awaiting(context[CANISTER_ID])

    @property
    def controllers(self) -> tuple[Principal, ...]:
        context = self.__context
        return context[HOST].record_of(context[CANISTER_ID]).controllers

    def is_controller(self, principal: Principal) -> bool:
        return principal in self.controllers


def may_still_await(canister: Canister, until: int) -> bool:
    """Whether a message of ``canister`` may still await the answer to a call of its own that
    it gives up on at ``until``: that time has not come and a message of ``canister`` awaits a
    call now. While it may, a resend of the same request that the ledger refuses does not prove
    that the first never runs; once it may not, the message that sent it ended (by a trap, if it
    left a record behind)."""
    return canister.time < until and canister.awaiting_calls()


RESERVED_NAMES: Final = frozenset(name for name in vars(Canister) if not name.startswith("__")) | {
    "state",
    "as_caller",
}
"""Names canister code cannot give public methods: the base class's API, and ``as_caller`` (proxies
use it)."""


set_context: Final = vars(Canister)["_Canister__context"].__set__
"""The context slot's own setter, for the router: it stores a view's context without going
through any ``__setattr__`` a canister class may define (``_msg`` itself is read-only)."""
