"""Factory fixtures: a club factory whose whitelisted backend is a test principal."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from icto import IC, CallRejected, Principal
from icto.factory import deploy_factory
from icto.ic.proxy import CanisterProxy
from tests.factory.toys import ClubConfig, ClubFactory


@pytest.fixture
def admin() -> Principal:
    return Principal.from_name("factory-admin")


@pytest.fixture
def backend() -> Principal:
    """Stands in for the backend canister until it exists: the one whitelisted deployer."""
    return Principal.from_name("backend")


@pytest.fixture
def carol() -> Principal:
    return Principal.from_name("carol")


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


def rejected(call: Callable[[], object]) -> CallRejected:
    """Run ``call`` and return the ``CallRejected`` it must raise."""
    with pytest.raises(CallRejected) as info:
        call()
    return info.value
