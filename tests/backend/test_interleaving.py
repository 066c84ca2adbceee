"""The paid flow when other messages run at its awaits, as they may on the IC.

The ICP ledger and the storages are replaced by honest subclasses that, once, run another
message while the backend awaits them (the ledger's ``icrc1_fee`` is declared an update for it):
the same user's next deployment, an admin's change, an admin's refund. The flow re-checks the
caller's standing after its last await, so nothing it would have refused is charged; the outbox
keeps every record; a refund being created is not paid by anyone else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

from icto import E8S, IC, Account, Err, Ok, World
from icto.backend import (
    Backend,
    ConfigError,
    DeploymentFailed,
    MaintenanceMode,
    PaymentFailed,
    RateLimited,
    ServiceDisabled,
    SetupArgs,
    UserStatus,
    UserSuspended,
)
from icto.backend.state import SENDING_GIVEN_UP_NS
from icto.backend.types import RefundInProgress
from icto.ic.canister import update
from icto.ic.errors import Reject
from icto.ledger import Ledger, LedgerInit, TransferArgs, TransferFromArgs
from icto.ledger.types import ApproveArgs
from icto.storage import AuditAction, AuditQuery
from icto.storage.audit import AuditStorage
from icto.storage.deploy import deploy_storage
from icto.storage.invoice import InvoiceStorage
from icto.storage.types import AuditEvent, RefundCompleted, RefundDraft
from icto.system import System, deploy_system
from tests.backend.conftest import FEE, LEDGER_FEE, token_config
from tests.backend.invariants import assert_money_never_lost
from tests.helpers import Relay, failing_deployments

HOOKS: dict[str, Callable[[Any], Any]] = {}
"""What runs, once, while the backend awaits the named method."""


DOWN: set[str] = set()
"""The storages that are down (``"audit"``)."""


def _interleave(method: str, canister: Any) -> None:
    hook = HOOKS.pop(method, None)
    if hook is not None:
        hook(canister)


class HookingLedger(Ledger):
    VERSION = "1.0.1"

    @update
    def icrc1_fee(self) -> int:
        _interleave("icrc1_fee", self)
        return int(self.state.config.fee)

    def icrc2_transfer_from(self, args: TransferFromArgs) -> Any:
        _interleave("icrc2_transfer_from", self)
        return super().icrc2_transfer_from(args)

    icrc2_transfer_from.__icto_kind__ = (  # type: ignore[attr-defined]
        Ledger.icrc2_transfer_from.__icto_kind__  # type: ignore[attr-defined]
    )

    def icrc1_transfer(self, args: TransferArgs) -> Any:
        _interleave("icrc1_transfer", self)
        return super().icrc1_transfer(args)

    icrc1_transfer.__icto_kind__ = (  # type: ignore[attr-defined]
        Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]
    )

    @update
    def icrc1_supported_standards(self) -> Any:  # an update here, so that its hook may call
        _interleave("icrc1_supported_standards", self)
        return super().icrc1_supported_standards()

    @update
    def get_transaction_count(self) -> int:  # an update here, so that its hook may call
        _interleave("get_transaction_count", self)
        return super().get_transaction_count()


class FlakyAudit(AuditStorage):
    """Once a hook has run during ``log_event``, the storage is down until ``DOWN`` clears."""

    VERSION = "1.0.1"

    @update
    def log_event(self, event: AuditEvent) -> int:
        _interleave("during_log_event", self)
        _interleave(f"log_event:{event.action.name}", self)
        if "log_event" in HOOKS:
            DOWN.add("audit")
            _interleave("log_event", self)
        if "audit" in DOWN:
            raise Reject("the audit storage is unavailable")
        return super().log_event(event)


class HookingInvoices(InvoiceStorage):
    VERSION = "1.0.1"

    @update
    def create_refund(self, draft: RefundDraft) -> Any:
        refund = super().create_refund(draft)
        _interleave("create_refund", self)
        return refund


class Platform:
    """The platform with the hooking ledger and storages, a relay canister as a user (funded,
    the backend approved), and each storage an admin of the backend (so a hook can act as an
    admin)."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        system, operator = self.system, self.system.operator
        self.ic.upgrade_canister(system.icp_ledger.id, HookingLedger, caller=operator)
        self.ic.upgrade_canister(system.audit_storage.id, FlakyAudit, caller=operator)
        self.ic.upgrade_canister(system.invoice_storage.id, HookingInvoices, caller=operator)
        self.user = self.ic.deploy(Relay)
        system.faucet(self.user.id, 100 * E8S)
        approval = ApproveArgs(spender=Account(system.backend.id), amount=50 * E8S)
        self.user.relay(system.icp_ledger.id, "icrc2_approve", (approval,)).unwrap()
        for storage in (system.audit_storage.id, system.invoice_storage.id):
            system.backend.add_admin(storage).unwrap()
        self.ready: World = self.ic.snapshot()

    def deploy(self, symbol: str = "TST") -> Any:
        """The relay's paid token deployment."""
        return self.user.relay(self.system.backend.id, "deploy_token", (token_config(symbol),))

    def balance(self) -> int:
        return self.system.icp_balance(self.user.id)


