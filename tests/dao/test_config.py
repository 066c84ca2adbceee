"""A DAO config is valid or refused for named reasons, before anybody pays.

- ``validate_dao_config`` gives a config with one field wrong exactly one reason, naming that
  field: the name and description follow the platform's text rule; the token is a canister;
  the minimum stake and the proposal threshold are at least 1 (B5: zero voting power can never
  propose); the deposit is ≥ 0; quorum is 1 to 10_000 bp and approval a majority, 5_000 to
  10_000 bp; the voting period is 1 h to 30 days and the timelock at most 30 days; the lock
  tiers are 1 to 10 pairs of strictly ascending durations (at most eight years) with multipliers
  of 1x to 5x that never decrease; at most 10 emergency contacts, each an identified principal,
  none twice; ``is_public`` is a bool. Every bound itself is valid.
- Deploying a refused config through the paid flow costs nothing: ``Err(InvalidConfig)`` with the
  same reasons, no ICP moves, the DAO Factory's statistics and index and the set of canisters do
  not change, and no inter-canister call is made.
- An ``UpdateParams`` proposal that would make the config invalid, or that changes nothing, is
  ``Err(InvalidRequest)`` at submission: no deposit is taken, no proposal is created.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import attrs
import pytest

from icto import E8S, IC, Account, Err, InvalidArguments, Ok, Principal
from icto.dao import DAOConfig, InvalidRequest, UpdateParams, validate_dao_config
from icto.dao.config import HOUR_NS, MAX_LOCK
from icto.distribution import days
from icto.factory import InvalidConfig
from icto.ic.proxy import CanisterProxy
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import ApproveArgs, TransferArgs
from icto.system import System, deploy_system
from tests.helpers import live_canisters, rejected

ALICE, BOB, CAROL, CREATOR = (
    Principal.from_name(name) for name in ("alice", "bob", "carol", "dao-creator")
)
ANONYMOUS = Principal.anonymous()
MANAGEMENT = Principal.management_canister()
MINTER = Principal.from_name("gov-minter")
GOV: Final = Principal.from_text("mxzaz-hqaaa-aaaar-qaada-cai")
"""Where the governance ledger is deployed (pinned, so the configs below can name it)."""
FEE: Final = 10_000
DAO_FEE: Final = 5 * E8S
"""What the backend charges for a DAO (its default service fee)."""
DEPOSIT: Final = 1_000_000
THIRTY_DAYS: Final = days(30)
TIERS: Final = ((0, 10_000), (days(30), 12_500), (days(180), 15_000), (days(365), 20_000))
TEN_TIERS: Final = tuple((days(30) * i, 10_000 + 1_000 * i) for i in range(10))
CONTACTS: Final = tuple(Principal.from_name(f"contact-{i}") for i in range(11))

BASE = DAOConfig(
    name="Gov DAO", token=GOV, minimum_stake=1, proposal_threshold=1, proposal_deposit=DEPOSIT,
    quorum_bp=2_000, approval_bp=5_000, voting_period=days(3), timelock=days(1),
    lock_tiers=TIERS, emergency_contacts=(CAROL,), description="Governs the GOV token",
)  # fmt: skip


def base(**changes: Any) -> Callable[[], DAOConfig]:
    return lambda: attrs.evolve(BASE, **changes)


# name → (the config, a fragment of its one reason)
BAD_CONFIGS: dict[str, tuple[Callable[[], DAOConfig], str]] = {
    "empty name": (base(name=""), "name must be 1 to 100 characters, got 0"),
    "101-character name": (base(name="n" * 101), "name must be 1 to 100 characters, got 101"),
    "name with a NUL": (base(name="Gov\x00DAO"), "name must not contain U+0000"),
    "name with a newline": (base(name="Gov\nDAO"), "name must not contain U+000A"),
    "name with an escape": (base(name="Gov\x1b[31m"), "name must not contain U+001B"),
    "name with a bidi override": (base(name="\u202eGov"), "name must not contain U+202E"),
    "name padded with spaces": (
        base(name=" Gov "), "name must not start or end with whitespace or an invisible character",
    ),
    "name as bytes": (base(name=b"Gov"), "name must be text, got bytes"),
    "1001-character description": (
        base(description="d" * 1001), "description must be 0 to 1000 characters, got 1001",
    ),
    "description with a NUL": (
        base(description="a\x00b"), "description must not contain U+0000",
    ),
    "a user as token": (base(token=ALICE), "token must be a ledger canister id"),
    "the anonymous principal as token": (
        base(token=ANONYMOUS), "token must be a ledger canister id",
    ),
    "the management canister as token": (
        base(token=MANAGEMENT), "token must be a ledger canister id",
    ),
    "token as text": (base(token=str(GOV)), "token must be a ledger canister id"),
    "minimum_stake 0": (
        base(minimum_stake=0), "minimum_stake must be an int from 1 to 2**64 - 1",
    ),
    "minimum_stake 2**128": (
        base(minimum_stake=2**128), "minimum_stake must be an int from 1 to 2**64 - 1",
    ),
    "minimum_stake 2**64 (more than one approval holds)": (
        base(minimum_stake=2**64), "minimum_stake must be an int from 1 to 2**64 - 1",
    ),
    "minimum_stake True": (
        base(minimum_stake=True), "minimum_stake must be an int from 1 to 2**64 - 1",
    ),
    "proposal_threshold 0 (B5)": (
        base(proposal_threshold=0), "proposal_threshold must be an int from 1 to 2**128 - 1",
    ),
    "proposal_threshold -1": (
        base(proposal_threshold=-1), "proposal_threshold must be an int from 1 to 2**128 - 1",
    ),
    "proposal_threshold 1.0": (
        base(proposal_threshold=1.0), "proposal_threshold must be an int from 1 to 2**128 - 1",
    ),
    "negative proposal_deposit": (
        base(proposal_deposit=-1), "proposal_deposit must be an int from 0 to 2**64 - 1",
    ),
    "proposal_deposit 2**128": (
        base(proposal_deposit=2**128), "proposal_deposit must be an int from 0 to 2**64 - 1",
    ),
    "proposal_deposit 2**64 (more than one approval holds)": (
        base(proposal_deposit=2**64), "proposal_deposit must be an int from 0 to 2**64 - 1",
    ),
    "quorum_bp 0": (base(quorum_bp=0), "quorum_bp must be an int from 1 to 10000"),
    "quorum_bp 10_001": (base(quorum_bp=10_001), "quorum_bp must be an int from 1 to 10000"),
    "quorum_bp as float": (base(quorum_bp=2_000.0), "quorum_bp must be an int from 1 to 10000"),
    "approval_bp 4_999": (
        base(approval_bp=4_999), "approval_bp must be an int from 5000 to 10000",
    ),
    "approval_bp 10_001": (
        base(approval_bp=10_001), "approval_bp must be an int from 5000 to 10000",
    ),
    "approval_bp 0": (base(approval_bp=0), "approval_bp must be an int from 5000 to 10000"),
    "voting_period 1 ns short of an hour": (
        base(voting_period=HOUR_NS - 1), "voting_period must be an int of ns from",
    ),
    "voting_period 0": (base(voting_period=0), "voting_period must be an int of ns from"),
    "voting_period in seconds (3 days)": (
        base(voting_period=3 * 86_400), "voting_period must be an int of ns from",
    ),
    "voting_period 1 ns beyond 30 days": (
        base(voting_period=THIRTY_DAYS + 1), "voting_period must be an int of ns from",
    ),
    "timelock 1 ns beyond 30 days": (
        base(timelock=THIRTY_DAYS + 1), "timelock must be an int of ns from 0 to",
    ),
    "negative timelock": (base(timelock=-1), "timelock must be an int of ns from 0 to"),
    "no lock tiers": (base(lock_tiers=()), "lock_tiers are 1 to 10"),
    "11 lock tiers": (
        base(lock_tiers=(*TEN_TIERS, (days(400), 20_000))), "lock_tiers are 1 to 10",
    ),
    "lock tiers as text": (base(lock_tiers="0:10000"), "lock_tiers are 1 to 10"),
    "a lock tier of three numbers": (base(lock_tiers=((0, 10_000, 1),)), "lock_tiers are 1 to 10"),
    "lock tiers of equal durations": (
        base(lock_tiers=((0, 10_000), (days(30), 12_500), (days(30), 15_000))),
        "lock tier durations must be strictly ascending",
    ),
    "lock tiers in descending order": (
        base(lock_tiers=((days(30), 10_000), (0, 10_000))),
        "lock tier durations must be strictly ascending",
    ),
    "a multiplier of 9_999": (
        base(lock_tiers=((0, 9_999),)), "a tier's multiplier_bp is an int from 10000 to 50000",
    ),
    "a multiplier of 50_001": (
        base(lock_tiers=((0, 10_000), (days(30), 50_001))),
        "a tier's multiplier_bp is an int from 10000 to 50000",
    ),
    "a decreasing multiplier": (
        base(lock_tiers=((0, 15_000), (days(30), 12_500))),
        "lock_tiers: a longer lock never has a smaller multiplier",
    ),
    "a tier 1 ns beyond eight years": (
        base(lock_tiers=((0, 10_000), (MAX_LOCK + 1, 20_000))),
        "a tier's lock duration is an int of ns from 0 to",
    ),
    "a negative tier duration": (
        base(lock_tiers=((-1, 10_000),)), "a tier's lock duration is an int of ns from 0 to",
    ),
    "11 emergency contacts": (
        base(emergency_contacts=CONTACTS), "emergency_contacts are at most 10 principals",
    ),
    "the anonymous principal as a contact": (
        base(emergency_contacts=(CAROL, ANONYMOUS)),
        "the anonymous principal cannot be an emergency contact",
    ),
    "the management canister as a contact": (
        base(emergency_contacts=(MANAGEMENT,)),
        "the management canister cannot be an emergency contact",
    ),
    "a contact as text": (
        base(emergency_contacts=(str(CAROL),)), "an emergency contact must be a Principal",
    ),
    "a contact twice": (
        base(emergency_contacts=(CAROL, BOB, CAROL)),
        "emergency_contacts name a principal more than once",
    ),
    "contacts as a set": (
        base(emergency_contacts={CAROL}), "emergency_contacts are at most 10 principals",
    ),
    "is_public as text": (base(is_public="yes"), "is_public must be a bool"),
    "is_public 1": (base(is_public=1), "is_public must be a bool"),
}  # fmt: skip

GOOD_CONFIGS: dict[str, Callable[[], DAOConfig]] = {
    "100-character name": base(name="n" * 100),
    "1000-character description over several lines": base(description="line\n" * 200),
    "quorum_bp 1": base(quorum_bp=1),
    "quorum_bp 10_000": base(quorum_bp=10_000),
    "approval_bp 5_000": base(approval_bp=5_000),
    "approval_bp 10_000": base(approval_bp=10_000),
    "voting_period of exactly an hour": base(voting_period=HOUR_NS),
    "voting_period of exactly 30 days": base(voting_period=THIRTY_DAYS),
    "no timelock": base(timelock=0),
    "a timelock in seconds-scale (3_600 ns)": base(timelock=3_600),
    "a timelock of exactly 30 days": base(timelock=THIRTY_DAYS),
    "no deposit": base(proposal_deposit=0),
    "the largest amounts": base(
        minimum_stake=2**64 - 1, proposal_threshold=2**128 - 1, proposal_deposit=2**64 - 1
    ),
    "10 lock tiers": base(lock_tiers=TEN_TIERS),
    "one tier from 7 days": base(lock_tiers=((days(7), 10_000),)),
    "equal multipliers": base(lock_tiers=((0, 10_000), (days(30), 10_000))),
    "a 5x tier at exactly eight years": base(lock_tiers=((0, 10_000), (MAX_LOCK, 50_000))),
    "lock tiers as a dict": base(lock_tiers={0: 10_000, days(30): 12_500}),
    "10 emergency contacts": base(emergency_contacts=CONTACTS[:10]),
    "contacts as a list": base(emergency_contacts=[CAROL, BOB]),
    "no emergency contacts": base(emergency_contacts=()),
    "private": base(is_public=False),
}  # fmt: skip


def test_the_reference_config_is_valid() -> None:
    assert validate_dao_config(BASE) == ()
    assert validate_dao_config(BASE, ALICE) == ()


@pytest.mark.parametrize("make", GOOD_CONFIGS.values(), ids=GOOD_CONFIGS.keys())
def test_every_bound_is_itself_valid(make: Callable[[], DAOConfig]) -> None:
    assert validate_dao_config(make(), ALICE) == ()


@pytest.mark.parametrize(("make", "fragment"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_config_with_one_bad_field_has_one_reason_naming_it(
    make: Callable[[], DAOConfig], fragment: str
) -> None:
    reasons = validate_dao_config(make(), ALICE)
    assert len(reasons) == 1, reasons
    assert fragment in reasons[0]
    assert len(reasons[0]) < 300


def test_every_bad_field_at_once_gives_a_reason_each() -> None:
    config = attrs.evolve(
        BASE, name="", token=ALICE, minimum_stake=0, proposal_threshold=0, proposal_deposit=-1,
        quorum_bp=0, approval_bp=4_999, voting_period=0, timelock=-1, lock_tiers=(),
        emergency_contacts=(ANONYMOUS,), is_public="no",
    )  # fmt: skip
    reasons = validate_dao_config(config, ALICE)
    fields = ("name", "token", "minimum_stake", "proposal_threshold", "proposal_deposit",
              "quorum_bp", "approval_bp", "voting_period", "timelock", "lock_tiers",
              "emergency contact", "is_public")  # fmt: skip
    assert len(reasons) == len(fields)
    for field, reason in zip(fields, reasons, strict=True):
        assert field in reason, (field, reason)


@pytest.mark.parametrize("nobody", [ANONYMOUS, MANAGEMENT], ids=["anonymous", "management"])
def test_nobody_can_own_a_dao(nobody: Principal) -> None:
    reasons = validate_dao_config(BASE, nobody)
    assert len(reasons) == 1 and "cannot be an owner" in reasons[0]


@pytest.mark.parametrize("junk", ["config", None, (BASE,), {"name": "Gov DAO"}], ids=repr)
def test_something_else_than_a_config_is_refused(junk: object) -> None:
    assert validate_dao_config(junk) == (f"expected a DAOConfig, got {type(junk).__name__}",)


# -- the paid flow --------------------------------------------------------------------------------


class World:
    """The platform and a governance ledger at ``GOV``; ``CREATOR``'s DAO with ``BASE`` in which
    bob has staked 100_000 (and approved the DAO for more, deposits included); alice has 100 ICP
    and has approved the backend for 10 ICP, enough for one DAO (``ready``)."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.gov = deploy_ledger(self.ic, ICP.init(Account(MINTER)), canister_id=GOV)
        self.factory = self.system.dao_factory
        self.system.faucet(CREATOR, 100 * E8S)
        self.system.approve_backend(CREATOR, 10 * E8S)
        self.dao_id: Principal = (
            self.system.backend.as_caller(CREATOR).deploy_dao(BASE).unwrap().canister_id
        )
        self.gov.as_caller(MINTER).icrc1_transfer(TransferArgs(to=Account(BOB), amount=10**9))
        approval = ApproveArgs(spender=Account(self.dao_id), amount=10**9)
        self.gov.as_caller(BOB).icrc2_approve(approval).unwrap()
        self.dao(BOB).stake(100_000, 0).unwrap()
        self.system.faucet(ALICE, 100 * E8S)
        self.system.approve_backend(ALICE, 10 * E8S)
        self.ready = self.ic.snapshot()

    def dao(self, caller: Principal) -> CanisterProxy:
        return self.ic.actor(self.dao_id, caller)

    def balances(self) -> dict[str, int]:
        system = self.system
        return {
            "alice ICP": system.icp_balance(ALICE),
            "backend ICP": system.icp_balance(system.backend.id),
            "bob GOV": int(self.gov.icrc1_balance_of(Account(BOB))),
            **{
                f"dao GOV {name}": int(self.gov.icrc1_balance_of(account))
                for name, account in self.dao(BOB).get_accounts()
            },
        }  # fmt: skip

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """Assert that the block leaves the backend, the DAO Factory (its statistics and index),
        the DAO, the set of canisters and every balance as they were, and that every call in it
        was decided without an inter-canister call."""
        backend = self.ic.state_of(self.system.backend.id)
        stats = self.factory.get_stats()
        index = self.ic.state_of(self.factory.id).index
        dao = self.ic.state_of(self.dao_id)
        canisters = live_canisters(self.ic)
        balances = self.balances()
        self.ic.trace.clear()
        yield
        entries = list(self.ic.trace)
        assert entries, "the block made no call"
        assert [entry.summary() for entry in entries if entry.parent_id is not None] == []
        assert self.ic.state_of(self.system.backend.id) == backend
        assert self.factory.get_stats() == stats
        assert self.ic.state_of(self.factory.id).index == index
        assert self.ic.state_of(self.dao_id) == dao
        assert live_canisters(self.ic) == canisters
        assert self.balances() == balances


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    built.ic.restore(built.ready)
    built.ic.faults.clear()
    return built


