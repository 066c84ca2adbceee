"""Vesting schedules are pure integer functions of (schedule, allocation, elapsed ns): nothing
before the start, the initial part at the start, never more than the allocation, never
decreasing, everything from the end on, and exactly the floor of the rational formula (so a small
allocation over a long linear schedule unlocks its first unit as soon as the exact amount reaches
one). ``next_unlock`` names the first instant at which more unlocks, ``unlock_curve`` plots the
schedule through its every breakpoint, and ``schedule_problems`` refuses malformed schedules."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icto.distribution import (
    BP,
    Cliff,
    Instant,
    Linear,
    Lock,
    Schedule,
    Steps,
    days,
    end_of,
    next_unlock,
    unlock_curve,
    unlocked,
)
from icto.distribution.schedule import schedule_problems

TEN_YEARS = 3_650 * 86_400 * 10**9
MONTH = 30 * 86_400 * 10**9
MAX_AMOUNT = 2**128 - 1
INITIAL = 2_500

INSTANT = Instant()
LINEAR = Linear(3_000)
CLIFF = Cliff(cliff=1_000, cliff_bp=2_000, duration=3_000)
STEPS = Steps(((1_000, 3_333), (2_000, 3_333), (5_000, 3_334)))
LOCK = Lock(5_000)


def curve(
    name: str, schedule: Schedule, initial_bp: int, allocation: int, points: dict[int, int]
) -> object:
    return pytest.param(schedule, initial_bp, allocation, points, id=name)


# Each point is ``elapsed: unlocked``. With INITIAL = 2_500 bp the initial part I and the rest R
# are: 1 → I 0, R 1; 7 → I 1, R 6; 1_000_003 → I 250_000, R 750_003; 10**30 → I 25 * 10**28,
# R 75 * 10**28. The Cliff's part at the cliff is C = R * 2_000 // 10_000.
TABLE = [
    curve("instant 1", INSTANT, 0, 1, {-1: 0, 0: 1, 1: 1, TEN_YEARS: 1}),
    curve("instant 7", INSTANT, 0, 7, {-1: 0, 0: 7, 1: 7, TEN_YEARS: 7}),
    curve(
        "instant prime",
        INSTANT,
        0,
        1_000_003,
        {-1: 0, 0: 1_000_003, 1: 1_000_003, TEN_YEARS: 1_000_003},
    ),
    curve("instant 10**30", INSTANT, 0, 10**30, {-1: 0, 0: 10**30, 1: 10**30, TEN_YEARS: 10**30}),
    curve("instant+initial 1", INSTANT, INITIAL, 1, {-1: 0, 0: 1, 1: 1, TEN_YEARS: 1}),
    curve("instant+initial 7", INSTANT, INITIAL, 7, {-1: 0, 0: 7, 1: 7, TEN_YEARS: 7}),
    curve(
        "instant+initial prime",
        INSTANT,
        INITIAL,
        1_000_003,
        {-1: 0, 0: 1_000_003, 1: 1_000_003, TEN_YEARS: 1_000_003},
    ),
    curve(
        "instant+initial 10**30",
        INSTANT,
        INITIAL,
        10**30,
        {-1: 0, 0: 10**30, 1: 10**30, TEN_YEARS: 10**30},
    ),
    curve(
        "linear 1",
        LINEAR,
        0,
        1,
        {
            -1: 0,
            0: 0,
            1: 0,  # 1 * 1 // 3_000
            1_000: 0,  # 1 * 1_000 // 3_000
            2_999: 0,  # 1 * 2_999 // 3_000
            3_000: 1,
            3_001: 1,
            TEN_YEARS: 1,
        },
    ),
    curve(
        "linear 7",
        LINEAR,
        0,
        7,
        {
            -1: 0,
            0: 0,
            1: 0,  # 7 * 1 // 3_000
            1_000: 2,  # 7 * 1_000 // 3_000
            2_999: 6,  # 7 * 2_999 // 3_000
            3_000: 7,
            3_001: 7,
            TEN_YEARS: 7,
        },
    ),
    curve(
        "linear prime",
        LINEAR,
        0,
        1_000_003,
        {
            -1: 0,
            0: 0,
            1: 333,  # 1_000_003 * 1 // 3_000
            1_000: 333_334,  # 1_000_003 * 1_000 // 3_000
            2_999: 999_669,  # 1_000_003 * 2_999 // 3_000
            3_000: 1_000_003,
            3_001: 1_000_003,
            TEN_YEARS: 1_000_003,
        },
    ),
    curve(
        "linear 10**30",
        LINEAR,
        0,
        10**30,
        {
            -1: 0,
            0: 0,
            1: 333_333_333_333_333_333_333_333_333,  # 10**30 * 1 // 3_000
            1_000: 333_333_333_333_333_333_333_333_333_333,  # 10**30 * 1_000 // 3_000
            2_999: 999_666_666_666_666_666_666_666_666_666,  # 10**30 * 2_999 // 3_000
            3_000: 10**30,
            3_001: 10**30,
            TEN_YEARS: 10**30,
        },
    ),
    curve(
        "linear+initial 1",
        LINEAR,
        INITIAL,
        1,
        {
            -1: 0,
            0: 0,  # 1 * 2_500 // 10_000
            1: 0,  # 0 + 1 * 1 // 3_000
            1_000: 0,  # 0 + 1 * 1_000 // 3_000
            2_999: 0,  # 0 + 1 * 2_999 // 3_000
            3_000: 1,
            3_001: 1,
            TEN_YEARS: 1,
        },
    ),
    curve(
        "linear+initial 7",
        LINEAR,
        INITIAL,
        7,
        {
            -1: 0,
            0: 1,  # 7 * 2_500 // 10_000
            1: 1,  # 1 + 6 * 1 // 3_000
            1_000: 3,  # 1 + 6 * 1_000 // 3_000
            2_999: 6,  # 1 + 6 * 2_999 // 3_000
            3_000: 7,
            3_001: 7,
            TEN_YEARS: 7,
        },
    ),
    curve(
        "linear+initial prime",
        LINEAR,
        INITIAL,
        1_000_003,
        {
            -1: 0,
            0: 250_000,  # 1_000_003 * 2_500 // 10_000
            1: 250_250,  # 250_000 + 750_003 * 1 // 3_000
            1_000: 500_001,  # 250_000 + 750_003 * 1_000 // 3_000
            2_999: 999_752,  # 250_000 + 750_003 * 2_999 // 3_000
            3_000: 1_000_003,
            3_001: 1_000_003,
            TEN_YEARS: 1_000_003,
        },
    ),
    curve(
        "linear+initial 10**30",
        LINEAR,
        INITIAL,
        10**30,
        {
            -1: 0,
            0: 250_000_000_000_000_000_000_000_000_000,  # 10**30 * 2_500 // 10_000
            1: 250_250_000_000_000_000_000_000_000_000,  # 25 * 10**28 + 75 * 10**28 * 1 // 3_000
            # 25 * 10**28 + 75 * 10**28 * 1_000 // 3_000
            1_000: 500_000_000_000_000_000_000_000_000_000,
            # 25 * 10**28 + 75 * 10**28 * 2_999 // 3_000
            2_999: 999_750_000_000_000_000_000_000_000_000,
            3_000: 10**30,
            3_001: 10**30,
            TEN_YEARS: 10**30,
        },
    ),
    curve(
        "cliff 1",
        CLIFF,
        0,
        1,
        {
            -1: 0,
            0: 0,
            999: 0,
            1_000: 0,  # 1 * 2_000 // 10_000
            1_001: 0,  # 0 + 1 * 1 // 3_000
            2_500: 0,  # 0 + 1 * 1_500 // 3_000
            3_999: 0,  # 0 + 1 * 2_999 // 3_000
            4_000: 1,
            4_001: 1,
            TEN_YEARS: 1,
        },
    ),
    curve(
        "cliff 7",
        CLIFF,
        0,
        7,
        {
            -1: 0,
            0: 0,
            999: 0,
            1_000: 1,  # 7 * 2_000 // 10_000
            1_001: 1,  # 1 + 6 * 1 // 3_000
            2_500: 4,  # 1 + 6 * 1_500 // 3_000
            3_999: 6,  # 1 + 6 * 2_999 // 3_000
            4_000: 7,
            4_001: 7,
            TEN_YEARS: 7,
        },
    ),
    curve(
        "cliff prime",
        CLIFF,
        0,
        1_000_003,
        {
            -1: 0,
            0: 0,
            999: 0,
            1_000: 200_000,  # 1_000_003 * 2_000 // 10_000
            1_001: 200_266,  # 200_000 + 800_003 * 1 // 3_000
            2_500: 600_001,  # 200_000 + 800_003 * 1_500 // 3_000
            3_999: 999_736,  # 200_000 + 800_003 * 2_999 // 3_000
            4_000: 1_000_003,
            4_001: 1_000_003,
            TEN_YEARS: 1_000_003,
        },
    ),
    curve(
        "cliff 10**30",
        CLIFF,
        0,
        10**30,
        {
            -1: 0,
            0: 0,
            999: 0,
            1_000: 200_000_000_000_000_000_000_000_000_000,  # 10**30 * 2_000 // 10_000
            1_001: 200_266_666_666_666_666_666_666_666_666,  # 2 * 10**29 + 8 * 10**29 * 1 // 3_000
            # 2 * 10**29 + 8 * 10**29 * 1_500 // 3_000
            2_500: 600_000_000_000_000_000_000_000_000_000,
            # 2 * 10**29 + 8 * 10**29 * 2_999 // 3_000
            3_999: 999_733_333_333_333_333_333_333_333_333,
            4_000: 10**30,
            4_001: 10**30,
            TEN_YEARS: 10**30,
        },
    ),
    curve(
        "cliff+initial 1",
        CLIFF,
        INITIAL,
        1,
        {
            -1: 0,
            0: 0,  # 1 * 2_500 // 10_000
            999: 0,
            1_000: 0,  # 0 + 1 * 2_000 // 10_000
            1_001: 0,  # 0 + 1 * 1 // 3_000
            2_500: 0,  # 0 + 1 * 1_500 // 3_000
            3_999: 0,  # 0 + 1 * 2_999 // 3_000
            4_000: 1,
            4_001: 1,
            TEN_YEARS: 1,
        },
    ),
    curve(
        "cliff+initial 7",
        CLIFF,
        INITIAL,
        7,
        {
            -1: 0,
            0: 1,  # 7 * 2_500 // 10_000
            999: 1,
            1_000: 2,  # 1 + 6 * 2_000 // 10_000
            1_001: 2,  # 2 + 5 * 1 // 3_000
            2_500: 4,  # 2 + 5 * 1_500 // 3_000
            3_999: 6,  # 2 + 5 * 2_999 // 3_000
            4_000: 7,
            4_001: 7,
            TEN_YEARS: 7,
        },
    ),
    curve(
        "cliff+initial prime",
        CLIFF,
        INITIAL,
        1_000_003,
        {
            -1: 0,
            0: 250_000,  # 1_000_003 * 2_500 // 10_000
            999: 250_000,
            1_000: 400_000,  # 250_000 + 750_003 * 2_000 // 10_000
            1_001: 400_200,  # 400_000 + 600_003 * 1 // 3_000
            2_500: 700_001,  # 400_000 + 600_003 * 1_500 // 3_000
            3_999: 999_802,  # 400_000 + 600_003 * 2_999 // 3_000
            4_000: 1_000_003,
            4_001: 1_000_003,
            TEN_YEARS: 1_000_003,
        },
    ),
    curve(
        "cliff+initial 10**30",
        CLIFF,
        INITIAL,
        10**30,
        {
            -1: 0,
            0: 250_000_000_000_000_000_000_000_000_000,  # 10**30 * 2_500 // 10_000
            999: 250_000_000_000_000_000_000_000_000_000,
            # 25 * 10**28 + 75 * 10**28 * 2_000 // 10_000
            1_000: 400_000_000_000_000_000_000_000_000_000,
            1_001: 400_200_000_000_000_000_000_000_000_000,  # 4 * 10**29 + 6 * 10**29 * 1 // 3_000
            # 4 * 10**29 + 6 * 10**29 * 1_500 // 3_000
            2_500: 700_000_000_000_000_000_000_000_000_000,
            # 4 * 10**29 + 6 * 10**29 * 2_999 // 3_000
            3_999: 999_800_000_000_000_000_000_000_000_000,
            4_000: 10**30,
            4_001: 10**30,
            TEN_YEARS: 10**30,
        },
    ),
    curve(
        "steps 1",
        STEPS,
        0,
        1,
        {
            -1: 0,
            0: 0,
            999: 0,
            1_000: 0,  # 1 * 3_333 // 10_000
            1_001: 0,
            1_999: 0,
            2_000: 0,  # 1 * 6_666 // 10_000
            2_001: 0,
            4_999: 0,
            5_000: 1,
            5_001: 1,
            TEN_YEARS: 1,
        },
    ),
    curve(
        "steps 7",
        STEPS,
        0,
        7,
        {
            -1: 0,
            0: 0,
            999: 0,
            1_000: 2,  # 7 * 3_333 // 10_000
            1_001: 2,
            1_999: 2,
            2_000: 4,  # 7 * 6_666 // 10_000
            2_001: 4,
            4_999: 4,
            5_000: 7,
            5_001: 7,
            TEN_YEARS: 7,
        },
    ),
    curve(
        "steps prime",
        STEPS,
        0,
        1_000_003,
        {
            -1: 0,
            0: 0,
            999: 0,
            1_000: 333_300,  # 1_000_003 * 3_333 // 10_000
            1_001: 333_300,
            1_999: 333_300,
            2_000: 666_601,  # 1_000_003 * 6_666 // 10_000
            2_001: 666_601,
            4_999: 666_601,
            5_000: 1_000_003,
            5_001: 1_000_003,
            TEN_YEARS: 1_000_003,
        },
    ),
    curve(
        "steps 10**30",
        STEPS,
        0,
        10**30,
        {
            -1: 0,
            0: 0,
            999: 0,
            1_000: 333_300_000_000_000_000_000_000_000_000,  # 10**30 * 3_333 // 10_000
            1_001: 333_300_000_000_000_000_000_000_000_000,
            1_999: 333_300_000_000_000_000_000_000_000_000,
            2_000: 666_600_000_000_000_000_000_000_000_000,  # 10**30 * 6_666 // 10_000
            2_001: 666_600_000_000_000_000_000_000_000_000,
            4_999: 666_600_000_000_000_000_000_000_000_000,
            5_000: 10**30,
            5_001: 10**30,
            TEN_YEARS: 10**30,
        },
    ),
    curve(
        "steps+initial 1",
        STEPS,
        INITIAL,
        1,
        {
            -1: 0,
            0: 0,  # 1 * 2_500 // 10_000
            999: 0,
            1_000: 0,  # 0 + 1 * 3_333 // 10_000
            1_001: 0,
            1_999: 0,
            2_000: 0,  # 0 + 1 * 6_666 // 10_000
            2_001: 0,
            4_999: 0,
            5_000: 1,
            5_001: 1,
            TEN_YEARS: 1,
        },
    ),
    curve(
        "steps+initial 7",
        STEPS,
        INITIAL,
        7,
        {
            -1: 0,
            0: 1,  # 7 * 2_500 // 10_000
            999: 1,
            1_000: 2,  # 1 + 6 * 3_333 // 10_000
            1_001: 2,
            1_999: 2,
            2_000: 4,  # 1 + 6 * 6_666 // 10_000
            2_001: 4,
            4_999: 4,
            5_000: 7,
            5_001: 7,
            TEN_YEARS: 7,
        },
    ),
    curve(
        "steps+initial prime",
        STEPS,
        INITIAL,
        1_000_003,
        {
            -1: 0,
            0: 250_000,  # 1_000_003 * 2_500 // 10_000
            999: 250_000,
            1_000: 499_975,  # 250_000 + 750_003 * 3_333 // 10_000
            1_001: 499_975,
            1_999: 499_975,
            2_000: 749_951,  # 250_000 + 750_003 * 6_666 // 10_000
            2_001: 749_951,
            4_999: 749_951,
            5_000: 1_000_003,
            5_001: 1_000_003,
            TEN_YEARS: 1_000_003,
        },
    ),
    curve(
        "steps+initial 10**30",
        STEPS,
        INITIAL,
        10**30,
        {
            -1: 0,
            0: 250_000_000_000_000_000_000_000_000_000,  # 10**30 * 2_500 // 10_000
            999: 250_000_000_000_000_000_000_000_000_000,
            # 25 * 10**28 + 75 * 10**28 * 3_333 // 10_000
            1_000: 499_975_000_000_000_000_000_000_000_000,
            1_001: 499_975_000_000_000_000_000_000_000_000,
            1_999: 499_975_000_000_000_000_000_000_000_000,
            # 25 * 10**28 + 75 * 10**28 * 6_666 // 10_000
            2_000: 749_950_000_000_000_000_000_000_000_000,
            2_001: 749_950_000_000_000_000_000_000_000_000,
            4_999: 749_950_000_000_000_000_000_000_000_000,
            5_000: 10**30,
            5_001: 10**30,
            TEN_YEARS: 10**30,
        },
    ),
    curve("lock 1", LOCK, 0, 1, {-1: 0, 0: 0, 4_999: 0, 5_000: 1, 5_001: 1, TEN_YEARS: 1}),
    curve("lock 7", LOCK, 0, 7, {-1: 0, 0: 0, 4_999: 0, 5_000: 7, 5_001: 7, TEN_YEARS: 7}),
    curve(
        "lock prime",
        LOCK,
        0,
        1_000_003,
        {-1: 0, 0: 0, 4_999: 0, 5_000: 1_000_003, 5_001: 1_000_003, TEN_YEARS: 1_000_003},
    ),
    curve(
        "lock 10**30",
        LOCK,
        0,
        10**30,
        {-1: 0, 0: 0, 4_999: 0, 5_000: 10**30, 5_001: 10**30, TEN_YEARS: 10**30},
    ),
    curve(
        "lock+initial 1",
        LOCK,
        INITIAL,
        1,
        {
            -1: 0,
            0: 0,  # 1 * 2_500 // 10_000
            4_999: 0,
            5_000: 1,
            5_001: 1,
            TEN_YEARS: 1,
        },
    ),
    curve(
        "lock+initial 7",
        LOCK,
        INITIAL,
        7,
        {
            -1: 0,
            0: 1,  # 7 * 2_500 // 10_000
            4_999: 1,
            5_000: 7,
            5_001: 7,
            TEN_YEARS: 7,
        },
    ),
    curve(
        "lock+initial prime",
        LOCK,
        INITIAL,
        1_000_003,
        {
            -1: 0,
            0: 250_000,  # 1_000_003 * 2_500 // 10_000
            4_999: 250_000,
            5_000: 1_000_003,
            5_001: 1_000_003,
            TEN_YEARS: 1_000_003,
        },
    ),
    curve(
        "lock+initial 10**30",
        LOCK,
        INITIAL,
        10**30,
        {
            -1: 0,
            0: 250_000_000_000_000_000_000_000_000_000,  # 10**30 * 2_500 // 10_000
            4_999: 250_000_000_000_000_000_000_000_000_000,
            5_000: 10**30,
            5_001: 10**30,
            TEN_YEARS: 10**30,
        },
    ),
]


@pytest.mark.parametrize(("schedule", "initial_bp", "allocation", "points"), TABLE)
def test_each_schedule_unlocks_the_worked_out_amount_at_each_instant(
    schedule: Schedule, initial_bp: int, allocation: int, points: dict[int, int]
) -> None:
    assert {
        elapsed: unlocked(schedule, allocation, elapsed, initial_bp) for elapsed in points
    } == points


def test_steps_written_as_lists_are_the_same_steps() -> None:
    written = Steps([[0, 2_500], (3_000, 7_500)])
    assert written == Steps(((0, 2_500), (3_000, 7_500)))
    assert schedule_problems(written) == []


def test_the_end_of_each_schedule_is_its_last_instant() -> None:
    assert [end_of(schedule) for schedule in (INSTANT, LINEAR, CLIFF, STEPS, LOCK)] == [
        0,
        3_000,
        4_000,  # 1_000 + 3_000
        5_000,
        5_000,
    ]


# -- properties -------------------------------------------------------------------------------

durations = st.integers(1, TEN_YEARS)
instants = st.integers(0, TEN_YEARS)
allocations = st.one_of(st.integers(1, 1_000), st.integers(1, MAX_AMOUNT))
initial_bps = st.one_of(st.just(0), st.integers(0, BP))


@st.composite
def steps(draw: st.DrawFn) -> Steps:
    """1 to 10 strictly ascending offsets whose positive bps sum to ``BP``."""
    count = draw(st.integers(1, 10))
    offsets = draw(st.lists(instants, min_size=count, max_size=count, unique=True))
    cuts = draw(st.lists(st.integers(1, BP - 1), min_size=count - 1, max_size=count - 1,
                         unique=True))  # fmt: skip
    bps = [high - low for low, high in itertools.pairwise([0, *sorted(cuts), BP])]
    return Steps(tuple(zip(sorted(offsets), bps, strict=True)))


schedules = st.one_of(
    st.just(Instant()),
    st.builds(Linear, durations),
    st.builds(Cliff, instants, st.integers(0, BP), durations),
    steps(),
    st.builds(Lock, instants),
)


def landmarks(schedule: Schedule) -> list[int]:
    """The start, the schedule's own instants and its end, each with the ns on either side."""
    if isinstance(schedule, Cliff):
        own = [schedule.cliff]
    elif isinstance(schedule, Steps):
        own = [offset for offset, _ in schedule.steps]
    elif isinstance(schedule, Lock):
        own = [schedule.until]
    else:
        own = []
    return sorted({t + d for t in (0, *own, end_of(schedule)) for d in (-1, 0, 1)})


