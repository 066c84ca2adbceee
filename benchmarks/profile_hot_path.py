"""Where the time of a bare inter-canister call and of a paid token deployment goes, by layer.

``python benchmarks/profile_hot_path.py`` runs the scenarios of ``test_backend_flow.py`` under
cProfile and prints, for each, the share of the profiled time spent in each package (icto's own
folders, attrs, immutables, builtins) with the function calls per operation, then the functions
with the most time of their own. cProfile adds a cost to every Python call, so the shares lean
towards call-heavy code; they say where the time goes, the benchmarks say how much it is.

Last, without the profiler, it times a paid deployment message by message (the time inside each
message, less the messages it sent), and sets the whole against what its 17 messages would cost
if every method body were empty: a bare inter-canister call or ingress call, timed in the same
run. What is left over is the canisters' own work.
"""

from __future__ import annotations

import collections
import cProfile
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.scaling import seconds as wall_seconds
from benchmarks.test_backend_flow import CONFIG, USER, Idle, Pinger, _funded_system
from icto import IC
from icto.ic.router import Router

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


@contextmanager
def timed_messages() -> Iterator[tuple[collections.Counter[str], collections.Counter[str]]]:
    """Within the block, every message delivered adds its own time (nanoseconds inside it, less
    the messages it sent) and a count under its method's name."""
    own: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    nested: list[int] = []
    deliver = Router.deliver
    clock = time.perf_counter_ns

    def timed(self: Router, caller: Any, callee: Any, method: str, *rest: Any) -> Any:
        nested.append(0)
        start = clock()
        try:
            return deliver(self, caller, callee, method, *rest)
        finally:
            spent = clock() - start
            own[method] += spent - nested.pop()
            count[method] += 1
            if nested:
                nested[-1] += spent

    Router.deliver = timed  # type: ignore[method-assign, assignment]
    try:
        yield own, count
    finally:
        Router.deliver = deliver  # type: ignore[method-assign]


def deployer(deployments: int) -> Callable[[], None]:
    """A run of ``deployments`` paid token deployments in a funded system, each rolled back."""
    system = _funded_system()
    backend = system.backend.as_caller(USER)

    def deploy_many() -> None:
        for _ in range(deployments):
            with system.ic.anchor():
                backend.deploy_token(CONFIG)

    return deploy_many


def per_operation(run: Callable[[], object], operations: int, rounds: int = 5) -> float:
    """Microseconds per operation: the fastest of ``rounds`` runs of ``operations``."""
    best = min(wall_seconds(run) for _ in range(rounds))
    return best * 1e6 / operations


def message_by_message(deployments: int = 1_000, rounds: int = 5) -> None:
    """Print each message's share of a paid deployment, and the deployment against the cost of
    its messages with empty bodies."""
    ic = IC(trace=False)
    idle, pinger = ic.deploy(Idle), ic.deploy(Pinger)

    def call_many() -> None:
        pinger.ping_many(idle.id, CALLS)

    def ingress_many() -> None:
        for _ in range(CALLS):
            idle.nothing()

    bare_call = per_operation(call_many, CALLS, 4 * rounds)
    bare_ingress = per_operation(ingress_many, CALLS, 4 * rounds)

    deploy_many = deployer(deployments)
    whole = per_operation(deploy_many, deployments, rounds)
    fastest: tuple[float, collections.Counter[str], collections.Counter[str]] | None = None
    for _ in range(rounds):
        with timed_messages() as (own, count):
            deploy_many()
        if fastest is None or sum(own.values()) < fastest[0]:
            fastest = (sum(own.values()), own, count)
    assert fastest is not None
    timed, own, count = fastest
    messages = sum(count.values()) // deployments
    floor = bare_ingress + (messages - 1) * bare_call
    print(f"\n## one paid token deployment, message by message ({messages} messages)\n")
    print("| message | per deployment | share of the deployment (its own time, with the calls "
          "it sends, less the messages it sends) |")
    print("|---|---:|---:|")
    for method, nanoseconds in own.most_common():
        share = 100 * nanoseconds / timed
        print(f"| `{method}` | {count[method] // deployments} | {share:.0f} % |")
    print(
        f"\nA deployment takes {whole:.1f} µs, untimed (the fastest of {rounds} rounds of "
        f"{deployments:,}). Its {messages} "
        f"messages with empty bodies would take {floor:.1f} µs: one ingress call "
        f"({bare_ingress:.2f} µs) and {messages - 1} inter-canister calls ({bare_call:.2f} µs "
        f"each). The canisters' own work is the other {whole - floor:.1f} µs "
        f"({100 * (whole - floor) / whole:.0f} %)."
    )


def main() -> None:
    ic = IC(trace=False)
    idle, pinger = ic.deploy(Idle), ic.deploy(Pinger)
    profile(lambda: pinger.ping_many(idle.id, CALLS), CALLS, "one bare inter-canister call")

    profile(deployer(DEPLOYMENTS), DEPLOYMENTS, "one paid token deployment")
    message_by_message()


if __name__ == "__main__":
    main()
