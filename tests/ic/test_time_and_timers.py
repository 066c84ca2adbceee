"""Time and timers (spec ic.md §5).

IC time starts at a fixed genesis, moves only when the test moves it and never goes back. Timers
are messages a canister schedules to itself; advancing time delivers every due timer in
(deadline, creation) order, each at its own deadline, as its own atomic message.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto import (
    GENESIS_TIME,
    IC,
    MANAGEMENT_ID,
    BadUse,
    CallRejected,
    Canister,
    Principal,
    RejectCode,
    Trap,
    query,
    update,
)
from icto.ic.cycles import INGRESS_MESSAGE, UPDATE_MESSAGE
from icto.ic.ic import MAX_TIME
from icto.ic.management import CanisterSettings
from icto.ic.timers import TimerQueue

from .toys import Counter, Relay

SECOND = 10**9


@attrs.frozen
class Bell:
    """What a timer canister observed: one ``(tag, self.time, self.caller)`` per delivered ring."""

    rings: tuple[tuple[Any, int, Principal], ...] = ()
    n: int = 0


class Alarm(Canister):
    """Schedules timers on itself and records every ring in its state."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = Bell()

    def _record(self, tag: Any) -> None:
        self.state = attrs.evolve(
            self.state, rings=(*self.state.rings, (tag, self.time, self.caller))
        )

    # -- scheduling ---------------------------------------------------------------------------

    @update
    def schedule(self, delay: int, tag: Any, method: str = "ring") -> int:
        return self.set_timer(delay, method, tag)

    @update
    def schedule_many(self, plan: tuple[tuple[int, Any], ...]) -> tuple[int, ...]:
        """One message, many timers: creation order is the order of ``plan``."""
        return tuple(self.set_timer(delay, "ring", tag) for delay, tag in plan)

    @update
    def schedule_then_trap(self, delay: int, tag: Any) -> int:
        self.set_timer(delay, "ring", tag)
        raise Trap("trap after set_timer")

    @update
    def bump_then_schedule(self, delay: Any, method: Any) -> int:
        """+1 to ``n``, then a set_timer that may be invalid (which traps the whole message)."""
        self.state = attrs.evolve(self.state, n=self.state.n + 1)
        return self.set_timer(delay, method, "bad")

    @update
    def cancel(self, timer_id: int) -> bool:
        return self.cancel_timer(timer_id)

    @update
    def cancel_many(self, timer_ids: tuple[int, ...]) -> tuple[bool, ...]:
        return tuple(self.cancel_timer(t) for t in timer_ids)

    # -- timer targets ------------------------------------------------------------------------

    @update
    def ring(self, tag: Any) -> None:
        self._record(tag)

    def _private_ring(self, tag: Any) -> None:
        self._record(("private", tag))

    async def _async_ring(self, tag: Any) -> None:
        self._record(("async", tag))

    def _generator_ring(self, tag: Any) -> Any:
        self._record(("generator", tag))
        yield tag

    @update
    def ring_and_rearm(self, tag: Any, delay: int, remaining: int) -> None:
        self._record(tag)
        if remaining > 0:
            self.set_timer(delay, "ring_and_rearm", tag, delay, remaining - 1)

    @update
    def ring_then_trap(self, tag: Any) -> None:
        self._record(tag)
        self.log(f"about to trap {tag}")
        raise Trap(f"timer {tag} trapped")

    # -- reads and misc -----------------------------------------------------------------------

    @update
    def now(self) -> int:
        return self.time

    @update
    def times_around_call(self, other: Principal) -> tuple[int, int, int]:
        """``self.time`` before a call, the callee's ``self.time``, and ours after the call."""
        before = self.time
        theirs = self.call(other, "now")
        return before, theirs, self.time

    @query
    def rings(self) -> tuple[tuple[Any, int, Principal], ...]:
        return self.state.rings

    @query
    def schedule_in_query(self, delay: int) -> int:
        return self.set_timer(delay, "ring", "from a query")


