"""The message trace and canister logs (spec ic.md §8)."""

from __future__ import annotations

import itertools
from typing import Any

import attrs
import pytest

from icto import (
    IC,
    MANAGEMENT_ID,
    BadUse,
    CallRejected,
    Canister,
    CanisterProxy,
    LogRecord,
    Principal,
    Reject,
    RejectCode,
    Trace,
    Trap,
    query,
    update,
)
from icto.ic import cycles as costs
from icto.ic.context import CALL, HOOK, INGRESS, INGRESS_QUERY, TIMER
from icto.ic.trace import KINDS, OUTCOMES
from icto.ic.world import LOG_CAPACITY
from tests.ic.toys import Counter, Relay, Tally


def rejected(fn: Any, *args: Any, **kwargs: Any) -> CallRejected:
    with pytest.raises(CallRejected) as info:
        fn(*args, **kwargs)
    return info.value


class Logger(Canister):
    """Writes log lines around replies, rejects, traps, calls and timers."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = Tally(0)

    @update
    def say(self, text: str) -> None:
        self.log(text)

    @update
    def say_many(self, n: int) -> None:
        for i in range(n):
            self.log(f"line {i}")

    @update
    def say_then_trap(self, text: str) -> None:
        self.log(text)
        self.state = Tally(self.state.n + 1)
        raise Trap("logged then trapped")

    @update
    def say_call_say_trap(self, target: Principal) -> None:
        self.log("before call")
        self.call(target, "inc", 1)
        self.log("after call")
        raise Trap("trap after the call")

    @update
    def say_in_timer(self, delay_ns: int) -> int:
        return self.set_timer(delay_ns, "tick", "from timer")

    @update
    def tick(self, text: str) -> None:
        self.log(text)

    @query
    def say_in_query(self, text: str) -> int:
        self.log(text)
        return 1

    @query
    def say_in_query_then_trap(self, text: str) -> int:
        self.log(text)
        raise Trap("query trapped")


class Asker(Canister):
    """Runs another canister's query from an update (replicated mode) or from a composite query
    (non-replicated), reporting a reject instead of trapping."""

    VERSION = "1.0.0"

    @update
    def ask(self, target: Principal, method: str, text: str, as_query_call: bool) -> Any:
        try:
            if as_query_call:
                return self.query_call(target, method, text)
            return self.call(target, method, text)
        except CallRejected as rejected:
            return rejected.error_code

    @query(composite=True)
    def ask_composite(self, target: Principal, method: str, text: str) -> Any:
        try:
            return self.query_call(target, method, text)
        except CallRejected as rejected:
            return rejected.error_code


class LoggerV2(Logger):
    VERSION = "2.0.0"


class BadInit(Canister):
    def init(self, arg: Any) -> None:
        self.log("init started")
        raise Trap("init failed")


class BadPostUpgrade(Logger):
    VERSION = "3.0.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        raise Trap("post_upgrade failed")


class ChattyMigration(Logger):
    """Logs in its migration, then fails it."""

    VERSION = "4.0.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        self.log("post_upgrade: migrating")
        raise Trap("migration failed")


@pytest.fixture
def counter(ic: IC) -> CanisterProxy:
    return ic.deploy(Counter, 0)


@pytest.fixture
def relay(ic: IC) -> CanisterProxy:
    return ic.deploy(Relay)


@pytest.fixture
def logger(ic: IC) -> CanisterProxy:
    return ic.deploy(Logger)


def contents(ic: IC, canister: CanisterProxy) -> list[str]:
    return [record.content for record in ic.canister_logs(canister.id)]


# -- trace: what one entry records -----------------------------------------------------------------


def test_an_ingress_update_is_recorded_with_caller_callee_method_and_args(
    ic: IC, counter: CanisterProxy, alice: Principal
) -> None:
    counter.as_caller(alice).inc(7)
    (entry,) = ic.trace.last(1)
    assert entry.kind == "ingress"
    assert entry.caller == alice
    assert entry.callee == counter.id
    assert entry.method == "inc"
    assert entry.args == (7,)
    assert entry.depth == 1
    assert entry.parent_id is None
    assert entry.outcome == "reply"
    assert entry.result == 7
    assert entry.reject_code is None and entry.error_code is None and entry.traceback is None
    assert entry.injected is False


def test_keyword_arguments_are_recorded(ic: IC, counter: CanisterProxy) -> None:
    counter.inc(by=3)
    (entry,) = ic.trace.last(1)
    assert entry.kwargs == {"by": 3}
    assert "by=3" in entry.args_repr


def test_an_ingress_query_is_recorded_as_a_free_query(ic: IC, counter: CanisterProxy) -> None:
    counter.get()
    (entry,) = ic.trace.last(1)
    assert (entry.kind, entry.method, entry.outcome, entry.result) == ("query", "get", "reply", 0)
    assert entry.cycles == 0


def test_the_cycles_charged_are_recorded(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    relay.relay(counter.id, "inc", (2,))
    outer, inner = ic.trace.last(2)
    assert outer.cycles == costs.UPDATE_MESSAGE + costs.INGRESS_MESSAGE
    assert inner.cycles == costs.UPDATE_MESSAGE


def test_the_time_of_delivery_is_recorded(ic: IC, counter: CanisterProxy) -> None:
    counter.inc(1)
    ic.advance_time(seconds=5)
    counter.inc(1)
    first, second = ic.trace.last(2)
    assert second.time == ic.time
    assert second.time - first.time == 5 * 10**9


def test_an_inter_canister_call_links_to_its_parent(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    relay.relay(counter.id, "inc", (2,))
    outer, inner = ic.trace.last(2)
    assert (outer.kind, outer.depth, outer.parent_id) == ("ingress", 1, None)
    assert (inner.kind, inner.depth, inner.parent_id) == ("call", 2, outer.entry_id)
    assert inner.caller == relay.id
    assert inner.callee == counter.id
    assert inner.args == (2,)
    assert inner.result == 2
    assert outer.result == 2


def test_a_deep_chain_records_depth_and_parent_at_every_hop(ic: IC) -> None:
    relays = [ic.deploy(Relay) for _ in range(4)]
    relays[0].chain(tuple(r.id for r in relays[1:]))
    entries = ic.trace.last(4)
    assert [e.depth for e in entries] == [1, 2, 3, 4]
    assert [e.callee for e in entries] == [r.id for r in relays]
    assert entries[0].parent_id is None
    for parent, child in itertools.pairwise(entries):
        assert child.parent_id == parent.entry_id
        assert child.caller == parent.callee


def test_a_reject_is_recorded_with_its_code_and_message(ic: IC, counter: CanisterProxy) -> None:
    rejected(counter.inc_then_reject, 1)
    (entry,) = ic.trace.last(1)
    assert entry.outcome == "reject"
    assert entry.reject_code is RejectCode.CANISTER_REJECT
    assert entry.error_code == "IC0406"
    assert entry.message == "rejected on purpose"
    assert entry.traceback is None


def test_a_trap_is_recorded_with_the_python_traceback(ic: IC, counter: CanisterProxy) -> None:
    rejected(counter.inc_then_trap, 1)
    (entry,) = ic.trace.last(1)
    assert entry.outcome == "trap"
    assert entry.reject_code is RejectCode.CANISTER_ERROR
    assert entry.error_code == "IC0503"
    assert entry.message is not None and "trapped on purpose" in entry.message
    assert entry.traceback is not None
    assert "Traceback" in entry.traceback
    assert "Trap: trapped on purpose" in entry.traceback
    assert "inc_then_trap" in entry.traceback


def test_a_destination_error_is_recorded_as_a_reject(ic: IC, counter: CanisterProxy) -> None:
    rejected(ic.update_call, counter.id, "no_such_method")
    (entry,) = ic.trace.last(1)
    assert (entry.outcome, entry.reject_code, entry.error_code) == (
        "reject",
        RejectCode.CANISTER_ERROR,
        "IC0536",
    )


def test_a_timer_is_recorded_as_a_top_level_message_from_the_canister(
    ic: IC, logger: CanisterProxy
) -> None:
    logger.say_in_timer(10)
    ic.advance_time(nanos=10)
    (entry,) = ic.trace.last(1)
    assert entry.kind == "timer"
    assert (entry.caller, entry.callee, entry.method) == (logger.id, logger.id, "tick")
    assert entry.parent_id is None
    assert entry.outcome == "reply"
    assert entry.cycles == costs.UPDATE_MESSAGE


def test_long_arguments_are_shown_truncated_but_kept_whole(ic: IC, logger: CanisterProxy) -> None:
    text = "x" * 1000
    logger.say(text)
    (entry,) = ic.trace.last(1)
    assert entry.args == (text,)
    assert len(entry.args_repr) <= 120
    assert entry.args_repr.endswith("…")
    assert len(repr(entry)) < 400


# -- trace: install and upgrade hooks --------------------------------------------------------------


def test_init_is_recorded_as_a_hook_entry_under_its_install_code_message(ic: IC) -> None:
    canister_id = ic.create_canister()
    ic.install_code(canister_id, Logger, "hello")
    install, init = ic.trace.last(2)
    assert (install.kind, install.method, install.outcome) == ("ingress", "install_code", "reply")
    assert (init.kind, init.method, init.outcome) == ("hook", "init", "reply")
    assert init.args == ("hello",)
    assert (init.caller, init.callee) == (install.caller, canister_id)
    assert (init.parent_id, init.depth) == (install.entry_id, install.depth + 1)
    assert init.traceback is None and init.cycles == 0
    assert ic.trace.calls(kind="hook") == [init]


def test_an_upgrade_records_pre_upgrade_then_post_upgrade_under_install_code(
    ic: IC, logger: CanisterProxy
) -> None:
    ic.install_code(logger.id, LoggerV2, mode="upgrade")
    install, pre, post = ic.trace.last(3)
    assert install.method == "install_code"
    assert [(e.kind, e.method, e.outcome) for e in (pre, post)] == [
        ("hook", "pre_upgrade", "reply"),
        ("hook", "post_upgrade", "reply"),
    ]
    assert pre.parent_id == post.parent_id == install.entry_id
    assert post.args == (pre.result, None), "post_upgrade receives what pre_upgrade kept"


@pytest.mark.parametrize("how", ["init", "post_upgrade"])
def test_a_trapping_hook_is_a_trap_entry_with_its_traceback_under_the_rejected_install(
    ic: IC, logger: CanisterProxy, how: str
) -> None:
    """install_code itself is a reject to its caller, as on the IC; the hook's entry keeps the
    Python traceback."""
    if how == "init":
        err = rejected(ic.install_code, ic.create_canister(), BadInit)
        install, hook = ic.trace.last(2)
        failure = "Trap: init failed"
    else:
        err = rejected(ic.install_code, logger.id, BadPostUpgrade, mode="upgrade")
        install, _, hook = ic.trace.last(3)
        failure = "Trap: post_upgrade failed"
    assert (install.outcome, install.error_code, install.traceback) == ("reject", "IC0503", None)
    assert (hook.kind, hook.method, hook.parent_id) == ("hook", how, install.entry_id)
    assert (hook.outcome, hook.reject_code, hook.error_code) == (
        "trap", RejectCode.CANISTER_ERROR, "IC0503",
    )  # fmt: skip
    assert hook.message == install.message == err.message
    assert hook.traceback is not None
    assert "Traceback" in hook.traceback and failure in hook.traceback
    assert f"in {how}" in hook.traceback
    assert ic.trace.calls(kind="hook", outcome="trap") == [hook]
    assert how in str(ic.trace.tree()).splitlines()[-1]


def test_a_canisters_install_code_call_nests_its_hook_one_level_below(
    ic: IC, relay: CanisterProxy
) -> None:
    canister_id = ic.create_canister(controllers=[relay.id])
    relay.relay(MANAGEMENT_ID, "install_code", (canister_id, Counter, 3))
    top, install, init = ic.trace.last(3)
    assert [e.depth for e in (top, install, init)] == [1, 2, 3]
    assert (init.parent_id, init.caller, init.kind) == (install.entry_id, relay.id, "hook")
    lines = str(ic.trace.tree()).splitlines()
    assert len(lines) == 3 and ".init(3)" in lines[2]


def test_hooks_are_not_recorded_with_the_trace_off(ic: IC) -> None:
    ic.trace.clear()
    ic.trace.enabled = False
    ic.deploy(Logger)
    rejected(ic.deploy, BadInit)
    assert len(ic.trace) == 0


# -- trace: views -------------------------------------------------------------------------------


def test_last_returns_the_newest_entries_oldest_first(ic: IC, counter: CanisterProxy) -> None:
    for by in (1, 2, 3):
        counter.inc(by)
    assert [e.args for e in ic.trace.last(2)] == [(2,), (3,)]
    assert ic.trace.last(0) == []
    assert len(ic.trace.last(10_000)) == len(ic.trace)


def test_calls_filters_by_method_canister_caller_outcome_and_kind(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy, alice: Principal
) -> None:
    ic.trace.clear()
    counter.as_caller(alice).inc(1)
    relay.relay(counter.id, "inc", (2,))
    rejected(counter.inc_then_trap, 1)
    counter.get()

    assert [e.args for e in ic.trace.calls(method="inc")] == [(1,), (2,)]
    assert [e.method for e in ic.trace.calls(canister=relay.id)] == ["relay"]
    assert [e.args for e in ic.trace.calls(caller=alice)] == [(1,)]
    assert [e.method for e in ic.trace.calls(caller=relay.id)] == ["inc"]
    assert [e.method for e in ic.trace.calls(outcome="trap")] == ["inc_then_trap"]
    assert [e.method for e in ic.trace.calls(kind="query")] == ["get"]
    assert [e.method for e in ic.trace.calls(kind="call")] == ["inc"]
    assert [e.args for e in ic.trace.calls(method="inc", kind="ingress")] == [(1,)]
    assert ic.trace.calls(method="inc", outcome="trap") == []
    assert len(ic.trace.calls()) == len(ic.trace) == 5


def test_calls_takes_a_proxy_or_principal_text_for_a_principal(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    relay.relay(counter.id, "inc", (2,))
    by_id = ic.trace.calls(canister=counter.id)
    assert by_id and ic.trace.calls(canister=counter) == by_id
    assert ic.trace.calls(canister=str(counter.id)) == by_id
    assert ic.trace.calls(caller=relay) == ic.trace.calls(caller=relay.id) != []


@pytest.mark.parametrize(
    ("filters", "error"),
    [({"outcome": "ok"}, ValueError), ({"kind": "update"}, ValueError),
     ({"canister": 5}, TypeError), ({"caller": b"\x01"}, TypeError), ({"method": 3}, TypeError)],
    ids=repr,
)  # fmt: skip
def test_calls_refuses_a_filter_that_could_match_nothing(
    ic: IC, counter: CanisterProxy, filters: dict[str, Any], error: type[Exception]
) -> None:
    """A mistyped filter would otherwise answer an empty list, which reads as "no such call"."""
    counter.inc(1)
    with pytest.raises(error):
        ic.trace.calls(**filters)


def test_the_filters_kinds_are_the_kinds_messages_have() -> None:
    assert set(KINDS) == {INGRESS, INGRESS_QUERY, CALL, TIMER, HOOK}
    assert set(OUTCOMES) == {"reply", "reject", "trap", "pending"}


@pytest.mark.parametrize("n", [True, 1.5, "2"], ids=repr)
def test_last_refuses_what_is_not_a_count(ic: IC, counter: CanisterProxy, n: Any) -> None:
    counter.inc(1)
    with pytest.raises(TypeError):
        ic.trace.last(n)


def test_tree_renders_the_last_ingress_message_as_an_indented_call_tree(ic: IC) -> None:
    counter, middle, top = ic.deploy(Counter), ic.deploy(Relay), ic.deploy(Relay)
    counter.inc(100)  # an earlier message: not part of the tree
    top.bump_call_bump(middle.id, "relay", (counter.id, "inc", (5,)))
    lines = str(ic.trace.tree()).splitlines()
    assert len(lines) == 3
    assert "bump_call_bump" in lines[0] and str(top.id) in lines[0]
    assert ".relay(" in lines[1] and str(middle.id) in lines[1]
    assert ".inc(" in lines[2] and str(counter.id) in lines[2]
    indents = [len(line) - len(line.lstrip()) for line in lines]
    assert indents[0] < indents[1] < indents[2]
    assert "-> 105" in lines[2]


def test_tree_shows_failures_inside_the_call_tree(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    relay.bump_call_catch(counter.id, "inc_then_trap", (1,))
    lines = str(ic.trace.tree()).splitlines()
    assert len(lines) == 2
    assert "bump_call_catch" in lines[0]
    assert "inc_then_trap" in lines[1] and "trap" in lines[1] and "IC0503" in lines[1]


def test_tree_has_an_html_form_and_an_empty_form() -> None:
    trace = Trace()
    assert str(trace.tree()) == "(no messages recorded)"
    ic = IC()
    ic.deploy(Counter).inc(1)
    tree = ic.trace.tree()
    html_text = tree._repr_html_()
    assert "<details" in html_text and "<summary>" in html_text
    assert "inc(1)" in html_text
    assert repr(tree) == str(tree)


# -- trace: switching off, bounding, clearing ------------------------------------------------------


def test_recording_can_be_turned_off_and_calls_still_work(ic: IC, counter: CanisterProxy) -> None:
    recorded = len(ic.trace)
    ic.trace.enabled = False
    assert counter.inc(4) == 4
    rejected(counter.inc_then_trap, 1)
    assert len(ic.trace) == recorded
    ic.trace.enabled = True
    counter.inc(1)
    assert len(ic.trace) == recorded + 1


def test_an_ic_can_be_created_with_recording_off() -> None:
    ic = IC(trace=False)
    counter = ic.deploy(Counter)
    assert counter.inc(1) == 1
    assert len(ic.trace) == 0


def test_the_trace_is_bounded_and_keeps_the_newest_entries() -> None:
    trace = Trace(capacity=3)
    ic = IC()
    anon = Principal.anonymous()
    for i in range(5):
        trace.open(None, 1, "ingress", anon, MANAGEMENT_ID, f"m{i}", (), {}, ic.time)
    assert len(trace) == 3
    assert [e.method for e in trace] == ["m2", "m3", "m4"]
    assert [e.entry_id for e in trace] == [3, 4, 5], "entry ids keep counting"


def test_the_ic_trace_has_a_bound(ic: IC) -> None:
    assert ic.trace._entries.maxlen is not None


def test_clear_empties_the_trace(ic: IC, counter: CanisterProxy) -> None:
    counter.inc(1)
    assert len(ic.trace) > 0
    ic.trace.clear()
    assert len(ic.trace) == 0
    assert ic.trace.last(5) == []
    counter.inc(1)
    assert len(ic.trace) == 1


def test_the_trace_is_not_world_state(ic: IC, counter: CanisterProxy) -> None:
    with ic.anchor():
        counter.inc(1)
    assert ic.trace.last(1)[0].method == "inc"


# -- canister logs --------------------------------------------------------------------------------


def test_log_appends_records_with_index_time_and_text(ic: IC, logger: CanisterProxy) -> None:
    logger.say("hello")
    ic.advance_time(seconds=1)
    logger.say("world")
    assert ic.canister_logs(logger.id) == (
        LogRecord(0, ic.time - 10**9, "hello"),
        LogRecord(1, ic.time, "world"),
    )


def test_log_records_are_frozen(ic: IC, logger: CanisterProxy) -> None:
    logger.say("hello")
    (record,) = ic.canister_logs(logger.id)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.content = "changed"  # type: ignore[misc]


def test_a_new_canister_has_an_empty_log(ic: IC, logger: CanisterProxy) -> None:
    assert ic.canister_logs(logger.id) == ()
    assert ic.canister_logs(ic.create_canister()) == ()


def ask(ic: IC, how: str, logger: CanisterProxy, method: str, text: str) -> Any:
    """Run ``logger.method(text)`` as ``how`` says: ``"ingress query"``, ``"ingress update"``,
    or from another canister's ``"update, call"``, ``"update, query_call"`` or ``"composite
    query"``; a reject is returned as its error code."""
    if how.startswith("ingress"):
        run = ic.query_call if how == "ingress query" else ic.update_call
        try:
            return run(logger.id, method, text)
        except CallRejected as rejected:
            return rejected.error_code
    asker = ic.deploy(Asker)
    if how == "composite query":
        return asker.ask_composite(logger.id, method, text)
    return asker.ask(logger.id, method, text, how == "update, query_call")


