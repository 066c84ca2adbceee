"""``DistributionConfig`` and the one function that says whether it is valid (the backend, before
any payment, and the Distribution Factory, before deploying, both call
``validate_distribution_config``).

A distribution hands ``total_amount`` of one token (``token``, a ledger) to recipients in one or
more categories, each with its own schedule, initial unlock, start offset and way of choosing
recipients. Amounts are in the token's smallest unit; times in nanoseconds (``start`` is
absolute, everything else is after it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TypeAlias

import attrs

from icto.distribution.schedule import BP, Instant, Schedule, end_of, schedule_problems
from icto.ic.account import Account
from icto.ic.principal import Principal
from icto.ic.world import MAX_TIME
from icto.validation import identified_problem, is_nat, nat_in, pairs, text_problem

TITLE_LENGTH: Final = (1, 100)
MAX_DESCRIPTION: Final = 1000
MAX_CATEGORIES: Final = 20
MAX_FIXED: Final = 100_000
MAX_OPEN: Final = 10_000_000
MAX_AMOUNT: Final = 2**128 - 1
DEFAULT_CLAIMS_COVERED: Final = 4
CLAIMS_COVERED: Final = (1, 100)


@attrs.frozen
class Window:
    """When self-registration is open: ``opens`` ≤ now < ``closes`` (absolute ns)."""

    opens: int
    closes: int


@attrs.frozen
class Fixed:
    """These recipients and amounts, summing to exactly the category's amount."""

    recipients: tuple[tuple[Principal, int], ...] = attrs.field(converter=pairs)


@attrs.frozen
class Whitelist:
    """These principals may register (for these amounts) while ``window`` is open."""

    recipients: tuple[tuple[Principal, int], ...] = attrs.field(converter=pairs)
    window: Window


@attrs.frozen
class Open:
    """Anyone may register while ``window`` is open, first come, up to ``max_recipients``, each
    for an equal share (the category's amount divided by ``max_recipients``, exactly)."""

    max_recipients: int
    window: Window


@attrs.frozen
class MerkleRoot:
    """Recipients prove ``(principal, amount, category)`` against ``root`` (SHA-256, see
    ``icto.distribution.merkle``), so a million-recipient airdrop costs the contract one root.
    ``max_recipients`` bounds how many may claim (it sizes the fee reserve)."""

    root: bytes
    max_recipients: int
    window: Window | None = None


Recipients: TypeAlias = Fixed | Whitelist | Open | MerkleRoot


@attrs.frozen
class HoldsToken:
    """Registration needs at least ``min_balance`` on ``ledger`` (asked of the ledger)."""

    ledger: Principal
    min_balance: int


@attrs.frozen
class Category:
    """One share of the distribution: ``amount`` to ``recipients`` on ``schedule``, after
    ``initial_bp`` unlocked at its start, which is ``start_offset`` ns after the
    distribution's."""

    name: str
    amount: int
    recipients: Recipients
    schedule: Schedule = Instant()
    initial_bp: int = 0
    start_offset: int = 0


@attrs.frozen(kw_only=True)
class DistributionConfig:
    """What a user asks the Distribution Factory to deploy. Building one never fails on values;
    ``validate_distribution_config`` lists what is wrong."""

    title: str
    token: Principal
    start: int
    categories: tuple[Category, ...]
    description: str = ""
    eligibility: HoldsToken | None = None
    cancellable: bool = True
    penalty_bp: int = 0
    """Early unlock: the part of the unvested amount a recipient forfeits (0: no early unlock)."""
    penalty_to: Account | None = None
    """Where forfeited amounts go (``None``: burned)."""
    claims_covered: int = DEFAULT_CLAIMS_COVERED
    """Ledger fees of payouts the owner pre-pays per recipient (the fee reserve)."""
    is_public: bool = True

    @property
    def total_amount(self) -> int:
        return sum(category.amount for category in self.categories)


def max_recipients(category: Category) -> int:
    """The most recipients a category can have (it sizes the fee reserve)."""
    mode = category.recipients
    if isinstance(mode, Fixed | Whitelist):
        return len(mode.recipients)
    return mode.max_recipients


def validate_distribution_config(
    config: object, owner: Principal | None = None
) -> tuple[str, ...]:
    """Every reason ``config`` cannot be deployed (for ``owner``, if given); empty if valid."""
    if not isinstance(config, DistributionConfig):
        return (f"expected a DistributionConfig, got {type(config).__name__}",)
    reasons = [
        problem for problem in (
            None if owner is None else identified_problem(owner, "owner"),
            text_problem("title", config.title, *TITLE_LENGTH),
            text_problem("description", config.description, 0, MAX_DESCRIPTION, multiline=True),
        ) if problem
    ]  # fmt: skip
    token: object = config.token
    if not isinstance(token, Principal) or not token.is_canister:
        reasons.append(f"token must be a ledger canister id, got {token!r}")
    if not nat_in(config.start, 0, MAX_TIME):
        reasons.append("start must be an int of ns from 0 to 2**64 - 1 (IC time)")
    reasons.extend(_categories_problems(config.categories))
    eligibility: object = config.eligibility
    if eligibility is not None and not (
        isinstance(eligibility, HoldsToken) and isinstance(eligibility.ledger, Principal)
        and eligibility.ledger.is_canister and is_nat(eligibility.min_balance)
    ):  # fmt: skip
        reasons.append("eligibility is None or HoldsToken(ledger canister, min_balance >= 0)")
    if not is_nat(config.penalty_bp) or config.penalty_bp > BP:
        reasons.append(f"penalty_bp must be an int from 0 to {BP}")
    penalty_to: object = config.penalty_to
    if isinstance(penalty_to, Account):
        if problem := identified_problem(penalty_to.owner, "penalty recipient"):
            reasons.append(problem)
    elif penalty_to is not None:
        reasons.append("penalty_to must be an Account or None (burned)")
    low, high = CLAIMS_COVERED
    if not is_nat(config.claims_covered) or not low <= config.claims_covered <= high:
        reasons.append(f"claims_covered must be an int from {low} to {high}")
    for field in ("cancellable", "is_public"):
        if not isinstance(getattr(config, field), bool):
            reasons.append(f"{field} must be a bool")
    if not reasons and config.total_amount > MAX_AMOUNT:
        reasons.append("the total amount must be at most 2**128 - 1")
    if not reasons and config.start + max(
        category.start_offset + end_of(category.schedule) for category in config.categories
    ) > MAX_TIME:
        reasons.append("the distribution unlocks its last tokens past 2**64 - 1 ns (IC time)")
    return tuple(reasons)


