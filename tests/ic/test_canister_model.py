"""What a canister class may and may not be (spec ic.md §2)."""

from __future__ import annotations

import abc
from typing import Any

import pytest

from icto import IC, CallRejected, Canister, Principal, module_hash, query, update
from icto.ic import context as ctx_names
from icto.ic.canister import describe_error
from tests.ic.toys import Counter, Tally


def test_state_is_the_only_attribute_canister_code_may_set(ic: IC) -> None:
    class Hoarder(Canister):
        def init(self, arg: None) -> None:
            self.state = 0

        @update
        def stash(self) -> None:
            self.cache = {"lost": "after this message"}  # type: ignore[attr-defined]

    hoarder = ic.deploy(Hoarder)
    with pytest.raises(CallRejected) as info:
        hoarder.stash()
    assert "self.state only" in info.value.message


def test_an_attribute_set_in_init_fails_the_install_with_the_same_advice(ic: IC) -> None:
    class Forgetful(Canister):
        def init(self, arg: None) -> None:
            self.state = 0
            self.scratch = []  # type: ignore[attr-defined]

    with pytest.raises(CallRejected) as info:
        ic.deploy(Forgetful)
    assert "self.state only" in info.value.message
    assert "'scratch'" in info.value.message


def test_a_missing_attribute_of_something_else_gets_no_canister_advice(ic: IC) -> None:
    class Reader(Canister):
        def init(self, arg: None) -> None:
            self.state = Tally(0)

        @update
        def peek(self) -> int:
            return int(self.state.missing)

    reader = ic.deploy(Reader)
    with pytest.raises(CallRejected) as info:
        reader.peek()
    assert "AttributeError" in info.value.message
    assert "self.state only" not in info.value.message


@pytest.mark.parametrize(
    "text",
    [
        "'Counter' object has no attribute 'cache'",
        "'Counter' object attribute 'inc' is read-only",
        "'Counter' object has no attribute 'cache' and no __dict__ for setting new attributes",
    ],
)
def test_the_advice_covers_every_wording_python_gives_a_failed_set(text: str) -> None:
    described = describe_error(AttributeError(text), Counter)
    assert described.startswith(f"AttributeError: {text}")
    assert "self.state only" in described
    assert "self.state only" not in describe_error(AttributeError(text), Tally)


def test_a_failed_read_gets_no_advice_about_setting(ic: IC) -> None:
    class Typo(Canister):
        def init(self, arg: None) -> None:
            self.state = 0

        @update
        def run(self) -> int:
            return int(self.helpr())  # type: ignore[attr-defined]

    with pytest.raises(CallRejected) as info:
        ic.deploy(Typo).run()
    assert "has no attribute 'helpr'" in info.value.message
    assert "self.state only" not in info.value.message


def test_canister_code_cannot_replace_its_message_context(ic: IC) -> None:
    class Whoami(Canister):
        def init(self, arg: None) -> None:
            self.state = 0

        @update
        def whoami(self) -> Principal:
            return self.caller

    class Forger(Canister):
        def init(self, arg: None) -> None:
            self.state = 0

        @update
        def forge(self, target: Principal, victim: Principal) -> Principal:
            forged = tuple(victim if item == self.id else item for item in self._msg)
            self._msg = forged  # type: ignore[misc]
            return self.call(target, "whoami")  # type: ignore[no-any-return]

    whoami, forger, victim = ic.deploy(Whoami), ic.deploy(Forger), ic.deploy(Whoami)
    before = ic.snapshot()
    with pytest.raises(CallRejected) as info:
        forger.forge(whoami.id, victim.id)
    assert "AttributeError" in info.value.message
    assert ic.state_of(victim.id) == 0
    assert ic.snapshot().canisters[victim.id] == before.canisters[victim.id]


