"""The paid flow when a reply does not say what happened.

A ledger that commits the charge and then fails (a platform ``Token`` awaits its factory after
booking a transfer) rejects a transfer that happened: the backend settles the charge by its
identical request and the ledger's log, and never records as failed a fee it took. A deploying
message that traps after it charged leaves its deployment to the backend's timer, which settles
it once the message's hold lapses. Each test names the rule it holds to.
"""

from __future__ import annotations

from typing import Any

import pytest

from icto import E8S, Account, Err, Ok, Principal
from icto.backend import PaymentFailed
from icto.backend.base import MAINTENANCE_DELAY_NS
from icto.backend.state import SENDING_GIVEN_UP_NS
from icto.ic.canister import Trap
from icto.ic.context import MANAGEMENT_ID
from icto.ic.errors import CallRejected
from icto.ledger import ApproveArgs, Ledger, TransferArgs, TransferFromArgs
from icto.storage import AuditAction, AuditQuery, Completed, Failed, Pending, Refunded
from icto.system import System
from icto.token import TokenConfig
from tests.backend.conftest import FEE, LEDGER_FEE, token_config
from tests.backend.invariants import (
    all_blocks,
    assert_money_never_lost,
    assert_trail_complete,
    read_books,
)

ALICE, BOB = Principal.from_name("alice"), Principal.from_name("bob")


class CommitsThenTrapsOnCharge(Ledger):
    """An ICP ledger whose next ``icrc2_transfer_from`` books the transfer, awaits a call (as a
    platform token telling its factory about a new holder does) and then traps: the fee is
    taken, and the backend is told its call was rejected."""

    VERSION = "1.0.1"
    traps_left = 0

    def icrc2_transfer_from(self, args: TransferFromArgs) -> Any:
        result = super().icrc2_transfer_from(args)
        if CommitsThenTrapsOnCharge.traps_left and isinstance(result, Ok):
            CommitsThenTrapsOnCharge.traps_left -= 1
            self.call(MANAGEMENT_ID, "raw_rand")
            raise Trap("the ledger failed after booking the transfer")
        return result

    icrc2_transfer_from.__icto_kind__ = (  # type: ignore[attr-defined]
        Ledger.icrc2_transfer_from.__icto_kind__  # type: ignore[attr-defined]
    )


def committing_ledger(system: System) -> None:
    """The ICP ledger books the next charge and then fails."""
    system.ic.upgrade_canister(
        system.icp_ledger.id, CommitsThenTrapsOnCharge, caller=system.operator
    )
    CommitsThenTrapsOnCharge.traps_left = 1


def charges_of(system: System, payment_id: str) -> list[int]:
    """The amounts the ICP ledger's blocks took for ``payment_id``'s charge."""
    memo = payment_id.encode()
    return [b.amount for b in all_blocks(system) if b.kind == "transfer_from" and b.memo == memo]


def trail(system: System, payment_id: str) -> list[str]:
    """The audit actions of a payment, in order (a custom one by its name)."""
    entries = system.audit_storage.query(AuditQuery(descending=False, limit=100)).items
    return [
        entry.event.custom or entry.action.value for entry in entries
        if entry.event.payment_id == payment_id
    ]  # fmt: skip


# -- 1. a charge the ledger took and then failed is never recorded as failed ---------------------


