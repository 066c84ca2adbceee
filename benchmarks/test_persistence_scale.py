"""Saving and loading a world with many tokens: time and file size grow linearly.

The world is the deployed platform plus ``TOKENS`` tokens created through the Token Factory's own
``create_contract`` (called as the backend, so no payment flow per token). Save and load are timed
once each (they are seconds-long, whole-world operations, not per-message costs); the figures are
printed in the closing report in milliseconds and kilobytes (the report prints whole numbers).
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.conftest import FIGURES, QUICK
from icto import IC, Account, Principal
from icto.system import deploy_system
from icto.token import TokenConfig

TOKENS = 100 if QUICK else 10_000


def _world_with_tokens(count: int) -> IC:
    ic = IC(trace=False)
    system = deploy_system(ic)
    factory = system.token_factory.as_caller(system.backend.id)
    for n in range(count):
        owner = Principal.from_name(f"owner-{n}")
        config = TokenConfig(
            name=f"Token {n}", symbol="TK",
            initial_balances=((Account(owner, (1).to_bytes(32, "big")), 1_000),),
        )  # fmt: skip
        factory.create_contract(owner, config).unwrap()
    return ic


def test_save_and_load_a_world_of_many_tokens(tmp_path: Path) -> None:
    ic = _world_with_tokens(TOKENS)
    path = tmp_path / "world.icto"

    started = time.perf_counter()
    ic.save(path)
    saved = time.perf_counter()
    loaded = IC.load(path)
    done = time.perf_counter()

    assert loaded.snapshot().canisters == ic.snapshot().canisters
    size = path.stat().st_size
    FIGURES[f"persistence: save, {TOKENS:,} tokens (ms)"] = (saved - started) * 1e3
    FIGURES[f"persistence: load, {TOKENS:,} tokens (ms)"] = (done - saved) * 1e3
    FIGURES[f"persistence: file size, {TOKENS:,} tokens (KB)"] = size / 1e3
    FIGURES["persistence: file size per token (bytes)"] = size / TOKENS
