"""Refunds that fail, wait or are retried (spec: services §2 step 10 and its guarantee): a refund
the backend cannot pay stays owed, listed and retryable; it is paid at most once and never more
than the fee.

Also shows the real code's B7 is absent: a trap in the factory after the fee was committed leaves
a deployed contract (found by the ticket) or a refund, never neither; a refund that failed once can
be retried; refunds are counted once; the list of refunds owed is admin-only.
"""

from __future__ import annotations

import pytest

from icto import E8S, IC, Account, Err, Ok, Principal
from icto.backend import DeploymentFailed, RefundOutcome, UnknownRefund
from icto.backend.types import SetupArgs
from icto.factory.deploy import deploy_factory
from icto.ic.router import MANAGEMENT_ID
from icto.storage import (
    AuditAction,
    AuditQuery,
    RefundAttemptFailed,
    RefundCompleted,
    Refunded,
    RefundFailed,
    RefundPending,
    RefundWaiting,
)
from icto.system import System, deploy_system
from icto.token.factory import TokenFactory
from tests.backend.conftest import FEE, LEDGER_FEE, token_config
from tests.backend.invariants import (
    all_blocks,
    assert_money_never_lost,
    assert_trail_complete,
    read_books,
)
from tests.helpers import failing_deployments, rejected

ALICE = Principal.from_name("alice")
START = 10 * E8S


def platform(ic: IC, *, refund_float: int | None = None, failing: bool = True) -> System:
    """The platform with alice funded (10 ICP, 5 approved) and, by default, deployments
    ``failing`` at ``create_canister`` so that hers fails after the charge."""
    system = deploy_system(ic) if refund_float is None else deploy_system(ic, refund_float=0)
    system.faucet(ALICE, START)
    system.approve_backend(ALICE, 5 * E8S)
    if failing:
        failing_deployments(system)
    return system


def failed_deployment(system: System) -> DeploymentFailed:
    result = system.backend.as_caller(ALICE).deploy_token(token_config())
    assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed), result
    return result.error


def refunds_to_alice(system: System) -> list[int]:
    """Amounts the backend ever transferred to alice (ground truth: the ledger)."""
    return [
        block.amount for block in all_blocks(system)
        if block.kind == "transfer" and block.from_ == Account(system.backend.id)
        and block.to == Account(ALICE)
    ]  # fmt: skip


def actions(system: System, payment_id: str) -> list[AuditAction]:
    page = system.audit_storage.query(AuditQuery(user=ALICE, descending=False))
    return [e.action for e in page.items if e.event.payment_id == payment_id]


def refund_of(outcome: DeploymentFailed) -> RefundOutcome:
    assert outcome.refund is not None, outcome
    return outcome.refund


# -- a refund the backend cannot pay ---------------------------------------------------------------


def test_without_a_float_the_refund_fails_and_stays_owed(ic: IC) -> None:
    """The fee landed in the backend's account, but not the refund's ledger fee."""
    system = platform(ic, refund_float=0)
    failure = failed_deployment(system)
    refund = refund_of(failure)
    assert refund.status == "Failed" and refund.block is None and refund.amount == FEE
    assert refund.reason is not None and "InsufficientFunds" in refund.reason
    assert system.icp_balance(system.backend.id) == FEE
    assert system.icp_balance(ALICE) == START - FEE - 2 * LEDGER_FEE
    (owed,) = system.backend.admin_list_pending_refunds()
    assert (owed.refund_id, owed.payment_id) == (refund.refund_id, failure.payment_id)
    assert owed.user == ALICE
    assert (owed.amount, owed.token, owed.attempts) == (FEE, system.icp_ledger.id, 1)
    assert owed.last_error == refund.reason
    assert owed.reason == failure.reason
    payment = system.invoice_storage.get_payment(failure.payment_id)
    assert payment.status == RefundFailed(refund.reason)
    stored = system.invoice_storage.get_refund(refund.refund_id)
    assert stored.status == RefundAttemptFailed(refund.reason) and stored.attempts == 1
    assert actions(system, failure.payment_id)[-2:] == [
        AuditAction.DEPLOYMENT_FAILED, AuditAction.REFUND_FAILED
    ]
    counters = system.backend.get_counters()
    assert (counters.refunds, counters.failed_refunds, counters.refunded) == (0, 1, 0)
    assert refunds_to_alice(system) == []
    assert_money_never_lost(system)


