"""``TokenFactory``: deploys ``Token`` ledgers and indexes their creators and holders."""

from __future__ import annotations

from typing import Any

import attrs
import immutables

from icto.collections import SortedSet
from icto.collections.maps import listed, unlisted
from icto.collections.records import evolve
from icto.factory.base import ContractDraft, FactoryState, check_page
from icto.factory.factory import Factory
from icto.factory.types import DEFAULT_PAGE, ContractInfo, Page
from icto.ic.canister import query
from icto.ic.principal import Principal
from icto.token.config import TokenConfig, validate_token_config
from icto.token.contract import HOLDER, Token

_NONE: SortedSet[int] = SortedSet()


@attrs.frozen
class TokenDetails:
    """The token fields kept in ``ContractInfo.details``."""

    symbol: str
    decimals: int
    transfer_fee: int
    initial_supply: int
    description: str


@attrs.frozen
class TokenFactoryState(FactoryState):
    by_symbol: immutables.Map[str, SortedSet[int]] = immutables.Map()
    """Upper-cased symbol → tokens, by creation order."""


class TokenFactory(Factory):
    VERSION = "1.0.0"
    KIND = "token"
    CONTRACT = Token
    ROLES = frozenset({HOLDER})
    STATE = TokenFactoryState

    state: TokenFactoryState

    def validate_config(self, owner: Principal, config: object) -> tuple[str, ...]:
        return validate_token_config(config, owner)

    def draft(self, owner: Principal, config: TokenConfig) -> ContractDraft:
        holders = dict.fromkeys(account.owner for account, amount in config.initial_balances
                                if amount > 0)  # fmt: skip
        details = TokenDetails(
            config.symbol, config.decimals, config.transfer_fee, config.total_supply,
            config.description,
        )  # fmt: skip
        return ContractDraft(
            config.name, config.is_public, details, tuple((user, HOLDER) for user in holders)
        )

    def indexed_fields(self, state: Any, info: ContractInfo) -> dict[str, Any]:
        key = info.details.symbol.upper()
        return {"by_symbol": listed(state.by_symbol, key, info.seq)}

    def unindexed(self, state: Any, info: ContractInfo) -> Any:
        key = info.details.symbol.upper()
        return evolve(state, by_symbol=unlisted(state.by_symbol, key, info.seq))

    @query
    def get_tokens_by_symbol(
        self, symbol: str, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ContractInfo]:
        """Tokens with this symbol (case-insensitive), oldest first; private ones only for those
        who may see them. Symbols are ASCII, so other text finds none (``"ß".upper()`` is
        ``"SS"``)."""
        tokens = self.state.by_symbol.get(symbol.upper(), _NONE) if symbol.isascii() else _NONE
        return self._page(tokens, offset, limit, lambda info: info, False)

    @query
    def search_tokens(
        self, text: str, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ContractInfo]:
        """Public tokens whose name or symbol contains ``text`` (case-insensitive), oldest
        first. It scans the public list from ``offset`` until the page is full, so its cost is
        the number of tokens looked at; ``next_offset`` continues the scan."""
        check_page(offset, limit)
        needle = text.casefold()
        public = self.state.index.public
        found: list[ContractInfo] = []
        position = offset
        for seq in public.iter_from(offset):
            if len(found) == limit:
                break
            position += 1
            info = self.state.index.at(seq)
            if needle in info.name.casefold() or needle in info.details.symbol.casefold():
                found.append(info)
        return Page(tuple(found), None, position if position < len(public) else None)
