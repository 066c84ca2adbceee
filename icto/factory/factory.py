"""``Factory``: the canister every domain factory is built on.

A factory deploys its contracts through the management canister (controllers: the factory and
the owner), keeps their registry and user indexes (``ContractIndex``), answers users' reads
directly, takes role callbacks from its own contracts only, and upgrades them from uploaded
versions. A domain subclass names its contract code, its roles and its config check, and may keep
extra indexes (see ``icto.token.factory``).
"""

from __future__ import annotations

from typing import Any

import immutables

from icto.collections import without
from icto.collections.records import evolve
from icto.factory.base import (
    DEPLOYMENT_MESSAGES_RESERVE,
    MAX_STATUS_LENGTH,
    UNAUTHORIZED_DEPLOY,
    ContractDraft,
    FactoryBase,
    FactoryInit,
    FactoryState,
    cycles_problem,
)
from icto.factory.reads import FactoryReads
from icto.factory.tickets import MAX_TICKET, Ticket, config_digest
from icto.factory.types import (
    ACTIVE,
    ContractDetached,
    ContractInit,
    DeploymentFailed,
    FactoryCapacity,
    FactoryPaused,
    InsufficientCycles,
    InvalidConfig,
    NotEligible,
    TicketMismatch,
)
from icto.factory.upgrades import VersionManagement
from icto.ic.canister import query, update
from icto.ic.errors import CallRejected, ErrorCode, Reject
from icto.ic.management import CanisterSettings, InstallMode
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.ic.router import MANAGEMENT_ID
from icto.validation import NotIdentified, require_identified, text_problem

OWNER_IS_FACTORY = "the owner cannot be the factory itself: nobody could act as the owner"


