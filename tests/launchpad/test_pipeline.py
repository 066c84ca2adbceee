"""The finalize pipeline of a successful sale, run cleanly: what it creates, where every token
goes, who pays for it, and what strangers cannot make it do (bug B10).

Two sales in one world, both Successful and not finalized yet (the ``successful`` snapshot):

- ``new``: a new sale token (``TokenConfig``, minted at finalize), fixed price, a team group of
  two recipients, a DAO treasury governed by the sale token, 20% of the raise in a pool, a 2.5%
  platform fee, a 1% affiliate commission on one referred contribution and the rest shared by
  two raised-funds recipients (60/40);
- ``old``: an existing token (a plain ledger; the creator deposits ``get_deposit_needed()``
  before the start), fair launch, an advisors group, a multisig treasury with the creator as an
  Owner, 15% in a pool, a 1% platform fee and one raised-funds recipient.

Every expected amount is recomputed here from the config and the contributions with the spec's
formulas (never read back from the pipeline's own records), and checked against the ledgers'
balances and blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import attrs
import pytest
from hypothesis import example, given

from icto import E8S, IC, MANAGEMENT_ID, Account, Err, Ok, Principal, Trap, World
from icto.backend import DEFAULT_FEES, LAUNCHPAD_FACTORY, Unauthorized
from icto.dao import DAOConfig
from icto.dex.pool import Pool
from icto.distribution import Linear
from icto.distribution.config import TITLE_LENGTH
from icto.distribution.types import InvalidRequest as NotCancellable
from icto.distribution.types import Phase, WrongPhase
from icto.factory.deploy import deploy_factory
from icto.ic.world import AWAIT_GIVEN_UP_NS
from icto.launchpad import (
    AllocationGroup,
    ExistingToken,
    FairLaunch,
    FixedPrice,
    LaunchpadConfig,
    LaunchpadFactory,
    LaunchpadSale,
    ProjectInfo,
    SaleState,
    WrongState,
    commission,
    fair_allocation,
    fixed_allocation,
)
from icto.launchpad.pipeline import MINTING_SUBACCOUNT, PipelineState, StepStatus, _title
from icto.ledger.ledger import Ledger
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import ApproveArgs, TransferArgs
from icto.multisig import MultisigConfig, Role
from icto.system import System, deploy_system
from icto.testing.strategies import text
from icto.token import TokenConfig
from icto.validation import text_problem
from tests.helpers import Relay, rejected

DAY: Final = 86_400 * 10**9
FEE: Final = ICP.fee
"""The ledger fee of ICP, of the existing sale token and of the new one (TokenConfig's
default)."""
BP: Final = 10_000
LAUNCH_FEE: Final = DEFAULT_FEES[LAUNCHPAD_FACTORY]
CREATOR, MAKER = Principal.from_name("nova-creator"), Principal.from_name("olde-maker")
"""The creators of the ``new`` and the ``old`` sale."""
B1, B2, B3 = (Principal.from_name(f"pipeline-buyer-{n}") for n in (1, 2, 3))
AFFILIATE = Principal.from_name("pipeline-affiliate")
R1, R2 = Principal.from_name("raised-r1"), Principal.from_name("raised-r2")
TEAM, SIGNER = Principal.from_name("nova-team"), Principal.from_name("olde-signer")
STRANGER = Principal.from_name("pipeline-stranger")
OLD_MINTER = Principal.from_name("olde-minter")
PRICE: Final = E8S // 100
"""1 ICP buys 100 NOVA."""
NEW_BUYS: Final = ((B1, 30 * E8S, None), (B2, 25 * E8S, AFFILIATE), (B3, 1_234_567_891, None))
OLD_BUYS: Final = ((B1, 20 * E8S, None), (B3, 3_333_333_337, None))


@attrs.frozen
class Launch:
    """One sale of the world: its creator, config and contributions (buyer, amount, affiliate)."""

    name: str
    sale: Principal
    creator: Principal
    config: LaunchpadConfig
    buys: tuple[tuple[Principal, int, Principal | None], ...]

    @property
    def raised(self) -> int:
        return sum(amount for _, amount, _ in self.buys)

    def allocation(self, amount: int) -> int:
        sale_type = self.config.sale_type
        if isinstance(sale_type, FixedPrice):
            return fixed_allocation(amount, sale_type.price, self.config.sale_decimals)
        return fair_allocation(amount, self.raised, self.config.tokens_for_sale)

    @property
    def allocated(self) -> int:
        return sum(self.allocation(amount) for _, amount, _ in self.buys)

    def liquidity(self) -> tuple[int, int]:
        """(sale tokens, ICP) of the pool: the liquidity share of the raise at the sale price."""
        icp = self.raised * self.config.liquidity_bp // BP
        sale_type = self.config.sale_type
        if isinstance(sale_type, FixedPrice):
            return icp * 10**self.config.sale_decimals // sale_type.price, icp
        return icp * self.config.tokens_for_sale // self.raised, icp


@attrs.frozen
class Platform:
    """The platform and both sales; ``successful``: both sales Successful, none finalized."""

    ic: IC
    system: System
    new: Launch
    old: Launch
    old_ledger: Principal
    deposit: int
    successful: World

    @property
    def launches(self) -> dict[str, Launch]:
        return {"new": self.new, "old": self.old}

    def sale(self, launch: Launch, caller: Principal = STRANGER) -> Any:
        return self.ic.actor(launch.sale, caller)

    def pipeline(self, launch: Launch) -> PipelineState:
        pipeline: PipelineState = self.sale(launch).get_pipeline()
        return pipeline

    def sale_ledger(self, launch: Launch) -> Principal:
        token = launch.config.sale_token
        if isinstance(token, ExistingToken):
            return token.ledger
        ledger = self.pipeline(launch).sale_token
        assert ledger is not None
        return ledger

    def balance(self, ledger: Principal, owner: Principal | Account) -> int:
        account = owner if isinstance(owner, Account) else Account(owner)
        return int(self.ic.actor(ledger).icrc1_balance_of(account))

    def icp(self, owner: Principal | Account) -> int:
        return self.balance(self.system.icp_ledger.id, owner)


def _configs(system: System, old_ledger: Principal) -> tuple[LaunchpadConfig, LaunchpadConfig]:
    start, end = system.ic.time + DAY, system.ic.time + 8 * DAY
    new = LaunchpadConfig(
        project=ProjectInfo("Nova", "a new token, minted at finalize"),
        sale_token=TokenConfig(name="Nova", symbol="NOVA"),
        purchase_token=system.icp_ledger.id, sale_type=FixedPrice(PRICE),
        tokens_for_sale=10_000 * E8S, soft_cap=20 * E8S, hard_cap=100 * E8S,
        min_contribution=E8S, max_contribution=40 * E8S, sale_start=start, sale_end=end,
        buyer_vesting=Linear(90 * DAY), buyer_initial_bp=2_500,
        allocations=(AllocationGroup(
            "team", 2_000 * E8S, ((TEAM, 1_500 * E8S), (CREATOR, 500 * E8S)), Linear(365 * DAY)
        ),),
        raised_allocation=((Account(R1), 6_000), (Account(R2), 4_000)),
        treasury=DAOConfig(
            name="Nova DAO", minimum_stake=E8S, proposal_threshold=100 * E8S,
            proposal_deposit=0, quorum_bp=2_000, approval_bp=5_000, voting_period=3 * DAY,
            timelock=DAY,
        ),
        liquidity_bp=2_000, platform_fee_bp=250, affiliate_bp=100,
    )  # fmt: skip
    old = LaunchpadConfig(
        project=ProjectInfo("Olde", "an existing token"),
        sale_token=ExistingToken(old_ledger, ICP.decimals),
        purchase_token=system.icp_ledger.id, sale_type=FairLaunch(),
        tokens_for_sale=500_000 * E8S, soft_cap=10 * E8S, hard_cap=100 * E8S,
        min_contribution=E8S, max_contribution=50 * E8S, sale_start=start, sale_end=end,
        allocations=(AllocationGroup("advisors", 50_000 * E8S, ((SIGNER, 50_000 * E8S),)),),
        raised_allocation=((Account(MAKER), BP),),
        treasury=MultisigConfig(
            name="Olde vault", members=((MAKER, Role.OWNER), (SIGNER, Role.SIGNER)), threshold=1
        ),
        liquidity_bp=1_500, platform_fee_bp=100,
    )  # fmt: skip
    return new, old


def build_platform() -> Platform:
    """Deploy the platform and both sales, deposit the existing token, contribute, and stop at
    the sales' end (both Successful; each would finalize itself an hour later)."""
    ic = IC()
    system = deploy_system(ic)
    old_ledger = deploy_ledger(ic, ICP.init(Account(OLD_MINTER)))
    new_config, old_config = _configs(system, old_ledger.id)
    sales = []
    for creator, config in ((CREATOR, new_config), (MAKER, old_config)):
        system.faucet(creator, 50 * E8S)
        system.approve_backend(creator, LAUNCH_FEE + FEE)
        deployed = system.backend.as_caller(creator).deploy_launchpad(config).unwrap()
        sales.append(deployed.canister_id)
    new = Launch("new", sales[0], CREATOR, new_config, NEW_BUYS)
    old = Launch("old", sales[1], MAKER, old_config, OLD_BUYS)
    maker_sale = ic.actor(old.sale, MAKER)
    deposit: int = maker_sale.get_deposit_needed().unwrap()
    minted = TransferArgs(to=Account(MAKER), amount=deposit + 2 * FEE)
    old_ledger.as_caller(OLD_MINTER).icrc1_transfer(minted).unwrap()
    approval = ApproveArgs(spender=Account(old.sale), amount=deposit + FEE)
    old_ledger.as_caller(MAKER).icrc2_approve(approval).unwrap()
    assert maker_sale.deposit_sale_tokens() == Ok(deposit)
    ic.advance_time(nanos=DAY)
    for launch in (new, old):
        for buyer, amount, affiliate in launch.buys:
            system.faucet(buyer, amount + 2 * FEE)
            allowed = ApproveArgs(spender=Account(launch.sale), amount=amount + FEE)
            system.icp_ledger.as_caller(buyer).icrc2_approve(allowed).unwrap()
            assert ic.actor(launch.sale, buyer).contribute(amount, affiliate) == Ok(amount)
    ic.set_time(new_config.sale_end)
    for launch in (new, old):
        assert ic.actor(launch.sale).get_state() is SaleState.SUCCESSFUL
    return Platform(ic, system, new, old, old_ledger.id, deposit, ic.snapshot())


