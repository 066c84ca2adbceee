"""Who may write to and administer either storage.

* Admins are the controllers and the admin list. Only they edit the whitelist and the admin
  list; nobody else, writers included.
* Only whitelisted principals write. Being a controller or an admin is not enough.
* Every refused update changes nothing but the ``access_denied`` counter, and is logged.
* Anyone may ask who is whitelisted and how the storage is doing (``health``).

Every test runs against both storages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from icto import IC, CallRejected, Principal, RejectCode
from icto.ic.proxy import CanisterProxy
from icto.storage import (
    AuditAction,
    AuditEvent,
    AuditStorage,
    InvoiceStorage,
    PaymentDraft,
    StorageBase,
    StorageInit,
    deploy_storage,
)
from tests.helpers import rejected

TOKEN = Principal.from_canister_index(900)


def write_audit(storage: CanisterProxy, user: Principal) -> object:
    return storage.log_event(AuditEvent(action=AuditAction.ADMIN_ACTION, user=user))


def write_invoice(storage: CanisterProxy, user: Principal) -> object:
    draft = PaymentDraft(id=f"pay-{user}", user=user, service="token", amount=1, token=TOKEN)
    return storage.create_payment(draft)


STORAGES = [
    pytest.param((AuditStorage, write_audit), id="audit"),
    pytest.param((InvoiceStorage, write_invoice), id="invoice"),
]

Write = Callable[[CanisterProxy, Principal], object]


@pytest.fixture(params=STORAGES)
def kind(request: pytest.FixtureRequest) -> tuple[type[StorageBase], Write]:
    code_and_write: tuple[type[StorageBase], Write] = request.param
    return code_and_write


@pytest.fixture
def code(kind: tuple[type[StorageBase], Write]) -> type[StorageBase]:
    return kind[0]


@pytest.fixture
def write(kind: tuple[type[StorageBase], Write]) -> Write:
    return kind[1]


@pytest.fixture
def storage(
    ic: IC, code: type[StorageBase], admin: Principal, backend: Principal, carol: Principal
) -> CanisterProxy:
    """Controlled by ``admin``, ``carol`` in the admin list, ``backend`` whitelisted."""
    return deploy_storage(ic, code, writers=[backend], admins=[carol], caller=admin)


def refused_and_counted(ic: IC, storage: CanisterProxy, call: Callable[[], Any]) -> CallRejected:
    """``call`` is rejected by the storage, logged, and only ``access_denied`` moved (by one)."""
    before = ic.state_of(storage.id)
    logged = len(ic.canister_logs(storage.id))
    refusal = rejected(call)
    assert refusal.reject_code == RejectCode.CANISTER_REJECT
    assert refusal.message.startswith("Unauthorized")
    after = ic.state_of(storage.id)
    assert after.access_denied == before.access_denied + 1
    assert attrs.evolve(after, access_denied=before.access_denied) == before
    logs = ic.canister_logs(storage.id)
    assert len(logs) == logged + 1
    assert logs[-1].content.startswith("AccessDenied: ")
    return refusal


class TestEditingTheWhitelist:
    def test_the_whitelist_starts_with_the_init_writers(self, storage, backend):
        assert storage.get_whitelist() == (backend,)
        assert storage.is_whitelisted(backend)

    @pytest.mark.parametrize("editor", ["admin", "carol"], ids=["controller", "listed-admin"])
    def test_an_admin_adds_and_removes_writers(self, request, storage, editor, backend, bob):
        as_editor = storage.as_caller(request.getfixturevalue(editor))
        as_editor.add_to_whitelist(bob)
        assert storage.get_whitelist() == tuple(sorted((backend, bob)))
        assert storage.is_whitelisted(bob)
        as_editor.remove_from_whitelist(backend)
        assert storage.get_whitelist() == (bob,)
        assert not storage.is_whitelisted(backend)

    def test_adding_twice_and_removing_an_absent_writer_are_no_ops(self, ic, storage, admin, bob):
        storage.as_caller(admin).add_to_whitelist(bob)
        before = ic.state_of(storage.id)
        storage.as_caller(admin).add_to_whitelist(bob)
        storage.as_caller(admin).remove_from_whitelist(Principal.from_name("nobody"))
        assert ic.state_of(storage.id) == before

    @pytest.mark.parametrize("who", ["backend", "alice"], ids=["writer", "stranger"])
    @pytest.mark.parametrize(
        "method", ["add_to_whitelist", "remove_from_whitelist"], ids=["add", "remove"]
    )
    def test_anyone_but_an_admin_is_refused_and_counted(
        self, request, ic, storage, who, method, backend
    ):
        edit = getattr(storage.as_caller(request.getfixturevalue(who)), method)
        refused_and_counted(ic, storage, lambda: edit(backend))
        assert storage.get_whitelist() == (backend,)

    def test_set_admins_replaces_the_list_but_controllers_stay_admins(
        self, ic, storage, admin, carol, dave, bob
    ):
        storage.as_caller(carol).set_admins((dave,))
        assert storage.get_admins() == (dave,)
        refused_and_counted(ic, storage, lambda: storage.as_caller(carol).add_to_whitelist(bob))
        storage.as_caller(dave).add_to_whitelist(bob)
        storage.as_caller(admin).set_admins(())
        storage.as_caller(admin).remove_from_whitelist(bob)
        assert not storage.is_whitelisted(bob)

    @pytest.mark.parametrize("who", ["backend", "alice"], ids=["writer", "stranger"])
    def test_only_an_admin_sets_admins(self, request, ic, storage, who, carol):
        caller = request.getfixturevalue(who)
        refused_and_counted(ic, storage, lambda: storage.as_caller(caller).set_admins((caller,)))
        assert storage.get_admins() == (carol,)

    def test_a_refusal_is_logged_with_the_caller(self, ic, storage, alice, bob):
        rejected(lambda: storage.as_caller(alice).add_to_whitelist(bob))
        line = ic.canister_logs(storage.id)[-1].content
        assert line.startswith(f"AccessDenied: {alice} Unauthorized: only an admin may")


class TestWriting:
    def test_a_whitelisted_writer_writes(self, storage, write, backend, alice):
        write(storage.as_caller(backend), alice)

    @pytest.mark.parametrize(
        "who", ["alice", "admin", "carol"], ids=["stranger", "controller", "listed-admin"]
    )
    def test_nobody_off_the_whitelist_writes_controllers_and_admins_included(
        self, request, ic, storage, write, who, alice
    ):
        caller = request.getfixturevalue(who)
        refusal = refused_and_counted(ic, storage, lambda: write(storage.as_caller(caller), alice))
        assert refusal.message.startswith("Unauthorized: only a whitelisted writer may")

    def test_a_removed_writer_stops_writing_and_its_records_stay(
        self, ic, storage, write, admin, backend, alice, bob
    ):
        write(storage.as_caller(backend), alice)
        health = storage.health()
        storage.as_caller(admin).remove_from_whitelist(backend)
        refused_and_counted(ic, storage, lambda: write(storage.as_caller(backend), bob))
        assert storage.health().records == health.records == 1

    def test_a_controller_writes_once_it_whitelists_itself(self, storage, write, admin, alice):
        storage.as_caller(admin).add_to_whitelist(admin)
        write(storage.as_caller(admin), alice)

    def test_denials_show_in_the_stats(self, storage, write, admin, alice):
        for _ in range(2):
            rejected(lambda: write(storage.as_caller(alice), alice))
        assert storage.as_caller(admin).get_stats().access_denied == 2


class TestPrivilegedReads:
    def test_a_stranger_reads_no_stats(self, storage, alice):
        refusal = rejected(lambda: storage.as_caller(alice).get_stats())
        assert refusal.message.startswith("Unauthorized: only a writer or an admin may")

    @pytest.mark.parametrize("who", ["backend", "admin", "carol"])
    def test_writers_and_admins_read_the_stats(self, request, storage, who):
        storage.as_caller(request.getfixturevalue(who)).get_stats()


class TestInstallAndHealth:
    def test_health_is_for_anyone(self, ic, storage, code, alice):
        health = storage.as_caller(alice).health()
        assert health.kind == ("audit" if code is AuditStorage else "invoice")
        assert (health.records, health.writers, health.version) == (0, 1, "1.0.0")
        assert health.cycles == ic.cycles_balance(storage.id)

    def test_no_init_argument_means_no_writers_and_no_listed_admins(self, ic, code, admin):
        storage = ic.deploy(code, caller=admin)
        assert storage.get_whitelist() == storage.get_admins() == ()

    @pytest.mark.parametrize(
        "arg", [("backend",), StorageInit(writers=("backend",))], ids=["not-init", "not-principal"]
    )
    def test_a_malformed_init_argument_fails_the_install(self, ic, code, admin, arg):
        refusal = rejected(lambda: ic.deploy(code, arg, caller=admin))
        assert refusal.error_code == "IC0503"
