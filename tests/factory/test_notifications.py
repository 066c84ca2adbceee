"""A contract's notifications to its factory when they overlap.

A contract tells its factory of every role and visibility change, and keeps what the factory
did not take in an outbox it retries. While one notification awaits the factory's reply, the IC
may run other messages on the contract: the same role or the visibility may change again, and
the factory may refuse that later notification. When the first reply then arrives, it must not
clear what the later one left to retry: the factory would keep an index the contract no longer
agrees with, and nothing would mend it.
"""

from __future__ import annotations

from typing import Any

from icto import IC, Principal, update
from icto.factory import deploy_factory
from icto.factory.contract import RETRY_DELAY_NS
from tests.factory.toys import MEMBER, ClubConfig, ClubFactory
from tests.helpers import Relay

ERIN = Principal.from_name("erin")
LATER: list[tuple[Principal, Principal, str, tuple[Any, ...]]] = []
"""Calls the hooked factory makes through a relay once it has handled its next notification."""


class HookedClubFactory(ClubFactory):
    """A club factory that, after handling a notification, lets the messages in ``LATER`` run
    on the club (as the IC may while the club awaits this reply)."""

    def _run_later(self) -> None:
        while LATER:
            relay, target, method, args = LATER.pop(0)
            self.call(relay, "relay", target, method, args)

    @update
    def notify_participant_removed(self, user: Principal, role: str) -> None:
        super().notify_participant_removed(user, role)
        self._run_later()

    @update
    def notify_visibility_changed(self, is_public: bool) -> None:
        super().notify_visibility_changed(is_public)
        self._run_later()


def _club(ic: IC, admin: Principal, backend: Principal, **config: Any) -> tuple[Any, Any, Any]:
    """The hooked factory, a relay canister, and a club the relay owns."""
    LATER.clear()
    relay = ic.deploy(Relay, None)
    factory = deploy_factory(ic, HookedClubFactory, backends=[backend], caller=admin)
    club = factory.as_caller(backend).create_contract(
        relay.id, ClubConfig(name="Club", **config)
    ).unwrap()
    return factory, relay, club


def test_a_role_notification_that_completes_late_leaves_a_later_refused_one_to_retry(
    ic: IC, admin: Principal, backend: Principal
) -> None:
    """The club removes erin; while the factory's reply is on its way, erin is granted again
    (the factory takes it) and removed again (the factory refuses it once). The first reply
    must not clear the pending removal: the retry tells the factory."""
    factory, relay, club = _club(ic, admin, backend, members=(ERIN,))
    LATER[:] = [(relay.id, club, method, (ERIN, MEMBER)) for method in ("grant", "revoke")]
    ic.faults.reject(canister=factory.id, method="notify_participant_removed", after=1, times=1)
    relay.relay(club, "revoke", (ERIN, MEMBER))
    assert not LATER
    assert ic.state_of(club).meta.outbox  # the refused removal waits for its retry
    ic.advance_time(nanos=RETRY_DELAY_NS)
    assert len(ic.state_of(club).meta.outbox) == 0
    entries = factory.as_caller(ERIN).get_my_contracts(ERIN).items
    assert [entry for entry in entries if entry.info.id == club] == []


def test_a_visibility_notification_that_completes_late_leaves_a_later_refused_one_to_retry(
    ic: IC, admin: Principal, backend: Principal
) -> None:
    """The club is listed; while the factory's reply is on its way, it is unlisted again and
    the factory refuses that once. The first reply must not clear the pending unlisting."""
    factory, relay, club = _club(ic, admin, backend, is_public=False)
    LATER[:] = [(relay.id, club, "publish", (False,))]
    ic.faults.reject(canister=factory.id, method="notify_visibility_changed", after=1, times=1)
    relay.relay(club, "publish", (True,))
    assert ic.state_of(club).meta.visibility_pending
    ic.advance_time(nanos=RETRY_DELAY_NS)
    assert not ic.state_of(club).meta.visibility_pending
    assert ic.state_of(factory.id).index.contracts[club].is_public is False