def test_a_canister_class_may_be_an_abstract_base_class(ic: IC) -> None:
    class Base(Canister, abc.ABC):
        def init(self, arg: None) -> None:
            self.state = 0

        @abc.abstractmethod
        def step(self) -> int: ...

        @update
        def bump(self) -> int:
            self.state = self.state + self.step()
            return int(self.state)

    class Concrete(Base):
        def step(self) -> int:
            return 2

    assert ic.deploy(Concrete).bump() == 2


def test_a_mixin_must_declare_empty_slots() -> None:
    class Lax:
        def helper(self) -> int:
            return 1

    class Strict:
        __slots__ = ()

        def helper(self) -> int:
            return 1

    with pytest.raises(TypeError, match="__dict__"):
        type("Mixed", (Lax, Canister), {})
    assert issubclass(type("Fine", (Strict, Canister), {}), Canister)


def test_a_class_namespace_is_not_changed_by_making_the_class() -> None:
    namespace: dict[str, Any] = {"VERSION": "1.0.0"}
    type("Plain", (Canister,), namespace)
    assert namespace == {"VERSION": "1.0.0"}


def test_a_canister_class_with_its_own_setattr_still_runs(ic: IC) -> None:
    class Guarded(Canister):
        def __setattr__(self, name: str, value: Any) -> None:
            if name != "state":
                raise AttributeError(f"only state, not {name}")
            super().__setattr__(name, value)

        def init(self, arg: None) -> None:
            self.state = 1

        @update
        def double(self) -> int:
            self.state = self.state * 2
            return int(self.state)

    assert ic.deploy(Guarded).double() == 2


def test_canister_classes_cannot_declare_slots_of_their_own() -> None:
    with pytest.raises(TypeError, match=r"self\.state"):
        type("Slotted", (Canister,), {"__slots__": ("cache",)})


def test_a_canister_view_has_no_dictionary_to_hide_data_in() -> None:
    assert not hasattr(Counter(), "__dict__")


@pytest.mark.parametrize("value", [[], {}, set(), bytearray()])
def test_mutable_class_attributes_are_refused_at_class_creation(value: Any) -> None:
    with pytest.raises(TypeError, match="mutable"):
        type("Leaky", (Canister,), {"shared": value})


@pytest.mark.parametrize(
    "version", ["1", "1.0", "v1.0.0", "01.0.0", "1.0.0-beta", 1, "1.0.0\n", "1\u0661.0.0"]
)
def test_version_must_be_semver_text(version: Any) -> None:
    with pytest.raises(TypeError, match="semver"):
        type("Odd", (Canister,), {"VERSION": version})


@pytest.mark.parametrize("name", ["call", "log", "state", "as_caller", "_hidden", "init"])
def test_reserved_or_private_names_cannot_be_public_methods(name: str) -> None:
    def method(self: Canister) -> None:
        return None

    with pytest.raises(TypeError, match="cannot be a public canister method"):
        type("Clash", (Canister,), {name: update(method)})


async def _awaiting(self: Canister) -> int:
    return 1


def _generating(self: Canister) -> Any:
    yield 1


async def _async_generating(self: Canister) -> Any:
    yield 1


@pytest.mark.parametrize("mark", [update, query], ids=["update", "query"])
@pytest.mark.parametrize(
    ("method", "kind"),
    [(_awaiting, "an async"), (_generating, "a generator"), (_async_generating, "an async")],
    ids=["async", "generator", "async generator"],
)
def test_a_public_method_whose_body_would_not_run_is_refused_at_class_creation(
    mark: Any, method: Any, kind: str
) -> None:
    """Calling it only makes a coroutine or generator: the message would reply with that object
    and never run the body."""
    with pytest.raises(TypeError, match=rf"Lazy\.later is {kind} function"):
        type("Lazy", (Canister,), {"later": mark(method)})


