"""The platform under attack: a second backend, a reinstalled backend, long and hostile reject
messages, records a storage refuses, careless operators, overlapping admin retries and hostile
text. Each test names the rule it holds to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from icto import E8S, IC, Account, Err, Ok, Principal
from icto.backend import TOKEN_FACTORY, Backend, BackendInit, DeploymentFailed, SetupArgs
from icto.backend.base import MAINTENANCE_DELAY_NS, MAX_BACKOFF_NS
from icto.backend.state import SENDING_GIVEN_UP_NS
from icto.backend.types import RefundInProgress, ServiceUnavailable, UserStatus
from icto.factory.base import (
    DEFAULT_CYCLES_PER_CONTRACT,
    DEPLOYMENT_MESSAGES_RESERVE,
    MAX_CYCLES_PER_CONTRACT,
)
from icto.factory.deploy import DEFAULT_DEPLOYMENTS
from icto.factory.types import InsufficientCycles, InvalidConfig
from icto.ic.canister import Trap
from icto.ic.context import MANAGEMENT_ID
from icto.ic.errors import CallRejected, RejectCode
from icto.ic.world import MAX_TIME
from icto.ledger import ApproveArgs, Ledger, TransferArgs
from icto.storage import AuditAction, AuditQuery, PaymentDraft, RefundCompleted
from icto.storage.types import MAX_TEXT
from icto.system import System, deploy_system
from icto.validation import TRUNCATED, NotIdentified
from tests.backend.conftest import FEE, LEDGER_FEE, token_config
from tests.backend.invariants import all_blocks, assert_money_never_lost
from tests.helpers import failing_deployments, rejected

ALICE, BOB, CAROL = (Principal.from_name(name) for name in ("alice", "bob", "carol"))
Fund = Callable[..., Principal]


def deploy_for(system: System, user: Principal, symbol: str, backend: Any = None) -> Principal:
    gateway = system.backend if backend is None else backend
    result = gateway.as_caller(user).deploy_token(token_config(symbol, user_name(user)))
    return result.unwrap().canister_id  # type: ignore[no-any-return]


def user_name(user: Principal) -> str:
    return {ALICE: "alice", BOB: "bob", CAROL: "carol"}[user]


def owner_of(system: System, contract: Principal) -> Principal:
    info = system.token_factory.get_contract_info(contract)
    assert info is not None
    return info.owner  # type: ignore[no-any-return]


# -- 1. tickets cannot collide ---------------------------------------------------------------------


def second_backend(system: System) -> Any:
    """Another backend on the same factory and storages, set up as an operator would."""
    ic, operator = system.ic, system.operator
    other = ic.deploy(
        Backend, BackendInit(payment_token=system.icp_ledger.id), controllers=(operator,),
        caller=operator,
    ).as_caller(operator)  # fmt: skip
    for storage in (system.audit_storage, system.invoice_storage):
        storage.set_admins((system.backend.id, other.id)).unwrap()
    system.token_factory.set_admins((system.backend.id, other.id)).unwrap()
    setup = SetupArgs(
        audit_storage=system.audit_storage.id, invoice_storage=system.invoice_storage.id,
        factories=((TOKEN_FACTORY, system.token_factory.id),),
    )  # fmt: skip
    other.setup_microservices(setup).unwrap()
    system.faucet(other.id, E8S)
    return other


def test_two_backends_on_one_factory_give_every_user_their_own_contract(
    system: System, fund: Fund
) -> None:
    other = second_backend(system)
    fund(ALICE)
    system.faucet(BOB, 10 * E8S)
    approval = ApproveArgs(spender=Account(other.id), amount=5 * E8S)
    system.icp_ledger.as_caller(BOB).icrc2_approve(approval).unwrap()
    alices = system.backend.as_caller(ALICE).deploy_token(token_config("ALP", "alice")).unwrap()
    bobs = other.as_caller(BOB).deploy_token(token_config("BOB", "bob")).unwrap()
    assert alices.payment_id != bobs.payment_id
    assert alices.canister_id != bobs.canister_id
    assert owner_of(system, bobs.canister_id) == BOB
    for result, user in ((alices, ALICE), (bobs, BOB)):
        record = system.invoice_storage.get_payment(result.payment_id)
        assert (record.user, record.contract_id) == (user, result.canister_id)
    for gateway in (system.backend, other):
        assert gateway.get_outbox_size() == 0
        assert gateway.admin_list_undelivered() == ()


def test_a_reinstalled_backend_never_hands_out_a_contract_of_its_earlier_life(
    system: System, fund: Fund
) -> None:
    fund(ALICE)
    fund(BOB)
    first = system.backend.as_caller(ALICE).deploy_token(token_config("ALP", "alice")).unwrap()
    system.ic.install_code(
        system.backend.id, Backend, BackendInit(payment_token=system.icp_ledger.id), "reinstall",
        system.operator,
    )  # fmt: skip
    setup = SetupArgs(
        audit_storage=system.audit_storage.id, invoice_storage=system.invoice_storage.id,
        factories=((TOKEN_FACTORY, system.token_factory.id),),
    )  # fmt: skip
    system.backend.setup_microservices(setup).unwrap()
    second = system.backend.as_caller(BOB).deploy_token(token_config("BOB", "bob")).unwrap()
    assert second.payment_id != first.payment_id
    assert second.canister_id != first.canister_id
    assert owner_of(system, second.canister_id) == BOB
    assert system.invoice_storage.get_payment(first.payment_id).user == ALICE
    assert system.invoice_storage.get_payment(second.payment_id).user == BOB
    assert system.backend.admin_list_undelivered() == ()


# -- 2. the storage outbox never jams --------------------------------------------------------------


@pytest.mark.parametrize(
    "message", ["x" * 5000, "evil\x00\u202e\ud800" + "y" * 2000], ids=["long", "hostile"]
)
def test_a_long_or_hostile_reject_message_is_stored_cut_and_escaped(
    system: System, fund: Fund, message: str
) -> None:
    fund(ALICE)
    fund(BOB)
    factory = system.token_factory.id
    with system.ic.faults.reject(
        canister=factory, method="create_contract", code=RejectCode.CANISTER_REJECT,
        message=message,
    ):  # fmt: skip
        failure = system.backend.as_caller(ALICE).deploy_token(token_config()).error
    assert isinstance(failure, DeploymentFailed)
    assert system.backend.get_outbox_size() == 0
    assert len(failure.reason) <= MAX_TEXT
    assert failure.reason.endswith(TRUNCATED)
    assert "\x00" not in failure.reason and "\u202e" not in failure.reason
    (entry,) = system.audit_storage.query(
        AuditQuery(user=ALICE, action=AuditAction.DEPLOYMENT_FAILED)
    ).items
    assert dict(entry.event.details)["reason"] == failure.reason
    deploy_for(system, BOB, "BOB")
    assert system.backend.get_outbox_size() == 0
    assert_money_never_lost(system)


def test_a_record_the_storage_refuses_is_set_aside_and_blocks_nothing(
    system: System, fund: Fund
) -> None:
    """The operator, careless, writes a payment under the id the backend will use next: the
    storage refuses the backend's record as invalid, which leaves the queue for the dead-letter
    list instead of jamming it."""
    fund(ALICE)
    fund(BOB)
    state = system.ic.state_of(system.backend.id)
    taken = f"pay-{state.id_prefix}-{state.next_id:08d}"
    invoice = system.invoice_storage
    invoice.add_to_whitelist(system.operator).unwrap()
    invoice.create_payment(
        PaymentDraft(id=taken, user=CAROL, service="x", amount=1, token=system.icp_ledger.id)
    )
    result = system.backend.as_caller(ALICE).deploy_token(token_config()).unwrap()
    assert result.payment_id == taken
    assert system.backend.get_outbox_size() == 0
    refused = system.backend.admin_list_undelivered()
    assert refused and refused[0].item.method == "create_payment"
    assert refused[0].item.args[0].user == ALICE
    assert refused[0].error.startswith("InvalidRecord")
    assert system.backend.get_system_status().undelivered == len(refused)
    later = deploy_for(system, BOB, "BOB")
    assert system.backend.get_outbox_size() == 0
    assert len(system.backend.admin_list_undelivered()) == len(refused)
    payments = invoice.get_payments_by_user(BOB).items
    assert [p.contract_id for p in payments] == [later]


def test_a_storage_that_stays_down_is_retried_with_backoff_and_then_gets_everything(
    system: System, fund: Fund
) -> None:
    fund(ALICE)
    audit = system.audit_storage.id
    down = system.ic.faults.reject(canister=audit, method="log_event", times=None)
    deploy_for(system, ALICE, "ALP")
    assert system.backend.get_outbox_size() == 3
    calls_at_deployment = down.matched
    system.ic.advance_time(hours=4)
    retries = down.matched - calls_at_deployment
    assert 1 <= retries <= 4 * 3600 * 10**9 // MAX_BACKOFF_NS + 8  # a 60 s timer would try 240
    assert system.backend.get_outbox_size() == 3
    down.remove()
    system.ic.advance_time(nanos=MAX_BACKOFF_NS + MAINTENANCE_DELAY_NS)
    assert system.backend.get_outbox_size() == 0
    assert len(system.audit_storage.query(AuditQuery(user=ALICE)).items) == 3


# -- 3. anonymous is never a role ------------------------------------------------------------------

NOBODIES = [Principal.anonymous(), Principal.management_canister()]


@pytest.mark.parametrize("nobody", NOBODIES, ids=["anonymous", "management"])
def test_no_admin_backend_or_writer_can_be_anonymous_or_the_management_canister(
    system: System, nobody: Principal
) -> None:
    ic = system.ic
    canisters = (system.backend, system.token_factory, system.audit_storage,
                 system.invoice_storage)  # fmt: skip
    before = [ic.state_of(canister.id) for canister in canisters]
    attempts = [
        system.backend.add_admin(nobody),
        system.token_factory.add_backend(nobody),
        system.token_factory.set_admins((system.backend.id, nobody)),
        system.audit_storage.add_to_whitelist(nobody),
        system.invoice_storage.add_to_whitelist(nobody),
        system.audit_storage.set_admins((nobody,)),
        system.invoice_storage.set_admins((system.backend.id, nobody)),
        system.backend.admin_set_user_status(nobody, UserStatus.SUSPENDED),
    ]
    for attempt in attempts:
        assert isinstance(attempt, Err) and isinstance(attempt.error, NotIdentified)
        assert attempt.error.principal == nobody
    assert [ic.state_of(canister.id) for canister in canisters] == before


@pytest.mark.parametrize("nobody", NOBODIES, ids=["anonymous", "management"])
def test_a_backend_cannot_be_installed_with_an_anonymous_admin(ic: IC, nobody: Principal) -> None:
    refusal = rejected(lambda: ic.deploy(Backend, BackendInit(admins=(nobody,))))
    assert "cannot be a backend admin" in refusal.message


# -- 4. overlapping refund retries answer, never trap ----------------------------------------------


REENTRY: dict[str, Any] = {}
"""The test's instructions to ``ReentrantLedger`` (``target``) and what it saw (``answers``)."""


