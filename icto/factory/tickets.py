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
from collections.abc import Mapping
from typing import Any

import attrs

from icto.ic.principal import Principal


@attrs.frozen
class Ticket:
    """The request a ticket named: the contract it deployed, for whom, with which config."""

    contract: Principal
    owner: Principal
    config_digest: bytes


def config_digest(config: object) -> bytes:
    """SHA-256 of a canonical encoding of ``config``: equal for equal configs, in every process
    (no ``hash()``, no iteration order of hash-ordered containers)."""
    parts: list[bytes] = []
    _encode(config, parts)
    return hashlib.sha256(b"".join(parts)).digest()


def _sized(tag: bytes, data: bytes) -> bytes:
    return tag + str(len(data)).encode() + b":" + data


def _encode(value: Any, out: list[bytes]) -> None:
    if value is None or isinstance(value, bool):
        out.append(b"N" if value is None else b"T" if value else b"F")
    elif isinstance(value, int):
        out.append(_sized(b"i", str(value).encode()))
    elif isinstance(value, str):
        out.append(_sized(b"s", value.encode("utf-8", "surrogatepass")))
    elif isinstance(value, Principal):
        out.append(_sized(b"p", value.bytes))
    elif isinstance(value, bytes):
        out.append(_sized(b"b", value))
    elif isinstance(value, enum.Enum):
        out.append(_sized(b"e", f"{type(value).__qualname__}.{value.name}".encode()))
    elif attrs.has(type(value)):
        out.append(_sized(b"r", type(value).__qualname__.encode()))
        for field in attrs.fields(type(value)):
            out.append(_sized(b"f", field.name.encode()))
            _encode(getattr(value, field.name), out)
        out.append(b";")
    elif isinstance(value, tuple | list):
        out.append(b"l")
        for item in value:
            _encode(item, out)
        out.append(b";")
    elif isinstance(value, Mapping):
        out.append(b"m")
        out.extend(sorted(_encoded(key) + _encoded(item) for key, item in value.items()))
        out.append(b";")
    elif isinstance(value, frozenset | set):
        out.append(b"u")
        out.extend(sorted(_encoded(item) for item in value))
        out.append(b";")
    else:
        out.append(_sized(b"?", f"{type(value).__qualname__}:{value!r}".encode()))


def _encoded(value: Any) -> bytes:
    parts: list[bytes] = []
    _encode(value, parts)
    return b"".join(parts)