@functools.cache
def _built() -> Platform:
    return Platform()


@pytest.fixture
def world() -> Iterator[Platform]:
    built = _built()
    built.ic.restore(built.ready)
    built.ic.faults.clear()  # faults are test settings, which a restore keeps
    HOOKS.clear()
    DOWN.clear()
    yield built
    built.ic.faults.clear()
    HOOKS.clear()
    DOWN.clear()


def test_deployments_started_at_each_others_awaits_keep_to_the_daily_limit(
    world: Platform,
) -> None:
    """Each deployment starts the next while the backend asks the ledger its fee: six in all,
    nested. With a limit of two a day, two are made and charged; the others are refused
    before anything is charged."""
    world.system.backend.admin_set_config("user.max_deployments_per_day", 2).unwrap()
    answers: list[Any] = []
    started = [0]

    def another(ledger: Any) -> None:
        started[0] += 1
        if started[0] < 5:
            HOOKS["icrc1_fee"] = another
        config = token_config(f"N{started[0]}")
        answers.append(
            ledger.call(world.user.id, "relay", world.system.backend.id, "deploy_token", (config,))
        )

    HOOKS["icrc1_fee"] = another
    before = world.balance()
    first = world.deploy("FIRST")
    results = [first, *answers]
    made = [result for result in results if isinstance(result, Ok)]
    refused = [result.error for result in results if isinstance(result, Err)]
    assert len(made) == 2 and len(refused) == 4
    assert all(isinstance(error, RateLimited) for error in refused), refused
    fee = world.system.backend.get_service_fee("token_factory")
    assert world.balance() == before - 2 * (fee + 10_000)
    assert_money_never_lost(world.system)


CHANGES: dict[str, tuple[Callable[[Platform], Any], type]] = {
    "maintenance": (
        lambda w: w.system.backend.admin_set_config("system.maintenance_mode", True),
        MaintenanceMode,
    ),
    "service disabled": (
        lambda w: w.system.backend.admin_set_config("token_factory.enabled", False),
        ServiceDisabled,
    ),
    "user suspended": (
        lambda w: w.system.backend.admin_set_user_status(w.user.id, UserStatus.SUSPENDED),
        UserSuspended,
    ),
}


@pytest.mark.parametrize(("change", "refusal"), CHANGES.values(), ids=CHANGES)
def test_a_change_landing_while_the_fee_is_asked_refuses_before_charging(
    world: Platform, change: Callable[[Platform], Any], refusal: type
) -> None:
    HOOKS["icrc1_fee"] = lambda ledger: change(world)
    before = world.balance()
    result = world.deploy()
    assert isinstance(result, Err) and isinstance(result.error, refusal), result
    assert world.balance() == before
    assert_money_never_lost(world.system)


@pytest.mark.parametrize("await_", ["icrc1_fee", "icrc2_transfer_from"])
def test_a_factory_paused_after_the_capacity_check_fails_the_deployment_and_refunds_it(
    world: Platform, await_: str
) -> None:
    """The operator pauses the factory while the backend awaits the ledger, after it found the
    factory running: ``create_contract`` answers ``FactoryPaused``, and the fee is refunded in
    full (the user is out only the charge's ledger fee)."""
    system = world.system
    HOOKS[await_] = lambda ledger: system.token_factory.pause_factory()
    before = world.balance()
    result = world.deploy()
    assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed), result
    failure = result.error
    assert (failure.reason, failure.pending) == ("FactoryPaused()", False)
    assert failure.refund is not None
    assert (failure.refund.status, failure.refund.amount) == ("Completed", FEE)
    assert world.balance() == before - LEDGER_FEE
    assert system.token_factory.get_stats().paused
    entries = world.ic.state_of(system.audit_storage.id).entries
    assert [entry.action for entry in entries if entry.event.payment_id == failure.payment_id] == [
        AuditAction.DEPLOYMENT_INITIATED, AuditAction.PAYMENT_PROCESSED,
        AuditAction.DEPLOYMENT_FAILED, AuditAction.REFUND_ISSUED,
    ]  # fmt: skip
    refund = system.invoice_storage.get_refund(failure.refund.refund_id)
    assert (refund.reason, refund.amount) == ("FactoryPaused()", FEE)
    assert system.backend.admin_list_pending_refunds() == ()
    assert_money_never_lost(system)


