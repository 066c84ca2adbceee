"""Who may do what to a factory and its contracts.

* Only whitelisted backends deploy (``create_contract``); everyone else, including admins and
  other canisters, is refused with ``Reject(UNAUTHORIZED_DEPLOY)`` and counted in
  ``access_denied``.
* Admin operations are for the admin list and the factory's controllers only.
* Callbacks (``notify_*``, ``request_upgrade``) are taken from a registered contract of this
  factory only, and act on the calling contract: its id is the caller, never an argument. A
  contract recorded detached reports nothing more: the factory cannot vouch for it.
* A contract is controlled by its factory and its owner; the owner can detach it.
* A contract takes ``on_deployed`` / ``on_upgraded`` / ``on_visibility_changed`` from its own
  factory only.
* Visibility and code changes of a contract belong to its owner or an admin; auto-update to its
  owner.

Every refusal is checked to change nothing but the ``access_denied`` counter.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from icto import (
    IC,
    MANAGEMENT_ID,
    CallRejected,
    Canister,
    CanisterSettings,
    Err,
    Ok,
    Principal,
    Reject,
    RejectCode,
    update,
)
from icto.factory import (
    UNAUTHORIZED_DEPLOY,
    ContractDetached,
    FactoryState,
    deploy_factory,
)
from icto.ic.proxy import CanisterProxy
from tests.factory.toys import MEMBER, Club, ClubConfig, ClubFactory, ClubV2, ClubV3
from tests.helpers import live_canisters, rejected

ADMIN_ONLY = "Unauthorized: only an admin may"
CONTRACTS_ONLY = "Unauthorized: only a contract of this factory may call"
OWNER_OR_ADMIN = "Unauthorized: only the owner or an admin may"
FACTORY_ONLY = "Unauthorized: only this contract's factory may call"


# -- an unrelated canister ----------------------------------------------------------------------


@attrs.frozen
class Outcome:
    """How a call made by ``Prober`` ended: a reply, or a reject code and message."""

    reply: Any = None
    reject_code: RejectCode | None = None
    message: str | None = None


class Prober(Canister):
    """A canister no factory knows: calls anything and reports the callee's exact answer."""

    VERSION = "1.0.0"

    @update
    def probe(self, target: Principal, method: str, args: tuple[Any, ...] = ()) -> Outcome:
        try:
            return Outcome(reply=self.call(target, method, *args))
        except CallRejected as refusal:
            return Outcome(reject_code=refusal.reject_code, message=refusal.message)


# -- helpers ------------------------------------------------------------------------------------


def factory_state(ic: IC, factory: CanisterProxy) -> FactoryState:
    state: FactoryState = ic.state_of(factory.id)
    return state


def assert_only_denial_counted(before: FactoryState, after: FactoryState, denials: int = 1) -> None:
    """``after`` is ``before`` with ``access_denied`` up by ``denials`` and nothing else changed."""
    assert after.counters.access_denied == before.counters.access_denied + denials
    assert attrs.evolve(after, counters=before.counters) == before


def refused_by_factory(
    ic: IC, factory: CanisterProxy, call: Callable[[], object], message: str
) -> CallRejected:
    """Run a call the factory must refuse directly (caller: a user); check its reject and that
    only ``access_denied`` moved."""
    before = factory_state(ic, factory)
    refusal = rejected(call)
    assert refusal.reject_code == RejectCode.CANISTER_REJECT
    assert refusal.canister_id == factory.id
    assert refusal.message.startswith(message)
    assert_only_denial_counted(before, factory_state(ic, factory))
    return refusal


@pytest.fixture
def prober(ic: IC, principal: Callable[[str], Principal]) -> CanisterProxy:
    return ic.deploy(Prober, caller=principal("prober-deployer"))


@pytest.fixture
def other_factory(ic: IC, admin: Principal, backend: Principal) -> CanisterProxy:
    """A second ``ClubFactory`` with the same admin and backend."""
    return deploy_factory(ic, ClubFactory, backends=[backend], caller=admin)


@pytest.fixture
def foreign_club(
    ic: IC, other_factory: CanisterProxy, backend: Principal, principal: Callable[[str], Principal]
) -> CanisterProxy:
    """A club of the other factory, called as its owner."""
    owner = principal("foreign-owner")
    config = ClubConfig(name="Foreign")
    club = other_factory.as_caller(backend).create_contract(owner, config).unwrap()
    return ic.actor(club, owner)


# -- create_contract: whitelisted backends only -------------------------------------------------


