"""Canister state ⇄ JSON values, with tagged objects and no way to run code when decoding.

``encode(value)`` turns a state value into plain JSON data (``None``, ``bool``, ``int``,
``float``, ``str``, lists and tagged dicts); ``Decoder(allow).hook`` is a ``json`` object hook
that turns the tagged dicts back. Every JSON object in the output is tagged by its first key:

========================================  =================================================
``{"$tuple": [...]}``                     ``tuple``
``{"$list": [...]}``                      ``list``
``{"$dict": [[k, v], ...]}``              ``dict``
``{"$frozenset": [...]}``                 ``frozenset`` (``"$set"`` for ``set``)
``{"$bytes": "<base64>"}``                ``bytes``
``{"$int": "<hex>"}``                     an int too long for decimal JSON (> 4,000 digits)
``{"$principal": "<hex>"}``               ``Principal``
``{"$account": [owner, subaccount]}``     ``Account``
``{"$map": [[k, v], ...]}``               ``immutables.Map``
``{"$pmap": [[k, v], ...]}``              ``pyrsistent.PMap``
``{"$vector": [...]}``                    ``icto.collections.Vector``
``{"$sset": [...], "cap": n}``            ``icto.collections.SortedSet`` of capacity ``n``
``{"$timers": [...], "next": n}``         ``TimerQueue``: its live timers, rebuilt on load
``{"$ntuple": "mod:Qual", "v": [...]}``   a ``NamedTuple`` instance
``{"$attrs": "mod:Qual", "f": {...}}``    an attrs instance, one entry per field
``{"$enum": "mod:Qual", "v": "NAME"}``    an enum member, by name
``{"$enum": "mod:Qual", "v": n}``         an ``enum.Flag`` value, by its int value (a
                                          composite or empty one has no name)
``{"$class": "mod:Qual"}``                a class (attrs class, enum); canister code also
                                          carries ``"version"``, its ``VERSION``, checked
                                          against the class found when loading
========================================  =================================================

Decoding never constructs a named class. An attrs record is rebuilt with ``object.__new__(cls)``
and ``object.__setattr__`` per field, so converters, validators and ``__attrs_post_init__`` do not
run and the record is exactly the one saved. A field added to the class since takes its default;
a saved field the class no longer has is refused, unless the class lists it in ``REMOVED_FIELDS``
(a field an earlier version kept and this one derives), when it is dropped. A ``NamedTuple`` is
rebuilt with ``tuple.__new__``; an enum
member is looked up by name, and a flag value by its int with ``cls(n)``, the enum's own lookup
(it combines the members whose bits are set). Classes may come only from ``icto`` and the module
prefixes in ``allow`` (named there and defined there: ``icto.x:enum.Enum`` reaches a class
through a module's imports and is refused), and must be attrs classes, enums, ``NamedTuple``
classes or ``Canister`` subclasses; a module outside those prefixes is refused before it is
imported.
"""

from __future__ import annotations

import base64
import enum
import functools
import importlib
import json
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs
import immutables
import pyrsistent
from pyrsistent import PMap

from icto.collections.sorted_set import SortedSet
from icto.collections.vector import Vector
from icto.ic.account import Account
from icto.ic.canister import Canister
from icto.ic.principal import Principal
from icto.ic.timers import Timer, TimerQueue

_BIG_INT_BITS: Final = 13_000
"""Ints wider than this (about 3,900 decimal digits) are written in hex: Python refuses to read
decimal ints of more than 4,300 digits."""


class PersistenceError(Exception):
    """Base class of every error raised while saving or loading a world."""


class Unserializable(PersistenceError):
    """The world holds a value the format cannot represent (``save`` writes nothing)."""


class ForbiddenClass(PersistenceError):
    """The file names a class outside ``icto`` and ``allow``, or one that is not a record,
    enum or canister class (nothing is loaded, the module is not imported)."""


class MissingClass(PersistenceError):
    """The file names an allowed module or class that cannot be found (nothing is loaded)."""


class InvalidPayload(PersistenceError):
    """The payload is well-formed JSON with a valid checksum but not a valid world."""


class VersionChanged(PersistenceError):
    """A canister class the file names says another ``VERSION`` now than when the world was
    saved: its code changed, and the saved state may mean something else to it (nothing is
    loaded; load with the saved version's code, then upgrade through the IC)."""


# -- encoding -----------------------------------------------------------------------------------


