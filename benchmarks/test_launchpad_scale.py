"""A launchpad sale takes a new participant's first contribution in the same time with one
participant before it or 100,000, and refunds a failed sale in a time linear in its contributors.

A fixed-price sale (purchase token: the ICP ledger of ``deploy_system``; sale token: a
``TokenConfig`` minted at finalize) is deployed through the Launchpad Factory; the clock reaches
its start, so its own timer moves it to SaleActive; then it is given n contributors by writing
them straight into its ``LaunchpadState`` the way ``contribute()`` keeps them: a ``Participant``
each in ``participants`` (its contribution and the instant of its first one), the contributors in
``order`` (a ``Vector``, the refund order), ``raised`` their sum and ``allocated`` the sum of their
fixed-price allocations (``fixed_allocation`` per participant, as ``_bought`` adds them). The
sale's escrow account on the ICP ledger is minted exactly ``raised`` in one transfer, and the
factory's ``ContractIndex`` indexes the contributors with the index's own ``with_role`` (the code
``notify_participant_added`` runs). A test checks, with a few contributors, that the states equal
those that real ``contribute()`` calls leave, and that refunding both worlds leaves the same
outcome.

The soft cap is far above what n contributors raise, so the sale fails at its end. Two
measurements, each round inside ``ic.anchor()`` so every round meets the same world:

- newcomers (funded and approved in the scene) each make their first contribution: an ICP ledger
  ``icrc1_fee`` and ``icrc2_transfer_from``, and the factory told of the new participant;
- the clock reaches the end of the sale: its timer ends it (Failed, then Refunding), and the
  refund timers pay every contributor back through the ledger, a batch of ``REFUND_BATCH`` per
  message, until Refunded.
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

from benchmarks.conftest import FIGURES, MANY, MEDIUM
from icto import E8S, IC, Account, Principal
from icto.collections import Vector
from icto.distribution import days
from icto.launchpad import (
    PARTICIPANT,
    FixedPrice,
    LaunchpadConfig,
    ProjectInfo,
    RefundStatus,
    SaleState,
    fixed_allocation,
)
from icto.launchpad.types import REFUND_BATCH, LaunchpadState, Participant
from icto.ledger.presets import ICP
from icto.ledger.types import ApproveArgs
from icto.system import System, deploy_system
from icto.token.config import TokenConfig

CREATOR = Principal.from_name("sale-creator")
FEE = ICP.fee
PRICE = 30_000_000
"""0.3 ICP per whole sale token (8 decimals): allocations round down, per participant."""
SOFT_CAP = 1_000_000 * E8S
"""Far above what the contributors raise: the sale fails at its end."""
HARD_CAP = 2_000_000 * E8S
OPENS_IN = days(1)
SALE_LENGTH = days(7)
CONTRIBUTING_FOR = days(2)
"""The contributors contribute evenly over the first two days of the sale; the clock is then."""
NEWCOMERS = 5
"""New participants per measured round of ``contribute``."""
NEW_CONTRIBUTION = 2 * E8S
NEWCOMER_FUNDS = 10 * E8S


@functools.cache
def participant(index: int) -> Principal:
    return Principal.from_name(f"participant-{index}")


@functools.cache
def newcomer(index: int) -> Principal:
    return Principal.from_name(f"newcomer-{index}")


def contribution(index: int) -> int:
    """Participant ``index``'s contribution: 1 to 1.6 ICP."""
    return E8S + (index % 7) * E8S // 10


@attrs.frozen
class Scene:
    system: System
    sale: Principal
    participants: int

    @property
    def ic(self) -> IC:
        return self.system.ic

    @property
    def config(self) -> LaunchpadConfig:
        config: LaunchpadConfig = self.ic.state_of(self.sale).config
        return config


