"""Records of the DAO: stakes, proposals and their actions, the state, reads and errors."""

from __future__ import annotations

import enum
from typing import Any, Final, TypeAlias

import attrs
import immutables

from icto.dao.voting import Choice, Power, Tally
from icto.ic.account import Account
from icto.ic.principal import Principal
from icto.validation import NotIdentified, as_tuple, pairs

MEMBER: Final = "member"
"""The role the DAO Factory indexes: a principal with at least one active stake."""

STAKING_SUBACCOUNT: Final = bytes(31) + b"\x01"
"""Where stakes are held: its balance is exactly the sum of the active stakes."""
DEPOSITS_SUBACCOUNT: Final = bytes(31) + b"\x02"
"""Where proposal deposits are held until returned (forfeited ones stay)."""
TREASURY_SUBACCOUNT: Final = None
"""The treasury is the DAO's default account: anyone funds it by sending to the DAO's id."""


# -- proposal actions -----------------------------------------------------------------------------


@attrs.frozen
class Motion:
    """A statement to vote on; executing it changes nothing."""

    text: str


@attrs.frozen
class TreasuryTransfer:
    """Send ``amount`` of ``ledger``'s token from the treasury to ``to``; the treasury pays the
    ledger fee, so ``to`` receives exactly ``amount``."""

    ledger: Principal
    to: Account
    amount: int
    memo: bytes | None = None


@attrs.frozen(kw_only=True)
class UpdateParams:
    """Change the named parameters (``None``: unchanged). Checked at submission and again at
    execution by ``validate_dao_config`` on the config it would produce."""

    name: str | None = None
    description: str | None = None
    minimum_stake: int | None = None
    proposal_threshold: int | None = None
    proposal_deposit: int | None = None
    quorum_bp: int | None = None
    approval_bp: int | None = None
    voting_period: int | None = None
    timelock: int | None = None
    lock_tiers: tuple[tuple[int, int], ...] | None = attrs.field(default=None, converter=pairs)
    emergency_contacts: tuple[Principal, ...] | None = attrs.field(default=None, converter=as_tuple)

    def changes(self) -> dict[str, Any]:
        return {
            field.name: value for field in attrs.fields(UpdateParams)
            if (value := getattr(self, field.name)) is not None
        }  # fmt: skip


@attrs.frozen
class EmergencyPause:
    """Pause staking, proposing, voting and executing (except unpausing)."""


@attrs.frozen
class EmergencyUnpause:
    """Lift a pause; proposing, voting on and executing this one always works."""


Action: TypeAlias = Motion | TreasuryTransfer | UpdateParams | EmergencyPause | EmergencyUnpause
ACTIONS: Final = (Motion, TreasuryTransfer, UpdateParams, EmergencyPause, EmergencyUnpause)


# -- stakes and proposals -------------------------------------------------------------------------


@attrs.frozen
class Stake:
    """Tokens locked in the staking subaccount; ``power`` = amount x the tier's multiplier."""

    id: int
    owner: Principal
    amount: int
    power: int
    multiplier_bp: int
    staked_at: int
    unlocks_at: int


class ProposalStatus(enum.StrEnum):
    """Open → Accepted (timelock) → Executing → Executed | Failed; Open → Rejected."""

    OPEN = "Open"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    EXECUTING = "Executing"
    EXECUTED = "Executed"
    FAILED = "Failed"


class DepositStatus(enum.StrEnum):
    """None (no deposit) · Held · Returning (its return is sent and not settled; left in doubt,
    ``return_deposit`` sends the same request again) · Returned (deposit - fee) · Forfeited
    (rejected with quorum, or not above the fee) · Owed (a return the ledger refused;
    ``return_deposit`` retries)."""

    NONE = "None"
    HELD = "Held"
    RETURNING = "Returning"
    RETURNED = "Returned"
    FORFEITED = "Forfeited"
    OWED = "Owed"


@attrs.frozen
class Proposal:
    """A proposal with the parameters it was submitted under and its ``snapshot``: the voting
    power as it was then (a reference, not a copy)."""

    id: int
    proposer: Principal
    action: Action
    submitted_at: int
    ends_at: int
    quorum_bp: int
    approval_bp: int
    timelock: int
    deposit: int
    snapshot: Power
    tally: Tally = Tally()
    status: ProposalStatus = ProposalStatus.OPEN
    executable_at: int | None = None
    decided_at: int | None = None
    executed_at: int | None = None
    outcome: str | None = None
    """Why it failed, or what its execution did."""
    deposit_status: DepositStatus = DepositStatus.HELD
    timer: int | None = None


