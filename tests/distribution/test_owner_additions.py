"""The owner's additions before the start keep every promise a category made.

One funded distribution of ICP, before its start, with four categories: "team" (``Fixed``: bob
60, carol 40), "pool" (``Whitelist`` of 30: dave 10 and erin 5, who have not registered yet),
"drop" (``Open``: 3 equal shares of 10) and "proofs" (``MerkleRoot`` for at most 2: bob 5,
carol 7). Its fee reserve was sized for ``max_recipients`` of each: 2 + 2 + 3 + 2 recipients.

An owner's addition keeps the category within the places its fee reserve was sized for
(whitelisted principals who have not registered count as places taken), within the room nobody
was promised, at an ``Open`` category's equal share, and a ``MerkleRoot`` category takes none:
its places belong to those who prove them. A refusal is ``Err(InvalidRequest)`` and changes
nothing; removing or blacklisting someone frees their place and amount.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto import E8S, IC, Account, ApproveArgs, Err, Ok, Principal
from icto.distribution import (
    Category,
    DistributionConfig,
    Fixed,
    InvalidRequest,
    Linear,
    MerkleRoot,
    MerkleTree,
    NotEligible,
    Open,
    Whitelist,
    Window,
    days,
    leaf,
)
from icto.distribution.config import max_recipients
from icto.ic.proxy import CanisterProxy
from icto.system import System, deploy_system

OWNER, BOB, CAROL, DAVE, ERIN, FRANK, GRACE, HEIDI = (
    Principal.from_name(name)
    for name in ("owner", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
)
PEOPLE = (BOB, CAROL, DAVE, ERIN, FRANK, GRACE, HEIDI)
FEE: Final = 10_000
TEAM, POOL, DROP, PROOFS = range(4)
SHARE: Final = 10 * E8S
LISTED = {DAVE: 10 * E8S, ERIN: 5 * E8S}
PROVED = ((BOB, 5 * E8S), (CAROL, 7 * E8S))
TREE = MerkleTree([leaf(user, amount, PROOFS) for user, amount in PROVED])
PLACES_TAKEN = "the category's {} places are taken or kept for its whitelist"
NOT_A_SHARE = f"an Open category's share is exactly {SHARE}"
NOTHING_LEFT = "only 0 of the category is left to allocate"
NO_MERKLE = "a Merkle category's recipients prove their place: the owner adds none"


class World:
    """The platform and the owner's funded distribution, snapshotted before the start with
    every registration window open."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        start = self.ic.time + days(1)
        window = Window(self.ic.time, start)
        self.config = DistributionConfig(
            title="Promises", token=self.system.icp_ledger.id, start=start,
            categories=(
                Category("team", 100 * E8S, Fixed(((BOB, 60 * E8S), (CAROL, 40 * E8S))),
                         Linear(days(10))),
                Category("pool", 30 * E8S, Whitelist(tuple(LISTED.items()), window)),
                Category("drop", 3 * SHARE, Open(3, window)),
                Category("proofs", 12 * E8S, MerkleRoot(TREE.root, 2)),
            ),
        )  # fmt: skip
        factory = self.system.distribution_factory.as_caller(self.system.backend.id)
        self.dist: Principal = factory.create_contract(OWNER, self.config).unwrap()
        self.system.faucet(OWNER, 1_000 * E8S)
        approval = ApproveArgs(spender=Account(self.dist), amount=1_000 * E8S)
        self.system.icp_ledger.as_caller(OWNER).icrc2_approve(approval).unwrap()
        self.as_(OWNER).fund().unwrap()
        self.before_start = self.ic.snapshot()

    def as_(self, user: Principal) -> CanisterProxy:
        return self.ic.actor(self.dist, user)

    def add(self, user: Principal, category: int, amount: int) -> Any:
        return self.as_(OWNER).add_recipient(user, category, amount)

    def register(self, user: Principal, category: int) -> Any:
        if category != PROOFS:
            return self.as_(user).register(category)
        index = next((i for i, (who, _) in enumerate(PROVED) if who == user), None)
        if index is None:
            return self.as_(user).register(category, E8S, ())
        return self.as_(user).register(category, PROVED[index][1], TREE.proof(index))

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """Assert that the block leaves the distribution and every ICP balance as they were."""
        state = self.ic.state_of(self.dist)
        balances = [self.system.icp_balance(holder) for holder in (OWNER, self.dist, *PEOPLE)]
        yield
        assert self.ic.state_of(self.dist) == state
        assert [self.system.icp_balance(h) for h in (OWNER, self.dist, *PEOPLE)] == balances


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    built.ic.restore(built.before_start)
    return built