def _config(system: System) -> LaunchpadConfig:
    start = system.ic.time + OPENS_IN
    return LaunchpadConfig(
        project=ProjectInfo("Scale Sale"), sale_token=TokenConfig(name="Scale", symbol="SCALE"),
        purchase_token=system.icp_ledger.id, sale_type=FixedPrice(PRICE),
        tokens_for_sale=HARD_CAP * 10**8 // PRICE, soft_cap=SOFT_CAP, hard_cap=HARD_CAP,
        min_contribution=E8S, max_contribution=100 * E8S, sale_start=start,
        sale_end=start + SALE_LENGTH, raised_allocation=((Account(CREATOR), 10_000),),
    )  # fmt: skip


def _deploy() -> tuple[System, Principal, LaunchpadConfig]:
    """The platform and a sale deployed through the Launchpad Factory (Upcoming)."""
    system = deploy_system(IC(trace=False))
    config = _config(system)
    factory = system.launchpad_factory.as_caller(system.backend.id)
    sale: Principal = factory.create_contract(CREATOR, config).unwrap()
    return system, sale, config


def _approve(system: System, owner: Principal, sale: Principal, amount: int) -> None:
    approval = ApproveArgs(spender=Account(sale), amount=amount)
    system.icp_ledger.as_caller(owner).icrc2_approve(approval).unwrap()


def _fund_newcomers(system: System, sale: Principal) -> None:
    for k in range(NEWCOMERS):
        system.faucet(newcomer(k), NEWCOMER_FUNDS)
        _approve(system, newcomer(k), sale, NEWCOMER_FUNDS - FEE)


def _first_at(start: int, index: int, count: int) -> int:
    return start + index * CONTRIBUTING_FOR // count


def _with_participants(state: LaunchpadState, count: int) -> LaunchpadState:
    """``state`` (SaleActive) with participants 0 to ``count - 1`` having contributed
    ``contribution(n)`` each at ``_first_at``, in that order, as ``contribute()`` keeps them."""
    config: LaunchpadConfig = state.config
    assert isinstance(config.sale_type, FixedPrice)
    users = [participant(n) for n in range(count)]
    amounts = [contribution(n) for n in range(count)]
    participants = immutables.Map(
        (user, Participant(
            contribution=amount, first_at=_first_at(config.sale_start, n, count), seq=n
        ))
        for n, (user, amount) in enumerate(zip(users, amounts, strict=True))
    )  # fmt: skip
    price, decimals = config.sale_type.price, config.sale_decimals
    return attrs.evolve(
        state, participants=participants, order=Vector(users), raised=sum(amounts), nonce=count,
        allocated=sum(fixed_allocation(amount, price, decimals) for amount in amounts),
        # each first contribution told the factory once (the notifications are numbered)
        meta=attrs.evolve(state.meta, notifications=state.meta.notifications + count),
    )  # fmt: skip


def _install(system: System, sale: Principal, state: LaunchpadState) -> None:
    """Replace the sale's state, and index its participants in the factory."""
    ic = system.ic
    factory_id = system.launchpad_factory.id
    factory_state = ic.state_of(factory_id)
    index = factory_state.index
    for user in state.order:
        index = index.with_role(sale, user, PARTICIPANT)
    states = {sale: state, factory_id: attrs.evolve(factory_state, index=index)}
    world = ic.world
    canisters = world.canisters
    for canister_id, value in states.items():
        record = canisters[canister_id]
        canisters = canisters.set(canister_id, record.with_state(value, record.cycles))
    ic.restore(world._replace(canisters=canisters))


def _built(build: Callable[[], Scene]) -> Scene:
    """Run ``build`` with the cyclic garbage collector paused, then freeze the result out of its
    reach (``gc.freeze``), as in ``test_factory_scale.py``."""
    started = time.perf_counter()
    gc.disable()
    try:
        scene = build()
    finally:
        gc.enable()
    gc.freeze()
    if scene.participants == MEDIUM:
        FIGURES[f"ms to build a sale of {MEDIUM:,} participants"] = (
            time.perf_counter() - started
        ) * 1e3
    return scene


