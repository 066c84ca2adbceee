"""Records shared by factories, their contracts and their callers (the backend, tests, users)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, Generic, TypeVar

import attrs
import immutables

from icto.collections.records import slot_setters
from icto.ic.canister import Canister
from icto.ic.principal import Principal

T = TypeVar("T")

CREATOR: Final = "creator"
"""The role every contract's owner holds in its factory's indexes."""

DEPLOYING: Final = "deploying"
"""A contract's status from installation until it confirms with ``notify_deployment_complete``."""
ACTIVE: Final = "active"

DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000


# -- what a factory installs and what it records ------------------------------------------------


def _counts_text(counts: immutables.Map[str, int]) -> str:
    """``role_counts`` as its repr with the roles in order: a map of strings iterates in hash
    order, which differs from one process to the next."""
    try:
        items = sorted(counts.items())
    except TypeError:
        return repr(counts)
    return "immutables.Map({" + ", ".join(f"{role!r}: {n!r}" for role, n in items) + "})"


@attrs.frozen
class ContractInit:
    """The argument a factory installs a contract with. The factory itself is the installer
    (``self.caller`` in ``init``), so it is not an argument anyone could forge."""

    owner: Principal
    config: Any
    deployer: Principal | None = None
    """The backend that asked for the contract (a launchpad sale deploys its pipeline through
    it, never through a backend id written in code)."""


@attrs.frozen(weakref_slot=False)
class ContractInfo:
    """What a factory knows of one of its contracts.

    ``version`` is the version of the code actually running. ``role_counts`` summarises the
    indexed roles (``creator`` excluded). ``details`` holds the domain's own fields (e.g.
    ``TokenDetails``). ``detached`` means the factory cannot vouch for the contract: its owner
    removed the factory as a controller, or installed code the factory never uploaded.
    A factory keeps one per contract, so it has no weak-reference slot (8 bytes each).
    """

    id: Principal
    kind: str
    owner: Principal
    name: str
    created_at: int
    version: str
    seq: int
    status: str = DEPLOYING
    is_public: bool = True
    role_counts: immutables.Map[str, int] = attrs.field(
        default=immutables.Map(), repr=_counts_text
    )
    details: Any = None
    auto_update: bool = False
    detached: bool = False

    def _html_columns_(self) -> tuple[tuple[str, Any], ...]:
        """Every field, ``role_counts`` in role order (as in the repr)."""
        return tuple(
            (field.name, _counts_text(self.role_counts) if field.name == "role_counts"
             else getattr(self, field.name))
            for field in attrs.fields(ContractInfo)
        )  # fmt: skip


@attrs.frozen(weakref_slot=False)
class ContractEntry:
    """One item of ``get_my_contracts``: a contract and the roles the user holds in it.

    A factory keeps one per member of each contract with few members (``ContractIndex``), so a
    page is a slice of them; hence no weak-reference slot (8 bytes each)."""

    info: ContractInfo
    roles: tuple[str, ...]

    def _html_columns_(self) -> tuple[tuple[str, Any], ...]:
        info = self.info
        return (
            ("contract", info.id), ("kind", info.kind), ("name", info.name),
            ("version", info.version), ("status", info.status), ("roles", ", ".join(self.roles)),
        )  # fmt: skip


@attrs.frozen
class Page(Generic[T]):
    """One page of a listing.

    ``next_offset`` is what to pass as ``offset`` for the next page (``None`` at the end).
    ``total`` is the size of the whole listing, or ``None`` where telling it would reveal private
    contracts to the caller.
    """

    items: tuple[T, ...]
    total: int | None
    next_offset: int | None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        """The items on this page (``total`` is the whole listing's size)."""
        return len(self.items)

    def _repr_html_(self) -> str:
        from icto.ic.html import items_table

        total = "?" if self.total is None else f"{self.total:,}"
        more = "last page" if self.next_offset is None else f"next offset {self.next_offset}"
        return items_table(f"Page: {len(self.items)} of {total} ({more})", self.items)


_set_items, _set_total, _set_next_offset = slot_setters(Page)


def make_page(items: tuple[T, ...], total: int | None, next_offset: int | None) -> Page[T]:
    """``Page(items, total, next_offset)`` without the generated ``__init__``'s per-field
    ``object.__setattr__`` calls: a third of the cost, for listings served on every query."""
    page: Page[T] = object.__new__(Page)
    _set_items(page, items)
    _set_total(page, total)
    _set_next_offset(page, next_offset)
    return page


