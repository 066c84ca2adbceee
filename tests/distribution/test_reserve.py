"""The fee reserve: anyone tops it up, and it pays every fee it can.

One distribution of ICP, bob's 1,000,000 vesting linearly over 10 days, early unlock at a 50 %
penalty sent to dave's account (so an unlock that forfeits something makes two transfers, each
with its fee), with one pre-paid fee (``claims_covered=1``). ``top_up_reserve(amount)`` pulls
from its caller by ``icrc2_transfer_from`` and counts the amount once the ledger has taken it:
a claim after a top-up is paid in full again. It is taken while a payout can still follow and
refused, changing nothing, when the amount is bad, the ledger refuses the pull, or nobody can
be paid any more. An early unlock's fees come from the reserve as far as it goes (the
recipient's own first, then the penalty transfer's); only the rest comes out of the payout.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto import E8S, IC, Account, ApproveArgs, Err, Ok, Principal, TransferArgs
from icto.distribution import (
    Category,
    DistributionConfig,
    Fixed,
    Linear,
    Phase,
    TransferFailed,
    WrongPhase,
    days,
)
from icto.ic.proxy import CanisterProxy
from icto.system import System, deploy_system

OWNER, BOB, CAROL, DAVE = (Principal.from_name(n) for n in ("owner", "bob", "carol", "dave"))
FEE: Final = 10_000
ALLOCATION: Final = 1_000_000
VESTING = days(10)
PAYOUTS_AHEAD = "funded, with payouts still to come"


class World:
    """The platform and the owner's distribution (its penalty sent to ``penalty_to``, or
    burned), snapshotted unfunded (``created``) and funded before its start (``funded``);
    carol holds ICP to top the reserve up with."""

    def __init__(self, penalty_to: Account | None) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.start = self.ic.time + days(1)
        self.config = DistributionConfig(
            title="Reserve", token=self.system.icp_ledger.id, start=self.start,
            categories=(Category("team", ALLOCATION, Fixed(((BOB, ALLOCATION),)),
                                 Linear(VESTING)),),
            penalty_bp=5_000, penalty_to=penalty_to, claims_covered=1,
        )  # fmt: skip
        factory = self.system.distribution_factory.as_caller(self.system.backend.id)
        self.dist: Principal = factory.create_contract(OWNER, self.config).unwrap()
        for user in (OWNER, CAROL):
            self.system.faucet(user, 10 * E8S)
        self.created = self.ic.snapshot()
        self.approve(OWNER, ALLOCATION + 2 * FEE)
        self.as_(OWNER).fund().unwrap()
        self.funded = self.ic.snapshot()

    def as_(self, user: Principal) -> CanisterProxy:
        return self.ic.actor(self.dist, user)

    def approve(self, user: Principal, amount: int) -> None:
        approval = ApproveArgs(spender=Account(self.dist), amount=amount)
        self.system.icp_ledger.as_caller(user).icrc2_approve(approval).unwrap()

    def balance(self, holder: Principal) -> int:
        return self.system.icp_balance(holder)

    def top_up(self, amount: int, by: Principal = CAROL) -> Any:
        """``by`` approves the pull (``amount`` and its fee) and tops the reserve up."""
        self.approve(by, amount + FEE)
        return self.as_(by).top_up_reserve(amount)

    def reserve(self) -> int:
        return int(self.ic.state_of(self.dist).reserve)

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """Assert that the block leaves the distribution and every ICP balance as they were."""
        holders = (OWNER, BOB, CAROL, DAVE, self.dist)
        state, balances = self.ic.state_of(self.dist), [self.balance(h) for h in holders]
        yield
        assert self.ic.state_of(self.dist) == state
        assert [self.balance(h) for h in holders] == balances


@functools.cache
def built(burned: bool = False) -> World:
    return World(None if burned else Account(DAVE))


@pytest.fixture
def funded() -> World:
    world = built()
    world.ic.restore(world.funded)
    world.ic.faults.clear()
    return world


def spent(world: World) -> World:
    """Two days in, bob has claimed what had vested: the reserve's one fee is spent."""
    world.ic.set_time(world.start + days(2))
    claim = world.as_(BOB).claim().unwrap()
    assert (claim.amount, claim.fee_from_reserve, world.reserve()) == (200_000, True, 0)
    return world


