"""Edges of the message semantics a test author relies on without thinking about them.

Queries cannot change the world, not even through the management canister; a stopped canister
refuses every message before any method is looked up; a composite query called as an update is
refused with the IC's own code; a stopped canister's overdue timer waits for it to run again and
goes away with its code; timer arguments are immutable like state; and an interrupt (Ctrl-C in a
notebook) undoes the segment it stopped, as a trap would, and an upgrade whole.
"""

from __future__ import annotations

from typing import Any

import pytest

from icto import IC, MANAGEMENT_ID, Canister, Principal, RejectCode, query, update
from icto.ic.errors import ErrorCode
from tests.helpers import rejected

from .toys import Counter

# -- queries and the management canister ---------------------------------------------------------


class Prober(Canister):
    """Asks the management canister for things from a composite query and from an update's
    ``query_call``."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = 0

    @query(composite=True)
    def stop_from_a_query(self, target: Principal) -> None:
        self.query_call(MANAGEMENT_ID, "stop_canister", target)

    @query(composite=True)
    def random_from_a_query(self) -> bytes:
        result: bytes = self.query_call(MANAGEMENT_ID, "raw_rand")
        return result

    @update
    def stop_by_query_call(self, target: Principal) -> None:
        self.query_call(MANAGEMENT_ID, "stop_canister", target)


@pytest.mark.parametrize(
    "ask", [
        lambda prober, target: prober.stop_from_a_query(target),
        lambda prober, target: prober.random_from_a_query(),
        lambda prober, target: prober.stop_by_query_call(target),
    ],
    ids=["stop_canister from a composite query", "raw_rand from a composite query",
         "stop_canister by an update's query_call"],
)  # fmt: skip
def test_the_management_canister_has_no_query_methods(ic: IC, ask: Any) -> None:
    prober = ic.deploy(Prober)
    target = ic.deploy(Counter, 0, controllers=(prober.id,), caller=prober.id)
    before = ic.snapshot()
    error = rejected(lambda: ask(prober, target.id))
    assert "has no query method" in error.message and ErrorCode.CANISTER_METHOD_NOT_FOUND.value in (
        error.message
    )  # the management canister's refusal, trapping the prober
    assert not ic.is_stopped(target.id)
    assert ic.world.rand_counter == before.rand_counter


# -- what reaches a stopped canister --------------------------------------------------------------


class Empty(Canister):
    VERSION = "1.0.0"


@pytest.mark.parametrize("what", ["an existing method", "an unknown method", "no code"])
def test_a_stopped_canister_refuses_every_message_as_stopped(ic: IC, what: str) -> None:
    counter = ic.deploy(Counter, 0)
    if what == "no code":
        ic.update_call(MANAGEMENT_ID, "uninstall_code", counter.id)
    ic.stop_canister(counter.id)
    method = "inc" if what == "an existing method" else "no_such_method"
    error = rejected(lambda: ic.update_call(counter.id, method))
    assert (error.reject_code, error.error_code) == (
        RejectCode.CANISTER_ERROR, ErrorCode.CANISTER_STOPPED.value,
    )  # fmt: skip


class CallsAComposite(Canister):
    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = 0

    @query(composite=True)
    def composite(self) -> int:
        return 1

    @update
    def call_it(self, target: Principal) -> int:
        result: int = self.call(target, "composite")
        return result


def test_a_composite_query_called_as_an_update_is_refused_with_the_ics_code(ic: IC) -> None:
    canister = ic.deploy(CallsAComposite)
    for call in (lambda: ic.update_call(canister.id, "composite"),
                 lambda: canister.call_it(canister.id)):  # fmt: skip
        error = rejected(call)
        assert ErrorCode.COMPOSITE_QUERY_CALLED_IN_REPLICATED_MODE.value == "IC0527"
        assert "IC0527" in (error.error_code + error.message)


# -- timers ---------------------------------------------------------------------------------------


class Sleeper(Canister):
    """Sets a timer for 1 ns from now; its ``_wake`` records the time it ran."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = 0

    @update
    def arm(self) -> None:
        self.set_timer(1, "_wake")

    def _wake(self) -> None:
        self.state = self.time

    @update
    def arm_with_a_list(self) -> None:
        self.set_timer(1, "_take", [1, 2])

    def _take(self, items: Any) -> None:
        self.state = len(items)


class SleeperV2(Sleeper):
    VERSION = "2.0.0"


