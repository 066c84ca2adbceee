"""The paid flow step by step (spec: services §2), read back from where each step leaves its mark:
the result, the ICP ledger, the factory's index, AuditStorage, InvoiceStorage and the profile.

Also shows the real code's bugs are absent: B8 (a treasury as fee recipient breaks every paid
deployment), B15 (refund reasons lost in storage, audit ids colliding within a round, the backend
keeping its own unbounded copy of the trail).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from icto import E8S, Account, Err, Ok, Principal
from icto.backend import TOKEN_FACTORY, DeploymentFailed, DeploymentResult, UserStatus
from icto.backend.base import MAINTENANCE_DELAY_NS
from icto.ledger import AllowanceArgs, Block
from icto.storage import (
    AuditAction,
    AuditEntry,
    AuditQuery,
    Completed,
    Pending,
    RefundCompleted,
    Refunded,
    RefundPending,
    RefundWaiting,
)
from icto.system import System
from tests.backend.conftest import FEE, LEDGER_FEE, token_config
from tests.backend.invariants import all_blocks, assert_icp_books_balance
from tests.helpers import FAILED_AT_CREATE_CANISTER, failing_deployments, rejected

Fund = Callable[..., Principal]


def trail(system: System, user: Principal) -> list[AuditEntry]:
    """``user``'s audit entries, oldest first, read as ``user`` (a user may read their own)."""
    page = system.audit_storage.as_caller(user).query(AuditQuery(user=user, descending=False))
    assert page.next_cursor is None
    return list(page.items)


def allowance(system: System, user: Principal) -> int:
    args = AllowanceArgs(Account(user), Account(system.backend.id))
    return int(system.icp_ledger.icrc2_allowance(args).allowance)


def new_blocks(system: System, since: int) -> tuple[Block, ...]:
    return all_blocks(system)[since:]


def deploy(system: System, user: Principal, symbol: str = "ALP") -> object:
    return system.backend.as_caller(user).deploy_token(token_config(symbol))


def deployed(system: System, user: Principal, symbol: str = "ALP") -> DeploymentResult:
    result = deploy(system, user, symbol)
    assert isinstance(result, Ok), result
    assert isinstance(result.value, DeploymentResult)
    return result.value


def failed(system: System, user: Principal, symbol: str = "ALP") -> DeploymentFailed:
    result = deploy(system, user, symbol)
    assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed), result
    return result.error


# -- a successful deployment ------------------------------------------------------------------


def test_the_result_names_the_contract_the_service_the_payment_and_the_fee(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice)
    blocks_before = system.icp_ledger.get_transaction_count()
    result = deployed(system, alice)
    factory_state = system.ic.state_of(system.token_factory.id)
    ticket = factory_state.tickets[(system.backend.id, result.payment_id)]
    assert (ticket.contract, ticket.owner) == (result.canister_id, alice)
    assert factory_state.index.info(result.canister_id) is not None
    assert result.service == TOKEN_FACTORY
    assert result.fee_paid == system.backend.get_service_fee(TOKEN_FACTORY) == FEE
    assert result.block_index == blocks_before, "the charge is the one block this call added"
    charge = system.icp_ledger.get_blocks(result.block_index, 1)[0]
    assert (charge.kind, charge.amount, charge.fee) == ("transfer_from", FEE, LEDGER_FEE)
    assert charge.from_ == Account(alice)
    assert charge.spender == Account(system.backend.id)
    assert system.invoice_storage.get_payment(result.payment_id) is not None


def test_a_user_naming_themselves_as_owner_deploys_as_any_user_does(
    system: System, fund: Fund, alice: Principal
) -> None:
    """Only a launchpad sale may name another owner; naming oneself is the ordinary paid flow."""
    fund(alice)
    result = system.backend.as_caller(alice).deploy_token(token_config(), alice).unwrap()
    assert result.fee_paid == FEE
    info = system.token_factory.as_caller(alice).get_contract_info(result.canister_id)
    assert info.owner == alice


def test_the_user_pays_fee_and_ledger_fee_and_the_recipient_receives_the_fee(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice)
    backend = system.backend.id
    user_before, backend_before = system.icp_balance(alice), system.icp_balance(backend)
    supply_before = system.icp_ledger.icrc1_total_supply()
    blocks_before = system.icp_ledger.get_transaction_count()
    deployed(system, alice)
    assert system.icp_balance(alice) == user_before - FEE - LEDGER_FEE
    assert system.icp_balance(backend) == backend_before + FEE
    assert system.icp_ledger.icrc1_total_supply() == supply_before - LEDGER_FEE
    assert len(new_blocks(system, blocks_before)) == 1
    assert_icp_books_balance(system)


