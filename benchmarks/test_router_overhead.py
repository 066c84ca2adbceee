"""Router overhead: one inter-canister call against a plain Python method call.

Aims: a bare inter-canister call (``ic_call``) at most 10x, and an ingress update through a proxy
(``ingress_call``) at most 12x, a plain method with the same body (``plain_same_body``). Each is
measured twice: as the ratio of the medians of three benchmarks run one after the other
(``RATIOS`` in ``conftest.py``), and round by round, the three timed back to back in every round
(``test_the_router_ratios_side_by_side``), so that a change in the machine's speed, which on a
shared machine lasts seconds to minutes, hits the three alike and cancels in each round's ratio.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from time import perf_counter
from typing import Any

from benchmarks.conftest import CALL_SIDE_BY_SIDE, FIGURES, INGRESS_SIDE_BY_SIDE, QUICK
from icto import IC, Canister, Principal, update
from tests.ic.toys import Counter, Tally

OPS = 1_000
SIDE_BY_SIDE_ROUNDS = 5 if QUICK else 101


class PlainCounter:
    """The same body as ``Counter.inc``, as an ordinary Python object."""

    def __init__(self) -> None:
        self.state = Tally(0)

    def inc(self, by: int = 1) -> int:
        self.state = Tally(self.state.n + by)
        return self.state.n

    def bare(self, by: int = 1) -> int:
        return by


class Caller(Canister):
    def init(self, arg: None) -> None:
        self.state = 0

    @update
    def call_many(self, target: Principal, n: int) -> None:
        for _ in range(n):
            self.call(target, "inc", 1)


def test_plain_method_with_the_same_body(measure: Callable[..., Any]) -> None:
    counter = PlainCounter()

    def run() -> None:
        for _ in range(OPS):
            counter.inc(1)

    measure("plain_same_body", run, OPS)
    assert counter.state.n >= OPS


def test_bare_plain_method(measure: Callable[..., Any]) -> None:
    counter = PlainCounter()

    def run() -> None:
        for _ in range(OPS):
            counter.bare(1)

    measure("plain_bare", run, OPS)


def test_inter_canister_call(measure: Callable[..., Any]) -> None:
    ic = IC(trace=False)
    target = ic.deploy(Counter)
    caller = ic.deploy(Caller)
    measure("ic_call", lambda: caller.call_many(target.id, OPS), OPS)
    assert target.get() >= OPS


def test_ingress_update_through_a_proxy(measure: Callable[..., Any]) -> None:
    ic = IC(trace=False)
    counter = ic.deploy(Counter)

    def run() -> None:
        for _ in range(OPS):
            counter.inc(1)

    measure("ingress_call", run, OPS)
    assert counter.get() >= OPS


def test_the_router_ratios_side_by_side(benchmark: Any) -> None:
    """Each round times ``OPS`` plain calls, ``OPS`` inter-canister calls and ``OPS`` ingress
    calls back to back and records the two ratios; the figures are their medians over the
    rounds."""
    ic = IC(trace=False)
    target, caller = ic.deploy(Counter), ic.deploy(Caller)
    counter = PlainCounter()
    calls: list[float] = []
    ingresses: list[float] = []

    def one_round() -> None:
        started = perf_counter()
        for _ in range(OPS):
            counter.inc(1)
        plain_done = perf_counter()
        caller.call_many(target.id, OPS)
        call_done = perf_counter()
        for _ in range(OPS):
            target.inc(1)
        plain = plain_done - started
        calls.append((call_done - plain_done) / plain)
        ingresses.append((perf_counter() - call_done) / plain)

    benchmark.pedantic(one_round, rounds=SIDE_BY_SIDE_ROUNDS, warmup_rounds=1)
    FIGURES[CALL_SIDE_BY_SIDE] = statistics.median(calls)
    FIGURES[INGRESS_SIDE_BY_SIDE] = statistics.median(ingresses)
    assert target.get() == 2 * OPS * len(calls)