class Keeper(Canister):
    """A controller whose own timer, 2 ns from ``plan``, acts on the sleeper."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = ()

    @update
    def plan(self, target: Principal, action: str) -> None:
        self.state = (target, action)
        self.set_timer(2, "_act")

    def _act(self) -> None:
        target, action = self.state
        if action == "upgrade":
            self.call(MANAGEMENT_ID, "install_code", target, SleeperV2, None, "upgrade")
            self.call(MANAGEMENT_ID, "start_canister", target)
        elif action == "delete":
            self.call(MANAGEMENT_ID, "delete_canister", target)
        else:
            self.call(MANAGEMENT_ID, "start_canister", target)


def _stopped_sleeper_and_keeper(ic: IC, action: str) -> tuple[Principal, Any]:
    keeper = ic.deploy(Keeper)
    sleeper = ic.deploy(Sleeper, controllers=(Principal.anonymous(), keeper.id))
    sleeper.arm()
    ic.stop_canister(sleeper.id)
    keeper.plan(sleeper.id, action)
    return sleeper.id, keeper


@pytest.mark.parametrize("action", ["upgrade", "delete"])
def test_a_waiting_timer_goes_away_with_its_canisters_code(
    ic: IC, action: str, tmp_path: Any
) -> None:
    """The sleeper's timer is due while it is stopped, so it waits; then, in the same advance,
    its controller upgrades or deletes it: the timer goes, as its others would."""
    sleeper, _ = _stopped_sleeper_and_keeper(ic, action)
    ic.advance_time(nanos=5)
    assert [timer for timer in ic.world.timers.live.values() if timer.canister_id == sleeper] == []
    ic.advance_time(seconds=1)  # nothing left to deliver to a canister that changed
    ic.save(tmp_path / "world.icto")
    IC.load(tmp_path / "world.icto", allow=("tests.ic",))


def test_a_waiting_timer_runs_in_the_advance_that_starts_its_canister(ic: IC) -> None:
    sleeper, _ = _stopped_sleeper_and_keeper(ic, "start")
    start = ic.time
    ic.advance_time(nanos=5)
    assert ic.state_of(sleeper) == start + 2  # when the keeper started it, not a later advance
    assert ic.pending_timers() == 0


def test_timer_arguments_must_be_immutable(ic: IC) -> None:
    sleeper = ic.deploy(Sleeper)
    error = rejected(sleeper.arm_with_a_list)
    assert "timer arguments" in error.message and "mutable list" in error.message
    assert ic.pending_timers() == 0 and ic.state_of(sleeper.id) == 0


# -- interrupts -----------------------------------------------------------------------------------


class Interrupted(Canister):
    """An update and a migration that a user interrupts (Ctrl-C) halfway."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = 41

    @update
    def long_update(self, then_call: Principal | None = None) -> None:
        self.set_timer(10, "_later")
        self.state = self.state + 1000
        if then_call is not None:
            self.call(then_call, "inc")
            self.state = self.state + 1000
        raise KeyboardInterrupt

    def _later(self) -> None:
        self.state = 0

    @query
    def get(self) -> int:
        return int(self.state)


class Alarm(Canister):
    """Timers that count, or that a user interrupts."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = 0

    @update
    def arm(self, delay: int, method: str) -> None:
        self.set_timer(delay, method)

    def _wake(self) -> None:
        self.state = self.state + 1

    def _interrupt(self) -> None:
        raise KeyboardInterrupt


def test_an_interrupt_during_an_advance_loses_no_waiting_timer(ic: IC, tmp_path: Any) -> None:
    """A stopped canister's due timer waits, off the queue, while the advance goes on; a timer
    interrupted later in that advance must not lose it."""
    waiting, interrupted = ic.deploy(Alarm), ic.deploy(Alarm)
    waiting.arm(1, "_wake")
    interrupted.arm(2, "_interrupt")
    ic.stop_canister(waiting.id)
    with pytest.raises(KeyboardInterrupt):
        ic.advance_time(nanos=3)
    assert ic.pending_timers() == 1
    ic.start_canister(waiting.id)
    ic.tick()
    assert ic.state_of(waiting.id) == 1
    ic.save(tmp_path / "world.icto")
    IC.load(tmp_path / "world.icto", allow=("tests.ic",))


class MaybeInterrupted(Canister):
    """Counts its calls; a user interrupts the ones asked to be interrupted."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = 0

    @update
    def count(self, interrupt: bool) -> int:
        self.state = self.state + 1
        if interrupt:
            raise KeyboardInterrupt
        return int(self.state)


def test_a_trap_rule_whose_call_was_interrupted_still_fires_on_the_next(ic: IC) -> None:
    """A Ctrl-C while a call a trap rule matched is running: the rule is free again, and the
    next matching call traps as injected (the rule used to stay spoken for, and never fired)."""
    canister = ic.deploy(MaybeInterrupted)
    rule = ic.faults.trap(canister=canister.id, method="count", times=1)
    with pytest.raises(KeyboardInterrupt):
        canister.count(True)
    assert (rule.armed, rule.fired) == (0, 0)
    trapped = rejected(lambda: canister.count(False))
    assert trapped.message.endswith("injected trap") and rule.fired == 1
    assert ic.state_of(canister.id) == 0


class InterruptedMigration(Interrupted):
    VERSION = "2.0.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        self.state = stable + 1
        raise KeyboardInterrupt


def test_an_interrupt_undoes_the_segment_it_stopped_and_keeps_what_a_call_committed(
    ic: IC,
) -> None:
    canister = ic.deploy(Interrupted)
    counter = ic.deploy(Counter, 0)
    with pytest.raises(KeyboardInterrupt):
        canister.long_update()
    assert (canister.get(), ic.pending_timers()) == (41, 0)
    with pytest.raises(KeyboardInterrupt):
        canister.long_update(counter.id)
    # The call committed the first segment (the timer, +1000); the interrupted one is undone.
    assert (canister.get(), ic.pending_timers(), counter.get()) == (1041, 1, 1)


def test_an_interrupted_upgrade_leaves_the_old_code_and_state(ic: IC) -> None:
    canister = ic.deploy(Interrupted)
    with pytest.raises(KeyboardInterrupt):
        ic.upgrade_canister(canister.id, InterruptedMigration)
    assert ic.code_of(canister.id) is Interrupted
    assert canister.get() == 41
