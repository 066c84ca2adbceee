"""Deployment tickets: how a deployer that lost the reply learns what its request did.

``create_contract(owner, config, ticket=t)`` records ``t`` with the contract it registers;
``get_deployment(t)`` (backends only) answers that contract, or ``None`` if the request left no
contract (refused, failed and cleaned up, or never arrived). Tickets are kept per backend: a
request repeating a ticket that already names a contract returns that contract instead of
deploying twice, but only when it is the same request (same owner, same config); otherwise it is
a ``TicketMismatch`` and nothing changes.
"""

from __future__ import annotations

import pytest

from icto import IC, MANAGEMENT_ID, Err, Ok, Principal
from icto.factory import DeploymentFailed
from icto.factory.tickets import MAX_TICKET, config_digest
from icto.factory.types import InvalidConfig, TicketMismatch
from icto.ic.proxy import CanisterProxy
from tests.factory.toys import ClubConfig
from tests.helpers import live_canisters, rejected

CONFIG = ClubConfig(name="Club")


def test_a_ticket_names_the_contract_it_deployed(
    factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    club = factory.as_caller(backend).create_contract(alice, CONFIG, ticket="t-1").unwrap()
    assert factory.as_caller(backend).get_deployment("t-1") == club
    assert factory.as_caller(backend).get_deployment("t-2") is None


def test_a_repeated_ticket_returns_the_same_contract_without_deploying_again(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    first = factory.as_caller(backend).create_contract(alice, CONFIG, ticket="t-1").unwrap()
    canisters = live_canisters(ic)
    again = factory.as_caller(backend).create_contract(alice, CONFIG, ticket="t-1")
    assert again == Ok(first)
    assert live_canisters(ic) == canisters
    assert factory.as_caller(alice).get_my_contracts(alice).total == 1


def test_a_failed_deployment_leaves_its_ticket_naming_nothing(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    with ic.faults.reject(canister=MANAGEMENT_ID, method="install_code"):
        result = factory.as_caller(backend).create_contract(alice, CONFIG, ticket="t-1")
    assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed)
    assert factory.as_caller(backend).get_deployment("t-1") is None
    retried = factory.as_caller(backend).create_contract(alice, CONFIG, ticket="t-1").unwrap()
    assert factory.as_caller(backend).get_deployment("t-1") == retried


def test_a_contract_that_refuses_its_confirmation_frees_its_ticket(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    with ic.faults.trap(method="on_deployed"):
        result = factory.as_caller(backend).create_contract(alice, CONFIG, ticket="t-1")
    assert isinstance(result, Err) and result.error.step == "on_deployed"
    assert factory.as_caller(backend).get_deployment("t-1") is None
    assert ic.state_of(factory.id).tickets.get((backend, "t-1")) is None


def test_a_trap_after_registration_keeps_the_ticket_so_the_deployer_can_find_the_contract(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    """The factory's last segment traps after the contract was registered and confirmed (the
    calls committed it): the deployer sees a reject, yet the contract exists and is indexed."""
    with ic.faults.trap(canister=factory.id, method="create_contract"):
        rejected(lambda: factory.as_caller(backend).create_contract(alice, CONFIG, ticket="t-1"))
    club = factory.as_caller(backend).get_deployment("t-1")
    assert club is not None
    assert [entry.info.id for entry in factory.as_caller(alice).get_my_contracts(alice).items] == [
        club
    ]


def test_a_caller_looks_up_only_its_own_tickets(
    factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    contract = factory.as_caller(backend).create_contract(alice, CONFIG, ticket="t-1").unwrap()
    assert factory.as_caller(alice).get_deployment("t-1") is None
    assert factory.as_caller(backend).get_deployment("t-1") == contract


def test_a_backend_removed_since_still_looks_up_the_requests_it_made(
    factory: CanisterProxy, admin: Principal, backend: Principal, alice: Principal
) -> None:
    """So that it can settle a charged deployment the factory refused once it was removed."""
    contract = factory.as_caller(backend).create_contract(alice, CONFIG, ticket="t-1").unwrap()
    factory.as_caller(admin).remove_backend(backend)
    assert factory.as_caller(backend).get_deployment("t-1") == contract
    assert factory.as_caller(backend).get_deployment("t-2") is None


def test_deployments_without_a_ticket_record_none(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    factory.as_caller(backend).create_contract(alice, CONFIG).unwrap()
    assert len(ic.state_of(factory.id).tickets) == 0


def test_the_same_ticket_from_two_backends_deploys_two_contracts_each_for_its_owner(
    ic: IC, factory: CanisterProxy, admin: Principal, backend: Principal, alice: Principal,
    bob: Principal,
) -> None:
    other = Principal.from_name("second-backend")
    factory.as_caller(admin).add_backend(other).unwrap()
    alices = factory.as_caller(backend).create_contract(alice, CONFIG, ticket="pay-1").unwrap()
    bobs = factory.as_caller(other).create_contract(bob, CONFIG, ticket="pay-1").unwrap()
    assert alices != bobs
    assert factory.get_contract_info(bobs).owner == bob
    assert factory.as_caller(backend).get_deployment("pay-1") == alices
    assert factory.as_caller(other).get_deployment("pay-1") == bobs


def test_a_ticket_reused_for_another_owner_or_config_is_refused_and_changes_nothing(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal, bob: Principal
) -> None:
    first = factory.as_caller(backend).create_contract(alice, CONFIG, ticket="t-1").unwrap()
    before, canisters = ic.state_of(factory.id), live_canisters(ic)
    for owner, config in ((bob, CONFIG), (alice, ClubConfig(name="Another"))):
        result = factory.as_caller(backend).create_contract(owner, config, ticket="t-1")
        assert isinstance(result, Err) and isinstance(result.error, TicketMismatch)
        assert result.error.ticket == "t-1"
    assert ic.state_of(factory.id) == before
    assert live_canisters(ic) == canisters
    assert factory.as_caller(bob).get_my_contracts(bob).total == 0
    assert factory.as_caller(backend).get_deployment("t-1") == first


def test_a_config_digest_is_equal_for_equal_configs_and_differs_for_any_field() -> None:
    assert config_digest(ClubConfig(name="C")) == config_digest(ClubConfig(name="C"))
    variants = [
        ClubConfig(name="C"), ClubConfig(name="D"), ClubConfig(name="C", is_public=False),
        ClubConfig(name="C", members=(Principal.from_name("m"),)),
        ClubConfig(name="C", members=(Principal.from_name("n"),)),
    ]  # fmt: skip
    assert len({config_digest(config) for config in variants}) == len(variants)


@pytest.mark.parametrize(
    "ticket",
    ["", "t\n1", " t-1", "t" * (MAX_TICKET + 1)],
    ids=["empty", "newline", "padded", "long"],
)
def test_a_ticket_is_one_line_of_text_or_nothing_is_deployed(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal, ticket: str
) -> None:
    """A factory keeps its tickets for good: it takes only what the text rule takes."""
    canisters, before = live_canisters(ic), ic.state_of(factory.id)
    result = factory.as_caller(backend).create_contract(alice, CONFIG, ticket=ticket)
    assert isinstance(result, Err) and isinstance(result.error, InvalidConfig), result
    assert "ticket" in result.error.reasons[0]
    assert live_canisters(ic) == canisters and ic.state_of(factory.id) == before
