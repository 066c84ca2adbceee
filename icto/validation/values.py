"""Small value rules every config shares."""

from __future__ import annotations

from typing import Any


def is_nat(value: object) -> bool:
    """``value`` is a non-negative ``int``, exactly: Candid decodes no ``bool`` or other
    subclass as a nat, and one stored could not be saved with the world."""
    return value.__class__ is int and value >= 0


def nat_in(value: object, low: int, high: int) -> bool:
    """``value`` is a nat from ``low`` to ``high``, both included."""
    return is_nat(value) and low <= value <= high  # type: ignore[operator]


def pairs(value: Any) -> Any:
    """A config field of pairs, given as a dict or any iterable of pairs, as a tuple of tuples;
    anything else is kept as it is, for the config's validation to report."""
    if isinstance(value, dict):
        return tuple(value.items())
    if isinstance(value, list | tuple):
        return tuple(tuple(pair) if isinstance(pair, list | tuple) else pair for pair in value)
    return value


def as_tuple(value: Any) -> Any:
    """A config field of items, given as any list or tuple, as a tuple; anything else is kept as
    it is, for the config's validation to report."""
    return tuple(value) if isinstance(value, list | tuple) else value
