"""Setup and monitoring are real checks, and the storage outbox keeps every record, in order.

* ``get_microservice_setup_status()`` asks each counterpart whether it whitelists the backend
  now (the real code returns a flag set once by ``setCanisterIds``).
* ``setup_microservices`` validates its argument before changing anything, and whitelists the
  backend wherever the backend is an admin; where it is not, the report says so, and deployments
  still lose no money: what that storage refuses waits in the outbox.
* ``get_factory_health()`` is each factory's own ``health()``; one that does not answer is
  reported, not fatal. ``get_system_status()`` adds maintenance, storages, counters, the outbox
  and what the backend still owes.
* The outbox: a storage that is down delays records, never loses or reorders them; it is bounded,
  and a full outbox refuses new paid deployments before any payment.
* An upgrade of the backend keeps its state and re-arms the timer that drains the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

import icto.backend.base
from icto import E8S, IC, Account, Principal, RejectCode
from icto.backend import (
    AUDIT_STORAGE,
    INVOICE_STORAGE,
    MULTISIG_FACTORY,
    SERVICES,
    TOKEN_FACTORY,
    Backend,
    BackendInit,
    ConfigError,
    DeploymentFailed,
    ServiceHealth,
    ServiceSetup,
    ServiceUnavailable,
    SetupArgs,
)
from icto.backend.base import MAINTENANCE_DELAY_NS, MAX_BACKOFF_NS, OUTBOX_RESERVE
from icto.factory import deploy_factory
from icto.ic import FaultRule
from icto.ic.proxy import CanisterProxy
from icto.ledger import AllowanceArgs
from icto.multisig import MultisigFactory
from icto.storage import AuditAction, AuditEntry, AuditQuery, AuditStorage, InvoiceStorage
from icto.storage.deploy import deploy_storage
from icto.system import System
from icto.token import TokenFactory
from tests.backend.conftest import token_config
from tests.backend.invariants import assert_money_never_lost, assert_trail_complete
from tests.helpers import failing_deployments, live_canisters, rejected

ALICE = Principal.from_name("alice")
BOB = Principal.from_name("bob")
CAROL = Principal.from_name("carol")
DEPLOYED = SERVICES
"""``deploy_system`` deploys a factory for every service."""


def report(system: System) -> dict[str, ServiceSetup]:
    return {entry.service: entry for entry in system.backend.get_microservice_setup_status()}


def confirmed(system: System) -> dict[str, bool | None]:
    return {service: entry.whitelisted for service, entry in report(system).items()}


def all_set_up(factories: tuple[str, ...] = DEPLOYED) -> dict[str, bool | None]:
    """The setup report of storages and ``factories`` all confirming the backend."""
    deployed = dict.fromkeys((AUDIT_STORAGE, INVOICE_STORAGE, *factories), True)
    return deployed | dict.fromkeys(service for service in SERVICES if service not in factories)


def all_entries(audit: CanisterProxy) -> tuple[AuditEntry, ...]:
    page = audit.query(AuditQuery(descending=False, limit=1000))
    assert page.next_cursor is None
    return tuple(page.items)


def trail_of(system: System) -> list[AuditAction]:
    return [entry.action for entry in all_entries(system.audit_storage)]


def queued(ic: IC, system: System, storage: str = AUDIT_STORAGE) -> list[Any]:
    """What the backend's outbox holds for ``storage``, oldest first."""
    queue = ic.state_of(system.backend.id).outbox.get(storage)
    if queue is None:
        return []
    return [queue.items[position] for position in range(queue.head, queue.tail)]


# -- the setup report ----------------------------------------------------------------------------


def test_after_deploy_system_every_service_set_up_confirms_the_backend(system: System) -> None:
    entries = report(system)
    assert list(entries) == [AUDIT_STORAGE, INVOICE_STORAGE, *SERVICES]
    assert confirmed(system) == all_set_up()
    assert entries[AUDIT_STORAGE].canister_id == system.audit_storage.id
    assert entries[INVOICE_STORAGE].canister_id == system.invoice_storage.id
    for service, factory in system.factories.items():
        assert entries[service].canister_id == factory.id


