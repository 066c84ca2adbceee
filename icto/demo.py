"""``run_demo``: the main scenario on a fresh in-memory IC, printed as plain-text tables.

The platform is deployed with ``deploy_system``; alice, bob and carol get ICP from the faucet and
approve the backend; four tokens are deployed through the paid flow; one more is refused while
the operator has paused the Token Factory (before anything is charged), and once the factory is
resumed it fails at the management canister (an injected fault) and its fee is refunded. Then the
demo reads everything back from where it lives: contracts per user from the factory, the audit
trail from AuditStorage, invoices from InvoiceStorage, balances and the books from the ICP ledger.

Run it with ``python -m icto demo``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, TextIO

from icto.backend.types import DAO_FACTORY, LAUNCHPAD_FACTORY
from icto.dao import Choice, DAOConfig, Motion, TreasuryTransfer
from icto.dao.types import STAKING_SUBACCOUNT
from icto.distribution import Category, Cliff, DistributionConfig, Fixed, Linear, Open, Window
from icto.ic.account import Account
from icto.ic.ic import IC
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.ic.router import MANAGEMENT_ID
from icto.launchpad import AllocationGroup, FixedPrice, LaunchpadConfig, ProjectInfo
from icto.ledger.presets import ICP
from icto.ledger.types import E8S, ApproveArgs, TransferArgs
from icto.multisig import AddSigner, MultisigConfig, RemoveSigner, Role, Transfer
from icto.storage.types import AuditEntry, AuditQuery, PaymentRecord
from icto.system import System, deploy_system
from icto.token.config import TokenConfig

USER_NAMES: Final = ("alice", "bob", "carol")
FUNDING: Final = 10 * E8S
"""ICP each user gets from the faucet."""
APPROVAL: Final = 5 * E8S
"""What each user lets the backend charge."""
STEP_SECONDS: Final = 60
"""IC time between two steps of the scenario, so the trail shows when each happened."""

TREASURY: Final = (1).to_bytes(32, "big")
"""The subaccount where an owner keeps their own initial balance (their default account is the
token's minting account, which cannot hold one)."""


def _user(name: str) -> Principal:
    return Principal.from_name(name)


def _treasury(name: str) -> Account:
    return Account(_user(name), TREASURY)


TOKENS: Final[tuple[tuple[str, TokenConfig], ...]] = (
    ("alice", TokenConfig(
        name="Alpha Coin", symbol="ALP", description="alice's community token",
        initial_balances=(
            (_treasury("alice"), 1_000_000 * E8S), (Account(_user("bob")), 50_000 * E8S),
        ),
    )),
    ("bob", TokenConfig(
        name="Beta Points", symbol="BETA", decimals=2, transfer_fee=1,
        initial_balances=((_treasury("bob"), 500_000_00), (Account(_user("carol")), 25_000_00)),
    )),
    ("carol", TokenConfig(
        name="Gamma Gold", symbol="GAMMA",
        initial_balances=(
            (_treasury("carol"), 21_000_000 * E8S), (Account(_user("alice")), 1_000 * E8S),
        ),
    )),
    ("alice", TokenConfig(
        name="Delta Shares", symbol="DLT", decimals=0, transfer_fee=0, is_public=False,
        initial_balances=((_treasury("alice"), 10_000),),
    )),
)  # fmt: skip
"""The deployments that succeed: (owner, config)."""

REFUNDED: Final = (
    "carol",
    TokenConfig(name="Omega", symbol="OMEGA", initial_balances=((_treasury("carol"), 1_000),)),
)
"""The deployment attempted twice: refused while the Token Factory is paused (nothing charged),
then charged, failed at the management canister by an injected fault, and refunded."""

SECTIONS: Final = (
    "Platform", "Deployments", "Contracts per user", "Audit trail", "Invoices", "ICP balances",
    "Books", "Multisig wallet", "Wallets per user", "Vesting", "Airdrop", "DAO stakes",
    "DAO proposals", "DAO accounts", "Launch", "Launch pipeline", "Launch afterwards",
    "Refunded sale",
)  # fmt: skip
MONTH_NS: Final = 30 * 24 * 3600 * 10**9
TEAM_SCHEDULE: Final = Cliff(cliff=MONTH_NS, cliff_bp=1000, duration=6 * MONTH_NS)
"""The team's ALP: nothing for a month, 10% then, the rest evenly over six months."""
TEAM: Final = (("bob", 600_000 * E8S), ("carol", 400_000 * E8S))
AIRDROP_SHARES: Final = 4
AIRDROP_AMOUNT: Final = 4_000 * E8S
AIRDROP_NAMES: Final = ("dave", "erin", "frank")
WALLET_FUNDING: Final = 2 * E8S
"""What alice sends the team wallet."""
WALLET_PAYMENT: Final = 1 * E8S
"""What the wallet's first proposal pays carol."""
TIMELOCK_NS: Final = 3600 * 10**9
DAY_NS: Final = 24 * 3600 * 10**9
DAO_CONFIG_FIELDS: Final[dict[str, Any]] = {
    "name": "ALP DAO", "minimum_stake": 10 * E8S, "proposal_threshold": 500 * E8S,
    "proposal_deposit": 100 * E8S, "quorum_bp": 3_000, "approval_bp": 5_000,
    "voting_period": 3 * DAY_NS, "timelock": 2 * DAY_NS,
    "lock_tiers": ((0, 10_000), (90 * DAY_NS, 15_000), (365 * DAY_NS, 20_000)),
}  # fmt: skip
"""bob's DAO, governed by ALP (the token and alice as emergency contact are added in the
scene): 30% quorum, a simple majority, three days of voting, a two-day timelock, and locks of
90 days (1.5x) and a year (2x)."""
STAKES: Final = (
    ("bob", 40_000 * E8S, 365 * DAY_NS), ("dave", 800 * E8S, 0),
    ("erin", 900 * E8S, 90 * DAY_NS), ("frank", 500 * E8S, 0),
)  # fmt: skip
"""Who stakes how much ALP for how long; frank then delegates to bob."""
DAO_TREASURY: Final = 100_000 * E8S
"""What alice mints into the DAO's treasury."""
GRANT: Final = 10_000 * E8S
"""The treasury transfer to carol the DAO votes through."""
NOVA_PRICE: Final = E8S // 100
"""0.01 ICP per whole NOVA."""
BUYS: Final = (("dave", 40 * E8S, None), ("erin", 30 * E8S, "dave"), ("frank", 20 * E8S, None))
"""Who buys NOVA for how much ICP, and who referred them."""
DUD_BUYS: Final = (("dave", 2 * E8S), ("erin", 3 * E8S))
"""The contributions to the sale that fails its soft cap."""


# -- formatting -------------------------------------------------------------------------------


def short(principal: Principal | None) -> str:
    """A principal as its first 5 characters and an ellipsis; ``-`` for none."""
    return "-" if principal is None else f"{str(principal)[:5]}…"


def icp(e8s: int) -> str:
    """An amount of e8s as ICP, exactly (at least 4 decimals, trailing zeros dropped)."""
    sign = "-" if e8s < 0 else ""
    whole, fraction = divmod(abs(e8s), E8S)
    digits = f"{fraction:08d}".rstrip("0").ljust(4, "0")
    return f"{sign}{whole:,}.{digits}"


def _describe(value: object) -> str:
    """A status or result record as readable text: ``Completed (block 7)``, ``Pending``."""
    name = type(value).__name__
    fields = getattr(value, "__attrs_attrs__", ())
    parts = [f"{field.name} {getattr(value, field.name)}" for field in fields]
    return f"{name} ({', '.join(parts)})" if parts else name


def table(
    out: TextIO,
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    right: Iterable[int] = (),
) -> None:
    """Print ``rows`` under ``title`` as an aligned plain-text table; columns in ``right`` are
    right-aligned (amounts)."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    right_aligned = set(right)

    def line(row: Sequence[str]) -> str:
        padded = (
            cell.rjust(width) if index in right_aligned else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    out.write(f"\n{title}\n{'=' * len(title)}\n")
    out.write(line(list(headers)) + "\n")
    out.write("  ".join("-" * width for width in widths) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    if not cells:
        out.write("(none)\n")


# -- reading the platform back ----------------------------------------------------------------


def audit_trail(system: System) -> Iterator[AuditEntry]:
    """Every audit entry, oldest first, page by page."""
    cursor: int | None = None
    while True:
        page = system.audit_storage.query(AuditQuery(descending=False, cursor=cursor, limit=100))
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def payments_of(system: System, user: Principal) -> Iterator[PaymentRecord]:
    """``user``'s payment records, oldest first."""
    records: list[PaymentRecord] = []
    cursor: int | None = None
    while True:
        page = system.invoice_storage.get_payments_by_user(user, cursor=cursor)
        records.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return reversed(records)


def icp_books(system: System) -> dict[str, int]:
    """Minted, burned and fees from the ICP ledger's block log, and its total supply."""
    ledger = system.icp_ledger
    minted = burned = fees = 0
    count: int = ledger.get_transaction_count()
    for start in range(0, count, 1000):
        for block in ledger.get_blocks(start, 1000):
            fees += block.fee or 0
            if block.kind == "mint":
                minted += block.amount
            elif block.kind == "burn":
                burned += block.amount
    supply: int = ledger.icrc1_total_supply()
    return {"minted": minted, "burned": burned, "fees": fees, "total_supply": supply}


# -- the scenario -----------------------------------------------------------------------------


def run_demo(out: TextIO | None = None) -> System:
    """Run the scenario on a fresh IC, print its tables to ``out`` and return the system.

    ``out=None`` is ``sys.stdout`` as it is when called, so ``contextlib.redirect_stdout`` and
    pytest's ``capsys`` capture the tables."""
    if out is None:
        out = sys.stdout
    ic = IC()
    start = ic.time
    system = deploy_system(ic)
    users = {name: _user(name) for name in USER_NAMES}
    for user in users.values():
        system.faucet(user, FUNDING)
        system.approve_backend(user, APPROVAL)

    table(out, "Platform", ("canister", "id"), [
        ("ICP ledger", system.icp_ledger.id), ("backend", system.backend.id),
        ("audit storage", system.audit_storage.id), ("invoice storage", system.invoice_storage.id),
        ("token factory", system.token_factory.id), ("operator", system.operator),
    ])  # fmt: skip
    out.write(
        f"\nusers {', '.join(USER_NAMES)}: {icp(FUNDING)} ICP each from the faucet, "
        f"{icp(APPROVAL)} ICP approved to the backend\n"
    )

    attempts: list[tuple[str, str, str, str, str]] = []

    def deploy(name: str, config: TokenConfig) -> Any:
        ic.advance_time(seconds=STEP_SECONDS)
        result = system.backend.as_caller(users[name]).deploy_token(config)
        if isinstance(result, Ok):
            deployed = result.value
            attempts.append((
                name, config.symbol, deployed.payment_id, icp(deployed.fee_paid),
                f"deployed {short(deployed.canister_id)}",
            ))  # fmt: skip
        else:
            assert isinstance(result, Err)
            error = result.error
            refund = getattr(error, "refund", None)
            told = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
            fee = "-"
            if refund is not None:
                told += f"; refund {refund.refund_id} {refund.status}"
                fee = icp(refund.amount)
            attempts.append((name, config.symbol, getattr(error, "payment_id", "-"), fee, told))
        return result

    for name, config in TOKENS:
        deploy(name, config).unwrap()
    ic.advance_time(seconds=STEP_SECONDS)
    system.token_factory.pause_factory()
    deploy(*REFUNDED)
    system.token_factory.resume_factory()
    with ic.faults.reject(MANAGEMENT_ID, "create_canister"):
        deploy(*REFUNDED)
    ic.advance_time(seconds=STEP_SECONDS)

    table(out, "Deployments", ("user", "symbol", "payment", "fee ICP", "outcome"), attempts,
          right=(3,))  # fmt: skip
    failed_owner, failed = REFUNDED
    out.write(f"({failed_owner}'s first {failed.symbol} came while the operator had paused the "
              "token factory: refused, nothing charged; once it was resumed, her second failed "
              "at the management canister (create_canister refused by an injected fault) and "
              "its fee was refunded)\n")  # fmt: skip

    contract_rows = []
    for name, user in users.items():
        page = system.token_factory.as_caller(user).get_my_contracts(user)
        for entry in page.items:
            info = entry.info
            contract_rows.append((
                name, short(info.id), info.name, info.details.symbol, short(info.owner),
                ", ".join(entry.roles), "public" if info.is_public else "private",
            ))  # fmt: skip
    table(out, "Contracts per user",
          ("user", "contract", "name", "symbol", "owner", "roles", "visibility"),
          contract_rows)  # fmt: skip

    table(out, "Audit trail",
          ("id", "time", "action", "user", "service", "payment", "contract"),
          [(entry.id, f"+{(entry.timestamp - start) // 10**9}s", entry.action.value,
            short(entry.event.user), entry.event.service or "-", entry.event.payment_id or "-",
            short(entry.event.contract_id)) for entry in audit_trail(system)],
          right=(0, 1))  # fmt: skip

    table(out, "Invoices",
          ("payment", "user", "service", "amount ICP", "status", "contract", "refund"),
          [(record.id, name, record.service, icp(record.amount), _describe(record.status),
            short(record.contract_id), record.refund_id or "-")
           for name, user in users.items() for record in payments_of(system, user)],
          right=(3,))  # fmt: skip

    accounts = [*users.items(), ("backend", system.backend.id)]
    balances = [(name, short(owner), icp(system.icp_balance(owner))) for name, owner in accounts]
    table(out, "ICP balances", ("account", "principal", "ICP"), balances, right=(2,))

    books = icp_books(system)
    expected = books["minted"] - books["burned"] - books["fees"]
    verdict = "balanced" if expected == books["total_supply"] else "NOT BALANCED"
    table(out, "Books", ("ICP ledger", "ICP"), [
        ("minted", icp(books["minted"])), ("burned", icp(books["burned"])),
        ("fees (burned by the ledger)", icp(books["fees"])),
        ("minted - burned - fees", icp(expected)), ("total supply", icp(books["total_supply"])),
    ], right=(1,))  # fmt: skip
    out.write(f"books check: total supply = minted - burned - fees: {verdict}\n")
    multisig_scene(system, users, out)
    distribution_scene(system, users, out)
    dao_scene(system, users, out)
    launch_scene(system, users, out)
    return system


def multisig_scene(system: System, users: dict[str, Principal], out: TextIO) -> Principal:
    """A 2-of-3 team wallet (alice Owner; bob, carol Signers; a 1 h timelock) deployed through
    the paid flow and funded; a transfer to carol proposed, approved, refused before its
    timelock and executed after it; then carol rotated out for dave. Returns the wallet."""
    ic = system.ic
    alice, bob, carol = (users[name] for name in USER_NAMES)
    dave = _user("dave")
    config = MultisigConfig(
        name="Team treasury", threshold=2, timelock=TIMELOCK_NS,
        members=((alice, Role.OWNER), (bob, Role.SIGNER), (carol, Role.SIGNER)),
    )  # fmt: skip
    ic.advance_time(seconds=STEP_SECONDS)
    wallet_id: Principal = (
        system.backend.as_caller(alice).deploy_multisig(config).unwrap().canister_id
    )
    system.icp_ledger.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(wallet_id), amount=WALLET_FUNDING)
    ).unwrap()
    wallet = ic.actor(wallet_id, alice)
    before = _wallet_roles(system, (*users.values(), dave), wallet_id)
    steps: list[tuple[str, str, str]] = []

    def step(who: str, what: str, result: Any) -> Any:
        steps.append((who, what, _answer(result)))
        return result

    pay = Transfer(system.icp_ledger.id, Account(carol), WALLET_PAYMENT)
    proposal = step("alice", "propose: pay carol 1 ICP", wallet.propose(pay)).unwrap()
    step("bob", "approve", wallet.as_caller(bob).approve(proposal))
    step("carol", "execute (within the timelock)", wallet.as_caller(carol).execute(proposal))
    ic.advance_time(nanos=TIMELOCK_NS)
    step("carol", "execute (after 1 h)", wallet.as_caller(carol).execute(proposal))
    for change in (AddSigner(dave), RemoveSigner(carol)):
        name = f"{type(change).__name__}({'dave' if change.principal == dave else 'carol'})"
        number = step("alice", f"propose: {name}", wallet.propose(change)).unwrap()
        step("bob", "approve", wallet.as_caller(bob).approve(number))
        ic.advance_time(nanos=TIMELOCK_NS)
        step("bob", "execute", wallet.as_caller(bob).execute(number))
    table(out, "Multisig wallet", ("who", "step", "answer"), steps)
    out.write(
        f"wallet {short(wallet_id)}: {icp(system.icp_balance(wallet_id))} ICP left of "
        f"{icp(WALLET_FUNDING)} (1 ICP to carol and one ledger fee)\n"
    )
    after = _wallet_roles(system, (*users.values(), dave), wallet_id)
    names = (*USER_NAMES, "dave")
    table(out, "Wallets per user", ("user", "roles before the rotation", "roles after"),
          [(name, before[user] or "-", after[user] or "-")
           for name, user in zip(names, (*users.values(), dave), strict=True)])  # fmt: skip
    return wallet_id


