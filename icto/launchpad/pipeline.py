"""The finalize pipeline of a successful sale: token, distributions, treasury, pool, raised funds.

Steps, in order, each recorded with its outcome (``get_pipeline()``):

1. ``DeployToken``: a new sale token through the backend's ``deploy_token`` (the sale's minting
   subaccount is its minting account); skipped for an existing token.
2. ``DeployDistributions``: the buyers' distribution (each buyer's allocation on the buyers'
   vesting) and one per allocation group, through the backend; none of them cancellable.
3. ``FundDistributions``: mint (new token) or transfer (existing) each distribution's total and
   the fee of one claim per recipient into it, then ``activate()`` it.
4. ``DeployTreasury``: the config's DAO (governed by the sale token unless it names one) or
   multisig, through the backend; skipped without one.
5. ``SeedLiquidity``: a constant-product pool of the sale and purchase tokens created by the
   sale itself, seeded at the sale price with the liquidity share; its shares go to the
   treasury (or the creator); skipped at 0 bp. It first checks that the escrow covers the pool,
   the raised-funds transfers after it and every fee of both steps: if not, it stops before
   creating the pool or sending anything.
6. ``SendRaisedFunds``: the platform fee to the backend's fee recipient, commissions to
   affiliates, the raised-funds shares, rounding leftovers of both tokens to the treasury. The
   escrow pays every transfer's ledger fee, counted before the shares are computed, so nothing
   overdraws.

Every deployment goes through the backend that deployed the sale (``ContractInit.deployer``),
fee-exempt, for the sale's creator, under a request name per contract: asking again returns the
contract deployed the first time (the factory's ticket), so a lost reply is never redone. Every
transfer is recorded before it is sent, with the same ``created_at_time`` on every try, so a
transfer whose reply was lost is recognised by the ledger's deduplication. A failed step stops
the pipeline (Finalizing, the step and its error visible); ``retry_pipeline()`` (anyone) resumes
from it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Final

import attrs
import immutables

from icto.collections.records import evolve
from icto.dao.config import DAOConfig
from icto.dex.pool import Pool
from icto.dex.types import PoolInit
from icto.distribution.config import Category, DistributionConfig, Fixed
from icto.distribution.types import WrongPhase
from icto.factory.contract import FactoryContract
from icto.ic.account import Account
from icto.ic.errors import CallRejected
from icto.ic.management import CanisterSettings, InstallMode
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.ic.router import MANAGEMENT_ID
from icto.launchpad.allocation import BP, commission
from icto.launchpad.config import ExistingToken, FixedPrice, LaunchpadConfig, treasury_dao_config
from icto.ledger.client import LedgerFailure, fee_of, memo_of, settle_or_find
from icto.ledger.types import ApproveArgs, TransferArgs
from icto.multisig.config import MultisigConfig
from icto.token.config import TokenConfig
from icto.validation import foreign_text, trimmed

MINTING_SUBACCOUNT: Final = bytes(31) + b"\x01"
"""A new sale token's minting account is this subaccount of the sale (its default account holds
the tokens it seeds the pool with)."""
POOL_CYCLES: Final = 800_000_000_000
POOL_FEE_BP: Final = 30
CLAIMS_COVERED: Final = 1
"""Ledger fees of claims the sale pre-pays per recipient of a pipeline distribution."""
MAX_PER_CATEGORY: Final = 100_000


class Step(enum.StrEnum):
    TOKEN = "DeployToken"
    DISTRIBUTIONS = "DeployDistributions"
    FUNDING = "FundDistributions"
    TREASURY = "DeployTreasury"
    LIQUIDITY = "SeedLiquidity"
    PAYOUTS = "SendRaisedFunds"


class StepStatus(enum.StrEnum):
    PENDING = "Pending"
    DONE = "Done"
    SKIPPED = "Skipped"
    FAILED = "Failed"


@attrs.frozen
class StepRecord:
    step: Step
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    error: str | None = None
    finished_at: int | None = None


@attrs.frozen
class Payout:
    """One transfer of the pipeline: planned with its amount, then sent (its block)."""

    ledger: Principal
    to: Account
    amount: int
    created_at: int
    mint: bool = False
    fee: int = 0
    block: int | None = None


@attrs.frozen
class PipelineState:
    """Where the pipeline is: each step's record, what it created, what it moved."""

    started_at: int
    steps: tuple[StepRecord, ...] = tuple(StepRecord(step) for step in Step)
    sale_token: Principal | None = None
    distributions: tuple[tuple[str, Principal], ...] = ()
    activated: tuple[str, ...] = ()
    treasury: Principal | None = None
    pool: Principal | None = None
    pool_installed: bool = False
    lp_shares: int | None = None
    payouts: immutables.Map[str, Payout] = immutables.Map()
    payout_order: tuple[str, ...] = ()
    planned: bool = False
    running_since: int | None = None
    """When the message running the steps started them (``None`` once it has stopped): one
    still set ``AWAIT_GIVEN_UP_NS`` later was left unfinished by a trap, and may be resumed."""

    def record(self, step: Step) -> StepRecord:
        return next(record for record in self.steps if record.step is step)

    def moved(self, ledger: Principal) -> int:
        """What the sent payouts took out of the sale's accounts on ``ledger``, fees included
        (an approval costs its fee only)."""
        return sum(
            (0 if name.startswith("approve") else payout.amount) + payout.fee
            for name, payout in self.payouts.items()
            if payout.ledger == ledger and payout.block is not None
        )  # fmt: skip

    def __repr__(self) -> str:
        done = ", ".join(f"{record.step}: {record.status}" for record in self.steps)
        return f"<Pipeline {done}>"