def test_a_backend_removed_by_the_factory_during_the_flow_refunds_the_fee_it_took(
    world: Platform,
) -> None:
    """An admin removes the backend from the factory's whitelist while the backend awaits the
    ledger's ``icrc2_transfer_from``: ``create_contract`` refuses it, and the factory still
    answers the backend's own ticket ("no contract"), so the fee is refunded at once rather than
    left unconfirmed for good."""
    system = world.system
    HOOKS["icrc2_transfer_from"] = lambda ledger: system.token_factory.remove_backend(
        system.backend.id
    )
    before = world.balance()
    result = world.deploy()
    assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed), result
    failure = result.error
    assert not failure.pending and failure.refund is not None
    assert "deploy via the backend" in failure.reason
    assert (failure.refund.status, failure.refund.amount) == ("Completed", FEE)
    assert world.balance() == before - LEDGER_FEE
    status = system.backend.get_system_status()
    assert (status.unconfirmed_deployments, status.pending_refunds) == (0, 0)
    assert_money_never_lost(system)


def test_a_suspension_landing_while_the_trail_is_written_fails_the_payment_uncharged(
    world: Platform,
) -> None:
    """The attempt is recorded and the trail opened (two storage writes, two awaits) before
    the fee is taken; a suspension landing during them is seen right before the transfer: the
    payment is recorded as failed, and nothing is charged."""
    backend = world.system.backend
    HOOKS["during_log_event"] = lambda storage: storage.call(
        backend.id, "admin_set_user_status", world.user.id, UserStatus.SUSPENDED
    )
    before = world.balance()
    result = world.deploy()
    assert isinstance(result, Err) and isinstance(result.error, PaymentFailed), result
    assert "UserSuspended" in result.error.reason
    assert world.balance() == before
    payment = world.system.invoice_storage.get_payment(result.error.payment_id)
    assert type(payment.status).__name__ == "Failed"
    assert_money_never_lost(world.system)


def test_a_record_queued_by_another_message_during_a_failed_write_is_kept(
    world: Platform,
) -> None:
    """While the backend writes ``DeploymentInitiated``, an admin's config change runs and its
    own audit write fails first (the storage is down); then the backend's fails too. Both
    records wait in the outbox, each once, and both reach the storage when it is back."""
    backend = world.system.backend
    HOOKS["log_event"] = lambda storage: storage.call(
        backend.id, "admin_set_config", "token_factory.fee", 2 * E8S
    )
    assert isinstance(world.deploy(), Ok)
    DOWN.clear()
    backend.flush_outbox()
    assert backend.get_outbox_size() == 0
    entries = world.ic.state_of(world.system.audit_storage.id).entries
    actions = [entry.action for entry in entries]
    assert actions.count(AuditAction.CONFIG_CHANGED) == 1
    assert actions.count(AuditAction.DEPLOYMENT_INITIATED) == 1
    assert actions.count(AuditAction.DEPLOYMENT_SUCCEEDED) == 1


def test_a_flush_meanwhile_does_not_deliver_a_record_a_second_time(world: Platform) -> None:
    """An admin's config change waits in the outbox (the audit storage refused it once). While
    the backend delivers it, another flush runs (here the storage, an admin, asks for one): it
    leaves the queue to the flush delivering its head, so the trail holds the change once."""
    backend = world.system.backend
    world.ic.faults.reject(canister=world.system.audit_storage.id, method="log_event", times=1)
    backend.admin_set_config("token_factory.fee", 2 * E8S).unwrap()
    assert backend.get_outbox_size() == 1
    HOOKS["during_log_event"] = lambda storage: storage.call(backend.id, "flush_outbox")
    assert backend.flush_outbox() == 0
    entries = world.ic.state_of(world.system.audit_storage.id).entries
    assert [entry.event.action for entry in entries].count(AuditAction.CONFIG_CHANGED) == 1