class AlarmV2(Alarm):
    """Next version: re-arms a timer in ``post_upgrade``, as IC canisters must."""

    VERSION = "2.0.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        self.state = stable
        if arg is not None:
            self.set_timer(arg, "ring", "re-armed")


def tags(ic: IC, canister: Principal) -> list[Any]:
    return [tag for tag, _, _ in ic.state_of(canister).rings]


def timer_entries(ic: IC) -> list[Any]:
    return ic.trace.calls(kind="timer")


@pytest.fixture
def alarm(ic: IC) -> Any:
    return ic.deploy(Alarm)


# =============================================================================================
# Time
# =============================================================================================


class TestClock:
    def test_genesis_is_2026_01_01_utc_in_nanoseconds(self) -> None:
        assert GENESIS_TIME == 1_767_225_600 * SECOND
        assert IC().time == GENESIS_TIME

    def test_genesis_time_can_be_chosen(self) -> None:
        assert IC(genesis_time=123_456_789).time == 123_456_789

    def test_time_never_moves_by_itself(self, ic: IC, alarm: Any) -> None:
        counter = ic.deploy(Counter)
        start = ic.time
        for _ in range(5):
            counter.inc(1)
            counter.get()
            assert alarm.now() == start
        assert ic.time == start

    def test_self_time_is_ic_time_and_constant_across_a_call(self, ic: IC, alarm: Any) -> None:
        other = ic.deploy(Alarm)
        ic.advance_time(seconds=7)
        assert alarm.times_around_call(other.id) == (ic.time, ic.time, ic.time)


class TestSetTime:
    def test_set_time_moves_the_clock_forward(self, ic: IC) -> None:
        ic.set_time(GENESIS_TIME + 42)
        assert ic.time == GENESIS_TIME + 42

    def test_set_time_to_now_is_allowed_and_keeps_the_time(self, ic: IC, alarm: Any) -> None:
        ic.advance_time(seconds=1)
        before = ic.snapshot()
        ic.set_time(ic.time)
        assert ic.time == GENESIS_TIME + SECOND
        assert ic.snapshot() == before

    @pytest.mark.parametrize("back", [1, SECOND, GENESIS_TIME])
    def test_set_time_into_the_past_is_refused_and_changes_nothing(
        self, ic: IC, alarm: Any, back: int
    ) -> None:
        ic.advance_time(seconds=1)
        before = ic.snapshot()
        with pytest.raises(BadUse, match="backwards"):
            ic.set_time(ic.time - back)
        assert ic.snapshot() is before
        assert ic.time == GENESIS_TIME + SECOND

    @pytest.mark.parametrize("bad", [1.5e18, "2027", None])
    def test_set_time_needs_an_int(self, ic: IC, bad: Any) -> None:
        before = ic.snapshot()
        with pytest.raises((TypeError, BadUse)):
            ic.set_time(bad)
        assert ic.snapshot() is before