REPLICATED = ["ingress update", "update, call", "update, query_call"]
NON_REPLICATED = ["ingress query", "composite query"]


@pytest.mark.parametrize("how", NON_REPLICATED)
def test_a_query_in_non_replicated_mode_logs_nothing(
    ic: IC, logger: CanisterProxy, how: str
) -> None:
    """The IC keeps no log of a query run by itself (nor of its trap)."""
    assert ask(ic, how, logger, "say_in_query", "lost") == 1
    assert ask(ic, how, logger, "say_in_query_then_trap", "lost too") == "IC0503"
    assert ic.canister_logs(logger.id) == ()


@pytest.mark.parametrize("how", REPLICATED)
def test_a_query_in_replicated_mode_keeps_its_log_lines(
    ic: IC, logger: CanisterProxy, how: str
) -> None:
    """A query called as an update or by a canister's update runs replicated: its lines are
    kept, as an update's are, though nothing it assigns is."""
    assert ask(ic, how, logger, "say_in_query", "kept") == 1
    assert contents(ic, logger) == ["kept"]
    assert ic.canister_logs(logger.id)[0].timestamp == ic.time


@pytest.mark.parametrize("how", REPLICATED)
def test_a_query_trapping_in_replicated_mode_keeps_its_lines_and_a_trap_record(
    ic: IC, logger: CanisterProxy, how: str
) -> None:
    assert ask(ic, how, logger, "say_in_query_then_trap", "about to trap") == "IC0503"
    lines = contents(ic, logger)
    assert lines[0] == "about to trap"
    assert lines[1].startswith("[TRAP]") and "query trapped" in lines[1]
    assert len(lines) == 2
    assert ic.state_of(logger.id) == Tally(0)


