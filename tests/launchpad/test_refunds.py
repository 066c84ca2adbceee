"""Refunds of a failed or cancelled sale with more contributors than one batch: timers push them
in batches of at most ``REFUND_BATCH`` ledger transfers per message; a ledger that keeps failing
(rejecting, or trapping so that the transfer is rolled back) stops the refunding with its error
visible, every contributor is then either refunded exactly once or still owed, and
``retry_refunds()`` (anyone) finishes once the ledger works again; a single transient fault
pays no one twice either. In the end everyone got exactly their contribution less one ledger
fee, once, and the escrow is empty.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from icto import E8S, IC, Account, Err, Ok, Principal
from icto.ic.faults import FaultRule
from icto.launchpad import (
    FixedPrice,
    LaunchpadConfig,
    ProjectInfo,
    RefundStatus,
    SaleState,
    WrongState,
)
from icto.launchpad.types import REFUND_BATCH
from icto.ledger.types import ApproveArgs
from icto.system import System, deploy_system
from icto.token import TokenConfig

ALICE, MALLORY = Principal.from_name("alice"), Principal.from_name("mallory")
CONTRIBUTORS: Final = 250
BUYERS: Final = tuple(Principal.from_name(f"buyer-{i}") for i in range(CONTRIBUTORS))
FEE: Final = 10_000
HOUR: Final = 3_600 * 10**9
AMOUNTS: Final = {buyer: E8S + i * 1_000_003 for i, buyer in enumerate(BUYERS)}
"""Each buyer's contribution, all different."""
RAISED: Final = sum(AMOUNTS.values())


