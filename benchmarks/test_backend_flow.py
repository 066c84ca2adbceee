"""The backend's paid flow: one full paid token deployment against one bare inter-canister call.

A paid deployment is one ingress ``backend.deploy_token``: admission and config checks, the
ledger's fee, allowance and balance reads, the audit and invoice writes, ``icrc2_transfer_from``,
the factory's ``create_contract`` (a canister created and a ledger installed through the
management canister, the registry and indexes updated, the holders' notifications) and the
records of the outcome. Each round runs inside ``ic.anchor()``, so every deployment meets the
same world (one user, an empty factory, the same profile and approval): anchoring is O(1), and
nothing grows from round to round.

The bare call is the unit: a tiny canister calling another tiny canister's update that does
nothing, many times in one message (as in ``test_router_overhead.py``). The ratio says how many
bare calls one paid deployment costs; ``deployments per second`` is 1 / the median deployment.
The aim for ``paid_deploy`` is a median of at most 150 µs (``ABSOLUTE`` in ``conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from benchmarks.conftest import FIGURES, QUICK, RATIOS
from icto import E8S, IC, Account, Canister, Ok, Principal, update
from icto.system import System, deploy_system
from icto.token import TokenConfig

OPS = 100 if QUICK else 1_000
"""Bare calls per measured message."""

USER = Principal.from_name("bench-user")
CONFIG = TokenConfig(
    name="Bench Token", symbol="BNCH",
    initial_balances=((Account(USER, (1).to_bytes(32, "big")), 1_000_000),),
)  # fmt: skip

RATIOS.append(
    ("one paid deployment vs one bare inter-canister call", "paid_deploy", "bare_call",
     "(context)")
)  # fmt: skip

if QUICK:
    # A few rounds are enough to prove it runs (CI runs it once, with --benchmark-disable).
    pytestmark = pytest.mark.benchmark(min_rounds=3, max_time=0.05, warmup=False)


class Idle(Canister):
    """An update that does nothing."""

    VERSION = "1.0.0"

    def init(self, arg: None) -> None:
        self.state = 0

    @update
    def nothing(self) -> None:
        return None


class Pinger(Canister):
    VERSION = "1.0.0"

    def init(self, arg: None) -> None:
        self.state = 0

    @update
    def ping_many(self, target: Principal, n: int) -> None:
        for _ in range(n):
            self.call(target, "nothing")


def _funded_system(trace: bool = False) -> System:
    """The system with ``USER`` funded and the backend approved for a million tokens."""
    system = deploy_system(IC(trace=trace))
    system.faucet(USER, 1_000_000 * E8S)
    system.approve_backend(USER, 1_000_000 * E8S)
    return system


def test_paid_token_deployment(measure: Callable[..., Any], benchmark: Any) -> None:
    system = _funded_system()
    ic = system.ic
    backend = system.backend.as_caller(USER)

    def deploy_once() -> Any:
        with ic.anchor():
            return backend.deploy_token(CONFIG)

    result = measure("paid_deploy", deploy_once)
    assert isinstance(result, Ok), result
    assert result.value.fee_paid == 1 * E8S
    assert system.token_factory.get_stats().contracts == 0  # every round was rolled back
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.median > 0:
        FIGURES["paid token deployments per second (median)"] = 1 / stats.stats.median


def test_bare_inter_canister_call(measure: Callable[..., Any]) -> None:
    ic = IC(trace=False)
    idle = ic.deploy(Idle)
    pinger = ic.deploy(Pinger)
    measure("bare_call", lambda: pinger.ping_many(idle.id, OPS), OPS)
