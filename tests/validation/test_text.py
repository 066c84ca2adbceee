"""The one text rule: what users may hand the platform, and how foreign text is carried."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icto.testing import strategies
from icto.validation import TRUNCATED, foreign_text, text_problem, trimmed

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize(
    "text",
    ["Alpha", "Ωmega 漢字", "👩\u200d💻 dev", "a-b_c.d'e&f", "é" * 32],
    ids=["ascii", "scripts", "zwj-emoji", "punctuation", "32-accented"],
)
def test_ordinary_text_of_any_script_is_accepted(text: str) -> None:
    assert text_problem("name", text, 1, 32) is None


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f", *BIDI, "\ud800",
                                  "\udfff"])  # fmt: skip
def test_controls_bidi_overrides_and_lone_surrogates_are_refused_everywhere(char: str) -> None:
    for multiline in (False, True):
        problem = text_problem("field", f"ab{char}cd", 1, 100, multiline=multiline)
        assert problem == f"field must not contain U+{ord(char):04X} (at character 2)"


@pytest.mark.parametrize("char", ["\n", "\t"])
def test_newline_and_tab_are_for_free_text_only(char: str) -> None:
    assert text_problem("description", f"a{char}b", 0, 100, multiline=True) is None
    assert text_problem("name", f"a{char}b", 0, 100) is not None


def test_short_fields_may_not_start_or_end_with_whitespace_or_an_invisible_character() -> None:
    for text in (" a", "a ", "\u3000a", "\u200ba", "a\u200d", "\ufeffa", "\u200b\u200b\u200b"):
        assert text_problem("name", text, 1, 10) == (
            "name must not start or end with whitespace or an invisible character"
        )
    assert text_problem("description", "\u200b\u200b", 1, 10, multiline=True) is None


BLANK_ALONE = ["\u3164", "\u115f", "\u2800", "\u00ad", "\u061c", "\u206a", "\U000e0020",
               "\u180e", "\u034f", "\uffa0"]  # fmt: skip


@pytest.mark.parametrize("blank", BLANK_ALONE, ids=lambda c: f"U+{ord(c):04X}")
def test_a_name_of_fillers_or_format_characters_alone_is_refused(blank: str) -> None:
    assert text_problem("name", blank * 3, 1, 10) is not None
    assert text_problem("name", f"a{blank}b", 1, 10) is None  # inside a name they may stand


def test_every_format_character_is_blank_at_either_end_but_the_cancel_tag_may_end_a_name() -> None:
    """Unicode category Cf, as this Python knows it: the emoji tag sequence of a subdivision
    flag ends with the cancel tag U+E007F, so it may end a name, never start one."""
    for char in (chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"):
        if char in BIDI:
            continue  # refused anywhere, with its own reason
        assert text_problem("name", f"{char}a", 1, 10) is not None, f"U+{ord(char):04X}"
        ends = text_problem("name", f"a{char}", 1, 10)
        assert (ends is None) == (char == "\U000e007f"), f"U+{ord(char):04X}"
    england = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    assert text_problem("name", f"Team {england}", 1, 20) is None


@pytest.mark.parametrize("char", ["\u2028", "\u2029"])
def test_line_and_paragraph_separators_are_for_free_text_only(char: str) -> None:
    assert text_problem("description", f"a{char}b", 1, 10, multiline=True) is None
    assert text_problem("name", f"a{char}b", 1, 10) == (
        f"name must not contain U+{ord(char):04X} (at character 1)"
    )


def test_length_is_counted_in_characters_and_checked_before_the_scan() -> None:
    assert text_problem("name", "漢" * 3, 3, 3) is None
    assert text_problem("name", "ab", 3, 5) == "name must be 3 to 5 characters, got 2"
    huge = "\x00" * 10_000_000
    assert text_problem("name", huge, 1, 32) == "name must be 1 to 32 characters, got 10000000"


class Tag(str):
    """Not text to Candid: a stored subclass could not be saved with the world."""


@pytest.mark.parametrize("value", [None, 7, b"bytes", ["a"], Tag("a")])
def test_anything_but_text_is_refused_by_type(value: object) -> None:
    assert text_problem("name", value, 0, 10) == f"name must be text, got {type(value).__name__}"


@given(st.text(), st.integers(min_value=len(TRUNCATED) + 1, max_value=2000))
def test_foreign_text_always_fits_and_always_passes_the_rule(text: str, limit: int) -> None:
    carried = foreign_text(text, limit)
    assert 0 < len(carried) <= limit
    assert text_problem("reason", carried, 1, limit, multiline=True) is None


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=BIDI),
               min_size=1, max_size=50))  # fmt: skip
def test_clean_short_foreign_text_is_carried_unchanged(text: str) -> None:
    assert foreign_text(text, 50) == text


def test_foreign_text_cut_to_fit_says_so() -> None:
    assert foreign_text("x" * 100, 50) == "x" * (50 - len(TRUNCATED)) + TRUNCATED
    assert foreign_text("", 50) == "(no message)"
    assert foreign_text("a\u202eb", 50) == "a\\u202eb"


@given(strategies.text(1, 40))
def test_a_cut_of_a_valid_name_trimmed_is_valid_if_anything_is_left(name: str) -> None:
    for end in range(1, len(name) + 1):
        cut = trimmed(name[:end])
        assert cut == "" or text_problem("name", cut, 1, 40) is None


def test_trimming_takes_whitespace_and_invisible_characters_off_both_ends_only() -> None:
    assert trimmed(" \u200b a\u200db \ufeff\u3000") == "a\u200db"
    assert trimmed("\u200b \u200b") == ""
