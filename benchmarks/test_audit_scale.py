"""An audit query that filters on user and contract costs the same however many entries the user
has elsewhere, and the trail's memory per entry.

The trail holds one entry about alice and OTHER, then ``n`` entries about alice and CONTRACT and
``n`` about bob and OTHER, interleaved. It is built by ``AuditState.with_entry`` (the storage's own
bookkeeping for ``log_event``) and put into a deployed ``AuditStorage``; alice then asks, as an
ingress query, for her entries about OTHER one at a time (``limit=1``): neither her own index nor
OTHER's narrows the search, so only an index of both keeps the cost flat. The bytes per entry are
what the entries and every index keep (tracemalloc), printed in the closing report.
"""

from __future__ import annotations

import functools

import pytest

from benchmarks.conftest import FIGURES, MEDIUM, retained_bytes
from icto import IC, Principal
from icto.ic.proxy import CanisterProxy
from icto.storage import (
    AuditAction,
    AuditEntry,
    AuditEvent,
    AuditQuery,
    AuditStorage,
    deploy_storage,
)
from icto.storage.audit import AuditState

ALICE = Principal.from_name("alice")
BOB = Principal.from_name("bob")
WRITER = Principal.from_name("backend")
ADMIN = Principal.from_name("storage-admin")
CONTRACT = Principal.from_canister_index(901)
OTHER = Principal.from_canister_index(902)
SMALL_TRAIL = 100
SECOND = 10**9


def _trail(state: AuditState, n: int, start: int) -> AuditState:
    """``state`` with alice's one entry about OTHER and ``n`` each about alice and CONTRACT and
    bob and OTHER, one per second from ``start``."""
    rows = [(ALICE, OTHER)] + [pair for _ in range(n) for pair in ((ALICE, CONTRACT), (BOB, OTHER))]
    for id_, (user, contract) in enumerate(rows):
        event = AuditEvent(action=AuditAction.PAYMENT_PROCESSED, user=user, contract_id=contract)
        state = state.with_entry(
            AuditEntry(id=id_, timestamp=start + id_ * SECOND, writer=WRITER, event=event)
        )
    return state


@functools.cache
def _storage(n: int) -> tuple[IC, CanisterProxy]:
    ic = IC(trace=False)
    storage = deploy_storage(ic, AuditStorage, writers=[WRITER], caller=ADMIN)
    state = _trail(ic.state_of(storage.id), n, ic.time)
    world = ic.world
    record = world.canisters[storage.id]
    canisters = world.canisters.set(storage.id, record.with_state(state, record.cycles))
    ic.restore(world._replace(canisters=canisters))
    ic.advance_time(seconds=2 * n + 1)
    return ic, storage.as_caller(ALICE)


@pytest.mark.parametrize(
    ("key", "n"), [("audit_combined_small", SMALL_TRAIL), ("audit_combined_large", MEDIUM)]
)
def test_a_user_and_contract_query_costs_the_same_however_many_entries_the_user_has(
    measure, key: str, n: int
) -> None:
    _, as_alice = _storage(n)
    query = AuditQuery(user=ALICE, contract_id=OTHER, limit=1)
    page = measure(key, lambda: as_alice.query(query))
    assert [entry.id for entry in page.items] == [0]


def test_bytes_per_audit_entry() -> None:
    """The entries and their indexes, per entry, for a trail of users and contracts."""
    empty = AuditState(admins=frozenset(), writers=frozenset({WRITER}))
    n = MEDIUM // 2
    kept, state = retained_bytes(lambda: _trail(empty, n, 0))
    assert len(state.entries) == 2 * n + 1
    FIGURES["audit storage: bytes per entry (entry and every index)"] = kept / len(state.entries)
