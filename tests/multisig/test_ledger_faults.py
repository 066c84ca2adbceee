"""A wallet paying in a platform token whose transfer commits and then fails: nothing is paid
twice, and no proposal is recorded as paid, or as failed, when it was not.

A Token (Token Factory) commits a transfer and then tells its factory about a new holder; a trap
after that await rolls back only what follows, so the wallet gets a reject for a transfer that
happened. Every transfer is one ledger request (its memo and ``created_at_time``), sent again
identical after a reject: the token answers ``Duplicate`` with the block of the first, or its
log says whether it ran. A transfer whose outcome stays in doubt leaves the proposal Executing,
its spending counted; executing it again settles it, even past the ledger's deduplication window
and the proposal's lifetime. In every case the proposal's blocks are exactly the wallet's
payments in the token's log.
"""

from __future__ import annotations

from typing import Any

import pytest

from icto import E8S, IC, Account, Err, Principal, TransferArgs
from icto.ic.proxy import CanisterProxy
from icto.ledger.ledger import Ledger
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import Block, TemporarilyUnavailable
from icto.multisig import (
    BatchTransfer,
    MultisigConfig,
    Proposal,
    ProposalClosed,
    Role,
    Status,
    Transfer,
)
from icto.system import System, deploy_system
from icto.token import TokenConfig
from tests.helpers import Relay

ALICE, BOB, CAROL = (Principal.from_name(name) for name in ("alice", "bob", "carol"))
RECIPIENT = Principal.from_name("recipient")
"""Holds no tokens: the token awaits its factory when paying them the first time."""
HOUR = 3600 * 10**9
DAY = 24 * HOUR
TIMELOCK = HOUR
FUNDS = 100 * E8S
AMOUNT = 3 * E8S
TOKEN_FEE = 10_000


class World:
    """The platform, a token bob holds, and a wallet (alice Owner, bob and carol Signers; 2 of
    3, 1 h timelock, a daily limit on the token) funded with the token by bob."""

    def __init__(self) -> None:
        self.ic = IC()
        self.system: System = deploy_system(self.ic)
        self.system.faucet(ALICE, 10 * E8S)
        self.system.approve_backend(ALICE, 5 * E8S)
        backend = self.system.backend.as_caller(ALICE)
        holders = ((Account(BOB), 1_000 * E8S),)
        token = TokenConfig(name="Team Token", symbol="TEAM", initial_balances=holders)
        self.token: CanisterProxy = self.ic.actor(
            backend.deploy_token(token).unwrap().canister_id, BOB
        )
        config = MultisigConfig(
            name="Treasury", threshold=2, timelock=TIMELOCK,
            members=((ALICE, Role.OWNER), (BOB, Role.SIGNER), (CAROL, Role.SIGNER)),
            daily_limits=((self.token.id, 50 * E8S),),
        )  # fmt: skip
        self.wallet: Principal = backend.deploy_multisig(config).unwrap().canister_id
        self.token.icrc1_transfer(TransferArgs(to=Account(self.wallet), amount=FUNDS)).unwrap()
        self.snapshot = self.ic.snapshot()

    def as_(self, user: Principal) -> CanisterProxy:
        return self.ic.actor(self.wallet, user)

    def transfer(self, memo: bytes | None = None) -> Transfer:
        return Transfer(self.token.id, Account(RECIPIENT), AMOUNT, memo)

    def executable(self, action: Any) -> int:
        """A proposal of ``action`` made by alice, approved by bob, past its timelock."""
        proposal_id: int = self.as_(ALICE).propose(action).unwrap()
        assert self.as_(BOB).approve(proposal_id).unwrap() is Status.APPROVED
        self.ic.advance_time(nanos=TIMELOCK)
        return proposal_id

    def balance(self, owner: Principal) -> int:
        return int(self.token.icrc1_balance_of(Account(owner)))

    def spent_today(self) -> int:
        ((_, _, spent),) = self.as_(ALICE).get_wallet_info().daily_limits
        return int(spent)

    def payments(self) -> dict[int, Block]:
        """Every transfer out of the wallet in the token's log, by block index."""
        count = self.token.get_transaction_count()
        blocks = enumerate(self.token.get_blocks(0, count))
        return {index: block for index, block in blocks if block.from_ == Account(self.wallet)}

    def assert_record_is_the_ledgers(self, proposal: Proposal) -> None:
        """The proposal's blocks are exactly the wallet's payments, each its own transfer's
        request (recipient, amount, ``created_at_time``)."""
        payments = self.payments()
        blocks = [outcome.block for outcome in proposal.outcomes]
        assert sorted(block for block in blocks if block is not None) == sorted(payments)
        for outcome in proposal.outcomes:
            if outcome.block is None:
                continue
            paid = payments[outcome.block]
            expected = (outcome.transfer.to, outcome.transfer.amount, outcome.created_at)
            assert (paid.to, paid.amount, paid.created_at_time) == expected


