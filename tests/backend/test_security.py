"""Who may do what on the platform, and the real code's security bugs that we do not have.

* **B1 (payment bypass)**: only a whitelisted backend deploys through a factory. A user, an
  unrelated canister and even the factory's own controller are refused and counted, and nothing
  is deployed. Only a backend may look up a deployment ticket.
* **Storages**: only whitelisted writers write, being a controller or an admin is not enough.
  Only admins edit the whitelist. The audit trail is append-only (**B15**): no method changes,
  deletes or wipes an entry, the storage assigns the ids, and entries survive an upgrade.
* **Backend admin endpoints** refuse users with a typed reject, count the refusal and change
  nothing else. Admins in the list and controllers may use all of them, and get the same answers
  (**B13**).
* **B14 (privacy, cycle drain)**: users read only their own audit entries and payment records,
  listing refunds is for admins only, and a user's call to a fan-out monitoring endpoint makes no
  outgoing call.

Every refusal is checked twice: by the typed reject, and by the state of every canister involved
being the same as before except for the refused caller's ``access_denied`` count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from icto import E8S, IC, CallRejected, Canister, Principal, RejectCode, update
from icto.backend import Backend, DeploymentFailed, SetupArgs, UserStatus
from icto.ic.canister import UPDATE
from icto.ic.proxy import CanisterProxy
from icto.ledger import ICP
from icto.storage import (
    AuditAction,
    AuditEntry,
    AuditEvent,
    AuditQuery,
    AuditStorage,
    Completed,
    InvoiceStorage,
    PaymentDraft,
    RefundCompleted,
    RefundDraft,
)
from icto.system import System, deploy_system
from tests.backend.conftest import token_config
from tests.helpers import (
    FAILED_AT_CREATE_CANISTER,
    failing_deployments,
    live_canisters,
    rejected,
)

ALICE = Principal.from_name("alice")
BOB = Principal.from_name("bob")
CAROL = Principal.from_name("carol")
MALLORY = Principal.from_name("mallory")


class Relay(Canister):
    """An unrelated canister (deployed by mallory) that calls whatever it is told to; it answers
    the callee's reply or the reject it got."""

    VERSION = "1.0.0"

    def init(self, arg: object) -> None:
        self.state = None

    @update
    def relay(self, target: Principal, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return ("reply", self.call(target, method, *args, **kwargs))
        except CallRejected as refused:
            return ("reject", refused.reject_code, refused.message)


@attrs.frozen
class Scene:
    """The platform after alice deployed a token and bob's deployment failed; bob's refund
    waits for an admin (auto-refund is off). carol is an admin added with ``add_admin``."""

    ic: IC
    system: System
    alice_payment: str
    alice_contract: Principal
    bob_payment: str
    bob_refund: str
    relay: CanisterProxy


@pytest.fixture
def scene(ic: IC) -> Scene:
    system = deploy_system(ic)
    for user in (ALICE, BOB):
        system.faucet(user, 10 * E8S)
        system.approve_backend(user, 5 * E8S)
    deployed = system.backend.as_caller(ALICE).deploy_token(token_config("ALP", "alice")).unwrap()
    system.backend.admin_set_config("payment.auto_refund", False).unwrap()
    with failing_deployments(system):
        failed = system.backend.as_caller(BOB).deploy_token(token_config("BOB", "bob")).error
    assert isinstance(failed, DeploymentFailed) and failed.refund is not None
    assert failed.refund.status == "AwaitingApproval"
    system.backend.add_admin(CAROL)
    relay = ic.deploy(Relay, None, caller=MALLORY).as_caller(MALLORY)
    return Scene(
        ic, system, deployed.payment_id, deployed.canister_id, failed.payment_id,
        failed.refund.refund_id, relay,
    )  # fmt: skip


# -- helpers ----------------------------------------------------------------------------------


def denials(state: Any) -> int:
    """The ``access_denied`` count of a backend, factory or storage state."""
    if hasattr(state, "counters"):
        return int(state.counters.access_denied)
    return int(state.access_denied)


def forgiven(state: Any) -> Any:
    """``state`` with its ``access_denied`` count at zero, to compare everything else."""
    if hasattr(state, "counters"):
        return attrs.evolve(state, counters=attrs.evolve(state.counters, access_denied=0))
    return attrs.evolve(state, access_denied=0)


def platform(scene: Scene) -> dict[str, Principal]:
    system = scene.system
    return {
        "icp_ledger": system.icp_ledger.id, "backend": system.backend.id,
        "audit_storage": system.audit_storage.id, "invoice_storage": system.invoice_storage.id,
        "token_factory": system.token_factory.id,
    }  # fmt: skip


def states(scene: Scene) -> dict[str, Any]:
    return {name: scene.ic.state_of(canister) for name, canister in platform(scene).items()}


def assert_refused(
    scene: Scene, call: Callable[[], object], *, counted_by: str | None
) -> CallRejected:
    """``call`` is rejected by the canister (4 / IC0406) with "Unauthorized"; no canister made an
    inter-canister call because of it; nothing changed anywhere except ``counted_by``'s
    ``access_denied``, which went up by one (``None``: nothing at all changed)."""
    before, canisters = states(scene), live_canisters(scene.ic)
    scene.ic.trace.clear()
    refusal = rejected(call)
    assert (refusal.reject_code, refusal.error_code) == (RejectCode.CANISTER_REJECT, "IC0406")
    assert "Unauthorized" in refusal.message
    assert scene.ic.trace.calls(kind="call") == []
    after = states(scene)
    for name in before:
        if name == counted_by:
            assert denials(after[name]) == denials(before[name]) + 1, name
            assert forgiven(after[name]) == forgiven(before[name]), name
        else:
            assert after[name] == before[name], name
    assert live_canisters(scene.ic) == canisters
    return refusal


# -- B1: no payment bypass ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "ticket"),
    [("user", None), ("user", "own"), ("operator", None)],
    ids=["a user", "a user replaying a paid ticket", "the factory's controller"],
)
def test_nobody_but_the_backend_deploys_through_the_factory(
    scene: Scene, who: str, ticket: str | None
) -> None:
    caller = MALLORY if who == "user" else scene.system.operator
    kwargs = {} if ticket is None else {"ticket": scene.alice_payment}
    factory = scene.system.token_factory.as_caller(caller)
    refusal = assert_refused(
        scene, lambda: factory.create_contract(caller, token_config("FREE"), **kwargs),
        counted_by="token_factory",
    )  # fmt: skip
    assert "deploy via the backend" in refusal.message
    assert scene.system.token_factory.get_stats().contracts == 1


