"""Principals: the identities of users and canisters on the Internet Computer.

A principal is an opaque blob of at most 29 bytes. Its text form is the CRC-32 (big-endian) of the
bytes prepended to them, encoded in lower-case base32 without padding, with a dash every five
characters (IC interface specification, "Textual representation of principals").
"""

from __future__ import annotations

import base64
import binascii
import builtins
import functools
import hashlib
import html
import zlib
from typing import Any, ClassVar, Final

MAX_PRINCIPAL_BYTES: Final = 29
_MAX_TEXT_LENGTH: Final = 63  # 29 bytes + 4 checksum bytes = 53 base32 chars + 10 dashes
_MIN_TEXT_LENGTH: Final = 8  # "aaaaa-aa", the management canister

_TEXT_ALPHABET: Final = frozenset("abcdefghijklmnopqrstuvwxyz234567-")

_TAG_OPAQUE: Final = 0x01
_TAG_SELF_AUTHENTICATING: Final = 0x02
_TAG_ANONYMOUS: Final = 0x04


class InvalidPrincipal(ValueError):
    """A principal's text or bytes do not follow the IC's rules; the message says which."""


def base32_lower(data: bytes) -> str:
    """RFC 4648 base32, lower case, without padding."""
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")


_plain: Final = bytes.__bytes__
"""A principal's bytes as an exact ``bytes`` value."""
_bytes_eq: Final = bytes.__eq__
same_principal: Final = _bytes_eq
"""``a == b`` for two values known to be principals (an account's owner, a config's minter):
their bytes compared in C, without the Python-level ``Principal.__eq__`` call, for hot paths."""
_bytes_ne: Final = bytes.__ne__
_bytes_lt: Final = bytes.__lt__
_bytes_le: Final = bytes.__le__
_bytes_gt: Final = bytes.__gt__
_bytes_ge: Final = bytes.__ge__


def _unordered(op: str, other: object) -> bool:
    """Principals order only among themselves, not against their own bytes (which a reflected
    ``bytes`` comparison would otherwise allow)."""
    if isinstance(other, bytes | bytearray | memoryview):
        raise TypeError(
            f"'{op}' not supported between instances of 'Principal' and '{type(other).__name__}'"
        )
    result: bool = NotImplemented
    return result


@functools.lru_cache(maxsize=1 << 16)
def _text_of(raw: bytes) -> str:
    """The text of the principal with these bytes (remembered for the most recent 65,536)."""
    return _group5(encode_checksummed(raw))


def _group5(text: str) -> str:
    return "-".join(text[i : i + 5] for i in range(0, len(text), 5))


def crc32_be(data: bytes) -> bytes:
    """The ISO-3309 CRC-32 of ``data`` as four big-endian bytes."""
    return zlib.crc32(data).to_bytes(4, "big")


def encode_checksummed(data: bytes) -> str:
    """Base32 of CRC-32 ++ data, lower case, unpadded, ungrouped (shared with ICRC-1 accounts)."""
    return base32_lower(crc32_be(data) + data)


def decode_base32(text: str) -> bytes:
    """Decode unpadded base32 (any case); raise ``binascii.Error`` when it is not base32."""
    padded = text.upper() + "=" * (-len(text) % 8)
    return base64.b32decode(padded)