def _title(project: str, what: str) -> str:
    """A distribution's title from the project's and the group's names, each cut to fit; a cut
    can end on a space or an invisible character, which a title may not (the backend would
    refuse the config on every retry)."""
    return f"{trimmed(project[:60])}: {trimmed(what[:38])}"


class FinalizePipeline(FactoryContract):
    """The pipeline's steps, for ``LaunchpadSale`` (which keeps a ``PipelineState`` in
    ``state.pipeline`` and says each buyer's allocation)."""

    def _allocation(self, contribution: int) -> int:
        raise NotImplementedError

    @property
    def config(self) -> LaunchpadConfig:
        config: LaunchpadConfig = self.state.config
        return config

    # -- bookkeeping ------------------------------------------------------------------------------

    @property
    def _pipeline(self) -> PipelineState:
        pipeline: PipelineState = self.state.pipeline
        return pipeline

    def _set_pipeline(self, **changes: Any) -> None:
        self.state = evolve(self.state, pipeline=evolve(self._pipeline, **changes))

    def _mark(self, step: Step, status: StepStatus, error: str | None = None) -> None:
        records = tuple(
            evolve(
                record, status=status, error=error,
                attempts=record.attempts + (status is not StepStatus.PENDING),
                finished_at=self.time if status in (StepStatus.DONE, StepStatus.SKIPPED)
                else None,
            ) if record.step is step else record
            for record in self._pipeline.steps
        )  # fmt: skip
        self._set_pipeline(steps=records)

    def _run_steps(self) -> bool:
        """Run the steps from the first not done; whether every step is done."""
        runners = {
            Step.TOKEN: self._deploy_token, Step.DISTRIBUTIONS: self._deploy_distributions,
            Step.FUNDING: self._fund_distributions, Step.TREASURY: self._deploy_treasury,
            Step.LIQUIDITY: self._seed_liquidity, Step.PAYOUTS: self._send_raised_funds,
        }  # fmt: skip
        for record in self._pipeline.steps:
            if record.status in (StepStatus.DONE, StepStatus.SKIPPED):
                continue
            if record.status is StepStatus.FAILED:
                return False
            outcome = runners[record.step]()
            if outcome is None or outcome == "skip":
                self._mark(record.step, StepStatus.SKIPPED if outcome else StepStatus.DONE)
            else:
                self._mark(record.step, StepStatus.FAILED, foreign_text(outcome, 1024))
                return False
        return True

    # -- calls ----------------------------------------------------------------------------------

    def _ask(self, canister: Principal, method: str, *args: Any, **kwargs: Any) -> Any:
        """A call whose ``Err`` or reject becomes a ``str`` reason."""
        try:
            result = self.call(canister, method, *args, **kwargs)
        except CallRejected as rejected:
            return f"{method} was rejected: {rejected.message}"
        if isinstance(result, Err):
            return f"{method}: {result.error!r}"
        return result.value if isinstance(result, Ok) else result

    def _deploy(self, method: str, config: object, request: str) -> Principal | str:
        """A pipeline contract through the backend that deployed the sale: fee-exempt, for the
        creator, under ``request`` (the same request again returns the same contract)."""
        backend = self.state.deployer
        if backend is None:
            return "the sale was not deployed by a backend; nothing can deploy its pipeline"
        result = self._ask(backend, method, config, self.meta.owner, request)
        if isinstance(result, str):
            return result
        contract: Principal = result.canister_id
        return contract

    def _fee(self, ledger: Principal) -> int | str:
        return fee_of(self, ledger)

    def _plan(
        self, name: str, ledger: Principal, to: Account, amount: int, mint: bool
    ) -> str | None:
        """Record the payout ``name`` once (its amount, fee and ``created_at_time`` then stay
        the same on every try); ``None``, or why it could not be planned."""
        if name in self._pipeline.payouts:
            return None
        fee = 0
        if not mint:
            asked = self._fee(ledger)
            if isinstance(asked, str):
                return asked
            fee = asked
        pipeline = self._pipeline
        self._set_pipeline(
            payouts=pipeline.payouts.set(name, Payout(ledger, to, amount, self.time, mint, fee)),
            payout_order=(*pipeline.payout_order, name),
        )  # fmt: skip
        return None

    def _send(self, name: str) -> str | None:
        """Send the planned payout ``name``; ``None`` once the ledger has it, or why not yet."""

        def transfer(planned: Payout) -> TransferArgs:
            return TransferArgs(
                to=planned.to, amount=planned.amount, memo=memo_of(f"pipeline {name}"),
                from_subaccount=MINTING_SUBACCOUNT if planned.mint else None,
                created_at_time=planned.created_at,
            )  # fmt: skip

        return self._request(name, "icrc1_transfer", transfer)

    def _request(self, name: str, method: str, args_of: Callable[[Payout], Any]) -> str | None:
        """Send the planned request ``name`` (a transfer or an approval) and record its block;
        ``None`` once the ledger has it, or why not yet. A retry of one whose reply was lost is
        the ledger's duplicate. Past the ledger's deduplication window, its log says whether the
        request ran; if it did not, it is planned again now and sent."""
        planned = self._pipeline.payouts[name]
        if planned.block is not None:
            return None

        def replan() -> Any:
            fresh = evolve(self._pipeline.payouts[name], created_at=self.time)
            self._set_pipeline(payouts=self._pipeline.payouts.set(name, fresh))
            return args_of(fresh)

        sent = settle_or_find(
            self, planned.ledger, method, args_of(planned), planned.to, replan
        )
        if isinstance(sent, LedgerFailure):
            return f"{name}: {sent.reason}"
        done = evolve(self._pipeline.payouts[name], block=sent)
        self._set_pipeline(payouts=self._pipeline.payouts.set(name, done))
        return None

    def _pay(
        self, name: str, ledger: Principal, to: Account, amount: int, mint: bool
    ) -> str | None:
        return self._plan(name, ledger, to, amount, mint) or self._send(name)

    @property
    def _new_token(self) -> TokenConfig | None:
        token = self.config.sale_token
        return token if isinstance(token, TokenConfig) else None

    def _sale_ledger(self) -> Principal:
        token = self.config.sale_token
        if isinstance(token, ExistingToken):
            return token.ledger
        assert self._pipeline.sale_token is not None
        return self._pipeline.sale_token

    def _ended_at(self) -> int:
        ended: int = next(at for state, at in self.state.history if str(state) == "SaleEnded")
        return ended

    # -- 1. token ---------------------------------------------------------------------------------

    def _deploy_token(self) -> str | None:
        token = self._new_token
        if token is None:
            return "skip"
        if self._pipeline.sale_token is not None:
            return None
        minting = Account(self.id, MINTING_SUBACCOUNT)
        deployed = self._deploy(
            "deploy_token", evolve(token, minting_account=minting), "token"
        )
        if isinstance(deployed, str):
            return deployed
        self._set_pipeline(sale_token=deployed)
        return None

    # -- 2. distributions ---------------------------------------------------------------------

    def _distribution_configs(self) -> list[tuple[str, DistributionConfig]]:
        config, state = self.config, self.state
        token, start = self._sale_ledger(), self._ended_at()
        project = config.project.name
        buyers = [
            (user, allocation) for user in state.order
            if (allocation := self._allocation(state.participants[user].contribution)) > 0
        ]  # fmt: skip
        configs = []
        if buyers:
            chunks = [buyers[i : i + MAX_PER_CATEGORY] for i in range(0, len(buyers),
                                                                     MAX_PER_CATEGORY)]  # fmt: skip
            categories = tuple(
                Category(f"buyers {n + 1}", sum(a for _, a in chunk), Fixed(tuple(chunk)),
                         config.buyer_vesting, config.buyer_initial_bp)
                for n, chunk in enumerate(chunks)
            )  # fmt: skip
            configs.append(("buyers", DistributionConfig(
                title=_title(project, "buyers"), token=token, start=start, categories=categories,
                cancellable=False, claims_covered=CLAIMS_COVERED, is_public=config.is_public,
            )))  # fmt: skip
        for index, group in enumerate(config.allocations):
            category = Category(group.name, group.amount, Fixed(group.recipients), group.vesting,
                                group.initial_bp)  # fmt: skip
            configs.append((f"group {index}", DistributionConfig(
                title=_title(project, group.name), token=token, start=start,
                categories=(category,), cancellable=False, claims_covered=CLAIMS_COVERED,
                is_public=config.is_public,
            )))  # fmt: skip
        return configs

    def _deploy_distributions(self) -> str | None:
        configs = self._distribution_configs()
        if not configs:
            return "skip"
        for name, config in configs:
            if name in dict(self._pipeline.distributions):
                continue
            deployed = self._deploy("deploy_distribution", config, f"distribution {name}")
            if isinstance(deployed, str):
                return deployed
            self._set_pipeline(distributions=(*self._pipeline.distributions, (name, deployed)))
        return None

    # -- 3. funding -----------------------------------------------------------------------------

    def _fund_distributions(self) -> str | None:
        if not self._pipeline.distributions:
            return "skip"
        ledger = self._sale_ledger()
        fee = self._fee(ledger)
        if isinstance(fee, str):
            return fee
        configs = dict(self._distribution_configs())
        mint = self._new_token is not None
        for name, contract in self._pipeline.distributions:
            config = configs[name]
            recipients = sum(len(c.recipients.recipients) for c in config.categories
                             if isinstance(c.recipients, Fixed))  # fmt: skip
            needed = config.total_amount + CLAIMS_COVERED * recipients * fee
            problem = self._pay(f"fund {name}", ledger, Account(contract), needed, mint)
            if problem is not None:
                return problem
            if name in self._pipeline.activated:
                continue
            try:
                activated = self.call(contract, "activate")
            except CallRejected as rejected:
                return f"activate {name}: {rejected.message}"
            if isinstance(activated, Err) and not isinstance(activated.error, WrongPhase):
                return f"activate {name}: {activated.error!r}"
            self._set_pipeline(activated=(*self._pipeline.activated, name))
        return None

    # -- 4. treasury ----------------------------------------------------------------------------

    def _deploy_treasury(self) -> str | None:
        treasury = self.config.treasury
        if treasury is None:
            return "skip"
        if self._pipeline.treasury is not None:
            return None
        if isinstance(treasury, DAOConfig):
            deployed = self._deploy(
                "deploy_dao", treasury_dao_config(treasury, self._sale_ledger()), "treasury"
            )
        else:
            assert isinstance(treasury, MultisigConfig)
            deployed = self._deploy("deploy_multisig", treasury, "treasury")
        if isinstance(deployed, str):
            return deployed
        self._set_pipeline(treasury=deployed)
        return None

    def _treasury_account(self) -> Account | None:
        treasury = self._pipeline.treasury
        return None if treasury is None else Account(treasury)

    # -- 5. liquidity ---------------------------------------------------------------------------

    def liquidity_amounts(self) -> tuple[int, int]:
        """(sale tokens, purchase tokens) the pool is seeded with: the liquidity share of the
        raise, and the sale tokens it buys at the sale price."""
        config, raised = self.config, self.state.raised
        purchase = raised * config.liquidity_bp // BP
        if isinstance(config.sale_type, FixedPrice):
            scale: int = 10**config.sale_decimals
            sale = purchase * scale // config.sale_type.price
        else:
            sale = purchase * config.tokens_for_sale // raised if raised else 0
        return sale, purchase

    def _pool_cost(self, fee: int) -> int:
        """What seeding the pool takes out of escrow: its purchase tokens, and the fees of their
        approval and of the pool's pull."""
        return self.liquidity_amounts()[1] + 2 * fee

    def _seed_liquidity(self) -> str | None:
        """Seed the pool, once the escrow is known to cover it, the raised-funds transfers
        after it and all their fees (otherwise stop, nothing sent)."""
        sale_amount, purchase_amount = self.liquidity_amounts()
        if sale_amount == 0 or purchase_amount == 0:
            return "skip"
        if self._pipeline.lp_shares is not None:
            return None
        sale_ledger, purchase_ledger = self._sale_ledger(), self.config.purchase_token
        fee = self._fee(purchase_ledger)
        if isinstance(fee, str):
            return fee
        # The platform fee's recipient does not change any amount: the sale stands in for it.
        plan = self._plan_payouts(fee, Account(self.id), pooled=True)
        problem = self._overdraw(fee, plan, pooled=True)
        if problem is not None:
            return problem
        problem = self._pool_ready(sale_ledger, purchase_ledger)
        if problem is not None:
            return problem
        pool = self._pipeline.pool
        assert pool is not None
        sale_fee, purchase_fee = self._fee(sale_ledger), self._fee(purchase_ledger)
        if isinstance(sale_fee, str) or isinstance(purchase_fee, str):
            return str(sale_fee if isinstance(sale_fee, str) else purchase_fee)
        if self._new_token is not None:
            problem = self._pay(
                "mint for the pool", sale_ledger, Account(self.id),
                sale_amount + 2 * sale_fee, True,
            )  # fmt: skip
            if problem is not None:
                return problem
        for token, ledger, amount in (("sale token", sale_ledger, sale_amount),
                                      ("purchase token", purchase_ledger, purchase_amount)):
            problem = self._approve_pool(pool, token, ledger, amount)
            if problem is not None:
                return problem
        to = self._pipeline.treasury or self.meta.owner
        added = self._ask(pool, "add_liquidity", sale_amount, purchase_amount, 0, to)
        if isinstance(added, str):
            return added
        self._set_pipeline(lp_shares=int(added.shares))
        return None

    def _pool_ready(self, sale_ledger: Principal, purchase_ledger: Principal) -> str | None:
        """Create and install the pool once (its id recorded before it is installed)."""
        if self._pipeline.pool is None:
            settings = CanisterSettings(controllers=(self.id,))
            created = self._ask(MANAGEMENT_ID, "create_canister", settings, cycles=POOL_CYCLES)
            if isinstance(created, str):
                return created
            self._set_pipeline(pool=created)
        pool = self._pipeline.pool
        if not self._pipeline.pool_installed:
            init = PoolInit(sale_ledger, purchase_ledger, POOL_FEE_BP, first_provider=self.id)
            installed = self._ask(
                MANAGEMENT_ID, "install_code", pool, Pool, init, InstallMode.INSTALL
            )
            if isinstance(installed, str) and "already installed" not in installed:
                return installed
            self._set_pipeline(pool_installed=True)
        return None

    def _approve_pool(
        self, pool: Principal, token: str, ledger: Principal, amount: int
    ) -> str | None:
        """Let the pool pull ``amount`` (plus its fee) from the sale's account, once: the
        approval is planned (amount, ``created_at_time``) before it is sent, so a retry is the
        ledger's duplicate and pays no second fee."""
        name = f"approve the pool on the {token}"
        if name not in self._pipeline.payouts:
            fee = self._fee(ledger)
            if isinstance(fee, str):
                return fee
            record = Payout(ledger, Account(pool), amount + fee, self.time, False, fee)
            pipeline = self._pipeline
            self._set_pipeline(payouts=pipeline.payouts.set(name, record),
                               payout_order=(*pipeline.payout_order, name))  # fmt: skip

        def approval(planned: Payout) -> ApproveArgs:
            return ApproveArgs(
                spender=planned.to, amount=planned.amount, memo=memo_of(f"pipeline {name}"),
                created_at_time=planned.created_at,
            )  # fmt: skip

        return self._request(name, "icrc2_approve", approval)

    # -- 6. raised funds ------------------------------------------------------------------------

    def _plan_payouts(
        self, fee: int, backend_fee_to: Account, pooled: bool
    ) -> list[tuple[str, Account, int]]:
        """The purchase-token transfers out of escrow, each amount exact: fees (one per
        transfer) and the pool's cost (if ``pooled``) are taken off the top before the
        raised-funds shares are computed, and what rounding leaves goes to the treasury (or the
        first raised-funds recipient)."""
        config, state = self.config, self.state
        pool_cost = self._pool_cost(fee) if pooled else 0
        plan: list[tuple[str, Account, int]] = []
        platform = state.raised * config.platform_fee_bp // BP
        if platform > 0:
            plan.append(("platform fee", backend_fee_to, platform))
        for affiliate, referred in sorted(state.referrals.items()):
            earned = commission(referred, config.affiliate_bp)
            if earned > 0:
                plan.append((f"commission {affiliate}", Account(affiliate), earned))
        recipients = config.raised_allocation
        taken = sum(amount for _, _, amount in plan) + len(plan) * fee + pool_cost
        distributable = state.raised - taken - len(recipients) * fee
        shares = [max(0, distributable) * bp // BP for _, bp in recipients]
        left = distributable - sum(shares) + fee * sum(share == 0 for share in shares)
        treasury = self._treasury_account()
        if treasury is not None and left > fee:
            plan.append(("leftover", treasury, left - fee))
        elif shares[0] > 0:
            shares[0] += left
        elif left > fee:
            shares[0] = left - fee
        elif left > 0 and plan:
            name, to, amount = plan[0]
            plan[0] = (name, to, amount + left)
        plan.extend(
            (f"raised share {index}", account, share)
            for index, ((account, _), share) in enumerate(zip(recipients, shares, strict=True))
            if share > 0
        )  # fmt: skip
        return plan

    def _send_raised_funds(self) -> str | None:
        purchase = self.config.purchase_token
        if not self._pipeline.planned:
            fee = self._fee(purchase)
            if isinstance(fee, str):
                return fee
            backend = self.state.deployer
            fee_to = self._ask(backend, "get_fee_recipient") if backend is not None else None
            if not isinstance(fee_to, Account):
                return f"the backend did not say where the platform fee goes: {fee_to!r}"
            pooled = self._pipeline.lp_shares is not None
            plan = self._plan_payouts(fee, fee_to, pooled)
            problem = self._overdraw(fee, plan, pooled)
            if problem is not None:
                return problem
            for name, to, amount in plan:
                problem = self._plan(name, purchase, to, amount, False)
                if problem is not None:
                    return problem
            self._set_pipeline(planned=True)
        for name in self._pipeline.payout_order:
            if self._pipeline.payouts[name].ledger == purchase:
                problem = self._send(name)
                if problem is not None:
                    return problem
        return self._send_sale_token_leftover()

    def _overdraw(
        self, fee: int, plan: list[tuple[str, Account, int]], pooled: bool
    ) -> str | None:
        """Why the escrow cannot pay ``plan``, the pool (if ``pooled``) and their fees, if it
        cannot."""
        spent = sum(amount + fee for _, _, amount in plan)
        if pooled:
            spent += self._pool_cost(fee)
        if spent <= self.state.raised:
            return None
        return (
            f"the transfers, the pool and their fees ({spent}) would overdraw the escrow "
            f"({self.state.raised}); nothing was sent"
        )

    def _send_sale_token_leftover(self) -> str | None:
        """Unsold and rounding leftovers of the sale token: minted to the treasury (new token;
        not minted without one), or what is left of the deposit sent to the treasury or back to
        the creator (existing token)."""
        state, ledger = self.state, self._sale_ledger()
        treasury = self._treasury_account()
        if self._new_token is not None:
            left = self.config.tokens_for_sale - state.allocated
            if treasury is None or left <= 0:
                return None
            return self._pay("sale token leftover", ledger, treasury, left, True)
        name = "sale token leftover"
        if name in self._pipeline.payouts:
            payout = self._pipeline.payouts[name]
            return self._pay(name, ledger, payout.to, payout.amount, False)
        fee = self._fee(ledger)
        if isinstance(fee, str):
            return fee
        spent = self._pipeline.moved(ledger)
        pulled = 0
        if self._pipeline.lp_shares is not None:
            pulled = self.liquidity_amounts()[0] + fee
        left = state.tokens_deposited - spent - pulled - fee
        if left <= 0:
            return None
        to = treasury or Account(self.meta.owner)
        return self._pay(name, ledger, to, left, False)
