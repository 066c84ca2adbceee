"""Fault injection (spec ic.md §7): ``ic.faults.reject`` and ``ic.faults.trap``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto import (
    IC,
    MANAGEMENT_ID,
    CallRejected,
    CanisterProxy,
    FaultRule,
    Principal,
    RejectCode,
)
from icto.ic import cycles as costs
from icto.ic.errors import DEFAULT_ERROR_CODES, ErrorCode
from tests.ic.toys import Counter, Relay


def rejected(fn: Any, *args: Any, **kwargs: Any) -> CallRejected:
    with pytest.raises(CallRejected) as info:
        fn(*args, **kwargs)
    return info.value


@pytest.fixture
def counter(ic: IC) -> CanisterProxy:
    return ic.deploy(Counter, 0)


@pytest.fixture
def relay(ic: IC) -> CanisterProxy:
    return ic.deploy(Relay)


# -- reject: the callee never runs -------------------------------------------------------------


def test_a_reject_fault_rejects_an_ingress_call_before_the_callee_runs(
    ic: IC, counter: CanisterProxy
) -> None:
    balance = ic.cycles_balance(counter.id)
    ic.faults.reject(counter.id, "inc", message="network down")
    err = rejected(counter.inc, 5)
    assert err.reject_code is RejectCode.SYS_TRANSIENT
    assert err.error_code == DEFAULT_ERROR_CODES[RejectCode.SYS_TRANSIENT]
    assert err.message == "network down"
    assert err.canister_id == counter.id
    assert err.method == "inc"
    assert counter.get() == 0
    assert ic.cycles_balance(counter.id) == balance, "a rejected callee is not charged"


def test_a_reject_fault_changes_nothing_in_the_world(ic: IC, counter: CanisterProxy) -> None:
    ic.faults.reject(counter.id)
    before = ic.snapshot()
    rejected(counter.inc, 5)
    assert ic.snapshot() is before


def test_a_reject_fault_matches_inter_canister_calls(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    balance = ic.cycles_balance(counter.id)
    ic.faults.reject(counter.id, "inc")
    assert relay.bump_call_catch(counter.id, "inc", (5,)) == "SYS_TRANSIENT IC0201"
    assert counter.get() == 0
    assert ic.cycles_balance(counter.id) == balance


def test_an_injected_reject_keeps_the_callers_state_committed_before_the_call(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    """The call ends the caller's segment: +1 is committed; the reject handler adds +100."""
    ic.faults.reject(counter.id, "inc")
    relay.bump_call_catch(counter.id, "inc", (1,))
    assert relay.get() == 101


