"""Building frozen attrs records fast: canister state is records, rebuilt on every message.

``evolve(record, **changes)`` is ``attrs.evolve`` at a fraction of its cost: the plan for a class
(its fields read at once by one ``operator.attrgetter``, the position of each ``__init__``
argument) is made once, and the record is rebuilt through the class's own ``__init__``, so
validators and converters run exactly as they do under ``attrs.evolve``. A class whose
``__init__`` is not the one attrs generated, or does not take every field positionally
(``init=False``, ``kw_only``), is left to ``attrs.evolve``, and so is a change that names no field.

``slot_setters(cls)`` gives the setters of a slotted record's fields (or of the named slots of any
slotted class), for the few hand-written constructors of values built on every transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from types import MemberDescriptorType
from typing import Any, TypeVar

import attrs

R = TypeVar("R")


class _Plan:
    """How to rebuild one class: read every field, replace some by position, call the class.
    ``read`` is ``None`` for a class left to ``attrs.evolve``."""

    __slots__ = ("positions", "read")

    def __init__(self, cls: type) -> None:
        fields = attrs.fields(cls)
        code = getattr(getattr(cls, "__init__", None), "__code__", None)
        usable = (
            len(fields) > 1
            and all(field.init and not field.kw_only for field in fields)
            and code is not None
            and code.co_filename.startswith("<attrs generated")
        )
        self.read = attrgetter(*(field.name for field in fields)) if usable else None
        self.positions = {field.alias: position for position, field in enumerate(fields)}


_plans: dict[type, _Plan] = {}


def evolve(record: R, **changes: Any) -> R:
    """A copy of the attrs ``record`` with ``changes`` (``__init__`` argument names), built by
    the class's ``__init__``: the same result and the same errors as ``attrs.evolve``."""
    cls = record.__class__
    plan = _plans.get(cls)
    if plan is None:
        plan = _plans[cls] = _Plan(cls)
    read = plan.read
    if read is None:
        return attrs.evolve(record, **changes)  # type: ignore[misc]
    values = list(read(record))
    positions = plan.positions
    for name, value in changes.items():
        position = positions.get(name)
        if position is None:  # attrs.evolve says what is wrong, in its words
            return attrs.evolve(record, **changes)  # type: ignore[misc]
        values[position] = value
    built: R = cls(*values)
    return built


def slot_setters(cls: type, *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """The setters of ``cls``'s slots ``names``, in that order; with no names, of a slotted attrs
    record's fields, in field order. Storing into a slot through its own setter skips the
    ``object.__setattr__`` dispatch that attrs' generated ``__init__`` pays per field (about a
    third of the cost of building the record) and that an immutable class refuses."""
    wanted = names or tuple(field.name for field in attrs.fields(cls))
    slots = [cls.__dict__.get(name) for name in wanted]
    if not all(isinstance(slot, MemberDescriptorType) for slot in slots):
        problem = f"has no slots named {names}" if names else "is not a slotted attrs record"
        raise TypeError(f"{cls.__qualname__} {problem}")
    return tuple(slot.__set__ for slot in slots)  # type: ignore[union-attr]


__all__ = ["evolve", "slot_setters"]
