"""Version management of multisig wallets: a wallet upgraded by its factory keeps everything.

A new wallet version (1.1.0, whose state adds a ``notes`` field and migrates the old state in
``post_upgrade``) is uploaded to the Multisig Factory. Upgrading a wallet that holds executed,
rejected, pending and approved proposals keeps every proposal, member, event, limit and the
factory's index of it; the wallet then runs 1.1.0 and the factory says so. Timers do not survive
an upgrade, so the wallet re-arms its deadline timer: an Approved proposal still becomes
Executable at the exact end of its timelock, and a pending one still expires at its instant; a
notification the factory did not take is still resent. Only the owner or an admin may upgrade;
a rollback to 1.0.0 is allowed (1.0.0 takes the newer state), a "downgrade" through
``upgrade_contract`` is refused, and a migration that traps leaves the wallet exactly as it was.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from icto import E8S, IC, Account, Err, Ok, Principal, Trap, query
from icto.factory import CREATOR, ContractInit, NotEligible, UpgradeFailed
from icto.ic.proxy import CanisterProxy
from icto.multisig import (
    OBSERVER,
    SIGNER,
    AddObserver,
    AddSigner,
    ChangeThreshold,
    ChangeVisibility,
    Freeze,
    MultisigConfig,
    MultisigWallet,
    Proposal,
    Role,
    Status,
    Transfer,
    WalletState,
)
from icto.system import System, deploy_system
from tests.helpers import rejected

ALICE, BOB, CAROL, DAVE, ERIN, FRANK, MALLORY = (
    Principal.from_name(name)
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "mallory")
)
RECIPIENT = Principal.from_name("recipient")
EVERYONE = (ALICE, BOB, CAROL, DAVE, ERIN, FRANK, MALLORY)
HOUR = 3600 * 10**9
TIMELOCK = HOUR


@attrs.frozen
class WalletStateV2(WalletState):
    notes: str = ""


class MultisigWalletV2(MultisigWallet):
    """Wallet 1.1.0: the state carries notes; the 1.0.0 state is migrated on upgrade."""

    VERSION = "1.1.0"

    state: WalletStateV2

    def init(self, arg: ContractInit) -> None:
        super().init(arg)
        self.state = WalletStateV2(**attrs.asdict(self.state, recurse=False))

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        super().post_upgrade(WalletStateV2(**attrs.asdict(stable, recurse=False)), arg)

    @query
    def get_notes(self) -> str | None:
        return self.state.notes if self._may_read() else None


class MultisigWalletV3(MultisigWalletV2):
    VERSION = "1.2.0"


class MultisigWalletV4(MultisigWalletV2):
    VERSION = "1.3.0"


class MultisigWalletBrokenMigration(MultisigWalletV2):
    """A 1.2.0 whose migration traps."""

    VERSION = "1.2.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        raise Trap("cannot migrate")


class World:
    """The platform, with 1.1.0 uploaded, and one funded wallet (alice Owner, bob and carol
    Signers, dave Observer; 2 of 3, 1 h timelock, a daily limit) holding proposals of every
    kind of status: executed (0, 1), rejected (2), pending (3), approved in its timelock (4)."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.icp = self.system.icp_ledger.id
        self.factory = self.system.multisig_factory
        config = MultisigConfig(
            name="Treasury",
            members=((ALICE, Role.OWNER), (BOB, Role.SIGNER), (CAROL, Role.SIGNER),
                     (DAVE, Role.OBSERVER)),
            threshold=2, timelock=TIMELOCK, daily_limits=((self.icp, 10 * E8S),),
        )  # fmt: skip
        self.system.faucet(ALICE, 10 * E8S)
        self.system.approve_backend(ALICE, 5 * E8S)
        deployed = self.system.backend.as_caller(ALICE).deploy_multisig(config).unwrap()
        self.wallet: Principal = deployed.canister_id
        self.system.faucet(self.wallet, 100 * E8S)
        self.executed = (self.enact(AddObserver(ERIN)), self.enact(self.transfer(2 * E8S)))
        self.rejected = self.as_(ALICE).propose(Freeze()).unwrap()
        for voter in (BOB, CAROL):
            self.as_(voter).reject(self.rejected).unwrap()
        self.pending = self.as_(BOB).propose(self.transfer(E8S), "rent").unwrap()
        self.approved = self.approve(ChangeThreshold(3))
        self.ic.advance_time(minutes=30)
        uploaded = self.factory.upload_version("1.1.0", MultisigWalletV2, "adds notes")
        assert uploaded == Ok("1.1.0")
        self.snapshot = self.ic.snapshot()

    def as_(self, user: Principal) -> CanisterProxy:
        return self.ic.actor(self.wallet, user)

    def transfer(self, amount: int) -> Transfer:
        return Transfer(self.icp, Account(RECIPIENT), amount)

    def approve(self, action: Any) -> int:
        proposal_id: int = self.as_(ALICE).propose(action).unwrap()
        assert self.as_(BOB).approve(proposal_id) == Ok(Status.APPROVED)
        return proposal_id

    def enact(self, action: Any) -> int:
        proposal_id = self.approve(action)
        self.ic.advance_time(nanos=TIMELOCK)
        assert self.as_(ALICE).execute(proposal_id).unwrap().status is Status.EXECUTED
        return proposal_id

    def proposal(self, proposal_id: int) -> Proposal:
        found: Proposal = self.ic.state_of(self.wallet).proposals[proposal_id]
        return found

    def reset(self) -> World:
        self.ic.restore(self.snapshot)
        return self

    def view(self) -> dict[str, Any]:
        """Everything the wallet and the factory show of the wallet, but its version."""
        reader = self.as_(DAVE)
        info = self.factory.as_caller(ALICE).get_contract_info(self.wallet)
        return {
            "wallet": reader.get_wallet_info(),
            "proposals": reader.get_proposals(None, 0, 1000),
            "events": reader.get_events(0, 1000),
            "balances": reader.get_balances((self.icp,)),
            "info": attrs.evolve(info, version="?"),
            "roles": {user: self.indexed_roles(user) for user in EVERYONE},
        }

    def kept_state(self) -> dict[str, Any]:
        """The wallet's state fields, but the timer (re-armed on upgrade) and the notes."""
        fields = attrs.asdict(self.ic.state_of(self.wallet), recurse=False)
        return {name: value for name, value in fields.items() if name not in ("timer", "notes")}

    def indexed_roles(self, user: Principal) -> set[str]:
        page = self.factory.as_caller(user).get_my_contracts(user)
        return {
            role for entry in page.items if entry.info.id == self.wallet for role in entry.roles
        }

    def version(self) -> str:
        info = self.factory.as_caller(ALICE).get_contract_info(self.wallet)
        running: str = self.as_(ALICE).get_contract_meta().version
        assert info.version == running
        return running


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    return built.reset()


