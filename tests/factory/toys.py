"""A toy domain for testing the factory base: clubs whose owner grants roles to users.

``Club`` tells its factory about every role and visibility change, like real contracts do, and
has a few methods that exist only to try what a misbehaving contract could do.
"""

from __future__ import annotations

from typing import Any

import attrs
import immutables

from icto import Principal, Reject, Trap, update
from icto.factory import ContractDraft, ContractInit, ContractMeta, Factory, FactoryContract
from icto.ic.canister import query

MEMBER = "member"
MODERATOR = "moderator"


@attrs.frozen(kw_only=True)
class ClubConfig:
    name: str
    members: tuple[Principal, ...] = ()
    is_public: bool = True


def validate_club_config(config: object, owner: Principal | None = None) -> tuple[str, ...]:
    if not isinstance(config, ClubConfig):
        return (f"expected a ClubConfig, got {type(config).__name__}",)
    reasons = []
    if not isinstance(config.name, str) or not config.name:
        reasons.append("name must be non-empty text")
    if owner is not None and owner.is_anonymous:
        reasons.append("the owner must be an authenticated principal")
    return tuple(reasons)


@attrs.frozen
class ClubState:
    meta: ContractMeta
    roles: immutables.Map[tuple[Principal, str], None] = immutables.Map()
    counter: int = 0


class Club(FactoryContract):
    VERSION = "1.0.0"

    state: ClubState

    def init(self, arg: ContractInit) -> None:
        config: ClubConfig = arg.config
        roles = immutables.Map({(user, MEMBER): None for user in config.members})
        self.state = ClubState(self.new_meta(arg.owner, config.is_public), roles)

    def has_role(self, user: Principal, role: str) -> bool:
        return (user, role) in self.state.roles

    def _owner_only(self) -> None:
        if self.caller != self.meta.owner:
            raise Reject("only the owner")

    @update
    def grant(self, user: Principal, role: str = MEMBER) -> None:
        self._owner_only()
        self.state = attrs.evolve(self.state, roles=self.state.roles.set((user, role), None))
        self.notify_role(user, role)

    @update
    def revoke(self, user: Principal, role: str = MEMBER) -> None:
        self._owner_only()
        roles = self.state.roles
        if (user, role) in roles:
            self.state = attrs.evolve(self.state, roles=roles.delete((user, role)))
        self.notify_role(user, role)

    @update
    def set_public(self, is_public: bool) -> None:
        self._owner_only()
        self.state = attrs.evolve(self.state, meta=attrs.evolve(self.meta, is_public=is_public))
        self.call(self.meta.factory, "notify_visibility_changed", is_public)

    @update
    def publish(self, is_public: bool) -> None:
        """List or unlist the club through the contract's own notification (with its outbox)."""
        self._owner_only()
        self.notify_visibility(is_public)

    @update
    def set_status(self, status: str) -> None:
        self._owner_only()
        self.call(self.meta.factory, "notify_status_changed", status)

    @update
    def bump(self) -> int:
        self.state = attrs.evolve(self.state, counter=self.state.counter + 1)
        return self.state.counter

    @query
    def count(self) -> int:
        return self.state.counter

    @update
    def call_any(self, target: Principal, method: str, *args: Any) -> Any:
        """Call any method of any canister as this contract (to try what a contract could do)."""
        return self.call(target, method, *args)


class ClubV2(Club):
    """A compatible upgrade."""

    VERSION = "1.1.0"


class ClubV3(Club):
    VERSION = "1.2.0"


class ClubBrokenUpgrade(Club):
    """A version whose ``post_upgrade`` traps: installing it must fail atomically."""

    VERSION = "2.0.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        raise Trap("migration failed")


class ClubNoRollback(Club):
    VERSION = "0.9.0"


class ClubFactory(Factory):
    KIND = "club"
    CONTRACT = Club
    ROLES = frozenset({MEMBER, MODERATOR})

    def validate_config(self, owner: Principal, config: object) -> tuple[str, ...]:
        return validate_club_config(config, owner)

    def draft(self, owner: Principal, config: ClubConfig) -> ContractDraft:
        return ContractDraft(
            config.name, config.is_public, None, tuple((user, MEMBER) for user in config.members)
        )
