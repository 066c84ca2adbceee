"""Vesting schedules as pure functions of (schedule, allocation, elapsed time): exact integer
math, multiply before divide, never above the allocation, never decreasing, and equal to the
allocation at the end.

Times are nanoseconds *after the distribution's start* (``elapsed``); nothing is unlocked before
it. ``initial_bp`` of the allocation (basis points, ``BP = 10_000``) is unlocked at the start
whatever the schedule; the schedule applies to the rest.
"""

from __future__ import annotations

from typing import Final, TypeAlias

import attrs

from icto.ic.argcheck import is_int
from icto.ic.world import MAX_TIME
from icto.validation import is_nat, pairs

BP: Final = 10_000
NS_PER_DAY: Final = 24 * 3600 * 10**9
MAX_STEPS: Final = 100


def span(ns: int) -> str:
    """A duration as people say it: ``30 days``, ``36 h``, ``90 s``, ``7 ns``."""
    for unit, size in (("days", NS_PER_DAY), ("h", 3600 * 10**9), ("s", 10**9)):
        if ns >= size and ns % size == 0:
            return f"{ns // size:,} {unit}"
    if ns >= NS_PER_DAY:
        return f"{ns / NS_PER_DAY:,.3f} days"
    return f"{ns:,} ns"


def percent(bp: int) -> str:
    return f"{bp / 100:g}%"


