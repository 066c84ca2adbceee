"""Benchmark helpers: scale knobs and a report of the aims printed at the end of the run.

Each benchmark registers its median time per operation under a key (``measure``). The terminal
summary then prints, for the keys measured in this run:

* ``RATIOS``: numerator / denominator for every pair of keys (measured side by side in one run, so
  machine noise cancels), marked ``ok`` or ``MISSED`` against a numeric aim such as ``"<= 10x"``
  (an aim like ``"(context)"`` is shown without a mark);
* ``ABSOLUTE``: a key's median per operation against an aim in seconds, marked the same way;
* ``FIGURES``: other measured numbers (memory, build times, the router ratios measured round by
  round), those named in ``FIGURE_AIMS`` marked against their aim.

The benchmarks never assert on timings: the marks are a report, not a test. Set
``ICTO_BENCH_QUICK=1`` for small sizes (CI runs the suite that way with ``--benchmark-disable``, to
prove it works: no timings are taken then, so only the figures are printed; the numbers in the
closing report come from a full run). ``benchmarks/README.md`` says how to run, save a baseline and
compare (``python -m benchmarks.compare``).
"""

from __future__ import annotations

import gc
import os
import re
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
    ("inter-canister call vs plain method, same body", "ic_call", "plain_same_body", "<= 10x"),
    ("inter-canister call vs bare Python method call", "ic_call", "plain_bare", "(context)"),
    ("ingress update via proxy vs plain method, same body", "ingress_call", "plain_same_body",
     "<= 12x"),
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
     "my_contracts_small", "<= 1.2x"),
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
    (f"audit query by user and contract, {MEDIUM:,} vs 100 entries each side",
     "audit_combined_large", "audit_combined_small", "<= 2x"),
    (f"launchpad finalize per buyer, {MANY:,} vs {MANY // 10:,} buyers", f"finalize_{MANY}",
     f"finalize_{MANY // 10}", "<= 2x"),
]  # fmt: skip
"""(label, numerator key, denominator key, aim): ``"<= 2x"`` is checked, anything else is shown."""

US = 1e-6

ABSOLUTE: list[tuple[str, str, float]] = [
    ("paid token deployment (backend.deploy_token)", "paid_deploy", 150 * US),
    (f"ICRC-1 transfer through the router, {SMALL:,} accounts", "transfer_small", 8 * US),
    (f"ICRC-1 transfer through the router, {LARGE:,} accounts", "transfer_large", 8 * US),
    (f"get_my_contracts, page of 10, {SMALL:,} contracts", "my_contracts_small", 5 * US),
    (f"get_my_contracts, page of 10, {HUGE:,} contracts", "my_contracts_huge", 5 * US),
]
"""(label, key, aim in seconds per operation): the median per operation must be at most the aim."""

BYTES_PER_CONTRACT = f"bytes per contract in the factory index and records, {HUGE:,} contracts"
"""The ``FIGURES`` key of the factory's memory per contract (``test_factory_scale``)."""

CALL_SIDE_BY_SIDE = "inter-canister call / plain method, side by side (median of rounds)"
INGRESS_SIDE_BY_SIDE = "ingress call / plain method, side by side (median of rounds)"
"""The ``FIGURES`` keys of the two router ratios measured round by round
(``test_router_overhead.test_the_router_ratios_side_by_side``)."""

FIGURE_AIMS: list[tuple[str, float, str]] = [
    (BYTES_PER_CONTRACT, 800, "B"),
    (CALL_SIDE_BY_SIDE, 10, "x"),
    (INGRESS_SIDE_BY_SIDE, 12, "x"),
]
"""(``FIGURES`` key, the most it may be, unit): the figure is printed with its aim and a mark."""

_RATIO_AIM = re.compile(r"<=\s*([0-9]+(?:\.[0-9]+)?)\s*x")


def ratio_aim(aim: str) -> float | None:
    """The bound in an aim such as ``"<= 1.5x"``; ``None`` for an aim that is only context."""
    found = _RATIO_AIM.fullmatch(aim.strip())
    return float(found.group(1)) if found else None


def mark(value: float, bound: float | None) -> str:
    """``ok`` when ``value`` is within ``bound``, ``MISSED`` when it is over, "" without one."""
    if bound is None:
        return ""
    return "ok" if value <= bound else "MISSED"


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
    write = terminalreporter.write_line
    if FIGURES:
        aims = {key: (bound, unit) for key, bound, unit in FIGURE_AIMS}
        terminalreporter.section("icto figures (this run)")
        for label, value in FIGURES.items():
            bound, unit = aims.get(label, (None, ""))
            shown = f"{value:12,.2f}x" if unit == "x" else f"{value:12,.0f}"
            line = f"{label:<70} {shown}"
            if bound is not None:
                line += f"  aim <= {bound:,.0f}{unit if unit == 'x' else ' ' + unit}"
                line += f"  {mark(value, bound)}"
            write(line)
    rows = [
        (label, _per_op[num] / _per_op[den], _per_op[num], _per_op[den], aim)
        for label, num, den, aim in RATIOS
        if num in _per_op and den in _per_op and _per_op[den] > 0
    ]
    if rows:
        terminalreporter.section("icto ratios (median per operation, this run)")
        for label, ratio, num, den, aim in rows:
            write(
                f"{label:<62} {ratio:7.2f}x  ({num * 1e6:9.3f} µs / {den * 1e6:9.3f} µs)  "
                f"aim {aim:<9} {mark(ratio, ratio_aim(aim))}".rstrip()
            )
    absolute = [(name, _per_op[key], most) for name, key, most in ABSOLUTE if key in _per_op]
    if absolute:
        terminalreporter.section("icto absolute aims (median per operation, this run)")
        for name, seconds, most in absolute:
            write(
                f"{name:<62} {seconds * 1e6:9.3f} µs  aim <= {most * 1e6:5.0f} µs  "
                f"{mark(seconds, most)}"
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
