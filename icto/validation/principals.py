"""Who may hold a role: an identified principal, never the anonymous one or the management
canister (``aaaaa-aa`` is an address, not somebody who could sign or be paid)."""

from __future__ import annotations

from icto.ic.principal import Principal
from icto.ic.result import Err
from icto.validation.types import NotIdentified


def identified_problem(principal: object, role: str) -> str | None:
    """Why ``principal`` cannot become a ``role`` (admin, backend, writer, owner, member …);
    ``None`` when it can. Config validators list this text among their reasons."""
    if not isinstance(principal, Principal):
        return f"{_a(role)} {role} must be a Principal, got {type(principal).__name__}"
    if principal.is_anonymous:
        return f"the anonymous principal cannot be {_a(role)} {role}"
    if principal.is_management_canister:
        return f"the management canister cannot be {_a(role)} {role}"
    return None


def _a(noun: str) -> str:
    return "an" if noun[:1] in set("aeio") else "a"  # "a user", "an owner"


def require_identified(principal: object, role: str) -> Err[NotIdentified] | None:
    """The typed refusal an endpoint returns when ``principal`` cannot become a ``role``;
    ``None`` when it can: ``if (refused := require_identified(p, "admin")): return refused``."""
    reason = identified_problem(principal, role)
    return None if reason is None else Err(NotIdentified(principal, role, reason))
