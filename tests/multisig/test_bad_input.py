"""Bad input to a multisig wallet and to its config check is refused with a typed error, by the
cheap path, and changes nothing.

Arguments of the wrong type are refused by the router before the method runs
(``InvalidArguments``, a ``CallRejected``). Records of the right type holding bad values (amounts
of 2**128, 10 MB texts, 10,000-transfer batches, the anonymous principal, the management
canister, the wallet itself or its factory as a member, hostile description text) are
``Err(InvalidProposal)`` or config reasons; unknown proposal ids are ``Err(UnknownProposal)``.
Every refusal leaves the wallet's state and every ICP balance as they were, and is decided
without a single inter-canister call: the call's trace is the ingress message alone. A paid
deployment of a refused config takes no fee (one naming the Multisig Factory is refused by the
factory after payment, and the fee refunded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import immutables
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from icto import E8S, IC, Account, Canister, Err, InvalidArguments, Ok, Principal, query
from icto.backend.types import DeploymentFailed
from icto.factory import InvalidConfig
from icto.factory.types import ContractInit
from icto.ic.proxy import CanisterProxy
from icto.ic.world import MAX_TIME
from icto.ledger.presets import ICP
from icto.multisig import (
    AddObserver,
    AddSigner,
    BatchTransfer,
    ChangeRole,
    ChangeThreshold,
    ChangeVisibility,
    Freeze,
    InvalidProposal,
    Kind,
    MultisigConfig,
    MultisigWallet,
    RemoveObserver,
    RemoveSigner,
    Role,
    SetDailyLimit,
    SetPolicy,
    Status,
    Transfer,
    UnknownProposal,
    validate_multisig_config,
)
from icto.multisig.config import MAX_DAILY_LIMITS
from icto.multisig.rules import action_problems
from icto.system import System, deploy_system
from tests.helpers import live_canisters, rejected

ALICE, BOB, CAROL, DAVE, ERIN = (
    Principal.from_name(name) for name in ("alice", "bob", "carol", "dave", "erin")
)
RECIPIENT = Principal.from_name("recipient")
ANONYMOUS = Principal.anonymous()
MANAGEMENT = Principal.management_canister()
ICP_LEDGER = ICP.canister_id
HOUR = 3600 * 10**9
TEN_MB = 10_000_000
FEE = E8S // 2
"""The Multisig Factory's fee in the paid flow."""

CONFIG = MultisigConfig(
    name="Treasury",
    members=((ALICE, Role.OWNER), (BOB, Role.SIGNER), (CAROL, Role.SIGNER), (DAVE, Role.OBSERVER)),
    threshold=2, timelock=HOUR,
)  # fmt: skip


