"""The pytest plugin (entry point ``pytest11: icto``): fixtures for testing dApps on icto.

Fixtures:

``ic``
    A fresh ``IC()`` per test.
``principal``
    ``principal("alice")`` is ``Principal.from_name("alice")``.
``icto_system``
    The whole ICTO platform, deployed and wired by ``deploy_system`` once per session (per
    xdist worker: session fixtures are per process) and snapshotted; each test gets it after
    ``ic.restore(snapshot)`` (O(1)), with the IC's fault rules and trace cleared, so every test
    starts from the freshly deployed platform.
``funded_user``
    A principal holding ``FUNDED_ICP`` e8s of ICP that approved the backend for
    ``FUNDED_APPROVAL`` e8s (more than any fee), on ``icto_system``.

Hypothesis: in a test that uses ``icto_system`` and ``@given``, each example starts from the
state the test started in (after all its fixtures ran), not from where the previous example left
off. ``pytest_runtest_call`` wraps the test's ``hypothesis.inner_test`` (Hypothesis' documented
hook for plugins, called once per example, shrinking included) with an ``ic.restore`` of the
snapshot taken just before the call. ``@pytest.mark.icto_shared_state`` opts a test out: its
examples then run one after another on the same, accumulating state.

A project's own ``conftest.py`` fixtures of the same names take precedence over these.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Final, cast

import attrs
import pytest

from icto.ic.ic import IC
from icto.ic.principal import Principal
from icto.ic.world import World
from icto.ledger.types import E8S
from icto.system import System, deploy_system

if TYPE_CHECKING:
    from hypothesis import settings

SHARED_STATE_MARKER: Final = "icto_shared_state"
FUNDED_USER: Final = Principal.from_name("icto-funded-user")
"""The principal ``funded_user`` funds."""
FUNDED_ICP: Final = 100 * E8S
FUNDED_APPROVAL: Final = 50 * E8S
"""The backend's allowance from ``funded_user``: more than any service fee."""


@attrs.frozen
class DeployedSystem:
    """The session's platform and the snapshot of its world right after deployment."""

    system: System
    snapshot: World

    def fresh(self) -> System:
        """The system put back to its just-deployed state, fault rules and trace cleared."""
        ic = self.system.ic
        ic.restore(self.snapshot)
        ic.faults.clear()
        ic.trace.clear()
        return self.system


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{SHARED_STATE_MARKER}: the Hypothesis examples of this test share the icto_system "
        "state instead of each starting from the test's initial state",
    )


@pytest.fixture
def ic() -> IC:
    """A fresh, empty simulated IC."""
    return IC()


@pytest.fixture
def principal() -> Callable[[str], Principal]:
    """``principal(name)``: the deterministic test identity ``Principal.from_name(name)``."""
    return Principal.from_name


@pytest.fixture(scope="session")
def icto_deployed_system() -> DeployedSystem:
    """The platform deployed once for the session (per xdist worker), with its snapshot."""
    system = deploy_system(IC())
    return DeployedSystem(system, system.ic.snapshot())


@pytest.fixture
def icto_system(icto_deployed_system: DeployedSystem) -> System:
    """The deployed platform, as it was right after deployment."""
    return icto_deployed_system.fresh()


@pytest.fixture
def funded_user(icto_system: System) -> Principal:
    """A user holding ``FUNDED_ICP`` of ICP who approved the backend for ``FUNDED_APPROVAL`` (the
    approval's ledger fee was minted on top, so the balance is exactly ``FUNDED_ICP``)."""
    approval_fee = int(icto_system.icp_ledger.icrc1_fee())
    icto_system.faucet(FUNDED_USER, FUNDED_ICP + approval_fee)
    icto_system.approve_backend(FUNDED_USER, FUNDED_APPROVAL)
    return FUNDED_USER


RESET_PER_EXAMPLE: Final = frozenset({"icto_system", "funded_user", "principal"})
"""Function-scoped fixtures that are safe to share between Hypothesis examples of a test whose
examples each start from the test's initial state (``principal`` holds no state)."""


def _hypothesis_function(item: pytest.Item) -> Any:
    """The ``@given`` function of an ``icto_system`` test, or ``None``."""
    if not isinstance(item, pytest.Function) or "icto_system" not in item.fixturenames:
        return None
    function = getattr(item.obj, "__func__", item.obj)
    return function if hasattr(getattr(function, "hypothesis", None), "inner_test") else None


def _only_reset_fixtures(item: pytest.Function) -> bool:
    """Whether every function-scoped fixture the test takes as an argument is one of
    ``RESET_PER_EXAMPLE`` (Hypothesis' ``function_scoped_fixture`` health check is then a false
    alarm: the examples start alike, or share state on purpose under the opt-out marker)."""
    definitions: dict[str, Any] = item._fixtureinfo.name2fixturedefs
    arguments = inspect.signature(item.function).parameters
    return all(
        name in RESET_PER_EXAMPLE
        for name in arguments
        if name in definitions and definitions[name][-1].scope == "function"
    )


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    """Run each Hypothesis example of an ``icto_system`` test from the test's initial state.

    Wraps the test's ``hypothesis.inner_test`` for the duration of the call (unless the test is
    marked ``icto_shared_state``), and quiets the ``function_scoped_fixture`` health check when
    every function-scoped fixture the test takes is one of ``RESET_PER_EXAMPLE``. Runs outside
    Hypothesis' own hook wrapper (``tryfirst``) so that it sees the quieted settings.
    """
    function = _hypothesis_function(item)
    system = None if function is None else getattr(item, "funcargs", {}).get("icto_system")
    if function is None or not isinstance(system, System):
        yield  # not a @given test on icto_system, or a project's own icto_system fixture
        return
    assert isinstance(item, pytest.Function)
    handle = function.hypothesis
    inner = handle.inner_test
    if item.get_closest_marker(SHARED_STATE_MARKER) is None:
        handle.inner_test = _from_snapshot(inner, system.ic, system.ic.snapshot())
    from hypothesis import HealthCheck, settings  # present: the test uses @given

    own_settings = vars(function).get("_hypothesis_internal_use_settings")
    if _only_reset_fixtures(item):
        chosen = cast("settings", own_settings or settings.default)
        quiet = (*chosen.suppress_health_check, HealthCheck.function_scoped_fixture)
        function._hypothesis_internal_use_settings = settings(
            parent=chosen, suppress_health_check=quiet
        )
    try:
        yield
    finally:
        handle.inner_test = inner
        if own_settings is None:
            vars(function).pop("_hypothesis_internal_use_settings", None)
        else:
            function._hypothesis_internal_use_settings = own_settings


def _from_snapshot(test: Callable[..., Any], ic: IC, start: World) -> Callable[..., Any]:
    def each_example(*args: Any, **kwargs: Any) -> Any:
        ic.restore(start)
        return test(*args, **kwargs)

    return each_example


__all__ = [
    "FUNDED_APPROVAL", "FUNDED_ICP", "FUNDED_USER", "SHARED_STATE_MARKER", "DeployedSystem",
    "funded_user", "ic", "icto_deployed_system", "icto_system", "principal",
]  # fmt: skip
