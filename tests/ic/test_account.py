"""ICRC-1 accounts (spec ic.md §1; textual encoding and vectors from reference/anchors.md §5.3).

An account is ``{owner, subaccount}``; a missing subaccount and 32 zero bytes are the same account.
Text: the owner's text for the default account, else ``<owner>-<checksum>.<hex without leading 0s>``
with ``checksum = base32(crc32_be(owner_bytes ++ subaccount))``.
"""

from __future__ import annotations

import base64
import copy
import os
import pickle
import subprocess
import sys
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto.ic.account import DEFAULT_SUBACCOUNT, Account, InvalidAccount
from icto.ic.principal import Principal

OWNER_TEXT = "k2t6j-2nvnp-4zjm3-25dtz-6xhaa-c7boj-5gayf-oj3xs-i43lp-teztq-6ae"
OWNER = Principal.from_text(OWNER_TEXT)
SUB_ONE = bytes(31) + b"\x01"
SUB_SEQ = bytes(range(1, 33))
TEXT_ONE = f"{OWNER_TEXT}-6cc627i.1"
TEXT_SEQ = f"{OWNER_TEXT}-dfxgiyy.102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def reference_checksum(owner: bytes, subaccount: bytes) -> str:
    """Independent oracle for the ICRC-1 account checksum (anchors.md §5.3)."""
    crc = zlib.crc32(owner + subaccount).to_bytes(4, "big")
    return base64.b32encode(crc).decode().lower().rstrip("=")


# -- §5.3 vectors ----------------------------------------------------------------------------------


class TestVectors:
    @pytest.mark.parametrize(
        ("subaccount", "text"),
        [
            pytest.param(None, OWNER_TEXT, id="no-subaccount"),
            pytest.param(bytes(32), OWNER_TEXT, id="zero-subaccount"),
            pytest.param(SUB_ONE, TEXT_ONE, id="subaccount-1"),
            pytest.param(SUB_SEQ, TEXT_SEQ, id="subaccount-01..20"),
        ],
    )
    def test_encode_and_decode_the_official_vectors(
        self, subaccount: bytes | None, text: str
    ) -> None:
        account = Account(OWNER, subaccount)
        assert account.to_text() == text
        assert str(account) == text
        parsed = Account.from_text(text)
        assert parsed == account
        assert parsed.owner == OWNER
        assert parsed.effective_subaccount == (subaccount or bytes(32))

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            pytest.param(f"{OWNER_TEXT}-q6bn32y.", "hexadecimal", id="non-canonical-default"),
            pytest.param(f"{OWNER_TEXT}-6cc627i.01", "leading zero", id="leading-zero"),
            pytest.param(f"{OWNER_TEXT}.1", "checksum", id="missing-checksum"),
            pytest.param(
                "k2t6j2nvnp4zjm3-25dtz6xhaac7boj5gayfoj3xs-i43lp-teztq-6ae",
                "owner",
                id="bad-principal-grouping",
            ),
        ],
    )
    def test_the_official_rejections_raise_invalid_account(self, text: str, reason: str) -> None:
        with pytest.raises(InvalidAccount, match=reason) as info:
            Account.from_text(text)
        assert isinstance(info.value, ValueError)

    def test_checksum_of_the_vectors_matches_the_reference_formula(self) -> None:
        assert reference_checksum(OWNER.bytes, SUB_ONE) == "6cc627i"
        assert reference_checksum(OWNER.bytes, SUB_SEQ) == "dfxgiyy"
        assert reference_checksum(OWNER.bytes, bytes(32)) == "q6bn32y"


# -- construction and the default subaccount -------------------------------------------------------