class World:
    """The platform with one funded wallet (2 of 3, 1 h timelock) holding a pending proposal and
    an approved one; alice may still pay for more deployments."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.icp = self.system.icp_ledger.id
        self.system.faucet(ALICE, 10 * E8S)
        self.system.approve_backend(ALICE, 5 * E8S)
        deployed = self.system.backend.as_caller(ALICE).deploy_multisig(CONFIG).unwrap()
        self.wallet: Principal = deployed.canister_id
        self.system.faucet(self.wallet, 100 * E8S)
        signer = self.as_(ALICE)
        self.pending = signer.propose(self.transfer(E8S)).unwrap()
        self.approved = signer.propose(AddObserver(ERIN)).unwrap()
        self.as_(BOB).approve(self.approved).unwrap()
        self.snapshot = self.ic.snapshot()

    def as_(self, user: Principal) -> CanisterProxy:
        return self.ic.actor(self.wallet, user)

    def transfer(self, amount: Any, **changes: Any) -> Transfer:
        return Transfer(self.icp, Account(RECIPIENT), amount, **changes)

    def reset(self) -> World:
        self.ic.restore(self.snapshot)
        return self

    def balances(self) -> dict[Principal, int]:
        holders = (ALICE, BOB, CAROL, DAVE, ERIN, RECIPIENT, self.wallet, self.system.backend.id)
        return {holder: self.system.icp_balance(holder) for holder in holders}

    @contextmanager
    def refused(self) -> Iterator[None]:
        """Assert that every call in the block was decided without an inter-canister call and
        left the wallet, the backend, the set of canisters and every ICP balance as they were."""
        wallet = self.ic.state_of(self.wallet)
        backend = self.ic.state_of(self.system.backend.id)
        canisters = live_canisters(self.ic)
        balances = self.balances()
        self.ic.trace.clear()
        yield
        entries = list(self.ic.trace)
        assert entries, "the block made no call"
        assert [entry.summary() for entry in entries if entry.parent_id is not None] == []
        assert self.ic.state_of(self.wallet) == wallet
        assert self.ic.state_of(self.system.backend.id) == backend
        assert live_canisters(self.ic) == canisters
        assert self.balances() == balances


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    return built.reset()


def invalid_proposal(result: object) -> tuple[str, ...]:
    """The reasons of an ``Err(InvalidProposal)`` (fails on anything else)."""
    assert isinstance(result, Err) and isinstance(result.error, InvalidProposal), result
    assert result.error.reasons and all(isinstance(r, str) for r in result.error.reasons)
    return result.error.reasons


# -- arguments of the wrong type ------------------------------------------------------------------

NOT_AN_ID = ["0", 0.0, None, True, b"\x00", (0,), [0], {0: 0}]
NOT_AN_ACTION = ["Transfer", None, 42, b"\x00", (Freeze(),), [Freeze()], {"kind": "Freeze"}, Kind]


@pytest.mark.parametrize("method", ["approve", "reject", "execute"])
@pytest.mark.parametrize("junk", NOT_AN_ID, ids=repr)
def test_a_proposal_id_of_the_wrong_type_is_refused_before_the_method_runs(
    world: World, method: str, junk: object
) -> None:
    with world.refused():
        error = rejected(lambda: getattr(world.as_(ALICE), method)(junk))
    assert isinstance(error, InvalidArguments)
    assert "proposal_id" in error.message


@pytest.mark.parametrize("junk", NOT_AN_ACTION, ids=repr)
def test_an_action_of_the_wrong_type_is_refused_before_the_method_runs(
    world: World, junk: object
) -> None:
    with world.refused():
        error = rejected(lambda: world.as_(ALICE).propose(junk))
    assert isinstance(error, InvalidArguments)
    assert "action" in error.message


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda w: w.as_(ALICE).propose(Freeze(), 7), id="description int"),
        pytest.param(lambda w: w.as_(ALICE).propose(Freeze(), b"text"), id="description bytes"),
        pytest.param(lambda w: w.as_(ALICE).propose(), id="no action"),
        pytest.param(lambda w: w.as_(ALICE).propose(Freeze(), "", "extra"), id="extra argument"),
        pytest.param(lambda w: w.as_(BOB).approve(0, force=True), id="unknown keyword"),
        pytest.param(lambda w: w.as_(BOB).execute(), id="no id"),
        pytest.param(lambda w: w.as_(ALICE).get_proposal("0"), id="get_proposal str"),
        pytest.param(lambda w: w.as_(ALICE).get_proposals("Pending", 0, "100"), id="page str"),
    ],
)
def test_a_call_that_does_not_fit_the_signature_is_refused(
    world: World, call: Callable[[World], object]
) -> None:
    with world.refused():
        assert isinstance(rejected(lambda: call(world)), InvalidArguments)


def test_a_deployment_with_something_else_than_a_config_is_refused_and_costs_nothing(
    world: World,
) -> None:
    backend = world.system.backend.as_caller(ALICE)
    for junk in ("config", None, attrs.asdict(CONFIG), (CONFIG,)):
        with world.refused():
            assert isinstance(rejected(lambda j=junk: backend.deploy_multisig(j)), InvalidArguments)
    assert validate_multisig_config("config", ALICE) == ("expected a MultisigConfig, got str",)


# -- bad values inside the records --------------------------------------------------------------

BAD_ACTIONS: dict[str, Callable[[World], object]] = {
    "amount 2**128": lambda w: w.transfer(2**128),
    "amount 0": lambda w: w.transfer(0),
    "amount -1": lambda w: w.transfer(-1),
    "amount as text": lambda w: w.transfer("100"),
    "amount as float": lambda w: w.transfer(1.0),
    "amount as bool": lambda w: w.transfer(True),
    "ledger a user": lambda w: Transfer(ALICE, Account(RECIPIENT), 1),
    "ledger the management canister": lambda w: Transfer(MANAGEMENT, Account(RECIPIENT), 1),
    "ledger as text": lambda w: Transfer(str(w.icp), Account(RECIPIENT), 1),
    "to a principal": lambda w: Transfer(w.icp, RECIPIENT, 1),
    "to the anonymous principal": lambda w: Transfer(w.icp, Account(Principal.anonymous()), 1),
    "to the management canister": lambda w: Transfer(w.icp, Account(MANAGEMENT), 1),
    "memo of 33 bytes": lambda w: w.transfer(1, memo=b"m" * 33),
    "memo as text": lambda w: w.transfer(1, memo="memo"),
    "batch of 10,000": lambda w: BatchTransfer(tuple([w.transfer(1)] * 10_000)),
    "batch of 101": lambda w: BatchTransfer(tuple([w.transfer(1)] * 101)),
    "empty batch": lambda w: BatchTransfer(()),
    "batch as a list": lambda w: BatchTransfer([w.transfer(1)]),  # type: ignore[arg-type]
    "batch of non-transfers": lambda w: BatchTransfer((Freeze(),)),  # type: ignore[arg-type]
    "batch with a 2**128 amount": lambda w: BatchTransfer((w.transfer(1), w.transfer(2**128))),
    "signer as an observer": lambda w: AddSigner(ERIN, Role.OBSERVER),
    "signer role as text": lambda w: AddSigner(ERIN, "Owner"),  # type: ignore[arg-type]
    "signer as text": lambda w: AddSigner(str(ERIN)),  # type: ignore[arg-type]
    "threshold 2**64": lambda w: ChangeThreshold(2**64),
    "threshold as text": lambda w: ChangeThreshold("3"),  # type: ignore[arg-type]
    "threshold as bool": lambda w: ChangeThreshold(True),
    "policy kind as text": lambda w: SetPolicy("Transfer", 3),  # type: ignore[arg-type]
    "policy of 2**128": lambda w: SetPolicy(Kind.TRANSFER, 2**128),
    "daily limit 0": lambda w: SetDailyLimit(w.icp, 0),
    "daily limit 2**128": lambda w: SetDailyLimit(w.icp, 2**128),
    "daily limit of a user": lambda w: SetDailyLimit(ALICE, E8S),
    "visibility as int": lambda w: ChangeVisibility(1),  # type: ignore[arg-type]
    "role change to text": lambda w: ChangeRole(BOB, "Owner"),  # type: ignore[arg-type]
    "removing a stranger": lambda w: RemoveSigner(ERIN),
    "removing the observer as signer": lambda w: RemoveSigner(DAVE),
    "removing a signer as observer": lambda w: RemoveObserver(BOB),
}


@pytest.mark.parametrize("make", BAD_ACTIONS.values(), ids=BAD_ACTIONS.keys())
def test_an_action_with_bad_values_is_an_invalid_proposal(
    world: World, make: Callable[[World], object]
) -> None:
    action = make(world)
    with world.refused():
        invalid_proposal(world.as_(ALICE).propose(action))


def test_a_proposal_made_near_the_end_of_ic_time_expires_at_its_last_instant(
    world: World,
) -> None:
    """A proposal's lifetime is cut at the IC clock's last instant, where its timer can still
    fire (a deadline past it used to trap ``propose``, so nothing could be proposed)."""
    world.ic.set_time(MAX_TIME - 3600 * 10**9)
    proposal_id = world.as_(ALICE).propose(Freeze()).unwrap()
    assert world.as_(ALICE).get_proposal(proposal_id).expires_at == MAX_TIME


def test_a_wallet_caps_at_most_twenty_ledgers_a_day(world: World) -> None:
    """Daily limits are bounded like the balances ``get_balances`` reads at once: with twenty,
    a new ledger's limit is refused, and changing or lifting one of the twenty is not."""
    state = world.ic.state_of(world.wallet)
    ledgers = [Principal.from_canister_index(900 + n) for n in range(MAX_DAILY_LIMITS)]
    full = attrs.evolve(state, limits=immutables.Map(dict.fromkeys(ledgers, E8S)))
    new_ledger = Principal.from_canister_index(999)
    assert action_problems(full, SetDailyLimit(new_ledger, E8S)) == (
        f"at most {MAX_DAILY_LIMITS} daily limits (one per ledger)",
    )
    assert action_problems(full, SetDailyLimit(ledgers[0], 2 * E8S)) == ()
    assert action_problems(full, SetDailyLimit(ledgers[0], None)) == ()