def test_an_unrelated_canister_cannot_deploy_through_the_factory(scene: Scene) -> None:
    factory = scene.system.token_factory.id
    before = states(scene)
    canisters = live_canisters(scene.ic)
    answer = scene.relay.relay(factory, "create_contract", MALLORY, token_config("FREE"))
    assert answer == ("reject", RejectCode.CANISTER_REJECT, "Unauthorized: deploy via the backend")
    after = states(scene)
    assert denials(after["token_factory"]) == denials(before["token_factory"]) + 1
    assert forgiven(after["token_factory"]) == forgiven(before["token_factory"])
    assert {name: state for name, state in after.items() if name != "token_factory"} == {
        name: state for name, state in before.items() if name != "token_factory"
    }
    assert live_canisters(scene.ic) == canisters


def test_a_deployment_ticket_is_found_only_by_the_backend_that_sent_it(scene: Scene) -> None:
    """Tickets are kept per deployer: anyone else asking about the backend's ticket hears
    "no contract", learns nothing and changes nothing."""
    factory = scene.system.token_factory
    before = states(scene)
    for caller in (ALICE, scene.system.operator):
        assert factory.as_caller(caller).get_deployment(scene.alice_payment) is None
    assert scene.relay.relay(factory.id, "get_deployment", scene.alice_payment) == ("reply", None)
    assert states(scene) == before
    backend_view = factory.as_caller(scene.system.backend.id).get_deployment(scene.alice_payment)
    assert backend_view == scene.alice_contract


# -- the storages: whitelisted writers only ----------------------------------------------------