def test_the_report_follows_the_factory_s_whitelist(system: System) -> None:
    system.token_factory.remove_backend(system.backend.id)
    assert confirmed(system) == all_set_up() | {TOKEN_FACTORY: False}
    system.token_factory.add_backend(system.backend.id)
    assert confirmed(system) == all_set_up()


@pytest.mark.parametrize("storage", [AUDIT_STORAGE, INVOICE_STORAGE])
def test_the_report_follows_each_storage_s_whitelist(system: System, storage: str) -> None:
    proxy: CanisterProxy = getattr(system, storage)
    proxy.remove_from_whitelist(system.backend.id)
    assert confirmed(system) == all_set_up() | {storage: False}
    proxy.add_to_whitelist(system.backend.id)
    assert confirmed(system) == all_set_up()


@pytest.mark.parametrize("kind", ["reject", "trap"])
def test_a_counterpart_that_does_not_answer_is_reported_unknown(
    ic: IC, system: System, kind: str
) -> None:
    fault = getattr(ic.faults, kind)(canister=system.invoice_storage.id, method="is_whitelisted")
    entries = report(system)
    assert fault.fired == 1
    invoice = entries[INVOICE_STORAGE]
    assert (invoice.canister_id, invoice.whitelisted) == (system.invoice_storage.id, None)
    assert invoice.error is not None and "injected" in invoice.error
    assert {service: entry.whitelisted for service, entry in entries.items()} == all_set_up() | {
        INVOICE_STORAGE: None
    }


# -- setup_microservices -------------------------------------------------------------------------


def setup_args(system: System, **changes: Any) -> SetupArgs:
    fields: dict[str, Any] = {
        "audit_storage": system.audit_storage.id, "invoice_storage": system.invoice_storage.id,
        "factories": {TOKEN_FACTORY: system.token_factory.id},
    }  # fmt: skip
    fields.update(changes)
    return SetupArgs(**fields)


BAD_SETUPS: dict[str, tuple[Callable[[System], dict[str, Any]], str]] = {
    "unknown service": (
        lambda s: {"factories": {"nft_factory": s.token_factory.id}},
        "nft_factory",
    ),
    "a user as factory": (lambda s: {"factories": {TOKEN_FACTORY: ALICE}}, TOKEN_FACTORY),
    "a user as audit storage": (lambda s: {"audit_storage": ALICE}, AUDIT_STORAGE),
    "a user as invoice storage": (lambda s: {"invoice_storage": BOB}, INVOICE_STORAGE),
}


@pytest.mark.parametrize("case", list(BAD_SETUPS))
def test_setup_is_validated_before_anything_changes(ic: IC, system: System, case: str) -> None:
    changes, key = BAD_SETUPS[case]
    world = {canister: ic.state_of(canister) for canister in live_canisters(ic)}
    ic.trace.clear()
    result = system.backend.setup_microservices(setup_args(system, **changes(system)))
    assert isinstance(result.error, ConfigError) and result.error.key == key
    assert ic.trace.calls(kind="call") == []
    assert {canister: ic.state_of(canister) for canister in live_canisters(ic)} == world
    assert confirmed(system) == all_set_up()


WRONG_KIND_SETUPS: dict[str, tuple[Callable[[System], dict[str, Any]], str, str]] = {
    "the storages swapped": (
        lambda s: {"audit_storage": s.invoice_storage.id, "invoice_storage": s.audit_storage.id},
        AUDIT_STORAGE,
        "is of kind 'invoice'",
    ),
    "a multisig factory as the token factory": (
        lambda s: {"factories": {TOKEN_FACTORY: s.multisig_factory.id}},
        TOKEN_FACTORY,
        "is of kind 'multisig'",
    ),
    "a factory as a storage": (
        lambda s: {"invoice_storage": s.dao_factory.id},
        INVOICE_STORAGE,
        "is of kind 'dao'",
    ),
    "a ledger as the audit storage": (
        lambda s: {"audit_storage": s.icp_ledger.id},
        AUDIT_STORAGE,
        "is no ICTO service",
    ),
    "one canister named twice": (
        lambda s: {
            "factories": {TOKEN_FACTORY: s.token_factory.id, MULTISIG_FACTORY: s.token_factory.id}
        },
        MULTISIG_FACTORY,
        "already named as the token_factory",
    ),
}