@functools.cache
def sale(count: int) -> Scene:
    """A SaleActive sale ``CONTRIBUTING_FOR`` after its start, with ``count`` participants
    (contributing evenly over that time) and ``NEWCOMERS`` newcomers funded and approved."""

    def build() -> Scene:
        system, sale_id, config = _deploy()
        ic = system.ic
        ic.set_time(config.sale_start)
        state = _with_participants(ic.state_of(sale_id), count)
        _install(system, sale_id, state)
        system.faucet(Account(sale_id), state.raised)
        _fund_newcomers(system, sale_id)
        ic.set_time(config.sale_start + CONTRIBUTING_FOR)
        return Scene(system, sale_id, count)

    s = _built(build)
    info = s.ic.actor(s.sale, CREATOR).get_sale()
    assert info.state is SaleState.SALE_ACTIVE
    assert info.participants == count
    assert info.raised == s.system.icp_balance(s.sale) == sum(map(contribution, range(count)))
    roles = s.system.launchpad_factory.get_contract_info(s.sale).role_counts
    assert dict(roles) == {PARTICIPANT: count}
    return s


def sale_for_real(count: int) -> Scene:
    """``sale(count)`` built by the operations themselves: each participant is minted its
    contribution and two fees, approves the sale and calls ``contribute()`` at its moment."""
    system, sale_id, config = _deploy()
    ic = system.ic
    for n in range(count):
        user, amount = participant(n), contribution(n)
        system.faucet(user, amount + 2 * FEE)
        _approve(system, user, sale_id, amount + FEE)
        ic.set_time(_first_at(config.sale_start, n, count))
        assert ic.actor(sale_id, user).contribute(amount).unwrap() == amount
    _fund_newcomers(system, sale_id)
    ic.set_time(config.sale_start + CONTRIBUTING_FOR)
    return Scene(system, sale_id, count)


def _without_refund_blocks(state: LaunchpadState) -> LaunchpadState:
    """``state`` with the ledger's block indexes of the refunds left out (the written world's
    ledger holds fewer blocks)."""
    participants = immutables.Map(
        (user, attrs.evolve(held, refund_block=None)) for user, held in state.participants.items()
    )
    return attrs.evolve(state, participants=participants)


def test_a_written_sale_is_the_world_its_own_contributions_leave() -> None:
    """The sale's and the factory's states, the escrow balance, the pending timers and the time
    are those the contributions leave (checked with a few participants); so are they once both
    sales end and refund everyone (but for the refunds' block indexes). The contributors fill
    more than one refund batch."""
    count = REFUND_BATCH + 20
    a, b = sale(count), sale_for_real(count)
    assert a.sale == b.sale
    assert a.ic.time == b.ic.time
    assert a.ic.pending_timers() == b.ic.pending_timers()
    factory = a.system.launchpad_factory.id
    for canister in (a.sale, factory):
        assert a.ic.state_of(canister) == b.ic.state_of(canister)
    assert a.system.icp_balance(a.sale) == b.system.icp_balance(b.sale)
    with a.ic.anchor(), b.ic.anchor():
        for s in (a, b):
            s.ic.set_time(s.config.sale_end)
        assert a.ic.pending_timers() == b.ic.pending_timers()
        assert _without_refund_blocks(a.ic.state_of(a.sale)) == _without_refund_blocks(
            b.ic.state_of(b.sale)
        )
        assert a.ic.state_of(factory) == b.ic.state_of(factory)
        assert a.ic.state_of(a.sale).status is SaleState.REFUNDED
        for user in (a.sale, *map(participant, range(count))):
            assert a.system.icp_balance(user) == b.system.icp_balance(user)


@pytest.mark.parametrize(("key", "count"), [("lp_contribute_1", 1),
                                            ("lp_contribute_large", MEDIUM)])  # fmt: skip
