"""A distribution's claim and registration cost the same whatever its number of recipients, and
deploying one costs a bounded time and memory per listed recipient.

A distribution with n recipients is deployed through the Distribution Factory and then given its
recipients by writing them straight into its ``DistributionState`` the way ``init`` and
``_allocate`` keep them (a ``Participant`` with its allocation in category 0, the category's
``registered`` amount and its ``counts``), and into the factory's ``ContractIndex`` with the
index's own ``with_role`` (the code ``notify_participant_added`` runs), so the world is the one
the contract's own bookkeeping would have left (a test checks it with a few recipients: the
states equal those that deployment, ``fund()`` and ``register()`` calls leave). Two such worlds
are measured:

- a vesting distribution of n Fixed recipients (linear over a year), funded as ``fund()`` leaves
  it (the ledger balance is the total plus the fee reserve; ``fee`` and ``reserve`` are set) and
  Active for 30 days: one recipient's ``claim()``, a real ICP ledger transfer;
- an Open airdrop of up to a million recipients whose window is open, n of them already
  registered: a newcomer's ``register()``, which reports the new recipient to the factory.

The operations go through the IC like a user's, each round inside ``ic.anchor()`` so every round
meets the same world. Deployment is measured for real: ``create_contract`` from the backend with
a config listing ``MANY`` Fixed recipients.
"""

from __future__ import annotations

import functools
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import attrs
import immutables
import pytest

from benchmarks.conftest import FIGURES, MANY, MEDIUM, QUICK, retained_bytes
from icto import E8S, IC, Account, Principal
from icto.distribution import (
    RECIPIENT,
    Category,
    Claim,
    DistributionConfig,
    DistributionState,
    Fixed,
    Linear,
    Open,
    Participant,
    Phase,
    Window,
    days,
)
from icto.ic.management import estimate_memory
from icto.ledger.types import ApproveArgs
from icto.system import System, deploy_system

OWNER = Principal.from_name("distribution-owner")
ALLOCATION = 10 * E8S
"""Each vesting recipient's allocation."""
SHARE = 1_000
"""Each airdrop recipient's share."""
AIRDROP_MAX = 1_000_000
ICP_FEE = 10_000


@functools.cache
def recipient(index: int) -> Principal:
    return Principal.from_name(f"recipient-{index}")


def recipients(count: int) -> list[Principal]:
    return [recipient(n) for n in range(count)]


@attrs.frozen
class Scene:
    system: System
    distribution: Principal
    recipients: int

    @property
    def ic(self) -> IC:
        return self.system.ic


def _deploy(system: System, config: DistributionConfig) -> Principal:
    factory = system.distribution_factory.as_caller(system.backend.id)
    distribution: Principal = factory.create_contract(OWNER, config).unwrap()
    return distribution