class Factory(VersionManagement, FactoryReads):
    """The common factory. Subclasses set ``KIND``, ``CONTRACT`` (the initial contract code),
    ``ROLES`` (the roles their contracts report) and implement ``validate_config`` and
    ``draft``; ``STATE`` may be a ``FactoryState`` subclass carrying domain indexes, maintained
    by ``indexed_fields`` (or ``indexed``) / ``unindexed``."""

    # -- deployment ---------------------------------------------------------------------------

    @update
    def create_contract(
        self, owner: Principal, config: object, ticket: str | None = None
    ) -> Ok[Principal] | Err[Any]:
        """Deploy a contract for ``owner`` (whitelisted backends only). On any failure nothing
        stays indexed and the half-created canister is deleted (or listed by
        ``get_failed_cleanups`` if even that fails), and an ``Err`` says which step failed.

        ``ticket`` is the deployer's name for this request, kept per backend: the same request
        again (same ticket, owner and config) returns the contract it deployed instead of
        deploying again; the ticket with another owner or config is a ``TicketMismatch``.
        ``get_deployment(ticket)`` tells a deployer that lost the reply what happened."""
        if self.caller not in self.state.backends:
            raise self._deny(UNAUTHORIZED_DEPLOY)
        if ticket is not None and (problem := text_problem("ticket", ticket, 1, MAX_TICKET)):
            return Err(InvalidConfig((problem,)))
        digest = b""
        if ticket is not None:
            digest = config_digest(config)
            earlier = self._ticket(ticket)
            if earlier is not None:
                if earlier.owner != owner or earlier.config_digest != digest:
                    return Err(TicketMismatch(ticket, "the ticket named another request"))
                return Ok(earlier.contract)
        if self.state.paused:
            return Err(FactoryPaused())
        reasons = self.validate_config(owner, config)
        if owner == self.id:
            reasons = (OWNER_IS_FACTORY, *reasons)
        if reasons:
            return Err(InvalidConfig(reasons))
        problem = self.preflight(config)
        if problem is not None:
            return self._deployment_failed("preflight", problem)
        cycles = self.state.cycles_per_contract
        if self.cycles_balance < cycles + DEPLOYMENT_MESSAGES_RESERVE:
            needed = cycles + DEPLOYMENT_MESSAGES_RESERVE
            self.log(f"InsufficientCycles: {self.cycles_balance} < {needed}; top the factory up")
            return Err(InsufficientCycles(needed, self.cycles_balance))
        try:
            contract: Principal = self.call(
                MANAGEMENT_ID, "create_canister",
                CanisterSettings(controllers=self._controllers(owner)), cycles=cycles,
            )  # fmt: skip
        except CallRejected as rejected:
            return self._deployment_failed("create_canister", rejected.message)
        self.state = evolve(self.state, deploying=self.state.deploying.set(contract, owner))
        code = self.state.versions[self.state.latest_stable].code
        try:
            self.call(
                MANAGEMENT_ID, "install_code", contract, code,
                ContractInit(owner, config, self.caller), InstallMode.INSTALL,
            )  # fmt: skip
        except CallRejected as rejected:
            return self._abandon(contract, "install_code", rejected.message)
        tickets = self.state.tickets
        if ticket is not None:
            tickets = tickets.set((self.caller, ticket), Ticket(contract, owner, digest))
        self.state = self._registered(contract, owner, config, code.VERSION, tickets)
        try:
            self.call(contract, "on_deployed")
        except CallRejected as rejected:
            key = None if ticket is None else (self.caller, ticket)
            return self._abandon(contract, "on_deployed", rejected.message, key)
        self.state = evolve(self.state, counters=self.state.counters.bumped("deployed"))
        return Ok(contract)

    def _registered(
        self, contract: Principal, owner: Principal, config: Any, version: str,
        tickets: immutables.Map[tuple[Principal, str], Ticket],
    ) -> FactoryState:  # fmt: skip
        """The state with an installed contract registered and indexed, no longer deploying,
        and ``tickets``: built once, the domain's index fields included (``indexed_fields``),
        unless the domain overrides ``indexed`` itself."""
        state = self.state
        draft = self.draft(owner, config)
        index = state.index.register(
            contract, kind=self.KIND, owner=owner, name=draft.name, created_at=self.time,
            version=version, is_public=draft.is_public, details=draft.details, roles=draft.roles,
        )  # fmt: skip
        info = index.contracts[contract]
        deploying = without(state.deploying, contract)
        if type(self).indexed is not FactoryBase.indexed:
            built = evolve(state, index=index, deploying=deploying, tickets=tickets)
            registered: FactoryState = self.indexed(built, info)
            return registered
        fields = self.indexed_fields(state, info)
        return evolve(state, index=index, deploying=deploying, tickets=tickets, **fields)

    def preflight(self, config: Any) -> str | None:
        """What a valid config needs from other canisters, asked before anything is created
        (it may call them): why the deployment cannot go ahead, or ``None``. The backend
        refunds a deployment that fails here."""
        return None

    def _controllers(self, owner: Principal) -> tuple[Principal, ...]:
        return (self.id, owner) if self.OWNER_CONTROLS else (self.id,)

    def _deployment_failed(self, step: str, reason: str) -> Err[DeploymentFailed]:
        self.state = evolve(
            self.state, counters=self.state.counters.bumped("failed_deployments")
        )
        self.log(f"deployment failed at {step}: {reason}")
        return Err(DeploymentFailed(step, reason))

    def _abandon(
        self, contract: Principal, step: str, reason: str,
        ticket: tuple[Principal, str] | None = None,
    ) -> Err[DeploymentFailed]:  # fmt: skip
        """Undo a deployment that failed after its canister was created: the contract (and its
        ``ticket``) forgotten, the failure counted, in one new state; then the canister deleted
        (it stays in ``deploying`` until then, so a trap meanwhile leaves it to the cleanup)."""
        state = self.state
        info = state.index.info(contract)
        changes: dict[str, Any] = {"counters": state.counters.bumped("failed_deployments")}
        if ticket is not None:
            changes["tickets"] = without(state.tickets, ticket)
        if info is not None:  # registered already: back to deploying until it is deleted
            changes["index"] = state.index.forget(contract)
            changes["deploying"] = state.deploying.set(contract, info.owner)
        state = evolve(state, **changes)
        self.state = state if info is None else self.unindexed(state, info)
        self.log(f"deployment failed at {step}: {reason}")
        self._delete_canister(contract)
        return Err(DeploymentFailed(step, reason))

    def _delete_canister(self, contract: Principal) -> bool:
        """Stop and delete a half-created ``contract``. It stays in ``deploying`` until the
        management canister has answered: gone (one already gone counts), it leaves both lists;
        refused, it moves to ``failed_cleanups`` with the reason. A trap in between leaves it
        listed, for ``cleanup_failed_deployments``."""
        try:
            self.call(MANAGEMENT_ID, "stop_canister", contract)
            self.call(MANAGEMENT_ID, "delete_canister", contract)
        except CallRejected as rejected:
            if rejected.error_code != ErrorCode.CANISTER_NOT_FOUND:
                state = self.state
                self.state = evolve(
                    state, deploying=without(state.deploying, contract),
                    failed_cleanups=state.failed_cleanups.set(contract, rejected.message),
                )  # fmt: skip
                return False
        state = self.state
        self.state = evolve(
            state, deploying=without(state.deploying, contract),
            failed_cleanups=without(state.failed_cleanups, contract),
        )  # fmt: skip
        return True

    @update
    def cleanup_failed_deployments(self) -> tuple[Principal, ...]:
        """Admin: delete half-created canisters left by failed deployments (including any a
        trapped deployment left behind); return those deleted."""
        self._require_admin("clean up deployments")
        leftovers = sorted(self.state.failed_cleanups) + sorted(self.state.deploying)
        return tuple(contract for contract in leftovers if self._delete_canister(contract))

    @query
    def get_deployment(self, ticket: str) -> Principal | None:
        """The registered contract the caller's own ``create_contract(..., ticket=ticket)``
        deployed, or ``None`` if that request left none. Tickets are kept per deployer, so a
        caller sees only its own, and a backend an admin has removed since can still settle the
        requests it made (a refused one is refunded, not left in doubt)."""
        found = self._ticket(ticket)
        return None if found is None else found.contract

    def _ticket(self, ticket: str) -> Ticket | None:
        """The calling backend's ticket, while its contract is still registered."""
        found = self.state.tickets.get((self.caller, ticket))
        if found is None or self.state.index.info(found.contract) is None:
            return None
        return found

    @query
    def is_contract(self, principal: Principal) -> bool:
        """Whether ``principal`` is a contract this factory deployed and still registers."""
        return self.state.index.info(principal) is not None

    @query
    def deployments_left(self) -> int:
        """How many more contracts this factory's cycles pay for."""
        return self._deployments_left()

    @query
    def capacity(self) -> FactoryCapacity:
        """Whether this factory would deploy now for the caller: paused or not, how many more
        contracts its cycles pay for, and whether the caller is a whitelisted backend (a
        backend asks before it charges anybody)."""
        state = self.state
        return FactoryCapacity(
            state.paused, self._deployments_left(), self.caller in state.backends
        )

    @query
    def get_failed_cleanups(self) -> tuple[tuple[Principal, str], ...]:
        """Half-created canisters a failed deployment could not delete, with the refusal, in
        principal order."""
        return tuple(sorted(self.state.failed_cleanups.items()))

    # -- callbacks from contracts (the contract is the caller) --------------------------------

    @update
    def notify_participant_added(self, user: Principal, role: str) -> None:
        """The calling contract gave ``user`` the ``role`` (idempotent). The anonymous principal
        and the management canister are never indexed (a token can be sent to them): nobody
        signs as them, and a role held by the anonymous principal would show a private contract
        to every unauthenticated caller."""
        info = self._reporting_contract("notify_participant_added")
        known = self._known_role(role)
        if user.is_anonymous or user.is_management_canister:
            return
        self._with_index(self.state.index.with_role(info.id, user, known))

    @update
    def notify_participant_removed(self, user: Principal, role: str) -> None:
        """The calling contract took ``role`` from ``user`` (idempotent)."""
        info = self._reporting_contract("notify_participant_removed")
        self._with_index(self.state.index.without_role(info.id, user, self._known_role(role)))

    @update
    def notify_visibility_changed(self, is_public: bool) -> None:
        info = self._reporting_contract("notify_visibility_changed")
        self._with_index(self.state.index.with_visibility(info.id, is_public))

    @update
    def notify_status_changed(self, status: str) -> None:
        info = self._reporting_contract("notify_status_changed")
        problem = text_problem("status", status, 1, MAX_STATUS_LENGTH)
        if problem is None and not status.isidentifier():
            problem = f"a status is an identifier, got {status!r}"
        if problem is None:
            problem = self.status_problem(status)
        if problem is not None:
            raise Reject(problem)
        self._with_index(self.state.index.with_status(info.id, status))
        self.state = self.status_indexed(self.state, info, status)

    @update
    def notify_deployment_complete(self) -> None:
        info = self._reporting_contract("notify_deployment_complete")
        if info.status == "deploying":
            self._with_index(self.state.index.with_status(info.id, ACTIVE))

    # -- admin --------------------------------------------------------------------------------

    @update
    def add_backend(self, backend: Principal) -> Ok[None] | Err[NotIdentified]:
        self._require_admin("whitelist a backend")
        refused = require_identified(backend, "backend")
        if refused is not None:
            return refused
        self.state = evolve(self.state, backends=self.state.backends | {backend})
        return Ok(None)

    @update
    def remove_backend(self, backend: Principal) -> None:
        self._require_admin("remove a backend")
        self.state = evolve(self.state, backends=self.state.backends - {backend})

    @query
    def is_backend(self, principal: Principal) -> bool:
        return principal in self.state.backends

    @query
    def get_backends(self) -> tuple[Principal, ...]:
        return tuple(sorted(self.state.backends))

    @update
    def set_admins(self, admins: tuple[Principal, ...]) -> Ok[None] | Err[NotIdentified]:
        """Replace the admin list (controllers stay admins whatever it says)."""
        self._require_admin("set the admins")
        for admin in admins:
            refused = require_identified(admin, "admin")
            if refused is not None:
                return refused
        self.state = evolve(self.state, admins=frozenset(admins))
        return Ok(None)

    @query
    def get_admins(self) -> tuple[Principal, ...]:
        return tuple(sorted(self.state.admins))

    @update
    def pause_factory(self) -> None:
        """Refuse ``create_contract`` until ``resume_factory``; everything else still works."""
        self._require_admin("pause the factory")
        self.state = evolve(self.state, paused=True)

    @update
    def resume_factory(self) -> None:
        self._require_admin("resume the factory")
        self.state = evolve(self.state, paused=False)

    @update
    def set_cycles_per_contract(self, cycles: int) -> Ok[None] | Err[InvalidConfig]:
        """Admin: the cycles each new contract is given, from 1 to ``MAX_CYCLES_PER_CONTRACT``."""
        self._require_admin("set the cycles per contract")
        problem = cycles_problem(cycles)
        if problem is not None:
            return Err(InvalidConfig((problem,)))
        self.state = evolve(self.state, cycles_per_contract=cycles)
        return Ok(None)

    @update
    def set_contract_visibility(self, contract: Principal, is_public: bool) -> Ok[None] | Err[Any]:
        """Owner or admin: list or unlist a contract. The index changes once the contract has
        taken the change, and the contract tells the factory itself as it takes it (through its
        outbox), so a trap after the call cannot part them; if the contract refuses, nothing
        changes. A contract recorded detached is not asked: the public listing is the
        factory's own, so it is unlisted without its consent (as one its owner deleted), and
        never listed again (``ContractDetached``), the factory being unable to vouch for it."""
        info = self._managed_contract(contract, "change the visibility of")
        if isinstance(info, Err):
            return info
        if info.detached:
            if is_public:
                return Err(ContractDetached(info.id))
            self._with_index(self.state.index.with_visibility(info.id, False))
            return Ok(None)
        try:
            self.call(contract, "on_visibility_changed", is_public)
        except CallRejected as rejected:
            return Err(NotEligible(f"the contract refused: {rejected.message}"))
        self._with_index(self.state.index.with_visibility(info.id, is_public))
        return Ok(None)

    @update
    def set_auto_update(self, contract: Principal, enabled: bool) -> None:
        """The owner opts the contract in to (or out of) upgrades when a version is published."""
        info = self.state.index.info(contract)
        if info is None or not self.acts_as_owner(info, self.caller):
            raise self._deny(f"Unauthorized: only the owner may set auto-update of {contract}")
        self._with_index(self.state.index.with_auto_update(contract, enabled))


__all__ = [
    "OWNER_IS_FACTORY",
    "UNAUTHORIZED_DEPLOY",
    "ContractDraft",
    "Factory",
    "FactoryInit",
    "FactoryState",
]