# -- fixtures -------------------------------------------------------------------------------------


@attrs.frozen
class Finalized:
    platform: Platform
    snapshot: World
    fees_before: int
    """The backend's ``fees_collected`` before finalize."""


@pytest.fixture(scope="module")
def finalized_world() -> Finalized:
    platform = build_platform()
    ic = platform.ic
    fees_before = platform.system.backend.get_counters().fees_collected
    for launch in (platform.new, platform.old):
        assert platform.sale(launch).finalize() == Ok(SaleState.FINALIZED)
    finalized = Finalized(platform, ic.snapshot(), fees_before)
    ic.restore(platform.successful)
    return finalized


@pytest.fixture
def platform(finalized_world: Finalized) -> Iterator[Platform]:
    """Both sales Successful, not finalized."""
    platform = finalized_world.platform
    platform.ic.restore(platform.successful)
    yield platform
    platform.ic.faults.clear()


@pytest.fixture
def done(finalized_world: Finalized) -> Iterator[Finalized]:
    """Both sales finalized by ``finalize()``."""
    finalized_world.platform.ic.restore(finalized_world.snapshot)
    yield finalized_world
    finalized_world.platform.ic.faults.clear()


LAUNCHES: Final = ("new", "old")


# -- a clean run ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LAUNCHES)
def test_a_clean_run_finalizes_every_step_creates_its_contracts_and_records_every_block(
    platform: Platform, name: str
) -> None:
    launch = platform.launches[name]
    system, ic = platform.system, platform.ic
    sale = platform.sale(launch)
    assert sale.finalize() == Ok(SaleState.FINALIZED)
    assert sale.get_state() is SaleState.FINALIZED
    assert [state for state, _ in sale.get_sale().history][-2:] == [
        SaleState.FINALIZING,
        SaleState.FINALIZED,
    ]
    pipeline = platform.pipeline(launch)
    skipped = {"DeployToken"} if name == "old" else set()
    for record in pipeline.steps:
        expected = StepStatus.SKIPPED if str(record.step) in skipped else StepStatus.DONE
        assert (record.status, record.error, record.attempts) == (expected, None, 1), record
    assert pipeline.planned and pipeline.pool_installed and pipeline.lp_shares
    # the contracts: the token, the distributions by name, the treasury, the pool
    if name == "new":
        token = pipeline.sale_token
        assert token is not None and system.token_factory.is_contract(token)
        assert ic.actor(token).icrc1_symbol() == "NOVA"
        assert ic.actor(token).icrc1_minting_account() == Account(launch.sale, MINTING_SUBACCOUNT)
    else:
        assert pipeline.sale_token is None
    assert [n for n, _ in pipeline.distributions] == ["buyers", "group 0"]
    for _, distribution in pipeline.distributions:
        assert system.distribution_factory.is_contract(distribution)
    treasury_factory = system.dao_factory if name == "new" else system.multisig_factory
    assert pipeline.treasury is not None and treasury_factory.is_contract(pipeline.treasury)
    assert pipeline.pool is not None and ic.code_of(pipeline.pool) is Pool
    pool = ic.actor(pipeline.pool)
    assert pool.get_shares(pipeline.treasury) == pipeline.lp_shares
    # every payout has its block, and the block says what the payout says
    expected_payouts = {
        "fund buyers", "fund group 0", "approve the pool on the sale token",
        "approve the pool on the purchase token", "platform fee", "raised share 0",
        "sale token leftover",
    }  # fmt: skip
    if name == "new":
        expected_payouts |= {"mint for the pool", "raised share 1", f"commission {AFFILIATE}"}
    assert set(pipeline.payouts) == expected_payouts
    assert set(pipeline.payout_order) == expected_payouts
    for payout_name, payout in pipeline.payouts.items():
        assert payout.block is not None, payout_name
        (block,) = ic.actor(payout.ledger).get_blocks(payout.block, 1)
        if payout_name.startswith("approve"):
            assert (block.kind, block.spender) == ("approve", payout.to)
            continue
        assert (block.to, block.amount) == (payout.to, payout.amount), payout_name
        assert block.kind == ("mint" if payout.mint else "transfer"), payout_name
    info = system.launchpad_factory.get_contract_info(launch.sale)
    assert info.status == "Finalized"
    finalized = system.launchpad_factory.get_sales_by_state(SaleState.FINALIZED)
    assert launch.sale in {entry.id for entry in finalized}