def distribution_scene(system: System, users: dict[str, Principal], out: TextIO) -> Principal:
    """alice vests ALP for her team (bob, carol) and airdrops some: she deploys the
    distribution through the paid flow, mints its total and fee reserve into it, and anyone
    activates it; three people register for the airdrop; bob claims every month. Returns the
    distribution."""
    ic, alice = system.ic, users["alice"]
    alp = _token_id(system, alice, "ALP")
    start = ic.time + 24 * 3600 * 10**9
    team = tuple((users[name], amount) for name, amount in TEAM)
    window = Window(ic.time, start + MONTH_NS)
    config = DistributionConfig(
        title="ALP team and airdrop", token=alp, start=start, categories=(
            Category("team", sum(a for _, a in TEAM), Fixed(team), TEAM_SCHEDULE),
            Category("airdrop", AIRDROP_AMOUNT, Open(AIRDROP_SHARES, window)),
        ),
    )  # fmt: skip
    ic.advance_time(seconds=STEP_SECONDS)
    result = system.backend.as_caller(alice).deploy_distribution(config).unwrap()
    dist = ic.actor(result.canister_id, alice)
    token = ic.actor(alp, alice)
    fee = token.icrc1_fee()
    reserve = config.claims_covered * (len(TEAM) + AIRDROP_SHARES) * fee
    token.icrc1_transfer(
        TransferArgs(to=Account(result.canister_id), amount=config.total_amount + reserve)
    ).unwrap()  # alice's default account is ALP's minting account: this mints
    dist.as_caller(users["bob"]).activate().unwrap()
    for name in AIRDROP_NAMES:
        dist.as_caller(_user(name)).register(1).unwrap()
    bob = dist.as_caller(users["bob"])
    rows = []
    for month in range(9):
        if month:
            ic.advance_time(nanos=MONTH_NS)
        info = bob.get_participant(users["bob"])
        claimed = bob.claim()
        paid = claimed.value.amount if isinstance(claimed, Ok) else 0
        rows.append((f"+{month} months", dist.get_phase(), _alp(info.unlocked),
                     _alp(paid), _alp(token.icrc1_balance_of(Account(users["bob"])))))  # fmt: skip
    table(out, "Vesting", ("time", "phase", "bob unlocked", "bob claims", "bob's ALP balance"),
          rows, right=(2, 3, 4))  # fmt: skip
    out.write(f"schedule: {TEAM_SCHEDULE!r}\n")
    drops = []
    for name in AIRDROP_NAMES:
        claim = dist.as_caller(_user(name)).claim().unwrap()
        drops.append((name, _alp(claim.amount), claim.fee_from_reserve))
    table(out, "Airdrop", ("user", "ALP received", "fee paid by the reserve"), drops, right=(1,))
    stats = dist.get_stats()
    out.write(
        f"distribution: {_alp(stats.claimed)} of {_alp(stats.total)} ALP claimed by "
        f"{stats.participants} recipients; fee reserve left: {stats.reserve:,} units\n"
    )
    return result.canister_id  # type: ignore[no-any-return]


