"""The demo does what it says: checked on the system it returns, not on the text it prints."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from icto import E8S, ICP, Account, Principal
from icto.backend import (
    DAO_FACTORY,
    DEFAULT_FEES,
    DISTRIBUTION_FACTORY,
    LAUNCHPAD_FACTORY,
    MULTISIG_FACTORY,
    TOKEN_FACTORY,
)
from icto.dao import DepositStatus, ProposalStatus
from icto.dao.types import DEPOSITS_SUBACCOUNT
from icto.demo import (
    AIRDROP_AMOUNT,
    AIRDROP_NAMES,
    AIRDROP_SHARES,
    APPROVAL,
    BUYS,
    DAO_CONFIG_FIELDS,
    DAO_TREASURY,
    DUD_BUYS,
    FUNDING,
    GRANT,
    NOVA_PRICE,
    REFUNDED,
    STAKES,
    TEAM,
    TIMELOCK_NS,
    TOKENS,
    USER_NAMES,
    WALLET_FUNDING,
    WALLET_PAYMENT,
    run_demo,
    short,
)
from icto.distribution import Phase
from icto.launchpad import SaleState
from icto.ledger import AllowanceArgs
from icto.multisig import Role, Status
from icto.storage import AuditAction, AuditQuery, Completed, RefundCompleted, Refunded
from icto.system import REFUND_FLOAT, System
from icto.token import TokenConfig

FEE = DEFAULT_FEES[TOKEN_FACTORY]
LEDGER_FEE = ICP.fee
ROOT = Path(__file__).resolve().parent.parent


@attrs.frozen
class Run:
    system: System
    text: str


@pytest.fixture(scope="module")
def demo() -> Run:
    out = io.StringIO()
    system = run_demo(out)
    return Run(system, out.getvalue())


def user(name: str) -> Principal:
    return Principal.from_name(name)


def deployed_tokens(system: System) -> dict[str, Principal]:
    """Symbol → contract, from the factory (asked as each token's owner: one is private)."""
    found = {}
    for owner, config in TOKENS:
        page = system.token_factory.as_caller(user(owner)).get_tokens_by_symbol(config.symbol)
        assert len(page.items) == 1, config.symbol
        info = page.items[0]
        assert info.owner == user(owner)
        found[config.symbol] = info.id
    return found


def test_each_token_is_in_the_factory_for_its_owner(demo: Run) -> None:
    system = demo.system
    tokens = deployed_tokens(system)
    factory = system.token_factory
    for owner, config in TOKENS:
        contract = tokens[config.symbol]
        mine = factory.as_caller(user(owner)).get_my_contracts(user(owner)).items
        roles = {entry.info.id: entry.roles for entry in mine}
        assert "creator" in roles[contract]
        ledger = system.ic.actor(contract, user(owner))
        assert ledger.icrc1_symbol() == config.symbol
        for account, amount in config.initial_balances:
            assert ledger.icrc1_balance_of(account) == amount + vested_to(system, ledger, account)
    stats = factory.get_stats()
    deployed = len(TOKENS) + 1  # and NOVA, deployed by the launch's pipeline
    assert (stats.contracts, stats.deployed, stats.paused) == (deployed, deployed, False)


def distribution_of(system: System) -> Principal:
    (entry,) = system.distribution_factory.as_caller(user("alice")).get_my_contracts(user("alice"))
    found: Principal = entry.info.id
    return found


def vested_to(system: System, ledger: Any, account: Account) -> int:
    """What ``account`` received on ``ledger`` after its initial balance (vesting from the
    demo's distribution, a deposit back from the DAO), less what it then spent (its stake and
    deposit in the DAO, their fees and its approval's), read from the blocks."""
    source = Account(distribution_of(system))
    blocks = ledger.get_blocks(0, ledger.get_transaction_count())
    received = sum(b.amount for b in blocks if b.kind != "mint" and b.to == account)
    assert received == 0 or any(b.from_ == source and b.to == account for b in blocks)
    spent = sum(
        (0 if b.kind == "approve" else b.amount) + (b.fee or 0)
        for b in blocks if b.from_ == account
    )  # fmt: skip
    return received - spent


def test_initial_holders_see_the_tokens_they_hold(demo: Run) -> None:
    system = demo.system
    tokens = deployed_tokens(system)
    for owner, config in TOKENS:
        for account, _ in config.initial_balances:
            holder = account.owner
            mine = system.token_factory.as_caller(holder).get_my_contracts(holder).items
            assert tokens[config.symbol] in {entry.info.id for entry in mine}, (owner, holder)


@attrs.frozen
class Launch:
    sale: Principal
    payouts: dict[str, Any]
    pipeline: Any


def launch(system: System) -> Launch:
    """carol's successful sale, found in the Launchpad Factory, and its pipeline."""
    carol = user("carol")
    (sale,) = system.launchpad_factory.get_sales_by_state(SaleState.FINALIZED)
    assert sale.owner == carol
    pipeline = system.ic.actor(sale.id, carol).get_pipeline()
    return Launch(sale.id, dict(pipeline.payouts.items()), pipeline)


def attempts_of(name: str) -> tuple[TokenConfig, ...]:
    return tuple(config for owner, config in (*TOKENS, REFUNDED) if owner == name)


def test_the_failed_deployment_was_refunded_and_the_books_balance(demo: Run) -> None:
    system = demo.system
    failed_owner, failed = REFUNDED
    assert system.token_factory.get_tokens_by_symbol(failed.symbol).items == ()
    wallet_fee = DEFAULT_FEES[MULTISIG_FACTORY] + DEFAULT_FEES[DISTRIBUTION_FACTORY]
    # alice also pays for the team wallet and the distribution and funds the wallet; the wallet
    # pays carol
    dao_fee = DEFAULT_FEES[DAO_FACTORY]
    launch_fee = DEFAULT_FEES[LAUNCHPAD_FACTORY]
    nova = launch(system)
    raised_to_carol = sum(
        payout.amount for name, payout in nova.payouts.items() if name.startswith("raised")
    )  # fmt: skip
    platform_fee = nova.payouts["platform fee"].amount
    # bob approves the backend again for his DAO and pays for it; carol gets 25 ICP from the
    # faucet, approves the backend again for two sales, pays for them and receives the raise
    wallet = {
        "alice": -(wallet_fee + 2 * LEDGER_FEE) - (WALLET_FUNDING + LEDGER_FEE),
        "bob": -LEDGER_FEE - (dao_fee + LEDGER_FEE),
        "carol": WALLET_PAYMENT + 25 * E8S - LEDGER_FEE - 2 * (launch_fee + LEDGER_FEE)
        + raised_to_carol,
    }  # fmt: skip
    for name in USER_NAMES:
        paid = len(attempts_of(name))
        refunded = FEE if name == failed_owner else 0
        # faucet, minus the approval's fee, minus fee + ledger fee per attempt, plus the refund
        expected = FUNDING - LEDGER_FEE - paid * (FEE + LEDGER_FEE) + refunded + wallet[name]
        assert system.icp_balance(user(name)) == expected, name
    charged = len(TOKENS) + 1
    # the backend keeps every fee but the refunded one, and pays the refund's ledger fee
    assert system.icp_balance(system.backend.id) == (
        REFUND_FLOAT + (charged - 1) * FEE - LEDGER_FEE + wallet_fee + dao_fee
        + 2 * launch_fee + platform_fee
    )
    for name in USER_NAMES:
        allowance = AllowanceArgs(Account(user(name)), Account(system.backend.id))
        spent = len(attempts_of(name)) * (FEE + LEDGER_FEE)  # a refund gives no approval back
        if name == "alice":
            spent += wallet_fee + 2 * LEDGER_FEE
        left = APPROVAL - spent if name == "alice" else 0  # bob's and carol's new approvals
        # were used up
        assert system.icp_ledger.icrc2_allowance(allowance).allowance == left
    counters = system.backend.get_counters()
    # the wallet, the distribution, the DAO, two sales, and NOVA, its two distributions and
    # its DAO deployed by the pipeline for nothing
    assert (counters.deployments, counters.failed_deployments) == (len(TOKENS) + 9, 1)
    assert (counters.refunds, counters.refunded, counters.fees_collected) == (
        1, FEE, charged * FEE + wallet_fee + dao_fee + 2 * launch_fee
    )
    assert system.backend.admin_list_pending_refunds() == ()


def test_the_paused_factory_refused_first_and_the_injected_fault_failed_the_paid_attempt(
    demo: Run,
) -> None:
    """carol's first OMEGA, sent while the factory was paused, was refused with nothing recorded
    or charged: she has one refunded payment (and the balances above count one charged attempt).
    Her second was charged and failed at ``create_canister``, the one deployment the factory
    counts as failed."""
    owner, failed = REFUNDED
    records = [
        record for record in demo.system.invoice_storage.get_payments_by_user(user(owner)).items
        if record.service == TOKEN_FACTORY and record.refund_id is not None
    ]  # fmt: skip
    (record,) = records
    refund = demo.system.invoice_storage.get_refund(record.refund_id)
    assert refund.reason == "DeploymentFailed(step='create_canister', reason='injected fault')"
    assert demo.system.token_factory.get_stats().failed_deployments == 1
    refused = "ServiceUnavailable: the token_factory is paused; an admin must resume it"
    (line,) = [line for line in demo.text.splitlines() if refused in line]
    assert line.split()[:4] == [owner, failed.symbol, "-", "-"]
    assert "injected fault" in demo.text


def test_the_audit_trail_records_every_step(demo: Run) -> None:
    system = demo.system
    tokens = deployed_tokens(system)
    page = system.audit_storage.query(AuditQuery(descending=False, limit=100))
    assert page.next_cursor is None
    entries = [
        entry for entry in page.items
        if entry.event.service == TOKEN_FACTORY and entry.user != launch(system).sale
    ]  # fmt: skip
    success = [
        AuditAction.DEPLOYMENT_INITIATED, AuditAction.PAYMENT_PROCESSED,
        AuditAction.DEPLOYMENT_SUCCEEDED,
    ]  # fmt: skip
    failure = [
        AuditAction.DEPLOYMENT_INITIATED, AuditAction.PAYMENT_PROCESSED,
        AuditAction.DEPLOYMENT_FAILED, AuditAction.REFUND_ISSUED,
    ]  # fmt: skip
    assert [entry.action for entry in entries] == success * len(TOKENS) + failure
    for n, (owner, config) in enumerate(TOKENS):
        steps = entries[3 * n : 3 * n + 3]
        assert {entry.user for entry in steps} == {user(owner)}
        assert len({entry.event.payment_id for entry in steps}) == 1
        assert steps[-1].event.contract_id == tokens[config.symbol]
    last = entries[3 * len(TOKENS) :]
    assert {entry.user for entry in last} == {user(REFUNDED[0])}
    assert [entry.timestamp for entry in entries] == sorted(entry.timestamp for entry in entries)


def test_the_invoices_record_every_payment(demo: Run) -> None:
    system = demo.system
    tokens = deployed_tokens(system)
    invoices = system.invoice_storage
    contracts = set()
    for name in USER_NAMES:
        records = [
            record for record in invoices.get_payments_by_user(user(name)).items
            if record.service == TOKEN_FACTORY
        ]  # fmt: skip
        assert len(records) == len(attempts_of(name))
        for record in records:
            assert (record.user, record.amount, record.service) == (user(name), FEE, TOKEN_FACTORY)
            if record.refund_id is None:
                assert isinstance(record.status, Completed)
                contracts.add(record.contract_id)
            else:
                assert name == REFUNDED[0]
                assert isinstance(record.status, Refunded) and record.contract_id is None
                refund = invoices.get_refund(record.refund_id)
                assert refund is not None and refund.amount == FEE
                assert refund.status == RefundCompleted(record.status.block)
    assert contracts == set(tokens.values())


def test_the_text_has_every_section_and_short_principals(demo: Run) -> None:
    for heading in (
        "Platform", "Deployments", "Contracts per user", "Audit trail", "Invoices",
        "ICP balances", "Books", "Multisig wallet", "Wallets per user", "Vesting", "Airdrop",
        "DAO stakes", "DAO proposals", "DAO accounts", "Launch", "Launch pipeline",
        "Launch afterwards", "Refunded sale",
    ):  # fmt: skip
        assert f"\n{heading}\n{'=' * len(heading)}\n" in demo.text
    for name in USER_NAMES:
        assert short(user(name)) in demo.text
        assert str(user(name)) not in demo.text
    assert "balanced" in demo.text and "NOT BALANCED" not in demo.text


def test_the_demo_is_deterministic(demo: Run) -> None:
    again = io.StringIO()
    run_demo(again)
    assert again.getvalue() == demo.text


def test_the_demo_prints_to_stdout_as_it_is_when_called(
    demo: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without ``out``, the tables go to ``sys.stdout`` of the moment: ``capsys`` and
    ``contextlib.redirect_stdout`` capture them."""
    run_demo()
    assert capsys.readouterr().out == demo.text


def run_cli(*args: str, hash_seed: str | None = None) -> subprocess.CompletedProcess[bytes]:
    env = None if hash_seed is None else {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-m", "icto", *args], cwd=ROOT, capture_output=True, timeout=120,
        check=False, env=env,
    )  # fmt: skip


def test_the_demo_prints_the_same_text_whatever_the_string_hash_seed() -> None:
    """Each process hashes strings with its own seed: nothing printed may follow hash order."""
    first, *others = (
        run_cli("demo", hash_seed=seed).stdout.decode(errors="replace") for seed in ("0", "1", "2")
    )
    assert "Launch pipeline" in first
    assert others == [first] * len(others)


def test_python_m_icto_demo_exits_0() -> None:
    done = run_cli("demo")
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    text = done.stdout.decode(errors="replace")
    assert "Audit trail" in text and "balanced" in text


@pytest.mark.parametrize("args", [("bogus",), ()])
def test_an_unknown_or_missing_command_prints_the_usage_and_exits_2(args: tuple[str, ...]) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert b"usage:" in done.stderr


def test_the_team_wallet_paid_carol_after_its_timelock_and_rotated_her_out(demo: Run) -> None:
    system = demo.system
    alice, bob, carol, dave = (user(name) for name in (*USER_NAMES, "dave"))
    (entry,) = system.multisig_factory.as_caller(alice).get_my_contracts(alice)
    wallet = system.ic.actor(entry.info.id, alice)
    pay, add_dave, remove_carol = reversed(wallet.get_proposals().items)
    assert [p.status for p in (pay, add_dave, remove_carol)] == [Status.EXECUTED] * 3
    assert pay.finished_at - pay.approved_at == TIMELOCK_NS
    assert pay.outcomes[0].transfer.to == Account(carol)
    assert system.icp_balance(entry.info.id) == WALLET_FUNDING - WALLET_PAYMENT - LEDGER_FEE
    members = dict(wallet.get_wallet_info().members)
    assert members == {alice: Role.OWNER, bob: Role.SIGNER, dave: Role.SIGNER}
    for person, roles in ((carol, None), (dave, ("signer",)), (bob, ("signer",))):
        page = system.multisig_factory.as_caller(person).get_my_contracts(person)
        assert (page.items[0].roles if len(page) else None) == roles
    (payment,) = [
        record for record in system.invoice_storage.get_payments_by_user(alice).items
        if record.service == MULTISIG_FACTORY
    ]  # fmt: skip
    assert (payment.amount, payment.contract_id) == (DEFAULT_FEES[MULTISIG_FACTORY], entry.info.id)


def test_the_team_vested_month_by_month_and_the_airdrop_paid_equal_shares(demo: Run) -> None:
    system = demo.system
    dist = system.ic.actor(distribution_of(system), user("alice"))
    bob, carol = user("bob"), user("carol")
    assert dist.get_phase() == Phase.COMPLETED
    bobs = dist.get_participant(bob)
    assert (bobs.allocation, bobs.claimed, bobs.claimable) == (TEAM[0][1], TEAM[0][1], 0)
    claims = [claim.amount for claim in reversed(dist.get_claims(bob).items)]
    assert sum(claims) == TEAM[0][1]
    assert claims[1:-1] == [TEAM[0][1] * 9 // 10 // 6] * (len(claims) - 2)  # a month of 90%
    assert dist.get_participant(carol).claimed == 0  # carol never claimed
    for name in AIRDROP_NAMES:
        (claim,) = dist.get_claims(user(name)).items
        assert claim.amount == AIRDROP_AMOUNT // AIRDROP_SHARES and claim.fee_from_reserve
    (entry,) = system.distribution_factory.as_caller(bob).get_my_contracts(bob)
    assert entry.roles == ("recipient",)


def test_the_dao_staked_with_tiers_passed_a_grant_after_its_timelock_and_missed_a_quorum(
    demo: Run,
) -> None:
    system = demo.system
    bob, carol, dave = user("bob"), user("carol"), user("dave")
    (entry,) = system.dao_factory.as_caller(bob).get_my_contracts(bob)
    assert (entry.info.owner, entry.roles) == (bob, ("creator", "member"))
    dao = system.ic.actor(entry.info.id, bob)
    config = dao.get_config()
    alp = config.token
    multipliers = dict(config.lock_tiers)
    powers = {}
    for name, amount, lock in STAKES:
        (stake,) = dao.get_stakes(user(name)).items
        assert (stake.amount, stake.multiplier_bp) == (amount, multipliers[lock])
        powers[name] = amount * multipliers[lock] // 10_000
        member = system.dao_factory.as_caller(user(name)).get_my_contracts(user(name))
        assert [e.roles[-1] for e in member if e.info.id == dao.id] == ["member"]
    grant, motion = reversed(dao.get_proposals().items)
    assert (grant.status, grant.deposit_status) == (ProposalStatus.EXECUTED, DepositStatus.RETURNED)
    assert grant.tally.yes == powers["bob"] + powers["frank"]  # frank delegated to bob
    assert (grant.tally.no, grant.tally.abstain) == (powers["dave"], powers["erin"])
    assert grant.executable_at == grant.ends_at + config.timelock
    assert motion.status == ProposalStatus.REJECTED and not motion.tally.quorum_reached
    token = system.ic.actor(alp, bob)
    fee = token.icrc1_fee()
    assert token.icrc1_balance_of(Account(carol)) == GRANT
    balances = dao.get_balances()
    assert balances.treasury == DAO_TREASURY - GRANT - fee
    assert balances.staking == balances.staked == sum(amount for _, amount, _ in STAKES)
    assert balances.deposits == 0  # both deposits came back, less one fee each
    deposits = Account(entry.info.id, DEPOSITS_SUBACCOUNT)
    returned = [
        block.amount for block in token.get_blocks(0, 10_000)
        if block.from_ == deposits and block.to == Account(dave)
    ]  # fmt: skip
    assert returned == [DAO_CONFIG_FIELDS["proposal_deposit"] - fee]


def test_the_launch_succeeded_its_pipeline_paid_everyone_and_the_dud_refunded(demo: Run) -> None:
    system = demo.system
    nova = launch(system)
    pipeline = nova.pipeline
    assert {str(record.status) for record in pipeline.steps} == {"Done"}
    assert system.icp_balance(nova.sale) == 0  # the escrow paid out exactly what it held
    token = system.ic.actor(pipeline.sale_token)
    buyers = system.ic.actor(dict(pipeline.distributions)["buyers"])
    for name, amount, _ in BUYS:
        bought = amount * 10**8 // NOVA_PRICE
        assert buyers.get_participant(user(name)).allocation == bought
    dave = buyers.get_participant(user("dave"))
    assert dave.claimed == 4_000 * E8S // 4 + 4_000 * E8S * 3 // 4 // 3  # 25% + 30 of 90 days
    assert token.icrc1_balance_of(Account(user("erin"))) == 1_000 * E8S  # the DAO's grant
    reserves = system.ic.actor(pipeline.pool).get_reserves()
    seeded = 90 * E8S * 2_000 // 10_000  # 20% of the raise
    assert reserves.reserve1 == seeded + E8S  # and frank's swap
    assert reserves.reserve0 * reserves.reserve1 >= seeded * 10**8 // NOVA_PRICE * seeded
    (dud,) = system.launchpad_factory.get_sales_by_state(SaleState.REFUNDED)
    sale = system.ic.actor(dud.id)
    assert system.icp_balance(dud.id) == 0
    for name, amount in DUD_BUYS:
        info = sale.get_participant(user(name))
        (refund,) = system.icp_ledger.get_blocks(info.refund_block, 1)
        assert (info.contribution, refund.amount) == (amount, amount - LEDGER_FEE)
