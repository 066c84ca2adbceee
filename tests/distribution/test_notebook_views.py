"""Schedules and participants read well in a notebook: a repr that says them in words and an
HTML table that names what it shows."""

from __future__ import annotations

import pytest

from icto import Principal
from icto.distribution import Cliff, Instant, Linear, Lock, ParticipantInfo, Steps, days
from tests.helpers import parse_html


def well_formed(html: str) -> str:
    return "".join(parse_html(html).text)


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        (Instant(), "Instant(everything at the start)"),
        (Linear(days(30)), "Linear(evenly over 30 days)"),
        (Cliff(days(90), 1_000, days(365)),
         "Cliff(nothing for 90 days, 10% then, the rest evenly over 365 days)"),
        (Steps(((0, 2_500), (days(30), 7_500))), "Steps(25% at 0 ns, 75% at 30 days)"),
        (Lock(3600 * 10**9), "Lock(everything at 1 h)"),
    ],
)  # fmt: skip
def test_a_schedule_says_itself_in_words_and_tables_its_milestones(
    schedule: object, words: str
) -> None:
    assert repr(schedule) == words
    text = well_formed(schedule._repr_html_())  # type: ignore[attr-defined]
    assert words in text and "100%" in text


def test_a_participant_is_a_table_of_its_amounts() -> None:
    info = ParticipantInfo(
        user=Principal.from_name("bob"), allocation=1_000, unlocked=250, claimed=100,
        claimable=150, next_unlock=None, early_unlocked=False,
    )  # fmt: skip
    text = well_formed(info._repr_html_())
    for fragment in ("Participant", "allocation", "1,000", "claimable", "150", str(info.user)):
        assert fragment in text
