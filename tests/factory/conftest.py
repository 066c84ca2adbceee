"""Factory fixtures: a club factory whose whitelisted backend is a test principal."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from icto import IC, Principal
from icto.factory import deploy_factory
from icto.ic.proxy import CanisterProxy
from tests.factory.toys import ClubConfig, ClubFactory


@pytest.fixture
def factory(ic: IC, admin: Principal, backend: Principal) -> CanisterProxy:
    """A ``ClubFactory`` controlled by ``admin`` with ``backend`` whitelisted."""
    return deploy_factory(ic, ClubFactory, backends=[backend], caller=admin)


@pytest.fixture
def create_club(
    ic: IC, factory: CanisterProxy, backend: Principal
) -> Callable[..., CanisterProxy]:
    """``create_club(owner, name="Club", members=(), is_public=True)`` → a proxy on the club,
    called as its owner."""

    def create(
        owner: Principal, name: str = "Club", members: tuple[Principal, ...] = (),
        is_public: bool = True,
    ) -> CanisterProxy:  # fmt: skip
        config = ClubConfig(name=name, members=members, is_public=is_public)
        club = factory.as_caller(backend).create_contract(owner, config).unwrap()
        return ic.actor(club, owner)

    return create