@pytest.mark.parametrize("who", ["user", "anonymous", "controller admin", "listed admin"])
def test_only_a_whitelisted_backend_may_create_a_contract(
    ic: IC, factory: CanisterProxy, admin: Principal, alice: Principal, carol: Principal,
    who: str,
) -> None:  # fmt: skip
    """Users, the anonymous principal and admins (controller or listed) are not backends."""
    factory.as_caller(admin).set_admins((carol,))
    caller = {
        "user": alice,
        "anonymous": Principal.anonymous(),
        "controller admin": admin,
        "listed admin": carol,
    }[who]
    canisters = live_canisters(ic)
    refusal = refused_by_factory(
        ic, factory,
        lambda: factory.as_caller(caller).create_contract(alice, ClubConfig(name="Mine")),
        UNAUTHORIZED_DEPLOY,
    )  # fmt: skip
    assert refusal.message == UNAUTHORIZED_DEPLOY
    stats = factory.get_stats()
    assert (stats.contracts, stats.deployed, stats.access_denied) == (0, 0, 1)
    assert live_canisters(ic) == canisters
    assert factory.as_caller(alice).get_my_contracts(alice).items == ()


def test_another_canister_may_not_create_a_contract(
    ic: IC, factory: CanisterProxy, prober: CanisterProxy, alice: Principal
) -> None:
    before = factory_state(ic, factory)
    canisters = live_canisters(ic)
    outcome = prober.probe(factory.id, "create_contract", (alice, ClubConfig(name="Mine")))
    assert outcome == Outcome(reject_code=RejectCode.CANISTER_REJECT, message=UNAUTHORIZED_DEPLOY)
    assert_only_denial_counted(before, factory_state(ic, factory))
    assert live_canisters(ic) == canisters
    assert factory.get_stats().contracts == 0


def test_a_contract_of_the_factory_may_not_create_a_contract(
    ic: IC, factory: CanisterProxy, create_club: Callable[..., CanisterProxy], alice: Principal
) -> None:
    club = create_club(alice)
    before = factory_state(ic, factory)
    canisters = live_canisters(ic)
    refusal = rejected(
        lambda: club.call_any(factory.id, "create_contract", alice, ClubConfig(name="Spawn"))
    )
    assert refusal.reject_code == RejectCode.CANISTER_ERROR  # the club did not catch the reject
    assert UNAUTHORIZED_DEPLOY in refusal.message
    assert_only_denial_counted(before, factory_state(ic, factory))
    assert live_canisters(ic) == canisters


def test_a_removed_backend_can_no_longer_deploy(
    ic: IC, factory: CanisterProxy, admin: Principal, alice: Principal,
    principal: Callable[[str], Principal],
) -> None:  # fmt: skip
    second = principal("second-backend")
    factory.as_caller(admin).add_backend(second)
    assert factory.is_backend(second)
    first = factory.as_caller(second).create_contract(alice, ClubConfig(name="One"))
    assert isinstance(first, Ok)

    factory.as_caller(admin).remove_backend(second)
    assert not factory.is_backend(second)
    canisters = live_canisters(ic)
    refused_by_factory(
        ic, factory,
        lambda: factory.as_caller(second).create_contract(alice, ClubConfig(name="Two")),
        UNAUTHORIZED_DEPLOY,
    )  # fmt: skip
    assert live_canisters(ic) == canisters
    assert factory.get_stats().contracts == 1


# -- admin operations ---------------------------------------------------------------------------


ADMIN_OPERATIONS = [
    "add_backend",
    "remove_backend",
    "set_admins",
    "pause_factory",
    "resume_factory",
    "set_cycles_per_contract",
    "upload_version",
    "publish_version",
    "cleanup_failed_deployments",
]


def admin_operation(
    name: str, factory: CanisterProxy, admin: Principal, backend: Principal, caller: Principal
) -> Callable[[], object]:
    """Set up what makes ``name`` meaningful (as ``admin``) and return the call as ``caller``."""
    newcomer = Principal.from_name("newcomer")
    if name == "resume_factory":
        factory.as_caller(admin).pause_factory()
    if name == "publish_version":
        factory.as_caller(admin).upload_version("1.1.0", ClubV2, "", False).unwrap()
    proxy = factory.as_caller(caller)
    calls: dict[str, Callable[[], object]] = {
        "add_backend": lambda: proxy.add_backend(newcomer),
        "remove_backend": lambda: proxy.remove_backend(backend),
        "set_admins": lambda: proxy.set_admins((caller,)),
        "pause_factory": lambda: proxy.pause_factory(),
        "resume_factory": lambda: proxy.resume_factory(),
        "set_cycles_per_contract": lambda: proxy.set_cycles_per_contract(1),
        "upload_version": lambda: proxy.upload_version("1.2.0", ClubV3),
        "publish_version": lambda: proxy.publish_version("1.1.0"),
        "cleanup_failed_deployments": lambda: proxy.cleanup_failed_deployments(),
    }
    return calls[name]


