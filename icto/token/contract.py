"""``Token``: the ICRC-1/2 ledger a Token Factory deploys, plus its link to the factory.

It is ``icto.ledger.Ledger`` unchanged, with one addition: when an owner starts holding tokens or
stops holding any, the token tells its factory (role ``holder``), so the factory's holder index
stays exact.
"""

from __future__ import annotations

from typing import Final

import attrs

from icto.factory.contract import ContractMeta, FactoryContract
from icto.factory.types import ContractInit
from icto.ic.principal import Principal
from icto.ledger.ledger import Ledger, LedgerState
from icto.ledger.types import LedgerInit
from icto.token.config import TokenConfig, validate_token_config

HOLDER: Final = "holder"


@attrs.frozen
class TokenState(LedgerState):
    meta: ContractMeta | None = None


_LEDGER_FIELDS: Final = tuple(
    (field.name, field.alias or field.name) for field in attrs.fields(LedgerState) if field.init
)


def with_meta(ledger: LedgerState, meta: ContractMeta) -> TokenState:
    """The ledger's state as a ``TokenState`` linked to its factory (built in one step)."""
    return TokenState(**{alias: getattr(ledger, name) for name, alias in _LEDGER_FIELDS}, meta=meta)


def ledger_init(owner: Principal, config: TokenConfig) -> LedgerInit:
    """The ledger a ``TokenConfig`` describes (minting account defaults to the owner)."""
    metadata = () if config.logo is None else (("icrc1:logo", config.logo),)
    return LedgerInit(
        name=config.name,
        symbol=config.symbol,
        decimals=config.decimals,
        transfer_fee=config.transfer_fee,
        minting_account=config.minting_account_for(owner),
        initial_balances=config.initial_balances,
        fee_collector=config.fee_collector,
        max_memo_length=config.max_memo_length,
        metadata=metadata,
    )


class Token(FactoryContract, Ledger):
    """An ICRC-1/2 token deployed by the Token Factory (installed with a ``ContractInit``)."""

    VERSION = "1.0.0"

    state: TokenState

    def init(self, arg: ContractInit) -> None:  # type: ignore[override]
        arg = self.checked_init(arg, validate_token_config)
        config: TokenConfig = arg.config
        super().init(ledger_init(arg.owner, config))
        self.state = with_meta(self.state, self.new_meta(arg.owner, config.is_public))

    def has_role(self, user: Principal, role: str) -> bool:
        return role == HOLDER and user in self.state.holders

    def on_holders_changed(
        self, added: tuple[Principal, ...], removed: tuple[Principal, ...]
    ) -> None:
        for user in (*added, *removed):
            self.notify_role(user, HOLDER)
