"""Snapshots and anchors (spec ic.md §6).

The world (every canister's state, code, controllers, cycles, timers, logs, the time and the id and
randomness counters) is one immutable value: ``ic.snapshot()`` returns it, ``ic.restore(snap)``
puts it back and ``with ic.anchor():`` rolls everything back at the end of the block. Test settings
that are not world state (faults, default caller, trace) are not rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto import (
    IC,
    MANAGEMENT_ID,
    CallRejected,
    Canister,
    CanisterSettings,
    Principal,
    RejectCode,
    World,
    query,
    update,
)

from .toys import Counter, Tally


class CounterV2(Counter):
    VERSION = "2.0.0"

    @query
    def version(self) -> str:
        return "v2"


@attrs.frozen
class Box:
    n: int = 0


class Worker(Canister):
    """Logs, timers and randomness: the parts of the world that are not plain state."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = Box()

    @update
    def note(self, text: str) -> None:
        self.log(text)

    @update
    def schedule(self, delay: int) -> int:
        return self.set_timer(delay, "bump")

    @update
    def cancel(self, timer_id: int) -> bool:
        return self.cancel_timer(timer_id)

    @update
    def bump(self) -> int:
        self.state = Box(self.state.n + 1)
        return self.state.n

    @update
    def rand(self) -> bytes:
        random: bytes = self.call(MANAGEMENT_ID, "raw_rand")
        return random

    @query
    def get(self) -> int:
        return self.state.n


class Boom(Exception):
    pass


@attrs.define
class Env:
    ic: IC
    counter: Principal
    worker: Principal
    alice: Principal
    extra: dict[str, Any] = attrs.Factory(dict)


@pytest.fixture
def env(ic: IC, alice: Principal) -> Env:
    counter = ic.deploy(Counter, 5).id
    worker = ic.deploy(Worker).id
    return Env(ic, counter, worker, alice)


def logs(ic: IC, canister: Principal) -> list[str]:
    return [record.content for record in ic.canister_logs(canister)]


# =============================================================================================
# What a rollback restores: one case per part of the world, under every rollback mechanism
# =============================================================================================


def _change_state(e: Env) -> None:
    e.ic.update_call(e.counter, "inc", 10)


def _observe_state(e: Env) -> Any:
    return e.ic.query_call(e.counter, "get"), e.ic.state_of(e.counter)


def _change_new_canister(e: Env) -> None:
    e.extra["new"] = e.ic.deploy(Counter, 1).id


def _observe_new_canister(e: Env) -> Any:
    new = e.extra.get("new")
    return new is not None and e.ic.canister_exists(new)


def _change_code(e: Env) -> None:
    e.ic.install_code(e.counter, CounterV2, mode="upgrade")


def _observe_code(e: Env) -> Any:
    return e.ic.code_of(e.counter), e.ic.canister_status(e.counter).version


def _change_reinstall(e: Env) -> None:
    e.ic.install_code(e.counter, Counter, 0, mode="reinstall")


def _change_uninstall(e: Env) -> None:
    e.ic.update_call(MANAGEMENT_ID, "uninstall_code", e.counter)


def _change_deleted(e: Env) -> None:
    e.ic.stop_canister(e.counter)
    e.ic.delete_canister(e.counter)


def _observe_deleted(e: Env) -> Any:
    exists = e.ic.canister_exists(e.counter)
    return exists, exists and e.ic.is_stopped(e.counter), exists and e.ic.state_of(e.counter)


def _change_stopped(e: Env) -> None:
    e.ic.stop_canister(e.counter)


def _change_controllers(e: Env) -> None:
    e.ic.update_call(
        MANAGEMENT_ID, "update_settings", e.counter, CanisterSettings(controllers=(e.alice,))
    )


def _observe_controllers(e: Env) -> Any:
    return e.ic.controllers_of(e.counter)


def _change_cycles(e: Env) -> None:
    e.ic.add_cycles(e.counter, 123_456)


def _observe_cycles(e: Env) -> Any:
    return e.ic.cycles_balance(e.counter), e.ic.cycles_balance(e.worker)


def _change_new_timer(e: Env) -> None:
    e.ic.update_call(e.worker, "schedule", 10)


def _observe_timers(e: Env) -> Any:
    return e.ic.pending_timers()


def _setup_timer(e: Env) -> None:
    e.extra["timer"] = e.ic.update_call(e.worker, "schedule", 10)


def _change_cancel_timer(e: Env) -> None:
    assert e.ic.update_call(e.worker, "cancel", e.extra["timer"]) is True


def _change_fire_timer(e: Env) -> None:
    e.ic.advance_time(seconds=1)


