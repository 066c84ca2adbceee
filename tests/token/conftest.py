"""Token Factory fixtures: a ``TokenFactory`` whose whitelisted backend is a test principal, and a
helper that deploys a token through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from icto import IC, Principal, TokenConfig, TokenFactory
from icto.factory import deploy_factory
from icto.ic.proxy import CanisterProxy

SUB1 = bytes(31) + b"\x01"
SUB2 = bytes(31) + b"\x02"
ZEROS = bytes(32)


def token_config(**overrides: Any) -> TokenConfig:
    """A valid ``TokenConfig`` ("Test Token", TST, the ``TokenConfig`` defaults) with
    ``overrides`` applied."""
    fields: dict[str, Any] = {"name": "Test Token", "symbol": "TST"}
    fields.update(overrides)
    return TokenConfig(**fields)


@pytest.fixture
def factory(ic: IC, admin: Principal, backend: Principal) -> CanisterProxy:
    """A ``TokenFactory`` controlled by ``admin`` with ``backend`` whitelisted."""
    return deploy_factory(ic, TokenFactory, backends=[backend], caller=admin)


@pytest.fixture
def create_token(
    ic: IC, factory: CanisterProxy, backend: Principal
) -> Callable[..., CanisterProxy]:
    """``create_token(owner, **config_overrides)`` → a proxy on the new token, called as its
    owner. The config is ``token_config(**config_overrides)``; the deployment must succeed."""

    def create(owner: Principal, **config_overrides: Any) -> CanisterProxy:
        config = token_config(**config_overrides)
        token = factory.as_caller(backend).create_contract(owner, config).unwrap()
        return ic.actor(token, owner)

    return create