# -- upgrading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("upgrader", ["owner", "admin"])
def test_an_upgrade_keeps_every_proposal_member_event_and_index_entry(
    world: World, upgrader: str
) -> None:
    view, state = world.view(), world.kept_state()
    factory = world.factory.as_caller(ALICE) if upgrader == "owner" else world.factory
    assert factory.upgrade_contract(world.wallet) == Ok("1.1.0")
    assert world.ic.code_of(world.wallet) is MultisigWalletV2
    assert isinstance(world.ic.state_of(world.wallet), WalletStateV2)
    assert world.version() == "1.1.0"
    assert world.kept_state() == state
    assert world.view() == view
    assert world.as_(ALICE).get_notes() == ""
    (record,) = world.factory.get_upgrade_history(world.wallet)
    assert (record.kind, record.from_version, record.to_version, record.ok) == (
        "upgrade", "1.0.0", "1.1.0", True,
    )  # fmt: skip


def test_the_index_still_names_every_role_after_an_upgrade(world: World) -> None:
    world.factory.as_caller(ALICE).upgrade_contract(world.wallet).unwrap()
    expected = {
        ALICE: {CREATOR, SIGNER}, BOB: {SIGNER}, CAROL: {SIGNER}, DAVE: {OBSERVER},
        ERIN: {OBSERVER}, FRANK: set(), MALLORY: set(),
    }  # fmt: skip
    assert {user: world.indexed_roles(user) for user in EVERYONE} == expected


@pytest.mark.parametrize("user", [BOB, DAVE, MALLORY])
@pytest.mark.parametrize(
    ("move", "version"), [("upgrade_contract", None), ("rollback_contract", "1.0.0")]
)
def test_only_the_owner_or_an_admin_may_change_a_wallets_code(
    world: World, user: Principal, move: str, version: str | None
) -> None:
    state = world.ic.state_of(world.wallet)
    factory = world.factory.as_caller(user)
    error = rejected(lambda: getattr(factory, move)(world.wallet, version))
    assert "Unauthorized" in error.message
    assert world.ic.state_of(world.wallet) == state
    assert world.ic.code_of(world.wallet) is MultisigWallet
    assert world.version() == "1.0.0"