@pytest.mark.parametrize("who", ["user", "anonymous", "backend", "contract owner"])
@pytest.mark.parametrize("operation", ADMIN_OPERATIONS)
def test_admin_operations_are_refused_to_non_admins(
    ic: IC, factory: CanisterProxy, admin: Principal, backend: Principal, alice: Principal,
    bob: Principal, create_club: Callable[..., CanisterProxy], operation: str, who: str,
) -> None:  # fmt: skip
    create_club(bob)
    caller = {
        "user": alice,
        "anonymous": Principal.anonymous(),
        "backend": backend,
        "contract owner": bob,
    }[who]
    call = admin_operation(operation, factory, admin, backend, caller)
    refused_by_factory(ic, factory, call, ADMIN_ONLY)


def test_members_of_the_admin_list_may_do_admin_things(
    ic: IC, factory: CanisterProxy, admin: Principal, backend: Principal, carol: Principal,
    principal: Callable[[str], Principal],
) -> None:  # fmt: skip
    assert factory.get_admins() == ()
    factory.as_caller(admin).set_admins((carol,))
    assert factory.get_admins() == (carol,)
    as_carol = factory.as_caller(carol)
    newcomer = principal("newcomer")

    as_carol.add_backend(newcomer)
    assert factory.is_backend(newcomer)
    as_carol.remove_backend(backend)
    assert not factory.is_backend(backend)
    as_carol.pause_factory()
    assert factory.get_stats().paused
    as_carol.resume_factory()
    assert not factory.get_stats().paused
    as_carol.set_cycles_per_contract(3 * 10**12)
    assert factory_state(ic, factory).cycles_per_contract == 3 * 10**12
    assert as_carol.upload_version("1.1.0", ClubV2, "notes", False) == Ok("1.1.0")
    assert factory.get_latest_stable_version() == "1.0.0"
    assert isinstance(as_carol.publish_version("1.1.0"), Ok)
    assert factory.get_latest_stable_version() == "1.1.0"
    assert as_carol.cleanup_failed_deployments() == ()
    assert factory.get_stats().access_denied == 0

    as_carol.set_admins(())
    refused_by_factory(ic, factory, as_carol.pause_factory, ADMIN_ONLY)


def test_controllers_of_the_factory_are_admins(
    ic: IC, factory: CanisterProxy, admin: Principal, principal: Callable[[str], Principal]
) -> None:
    """Not on the admin list, yet admin: the fixture's deployer, and any controller added later
    (and only while it is a controller)."""
    assert factory.get_admins() == ()
    assert admin in ic.controllers_of(factory.id)
    factory.as_caller(admin).pause_factory()
    assert factory.get_stats().paused

    dave = principal("dave")
    refused_by_factory(ic, factory, factory.as_caller(dave).resume_factory, ADMIN_ONLY)
    settings = CanisterSettings(controllers=(admin, dave))
    ic.update_call(MANAGEMENT_ID, "update_settings", factory.id, settings, caller=admin)
    factory.as_caller(dave).resume_factory()
    assert not factory.get_stats().paused

    settings = CanisterSettings(controllers=(admin,))
    ic.update_call(MANAGEMENT_ID, "update_settings", factory.id, settings, caller=admin)
    refused_by_factory(ic, factory, factory.as_caller(dave).pause_factory, ADMIN_ONLY)


# -- callbacks: from a registered contract of this factory only ---------------------------------


@pytest.fixture
def dave(principal: Callable[[str], Principal]) -> Principal:
    return principal("dave")


@pytest.fixture
def club(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: Callable[..., CanisterProxy],
    alice: Principal, dave: Principal,
) -> CanisterProxy:  # fmt: skip
    """Alice's public club with dave as a member; version 1.1.0 is uploaded (stable)."""
    club = create_club(alice, "Alice's", members=(dave,))
    factory.as_caller(admin).upload_version("1.1.0", ClubV2).unwrap()
    return club


def callback_args(name: str, bob: Principal, dave: Principal) -> tuple[Any, ...]:
    return {
        "notify_participant_added": (bob, MEMBER),
        "notify_participant_removed": (dave, MEMBER),
        "notify_visibility_changed": (False,),
        "notify_status_changed": ("closed",),
        "notify_deployment_complete": (),
        "request_upgrade": (None,),
    }[name]


CALLBACKS = [
    "notify_participant_added",
    "notify_participant_removed",
    "notify_visibility_changed",
    "notify_status_changed",
    "notify_deployment_complete",
    "request_upgrade",
]


@pytest.mark.parametrize("callback", CALLBACKS)
def test_callbacks_from_a_user_are_refused(
    ic: IC, factory: CanisterProxy, club: CanisterProxy, admin: Principal, alice: Principal,
    bob: Principal, dave: Principal, callback: str,
) -> None:  # fmt: skip
    """Neither the contract's owner nor a factory admin can speak for a contract."""
    args = callback_args(callback, bob, dave)
    timers = ic.pending_timers()
    for user in (alice, admin):
        refused_by_factory(
            ic, factory, lambda u=user: getattr(factory.as_caller(u), callback)(*args),
            CONTRACTS_ONLY,
        )  # fmt: skip
    assert ic.pending_timers() == timers
    assert factory.get_stats().access_denied == 2