# -- ledger requests ------------------------------------------------------------------------------


@attrs.frozen
class StakePull:
    """A stake's ``icrc2_transfer_from``: the stake is recorded (its lock starting then) once
    the pull is known to have landed."""

    lock_duration: int
    multiplier_bp: int


@attrs.frozen
class DepositPull:
    """A proposal's deposit pull: the proposal is opened, with the snapshot and parameters
    checked before the pull, once the deposit is known to have landed."""

    action: Action
    snapshot: Power
    config: Any


@attrs.frozen
class StakePayout:
    """An unstake's payout: the stake left the records before it was sent and comes back only
    if the transfer never ran. ``notified``: the DAO's notification count when it was sent;
    ``closed``: the owner's exit (if it was its last stake) has been handled."""

    stake: Stake
    notified: int
    closed: bool = False


@attrs.frozen
class DepositReturn:
    """A deposit's return (counted as returned from before it was sent)."""

    proposal_id: int


@attrs.frozen
class TreasuryPayout:
    """An executed ``TreasuryTransfer``: ``debit`` (amount + fee) is counted as paid from
    before it was sent."""

    proposal_id: int
    debit: int


Purpose: TypeAlias = StakePull | DepositPull | StakePayout | DepositReturn | TreasuryPayout


@attrs.frozen
class LedgerRequest:
    """A ledger request of the DAO's, journalled with its exact arguments (a unique memo and
    ``created_at_time``) from before it is sent until its outcome is applied, so that sending
    it again is answered ``Duplicate`` if it ran, never run twice."""

    ledger: Principal
    args: Any
    """The ``TransferArgs`` or ``TransferFromArgs`` sent."""
    purpose: Purpose
    settle_from: int
    """When another message may send it again: at once if its outcome was left in doubt (or
    after an upgrade); ``AWAIT_GIVEN_UP_NS`` after a message sent it (it may await the reply
    until then)."""


@attrs.frozen
class DAOState:
    meta: Any
    config: Any
    power: Power = Power()
    stakes: immutables.Map[int, Stake] = immutables.Map()
    stakes_by_owner: immutables.Map[Principal, Any] = immutables.Map()
    """Owner → ``SortedSet`` of its active stake ids."""
    next_stake: int = 0
    proposals: Any = None
    """``Vector`` of every proposal, by id."""
    by_status: immutables.Map[ProposalStatus, Any] = immutables.Map()
    """Status → ``SortedSet`` of proposal ids."""
    paused: bool = False
    staked: int = 0
    """Σ amount of the active stakes (the staking subaccount's balance)."""
    deposits_held: int = 0
    forfeited: int = 0
    treasury_paid: immutables.Map[Principal, int] = immutables.Map()
    """Per ledger: what executed transfers took from the treasury, fees included (one in doubt
    counts)."""
    nonce: int = 0
    """Numbers the DAO's ledger requests (their memos)."""
    treasury_sent_at: int = 0
    """The latest treasury transfer's ``created_at_time``: each is later than the one before,
    so two identical transfers (a proposal may name the memo) are never taken for one."""
    requests: immutables.Map[int, LedgerRequest] = immutables.Map()
    """Ledger requests sent and not settled, by nonce."""


# -- reads ----------------------------------------------------------------------------------------


@attrs.frozen
class MemberInfo:
    """A principal's stakes and voting power now: ``own`` from its stakes, ``delegated`` to it
    by others, ``effective`` what it would vote with on a proposal submitted now (0 while it
    delegates: its power counts for its delegate unless it votes itself)."""

    user: Principal
    stakes: int
    staked: int
    own: int
    delegated: int
    effective: int
    delegate: Principal | None

    def _repr_html_(self) -> str:
        from icto.ic.html import fields_table

        return fields_table("DAO member", attrs.asdict(self, recurse=False).items())