def _observe_worker(e: Env) -> Any:
    return e.ic.pending_timers(), e.ic.state_of(e.worker), e.ic.time


def _change_logs(e: Env) -> None:
    e.ic.update_call(e.worker, "note", "written inside")


def _observe_logs(e: Env) -> Any:
    return logs(e.ic, e.worker)


def _change_time(e: Env) -> None:
    e.ic.advance_time(days=3)


def _observe_time(e: Env) -> Any:
    return e.ic.time


def _nothing(e: Env) -> None:
    pass


# (name, setup, change, observe)
CASES: list[tuple[str, Callable[[Env], None], Callable[[Env], None], Callable[[Env], Any]]] = [
    ("canister state", _nothing, _change_state, _observe_state),
    ("new canister", _nothing, _change_new_canister, _observe_new_canister),
    ("upgraded code", _nothing, _change_code, _observe_code),
    ("reinstalled code", _nothing, _change_reinstall, _observe_state),
    ("uninstalled code", _nothing, _change_uninstall, _observe_code),
    ("deleted canister", _nothing, _change_deleted, _observe_deleted),
    ("stopped canister", _nothing, _change_stopped, _observe_deleted),
    ("controllers", _nothing, _change_controllers, _observe_controllers),
    ("cycles", _nothing, _change_cycles, _observe_cycles),
    ("timer set inside", _nothing, _change_new_timer, _observe_timers),
    ("timer cancelled inside", _setup_timer, _change_cancel_timer, _observe_worker),
    ("timer fired inside", _setup_timer, _change_fire_timer, _observe_worker),
    ("canister logs", _nothing, _change_logs, _observe_logs),
    ("time", _nothing, _change_time, _observe_time),
]


def _anchor(e: Env, change: Callable[[Env], None], observe: Callable[[Env], Any]) -> Any:
    with e.ic.anchor():
        change(e)
        return observe(e)


def _anchor_raising(e: Env, change: Callable[[Env], None], observe: Callable[[Env], Any]) -> Any:
    inside = None
    with pytest.raises(Boom), e.ic.anchor():
        change(e)
        inside = observe(e)
        raise Boom
    return inside


def _snapshot_restore(e: Env, change: Callable[[Env], None], observe: Callable[[Env], Any]) -> Any:
    snap = e.ic.snapshot()
    change(e)
    inside = observe(e)
    e.ic.restore(snap)
    return inside


MECHANISMS = {
    "anchor": _anchor,
    "anchor+exception": _anchor_raising,
    "snapshot+restore": _snapshot_restore,
}