class TestAdvanceTime:
    @pytest.mark.parametrize(
        ("unit", "ns"),
        [
            ("days", 86_400 * SECOND),
            ("hours", 3_600 * SECOND),
            ("minutes", 60 * SECOND),
            ("seconds", SECOND),
            ("nanos", 1),
        ],
    )
    def test_each_unit_adds_exactly(self, ic: IC, unit: str, ns: int) -> None:
        ic.advance_time(**{unit: 3})
        assert ic.time == GENESIS_TIME + 3 * ns

    def test_units_add_up(self, ic: IC) -> None:
        ic.advance_time(days=1, hours=2, minutes=3, seconds=4, nanos=5)
        expected = ((1 * 24 + 2) * 60 + 3) * 60 + 4
        assert ic.time == GENESIS_TIME + expected * SECOND + 5

    def test_advancing_by_nothing_keeps_the_time(self, ic: IC) -> None:
        ic.advance_time()
        ic.advance_time(seconds=0)
        assert ic.time == GENESIS_TIME

    @pytest.mark.parametrize("unit", ["days", "hours", "minutes", "seconds", "nanos"])
    @pytest.mark.parametrize("bad", [-1, 1.5, "1", None])
    def test_negative_or_non_int_amounts_are_refused_and_change_nothing(
        self, ic: IC, alarm: Any, unit: str, bad: Any
    ) -> None:
        alarm.schedule(0, "due now")
        before = ic.snapshot()
        with pytest.raises(BadUse):
            ic.advance_time(**{unit: bad})
        assert ic.snapshot() is before
        assert ic.time == GENESIS_TIME
        assert tags(ic, alarm.id) == []

    def test_one_bad_amount_refuses_the_whole_advance(self, ic: IC) -> None:
        with pytest.raises(BadUse):
            ic.advance_time(days=1, nanos=-1)
        assert ic.time == GENESIS_TIME

    def test_time_ends_where_a_nat64_of_nanoseconds_does(self, ic: IC, alarm: Any) -> None:
        """Past 2**64 - 1 ns the IC has no time to give; moving there is refused, whole."""
        alarm.schedule(0, "due now")
        before = ic.snapshot()
        with pytest.raises(BadUse, match="nat64"):
            ic.advance_time(days=10**7)
        with pytest.raises(BadUse, match="nat64"):
            ic.set_time(MAX_TIME + 1)
        assert ic.snapshot() is before and ic.time == GENESIS_TIME
        ic.set_time(MAX_TIME)
        assert ic.time == MAX_TIME and tags(ic, alarm.id) == ["due now"]
        assert "2554" in repr(ic)


