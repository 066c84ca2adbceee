"""Attacks on a deployed multisig wallet: the real system's bugs B2, B3, B4, B12 and B14, each
tried by a stranger, by the wallet's observer, by a signer removed by an executed proposal and by
a stranger canister relaying the calls.

Every attack fails with a typed error (``Err(NotASigner)``, a ``CallRejected`` for what only the
factory may call, ``None`` or an empty page for a private read) and leaves the wallet's state,
the factory's index and every ICP balance exactly as they were. The rules those bugs broke hold
for the members too: only current voters' approvals count and a policy raises the approvals its
kind needs; transfers and changes wait out the timelock and become Executable at its end; no
change can leave fewer voters than the threshold, checked again at execution; the daily limit is
spent at execution and resets with the day; rejections end a proposal that can no longer pass;
member and visibility changes reach the factory's index even when the factory refuses them at
first; a private wallet shows nothing to outsiders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto import E8S, IC, Account, CallRejected, Canister, Err, Ok, Principal, update
from icto.factory import CREATOR, Page
from icto.ic.proxy import CanisterProxy
from icto.multisig import (
    OBSERVER,
    SIGNER,
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
    NotASigner,
    NotExecutable,
    Proposal,
    ProposalClosed,
    RemoveObserver,
    RemoveSigner,
    Role,
    SetDailyLimit,
    SetPolicy,
    Status,
    Transfer,
)
from icto.multisig.rules import DAY_NS
from icto.system import System, deploy_system
from tests.helpers import Relay, rejected

ALICE, BOB, CAROL, DAVE, ERIN, MALLORY = (
    Principal.from_name(name) for name in ("alice", "bob", "carol", "dave", "erin", "mallory")
)
RECIPIENT = Principal.from_name("recipient")
EVERYONE = (ALICE, BOB, CAROL, DAVE, ERIN, MALLORY, RECIPIENT)
HOUR = 3600 * 10**9
TIMELOCK = HOUR
FUNDS = 100 * E8S
LEDGER_FEE = 10_000
AMOUNT = 3 * E8S


class World:
    """The platform with one funded wallet (alice Owner, bob and carol Signers, dave Observer;
    2 of 3, 1 h timelock) and a relay canister, as two snapshots: as deployed, and after an
    executed ``RemoveSigner(carol)``."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.icp = self.system.icp_ledger.id
        self.factory = self.system.multisig_factory
        config = MultisigConfig(
            name="Treasury",
            members=((ALICE, Role.OWNER), (BOB, Role.SIGNER), (CAROL, Role.SIGNER),
                     (DAVE, Role.OBSERVER)),
            threshold=2, timelock=TIMELOCK,
        )  # fmt: skip
        self.system.faucet(ALICE, 10 * E8S)
        self.system.approve_backend(ALICE, 5 * E8S)
        deployed = self.system.backend.as_caller(ALICE).deploy_multisig(config).unwrap()
        self.wallet: Principal = deployed.canister_id
        self.system.faucet(self.wallet, FUNDS)
        self.relay = self.ic.deploy(Relay, None, caller=MALLORY)
        self.fresh = self.ic.snapshot()
        assert self.enact(RemoveSigner(CAROL)).status is Status.EXECUTED
        self.carol_removed = self.ic.snapshot()
        self.ic.restore(self.fresh)

    # -- acting -----------------------------------------------------------------------------------

    def as_(self, user: Principal) -> CanisterProxy:
        return self.ic.actor(self.wallet, user)

    def approved(self, action: Any, voters: tuple[Principal, ...] = (ALICE, BOB)) -> int:
        """A proposal of ``action`` made by the first of ``voters`` and approved by the others:
        it has reached the threshold and is in its timelock."""
        proposer, *approvers = voters
        proposal_id: int = self.as_(proposer).propose(action).unwrap()
        for approver in approvers:
            self.as_(approver).approve(proposal_id).unwrap()
        assert self.proposal(proposal_id).status is Status.APPROVED
        return proposal_id

    def enact(self, action: Any) -> Proposal:
        """Propose, approve, wait out the timelock and execute ``action``; the final proposal."""
        proposal_id = self.approved(action)
        self.ic.advance_time(nanos=TIMELOCK)
        executed: Proposal = self.as_(ALICE).execute(proposal_id).unwrap()
        return executed

    def transfer(self, amount: int = AMOUNT) -> Transfer:
        return Transfer(self.icp, Account(RECIPIENT), amount)

    # -- reading ----------------------------------------------------------------------------------

    def proposal(self, proposal_id: int) -> Proposal:
        found: Proposal = self.ic.state_of(self.wallet).proposals[proposal_id]
        return found

    def balances(self) -> dict[Principal, int]:
        holders = (*EVERYONE, self.wallet, self.relay.id)
        return {holder: self.system.icp_balance(holder) for holder in holders}

    def indexed_roles(self, user: Principal) -> set[str]:
        """The roles the factory lists for ``user`` in this wallet (asked by ``user``)."""
        page = self.factory.as_caller(user).get_my_contracts(user)
        return {
            role for entry in page.items if entry.info.id == self.wallet for role in entry.roles
        }

    def true_roles(self, user: Principal) -> set[str]:
        """The roles ``user`` holds according to the wallet itself."""
        state = self.ic.state_of(self.wallet)
        role = state.members.role(user)
        roles = {CREATOR} if user == state.meta.owner else set()
        if role is not None:
            roles.add(SIGNER if role.votes else OBSERVER)
        return roles

    def assert_index_exact(self) -> None:
        for user in EVERYONE:
            assert self.indexed_roles(user) == self.true_roles(user), user
        state = self.ic.state_of(self.wallet)
        info = self.factory.as_caller(ALICE).get_contract_info(self.wallet)
        assert info.is_public == state.meta.is_public
        observers = sum(1 for role in state.members.roles.values() if role is Role.OBSERVER)
        counts = {role: n for role, n in info.role_counts.items() if n}
        expected = {SIGNER: state.members.voters, OBSERVER: observers}
        assert counts == {role: n for role, n in expected.items() if n}

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """Assert that the block leaves the wallet, the factory's index and ICP balances as
        they were."""
        wallet = self.ic.state_of(self.wallet)
        index = self.ic.state_of(self.factory.id).index
        balances = self.balances()
        yield
        assert self.ic.state_of(self.wallet) == wallet
        assert self.ic.state_of(self.factory.id).index == index
        assert self.balances() == balances


