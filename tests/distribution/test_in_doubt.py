"""Transfers whose outcome a reject does not tell: a platform token commits a transfer and then
awaits its factory (an account going from 0 to a positive balance), so a trap there rejects a
transfer that happened. Every payout and pull is a deduplicated request: sent again identical,
the ledger answers ``Duplicate``; still in doubt, its log tells, or ``settle_transfers`` later.
Nothing is paid or pulled twice, nothing is lost."""

from __future__ import annotations

from typing import Any

import pytest

import icto
from icto import E8S, IC, Account, ApproveArgs, Principal
from icto.distribution import Category, DistributionConfig, Fixed, Instant, Linear, days
from icto.distribution.contract import IN_FLIGHT_GIVEN_UP_NS, Distribution
from icto.distribution.types import Phase, TransferFailed
from icto.ic.canister import Canister, update
from icto.ic.errors import CallRejected
from icto.ic.result import Err
from icto.ledger.ledger import Ledger
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import TransferArgs
from icto.token.config import TokenConfig

ALICE, BOB, CAROL, DAVE = (Principal.from_name(n) for n in ("alice", "bob", "carol", "dave"))
FEE = 10_000
TOTAL = 200 * E8S
REQUIRED = TOTAL + 4 * 2 * FEE  # two recipients, claims_covered 2 (a fee each way)


class Setup:
    """A distribution of a Token Factory token to bob and carol (100 each), funded by alice."""

    def __init__(self, fund: bool = True, **config: Any) -> None:
        self.ic = ic = IC()
        self.system = system = icto.deploy_system(ic)
        system.faucet(ALICE, 200 * E8S)
        system.approve_backend(ALICE, 10 * E8S)
        token = TokenConfig(
            name="Pay Token", symbol="PAY", initial_balances=((Account(ALICE), 1_000 * E8S),),
            minting_account=Account(Principal.from_name("pay-minter")),
        )  # fmt: skip
        self.pay = system.backend.as_caller(ALICE).deploy_token(token).unwrap().canister_id
        self.start = ic.time + days(1)
        recipients = ((BOB, 100 * E8S), (CAROL, 100 * E8S))
        config.setdefault("categories", (
            Category("team", TOTAL, Fixed(recipients), Linear(days(10))),
        ))  # fmt: skip
        dist_config = DistributionConfig(title="T", token=self.pay, start=self.start, **config)
        backend = system.backend.as_caller(ALICE)
        self.dist = backend.deploy_distribution(dist_config).unwrap().canister_id
        approve = ApproveArgs(spender=Account(self.dist), amount=500 * E8S)
        ic.actor(self.pay, ALICE).icrc2_approve(approve).unwrap()
        if fund:
            self.as_(ALICE).fund().unwrap()

    def as_(self, who: Principal) -> Any:
        return self.ic.actor(self.dist, who)

    def balance(self, who: Principal) -> int:
        return int(self.ic.actor(self.pay, ALICE).icrc1_balance_of(Account(who)))

    def state(self) -> Any:
        return self.ic.state_of(self.dist)

    def owed(self) -> int:
        return sum(p.allocation - p.claimed for p in self.state().participants.values())

    def books_hold(self) -> None:
        """The balance holds exactly what is owed, the fee reserve and pending penalties."""
        state = self.state()
        assert not state.requests
        assert self.balance(self.dist) == self.owed() + state.reserve + state.pending_penalty

    def commit_then_trap(self, method: str = "icrc1_transfer", **kw: Any) -> Any:
        """The token's next ``method`` commits, then traps awaiting its factory."""
        return self.ic.faults.trap(canister=self.pay, method=method, **kw)


def test_a_claim_the_token_committed_before_it_trapped_is_paid_and_counted_once() -> None:
    s = Setup()
    s.ic.set_time(s.start + days(5))
    s.commit_then_trap()
    claim = s.as_(BOB).claim().unwrap()
    assert claim.amount == 50 * E8S and s.balance(BOB) == 50 * E8S
    assert s.as_(BOB).claim() == Err(icto.distribution.NothingToClaim(0))
    s.books_hold()
    s.ic.set_time(s.start + days(10))
    for user in (BOB, CAROL):
        s.as_(user).claim().unwrap()
    assert (s.balance(BOB), s.balance(CAROL)) == (100 * E8S, 100 * E8S)
    s.books_hold()


