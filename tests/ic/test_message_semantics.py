"""The router's message semantics, rule by rule (spec ic.md §3)."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import attrs
import pytest

from icto import (
    IC,
    MANAGEMENT_ID,
    CallRejected,
    Canister,
    InvalidArguments,
    Principal,
    RejectCode,
    query,
    update,
)
from icto.ic.context import CALLER
from icto.ic.router import MAX_CALL_DEPTH
from tests.ic.toys import Counter, Relay, Tally


def rejected(fn: Any, *args: Any, **kwargs: Any) -> CallRejected:
    with pytest.raises(CallRejected) as info:
        fn(*args, **kwargs)
    return info.value


# -- rule 1: atomic messages ------------------------------------------------------------------


def test_a_trap_restores_the_state_the_message_began_with(ic: IC) -> None:
    counter = ic.deploy(Counter, 5)
    err = rejected(counter.inc_then_trap, 10)
    assert counter.get() == 5
    assert err.reject_code is RejectCode.CANISTER_ERROR
    assert err.error_code == "IC0503"
    assert "trapped on purpose" in err.message


def test_any_exception_is_a_trap_and_its_text_reaches_the_caller(ic: IC) -> None:
    class Divider(Canister):
        def init(self, arg: None) -> None:
            self.state = 1

        @update
        def divide(self, by: int) -> int:
            self.state = 100
            return 1 // by

    divider = ic.deploy(Divider)
    err = rejected(divider.divide, 0)
    assert "ZeroDivisionError" in err.message
    assert ic.state_of(divider.id) == 1


def test_a_trap_discards_timers_set_in_the_same_segment(ic: IC) -> None:
    class Scheduler(Canister):
        def init(self, arg: None) -> None:
            self.state = 0

        @update
        def schedule_then_trap(self) -> None:
            self.set_timer(1, "tick")
            raise RuntimeError("no")

        @update
        def tick(self) -> None:
            self.state += 1

    scheduler = ic.deploy(Scheduler)
    rejected(scheduler.schedule_then_trap)
    assert ic.pending_timers() == 0
    ic.advance_time(seconds=1)
    assert ic.state_of(scheduler.id) == 0


def test_a_trap_still_pays_for_execution(ic: IC) -> None:
    counter = ic.deploy(Counter)
    before = ic.cycles_balance(counter.id)
    rejected(counter.inc_then_trap, 1)
    assert ic.cycles_balance(counter.id) < before


# -- rule 2: commit at each call --------------------------------------------------------------


def test_state_before_a_call_is_committed_and_a_later_trap_rolls_back_to_the_call(ic: IC) -> None:
    counter = ic.deploy(Counter)
    relay = ic.deploy(Relay)
    err = rejected(relay.bump_call_trap, counter.id, "inc", (7,))
    assert err.reject_code is RejectCode.CANISTER_ERROR
    assert relay.get() == 1, "the +1 before the call was committed; the +10 after it was not"
    assert counter.get() == 7, "the callee's message committed on its own"


def test_each_segment_sees_what_the_previous_one_committed(ic: IC) -> None:
    counter = ic.deploy(Counter)
    relay = ic.deploy(Relay)
    assert relay.bump_call_bump(counter.id, "inc", (1,)) == 2
    assert relay.get() == 2


def test_a_callee_trap_does_not_undo_the_callers_committed_segment(ic: IC) -> None:
    counter = ic.deploy(Counter)
    relay = ic.deploy(Relay)
    assert relay.bump_call_catch(counter.id, "inc_then_trap", (3,)) == "CANISTER_ERROR IC0503"
    assert relay.get() == 101
    assert counter.get() == 0


# -- rule 3: explicit reject keeps the segment ------------------------------------------------


def test_reject_keeps_the_state_changes_of_its_segment(ic: IC) -> None:
    counter = ic.deploy(Counter, 1)
    err = rejected(counter.inc_then_reject, 4)
    assert err.reject_code is RejectCode.CANISTER_REJECT
    assert err.error_code == "IC0406"
    assert err.message == "rejected on purpose"
    assert counter.get() == 5


# -- rule 4: rejects reach the caller as CallRejected -----------------------------------------


def test_an_uncaught_reject_traps_the_caller_in_turn(ic: IC) -> None:
    counter = ic.deploy(Counter)
    relay = ic.deploy(Relay)
    err = rejected(relay.bump_call_bump, counter.id, "inc_then_reject", (2,))
    assert err.reject_code is RejectCode.CANISTER_ERROR
    assert err.canister_id == relay.id
    assert "IC0406" in err.message and "rejected on purpose" in err.message
    assert relay.get() == 1, "the relay's first segment was committed by the call"
    assert counter.get() == 2, "the callee's reject kept its change"


def test_a_caught_reject_lets_the_caller_continue(ic: IC) -> None:
    counter = ic.deploy(Counter)
    relay = ic.deploy(Relay)
    assert relay.bump_call_catch(counter.id, "inc_then_reject", (2,)) == "CANISTER_REJECT IC0406"
    assert relay.get() == 101


# -- rule 5: destinations ---------------------------------------------------------------------


def test_unknown_canister_is_destination_invalid(ic: IC) -> None:
    ghost = Principal.from_canister_index(12345)
    err = rejected(ic.update_call, ghost, "inc")
    assert (err.reject_code, err.error_code) == (RejectCode.DESTINATION_INVALID, "IC0301")
    relay = ic.deploy(Relay)
    assert relay.bump_call_catch(ghost, "inc") == "DESTINATION_INVALID IC0301"


def test_deleted_canister_is_destination_invalid(ic: IC) -> None:
    counter = ic.deploy(Counter)
    ic.stop_canister(counter.id)
    ic.delete_canister(counter.id)
    err = rejected(ic.update_call, counter.id, "inc")
    assert err.error_code == "IC0301"


def test_missing_method_is_canister_error_ic0536(ic: IC) -> None:
    counter = ic.deploy(Counter)
    err = rejected(ic.update_call, counter.id, "no_such_method")
    assert (err.reject_code, err.error_code) == (RejectCode.CANISTER_ERROR, "IC0536")


@pytest.mark.parametrize("method", ["init", "pre_upgrade", "post_upgrade", "_private", "state"])
def test_lifecycle_hooks_and_private_methods_are_not_callable(ic: IC, method: str) -> None:
    counter = ic.deploy(Counter)
    err = rejected(ic.update_call, counter.id, method, 1)
    assert err.error_code == "IC0536"
    assert counter.get() == 0


def test_empty_canister_is_ic0537(ic: IC) -> None:
    empty = ic.create_canister()
    err = rejected(ic.update_call, empty, "inc")
    assert (err.reject_code, err.error_code) == (RejectCode.CANISTER_ERROR, "IC0537")


def test_stopped_canister_is_ic0508(ic: IC) -> None:
    counter = ic.deploy(Counter)
    ic.stop_canister(counter.id)
    err = rejected(counter.inc)
    assert (err.reject_code, err.error_code) == (RejectCode.CANISTER_ERROR, "IC0508")


def test_a_query_called_as_update_runs_with_its_writes_dropped(ic: IC) -> None:
    counter = ic.deploy(Counter, 3)
    assert ic.update_call(counter.id, "inc_in_query", 4) == 7
    assert counter.get() == 3


def test_an_update_called_as_query_is_refused(ic: IC) -> None:
    counter = ic.deploy(Counter)
    err = rejected(ic.query_call, counter.id, "inc", 1)
    assert err.error_code == "IC0536"
    assert counter.get() == 0


def test_query_writes_are_dropped_also_when_called_by_a_canister(ic: IC) -> None:
    counter = ic.deploy(Counter, 3)
    relay = ic.deploy(Relay)
    assert relay.relay(counter.id, "inc_in_query", (4,)) == 7
    assert counter.get() == 3


def test_queries_cannot_make_calls(ic: IC) -> None:
    class Nosy(Canister):
        def init(self, arg: None) -> None:
            self.state = None

        @query
        def peek(self, other: Principal) -> Any:
            return self.call(other, "get")

    nosy = ic.deploy(Nosy)
    counter = ic.deploy(Counter)
    err = rejected(nosy.peek, counter.id)
    assert err.reject_code is RejectCode.CANISTER_ERROR
    assert "cannot make calls" in err.message


class Aggregator(Canister):
    def init(self, arg: None) -> None:
        self.state = None

    @query(composite=True)
    def total(self, counters: tuple[Principal, ...]) -> int:
        return sum(int(self.query_call(c, "get")) for c in counters)

    @update
    def total_as_update(self, counters: tuple[Principal, ...]) -> int:
        return sum(int(self.query_call(c, "get")) for c in counters)

    @update
    def query_an_update(self, counter: Principal) -> Any:
        return self.query_call(counter, "inc", 1)


def test_composite_queries_call_other_queries(ic: IC) -> None:
    a, b = ic.deploy(Counter, 2), ic.deploy(Counter, 5)
    aggregator = ic.deploy(Aggregator)
    assert aggregator.total((a.id, b.id)) == 7


def test_composite_queries_cannot_run_replicated(ic: IC) -> None:
    aggregator = ic.deploy(Aggregator)
    err = rejected(ic.update_call, aggregator.id, "total", ())
    assert err.reject_code is RejectCode.CANISTER_ERROR


def test_query_call_from_an_update_reads_queries_but_refuses_updates(ic: IC) -> None:
    a, b = ic.deploy(Counter, 2), ic.deploy(Counter, 5)
    aggregator = ic.deploy(Aggregator)
    assert aggregator.total_as_update((a.id, b.id)) == 7
    err = rejected(aggregator.query_an_update, a.id)
    assert "IC0536" in err.message
    assert a.get() == 2


# -- rule 6: caller identity ------------------------------------------------------------------


def test_ingress_caller_is_the_given_user_or_anonymous(ic: IC, alice: Principal) -> None:
    counter = ic.deploy(Counter)
    assert counter.whoami() == Principal.anonymous()
    assert counter.as_caller(alice).whoami() == alice
    assert ic.update_call(counter.id, "whoami", caller=alice) == alice
    assert ic.query_call(counter.id, "caller_of_query", caller=alice) == alice


def test_inter_canister_caller_is_the_calling_canister(ic: IC, alice: Principal) -> None:
    counter = ic.deploy(Counter)
    relay = ic.deploy(Relay)
    assert relay.as_caller(alice).relay(counter.id, "whoami") == relay.id


def test_canister_code_cannot_set_its_caller(ic: IC) -> None:
    class Impostor(Canister):
        def init(self, arg: None) -> None:
            self.state = None

        @update
        def impersonate(self, victim: Principal) -> None:
            self._msg[CALLER] = victim  # type: ignore[index]

        @update
        def set_caller_attribute(self, victim: Principal) -> None:
            self.caller = victim  # type: ignore[misc]

    impostor = ic.deploy(Impostor)
    for method in ("impersonate", "set_caller_attribute"):
        err = rejected(ic.update_call, impostor.id, method, Principal.from_name("x"))
        assert err.reject_code is RejectCode.CANISTER_ERROR


# -- rule 7: reentrancy -----------------------------------------------------------------------


class Pinger(Canister):
    def init(self, arg: None) -> None:
        self.state = Tally(0)

    @update
    def ping(self, ponger: Principal) -> int:
        self.state = Tally(self.state.n + 1)
        self.call(ponger, "pong", self.id)
        return self.state.n

    @update
    def add(self, k: int) -> None:
        self.state = Tally(self.state.n + k)


class Ponger(Canister):
    def init(self, arg: None) -> None:
        self.state = None

    @update
    def pong(self, pinger: Principal) -> None:
        self.call(pinger, "add", 10)


def test_a_callee_may_call_back_into_a_waiting_caller(ic: IC) -> None:
    pinger, ponger = ic.deploy(Pinger), ic.deploy(Ponger)
    assert pinger.ping(ponger.id) == 11, "the later segment sees the reentrant +10"
    assert ic.state_of(pinger.id) == Tally(11)


def test_a_canister_may_call_itself(ic: IC) -> None:
    relay = ic.deploy(Relay)
    assert relay.bump_call_bump(relay.id, "get") == 2


# -- rule 8: call depth -----------------------------------------------------------------------


def test_depth_64_works_within_pythons_default_recursion_limit(ic: IC) -> None:
    relays = [ic.deploy(Relay) for _ in range(64)]
    hops = tuple(r.id for r in relays[1:])
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        assert relays[0].chain(hops) == 64
    finally:
        sys.setrecursionlimit(limit)
    assert all(r.get() == 1 for r in relays)


def test_a_call_beyond_the_depth_limit_is_rejected_in_the_caller(ic: IC) -> None:
    relays = [ic.deploy(Relay) for _ in range(65)]
    hops = tuple(r.id for r in relays[1:])
    err = rejected(relays[0].chain, hops)
    assert err.reject_code is RejectCode.CANISTER_ERROR
    assert "IC0525" in err.message
    assert [r.get() for r in relays[:63]] == [1] * 63, "segments before each call committed"
    assert relays[63].get() == 0, "the 64th trapped in its first segment: rolled back"
    assert relays[64].get() == 0, "the 65th never ran"


def test_the_depth_limit_is_configurable() -> None:
    ic = IC(max_call_depth=3)
    relays = [ic.deploy(Relay) for _ in range(4)]
    assert relays[0].chain((relays[1].id, relays[2].id)) == 3
    rejected(relays[0].chain, (relays[1].id, relays[2].id, relays[3].id))
    with pytest.raises(ValueError, match="max_call_depth"):
        IC(max_call_depth=0)


def test_the_depth_limit_goes_no_higher_than_python_can_reach() -> None:
    """At the highest limit a chain one call too deep still gets the depth reject, not a
    RecursionError trap, within Python's default recursion limit; a higher limit is refused."""
    with pytest.raises(ValueError, match="max_call_depth"):
        IC(max_call_depth=MAX_CALL_DEPTH + 1)
    ic = IC(max_call_depth=MAX_CALL_DEPTH)
    relay = ic.deploy(Relay)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        assert relay.chain((relay.id,) * (MAX_CALL_DEPTH - 1)) == MAX_CALL_DEPTH
        err = rejected(relay.chain, (relay.id,) * MAX_CALL_DEPTH)
    finally:
        sys.setrecursionlimit(limit)
    assert "IC0525" in err.message
    assert all(entry.outcome != "pending" for entry in ic.trace)


