"""Small helpers over ``immutables.Map``."""

from __future__ import annotations

from typing import TypeVar

import immutables

from icto.collections.sorted_set import SortedSet

K = TypeVar("K")
V = TypeVar("V")

_NONE: SortedSet[int] = SortedSet()


def without(mapping: immutables.Map[K, V], key: K) -> immutables.Map[K, V]:
    """``mapping`` without ``key``; the same map if it was not there (``delete`` would raise)."""
    return mapping.delete(key) if key in mapping else mapping


def listed(
    index: immutables.Map[K, SortedSet[int]], key: K, item: int
) -> immutables.Map[K, SortedSet[int]]:
    """A multimap (key → sorted ids) with ``item`` under ``key``."""
    return index.set(key, index.get(key, _NONE).add(item))


def unlisted(
    index: immutables.Map[K, SortedSet[int]], key: K, item: int
) -> immutables.Map[K, SortedSet[int]]:
    """A multimap without ``item`` under ``key``; a key left with no ids is dropped."""
    left = index.get(key, _NONE).discard(item)
    return index.set(key, left) if left else without(index, key)
