"""Calling a ledger from a canister when a reject does not prove that nothing happened.

A ledger whose method awaits after it has committed the transfer (a platform ``Token`` telling
its factory about a new holder) can commit and then fail, so its caller gets a reject for a
transfer that happened. ICRC-1 deduplication settles it: a request that carries a
``created_at_time`` and a memo unique to it can be sent again, and the ledger either runs it (it
had not happened) or answers ``Duplicate`` with the block of the first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from icto.ic.account import Account
from icto.ic.canister import Canister
from icto.ic.errors import CallRejected
from icto.ic.principal import Principal
from icto.ic.result import Err
from icto.ledger.types import PERMITTED_DRIFT_NS, TX_WINDOW_NS, Block, Duplicate, TooOld
from icto.validation import foreign_text, is_nat


@attrs.frozen
class LedgerFailure:
    """Why a ledger request failed; ``in_doubt``: whether it happened is unknown (the ledger
    rejected it twice: sending the identical request again within the ledger's deduplication
    window settles it; or, ``expired``, it is past that window, and only the ledger's blocks
    can tell: ``find_block``)."""

    reason: str
    in_doubt: bool = False
    expired: bool = False


def ledger_error(error: object) -> str:
    """A ledger's ``Err`` or reject message as text safe to keep (escaped and cut)."""
    return foreign_text(error if isinstance(error, str) else repr(error), 1024)


def fee_of(canister: Canister, ledger: Principal) -> int | str:
    """``ledger``'s transfer fee, asked by ``canister``; or why it did not answer."""
    try:
        fee = canister.call(ledger, "icrc1_fee")
    except CallRejected as rejected:
        return ledger_error(rejected.message)
    return fee if is_nat(fee) else ledger_error(f"icrc1_fee answered {fee!r}, not a nat")


def ledger_problem(canister: Canister, ledger: Principal, what: str) -> str | None:
    """Why ``ledger`` cannot serve as ``what`` (payments will be taken on it with
    ``icrc2_transfer_from``), asked by ``canister``: it must answer and list ICRC-1 and
    ICRC-2 among its standards. ``None`` when it can."""
    if ledger == canister.id:
        return f"{what} {ledger} is this canister itself, not a ledger"
    try:
        standards = canister.call(ledger, "icrc1_supported_standards")
    except CallRejected as rejected:
        return foreign_text(f"{what} {ledger} did not answer: {rejected.message}", 1024)
    names = {getattr(standard, "name", None) for standard in standards} if isinstance(
        standards, tuple
    ) else set()  # fmt: skip
    if not {"ICRC-1", "ICRC-2"} <= names:
        return f"{what} {ledger} is not an ICRC-1 and ICRC-2 ledger"
    return None


def memo_of(text: str) -> bytes:
    """A 16-byte memo naming one request (short enough for every ledger's memo limit)."""
    return hashlib.sha256(text.encode()).digest()[:16]


def settle(
    canister: Canister, ledger: Principal, method: str, args: Any, sends: int = 2
) -> int | LedgerFailure:
    """Send a deduplicated ledger request (``args`` carry ``created_at_time`` and a unique memo)
    and return its block, or why it failed; a reject is followed by the identical request, up to
    ``sends`` in all, whose answer (its block, or ``Duplicate`` of the first) says what
    happened. An answer that is neither a block nor an error leaves it in doubt. A caller that
    retries later itself sends it once a time."""
    last = ""
    for _ in range(sends):
        try:
            result = canister.call(ledger, method, args)
        except CallRejected as rejected:
            last = rejected.message
            continue
        if isinstance(result, Err) and isinstance(result.error, Duplicate):
            return int(result.error.duplicate_of)
        if isinstance(result, Err) and isinstance(result.error, TooOld):
            reason = "too old for the ledger to say whether it happened (past its window)"
            return LedgerFailure(reason, in_doubt=True, expired=True)
        if isinstance(result, Err):
            return LedgerFailure(ledger_error(result.error))
        block: Any = getattr(result, "value", None)  # an Ok's
        if not is_nat(block):
            unknown = f"the ledger answered {result!r}, neither a block nor an error"
            return LedgerFailure(ledger_error(unknown), in_doubt=True)
        return int(block)
    times = "twice" if sends == 2 else f"{sends} times" if sends > 1 else "once"
    reason = f"the ledger rejected the request {times}: {last}"
    return LedgerFailure(foreign_text(reason, 1024), True)


def settle_or_find(
    canister: Canister, ledger: Principal, method: str, args: Any, recipient: Account,
    replan: Callable[[], Any], sends: int = 2,
) -> int | LedgerFailure:
    """``settle`` a deduplicated request of ``canister``'s own (a transfer or an approval whose
    ``recipient`` is the account paid or the spender approved); and when the ledger calls it too
    old to say whether it ran, read its log: the request's block if it ran, or, if it never
    did, the block of the new request ``replan()`` records and returns the arguments of (sent
    and settled now)."""
    sent = settle(canister, ledger, method, args, sends)
    if not (isinstance(sent, LedgerFailure) and sent.expired):
        return sent
    logged = logged_outcome(canister, ledger, args, None, recipient)
    if isinstance(logged, LedgerFailure) and not logged.in_doubt:
        return settle(canister, ledger, method, replan(), sends)
    return logged


