"""Records of the multisig wallet: proposal kinds, proposals, events, reads and errors."""

from __future__ import annotations

import enum
from typing import Any, TypeAlias

import attrs
import immutables

from icto.collections import SortedSet
from icto.ic.account import Account
from icto.ic.principal import Principal
from icto.multisig.config import Kind, Role

SIGNER = "signer"
OBSERVER = "observer"
"""The roles the Multisig Factory indexes: Owners and Signers are ``signer``."""

MAX_BATCH = 100
MAX_MEMO_BYTES = 32


# -- what a proposal asks for ---------------------------------------------------------------------


@attrs.frozen
class Transfer:
    """Send exactly ``amount`` of ``ledger``'s token to ``to``; the wallet pays the ledger fee."""

    ledger: Principal
    to: Account
    amount: int
    memo: bytes | None = None

    KIND = Kind.TRANSFER


@attrs.frozen
class BatchTransfer:
    """Up to ``MAX_BATCH`` transfers, executed in order, each outcome recorded."""

    transfers: tuple[Transfer, ...]

    KIND = Kind.BATCH_TRANSFER


@attrs.frozen
class AddSigner:
    principal: Principal
    role: Role = Role.SIGNER

    KIND = Kind.ADD_SIGNER


@attrs.frozen
class RemoveSigner:
    principal: Principal

    KIND = Kind.REMOVE_SIGNER


@attrs.frozen
class ChangeRole:
    principal: Principal
    role: Role

    KIND = Kind.CHANGE_ROLE


@attrs.frozen
class ChangeThreshold:
    threshold: int

    KIND = Kind.CHANGE_THRESHOLD


@attrs.frozen
class AddObserver:
    principal: Principal

    KIND = Kind.ADD_OBSERVER


@attrs.frozen
class RemoveObserver:
    principal: Principal

    KIND = Kind.REMOVE_OBSERVER


@attrs.frozen
class ChangeVisibility:
    is_public: bool

    KIND = Kind.CHANGE_VISIBILITY


@attrs.frozen
class SetPolicy:
    """Raise the threshold for one kind of proposal (``None``: back to the wallet's threshold)."""

    kind: Kind
    threshold: int | None

    KIND = Kind.SET_POLICY


@attrs.frozen
class SetDailyLimit:
    """Limit transfers from ``ledger`` per 24 h of IC time (``None``: no limit)."""

    ledger: Principal
    amount: int | None

    KIND = Kind.SET_DAILY_LIMIT


@attrs.frozen
class Freeze:
    """Stop executing anything but ``Unfreeze``."""

    KIND = Kind.FREEZE


@attrs.frozen
class Unfreeze:
    KIND = Kind.UNFREEZE


Action: TypeAlias = (
    Transfer | BatchTransfer | AddSigner | RemoveSigner | ChangeRole | ChangeThreshold
    | AddObserver | RemoveObserver | ChangeVisibility | SetPolicy | SetDailyLimit | Freeze
    | Unfreeze
)  # fmt: skip
ACTIONS: tuple[type, ...] = (
    Transfer, BatchTransfer, AddSigner, RemoveSigner, ChangeRole, ChangeThreshold, AddObserver,
    RemoveObserver, ChangeVisibility, SetPolicy, SetDailyLimit, Freeze, Unfreeze,
)  # fmt: skip


# -- proposals ------------------------------------------------------------------------------------


class Status(enum.StrEnum):
    """Pending → Approved (threshold reached) → Executable (timelock passed) → Executed | Failed;
    Rejected when the threshold can no longer be reached; Expired past the lifetime. Executed,
    Failed, Rejected and Expired are final. Executing: a transfer's outcome is in doubt (see
    ``TransferOutcome.in_doubt``); executing the proposal again settles it. Only Pending,
    Approved and Executable take votes."""

    PENDING = "Pending"
    APPROVED = "Approved"
    EXECUTABLE = "Executable"
    EXECUTING = "Executing"
    EXECUTED = "Executed"
    FAILED = "Failed"
    REJECTED = "Rejected"
    EXPIRED = "Expired"

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = frozenset({Status.EXECUTED, Status.FAILED, Status.REJECTED, Status.EXPIRED})
OPEN = frozenset({Status.PENDING, Status.APPROVED, Status.EXECUTABLE})


@attrs.frozen
class TransferOutcome:
    """One transfer of an executed proposal: its ledger block, or the ledger's error; or, while
    ``in_doubt``, neither yet.

    Each transfer is one ledger request, the same every time it is sent: its memo (the
    transfer's own, or one numbered by the proposal and the transfer's place in it) and
    ``created_at``. A ledger can commit a transfer and then fail, so a reject does not prove that
    nothing moved: such a transfer stays in doubt, still counted against the daily limit, until
    the identical request is answered (the ledger runs it, or answers ``Duplicate`` with the
    block of the first) or the ledger's log says whether it ran."""

    transfer: Transfer
    block: int | None
    error: Any = None
    created_at: int | None = None
    """The ``created_at_time`` of the transfer's ledger request."""
    in_doubt: bool = False
    sent_at: int | None = None
    """When a message last sent the request and has not had the answer yet: another message
    leaves it to that one while it may still await it (see ``MultisigWallet._being_sent``)."""