def test_a_refund_being_recorded_is_not_paid_by_an_admin_meanwhile(world: Platform) -> None:
    """The management canister refuses the contract's canister, so the deployment fails after
    the fee was taken and a refund is opened. While the backend records it in InvoiceStorage, an
    admin asks to pay it: the refund is this message's to pay, so the admin is told it is in
    progress, and the user is refunded once."""
    backend = world.system.backend
    retries: list[Any] = []
    HOOKS["create_refund"] = lambda storage, *_: retries.append(
        storage.call(backend.id, "admin_retry_refund", storage_refund_id(world))
    )
    before = world.balance()
    with failing_deployments(world.system):
        result = world.deploy()
    assert isinstance(result, Err) and result.error.refund is not None, result
    assert result.error.refund.status == "Completed"
    assert len(retries) == 1 and isinstance(retries[0], Err), retries
    assert world.balance() == before - 10_000  # the fee came back; transfer_from's ledger fee not
    assert backend.admin_list_pending_refunds() == ()
    assert_money_never_lost(world.system)


def storage_refund_id(world: Platform) -> str:
    """The refund the backend is recording now (the only one it owes)."""
    (owed,) = world.ic.state_of(world.system.backend.id).pending_refunds
    return str(owed)


def test_a_refund_retried_while_its_failed_attempt_is_recorded_waits_its_turn(
    world: Platform,
) -> None:
    """The first refund attempt fails; while the backend records that, an admin asks to pay the
    refund again: it is still this message's, so the admin is told it is in progress, and
    InvoiceStorage gets the failed attempt in order (a retry crossing it would have had both
    status changes refused). Released, the refund is the timer's: it pays it a minute later."""
    backend = world.system.backend
    world.ic.faults.reject(canister=world.system.icp_ledger.id, method="icrc1_transfer", times=1)
    retries: list[Any] = []
    HOOKS["log_event:REFUND_FAILED"] = lambda storage: retries.append(
        storage.call(backend.id, "admin_retry_refund", storage_refund_id(world))
    )
    before = world.balance()
    with failing_deployments(world.system):
        result = world.deploy()
    assert isinstance(result, Err) and result.error.refund.status == "Failed", result
    assert len(retries) == 1 and isinstance(retries[0], Err), retries
    assert backend.admin_list_undelivered() == ()
    refund_id = result.error.refund.refund_id
    refund = world.system.invoice_storage.get_refund(refund_id)
    assert (type(refund.status).__name__, refund.attempts) == ("RefundAttemptFailed", 1)
    world.ic.advance_time(seconds=61)
    assert backend.admin_list_pending_refunds() == ()
    assert type(world.system.invoice_storage.get_refund(refund_id).status).__name__ == (
        "RefundCompleted"
    )
    assert world.balance() == before - 10_000
    assert_money_never_lost(world.system)


# -- a hold that lapses while its message still waits ---------------------------------------------


def refund_awaiting_approval(world: Platform) -> str:
    """A failed deployment's refund, owed and waiting for an admin (auto-refund off); the
    ledger may call the backend as an admin."""
    backend = world.system.backend
    backend.admin_set_config("payment.auto_refund", False).unwrap()
    backend.add_admin(world.system.icp_ledger.id).unwrap()
    with failing_deployments(world.system):
        result = world.deploy()
    assert isinstance(result, Err) and result.error.refund.status == "AwaitingApproval", result
    return str(result.error.refund.refund_id)


def refund_blocks(world: Platform, refund_id: str) -> list[int]:
    payment = world.system.invoice_storage.get_refund(refund_id).payment_id
    ledger = world.system.icp_ledger
    blocks = ledger.get_blocks(0, ledger.get_transaction_count())
    return [i for i, block in enumerate(blocks) if block.memo == b"refund:" + payment.encode()]


def lapse_then_retry(world: Platform, answers: list[Any], refund_id: str) -> Callable[[Any], None]:
    """A hook: the waiting message's hold lapses, and an admin retries the refund meanwhile."""

    def hook(ledger: Any) -> None:
        world.ic.advance_time(nanos=SENDING_GIVEN_UP_NS + 1)
        answers.append(ledger.call(world.system.backend.id, "admin_retry_refund", refund_id))

    return hook