def test_a_payout_rejected_twice_is_found_in_the_ledgers_log() -> None:
    s = Setup()
    s.ic.set_time(s.start + days(10))
    rule = s.commit_then_trap(times=2)  # the request commits; its resend (Duplicate) traps too
    claim = s.as_(BOB).claim().unwrap()
    assert rule.fired == 2 and claim.amount == 100 * E8S and s.balance(BOB) == 100 * E8S
    s.books_hold()


@pytest.mark.parametrize("ran", [True, False], ids=["it ran", "it never ran"])
def test_a_claim_left_in_doubt_counts_as_paid_and_settles_later_by_the_same_request(
    ran: bool,
) -> None:
    s = Setup()
    s.ic.set_time(s.start + days(10))
    if ran:
        s.commit_then_trap(times=2)
    else:
        s.ic.faults.reject(canister=s.pay, method="icrc1_transfer", times=2)
    s.ic.faults.reject(canister=s.pay, method="get_transaction_count", times=1)
    result = s.as_(BOB).claim()
    assert isinstance(result, Err) and isinstance(result.error, TransferFailed)
    assert "in doubt" in result.error.reason
    state = s.state()
    assert state.participants[BOB].claimed == 100 * E8S and len(state.requests) == 1
    assert s.balance(BOB) == (100 * E8S if ran else 0)
    assert isinstance(s.as_(ALICE).withdraw_spare_reserve(), Err)
    assert s.as_(DAVE).settle_transfers() == 0
    (claim,) = s.as_(BOB).get_claims(BOB).items
    assert claim.amount == 100 * E8S and s.balance(BOB) == 100 * E8S
    s.books_hold()


def test_a_cancel_whose_refund_the_token_committed_is_not_undone() -> None:
    s = Setup(cancellable=True)
    s.ic.set_time(s.start + days(5))
    alice = s.balance(ALICE)
    s.commit_then_trap()
    back = s.as_(ALICE).cancel().unwrap()
    assert s.balance(ALICE) == alice + back and s.state().status is Phase.CANCELLED
    s.ic.set_time(s.start + days(10))
    for user in (BOB, CAROL):
        assert s.as_(user).claim().unwrap().amount == 50 * E8S
    state = s.state()
    assert not state.requests and s.balance(s.dist) == state.reserve


def test_unallocated_tokens_the_token_committed_are_returned_once() -> None:
    s = Setup(cancellable=False)
    s.as_(ALICE).remove_recipient(CAROL).unwrap()
    s.ic.set_time(s.start + days(10))
    alice = s.balance(ALICE)
    s.commit_then_trap()
    assert s.as_(ALICE).withdraw_unallocated().unwrap() == 100 * E8S - FEE
    assert isinstance(s.as_(ALICE).withdraw_unallocated(), Err)
    assert s.balance(ALICE) == alice + 100 * E8S - FEE
    assert s.as_(BOB).claim().unwrap().amount == 100 * E8S
    s.books_hold()


def test_an_early_unlock_the_token_committed_is_not_taken_twice() -> None:
    s = Setup(penalty_bp=5_000, penalty_to=Account(DAVE))
    s.ic.set_time(s.start + days(5))
    s.commit_then_trap()
    claim = s.as_(BOB).early_unlock().unwrap()
    assert s.balance(BOB) == claim.amount == 75 * E8S
    assert isinstance(s.as_(BOB).early_unlock(), Err)
    assert s.balance(BOB) == 75 * E8S and s.balance(DAVE) == 25 * E8S
    s.books_hold()


def test_a_penalty_the_token_committed_is_not_sent_again() -> None:
    s = Setup(penalty_bp=5_000, penalty_to=Account(DAVE))
    s.ic.set_time(s.start + days(5))
    s.commit_then_trap(times=1, after=1)  # the penalty's transfer to dave
    s.as_(CAROL).early_unlock().unwrap()
    assert s.as_(CAROL).send_penalties() == 0
    assert s.balance(DAVE) == 25 * E8S
    s.books_hold()


