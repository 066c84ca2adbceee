"""Persistent data structures for canister state (beyond ``immutables.Map`` and ``pvector``)."""

from icto.collections.maps import without
from icto.collections.sorted_set import SortedSet

__all__ = ["SortedSet", "without"]
