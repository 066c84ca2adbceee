"""ICRC-1 / ICRC-2 records: arguments, results and one class per error variant.

Field names are the standards' (``from`` is spelled ``from_``). Records validate their fields when
built, as Candid encoding would: a negative amount, a subaccount that is not 32 bytes or a value of
the wrong type raises ``TypeError`` / ``ValueError`` at the call site, before anything is sent.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

import attrs

from icto.collections.records import slot_setters
from icto.ic.account import SUBACCOUNT_LENGTH, Account

E8S: Final = 100_000_000
"""One token in the smallest unit of an 8-decimals ledger (ICP: 1 ICP = 10^8 e8s)."""

U64_MAX: Final = 2**64 - 1
TX_WINDOW_NS: Final = 24 * 3600 * 10**9
PERMITTED_DRIFT_NS: Final = 60 * 10**9


# -- field validators ---------------------------------------------------------------------------


def _nat(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value.__class__ is not int:  # nor a bool or another subclass, as Candid decodes a nat
        raise TypeError(f"{attribute.name} must be a nat (int >= 0), got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{attribute.name} must be a nat (int >= 0), got {value}")


def _opt_nat(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _nat(instance, attribute, value)


def _opt_nat64(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _nat(instance, attribute, value)
        if value > U64_MAX:
            raise ValueError(f"{attribute.name} must fit in a nat64, got {value}")


def _opt_subaccount(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if value.__class__ is not bytes:
        raise TypeError(f"{attribute.name} must be bytes or None, got {type(value).__name__}")
    if len(value) != SUBACCOUNT_LENGTH:
        raise ValueError(f"{attribute.name} must be {SUBACCOUNT_LENGTH} bytes, got {len(value)}")


def _opt_memo(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value.__class__ is not bytes:  # a Principal is bytes, not a blob
        raise TypeError(f"{attribute.name} must be bytes or None, got {type(value).__name__}")


_account = attrs.validators.instance_of(Account)


def _text(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value.__class__ is not str:
        raise TypeError(f"{attribute.name} must be text, got {type(value).__name__}")


def _plain_nat(value: object) -> bool:
    """Whether ``value`` is a nat of exact type ``int`` (what callers pass nearly always)."""
    return value.__class__ is int and value >= 0


def _plain_nat64(value: object) -> bool:
    """Whether ``value`` is a nat64 of exact type ``int``."""
    return value.__class__ is int and 0 <= value <= U64_MAX


def _plain_subaccount(value: object) -> bool:
    """Whether ``value`` is a subaccount of exact type ``bytes``."""
    return value.__class__ is bytes and len(value) == SUBACCOUNT_LENGTH


def _validate(record: Any) -> None:
    """Run a record's field validators in order, raising what attrs' generated ``__init__`` would.

    The argument records' ``__init__`` checks the usual plain values inline and comes here only
    when one is not plain, so a valid call pays no validator calls and an invalid one fails alike.
    They run even while attrs' validators are switched off (``attrs.validators.set_disabled``):
    these records carry amounts of money, and a ledger must never see a negative one.
    """
    for field in attrs.fields(type(record)):
        if field.validator is not None:
            field.validator(record, field, getattr(record, field.name))


# -- arguments ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, init=False)
class TransferArgs:
    to: Account = attrs.field(validator=_account)
    amount: int = attrs.field(validator=_nat)
    from_subaccount: bytes | None = attrs.field(default=None, validator=_opt_subaccount)
    fee: int | None = attrs.field(default=None, validator=_opt_nat)
    memo: bytes | None = attrs.field(default=None, validator=_opt_memo)
    created_at_time: int | None = attrs.field(default=None, validator=_opt_nat64)

    def __init__(
        self,
        *,
        to: Account,
        amount: int,
        from_subaccount: bytes | None = None,
        fee: int | None = None,
        memo: bytes | None = None,
        created_at_time: int | None = None,
    ) -> None:
        """Store the fields; only a value that is not plain goes through the validators."""
        set_to, set_amount, set_from_subaccount, set_fee, set_memo, set_created_at_time = (
            _TRANSFER_ARGS_SLOTS
        )
        set_to(self, to)
        set_amount(self, amount)
        set_from_subaccount(self, from_subaccount)
        set_fee(self, fee)
        set_memo(self, memo)
        set_created_at_time(self, created_at_time)
        if not (
            to.__class__ is Account
            and amount.__class__ is int
            and amount >= 0
            and (from_subaccount is None or _plain_subaccount(from_subaccount))
            and (fee is None or _plain_nat(fee))
            and (memo is None or memo.__class__ is bytes)
            and (created_at_time is None or _plain_nat64(created_at_time))
        ):
            _validate(self)


@attrs.frozen(kw_only=True, init=False)
class ApproveArgs:
    spender: Account = attrs.field(validator=_account)
    amount: int = attrs.field(validator=_nat)
    from_subaccount: bytes | None = attrs.field(default=None, validator=_opt_subaccount)
    expected_allowance: int | None = attrs.field(default=None, validator=_opt_nat)
    expires_at: int | None = attrs.field(default=None, validator=_opt_nat64)
    fee: int | None = attrs.field(default=None, validator=_opt_nat)
    memo: bytes | None = attrs.field(default=None, validator=_opt_memo)
    created_at_time: int | None = attrs.field(default=None, validator=_opt_nat64)

    def __init__(
        self,
        *,
        spender: Account,
        amount: int,
        from_subaccount: bytes | None = None,
        expected_allowance: int | None = None,
        expires_at: int | None = None,
        fee: int | None = None,
        memo: bytes | None = None,
        created_at_time: int | None = None,
    ) -> None:
        """Store the fields; only a value that is not plain goes through the validators."""
        (
            set_spender, set_amount, set_from_subaccount, set_expected_allowance, set_expires_at,
            set_fee, set_memo, set_created_at_time,
        ) = _APPROVE_ARGS_SLOTS  # fmt: skip
        set_spender(self, spender)
        set_amount(self, amount)
        set_from_subaccount(self, from_subaccount)
        set_expected_allowance(self, expected_allowance)
        set_expires_at(self, expires_at)
        set_fee(self, fee)
        set_memo(self, memo)
        set_created_at_time(self, created_at_time)
        if not (
            spender.__class__ is Account
            and amount.__class__ is int
            and amount >= 0
            and (from_subaccount is None or _plain_subaccount(from_subaccount))
            and (expected_allowance is None or _plain_nat(expected_allowance))
            and (expires_at is None or _plain_nat64(expires_at))
            and (fee is None or _plain_nat(fee))
            and (memo is None or memo.__class__ is bytes)
            and (created_at_time is None or _plain_nat64(created_at_time))
        ):
            _validate(self)


@attrs.frozen(kw_only=True, init=False)
class TransferFromArgs:
    from_: Account = attrs.field(validator=_account)
    to: Account = attrs.field(validator=_account)
    amount: int = attrs.field(validator=_nat)
    spender_subaccount: bytes | None = attrs.field(default=None, validator=_opt_subaccount)
    fee: int | None = attrs.field(default=None, validator=_opt_nat)
    memo: bytes | None = attrs.field(default=None, validator=_opt_memo)
    created_at_time: int | None = attrs.field(default=None, validator=_opt_nat64)

    def __init__(
        self,
        *,
        from_: Account,
        to: Account,
        amount: int,
        spender_subaccount: bytes | None = None,
        fee: int | None = None,
        memo: bytes | None = None,
        created_at_time: int | None = None,
    ) -> None:
        """Store the fields; only a value that is not plain goes through the validators."""
        (
            set_from, set_to, set_amount, set_spender_subaccount, set_fee, set_memo,
            set_created_at_time,
        ) = _TRANSFER_FROM_ARGS_SLOTS  # fmt: skip
        set_from(self, from_)
        set_to(self, to)
        set_amount(self, amount)
        set_spender_subaccount(self, spender_subaccount)
        set_fee(self, fee)
        set_memo(self, memo)
        set_created_at_time(self, created_at_time)
        if not (
            from_.__class__ is Account
            and to.__class__ is Account
            and amount.__class__ is int
            and amount >= 0
            and (spender_subaccount is None or _plain_subaccount(spender_subaccount))
            and (fee is None or _plain_nat(fee))
            and (memo is None or memo.__class__ is bytes)
            and (created_at_time is None or _plain_nat64(created_at_time))
        ):
            _validate(self)


_TRANSFER_ARGS_SLOTS: Final = slot_setters(TransferArgs)
_APPROVE_ARGS_SLOTS: Final = slot_setters(ApproveArgs)
_TRANSFER_FROM_ARGS_SLOTS: Final = slot_setters(TransferFromArgs)


@attrs.frozen
class AllowanceArgs:
    account: Account = attrs.field(validator=_account)
    spender: Account = attrs.field(validator=_account)


@attrs.frozen
class Allowance:
    """What ``icrc2_allowance`` returns; ``Allowance(0, None)`` when there is no active approval."""

    allowance: int
    expires_at: int | None = None


@attrs.frozen
class StandardRecord:
    name: str
    url: str


MetadataValue: TypeAlias = int | str | bytes
"""Candid ``Value``: ``Nat`` / ``Int`` as int, ``Text`` as str, ``Blob`` as bytes."""


# -- errors (one class per Candid variant) -------------------------------------------------------


@attrs.frozen
class BadFee:
    expected_fee: int


@attrs.frozen
class BadBurn:
    min_burn_amount: int


@attrs.frozen
class InsufficientFunds:
    balance: int


@attrs.frozen
class TooOld:
    pass


@attrs.frozen
class CreatedInFuture:
    ledger_time: int


@attrs.frozen
class Duplicate:
    duplicate_of: int


@attrs.frozen
class TemporarilyUnavailable:
    pass


@attrs.frozen
class GenericError:
    error_code: int
    message: str


@attrs.frozen
class InsufficientAllowance:
    allowance: int


@attrs.frozen
class AllowanceChanged:
    current_allowance: int


@attrs.frozen
class Expired:
    ledger_time: int


TransferError: TypeAlias = (
    BadFee | BadBurn | InsufficientFunds | TooOld | CreatedInFuture | Duplicate
    | TemporarilyUnavailable | GenericError
)  # fmt: skip
ApproveError: TypeAlias = (
    BadFee | InsufficientFunds | AllowanceChanged | Expired | TooOld | CreatedInFuture
    | Duplicate | TemporarilyUnavailable | GenericError
)  # fmt: skip
TransferFromError: TypeAlias = TransferError | InsufficientAllowance


# -- init and blocks ----------------------------------------------------------------------------


def _initial_balances(value: Any) -> tuple[tuple[Account, int], ...]:
    if isinstance(value, dict):
        value = value.items()
    pairs = tuple(tuple(pair) for pair in value)
    for pair in pairs:
        if len(pair) != 2 or not isinstance(pair[0], Account):
            raise TypeError("initial_balances must be (Account, amount) pairs")
        if pair[1].__class__ is not int or pair[1] < 0:
            raise ValueError(f"initial balance must be a nat, got {pair[1]!r}")
    return pairs


def _metadata(value: Any) -> tuple[tuple[str, MetadataValue], ...]:
    if isinstance(value, dict):
        value = value.items()
    pairs = tuple(tuple(pair) for pair in value)
    for pair in pairs:
        if len(pair) != 2 or pair[0].__class__ is not str:
            raise TypeError("metadata must be (text key, value) pairs")
        if pair[1].__class__ not in (int, str, bytes):
            raise TypeError(f"metadata value for {pair[0]!r} must be int, str or bytes")
    return pairs


@attrs.frozen(kw_only=True)
class LedgerInit:
    """How to start a ledger. Initial balances become mint blocks 0..n-1."""

    name: str = attrs.field(validator=_text)
    symbol: str = attrs.field(validator=_text)
    decimals: int = attrs.field(default=8, validator=_nat)
    transfer_fee: int = attrs.field(validator=_nat)
    minting_account: Account = attrs.field(validator=_account)
    initial_balances: tuple[tuple[Account, int], ...] = attrs.field(
        default=(), converter=_initial_balances
    )
    fee_collector: Account | None = attrs.field(
        default=None, validator=attrs.validators.optional(_account)
    )
    max_memo_length: int = attrs.field(default=32, validator=_nat)
    metadata: tuple[tuple[str, MetadataValue], ...] = attrs.field(default=(), converter=_metadata)

    @decimals.validator
    def _decimals_fit_nat8(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value > 255:
            raise ValueError(f"decimals must fit in a nat8, got {value}")


@attrs.frozen(init=False)
class Block:
    """One recorded transaction. ``kind`` is mint, burn, transfer, approve or transfer_from.

    Accounts are as the caller gave them; ``fee`` is what was charged (``None`` for mint / burn).
    ``__init__`` stores the fields straight into their slots, as one is built per transaction.
    """

    kind: str
    timestamp: int
    amount: int
    from_: Account | None = None
    to: Account | None = None
    spender: Account | None = None
    fee: int | None = None
    memo: bytes | None = None
    created_at_time: int | None = None
    expected_allowance: int | None = None
    expires_at: int | None = None

    def __init__(
        self,
        kind: str,
        timestamp: int,
        amount: int,
        from_: Account | None = None,
        to: Account | None = None,
        spender: Account | None = None,
        fee: int | None = None,
        memo: bytes | None = None,
        created_at_time: int | None = None,
        expected_allowance: int | None = None,
        expires_at: int | None = None,
    ) -> None:
        (
            set_kind, set_timestamp, set_amount, set_from, set_to, set_spender, set_fee, set_memo,
            set_created_at_time, set_expected_allowance, set_expires_at,
        ) = _BLOCK_SLOTS  # fmt: skip
        set_kind(self, kind)
        set_timestamp(self, timestamp)
        set_amount(self, amount)
        set_from(self, from_)
        set_to(self, to)
        set_spender(self, spender)
        set_fee(self, fee)
        set_memo(self, memo)
        set_created_at_time(self, created_at_time)
        set_expected_allowance(self, expected_allowance)
        set_expires_at(self, expires_at)


_BLOCK_SLOTS: Final = slot_setters(Block)


__all__ = [
    "E8S",
    "PERMITTED_DRIFT_NS",
    "TX_WINDOW_NS",
    "U64_MAX",
    "Allowance",
    "AllowanceArgs",
    "AllowanceChanged",
    "ApproveArgs",
    "ApproveError",
    "BadBurn",
    "BadFee",
    "Block",
    "CreatedInFuture",
    "Duplicate",
    "Expired",
    "GenericError",
    "InsufficientAllowance",
    "InsufficientFunds",
    "LedgerInit",
    "MetadataValue",
    "StandardRecord",
    "TemporarilyUnavailable",
    "TooOld",
    "TransferArgs",
    "TransferError",
    "TransferFromArgs",
    "TransferFromError",
]