def class_name(cls: type) -> str:
    """``module:QualName`` of a class that can be found again by that name."""
    qualname = cls.__qualname__
    if "<" in qualname:
        raise Unserializable(f"class {qualname} is local to a function and cannot be named")
    return f"{cls.__module__}:{qualname}"


def _items(values: Iterable[Any]) -> list[Any]:
    return [encode(value) for value in values]


def _int(value: int) -> Any:
    if value.bit_length() > _BIG_INT_BITS:
        return {"$int": hex(value)}
    return value


def _in_order(values: Iterable[Any]) -> list[Any]:
    """``values`` (a hash-ordered container's members, or a map's keys) in one order whatever
    the string hash seed, so that a world saves to the same bytes in every process."""
    return sorted(values, key=_sort_key)


def _sort_key(value: Any) -> tuple[Any, ...]:
    """A key that orders any saveable values among each other: by kind, then by value (texts,
    ints, bytes and principals natively, tuples member by member, anything else by its
    encoding)."""
    kind = type(value)
    if kind is str:
        return (0, value)
    if kind is int:
        return (1, value)
    if kind is Principal:
        return (2, bytes(value))
    if kind is tuple:
        return (3, tuple(_sort_key(member) for member in value))
    if value is None:
        return (4,)
    if kind is bytes:
        return (5, value)
    return (6, json.dumps(encode(value), separators=(",", ":"), sort_keys=True))


def _sorted_pairs(items: Iterable[tuple[Any, Any]]) -> list[Any]:
    """A map's items as ``[key, value]`` pairs, ordered by key (see ``_in_order``)."""
    return [[encode(k), encode(v)] for k, v in sorted(items, key=_key_of_item)]


def _key_of_item(item: tuple[Any, Any]) -> tuple[Any, ...]:
    return _sort_key(item[0])


def _map(value: immutables.Map[Any, Any]) -> Any:
    return {"$map": _sorted_pairs(value.items())}


def _dict(value: dict[Any, Any]) -> Any:
    return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}


def _timers(value: TimerQueue) -> Any:
    live = sorted(value.live.values(), key=lambda timer: timer.timer_id)
    return {"$timers": _items(live), "next": value.next_id}


def _class(value: type) -> Any:
    if issubclass(value, Canister):
        return {"$class": class_name(value), "version": value.VERSION}
    return {"$class": class_name(value)}


def _same(value: Any) -> Any:
    return value


_BY_TYPE: Final[dict[type, Callable[[Any], Any]]] = {
    type(None): _same,
    bool: _same,
    str: _same,
    float: _same,
    int: _int,
    tuple: lambda v: {"$tuple": _items(v)},
    list: lambda v: {"$list": _items(v)},
    dict: _dict,
    frozenset: lambda v: {"$frozenset": _items(_in_order(v))},
    set: lambda v: {"$set": _items(_in_order(v))},
    bytes: lambda v: {"$bytes": base64.b64encode(v).decode("ascii")},
    Principal: lambda v: {"$principal": v.bytes.hex()},
    Account: lambda v: {"$account": [encode(v.owner), encode(v.subaccount)]},
    immutables.Map: _map,
    Vector: lambda v: {"$vector": _items(v)},
    SortedSet: lambda v: {"$sset": _items(v), "cap": v._capacity},
    TimerQueue: _timers,
    type: _class,
}


def encode(value: Any) -> Any:
    """``value`` as JSON data (see the module docstring); ``Unserializable`` if it cannot be."""
    handler = _BY_TYPE.get(type(value))
    if handler is not None:
        return handler(value)
    cls = type(value)
    if isinstance(value, PMap):
        return {"$pmap": _sorted_pairs(value.items())}
    if isinstance(value, enum.Flag):
        return {"$enum": class_name(cls), "v": _int(value.value)}
    if isinstance(value, enum.Enum):
        return {"$enum": class_name(cls), "v": value.name}
    if attrs.has(cls):
        fields = {field.name: encode(getattr(value, field.name)) for field in attrs.fields(cls)}
        return {"$attrs": class_name(cls), "f": fields}
    if isinstance(value, tuple) and hasattr(cls, "_fields"):
        return {"$ntuple": class_name(cls), "v": _items(value)}
    if isinstance(value, type):
        return _class(value)
    raise Unserializable(f"cannot save a {cls.__module__}.{cls.__qualname__}: {value!r:.80}")