def _funding(s: Setup) -> None:
    s.ic.set_time(s.start + 1)
    assert s.state().status is Phase.FUNDED
    assert s.balance(s.dist) == REQUIRED == TOTAL + s.state().reserve
    assert s.balance(ALICE) == 1_000 * E8S - REQUIRED - 2 * FEE  # the approval's fee too
    for user in (BOB, CAROL):
        s.as_(user).claim().unwrap()
    s.books_hold()


def test_a_funding_the_token_committed_before_it_trapped_is_not_pulled_again() -> None:
    s = Setup(fund=False, categories=(
        Category("team", TOTAL, Fixed(((BOB, 100 * E8S), (CAROL, 100 * E8S))), Instant()),
    ))  # fmt: skip
    s.commit_then_trap("icrc2_transfer_from")
    s.as_(ALICE).fund().unwrap()
    assert isinstance(s.as_(ALICE).fund(), Err)
    _funding(s)


def test_a_funding_left_by_a_trapped_fund_is_settled_by_the_same_request() -> None:
    s = Setup(fund=False, categories=(
        Category("team", TOTAL, Fixed(((BOB, 100 * E8S), (CAROL, 100 * E8S))), Instant()),
    ))  # fmt: skip
    with s.ic.faults.trap(canister=s.dist, method="fund"), pytest.raises(CallRejected):
        s.as_(ALICE).fund()
    assert s.balance(s.dist) == REQUIRED and s.state().status is Phase.CREATED
    assert isinstance(s.as_(ALICE).fund(), Err)  # its message may still await the ledger
    s.ic.advance_time(nanos=IN_FLIGHT_GIVEN_UP_NS)
    s.as_(ALICE).fund().unwrap()
    _funding(s)


def test_a_funding_in_doubt_is_not_counted_until_it_is_settled() -> None:
    s = Setup(fund=False, categories=(
        Category("team", TOTAL, Fixed(((BOB, 100 * E8S), (CAROL, 100 * E8S))), Instant()),
    ))  # fmt: skip
    s.commit_then_trap("icrc2_transfer_from", times=2)
    s.ic.faults.reject(canister=s.pay, method="get_transaction_count", times=1)
    result = s.as_(ALICE).fund()
    assert isinstance(result, Err) and "in doubt" in result.error.reason
    assert s.state().status is Phase.CREATED and not s.state().funded
    assert isinstance(s.as_(ALICE).activate(), Err)  # the balance may or may not hold it
    assert s.as_(DAVE).settle_transfers() == 0
    _funding(s)


def test_an_early_unlock_cut_after_its_payout_is_settled_once_after_an_upgrade() -> None:
    """The message traps after its payouts (its last segment, the penalty's, rolled back): a
    request stays journalled. After an upgrade it is settled at once, nothing is paid twice or
    held for ever, and the spare reserve may go back."""
    s = Setup(penalty_bp=5_000, penalty_to=Account(DAVE), cancellable=False)
    s.ic.set_time(s.start + days(5))
    with s.ic.faults.trap(canister=s.dist, method="early_unlock"), pytest.raises(CallRejected):
        s.as_(BOB).early_unlock()
    assert s.balance(BOB) == 75 * E8S and len(s.state().requests) == 1
    factory = s.system.distribution_factory.id
    s.ic.upgrade_canister(s.dist, Distribution, caller=factory)
    assert s.as_(DAVE).settle_transfers() == 0
    assert s.as_(DAVE).send_penalties() == 0
    (claim,) = s.as_(BOB).get_claims(BOB).items
    assert claim.amount == s.balance(BOB) == 75 * E8S and s.balance(DAVE) == 25 * E8S
    assert s.state().penalty_held == 0
    s.ic.set_time(s.start + days(10))
    s.as_(CAROL).claim().unwrap()
    s.books_hold()
    s.as_(ALICE).withdraw_spare_reserve().unwrap()


MINTER = Account(Principal.from_name("pay-minter"))


