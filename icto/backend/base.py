"""The backend's common ground: its state, how it starts, who is an admin, profiles, and the
storage outbox every part writes through.

Storage writes never block a deployment: ``_write`` delivers a record now if it can and keeps it
in a bounded per-storage FIFO otherwise; the FIFO is retried, in order, at the start of the next
deployment and by a timer, so a storage that was down receives every record, in the order written.
"""

from __future__ import annotations

from typing import Any, Final

import immutables

from icto.backend.config import BackendConfig, check_config_value
from icto.backend.state import EMPTY_QUEUE, BackendState, OutboxItem, Queue, Undelivered
from icto.backend.types import (
    AUDIT_STORAGE,
    INVOICE_STORAGE,
    BackendCounters,
    BackendInit,
    PendingRefund,
    UserProfile,
    UserStatus,
)
from icto.collections.maps import without
from icto.collections.records import evolve
from icto.ic.canister import Canister, check_upgrade
from icto.ic.errors import CallRejected, ErrorCode, Reject, RejectCode
from icto.ic.principal import Principal
from icto.ic.world import within_clock
from icto.storage.types import INVALID_RECORD, MAX_TEXT, AuditAction, AuditEvent, Severity
from icto.validation import foreign_text, identified_problem

OUTBOX_LIMIT: Final = 10_000
"""Most undelivered records per storage before the backend refuses new paid deployments."""
OUTBOX_RESERVE: Final = 16
"""Records one deployment may still add once admitted (so the bound holds while it runs)."""
MAINTENANCE_DELAY_NS: Final = 60 * 1_000_000_000
"""How long the backend waits before retrying its outbox, unconfirmed deployments and failed
refunds."""
MAX_BACKOFF_NS: Final = 3600 * 1_000_000_000
"""The longest a storage that keeps failing waits between two delivery attempts."""
AUTO_REFUND_ATTEMPTS: Final = 3
"""Attempts the backend makes at a refund by itself (the first, then from its timer); after
that the refund waits for ``admin_retry_refund``."""

SEVERITY: Final = {
    AuditAction.PAYMENT_FAILED: Severity.ERROR,
    AuditAction.DEPLOYMENT_FAILED: Severity.WARNING,
    AuditAction.REFUND_FAILED: Severity.ERROR,
    AuditAction.ACCESS_DENIED: Severity.WARNING,
    AuditAction.ADMIN_ACTION: Severity.WARNING,
}


def backoff(attempts: int) -> int:
    """How long a storage queue waits after its head record failed ``attempts`` times: the
    maintenance delay, doubling with each failure, at most ``MAX_BACKOFF_NS``."""
    return min(MAINTENANCE_DELAY_NS << min(attempts - 1, 16), MAX_BACKOFF_NS)


def record_id(kind: str, state: BackendState) -> str:
    """The id ``state.next_id`` gives a record of ``kind``: ``pay-<installation>-00000001``,
    unique across backends and reinstalls, because the installation part is drawn from
    ``raw_rand`` at setup. Whoever takes it stores ``next_id + 1``."""
    return f"{kind}-{state.id_prefix}-{state.next_id:08d}"


def is_invalid_record(rejected: CallRejected) -> bool:
    """The storage refused the record itself (a permanent refusal that retrying cannot change),
    not a stopped, missing or failing storage."""
    return rejected.reject_code == RejectCode.CANISTER_REJECT and rejected.message.startswith(
        INVALID_RECORD
    )