def dao_scene(system: System, users: dict[str, Principal], out: TextIO) -> Principal:
    """bob deploys a DAO governed by ALP through the paid flow and alice funds its treasury;
    four members stake with different lock tiers and frank delegates to bob; a grant to carol
    passes, is refused during its timelock and executes after it; dave's motion fails its
    quorum and his deposit comes back less one fee. Returns the DAO."""
    ic, alice, bob = system.ic, users["alice"], users["bob"]
    alp = _token_id(system, alice, "ALP")
    token = ic.actor(alp, alice)
    fee = token.icrc1_fee()
    config = DAOConfig(token=alp, emergency_contacts=(alice,), **DAO_CONFIG_FIELDS)
    ic.advance_time(seconds=STEP_SECONDS)
    system.approve_backend(bob, system.backend.get_service_fee(DAO_FACTORY) + ICP.fee)
    dao_id: Principal = system.backend.as_caller(bob).deploy_dao(config).unwrap().canister_id
    dao = ic.actor(dao_id, bob)
    token.icrc1_transfer(TransferArgs(to=Account(dao_id), amount=DAO_TREASURY)).unwrap()
    stakes = []
    for name, amount, lock in STAKES:
        member = _user(name)
        token.as_caller(member).icrc2_approve(
            ApproveArgs(spender=Account(dao_id), amount=amount + 200 * E8S)
        ).unwrap()
        stake = dao.as_caller(member).stake(amount, lock).unwrap()
        stakes.append((name, _alp(amount), f"{lock // DAY_NS} days",
                       f"{stake.multiplier_bp / 10_000:g}x", _alp(stake.power)))  # fmt: skip
    dao.as_caller(_user("frank")).delegate(bob).unwrap()
    table(out, "DAO stakes", ("member", "ALP staked", "lock", "multiplier", "voting power"),
          stakes, right=(1, 4))  # fmt: skip
    out.write(f"frank delegates to bob; bob's effective power: "
              f"{_alp(dao.get_member(bob).effective)}\n")  # fmt: skip
    rows = []
    grant = dao.submit_proposal(TreasuryTransfer(alp, Account(users["carol"]), GRANT)).unwrap()
    dave = _user("dave")
    motion = dao.as_caller(dave).submit_proposal(Motion("Grants every quarter")).unwrap()
    for name, proposal, choice in (
        ("bob", grant, Choice.YES), ("dave", grant, Choice.NO), ("erin", grant, Choice.ABSTAIN),
        ("dave", motion, Choice.YES), ("erin", motion, Choice.YES),
    ):  # fmt: skip
        dao.as_caller(_user(name)).vote(proposal, choice).unwrap()
    ic.advance_time(nanos=config.voting_period)
    early = dao.execute(grant)
    ic.advance_time(nanos=config.timelock)
    done = dao.as_caller(dave).execute(grant)
    for proposal, what in ((grant, "grant 10,000 ALP to carol"), (motion, "motion")):
        info = dao.get_proposal(proposal)
        tally = info.tally
        rows.append((f"#{proposal} {what}", _alp(tally.yes), _alp(tally.no), _alp(tally.abstain),
                     "reached" if tally.quorum_reached else "missed", info.status,
                     info.deposit_status))  # fmt: skip
    table(out, "DAO proposals",
          ("proposal", "yes", "no", "abstain", "quorum", "status", "deposit"), rows,
          right=(1, 2, 3))  # fmt: skip
    out.write(f"executing the grant during its timelock: {_answer(early)}; after it: "
              f"{_answer(done)}\n")  # fmt: skip
    balances = dao.get_balances()
    table(out, "DAO accounts", ("account", "ALP"), [
        ("treasury", _exact(balances.treasury)), ("staking", _exact(balances.staking)),
        ("deposits", _exact(balances.deposits)),
        ("carol's ALP", _exact(token.icrc1_balance_of(Account(users["carol"])))),
    ], right=(1,))  # fmt: skip
    staking = token.icrc1_balance_of(Account(dao_id, STAKING_SUBACCOUNT))
    out.write(f"the ledger's staking subaccount holds exactly the stakes the DAO records: "
              f"{staking == balances.staked}; the treasury paid the grant and its {fee}-unit "
              f"fee\n")  # fmt: skip
    return dao_id


