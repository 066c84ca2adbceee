"""One rule for text that users hand the platform, and one way to carry text that came from
somebody else's canister (reject messages, traps, ledger errors).

Lengths are in characters (code points). Refused everywhere: lone surrogates (not UTF-8, cannot
travel in Candid), C0 and C1 control characters, and the bidirectional overrides and isolates
(U+202A to U+202E, U+2066 to U+2069) that make text display other than it reads. Long free text
(``multiline=True``: descriptions, reasons) may hold newlines and tabs; short fields (names,
symbols, ids) may not, nor the Unicode line and paragraph separators (U+2028, U+2029), and may
not start or end with a blank character: whitespace, an invisible format character (Unicode
category Cf: zero-width space, joiners, soft hyphen, byte-order mark, tags; the cancel tag that
closes an emoji tag sequence may end a name) or a filler that draws nothing (the Hangul fillers,
the blank braille pattern). So a name never begins blank or trails blanks. Text is exactly
``str``, as Candid decodes it: a subclass would be stored as it is and could not be saved.
"""

from __future__ import annotations

import re
from typing import Final
from unicodedata import category

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
_FILLERS: Final = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")
"""Characters of other categories that draw nothing (a combining grapheme joiner, the Hangul
and Khmer fillers, the blank braille pattern)."""
_CANCEL_TAG: Final = "\U000e007f"


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
    if not multiline and value:
        first, last = value[0], value[-1]
        if first < "\x80" and last < "\x80":  # the usual case: only whitespace is blank
            blank = first.isspace() or last.isspace()
        else:
            blank = _blank(first, at_end=False) or _blank(last, at_end=True)
        if blank:
            return f"{field} must not start or end with whitespace or an invisible character"
    return None


def _blank(char: str, *, at_end: bool) -> bool:
    """Whether ``char`` draws nothing, so a short field may not start (or end) with it."""
    if char.isspace() or char in _FILLERS:
        return True
    return category(char) == "Cf" and not (at_end and char == _CANCEL_TAG)


def trimmed(text: str) -> str:
    """``text`` without the blank characters at its ends, which the rule refuses there in
    short fields: what a cut of a valid name must be given before it is used as one."""
    start, end = 0, len(text)
    while start < end and _blank(text[start], at_end=False):
        start += 1
    while end > start and _blank(text[end - 1], at_end=True):
        end -= 1
    return text[start:end]


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
