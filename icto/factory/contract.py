"""``FactoryContract``: what every contract deployed by a factory does towards its factory.

It keeps a ``ContractMeta`` in ``self.state.meta``: the factory (the installer, taken from
``init``'s caller, never from an argument), the owner, and the upgrade it asked for. It tells the
factory about role changes, and keeps any notification the factory did not take in an outbox that
a timer retries, so the factory's indexes catch up with the contract's truth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs
import immutables

from icto.collections.maps import without
from icto.collections.records import evolve
from icto.factory.types import ContractInit
from icto.ic.canister import Canister, Trap, query, update
from icto.ic.errors import CallRejected, Reject
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.ic.world import within_clock

RETRY_DELAY_NS: Final = 60 * 1_000_000_000
"""How long the contract waits before resending notifications its factory did not take."""


@attrs.frozen
class ContractMeta:
    """A contract's link to its factory.

    ``outbox`` holds (user, role) pairs whose notification is in flight or failed, each under
    the number of its latest notification; they are resent with the contract's current truth,
    so order does not matter. Numbers (``notifications`` counts them) tell a notification that
    completes after a later one for the same thing was sent that it is no longer the latest.
    """

    factory: Principal
    owner: Principal
    is_public: bool = True
    upgrade_requested: str | None = None
    last_upgrade: tuple[str, str | None] | None = None
    outbox: immutables.Map[tuple[Principal, str], int] = immutables.Map()
    retry_timer: int | None = None
    visibility_pending: bool = False
    """The factory has not taken the latest visibility yet (``notify_visibility``)."""
    notifications: int = 0
    visibility_sent: int = 0
    """The number of the latest visibility notification."""
    status_pending: str | None = None
    """A status the factory has not taken yet (``notify_status``)."""


@attrs.frozen
class ContractMetaView:
    """What ``get_contract_meta`` answers."""

    factory: Principal
    owner: Principal
    version: str
    is_public: bool
    upgrade_requested: str | None
    last_upgrade: tuple[str, str | None] | None
    pending_notifications: int


class FactoryContract(Canister):
    """Mixin for contract code. The state must be an attrs record with a ``meta`` field; the
    subclass says whether a user holds a role now (``has_role``)."""

    @property
    def meta(self) -> ContractMeta:
        meta: ContractMeta = self.state.meta
        return meta

    def _set_meta(self, **changes: Any) -> None:
        self.state = evolve(self.state, meta=evolve(self.meta, **changes))

    def checked_init(
        self, arg: object, validate: Callable[[object, Principal], tuple[str, ...]]
    ) -> ContractInit:
        """The ``ContractInit`` this contract is installed with, its config checked by the
        domain's one validation; anything else traps, so the installation fails."""
        if not isinstance(arg, ContractInit):
            raise TypeError(
                f"{type(self).__name__} is installed with a ContractInit, got {type(arg).__name__}"
            )
        reasons = validate(arg.config, arg.owner)
        if reasons:
            raise Trap(f"invalid {type(arg.config).__name__}: " + "; ".join(reasons))
        return arg

    def new_meta(self, owner: Principal, is_public: bool) -> ContractMeta:
        """The meta of a contract being installed: its factory is whoever installs it."""
        return ContractMeta(factory=self.caller, owner=owner, is_public=is_public)

    def pre_upgrade(self) -> Any:
        """Refuse, as the Motoko actor does, while one of this contract's messages awaits a
        call: the rest of that message could not run after the upgrade, leaving half-done
        records (a pulled stake unrecorded, a proposal Executing for ever). The factory's
        upgrade fails and can be tried again once the call is done."""
        if self.awaiting_calls():
            raise Trap(
                "canister_pre_upgrade attempted with outstanding message callbacks (try "
                "stopping the canister before upgrade)"
            )
        return super().pre_upgrade()

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Keep the state; an upgrade clears timers, so re-arm the outbox retry if needed.
        A subclass that migrates the state passes the migrated value:
        ``super().post_upgrade(migrated, arg)``."""
        super().post_upgrade(stable, arg)
        meta = self.meta
        waiting = bool(meta.outbox) or meta.visibility_pending or meta.status_pending is not None
        delay = within_clock(self.time, RETRY_DELAY_NS)
        timer = self.set_timer(delay, "_retry_outbox") if waiting else None
        self._set_meta(retry_timer=timer)

    def has_role(self, user: Principal, role: str) -> bool:
        """Whether ``user`` holds ``role`` in this contract now (the truth notifications carry)."""
        raise NotImplementedError

    def _only_factory(self, what: str) -> None:
        if self.caller != self.meta.factory:
            raise Reject(f"Unauthorized: only this contract's factory may call {what}")

    # -- called by the factory ------------------------------------------------------------------

    @update
    def on_deployed(self) -> None:
        """The factory has registered this contract; confirm the deployment."""
        self._only_factory("on_deployed")
        self.call(self.meta.factory, "notify_deployment_complete")

    @update
    def on_upgraded(self, version: str, error: str | None = None) -> None:
        """The factory reports the outcome of a requested upgrade: the version now running and,
        if the upgrade failed, why. Only the factory (checked against the recorded id)."""
        self._only_factory("on_upgraded")
        self._set_meta(upgrade_requested=None, last_upgrade=(version, error))

    @update
    def on_visibility_changed(self, is_public: bool) -> None:
        """The factory lists or unlists the contract: it takes the change and confirms it to
        the factory's index itself, so the index follows even if the factory's message ends in
        a trap after this call."""
        self._only_factory("on_visibility_changed")
        self.notify_visibility(is_public)

    # -- called by the owner or anyone ----------------------------------------------------------

    @update
    def request_upgrade(self, target: str | None = None) -> Ok[str] | Err[Any]:
        """Owner: ask the factory for an upgrade (default: its latest stable version). The
        outcome arrives through ``on_upgraded`` after the factory's next message."""
        if self.caller != self.meta.owner:
            raise Reject("Unauthorized: only the owner may request an upgrade")
        result: Ok[str] | Err[Any] = self.call(self.meta.factory, "request_upgrade", target)
        if isinstance(result, Ok):
            self._set_meta(upgrade_requested=result.value)
        return result

    @update
    def sync_roles(self) -> int:
        """Resend the notifications the factory has not taken yet; return how many remain."""
        self._flush_outbox()
        return self._pending_notifications()

    def _pending_notifications(self) -> int:
        meta = self.meta
        return len(meta.outbox) + meta.visibility_pending + (meta.status_pending is not None)

    @query
    def get_contract_meta(self) -> ContractMetaView:
        meta = self.meta
        return ContractMetaView(
            meta.factory, meta.owner, self.VERSION, meta.is_public, meta.upgrade_requested,
            meta.last_upgrade, self._pending_notifications(),
        )  # fmt: skip

    # -- notifications ----------------------------------------------------------------------------

    def notify_role(self, user: Principal, role: str) -> None:
        """Tell the factory whether ``user`` holds ``role`` now. The notification waits in the
        outbox from before the call (which commits the contract's change with it) until the
        factory has taken it, so a trap later in the message cannot lose it: the retry timer,
        armed when the factory refuses, or ``sync_roles`` sends it."""
        holds = self.has_role(user, role)
        method = "notify_participant_added" if holds else "notify_participant_removed"
        meta = self.meta
        number = meta.notifications + 1
        self._set_meta(notifications=number, outbox=meta.outbox.set((user, role), number))
        try:
            self.call(self.meta.factory, method, user, role)
        except CallRejected as rejected:
            self.log(f"{method}({user}, {role}) was not taken: {rejected.message}")
            self._set_meta(retry_timer=self._retry_timer())
            return
        if self.meta.outbox.get((user, role)) != number:
            return  # a later notification of the pair was sent meanwhile: it is the one that counts
        if self.has_role(user, role) == holds:
            self._set_meta(outbox=without(self.meta.outbox, (user, role)))
        else:  # it changed meanwhile: resend the truth
            self._set_meta(retry_timer=self._retry_timer())

    def notify_visibility(self, is_public: bool) -> None:
        """Record the contract's visibility and tell the factory; if the factory does not
        answer, the contract's outbox resends the visibility it has then."""
        number = self.meta.notifications + 1
        self._set_meta(
            is_public=is_public, visibility_pending=True, notifications=number,
            visibility_sent=number,
        )  # fmt: skip
        try:
            self.call(self.meta.factory, "notify_visibility_changed", is_public)
        except CallRejected as rejected:
            self.log(f"notify_visibility_changed({is_public}) was not taken: {rejected.message}")
            self._set_meta(retry_timer=self._retry_timer())
            return
        if self.meta.visibility_sent == number:  # else a later one was sent: it counts
            self._set_meta(visibility_pending=False)

    def notify_status(self, status: str) -> None:
        """Tell the factory the contract's status (its registry and status indexes follow);
        if the factory does not answer, the outbox resends the status the contract has then."""
        self._set_meta(status_pending=status)
        try:
            self.call(self.meta.factory, "notify_status_changed", status)
        except CallRejected as rejected:
            self.log(f"notify_status_changed({status}) was not taken: {rejected.message}")
            self._set_meta(retry_timer=self._retry_timer())
            return
        if self.meta.status_pending == status:
            self._set_meta(status_pending=None)

    def _retry_timer(self) -> int:
        timer = self.meta.retry_timer
        if timer is not None:
            return timer
        return self.set_timer(within_clock(self.time, RETRY_DELAY_NS), "_retry_outbox")

    def _retry_outbox(self) -> None:
        self._set_meta(retry_timer=None)
        self._flush_outbox()

    def _flush_outbox(self) -> None:
        if self.meta.visibility_pending:
            self.notify_visibility(self.meta.is_public)
        if self.meta.status_pending is not None:
            self.notify_status(self.meta.status_pending)
        for (user, role), _ in sorted(self.meta.outbox.items(), key=_number):  # in send order
            self._set_meta(outbox=self.meta.outbox.delete((user, role)))
            self.notify_role(user, role)


def _number(entry: tuple[tuple[Principal, str], int]) -> int:
    return entry[1]