@attrs.frozen
class Attacker:
    """Someone who may not act on the wallet: ``principal`` is who the wallet sees calling."""

    name: str
    world: World
    principal: Principal
    relay: CanisterProxy | None = None

    def call_on(self, target: Principal, method: str, *args: Any) -> Any:
        if self.relay is not None:
            return self.relay.as_caller(MALLORY).relay(target, method, args)
        return getattr(self.world.ic.actor(target, self.principal), method)(*args)

    def call(self, method: str, *args: Any) -> Any:
        return self.call_on(self.world.wallet, method, *args)


ATTACKERS = ("stranger", "observer", "removed signer", "stranger canister")
OUTSIDERS = ("stranger", "removed signer", "stranger canister")


def attacker_in(world: World, name: str) -> Attacker:
    """The attacker ``name``, in the world restored to where that attacker exists."""
    world.ic.restore(world.carol_removed if name == "removed signer" else world.fresh)
    principal = {"stranger": MALLORY, "observer": DAVE, "removed signer": CAROL}.get(name)
    if principal is None:
        return Attacker(name, world, world.relay.id, world.relay)
    return Attacker(name, world, principal)


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    built.ic.restore(built.fresh)
    return built


@pytest.fixture(params=ATTACKERS)
def attacker(request: pytest.FixtureRequest, built: World) -> Attacker:
    return attacker_in(built, request.param)


@pytest.fixture(params=OUTSIDERS)
def outsider(request: pytest.FixtureRequest, built: World) -> Attacker:
    return attacker_in(built, request.param)


# -- B2: spoofable upgrade callbacks ---------------------------------------------------------------

FACTORY_ONLY = (
    ("on_upgraded", ("9.9.9", None)),
    ("on_upgraded", ("1.0.0", "a failure that never happened")),
    ("on_visibility_changed", (True,)),
    ("on_deployed", ()),
)


@pytest.mark.parametrize(("method", "args"), FACTORY_ONLY)
def test_b2_no_attacker_can_play_the_factory(
    attacker: Attacker, method: str, args: tuple[Any, ...]
) -> None:
    world = attacker.world
    with world.unchanged():
        error = rejected(lambda: attacker.call(method, *args))
    assert "only this contract's factory" in error.message


@pytest.mark.parametrize("member", [ALICE, BOB, CAROL, DAVE])
@pytest.mark.parametrize(("method", "args"), FACTORY_ONLY)
def test_b2_no_member_not_even_the_owner_can_play_the_factory(
    world: World, member: Principal, method: str, args: tuple[Any, ...]
) -> None:
    meta = world.as_(ALICE).get_contract_meta()
    with world.unchanged():
        error = rejected(lambda: getattr(world.as_(member), method)(*args))
    assert "only this contract's factory" in error.message
    assert world.as_(ALICE).get_contract_meta() == meta
    info = world.factory.as_caller(ALICE).get_contract_info(world.wallet)
    assert (info.version, info.is_public) == ("1.0.0", False)


def test_b2_only_the_owner_may_have_the_wallet_ask_for_an_upgrade(attacker: Attacker) -> None:
    with attacker.world.unchanged():
        error = rejected(lambda: attacker.call("request_upgrade", None))
    assert "only the owner" in error.message