class ReentrantLedger(Ledger):
    """A ledger that, while paying a refund, lets another admin retry of it run first (as an
    interleaved message would on the IC)."""

    VERSION = "1.0.1"

    def icrc1_transfer(self, args: TransferArgs) -> Any:
        target = REENTRY.pop("target", None)
        if target is not None and args.memo is not None and args.memo.startswith(b"refund:"):
            backend, refund_id = target
            REENTRY["answers"].append(self.call(backend, "admin_retry_refund", refund_id))
        return super().icrc1_transfer(args)

    icrc1_transfer.__icto_kind__ = Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]


def test_an_overlapping_refund_retry_is_told_in_progress_and_the_user_is_refunded_once(
    system: System, fund: Fund
) -> None:
    fund(ALICE)
    backend = system.backend
    backend.admin_set_config("payment.auto_refund", False).unwrap()
    failing_deployments(system)
    failure = backend.as_caller(ALICE).deploy_token(token_config()).error
    assert isinstance(failure, DeploymentFailed) and failure.refund is not None
    refund_id = failure.refund.refund_id
    system.ic.upgrade_canister(system.icp_ledger.id, ReentrantLedger, caller=system.operator)
    backend.add_admin(system.icp_ledger.id).unwrap()
    REENTRY.update(target=(backend.id, refund_id), answers=[])
    outcome = backend.admin_retry_refund(refund_id).unwrap()
    assert outcome.status == "Completed"
    assert REENTRY["answers"] == [Err(RefundInProgress(refund_id))]
    refunds = [b for b in all_blocks(system) if b.memo == b"refund:" + failure.payment_id.encode()]
    assert len(refunds) == 1 and refunds[0].amount == FEE
    assert backend.admin_list_pending_refunds() == ()
    assert backend.get_counters().refunds == 1
    assert not system.ic.state_of(backend.id).in_flight
    assert system.icp_balance(ALICE) == 10 * E8S - 2 * LEDGER_FEE
    assert backend.admin_retry_refund(refund_id).error.refund_id == refund_id