def launch_config(system: System, carol: Principal, **changes: Any) -> LaunchpadConfig:
    """carol's NOVA sale: a new token at 0.01 ICP, 20 to 100 ICP, a year's vesting for her
    team's 200,000 NOVA, buyers vesting over 90 days after 25% at once, a DAO treasury governed
    by NOVA, 20% of the raise in a pool, a 2.5% platform fee and 1% to affiliates."""
    now = system.ic.time
    fields: dict[str, Any] = {
        "project": ProjectInfo("Nova", "A launch on the simulated IC"),
        "sale_token": TokenConfig(name="Nova", symbol="NOVA"),
        "purchase_token": system.icp_ledger.id, "sale_type": FixedPrice(NOVA_PRICE),
        "tokens_for_sale": 1_000_000 * E8S, "soft_cap": 20 * E8S, "hard_cap": 100 * E8S,
        "min_contribution": E8S, "max_contribution": 40 * E8S,
        "sale_start": now + DAY_NS, "sale_end": now + 8 * DAY_NS,
        "buyer_vesting": Linear(90 * DAY_NS), "buyer_initial_bp": 2_500,
        "allocations": (AllocationGroup("team", 200_000 * E8S, ((carol, 200_000 * E8S),),
                                        Linear(365 * DAY_NS)),),
        "raised_allocation": ((Account(carol), 10_000),),
        "treasury": DAOConfig(
            name="Nova DAO", minimum_stake=E8S, proposal_threshold=100 * E8S,
            proposal_deposit=0, quorum_bp=2_000, approval_bp=5_000, voting_period=3 * DAY_NS,
            timelock=DAY_NS, emergency_contacts=(carol,),
        ),
        "liquidity_bp": 2_000, "platform_fee_bp": 250, "affiliate_bp": 100,
    }  # fmt: skip
    fields.update(changes)
    return LaunchpadConfig(**fields)


