"""Attacks on the Launchpad Factory and its sales: the real system's bugs B2, B9, B12 and B14,
each tried by strangers, contributors, the creator and a stranger canister relaying calls.

Every refused attack is a typed error (``Err(WrongState)``, ``Err(AboveMaximum)``,
``Err(BelowMinimum)``, ``Err(BuysNothing)``, ``Err(NotWhitelisted)``, ``Err(NotCreator)``,
``Err(InvalidRequest)``, ``Err(NotIdentified)``), ``InvalidArguments`` for a mistyped argument,
or a ``CallRejected`` for what only the factory (or one of its sales) may call, and leaves every
sale's state, the factory's indexes and every balance on the ICP ledger and the sale-token
ledger exactly as they were. The rules those bugs broke hold: no one takes a contribution back
during the sale; caps, the minimum and the whitelist are checked before anything moves and only
what fits under the hard cap is pulled, never an amount that would leave its contributor without
a sale token; the sale closes at its hard cap and cannot be cancelled once it ends; a refund is
paid once; only the factory plays the factory; the registry follows every sale's state, even
when the factory is down at first; a private sale shows outsiders nothing; a sale of an existing
token whose tokens never came fails at its opening and gives a deposit back; only a
sale deploys its pipeline fee-exempt.

Messages interleaved while a contribution's ``icrc2_transfer_from`` is in flight (as the IC
allows at every await; a ledger that calls a relay canister stands for it) change nothing of
that: two first contributions in flight at once make one contributor, refunded once, and a
refund never pays an amount still in flight (both were bugs of the sale at commit defb783).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import pytest

from icto import E8S, IC, Account, CallRejected, Err, InvalidArguments, Ok, Principal
from icto.backend import DEFAULT_FEES, LAUNCHPAD_FACTORY, Unauthorized
from icto.dao import DAOConfig
from icto.distribution import Category, DistributionConfig, Fixed
from icto.factory import CREATOR
from icto.ic.canister import Canister, update
from icto.ic.proxy import CanisterProxy
from icto.ic.world import AWAIT_GIVEN_UP_NS, MAX_TIME
from icto.launchpad import (
    PARTICIPANT,
    AboveMaximum,
    BelowMinimum,
    BuysNothing,
    ExistingToken,
    FairLaunch,
    FixedPrice,
    InvalidRequest,
    LaunchpadConfig,
    LaunchpadSale,
    NotCreator,
    NotWhitelisted,
    ProjectInfo,
    RefundStatus,
    SaleState,
    TransferFailed,
    Whitelist,
    WrongState,
)
from icto.ledger.ledger import Ledger
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import ApproveArgs, TransferArgs, TransferFromArgs
from icto.multisig import MultisigConfig, Role
from icto.system import System, deploy_system
from icto.token import TokenConfig
from icto.validation import NotIdentified
from tests.helpers import Relay, live_canisters, rejected

ALICE, BOB, CAROL, DAVE, ERIN, FRANK, MALLORY = (
    Principal.from_name(name)
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "mallory")
)
USERS: Final = (ALICE, BOB, CAROL, DAVE, ERIN, FRANK, MALLORY)
TOKEN_MINTER = Principal.from_name("sale-token-minter")
PAY_MINTER = Principal.from_name("pay-minter")
FEE: Final = 10_000
"""The ledger fee of both ledgers here (the ICP preset's)."""
HOUR: Final = 3_600 * 10**9
SERVICE_FEE: Final = DEFAULT_FEES[LAUNCHPAD_FACTORY]
TOKENS: Final = 1_000 * E8S
"""Sale tokens for sale in every sale (1 ICP buys 1 whole token)."""
SOFT_CAP, HARD_CAP = 50 * E8S, 100 * E8S
MIN, MAX = 2 * E8S, 60 * E8S
AFFILIATE_BP: Final = 500
UPDATES: Final = frozenset({
    "on_deployed", "on_upgraded", "on_visibility_changed", "request_upgrade", "sync_roles",
    "check_status", "deposit_sale_tokens", "get_deposit_needed", "cancel", "contribute",
    "retry_refunds", "finalize", "retry_pipeline", "settle_pulls",
})  # fmt: skip
"""The documented update methods of a sale: none pays a contributor during the sale."""
OPEN_NEEDS: Final = "WhitelistOpen or SaleActive"
CANCEL_NEEDS: Final = "Upcoming, WhitelistOpen or SaleActive"
HOOK: dict[str, Any] = {}
"""What the interleaving ledger does while its next ``icrc2_transfer_from`` is in flight."""


class InterleavingLedger(Ledger):
    """A ledger during whose ``icrc2_transfer_from`` (``during_pull``) or ``icrc1_transfer``
    (``during_payout``) the relay canister sends other messages, as any message may run on the
    IC while a sale awaits its pull or its payout."""

    VERSION = "1.0.1"

    def _interleave(self, moment: str) -> None:
        for target, method, call_args in HOOK.pop(moment, ()):
            HOOK["answers"].append(self.call(HOOK["relay"], "relay", target, method, call_args))

    def icrc2_transfer_from(self, args: TransferFromArgs) -> Any:
        self._interleave("during_pull")
        return super().icrc2_transfer_from(args)

    def icrc1_transfer(self, args: TransferArgs) -> Any:
        self._interleave("during_payout")
        return super().icrc1_transfer(args)

    icrc1_transfer.__icto_kind__ = Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]

    icrc2_transfer_from.__icto_kind__ = (  # type: ignore[attr-defined]
        Ledger.icrc2_transfer_from.__icto_kind__  # type: ignore[attr-defined]
    )


class World:
    """The platform, a sale token (an ICP-like ledger) and four sales by alice, 1 ICP a whole
    token, soft cap 50, hard cap 100, contributions 2 to 60, an affiliate commission of 5 %:

    - ``sale``: a new token, dave whitelisted from ``wl_opens``, public from ``start``;
    - ``private``: a new token, not public, no whitelist;
    - ``existing``: an existing token, whose 1,000 tokens alice deposited;
    - ``undeposited``: an existing token never deposited.

    Every user and the relay hold 1,000 ICP and approved every sale for 500. Snapshots:
    ``created`` (all Upcoming), ``whitelist`` (at ``wl_opens``: dave contributed 10 to
    ``sale``) and ``active`` (at ``start``: bob contributed 20 to ``sale`` naming carol as his
    affiliate; ``undeposited`` has failed and refunded no one).
    """

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.factory = self.system.launchpad_factory
        self.icp = self.system.icp_ledger
        self.token = deploy_ledger(self.ic, ICP.init(Account(TOKEN_MINTER)))
        self.relay = self.ic.deploy(Relay, None, caller=MALLORY)
        self.t0 = self.ic.time
        self.wl_opens, self.start, self.end = self.t0 + HOUR, self.t0 + 2 * HOUR, self.t0 + 3 * HOUR
        for holder in (*USERS, self.relay.id):
            self.system.faucet(holder, 1_000 * E8S)
        self.system.approve_backend(ALICE, 4 * (SERVICE_FEE + FEE))
        self.sale = self.deploy(self.config())
        self.private = self.deploy(self.config("Quiet", whitelist=None, is_public=False))
        existing = ExistingToken(self.token.id, 8)
        self.existing = self.deploy(self.config("Existing", whitelist=None, sale_token=existing))
        self.undeposited = self.deploy(
            self.config("Undeposited", whitelist=None, sale_token=existing)
        )
        self.deposit: int = self.as_(self.existing, ALICE).get_deposit_needed().unwrap()
        assert self.deposit > TOKENS
        self.token.as_caller(TOKEN_MINTER).icrc1_transfer(
            TransferArgs(to=Account(ALICE), amount=2 * self.deposit)
        ).unwrap()
        approval = ApproveArgs(spender=Account(self.existing), amount=self.deposit + FEE)
        self.token.as_caller(ALICE).icrc2_approve(approval).unwrap()
        assert self.as_(self.existing, ALICE).deposit_sale_tokens() == Ok(self.deposit)
        for sale in self.sales:
            approval = ApproveArgs(spender=Account(sale), amount=500 * E8S)
            for user in USERS:
                self.icp.as_caller(user).icrc2_approve(approval).unwrap()
            self.relay.as_caller(MALLORY).relay(self.icp.id, "icrc2_approve", (approval,))
        self.created = self.ic.snapshot()
        self.ic.set_time(self.wl_opens)
        assert self.as_(self.sale, DAVE).contribute(10 * E8S) == Ok(10 * E8S)
        self.whitelist = self.ic.snapshot()
        self.ic.set_time(self.start)
        assert self.as_(self.sale, BOB).contribute(20 * E8S, CAROL) == Ok(20 * E8S)
        self.active = self.ic.snapshot()

    # -- building -------------------------------------------------------------------------------

    def config(self, name: str = "Sale", **changes: Any) -> LaunchpadConfig:
        fields: dict[str, Any] = {
            "project": ProjectInfo(name),
            "sale_token": TokenConfig(name="Sale Token", symbol="SALE"),
            "purchase_token": self.icp.id, "sale_type": FixedPrice(E8S), "tokens_for_sale": TOKENS,
            "soft_cap": SOFT_CAP, "hard_cap": HARD_CAP, "min_contribution": MIN,
            "max_contribution": MAX, "sale_start": self.start, "sale_end": self.end,
            "whitelist": Whitelist((DAVE,), self.wl_opens), "affiliate_bp": AFFILIATE_BP,
            "raised_allocation": ((Account(ALICE), 10_000),),
        }  # fmt: skip
        return LaunchpadConfig(**(fields | changes))

    def deploy(self, config: LaunchpadConfig) -> Principal:
        deployed = self.system.backend.as_caller(ALICE).deploy_launchpad(config).unwrap()
        canister: Principal = deployed.canister_id
        return canister

    @property
    def sales(self) -> tuple[Principal, ...]:
        return (self.sale, self.private, self.existing, self.undeposited)

    # -- acting and reading ---------------------------------------------------------------------

    def as_(self, sale: Principal, user: Principal) -> CanisterProxy:
        return self.ic.actor(sale, user)

    def relayed_call(self, target: Principal, method: str, *args: Any) -> Any:
        return self.relay.as_caller(MALLORY).relay(target, method, args)

    def icp_balance(self, holder: Principal) -> int:
        return int(self.icp.icrc1_balance_of(Account(holder)))

    def token_balance(self, holder: Principal) -> int:
        return int(self.token.icrc1_balance_of(Account(holder)))

    def give_alice_a_deposit_for(self, sale: Principal) -> None:
        """Alice gets one more deposit's worth of the sale token and approves ``sale`` for it
        (and the pull's fee)."""
        self.token.as_caller(TOKEN_MINTER).icrc1_transfer(
            TransferArgs(to=Account(ALICE), amount=self.deposit)
        ).unwrap()
        approval = ApproveArgs(spender=Account(sale), amount=self.deposit + FEE)
        self.token.as_caller(ALICE).icrc2_approve(approval).unwrap()

    def balances(self) -> dict[tuple[Principal, Principal], int]:
        holders = (*USERS, *self.sales, self.relay.id, self.system.backend.id)
        return {
            (ledger.id, holder): int(ledger.icrc1_balance_of(Account(holder)))
            for ledger in (self.icp, self.token)
            for holder in holders
        }

    def refund_the_others(self) -> None:
        """Alice cancels her other open sales and their refunds run, so that only ``sale`` still
        reads the ICP ledger when it ends."""
        for sale in (self.private, self.existing):
            assert self.as_(sale, ALICE).cancel() == Ok(SaleState.REFUNDING)
        self.ic.tick()
        assert all(self.status(sale) == "Refunded" for sale in self.sales if sale != self.sale)

    def factory_indexes(self) -> tuple[Any, ...]:
        state = self.ic.state_of(self.factory.id)
        return (state.index, state.by_state, state.active)

    def status(self, sale: Principal) -> str:
        status: str = self.factory.as_caller(ALICE).get_contract_info(sale).status
        return status

    def listed(self, method: str, *args: Any, reader: Principal = ALICE) -> list[Principal]:
        page = getattr(self.factory.as_caller(reader), method)(*args, 0, 100)
        return [info.id for info in page.items]

    def indexed_roles(self, user: Principal, sale: Principal) -> set[str]:
        page = self.factory.as_caller(user).get_my_contracts(user)
        return {role for entry in page.items if entry.info.id == sale for role in entry.roles}

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """Assert that the block leaves every sale, the factory's indexes and every balance on
        both ledgers as they were."""
        states = {sale: self.ic.state_of(sale) for sale in self.sales}
        indexes = self.factory_indexes()
        balances = self.balances()
        yield
        assert {sale: self.ic.state_of(sale) for sale in self.sales} == states
        assert self.factory_indexes() == indexes
        assert self.balances() == balances