class CommitsThenTrapsLedger(Ledger):
    """A ledger whose next refund transfer commits (its method awaits a call after booking
    it, as a platform token telling its factory about a new holder does) and then traps: the
    transfer happened, and the backend is told its call was rejected."""

    VERSION = "1.0.1"
    traps_left = 0

    def icrc1_transfer(self, args: TransferArgs) -> Any:
        result = super().icrc1_transfer(args)
        if CommitsThenTrapsLedger.traps_left and args.memo and args.memo.startswith(b"refund:"):
            CommitsThenTrapsLedger.traps_left -= 1
            self.call(MANAGEMENT_ID, "raw_rand")
            raise Trap("the ledger failed after booking the transfer")
        return result

    icrc1_transfer.__icto_kind__ = Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]


def refund_blocks(system: System, payment_id: str) -> dict[int, Any]:
    """The ledger's refund transfers for ``payment_id``, by block index."""
    memo = b"refund:" + payment_id.encode()
    return {index: b for index, b in enumerate(all_blocks(system)) if b.memo == memo}


def test_a_refund_paid_unseen_is_found_by_the_retry_and_never_paid_twice(
    system: System, fund: Fund
) -> None:
    """The refund's transfer is booked but the backend hears a reject: the attempt counts as
    failed and stays owed. The timer's retry sends the same deduplicated request, the ledger
    answers ``Duplicate`` of the first, and the refund completes with that block: the user is
    refunded once, and the backend's float is not paid out twice."""
    fund(ALICE)
    system.ic.upgrade_canister(system.icp_ledger.id, CommitsThenTrapsLedger, caller=system.operator)
    CommitsThenTrapsLedger.traps_left = 1
    failing_deployments(system)
    failure = system.backend.as_caller(ALICE).deploy_token(token_config()).error
    assert isinstance(failure, DeploymentFailed) and failure.refund is not None
    assert failure.refund.status == "Failed"
    (paid,) = refund_blocks(system, failure.payment_id)
    system.ic.advance_time(nanos=MAINTENANCE_DELAY_NS)
    assert system.backend.admin_list_pending_refunds() == ()
    assert [b.amount for b in refund_blocks(system, failure.payment_id).values()] == [FEE]
    status = system.invoice_storage.get_refund(failure.refund.refund_id).status
    assert status == RefundCompleted(paid)
    assert system.icp_balance(ALICE) == 10 * E8S - 2 * LEDGER_FEE
    assert_money_never_lost(system)


