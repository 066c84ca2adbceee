"""``benchmarks.compare``: two small pytest-benchmark reports built by hand (no timing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.compare import (
    GONE,
    IMPROVED,
    NEW,
    REGRESSED,
    compare,
    main,
    medians,
    statistic,
    table,
)

FLAT = "benchmarks/test_a.py::test_flat"
SLOWER = "benchmarks/test_a.py::test_slower[large-1000]"
BORDER = "benchmarks/test_a.py::test_border"
FASTER = "benchmarks/test_b.py::test_faster"
ADDED = "benchmarks/test_b.py::test_added"
DROPPED = "benchmarks/test_b.py::test_dropped"
TWIN = "benchmarks/test_c.py::test_flat"
"""Same short name as ``FLAT`` in another file: matched by full name, not mixed up with it."""


def _report(times: dict[str, float | None]) -> dict[str, Any]:
    """A report shaped like ``--benchmark-json`` output (``None``: a benchmark without stats)."""
    return {
        "machine_info": {},
        "commit_info": {},
        "version": "5.1.0",
        "benchmarks": [
            {
                "group": None,
                "name": name.rpartition("::")[2],
                "fullname": name,
                "params": None,
                "stats": None if median is None else {"median": median, "mean": median * 2},
            }
            for name, median in times.items()
        ],
    }


BASELINE = _report({FLAT: 2e-6, SLOWER: 1e-3, BORDER: 1.0, FASTER: 5e-9, DROPPED: 1.0, TWIN: 7e-6})
CURRENT = _report(
    {FLAT: 2.1e-6, SLOWER: 1.25e-3, BORDER: 1.1, FASTER: 2.5e-9, ADDED: 1.0, TWIN: 1e-6}
)
CLEAN = _report({FLAT: 2.1e-6, SLOWER: 1.05e-3, BORDER: 0.95, FASTER: 5e-9, TWIN: 7e-6})


def _write(path: Path, report: dict[str, Any]) -> str:
    path.write_text(json.dumps(report), encoding="utf-8")
    return str(path)


def test_medians_are_read_by_full_name() -> None:
    found = medians(_report({FLAT: 2e-6, TWIN: 7e-6, "benchmarks/test_d.py::test_off": None}))
    assert found == {FLAT: 2e-6, TWIN: 7e-6}


def test_each_benchmark_is_matched_by_full_name_and_flagged() -> None:
    rows = {row.name: row for row in compare(BASELINE, CURRENT)}
    assert list(rows) == [FLAT, SLOWER, BORDER, FASTER, ADDED, TWIN, DROPPED]
    assert (rows[FLAT].baseline, rows[FLAT].current) == (2e-6, 2.1e-6)
    assert (rows[TWIN].baseline, rows[TWIN].current) == (7e-6, 1e-6)
    assert rows[SLOWER].change == pytest.approx(0.25)
    assert rows[FASTER].change == pytest.approx(-0.5)
    flags = {name: row.status() for name, row in rows.items()}
    assert flags == {
        FLAT: "",  # +5 %
        SLOWER: REGRESSED,  # +25 %
        BORDER: "",  # +10 % exactly: not more than 10 %
        FASTER: IMPROVED,
        ADDED: NEW,
        TWIN: IMPROVED,
        DROPPED: GONE,
    }
    assert rows[SLOWER].status(threshold_percent=30) == ""
    assert rows[FLAT].status(threshold_percent=4) == REGRESSED


def test_the_text_table() -> None:
    text = table(compare(BASELINE, CURRENT))
    lines = text.splitlines()
    assert lines[0].split() == ["benchmark", "baseline", "median", "current", "median", "change"]
    assert set(lines[1]) <= {"-", " "}
    slower = next(line for line in lines if line.startswith(SLOWER))
    assert slower.split()[1:] == ["1.000", "ms", "1.250", "ms", "+25.0%", REGRESSED]
    flat = next(line for line in lines if line.startswith(FLAT))
    assert flat.split()[1:] == ["2.000", "µs", "2.100", "µs", "+5.0%"]
    faster = next(line for line in lines if line.startswith(FASTER))
    assert faster.split()[1:] == ["5.0", "ns", "2.5", "ns", "-50.0%", IMPROVED]
    dropped = next(line for line in lines if line.startswith(DROPPED))
    assert dropped.split()[1:] == ["1.000", "s", "-", "-", GONE]
    assert sum(REGRESSED in line for line in lines) == 1
    assert lines[-1] == f"5 benchmarks compared; 1 more than 10% slower: {SLOWER}"


def test_the_markdown_table() -> None:
    lines = table(compare(BASELINE, CURRENT), markdown=True).splitlines()
    assert lines[0] == "| benchmark | baseline median | current median | change | flag |"
    assert lines[1] == "|---|---:|---:|---:|---|"
    assert f"| `{SLOWER}` | 1.000 ms | 1.250 ms | +25.0% | {REGRESSED} |" in lines
    assert f"| `{FLAT}` | 2.000 µs | 2.100 µs | +5.0% |  |" in lines
    assert f"| `{ADDED}` | - | 1.000 s | - | {NEW} |" in lines
    rows = [line for line in lines if line.startswith("| `")]
    assert len(rows) == 7 and all(line.count("|") == 6 for line in rows)


def test_the_command_fails_on_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = _write(tmp_path / "baseline.json", BASELINE)
    current = _write(tmp_path / "current.json", CURRENT)
    assert main([baseline, current]) == 1
    out = capsys.readouterr().out
    assert REGRESSED in out and SLOWER in out
    assert main([baseline, current, "--no-fail"]) == 0
    assert REGRESSED in capsys.readouterr().out
    assert main([baseline, current, "--threshold", "30"]) == 0
    assert REGRESSED not in capsys.readouterr().out
    assert main([baseline, current, "--markdown"]) == 1
    assert capsys.readouterr().out.startswith("| benchmark |")


def test_the_command_passes_without_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = _write(tmp_path / "baseline.json", BASELINE)
    clean = _write(tmp_path / "clean.json", CLEAN)
    assert main([baseline, clean]) == 0
    out = capsys.readouterr().out
    assert REGRESSED not in out
    assert out.splitlines()[-1] == "5 benchmarks compared; 0 more than 10% slower"


def test_the_command_rejects_what_is_not_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = _write(tmp_path / "baseline.json", BASELINE)
    other = tmp_path / "other.json"
    other.write_text('{"results": []}', encoding="utf-8")
    assert main([baseline, str(other)]) == 2
    assert main([baseline, str(tmp_path / "missing.json")]) == 2
    assert "error:" in capsys.readouterr().err


def _with_minimums(report: dict[str, Any], minimums: dict[str, float]) -> dict[str, Any]:
    """``report`` with a fastest round added to the named benchmarks' stats."""
    for bench in report["benchmarks"]:
        if bench["fullname"] in minimums:
            bench["stats"] = {**bench["stats"], "min": minimums[bench["fullname"]]}
    return report


def test_the_fastest_rounds_can_be_compared_instead_of_the_medians(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    noisy = _with_minimums(_report({FLAT: 2e-6, SLOWER: 1e-3}), {FLAT: 1e-6, SLOWER: 5e-4})
    busy = _with_minimums(_report({FLAT: 2e-6, SLOWER: 2e-3}), {FLAT: 1.5e-6, SLOWER: 5e-4})
    assert statistic(busy, "min") == {FLAT: 1.5e-6, SLOWER: 5e-4}
    by_min = {row.name: row.status() for row in compare(noisy, busy, "min")}
    assert by_min == {FLAT: REGRESSED, SLOWER: ""}
    by_median = {row.name: row.status() for row in compare(noisy, busy)}
    assert by_median == {FLAT: "", SLOWER: REGRESSED}
    baseline = _write(tmp_path / "baseline.json", noisy)
    current = _write(tmp_path / "current.json", busy)
    assert main([baseline, current, "--stat", "min"]) == 1
    out = capsys.readouterr().out
    assert "baseline min" in out and f"{FLAT}" in out
    with pytest.raises(ValueError, match="stat must be one of"):
        statistic(busy, "mean")