class TestDefaultSubaccount:
    def test_none_and_zero_subaccount_are_the_same_account(self) -> None:
        a, b = Account(OWNER), Account(OWNER, bytes(32))
        assert a == b
        assert b == a
        assert hash(a) == hash(b)
        assert a.is_default
        assert b.is_default

    def test_none_and_zero_subaccount_are_interchangeable_dict_keys(self) -> None:
        balances = {Account(OWNER): 100}
        balances[Account(OWNER, bytes(32))] += 1
        assert balances == {Account(OWNER, DEFAULT_SUBACCOUNT): 101}
        assert len({Account(OWNER), Account(OWNER, bytes(32))}) == 1

    def test_effective_subaccount_spells_out_the_default(self) -> None:
        assert Account(OWNER).subaccount is None
        assert Account(OWNER).effective_subaccount == bytes(32)
        assert Account(OWNER, bytes(32)).effective_subaccount == bytes(32)
        assert Account(OWNER, SUB_ONE).effective_subaccount == SUB_ONE

    def test_normalized_spells_the_default_as_none(self) -> None:
        assert Account(OWNER, bytes(32)).normalized().subaccount is None
        assert Account(OWNER, SUB_ONE).normalized().subaccount == SUB_ONE
        assert Account(OWNER, bytes(32)).normalized() == Account(OWNER)

    def test_default_account_text_is_the_principal_text(self) -> None:
        for owner in (OWNER, Principal.anonymous(), Principal.management_canister()):
            assert Account(owner).to_text() == owner.to_text()
            assert Account(owner, bytes(32)).to_text() == owner.to_text()
            assert Account.from_text(owner.to_text()) == Account(owner)

    def test_different_subaccounts_or_owners_are_different_accounts(self) -> None:
        assert Account(OWNER, SUB_ONE) != Account(OWNER)
        assert Account(OWNER, SUB_ONE) != Account(OWNER, SUB_SEQ)
        assert Account(OWNER, SUB_ONE) != Account(Principal.anonymous(), SUB_ONE)
        assert Account(OWNER) != Account(Principal.anonymous())

    def test_an_account_is_not_equal_to_its_owner(self) -> None:
        assert Account(OWNER) != OWNER
        assert Account(OWNER) != OWNER_TEXT


class TestConstructionErrors:
    @pytest.mark.parametrize("length", [0, 1, 31, 33, 64])
    def test_subaccounts_of_other_lengths_are_rejected(self, length: int) -> None:
        with pytest.raises(InvalidAccount, match="32 bytes"):
            Account(OWNER, bytes(length))

    @pytest.mark.parametrize(
        "subaccount", [bytearray(32), "00" * 32, [0] * 32, 0, memoryview(bytes(32))]
    )
    def test_non_bytes_subaccounts_are_rejected(self, subaccount: object) -> None:
        with pytest.raises(InvalidAccount, match="subaccount must be bytes"):
            Account(OWNER, subaccount)  # type: ignore[arg-type]

    @pytest.mark.parametrize("owner", [OWNER_TEXT, OWNER.bytes, None, Account(OWNER)])
    def test_non_principal_owners_are_rejected(self, owner: object) -> None:
        with pytest.raises(InvalidAccount, match="owner must be a Principal"):
            Account(owner)  # type: ignore[arg-type]

    def test_invalid_account_is_a_value_error(self) -> None:
        assert issubclass(InvalidAccount, ValueError)


# -- parsing ---------------------------------------------------------------------------------------


