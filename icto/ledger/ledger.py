"""The ICRC-1 / ICRC-2 ledger canister, following DFINITY's production ledger where the standards
leave a choice (order of checks, minimum burn, 60 s drift, dedup identity, traps).

State is persistent: balances, allowances and the dedup set are HAMT maps, the block log a Vector,
so a transfer is a handful of map operations and one append, whatever the number of accounts.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
import immutables

from icto.collections.vector import Vector
from icto.ic.account import Account
from icto.ic.canister import Canister, Trap, query, update
from icto.ic.principal import Principal
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


@attrs.frozen
class LedgerState:
    """Everything a ledger keeps. Accounts used as keys are normalised (``None`` subaccount)."""

    config: LedgerConfig
    balances: immutables.Map[Account, int] = immutables.Map()
    allowances: immutables.Map[tuple[Account, Account], AllowanceEntry] = immutables.Map()
    blocks: Vector[Block] = Vector()
    dedup: immutables.Map[tuple[Any, ...], int] = immutables.Map()
    dedup_queue: Vector[tuple[int, tuple[Any, ...]]] = Vector()
    dedup_head: int = 0
    total_supply: int = 0
    holders: immutables.Map[Principal, int] = immutables.Map()
    """Owner → number of its accounts with a positive balance (the holder index's source)."""


def _raw(account: Account | None) -> tuple[Principal, bytes | None] | None:
    """An account as given, for the dedup identity (``None`` and zeros stay distinct)."""
    return None if account is None else (account.owner, account.subaccount)


class _Books:
    """A transaction's working copy of balances and holder counts (lives for one call)."""

    __slots__ = ("balances", "holders", "touched")

    def __init__(self, state: LedgerState) -> None:
        self.balances = state.balances
        self.holders = state.holders
        self.touched: dict[Principal, int] = {}

    def balance(self, account: Account) -> int:
        return self.balances.get(account, 0)

    def add(self, account: Account, delta: int) -> None:
        if not delta:
            return
        account = account.normalized()
        before = self.balances.get(account, 0)
        after = before + delta
        owner = account.owner
        if owner not in self.touched:
            self.touched[owner] = self.holders.get(owner, 0)
        if after:
            self.balances = self.balances.set(account, after)
        else:
            self.balances = self.balances.delete(account)
        if (before == 0) != (after == 0):
            count = self.holders.get(owner, 0) + (1 if before == 0 else -1)
            self.holders = self.holders.set(owner, count) if count else self.holders.delete(owner)

    def holder_changes(self) -> tuple[tuple[Principal, ...], tuple[Principal, ...]]:
        added, removed = [], []
        for owner, before in self.touched.items():
            after = self.holders.get(owner, 0)
            if before == 0 and after > 0:
                added.append(owner)
            elif before > 0 and after == 0:
                removed.append(owner)
        return tuple(added), tuple(removed)


class Ledger(Canister):
    """An ICRC-1 + ICRC-2 ledger. ``init`` takes a ``LedgerInit``; initial balances become mint
    blocks 0..n-1 with ``created_at_time`` = the init time, remembered for deduplication.

    Subclasses learn when an owner starts or stops holding tokens (any of its accounts going from 0
    to a positive balance, or its last one back to 0) by overriding ``on_holders_changed``; it is
    called once per transaction that changes the set, not on every transfer.
    """

    VERSION = "1.0.0"

    state: LedgerState

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
        state = LedgerState(config)
        books = _Books(state)
        blocks, dedup, queue = state.blocks, state.dedup, state.dedup_queue
        now = self.time
        for account, amount in arg.initial_balances:
            if account == minting:
                raise ValueError("the minting account cannot hold an initial balance")
            books.add(account, amount)
            identity = (TRANSFER, _raw(minting), _raw(account), None, amount, None, None, now)
            dedup = dedup.set(identity, len(blocks))
            queue = queue.append((now, identity))
            blocks = blocks.append(Block(MINT, now, amount, to=account, created_at_time=now))
        self.state = attrs.evolve(
            state,
            balances=books.balances,
            holders=books.holders,
            blocks=blocks,
            dedup=dedup,
            dedup_queue=queue,
            total_supply=sum(amount for _, amount in arg.initial_balances),
        )

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
        entry = self._active_allowance(args.account, args.spender)
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
        source = Account(self.caller, args.from_subaccount)
        return self._move(
            TRANSFER, source, args.to, None, args.amount, args.fee, args.memo,
            args.created_at_time,
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
        approver = Account(self.caller, args.from_subaccount)
        if args.spender.owner == self.caller:
            raise Trap("self approval is not allowed")
        if approver == config.minting_account:
            raise Trap("the minting account cannot delegate mints")
        self._check_memo(args.memo)
        current_entry = self._active_allowance(approver, args.spender)
        current = 0 if current_entry is None else current_entry.amount
        if args.expected_allowance is not None and args.expected_allowance > U64_MAX:
            return Err(AllowanceChanged(current))
        if args.fee is not None and args.fee != config.fee:
            return Err(BadFee(config.fee))
        identity = None
        if args.created_at_time is not None:
            identity = (
                APPROVE, _raw(approver), _raw(args.spender), args.amount, args.fee, args.memo,
                args.created_at_time, args.expected_allowance, args.expires_at,
            )  # fmt: skip
            failure = self._check_time_and_dedup(args.created_at_time, identity)
            if failure is not None:
                return failure
        books = _Books(state)
        balance = books.balance(approver)
        if balance < config.fee:
            return Err(InsufficientFunds(balance))
        if args.expires_at is not None and args.expires_at <= self.time:
            return Err(Expired(self.time))
        if args.expected_allowance is not None and args.expected_allowance != current:
            return Err(AllowanceChanged(current))
        books.add(approver, -config.fee)
        key = (approver.normalized(), args.spender.normalized())
        amount = min(args.amount, U64_MAX)
        allowances = (
            state.allowances.set(key, AllowanceEntry(amount, args.expires_at))
            if amount
            else state.allowances.delete(key)
            if key in state.allowances
            else state.allowances
        )
        block = Block(
            APPROVE, self.time, amount, from_=approver, spender=args.spender, fee=config.fee,
            memo=args.memo, created_at_time=args.created_at_time,
            expected_allowance=args.expected_allowance, expires_at=args.expires_at,
        )  # fmt: skip
        return self._record(books, block, identity, allowances, state.total_supply - config.fee)

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
        """transfer / transfer_from / mint / burn, with the production ledger's order of checks."""
        state = self.state
        config = state.config
        self._check_memo(memo)
        books = _Books(state)
        if to == config.minting_account:
            if fee is not None and fee != 0:
                return Err(BadFee(0))
            balance = books.balance(source)
            min_burn = min(config.fee, balance)
            if amount < min_burn:
                return Err(BadBurn(min_burn))
            if amount == 0:
                return Err(BadBurn(config.fee))
            operation, charged = BURN, 0
        elif source == config.minting_account:
            if kind == TRANSFER_FROM:
                raise Trap("the minter account cannot delegate mints")
            if fee is not None and fee != 0:
                return Err(BadFee(0))
            operation, charged = MINT, 0
        else:
            if fee is not None and fee != config.fee:
                return Err(BadFee(config.fee))
            operation, charged = kind, config.fee
        identity = None
        if created_at_time is not None:
            identity = (
                kind,
                _raw(source),
                _raw(to),
                _raw(spender),
                amount,
                fee,
                memo,
                created_at_time,
            )
            failure = self._check_time_and_dedup(created_at_time, identity)
            if failure is not None:
                return failure
        allowances = state.allowances
        if spender is not None and spender != source:
            needed = amount + charged
            entry = self._active_allowance(source, spender)
            allowed = 0 if entry is None else entry.amount
            if allowed < needed:
                return Err(InsufficientAllowance(allowed))
            assert entry is not None
            key = (source.normalized(), spender.normalized())
            left = allowed - needed
            allowances = (
                allowances.set(key, AllowanceEntry(left, entry.expires_at))
                if left
                else allowances.delete(key)
            )
        if operation != MINT:
            balance = books.balance(source)
            if balance < amount + charged:
                return Err(InsufficientFunds(balance))
            books.add(source, -(amount + charged))
        supply = state.total_supply
        if operation == MINT:
            supply += amount
        elif operation == BURN:
            supply -= amount
        if operation not in (MINT, BURN):
            books.add(to, amount)
            if config.fee_collector is not None:
                books.add(config.fee_collector, charged)
            else:
                supply -= charged
        elif operation == MINT:
            books.add(to, amount)
        block = Block(
            operation, self.time, amount,
            from_=None if operation == MINT else source,
            to=None if operation == BURN else to,
            spender=spender,
            fee=None if operation in (MINT, BURN) else charged,
            memo=memo, created_at_time=created_at_time,
        )  # fmt: skip
        return self._record(books, block, identity, allowances, supply)

    def _record(
        self,
        books: _Books,
        block: Block,
        identity: tuple[Any, ...] | None,
        allowances: immutables.Map[tuple[Account, Account], AllowanceEntry],
        supply: int,
    ) -> Ok[int]:
        """Apply a successful transaction: one block, the new books, the dedup entry."""
        state = self.state
        index = len(state.blocks)
        dedup, queue = state.dedup, state.dedup_queue
        if identity is not None:
            dedup = dedup.set(identity, index)
            queue = queue.append((block.timestamp, identity))
        self.state = attrs.evolve(
            state, balances=books.balances, allowances=allowances,
            blocks=state.blocks.append(block), dedup=dedup, dedup_queue=queue,
            total_supply=supply, holders=books.holders,
        )  # fmt: skip
        added, removed = books.holder_changes()
        if added or removed:
            self.on_holders_changed(added, removed)
        return Ok(index)

    def _check_memo(self, memo: bytes | None) -> None:
        limit = self.state.config.max_memo_length
        if memo is not None and len(memo) > limit:
            raise Trap(f"the memo field size of {len(memo)} bytes is above the limit of {limit}")

    def _check_time_and_dedup(
        self, created_at_time: int, identity: tuple[Any, ...]
    ) -> Err[Any] | None:
        now = self.time
        self._expire_dedup(now)
        if created_at_time + TX_WINDOW_NS < now:
            return Err(TooOld())
        if created_at_time > now + PERMITTED_DRIFT_NS:
            return Err(CreatedInFuture(now))
        duplicate_of = self.state.dedup.get(identity)
        if duplicate_of is not None:
            return Err(Duplicate(duplicate_of))
        return None

    def _expire_dedup(self, now: int) -> None:
        """Forget transactions older than the window plus drift: amortised O(1) per call."""
        state = self.state
        queue, head, dedup = state.dedup_queue, state.dedup_head, state.dedup
        horizon = now - TX_WINDOW_NS - PERMITTED_DRIFT_NS
        start = head
        while head < len(queue) and queue[head][0] < horizon:
            identity = queue[head][1]
            dedup = dedup.delete(identity) if identity in dedup else dedup
            head += 1
        if head == start:
            return
        if head >= _DEDUP_COMPACT_AFTER and 2 * head >= len(queue):
            queue, head = Vector(queue[head:]), 0
        self.state = attrs.evolve(state, dedup=dedup, dedup_queue=queue, dedup_head=head)

    def _active_allowance(self, account: Account, spender: Account) -> AllowanceEntry | None:
        entry = self.state.allowances.get((account, spender))
        if entry is None or (entry.expires_at is not None and entry.expires_at <= self.time):
            return None
        return entry