# -- topping up ------------------------------------------------------------------------------------


def test_a_top_up_is_pulled_from_its_caller_and_a_later_claim_is_paid_in_full_again(
    funded: World,
) -> None:
    world = spent(funded)
    world.ic.set_time(world.start + days(3))
    thin = world.ic.snapshot()
    assert world.as_(BOB).claim().unwrap().amount == 100_000 - FEE  # the claim pays its fee
    world.ic.restore(thin)
    carol, held = world.balance(CAROL), world.balance(world.dist)
    assert world.top_up(3 * FEE) == Ok(3 * FEE)
    assert world.balance(CAROL) == carol - FEE - 3 * FEE - FEE  # the approval, the amount, its fee
    assert world.balance(world.dist) == held + 3 * FEE
    assert world.as_(CAROL).get_stats().reserve == 3 * FEE
    bob = world.balance(BOB)
    claim = world.as_(BOB).claim().unwrap()
    assert (claim.amount, claim.fee_from_reserve) == (100_000, True)
    assert world.balance(BOB) == bob + 100_000
    assert world.reserve() == 2 * FEE
    assert world.balance(world.dist) == ALLOCATION - 300_000 + world.reserve()


def test_a_plain_transfer_to_the_distribution_is_not_counted_in_the_reserve(
    funded: World,
) -> None:
    world = spent(funded)
    world.ic.set_time(world.start + days(3))
    deposit = TransferArgs(to=Account(world.dist), amount=5 * FEE)
    world.system.icp_ledger.as_caller(CAROL).icrc1_transfer(deposit).unwrap()
    assert world.reserve() == 0
    claim = world.as_(BOB).claim().unwrap()
    assert (claim.amount, claim.fee_from_reserve) == (100_000 - FEE, False)


def test_top_ups_add_up_and_are_told_in_the_answer(funded: World) -> None:
    assert funded.top_up(FEE) == Ok(2 * FEE)
    assert funded.top_up(1, by=OWNER) == Ok(2 * FEE + 1)
    assert funded.ic.state_of(funded.dist).topped_up == FEE + 1


def _broke_dave(world: World) -> None:
    """Dave approves the pull with the one fee he holds, and has nothing left to pull."""
    world.system.faucet(DAVE, FEE)
    world.approve(DAVE, 4 * FEE)


PULLS_REFUSED: dict[str, tuple[Callable[[World], object], Principal]] = {
    "nothing approved": (lambda w: None, CAROL),
    "the approval misses the pull's fee": (lambda w: w.approve(CAROL, 3 * FEE), CAROL),
    "the payer holds too little": (_broke_dave, DAVE),
    "the ledger rejects": (lambda w: (
        w.approve(CAROL, 4 * FEE),
        w.ic.faults.reject(canister=w.system.icp_ledger.id, method="icrc2_transfer_from",
                           times=2),
    ), CAROL),
    "the ledger traps": (lambda w: (
        w.approve(CAROL, 4 * FEE),
        w.ic.faults.trap(canister=w.system.icp_ledger.id, method="icrc2_transfer_from",
                         times=2),
    ), CAROL),
}  # fmt: skip


@pytest.mark.parametrize(("setup", "payer"), PULLS_REFUSED.values(), ids=PULLS_REFUSED.keys())
def test_a_top_up_the_ledger_does_not_take_is_not_counted_and_changes_nothing(
    funded: World, setup: Callable[[World], object], payer: Principal
) -> None:
    world = spent(funded)
    setup(world)
    with world.unchanged():
        result = world.as_(payer).top_up_reserve(3 * FEE)
    assert isinstance(result, Err) and isinstance(result.error, TransferFailed)
    assert world.ic.state_of(world.dist).pulling == 0


def _claimed_everything(world: World) -> None:
    world.ic.set_time(world.start + VESTING)
    world.as_(BOB).claim().unwrap()


def _cancelled_before_the_start(world: World) -> None:
    world.as_(OWNER).cancel().unwrap()
    world.ic.set_time(world.start + VESTING)