def test_a_refund_held_by_a_message_that_trapped_is_paid_once_the_hold_lapses(
    system: System, fund: Fund
) -> None:
    """The deployment's message fails its refund and then traps after its last call, so the
    hold it had on the refund is never released. While the hold is fresh, a retry is told the
    refund is in progress; once it lapses (``SENDING_GIVEN_UP_NS``), the timer pays it, once."""
    fund(ALICE)
    backend = system.backend
    failing_deployments(system)
    system.ic.faults.reject(canister=system.icp_ledger.id, method="icrc1_transfer", times=1)
    system.ic.faults.trap(canister=backend.id, method="deploy_token", times=1)
    with pytest.raises(CallRejected):
        backend.as_caller(ALICE).deploy_token(token_config())
    (owed,) = backend.admin_list_pending_refunds()
    assert backend.admin_retry_refund(owed.refund_id) == Err(RefundInProgress(owed.refund_id))
    system.ic.advance_time(nanos=SENDING_GIVEN_UP_NS + MAINTENANCE_DELAY_NS)
    assert backend.admin_list_pending_refunds() == ()
    assert [b.amount for b in refund_blocks(system, owed.payment_id).values()] == [FEE]
    assert system.icp_balance(ALICE) == 10 * E8S - 2 * LEDGER_FEE
    assert not system.ic.state_of(backend.id).in_flight


def test_a_deployment_held_by_a_message_that_trapped_is_settled_once_the_hold_lapses(
    system: System, fund: Fund
) -> None:
    """An unconfirmed deployment whose settling message traps after its look-up keeps no hold
    for ever: once it lapses, the timer asks the factory again and refunds the fee."""
    fund(ALICE)
    backend, factory = system.backend, system.token_factory.id
    system.ic.faults.reject(canister=factory, method="create_contract", times=1)
    system.ic.faults.reject(canister=factory, method="get_deployment", times=3)
    pending = backend.as_caller(ALICE).deploy_token(token_config()).error
    assert isinstance(pending, DeploymentFailed) and pending.pending
    system.ic.faults.reject(canister=factory, method="get_deployment", times=3)
    system.ic.faults.trap(canister=backend.id, method="flush_outbox", times=1)
    with pytest.raises(CallRejected):
        backend.flush_outbox()
    assert pending.payment_id in system.ic.state_of(backend.id).in_flight
    system.ic.advance_time(nanos=SENDING_GIVEN_UP_NS + MAINTENANCE_DELAY_NS)
    state = system.ic.state_of(backend.id)
    assert not state.unconfirmed and not state.in_flight and not state.pending_refunds
    assert [b.amount for b in refund_blocks(system, pending.payment_id).values()] == [FEE]
    assert system.icp_balance(ALICE) == 10 * E8S - 2 * LEDGER_FEE


