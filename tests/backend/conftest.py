"""Fixtures of the backend tests: a deployed platform, funded users, a valid token config."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from icto import E8S, IC, Account, Principal
from icto.system import System, deploy_system
from icto.token import TokenConfig

FEE = 1 * E8S
"""The token factory's default fee."""
LEDGER_FEE = 10_000
"""The ICP ledger's transfer fee."""


def token_config(symbol: str = "ALP", owner_name: str = "alice", **changes: object) -> TokenConfig:
    """A valid token config: one holder on a subaccount of ``owner_name``."""
    holder = Account(Principal.from_name(owner_name), b"\x01" * 32)
    fields: dict[str, object] = {
        "name": f"Token {symbol}", "symbol": symbol, "initial_balances": ((holder, 1_000_000),),
    }  # fmt: skip
    fields.update(changes)
    return TokenConfig(**fields)  # type: ignore[arg-type]


@pytest.fixture
def system(ic: IC) -> System:
    return deploy_system(ic)


@pytest.fixture
def fund(system: System) -> Callable[..., Principal]:
    """``fund(user, balance=10 ICP, approve=5 ICP)``: mint ICP to a user and approve the backend."""

    def funded(
        user: Principal, balance: int = 10 * E8S, approve: int | None = 5 * E8S
    ) -> Principal:
        if balance:
            system.faucet(user, balance)
        if approve is not None:
            system.approve_backend(user, approve)
        return user

    return funded
