"""A DAO governed by a platform token: a reject does not prove that nothing moved.

A ``Token`` deployed by the Token Factory commits a transfer and then tells its factory when an
owner starts or stops holding tokens; if it traps after that, its caller gets a reject for a
transfer that happened. Every ledger request of the DAO carries a memo of its own and a
``created_at_time``, and a reject is followed by the identical request, which the token answers
``Duplicate`` with the first one's block. So a stake pulled, a deposit pulled, a stake paid out,
a deposit returned and a treasury transfer each count once: nothing is paid twice, nothing is
lost, and the DAO's books match the ledger (the staking subaccount holds exactly the active
stakes, the deposits subaccount the deposits held). When the resend is rejected too and the
token's log cannot be read, the outcome stays in doubt: what was sent stays counted as sent,
and calling again (``unstake``, ``return_deposit``, ``execute``) or ``settle_transfers()``
sends the same request, which the token answers ``Duplicate``.

Each user here holds exactly what the DAO pulls (plus its fee), or nothing before a payout, so
every transfer makes the token tell its factory, and the trap comes after the commit.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
import pytest

from icto import E8S, IC, Account, Err, Ok, Principal
from icto.dao import (
    Choice,
    DepositStatus,
    Motion,
    ProposalStatus,
    TransferFailed,
    TreasuryTransfer,
    UnknownStake,
    WrongStatus,
    contract,
)
from icto.dao.config import DAOConfig
from icto.dao.types import DEPOSITS_SUBACCOUNT, STAKING_SUBACCOUNT
from icto.distribution import days
from icto.ic.proxy import CanisterProxy
from icto.ledger.types import ApproveArgs, TransferArgs
from icto.system import deploy_system
from icto.token import TokenConfig

ALICE, BOB, CAROL, RECIPIENT, MALLORY = (
    Principal.from_name(name) for name in ("alice", "bob", "carol", "recipient", "mallory")
)
FEE: Final = 10_000
"""The platform token's fee."""
BOB_HOLDS: Final = 100 * E8S + 2 * FEE
"""Bob approves the DAO and can then stake exactly 100 (its pull leaves him with nothing)."""
CAROL_STAKE: Final = 500 * E8S
DEPOSIT: Final = 5 * E8S
TREASURY: Final = 50 * E8S
VOTING: Final = days(1)
TIMELOCK: Final = days(1)


@attrs.frozen
class World:
    """Alice deployed a platform token (GOV) and a DAO governed by it; both Bob and Carol
    approved the DAO. Carol staked 500 and holds more; Bob holds exactly 100 + one fee; the
    treasury 50."""

    ic: IC
    gov: CanisterProxy
    dao: Principal
    snapshot: Any

    def as_(self, user: Principal) -> CanisterProxy:
        return self.ic.actor(self.dao, user)

    def balance(self, owner: Principal, subaccount: bytes | None = None) -> int:
        return int(self.gov.icrc1_balance_of(Account(owner, subaccount)))

    def assert_books_match_the_ledger(self) -> None:
        """Nothing in flight: the staking subaccount holds exactly the active stakes, the
        deposits subaccount the deposits held and forfeited, the treasury what the ledger
        says."""
        state = self.ic.state_of(self.dao)
        assert not state.requests
        stakes = sum(stake.amount for stake in state.stakes.values())
        assert self.balance(self.dao, STAKING_SUBACCOUNT) == state.staked == stakes
        held = state.deposits_held + state.forfeited
        assert self.balance(self.dao, DEPOSITS_SUBACCOUNT) == held
        balances = self.as_(ALICE).get_balances()
        assert (balances.staking, balances.deposits, balances.treasury) == (
            stakes, held, self.balance(self.dao),
        )  # fmt: skip


@pytest.fixture(scope="module")
def built() -> World:
    ic = IC()
    system = deploy_system(ic)
    system.faucet(ALICE, 100 * E8S)
    system.approve_backend(ALICE, 100 * E8S)
    config = TokenConfig(
        name="Govern", symbol="GOV", transfer_fee=FEE,
        initial_balances=((Account(BOB), BOB_HOLDS), (Account(CAROL), 1_500 * E8S + FEE)),
    )  # fmt: skip
    token = system.backend.as_caller(ALICE).deploy_token(config).unwrap().canister_id
    gov = ic.actor(token, ALICE)
    dao_config = DAOConfig(
        name="Token DAO", token=token, minimum_stake=E8S, proposal_threshold=10 * E8S,
        proposal_deposit=DEPOSIT, quorum_bp=2_000, approval_bp=5_000, voting_period=VOTING,
        timelock=TIMELOCK, lock_tiers=((0, 10_000),),
    )  # fmt: skip
    dao = system.backend.as_caller(ALICE).deploy_dao(dao_config).unwrap().canister_id
    for user in (BOB, CAROL):
        approval = ApproveArgs(spender=Account(dao), amount=10_000 * E8S)
        gov.as_caller(user).icrc2_approve(approval).unwrap()
    ic.actor(dao, CAROL).stake(CAROL_STAKE, 0).unwrap()
    treasury = TransferArgs(to=Account(dao), amount=TREASURY)
    gov.as_caller(CAROL).icrc1_transfer(treasury).unwrap()
    return World(ic, gov, dao, ic.snapshot())