@pytest.fixture(scope="module")
def built() -> World:
    return World()


def _reset(built: World, snapshot: Any) -> World:
    built.ic.restore(snapshot)
    built.ic.faults.clear()
    HOOK.clear()
    return built


@pytest.fixture
def created(built: World) -> World:
    return _reset(built, built.created)


@pytest.fixture
def whitelist(built: World) -> World:
    return _reset(built, built.whitelist)


@pytest.fixture
def active(built: World) -> World:
    return _reset(built, built.active)


def _err(result: object, kind: type) -> Any:
    assert isinstance(result, Err) and isinstance(result.error, kind), result
    return result.error


# -- B9: custody ----------------------------------------------------------------------------------


def test_b9_a_sale_has_no_withdraw_endpoint() -> None:
    methods = LaunchpadSale.__icto_methods__
    updates = {name for name, spec in methods.items() if spec.kind == "update"}
    assert updates == UPDATES
    assert not any("withdraw" in name or "claim" in name for name in methods)


def _every_update(world: World) -> dict[str, Callable[[CanisterProxy], object]]:
    """Each update method of a sale, called with plausible arguments."""
    return {
        "on_deployed": lambda s: s.on_deployed(),
        "on_upgraded": lambda s: s.on_upgraded("9.9.9", None),
        "on_visibility_changed": lambda s: s.on_visibility_changed(False),
        "request_upgrade": lambda s: s.request_upgrade(None),
        "sync_roles": lambda s: s.sync_roles(),
        "check_status": lambda s: s.check_status(),
        "deposit_sale_tokens": lambda s: s.deposit_sale_tokens(),
        "cancel": lambda s: s.cancel(),
        "contribute": lambda s: s.contribute(0),
        "retry_refunds": lambda s: s.retry_refunds(),
        "finalize": lambda s: s.finalize(),
        "retry_pipeline": lambda s: s.retry_pipeline(),
        "get_deposit_needed": lambda s: s.get_deposit_needed(),
        "settle_pulls": lambda s: s.settle_pulls(),
    }


@pytest.mark.parametrize("user", [BOB, DAVE], ids=["bob", "dave (whitelisted)"])
def test_b9_a_contributor_cannot_get_money_out_during_the_sale(
    active: World, user: Principal
) -> None:
    world = active
    sale = world.as_(world.sale, user)
    calls = _every_update(world)
    assert set(calls) == UPDATES
    for name, call in calls.items():
        with world.unchanged():
            try:
                answer = call(sale)
            except CallRejected as error:
                answer = error
        assert not isinstance(answer, Ok), (name, answer)
    assert sale.get_state() is SaleState.SALE_ACTIVE
    assert world.icp_balance(world.sale) == 30 * E8S


def test_b9_the_creator_cannot_cancel_a_successful_sale(active: World) -> None:
    world = active
    assert world.as_(world.sale, CAROL).contribute(40 * E8S) == Ok(40 * E8S)
    world.ic.set_time(world.end)
    assert world.as_(world.sale, MALLORY).get_state() is SaleState.SUCCESSFUL
    assert world.status(world.sale) == "Successful"
    with world.unchanged():
        for caller in (ALICE, MALLORY):
            result = world.as_(world.sale, caller).cancel()
            expected = WrongState(SaleState.SUCCESSFUL, CANCEL_NEEDS) if caller == ALICE else (
                NotCreator(caller)
            )  # fmt: skip
            assert result == Err(expected)
        assert world.as_(world.sale, BOB).retry_refunds() == Err(
            WrongState(SaleState.SUCCESSFUL, "Refunding")
        )
    assert world.icp_balance(world.sale) == 70 * E8S
    assert world.as_(world.sale, MALLORY).finalize() == Ok(SaleState.FINALIZED)
    with world.unchanged():
        assert world.as_(world.sale, ALICE).cancel() == Err(
            WrongState(SaleState.FINALIZED, CANCEL_NEEDS)
        )
        assert world.as_(world.sale, BOB).retry_refunds() == Err(
            WrongState(SaleState.FINALIZED, "Refunding")
        )


def test_b9_the_sale_closes_at_its_hard_cap_and_takes_nothing_more(active: World) -> None:
    world = active
    assert world.as_(world.sale, BOB).contribute(40 * E8S) == Ok(40 * E8S)
    assert world.as_(world.sale, CAROL).contribute(30 * E8S) == Ok(30 * E8S)
    assert world.ic.time < world.end
    assert world.ic.state_of(world.sale).status is SaleState.SUCCESSFUL
    assert world.status(world.sale) == "Successful"
    history = [state for state, _ in world.as_(world.sale, ALICE).get_sale().history]
    assert history[-2:] == [SaleState.SALE_ENDED, SaleState.SUCCESSFUL]
    with world.unchanged():
        for user in (ERIN, CAROL, DAVE):
            assert world.as_(world.sale, user).contribute(5 * E8S) == Err(
                WrongState(SaleState.SUCCESSFUL, OPEN_NEEDS)
            )
        assert world.relayed_call(world.sale, "contribute", 5 * E8S) == Err(
            WrongState(SaleState.SUCCESSFUL, OPEN_NEEDS)
        )
    assert world.icp_balance(world.sale) == HARD_CAP


def test_b9_a_sale_filled_during_its_whitelist_phase_closes_at_once(created: World) -> None:
    world = created
    world.system.approve_backend(ALICE, SERVICE_FEE + FEE)
    sale = world.deploy(world.config("Full", whitelist=Whitelist((DAVE, BOB), world.wl_opens)))
    for user in (DAVE, BOB):
        world.icp.as_caller(user).icrc2_approve(
            ApproveArgs(spender=Account(sale), amount=500 * E8S)
        ).unwrap()
    world.ic.set_time(world.wl_opens)
    assert world.as_(sale, DAVE).contribute(MAX) == Ok(MAX)
    assert world.as_(sale, BOB).contribute(MAX) == Ok(HARD_CAP - MAX)
    assert world.as_(sale, ALICE).get_state() is SaleState.SUCCESSFUL
    assert world.status(sale) == "Successful"
    assert sale not in world.listed("get_active_sales")


@pytest.mark.parametrize(
    ("user", "amount", "would_be"),
    [(BOB, 41 * E8S, 61 * E8S), (ERIN, MAX + 1, MAX + 1), (ERIN, 2**128, 2**128)],
    ids=["bob past the max", "erin's first past the max", "huge"],
)
def test_b9_a_contribution_above_the_personal_max_is_refused_and_pulls_nothing(
    active: World, user: Principal, amount: int, would_be: int
) -> None:
    world = active
    with world.unchanged():
        assert world.as_(world.sale, user).contribute(amount) == Err(AboveMaximum(MAX, would_be))


def test_b9_a_contribution_beyond_the_hard_cap_is_trimmed_to_the_room(active: World) -> None:
    world = active
    world.as_(world.sale, BOB).contribute(40 * E8S).unwrap()
    world.as_(world.sale, CAROL).contribute(20 * E8S).unwrap()
    erin, escrow = world.icp_balance(ERIN), world.icp_balance(world.sale)
    assert world.as_(world.sale, ERIN).contribute(20 * E8S) == Ok(10 * E8S)
    assert world.icp_balance(ERIN) == erin - 10 * E8S - FEE
    assert world.icp_balance(world.sale) == escrow + 10 * E8S == HARD_CAP
    mine = world.as_(world.sale, ERIN).get_participant(ERIN)
    assert (mine.contribution, mine.allocation) == (10 * E8S, 10 * E8S)
    stats = world.as_(world.sale, ALICE).get_stats()
    assert (stats.raised, stats.in_flight, stats.state) == (HARD_CAP, 0, SaleState.SUCCESSFUL)


