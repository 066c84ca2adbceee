"""The ICRC-1 / ICRC-2 ledger canister, following DFINITY's production ledger where the standards
leave a choice (order of checks, minimum burn, 60 s drift, dedup identity, traps).

State is persistent: balances, allowances and the dedup set are HAMT maps, the block log a Vector,
so a transfer is a handful of map operations and one append, whatever the number of accounts.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

import attrs
import immutables

from icto.collections.records import evolve, slot_setters
from icto.collections.vector import Vector
from icto.ic.account import Account
from icto.ic.canister import Canister, Trap, check_upgrade, query, update
from icto.ic.principal import Principal, same_principal
from icto.ic.result import Err, Ok
from icto.ledger.types import (
    PERMITTED_DRIFT_NS,
    TX_WINDOW_NS,
    U64_MAX,
    Allowance,
    AllowanceArgs,
    AllowanceChanged,
    ApproveArgs,
    BadBurn,
    BadFee,
    Block,
    CreatedInFuture,
    Duplicate,
    Expired,
    InsufficientAllowance,
    InsufficientFunds,
    LedgerInit,
    MetadataValue,
    StandardRecord,
    TooOld,
    TransferArgs,
    TransferFromArgs,
)

MINT: Final = "mint"
BURN: Final = "burn"
TRANSFER: Final = "transfer"
APPROVE: Final = "approve"
TRANSFER_FROM: Final = "transfer_from"

RESERVED_METADATA: Final = frozenset(
    {"icrc1:decimals", "icrc1:name", "icrc1:symbol", "icrc1:fee", "icrc1:max_memo_length"}
)
SUPPORTED_STANDARDS: Final = (
    StandardRecord("ICRC-1", "https://github.com/dfinity/ICRC-1/tree/main/standards/ICRC-1"),
    StandardRecord("ICRC-2", "https://github.com/dfinity/ICRC-1/tree/main/standards/ICRC-2"),
)
_DEDUP_COMPACT_AFTER: Final = 1024


@attrs.frozen
class AllowanceEntry:
    amount: int
    expires_at: int | None


@attrs.frozen
class LedgerConfig:
    name: str
    symbol: str
    decimals: int
    fee: int
    minting_account: Account
    fee_collector: Account | None
    max_memo_length: int
    metadata: tuple[tuple[str, MetadataValue], ...]


_NO_ENTRIES: Final[immutables.Map[Any, Any]] = immutables.Map()
_NO_ITEMS: Final[Vector[Any]] = Vector()


@attrs.frozen(init=False)
class LedgerState:
    """Everything a ledger keeps. Accounts used as keys are normalised (``None`` subaccount).

    A new one is built by every transaction, so ``__init__`` stores the fields straight into their
    slots (see ``slot_setters``); it takes the same arguments as the one attrs would generate.
    """

    config: LedgerConfig
    balances: immutables.Map[Account, int] = _NO_ENTRIES
    allowances: immutables.Map[tuple[Account, Account], AllowanceEntry] = _NO_ENTRIES
    blocks: Vector[Block] = _NO_ITEMS
    dedup: immutables.Map[tuple[Any, ...], int] = _NO_ENTRIES
    dedup_queue: Vector[tuple[int, tuple[Any, ...]]] = _NO_ITEMS
    dedup_head: int = 0
    total_supply: int = 0
    holders: immutables.Map[Principal, int] = _NO_ENTRIES
    """Owner → number of its accounts with a positive balance (the holder index's source)."""

    def __init__(
        self,
        config: LedgerConfig,
        balances: immutables.Map[Account, int] = _NO_ENTRIES,
        allowances: immutables.Map[tuple[Account, Account], AllowanceEntry] = _NO_ENTRIES,
        blocks: Vector[Block] = _NO_ITEMS,
        dedup: immutables.Map[tuple[Any, ...], int] = _NO_ENTRIES,
        dedup_queue: Vector[tuple[int, tuple[Any, ...]]] = _NO_ITEMS,
        dedup_head: int = 0,
        total_supply: int = 0,
        holders: immutables.Map[Principal, int] = _NO_ENTRIES,
    ) -> None:
        (
            set_config, set_balances, set_allowances, set_blocks, set_dedup, set_dedup_queue,
            set_dedup_head, set_total_supply, set_holders,
        ) = _LEDGER_STATE_SLOTS  # fmt: skip
        set_config(self, config)
        set_balances(self, balances)
        set_allowances(self, allowances)
        set_blocks(self, blocks)
        set_dedup(self, dedup)
        set_dedup_queue(self, dedup_queue)
        set_dedup_head(self, dedup_head)
        set_total_supply(self, total_supply)
        set_holders(self, holders)


_LEDGER_STATE_SLOTS: Final = slot_setters(LedgerState)


Holders: TypeAlias = immutables.Map[Principal, int]
Books: TypeAlias = immutables.MapMutation[Account, int]
"""Balances being changed by one transaction (a mutation of the state's map, finished once)."""


def _raw(account: Account | None) -> tuple[Principal, bytes | None] | None:
    """An account as given, for the dedup identity (``None`` and zeros stay distinct)."""
    return None if account is None else (account.owner, account.subaccount)


def _check_amount(amount: object) -> None:
    """Trap unless ``amount`` is a nat. The argument records check it when built, but a record
    can be built around its validators and sent through the router, as a canister's arguments
    are never trusted on the IC: a negative amount would create money."""
    if amount.__class__ is not int or amount < 0:
        raise Trap(f"amount must be a nat, got {amount!r}")


def _mint_identity(to: Account, amount: int, memo: bytes | None, at: int) -> tuple[Any, ...]:
    """A mint's dedup identity: what the production ledger records of it, fields as given. It
    names no source and no fee, so a retry that spells the minting account another way, or
    names a zero fee, is the same mint."""
    return (MINT, _raw(to), amount, memo, at)


def _key(account: Account) -> Account:
    """The account as a balances / allowances key (a default subaccount spelled ``None``)."""
    return account if account.subaccount is None else account.normalized()


def _counted(holders: Holders, owner: Principal, step: int) -> Holders:
    """``holders`` after one of ``owner``'s accounts started (+1) or stopped (-1) holding."""
    count = holders.get(owner, 0) + step
    return holders.set(owner, count) if count else holders.delete(owner)


def _credit(books: Books, holders: Holders, account: Account, amount: int) -> Holders:
    """Add ``amount`` (> 0) to ``account`` in ``books``; return ``holders`` counting it if it was
    empty."""
    key = account if account.subaccount is None else account.normalized()
    before = books.get(key, 0)
    books[key] = before + amount
    return holders if before else _counted(holders, key.owner, 1)


def _debit(books: Books, holders: Holders, account: Account, balance: int, amount: int) -> Holders:
    """Take ``amount`` (0 < amount <= ``balance``, the account's balance) from ``account``; return
    ``holders`` uncounting it if it is now empty."""
    key = account if account.subaccount is None else account.normalized()
    if balance != amount:
        books[key] = balance - amount
        return holders
    del books[key]
    return _counted(holders, key.owner, -1)


def _holder_changes(
    before: Holders, after: Holders, accounts: tuple[Account | None, ...]
) -> tuple[tuple[Principal, ...], tuple[Principal, ...]]:
    """The owners of ``accounts`` (all a transaction may have touched, in the order it touches
    them) who started / stopped holding; an untouched owner's count is unchanged, so not listed."""
    added, removed = [], []
    for owner in dict.fromkeys(account.owner for account in accounts if account is not None):
        was, now = before.get(owner, 0), after.get(owner, 0)
        if now and not was:
            added.append(owner)
        elif was and not now:
            removed.append(owner)
    return tuple(added), tuple(removed)


_LEDGER_FIELDS: Final = tuple(field.name for field in attrs.fields(LedgerState))
_extra_fields: dict[type, tuple[str, ...] | None] = {}


def _subclass_fields(cls: type) -> tuple[str, ...] | None:
    """The fields a ``LedgerState`` subclass adds, when its ``__init__`` takes all fields
    positionally, the ledger's first (else ``None``); worked out once per class."""
    if cls not in _extra_fields:
        fields = attrs.fields(cls)
        names = tuple(field.name for field in fields)
        positional = all(field.init and not field.kw_only for field in fields)
        ledger_first = names[: len(_LEDGER_FIELDS)] == _LEDGER_FIELDS
        _extra_fields[cls] = names[len(_LEDGER_FIELDS) :] if positional and ledger_first else None
    return _extra_fields[cls]


def _rebuilt(
    state: LedgerState,
    balances: immutables.Map[Account, int],
    allowances: immutables.Map[tuple[Account, Account], AllowanceEntry],
    blocks: Vector[Block],
    dedup: immutables.Map[tuple[Any, ...], int],
    dedup_queue: Vector[tuple[int, tuple[Any, ...]]],
    dedup_head: int,
    total_supply: int,
    holders: Holders,
) -> LedgerState:
    """``state`` with new books, built in one go; a subclass's own fields are carried over."""
    cls = state.__class__
    if cls is LedgerState:
        return LedgerState(
            state.config, balances, allowances, blocks, dedup, dedup_queue, dedup_head,
            total_supply, holders,
        )  # fmt: skip
    extra = _subclass_fields(cls)
    if extra is None:
        return evolve(
            state, balances=balances, allowances=allowances, blocks=blocks, dedup=dedup,
            dedup_queue=dedup_queue, dedup_head=dedup_head, total_supply=total_supply,
            holders=holders,
        )  # fmt: skip
    return cls(
        state.config, balances, allowances, blocks, dedup, dedup_queue, dedup_head, total_supply,
        holders, *[getattr(state, name) for name in extra],
    )  # fmt: skip


class Ledger(Canister):
    """An ICRC-1 + ICRC-2 ledger. ``init`` takes a ``LedgerInit``; initial balances become mint
    blocks 0..n-1 with ``created_at_time`` = the init time, remembered for deduplication.

    Subclasses learn when an owner starts or stops holding tokens (any of its accounts going from 0
    to a positive balance, or its last one back to 0) by overriding ``on_holders_changed``; it is
    called once per transaction that changes the set, not on every transfer.
    """

    VERSION = "1.0.0"

    state: LedgerState

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Keep every balance, allowance, block and the deduplication memory. An upgrade takes
        no argument (a ``LedgerInit`` given again would be ignored: the fee and the minting
        account stay), and the kept state must be a ledger's; anything else traps, so the IC
        rolls the upgrade back."""
        check_upgrade(stable, arg, LedgerState, "a ledger")
        super().post_upgrade(stable, arg)

    def init(self, arg: LedgerInit) -> None:
        if not isinstance(arg, LedgerInit):
            raise TypeError(f"a ledger is installed with a LedgerInit, got {type(arg).__name__}")
        keys = [key for key, _ in arg.metadata]
        if reserved := RESERVED_METADATA.intersection(keys):
            raise ValueError(f"metadata keys {sorted(reserved)} are set by the ledger itself")
        if len(set(keys)) != len(keys):
            raise ValueError("metadata keys must be unique")
        minting = arg.minting_account.normalized()
        if arg.fee_collector is not None and arg.fee_collector == minting:
            raise ValueError("the fee collector cannot be the minting account")
        config = LedgerConfig(
            arg.name, arg.symbol, arg.decimals, arg.transfer_fee, minting,
            None if arg.fee_collector is None else arg.fee_collector.normalized(),
            arg.max_memo_length, arg.metadata,
        )  # fmt: skip
        now = self.time
        balances, dedup = _NO_ENTRIES.mutate(), _NO_ENTRIES.mutate()
        blocks: list[Block] = []
        queue: list[tuple[int, tuple[Any, ...]]] = []
        supply = 0
        for index, (account, amount) in enumerate(arg.initial_balances):
            if account.owner == minting.owner and account == minting:
                raise ValueError("the minting account cannot hold an initial balance")
            if amount:
                key = _key(account)
                balances[key] = balances.get(key, 0) + amount
                supply += amount
            identity = _mint_identity(account, amount, None, now)
            dedup[identity] = index
            queue.append((now, identity))
            blocks.append(Block(MINT, now, amount, None, account, None, None, None, now))
        books = balances.finish()
        holders = _NO_ENTRIES.mutate()
        for key in books:
            holders[key.owner] = holders.get(key.owner, 0) + 1
        self.state = LedgerState(
            config, books, _NO_ENTRIES, Vector(blocks), dedup.finish(), Vector(queue), 0, supply,
            holders.finish(),
        )  # fmt: skip

    def on_holders_changed(
        self, added: tuple[Principal, ...], removed: tuple[Principal, ...]
    ) -> None:
        """Called after a transaction that made owners start (``added``) or stop (``removed``)
        holding tokens. The base ledger does nothing."""

    # -- ICRC-1 queries -------------------------------------------------------------------------

    @query
    def icrc1_name(self) -> str:
        return self.state.config.name

    @query
    def icrc1_symbol(self) -> str:
        return self.state.config.symbol

    @query
    def icrc1_decimals(self) -> int:
        return self.state.config.decimals

    @query
    def icrc1_fee(self) -> int:
        return self.state.config.fee

    @query
    def icrc1_metadata(self) -> tuple[tuple[str, MetadataValue], ...]:
        config = self.state.config
        return (
            *config.metadata,
            ("icrc1:decimals", config.decimals),
            ("icrc1:name", config.name),
            ("icrc1:symbol", config.symbol),
            ("icrc1:fee", config.fee),
            ("icrc1:max_memo_length", config.max_memo_length),
        )

    @query
    def icrc1_total_supply(self) -> int:
        return self.state.total_supply

    @query
    def icrc1_minting_account(self) -> Account | None:
        return self.state.config.minting_account

    @query
    def icrc1_balance_of(self, account: Account) -> int:
        return self.state.balances.get(account, 0)

    @query
    def icrc1_supported_standards(self) -> tuple[StandardRecord, ...]:
        return SUPPORTED_STANDARDS

    @query
    def icrc2_allowance(self, args: AllowanceArgs) -> Allowance:
        entry = self._active_allowance(args.account, args.spender, self.time)
        return Allowance(0, None) if entry is None else Allowance(entry.amount, entry.expires_at)

    @query
    def get_transaction_count(self) -> int:
        return len(self.state.blocks)

    @query
    def get_blocks(self, start: int, length: int) -> tuple[Block, ...]:
        """Blocks ``start`` … ``start + length - 1`` that exist (fewer at the end of the log)."""
        if start < 0 or length < 0:
            raise ValueError("start and length must be non-negative")
        return tuple(self.state.blocks[start : start + length])

    # -- updates --------------------------------------------------------------------------------

    @update
    def icrc1_transfer(self, args: TransferArgs) -> Ok[int] | Err[Any]:
        return self._move(
            TRANSFER, Account(self.caller, args.from_subaccount), args.to, None, args.amount,
            args.fee, args.memo, args.created_at_time,
        )  # fmt: skip

    @update
    def icrc2_transfer_from(self, args: TransferFromArgs) -> Ok[int] | Err[Any]:
        spender = Account(self.caller, args.spender_subaccount)
        return self._move(
            TRANSFER_FROM, args.from_, args.to, spender, args.amount, args.fee, args.memo,
            args.created_at_time,
        )  # fmt: skip

    @update
    def icrc2_approve(self, args: ApproveArgs) -> Ok[int] | Err[Any]:
        state = self.state
        config = state.config
        caller = self.caller
        now = self.time
        approver = Account(caller, args.from_subaccount)
        spender = args.spender
        _check_amount(args.amount)
        if spender.owner == caller:
            raise Trap("self approval is not allowed")
        minting = config.minting_account
        if caller == minting.owner and approver == minting:
            raise Trap("the minting account cannot delegate mints")
        memo = args.memo
        if memo is not None:
            self._check_memo(memo)
        current_entry = self._active_allowance(approver, spender, now)
        current = 0 if current_entry is None else current_entry.amount
        expected = args.expected_allowance
        if expected is not None and expected > U64_MAX:
            return Err(AllowanceChanged(current))
        fee = config.fee
        if args.fee is not None and args.fee != fee:
            return Err(BadFee(fee))
        created_at_time = args.created_at_time
        amount = min(args.amount, U64_MAX)  # as recorded, so as deduplicated
        identity = None
        if created_at_time is not None:
            identity = (
                APPROVE, _raw(approver), _raw(spender), amount, args.fee, memo,
                created_at_time, expected, args.expires_at,
            )  # fmt: skip
            failure = self._check_time_and_dedup(now, created_at_time, identity)
            if failure is not None:
                return failure
            state = self.state
        balance = state.balances.get(approver, 0)
        if balance < fee:
            return Err(InsufficientFunds(balance))
        expires_at = args.expires_at
        if expires_at is not None and expires_at <= now:
            return Err(Expired(now))
        if expected is not None and expected != current:
            return Err(AllowanceChanged(current))
        balances, holders = state.balances, state.holders
        if fee:
            books = balances.mutate()
            holders = _debit(books, holders, approver, balance, fee)
            balances = books.finish()
        key = (_key(approver), _key(spender))
        allowances = state.allowances
        if amount:
            allowances = allowances.set(key, AllowanceEntry(amount, expires_at))
        elif key in allowances:
            allowances = allowances.delete(key)
        block = Block(
            APPROVE, now, amount, approver, None, spender, fee, memo, created_at_time, expected,
            expires_at,
        )  # fmt: skip
        return self._record(
            state, balances, holders, allowances, state.total_supply - fee, block, identity
        )

    # -- the rules, one function each -----------------------------------------------------------

    def _move(
        self,
        kind: str,
        source: Account,
        to: Account,
        spender: Account | None,
        amount: int,
        fee: int | None,
        memo: bytes | None,
        created_at_time: int | None,
    ) -> Ok[int] | Err[Any]:
        """transfer / transfer_from / mint / burn, with the production ledger's order of checks.

        Accounts are compared with the minting account by owner first: most are not the minter's,
        and owners (always principals) compare as bytes without a Python-level call, where
        accounts take one.
        """
        if amount.__class__ is not int or amount < 0:  # a record built around its validators
            _check_amount(amount)
        state = self.state
        config = state.config
        if memo is not None:
            self._check_memo(memo)
        minting = config.minting_account
        minter = minting.owner
        balance = 0
        if same_principal(to.owner, minter) and to == minting:
            if fee is not None and fee != 0:
                return Err(BadFee(0))
            balance = state.balances.get(source, 0)
            min_burn = min(config.fee, balance)
            if amount < min_burn:
                return Err(BadBurn(min_burn))
            if amount == 0:
                return Err(BadBurn(config.fee))
            operation, charged = BURN, 0
        elif same_principal(source.owner, minter) and source == minting:
            if kind == TRANSFER_FROM:
                raise Trap("the minter account cannot delegate mints")
            if fee is not None and fee != 0:
                return Err(BadFee(0))
            operation, charged = MINT, 0
        else:
            charged = config.fee
            if fee is not None and fee != charged:
                return Err(BadFee(charged))
            operation = kind
        now = self.time
        identity = None
        if created_at_time is not None:
            # The transaction as the production ledger records it: a burn names no
            # destination and no fee (a mint, see ``_mint_identity``).
            identity = (
                kind, _raw(source), _raw(to), _raw(spender), amount, fee, memo, created_at_time,
            )  # fmt: skip
            earlier = None
            if operation in (MINT, BURN):
                # A world saved before mints and burns had identities of their own remembers
                # them in the general form: that one still names the same transaction.
                earlier = identity
                identity = (
                    _mint_identity(to, amount, memo, created_at_time) if operation == MINT
                    else (BURN, _raw(source), _raw(spender), amount, memo, created_at_time)
                )  # fmt: skip
            failure = self._check_time_and_dedup(now, created_at_time, identity, earlier)
            if failure is not None:
                return failure
            state = self.state
        allowances = state.allowances
        if spender is not None and spender != source:
            needed = amount + charged
            entry = self._active_allowance(source, spender, now)
            if entry is None or entry.amount < needed:  # no allowance covers even 0
                return Err(InsufficientAllowance(0 if entry is None else entry.amount))
            allowed = entry.amount
            key = (_key(source), _key(spender))
            left = allowed - needed
            allowances = (
                allowances.set(key, AllowanceEntry(left, entry.expires_at))
                if left
                else allowances.delete(key)
            )
        holders = state.holders
        supply = state.total_supply
        if operation == MINT:
            books = state.balances.mutate()
            if amount:
                holders = _credit(books, holders, to, amount)
            supply += amount
            block = Block(MINT, now, amount, None, to, spender, None, memo, created_at_time)
        else:
            if operation != BURN:
                balance = state.balances.get(source, 0)
            debit = amount + charged
            if balance < debit or not balance:  # an empty account pays nothing, not even 0
                return Err(InsufficientFunds(balance))
            books = state.balances.mutate()
            if debit:
                holders = _debit(books, holders, source, balance, debit)
            if operation == BURN:
                supply -= amount
                block = Block(BURN, now, amount, source, None, spender, None, memo, created_at_time)
            else:
                if amount:
                    holders = _credit(books, holders, to, amount)
                collector = config.fee_collector
                if collector is None:
                    supply -= charged
                elif charged:
                    holders = _credit(books, holders, collector, charged)
                block = Block(
                    operation, now, amount, source, to, spender, charged, memo, created_at_time
                )
        return self._record(state, books.finish(), holders, allowances, supply, block, identity)

    def _record(
        self,
        state: LedgerState,
        balances: immutables.Map[Account, int],
        holders: Holders,
        allowances: immutables.Map[tuple[Account, Account], AllowanceEntry],
        supply: int,
        block: Block,
        identity: tuple[Any, ...] | None,
    ) -> Ok[int]:
        """Commit a successful transaction as one new state: its books, its block, its dedup
        entry; then tell ``on_holders_changed`` if that changed who holds tokens."""
        blocks = state.blocks
        index = len(blocks)
        dedup, queue = state.dedup, state.dedup_queue
        if identity is not None:
            dedup = dedup.set(identity, index)
            queue = queue.append((block.timestamp, identity))
        blocks = blocks.append(block)
        if state.__class__ is LedgerState:
            self.state = LedgerState(
                state.config, balances, allowances, blocks, dedup, queue, state.dedup_head, supply,
                holders,
            )  # fmt: skip
        else:
            self.state = _rebuilt(
                state, balances, allowances, blocks, dedup, queue, state.dedup_head, supply, holders
            )
        if holders is not state.holders:
            touched = (block.from_, block.to, state.config.fee_collector)
            added, removed = _holder_changes(state.holders, holders, touched)
            if added or removed:
                self.on_holders_changed(added, removed)
        return Ok(index)

    def _check_memo(self, memo: bytes) -> None:
        """Trap unless ``memo`` is bytes within the limit. A record built around its validators
        could carry a mutable ``bytearray``, which its sender could rewrite in the block log
        after the fact."""
        if memo.__class__ is not bytes:
            raise Trap(f"memo must be bytes, got {type(memo).__name__}")
        limit = self.state.config.max_memo_length
        if len(memo) > limit:
            raise Trap(f"the memo field size of {len(memo)} bytes is above the limit of {limit}")

    def _check_time_and_dedup(
        self,
        now: int,
        created_at_time: int,
        identity: tuple[Any, ...],
        earlier: tuple[Any, ...] | None = None,
    ) -> Err[Any] | None:
        self._expire_dedup(now)
        if created_at_time + TX_WINDOW_NS < now:
            return Err(TooOld())
        if created_at_time > now + PERMITTED_DRIFT_NS:
            return Err(CreatedInFuture(now))
        duplicate_of = self.state.dedup.get(identity)
        if duplicate_of is None and earlier is not None:
            duplicate_of = self.state.dedup.get(earlier)
        if duplicate_of is not None:
            return Err(Duplicate(duplicate_of))
        return None

    def _expire_dedup(self, now: int) -> None:
        """Forget transactions older than the window plus drift: amortised O(1) per call."""
        state = self.state
        queue, head = state.dedup_queue, state.dedup_head
        horizon = now - TX_WINDOW_NS - PERMITTED_DRIFT_NS
        if head >= len(queue) or queue[head][0] >= horizon:
            return
        dedup = state.dedup.mutate()
        while head < len(queue) and queue[head][0] < horizon:
            identity = queue[head][1]
            if identity in dedup:
                del dedup[identity]
            head += 1
        if head >= _DEDUP_COMPACT_AFTER and 2 * head >= len(queue):
            queue, head = Vector(queue[head:]), 0
        self.state = _rebuilt(
            state, state.balances, state.allowances, state.blocks, dedup.finish(), queue, head,
            state.total_supply, state.holders,
        )  # fmt: skip

    def _active_allowance(
        self, account: Account, spender: Account, now: int
    ) -> AllowanceEntry | None:
        entry = self.state.allowances.get((account, spender))
        if entry is None or (entry.expires_at is not None and entry.expires_at <= now):
            return None
        return entry