@pytest.fixture
def world(built: World) -> World:
    built.ic.restore(built.snapshot)
    built.ic.faults.clear()
    return built


def _commits_then_traps(world: World, method: str, in_doubt: bool = False) -> None:
    """The token's next ``method`` commits and then traps; ``in_doubt``: the identical resend
    is rejected too, and so is the first read of the token's log."""
    faults = world.ic.faults
    faults.trap(canister=world.gov.id, method=method, times=1)
    if in_doubt:
        faults.reject(canister=world.gov.id, method=method, times=1)
        faults.reject(canister=world.gov.id, method="get_transaction_count", times=1)


def _in_doubt(result: object) -> str:
    assert isinstance(result, Err) and isinstance(result.error, TransferFailed), result
    reason: str = result.error.reason
    assert "whether it ran is unknown" in reason
    return reason


def _bob_stakes_everything(world: World) -> int:
    stake_id: int = world.as_(BOB).stake(100 * E8S, 0).unwrap().id
    assert world.balance(BOB) == 0
    return stake_id


# -- staking --------------------------------------------------------------------------------------


def test_a_stake_whose_pull_ran_before_the_token_trapped_is_recorded(world: World) -> None:
    """Bob's pull leaves him with nothing: the token commits it and traps; the resend is the
    token's duplicate, so the stake is recorded, with its power, once."""
    _commits_then_traps(world, "icrc2_transfer_from")
    stake = world.as_(BOB).stake(100 * E8S, 0).unwrap()
    assert (stake.owner, stake.amount, stake.power) == (BOB, 100 * E8S, 100 * E8S)
    assert world.balance(BOB) == 0
    assert world.as_(BOB).get_member(BOB).own == 100 * E8S
    world.assert_books_match_the_ledger()


def test_a_stake_pull_left_in_doubt_is_recorded_once_it_is_settled(world: World) -> None:
    """The resend is rejected too and the log cannot be read: nothing is recorded yet (no
    power that may not have been paid for), and ``settle_transfers()`` (anyone) sends the same
    request, learns that it ran, and records the stake."""
    _commits_then_traps(world, "icrc2_transfer_from", in_doubt=True)
    assert "settle_transfers()" in _in_doubt(world.as_(BOB).stake(100 * E8S, 0))
    assert world.balance(BOB) == 0
    assert world.as_(BOB).get_stakes(BOB).total == 0
    assert world.as_(MALLORY).settle_transfers() == 0
    (stake,) = world.as_(BOB).get_stakes(BOB).items
    assert (stake.owner, stake.amount) == (BOB, 100 * E8S)
    assert world.as_(MALLORY).settle_transfers() == 0
    assert world.as_(BOB).get_stakes(BOB).total == 1
    world.assert_books_match_the_ledger()


def test_an_unstake_whose_payout_ran_before_the_token_trapped_pays_once(world: World) -> None:
    """Bob holds nothing but his stake: its payout makes him a holder again, and the token
    traps after committing it. The resend is the token's duplicate: the unstake succeeds, and
    a second one finds no stake (it used to be put back and paid a second time)."""
    stake_id = _bob_stakes_everything(world)
    _commits_then_traps(world, "icrc1_transfer")
    assert world.as_(BOB).unstake(stake_id) == Ok(100 * E8S - FEE)
    assert world.as_(BOB).unstake(stake_id) == Err(UnknownStake(stake_id))
    assert world.balance(BOB) == 100 * E8S - FEE
    world.assert_books_match_the_ledger()