@pytest.mark.parametrize("callback", CALLBACKS)
def test_callbacks_from_an_unrelated_canister_are_refused(
    ic: IC, factory: CanisterProxy, club: CanisterProxy, prober: CanisterProxy, bob: Principal,
    dave: Principal, callback: str,
) -> None:  # fmt: skip
    before = factory_state(ic, factory)
    timers = ic.pending_timers()
    outcome = prober.probe(factory.id, callback, callback_args(callback, bob, dave))
    assert outcome.reject_code == RejectCode.CANISTER_REJECT
    assert outcome.message == f"{CONTRACTS_ONLY} {callback}"
    assert_only_denial_counted(before, factory_state(ic, factory))
    assert ic.pending_timers() == timers


@pytest.mark.parametrize("callback", CALLBACKS)
def test_callbacks_from_a_contract_of_another_factory_are_refused(
    ic: IC, factory: CanisterProxy, other_factory: CanisterProxy, club: CanisterProxy,
    foreign_club: CanisterProxy, bob: Principal, dave: Principal, callback: str,
) -> None:  # fmt: skip
    """A genuine contract, with the same code, deployed by the same backend: but not ours."""
    before = factory_state(ic, factory)
    other_before = factory_state(ic, other_factory)
    timers = ic.pending_timers()
    refusal = rejected(
        lambda: foreign_club.call_any(factory.id, callback, *callback_args(callback, bob, dave))
    )
    assert refusal.reject_code == RejectCode.CANISTER_ERROR  # call_any does not catch the reject
    assert f"{CONTRACTS_ONLY} {callback}" in refusal.message
    assert_only_denial_counted(before, factory_state(ic, factory))
    assert factory_state(ic, other_factory) == other_before
    assert ic.pending_timers() == timers


def test_callbacks_from_the_contract_itself_take_effect(
    ic: IC, factory: CanisterProxy, club: CanisterProxy, alice: Principal, bob: Principal,
    dave: Principal,
) -> None:  # fmt: skip
    """The same calls as above, made by the contract: each changes the contract's entry."""
    me = club.id
    club.call_any(factory.id, "notify_participant_added", bob, MEMBER)
    assert factory.as_caller(bob).get_my_contracts(bob).items[0].roles == (MEMBER,)

    club.call_any(factory.id, "notify_participant_removed", dave, MEMBER)
    assert factory.as_caller(dave).get_my_contracts(dave).items == ()
    assert dict(factory.get_contract_info(me).role_counts) == {MEMBER: 1}

    club.call_any(factory.id, "notify_visibility_changed", False)
    assert factory.as_caller(alice).get_contract_info(me).is_public is False
    assert factory.get_public_contracts().items == ()

    club.call_any(factory.id, "notify_status_changed", "closed")
    assert factory.as_caller(alice).get_contract_info(me).status == "closed"
    club.call_any(factory.id, "notify_deployment_complete")  # only moves "deploying" on
    assert factory.as_caller(alice).get_contract_info(me).status == "closed"

    assert club.call_any(factory.id, "request_upgrade", None) == Ok("1.1.0")
    ic.tick()
    assert ic.code_of(me) is ClubV2
    assert factory.as_caller(alice).get_contract_version(me) == "1.1.0"
    assert club.get_contract_meta().last_upgrade == ("1.1.0", None)
    assert factory.get_stats().access_denied == 0


@pytest.mark.parametrize("callback", ["notify_participant_added", "notify_participant_removed"])
def test_callbacks_name_no_contract(callback: str) -> None:
    """The contract a callback acts on is its caller: there is no parameter to name another."""
    parameters = list(inspect.signature(getattr(ClubFactory, callback)).parameters)
    assert parameters == ["self", "user", "role"]


def test_a_contract_cannot_act_on_another_contract(
    ic: IC, factory: CanisterProxy, create_club: Callable[..., CanisterProxy], alice: Principal,
    bob: Principal, carol: Principal,
) -> None:  # fmt: skip
    """Club A's callbacks change A only; naming B as an extra argument is refused; and A is not
    B's owner, so it cannot manage B either."""
    club_a = create_club(alice, "A")
    club_b = create_club(bob, "B")
    info_b = factory.get_contract_info(club_b.id)

    club_a.call_any(factory.id, "notify_participant_added", carol, MEMBER)
    assert [entry.info.id for entry in factory.as_caller(carol).get_my_contracts(carol).items] == [
        club_a.id
    ]
    assert factory.get_contract_info(club_b.id) == info_b

    before = factory_state(ic, factory)
    refusal = rejected(
        lambda: club_a.call_any(factory.id, "notify_participant_added", carol, MEMBER, club_b.id)
    )
    assert refusal.reject_code == RejectCode.CANISTER_ERROR
    assert factory_state(ic, factory) == before

    for method, args in (
        ("set_contract_visibility", (club_b.id, False)),
        ("upgrade_contract", (club_b.id, None)),
        ("set_auto_update", (club_b.id, True)),
    ):
        before = factory_state(ic, factory)
        refusal = rejected(lambda m=method, a=args: club_a.call_any(factory.id, m, *a))
        assert "Unauthorized" in refusal.message
        assert_only_denial_counted(before, factory_state(ic, factory))
    assert factory.get_contract_info(club_b.id) == info_b


