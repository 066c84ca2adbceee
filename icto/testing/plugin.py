"""The pytest plugin (entry point ``pytest11: icto``): fixtures for testing dApps on icto.

Fixtures:

``ic``
    A fresh ``IC()`` per test.
``principal``
    ``principal("alice")`` is ``Principal.from_name("alice")``.
``icto_system``
    The whole ICTO platform, deployed and wired by ``deploy_system`` once per session (per
    xdist worker: session fixtures are per process) and checkpointed; each test gets it after
    the checkpoint is restored (O(1): the world, no fault rules, an empty trace that records,
    numbered as after deployment), so every test starts from the freshly deployed platform.
``funded_user``
    A principal holding ``FUNDED_ICP`` e8s of ICP that approved the backend for
    ``FUNDED_APPROVAL`` e8s (more than any fee), on ``icto_system``.

Hypothesis: in a test that uses ``icto_system`` or ``ic`` and ``@given``, each example starts
from the state the test started in (after all its fixtures ran), not from where the previous
example left off: the same world, the same fault rules with the same counts, the same trace.
``pytest_runtest_call`` wraps the test's ``hypothesis.inner_test`` (Hypothesis' documented hook
for plugins, called once per example, shrinking included) with a restore of the ``Checkpoint``
taken just before the call. ``@pytest.mark.icto_shared_state`` opts a test out: its examples
then run one after another on the same, accumulating state.

A project's own ``conftest.py`` fixtures of the same names take precedence over these.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Final, cast

import attrs
import pytest

from icto.ic.faults import FaultsMark
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
class Checkpoint:
    """Everything a test can change on an IC, as it was: the world (an O(1) snapshot), the fault
    rules with their counts, and the trace (its entries, numbering and on/off switch)."""

    ic: IC
    world: World
    faults: FaultsMark
    trace: tuple[int, bool]

    @classmethod
    def of(cls, ic: IC) -> Checkpoint:
        return cls(ic, ic.snapshot(), ic.faults.mark(), ic.trace.mark())

    def restore(self) -> None:
        self.ic.restore(self.world)
        self.ic.faults.rewind(self.faults)
        self.ic.trace.rewind(self.trace)


@attrs.frozen
class DeployedSystem:
    """The session's platform and its checkpoint right after deployment (trace emptied)."""

    system: System
    checkpoint: Checkpoint

    @property
    def snapshot(self) -> World:
        """The world right after deployment."""
        return self.checkpoint.world

    def fresh(self) -> System:
        """The system put back to its just-deployed state: no fault rules, an empty trace
        that records, whatever the tests before did."""
        self.checkpoint.restore()
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
    system.ic.trace.clear()
    return DeployedSystem(system, Checkpoint.of(system.ic))


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


RESET_PER_EXAMPLE: Final = frozenset({"icto_system", "funded_user", "principal", "ic"})
"""Function-scoped fixtures that are safe to share between Hypothesis examples of a test whose
examples each start from the test's initial state (``principal`` holds no state)."""


def _hypothesis_function(item: pytest.Item) -> Any:
    """The ``@given`` function of a test on ``icto_system`` or ``ic``, or ``None``."""
    if not isinstance(item, pytest.Function) or not {"icto_system", "ic"} & set(item.fixturenames):
        return None
    function = getattr(item.obj, "__func__", item.obj)
    return function if hasattr(getattr(function, "hypothesis", None), "inner_test") else None


def _ours(item: pytest.Function, name: str) -> bool:
    """Whether the fixture ``name`` the test gets is this plugin's (not a project's own)."""
    definitions = item._fixtureinfo.name2fixturedefs.get(name) or ()
    return bool(definitions) and getattr(definitions[-1].func, "__module__", None) == __name__


def _checkpoints(item: pytest.Function) -> list[Checkpoint]:
    """A checkpoint of each IC the test gets from this plugin's ``icto_system`` and ``ic``."""
    arguments = getattr(item, "funcargs", {})
    ics: list[IC] = []
    system = arguments.get("icto_system")
    if isinstance(system, System) and _ours(item, "icto_system"):
        ics.append(system.ic)
    ic = arguments.get("ic")
    if isinstance(ic, IC) and _ours(item, "ic") and all(ic is not other for other in ics):
        ics.append(ic)
    return [Checkpoint.of(ic) for ic in ics]


def _only_reset_fixtures(item: pytest.Function) -> bool:
    """Whether every function-scoped fixture the test takes as an argument is this plugin's
    own and one of ``RESET_PER_EXAMPLE`` (Hypothesis' ``function_scoped_fixture`` health check
    is then a false alarm: the examples start alike, or share state on purpose under the
    opt-out marker; a project's own fixture of the same name is not restored, so the check
    stays). The fixtures are looked up as Hypothesis' own check does, so a ``parametrize``
    argument (which pytest lists as a function-scoped pseudo-fixture) does not count."""
    arguments = inspect.signature(item.function).parameters
    request: Any = item._request
    definitions = request._fixturemanager.getfixtureinfo(
        node=item, func=item.function, cls=None
    ).name2fixturedefs
    return all(
        name in RESET_PER_EXAMPLE and _ours(item, name)
        for name in arguments
        if name in definitions and request._get_active_fixturedef(name).scope == "function"
    )


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    """Run each Hypothesis example of a test on ``icto_system`` or ``ic`` from the test's
    initial state.

    Wraps the test's ``hypothesis.inner_test`` for the duration of the call (unless the test is
    marked ``icto_shared_state``), and quiets the ``function_scoped_fixture`` health check when
    every function-scoped fixture the test takes is one of ``RESET_PER_EXAMPLE``. Runs outside
    Hypothesis' own hook wrapper (``tryfirst``) so that it sees the quieted settings.
    """
    function = _hypothesis_function(item)
    checkpoints = _checkpoints(item) if isinstance(item, pytest.Function) and function else []
    if not checkpoints:
        yield  # not a @given test on icto_system or ic, or a project's own fixtures
        return
    handle = function.hypothesis
    inner = handle.inner_test
    if item.get_closest_marker(SHARED_STATE_MARKER) is None:
        handle.inner_test = _from_checkpoints(inner, checkpoints)
    from hypothesis import HealthCheck, settings  # present: the test uses @given

    own_settings = vars(function).get("_hypothesis_internal_use_settings")
    assert isinstance(item, pytest.Function)
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


def _from_checkpoints(
    test: Callable[..., Any], checkpoints: list[Checkpoint]
) -> Callable[..., Any]:
    def each_example(*args: Any, **kwargs: Any) -> Any:
        for checkpoint in checkpoints:
            checkpoint.restore()
        return test(*args, **kwargs)

    return each_example


__all__ = [
    "FUNDED_APPROVAL", "FUNDED_ICP", "FUNDED_USER", "SHARED_STATE_MARKER", "Checkpoint",
    "DeployedSystem",
    "funded_user", "ic", "icto_deployed_system", "icto_system", "principal",
]  # fmt: skip