def test_b9_the_minimum_applies_to_a_first_contribution_but_not_a_final_trimmed_one(
    active: World,
) -> None:
    world = active
    with world.unchanged():
        assert world.as_(world.sale, FRANK).contribute(MIN - 1) == Err(BelowMinimum(MIN, MIN - 1))
    assert world.as_(world.sale, BOB).contribute(E8S) == Ok(E8S)
    world.as_(world.sale, BOB).contribute(39 * E8S).unwrap()
    world.as_(world.sale, CAROL).contribute(29 * E8S).unwrap()
    room = HARD_CAP - world.as_(world.sale, ALICE).get_sale().raised
    assert room == E8S < MIN
    with world.unchanged():
        assert world.as_(world.sale, FRANK).contribute(room) == Err(BelowMinimum(MIN, room))
    frank = world.icp_balance(FRANK)
    assert world.as_(world.sale, FRANK).contribute(5 * E8S) == Ok(room)
    assert world.icp_balance(FRANK) == frank - room - FEE
    assert world.ic.state_of(world.sale).status is SaleState.SUCCESSFUL


WHOLE_TOKEN_SALES: Final = {
    # 10 ICP a whole token: 5 ICP buy none
    "fixed price": {"sale_type": FixedPrice(10 * E8S), "hard_cap": 25 * E8S},
    # 10 tokens shared at the end: 5 ICP of a raise at the 100 ICP hard cap get none
    "fair launch": {"sale_type": FairLaunch(), "hard_cap": 100 * E8S},
}  # fmt: skip


@pytest.mark.parametrize("changes", WHOLE_TOKEN_SALES.values(), ids=WHOLE_TOKEN_SALES.keys())
def test_b9_a_contribution_that_would_buy_no_sale_token_is_refused_and_pulls_nothing(
    created: World, changes: dict[str, Any]
) -> None:
    """A sale of 10 tokens without decimals, 10 ICP at least: bob fills the hard cap but for
    5 ICP. Erin's first contribution, trimmed to those 5 ICP, would buy her no token (at a fair
    launch: not even of a raise at the hard cap, the least her share can be); it is refused
    before any money moves. Bob's 5 ICP land: his whole contribution buys tokens."""
    world = created
    world.system.approve_backend(ALICE, SERVICE_FEE + FEE)
    whole = TokenConfig(name="Whole Token", symbol="WHOLE", decimals=0)
    hard_cap = changes["hard_cap"]
    config = world.config(
        "Whole", whitelist=None, sale_token=whole, tokens_for_sale=10, soft_cap=10 * E8S,
        min_contribution=10 * E8S, max_contribution=hard_cap, **changes,
    )  # fmt: skip
    sale = world.deploy(config)
    approval = ApproveArgs(spender=Account(sale), amount=500 * E8S)
    for user in (BOB, ERIN):
        world.icp.as_caller(user).icrc2_approve(approval).unwrap()
    world.ic.set_time(world.start)
    assert world.as_(sale, BOB).contribute(hard_cap - 5 * E8S) == Ok(hard_cap - 5 * E8S)
    escrow, erin, state = world.icp_balance(sale), world.icp_balance(ERIN), world.ic.state_of(sale)
    assert world.as_(sale, ERIN).contribute(10 * E8S) == Err(BuysNothing(5 * E8S))
    assert world.ic.state_of(sale) == state
    assert (world.icp_balance(sale), world.icp_balance(ERIN)) == (escrow, erin)
    assert world.as_(sale, ERIN).get_participant(ERIN) is None
    assert world.as_(sale, BOB).contribute(5 * E8S) == Ok(5 * E8S)
    assert world.as_(sale, BOB).get_state() is SaleState.SUCCESSFUL
    assert world.as_(sale, BOB).get_participant(BOB).allocation > 0


def test_b9_only_the_whitelist_contributes_before_the_public_start(whitelist: World) -> None:
    world = whitelist
    assert world.as_(world.sale, MALLORY).get_state() is SaleState.WHITELIST_OPEN
    assert world.status(world.sale) == "WhitelistOpen"
    with world.unchanged():
        for user in (MALLORY, BOB, ALICE):
            assert world.as_(world.sale, user).contribute(5 * E8S) == Err(NotWhitelisted(user))
        assert world.relayed_call(world.sale, "contribute", 5 * E8S) == Err(
            NotWhitelisted(world.relay.id)
        )
    assert world.as_(world.sale, DAVE).contribute(5 * E8S) == Ok(5 * E8S)
    world.ic.set_time(world.start - 1)
    with world.unchanged():
        assert world.as_(world.sale, MALLORY).contribute(5 * E8S) == Err(NotWhitelisted(MALLORY))
    world.ic.set_time(world.start)
    mallory = world.icp_balance(MALLORY)
    assert world.as_(world.sale, MALLORY).contribute(5 * E8S) == Ok(5 * E8S)
    assert world.icp_balance(MALLORY) == mallory - 5 * E8S - FEE


def test_b9_nothing_is_taken_before_the_whitelist_opens(created: World) -> None:
    world = created
    with world.unchanged():
        for user in (DAVE, BOB):
            assert world.as_(world.sale, user).contribute(5 * E8S) == Err(
                WrongState(SaleState.UPCOMING, OPEN_NEEDS)
            )


def test_b9_a_participant_cannot_be_its_own_affiliate(active: World) -> None:
    world = active
    with world.unchanged():
        for user in (BOB, ERIN):
            assert world.as_(world.sale, user).contribute(5 * E8S, user) == Err(
                InvalidRequest(("a participant cannot be its own affiliate",))
            )
        relay = world.relay.id
        assert world.relayed_call(world.sale, "contribute", 5 * E8S, relay) == Err(
            InvalidRequest(("a participant cannot be its own affiliate",))
        )


def test_b9_the_sale_cannot_be_an_affiliate(active: World) -> None:
    """Its commission would be paid from the escrow to the escrow, and stay there."""
    world = active
    with world.unchanged():
        assert world.as_(world.sale, BOB).contribute(5 * E8S, world.sale) == Err(
            InvalidRequest(("the sale cannot be an affiliate: its commission would never leave "
                            "the escrow",))
        )  # fmt: skip


def test_b9_the_affiliate_is_recorded(active: World) -> None:
    world = active
    sale = world.as_(world.sale, MALLORY)
    assert sale.get_affiliates() == ((CAROL, 20 * E8S),)
    world.as_(world.sale, ERIN).contribute(5 * E8S, CAROL).unwrap()
    world.as_(world.sale, FRANK).contribute(3 * E8S, BOB).unwrap()
    world.as_(world.sale, FRANK).contribute(2 * E8S).unwrap()
    assert dict(sale.get_affiliates()) == {CAROL: 25 * E8S, BOB: 3 * E8S}
    assert sale.get_stats().affiliates == 2


# -- refunds are paid once ------------------------------------------------------------------------


def _refunded(world: World, owed: dict[Principal, int], before: dict[Principal, int]) -> None:
    for user, contribution in owed.items():
        assert world.icp_balance(user) == before[user] + contribution - FEE, user
        info = world.as_(world.sale, ALICE).get_participant(user)
        assert info.refund is RefundStatus.REFUNDED and info.refund_block is not None


OWED: Final = {DAVE: 10 * E8S, BOB: 20 * E8S}


def test_a_refunded_sale_pays_no_one_twice(active: World) -> None:
    world = active
    before = {user: world.icp_balance(user) for user in OWED}
    world.ic.set_time(world.end)
    assert world.as_(world.sale, MALLORY).get_state() is SaleState.REFUNDED
    assert world.status(world.sale) == "Refunded"
    _refunded(world, OWED, before)
    assert world.icp_balance(world.sale) == 0
    with world.unchanged():
        for caller in (MALLORY, BOB, ALICE):
            assert world.as_(world.sale, caller).retry_refunds() == Err(
                WrongState(SaleState.REFUNDED, "Refunding")
            )
            assert world.as_(world.sale, caller).check_status() is SaleState.REFUNDED
        assert world.relayed_call(world.sale, "retry_refunds") == Err(
            WrongState(SaleState.REFUNDED, "Refunding")
        )
        assert world.as_(world.sale, ALICE).cancel() == Err(
            WrongState(SaleState.REFUNDED, CANCEL_NEEDS)
        )
        assert world.as_(world.sale, BOB).contribute(5 * E8S) == Err(
            WrongState(SaleState.REFUNDED, OPEN_NEEDS)
        )
    progress = world.as_(world.sale, ALICE).get_refund_progress()
    assert (progress.refunded, progress.owed, progress.amount_refunded) == (2, 0, 30 * E8S)


@pytest.mark.parametrize("caller", [MALLORY, BOB, DAVE], ids=["stranger", "bob", "dave"])
def test_no_one_but_the_creator_cancels(active: World, caller: Principal) -> None:
    world = active
    with world.unchanged():
        assert world.as_(world.sale, caller).cancel() == Err(NotCreator(caller))
        assert world.relayed_call(world.sale, "cancel") == Err(NotCreator(world.relay.id))


@pytest.mark.parametrize("fault", ["the first fee read", "the first refund", "the second refund"])
def test_a_strangers_retry_during_refunding_only_helps(active: World, fault: str) -> None:
    world = active
    world.refund_the_others()
    icp = world.icp.id
    faults = world.ic.faults
    rule = {
        "the first fee read": lambda: faults.reject(canister=icp, method="icrc1_fee", times=None),
        "the first refund": lambda: faults.reject(
            canister=icp, method="icrc1_transfer", times=None
        ),
        "the second refund": lambda: faults.trap(
            canister=icp, method="icrc1_transfer", after=1, times=None
        ),
    }[fault]()
    before = {user: world.icp_balance(user) for user in OWED}
    with rule:
        world.ic.set_time(world.end)
    assert rule.fired >= 1
    progress = world.as_(world.sale, MALLORY).get_refund_progress()
    assert progress.state is SaleState.REFUNDING and progress.last_error is not None
    assert world.status(world.sale) == "Refunding"
    paid = progress.refunded
    assert paid == (1 if fault == "the second refund" else 0)
    world.ic.advance_time(hours=1)
    assert world.as_(world.sale, MALLORY).get_refund_progress() == progress
    result = world.as_(world.sale, MALLORY).retry_refunds().unwrap()
    assert (result.state, result.refunded, result.owed, result.last_error) == (
        SaleState.REFUNDED, 2, 0, None,
    )  # fmt: skip
    _refunded(world, OWED, before)
    assert world.status(world.sale) == "Refunded"
    with world.unchanged():
        assert world.relayed_call(world.sale, "retry_refunds") == Err(
            WrongState(SaleState.REFUNDED, "Refunding")
        )
        world.ic.advance_time(hours=1)


