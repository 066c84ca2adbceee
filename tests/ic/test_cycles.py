"""Cycles: message costs, frozen canisters and cycles attached to calls (spec ic.md §9)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto import (
    IC,
    MANAGEMENT_ID,
    CallRejected,
    Canister,
    CanisterProxy,
    Principal,
    Reject,
    RejectCode,
    Trap,
    query,
    update,
)
from icto.ic.cycles import (
    CANISTER_CREATION,
    DEFAULT_CANISTER_CYCLES,
    INGRESS_MESSAGE,
    INTER_CANISTER_CALL,
    MAX_CYCLES,
    UPDATE_MESSAGE,
)
from tests.ic.toys import Counter, Relay, Tally

INGRESS_UPDATE = UPDATE_MESSAGE + INGRESS_MESSAGE
"""What the callee of an ingress update pays."""


def rejected(fn: Any, *args: Any, **kwargs: Any) -> CallRejected:
    with pytest.raises(CallRejected) as info:
        fn(*args, **kwargs)
    return info.value


class Wallet(Canister):
    """Sends cycles with calls and reports what happened."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = Tally(0)

    @update
    def send(self, target: Principal, method: str, cycles: int, args: tuple[Any, ...] = ()) -> Any:
        """Call ``target.method(*args)`` with ``cycles`` attached; let rejects propagate."""
        return self.call(target, method, *args, cycles=cycles)

    @update
    def send_catch(
        self, target: Principal, method: str, cycles: int, args: tuple[Any, ...] = ()
    ) -> str:
        """+1, call with cycles, +1; on reject report the codes instead of trapping."""
        self.state = Tally(self.state.n + 1)
        try:
            reply = self.call(target, method, *args, cycles=cycles)
        except CallRejected as err:
            return f"{err.reject_code.name} {err.error_code}"
        self.state = Tally(self.state.n + 1)
        return f"reply {reply!r}"

    @update
    def balance(self) -> int:
        return self.cycles_balance

    @update
    def create(self, cycles: int) -> Principal:
        created: Principal = self.call(MANAGEMENT_ID, "create_canister", None, cycles=cycles)
        return created