@pytest.fixture(scope="module")
def built() -> World:
    return World()


@pytest.fixture
def world(built: World) -> World:
    built.ic.restore(built.snapshot)
    return built


def test_a_transfer_the_token_commits_before_it_traps_is_paid_once_and_recorded_as_paid(
    world: World,
) -> None:
    proposal_id = world.executable(world.transfer())
    with world.ic.faults.trap(world.token.id, "icrc1_transfer", times=1) as trap:
        done = world.as_(BOB).execute(proposal_id).unwrap()
    assert trap.fired == 1
    assert (done.status, done.failure) == (Status.EXECUTED, None)
    world.assert_record_is_the_ledgers(done)
    assert world.balance(RECIPIENT) == AMOUNT
    assert world.balance(world.wallet) == FUNDS - AMOUNT - TOKEN_FEE
    assert world.spent_today() == AMOUNT
    assert world.as_(CAROL).execute(proposal_id) == Err(ProposalClosed(proposal_id, done.status))
    assert world.payments().keys() == {done.outcomes[0].block}


def test_a_transfer_whose_resend_traps_too_is_found_in_the_tokens_log(world: World) -> None:
    """Both sends of the first transfer are rejected after it committed: the token's log shows
    its block. The second, identical but for its request's time, is a payment of its own."""
    invoice = world.transfer(b"invoice 7")
    proposal_id = world.executable(BatchTransfer((invoice, invoice)))
    with world.ic.faults.trap(world.token.id, "icrc1_transfer", times=2) as trap:
        done = world.as_(BOB).execute(proposal_id).unwrap()
    assert trap.fired == 2
    assert done.status is Status.EXECUTED
    world.assert_record_is_the_ledgers(done)
    assert len(world.payments()) == 2
    assert world.balance(RECIPIENT) == 2 * AMOUNT
    assert world.spent_today() == 2 * AMOUNT


def test_a_transfer_left_in_doubt_stays_executing_and_is_settled_by_executing_it_again(
    world: World,
) -> None:
    """The token commits and traps on every send and its log cannot be read: the wallet
    cannot tell whether it paid. The proposal stays Executing (neither Executed nor Failed),
    its spending counted and its votes closed; executing it again, once the token answers,
    finds the payment (``Duplicate``) and does not pay again."""
    proposal_id = world.executable(world.transfer())
    with (
        world.ic.faults.trap(world.token.id, "icrc1_transfer", times=None),
        world.ic.faults.reject(world.token.id, "get_transaction_count", times=None),
    ):
        doubt = world.as_(BOB).execute(proposal_id).unwrap()
        assert world.as_(CAROL).execute(proposal_id).unwrap().status is Status.EXECUTING
    assert (doubt.status, doubt.failure, doubt.executed_by) == (Status.EXECUTING, None, BOB)
    (outcome,) = doubt.outcomes
    assert outcome.in_doubt and outcome.block is None and "log" in str(outcome.error)
    assert world.balance(RECIPIENT) == AMOUNT
    assert world.spent_today() == AMOUNT
    reader = world.as_(ALICE)
    assert [p.id for p in reader.get_proposals(Status.EXECUTING)] == [proposal_id]
    assert reader.get_events(0, 1).items[0].kind == "Executing"
    closed = Err(ProposalClosed(proposal_id, Status.EXECUTING))
    assert world.as_(CAROL).approve(proposal_id) == closed
    assert world.as_(CAROL).reject(proposal_id) == closed

    done = world.as_(CAROL).execute(proposal_id).unwrap()
    assert (done.status, done.executed_by, done.failure) == (Status.EXECUTED, BOB, None)
    world.assert_record_is_the_ledgers(done)
    assert world.balance(RECIPIENT) == AMOUNT
    assert world.balance(world.wallet) == FUNDS - AMOUNT - TOKEN_FEE
    assert world.spent_today() == AMOUNT
    assert reader.get_events(0, 1).items[0].kind == "Executed"
    assert world.as_(BOB).execute(proposal_id) == Err(ProposalClosed(proposal_id, done.status))


