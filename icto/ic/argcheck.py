"""Argument checking at the canister boundary, in the spirit of Candid decoding.

A method's type hints become a checker built once per method. Arguments that do not fit raise a
clear message before the method runs, as a Candid decoding failure traps before user code on the
IC. Only what can be checked cheaply and shallowly is checked: classes, ``X | None`` unions,
literals and ``tuple[...]`` element types; anything else (``Any``, type variables, unresolvable
names) passes.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

Predicate = Callable[[Any], bool]


def is_int(value: Any) -> bool:
    """An int and not a bool (a bool is an int to Python, never to Candid)."""
    return value.__class__ is int or (isinstance(value, int) and not isinstance(value, bool))


def _is_blob(value: Any) -> bool:
    """Exact ``bytes``: a ``Principal`` is bytes too, but Candid tells ``blob`` from it."""
    return value.__class__ is bytes


def _is_float(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def predicate_for(annotation: Any) -> Predicate | None:
    """A predicate accepting values of ``annotation``, or ``None`` when anything goes."""
    if annotation is Any or annotation is object or annotation is inspect.Parameter.empty:
        return None
    if annotation is None or annotation is type(None):
        return lambda value: value is None
    if annotation is int:
        return is_int
    if annotation is float:
        return _is_float
    if annotation is bytes:
        return _is_blob
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        options = [predicate_for(arg) for arg in typing.get_args(annotation)]
        if any(option is None for option in options):
            return None
        checks = tuple(o for o in options if o is not None)
        return lambda value: any(check(value) for check in checks)
    if origin is Literal:
        allowed = typing.get_args(annotation)
        return lambda value: any(value == a and type(value) is type(a) for a in allowed)
    if origin is tuple:
        return _tuple_predicate(typing.get_args(annotation))
    if origin is typing.Annotated:
        return predicate_for(typing.get_args(annotation)[0])
    if isinstance(origin, type):
        return lambda value: isinstance(value, origin)
    if isinstance(annotation, type):
        return lambda value: isinstance(value, annotation)
    return None


def _tuple_predicate(args: tuple[Any, ...]) -> Predicate:
    if len(args) == 2 and args[1] is Ellipsis:
        item = predicate_for(args[0])
        if item is None:
            return lambda value: isinstance(value, tuple)
        return lambda value: isinstance(value, tuple) and all(item(v) for v in value)
    if args == ((),):
        return lambda value: value == ()
    items = [predicate_for(a) for a in args]
    return lambda value: (
        isinstance(value, tuple)
        and len(value) == len(items)
        and all(p is None or p(v) for p, v in zip(items, value, strict=True))
    )


def exact_class(annotation: Any) -> type | None:
    """A class whose instances the annotation accepts on sight (``value.__class__ is`` it), so
    the common case skips the predicate call; ``None`` when there is none."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        classes = [a for a in typing.get_args(annotation) if a is not type(None)]
        return exact_class(classes[0]) if len(classes) == 1 else None
    if origin is typing.Annotated:
        return exact_class(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and annotation is not object and origin is None:
        return annotation
    return None


def describe(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


class ArgumentChecker:
    """Checks ``(args, kwargs)`` against one method's signature (``self`` excluded)."""

    __slots__ = (
        "_by_name",
        "_exact",
        "_label",
        "_min_positional",
        "_names",
        "_positional",
        "_positions",
        "_predicates",
        "_signature",
    )

    def __init__(self, fn: Callable[..., Any], label: str) -> None:
        self._label = label
        signature = inspect.signature(fn)
        params = list(signature.parameters.values())[1:]
        self._signature = signature.replace(parameters=params)
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception:  # unresolvable forward references: check arity only
            hints = {}
        named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        self._by_name = {
            p.name: (hints.get(p.name, Any), predicate_for(hints.get(p.name, Any))) for p in named
        }
        positional_kinds = (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        )
        only_positional = all(p.kind in positional_kinds for p in params)
        self._positional = (
            tuple((p.name, *self._by_name[p.name]) for p in named) if only_positional else None
        )
        self._min_positional = sum(1 for p in named if p.default is p.empty)
        self._predicates = (
            None if self._positional is None else tuple(pred for _, _, pred in self._positional)
        )
        self._exact = (
            None
            if self._positional is None
            else tuple(exact_class(annotation) for _, annotation, _ in self._positional)
        )
        self._names = tuple(p.name for p in named)
        self._positions = {name: index for index, name in enumerate(self._names)}

    def compiled(self) -> Callable[[tuple[Any, ...], dict[str, Any]], str | None]:
        """``check`` as a function generated for this signature, as attrs generates
        ``__init__``: one branch per number of positional arguments, each comparing the
        arguments' classes with the annotations' directly. Anything else (keywords, a subclass,
        a mismatch) goes to ``check``, which decides and says what is wrong."""
        predicates, exacts = self._predicates, self._exact
        if predicates is None or exacts is None:
            return self.check
        names: dict[str, Any] = {"_slow": self.check}
        lines = ["def check(args, kwargs):", "    if not kwargs:", "        n = len(args)"]
        for count in range(len(predicates), self._min_positional - 1, -1):
            tests = []
            for position in range(count):
                exact, predicate = exacts[position], predicates[position]
                if exact is not None:
                    names[f"_e{position}"] = exact
                    tests.append(f"args[{position}].__class__ is _e{position}")
                elif predicate is not None:
                    names[f"_p{position}"] = predicate
                    tests.append(f"_p{position}(args[{position}])")
            branch = "if" if len(lines) == 3 else "elif"
            lines.append(f"        {branch} n == {count}:")
            if tests:
                lines.append(f"            if {' and '.join(tests)}:")
                lines.append("                return None")
            else:
                lines.append("            return None")
        lines.append("    return _slow(args, kwargs)")
        exec(compile("\n".join(lines), f"<argument check of {self._label}>", "exec"), names)
        generated: Callable[[tuple[Any, ...], dict[str, Any]], str | None] = names["check"]
        return generated

    def check(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """``None`` when the call fits, else a message saying what is wrong."""
        predicates = self._predicates
        if predicates is not None and len(args) <= len(predicates):
            if not kwargs and self._min_positional <= len(args):
                exacts: tuple[type | None, ...] = self._exact  # type: ignore[assignment]
                for predicate, exact, value in zip(predicates, exacts, args, strict=False):
                    if value.__class__ is exact or predicate is None or predicate(value):
                        continue
                    break
                else:
                    return None
            elif kwargs and self._fits_by_name(predicates, args, kwargs):
                return None
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            return f"{self._label}: {exc}"
        for name, value in bound.arguments.items():
            annotation, predicate = self._by_name.get(name, (Any, None))
            if predicate is not None and not predicate(value):
                return self._mismatch(name, annotation, value)
        return None

    def _fits_by_name(
        self,
        predicates: tuple[Predicate | None, ...],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> bool:
        """Whether positional-then-keyword arguments bind and fit, without ``Signature.bind``
        (a ``False`` sends the call to the full check, which says what is wrong)."""
        positions = self._positions
        given = len(args)
        for name, value in kwargs.items():
            index = positions.get(name, -1)
            if index < given:
                return False
            predicate = predicates[index]
            if predicate is not None and not predicate(value):
                return False
        for index in range(given, self._min_positional):
            if self._names[index] not in kwargs:
                return False
        for predicate, value in zip(predicates, args, strict=False):
            if predicate is not None and not predicate(value):
                return False
        return True

    def _mismatch(self, name: str, annotation: Any, value: Any) -> str:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return (
            f"{self._label}: argument {name!r} must be {describe(annotation)}, "
            f"got {type(value).__name__} {shown}"
        )
