"""``DistributionFactory``: deploys ``Distribution`` contracts, indexes their recipients (role
``recipient``) and lists the distributions of each token."""

from __future__ import annotations

from typing import Any

import attrs
import immutables

from icto.collections import SortedSet
from icto.collections.maps import listed, unlisted
from icto.distribution.config import DistributionConfig, Fixed, validate_distribution_config
from icto.distribution.contract import Distribution
from icto.distribution.types import RECIPIENT
from icto.factory.base import ContractDraft, FactoryState
from icto.factory.factory import Factory
from icto.factory.types import DEFAULT_PAGE, ContractInfo, Page
from icto.ic.canister import query
from icto.ic.principal import Principal

_NONE: SortedSet[int] = SortedSet()


@attrs.frozen
class DistributionDetails:
    """The distribution fields kept in ``ContractInfo.details`` (as deployed)."""

    token: Principal
    total_amount: int
    start: int
    categories: int


@attrs.frozen
class DistributionFactoryState(FactoryState):
    by_token: immutables.Map[Principal, SortedSet[int]] = immutables.Map()
    """Token ledger → distributions of it, by creation order."""


class DistributionFactory(Factory):
    VERSION = "1.0.0"
    KIND = "distribution"
    CONTRACT = Distribution
    ROLES = frozenset({RECIPIENT})
    STATE = DistributionFactoryState

    state: DistributionFactoryState

    def validate_config(self, owner: Principal, config: object) -> tuple[str, ...]:
        return validate_distribution_config(config, owner)

    def draft(self, owner: Principal, config: DistributionConfig) -> ContractDraft:
        recipients = dict.fromkeys(
            principal for category in config.categories
            if isinstance(category.recipients, Fixed)
            for principal, _ in category.recipients.recipients
        )  # fmt: skip
        details = DistributionDetails(
            config.token, config.total_amount, config.start, len(config.categories)
        )
        return ContractDraft(
            config.title, config.is_public, details, tuple((user, RECIPIENT) for user in recipients)
        )

    def indexed(self, state: Any, info: ContractInfo) -> Any:
        return attrs.evolve(state, by_token=listed(state.by_token, info.details.token, info.seq))

    def unindexed(self, state: Any, info: ContractInfo) -> Any:
        by_token = unlisted(state.by_token, info.details.token, info.seq)
        return attrs.evolve(state, by_token=by_token)

    @query
    def get_distributions_by_token(
        self, token: Principal, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ContractInfo]:
        """Distributions of ``token``, oldest first; private ones only for those who may see
        them."""
        return self._page(self.state.by_token.get(token, _NONE), offset, limit, _same, False)


def _same(info: ContractInfo) -> ContractInfo:
    return info
