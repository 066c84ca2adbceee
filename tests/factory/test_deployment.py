"""The deployment flow of ``Factory.create_contract``.

A deployment creates a canister (controllers: the factory and the owner) with
``cycles_per_contract`` attached, installs the latest stable contract code, registers the
contract with its creator and initial roles, and confirms it with ``on_deployed`` (the contract
answers ``notify_deployment_complete``: status ``active``). It is refused up front when the
factory is paused, the config is invalid or the factory cannot pay; and when a step fails
half-way nothing stays indexed and the half-created canister is deleted, or, if even that
fails, listed by ``get_failed_cleanups`` until ``cleanup_failed_deployments`` removes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from icto import (
    IC,
    MANAGEMENT_ID,
    CallRejected,
    Err,
    Ok,
    Principal,
    RejectCode,
    Trap,
)
from icto.factory import (
    ACTIVE,
    CREATOR,
    OWNER_IS_FACTORY,
    DeploymentFailed,
    FactoryPaused,
    FactoryState,
    InsufficientCycles,
    InvalidConfig,
    deploy_factory,
)
from icto.factory.base import DEFAULT_CYCLES_PER_CONTRACT, DEPLOYMENT_MESSAGES_RESERVE
from icto.factory.contract import ContractMetaView
from icto.ic import cycles as costs
from icto.ic.management import FIRST_CANISTER_INDEX
from icto.ic.proxy import CanisterProxy
from tests.factory.toys import MEMBER, Club, ClubConfig, ClubFactory
from tests.helpers import live_canisters

# -- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def dave(principal: Callable[[str], Principal]) -> Principal:
    return principal("dave")


def created_since(ic: IC, known: set[Principal]) -> set[Principal]:
    """Canisters created since ``known`` was taken (deleted ones included: the IC keeps their
    ids)."""
    return set(ic.world.canisters) - known


def factory_state(ic: IC, factory: CanisterProxy) -> FactoryState:
    state: FactoryState = ic.state_of(factory.id)
    return state


def attempt(call: Callable[[], Any]) -> Any:
    """The call's reply, or the ``CallRejected`` it raised (to check the world either way)."""
    try:
        return call()
    except CallRejected as refusal:
        return refusal


def assert_nothing_indexed(factory: CanisterProxy, *users: Principal) -> None:
    stats = factory.get_stats()
    assert (stats.contracts, stats.public_contracts, stats.deployed) == (0, 0, 0)
    assert stats.by_status == ()
    assert factory.get_public_contracts().items == ()
    for user in users:
        mine = factory.as_caller(user).get_my_contracts(user)
        assert (mine.items, mine.total) == ((), 0)
        assert factory.as_caller(user).get_created_contracts(user).items == ()
        assert factory.as_caller(user).get_contracts_by_role(user, MEMBER).items == ()


# -- success ------------------------------------------------------------------------------------