@pytest.mark.parametrize("case", list(WRONG_KIND_SETUPS))
def test_setup_refuses_a_service_of_the_wrong_kind_and_changes_nothing(
    ic: IC, system: System, case: str
) -> None:
    """Each counterpart is asked what it is (``health().kind``) before anything is recorded:
    a swapped or wrong service would take every fee and then refund it, and its trail would
    never be delivered."""
    changes, key, reason = WRONG_KIND_SETUPS[case]
    world = {canister: ic.state_of(canister) for canister in live_canisters(ic)}
    result = system.backend.setup_microservices(setup_args(system, **changes(system)))
    assert isinstance(result.error, ConfigError) and result.error.key == key
    assert reason in result.error.reason
    assert {canister: ic.state_of(canister) for canister in live_canisters(ic)} == world


def test_a_service_of_the_wrong_kind_set_up_while_it_was_silent_is_reported(
    ic: IC, system: System
) -> None:
    """A counterpart that did not answer at setup is taken; once it answers as another kind of
    service, the setup report and the system status say so."""
    swapped = {
        "audit_storage": system.invoice_storage.id,
        "invoice_storage": system.audit_storage.id,
    }
    with ic.faults.reject(method="health", times=None):
        system.backend.setup_microservices(setup_args(system, **swapped)).unwrap()
    setup = report(system)
    assert (setup[AUDIT_STORAGE].whitelisted, setup[INVOICE_STORAGE].whitelisted) == (False, False)
    assert "is of kind 'invoice', not the audit_storage" in str(setup[AUDIT_STORAGE].error)
    audit, invoice = system.backend.get_system_status().storages
    assert (audit.healthy, invoice.healthy) == (False, False)
    assert "is of kind 'audit', not the invoice_storage" in str(invoice.error)


def test_setup_is_in_the_audit_trail_with_what_it_changed(ic: IC, system: System) -> None:
    other = deploy_factory(ic, TokenFactory, admins=(system.backend.id,), caller=system.operator)
    before = system.audit_storage.count()
    system.backend.setup_microservices(
        setup_args(system, factories={TOKEN_FACTORY: other.id})
    ).unwrap()
    (entry,) = all_entries(system.audit_storage)[before:]
    assert (entry.action, entry.user) == (AuditAction.ADMIN_ACTION, system.operator)
    assert dict(entry.event.details) == {
        "action": "setup_microservices",
        TOKEN_FACTORY: f"{system.token_factory.id} -> {other.id}",
    }


def test_the_first_setup_lists_the_storages_then_the_factories_in_service_order(
    system: System,
) -> None:
    """The same setup writes the same details in every process (a map's own order follows the
    string hash seed)."""
    setup = all_entries(system.audit_storage)[0]
    assert setup.action is AuditAction.ADMIN_ACTION
    assert [key for key, _ in setup.event.details] == [
        "action",
        AUDIT_STORAGE,
        INVOICE_STORAGE,
        *SERVICES,
    ]


def test_setup_takes_only_setup_args(ic: IC, system: System) -> None:
    before = ic.state_of(system.backend.id)
    refusal = rejected(lambda: system.backend.setup_microservices({"audit_storage": ALICE}))
    assert (refusal.reject_code, refusal.error_code) == (RejectCode.CANISTER_ERROR, "IC0503")
    assert ic.state_of(system.backend.id) == before