@pytest.mark.parametrize("role", ["president", "creator", "", "Member"])
@pytest.mark.parametrize("callback", ["notify_participant_added", "notify_participant_removed"])
def test_callbacks_with_an_unknown_role_are_refused(
    ic: IC, factory: CanisterProxy, club: CanisterProxy, dave: Principal, callback: str,
    role: str,
) -> None:  # fmt: skip
    """Only the factory's roles are indexed; in particular no contract can make anyone (or
    unmake its owner as) ``creator``. Not an authorization failure: not counted."""
    before = factory_state(ic, factory)
    refusal = rejected(lambda: club.call_any(factory.id, callback, dave, role))
    assert f"unknown role {role!r}" in refusal.message
    assert factory_state(ic, factory) == before


REPORTS = [callback for callback in CALLBACKS if callback != "request_upgrade"]


@pytest.mark.parametrize("callback", REPORTS)
def test_the_reports_of_a_detached_contract_are_refused_and_change_nothing(
    ic: IC, factory: CanisterProxy, club: CanisterProxy, alice: Principal, bob: Principal,
    dave: Principal, callback: str,
) -> None:  # fmt: skip
    """Once the factory has recorded a contract detached, it cannot vouch for what the contract
    says (its owner may run any code on it): its reports are refused, not counted as a denial
    (its outbox resends them), and the index keeps what it had, the roles reported while the
    factory vouched for the contract included (shown under ``detached``)."""
    detach(ic, club, alice)
    assert factory.as_caller(alice).check_controller(club.id) is True
    before = factory_state(ic, factory)
    refusal = rejected(
        lambda: club.call_any(factory.id, callback, *callback_args(callback, bob, dave))
    )
    assert f"ContractDetached: {club.id} is detached from this factory" in refusal.message
    assert factory_state(ic, factory) == before
    [entry] = factory.as_caller(dave).get_my_contracts(dave).items
    assert (entry.roles, entry.info.detached) == ((MEMBER,), True)