@pytest.mark.parametrize(
    ("settings_", "error"),
    [
        ({"genesis_time": True}, TypeError), ({"genesis_time": -1}, TypeError),
        ({"genesis_time": MAX_TIME + 1}, TypeError), ({"genesis_time": 1.0}, TypeError),
        ({"seed": True}, TypeError), ({"seed": "7"}, TypeError), ({"seed": 2**127}, ValueError),
        ({"seed": -(2**127) - 1}, ValueError), ({"max_call_depth": True}, ValueError),
        ({"max_call_depth": 0}, ValueError), ({"max_call_depth": 1000}, ValueError),
        ({"trace": "no"}, TypeError),
        ({"trace": 0}, TypeError),
    ],
    ids=repr,
)  # fmt: skip
def test_an_ic_refuses_settings_it_could_not_honour(
    settings_: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        IC(**settings_)


def test_the_widest_seeds_still_draw_randomness() -> None:
    draws = set()
    for seed in (2**127 - 1, -(2**127)):
        ic = IC(seed=seed)
        randomness = ic.deploy(Relay).relay(MANAGEMENT_ID, "raw_rand")
        assert isinstance(randomness, bytes) and len(randomness) == 32
        draws.add(randomness)
    assert len(draws) == 2


# =============================================================================================
# Timers: delivery
# =============================================================================================


class TestTimerDelivery:
    def test_a_timer_fires_exactly_at_its_deadline_not_before(self, ic: IC, alarm: Any) -> None:
        alarm.schedule(1_000, "t")
        ic.advance_time(nanos=999)
        assert tags(ic, alarm.id) == []
        assert ic.pending_timers() == 1
        ic.advance_time(nanos=1)
        assert ic.state_of(alarm.id).rings == (("t", GENESIS_TIME + 1_000, alarm.id),)
        assert ic.pending_timers() == 0

    def test_set_time_delivers_due_timers_too(self, ic: IC, alarm: Any) -> None:
        alarm.schedule(5 * SECOND, "t")
        ic.set_time(GENESIS_TIME + 5 * SECOND - 1)
        assert tags(ic, alarm.id) == []
        ic.set_time(GENESIS_TIME + 5 * SECOND)
        assert tags(ic, alarm.id) == ["t"]

    def test_due_timers_fire_in_deadline_then_creation_order_each_at_its_deadline(
        self, ic: IC, alarm: Any
    ) -> None:
        alarm.schedule_many(((300, "c"), (100, "a"), (200, "b"), (100, "a2"), (0, "z")))
        ic.advance_time(nanos=1_000)
        assert [(tag, t - GENESIS_TIME) for tag, t, _ in ic.state_of(alarm.id).rings] == [
            ("z", 0),
            ("a", 100),
            ("a2", 100),
            ("b", 200),
            ("c", 300),
        ]
        assert ic.time == GENESIS_TIME + 1_000

    def test_timers_of_different_canisters_interleave_by_deadline(self, ic: IC, alarm: Any) -> None:
        other = ic.deploy(Alarm)
        alarm.schedule(20, "a20")
        other.schedule(10, "b10")
        alarm.schedule(30, "a30")
        other.schedule(20, "b20")
        ic.advance_time(nanos=100)
        fired = sorted(
            (t, tag)
            for canister in (alarm.id, other.id)
            for tag, t, _ in ic.state_of(canister).rings
        )
        assert [tag for _, tag in fired] == ["b10", "a20", "b20", "a30"]
        entries = timer_entries(ic)
        assert [(e.method, e.args[0]) for e in entries] == [
            ("ring", "b10"),
            ("ring", "a20"),
            ("ring", "b20"),
            ("ring", "a30"),
        ]

    def test_a_timer_message_comes_from_the_canister_itself(self, ic: IC, alarm: Any) -> None:
        alarm.schedule(0, "t")
        ic.tick()
        ((_, _, caller),) = ic.state_of(alarm.id).rings
        assert caller == alarm.id
        (entry,) = timer_entries(ic)
        assert (entry.caller, entry.callee, entry.outcome) == (alarm.id, alarm.id, "reply")

    def test_a_private_method_can_be_a_timer_target(self, ic: IC, alarm: Any) -> None:
        alarm.schedule(10, "p", "_private_ring")
        ic.advance_time(nanos=10)
        assert tags(ic, alarm.id) == [("private", "p")]

    def test_timers_set_by_timers_are_delivered_in_the_same_advance_when_due(
        self, ic: IC, alarm: Any
    ) -> None:
        ic.update_call(alarm.id, "ring_and_rearm", "r", 100, 3)  # rings now, then re-arms
        ic.advance_time(nanos=350)
        rings = ic.state_of(alarm.id).rings
        assert [(tag, t - GENESIS_TIME) for tag, t, _ in rings] == [
            ("r", 0),
            ("r", 100),
            ("r", 200),
            ("r", 300),
        ]
        assert ic.pending_timers() == 0
        assert ic.time == GENESIS_TIME + 350

    def test_tick_delivers_a_chain_of_delay_zero_timers(self, ic: IC, alarm: Any) -> None:
        ic.update_call(alarm.id, "ring_and_rearm", "z", 0, 3)
        assert ic.pending_timers() == 1
        ic.tick()
        assert [t for _, t, _ in ic.state_of(alarm.id).rings] == [GENESIS_TIME] * 4
        assert ic.pending_timers() == 0
        assert ic.time == GENESIS_TIME

    def test_a_rearmed_timer_beyond_the_target_waits(self, ic: IC, alarm: Any) -> None:
        ic.update_call(alarm.id, "ring_and_rearm", "x", 100, 10)
        ic.advance_time(nanos=250)
        assert len(tags(ic, alarm.id)) == 3  # at 0 (the ingress call), 100, 200
        assert ic.pending_timers() == 1
        ic.advance_time(nanos=50)
        assert len(tags(ic, alarm.id)) == 4

    def test_tick_delivers_timers_due_now_without_moving_time(self, ic: IC, alarm: Any) -> None:
        alarm.schedule(0, "now")
        alarm.schedule(1, "later")
        assert tags(ic, alarm.id) == []
        ic.tick()
        assert tags(ic, alarm.id) == ["now"]
        assert ic.time == GENESIS_TIME
        assert ic.pending_timers() == 1

    def test_a_timer_set_with_delay_zero_waits_for_tick_or_advance(
        self, ic: IC, alarm: Any
    ) -> None:
        alarm.schedule(0, "now")
        alarm.now()
        assert tags(ic, alarm.id) == []
        assert ic.pending_timers() == 1


class TestCancel:
    def test_cancel_prevents_firing_and_returns_true(self, ic: IC, alarm: Any) -> None:
        keep = alarm.schedule(10, "keep")
        drop = alarm.schedule(10, "drop")
        assert keep != drop
        assert alarm.cancel(drop) is True
        assert ic.pending_timers() == 1
        ic.advance_time(seconds=1)
        assert tags(ic, alarm.id) == ["keep"]

    def test_cancelling_twice_returns_false(self, ic: IC, alarm: Any) -> None:
        timer_id = alarm.schedule(10, "t")
        assert alarm.cancel(timer_id) is True
        assert alarm.cancel(timer_id) is False

    def test_cancelling_a_fired_or_unknown_timer_returns_false(self, ic: IC, alarm: Any) -> None:
        timer_id = alarm.schedule(0, "t")
        ic.tick()
        assert alarm.cancel(timer_id) is False
        assert alarm.cancel(10_000) is False

    def test_a_canister_cannot_cancel_another_canisters_timer(self, ic: IC, alarm: Any) -> None:
        other = ic.deploy(Alarm)
        timer_id = other.schedule(10, "theirs")
        assert alarm.cancel(timer_id) is False
        ic.advance_time(nanos=10)
        assert tags(ic, other.id) == ["theirs"]


class TestTimersAndTraps:
    def test_a_timer_set_by_a_message_that_traps_is_discarded(self, ic: IC, alarm: Any) -> None:
        with pytest.raises(CallRejected) as caught:
            alarm.schedule_then_trap(10, "ghost")
        assert caught.value.reject_code == RejectCode.CANISTER_ERROR
        assert ic.pending_timers() == 0
        ic.advance_time(seconds=1)
        assert tags(ic, alarm.id) == []
        assert timer_entries(ic) == []

    def test_a_trapping_timer_rolls_back_only_its_own_changes(self, ic: IC, alarm: Any) -> None:
        alarm.schedule(10, "before")
        alarm.schedule(20, "bad", "ring_then_trap")
        alarm.schedule(30, "after")
        ic.advance_time(nanos=100)  # does not raise into the test
        assert tags(ic, alarm.id) == ["before", "after"]
        assert ic.time == GENESIS_TIME + 100

    def test_a_trapping_timer_is_traced_and_logged(self, ic: IC, alarm: Any) -> None:
        alarm.schedule(20, "bad", "ring_then_trap")
        ic.advance_time(nanos=20)
        (entry,) = timer_entries(ic)
        assert (entry.kind, entry.method, entry.outcome) == ("timer", "ring_then_trap", "trap")
        assert entry.time == GENESIS_TIME + 20
        assert "timer bad trapped" in (entry.traceback or "")
        contents = [record.content for record in ic.canister_logs(alarm.id)]
        assert any("timer bad trapped" in text for text in contents)
        assert any("about to trap bad" in text for text in contents)


class TestTimersAndLifecycle:
    @pytest.mark.parametrize("mode", ["upgrade", "reinstall", "uninstall"])
    def test_timers_are_cleared_by_code_changes(self, ic: IC, alarm: Any, mode: str) -> None:
        alarm.schedule(10, "old")
        alarm.schedule(0, "older")
        assert ic.pending_timers() == 2
        if mode == "uninstall":
            ic.update_call(MANAGEMENT_ID, "uninstall_code", alarm.id)
        else:
            ic.install_code(alarm.id, Alarm, mode=mode)
        assert ic.pending_timers() == 0
        ic.advance_time(seconds=1)
        assert timer_entries(ic) == []
        if mode != "uninstall":
            assert tags(ic, alarm.id) == []

    def test_post_upgrade_can_rearm_a_timer(self, ic: IC, alarm: Any) -> None:
        alarm.schedule(10, "old")
        ic.install_code(alarm.id, AlarmV2, arg=50, mode="upgrade")
        assert ic.pending_timers() == 1
        ic.advance_time(nanos=100)
        assert [(tag, t - GENESIS_TIME) for tag, t, _ in ic.state_of(alarm.id).rings] == [
            ("re-armed", 50)
        ]

    def test_timers_of_other_canisters_survive_an_upgrade(self, ic: IC, alarm: Any) -> None:
        other = ic.deploy(Alarm)
        other.schedule(10, "theirs")
        alarm.schedule(10, "mine")
        ic.install_code(alarm.id, Alarm, mode="upgrade")
        ic.advance_time(nanos=10)
        assert tags(ic, other.id) == ["theirs"]
        assert tags(ic, alarm.id) == []

    @pytest.mark.parametrize("deliver", ["tick", "advance"])
    def test_a_stopped_canisters_timer_waits_until_it_is_started(
        self, ic: IC, alarm: Any, deliver: str
    ) -> None:
        alarm.schedule(10 * SECOND, "first")
        alarm.schedule(20 * SECOND, "second")
        ic.stop_canister(alarm.id)
        ic.advance_time(minutes=1)
        assert tags(ic, alarm.id) == []
        assert ic.pending_timers() == 2
        ic.start_canister(alarm.id)
        started_at = ic.time
        assert tags(ic, alarm.id) == []
        if deliver == "tick":
            ic.tick()
        else:
            ic.advance_time(nanos=1)
        assert tags(ic, alarm.id) == ["first", "second"]
        assert all(started_at <= t <= ic.time for _, t, _ in ic.state_of(alarm.id).rings)
        assert ic.pending_timers() == 0

    def test_a_timer_that_starts_a_canister_lets_its_overdue_timers_fire_next(
        self, ic: IC, alarm: Any
    ) -> None:
        """The alarm is stopped with timers at +10 and +30; another canister's timer at +20
        starts it. Its overdue timer fires right then, at +20, before the one at +30 (it used to
        wait for the end of the advance and fire after it)."""
        starter = ic.deploy(Starter)
        ic.update_call(MANAGEMENT_ID, "update_settings", alarm.id,
                       CanisterSettings(controllers=(starter.id, ic.default_caller)))  # fmt: skip
        start = ic.time
        alarm.schedule(10, "+10")
        alarm.schedule(30, "+30")
        starter.start_later(20, alarm.id)
        ic.stop_canister(alarm.id)
        ic.advance_time(nanos=100)
        rings = [(tag, at - start) for tag, at, _ in ic.state_of(alarm.id).rings]
        assert rings == [("+10", 20), ("+30", 30)]

    def test_a_deferred_timer_keeps_its_id(self, ic: IC, alarm: Any) -> None:
        """Being stopped past a deadline does not change a timer's id: it stays cancellable."""
        timer_id = alarm.schedule(10 * SECOND, "deferred")
        ic.stop_canister(alarm.id)
        ic.advance_time(minutes=1)
        ic.start_canister(alarm.id)
        assert alarm.cancel(timer_id) is True
        ic.tick()
        assert tags(ic, alarm.id) == []
        assert ic.pending_timers() == 0


    @pytest.mark.parametrize("deliver", ["tick", "advance"])
    def test_a_frozen_canisters_timer_waits_until_it_can_pay(
        self, ic: IC, deliver: str
    ) -> None:
        """A canister that cannot pay for the timer's message when it falls due keeps it (the IC
        keeps a frozen canister's global timer until it runs): it fires once topped up. It was
        consumed with a reject in the trace, and never fired."""
        poor = ic.deploy(Alarm, cycles=FROZEN_AFTER_SCHEDULING)
        poor.schedule(10 * SECOND, "due")
        assert ic.cycles_balance(poor.id) < UPDATE_MESSAGE
        ic.advance_time(minutes=1)
        assert tags(ic, poor.id) == []
        assert ic.pending_timers() == 1
        ic.add_cycles(poor.id, 10**12)
        topped_up_at = ic.time
        if deliver == "tick":
            ic.tick()
        else:
            ic.advance_time(nanos=1)
        assert tags(ic, poor.id) == ["due"]
        assert all(topped_up_at <= t <= ic.time for _, t, _ in ic.state_of(poor.id).rings)
        assert ic.pending_timers() == 0

    def test_a_timer_that_tops_up_a_frozen_canister_lets_its_overdue_timer_fire_next(
        self, ic: IC
    ) -> None:
        """A timer at +10 falls due while its canister is frozen; another canister's timer at
        +20 deposits cycles into it: the overdue timer fires right then, before the one at +30."""
        poor = ic.deploy(Alarm, cycles=FROZEN_AFTER_SCHEDULING + INGRESS_MESSAGE)
        start = ic.time
        poor.schedule_many(((10, "+10"), (30, "+30")))
        assert ic.cycles_balance(poor.id) < UPDATE_MESSAGE
        donor = ic.deploy(Donor, cycles=10**13)
        donor.deposit_later(20, poor.id, 10**12)
        ic.advance_time(nanos=100)
        rings = [(tag, at - start) for tag, at, _ in ic.state_of(poor.id).rings]
        assert rings == [("+10", 20), ("+30", 30)]


FROZEN_AFTER_SCHEDULING = 7_200_000
"""Cycles to deploy an ``Alarm`` with so that, once one ``schedule`` message has paid for
itself, it cannot pay for a timer's message (``UPDATE_MESSAGE``)."""


class Donor(Canister):
    """Deposits cycles into a canister from a timer."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @update
    def deposit_later(self, delay: int, canister: Principal, amount: int) -> None:
        self.set_timer(delay, "_deposit", canister, amount)

    def _deposit(self, canister: Principal, amount: int) -> None:
        self.call(MANAGEMENT_ID, "deposit_cycles", canister, cycles=amount)


class Starter(Canister):
    """Starts a canister from a timer."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @update
    def start_later(self, delay: int, canister: Principal) -> None:
        self.set_timer(delay, "_start", canister)

    def _start(self, canister: Principal) -> None:
        self.call(MANAGEMENT_ID, "start_canister", canister)


class TestInvalidTimers:
    @pytest.mark.parametrize("send", ["query_call", "update_call"])
    def test_set_timer_in_a_query_traps(self, ic: IC, alarm: Any, send: str) -> None:
        with pytest.raises(CallRejected) as caught:
            getattr(ic, send)(alarm.id, "schedule_in_query", 0)
        assert caught.value.reject_code == RejectCode.CANISTER_ERROR
        assert caught.value.error_code == "IC0503"
        assert ic.pending_timers() == 0

    def test_a_timer_may_fall_due_at_the_clocks_last_instant(self, ic: IC, alarm: Any) -> None:
        alarm.schedule(MAX_TIME - ic.time, "at the end of time")
        ic.set_time(MAX_TIME)
        assert tags(ic, alarm.id) == ["at the end of time"]

    @pytest.mark.parametrize(
        ("delay", "method"),
        [
            (-1, "ring"),
            (1.5, "ring"),
            (None, "ring"),
            (0, "no_such_method"),
            (0, "rings"),  # a query
            (0, "schedule_in_query"),  # a query
            (0, "__init__"),
            (0, "init"),
            (0, "state"),
            (0, 42),
            (0, "_async_ring"),  # its call would return a coroutine, never run
            (2**70, "ring"),  # past the nat64 clock: it could never fire
            (MAX_TIME - GENESIS_TIME + 1, "ring"),
            (0, "_generator_ring"),
        ],
    )
    def test_an_invalid_timer_traps_the_message_and_schedules_nothing(
        self, ic: IC, alarm: Any, delay: Any, method: Any
    ) -> None:
        with pytest.raises(CallRejected) as caught:
            alarm.bump_then_schedule(delay, method)
        assert caught.value.reject_code == RejectCode.CANISTER_ERROR
        assert caught.value.error_code == "IC0503"
        assert ic.pending_timers() == 0
        assert ic.state_of(alarm.id).n == 0
        ic.advance_time(seconds=1)
        assert timer_entries(ic) == []


# =============================================================================================
# Properties
# =============================================================================================

_plans = st.lists(
    st.tuples(st.integers(0, 1_000), st.booleans()),  # (delay, cancel it?)
    min_size=1,
    max_size=25,
)
_steps = st.lists(st.integers(0, 400), min_size=1, max_size=8)


@settings(max_examples=120, deadline=None)
@given(plan=_plans, steps=_steps)
def test_random_timers_fire_in_deadline_creation_order_exactly_once(
    plan: list[tuple[int, bool]], steps: list[int]
) -> None:
    ic = IC(trace=False)
    alarm = ic.deploy(Alarm)
    ids = alarm.schedule_many(tuple((delay, index) for index, (delay, _) in enumerate(plan)))
    cancelled = {index for index, (_, cancel) in enumerate(plan) if cancel}
    results = alarm.cancel_many(tuple(ids[i] for i in sorted(cancelled)))
    assert all(results)
    live = sorted(
        (GENESIS_TIME + delay, index)
        for index, (delay, _) in enumerate(plan)
        if index not in cancelled
    )
    for step in steps:
        ic.advance_time(nanos=step)
        expected = [(index, deadline) for deadline, index in live if deadline <= ic.time]
        rings = ic.state_of(alarm.id).rings
        assert [(tag, t) for tag, t, _ in rings] == expected
        assert ic.pending_timers() == len(live) - len(expected)


# -- TimerQueue on its own --------------------------------------------------------------------

CANISTER = Principal.from_canister_index(7)

_queue_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 20)),
        st.tuples(st.just("cancel"), st.lists(st.integers(0, 40), max_size=3)),
        st.tuples(st.just("pop"), st.none()),
    ),
    max_size=80,
)


