"""The rules of version management, as pure functions over ``VersionInfo`` records."""

from __future__ import annotations

from collections.abc import Iterable

from icto.factory.types import NotEligible, VersionInfo
from icto.ic.canister import parse_semver


def highest_stable(versions: Iterable[VersionInfo]) -> str | None:
    """The highest stable version (by semver, not by upload order); ``None`` if there is none."""
    stable = [info.version for info in versions if info.stable]
    return max(stable, key=parse_semver) if stable else None


def upgrade_refusal(current: str, target: VersionInfo) -> NotEligible | None:
    """Why a contract running ``current`` may not upgrade to ``target``, or ``None``."""
    if parse_semver(target.version) <= parse_semver(current):
        return NotEligible(
            f"{target.version} is not newer than the running {current}; "
            f"use rollback_contract to go back"
        )
    floor = target.min_upgrade_from
    if floor is not None and parse_semver(current) < parse_semver(floor):
        return NotEligible(
            f"{target.version} upgrades only contracts at {floor} or later; this one runs {current}"
        )
    return None


def rollback_refusal(current: str, target: VersionInfo) -> NotEligible | None:
    """Why a contract running ``current`` may not roll back to ``target``, or ``None``."""
    if parse_semver(target.version) >= parse_semver(current):
        return NotEligible(
            f"{target.version} is not older than the running {current}; use upgrade_contract"
        )
    if not target.accepts_rollback:
        return NotEligible(f"{target.version} declares it cannot take the state of a newer version")
    return None