@pytest.mark.parametrize(("make", "fragment"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_bad_config_is_refused_before_payment_and_deploys_nothing(
    world: World, make: Callable[[], DAOConfig], fragment: str
) -> None:
    config = make()
    with world.unchanged():
        result = world.system.backend.as_caller(ALICE).deploy_dao(config)
    assert isinstance(result, Err) and isinstance(result.error, InvalidConfig)
    assert any(fragment in reason for reason in result.error.reasons), result.error
    assert result == Err(InvalidConfig(validate_dao_config(config, ALICE)))
    with world.unchanged():
        direct = world.factory.as_caller(world.system.backend.id).create_contract(ALICE, config)
    assert direct == result


@pytest.mark.parametrize("junk", ["config", None, (BASE,)], ids=repr)
def test_a_deployment_of_something_else_than_a_config_is_refused_and_costs_nothing(
    world: World, junk: object
) -> None:
    with world.unchanged():
        error = rejected(lambda: world.system.backend.as_caller(ALICE).deploy_dao(junk))
    assert isinstance(error, InvalidArguments)


def test_the_same_config_made_valid_deploys_and_costs_the_fee(world: World) -> None:
    """The control: what the refusals above leave unchanged does change for a valid config."""
    alice = world.system.icp_balance(ALICE)
    stats = world.factory.get_stats()
    deployed = world.system.backend.as_caller(ALICE).deploy_dao(attrs.evolve(BASE, timelock=0))
    assert deployed.unwrap().fee_paid == DAO_FEE
    assert world.system.icp_balance(ALICE) == alice - DAO_FEE - FEE
    assert world.factory.get_stats().contracts == stats.contracts + 1


# -- UpdateParams ---------------------------------------------------------------------------------

BAD_UPDATES: dict[str, tuple[UpdateParams, tuple[str, ...]]] = {
    "nothing to change": (
        UpdateParams(), ("an UpdateParams proposal changes at least one parameter",),
    ),
    "quorum_bp 0": (UpdateParams(quorum_bp=0), ("quorum_bp must be an int from 1 to 10000",)),
    "approval_bp 4_999": (
        UpdateParams(approval_bp=4_999), ("approval_bp must be an int from 5000 to 10000",),
    ),
    "proposal_threshold 0 (B5)": (
        UpdateParams(proposal_threshold=0),
        ("proposal_threshold must be an int from 1 to 2**128 - 1",),
    ),
    "minimum_stake 0": (
        UpdateParams(minimum_stake=0),
        ("minimum_stake must be an int from 1 to 2**64 - 1 (one approval's most)",),
    ),
    "negative deposit": (
        UpdateParams(proposal_deposit=-1),
        ("proposal_deposit must be an int from 0 to 2**64 - 1 (one approval's most)",),
    ),
    "voting period 1 ns short of an hour": (
        UpdateParams(voting_period=HOUR_NS - 1),
        (f"voting_period must be an int of ns from {HOUR_NS} (1 h) to {THIRTY_DAYS} (30 days)",),
    ),
    "timelock 1 ns beyond 30 days": (
        UpdateParams(timelock=THIRTY_DAYS + 1),
        (f"timelock must be an int of ns from 0 to {THIRTY_DAYS} (30 days)",),
    ),
    "no lock tiers": (
        UpdateParams(lock_tiers=()),
        ("lock_tiers are 1 to 10 (lock duration ns, multiplier_bp) pairs",),
    ),
    "a decreasing multiplier": (
        UpdateParams(lock_tiers=((0, 20_000), (days(30), 10_000))),
        ("lock_tiers: a longer lock never has a smaller multiplier",),
    ),
    "the anonymous principal as a contact": (
        UpdateParams(emergency_contacts=(ANONYMOUS,)),
        ("the anonymous principal cannot be an emergency contact",),
    ),
    "an empty name": (UpdateParams(name=""), ("name must be 1 to 100 characters, got 0",)),
    "two bad fields": (
        UpdateParams(quorum_bp=10_001, approval_bp=10_001),
        ("quorum_bp must be an int from 1 to 10000",
         "approval_bp must be an int from 5000 to 10000"),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("update", "reasons"), BAD_UPDATES.values(), ids=BAD_UPDATES.keys())
def test_an_invalid_update_params_proposal_is_refused_at_submission(
    world: World, update: UpdateParams, reasons: tuple[str, ...]
) -> None:
    with world.unchanged():
        assert world.dao(BOB).submit_proposal(update) == Err(InvalidRequest(reasons))
    stats = world.dao(BOB).get_stats()
    assert (stats.proposals, stats.total_power) == (0, 100_000)
    assert world.dao(BOB).get_proposals().items == ()


def test_a_valid_update_params_proposal_is_submitted_and_pays_the_deposit(world: World) -> None:
    """The control: the same submission with a valid change creates a proposal and takes the
    deposit (plus the ledger fee) from bob."""
    bob = world.balances()["bob GOV"]
    assert world.dao(BOB).submit_proposal(UpdateParams(quorum_bp=1)) == Ok(0)
    assert world.balances()["bob GOV"] == bob - DEPOSIT - FEE
    assert world.dao(BOB).get_stats().proposals == 1
    assert world.dao(BOB).get_balances().deposits == DEPOSIT