def invoice_writes(user: Principal, contract: Principal) -> list[tuple[str, tuple[Any, ...]]]:
    """A forged trail a whitelisted writer could record: a paid, linked payment, and a paid
    payment refunded."""
    paid = PaymentDraft(id="pay-forged-1", user=user, service="token_factory", amount=E8S,
                        token=ICP.canister_id)  # fmt: skip
    refunded = attrs.evolve(paid, id="pay-forged-2")
    refund = RefundDraft(id="ref-forged-2", payment_id=refunded.id, user=user, amount=E8S,
                         reason="forged")  # fmt: skip
    return [
        ("create_payment", (paid,)),
        ("set_payment_status", (paid.id, Completed(1))),
        ("link_contract", (paid.id, contract)),
        ("create_payment", (refunded,)),
        ("set_payment_status", (refunded.id, Completed(2))),
        ("create_refund", (refund,)),
        ("set_refund_status", (refund.id, RefundCompleted(3))),
    ]


def audit_writes(user: Principal, contract: Principal) -> list[tuple[str, tuple[Any, ...]]]:
    event = AuditEvent(action=AuditAction.DEPLOYMENT_SUCCEEDED, user=user, contract_id=contract,
                       payment_id="pay-forged-1")  # fmt: skip
    return [("log_event", (event,)), ("log_event", (attrs.evolve(event, ref_id=0),))]


WRITES = {"audit_storage": audit_writes, "invoice_storage": invoice_writes}


@pytest.mark.parametrize("storage", list(WRITES))
@pytest.mark.parametrize("who", ["user", "operator"], ids=["a user", "the operator (controller)"])
def test_only_a_whitelisted_writer_writes_to_a_storage(
    scene: Scene, storage: str, who: str
) -> None:
    caller = ALICE if who == "user" else scene.system.operator
    proxy: CanisterProxy = getattr(scene.system, storage).as_caller(caller)
    assert not proxy.is_whitelisted(caller)
    for method, args in WRITES[storage](caller, scene.alice_contract):
        refusal = assert_refused(
            scene, lambda m=method, a=args: getattr(proxy, m)(*a), counted_by=storage
        )
        assert "only a whitelisted writer may" in refusal.message


@pytest.mark.parametrize("storage", list(WRITES))
def test_the_operator_writes_once_it_whitelists_itself_and_not_after(
    scene: Scene, storage: str
) -> None:
    """The refusals above are the whitelist's doing: the same writes succeed from a writer."""
    operator = scene.system.operator
    proxy: CanisterProxy = getattr(scene.system, storage)
    proxy.add_to_whitelist(operator)
    for method, args in WRITES[storage](operator, scene.alice_contract):
        getattr(proxy, method)(*args)
    proxy.remove_from_whitelist(operator)
    method, args = WRITES[storage](operator, scene.alice_contract)[0]
    assert_refused(scene, lambda: getattr(proxy, method)(*args), counted_by=storage)


@pytest.mark.parametrize("storage", list(WRITES))
@pytest.mark.parametrize(
    ("method", "arg"),
    [("add_to_whitelist", ALICE), ("remove_from_whitelist", None), ("set_admins", (ALICE,))],
)
def test_users_cannot_edit_a_storage_whitelist_or_admins(
    scene: Scene, storage: str, method: str, arg: object
) -> None:
    proxy: CanisterProxy = getattr(scene.system, storage).as_caller(ALICE)
    argument = scene.system.backend.id if arg is None else arg
    refusal = assert_refused(scene, lambda: getattr(proxy, method)(argument), counted_by=storage)
    assert "only an admin may" in refusal.message
    assert proxy.get_whitelist() == (scene.system.backend.id,)
    assert proxy.get_admins() == (scene.system.backend.id,)


# -- the audit trail is append-only (B15) -------------------------------------------------------


def update_methods(code: type[Canister]) -> set[str]:
    return {name for name, spec in code.__icto_methods__.items() if spec.kind == UPDATE}


def test_the_storages_have_no_method_that_edits_or_deletes_a_record() -> None:
    whitelist = {"add_to_whitelist", "remove_from_whitelist", "set_admins"}
    assert update_methods(AuditStorage) == {"log_event"} | whitelist
    assert update_methods(InvoiceStorage) == {
        "create_payment", "set_payment_status", "link_contract", "create_refund",
        "set_refund_status",
    } | whitelist  # fmt: skip


