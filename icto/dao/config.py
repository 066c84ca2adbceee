"""``DAOConfig`` and the one function that says whether it is valid (the backend before any
payment, the DAO Factory before deploying, the DAO at install and an ``UpdateParams`` proposal
at submission and at execution all call ``validate_dao_config``).

Units: amounts are the governance token's smallest unit and times are nanoseconds, whatever the
token's decimals. Voting power is an amount scaled by a lock tier's multiplier in basis points
(``BP`` = 10,000 is 1x).
"""

from __future__ import annotations

import itertools
from typing import Final

import attrs

from icto.distribution.schedule import BP, NS_PER_DAY
from icto.ic.principal import Principal
from icto.ledger.types import U64_MAX
from icto.validation import as_tuple, identified_problem, nat_in, pairs, text_problem

NAME_LENGTH: Final = (1, 100)
MAX_DESCRIPTION: Final = 1000
MAX_AMOUNT: Final = 2**128 - 1
HOUR_NS: Final = 3600 * 10**9
VOTING_PERIOD: Final = (HOUR_NS, 30 * NS_PER_DAY)
"""Shortest and longest voting period."""
MAX_TIMELOCK: Final = 30 * NS_PER_DAY
MAX_LOCK: Final = 8 * 365 * NS_PER_DAY
"""The longest lock a stake or a tier may have (eight years, as an SNS dissolve delay)."""
MAX_TIERS: Final = 10
MULTIPLIER_BP: Final = (BP, 5 * BP)
"""A tier's multiplier: from 1x to 5x."""
QUORUM_BP: Final = (1, BP)
APPROVAL_BP: Final = (BP // 2, BP)
"""Approval is a majority at least: below half, both a measure and its opposite could pass."""
MAX_EMERGENCY_CONTACTS: Final = 10


@attrs.frozen(kw_only=True)
class DAOConfig:
    """What a user asks the DAO Factory to deploy. Building one never fails on values;
    ``validate_dao_config`` lists what is wrong.

    ``lock_tiers`` are ``(lock duration, multiplier_bp)`` pairs with ascending durations; a
    stake locked for ``lock`` gets the multiplier of the largest tier whose duration ≤ ``lock``
    (a lock shorter than the first tier is refused). ``quorum_bp`` is of the total voting power
    at a proposal's submission; ``approval_bp`` of the yes and no votes cast.
    """

    name: str
    token: Principal | None = None
    """The governance token's ledger (required; left ``None`` only in a launchpad's treasury
    config, where it means the sale token)."""
    minimum_stake: int
    proposal_threshold: int
    """Voting power a member needs to submit a proposal (> 0: no proposal from zero power)."""
    proposal_deposit: int
    quorum_bp: int
    approval_bp: int
    voting_period: int
    timelock: int
    lock_tiers: tuple[tuple[int, int], ...] = attrs.field(default=((0, BP),), converter=pairs)
    emergency_contacts: tuple[Principal, ...] = attrs.field(default=(), converter=as_tuple)
    description: str = ""
    is_public: bool = True


PARAMS: Final = (
    "name", "description", "minimum_stake", "proposal_threshold", "proposal_deposit",
    "quorum_bp", "approval_bp", "voting_period", "timelock", "lock_tiers", "emergency_contacts",
)  # fmt: skip
"""The config fields an ``UpdateParams`` proposal may change (not the token or visibility)."""


def validate_dao_config(config: object, owner: Principal | None = None) -> tuple[str, ...]:
    """Every reason ``config`` cannot be deployed (for ``owner``, if given); empty if valid."""
    if not isinstance(config, DAOConfig):
        return (f"expected a DAOConfig, got {type(config).__name__}",)
    reasons = [
        problem for problem in (
            None if owner is None else identified_problem(owner, "owner"),
            text_problem("name", config.name, *NAME_LENGTH),
            text_problem("description", config.description, 0, MAX_DESCRIPTION, multiline=True),
        ) if problem
    ]  # fmt: skip
    token: object = config.token
    if not isinstance(token, Principal) or not token.is_canister:
        reasons.append(f"token must be a ledger canister id, got {token!r}")
    # A stake and a deposit are pulled by icrc2_transfer_from: an approval holds at most a u64.
    if not nat_in(config.minimum_stake, 1, U64_MAX):
        reasons.append("minimum_stake must be an int from 1 to 2**64 - 1 (one approval's most)")
    if not nat_in(config.proposal_threshold, 1, MAX_AMOUNT):
        reasons.append("proposal_threshold must be an int from 1 to 2**128 - 1")
    if not nat_in(config.proposal_deposit, 0, U64_MAX):
        reasons.append("proposal_deposit must be an int from 0 to 2**64 - 1 (one approval's most)")
    for field, (low, high) in (("quorum_bp", QUORUM_BP), ("approval_bp", APPROVAL_BP)):
        if not nat_in(getattr(config, field), low, high):
            reasons.append(f"{field} must be an int from {low} to {high}")
    low, high = VOTING_PERIOD
    if not nat_in(config.voting_period, low, high):
        reasons.append(f"voting_period must be an int of ns from {low} (1 h) to {high} (30 days)")
    if not nat_in(config.timelock, 0, MAX_TIMELOCK):
        reasons.append(f"timelock must be an int of ns from 0 to {MAX_TIMELOCK} (30 days)")
    reasons.extend(_tiers_problems(config.lock_tiers))
    reasons.extend(_contacts_problems(config.emergency_contacts))
    is_public: object = config.is_public
    if not isinstance(is_public, bool):
        reasons.append("is_public must be a bool")
    return tuple(reasons)


def _tiers_problems(tiers: object) -> list[str]:
    shape = f"lock_tiers are 1 to {MAX_TIERS} (lock duration ns, multiplier_bp) pairs"
    if not isinstance(tiers, tuple) or not 1 <= len(tiers) <= MAX_TIERS or not all(
        isinstance(tier, tuple) and len(tier) == 2 for tier in tiers
    ):  # fmt: skip
        return [shape]
    low, high = MULTIPLIER_BP
    for duration, multiplier in tiers:
        if not nat_in(duration, 0, MAX_LOCK):
            return [f"a tier's lock duration is an int of ns from 0 to {MAX_LOCK} (8 years)"]
        if not nat_in(multiplier, low, high):
            return [f"a tier's multiplier_bp is an int from {low} to {high}"]
    durations = [duration for duration, _ in tiers]
    multipliers = [multiplier for _, multiplier in tiers]
    if any(a >= b for a, b in itertools.pairwise(durations)):
        return ["lock tier durations must be strictly ascending"]
    if any(a > b for a, b in itertools.pairwise(multipliers)):
        return ["lock_tiers: a longer lock never has a smaller multiplier"]
    return []


def _contacts_problems(contacts: object) -> list[str]:
    if not isinstance(contacts, tuple) or len(contacts) > MAX_EMERGENCY_CONTACTS:
        return [f"emergency_contacts are at most {MAX_EMERGENCY_CONTACTS} principals"]
    for contact in contacts:
        problem = identified_problem(contact, "emergency contact")
        if problem:
            return [problem]
    if len(set(contacts)) != len(contacts):
        return ["emergency_contacts name a principal more than once"]
    return []


def multiplier_for(tiers: tuple[tuple[int, int], ...], lock: int) -> int | None:
    """The multiplier (bp) of the largest tier whose duration ≤ ``lock``; ``None`` if ``lock``
    is shorter than every tier."""
    found = None
    for duration, multiplier in tiers:
        if duration > lock:
            break
        found = multiplier
    return found


def voting_power(amount: int, multiplier_bp: int) -> int:
    """A stake's voting power: ``amount · multiplier_bp // BP`` (exact integers)."""
    return amount * multiplier_bp // BP