def test_a_trapped_message_keeps_its_log_lines_and_adds_a_trap_record(
    ic: IC, logger: CanisterProxy
) -> None:
    """Logs are the one thing a trap does not roll back, as on the IC."""
    err = rejected(logger.say_then_trap, "about to trap")
    assert ic.state_of(logger.id) == Tally(0)
    records = ic.canister_logs(logger.id)
    assert records[0].content == "about to trap"
    assert len(records) == 2
    assert records[1].content.startswith("[TRAP]")
    assert "logged then trapped" in records[1].content
    assert records[1].content.endswith(err.message)
    assert [r.idx for r in records] == [0, 1]


def test_a_trap_after_a_call_keeps_the_log_lines_of_both_segments(
    ic: IC, logger: CanisterProxy, counter: CanisterProxy
) -> None:
    rejected(logger.say_call_say_trap, counter.id)
    lines = contents(ic, logger)
    assert lines[:2] == ["before call", "after call"]
    assert lines[2].startswith("[TRAP]") and "trap after the call" in lines[2]
    assert len(lines) == 3


def test_an_explicit_reject_keeps_the_log(ic: IC) -> None:
    class Refuser(Canister):
        @update
        def refuse(self) -> None:
            self.log("refusing")
            raise Reject("not today")

    refuser = ic.deploy(Refuser)
    rejected(refuser.refuse)
    assert contents(ic, refuser) == ["refusing"]