# -- decoding -----------------------------------------------------------------------------------


def _is_namedtuple_class(cls: type) -> bool:
    return issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple)


def _may_name(cls: type) -> bool:
    return (
        attrs.has(cls)
        or issubclass(cls, enum.Enum)
        or issubclass(cls, Canister)
        or _is_namedtuple_class(cls)
    )


class Decoder:
    """Rebuilds values from tagged JSON objects; ``allow`` lists the trusted module prefixes
    besides ``icto`` (``"mypackage.contracts"`` allows that module and its submodules; a single
    name is one prefix, not its letters)."""

    def __init__(self, allow: Iterable[str] | str = ()) -> None:
        prefixes = (allow,) if isinstance(allow, str) else tuple(allow)
        for prefix in prefixes:
            if not isinstance(prefix, str) or not prefix or prefix.startswith("."):
                raise TypeError(f"allow takes module names such as 'mypackage', got {prefix!r}")
        self.allow: tuple[str, ...] = ("icto", *(p.rstrip(".") for p in prefixes))
        self._classes: dict[str, type] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "$tuple": lambda d: tuple(_list(d["$tuple"])),
            "$list": lambda d: _list(d["$list"]),
            "$dict": lambda d: {k: v for k, v in _pairs(d["$dict"])},
            "$frozenset": lambda d: frozenset(_list(d["$frozenset"])),
            "$set": lambda d: set(_list(d["$set"])),
            "$bytes": lambda d: base64.b64decode(_str(d["$bytes"]), validate=True),
            "$int": lambda d: int(_str(d["$int"]), 16),
            "$principal": lambda d: Principal(bytes.fromhex(_str(d["$principal"]))),
            "$account": lambda d: Account(*_list(d["$account"])),
            "$map": _decode_map,
            "$pmap": lambda d: pyrsistent.pmap(dict(_pairs(d["$pmap"]))),
            "$vector": lambda d: Vector(_list(d["$vector"])),
            "$sset": lambda d: SortedSet(_list(d["$sset"]), capacity=d["cap"]),
            "$timers": _decode_timers,
            "$ntuple": self._ntuple,
            "$attrs": self._attrs,
            "$enum": self._enum,
            "$class": self._class,
        }

    def hook(self, obj: dict[str, Any]) -> Any:
        """The ``object_hook`` for ``json.loads``: a tagged object → its value; an untagged one
        (the fields of an attrs record) is returned as it is."""
        for key in obj:
            if not key.startswith("$"):
                return obj
            handler = self._handlers.get(key)
            if handler is None:
                raise InvalidPayload(f"unknown tag {key!r}")
            try:
                return handler(obj)
            except PersistenceError:
                raise
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                raise InvalidPayload(f"malformed {key} object: {exc}") from exc
        return obj

    def resolve(self, name: Any) -> type:
        """The class named ``module:QualName``, if it may be named (see the module docstring)."""
        cached = self._classes.get(name) if isinstance(name, str) else None
        if cached is not None:
            return cached
        if not isinstance(name, str) or name.count(":") != 1:
            raise InvalidPayload(f"a class is named 'module:QualName', got {name!r:.80}")
        module_name, qualname = name.split(":")
        if not self._allows(module_name):
            raise ForbiddenClass(
                f"the file names {name}, outside the allowed modules {self.allow}; "
                f"pass allow=({module_name.split('.')[0]!r},) if you trust it"
            )
        try:
            target: Any = importlib.import_module(module_name)
        except ImportError as exc:
            raise MissingClass(f"cannot import module {module_name} for {name}: {exc}") from exc
        for part in qualname.split("."):
            if part.startswith("__") or not hasattr(target, part):
                raise MissingClass(f"no class {qualname} in module {module_name}")
            target = getattr(target, part)
        home = getattr(target, "__module__", None)
        if not isinstance(home, str) or not self._allows(home):
            raise ForbiddenClass(
                f"{name} is {home}.{getattr(target, '__qualname__', '?')}, defined outside the "
                f"allowed modules {self.allow} (reached through an allowed module's imports)"
            )
        if not isinstance(target, type) or not _may_name(target):
            raise ForbiddenClass(
                f"{name} is not an attrs class, enum, NamedTuple or canister class"
            )
        self._classes[name] = target
        return target

    def _allows(self, module_name: str) -> bool:
        """Whether ``module_name`` is ``icto``, an ``allow`` prefix, or one of their submodules."""
        return any(module_name == p or module_name.startswith(p + ".") for p in self.allow)

    def _class(self, obj: dict[str, Any]) -> type:
        cls = self.resolve(obj["$class"])
        saved = obj.get("version")
        if saved is not None and saved != getattr(cls, "VERSION", None):
            raise VersionChanged(
                f"the world was saved with {obj['$class']} version {saved!r:.40}; that class is "
                f"version {getattr(cls, 'VERSION', None)!r} now"
            )
        return cls

    def _attrs(self, obj: dict[str, Any]) -> Any:
        cls = self.resolve(obj["$attrs"])
        if not attrs.has(cls):
            raise ForbiddenClass(f"{obj['$attrs']} is not an attrs class")
        fields = obj["f"]
        known = attrs.fields(cls)
        removed: frozenset[str] = getattr(cls, "REMOVED_FIELDS", frozenset())
        if not isinstance(fields, dict) or not (
            set(fields) - removed <= {field.name for field in known}
        ):
            raise InvalidPayload(f"fields of {obj['$attrs']} do not match the class")
        record = object.__new__(cls)
        for field in known:
            if field.name in fields:
                value = fields[field.name]
            else:  # a field added since the file was saved takes its default
                value = _default_of(field, obj["$attrs"])
            object.__setattr__(record, field.name, value)
        if _cache_hash(cls):
            object.__setattr__(record, _HASH_CACHE, None)
        return record

    def _ntuple(self, obj: dict[str, Any]) -> Any:
        cls = self.resolve(obj["$ntuple"])
        values = _list(obj["v"])
        if not _is_namedtuple_class(cls) or len(values) != len(cls._fields):  # type: ignore[attr-defined]
            raise InvalidPayload(f"{obj['$ntuple']} is not a NamedTuple of {len(values)} fields")
        return tuple.__new__(cls, values)

    def _enum(self, obj: dict[str, Any]) -> Any:
        cls = self.resolve(obj["$enum"])
        if not issubclass(cls, enum.Enum):
            raise ForbiddenClass(f"{obj['$enum']} is not an enum")
        value = obj["v"]
        if type(value) is int and issubclass(cls, enum.Flag):
            return cls(value)  # composite and empty flags are no members: only a value names them
        member = cls.__members__.get(_str(value))
        if member is None:
            raise InvalidPayload(f"{obj['$enum']} has no member {obj['v']!r}")
        return member


