"""Fault injection at every inter-canister call a sale's finalize makes, one call at a time,
first rejected (the callee never runs) then trapped (the callee runs and its last segment is
rolled back; what it committed before an await stays): the pipeline stops at the failed step,
``retry_pipeline()`` (after the fault is gone) resumes it, and the end state is the clean run's.

The calls are those of a clean ``finalize()`` of each sale of ``test_pipeline``'s world (the
``new`` token sale with a DAO treasury, and the ``old`` existing-token sale with a multisig),
read from the IC's trace: the sale's own calls (to the backend, the ledgers, the distributions,
the management canister, the pool and its factory) and every call made on its behalf below them
(the backend's calls to the factories and storages, the factories' to the management canister
and the new contracts, the pool's and the distributions' to the ledgers, the new token's to its
factory). Each case restores the snapshot of both sales Successful, installs the fault on the
i-th call (``after=`` the number of earlier calls to the same method of the same canister), runs
``finalize()``, checks that the fault hit exactly that call, removes it and retries until
Finalized (at most ``MAX_RETRIES``).

"The clean run's end state", compared with the ids of the contracts the pipeline created
replaced by their role (a deployment abandoned by its factory after a fault leaves a deleted
canister behind, so the next ones get other ids): the sale's state and every payout; every
balance and the multiset of blocks (kind, from, to, spender, amount, fee, memo) on the ICP
ledger and the sale token's ledger, so no double mint, transfer or payment, and no lost one;
every factory's registry (no second deployment); the pool's reserves, shares and per-user
balances; each distribution's phase and fee reserve; and the backend: ``fees_collected``
unchanged, every payment by the sale of amount 0, the contracts linked to them exactly the
pipeline's.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any, Final, Literal

import attrs
import pytest

from icto import Account, Principal
from icto.launchpad import SaleState
from icto.launchpad.pipeline import PipelineState, StepStatus
from tests.launchpad.test_pipeline import Launch, Platform, build_platform

MAX_RETRIES: Final = 8
RETRY_AFTER_S: Final = 10
"""Each retry comes a little later (transfers keep their ``created_at_time``)."""
SETTLE_MINUTES: Final = 10
"""After the last step, long enough for every outbox (the sale's status for its factory, the
token's holder roles, the backend's storage writes) to be retried once by its timer."""
Kind = Literal["reject", "trap"]
KINDS: Final[tuple[Kind, ...]] = ("reject", "trap")


@attrs.frozen
class Call:
    """The ``index``-th inter-canister call of a clean finalize, and ``after``: how many calls to
    the same method of the same canister came before it (in the same run)."""

    index: int
    caller: Principal
    callee: Principal
    method: str
    after: int
    depth: int


@attrs.frozen
class Clean:
    calls: tuple[Call, ...]
    outcome: dict[str, Any]
    labels: dict[Principal, str]
    contracts: tuple[Principal | None, ...]
    """The ids of what the pipeline created (token, distributions, treasury, pool)."""
    next_index: int
    """The world's next canister index at the end: equal iff as many canisters were created."""


def _contracts(pipeline: PipelineState) -> tuple[Principal | None, ...]:
    distributions = tuple(contract for _, contract in pipeline.distributions)
    return (pipeline.sale_token, *distributions, pipeline.treasury, pipeline.pool)


# -- the end state, with the pipeline's contracts named by their role -----------------------------


def _names(platform: Platform, launch: Launch) -> dict[Principal, str]:
    ic, system = platform.ic, platform.system
    pipeline = platform.pipeline(launch)
    names = {
        launch.sale: "sale",
        system.backend.id: "backend",
        system.icp_ledger.id: "icp",
        platform.old_ledger: "old token",
        system.audit_storage.id: "audit storage",
        system.invoice_storage.id: "invoice storage",
    }
    names |= {factory.id: name for name, factory in system.factories.items()}
    names |= {contract: f"distribution {name}" for name, contract in pipeline.distributions}
    for role in ("sale_token", "treasury", "pool"):
        contract = getattr(pipeline, role)
        if contract is not None:
            names[contract] = role.replace("_", " ")
    names[Principal.management_canister()] = "management"
    assert len(set(names.values())) == len(names) and ic.canister_exists(launch.sale)
    return names