def hand_made(system: System, *, audit_names_backend: bool = True) -> System:
    """A second platform on the same IC and ICP ledger, deployed by hand: a fresh backend and
    storages and a factory that name it their admin (the audit storage only if told so)."""
    ic, operator = system.ic, system.operator
    backend = ic.deploy(
        Backend, BackendInit(payment_token=system.icp_ledger.id), controllers=(operator,),
        caller=operator,
    )  # fmt: skip
    admins = (backend.id,)
    audit = deploy_storage(
        ic, AuditStorage, admins=admins if audit_names_backend else (), caller=operator
    )
    invoice = deploy_storage(ic, InvoiceStorage, admins=admins, caller=operator)
    factory = deploy_factory(ic, TokenFactory, admins=admins, caller=operator)
    system.faucet(backend.id, E8S)
    return attrs.evolve(
        system, backend=backend.as_caller(operator), audit_storage=audit.as_caller(operator),
        invoice_storage=invoice.as_caller(operator), token_factory=factory.as_caller(operator),
    )  # fmt: skip


def test_a_backend_set_up_by_hand_is_whitelisted_by_its_services(system: System) -> None:
    mine = hand_made(system)
    assert {entry.error for entry in mine.backend.get_microservice_setup_status()} == {"not set"}
    mine.faucet(ALICE, 10 * E8S)
    mine.approve_backend(ALICE, 5 * E8S)
    before = mine.icp_balance(ALICE)
    refused = mine.backend.as_caller(ALICE).deploy_token(token_config())
    assert isinstance(refused.error, ServiceUnavailable) and mine.icp_balance(ALICE) == before
    setup = mine.backend.setup_microservices(setup_args(mine)).unwrap()
    assert {entry.service: entry.whitelisted for entry in setup} == all_set_up((TOKEN_FACTORY,))
    assert setup == mine.backend.get_microservice_setup_status()
    assert mine.audit_storage.is_whitelisted(mine.backend.id)
    assert mine.invoice_storage.is_whitelisted(mine.backend.id)
    assert mine.token_factory.is_backend(mine.backend.id)
    assert not system.token_factory.is_backend(mine.backend.id)
    assert confirmed(system) == all_set_up()
    mine.backend.as_caller(ALICE).deploy_token(token_config()).unwrap()
    assert trail_of(mine) == [
        AuditAction.ADMIN_ACTION, AuditAction.DEPLOYMENT_INITIATED,
        AuditAction.PAYMENT_PROCESSED, AuditAction.DEPLOYMENT_SUCCEEDED,
    ]  # fmt: skip
    assert mine.backend.get_outbox_size() == 0


def test_a_storage_that_refuses_the_backend_delays_records_and_loses_no_money(
    system: System,
) -> None:
    mine = hand_made(system, audit_names_backend=False)
    setup = mine.backend.setup_microservices(setup_args(mine)).unwrap()
    assert {entry.service: entry.whitelisted for entry in setup} == all_set_up((TOKEN_FACTORY,)) | {
        AUDIT_STORAGE: False
    }
    assert mine.audit_storage.get_stats().access_denied == 2  # the whitelisting, the setup's entry
    for user in (ALICE, BOB):
        mine.faucet(user, 10 * E8S)
        mine.approve_backend(user, 5 * E8S)
    mine.backend.as_caller(ALICE).deploy_token(token_config("ALP", "alice")).unwrap()
    failing_deployments(mine)
    failed = mine.backend.as_caller(BOB).deploy_token(token_config("BOB", "bob")).error
    assert isinstance(failed, DeploymentFailed) and failed.refund is not None
    assert failed.refund.status == "Completed"
    assert mine.backend.get_outbox_size() == 8
    assert all_entries(mine.audit_storage) == ()
    assert_money_never_lost(mine)
    mine.audit_storage.add_to_whitelist(mine.backend.id)
    assert mine.backend.flush_outbox() == 0
    assert trail_of(mine) == [
        AuditAction.ADMIN_ACTION, AuditAction.DEPLOYMENT_INITIATED, AuditAction.PAYMENT_PROCESSED,
        AuditAction.DEPLOYMENT_SUCCEEDED, AuditAction.DEPLOYMENT_INITIATED,
        AuditAction.PAYMENT_PROCESSED, AuditAction.DEPLOYMENT_FAILED, AuditAction.REFUND_ISSUED,
    ]  # fmt: skip
    assert_trail_complete(mine, assert_money_never_lost(mine))