class Principal(bytes):
    """An IC principal: immutable, hashable, ordered lexicographically by its bytes.

    Build one with ``Principal.from_text``, ``from_bytes``, ``from_name`` (a deterministic
    self-authenticating test identity), ``anonymous()`` or ``management_canister()``.

    The class extends ``bytes`` (with no instance dictionary) so that its hash is computed once
    and read at C speed: every map of canisters, balances and roles is keyed by principals, and
    a Python ``__hash__`` made each lookup several times dearer. A principal still equals and
    orders only against principals, and an argument declared ``bytes`` refuses one at a canister
    boundary (the argument check wants exact ``bytes``, as Candid tells ``blob`` from
    ``principal``).
    """

    __slots__ = ()

    ANONYMOUS: ClassVar[Principal]
    MANAGEMENT: ClassVar[Principal]

    def __new__(cls, raw: bytes) -> Principal:
        if raw.__class__ is not bytes:
            if not isinstance(raw, bytes | bytearray | memoryview):
                raise InvalidPrincipal(f"principal bytes must be bytes, not {type(raw).__name__}")
            raw = bytes(raw)
        if len(raw) > MAX_PRINCIPAL_BYTES:
            raise InvalidPrincipal(
                f"a principal has at most {MAX_PRINCIPAL_BYTES} bytes, got {len(raw)}"
            )
        return bytes.__new__(cls, raw)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, raw: bytes) -> Principal:
        """The principal with these bytes (at most 29)."""
        return cls(raw)

    @classmethod
    def from_text(cls, text: str) -> Principal:
        """Parse the textual form; case-insensitive, strict about grouping and checksum."""
        if not isinstance(text, str):
            raise InvalidPrincipal(f"principal text must be str, not {type(text).__name__}")
        lowered = text.lower()
        if len(lowered) < _MIN_TEXT_LENGTH:
            raise InvalidPrincipal(f"text too short: {text!r}")
        if len(lowered) > _MAX_TEXT_LENGTH:
            raise InvalidPrincipal(f"text too long: {text!r}")
        if not text.isascii() or not set(lowered) <= _TEXT_ALPHABET:
            raise InvalidPrincipal(f"invalid base32 in {text!r}")
        try:
            decoded = decode_base32(lowered.replace("-", ""))
        except (binascii.Error, ValueError):
            raise InvalidPrincipal(f"invalid base32 in {text!r}") from None
        if len(decoded) < 4:
            raise InvalidPrincipal(f"text too short: {text!r}")
        checksum, raw = decoded[:4], decoded[4:]
        if len(raw) > MAX_PRINCIPAL_BYTES:
            raise InvalidPrincipal(f"more than {MAX_PRINCIPAL_BYTES} bytes in {text!r}")
        if crc32_be(raw) != checksum:
            raise InvalidPrincipal(f"checksum mismatch in {text!r}")
        principal = cls(raw)
        if principal.to_text() != lowered:
            raise InvalidPrincipal(f"abnormal grouping or padding in {text!r}")
        return principal

    @classmethod
    def anonymous(cls) -> Principal:
        """The anonymous principal ``2vxsx-fae`` (bytes ``04``)."""
        return cls.ANONYMOUS

    @classmethod
    def management_canister(cls) -> Principal:
        """The management canister ``aaaaa-aa`` (empty bytes)."""
        return cls.MANAGEMENT

    @classmethod
    def self_authenticating(cls, public_key: bytes) -> Principal:
        """SHA-224 of the DER public key followed by the tag ``02``."""
        if not isinstance(public_key, bytes | bytearray | memoryview):
            raise InvalidPrincipal(f"public key must be bytes, not {type(public_key).__name__}")
        return cls(hashlib.sha224(bytes(public_key)).digest() + bytes([_TAG_SELF_AUTHENTICATING]))

    @classmethod
    def from_name(cls, name: str) -> Principal:
        """A deterministic test identity: the self-authenticating principal of ``name``'s UTF-8.

        ``Principal.from_name("alice")`` is the same in every run, like Foundry's ``makeAddr``.
        """
        if not isinstance(name, str):
            raise InvalidPrincipal(f"name must be str, not {type(name).__name__}")
        return cls.self_authenticating(name.encode("utf-8"))

    @classmethod
    def from_canister_index(cls, index: int) -> Principal:
        """The canister id for a subnet-wide index: ``u64`` big-endian followed by ``01 01``."""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 2**64:
            raise InvalidPrincipal(f"canister index must be a u64, got {index!r}")
        return cls(index.to_bytes(8, "big") + b"\x01\x01")

    # -- inspection ---------------------------------------------------------------------------

    @property
    def bytes(self) -> bytes:
        """The raw bytes, as a plain ``bytes`` value."""
        return _plain(self)

    @property
    def is_anonymous(self) -> bool:
        return _bytes_eq(self, b"\x04")

    @property
    def is_management_canister(self) -> bool:
        return len(self) == 0

    @property
    def is_self_authenticating(self) -> bool:
        return len(self) == 29 and self[-1] == _TAG_SELF_AUTHENTICATING

    @property
    def is_canister(self) -> bool:
        """True for ids in the canister layout (opaque, ``u64 ++ 01 01``)."""
        return len(self) == 10 and self.endswith(b"\x01\x01")

    @property
    def canister_index(self) -> int | None:
        """The u64 index of a canister id, ``None`` for other principals."""
        return int.from_bytes(self[:8], "big") if self.is_canister else None

    def to_text(self) -> str:
        return _text_of(self)

    # -- value semantics ----------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Principal is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Principal is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Principal, (_plain(self),))

    __hash__ = builtins.bytes.__hash__

    def __eq__(self, other: object) -> bool:
        return other.__class__ is Principal and _bytes_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return other.__class__ is not Principal or _bytes_ne(self, other)

    def __lt__(self, other: builtins.bytes) -> bool:
        if other.__class__ is not Principal:
            return _unordered("<", other)
        return _bytes_lt(self, other)

    def __le__(self, other: builtins.bytes) -> bool:
        if other.__class__ is not Principal:
            return _unordered("<=", other)
        return _bytes_le(self, other)

    def __gt__(self, other: builtins.bytes) -> bool:
        if other.__class__ is not Principal:
            return _unordered(">", other)
        return _bytes_gt(self, other)

    def __ge__(self, other: builtins.bytes) -> bool:
        if other.__class__ is not Principal:
            return _unordered(">=", other)
        return _bytes_ge(self, other)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Principal({self.to_text()!r})"

    def _repr_html_(self) -> str:
        return f'<code title="Principal">{html.escape(self.to_text())}</code>'


Principal.ANONYMOUS = Principal(bytes([_TAG_ANONYMOUS]))
Principal.MANAGEMENT = Principal(b"")