@attrs.frozen
class TallyView:
    """A proposal's tally against its snapshot, and what the rules make of it so far."""

    proposal_id: int
    status: ProposalStatus
    yes: int
    no: int
    abstain: int
    voters: int
    snapshot_total: int
    quorum_bp: int
    approval_bp: int
    quorum_reached: bool
    approved: bool
    ends_at: int

    def __repr__(self) -> str:
        cast = self.yes + self.no + self.abstain
        share = f"{cast * 100 / self.snapshot_total:.2f}%" if self.snapshot_total else "-"
        return (
            f"<Tally #{self.proposal_id} {self.status}: yes {self.yes:,} · no {self.no:,} · "
            f"abstain {self.abstain:,} ({self.voters} voters, {share} of {self.snapshot_total:,}"
            f"; quorum {'reached' if self.quorum_reached else 'not reached'}, "
            f"{'approved' if self.approved else 'not approved'})>"
        )

    def _repr_html_(self) -> str:
        from icto.ic.html import fields_table

        need = self.quorum_bp * self.snapshot_total
        return fields_table(f"Proposal #{self.proposal_id}: {self.status}", (
            ("yes", f"{self.yes:,}"), ("no", f"{self.no:,}"), ("abstain", f"{self.abstain:,}"),
            ("voters", self.voters), ("snapshot power", f"{self.snapshot_total:,}"),
            ("quorum", f"{self.quorum_bp / 100:g}% (needs {-(-need // 10_000):,} cast): "
                       f"{'reached' if self.quorum_reached else 'not reached'}"),
            ("approval", f"{self.approval_bp / 100:g}% of yes + no: "
                         f"{'yes' if self.approved else 'no'}"),
        ))  # fmt: skip


@attrs.frozen
class ProposalInfo:
    """What a reader sees of a proposal (its snapshot stays inside the DAO)."""

    id: int
    proposer: Principal
    action: Action
    status: ProposalStatus
    submitted_at: int
    ends_at: int
    executable_at: int | None
    deposit: int
    deposit_status: DepositStatus
    outcome: str | None
    tally: TallyView

    def _repr_html_(self) -> str:
        from icto.ic.html import Markup, fields_table

        return fields_table(f"Proposal #{self.id}: {type(self.action).__name__}", (
            ("status", self.status), ("proposer", self.proposer), ("action", self.action),
            ("ends at", self.ends_at), ("executable at", self.executable_at),
            ("deposit", f"{self.deposit:,} ({self.deposit_status})"),
            ("outcome", self.outcome), ("tally", Markup(self.tally._repr_html_())),
        ))  # fmt: skip


@attrs.frozen
class Balances:
    """The DAO's accounts on its token's ledger as the ledger reports them, next to what the
    DAO's records say they must hold."""

    treasury: int
    staking: int
    deposits: int
    staked: int
    """Σ active stakes: equals ``staking`` unless someone sends tokens into that subaccount
    directly (the DAO itself never does; nothing can take them out) or a stake's pull or payout
    is not settled yet."""
    deposits_held: int
    forfeited: int


@attrs.frozen
class DAOStats:
    members: int
    stakes: int
    staked: int
    total_power: int
    delegations: int
    proposals: int
    by_status: tuple[tuple[ProposalStatus, int], ...]
    paused: bool


# -- errors ---------------------------------------------------------------------------------------


@attrs.frozen
class InvalidRequest:
    reasons: tuple[str, ...]


@attrs.frozen
class Paused:
    """The DAO is paused: staking, proposing, voting and executing wait (unpausing does not)."""


@attrs.frozen
class UnknownStake:
    stake_id: object


@attrs.frozen
class StillLocked:
    unlocks_at: int


@attrs.frozen
class InsufficientVotingPower:
    have: int
    need: int


@attrs.frozen
class NoVotingPower:
    """The voter had no power at the proposal's snapshot (or voters below it took all of it)."""

    voter: Principal


@attrs.frozen
class AlreadyVoted:
    voter: Principal
    choice: Choice


@attrs.frozen
class UnknownProposal:
    proposal_id: object


@attrs.frozen
class WrongStatus:
    """Not now: the proposal is ``status``; ``needs`` says what it must be."""

    status: ProposalStatus
    needs: str


@attrs.frozen
class NotYet:
    """Too early: possible from ``at`` (ns)."""

    at: int


@attrs.frozen
class NotEmergencyContact:
    caller: Principal


@attrs.frozen
class TransferFailed:
    """The ledger refused: nothing was recorded as moved. Or whether the transfer ran is unknown
    (the reason says so, and what sends the same request again): nothing is put back as if it
    had not."""

    reason: str


DAOError: TypeAlias = (
    NotIdentified | InvalidRequest | Paused | UnknownStake | StillLocked
    | InsufficientVotingPower | NoVotingPower | AlreadyVoted | UnknownProposal | WrongStatus
    | NotYet | NotEmergencyContact | TransferFailed
)  # fmt: skip
