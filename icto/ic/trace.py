"""The message trace: every call the router delivers, with its outcome, as a bounded log.

The trace is a test instrument, not world state: anchors and snapshots do not restore it. Turn it
off (``ic.trace.enabled = False``) for speed.
"""

from __future__ import annotations

import html
from collections import deque
from collections.abc import Iterator
from typing import Any

from icto.ic.argcheck import is_int
from icto.ic.errors import RejectCode
from icto.ic.principal import Principal

OUTCOMES = ("reply", "reject", "trap", "pending")
"""What became of a message (``TraceEntry.outcome``)."""
KINDS = ("ingress", "query", "call", "timer", "hook")
"""How a message was sent (``TraceEntry.kind``): the kinds ``icto.ic.context`` names (the
context module imports this one, so they are written out here)."""


def principal_or_none(value: object, what: str) -> Principal | None:
    """A filter's principal from a principal, its text or a canister proxy (``.id``)."""
    if value is None or isinstance(value, Principal):
        return value
    if isinstance(value, str):
        return Principal.from_text(value)
    found = getattr(value, "id", None)
    if isinstance(found, Principal):
        return found
    raise TypeError(f"{what} must be a Principal, its text or a canister proxy, got {value!r}")


_ARGS_REPR_LIMIT = 120


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(value: Any, limit: int = _ARGS_REPR_LIMIT) -> str:
    return _clip(repr(value), limit)


class TraceEntry:
    """One delivered message. ``outcome`` is ``"reply"``, ``"reject"``, ``"trap"`` or ``"pending"``.

    ``kind`` is ``"ingress"``, ``"query"`` (ingress query), ``"call"`` (inter-canister),
    ``"timer"`` or ``"hook"`` (an install or upgrade hook, under its ``install_code`` message).
    ``injected`` marks outcomes produced by ``ic.faults``.
    """

    __slots__ = (
        "args",
        "callee",
        "caller",
        "cycles",
        "depth",
        "entry_id",
        "error_code",
        "injected",
        "kind",
        "kwargs",
        "message",
        "method",
        "outcome",
        "parent_id",
        "reject_code",
        "result",
        "time",
        "traceback",
    )

    def __init__(
        self,
        entry_id: int,
        parent_id: int | None,
        depth: int,
        kind: str,
        caller: Principal,
        callee: Principal,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        time: int,
    ) -> None:
        self.entry_id = entry_id
        self.parent_id = parent_id
        self.depth = depth
        self.kind = kind
        self.caller = caller
        self.callee = callee
        self.method = method
        self.args = args
        self.kwargs = kwargs
        self.time = time
        self.outcome = "pending"
        self.result: Any = None
        self.reject_code: RejectCode | None = None
        self.error_code: str | None = None
        self.message: str | None = None
        self.traceback: str | None = None
        self.cycles = 0
        self.injected = False

    @property
    def args_repr(self) -> str:
        parts = [_short(a, 60) for a in self.args]
        parts += [f"{k}={_short(v, 60)}" for k, v in self.kwargs.items()]
        return _clip(", ".join(parts), _ARGS_REPR_LIMIT)

    def summary(self) -> str:
        head = f"{self.callee}.{self.method}({self.args_repr})"
        if self.outcome == "reply":
            tail = f"-> {_short(self.result, 80)}"
        elif self.outcome == "pending":
            tail = "…"
        else:
            code = self.reject_code.name if self.reject_code is not None else "?"
            tail = f"!! {self.outcome} {code} {self.error_code}: {_clip(self.message or '', 100)}"
        injected = " [injected]" if self.injected else ""
        return f"{head} {tail}{injected}"

    def __repr__(self) -> str:
        return f"<TraceEntry #{self.entry_id} {self.kind} {self.summary()}>"


class CallTree:
    """The entries of one ingress message (or timer) as an indented tree."""

    def __init__(self, entries: list[TraceEntry]) -> None:
        self.entries = entries

    def __str__(self) -> str:
        if not self.entries:
            return "(no messages recorded)"
        base = self.entries[0].depth
        return "\n".join(
            "  " * (e.depth - base) + ("└ " if e.depth > base else "") + e.summary()
            for e in self.entries
        )

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        """A collapsible tree: one ``<details>`` per message, its calls nested inside."""
        if not self.entries:
            return "<div><em>Call tree: (no messages recorded)</em></div>"
        children: dict[int | None, list[TraceEntry]] = {}
        ids = {e.entry_id for e in self.entries}
        for entry in self.entries:
            parent = entry.parent_id if entry.parent_id in ids else None
            children.setdefault(parent, []).append(entry)
        roots = children.get(None, [])
        body = "".join(_entry_html(root, children) for root in roots)
        return f'<div class="icto-call-tree"><strong>Call tree</strong>{body}</div>'