# -- factory health --------------------------------------------------------------------------------


@pytest.mark.parametrize("paused", [False, True])
def test_factory_health_is_the_factory_s_own_answer(system: System, paused: bool) -> None:
    if paused:
        system.token_factory.pause_factory()
    health = system.backend.get_factory_health()[0]
    own = system.token_factory.health()
    assert health == ServiceHealth(TOKEN_FACTORY, system.token_factory.id, not paused, own)
    assert own.issues == (("paused",) if paused else ())


def second_factory(system: System) -> CanisterProxy:
    """A second factory registered (as the multisig factory) next to the token factory."""
    other = deploy_factory(
        system.ic, MultisigFactory, admins=(system.backend.id,), caller=system.operator
    )
    factories = {TOKEN_FACTORY: system.token_factory.id, "multisig_factory": other.id}
    system.backend.setup_microservices(setup_args(system, factories=factories)).unwrap()
    return other


@pytest.mark.parametrize("kind", ["reject", "trap"])
def test_a_factory_that_does_not_answer_is_reported_unhealthy(
    ic: IC, system: System, kind: str
) -> None:
    other = second_factory(system)
    fault = getattr(ic.faults, kind)(canister=other.id, method="health")
    token, multisig, *_ = system.backend.get_factory_health()
    assert fault.fired == 1
    assert token == ServiceHealth(
        TOKEN_FACTORY, system.token_factory.id, True, system.token_factory.health()
    )
    assert (multisig.service, multisig.canister_id) == ("multisig_factory", other.id)
    assert multisig.healthy is False and multisig.report is None
    assert multisig.error is not None and "injected" in multisig.error
    assert system.backend.get_factory_health()[1].healthy is True


# -- system status -------------------------------------------------------------------------------


def test_system_status_reports_what_the_backend_knows_and_measures(
    ic: IC, system: System, fund: Callable[..., Principal]
) -> None:
    quiet = system.backend.get_system_status()
    assert quiet.maintenance_mode is False
    assert (quiet.outbox_size, quiet.pending_refunds, quiet.users) == (0, 0, 0)
    fund(ALICE)
    fund(BOB)
    system.backend.admin_set_config("payment.auto_refund", False).unwrap()
    system.backend.as_caller(ALICE).deploy_token(token_config("ALP", "alice")).unwrap()
    with (
        failing_deployments(system),
        ic.faults.reject(canister=system.audit_storage.id, method="log_event", times=None),
    ):
        system.backend.as_caller(BOB).deploy_token(token_config("BOB", "bob"))
        system.backend.admin_set_config("system.maintenance_mode", True).unwrap()
    system.token_factory.pause_factory()  # a factory the status reports unhealthy
    status = system.backend.get_system_status()
    assert status.maintenance_mode is True
    assert status.counters == system.backend.get_counters()
    assert (status.counters.deployments, status.counters.failed_deployments) == (1, 1)
    assert status.outbox_size == system.backend.get_outbox_size() == 4
    assert status.pending_refunds == len(system.backend.admin_list_pending_refunds()) == 1
    assert (status.unconfirmed_deployments, status.users) == (0, 2)
    assert status.storages == (
        ServiceHealth(AUDIT_STORAGE, system.audit_storage.id, True, system.audit_storage.health()),
        ServiceHealth(
            INVOICE_STORAGE, system.invoice_storage.id, True, system.invoice_storage.health()
        ),
    )
    assert status.storages[0].report.records == 1 + 1 + 3  # the setup, a config change, Alice's
    assert status.factories == (
        ServiceHealth(TOKEN_FACTORY, system.token_factory.id, False, system.token_factory.health()),
        *(ServiceHealth(service, factory.id, True, factory.health())
          for service, factory in system.factories.items() if service != TOKEN_FACTORY),
    )  # fmt: skip


