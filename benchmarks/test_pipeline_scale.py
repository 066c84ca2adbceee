"""Finalizing a successful sale costs a time linear in its buyers: the per-buyer cost with 10,000
buyers is that with 1,000.

The sale (fixed price, a new ``TokenConfig`` sale token bought with the ICP ledger of
``deploy_system``) is deployed through the backend by its creator (``deploy_launchpad``, fee
paid), so the backend is the sale's deployer and deploys its pipeline fee-exempt. It has one
allocation group (two recipients), two raised-funds recipients (70 % / 30 %), a DAO treasury
governed by the sale token (``DAOConfig`` with ``token=None``), ``liquidity_bp`` 2,000 and
``platform_fee_bp`` 250. While it is SaleActive its n buyers are written straight into its
``LaunchpadState`` and the escrow is minted what they raised, with the helpers of
``test_launchpad_scale`` (``_with_participants``, ``_install``); a test checks with a few buyers
that this world, once finalized, is the one real ``contribute()`` calls leave. The clock then
reaches the end of the sale, which becomes Successful.

Measured (pedantic, each round inside ``ic.anchor()`` so each meets the same Successful sale):
one ``finalize()``, the whole pipeline: the sale token deployed, the buyers' distribution (n
``Fixed`` recipients) and the group's deployed, funded and activated, the DAO deployed, the pool
created, installed and seeded, the platform fee and the raised-funds shares paid, the unsold
sale tokens minted to the treasury. Reported: µs per buyer at 10, 1,000 and 10,000 buyers (quick
mode: 10, 100, 1,000), and the ratio of the per-buyer cost at the largest n to that at the middle
one (at 10 buyers the fixed part dominates).

Where the time goes at 10,000 buyers (``profile_finalize()``: cProfile over one ``finalize()``,
1.35 s under the profiler, about 0.5 s without; by cumulative time, below the call machinery
``proxy`` → ``router`` → ``finalize`` → ``_run_steps``, which holds all of it):

1. ``FinalizePipeline._deploy_distributions``: 1.24 s (92 %); the token, funding (0.09 s),
   DAO, pool and payouts together take the other 8 %;
2. ``Backend.deploy_distribution`` (→ ``PaidDeployments._deploy`` → ``_dispatch``), twice:
   1.17 s (87 %);
3. ``Factory.create_contract`` (the four deployments; almost all in the two distributions):
   1.12 s (82 %);
4. ``ContractIndex.register``: 0.77 s (57 %), nearly all ``with_role`` once per recipient
   (10,011 calls, each an ``attrs.evolve`` of the index and of the contract's
   ``ContractInfo``, and ``SortedSet.add`` twice);
5. ``tickets.config_digest`` (hashing each config, 30,076 recursive ``_encode`` calls): 0.16 s
   (12 %); then ``FinalizePipeline._distribution_configs`` (every buyer's allocation, computed
   twice: to deploy and to fund) 0.15 s (11 %), ``validate_distribution_config`` (three times
   per distribution: backend admission, factory, contract init) 0.14 s (11 %) and
   ``Distribution.init`` 0.11 s (8 %).

Every one of these is linear in the recipients; none is quadratic.
"""

from __future__ import annotations

import cProfile
import functools
import pstats
from typing import Any

import attrs
import pytest

from benchmarks.conftest import FIGURES, MANY, _per_op
from benchmarks.test_launchpad_scale import (
    Scene,
    _approve,
    _built,
    _first_at,
    _install,
    _with_participants,
    contribution,
    participant,
)
from icto import E8S, IC, Account, Ok, Principal
from icto.dao import DAOConfig
from icto.distribution import Linear, days
from icto.launchpad import (
    AllocationGroup,
    FixedPrice,
    LaunchpadConfig,
    ProjectInfo,
    SaleState,
    fixed_allocation,
)
from icto.launchpad.allocation import BP
from icto.launchpad.pipeline import PipelineState, StepStatus
from icto.launchpad.types import LaunchpadState
from icto.ledger.presets import ICP
from icto.system import System, deploy_system
from icto.token.config import TokenConfig