def test_a_batch_of_ten_thousand_transfers_is_refused_with_one_reason(world: World) -> None:
    batch = BatchTransfer(tuple(world.transfer(n + 1) for n in range(10_000)))
    with world.refused():
        reasons = invalid_proposal(world.as_(ALICE).propose(batch))
    assert reasons == ("a batch holds 1 to 100 transfers, got 10000",)


def test_a_batch_of_a_hundred_transfers_is_the_largest_accepted(world: World) -> None:
    batch = BatchTransfer(tuple(world.transfer(n + 1) for n in range(100)))
    assert isinstance(world.as_(ALICE).propose(batch), Ok)


def test_an_amount_of_2_pow_128_minus_1_is_accepted_as_a_proposal(world: World) -> None:
    proposal_id = world.as_(ALICE).propose(world.transfer(2**128 - 1)).unwrap()
    assert world.as_(ALICE).get_proposal(proposal_id).action.amount == 2**128 - 1


@pytest.mark.parametrize(
    "description",
    [
        "d" * TEN_MB,
        "d" * 1001,
        "nul \x00 inside",
        "bell \x07",
        "escape \x1b[2J",
        "delete \x7f",
        "c1 \x85",
        "reversed \u202etxt.exe",
        "isolate \u2066",
        "lone surrogate \ud800",
        "low surrogate \udfff",
    ],
    ids=lambda text: repr(text[:24]),
)
def test_a_hostile_description_is_an_invalid_proposal(world: World, description: str) -> None:
    with world.refused():
        invalid_proposal(world.as_(ALICE).propose(Freeze(), description))


