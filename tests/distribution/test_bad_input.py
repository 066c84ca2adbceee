"""Bad input to a distribution config and to a distribution's updates is refused with a typed
error, by the cheap path, and changes nothing.

``validate_distribution_config`` gives every out-of-bounds field its own reason; the paid
``deploy_distribution`` refuses such a config with exactly those reasons before any payment, and
so does the factory asked by the backend: no ICP moves, no canister is created. Arguments of the
wrong type are refused by the router before the method runs (``InvalidArguments``); values of
the right type but out of bounds are ``Err(NothingToClaim)``, ``Err(InvalidRequest)`` or
``Err(NotEligible)``, and leave the distribution, the factory's index and every balance as they
were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from icto import E8S, GENESIS_TIME, IC, Account, Err, InvalidArguments, Ok, Principal
from icto.distribution import (
    Category,
    Cliff,
    DistributionConfig,
    Fixed,
    HoldsToken,
    InvalidRequest,
    Linear,
    Lock,
    MerkleRoot,
    MerkleTree,
    NotEligible,
    NothingToClaim,
    Open,
    Steps,
    Whitelist,
    Window,
    days,
    leaf,
    validate_distribution_config,
)
from icto.factory import InvalidConfig
from icto.ic.proxy import CanisterProxy
from icto.ic.world import MAX_TIME
from icto.ledger.presets import ICP
from icto.ledger.types import ApproveArgs
from icto.system import System, deploy_system
from tests.helpers import live_canisters, rejected

ALICE, BOB, CAROL, DAVE, FRANK = (
    Principal.from_name(name) for name in ("alice", "bob", "carol", "dave", "frank")
)
ANONYMOUS = Principal.anonymous()
MANAGEMENT = Principal.management_canister()
ICP_LEDGER = ICP.canister_id
FEE: Final = 10_000
DAY = days(1)
VESTING = days(10)
TEN_MB = 10_000_000
START = GENESIS_TIME + DAY
WINDOW = Window(START - DAY, START)

TEAM = Category("team", 100 * E8S, Fixed(((BOB, 60 * E8S), (CAROL, 40 * E8S))), Linear(VESTING))
POOL = Category("pool", 30 * E8S, Whitelist(((DAVE, 10 * E8S),), WINDOW), Linear(VESTING))
CONFIG = DistributionConfig(
    title="Team vesting", token=ICP_LEDGER, start=START, categories=(TEAM, POOL)
)


def with_team(**changes: Any) -> DistributionConfig:
    """``CONFIG`` with its first category changed."""
    return attrs.evolve(CONFIG, categories=(attrs.evolve(TEAM, **changes), POOL))


def one_category(amount: int, recipients: Any, **changes: Any) -> DistributionConfig:
    return attrs.evolve(CONFIG, categories=(Category("only", amount, recipients, **changes),))


class World:
    """The platform with alice's funded ``dist`` (``CONFIG``: "team" 100 ICP to bob 60 and
    carol 40, "pool" 30 ICP on a whitelist of dave for 10, both linear over 10 days) and a
    Merkle airdrop ``merkle`` (bob 5, carol 7), as two snapshots: ``before_start`` (the
    whitelist open) and ``active`` (halfway through the vesting). Alice may still pay for more
    deployments."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.factory = self.system.distribution_factory
        self.system.faucet(ALICE, 1_000 * E8S)
        self.system.approve_backend(ALICE, 10 * E8S)
        self.tree = MerkleTree([leaf(BOB, 5 * E8S, 0), leaf(CAROL, 7 * E8S, 0)])
        merkle = one_category(12 * E8S, MerkleRoot(self.tree.root, 2))
        self.dist = self.deploy(CONFIG)
        self.merkle = self.deploy(merkle)
        for dist in (self.dist, self.merkle):
            approval = ApproveArgs(spender=Account(dist), amount=1_000 * E8S)
            self.system.icp_ledger.as_caller(ALICE).icrc2_approve(approval).unwrap()
            self.as_(dist, ALICE).fund().unwrap()
        self.before_start = self.ic.snapshot()
        self.ic.set_time(START + VESTING // 2)
        self.active = self.ic.snapshot()
        self.ic.restore(self.before_start)

    def deploy(self, config: DistributionConfig) -> Principal:
        deployed = self.system.backend.as_caller(ALICE).deploy_distribution(config).unwrap()
        canister: Principal = deployed.canister_id
        return canister

    def as_(self, dist: Principal, user: Principal) -> CanisterProxy:
        return self.ic.actor(dist, user)

    def balances(self) -> dict[Principal, int]:
        holders = (ALICE, BOB, CAROL, DAVE, FRANK, self.dist, self.merkle, self.system.backend.id)
        return {holder: self.system.icp_balance(holder) for holder in holders}

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """Assert that the block leaves both distributions, the backend, the factory's index,
        the set of canisters and every ICP balance as they were."""
        states = (self.ic.state_of(self.dist), self.ic.state_of(self.merkle))
        backend = self.ic.state_of(self.system.backend.id)
        index = self.ic.state_of(self.factory.id).index
        canisters = live_canisters(self.ic)
        balances = self.balances()
        yield
        assert (self.ic.state_of(self.dist), self.ic.state_of(self.merkle)) == states
        assert self.ic.state_of(self.system.backend.id) == backend
        assert self.ic.state_of(self.factory.id).index == index
        assert live_canisters(self.ic) == canisters
        assert self.balances() == balances

    @contextmanager
    def refused_without_a_call(self) -> Iterator[None]:
        """``unchanged``, and every call in the block was decided without an inter-canister
        call."""
        with self.unchanged():
            self.ic.trace.clear()
            yield
            entries = list(self.ic.trace)
            assert entries, "the block made no call"
            assert [entry.summary() for entry in entries if entry.parent_id is not None] == []


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def before_start(built: World) -> World:
    built.ic.restore(built.before_start)
    built.ic.faults.clear()
    return built


@pytest.fixture
def active(built: World) -> World:
    built.ic.restore(built.active)
    built.ic.faults.clear()
    return built


# -- configs --------------------------------------------------------------------------------------

BAD_CONFIGS: dict[str, tuple[Callable[[], DistributionConfig], str]] = {
    "empty title": (
        lambda: attrs.evolve(CONFIG, title=""), "title must be 1 to 100 characters, got 0",
    ),
    "101-character title": (
        lambda: attrs.evolve(CONFIG, title="t" * 101), "title must be 1 to 100 characters, got 101",
    ),
    "10 MB title": (
        lambda: attrs.evolve(CONFIG, title="t" * TEN_MB),
        f"title must be 1 to 100 characters, got {TEN_MB}",
    ),
    "title with a bidi override": (
        lambda: attrs.evolve(CONFIG, title="\u202eevil"), "title must not contain U+202E",
    ),
    "title with a newline": (
        lambda: attrs.evolve(CONFIG, title="Team\nvesting"), "title must not contain U+000A",
    ),
    "title with a lone surrogate": (
        lambda: attrs.evolve(CONFIG, title="Team \ud800"), "title must not contain U+D800",
    ),
    "title padded with spaces": (
        lambda: attrs.evolve(CONFIG, title=" Team "), "title must not start or end with whitespace",
    ),
    "title as bytes": (
        lambda: attrs.evolve(CONFIG, title=b"Team"), "title must be text, got bytes",  # type: ignore[arg-type]
    ),
    "10 MB description": (
        lambda: attrs.evolve(CONFIG, description="d" * TEN_MB),
        "description must be 0 to 1000 characters",
    ),
    "a user as token": (
        lambda: attrs.evolve(CONFIG, token=ALICE), "token must be a ledger canister id",
    ),
    "the management canister as token": (
        lambda: attrs.evolve(CONFIG, token=MANAGEMENT), "token must be a ledger canister id",
    ),
    "token as text": (
        lambda: attrs.evolve(CONFIG, token=str(ICP_LEDGER)), "token must be a ledger canister id",  # type: ignore[arg-type]
    ),
    "negative start": (
        lambda: attrs.evolve(CONFIG, start=-1), "start must be an int of ns from 0 to 2**64 - 1",
    ),
    "start as float": (
        lambda: attrs.evolve(CONFIG, start=float(START)),  # type: ignore[arg-type]
        "start must be an int of ns from 0 to 2**64 - 1",
    ),
    "a start past IC time": (
        lambda: attrs.evolve(CONFIG, start=MAX_TIME + 1),
        "start must be an int of ns from 0 to 2**64 - 1",
    ),
    "a start of 5,000 digits (no digest could print it)": (
        lambda: attrs.evolve(CONFIG, start=10**5000),
        "start must be an int of ns from 0 to 2**64 - 1",
    ),
    "a schedule ending past IC time": (
        lambda: with_team(schedule=Lock(MAX_TIME + 1)),
        "a schedule ends at most 2**64 - 1 ns (IC time) after its start",
    ),
    "a start_offset and schedule ending past IC time": (
        lambda: with_team(start_offset=MAX_TIME, schedule=Linear(1)),
        "category 0: its start_offset and schedule end past 2**64 - 1 ns",
    ),
    "a start and schedule unlocking past IC time": (
        lambda: attrs.evolve(CONFIG, start=MAX_TIME - 10),
        "the distribution unlocks its last tokens past 2**64 - 1 ns",
    ),
    "a window closing past IC time": (
        lambda: one_category(100, Open(1, Window(0, MAX_TIME + 1))),
        "a registration window needs ints 0 <= opens < closes",
    ),
    "no categories": (
        lambda: attrs.evolve(CONFIG, categories=()), "a distribution has 1 to 20 categories",
    ),
    "21 categories": (
        lambda: attrs.evolve(
            CONFIG, categories=tuple(Category(f"c{i}", 1, Fixed(((BOB, 1),))) for i in range(21))
        ),
        "a distribution has 1 to 20 categories",
    ),
    "categories as a list": (
        lambda: attrs.evolve(CONFIG, categories=[TEAM]), "a distribution has 1 to 20 categories",  # type: ignore[arg-type]
    ),
    "categories that are not Category": (
        lambda: attrs.evolve(CONFIG, categories=("team",)), "categories must be Category records",  # type: ignore[arg-type]
    ),
    "empty category name": (
        lambda: with_team(name=""), "category 0 name must be 1 to 100 characters",
    ),
    "category amount 0": (
        lambda: with_team(amount=0), "category 0: amount must be an int from 1 to 2**128 - 1",
    ),
    "category amount 2**128": (
        lambda: one_category(2**128, Fixed(((BOB, 2**128),))),
        "category 0: amount must be an int from 1 to 2**128 - 1",
    ),
    "a total above 2**128 - 1": (
        lambda: attrs.evolve(CONFIG, categories=(
            Category("a", 2**127, Fixed(((BOB, 2**127),))),
            Category("b", 2**127, Fixed(((CAROL, 2**127),))),
        )),
        "the total amount must be at most 2**128 - 1",
    ),
    "Fixed amounts that do not sum to the category's": (
        lambda: with_team(recipients=Fixed(((BOB, 60 * E8S), (CAROL, 40 * E8S - 1)))),
        f"Fixed amounts sum to {100 * E8S - 1}, not the amount {100 * E8S}",
    ),
    "Whitelist amounts above the category's": (
        lambda: one_category(10 * E8S, Whitelist(((BOB, 8 * E8S), (CAROL, 8 * E8S)), WINDOW)),
        f"Whitelist amounts sum to {16 * E8S}, more than the amount {10 * E8S}",
    ),
    "no Fixed recipients": (
        lambda: with_team(recipients=Fixed(())), "recipients are 1 to 100000 (Principal, amount)",
    ),
    "the anonymous principal as a recipient": (
        lambda: with_team(recipients=Fixed(((ANONYMOUS, 100 * E8S),))),
        "the anonymous principal cannot be a recipient",
    ),
    "the management canister as a recipient": (
        lambda: with_team(recipients=Fixed(((MANAGEMENT, 100 * E8S),))),
        "the management canister cannot be a recipient",
    ),
    "a recipient as text": (
        lambda: with_team(recipients=Fixed(((str(BOB), 100 * E8S),))),
        "a recipient must be a Principal, got str",
    ),
    "a recipient twice": (
        lambda: with_team(recipients=Fixed(((BOB, 50 * E8S), (BOB, 50 * E8S)))),
        "recipients name a principal more than once",
    ),
    "a recipient's amount 0": (
        lambda: with_team(recipients=Fixed(((BOB, 100 * E8S), (CAROL, 0)))),
        "'s amount must be an int > 0",
    ),
    "an Open amount that does not divide": (
        lambda: one_category(100, Open(3, WINDOW)),
        "an Open category's amount must divide into equal shares",
    ),
    "Open for no one": (
        lambda: one_category(100, Open(0, WINDOW)), "Open max_recipients must be an int from 1",
    ),
    "a 31-byte Merkle root": (
        lambda: one_category(100, MerkleRoot(b"\x00" * 31, 2)), "a Merkle root is 32 bytes",
    ),
    "a Merkle root as text": (
        lambda: one_category(100, MerkleRoot("00" * 32, 2)), "a Merkle root is 32 bytes",  # type: ignore[arg-type]
    ),
    "a Merkle airdrop for no one": (
        lambda: one_category(100, MerkleRoot(b"\x00" * 32, 0)),
        "Merkle max_recipients must be an int from 1",
    ),
    "a window that opens when it closes": (
        lambda: one_category(100, Open(1, Window(START, START))),
        "a registration window needs ints 0 <= opens < closes",
    ),
    "a window that opens after it closes": (
        lambda: one_category(100, Whitelist(((BOB, 1),), Window(START + 1, START))),
        "a registration window needs ints 0 <= opens < closes",
    ),
    "a window opening before 0": (
        lambda: one_category(100, Open(1, Window(-1, START))),
        "a registration window needs ints 0 <= opens < closes",
    ),
    "a window that is not a Window": (
        lambda: one_category(100, Open(1, (0, START))),  # type: ignore[arg-type]
        "a registration window is a Window(opens, closes)",
    ),
    "recipients of no known kind": (
        lambda: with_team(recipients="everyone"),
        "recipients are Fixed, Whitelist, Open or MerkleRoot",
    ),
    "Linear(0)": (
        lambda: with_team(schedule=Linear(0)), "category 0: a Linear duration is an int of ns > 0",
    ),
    "a negative Linear duration": (
        lambda: with_team(schedule=Linear(-DAY)), "a Linear duration is an int of ns > 0",
    ),
    "a Cliff's cliff_bp 10_001": (
        lambda: with_team(schedule=Cliff(DAY, 10_001, DAY)),
        "a Cliff's cliff_bp is an int from 0 to 10000",
    ),
    "Steps that do not sum to 10_000": (
        lambda: with_team(schedule=Steps(((0, 5_000),))), "Steps' bps sum to exactly 10000",
    ),
    "Steps out of order": (
        lambda: with_team(schedule=Steps(((DAY, 5_000), (0, 5_000)))),
        "Steps' offsets are strictly ascending",
    ),
    "a schedule as text": (
        lambda: with_team(schedule="Linear"), "a schedule is Instant, Linear, Cliff, Steps or Lock",
    ),
    "initial_bp 10_001": (
        lambda: with_team(initial_bp=10_001),
        "category 0: initial_bp must be an int from 0 to 10000",
    ),
    "a negative start_offset": (
        lambda: with_team(start_offset=-1),
        "category 0: start_offset must be an int of ns from 0 to 2**64 - 1",
    ),
    "eligibility on a user's holdings": (
        lambda: attrs.evolve(CONFIG, eligibility=HoldsToken(ALICE, 1)),
        "eligibility is None or HoldsToken(ledger canister, min_balance >= 0)",
    ),
    "a negative min_balance": (
        lambda: attrs.evolve(CONFIG, eligibility=HoldsToken(ICP_LEDGER, -1)),
        "eligibility is None or HoldsToken",
    ),
    "penalty_bp 10_001": (
        lambda: attrs.evolve(CONFIG, penalty_bp=10_001),
        "penalty_bp must be an int from 0 to 10000",
    ),
    "penalty_bp -1": (
        lambda: attrs.evolve(CONFIG, penalty_bp=-1), "penalty_bp must be an int from 0 to 10000",
    ),
    "penalty_to a principal": (
        lambda: attrs.evolve(CONFIG, penalty_bp=1, penalty_to=ALICE),  # type: ignore[arg-type]
        "penalty_to must be an Account or None",
    ),
    "penalty_to the anonymous principal's account": (
        lambda: attrs.evolve(CONFIG, penalty_bp=1, penalty_to=Account(ANONYMOUS)),
        "the anonymous principal cannot be a penalty recipient",
    ),
    "penalty_to the management canister's account": (
        lambda: attrs.evolve(CONFIG, penalty_bp=1, penalty_to=Account(MANAGEMENT, b"\x01" * 32)),
        "the management canister cannot be a penalty recipient",
    ),
    "claims_covered 0": (
        lambda: attrs.evolve(CONFIG, claims_covered=0),
        "claims_covered must be an int from 1 to 100",
    ),
    "claims_covered 101": (
        lambda: attrs.evolve(CONFIG, claims_covered=101),
        "claims_covered must be an int from 1 to 100",
    ),
    "cancellable as int": (
        lambda: attrs.evolve(CONFIG, cancellable=1), "cancellable must be a bool",  # type: ignore[arg-type]
    ),
    "is_public as text": (
        lambda: attrs.evolve(CONFIG, is_public="yes"), "is_public must be a bool",  # type: ignore[arg-type]
    ),
}  # fmt: skip


def test_the_reference_config_is_valid() -> None:
    assert validate_distribution_config(CONFIG, ALICE) == ()


@pytest.mark.parametrize("nobody", [ANONYMOUS, MANAGEMENT], ids=["anonymous", "management"])
def test_nobody_can_own_a_distribution(nobody: Principal) -> None:
    reasons = validate_distribution_config(CONFIG, nobody)
    assert len(reasons) == 1 and "cannot be an owner" in reasons[0]


@pytest.mark.parametrize(("make", "fragment"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_each_bad_field_has_its_own_reason(
    make: Callable[[], DistributionConfig], fragment: str
) -> None:
    reasons = validate_distribution_config(make(), ALICE)
    assert any(fragment in reason for reason in reasons), reasons
    assert all(isinstance(reason, str) and len(reason) < 300 for reason in reasons)


@pytest.mark.parametrize(("make", "fragment"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_bad_config_is_refused_before_payment_and_deploys_nothing(
    before_start: World, make: Callable[[], DistributionConfig], fragment: str
) -> None:
    world = before_start
    config = make()
    reasons = validate_distribution_config(config, ALICE)
    with world.refused_without_a_call():
        assert world.system.backend.as_caller(ALICE).deploy_distribution(config) == Err(
            InvalidConfig(reasons)
        )
    factory = world.factory.as_caller(world.system.backend.id)
    with world.refused_without_a_call():
        assert factory.create_contract(ALICE, config) == Err(InvalidConfig(reasons))


@pytest.mark.parametrize("junk", ["config", None, (CONFIG,), {"title": "Team"}], ids=repr)
def test_a_deployment_of_something_else_than_a_config_is_refused_and_costs_nothing(
    before_start: World, junk: object
) -> None:
    world = before_start
    with world.refused_without_a_call():
        error = rejected(lambda: world.system.backend.as_caller(ALICE).deploy_distribution(junk))
    assert isinstance(error, InvalidArguments)
    assert validate_distribution_config(junk) == (
        f"expected a DistributionConfig, got {type(junk).__name__}",
    )


# -- claims ---------------------------------------------------------------------------------------

CLAIMABLE = 30 * E8S
"""What bob may claim halfway through: half of his 60 ICP."""


@pytest.mark.parametrize("amount", ["x", "1", 1.5, True, b"\x01", [1], (1,)], ids=repr)
def test_a_claim_amount_of_the_wrong_type_is_refused_before_the_method_runs(
    active: World, amount: object
) -> None:
    world = active
    with world.refused_without_a_call():
        error = rejected(lambda: world.as_(world.dist, BOB).claim(amount))
    assert isinstance(error, InvalidArguments)
    assert "amount" in error.message


@pytest.mark.parametrize("amount", [-1, 0, CLAIMABLE + 1, 2**128, -(2**200)])
def test_a_claim_amount_out_of_bounds_is_nothing_to_claim(active: World, amount: int) -> None:
    world = active
    with world.refused_without_a_call():
        assert world.as_(world.dist, BOB).claim(amount) == Err(NothingToClaim(CLAIMABLE))


@settings(max_examples=min(40, settings().max_examples))
@given(
    amount=st.one_of(
        st.integers(),
        st.integers(1, CLAIMABLE),
        st.integers(CLAIMABLE - 2, CLAIMABLE + 2),
        st.integers(2**128 - 2, 2**128 + 2),
    )
)
def test_a_claim_pays_exactly_the_amount_when_it_is_claimable_and_nothing_otherwise(
    built: World, amount: int
) -> None:
    world = built
    world.ic.restore(world.active)
    bob = world.system.icp_balance(BOB)
    if 0 < amount <= CLAIMABLE:
        event("paid")
        claim = world.as_(world.dist, BOB).claim(amount).unwrap()
        assert (claim.amount, claim.fee_from_reserve) == (amount, True)
        assert world.system.icp_balance(BOB) == bob + amount
        left = world.as_(world.dist, BOB).get_participant(BOB).claimable
        assert left == CLAIMABLE - amount
    else:
        event("refused")
        with world.unchanged():
            assert world.as_(world.dist, BOB).claim(amount) == Err(NothingToClaim(CLAIMABLE))


# -- registration ---------------------------------------------------------------------------------


@pytest.mark.parametrize("category", [99, 2, -1, 2**64])
def test_registering_in_a_category_that_does_not_exist_is_an_invalid_request(
    before_start: World, category: int
) -> None:
    world = before_start
    with world.refused_without_a_call():
        assert world.as_(world.dist, DAVE).register(category) == Err(
            InvalidRequest((f"no category {category}",))
        )


@pytest.mark.parametrize(
    ("amount", "proof"),
    [
        (-5, (b"x",)),
        (None, ()),
        (5 * E8S, (b"\x00" * 32,) * 65),
    ],
    ids=["negative amount", "no amount", "65-step proof"],
)
def test_a_merkle_registration_without_an_amount_and_a_proof_is_refused(
    before_start: World, amount: int | None, proof: tuple[bytes, ...]
) -> None:
    world = before_start
    with world.refused_without_a_call():
        assert world.as_(world.merkle, BOB).register(0, amount, proof) == Err(
            NotEligible("a Merkle registration needs the amount and a proof")
        )


@pytest.mark.parametrize(
    "proof",
    [(b"x",), (b"\x00" * 32,), (b"\x00" * 33,)],
    ids=["1 byte", "32 zero bytes", "33 bytes"],
)
def test_a_merkle_registration_with_a_junk_proof_does_not_match_the_root(
    before_start: World, proof: tuple[bytes, ...]
) -> None:
    world = before_start
    with world.refused_without_a_call():
        assert world.as_(world.merkle, BOB).register(0, 5 * E8S, proof) == Err(
            NotEligible("the proof does not match the root")
        )


@pytest.mark.parametrize("amount", [2**128, 10**100], ids=["2**128", "10**100"])
def test_a_merkle_amount_beyond_2_pow_128_is_refused_not_a_trap(
    before_start: World, amount: int
) -> None:
    world = before_start
    with world.unchanged():
        result = world.as_(world.merkle, BOB).register(0, amount, world.tree.proof(0))
    assert isinstance(result, Err) and isinstance(result.error, NotEligible)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda d: d.register("0"), id="category as text"),
        pytest.param(lambda d: d.register(True), id="category as bool"),
        pytest.param(lambda d: d.register(0, "5"), id="amount as text"),
        pytest.param(lambda d: d.register(0, 5, [b"x"]), id="proof as a list"),
        pytest.param(lambda d: d.register(0, 5, ("x",)), id="proof of text"),
        pytest.param(lambda d: d.register(0, 5, (), BOB), id="extra argument"),
    ],
)
def test_a_registration_that_does_not_fit_the_signature_is_refused(
    before_start: World, call: Callable[[CanisterProxy], object]
) -> None:
    world = before_start
    with world.refused_without_a_call():
        assert isinstance(rejected(lambda: call(world.as_(world.merkle, BOB))), InvalidArguments)


# -- the owner's additions ------------------------------------------------------------------------

BAD_ADDITIONS: dict[str, tuple[tuple[Any, ...], str]] = {
    "the anonymous principal": (
        (ANONYMOUS, 1, 5), "the anonymous principal cannot be a recipient",
    ),
    "the management canister": (
        (MANAGEMENT, 1, 5), "the management canister cannot be a recipient",
    ),
    "amount 0": ((FRANK, 1, 0), "amount must be an int > 0"),
    "a negative amount": ((FRANK, 1, -5), "amount must be an int > 0"),
    "category 7": ((FRANK, 7, 5), "category must be an index from 0 to 1"),
    "category -1": ((FRANK, -1, 5), "category must be an index from 0 to 1"),
    "more than the category has": (
        (FRANK, 1, 2**128), f"only {20 * E8S} of the category is left to allocate",
    ),
    "into a fully allocated category": (
        (FRANK, 0, 5), "only 0 of the category is left to allocate",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("args", "reason"), BAD_ADDITIONS.values(), ids=BAD_ADDITIONS.keys())
def test_a_bad_addition_is_an_invalid_request(
    before_start: World, args: tuple[Any, ...], reason: str
) -> None:
    world = before_start
    with world.refused_without_a_call():
        assert world.as_(world.dist, ALICE).add_recipient(*args) == Err(InvalidRequest((reason,)))


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda d: d.add_recipient(str(FRANK), 1, 5), id="user as text"),
        pytest.param(lambda d: d.add_recipient(FRANK, True, 5), id="category as bool"),
        pytest.param(lambda d: d.add_recipient(FRANK, 1, 5.0), id="amount as float"),
        pytest.param(lambda d: d.add_recipient(FRANK, 1), id="no amount"),
        pytest.param(lambda d: d.remove_recipient(str(BOB)), id="remove by text"),
        pytest.param(lambda d: d.blacklist(None), id="blacklist None"),
    ],
)
def test_an_owner_call_that_does_not_fit_the_signature_is_refused(
    before_start: World, call: Callable[[CanisterProxy], object]
) -> None:
    world = before_start
    with world.refused_without_a_call():
        assert isinstance(rejected(lambda: call(world.as_(world.dist, ALICE))), InvalidArguments)


