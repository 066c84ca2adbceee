"""Who may hold a role: identified principals only."""

from __future__ import annotations

import pytest

from icto import Account, Err, Principal
from icto.validation import NotIdentified, identified_problem, require_identified


@pytest.mark.parametrize(
    "principal",
    [Principal.from_name("alice"), Principal.from_canister_index(7)],
    ids=["user", "canister"],
)
def test_users_and_canisters_may_hold_roles(principal: Principal) -> None:
    assert identified_problem(principal, "admin") is None
    assert require_identified(principal, "admin") is None


@pytest.mark.parametrize(
    ("principal", "reason"),
    [
        (Principal.anonymous(), "the anonymous principal cannot be an admin"),
        (Principal.management_canister(), "the management canister cannot be an admin"),
        ("alice", "an admin must be a Principal, got str"),
        (Account(Principal.from_name("alice")), "an admin must be a Principal, got Account"),
        (None, "an admin must be a Principal, got NoneType"),
    ],
    ids=["anonymous", "management", "text", "account", "none"],
)
def test_nobody_and_non_principals_are_refused_with_a_typed_error(
    principal: object, reason: str
) -> None:
    assert identified_problem(principal, "admin") == reason
    assert require_identified(principal, "admin") == Err(NotIdentified(principal, "admin", reason))


def test_the_article_follows_the_role() -> None:
    assert identified_problem(Principal.anonymous(), "backend") == (
        "the anonymous principal cannot be a backend"
    )
    assert identified_problem(Principal.anonymous(), "user") == (
        "the anonymous principal cannot be a user"
    )
    assert identified_problem(Principal.anonymous(), "owner") == (
        "the anonymous principal cannot be an owner"
    )