class TestParsing:
    def test_upper_case_hex_is_accepted_and_re_encoded_in_lower_case(self) -> None:
        upper = f"{OWNER_TEXT}-dfxgiyy.{SUB_SEQ.hex().lstrip('0').upper()}"
        account = Account.from_text(upper)
        assert account == Account(OWNER, SUB_SEQ)
        assert account.to_text() == TEXT_SEQ

    def test_upper_case_owner_and_checksum_are_accepted(self) -> None:
        account = Account.from_text(TEXT_ONE.upper())
        assert account == Account(OWNER, SUB_ONE)
        assert account.to_text() == TEXT_ONE

    def test_full_width_hex_without_leading_zero_is_accepted(self) -> None:
        sub = b"\xab" + bytes(range(31))
        text = f"{OWNER_TEXT}-{reference_checksum(OWNER.bytes, sub)}.{sub.hex()}"
        assert len(text.rpartition(".")[2]) == 64
        assert Account.from_text(text) == Account(OWNER, sub)
        assert Account(OWNER, sub).to_text() == text

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            pytest.param(f"{OWNER_TEXT}-6cc627i.01", "leading zeros", id="leading-zero"),
            pytest.param(f"{OWNER_TEXT}-6cc627i.001", "leading zeros", id="two-leading-zeros"),
            pytest.param(f"{OWNER_TEXT}-q6bn32y.0", "leading zeros", id="zero-hex"),
            pytest.param(f"{OWNER_TEXT}-6cc627i.", "hexadecimal", id="empty-hex"),
            pytest.param(f"{OWNER_TEXT}-6cc627i.1g", "hexadecimal", id="non-hex-letter"),
            pytest.param(f"{OWNER_TEXT}-6cc627i.+1", "hexadecimal", id="sign"),
            pytest.param(f"{OWNER_TEXT}-6cc627i. 1", "hexadecimal", id="space"),
            pytest.param(f"{OWNER_TEXT}-6cc627i.0x1", "leading zeros|hexadecimal", id="0x"),
            pytest.param(f"{OWNER_TEXT}-6cc627i.1.1", "hexadecimal", id="second-dot"),
            pytest.param(f"{OWNER_TEXT}-6cc627i.1" + "0" * 64, "longer than 32", id="65-digits"),
            pytest.param(f"{OWNER_TEXT}-6cc627j.1", "checksum mismatch", id="wrong-checksum"),
            pytest.param(f"{OWNER_TEXT}-dfxgiyy.1", "checksum mismatch", id="other-checksum"),
            pytest.param(f"{OWNER_TEXT}-6cc627.1", "checksum", id="checksum-too-short"),
            pytest.param(f"{OWNER_TEXT}-6cc627ia.1", "checksum", id="checksum-too-long"),
            pytest.param(f"{OWNER_TEXT}-.1", "checksum", id="empty-checksum"),
            pytest.param(f"{OWNER_TEXT}6cc627i.1", "checksum", id="checksum-without-dash"),
            pytest.param(f"{OWNER_TEXT}-6cc627!.1", "not base32", id="checksum-not-base32"),
            pytest.param("-6cc627i.1", "owner", id="empty-owner"),
            pytest.param(f"{OWNER_TEXT[:-1]}b-6cc627i.1", "owner", id="owner-bad-checksum"),
            pytest.param(f"{OWNER_TEXT}-6cc627i", "owner", id="no-dot-no-hex"),
            pytest.param(TEXT_ONE.replace("k", "\u212a"), "owner", id="kelvin-sign-owner"),
            pytest.param(TEXT_ONE.replace("i.", "\u0130."), "checksum", id="dotted-i-checksum"),
            pytest.param("", "owner", id="empty-text"),
            pytest.param("aaaaa", "owner", id="short-owner"),
        ],
    )
    def test_malformed_texts_are_rejected_with_the_reason(self, text: str, reason: str) -> None:
        with pytest.raises(InvalidAccount, match=reason):
            Account.from_text(text)

    @pytest.mark.parametrize("value", [None, TEXT_ONE.encode(), OWNER, 1])
    def test_non_str_text_is_rejected(self, value: object) -> None:
        with pytest.raises(InvalidAccount, match="must be str"):
            Account.from_text(value)  # type: ignore[arg-type]


# -- value semantics -------------------------------------------------------------------------------


class TestValueSemantics:
    @pytest.mark.parametrize("attribute", ["owner", "subaccount", "_hash", "other"])
    def test_accounts_are_immutable(self, attribute: str) -> None:
        account = Account(OWNER, SUB_ONE)
        with pytest.raises(AttributeError):
            setattr(account, attribute, None)
        with pytest.raises(AttributeError):
            delattr(account, attribute)
        assert account.owner == OWNER
        assert account.subaccount == SUB_ONE

    def test_str_is_the_text_and_repr_names_the_type(self) -> None:
        assert str(Account(OWNER, SUB_ONE)) == TEXT_ONE
        assert repr(Account(OWNER, SUB_ONE)) == f"Account({TEXT_ONE!r})"
        assert repr(Account(OWNER)) == f"Account({OWNER_TEXT!r})"

    @pytest.mark.parametrize(
        "account",
        [Account(OWNER), Account(OWNER, bytes(32)), Account(OWNER, SUB_SEQ)],
        ids=["none", "zeros", "sequence"],
    )
    def test_pickle_and_copy_round_trip(self, account: Account) -> None:
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            clone = pickle.loads(pickle.dumps(account, protocol=protocol))
            assert clone == account
            assert hash(clone) == hash(account)
            assert clone.subaccount == account.subaccount
        assert copy.copy(account) == account
        assert copy.deepcopy(account) == account