def test_the_whole_room_of_a_category_may_be_added_once_its_whitelist_place_is_freed(
    before_start: World,
) -> None:
    """The pool's one place and 10 of its 30 ICP are kept for dave until he registers; once
    he is blacklisted, all of it may go to frank."""
    world = before_start
    owner = world.as_(world.dist, ALICE)
    assert owner.blacklist(DAVE) == Ok(None)
    assert owner.add_recipient(FRANK, 1, 30 * E8S) == Ok(None)
    assert world.as_(world.dist, DAVE).register(1) == Err(NotEligible("not on the whitelist"))


# -- reserve top-ups ------------------------------------------------------------------------------

TOP_UP_AMOUNTS = "amount must be an int from 1 to 2**64 - 1"


@pytest.mark.parametrize("amount", [0, -1, 2**64, 10**100], ids=["0", "-1", "2**64", "10**100"])
def test_a_top_up_of_a_bad_amount_is_an_invalid_request_decided_without_a_call(
    active: World, amount: int
) -> None:
    world = active
    approval = ApproveArgs(spender=Account(world.dist), amount=10 * E8S)
    world.system.icp_ledger.as_caller(ALICE).icrc2_approve(approval).unwrap()
    with world.refused_without_a_call():
        assert world.as_(world.dist, ALICE).top_up_reserve(amount) == Err(
            InvalidRequest((TOP_UP_AMOUNTS,))
        )


