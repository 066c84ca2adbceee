"""Principals (spec ic.md §1; encodings and vectors from reference/anchors.md §5.1-5.2).

A principal is at most 29 opaque bytes. Its text is base32(crc32_be(bytes) ++ bytes), lower case,
unpadded, grouped in fives with dashes. Parsing is case-insensitive and strict about the rest.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import pickle
import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto.ic.principal import InvalidPrincipal, Principal

BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def reference_text(raw: bytes) -> str:
    """The independent 5-line reference encoder of anchors.md §5.1 (the oracle for these tests)."""
    s = base64.b32encode(zlib.crc32(raw).to_bytes(4, "big") + raw).decode().lower().rstrip("=")
    return "-".join(s[i : i + 5] for i in range(0, len(s), 5))


# -- §5.2 test vectors ---------------------------------------------------------------------------

VECTORS = [
    pytest.param("", "aaaaa-aa", id="management-canister"),
    pytest.param("04", "2vxsx-fae", id="anonymous"),
    pytest.param("abcd01", "em77e-bvlzu-aq", id="spec-example"),
    pytest.param("efcdab000000000001", "2chl6-4hpzw-vqaaa-aaaaa-c", id="candid-test-case"),
    pytest.param(
        "00" * 29,
        "bnkmk-jqaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaa",
        id="29-zero-bytes",
    ),
    pytest.param("00000000000000000101", "rwlgt-iiaaa-aaaaa-aaaaa-cai", id="nns-registry"),
    pytest.param("00000000000000010101", "rrkah-fqaaa-aaaaa-aaaaq-cai", id="nns-governance"),
    pytest.param("00000000000000020101", "ryjl3-tyaaa-aaaaa-aaaba-cai", id="icp-ledger"),
    pytest.param("00000000000000030101", "r7inp-6aaaa-aaaaa-aaabq-cai", id="nns-root"),
    pytest.param("00000000000000040101", "rkp4c-7iaaa-aaaaa-aaaca-cai", id="cmc"),
    pytest.param("000000000000000b0101", "qhbym-qaaaa-aaaaa-aaafq-cai", id="ledger-index"),
    pytest.param("ffffffffffe000000101", "lxzze-o7777-77777-aaaaa-cai", id="pocketic-first-app"),
    pytest.param(
        "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f02",
        "o2x4y-ywrji-biykr-2fpeu-oyicx-muien-gecwr-lah4c-r2tcv-rnt4q-xqe",
        id="self-auth-empty-key",
    ),
    pytest.param(
        "b56bf994b37ae8e79f5ce000be1727a6060ae4eef24736b7cc999c3c02",
        "k2t6j-2nvnp-4zjm3-25dtz-6xhaa-c7boj-5gayf-oj3xs-i43lp-teztq-6ae",
        id="icrc1-doc-owner",
    ),
    pytest.param(
        "cff280e32d7f5ccd2246882f94afb20f54ca61a21765e712d43d278902",
        "tdb26-jop6k-aogll-7ltgs-eruif-6kk7m-qpktf-gdiqx-mxtrf-vb5e6-eqe",
        id="nns-subnet-id",
    ),
]

CANISTER_VECTORS = [
    pytest.param(0, "rwlgt-iiaaa-aaaaa-aaaaa-cai", id="nns-registry"),
    pytest.param(1, "rrkah-fqaaa-aaaaa-aaaaq-cai", id="nns-governance"),
    pytest.param(2, "ryjl3-tyaaa-aaaaa-aaaba-cai", id="icp-ledger"),
    pytest.param(3, "r7inp-6aaaa-aaaaa-aaabq-cai", id="nns-root"),
    pytest.param(4, "rkp4c-7iaaa-aaaaa-aaaca-cai", id="cmc"),
    pytest.param(11, "qhbym-qaaaa-aaaaa-aaafq-cai", id="ledger-index"),
    pytest.param(0xFFFFFFFFFFE00000, "lxzze-o7777-77777-aaaaa-cai", id="pocketic-first-app"),
]

THIRTY_ZERO_BYTES_TEXT = "aacd5-niaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa"


class TestVectors:
    @pytest.mark.parametrize(("hex_bytes", "text"), VECTORS)
    def test_bytes_encode_to_the_published_text(self, hex_bytes: str, text: str) -> None:
        p = Principal.from_bytes(bytes.fromhex(hex_bytes))
        assert p.to_text() == text
        assert str(p) == text

    @pytest.mark.parametrize(("hex_bytes", "text"), VECTORS)
    def test_published_text_decodes_to_the_bytes(self, hex_bytes: str, text: str) -> None:
        p = Principal.from_text(text)
        assert p.bytes == bytes.fromhex(hex_bytes)
        assert p == Principal.from_bytes(bytes.fromhex(hex_bytes))

    def test_thirty_zero_bytes_text_is_rejected_as_too_long(self) -> None:
        with pytest.raises(InvalidPrincipal, match="too long") as info:
            Principal.from_text(THIRTY_ZERO_BYTES_TEXT)
        assert isinstance(info.value, ValueError)

    @pytest.mark.parametrize(("index", "text"), CANISTER_VECTORS)
    def test_canister_ids_come_from_their_index(self, index: int, text: str) -> None:
        p = Principal.from_canister_index(index)
        assert p.to_text() == text
        assert p == Principal.from_text(text)
        assert p.bytes == index.to_bytes(8, "big") + b"\x01\x01"
        assert p.is_canister
        assert p.canister_index == index
        assert text.endswith("-cai")

    @pytest.mark.parametrize(("index", "text"), CANISTER_VECTORS)
    def test_parsed_canister_ids_report_their_index(self, index: int, text: str) -> None:
        p = Principal.from_text(text)
        assert p.is_canister
        assert p.canister_index == index


# -- well-known principals and constructors ------------------------------------------------------


class TestWellKnownPrincipals:
    def test_anonymous_is_byte_04_and_2vxsx_fae(self) -> None:
        anon = Principal.anonymous()
        assert anon.bytes == b"\x04"
        assert anon == Principal.from_bytes(b"\x04")
        assert anon == Principal.from_text("2vxsx-fae")
        assert anon.to_text() == "2vxsx-fae"
        assert anon.is_anonymous

    def test_management_canister_is_empty_and_aaaaa_aa(self) -> None:
        mgmt = Principal.management_canister()
        assert mgmt.bytes == b""
        assert mgmt == Principal.from_text("aaaaa-aa")
        assert mgmt.to_text() == "aaaaa-aa"
        assert mgmt.is_management_canister
        assert not mgmt.is_anonymous

    def test_only_the_anonymous_principal_is_anonymous(self) -> None:
        for p in (
            Principal.management_canister(),
            Principal.from_name("alice"),
            Principal.from_canister_index(4),
            Principal.from_bytes(b"\x04\x04"),
        ):
            assert not p.is_anonymous

    def test_self_authenticating_of_empty_key_matches_the_candid_vector(self) -> None:
        p = Principal.self_authenticating(b"")
        assert p.bytes.hex() == "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f02"
        assert p.to_text() == "o2x4y-ywrji-biykr-2fpeu-oyicx-muien-gecwr-lah4c-r2tcv-rnt4q-xqe"
        assert p.is_self_authenticating
        assert not p.is_canister

    def test_self_authenticating_is_sha224_of_the_key_then_tag_02(self) -> None:
        key = b"\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00" + bytes(range(32))
        p = Principal.self_authenticating(key)
        assert p.bytes == hashlib.sha224(key).digest() + b"\x02"

    def test_from_name_is_self_authenticating_of_the_utf8_name(self) -> None:
        alice = Principal.from_name("alice")
        assert alice == Principal.self_authenticating(b"alice")
        assert alice.bytes == hashlib.sha224(b"alice").digest() + b"\x02"
        assert len(alice.bytes) == 29
        assert alice.is_self_authenticating
        assert not alice.is_canister
        assert alice.canister_index is None

    def test_from_name_is_stable(self) -> None:
        """The same name gives the same principal every time (and the same text as the oracle)."""
        first = Principal.from_name("alice")
        assert Principal.from_name("alice") == first
        assert first.to_text() == reference_text(hashlib.sha224(b"alice").digest() + b"\x02")

    def test_different_names_give_different_principals(self) -> None:
        assert Principal.from_name("alice") != Principal.from_name("bob")
        assert Principal.from_name("alice") != Principal.from_name("Alice")

    def test_from_name_encodes_non_ascii_names_as_utf8(self) -> None:
        assert Principal.from_name("zoë") == Principal.self_authenticating("zoë".encode())

    def test_non_canister_principals_have_no_canister_index(self) -> None:
        for p in (
            Principal.anonymous(),
            Principal.management_canister(),
            Principal.from_bytes(bytes(10)),  # 10 bytes but not ending in 01 01
            Principal.from_bytes(bytes(9) + b"\x01"),
        ):
            assert not p.is_canister
            assert p.canister_index is None


# -- parsing rules ---------------------------------------------------------------------------------


class TestParsing:
    @pytest.mark.parametrize(
        "text",
        [
            "AAAAA-AA",
            "2VXSX-FAE",
            "Ryjl3-TYAAA-aaaaa-AAABA-cAi",
            "K2T6J-2NVNP-4ZJM3-25DTZ-6XHAA-C7BOJ-5GAYF-OJ3XS-I43LP-TEZTQ-6AE",
        ],
    )
    def test_parsing_is_case_insensitive(self, text: str) -> None:
        p = Principal.from_text(text)
        assert p == Principal.from_text(text.lower())
        assert p.to_text() == text.lower()

    @pytest.mark.parametrize(
        "text",
        [
            "aaaaa-a!",
            "aaaaa-a1",  # 1 is not in the base32 alphabet
            "aaaaa-a0",
            "aaaaa-a8",
            "2vxsx fae",
            "2vxsx_fae",
            "ryjl3-tyaaa-aaaaa-aaaba-ca.",
            "aaaaa-aé",
        ],
    )
    def test_bad_base32_characters_are_rejected(self, text: str) -> None:
        with pytest.raises(InvalidPrincipal, match="base32"):
            Principal.from_text(text)

    @pytest.mark.parametrize("text", ["2vxsx-fa=", "aaaaa-aa=", "2vxsx-f=="])
    def test_base32_padding_characters_are_rejected_as_bad_base32(self, text: str) -> None:
        """The text form is unpadded: '=' is not a base32 character of a principal text."""
        with pytest.raises(InvalidPrincipal, match="base32"):
            Principal.from_text(text)

    def test_non_ascii_look_alikes_of_base32_letters_are_rejected(self) -> None:
        """U+212A KELVIN SIGN is not the letter k, even though str.lower() maps it to 'k'."""
        text = "k2t6j-2nvnp-4zjm3-25dtz-6xhaa-c7boj-5gayf-oj3xs-i43lp-teztq-6ae"
        with pytest.raises(InvalidPrincipal, match="base32"):
            Principal.from_text(text.replace("k", "\u212a"))

    @pytest.mark.parametrize(
        "text",
        [
            "2vxsx-fbe",  # 2vxsx-fae with one character flipped
            "2vxsx-eae",
            "rwlgt-iiaaa-aaaaa-aaaab-cai",
            "ryjl3-tyaaa-aaaaa-aaaba-cbi",
            "k2t6j-2nvnp-4zjm3-25dtz-6xhaa-c7boj-5gayf-oj3xs-i43lp-teztq-7ae",
            "bnkmk-jqaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaba-aaaaa-aaa",
        ],
    )
    def test_bad_checksum_is_rejected(self, text: str) -> None:
        with pytest.raises(InvalidPrincipal, match="checksum"):
            Principal.from_text(text)

    @pytest.mark.parametrize(
        "text",
        [
            "aaa-aaaa",
            "-aaaaaaa",
            "aaaaaa-a",
            "aaaaa-aa-",  # extra trailing dash
            "-aaaaa-aa",  # leading dash
            "aaaaa--aa",
            "2vxsxfae",  # missing dash
            "rwlgtiiaaaaaaaaaaaaacai",  # all dashes missing
            "rwlgt-iiaaaaaaaa-aaaaa-cai",  # one dash missing
            "rwlgt-iiaaa-aaaaa-aaaaa-cai-",
            "rwlg-tiiaa-aaaaa-aaaaa-acai",  # dashes shifted
        ],
    )
    def test_non_canonical_grouping_is_rejected(self, text: str) -> None:
        with pytest.raises(InvalidPrincipal, match="grouping"):
            Principal.from_text(text)

    def test_seven_character_text_without_dash_is_rejected(self) -> None:
        """ "aaaaaaa" is base32 of the empty principal but ungrouped (and shorter than aaaaa-aa)."""
        with pytest.raises(InvalidPrincipal, match=r"grouping|too short"):
            Principal.from_text("aaaaaaa")

    def test_non_canonical_padding_bits_are_rejected(self) -> None:
        """'aaaaa-ab' decodes to the same bytes as 'aaaaa-aa' with a non-zero padding bit."""
        with pytest.raises(InvalidPrincipal, match="grouping or padding"):
            Principal.from_text("aaaaa-ab")

    @pytest.mark.parametrize("text", ["", "a", "aaaaa", "aaaa-aa", "2vxsx"])
    def test_too_short_text_is_rejected(self, text: str) -> None:
        with pytest.raises(InvalidPrincipal, match="too short"):
            Principal.from_text(text)

    def test_text_longer_than_any_principal_is_rejected(self) -> None:
        with pytest.raises(InvalidPrincipal, match="too long"):
            Principal.from_text(THIRTY_ZERO_BYTES_TEXT + "a")

    def test_more_than_29_bytes_is_rejected_even_when_the_text_is_short_enough(self) -> None:
        """Without dashes the 30-byte text fits in 63 characters; the byte count still fails."""
        ungrouped = THIRTY_ZERO_BYTES_TEXT.replace("-", "")
        assert len(ungrouped) <= 63
        with pytest.raises(InvalidPrincipal, match="more than 29 bytes"):
            Principal.from_text(ungrouped)

    @pytest.mark.parametrize("value", [b"aaaaa-aa", None, 4, ["aaaaa-aa"]])
    def test_non_str_input_is_rejected_with_a_clear_error(self, value: object) -> None:
        with pytest.raises(InvalidPrincipal, match="must be str"):
            Principal.from_text(value)  # type: ignore[arg-type]

    def test_invalid_principal_is_a_value_error(self) -> None:
        assert issubclass(InvalidPrincipal, ValueError)
        with pytest.raises(ValueError):
            Principal.from_text("not-a-principal")


class TestFromBytes:
    @pytest.mark.parametrize("length", [0, 1, 10, 28, 29])
    def test_up_to_29_bytes_are_accepted(self, length: int) -> None:
        raw = bytes(range(length))
        assert Principal.from_bytes(raw).bytes == raw

    @pytest.mark.parametrize("length", [30, 31, 64])
    def test_more_than_29_bytes_are_rejected(self, length: int) -> None:
        with pytest.raises(InvalidPrincipal, match="at most 29 bytes"):
            Principal.from_bytes(bytes(length))

    def test_bytearray_is_accepted_and_copied(self) -> None:
        raw = bytearray(b"\x01\x02")
        p = Principal.from_bytes(raw)  # type: ignore[arg-type]
        raw[0] = 0xFF
        assert p.bytes == b"\x01\x02"
        assert type(p.bytes) is bytes

    @pytest.mark.parametrize("value", ["aaaaa-aa", None, 4, [1, 2]])
    def test_non_bytes_are_rejected(self, value: object) -> None:
        with pytest.raises(InvalidPrincipal, match="must be bytes"):
            Principal.from_bytes(value)  # type: ignore[arg-type]

    @pytest.mark.parametrize("value", [None, "alice", 3])
    def test_self_authenticating_requires_bytes(self, value: object) -> None:
        with pytest.raises(InvalidPrincipal):
            Principal.self_authenticating(value)  # type: ignore[arg-type]

    @pytest.mark.parametrize("value", [None, b"alice", 3])
    def test_from_name_requires_str(self, value: object) -> None:
        with pytest.raises(InvalidPrincipal, match="must be str"):
            Principal.from_name(value)  # type: ignore[arg-type]


class TestFromCanisterIndex:
    def test_largest_u64_index_is_accepted(self) -> None:
        p = Principal.from_canister_index(2**64 - 1)
        assert p.bytes == b"\xff" * 8 + b"\x01\x01"
        assert p.canister_index == 2**64 - 1

    @pytest.mark.parametrize("index", [-1, -(2**64), 2**64, 2**70, True, False, 1.0, "2", None])
    def test_non_u64_indexes_are_rejected(self, index: object) -> None:
        with pytest.raises(InvalidPrincipal, match="u64"):
            Principal.from_canister_index(index)  # type: ignore[arg-type]


# -- value semantics -------------------------------------------------------------------------------


class TestValueSemantics:
    def test_equality_is_by_bytes(self) -> None:
        assert Principal.from_bytes(b"\x01\x02") == Principal.from_bytes(b"\x01\x02")
        assert Principal.from_bytes(b"\x01\x02") != Principal.from_bytes(b"\x01\x03")
        assert Principal.from_text("2vxsx-fae") == Principal.anonymous()

    def test_a_principal_is_not_equal_to_its_text_or_bytes(self) -> None:
        anon = Principal.anonymous()
        assert anon != "2vxsx-fae"
        assert anon != b"\x04"
        assert anon != None  # noqa: E711

    def test_equal_principals_hash_equal_and_work_as_dict_keys(self) -> None:
        a = Principal.from_text("ryjl3-tyaaa-aaaaa-aaaba-cai")
        b = Principal.from_canister_index(2)
        assert a is not b
        assert hash(a) == hash(b)
        balances = {a: 10}
        balances[b] += 5
        assert balances == {Principal.from_bytes(bytes.fromhex("00000000000000020101")): 15}
        assert len({a, b, Principal.anonymous()}) == 2

    def test_ordering_is_lexicographic_by_bytes(self) -> None:
        raws = [b"\x04", b"", b"\x04\x00", b"\x00\xff", b"\x01", b"\xff", b"\x00"]
        principals = [Principal.from_bytes(r) for r in raws]
        assert [p.bytes for p in sorted(principals)] == sorted(raws)
        empty, anon = Principal.management_canister(), Principal.anonymous()
        assert empty < anon
        assert empty <= anon
        assert anon > empty
        assert anon >= empty
        assert anon <= Principal.from_bytes(b"\x04")
        assert anon >= Principal.from_bytes(b"\x04")
        assert not anon < Principal.from_bytes(b"\x04")
        assert not anon > Principal.from_bytes(b"\x04")

    def test_ordering_against_other_types_raises_type_error(self) -> None:
        with pytest.raises(TypeError):
            _ = Principal.anonymous() < "2vxsx-fae"  # type: ignore[operator]
        with pytest.raises(TypeError):
            _ = Principal.anonymous() >= b"\x04"  # type: ignore[operator]

    @pytest.mark.parametrize("attribute", ["_bytes", "bytes", "_text", "other"])
    def test_principals_are_immutable(self, attribute: str) -> None:
        p = Principal.from_name("alice")
        before = p.bytes
        with pytest.raises(AttributeError):
            setattr(p, attribute, b"\x04")
        with pytest.raises(AttributeError):
            delattr(p, attribute)
        assert p.bytes == before
        assert p == Principal.from_name("alice")

    def test_str_is_the_text_and_repr_names_the_type(self) -> None:
        p = Principal.from_canister_index(2)
        assert str(p) == "ryjl3-tyaaa-aaaaa-aaaba-cai"
        assert repr(p) == "Principal('ryjl3-tyaaa-aaaaa-aaaba-cai')"
        assert f"{Principal.anonymous()}" == "2vxsx-fae"

    @pytest.mark.parametrize(
        "p",
        [
            Principal.anonymous(),
            Principal.management_canister(),
            Principal.from_name("alice"),
            Principal.from_canister_index(11),
        ],
        ids=["anonymous", "management", "alice", "canister"],
    )
    def test_pickle_and_copy_round_trip(self, p: Principal) -> None:
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            clone = pickle.loads(pickle.dumps(p, protocol=protocol))
            assert clone == p
            assert hash(clone) == hash(p)
            assert clone.to_text() == p.to_text()
        assert copy.copy(p) == p
        assert copy.deepcopy(p) == p


# -- properties ------------------------------------------------------------------------------------

principal_bytes = st.binary(min_size=0, max_size=29)
CANONICAL_TEXT = re.compile(r"^[a-z2-7]{5}(-[a-z2-7]{5})*(-[a-z2-7]{1,4})?$")


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(principal_bytes)
    def test_text_round_trips_and_is_canonical(self, raw: bytes) -> None:
        p = Principal.from_bytes(raw)
        text = p.to_text()
        assert text == reference_text(raw)
        assert text == text.lower()
        assert CANONICAL_TEXT.match(text), text
        assert all(len(group) == 5 for group in text.split("-")[:-1])
        assert 1 <= len(text.split("-")[-1]) <= 5
        back = Principal.from_text(text)
        assert back == p
        assert back.bytes == raw

    @settings(max_examples=200, deadline=None)
    @given(st.lists(principal_bytes, min_size=2, max_size=6))
    def test_order_and_equality_follow_the_bytes(self, raws: list[bytes]) -> None:
        principals = [Principal.from_bytes(r) for r in raws]
        assert [p.bytes for p in sorted(principals)] == sorted(raws)
        a, b = principals[0], principals[1]
        assert (a == b) == (raws[0] == raws[1])
        assert (a < b) == (raws[0] < raws[1])
        assert (a <= b) == (raws[0] <= raws[1])
        if a == b:
            assert hash(a) == hash(b)

    @settings(max_examples=200, deadline=None)
    @given(st.binary(min_size=1, max_size=29), st.data())
    def test_single_character_mutations_are_rejected(self, raw: bytes, data: st.DataObject) -> None:
        """CRC-32 catches every single-character error; padding-bit changes fail canonicity."""
        p = Principal.from_bytes(raw)
        text = p.to_text()
        positions = [i for i, c in enumerate(text) if c != "-"]
        i = data.draw(st.sampled_from(positions), label="position")
        replacement = data.draw(
            st.sampled_from([c for c in BASE32_ALPHABET if c != text[i]]), label="replacement"
        )
        mutated = text[:i] + replacement + text[i + 1 :]
        with pytest.raises(InvalidPrincipal, match=r"checksum|grouping or padding"):
            Principal.from_text(mutated)

    @settings(max_examples=100, deadline=None)
    @given(principal_bytes)
    def test_changing_the_case_of_the_whole_text_is_accepted(self, raw: bytes) -> None:
        p = Principal.from_bytes(raw)
        assert Principal.from_text(p.to_text().upper()) == p
        assert Principal.from_text(p.to_text().swapcase()) == p

    @settings(max_examples=100, deadline=None)
    @given(principal_bytes, st.data())
    def test_removing_a_dash_is_rejected(self, raw: bytes, data: st.DataObject) -> None:
        text = Principal.from_bytes(raw).to_text()
        assert len(text) > 5  # every principal text has at least one dash
        dashes = [i for i, c in enumerate(text) if c == "-"]
        i = data.draw(st.sampled_from(dashes), label="dash")
        with pytest.raises(InvalidPrincipal):
            Principal.from_text(text[:i] + text[i + 1 :])

    @settings(max_examples=100, deadline=None)
    @given(principal_bytes, st.data())
    def test_inserting_a_dash_is_rejected(self, raw: bytes, data: st.DataObject) -> None:
        text = Principal.from_bytes(raw).to_text()
        i = data.draw(st.integers(min_value=0, max_value=len(text)), label="position")
        with pytest.raises(InvalidPrincipal):
            Principal.from_text(text[:i] + "-" + text[i:])


def test_distinct_principals_hash_apart() -> None:
    """Hashing is by the bytes, so maps keyed by principals stay O(1): distinct principals
    (almost) never share a hash."""
    principals = [Principal.from_canister_index(i) for i in range(1_000)]
    principals += [Principal.from_name(f"user-{i}") for i in range(1_000)]
    assert len({hash(p) for p in principals}) == len(principals)
    assert all(hash(p) == hash(Principal.from_bytes(p.bytes)) for p in principals[:10])