def test_a_report_refused_while_detached_reaches_the_index_once_re_attached(
    ic: IC, factory: CanisterProxy, club: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """The contract keeps the refused report in its outbox: when its owner gives the factory
    back control of it, the index catches up with the contract."""
    detach(ic, club, alice)
    assert factory.as_caller(alice).check_controller(club.id) is True
    club.grant(bob)
    assert factory.as_caller(bob).get_my_contracts(bob).items == ()
    settings = CanisterSettings(controllers=(factory.id, alice))
    ic.update_call(MANAGEMENT_ID, "update_settings", club.id, settings, caller=alice)
    assert factory.as_caller(alice).check_controller(club.id) is False
    ic.advance_time(seconds=61)
    assert factory.as_caller(bob).get_my_contracts(bob).items[0].roles == (MEMBER,)


# -- the owner controls its contract ------------------------------------------------------------


def test_the_owner_and_the_factory_control_each_contract(
    ic: IC, factory: CanisterProxy, create_club: Callable[..., CanisterProxy], alice: Principal,
    bob: Principal, backend: Principal,
) -> None:  # fmt: skip
    for owner in (alice, bob):
        club = create_club(owner)
        assert ic.controllers_of(club.id) == (factory.id, owner)
        assert backend not in ic.controllers_of(club.id)


def detach(ic: IC, club: CanisterProxy, owner: Principal) -> None:
    """The owner removes the factory from the contract's controllers."""
    settings = CanisterSettings(controllers=(owner,))
    ic.update_call(MANAGEMENT_ID, "update_settings", club.id, settings, caller=owner)


def test_the_owner_can_detach_the_contract_and_the_factory_can_no_longer_upgrade_it(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: Callable[..., CanisterProxy],
    alice: Principal,
) -> None:  # fmt: skip
    club = create_club(alice)
    factory.as_caller(admin).upload_version("1.1.0", ClubV2).unwrap()
    club.bump()
    detach(ic, club, alice)
    assert ic.controllers_of(club.id) == (alice,)

    assert factory.as_caller(admin).upgrade_contract(club.id) == Err(ContractDetached(club.id))
    info = factory.get_contract_info(club.id)
    assert info.detached is True
    assert info.version == "1.0.0"
    assert ic.code_of(club.id) is Club
    assert club.count() == 1
    history = factory.get_upgrade_history(club.id)
    assert [(r.to_version, r.ok) for r in history] == [("1.1.0", False)]
    assert factory.get_stats().failed_upgrades == 1
    # Once known to be detached, the factory does not even try.
    assert factory.as_caller(alice).upgrade_contract(club.id) == Err(ContractDetached(club.id))
    assert len(factory.get_upgrade_history(club.id)) == 1


def test_check_controller_reports_whether_the_factory_still_controls_the_contract(
    ic: IC, factory: CanisterProxy, create_club: Callable[..., CanisterProxy], alice: Principal,
    bob: Principal,
) -> None:  # fmt: skip
    club = create_club(alice)
    assert factory.as_caller(alice).check_controller(club.id) is False
    detach(ic, club, alice)
    assert factory.get_contract_info(club.id).detached is False  # not known yet
    assert factory.as_caller(alice).check_controller(club.id) is True
    assert factory.get_contract_info(club.id).detached is True

    refused_by_factory(
        ic, factory, lambda: factory.as_caller(bob).check_controller(club.id), OWNER_OR_ADMIN
    )
    settings = CanisterSettings(controllers=(factory.id, alice))
    ic.update_call(MANAGEMENT_ID, "update_settings", club.id, settings, caller=alice)
    assert factory.as_caller(alice).check_controller(club.id) is False
    assert factory.get_contract_info(club.id).detached is False


def test_a_contract_its_owner_deleted_is_recorded_detached_and_unlisted(
    ic: IC, factory: CanisterProxy, create_club: Callable[..., CanisterProxy], alice: Principal,
    bob: Principal,
) -> None:  # fmt: skip
    """The owner, a controller, stops and deletes the contract: ``check_controller`` records it
    as detached and takes it out of the public listing and the auto-updates (it used to be
    rejected there, the index listing a canister that no longer exists for good); the factory
    no longer tries to upgrade it."""
    club = create_club(alice)
    assert factory.as_caller(alice).set_auto_update(club.id, True) is None
    for method in ("stop_canister", "delete_canister"):
        ic.update_call(MANAGEMENT_ID, method, club.id, caller=alice)
    assert factory.as_caller(alice).check_controller(club.id) is True
    info = factory.as_caller(alice).get_contract_info(club.id)
    assert (info.detached, info.is_public, info.auto_update) == (True, False, False)
    assert club.id not in [i.id for i in factory.as_caller(bob).get_public_contracts().items]
    assert factory.as_caller(alice).upgrade_contract(club.id) == Err(ContractDetached(club.id))


def test_nobody_else_can_change_a_contracts_controllers(
    ic: IC, create_club: Callable[..., CanisterProxy], alice: Principal, bob: Principal,
    backend: Principal,
) -> None:  # fmt: skip
    club = create_club(alice)
    for intruder in (bob, backend):
        settings = CanisterSettings(controllers=(intruder,))
        refusal = rejected(
            lambda i=intruder, s=settings: ic.update_call(
                MANAGEMENT_ID, "update_settings", club.id, s, caller=i
            )
        )
        assert refusal.error_code == "IC0512"
    assert alice in ic.controllers_of(club.id)


# -- a contract listens to its own factory only -------------------------------------------------


FACTORY_HOOKS = [
    ("on_upgraded", ("9.9.9", None)),
    ("on_visibility_changed", (False,)),
    ("on_deployed", ()),
]


@pytest.mark.parametrize(("hook", "args"), FACTORY_HOOKS)
@pytest.mark.parametrize("who", ["stranger", "owner", "factory admin", "backend"])
def test_users_cannot_fake_factory_notifications(
    ic: IC, factory: CanisterProxy, club: CanisterProxy, admin: Principal, alice: Principal,
    bob: Principal, backend: Principal, hook: str, args: tuple[Any, ...], who: str,
) -> None:  # fmt: skip
    caller = {"stranger": bob, "owner": alice, "factory admin": admin, "backend": backend}[who]
    meta = club.get_contract_meta()
    before = factory_state(ic, factory)
    refusal = rejected(lambda: getattr(club.as_caller(caller), hook)(*args))
    assert refusal.reject_code == RejectCode.CANISTER_REJECT
    assert refusal.message == f"{FACTORY_ONLY} {hook}"
    assert club.get_contract_meta() == meta
    assert factory_state(ic, factory) == before


@pytest.mark.parametrize(("hook", "args"), FACTORY_HOOKS)
@pytest.mark.parametrize("who", ["sibling contract", "contract of another factory", "prober"])
def test_other_canisters_cannot_fake_factory_notifications(
    ic: IC, factory: CanisterProxy, club: CanisterProxy, create_club: Callable[..., CanisterProxy],
    foreign_club: CanisterProxy, prober: CanisterProxy, bob: Principal, hook: str,
    args: tuple[Any, ...], who: str,
) -> None:  # fmt: skip
    meta = club.get_contract_meta()
    if who == "prober":
        before = factory_state(ic, factory)
        outcome = prober.probe(club.id, hook, args)
        assert outcome == Outcome(
            reject_code=RejectCode.CANISTER_REJECT, message=f"{FACTORY_ONLY} {hook}"
        )
    else:
        relay = create_club(bob, "Sibling") if who == "sibling contract" else foreign_club
        before = factory_state(ic, factory)
        refusal = rejected(lambda: relay.call_any(club.id, hook, *args))
        assert f"{FACTORY_ONLY} {hook}" in refusal.message
    assert club.get_contract_meta() == meta
    assert factory_state(ic, factory) == before


# -- managing a contract: owner or admin; auto-update: owner -------------------------------------


@pytest.fixture
def member_club(
    factory: CanisterProxy, create_club: Callable[..., CanisterProxy], alice: Principal,
    dave: Principal,
) -> CanisterProxy:  # fmt: skip
    """Alice's club with dave as a member."""
    return create_club(alice, "Alice's", members=(dave,))


def manager(who: str, factory: CanisterProxy, admin: Principal, alice: Principal,
            carol: Principal) -> Principal:  # fmt: skip
    if who == "listed admin":
        factory.as_caller(admin).set_admins((carol,))
        return carol
    return {"owner": alice, "controller admin": admin}[who]


def intruder(who: str, dave: Principal, bob: Principal, backend: Principal) -> Principal:
    return {"member": dave, "stranger": bob, "backend": backend}[who]


MANAGERS = ["owner", "controller admin", "listed admin"]
INTRUDERS = ["member", "stranger", "backend"]


@pytest.mark.parametrize("who", MANAGERS)
def test_owner_or_admin_may_set_visibility(
    ic: IC, factory: CanisterProxy, member_club: CanisterProxy, admin: Principal,
    alice: Principal, carol: Principal, who: str,
) -> None:  # fmt: skip
    caller = manager(who, factory, admin, alice, carol)
    assert factory.as_caller(caller).set_contract_visibility(member_club.id, False) == Ok(None)
    assert factory.as_caller(alice).get_contract_info(member_club.id).is_public is False
    assert member_club.get_contract_meta().is_public is False
    assert factory.as_caller(caller).set_contract_visibility(member_club.id, True) == Ok(None)
    assert factory.get_contract_info(member_club.id).is_public is True


@pytest.mark.parametrize("fault", ["trap the factory after the call", "reject the call"])
def test_a_visibility_change_leaves_the_index_and_the_contract_agreeing_after_a_fault(
    ic: IC, factory: CanisterProxy, member_club: CanisterProxy, alice: Principal, fault: str
) -> None:
    """A trap in the factory after the contract took the change keeps both changed (the call
    committed them together); a refused call changes neither."""
    change = lambda: factory.as_caller(alice).set_contract_visibility(  # noqa: E731
        member_club.id, False
    )
    if fault.startswith("trap"):
        with ic.faults.trap(factory.id, "set_contract_visibility") as rule:
            rejected(change)
    else:
        with ic.faults.reject(member_club.id, "on_visibility_changed") as rule:
            assert isinstance(change(), Err)
    assert rule.fired == 1
    indexed = factory.as_caller(alice).get_contract_info(member_club.id).is_public
    assert indexed is member_club.get_contract_meta().is_public is fault.startswith("reject")


def test_a_visibility_change_whose_confirmation_was_lost_reaches_the_index_by_the_outbox(
    ic: IC, factory: CanisterProxy, member_club: CanisterProxy, alice: Principal
) -> None:
    """The contract takes the change, its own confirmation to the factory is refused, and the
    factory's message traps after the call: the contract's outbox brings the index along."""
    with ic.faults.reject(factory.id, "notify_visibility_changed"), ic.faults.trap(
        factory.id, "set_contract_visibility"
    ):  # fmt: skip
        rejected(lambda: factory.as_caller(alice).set_contract_visibility(member_club.id, False))
    assert member_club.get_contract_meta().is_public is False
    assert factory.as_caller(alice).get_contract_info(member_club.id).is_public is True
    ic.advance_time(seconds=61)
    assert factory.as_caller(alice).get_contract_info(member_club.id).is_public is False


class ClubStubborn(Club):
    """Code the factory never uploaded, installed by the owner: it refuses to be unlisted."""

    VERSION = "6.6.6"

    @update
    def on_visibility_changed(self, is_public: bool) -> None:
        raise Reject("this club stays listed")


@pytest.mark.parametrize("who", ["owner", "controller admin"])
def test_a_detached_contract_is_unlisted_without_its_consent_and_never_listed_again(
    ic: IC, factory: CanisterProxy, member_club: CanisterProxy, admin: Principal,
    alice: Principal, bob: Principal, carol: Principal, who: str,
) -> None:  # fmt: skip
    """The public listing is the factory's own: a contract it can no longer vouch for is
    unlisted there without being asked (it could refuse), and cannot be listed again."""
    ic.install_code(member_club.id, ClubStubborn, mode="upgrade", caller=alice)
    assert factory.as_caller(alice).check_controller(member_club.id) is True
    caller = manager(who, factory, admin, alice, carol)
    contract_before = ic.state_of(member_club.id)
    assert factory.as_caller(caller).set_contract_visibility(member_club.id, False) == Ok(None)
    assert factory.as_caller(alice).get_contract_info(member_club.id).is_public is False
    assert factory.as_caller(bob).get_public_contracts().items == ()
    assert ic.state_of(member_club.id) == contract_before

    before = factory_state(ic, factory)
    relist = factory.as_caller(caller).set_contract_visibility(member_club.id, True)
    assert relist == Err(ContractDetached(member_club.id))
    assert factory_state(ic, factory) == before


@pytest.mark.parametrize("who", INTRUDERS)
def test_others_may_not_set_visibility(
    ic: IC, factory: CanisterProxy, member_club: CanisterProxy, bob: Principal, dave: Principal,
    backend: Principal, who: str,
) -> None:  # fmt: skip
    caller = intruder(who, dave, bob, backend)
    meta = member_club.get_contract_meta()
    refused_by_factory(
        ic, factory,
        lambda: factory.as_caller(caller).set_contract_visibility(member_club.id, False),
        OWNER_OR_ADMIN,
    )  # fmt: skip
    assert member_club.get_contract_meta() == meta


@pytest.mark.parametrize("who", MANAGERS)
def test_owner_or_admin_may_upgrade_and_roll_back(
    ic: IC, factory: CanisterProxy, member_club: CanisterProxy, admin: Principal,
    alice: Principal, carol: Principal, who: str,
) -> None:  # fmt: skip
    factory.as_caller(admin).upload_version("1.1.0", ClubV2).unwrap()
    caller = manager(who, factory, admin, alice, carol)
    assert factory.as_caller(caller).upgrade_contract(member_club.id, "1.1.0") == Ok("1.1.0")
    assert ic.code_of(member_club.id) is ClubV2
    assert factory.as_caller(caller).rollback_contract(member_club.id, "1.0.0") == Ok("1.0.0")
    assert ic.code_of(member_club.id) is Club
    history = factory.get_upgrade_history(member_club.id)
    assert [(r.kind, r.to_version, r.ok, r.by) for r in history] == [
        ("upgrade", "1.1.0", True, caller),
        ("rollback", "1.0.0", True, caller),
    ]


@pytest.mark.parametrize("who", INTRUDERS)
def test_others_may_not_upgrade_or_roll_back(
    ic: IC, factory: CanisterProxy, member_club: CanisterProxy, admin: Principal,
    bob: Principal, dave: Principal, backend: Principal, who: str,
) -> None:  # fmt: skip
    factory.as_caller(admin).upload_version("1.1.0", ClubV2).unwrap()
    caller = intruder(who, dave, bob, backend)
    refused_by_factory(
        ic, factory,
        lambda: factory.as_caller(caller).upgrade_contract(member_club.id, "1.1.0"),
        OWNER_OR_ADMIN,
    )  # fmt: skip
    assert ic.code_of(member_club.id) is Club

    factory.as_caller(admin).upgrade_contract(member_club.id, "1.1.0").unwrap()
    refused_by_factory(
        ic, factory,
        lambda: factory.as_caller(caller).rollback_contract(member_club.id, "1.0.0"),
        OWNER_OR_ADMIN,
    )  # fmt: skip
    assert ic.code_of(member_club.id) is ClubV2
    assert len(factory.get_upgrade_history(member_club.id)) == 1


def test_only_the_owner_may_set_auto_update(
    ic: IC, factory: CanisterProxy, member_club: CanisterProxy, admin: Principal,
    alice: Principal, bob: Principal, carol: Principal, dave: Principal, backend: Principal,
) -> None:  # fmt: skip
    factory.as_caller(admin).set_admins((carol,))
    for caller in (admin, carol, dave, bob, backend):
        refused_by_factory(
            ic, factory,
            lambda c=caller: factory.as_caller(c).set_auto_update(member_club.id, True),
            "Unauthorized: only the owner may set auto-update",
        )  # fmt: skip
    assert factory.get_contract_info(member_club.id).auto_update is False

    factory.as_caller(alice).set_auto_update(member_club.id, True)
    assert factory.get_contract_info(member_club.id).auto_update is True