def test_public_methods_are_inherited_and_can_be_withdrawn() -> None:
    class Extended(Counter):
        VERSION = "1.1.0"

        @query
        def double(self) -> int:
            return int(self.state.n) * 2

    class Narrowed(Counter):
        def inc(self, by: int = 1) -> int:  # no decorator: no longer public
            return 0

    assert {"inc", "get", "double"} <= set(Extended.__icto_methods__)
    assert "inc" not in Narrowed.__icto_methods__
    assert "get" in Narrowed.__icto_methods__


def test_a_withdrawn_method_is_not_callable(ic: IC) -> None:
    class Narrowed(Counter):
        def inc(self, by: int = 1) -> int:
            return 0

    narrowed = ic.deploy(Narrowed)
    with pytest.raises(CallRejected) as info:
        ic.update_call(narrowed.id, "inc", 1)
    assert info.value.error_code == "IC0536"


def test_default_hooks_keep_the_state_across_an_upgrade(ic: IC) -> None:
    class Plain(Canister):
        VERSION = "1.0.0"

        @update
        def put(self, value: int) -> None:
            self.state = value

        @query
        def read(self) -> Any:
            return self.state

    class PlainV2(Plain):
        VERSION = "2.0.0"

    plain = ic.deploy(Plain, 7)
    assert plain.read() == 7, "the default init stores its argument as the state"
    plain.put(9)
    ic.upgrade_canister(plain.id, PlainV2)
    assert plain.read() == 9
    assert ic.canister_status(plain.id).version == "2.0.0"


def test_module_hash_follows_name_and_version() -> None:
    class CounterV2(Counter):
        VERSION = "2.0.0"

    assert module_hash(Counter) == module_hash(Counter)
    assert module_hash(Counter) != module_hash(CounterV2)
    assert len(module_hash(Counter)) == 32


def test_the_context_is_visible_inside_a_method(ic: IC, alice: Principal) -> None:
    class Mirror(Canister):
        def init(self, arg: None) -> None:
            self.state = Tally(0)

        @update
        def reflect(self) -> tuple[Any, ...]:
            return (self.id, self.caller, self.time, self.controllers, self.is_controller(alice))

    mirror = ic.deploy(Mirror, controllers=[alice], caller=alice)
    assert mirror.as_caller(alice).reflect() == (mirror.id, alice, ic.time, (alice,), True)


def test_the_call_context_is_a_plain_tuple_read_by_its_index_names(ic: IC) -> None:
    """What the router hands a message, read by the index names of ``icto.ic.context``: this
    canister, its caller, the time, the depth, the attached cycles, whether it is a query and may
    call, in an update, a query and an inter-canister call."""

    class Probe(Canister):
        def init(self, arg: None) -> None:
            self.state = 0

        def _fields(self) -> tuple[Any, ...]:
            msg = self._msg
            assert type(msg) is tuple and len(msg) == ctx_names.SEGMENT + 1
            assert type(msg[ctx_names.SEGMENT]) is list
            return (
                msg[ctx_names.CANISTER_ID], msg[ctx_names.CALLER], msg[ctx_names.TIME],
                msg[ctx_names.DEPTH], msg[ctx_names.CYCLES_AVAILABLE], msg[ctx_names.IS_QUERY],
                msg[ctx_names.CAN_CALL],
            )  # fmt: skip

        @update
        def as_update(self) -> tuple[Any, ...]:
            return self._fields()

        @query
        def as_query(self) -> tuple[Any, ...]:
            return self._fields()

        @update
        def relay(self, target: Principal) -> tuple[Any, ...]:
            return self.call(target, "as_update", cycles=5)  # type: ignore[no-any-return]

    probe, other = ic.deploy(Probe), ic.deploy(Probe)
    alice = Principal.from_name("alice")
    now = ic.time
    assert probe.as_caller(alice).as_update() == (probe.id, alice, now, 1, 0, False, True)
    assert probe.as_caller(alice).as_query() == (probe.id, alice, now, 1, 0, True, False)
    assert other.relay(probe.id) == (probe.id, other.id, now, 2, 5, False, True)
