"""Compare two pytest-benchmark runs: ``python -m benchmarks.compare BASELINE.json CURRENT.json``.

Both files are what ``pytest --benchmark-json=FILE`` writes. Benchmarks are matched by full name
(``benchmarks/test_x.py::test_y[param]``) and the table shows each one's baseline median, current
median and change; a benchmark whose median grew by more than the threshold (10 % unless
``--threshold`` says otherwise) is flagged ``REGRESSED``, and the command then exits with status 1
(0 with ``--no-fail``). ``--markdown`` prints the table as Markdown, for ``benchmarks/README.md``;
``--stat min`` compares each benchmark's fastest round instead of its median.

The medians are per call of the benchmarked function (several operations for most benchmarks),
which is what a comparison needs: the same benchmark does the same operations before and after.
Benchmarks found in one file only are listed as ``new`` or ``gone`` and never count as regressed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

THRESHOLD_PERCENT = 10.0
"""How much slower (in %) a benchmark's median may get before it counts as regressed."""

REGRESSED = "REGRESSED"
IMPROVED = "improved"
NEW = "new"
GONE = "gone"


@dataclass(frozen=True)
class Row:
    """One benchmark's medians (seconds) in the two runs; ``None`` where it did not run."""

    name: str
    baseline: float | None
    current: float | None

    @property
    def change(self) -> float | None:
        """(current - baseline) / baseline, or ``None`` without both medians."""
        if self.baseline is None or self.current is None or self.baseline <= 0:
            return None
        return (self.current - self.baseline) / self.baseline

    def status(self, threshold_percent: float = THRESHOLD_PERCENT) -> str:
        if self.baseline is None:
            return NEW
        if self.current is None:
            return GONE
        change = self.change
        if change is None:
            return ""
        percent = round(change * 100, 9)  # 1.0 → 1.1 is 10 %, not 10.000000000000009 %
        if percent > threshold_percent:
            return REGRESSED
        if percent < -threshold_percent:
            return IMPROVED
        return ""


STATISTICS = ("median", "min")
"""What may be compared: the median (the default), or the fastest round, which a busy machine
can only make slower (the steadier figure where the machine's speed changes during a run)."""


def statistic(report: Mapping[str, Any], stat: str = "median") -> dict[str, float]:
    """Full benchmark name → that statistic in seconds, from a ``--benchmark-json`` report
    (benchmarks without it, as in a ``--benchmark-disable`` run, are left out)."""
    if stat not in STATISTICS:
        raise ValueError(f"stat must be one of {STATISTICS}, got {stat!r}")
    found: dict[str, float] = {}
    for bench in report.get("benchmarks", ()):
        name = bench.get("fullname") or bench.get("name")
        value = (bench.get("stats") or {}).get(stat)
        if isinstance(name, str) and isinstance(value, int | float) and value >= 0:
            found[name] = float(value)
    return found


def medians(report: Mapping[str, Any]) -> dict[str, float]:
    """Full benchmark name → median seconds (``statistic(report, "median")``)."""
    return statistic(report, "median")


def compare(
    baseline: Mapping[str, Any], current: Mapping[str, Any], stat: str = "median"
) -> list[Row]:
    """One row per benchmark in either report: those of the current run in its order, then
    those only in the baseline."""
    before, after = statistic(baseline, stat), statistic(current, stat)
    names = list(after) + [name for name in before if name not in after]
    return [Row(name, before.get(name), after.get(name)) for name in names]


def regressions(rows: Iterable[Row], threshold_percent: float = THRESHOLD_PERCENT) -> list[Row]:
    return [row for row in rows if row.status(threshold_percent) == REGRESSED]


def duration(seconds: float | None) -> str:
    """``seconds`` in the unit that keeps it readable: ns, µs, ms or s."""
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:,.3f} {unit}"
    return f"{seconds / 1e-9:,.1f} ns"


def percent(change: float | None) -> str:
    return "-" if change is None else f"{change * 100:+.1f}%"


def table(
    rows: Sequence[Row],
    threshold_percent: float = THRESHOLD_PERCENT,
    markdown: bool = False,
    stat: str = "median",
) -> str:
    """The comparison as text (aligned columns) or as a Markdown table, with a closing line that
    counts the regressions."""
    header = ("benchmark", f"baseline {stat}", f"current {stat}", "change", "")
    cells = [
        (row.name, duration(row.baseline), duration(row.current), percent(row.change),
         row.status(threshold_percent))
        for row in rows
    ]  # fmt: skip
    if markdown:
        lines = [
            "| " + " | ".join(header[:4]) + " | flag |",
            "|---|---:|---:|---:|---|",
            *(f"| `{name}` | {before} | {after} | {change} | {flag} |"
              for name, before, after, change, flag in cells),
        ]  # fmt: skip
    else:
        widths = [max(len(line[i]) for line in (header, *cells)) for i in range(len(header))]
        align = ("<", ">", ">", ">", "<")
        lines = [
            "  ".join(f"{cell:{how}{width}}" for cell, how, width in zip(line, align, widths,
                                                                          strict=True)).rstrip()
            for line in (header, *cells)
        ]  # fmt: skip
        lines.insert(1, "  ".join("-" * width for width in widths).rstrip())
    worse = regressions(rows, threshold_percent)
    compared = sum(row.change is not None for row in rows)
    summary = (
        f"{compared} benchmarks compared; {len(worse)} more than {threshold_percent:g}% slower"
        + (": " + ", ".join(row.name for row in worse) if worse else "")
    )
    return "\n".join([*lines, "", summary])


def _load(path: str) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ValueError(f"{path} is not a pytest-benchmark JSON report (no 'benchmarks' list)")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description="Compare two pytest-benchmark JSON reports (--benchmark-json) by median.",
    )
    parser.add_argument("baseline", help="the report of the baseline run")
    parser.add_argument("current", help="the report of the run to judge")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--threshold", type=float, default=THRESHOLD_PERCENT, metavar="PERCENT",
        help="how much slower a median may get before it counts as regressed (default 10)",
    )  # fmt: skip
    parser.add_argument(
        "--no-fail", action="store_true", help="exit with status 0 even if some regressed"
    )
    parser.add_argument(
        "--stat", choices=STATISTICS, default="median",
        help="compare medians (default) or each benchmark's fastest round",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        baseline, current = _load(args.baseline), _load(args.current)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = compare(baseline, current, args.stat)
    print(table(rows, args.threshold, args.markdown, args.stat))
    return 1 if regressions(rows, args.threshold) and not args.no_fail else 0


if __name__ == "__main__":
    sys.exit(main())