def test_an_injected_reject_the_caller_does_not_catch_traps_only_the_later_segment(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    ic.faults.reject(counter.id, "inc", code=RejectCode.SYS_FATAL)
    err = rejected(relay.bump_call_bump, counter.id, "inc", (1,))
    assert err.reject_code is RejectCode.CANISTER_ERROR
    assert err.error_code == "IC0503"
    assert err.canister_id == relay.id
    assert relay.get() == 1, "the bump before the call was committed, the one after never ran"
    assert counter.get() == 0


def test_only_the_matching_call_in_a_chain_is_rejected(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    """A rule on the callee does not hit the ingress message to the relay."""
    rule = ic.faults.reject(counter.id)
    relay.bump_call_catch(counter.id, "inc", (1,))
    assert rule.matched == 1
    assert rule.fired == 1


# -- trap: the callee runs, then traps ----------------------------------------------------------


def test_a_trap_fault_runs_the_callee_then_rolls_its_changes_back(
    ic: IC, counter: CanisterProxy
) -> None:
    balance = ic.cycles_balance(counter.id)
    ic.faults.trap(counter.id, "inc", message="boom")
    err = rejected(counter.inc, 5)
    assert err.reject_code is RejectCode.CANISTER_ERROR
    assert err.error_code == "IC0503"
    assert "boom" in err.message
    assert counter.get() == 0
    assert (
        ic.cycles_balance(counter.id) == balance - costs.UPDATE_MESSAGE - costs.INGRESS_MESSAGE
    ), "the callee ran, so it paid for the execution"


def test_a_trap_fault_on_the_callee_of_an_inter_canister_call(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    ic.faults.trap(counter.id, "inc")
    assert relay.bump_call_catch(counter.id, "inc", (5,)) == "CANISTER_ERROR IC0503"
    assert counter.get() == 0
    assert relay.get() == 101


def test_a_trap_fault_on_a_caller_rolls_back_only_its_last_segment(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    """As a trap in a callback: the bump before the call and the callee's change stay."""
    ic.faults.trap(relay.id, "bump_call_bump")
    err = rejected(relay.bump_call_bump, counter.id, "inc", (5,))
    assert err.error_code == "IC0503"
    assert counter.get() == 5
    assert relay.get() == 1


def test_a_trap_fault_overrides_the_callees_own_reject(ic: IC, counter: CanisterProxy) -> None:
    """The injected trap comes after the method ran, so it wins over the method's ``Reject``
    (on the IC, a trap after ``msg_reject`` discards the reject and rolls the message back)."""
    rule = ic.faults.trap(counter.id, "inc_then_reject")
    err = rejected(counter.inc_then_reject, 5)
    assert ic.trace.last(1)[0].injected is True
    assert (err.reject_code, err.error_code) == (RejectCode.CANISTER_ERROR, "IC0503")
    assert counter.get() == 0
    assert rule.fired == 1


def test_a_trap_fault_on_a_query(ic: IC, counter: CanisterProxy) -> None:
    ic.faults.trap(counter.id, "get")
    err = rejected(counter.get)
    assert (err.reject_code, err.error_code) == (RejectCode.CANISTER_ERROR, "IC0503")
    assert counter.get() == 0


# -- matching ---------------------------------------------------------------------------------


def test_matching_by_canister_only(ic: IC) -> None:
    a, b = ic.deploy(Counter), ic.deploy(Counter)
    ic.faults.reject(canister=a.id, times=None)
    rejected(a.inc, 1)
    rejected(a.get)
    assert b.inc(1) == 1
    assert b.get() == 1


@pytest.mark.parametrize("form", ["proxy", "text", "principal"])
@pytest.mark.parametrize("kind", ["reject", "trap"])
def test_a_rules_canister_is_named_as_ic_actor_names_it(ic: IC, kind: str, form: str) -> None:
    """A proxy, principal text or a ``Principal``, as ``ic.actor`` and ``ic.trace.calls`` take
    it; the rule keeps the ``Principal``."""
    a, b = ic.deploy(Counter), ic.deploy(Counter)
    named = {"proxy": a, "text": a.id.to_text(), "principal": a.id}[form]
    rule = getattr(ic.faults, kind)(canister=named, times=None)
    assert rule.canister == a.id and type(rule.canister) is Principal
    rejected(a.inc, 1)
    rejected(a.get)
    assert b.inc(1) == 1


def test_matching_by_method_only(ic: IC) -> None:
    a, b = ic.deploy(Counter), ic.deploy(Counter)
    ic.faults.reject(method="inc", times=None)
    rejected(a.inc, 1)
    rejected(b.inc, 1)
    assert a.get() == 0
    assert a.whoami() == Principal.anonymous()


def test_matching_by_canister_and_method(ic: IC) -> None:
    a, b = ic.deploy(Counter), ic.deploy(Counter)
    ic.faults.reject(a.id, "inc", times=None)
    rejected(a.inc, 1)
    assert a.whoami() == Principal.anonymous()
    assert b.inc(1) == 1


def test_matching_everything(ic: IC, counter: CanisterProxy) -> None:
    """With neither canister nor method, every call matches, management calls included."""
    ic.faults.reject(times=None)
    rejected(counter.inc, 1)
    rejected(counter.get)
    rejected(ic.create_canister)
    ic.faults.clear()
    assert counter.inc(1) == 1


def test_ingress_and_inter_canister_calls_count_as_matches_alike(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    rule = ic.faults.reject(counter.id, "inc", after=1)
    counter.inc(1)  # ingress: skipped (after=1)
    assert relay.bump_call_catch(counter.id, "inc", (1,)) == "SYS_TRANSIENT IC0201"
    assert (rule.matched, rule.fired) == (2, 1)
    assert counter.get() == 1


# -- after / times / lifetime --------------------------------------------------------------------


def test_after_skips_the_first_matches(ic: IC, counter: CanisterProxy) -> None:
    rule = ic.faults.reject(counter.id, "inc", after=2)
    assert counter.inc(1) == 1
    assert counter.inc(1) == 2
    rejected(counter.inc, 1)
    assert counter.inc(1) == 3
    assert (rule.matched, rule.fired) == (3, 1)


def test_times_fires_that_many_times_then_stops(ic: IC, counter: CanisterProxy) -> None:
    rule = ic.faults.reject(counter.id, times=3)
    for _ in range(3):
        rejected(counter.inc, 1)
    assert counter.inc(1) == 1
    assert rule.fired == 3
    assert rule.exhausted
    assert len(ic.faults) == 0, "an exhausted rule removes itself"


def test_after_and_times_apply_to_trap_faults(ic: IC, counter: CanisterProxy) -> None:
    rule = ic.faults.trap(counter.id, "inc", after=1, times=2)
    assert counter.inc(1) == 1
    assert rejected(counter.inc, 1).error_code == "IC0503"
    assert rejected(counter.inc, 1).error_code == "IC0503"
    assert counter.inc(1) == 2
    assert (rule.matched, rule.fired) == (3, 2)


def test_times_none_fires_forever(ic: IC, counter: CanisterProxy) -> None:
    rule = ic.faults.reject(counter.id, "inc", times=None)
    for _ in range(50):
        rejected(counter.inc, 1)
    assert (rule.matched, rule.fired) == (50, 50)
    assert not rule.exhausted
    assert counter.get() == 0
    assert len(ic.faults) == 1


@settings(max_examples=60, deadline=None)
@given(
    after=st.integers(0, 4),
    times=st.one_of(st.none(), st.integers(1, 4)),
    calls=st.integers(0, 10),
)
def test_exactly_the_calls_in_the_window_after_times_are_rejected(
    after: int, times: int | None, calls: int
) -> None:
    ic = IC(trace=False)
    counter = ic.deploy(Counter, 0)
    rule = ic.faults.reject(counter.id, "inc", after=after, times=times)
    outcomes = []
    for _ in range(calls):
        try:
            counter.inc(1)
            outcomes.append("ok")
        except CallRejected:
            outcomes.append("rejected")
    last = None if times is None else after + times
    expected = ["rejected" if i > after and (last is None or i <= last) else "ok"
                for i in range(1, calls + 1)]  # fmt: skip
    assert outcomes == expected
    assert rule.fired == expected.count("rejected")
    assert counter.get() == expected.count("ok")


def test_a_rule_is_a_context_manager_that_removes_itself(ic: IC, counter: CanisterProxy) -> None:
    with ic.faults.reject(counter.id, times=None) as rule:
        assert isinstance(rule, FaultRule)
        rejected(counter.inc, 1)
        rejected(counter.inc, 1)
    assert len(ic.faults) == 0
    assert counter.inc(1) == 1
    assert rule.fired == 2


def test_a_rule_removes_itself_even_when_the_block_raises(ic: IC, counter: CanisterProxy) -> None:
    with pytest.raises(KeyError), ic.faults.trap(counter.id, times=None):
        raise KeyError("test failure")
    assert len(ic.faults) == 0
    assert counter.inc(1) == 1


def test_leaving_the_block_of_an_exhausted_rule_is_harmless(ic: IC, counter: CanisterProxy) -> None:
    other = ic.faults.reject(method="whoami", times=None)
    with ic.faults.reject(counter.id, "inc"):
        rejected(counter.inc, 1)
    assert ic.faults.rules == [other]


def test_clear_removes_every_rule(ic: IC, counter: CanisterProxy) -> None:
    ic.faults.reject(counter.id, times=None)
    ic.faults.trap(method="inc", times=None)
    assert len(ic.faults) == 2
    ic.faults.clear()
    assert len(ic.faults) == 0
    assert counter.inc(1) == 1


def test_rules_are_checked_in_installation_order(ic: IC, counter: CanisterProxy) -> None:
    first = ic.faults.reject(counter.id, code=RejectCode.SYS_FATAL)
    second = ic.faults.reject(counter.id, code=RejectCode.CANISTER_REJECT)
    assert rejected(counter.inc, 1).reject_code is RejectCode.SYS_FATAL
    assert rejected(counter.inc, 1).reject_code is RejectCode.CANISTER_REJECT
    assert (first.fired, second.fired) == (1, 1)


# -- reject codes ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(RejectCode))
def test_each_reject_code_reaches_an_ingress_caller_with_its_default_error_code(
    ic: IC, counter: CanisterProxy, code: RejectCode
) -> None:
    ic.faults.reject(counter.id, "inc", code=code)
    err = rejected(counter.inc, 1)
    assert err.reject_code is code
    assert err.error_code == DEFAULT_ERROR_CODES[code]
    assert err.error_code[3] == str(int(code)), "the hundreds digit of ICxyyy is the reject code"


@pytest.mark.parametrize("code", list(RejectCode))
def test_each_reject_code_reaches_a_calling_canister(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy, code: RejectCode
) -> None:
    ic.faults.reject(counter.id, "inc", code=code)
    reply = relay.bump_call_catch(counter.id, "inc", (1,))
    assert reply == f"{code.name} {DEFAULT_ERROR_CODES[code]}"


@pytest.mark.parametrize(
    "error_code", [None, "IC0504", ErrorCode.CANISTER_CONTRACT_VIOLATION], ids=repr
)
def test_an_injected_reject_carries_its_error_code_as_plain_text_like_every_other_reject(
    ic: IC, counter: CanisterProxy, error_code: str | None
) -> None:
    """A ``StrEnum`` member compares equal to its text, but ``type``, ``repr`` and a saved
    reply tell them apart."""
    rule = ic.faults.reject(counter.id, code=RejectCode.CANISTER_ERROR, error_code=error_code)
    err = rejected(counter.inc, 1)
    (entry,) = ic.trace.last(1)
    assert type(err.error_code) is type(entry.error_code) is type(rule.error_code) is str
    assert repr(err.error_code) == repr(str(err.error_code))
    trapped = ic.faults.trap(counter.id)
    assert type(trapped.error_code) is str
    assert type(rejected(ic.update_call, counter.id, "no_such_method").error_code) is str


@pytest.mark.parametrize("code", list(RejectCode))
def test_an_explicit_error_code_overrides_the_default(
    ic: IC, counter: CanisterProxy, code: RejectCode
) -> None:
    ic.faults.reject(counter.id, code=code, error_code="IC0999")
    err = rejected(counter.inc, 1)
    assert (err.reject_code, err.error_code) == (code, "IC0999")


def test_a_reject_code_given_as_an_int_is_accepted(ic: IC, counter: CanisterProxy) -> None:
    ic.faults.reject(counter.id, code=4)  # type: ignore[arg-type]
    assert rejected(counter.inc, 1).reject_code is RejectCode.CANISTER_REJECT


# -- trace -----------------------------------------------------------------------------------


def test_an_injected_reject_shows_in_the_trace_as_injected(ic: IC, counter: CanisterProxy) -> None:
    ic.faults.reject(counter.id, "inc", code=RejectCode.SYS_FATAL, message="injected!")
    rejected(counter.inc, 1)
    entry = ic.trace.last()[0]
    assert (entry.callee, entry.method) == (counter.id, "inc")
    assert entry.outcome == "reject"
    assert entry.injected is True
    assert entry.reject_code is RejectCode.SYS_FATAL
    assert entry.message == "injected!"
    assert entry.cycles == 0
    assert "[injected]" in entry.summary()


def test_an_injected_trap_shows_in_the_trace_as_injected(ic: IC, counter: CanisterProxy) -> None:
    ic.faults.trap(counter.id, "inc")
    rejected(counter.inc, 1)
    entry = ic.trace.last()[0]
    assert entry.outcome == "trap"
    assert entry.injected is True
    assert entry.traceback is not None and "InjectedTrap" in entry.traceback


def test_an_injected_fault_on_a_nested_call_is_marked_on_that_call_only(
    ic: IC, counter: CanisterProxy, relay: CanisterProxy
) -> None:
    ic.faults.trap(counter.id, "inc")
    relay.bump_call_catch(counter.id, "inc", (1,))
    outer, inner = ic.trace.last(2)
    assert (outer.method, outer.outcome, outer.injected) == ("bump_call_catch", "reply", False)
    assert (inner.method, inner.outcome, inner.injected) == ("inc", "trap", True)


def test_ordinary_traps_and_rejects_are_not_marked_injected(ic: IC, counter: CanisterProxy) -> None:
    rejected(counter.inc_then_trap, 1)
    rejected(counter.inc_then_reject, 1)
    trap, reject = ic.trace.last(2)
    assert (trap.outcome, trap.injected) == ("trap", False)
    assert (reject.outcome, reject.injected) == ("reject", False)


# -- faults are test settings, not world state -----------------------------------------------------


def test_anchors_do_not_remove_faults(ic: IC, counter: CanisterProxy) -> None:
    with ic.anchor():
        rule = ic.faults.reject(counter.id, times=2)
        rejected(counter.inc, 1)
    assert ic.faults.rules == [rule]
    assert rule.fired == 1
    rejected(counter.inc, 1)


def test_restoring_a_snapshot_keeps_faults(ic: IC, counter: CanisterProxy) -> None:
    snap = ic.snapshot()
    rule = ic.faults.reject(counter.id)
    ic.restore(snap)
    assert ic.faults.rules == [rule]
    rejected(counter.inc, 1)


# -- bad rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"times": 0}, ValueError),
        ({"times": -3}, ValueError),
        ({"times": 1.5}, ValueError),
        ({"after": -1}, ValueError),
        ({"after": "1"}, ValueError),
        ({"canister": "not a principal"}, ValueError),
        ({"canister": 7}, TypeError),
        ({"canister": b"\x01"}, TypeError),
        ({"method": 3}, TypeError),
        ({"times": True}, ValueError),
        ({"after": True}, ValueError),
        ({"message": None}, TypeError),
        ({"message": 7}, TypeError),
    ],
)
@pytest.mark.parametrize("kind", ["reject", "trap"])
def test_invalid_rule_arguments_raise_at_once_and_install_nothing(
    ic: IC, counter: CanisterProxy, kind: str, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        getattr(ic.faults, kind)(**kwargs)
    assert len(ic.faults) == 0
    assert counter.inc(1) == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"code": 9}, {"code": True}, {"code": "5"}, {"error_code": 123}, {"error_code": ""},
     {"error_code": "IC05"}, {"error_code": "ic0503"},
     {"error_code": "IC\u0665\u0660\u0660\u0663"}],
    ids=repr,
)  # fmt: skip
def test_an_unknown_reject_code_or_error_code_raises_and_installs_nothing(
    ic: IC, kwargs: dict[str, Any]
) -> None:
    """A rule must make the typed reject it promises: a ``RejectCode`` (not a bool, which would
    read as SYS_FATAL) and an ``IC0000``-style error code."""
    with pytest.raises(ValueError):
        ic.faults.reject(**kwargs)
    assert len(ic.faults) == 0


def test_a_custom_error_code_reaches_the_caller(ic: IC, counter: CanisterProxy) -> None:
    ic.faults.reject(counter.id, code=RejectCode.CANISTER_ERROR, error_code="IC0504")
    err = rejected(counter.inc, 1)
    assert (err.reject_code, err.error_code) == (RejectCode.CANISTER_ERROR, "IC0504")


# -- the management canister -----------------------------------------------------------------------


def test_a_reject_fault_on_the_management_canister(ic: IC) -> None:
    ic.faults.reject(MANAGEMENT_ID, "provisional_create_canister_with_cycles")
    before = ic.snapshot()
    err = rejected(ic.create_canister)
    assert err.reject_code is RejectCode.SYS_TRANSIENT
    assert err.canister_id == MANAGEMENT_ID
    assert ic.snapshot() is before, "no canister was created"
    assert ic.canister_exists(ic.create_canister())


def test_a_trap_fault_on_install_code_leaves_the_canister_empty(ic: IC) -> None:
    canister_id = ic.create_canister()
    ic.faults.trap(MANAGEMENT_ID, "install_code")
    err = rejected(ic.install_code, canister_id, Counter, 7)
    assert (err.reject_code, err.error_code) == (RejectCode.CANISTER_ERROR, "IC0503")
    assert ic.code_of(canister_id) is None
    (install,) = ic.trace.calls(method="install_code")
    assert install.injected is True
    (init,) = ic.trace.calls(kind="hook")
    assert (init.parent_id, init.outcome) == (install.entry_id, "reply"), "init ran, then the trap"
    ic.install_code(canister_id, Counter, 7)
    assert ic.query_call(canister_id, "get") == 7


def _bad_arguments(ic: IC, counter: CanisterProxy) -> tuple[CanisterProxy, Any]:
    return counter, lambda: counter.inc("five")


def _stopped(ic: IC, counter: CanisterProxy) -> tuple[CanisterProxy, Any]:
    ic.stop_canister(counter.id)
    return counter, lambda: counter.inc(1)


def _no_such_method(ic: IC, counter: CanisterProxy) -> tuple[CanisterProxy, Any]:
    return counter, lambda: ic.update_call(counter.id, "no_such_method")


def _too_few_cycles(ic: IC, counter: CanisterProxy) -> tuple[CanisterProxy, Any]:
    poor = ic.deploy(Counter, 0, cycles=costs.UPDATE_MESSAGE - 1)
    return poor, lambda: poor.inc(1)


@pytest.mark.parametrize("refusal", [_bad_arguments, _stopped, _no_such_method, _too_few_cycles])
def test_a_trap_fault_is_not_used_up_by_a_call_refused_before_the_callee_runs(
    ic: IC, counter: CanisterProxy, refusal: Any
) -> None:
    target, refused_call = refusal(ic, counter)
    rule = ic.faults.trap(target.id, message="the injected one")
    err = rejected(refused_call)
    assert "the injected one" not in err.message
    assert (rule.matched, rule.fired, len(ic.faults)) == (0, 0, 1)
    assert ic.trace.last()[0].injected is False
    if ic.is_stopped(target.id):
        ic.start_canister(target.id)
    ic.add_cycles(target.id, 10 * costs.UPDATE_MESSAGE)
    err = rejected(target.inc, 1)
    assert "the injected one" in err.message and ic.trace.last()[0].injected is True
    assert (rule.matched, rule.fired, len(ic.faults)) == (1, 1, 0)
    assert target.get() == 0


def test_a_trap_fault_is_not_used_up_by_a_callee_that_traps_by_itself(
    ic: IC, counter: CanisterProxy
) -> None:
    rule = ic.faults.trap(counter.id, message="the injected one")
    assert "trapped on purpose" in rejected(counter.inc_then_trap, 1).message
    assert (rule.fired, len(ic.faults)) == (0, 1)
    assert "the injected one" in rejected(counter.inc, 1).message
    assert (rule.fired, len(ic.faults)) == (1, 0)


def test_a_trap_fault_traps_no_more_calls_than_its_times_when_the_calls_nest(
    ic: IC, counter: CanisterProxy
) -> None:
    """The outer relay matches the rule first; the inner relay it calls matches it too, but
    the one trap is spoken for: the inner call runs (and its call commits), the outer traps."""
    outer, inner = ic.deploy(Relay), ic.deploy(Relay)
    rule = ic.faults.trap(method="relay", times=1)
    err = rejected(outer.relay, inner.id, "relay", (counter.id, "inc", (1,)))
    assert "injected trap" in err.message
    assert (rule.fired, rule.armed, len(ic.faults)) == (1, 0, 0)
    assert counter.get() == 1


def test_a_trap_fault_on_the_management_canister_waits_for_a_well_formed_call(ic: IC) -> None:
    canister_id = ic.create_canister()
    rule = ic.faults.trap(MANAGEMENT_ID, "install_code")
    err = rejected(ic.update_call, MANAGEMENT_ID, "install_code", "not install args")
    assert err.error_code != "IC0503" and rule.fired == 0
    assert rejected(ic.install_code, canister_id, Counter, 7).error_code == "IC0503"
    assert (rule.fired, len(ic.faults)) == (1, 0)


def test_a_fault_on_install_makes_deploy_leave_nothing_behind(ic: IC) -> None:
    ic.faults.reject(MANAGEMENT_ID, "install_code")
    before = ic.snapshot()
    rejected(ic.deploy, Counter)
    assert ic.snapshot() is before


def test_a_fault_on_the_management_canister_hits_canister_calls_too(
    ic: IC, relay: CanisterProxy
) -> None:
    ic.faults.reject(MANAGEMENT_ID, "raw_rand", code=RejectCode.SYS_FATAL)
    assert relay.bump_call_catch(MANAGEMENT_ID, "raw_rand") == "SYS_FATAL IC0101"
    assert relay.get() == 101


# -- mark and rewind: what the pytest plugin restores between examples ---------------------------


def test_rewinding_puts_back_the_rules_of_the_mark_with_their_counts(
    ic: IC, counter: CanisterProxy
) -> None:
    kept = ic.faults.reject(counter.id, "inc", times=2)
    rejected(counter.inc)
    mark = ic.faults.mark()
    rejected(counter.inc)  # the rule is used up and removed
    ic.faults.trap(counter.id, "get")  # a rule installed after the mark
    assert ic.faults.rules != [kept]
    ic.faults.rewind(mark)
    assert ic.faults.rules == [kept]
    assert (kept.matched, kept.fired, kept.armed) == (1, 1, 0)
    rejected(counter.inc)  # one left, as at the mark
    assert counter.inc() == 1


def test_a_rule_names_what_it_matches_the_management_canister_too(ic: IC) -> None:
    """The management canister's id is the empty principal: it is named, not shown as ``*``."""
    on_management = ic.faults.reject(MANAGEMENT_ID, "create_canister")
    anything = ic.faults.trap(times=None)
    assert repr(on_management).startswith(f"<FaultRule reject {MANAGEMENT_ID}.create_canister ")
    assert repr(anything).startswith("<FaultRule trap *.* fired 0/∞")