def test_a_timer_can_log(ic: IC, logger: CanisterProxy) -> None:
    logger.say_in_timer(1_000)
    ic.advance_time(nanos=1_000)
    assert ic.canister_logs(logger.id) == (LogRecord(0, ic.time, "from timer"),)


def test_a_trap_in_init_is_logged_on_the_empty_canister(ic: IC) -> None:
    canister_id = ic.create_canister()
    rejected(ic.install_code, canister_id, BadInit)
    assert ic.code_of(canister_id) is None
    lines = [r.content for r in ic.canister_logs(canister_id)]
    assert len(lines) >= 1
    assert lines[-1].startswith("[TRAP]") and "init failed" in lines[-1]


def test_a_failed_upgrade_keeps_what_its_hooks_logged(ic: IC, logger: CanisterProxy) -> None:
    """The upgrade is undone, but the lines its migration wrote stay, then the trap record:
    what one needs to debug a failed migration (they used to go with the upgrade)."""
    logger.say("before")
    rejected(ic.install_code, logger.id, ChattyMigration, None, "upgrade")
    lines = contents(ic, logger)
    assert lines[:2] == ["before", "post_upgrade: migrating"]
    assert lines[2].startswith("[TRAP]") and "migration failed" in lines[2]
    assert ic.code_of(logger.id) is Logger