def test_the_charge_consumes_fee_plus_ledger_fee_of_the_approval(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice, approve=3 * E8S)
    assert allowance(system, alice) == 3 * E8S
    deployed(system, alice)
    assert allowance(system, alice) == 3 * E8S - FEE - LEDGER_FEE
    deployed(system, alice, "BET")
    assert allowance(system, alice) == 3 * E8S - 2 * (FEE + LEDGER_FEE)


def test_the_contract_is_indexed_for_the_user_who_owns_and_controls_it(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice)
    result = deployed(system, alice)
    mine = system.token_factory.as_caller(alice).get_my_contracts(alice)
    assert [entry.info.id for entry in mine.items] == [result.canister_id]
    assert mine.total == 1
    (entry,) = mine.items
    assert entry.info.owner == alice
    assert "creator" in entry.roles
    backends = system.token_factory.get_my_contracts(system.backend.id)
    assert backends.items == () and backends.total == 0, "the deployer is not the owner"
    controllers = set(system.ic.controllers_of(result.canister_id))
    assert controllers == {system.token_factory.id, alice}
    token = system.ic.actor(result.canister_id, alice)
    assert token.icrc1_minting_account() == Account(alice)


def test_the_audit_trail_records_initiated_processed_succeeded_linked_to_the_first_entry(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice)
    result = deployed(system, alice)
    entries = trail(system, alice)
    assert [e.action for e in entries] == [
        AuditAction.DEPLOYMENT_INITIATED,
        AuditAction.PAYMENT_PROCESSED,
        AuditAction.DEPLOYMENT_SUCCEEDED,
    ]
    initiated, processed, succeeded = entries
    for entry in entries:
        assert entry.writer == system.backend.id
        assert entry.event.user == alice
        assert entry.event.payment_id == result.payment_id
        assert entry.event.service == TOKEN_FACTORY
    assert initiated.event.ref_id is None
    assert processed.event.ref_id == initiated.id
    assert succeeded.event.ref_id == initiated.id
    assert succeeded.event.contract_id == result.canister_id
    assert dict(processed.event.details)["block"] == str(result.block_index)
    by_contract = system.audit_storage.query(AuditQuery(contract_id=result.canister_id))
    assert [e.id for e in by_contract.items] == [succeeded.id]


def test_audit_ids_within_one_message_are_distinct_and_in_order(
    system: System, fund: Fund, alice: Principal
) -> None:
    """B15 (ids colliding within a round) is absent: the storage numbers entries itself."""
    fund(alice)
    deployed(system, alice)
    deployed(system, alice, "BET")
    entries = trail(system, alice)
    assert len({e.timestamp for e in entries}) == 1, "all in one round of IC time"
    ids = [e.id for e in entries]
    assert ids == list(range(ids[0], ids[0] + len(ids)))


def test_a_user_reads_only_their_own_trail(
    system: System, fund: Fund, alice: Principal, bob: Principal
) -> None:
    fund(alice)
    deployed(system, alice)
    refusal = rejected(
        lambda: system.audit_storage.as_caller(bob).query(AuditQuery(user=alice))
    )
    assert refusal.error_code == "IC0406"
    assert trail(system, bob) == []


def test_the_invoice_record_is_completed_at_the_charge_block_then_linked_to_the_contract(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice)
    result = deployed(system, alice)
    record = system.invoice_storage.as_caller(alice).get_payment(result.payment_id)
    assert record is not None
    assert (record.user, record.service, record.amount) == (alice, TOKEN_FACTORY, FEE)
    assert record.token == system.icp_ledger.id
    assert record.status == Completed(result.block_index)
    assert record.contract_id == result.canister_id
    assert record.refund_id is None
    assert [change.status for change in record.history] == [
        Pending(), Completed(result.block_index)
    ]
    initiated, processed, succeeded = trail(system, alice)
    assert [change.audit_id for change in record.history] == [initiated.id, processed.id]
    assert record.audit_ids == (initiated.id, processed.id, succeeded.id)
    mine = system.invoice_storage.as_caller(alice).get_payments_by_user(alice)
    assert [r.id for r in mine.items] == [result.payment_id]