def refusal(reason: str) -> Err[InvalidRequest]:
    return Err(InvalidRequest((reason,)))


# -- Open: equal shares, max_recipients -----------------------------------------------------------


@pytest.mark.parametrize("amount", [1, 9 * E8S, 11 * E8S, 3 * SHARE])
def test_an_owner_addition_to_an_open_airdrop_must_be_its_equal_share(
    world: World, amount: int
) -> None:
    with world.unchanged():
        assert world.add(FRANK, DROP, amount) == refusal(NOT_A_SHARE)
    assert world.add(FRANK, DROP, SHARE) == Ok(None)
    assert world.register(DAVE, DROP) == Ok(SHARE)
    assert world.register(ERIN, DROP) == Ok(SHARE)


def test_the_owner_cannot_crowd_an_open_airdrop_past_its_max_recipients(world: World) -> None:
    """Tiny additions would leave room and take places beyond the three the reserve was sized
    for: each is refused, and the owner's full shares and registrations fill exactly three."""
    with world.unchanged():
        for user in (FRANK, GRACE, HEIDI, BOB):
            assert world.add(user, DROP, 1) == refusal(NOT_A_SHARE)
    assert world.register(DAVE, DROP) == Ok(SHARE)
    for user in (FRANK, GRACE):
        assert world.add(user, DROP, SHARE) == Ok(None)
    with world.unchanged():
        assert world.add(HEIDI, DROP, SHARE) == refusal(NOTHING_LEFT)
        assert world.register(ERIN, DROP) == Err(NotEligible("the airdrop is full"))
    assert world.ic.state_of(world.dist).counts[DROP] == 3


# -- Whitelist: places and amounts kept for those who have not registered -------------------------


def test_an_owner_addition_leaves_unregistered_whitelisted_principals_their_places(
    world: World,
) -> None:
    """Dave and erin take both of the pool's places until they register, though 15 of its 30
    ICP were never promised."""
    with world.unchanged():
        assert world.add(FRANK, POOL, E8S) == refusal(PLACES_TAKEN.format(2))
    assert world.register(DAVE, POOL) == Ok(10 * E8S)
    assert world.register(ERIN, POOL) == Ok(5 * E8S)
    with world.unchanged():
        assert world.add(FRANK, POOL, E8S) == refusal(PLACES_TAKEN.format(2))


def test_an_owner_addition_leaves_unregistered_whitelisted_principals_their_amounts(
    world: World,
) -> None:
    """Blacklisting erin frees a place and her 5: 20 of the 30 are now free, dave's 10 kept."""
    assert world.as_(OWNER).blacklist(ERIN) == Ok(None)
    with world.unchanged():
        assert world.add(FRANK, POOL, 20 * E8S + 1) == refusal(
            f"only {20 * E8S} of the category is left to allocate"
        )
    assert world.add(FRANK, POOL, 20 * E8S) == Ok(None)
    assert world.register(DAVE, POOL) == Ok(10 * E8S)
    state = world.ic.state_of(world.dist)
    assert (state.registered[POOL], state.counts[POOL]) == (30 * E8S, 2)


def test_a_whitelisted_principal_registers_for_their_amount_rather_than_being_added(
    world: World,
) -> None:
    with world.unchanged():
        assert world.add(DAVE, POOL, 10 * E8S) == refusal(
            f"{DAVE} is on category {POOL}'s whitelist: they register for their amount"
        )
    assert world.register(DAVE, POOL) == Ok(10 * E8S)