def settle_or_look_up(
    canister: Canister, ledger: Principal, method: str, args: Any, payer: Account | None,
    recipient: Account | None,
) -> int | LedgerFailure:
    """``settle`` a deduplicated request, and when that leaves it in doubt (rejected twice, or
    too old for the ledger to say) read the ledger's log (``logged_outcome``): its block; a
    failure if it never ran; in doubt, with both reasons, if neither could tell. ``payer`` and
    ``recipient`` as for ``block_of_request``."""
    sent = settle(canister, ledger, method, args)
    if not (isinstance(sent, LedgerFailure) and sent.in_doubt):
        return sent
    logged = logged_outcome(canister, ledger, args, payer, recipient)
    if not isinstance(logged, LedgerFailure):
        return logged
    if logged.in_doubt:
        return LedgerFailure(f"{sent.reason}; {logged.reason}", in_doubt=True)
    return LedgerFailure(sent.reason)


def due_first(requests: Mapping[int, Any], now: int, most: int) -> list[int]:
    """The numbers of the journalled ``requests`` (records with a ``settle_from``) due by
    ``now``, the longest due first, at most ``most``. One sent again and still in doubt is due
    again from then, so it goes to the back: requests that stay in doubt never keep the others
    waiting."""
    due = sorted(
        (request.settle_from, number) for number, request in requests.items()
        if request.settle_from <= now
    )  # fmt: skip
    return [number for _, number in due[:most]]


def logged_outcome(
    canister: Canister, ledger: Principal, args: Any, payer: Account | None,
    recipient: Account | None,
) -> int | LedgerFailure:
    """What ``ledger``'s log says of a deduplicated request (``block_of_request``): its block
    if it ran; a known failure if it never did; in doubt if the log could not be read."""
    found = block_of_request(canister, ledger, args, payer, recipient)
    if isinstance(found, int):
        return found
    if found is None:
        return LedgerFailure("the ledger's log shows it never ran")
    reason = f"the ledger's log could not be read: {found}"
    return LedgerFailure(reason, in_doubt=True, expired=True)


def block_of_request(
    canister: Canister, ledger: Principal, args: Any, payer: Account | None,
    recipient: Account | None,
) -> int | str | None:
    """The block a deduplicated request (``args`` with its memo and ``created_at_time``) made
    in ``ledger``'s log, ``None`` if it never ran, or why the log could not be read. ``payer``:
    the account it debits (``None``: one of ``canister``'s own, or none for a mint);
    ``recipient``: the account paid or the spender approved (``None`` for a burn, whose block
    names no recipient)."""
    memo, created_at = args.memo, args.created_at_time

    def ours(block: Block) -> bool:
        source = block.from_
        paid_by = (source is None or source.owner == canister.id) if payer is None else (
            source == payer
        )  # fmt: skip
        return (
            block.memo == memo and block.created_at_time == created_at and paid_by
            and recipient in (block.to, block.spender)
        )  # fmt: skip

    return find_block(canister, ledger, created_at, ours)


LOOKUP_PAGE: Final = 100
"""Blocks read per ``get_blocks`` call by ``find_block``."""


def find_block(
    canister: Canister, ledger: Principal, created_at: int, ours: Callable[[Block], bool]
) -> int | str | None:
    """The index of the block for which ``ours`` holds among those a request created at
    ``created_at`` could have made; ``None`` if there is none (the request never ran, so a new
    one may be sent); or why the ledger's log could not be read. Only those blocks are read:
    from ``created_at`` less the permitted drift (found by a binary search over the log, whose
    timestamps never decrease) to the end of the deduplication window."""
    try:
        count: int = canister.call(ledger, "get_transaction_count")
        low, high = 0, count
        while low < high:
            middle = (low + high) // 2
            (block,) = _blocks(canister.call(ledger, "get_blocks", middle, 1), 1)
            if block.timestamp < created_at - PERMITTED_DRIFT_NS:
                low = middle + 1
            else:
                high = middle
        while low < count:
            page = _blocks(canister.call(ledger, "get_blocks", low, LOOKUP_PAGE), LOOKUP_PAGE)
            for offset, block in enumerate(page):
                if block.timestamp > created_at + TX_WINDOW_NS:
                    return None
                if ours(block):
                    return low + offset
            low += len(page)
    except CallRejected as rejected:
        return ledger_error(rejected.message)
    except _Unreadable as unreadable:
        return str(unreadable)
    return None


class _Unreadable(Exception):
    """A ledger answered ``get_blocks`` with something that is not its blocks."""


def _blocks(answer: object, most: int) -> tuple[Block, ...]:
    """``answer`` as the blocks asked for (at least one, at most ``most``)."""
    if not (
        isinstance(answer, tuple) and 0 < len(answer) <= most
        and all(isinstance(block, Block) for block in answer)
    ):  # fmt: skip
        raise _Unreadable(f"get_blocks answered {answer!r:.200}, not blocks")
    return answer