class Bank(Canister):
    """Accepts attached cycles, then replies, rejects or traps."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = Tally(0)

    @update
    def accept(self, max_amount: int) -> tuple[int, int, int]:
        """(available before, accepted, available after)."""
        before = self.cycles_available
        got = self.accept_cycles(max_amount)
        return before, got, self.cycles_available

    @update
    def accept_twice(self, first: int, second: int) -> tuple[int, int]:
        return self.accept_cycles(first), self.accept_cycles(second)

    @update
    def accept_then_reject(self, max_amount: int) -> None:
        self.accept_cycles(max_amount)
        self.state = Tally(self.state.n + 1)
        raise Reject("no thanks")

    @update
    def accept_then_trap(self, max_amount: int) -> None:
        self.accept_cycles(max_amount)
        self.state = Tally(self.state.n + 1)
        raise Trap("took the money and trapped")

    @update
    def accept_call_accept_trap(self, first: int, second: int, target: Principal) -> None:
        """Accept, call (commits), accept more, trap: only the first accept stays."""
        self.accept_cycles(first)
        self.call(target, "get")
        self.accept_cycles(second)
        raise Trap("trap in the second segment")

    @query
    def accept_in_query(self, max_amount: int) -> int:
        return self.accept_cycles(max_amount)


@pytest.fixture
def counter(ic: IC) -> CanisterProxy:
    return ic.deploy(Counter, 0)


@pytest.fixture
def bank(ic: IC) -> CanisterProxy:
    return ic.deploy(Bank)


WALLET_FUNDS = 10_000_000_000


@pytest.fixture
def wallet(ic: IC) -> CanisterProxy:
    return ic.deploy(Wallet, cycles=WALLET_FUNDS)


# -- the cost table -------------------------------------------------------------------------------


def test_the_cost_table_is_the_13_node_subnet_one() -> None:
    assert CANISTER_CREATION == 500_000_000_000
    assert UPDATE_MESSAGE == 5_000_000
    assert INTER_CANISTER_CALL == 260_000
    assert INGRESS_MESSAGE == 1_200_000


def test_a_new_canister_has_the_default_or_the_requested_cycles(ic: IC) -> None:
    assert ic.cycles_balance(ic.create_canister()) == DEFAULT_CANISTER_CYCLES
    assert ic.cycles_balance(ic.create_canister(cycles=12_345)) == 12_345
    assert ic.cycles_balance(ic.deploy(Counter, cycles=777).id) == 777


def test_an_ingress_update_charges_the_callee_execution_and_ingress(
    ic: IC, counter: CanisterProxy
) -> None:
    before = ic.cycles_balance(counter.id)
    counter.inc(1)
    assert ic.cycles_balance(counter.id) == before - UPDATE_MESSAGE - INGRESS_MESSAGE


def test_a_rejecting_or_trapping_update_is_still_charged(ic: IC, counter: CanisterProxy) -> None:
    before = ic.cycles_balance(counter.id)
    rejected(counter.inc_then_reject, 1)
    rejected(counter.inc_then_trap, 1)
    assert ic.cycles_balance(counter.id) == before - 2 * INGRESS_UPDATE


def test_an_inter_canister_call_charges_the_caller_the_call_and_the_callee_execution(
    ic: IC, counter: CanisterProxy
) -> None:
    relay = ic.deploy(Relay)
    relay_before, counter_before = ic.cycles_balance(relay.id), ic.cycles_balance(counter.id)
    relay.relay(counter.id, "inc", (1,))
    assert ic.cycles_balance(relay.id) == relay_before - INGRESS_UPDATE - INTER_CANISTER_CALL
    assert ic.cycles_balance(counter.id) == counter_before - UPDATE_MESSAGE


def test_each_call_of_a_chain_is_paid_by_its_caller(ic: IC) -> None:
    relays = [ic.deploy(Relay) for _ in range(3)]
    before = [ic.cycles_balance(r.id) for r in relays]
    relays[0].chain((relays[1].id, relays[2].id))
    after = [ic.cycles_balance(r.id) for r in relays]
    assert [b - a for b, a in zip(before, after, strict=True)] == [
        INGRESS_UPDATE + INTER_CANISTER_CALL,
        UPDATE_MESSAGE + INTER_CANISTER_CALL,
        UPDATE_MESSAGE,
    ]


def test_ingress_queries_are_free(ic: IC, counter: CanisterProxy) -> None:
    before = ic.cycles_balance(counter.id)
    for _ in range(5):
        counter.get()
    assert ic.query_call(counter.id, "inc_in_query", 3) == 3
    assert ic.cycles_balance(counter.id) == before


def test_a_query_called_as_an_update_is_charged_and_its_writes_dropped(
    ic: IC, counter: CanisterProxy
) -> None:
    before = ic.cycles_balance(counter.id)
    assert ic.update_call(counter.id, "inc_in_query", 3) == 3
    assert counter.get() == 0
    assert ic.cycles_balance(counter.id) == before - INGRESS_UPDATE


def test_a_query_called_by_a_canister_runs_replicated_and_is_charged(
    ic: IC, counter: CanisterProxy
) -> None:
    relay = ic.deploy(Relay)
    before = ic.cycles_balance(counter.id)
    assert relay.relay(counter.id, "inc_in_query", (3,)) == 3
    assert counter.get() == 0
    assert ic.cycles_balance(counter.id) == before - UPDATE_MESSAGE


def test_a_canister_call_to_the_management_canister_costs_the_call_fee(
    ic: IC, wallet: CanisterProxy
) -> None:
    before = ic.cycles_balance(wallet.id)
    wallet.send(MANAGEMENT_ID, "raw_rand", 0)
    assert ic.cycles_balance(wallet.id) == before - INGRESS_UPDATE - INTER_CANISTER_CALL


def test_creating_a_canister_from_a_canister_costs_the_creation_fee(ic: IC) -> None:
    factory = ic.deploy(Wallet, cycles=2 * CANISTER_CREATION)
    attached = CANISTER_CREATION + 1_000_000
    created = factory.create(attached)
    assert ic.cycles_balance(created) == 1_000_000
    assert ic.cycles_balance(factory.id) == (
        2 * CANISTER_CREATION - INGRESS_UPDATE - INTER_CANISTER_CALL - attached
    )


def test_creating_a_canister_with_too_few_cycles_refunds_them(ic: IC) -> None:
    factory = ic.deploy(Wallet, cycles=2 * CANISTER_CREATION)
    err = rejected(factory.create, CANISTER_CREATION - 1)
    assert err.error_code == "IC0503", "the uncaught reject traps the factory"
    assert ic.cycles_balance(factory.id) == (
        2 * CANISTER_CREATION - INGRESS_UPDATE - INTER_CANISTER_CALL
    )


# -- frozen canisters ----------------------------------------------------------------------------


def make_poor_counter(ic: IC, cycles: int) -> Principal:
    canister_id = ic.create_canister(cycles=cycles)
    ic.install_code(canister_id, Counter, 5)
    return canister_id


def test_a_canister_that_cannot_pay_is_frozen_and_nothing_runs(ic: IC) -> None:
    poor = make_poor_counter(ic, INGRESS_UPDATE - 1)
    before = ic.snapshot()
    err = rejected(ic.update_call, poor, "inc", 1)
    assert err.reject_code is RejectCode.SYS_TRANSIENT
    assert err.error_code == "IC0207"
    assert err.canister_id == poor
    assert ic.snapshot() is before
    assert ic.state_of(poor) == Tally(5)
    assert ic.cycles_balance(poor) == INGRESS_UPDATE - 1


def test_a_canister_that_can_pay_exactly_runs_and_ends_at_zero(ic: IC) -> None:
    poor = make_poor_counter(ic, INGRESS_UPDATE)
    assert ic.update_call(poor, "inc", 1) == 6
    assert ic.cycles_balance(poor) == 0
    assert rejected(ic.update_call, poor, "inc", 1).error_code == "IC0207"


def test_deploy_with_few_cycles_gives_a_frozen_canister(ic: IC) -> None:
    poor = ic.deploy(Counter, 1, cycles=1_000)
    err = rejected(poor.inc, 1)
    assert (err.reject_code, err.error_code) == (RejectCode.SYS_TRANSIENT, "IC0207")
    assert ic.state_of(poor.id) == Tally(1)


def test_topping_up_unfreezes(ic: IC) -> None:
    poor = make_poor_counter(ic, 1_000)
    rejected(ic.update_call, poor, "inc", 1)
    assert ic.add_cycles(poor, INGRESS_UPDATE - 1_000) == INGRESS_UPDATE
    assert ic.update_call(poor, "inc", 1) == 6
    assert ic.cycles_balance(poor) == 0


def test_a_frozen_callee_rejects_an_inter_canister_call(ic: IC) -> None:
    poor = make_poor_counter(ic, UPDATE_MESSAGE - 1)
    relay = ic.deploy(Relay)
    before = ic.cycles_balance(relay.id)
    assert relay.bump_call_catch(poor, "inc", (1,)) == "SYS_TRANSIENT IC0207"
    assert ic.state_of(poor) == Tally(5)
    assert ic.cycles_balance(poor) == UPDATE_MESSAGE - 1
    assert ic.cycles_balance(relay.id) == before - INGRESS_UPDATE - INTER_CANISTER_CALL


def test_a_caller_that_cannot_pay_the_call_fee_gets_a_transient_reject(
    ic: IC, counter: CanisterProxy
) -> None:
    relay = ic.deploy(Relay, cycles=INGRESS_UPDATE + INTER_CANISTER_CALL - 1)
    counter_before = ic.cycles_balance(counter.id)
    assert relay.bump_call_catch(counter.id, "inc", (1,)) == "SYS_TRANSIENT IC0207"
    assert relay.get() == 101
    assert counter.get() == 0
    assert ic.cycles_balance(relay.id) == INTER_CANISTER_CALL - 1
    assert ic.cycles_balance(counter.id) == counter_before


def test_a_frozen_canisters_timer_does_not_run(ic: IC) -> None:
    class Ticker(Canister):
        def init(self, arg: Any) -> None:
            self.state = Tally(0)
            self.set_timer(10, "tick")

        @update
        def tick(self) -> None:
            self.state = Tally(self.state.n + 1)

    ticker = ic.deploy(Ticker, cycles=UPDATE_MESSAGE - 1)
    ic.advance_time(nanos=10)
    assert ic.state_of(ticker.id) == Tally(0)
    assert ic.cycles_balance(ticker.id) == UPDATE_MESSAGE - 1


def test_a_timer_costs_one_update_execution(ic: IC) -> None:
    class Ticker(Canister):
        def init(self, arg: Any) -> None:
            self.state = Tally(0)
            self.set_timer(10, "tick")

        @update
        def tick(self) -> None:
            self.state = Tally(self.state.n + 1)

    ticker = ic.deploy(Ticker, cycles=UPDATE_MESSAGE)
    ic.advance_time(nanos=10)
    assert ic.state_of(ticker.id) == Tally(1)
    assert ic.cycles_balance(ticker.id) == 0


# -- cycles attached to calls -------------------------------------------------------------------


def test_the_callee_accepts_at_most_what_is_attached(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy
) -> None:
    bank_before = ic.cycles_balance(bank.id)
    assert wallet.send(bank.id, "accept", 1_000, (5_000,)) == (1_000, 1_000, 0)
    assert ic.cycles_balance(wallet.id) == (
        WALLET_FUNDS - INGRESS_UPDATE - INTER_CANISTER_CALL - 1_000
    )
    assert ic.cycles_balance(bank.id) == bank_before - UPDATE_MESSAGE + 1_000


def test_unaccepted_cycles_are_refunded_on_reply(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy
) -> None:
    bank_before = ic.cycles_balance(bank.id)
    assert wallet.send(bank.id, "accept", 1_000, (300,)) == (1_000, 300, 700)
    assert ic.cycles_balance(wallet.id) == WALLET_FUNDS - INGRESS_UPDATE - INTER_CANISTER_CALL - 300
    assert ic.cycles_balance(bank.id) == bank_before - UPDATE_MESSAGE + 300


def test_cycles_sent_to_a_method_that_does_not_accept_come_back(
    ic: IC, wallet: CanisterProxy, counter: CanisterProxy
) -> None:
    counter_before = ic.cycles_balance(counter.id)
    assert wallet.send(counter.id, "inc", 5_000, (1,)) == 1
    assert ic.cycles_balance(wallet.id) == WALLET_FUNDS - INGRESS_UPDATE - INTER_CANISTER_CALL
    assert ic.cycles_balance(counter.id) == counter_before - UPDATE_MESSAGE


def test_accepting_twice_takes_from_what_remains(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy
) -> None:
    assert wallet.send(bank.id, "accept_twice", 1_000, (600, 600)) == (600, 400)
    assert ic.cycles_balance(wallet.id) == (
        WALLET_FUNDS - INGRESS_UPDATE - INTER_CANISTER_CALL - 1_000
    )


def test_an_ingress_message_carries_no_cycles(ic: IC, bank: CanisterProxy) -> None:
    before = ic.cycles_balance(bank.id)
    assert bank.accept(1_000) == (0, 0, 0)
    assert ic.cycles_balance(bank.id) == before - INGRESS_UPDATE


def test_unaccepted_cycles_are_refunded_on_reject_and_accepted_ones_kept(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy
) -> None:
    bank_before = ic.cycles_balance(bank.id)
    assert wallet.send_catch(bank.id, "accept_then_reject", 1_000, (300,)) == (
        "CANISTER_REJECT IC0406"
    )
    assert ic.state_of(bank.id) == Tally(1), "a reject keeps the callee's changes"
    assert ic.cycles_balance(bank.id) == bank_before - UPDATE_MESSAGE + 300
    assert ic.cycles_balance(wallet.id) == WALLET_FUNDS - INGRESS_UPDATE - INTER_CANISTER_CALL - 300


def test_everything_is_refunded_when_the_callee_traps(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy
) -> None:
    bank_before = ic.cycles_balance(bank.id)
    assert wallet.send_catch(bank.id, "accept_then_trap", 1_000, (1_000,)) == (
        "CANISTER_ERROR IC0503"
    )
    assert ic.state_of(bank.id) == Tally(0)
    assert ic.cycles_balance(bank.id) == bank_before - UPDATE_MESSAGE
    assert ic.cycles_balance(wallet.id) == WALLET_FUNDS - INGRESS_UPDATE - INTER_CANISTER_CALL


def test_cycles_accepted_before_a_call_stay_when_the_callee_traps_later(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy, counter: CanisterProxy
) -> None:
    """The call commits the first accept; the trap rolls back only the second."""
    bank_before = ic.cycles_balance(bank.id)
    reply = wallet.send_catch(bank.id, "accept_call_accept_trap", 1_000, (300, 500, counter.id))
    assert reply == "CANISTER_ERROR IC0503"
    assert ic.cycles_balance(bank.id) == (bank_before - UPDATE_MESSAGE - INTER_CANISTER_CALL + 300)
    assert ic.cycles_balance(wallet.id) == WALLET_FUNDS - INGRESS_UPDATE - INTER_CANISTER_CALL - 300


def test_cycles_attached_to_a_call_to_an_unknown_canister_are_refunded(
    ic: IC, wallet: CanisterProxy
) -> None:
    nowhere = Principal.from_canister_index(4242)
    assert wallet.send_catch(nowhere, "accept", 1_000, (1_000,)) == ("DESTINATION_INVALID IC0301")
    assert ic.cycles_balance(wallet.id) == WALLET_FUNDS - INGRESS_UPDATE - INTER_CANISTER_CALL


def test_cycles_attached_to_a_query_are_refunded(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy
) -> None:
    assert wallet.send(bank.id, "accept_in_query", 1_000, (1_000,)) == 0
    assert ic.cycles_balance(wallet.id) == WALLET_FUNDS - INGRESS_UPDATE - INTER_CANISTER_CALL


def test_a_wallet_that_cannot_afford_fee_plus_cycles_gets_a_transient_reject(
    ic: IC, bank: CanisterProxy
) -> None:
    funds = INGRESS_UPDATE + INTER_CANISTER_CALL + 999
    wallet = ic.deploy(Wallet, cycles=funds)
    bank_before = ic.cycles_balance(bank.id)
    assert wallet.send_catch(bank.id, "accept", 1_000, (1_000,)) == "SYS_TRANSIENT IC0207"
    assert ic.state_of(wallet.id) == Tally(1)
    assert ic.cycles_balance(wallet.id) == INTER_CANISTER_CALL + 999
    assert ic.cycles_balance(bank.id) == bank_before
    assert ic.trace.calls(canister=bank.id, kind="call") == [], "the call was never sent"


def test_a_wallet_that_can_afford_exactly_fee_plus_cycles_sends_them(
    ic: IC, bank: CanisterProxy
) -> None:
    wallet = ic.deploy(Wallet, cycles=INGRESS_UPDATE + INTER_CANISTER_CALL + 1_000)
    assert wallet.send_catch(bank.id, "accept", 1_000, (1_000,)) == "reply (1000, 1000, 0)"
    assert ic.cycles_balance(wallet.id) == 0


def test_a_negative_cycles_amount_traps_the_caller(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy
) -> None:
    err = rejected(wallet.send, bank.id, "accept", -1, (1,))
    assert err.error_code == "IC0503"
    assert ic.cycles_balance(wallet.id) == WALLET_FUNDS - INGRESS_UPDATE


# -- u128 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "enter",
    [
        lambda ic, wallet: ic.add_cycles(wallet.id, MAX_CYCLES + 1),
        lambda ic, wallet: ic.create_canister(cycles=MAX_CYCLES + 1),
        lambda ic, wallet: ic.deploy(Counter, 0, cycles=2**130),
    ],
    ids=["add_cycles", "create_canister", "deploy"],
)
def test_cycles_beyond_a_u128_are_refused_where_they_enter_and_change_nothing(
    ic: IC, wallet: CanisterProxy, enter: Any
) -> None:
    before = ic.snapshot()
    err = rejected(enter, ic, wallet)
    assert (err.reject_code, err.error_code) == (RejectCode.CANISTER_REJECT, "IC0408")
    assert "u128" in err.message
    assert ic.snapshot() is before


def test_attaching_more_than_a_u128_of_cycles_traps_the_caller(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy
) -> None:
    ic.add_cycles(wallet.id, MAX_CYCLES)
    bank_before = ic.cycles_balance(bank.id)
    err = rejected(wallet.send, bank.id, "accept", MAX_CYCLES + 1, (MAX_CYCLES + 1,))
    assert err.error_code == "IC0503" and "u128" in err.message
    assert ic.cycles_balance(wallet.id) == MAX_CYCLES - INGRESS_UPDATE
    assert ic.cycles_balance(bank.id) == bank_before
    assert ic.trace.calls(canister=bank.id, kind="call") == [], "the call was never sent"


def test_a_balance_saturates_at_u128_wherever_cycles_arrive(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy
) -> None:
    """A top-up, a deposit, a refund and cycles a callee accepts never take a balance past
    2**128 - 1 (the execution fee is paid before accepted cycles count against the cap)."""
    assert ic.add_cycles(wallet.id, MAX_CYCLES) == MAX_CYCLES
    ic.add_cycles(bank.id, MAX_CYCLES)
    # The callee deposits into the waiting wallet, which is full again when its 1000 come back.
    payer = ic.deploy(Wallet)
    deposit = (MANAGEMENT_ID, "deposit_cycles", 10**9, (wallet.id,))
    wallet.send(payer.id, "send", 1_000, deposit)
    assert ic.cycles_balance(wallet.id) == MAX_CYCLES
    payer.send(MANAGEMENT_ID, "deposit_cycles", 10**9, (bank.id,))
    assert ic.cycles_balance(bank.id) == MAX_CYCLES
    assert wallet.send_catch(bank.id, "accept", 10**9, (10**9,)) == (
        f"reply ({10**9}, {10**9}, 0)"
    )
    assert ic.cycles_balance(bank.id) == MAX_CYCLES


@settings(max_examples=80, deadline=None)
@given(
    attached=st.integers(0, 10**12),
    accept=st.integers(0, 10**12),
    outcome=st.sampled_from(["accept", "accept_then_reject", "accept_then_trap"]),
)
def test_cycles_are_conserved_and_split_as_the_callee_decides(
    attached: int, accept: int, outcome: str
) -> None:
    ic = IC(trace=False)
    wallet = ic.deploy(Wallet, cycles=2 * 10**12)
    bank = ic.deploy(Bank)
    w0, b0 = ic.cycles_balance(wallet.id), ic.cycles_balance(bank.id)
    wallet.send_catch(bank.id, outcome, attached, (accept,))
    kept = 0 if outcome == "accept_then_trap" else min(attached, accept)
    assert ic.cycles_balance(wallet.id) == w0 - INGRESS_UPDATE - INTER_CANISTER_CALL - kept
    assert ic.cycles_balance(bank.id) == b0 - UPDATE_MESSAGE + kept


def test_a_canister_sees_its_own_balance(ic: IC, wallet: CanisterProxy) -> None:
    assert wallet.balance() == WALLET_FUNDS - INGRESS_UPDATE
    assert ic.cycles_balance(wallet.id) == WALLET_FUNDS - INGRESS_UPDATE


def test_cycles_are_world_state(ic: IC, wallet: CanisterProxy, bank: CanisterProxy) -> None:
    before = ic.cycles_balance(wallet.id)
    with ic.anchor():
        wallet.send(bank.id, "accept", 1_000, (1_000,))
        ic.add_cycles(wallet.id, 5)
    assert ic.cycles_balance(wallet.id) == before


def test_cycles_attached_to_a_call_hit_by_an_injected_reject_are_refunded(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy
) -> None:
    bank_before = ic.cycles_balance(bank.id)
    ic.faults.reject(bank.id, "accept")
    assert wallet.send_catch(bank.id, "accept", 1_000, (1_000,)) == "SYS_TRANSIENT IC0201"
    assert ic.cycles_balance(wallet.id) == WALLET_FUNDS - INGRESS_UPDATE - INTER_CANISTER_CALL
    assert ic.cycles_balance(bank.id) == bank_before


def test_cycles_accepted_by_a_callee_hit_by_an_injected_trap_are_refunded(
    ic: IC, wallet: CanisterProxy, bank: CanisterProxy
) -> None:
    bank_before = ic.cycles_balance(bank.id)
    ic.faults.trap(bank.id, "accept")
    assert wallet.send_catch(bank.id, "accept", 1_000, (1_000,)) == "CANISTER_ERROR IC0503"
    assert ic.cycles_balance(wallet.id) == WALLET_FUNDS - INGRESS_UPDATE - INTER_CANISTER_CALL
    assert ic.cycles_balance(bank.id) == bank_before - UPDATE_MESSAGE