_OUTCOME_COLOURS = {"reply": "#1a7f37", "pending": "#9a6700"}


def _entry_html(entry: TraceEntry, children: dict[int | None, list[TraceEntry]]) -> str:
    esc = html.escape
    colour = _OUTCOME_COLOURS.get(entry.outcome, "#cf222e")
    outcome = entry.outcome
    if entry.outcome in ("reject", "trap") and entry.reject_code is not None:
        outcome += f" {entry.reject_code.name}"
    if entry.injected:
        outcome += " [injected]"
    summary = (
        f"<code>{esc(str(entry.caller))}</code> → <code>{esc(str(entry.callee))}</code>."
        f"<strong>{esc(entry.method)}</strong> "
        f'<span style="color:{colour}">{esc(outcome)}</span> '
        f"<small>{entry.cycles:,} cycles · {esc(entry.kind)} #{entry.entry_id}</small>"
    )
    if entry.outcome == "reply":
        detail = f"-> {_short(entry.result, 200)}"
    elif entry.outcome == "pending":
        detail = "…"
    else:
        detail = f"{entry.error_code}: {_clip(entry.message or '', 300)}"
    inner = "".join(_entry_html(child, children) for child in children.get(entry.entry_id, []))
    return (
        f"<details open><summary>{summary}</summary>"
        f'<div style="margin-left:1.5em">'
        f"<div><code>{esc(entry.method)}({esc(entry.args_repr)})</code></div>"
        f"<div><code>{esc(detail)}</code></div>{inner}</div></details>"
    )


class Trace:
    """A bounded, filterable record of delivered messages (newest last)."""

    def __init__(self, enabled: bool = True, capacity: int = 100_000) -> None:
        self.enabled = enabled
        self._entries: deque[TraceEntry] = deque(maxlen=capacity)
        self._next_id = 1

    def open(
        self,
        parent: TraceEntry | None,
        depth: int,
        kind: str,
        caller: Principal,
        callee: Principal,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        time: int,
    ) -> TraceEntry:
        entry = TraceEntry(
            self._next_id,
            parent.entry_id if parent is not None else None,
            depth,
            kind,
            caller,
            callee,
            method,
            args,
            kwargs,
            time,
        )
        self._next_id += 1
        self._entries.append(entry)
        return entry

    def clear(self) -> None:
        self._entries.clear()

    def mark(self) -> tuple[int, bool]:
        """Where the trace is now (the next entry's id, and whether it records), for
        ``rewind``."""
        return self._next_id, self.enabled

    def rewind(self, mark: tuple[int, bool]) -> None:
        """Forget the entries recorded since ``mark``, number the next ones from where it was,
        and record or not as then. O(entries forgotten)."""
        next_id, enabled = mark
        entries = self._entries
        while entries and entries[-1].entry_id >= next_id:
            entries.pop()
        self._next_id = next_id
        self.enabled = enabled

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[TraceEntry]:
        return iter(self._entries)

    def last(self, n: int = 1) -> list[TraceEntry]:
        """The ``n`` most recent entries, oldest first."""
        if not is_int(n):
            raise TypeError(f"n must be an int, got {n!r}")
        if n <= 0:
            return []
        return list(self._entries)[-n:]

    def calls(
        self,
        method: str | None = None,
        canister: Principal | Any | None = None,
        caller: Principal | Any | None = None,
        outcome: str | None = None,
        kind: str | None = None,
    ) -> list[TraceEntry]:
        """Entries matching every given filter, oldest first. ``canister`` and ``caller`` take
        a principal, its text or a canister proxy; an unknown ``outcome`` or ``kind`` is a
        ``ValueError``, not an empty list."""
        if method is not None and not isinstance(method, str):
            raise TypeError(f"method must be str or None, got {method!r}")
        canister = principal_or_none(canister, "canister")
        caller = principal_or_none(caller, "caller")
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        return [
            e
            for e in self._entries
            if (method is None or e.method == method)
            and (canister is None or e.callee == canister)
            and (caller is None or e.caller == caller)
            and (outcome is None or e.outcome == outcome)
            and (kind is None or e.kind == kind)
        ]

    def tree(self) -> CallTree:
        """The last top-level message (ingress call or timer) with every call it made."""
        entries = list(self._entries)
        for i in range(len(entries) - 1, -1, -1):
            if entries[i].parent_id is None:
                return CallTree(entries[i:])
        return CallTree([])

    def __repr__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"<Trace {len(self._entries)} entries, recording {state}>"
