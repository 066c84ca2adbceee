"""``Ok`` / ``Err``: the Candid ``variant { Ok; Err }`` results canister methods return."""

from __future__ import annotations

from typing import Any, Generic, NoReturn, TypeAlias, TypeVar

import attrs

from icto.collections.records import slot_setters

T = TypeVar("T")
E = TypeVar("E")


class UnwrapError(Exception):
    """``unwrap()`` on an ``Err`` or ``unwrap_err()`` on an ``Ok``; carries the other side."""

    def __init__(self, message: str, payload: Any) -> None:
        super().__init__(message)
        self.payload = payload


@attrs.frozen(slots=True, init=False)
class Ok(Generic[T]):
    """A successful result; ``match res: case Ok(v): ...``.

    Built by most replies, so ``__init__`` stores the value straight into its slot."""

    value: T

    def __init__(self, value: T) -> None:
        _set_ok_value(self, value)

    @property
    def is_ok(self) -> bool:
        return True

    @property
    def is_err(self) -> bool:
        return False

    def unwrap(self) -> T:
        return self.value

    def unwrap_err(self) -> NoReturn:
        raise UnwrapError(f"unwrap_err() on Ok({self.value!r})", self.value)

    def __repr__(self) -> str:
        return f"Ok({self.value!r})"

    def _repr_html_(self) -> str:
        return _result_html("Ok", self.value)


@attrs.frozen(slots=True, init=False)
class Err(Generic[E]):
    """A failed result carrying a typed error record; ``match res: case Err(e): ...``."""

    error: E

    def __init__(self, error: E) -> None:
        _set_err_error(self, error)

    @property
    def is_ok(self) -> bool:
        return False

    @property
    def is_err(self) -> bool:
        return True

    def unwrap(self) -> NoReturn:
        raise UnwrapError(f"unwrap() on Err({self.error!r})", self.error)

    def unwrap_err(self) -> E:
        return self.error

    def __repr__(self) -> str:
        return f"Err({self.error!r})"

    def _repr_html_(self) -> str:
        return _result_html("Err", self.error)


(_set_ok_value,) = slot_setters(Ok)
(_set_err_error,) = slot_setters(Err)


def _result_html(side: str, payload: Any) -> str:
    from icto.ic.html import value_html

    colour = "#1a7f37" if side == "Ok" else "#cf222e"
    return (
        f'<div><strong style="color:{colour}">{side}</strong>'
        f"<div>{value_html(payload)}</div></div>"
    )


Result: TypeAlias = Ok[T] | Err[E]
