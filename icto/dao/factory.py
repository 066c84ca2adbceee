"""``DAOFactory``: deploys ``DAO`` contracts, indexes their members (role ``member``) and lists
the DAOs of each governance token."""

from __future__ import annotations

import attrs

from icto.dao.config import DAOConfig, validate_dao_config
from icto.dao.contract import DAO
from icto.dao.types import MEMBER
from icto.factory.base import ContractDraft
from icto.factory.by_token import TokenIndexedFactory, TokenIndexedState
from icto.factory.types import DEFAULT_PAGE, ContractInfo, Page
from icto.ic.canister import query
from icto.ic.principal import Principal
from icto.ledger.client import ledger_problem


@attrs.frozen
class DAODetails:
    """The DAO fields kept in ``ContractInfo.details`` (as deployed)."""

    token: Principal
    quorum_bp: int
    approval_bp: int
    voting_period: int
    timelock: int


@attrs.frozen
class DAOFactoryState(TokenIndexedState):
    """The DAOFactory's state: the common one, with its contracts listed per token."""


class DAOFactory(TokenIndexedFactory):
    VERSION = "1.0.0"
    KIND = "dao"
    CONTRACT = DAO
    ROLES = frozenset({MEMBER})
    STATE = DAOFactoryState
    OWNER_CONTROLS = False
    """A DAO's controller is its factory alone: a creator who controlled it could install any
    code and take the stakes and the treasury past the vote."""

    state: DAOFactoryState

    def validate_config(self, owner: Principal, config: object) -> tuple[str, ...]:
        return validate_dao_config(config, owner)

    def preflight(self, config: DAOConfig) -> str | None:
        """The governance token must be an ICRC-1/2 ledger that answers (the backend refunds
        otherwise)."""
        assert config.token is not None
        return ledger_problem(self, config.token, "the governance token")

    def draft(self, owner: Principal, config: DAOConfig) -> ContractDraft:
        assert config.token is not None
        details = DAODetails(
            config.token, config.quorum_bp, config.approval_bp, config.voting_period,
            config.timelock,
        )  # fmt: skip
        return ContractDraft(config.name, config.is_public, details, ())

    @query
    def get_daos_by_token(
        self, token: Principal, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ContractInfo]:
        """DAOs governed by ``token``, oldest first; private ones only for those who may see
        them."""
        return self._by_token(token, offset, limit)


__all__ = ["DAODetails", "DAOFactory"]
