"""Canister proxies, callers, ingress entry points and ``Ok`` / ``Err`` (spec ic.md §3.5, §10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto import (
    IC,
    CallRejected,
    Canister,
    CanisterProxy,
    Err,
    InvalidArguments,
    Ok,
    Principal,
    RejectCode,
    Result,
    UnwrapError,
    query,
    update,
)
from icto.ic import cycles as costs
from icto.ic.router import MANAGEMENT_ID
from tests.ic.toys import Counter, Relay, Tally


def rejected(fn: Any, *args: Any, **kwargs: Any) -> CallRejected:
    with pytest.raises(CallRejected) as info:
        fn(*args, **kwargs)
    return info.value


class CounterV2(Counter):
    VERSION = "2.0.0"

    @update
    def double(self) -> int:
        self.state = Tally(self.state.n * 2)
        return self.state.n


class Divider(Canister):
    """Returns results instead of rejecting, the Candid ``variant { Ok; Err }`` way."""

    VERSION = "0.3.1"

    def init(self, arg: Any) -> None:
        self.state = Tally(0)

    @query
    def divide(self, a: int, b: int) -> Result[int, str]:
        if b == 0:
            return Err("division by zero")
        return Ok(a // b)

    @update
    def note(self, text: str, *, times: int = 1) -> int:
        self.state = Tally(self.state.n + times)
        return self.state.n

    @update
    def maybe(self, who: Principal | None = None) -> str:
        return "nobody" if who is None else str(who)

    def _helper(self) -> int:
        return 42

    def helper(self) -> int:
        return 43


@pytest.fixture
def counter(ic: IC) -> CanisterProxy:
    return ic.deploy(Counter, 10)


# -- proxies: calling -----------------------------------------------------------------------------


def test_a_proxy_sends_updates_that_change_state(ic: IC, counter: CanisterProxy) -> None:
    assert counter.inc(5) == 15
    assert ic.state_of(counter.id) == Tally(15)


def test_a_proxy_sends_queries_that_are_free_and_change_nothing(
    ic: IC, counter: CanisterProxy
) -> None:
    before = ic.snapshot()
    assert counter.inc_in_query(5) == 15
    assert counter.get() == 10
    assert ic.snapshot() is before
    assert ic.trace.last(1)[0].kind == "query"


def test_a_proxy_from_actor_behaves_like_the_deployed_one(ic: IC, counter: CanisterProxy) -> None:
    other = ic.actor(counter.id)
    assert other.inc(1) == 11
    assert counter.get() == 11
    assert ic.actor(str(counter.id)).get() == 11
    assert ic.actor(counter).get() == 11


def test_a_proxy_passes_keyword_arguments(ic: IC) -> None:
    divider = ic.deploy(Divider)
    assert divider.note("x", times=3) == 3


def test_a_proxy_method_carries_the_canister_methods_name_and_doc(ic: IC) -> None:
    relay = ic.deploy(Relay)
    assert relay.relay.__name__ == "relay"
    assert relay.relay.__doc__ == Relay.relay.__doc__
    assert relay.relay.__doc__ is not None and "Call ``target" in relay.relay.__doc__


def test_a_proxy_is_immutable(counter: CanisterProxy, alice: Principal) -> None:
    with pytest.raises(AttributeError):
        counter.id = alice  # type: ignore[misc]


# -- proxies: callers ----------------------------------------------------------------------------


def test_the_default_ingress_caller_is_anonymous(ic: IC, counter: CanisterProxy) -> None:
    assert counter.whoami() == Principal.anonymous()
    assert ic.default_caller == Principal.anonymous()
    assert counter.caller == Principal.anonymous()


def test_as_caller_on_a_proxy_sets_the_caller(
    counter: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    as_alice = counter.as_caller(alice)
    assert as_alice.whoami() == alice
    assert as_alice.caller == alice
    assert as_alice.as_caller(bob).whoami() == bob
    assert as_alice.caller_of_query() == alice
    assert counter.whoami() == Principal.anonymous(), "the original proxy is unchanged"


def test_actor_takes_a_caller(ic: IC, counter: CanisterProxy, alice: Principal) -> None:
    assert ic.actor(counter.id, caller=alice).whoami() == alice


def test_with_as_caller_sets_the_default_caller_for_a_block(
    ic: IC, counter: CanisterProxy, alice: Principal
) -> None:
    with ic.as_caller(alice) as who:
        assert who == alice
        assert counter.whoami() == alice
        assert ic.update_call(counter.id, "whoami") == alice
        assert ic.query_call(counter.id, "caller_of_query") == alice
    assert counter.whoami() == Principal.anonymous()


def test_as_caller_blocks_nest(
    ic: IC, counter: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    with ic.as_caller(alice):
        with ic.as_caller(bob):
            assert counter.whoami() == bob
        assert counter.whoami() == alice
    assert counter.whoami() == Principal.anonymous()


def test_as_caller_blocks_left_out_of_order_each_withdraw_their_own_caller(
    ic: IC, counter: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """Leaving alice's block while bob's is still open keeps bob; leaving bob's then leaves
    nobody's (a block withdraws its own caller, not the latest one)."""
    outer, inner = ic.as_caller(alice), ic.as_caller(bob)
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)
    assert counter.whoami() == bob
    inner.__exit__(None, None, None)
    assert ic.default_caller == Principal.anonymous()
    assert counter.whoami() == Principal.anonymous()


