"""``evolve`` is ``attrs.evolve``: the same record for every change, the same error for every
bad one, whatever the class's fields look like (private names, defaults, validators,
converters, keyword-only or uninitialised fields, subclasses)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from icto.collections.records import evolve, slot_setters


def _positive(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be a non-negative int, got {value!r}")


@attrs.frozen
class Plain:
    a: int
    b: str = "b"


@attrs.frozen
class Guarded:
    count: int = attrs.field(validator=_positive)
    _secret: str = attrs.field(default="s", converter=str)
    tags: tuple[str, ...] = ()


@attrs.frozen
class Child(Guarded):
    extra: int = 0


@attrs.frozen
class KeywordOnly:
    a: int
    b: int = attrs.field(default=0, kw_only=True)


@attrs.frozen
class Derived:
    a: int
    doubled: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "doubled", 2 * self.a)


class Reordered(Plain):
    """An undecorated subclass whose own ``__init__`` takes the fields in another order."""

    def __init__(self, b: str = "b", a: int = 0) -> None:
        super().__init__(a, b)


@attrs.frozen(init=False)
class HandWritten:
    """A record with a hand-written ``__init__`` (as the ledger's hot records have)."""

    a: int
    b: str = "b"

    def __init__(self, a: int, b: str = "b") -> None:
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)


@attrs.define
class Mutable:
    a: int
    b: int = 0


RECORDS = [Plain(1), Guarded(3, "x", ("t",)), Child(2, "y", (), 5), KeywordOnly(1, b=2),
           Derived(4), Mutable(1, 2), Reordered("z", 3), HandWritten(5, "w")]  # fmt: skip
NAMES = ("a", "b", "count", "secret", "_secret", "tags", "extra", "doubled", "other")
VALUES = (0, 1, -1, "text", None, (), ("t",), 2.5)


def _outcome(build: Any) -> tuple[str, Any]:
    try:
        return "built", build()
    except Exception as exc:  # the error itself is what is compared
        return type(exc).__name__, str(exc)


@given(
    record=st.sampled_from(RECORDS),
    changes=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VALUES), max_size=3),
)
def test_evolve_answers_as_attrs_evolve_does(record: Any, changes: dict[str, Any]) -> None:
    mine = _outcome(lambda: evolve(record, **changes))
    theirs = _outcome(lambda: attrs.evolve(record, **changes))
    assert mine == theirs
    if mine[0] == "built":
        assert type(mine[1]) is type(record)


def test_evolve_without_changes_is_an_equal_copy() -> None:
    record = Guarded(3, "x", ("t",))
    copy = evolve(record)
    assert copy == record and copy is not record


def test_slot_setters_fill_a_slotted_record_in_field_order() -> None:
    record = object.__new__(Plain)
    for setter, value in zip(slot_setters(Plain), (7, "seven"), strict=True):
        setter(record, value)
    assert record == Plain(7, "seven")


def test_slot_setters_refuse_a_record_without_slots() -> None:
    @attrs.frozen(slots=False)
    class Loose:
        a: int

    with pytest.raises(TypeError, match="not a slotted attrs record"):
        slot_setters(Loose)


class _Pair:
    __slots__ = ("left", "right")


def test_slot_setters_by_name_fill_the_named_slots_of_any_slotted_class() -> None:
    pair = object.__new__(_Pair)
    set_right, set_left = slot_setters(_Pair, "right", "left")
    set_right(pair, "r")
    set_left(pair, "l")
    assert (pair.left, pair.right) == ("l", "r")


def test_slot_setters_refuse_a_name_that_is_not_a_slot() -> None:
    with pytest.raises(TypeError, match="has no slots named"):
        slot_setters(_Pair, "left", "middle")