@pytest.mark.parametrize(
    ("storage", "method", "args"),
    [
        ("audit_storage", "update_entry", (0, AuditEvent(action=AuditAction.ADMIN_ACTION))),
        ("audit_storage", "delete_entry", (0,)),
        ("audit_storage", "reset_audit_entries", ()),
        ("audit_storage", "archive_old_records", (0,)),
        ("audit_storage", "log_audit_entry", (AuditEvent(action=AuditAction.ADMIN_ACTION),)),
        ("invoice_storage", "archive_old_records", (0,)),
        ("invoice_storage", "update_payment_record", ("pay-00000001",)),
        ("invoice_storage", "delete_payment", ("pay-00000001",)),
        ("invoice_storage", "update_refund", ("ref-00000004",)),
    ],
)
def test_not_even_a_controller_can_change_or_delete_records(
    scene: Scene, storage: str, method: str, args: tuple[Any, ...]
) -> None:
    target = platform(scene)[storage]
    before = states(scene)
    refusal = rejected(
        lambda: scene.ic.update_call(target, method, *args, caller=scene.system.operator)
    )
    assert (refusal.reject_code, refusal.error_code) == (RejectCode.CANISTER_ERROR, "IC0536")
    assert states(scene) == before


def all_entries(audit: CanisterProxy) -> tuple[AuditEntry, ...]:
    page = audit.query(AuditQuery(descending=False, limit=1000))
    assert page.next_cursor is None
    return tuple(page.items)


def test_audit_ids_are_the_storage_s_own_and_never_reused(scene: Scene) -> None:
    audit = scene.system.audit_storage
    audit.add_to_whitelist(scene.system.operator)
    assert "id" not in attrs.fields_dict(AuditEvent)
    with pytest.raises(TypeError):
        AuditEvent(action=AuditAction.CUSTOM, custom="overwrite", id=0)  # type: ignore[call-arg]
    entries = all_entries(audit)
    # an entry (which carries an id) is not an event: refused at decoding, nothing kept
    forged = attrs.evolve(entries[0], event=AuditEvent(action=AuditAction.CUSTOM, custom="x"))
    before = scene.ic.state_of(audit.id)
    trap = rejected(lambda: audit.log_event(forged))
    assert (trap.reject_code, trap.error_code) == (RejectCode.CANISTER_ERROR, "IC0503")
    assert scene.ic.state_of(audit.id) == before
    # the same event twice is two entries; a correction is a new entry pointing at the old one
    event = AuditEvent(action=AuditAction.CUSTOM, custom="note", user=ALICE)
    first, second = audit.log_event(event), audit.log_event(event)
    correction = audit.log_event(AuditEvent(action=AuditAction.CUSTOM, custom="fix", ref_id=0))
    assert (first, second, correction) == (len(entries), len(entries) + 1, len(entries) + 2)
    assert all_entries(audit)[: len(entries)] == entries
    assert audit.get_entry(correction).event.ref_id == 0
    # and a reference must be to an entry that exists
    ahead = AuditEvent(action=AuditAction.CUSTOM, custom="ahead", ref_id=correction + 1)
    refusal = rejected(lambda: audit.log_event(ahead))
    assert refusal.error_code == "IC0406" and "ref_id" in refusal.message


def test_audit_entries_survive_an_upgrade_by_the_controller(scene: Scene) -> None:
    system, ic = scene.system, scene.ic
    audit = system.audit_storage
    entries = all_entries(audit)
    assert len(entries) >= 6
    refusal = rejected(lambda: ic.upgrade_canister(audit.id, AuditStorage, None, caller=MALLORY))
    assert refusal.error_code == "IC0512"
    ic.upgrade_canister(audit.id, AuditStorage, None, caller=system.operator)
    assert all_entries(audit) == entries
    assert audit.is_whitelisted(system.backend.id)
    system.faucet(CAROL, 10 * E8S)
    system.approve_backend(CAROL, 5 * E8S)
    system.backend.as_caller(CAROL).deploy_token(token_config("CAR", "carol")).unwrap()
    after = all_entries(audit)
    assert after[: len(entries)] == entries
    assert [entry.id for entry in after] == list(range(len(after)))
    assert len(after) == len(entries) + 3