def test_the_profile_counts_deployments_and_what_was_paid(
    system: System, fund: Fund, alice: Principal
) -> None:
    assert system.backend.as_caller(alice).get_my_profile() is None
    fund(alice)
    deployed(system, alice)
    profile = system.backend.as_caller(alice).get_my_profile()
    assert profile is not None
    assert profile.user == alice and profile.status == UserStatus.ACTIVE
    assert profile.first_seen == system.ic.time
    assert (profile.deployments, profile.total_paid, profile.total_refunded) == (1, FEE, 0)
    deployed(system, alice, "BET")
    profile = system.backend.as_caller(alice).get_my_profile()
    assert (profile.deployments, profile.total_paid, profile.total_refunded) == (2, 2 * FEE, 0)
    counters = system.backend.get_counters()
    assert (counters.deployments, counters.payments, counters.fees_collected) == (2, 2, 2 * FEE)
    assert (counters.failed_deployments, counters.refunds) == (0, 0)


# -- a failed deployment ----------------------------------------------------------------------


def test_a_failed_deployment_is_refunded_in_full_the_backend_paying_the_refund_ledger_fee(
    system: System, fund: Fund, alice: Principal
) -> None:
    start = 10 * E8S
    fund(alice, balance=start)
    failing_deployments(system)
    backend_before = system.icp_balance(system.backend.id)
    blocks_before = system.icp_ledger.get_transaction_count()
    failure = failed(system, alice)
    assert failure.reason == FAILED_AT_CREATE_CANISTER
    assert failure.refund is not None and not failure.pending
    assert failure.refund.status == "Completed" and failure.refund.amount == FEE
    # approve fee + transfer_from fee: all the user ever loses on a failed deployment
    assert system.icp_balance(alice) == start - 2 * LEDGER_FEE
    assert system.icp_balance(system.backend.id) == backend_before - LEDGER_FEE
    charge, refund = new_blocks(system, blocks_before)
    assert (charge.kind, charge.amount, charge.from_) == ("transfer_from", FEE, Account(alice))
    assert (refund.kind, refund.amount, refund.fee) == ("transfer", FEE, LEDGER_FEE)
    assert (refund.from_, refund.to) == (Account(system.backend.id), Account(alice))
    assert failure.refund.block == blocks_before + 1
    assert system.token_factory.as_caller(alice).get_my_contracts(alice).total == 0
    assert system.token_factory.get_stats().contracts == 0
    profile = system.backend.as_caller(alice).get_my_profile()
    assert (profile.deployments, profile.total_paid, profile.total_refunded) == (0, FEE, FEE)
    counters = system.backend.get_counters()
    assert (counters.failed_deployments, counters.refunds, counters.refunded) == (1, 1, FEE)
    assert system.backend.admin_list_pending_refunds() == ()
    assert_icp_books_balance(system)


def test_a_failed_deployment_leaves_deployment_failed_and_refund_issued_in_the_trail(
    system: System, fund: Fund, alice: Principal
) -> None:
    fund(alice)
    failing_deployments(system)
    failure = failed(system, alice)
    entries = trail(system, alice)
    assert [e.action for e in entries] == [
        AuditAction.DEPLOYMENT_INITIATED,
        AuditAction.PAYMENT_PROCESSED,
        AuditAction.DEPLOYMENT_FAILED,
        AuditAction.REFUND_ISSUED,
    ]
    initiated, _, deployment_failed, issued = entries
    assert all(e.event.payment_id == failure.payment_id for e in entries)
    assert deployment_failed.event.ref_id == initiated.id
    assert dict(deployment_failed.event.details)["reason"] == failure.reason
    assert failure.refund is not None
    assert dict(issued.event.details)["refund_id"] == failure.refund.refund_id
    assert dict(issued.event.details)["amount"] == str(FEE)


def test_a_failed_deployment_ends_refunded_in_the_invoice_with_the_reason_kept(
    system: System, fund: Fund, alice: Principal
) -> None:
    """B15 (refund reasons lost in storage) is absent."""
    fund(alice)
    failing_deployments(system)
    failure = failed(system, alice)
    assert failure.refund is not None
    refund_block = failure.refund.block
    assert refund_block is not None
    record = system.invoice_storage.as_caller(alice).get_payment(failure.payment_id)
    assert record.status == Refunded(refund_block)
    assert record.contract_id is None
    charge_block = record.history[1].status.block
    assert [c.status for c in record.history] == [
        Pending(), Completed(charge_block), RefundPending(), Refunded(refund_block)
    ]
    assert record.refund_id == failure.refund.refund_id
    refund = system.invoice_storage.as_caller(alice).get_refund(record.refund_id)
    assert (refund.payment_id, refund.user, refund.amount) == (failure.payment_id, alice, FEE)
    assert refund.reason == failure.reason
    assert refund.status == RefundCompleted(refund_block)
    assert [c.status for c in refund.history] == [RefundWaiting(), RefundCompleted(refund_block)]
    assert refund.attempts == 1


