"""The backend's state: configuration, admins, where the services live, user profiles, what it
still owes (refunds, unconfirmed deployments) and the storage outbox. Nothing in it grows with the
number of contracts: those live in the factories, the trail in the storages."""

from __future__ import annotations

from typing import Any, Final

import attrs
import immutables

from icto.backend.config import BackendConfig
from icto.backend.types import (
    BackendCounters,
    PendingRefund,
    Unconfirmed,
    UserProfile,
)
from icto.collections.vector import Vector
from icto.ic.principal import Principal
from icto.ic.world import AWAIT_GIVEN_UP_NS


@attrs.frozen
class OutboxItem:
    """A storage write not delivered yet: ``method(*args)`` on the storage named ``storage``."""

    storage: str
    method: str
    args: tuple[Any, ...]
    queued_at: int
    attempts: int = 0
    last_error: str | None = None

    def failed(self, error: str) -> OutboxItem:
        """This record after one more failed delivery."""
        return OutboxItem(
            self.storage, self.method, self.args, self.queued_at, self.attempts + 1, error
        )


@attrs.frozen
class Undelivered:
    """A storage record the storage refused as invalid: out of the outbox, so it blocks nothing,
    and kept here with the storage's answer, so it is not lost either."""

    item: OutboxItem
    error: str
    refused_at: int


@attrs.frozen
class Queue:
    """A persistent FIFO: items at positions ``head`` … ``tail - 1``. ``retry_at``: after a
    transient failure, the time before which a routine flush leaves the queue alone (backoff).
    ``sending_since``: when a flush began delivering the head; until it is done (popped or
    backed off), other flushes leave the queue to it, so no record is delivered twice."""

    items: immutables.Map[int, OutboxItem] = immutables.Map()
    head: int = 0
    tail: int = 0
    retry_at: int = 0
    sending_since: int | None = None

    def __len__(self) -> int:
        return self.tail - self.head

    def first(self) -> OutboxItem:
        return self.items[self.head]

    def pushed(self, item: OutboxItem) -> Queue:
        return Queue(
            self.items.set(self.tail, item), self.head, self.tail + 1, self.retry_at,
            self.sending_since,
        )  # fmt: skip

    def sending(self, since: int) -> Queue:
        """This queue with its head being delivered from ``since``."""
        return Queue(self.items, self.head, self.tail, self.retry_at, since)

    def busy(self, now: int) -> bool:
        """Whether another flush is delivering the head. One whose reply never came back (its
        message trapped after the call) is given up after ``SENDING_GIVEN_UP_NS``."""
        since = self.sending_since
        return since is not None and now < since + SENDING_GIVEN_UP_NS

    def popped(self) -> Queue:
        return Queue(self.items.delete(self.head), self.head + 1, self.tail)

    def with_first(self, item: OutboxItem, retry_at: int) -> Queue:
        return Queue(self.items.set(self.head, item), self.head, self.tail, retry_at)


SENDING_GIVEN_UP_NS: Final = AWAIT_GIVEN_UP_NS
"""How long a flush's delivery of a record may stay unanswered before another flush sends it
again (only a trap after the call leaves one unanswered; the storage may then get it twice), and
how long a message's hold on a refund or payment lasts when it was never released."""

EMPTY_QUEUE: Final = Queue()
"""The queue of a storage nothing waits for (shared: a ``Queue`` never changes)."""


@attrs.frozen(kw_only=True)
class BackendState:
    admins: frozenset[Principal]
    config: BackendConfig
    id_prefix: str | None = None
    """Drawn from ``raw_rand`` at setup: payment and refund ids (the factories' tickets) of this
    installation cannot repeat another backend's, or this one's before a reinstall."""
    audit_storage: Principal | None = None
    invoice_storage: Principal | None = None
    factories: immutables.Map[str, Principal] = immutables.Map()
    profiles: immutables.Map[Principal, UserProfile] = immutables.Map()
    next_id: int = 1
    pending_refunds: immutables.Map[str, PendingRefund] = immutables.Map()
    unconfirmed: immutables.Map[str, Unconfirmed] = immutables.Map()
    outbox: immutables.Map[str, Queue] = immutables.Map()
    undelivered: Vector[Undelivered] = Vector()
    in_flight: immutables.Map[str, int] = immutables.Map()
    """Refunds and unconfirmed payments a message is settling while it awaits a call (among
    them the deployment a deploying message carries out), each with the time its hold began;
    another message leaves them alone while ``holds`` says so."""
    maintenance_timer: int | None = None
    counters: BackendCounters = BackendCounters()

    def outbox_size(self) -> int:
        return sum(len(queue) for queue in self.outbox.values())

    def held_since(self, key: str, since: int) -> bool:
        """Whether the hold on ``key`` is still the one taken at ``since`` (a message that
        awaited past its hold's lapse may find another message holding it now)."""
        return self.in_flight.get(key) == since

    def holds(self, key: str, now: int) -> bool:
        """Whether a message is settling the refund or payment ``key``. A hold whose message
        trapped after its last call was never released: it is given up after
        ``SENDING_GIVEN_UP_NS``, as an unanswered delivery is (the refund's ledger request is
        deduplicated, so paying it again cannot pay twice)."""
        since = self.in_flight.get(key)
        return since is not None and now < since + SENDING_GIVEN_UP_NS

    def changed(
        self,
        *,
        profiles: immutables.Map[Principal, UserProfile] | None = None,
        next_id: int | None = None,
        counters: BackendCounters | None = None,
        pending_refunds: immutables.Map[str, PendingRefund] | None = None,
        unconfirmed: immutables.Map[str, Unconfirmed] | None = None,
        outbox: immutables.Map[str, Queue] | None = None,
        in_flight: immutables.Map[str, int] | None = None,
        maintenance_timer: int | None = None,
    ) -> BackendState:
        """This state with the fields the paid flow and its refunds change replaced where given
        (``maintenance_timer``: a timer armed), built in one constructor call: the flow changes
        its state several times per deployment, and ``attrs.evolve`` introspects every field
        each time."""
        return BackendState(
            admins=self.admins, config=self.config, id_prefix=self.id_prefix,
            audit_storage=self.audit_storage, invoice_storage=self.invoice_storage,
            factories=self.factories,
            profiles=self.profiles if profiles is None else profiles,
            next_id=self.next_id if next_id is None else next_id,
            pending_refunds=self.pending_refunds if pending_refunds is None else pending_refunds,
            unconfirmed=self.unconfirmed if unconfirmed is None else unconfirmed,
            outbox=self.outbox if outbox is None else outbox,
            undelivered=self.undelivered,
            in_flight=self.in_flight if in_flight is None else in_flight,
            maintenance_timer=(
                self.maintenance_timer if maintenance_timer is None else maintenance_timer
            ),
            counters=self.counters if counters is None else counters,
        )  # fmt: skip
