"""``MultisigConfig`` and the one function that says whether it is valid (the backend, before any
payment, and the Multisig Factory, before deploying, both call ``validate_multisig_config``)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final

import attrs

from icto.ic.principal import Principal
from icto.validation import identified_problem, is_nat, pairs, text_problem

NS_PER_DAY: Final = 24 * 3600 * 10**9
NAME_LENGTH: Final = (1, 100)
MAX_DESCRIPTION: Final = 1000
MAX_MEMBERS: Final = 50
MAX_LIFETIME_NS: Final = 30 * NS_PER_DAY
DEFAULT_LIFETIME_NS: Final = 7 * NS_PER_DAY
MAX_AMOUNT: Final = 2**128 - 1
"""The largest amount a transfer or a daily limit may name (ICRC amounts are nats; a ledger
refuses what it cannot hold)."""
MAX_DAILY_LIMITS: Final = 20
"""Ledgers a wallet may cap per day (as many as ``get_balances`` reads at once)."""


class Role(enum.StrEnum):
    """Owners and signers vote (``signer`` in the factory's index); observers only read."""

    OWNER = "Owner"
    SIGNER = "Signer"
    OBSERVER = "Observer"

    @property
    def votes(self) -> bool:
        return self is not Role.OBSERVER


class Kind(enum.StrEnum):
    """The proposal kinds, by the name a policy names them with."""

    TRANSFER = "Transfer"
    BATCH_TRANSFER = "BatchTransfer"
    ADD_SIGNER = "AddSigner"
    REMOVE_SIGNER = "RemoveSigner"
    CHANGE_ROLE = "ChangeRole"
    CHANGE_THRESHOLD = "ChangeThreshold"
    ADD_OBSERVER = "AddObserver"
    REMOVE_OBSERVER = "RemoveObserver"
    CHANGE_VISIBILITY = "ChangeVisibility"
    SET_POLICY = "SetPolicy"
    SET_DAILY_LIMIT = "SetDailyLimit"
    FREEZE = "Freeze"
    UNFREEZE = "Unfreeze"


@attrs.frozen(kw_only=True)
class MultisigConfig:
    """What a user asks the Multisig Factory to deploy.

    ``members``: (principal, ``Role``) pairs, the deploying user among them as an Owner.
    ``threshold``: approvals a proposal needs, 1 to the number of Owners and Signers.
    ``policies``: (``Kind``, threshold) pairs that *raise* the threshold for one kind of proposal
    (e.g. 3 of 3 to change signers while transfers take 2 of 3); a policy never lowers it.
    ``daily_limits``: (ledger, amount) pairs: transfers from that ledger may not exceed the amount
    per 24 h window of IC time. Times are in nanoseconds. Building one never fails on values;
    ``validate_multisig_config`` lists what is wrong.
    """

    name: str
    members: tuple[tuple[Principal, Role], ...] = attrs.field(converter=pairs)
    threshold: int
    timelock: int = 0
    lifetime: int = DEFAULT_LIFETIME_NS
    policies: tuple[tuple[Kind, int], ...] = attrs.field(default=(), converter=pairs)
    daily_limits: tuple[tuple[Principal, int], ...] = attrs.field(default=(), converter=pairs)
    is_public: bool = False
    description: str = ""

    @property
    def voters(self) -> int:
        return sum(1 for _, role in self.members if isinstance(role, Role) and role.votes)


def validate_multisig_config(
    config: object, owner: Principal | None = None, *, never_vote: Iterable[Principal] = ()
) -> tuple[str, ...]:
    """Every reason ``config`` cannot be deployed (for ``owner``, if given); empty if valid.
    ``never_vote``: canisters that can never approve, so can never be members: the Multisig
    Factory (it refuses a config naming it) and, once installed, the wallet itself (its
    installation checks both)."""
    if not isinstance(config, MultisigConfig):
        return (f"expected a MultisigConfig, got {type(config).__name__}",)
    reasons = [
        problem for problem in (
            None if owner is None else identified_problem(owner, "owner"),
            text_problem("name", config.name, *NAME_LENGTH),
            text_problem("description", config.description, 0, MAX_DESCRIPTION, multiline=True),
        ) if problem
    ]  # fmt: skip
    members = _member_problems(config.members, owner, frozenset(never_vote))
    reasons.extend(members)
    voters = config.voters if not members else MAX_MEMBERS
    if not is_nat(config.threshold) or not 1 <= config.threshold <= voters:
        reasons.append(f"threshold must be an int from 1 to the {voters} owners and signers")
    if not is_nat(config.timelock):
        reasons.append("timelock must be an int of nanoseconds >= 0")
    if not is_nat(config.lifetime) or not 0 < config.lifetime <= MAX_LIFETIME_NS:
        reasons.append(f"lifetime must be an int of nanoseconds from 1 to {MAX_LIFETIME_NS}")
    elif is_nat(config.timelock) and config.timelock >= config.lifetime:
        reasons.append(
            "timelock must be shorter than lifetime: a proposal expires before its timelock ends"
        )
    reasons.extend(policy_problems(config.policies, voters))
    reasons.extend(limit_problems(config.daily_limits))
    is_public: object = config.is_public
    if not isinstance(is_public, bool):
        reasons.append("is_public must be a bool")
    return tuple(reasons)


def _member_problems(
    members: object, owner: Principal | None, never_vote: frozenset[Principal]
) -> list[str]:
    if not isinstance(members, tuple) or not all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in members
    ):
        return ["members must be (Principal, Role) pairs"]
    if not 1 <= len(members) <= MAX_MEMBERS:
        return [f"a wallet has 1 to {MAX_MEMBERS} members, got {len(members)}"]
    problems = []
    for principal, role in members:
        problem = identified_problem(principal, "member")
        if problem:
            problems.append(problem)
        elif principal in never_vote:
            problems.append(f"{principal} is the wallet or its factory: it can never vote")
        if not isinstance(role, Role):
            problems.append(f"a member's role is a Role, got {role!r}")
    if _repeats(principal for principal, _ in members):
        problems.append("members name a principal more than once")
    roles = dict(members) if not problems else {}
    if not problems and not any(role is Role.OWNER for role in roles.values()):
        problems.append("a wallet needs at least one Owner")
    if owner is not None and not problems and roles.get(owner) is not Role.OWNER:
        problems.append("the deploying user must be a member with the Owner role")
    return problems