def test_an_unstake_left_in_doubt_stays_closed_and_its_retry_pays_once(world: World) -> None:
    """The resend is rejected too and the log cannot be read: the stake stays closed (counted
    as paid out, not put back), and calling ``unstake`` again sends the same request, which
    the token answers as a duplicate: paid once."""
    stake_id = _bob_stakes_everything(world)
    _commits_then_traps(world, "icrc1_transfer", in_doubt=True)
    assert f"unstake({stake_id})" in _in_doubt(world.as_(BOB).unstake(stake_id))
    assert world.balance(BOB) == 100 * E8S - FEE
    assert world.as_(BOB).get_member(BOB).stakes == 0
    assert world.ic.state_of(world.dao).staked == CAROL_STAKE
    assert world.as_(MALLORY).unstake(stake_id) == Err(UnknownStake(stake_id))
    assert world.as_(BOB).unstake(stake_id) == Ok(100 * E8S - FEE)
    assert world.as_(BOB).unstake(stake_id) == Err(UnknownStake(stake_id))
    assert world.balance(BOB) == 100 * E8S - FEE
    world.assert_books_match_the_ledger()


# -- deposits -------------------------------------------------------------------------------------


def _bob_proposes_with_his_last_tokens(world: World) -> int:
    """Bob stakes 95 and submits a motion: its deposit is all he has left."""
    world.as_(BOB).stake(100 * E8S - DEPOSIT - FEE, 0).unwrap()
    assert world.balance(BOB) == DEPOSIT + FEE
    proposal_id: int = world.as_(BOB).submit_proposal(Motion("Bob's")).unwrap()
    assert world.balance(BOB) == 0
    return proposal_id


def test_a_deposit_whose_pull_ran_before_the_token_trapped_opens_the_proposal(
    world: World,
) -> None:
    world.as_(BOB).stake(100 * E8S - DEPOSIT - FEE, 0).unwrap()
    _commits_then_traps(world, "icrc2_transfer_from")
    proposal_id = world.as_(BOB).submit_proposal(Motion("Bob's")).unwrap()
    assert world.balance(BOB) == 0
    info = world.as_(BOB).get_proposal(proposal_id)
    assert (info.status, info.deposit_status) == (ProposalStatus.OPEN, DepositStatus.HELD)
    assert world.ic.state_of(world.dao).deposits_held == DEPOSIT
    world.assert_books_match_the_ledger()


def test_a_deposit_whose_return_ran_before_the_token_trapped_is_returned_once(
    world: World,
) -> None:
    """Nobody votes: the proposal ends without quorum and its deposit is returned, which makes
    Bob a holder again; the token traps after committing it. The resend is the token's
    duplicate: Returned (it used to be Owed, and ``return_deposit`` paid it again)."""
    proposal_id = _bob_proposes_with_his_last_tokens(world)
    _commits_then_traps(world, "icrc1_transfer")
    world.ic.set_time(world.ic.time + VOTING)
    info = world.as_(BOB).get_proposal(proposal_id)
    assert (info.status, info.deposit_status) == (ProposalStatus.REJECTED, DepositStatus.RETURNED)
    assert world.as_(MALLORY).return_deposit(proposal_id) == Err(
        WrongStatus(ProposalStatus.REJECTED, "a deposit still owed")
    )
    assert world.balance(BOB) == DEPOSIT - FEE
    world.assert_books_match_the_ledger()


def test_a_deposit_return_left_in_doubt_is_returning_and_its_retry_pays_once(
    world: World,
) -> None:
    proposal_id = _bob_proposes_with_his_last_tokens(world)
    _commits_then_traps(world, "icrc1_transfer", in_doubt=True)
    world.ic.set_time(world.ic.time + VOTING)
    assert world.as_(BOB).get_proposal(proposal_id).deposit_status is DepositStatus.RETURNING
    assert world.ic.state_of(world.dao).deposits_held == 0  # counted as returned
    assert world.balance(BOB) == DEPOSIT - FEE
    assert world.as_(MALLORY).return_deposit(proposal_id) == Ok(DepositStatus.RETURNED)
    assert world.as_(MALLORY).return_deposit(proposal_id) == Err(
        WrongStatus(ProposalStatus.REJECTED, "a deposit still owed")
    )
    assert world.balance(BOB) == DEPOSIT - FEE
    world.assert_books_match_the_ledger()


# -- the treasury ---------------------------------------------------------------------------------


def _accepted_grant(world: World) -> int:
    """Carol proposes 20 from the treasury to a principal that holds nothing, votes yes, and
    the timelock passes."""
    grant = TreasuryTransfer(world.gov.id, Account(RECIPIENT), 20 * E8S, b"grant")
    proposal_id: int = world.as_(CAROL).submit_proposal(grant).unwrap()
    world.as_(CAROL).vote(proposal_id, Choice.YES).unwrap()
    world.ic.set_time(world.ic.time + VOTING + TIMELOCK)
    assert world.as_(CAROL).get_proposal(proposal_id).status is ProposalStatus.ACCEPTED
    return proposal_id


