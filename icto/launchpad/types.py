"""Records of a launchpad sale: its states, participants, state, reads and errors."""

from __future__ import annotations

import enum
from typing import Any, Final, TypeAlias

import attrs
import immutables

from icto.ic.principal import Principal
from icto.validation import NotIdentified

PARTICIPANT: Final = "participant"
"""The role the Launchpad Factory indexes: a principal who contributed."""
REFUND_BATCH: Final = 100
"""Contributors refunded per message (each one a ledger transfer); a timer runs the next batch."""


class SaleState(enum.StrEnum):
    """Upcoming → (WhitelistOpen) → SaleActive → SaleEnded → Successful | Failed; Successful →
    Finalizing → Finalized; Cancelled (by the creator, before SaleEnded); Failed and Cancelled →
    Refunding → Refunded."""

    UPCOMING = "Upcoming"
    WHITELIST_OPEN = "WhitelistOpen"
    SALE_ACTIVE = "SaleActive"
    SALE_ENDED = "SaleEnded"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    REFUNDING = "Refunding"
    REFUNDED = "Refunded"
    FINALIZING = "Finalizing"
    FINALIZED = "Finalized"


ACTIVE_STATES: Final = frozenset(
    {SaleState.UPCOMING, SaleState.WHITELIST_OPEN, SaleState.SALE_ACTIVE}
)
"""The states ``get_active_sales`` lists."""


class RefundStatus(enum.StrEnum):
    NOT_DUE = "NotDue"
    OWED = "Owed"
    REFUNDED = "Refunded"


@attrs.frozen
class Participant:
    """A contributor: what they put in (in-flight contributions included) and their refund."""

    contribution: int
    """What the ledger has taken from them into escrow."""
    first_at: int
    pending: int = 0
    """Contributions whose ``icrc2_transfer_from`` is in flight: they count against the caps,
    not as raised, and are never refunded before they arrive."""
    seq: int | None = None
    """Their place among the contributors (the refund order), from their first accepted
    contribution."""
    refund_paid: int = 0
    """How much of their contribution has been refunded (each refund less one fee)."""
    refund_block: int | None = None
    refund_planned: tuple[int, int, int] | None = None
    """(amount, ``created_at_time``, what it covers) of the refund once first tried: every retry
    sends the same request, so the ledger deduplicates one whose reply was lost; it covers what
    was owed when it was planned (the amount is that less one fee)."""

    @property
    def owed(self) -> bool:
        """Whether a refund would pay them something now."""
        return self.contribution > self.refund_paid


@attrs.frozen
class PullInFlight:
    """An ``icrc2_transfer_from`` the sale sent and has not settled: a contribution (its room
    held as ``pending``) or the creator's deposit. Its reply settles it. One whose message
    trapped after the call, or whose outcome the ledger left in doubt, is settled by
    ``settle_pulls`` with the identical request (the ledger runs it or answers ``Duplicate``;
    past its window, the ledger's log tells)."""

    user: Principal
    amount: int
    ledger: Principal
    args: Any
    """The exact ``TransferFromArgs`` sent (memo and ``created_at_time`` name it)."""
    settle_from: int
    """When anyone may settle it: ``AWAIT_GIVEN_UP_NS`` after it was sent (its message may
    await the reply until then); at once if its message ended in doubt, or after an upgrade."""
    affiliate: Principal | None = None
    deposit: bool = False


@attrs.frozen
class LaunchpadState:
    meta: Any
    config: Any
    status: SaleState = SaleState.UPCOMING
    history: tuple[tuple[SaleState, int], ...] = ()
    """Every state the sale entered and when (the scheduled instant, not when noticed)."""
    participants: immutables.Map[Principal, Participant] = immutables.Map()
    order: Any = None
    """``Vector`` of contributors by first contribution (the refund order)."""
    raised: int = 0
    """Contributions the ledger has taken into escrow."""
    reserved: int = 0
    """Contributions whose ``icrc2_transfer_from`` is in flight (they hold their room)."""
    referrals: immutables.Map[Principal, int] = immutables.Map()
    """Affiliate → contributions that named it."""
    allocated: int = 0
    """Σ buyers' allocations: kept as contributions come (fixed price), set at the end (fair)."""
    leftover: int | None = None
    """Tokens for sale no buyer gets (set when the sale succeeds)."""
    tokens_deposited: int = 0
    """Sale tokens of an existing ledger the creator deposited."""
    tokens_required: int = 0
    """What that deposit had to be: the sale tokens needed and the ledger fees the pipeline
    will pay (set when the creator deposits)."""
    depositing: bool = False
    """The creator's deposit is being pulled: until the ledger has answered it does not count
    as made (a sale opening meanwhile fails, and its refunds return a deposit that landed)."""
    deployer: Principal | None = None
    """The backend that deployed the sale: the pipeline deploys through it."""
    pipeline: Any = None
    """The finalize pipeline's ``PipelineState`` once it has started."""
    finalize_timer: int | None = None
    outcome: str | None = None
    """Why the sale failed or was cancelled."""
    timer: int | None = None
    refund_timer: int | None = None
    refund_cursor: int = 0
    refunded_count: int = 0
    refunded_amount: int = 0
    refund_error: str | None = None
    tokens_returned: bool = False
    nonce: int = 0
    """Numbers the sale's ledger requests (their memos)."""
    pulls: immutables.Map[int, PullInFlight] = immutables.Map()
    """Pulls sent and not settled, by the nonce in their memo."""
    sending: immutables.Map[Principal, int] = immutables.Map()
    """Refunds whose transfer is in flight, by contributor, with when it was sent: one a
    trapped message left is sent again (the same request) once ``AWAIT_GIVEN_UP_NS`` has
    passed."""
    watch_timer: int | None = None
    """While refunding: the timer that looks, once a refund's, the deposit return's or a pull's
    message can no longer be awaiting, whether it was left unfinished (it settles such pulls
    and resumes the refunds)."""
    deposit_return: tuple[int, int] | None = None
    """(amount, ``created_at_time``) of the deposit's return once first sent: every try sends
    the same request, so the ledger deduplicates one whose reply was lost."""


