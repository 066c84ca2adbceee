"""``validate_token_config`` remembers the configs it found valid, by identity.

Every canister still checks its input: the memo only spares checking the very same objects
again. A refusal is never remembered, and a config equal to a valid one but of other types
(``True`` for ``1``) or a valid config asked about for another owner is checked in full.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from icto import IC, Account, Err, InvalidConfig, Principal, TokenConfig
from icto.ic.proxy import CanisterProxy
from icto.token import config as token_config_module
from icto.token import validate_token_config
from tests.token.conftest import SUB1, token_config


@pytest.fixture(autouse=True)
def fresh_memo() -> Iterator[None]:
    token_config_module._VALID.clear()
    yield
    token_config_module._VALID.clear()


def checks(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The configs checked in full from now on."""
    seen: list[object] = []
    full = token_config_module._problems

    def counting(config: object, owner: Principal | None) -> tuple[str, ...]:
        seen.append(config)
        return full(config, owner)

    monkeypatch.setattr(token_config_module, "_problems", counting)
    return seen


def test_a_valid_config_is_checked_in_full_once_per_owner(
    monkeypatch: pytest.MonkeyPatch, alice: Principal
) -> None:
    seen = checks(monkeypatch)
    config = token_config()
    for _ in range(3):
        assert validate_token_config(config, alice) == ()
    assert seen == [config]


def test_an_invalid_config_is_refused_every_time(
    monkeypatch: pytest.MonkeyPatch, alice: Principal
) -> None:
    seen = checks(monkeypatch)
    config = token_config(symbol="$$")
    answers = {validate_token_config(config, alice) for _ in range(3)}
    assert len(answers) == 1 and answers != {()}
    assert len(seen) == 3


def test_an_equal_config_of_other_types_is_not_taken_for_a_valid_one(alice: Principal) -> None:
    fields: dict[str, object] = {"decimals": 1, "is_public": True, "transfer_fee": 1}
    valid = token_config(**fields)
    assert validate_token_config(valid, alice) == ()
    for field, value in (("decimals", True), ("is_public", 1), ("transfer_fee", 1.0)):
        lookalike = token_config(**{**fields, field: value})
        assert lookalike == valid and hash(lookalike) == hash(valid)
        assert validate_token_config(lookalike, alice) != ()


def test_a_valid_amount_of_the_wrong_type_is_still_refused(alice: Principal) -> None:
    treasury = Account(alice, SUB1)
    valid = token_config(initial_balances=((treasury, 1),))
    lookalike = token_config(initial_balances=((treasury, True),))
    assert valid == lookalike and hash(valid) == hash(lookalike)
    assert validate_token_config(valid, alice) == ()
    assert validate_token_config(lookalike, alice) == (
        "initial_balances must be (Account, amount >= 0) pairs",
    )


def test_a_config_valid_for_one_owner_is_checked_again_for_another(alice: Principal) -> None:
    config = token_config(initial_balances=((Account(alice), 5),), minting_account=None)
    assert validate_token_config(config) == ()
    assert validate_token_config(config, alice) != ()
    assert validate_token_config(config, Principal.anonymous()) != ()
    assert validate_token_config(config) == ()


def test_the_memo_stays_bounded(alice: Principal) -> None:
    for n in range(1_000):
        assert validate_token_config(token_config(name=f"Token {n}"), alice) == ()
    assert len(token_config_module._VALID) <= 256


def test_each_canister_still_refuses_a_config_valid_for_somebody_else(
    ic: IC, factory: CanisterProxy, backend: Principal, alice: Principal
) -> None:
    config = token_config(initial_balances=((Account(alice), 5),))
    assert validate_token_config(config, Principal.from_name("someone else")) == ()
    result = factory.as_caller(backend).create_contract(alice, config)
    assert isinstance(result, Err) and isinstance(result.error, InvalidConfig)
    assert result.error == InvalidConfig(validate_token_config(config, alice))


def test_a_token_config_is_still_an_immutable_hashable_value() -> None:
    config = TokenConfig(name="Same", symbol="SAME")
    assert config == TokenConfig(name="Same", symbol="SAME")
    assert hash(config) == hash(TokenConfig(name="Same", symbol="SAME"))
