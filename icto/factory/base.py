"""The factory's common ground: its state, how it starts, and who may do what.

``FactoryBase`` is shared by the parts of ``Factory`` (reads, version management, deployment);
a domain factory subclasses ``Factory``, not this.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

import attrs
import immutables

from icto.collections.records import evolve
from icto.collections.vector import Vector
from icto.factory.index import ContractIndex
from icto.factory.tickets import Ticket
from icto.factory.types import (
    MAX_PAGE,
    ContractInfo,
    UnknownContract,
    UpgradeRecord,
    UpgradeReport,
    VersionInfo,
)
from icto.ic import cycles as costs
from icto.ic.canister import Canister
from icto.ic.errors import Reject
from icto.ic.principal import Principal
from icto.ic.result import Err
from icto.validation import identified_problem

DEFAULT_CYCLES_PER_CONTRACT = 2_000_000_000_000
"""Cycles attached to ``create_canister`` for each contract (the creation fee comes out of it)."""
MAX_CYCLES_PER_CONTRACT = 10**14
"""The most a factory may be told to give each contract (100T: fifty times the default)."""
DEPLOYMENT_MESSAGES_RESERVE = 8 * (costs.INTER_CANISTER_CALL + costs.UPDATE_MESSAGE)
"""Cycles a deployment needs beyond the contract's own, for its calls (and a cleanup's)."""
MAX_STATUS_LENGTH = 64
"""Longest status text a contract may report (``notify_status_changed``)."""

UNAUTHORIZED_DEPLOY = "Unauthorized: deploy via the backend"


@attrs.frozen(kw_only=True)
class FactoryInit:
    """How to start a factory. Its controllers are admins too."""

    admins: tuple[Principal, ...] = ()
    backends: tuple[Principal, ...] = ()
    cycles_per_contract: int = DEFAULT_CYCLES_PER_CONTRACT


@attrs.frozen
class Counters:
    deployed: int = 0
    failed_deployments: int = 0
    access_denied: int = 0
    upgrades: int = 0
    failed_upgrades: int = 0

    def bumped(self, counter: str, by: int = 1) -> Counters:
        """These counters with ``counter`` ``by`` higher (built directly: no ``evolve``)."""
        if counter not in _COUNTERS:
            raise AttributeError(f"{type(self).__name__!r} has no counter {counter!r}")
        return Counters(*[getattr(self, name) + by * (name == counter) for name in _COUNTERS])


_COUNTERS: Final = tuple(field.name for field in attrs.fields(Counters))


@attrs.frozen
class ContractDraft:
    """What a domain factory says about a contract before it exists: its name, visibility, the
    domain fields kept in ``ContractInfo.details``, and the roles its config grants."""

    name: str
    is_public: bool
    details: Any = None
    roles: tuple[tuple[Principal, str], ...] = ()


@attrs.frozen
class Rollout:
    """A rollout not finished yet (under way, or its message trapped): its ``UpgradeReport``
    so far, the lists kept as vectors so that each step is recorded in O(log n)."""

    version: str
    at: int
    canary: int
    upgraded: Vector[Principal] = Vector()
    failed: Vector[tuple[Principal, str]] = Vector()
    skipped: Vector[tuple[Principal, str]] = Vector()
    halted: bool = False
    tried: int = 0
    """How many contracts it has tried to upgrade (the first ``canary`` are canaries)."""
    trying: Principal | None = None

    def report(self, finished: bool = False) -> UpgradeReport:
        return UpgradeReport(
            self.version, self.at, self.canary, tuple(self.upgraded), tuple(self.failed),
            tuple(self.skipped), self.halted, self.trying, finished,
        )  # fmt: skip


@attrs.frozen
class FactoryState:
    admins: frozenset[Principal]
    backends: frozenset[Principal]
    cycles_per_contract: int
    versions: immutables.Map[str, VersionInfo]
    latest_stable: str
    paused: bool = False
    index: ContractIndex = ContractIndex()
    history: immutables.Map[Principal, Vector[UpgradeRecord]] = immutables.Map()
    reports: immutables.Map[str, UpgradeReport] = immutables.Map()
    rollouts: immutables.Map[str, Rollout] = immutables.Map()
    """Rollouts not finished (version → progress), resumed by publishing the version again."""
    upgrade_requests: immutables.Map[Principal, str] = immutables.Map()
    deploying: immutables.Map[Principal, Principal] = immutables.Map()
    """Canisters created but not yet registered (canister → owner): cleaned up on failure."""
    failed_cleanups: immutables.Map[Principal, str] = immutables.Map()
    """Half-created canisters the factory could not delete (canister → why)."""
    tickets: immutables.Map[tuple[Principal, str], Ticket] = immutables.Map()
    """(deploying backend, its ticket) of each registered contract (``create_contract(...,
    ticket=)``), so a deployer that did not see the reply can ask what became of its request."""
    counters: Counters = Counters()
    changing: immutables.Map[Principal, tuple[str, str, int]] = immutables.Map()
    """Code changes recorded before their ``install_code`` whose outcome is not recorded yet
    (contract → from version, to version, place in its history): one stays only if the
    factory's message trapped after the install, and is settled by asking the IC."""


