"""``assert_rejected``: the block must end in a ``CallRejected`` with the given reject code,
error code and message; anything else fails the test."""

from __future__ import annotations

from typing import Any

import pytest

from icto import IC, Principal
from icto.ic.errors import CallRejected, ErrorCode, RejectCode
from icto.testing import assert_rejected

NOWHERE = Principal.from_canister_index(99)


def call_nowhere(ic: IC) -> None:
    ic.update_call(NOWHERE, "greet")


def test_it_passes_on_the_expected_rejection_and_yields_it(ic: IC) -> None:
    with assert_rejected(RejectCode.DESTINATION_INVALID, "IC0301", match="not found") as caught:
        call_nowhere(ic)
    assert isinstance(caught.value, CallRejected)
    assert caught.value.canister_id is None or caught.value.canister_id == NOWHERE


def test_it_takes_the_reject_code_as_an_int_and_checks_only_what_is_given(ic: IC) -> None:
    with assert_rejected(3):
        call_nowhere(ic)
    with assert_rejected(error_code=ErrorCode.CANISTER_NOT_FOUND):
        call_nowhere(ic)
    with assert_rejected():
        call_nowhere(ic)


@pytest.mark.parametrize(
    "expectation",
    [
        {"code": RejectCode.CANISTER_REJECT},
        {"error_code": "IC0503"},
        {"match": "^trapped"},
    ],
)
def test_it_fails_on_another_rejection(ic: IC, expectation: dict[str, Any]) -> None:
    with pytest.raises(AssertionError, match="wrong rejection"), assert_rejected(**expectation):
        call_nowhere(ic)


def test_it_fails_when_the_block_is_not_rejected() -> None:
    expected = r"not rejected \(expected CallRejected code=<RejectCode\.CANISTER_ERROR"
    with pytest.raises(AssertionError, match=expected), assert_rejected(5) as caught:
        pass
    with pytest.raises(AttributeError):
        _ = caught.value


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError), assert_rejected():
        raise KeyError("not a rejection")
