"""A model of ICTO V1's centralized backend, for comparison with V2's per-factory index.

V1 kept every user ↔ contract relationship in the backend, and answered "which contracts are
mine?" by scanning all of them (``queryRelationships`` and friends). This canister keeps the same
shape: one sequence of ``(user, contract, role)`` relationships, appended to on every change, and a
query that reads the whole sequence for each call. It exists only to be measured against V2's
``get_my_contracts``, so it lives with the benchmarks, not in the library: ``python -m icto bench``
imports it from the repository checkout and says so when it is run without one.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from icto import IC, Canister, Principal, query, update
from icto.ic.proxy import CanisterProxy

Relationship = tuple[Principal, Principal, str]
"""``(user, contract, role)``."""


@attrs.frozen
class V1State:
    relationships: tuple[Relationship, ...] = ()


class V1Backend(Canister):
    VERSION = "1.0.0"

    def init(self, arg: object = None) -> None:
        self.state = V1State()

    @update
    def add_relationship(self, user: Principal, contract: Principal, role: str) -> None:
        rels = self.state.relationships
        self.state = V1State((*rels, (user, contract, role)))

    @query
    def get_my_contracts(self, user: Principal) -> tuple[Principal, ...]:
        """Every contract ``user`` has a relationship with, first seen first: a full scan."""
        return tuple(dict.fromkeys(c for u, c, _ in self.state.relationships if u == user))


def deploy_v1(ic: IC, relationships: Iterable[Relationship]) -> CanisterProxy:
    """A V1 backend already holding ``relationships``, written straight into its state (the
    result is what as many ``add_relationship`` calls would leave, without paying for them)."""
    backend = ic.deploy(V1Backend)
    world = ic.snapshot()
    record = world.canisters[backend.id]
    seeded = V1State(tuple(relationships))
    ic.restore(
        world._replace(
            canisters=world.canisters.set(backend.id, record.with_state(seeded, record.cycles))
        )
    )
    return backend
