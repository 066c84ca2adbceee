"""Records of the distribution contract: its state, participants, claims, reads and errors."""

from __future__ import annotations

import enum
from typing import Any, ClassVar, TypeAlias

import attrs
import immutables

from icto.ic.principal import Principal

RECIPIENT = "recipient"
"""The role the Distribution Factory indexes."""


class Phase(enum.StrEnum):
    """Created → Funded → Active (from start) → Completed (from the end); Paused from Active;
    Cancelled (if cancellable) from any phase but Completed."""

    CREATED = "Created"
    FUNDED = "Funded"
    ACTIVE = "Active"
    PAUSED = "Paused"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


@attrs.frozen
class Participant:
    """A recipient: their allocation per category (index → amount) and what they have taken."""

    allocations: immutables.Map[int, int]
    claimed: int = 0
    registered_at: int = 0
    early_unlocked: bool = False

    @property
    def allocation(self) -> int:
        return sum(self.allocations.values())


@attrs.frozen
class Claim:
    """One payout: to whom, how much they received, the fee and who paid it, the ledger block."""

    id: int
    user: Principal
    amount: int
    fee: int
    fee_from_reserve: bool
    """This payout's own ledger fee came from the fee reserve (else out of the claimed amount,
    so ``amount`` is that much less). An early unlock's penalty transfer, if it costs a fee,
    takes it from the reserve only after this one."""
    at: int
    block: int
    kind: str = "claim"


@attrs.frozen
class ClaimPayout:
    """A claim's or an early unlock's payout to ``user``: ``taken`` counted as claimed,
    ``reserve_used`` taken from the fee reserve, ``penalty`` (an early unlock's) held."""

    user: Principal
    taken: int
    reserve_used: int
    fee: int
    from_reserve: bool
    kind: str = "claim"
    penalty: int = 0


@attrs.frozen
class PenaltyPayout:
    """A forfeited amount sent on (to the penalty account, or burned)."""

    amount: int


@attrs.frozen
class OwnerPayout:
    """A transfer back to the owner: a cancel's refund (``status`` the one it cancelled), what
    was unallocated (``registered``: category → amount counted as allocated by it), or the spare
    fee reserve. ``reserve_back``: what the fee reserve gets back if it never ran."""

    status: Phase | None = None
    reserve_back: int = 0
    registered: tuple[tuple[int, int], ...] = ()


@attrs.frozen
class Pull:
    """A pull into the distribution: ``fund``'s (``fee``: the ledger fee it was sized with) or
    a reserve top-up (``fee`` is ``None``)."""

    fee: int | None = None


@attrs.frozen
class LedgerRequest:
    """A ledger request of the distribution's, journalled with its exact arguments (a memo
    numbered by the distribution and a ``created_at_time``) from before it is sent until its
    outcome is known, so that sending it again is answered ``Duplicate`` if it ran, never run
    twice."""

    args: Any
    """The ``TransferArgs`` or ``TransferFromArgs`` sent."""
    purpose: ClaimPayout | PenaltyPayout | OwnerPayout | Pull
    debit: int
    """What it counts in ``outflow`` (0 for a pull), given back if it never ran."""
    settle_from: int
    """When another message may send it again: at once if its outcome was left in doubt (or
    after an upgrade); ``IN_FLIGHT_GIVEN_UP_NS`` after a message sent it."""
    burn: bool = False
    in_flight: bool = False
    """A message sent it and has not heard back (still so if that message trapped, until
    another sends it again): counted in ``pulling`` or ``sending``."""

    @property
    def is_pull(self) -> bool:
        return isinstance(self.purpose, Pull)


