"""``python -m icto``: every command has its help, and ``bench`` runs and prints its tables."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import scaling
from icto.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--sizes", "100,1000", "--per-user", "1,10"]


def icto(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m icto`` of this checkout, whatever the working directory."""
    path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    return subprocess.run(
        [sys.executable, "-m", "icto", *args], cwd=cwd, capture_output=True, text=True,
        timeout=120, check=False, env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), ["demo", "bench"]),
        (("demo",), ["paid flow", "audit trail"]),
        (("bench",), ["V1", "get_my_contracts", "--quick", "--png", "--no-png", "--sizes",
                      "at most 1,000,000"]),
    ],
)
def test_every_command_has_help(args: tuple[str, ...], words: list[str]) -> None:
    done = icto(*args, "--help")
    assert done.returncode == 0, done.stderr
    for word in words:
        assert word in done.stdout


def test_no_command_prints_the_usage_and_fails() -> None:
    assert main([]) == 2


def test_bad_sizes_are_refused() -> None:
    done = icto("bench", "--sizes", "ten")
    assert done.returncode == 2
    assert "--sizes" in done.stderr


@pytest.mark.parametrize("option", ["--sizes", "--per-user"])
@pytest.mark.parametrize("counts", ["0", "100,1000001"])
def test_counts_outside_1_to_a_million_are_refused_before_measuring(
    option: str, counts: str
) -> None:
    done = icto("bench", "--no-png", option, counts)
    assert done.returncode == 2
    assert option in done.stderr and "from 1 to 1,000,000" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("where", ["missing/plot.png", ".", "p" * 300 + ".png", ""])
def test_a_png_path_that_cannot_be_written_is_refused_before_measuring(
    tmp_path: Path, where: str
) -> None:
    done = icto("bench", "--sizes", "100", "--per-user", "1", "--png", where, cwd=tmp_path)
    assert done.returncode == 2
    assert "--png" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""  # nothing was measured


def test_an_empty_png_path_is_refused_as_empty_not_as_the_current_directory(
    tmp_path: Path,
) -> None:
    done = icto("bench", "--sizes", "100", "--per-user", "1", "--png", "", cwd=tmp_path)
    assert done.returncode == 2
    assert "an empty path names no file" in done.stderr and "directory" not in done.stderr


def test_a_plot_write_that_fails_after_measuring_is_one_line_and_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk can fill up between the check made before measuring and the write (``/dev/full``
    passes that check): the tables are printed, then one line says why there is no plot."""

    def full_disk(rows: object, path: Path) -> bool:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(scaling, "write_png", full_disk)
    out, err = io.StringIO(), io.StringIO()
    png = tmp_path / "plot.png"
    assert scaling.run((100,), (1,), png, out, err) == 1
    assert "V1 seconds" in out.getvalue() and "plot written" not in out.getvalue()
    assert err.getvalue().splitlines()[-1] == (
        f"python -m icto bench: cannot write the plot to {str(png)!r}: No space left on device"
    )


def test_the_default_png_path_is_checked_before_measuring_too(tmp_path: Path) -> None:
    (tmp_path / "bench.png").mkdir()
    done = icto("bench", "--sizes", "100", "--per-user", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert "--png PATH or --no-png" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_checking_the_png_path_leaves_no_file_and_keeps_an_existing_one(tmp_path: Path) -> None:
    kept = tmp_path / "kept.png"
    kept.write_bytes(b"old plot")
    for png in ("new.png", "kept.png"):
        assert icto("bench", "--png", png, "--sizes", "0", cwd=tmp_path).returncode == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kept.png"]
    assert kept.read_bytes() == b"old plot"


def test_output_read_in_part_ends_the_command_quietly() -> None:
    """As with ``python -m icto demo | head -1``: the reader is gone before the demo writes."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "icto", "demo"], cwd=ROOT, stdout=write,
            stderr=subprocess.PIPE, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(write)
    assert done.stderr == ""
    assert done.returncode == 1


def test_bench_prints_both_tables(tmp_path: Path) -> None:
    done = icto("bench", "--quick", "--no-png", *SMALL, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "V1 seconds" in out and "V2 seconds" in out and "speedup" in out
    assert "       100" in out and "     1,000" in out
    assert "add creator" in out and "add role" in out and "remove role" in out
    assert "6/14 v2 get_my_contracts @ 1,000" in done.stderr  # the progress bar
    assert "done" in done.stderr.splitlines()[-1]
    assert not (tmp_path / "bench.png").exists()


def test_bench_prints_to_stdout_and_stderr_as_they_are_when_called() -> None:
    """``benchmarks.scaling.run`` without ``out`` / ``err`` writes to ``sys.stdout`` and
    ``sys.stderr`` of the moment, not those of its import: a redirect captures both."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert scaling.run((100,), (1,), None) == 0
    assert "V1 seconds" in out.getvalue() and "add creator" in out.getvalue()
    assert "done" in err.getvalue()


def test_bench_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "plot.png"
    done = icto("bench", "--png", str(png), "--sizes", "100,1000", "--per-user", "1")
    assert done.returncode == 0, done.stderr
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_bench_explains_itself_without_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("icto.__main__.REPOSITORY", tmp_path)
    assert main(["bench", "--quick", "--no-png"]) == 2
    assert "repository checkout" in capsys.readouterr().err
