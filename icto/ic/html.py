"""Small builders for the HTML that values show in a notebook (``_repr_html_``).

Every piece of text is escaped here, so callers pass plain values and never hand-written markup
(except ``Markup``, for a value's own, already escaped, ``_repr_html_``).
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

_CELL_LIMIT = 80


class Markup(str):
    """Text that is already HTML (not escaped again)."""

    __slots__ = ()


def escape(value: Any) -> str:
    """``value`` as escaped HTML text (``str`` of it; ``Markup`` passes through)."""
    if isinstance(value, Markup):
        return str(value)
    return html.escape(str(value))


def clip(text: str, limit: int = _CELL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timestamp(ns: int) -> str:
    """IC time (ns since the epoch) as UTC ISO 8601 text; a time no date can show (past year
    9999) as its nanoseconds, so a view never fails on a value it is handed."""
    try:
        moment = datetime.datetime.fromtimestamp(ns // 10**9, datetime.UTC)
    except (ValueError, OverflowError, OSError):
        return f"{ns:,} ns"
    return moment.isoformat().replace("+00:00", "Z")


def code(value: Any, title: str | None = None) -> Markup:
    """``<code>`` around the escaped text of ``value`` (``title``: what it is, on hover)."""
    attr = "" if title is None else f' title="{html.escape(title, quote=True)}"'
    return Markup(f"<code{attr}>{escape(value)}</code>")


def show(value: Any, limit: int = _CELL_LIMIT) -> Markup:
    """A table cell for ``value``: ints with thousands separators, ``None`` as an empty cell,
    principals and accounts as their text, anything else as its clipped ``repr``."""
    from icto.ic.account import Account
    from icto.ic.principal import Principal

    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    if isinstance(value, bool):
        return Markup(escape(value))
    if isinstance(value, int):
        return Markup(escape(f"{value:,}"))
    if isinstance(value, (str, Principal, Account)):
        return code(clip(str(value), limit))
    return code(clip(repr(value), limit))


def table(
    caption: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str = "(none)",
) -> str:
    """An HTML table: escaped caption and headers, one row per sequence (cells via ``show``)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{show(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    if not body:
        body = f'<tr><td colspan="{max(len(headers), 1)}">{escape(empty)}</td></tr>'
    return f"<table><caption>{escape(caption)}</caption><tr>{head}</tr>{body}</table>"


def fields_table(caption: str, pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of ``name: value`` pairs (names in ``<th>``)."""
    body = "".join(
        f"<tr><th>{escape(name)}</th><td>{show(value)}</td></tr>" for name, value in pairs
    )
    return f"<table><caption>{escape(caption)}</caption>{body}</table>"


def columns_of(item: Any) -> tuple[tuple[str, Any], ...]:
    """The ``(name, value)`` columns an item shows in a listing: its ``_html_columns_()`` if it
    has one, the fields of an attrs record, else the item itself."""
    own = getattr(item, "_html_columns_", None)
    if callable(own):
        return tuple(own())
    if attrs.has(type(item)):
        return tuple((f.name, getattr(item, f.name)) for f in attrs.fields(type(item)))
    return (("item", item),)


def items_table(caption: str, items: Sequence[Any]) -> str:
    """A listing as a table: one row per item, the columns of its first item as headers."""
    if not items:
        return table(caption, ("item",), ())
    headers = [name for name, _ in columns_of(items[0])]
    rows = [[value for _, value in columns_of(item)] for item in items]
    return table(caption, headers, rows)


def value_html(value: Any) -> str:
    """``value`` as HTML: its own ``_repr_html_`` if it has one, a field table for an attrs
    record, else its escaped ``repr``."""
    own = getattr(value, "_repr_html_", None)
    if callable(own) and not isinstance(value, type):
        rendered = own()
        if isinstance(rendered, str):
            return rendered
    if attrs.has(type(value)):
        return fields_table(type(value).__name__, columns_of(value))
    return str(code(clip(repr(value), 400)))


__all__ = [
    "Markup",
    "clip",
    "code",
    "columns_of",
    "escape",
    "fields_table",
    "items_table",
    "show",
    "table",
    "timestamp",
    "value_html",
]
