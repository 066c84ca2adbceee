"""Attacks on the Distribution Factory and its contracts: the real system's bugs B1, B2, B11, B12
and B14, each tried by strangers, recipients, the owner and a stranger canister relaying calls.

Every refused attack is a typed error (``Err(NotOwner)``, ``Err(NotRecipient)``,
``Err(WrongPhase)``, ``Err(NotEligible)``, ``Err(NothingToClaim)``, ``InvalidArguments``, or a
``CallRejected`` for what only the factory or a backend may call) and leaves every
distribution's state, the factory's index and every ledger balance exactly as they were. The
rules those bugs broke hold: deploying costs the fee and only the backend may ask the factory;
only the factory plays the factory; payouts are exact, recorded before the transfer and never
repeated, not by a ledger fault nor by a claim interleaved with its own payout; a paused
distribution pays nothing; an airdrop never takes more recipients than it has room for; a
removed recipient is gone; cancelling never takes what had vested; a reserve top-up counts
once, whatever a cancel or a funding does meanwhile; an early unlock pays vested + unvested -
penalty once; proofs and eligibility are checked for the caller against the real ledger; every
recipient change reaches the factory's index, even when the factory refuses it at first; a
private distribution shows outsiders nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, Final

import pytest

from icto import E8S, IC, Account, Err, InvalidArguments, Ok, Principal
from icto.distribution import (
    RECIPIENT,
    Category,
    DistributionConfig,
    Fixed,
    HoldsToken,
    InvalidRequest,
    Linear,
    MerkleRoot,
    MerkleTree,
    NotEligible,
    NothingToClaim,
    NotOwner,
    NotRecipient,
    Open,
    Phase,
    TransferFailed,
    Whitelist,
    Window,
    WrongPhase,
    days,
    leaf,
)
from icto.distribution.contract import IN_FLIGHT_GIVEN_UP_NS, Distribution
from icto.factory import CREATOR, Page
from icto.ic.proxy import CanisterProxy
from icto.ledger.ledger import Ledger
from icto.ledger.types import ApproveArgs, LedgerInit, TransferArgs, TransferFromArgs
from icto.system import System, deploy_system
from tests.helpers import Relay, live_canisters, rejected

ALICE, BOB, CAROL, DAVE, ERIN, FRANK, MALLORY = (
    Principal.from_name(name)
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "mallory")
)
USERS = (ALICE, BOB, CAROL, DAVE, ERIN, FRANK, MALLORY)
OPERATOR = Principal.from_name("icto-operator")
GATE_MINTER = Principal.from_name("gate-minter")
TOKEN_MINTER = Principal.from_name("token-minter")
FEE: Final = 10_000
"""The ledger fee of every token here."""
DAY = days(1)
VESTING = days(10)
HALFWAY = days(5)
PENALTY_BP = 5_000
REENTRY: dict[str, Any] = {}
"""What the reentering ledger does during its next payout to the relay canister."""


class ReenteringLedger(Ledger):
    """A ledger that lets the relay canister call a distribution again where the IC interleaves
    messages: while a payout to the relay (or to ``payout_to``) is in flight, before the
    ledger made it (``during_payout``) or after (``after_payout``); while a distribution asks
    the fee (``during_fee``); after the ledger answered a distribution's own balance query but
    before the distribution reads the answer (``after_balance``); while it asks someone else's
    balance (``other_balance``: an eligibility gate); while it asks where burns go
    (``during_minting_account``); and while it pulls tokens in, before the ledger took them
    (``during_pull``) or after (``after_pull``)."""

    VERSION = "1.0.1"

    def icrc1_transfer(self, args: TransferArgs) -> Any:
        paid_to = REENTRY.get("payout_to", REENTRY.get("relay"))
        if args.to.owner == paid_to:
            self._reenter(REENTRY.pop("during_payout", ()))
        result = super().icrc1_transfer(args)
        if args.to.owner == paid_to:
            self._reenter(REENTRY.pop("after_payout", ()))
        return result

    def icrc2_transfer_from(self, args: TransferFromArgs) -> Any:
        self._reenter(REENTRY.pop("during_pull", ()))
        result = super().icrc2_transfer_from(args)
        self._reenter(REENTRY.pop("after_pull", ()))
        return result

    def icrc1_fee(self) -> int:
        self._reenter(REENTRY.pop("during_fee", ()))
        return super().icrc1_fee()

    def icrc1_minting_account(self) -> Any:
        self._reenter(REENTRY.pop("during_minting_account", ()))
        return super().icrc1_minting_account()

    def icrc1_balance_of(self, account: Account) -> int:
        balance = super().icrc1_balance_of(account)
        if account.owner == self.caller:
            self._reenter(REENTRY.pop("after_balance", ()))
        else:
            self._reenter(REENTRY.pop("other_balance", ()))
        return balance

    def _reenter(self, calls: Any) -> None:
        for target, method, call_args in calls:
            answer = self.call(REENTRY["relay"], "relay", target, method, call_args)
            REENTRY["answers"].append(answer)

    icrc1_transfer.__icto_kind__ = Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]
    icrc1_balance_of.__icto_kind__ = Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]
    icrc1_fee.__icto_kind__ = Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]
    icrc2_transfer_from.__icto_kind__ = (  # type: ignore[attr-defined]
        Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]
    )
    icrc1_minting_account.__icto_kind__ = (  # type: ignore[attr-defined]
        Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]
    )


class World:
    """The platform with six distributions by alice, as three snapshots: ``created`` (none
    funded), ``funded`` (all funded, before the start, registration windows open) and
    ``active`` (halfway through the vesting; dave registered on the whitelist first; bob claimed
    10 ICP of the private one).

    - ``vest``: "team" 300 ICP to bob 200 and carol 100, and "reserve" 100 ICP on a whitelist
      (dave 40), both linear over 10 days; early unlock at a 50 % penalty, burned.
    - ``airdrop``: 30 ICP open to the first 3 (10 each); ``gated``: 10 ICP open to 10 holders
      of at least 100 GATE (a reentering ledger); ``merkle``: 22 ICP by proof (bob 5, carol 7,
      dave 9, erin 1) for at most 3; ``private``: 100 ICP to bob and carol (50 each), linear,
      not public.
    - ``relayed``: 200 TOK (on the reentering ledger) to the relay canister and bob (100
      each), linear, early unlock at 50 %.
    """

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.icp = self.system.icp_ledger.id
        self.factory = self.system.distribution_factory
        self.t0 = self.ic.time
        self.start = self.t0 + DAY
        self.window = Window(self.t0, self.start)
        self.relay = self.ic.deploy(Relay, None, caller=MALLORY)
        self.gate = self.ic.deploy(
            ReenteringLedger,
            LedgerInit(name="Gate", symbol="GATE", transfer_fee=FEE,
                       minting_account=Account(GATE_MINTER),
                       initial_balances=((Account(DAVE), 99), (Account(ERIN), 100))),
            caller=OPERATOR,
        )  # fmt: skip
        self.token = self.ic.deploy(
            ReenteringLedger,
            LedgerInit(name="Token", symbol="TOK", transfer_fee=FEE,
                       minting_account=Account(TOKEN_MINTER),
                       initial_balances=((Account(ALICE), 1_000 * E8S),)),
            caller=OPERATOR,
        )  # fmt: skip
        self.system.faucet(ALICE, 10_000 * E8S)
        self.system.approve_backend(ALICE, 20 * E8S)
        self.tree = MerkleTree([leaf(user, amount, 0) for user, amount in self.merkle_list()])
        self.vest = self.deploy(self.vest_config())
        self.airdrop = self.deploy(
            self.config("Airdrop", Category("drop", 30 * E8S, Open(3, self.window)))
        )
        self.gated = self.deploy(
            self.config("Holders", Category("holders", 10 * E8S, Open(10, self.window)),
                        eligibility=HoldsToken(self.gate.id, 100))
        )  # fmt: skip
        self.merkle = self.deploy(
            self.config("Proofs", Category("proofs", 22 * E8S, MerkleRoot(self.tree.root, 3)))
        )
        self.private = self.deploy(
            self.config(
                "Private", Category("quiet", 100 * E8S, Fixed(((BOB, 50 * E8S), (CAROL, 50 * E8S))),
                                    Linear(VESTING)),
                is_public=False,
            )
        )  # fmt: skip
        self.relayed = self.deploy(
            self.config(
                "Relayed",
                Category("relay", 200 * E8S, Fixed(((self.relay.id, 100 * E8S), (BOB, 100 * E8S))),
                         Linear(VESTING)),
                token=self.token.id, penalty_bp=PENALTY_BP,
            )
        )  # fmt: skip
        self.created = self.ic.snapshot()
        for dist in self.distributions:
            self.fund(dist)
        self.funded = self.ic.snapshot()
        assert self.as_(self.vest, DAVE).register(1) == Ok(40 * E8S)
        self.ic.set_time(self.start + HALFWAY)
        self.as_(self.private, BOB).claim(10 * E8S).unwrap()
        self.active = self.ic.snapshot()

    # -- building -------------------------------------------------------------------------------

    def merkle_list(self) -> tuple[tuple[Principal, int], ...]:
        return ((BOB, 5 * E8S), (CAROL, 7 * E8S), (DAVE, 9 * E8S), (ERIN, 1 * E8S))

    def config(self, title: str, *categories: Category, **changes: Any) -> DistributionConfig:
        fields: dict[str, Any] = {"token": self.icp} | changes
        return DistributionConfig(title=title, start=self.start, categories=categories, **fields)

    def vest_config(self) -> DistributionConfig:
        return self.config(
            "Team vesting",
            Category("team", 300 * E8S, Fixed(((BOB, 200 * E8S), (CAROL, 100 * E8S))),
                     Linear(VESTING)),
            Category("reserve", 100 * E8S, Whitelist(((DAVE, 40 * E8S),), self.window),
                     Linear(VESTING)),
            penalty_bp=PENALTY_BP,
        )  # fmt: skip

    def deploy(self, config: DistributionConfig) -> Principal:
        deployed = self.system.backend.as_caller(ALICE).deploy_distribution(config).unwrap()
        canister: Principal = deployed.canister_id
        return canister

    def ledger_of(self, dist: Principal) -> CanisterProxy:
        return self.token if dist == self.relayed else self.system.icp_ledger

    def fund(self, dist: Principal) -> None:
        ledger = self.ledger_of(dist).as_caller(ALICE)
        ledger.icrc2_approve(ApproveArgs(spender=Account(dist), amount=1_000 * E8S)).unwrap()
        self.as_(dist, ALICE).fund().unwrap()

    @property
    def distributions(self) -> tuple[Principal, ...]:
        return (self.vest, self.airdrop, self.gated, self.merkle, self.private, self.relayed)

    # -- acting and reading ---------------------------------------------------------------------

    def as_(self, dist: Principal, user: Principal) -> CanisterProxy:
        return self.ic.actor(dist, user)

    def relayed_call(self, dist: Principal, method: str, *args: Any) -> Any:
        return self.relay.as_caller(MALLORY).relay(dist, method, args)

    def balance(self, holder: Principal, ledger: CanisterProxy | None = None) -> int:
        ledger = self.system.icp_ledger if ledger is None else ledger
        return int(ledger.icrc1_balance_of(Account(holder)))

    def balances(self) -> dict[tuple[Principal, Principal], int]:
        holders = (*USERS, *self.distributions, self.relay.id, self.system.backend.id)
        return {
            (ledger.id, holder): self.balance(holder, ledger)
            for ledger in (self.system.icp_ledger, self.token, self.gate)
            for holder in holders
        }

    def claimed(self, dist: Principal, *users: Principal) -> int:
        participants = self.ic.state_of(dist).participants
        return sum(participants[user].claimed for user in users)

    def last_block(self, ledger: CanisterProxy | None = None) -> Any:
        ledger = self.system.icp_ledger if ledger is None else ledger
        (block,) = ledger.get_blocks(ledger.get_transaction_count() - 1, 1)
        return block

    def indexed_roles(self, user: Principal) -> dict[Principal, set[str]]:
        """The roles the factory lists for ``user``, per distribution (asked by ``user``)."""
        page = self.factory.as_caller(user).get_my_contracts(user, 0, 100)
        return {entry.info.id: set(entry.roles) for entry in page.items if entry.roles}

    def true_roles(self, user: Principal) -> dict[Principal, set[str]]:
        """The roles ``user`` holds according to the distributions themselves."""
        roles: dict[Principal, set[str]] = {}
        for dist in self.distributions:
            state = self.ic.state_of(dist)
            held = {CREATOR} if user == state.meta.owner else set()
            if user in state.participants:
                held.add(RECIPIENT)
            if held:
                roles[dist] = held
        return roles

    def assert_index_exact(self) -> None:
        for user in (*USERS, self.relay.id):
            assert self.indexed_roles(user) == self.true_roles(user), user
        for dist in self.distributions:
            info = self.factory.as_caller(ALICE).get_contract_info(dist)
            participants = len(self.ic.state_of(dist).participants)
            assert info.role_counts.get(RECIPIENT, 0) == participants

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """Assert that the block leaves every distribution, the factory's index and every
        balance on every ledger as they were."""
        states = {dist: self.ic.state_of(dist) for dist in self.distributions}
        factory = self.ic.state_of(self.factory.id)
        balances = self.balances()
        yield
        assert {dist: self.ic.state_of(dist) for dist in self.distributions} == states
        after = self.ic.state_of(self.factory.id)
        assert (after.index, after.by_token) == (factory.index, factory.by_token)
        assert self.balances() == balances


@pytest.fixture(scope="module")
def built() -> World:
    return World()


def _reset(built: World, snapshot: Any) -> World:
    built.ic.restore(snapshot)
    built.ic.faults.clear()
    REENTRY.clear()
    return built


@pytest.fixture
def created(built: World) -> World:
    return _reset(built, built.created)


@pytest.fixture
def funded(built: World) -> World:
    return _reset(built, built.funded)


@pytest.fixture
def active(built: World) -> World:
    return _reset(built, built.active)


# -- B1: deploying for free ------------------------------------------------------------------------

NOT_BACKENDS = {"a user": MALLORY, "the config's owner": ALICE, "the operator": OPERATOR}


@pytest.mark.parametrize("ticket", [None, "t-1"])
@pytest.mark.parametrize("caller", NOT_BACKENDS.values(), ids=NOT_BACKENDS.keys())
def test_b1_only_the_backend_may_ask_the_factory_to_deploy(
    created: World, caller: Principal, ticket: str | None
) -> None:
    world = created
    config = world.vest_config()
    canisters = live_canisters(world.ic)
    factory = world.factory.as_caller(caller)
    with world.unchanged():
        error = rejected(lambda: factory.create_contract(caller, config, ticket))
    assert "Unauthorized: deploy via the backend" in error.message
    assert live_canisters(world.ic) == canisters
    assert world.factory.get_stats().contracts == len(world.distributions)


def test_b1_a_stranger_canister_cannot_deploy_through_the_factory_either(created: World) -> None:
    world = created
    config = world.vest_config()
    canisters = live_canisters(world.ic)
    with world.unchanged():
        error = rejected(
            lambda: world.relayed_call(world.factory.id, "create_contract", MALLORY, config)
        )
    assert "Unauthorized" in error.message
    assert live_canisters(world.ic) == canisters


def test_b1_the_paid_path_charges_one_icp_and_indexes_the_payer(created: World) -> None:
    world = created
    assert world.system.backend.get_service_fee("distribution_factory") == E8S
    alice, backend = world.balance(ALICE), world.balance(world.system.backend.id)
    dist = world.deploy(world.vest_config())
    assert world.balance(ALICE) == alice - E8S - FEE
    assert world.balance(world.system.backend.id) == backend + E8S
    info = world.factory.as_caller(MALLORY).get_contract_info(dist)
    assert (info.owner, info.kind, info.status) == (ALICE, "distribution", "active")
    assert world.indexed_roles(ALICE)[dist] == {CREATOR}


# -- B2: playing the factory -----------------------------------------------------------------------

FACTORY_ONLY = (
    ("on_upgraded", ("9.9.9", None)),
    ("on_upgraded", ("1.0.0", "a failure that never happened")),
    ("on_visibility_changed", (False,)),
    ("on_visibility_changed", (True,)),
    ("on_deployed", ()),
)


@pytest.mark.parametrize("caller", [MALLORY, ALICE, BOB], ids=["stranger", "owner", "recipient"])
@pytest.mark.parametrize(("method", "args"), FACTORY_ONLY)
def test_b2_no_one_but_the_factory_may_call_a_distributions_callbacks(
    active: World, caller: Principal, method: str, args: tuple[Any, ...]
) -> None:
    world = active
    for dist in (world.vest, world.private):
        meta = world.as_(dist, ALICE).get_contract_meta()
        with world.unchanged():
            error = rejected(partial(getattr(world.as_(dist, caller), method), *args))
        assert "only this contract's factory" in error.message
        assert world.as_(dist, ALICE).get_contract_meta() == meta


@pytest.mark.parametrize(("method", "args"), FACTORY_ONLY)
def test_b2_a_stranger_canister_cannot_play_the_factory(
    active: World, method: str, args: tuple[Any, ...]
) -> None:
    world = active
    with world.unchanged():
        error = rejected(lambda: world.relayed_call(world.vest, method, *args))
    assert "only this contract's factory" in error.message


@pytest.mark.parametrize("caller", [MALLORY, BOB], ids=["stranger", "recipient"])
def test_b2_only_the_owner_may_have_a_distribution_ask_for_an_upgrade(
    active: World, caller: Principal
) -> None:
    world = active
    with world.unchanged():
        error = rejected(lambda: world.as_(world.vest, caller).request_upgrade(None))
    assert "only the owner" in error.message


# -- B11: owner powers -----------------------------------------------------------------------------

OUTSIDERS = {"stranger": MALLORY, "recipient": BOB}


@pytest.mark.parametrize("caller", OUTSIDERS.values(), ids=OUTSIDERS.keys())
@pytest.mark.parametrize("method", ["pause", "cancel"])
def test_b11_only_the_owner_may_pause_or_cancel(
    active: World, caller: Principal, method: str
) -> None:
    world = active
    with world.unchanged():
        assert getattr(world.as_(world.vest, caller), method)() == Err(NotOwner(caller))
    assert world.as_(world.vest, MALLORY).get_phase() is Phase.ACTIVE


@pytest.mark.parametrize("caller", OUTSIDERS.values(), ids=OUTSIDERS.keys())
def test_b11_only_the_owner_may_resume(active: World, caller: Principal) -> None:
    world = active
    world.as_(world.vest, ALICE).pause().unwrap()
    with world.unchanged():
        assert world.as_(world.vest, caller).resume() == Err(NotOwner(caller))
    assert world.as_(world.vest, MALLORY).get_phase() is Phase.PAUSED


@pytest.mark.parametrize("caller", OUTSIDERS.values(), ids=OUTSIDERS.keys())
@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("add_recipient", (MALLORY, 1, 10 * E8S)),
        ("remove_recipient", (CAROL,)),
        ("blacklist", (CAROL,)),
        ("fund", ()),
    ],
)
def test_b11_only_the_owner_may_manage_recipients_or_fund(
    created: World, caller: Principal, method: str, args: tuple[Any, ...]
) -> None:
    world = created
    with world.unchanged():
        assert getattr(world.as_(world.vest, caller), method)(*args) == Err(NotOwner(caller))


@pytest.mark.parametrize("method", ["pause", "cancel", "resume", "fund", "add_recipient"])
def test_b11_a_stranger_canister_has_no_owner_power(active: World, method: str) -> None:
    world = active
    args = (MALLORY, 1, E8S) if method == "add_recipient" else ()
    with world.unchanged():
        assert world.relayed_call(world.vest, method, *args) == Err(NotOwner(world.relay.id))


def vest_in(built: World, phase: Phase) -> World:
    """The world restored to where ``vest`` is in ``phase``."""
    snapshots = {Phase.CREATED: built.created, Phase.FUNDED: built.funded}
    world = _reset(built, snapshots.get(phase, built.active))
    owner = world.as_(world.vest, ALICE)
    if phase is Phase.PAUSED:
        owner.pause().unwrap()
    elif phase is Phase.CANCELLED:
        owner.cancel().unwrap()
    elif phase is Phase.COMPLETED:
        world.ic.set_time(world.start + VESTING)
    assert owner.get_phase() is phase
    return world


@pytest.mark.parametrize("phase", [phase for phase in Phase if phase is not Phase.ACTIVE])
def test_b11_pause_is_refused_in_every_phase_but_active(built: World, phase: Phase) -> None:
    world = vest_in(built, phase)
    with world.unchanged():
        assert world.as_(world.vest, ALICE).pause() == Err(WrongPhase(phase, "Active"))


@pytest.mark.parametrize("phase", [phase for phase in Phase if phase is not Phase.PAUSED])
def test_b11_resume_is_refused_in_every_phase_but_paused(built: World, phase: Phase) -> None:
    world = vest_in(built, phase)
    with world.unchanged():
        assert world.as_(world.vest, ALICE).resume() == Err(WrongPhase(phase, "Paused"))


def test_b11_a_paused_distribution_pays_nothing_until_resumed(active: World) -> None:
    world = active
    world.as_(world.vest, ALICE).pause().unwrap()
    refused = Err(WrongPhase(Phase.PAUSED, "Active, Completed or Cancelled (and not paused)"))
    for _ in range(2):
        with world.unchanged():
            for user in (BOB, CAROL, DAVE):
                assert world.as_(world.vest, user).claim() == refused
                assert world.as_(world.vest, user).claim(E8S) == refused
            assert world.as_(world.vest, BOB).early_unlock() == Err(
                WrongPhase(Phase.PAUSED, "Active, and not unlocked early before")
            )
        world.ic.advance_time(days=2)
    world.as_(world.vest, ALICE).resume().unwrap()
    bob = world.balance(BOB)
    assert world.as_(world.vest, BOB).claim().unwrap().amount == 180 * E8S
    assert world.balance(BOB) == bob + 180 * E8S


# -- B11: claims -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dist", ["vest", "private", "airdrop"])
def test_b11_a_stranger_claims_nothing(active: World, dist: str) -> None:
    world = active
    target = getattr(world, dist)
    with world.unchanged():
        assert world.as_(target, MALLORY).claim() == Err(NotRecipient(MALLORY))
        assert world.as_(target, MALLORY).claim(E8S) == Err(NotRecipient(MALLORY))
        assert world.as_(target, MALLORY).early_unlock() == Err(NotRecipient(MALLORY))
        assert world.relayed_call(target, "claim") == Err(NotRecipient(world.relay.id))


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda d: d.claim(None, BOB), id="claim(None, bob)"),
        pytest.param(lambda d: d.claim(E8S, BOB), id="claim(amount, bob)"),
        pytest.param(lambda d: d.claim(user=BOB), id="claim(user=bob)"),
        pytest.param(lambda d: d.claim(to=Account(CAROL)), id="claim(to=...)"),
        pytest.param(lambda d: d.early_unlock(BOB), id="early_unlock(bob)"),
    ],
)
def test_b11_a_recipient_claims_only_for_itself(
    active: World, call: Callable[[CanisterProxy], object]
) -> None:
    world = active
    with world.unchanged():
        assert isinstance(rejected(lambda: call(world.as_(world.vest, CAROL))), InvalidArguments)
    bob = world.as_(world.vest, BOB).get_participant(BOB)
    carol = world.balance(CAROL)
    assert world.as_(world.vest, CAROL).claim().unwrap().amount == 50 * E8S
    assert world.balance(CAROL) == carol + 50 * E8S
    assert world.as_(world.vest, BOB).get_participant(BOB) == bob


FAULTS = {
    "the ledger rejects": lambda ic, ledger: ic.faults.reject(
        canister=ledger, method="icrc1_transfer", times=2
    ),
    "the ledger traps": lambda ic, ledger: ic.faults.trap(
        canister=ledger, method="icrc1_transfer", times=2
    ),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_b11_a_claim_the_ledger_fails_records_nothing_and_the_next_one_pays_once(
    active: World, fault: Callable[[IC, Principal], Any]
) -> None:
    world = active
    dist = world.as_(world.vest, BOB)
    with world.unchanged():
        rule = fault(world.ic, world.icp)
        result = dist.claim()
        assert isinstance(result, Err) and isinstance(result.error, TransferFailed)
        assert rule.fired == 2  # the request, and the identical one after its reject
    bob = world.balance(BOB)
    claim = dist.claim().unwrap()
    assert (claim.user, claim.amount, claim.fee_from_reserve) == (BOB, 100 * E8S, True)
    assert world.balance(BOB) == bob + 100 * E8S
    with world.unchanged():
        assert dist.claim() == Err(NothingToClaim(0))
        assert dist.claim(1) == Err(NothingToClaim(0))
    assert world.as_(world.vest, BOB).get_claims(BOB).items == (claim,)
    assert world.ic.state_of(world.vest).participants[BOB].claimed == 100 * E8S


def test_b11_a_claim_reentered_during_its_own_payout_pays_once(active: World) -> None:
    world = active
    relay = world.relay.id
    REENTRY.update(relay=relay, during_payout=[(world.relayed, "claim", ())], answers=[])
    before = world.balance(relay, world.token)
    claim = world.relayed_call(world.relayed, "claim").unwrap()
    assert REENTRY["answers"] == [Err(NothingToClaim(0))]
    assert claim.amount == 50 * E8S
    assert world.balance(relay, world.token) == before + 50 * E8S
    assert world.ic.state_of(world.relayed).participants[relay].claimed == 50 * E8S
    assert len(world.as_(world.relayed, ALICE).get_claims().items) == 1


def test_b11_an_early_unlock_reentered_during_its_own_payout_pays_once(active: World) -> None:
    world = active
    relay = world.relay.id
    REENTRY.update(
        relay=relay, answers=[],
        during_payout=[(world.relayed, "early_unlock", ()), (world.relayed, "claim", ())],
    )  # fmt: skip
    before = world.balance(relay, world.token)
    claim = world.relayed_call(world.relayed, "early_unlock").unwrap()
    assert REENTRY["answers"] == [
        Err(WrongPhase(Phase.ACTIVE, "Active, and not unlocked early before")),
        Err(NothingToClaim(0)),
    ]
    assert claim.amount == 75 * E8S
    assert world.balance(relay, world.token) == before + 75 * E8S
    burn = world.last_block(world.token)
    assert (burn.kind, burn.amount, burn.from_) == ("burn", 25 * E8S, Account(world.relayed))


@pytest.mark.parametrize("claimed_before", [0, 30 * E8S])
def test_b11_an_early_unlock_pays_vested_plus_unvested_less_the_penalty_exactly_once(
    active: World, claimed_before: int
) -> None:
    world = active
    dist = world.as_(world.vest, BOB)
    if claimed_before:
        dist.claim(claimed_before).unwrap()
    bob, held = world.balance(BOB), world.balance(world.vest)
    vested, unvested = 100 * E8S, 100 * E8S
    penalty = unvested * PENALTY_BP // 10_000
    due = vested + unvested - penalty - claimed_before
    claim = dist.early_unlock().unwrap()
    assert (claim.kind, claim.amount, claim.fee_from_reserve) == ("early_unlock", due, True)
    assert world.balance(BOB) == bob + due
    assert world.balance(world.vest) == held - due - FEE - penalty
    burn = world.last_block()
    assert (burn.kind, burn.amount, burn.from_) == ("burn", penalty, Account(world.vest))
    stats = world.as_(world.vest, ALICE).get_stats()
    others = world.claimed(world.vest, CAROL, DAVE)
    assert (stats.penalties, stats.claimed) == (penalty, 200 * E8S + others)
    for _ in range(2):
        with world.unchanged():
            assert dist.early_unlock() == Err(
                WrongPhase(world.as_(world.vest, BOB).get_phase(),
                           "Active, and not unlocked early before")
            )  # fmt: skip
            assert dist.claim() == Err(NothingToClaim(0))
        world.ic.set_time(world.start + VESTING)


def test_b11_an_early_unlock_with_nothing_forfeited_costs_one_fee_not_two(funded: World) -> None:
    """Bob's category has fully vested while carol's keeps the distribution active: his early
    unlock forfeits nothing, so no penalty transfer is made and the reserve pays one fee. Each
    payout is then covered, and the contract ends empty."""
    world = funded
    two_speeds = world.deploy(world.config(
        "Two speeds",
        Category("short", 60 * E8S, Fixed(((BOB, 60 * E8S),)), Linear(days(1))),
        Category("long", 40 * E8S, Fixed(((CAROL, 40 * E8S),)), Linear(VESTING)),
        penalty_bp=PENALTY_BP, penalty_to=Account(FRANK), claims_covered=1,
    ))  # fmt: skip
    world.fund(two_speeds)
    world.ic.set_time(world.start + days(2))
    held, bob, frank = world.balance(two_speeds), world.balance(BOB), world.balance(FRANK)
    claim = world.as_(two_speeds, BOB).early_unlock().unwrap()
    assert (claim.amount, claim.fee_from_reserve) == (60 * E8S, True)
    assert world.balance(BOB) == bob + 60 * E8S and world.balance(FRANK) == frank
    assert world.balance(two_speeds) == held - 60 * E8S - FEE
    world.ic.set_time(world.start + VESTING)
    claim = world.as_(two_speeds, CAROL).claim().unwrap()
    assert (claim.amount, claim.fee_from_reserve) == (40 * E8S, True)
    assert world.balance(two_speeds) == 0


def test_b11_early_unlock_is_offered_only_where_the_config_sets_a_penalty(active: World) -> None:
    world = active
    with world.unchanged():
        result = world.as_(world.private, BOB).early_unlock()
    assert isinstance(result, Err) and "no early unlock" in result.error.reasons[0]


@pytest.mark.parametrize("how", ["active", "paused"])
def test_b11_cancelling_returns_only_what_had_not_vested(active: World, how: str) -> None:
    world = active
    world.as_(world.vest, BOB).claim(30 * E8S).unwrap()
    if how == "paused":
        world.as_(world.vest, ALICE).pause().unwrap()
    held, alice = world.balance(world.vest), world.balance(ALICE)
    vested_left = {BOB: 70 * E8S, CAROL: 50 * E8S, DAVE: 20 * E8S}
    back = world.as_(world.vest, ALICE).cancel().unwrap()
    assert back == held - sum(vested_left.values()) - len(vested_left) * FEE - FEE
    assert back == 230 * E8S + 70_000
    assert world.balance(ALICE) == alice + back
    world.ic.advance_time(days=30)
    assert world.as_(world.vest, MALLORY).get_phase() is Phase.CANCELLED
    for user, due in vested_left.items():
        dist = world.as_(world.vest, user)
        assert dist.get_participant(user).claimable == due
        before = world.balance(user)
        claim = dist.claim().unwrap()
        assert (claim.amount, claim.fee_from_reserve) == (due, True)
        assert world.balance(user) == before + due
        with world.unchanged():
            assert dist.claim() == Err(NothingToClaim(0))
    assert world.balance(world.vest) == 0


def test_b11_a_distribution_cancelled_before_its_start_returns_everything(funded: World) -> None:
    world = funded
    held, alice = world.balance(world.vest), world.balance(ALICE)
    assert world.as_(world.vest, ALICE).cancel() == Ok(held - FEE)
    assert world.balance(ALICE) == alice + held - FEE
    world.ic.set_time(world.start + VESTING)
    with world.unchanged():
        for user in (BOB, CAROL):
            assert world.as_(world.vest, user).claim() == Err(NothingToClaim(0))
        assert world.as_(world.vest, ALICE).cancel() == Err(
            WrongPhase(Phase.CANCELLED, "Created or Funded or Active or Paused")
        )


@pytest.mark.parametrize("moment", ["after_balance", "during_fee"])
def test_b11_a_claim_interleaved_with_cancel_is_counted_once(active: World, moment: str) -> None:
    """The relay claims while the owner cancels: after the ledger answered cancel's balance
    query (the balance still holds the claim, so cancel takes it off), or while cancel asks
    the fee (the claim is paid before the balance is asked, so it must not be taken off a
    second time). Either way the owner gets exactly what had not vested, and bob his half."""
    world = active
    relay = world.relay.id
    REENTRY.update({"relay": relay, moment: [(world.relayed, "claim", ())], "answers": []})
    held, alice = world.balance(world.relayed, world.token), world.balance(ALICE, world.token)
    back = world.as_(world.relayed, ALICE).cancel().unwrap()
    (interleaved,) = REENTRY["answers"]
    assert interleaved.unwrap().amount == 50 * E8S
    assert back == held - (50 * E8S + FEE) - (50 * E8S + FEE) - FEE
    assert world.balance(ALICE, world.token) == alice + back
    bob = world.balance(BOB, world.token)
    assert world.as_(world.relayed, BOB).claim().unwrap().amount == 50 * E8S
    assert world.balance(BOB, world.token) == bob + 50 * E8S
    assert world.balance(world.relayed, world.token) == 0


def test_b11_a_cancel_the_ledger_refuses_keeps_the_fees_claims_took_meanwhile(
    active: World,
) -> None:
    """While the owner's refund is in flight the relay claims (the distribution is Cancelled
    then), its fee coming from the reserve cancel set; the refund fails and cancel is undone:
    the reserve put back is less what that claim took, so it is what the balance holds above
    what is owed, and every later claim is paid in full."""
    world = active
    relay = world.relay.id
    REENTRY.update(relay=relay, payout_to=ALICE, during_payout=[(world.relayed, "claim", ())],
                   answers=[])  # fmt: skip
    world.ic.faults.trap(canister=world.token.id, method="icrc1_transfer", times=1)
    # the refund's resend fails too
    world.ic.faults.reject(canister=world.token.id, method="icrc1_transfer", times=1, after=1)
    assert isinstance(world.as_(world.relayed, ALICE).cancel().error, TransferFailed)
    (interleaved,) = REENTRY["answers"]
    assert interleaved.unwrap().fee_from_reserve
    state = world.ic.state_of(world.relayed)
    assert state.status is not Phase.CANCELLED and state.owner_refund is None
    owed = sum(p.allocation - p.claimed for p in state.participants.values())
    assert state.reserve == world.balance(world.relayed, world.token) - owed
    world.ic.set_time(world.start + VESTING)
    for user in (BOB,):
        assert world.as_(world.relayed, user).claim().unwrap().amount == 100 * E8S


def test_b11_a_registration_is_refused_if_the_owner_cancelled_while_the_gate_was_asked(
    funded: World,
) -> None:
    """The relay owns a gated airdrop; while it asks the gate ledger whether erin holds enough,
    the relay cancels: erin's registration must see the cancellation (the category's amount
    went back to the owner)."""
    world = funded
    relay, backend, system = world.relay.id, world.system.backend.id, world.system
    system.faucet(relay, 100 * E8S)
    approve = ApproveArgs(spender=Account(backend), amount=10 * E8S)
    world.relayed_call(world.icp, "icrc2_approve", approve).unwrap()
    config = world.config("Relay holders", Category("holders", 10 * E8S, Open(10, world.window)),
                          eligibility=HoldsToken(world.gate.id, 100))  # fmt: skip
    gated = world.relayed_call(backend, "deploy_distribution", config).unwrap().canister_id
    approve = ApproveArgs(spender=Account(gated), amount=20 * E8S)
    world.relayed_call(world.icp, "icrc2_approve", approve).unwrap()
    world.relayed_call(gated, "fund").unwrap()
    REENTRY.update(relay=relay, other_balance=[(gated, "cancel", ())], answers=[])
    result = world.as_(gated, ERIN).register(0)
    (cancelled,) = REENTRY["answers"]
    assert isinstance(cancelled, Ok)
    assert result == Err(WrongPhase(Phase.CANCELLED, "not cancelled"))
    assert ERIN not in world.ic.state_of(gated).participants


def relay_owned(world: World, *categories: Category, **changes: Any) -> Principal:
    """A funded distribution of TOK (the reentering ledger) owned by the relay canister, so
    that the owner's calls can run inside another message's await."""
    relay, backend = world.relay.id, world.system.backend.id
    world.system.faucet(relay, 10 * E8S)
    approve = ApproveArgs(spender=Account(backend), amount=10 * E8S)
    world.relayed_call(world.icp, "icrc2_approve", approve).unwrap()
    config = world.config("Relay owned", *categories, token=world.token.id, **changes)
    deployed = world.relayed_call(backend, "deploy_distribution", config).unwrap()
    dist: Principal = deployed.canister_id
    world.token.as_caller(ALICE).icrc1_transfer(
        TransferArgs(to=Account(relay), amount=400 * E8S)
    ).unwrap()
    approve = ApproveArgs(spender=Account(dist), amount=400 * E8S)
    world.relayed_call(world.token.id, "icrc2_approve", approve).unwrap()
    world.relayed_call(dist, "fund").unwrap()
    return dist


def _team(world: World) -> Category:
    return Category("team", 200 * E8S, Fixed(((BOB, 100 * E8S), (CAROL, 100 * E8S))),
                    Linear(VESTING))  # fmt: skip


def test_b11_an_owner_cancelling_while_an_early_unlock_asks_where_burns_go_refunds_no_one_twice(
    funded: World,
) -> None:
    """The early unlock asks the ledger's minting account before it records anything: the
    cancel that runs meanwhile sees bob still owed his vested half, and the unlock, finding
    the distribution cancelled, is refused; bob and carol then claim their vested halves."""
    world = funded
    dist = relay_owned(world, _team(world), penalty_bp=PENALTY_BP)
    world.ic.set_time(world.start + HALFWAY)
    REENTRY.update(relay=world.relay.id, during_minting_account=[(dist, "cancel", ())],
                   answers=[])  # fmt: skip
    unlocked = world.as_(dist, BOB).early_unlock()
    assert isinstance(REENTRY["answers"][0], Ok)
    assert isinstance(unlocked, Err) and isinstance(unlocked.error, WrongPhase)
    for user in (BOB, CAROL):
        assert world.as_(dist, user).claim().unwrap().amount == 50 * E8S


def test_b11_an_owner_cancelling_while_an_early_unlock_is_paid_keeps_its_penalty_aside(
    funded: World,
) -> None:
    """Bob's early unlock is paid (the ledger has made the transfer) and the owner cancels
    before the unlock burns the penalty: the penalty is held, not refunded, so the burn takes
    nobody's tokens and carol still claims her vested half."""
    world = funded
    dist = relay_owned(world, _team(world), penalty_bp=PENALTY_BP)
    world.ic.set_time(world.start + HALFWAY)
    REENTRY.update(relay=world.relay.id, payout_to=BOB, after_payout=[(dist, "cancel", ())],
                   answers=[])  # fmt: skip
    assert world.as_(dist, BOB).early_unlock().unwrap().amount == 75 * E8S
    assert isinstance(REENTRY["answers"][0], Ok)
    assert world.as_(dist, CAROL).claim().unwrap().amount == 50 * E8S
    state = world.ic.state_of(dist)
    assert (state.penalty_held, state.pending_penalty) == (0, 0)
    assert world.balance(dist, world.token) == state.reserve  # nothing owed, nothing short