@pytest.mark.parametrize("mechanism", list(MECHANISMS))
@pytest.mark.parametrize(
    ("setup", "change", "observe"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rollback_restores_every_part_of_the_world(
    env: Env,
    mechanism: str,
    setup: Callable[[Env], None],
    change: Callable[[Env], None],
    observe: Callable[[Env], Any],
) -> None:
    setup(env)
    before_value = observe(env)
    before_world = env.ic.snapshot()
    inside = MECHANISMS[mechanism](env, change, observe)
    assert inside != before_value, "the change must be visible inside the block"
    assert observe(env) == before_value
    assert env.ic.snapshot() is before_world


class TestAnchorDetails:
    def test_a_cancelled_timer_comes_back_and_fires(self, env: Env) -> None:
        ic = env.ic
        timer_id = ic.update_call(env.worker, "schedule", 10)
        with ic.anchor():
            assert ic.update_call(env.worker, "cancel", timer_id) is True
        ic.advance_time(nanos=10)
        assert ic.query_call(env.worker, "get") == 1

    def test_a_timer_set_inside_never_fires_after_the_block(self, env: Env) -> None:
        ic = env.ic
        with ic.anchor():
            ic.update_call(env.worker, "schedule", 10)
        ic.advance_time(seconds=1)
        assert ic.query_call(env.worker, "get") == 0
        assert ic.trace.calls(kind="timer") == []

    def test_the_canister_id_counter_is_restored(self, env: Env) -> None:
        ic = env.ic
        with ic.anchor():
            inside = ic.create_canister()
            assert ic.canister_exists(inside)
        assert not ic.canister_exists(inside)
        assert ic.create_canister() == inside

    def test_the_raw_rand_counter_is_restored(self, env: Env) -> None:
        ic = env.ic
        with ic.anchor():
            first = ic.update_call(env.worker, "rand")
            second = ic.update_call(env.worker, "rand")
            assert first != second
        assert ic.update_call(env.worker, "rand") == first
        assert ic.update_call(env.worker, "rand") == second

    def test_the_exception_propagates_unchanged(self, env: Env) -> None:
        boom = Boom("inside")
        with pytest.raises(Boom) as caught, env.ic.anchor():
            env.ic.update_call(env.counter, "inc", 1)
            raise boom
        assert caught.value is boom
        assert env.ic.query_call(env.counter, "get") == 5

    def test_a_rejected_call_inside_is_rolled_back_with_the_rest(self, env: Env) -> None:
        ic = env.ic
        with pytest.raises(CallRejected), ic.anchor():
            ic.update_call(env.counter, "inc", 1)
            ic.update_call(env.counter, "inc_then_reject", 100)
        assert ic.query_call(env.counter, "get") == 5

    def test_anchors_nest(self, env: Env) -> None:
        ic = env.ic
        with ic.anchor():
            ic.update_call(env.counter, "inc", 1)
            with ic.anchor():
                ic.update_call(env.counter, "inc", 10)
                ic.advance_time(hours=1)
                assert ic.query_call(env.counter, "get") == 16
            assert ic.query_call(env.counter, "get") == 6
            assert ic.time == env.ic.snapshot().time
            with pytest.raises(Boom), ic.anchor():
                ic.update_call(env.counter, "inc", 100)
                raise Boom
            assert ic.query_call(env.counter, "get") == 6
            ic.update_call(env.counter, "inc", 1000)
            assert ic.query_call(env.counter, "get") == 1006
        assert ic.query_call(env.counter, "get") == 5

    def test_the_inner_block_keeps_the_outer_blocks_time(self, env: Env) -> None:
        ic = env.ic
        start = ic.time
        with ic.anchor():
            ic.advance_time(minutes=1)
            with ic.anchor():
                ic.advance_time(minutes=5)
            assert ic.time == start + 60 * 10**9
        assert ic.time == start


class TestNotWorldState:
    def test_installed_faults_stay(self, env: Env) -> None:
        ic = env.ic
        with ic.anchor():
            ic.faults.reject(canister=env.counter, method="inc", times=None)
        with pytest.raises(CallRejected) as caught:
            ic.update_call(env.counter, "inc", 1)
        assert caught.value.reject_code == RejectCode.SYS_TRANSIENT
        assert ic.query_call(env.counter, "get") == 5

    def test_a_fault_used_up_inside_stays_used_up(self, env: Env) -> None:
        ic = env.ic
        ic.faults.reject(canister=env.counter, method="inc", times=1)
        with ic.anchor(), pytest.raises(CallRejected):
            ic.update_call(env.counter, "inc", 1)
        assert ic.update_call(env.counter, "inc", 1) == 6

    def test_the_default_caller_is_not_restored(self, env: Env, bob: Principal) -> None:
        ic = env.ic
        anchor = ic.anchor()
        prank = ic.as_caller(bob)
        anchor.__enter__()
        prank.__enter__()
        anchor.__exit__(None, None, None)
        try:
            assert ic.default_caller == bob
            assert ic.update_call(env.counter, "whoami") == bob
        finally:
            prank.__exit__(None, None, None)
        assert ic.default_caller == Principal.anonymous()

    def test_an_anchor_inside_as_caller_keeps_the_caller(self, env: Env) -> None:
        ic = env.ic
        with ic.as_caller(env.alice):
            with ic.anchor():
                assert ic.update_call(env.counter, "whoami") == env.alice
            assert ic.default_caller == env.alice
            assert ic.update_call(env.counter, "whoami") == env.alice

    def test_trace_entries_recorded_inside_remain(self, env: Env) -> None:
        ic = env.ic
        before = len(ic.trace)
        with ic.anchor():
            ic.update_call(env.counter, "inc", 77)
        assert len(ic.trace) == before + 1
        (entry,) = ic.trace.calls(method="inc")
        assert entry.args == (77,)
        assert entry.outcome == "reply"

    def test_turning_trace_recording_off_inside_stays_off(self, env: Env) -> None:
        ic = env.ic
        with ic.anchor():
            ic.trace.enabled = False
        assert ic.trace.enabled is False
        ic.update_call(env.counter, "inc", 1)
        assert ic.trace.calls(method="inc") == []


# =============================================================================================
# snapshot() / restore()
# =============================================================================================


class TestSnapshotValues:
    def test_a_snapshot_is_an_immutable_world(self, env: Env) -> None:
        snap = env.ic.snapshot()
        assert isinstance(snap, World)
        with pytest.raises(AttributeError):
            snap.time = 0  # type: ignore[misc]
        with pytest.raises(AttributeError):
            snap.canisters = None  # type: ignore[misc]
        assert env.ic.snapshot() is snap

    def test_snapshot_twice_without_changes_is_the_same_object(self, env: Env) -> None:
        assert env.ic.snapshot() is env.ic.snapshot()

    def test_queries_do_not_change_the_world(self, env: Env) -> None:
        snap = env.ic.snapshot()
        env.ic.query_call(env.counter, "get")
        env.ic.query_call(env.counter, "inc_in_query", 3)
        assert env.ic.snapshot() is snap

    def test_a_snapshot_can_be_restored_several_times(self, env: Env) -> None:
        ic = env.ic
        snap = ic.snapshot()
        for round_ in range(3):
            ic.update_call(env.counter, "inc", round_ + 1)
            ic.advance_time(seconds=round_ + 1)
            ic.restore(snap)
            assert ic.query_call(env.counter, "get") == 5
            assert ic.time == snap.time
            assert ic.snapshot() is snap

    def test_older_and_newer_snapshots_can_be_restored_in_any_order(self, env: Env) -> None:
        ic = env.ic
        old = ic.snapshot()
        ic.update_call(env.counter, "inc", 1)
        new = ic.snapshot()
        ic.update_call(env.counter, "inc", 1)
        ic.restore(new)
        assert ic.query_call(env.counter, "get") == 6
        ic.restore(old)
        assert ic.query_call(env.counter, "get") == 5
        ic.restore(new)
        assert ic.query_call(env.counter, "get") == 6

    @pytest.mark.parametrize(
        "not_a_snapshot",
        [None, "snapshot", 0, {}, object()],
        ids=["None", "str", "int", "dict", "object"],
    )
    def test_restore_refuses_anything_but_a_snapshot(self, env: Env, not_a_snapshot: Any) -> None:
        ic = env.ic
        ic.update_call(env.counter, "inc", 1)
        before = ic.snapshot()
        with pytest.raises(TypeError):
            ic.restore(not_a_snapshot)
        assert ic.snapshot() is before
        assert ic.query_call(env.counter, "get") == 6

    @pytest.mark.parametrize("part", ["canisters", "timers", "ic", "record"])
    def test_restore_refuses_parts_of_a_snapshot(self, env: Env, part: str) -> None:
        ic = env.ic
        snap = ic.snapshot()
        value = {
            "canisters": snap.canisters,
            "timers": snap.timers,
            "ic": ic,
            "record": snap.canisters[env.counter],
        }[part]
        with pytest.raises(TypeError):
            ic.restore(value)
        assert ic.snapshot() is snap

    def test_a_snapshots_content_never_changes(self, env: Env) -> None:
        ic = env.ic
        snap = ic.snapshot()
        ic.update_call(env.worker, "schedule", 10)
        for _ in range(50):
            ic.update_call(env.counter, "inc", 1)
            ic.update_call(env.worker, "note", "x")
        ic.advance_time(days=1)
        ic.install_code(env.counter, CounterV2, mode="upgrade")
        ic.create_canister()
        assert ic.query_call(env.counter, "get") == 55
        assert snap.canisters[env.counter].state == Tally(5)
        assert snap.canisters[env.counter].code is Counter
        assert snap.canisters[env.worker].state == Box(0)
        assert len(snap.canisters[env.worker].log.tail()) == 0
        assert len(snap.canisters) == 2
        assert len(snap.timers) == 0
        assert snap.time == ic.time - 86_400 * 10**9


# =============================================================================================
# Property: snapshot/restore behaves like saving and putting back a dict
# =============================================================================================

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("inc"), st.integers(0, 1), st.integers(1, 5)),
        st.tuples(st.just("trap"), st.integers(0, 1), st.integers(1, 5)),
        st.tuples(st.just("snapshot"), st.none(), st.none()),
        st.tuples(st.just("restore"), st.integers(0, 100), st.none()),
    ),
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(ops=_ops)
def test_snapshots_behave_like_saved_copies_of_a_model(ops: list[tuple[str, Any, Any]]) -> None:
    ic = IC(trace=False)
    counters = (ic.deploy(Counter, 0).id, ic.deploy(Counter, 100).id)
    model = {counters[0]: 0, counters[1]: 100}
    saved: list[tuple[World, dict[Principal, int]]] = []
    for op, a, b in ops:
        if op == "inc":
            model[counters[a]] += b
            assert ic.update_call(counters[a], "inc", b) == model[counters[a]]
        elif op == "trap":
            with pytest.raises(CallRejected):
                ic.update_call(counters[a], "inc_then_trap", b)
        elif op == "snapshot":
            saved.append((ic.snapshot(), dict(model)))
        elif saved:
            snap, copy = saved[a % len(saved)]
            ic.restore(snap)
            model = dict(copy)
        for canister in counters:
            assert ic.query_call(canister, "get") == model[canister]
    for snap, copy in saved:
        assert {c: snap.canisters[c].state.n for c in counters} == copy