@pytest.mark.parametrize("day", [5, 10], ids=["burned", "below the fee"])
def test_a_penalty_to_the_minting_account_is_a_burn(day: int) -> None:
    """A ``penalty_to`` that is the token's minting account burns: no fee is kept for it, and
    one below the fee (which a ledger refuses to burn) joins the fee reserve, so nothing waits
    for ever and the spare reserve goes back in the end."""
    s = Setup(penalty_bp=5_000, penalty_to=MINTER, cancellable=False)
    reserve = s.state().reserve
    s.ic.set_time(s.start + days(day) - (0 if day == 5 else days(10) // 2_000_000))
    supply = int(s.ic.actor(s.pay, ALICE).icrc1_total_supply())
    claim = s.as_(BOB).early_unlock().unwrap()
    state = s.state()
    penalty = state.total_penalties
    assert claim.fee_from_reserve and state.pending_penalty == 0
    if day == 5:
        assert penalty == 25 * E8S and state.reserve == reserve - FEE
        assert int(s.ic.actor(s.pay, ALICE).icrc1_total_supply()) == supply - penalty - FEE
    else:
        assert 0 < penalty < FEE and state.reserve == reserve - FEE + penalty
    assert s.as_(DAVE).send_penalties() == 0
    s.ic.set_time(s.start + days(10))
    s.as_(CAROL).claim().unwrap()
    s.books_hold()
    s.as_(ALICE).withdraw_spare_reserve().unwrap()
    assert s.balance(s.dist) == 0


LATE: dict[str, Any] = {}
"""``clock`` (the ``Late`` canister) and ``then`` (calls it makes once time has moved on)."""


class Late(Canister):
    """Moves IC time past ``IN_FLIGHT_GIVEN_UP_NS`` when called, then makes ``LATE["then"]``
    calls: what other messages do while a slow ledger keeps a payout waiting."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @update
    def tick(self) -> None:
        ic: IC = LATE["ic"]
        ic.set_time(ic.time + IN_FLIGHT_GIVEN_UP_NS + 1)
        for target, method in LATE.pop("then", ()):
            self.call(target, method)


class SlowPayouts(Ledger):
    """An ICP-like ledger whose transfers, while ``LATE["then"]`` is set, await the ``Late``
    canister before they run."""

    VERSION = "1.0.1"

    def icrc1_transfer(self, args: TransferArgs) -> Any:
        if "then" in LATE:
            self.call(LATE["clock"], "tick")
        return super().icrc1_transfer(args)

    icrc1_transfer.__icto_kind__ = Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]


def test_an_early_unlock_settled_by_another_message_meanwhile_sends_its_penalty_once() -> None:
    """Bob's early-unlock payout waits at a slow ledger past ``IN_FLIGHT_GIVEN_UP_NS``;
    meanwhile ``settle_transfers`` settles it and ``send_penalties`` sends the penalty. When
    the early unlock resumes it leaves the penalty to them (it used to send it a second time)."""
    ic = IC()
    system = icto.deploy_system(ic)
    system.faucet(ALICE, 10 * E8S)
    system.approve_backend(ALICE, 10 * E8S)
    ledger = deploy_ledger(ic, ICP.init(Account(Principal.from_name("slow-minter")),
                                        ((Account(ALICE), 1_000 * E8S),)))  # fmt: skip
    start = ic.time + days(1)
    config = DistributionConfig(
        title="T", token=ledger.id, start=start, penalty_bp=5_000, penalty_to=Account(DAVE),
        categories=(Category("team", TOTAL, Fixed(((BOB, 100 * E8S), (CAROL, 100 * E8S))),
                             Linear(days(10))),),
    )  # fmt: skip
    dist = system.backend.as_caller(ALICE).deploy_distribution(config).unwrap().canister_id
    ledger.as_caller(ALICE).icrc2_approve(ApproveArgs(spender=Account(dist), amount=500 * E8S))
    ic.actor(dist, ALICE).fund().unwrap()
    ic.upgrade_canister(ledger.id, SlowPayouts, caller=ic.controllers_of(ledger.id)[0])
    ic.set_time(start + days(5))
    LATE.clear()
    LATE.update(ic=ic, clock=ic.deploy(Late).id,
                then=((dist, "settle_transfers"), (dist, "send_penalties")))  # fmt: skip
    ic.actor(dist, BOB).early_unlock().unwrap()
    balance = ledger.icrc1_balance_of
    assert (balance(Account(BOB)), balance(Account(DAVE))) == (75 * E8S, 25 * E8S)
    state = ic.state_of(dist)
    assert (state.pending_penalty, state.penalty_held, len(state.requests)) == (0, 0, 0)
