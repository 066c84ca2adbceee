"""``config_digest``: one canonical encoding, the same bytes in every process and version, and a
memo (by identity) only for configs made of immutable parts.

The golden digests below were computed by the first encoder; a ticket recorded by a factory
before an upgrade must still match the same request after it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

import attrs
import immutables
import pytest

from icto import Account, Principal
from icto.factory import tickets
from icto.factory.tickets import config_digest
from icto.token import TokenConfig
from tests.factory.toys import ClubConfig

OWNER = Principal.from_name("owner")


class Shade(enum.Enum):
    DARK = 1


@attrs.define
class Loose:
    items: list[object] = attrs.Factory(list)


@attrs.frozen
class Holder:
    value: object = None


@pytest.fixture(autouse=True)
def fresh_memo() -> Iterator[None]:
    tickets._DIGESTS.clear()
    yield
    tickets._DIGESTS.clear()


def golden_token_config() -> TokenConfig:
    return TokenConfig(
        name="Golden", symbol="GLD", decimals=6,
        initial_balances=((Account(OWNER, bytes(31) + b"\x01"), 1_000),), logo="data:x",
        description="d\nx",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "digest"),
    [
        (golden_token_config, "82d634e5aad10bf734b0046781f9bde1a2e3486be45ecc248700c190a52e843c"),
        (
            lambda: (None, True, 1, "é", b"\x00", OWNER, immutables.Map({"b": 1, "a": (2,)}),
                     frozenset({3, "x"}), 1.5),
            "74f6c4ad4996090d7165cbb012a2e31f8e929ebdbef02c7403f0ab7fea088271",
        ),
        (
            lambda: [1, {"k": [2]}, {4, 5}, Shade.DARK, Loose(items=[True])],
            "080a0f918381636d437385bc140a6db77c8aa0cc11b8ca2dae01c837337aacbd",
        ),
    ],
)  # fmt: skip
def test_the_encoding_is_the_one_tickets_were_recorded_with(value: object, digest: str) -> None:
    config = value() if callable(value) else value
    assert config_digest(config).hex() == digest
    assert config_digest(config).hex() == digest


@pytest.mark.parametrize(("one", "other"), [(1, True), (0, False), (1, 1.0)])
def test_equal_values_of_other_types_have_other_digests(one: object, other: object) -> None:
    assert Holder(one) == Holder(other)
    assert config_digest(Holder(one)) != config_digest(Holder(other))
    assert config_digest(Holder(other)) != config_digest(Holder(one))


def test_a_config_of_immutable_parts_is_remembered() -> None:
    config = golden_token_config()
    first = config_digest(config)
    assert len(tickets._DIGESTS) == 1
    assert config_digest(config) == first
    assert config_digest(golden_token_config()) == first


@pytest.mark.parametrize(
    "make", [lambda: Loose(items=[1]), lambda: Holder([1]), lambda: Holder({"k": 1}),
             lambda: Holder({1}), lambda: Holder(object())],
)  # fmt: skip
def test_a_config_holding_anything_mutable_is_encoded_afresh(make: object) -> None:
    assert callable(make)
    config = make()
    config_digest(config)
    assert len(tickets._DIGESTS) == 0


def test_a_changed_mutable_part_changes_the_digest() -> None:
    members: list[Principal] = []
    config = ClubConfig(name="C", members=members)  # type: ignore[arg-type]
    before = config_digest(config)
    members.append(OWNER)
    assert config_digest(config) != before
    assert config_digest(config) == config_digest(ClubConfig(name="C", members=(OWNER,)))


def test_the_memo_stays_bounded() -> None:
    for n in range(1_000):
        config_digest(ClubConfig(name=f"Club {n}"))
    assert len(tickets._DIGESTS) <= 256


def test_a_principal_is_not_encoded_as_its_bytes() -> None:
    assert config_digest(Holder(OWNER)) != config_digest(Holder(OWNER.bytes))