def test_once_funded_an_admin_retry_completes_the_refund(ic: IC) -> None:
    system = platform(ic, refund_float=0)
    failure = failed_deployment(system)
    refund_id = refund_of(failure).refund_id
    system.faucet(system.backend.id, LEDGER_FEE)  # exactly what the refund lacked
    outcome = system.backend.admin_retry_refund(refund_id)
    assert isinstance(outcome, Ok), outcome
    block = outcome.value.block
    assert outcome.value == RefundOutcome(refund_id, FEE, "Completed", block=block)
    assert system.icp_balance(ALICE) == START - 2 * LEDGER_FEE
    assert system.icp_balance(system.backend.id) == 0
    assert system.backend.admin_list_pending_refunds() == ()
    payment = system.invoice_storage.get_payment(failure.payment_id)
    assert payment.status == Refunded(block)
    stored = system.invoice_storage.get_refund(refund_id)
    assert stored.status == RefundCompleted(block)
    assert stored.attempts == 2, "one failed attempt, one that completed"
    assert [type(c.status) for c in stored.history] == [
        RefundWaiting, RefundAttemptFailed, RefundWaiting, RefundCompleted
    ]
    assert [type(c.status).__name__ for c in payment.history][-4:] == [
        "RefundPending", "RefundFailed", "RefundPending", "Refunded"
    ]
    assert actions(system, failure.payment_id)[-2:] == [
        AuditAction.REFUND_FAILED, AuditAction.REFUND_ISSUED
    ]
    counters = system.backend.get_counters()
    assert (counters.refunds, counters.failed_refunds, counters.refunded) == (1, 1, FEE)
    assert system.backend.as_caller(ALICE).get_my_profile().total_refunded == FEE
    assert refunds_to_alice(system) == [FEE]
    assert_trail_complete(system, assert_money_never_lost(system))


def test_a_retry_that_fails_again_stays_owed_and_counts_the_attempt(ic: IC) -> None:
    system = platform(ic, refund_float=0)
    refund_id = refund_of(failed_deployment(system)).refund_id
    outcome = system.backend.admin_retry_refund(refund_id).unwrap()
    assert outcome.status == "Failed"
    (owed,) = system.backend.admin_list_pending_refunds()
    assert owed.attempts == 2
    assert system.invoice_storage.get_refund(refund_id).attempts == 2
    system.faucet(system.backend.id, LEDGER_FEE)
    assert system.backend.admin_retry_refund(refund_id).unwrap().status == "Completed"
    assert refunds_to_alice(system) == [FEE]


def test_a_treasury_elsewhere_leaves_refunds_to_the_backend_float(ic: IC) -> None:
    """Fees go to the treasury; the 1 ICP float cannot pay back a 1 ICP fee plus its ledger fee,
    so the refund is owed (not lost) until the operator funds the backend."""
    system = platform(ic)
    treasury = Account(Principal.from_name("treasury"))
    system.backend.admin_set_config("payment.fee_recipient", treasury).unwrap()
    failure = failed_deployment(system)
    assert refund_of(failure).status == "Failed"
    assert system.icp_balance(treasury) == FEE
    system.faucet(system.backend.id, LEDGER_FEE)
    assert system.backend.admin_retry_refund(refund_of(failure).refund_id).unwrap().status == (
        "Completed"
    )
    assert system.icp_balance(system.backend.id) == 0
    assert refunds_to_alice(system) == [FEE]


# -- at most once, never more than the fee ---------------------------------------------------------


def test_retrying_an_unknown_refund_is_refused_and_changes_nothing(ic: IC) -> None:
    system = platform(ic, refund_float=0)
    failed_deployment(system)
    before = ic.state_of(system.backend.id), system.icp_ledger.get_transaction_count()
    assert system.backend.admin_retry_refund("ref-unknown") == Err(UnknownRefund("ref-unknown"))
    assert (ic.state_of(system.backend.id), system.icp_ledger.get_transaction_count()) == before


def test_a_completed_refund_is_never_paid_again(ic: IC) -> None:
    system = platform(ic)
    refund = refund_of(failed_deployment(system))
    assert refund.status == "Completed"
    before = ic.state_of(system.backend.id), system.icp_ledger.get_transaction_count()
    for _ in range(2):
        assert system.backend.admin_retry_refund(refund.refund_id) == Err(
            UnknownRefund(refund.refund_id)
        )
    assert (ic.state_of(system.backend.id), system.icp_ledger.get_transaction_count()) == before
    assert refunds_to_alice(system) == [FEE]


def test_a_refund_retried_to_completion_is_never_paid_again(ic: IC) -> None:
    system = platform(ic, refund_float=0)
    refund_id = refund_of(failed_deployment(system)).refund_id
    system.faucet(system.backend.id, 5 * E8S)
    assert system.backend.admin_retry_refund(refund_id).unwrap().status == "Completed"
    assert system.backend.admin_retry_refund(refund_id) == Err(UnknownRefund(refund_id))
    assert system.backend.admin_retry_refund(refund_id) == Err(UnknownRefund(refund_id))
    assert refunds_to_alice(system) == [FEE], "a rich backend still refunds only the fee"
    assert system.backend.get_counters().refunds == 1
    assert system.icp_balance(ALICE) == START - 2 * LEDGER_FEE