def _with_recipients(
    state: DistributionState, users: list[Principal], amount: int, since: int, until: int
) -> DistributionState:
    """``state`` with ``users`` holding ``amount`` each in category 0, registered evenly between
    ``since`` and ``until``, as ``init`` (Fixed) or ``_allocate`` (registration) keep them."""
    allocation = immutables.Map({0: amount})
    count = len(users)
    participants = immutables.Map(
        (user, Participant(allocation, registered_at=since + n * (until - since) // count))
        for n, user in enumerate(users)
    )
    return attrs.evolve(
        state, participants=participants, registered=immutables.Map({0: count * amount}),
        counts=immutables.Map({0: count}),
    )  # fmt: skip


def _install(system: System, distribution: Principal, state: DistributionState) -> None:
    """Replace the distribution's state, and index its recipients in the factory."""
    ic = system.ic
    factory_id = system.distribution_factory.id
    factory_state = ic.state_of(factory_id)
    index = factory_state.index
    for user in state.participants:
        index = index.with_role(distribution, user, RECIPIENT)
    states = {distribution: state, factory_id: attrs.evolve(factory_state, index=index)}
    world = ic.world
    canisters = world.canisters
    for canister_id, value in states.items():
        record = canisters[canister_id]
        canisters = canisters.set(canister_id, record.with_state(value, record.cycles))
    ic.restore(world._replace(canisters=canisters))


def _built(build: Callable[[], Scene], what: str) -> Scene:
    """Run ``build`` with the cyclic garbage collector paused, then freeze the result out of its
    reach (``gc.freeze``), as in ``test_factory_scale.py``."""
    started = time.perf_counter()
    gc.disable()
    try:
        scene = build()
    finally:
        gc.enable()
    gc.freeze()
    if scene.recipients == MEDIUM:
        FIGURES[f"ms to build {what} of {MEDIUM:,} recipients"] = (
            time.perf_counter() - started
        ) * 1e3
    return scene


def _vesting_config(system: System, users: list[Principal]) -> DistributionConfig:
    """``users`` with ``ALLOCATION`` each, vesting linearly over a year from tomorrow."""
    listed = Fixed(tuple((user, ALLOCATION) for user in users))
    category = Category("Team", len(users) * ALLOCATION, listed, Linear(days(365)))
    return DistributionConfig(
        title="Team vesting", token=system.icp_ledger.id, start=system.ic.time + days(1),
        categories=(category,),
    )  # fmt: skip


def _airdrop_config(system: System) -> DistributionConfig:
    """Up to ``AIRDROP_MAX`` recipients of ``SHARE`` each, registering this week."""
    opens = system.ic.time
    window = Window(opens, opens + days(7))
    category = Category("Airdrop", AIRDROP_MAX * SHARE, Open(AIRDROP_MAX, window))
    return DistributionConfig(
        title="Airdrop", token=system.icp_ledger.id, start=opens + days(14),
        categories=(category,),
    )  # fmt: skip


ACTIVE_FOR = days(30)
REGISTERING_FOR = days(1)


@functools.cache
def vesting(count: int) -> Scene:
    """A distribution of ``count`` Fixed recipients, funded, ``ACTIVE_FOR`` into its year of
    linear vesting. It is deployed listing the first recipient for the whole amount, then given
    the full list."""

    def build() -> Scene:
        system = deploy_system(IC(trace=False))
        ic = system.ic
        users = recipients(count)
        config = _vesting_config(system, users)
        category = config.categories[0]
        first_only = attrs.evolve(category, recipients=Fixed(((users[0], category.amount),)))
        distribution = _deploy(system, attrs.evolve(config, categories=(first_only,)))
        reserve = config.claims_covered * count * ICP_FEE
        state = attrs.evolve(
            _with_recipients(ic.state_of(distribution), users, ALLOCATION, ic.time, ic.time),
            config=config, status=Phase.FUNDED, funded=True, fee=ICP_FEE, reserve=reserve,
            pulls=1, nonce=1,  # the owner's fund() pulled it, now
        )  # fmt: skip
        _install(system, distribution, state)
        system.faucet(distribution, config.total_amount + reserve)
        ic.set_time(config.start + ACTIVE_FOR)
        return Scene(system, distribution, count)

    s = _built(build, "a vesting distribution")
    stats = s.ic.actor(s.distribution, OWNER).get_stats()
    assert stats.phase is Phase.ACTIVE
    assert stats.participants == count
    assert stats.balance_required == s.system.icp_balance(s.distribution)
    return s


def vesting_for_real(count: int) -> Scene:
    """``vesting(count)`` built by the operations themselves: deployed with the full list and
    funded by its owner's ``fund()``."""
    system = deploy_system(IC(trace=False))
    ic = system.ic
    config = _vesting_config(system, recipients(count))
    distribution = _deploy(system, config)
    required = config.total_amount + config.claims_covered * count * ICP_FEE
    system.faucet(OWNER, required + 2 * ICP_FEE)
    approval = ApproveArgs(spender=Account(distribution), amount=required + ICP_FEE)
    system.icp_ledger.as_caller(OWNER).icrc2_approve(approval).unwrap()
    ic.actor(distribution, OWNER).fund().unwrap()
    ic.set_time(config.start + ACTIVE_FOR)
    return Scene(system, distribution, count)


@functools.cache
def airdrop(count: int) -> Scene:
    """The airdrop of ``_airdrop_config``, ``REGISTERING_FOR`` into its window, with ``count``
    recipients registered evenly over that time."""

    def build() -> Scene:
        system = deploy_system(IC(trace=False))
        ic = system.ic
        opens = ic.time
        distribution = _deploy(system, _airdrop_config(system))
        ic.set_time(opens + REGISTERING_FOR)
        if count:
            state = _with_recipients(
                ic.state_of(distribution), recipients(count), SHARE, opens, ic.time
            )
            # each registration told the factory once (the notifications are numbered)
            meta = attrs.evolve(state.meta, notifications=state.meta.notifications + count)
            _install(system, distribution, attrs.evolve(state, meta=meta))
        return Scene(system, distribution, count)

    s = _built(build, "an airdrop")
    assert s.ic.actor(s.distribution, OWNER).get_stats().participants == count
    return s


def airdrop_for_real(count: int) -> Scene:
    """``airdrop(count)`` built by the operations themselves: each recipient calls
    ``register()`` at their moment."""
    system = deploy_system(IC(trace=False))
    ic = system.ic
    opens = ic.time
    distribution = _deploy(system, _airdrop_config(system))
    for n, user in enumerate(recipients(count)):
        ic.set_time(opens + n * REGISTERING_FOR // count)
        ic.actor(distribution, user).register().unwrap()
    ic.set_time(opens + REGISTERING_FOR)
    return Scene(system, distribution, count)


@pytest.mark.parametrize(("written", "real"), [(vesting, vesting_for_real),
                                               (airdrop, airdrop_for_real)])  # fmt: skip
def test_a_written_scene_is_the_world_its_own_operations_leave(
    written: Callable[[int], Scene], real: Callable[[int], Scene]
) -> None:
    """The distribution's and the factory's states, the distribution's balance and the time
    are those the deployment, funding and registrations leave (checked with a few recipients)."""
    count = 50
    a, b = written(count), real(count)
    assert a.distribution == b.distribution
    assert a.ic.time == b.ic.time
    factory = a.system.distribution_factory.id
    for canister in (a.distribution, factory):
        assert a.ic.state_of(canister) == b.ic.state_of(canister)
    assert a.system.icp_balance(a.distribution) == b.system.icp_balance(b.distribution)


@pytest.mark.parametrize(("key", "count"), [("dist_claim_1", 1),
                                            ("dist_claim_large", MEDIUM)])  # fmt: skip
def test_a_claim_costs_the_same_in_a_distribution_of_any_size(
    measure: Callable[..., Any], key: str, count: int
) -> None:
    """One recipient (the middle one) claims everything unlocked so far."""
    s = vesting(count)
    ic = s.ic
    user = recipient(count // 2)
    claimer = ic.actor(s.distribution, user)
    unlocked = ALLOCATION * ACTIVE_FOR // days(365)

    def run() -> Claim:
        with ic.anchor():
            claim: Claim = claimer.claim().unwrap()
        return claim

    claim = measure(key, run)
    assert claim.user == user
    assert claim.amount == unlocked
    assert claim.fee_from_reserve
    assert claimer.get_participant(user).claimed == 0


@pytest.mark.parametrize(("key", "count"), [("dist_register_first", 0),
                                            ("dist_register_large", MEDIUM)])  # fmt: skip
def test_a_registration_costs_the_same_however_many_registered_before(
    measure: Callable[..., Any], key: str, count: int
) -> None:
    """A newcomer registers in the airdrop (and the factory indexes them)."""
    s = airdrop(count)
    ic = s.ic
    newcomer = Principal.from_name("newcomer")
    registrant = ic.actor(s.distribution, newcomer)
    factory = s.system.distribution_factory.as_caller(newcomer)

    def run() -> int:
        with ic.anchor():
            share: int = registrant.register().unwrap()
        return share

    assert measure(key, run) == SHARE
    assert registrant.get_participant(newcomer) is None
    with ic.anchor():
        registrant.register().unwrap()
        assert registrant.get_stats().participants == count + 1
        entries = factory.get_my_contracts(newcomer).items
        assert [(e.info.id, e.roles) for e in entries] == [(s.distribution, (RECIPIENT,))]
        info = s.system.distribution_factory.get_contract_info(s.distribution)
        assert dict(info.role_counts) == {RECIPIENT: count + 1}


def _listed(system: System, count: int) -> DistributionConfig:
    """``_vesting_config`` for ``count`` principals made afresh (so their bytes count too)."""
    return _vesting_config(system, [Principal.from_name(f"listed-{n}") for n in range(count)])


def _deploy_listed(system: System, count: int) -> Principal:
    return _deploy(system, _listed(system, count))


def test_deploying_costs_a_bounded_time_and_memory_per_recipient() -> None:
    """``create_contract`` of a distribution listing ``MANY`` Fixed recipients, timed (median of
    a few deployments, each rolled back) and weighed: the memory it keeps (the config, the
    distribution's state, the factory's index entries), less that of a one-recipient
    deployment, per extra recipient."""
    system = deploy_system(IC(trace=False))
    ic = system.ic
    config = _listed(system, MANY)
    durations = []
    for _ in range(3 if QUICK else 5):
        with ic.anchor():
            started = time.perf_counter()
            distribution = _deploy(system, config)
            durations.append(time.perf_counter() - started)
            assert len(ic.state_of(distribution).participants) == MANY
    FIGURES[f"µs per recipient to deploy a distribution of {MANY:,}"] = (
        statistics.median(durations) / MANY * 1e6
    )

    base = ic.snapshot()
    kept: dict[int, int] = {}
    estimated: dict[int, int] = {}
    for count in (1, MANY):
        ic.restore(base)
        kept[count], distribution = retained_bytes(
            functools.partial(_deploy_listed, system, count)
        )
        estimated[count] = estimate_memory(ic.state_of(distribution)) + estimate_memory(
            ic.state_of(system.distribution_factory.id)
        )
    ic.restore(base)
    extra = MANY - 1
    FIGURES["bytes per recipient kept by a deployment (tracemalloc)"] = (
        kept[MANY] - kept[1]
    ) / extra
    FIGURES["bytes per recipient of distribution + factory state (estimate)"] = (
        estimated[MANY] - estimated[1]
    ) / extra
    assert kept[MANY] > kept[1] > 0
    assert estimated[MANY] > estimated[1] > 0
