"""The strategies' contract: valid configs always validate, invalid ones never do."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from icto import Account, Principal
from icto.dao import DAOConfig, validate_dao_config
from icto.distribution import validate_distribution_config
from icto.distribution.config import DistributionConfig
from icto.launchpad import LaunchpadConfig, validate_launchpad_config
from icto.multisig import validate_multisig_config
from icto.multisig.config import MultisigConfig
from icto.testing import strategies as icto_st
from icto.token import validate_token_config
from icto.token.config import TokenConfig
from icto.validation import identified_problem

TOKEN = Principal.from_canister_index(7)


@given(icto_st.principals())
def test_principals_can_hold_any_role(principal: Principal) -> None:
    assert identified_problem(principal, "owner") is None


@given(icto_st.accounts(), icto_st.amounts(max_value=10))
def test_accounts_and_amounts(account: Account, amount: int) -> None:
    assert isinstance(account, Account)
    assert 0 <= amount <= 10


@given(icto_st.token_configs(), icto_st.principals())
def test_valid_token_configs_validate_for_any_owner(config: TokenConfig, owner: Principal) -> None:
    assert validate_token_config(config, owner) == ()


@given(icto_st.token_configs(valid=False), icto_st.principals())
def test_invalid_token_configs_are_refused(config: TokenConfig, owner: Principal) -> None:
    assert validate_token_config(config, owner) != ()


@given(st.data(), icto_st.principals())
def test_valid_multisig_configs_validate(data: st.DataObject, owner: Principal) -> None:
    config: MultisigConfig = data.draw(icto_st.multisig_configs(owner))
    assert validate_multisig_config(config, owner) == ()


@given(st.data(), icto_st.principals())
def test_invalid_multisig_configs_are_refused(data: st.DataObject, owner: Principal) -> None:
    config: MultisigConfig = data.draw(icto_st.multisig_configs(owner, valid=False))
    assert validate_multisig_config(config, owner) != ()


@given(st.data(), icto_st.principals())
def test_valid_distribution_configs_validate(data: st.DataObject, owner: Principal) -> None:
    config: DistributionConfig = data.draw(icto_st.distribution_configs(TOKEN, owner))
    assert validate_distribution_config(config, owner) == ()


@given(st.data(), icto_st.principals())
def test_invalid_distribution_configs_are_refused(data: st.DataObject, owner: Principal) -> None:
    config = data.draw(icto_st.distribution_configs(TOKEN, owner, valid=False))
    assert validate_distribution_config(config, owner) != ()


@given(st.data(), icto_st.principals())
def test_valid_dao_configs_validate(data: st.DataObject, owner: Principal) -> None:
    config: DAOConfig = data.draw(icto_st.dao_configs(TOKEN, owner))
    assert validate_dao_config(config, owner) == ()


@given(st.data(), icto_st.principals())
def test_invalid_dao_configs_are_refused(data: st.DataObject, owner: Principal) -> None:
    config = data.draw(icto_st.dao_configs(TOKEN, owner, valid=False))
    assert validate_dao_config(config, owner) != ()


@given(st.data(), icto_st.principals())
def test_valid_launchpad_configs_validate(data: st.DataObject, owner: Principal) -> None:
    config: LaunchpadConfig = data.draw(icto_st.launchpad_configs(TOKEN, owner))
    assert validate_launchpad_config(config, owner) == ()


@given(st.data(), icto_st.principals())
def test_invalid_launchpad_configs_are_refused(data: st.DataObject, owner: Principal) -> None:
    config = data.draw(icto_st.launchpad_configs(TOKEN, owner, valid=False))
    assert validate_launchpad_config(config, owner) != ()