@attrs.frozen
class Proposal:
    """A proposal as the wallet keeps it. ``approvals`` and ``rejections`` are the votes cast
    (an approval of a signer removed since stops counting), sorted by principal so that they
    read the same in every process; ``threshold`` is what it needed when created (execution
    checks the wallet's policy as it is then)."""

    id: int
    action: Action
    proposer: Principal
    description: str
    created_at: int
    expires_at: int
    status: Status
    threshold: int
    approvals: SortedSet[Principal]
    rejections: SortedSet[Principal] = SortedSet()
    approved_at: int | None = None
    finished_at: int | None = None
    executed_by: Principal | None = None
    failure: str | None = None
    outcomes: tuple[TransferOutcome, ...] = ()

    @property
    def kind(self) -> Kind:
        return self.action.KIND


@attrs.frozen
class WalletEvent:
    """One line of the wallet's history."""

    at: int
    kind: str
    by: Principal | None
    proposal_id: int | None = None
    detail: str = ""


@attrs.frozen
class WalletInfo:
    name: str
    description: str
    owner: Principal
    members: tuple[tuple[Principal, Role], ...]
    threshold: int
    timelock: int
    lifetime: int
    policies: tuple[tuple[Kind, int], ...]
    daily_limits: tuple[tuple[Principal, int, int], ...]
    """(ledger, limit, spent in the current 24 h window)."""
    frozen: bool
    is_public: bool
    proposals: int
    by_status: tuple[tuple[Status, int], ...]


@attrs.frozen
class LedgerBalance:
    """The wallet's balance on one ledger, or why the ledger did not give it (it rejected the
    query, or answered something that is not an amount)."""

    ledger: Principal
    balance: int | None
    error: str | None = None


@attrs.frozen
class Spent:
    """What left the wallet from one ledger in the 24 h window ``window`` (``now // day``)."""

    window: int
    amount: int


@attrs.frozen
class Members:
    """The wallet's members and their roles, with the count of voters kept alongside."""

    roles: immutables.Map[Principal, Role]
    voters: int

    def role(self, principal: Principal) -> Role | None:
        return self.roles.get(principal)

    def votes(self, principal: Principal) -> bool:
        role = self.roles.get(principal)
        return role is not None and role.votes

    def owners(self) -> int:
        return sum(1 for role in self.roles.values() if role is Role.OWNER)

    def with_role(self, principal: Principal, role: Role | None) -> Members:
        before = self.roles.get(principal)
        roles = self.roles.delete(principal) if role is None else self.roles.set(principal, role)
        change = int(role is not None and role.votes) - int(before is not None and before.votes)
        return Members(roles, self.voters + change)


# -- errors -----------------------------------------------------------------------------------


@attrs.frozen
class NotASigner:
    """Only an Owner or a Signer may do this."""

    caller: Principal


@attrs.frozen
class UnknownProposal:
    proposal_id: object


@attrs.frozen
class AlreadyVoted:
    proposal_id: int


@attrs.frozen
class ProposalClosed:
    """The proposal is final (or, for a vote, no longer open)."""

    proposal_id: int
    status: Status


@attrs.frozen
class InvalidProposal:
    """The proposal cannot be made against the wallet as it is: every reason."""

    reasons: tuple[str, ...]


@attrs.frozen
class NotExecutable:
    """Not yet: still pending, or in its timelock until ``executable_at``."""

    proposal_id: int
    status: Status
    executable_at: int | None = None


@attrs.frozen
class NotEnoughApprovals:
    """Approvals of current voters no longer reach the policy's threshold (a signer left or the
    threshold rose); more approvals may still come."""

    proposal_id: int
    approvals: int
    required: int


MultisigError: TypeAlias = (
    NotASigner | UnknownProposal | AlreadyVoted | ProposalClosed | InvalidProposal
    | NotExecutable | NotEnoughApprovals
)  # fmt: skip


@attrs.frozen
class WalletState:
    """Everything a wallet keeps. Proposal ``i`` is ``proposals[i]``; ``by_status`` indexes their
    ids; ``deadlines`` holds (time, id) of each open proposal's next time-driven change (timelock
    end or expiry), which one timer, set for the earliest, carries out at its instant."""

    meta: Any
    name: str
    description: str
    members: Members
    threshold: int
    timelock: int
    lifetime: int
    policies: immutables.Map[Kind, int]
    limits: immutables.Map[Principal, int]
    spent: immutables.Map[Principal, Spent]
    frozen: bool
    proposals: Any
    by_status: immutables.Map[Status, Any]
    deadlines: Any
    events: Any
    timer: tuple[int, int] | None = None
    wallet: Principal | None = None
    """The wallet's own id: it can never vote, so it never becomes a member."""
    requested_at: int = 0
    """The ``created_at_time`` of the wallet's latest ledger request. Each request's is later,
    so no two are the same transaction to a ledger, whatever their memos."""