def test_a_deployment_failing_in_the_last_minute_of_ic_time_still_refunds(
    system: System, fund: Fund
) -> None:
    """The backend's timer is cut at the IC clock's last instant: a refund opened in its last
    minute is recorded and paid (arming the minute's timer used to trap after the fee was
    taken, rolling the owed refund back)."""
    fund(ALICE)
    failing_deployments(system)
    system.ic.set_time(MAX_TIME - 30 * 10**9)
    failure = system.backend.as_caller(ALICE).deploy_token(token_config()).error
    assert isinstance(failure, DeploymentFailed) and failure.refund is not None
    assert failure.refund.status == "Completed"
    assert system.icp_balance(ALICE) == 10 * E8S - 2 * LEDGER_FEE
    assert_money_never_lost(system)


# -- 5. amounts and text are bounded where they enter ----------------------------------------------


@pytest.mark.parametrize("cycles", [0, -1, 2**128, MAX_CYCLES_PER_CONTRACT + 1])
def test_cycles_per_contract_outside_its_bound_are_refused_and_change_nothing(
    system: System, cycles: int
) -> None:
    before = system.ic.state_of(system.token_factory.id)
    result = system.token_factory.set_cycles_per_contract(cycles)
    assert isinstance(result, Err) and isinstance(result.error, InvalidConfig)
    assert system.ic.state_of(system.token_factory.id) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Token \u202eevil"), ("name", "Tok\x00en"), ("name", "Tok\ud800en"),
        ("description", "line\x07bell"), ("description", "\u2066isolate"),
        ("name", "N" * 10_000_000),
    ],
    ids=["bidi-name", "nul-name", "surrogate-name", "bell-description", "isolate-description",
         "10MB-name"],
)  # fmt: skip
def test_hostile_text_in_a_config_is_refused_before_anything_is_charged(
    system: System, fund: Fund, field: str, value: str
) -> None:
    fund(ALICE)
    balance = system.icp_balance(ALICE)
    result = system.backend.as_caller(ALICE).deploy_token(token_config(**{field: value}))
    assert isinstance(result, Err) and isinstance(result.error, InvalidConfig)
    assert any(reason.startswith(field) for reason in result.error.reasons)
    assert system.icp_balance(ALICE) == balance
    assert system.backend.get_counters().payments == 0


# -- 6. cycles do not run out in a notebook loop ---------------------------------------------------


def test_a_deployed_system_pays_for_a_million_deployments_and_says_how_many_are_left(
    system: System, fund: Fund
) -> None:
    reports = system.backend.get_factory_health()
    assert [report.service for report in reports] == list(system.factories)
    assert all(report.report.deployments_left >= DEFAULT_DEPLOYMENTS for report in reports)
    health = reports[0]
    fund(ALICE)
    deploy_for(system, ALICE, "ALP")
    after = system.backend.get_factory_health()[0]
    cost = DEFAULT_CYCLES_PER_CONTRACT + DEPLOYMENT_MESSAGES_RESERVE
    assert after.report.deployments_left == after.report.cycles // cost
    assert health.report.deployments_left - 1 <= after.report.deployments_left


def test_a_factory_out_of_cycles_names_the_fix_and_the_backend_refuses_before_payment(
    ic: IC,
) -> None:
    system = deploy_system(ic, factory_cycles=3 * 10**12)
    fund_user(system, ALICE)
    first = system.backend.as_caller(ALICE).deploy_token(token_config())
    assert isinstance(first, Ok)
    balance = system.icp_balance(ALICE)
    refused = system.backend.as_caller(ALICE).deploy_token(token_config("TWO"))
    assert isinstance(refused, Err) and isinstance(refused.error, ServiceUnavailable)
    assert "top it up" in refused.error.reason
    assert system.icp_balance(ALICE) == balance
    direct = system.token_factory.as_caller(system.backend.id).create_contract(
        ALICE, token_config("THREE")
    )
    assert isinstance(direct, Err) and isinstance(direct.error, InsufficientCycles)
    assert "system.top_up" in direct.error.fix
    system.top_up(system.token_factory, 10 * 10**12)
    assert isinstance(system.backend.as_caller(ALICE).deploy_token(token_config("TWO")), Ok)


def fund_user(system: System, user: Principal) -> None:
    system.faucet(user, 10 * E8S)
    system.approve_backend(user, 5 * E8S)