# -- Fixed: only a freed place ---------------------------------------------------------------------


def test_an_owner_addition_to_fixed_recipients_takes_only_a_freed_place(world: World) -> None:
    """Removing carol frees one place and 40: frank may take 20 of it, but grace then finds
    room and no place (the reserve was sized for two recipients)."""
    with world.unchanged():
        assert world.add(FRANK, TEAM, 1) == refusal(NOTHING_LEFT)
    assert world.as_(OWNER).remove_recipient(CAROL) == Ok(None)
    assert world.add(FRANK, TEAM, 20 * E8S) == Ok(None)
    with world.unchanged():
        assert world.add(GRACE, TEAM, 20 * E8S) == refusal(PLACES_TAKEN.format(2))


# -- MerkleRoot: places belong to those who prove them ---------------------------------------------


@pytest.mark.parametrize("amount", [1, 5 * E8S, 12 * E8S])
def test_a_merkle_category_takes_no_owner_additions_and_every_proof_holder_still_registers(
    world: World, amount: int
) -> None:
    with world.unchanged():
        for user in (DAVE, BOB):
            assert world.add(user, PROOFS, amount) == refusal(NO_MERKLE)
    for user, proved in PROVED:
        assert world.register(user, PROOFS) == Ok(proved)


# -- freeing places --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["remove_recipient", "blacklist"])
def test_a_recipient_taken_out_frees_their_place_for_an_addition_or_a_registration(
    world: World, how: str
) -> None:
    for user in (DAVE, ERIN, FRANK):
        assert world.register(user, DROP) == Ok(SHARE)
    assert getattr(world.as_(OWNER), how)(ERIN) == Ok(None)
    assert world.add(GRACE, DROP, SHARE) == Ok(None)
    with world.unchanged():
        assert world.register(HEIDI, DROP) == Err(NotEligible("the airdrop is full"))
    assert getattr(world.as_(OWNER), how)(GRACE) == Ok(None)
    assert world.register(HEIDI, DROP) == Ok(SHARE)


# -- any sequence ----------------------------------------------------------------------------------

changes = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "register", "remove_recipient", "blacklist"]),
        st.sampled_from(PEOPLE), st.sampled_from([TEAM, POOL, DROP, PROOFS]),
        st.sampled_from([1, 5 * E8S, SHARE, 15 * E8S, 20 * E8S]),
    ),
    max_size=12,
)  # fmt: skip


@settings(max_examples=min(40, settings().max_examples), deadline=None)
@given(steps=changes)
def test_no_sequence_of_owner_changes_breaks_a_categorys_promises(
    built: World, steps: list[tuple[str, Principal, int, int]]
) -> None:
    """Whatever the owner adds, removes and blacklists among registrations: no category holds
    more recipients than its reserve was sized for nor more than its amount, an airdrop's
    recipients hold equal shares, every whitelisted principal and proof holder not blacklisted
    can still register for exactly their amount, and the reserve still pays every recipient's
    pre-paid fees."""
    world = built
    world.ic.restore(world.before_start)
    for action, user, category, amount in steps:
        if action == "add":
            world.add(user, category, amount)
        elif action == "register":
            world.register(user, category)
        else:
            getattr(world.as_(OWNER), action)(user)
    state = world.ic.state_of(world.dist)
    for user, listed in LISTED.items():
        if POOL in state.eligible.get(user, {}):
            assert world.register(user, POOL) == Ok(listed)
    for user, proved in PROVED:
        held = state.participants.get(user)
        if user not in state.blacklist and (held is None or PROOFS not in held.allocations):
            assert world.register(user, PROOFS) == Ok(proved)
    state = world.ic.state_of(world.dist)
    for index, category in enumerate(world.config.categories):
        assert state.counts.get(index, 0) <= max_recipients(category)
        assert state.registered.get(index, 0) <= category.amount
    shares = {p.allocations[DROP] for p in state.participants.values() if DROP in p.allocations}
    assert shares <= {SHARE}
    assert sum(state.counts.values()) * world.config.claims_covered * FEE <= state.reserve