def test_a_description_may_hold_newlines_tabs_and_any_script(world: World) -> None:
    description = "Pay the auditors\n\t- 1 ICP\n\t- 名前 ✓ مرحبا\n"
    proposal_id = world.as_(ALICE).propose(Freeze(), description).unwrap()
    assert world.as_(DAVE).get_proposal(proposal_id).description == description


# -- unknown proposal ids -------------------------------------------------------------------------

UNKNOWN_IDS = [-1, 2, 10**9, 2**200, -(2**200)]


@pytest.mark.parametrize("method", ["approve", "reject", "execute"])
@pytest.mark.parametrize("proposal_id", UNKNOWN_IDS)
def test_an_unknown_proposal_id_is_unknown_proposal(
    world: World, method: str, proposal_id: int
) -> None:
    with world.refused():
        result = getattr(world.as_(CAROL), method)(proposal_id)
    assert result == Err(UnknownProposal(proposal_id))


@pytest.mark.parametrize("proposal_id", UNKNOWN_IDS)
def test_an_unknown_proposal_reads_as_none(world: World, proposal_id: int) -> None:
    with world.refused():
        assert world.as_(ALICE).get_proposal(proposal_id) is None


@pytest.mark.parametrize("method", ["approve", "reject", "execute"])
def test_true_is_not_proposal_one(world: World, method: str) -> None:
    with world.refused():
        error = rejected(lambda: getattr(world.as_(CAROL), method)(True))
    assert isinstance(error, InvalidArguments)


@pytest.mark.parametrize(("offset", "limit"), [(-1, 10), (0, 0), (0, 10**6), (0, -1)])
def test_a_page_out_of_bounds_is_rejected(world: World, offset: int, limit: int) -> None:
    for read in (
        lambda: world.as_(ALICE).get_proposals(None, offset, limit),
        lambda: world.as_(ALICE).get_events(offset, limit),
    ):
        with world.refused():
            assert "must be" in rejected(read).message


def test_more_than_twenty_ledgers_at_once_are_rejected_whoever_asks(world: World) -> None:
    """Like a page out of bounds, the request is refused before who asks is looked at: a
    member and a stranger alike."""
    ledgers = tuple(Principal.from_canister_index(900 + n) for n in range(21))
    member, stranger = world.as_(ALICE), world.as_(ERIN)
    with world.refused():
        assert "at most 20" in rejected(lambda: member.get_balances(ledgers)).message
        assert "at most 20" in rejected(lambda: stranger.get_balances(ledgers)).message


