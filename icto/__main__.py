"""The command line: ``python -m icto demo`` and ``python -m icto bench``.

An unknown command, or none, prints the usage and exits with status 2. ``bench`` needs the
repository checkout: its V1 model and scenarios live in ``benchmarks/``, not in the library.
Output read only in part (``python -m icto demo | head``) ends the command quietly, with status 1.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

REPOSITORY = Path(__file__).resolve().parent.parent
QUICK_SIZES = "1000,10000"
FULL_SIZES = "1000,10000,100000,1000000"
QUICK_PER_USER = "1,100"
FULL_PER_USER = "1,100,10000"
MAX_COUNT = 1_000_000
"""The most contracts ``--sizes`` and ``--per-user`` may ask for: the full run's largest world
(each is built in memory, V1's relationship list beside it)."""


def _counts(text: str) -> tuple[int, ...]:
    """``"1000,10_000"`` -> ``(1000, 10000)``: integers from 1 to ``MAX_COUNT``, comma-separated."""
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text!r}"
        ) from None
    if not counts or min(counts) < 1 or max(counts) > MAX_COUNT:
        raise argparse.ArgumentTypeError(
            f"expected integers from 1 to {MAX_COUNT:,}, got {text!r}"
        )
    return counts


def _unwritable(path: Path) -> str | None:
    """Why the plot cannot be written to ``path`` (tried by creating the file, which is removed
    again if it was not there), or None when it can."""
    try:
        if path.is_dir():
            return f"{str(path)!r} is a directory, not a file"
        existed = path.exists()
        with path.open("ab"):
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        return f"cannot write {str(path)!r}: {exc.strerror or exc}"
    return None


def _png(text: str) -> Path:
    """A file the plot can be written to: checked before the measurements, not after them.
    An empty path is refused as such (``Path("")`` is the current directory)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path names no file; pass --png PATH or --no-png")
    path = Path(text)
    problem = _unwritable(path)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return path


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m icto",
        description="The ICTO V2 platform on a deterministic, in-memory Internet Computer.",
    )
    commands = top.add_subparsers(dest="command", metavar="command")
    commands.add_parser(
        "demo",
        help="run the main scenario on a fresh IC and print its tables",
        description="Deploy the platform, fund three users, deploy tokens through the paid "
        "flow (one fails and is refunded), then print contracts per user, the audit trail, "
        "invoices, balances and the books.",
    )
    bench = commands.add_parser(
        "bench",
        help="measure V1's centralized relationship scan against V2's per-factory index",
        description="Time get_my_contracts(user) on a Token Factory index (V2, a query through "
        "the IC) against a V1-style centralized backend that scans one list of every "
        "(user, contract, role) relationship, at 1k, 10k, 100k and 1M contracts; then V2's "
        "index operations (add creator, add role, remove role, get_my_contracts) for a user "
        "holding 1, 100 and 10,000 contracts. Prints median seconds per call and, when "
        "matplotlib is installed, writes a log-log plot. Progress goes to stderr. Needs the "
        "repository checkout (the V1 model lives in benchmarks/).",
    )
    bench.add_argument(
        "--quick", action="store_true",
        help=f"small sizes only ({QUICK_SIZES} contracts; users with {QUICK_PER_USER}): "
        "a few seconds",
    )  # fmt: skip
    bench.add_argument(
        "--png", type=_png, default=Path("bench.png"), metavar="PATH",
        help="where to write the plot (default: bench.png)",
    )  # fmt: skip
    bench.add_argument("--no-png", action="store_true", help="do not write the plot")
    bench.add_argument(
        "--sizes", type=_counts, metavar="N,N,...",
        help=f"advanced: factory sizes to measure, each at most {MAX_COUNT:,} "
        f"(default {FULL_SIZES}; --quick {QUICK_SIZES})",
    )  # fmt: skip
    bench.add_argument(
        "--per-user", type=_counts, metavar="K,K,...",
        help=f"advanced: contracts held by the user in the per-user table, each at most "
        f"{MAX_COUNT:,} (default {FULL_PER_USER}; --quick {QUICK_PER_USER})",
    )  # fmt: skip
    return top


def _scaling() -> ModuleType | None:
    """``benchmarks.scaling`` from the repository checkout, or None without one."""
    if not (REPOSITORY / "benchmarks" / "v1_backend.py").is_file():
        return None
    if str(REPOSITORY) not in sys.path:
        sys.path.insert(0, str(REPOSITORY))
    return importlib.import_module("benchmarks.scaling")


def bench(args: argparse.Namespace) -> int:
    scaling = _scaling()
    if scaling is None:
        sys.stderr.write(
            "python -m icto bench needs the icto repository checkout: the V1 model it measures "
            "against lives in benchmarks/, not in the installed library.\n"
            "Clone the repository, `python -m pip install -e .` there, and run it again.\n"
        )
        return 2
    sizes = args.sizes or _counts(QUICK_SIZES if args.quick else FULL_SIZES)
    per_user = args.per_user or _counts(QUICK_PER_USER if args.quick else FULL_PER_USER)
    png = None if args.no_png else args.png
    if png is not None and (problem := _unwritable(png)) is not None:
        sys.stderr.write(f"python -m icto bench: {problem}; pass --png PATH or --no-png\n")
        return 2
    return int(scaling.run(sizes, per_user, png))


def _silence_stdout() -> None:
    """Send what is left for stdout to the null device: its reader has gone, and Python's own
    flush at exit would otherwise report the broken pipe."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    if args.command is None:
        top.print_usage(sys.stderr)
        return 2
    if isinstance(sys.stdout, io.TextIOWrapper):
        # Principals are shortened with "…": never fail on a terminal that cannot show it.
        sys.stdout.reconfigure(errors="replace")
    try:
        status = _run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return 1
    return status


def _run(args: argparse.Namespace) -> int:
    if args.command == "bench":
        return bench(args)
    from icto.demo import run_demo

    run_demo(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