@attrs.frozen
class DistributionState:
    """Everything a distribution keeps. ``status`` is what was set (Created, Funded, Paused,
    Cancelled); Active and Completed follow from the time (``phase``)."""

    REMOVED_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"pulling", "sending", "transfer_started_at"}
    )
    """Fields of earlier versions, ignored when a saved world is loaded: the counts are read
    from ``requests`` now."""

    meta: Any
    config: Any
    status: Phase
    fee: int
    reserve: int
    """Tokens kept for payout fees (the balance above what recipients are owed); anyone adds
    to it with ``top_up_reserve``."""
    participants: immutables.Map[Principal, Participant]
    eligible: immutables.Map[Principal, immutables.Map[int, int]]
    """Whitelisted principals who have not registered yet: category → amount."""
    registered: immutables.Map[int, int]
    """Per category, how much has been allocated to recipients so far."""
    counts: immutables.Map[int, int]
    """Per category, how many recipients it has."""
    blacklist: immutables.Map[Principal, None]
    claims: Any
    claims_by_user: immutables.Map[Principal, Any]
    funded: bool = False
    """The total and the fee reserve were there once (by ``fund`` or ``activate``)."""
    outflow: int = 0
    """Everything sent out of the contract's account so far, fees included (counted before
    each transfer, given back if it fails)."""
    total_claimed: int = 0
    total_penalties: int = 0
    pending_penalty: int = 0
    """Forfeited amounts the ledger has not taken yet (``send_penalties``)."""
    penalty_held: int = 0
    """Penalties of early unlocks whose payout is in flight: sent once it is paid, put back
    if it fails, and kept from the owner by a cancel meanwhile."""
    topped_up: int = 0
    """Everything ``top_up_reserve`` has added to the reserve so far."""
    pulls: int = 0
    """Pulls into the distribution started so far (``fund``'s and top-ups'): a balance asked
    while one started or was in flight may or may not hold it."""
    nonce: int = 0
    """Numbers the distribution's ledger requests (their memos)."""
    requests: immutables.Map[int, LedgerRequest] = immutables.Map()
    """Ledger requests sent and not settled, by nonce: a payout left in doubt counts as paid,
    a pull in doubt as not made, until ``settle_transfers`` (or a retry) knows."""
    paused_at: int | None = None
    cancelled_at: int | None = None
    owner_refund: int | None = None

    @property
    def pulling(self) -> int:
        """Pulls into the distribution in flight now (read from ``requests``)."""
        return sum(r.in_flight and r.is_pull for r in self.requests.values())

    @property
    def sending(self) -> int:
        """Payouts from the distribution in flight now: claims, unlocks, penalties, refunds."""
        return sum(r.in_flight and not r.is_pull for r in self.requests.values())


@attrs.frozen
class ParticipantInfo:
    user: Principal
    allocation: int
    unlocked: int
    claimed: int
    claimable: int
    next_unlock: int | None
    """Absolute time of the next increase (``None``: nothing more will unlock)."""
    early_unlocked: bool

    def _repr_html_(self) -> str:
        from icto.ic.html import fields_table

        return fields_table("Participant", (
            ("user", self.user), ("allocation", self.allocation), ("unlocked", self.unlocked),
            ("claimed", self.claimed), ("claimable", self.claimable),
            ("next unlock", self.next_unlock), ("early unlocked", self.early_unlocked),
        ))  # fmt: skip


@attrs.frozen
class Stats:
    phase: Phase
    total: int
    funded: bool
    balance_required: int
    claimed: int
    remaining: int
    participants: int
    penalties: int
    reserve: int


# -- errors -------------------------------------------------------------------------------------


@attrs.frozen
class NotOwner:
    caller: Principal


@attrs.frozen
class NotRecipient:
    caller: Principal


@attrs.frozen
class WrongPhase:
    """Not now: the distribution is in ``phase``; ``needs`` says what it must be."""

    phase: Phase
    needs: str


@attrs.frozen
class InvalidRequest:
    reasons: tuple[str, ...]


@attrs.frozen
class NotFunded:
    required: int
    balance: int


@attrs.frozen
class NothingToClaim:
    claimable: int


@attrs.frozen
class TransferFailed:
    """The ledger refused the transfer; nothing was recorded as paid. Or, when ``reason`` says
    so, whether it happened is in doubt: a payout then counts as paid, a pull as not made, and
    ``settle_transfers()`` (or the same call again) sends the identical request."""

    reason: str


@attrs.frozen
class NotEligible:
    reason: str


DistributionError: TypeAlias = (
    NotOwner | NotRecipient | WrongPhase | InvalidRequest | NotFunded | NothingToClaim
    | TransferFailed | NotEligible
)  # fmt: skip
