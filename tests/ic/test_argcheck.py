"""The argument check at the canister boundary agrees with Python's own binding rules.

The checker has fast paths (positional only, and positional then keyword) besides the full
``inspect.Signature.bind``; whatever the path, a call is accepted exactly when it binds and every
bound value fits its parameter's type.
"""

from __future__ import annotations

import inspect
from typing import Any

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