def test_a_retry_that_takes_over_a_lapsed_hold_pays_the_refund_once(world: Platform) -> None:
    """Retry A waits on the ledger past its hold's lapse; retry B takes the refund up and pays
    it with the same request. A's request is then a ``Duplicate`` of B's: both report the one
    block, and the refund is recorded once."""
    refund_id = refund_awaiting_approval(world)
    backend = world.system.backend
    answers: list[Any] = []
    HOOKS["icrc1_transfer"] = lapse_then_retry(world, answers, refund_id)
    first = backend.admin_retry_refund(refund_id).unwrap()
    (second,) = answers
    (block,) = refund_blocks(world, refund_id)
    assert (first.status, first.block) == (second.unwrap().status, second.unwrap().block)
    assert (first.status, first.block) == ("Completed", block)
    assert backend.admin_list_pending_refunds() == ()
    assert backend.get_counters().refunds == 1 and backend.admin_list_undelivered() == ()
    assert not world.ic.state_of(backend.id).in_flight
    assert_money_never_lost(world.system)


def test_two_attempts_past_the_ledgers_window_never_send_two_requests(world: Platform) -> None:
    """Past the ledger's 24-hour window an attempt reads the ledger's log and, the request never
    having run, plans a new one. Retry A waits on the log past its hold's lapse while retry B
    plans and pays; A then finds the refund settled, sends no request of its own and reports it
    completed."""
    refund_id = refund_awaiting_approval(world)
    backend = world.system.backend
    world.ic.faults.reject(canister=world.system.icp_ledger.id, method="icrc1_transfer")
    assert backend.admin_retry_refund(refund_id).unwrap().status == "Failed"
    world.ic.advance_time(hours=25)
    answers: list[Any] = []
    HOOKS["get_transaction_count"] = lapse_then_retry(world, answers, refund_id)
    first = backend.admin_retry_refund(refund_id).unwrap()
    (second,) = answers
    (block,) = refund_blocks(world, refund_id)
    assert (second.unwrap().status, second.unwrap().block) == ("Completed", block)
    assert (first.status, first.block) == ("Completed", None)  # B's, whose block A never saw
    assert backend.admin_list_pending_refunds() == ()
    assert backend.get_counters().refunds == 1 and backend.admin_list_undelivered() == ()
    assert_money_never_lost(world.system)


@pytest.mark.parametrize("held_as", ["a map (1.1)", "a set of keys (1.0)"])
def test_an_upgrade_drops_every_hold_so_what_was_held_is_settled_at_once(
    world: Platform, held_as: str
) -> None:
    """A refund held by a message that can no longer be awaiting (none awaits across an
    upgrade) is free once the backend is upgraded: the retry pays it at once (the hold used to
    last its ten minutes, the refund answering ``RefundInProgress`` meanwhile)."""
    refund_id = refund_awaiting_approval(world)
    backend, ic = world.system.backend, world.ic
    world_now = ic.snapshot()
    record = world_now.canisters[backend.id]
    holds: Any = frozenset({refund_id}) if held_as.endswith("(1.0)") else (
        record.state.in_flight.set(refund_id, ic.time)
    )  # fmt: skip
    held = attrs.evolve(record.state, in_flight=holds)
    canisters = world_now.canisters.set(backend.id, record._replace(state=held))
    ic.restore(world_now._replace(canisters=canisters))
    if held_as.endswith("(1.1)"):
        assert backend.admin_retry_refund(refund_id) == Err(RefundInProgress(refund_id))
    ic.upgrade_canister(backend.id, Backend, caller=world.system.operator)
    assert dict(ic.state_of(backend.id).in_flight) == {}
    assert backend.admin_retry_refund(refund_id).unwrap().status == "Completed"


def test_an_attempt_whose_hold_lapsed_records_its_payment_when_nobody_holds_it(
    world: Platform,
) -> None:
    """Retry O waits on the ledger past its hold's lapse; retry I takes the refund up, fails
    and lets go. O's transfer then pays: with nobody holding the refund, O records it, as a
    retry of I's failed attempt, so the trail says it is completed."""
    refund_id = refund_awaiting_approval(world)
    backend = world.system.backend
    answers: list[Any] = []

    def hook(ledger: Any) -> None:
        world.ic.advance_time(nanos=SENDING_GIVEN_UP_NS + 1)
        world.ic.faults.reject(canister=world.system.icp_ledger.id, method="icrc1_transfer")
        answers.append(ledger.call(backend.id, "admin_retry_refund", refund_id))

    HOOKS["icrc1_transfer"] = hook
    first = backend.admin_retry_refund(refund_id).unwrap()
    ((failed,),) = [(answer.unwrap().status,) for answer in answers]
    (block,) = refund_blocks(world, refund_id)
    assert (failed, first.status, first.block) == ("Failed", "Completed", block)
    assert backend.admin_list_pending_refunds() == ()
    assert world.system.invoice_storage.get_refund(refund_id).status == RefundCompleted(block)
    assert backend.get_counters().refunds == 1 and backend.admin_list_undelivered() == ()
    assert not world.ic.state_of(backend.id).in_flight