def test_b2_only_the_wallet_itself_may_ask_its_factory_for_an_upgrade(attacker: Attacker) -> None:
    world = attacker.world
    requests = world.ic.state_of(world.factory.id).upgrade_requests
    with world.unchanged():
        error = rejected(lambda: attacker.call_on(world.factory.id, "request_upgrade", None))
    assert "only a contract of this factory" in error.message
    assert world.ic.state_of(world.factory.id).upgrade_requests == requests


# -- B3: execution denial of service ---------------------------------------------------------------


def test_b3_an_attackers_execute_is_refused_before_and_after_the_timelock_and_locks_nothing(
    attacker: Attacker,
) -> None:
    world = attacker.world
    proposal_id = world.approved(world.transfer())
    refused = Err(NotASigner(attacker.principal))
    with world.unchanged():
        for _ in range(3):
            assert attacker.call("execute", proposal_id) == refused
    world.ic.advance_time(nanos=TIMELOCK)
    assert world.proposal(proposal_id).status is Status.EXECUTABLE
    with world.unchanged():
        for _ in range(3):
            assert attacker.call("execute", proposal_id) == refused
    recipient = world.system.icp_balance(RECIPIENT)
    done = world.as_(BOB).execute(proposal_id).unwrap()
    assert (done.status, done.executed_by) == (Status.EXECUTED, BOB)
    assert world.system.icp_balance(RECIPIENT) == recipient + AMOUNT


@pytest.mark.parametrize("proposal_id", [-1, 0, 1, 10**9])
def test_b3_an_attacker_learns_nothing_from_executing_any_id(
    attacker: Attacker, proposal_id: int
) -> None:
    with attacker.world.unchanged():
        assert attacker.call("execute", proposal_id) == Err(NotASigner(attacker.principal))


# -- B4: threshold logic ---------------------------------------------------------------------------