def cycles_problem(cycles: object) -> str | None:
    """What is wrong with ``cycles`` as the cycles each contract is given; ``None`` if nothing."""
    if not isinstance(cycles, int) or isinstance(cycles, bool):
        return f"cycles per contract must be an int, got {type(cycles).__name__}"
    if not 0 < cycles <= MAX_CYCLES_PER_CONTRACT:
        return f"cycles per contract must be from 1 to {MAX_CYCLES_PER_CONTRACT:_}, got {cycles}"
    return None


def check_page(offset: object, limit: object) -> None:
    """Reject a page request unless ``offset >= 0`` and ``1 <= limit <= MAX_PAGE``."""
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise Reject(f"offset must be a non-negative int, got {offset!r}")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise Reject(f"limit must be an int from 1 to {MAX_PAGE}, got {limit!r}")


class FactoryBase(Canister):
    """State, lifecycle and authorization helpers every part of a factory uses."""

    VERSION = "1.0.0"
    KIND: ClassVar[str] = "contract"
    CONTRACT: ClassVar[type[Canister]]
    ROLES: ClassVar[frozenset[str]] = frozenset()
    STATE: ClassVar[type[FactoryState]] = FactoryState
    OWNER_CONTROLS: ClassVar[bool] = True
    """Whether a contract's owner is one of its controllers (next to the factory). A domain whose
    contract must not be changed by one person (a multisig wallet) says ``False``."""

    state: FactoryState

    # -- the domain's part (override) ----------------------------------------------------------

    def validate_config(self, owner: Principal, config: object) -> tuple[str, ...]:
        """Every reason the config is invalid (empty when it is valid)."""
        raise NotImplementedError

    def draft(self, owner: Principal, config: Any) -> ContractDraft:
        raise NotImplementedError

    def indexed_fields(self, state: Any, info: ContractInfo) -> dict[str, Any]:
        """The domain's own index fields of ``state`` with a newly registered contract in them.
        A deployment builds its new state once, these fields included, so it passes the state
        before the registration: read only the domain's own fields."""
        return {}

    def indexed(self, state: Any, info: ContractInfo) -> Any:
        """The state with a newly registered contract in the domain's own indexes (by default,
        with its ``indexed_fields``; a domain may override this instead)."""
        fields = self.indexed_fields(state, info)
        return evolve(state, **fields) if fields else state

    def unindexed(self, state: Any, info: ContractInfo) -> Any:
        """The state without a forgotten contract in the domain's own indexes."""
        return state

    def status_problem(self, status: str) -> str | None:
        """Why a contract of this factory cannot report ``status`` (``None``: it can)."""
        return None

    def status_indexed(self, state: Any, before: ContractInfo, status: str) -> Any:
        """The state after a contract (as it was: ``before``) reported its new ``status``."""
        return state

    # -- lifecycle ----------------------------------------------------------------------------

    def init(self, arg: FactoryInit | None = None) -> None:
        arg = FactoryInit() if arg is None else arg
        if not isinstance(arg, FactoryInit):
            raise TypeError(f"a factory is installed with a FactoryInit, got {type(arg).__name__}")
        problem = cycles_problem(arg.cycles_per_contract)
        if problem is not None:
            raise ValueError(problem)
        for principal in (*arg.admins, *arg.backends):
            reason = identified_problem(principal, "factory admin or backend")
            if reason is not None:
                raise ValueError(reason)
        code = self.CONTRACT
        first = VersionInfo(code.VERSION, code, "initial version", True, self.time)
        self.state = self.STATE(
            admins=frozenset(arg.admins),
            backends=frozenset(arg.backends),
            cycles_per_contract=arg.cycles_per_contract,
            versions=immutables.Map({code.VERSION: first}),
            latest_stable=code.VERSION,
        )

    # -- who may do what ----------------------------------------------------------------------

    def _is_admin(self, principal: Principal) -> bool:
        return principal in self.state.admins or self.is_controller(principal)

    def _deny(self, message: str) -> Reject:
        """Count and log a refused caller; the caller raises the returned ``Reject``."""
        self.state = evolve(
            self.state, counters=self.state.counters.bumped("access_denied")
        )
        self.log(f"AccessDenied: {self.caller} {message}")
        return Reject(message)

    def _require_admin(self, what: str) -> None:
        if not self._is_admin(self.caller):
            raise self._deny(f"Unauthorized: only an admin may {what}")

    def _calling_contract(self, what: str) -> ContractInfo:
        """The contract making this callback: the caller, never an argument."""
        info = self.state.index.info(self.caller)
        if info is None:
            raise self._deny(f"Unauthorized: only a contract of this factory may call {what}")
        return info

    def _reporting_contract(self, what: str) -> ContractInfo:
        """The contract making this report (the caller), unless it is recorded detached: the
        factory cannot vouch for what a detached contract says (it may run code the factory
        never uploaded), so the index keeps what it had. Not counted as a denial: the
        contract's outbox resends the report (and the index catches up if it is re-attached)."""
        info = self._calling_contract(what)
        if info.detached:
            raise Reject(
                f"ContractDetached: {info.id} is detached from this factory, which no longer "
                f"takes its reports ({what})"
            )
        return info

    def acts_as_owner(self, info: ContractInfo, caller: Principal) -> bool:
        """Whether ``caller`` holds the owner's powers over the contract at the factory
        (upgrades, rollbacks, auto-update, visibility, ``check_controller``): the owner it was
        deployed for. A domain whose contracts govern themselves narrows it."""
        return caller == info.owner

    def _managed_contract(
        self, contract: Principal, what: str
    ) -> ContractInfo | Err[UnknownContract]:
        """A contract the caller may manage: its owner, or an admin. An admin naming a contract
        the factory does not know is told so (``UnknownContract``, no security event); anyone
        else is refused the same way whether it exists or not, so private contracts stay
        hidden."""
        info = self.state.index.info(contract)
        if info is None and self._is_admin(self.caller):
            return Err(UnknownContract(contract))
        caller = self.caller
        if info is None or not (self.acts_as_owner(info, caller) or self._is_admin(caller)):
            raise self._deny(f"Unauthorized: only the owner or an admin may {what} {contract}")
        return info

    def _deployments_left(self) -> int:
        """How many more contracts the cycles balance pays for (each needs its own cycles and
        the deployment's message reserve)."""
        cost = self.state.cycles_per_contract + DEPLOYMENT_MESSAGES_RESERVE
        return self.cycles_balance // cost

    def _with_index(self, index: ContractIndex) -> None:
        self.state = evolve(self.state, index=index)

    def _known_role(self, role: object) -> str:
        if role not in self.ROLES:
            raise Reject(f"unknown role {role!r}; this factory indexes {sorted(self.ROLES)}")
        assert isinstance(role, str)
        return role

    def _may_see(self, info: ContractInfo, viewer: Principal) -> bool:
        return (
            info.is_public
            or bool(self.state.index.roles_of(viewer, info))
            or self._is_admin(viewer)
        )

    def _visible_info(self, contract: Principal) -> ContractInfo | None:
        """The contract's info if the caller may see it; ``None`` otherwise."""
        info = self.state.index.info(contract)
        return info if info is not None and self._may_see(info, self.caller) else None

