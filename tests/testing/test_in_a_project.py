"""``assert_rejected`` inside a test file of a project that uses the plugin."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SOURCE = """
from icto import Principal
from icto.testing import assert_rejected

def test_calling_a_missing_canister_is_rejected(ic):
    with assert_rejected(3, "IC0301", match="not found"):
        ic.update_call(Principal.from_canister_index(99), "greet")

def test_expecting_the_wrong_rejection_fails(ic):
    with assert_rejected(5, "IC0503"):
        ic.update_call(Principal.from_canister_index(99), "greet")

def test_expecting_a_rejection_that_never_comes_fails(icto_system):
    with assert_rejected():
        icto_system.icp_balance(Principal.from_name("alice"))
"""


def test_assert_rejected_passes_and_fails_as_a_test_would(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_dapp=SOURCE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*wrong rejection*", "*the block was not rejected*"])
