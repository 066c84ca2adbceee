"""Helpers shared by the test packages above the IC layer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from icto import IC, CallRejected, Principal


def rejected(call: Callable[[], object]) -> CallRejected:
    """Run ``call`` and return the ``CallRejected`` it must raise."""
    with pytest.raises(CallRejected) as info:
        call()
    return info.value


def live_canisters(ic: IC) -> set[Principal]:
    """The canisters that exist (deleted ones excluded)."""
    return {canister for canister in ic.world.canisters if ic.canister_exists(canister)}
