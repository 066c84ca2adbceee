"""ICRC-1 accounts: a principal plus an optional 32-byte subaccount.

``None`` and 32 zero bytes name the same (default) account: they compare equal, hash alike and hold
one balance. The text form follows the ICRC-1 textual encoding: the owner's principal text for the
default account, else ``<owner>-<checksum>.<subaccount hex without leading zeros>``.
"""

from __future__ import annotations

import binascii
import html
from typing import Any, Final

from icto.collections.records import slot_setters
from icto.ic.principal import (
    InvalidPrincipal,
    Principal,
    base32_lower,
    crc32_be,
    decode_base32,
    same_principal,
)

SUBACCOUNT_LENGTH: Final = 32
DEFAULT_SUBACCOUNT: Final = bytes(SUBACCOUNT_LENGTH)
_HEX_DIGITS: Final = frozenset("0123456789abcdef")
_HASH_TAG: Final = "icto.Account"
"""Mixed into an account's hash: a text, not the class, whose hash is its address, so that with
``PYTHONHASHSEED`` set the maps keyed by accounts take the same shape in every run."""


class InvalidAccount(ValueError):
    """An account's owner, subaccount or text is malformed; the message says which."""


def _account_checksum(owner: Principal, subaccount: bytes) -> str:
    return base32_lower(crc32_be(owner.bytes + subaccount))


class Account:
    """An ICRC-1 account ``{owner, subaccount}``; immutable and hashable."""

    __slots__ = ("_hash", "owner", "subaccount")

    owner: Principal
    subaccount: bytes | None
    _hash: int

    def __init__(self, owner: Principal, subaccount: bytes | None = None) -> None:
        if owner.__class__ is not Principal:
            raise InvalidAccount(f"account owner must be a Principal, not {type(owner).__name__}")
        if subaccount is None:
            _set_owner(self, owner)
            _set_subaccount(self, None)
            _set_hash(self, hash((_HASH_TAG, owner, DEFAULT_SUBACCOUNT)))
            return
        if subaccount is not None:
            if subaccount.__class__ is not bytes:
                raise InvalidAccount(
                    f"subaccount must be bytes or None, not {type(subaccount).__name__}"
                )
            if len(subaccount) != SUBACCOUNT_LENGTH:
                raise InvalidAccount(
                    f"subaccount must be {SUBACCOUNT_LENGTH} bytes, got {len(subaccount)}"
                )
        _set_owner(self, owner)
        _set_subaccount(self, subaccount)
        _set_hash(self, hash((_HASH_TAG, owner, subaccount)))

    @property
    def effective_subaccount(self) -> bytes:
        """The subaccount with ``None`` spelled out as 32 zero bytes."""
        return DEFAULT_SUBACCOUNT if self.subaccount is None else self.subaccount

    @property
    def is_default(self) -> bool:
        return self.subaccount is None or self.subaccount == DEFAULT_SUBACCOUNT

    def normalized(self) -> Account:
        """The same account with a default subaccount spelled ``None``."""
        return Account(self.owner) if self.is_default and self.subaccount is not None else self

    # -- text ---------------------------------------------------------------------------------

    def to_text(self) -> str:
        if self.is_default:
            return self.owner.to_text()
        sub = self.effective_subaccount
        return (
            f"{self.owner.to_text()}-{_account_checksum(self.owner, sub)}.{sub.hex().lstrip('0')}"
        )

    @classmethod
    def from_text(cls, text: str) -> Account:
        """Parse the ICRC-1 textual encoding, rejecting every non-canonical form."""
        if not isinstance(text, str):
            raise InvalidAccount(f"account text must be str, not {type(text).__name__}")
        if "." not in text:
            try:
                return cls(Principal.from_text(text))
            except InvalidPrincipal as exc:
                raise InvalidAccount(f"invalid owner in {text!r}: {exc}") from None
        head, _, hex_part = text.partition(".")
        owner_text, dash, checksum = head.rpartition("-")
        if not dash or len(checksum) != 7:
            raise InvalidAccount(f"missing or malformed checksum in {text!r}")
        try:
            owner = Principal.from_text(owner_text)
        except InvalidPrincipal as exc:
            raise InvalidAccount(f"invalid owner in {text!r}: {exc}") from None
        hex_lower = hex_part.lower()
        if not hex_lower or not set(hex_lower) <= _HEX_DIGITS:
            raise InvalidAccount(f"subaccount is not hexadecimal in {text!r}")
        if hex_lower.startswith("0"):
            raise InvalidAccount(f"subaccount hex has leading zeros in {text!r}")
        if len(hex_lower) > 2 * SUBACCOUNT_LENGTH:
            raise InvalidAccount(f"subaccount longer than {SUBACCOUNT_LENGTH} bytes in {text!r}")
        subaccount = bytes.fromhex(hex_lower.rjust(2 * SUBACCOUNT_LENGTH, "0"))
        try:
            decode_base32(checksum)
        except (binascii.Error, ValueError):
            raise InvalidAccount(f"checksum is not base32 in {text!r}") from None
        if checksum.lower() != _account_checksum(owner, subaccount):
            raise InvalidAccount(f"checksum mismatch in {text!r}")
        return cls(owner, subaccount)

    # -- value semantics ----------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Account is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Account is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Account, (self.owner, self.subaccount))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Account:
            return NotImplemented
        return same_principal(self.owner, other.owner) and (
            self.subaccount == other.subaccount
            or self.effective_subaccount == other.effective_subaccount
        )

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Account({self.to_text()!r})"

    def _repr_html_(self) -> str:
        return f'<code title="Account">{html.escape(self.to_text())}</code>'


_set_owner, _set_subaccount, _set_hash = slot_setters(Account, "owner", "subaccount", "_hash")
"""The slots' own setters: an account is built on every ledger call, and storing into the slots
directly skips the ``object.__setattr__`` dispatch (the class refuses ``setattr``)."""

__all__ = ["DEFAULT_SUBACCOUNT", "SUBACCOUNT_LENGTH", "Account", "InvalidAccount"]