def test_an_as_caller_block_held_open_by_a_generator_withdraws_only_its_own_caller(
    ic: IC, counter: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    def as_alice() -> Iterator[Principal]:
        with ic.as_caller(alice):
            yield counter.whoami()

    steps = as_alice()
    assert next(steps) == alice
    with ic.as_caller(bob):
        steps.close()  # alice's block ends inside bob's
        assert counter.whoami() == bob
    assert counter.whoami() == Principal.anonymous()


def test_as_caller_is_restored_after_an_exception(
    ic: IC, counter: CanisterProxy, alice: Principal
) -> None:
    with pytest.raises(CallRejected), ic.as_caller(alice):
        counter.inc_then_trap(1)
    assert counter.whoami() == Principal.anonymous()
    assert ic.default_caller == Principal.anonymous()


def test_an_explicit_caller_wins_over_the_block(
    ic: IC, counter: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    with ic.as_caller(alice):
        assert ic.update_call(counter.id, "whoami", caller=bob) == bob
        assert counter.as_caller(bob).whoami() == bob


def test_as_caller_refuses_a_non_principal(ic: IC) -> None:
    with pytest.raises(TypeError), ic.as_caller("2vxsx-fae"):  # type: ignore[arg-type]
        pass
    assert ic.default_caller == Principal.anonymous()


def test_as_caller_is_not_world_state(ic: IC, counter: CanisterProxy, alice: Principal) -> None:
    """Leaving an anchor does not reset the default caller."""
    with ic.as_caller(alice):
        with ic.anchor():
            assert counter.whoami() == alice
        assert counter.whoami() == alice
    snap = ic.snapshot()
    with ic.as_caller(alice):
        ic.restore(snap)
        assert counter.whoami() == alice


def test_inter_canister_calls_carry_the_calling_canister_not_the_user(
    ic: IC, counter: CanisterProxy, alice: Principal
) -> None:
    relay = ic.deploy(Relay)
    with ic.as_caller(alice):
        assert relay.relay(counter.id, "whoami") == relay.id


# -- proxies: introspection ------------------------------------------------------------------------


def test_a_proxy_reprs_with_class_id_and_version(ic: IC, counter: CanisterProxy) -> None:
    assert repr(counter) == "<Canister Counter lxzze-o7777-77777-aaaaa-cai v1.0.0>"
    assert str(counter.id) == "lxzze-o7777-77777-aaaaa-cai"
    assert repr(ic.deploy(Divider)).endswith(" v0.3.1>")
    html_text = counter._repr_html_()
    assert "Counter" in html_text and "&lt;" in html_text


def test_a_proxy_of_an_empty_canister_says_so(ic: IC) -> None:
    empty = ic.actor(ic.create_canister())
    assert repr(empty) == f"<Canister (empty) {empty.id}>"
    with pytest.raises(AttributeError):
        empty.get  # noqa: B018


def test_a_proxy_says_when_its_canister_is_stopped_deleted_or_never_was(
    ic: IC, counter: CanisterProxy
) -> None:
    ic.stop_canister(counter.id)
    assert repr(counter) == f"<Canister Counter {counter.id} v1.0.0 stopped>"
    empty = ic.actor(ic.create_canister())
    ic.stop_canister(empty.id)
    assert repr(empty) == f"<Canister (empty) {empty.id} stopped>"
    ic.delete_canister(counter.id)
    assert repr(counter) == f"<Canister (deleted) {counter.id}>"
    never = ic.actor(Principal.from_canister_index(999))
    assert repr(never) == f"<Canister (no such canister) {never.id}>"
    assert "(no such canister)" in never._repr_html_()


def test_an_unknown_attribute_raises_attribute_error_naming_it(counter: CanisterProxy) -> None:
    with pytest.raises(AttributeError, match="no_such_method"):
        counter.no_such_method  # noqa: B018
    assert not hasattr(counter, "no_such_method")


@pytest.mark.parametrize("name", ["_helper", "helper", "init", "pre_upgrade", "state", "log"])
def test_private_and_unmarked_attributes_are_not_methods(ic: IC, name: str) -> None:
    divider = ic.deploy(Divider)
    with pytest.raises(AttributeError, match=name):
        getattr(divider, name)


def test_dir_lists_the_public_methods(ic: IC, counter: CanisterProxy) -> None:
    listed = set(dir(counter))
    assert set(Counter.__icto_methods__) <= listed
    assert {"inc", "get", "whoami", "inc_in_query"} <= listed
    assert not {"init", "pre_upgrade", "post_upgrade", "state", "log"} & listed
    assert not {"_helper", "helper"} & set(dir(ic.deploy(Divider)))


def test_a_proxy_stays_valid_across_an_upgrade(ic: IC, counter: CanisterProxy) -> None:
    assert not hasattr(counter, "double")
    ic.install_code(counter.id, CounterV2, mode="upgrade")
    assert counter.double() == 20
    assert "double" in dir(counter)
    assert repr(counter) == f"<Canister CounterV2 {counter.id} v2.0.0>"


def test_proxy_equality_and_hash(
    ic: IC, counter: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    same = ic.actor(counter.id)
    assert same == counter and hash(same) == hash(counter)
    assert counter.as_caller(alice) == ic.actor(counter.id, caller=alice)
    assert hash(counter.as_caller(alice)) == hash(ic.actor(counter.id, caller=alice))
    assert counter.as_caller(alice) != counter.as_caller(bob)
    assert counter.as_caller(alice) != counter
    assert ic.deploy(Counter) != counter
    assert IC().actor(counter.id) != counter, "proxies on different ICs differ"
    assert counter != counter.id
    assert len({counter, same, counter.as_caller(alice)}) == 2


def test_a_proxy_refuses_a_non_principal_caller(ic: IC, counter: CanisterProxy) -> None:
    with pytest.raises(TypeError):
        counter.as_caller("alice")  # type: ignore[arg-type]


# -- ingress entry points ------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["principal", "proxy", "text"])
def test_update_call_and_query_call_accept_principal_proxy_or_text(
    ic: IC, counter: CanisterProxy, form: str
) -> None:
    target = {"principal": counter.id, "proxy": counter, "text": str(counter.id)}[form]
    assert ic.update_call(target, "inc", 2) == 12
    assert ic.query_call(target, "get") == 12


def test_a_target_of_the_wrong_type_raises_type_error(ic: IC) -> None:
    before = ic.snapshot()
    with pytest.raises(TypeError):
        ic.update_call(42, "inc")  # type: ignore[arg-type]
    assert ic.snapshot() is before


def test_query_call_refuses_an_update_method(ic: IC, counter: CanisterProxy) -> None:
    before = ic.snapshot()
    err = rejected(ic.query_call, counter.id, "inc", 1)
    assert (err.reject_code, err.error_code) == (RejectCode.CANISTER_ERROR, "IC0536")
    assert ic.snapshot() is before


def test_update_call_on_a_query_runs_and_drops_writes(ic: IC, counter: CanisterProxy) -> None:
    assert ic.update_call(counter.id, "inc_in_query", 4) == 14
    assert counter.get() == 10


@pytest.mark.parametrize("method", ["no_such_method", "init", "pre_upgrade", "_helper", "state"])
@pytest.mark.parametrize("entry", ["update_call", "query_call"])
def test_an_unknown_or_non_public_method_is_5_ic0536_and_changes_nothing(
    ic: IC, method: str, entry: str
) -> None:
    divider = ic.deploy(Divider)
    before = ic.snapshot()
    err = rejected(getattr(ic, entry), divider.id, method)
    assert (err.reject_code, err.error_code) == (RejectCode.CANISTER_ERROR, "IC0536")
    assert (err.canister_id, err.method) == (divider.id, method)
    assert ic.snapshot() is before


def test_an_unknown_canister_is_3_ic0301(ic: IC, alice: Principal) -> None:
    before = ic.snapshot()
    for target in (Principal.from_canister_index(999), alice):
        err = rejected(ic.update_call, target, "inc", 1)
        assert (err.reject_code, err.error_code) == (RejectCode.DESTINATION_INVALID, "IC0301")
        assert err.canister_id == target
        err = rejected(ic.query_call, target, "get")
        assert err.reject_code is RejectCode.DESTINATION_INVALID
    assert ic.snapshot() is before


@pytest.mark.parametrize(
    ("method", "args", "kwargs"),
    [
        ("inc", ("5",), {}),
        ("inc", (True,), {}),
        ("inc", (1.5,), {}),
        ("inc", (1, 2), {}),
        ("inc", (), {"by": "x"}),
        ("inc", (), {"amount": 1}),
        ("inc", (1,), {"by": 1}),
        ("inc_then_trap", (), {}),
        ("whoami", (1,), {}),
        ("get", (1,), {}),
        ("inc_in_query", ("1",), {}),
    ],
)
def test_arguments_that_do_not_fit_raise_invalid_arguments_and_change_nothing(
    ic: IC, counter: CanisterProxy, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    before = ic.snapshot()
    with pytest.raises(InvalidArguments) as info:
        getattr(counter, method)(*args, **kwargs)
    err = info.value
    assert isinstance(err, CallRejected) and isinstance(err, TypeError)
    assert (err.reject_code, err.error_code) == (RejectCode.CANISTER_ERROR, "IC0503")
    assert (err.canister_id, err.method) == (counter.id, method)
    assert method in err.message
    assert ic.snapshot() is before


def test_invalid_arguments_name_the_argument_and_the_expected_type(
    counter: CanisterProxy,
) -> None:
    with pytest.raises(InvalidArguments, match=r"'by'.*int.*str") as info:
        counter.inc("5")
    assert "'5'" in info.value.message


def test_keyword_only_and_optional_arguments_are_checked(ic: IC) -> None:
    divider = ic.deploy(Divider)
    before = ic.snapshot()
    with pytest.raises(InvalidArguments):
        divider.note("x", 3)  # times is keyword-only
    with pytest.raises(InvalidArguments):
        divider.note("x", times="3")
    with pytest.raises(InvalidArguments):
        divider.maybe("not a principal")
    assert ic.snapshot() is before
    assert divider.maybe() == "nobody"
    assert divider.maybe(None) == "nobody"


def test_bad_arguments_from_a_canister_reject_its_call(ic: IC, counter: CanisterProxy) -> None:
    relay = ic.deploy(Relay)
    assert relay.bump_call_catch(counter.id, "inc", ("5",)) == "CANISTER_ERROR IC0503"
    assert counter.get() == 10


def test_the_ingress_method_must_be_a_string(ic: IC, counter: CanisterProxy) -> None:
    with pytest.raises(TypeError):
        ic.update_call(counter.id, 1)  # type: ignore[arg-type]


def test_update_calls_through_a_proxy_are_charged_like_any_ingress(
    ic: IC, counter: CanisterProxy
) -> None:
    before = ic.cycles_balance(counter.id)
    counter.inc(1)
    counter.get()
    assert ic.cycles_balance(counter.id) == (before - costs.UPDATE_MESSAGE - costs.INGRESS_MESSAGE)


# -- Ok / Err ------------------------------------------------------------------------------------


def test_ok_unwraps_to_its_value() -> None:
    res = Ok(5)
    assert res.unwrap() == 5
    assert res.value == 5
    assert res.is_ok and not res.is_err


def test_err_unwrap_raises_unwrap_error_carrying_the_error() -> None:
    res = Err({"code": 7})
    assert res.is_err and not res.is_ok
    with pytest.raises(UnwrapError) as info:
        res.unwrap()
    assert info.value.payload == {"code": 7}
    assert "7" in str(info.value)
    assert res.unwrap_err() == {"code": 7}


def test_unwrap_err_on_ok_raises_carrying_the_value() -> None:
    with pytest.raises(UnwrapError) as info:
        Ok("v").unwrap_err()
    assert info.value.payload == "v"


def describe(res: Result[int, str]) -> str:
    match res:
        case Ok(value):
            return f"ok {value}"
        case Err(error):
            return f"err {error}"
    return "neither"


def test_results_are_pattern_matchable() -> None:
    assert describe(Ok(3)) == "ok 3"
    assert describe(Err("boom")) == "err boom"
    match Ok(Err(1)):
        case Ok(Err(inner)):
            assert inner == 1
        case _:
            pytest.fail("nested pattern did not match")


def test_results_compare_and_hash_by_value() -> None:
    assert Ok(1) == Ok(1)
    assert Ok(1) != Ok(2)
    assert Ok(1) != Err(1)
    assert Err("x") == Err("x")
    assert hash(Ok((1, 2))) == hash(Ok((1, 2)))
    assert len({Ok(1), Ok(1), Err(1)}) == 2


def test_results_are_frozen() -> None:
    res = Ok(1)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        res.value = 2  # type: ignore[misc]
    err = Err("e")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        err.error = "f"  # type: ignore[misc]


def test_results_repr_as_constructors() -> None:
    assert repr(Ok(1)) == "Ok(1)"
    assert repr(Err("no")) == "Err('no')"
    assert repr(Ok(Err(None))) == "Ok(Err(None))"


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.integers(), st.text(max_size=20), st.tuples(st.integers(), st.booleans())))
def test_ok_and_err_round_trip_any_value(value: Any) -> None:
    assert Ok(value).unwrap() == value
    assert Err(value).unwrap_err() == value
    assert Ok(value) == Ok(value) and Err(value) == Err(value)
    assert Ok(value) != Err(value)
    assert eval(repr(Ok(value))) == Ok(value)


def test_results_travel_through_canister_calls(ic: IC) -> None:
    divider = ic.deploy(Divider)
    assert divider.divide(7, 2) == Ok(3)
    assert divider.divide(7, 0) == Err("division by zero")
    assert describe(divider.divide(9, 3)) == "ok 3"
    relay = ic.deploy(Relay)
    assert relay.relay(divider.id, "divide", (1, 0)) == Err("division by zero")


def test_the_management_canister_is_an_actor_like_any_other() -> None:
    ic = IC()
    operator, stranger = Principal.from_name("operator"), Principal.from_name("stranger")
    canister = ic.create_canister(caller=operator)
    management = ic.actor(MANAGEMENT_ID, operator)
    assert "canister_status" in dir(management) and "raw_rand" in dir(management)
    assert tuple(management.canister_status(canister).controllers) == (operator,)
    management.stop_canister(canister)
    assert ic.is_stopped(canister)
    refusal = rejected(lambda: ic.actor(MANAGEMENT_ID, stranger).canister_status(canister))
    assert refusal.error_code == "IC0512"
    assert repr(management) == "<Canister management aaaaa-aa>"
    with pytest.raises(AttributeError):
        _ = management.no_such_method


def test_results_tell_their_side_by_property() -> None:
    assert Ok(1).is_ok is True and Ok(1).is_err is False
    assert Err("e").is_ok is False and Err("e").is_err is True