def test_b11_a_refused_cancel_leaves_the_reserve_as_claims_meanwhile_left_it(
    created: World,
) -> None:
    """The fee reserve has run out when the owner cancels; the relay claims while the owner's
    refund is in flight, and the refund fails. The claim paid its own fee (there was no
    reserve to take it from), so everyone can still be paid in full."""
    world = created
    relay = world.relay.id
    team = Category("relay", 200 * E8S, Fixed(((relay, 100 * E8S), (BOB, 100 * E8S))),
                    Linear(VESTING))  # fmt: skip
    dist = world.deploy(world.config("Thin", team, token=world.token.id, claims_covered=1))
    approve = ApproveArgs(spender=Account(dist), amount=1_000 * E8S)
    world.token.as_caller(ALICE).icrc2_approve(approve).unwrap()
    world.as_(dist, ALICE).fund().unwrap()
    world.ic.set_time(world.start + HALFWAY // 2)
    world.relayed_call(dist, "claim").unwrap()
    world.as_(dist, BOB).claim().unwrap()
    assert world.ic.state_of(dist).reserve == 0
    world.ic.set_time(world.start + HALFWAY)
    REENTRY.update(relay=relay, payout_to=ALICE, during_payout=[(dist, "claim", ())],
                   answers=[])  # fmt: skip
    world.ic.faults.trap(canister=world.token.id, method="icrc1_transfer", times=1)
    # the refund's resend fails too
    world.ic.faults.reject(canister=world.token.id, method="icrc1_transfer", times=1, after=1)
    assert isinstance(world.as_(dist, ALICE).cancel().error, TransferFailed)
    assert not REENTRY["answers"][0].unwrap().fee_from_reserve
    state = world.ic.state_of(dist)
    owed = sum(p.allocation - p.claimed for p in state.participants.values())
    assert world.balance(dist, world.token) == owed + state.reserve + state.pending_penalty


def test_b11_an_owner_cancelling_while_penalties_are_sent_keeps_them_aside(
    funded: World,
) -> None:
    world = funded
    dist = relay_owned(world, _team(world), penalty_bp=PENALTY_BP)
    world.ic.set_time(world.start + HALFWAY)
    burn = world.ic.faults.reject(
        canister=world.token.id, method="icrc1_transfer", times=2, after=1
    )
    assert world.as_(dist, BOB).early_unlock().unwrap().amount == 100 * E8S - 25 * E8S
    assert burn.fired == 2
    assert world.ic.state_of(dist).pending_penalty == 25 * E8S
    REENTRY.update(relay=world.relay.id, during_minting_account=[(dist, "cancel", ())],
                   answers=[])  # fmt: skip
    assert world.as_(dist, MALLORY).send_penalties() == 0
    assert isinstance(REENTRY["answers"][0], Ok)
    assert world.as_(dist, CAROL).claim().unwrap().amount == 50 * E8S


TOPPING_UP = (
    "a pull into the distribution (its funding or a reserve top-up) ran meanwhile: ask again"
)


def _top_up_approved(world: World, dist: Principal, user: Principal) -> None:
    approve = ApproveArgs(spender=Account(dist), amount=E8S)
    if user == world.relay.id:
        world.relayed_call(world.token.id, "icrc2_approve", approve).unwrap()
    else:
        world.token.as_caller(user).icrc2_approve(approve).unwrap()


def _cancelled_and_claimed(world: World, dist: Principal) -> int:
    """The owner (the relay) cancels halfway; bob and carol claim their vested halves, paid in
    full. What the owner got back."""
    back: int = world.relayed_call(dist, "cancel").unwrap()
    for user in (BOB, CAROL):
        claim = world.as_(dist, user).claim().unwrap()
        assert (claim.amount, claim.fee_from_reserve) == (50 * E8S, True)
    return back


@pytest.mark.parametrize("moment", ["during_pull", "after_pull"])
def test_b11_a_cancel_while_a_top_up_is_pulled_asks_again_and_the_top_up_counts(
    funded: World, moment: str
) -> None:
    """Alice tops the reserve up; while the ledger takes her tokens (before or after) the owner
    cancels. The cancel cannot tell whether the balance it asks holds them, so it is refused;
    the top-up counts once, and the next cancel returns it with the unvested half."""
    world = funded
    dist = relay_owned(world, _team(world))
    world.ic.set_time(world.start + HALFWAY)
    _top_up_approved(world, dist, ALICE)
    reserve = world.ic.state_of(dist).reserve
    REENTRY.update({"relay": world.relay.id, moment: [(dist, "cancel", ())], "answers": []})
    assert world.as_(dist, ALICE).top_up_reserve(5 * FEE) == Ok(reserve + 5 * FEE)
    assert REENTRY["answers"] == [Err(InvalidRequest((TOPPING_UP,)))]
    state = world.ic.state_of(dist)
    assert (state.status, state.pulling, state.topped_up) == (Phase.FUNDED, 0, 5 * FEE)
    held = world.balance(dist, world.token)
    assert held == 200 * E8S + reserve + 5 * FEE
    assert _cancelled_and_claimed(world, dist) == held - 100 * E8S - 2 * FEE - FEE
    assert world.balance(dist, world.token) == world.ic.state_of(dist).reserve == 0


@pytest.mark.parametrize("moment", ["during_fee", "after_balance"])
def test_b11_a_top_up_while_cancel_asks_the_ledger_makes_the_cancel_ask_again(
    funded: World, moment: str
) -> None:
    """The owner's top-up lands before the balance cancel asks (``during_fee``) or after it
    (``after_balance``): either way the cancel is refused and changes nothing, the top-up
    counts, and the next cancel sets everything right."""
    world = funded
    dist = relay_owned(world, _team(world))
    world.ic.set_time(world.start + HALFWAY)
    _top_up_approved(world, dist, world.relay.id)
    reserve = world.ic.state_of(dist).reserve
    REENTRY.update({"relay": world.relay.id, moment: [(dist, "top_up_reserve", (5 * FEE,))],
                    "answers": []})  # fmt: skip
    assert world.relayed_call(dist, "cancel") == Err(InvalidRequest((TOPPING_UP,)))
    assert REENTRY["answers"] == [Ok(reserve + 5 * FEE)]
    state = world.ic.state_of(dist)
    assert (state.status, state.cancelled_at, state.owner_refund) == (Phase.FUNDED, None, None)
    assert state.reserve == reserve + 5 * FEE
    held = world.balance(dist, world.token)
    assert _cancelled_and_claimed(world, dist) == held - 100 * E8S - 2 * FEE - FEE
    assert world.balance(dist, world.token) == world.ic.state_of(dist).reserve == 0


def test_b11_a_top_up_while_the_owners_refund_is_in_flight_stays_in_the_reserve(
    funded: World,
) -> None:
    """The cancel has set what it returns and pays the owner; meanwhile the owner tops the
    reserve up (recipients can still claim what had vested). The top-up was not in the balance
    cancel asked, so it stays in the reserve: both claims are paid in full and it is left."""
    world = funded
    dist = relay_owned(world, _team(world))
    world.ic.set_time(world.start + HALFWAY)
    _top_up_approved(world, dist, world.relay.id)
    REENTRY.update(relay=world.relay.id, during_payout=[(dist, "top_up_reserve", (5 * FEE,))],
                   answers=[])  # fmt: skip
    back = world.relayed_call(dist, "cancel").unwrap()
    assert isinstance(REENTRY["answers"][0], Ok)
    assert world.ic.state_of(dist).reserve == 2 * FEE + 5 * FEE
    for user in (BOB, CAROL):
        assert world.as_(dist, user).claim().unwrap().amount == 50 * E8S
    assert world.balance(dist, world.token) == world.ic.state_of(dist).reserve == 5 * FEE
    assert back > 0


def test_b11_a_top_up_while_the_funding_is_pulled_waits_for_the_funding(
    created: World,
) -> None:
    """While alice's ``fund()`` pull is at the ledger the distribution is not funded yet, so a
    top-up is refused and changes nothing; alice approved too little, so the funding fails and
    changes nothing either. The funding that follows counts alone."""
    world = created
    dist = world.deploy(world.config("Thin", _team(world), token=world.token.id))
    world.token.as_caller(ALICE).icrc1_transfer(
        TransferArgs(to=Account(world.relay.id), amount=E8S)
    ).unwrap()
    _top_up_approved(world, dist, world.relay.id)
    _top_up_approved(world, dist, ALICE)  # one ICP: too little to fund
    before = world.ic.state_of(dist)
    REENTRY.update(relay=world.relay.id, during_pull=[(dist, "top_up_reserve", (5 * FEE,))],
                   answers=[])  # fmt: skip
    result = world.as_(dist, ALICE).fund()
    assert isinstance(result, Err) and isinstance(result.error, TransferFailed)
    assert REENTRY["answers"] == [
        Err(WrongPhase(Phase.CREATED, "funded, with payouts still to come"))
    ]
    assert world.ic.state_of(dist) == before
    assert world.balance(dist, world.token) == 0
    approve = ApproveArgs(spender=Account(dist), amount=1_000 * E8S)
    world.token.as_caller(ALICE).icrc2_approve(approve).unwrap()
    world.as_(dist, ALICE).fund().unwrap()
    needed = 4 * 2 * FEE
    assert world.ic.state_of(dist).reserve == needed
    assert world.balance(dist, world.token) == 200 * E8S + needed


def _relay_created(world: World, approved: int) -> Principal:
    """An unfunded distribution of TOK owned by the relay, which holds 400 TOK and approved
    ``approved`` of them to it."""
    relay, backend = world.relay.id, world.system.backend.id
    world.system.faucet(relay, 10 * E8S)
    approve = ApproveArgs(spender=Account(backend), amount=10 * E8S)
    world.relayed_call(world.icp, "icrc2_approve", approve).unwrap()
    config = world.config("Relay owned", _team(world), token=world.token.id)
    deployed = world.relayed_call(backend, "deploy_distribution", config).unwrap()
    dist: Principal = deployed.canister_id
    world.token.as_caller(ALICE).icrc1_transfer(
        TransferArgs(to=Account(relay), amount=400 * E8S)
    ).unwrap()
    approve = ApproveArgs(spender=Account(dist), amount=approved)
    world.relayed_call(world.token.id, "icrc2_approve", approve).unwrap()
    return dist


@pytest.mark.parametrize("approved", [E8S, 400 * E8S], ids=["refused", "taken"])
@pytest.mark.parametrize("moment", ["during_pull", "after_pull"])
def test_b11_a_cancel_while_the_funding_is_pulled_asks_again(
    created: World, moment: str, approved: int
) -> None:
    """The owner cancels while its own ``fund()`` pull is at the ledger. The cancel cannot tell
    whether the balance holds the funding, so it is refused and changes nothing; the funding
    ends as the ledger decided (undone when refused, not cancelled, never a negative reserve),
    and a cancel afterwards returns everything."""
    world = created
    dist = _relay_created(world, approved)
    REENTRY.update({"relay": world.relay.id, moment: [(dist, "cancel", ())], "answers": []})
    funding = world.relayed_call(dist, "fund")
    assert REENTRY["answers"] == [Err(InvalidRequest((TOPPING_UP,)))]
    state = world.ic.state_of(dist)
    assert (state.cancelled_at, state.owner_refund, state.pulling) == (None, None, 0)
    if approved == E8S:
        assert isinstance(funding, Err) and isinstance(funding.error, TransferFailed)
        assert (state.status, state.funded, state.reserve) == (Phase.CREATED, False, 0)
        return
    held = world.balance(dist, world.token)
    assert funding.is_ok and (state.status, held) == (Phase.FUNDED, 200 * E8S + state.reserve)
    assert world.relayed_call(dist, "cancel") == Ok(held - FEE)
    assert world.balance(dist, world.token) == 0


def test_b11_the_spare_reserve_is_not_taken_while_the_owners_refund_is_in_flight(
    funded: World,
) -> None:
    """A cancel before the start owes nobody anything, and pays the owner the balance; while
    that refund is in flight the owner asks for the spare reserve. It is refused: the refund
    then fails, the cancel is undone, and the reserve still pays every claim's fee."""
    world = funded
    dist = relay_owned(world, _team(world))
    reserve = world.ic.state_of(dist).reserve
    REENTRY.update(relay=world.relay.id, during_payout=[(dist, "withdraw_spare_reserve", ())],
                   answers=[])  # fmt: skip
    world.ic.faults.trap(canister=world.token.id, method="icrc1_transfer", times=2)
    cancelled = world.relayed_call(dist, "cancel")
    assert isinstance(cancelled, Err) and isinstance(cancelled.error, TransferFailed)
    assert REENTRY["answers"] == [
        Err(InvalidRequest(("a transfer is on its way: ask again later",)))
    ]
    state = world.ic.state_of(dist)
    assert (state.status, state.reserve, state.sending) == (Phase.FUNDED, reserve, 0)
    world.ic.set_time(world.start + VESTING)
    for user in (BOB, CAROL):
        claim = world.as_(dist, user).claim().unwrap()
        assert (claim.amount, claim.fee_from_reserve) == (100 * E8S, True)


def test_b11_the_spare_reserve_stays_while_the_owner_may_still_add_recipients(
    created: World,
) -> None:
    """An airdrop whose window closed before the start, with nobody registered: the owner may
    still add recipients until the start, so the reserve that pays their fees is not spare."""
    world = created
    window = Window(world.t0, world.t0 + DAY // 2)
    drop = Category("drop", 30 * E8S, Open(3, window), Linear(VESTING))
    dist = world.deploy(world.config("Drop", drop))
    approve = ApproveArgs(spender=Account(dist), amount=100 * E8S)
    world.system.icp_ledger.as_caller(ALICE).icrc2_approve(approve).unwrap()
    owner = world.as_(dist, ALICE)
    owner.fund().unwrap()
    world.ic.set_time(world.t0 + DAY * 3 // 4)
    before = world.ic.state_of(dist)
    assert owner.withdraw_spare_reserve() == Err(
        WrongPhase(Phase.FUNDED, "funded, with nobody left to pay")
    )
    assert world.ic.state_of(dist) == before
    owner.add_recipient(BOB, 0, 10 * E8S).unwrap()
    world.ic.set_time(world.start + VESTING)
    claim = world.as_(dist, BOB).claim().unwrap()
    assert (claim.amount, claim.fee_from_reserve) == (10 * E8S, True)


def test_b11_claims_during_the_owners_refund_take_only_the_fees_the_cancel_kept(
    active: World,
) -> None:
    """Halfway, alice cancels; while her refund is at the ledger, the relay claims five times.
    The cancel kept one fee per recipient who can still claim, so only that many claims are
    paid from the reserve: bob, claiming last, still gets what had vested to him."""
    world = active
    dist = world.relayed
    REENTRY.update(relay=world.relay.id, payout_to=ALICE,
                   during_payout=[(dist, "claim", (1,))] * 5, answers=[])  # fmt: skip
    world.as_(dist, ALICE).cancel().unwrap()
    from_reserve = [a.unwrap().fee_from_reserve for a in REENTRY["answers"] if a.is_ok]
    assert from_reserve.count(True) <= 2
    world.relayed_call(dist, "claim").unwrap()
    bob = world.as_(dist, BOB).claim().unwrap()
    assert bob.amount + (0 if bob.fee_from_reserve else FEE) == 50 * E8S
    assert world.balance(dist, world.token) == world.ic.state_of(dist).reserve


def test_b11_a_merkle_airdrop_without_a_window_closes_once_its_places_are_taken(
    created: World,
) -> None:
    """Two places, taken by bob and carol: nobody can register any more, so once both have
    everything, what nobody was given and the spare reserve go back to the owner."""
    world = created
    tree = MerkleTree([leaf(BOB, 5 * E8S, 0), leaf(CAROL, 7 * E8S, 0), leaf(DAVE, 9 * E8S, 0)])
    proofs = Category("proofs", 22 * E8S, MerkleRoot(tree.root, 2))
    dist = world.deploy(world.config("Proofs", proofs, cancellable=False))
    approve = ApproveArgs(spender=Account(dist), amount=100 * E8S)
    world.system.icp_ledger.as_caller(ALICE).icrc2_approve(approve).unwrap()
    owner = world.as_(dist, ALICE)
    owner.fund().unwrap()
    world.as_(dist, BOB).register(0, 5 * E8S, tree.proof(0)).unwrap()
    world.as_(dist, CAROL).register(0, 7 * E8S, tree.proof(1)).unwrap()
    assert world.as_(dist, DAVE).register(0, 9 * E8S, tree.proof(2)).is_err
    world.ic.set_time(world.start + DAY)
    for user in (BOB, CAROL):
        world.as_(dist, user).claim().unwrap()
    assert owner.withdraw_unallocated() == Ok(10 * E8S - FEE)
    reserve = world.ic.state_of(dist).reserve
    assert owner.withdraw_spare_reserve() == Ok(reserve - FEE)
    assert world.balance(dist) == 0


def test_b11_a_count_a_trapped_claim_left_behind_lapses_and_an_upgrade_clears_it(
    funded: World,
) -> None:
    """A claim that traps after its payout leaves ``sending`` at 1 and its request journalled
    (its last segment rolled back). ``settle_transfers`` sends the identical request only
    ``IN_FLIGHT_GIVEN_UP_NS`` later, or at once after an upgrade (no message of the old code is
    in flight after it): the ledger answers ``Duplicate``, the claim is recorded once, and the
    spare reserve may go."""
    world = funded
    dist = relay_owned(world, _team(world))
    world.ic.set_time(world.start + VESTING)
    world.as_(dist, CAROL).claim().unwrap()
    bob = world.balance(BOB, world.token)
    with world.ic.faults.trap(canister=dist, method="claim"):
        rejected(lambda: world.as_(dist, BOB).claim())
    assert world.ic.state_of(dist).sending == 1
    assert world.balance(BOB, world.token) == bob + 100 * E8S
    waiting = Err(InvalidRequest(("a transfer is on its way: ask again later",)))
    assert world.relayed_call(dist, "withdraw_spare_reserve") == waiting
    assert world.as_(dist, MALLORY).settle_transfers() == 1  # not due yet
    snapshot = world.ic.snapshot()
    world.ic.advance_time(nanos=IN_FLIGHT_GIVEN_UP_NS)
    assert world.as_(dist, MALLORY).settle_transfers() == 0
    assert world.relayed_call(dist, "withdraw_spare_reserve").is_ok
    world.ic.restore(snapshot)
    factory = world.system.distribution_factory.id
    world.ic.upgrade_canister(dist, Distribution, caller=factory)
    assert world.ic.state_of(dist).sending == 0
    assert world.as_(dist, MALLORY).settle_transfers() == 0
    assert world.relayed_call(dist, "withdraw_spare_reserve").is_ok
    (claim,) = world.as_(dist, BOB).get_claims(BOB).items
    assert claim.amount == 100 * E8S
    assert world.balance(BOB, world.token) == bob + 100 * E8S
    assert world.balance(dist, world.token) == 0


def test_b11_nothing_is_paid_out_of_a_funding_still_at_the_ledger(created: World) -> None:
    """A distribution whose start has passed, holding a direct deposit: while ``activate()``
    asks the balance the owner calls ``fund()`` (too little approved), and while that pull is
    at the ledger the owner claims. The claim is refused (nothing is funded yet), the funding
    fails and changes nothing, and ``activate`` sets the reserve from the real balance."""
    world = created
    relay, backend = world.relay.id, world.system.backend.id
    world.system.faucet(relay, 10 * E8S)
    approve = ApproveArgs(spender=Account(backend), amount=10 * E8S)
    world.relayed_call(world.icp, "icrc2_approve", approve).unwrap()
    team = Category("relay", 200 * E8S, Fixed(((relay, 100 * E8S), (BOB, 100 * E8S))),
                    Linear(VESTING))  # fmt: skip
    config = world.config("Late funded", team, token=world.token.id)
    dist = world.relayed_call(backend, "deploy_distribution", config).unwrap().canister_id
    required = 200 * E8S + 4 * 2 * FEE
    world.token.as_caller(ALICE).icrc1_transfer(
        TransferArgs(to=Account(relay), amount=E8S)
    ).unwrap()
    approve = ApproveArgs(spender=Account(dist), amount=E8S)
    world.relayed_call(world.token.id, "icrc2_approve", approve).unwrap()
    world.token.as_caller(ALICE).icrc1_transfer(
        TransferArgs(to=Account(dist), amount=required)
    ).unwrap()
    world.ic.set_time(world.start + HALFWAY)
    REENTRY.update(relay=relay, after_balance=[(dist, "fund", ())],
                   during_pull=[(dist, "claim", ())], answers=[])  # fmt: skip
    assert world.as_(dist, ALICE).activate() == Ok(Phase.ACTIVE)
    claimed, funding = REENTRY["answers"]
    assert isinstance(claimed, Err) and isinstance(claimed.error, WrongPhase)
    assert isinstance(funding, Err) and isinstance(funding.error, TransferFailed)
    assert world.ic.state_of(dist).reserve == required - 200 * E8S
    world.ic.set_time(world.start + VESTING)
    for claim in (world.relayed_call(dist, "claim"), world.as_(dist, BOB).claim()):
        assert (claim.unwrap().amount, claim.unwrap().fee_from_reserve) == (100 * E8S, True)
    assert world.balance(dist, world.token) == world.ic.state_of(dist).reserve


def test_b11_a_penalty_too_small_to_burn_joins_the_fee_reserve(funded: World) -> None:
    """ICRC-1 ledgers refuse a burn below the fee: such a penalty does not wait for ever."""
    world = funded
    tiny = Category("tiny", 30_000, Fixed(((BOB, 30_000),)), Linear(VESTING))
    dist = relay_owned(world, tiny, penalty_bp=PENALTY_BP)
    world.ic.set_time(world.start + HALFWAY)
    reserve = world.ic.state_of(dist).reserve
    penalty = 15_000 * PENALTY_BP // 10_000
    assert penalty < FEE
    world.as_(dist, BOB).early_unlock().unwrap()
    state = world.ic.state_of(dist)
    assert (state.pending_penalty, state.reserve) == (0, reserve - FEE + penalty)
    assert world.as_(dist, MALLORY).send_penalties() == 0


def test_b11_a_penalty_the_ledger_has_not_taken_yet_is_not_refunded_to_the_owner(
    active: World,
) -> None:
    world = active
    burn = world.ic.faults.reject(canister=world.icp, method="icrc1_transfer", times=2, after=1)
    assert world.as_(world.vest, BOB).early_unlock().unwrap().amount == 150 * E8S
    assert burn.fired == 2
    assert world.ic.state_of(world.vest).pending_penalty == 50 * E8S
    held = world.balance(world.vest)
    back = world.as_(world.vest, ALICE).cancel().unwrap()
    owed = {CAROL: 50 * E8S, DAVE: 20 * E8S}
    assert back == held - 50 * E8S - sum(owed.values()) - len(owed) * FEE - FEE
    assert world.as_(world.vest, MALLORY).send_penalties() == 0
    for user, due in owed.items():
        before = world.balance(user)
        assert world.as_(world.vest, user).claim().unwrap().amount == due
        assert world.balance(user) == before + due


def test_b11_a_distribution_cancelled_before_it_was_funded_owes_no_one(created: World) -> None:
    world = created
    world.ic.set_time(world.start + HALFWAY)
    assert world.as_(world.vest, ALICE).cancel() == Ok(0)
    with world.unchanged():
        assert world.as_(world.vest, BOB).get_participant(BOB).claimable == 0
        assert world.as_(world.vest, BOB).claim() == Err(NothingToClaim(0))
        assert world.as_(world.vest, ALICE).get_stats().funded is False


# -- B11: registration -----------------------------------------------------------------------------


def test_b11_an_open_airdrop_takes_no_more_recipients_than_it_has_room_for(funded: World) -> None:
    world = funded
    for user in (BOB, CAROL, DAVE):
        assert world.as_(world.airdrop, user).register() == Ok(10 * E8S)
    with world.unchanged():
        for result in (
            world.as_(world.airdrop, ERIN).register(),
            world.relayed_call(world.airdrop, "register"),
            world.as_(world.airdrop, BOB).register(),
        ):
            assert isinstance(result, Err) and isinstance(result.error, NotEligible)
    state = world.ic.state_of(world.airdrop)
    assert (state.registered[0], state.counts[0], len(state.participants)) == (30 * E8S, 3, 3)
    world.ic.set_time(world.start)
    for user in (BOB, CAROL, DAVE):
        before = world.balance(user)
        assert world.as_(world.airdrop, user).claim().unwrap().amount == 10 * E8S
        assert world.balance(user) == before + 10 * E8S
    assert world.balance(world.airdrop) == world.ic.state_of(world.airdrop).reserve == 90_000


def test_b11_a_full_open_airdrop_says_it_is_full(funded: World) -> None:
    world = funded
    for user in (BOB, CAROL, DAVE):
        world.as_(world.airdrop, user).register().unwrap()
    with world.unchanged():
        assert world.as_(world.airdrop, ERIN).register() == Err(NotEligible("the airdrop is full"))


def test_b11_registration_closes_with_a_cancellation(funded: World) -> None:
    world = funded
    world.as_(world.airdrop, ALICE).cancel().unwrap()
    with world.unchanged():
        assert world.as_(world.airdrop, ERIN).register() == Err(
            WrongPhase(Phase.CANCELLED, "not cancelled")
        )


def test_b11_registration_closes_with_its_window(funded: World) -> None:
    world = funded
    world.ic.set_time(world.start)
    with world.unchanged():
        assert world.as_(world.vest, DAVE).register(1) == Err(
            NotEligible("registration is not open")
        )
        assert world.as_(world.airdrop, ERIN).register() == Err(
            NotEligible("registration is not open")
        )


def test_b11_a_removed_recipient_is_gone(funded: World) -> None:
    world = funded
    assert world.as_(world.vest, ALICE).remove_recipient(CAROL) == Ok(None)
    state = world.ic.state_of(world.vest)
    assert CAROL not in state.participants
    assert (state.registered[0], state.counts[0]) == (200 * E8S, 1)
    assert world.vest not in world.indexed_roles(CAROL)
    world.ic.set_time(world.start + HALFWAY)
    with world.unchanged():
        assert world.as_(world.vest, CAROL).claim() == Err(NotRecipient(CAROL))
        assert world.as_(world.vest, CAROL).early_unlock() == Err(NotRecipient(CAROL))
        assert world.as_(world.vest, ALICE).get_participant(CAROL) is None
        assert world.as_(world.vest, ALICE).remove_recipient(CAROL) == Err(
            WrongPhase(Phase.ACTIVE, "Created or Funded")
        )
    assert world.as_(world.vest, ALICE).get_stats().participants == 1


def test_b11_removing_someone_who_is_not_a_recipient_changes_nothing(funded: World) -> None:
    world = funded
    with world.unchanged():
        assert world.as_(world.vest, ALICE).remove_recipient(MALLORY) == Err(NotRecipient(MALLORY))


def test_b11_a_blacklisted_user_is_removed_and_cannot_register(funded: World) -> None:
    world = funded
    assert world.as_(world.vest, ALICE).blacklist(DAVE) == Ok(None)
    assert world.as_(world.airdrop, ALICE).blacklist(ERIN) == Ok(None)
    with world.unchanged():
        assert world.as_(world.vest, DAVE).register(1) == Err(NotEligible("not on the whitelist"))
        assert world.as_(world.airdrop, ERIN).register() == Err(
            NotEligible(f"{ERIN} is blacklisted")
        )


@pytest.mark.parametrize(
    ("caller", "owner"),
    [(MALLORY, BOB), (CAROL, BOB), (DAVE, ERIN)],
    ids=["a stranger with bob's proof", "carol with bob's proof", "dave with erin's proof"],
)
def test_b11_a_merkle_proof_for_another_principal_is_refused(
    funded: World, caller: Principal, owner: Principal
) -> None:
    world = funded
    index, amount = next(
        (i, amount) for i, (user, amount) in enumerate(world.merkle_list()) if user == owner
    )
    with world.unchanged():
        assert world.as_(world.merkle, caller).register(0, amount, world.tree.proof(index)) == (
            Err(NotEligible("the proof does not match the root"))
        )


def test_b11_a_merkle_proof_proves_one_amount_once_for_at_most_max_recipients(
    funded: World,
) -> None:
    world = funded
    listed = world.merkle_list()
    bob = world.as_(world.merkle, BOB)
    with world.unchanged():
        assert bob.register(0, 7 * E8S, world.tree.proof(0)) == Err(
            NotEligible("the proof does not match the root")
        )
        assert bob.register(0, 5 * E8S, ()) == Err(NotEligible("the proof does not match the root"))
    for index, (user, amount) in enumerate(listed[:3]):
        assert world.as_(world.merkle, user).register(0, amount, world.tree.proof(index)) == Ok(
            amount
        )
    with world.unchanged():
        result = bob.register(0, 5 * E8S, world.tree.proof(0))
        assert isinstance(result, Err) and isinstance(result.error, NotEligible)
        assert world.as_(world.merkle, ERIN).register(0, E8S, world.tree.proof(3)) == Err(
            NotEligible("the airdrop is full")
        )


def test_b11_the_holdings_gate_asks_the_ledger(funded: World) -> None:
    world = funded
    gated = world.gated
    with world.unchanged():
        assert world.as_(gated, DAVE).register() == Err(
            NotEligible(f"holds 99 of {world.gate.id}, needs 100")
        )
        assert world.as_(gated, MALLORY).register() == Err(
            NotEligible(f"holds 0 of {world.gate.id}, needs 100")
        )
    assert world.as_(gated, ERIN).register() == Ok(E8S)
    world.gate.as_caller(GATE_MINTER).icrc1_transfer(TransferArgs(to=Account(DAVE), amount=1))
    assert world.as_(gated, DAVE).register() == Ok(E8S)


def test_b11_the_holdings_gate_refuses_when_the_ledger_does_not_answer(funded: World) -> None:
    world = funded
    with world.unchanged():
        world.ic.faults.reject(canister=world.gate.id, method="icrc1_balance_of", times=1)
        result = world.as_(world.gated, ERIN).register()
    assert isinstance(result, Err) and isinstance(result.error, NotEligible)
    assert "did not answer" in result.error.reason


# -- B12: index drift ------------------------------------------------------------------------------

def _frank_takes_daves_place(world: World) -> object:
    """The owner blacklists dave before he registers, freeing his whitelist place, and gives
    it to frank (the category's 60 ICP nobody was promised, and dave's 40)."""
    world.as_(world.vest, ALICE).blacklist(DAVE).unwrap()
    return world.as_(world.vest, ALICE).add_recipient(FRANK, 1, 100 * E8S)


CHANGES: dict[str, tuple[str, Principal, Callable[[World], object]]] = {
    "owner adds frank": ("notify_participant_added", FRANK, _frank_takes_daves_place),
    "dave registers on the whitelist": (
        "notify_participant_added", DAVE, lambda w: w.as_(w.vest, DAVE).register(1),
    ),
    "erin registers in the open airdrop": (
        "notify_participant_added", ERIN, lambda w: w.as_(w.airdrop, ERIN).register(),
    ),
    "bob proves his Merkle leaf": (
        "notify_participant_added", BOB,
        lambda w: w.as_(w.merkle, BOB).register(0, 5 * E8S, w.tree.proof(0)),
    ),
    "owner removes carol": (
        "notify_participant_removed", CAROL,
        lambda w: w.as_(w.vest, ALICE).remove_recipient(CAROL),
    ),
    "owner blacklists bob": (
        "notify_participant_removed", BOB, lambda w: w.as_(w.private, ALICE).blacklist(BOB),
    ),
}  # fmt: skip


def test_b12_fixed_recipients_are_indexed_at_deployment(created: World) -> None:
    created.assert_index_exact()
    assert created.indexed_roles(BOB) == {
        created.vest: {RECIPIENT},
        created.private: {RECIPIENT},
        created.relayed: {RECIPIENT},
    }


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_b12_every_recipient_change_reaches_the_factorys_index(
    funded: World, change: tuple[str, Principal, Callable[[World], object]]
) -> None:
    world = funded
    _, user, act = change
    before = world.indexed_roles(user)
    assert isinstance(act(world), Ok)
    world.assert_index_exact()
    assert world.indexed_roles(user) != before


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_b12_a_change_the_factory_refuses_at_first_is_indexed_after_the_retry(
    funded: World, change: tuple[str, Principal, Callable[[World], object]]
) -> None:
    world = funded
    method, user, act = change
    before = world.indexed_roles(user)
    rule = world.ic.faults.reject(canister=world.factory.id, method=method, times=1)
    assert isinstance(act(world), Ok)
    assert rule.fired == 1
    assert world.indexed_roles(user) == before
    pending = [world.as_(d, ALICE).get_contract_meta().pending_notifications
               for d in world.distributions]  # fmt: skip
    assert sum(pending) == 1
    world.ic.advance_time(seconds=61)
    assert all(
        world.as_(d, ALICE).get_contract_meta().pending_notifications == 0
        for d in world.distributions
    )
    world.assert_index_exact()


def test_b12_anyone_may_hurry_a_resend_but_it_carries_only_the_contracts_truth(
    funded: World,
) -> None:
    world = funded
    with world.ic.faults.reject(canister=world.factory.id, times=None):
        world.as_(world.vest, ALICE).remove_recipient(CAROL).unwrap()
        world.as_(world.vest, ALICE).add_recipient(FRANK, 0, 100 * E8S).unwrap()
    assert world.as_(world.vest, MALLORY).sync_roles() == 0
    world.assert_index_exact()
    with world.unchanged():
        assert world.as_(world.vest, MALLORY).sync_roles() == 0


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("notify_participant_added", (MALLORY, RECIPIENT)),
        ("notify_participant_removed", (BOB, RECIPIENT)),
        ("notify_visibility_changed", (True,)),
        ("notify_deployment_complete", ()),
    ],
)
def test_b12_no_one_but_a_distribution_may_write_the_factorys_index(
    active: World, method: str, args: tuple[Any, ...]
) -> None:
    world = active
    for call in (
        lambda: getattr(world.factory.as_caller(MALLORY), method)(*args),
        lambda: world.relayed_call(world.factory.id, method, *args),
    ):
        with world.unchanged():
            assert "only a contract of this factory" in rejected(call).message
    world.assert_index_exact()


def test_b12_the_creator_is_the_paying_user_not_the_backend(active: World) -> None:
    world = active
    backend = world.system.backend.id
    for dist in world.distributions:
        assert world.factory.as_caller(ALICE).get_contract_info(dist).owner == ALICE
        assert world.ic.state_of(dist).meta.owner == ALICE
    created = world.factory.as_caller(ALICE).get_created_contracts(ALICE, 0, 100)
    assert {info.id for info in created.items} == set(world.distributions)
    assert world.factory.as_caller(backend).get_my_contracts(backend).total == 0


# -- B14: privacy ----------------------------------------------------------------------------------

NOTHING: Page[Any] = Page((), None, None)


@pytest.mark.parametrize("reader", [MALLORY, DAVE], ids=["stranger", "another dist's recipient"])
def test_b14_a_private_distribution_shows_outsiders_nothing(
    active: World, reader: Principal
) -> None:
    world = active
    dist = world.as_(world.private, reader)
    with world.unchanged():
        for user in (BOB, CAROL, ALICE):
            assert dist.get_participant(user) is None
            assert dist.get_schedule(user) == ()
            assert dist.get_claims(user) == NOTHING
        assert dist.get_stats() is None
        assert dist.get_claims() == NOTHING
        assert world.relayed_call(world.private, "get_stats") is None
        assert world.factory.as_caller(reader).get_contract_info(world.private) is None


def test_b14_recipients_see_their_own_part_and_the_owner_everything(active: World) -> None:
    world = active
    bob = world.as_(world.private, BOB)
    mine = bob.get_participant(BOB)
    assert (mine.allocation, mine.claimed, mine.claimable) == (50 * E8S, 10 * E8S, 15 * E8S)
    schedule = bob.get_schedule(BOB)
    assert schedule[0] == (world.start, 0) and schedule[-1] == (world.start + VESTING, 50 * E8S)
    (claim,) = bob.get_claims(BOB).items
    assert (claim.user, claim.amount) == (BOB, 10 * E8S)
    owner = world.as_(world.private, ALICE)
    assert owner.get_participant(BOB) == mine
    assert owner.get_participant(CAROL).claimable == 25 * E8S
    assert owner.get_schedule(CAROL) != ()
    assert owner.get_claims().items == (claim,)
    stats = owner.get_stats()
    assert (stats.total, stats.claimed, stats.participants) == (100 * E8S, 10 * E8S, 2)


def test_b14_the_token_listing_hides_a_private_distribution_from_outsiders(
    active: World,
) -> None:
    world = active
    public = {world.vest, world.airdrop, world.gated, world.merkle}

    def listed(reader: Principal) -> set[Principal]:
        page = world.factory.as_caller(reader).get_distributions_by_token(world.icp, 0, 100)
        return {info.id for info in page.items}

    assert listed(MALLORY) == listed(DAVE) == public
    assert listed(ALICE) == listed(BOB) == listed(CAROL) == public | {world.private}
    tokens = world.factory.as_caller(MALLORY).get_distributions_by_token(world.token.id)
    assert [info.id for info in tokens.items] == [world.relayed]
    everyone = world.factory.as_caller(MALLORY).get_public_contracts(0, 100)
    assert world.private not in {info.id for info in everyone.items}
