"""``LaunchpadFactory``: deploys ``LaunchpadSale`` contracts, indexes their participants (role
``participant``) and keeps every sale's state in its registry as the sale reports it, so
``get_active_sales`` lists exactly the sales that are upcoming or open."""

from __future__ import annotations

from typing import Any

import attrs
import immutables

from icto.collections import SortedSet
from icto.collections.maps import listed, unlisted
from icto.collections.records import evolve
from icto.factory.base import ContractDraft, FactoryState
from icto.factory.factory import Factory
from icto.factory.types import DEFAULT_PAGE, ContractInfo, Page
from icto.ic.canister import query
from icto.ic.errors import CallRejected
from icto.ic.principal import Principal
from icto.launchpad.config import ExistingToken, LaunchpadConfig, validate_launchpad_config
from icto.launchpad.sale import LaunchpadSale
from icto.launchpad.types import ACTIVE_STATES, PARTICIPANT, SaleState
from icto.ledger.client import ledger_problem
from icto.validation import foreign_text

_NONE: SortedSet[int] = SortedSet()
_STATES = frozenset(str(state) for state in SaleState)
_ACTIVE = frozenset(str(state) for state in ACTIVE_STATES)


@attrs.frozen
class LaunchpadDetails:
    """The sale fields kept in ``ContractInfo.details`` (as deployed)."""

    project: str
    purchase_token: Principal
    sale_type: str
    soft_cap: int
    hard_cap: int
    sale_start: int
    sale_end: int


@attrs.frozen
class LaunchpadFactoryState(FactoryState):
    by_state: immutables.Map[str, SortedSet[int]] = immutables.Map()
    """Sale state → sales in it, by creation order."""
    active: SortedSet[int] = _NONE
    """Sales that are Upcoming, WhitelistOpen or SaleActive."""


class LaunchpadFactory(Factory):
    VERSION = "1.0.0"
    KIND = "launchpad"
    CONTRACT = LaunchpadSale
    ROLES = frozenset({PARTICIPANT})
    STATE = LaunchpadFactoryState
    OWNER_CONTROLS = False
    """A sale's controller is its factory alone: a creator who controlled it could take the
    escrowed contributions."""

    state: LaunchpadFactoryState

    def validate_config(self, owner: Principal, config: object) -> tuple[str, ...]:
        return validate_launchpad_config(config, owner)

    def preflight(self, config: LaunchpadConfig) -> str | None:
        """The purchase token must be an ICRC-1/2 ledger that answers, and so must an existing
        sale token, with the decimals the config says (the backend refunds otherwise)."""
        problem = ledger_problem(self, config.purchase_token, "the purchase token")
        token = config.sale_token
        if problem is not None or not isinstance(token, ExistingToken):
            return problem
        problem = ledger_problem(self, token.ledger, "the sale token")
        if problem is not None:
            return problem
        try:
            decimals = self.call(token.ledger, "icrc1_decimals")
        except CallRejected as rejected:
            return foreign_text(f"the sale token did not answer: {rejected.message}", 1024)
        if decimals != token.decimals:
            return f"the sale token has {decimals!r} decimals, not the {token.decimals} configured"
        return None

    def draft(self, owner: Principal, config: LaunchpadConfig) -> ContractDraft:
        details = LaunchpadDetails(
            config.project.name, config.purchase_token, type(config.sale_type).__name__,
            config.soft_cap, config.hard_cap, config.sale_start, config.sale_end,
        )  # fmt: skip
        return ContractDraft(config.project.name, config.is_public, details, ())

    def unindexed(self, state: Any, info: ContractInfo) -> Any:
        return evolve(
            state, by_state=unlisted(state.by_state, info.status, info.seq),
            active=state.active.discard(info.seq),
        )  # fmt: skip

    def status_problem(self, status: str) -> str | None:
        if status not in _STATES:
            return f"a sale's state is one of {', '.join(sorted(_STATES))}, got {status!r}"
        return None

    def status_indexed(self, state: Any, before: ContractInfo, status: str) -> Any:
        seq = before.seq
        by_state = listed(unlisted(state.by_state, before.status, seq), status, seq)
        active = state.active.add(seq) if status in _ACTIVE else state.active.discard(seq)
        return evolve(state, by_state=by_state, active=active)

    @query
    def get_active_sales(
        self, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ContractInfo]:
        """Sales that are Upcoming, WhitelistOpen or SaleActive, oldest first (private ones only
        for those who may see them)."""
        return self._page(self.state.active, offset, limit, _same, False)

    @query
    def get_sales_by_state(
        self, state: SaleState, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ContractInfo]:
        """Sales in ``state``, oldest first."""
        return self._page(self.state.by_state.get(str(state), _NONE), offset, limit, _same, False)


def _same(info: ContractInfo) -> ContractInfo:
    return info


__all__ = ["LaunchpadDetails", "LaunchpadFactory"]