def test_system_status_reports_a_storage_that_does_not_answer(ic: IC, system: System) -> None:
    with ic.faults.reject(canister=system.audit_storage.id, method="health"):
        audit, invoice = system.backend.get_system_status().storages
    assert (audit.service, audit.healthy, audit.report, audit.error) == (
        AUDIT_STORAGE, False, None, "injected fault",
    )  # fmt: skip
    assert invoice.healthy is True


# -- the outbox ----------------------------------------------------------------------------------


def drain_by(way: str, system: System, fund: Callable[..., Principal], failing: FaultRule) -> None:
    """Drain the outbox by ``way``; the ``failing`` deployments' rule is removed for the next
    deployment."""
    if way == "timer":
        system.ic.advance_time(nanos=MAX_BACKOFF_NS + MAINTENANCE_DELAY_NS)
    elif way == "next deployment":
        failing.remove()
        fund(CAROL)
        system.backend.as_caller(CAROL).deploy_token(token_config("CAR", "carol")).unwrap()
    else:
        assert system.backend.flush_outbox() == 0


@pytest.mark.parametrize("way", ["timer", "next deployment", "flush_outbox"])
def test_a_storage_that_is_down_delays_records_in_order_and_loses_none(
    ic: IC, system: System, fund: Callable[..., Principal], way: str
) -> None:
    fund(ALICE)
    fund(BOB)
    audit = system.audit_storage.id
    down = ic.faults.reject(canister=audit, method=None, times=None)
    system.backend.as_caller(ALICE).deploy_token(token_config("ALP", "alice")).unwrap()
    assert system.backend.get_outbox_size() == 3
    ic.advance_time(seconds=30)
    failing = failing_deployments(system)
    failed = system.backend.as_caller(BOB).deploy_token(token_config("BOB", "bob")).error
    assert isinstance(failed, DeploymentFailed) and failed.refund is not None
    assert failed.refund.status == "Completed"
    expected = [
        AuditAction.DEPLOYMENT_INITIATED, AuditAction.PAYMENT_PROCESSED,
        AuditAction.DEPLOYMENT_SUCCEEDED, AuditAction.DEPLOYMENT_INITIATED,
        AuditAction.PAYMENT_PROCESSED, AuditAction.DEPLOYMENT_FAILED, AuditAction.REFUND_ISSUED,
    ]  # fmt: skip
    kept = queued(ic, system)
    assert [item.args[0].action for item in kept] == expected
    assert [item.args[0].user for item in kept] == [ALICE] * 3 + [BOB] * 4
    assert system.backend.get_outbox_size() == 7
    assert_money_never_lost(system)
    # the timer keeps trying while the storage is down, and keeps the records
    ic.advance_time(seconds=61)
    assert system.backend.get_outbox_size() == 7 and ic.pending_timers() >= 1
    assert [item.args[0] for item in queued(ic, system)] == [item.args[0] for item in kept]
    down.remove()
    drain_by(way, system, fund, failing)
    assert system.backend.get_outbox_size() == 0
    setup, *entries = all_entries(system.audit_storage)
    assert setup.action is AuditAction.ADMIN_ACTION
    assert [entry.action for entry in entries[:7]] == expected
    assert [entry.event for entry in entries[:7]] == [item.args[0] for item in kept]
    assert [entry.id for entry in entries] == list(range(1, len(entries) + 1))
    occurred = [entry.event.occurred_at for entry in entries]
    assert occurred == sorted(occurred) and occurred[0] < occurred[3]
    assert all(entry.event.occurred_at <= entry.timestamp for entry in entries)
    assert_trail_complete(system, assert_money_never_lost(system))


