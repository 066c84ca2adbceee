"""Factory operations cost the same whatever the number of contracts, and whatever the length of
the user's own lists.

A factory holding n contracts is built by registering n - 1 tokens in its ``ContractIndex`` with
the index's own ``register`` (the code ``create_contract`` runs) and giving each a canister record
copied from one real deployment, so the world holds n canisters as well. The operations measured
then go through the IC like any user's: ingress ``create_contract`` from the backend, a contract's
``notify_participant_added``, a user's ``get_my_contracts`` query.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from benchmarks.conftest import FIGURES, HUGE, MANY, MEDIUM, QUICK, SMALL, retained_bytes
from icto import IC, Account, Principal
from icto.collections import SortedSet
from icto.factory import deploy_factory
from icto.ic.proxy import CanisterProxy
from icto.token import HOLDER, TokenConfig, TokenFactory

CONTRACTS_PER_USER = 5
BACKEND = Principal.from_name("backend")
ADMIN = Principal.from_name("admin")
FIRST_SEEDED = 10_000_000


@attrs.frozen
class Scene:
    ic: IC
    factory: CanisterProxy
    contracts: tuple[Principal, ...]
    """A sample of registered contracts (canister ids), for callbacks."""
    user: Principal
    """A user with ``CONTRACTS_PER_USER`` contracts."""


def _config(index: int, holder: Principal) -> TokenConfig:
    """A token whose only initial balance is in a subaccount of ``holder`` (so the holder may
    also be the owner, whose default account is the minting account)."""
    treasury = Account(holder, (1).to_bytes(32, "big"))
    return TokenConfig(name=f"Token {index}", symbol="TK", initial_balances=((treasury, 1_000),))


@functools.cache
def _user(index: int) -> Principal:
    return Principal.from_name(f"user-{index}")


def _deploy_factory(ic: IC) -> CanisterProxy:
    return deploy_factory(ic, TokenFactory, backends=[BACKEND], caller=ADMIN, cycles=10**22)


def seed(ic: IC, factory: CanisterProxy, count: int) -> tuple[Principal, ...]:
    """Register ``count`` - 1 more tokens straight into the factory's state (see module doc)."""
    backend = factory.as_caller(BACKEND)
    real = backend.create_contract(_user(0), _config(0, _user(1))).unwrap()
    template = ic.world.canisters[real]
    state = ic.state_of(factory.id)
    index = state.index
    info = index.info(real)
    users = max(count // CONTRACTS_PER_USER, 2)
    ids = []
    with ic.world.canisters.mutate() as canisters:
        for n in range(1, count):
            contract = Principal.from_canister_index(FIRST_SEEDED + n)
            index = index.register(
                contract, kind="token", owner=_user(n % users), name=f"Token {n}",
                created_at=ic.time, version=info.version, is_public=True, details=info.details,
                roles=((_user((n + 1) % users), HOLDER),),
            )  # fmt: skip
            canisters[contract] = template._replace(canister_id=contract)
            if n % max(count // 100, 1) == 0:
                ids.append(contract)
        world_canisters = canisters.finish()
    seeded = attrs.evolve(
        state, index=index, by_symbol=state.by_symbol.set("TK", SortedSet(range(count)))
    )
    record = world_canisters[factory.id]
    world = ic.world._replace(
        canisters=world_canisters.set(factory.id, record.with_state(seeded, record.cycles))
    )
    ic.restore(world)
    return tuple(ids)


@functools.cache
def scene(count: int) -> Scene:
    """A factory with ``count`` contracts. The cyclic garbage collector is paused while it is
    built and the result is frozen out of its reach (``gc.freeze``): otherwise every full
    collection walks millions of immutable objects, and the timings would measure the
    collector rather than the factory."""
    gc.disable()
    try:
        ic = IC(trace=False)
        factory = _deploy_factory(ic)
        contracts = seed(ic, factory, count)
    finally:
        gc.enable()
    gc.freeze()
    assert len(ic.state_of(factory.id).index) == count
    return Scene(ic, factory, contracts, _user(3))


SIZES = [("small", SMALL), ("medium", MEDIUM), ("huge", HUGE)]


@pytest.mark.parametrize(("size", "count"), SIZES)
def test_create_contract_is_flat(measure: Callable[..., Any], size: str, count: int) -> None:
    s = scene(count)
    backend = s.factory.as_caller(BACKEND)
    ops = 20
    owners = [Principal.from_name(f"new-owner-{i}") for i in range(ops)]

    def run() -> None:
        with s.ic.anchor():
            for n, owner in enumerate(owners):
                backend.create_contract(owner, _config(n, owner)).unwrap()

    measure(f"create_{size}", run, ops)
    assert len(s.ic.state_of(s.factory.id).index) == count


@pytest.mark.parametrize(("size", "count"), SIZES)
def test_notify_participant_added_is_flat(
    measure: Callable[..., Any], size: str, count: int
) -> None:
    s = scene(count)
    ops = 200
    calls = [
        (s.contracts[n % len(s.contracts)], Principal.from_name(f"holder-{n}"))
        for n in range(ops)
    ]
    ic = s.ic

    def run() -> None:
        with ic.anchor():
            for contract, user in calls:
                ic.update_call(
                    s.factory.id, "notify_participant_added", user, HOLDER, caller=contract
                )

    measure(f"notify_{size}", run, ops)


@pytest.mark.parametrize(("size", "count"), SIZES)
def test_get_my_contracts_is_flat(measure: Callable[..., Any], size: str, count: int) -> None:
    s = scene(count)
    mine = s.factory.as_caller(s.user)
    assert 0 < len(mine.get_my_contracts(s.user).items) <= 2 * CONTRACTS_PER_USER
    ops = 200

    def run() -> None:
        for _ in range(ops):
            mine.get_my_contracts(s.user)

    measure(f"my_contracts_{size}", run, ops)


@pytest.mark.parametrize(("key", "held"), [("role_user_1", 1), ("role_user_many", MANY)])
def test_role_add_remove_is_flat_in_the_users_own_list(
    measure: Callable[..., Any], key: str, held: int
) -> None:
    """Give one user ``held`` holder roles, then time adding and removing one more."""
    s = scene(SMALL if held == 1 else max(SMALL, held + 100))
    ic = s.ic
    index = ic.state_of(s.factory.id).index
    busy = Principal.from_name(f"busy-{held}")
    ids = [index.at(seq).id for seq in range(held + 1)]
    with ic.anchor():
        for contract in ids[:held]:
            ic.update_call(s.factory.id, "notify_participant_added", busy, HOLDER, caller=contract)
        assert len(ic.state_of(s.factory.id).index.contracts_of(busy)) == held
        extra = ids[held]
        ops = 100

        def run() -> None:
            for _ in range(ops):
                ic.update_call(s.factory.id, "notify_participant_added", busy, HOLDER, caller=extra)
                ic.update_call(
                    s.factory.id, "notify_participant_removed", busy, HOLDER, caller=extra
                )

        measure(key, run, ops)


def test_bytes_per_contract() -> None:
    """Memory kept per contract: for a whole deployment (the token canister with its ledger and
    the factory's records), and for the factory's index entries alone."""
    deployments = 200 if QUICK else 2_000
    ic = IC(trace=False)
    factory = _deploy_factory(ic)
    backend = factory.as_caller(BACKEND)

    def deploy_many() -> IC:
        for n in range(deployments):
            backend.create_contract(_user(n), _config(n, _user(n + 1))).unwrap()
        return ic

    whole, _ = retained_bytes(deploy_many)
    FIGURES["bytes per deployed token (canister, ledger, factory records)"] = whole / deployments

    entries = MEDIUM
    ic2 = IC(trace=False)
    factory2 = _deploy_factory(ic2)
    index_before = ic2.state_of(factory2.id).index

    def seed_index() -> Any:
        index = index_before
        owner_count = entries // CONTRACTS_PER_USER
        for n in range(entries):
            index = index.register(
                Principal.from_canister_index(FIRST_SEEDED + n), kind="token",
                owner=_user(n % owner_count), name=f"Token {n}", created_at=0, version="1.0.0",
                is_public=True, roles=((_user((n + 1) % owner_count), HOLDER),),
            )  # fmt: skip
        return index

    index_bytes, index = retained_bytes(seed_index)
    assert len(index) == entries
    FIGURES["bytes per contract in the factory index"] = index_bytes / entries
    assert whole > 0 and index_bytes > 0