def _drain(queue: TimerQueue) -> list[tuple[int, int]]:
    out = []
    while True:
        queue, timer = queue.pop()
        if timer is None:
            return out
        out.append((timer.deadline, timer.timer_id))


@settings(max_examples=200, deadline=None)
@given(ops=_queue_ops)
def test_timer_queue_matches_a_sorted_list_model_and_old_versions_never_change(
    ops: list[tuple[str, Any]],
) -> None:
    queue = TimerQueue()
    model: dict[int, int] = {}  # timer id -> deadline
    versions: list[tuple[TimerQueue, list[tuple[int, int]]]] = [(queue, [])]
    for op, value in ops:
        if op == "add":
            queue, timer_id = queue.add(CANISTER, value, "ring", (value,))
            assert timer_id not in model
            assert all(timer_id > known for known in model)
            model[timer_id] = value
        elif op == "cancel":
            queue = queue.cancel(value)
            for timer_id in value:
                model.pop(timer_id, None)
        else:
            queue, timer = queue.pop()
            if not model:
                assert timer is None
            else:
                best = min((deadline, timer_id) for timer_id, deadline in model.items())
                assert timer is not None
                assert (timer.deadline, timer.timer_id) == best
                assert timer.args == (timer.deadline,)
                del model[best[1]]
        assert len(queue) == len(model)
        peeked = queue.peek()
        if model:
            best = min((deadline, timer_id) for timer_id, deadline in model.items())
            assert peeked is not None and (peeked.deadline, peeked.timer_id) == best
        else:
            assert peeked is None
        versions.append((queue, sorted((d, t) for t, d in model.items())))
    for old, content in versions:
        assert len(old) == len(content)
        assert _drain(old) == content


def test_timer_queue_stays_correct_when_cancelled_timers_outnumber_live_ones() -> None:
    queue = TimerQueue()
    ids = []
    for deadline in range(300, 0, -1):
        queue, timer_id = queue.add(CANISTER, deadline % 50, "ring", ())
        ids.append(timer_id)
    before = queue
    queue = queue.cancel(ids[:250])
    assert len(queue) == 50
    remaining = sorted((300 - i) % 50 for i in range(250, 300))
    assert [deadline for deadline, _ in _drain(queue)] == remaining
    assert len(before) == 300
    assert len(_drain(before)) == 300