def moments(schedule: Schedule) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(landmarks(schedule)), st.integers(-TEN_YEARS, 2 * TEN_YEARS))


@given(schedules)
def test_the_generated_schedules_are_valid(schedule: Schedule) -> None:
    assert schedule_problems(schedule) == []


@given(schedules, allocations, initial_bps, st.data())
def test_unlocked_stays_between_zero_and_the_allocation(
    schedule: Schedule, allocation: int, initial_bp: int, data: st.DataObject
) -> None:
    for elapsed in [*landmarks(schedule), data.draw(moments(schedule))]:
        assert 0 <= unlocked(schedule, allocation, elapsed, initial_bp) <= allocation


@given(schedules, allocations, initial_bps, st.data())
def test_unlocked_never_decreases_as_time_passes(
    schedule: Schedule, allocation: int, initial_bp: int, data: st.DataObject
) -> None:
    drawn = [data.draw(moments(schedule)) for _ in range(4)]
    times = sorted({*landmarks(schedule), *drawn})
    amounts = [unlocked(schedule, allocation, t, initial_bp) for t in times]
    assert amounts == sorted(amounts)


@given(schedules, allocations, initial_bps, st.integers(0, TEN_YEARS))
def test_everything_is_unlocked_at_and_after_the_end(
    schedule: Schedule, allocation: int, initial_bp: int, later: int
) -> None:
    end = end_of(schedule)
    assert unlocked(schedule, allocation, end, initial_bp) == allocation
    assert unlocked(schedule, allocation, end + later, initial_bp) == allocation