@attrs.frozen
class FactoryStats:
    kind: str
    contracts: int
    public_contracts: int
    deployed: int
    failed_deployments: int
    by_status: tuple[tuple[str, int], ...]
    access_denied: int
    upgrades: int
    failed_upgrades: int
    paused: bool


@attrs.frozen
class FactoryCapacity:
    """What a backend asks before it charges anybody: whether the factory would deploy now."""

    paused: bool
    """A paused factory refuses ``create_contract`` until an admin resumes it."""
    deployments_left: int
    """How many more contracts the factory's cycles pay for."""
    whitelisted: bool
    """Whether the asking backend may deploy here (an admin may have removed it)."""


@attrs.frozen
class FactoryHealth:
    healthy: bool
    paused: bool
    cycles: int
    latest_stable: str
    backends: int
    issues: tuple[str, ...]
    deployments_left: int = 0
    """How many more contracts the factory's cycles pay for."""
    kind: str = "contract"
    """What the factory deploys (``"token"``, ``"multisig"`` …): a backend checks it serves the
    service it is registered for."""
    contracts: int = 0
    """How many contracts the factory registers."""
    version: str = ""
    """The factory's own code version (``latest_stable`` is its contracts' code)."""


# -- versions -----------------------------------------------------------------------------------


@attrs.frozen
class VersionInfo:
    """An uploaded code version. ``min_upgrade_from``: contracts older than this cannot upgrade
    to it. ``accepts_rollback``: whether its ``post_upgrade`` takes the state of a newer version
    (if not, ``rollback_contract`` to it is refused)."""

    version: str
    code: type[Canister]
    release_notes: str
    stable: bool
    uploaded_at: int
    min_upgrade_from: str | None = None
    accepts_rollback: bool = True


@attrs.frozen
class UpgradeRecord:
    """One attempt to change a contract's code. ``kind``: upgrade, rollback, auto, requested."""

    at: int
    kind: str
    from_version: str
    to_version: str
    ok: bool
    by: Principal
    reason: str | None = None


@attrs.frozen
class UpgradeReport:
    """What publishing a version did to the contracts that opted in to auto-update.

    The rollout writes it as it goes, before each call, so a message that ends early (a trap)
    leaves what it did: ``finished`` is then ``False``, and publishing the version again
    resumes the rollout from there."""

    version: str
    at: int
    canary: int
    upgraded: tuple[Principal, ...]
    failed: tuple[tuple[Principal, str], ...]
    skipped: tuple[tuple[Principal, str], ...]
    halted: bool
    trying: Principal | None = None
    """The contract whose upgrade was under way when the report was written; the rollout
    records how it went when it goes on or is resumed."""
    finished: bool = True


# -- errors (the Err side of results; authorization failures are rejects) -----------------------


@attrs.frozen
class InvalidConfig:
    reasons: tuple[str, ...]


@attrs.frozen
class FactoryPaused:
    pass


@attrs.frozen
class InsufficientCycles:
    """The factory cannot pay for another contract. ``fix`` says how an operator tops it up."""

    required: int
    available: int
    fix: str = (
        "top the factory up: system.top_up(factory_id, cycles), or the management canister's "
        "deposit_cycles / provisional_top_up_canister"
    )


@attrs.frozen
class TicketMismatch:
    """This backend already used ``ticket`` for another request (another owner or config):
    nothing was deployed, and the earlier contract stays its owner's."""

    ticket: str
    reason: str


@attrs.frozen
class DeploymentFailed:
    """A step of the deployment failed; the half-created canister was deleted, or (if even that
    failed) is listed by ``get_failed_cleanups``."""

    step: str
    reason: str


@attrs.frozen
class UnknownContract:
    contract: Principal


@attrs.frozen
class UnknownVersion:
    version: str


@attrs.frozen
class NotEligible:
    """The version change is not allowed (not newer, below ``min_upgrade_from``, …)."""

    reason: str


@attrs.frozen
class ContractDetached:
    """The owner removed the factory as a controller: the factory can no longer change it."""

    contract: Principal


@attrs.frozen
class UpgradeFailed:
    """The IC refused the upgrade (e.g. a hook trapped); the contract still runs its old code
    with its old state."""

    reason: str


FactoryError = (
    InvalidConfig
    | FactoryPaused
    | InsufficientCycles
    | DeploymentFailed
    | UnknownContract
    | UnknownVersion
    | NotEligible
    | ContractDetached
    | UpgradeFailed
    | TicketMismatch
)
