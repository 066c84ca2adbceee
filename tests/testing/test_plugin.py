"""The pytest plugin, run on small test files through ``pytester``: every test, and every
Hypothesis example, starts from the freshly deployed platform unless it opts out."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

HEADER = """
from hypothesis import given, settings, strategies as st
import pytest
from icto import Principal
from icto.testing import FUNDED_ICP
"""


CHANGE_THEN_CHECK = """
from tests_support import seen

def test_deploys_a_token(icto_system, funded_user):
    seen.append(len(icto_system.ic.world.canisters))
    from icto.token import TokenConfig
    from icto import Account
    config = TokenConfig(name="Token", symbol="TOK",
                         initial_balances=((Account(funded_user, b"\\1" * 32), 10),))
    assert icto_system.backend.as_caller(funded_user).deploy_token(config).is_ok
    assert len(icto_system.ic.world.canisters) == seen[0] + 1
    icto_system.faucet(Principal.from_name("bob"), 5)

def test_sees_none_of_it(icto_system):
    assert len(icto_system.ic.world.canisters) == seen[0]
    assert icto_system.icp_balance(Principal.from_name("bob")) == 0
"""

EXAMPLES_FROM_THE_START = """
@settings(max_examples=15)
@given(st.integers(1, 10**8))
def test_examples(icto_system, funded_user, amount):
    bob = Principal.from_name("bob")
    assert icto_system.icp_balance(bob) == 0
    assert icto_system.icp_balance(funded_user) == FUNDED_ICP
    icto_system.faucet(bob, amount)
    icto_system.faucet(funded_user, amount)
"""

WITH_TMP_PATH = """
@given(st.integers())
def test_examples(icto_system, tmp_path, n):
    pass
"""


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_dapp=HEADER + source)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def test_the_plugin_is_registered_by_installing_icto(pytester: pytest.Pytester) -> None:
    result = run(pytester, "def test_fixtures(ic, principal, icto_system, funded_user):\n"
                 "    assert principal('alice') == Principal.from_name('alice')\n"
                 "    assert icto_system.icp_balance(funded_user) == FUNDED_ICP\n"
                 "    assert ic is not icto_system.ic and not ic.world.canisters\n")  # fmt: skip
    result.assert_outcomes(passed=1)


def test_a_test_sees_the_system_clean_after_another_changed_it(pytester: pytest.Pytester) -> None:
    result = run(pytester, CHANGE_THEN_CHECK)
    result.assert_outcomes(passed=2)


@pytest.fixture(autouse=True)
def support_module(pytester: pytest.Pytester) -> None:
    """A module the inner tests share a list through (they run in order in one process)."""
    pytester.makepyfile(tests_support="seen = []\n")
    pytester.syspathinsert()


def test_each_hypothesis_example_starts_from_the_tests_initial_state(
    pytester: pytest.Pytester,
) -> None:
    result = run(pytester, EXAMPLES_FROM_THE_START)
    result.assert_outcomes(passed=1)


SHARING = """
from tests_support import seen

{marker}
@settings(max_examples=10, database=None)
@given(st.integers(1, 10**8))
def test_examples(icto_system, amount):
    bob = Principal.from_name("bob")
    assert icto_system.icp_balance(bob) == sum(seen)
    icto_system.faucet(bob, amount)
    seen.append(amount)
"""


def test_the_opt_out_marker_lets_examples_share_state(pytester: pytest.Pytester) -> None:
    marked = run(pytester, SHARING.format(marker="@pytest.mark.icto_shared_state"))
    marked.assert_outcomes(passed=1)


def test_without_the_marker_the_same_examples_do_not_share_state(
    pytester: pytest.Pytester,
) -> None:
    unmarked = run(pytester, SHARING.format(marker=""))
    unmarked.assert_outcomes(failed=1)


TRACE_SETTINGS = """
from tests_support import seen

def _first_transfer_id(icto_system):
    icto_system.faucet(Principal.from_name("bob"), 5)
    return icto_system.ic.trace.last()[0].entry_id

def test_turns_the_trace_off(icto_system):
    seen.append(_first_transfer_id(icto_system))
    icto_system.ic.trace.enabled = False
    icto_system.faucet(Principal.from_name("bob"), 5)

def test_records_and_numbers_as_the_first_test_did(icto_system):
    assert icto_system.ic.trace.enabled
    assert len(icto_system.ic.trace) == 0
    assert _first_transfer_id(icto_system) == seen[0]
