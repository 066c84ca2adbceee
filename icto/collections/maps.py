"""Small helpers over ``immutables.Map``."""

from __future__ import annotations

from typing import TypeVar

import immutables

K = TypeVar("K")
V = TypeVar("V")


def without(mapping: immutables.Map[K, V], key: K) -> immutables.Map[K, V]:
    """``mapping`` without ``key``; the same map if it was not there (``delete`` would raise)."""
    return mapping.delete(key) if key in mapping else mapping