def test_an_approved_proposal_becomes_executable_at_its_instant_after_an_upgrade(
    world: World,
) -> None:
    approved_at = world.proposal(world.approved).approved_at
    assert approved_at is not None
    due = approved_at + TIMELOCK
    world.factory.as_caller(ALICE).upgrade_contract(world.wallet).unwrap()
    assert world.ic.state_of(world.wallet).timer is not None
    world.ic.set_time(due - 1)
    assert world.proposal(world.approved).status is Status.APPROVED
    world.ic.advance_time(nanos=1)
    assert world.proposal(world.approved).status is Status.EXECUTABLE
    done = world.as_(CAROL).execute(world.approved).unwrap()
    assert (done.status, done.finished_at) == (Status.EXECUTED, due)
    assert world.as_(ALICE).get_wallet_info().threshold == 3


def test_a_pending_proposal_still_expires_at_its_instant_after_an_upgrade(world: World) -> None:
    expires_at = world.proposal(world.pending).expires_at
    world.factory.as_caller(ALICE).upgrade_contract(world.wallet).unwrap()
    world.ic.set_time(expires_at - 1)
    assert world.proposal(world.pending).status is Status.PENDING
    world.ic.advance_time(nanos=1)
    expired = world.proposal(world.pending)
    assert (expired.status, expired.finished_at) == (Status.EXPIRED, expires_at)


def test_an_upgraded_wallet_keeps_working(world: World) -> None:
    world.factory.as_caller(ALICE).upgrade_contract(world.wallet).unwrap()
    assert world.as_(CAROL).approve(world.pending) == Ok(Status.APPROVED)
    world.ic.advance_time(nanos=TIMELOCK)
    recipient = world.system.icp_balance(RECIPIENT)
    assert world.as_(BOB).execute(world.pending).unwrap().status is Status.EXECUTED
    assert world.system.icp_balance(RECIPIENT) == recipient + E8S
    (daily,) = world.as_(ALICE).get_wallet_info().daily_limits
    assert daily[2] == 3 * E8S
    new = world.as_(ALICE).propose(AddSigner(FRANK)).unwrap()
    assert world.as_(BOB).approve(new) == Ok(Status.APPROVED)


@pytest.mark.parametrize(
    ("change", "method", "user", "role"),
    [
        (AddSigner(FRANK), "notify_participant_added", FRANK, {SIGNER}),
        (ChangeVisibility(True), "notify_visibility_changed", None, None),
    ],
    ids=["AddSigner", "ChangeVisibility"],
)
def test_a_notification_the_factory_did_not_take_is_resent_after_an_upgrade(
    world: World, change: Any, method: str, user: Principal | None, role: set[str] | None
) -> None:
    proposal_id = world.approve(change)
    world.ic.advance_time(nanos=TIMELOCK)
    with world.ic.faults.reject(canister=world.factory.id, method=method, times=None):
        assert world.as_(ALICE).execute(proposal_id).unwrap().status is Status.EXECUTED
        world.factory.as_caller(ALICE).upgrade_contract(world.wallet).unwrap()
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 1
    world.ic.advance_time(seconds=61)
    assert world.as_(ALICE).get_contract_meta().pending_notifications == 0
    if user is not None:
        assert world.indexed_roles(user) == role
    else:
        assert world.factory.as_caller(MALLORY).get_contract_info(world.wallet).is_public


def test_a_wallet_asks_its_factory_for_an_upgrade_and_hears_the_outcome(world: World) -> None:
    assert world.as_(ALICE).request_upgrade("1.1.0") == Ok("1.1.0")
    assert world.as_(ALICE).get_contract_meta().upgrade_requested == "1.1.0"
    world.ic.tick()
    meta = world.as_(ALICE).get_contract_meta()
    assert (meta.version, meta.upgrade_requested, meta.last_upgrade) == (
        "1.1.0", None, ("1.1.0", None),
    )  # fmt: skip
    assert world.version() == "1.1.0"


def test_an_opted_in_wallet_is_upgraded_when_a_version_is_published(world: World) -> None:
    world.factory.as_caller(ALICE).set_auto_update(world.wallet, True)
    view, state = world.view(), world.kept_state()
    assert world.factory.upload_version("1.2.0", MultisigWalletV3) == Ok("1.2.0")
    report = world.factory.get_upgrade_report("1.2.0")
    assert report.upgraded == (world.wallet,)
    assert world.version() == "1.2.0"
    assert (world.kept_state(), world.view()) == (state, view)


