"""One rule for text that users hand the platform, and one way to carry text that came from
somebody else's canister (reject messages, traps, ledger errors).

Lengths are in characters (code points). Refused everywhere: lone surrogates (not UTF-8, cannot
travel in Candid), C0 and C1 control characters, and the bidirectional overrides and isolates
(U+202A to U+202E, U+2066 to U+2069) that make text display other than it reads. Long free text
(``multiline=True``: descriptions, reasons) may hold newlines and tabs; short fields (names,
symbols, ids) may not, and may not start or end with whitespace.
"""

from __future__ import annotations

import re
from typing import Final

TRUNCATED: Final = " …[truncated]"
"""What ends a foreign text cut to fit."""

_BIDI = "\u202a-\u202e\u2066-\u2069"
_SURROGATES = "\ud800-\udfff"
_FORBIDDEN_IN_FREE_TEXT: Final = re.compile(
    f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}{_SURROGATES}]"
)
_FORBIDDEN_IN_LINE: Final = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_SURROGATES}]")


def text_problem(
    field: str, value: object, low: int, high: int, *, multiline: bool = False
) -> str | None:
    """What is wrong with ``value`` as the text ``field`` of ``low`` to ``high`` characters;
    ``None`` when nothing is. Cheap on hostile input: the length is checked before the text is
    scanned, and the scan is one regular-expression search."""
    if not isinstance(value, str):
        return f"{field} must be text, got {type(value).__name__}"
    if not low <= len(value) <= high:
        return f"{field} must be {low} to {high} characters, got {len(value)}"
    forbidden = (_FORBIDDEN_IN_FREE_TEXT if multiline else _FORBIDDEN_IN_LINE).search(value)
    if forbidden is not None:
        return (
            f"{field} must not contain U+{ord(forbidden.group()):04X} "
            f"(at character {forbidden.start()})"
        )
    if not multiline and value != value.strip():
        return f"{field} must not start or end with whitespace"
    return None


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def foreign_text(text: object, limit: int) -> str:
    """``text`` from another canister made safe to store: forbidden characters written as
    ``\\uXXXX`` escapes, cut to at most ``limit`` characters with ``TRUNCATED`` at the end, and
    never empty (storages refuse empty reasons)."""
    raw = text if isinstance(text, str) else repr(text)
    safe = _FORBIDDEN_IN_FREE_TEXT.sub(_escaped, raw[: limit + 1])
    if len(raw) > limit or len(safe) > limit:
        safe = safe[: limit - len(TRUNCATED)] + TRUNCATED
    return safe or "(no message)"