def test_refund_reasons_are_kept_and_a_record_id_cannot_be_overwritten(scene: Scene) -> None:
    """B15: the real InvoiceStorage drops refund reasons and its creates are upserts."""
    invoices = scene.system.invoice_storage
    refund = invoices.get_refund(scene.bob_refund)
    assert refund is not None and refund.reason == FAILED_AT_CREATE_CANISTER
    invoices.add_to_whitelist(scene.system.operator)
    record = invoices.get_payment(scene.alice_payment)
    assert record is not None
    overwrite = PaymentDraft(id=record.id, user=MALLORY, service=record.service, amount=1,
                             token=record.token)  # fmt: skip
    refusal = rejected(lambda: invoices.create_payment(overwrite))
    assert refusal.error_code == "IC0406"
    assert invoices.get_payment(scene.alice_payment) == record


def test_the_backend_keeps_no_copy_of_the_trail(scene: Scene) -> None:
    """B15: the real backend duplicates every audit entry locally, without bound. Here a
    deployment changes only the user's profile, the id counter and the counters."""
    system = scene.system
    system.faucet(CAROL, 10 * E8S)
    system.approve_backend(CAROL, 5 * E8S)
    for symbol in ("CA", "CB"):
        before = scene.ic.state_of(system.backend.id)
        system.backend.as_caller(CAROL).deploy_token(token_config(symbol, "carol")).unwrap()
        after = scene.ic.state_of(system.backend.id)
        changed = {
            field.name for field in attrs.fields(type(after))
            if getattr(after, field.name) != getattr(before, field.name)
        }  # fmt: skip
        assert changed == {"profiles", "next_id", "counters"}


# -- backend admin endpoints ---------------------------------------------------------------------


def _setup(backend: CanisterProxy, scene: Scene, *, hostile: bool) -> object:
    audit = scene.relay.id if hostile else scene.system.audit_storage.id
    return backend.setup_microservices(
        SetupArgs(audit_storage=audit, invoice_storage=scene.system.invoice_storage.id,
                  factories={"token_factory": scene.system.token_factory.id})
    )  # fmt: skip


ADMIN_ENDPOINTS: dict[str, Callable[[CanisterProxy, Scene], object]] = {
    "admin_set_config": lambda b, s: b.admin_set_config("system.maintenance_mode", True),
    "add_admin": lambda b, s: b.add_admin(MALLORY),
    "remove_admin": lambda b, s: b.remove_admin(CAROL),
    "setup_microservices": lambda b, s: _setup(b, s, hostile=b.caller == MALLORY),
    "get_microservice_setup_status": lambda b, s: b.get_microservice_setup_status(),
    "admin_set_user_status": lambda b, s: b.admin_set_user_status(BOB, UserStatus.BANNED),
    "admin_list_pending_refunds": lambda b, s: b.admin_list_pending_refunds(),
    "admin_retry_refund": lambda b, s: b.admin_retry_refund(s.bob_refund),
    "admin_get_profile": lambda b, s: b.admin_get_profile(BOB),
    "flush_outbox": lambda b, s: b.flush_outbox(),
    "admin_list_undelivered": lambda b, s: b.admin_list_undelivered(),
    "get_factory_health": lambda b, s: b.get_factory_health(),
    "get_system_status": lambda b, s: b.get_system_status(),
}


def test_the_admin_endpoints_listed_here_are_every_admin_endpoint() -> None:
    public = {
        "deploy_token", "deploy_multisig", "deploy_distribution", "deploy_dao", "deploy_launchpad",
        "get_config",
        "get_service_fee", "get_fee_recipient", "get_admins", "is_admin", "get_my_profile",
        "get_outbox_size",
        "get_counters",
    }  # fmt: skip
    assert set(Backend.__icto_methods__) == public | set(ADMIN_ENDPOINTS)