@given(schedules, allocations, initial_bps, st.integers(1, TEN_YEARS))
def test_nothing_is_unlocked_before_the_start(
    schedule: Schedule, allocation: int, initial_bp: int, before: int
) -> None:
    assert unlocked(schedule, allocation, -before, initial_bp) == 0
    assert unlocked(schedule, allocation, -1, initial_bp) == 0


@given(schedules, allocations, initial_bps)
def test_at_least_the_initial_part_is_unlocked_at_the_start(
    schedule: Schedule, allocation: int, initial_bp: int
) -> None:
    assert unlocked(schedule, allocation, 0, initial_bp) >= allocation * initial_bp // BP


# -- a small allocation over a month, to the nanosecond -------------------------------------


@pytest.mark.parametrize(
    ("allocation", "points"),
    [
        (1, {MONTH - 1: 0, MONTH: 1}),
        (30, {days(1) - 1: 0, days(1): 1, days(15): 15, MONTH - 1: 29}),
        # 7 * 370_285_714_285_714 = 2_591_999_999_999_998 < MONTH
        # 7 * 370_285_714_285_715 = 2_592_000_000_000_005 >= MONTH
        (7, {370_285_714_285_714: 0, 370_285_714_285_715: 1}),
        (MONTH, {1: 1, 2: 2, MONTH - 1: MONTH - 1}),
    ],
)
def test_a_small_linear_allocation_unlocks_its_first_unit_as_soon_as_it_is_owed(
    allocation: int, points: dict[int, int]
) -> None:
    assert days(30) == MONTH == 2_592_000_000_000_000
    assert {t: unlocked(Linear(days(30)), allocation, t) for t in points} == points