class _Readable:
    """A schedule's readable ``repr`` and notebook table (``describe`` says it in words)."""

    def describe(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"

    def _repr_html_(self) -> str:
        from icto.ic.html import table

        rows = [
            (span(at), percent(share))
            for at, share in _milestones(self)  # type: ignore[arg-type]
        ]
        return table(repr(self), ("after", "of the rest unlocked"), rows)


@attrs.frozen(repr=False)
class Instant(_Readable):
    """Everything at the start."""

    def describe(self) -> str:
        return "everything at the start"


@attrs.frozen(repr=False)
class Linear(_Readable):
    """The rest unlocks evenly, to the nanosecond, over ``duration``."""

    duration: int

    def describe(self) -> str:
        return f"evenly over {span(self.duration)}"


@attrs.frozen(repr=False)
class Cliff(_Readable):
    """Nothing of the rest before ``cliff``; then ``cliff_bp`` of it at once, and the remainder
    evenly over ``duration`` after the cliff."""

    cliff: int
    cliff_bp: int
    duration: int

    def describe(self) -> str:
        return (
            f"nothing for {span(self.cliff)}, {percent(self.cliff_bp)} then, the rest evenly "
            f"over {span(self.duration)}"
        )


@attrs.frozen(repr=False)
class Steps(_Readable):
    """``(offset, bp)`` steps: at each offset, ``bp`` more of the rest (the bps sum to ``BP``)."""

    steps: tuple[tuple[int, int], ...] = attrs.field(converter=pairs)
    """Given as any list or tuple of pairs; kept as a tuple of tuples."""

    def describe(self) -> str:
        return ", ".join(f"{percent(bp)} at {span(offset)}" for offset, bp in self.steps)


@attrs.frozen(repr=False)
class Lock(_Readable):
    """The rest all at once at ``until``."""

    until: int

    def describe(self) -> str:
        return f"everything at {span(self.until)}"


def _milestones(schedule: Schedule) -> tuple[tuple[int, int], ...]:
    """(elapsed, bp of the rest unlocked) at the schedule's start, breaks and end."""
    moments = sorted({0, *_breaks(schedule), end_of(schedule)})
    return tuple((at, _of_rest(schedule, BP, at)) for at in moments)


Schedule: TypeAlias = Instant | Linear | Cliff | Steps | Lock
SCHEDULES: Final = (Instant, Linear, Cliff, Steps, Lock)


def days(n: int | float) -> int:
    """``n`` days in nanoseconds (a helper for configs written by hand)."""
    return int(n * NS_PER_DAY)


def initial_part(allocation: int, initial_bp: int) -> int:
    return allocation * initial_bp // BP


def unlocked(schedule: Schedule, allocation: int, elapsed: int, initial_bp: int = 0) -> int:
    """How much of ``allocation`` has unlocked ``elapsed`` ns after the start."""
    if elapsed < 0:
        return 0
    first = initial_part(allocation, initial_bp)
    rest = allocation - first
    return first + _of_rest(schedule, rest, elapsed)


def _of_rest(schedule: Schedule, rest: int, elapsed: int) -> int:
    if isinstance(schedule, Instant):
        return rest
    if isinstance(schedule, Linear):
        if elapsed >= schedule.duration:
            return rest
        return rest * elapsed // schedule.duration
    if isinstance(schedule, Cliff):
        if elapsed < schedule.cliff:
            return 0
        at_cliff = rest * schedule.cliff_bp // BP
        after = elapsed - schedule.cliff
        if after >= schedule.duration:
            return rest
        return at_cliff + (rest - at_cliff) * after // schedule.duration
    if isinstance(schedule, Steps):
        reached = sum(bp for offset, bp in schedule.steps if offset <= elapsed)
        return rest * reached // BP
    return rest if elapsed >= schedule.until else 0


def end_of(schedule: Schedule) -> int:
    """The elapsed time from which everything has unlocked."""
    if isinstance(schedule, Instant):
        return 0
    if isinstance(schedule, Linear):
        return schedule.duration
    if isinstance(schedule, Cliff):
        return schedule.cliff + schedule.duration
    if isinstance(schedule, Steps):
        return schedule.steps[-1][0] if schedule.steps else 0
    return schedule.until


def next_unlock(
    schedule: Schedule, allocation: int, elapsed: int, initial_bp: int = 0
) -> int | None:
    """The first elapsed time after ``elapsed`` at which more unlocks (``None``: nothing more
    will). Found by the schedule's own breakpoints, or by bisection on a linear stretch."""
    now = unlocked(schedule, allocation, elapsed, initial_bp)
    if now >= allocation:
        return None
    if elapsed < 0 and unlocked(schedule, allocation, 0, initial_bp) > now:
        return 0
    if isinstance(schedule, Steps):
        later = [offset for offset, _ in schedule.steps if offset > elapsed]
        for offset in later:
            if unlocked(schedule, allocation, offset, initial_bp) > now:
                return offset
        return None
    if isinstance(schedule, Lock) or (isinstance(schedule, Cliff) and elapsed < schedule.cliff):
        point = schedule.until if isinstance(schedule, Lock) else schedule.cliff
        if unlocked(schedule, allocation, point, initial_bp) > now:
            return point
    low, high = elapsed, end_of(schedule)
    while high - low > 1:
        middle = (low + high) // 2
        if unlocked(schedule, allocation, middle, initial_bp) > now:
            high = middle
        else:
            low = middle
    return high


def unlock_curve(
    schedule: Schedule, allocation: int, initial_bp: int = 0, points: int = 50
) -> tuple[tuple[int, int], ...]:
    """Plot-ready ``(elapsed, unlocked)`` pairs from the start to the end: ``points`` evenly
    spaced samples plus every step, cliff and lock instant (just before and at it).

    Arguments no distribution could hold are refused before any point is computed (the curve
    would unlock more than the allocation, or less and less): ``TypeError`` for another kind of
    value, ``ValueError`` for a malformed schedule, a negative allocation, an ``initial_bp``
    outside 0 to ``BP`` or fewer than 2 points."""
    _check_curve_arguments(schedule, allocation, initial_bp, points)
    end = max(end_of(schedule), 1)
    times = {end * i // (points - 1) for i in range(points)}
    for instant in _breaks(schedule):
        times.update({max(0, instant - 1), instant})
    return tuple((t, unlocked(schedule, allocation, t, initial_bp)) for t in sorted(times))


def _check_curve_arguments(schedule: object, allocation: object, initial_bp: object,
                           points: object) -> None:  # fmt: skip
    if not isinstance(schedule, SCHEDULES):
        raise TypeError(
            f"schedule must be Instant, Linear, Cliff, Steps or Lock, got {type(schedule).__name__}"
        )
    for name, value in (("allocation", allocation), ("initial_bp", initial_bp),
                        ("points", points)):  # fmt: skip
        if not is_int(value):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    problems = schedule_problems(schedule)
    if problems:
        raise ValueError(f"not a valid schedule: {'; '.join(problems)}")
    if allocation < 0:  # type: ignore[operator]
        raise ValueError(f"allocation must be at least 0, got {allocation}")
    if not 0 <= initial_bp <= BP:  # type: ignore[operator]
        raise ValueError(f"initial_bp must be from 0 to {BP} (basis points), got {initial_bp}")
    if points < 2:  # type: ignore[operator]
        raise ValueError("a curve needs at least 2 points")


def _breaks(schedule: Schedule) -> tuple[int, ...]:
    if isinstance(schedule, Cliff):
        return (schedule.cliff,)
    if isinstance(schedule, Steps):
        return tuple(offset for offset, _ in schedule.steps)
    if isinstance(schedule, Lock):
        return (schedule.until,)
    return ()


def schedule_problems(schedule: object) -> list[str]:
    """Every reason ``schedule`` is not a valid schedule (empty when it is): its fields, and its
    end within the IC clock's reach (2**64 - 1 ns), so no time it names is one no timer, view
    or digest can hold."""
    problems = _field_problems(schedule)
    if not problems and end_of(schedule) > MAX_TIME:  # type: ignore[arg-type]
        problems.append("a schedule ends at most 2**64 - 1 ns (IC time) after its start")
    return problems


def _field_problems(schedule: object) -> list[str]:
    if not isinstance(schedule, SCHEDULES):
        return [f"a schedule is Instant, Linear, Cliff, Steps or Lock, got {schedule!r}"]
    if isinstance(schedule, Linear):
        return [] if _positive(schedule.duration) else ["a Linear duration is an int of ns > 0"]
    if isinstance(schedule, Cliff):
        problems = []
        if not is_nat(schedule.cliff):
            problems.append("a Cliff's cliff is an int of ns >= 0")
        if not is_nat(schedule.cliff_bp) or schedule.cliff_bp > BP:
            problems.append(f"a Cliff's cliff_bp is an int from 0 to {BP}")
        if not _positive(schedule.duration):
            problems.append("a Cliff's duration is an int of ns > 0")
        return problems
    if isinstance(schedule, Steps):
        return _steps_problems(schedule.steps)
    if isinstance(schedule, Lock):
        return [] if is_nat(schedule.until) else ["a Lock's until is an int of ns >= 0"]
    return []


def _positive(value: object) -> bool:
    return is_nat(value) and value > 0  # type: ignore[operator]


def _steps_problems(steps: object) -> list[str]:
    if not isinstance(steps, tuple) or not 1 <= len(steps) <= MAX_STEPS or not all(
        isinstance(step, tuple) and len(step) == 2 and is_nat(step[0]) and _positive(step[1])
        for step in steps
    ):  # fmt: skip
        return [f"Steps are 1 to {MAX_STEPS} (offset >= 0, bp > 0) pairs"]
    offsets = [offset for offset, _ in steps]
    problems = []
    if offsets != sorted(set(offsets)):
        problems.append("Steps' offsets are strictly ascending")
    if sum(bp for _, bp in steps) != BP:
        problems.append(f"Steps' bps sum to exactly {BP}")
    return problems