@pytest.mark.parametrize("endpoint", list(ADMIN_ENDPOINTS))
def test_every_admin_endpoint_refuses_a_user(scene: Scene, endpoint: str) -> None:
    """An update counts the refusal; a refused query's count is dropped with the rest of its
    writes, as on the IC, so nothing at all changes."""
    is_update = Backend.__icto_methods__[endpoint].kind == UPDATE
    backend = scene.system.backend.as_caller(MALLORY)
    assert_refused(
        scene, lambda: ADMIN_ENDPOINTS[endpoint](backend, scene),
        counted_by="backend" if is_update else None,
    )  # fmt: skip
    if is_update:
        assert (
            f"AccessDenied: {MALLORY}"
            in scene.ic.canister_logs(scene.system.backend.id)[-1].content
        )
    assert scene.system.icp_balance(BOB) == 10 * E8S - 10_000 - 1 * E8S - 10_000


@pytest.mark.parametrize("endpoint", list(ADMIN_ENDPOINTS))
@pytest.mark.parametrize("who", ["controller", "added admin"])
def test_admins_and_controllers_may_use_every_admin_endpoint(
    scene: Scene, endpoint: str, who: str
) -> None:
    caller = scene.system.operator if who == "controller" else CAROL
    backend = scene.system.backend.as_caller(caller)
    counters = backend.get_counters()
    ADMIN_ENDPOINTS[endpoint](backend, scene)
    assert backend.get_counters().access_denied == counters.access_denied


def test_controllers_are_admins_though_not_in_the_admin_list(scene: Scene) -> None:
    """B13: the real backend's listing endpoints give controllers empty results."""
    backend, operator = scene.system.backend, scene.system.operator
    assert backend.get_admins() == (CAROL,)
    assert backend.is_admin(operator) and backend.is_admin(CAROL) and not backend.is_admin(BOB)
    as_operator, as_carol = backend.as_caller(operator), backend.as_caller(CAROL)
    pending = as_operator.admin_list_pending_refunds()
    assert [refund.refund_id for refund in pending] == [scene.bob_refund]
    assert as_carol.admin_list_pending_refunds() == pending
    profile = as_operator.admin_get_profile(BOB)
    assert profile is not None and profile.user == BOB
    assert as_carol.admin_get_profile(BOB) == profile
    assert as_carol.get_microservice_setup_status() == as_operator.get_microservice_setup_status()


def test_a_removed_admin_is_refused_again(scene: Scene) -> None:
    backend = scene.system.backend
    backend.as_caller(CAROL).admin_set_config("system.maintenance_mode", True).unwrap()
    backend.remove_admin(CAROL)
    assert not backend.is_admin(CAROL)
    assert_refused(
        scene, lambda: backend.as_caller(CAROL).admin_set_config("system.maintenance_mode", False),
        counted_by="backend",
    )  # fmt: skip


def test_removing_somebody_who_is_not_an_admin_changes_nothing(scene: Scene) -> None:
    system = scene.system
    before = system.ic.state_of(system.backend.id), system.audit_storage.count()
    system.backend.remove_admin(Principal.from_name("not-an-admin"))
    assert (system.ic.state_of(system.backend.id), system.audit_storage.count()) == before


def test_the_maintenance_timer_is_not_a_public_method(scene: Scene) -> None:
    backend = scene.system.backend.id
    before = states(scene)
    refusal = rejected(lambda: scene.ic.update_call(backend, "_maintain", caller=MALLORY))
    assert refusal.error_code == "IC0536"
    assert states(scene) == before


def test_only_a_controller_upgrades_the_backend(scene: Scene) -> None:
    before = states(scene)
    refusal = rejected(
        lambda: scene.ic.upgrade_canister(scene.system.backend.id, Backend, None, caller=CAROL)
    )
    assert refusal.error_code == "IC0512"
    assert states(scene) == before


# -- B14: privacy --------------------------------------------------------------------------------