def test_every_failed_deployment_is_refunded_once_for_its_own_fee(ic: IC) -> None:
    system = platform(ic)
    system.faucet(system.backend.id, 5 * E8S)
    fees = [E8S, 2 * E8S + 1, 1]
    for n, fee in enumerate(fees):
        system.backend.admin_set_config("token_factory.fee", fee).unwrap()
        result = system.backend.as_caller(ALICE).deploy_token(token_config(f"T{n}"))
        assert isinstance(result, Err) and refund_of(result.error).amount == fee
    assert refunds_to_alice(system) == fees
    books = assert_money_never_lost(system)
    assert sorted(amount for amount, _ in books.refunded.values()) == sorted(fees)
    assert system.backend.get_counters().refunds == len(fees)


# -- auto-refund off -------------------------------------------------------------------------------


def test_with_auto_refund_off_a_refund_waits_for_an_admin(ic: IC) -> None:
    system = platform(ic)
    system.backend.admin_set_config("payment.auto_refund", False).unwrap()
    failure = failed_deployment(system)
    refund = refund_of(failure)
    assert (refund.status, refund.amount, refund.block) == ("AwaitingApproval", FEE, None)
    (owed,) = system.backend.admin_list_pending_refunds()
    assert (owed.refund_id, owed.attempts, owed.last_error) == (refund.refund_id, 0, None)
    assert system.invoice_storage.get_refund(refund.refund_id).status == RefundWaiting()
    assert system.invoice_storage.get_payment(failure.payment_id).status == RefundPending()
    ic.advance_time(days=1)  # no timer pays it
    assert system.icp_balance(ALICE) == START - FEE - 2 * LEDGER_FEE
    assert refunds_to_alice(system) == []
    assert len(system.backend.admin_list_pending_refunds()) == 1
    outcome = system.backend.admin_retry_refund(refund.refund_id).unwrap()
    assert outcome.status == "Completed"
    assert system.icp_balance(ALICE) == START - 2 * LEDGER_FEE
    assert system.backend.admin_list_pending_refunds() == ()
    assert system.invoice_storage.get_payment(failure.payment_id).status == Refunded(outcome.block)
    assert_trail_complete(system, assert_money_never_lost(system))


# -- the ledger refusing the refund ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["reject", "trap"])
def test_a_refund_the_ledger_rejects_stays_retryable(ic: IC, kind: str) -> None:
    system = platform(ic)
    inject = ic.faults.reject if kind == "reject" else ic.faults.trap
    rule = inject(canister=system.icp_ledger.id, method="icrc1_transfer")
    failure = failed_deployment(system)
    assert rule.fired == 1
    refund = refund_of(failure)
    assert refund.status == "Failed"
    assert refunds_to_alice(system) == []
    (owed,) = system.backend.admin_list_pending_refunds()
    assert owed.refund_id == refund.refund_id and owed.last_error == refund.reason
    assert system.invoice_storage.get_payment(failure.payment_id).status == RefundFailed(
        refund.reason
    )
    assert system.backend.admin_retry_refund(refund.refund_id).unwrap().status == "Completed"
    assert refunds_to_alice(system) == [FEE]
    assert_trail_complete(system, assert_money_never_lost(system))


# -- only admins -----------------------------------------------------------------------------------


def test_only_admins_list_or_retry_refunds_not_even_the_refunds_user(ic: IC) -> None:
    """B7's unauthenticated ``adminGetRefundRequests`` is absent."""
    system = platform(ic, refund_float=0)
    refund_id = refund_of(failed_deployment(system)).refund_id
    system.faucet(system.backend.id, LEDGER_FEE)
    as_alice = system.backend.as_caller(ALICE)
    assert rejected(as_alice.admin_list_pending_refunds).error_code == "IC0406"
    denied = system.backend.get_counters().access_denied
    assert rejected(lambda: as_alice.admin_retry_refund(refund_id)).error_code == "IC0406"
    assert system.backend.get_counters().access_denied == denied + 1
    assert refunds_to_alice(system) == []
    assert len(system.backend.admin_list_pending_refunds()) == 1


# -- B7: a trap in the factory after the fee was committed -----------------------------------------


def exactly_one_outcome(system: System, payment_id: str) -> str:
    """``"deployed"`` or ``"refunded"``, from the ledger and the factory's registry."""
    books = assert_money_never_lost(system)
    assert payment_id in books.charged
    outcome = "deployed" if payment_id in books.deployed else "refunded"
    assert (payment_id in books.deployed) != (payment_id in books.refunded)
    return outcome