# -- B2: only the factory plays the factory -------------------------------------------------------

SALE_CALLBACKS: Final = {
    "on_upgraded": ("9.9.9", None),
    "on_deployed": (),
    "on_visibility_changed": (False,),
}


@pytest.mark.parametrize("method", SALE_CALLBACKS, ids=SALE_CALLBACKS.keys())
def test_b2_only_the_factory_may_call_a_sales_factory_callbacks(active: World, method: str) -> None:
    world = active
    args = SALE_CALLBACKS[method]
    for sale in (world.sale, world.private):
        for call in (
            *(lambda u=user, s=sale: getattr(world.as_(s, u), method)(*args) for user in USERS),
            lambda s=sale: world.relayed_call(s, method, *args),
            lambda s=sale: world.ic.update_call(s, method, *args, caller=world.existing),
        ):
            with world.unchanged():
                assert "only this contract's factory" in rejected(call).message
    meta = world.as_(world.sale, ALICE).get_contract_meta()
    assert (meta.version, meta.is_public, meta.last_upgrade) == ("1.0.0", True, None)


FACTORY_CALLBACKS: Final = {
    "notify_status_changed": ("Successful",),
    "notify_participant_added": (MALLORY, PARTICIPANT),
    "notify_participant_removed": (BOB, PARTICIPANT),
    "notify_visibility_changed": (False,),
    "notify_deployment_complete": (),
}


@pytest.mark.parametrize("method", FACTORY_CALLBACKS, ids=FACTORY_CALLBACKS.keys())
def test_b2_no_one_but_a_sale_may_write_the_factorys_index(active: World, method: str) -> None:
    world = active
    args = FACTORY_CALLBACKS[method]
    for call in (
        *(lambda u=user: getattr(world.factory.as_caller(u), method)(*args) for user in USERS),
        lambda: world.relayed_call(world.factory.id, method, *args),
        lambda: world.ic.update_call(world.factory.id, method, *args, caller=world.icp.id),
    ):
        with world.unchanged():
            assert "only a contract of this factory" in rejected(call).message
    assert world.status(world.sale) == "SaleActive"
    assert world.indexed_roles(MALLORY, world.sale) == set()


@pytest.mark.parametrize(
    "status",
    ["bogus", "Claiming", "Emergency", "active", "deploying", "", "Successful!", "x" * 65, 7, None],
)
def test_b2_a_sale_cannot_report_a_state_that_is_not_a_sale_state(
    active: World, status: object
) -> None:
    world = active
    with world.unchanged():
        error = rejected(
            lambda: world.ic.update_call(
                world.factory.id, "notify_status_changed", status, caller=world.sale
            )
        )
    assert error.message
    assert world.status(world.sale) == "SaleActive"
    assert world.sale in world.listed("get_active_sales", reader=MALLORY)


@pytest.mark.parametrize("role", [CREATOR, "admin", "recipient"])
def test_b2_a_sale_cannot_give_a_role_the_factory_does_not_index(active: World, role: str) -> None:
    world = active
    with world.unchanged():
        error = rejected(
            lambda: world.ic.update_call(
                world.factory.id, "notify_participant_added", MALLORY, role, caller=world.sale
            )
        )
    assert "unknown role" in error.message
    assert world.indexed_roles(MALLORY, world.sale) == set()


@pytest.mark.parametrize(
    "method", ["deploy_token", "deploy_distribution", "deploy_dao", "deploy_multisig"]
)
def test_b2_only_a_sale_deploys_its_pipeline_fee_exempt(active: World, method: str) -> None:
    world = active
    config = {
        "deploy_token": TokenConfig(name="Free Token", symbol="FREE"),
        "deploy_distribution": DistributionConfig(
            title="Free", token=world.icp.id, start=world.end,
            categories=(Category("all", E8S, Fixed(((ALICE, E8S),))),),
        ),
        "deploy_dao": DAOConfig(
            name="Free DAO", token=world.token.id, minimum_stake=E8S, proposal_threshold=E8S,
            proposal_deposit=0, quorum_bp=2_000, approval_bp=5_000, voting_period=HOUR,
            timelock=0,
        ),
        "deploy_multisig": MultisigConfig(
            name="Free Wallet", members=((ALICE, Role.OWNER),), threshold=1
        ),
    }[method]  # fmt: skip
    before = live_canisters(world.ic)
    for call in (
        lambda: getattr(world.system.backend.as_caller(MALLORY), method)(config, ALICE, "token"),
        lambda: getattr(world.system.backend.as_caller(ALICE), method)(config, ALICE, "token"),
        lambda: world.relayed_call(world.system.backend.id, method, config, ALICE, "token"),
    ):
        with world.unchanged():
            result = call()
        error = _err(result, Unauthorized)
        assert "only a launchpad sale may deploy for another owner" in error.reason
    assert live_canisters(world.ic) == before


# -- B12: the registry follows each sale ----------------------------------------------------------


def test_b12_the_registry_follows_a_sale_to_success(created: World) -> None:
    world = created
    sale = world.sale

    def where() -> tuple[str, bool, list[Principal]]:
        state = world.as_(sale, ALICE).get_state()
        assert world.status(sale) == str(state)
        by_state = world.listed("get_sales_by_state", state, reader=MALLORY)
        return str(state), sale in world.listed("get_active_sales", reader=MALLORY), by_state

    assert where() == ("Upcoming", True, [world.sale, world.existing, world.undeposited])
    world.ic.set_time(world.wl_opens)
    assert where() == ("WhitelistOpen", True, [sale])
    world.ic.set_time(world.start)
    assert where() == ("SaleActive", True, [sale, world.existing])
    world.as_(sale, BOB).contribute(60 * E8S).unwrap()
    world.ic.set_time(world.end - 1)
    assert where()[:2] == ("SaleActive", True)
    world.ic.set_time(world.end)
    assert where() == ("Successful", False, [sale])
    assert world.listed("get_sales_by_state", SaleState.SALE_ACTIVE) == []
    assert world.listed("get_active_sales") == []
    world.ic.advance_time(hours=1)
    assert where() == ("Finalized", False, [sale])
    assert world.listed("get_sales_by_state", SaleState.SUCCESSFUL) == []


def test_b12_the_registry_follows_a_failed_sale_through_refunding(active: World) -> None:
    world = active
    with world.ic.faults.reject(canister=world.icp.id, method="icrc1_transfer", times=None) as rule:
        world.ic.set_time(world.end)
    assert rule.fired >= 1
    assert world.status(world.sale) == "Refunding"
    assert world.listed("get_sales_by_state", SaleState.REFUNDING) == [world.sale]
    assert world.sale not in world.listed("get_active_sales")
    world.as_(world.sale, MALLORY).retry_refunds().unwrap()
    assert world.status(world.sale) == "Refunded"
    refunded = world.listed("get_sales_by_state", SaleState.REFUNDED)
    assert refunded == [world.sale, world.private, world.existing, world.undeposited]
    assert world.listed("get_sales_by_state", SaleState.REFUNDING) == []


@pytest.mark.parametrize("how", ["the retry timer", "a stranger's sync_roles"])
def test_b12_notifications_wait_in_the_outbox_while_the_factory_is_stopped(
    whitelist: World, how: str
) -> None:
    world = whitelist
    operator = world.system.operator
    world.ic.stop_canister(world.factory.id, caller=operator)
    world.ic.set_time(world.start)
    assert world.as_(world.sale, ERIN).contribute(5 * E8S) == Ok(5 * E8S)
    sale = world.as_(world.sale, MALLORY)
    assert sale.get_state() is SaleState.SALE_ACTIVE
    assert sale.get_contract_meta().pending_notifications == 2
    world.ic.advance_time(seconds=61)
    assert sale.get_contract_meta().pending_notifications == 2
    world.ic.start_canister(world.factory.id, caller=operator)
    assert world.status(world.sale) == "WhitelistOpen"
    assert world.indexed_roles(ERIN, world.sale) == set()
    if how == "the retry timer":
        world.ic.advance_time(seconds=58)
        assert sale.get_contract_meta().pending_notifications == 2
        world.ic.advance_time(seconds=1)
    else:
        assert sale.sync_roles() == 0
    assert sale.get_contract_meta().pending_notifications == 0
    assert world.status(world.sale) == "SaleActive"
    assert world.indexed_roles(ERIN, world.sale) == {PARTICIPANT}
    info = world.factory.as_caller(ALICE).get_contract_info(world.sale)
    assert info.role_counts.get(PARTICIPANT) == 2
    with world.unchanged():
        assert sale.sync_roles() == 0


def test_b12_every_contributor_is_indexed_once(active: World) -> None:
    world = active
    world.as_(world.sale, BOB).contribute(5 * E8S).unwrap()
    world.relayed_call(world.sale, "contribute", 5 * E8S).unwrap()
    for user in (BOB, DAVE, world.relay.id):
        assert world.indexed_roles(user, world.sale) == {PARTICIPANT}
    assert world.indexed_roles(ALICE, world.sale) == {CREATOR}
    info = world.factory.as_caller(ALICE).get_contract_info(world.sale)
    assert info.role_counts.get(PARTICIPANT) == 3


# -- B14: privacy ---------------------------------------------------------------------------------


def test_b14_a_private_sale_is_hidden_from_strangers(active: World) -> None:
    world = active
    for reader in (MALLORY, BOB):
        assert world.private not in world.listed("get_active_sales", reader=reader)
        listed = world.listed("get_sales_by_state", SaleState.SALE_ACTIVE, reader=reader)
        assert listed == [world.sale, world.existing]
        assert world.factory.as_caller(reader).get_contract_info(world.private) is None
    assert world.listed("get_active_sales", reader=ALICE) == [
        world.sale, world.private, world.existing,
    ]  # fmt: skip
    operator = world.system.operator
    assert world.private in world.listed("get_active_sales", reader=operator)
    assert world.factory.as_caller(MALLORY).get_active_sales().total is None