def _unlocked_early(world: World) -> None:
    world.ic.set_time(world.start + days(5))
    world.as_(BOB).early_unlock().unwrap()


NO_PAYOUT_AHEAD: dict[str, tuple[Callable[[World], object], Phase]] = {
    "before funding": (lambda w: w.ic.restore(w.created), Phase.CREATED),
    "everything claimed": (_claimed_everything, Phase.COMPLETED),
    "unlocked early": (_unlocked_early, Phase.ACTIVE),
    "cancelled with nothing vested": (_cancelled_before_the_start, Phase.CANCELLED),
}  # fmt: skip


@pytest.mark.parametrize(("setup", "phase"), NO_PAYOUT_AHEAD.values(), ids=NO_PAYOUT_AHEAD.keys())
def test_a_top_up_is_refused_where_no_payout_can_follow(
    funded: World, setup: Callable[[World], object], phase: Phase
) -> None:
    world = funded
    setup(world)
    world.approve(CAROL, 4 * FEE)
    with world.unchanged():
        assert world.as_(CAROL).top_up_reserve(3 * FEE) == Err(WrongPhase(phase, PAYOUTS_AHEAD))


def _paused(world: World) -> None:
    world.ic.set_time(world.start + days(2))
    world.as_(OWNER).pause().unwrap()


def _cancelled_halfway(world: World) -> None:
    world.ic.set_time(world.start + days(5))
    world.as_(OWNER).cancel().unwrap()


PAYOUT_AHEAD: dict[str, tuple[Callable[[World], object], Phase]] = {
    "before the start": (lambda w: None, Phase.FUNDED),
    "active": (lambda w: w.ic.set_time(w.start + days(2)), Phase.ACTIVE),
    "paused": (_paused, Phase.PAUSED),
    "completed, not all claimed": (lambda w: w.ic.set_time(w.start + VESTING), Phase.COMPLETED),
    "cancelled with vested amounts owed": (_cancelled_halfway, Phase.CANCELLED),
}  # fmt: skip


@pytest.mark.parametrize(("setup", "phase"), PAYOUT_AHEAD.values(), ids=PAYOUT_AHEAD.keys())
def test_a_top_up_is_taken_while_a_payout_can_follow(
    funded: World, setup: Callable[[World], object], phase: Phase
) -> None:
    world = funded
    setup(world)
    assert world.as_(CAROL).get_phase() is phase
    reserve, held = world.reserve(), world.balance(world.dist)
    assert world.top_up(3 * FEE) == Ok(reserve + 3 * FEE)
    assert world.balance(world.dist) == held + 3 * FEE


# -- early unlock: the reserve pays what it can -------------------------------------------------

DUE: Final = ALLOCATION - 200_000 - 250_000
"""Bob's early unlock five days in, after claiming two days' worth: the vested 300,000 left and
the unvested 500,000 less the penalty of 250,000."""


@pytest.mark.parametrize("fees", [0, 1, 2, 3])
def test_an_early_unlock_takes_from_the_payout_only_the_fees_the_reserve_cannot_pay(
    funded: World, fees: int
) -> None:
    world = spent(funded)
    if fees:
        world.top_up(fees * FEE)
    world.ic.set_time(world.start + days(5))
    bob, dave = world.balance(BOB), world.balance(DAVE)
    claim = world.as_(BOB).early_unlock().unwrap()
    short = max(0, 2 - fees) * FEE
    assert (claim.amount, claim.fee_from_reserve) == (DUE - short, fees >= 1)
    assert world.balance(BOB) == bob + DUE - short
    assert world.balance(DAVE) == dave + 250_000
    assert world.reserve() == world.balance(world.dist) == max(0, fees - 2) * FEE


@pytest.mark.parametrize("fees", [1, 2])
def test_an_early_unlock_the_ledger_refuses_puts_back_exactly_what_it_took(
    funded: World, fees: int
) -> None:
    world = spent(funded)
    world.top_up(fees * FEE)
    world.ic.set_time(world.start + days(5))
    with world.unchanged():
        world.ic.faults.reject(
            canister=world.system.icp_ledger.id, method="icrc1_transfer", times=2
        )
        result = world.as_(BOB).early_unlock()
    assert isinstance(result, Err) and isinstance(result.error, TransferFailed)
    assert world.as_(BOB).early_unlock().unwrap().amount == DUE - (2 - fees) * FEE


