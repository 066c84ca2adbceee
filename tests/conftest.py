"""Shared fixtures: a fresh IC per test and deterministic user principals."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from icto import Principal

settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


# ``ic`` and ``principal`` come from icto's own pytest plugin (icto.testing).


@pytest.fixture
def alice() -> Principal:
    return Principal.from_name("alice")


@pytest.fixture
def bob() -> Principal:
    return Principal.from_name("bob")


@pytest.fixture
def carol() -> Principal:
    return Principal.from_name("carol")


@pytest.fixture
def dave() -> Principal:
    return Principal.from_name("dave")


@pytest.fixture
def admin() -> Principal:
    """Controller of the factories the tests deploy."""
    return Principal.from_name("factory-admin")


@pytest.fixture
def backend() -> Principal:
    """Stands in for the backend canister: the one whitelisted deployer of test factories."""
    return Principal.from_name("backend")
