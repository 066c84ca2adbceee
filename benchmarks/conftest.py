"""Benchmark helpers: scale knobs and a ratio report printed at the end of the run.

Each benchmark registers its median time per operation under a key; ``RATIOS`` pairs keys, and the
terminal summary prints numerator / denominator for every pair measured in this run. Set
``ICTO_BENCH_QUICK=1`` for small sizes (CI runs the suite that way with ``--benchmark-disable``, to
prove it works; the sizes in the closing report come from a full run).
"""

from __future__ import annotations

import gc
import os
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

QUICK = os.environ.get("ICTO_BENCH_QUICK") == "1"

SMALL = 1_000
LARGE = 10_000 if QUICK else 1_000_000

_per_op: dict[str, float] = {}

FIGURES: dict[str, float] = {}
"""Other measured figures (not timings), printed as they are."""

MEDIUM = 10_000 if QUICK else 100_000
HUGE = 20_000 if QUICK else 1_000_000
MANY = 1_000 if QUICK else 10_000

RATIOS: list[tuple[str, str, str, str]] = [
    ("inter-canister call vs plain method, same body", "ic_call", "plain_same_body", "<= 20x"),
    ("inter-canister call vs bare Python method call", "ic_call", "plain_bare", "(context)"),
    ("ingress update via proxy vs plain method", "ingress_call", "plain_same_body", "(context)"),
    (f"snapshot+update+restore, {LARGE:,} vs {SMALL:,} canisters", "snap_canisters_large",
     "snap_canisters_small", "<= 2x"),
    (f"snapshot+update+restore, {LARGE:,} vs {SMALL:,} state entries", "snap_entries_large",
     "snap_entries_small", "<= 2x"),
    (f"ledger transfer, {LARGE:,} vs {SMALL:,} accounts", "transfer_large", "transfer_small",
     "<= 2x"),
    (f"create_contract, {MEDIUM:,} vs {SMALL:,} contracts", "create_medium", "create_small",
     "<= 2x"),
    (f"create_contract, {HUGE:,} vs {SMALL:,} contracts", "create_huge", "create_small", "<= 2x"),
    (f"notify_participant_added, {MEDIUM:,} vs {SMALL:,} contracts", "notify_medium",
     "notify_small", "<= 2x"),
    (f"notify_participant_added, {HUGE:,} vs {SMALL:,} contracts", "notify_huge", "notify_small",
     "<= 2x"),
    (f"get_my_contracts, {MEDIUM:,} vs {SMALL:,} contracts", "my_contracts_medium",
     "my_contracts_small", "<= 1.5x"),
    (f"get_my_contracts, {HUGE:,} vs {SMALL:,} contracts", "my_contracts_huge",
     "my_contracts_small", "<= 1.5x"),
    (f"role add+remove, user with {MANY:,} vs 1 contracts", "role_user_many", "role_user_1",
     "<= 2x"),
    (f"multisig approve+execute, {MEDIUM:,} vs 1 proposals", "multisig_exec_large",
     "multisig_exec_1", "<= 2x"),
    (f"multisig get_proposals page, {MEDIUM:,} vs 100 proposals", "multisig_list_large",
     "multisig_list_small", "<= 2x"),
    (f"distribution claim, {MEDIUM:,} vs 1 recipients", "dist_claim_large", "dist_claim_1",
     "<= 2x"),
    (f"distribution register, {MEDIUM:,} registered vs first", "dist_register_large",
     "dist_register_first", "<= 2x"),
    (f"DAO submit_proposal, {MEDIUM:,} vs 10 members", "dao_submit_large", "dao_submit_small",
     "<= 2x"),
    (f"DAO vote, {MEDIUM:,} vs 10 members", "dao_vote_large", "dao_vote_small", "<= 2x"),
    (f"DAO tally at the end of voting, {MEDIUM:,} vs 10 members", "dao_tally_large",
     "dao_tally_small", "<= 2x"),
    (f"launchpad first contribute, {MEDIUM:,} vs 1 participants", "lp_contribute_large",
     "lp_contribute_1", "<= 2x"),
    (f"launchpad refund per contributor, {MANY:,} vs 100 contributors", f"refund_{MANY}",
     "refund_100", "<= 2x"),
    (f"launchpad finalize per buyer, {MANY:,} vs {MANY // 10:,} buyers", f"finalize_{MANY}",
     f"finalize_{MANY // 10}", "<= 2x"),
]  # fmt: skip


@pytest.fixture
def measure(benchmark: Any) -> Callable[..., Any]:
    """``measure(key, fn, ops=1)``: benchmark ``fn`` and record its median time per operation."""

    def run(key: str, fn: Callable[[], Any], ops: int = 1) -> Any:
        result = benchmark(fn)
        stats = getattr(benchmark, "stats", None)
        if stats is not None:
            _per_op[key] = stats.stats.median / ops
        return result

    return run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    rows = [
        (label, _per_op[num] / _per_op[den], _per_op[num], _per_op[den], aim)
        for label, num, den, aim in RATIOS
        if num in _per_op and den in _per_op
    ]
    if FIGURES:
        terminalreporter.section("icto figures (this run)")
        for label, value in FIGURES.items():
            terminalreporter.write_line(f"{label:<62} {value:12,.0f}")
    if not rows:
        return
    terminalreporter.section("icto ratios (median per operation, this run)")
    for label, ratio, num, den, aim in rows:
        terminalreporter.write_line(
            f"{label:<62} {ratio:7.2f}x  ({num * 1e6:9.3f} µs / {den * 1e6:9.3f} µs)  aim {aim}"
        )


def retained_bytes(build: Callable[[], Any]) -> tuple[int, Any]:
    """The memory ``build()`` leaves allocated (tracemalloc, after a collection), and its
    result."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before, kept
