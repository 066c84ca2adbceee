"""``deploy_factory``: create and install a factory canister in one step (tests, notebooks)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from icto.factory.base import (
    DEFAULT_CYCLES_PER_CONTRACT,
    DEPLOYMENT_MESSAGES_RESERVE,
    FactoryInit,
)
from icto.factory.factory import Factory
from icto.ic.ic import IC
from icto.ic.principal import Principal
from icto.ic.proxy import CanisterProxy

DEFAULT_DEPLOYMENTS: Final = 1_000_000
"""How many contracts a factory's starting cycles pay for, at the default cycles per contract."""
DEFAULT_FACTORY_CYCLES: Final = (DEFAULT_DEPLOYMENTS + 1) * (
    DEFAULT_CYCLES_PER_CONTRACT + DEPLOYMENT_MESSAGES_RESERVE
)
"""What a factory starts with: a million contracts at the default 2T each (a notebook loop does
not run dry). ``get_factory_health()`` reports how many are left."""


def deploy_factory(
    ic: IC,
    code: type[Factory],
    *,
    backends: Iterable[Principal] = (),
    admins: Iterable[Principal] = (),
    controllers: Iterable[Principal] | None = None,
    caller: Principal | None = None,
    cycles: int = DEFAULT_FACTORY_CYCLES,
    cycles_per_contract: int = DEFAULT_CYCLES_PER_CONTRACT,
) -> CanisterProxy:
    """Deploy ``code`` (a ``Factory`` subclass) with these backends whitelisted; return a proxy.

    Controllers default to ``[caller]``, as with ``ic.deploy``.
    """
    if not (isinstance(code, type) and issubclass(code, Factory)):
        raise TypeError(f"code must be a Factory subclass, got {code!r}")
    init = FactoryInit(
        admins=tuple(admins), backends=tuple(backends), cycles_per_contract=cycles_per_contract
    )
    return ic.deploy(
        code,
        init,
        controllers=None if controllers is None else tuple(controllers),
        caller=caller,
        cycles=cycles,
    )