def test_a_full_outbox_refuses_paid_deployments_before_payment(
    ic: IC, system: System, fund: Callable[..., Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_outbox_full`` reads ``OUTBOX_LIMIT`` when it runs; a limit of ``OUTBOX_RESERVE + 3``
    is full once one storage keeps more than three records."""
    monkeypatch.setattr(icto.backend.base, "OUTBOX_LIMIT", OUTBOX_RESERVE + 3)
    for user in (ALICE, BOB, CAROL):
        fund(user)
    down = ic.faults.reject(canister=system.audit_storage.id, method="log_event", times=None)
    system.backend.as_caller(ALICE).deploy_token(token_config("ALP", "alice")).unwrap()
    system.backend.as_caller(BOB).deploy_token(token_config("BOB", "bob")).unwrap()
    assert system.backend.get_outbox_size() == 6
    ledger_before = ic.state_of(system.icp_ledger.id)
    ic.trace.clear()
    refused = system.backend.as_caller(CAROL).deploy_token(token_config("CAR", "carol"))
    assert refused.error == ServiceUnavailable("the storage outbox is full; retry once it drains")
    called = {(entry.callee, entry.method) for entry in ic.trace.calls(kind="call")}
    assert called == {(system.audit_storage.id, "log_event")}, "only a delivery was tried"
    assert ic.state_of(system.icp_ledger.id) == ledger_before
    assert system.backend.get_outbox_size() == 6
    allowance = system.icp_ledger.icrc2_allowance(
        AllowanceArgs(Account(CAROL), Account(system.backend.id))
    )
    assert allowance.allowance == 5 * E8S
    down.remove()
    retried = system.backend.as_caller(CAROL).deploy_token(token_config("CAR", "carol"))
    assert retried.is_ok, "the next deployment delivers the outbox first, then goes on"
    assert system.backend.get_outbox_size() == 0
    system.backend.as_caller(CAROL).deploy_token(token_config("CAR", "carol")).unwrap()
    assert_trail_complete(system, assert_money_never_lost(system))


def platform(system: System) -> dict[str, CanisterProxy]:
    return {
        "icp_ledger": system.icp_ledger, "backend": system.backend,
        "audit_storage": system.audit_storage, "invoice_storage": system.invoice_storage,
        "token_factory": system.token_factory,
    }  # fmt: skip


# -- upgrades ------------------------------------------------------------------------------------


def test_an_upgrade_keeps_the_backend_s_state_and_its_timer(
    ic: IC, system: System, fund: Callable[..., Principal]
) -> None:
    backend = system.backend
    for user in (ALICE, BOB, CAROL):
        fund(user)
    backend.admin_set_config("payment.auto_refund", False).unwrap()
    backend.admin_set_config("token_factory.fee", 2 * E8S).unwrap()
    backend.add_admin(CAROL)
    backend.as_caller(ALICE).deploy_token(token_config("ALP", "alice")).unwrap()
    with failing_deployments(system):
        owed = backend.as_caller(BOB).deploy_token(token_config("BOB", "bob")).error
    assert isinstance(owed, DeploymentFailed) and owed.refund is not None
    down = ic.faults.reject(canister=system.audit_storage.id, method=None, times=None)
    backend.as_caller(CAROL).deploy_token(token_config("CAR", "carol")).unwrap()
    before = ic.state_of(backend.id)
    assert before.outbox_size() == 3 and len(before.pending_refunds) == 1
    ic.upgrade_canister(backend.id, Backend, None, caller=system.operator)
    after = ic.state_of(backend.id)
    assert attrs.evolve(after, maintenance_timer=None) == attrs.evolve(
        before, maintenance_timer=None
    )
    assert after.maintenance_timer is not None and ic.pending_timers() == 1
    assert backend.get_service_fee(TOKEN_FACTORY) == 2 * E8S
    assert backend.get_admins() == (CAROL,)
    profile = backend.as_caller(ALICE).get_my_profile()
    assert profile is not None and profile.deployments == 1
    down.remove()
    ic.trace.clear()
    ic.advance_time(seconds=61)
    assert backend.get_outbox_size() == 0
    assert ic.trace.calls(kind="timer", canister=backend.id) != []
    assert [refund.refund_id for refund in backend.admin_list_pending_refunds()] == [
        owed.refund.refund_id
    ]
    paid = backend.admin_retry_refund(owed.refund.refund_id).unwrap()
    assert paid.status == "Completed" and paid.amount == 2 * E8S
    books = assert_money_never_lost(system)
    assert_trail_complete(system, books)


@pytest.mark.parametrize("moved", [AUDIT_STORAGE, INVOICE_STORAGE])
def test_a_storage_is_not_moved_while_records_still_refer_to_it(
    ic: IC, system: System, fund: Callable[..., Principal], moved: str
) -> None:
    """A refund owed keeps the id of its ``DeploymentFailed`` entry and its refund record: moved
    to a fresh storage, its payment's trail would be refused there and set aside (or name an
    unrelated entry). So the move is refused, nothing changing, until the refund is settled;
    then it goes through and the trail stays whole: nothing set aside."""
    backend = system.backend
    backend.admin_set_config("payment.auto_refund", False).unwrap()
    fund(ALICE)
    with failing_deployments(system, 1):
        refund = backend.as_caller(ALICE).deploy_token(token_config()).error.refund
    kind = AuditStorage if moved == AUDIT_STORAGE else InvoiceStorage
    fresh = deploy_storage(ic, kind, admins=[backend.id], caller=system.operator)
    move = setup_args(system, **{moved: fresh.id})
    before = {canister: ic.state_of(canister) for canister in live_canisters(ic)}

    refused = backend.setup_microservices(move)
    assert isinstance(refused.error, ConfigError) and refused.error.key == moved
    assert "1 refunds owed" in refused.error.reason
    assert {canister: ic.state_of(canister) for canister in live_canisters(ic)} == before

    assert backend.admin_retry_refund(refund.refund_id).unwrap().status == "Completed"
    backend.setup_microservices(move).unwrap()
    assert backend.admin_list_undelivered() == ()
    paid = system.invoice_storage.get_refund(refund.refund_id).history[-1]
    assert (
        paid.audit_id is not None
        and system.audit_storage.get_entry(paid.audit_id).action is AuditAction.REFUND_ISSUED
    )


@pytest.mark.parametrize(
    "arg", [BackendInit(admins=(CAROL,)), "junk"], ids=["init", "junk"]
)
def test_an_upgrade_argument_is_refused_and_the_upgrade_rolled_back(
    ic: IC, system: System, arg: Any
) -> None:
    """The backend's upgrade takes no argument (its configuration and admins change through
    their methods): one given was dropped without a word; it is refused, nothing changed."""
    before = ic.state_of(system.backend.id)
    refusal = rejected(
        lambda: ic.upgrade_canister(system.backend.id, Backend, arg, caller=system.operator)
    )
    assert "upgrade takes no argument" in refusal.message
    assert ic.state_of(system.backend.id) == before
    assert not system.backend.is_admin(CAROL)


def test_backend_code_cannot_take_over_another_canister_by_an_upgrade(
    ic: IC, system: System
) -> None:
    """Upgrading the audit storage with the backend's code traps in ``post_upgrade`` (it is not
    a backend's state), so the IC keeps the storage's code and state."""
    storage = system.audit_storage.id
    code, before = ic.code_of(storage), ic.state_of(storage)
    controller = ic.controllers_of(storage)[0]
    refusal = rejected(lambda: ic.upgrade_canister(storage, Backend, caller=controller))
    assert "trapped in post_upgrade" in refusal.message
    assert (ic.code_of(storage), ic.state_of(storage)) == (code, before)
