"""Numbers as Candid decodes them: a nat is exactly an ``int``, at least 0."""

from __future__ import annotations

import enum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icto.validation.values import is_nat, nat_in


class _Level(enum.IntEnum):
    LOW = 1


class _Nat(int):
    pass


@given(st.integers(min_value=0))
def test_every_non_negative_int_is_a_nat(value: int) -> None:
    assert is_nat(value)
    assert nat_in(value, 0, value) and not nat_in(value, value + 1, value + 2)


@pytest.mark.parametrize(
    "value", [-1, True, False, 1.0, "1", None, _Level.LOW, _Nat(1)],
    ids=["negative", "true", "false", "float", "text", "none", "int-enum", "int-subclass"],
)
def test_anything_else_is_not_a_nat(value: object) -> None:
    assert not is_nat(value)
    assert not nat_in(value, 0, 10)