def test_a_trap_after_the_factory_committed_the_contract_yields_that_contract(ic: IC) -> None:
    system = platform(ic, failing=False)
    rule = ic.faults.trap(canister=system.token_factory.id, method="create_contract")
    result = system.backend.as_caller(ALICE).deploy_token(token_config())
    assert rule.fired == 1
    assert isinstance(result, Ok), result
    assert exactly_one_outcome(system, result.value.payment_id) == "deployed"
    mine = system.token_factory.as_caller(ALICE).get_my_contracts(ALICE)
    assert [entry.info.id for entry in mine.items] == [result.value.canister_id]
    assert system.invoice_storage.get_payment(result.value.payment_id).contract_id == (
        result.value.canister_id
    )
    assert actions(system, result.value.payment_id)[-1] == AuditAction.DEPLOYMENT_SUCCEEDED
    assert refunds_to_alice(system) == []


def test_a_trap_before_the_factory_committed_anything_yields_a_refund(ic: IC) -> None:
    system = platform(ic)  # nothing is registered before create_canister fails: the trap undoes all
    rule = ic.faults.trap(canister=system.token_factory.id, method="create_contract")
    failure = failed_deployment(system)
    assert rule.fired == 1
    assert refund_of(failure).status == "Completed"
    assert exactly_one_outcome(system, failure.payment_id) == "refunded"
    assert actions(system, failure.payment_id)[-2:] == [
        AuditAction.DEPLOYMENT_FAILED, AuditAction.REFUND_ISSUED
    ]


@pytest.mark.parametrize("kind", ["reject", "trap"])
@pytest.mark.parametrize("method", ["create_canister", "install_code"])
def test_a_fault_inside_the_factory_deployment_yields_a_refund(
    ic: IC, kind: str, method: str
) -> None:
    system = platform(ic, failing=False)
    inject = ic.faults.reject if kind == "reject" else ic.faults.trap
    rule = inject(canister=MANAGEMENT_ID, method=method)
    failure = failed_deployment(system)
    assert rule.fired == 1
    assert refund_of(failure).status == "Completed"
    assert exactly_one_outcome(system, failure.payment_id) == "refunded"
    assert system.token_factory.as_caller(ALICE).get_my_contracts(ALICE).total == 0


@pytest.mark.parametrize("failing", [False, True], ids=["committed", "nothing-committed"])
def test_a_trap_whose_ticket_cannot_be_looked_up_is_settled_by_the_timer(
    ic: IC, failing: bool
) -> None:
    system = platform(ic, failing=failing)
    ic.faults.trap(canister=system.token_factory.id, method="create_contract")
    lookups = ic.faults.reject(canister=system.token_factory.id, method="get_deployment", times=3)
    result = system.backend.as_caller(ALICE).deploy_token(token_config())
    assert lookups.fired == 3
    assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed), result
    assert result.error.pending and result.error.refund is None
    payment_id = result.error.payment_id
    books = read_books(system)  # held: neither refunded nor owed while the outcome is unknown
    assert books.unconfirmed == {payment_id}
    assert payment_id in books.charged
    assert payment_id not in books.refunded and payment_id not in books.owed
    ic.advance_time(seconds=61)
    books = read_books(system)
    assert not books.unconfirmed
    expected = "refunded" if failing else "deployed"
    assert exactly_one_outcome(system, payment_id) == expected
    assert_trail_complete(system, assert_money_never_lost(system))


def test_an_unconfirmed_deployment_is_settled_with_the_factory_it_was_sent_to(ic: IC) -> None:
    """The factory registers the contract but its reply is lost and its ticket cannot be looked
    up; meanwhile the token service is pointed at a new factory. The timer asks the factory the
    deployment went to, finds the contract, and refunds nothing (the new factory knows nothing
    of it, so asking it would have refunded a deployed contract)."""
    system = platform(ic, failing=False)
    ic.faults.trap(canister=system.token_factory.id, method="create_contract")
    ic.faults.reject(canister=system.token_factory.id, method="get_deployment", times=3)
    result = system.backend.as_caller(ALICE).deploy_token(token_config())
    assert isinstance(result, Err) and result.error.pending, result
    new = deploy_factory(
        ic, TokenFactory, admins=(system.backend.id,), controllers=(system.operator,),
        caller=system.operator,
    )  # fmt: skip
    state = ic.state_of(system.backend.id)
    system.backend.setup_microservices(
        SetupArgs(
            audit_storage=state.audit_storage, invoice_storage=state.invoice_storage,
            factories=(("token_factory", new.id),),
        )
    ).unwrap()
    ic.advance_time(seconds=61)
    assert exactly_one_outcome(system, result.error.payment_id) == "deployed"
    assert refunds_to_alice(system) == []