def test_a_platform_token_that_fails_after_taking_the_fee_charges_once_and_deploys(
    system: System, fund: Any
) -> None:
    """The payment token is a platform token: its ``icrc2_transfer_from`` commits, then awaits
    its factory, and a trap there rejects a transfer that happened. The identical request is
    answered ``Duplicate`` of the first: the deployment goes on with that block, and the payer
    paid once (it used to be recorded ``PaymentFailed`` with the fee kept)."""
    fund(ALICE)
    backend = system.backend
    pay = backend.as_caller(ALICE).deploy_token(TokenConfig(name="Pay", symbol="PAY"))
    token_id = pay.unwrap().canister_id
    token = system.ic.actor(token_id, ALICE)  # alice's default account mints
    token.icrc1_transfer(TransferArgs(to=Account(BOB), amount=10 * E8S)).unwrap()
    backend.admin_set_config("payment.token", token_id).unwrap()
    token.as_caller(BOB).icrc2_approve(
        ApproveArgs(spender=Account(backend.id), amount=5 * E8S)
    ).unwrap()
    fee = token.icrc1_fee()
    with system.ic.faults.trap(canister=token_id, method="icrc2_transfer_from") as rule:
        result = backend.as_caller(BOB).deploy_token(token_config("BET", "bob"))
    assert rule.fired == 1
    deployed = result.unwrap()
    blocks = token.get_blocks(0, token.get_transaction_count())
    memo = deployed.payment_id.encode()
    (block,) = [index for index, b in enumerate(blocks) if b.memo == memo]
    assert deployed.block_index == block
    assert token.icrc1_balance_of(Account(BOB)) == 10 * E8S - fee - (FEE + fee)
    payment = system.invoice_storage.get_payment(deployed.payment_id)
    assert (payment.status, payment.contract_id) == (Completed(block), deployed.canister_id)
    state = system.ic.state_of(backend.id)
    assert not state.unconfirmed and not state.in_flight and not state.pending_refunds


def test_a_charge_rejected_twice_is_found_in_the_ledgers_log_and_the_deployment_goes_on(
    system: System, fund: Any
) -> None:
    """The ledger books the charge and fails; the identical request is rejected before it runs.
    The ledger's log shows the charge's block: the deployment goes on, and the trail says the
    block was found there."""
    fund(ALICE)
    committing_ledger(system)
    system.ic.faults.reject(canister=system.icp_ledger.id, method="icrc2_transfer_from")
    deployed = system.backend.as_caller(ALICE).deploy_token(token_config()).unwrap()
    assert charges_of(system, deployed.payment_id) == [FEE]
    assert system.icp_balance(ALICE) == 10 * E8S - 2 * LEDGER_FEE - FEE
    (processed,) = system.audit_storage.query(
        AuditQuery(action=AuditAction.PAYMENT_PROCESSED)
    ).items
    assert dict(processed.event.details)["found"].startswith("in the ledger's log")
    assert_trail_complete(system, assert_money_never_lost(system))


def test_a_charge_left_in_doubt_is_kept_unconfirmed_and_refunded_once_found_taken(
    system: System, fund: Any
) -> None:
    """The ledger books the charge and fails, the identical request is rejected, and the
    ledger's log cannot be read: whether the fee was taken is unknown. The payment is not
    recorded as failed: it stays ``Pending``, kept unconfirmed (``PaymentFailed(pending=True)``,
    a ``PaymentUnconfirmed`` entry), and nothing is deployed. The timer reads the log, finds
    the fee taken and refunds it."""
    fund(ALICE)
    ic, ledger = system.ic, system.icp_ledger.id
    committing_ledger(system)
    ic.faults.reject(canister=ledger, method="icrc2_transfer_from")
    ic.faults.reject(canister=ledger, method="get_transaction_count")
    result = system.backend.as_caller(ALICE).deploy_token(token_config())
    assert isinstance(result, Err) and isinstance(result.error, PaymentFailed), result
    payment_id = result.error.payment_id
    assert result.error.pending
    assert set(ic.state_of(system.backend.id).unconfirmed) == {payment_id}
    assert system.invoice_storage.get_payment(payment_id).status == Pending()
    assert trail(system, payment_id) == ["DeploymentInitiated", "PaymentUnconfirmed"]
    assert charges_of(system, payment_id) == [FEE]
    assert_money_never_lost(system, unconfirmed_allowed=True)
    ic.advance_time(nanos=MAINTENANCE_DELAY_NS)
    books = assert_money_never_lost(system)
    assert payment_id in books.refunded and payment_id not in books.deployed
    assert system.icp_balance(ALICE) == 10 * E8S - 2 * LEDGER_FEE
    status = system.invoice_storage.get_payment(payment_id).status
    assert status == Refunded(books.refunded[payment_id][1])
    assert trail(system, payment_id) == [
        "DeploymentInitiated", "PaymentUnconfirmed", "PaymentProcessed", "DeploymentFailed",
        "RefundIssued",
    ]  # fmt: skip
    assert_trail_complete(system, books)