"""


def test_a_test_gets_the_trace_recording_and_numbered_whatever_the_test_before_did(
    pytester: pytest.Pytester,
) -> None:
    run(pytester, TRACE_SETTINGS).assert_outcomes(passed=2)


EXAMPLES_START_WITH_THE_TESTS_FAULTS_AND_TRACE = """
@settings(max_examples=15, database=None)
@given(st.integers(1, 10**8))
def test_examples(icto_system, amount):
    ic = icto_system.ic
    assert len(ic.faults) == 0 and len(ic.trace) == 0
    ic.faults.reject(method="never_called")  # armed, never used, not removed
    icto_system.faucet(Principal.from_name("bob"), amount)
"""


def test_each_example_starts_with_the_tests_fault_rules_and_trace(
    pytester: pytest.Pytester,
) -> None:
    run(pytester, EXAMPLES_START_WITH_THE_TESTS_FAULTS_AND_TRACE).assert_outcomes(passed=1)


PARAMETRIZED_EXAMPLES = """
@pytest.mark.parametrize("factor", [1, 2])
@settings(max_examples=10, database=None)
@given(st.integers(1, 10**8))
def test_examples(icto_system, factor, amount):
    bob = Principal.from_name("bob")
    assert icto_system.icp_balance(bob) == 0
    icto_system.faucet(bob, amount * factor)
"""


def test_a_parametrized_given_test_on_the_system_is_not_refused_by_the_health_check(
    pytester: pytest.Pytester,
) -> None:
    run(pytester, PARAMETRIZED_EXAMPLES).assert_outcomes(passed=2)


EXAMPLES_ON_A_FRESH_IC = """
@settings(max_examples=10, database=None)
@given(st.integers(0, 10**12))
def test_examples(ic, delay):
    assert not ic.world.canisters and len(ic.trace) == 0
    ic.create_canister()
    ic.advance_time(nanos=delay)
"""


def test_each_example_of_a_test_on_the_ic_fixture_starts_from_the_same_ic(
    pytester: pytest.Pytester,
) -> None:
    run(pytester, EXAMPLES_ON_A_FRESH_IC).assert_outcomes(passed=1)


OWN_IC_FIXTURE = """
import pytest
from icto import IC

@pytest.fixture
def ic():
    return IC()
"""


WITH_THE_SYSTEM_AND_AN_IC = """
@settings(max_examples=10, database=None)
@given(st.integers(0, 10))
def test_examples(icto_system, ic, n):
    assert not ic.world.canisters
    ic.create_canister()
"""


def test_a_projects_own_ic_fixture_keeps_the_health_check(pytester: pytest.Pytester) -> None:
    """Only the plugin's fixtures are restored between examples, so only they are exempt: a
    project's own ``ic`` beside ``icto_system`` would silently share its state."""
    pytester.makeconftest(OWN_IC_FIXTURE)
    result = run(pytester, WITH_THE_SYSTEM_AND_AN_IC)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FailedHealthCheck*uses a function-scoped fixture*"])


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing(): pass\n")
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["*icto_shared_state*"])


def test_other_function_scoped_fixtures_still_get_hypothesis_health_check(
    pytester: pytest.Pytester,
) -> None:
    result = run(pytester, WITH_TMP_PATH)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*uses a function-scoped fixture*"])


def test_each_xdist_worker_builds_its_own_system(pytester: pytest.Pytester) -> None:
    tests = "\n".join(
        f"def test_{n}(icto_system, funded_user):\n"
        f"    icto_system.faucet(Principal.from_name('bob'), 1)\n"
        f"    assert icto_system.icp_balance(Principal.from_name('bob')) == 1\n"
        for n in range(6)
    )
    pytester.makepyfile(test_dapp=HEADER + tests)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*2 workers*"])


TIMING_CONFTEST = """
import time
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    start = time.perf_counter()
    yield
    with open("setup_times.txt", "a") as times:
        times.write(f"{item.name} {time.perf_counter() - start}\\n")
"""


def test_the_system_is_built_once_per_session(pytester: pytest.Pytester) -> None:
    """Reports (does not assert on) the setup time of the first test against later ones."""
    pytester.makeconftest(TIMING_CONFTEST)
    tests = "\n".join(f"def test_{n}(icto_system, funded_user):\n    pass\n" for n in range(5))
    run(pytester, tests).assert_outcomes(passed=5)
    lines = (pytester.path / "setup_times.txt").read_text().split("\n")
    times = {name: float(seconds) for name, seconds in (line.split() for line in lines if line)}
    first = times.pop("test_0")
    later = sum(times.values()) / len(times)
    print(f"\nsetup of icto_system + funded_user: first test {first * 1e3:.2f} ms, "
          f"later tests {later * 1e3:.2f} ms on average")  # fmt: skip
