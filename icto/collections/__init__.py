"""Persistent data structures for canister state (beyond ``immutables.Map``)."""

from icto.collections.maps import without
from icto.collections.sorted_map import SortedMap
from icto.collections.sorted_set import SortedSet
from icto.collections.vector import Vector

__all__ = ["SortedMap", "SortedSet", "Vector", "without"]