# -- where fees go, and free services -----------------------------------------------------------


def test_a_treasury_receives_the_fees_while_refunds_come_from_the_backend(
    system: System, fund: Fund, alice: Principal
) -> None:
    """B8 (a fee recipient other than the backend breaks every paid deployment) is absent."""
    treasury = Account(Principal.from_name("treasury"), b"\x07" * 32)
    system.backend.admin_set_config("payment.fee_recipient", treasury).unwrap()
    system.faucet(system.backend.id, 2 * E8S)  # the float must cover fee + ledger fee to refund
    fund(alice)
    backend_before = system.icp_balance(system.backend.id)
    deployed(system, alice)
    assert system.icp_balance(treasury) == FEE
    assert system.icp_balance(system.backend.id) == backend_before
    failing_deployments(system)
    alice_before = system.icp_balance(alice)
    failure = failed(system, alice, "BET")
    assert failure.refund is not None and failure.refund.status == "Completed"
    assert system.icp_balance(treasury) == 2 * FEE, "the treasury keeps what it received"
    assert system.icp_balance(system.backend.id) == backend_before - FEE - LEDGER_FEE
    assert system.icp_balance(alice) == alice_before - LEDGER_FEE
    refund = system.icp_ledger.get_blocks(failure.refund.block, 1)[0]
    assert refund.from_ == Account(system.backend.id) and refund.to == Account(alice)
    assert_icp_books_balance(system)


def test_a_free_service_deploys_without_any_ledger_call_or_approval(
    system: System, alice: Principal
) -> None:
    system.backend.admin_set_config(f"{TOKEN_FACTORY}.fee", 0).unwrap()
    blocks_before = system.icp_ledger.get_transaction_count()
    system.ic.trace.clear()
    result = deployed(system, alice)  # alice holds no ICP and approved nothing
    assert (result.fee_paid, result.block_index) == (0, None)
    assert system.icp_ledger.get_transaction_count() == blocks_before
    assert system.ic.trace.calls(canister=system.icp_ledger.id, caller=system.backend.id) == []
    record = system.invoice_storage.get_payment(result.payment_id)
    assert (record.amount, record.status, record.contract_id) == (
        0, Completed(None), result.canister_id
    )
    assert system.backend.as_caller(alice).get_my_profile().total_paid == 0


def test_a_failed_free_deployment_owes_no_refund(system: System, alice: Principal) -> None:
    system.backend.admin_set_config(f"{TOKEN_FACTORY}.fee", 0).unwrap()
    failing_deployments(system)
    blocks_before = system.icp_ledger.get_transaction_count()
    failure = failed(system, alice)
    assert failure.refund is None and not failure.pending
    assert system.icp_ledger.get_transaction_count() == blocks_before
    assert system.backend.admin_list_pending_refunds() == ()
    assert AuditAction.DEPLOYMENT_FAILED in [e.action for e in trail(system, alice)]


# -- the backend stays lean -----------------------------------------------------------------------


@pytest.mark.parametrize("deployments", [1, 4])
def test_the_backend_keeps_no_trail_of_its_own(
    system: System, fund: Fund, alice: Principal, bob: Principal, deployments: int
) -> None:
    """B15 (the backend duplicating every audit entry locally, without bound) is absent: after
    successful and refunded deployments its state differs only in profiles, ids and counters."""
    fund(alice)
    fund(bob)
    before = system.ic.state_of(system.backend.id)
    for n in range(deployments):
        deployed(system, alice if n % 2 else bob, f"OK{n}")
    failing_deployments(system)
    failed(system, alice, "BAD")
    system.ic.advance_time(seconds=MAINTENANCE_DELAY_NS // 10**9)  # the refund's watch ends
    after = system.ic.state_of(system.backend.id)
    assert set(after.profiles.keys()) == {alice, bob}
    assert attrs.evolve(
        after, profiles=before.profiles, next_id=before.next_id, counters=before.counters
    ) == before