class World:
    """The platform and alice's sale (soft cap 10,000 ICP, so it fails) to which 250 buyers
    contributed 1 to about 3.5 ICP each. Snapshot ``open``: one hour before the end."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.icp = self.system.icp_ledger
        self.system.faucet(ALICE, 100 * E8S)
        self.system.approve_backend(ALICE, 11 * E8S)
        start = self.ic.time + HOUR
        self.end = start + 2 * HOUR
        config = LaunchpadConfig(
            project=ProjectInfo("Crowd"), sale_token=TokenConfig(name="Crowd", symbol="CRWD"),
            purchase_token=self.icp.id, sale_type=FixedPrice(E8S),
            tokens_for_sale=100_000 * E8S, soft_cap=10_000 * E8S, hard_cap=20_000 * E8S,
            min_contribution=E8S, max_contribution=10 * E8S, sale_start=start,
            sale_end=self.end, raised_allocation=((Account(ALICE), 10_000),),
        )  # fmt: skip
        deployed = self.system.backend.as_caller(ALICE).deploy_launchpad(config).unwrap()
        self.sale: Principal = deployed.canister_id
        approval = ApproveArgs(spender=Account(self.sale), amount=10 * E8S)
        for buyer in BUYERS:
            self.system.faucet(buyer, 10 * E8S)
            self.icp.as_caller(buyer).icrc2_approve(approval).unwrap()
        self.ic.set_time(start)
        for buyer, amount in AMOUNTS.items():
            assert self.ic.actor(self.sale, buyer).contribute(amount) == Ok(amount)
        self.ic.set_time(self.end - HOUR)
        self.funded = {buyer: self.balance(buyer) for buyer in BUYERS}
        assert self.balance(self.sale) == RAISED
        self.open = self.ic.snapshot()

    def balance(self, holder: Principal) -> int:
        return int(self.icp.icrc1_balance_of(Account(holder)))

    def progress(self) -> Any:
        return self.ic.actor(self.sale, MALLORY).get_refund_progress()

    def refunded_users(self) -> set[Principal]:
        """The buyers the ledger paid back, each checked to have been paid exactly once (and
        the sale to say so), every other one checked to be still owed and unpaid."""
        paid = set()
        sale = self.ic.actor(self.sale, ALICE)
        refunding = sale.get_state() in (SaleState.REFUNDING, SaleState.REFUNDED)
        unpaid = RefundStatus.OWED if refunding else RefundStatus.NOT_DUE
        for buyer in BUYERS:
            balance, info = self.balance(buyer), sale.get_participant(buyer)
            if balance == self.funded[buyer] + AMOUNTS[buyer] - FEE:
                assert info.refund is RefundStatus.REFUNDED and info.refund_block is not None
                paid.add(buyer)
            else:
                assert balance == self.funded[buyer], buyer
                assert (info.refund, info.refund_block) == (unpaid, None)
        progress = self.progress()
        owed = CONTRIBUTORS - len(paid) if refunding else 0
        assert (progress.refunded, progress.owed) == (len(paid), owed)
        assert progress.amount_refunded == sum(AMOUNTS[buyer] for buyer in paid)
        assert self.balance(self.sale) == RAISED - sum(AMOUNTS[buyer] for buyer in paid)
        return paid

    def assert_all_refunded_once(self) -> None:
        assert self.refunded_users() == set(BUYERS)
        progress = self.progress()
        assert (progress.state, progress.last_error) == (SaleState.REFUNDED, None)
        assert self.balance(self.sale) == 0
        info = self.system.launchpad_factory.as_caller(ALICE).get_contract_info(self.sale)
        assert info.status == "Refunded"

    def batches(self) -> list[int]:
        """For each refund message since the trace was cleared, the refunds the ledger made."""
        trace = self.ic.trace
        messages = [e.entry_id for e in trace if e.callee == self.sale and e.parent_id is None]
        transfers = trace.calls("icrc1_transfer", self.icp.id, self.sale, outcome="reply")
        counts = {message: 0 for message in messages}
        for transfer in transfers:
            counts[transfer.parent_id] += 1
        return [count for count in counts.values() if count]


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    built.ic.restore(built.open)
    built.ic.faults.clear()
    built.ic.trace.clear()
    return built


def test_timers_refund_a_failed_sale_in_batches(world: World) -> None:
    assert REFUND_BATCH == 100
    assert world.refunded_users() == set()
    world.ic.set_time(world.end)
    assert world.batches() == [100, 100, 50]
    world.assert_all_refunded_once()
    history = [state for state, _ in world.ic.actor(world.sale, ALICE).get_sale().history]
    assert history[-4:] == [
        SaleState.SALE_ENDED, SaleState.FAILED, SaleState.REFUNDING, SaleState.REFUNDED,
    ]  # fmt: skip
    world.ic.advance_time(hours=1)
    assert world.ic.actor(world.sale, MALLORY).retry_refunds() == Err(
        WrongState(SaleState.REFUNDED, "Refunding")
    )
    world.assert_all_refunded_once()


def _fault(world: World, kind: str, after: int, times: int | None = None) -> FaultRule:
    """A fault on the ICP ledger's transfers after the first ``after`` (every one of them
    until the rule is removed, unless ``times`` says how many)."""
    icp = world.icp.id
    if kind == "reject":
        return world.ic.faults.reject(
            canister=icp, method="icrc1_transfer", after=after, times=times
        )
    return world.ic.faults.trap(canister=icp, method="icrc1_transfer", after=after, times=times)


@pytest.mark.parametrize("kind", ["reject", "trap"])
def test_a_ledger_fault_in_the_second_batch_stops_the_refunds_until_retried(
    world: World, kind: str
) -> None:
    with _fault(world, kind, after=REFUND_BATCH + 49) as rule:
        world.ic.set_time(world.end)
        assert rule.fired >= 1
        assert world.batches() == [100, 49]
        progress = world.progress()
        assert progress.state is SaleState.REFUNDING
        assert progress.last_error is not None and "injected" in progress.last_error
        assert world.refunded_users() == set(BUYERS[:149])
        world.ic.advance_time(hours=1)
        assert world.refunded_users() == set(BUYERS[:149])
        assert world.system.launchpad_factory.get_contract_info(world.sale).status == "Refunding"
    world.ic.trace.clear()
    progress = world.ic.actor(world.sale, MALLORY).retry_refunds().unwrap()
    assert (progress.state, progress.refunded, progress.last_error) == (
        SaleState.REFUNDING, 249, None,
    )  # fmt: skip
    assert world.refunded_users() == set(BUYERS[:249])
    world.ic.tick()
    assert world.batches() == [100, 1]
    world.assert_all_refunded_once()


@pytest.mark.parametrize("kind", ["reject", "trap"])
def test_a_single_ledger_fault_pays_no_one_twice(world: World, kind: str) -> None:
    """One transient fault in the second batch: the refunds either go on (a retried request)
    or stop until ``retry_refunds()``; either way everyone is paid exactly once."""
    rule = _fault(world, kind, after=REFUND_BATCH + 49, times=1)
    world.ic.set_time(world.end)
    assert rule.fired == 1
    paid = world.refunded_users()
    assert set(BUYERS[:149]) <= paid
    while world.progress().state is SaleState.REFUNDING:
        world.ic.actor(world.sale, MALLORY).retry_refunds().unwrap()
        world.ic.tick()
        assert world.refunded_users() >= paid
    world.assert_all_refunded_once()


@pytest.mark.parametrize("kind", ["reject", "trap"])
def test_the_timers_go_on_after_a_retry(world: World, kind: str) -> None:
    with _fault(world, kind, after=0) as rule:
        world.ic.set_time(world.end)
    assert rule.fired >= 1
    assert world.refunded_users() == set()
    progress = world.ic.actor(world.sale, ALICE).retry_refunds().unwrap()
    assert progress.refunded == REFUND_BATCH
    assert world.refunded_users() == set(BUYERS[:REFUND_BATCH])
    world.ic.tick()
    world.assert_all_refunded_once()


def test_a_refund_left_in_doubt_past_the_ledgers_window_is_looked_up_and_sent_anew(
    world: World,
) -> None:
    """The ledger refuses the first refund twice (it never ran, but the sale cannot know) and
    nobody retries for a day: the ledger then calls the same request too old. Its log shows
    no such block, so the refund is planned anew and paid; the batch goes on behind it."""
    with _fault(world, "reject", after=0, times=2):
        world.ic.set_time(world.end)
    assert world.refunded_users() == set()
    assert world.progress().last_error is not None
    world.ic.advance_time(hours=25)
    progress = world.ic.actor(world.sale, MALLORY).retry_refunds().unwrap()
    assert (progress.refunded, progress.last_error) == (REFUND_BATCH, None)
    world.ic.tick()
    world.assert_all_refunded_once()


def test_repeated_faults_pay_no_one_twice(world: World) -> None:
    """A fault in each of the first batches, at different places, retried each time."""
    faults = iter(((10, "reject"), (70, "trap"), (30, "reject"), (5, "trap")))
    after, kind = next(faults)
    with _fault(world, kind, after):
        world.ic.set_time(world.end)
    refunded = [len(world.refunded_users())]
    for after, kind in faults:
        with _fault(world, kind, after):
            world.ic.actor(world.sale, MALLORY).retry_refunds().unwrap()
            world.ic.tick()
        refunded.append(len(world.refunded_users()))
    assert refunded == [10, 80, 110, 115]
    while world.progress().state is SaleState.REFUNDING:
        world.ic.actor(world.sale, MALLORY).retry_refunds().unwrap()
        world.ic.tick()
    world.assert_all_refunded_once()


def test_a_sale_cancelled_by_its_creator_refunds_everyone(world: World) -> None:
    sale = world.ic.actor(world.sale, ALICE)
    assert sale.cancel() == Ok(SaleState.REFUNDING)
    assert world.refunded_users() == set()
    assert world.ic.state_of(world.sale).outcome == "cancelled by the creator"
    world.ic.tick()
    assert world.batches() == [100, 100, 50]
    world.assert_all_refunded_once()
    history = [state for state, _ in sale.get_sale().history]
    assert history[-3:] == [SaleState.CANCELLED, SaleState.REFUNDING, SaleState.REFUNDED]
    world.ic.set_time(world.end)
    world.assert_all_refunded_once()
