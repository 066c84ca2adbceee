"""The money guarantee, read from the ground truth: the ICP ledger's blocks, the factory's
registry and what the backend says it still owes.

For every fee charged there is exactly one of: a deployed, indexed contract; a completed refund;
a refund owed (retryable). The ICP books balance. Once the outbox has drained, the storages hold
every record of it.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import attrs

from icto import Account, Principal
from icto.backend import PendingRefund
from icto.ledger import Block
from icto.storage import AuditAction, AuditQuery, Completed, Refunded
from icto.system import System

REFUND_PREFIX = b"refund:"


@attrs.frozen
class Books:
    charged: dict[str, int]
    """Payment id → fee taken by ``icrc2_transfer_from`` (memo = payment id)."""
    refunded: dict[str, tuple[int, int]]
    """Payment id → (amount, block) given back by the backend (memo = b"refund:" + id)."""
    deployed: dict[str, Principal]
    """Payment id (the factory's ticket) → registered contract."""
    owed: dict[str, PendingRefund]
    """Payment id → refund the backend still owes."""
    unconfirmed: frozenset[str]


def all_blocks(system: System) -> tuple[Block, ...]:
    ledger = system.icp_ledger
    return tuple(ledger.get_blocks(0, ledger.get_transaction_count()))


def read_books(system: System) -> Books:
    backend = Account(system.backend.id)
    charged: dict[str, int] = {}
    refunded: dict[str, tuple[int, int]] = {}
    for index, block in enumerate(all_blocks(system)):
        memo = block.memo or b""
        if block.kind == "transfer_from" and block.spender == backend:
            payment = memo.decode()
            assert payment not in charged, f"{payment} was charged twice"
            charged[payment] = block.amount
        elif block.kind == "transfer" and block.from_ == backend and memo.startswith(REFUND_PREFIX):
            payment = memo[len(REFUND_PREFIX):].decode()
            assert payment not in refunded, f"{payment} was refunded twice"
            refunded[payment] = (block.amount, index)
    factory_state = system.ic.state_of(system.token_factory.id)
    deployed = {
        ticket: found.contract for (by, ticket), found in factory_state.tickets.items()
        if by == system.backend.id and factory_state.index.info(found.contract) is not None
    }  # fmt: skip
    backend_state = system.ic.state_of(system.backend.id)
    owed = {refund.payment_id: refund for refund in backend_state.pending_refunds.values()}
    return Books(charged, refunded, deployed, owed, frozenset(backend_state.unconfirmed))


def assert_money_never_lost(system: System, *, unconfirmed_allowed: bool = False) -> Books:
    """Exactly one outcome per fee charged (an unconfirmed deployment, when allowed, may have a
    contract the backend does not know of yet, never a refund), nothing refunded without a
    charge, nothing deployed without one unless its fee was 0, books balanced. The factory,
    backend and invoice storage are read from their state, not called."""
    books = read_books(system)
    if not unconfirmed_allowed:
        assert not books.unconfirmed, f"unsettled deployments: {sorted(books.unconfirmed)}"
    for payment, amount in books.charged.items():
        outcomes = {
            "deployed": payment in books.deployed,
            "refunded": payment in books.refunded,
            "refund owed": payment in books.owed,
        }
        if payment in books.unconfirmed:
            assert not outcomes["refunded"] and not outcomes["refund owed"], payment
            continue
        assert sum(outcomes.values()) == 1, f"{payment} (fee {amount}): {outcomes}"
        if payment in books.refunded:
            assert books.refunded[payment][0] == amount, f"{payment} refunded a different amount"
        if payment in books.owed:
            assert books.owed[payment].amount == amount
    unpaid_refunds = (set(books.refunded) | set(books.owed)) - set(books.charged)
    assert not unpaid_refunds, f"refunds without a charge: {sorted(unpaid_refunds)}"
    invoices = system.ic.state_of(system.invoice_storage.id)
    for payment in set(books.deployed) - set(books.charged):
        seq = invoices.payment_seqs.get(payment)
        amount = None if seq is None else invoices.payments[seq].amount
        assert amount in (None, 0), f"{payment} deployed without its charge"
    assert_icp_books_balance(system)
    return books


def assert_icp_books_balance(system: System) -> None:
    """Replaying the block log gives every balance the ledger reports, and
    sum of balances + burned + fees = minted."""
    balances: Counter[Account] = Counter()
    minted = burned = fees = 0
    for block in all_blocks(system):
        fee = block.fee or 0
        fees += fee
        if block.kind == "mint":
            assert block.to is not None
            balances[block.to] += block.amount
            minted += block.amount
        elif block.kind == "burn":
            assert block.from_ is not None
            balances[block.from_] -= block.amount
            burned += block.amount
        elif block.kind == "approve":
            assert block.from_ is not None
            balances[block.from_] -= fee
        else:
            assert block.from_ is not None and block.to is not None
            balances[block.from_] -= block.amount + fee
            balances[block.to] += block.amount
    for account, balance in balances.items():
        assert balance >= 0, f"{account} went negative"
        assert system.icp_ledger.icrc1_balance_of(account) == balance, f"{account} disagrees"
    total = sum(balances.values())
    assert total + burned + fees == minted
    assert system.icp_ledger.icrc1_total_supply() == total


def drain_outbox(system: System) -> None:
    """With faults cleared, let the backend's timer deliver what it kept."""
    system.ic.faults.clear()
    system.ic.advance_time(seconds=61)
    assert system.backend.get_outbox_size() == 0


def assert_trail_complete(system: System, books: Books) -> None:
    """Every charge has its payment record and audit entries, matching what happened."""
    invoices, audit = system.invoice_storage, system.audit_storage
    actions_by_payment: defaultdict[str, set[AuditAction]] = defaultdict(set)
    cursor: int | None = None
    while True:
        page = audit.query(AuditQuery(descending=False, cursor=cursor, limit=1000))
        for entry in page.items:
            if entry.event.payment_id is not None:
                actions_by_payment[entry.event.payment_id].add(entry.action)
        cursor = page.next_cursor
        if cursor is None:
            break
    for payment, amount in books.charged.items():
        record = invoices.get_payment(payment)
        assert record is not None, f"no payment record for {payment}"
        assert record.amount == amount
        actions = actions_by_payment[payment]
        assert {AuditAction.DEPLOYMENT_INITIATED, AuditAction.PAYMENT_PROCESSED} <= actions
        if payment in books.deployed:
            assert record.status == Completed(record.status.block)  # type: ignore[union-attr]
            assert record.contract_id == books.deployed[payment]
            assert AuditAction.DEPLOYMENT_SUCCEEDED in actions
        else:
            assert AuditAction.DEPLOYMENT_FAILED in actions, f"{payment}: {actions}"
            assert record.refund_id is not None
            refund = invoices.get_refund(record.refund_id)
            assert refund is not None and refund.amount == amount
        if payment in books.refunded:
            assert record.status == Refunded(books.refunded[payment][1])
            assert AuditAction.REFUND_ISSUED in actions
        if payment in books.owed:
            assert type(record.status).__name__ in {"RefundPending", "RefundFailed"}
