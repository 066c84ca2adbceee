"""The command line: ``python -m icto demo``.

An unknown command, or none, prints the usage and exits with status 2.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence


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
    return top


def main(argv: Sequence[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    if args.command is None:
        top.print_usage(sys.stderr)
        return 2
    if isinstance(sys.stdout, io.TextIOWrapper):
        # Principals are shortened with "…": never fail on a terminal that cannot show it.
        sys.stdout.reconfigure(errors="replace")
    from icto.demo import run_demo

    run_demo(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
