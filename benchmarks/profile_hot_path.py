"""Where the time of a bare inter-canister call and of a paid token deployment goes, by layer.

``python benchmarks/profile_hot_path.py`` runs the scenarios of ``test_backend_flow.py`` under
cProfile and prints, for each, the share of the profiled time spent in each package (icto's own
folders, attrs, immutables, builtins) with the function calls per operation, then the functions
with the most time of their own. cProfile adds a cost to every Python call, so the shares lean
towards call-heavy code; they say where the time goes, the benchmarks say how much it is.
"""

from __future__ import annotations

import collections
import cProfile
import pstats
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.test_backend_flow import CONFIG, USER, Idle, Pinger, _funded_system
from icto import IC

CALLS = 1_000
DEPLOYMENTS = 300


def layer(path: str) -> str:
    """The package a profiled function belongs to."""
    if "/icto/" in path:
        part = path.split("/icto/", 1)[1]
        return "icto/" + part.split("/")[0] if "/" in part else "icto/" + part
    if "/attr/" in path or "attrs generated" in path:
        return "attrs"
    if path == "~":
        return "builtins and C methods (immutables, tuple, dict)"
    return "other"


def profile(run: Callable[[], object], operations: int, label: str, top: int = 10) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    stats = pstats.Stats(profiler)
    own: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    for (path, _line, _name), (_cc, count, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        own[layer(path)] += tottime
        calls[layer(path)] += count
    total = sum(own.values())
    print(f"\n## {label}: {sum(calls.values()) / operations:,.0f} function calls per operation\n")
    print("| layer | share of time | calls per operation |\n|---|---|---|")
    for name, seconds in own.most_common():
        print(f"| {name} | {100 * seconds / total:.1f} % | {calls[name] / operations:,.1f} |")
    print()
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    ic = IC(trace=False)
    idle, pinger = ic.deploy(Idle), ic.deploy(Pinger)
    profile(lambda: pinger.ping_many(idle.id, CALLS), CALLS, "one bare inter-canister call")

    system = _funded_system()
    backend = system.backend.as_caller(USER)

    def deploy_many() -> None:
        for _ in range(DEPLOYMENTS):
            with system.ic.anchor():
                backend.deploy_token(CONFIG)

    profile(deploy_many, DEPLOYMENTS, "one paid token deployment")


if __name__ == "__main__":
    main()