def test_b14_a_private_sales_reads_show_strangers_nothing(active: World) -> None:
    world = active
    world.as_(world.private, CAROL).contribute(5 * E8S, DAVE).unwrap()
    for reader in (MALLORY, BOB):
        sale = world.as_(world.private, reader)
        assert sale.get_sale() is None
        assert sale.get_config() is None
        assert sale.get_stats() is None
        assert sale.get_refund_progress() is None
        assert sale.get_participant(CAROL) is None
        assert sale.get_participants().items == ()
        assert sale.get_affiliates() == ()
    assert world.relayed_call(world.private, "get_stats") is None
    carol = world.as_(world.private, CAROL)
    assert carol.get_participant(CAROL).contribution == 5 * E8S
    assert carol.get_sale().raised == 5 * E8S
    assert world.private in world.listed("get_active_sales", reader=CAROL)
    assert world.as_(world.private, ALICE).get_affiliates() == ((DAVE, 5 * E8S),)


# -- a sale of an existing token ------------------------------------------------------------------


def test_a_sale_whose_tokens_never_came_fails_at_its_opening(created: World) -> None:
    world = created
    sale = world.as_(world.undeposited, MALLORY)
    world.ic.set_time(world.start - 1)
    assert sale.get_state() is SaleState.UPCOMING
    assert world.status(world.undeposited) == "Upcoming"
    world.ic.set_time(world.start)
    assert sale.get_state() is SaleState.REFUNDED
    history = sale.get_sale().history
    assert history == (
        (SaleState.UPCOMING, world.t0), (SaleState.FAILED, world.start),
        (SaleState.REFUNDING, world.start), (SaleState.REFUNDED, world.start),
    )  # fmt: skip
    outcome = world.ic.state_of(world.undeposited).outcome
    assert outcome == "the sale tokens were not deposited before the sale opened"
    assert world.status(world.undeposited) == "Refunded"
    assert world.undeposited not in world.listed("get_active_sales")
    with world.unchanged():
        for user in (BOB, DAVE, MALLORY):
            assert world.as_(world.undeposited, user).contribute(5 * E8S) == Err(
                WrongState(SaleState.REFUNDED, OPEN_NEEDS)
            )
        assert world.as_(world.undeposited, ALICE).deposit_sale_tokens() == Err(
            WrongState(SaleState.REFUNDED, "Upcoming")
        )
    assert world.icp_balance(world.undeposited) == world.token_balance(world.undeposited) == 0


def test_a_deposited_sale_that_fails_returns_the_deposit_less_one_fee(active: World) -> None:
    world = active
    erin = world.icp_balance(ERIN)
    world.as_(world.existing, ERIN).contribute(5 * E8S).unwrap()
    alice = world.token_balance(ALICE)
    assert world.token_balance(world.existing) == world.deposit
    with world.ic.faults.reject(
        canister=world.token.id, method="icrc1_transfer", times=None
    ) as rule:
        world.ic.set_time(world.end)
    assert rule.fired >= 1
    progress = world.as_(world.existing, MALLORY).get_refund_progress()
    assert (progress.state, progress.refunded, progress.tokens_returned) == (
        SaleState.REFUNDING, 1, False,
    )  # fmt: skip
    assert progress.last_error is not None and "sale tokens not returned" in progress.last_error
    assert world.icp_balance(ERIN) == erin - FEE - FEE
    assert world.token_balance(ALICE) == alice
    result = world.as_(world.existing, MALLORY).retry_refunds().unwrap()
    assert (result.state, result.tokens_returned, result.last_error) == (
        SaleState.REFUNDED, True, None,
    )  # fmt: skip
    assert world.token_balance(ALICE) == alice + world.deposit - FEE
    assert world.token_balance(world.existing) == world.icp_balance(world.existing) == 0
    with world.unchanged():
        assert world.as_(world.existing, ALICE).retry_refunds() == Err(
            WrongState(SaleState.REFUNDED, "Refunding")
        )


def test_a_cancelled_sale_of_an_existing_token_returns_the_deposit(created: World) -> None:
    world = created
    alice = world.token_balance(ALICE)
    assert world.as_(world.existing, ALICE).cancel() == Ok(SaleState.REFUNDING)
    world.ic.tick()
    assert world.as_(world.existing, ALICE).get_state() is SaleState.REFUNDED
    assert world.token_balance(ALICE) == alice + world.deposit - FEE


# -- bad input ------------------------------------------------------------------------------------

BAD_AMOUNTS: Final = {
    "zero": (0, InvalidRequest(("amount must be an int > 0",))),
    "negative": (-E8S, InvalidRequest(("amount must be an int > 0",))),
    "huge": (2**256, AboveMaximum(MAX, 2**256 + 20 * E8S)),
}


@pytest.mark.parametrize("case", BAD_AMOUNTS.values(), ids=BAD_AMOUNTS.keys())
def test_a_bad_amount_is_a_typed_error_and_changes_nothing(
    active: World, case: tuple[int, object]
) -> None:
    world = active
    amount, error = case
    with world.unchanged():
        assert world.as_(world.sale, BOB).contribute(amount) == Err(error)


@pytest.mark.parametrize("amount", [True, False, 1.5, "10", None, (E8S,)])
def test_a_mistyped_amount_is_refused_at_the_boundary(active: World, amount: object) -> None:
    world = active
    with world.unchanged(), pytest.raises(InvalidArguments):
        world.as_(world.sale, BOB).contribute(amount)


@pytest.mark.parametrize(
    "affiliate",
    [Principal.anonymous(), Principal.management_canister()],
    ids=["anonymous", "management canister"],
)
def test_an_unidentified_affiliate_is_refused(active: World, affiliate: Principal) -> None:
    world = active
    with world.unchanged():
        error = _err(world.as_(world.sale, BOB).contribute(5 * E8S, affiliate), NotIdentified)
    assert error.principal == affiliate


def test_a_mistyped_affiliate_is_refused_at_the_boundary(active: World) -> None:
    world = active
    with world.unchanged(), pytest.raises(InvalidArguments):
        world.as_(world.sale, BOB).contribute(5 * E8S, str(CAROL))


def test_the_anonymous_principal_cannot_contribute(active: World) -> None:
    world = active
    with world.unchanged():
        result = world.as_(world.sale, Principal.anonymous()).contribute(5 * E8S)
        error = _err(result, NotIdentified)
    assert error.principal == Principal.anonymous()


def test_only_the_creator_deposits_the_sale_tokens_and_only_once(created: World) -> None:
    world = created
    with world.unchanged():
        for caller in (MALLORY, BOB):
            assert world.as_(world.undeposited, caller).deposit_sale_tokens() == Err(
                NotCreator(caller)
            )
        assert world.relayed_call(world.undeposited, "deposit_sale_tokens") == Err(
            NotCreator(world.relay.id)
        )
        assert world.as_(world.existing, ALICE).deposit_sale_tokens() == Err(
            InvalidRequest(("the sale tokens are deposited already",))
        )
        assert world.as_(world.sale, ALICE).deposit_sale_tokens() == Err(
            InvalidRequest(("the sale token is minted at finalize: no deposit",))
        )
    balances = world.balances()
    result = world.as_(world.undeposited, ALICE).deposit_sale_tokens()
    assert "InsufficientAllowance" in _err(result, TransferFailed).reason
    state = world.ic.state_of(world.undeposited)
    assert (state.tokens_deposited, state.tokens_required) == (0, 0)
    assert world.balances() == balances


# -- interleaved messages -------------------------------------------------------------------------