@given(st.one_of(st.integers(1, 1_000), st.integers(1, 10**30)), st.data())
def test_linear_vesting_over_a_month_is_the_exact_formula_rounded_down(
    allocation: int, data: st.DataObject
) -> None:
    first_owed = -(-MONTH // allocation)
    near = [t for t in (first_owed - 1, first_owed, first_owed + 1) if 0 <= t <= MONTH]
    t = data.draw(st.one_of(st.sampled_from(near), st.integers(0, MONTH)))
    got = unlocked(Linear(days(30)), allocation, t)
    exact = Fraction(allocation * t, MONTH)
    if exact >= 1:
        assert got > 0
    assert got == math.floor(exact)


# -- next_unlock ----------------------------------------------------------------------------


@given(schedules, allocations, initial_bps, st.data())
def test_next_unlock_is_the_first_instant_at_which_more_unlocks(
    schedule: Schedule, allocation: int, initial_bp: int, data: st.DataObject
) -> None:
    elapsed = data.draw(moments(schedule))
    now = unlocked(schedule, allocation, elapsed, initial_bp)
    found = next_unlock(schedule, allocation, elapsed, initial_bp)
    if now == allocation:
        assert found is None
        return
    assert found is not None
    assert found > elapsed
    assert unlocked(schedule, allocation, found, initial_bp) > now
    assert unlocked(schedule, allocation, found - 1, initial_bp) == now


@pytest.mark.parametrize(
    ("schedule", "allocation", "initial_bp", "elapsed", "expected"),
    [
        (INSTANT, 7, 0, -1, 0),
        (LINEAR, 7, INITIAL, -1, 0),  # 7 * 2_500 // 10_000 = 1 at the start
        (LINEAR, 1_000_003, 0, -1, 1),  # 1_000_003 * 1 // 3_000 = 333
        (LINEAR, 1, 0, -1, 3_000),  # 1 * 2_999 // 3_000 = 0
        (LINEAR, 7, 0, -1, 429),  # 7 * 428 // 3_000 = 0, 7 * 429 // 3_000 = 1
        (CLIFF, 7, 0, -5, 1_000),  # 7 * 2_000 // 10_000 = 1 at the cliff
        (STEPS, 7, 0, -1, 1_000),  # 7 * 3_333 // 10_000 = 2 at the first step
        (LOCK, 7, 0, -1, 5_000),
        (LOCK, 1, INITIAL, -1, 5_000),  # 1 * 2_500 // 10_000 = 0 at the start
    ],
    ids=str,
)
def test_before_the_start_the_next_unlock_is_when_the_first_unit_unlocks(
    schedule: Schedule, allocation: int, initial_bp: int, elapsed: int, expected: int
) -> None:
    assert next_unlock(schedule, allocation, elapsed, initial_bp) == expected


@pytest.mark.parametrize(
    ("schedule", "allocation", "initial_bp", "elapsed", "expected"),
    [
        (INSTANT, 7, 0, 0, None),
        (LINEAR, 7, 0, 0, 429),  # 7 * 428 // 3_000 = 0, 7 * 429 // 3_000 = 1
        (LINEAR, 7, 0, 429, 858),  # 7 * 857 // 3_000 = 1, 7 * 858 // 3_000 = 2
        (LINEAR, 7, 0, 2_999, 3_000),
        (LINEAR, 7, 0, 3_000, None),
        (CLIFF, 7, 0, 999, 1_000),
        (CLIFF, 7, 0, 1_000, 1_500),  # 1 + 6 * 499 // 3_000 = 1, 1 + 6 * 500 // 3_000 = 2
        (CLIFF, 1, 0, 0, 4_000),  # 1 * 2_000 // 10_000 = 0 at the cliff
        (STEPS, 1, 0, 0, 5_000),  # 1 * 3_333 // 10_000 = 1 * 6_666 // 10_000 = 0
        (STEPS, 7, 0, 1_000, 2_000),
        (LOCK, 7, INITIAL, 0, 5_000),
        (LOCK, 7, INITIAL, 5_000, None),
    ],
    ids=str,
)
def test_the_next_unlock_is_the_worked_out_instant(
    schedule: Schedule, allocation: int, initial_bp: int, elapsed: int, expected: int | None
) -> None:
    assert next_unlock(schedule, allocation, elapsed, initial_bp) == expected


# -- unlock_curve ---------------------------------------------------------------------------


@given(schedules, allocations, initial_bps, st.integers(2, 60))
def test_the_unlock_curve_runs_from_the_start_to_the_end_through_every_breakpoint(
    schedule: Schedule, allocation: int, initial_bp: int, points: int
) -> None:
    """The curve ends at the schedule's end, or 1 ns after the start when everything unlocks at
    the start (a curve has at least two points)."""
    pairs = unlock_curve(schedule, allocation, initial_bp, points)
    times = [t for t, _ in pairs]
    amounts = [amount for _, amount in pairs]
    assert times == sorted(set(times))
    assert times[0] == 0
    assert times[-1] == max(end_of(schedule), 1)
    assert amounts == sorted(amounts)
    assert amounts[-1] == allocation
    assert all(amount == unlocked(schedule, allocation, t, initial_bp) for t, amount in pairs)
    if isinstance(schedule, Cliff):
        breaks = [schedule.cliff]
    elif isinstance(schedule, Steps):
        breaks = [offset for offset, _ in schedule.steps]
    elif isinstance(schedule, Lock):
        breaks = [schedule.until]
    else:
        breaks = []
    for instant in breaks:
        assert instant in times
        assert max(instant - 1, 0) in times


def test_the_unlock_curve_of_steps_shows_each_jump() -> None:
    assert unlock_curve(STEPS, 7, 0, 2) == (
        (0, 0),
        (999, 0),
        (1_000, 2),  # 7 * 3_333 // 10_000
        (1_999, 2),
        (2_000, 4),  # 7 * 6_666 // 10_000
        (4_999, 4),
        (5_000, 7),
    )


@pytest.mark.parametrize(
    ("schedule", "allocation", "initial_bp", "points", "error", "reason"),
    [
        (LINEAR, 1_000, BP + 1, 3, ValueError, "initial_bp must be from 0 to 10000"),
        (LINEAR, 1_000, -1, 3, ValueError, "initial_bp must be from 0 to 10000"),
        (LINEAR, -1_000, 0, 3, ValueError, "allocation must be at least 0"),
        (Linear(0), 1_000, 0, 3, ValueError, "a Linear duration is an int of ns > 0"),
        (LINEAR, 1_000, 0, 1, ValueError, "at least 2 points"),
        (LINEAR, 1_000.0, 0, 3, TypeError, "allocation must be an int, got float"),
        (LINEAR, 1_000, True, 3, TypeError, "initial_bp must be an int, got bool"),
        (LINEAR, 1_000, 0, "3", TypeError, "points must be an int, got str"),
        ("linear", 1_000, 0, 3, TypeError, "schedule must be Instant, Linear, Cliff, Steps"),
    ],
)
def test_an_unlock_curve_no_distribution_could_have_is_refused(
    schedule: Any,
    allocation: Any,
    initial_bp: Any,
    points: Any,
    error: type[Exception],
    reason: str,
) -> None:
    """More unlocked than allocated, or less and less, is no curve: refused, not drawn."""
    with pytest.raises(error, match=reason):
        unlock_curve(schedule, allocation, initial_bp, points)


def test_the_unlock_curve_takes_an_empty_allocation_and_every_initial_bp() -> None:
    assert unlock_curve(LINEAR, 0, 0, 2) == ((0, 0), (3_000, 0))
    assert unlock_curve(LINEAR, 1_000, BP, 2) == ((0, 1_000), (3_000, 1_000))


# -- schedule_problems ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "problems"),
    [
        (Linear(0), ["a Linear duration is an int of ns > 0"]),
        (Linear(-5), ["a Linear duration is an int of ns > 0"]),
        (Linear(True), ["a Linear duration is an int of ns > 0"]),
        (Cliff(0, 10_001, 1), ["a Cliff's cliff_bp is an int from 0 to 10000"]),
        (
            Cliff(-1, -1, 0),
            [
                "a Cliff's cliff is an int of ns >= 0",
                "a Cliff's cliff_bp is an int from 0 to 10000",
                "a Cliff's duration is an int of ns > 0",
            ],
        ),
        (Steps(((2, 5_000), (1, 5_000))), ["Steps' offsets are strictly ascending"]),
        (Steps(((1, 5_000), (1, 5_000))), ["Steps' offsets are strictly ascending"]),
        (Steps(((1, 4_999), (2, 5_000))), ["Steps' bps sum to exactly 10000"]),
        (
            Steps(((2, 4_999), (1, 5_000))),
            ["Steps' offsets are strictly ascending", "Steps' bps sum to exactly 10000"],
        ),
        (Steps(()), ["Steps are 1 to 100 (offset >= 0, bp > 0) pairs"]),
        (Steps(((0, 10_000), (1, 0))), ["Steps are 1 to 100 (offset >= 0, bp > 0) pairs"]),
        (
            Steps(tuple((i, 100) for i in range(101))),
            ["Steps are 1 to 100 (offset >= 0, bp > 0) pairs"],
        ),
        (Lock(-1), ["a Lock's until is an int of ns >= 0"]),
        ("linear", ["a schedule is Instant, Linear, Cliff, Steps or Lock, got 'linear'"]),
        (None, ["a schedule is Instant, Linear, Cliff, Steps or Lock, got None"]),
    ],
)
def test_a_malformed_schedule_is_refused_with_its_reason(
    schedule: object, problems: list[str]
) -> None:
    assert schedule_problems(schedule) == problems


@pytest.mark.parametrize(
    "schedule",
    [
        Instant(),
        Linear(1),
        Cliff(0, 0, 1),
        Cliff(0, 10_000, 1),
        Steps(((0, 10_000),)),
        Steps(tuple((i, 100) for i in range(100))),
        Lock(0),
    ],
)
def test_a_well_formed_schedule_has_no_problems(schedule: Schedule) -> None:
    assert schedule_problems(schedule) == []