CREATOR = Principal.from_name("pipeline-creator")
PARTNER = Principal.from_name("pipeline-partner")
STRANGER = Principal.from_name("pipeline-stranger")
TEAM = (
    (Principal.from_name("team-a"), 600_000 * E8S),
    (Principal.from_name("team-b"), 400_000 * E8S),
)
FEE = ICP.fee
SALE_FEE = TokenConfig(name="x", symbol="X").transfer_fee
PRICE = 30_000_000
"""0.3 ICP per whole sale token (8 decimals)."""
SOFT_CAP = 5 * E8S
"""Reached by 10 buyers (each contributes 1 to 1.6 ICP): every sale here succeeds."""
HARD_CAP = 20_000 * E8S
OPENS_IN = days(1)
SALE_LENGTH = days(7)
LIQUIDITY_BP = 2_000
PLATFORM_FEE_BP = 250
RAISED_SPLIT = (7_000, 3_000)
BUYERS = (10, MANY // 10, MANY)
"""10, 1,000, 10,000 (quick mode: 10, 100, 1,000)."""
ROUNDS = {10: 20, 100: 10, 1_000: 5, 10_000: 3}


def _config(system: System) -> LaunchpadConfig:
    start = system.ic.time + OPENS_IN
    return LaunchpadConfig(
        project=ProjectInfo("Pipeline Sale"),
        sale_token=TokenConfig(name="Pipeline", symbol="PIPE"),
        purchase_token=system.icp_ledger.id, sale_type=FixedPrice(PRICE),
        tokens_for_sale=HARD_CAP * 10**8 // PRICE, soft_cap=SOFT_CAP, hard_cap=HARD_CAP,
        min_contribution=E8S // 10, max_contribution=100 * E8S, sale_start=start,
        sale_end=start + SALE_LENGTH,
        allocations=(AllocationGroup("team", sum(a for _, a in TEAM), TEAM, Linear(days(365))),),
        raised_allocation=((Account(CREATOR), RAISED_SPLIT[0]),
                           (Account(PARTNER), RAISED_SPLIT[1])),
        treasury=DAOConfig(
            name="Pipeline DAO", minimum_stake=E8S, proposal_threshold=E8S, proposal_deposit=0,
            quorum_bp=2_000, approval_bp=5_000, voting_period=days(3), timelock=days(1),
        ),
        liquidity_bp=LIQUIDITY_BP, platform_fee_bp=PLATFORM_FEE_BP,
    )  # fmt: skip


def _deploy() -> tuple[System, Principal, LaunchpadConfig]:
    """The platform and the creator's sale, deployed through the backend (Upcoming)."""
    system = deploy_system(IC(trace=False))
    system.faucet(CREATOR, 20 * E8S)
    system.approve_backend(CREATOR, 11 * E8S)
    config = _config(system)
    deployed = system.backend.as_caller(CREATOR).deploy_launchpad(config).unwrap()
    sale: Principal = deployed.canister_id
    assert system.ic.state_of(sale).deployer == system.backend.id
    return system, sale, config


@functools.cache
def finalizable(count: int) -> Scene:
    """A Successful sale at its end instant whose ``count`` buyers were written into its state
    while it was SaleActive (``contribution(n)`` each, over its first two days)."""

    def build() -> Scene:
        system, sale_id, config = _deploy()
        ic = system.ic
        ic.set_time(config.sale_start)
        state = _with_participants(ic.state_of(sale_id), count)
        _install(system, sale_id, state)
        system.faucet(Account(sale_id), state.raised)
        ic.set_time(config.sale_end)
        return Scene(system, sale_id, count)

    s = _built(build)
    info = s.ic.actor(s.sale, STRANGER).get_sale()
    assert info.state is SaleState.SUCCESSFUL
    assert info.participants == count
    assert info.raised == s.system.icp_balance(s.sale) == sum(map(contribution, range(count)))
    return s


def finalizable_for_real(count: int) -> Scene:
    """``finalizable(count)`` built by the operations: each buyer is minted its contribution
    and two fees, approves the sale and calls ``contribute()`` at its moment."""
    system, sale_id, config = _deploy()
    ic = system.ic
    for n in range(count):
        user, amount = participant(n), contribution(n)
        system.faucet(user, amount + 2 * FEE)
        _approve(system, user, sale_id, amount + FEE)
        ic.set_time(_first_at(config.sale_start, n, count))
        assert ic.actor(sale_id, user).contribute(amount).unwrap() == amount
    ic.set_time(config.sale_end)
    return Scene(system, sale_id, count)


# -- what a finalized sale must be ------------------------------------------------------------


def _sale_token_balance(s: Scene, owner: Principal | Account) -> int:
    pipeline = s.ic.state_of(s.sale).pipeline
    account = owner if isinstance(owner, Account) else Account(owner)
    return int(s.ic.actor(pipeline.sale_token, STRANGER).icrc1_balance_of(account))


def _expected_payouts(raised: int) -> tuple[int, int, int, int]:
    """(platform fee, creator's share, partner's share, ICP leftover to the treasury) computed
    here from the raise: one ledger fee per transfer taken off the top, the pool's purchase
    tokens and its two fees (approve, pull) too."""
    platform = raised * PLATFORM_FEE_BP // BP
    pool = raised * LIQUIDITY_BP // BP + 2 * FEE
    distributable = raised - (platform + FEE) - pool - len(RAISED_SPLIT) * FEE
    shares = [distributable * bp // BP for bp in RAISED_SPLIT]
    left = distributable - sum(shares)
    if left > FEE:
        return platform, shares[0], shares[1], left - FEE
    return platform, shares[0] + left, shares[1], 0


def _payees(s: Scene) -> tuple[Principal, ...]:
    """Who the pipeline pays ICP, but for the treasury it deploys: the fee recipient and both
    raised-funds recipients."""
    return (s.system.backend.get_fee_recipient().owner, CREATOR, PARTNER)


def _check_finalized(s: Scene, before: dict[Principal, int]) -> None:
    """After one ``finalize()``: Finalized, every step done, the escrow empty, every buyer's
    allocation in the buyers' distribution, the ICP payouts those computed here (``before``:
    the payees' balances before it)."""
    ic, count = s.ic, s.participants
    state: LaunchpadState = ic.state_of(s.sale)
    pipeline: PipelineState = state.pipeline
    assert state.status is SaleState.FINALIZED
    assert state.history[-1] == (SaleState.FINALIZED, s.config.sale_end)
    assert [r.status for r in pipeline.steps] == [StepStatus.DONE] * len(pipeline.steps)
    assert s.system.icp_balance(s.sale) == 0
    assert _sale_token_balance(s, s.sale) == 0
    distributions = dict(pipeline.distributions)
    buyers = ic.actor(distributions["buyers"], STRANGER)
    stats = buyers.get_stats()
    assert stats.participants == count and stats.total == state.allocated and stats.funded
    assert _sale_token_balance(s, distributions["buyers"]) == state.allocated + count * SALE_FEE
    for n in sorted({0, count // 2, count - 1}):
        held = buyers.get_participant(participant(n))
        assert held.allocation == held.claimable == fixed_allocation(contribution(n), PRICE, 8)
    team = ic.actor(distributions["group 0"], STRANGER).get_stats()
    assert team.participants == len(TEAM) and team.funded
    treasury = pipeline.treasury
    assert treasury is not None
    assert ic.actor(treasury, STRANGER).get_config().token == pipeline.sale_token
    assert _sale_token_balance(s, treasury) == s.config.tokens_for_sale - state.allocated
    assert pipeline.pool is not None
    assert pipeline.lp_shares and ic.actor(pipeline.pool, STRANGER).get_shares(treasury) == (
        pipeline.lp_shares
    )
    platform, creator, partner, leftover = _expected_payouts(state.raised)
    got = [s.system.icp_balance(who) - before[who] for who in _payees(s)]
    assert got == [platform, creator, partner]
    assert s.system.icp_balance(treasury) == leftover


def _finalize_and_check(s: Scene) -> None:
    """Finalize (inside an anchor: the scene stays Successful) and check the outcome."""
    before = {who: s.system.icp_balance(who) for who in _payees(s)}
    with s.ic.anchor():
        assert s.ic.actor(s.sale, STRANGER).finalize() == Ok(SaleState.FINALIZED)
        _check_finalized(s, before)
    assert s.ic.actor(s.sale, STRANGER).get_state() is SaleState.SUCCESSFUL


# -- the written world is the real one ------------------------------------------------------------


def _without_blocks(pipeline: PipelineState) -> PipelineState:
    """The pipeline with the ICP ledger's block indexes left out (the written world minted
    the escrow in one block, not one per buyer)."""
    payouts = pipeline.payouts
    for name, payout in pipeline.payouts.items():
        payouts = payouts.set(name, attrs.evolve(payout, block=None))
    return attrs.evolve(pipeline, payouts=payouts)


def test_a_written_sale_finalizes_like_one_its_buyers_contributed_to() -> None:
    """With a few buyers: before the pipeline, the sale's and the factory's states, the escrow
    and the timers are those real contributions leave; after it, the sale's state (but for
    ICP block indexes), every contract it deployed, and every payee's balance."""
    count = 25
    a, b = finalizable(count), finalizable_for_real(count)
    assert a.sale == b.sale and a.ic.time == b.ic.time
    assert a.ic.pending_timers() == b.ic.pending_timers()
    factory = a.system.launchpad_factory.id
    for canister in (a.sale, factory):
        assert a.ic.state_of(canister) == b.ic.state_of(canister)
    assert a.system.icp_balance(a.sale) == b.system.icp_balance(b.sale)
    with a.ic.anchor():
        for s in (a, b):
            assert s.ic.actor(s.sale, STRANGER).finalize() == Ok(SaleState.FINALIZED)
        sa, sb = a.ic.state_of(a.sale), b.ic.state_of(b.sale)
        assert attrs.evolve(sa, pipeline=_without_blocks(sa.pipeline)) == attrs.evolve(
            sb, pipeline=_without_blocks(sb.pipeline)
        )
        pipeline = sa.pipeline
        deployed = [pipeline.sale_token, pipeline.treasury, pipeline.pool,
                    *dict(pipeline.distributions).values()]  # fmt: skip
        for canister in deployed:
            assert a.ic.state_of(canister) == b.ic.state_of(canister)
        for who in (a.sale, CREATOR, PARTNER, pipeline.treasury, pipeline.pool):
            assert a.system.icp_balance(who) == b.system.icp_balance(who)
    _finalize_and_check(a)


# -- the measurement --------------------------------------------------------------------------


@pytest.mark.parametrize("count", BUYERS)
def test_finalizing_costs_the_same_per_buyer_however_many(benchmark: Any, count: int) -> None:
    """Each round, inside an anchor, a stranger finalizes the Successful sale of ``count``
    buyers: the whole pipeline, to Finalized. Per buyer."""
    s = finalizable(count)
    ic = s.ic
    anyone = ic.actor(s.sale, STRANGER)

    def run() -> Any:
        with ic.anchor():
            return anyone.finalize()

    result = benchmark.pedantic(run, rounds=ROUNDS[count], iterations=1, warmup_rounds=0)
    assert result == Ok(SaleState.FINALIZED)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        per_buyer = stats.stats.median / count
        _per_op[f"finalize_{count}"] = per_buyer
        FIGURES[f"µs per buyer to finalize a sale of {count:,} buyers"] = per_buyer * 1e6
    _finalize_and_check(s)


# -- by hand ----------------------------------------------------------------------------------


def profile_finalize(count: int = 10_000, top: int = 40) -> pstats.Stats:
    """Profile one ``finalize()`` of ``finalizable(count)`` (cProfile), print the ``top``
    functions by cumulative time and return the stats. Not a test: run it by hand with
    ``python -m benchmarks.test_pipeline_scale``."""
    s = finalizable(count)
    profiler = cProfile.Profile()
    with s.ic.anchor():
        profiler.enable()
        result = s.ic.actor(s.sale, STRANGER).finalize()
        profiler.disable()
    assert result == Ok(SaleState.FINALIZED), result
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(top)
    return stats


if __name__ == "__main__":
    profile_finalize()