def test_b4_an_attacker_can_neither_propose_nor_vote(attacker: Attacker) -> None:
    world = attacker.world
    proposal_id = world.as_(ALICE).propose(world.transfer()).unwrap()
    refused = Err(NotASigner(attacker.principal))
    with world.unchanged():
        assert attacker.call("propose", Transfer(world.icp, Account(MALLORY), FUNDS // 2)) == (
            refused
        )
        assert attacker.call("propose", SetPolicy(Kind.TRANSFER, 1)) == refused
        assert attacker.call("approve", proposal_id) == refused
        assert attacker.call("reject", proposal_id) == refused
    assert world.proposal(proposal_id).status is Status.PENDING


def test_b4_a_policy_raises_the_approvals_its_kind_needs(world: World) -> None:
    assert world.enact(SetPolicy(Kind.ADD_SIGNER, 3)).status is Status.EXECUTED
    proposal_id = world.as_(ALICE).propose(AddSigner(ERIN)).unwrap()
    assert world.as_(BOB).approve(proposal_id) == Ok(Status.PENDING)
    assert world.proposal(proposal_id).threshold == 3
    world.ic.advance_time(days=1)
    assert world.proposal(proposal_id).status is Status.PENDING
    assert world.as_(BOB).execute(proposal_id) == Err(
        NotExecutable(proposal_id, Status.PENDING, None)
    )
    for outsider in (DAVE, MALLORY):
        assert world.as_(outsider).approve(proposal_id) == Err(NotASigner(outsider))
    assert world.proposal(proposal_id).status is Status.PENDING
    assert world.as_(CAROL).approve(proposal_id) == Ok(Status.APPROVED)
    world.ic.advance_time(nanos=TIMELOCK)
    assert world.as_(CAROL).execute(proposal_id).unwrap().status is Status.EXECUTED
    assert world.ic.state_of(world.wallet).members.role(ERIN) is Role.SIGNER


@pytest.mark.parametrize(
    "make", [
        lambda world: BatchTransfer((world.transfer(),)),
        lambda world: ChangeRole(DAVE, Role.SIGNER),
        lambda world: ChangeRole(CAROL, Role.OBSERVER),
        lambda world: SetPolicy(Kind.TRANSFER, None),
    ],
    ids=["a one-transfer batch", "an observer made a signer", "a signer made an observer",
         "the transfer policy removed"],
)  # fmt: skip
def test_b4_no_policy_is_gone_around_by_another_kind_of_proposal(
    world: World, make: Callable[[World], Any]
) -> None:
    """Transfers and signer changes take 3 approvals where the threshold is 2: a batch moves
    funds, a role change adds or removes a signer, and a policy cannot be removed with fewer
    approvals than it asks. (Erin joins first, so that a signer can be demoted.)"""
    assert world.enact(AddSigner(ERIN)).status is Status.EXECUTED
    for kind in (Kind.TRANSFER, Kind.ADD_SIGNER, Kind.REMOVE_SIGNER):
        assert world.enact(SetPolicy(kind, 3)).status is Status.EXECUTED
    proposal_id = world.as_(ALICE).propose(make(world)).unwrap()
    assert world.as_(BOB).approve(proposal_id) == Ok(Status.PENDING)
    assert world.proposal(proposal_id).threshold == 3


def _waits_out_a_new_timelock(world: World, proposal_id: int, approver: Principal) -> None:
    """``proposal_id`` fell short of its threshold: it is Pending again, with no approval
    time, and listed as such; ``approver`` brings it back to the threshold, which starts its
    timelock anew: it runs only once that has passed."""
    proposal = world.proposal(proposal_id)
    assert (proposal.status, proposal.approved_at) == (Status.PENDING, None)
    reader = world.as_(ALICE)
    assert proposal_id not in [p.id for p in reader.get_proposals(Status.EXECUTABLE)]
    assert proposal_id in [p.id for p in reader.get_proposals(Status.PENDING)]
    with world.unchanged():
        refusal = Err(NotExecutable(proposal_id, Status.PENDING, None))
        assert world.as_(ALICE).execute(proposal_id) == refusal
    world.ic.advance_time(hours=5)
    assert world.as_(approver).approve(proposal_id) == Ok(Status.APPROVED)
    again = world.ic.time
    assert world.proposal(proposal_id).approved_at == again
    refusal = Err(NotExecutable(proposal_id, Status.APPROVED, again + TIMELOCK))
    assert world.as_(approver).execute(proposal_id) == refusal
    world.ic.set_time(again + TIMELOCK - 1)
    assert world.proposal(proposal_id).status is Status.APPROVED
    world.ic.advance_time(nanos=1)
    assert world.as_(approver).execute(proposal_id).unwrap().status is Status.EXECUTED


def test_b4_a_proposal_a_raised_policy_leaves_short_is_pending_and_waits_a_new_timelock(
    world: World,
) -> None:
    add = world.approved(AddSigner(ERIN))
    policy = world.approved(SetPolicy(Kind.ADD_SIGNER, 3))
    world.ic.advance_time(nanos=TIMELOCK)
    assert world.proposal(add).status is Status.EXECUTABLE
    assert world.as_(ALICE).execute(policy).unwrap().status is Status.EXECUTED
    _waits_out_a_new_timelock(world, add, CAROL)


def test_b4_a_proposal_a_raised_threshold_leaves_short_is_pending_and_waits_a_new_timelock(
    world: World,
) -> None:
    """2 of 3 pays; the threshold then rises to 3: one more approval must not make the
    payment run at once on its old approval time."""
    payment = world.approved(world.transfer())
    raised = world.approved(ChangeThreshold(3))
    world.ic.advance_time(nanos=TIMELOCK)
    assert world.as_(ALICE).execute(raised).unwrap().status is Status.EXECUTED
    recipient = world.system.icp_balance(RECIPIENT)
    _waits_out_a_new_timelock(world, payment, CAROL)
    assert world.system.icp_balance(RECIPIENT) == recipient + AMOUNT


def test_b4_a_removed_signers_approval_stops_counting(world: World) -> None:
    transfer = world.approved(world.transfer(), (ALICE, CAROL))
    removal = world.approved(RemoveSigner(CAROL))
    world.ic.advance_time(nanos=TIMELOCK)
    assert world.as_(ALICE).execute(removal).unwrap().status is Status.EXECUTED
    with world.unchanged():
        assert world.as_(CAROL).approve(transfer) == Err(NotASigner(CAROL))
    _waits_out_a_new_timelock(world, transfer, BOB)


TIMELOCKED = [
    pytest.param(lambda w: w.transfer(), id="Transfer"),
    pytest.param(lambda w: BatchTransfer((w.transfer(), w.transfer(E8S))), id="BatchTransfer"),
    pytest.param(lambda w: ChangeThreshold(3), id="ChangeThreshold"),
    pytest.param(lambda w: AddSigner(ERIN), id="AddSigner"),
    pytest.param(lambda w: AddObserver(ERIN), id="AddObserver"),
    pytest.param(lambda w: SetDailyLimit(w.icp, E8S), id="SetDailyLimit"),
    pytest.param(lambda w: ChangeVisibility(True), id="ChangeVisibility"),
    pytest.param(lambda w: Freeze(), id="Freeze"),
]


@pytest.mark.parametrize("make", TIMELOCKED)
def test_b4_every_kind_waits_out_the_timelock_and_becomes_executable_at_its_end(
    world: World, make: Callable[[World], Any]
) -> None:
    proposal_id = world.approved(make(world))
    approved_at = world.proposal(proposal_id).approved_at
    assert approved_at is not None
    due = approved_at + TIMELOCK
    with world.unchanged():
        assert world.as_(ALICE).execute(proposal_id) == Err(
            NotExecutable(proposal_id, Status.APPROVED, due)
        )
    world.ic.set_time(due - 1)
    assert world.proposal(proposal_id).status is Status.APPROVED
    assert world.as_(BOB).execute(proposal_id) == Err(
        NotExecutable(proposal_id, Status.APPROVED, due)
    )
    world.ic.advance_time(nanos=1)
    assert world.proposal(proposal_id).status is Status.EXECUTABLE
    done = world.as_(BOB).execute(proposal_id).unwrap()
    assert (done.status, done.finished_at) == (Status.EXECUTED, due)


@pytest.mark.parametrize(
    "action",
    [ChangeThreshold(4), ChangeThreshold(0), SetPolicy(Kind.ADD_SIGNER, 4)],
    ids=["threshold above the voters", "threshold zero", "policy above the voters"],
)
def test_b4_a_threshold_above_the_voters_is_invalid_at_creation(world: World, action: Any) -> None:
    with world.unchanged():
        result = world.as_(ALICE).propose(action)
    assert isinstance(result, Err) and isinstance(result.error, InvalidProposal)


@pytest.mark.parametrize(
    "raise_bar",
    [ChangeThreshold(3), SetPolicy(Kind.TRANSFER, 3)],
    ids=["threshold 3", "a transfer policy of 3"],
)
@pytest.mark.parametrize(
    "leave", [RemoveSigner(BOB), ChangeRole(BOB, Role.OBSERVER)], ids=["RemoveSigner", "ChangeRole"]
)
def test_b4_no_change_may_leave_fewer_voters_than_the_threshold_or_a_policy(
    world: World, raise_bar: Any, leave: Any
) -> None:
    assert world.enact(raise_bar).status is Status.EXECUTED
    with world.unchanged():
        result = world.as_(ALICE).propose(leave)
    assert isinstance(result, Err) and isinstance(result.error, InvalidProposal)
    assert any("voters would be left" in reason for reason in result.error.reasons)


AC, AB, ABC = (ALICE, CAROL), (ALICE, BOB), (ALICE, BOB, CAROL)


@pytest.mark.parametrize(
    ("first", "first_voters", "second", "second_voters"),
    [
        (RemoveSigner(BOB), AC, RemoveSigner(CAROL), AC),
        (RemoveSigner(CAROL), AB, ChangeThreshold(3), AB),
        (ChangeThreshold(3), AB, RemoveSigner(CAROL), ABC),
        (ChangeRole(BOB, Role.OBSERVER), AC, RemoveSigner(CAROL), AC),
    ],
    ids=["two removals", "removal, threshold", "threshold, removal", "demotion, removal"],
)
def test_b4_changes_valid_alone_are_checked_again_at_execution(
    world: World,
    first: Any,
    first_voters: tuple[Principal, ...],
    second: Any,
    second_voters: tuple[Principal, ...],
) -> None:
    one = world.approved(first, first_voters)
    two = world.approved(second, second_voters)
    world.ic.advance_time(nanos=TIMELOCK)
    assert world.as_(ALICE).execute(one).unwrap().status is Status.EXECUTED
    before = world.ic.state_of(world.wallet)
    failed = world.as_(ALICE).execute(two).unwrap()
    assert failed.status is Status.FAILED and failed.failure
    after = world.ic.state_of(world.wallet)
    assert (after.members, after.threshold) == (before.members, before.threshold)
    assert after.members.voters >= after.threshold
    assert world.as_(ALICE).execute(two) == Err(ProposalClosed(two, Status.FAILED))


def test_b4_the_daily_limit_is_spent_at_execution_and_resets_with_the_day(world: World) -> None:
    limit, amount = 2 * E8S, 3 * E8S // 2
    assert world.enact(SetDailyLimit(world.icp, limit)).status is Status.EXECUTED

    def spent_today() -> int:
        (entry,) = world.as_(ALICE).get_wallet_info().daily_limits
        assert entry[:2] == (world.icp, limit)
        spent: int = entry[2]
        return spent

    first, second = world.approved(world.transfer(amount)), world.approved(world.transfer(amount))
    assert spent_today() == 0
    world.ic.advance_time(nanos=TIMELOCK)
    wallet = world.system.icp_balance(world.wallet)
    assert world.as_(ALICE).execute(first).unwrap().status is Status.EXECUTED
    assert spent_today() == amount
    refused = world.as_(BOB).execute(second).unwrap()
    assert refused.status is Status.FAILED and "daily limit" in (refused.failure or "")
    assert spent_today() == amount
    assert world.system.icp_balance(world.wallet) == wallet - amount - LEDGER_FEE

    third = world.approved(world.transfer(amount))
    boundary = (world.ic.time // DAY_NS + 1) * DAY_NS
    world.ic.set_time(boundary - 1)
    assert world.proposal(third).status is Status.EXECUTABLE
    assert spent_today() == amount
    world.ic.advance_time(nanos=1)
    assert spent_today() == 0
    assert world.as_(ALICE).execute(third).unwrap().status is Status.EXECUTED
    assert spent_today() == amount


class OddLedger(Canister):
    """A canister a proposal names as a ledger, answering transfers with neither a block nor
    an error (any canister can be named)."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @update
    def icrc1_transfer(self, args: Any) -> str:
        return "garbage"


def test_b4_a_ledger_answering_neither_block_nor_error_fails_the_batch_and_keeps_its_spending(
    world: World,
) -> None:
    """The batch does not trap halfway: every transfer gets an outcome, the proposal is
    Failed with an event, and the odd ledger's spending stays counted (whether it moved is
    unknown), while the real transfer before it is paid once."""
    odd = world.ic.deploy(OddLedger).id
    assert world.enact(SetDailyLimit(odd, 5)).status is Status.EXECUTED
    batch = BatchTransfer((world.transfer(), Transfer(odd, Account(RECIPIENT), 3)))
    proposal_id = world.approved(batch)
    world.ic.advance_time(nanos=TIMELOCK)
    recipient = world.system.icp_balance(RECIPIENT)
    done = world.as_(ALICE).execute(proposal_id).unwrap()
    assert done.status is Status.FAILED and "transfer 1 of 2" in (done.failure or "")
    paid, unknown = done.outcomes
    assert paid.block is not None and unknown.block is None
    assert "neither a block nor an error" in str(unknown.error)
    assert world.system.icp_balance(RECIPIENT) == recipient + AMOUNT
    limits = {entry[0]: entry[2] for entry in world.as_(ALICE).get_wallet_info().daily_limits}
    assert limits[odd] == 3
    assert world.as_(ALICE).get_events(0, 1).items[0].kind == "Failed"


def test_b4_there_is_no_hidden_cap_on_what_a_wallet_may_send(world: World) -> None:
    large = 15_000 * E8S
    world.system.faucet(world.wallet, 2 * large)
    recipient = world.system.icp_balance(RECIPIENT)
    for _ in range(2):
        assert world.enact(world.transfer(large)).status is Status.EXECUTED
    assert world.system.icp_balance(RECIPIENT) == recipient + 2 * large


def test_b4_rejections_that_make_the_threshold_unreachable_reject_the_proposal(
    world: World,
) -> None:
    proposal_id = world.as_(ALICE).propose(world.transfer()).unwrap()
    for outsider in (DAVE, MALLORY):
        assert world.as_(outsider).reject(proposal_id) == Err(NotASigner(outsider))
    assert world.as_(BOB).reject(proposal_id) == Ok(Status.PENDING)
    assert world.as_(CAROL).reject(proposal_id) == Ok(Status.REJECTED)
    closed = Err(ProposalClosed(proposal_id, Status.REJECTED))
    with world.unchanged():
        assert world.as_(ALICE).execute(proposal_id) == closed
        assert world.as_(BOB).approve(proposal_id) == closed
    assert world.proposal(proposal_id).finished_at == world.ic.time


def test_b4_an_approved_proposal_rejected_by_the_rest_can_still_run(world: World) -> None:
    proposal_id = world.approved(world.transfer())
    assert world.as_(CAROL).reject(proposal_id) == Ok(Status.APPROVED)
    world.ic.advance_time(nanos=TIMELOCK)
    assert world.as_(BOB).execute(proposal_id).unwrap().status is Status.EXECUTED


def test_b4_a_pending_proposal_is_approved_as_soon_as_a_lower_threshold_is_in_force(
    world: World,
) -> None:
    proposal_id = world.as_(ALICE).propose(world.transfer()).unwrap()
    assert world.enact(ChangeThreshold(1)).status is Status.EXECUTED
    assert world.proposal(proposal_id).status is Status.APPROVED
    world.ic.advance_time(nanos=TIMELOCK)
    assert world.as_(ALICE).execute(proposal_id).unwrap().status is Status.EXECUTED


def test_b4_a_pending_proposal_is_rejected_as_soon_as_a_removal_makes_it_unreachable(
    world: World,
) -> None:
    proposal_id = world.as_(BOB).propose(world.transfer()).unwrap()
    assert world.as_(ALICE).reject(proposal_id) == Ok(Status.PENDING)
    assert world.enact(RemoveSigner(CAROL)).status is Status.EXECUTED
    assert world.proposal(proposal_id).status is Status.REJECTED


# -- B12: index drift ------------------------------------------------------------------------------

NOTIFICATIONS = (
    "notify_participant_added",
    "notify_participant_removed",
    "notify_visibility_changed",
)


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("notify_participant_added", (MALLORY, SIGNER)),
        ("notify_participant_removed", (ALICE, SIGNER)),
        ("notify_visibility_changed", (True,)),
        ("notify_deployment_complete", ()),
    ],
)
def test_b12_no_attacker_can_write_the_factorys_index(
    attacker: Attacker, method: str, args: tuple[Any, ...]
) -> None:
    world = attacker.world
    with world.unchanged():
        error = rejected(lambda: attacker.call_on(world.factory.id, method, *args))
    assert "only a contract of this factory" in error.message
    world.assert_index_exact()


def test_b12_anyone_may_hurry_a_resend_but_it_carries_only_the_wallets_truth(
    attacker: Attacker,
) -> None:
    world = attacker.world
    with world.unchanged():
        assert attacker.call("sync_roles") == 0
    world.assert_index_exact()


CHANGES = {
    "AddSigner": AddSigner(ERIN),
    "AddSigner as Owner": AddSigner(ERIN, Role.OWNER),
    "AddObserver": AddObserver(ERIN),
    "RemoveSigner": RemoveSigner(CAROL),
    "RemoveObserver": RemoveObserver(DAVE),
    "observer to Signer": ChangeRole(DAVE, Role.SIGNER),
    "Signer to observer": ChangeRole(BOB, Role.OBSERVER),
    "Signer to Owner": ChangeRole(BOB, Role.OWNER),
    "ChangeVisibility": ChangeVisibility(True),
}
NOTIFIED = {name: change for name, change in CHANGES.items() if name != "Signer to Owner"}
"""The changes the factory hears of (Owners and Signers are both indexed as ``signer``)."""


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_b12_member_and_visibility_changes_reach_the_factorys_index(
    world: World, change: Any
) -> None:
    world.assert_index_exact()
    assert world.enact(change).status is Status.EXECUTED
    world.assert_index_exact()


@pytest.mark.parametrize("change", NOTIFIED.values(), ids=NOTIFIED.keys())
def test_b12_a_factory_that_refuses_a_notification_at_first_is_told_again(
    world: World, change: Any
) -> None:
    proposal_id = world.approved(change)
    world.ic.advance_time(nanos=TIMELOCK)
    with ExitStack() as stack:
        for method in NOTIFICATIONS:
            stack.enter_context(
                world.ic.faults.reject(canister=world.factory.id, method=method, times=1)
            )
        assert world.as_(ALICE).execute(proposal_id).unwrap().status is Status.EXECUTED
    assert world.as_(ALICE).get_contract_meta().pending_notifications > 0
    with pytest.raises(AssertionError):
        world.assert_index_exact()
    world.ic.advance_time(seconds=61)
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 0
    world.assert_index_exact()


def test_b12_a_signer_added_while_the_factory_refuses_is_indexed_after_the_retry(
    world: World,
) -> None:
    proposal_id = world.approved(AddSigner(ERIN))
    world.ic.advance_time(nanos=TIMELOCK)
    world.ic.faults.reject(canister=world.factory.id, method="notify_participant_added", times=1)
    assert world.as_(ALICE).execute(proposal_id).unwrap().status is Status.EXECUTED
    assert world.indexed_roles(ERIN) == set()
    world.ic.advance_time(seconds=61)
    assert world.indexed_roles(ERIN) == {SIGNER}
    world.assert_index_exact()


def test_b12_a_factory_that_keeps_refusing_is_told_again_until_it_takes_the_change(
    world: World,
) -> None:
    proposal_id = world.approved(RemoveSigner(CAROL))
    world.ic.advance_time(nanos=TIMELOCK)
    with world.ic.faults.reject(
        canister=world.factory.id, method="notify_participant_removed", times=3
    ) as rule:
        assert world.as_(ALICE).execute(proposal_id).unwrap().status is Status.EXECUTED
        world.ic.advance_time(seconds=121)
        assert world.indexed_roles(CAROL) == {SIGNER}
        world.ic.advance_time(seconds=60)
        assert rule.fired == 3
    world.assert_index_exact()


def test_b12_visibility_flipped_twice_while_the_factory_refuses_ends_as_the_wallet_says(
    world: World,
) -> None:
    to_public = world.approved(ChangeVisibility(True))
    world.ic.advance_time(nanos=TIMELOCK)
    with world.ic.faults.reject(
        canister=world.factory.id, method="notify_visibility_changed", times=None
    ):
        assert world.as_(ALICE).execute(to_public).unwrap().status is Status.EXECUTED
        assert world.factory.as_caller(ALICE).get_contract_info(world.wallet).is_public is False
        assert world.as_(MALLORY).get_wallet_info() is not None
        assert world.enact(ChangeVisibility(False)).status is Status.EXECUTED
    world.ic.advance_time(seconds=61)
    assert world.factory.as_caller(ALICE).get_contract_info(world.wallet).is_public is False
    assert world.as_(MALLORY).get_wallet_info() is None
    world.assert_index_exact()


# -- B14: privacy ----------------------------------------------------------------------------------

NOTHING: Page[Any] = Page((), None, None)


def test_b14_a_private_wallet_shows_outsiders_nothing(outsider: Attacker) -> None:
    world = outsider.world
    world.as_(ALICE).propose(world.transfer())
    total = len(world.ic.state_of(world.wallet).proposals)
    with world.unchanged():
        assert outsider.call("get_wallet_info") is None
        for proposal_id in (*range(total), total, -1):
            assert outsider.call("get_proposal", proposal_id) is None
        assert outsider.call("get_proposals") == NOTHING
        for status in Status:
            assert outsider.call("get_proposals", status) == NOTHING
        assert outsider.call("get_events", 0, 100) == NOTHING
        assert outsider.call_on(world.factory.id, "get_contract_info", world.wallet) is None
    if outsider.relay is None:
        assert outsider.call("get_balances", (world.icp,)) == ()


@pytest.mark.parametrize("member", [ALICE, BOB, CAROL, DAVE])
def test_b14_every_member_and_the_observer_read_everything(world: World, member: Principal) -> None:
    pending = world.as_(ALICE).propose(world.transfer()).unwrap()
    done = world.enact(AddObserver(ERIN)).id
    state = world.ic.state_of(world.wallet)
    reader = world.as_(member)
    info = reader.get_wallet_info()
    assert info == world.as_(ALICE).get_wallet_info()
    assert (info.proposals, info.is_public) == (2, False)
    for proposal_id in (pending, done):
        assert reader.get_proposal(proposal_id) == state.proposals[proposal_id]
    page = reader.get_proposals()
    assert [p.id for p in page.items] == [done, pending] and page.total == 2
    assert reader.get_events(0, 100).total == len(state.events)
    (balance,) = reader.get_balances((world.icp,))
    expected = (world.icp, world.system.icp_balance(world.wallet), None)
    assert (balance.ledger, balance.balance, balance.error) == expected


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_b14_no_one_makes_a_private_wallet_public_but_a_change_visibility_proposal(
    world: World, who: str
) -> None:
    factory = world.factory.as_caller(ALICE) if who == "owner" else world.factory
    state = world.ic.state_of(world.wallet)
    result = factory.set_contract_visibility(world.wallet, True)
    assert isinstance(result, Err), result
    assert world.ic.state_of(world.wallet) == state
    assert world.as_(MALLORY).get_wallet_info() is None
    world.assert_index_exact()


def test_b14_a_refused_listing_stays_refused_when_the_factory_traps_after_it(world: World) -> None:
    """The wallet refuses the factory's listing and the factory's message then traps: the
    index keeps the wallet private (it used to keep the listing the wallet refused, the trap
    rolling back the index's restore)."""
    with world.ic.faults.trap(canister=world.factory.id, method="set_contract_visibility"):
        rejected(lambda: world.factory.set_contract_visibility(world.wallet, True))
    assert world.ic.state_of(world.wallet).meta.is_public is False
    stranger = Principal.from_name("stranger")
    assert world.factory.as_caller(stranger).get_contract_info(world.wallet) is None
    assert world.wallet not in [info.id for info in world.factory.get_public_contracts().items]
    world.assert_index_exact()


def test_b14_once_the_wallet_is_made_public_outsiders_read_it(outsider: Attacker) -> None:
    world = outsider.world
    world.as_(ALICE).propose(world.transfer())
    assert world.enact(ChangeVisibility(True)).status is Status.EXECUTED
    state = world.ic.state_of(world.wallet)
    total = len(state.proposals)
    info = outsider.call("get_wallet_info")
    assert info is not None and info.is_public and info.proposals == total
    assert outsider.call("get_proposal", total - 1) == state.proposals[total - 1]
    assert outsider.call("get_proposals").total == total
    assert outsider.call("get_events", 0, 100).total == len(state.events)
    assert outsider.call_on(world.factory.id, "get_contract_info", world.wallet).is_public


# -- every attack at once --------------------------------------------------------------------------

HOSTILE_ACTIONS = (
    Transfer(Principal.management_canister(), Account(MALLORY), 1), AddSigner(MALLORY),
    SetPolicy(Kind.TRANSFER, 1), ChangeThreshold(1), ChangeVisibility(True), Freeze(),
)  # fmt: skip
ids = st.one_of(st.integers(-2, 3), st.just(10**9))
attempts = st.one_of(
    st.tuples(st.sampled_from(("approve", "reject", "execute")), st.tuples(ids)),
    st.tuples(st.just("propose"), st.tuples(st.sampled_from(HOSTILE_ACTIONS))),
    st.sampled_from(FACTORY_ONLY),
    st.just(("request_upgrade", (None,))),
    st.just(("sync_roles", ())),
)


@settings(max_examples=min(40, settings().max_examples))
@given(name=st.sampled_from(ATTACKERS), calls=st.lists(attempts, max_size=12))
def test_no_sequence_of_attacks_changes_the_wallet_or_stops_its_signers(
    built: World, name: str, calls: list[tuple[str, tuple[Any, ...]]]
) -> None:
    attacker = attacker_in(built, name)
    world = attacker.world
    proposal_id = world.approved(world.transfer())
    world.ic.advance_time(nanos=TIMELOCK)
    with world.unchanged():
        for method, args in calls:
            try:
                result = attacker.call(method, *args)
            except CallRejected:
                continue
            assert result in (Err(NotASigner(attacker.principal)), 0)
    assert world.as_(BOB).execute(proposal_id).unwrap().status is Status.EXECUTED