def _categories_problems(categories: object) -> list[str]:
    if not isinstance(categories, tuple) or not 1 <= len(categories) <= MAX_CATEGORIES:
        return [f"a distribution has 1 to {MAX_CATEGORIES} categories"]
    if not all(isinstance(category, Category) for category in categories):
        return ["categories must be Category records"]
    problems = []
    for index, category in enumerate(categories):
        where = f"category {index}"
        problem = text_problem(f"{where} name", category.name, 1, 100)
        if problem:
            problems.append(problem)
        if not is_nat(category.amount) or not 0 < category.amount <= MAX_AMOUNT:
            problems.append(f"{where}: amount must be an int from 1 to 2**128 - 1")
        if not is_nat(category.initial_bp) or category.initial_bp > BP:
            problems.append(f"{where}: initial_bp must be an int from 0 to {BP}")
        if not nat_in(category.start_offset, 0, MAX_TIME):
            problems.append(f"{where}: start_offset must be an int of ns from 0 to 2**64 - 1")
        schedule = schedule_problems(category.schedule)
        problems.extend(f"{where}: {p}" for p in schedule)
        if not schedule and nat_in(category.start_offset, 0, MAX_TIME) and (
            category.start_offset + end_of(category.schedule) > MAX_TIME
        ):
            problems.append(f"{where}: its start_offset and schedule end past 2**64 - 1 ns")
        if is_nat(category.amount):
            problems.extend(f"{where}: {p}" for p in _recipients_problems(category))
    return problems


def _recipients_problems(category: Category) -> list[str]:
    mode: object = category.recipients
    if isinstance(mode, Fixed | Whitelist):
        problems = _listed_problems(mode.recipients)
        total = 0 if problems else sum(amount for _, amount in mode.recipients)
        if isinstance(mode, Fixed) and not problems and total != category.amount:
            problems.append(f"Fixed amounts sum to {total}, not the amount {category.amount}")
        if isinstance(mode, Whitelist) and total > category.amount:
            problems.append(
                f"Whitelist amounts sum to {total}, more than the amount {category.amount}: "
                f"not everyone listed could register"
            )
        if isinstance(mode, Whitelist):
            problems.extend(_window_problems(mode.window))
        return problems
    if isinstance(mode, Open):
        if not is_nat(mode.max_recipients) or not 1 <= mode.max_recipients <= MAX_OPEN:
            return [f"Open max_recipients must be an int from 1 to {MAX_OPEN}"]
        problems = _window_problems(mode.window)
        if category.amount % mode.max_recipients:
            problems.append("an Open category's amount must divide into equal shares")
        return problems
    if isinstance(mode, MerkleRoot):
        problems = []
        root: object = mode.root
        if not isinstance(root, bytes) or len(root) != 32:
            problems.append("a Merkle root is 32 bytes (SHA-256)")
        if not is_nat(mode.max_recipients) or not 1 <= mode.max_recipients <= MAX_OPEN:
            problems.append(f"Merkle max_recipients must be an int from 1 to {MAX_OPEN}")
        if mode.window is not None:
            problems.extend(_window_problems(mode.window))
        return problems
    return [f"recipients are Fixed, Whitelist, Open or MerkleRoot, got {mode!r}"]


def _listed_problems(recipients: object) -> list[str]:
    if not isinstance(recipients, tuple) or not 1 <= len(recipients) <= MAX_FIXED or not all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in recipients
    ):  # fmt: skip
        return [f"recipients are 1 to {MAX_FIXED} (Principal, amount) pairs"]
    problems = []
    for principal, amount in recipients:
        problem = identified_problem(principal, "recipient")
        if problem:
            problems.append(problem)
            break
        if not is_nat(amount) or amount == 0:
            problems.append(f"{principal}'s amount must be an int > 0")
            break
    if not problems and _repeats(principal for principal, _ in recipients):
        problems.append("recipients name a principal more than once")
    return problems


def _window_problems(window: object) -> list[str]:
    if not isinstance(window, Window):
        return ["a registration window is a Window(opens, closes)"]
    opens, closes = window.opens, window.closes
    if not (nat_in(opens, 0, MAX_TIME) and nat_in(closes, 0, MAX_TIME) and opens < closes):
        return ["a registration window needs ints 0 <= opens < closes <= 2**64 - 1 (IC time)"]
    return []


def _repeats(keys: Iterable[Principal]) -> bool:
    seen = list(keys)
    return len(set(seen)) != len(seen)