def test_a_charge_left_in_doubt_that_never_ran_fails_once_the_log_says_so(
    system: System, fund: Any
) -> None:
    """The ledger rejects the charge twice before it runs and its log cannot be read: the
    payment stays ``Pending``. Once the timer reads the log and finds no block, the payment
    fails; nothing was taken."""
    fund(ALICE)
    ic, ledger = system.ic, system.icp_ledger.id
    ic.faults.reject(canister=ledger, method="icrc2_transfer_from", times=2)
    ic.faults.reject(canister=ledger, method="get_transaction_count")
    result = system.backend.as_caller(ALICE).deploy_token(token_config())
    assert isinstance(result, Err) and isinstance(result.error, PaymentFailed), result
    assert result.error.pending
    payment_id = result.error.payment_id
    ic.advance_time(nanos=MAINTENANCE_DELAY_NS)
    status = system.invoice_storage.get_payment(payment_id).status
    assert isinstance(status, Failed) and "never ran" in status.reason
    assert trail(system, payment_id) == [
        "DeploymentInitiated", "PaymentUnconfirmed", "PaymentFailed",
    ]  # fmt: skip
    assert charges_of(system, payment_id) == []
    assert system.icp_balance(ALICE) == 10 * E8S - LEDGER_FEE
    assert not ic.state_of(system.backend.id).unconfirmed
    assert_money_never_lost(system)


def test_a_charge_the_ledger_rejects_once_is_taken_by_its_identical_request(
    system: System, fund: Any
) -> None:
    """A reject before the ledger ran the charge: the identical request takes the fee, once."""
    fund(ALICE)
    system.ic.faults.reject(canister=system.icp_ledger.id, method="icrc2_transfer_from")
    deployed = system.backend.as_caller(ALICE).deploy_token(token_config()).unwrap()
    assert charges_of(system, deployed.payment_id) == [FEE]
    assert_trail_complete(system, assert_money_never_lost(system))


# -- 2. a deploying message that traps leaves its deployment to the timer --------------------------


@pytest.mark.parametrize("kind", ["reject", "trap"])
def test_a_deploying_message_that_traps_after_a_lost_reply_leaves_the_fee_to_the_timer(
    system: System, fund: Any, kind: str
) -> None:
    """The factory's reply is lost (a reject: nothing deployed; a trap: the contract was
    registered), its ticket cannot be looked up, and then the backend's own message traps at
    its end, rolling back its last segment. The deployment was recorded in flight before
    ``create_contract`` and stays so: held by the trapped message until the hold lapses, then
    settled by the timer, refunded or linked (the charge used to be forgotten: paid, no
    contract, no refund)."""
    fund(ALICE)
    ic, backend, factory = system.ic, system.backend, system.token_factory.id
    inject = ic.faults.reject if kind == "reject" else ic.faults.trap
    inject(canister=factory, method="create_contract")
    ic.faults.reject(canister=factory, method="get_deployment", times=3)
    ic.faults.trap(canister=backend.id, method="deploy_token")
    with pytest.raises(CallRejected):
        backend.as_caller(ALICE).deploy_token(token_config())
    (payment_id,) = read_books(system).charged
    assert set(ic.state_of(backend.id).unconfirmed) == {payment_id}
    ic.advance_time(nanos=MAINTENANCE_DELAY_NS)  # still held by the message that trapped
    assert set(ic.state_of(backend.id).unconfirmed) == {payment_id}
    assert backend.admin_list_pending_refunds() == ()
    ic.advance_time(nanos=SENDING_GIVEN_UP_NS)
    books = assert_money_never_lost(system)
    assert_trail_complete(system, books)
    payment = system.invoice_storage.get_payment(payment_id)
    if kind == "reject":
        assert payment_id in books.refunded
        assert system.icp_balance(ALICE) == 10 * E8S - 2 * LEDGER_FEE
    else:
        assert payment.contract_id == books.deployed[payment_id]
        assert backend.get_counters().deployments == 1
    state = ic.state_of(backend.id)
    assert not state.unconfirmed and not state.in_flight

