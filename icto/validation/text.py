"""One rule for text that users hand the platform, and one way to carry text that came from
somebody else's canister (reject messages, traps, ledger errors).

Lengths are in characters (code points). Refused everywhere: lone surrogates (not UTF-8, cannot
travel in Candid), C0 and C1 control characters, and the bidirectional overrides and isolates
(U+202A to U+202E, U+2066 to U+2069) that make text display other than it reads. Long free text
(``multiline=True``: descriptions, reasons) may hold newlines and tabs; short fields (names,
symbols, ids) may not, nor the Unicode line and paragraph separators (U+2028, U+2029), and may
not start or end with whitespace or an invisible format character (zero-width space, joiners,
word joiner, byte-order mark), so a name is never blank to the eye. Text is exactly ``str``, as
Candid decodes it: a subclass would be stored as it is and could not be saved.
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
_FORBIDDEN_IN_LINE: Final = re.compile(
    f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}{_SURROGATES}]"
)
_INVISIBLE_CHARS: Final = "\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
_INVISIBLE: Final = frozenset(_INVISIBLE_CHARS)


def text_problem(
    field: str, value: object, low: int, high: int, *, multiline: bool = False
) -> str | None:
    """What is wrong with ``value`` as the text ``field`` of ``low`` to ``high`` characters;
    ``None`` when nothing is. Cheap on hostile input: the length is checked before the text is
    scanned, and the scan is one regular-expression search."""
    if value.__class__ is not str:
        return f"{field} must be text, got {type(value).__name__}"
    if not low <= len(value) <= high:
        return f"{field} must be {low} to {high} characters, got {len(value)}"
    forbidden = (_FORBIDDEN_IN_FREE_TEXT if multiline else _FORBIDDEN_IN_LINE).search(value)
    if forbidden is not None:
        return (
            f"{field} must not contain U+{ord(forbidden.group()):04X} "
            f"(at character {forbidden.start()})"
        )
    if not multiline and value != trimmed(value):
        return f"{field} must not start or end with whitespace or an invisible character"
    return None


def trimmed(text: str) -> str:
    """``text`` without the whitespace and invisible characters at its ends, which the rule
    refuses there in short fields: what a cut of a valid name must be given before it is
    used as one."""
    while text and (text[0] in _INVISIBLE or text[-1] in _INVISIBLE or text != text.strip()):
        text = text.strip().strip(_INVISIBLE_CHARS)
    return text


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