def test_a_deployment_whose_hold_lapsed_while_its_trail_was_written_is_settled_once(
    world: Platform,
) -> None:
    """The deploying message charged and recorded its deployment in flight, then waits on the
    audit storage past its hold's lapse; meanwhile an admin's flush settles the deployment (the
    factory has no contract for it: refunded). The deploying message then finds it settled and
    deploys nothing: one outcome, the refund."""
    system = world.system

    def lapse_then_flush(storage: Any) -> None:
        world.ic.advance_time(nanos=SENDING_GIVEN_UP_NS + 1)
        storage.call(system.backend.id, "flush_outbox")

    HOOKS["log_event:PAYMENT_PROCESSED"] = lapse_then_flush
    before = world.balance()
    result = world.deploy()
    assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed), result
    assert "another message settled it" in result.error.reason
    assert system.token_factory.get_stats().contracts == 0
    assert world.balance() == before - LEDGER_FEE
    state = world.ic.state_of(system.backend.id)
    assert not state.unconfirmed and not state.in_flight and not state.pending_refunds
    assert_money_never_lost(system)


@pytest.mark.parametrize("await_", ["icrc2_transfer_from", "during_log_event"])
def test_no_storage_is_moved_while_a_deployment_writes_its_trail(
    world: Platform, await_: str
) -> None:
    """While a deployment awaits the ledger's pull (or a write of its trail), it carries the
    id of its ``DeploymentInitiated`` entry and its payment record in the storages in use: an
    admin's move to a fresh audit storage then is refused. Once the deployment is done, the
    move goes through, and its whole trail is in the storage it began in, nothing set aside."""
    system = world.system
    fresh = deploy_storage(world.ic, AuditStorage, admins=[system.backend.id],
                           caller=system.operator)  # fmt: skip
    move = SetupArgs(
        audit_storage=fresh.id, invoice_storage=system.invoice_storage.id,
        factories=tuple(world.ic.state_of(system.backend.id).factories.items()),
    )  # fmt: skip
    answers: list[Any] = []
    HOOKS[await_] = lambda _: answers.append(system.backend.setup_microservices(move))
    result = world.deploy()
    (refused,) = answers
    assert isinstance(refused.error, ConfigError)
    assert "messages awaiting calls (deployments writing their trail)" in refused.error.reason
    payment = result.unwrap().payment_id
    trail = [e.action for e in system.audit_storage.query(AuditQuery(descending=False)).items
             if e.event.payment_id == payment]  # fmt: skip
    assert trail == [AuditAction.DEPLOYMENT_INITIATED, AuditAction.PAYMENT_PROCESSED,
                     AuditAction.DEPLOYMENT_SUCCEEDED]  # fmt: skip
    system.backend.setup_microservices(move).unwrap()
    assert system.backend.admin_list_undelivered() == ()


def test_a_payment_token_set_by_another_message_while_the_ledger_is_asked_is_audited_once(
    world: Platform,
) -> None:
    """Setting ``payment.token`` asks the new ledger for its standards; a second admin's
    identical change landing meanwhile is the one recorded: the first, resumed, finds the value
    already set and writes no second ``ConfigChanged`` entry."""
    backend = world.system.backend
    other = world.ic.deploy(HookingLedger, LedgerInit(
        name="Other", symbol="OTH", transfer_fee=1, minting_account=Account(world.user.id)
    ))  # fmt: skip
    backend.add_admin(other.id).unwrap()
    HOOKS["icrc1_supported_standards"] = lambda ledger: ledger.call(
        backend.id, "admin_set_config", "payment.token", ledger.id
    )
    changes = AuditQuery(action=AuditAction.CONFIG_CHANGED)
    before = len(world.system.audit_storage.query(changes).items)
    assert backend.admin_set_config("payment.token", other.id) == Ok(None)
    assert dict(backend.get_config())["payment.token"] == other.id
    assert len(world.system.audit_storage.query(changes).items) == before + 1