class BackendBase(Canister):
    VERSION = "1.1.0"

    state: BackendState

    def init(self, arg: BackendInit | None = None) -> None:
        arg = BackendInit() if arg is None else arg
        if not isinstance(arg, BackendInit):
            raise TypeError(f"the backend is installed with BackendInit, got {type(arg).__name__}")
        for admin in arg.admins:
            reason = identified_problem(admin, "backend admin")
            if reason is not None:
                raise ValueError(reason)
        config = BackendConfig()
        if arg.payment_token is not None:
            problem = check_config_value("payment.token", arg.payment_token)
            if problem is not None:  # the rule admin_set_config applies, or every deploy traps
                raise ValueError(f"BackendInit.payment_token {problem}")
            config = evolve(config, payment_token=arg.payment_token)
        self.state = BackendState(admins=frozenset(arg.admins), config=config)

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Keep the state; timers do not survive an upgrade, so re-arm the maintenance timer.
        No message awaits across an upgrade, so every hold (a map of version 1.1, a set of
        keys in 1.0) is dropped: what a message left in flight may be settled at once. An
        upgrade takes no argument (configuration changes go through ``admin_set_config``), and
        the kept state must be a backend's; anything else traps, so the IC rolls it back."""
        check_upgrade(stable, arg, BackendState, "the backend")
        self.state = evolve(stable, maintenance_timer=None, in_flight=immutables.Map())
        self._arm_maintenance()

    # -- who may do what ------------------------------------------------------------------------

    def _is_admin(self, principal: Principal) -> bool:
        return principal in self.state.admins or self.is_controller(principal)

    def _count(self, **bumps: int) -> None:
        """Add to the counters (``BackendCounters.plus``)."""
        state = self.state
        self.state = state.changed(counters=state.counters.plus(**bumps))

    def _require_admin(self, what: str) -> None:
        """Reject (and count) a caller who is not an admin."""
        if not self._is_admin(self.caller):
            self._count(access_denied=1)
            self.log(f"AccessDenied: {self.caller} may not {what}")
            raise Reject(f"Unauthorized: only an admin may {what}")

    # -- profiles -------------------------------------------------------------------------------

    def _profile(self, user: Principal) -> UserProfile:
        profile = self.state.profiles.get(user)
        if profile is None:
            return UserProfile(user=user, status=UserStatus.ACTIVE, first_seen=self.time)
        return profile

    def _store_profile(self, profile: UserProfile, counters: BackendCounters | None = None) -> None:
        """Keep ``profile`` and, when given, new ``counters``: one new state."""
        state = self.state
        self.state = state.changed(
            profiles=state.profiles.set(profile.user, profile), counters=counters
        )

    # -- storage writes -------------------------------------------------------------------------

    def _audit(
        self, action: AuditAction, severity: Severity | None = None, **fields: Any
    ) -> int | None:
        """Log an event to AuditStorage (at the action's usual ``severity`` unless given); its
        entry id, or ``None`` if it waits in the outbox."""
        event = AuditEvent(
            action=action, severity=SEVERITY.get(action, Severity.INFO) if severity is None
            else severity, occurred_at=self.time, **fields,
        )  # fmt: skip
        result = self._write(AUDIT_STORAGE, "log_event", event)
        return result if isinstance(result, int) else None

    def _invoice(self, method: str, *args: Any) -> None:
        self._write(INVOICE_STORAGE, method, *args)

    def _storage_id(self, storage: str) -> Principal | None:
        return self.state.audit_storage if storage == AUDIT_STORAGE else self.state.invoice_storage

    def _queue(self, storage: str) -> Queue:
        return self.state.outbox.get(storage, EMPTY_QUEUE)

    def _set_queue(self, storage: str, queue: Queue) -> None:
        self.state = self.state.changed(outbox=self.state.outbox.set(storage, queue))

    def _write(self, storage: str, method: str, *args: Any) -> Any:
        """Deliver ``method(*args)`` to a storage now, behind any records still waiting for it;
        the reply, or ``None`` if the record was kept in the outbox (or refused as invalid and
        set aside in ``undelivered``). The outbox record is only built when one is kept."""
        now = self.time
        if not len(self._queue(storage)):
            try:
                return self._deliver(storage, method, args)
            except CallRejected as rejected:
                item = OutboxItem(storage, method, args, now)
                if is_invalid_record(rejected):
                    self._set_aside(item, rejected)
                    return None
                failed = item.failed(self._reason(rejected))
                waiting = self._queue(storage)
                if len(waiting):  # queued by another message during the call: wait behind it
                    self._set_queue(storage, waiting.pushed(failed))
                else:
                    queue = waiting.pushed(failed)
                    self._set_queue(storage, queue.with_first(failed, self.time + backoff(1)))
        else:
            item = OutboxItem(storage, method, args, now)
            self._set_queue(storage, self._queue(storage).pushed(item))
            self._flush(storage)
        self._arm_maintenance()
        return None

    def _deliver(self, storage: str, method: str, args: tuple[Any, ...]) -> Any:
        target = self._storage_id(storage)
        if target is None:
            raise CallRejected(
                RejectCode.DESTINATION_INVALID, ErrorCode.CANISTER_NOT_FOUND,
                f"{storage} is not set up (setup_microservices)",
            )  # fmt: skip
        return self.call(target, method, *args)

    def _flush(self, storage: str, *, force: bool = False) -> None:
        """Deliver waiting records in order, one flush at a time (another message's flush
        leaves the queue to the one delivering its head). A transient failure stops the flush
        and backs the queue off (a routine flush waits until ``retry_at``; ``force`` does not);
        a record the storage refuses as invalid is set aside, and the flush goes on."""
        while len(queue := self._queue(storage)):
            if not force and self.time < queue.retry_at:
                return
            if queue.busy(self.time):
                return  # another message is delivering the head, and goes on with the rest
            item, head = queue.first(), queue.head
            self._set_queue(storage, queue.sending(self.time))
            try:
                self._deliver(item.storage, item.method, item.args)
            except CallRejected as rejected:
                if is_invalid_record(rejected):
                    self._set_aside(item, rejected)
                else:
                    failed = item.failed(self._reason(rejected))
                    queue = self._queue(storage)
                    if queue.head == head:
                        self._set_queue(
                            storage, queue.with_first(failed, self.time + backoff(failed.attempts))
                        )
                    return
            queue = self._queue(storage)
            if queue.head == head:
                self._set_queue(storage, queue.popped())

    def _set_aside(self, item: OutboxItem, rejected: CallRejected) -> None:
        """Move a record the storage refused as invalid out of the way, for the admin to read."""
        queue = self._queue(item.storage)
        if len(queue) and queue.first() is item:
            self._set_queue(item.storage, queue.popped())
        refused = Undelivered(item, self._reason(rejected), self.time)
        self.state = evolve(self.state, undelivered=self.state.undelivered.append(refused))
        self.log(f"undelivered {item.storage}.{item.method}: {refused.error}")

    @staticmethod
    def _reason(rejected: CallRejected) -> str:
        """A reject's message as the backend may store or forward it (safe, bounded)."""
        return foreign_text(rejected.message, MAX_TEXT)

    def _flush_outbox(self, *, force: bool = False) -> None:
        for storage in (AUDIT_STORAGE, INVOICE_STORAGE):
            if len(self._queue(storage)):
                self._flush(storage, force=force)

    def _outbox_full(self) -> bool:
        return any(
            len(queue) > OUTBOX_LIMIT - OUTBOX_RESERVE for queue in self.state.outbox.values()
        )

    # -- the maintenance timer -----------------------------------------------------------------

    def _has_work(self) -> bool:
        state = self.state
        return state.outbox_size() > 0 or bool(state.unconfirmed) or any(
            self._retried_by_timer(refund) for refund in state.pending_refunds.values()
        )  # fmt: skip

    def _retried_by_timer(self, refund: PendingRefund) -> bool:
        """Whether the timer retries ``refund`` by itself: auto-refund is on, attempts are left,
        and one was made (a failed one, or one whose message trapped before it was counted)."""
        return (
            self.state.config.auto_refund and refund.attempts < AUTO_REFUND_ATTEMPTS
            and (refund.attempts > 0 or refund.request_at is not None)
        )  # fmt: skip

    def _refunds_to_retry(self) -> tuple[str, ...]:
        """Refunds the timer retries now, oldest first: those it retries by itself that no
        message is paying (ids sort by age; a map's own order follows the string hash seed)."""
        state, now = self.state, self.time
        return tuple(sorted(
            refund.refund_id for refund in state.pending_refunds.values()
            if self._retried_by_timer(refund) and not state.holds(refund.refund_id, now)
        ))  # fmt: skip

    def _hold(self, key: str) -> int:
        """Mark a refund or payment as being settled by this message (across its awaits), and
        make sure the timer will look at it again should the message never release it. Returns
        the hold's time, which names it (a later hold on ``key`` starts after this one lapsed)."""
        since = self.time
        self.state = self.state.changed(in_flight=self.state.in_flight.set(key, since))
        self._arm_maintenance()
        return since

    def _release(self, key: str, since: int) -> None:
        """End this message's hold on ``key``; one another message took after it lapsed stays."""
        if self.state.held_since(key, since):
            self.state = self.state.changed(in_flight=without(self.state.in_flight, key))

    def _arm_maintenance(self) -> None:
        if self.state.maintenance_timer is None and self._has_work():
            self.state = self.state.changed(maintenance_timer=self._maintenance_timer())

    def _maintenance_timer(self) -> int:
        """The maintenance timer's id, armed now if it is not (for a caller that knows there is
        work and stores the id with its own change of state)."""
        timer = self.state.maintenance_timer
        if timer is None:
            timer = self.set_timer(within_clock(self.time, MAINTENANCE_DELAY_NS), "_maintain")
        return timer

    def _maintain(self) -> None:
        """Timer: retry the outbox, settle unconfirmed deployments, retry failed refunds; re-arm
        while work is left."""
        self.state = evolve(self.state, maintenance_timer=None)
        self._flush_outbox()
        self._settle_unconfirmed()
        for refund_id in self._refunds_to_retry():
            if refund_id in self.state.pending_refunds and not self.state.holds(
                refund_id, self.time
            ):
                self._pay_refund(refund_id)
        self._arm_maintenance()

    def _settle_unconfirmed(self) -> None:
        """Resolve deployments whose outcome is unknown (``PaidDeployments`` does it)."""

    def _pay_refund(self, refund_id: str) -> Any:
        """One attempt at paying a refund owed (``PaidDeployments`` does it)."""
        raise NotImplementedError


__all__ = [
    "AUTO_REFUND_ATTEMPTS",
    "MAINTENANCE_DELAY_NS",
    "MAX_BACKOFF_NS",
    "OUTBOX_LIMIT",
    "BackendBase",
    "backoff",
    "is_invalid_record",
]