def policy_problems(policies: object, voters: int) -> list[str]:
    """What is wrong with (``Kind``, threshold) policies for a wallet of ``voters`` voters."""
    if not isinstance(policies, tuple) or not all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in policies
    ):
        return ["policies must be (Kind, threshold) pairs"]
    problems = []
    for kind, threshold in policies:
        if not isinstance(kind, Kind):
            problems.append(f"a policy names a Kind, got {kind!r}")
        if not is_nat(threshold) or not 1 <= threshold <= voters:
            problems.append(f"a policy threshold is an int from 1 to the {voters} voters")
    if _repeats(kind for kind, _ in policies):
        problems.append("policies name a kind more than once")
    return problems


def limit_problems(limits: object) -> list[str]:
    """What is wrong with (ledger, amount) daily limits."""
    if not isinstance(limits, tuple) or not all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in limits
    ):
        return ["daily_limits must be (ledger, amount) pairs"]
    if len(limits) > MAX_DAILY_LIMITS:
        return [f"at most {MAX_DAILY_LIMITS} daily limits (one per ledger)"]
    problems = []
    for ledger, amount in limits:
        if not isinstance(ledger, Principal) or not ledger.is_canister:
            problems.append(f"a daily limit names a ledger canister, got {ledger!r}")
        if not is_nat(amount) or not 0 < amount <= MAX_AMOUNT:
            problems.append("a daily limit is an int from 1 to 2**128 - 1")
    if _repeats(ledger for ledger, _ in limits):
        problems.append("daily_limits name a ledger more than once")
    return problems


def _repeats(keys: Iterable[object]) -> bool:
    """Whether a key stands twice among ``keys`` (keys of the wrong type are reported
    elsewhere; here only principals and kinds are compared)."""
    seen = [key for key in keys if isinstance(key, Principal | Kind)]
    return len(set(seen)) != len(seen)