# -- rule 9: CallRejected fields --------------------------------------------------------------


def test_call_rejected_names_the_callee_and_method(ic: IC) -> None:
    counter = ic.deploy(Counter)
    err = rejected(counter.inc_then_reject, 1)
    assert err.canister_id == counter.id
    assert err.method == "inc_then_reject"
    assert str(err) == "IC0406 (CANISTER_REJECT): rejected on purpose"


# -- rule 10: ingress entry points and bad use ------------------------------------------------


def test_ingress_calls_pass_keyword_arguments(ic: IC) -> None:
    counter = ic.deploy(Counter)
    assert ic.update_call(counter.id, "inc", by=4) == 4
    assert ic.query_call(counter.id, "get") == 4


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("one",), {}), ((1, 2), {}), ((), {"by": True}), ((), {"step": 1}), ((1.5,), {})],
)
def test_wrong_arguments_raise_invalid_arguments_and_change_nothing(
    ic: IC, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    counter = ic.deploy(Counter)
    before = ic.snapshot()
    with pytest.raises(InvalidArguments) as info:
        ic.update_call(counter.id, "inc", *args, **kwargs)
    assert isinstance(info.value, TypeError)
    assert info.value.error_code == "IC0503"
    assert "Counter.inc()" in info.value.message
    assert ic.snapshot() is before


def test_wrong_ingress_types_raise_type_error_and_change_nothing(ic: IC) -> None:
    counter = ic.deploy(Counter)
    before = ic.snapshot()
    with pytest.raises(TypeError):
        ic.update_call(42, "inc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ic.update_call(counter.id, 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ic.update_call(counter.id, "inc", caller="alice")  # type: ignore[arg-type]
    assert ic.snapshot() is before


def test_mutable_state_is_refused_at_commit(ic: IC) -> None:
    class Sloppy(Canister):
        def init(self, arg: None) -> None:
            self.state = ()

        @update
        def use_a_list(self) -> None:
            self.state = [1, 2, 3]

        @update
        def use_a_mutable_record(self) -> None:
            self.state = MutableBox(1)

    sloppy = ic.deploy(Sloppy)
    for method in ("use_a_list", "use_a_mutable_record"):
        err = rejected(ic.update_call, sloppy.id, method)
        assert "immutable" in err.message
        assert ic.state_of(sloppy.id) == ()


@attrs.define
class MutableBox:
    value: int


# -- code changes while a call is outstanding -------------------------------------------------


class Upgrader(Canister):
    """A controller that upgrades the canister that called it, mid-call."""

    def init(self, arg: None) -> None:
        self.state = None

    @update
    def upgrade_caller(self) -> None:
        self.call(MANAGEMENT_ID, "install_code", self.caller, CounterV2, None, "upgrade")


class CounterV2(Counter):
    VERSION = "2.0.0"


def test_a_callback_is_dropped_when_the_code_changed_during_the_call(ic: IC) -> None:
    upgrader = ic.deploy(Upgrader)
    relay_id = ic.create_canister(controllers=[Principal.anonymous(), upgrader.id])
    ic.install_code(relay_id, Relay)
    relay = ic.actor(relay_id)
    err = rejected(relay.bump_call_bump, upgrader.id, "upgrade_caller")
    assert err.reject_code is RejectCode.CANISTER_REJECT
    assert "upgraded" in err.message
    assert ic.code_of(relay_id) is CounterV2
    assert ic.state_of(relay_id) == Tally(1), "state committed before the call, not after"


class Stubborn(Canister):
    """Old code that carries on after its context is lost: a ``finally`` that calls, logs
    and sets a timer, and a bare ``except`` that swallows the loss and replies."""

    VERSION = "1.0.0"

    def init(self, arg: None) -> None:
        self.state = Tally(0)

    @update
    def carry_on(self, upgrader: Principal, witness: Principal) -> str:
        self.state = Tally(1)
        try:
            self.call(upgrader, "upgrade_caller")
        finally:
            self.state = Tally(99)
            self.call(witness, "inc")
        return "carried on"

    @update
    def swallow(self, upgrader: Principal, what: str) -> str:
        with contextlib.suppress(BaseException):  # the old code's own mistake, on purpose
            self.call(upgrader, "upgrade_caller")
        self.state = Tally(99)
        with contextlib.suppress(BaseException):
            if what == "timer":
                self.set_timer(0, "carry_on")
            elif what == "log":
                self.log("old code speaking")
        return "swallowed"


@pytest.mark.parametrize("how", ["finally", "timer", "log", "reply"])
def test_old_code_that_catches_the_lost_context_can_do_nothing_more(ic: IC, how: str) -> None:
    """Once its code changed during a call, nothing the old code does after it counts: its
    calls are refused, its timers and log lines are not taken, its state is not committed, and
    its message is rejected even if it caught ``CallContextLost`` and returned."""
    upgrader = ic.deploy(Upgrader)
    witness = ic.deploy(Counter)
    stubborn_id = ic.create_canister(controllers=[Principal.anonymous(), upgrader.id])
    ic.install_code(stubborn_id, Stubborn)
    stubborn = ic.actor(stubborn_id)
    if how == "finally":
        err = rejected(stubborn.carry_on, upgrader.id, witness.id)
    else:
        err = rejected(stubborn.swallow, upgrader.id, how)
    assert err.reject_code is RejectCode.CANISTER_REJECT and "was upgraded" in err.message
    assert ic.code_of(stubborn_id) is CounterV2
    assert ic.state_of(stubborn_id) == Tally(1 if how == "finally" else 0)
    assert ic.state_of(witness.id) == Tally(0)
    assert ic.pending_timers() == 0
    assert not any("old code speaking" in str(line) for line in ic.canister_logs(stubborn_id))
    ic.advance_time(seconds=1)
    assert ic.state_of(stubborn_id) == Tally(1 if how == "finally" else 0)


class Directory(Canister):
    """Keeps whatever it is given, and later tries to act through it."""

    VERSION = "1.0.0"

    def init(self, arg: None) -> None:
        self.state = None

    @update
    def hold(self, who: Any) -> Any:
        return who.call(who.id, "inc") if who.__class__ is not Principal else None


class Careless(Counter):
    """Hands its own view to another canister (it should pass ``self.id``)."""

    VERSION = "1.0.0"

    @update
    def hand_over(self, directory: Principal) -> Any:
        return self.call(directory, "hold", self)

    @update
    def keep_in_state(self) -> None:
        self.state = self


def test_a_canister_view_acts_only_in_its_own_message(ic: IC) -> None:
    """A view handed to another canister cannot call as its canister (on the IC arguments are
    bytes: a callee never holds its caller), and a view is no canister state."""
    directory = ic.deploy(Directory)
    careless = ic.deploy(Careless)
    err = rejected(careless.hand_over, directory.id)
    assert "outside its own message" in err.message
    assert ic.state_of(careless.id) == Tally(0)
    err = rejected(careless.keep_in_state)
    assert "immutable" in err.message and ic.state_of(careless.id) == Tally(0)


class Watcher(Relay):
    """A relay that can tell whether one of its own messages is suspended at an await."""

    VERSION = "1.0.0"

    @update
    def awaiting(self) -> bool:
        return self.awaiting_calls()


def test_a_canister_knows_whether_one_of_its_messages_awaits_a_call(ic: IC) -> None:
    """``awaiting_calls()`` (what Motoko's upgrade check asks): false for a message on its
    own, true for one that runs while another message of the same canister awaits."""
    watcher = ic.deploy(Watcher)
    other = ic.deploy(Relay)
    assert watcher.awaiting() is False
    assert watcher.relay(other.id, "relay", (watcher.id, "awaiting")) is True
    assert other.relay(watcher.id, "awaiting") is False


class Replacer(Canister):
    """Reinstalls (or upgrades) a canister, then asks it whether one of its messages awaits."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @update
    def replace_and_ask(self, target: Principal, mode: str) -> bool:
        self.call(MANAGEMENT_ID, "install_code", target, Watcher, None, mode)
        answer: bool = self.call(target, "awaiting")
        return answer


@pytest.mark.parametrize("mode", ["reinstall", "upgrade"])
def test_a_message_of_replaced_code_is_not_awaiting_since_it_never_resumes(
    ic: IC, mode: str
) -> None:
    """While the watcher's message awaits the replacer, the replacer reinstalls (or upgrades)
    it: that message can never resume (it is dropped), so the new code is told that none of its
    messages awaits (it used to be told one did)."""
    replacer = ic.deploy(Replacer)
    watcher = ic.deploy(Watcher, controllers=[replacer.id, ic.default_caller])
    call = (replacer.id, "replace_and_ask", (watcher.id, mode))
    dropped = rejected(lambda: watcher.relay(*call))
    assert "while awaiting" in dropped.message
    (asked,) = [entry for entry in ic.trace.calls(method="awaiting")]
    assert asked.result is False