def test_logs_survive_an_upgrade(ic: IC, logger: CanisterProxy) -> None:
    logger.say("v1")
    ic.install_code(logger.id, LoggerV2, mode="upgrade")
    logger.say("v2")
    assert contents(ic, logger) == ["v1", "v2"]
    assert [r.idx for r in ic.canister_logs(logger.id)] == [0, 1]


def test_a_reinstall_purges_the_log(ic: IC, logger: CanisterProxy) -> None:
    logger.say("old")
    ic.install_code(logger.id, Logger, mode="reinstall")
    assert ic.canister_logs(logger.id) == ()
    logger.say("new")
    assert contents(ic, logger) == ["new"]


def test_uninstall_purges_the_log(ic: IC, logger: CanisterProxy) -> None:
    logger.say("old")
    ic.update_call(MANAGEMENT_ID, "uninstall_code", logger.id)
    assert ic.canister_logs(logger.id) == ()


def test_the_log_is_bounded_and_indices_keep_counting(ic: IC, logger: CanisterProxy) -> None:
    extra = 2 * LOG_CAPACITY + 7
    logger.say_many(extra)
    records = ic.canister_logs(logger.id)
    assert len(records) == LOG_CAPACITY
    assert records[0] == LogRecord(extra - LOG_CAPACITY, ic.time, f"line {extra - LOG_CAPACITY}")
    assert records[-1].idx == extra - 1
    assert [r.idx for r in records] == list(range(extra - LOG_CAPACITY, extra))
    logger.say("one more")
    assert ic.canister_logs(logger.id)[-1] == LogRecord(extra, ic.time, "one more")
    assert len(ic.canister_logs(logger.id)) == LOG_CAPACITY