class NotALedger(Canister):
    """Answers a balance query with text."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @query
    def icrc1_balance_of(self, account: Account) -> str:
        return "plenty"


def test_a_canister_that_gives_no_balance_is_reported_with_why_next_to_the_others(
    world: World,
) -> None:
    """One that answers text, one that does not exist, and one with no such method (the wallet
    itself): each is reported with its reason, and the ICP balance is still read."""
    odd = world.ic.deploy(NotALedger).id
    missing = Principal.from_canister_index(999_999)
    icp, *others = world.as_(DAVE).get_balances((world.icp, odd, missing, world.wallet))
    expected = (world.icp, world.system.icp_balance(world.wallet), None)
    assert (icp.ledger, icp.balance, icp.error) == expected
    assert [balance.ledger for balance in others] == [odd, missing, world.wallet]
    assert all(balance.balance is None and balance.error for balance in others)
    assert "plenty" in str(others[0].error)


# -- who may be a member --------------------------------------------------------------------------

NEVER_VOTE = ["the wallet itself", "its factory"]


@pytest.mark.parametrize("who", NEVER_VOTE)
@pytest.mark.parametrize(
    "make",
    [lambda p: AddSigner(p), lambda p: AddSigner(p, Role.OWNER), lambda p: AddObserver(p)],
    ids=["AddSigner", "AddSigner as Owner", "AddObserver"],
)
def test_neither_the_wallet_nor_its_factory_ever_joins_it(
    world: World, who: str, make: Callable[[Principal], object]
) -> None:
    """Neither ever approves: as a voter it would count towards the threshold without ever
    reaching it, and the signers could remove each other below it."""
    member = world.wallet if who == NEVER_VOTE[0] else world.system.multisig_factory.id
    with world.refused():
        reasons = invalid_proposal(world.as_(ALICE).propose(make(member)))
    assert any("can never vote" in reason for reason in reasons)


def test_a_config_naming_the_multisig_factory_is_refused_by_it_and_the_fee_refunded(
    world: World,
) -> None:
    """The backend's check before payment does not know the factory; the factory refuses the
    config before deploying anything, and the backend refunds the fee."""
    factory = world.system.multisig_factory
    config = attrs.evolve(CONFIG, members=(*CONFIG.members, (factory.id, Role.SIGNER)))
    assert validate_multisig_config(config, ALICE) == ()
    assert validate_multisig_config(config, ALICE, never_vote=(factory.id,))
    wallets = len(factory.as_caller(ALICE).get_my_contracts(ALICE))
    result = world.system.backend.as_caller(ALICE).deploy_multisig(config)
    assert isinstance(result, Err) and isinstance(result.error, DeploymentFailed), result
    assert "can never vote" in result.error.reason
    refund = result.error.refund
    assert refund is not None and (refund.status, refund.amount) == ("Completed", FEE)
    assert len(factory.as_caller(ALICE).get_my_contracts(ALICE)) == wallets


@pytest.mark.parametrize("who", ["the wallet itself", "its installer"])
def test_a_wallet_naming_itself_or_its_factory_as_a_member_is_never_installed(who: str) -> None:
    """A wallet's id can be known before its installation: the installation checks it, and
    the installer's (its factory's), too."""
    ic = IC()
    installer = Principal.from_name("installer")
    wallet = ic.create_canister(caller=installer)
    member = wallet if who == "the wallet itself" else installer
    config = attrs.evolve(CONFIG, members=(*CONFIG.members, (member, Role.SIGNER)))
    init = ContractInit(ALICE, config)
    refusal = rejected(lambda: ic.install_code(wallet, MultisigWallet, init, caller=installer))
    assert "can never vote" in refusal.message
    assert ic.code_of(wallet) is None

NOBODY = {"anonymous": ANONYMOUS, "management canister": MANAGEMENT}


@pytest.mark.parametrize("nobody", NOBODY.values(), ids=NOBODY.keys())
@pytest.mark.parametrize(
    "make",
    [
        lambda p: AddSigner(p),
        lambda p: AddSigner(p, Role.OWNER),
        lambda p: AddObserver(p),
        lambda p: ChangeRole(p, Role.SIGNER),
        lambda p: RemoveSigner(p),
    ],
    ids=["AddSigner", "AddSigner as Owner", "AddObserver", "ChangeRole", "RemoveSigner"],
)
def test_the_anonymous_principal_and_the_management_canister_never_join_a_wallet(
    world: World, nobody: Principal, make: Callable[[Principal], object]
) -> None:
    with world.refused():
        invalid_proposal(world.as_(ALICE).propose(make(nobody)))


@pytest.mark.parametrize("nobody", NOBODY.values(), ids=NOBODY.keys())
@pytest.mark.parametrize("role", list(Role))
def test_a_config_naming_nobody_as_a_member_is_refused_and_costs_nothing(
    world: World, nobody: Principal, role: Role
) -> None:
    config = attrs.evolve(CONFIG, members=(*CONFIG.members, (nobody, role)))
    reasons = validate_multisig_config(config, ALICE)
    assert any(f"{'anonymous principal' if nobody.is_anonymous else 'management'}" in reason
               for reason in reasons)  # fmt: skip
    with world.refused():
        assert world.system.backend.as_caller(ALICE).deploy_multisig(config) == Err(
            InvalidConfig(reasons)
        )


@pytest.mark.parametrize("nobody", NOBODY.values(), ids=NOBODY.keys())
def test_nobody_can_own_a_wallet(nobody: Principal) -> None:
    config = attrs.evolve(CONFIG, members=((nobody, Role.OWNER), (BOB, Role.SIGNER)))
    assert validate_multisig_config(config, nobody)


# -- configs --------------------------------------------------------------------------------------

BAD_CONFIGS: dict[str, dict[str, Any]] = {
    "10 MB name": {"name": "n" * TEN_MB},
    "10 MB description": {"description": "d" * TEN_MB},
    "empty name": {"name": ""},
    "name with a newline": {"name": "Trea\nsury"},
    "name with a bidi override": {"name": "\u202eyrusaerT"},
    "name with a lone surrogate": {"name": "Treasury \udc00"},
    "name as bytes": {"name": b"Treasury"},
    "threshold as text": {"threshold": "2"},
    "threshold 2**128": {"threshold": 2**128},
    "threshold above the voters": {"threshold": 4},
    "negative timelock": {"timelock": -1},
    "lifetime 0": {"lifetime": 0},
    "lifetime of a year": {"lifetime": 365 * 24 * HOUR},
    "members as text": {"members": "alice"},
    "no members": {"members": ()},
    "a member twice": {"members": (*CONFIG.members, (BOB, Role.OBSERVER))},
    "role as text": {"members": ((ALICE, "Owner"),)},
    "policy kind as text": {"policies": (("Transfer", 2),)},
    "policy above the voters": {"policies": ((Kind.TRANSFER, 4),)},
    "daily limit 2**128": {"daily_limits": ((ICP_LEDGER, 2**128),)},
    "daily limit of a user": {"daily_limits": ((ALICE, E8S),)},
    "21 daily limits": {
        "daily_limits": tuple((Principal.from_canister_index(900 + n), E8S) for n in range(21))
    },
    "is_public as int": {"is_public": 1},
    "the deploying user not an Owner": {"members": ((BOB, Role.OWNER), (ALICE, Role.SIGNER))},
}


@pytest.mark.parametrize("changes", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_refused_config_has_reasons_and_its_paid_deployment_charges_nothing(
    world: World, changes: dict[str, Any]
) -> None:
    config = attrs.evolve(CONFIG, **changes)
    reasons = validate_multisig_config(config, ALICE)
    assert reasons and all(isinstance(reason, str) and len(reason) < 200 for reason in reasons)
    with world.refused():
        result = world.system.backend.as_caller(ALICE).deploy_multisig(config)
    assert result == Err(InvalidConfig(reasons))


# -- properties -----------------------------------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=1200)


@settings(max_examples=min(40, settings().max_examples))
@given(description=any_text)
def test_any_description_is_stored_verbatim_or_refused_without_a_trace(
    built: World, description: str
) -> None:
    world = built.reset()
    state = world.ic.state_of(world.wallet)
    result = world.as_(ALICE).propose(Freeze(), description)
    event("stored" if isinstance(result, Ok) else "refused")
    if isinstance(result, Ok):
        assert world.as_(ALICE).get_proposal(result.value).description == description
    else:
        invalid_proposal(result)
        assert world.ic.state_of(world.wallet) == state


@settings(max_examples=min(40, settings().max_examples))
@given(amount=st.one_of(st.integers(), st.integers(2**128 - 2, 2**128 + 2)))
def test_an_amount_is_proposed_exactly_when_it_is_a_nat_from_1_to_2_pow_128_minus_1(
    built: World, amount: int
) -> None:
    world = built.reset()
    state = world.ic.state_of(world.wallet)
    result = world.as_(ALICE).propose(world.transfer(amount))
    if 1 <= amount < 2**128:
        assert world.as_(ALICE).get_proposal(result.unwrap()).action.amount == amount
    else:
        invalid_proposal(result)
        assert world.ic.state_of(world.wallet) == state


@settings(max_examples=min(40, settings().max_examples))
@given(
    method=st.sampled_from(["approve", "reject", "execute"]),
    proposal_id=st.integers().filter(lambda n: n not in (0, 1)),
)
def test_every_id_but_the_wallets_own_is_unknown(
    built: World, method: str, proposal_id: int
) -> None:
    world = built.reset()
    with world.refused():
        result = getattr(world.as_(BOB), method)(proposal_id)
    assert result == Err(UnknownProposal(proposal_id))


junk = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=True), st.text(max_size=8), st.binary(max_size=8),
    st.lists(st.integers(), max_size=2), st.tuples(st.integers()),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)  # fmt: skip


@settings(max_examples=min(40, settings().max_examples))
@given(method=st.sampled_from(["approve", "reject", "execute", "propose"]), value=junk)
def test_any_argument_of_the_wrong_type_is_invalid_arguments(
    built: World, method: str, value: object
) -> None:
    world = built.reset()
    with world.refused():
        error = rejected(lambda: getattr(world.as_(ALICE), method)(value))
    assert isinstance(error, InvalidArguments)


member_lists = st.lists(
    st.tuples(st.sampled_from([ALICE, BOB, ERIN, ANONYMOUS, MANAGEMENT]), st.sampled_from(Role)),
    max_size=4,
).map(tuple)
config_fields = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(["Team", "名前 ✓"]), st.text(max_size=120)),
        "threshold": st.integers(-1, 4),
        "timelock": st.integers(-1, 10**18),
        "lifetime": st.integers(-1, 40 * 24 * HOUR),
        "members": st.one_of(st.just(((ALICE, Role.OWNER), (BOB, Role.SIGNER))), member_lists),
        "policies": st.lists(st.tuples(st.sampled_from(Kind), st.integers(0, 4)), max_size=2).map(
            tuple
        ),
        "is_public": st.booleans(),
        "description": any_text,
    },
)
one_junk_field = st.one_of(
    st.just({}),
    st.builds(
        lambda field, value: {field: value},
        st.sampled_from(sorted(attrs.fields_dict(MultisigConfig))),
        junk,
    ),
)


@settings(max_examples=min(40, settings().max_examples))
@given(changes=config_fields, junk_field=one_junk_field)
def test_a_paid_deployment_charges_the_fee_exactly_when_the_config_is_valid(
    built: World, changes: dict[str, Any], junk_field: dict[str, Any]
) -> None:
    world = built.reset()
    config = attrs.evolve(CONFIG, **(changes | junk_field))
    reasons = validate_multisig_config(config, ALICE)
    assert isinstance(reasons, tuple) and all(isinstance(reason, str) for reason in reasons)
    event("refused" if reasons else "deployed")
    backend = world.system.backend.as_caller(ALICE)
    if reasons:
        with world.refused():
            assert backend.deploy_multisig(config) == Err(InvalidConfig(reasons))
    else:
        before = world.system.icp_balance(ALICE)
        deployed = backend.deploy_multisig(config).unwrap()
        assert world.system.icp_balance(ALICE) == before - FEE - 10_000
        info = world.ic.actor(deployed.canister_id, ALICE).get_wallet_info()
        assert info.threshold == config.threshold and info.proposals == 0
        assert info.by_status[0] == (Status.PENDING, 0)
