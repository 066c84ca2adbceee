"""The Token Factory and the tokens it deploys (ICRC-1/2 ledgers that report their holders)."""

from icto.token.config import TokenConfig, validate_token_config
from icto.token.contract import HOLDER, Token, TokenState
from icto.token.factory import TokenDetails, TokenFactory, TokenFactoryState

__all__ = [
    "HOLDER",
    "Token",
    "TokenConfig",
    "TokenDetails",
    "TokenFactory",
    "TokenFactoryState",
    "TokenState",
    "validate_token_config",
]