class RaceWorld:
    """A sale created by the relay canister (so it can act as creator and contributor), sold
    for a purchase token on the interleaving ledger; the relay and bob hold 100 of it. At
    ``start`` (snapshot ``open``)."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.relay = self.ic.deploy(Relay, None, caller=MALLORY)
        self.pay = self.ic.deploy(InterleavingLedger, ICP.init(Account(PAY_MINTER)), caller=MALLORY)
        self.system.faucet(self.relay.id, 100 * E8S)
        to_backend = ApproveArgs(spender=Account(self.system.backend.id), amount=11 * E8S)
        self.relayed(self.system.icp_ledger.id, "icrc2_approve", to_backend).unwrap()
        start = self.ic.time + HOUR
        self.end = start + HOUR
        config = LaunchpadConfig(
            project=ProjectInfo("Race"), sale_token=TokenConfig(name="Race Token", symbol="RACE"),
            purchase_token=self.pay.id, sale_type=FixedPrice(E8S), tokens_for_sale=TOKENS,
            soft_cap=SOFT_CAP, hard_cap=HARD_CAP, min_contribution=E8S, max_contribution=MAX,
            sale_start=start, sale_end=self.end,
            raised_allocation=((Account(self.relay.id), 10_000),),
        )  # fmt: skip
        deployed = self.relayed(self.system.backend.id, "deploy_launchpad", config).unwrap()
        self.sale: Principal = deployed.canister_id
        for holder in (self.relay.id, BOB):
            mint = TransferArgs(to=Account(holder), amount=100 * E8S)
            self.pay.as_caller(PAY_MINTER).icrc1_transfer(mint).unwrap()
        self.ic.set_time(start)
        self.open = self.ic.snapshot()

    def relayed(self, target: Principal, method: str, *args: Any) -> Any:
        return self.relay.as_caller(MALLORY).relay(target, method, args)

    def balance(self, holder: Principal) -> int:
        return int(self.pay.icrc1_balance_of(Account(holder)))


@pytest.fixture(scope="module")
def race_built() -> RaceWorld:
    return RaceWorld()


@pytest.fixture
def race(race_built: RaceWorld) -> RaceWorld:
    race_built.ic.restore(race_built.open)
    race_built.ic.faults.clear()
    HOOK.clear()
    HOOK.update(relay=race_built.relay.id, answers=[])
    return race_built


def test_two_first_contributions_in_flight_at_once_are_both_counted_and_refunded(
    race: RaceWorld,
) -> None:
    world = race
    relay = world.relay.id
    before = world.balance(relay)
    approval = ApproveArgs(spender=Account(world.sale), amount=50 * E8S)
    world.relayed(world.pay.id, "icrc2_approve", approval).unwrap()
    HOOK["during_pull"] = ((world.sale, "contribute", (7 * E8S,)),)
    assert world.relayed(world.sale, "contribute", 5 * E8S) == Ok(5 * E8S)
    assert HOOK["answers"] == [Ok(7 * E8S)]
    assert world.balance(world.sale) == 12 * E8S
    sale = world.ic.actor(world.sale, relay)
    listed = [(p.user, p.contribution) for p in sale.get_participants().items]
    assert listed == [(relay, 12 * E8S)]
    world.ic.set_time(world.end)
    assert sale.get_state() is SaleState.REFUNDED
    assert world.balance(world.sale) == 0
    assert world.balance(relay) == before - FEE - 2 * FEE - FEE


def test_the_minimum_holds_until_a_first_contribution_has_landed(race: RaceWorld) -> None:
    """A small contribution sent while the first is in flight is a first contribution too: the
    first may still fail (here: its allowance covers only the small one)."""
    world = race
    relay = world.relay.id
    small = E8S // 2
    approval = ApproveArgs(spender=Account(world.sale), amount=small + FEE)
    world.relayed(world.pay.id, "icrc2_approve", approval).unwrap()
    HOOK["during_pull"] = ((world.sale, "contribute", (small,)),)
    first = world.relayed(world.sale, "contribute", 5 * E8S)
    assert isinstance(first, Err) and isinstance(first.error, TransferFailed), first
    assert HOOK["answers"] == [Err(BelowMinimum(E8S, small))]
    assert world.balance(world.sale) == 0
    assert world.ic.actor(world.sale, relay).get_participants().items == ()


def test_a_refund_never_pays_an_amount_still_in_flight(race: RaceWorld) -> None:
    world = race
    relay = world.relay.id
    exact = ApproveArgs(spender=Account(world.sale), amount=10 * E8S + FEE)
    world.relayed(world.pay.id, "icrc2_approve", exact).unwrap()
    assert world.relayed(world.sale, "contribute", 10 * E8S) == Ok(10 * E8S)
    approval = ApproveArgs(spender=Account(world.sale), amount=100 * E8S)
    world.pay.as_caller(BOB).icrc2_approve(approval).unwrap()
    assert world.ic.actor(world.sale, BOB).contribute(50 * E8S) == Ok(50 * E8S)
    relay_before, bob_before = world.balance(relay), world.balance(BOB)
    HOOK["during_pull"] = ((world.sale, "cancel", ()), (world.sale, "retry_refunds", ()))
    result = world.relayed(world.sale, "contribute", 30 * E8S)
    assert isinstance(result, Err) and isinstance(result.error, TransferFailed)
    world.ic.advance_time(seconds=1)
    sale = world.ic.actor(world.sale, BOB)
    if sale.get_state() is SaleState.REFUNDING:
        sale.retry_refunds()
    assert world.balance(relay) == relay_before + 10 * E8S - FEE
    assert world.balance(BOB) == bob_before + 50 * E8S - FEE
    assert sale.get_state() is SaleState.REFUNDED
    assert world.balance(world.sale) == 0


def test_a_contribution_that_lands_after_its_contributor_was_refunded_is_refunded_too(
    race: RaceWorld,
) -> None:
    world = race
    relay = world.relay.id
    approval = ApproveArgs(spender=Account(world.sale), amount=100 * E8S)
    world.relayed(world.pay.id, "icrc2_approve", approval).unwrap()
    world.pay.as_caller(BOB).icrc2_approve(approval).unwrap()
    assert world.relayed(world.sale, "contribute", 10 * E8S) == Ok(10 * E8S)
    assert world.ic.actor(world.sale, BOB).contribute(50 * E8S) == Ok(50 * E8S)
    relay_before, bob_before = world.balance(relay), world.balance(BOB)
    HOOK["during_pull"] = ((world.sale, "cancel", ()), (world.sale, "retry_refunds", ()))
    assert world.relayed(world.sale, "contribute", 30 * E8S) == Ok(30 * E8S)
    world.ic.tick()
    sale = world.ic.actor(world.sale, BOB)
    assert sale.get_state() is SaleState.REFUNDED
    assert world.balance(world.sale) == 0
    assert world.balance(BOB) == bob_before + 50 * E8S - FEE
    refunds = (10 * E8S - FEE) + (30 * E8S - FEE)
    assert world.balance(relay) == relay_before - 30 * E8S - FEE + refunds
    info = world.system.launchpad_factory.as_caller(BOB).get_contract_info(world.sale)
    assert info.status == "Refunded"


def test_the_refund_progress_counts_a_late_contribution_as_owed(race: RaceWorld) -> None:
    world = race
    relay = world.relay.id
    approval = ApproveArgs(spender=Account(world.sale), amount=100 * E8S)
    world.relayed(world.pay.id, "icrc2_approve", approval).unwrap()
    assert world.relayed(world.sale, "contribute", 10 * E8S) == Ok(10 * E8S)
    HOOK["during_pull"] = ((world.sale, "cancel", ()), (world.sale, "retry_refunds", ()))
    assert world.relayed(world.sale, "contribute", 30 * E8S) == Ok(30 * E8S)
    sale = world.ic.actor(world.sale, relay)
    assert sale.get_participant(relay).refund is RefundStatus.OWED
    progress = sale.get_refund_progress()
    assert (progress.state, progress.owed) == (SaleState.REFUNDING, 1)


def _relay_contributes_ten(world: RaceWorld) -> int:
    """The relay approves the sale for 100 and contributes 10; its balance then."""
    approval = ApproveArgs(spender=Account(world.sale), amount=100 * E8S)
    world.relayed(world.pay.id, "icrc2_approve", approval).unwrap()
    assert world.relayed(world.sale, "contribute", 10 * E8S) == Ok(10 * E8S)
    return world.balance(world.relay.id)


def test_a_retry_while_the_last_refund_is_in_flight_does_not_end_the_refunds_early(
    race: RaceWorld,
) -> None:
    """While the relay's refund is in flight it is recorded as paid, yet a retry meanwhile
    does not end the refunds (it used to, and the sale was Refunded for a moment): the
    transfer then fails, the refunds stop with its error, and the next retry pays it."""
    world = race
    relay = world.relay.id
    before = _relay_contributes_ten(world)
    HOOK["during_payout"] = ((world.sale, "retry_refunds", ()),)
    with world.ic.faults.trap(canister=world.pay.id, method="icrc1_transfer", times=2):
        world.ic.set_time(world.end)
    (inner,) = HOOK["answers"]
    assert inner.unwrap().state is SaleState.REFUNDING  # it waits for the refund in flight
    sale = world.ic.actor(world.sale, BOB)
    progress = sale.get_refund_progress()
    assert (progress.state, progress.owed) == (SaleState.REFUNDING, 1)
    assert progress.last_error is not None
    assert sale.retry_refunds().unwrap().state is SaleState.REFUNDED
    assert world.balance(relay) == before + 10 * E8S - FEE
    assert world.balance(world.sale) == 0
    info = world.system.launchpad_factory.as_caller(BOB).get_contract_info(world.sale)
    assert info.status == "Refunded"


def test_a_late_contribution_after_a_refund_left_in_doubt_is_refunded_too(
    race: RaceWorld,
) -> None:
    """The refund of the relay's 10 is left in doubt while its 30 are still being pulled; the
    30 land late. The retry sends the refund planned for the 10 (the same request) and then
    refunds the 30: every token comes back, less one fee per refund."""
    world = race
    relay = world.relay.id
    before = _relay_contributes_ten(world)
    HOOK["during_pull"] = ((world.sale, "cancel", ()), (world.sale, "retry_refunds", ()))
    with world.ic.faults.reject(canister=world.pay.id, method="icrc1_transfer", times=2):
        assert world.relayed(world.sale, "contribute", 30 * E8S) == Ok(30 * E8S)
    sale = world.ic.actor(world.sale, relay)
    assert sale.retry_refunds().unwrap().state is SaleState.REFUNDED
    assert world.balance(world.sale) == 0
    assert world.balance(relay) == before - 30 * E8S - FEE + (10 * E8S - FEE) + (30 * E8S - FEE)
    progress = sale.get_refund_progress()
    assert (progress.refunded, progress.amount_refunded) == (1, 40 * E8S)


def test_a_contribution_landing_while_its_owners_refund_is_in_flight_is_refunded_in_full(
    race: RaceWorld,
) -> None:
    """The relay's 30 are left in doubt and the sale is cancelled. While the refund of its 10
    is in flight, ``settle_pulls`` lands the 30 and a retry runs a batch: it leaves the relay,
    whose refund is in flight, to the message sending it (it used to send that refund's request
    again, the ledger's duplicate, and count the 10 twice, so 10 stayed in escrow for good).
    That message then refunds the 30: every token comes back, less one fee per refund."""
    world = race
    relay = world.relay.id
    before = _relay_contributes_ten(world)
    faults = world.ic.faults
    with faults.reject(canister=world.pay.id, method="icrc2_transfer_from", times=2), (
        faults.reject(canister=world.pay.id, method="get_transaction_count")
    ):  # fmt: skip
        answer = world.relayed(world.sale, "contribute", 30 * E8S)
    assert "settle_pulls() settles it" in _err(answer, TransferFailed).reason
    assert world.relayed(world.sale, "cancel") == Ok(SaleState.REFUNDING)
    HOOK["during_payout"] = ((world.sale, "settle_pulls", ()), (world.sale, "retry_refunds", ()))
    world.ic.tick()
    settled, retried = HOOK["answers"]
    assert settled == 0 and retried.unwrap().state is SaleState.REFUNDING
    sale = world.ic.actor(world.sale, relay)
    progress = sale.get_refund_progress()
    assert (progress.state, progress.amount_refunded) == (SaleState.REFUNDED, 40 * E8S)
    assert world.balance(world.sale) == 0
    assert world.balance(relay) == before - 30 * E8S - FEE + (10 * E8S - FEE) + (30 * E8S - FEE)


def _open_sale_paid_in_a_platform_token(world: World) -> tuple[Principal, Principal]:
    """A platform token (PAY, bob holds 1,000) and alice's sale paid in it, bob approving it
    for 100; at the sale's start."""
    system = world.system
    system.approve_backend(ALICE, 2 * SERVICE_FEE + 2 * FEE)
    token = TokenConfig(name="Pay Token", symbol="PAY",
                        initial_balances=((Account(BOB), 1_000 * E8S),))  # fmt: skip
    pay: Principal = system.backend.as_caller(ALICE).deploy_token(token).unwrap().canister_id
    sale = world.deploy(world.config("Paid in PAY", purchase_token=pay, whitelist=None))
    approval = ApproveArgs(spender=Account(sale), amount=100 * E8S)
    world.ic.actor(pay, BOB).icrc2_approve(approval).unwrap()
    world.ic.set_time(world.start)
    return pay, sale


def test_a_contribution_whose_pull_ran_but_whose_replies_were_lost_is_counted(
    created: World,
) -> None:
    """A platform token's ``icrc2_transfer_from`` commits the transfer before it tells its
    factory about the new holder; if it then traps, and the sale's identical retry is rejected,
    the sale cannot know from the replies: it reads the ledger's log, finds the pull, and
    counts the contribution (it was in the escrow with no record, never refunded)."""
    world = created
    pay, sale = _open_sale_paid_in_a_platform_token(world)
    world.ic.faults.trap(canister=pay, method="icrc2_transfer_from", times=1)
    world.ic.faults.reject(canister=pay, method="icrc2_transfer_from", times=1)
    assert world.as_(sale, BOB).contribute(10 * E8S) == Ok(10 * E8S)
    state = world.ic.state_of(sale)
    assert (state.raised, state.reserved) == (10 * E8S, 0)
    assert state.participants[BOB].contribution == 10 * E8S
    assert int(world.ic.actor(pay, BOB).icrc1_balance_of(Account(sale))) == 10 * E8S


def test_a_sale_that_ends_in_the_last_hour_of_ic_time_still_finalizes() -> None:
    """The sale's own finalize timer waits an hour; within the last hour of the IC clock it is
    cut at the clock's last instant (a deadline past it used to trap every message that would
    record the sale's end, with the raise locked in escrow)."""
    hour = 3600 * 10**9
    creator, buyer = Principal.from_name("late-creator"), Principal.from_name("late-buyer")
    ic = IC()
    system = deploy_system(ic)
    system.faucet(creator, 20 * E8S)
    system.approve_backend(creator, 11 * E8S)
    config = LaunchpadConfig(
        project=ProjectInfo("Late"), sale_token=TokenConfig(name="Late", symbol="LATE"),
        purchase_token=system.icp_ledger.id, sale_type=FixedPrice(E8S // 10),
        tokens_for_sale=10_000 * E8S, soft_cap=10 * E8S, hard_cap=100 * E8S,
        min_contribution=E8S, max_contribution=100 * E8S,
        sale_start=MAX_TIME - 2 * hour, sale_end=MAX_TIME,
        raised_allocation=((Account(creator), 10_000),),
    )  # fmt: skip
    sale_id = system.backend.as_caller(creator).deploy_launchpad(config).unwrap().canister_id
    system.faucet(buyer, 200 * E8S)
    approval = ApproveArgs(spender=Account(sale_id), amount=150 * E8S)
    system.icp_ledger.as_caller(buyer).icrc2_approve(approval).unwrap()
    ic.set_time(MAX_TIME - hour // 2)
    sale = ic.actor(sale_id, buyer)
    assert sale.contribute(100 * E8S) == Ok(100 * E8S)  # the hard cap: the sale succeeds
    ic.set_time(MAX_TIME)
    assert sale.get_state() is SaleState.FINALIZED
    assert system.icp_balance(sale_id) == 0


# -- a deposit still at the ledger when the sale opens ---------------------------------------------

CLOCK: dict[str, Any] = {}
"""``{"ic": IC, "to": t, "clock": Clock's id}``: the clock moves to ``t`` (and due timers run)
during the next pull."""


class Clock(Canister):
    """Moves IC time when called, so that due timers run while its caller awaits it."""

    @update
    def tick(self) -> None:
        to = CLOCK.pop("to", None)
        if to is not None:
            CLOCK["ic"].set_time(to)


class SlowLedger(Ledger):
    """A ledger whose next pull awaits the ``Clock`` before it runs: IC time passes, and other
    messages, the sale's timer among them, run at the ledger's await and the puller's."""

    VERSION = "1.0.1"

    def icrc2_transfer_from(self, args: TransferFromArgs) -> Any:
        if "to" in CLOCK:
            self.call(CLOCK["clock"], "tick")
        return super().icrc2_transfer_from(args)

    icrc2_transfer_from.__icto_kind__ = (  # type: ignore[attr-defined]
        Ledger.icrc2_transfer_from.__icto_kind__  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize("approved", [False, True], ids=["refused", "taken"])
def test_a_deposit_still_being_pulled_when_the_sale_opens_does_not_count(
    created: World, approved: bool
) -> None:
    """The creator's deposit pull is at the ledger when the sale's opening comes and its timer
    runs. The deposit is not made yet, so the sale fails at its opening (it used to open with
    no sale tokens when the pull was then refused). A deposit the ledger then takes is given
    back by the refunds; nothing stays in the sale either way."""
    world = created
    ic = world.ic
    ic.upgrade_canister(world.token.id, SlowLedger, caller=ic.controllers_of(world.token.id)[0])
    creator = world.as_(world.undeposited, ALICE)
    if approved:
        world.give_alice_a_deposit_for(world.undeposited)
    held = world.token_balance(ALICE)
    CLOCK.update(ic=ic, to=world.start, clock=ic.deploy(Clock).id)
    deposited = creator.deposit_sale_tokens()
    assert deposited.is_ok is approved
    ic.advance_time(minutes=1)
    state = ic.state_of(world.undeposited)
    assert state.status is SaleState.REFUNDED and not state.depositing
    assert "not deposited before the sale opened" in (state.outcome or "")
    assert world.token_balance(world.undeposited) == 0
    assert world.token_balance(ALICE) == held - (2 * FEE if approved else 0)


# -- a message cut after its pull: the journal settles it ------------------------------------------


@pytest.mark.parametrize("taken", [True, False], ids=["taken", "refused"])
def test_a_contribution_whose_message_trapped_after_its_pull_is_settled_once_it_lapses(
    active: World, taken: bool
) -> None:
    """Bob's second contribution traps after its pull (its last segment rolled back), so it
    stays in flight, holding its room, and ``finalize`` waits (it used to wait for ever). Once
    ``AWAIT_GIVEN_UP_NS`` has passed, ``finalize`` settles it with the identical request: a pull
    that ran is the ledger's duplicate and counts, never taken twice; one the ledger refuses
    lets its room go. An upgrade makes it due at once, since no message awaits across one."""
    world = active
    sale, pull = world.as_(world.sale, BOB), (20 if taken else 10) * E8S
    assert world.as_(world.sale, CAROL).contribute(40 * E8S) == Ok(40 * E8S)
    if not taken:
        world.icp.as_caller(BOB).icrc2_approve(ApproveArgs(spender=Account(world.sale), amount=0))
    bob = world.icp_balance(BOB)
    with world.ic.faults.trap(canister=world.sale, method="contribute"):
        rejected(lambda: sale.contribute(pull))
    state = world.ic.state_of(world.sale)
    assert (state.raised, state.reserved, len(state.pulls)) == (70 * E8S, pull, 1)
    assert world.icp_balance(world.sale) == 70 * E8S + (pull if taken else 0)
    assert sale.settle_pulls() == 1  # its message may still await the ledger
    snapshot = world.ic.snapshot()
    world.ic.upgrade_canister(world.sale, LaunchpadSale, caller=world.factory.id)
    assert sale.settle_pulls() == 0
    world.ic.restore(snapshot)
    world.ic.set_time(world.end)
    assert sale.get_state() is SaleState.SUCCESSFUL
    assert sale.finalize() == Ok(SaleState.FINALIZED)
    state = world.ic.state_of(world.sale)
    assert (state.raised, state.reserved, len(state.pulls)) == (70 * E8S + taken * pull, 0, 0)
    assert world.icp_balance(BOB) == bob - (pull + FEE if taken else 0)
    assert world.icp_balance(world.sale) == 0
    assert state.participants[BOB].contribution == 20 * E8S + taken * pull


def test_a_deposit_whose_message_trapped_after_its_pull_is_given_back(created: World) -> None:
    """The creator's deposit traps after its pull: the deposit stays in flight, so the sale
    fails at its opening, and the refunds settle the pull (it ran: the ledger's duplicate) and
    give the deposit back. They used to wait for it for ever, the tokens locked in the sale."""
    world = created
    world.give_alice_a_deposit_for(world.undeposited)
    held = world.token_balance(ALICE)
    with world.ic.faults.trap(canister=world.undeposited, method="deposit_sale_tokens"):
        rejected(lambda: world.as_(world.undeposited, ALICE).deposit_sale_tokens())
    state = world.ic.state_of(world.undeposited)
    assert state.depositing and len(state.pulls) == 1
    assert world.token_balance(world.undeposited) == world.deposit
    world.ic.set_time(world.start)
    state = world.ic.state_of(world.undeposited)
    assert state.status is SaleState.REFUNDED and not state.depositing and not state.pulls
    assert world.token_balance(world.undeposited) == 0
    assert world.token_balance(ALICE) == held - 2 * FEE


def test_a_pull_left_in_doubt_keeps_its_room_until_settle_pulls_finds_it(created: World) -> None:
    """A platform token commits bob's pull and traps telling its factory; the identical retry is
    rejected and the ledger's log cannot be read either. The contribution may have arrived, so
    its room stays held (it used to be let go, leaving the tokens in escrow uncounted) and the
    answer says so; ``settle_pulls`` (anyone, at once) then finds it and counts it, once."""
    world = created
    pay, sale = _open_sale_paid_in_a_platform_token(world)
    world.ic.faults.trap(canister=pay, method="icrc2_transfer_from", times=1)
    world.ic.faults.reject(canister=pay, method="icrc2_transfer_from", times=1)
    world.ic.faults.reject(canister=pay, method="get_transaction_count", times=1)
    answer = world.as_(sale, BOB).contribute(10 * E8S)
    assert "settle_pulls() settles it" in _err(answer, TransferFailed).reason
    state = world.ic.state_of(sale)
    assert (state.raised, state.reserved, len(state.pulls)) == (0, 10 * E8S, 1)
    assert world.as_(sale, MALLORY).settle_pulls() == 0
    state = world.ic.state_of(sale)
    assert (state.raised, state.reserved) == (10 * E8S, 0)
    assert state.participants[BOB].contribution == 10 * E8S
    assert int(world.ic.actor(pay, BOB).icrc1_balance_of(Account(sale))) == 10 * E8S


def test_a_refund_whose_batch_trapped_after_its_transfer_is_sent_again_once_it_lapses(
    active: World,
) -> None:
    """The first refund is rejected twice (in doubt), and the batch then traps, so its undo
    is lost: the refund stays marked as paid, in flight, with no batch armed. A retry meanwhile
    waits for it rather than ending the refunds (they used to end, the refund never paid);
    once ``AWAIT_GIVEN_UP_NS`` has passed, the watch resumes them and the same request is sent
    again: everyone is refunded once, and the escrow is empty."""
    world = active
    world.refund_the_others()
    before = {user: world.icp_balance(user) for user in (BOB, DAVE)}
    icp, sale = world.icp.id, world.as_(world.sale, MALLORY)
    with world.ic.faults.reject(canister=icp, method="icrc1_fee"):
        assert world.as_(world.sale, ALICE).cancel() == Ok(SaleState.REFUNDING)
        world.ic.tick()  # the first batch stops at once
    with world.ic.faults.reject(canister=icp, method="icrc1_transfer", times=2), (
        world.ic.faults.trap(canister=world.sale, method="retry_refunds")
    ) as trap:  # fmt: skip
        rejected(sale.retry_refunds)
    assert trap.fired == 1
    state = world.ic.state_of(world.sale)
    assert (state.status, len(state.sending), state.refund_timer) == (SaleState.REFUNDING, 1, None)
    assert world.as_(world.sale, MALLORY).retry_refunds().unwrap().state is SaleState.REFUNDING
    snapshot = world.ic.snapshot()
    world.ic.upgrade_canister(world.sale, LaunchpadSale, caller=world.factory.id)
    world.ic.tick()  # no message awaits across an upgrade: the watch resumes them at once
    assert world.as_(world.sale, MALLORY).get_state() is SaleState.REFUNDED
    world.ic.restore(snapshot)
    world.ic.advance_time(nanos=AWAIT_GIVEN_UP_NS)
    assert world.as_(world.sale, MALLORY).get_state() is SaleState.REFUNDED
    assert {user: world.icp_balance(user) for user in (BOB, DAVE)} == {
        BOB: before[BOB] + 20 * E8S - FEE, DAVE: before[DAVE] + 10 * E8S - FEE,
    }  # fmt: skip
    assert world.icp_balance(world.sale) == 0
    assert not world.ic.state_of(world.sale).sending


def test_a_deposit_return_whose_batch_trapped_after_it_is_sent_again(created: World) -> None:
    """The return of the creator's deposit is rejected twice (in doubt) and the batch traps:
    the return was recorded as made before its transfer, and the sale ended Refunded with the
    deposit still in it. Now it counts only once the ledger has taken it, and the watch sends
    the same request again: the deposit comes back once."""
    world = created
    held = world.token_balance(ALICE)
    with world.ic.faults.reject(canister=world.icp.id, method="icrc1_fee"):
        assert world.as_(world.existing, ALICE).cancel() == Ok(SaleState.REFUNDING)
        world.ic.tick()  # the first batch stops at once
    with world.ic.faults.reject(canister=world.token.id, method="icrc1_transfer", times=2), (
        world.ic.faults.trap(canister=world.existing, method="retry_refunds")
    ):  # fmt: skip
        rejected(world.as_(world.existing, MALLORY).retry_refunds)
    state = world.ic.state_of(world.existing)
    assert (state.status, state.tokens_returned) == (SaleState.REFUNDING, False)
    assert state.deposit_return is not None
    world.ic.advance_time(nanos=AWAIT_GIVEN_UP_NS)
    state = world.ic.state_of(world.existing)
    assert (state.status, state.tokens_returned) == (SaleState.REFUNDED, True)
    assert world.token_balance(world.existing) == 0
    assert world.token_balance(ALICE) == held + world.deposit - FEE


def test_the_deposit_goes_back_only_once_a_pull_in_doubt_is_settled(active: World) -> None:
    """Carol's pull into the existing-token sale is left in doubt and the sale is cancelled.
    The refunds wait for her pull instead of giving the deposit back and ending (they used to
    end Refunded, and her 20, landing while the deposit went back, stayed in escrow for good);
    the watch lands it and she is refunded, then the deposit goes back, with nothing left for
    a ``settle_pulls`` meanwhile."""
    world = active
    ic, sale, icp = world.ic, world.existing, world.icp.id
    assert world.as_(sale, BOB).contribute(10 * E8S) == Ok(10 * E8S)
    carol = world.icp_balance(CAROL)
    with ic.faults.reject(canister=icp, method="icrc2_transfer_from", times=2), (
        ic.faults.reject(canister=icp, method="get_transaction_count")
    ):  # fmt: skip
        assert world.as_(sale, CAROL).contribute(20 * E8S).is_err
    assert world.as_(sale, ALICE).cancel() == Ok(SaleState.REFUNDING)
    controller = ic.controllers_of(world.token.id)[0]
    ic.upgrade_canister(world.token.id, InterleavingLedger, caller=controller)
    HOOK.update(relay=world.relay.id, answers=[], during_payout=((sale, "settle_pulls", ()),))
    with ic.faults.reject(canister=icp, method="icrc2_transfer_from", times=2), (
        ic.faults.reject(canister=icp, method="get_transaction_count")
    ):  # fmt: skip
        ic.tick()  # the batch's own settling finds it still in doubt
    assert ic.state_of(sale).status is SaleState.REFUNDING and HOOK["answers"] == []
    ic.advance_time(nanos=AWAIT_GIVEN_UP_NS)
    assert HOOK["answers"] == [0]
    state = ic.state_of(sale)
    assert (state.status, state.raised, state.refunded_amount) == (
        SaleState.REFUNDED, 30 * E8S, 30 * E8S,
    )  # fmt: skip
    assert world.icp_balance(sale) == 0
    assert world.icp_balance(CAROL) == carol - 20 * E8S - FEE + 20 * E8S - FEE


@pytest.mark.parametrize("what", ["contribution", "deposit"])
def test_the_refunds_wait_for_a_pull_a_trapped_message_left_and_the_watch_settles_it(
    built: World, what: str
) -> None:
    """A pull whose message trapped after it (carol's second contribution; or the deposit, five
    minutes before the opening) is not due yet when the refunds end: they wait for it, and the
    watch settles it once it lapses: the contribution is refunded, or the deposit given back.
    The sale used to end Refunded with carol's 20 uncounted in escrow, or wait in Refunding for
    good with the deposit in it."""
    world = _reset(built, built.active if what == "contribution" else built.created)
    ic = world.ic
    if what == "contribution":
        sale, ledger, holder, amount = world.existing, world.icp, CAROL, 20 * E8S
        assert world.as_(sale, CAROL).contribute(10 * E8S) == Ok(10 * E8S)
        method, call = "contribute", lambda: world.as_(sale, CAROL).contribute(amount)
    else:
        sale, ledger, holder, amount = world.undeposited, world.token, ALICE, world.deposit
        world.give_alice_a_deposit_for(sale)
        ic.set_time(world.start - 5 * 60 * 10**9)
        method, call = "deposit_sale_tokens", lambda: world.as_(sale, ALICE).deposit_sale_tokens()
    held = int(ledger.icrc1_balance_of(Account(holder)))
    with ic.faults.trap(canister=sale, method=method):
        rejected(call)
    if what == "contribution":
        assert world.as_(sale, ALICE).cancel() == Ok(SaleState.REFUNDING)
        ic.tick()
    else:
        ic.set_time(world.start)
    state = ic.state_of(sale)
    assert (state.status, len(state.pulls)) == (SaleState.REFUNDING, 1)
    assert state.watch_timer is not None
    ic.advance_time(nanos=AWAIT_GIVEN_UP_NS)
    state = ic.state_of(sale)
    assert (state.status, len(state.pulls), state.watch_timer) == (SaleState.REFUNDED, 0, None)
    assert int(ledger.icrc1_balance_of(Account(sale))) == 0
    first_refund = 10 * E8S - FEE if what == "contribution" else 0
    assert int(ledger.icrc1_balance_of(Account(holder))) == (
        held - amount - FEE + amount - FEE + first_refund
    )  # fmt: skip


def test_the_watch_keeps_watching_a_refund_sent_after_it_was_armed(active: World) -> None:
    """The watch is armed by the first batch; five minutes later a retry traps with bob's
    refund in doubt. When the watch fires, bob's refund is not ten minutes old: it arms a batch
    (which waits for that refund) and watches again, so bob is refunded once it lapses (the
    watch used to stop there, bob's refund recorded as paid and his 20 left in escrow)."""
    world = active
    world.refund_the_others()
    ic, sale, icp = world.ic, world.sale, world.icp.id
    bob = world.icp_balance(BOB)
    with ic.faults.reject(canister=icp, method="icrc1_transfer", times=2, after=1):
        assert world.as_(sale, ALICE).cancel() == Ok(SaleState.REFUNDING)
        ic.tick()  # dave refunded, the watch armed; bob's refund refused: stopped
    ic.advance_time(minutes=5)
    with ic.faults.reject(canister=icp, method="icrc1_transfer", times=2), (
        ic.faults.trap(canister=sale, method="retry_refunds")
    ):  # fmt: skip
        rejected(world.as_(sale, MALLORY).retry_refunds)
    ic.advance_time(minutes=6)
    assert ic.state_of(sale).watch_timer is not None
    ic.advance_time(minutes=10)
    assert world.as_(sale, MALLORY).get_state() is SaleState.REFUNDED
    assert world.icp_balance(sale) == 0
    assert world.icp_balance(BOB) == bob + 20 * E8S - FEE
