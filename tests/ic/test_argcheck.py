"""The argument check at the canister boundary agrees with Python's own binding rules.

The checker has fast paths (positional only, and positional then keyword) besides the full
``inspect.Signature.bind``; whatever the path, a call is accepted exactly when it binds and every
bound value fits its parameter's type.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icto import Principal
from icto.ic.argcheck import ArgumentChecker, predicate_for


def method(self: object, a: int, b: str = "x", c: Principal | None = None) -> None:
    return None


SIGNATURE = inspect.signature(method)
NAMES = ("a", "b", "c", "d")
VALUES = (0, 7, True, "text", None, Principal.anonymous(), b"\x04", 1.5)


def reference(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    try:
        bound = SIGNATURE.bind(None, *args, **kwargs)
    except TypeError:
        return False
    hints = {"a": int, "b": str, "c": Principal | None}
    for name, value in bound.arguments.items():
        if name == "self":
            continue
        predicate = predicate_for(hints[name])
        if predicate is not None and not predicate(value):
            return False
    return True


@given(
    args=st.lists(st.sampled_from(VALUES), max_size=4).map(tuple),
    kwargs=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VALUES), max_size=3),
)
def test_a_call_is_accepted_exactly_when_it_binds_and_fits(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    checker = ArgumentChecker(method, "Toy.method()")
    assert (checker.check(args, kwargs) is None) == reference(args, kwargs)


def mixed(
    self: object, a: Any, b: Literal["x", "y"], c: tuple[int, ...] = (), d: float = 0.0
) -> None:
    return None


MIXED_VALUES = (*VALUES, "y", (1, 2), (1, "2"), ())


@pytest.mark.parametrize("fn", [method, mixed])
@given(
    args=st.lists(st.sampled_from(MIXED_VALUES), max_size=5).map(tuple),
    kwargs=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(MIXED_VALUES), max_size=2),
)
def test_the_generated_check_answers_as_the_checker_does(
    fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    checker = ArgumentChecker(fn, "Toy.fn()")
    assert checker.compiled()(args, kwargs) == checker.check(args, kwargs)


def test_keyword_arguments_are_checked_by_type_too() -> None:
    checker = ArgumentChecker(method, "Toy.method()")
    assert checker.check((1,), {"c": Principal.anonymous()}) is None
    assert checker.check((), {"a": 1, "b": "y"}) is None
    problem = checker.check((1,), {"c": "aaaaa-aa"})
    assert problem is not None and "'c'" in problem
    problem = checker.check((1,), {"a": 2})
    assert problem is not None and "multiple values" in problem
    problem = checker.check((), {"b": "y"})
    assert problem is not None and "'a'" in problem


def test_a_principal_is_not_a_blob() -> None:
    def takes_blob(self: object, memo: bytes) -> None:
        return None

    checker = ArgumentChecker(takes_blob, "Toy.takes_blob()")
    assert checker.check((b"\x04",), {}) is None
    assert checker.check((Principal.anonymous(),), {}) is not None


ANNOTATIONS = (int, float, str, bytes, bool, Principal, Principal | None, int | None, Any,
               tuple[int, ...], "Literal", object)  # fmt: skip


@given(
    annotation=st.sampled_from(ANNOTATIONS),
    value=st.sampled_from((*VALUES, False, (1, 2), ("a",))),
)
def test_a_value_of_the_exact_class_always_fits(annotation: Any, value: Any) -> None:
    """The shortcut (a value whose class is the annotation's own is accepted without the
    predicate) never accepts what the predicate would refuse."""
    from typing import Literal

    from icto.ic.argcheck import exact_class

    if annotation == "Literal":
        annotation = Literal[1, "text"]
    predicate = predicate_for(annotation)
    if value.__class__ is exact_class(annotation):
        assert predicate is None or predicate(value)


def test_only_a_method_callable_without_arguments_skips_the_check() -> None:
    from icto.ic.canister import MethodSpec

    def none(self: object) -> None: ...
    def optional(self: object, a: int = 1, *, b: str = "") -> None: ...
    def required(self: object, a: int) -> None: ...
    def keyword(self: object, *, b: str) -> None: ...

    needs = {f.__name__: MethodSpec("T", f.__name__, "update", False, f).needs_arguments
             for f in (none, optional, required, keyword)}  # fmt: skip
    assert needs == {"none": False, "optional": False, "required": True, "keyword": True}