# -- properties ------------------------------------------------------------------------------------

owners = st.binary(min_size=0, max_size=29).map(Principal.from_bytes)
subaccounts = st.one_of(
    st.binary(min_size=32, max_size=32),
    # bias towards leading zero bytes and small subaccounts, where the hex trimming matters
    st.builds(
        lambda zeros, tail: bytes(zeros) + tail[: 32 - zeros],
        st.integers(min_value=0, max_value=32),
        st.binary(min_size=32, max_size=32),
    ),
)


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(owners, subaccounts)
    def test_accounts_round_trip_through_text(self, owner: Principal, sub: bytes) -> None:
        account = Account(owner, sub)
        text = account.to_text()
        parsed = Account.from_text(text)
        assert parsed == account
        assert hash(parsed) == hash(account)
        assert parsed.effective_subaccount == sub
        assert Account.from_text(text.upper()) == account

    @settings(max_examples=200, deadline=None)
    @given(owners, subaccounts)
    def test_text_shape(self, owner: Principal, sub: bytes) -> None:
        text = Account(owner, sub).to_text()
        if sub == bytes(32):
            assert text == owner.to_text()
            return
        assert text.count(".") == 1
        head, _, hex_part = text.partition(".")
        assert hex_part
        assert not hex_part.startswith("0")
        assert hex_part == hex_part.lower()
        assert int(hex_part, 16) == int.from_bytes(sub, "big")
        assert head == f"{owner.to_text()}-{reference_checksum(owner.bytes, sub)}"

    @settings(max_examples=200, deadline=None)
    @given(owners, subaccounts.filter(lambda s: s != bytes(32)), st.data())
    def test_single_character_checksum_mutations_are_rejected(
        self, owner: Principal, sub: bytes, data: st.DataObject
    ) -> None:
        text = Account(owner, sub).to_text()
        head, _, hex_part = text.partition(".")
        owner_text, _, checksum = head.rpartition("-")
        assert len(checksum) == 7
        i = data.draw(st.integers(min_value=0, max_value=6), label="position")
        replacement = data.draw(
            st.sampled_from([c for c in BASE32_ALPHABET if c != checksum[i]]), label="replacement"
        )
        mutated = checksum[:i] + replacement + checksum[i + 1 :]
        with pytest.raises(InvalidAccount, match="checksum"):
            Account.from_text(f"{owner_text}-{mutated}.{hex_part}")

    @settings(max_examples=100, deadline=None)
    @given(owners, subaccounts)
    def test_none_and_zero_subaccounts_agree_with_equality(
        self, owner: Principal, sub: bytes
    ) -> None:
        """Equality and hashing depend only on the owner and the effective subaccount."""
        a = Account(owner, sub)
        b = Account(owner, None if sub == bytes(32) else sub)
        assert a == b
        assert hash(a) == hash(b)
        assert (a == Account(owner)) == (sub == bytes(32))


def test_with_a_fixed_hash_seed_an_account_hashes_alike_in_every_process() -> None:
    """No part of the hash depends on where an object lands in memory, so maps keyed by
    accounts take the same shape in every run (what makes instruction counts repeatable)."""
    code = (
        "from icto.ic.account import Account; from icto.ic.principal import Principal; "
        "print(hash(Account(Principal.from_name('a'))), "
        "hash(Account(Principal.from_name('a'), bytes(31) + b'\\x01')))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0].split()) == 2
