"""``DistributionFactory``: deploys ``Distribution`` contracts, indexes their recipients (role
``recipient``) and lists the distributions of each token."""

from __future__ import annotations

import attrs

from icto.distribution.config import DistributionConfig, Fixed, validate_distribution_config
from icto.distribution.contract import Distribution
from icto.distribution.types import RECIPIENT
from icto.factory.base import ContractDraft
from icto.factory.by_token import TokenIndexedFactory, TokenIndexedState
from icto.factory.types import DEFAULT_PAGE, ContractInfo, Page
from icto.ic.canister import query
from icto.ic.principal import Principal


@attrs.frozen
class DistributionDetails:
    """The distribution fields kept in ``ContractInfo.details`` (as deployed)."""

    token: Principal
    total_amount: int
    start: int
    categories: int


@attrs.frozen
class DistributionFactoryState(TokenIndexedState):
    """The DistributionFactory's state: the common one, with its contracts listed per token."""


class DistributionFactory(TokenIndexedFactory):
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

    @query
    def get_distributions_by_token(
        self, token: Principal, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ContractInfo]:
        """Distributions of ``token``, oldest first; private ones only for those who may see
        them."""
        return self._by_token(token, offset, limit)