def test_a_transfer_in_doubt_that_never_ran_is_paid_once_past_the_ledgers_window(
    world: World,
) -> None:
    """The token rejects every send before running it and its log cannot be read: in doubt.
    Eight days later (past the token's deduplication window and the proposal's lifetime, which
    does not end an Executing proposal) the token no longer recognises the request; its log
    shows it never ran, so it is sent anew, once."""
    proposal_id = world.executable(world.transfer())
    with (
        world.ic.faults.reject(world.token.id, "icrc1_transfer", times=None),
        world.ic.faults.reject(world.token.id, "get_transaction_count", times=None),
    ):
        doubt = world.as_(BOB).execute(proposal_id).unwrap()
    assert doubt.status is Status.EXECUTING and doubt.outcomes[0].in_doubt
    assert world.balance(RECIPIENT) == 0
    world.ic.advance_time(days=8)
    assert world.as_(ALICE).get_proposal(proposal_id).status is Status.EXECUTING
    done = world.as_(CAROL).execute(proposal_id).unwrap()
    assert done.status is Status.EXECUTED
    assert done.outcomes[0].created_at == world.ic.time
    world.assert_record_is_the_ledgers(done)
    assert world.balance(RECIPIENT) == AMOUNT
    assert world.balance(world.wallet) == FUNDS - AMOUNT - TOKEN_FEE


# -- an execution run while another's transfer is at the ledger ----------------------------------

MEANWHILE: dict[str, Any] = {}
"""``relay``, ``calls`` (run through the relay during the next transfer) and ``answers``."""


class RefusingMeanwhile(Ledger):
    """An ICP-like ledger that runs ``MEANWHILE["calls"]`` while its next transfer is in flight,
    and refuses, for that moment, any transfer they ask for (``TemporarilyUnavailable``)."""

    VERSION = "1.0.1"

    def icrc1_transfer(self, args: TransferArgs) -> Any:
        if "calls" not in MEANWHILE:
            return Err(TemporarilyUnavailable())
        for target, method, call_args in MEANWHILE.pop("calls"):
            relayed = self.call(MEANWHILE["relay"], "relay", target, method, call_args)
            MEANWHILE["answers"].append(relayed)
        return super().icrc1_transfer(args)

    icrc1_transfer.__icto_kind__ = Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]


def test_an_execution_run_while_the_transfer_is_at_the_ledger_leaves_it_to_the_first() -> None:
    """A signer executes the proposal again while its transfer is at the ledger. The second
    execution leaves that transfer to the first (it used to send it again; the ledger refused
    that resend for a moment, so the transfer was recorded Failed and its spending given back,
    and then the first ran: paid, and recorded as not). The first then records it paid."""
    ic = IC()
    system = deploy_system(ic)
    system.faucet(ALICE, 10 * E8S)
    system.approve_backend(ALICE, 5 * E8S)
    relay = ic.deploy(Relay)
    ledger = deploy_ledger(ic, ICP.init(Account(Principal.from_name("minter")),
                                        ((Account(BOB), 1_000 * E8S),)))  # fmt: skip
    config = MultisigConfig(
        name="Race", threshold=2, timelock=0,
        members=((ALICE, Role.OWNER), (BOB, Role.SIGNER), (relay.id, Role.SIGNER)),
        daily_limits=((ledger.id, 5 * E8S),),
    )  # fmt: skip
    wallet = system.backend.as_caller(ALICE).deploy_multisig(config).unwrap().canister_id
    ledger.as_caller(BOB).icrc1_transfer(TransferArgs(to=Account(wallet), amount=FUNDS)).unwrap()
    ic.upgrade_canister(ledger.id, RefusingMeanwhile)
    proposal_id = ic.actor(wallet, ALICE).propose(
        Transfer(ledger.id, Account(RECIPIENT), AMOUNT)
    ).unwrap()
    ic.actor(wallet, BOB).approve(proposal_id).unwrap()
    MEANWHILE.clear()
    MEANWHILE.update(relay=relay.id, answers=[], calls=[(wallet, "execute", (proposal_id,))])
    done = ic.actor(wallet, BOB).execute(proposal_id).unwrap()
    (inner,) = MEANWHILE["answers"]
    assert inner.unwrap().status is Status.EXECUTING  # it left the transfer to the first
    assert (done.status, done.outcomes[0].block is not None) == (Status.EXECUTED, True)
    assert ledger.icrc1_balance_of(Account(RECIPIENT)) == AMOUNT
    ((_, limit, spent),) = ic.actor(wallet, ALICE).get_wallet_info().daily_limits
    assert (limit, spent) == (5 * E8S, AMOUNT)
