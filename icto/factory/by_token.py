"""``TokenIndexedFactory``: a factory whose contracts each serve one token (``details.token``)
lists them per token (the Distribution and DAO Factories)."""

from __future__ import annotations

from typing import Any

import attrs
import immutables

from icto.collections import SortedSet
from icto.collections.maps import listed, unlisted
from icto.collections.records import evolve
from icto.factory.base import FactoryState
from icto.factory.factory import Factory
from icto.factory.types import ContractInfo, Page
from icto.ic.principal import Principal

_NONE: SortedSet[int] = SortedSet()


@attrs.frozen
class TokenIndexedState(FactoryState):
    by_token: immutables.Map[Principal, SortedSet[int]] = immutables.Map()
    """Token ledger → the contracts serving it, by creation order."""


class TokenIndexedFactory(Factory):
    """Keeps ``by_token`` exact as contracts are registered and forgotten."""

    STATE = TokenIndexedState

    state: TokenIndexedState

    def indexed_fields(self, state: Any, info: ContractInfo) -> dict[str, Any]:
        return {"by_token": listed(state.by_token, info.details.token, info.seq)}

    def unindexed(self, state: Any, info: ContractInfo) -> Any:
        by_token = unlisted(state.by_token, info.details.token, info.seq)
        return evolve(state, by_token=by_token)

    def _by_token(self, token: Principal, offset: int, limit: int) -> Page[ContractInfo]:
        """The contracts serving ``token``, oldest first; private ones only for those who may
        see them."""
        return self._page(self.state.by_token.get(token, _NONE), offset, limit, _same, False)


def _same(info: ContractInfo) -> ContractInfo:
    return info
