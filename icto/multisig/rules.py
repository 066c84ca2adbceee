"""The wallet's rules as pure functions of its state: how many approvals a kind of proposal
needs, whether a proposal may be made (or executed) against the wallet as it is, and how much a
ledger's daily limit has left. The wallet checks a proposal with the same function when it is
created and again when it is executed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from icto.ic.account import Account
from icto.ic.principal import Principal
from icto.multisig.config import MAX_AMOUNT, MAX_DAILY_LIMITS, MAX_MEMBERS, Kind, Role
from icto.multisig.types import (
    MAX_BATCH,
    MAX_MEMO_BYTES,
    Action,
    AddObserver,
    AddSigner,
    BatchTransfer,
    ChangeRole,
    ChangeThreshold,
    ChangeVisibility,
    Freeze,
    Members,
    Proposal,
    RemoveObserver,
    RemoveSigner,
    SetDailyLimit,
    SetPolicy,
    Spent,
    Transfer,
    Unfreeze,
    WalletState,
)
from icto.validation import identified_problem, is_nat

DAY_NS: Final = 24 * 3600 * 10**9


def required(state: WalletState, action: Action) -> int:
    """Approvals a proposal of ``action`` needs now: the threshold, raised by the policy of each
    kind of change it makes (``kinds_of``)."""
    policies = state.policies
    return max(state.threshold, *(policies.get(kind, 0) for kind in kinds_of(action)))


def kinds_of(action: Action) -> tuple[Kind, ...]:
    """The kinds of change ``action`` makes: its own, and for a batch the transfers it is, for
    a role change the signer it adds or removes, for a policy change the kind whose policy it
    changes (a policy cannot be lowered with fewer approvals than it asks). So no policy can be
    gone around by another kind of proposal."""
    kind = action.KIND
    if kind is Kind.BATCH_TRANSFER:
        return (kind, Kind.TRANSFER)
    if kind is Kind.CHANGE_ROLE:
        return (kind, Kind.ADD_SIGNER, Kind.REMOVE_SIGNER)
    changed: object = getattr(action, "kind", None)
    if kind is Kind.SET_POLICY and isinstance(changed, Kind):
        return (kind, changed)
    return (kind,)


def counted(votes: Iterable[Principal], members: Members) -> int:
    """Votes of principals who vote now (a removed signer's vote stops counting)."""
    return sum(1 for principal in votes if members.votes(principal))


def reachable(state: WalletState, proposal: Proposal) -> bool:
    """Whether enough voters are left who have not rejected to reach the threshold."""
    return state.members.voters - counted(proposal.rejections, state.members) >= required(
        state, proposal.action
    )


def window(now: int) -> int:
    return now // DAY_NS


def spent_today(spent: Spent | None, now: int) -> int:
    return spent.amount if spent is not None and spent.window == window(now) else 0


def limit_problem(state: WalletState, transfers: tuple[Transfer, ...], now: int) -> str | None:
    """Why these transfers would pass a ledger's daily limit in the current 24 h window."""
    totals: dict[Principal, int] = {}
    for transfer in transfers:
        totals[transfer.ledger] = totals.get(transfer.ledger, 0) + transfer.amount
    for ledger, total in totals.items():
        limit = state.limits.get(ledger)
        if limit is None:
            continue
        used = spent_today(state.spent.get(ledger), now)
        if used + total > limit:
            return f"the daily limit of {ledger} is {limit}; {used} spent today, {total} more asked"
    return None


def action_problems(state: WalletState, action: object) -> tuple[str, ...]:
    """Every reason ``action`` cannot be proposed or executed against the wallet as it is."""
    check = _CHECKS.get(type(action))
    if check is None:
        return (f"unknown proposal kind {type(action).__name__}",)
    return tuple(check(state, action))


def _transfer(_: WalletState, transfer: Transfer) -> list[str]:
    problems = []
    ledger: object = transfer.ledger
    if not isinstance(ledger, Principal) or not ledger.is_canister:
        problems.append(f"a transfer names a ledger canister, got {ledger!r}")
    to: object = transfer.to
    if not isinstance(to, Account):
        problems.append(f"a transfer goes to an Account, got {type(to).__name__}")
    elif (problem := identified_problem(to.owner, "recipient")) is not None:
        problems.append(problem)
    if not is_nat(transfer.amount) or not 0 < transfer.amount <= MAX_AMOUNT:
        problems.append("a transfer amount is an int from 1 to 2**128 - 1")
    memo: object = transfer.memo
    if memo is not None and not (memo.__class__ is bytes and len(memo) <= MAX_MEMO_BYTES):
        problems.append(f"a memo is None or at most {MAX_MEMO_BYTES} bytes")
    return problems


def _batch(state: WalletState, batch: BatchTransfer) -> list[str]:
    transfers: object = batch.transfers
    if not isinstance(transfers, tuple) or not 1 <= len(transfers) <= MAX_BATCH:
        size = len(transfers) if isinstance(transfers, tuple) else type(transfers).__name__
        return [f"a batch holds 1 to {MAX_BATCH} transfers, got {size}"]
    if not all(isinstance(transfer, Transfer) for transfer in transfers):
        return ["a batch holds Transfer records"]
    return [f"transfer {i}: {p}" for i, t in enumerate(transfers) for p in _transfer(state, t)]


def _newcomer(state: WalletState, principal: object) -> list[str]:
    problem = identified_problem(principal, "member")
    if problem:
        return [problem]
    assert isinstance(principal, Principal)
    if principal in (state.wallet, state.meta.factory):
        return [f"{principal} is the wallet or its factory: it can never vote"]
    if state.members.role(principal) is not None:
        return [f"{principal} is already a member; use ChangeRole"]
    if len(state.members.roles) >= MAX_MEMBERS:
        return [f"a wallet has at most {MAX_MEMBERS} members"]
    return []


def _after(state: WalletState, principal: Principal, role: Role | None) -> list[str]:
    """What the wallet would break if ``principal`` had ``role`` (``None``: left)."""
    members = state.members.with_role(principal, role)
    problems = []
    if members.owners() == 0:
        problems.append("the last Owner cannot go")
    highest = max([state.threshold, *state.policies.values()])
    if members.voters < highest:
        problems.append(
            f"{members.voters} voters would be left, fewer than the threshold or a policy "
            f"({highest})"
        )
    return problems


def _add_signer(state: WalletState, action: AddSigner) -> list[str]:
    problems = _newcomer(state, action.principal)
    if not isinstance(action.role, Role) or not action.role.votes:
        problems.append("a signer is added as Owner or Signer (observers: AddObserver)")
    return problems


def _remove_signer(state: WalletState, action: RemoveSigner) -> list[str]:
    if not isinstance(action.principal, Principal) or not state.members.votes(action.principal):
        return [f"{action.principal!r} is not an Owner or Signer of this wallet"]
    return _after(state, action.principal, None)


def _change_role(state: WalletState, action: ChangeRole) -> list[str]:
    current = state.members.role(action.principal) if isinstance(
        action.principal, Principal) else None  # fmt: skip
    if current is None:
        return [f"{action.principal!r} is not a member of this wallet"]
    role: object = action.role
    if not isinstance(role, Role):
        return [f"a role is a Role, got {role!r}"]
    if action.role is current:
        return [f"{action.principal} already has the {current} role"]
    return _after(state, action.principal, action.role)


def _change_threshold(state: WalletState, action: ChangeThreshold) -> list[str]:
    voters = state.members.voters
    threshold: object = action.threshold
    if not isinstance(threshold, int) or not is_nat(threshold) or not 1 <= threshold <= voters:
        return [f"a threshold is an int from 1 to the {voters} voters"]
    if action.threshold == state.threshold:
        return [f"the threshold is {state.threshold} already"]
    return []


def _add_observer(state: WalletState, action: AddObserver) -> list[str]:
    return _newcomer(state, action.principal)


def _remove_observer(state: WalletState, action: RemoveObserver) -> list[str]:
    principal = action.principal
    if not isinstance(principal, Principal) or state.members.role(principal) is not Role.OBSERVER:
        return [f"{principal!r} is not an observer of this wallet"]
    return []


def _change_visibility(state: WalletState, action: ChangeVisibility) -> list[str]:
    is_public: object = action.is_public
    if not isinstance(is_public, bool):
        return ["is_public must be a bool"]
    if action.is_public == state.meta.is_public:
        return [f"the wallet is {'public' if action.is_public else 'private'} already"]
    return []


def _set_policy(state: WalletState, action: SetPolicy) -> list[str]:
    kind: object = action.kind
    if not isinstance(kind, Kind):
        return [f"a policy names a Kind, got {kind!r}"]
    voters = state.members.voters
    threshold: object = action.threshold
    if threshold is not None and not (
        isinstance(threshold, int) and is_nat(threshold) and 1 <= threshold <= voters
    ):
        return [f"a policy threshold is None or an int from 1 to the {voters} voters"]
    if state.policies.get(action.kind) == action.threshold:
        return [f"the policy of {action.kind} is {action.threshold} already"]
    return []


def _set_daily_limit(state: WalletState, action: SetDailyLimit) -> list[str]:
    ledger: object = action.ledger
    if not isinstance(ledger, Principal) or not ledger.is_canister:
        return [f"a daily limit names a ledger canister, got {ledger!r}"]
    amount: object = action.amount
    if amount is not None and not (
        isinstance(amount, int) and is_nat(amount) and 0 < amount <= MAX_AMOUNT
    ):
        return ["a daily limit is None or an int from 1 to 2**128 - 1"]
    if state.limits.get(action.ledger) == action.amount:
        return [f"the daily limit of {action.ledger} is {action.amount} already"]
    if amount is not None and ledger not in state.limits and len(state.limits) >= MAX_DAILY_LIMITS:
        return [f"at most {MAX_DAILY_LIMITS} daily limits (one per ledger)"]
    return []


def _freeze(state: WalletState, _: Freeze) -> list[str]:
    return ["the wallet is frozen already"] if state.frozen else []


def _unfreeze(state: WalletState, _: Unfreeze) -> list[str]:
    return [] if state.frozen else ["the wallet is not frozen"]


_CHECKS: Final[dict[type, Callable[[WalletState, Any], list[str]]]] = {
    Transfer: _transfer, BatchTransfer: _batch, AddSigner: _add_signer,
    RemoveSigner: _remove_signer, ChangeRole: _change_role, ChangeThreshold: _change_threshold,
    AddObserver: _add_observer, RemoveObserver: _remove_observer,
    ChangeVisibility: _change_visibility, SetPolicy: _set_policy,
    SetDailyLimit: _set_daily_limit, Freeze: _freeze, Unfreeze: _unfreeze,
}  # fmt: skip


def transfers_of(action: Action) -> tuple[Transfer, ...]:
    if isinstance(action, Transfer):
        return (action,)
    if isinstance(action, BatchTransfer):
        return action.transfers
    return ()