_HASH_CACHE: Final = "_attrs_cached_hash"
"""Where attrs classes with ``cache_hash=True`` keep the hash; it starts as ``None``."""


@functools.cache
def _cache_hash(cls: type) -> bool:
    """Whether ``cls`` is an attrs class with ``cache_hash=True``."""
    code = getattr(cls.__hash__, "__code__", None)
    return _HASH_CACHE in getattr(code, "co_names", ())


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _pairs(value: Any) -> Iterable[tuple[Any, Any]]:
    for pair in _list(value):
        if not isinstance(pair, list) or len(pair) != 2:
            raise TypeError("expected [key, value] pairs")
        yield pair[0], pair[1]


def _decode_map(obj: dict[str, Any]) -> immutables.Map[Any, Any]:
    building: immutables.Map[Any, Any] = immutables.Map()
    with building.mutate() as mutation:
        for key, value in _pairs(obj["$map"]):
            mutation[key] = value
        built = mutation.finish()
    return built


def _decode_timers(obj: dict[str, Any]) -> TimerQueue:
    timers = _list(obj["$timers"])
    next_id = obj["next"]
    if not all(type(timer) is Timer for timer in timers) or type(next_id) is not int:
        raise TypeError("a timer queue holds Timer records and an int next id")
    live = immutables.Map({timer.timer_id: timer for timer in timers})
    return TimerQueue(live, None, 0, next_id)._rebuilt()


def _default_of(field: attrs.Attribute[Any], name: str) -> Any:
    """The value a field missing from a saved record takes: its default (a plain value, or a
    factory's new one); a field without a default cannot be missing."""
    default: Any = field.default
    if default is attrs.NOTHING or (isinstance(default, attrs.Factory) and default.takes_self):  # type: ignore[arg-type]
        raise InvalidPayload(f"fields of {name} do not match the class: {field.name} is missing")
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return default.factory()
    return default