@settings(max_examples=min(40, settings().max_examples), deadline=None)
@given(
    topped_up=st.integers(0, 3 * FEE), day=st.integers(1, 9), claims=st.integers(0, 2),
    burned=st.booleans(),
)  # fmt: skip
def test_an_early_unlock_pays_what_is_due_less_only_the_fees_the_reserve_lacks(
    topped_up: int, day: int, claims: int, burned: bool
) -> None:
    """Whatever the reserve holds (the pre-paid fee, claims' fees taken, any top-up), an early
    unlock pays vested + unvested - penalty less only the fees the reserve cannot pay, and
    leaves the distribution holding exactly its reserve (and a penalty waiting to be burned, if
    any): nothing owed goes missing and no fee is stranded."""
    world = built(burned)
    world.ic.restore(world.funded)
    for n in range(claims):
        world.ic.set_time(world.start + (n + 1) * day * days(1) // (claims + 1))
        world.as_(BOB).claim().unwrap()
    if topped_up:
        world.top_up(topped_up)
    world.ic.set_time(world.start + day * days(1))
    participant = world.ic.state_of(world.dist).participants[BOB]
    vested = ALLOCATION * day // 10
    penalty = (ALLOCATION - vested) // 2
    fees = 1 if burned else 2
    reserve, bob = world.reserve(), world.balance(BOB)
    covered = min(fees, reserve // FEE)
    claim = world.as_(BOB).early_unlock().unwrap()
    due = ALLOCATION - participant.claimed - penalty - (fees - covered) * FEE
    assert (claim.amount, claim.fee_from_reserve) == (due, covered >= 1)
    assert world.balance(BOB) == bob + due
    state = world.ic.state_of(world.dist)
    assert state.reserve == reserve - covered * FEE
    assert world.balance(world.dist) == state.reserve + state.pending_penalty


# -- what is left of the reserve goes back to the owner --------------------------------------------


def all_paid(world: World) -> World:
    """Carol topped the reserve up by five fees; at the end bob claimed everything, the fee
    from the reserve: nobody can be paid any more, and 50,000 of reserve is left."""
    world.top_up(5 * FEE).unwrap()
    world.ic.set_time(world.start + VESTING)
    claim = world.as_(BOB).claim().unwrap()
    assert (claim.amount, claim.fee_from_reserve, world.reserve()) == (ALLOCATION, True, 5 * FEE)
    return world


def test_once_nobody_can_be_paid_the_owner_takes_back_the_spare_reserve(funded: World) -> None:
    world = all_paid(funded)
    owner = world.balance(OWNER)

    assert world.as_(OWNER).withdraw_spare_reserve() == Ok(4 * FEE)

    assert world.balance(OWNER) == owner + 4 * FEE
    assert world.balance(world.dist) == 0 and world.reserve() == 0
    with world.unchanged():
        assert world.as_(OWNER).withdraw_spare_reserve().is_err


def test_the_spare_reserve_is_not_taken_while_someone_can_still_be_paid(funded: World) -> None:
    world = funded
    world.ic.set_time(world.start + VESTING - 1)
    with world.unchanged():
        refused = world.as_(OWNER).withdraw_spare_reserve()
    assert refused == Err(WrongPhase(Phase.ACTIVE, "funded, with nobody left to pay"))


def test_only_the_owner_takes_the_spare_reserve_back(funded: World) -> None:
    world = all_paid(funded)
    with world.unchanged():
        assert world.as_(CAROL).withdraw_spare_reserve().is_err


def test_a_refused_return_of_the_spare_reserve_keeps_it(funded: World) -> None:
    world = all_paid(funded)
    ledger = world.system.icp_ledger.id
    with world.unchanged(), world.ic.faults.reject(ledger, "icrc1_transfer", times=2):
        refused = world.as_(OWNER).withdraw_spare_reserve()
    assert isinstance(refused, Err) and isinstance(refused.error, TransferFailed)
    assert world.as_(OWNER).withdraw_spare_reserve() == Ok(4 * FEE)
