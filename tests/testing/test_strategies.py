"""The strategies' contract: valid configs always validate, invalid ones never do."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import find, given, settings
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


@given(icto_st.accounts(default=True))
def test_default_accounts_are_default_however_written(account: Account) -> None:
    assert account.is_default and account == Account(account.owner)


@given(icto_st.accounts(default=False))
def test_other_accounts_are_never_default(account: Account) -> None:
    assert not account.is_default and account != Account(account.owner)


@pytest.mark.parametrize(
    ("default", "drawn"),
    [
        (True, lambda account: account.subaccount is None),
        (True, lambda account: account.subaccount == bytes(32)),
        (None, lambda account: account.subaccount == bytes(32)),
        (None, lambda account: account.owner.is_canister),
        (None, lambda account: account.owner.is_self_authenticating),
        (False, lambda account: account.owner.is_canister),
    ],
    ids=["None", "32 zero bytes", "zero bytes among all", "canister owner", "user owner",
         "canister owner, other subaccount"],
)  # fmt: skip
def test_accounts_draw_every_valid_icrc1_account(
    default: bool | None, drawn: Callable[[Account], bool]
) -> None:
    """The default subaccount written out (``Account(p, bytes(32))``, equal to ``Account(p)``
    but stored as given) and canister owners are valid ICRC-1 accounts: they are drawn too."""
    quiet = settings(database=None, derandomize=True)
    assert drawn(find(icto_st.accounts(default=default), drawn, settings=quiet))


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
