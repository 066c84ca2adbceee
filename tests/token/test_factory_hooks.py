"""How a deployment updates the factory's state: built once, domain indexes included.

A domain names its index fields (``indexed_fields``) and the deployment merges them into the one
state it builds; a domain that overrides ``indexed`` instead is still called with the registered
state. Either way the indexes answer the same.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from icto import IC, Principal, TokenFactory
from icto.factory import deploy_factory
from icto.factory.base import Counters
from icto.factory.types import ContractInfo
from icto.ic.proxy import CanisterProxy
from icto.token import TokenFactoryState
from tests.token.conftest import token_config


@attrs.frozen
class CountingState(TokenFactoryState):
    registered: tuple[str, ...] = ()


class CountingFactory(TokenFactory):
    """Overrides ``indexed`` (the older hook) and keeps the Token Factory's own index."""

    STATE = CountingState

    def indexed(self, state: Any, info: ContractInfo) -> Any:
        assert state.index.info(info.id) == info
        state = super().indexed(state, info)
        return attrs.evolve(state, registered=(*state.registered, info.details.symbol))


def test_a_deployment_lists_the_token_under_its_symbol(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    token = factory.as_caller(backend).create_contract(alice, token_config(symbol="Abc")).unwrap()
    state = ic.state_of(factory.id)
    assert [state.index.at(seq).id for seq in state.by_symbol["ABC"]] == [token]
    assert len(state.deploying) == 0 and state.counters.deployed == 1
    assert factory.as_caller(alice).get_tokens_by_symbol("abc").items[0].id == token


def test_a_domain_overriding_indexed_is_still_called_with_the_registered_state(
    ic: IC, admin: Principal, backend: Principal, alice: Principal
) -> None:
    factory = deploy_factory(ic, CountingFactory, backends=[backend], caller=admin)
    for symbol in ("ONE", "TWO"):
        factory.as_caller(backend).create_contract(alice, token_config(symbol=symbol)).unwrap()
    state = ic.state_of(factory.id)
    assert state.registered == ("ONE", "TWO")
    assert sorted(state.by_symbol) == ["ONE", "TWO"]


def test_indexed_still_adds_the_domain_fields_when_called_directly(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    token = factory.as_caller(backend).create_contract(alice, token_config(symbol="XY")).unwrap()
    state = ic.state_of(factory.id)
    info = state.index.info(token)
    bare = attrs.evolve(state, by_symbol=state.by_symbol.delete("XY"))
    rebuilt = TokenFactory.indexed(TokenFactory.__new__(TokenFactory), bare, info)
    assert rebuilt == state


def test_bumped_raises_one_counter_only() -> None:
    counters = Counters(deployed=2, failed_deployments=1)
    assert counters.bumped("deployed") == Counters(deployed=3, failed_deployments=1)
    assert counters.bumped("failed_upgrades") == Counters(2, 1, 0, 0, 1)
    with pytest.raises(AttributeError, match="no counter"):
        counters.bumped("nonsense")
