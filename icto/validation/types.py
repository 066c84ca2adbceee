"""Records of the shared checks."""

from __future__ import annotations

import attrs


@attrs.frozen
class NotIdentified:
    """``principal`` cannot take ``role``: it is the anonymous principal, the management
    canister's id, or not a principal at all. Nothing was changed."""

    principal: object
    role: str
    reason: str