def test_logs_are_world_state_restored_by_anchors(ic: IC, logger: CanisterProxy) -> None:
    logger.say("kept")
    with ic.anchor():
        logger.say("dropped")
        assert contents(ic, logger) == ["kept", "dropped"]
    assert contents(ic, logger) == ["kept"]


def test_logs_of_an_unknown_canister_are_bad_use(ic: IC) -> None:
    with pytest.raises(BadUse):
        ic.canister_logs(Principal.from_canister_index(12345))


def test_logs_of_a_deleted_canister_are_bad_use(ic: IC, logger: CanisterProxy) -> None:
    ic.stop_canister(logger.id)
    ic.delete_canister(logger.id)
    with pytest.raises(BadUse):
        ic.canister_logs(logger.id)


def test_rewinding_the_trace_forgets_later_entries_and_numbers_on_from_the_mark(
    ic: IC, counter: CanisterProxy
) -> None:
    counter.inc()
    mark = ic.trace.mark()
    counter.inc()
    ids_after_mark = [entry.entry_id for entry in ic.trace]
    ic.trace.enabled = False
    counter.inc()
    ic.trace.rewind(mark)
    assert ic.trace.enabled
    assert len(ic.trace) == len(ids_after_mark) - 1
    counter.inc()
    assert [entry.entry_id for entry in ic.trace] == ids_after_mark