def launch_scene(system: System, users: dict[str, Principal], out: TextIO) -> Principal:
    """carol launches NOVA: three buyers contribute (one referred), the sale succeeds and its
    pipeline deploys the token, the distributions, the DAO treasury and a pool, and pays the
    raise out; dave claims his vested NOVA, stakes it and the DAO votes a grant from its
    treasury; frank swaps ICP for NOVA on the pool. A second sale misses its soft cap and
    refunds everyone. Returns the successful sale."""
    ic, carol = system.ic, users["carol"]
    system.faucet(carol, 25 * E8S)
    system.approve_backend(carol, 2 * (system.backend.get_service_fee(LAUNCHPAD_FACTORY) + ICP.fee))
    sale_id: Principal = (
        system.backend.as_caller(carol).deploy_launchpad(launch_config(system, carol))
        .unwrap().canister_id
    )  # fmt: skip
    sale = ic.actor(sale_id, carol)
    ic.advance_time(nanos=DAY_NS)
    rows = []
    for name, amount, referrer in BUYS:
        buyer = _user(name)
        system.faucet(buyer, amount + E8S)
        system.icp_ledger.as_caller(buyer).icrc2_approve(
            ApproveArgs(spender=Account(sale_id), amount=amount + ICP.fee)
        ).unwrap()
        taken = sale.as_caller(buyer).contribute(
            amount, None if referrer is None else _user(referrer)
        ).unwrap()
        rows.append((name, icp(taken), referrer or "-",
                     _alp(sale.get_participant(buyer).allocation)))  # fmt: skip
    ic.advance_time(nanos=7 * DAY_NS)
    table(out, "Launch", ("buyer", "ICP", "referred by", "NOVA bought"), rows, right=(1, 3))
    out.write(f"{sale.get_sale()!r}\n")
    sale.finalize().unwrap()
    pipeline = sale.get_pipeline()
    created = dict(pipeline.distributions)
    payouts = [(name, pipeline.payouts[name]) for name in pipeline.payout_order]
    made = {
        "DeployToken": f"NOVA {short(pipeline.sale_token)}",
        "DeployDistributions": ", ".join(f"{n} {short(c)}" for n, c in created.items()),
        "DeployTreasury": f"DAO {short(pipeline.treasury)}",
        "SeedLiquidity": f"pool {short(pipeline.pool)}, {pipeline.lp_shares:,} shares",
        "SendRaisedFunds": ", ".join(
            f"{name.split()[0]} {short(p.to.owner)} {icp(p.amount)}"
            for name, p in payouts
            if p.ledger == system.icp_ledger.id and p.amount
        ),
    }  # fmt: skip
    table(out, "Launch pipeline", ("step", "status", "made"),
          [(record.step, record.status, made.get(str(record.step), "-"))
           for record in pipeline.steps])  # fmt: skip
    out.write(f"sale {short(sale_id)}: {sale.get_state()}; escrow left: "
              f"{icp(system.icp_balance(sale_id))} ICP\n")  # fmt: skip
    nova = ic.actor(pipeline.sale_token, carol)
    dave, erin, frank = (_user(name) for name in ("dave", "erin", "frank"))
    buyers = ic.actor(created["buyers"], dave)
    ic.advance_time(nanos=30 * DAY_NS)
    claimed = buyers.claim().unwrap().amount
    dao = ic.actor(pipeline.treasury, dave)
    nova.as_caller(dave).icrc2_approve(ApproveArgs(spender=Account(dao.id), amount=claimed))
    dao.stake(claimed - nova.icrc1_fee() * 2).unwrap()
    grant = dao.submit_proposal(TreasuryTransfer(nova.id, Account(erin), 1_000 * E8S)).unwrap()
    dao.vote(grant, Choice.YES).unwrap()
    ic.advance_time(nanos=4 * DAY_NS)
    granted = dao.execute(grant).unwrap()
    pool = ic.actor(pipeline.pool, frank)
    system.faucet(frank, 2 * E8S)
    system.icp_ledger.as_caller(frank).icrc2_approve(
        ApproveArgs(spender=Account(pool.id), amount=E8S + ICP.fee)
    ).unwrap()
    swapped = pool.swap(system.icp_ledger.id, E8S, 1).unwrap()
    reserves = pool.get_reserves()
    table(out, "Launch afterwards", ("who", "what", "result"), [
        ("dave", "claims after 30 days", f"{_alp(claimed)} NOVA"),
        ("dave", "stakes them in the Nova DAO, proposes 1,000 NOVA to erin", str(granted)),
        ("erin", "NOVA balance", _alp(nova.icrc1_balance_of(Account(erin)))),
        ("frank", "swaps 1 ICP on the pool", f"{_alp(swapped.amount_out)} NOVA"),
        ("pool", "reserves", f"{_alp(reserves.reserve0)} NOVA / {icp(reserves.reserve1)} ICP"),
    ])  # fmt: skip
    refunded_sale(system, carol, out)
    return sale_id


