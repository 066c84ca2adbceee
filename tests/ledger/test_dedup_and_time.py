"""Time checks and deduplication (reference icrc.md §2.6, §2.7; ledger.md "Decisions").

Window 24 h, drift 60 s, the production ledger's boundaries: ``TooOld`` iff
``created_at_time + TX_WINDOW < now``, ``CreatedInFuture`` iff ``created_at_time > now + DRIFT``.
The dedup identity is the transaction as recorded (kind, accounts as given, spender, amount, fee
only when given, memo, created_at_time, plus the approve fields); only successes are remembered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import immutables
import pytest

import icto
from icto import (
    E8S,
    IC,
    PERMITTED_DRIFT_NS,
    TX_WINDOW_NS,
    U64_MAX,
    Account,
    Allowance,
    AllowanceArgs,
    ApproveArgs,
    CreatedInFuture,
    Duplicate,
    Err,
    InsufficientFunds,
    Ok,
    Principal,
    TooOld,
    TransferArgs,
    TransferFromArgs,
)
from icto.ic.proxy import CanisterProxy
from tests.ledger.conftest import FEE

ALICE_START = 10 * E8S
BOB_START = 1 * E8S
GENESIS_BLOCKS = 2
ZERO_SUB = bytes(32)


# -- helpers ------------------------------------------------------------------------------------


def books(ledger: CanisterProxy, *owners: Principal) -> tuple[Any, ...]:
    """Everything an Err or a Duplicate must leave alone (balances, supply, allowances, log)."""
    balances = tuple(ledger.icrc1_balance_of(Account(owner)) for owner in owners)
    allowances = tuple(
        ledger.icrc2_allowance(AllowanceArgs(Account(a), Account(b)))
        for a in owners
        for b in owners
        if a != b
    )
    return (
        balances,
        allowances,
        ledger.icrc1_total_supply(),
        ledger.get_transaction_count(),
    )


Sender = Callable[[int], Any]


def sender(
    kind: str, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal,
    minter: Principal,
) -> Sender:  # fmt: skip
    """A function sending one fixed request of ``kind`` with the given created_at_time.

    For transfer_from, Alice first approves Carol (without created_at_time) so the allowance check
    cannot interfere.
    """
    if kind == "transfer":
        return lambda cat: ledger.as_caller(alice).icrc1_transfer(
            TransferArgs(to=Account(bob), amount=1_000, created_at_time=cat)
        )
    if kind == "approve":
        return lambda cat: ledger.as_caller(alice).icrc2_approve(
            ApproveArgs(spender=Account(carol), amount=5_000, created_at_time=cat)
        )
    if kind == "transfer_from":
        assert ledger.as_caller(alice).icrc2_approve(
            ApproveArgs(spender=Account(carol), amount=E8S)
        ) == Ok(GENESIS_BLOCKS)
        return lambda cat: ledger.as_caller(carol).icrc2_transfer_from(
            TransferFromArgs(from_=Account(alice), to=Account(bob), amount=1_000,
                             created_at_time=cat)
        )  # fmt: skip
    if kind == "mint":
        return lambda cat: ledger.as_caller(minter).icrc1_transfer(
            TransferArgs(to=Account(alice), amount=7 * E8S, created_at_time=cat)
        )
    if kind == "burn":
        return lambda cat: ledger.as_caller(alice).icrc1_transfer(
            TransferArgs(to=Account(minter), amount=FEE, created_at_time=cat)
        )
    raise AssertionError(kind)


KINDS = ("transfer", "approve", "transfer_from", "mint", "burn")


@pytest.fixture
def send_factory(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal, minter: Principal
) -> Callable[[str], Sender]:
    return lambda kind: sender(kind, ledger, alice, bob, carol, minter)


@pytest.fixture
def everyone(
    alice: Principal, bob: Principal, carol: Principal, minter: Principal
) -> tuple[Principal, ...]:
    return (alice, bob, carol, minter)


# -- time window boundaries -----------------------------------------------------------------------


def test_window_and_drift_constants_are_the_production_ledgers() -> None:
    assert TX_WINDOW_NS == 24 * 3600 * 10**9 == 86_400_000_000_000
    assert PERMITTED_DRIFT_NS == 60 * 10**9 == 60_000_000_000
    assert icto.TX_WINDOW_NS is TX_WINDOW_NS
    assert icto.PERMITTED_DRIFT_NS is PERMITTED_DRIFT_NS


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "offset",
    [-TX_WINDOW_NS, -TX_WINDOW_NS + 1, -1, 0, 1, PERMITTED_DRIFT_NS - 1, PERMITTED_DRIFT_NS],
)
def test_created_at_time_within_window_and_drift_is_accepted(
    ic: IC, ledger: CanisterProxy, send_factory: Callable[[str], Sender], kind: str, offset: int
) -> None:
    """created_at_time in [now - TX_WINDOW, now + DRIFT] executes (both ends included)."""
    ic.advance_time(hours=1)
    send = send_factory(kind)
    index = ledger.get_transaction_count()
    now = ic.time
    assert now - TX_WINDOW_NS > 0
    assert send(now + offset) == Ok(index)
    assert ledger.get_transaction_count() == index + 1
    assert ledger.get_blocks(index, 1)[0].created_at_time == now + offset


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "offset", [-TX_WINDOW_NS - 1, -TX_WINDOW_NS - PERMITTED_DRIFT_NS - 1, -TX_WINDOW_NS * 2]
)
def test_created_at_time_before_the_window_is_too_old(
    ic: IC,
    ledger: CanisterProxy,
    send_factory: Callable[[str], Sender],
    everyone: tuple[Principal, ...],
    kind: str,
    offset: int,
) -> None:
    """RUST: TooOld iff created_at_time + TX_WINDOW < now (no drift on the past side)."""
    ic.advance_time(hours=1)
    send = send_factory(kind)
    before = books(ledger, *everyone)
    now = ic.time
    assert send(now + offset) == Err(TooOld())
    assert books(ledger, *everyone) == before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("offset", [PERMITTED_DRIFT_NS + 1, PERMITTED_DRIFT_NS + 10**9, 10**18])
def test_created_at_time_beyond_the_drift_is_created_in_future(
    ic: IC,
    ledger: CanisterProxy,
    send_factory: Callable[[str], Sender],
    everyone: tuple[Principal, ...],
    kind: str,
    offset: int,
) -> None:
    ic.advance_time(hours=1)
    send = send_factory(kind)
    before = books(ledger, *everyone)
    now = ic.time
    assert send(now + offset) == Err(CreatedInFuture(ledger_time=now))
    assert books(ledger, *everyone) == before


def test_max_nat64_created_at_time_is_valid_input_and_created_in_future(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal,
    minter: Principal,
) -> None:  # fmt: skip
    before = books(ledger, alice, bob, carol, minter)
    result = ledger.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(bob), amount=1, created_at_time=U64_MAX)
    )
    assert result == Err(CreatedInFuture(ledger_time=ic.time))
    assert books(ledger, alice, bob, carol, minter) == before


def test_a_request_created_in_the_future_is_accepted_once_the_clock_catches_up(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """CreatedInFuture is not remembered: the same request succeeds one nanosecond later."""
    args = TransferArgs(
        to=Account(bob), amount=1_000, created_at_time=ic.time + PERMITTED_DRIFT_NS + 1
    )
    assert ledger.as_caller(alice).icrc1_transfer(args) == Err(CreatedInFuture(ic.time))
    ic.advance_time(nanos=1)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(GENESIS_BLOCKS)
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + 1_000


def test_without_created_at_time_there_is_no_time_check(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    ic.advance_time(days=400)
    assert ledger.as_caller(alice).icrc1_transfer(TransferArgs(to=Account(bob), amount=1)) == Ok(
        GENESIS_BLOCKS
    )


# -- duplicates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_identical_request_with_created_at_time_is_a_duplicate_that_changes_nothing(
    ic: IC,
    ledger: CanisterProxy,
    send_factory: Callable[[str], Sender],
    everyone: tuple[Principal, ...],
    kind: str,
) -> None:
    """The second identical request returns Duplicate(first index): no fee, no block, no change.

    Covers icrc1_transfer, icrc2_approve, icrc2_transfer_from, mints and burns (§2.6).
    """
    send = send_factory(kind)
    cat = ic.time
    first_index = ledger.get_transaction_count()
    assert send(cat) == Ok(first_index)
    after_first = books(ledger, *everyone)
    ic.advance_time(minutes=5)
    assert send(cat) == Err(Duplicate(duplicate_of=first_index))
    assert books(ledger, *everyone) == after_first


def test_duplicate_of_points_at_the_original_block_even_after_other_transactions(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    cat = ic.time
    args = TransferArgs(to=Account(carol), amount=100, created_at_time=cat)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(2)
    for _ in range(3):
        assert ledger.as_caller(bob).icrc1_transfer(TransferArgs(to=Account(carol), amount=1)).is_ok
    assert ledger.get_transaction_count() == 6
    assert ledger.as_caller(alice).icrc1_transfer(args) == Err(Duplicate(duplicate_of=2))
    assert ledger.as_caller(alice).icrc1_transfer(args) == Err(Duplicate(duplicate_of=2))
    assert ledger.get_transaction_count() == 6
    assert ledger.icrc1_balance_of(Account(carol)) == 103


def test_without_created_at_time_identical_requests_all_execute(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    args = TransferArgs(to=Account(bob), amount=1_000, memo=b"same")
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(2)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(3)
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + 2_000
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - 2 * (1_000 + FEE)
    assert ledger.icrc1_total_supply() == ALICE_START + BOB_START - 2 * FEE


def _transfer(caller_name: str, **fields: Any) -> Callable[..., Any]:
    def run(ledger: CanisterProxy, who: dict[str, Principal], cat: int) -> Any:
        args = {"to": Account(who["bob"]), "amount": 1_000, "created_at_time": cat, **fields}
        return ledger.as_caller(who[caller_name]).icrc1_transfer(TransferArgs(**args))

    return run


def _self_transfer_from(**fields: Any) -> Callable[..., Any]:
    def run(ledger: CanisterProxy, who: dict[str, Principal], cat: int) -> Any:
        args = TransferFromArgs(
            from_=Account(who["alice"]), to=Account(who["bob"]), amount=1_000,
            created_at_time=cat, **fields,
        )  # fmt: skip
        return ledger.as_caller(who["alice"]).icrc2_transfer_from(args)

    return run


def _transfer_to_bob_zero_sub() -> Callable[..., Any]:
    def run(ledger: CanisterProxy, who: dict[str, Principal], cat: int) -> Any:
        args = TransferArgs(to=Account(who["bob"], ZERO_SUB), amount=1_000, created_at_time=cat)
        return ledger.as_caller(who["alice"]).icrc1_transfer(args)

    return run


NOT_DUPLICATES = {
    "different memo": (_transfer("alice", memo=b"a"), _transfer("alice", memo=b"b"), 2_000),
    "memo None vs empty": (_transfer("alice", memo=None), _transfer("alice", memo=b""), 2_000),
    "from_subaccount None vs zeros": (
        _transfer("alice", from_subaccount=None),
        _transfer("alice", from_subaccount=ZERO_SUB),
        2_000,
    ),
    "to without vs with zero subaccount": (
        _transfer("alice"),
        _transfer_to_bob_zero_sub(),
        2_000,
    ),
    "fee given vs fee None": (_transfer("alice", fee=FEE), _transfer("alice", fee=None), 2_000),
    "different amount": (
        _transfer("alice", amount=1_000),
        _transfer("alice", amount=1_001),
        2_001,
    ),
    "different caller": (_transfer("alice"), _transfer("carol"), 2_000),
    "transfer vs self transfer_from": (_transfer("alice"), _self_transfer_from(), 2_000),
    "self transfer_from spender_subaccount None vs zeros": (
        _self_transfer_from(spender_subaccount=None),
        _self_transfer_from(spender_subaccount=ZERO_SUB),
        2_000,
    ),
}


@pytest.mark.parametrize(
    "first, second, credit", NOT_DUPLICATES.values(), ids=NOT_DUPLICATES.keys()
)
def test_requests_differing_in_one_field_as_given_are_not_duplicates(
    ic: IC,
    ledger: CanisterProxy,
    alice: Principal,
    bob: Principal,
    carol: Principal,
    first: Callable[..., Any],
    second: Callable[..., Any],
    credit: int,
) -> None:
    """Dedup compares the recorded transaction with its fields as given (§2.1, §2.6, §4.4)."""
    who = {"alice": alice, "bob": bob, "carol": carol}
    assert ledger.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(carol), amount=E8S)
    ) == Ok(2)
    cat = ic.time
    bob_before = ledger.icrc1_balance_of(Account(bob))
    supply_before = ledger.icrc1_total_supply()
    assert first(ledger, who, cat) == Ok(3)
    assert second(ledger, who, cat) == Ok(4)
    assert ledger.icrc1_balance_of(Account(bob)) == bob_before + credit
    assert ledger.icrc1_total_supply() == supply_before - 2 * FEE
    # each of the two is itself remembered
    assert first(ledger, who, cat) == Err(Duplicate(3))
    assert second(ledger, who, cat) == Err(Duplicate(4))


def test_different_created_at_time_is_not_a_duplicate(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    cat = ic.time
    base = TransferArgs(to=Account(bob), amount=1_000, created_at_time=cat)
    other = TransferArgs(to=Account(bob), amount=1_000, created_at_time=cat - 1)
    assert ledger.as_caller(alice).icrc1_transfer(base) == Ok(2)
    assert ledger.as_caller(alice).icrc1_transfer(other) == Ok(3)
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + 2_000


def test_approvals_differing_in_expected_allowance_or_expiry_are_not_duplicates(
    ic: IC, ledger: CanisterProxy, alice: Principal, carol: Principal
) -> None:
    cat = ic.time
    base: dict[str, Any] = {"spender": Account(carol), "amount": 500, "created_at_time": cat}
    approve = ledger.as_caller(alice).icrc2_approve
    assert approve(ApproveArgs(**base)) == Ok(2)
    assert approve(ApproveArgs(**base, expected_allowance=500)) == Ok(3)
    assert approve(ApproveArgs(**base, expires_at=cat + 10**12)) == Ok(4)
    assert approve(ApproveArgs(**base)) == Err(Duplicate(2))
    assert ledger.icrc2_allowance(AllowanceArgs(Account(alice), Account(carol))) == Allowance(
        500, cat + 10**12
    )
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - 3 * FEE


def test_duplicate_is_detected_before_insufficient_funds(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """Rust order: time and dedup checks precede the funds check (§2.12 step 4 before 6)."""
    cat = ic.time
    args = TransferArgs(to=Account(bob), amount=ALICE_START - FEE, created_at_time=cat)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(2)
    assert ledger.icrc1_balance_of(Account(alice)) == 0
    assert ledger.as_caller(alice).icrc1_transfer(args) == Err(Duplicate(2))


# -- only successes are remembered ----------------------------------------------------------------


def test_a_request_that_failed_for_lack_of_funds_can_be_resent_and_succeed(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    cat = ic.time
    args = TransferArgs(to=Account(bob), amount=5_000, memo=b"retry", created_at_time=cat)
    assert ledger.as_caller(carol).icrc1_transfer(args) == Err(InsufficientFunds(balance=0))
    assert ledger.get_transaction_count() == 2
    ic.advance_time(minutes=1)
    assert ledger.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(carol), amount=E8S)
    ) == Ok(2)
    assert ledger.as_caller(carol).icrc1_transfer(args) == Ok(3)
    assert ledger.icrc1_balance_of(Account(carol)) == E8S - 5_000 - FEE
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + 5_000
    assert ledger.as_caller(carol).icrc1_transfer(args) == Err(Duplicate(3))


def test_an_approval_that_failed_for_lack_of_funds_can_be_resent_and_succeed(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    cat = ic.time
    args = ApproveArgs(spender=Account(bob), amount=5_000, created_at_time=cat)
    assert ledger.as_caller(carol).icrc2_approve(args) == Err(InsufficientFunds(balance=0))
    assert ledger.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(carol), amount=FEE)
    ) == Ok(2)
    assert ledger.as_caller(carol).icrc2_approve(args) == Ok(3)
    assert ledger.icrc2_allowance(AllowanceArgs(Account(carol), Account(bob))) == Allowance(5_000)
    assert ledger.as_caller(carol).icrc2_approve(args) == Err(Duplicate(3))


# -- after the window -----------------------------------------------------------------------------


def test_after_the_window_the_same_request_is_too_old_not_duplicate(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    """SMT: advance 24 h + 5 min → TooOld."""
    args = TransferArgs(to=Account(bob), amount=1_000, created_at_time=ic.time)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(2)
    ic.advance_time(hours=24, minutes=5)
    before = books(ledger, alice, bob, carol)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Err(TooOld())
    assert books(ledger, alice, bob, carol) == before


@pytest.mark.parametrize(
    "elapsed, expected",
    [
        (TX_WINDOW_NS - 1, Err(Duplicate(2))),
        (TX_WINDOW_NS, Err(Duplicate(2))),
        (TX_WINDOW_NS + 1, Err(TooOld())),
    ],
)
def test_duplicate_until_the_window_closes_then_too_old(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, elapsed: int, expected: Any
) -> None:
    """Made at t with created_at_time t: Duplicate through t + TX_WINDOW, TooOld one ns later."""
    t = ic.time
    args = TransferArgs(to=Account(bob), amount=1_000, created_at_time=t)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(2)
    ic.set_time(t + elapsed)
    assert ledger.as_caller(alice).icrc1_transfer(args) == expected
    assert ledger.get_transaction_count() == 3
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + 1_000


@pytest.mark.parametrize("elapsed", [TX_WINDOW_NS + PERMITTED_DRIFT_NS, TX_WINDOW_NS + 1])
def test_a_future_dated_request_stays_a_duplicate_while_it_is_not_too_old(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, elapsed: int
) -> None:
    """created_at_time = t + DRIFT executed at t: still Duplicate at t + TX_WINDOW + DRIFT
    (the dedup entry outlives the window by the drift, so there is no gap before TooOld)."""
    t = ic.time
    args = TransferArgs(to=Account(bob), amount=1_000, created_at_time=t + PERMITTED_DRIFT_NS)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(2)
    ic.set_time(t + elapsed)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Err(Duplicate(2))
    ic.advance_time(nanos=TX_WINDOW_NS + PERMITTED_DRIFT_NS - elapsed + 1)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Err(TooOld())
    assert ledger.get_transaction_count() == 3


# -- expiry keeps memory bounded ------------------------------------------------------------------


def _tracked(i: int, cat: int, bob: Principal) -> TransferArgs:
    return TransferArgs(to=Account(bob), amount=1, memo=i.to_bytes(4, "big"), created_at_time=cat)


def test_expired_dedup_entries_are_forgotten(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    t0 = ic.time
    transfer = ledger.as_caller(alice).icrc1_transfer
    for i in range(50):
        assert transfer(_tracked(i, t0, bob)) == Ok(2 + i)
    genesis_mints = 2  # initial balances are remembered like mints made at init time
    assert len(ic.state_of(ledger.id).dedup) == 50 + genesis_mints
    ic.advance_time(hours=24, minutes=1, nanos=1)
    assert transfer(_tracked(999, ic.time, bob)) == Ok(52)
    assert len(ic.state_of(ledger.id).dedup) == 1


def test_dedup_stays_correct_and_bounded_across_queue_compaction(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """> 1024 entries expiring at once compacts the queue; fresh entries keep being detected."""
    transfer = ledger.as_caller(alice).icrc1_transfer
    t0 = ic.time
    old = 1100
    for i in range(old):
        assert transfer(_tracked(i, t0, bob)) == Ok(2 + i)
    ic.advance_time(hours=12)
    t1 = ic.time
    fresh = {}
    for i in range(old, old + 10):
        fresh[i] = ledger.get_transaction_count()
        assert transfer(_tracked(i, t1, bob)) == Ok(fresh[i])
    state = ic.state_of(ledger.id)
    genesis_mints = 2
    assert len(state.dedup) == old + 10 + genesis_mints

    ic.set_time(t0 + TX_WINDOW_NS + PERMITTED_DRIFT_NS + 1)
    trigger = ledger.get_transaction_count()
    assert transfer(_tracked(5000, ic.time, bob)) == Ok(trigger)
    state = ic.state_of(ledger.id)
    assert len(state.dedup) == 11
    assert len(state.dedup_queue) - state.dedup_head == 11
    assert len(state.dedup_queue) < old  # the dead prefix was dropped

    for i, index in fresh.items():
        assert transfer(_tracked(i, t1, bob)) == Err(Duplicate(index))
    assert transfer(_tracked(5000, ic.time, bob)) == Err(Duplicate(trigger))
    assert transfer(_tracked(0, t0, bob)) == Err(TooOld())
    # the same fields with a fresh created_at_time are a new transaction
    assert transfer(_tracked(0, ic.time, bob)) == Ok(trigger + 1)
    assert transfer(_tracked(0, ic.time, bob)) == Err(Duplicate(trigger + 1))

    # later, the fresh batch expires too
    ic.set_time(t1 + TX_WINDOW_NS + PERMITTED_DRIFT_NS + 1)
    assert transfer(_tracked(6000, ic.time, bob)) == Ok(trigger + 2)
    state = ic.state_of(ledger.id)
    assert len(state.dedup) == 3  # 5000, 0 (second life) and 6000
    assert transfer(_tracked(6000, ic.time, bob)) == Err(Duplicate(trigger + 2))
    assert transfer(_tracked(0, ic.time - 1, bob)) == Ok(trigger + 3)

    n = ledger.get_transaction_count() - GENESIS_BLOCKS
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + n
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - n * (1 + FEE)


ZEROS = bytes(32)


@pytest.mark.parametrize(
    "retry",
    [{"from_subaccount": ZEROS}, {"fee": 0}, {"from_subaccount": ZEROS, "fee": 0}],
    ids=["minter's zero subaccount", "fee 0", "both"],
)
def test_a_mint_retried_with_another_spelling_of_the_minter_or_fee_0_is_a_duplicate(
    ic: IC, ledger: CanisterProxy, minter: Principal, bob: Principal, retry: dict[str, Any]
) -> None:
    """The production ledger records a mint as (to, amount, memo, created_at_time): no source,
    no fee, so neither can make a retry a second mint."""
    mint = TransferArgs(to=Account(bob), amount=7, created_at_time=ic.time)
    first = ledger.as_caller(minter).icrc1_transfer(mint).unwrap()
    supply = ledger.icrc1_total_supply()
    again = TransferArgs(to=Account(bob), amount=7, created_at_time=ic.time, **retry)
    assert ledger.as_caller(minter).icrc1_transfer(again) == Err(Duplicate(first))
    assert ledger.icrc1_total_supply() == supply


@pytest.mark.parametrize(
    "retry",
    [{"to": "minter, zero subaccount"}, {"fee": 0}], ids=["minter's zero subaccount", "fee 0"],
)
def test_a_burn_retried_with_another_spelling_of_the_minter_or_fee_0_is_a_duplicate(
    ic: IC, ledger: CanisterProxy, minter: Principal, alice: Principal, retry: dict[str, Any]
) -> None:
    """A burn is recorded as (from, spender, amount, memo, created_at_time): no destination and
    no fee."""
    burn = TransferArgs(to=Account(minter), amount=E8S, created_at_time=ic.time)
    first = ledger.as_caller(alice).icrc1_transfer(burn).unwrap()
    supply = ledger.icrc1_total_supply()
    fields: dict[str, Any] = {"to": Account(minter), "amount": E8S, "created_at_time": ic.time}
    if "to" in retry:
        fields["to"] = Account(minter, ZEROS)
    else:
        fields.update(retry)
    assert ledger.as_caller(alice).icrc1_transfer(TransferArgs(**fields)) == Err(Duplicate(first))
    assert ledger.icrc1_total_supply() == supply


def test_a_mint_remembered_in_the_general_form_by_an_older_world_is_still_a_duplicate(
    ic: IC, ledger: CanisterProxy, minter: Principal, bob: Principal
) -> None:
    """Worlds saved before mints had an identity of their own remember a mint as (kind, source,
    to, spender, amount, fee, memo, time); a retry after loading one is still its duplicate."""
    at = ic.time
    mint = TransferArgs(to=Account(bob), amount=7, created_at_time=at)
    first = ledger.as_caller(minter).icrc1_transfer(mint).unwrap()
    state = ic.state_of(ledger.id)
    general = ("transfer", (minter, None), (bob, None), None, 7, None, None, at)
    older = attrs.evolve(state, dedup=immutables.Map({general: first}))
    world = ic.snapshot()
    record = world.canisters[ledger.id]._replace(state=older)
    ic.restore(world._replace(canisters=world.canisters.set(ledger.id, record)))
    supply = ledger.icrc1_total_supply()
    assert ledger.as_caller(minter).icrc1_transfer(mint) == Err(Duplicate(first))
    assert ledger.icrc1_total_supply() == supply


def test_a_mint_and_a_transfer_with_the_same_fields_stay_distinct(
    ic: IC, ledger: CanisterProxy, minter: Principal, alice: Principal, bob: Principal
) -> None:
    """A mint's identity names no source, so a transfer of the same amount to the same account
    at the same time is another transaction."""
    at = ic.time
    ledger.as_caller(minter).icrc1_transfer(
        TransferArgs(to=Account(bob), amount=7, created_at_time=at)
    ).unwrap()  # fmt: skip
    assert ledger.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(bob), amount=7, created_at_time=at)
    ).is_ok  # fmt: skip


def test_dedup_entries_expire_on_an_erroring_request_too(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """Expiry is driven by any dedup-tracked request; a TooOld answer still forgets old entries."""
    t0 = ic.time
    for i in range(20):
        assert ledger.as_caller(alice).icrc1_transfer(_tracked(i, t0, bob)).is_ok
    ic.advance_time(hours=25)
    assert ledger.as_caller(alice).icrc1_transfer(_tracked(0, t0, bob)) == Err(TooOld())
    assert len(ic.state_of(ledger.id).dedup) == 0


# -- created_at_time is a nat64 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, error", [(2**64, ValueError), (-1, ValueError), (1.0, TypeError), ("1", TypeError),
                     (True, TypeError)],
)  # fmt: skip
@pytest.mark.parametrize("record", ["transfer", "approve", "transfer_from"])
def test_created_at_time_outside_nat64_is_refused_at_the_call_site(
    ledger: CanisterProxy,
    everyone: tuple[Principal, ...],
    alice: Principal,
    bob: Principal,
    record: str,
    value: Any,
    error: type[Exception],
) -> None:
    before = books(ledger, *everyone)
    with pytest.raises(error):
        if record == "transfer":
            TransferArgs(to=Account(bob), amount=1, created_at_time=value)
        elif record == "approve":
            ApproveArgs(spender=Account(bob), amount=1, created_at_time=value)
        else:
            TransferFromArgs(from_=Account(alice), to=Account(bob), amount=1,
                             created_at_time=value)  # fmt: skip
    assert books(ledger, *everyone) == before


def test_created_at_time_max_nat64_builds_for_every_record(
    alice: Principal, bob: Principal
) -> None:
    assert TransferArgs(to=Account(bob), amount=1, created_at_time=U64_MAX).created_at_time == (
        U64_MAX
    )
    assert ApproveArgs(spender=Account(bob), amount=1, created_at_time=U64_MAX).created_at_time == (
        U64_MAX
    )
    assert (
        TransferFromArgs(
            from_=Account(alice), to=Account(bob), amount=1, created_at_time=U64_MAX
        ).created_at_time
        == U64_MAX
    )