@pytest.mark.parametrize("amount", ["5", 5.0, True, None], ids=["text", "float", "bool", "None"])
def test_a_top_up_that_does_not_fit_the_signature_is_refused(active: World, amount: Any) -> None:
    world = active
    with world.refused_without_a_call():
        assert isinstance(
            rejected(lambda: world.as_(world.dist, BOB).top_up_reserve(amount)), InvalidArguments
        )


# -- hostile titles -------------------------------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=120)


@settings(max_examples=min(40, settings().max_examples))
@given(title=st.one_of(any_text, st.sampled_from(["Team", "名前 ✓", "مرحبا", "a" * 100])))
def test_any_title_is_deployed_verbatim_or_refused_before_payment(built: World, title: str) -> None:
    world = built
    world.ic.restore(world.before_start)
    config = attrs.evolve(CONFIG, title=title)
    reasons = validate_distribution_config(config, ALICE)
    backend = world.system.backend.as_caller(ALICE)
    if reasons:
        event("refused")
        assert all(reason.startswith("title ") for reason in reasons)
        with world.refused_without_a_call():
            assert backend.deploy_distribution(config) == Err(InvalidConfig(reasons))
    else:
        event("deployed")
        assert 1 <= len(title) <= 100 and title == title.strip()
        alice = world.system.icp_balance(ALICE)
        dist = backend.deploy_distribution(config).unwrap().canister_id
        assert world.system.icp_balance(ALICE) == alice - E8S - FEE
        assert world.factory.as_caller(ALICE).get_contract_info(dist).name == title
        assert world.ic.state_of(dist).config.title == title