def _canon(value: Any, names: dict[Principal, str]) -> Any:
    """``value`` with every principal that names a known canister replaced by its role."""
    if isinstance(value, Principal):
        return names.get(value, value)
    if isinstance(value, Account):
        return (_canon(value.owner, names), value.subaccount)
    if isinstance(value, str):
        for principal, name in names.items():
            value = value.replace(str(principal), f"<{name}>")
        return value
    if isinstance(value, tuple | list):
        return tuple(_canon(item, names) for item in value)
    if isinstance(value, dict):
        return {_canon(k, names): _canon(v, names) for k, v in value.items()}
    return value


def _config_of(state: Any) -> str:
    """What a contract was deployed with, as text (a multisig keeps its config's fields)."""
    config = getattr(state, "config", None)
    if config is None:
        config = (state.name, state.members, state.threshold, state.timelock, state.lifetime)
    return repr(config)


def _ledger_books(platform: Platform, ledger: Principal) -> tuple[Any, ...]:
    state = platform.ic.state_of(ledger)
    blocks = Counter(
        (b.kind, b.from_, b.to, b.spender, b.amount, b.fee, b.memo) for b in state.blocks
    )
    return dict(state.balances), state.total_supply, dict(blocks)


def outcome(platform: Platform, launch: Launch) -> dict[str, Any]:
    """The end state of ``launch``'s pipeline and of everything it touched, canonical."""
    ic, system = platform.ic, platform.system
    pipeline: PipelineState = platform.pipeline(launch)
    names = _names(platform, launch)
    payouts = {
        name: (p.ledger, p.to, p.amount, p.mint, p.fee) for name, p in pipeline.payouts.items()
    }
    ledgers = {system.icp_ledger.id, platform.sale_ledger(launch)}
    registries = {
        service: sorted(
            (
                _canon((info.id, info.kind, info.owner, info.name, info.status), names)
                for info in ic.state_of(factory.id).index.contracts.values()
            ),
            key=str,
        )
        for service, factory in system.factories.items()
    }
    contracts = [contract for _, contract in pipeline.distributions]
    pool = ic.state_of(pipeline.pool) if pipeline.pool is not None else None
    payments = system.invoice_storage.get_payments_by_user(launch.sale).items
    assert all(payment.amount == 0 for payment in payments), payments
    state = {
        "sale": (
            ic.actor(launch.sale).get_state(),
            tuple((str(r.step), r.status, r.error) for r in pipeline.steps),
            pipeline.lp_shares, pipeline.planned, pipeline.pool_installed,
            tuple(sorted(pipeline.activated)), payouts,
        ),
        "ledgers": {ledger: _ledger_books(platform, ledger) for ledger in ledgers},
        "registries": registries,
        "pool": None if pool is None else (
            pool.reserve0, pool.reserve1, pool.supply, dict(pool.shares), dict(pool.owed),
        ),
        "configs": {
            names[contract]: _config_of(ic.state_of(contract))
            for contract in (pipeline.sale_token, pipeline.treasury, *contracts)
            if contract is not None
        },
        "distributions": {
            name: (ic.state_of(d).status, ic.state_of(d).reserve, ic.state_of(d).funded)
            for name, d in pipeline.distributions
        },
        "fees collected": system.backend.get_counters().fees_collected,
        "payments linked": sorted(
            {names.get(p.contract_id, p.contract_id) for p in payments if p.contract_id}, key=str
        ),
    }  # fmt: skip
    canonical: dict[str, Any] = _canon(state, names)
    return canonical


def _settle(platform: Platform) -> None:
    platform.ic.advance_time(minutes=SETTLE_MINUTES)


# -- the clean runs -------------------------------------------------------------------------------


