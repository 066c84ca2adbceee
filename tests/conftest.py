"""Shared fixtures: a fresh IC per test and deterministic user principals."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from icto import IC, Principal


@pytest.fixture
def ic() -> IC:
    return IC()


@pytest.fixture
def principal() -> Callable[[str], Principal]:
    return Principal.from_name


@pytest.fixture
def alice() -> Principal:
    return Principal.from_name("alice")


@pytest.fixture
def bob() -> Principal:
    return Principal.from_name("bob")