# -- conservation -------------------------------------------------------------------------------


def test_the_new_sale_token_is_all_accounted_for(done: Finalized) -> None:
    """total supply == Σ distributions + pool + treasury (nobody claimed yet); the buyers'
    distribution holds every allocation plus one claim fee per buyer, the team's its group plus
    one fee per recipient; the treasury got the unsold tokens; the sale keeps nothing."""
    platform, launch = done.platform, done.platform.new
    pipeline = platform.pipeline(launch)
    token = platform.sale_ledger(launch)
    ledger = platform.ic.actor(token)
    buyers, team = (dict(pipeline.distributions)[n] for n in ("buyers", "group 0"))
    assert pipeline.pool is not None and pipeline.treasury is not None
    held = {
        who: platform.balance(token, who)
        for who in (buyers, team, pipeline.pool, pipeline.treasury)
    }
    allocated = launch.allocated
    assert allocated == sum(amount * 100 for _, amount, _ in launch.buys)
    assert held[buyers] == allocated + len(launch.buys) * FEE
    (team_group,) = launch.config.allocations
    assert held[team] == team_group.amount + len(team_group.recipients) * FEE
    pool_tokens, _ = launch.liquidity()
    assert held[pipeline.pool] == pool_tokens
    assert held[pipeline.treasury] == launch.config.tokens_for_sale - allocated
    assert platform.balance(token, launch.sale) == 0
    assert platform.balance(token, Account(launch.sale, MINTING_SUBACCOUNT)) == 0
    assert ledger.icrc1_total_supply() == sum(held.values())
    # minted = Σ fundings + the pool's tokens and its two fees + the unsold; the two fees (the
    # approval and the pool's pull) were burned
    blocks = ledger.get_blocks(0, ledger.get_transaction_count())
    minted = sum(block.amount for block in blocks if block.kind == "mint")
    assert minted == held[buyers] + held[team] + pool_tokens + 2 * FEE + held[pipeline.treasury]
    assert sum(block.fee or 0 for block in blocks) == 2 * FEE
    assert minted - 2 * FEE == ledger.icrc1_total_supply()
    kinds = [block.kind for block in blocks]
    assert kinds == ["mint", "mint", "mint", "approve", "transfer_from", "mint"]


def _spent(block: Any) -> int:
    """What a block took from its ``from_`` account (an approval: only its fee)."""
    fee = block.fee or 0
    return fee if block.kind == "approve" else block.amount + fee


