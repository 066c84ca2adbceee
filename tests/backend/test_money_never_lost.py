"""Money is never lost: a reject or a trap at any inter-canister call of the paid flow, in turn.

The call points are read from the trace of a clean run (ledger, invoice storage, audit storage,
factory, management canister, the new contract), so a call added to the flow is covered without
touching this file. Every time: exactly one outcome per fee charged, the ICP books balance, and
once the fault is gone the outbox delivers every record to the storages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from icto import E8S, IC, Err, Ok, Principal
from icto.backend import DeploymentFailed
from icto.ic.router import MANAGEMENT_ID
from icto.system import System, deploy_system
from tests.backend.conftest import token_config
from tests.backend.invariants import (
    assert_money_never_lost,
    assert_trail_complete,
    drain_outbox,
    read_books,
)
from tests.helpers import failing_deployments

ALICE = Principal.from_name("alice")
CallPoint = tuple[str, str, int]
"""(callee role, method, how many earlier calls of the same pair to let through)."""


def roles(system: System) -> dict[Principal, str]:
    return {
        system.icp_ledger.id: "icp_ledger", system.backend.id: "backend",
        system.audit_storage.id: "audit_storage", system.invoice_storage.id: "invoice_storage",
        system.token_factory.id: "token_factory", MANAGEMENT_ID: "management",
    }  # fmt: skip


def prepared(ic: IC) -> System:
    system = deploy_system(ic)
    system.faucet(ALICE, 10 * E8S)
    system.approve_backend(ALICE, 5 * E8S)
    return system


def call_points(*, deployment_fails: bool) -> list[CallPoint]:
    """Every inter-canister call one deployment makes, in order, from a clean run (one that
    fails at ``create_canister`` and is refunded, if ``deployment_fails``)."""
    ic = IC()
    system = prepared(ic)
    if deployment_fails:
        failing_deployments(system)
    names = roles(system)
    ic.trace.clear()
    system.backend.as_caller(ALICE).deploy_token(token_config())
    seen: Counter[tuple[str, str]] = Counter()
    points = []
    for entry in ic.trace:
        if entry.kind != "call":
            continue
        pair = (names.get(entry.callee, "new_contract"), entry.method)
        points.append((*pair, seen[pair]))
        seen[pair] += 1
    return points


def target(system: System, role: str, ic: IC) -> Principal:
    by_role = {name: canister for canister, name in roles(system).items()}
    if role in by_role:
        return by_role[role]
    return next(c for c in ic.world.canisters if c not in roles(system))  # pragma: no cover


SUCCESS_POINTS = call_points(deployment_fails=False)
REFUND_POINTS = call_points(deployment_fails=True)


def inject(ic: IC, system: System, kind: str, point: CallPoint) -> Callable[[], None]:
    role, method, after = point
    canister = None if role == "new_contract" else target(system, role, ic)
    if kind == "reject":
        rule = ic.faults.reject(canister=canister, method=method, after=after)
    else:
        rule = ic.faults.trap(canister=canister, method=method, after=after)
    return lambda: None if rule.fired else pytest.fail(f"the fault at {point} never fired")


def check_outcome(system: System, result: object) -> None:
    """What the user was told agrees with the books."""
    books = read_books(system)
    if isinstance(result, Ok):
        assert books.deployed.get(result.value.payment_id) == result.value.canister_id
    elif isinstance(result, Err) and isinstance(result.error, DeploymentFailed):
        payment = result.error.payment_id
        assert payment in books.charged
        assert payment in books.refunded or payment in books.owed or payment in books.unconfirmed
    else:
        assert not books.charged, f"{result} but a fee was charged"


def test_the_matrices_cover_every_service() -> None:
    roles_hit = {role for role, _, _ in SUCCESS_POINTS + REFUND_POINTS}
    assert {"icp_ledger", "audit_storage", "invoice_storage", "token_factory", "management",
            "new_contract"} <= roles_hit  # fmt: skip
    assert any(method == "icrc1_transfer" for _, method, _ in REFUND_POINTS)


@pytest.mark.parametrize("kind", ["reject", "trap"])
@pytest.mark.parametrize("point", SUCCESS_POINTS, ids=lambda p: f"{p[0]}.{p[1]}#{p[2]}")
def test_a_fault_anywhere_in_a_deployment_loses_no_money(
    ic: IC, kind: str, point: CallPoint
) -> None:
    system = prepared(ic)
    fired = inject(ic, system, kind, point)
    result = system.backend.as_caller(ALICE).deploy_token(token_config())
    fired()
    check_outcome(system, result)
    books = assert_money_never_lost(system)
    drain_outbox(system)
    assert_trail_complete(system, assert_money_never_lost(system))
    assert len(books.charged) <= 1


@pytest.mark.parametrize("kind", ["reject", "trap"])
@pytest.mark.parametrize("point", REFUND_POINTS, ids=lambda p: f"{p[0]}.{p[1]}#{p[2]}")
def test_a_fault_anywhere_in_a_refund_loses_no_money(ic: IC, kind: str, point: CallPoint) -> None:
    """The deployment fails at ``create_canister``; the fault at ``point`` is installed first,
    so that at ``create_canister`` itself it is the one that fires."""
    system = prepared(ic)
    fired = inject(ic, system, kind, point)
    failing_deployments(system)
    result = system.backend.as_caller(ALICE).deploy_token(token_config())
    fired()
    check_outcome(system, result)
    books = assert_money_never_lost(system)
    drain_outbox(system)
    books = assert_money_never_lost(system)
    for refund in books.owed.values():
        retried = system.backend.admin_retry_refund(refund.refund_id).unwrap()
        assert retried.status == "Completed"
    books = assert_money_never_lost(system)
    assert not books.owed
    assert_trail_complete(system, books)