def test_create_contract_returns_the_new_canister_running_the_contract_code(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    known = set(ic.world.canisters)
    result = factory.as_caller(backend).create_contract(alice, ClubConfig(name="Chess"))
    assert isinstance(result, Ok)
    contract = result.value
    assert created_since(ic, known) == {contract}
    assert ic.canister_exists(contract)
    assert ic.code_of(contract) is Club
    assert not ic.is_stopped(contract)
    assert ic.actor(contract, alice).bump() == 1


def test_the_contract_is_controlled_by_the_factory_and_the_owner(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    contract = factory.as_caller(backend).create_contract(alice, ClubConfig(name="C")).unwrap()
    assert ic.controllers_of(contract) == (factory.id, alice)


def test_the_contract_knows_its_factory_and_its_owner(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    """The factory is the installer, the owner the user the backend deployed for."""
    config = ClubConfig(name="C", is_public=False)
    contract = factory.as_caller(backend).create_contract(alice, config).unwrap()
    assert ic.actor(contract).get_contract_meta() == ContractMetaView(
        factory=factory.id, owner=alice, version=Club.VERSION, is_public=False,
        upgrade_requested=None, last_upgrade=None, pending_notifications=0,
    )  # fmt: skip


def test_the_registered_info_describes_the_contract(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal, bob: Principal,
    dave: Principal,
) -> None:  # fmt: skip
    ic.advance_time(days=3, minutes=7)
    deployed_at = ic.time
    config = ClubConfig(name="Go club", members=(bob, dave), is_public=False)
    contract = factory.as_caller(backend).create_contract(alice, config).unwrap()
    info = factory.as_caller(alice).get_contract_info(contract)
    assert info is not None
    assert info.id == contract
    assert info.kind == ClubFactory.KIND == "club"
    assert info.owner == alice != backend
    assert info.name == "Go club"
    assert info.version == ic.code_of(contract).VERSION == "1.0.0"
    assert info.status == ACTIVE
    assert info.created_at == deployed_at
    assert info.is_public is False
    assert dict(info.role_counts) == {MEMBER: 2}
    assert (info.seq, info.auto_update, info.detached) == (0, False, False)


def test_the_creator_and_the_initial_members_are_indexed(
    factory: CanisterProxy, backend: Principal, alice: Principal, bob: Principal,
    dave: Principal, carol: Principal,
) -> None:  # fmt: skip
    config = ClubConfig(name="Go", members=(bob, dave))
    contract = factory.as_caller(backend).create_contract(alice, config).unwrap()

    mine = factory.as_caller(alice).get_my_contracts(alice)
    assert [(e.info.id, e.roles) for e in mine.items] == [(contract, (CREATOR,))]
    assert [i.id for i in factory.as_caller(alice).get_created_contracts(alice).items] == [contract]
    for member in (bob, dave):
        theirs = factory.as_caller(member).get_my_contracts(member)
        assert [(e.info.id, e.roles) for e in theirs.items] == [(contract, (MEMBER,))]
        by_role = factory.as_caller(member).get_contracts_by_role(member, MEMBER)
        assert [i.id for i in by_role.items] == [contract]
    for outsider in (backend, carol):
        assert factory.as_caller(outsider).get_my_contracts(outsider).items == ()


def test_each_deployment_counts_in_the_stats(
    factory: CanisterProxy, create_club: Callable[..., CanisterProxy], alice: Principal,
    bob: Principal,
) -> None:  # fmt: skip
    assert factory.get_stats().deployed == 0
    create_club(alice)
    create_club(bob, is_public=False)
    stats = factory.get_stats()
    assert (stats.contracts, stats.deployed, stats.public_contracts) == (2, 2, 1)
    assert stats.by_status == ((ACTIVE, 2),)
    assert (stats.failed_deployments, stats.access_denied) == (0, 0)


@pytest.mark.parametrize(
    "cycles_per_contract",
    [costs.CANISTER_CREATION + 10**9, DEFAULT_CYCLES_PER_CONTRACT, 5 * 10**12],
)
def test_the_contract_gets_the_attached_cycles_less_the_creation_fee(
    ic: IC, admin: Principal, backend: Principal, alice: Principal, cycles_per_contract: int
) -> None:
    """The factory attaches ``cycles_per_contract`` to ``create_canister``, which keeps the
    creation fee. The contract then pays for one message (``on_deployed``) and one call (its
    ``notify_deployment_complete``). The factory pays the attached cycles, the backend's ingress
    message, three calls (create_canister, install_code, on_deployed) and the
    ``notify_deployment_complete`` message it receives."""
    factory = deploy_factory(
        ic, ClubFactory, backends=[backend], caller=admin, cycles_per_contract=cycles_per_contract
    )
    before = ic.cycles_balance(factory.id)
    contract = factory.as_caller(backend).create_contract(alice, ClubConfig(name="C")).unwrap()
    assert ic.cycles_balance(contract) == (
        cycles_per_contract - costs.CANISTER_CREATION - costs.UPDATE_MESSAGE
        - costs.INTER_CANISTER_CALL
    )  # fmt: skip
    assert before - ic.cycles_balance(factory.id) == (
        cycles_per_contract + costs.INGRESS_MESSAGE + 2 * costs.UPDATE_MESSAGE
        + 3 * costs.INTER_CANISTER_CALL
    )  # fmt: skip


def test_contract_ids_follow_the_ic_canister_numbering(
    factory: CanisterProxy, create_club: Callable[..., CanisterProxy], alice: Principal
) -> None:
    """The factory took the first id; its contracts take the next ones, in order."""
    assert factory.id == Principal.from_canister_index(FIRST_CANISTER_INDEX)
    ids = [create_club(alice, f"C{i}").id for i in range(3)]
    assert ids == [Principal.from_canister_index(FIRST_CANISTER_INDEX + i) for i in (1, 2, 3)]


# -- refused up front ---------------------------------------------------------------------------


def test_a_paused_factory_refuses_to_deploy_until_resumed(
    ic: IC, factory: CanisterProxy, admin: Principal, backend: Principal, alice: Principal
) -> None:
    factory.as_caller(admin).pause_factory()
    canisters = live_canisters(ic)
    balance = ic.cycles_balance(factory.id)
    result = factory.as_caller(backend).create_contract(alice, ClubConfig(name="C"))
    assert result == Err(FactoryPaused())
    assert live_canisters(ic) == canisters
    assert_nothing_indexed(factory, alice)
    assert balance - ic.cycles_balance(factory.id) == costs.UPDATE_MESSAGE + costs.INGRESS_MESSAGE
    assert factory.get_stats().failed_deployments == 0

    factory.as_caller(admin).resume_factory()
    assert isinstance(factory.as_caller(backend).create_contract(alice, ClubConfig(name="C")), Ok)


ANONYMOUS = Principal.anonymous()
ALICE = Principal.from_name("alice")


@pytest.mark.parametrize(
    ("owner", "config", "reasons"),
    [
        pytest.param(ALICE, "Chess", ("expected a ClubConfig, got str",), id="text"),
        pytest.param(ALICE, {"name": "Chess"}, ("expected a ClubConfig, got dict",), id="dict"),
        pytest.param(ALICE, None, ("expected a ClubConfig, got NoneType",), id="none"),
        pytest.param(ALICE, ClubConfig(name=""), ("name must be non-empty text",), id="no-name"),
        pytest.param(
            ANONYMOUS,
            ClubConfig(name="Chess"),
            ("the owner must be an authenticated principal",),
            id="anonymous-owner",
        ),
        pytest.param(
            ANONYMOUS,
            ClubConfig(name=""),
            ("name must be non-empty text", "the owner must be an authenticated principal"),
            id="both",
        ),
    ],
)
def test_an_invalid_config_is_refused_with_every_reason(
    ic: IC, factory: CanisterProxy, backend: Principal, owner: Principal, config: object,
    reasons: tuple[str, ...],
) -> None:  # fmt: skip
    canisters = live_canisters(ic)
    before = factory_state(ic, factory)
    result = factory.as_caller(backend).create_contract(owner, config)
    assert result == Err(InvalidConfig(reasons))
    assert live_canisters(ic) == canisters
    assert factory_state(ic, factory) == before
    assert_nothing_indexed(factory, owner)


def test_the_factory_itself_cannot_be_the_owner(
    ic: IC, factory: CanisterProxy, backend: Principal
) -> None:
    """A contract belongs to a user: owned by its factory, nobody could act as its owner (a
    token's minting account would be the factory's, so nobody could ever mint)."""
    canisters = live_canisters(ic)
    before = factory_state(ic, factory)
    result = factory.as_caller(backend).create_contract(factory.id, ClubConfig(name="Chess"))
    assert result == Err(InvalidConfig((OWNER_IS_FACTORY,)))
    assert live_canisters(ic) == canisters
    assert factory_state(ic, factory) == before
    assert_nothing_indexed(factory, factory.id)


def test_a_factory_without_enough_cycles_refuses_to_deploy(
    ic: IC, admin: Principal, backend: Principal, alice: Principal
) -> None:
    factory = deploy_factory(ic, ClubFactory, backends=[backend], caller=admin, cycles=10**12)
    canisters = live_canisters(ic)
    balance = ic.cycles_balance(factory.id)
    result = factory.as_caller(backend).create_contract(alice, ClubConfig(name="C"))
    # What the factory sees: its balance less the fee of the message it is running.
    seen = balance - costs.UPDATE_MESSAGE - costs.INGRESS_MESSAGE
    required = DEFAULT_CYCLES_PER_CONTRACT + DEPLOYMENT_MESSAGES_RESERVE
    assert result == Err(InsufficientCycles(required, seen))
    assert ic.cycles_balance(factory.id) == seen
    assert live_canisters(ic) == canisters
    assert_nothing_indexed(factory, alice)


@pytest.fixture
def lean_factory(ic: IC, admin: Principal, backend: Principal) -> CanisterProxy:
    """A factory whose whole balance is below the most a contract may be given."""
    return deploy_factory(ic, ClubFactory, backends=[backend], caller=admin, cycles=50 * 10**12)


def test_a_balance_that_covers_the_contract_but_not_the_calls_is_refused_up_front(
    ic: IC, lean_factory: CanisterProxy, admin: Principal, backend: Principal, alice: Principal
) -> None:
    """The deployment's own calls cost cycles too: the check counts them, so the backend gets
    ``InsufficientCycles`` rather than a failure half-way."""
    factory = lean_factory
    seen = ic.cycles_balance(factory.id) - costs.UPDATE_MESSAGE - costs.INGRESS_MESSAGE
    factory.as_caller(admin).set_cycles_per_contract(seen - costs.UPDATE_MESSAGE).unwrap()
    seen -= costs.UPDATE_MESSAGE + costs.INGRESS_MESSAGE
    result = factory.as_caller(backend).create_contract(alice, ClubConfig(name="C"))
    assert isinstance(result, Err)
    assert isinstance(result.error, InsufficientCycles)
    assert_nothing_indexed(factory, alice)


def test_raising_cycles_per_contract_above_the_balance_stops_deployments(
    ic: IC, lean_factory: CanisterProxy, admin: Principal, backend: Principal, alice: Principal
) -> None:
    factory = lean_factory
    required = ic.cycles_balance(factory.id) + 1
    factory.as_caller(admin).set_cycles_per_contract(required).unwrap()
    canisters = live_canisters(ic)
    result = factory.as_caller(backend).create_contract(alice, ClubConfig(name="C"))
    assert isinstance(result, Err)
    assert isinstance(result.error, InsufficientCycles)
    assert result.error.required == required + DEPLOYMENT_MESSAGES_RESERVE
    assert result.error.available < required
    assert live_canisters(ic) == canisters
    assert_nothing_indexed(factory, alice)
    assert not factory.health().healthy


def test_cycles_per_contract_below_the_creation_fee_fails_at_create_canister(
    ic: IC, factory: CanisterProxy, admin: Principal, backend: Principal, alice: Principal
) -> None:
    """The management canister refuses; the attached cycles come back to the factory."""
    factory.as_caller(admin).set_cycles_per_contract(costs.CANISTER_CREATION - 1)
    canisters = live_canisters(ic)
    balance = ic.cycles_balance(factory.id)
    result = factory.as_caller(backend).create_contract(alice, ClubConfig(name="C"))
    assert isinstance(result, Err)
    assert isinstance(result.error, DeploymentFailed)
    assert result.error.step == "create_canister"
    assert str(costs.CANISTER_CREATION) in result.error.reason
    assert live_canisters(ic) == canisters
    assert balance - ic.cycles_balance(factory.id) == (
        costs.UPDATE_MESSAGE + costs.INGRESS_MESSAGE + costs.INTER_CANISTER_CALL
    )
    assert_nothing_indexed(factory, alice)
    assert factory.get_stats().failed_deployments == 1


# -- failing half-way: cleanup ------------------------------------------------------------------


FAULT_POINTS = [
    pytest.param("reject", "management", "create_canister", "create_canister", id="reject-create"),
    pytest.param("trap", "management", "create_canister", "create_canister", id="trap-create"),
    pytest.param("reject", "management", "install_code", "install_code", id="reject-install"),
    pytest.param("trap", "management", "install_code", "install_code", id="trap-install"),
    pytest.param("reject", "any", "on_deployed", "on_deployed", id="reject-on_deployed"),
    pytest.param("trap", "any", "on_deployed", "on_deployed", id="trap-on_deployed"),
    pytest.param(
        "reject",
        "factory",
        "notify_deployment_complete",
        "on_deployed",
        id="reject-notify_deployment_complete",
    ),
]


def inject(
    ic: IC, factory: CanisterProxy, kind: str, where: str, method: str, times: int | None = 1
) -> Any:
    canister = {"management": MANAGEMENT_ID, "any": None, "factory": factory.id}[where]
    if kind == "reject":
        return ic.faults.reject(canister, method, times=times)
    return ic.faults.trap(canister, method, times=times)


@pytest.mark.parametrize(("kind", "where", "method", "step"), FAULT_POINTS)
def test_a_failed_step_leaves_nothing_behind(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal, dave: Principal,
    kind: str, where: str, method: str, step: str,
) -> None:  # fmt: skip
    known = set(ic.world.canisters)
    config = ClubConfig(name="Doomed", members=(dave,))
    with inject(ic, factory, kind, where, method) as rule:
        result = factory.as_caller(backend).create_contract(alice, config)
    assert rule.fired == 1
    assert isinstance(result, Err), result
    assert isinstance(result.error, DeploymentFailed)
    assert result.error.step == step
    assert "injected" in result.error.reason

    for canister in created_since(ic, known):
        assert not ic.canister_exists(canister)
    assert_nothing_indexed(factory, alice, dave)
    stats = factory.get_stats()
    assert (stats.failed_deployments, stats.access_denied) == (1, 0)
    assert factory.get_failed_cleanups() == ()
    assert len(factory_state(ic, factory).deploying) == 0
    assert factory.health().healthy

    # The fault is gone: the same deployment now succeeds.
    assert isinstance(factory.as_caller(backend).create_contract(alice, config), Ok)
    assert factory.get_stats().contracts == 1


@pytest.mark.parametrize("cleanup_method", ["stop_canister", "delete_canister"])
@pytest.mark.parametrize(
    ("where", "method", "step"),
    [
        pytest.param("management", "install_code", "install_code", id="install"),
        pytest.param("any", "on_deployed", "on_deployed", id="on_deployed"),
    ],
)
def test_a_canister_that_cannot_be_deleted_is_listed_and_cleaned_up_later(
    ic: IC, factory: CanisterProxy, admin: Principal, backend: Principal, alice: Principal,
    dave: Principal, where: str, method: str, step: str, cleanup_method: str,
) -> None:  # fmt: skip
    known = set(ic.world.canisters)
    config = ClubConfig(name="Doomed", members=(dave,))
    with (
        inject(ic, factory, "reject", where, method),
        ic.faults.reject(MANAGEMENT_ID, cleanup_method, message="cleanup refused", times=None),
    ):
        result = factory.as_caller(backend).create_contract(alice, config)
        assert isinstance(result, Err), result
        assert isinstance(result.error, DeploymentFailed)
        assert result.error.step == step
        (leftover,) = created_since(ic, known)
        assert ic.canister_exists(leftover)
        assert factory.get_failed_cleanups() == ((leftover, "cleanup refused"),)
        assert_nothing_indexed(factory, alice, dave)
        assert factory.get_stats().failed_deployments == 1
        health = factory.health()
        assert not health.healthy
        assert "1 failed deployments to clean up" in health.issues
        # While the IC still refuses, a cleanup deletes nothing and keeps the entry.
        assert factory.as_caller(admin).cleanup_failed_deployments() == ()
        assert factory.get_failed_cleanups() == ((leftover, "cleanup refused"),)
        assert ic.canister_exists(leftover)

    assert factory.as_caller(admin).cleanup_failed_deployments() == (leftover,)
    assert not ic.canister_exists(leftover)
    assert factory.get_failed_cleanups() == ()
    assert factory.health().healthy
    assert_nothing_indexed(factory, alice, dave)


def test_a_leftover_contract_is_not_a_contract_of_the_factory(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal, bob: Principal
) -> None:
    """A contract abandoned at ``on_deployed`` but not deleted still runs and still names the
    factory, yet the factory no longer takes its callbacks."""
    known = set(ic.world.canisters)
    with (
        ic.faults.reject(None, "on_deployed"),
        ic.faults.reject(MANAGEMENT_ID, "stop_canister"),
    ):
        result = factory.as_caller(backend).create_contract(alice, ClubConfig(name="Ghost"))
    assert isinstance(result, Err), result
    (leftover,) = created_since(ic, known)
    ghost = ic.actor(leftover, alice)
    assert ghost.get_contract_meta().factory == factory.id

    denied = factory.get_stats().access_denied
    ghost.grant(bob)
    assert factory.get_stats().access_denied == denied + 1
    assert factory.as_caller(bob).get_my_contracts(bob).items == ()
    assert ghost.get_contract_meta().pending_notifications == 1


class DraftTrapsFactory(ClubFactory):
    """A domain factory whose ``draft`` traps: the deployment dies after installing the code."""

    def draft(self, owner: Principal, config: ClubConfig) -> Any:
        raise Trap("draft failed")


def test_a_deployment_that_traps_half_way_is_cleaned_up_by_the_admin(
    ic: IC, admin: Principal, backend: Principal, alice: Principal
) -> None:
    """The trap rolls back only the last segment: the canister created and installed before it
    stays, recorded as deploying, and ``cleanup_failed_deployments`` deletes it."""
    factory = deploy_factory(ic, DraftTrapsFactory, backends=[backend], caller=admin)
    known = set(ic.world.canisters)
    refusal = attempt(
        lambda: factory.as_caller(backend).create_contract(alice, ClubConfig(name="C"))
    )
    assert isinstance(refusal, CallRejected)
    assert refusal.reject_code == RejectCode.CANISTER_ERROR
    assert "draft failed" in refusal.message
    (leftover,) = created_since(ic, known)
    assert ic.code_of(leftover) is Club
    assert dict(factory_state(ic, factory).deploying) == {leftover: alice}
    assert_nothing_indexed(factory, alice)

    assert attempt(factory.as_caller(admin).cleanup_failed_deployments) == (leftover,)
    assert not ic.canister_exists(leftover)
    assert len(factory_state(ic, factory).deploying) == 0
    assert factory.get_failed_cleanups() == ()


@pytest.mark.parametrize("refused", ["stop_canister", "delete_canister", None])
def test_a_cleanup_cut_by_a_trap_leaves_the_canister_to_the_admin(
    ic: IC, factory: CanisterProxy, admin: Principal, backend: Principal, alice: Principal,
    refused: str | None,
) -> None:  # fmt: skip
    """A deployment fails at ``on_deployed``, its cleanup is refused (or not) and the factory's
    message then traps: the canister stays listed as deploying until it is gone, so
    ``cleanup_failed_deployments`` finds it (it used to be in no list, a live canister with the
    factory's cycles that nothing would delete); one the trapped cleanup did delete counts as
    gone."""
    known = set(ic.world.canisters)
    with (
        ic.faults.reject(None, "on_deployed"),
        ic.faults.reject(MANAGEMENT_ID, refused or "no such method"),
        ic.faults.trap(factory.id, "create_contract"),
    ):
        attempt(lambda: factory.as_caller(backend).create_contract(alice, ClubConfig(name="C")))
    (leftover,) = created_since(ic, known)
    assert ic.canister_exists(leftover) is (refused is not None)
    assert dict(factory_state(ic, factory).deploying) == {leftover: alice}
    assert_nothing_indexed(factory, alice)
    deleted = factory.as_caller(admin).cleanup_failed_deployments()
    assert deleted == (leftover,)
    assert not ic.canister_exists(leftover)
    assert len(factory_state(ic, factory).deploying) == 0
    assert factory.get_failed_cleanups() == ()


def test_a_trap_in_a_later_install_does_not_disturb_earlier_contracts(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal, bob: Principal,
    carol: Principal, dave: Principal, create_club: Callable[..., CanisterProxy],
) -> None:  # fmt: skip
    first = create_club(alice, "First", members=(dave,))
    second = create_club(bob, "Second", is_public=False)
    first.bump()
    infos = {c.id: factory.as_caller(c.caller).get_contract_info(c.id) for c in (first, second)}
    listings = {u: factory.as_caller(u).get_my_contracts(u) for u in (alice, bob, dave)}
    states = {c.id: ic.state_of(c.id) for c in (first, second)}

    with ic.faults.trap(MANAGEMENT_ID, "install_code") as rule:
        result = attempt(
            lambda: factory.as_caller(backend).create_contract(carol, ClubConfig(name="Third"))
        )
    assert rule.fired == 1

    for club in (first, second):
        assert ic.code_of(club.id) is Club
        assert ic.controllers_of(club.id) == (factory.id, club.caller)
        assert ic.state_of(club.id) == states[club.id]
        assert factory.as_caller(club.caller).get_contract_info(club.id) == infos[club.id]
    for user, listing in listings.items():
        assert factory.as_caller(user).get_my_contracts(user) == listing
    assert factory.as_caller(carol).get_my_contracts(carol).items == ()
    stats = factory.get_stats()
    assert (stats.contracts, stats.deployed, stats.by_status) == (2, 2, ((ACTIVE, 2),))
    # The earlier contracts still work with their factory.
    assert first.bump() == 2
    first.grant(carol)
    assert [e.info.id for e in factory.as_caller(carol).get_my_contracts(carol).items] == [first.id]

    assert isinstance(result, Err), result
    assert result.error.step == "install_code"
    assert stats.failed_deployments == 1


# -- determinism --------------------------------------------------------------------------------


def scenario(ic: IC) -> tuple[Any, ...]:
    """Deploy a factory and some clubs (one attempt failing at create_canister); summarise."""
    admin, backend = Principal.from_name("factory-admin"), Principal.from_name("backend")
    alice, bob = Principal.from_name("alice"), Principal.from_name("bob")
    factory = deploy_factory(ic, ClubFactory, backends=[backend], caller=admin)
    deploy = factory.as_caller(backend).create_contract
    results = [deploy(alice, ClubConfig(name="A", members=(bob,)))]
    ic.advance_time(minutes=5)
    with ic.faults.reject(MANAGEMENT_ID, "create_canister"):
        results.append(deploy(bob, ClubConfig(name="Lost")))
    results.append(deploy(bob, ClubConfig(name="B", is_public=False)))
    ic.actor(results[0].value, alice).grant(alice)
    records = tuple(
        (r.canister_id, r.code, r.state, r.controllers, r.status, r.cycles)
        for r in sorted(ic.world.canisters.values(), key=lambda r: r.canister_id)
    )
    return factory.id, tuple(results), factory.get_stats(), ic.time, records


def test_the_whole_flow_is_deterministic() -> None:
    """Two fresh ICs driven alike end alike: same ids, same results, same canisters."""
    first, second = scenario(IC()), scenario(IC())
    assert first == second
    _, results, stats, _, records = first
    assert [type(r) for r in results] == [Ok, Err, Ok]
    assert results[0].value != results[2].value
    assert (stats.contracts, stats.deployed, stats.failed_deployments) == (2, 2, 1)
    assert len(records) == 3
