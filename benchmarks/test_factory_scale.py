"""Factory operations cost the same whatever the number of contracts, and whatever the length of
the user's own lists.

A factory holding n contracts is built by registering n - 1 tokens in its ``ContractIndex`` with
the index's own ``register`` (the code ``create_contract`` runs) and giving each a canister record
copied from one real deployment, so the world holds n canisters as well. The operations measured
then go through the IC like any user's: ingress ``create_contract`` from the backend, a contract's
``notify_participant_added``, a user's ``get_my_contracts`` query (a page of exactly ``PAGE``
entries: the measured user owns ``CONTRACTS_PER_USER`` contracts and holds tokens in as many).

Memory per contract is measured with tracemalloc on an index registered the same way, at ``HUGE``
contracts (one build: tracemalloc makes a million registrations slow).

Aims (``conftest.py``): ``get_my_contracts`` at ``HUGE`` at most 1.2x the same call at ``SMALL``,
each at most 5 µs median; at most 800 bytes per contract in the index and records.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from benchmarks.conftest import (
    BYTES_PER_CONTRACT,
    FIGURES,
    HUGE,
    MANY,
    MEDIUM,
    QUICK,
    SMALL,
    retained_bytes,
)
from icto import IC, Account, Principal
from icto.collections import SortedSet
from icto.factory import CREATOR, ContractInfo, deploy_factory
from icto.factory.index import ContractIndex
from icto.ic.proxy import CanisterProxy
from icto.token import HOLDER, TokenConfig, TokenFactory

CONTRACTS_PER_USER = 5
PAGE = 2 * CONTRACTS_PER_USER
"""The length of the measured user's ``get_my_contracts`` page: owner of ``CONTRACTS_PER_USER``
contracts, holder in as many."""
MEASURED_USER = 3
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
    """A user with exactly ``PAGE`` contracts: ``CONTRACTS_PER_USER`` as owner (``creator``), as
    many as ``holder``."""


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


def _users_for(count: int) -> int:
    """How many users own the ``count`` contracts of a seeded factory, ``CONTRACTS_PER_USER``
    each (a multiple of ``CONTRACTS_PER_USER`` gives every user exactly as many)."""
    return max(count // CONTRACTS_PER_USER, 2)


def _seeded_id(n: int) -> Principal:
    return Principal.from_canister_index(FIRST_SEEDED + n)


def seeded_index(index: ContractIndex, count: int, like: ContractInfo, now: int) -> ContractIndex:
    """``index`` with contracts 1 .. ``count`` - 1 registered by ``ContractIndex.register`` (the
    code ``create_contract`` runs), with ``like``'s version and details: contract n is owned by
    user n mod u and user n + 1 mod u holds its tokens, for u = ``_users_for(count)``. So user k
    (0 < k < u - 1) owns ``CONTRACTS_PER_USER`` contracts and holds tokens in as many."""
    users = _users_for(count)
    for n in range(1, count):
        index = index.register(
            _seeded_id(n), kind="token", owner=_user(n % users), name=f"Token {n}",
            created_at=now, version=like.version, is_public=True, details=like.details,
            roles=((_user((n + 1) % users), HOLDER),),
        )  # fmt: skip
    return index


def _first_contract(ic: IC, factory: CanisterProxy) -> Principal:
    """One real deployment (contract #0: user 0 its owner, user 1 holding its tokens)."""
    created: Principal = (
        factory.as_caller(BACKEND).create_contract(_user(0), _config(0, _user(1))).unwrap()
    )
    return created


def seed(ic: IC, factory: CanisterProxy, count: int) -> tuple[Principal, ...]:
    """Register ``count`` - 1 more tokens straight into the factory's state (see module doc)."""
    real = _first_contract(ic, factory)
    template = ic.world.canisters[real]
    state = ic.state_of(factory.id)
    info = state.index.info(real)
    assert info is not None
    index = seeded_index(state.index, count, info, ic.time)
    ids = []
    with ic.world.canisters.mutate() as canisters:
        for n in range(1, count):
            contract = _seeded_id(n)
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
    index = ic.state_of(factory.id).index
    assert len(index) == count
    user = _user(MEASURED_USER)
    assert len(index.contracts_with_role(CREATOR, user)) == CONTRACTS_PER_USER
    assert len(index.contracts_of(user)) == PAGE
    return Scene(ic, factory, contracts, user)


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
    page = mine.get_my_contracts(s.user)
    assert len(page.items) == PAGE, page
    assert page.total == PAGE and page.next_offset is None, page
    assert all(entry.roles for entry in page.items)
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
    """Memory kept per contract (tracemalloc): for a whole deployment (the token canister with
    its ledger and the factory's records), and for the factory's index and records alone at
    ``HUGE`` contracts, registered as ``seed`` registers them (``seeded_index``).

    The users' principals are made before measuring (they are the callers, who exist whatever
    the factory holds); the contract ids, names and every index entry are counted. The index
    is built once, with the collector paused, since tracemalloc makes each allocation slow."""
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

    count = HUGE
    ic2 = IC(trace=False)
    factory2 = _deploy_factory(ic2)
    real = _first_contract(ic2, factory2)
    start = ic2.state_of(factory2.id).index
    first = start.info(real)
    assert first is not None
    for k in range(_users_for(count)):
        _user(k)

    def seed_index() -> ContractIndex:
        gc.disable()
        try:
            return seeded_index(start, count, first, ic2.time)
        finally:
            gc.enable()

    index_bytes, index = retained_bytes(seed_index)
    assert len(index) == count
    assert len(index.contracts_of(_user(MEASURED_USER))) == PAGE
    FIGURES[BYTES_PER_CONTRACT] = index_bytes / (count - 1)
    assert whole > 0 and index_bytes > 0