# -- reads ----------------------------------------------------------------------------------------


@attrs.frozen
class SaleInfo:
    """A sale at a glance (``get_sale``)."""

    id: Principal
    name: str
    state: SaleState
    sale_type: str
    raised: int
    soft_cap: int
    hard_cap: int
    participants: int
    tokens_for_sale: int
    allocated: int
    """Σ buyers' allocations: as contributions come at a fixed price; a fair launch allocates
    at the end (0 until then)."""
    sale_start: int
    sale_end: int
    history: tuple[tuple[SaleState, int], ...]

    @property
    def soft_cap_progress_bp(self) -> int:
        return self.raised * 10_000 // self.soft_cap

    @property
    def hard_cap_progress_bp(self) -> int:
        return self.raised * 10_000 // self.hard_cap

    def __repr__(self) -> str:
        return (
            f"<Sale {self.name!r} {self.state}: raised {self.raised:,} of {self.hard_cap:,} "
            f"(soft cap {self.soft_cap:,}, {self.soft_cap_progress_bp / 100:.2f}%) from "
            f"{self.participants} participants; {self.allocated:,} of {self.tokens_for_sale:,} "
            f"tokens allocated ({self.sale_type})>"
        )

    def _repr_html_(self) -> str:
        from icto.ic.html import fields_table, timestamp

        return fields_table(f"Sale {self.name}: {self.state}", (
            ("type", self.sale_type), ("raised", f"{self.raised:,}"),
            ("soft cap", f"{self.soft_cap:,} ({self.soft_cap_progress_bp / 100:.2f}%)"),
            ("hard cap", f"{self.hard_cap:,} ({self.hard_cap_progress_bp / 100:.2f}%)"),
            ("participants", self.participants),
            ("allocated", f"{self.allocated:,} of {self.tokens_for_sale:,}"),
            ("sale", f"{timestamp(self.sale_start)} to {timestamp(self.sale_end)}"),
            ("history", ", ".join(f"{state} {timestamp(at)}" for state, at in self.history)),
        ))  # fmt: skip


@attrs.frozen
class ParticipantInfo:
    user: Principal
    contribution: int
    allocation: int
    """Sale tokens bought (fair launch: the share at the current raise until the sale ends)."""
    refund: RefundStatus
    refund_block: int | None

    def _repr_html_(self) -> str:
        from icto.ic.html import fields_table

        return fields_table("Participant", attrs.asdict(self, recurse=False).items())


@attrs.frozen
class RefundProgress:
    """How far refunding has come: contributors refunded, still owed, and the last failure."""

    state: SaleState
    contributors: int
    refunded: int
    owed: int
    amount_refunded: int
    last_error: str | None
    tokens_returned: bool


@attrs.frozen
class SaleStats:
    state: SaleState
    raised: int
    in_flight: int
    participants: int
    soft_cap_progress_bp: int
    hard_cap_progress_bp: int
    allocated: int
    leftover: int | None
    affiliates: int


# -- errors ---------------------------------------------------------------------------------------


@attrs.frozen
class InvalidRequest:
    reasons: tuple[str, ...]


@attrs.frozen
class WrongState:
    """Not now: the sale is ``state``; ``needs`` says what it must be."""

    state: SaleState
    needs: str


@attrs.frozen
class NotCreator:
    caller: Principal


@attrs.frozen
class NotWhitelisted:
    caller: Principal


@attrs.frozen
class BelowMinimum:
    minimum: int
    amount: int


@attrs.frozen
class BuysNothing:
    """Taking ``amount`` would leave the participant with no sale token: at a fixed price
    their contribution would buy none; in a fair launch its share would be none even if the
    hard cap were raised (the most the end can divide by)."""

    amount: int


@attrs.frozen
class AboveMaximum:
    """The contribution would take the participant to ``would_be`` > ``maximum``."""

    maximum: int
    would_be: int


@attrs.frozen
class TransferFailed:
    """The ledger refused; nothing was recorded as moved."""

    reason: str


LaunchpadError: TypeAlias = (
    NotIdentified | InvalidRequest | WrongState | NotCreator | NotWhitelisted | BelowMinimum
    | BuysNothing | AboveMaximum | TransferFailed
)  # fmt: skip