def test_a_user_reads_only_their_own_audit_entries(scene: Scene) -> None:
    audit = scene.system.audit_storage.as_caller(ALICE)
    own = audit.query(AuditQuery(user=ALICE)).items
    assert own and all(entry.user == ALICE for entry in own)
    assert {entry.action for entry in own} == {
        AuditAction.DEPLOYMENT_INITIATED, AuditAction.PAYMENT_PROCESSED,
        AuditAction.DEPLOYMENT_SUCCEEDED,
    }  # fmt: skip
    before = states(scene)
    for other in (
        AuditQuery(user=BOB), AuditQuery(), AuditQuery(action=AuditAction.DEPLOYMENT_FAILED),
        AuditQuery(contract_id=scene.alice_contract),
    ):  # fmt: skip
        refusal = rejected(lambda q=other: audit.query(q))
        assert refusal.error_code == "IC0406" and "Unauthorized" in refusal.message
    everything = all_entries(scene.system.audit_storage)
    bobs = [entry for entry in everything if entry.user == BOB]
    assert bobs and all(audit.get_entry(entry.id) is None for entry in bobs)
    assert audit.get_entry(own[0].id) == own[0]
    for reader in (audit.count, audit.get_stats):
        assert rejected(reader).error_code == "IC0406"
    assert states(scene) == before


def test_a_user_reads_only_their_own_payments_and_refunds(scene: Scene) -> None:
    invoices = scene.system.invoice_storage.as_caller(ALICE)
    mine = invoices.get_payments_by_user(ALICE).items
    assert [record.id for record in mine] == [scene.alice_payment]
    assert invoices.get_payment(scene.alice_payment) == mine[0]
    before = states(scene)
    assert invoices.get_payment(scene.bob_payment) is None
    assert invoices.get_refund(scene.bob_refund) is None
    for call in (
        lambda: invoices.get_payments_by_user(BOB),
        lambda: invoices.get_refunds_by_user(BOB),
        lambda: invoices.get_payments_by_status("Completed"),
        lambda: invoices.get_stats(),
    ):  # fmt: skip
        refusal = rejected(call)
        assert refusal.error_code == "IC0406" and "Unauthorized" in refusal.message
    assert states(scene) == before


def test_listing_refunds_is_for_admins_only(scene: Scene) -> None:
    """The real ``adminGetRefundRequests`` has its check commented out: anyone lists every
    refund. Here bob sees his own refund and nobody else's list."""
    backend = scene.system.backend
    invoices = scene.system.invoice_storage
    before = states(scene)
    for user in (ALICE, BOB):
        assert rejected(lambda u=user: backend.as_caller(u).admin_list_pending_refunds())
        refusal = rejected(
            lambda u=user: invoices.as_caller(u).get_refunds_by_status("RefundWaiting")
        )
        assert refusal.error_code == "IC0406"
    assert states(scene) == before
    own = invoices.as_caller(BOB).get_refunds_by_user(BOB).items
    assert [refund.id for refund in own] == [scene.bob_refund]
    listed = invoices.get_refunds_by_status("RefundWaiting").items
    assert [refund.id for refund in listed] == [scene.bob_refund]
    assert [refund.refund_id for refund in backend.admin_list_pending_refunds()] == [
        scene.bob_refund
    ]


FAN_OUT = ("get_microservice_setup_status", "get_factory_health", "get_system_status")


@pytest.mark.parametrize("endpoint", FAN_OUT)
def test_a_user_cannot_make_the_backend_fan_out(scene: Scene, endpoint: str) -> None:
    """B14: the real ``getMicroserviceHealth`` / ``getSystemStatus`` are public updates calling
    every microservice. Here a user's call is refused before any call goes out; an admin's call
    does ask the counterparts."""
    backend = scene.system.backend
    assert_refused(
        scene, lambda: getattr(backend.as_caller(ALICE), endpoint)(), counted_by="backend"
    )
    scene.ic.trace.clear()
    getattr(backend, endpoint)()
    asked = {entry.callee for entry in scene.ic.trace.calls(kind="call", caller=backend.id)}
    assert scene.system.token_factory.id in asked


def test_a_canister_is_refused_like_a_user(scene: Scene) -> None:
    """Calling through a canister of one's own gets nothing more: the canister is the caller."""
    backend = scene.system.backend.id
    before = states(scene)
    scene.ic.trace.clear()
    answer = scene.relay.relay(backend, "get_system_status")
    assert answer == (
        "reject",
        RejectCode.CANISTER_REJECT,
        "Unauthorized: only an admin may read the system status",
    )
    assert [entry.callee for entry in scene.ic.trace.calls(kind="call")] == [backend]
    after = states(scene)
    assert denials(after["backend"]) == denials(before["backend"]) + 1
    assert forgiven(after["backend"]) == forgiven(before["backend"])