def test_a_first_contribution_costs_the_same_in_a_sale_of_any_size(
    measure: Callable[..., Any], key: str, count: int
) -> None:
    """Each round, ``NEWCOMERS`` new participants make their first contribution."""
    s = sale(count)
    ic = s.ic
    buyers = [ic.actor(s.sale, newcomer(k)) for k in range(NEWCOMERS)]

    def run() -> list[int]:
        with ic.anchor():
            return [buyer.contribute(NEW_CONTRIBUTION).unwrap() for buyer in buyers]

    assert measure(key, run, NEWCOMERS) == [NEW_CONTRIBUTION] * NEWCOMERS
    user = newcomer(0)
    assert buyers[0].get_participant(user) is None
    raised = sum(map(contribution, range(count)))
    with ic.anchor():
        buyers[0].contribute(NEW_CONTRIBUTION).unwrap()
        held = buyers[0].get_participant(user)
        assert held.contribution == NEW_CONTRIBUTION
        assert held.allocation == fixed_allocation(NEW_CONTRIBUTION, PRICE, 8)
        assert held.refund is RefundStatus.NOT_DUE
        info = buyers[0].get_sale()
        assert info.participants == count + 1
        assert info.raised == raised + NEW_CONTRIBUTION == s.system.icp_balance(s.sale)
        assert s.system.icp_balance(user) == NEWCOMER_FUNDS - NEW_CONTRIBUTION - 2 * FEE
        factory = s.system.launchpad_factory.as_caller(user)
        entries = factory.get_my_contracts(user).items
        assert [(e.info.id, e.roles) for e in entries] == [(s.sale, (PARTICIPANT,))]
        assert dict(factory.get_contract_info(s.sale).role_counts) == {PARTICIPANT: count + 1}


ENDING = (SaleState.SALE_ENDED, SaleState.FAILED, SaleState.REFUNDING, SaleState.REFUNDED)
"""The states a failed sale enters at its end instant."""
REFUNDED = sorted({100, 1_000, MANY})
"""Contributors refunded (``MANY``: 10,000, or 1,000 in quick mode)."""


@pytest.mark.parametrize("count", REFUNDED)
def test_refunding_a_failed_sale_costs_the_same_per_contributor_however_many(
    measure: Callable[..., Any], count: int
) -> None:
    """Each round, the clock reaches the end of the sale: it fails (soft cap not reached) and
    its timers refund every contributor, ``REFUND_BATCH`` per message, until Refunded. Timed
    from the end instant to Refunded, per contributor."""
    s = sale(count)
    ic = s.ic
    end = s.config.sale_end
    durations: list[float] = []

    def run() -> SaleState:
        with ic.anchor():
            started = time.perf_counter()
            ic.set_time(end)
            durations.append(time.perf_counter() - started)
            status: SaleState = ic.state_of(s.sale).status
        return status

    assert measure(f"refund_{count}", run, count) is SaleState.REFUNDED
    FIGURES[f"µs per contributor to refund {count:,} contributors"] = (
        statistics.median(durations) / count * 1e6
    )
    anyone = ic.actor(s.sale, CREATOR)
    assert anyone.get_state() is SaleState.SALE_ACTIVE
    raised = sum(map(contribution, range(count)))
    with ic.anchor():
        ic.set_time(end)
        progress = anyone.get_refund_progress()
        assert progress.state is SaleState.REFUNDED
        assert progress.contributors == progress.refunded == count
        assert progress.owed == 0 and progress.last_error is None
        assert progress.amount_refunded == raised
        assert s.system.icp_balance(s.sale) == 0
        for n in (0, count // 2, count - 1):
            assert s.system.icp_balance(participant(n)) == contribution(n) - FEE
            assert anyone.get_participant(participant(n)).refund is RefundStatus.REFUNDED
        info = anyone.get_sale()
        assert info.history[-4:] == tuple((state, end) for state in ENDING)
        assert ic.time == end
        status = s.system.launchpad_factory.get_contract_info(s.sale).status
        assert status == str(SaleState.REFUNDED)
        assert ic.pending_timers() == 0
