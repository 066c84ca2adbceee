"""Helpers shared by the test packages above the IC layer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from icto import IC, CallRejected, Canister, Principal, update
from icto.ic import MANAGEMENT_ID, FaultRule
from icto.system import System


def rejected(call: Callable[[], object]) -> CallRejected:
    """Run ``call`` and return the ``CallRejected`` it must raise."""
    with pytest.raises(CallRejected) as info:
        call()
    return info.value


def live_canisters(ic: IC) -> set[Principal]:
    """The canisters that exist (deleted ones excluded)."""
    return {canister for canister in ic.world.canisters if ic.canister_exists(canister)}


CREATE_CANISTER_FAULT = "injected fault"
"""The reject message of ``failing_deployments``' rule, which the factory's
``DeploymentFailed`` carries."""
FAILED_AT_CREATE_CANISTER = (
    f"DeploymentFailed(step='create_canister', reason='{CREATE_CANISTER_FAULT}')"
)
"""The reason the backend records (and refunds under) for a deployment that
``failing_deployments`` failed."""


def failing_deployments(system: System, times: int | None = None) -> FaultRule:
    """Make the factories' deployments fail after the backend charged the fee, ``times`` times
    (``None``: until the rule is removed or its ``with`` block ends): the management canister
    rejects ``create_canister``, so ``create_contract`` answers ``Err(DeploymentFailed)`` and the
    backend records the failure and refunds. (A paused factory is refused before the charge.)"""
    return system.ic.faults.reject(
        MANAGEMENT_ID, "create_canister", message=CREATE_CANISTER_FAULT, times=times
    )


VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "col", "wbr"})


class Tags(HTMLParser):
    """Checks that every opened tag is closed, in order; collects the text."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(html: str) -> Tags:
    """``html`` parsed, asserting every opened tag is closed, in order (void tags aside)."""
    parser = Tags()
    parser.feed(html)
    parser.close()
    assert parser.open == [], f"unclosed: {parser.open}"
    return parser


class Relay(Canister):
    """A canister outside the platform that forwards whatever its caller asks: a user that is
    a canister, so its calls can interleave with a message awaiting a ledger."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @update
    def relay(self, target: Principal, method: str, args: tuple[Any, ...] = ()) -> Any:
        return self.call(target, method, *args)


def saved_records(node: Any, name: str) -> Iterator[dict[str, Any]]:
    """Every attrs record of class ``name`` (``module:QualName``) in a saved world's payload."""
    if isinstance(node, dict):
        if node.get("$attrs") == name:
            yield node
        for value in node.values():
            yield from saved_records(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from saved_records(value, name)


PROJECT_ROOT = Path(__file__).resolve().parent.parent


def output_under_hash_seed(script: str, hash_seed: str, *args: str) -> str:
    """What ``python -c script *args`` prints, run from the project root in a process whose
    string hashes use ``hash_seed``: what may not depend on hash order is compared across
    seeds."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args], env={**os.environ, "PYTHONHASHSEED": hash_seed},
        cwd=PROJECT_ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout

