"""``validate_multisig_config``: one rule for the backend (before payment) and the factory (before
deploying), listing every reason at once."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from icto import Principal
from icto.multisig import MAX_LIFETIME_NS, Kind, MultisigConfig, Role, validate_multisig_config

ALICE, BOB, CAROL, DAVE = (Principal.from_name(n) for n in ("alice", "bob", "carol", "dave"))
LEDGER = Principal.from_canister_index(7)
VALID = MultisigConfig(
    name="Team", threshold=2,
    members=((ALICE, Role.OWNER), (BOB, Role.SIGNER), (CAROL, Role.SIGNER), (DAVE, Role.OBSERVER)),
)  # fmt: skip


def reasons(owner: Principal | None = ALICE, **changes: Any) -> tuple[str, ...]:
    return validate_multisig_config(attrs.evolve(VALID, **changes), owner)


@pytest.mark.parametrize(
    "changes",
    [
        {}, {"threshold": 1}, {"threshold": 3}, {"timelock": 0}, {"lifetime": 1},
        {"lifetime": MAX_LIFETIME_NS}, {"policies": ((Kind.ADD_SIGNER, 3),)},
        {"daily_limits": ((LEDGER, 1),)}, {"is_public": True}, {"name": "T" * 100},
        {"members": ((ALICE, Role.OWNER),), "threshold": 1},
        {"members": (*((Principal.from_name(f"m{i}"), Role.OWNER) for i in range(49)),
                     (ALICE, Role.OWNER))},
    ],
    ids=["defaults", "t=1", "t=all", "no-timelock", "1ns-life", "30-day-life", "policy",
         "limit", "public", "100-char-name", "solo", "50-members"],
)  # fmt: skip
def test_configs_within_every_bound_are_valid(changes: dict[str, Any]) -> None:
    assert reasons(**changes) == ()


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"name": ""}, "name must be 1 to 100"),
        ({"name": "n" * 10_000_000}, "name must be 1 to 100"),
        ({"name": "Team\u202e"}, "name must not contain U+202E"),
        ({"description": "a\x00"}, "description must not contain U+0000"),
        ({"threshold": 0}, "threshold must be an int from 1 to the 3"),
        ({"threshold": 4}, "threshold must be an int from 1 to the 3"),
        ({"threshold": True}, "threshold must be an int"),
        ({"timelock": -1}, "timelock must be"),
        ({"lifetime": 0}, "lifetime must be"),
        ({"timelock": 5, "lifetime": 5}, "timelock must be shorter than lifetime"),
        ({"timelock": MAX_LIFETIME_NS + 1}, "timelock must be shorter than lifetime"),
        ({"lifetime": MAX_LIFETIME_NS + 1}, "lifetime must be"),
        ({"members": ()}, "a wallet has 1 to 50 members"),
        ({"members": tuple((Principal.from_name(f"m{i}"), Role.OWNER) for i in range(51))},
         "a wallet has 1 to 50 members"),
        ({"members": ((ALICE, Role.OWNER), (ALICE, Role.SIGNER))}, "more than once"),
        ({"members": ((ALICE, "Owner"),)}, "a member's role is a Role"),
        ({"members": ((ALICE, Role.OWNER), (Principal.anonymous(), Role.SIGNER))},
         "the anonymous principal cannot be a member"),
        ({"members": ((ALICE, Role.OWNER), (Principal.management_canister(), Role.OBSERVER))},
         "the management canister cannot be a member"),
        ({"members": ((ALICE, Role.SIGNER), (BOB, Role.SIGNER))}, "at least one Owner"),
        ({"members": ((BOB, Role.OWNER), (ALICE, Role.SIGNER))}, "deploying user must be"),
        ({"members": "alice"}, "members must be (Principal, Role) pairs"),
        ({"policies": ((Kind.ADD_SIGNER, 4),)}, "a policy threshold is an int from 1"),
        ({"policies": (("AddSigner", 2),)}, "a policy names a Kind"),
        ({"policies": ((Kind.FREEZE, 2), (Kind.FREEZE, 3))}, "more than once"),
        ({"daily_limits": ((ALICE, 5),)}, "names a ledger canister"),
        ({"daily_limits": ((LEDGER, 0),)}, "a daily limit is an int from 1"),
        ({"daily_limits": ((LEDGER, 2**128),)}, "a daily limit is an int from 1"),
        ({"is_public": "yes"}, "is_public must be a bool"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)  # fmt: skip
def test_each_bound_is_refused_with_its_own_reason(changes: dict[str, Any], fragment: str) -> None:
    found = reasons(**changes)
    assert any(fragment in reason for reason in found), found


def test_every_reason_is_listed_at_once_and_the_owner_is_checked() -> None:
    found = reasons(Principal.anonymous(), name="", threshold=9, lifetime=0, is_public=1)
    assert len(found) == 5, found
    assert found[0] == "the anonymous principal cannot be an owner"


def test_anything_but_a_multisig_config_is_refused() -> None:
    assert validate_multisig_config({"name": "Team"}, ALICE) == (
        "expected a MultisigConfig, got dict",
    )


def test_members_and_policies_may_be_given_as_dicts() -> None:
    config = MultisigConfig(name="T", members={ALICE: Role.OWNER}, threshold=1,
                            policies={Kind.FREEZE: 1})  # fmt: skip
    assert config.members == ((ALICE, Role.OWNER),)
    assert validate_multisig_config(config, ALICE) == ()


def test_elements_of_the_wrong_type_are_reasons_not_traps() -> None:
    config = MultisigConfig(
        name="T", threshold=1, members=(([], Role.OWNER),), policies=(([], 1),),
        daily_limits=(([], None),),
    )  # fmt: skip
    assert validate_multisig_config(config, None) == (
        "a member must be a Principal, got list", "a policy names a Kind, got []",
        "a daily limit names a ledger canister, got []",
        "a daily limit is an int from 1 to 2**128 - 1",
    )  # fmt: skip