def test_a_treasury_transfer_that_ran_before_the_token_trapped_is_executed_once(
    world: World,
) -> None:
    """The transfer makes the recipient a holder and the token traps after committing it. The
    resend is the token's duplicate: Executed and counted once (it used to be Failed and
    counted back, the treasury short of what the DAO's books said)."""
    proposal_id = _accepted_grant(world)
    _commits_then_traps(world, "icrc1_transfer")
    assert world.as_(MALLORY).execute(proposal_id) == Ok(ProposalStatus.EXECUTED)
    assert world.balance(RECIPIENT) == 20 * E8S
    assert world.balance(world.dao) == TREASURY - 20 * E8S - FEE
    assert world.ic.state_of(world.dao).treasury_paid[world.gov.id] == 20 * E8S + FEE
    assert world.as_(MALLORY).execute(proposal_id) == Err(
        WrongStatus(ProposalStatus.EXECUTED, "Accepted")
    )
    world.assert_books_match_the_ledger()


def test_a_treasury_transfer_left_in_doubt_stays_executing_and_its_retry_pays_once(
    world: World,
) -> None:
    proposal_id = _accepted_grant(world)
    _commits_then_traps(world, "icrc1_transfer", in_doubt=True)
    assert world.as_(MALLORY).execute(proposal_id) == Ok(ProposalStatus.EXECUTING)
    outcome = world.as_(MALLORY).get_proposal(proposal_id).outcome
    assert outcome is not None and "in doubt, counted as paid" in outcome
    assert world.ic.state_of(world.dao).treasury_paid[world.gov.id] == 20 * E8S + FEE
    assert world.as_(MALLORY).execute(proposal_id) == Ok(ProposalStatus.EXECUTED)
    assert world.balance(RECIPIENT) == 20 * E8S
    assert world.balance(world.dao) == TREASURY - 20 * E8S - FEE
    assert world.ic.state_of(world.dao).treasury_paid[world.gov.id] == 20 * E8S + FEE
    world.assert_books_match_the_ledger()


# -- the ledger's log -----------------------------------------------------------------------------


def _resend_rejected(world: World, method: str) -> None:
    """The token's next ``method`` commits and then traps, and the identical resend is
    rejected: only the token's log can tell."""
    world.ic.faults.trap(canister=world.gov.id, method=method, times=1)
    world.ic.faults.reject(canister=world.gov.id, method=method, times=1)


def test_a_stake_pull_whose_resend_was_rejected_is_found_in_the_tokens_log(world: World) -> None:
    _resend_rejected(world, "icrc2_transfer_from")
    stake = world.as_(BOB).stake(100 * E8S, 0).unwrap()
    assert (stake.owner, stake.amount) == (BOB, 100 * E8S)
    world.assert_books_match_the_ledger()


def test_a_payout_whose_resend_was_rejected_is_found_in_the_tokens_log(world: World) -> None:
    stake_id = _bob_stakes_everything(world)
    _resend_rejected(world, "icrc1_transfer")
    assert world.as_(BOB).unstake(stake_id) == Ok(100 * E8S - FEE)
    assert world.as_(BOB).unstake(stake_id) == Err(UnknownStake(stake_id))
    assert world.balance(BOB) == 100 * E8S - FEE
    world.assert_books_match_the_ledger()


def test_a_request_that_stays_in_doubt_does_not_keep_the_others_waiting(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one request settled per call, bob's stake pull, still in doubt after every
    resend, goes to the back once resent: carol's later one is settled by the next call (the
    lowest nonce used to come first every time, so carol's waited behind bob's for good)."""
    monkeypatch.setattr(contract, "SETTLE_BATCH", 1)
    _commits_then_traps(world, "icrc2_transfer_from", in_doubt=True)
    _in_doubt(world.as_(BOB).stake(100 * E8S, 0))
    world.ic.advance_time(seconds=1)
    _commits_then_traps(world, "icrc2_transfer_from", in_doubt=True)
    _in_doubt(world.as_(CAROL).stake(10 * E8S, 0))
    world.ic.advance_time(seconds=1)
    faults = world.ic.faults
    faults.reject(canister=world.gov.id, method="icrc2_transfer_from", times=None)
    faults.reject(canister=world.gov.id, method="get_transaction_count", times=None)
    assert world.as_(MALLORY).settle_transfers() == 2  # bob's: still in doubt
    faults.clear()
    faults.reject(canister=world.gov.id, method="get_transaction_count", times=None)
    assert world.as_(MALLORY).settle_transfers() == 1  # carol's: the resend is her Duplicate
    assert world.as_(CAROL).get_stakes(CAROL).total == 2
    assert world.as_(BOB).get_stakes(BOB).total == 0