def refunded_sale(system: System, carol: Principal, out: TextIO) -> Principal:
    """A sale that misses its soft cap: every contributor is refunded, less one fee."""
    ic = system.ic
    config = launch_config(
        system, carol, project=ProjectInfo("Dud"),
        sale_token=TokenConfig(name="Dud", symbol="DUD"), soft_cap=50 * E8S,
    )  # fmt: skip
    deployed = system.backend.as_caller(carol).deploy_launchpad(config).unwrap()
    dud_id: Principal = deployed.canister_id
    dud = ic.actor(dud_id, carol)
    ic.advance_time(nanos=DAY_NS)
    for name, amount in DUD_BUYS:
        buyer = _user(name)
        system.faucet(buyer, amount + E8S)
        system.icp_ledger.as_caller(buyer).icrc2_approve(
            ApproveArgs(spender=Account(dud_id), amount=amount + ICP.fee)
        ).unwrap()
        dud.as_caller(_user(name)).contribute(amount).unwrap()
    ic.advance_time(nanos=7 * DAY_NS)
    progress = dud.get_refund_progress()
    rows = []
    for name, amount in DUD_BUYS:
        block = dud.get_participant(_user(name)).refund_block
        (refund,) = system.icp_ledger.get_blocks(block, 1)
        rows.append((name, icp(amount), icp(refund.amount)))
    table(out, "Refunded sale", ("contributor", "ICP in", "ICP back (less a fee)"), rows,
          right=(1, 2))  # fmt: skip
    out.write(f"{dud.get_sale()!r}\n{progress.refunded} of {progress.contributors} contributors "
              f"refunded; escrow left: {icp(system.icp_balance(dud_id))} ICP\n")  # fmt: skip
    return dud_id


def _token_id(system: System, owner: Principal, symbol: str) -> Principal:
    page = system.token_factory.as_caller(owner).get_tokens_by_symbol(symbol)
    found: Principal = page.items[0].id
    return found


def _alp(units: int) -> str:
    return f"{units / E8S:,.2f}"


def _exact(units: int) -> str:
    whole, rest = divmod(units, E8S)
    return f"{whole:,}.{rest:08d}"


def _answer(result: Any) -> str:
    """A wallet's answer in a few words: ``proposal #0``, ``Approved``, ``NotExecutable``."""
    if isinstance(result, Err):
        return type(result.error).__name__
    value = result.value
    if isinstance(value, int):
        return f"proposal #{value}"
    return str(getattr(value, "status", value))


def _wallet_roles(
    system: System, people: Iterable[Principal], wallet: Principal
) -> dict[Principal, str]:
    """Each person's roles in ``wallet``, as the Multisig Factory's ``get_my_contracts`` says."""
    roles = {}
    for person in people:
        page = system.multisig_factory.as_caller(person).get_my_contracts(person)
        held = [entry.roles for entry in page if entry.info.id == wallet]
        roles[person] = ", ".join(held[0]) if held else ""
    return roles