def test_a_new_wallet_is_installed_from_the_latest_stable_version(world: World) -> None:
    config = MultisigConfig(name="Second", members=((ALICE, Role.OWNER),), threshold=1)
    second = world.system.backend.as_caller(ALICE).deploy_multisig(config).unwrap().canister_id
    assert world.ic.code_of(second) is MultisigWalletV2
    assert world.ic.actor(second, ALICE).get_notes() == ""
    assert world.factory.as_caller(ALICE).get_contract_info(second).version == "1.1.0"


# -- refusals and rollbacks -----------------------------------------------------------------------


def test_a_migration_that_traps_leaves_the_wallet_exactly_as_it_was(world: World) -> None:
    assert world.factory.upload_version("1.2.0", MultisigWalletBrokenMigration) == Ok("1.2.0")
    state, view = world.ic.state_of(world.wallet), world.view()
    result = world.factory.as_caller(ALICE).upgrade_contract(world.wallet, "1.2.0")
    assert isinstance(result, Err) and isinstance(result.error, UpgradeFailed)
    assert "cannot migrate" in result.error.reason
    assert world.ic.code_of(world.wallet) is MultisigWallet
    assert world.ic.state_of(world.wallet) == state
    assert (world.version(), world.view()) == ("1.0.0", view)
    approved_at = world.proposal(world.approved).approved_at
    assert approved_at is not None
    world.ic.set_time(approved_at + TIMELOCK)
    assert world.proposal(world.approved).status is Status.EXECUTABLE


def test_a_wallet_rolls_back_to_1_0_0_keeping_everything(world: World) -> None:
    view, state = world.view(), world.kept_state()
    factory = world.factory.as_caller(ALICE)
    factory.upgrade_contract(world.wallet).unwrap()
    assert factory.rollback_contract(world.wallet, "1.0.0") == Ok("1.0.0")
    assert world.ic.code_of(world.wallet) is MultisigWallet
    assert world.version() == "1.0.0"
    assert (world.kept_state(), world.view()) == (state, view)
    approved_at = world.proposal(world.approved).approved_at
    assert approved_at is not None
    world.ic.set_time(approved_at + TIMELOCK)
    assert world.proposal(world.approved).status is Status.EXECUTABLE
    state = world.kept_state()
    assert factory.upgrade_contract(world.wallet) == Ok("1.1.0")
    assert (world.kept_state(), world.version()) == (state, "1.1.0")
    kinds = [record.kind for record in world.factory.get_upgrade_history(world.wallet)]
    assert kinds == ["upgrade", "rollback", "upgrade"]


@pytest.mark.parametrize(
    ("move", "version"),
    [
        ("upgrade_contract", "1.0.0"),
        ("upgrade_contract", "1.1.0"),
        ("rollback_contract", "1.1.0"),
        ("rollback_contract", "1.2.0"),
    ],
)
def test_an_upgrade_to_an_older_version_or_a_rollback_to_a_newer_one_is_refused(
    world: World, move: str, version: str
) -> None:
    world.factory.as_caller(ALICE).upgrade_contract(world.wallet).unwrap()
    world.factory.upload_version("1.2.0", MultisigWalletV3, stable=False).unwrap()
    state = world.ic.state_of(world.wallet)
    result = getattr(world.factory.as_caller(ALICE), move)(world.wallet, version)
    assert isinstance(result, Err) and isinstance(result.error, NotEligible)
    assert world.ic.state_of(world.wallet) == state
    assert world.version() == "1.1.0"


def test_no_rollback_to_a_version_that_declares_it_cannot_take_a_newer_state(
    world: World,
) -> None:
    world.factory.upload_version("1.2.0", MultisigWalletV3, accepts_rollback=False).unwrap()
    world.factory.upload_version("1.3.0", MultisigWalletV4).unwrap()
    factory = world.factory.as_caller(ALICE)
    assert factory.upgrade_contract(world.wallet) == Ok("1.3.0")
    state = world.ic.state_of(world.wallet)
    result = factory.rollback_contract(world.wallet, "1.2.0")
    assert isinstance(result, Err) and isinstance(result.error, NotEligible)
    assert world.ic.state_of(world.wallet) == state
    assert world.version() == "1.3.0"
    assert factory.rollback_contract(world.wallet, "1.1.0") == Ok("1.1.0")
