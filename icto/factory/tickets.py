"""Deployment tickets: how a factory recognises a request it has already served.

A backend names each ``create_contract`` request with a ticket. The factory keys it by (the
calling backend, the ticket) and remembers the owner and a digest of the config, so a repeated
request is answered with its contract only when it is the *same* request; another backend's
ticket, or a reused ticket for another user or config, can never return somebody else's
contract.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
from collections.abc import Mapping
from typing import Any, Final

import attrs
import immutables

from icto.ic.account import Account
from icto.ic.principal import Principal
from icto.validation import IdentityMemo

MAX_TICKET: Final = 200
"""The longest ticket a factory keeps (the backend's are a principal, ``/`` and up to 64
characters of request)."""


@attrs.frozen
class Ticket:
    """The request a ticket named: the contract it deployed, for whom, with which config."""

    contract: Principal
    owner: Principal
    config_digest: bytes


_DIGESTS: Final[IdentityMemo[bytes]] = IdentityMemo(256)
"""Digests of configs made only of immutable parts, by identity (see ``icto.validation.memo``):
the digest of a value that cannot change cannot change. A config holding anything mutable (a
list, a dict, an unknown object) is encoded afresh each time."""


def config_digest(config: object) -> bytes:
    """SHA-256 of a canonical encoding of ``config``: equal for equal configs, in every process
    (no ``hash()``, no iteration order of hash-ordered containers)."""
    known = _DIGESTS.get(config)
    if known is not None:
        return known
    parts: list[bytes] = []
    fixed = _encode(config, parts)
    digest = hashlib.sha256(b"".join(parts)).digest()
    if fixed:
        _DIGESTS.put(digest, config)
    return digest


def _sized(tag: bytes, data: bytes) -> bytes:
    return b"%s%d:%s" % (tag, len(data), data)


# How a class's instances are encoded: the branch of the canonical encoding they take.
_LEAF, _INT, _STR, _BYTES, _PRINCIPAL, _ENUM, _RECORD, _SEQUENCE, _MAPPING, _SET, _OTHER = range(11)
_MAX_CLASSES: Final = 1024
_ATTRS_FROZEN_SETATTR: Final = getattr(
    importlib.import_module("attr._make"), "_frozen_setattrs", None
)
_OPAQUE_IMMUTABLE: Final = frozenset({float, complex, Account})
"""Classes encoded by their ``repr`` whose instances never change."""


@attrs.frozen
class _Kind:
    """How instances of one class are encoded. ``fixed``: an instance never changes as far as
    its encoding goes (for a container: once its items do not either)."""

    branch: int
    fixed: bool
    header: bytes = b""
    fields: tuple[tuple[bytes, str], ...] = ()


_KINDS: dict[type, _Kind] = {}


def _kind(cls: type) -> _Kind:
    """The encoding branch of ``cls``, learnt once per class (the order is the encoding's)."""
    kind = _KINDS.get(cls)
    if kind is None:
        if len(_KINDS) >= _MAX_CLASSES:
            _KINDS.clear()
        kind = _KINDS[cls] = _learn(cls)
    return kind


def _learn(cls: type) -> _Kind:
    """A principal is told before ``bytes``: it is encoded as a principal whatever its base."""
    if cls is type(None) or cls is bool:
        return _Kind(_LEAF, True)
    for base, branch, exact in (
        (int, _INT, int), (str, _STR, str), (Principal, _PRINCIPAL, Principal),
        (bytes, _BYTES, bytes),
    ):  # fmt: skip
        if issubclass(cls, base):
            return _Kind(branch, cls is exact or issubclass(cls, enum.Enum))
    if issubclass(cls, enum.Enum):
        return _Kind(_ENUM, True)
    if attrs.has(cls):
        return _record_kind(cls)
    if issubclass(cls, tuple | list):
        return _Kind(_SEQUENCE, cls is tuple)
    if issubclass(cls, Mapping):
        return _Kind(_MAPPING, cls is immutables.Map)
    if issubclass(cls, frozenset | set):
        return _Kind(_SET, cls is frozenset)
    return _Kind(_OTHER, cls in _OPAQUE_IMMUTABLE)


def _record_kind(cls: type) -> _Kind:
    frozen = _ATTRS_FROZEN_SETATTR is not None and cls.__setattr__ is _ATTRS_FROZEN_SETATTR
    fields = tuple(
        (_sized(b"f", field.name.encode()), field.name) for field in attrs.fields(cls)
    )
    return _Kind(_RECORD, frozen, _sized(b"r", cls.__qualname__.encode()), fields)


def _encode(value: Any, out: list[bytes]) -> bool:
    """Append the canonical encoding of ``value`` to ``out``; whether it can never change."""
    kind = _KINDS.get(type(value)) or _kind(type(value))
    branch = kind.branch
    if branch == _RECORD:
        fixed = kind.fixed
        out.append(kind.header)
        for prefix, name in kind.fields:
            out.append(prefix)
            fixed = _encode(getattr(value, name), out) and fixed
        out.append(b";")
        return fixed
    if branch == _STR:
        out.append(_sized(b"s", value.encode("utf-8", "surrogatepass")))
    elif branch == _INT:
        out.append(_sized(b"i", str(value).encode()))
    elif branch == _LEAF:
        out.append(b"N" if value is None else b"T" if value else b"F")
    elif branch == _SEQUENCE:
        return _encode_items(b"l", value, out) and kind.fixed
    elif branch == _PRINCIPAL:
        out.append(_sized(b"p", value.bytes))
    else:
        return _encode_rare(kind, value, out)
    return kind.fixed


def _encode_items(tag: bytes, items: Any, out: list[bytes]) -> bool:
    out.append(tag)
    fixed = True
    for item in items:
        fixed = _encode(item, out) and fixed
    out.append(b";")
    return fixed


def _encode_rare(kind: _Kind, value: Any, out: list[bytes]) -> bool:
    """The branches configs seldom take: bytes, enums, mappings, sets, anything else."""
    branch = kind.branch
    fixed = kind.fixed
    if branch == _BYTES:
        out.append(_sized(b"b", value))
    elif branch == _ENUM:
        out.append(_sized(b"e", f"{type(value).__qualname__}.{value.name}".encode()))
    elif branch == _MAPPING:
        fixed = _encode_unordered(b"m", [(key, item) for key, item in value.items()], out) and fixed
    elif branch == _SET:
        fixed = _encode_unordered(b"u", [(item,) for item in value], out) and fixed
    else:
        out.append(_sized(b"?", f"{type(value).__qualname__}:{value!r}".encode()))
    return fixed


def _encode_unordered(tag: bytes, entries: list[tuple[Any, ...]], out: list[bytes]) -> bool:
    """A mapping's (key, item) or a set's (item,) entries, each encoded whole, in byte order."""
    parts: list[bytes] = []
    encoded = []
    fixed = True
    for entry in entries:
        for value in entry:
            fixed = _encode(value, parts) and fixed
        encoded.append(b"".join(parts))
        parts.clear()
    out.append(tag)
    out.extend(sorted(encoded))
    out.append(b";")
    return fixed