def _expected_raise(launch: Launch, treasury: bool) -> dict[str, int]:
    """The raise's split by the spec: platform fee and commissions first, the pool's ICP, a
    ledger fee per transfer (and the pool's approval and pull), the shares of what is left by
    bp; rounding to the first recipient (there is never more than a fee of it here)."""
    config, raised = launch.config, launch.raised
    split = {"platform fee": raised * config.platform_fee_bp // BP}
    referred: dict[Principal, int] = {}
    for _, amount, affiliate in launch.buys:
        if affiliate is not None:
            referred[affiliate] = referred.get(affiliate, 0) + amount
    for affiliate, amount in referred.items():
        split[f"commission {affiliate}"] = commission(amount, config.affiliate_bp)
    _, pool_icp = launch.liquidity()
    transfers = len(split) + 2 + len(config.raised_allocation)
    distributable = raised - sum(split.values()) - pool_icp - transfers * FEE
    shares = [distributable * bp // BP for _, bp in config.raised_allocation]
    left = distributable - sum(shares)
    assert 0 <= left <= FEE and treasury  # the rounding goes to the first recipient
    shares[0] += left
    split |= {f"raised share {i}": share for i, share in enumerate(shares)}
    split["pool"] = pool_icp
    split["fees"] = transfers * FEE
    return split


@pytest.mark.parametrize("name", LAUNCHES)
def test_the_raise_is_paid_out_to_the_last_e8_and_the_escrow_ends_empty(
    done: Finalized, name: str
) -> None:
    """raised == platform fee + commissions + Σ shares + the pool's ICP + Σ ledger fees the
    escrow paid; each went where the config says; the escrow holds 0."""
    platform = done.platform
    launch = platform.launches[name]
    pipeline = platform.pipeline(launch)
    icp = platform.ic.actor(platform.system.icp_ledger.id)
    split = _expected_raise(launch, pipeline.treasury is not None)
    assert sum(split.values()) == launch.raised
    assert platform.icp(launch.sale) == 0
    blocks = icp.get_blocks(0, icp.get_transaction_count())
    escrow = Account(launch.sale)
    out = [block for block in blocks if block.from_ == escrow]
    assert sum(block.fee for block in out) == split["fees"]
    assert sum(_spent(block) for block in out) == launch.raised
    for payout_name, amount in split.items():
        if payout_name in ("pool", "fees"):
            continue
        payout = pipeline.payouts[payout_name]
        assert (payout.amount, payout.fee, payout.ledger) == (amount, FEE, icp.id), payout_name
    shares = dict(launch.config.raised_allocation)
    recipients = [account for account in shares]
    if name == "new":
        assert platform.icp(R1) == split["raised share 0"] > 0
        assert platform.icp(R2) == split["raised share 1"] > 0
        assert platform.icp(AFFILIATE) == split[f"commission {AFFILIATE}"] == 25 * E8S // 100
    else:
        # the creator: 50 ICP, less the launch fee, its ledger fee and the approval's fee
        start = 50 * E8S - LAUNCH_FEE - 2 * FEE
        assert recipients == [Account(MAKER)]
        assert platform.icp(MAKER) == start + split["raised share 0"]
    assert pipeline.pool is not None
    reserves = platform.ic.actor(pipeline.pool).get_reserves()
    assert reserves.reserve1 == split["pool"] == platform.icp(pipeline.pool)
    assert "leftover" not in pipeline.payouts


def test_the_existing_token_deposit_is_all_accounted_for(done: Finalized) -> None:
    """deposit == Σ fundings + the pool's pull + the five ledger fees the sale paid + the
    leftover sent to the multisig treasury; the sale's balance ends at exactly 0 (the leftover
    is the deposit less what was moved, the pool's pull and the leftover transfer's own fee)."""
    platform, launch = done.platform, done.platform.old
    pipeline = platform.pipeline(launch)
    ledger_id = platform.old_ledger
    ledger = platform.ic.actor(ledger_id)
    buyers, advisors = (dict(pipeline.distributions)[n] for n in ("buyers", "group 0"))
    assert pipeline.pool is not None and pipeline.treasury is not None
    allocated = launch.allocated
    assert allocated == sum(
        fair_allocation(amount, launch.raised, launch.config.tokens_for_sale)
        for _, amount, _ in launch.buys
    )  # fmt: skip
    assert platform.balance(ledger_id, buyers) == allocated + len(launch.buys) * FEE
    assert platform.balance(ledger_id, advisors) == 50_000 * E8S + FEE
    pool_tokens, _ = launch.liquidity()
    assert platform.balance(ledger_id, pipeline.pool) == pool_tokens
    # two fundings, the pool's approval and pull, and the leftover: five fees
    fundings = platform.balance(ledger_id, buyers) + platform.balance(ledger_id, advisors)
    leftover = platform.deposit - fundings - pool_tokens - 5 * FEE
    assert leftover > launch.config.tokens_for_sale - allocated  # the unused reserve too
    assert platform.balance(ledger_id, pipeline.treasury) == leftover
    assert pipeline.payouts["sale token leftover"].to == Account(pipeline.treasury)
    assert platform.balance(ledger_id, launch.sale) == 0
    assert platform.balance(ledger_id, MAKER) == 0
    blocks = ledger.get_blocks(0, ledger.get_transaction_count())
    paid = [block for block in blocks if block.from_ == Account(launch.sale)]
    assert len(paid) == 5 and sum(block.fee for block in paid) == 5 * FEE
    # minted: the deposit and the creator's two fees (approval, pull); burned: every fee
    assert ledger.icrc1_total_supply() == platform.deposit + 2 * FEE - 2 * FEE - 5 * FEE


# -- nobody paid for the pipeline -----------------------------------------------------------------


def _pipeline_contracts(platform: Platform, launch: Launch) -> dict[Principal, Any]:
    """Each contract the pipeline deployed through the backend, with the factory holding it."""
    system, pipeline = platform.system, platform.pipeline(launch)
    contracts: dict[Principal, Any] = {
        contract: system.distribution_factory for _, contract in pipeline.distributions
    }
    if pipeline.sale_token is not None:
        contracts[pipeline.sale_token] = system.token_factory
    assert pipeline.treasury is not None
    treasury_factory = system.dao_factory if launch.name == "new" else system.multisig_factory
    contracts[pipeline.treasury] = treasury_factory
    return contracts


def test_the_backend_charged_the_sales_nothing_and_recorded_zero_payments(
    done: Finalized,
) -> None:
    platform = done.platform
    system = platform.system
    counters = system.backend.get_counters()
    assert done.fees_before == 2 * LAUNCH_FEE
    assert counters.fees_collected == done.fees_before
    icp = system.icp_ledger
    blocks = icp.get_blocks(0, icp.get_transaction_count())
    for launch in (platform.new, platform.old):
        # the creator's only payments: approving the backend and the launch fee it took
        paid = [
            (block.kind, block.amount, block.to) for block in blocks
            if block.from_ == Account(launch.creator)
        ]  # fmt: skip
        assert paid == [
            ("approve", LAUNCH_FEE + FEE, None),
            ("transfer_from", LAUNCH_FEE, Account(system.backend.id)),
        ]
        share = _expected_raise(launch, True)["raised share 0"] if launch is platform.old else 0
        assert platform.icp(launch.creator) == 50 * E8S - LAUNCH_FEE - 2 * FEE + share
        contracts = _pipeline_contracts(platform, launch)
        payments = system.invoice_storage.get_payments_by_user(launch.sale).items
        assert len(payments) == len(contracts)
        assert {payment.contract_id for payment in payments} == set(contracts)
        for payment in payments:
            status = type(payment.status).__name__
            assert (payment.amount, payment.user, status) == (0, launch.sale, "Completed")
        creator_payments = system.invoice_storage.get_payments_by_user(launch.creator).items
        assert [p.amount for p in creator_payments] == [LAUNCH_FEE]
    # the backend's account got the launch fees and the platform fees, nothing else
    platform_fees = sum(
        launch.raised * launch.config.platform_fee_bp // BP
        for launch in (platform.new, platform.old)
    )  # fmt: skip
    assert system.backend.get_fee_recipient() == Account(system.backend.id)
    assert platform.icp(system.backend.id) == E8S + 2 * LAUNCH_FEE + platform_fees


def test_the_pipeline_contracts_belong_to_the_creator_and_no_distribution_can_be_cancelled(
    done: Finalized,
) -> None:
    platform = done.platform
    for launch in (platform.new, platform.old):
        for contract, factory in _pipeline_contracts(platform, launch).items():
            info = factory.get_contract_info(contract)
            assert (info.owner, info.status) == (launch.creator, "active"), contract
        for _, distribution in platform.pipeline(launch).distributions:
            assert platform.ic.state_of(distribution).config.cancellable is False
            before = platform.ic.state_of(distribution)
            refused = platform.ic.actor(distribution, launch.creator).cancel()
            assert isinstance(refused, Err), refused
            phase = platform.ic.actor(distribution).get_phase()
            if phase is Phase.ACTIVE:
                assert refused.error == NotCancellable(("this distribution is not cancellable",))
            else:  # the old sale's groups vest instantly: all vested at the start
                assert phase is Phase.COMPLETED and isinstance(refused.error, WrongPhase)
            assert platform.ic.state_of(distribution) == before


# -- B10: what strangers cannot make the pipeline do ----------------------------------------------


def _books(platform: Platform) -> tuple[Any, ...]:
    """Every balance on every ledger involved, the backend's counters and every registry."""
    ic, system = platform.ic, platform.system
    ledgers = [system.icp_ledger.id, platform.old_ledger]
    pipeline = platform.pipeline(platform.new)
    if pipeline is not None and pipeline.sale_token is not None:
        ledgers.append(pipeline.sale_token)
    return (
        tuple(dict(ic.state_of(ledger).balances) for ledger in ledgers),
        system.backend.get_counters(),
        tuple(ic.state_of(factory.id).index for factory in system.factories.values()),
    )


@pytest.mark.parametrize("name", LAUNCHES)
def test_a_stranger_cannot_retry_a_pipeline_that_did_not_fail(done: Finalized, name: str) -> None:
    platform = done.platform
    launch = platform.launches[name]
    ic = platform.ic
    # before finalize: nothing to retry
    ic.restore(platform.successful)
    books, state = _books(platform), ic.state_of(launch.sale)
    refused = platform.sale(launch).retry_pipeline()
    assert refused == Err(WrongState(SaleState.SUCCESSFUL, "Finalizing with a failed step"))
    assert (_books(platform), ic.state_of(launch.sale)) == (books, state)
    # finalized: nothing failed
    ic.restore(done.snapshot)
    books, state = _books(platform), ic.state_of(launch.sale)
    for caller in (STRANGER, launch.creator, B1):
        refused = platform.sale(launch, caller).retry_pipeline()
        assert refused == Err(WrongState(SaleState.FINALIZED, "Finalizing with a failed step"))
    assert (_books(platform), ic.state_of(launch.sale)) == (books, state)


def test_a_run_whose_message_trapped_after_a_failed_step_is_resumed_once_it_lapses(
    platform: Platform,
) -> None:
    """The first step's deployment is refused and ``finalize``'s message then traps, so the
    step's failure is lost: the sale is Finalizing with no failed step (``retry_pipeline`` used
    to refuse it for good, the raise locked in escrow). A retry waits while the run may still
    be under way, and resumes it once ``AWAIT_GIVEN_UP_NS`` has passed, or at once after an
    upgrade; the sale is then Finalized."""
    ic, launch = platform.ic, platform.new
    sale = platform.sale(launch)
    with ic.faults.reject(canister=platform.system.backend.id, method="deploy_token"), (
        ic.faults.trap(canister=launch.sale, method="finalize")
    ):  # fmt: skip
        rejected(sale.finalize)
    pipeline = platform.pipeline(launch)
    assert sale.get_state() is SaleState.FINALIZING and pipeline.running_since is not None
    assert all(record.status is StepStatus.PENDING for record in pipeline.steps)
    waiting = Err(WrongState(SaleState.FINALIZING, "Finalizing with a failed step"))
    assert sale.retry_pipeline() == waiting
    snapshot = ic.snapshot()
    factory = platform.system.launchpad_factory.id
    ic.upgrade_canister(launch.sale, LaunchpadSale, caller=factory)
    assert sale.retry_pipeline() == Ok(SaleState.FINALIZED)
    ic.restore(snapshot)
    ic.advance_time(nanos=AWAIT_GIVEN_UP_NS)
    assert sale.retry_pipeline() == Ok(SaleState.FINALIZED)
    assert platform.pipeline(launch).running_since is None


@pytest.mark.parametrize("name", LAUNCHES)
def test_finalize_twice_is_refused_and_changes_nothing(done: Finalized, name: str) -> None:
    platform = done.platform
    launch = platform.launches[name]
    books, state = _books(platform), platform.ic.state_of(launch.sale)
    for caller in (STRANGER, launch.creator):
        refused = platform.sale(launch, caller).finalize()
        assert isinstance(refused, Err) and isinstance(refused.error, WrongState)
        assert refused.error.state is SaleState.FINALIZED
    assert (_books(platform), platform.ic.state_of(launch.sale)) == (books, state)


def test_a_payout_that_never_ran_is_sent_anew_after_the_ledgers_window(
    platform: Platform,
) -> None:
    """The ledger rejects the first raised-funds transfer twice (so it is in doubt), and nobody
    retries for two days: the identical request is then ``TooOld``, and the ledger's own log
    (its blocks around the planned time) shows no block with the request's memo. It never ran,
    so it is planned again now and paid once; the escrow still ends empty."""
    launch = platform.new
    ic, icp = platform.ic, platform.system.icp_ledger.id
    with ic.faults.reject(canister=icp, method="icrc1_transfer", times=2):
        assert platform.sale(launch).finalize() == Ok(SaleState.FINALIZING)
    failed = [record for record in platform.pipeline(launch).steps if record.error]
    assert "rejected the request twice" in failed[0].error
    ic.advance_time(days=2)
    blocks = platform.system.icp_ledger.get_transaction_count()
    assert platform.sale(launch).retry_pipeline() == Ok(SaleState.FINALIZED)
    assert platform.icp(launch.sale) == 0
    sent = platform.system.icp_ledger.get_blocks(blocks, 100)
    memos = [block.memo for block in sent if block.from_ == Account(launch.sale)]
    assert len(memos) == len(set(memos)), "no payout was made twice"


LOSSY: dict[str, Any] = {}
"""Set ``LOSSY["from"]`` to a principal: its next transfer commits and then its reply is lost."""


class LossyLedger(Ledger):
    """The ICP ledger, except that a transfer out of ``LOSSY["from"]`` commits (at an await)
    and then traps, once: the transfer happened, and its caller gets a reject."""

    VERSION = "1.0.1"

    def icrc1_transfer(self, args: TransferArgs) -> Any:
        result = super().icrc1_transfer(args)
        if LOSSY.get("from") == self.caller:
            del LOSSY["from"]
            self.call(MANAGEMENT_ID, "raw_rand")
            raise Trap("the reply is lost after the transfer committed")
        return result

    icrc1_transfer.__icto_kind__ = Ledger.icrc1_transfer.__icto_kind__  # type: ignore[attr-defined]


def test_a_payout_that_ran_is_found_in_the_ledgers_log_after_its_window(
    platform: Platform,
) -> None:
    """The first raised-funds transfer commits but its reply is lost, and the identical retry
    is rejected: in doubt. Two days later the request is ``TooOld``; the ledger's log holds its
    block, which is recorded: nothing is paid twice and the escrow ends empty."""
    launch = platform.new
    ic, icp = platform.ic, platform.system.icp_ledger
    ic.upgrade_canister(icp.id, LossyLedger, caller=platform.system.operator)
    LOSSY["from"] = launch.sale
    try:
        with ic.faults.reject(canister=icp.id, method="icrc1_transfer", after=1, times=1):
            assert platform.sale(launch).finalize() == Ok(SaleState.FINALIZING)
    finally:
        LOSSY.clear()
    pipeline = platform.pipeline(launch)
    lost = next(name for name in pipeline.payout_order if pipeline.payouts[name].block is None)
    assert lost == "platform fee" and pipeline.payouts[lost].ledger == icp.id
    ic.advance_time(days=2)
    blocks = icp.get_transaction_count()
    assert platform.sale(launch).retry_pipeline() == Ok(SaleState.FINALIZED)
    recorded = platform.pipeline(launch).payouts[lost].block
    assert recorded is not None and recorded < blocks, "the block it made two days ago"
    assert platform.icp(launch.sale) == 0


def test_nobody_can_seed_the_sale_pool_before_the_pipeline(platform: Platform) -> None:
    """The seeding step fails and leaves the pool created but empty. A stranger who then adds
    liquidity first would set the opening price and leave the sale's tokens unpaired in its
    account: the pool takes its first liquidity from the pipeline only."""
    launch = platform.old
    ic, icp = platform.ic, platform.system.icp_ledger
    old = ic.actor(platform.old_ledger)
    with ic.faults.reject(method="add_liquidity", times=2):
        assert platform.sale(launch).finalize() == Ok(SaleState.FINALIZING)
    pool = platform.pipeline(launch).pool
    assert pool is not None
    platform.system.faucet(STRANGER, 1_000 * E8S)
    old.as_caller(OLD_MINTER).icrc1_transfer(
        TransferArgs(to=Account(STRANGER), amount=10 * E8S)
    ).unwrap()  # fmt: skip
    for ledger in (icp, old):
        approval = ApproveArgs(spender=Account(pool), amount=10**15)
        ledger.as_caller(STRANGER).icrc2_approve(approval).unwrap()
    seeded = ic.actor(pool, STRANGER).add_liquidity(E8S, 100 * E8S)
    assert isinstance(seeded, Err) and "first liquidity" in seeded.error.reasons[0], seeded
    assert platform.sale(launch).retry_pipeline() == Ok(SaleState.FINALIZED)
    assert platform.icp(launch.sale) == 0
    assert platform.balance(platform.old_ledger, launch.sale) == 0
    assert ic.actor(pool, STRANGER).add_liquidity(E8S, 100 * E8S).is_ok, "then anyone may"


FREE_TOKEN: Final = TokenConfig(name="Free", symbol="FREE")


@pytest.mark.parametrize(
    ("caller", "owner", "request_name"),
    [
        ("stranger", STRANGER, "x"), ("stranger", CREATOR, "token"),
        ("stranger", CREATOR, None), ("stranger", None, "x"),
        ("creator", CREATOR, "token"), ("relay canister", STRANGER, "x"),
        ("relay canister", CREATOR, "token"), ("pipeline distribution", CREATOR, "x"),
    ],
)  # fmt: skip
def test_only_a_launchpad_sale_may_deploy_fee_exempt(
    done: Finalized, caller: str, owner: Principal | None, request_name: str | None
) -> None:
    """``deploy_token(config, owner, request)`` from anyone but a sale of the real Launchpad
    Factory: ``Err(Unauthorized)``, nothing charged, nothing deployed. (Naming oneself as the
    owner, without a request, is the ordinary paid flow.)"""
    platform = done.platform
    ic, system = platform.ic, platform.system
    system.faucet(STRANGER, 20 * E8S)
    system.approve_backend(STRANGER, 20 * E8S)
    system.approve_backend(CREATOR, 20 * E8S)
    relay = ic.deploy(Relay)
    books = _books(platform)
    args = (FREE_TOKEN, owner, request_name)
    if caller in ("stranger", "creator"):
        who = STRANGER if caller == "stranger" else CREATOR
        answer = system.backend.as_caller(who).deploy_token(*args)
    elif caller == "relay canister":
        answer = relay.relay(system.backend.id, "deploy_token", args)
    else:
        # a contract of another factory (the sale's own distribution) is no launchpad sale
        distribution = dict(platform.pipeline(platform.new).distributions)["buyers"]
        answer = ic.update_call(
            system.backend.id, "deploy_token", *args, caller=distribution
        )  # fmt: skip
    assert isinstance(answer, Err) and isinstance(answer.error, Unauthorized), answer
    after = _books(platform)
    assert after[0] == books[0]  # no balance moved
    assert after[2] == books[2]  # no contract deployed
    assert (after[1].fees_collected, after[1].deployments, after[1].payments) == (
        books[1].fees_collected,
        books[1].deployments,
        books[1].payments,
    )


def test_a_sale_from_a_fake_factory_cannot_deploy_its_pipeline_through_the_backend(
    platform: Platform,
) -> None:
    """A Launchpad Factory outside the platform that whitelists the real backend's principal
    creates a sale whose recorded deployer is that backend (the create_contract call is made
    as the backend's principal). The sale succeeds; its pipeline asks the real backend to
    deploy its token fee-exempt: the backend finds no such sale in the real Launchpad Factory
    and refuses, every time; nothing is deployed or charged, and the escrow stays whole."""
    ic, system = platform.ic, platform.system
    backend = system.backend.id
    fake = deploy_factory(ic, LaunchpadFactory, backends=(backend,))
    config = attrs.evolve(platform.new.config, sale_start=ic.time + DAY, sale_end=ic.time + 2 * DAY)
    created = ic.update_call(fake.id, "create_contract", STRANGER, config, caller=backend)
    assert isinstance(created, Ok)
    fake_sale = ic.actor(created.value, STRANGER)
    assert ic.state_of(fake_sale.id).deployer == backend
    assert not system.launchpad_factory.is_contract(fake_sale.id)
    ic.advance_time(nanos=DAY)
    system.faucet(B1, 30 * E8S)
    system.icp_ledger.as_caller(B1).icrc2_approve(
        ApproveArgs(spender=Account(fake_sale.id), amount=25 * E8S + FEE)
    ).unwrap()
    assert fake_sale.as_caller(B1).contribute(25 * E8S) == Ok(25 * E8S)
    ic.advance_time(nanos=DAY)
    books = _books(platform)
    assert fake_sale.finalize() == Ok(SaleState.FINALIZING)
    for attempt in range(3):
        if attempt:
            assert fake_sale.retry_pipeline() == Ok(SaleState.FINALIZING)
        pipeline = fake_sale.get_pipeline()
        token = pipeline.steps[0]
        assert token.status is StepStatus.FAILED and token.error is not None
        assert "Unauthorized" in token.error and "launchpad sale" in token.error
        assert pipeline.sale_token is None and pipeline.distributions == ()
        assert {str(r.status) for r in pipeline.steps[1:]} == {"Pending"}
    after = _books(platform)
    assert after[0] == books[0] and after[2] == books[2]
    assert after[1].fees_collected == books[1].fees_collected
    assert after[1].deployments == books[1].deployments
    assert system.icp_balance(fake_sale.id) == 25 * E8S
    assert system.invoice_storage.get_payments_by_user(fake_sale.id).items == ()


# -- fees never overdraw the escrow ---------------------------------------------------------------


@attrs.frozen
class Tiny:
    """A tiny raise: ``buyers`` contributions of ``each`` e8s, the first ``referred`` of them
    each naming its own affiliate; ``paid``: whether the raise covers every transfer and its
    fee (``None``: either outcome is right, as long as it is one of the two)."""

    paid: bool | None
    buyers: int
    each: int
    referred: int
    affiliate_bp: int
    platform_fee_bp: int = 0
    liquidity_bp: int = 0
    recipients: int = 1
    treasury: bool = False
    rounded_away: bool = False
    """Every raised-funds share rounds to 0: what is left goes to the treasury (or the first
    recipient) as one transfer."""


TINY: Final = {
    "fits exactly": Tiny(True, 10, 20_000, 9, 5_000),
    "one e8 to share": Tiny(True, 10, 20_000, 9, 5_000, recipients=2),
    "commissions take it all": Tiny(True, 10, 20_000, 10, 5_000),
    "fees eat the raise": Tiny(False, 10, 20_000, 10, 5_000, 1_000),
    "fees eat the raise, with a treasury": Tiny(False, 10, 20_000, 10, 5_000, 1_000, treasury=True),
    "fees eat the raise, with a pool": Tiny(False, 10, 100_000, 10, 3_000, 1_000, 5_000),
    "enough, with a pool": Tiny(True, 10, 100_000, 5, 3_000, 1_000, 5_000),
    # 15_000 e8s for the pool and the fees of its approval and pull: 35_000 of 30_000
    "too small for the pool": Tiny(False, 1, 30_000, 0, 0, liquidity_bp=5_000),
    "nothing left for the recipient": Tiny(None, 10, 20_000, 8, 5_000, 1_000),
    "nothing left, with a treasury": Tiny(None, 10, 20_000, 8, 5_000, 1_000, treasury=True),
    "many recipients, little left": Tiny(True, 10, 30_000, 10, 3_000, 0, 0, recipients=7),
    "every share rounds to 0": Tiny(
        True, 10, 20_289, 10, 3_000, 100, recipients=3, rounded_away=True
    ),
    "every share rounds to 0, with a treasury": Tiny(
        True, 10, 20_289, 10, 3_000, 100, recipients=3, treasury=True, rounded_away=True
    ),
}


def _tiny_config(platform: Platform, case: Tiny, creator: Principal) -> LaunchpadConfig:
    ic = platform.ic
    recipients = tuple(
        (Account(Principal.from_name(f"tiny-recipient-{i}")), BP // case.recipients)
        for i in range(case.recipients)
    )
    recipients = ((recipients[0][0], BP - BP // case.recipients * (case.recipients - 1)),
                  *recipients[1:])  # fmt: skip
    treasury = MultisigConfig(name="Tiny", members=((creator, Role.OWNER),), threshold=1)
    return LaunchpadConfig(
        project=ProjectInfo("Tiny"), sale_token=TokenConfig(name="Tiny", symbol="TINY"),
        purchase_token=platform.system.icp_ledger.id, sale_type=FairLaunch(),
        tokens_for_sale=1_000_000 * E8S, soft_cap=case.each, hard_cap=100 * case.each,
        min_contribution=case.each, max_contribution=case.each,
        sale_start=ic.time + DAY, sale_end=ic.time + 2 * DAY,
        raised_allocation=recipients, treasury=treasury if case.treasury else None,
        liquidity_bp=case.liquidity_bp, platform_fee_bp=case.platform_fee_bp,
        affiliate_bp=case.affiliate_bp,
    )  # fmt: skip


@pytest.mark.parametrize("case", list(TINY))
def test_fees_never_overdraw_the_escrow(platform: Platform, case: str) -> None:
    """Many affiliates and a tiny raise: the pipeline either pays everything out, the escrow
    ending at exactly 0 with the raise accounted for to the e8, or stops with a clear error
    before anything leaves the escrow (and stays stopped on a retry): at SeedLiquidity if there
    is a pool (its check counts the pool, the transfers after it and all their fees; no pool is
    created), else at SendRaisedFunds."""
    tiny = TINY[case]
    ic, system = platform.ic, platform.system
    creator = Principal.from_name(f"tiny-creator-{case}")
    system.faucet(creator, 20 * E8S)
    system.approve_backend(creator, LAUNCH_FEE + FEE)
    config = _tiny_config(platform, tiny, creator)
    sale_id = system.backend.as_caller(creator).deploy_launchpad(config).unwrap().canister_id
    ic.advance_time(nanos=DAY)
    for i in range(tiny.buyers):
        buyer = Principal.from_name(f"tiny-buyer-{i}")
        affiliate = Principal.from_name(f"tiny-affiliate-{i}") if i < tiny.referred else None
        system.faucet(buyer, tiny.each + 2 * FEE)
        system.icp_ledger.as_caller(buyer).icrc2_approve(
            ApproveArgs(spender=Account(sale_id), amount=tiny.each + FEE)
        ).unwrap()
        assert ic.actor(sale_id, buyer).contribute(tiny.each, affiliate) == Ok(tiny.each)
    ic.advance_time(nanos=DAY)
    sale = ic.actor(sale_id, STRANGER)
    raised = tiny.buyers * tiny.each
    state = sale.finalize().unwrap()
    pipeline = sale.get_pipeline()
    icp = system.icp_ledger
    escrow_out = [
        block for block in icp.get_blocks(0, icp.get_transaction_count())
        if block.from_ == Account(sale_id)
    ]  # fmt: skip
    assert tiny.paid is None or tiny.paid == (state is SaleState.FINALIZED), state
    if state is SaleState.FINALIZED:
        assert system.icp_balance(sale_id) == 0
        assert sum(_spent(block) for block in escrow_out) == raised
        commissions = [p for n, p in pipeline.payouts.items() if n.startswith("commission")]
        assert len(commissions) == tiny.referred
        assert all(p.amount == tiny.each * tiny.affiliate_bp // BP for p in commissions)
        assert all(p.block is not None for p in pipeline.payouts.values())
        rest = [n for n in pipeline.payouts if n == "leftover" or n.startswith("raised share")]
        if tiny.rounded_away:
            # 2 e8s to share among 3, plus the fees of the two transfers it saves
            assert rest == ["leftover" if tiny.treasury else "raised share 0"]
            payout = pipeline.payouts[rest[0]]
            assert payout.amount == 2 + 2 * FEE
            assert system.icp_balance(payout.to) == payout.amount
        return
    assert state is SaleState.FINALIZING
    stopped = "SeedLiquidity" if tiny.liquidity_bp else "SendRaisedFunds"
    at = [str(r.step) for r in pipeline.steps].index(stopped)
    record = pipeline.steps[at]
    assert record.status is StepStatus.FAILED
    assert record.error is not None and "overdraw" in record.error
    assert {str(r.status) for r in pipeline.steps[:at]} <= {"Done", "Skipped"}
    assert {str(r.status) for r in pipeline.steps[at + 1 :]} <= {"Pending"}
    assert pipeline.pool is None
    assert escrow_out == []
    assert system.icp_balance(sale_id) == raised
    assert sale.retry_pipeline() == Ok(SaleState.FINALIZING)
    assert sale.get_pipeline().steps[at].error == record.error
    assert system.icp_balance(sale_id) == raised


# -- titles of the pipeline's distributions --------------------------------------------------------


@given(project=text(1, 100), group=text(1, 100))
@example(project="Tiny", group="Liquidity mining incentives for early users")  # cut on a space
@example(project="P" * 59 + " x", group="buyers")
def test_a_title_built_from_valid_names_is_a_valid_distribution_title(
    project: str, group: str
) -> None:
    """Each name is cut to fit; a cut that ended on a space made a title the backend refused on
    every retry, and the sale stayed Finalizing with its raise in escrow."""
    assert text_problem("title", _title(project, group), *TITLE_LENGTH) is None