@functools.cache
def platform_and_clean_runs() -> tuple[Platform, dict[str, Clean]]:
    """The world (built once) and, per sale, its clean finalize: the calls and the end state."""
    platform = build_platform()
    ic = platform.ic
    runs = {}
    for name, launch in platform.launches.items():
        ic.restore(platform.successful)
        ic.trace.clear()
        assert platform.sale(launch).finalize().unwrap() is SaleState.FINALIZED
        entries = list(ic.trace)
        seen: Counter[tuple[Principal, str]] = Counter()
        calls = []
        for entry in entries:
            key = (entry.callee, entry.method)
            if entry.kind == "call":
                calls.append(
                    Call(len(calls), entry.caller, entry.callee, entry.method, seen[key],
                         entry.depth)
                )  # fmt: skip
            seen[key] += 1
        _settle(platform)
        labels = _names(platform, launch)
        contracts = _contracts(platform.pipeline(launch))
        next_index = ic.world.next_canister_index
        runs[name] = Clean(tuple(calls), outcome(platform, launch), labels, contracts, next_index)
    ic.restore(platform.successful)
    return platform, runs


def _label(principal: Principal, labels: dict[Principal, str]) -> str:
    return labels.get(principal, "canister").replace(" ", "-")


def _cases() -> list[Any]:
    _, runs = platform_and_clean_runs()
    cases = []
    for name, clean in runs.items():
        for call in clean.calls:
            for kind in KINDS:
                route = f"{_label(call.caller, clean.labels)}>{_label(call.callee, clean.labels)}"
                case_id = f"{name}-{call.index:03d}-{route}.{call.method}-{kind}"
                cases.append(pytest.param(name, call.index, kind, id=case_id))
    return cases


CASES: Final = _cases()


# -- the sweep ------------------------------------------------------------------------------------


def test_the_sweep_covers_every_call_of_both_pipelines() -> None:
    """Both sales' pipelines make their calls (their own and those below them) and the sweep
    has a reject and a trap case for each."""
    _, runs = platform_and_clean_runs()
    for name, clean in runs.items():
        direct = [c for c in clean.calls if clean.labels.get(c.caller) == "sale"]
        methods = {c.method for c in direct}
        assert {"icrc1_fee", "icrc1_transfer", "icrc2_approve", "activate", "add_liquidity",
                "create_canister", "install_code", "get_fee_recipient",
                "notify_status_changed", "deploy_distribution"} <= methods, methods  # fmt: skip
        assert ("deploy_token" in methods) == (name == "new")
        assert ("deploy_dao" if name == "new" else "deploy_multisig") in methods
        assert len(clean.calls) > len(direct) > 20
    assert len(CASES) == 2 * sum(len(clean.calls) for clean in runs.values())


@pytest.mark.parametrize(("name", "index", "kind"), CASES)
def test_a_fault_at_any_call_is_retried_to_the_clean_end_state(
    name: str, index: int, kind: Kind
) -> None:
    platform, runs = platform_and_clean_runs()
    clean = runs[name]
    call = clean.calls[index]
    launch = platform.launches[name]
    ic = platform.ic
    ic.restore(platform.successful)
    ic.faults.clear()
    sale = platform.sale(launch)
    ic.trace.clear()  # (the trace is bounded: keep only this case's messages)
    install = ic.faults.reject if kind == "reject" else ic.faults.trap
    rule = install(canister=call.callee, method=call.method, times=1, after=call.after)
    try:
        finalized = sale.finalize()
    finally:
        ic.faults.clear()
    assert rule.fired == 1
    (hit,) = [entry for entry in ic.trace if entry.injected]
    assert (hit.caller, hit.callee, hit.method, hit.depth) == (
        call.caller, call.callee, call.method, call.depth
    )  # fmt: skip
    state = finalized.unwrap()
    retries = 0
    while state is not SaleState.FINALIZED and retries < MAX_RETRIES:
        pipeline = sale.get_pipeline()
        failed = [r for r in pipeline.steps if r.status is StepStatus.FAILED]
        assert state is SaleState.FINALIZING and len(failed) == 1, pipeline
        assert failed[0].error, failed
        ic.advance_time(seconds=RETRY_AFTER_S)
        state = sale.retry_pipeline().unwrap()
        retries += 1
    assert state is SaleState.FINALIZED, sale.get_pipeline()
    _settle(platform)
    got = outcome(platform, launch)
    for key, expected in clean.outcome.items():
        assert got[key] == expected, key
    if ic.world.next_canister_index == clean.next_index:
        # no canister was created and deleted on the way: the very same ids
        assert _contracts(platform.pipeline(launch)) == clean.contracts
