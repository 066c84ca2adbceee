"""Router overhead: one inter-canister call against a plain Python method call.

Aims (``RATIOS`` in ``conftest.py``, measured side by side in one run): a bare inter-canister call
(``ic_call``) at most 10x, and an ingress update through a proxy (``ingress_call``) at most 12x, a
plain method with the same body (``plain_same_body``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from icto import IC, Canister, Principal, update
from tests.ic.toys import Counter, Tally

OPS = 1_000


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
