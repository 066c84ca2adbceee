"""``SortedMap``: a persistent map whose keys stay in order, with ranks, for per-key lists kept in
canister state (e.g. a user's contracts, each with the user's roles in it).

It is the B-tree of ``icto.collections.btree`` that ``SortedSet`` uses (O(log n) changes,
O(log n + page) pages, every version a snapshot) with the values in the leaves: a leaf is one flat
tuple, its keys followed by their values. A map of up to ``CAPACITY`` entries is therefore a single
tuple, about two pointers per entry, and a page of keys with their values is two slices.

It is a frozen attrs record whose fields are the tree, so the world codec saves and loads it like
any other record.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain, islice
from typing import Any, Final, Generic, TypeVar

import attrs

from icto.collections.btree import (
    MAP,
    Inner,
    build,
    insert,
    key_at,
    keys_at,
    leaf_for,
    leaves_from,
    page_start,
    rank,
    remove,
    root_of,
    shrunk,
)
from icto.collections.records import slot_setters

K = TypeVar("K")
V = TypeVar("V")

CAPACITY: Final = 64
"""Most entries in a leaf and most children of an inner node."""

_MISSING: Final[Any] = object()


@attrs.frozen(init=False, eq=False, repr=False, weakref_slot=False)
class SortedMap(Generic[K, V]):
    """An immutable map with mutually comparable keys, iterated in key order; changes return a
    new map. Reads like a ``SortedSet`` of its keys (``len``, ``in``, ``page``, ``index``, ``at``)
    plus ``get`` and ``page_items``.

    >>> m = SortedMap([(5, "e"), (1, "a")]).set(3, "c")
    >>> m.page_items(1, 2)
    ((3, 5), ('c', 'e'))
    """

    _root: Any
    _len: int

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        pairs = sorted(dict(items).items(), key=_first)
        keys = tuple(key for key, _ in pairs)
        values = tuple(value for _, value in pairs)
        _set_root(self, _build(keys, values))
        _set_len(self, len(keys))

    # -- changes ------------------------------------------------------------------------------

    def set(self, key: K, value: V) -> SortedMap[K, V]:
        """This map with ``key`` → ``value``; the same object if ``key`` already maps to this
        very value. O(log n)."""
        root = self._root
        if type(root) is not Inner:
            width = len(root) >> 1
            index = bisect_left(root, key, 0, width)
            if index < width and root[index] == key:
                if root[width + index] is value:
                    return self
                copy = [*root]
                copy[width + index] = value
                return _made(tuple(copy), width)
            if width < CAPACITY:
                copy = [*root]
                copy.insert(width + index, value)
                copy.insert(index, key)
                return _made(tuple(copy), width + 1)
        done = insert(root, key, value, CAPACITY, MAP)
        if done is None:
            return self
        parts, added = done
        return _made(root_of(parts, MAP), self._len + added)

    def discard(self, key: K) -> SortedMap[K, V]:
        """This map without ``key``; the same object if it was not there. O(log n)."""
        root: Any = self._root
        if type(root) is not Inner:
            width = len(root) >> 1
            index = bisect_left(root, key, 0, width)
            if index == width or root[index] != key:
                return self
            copy = [*root]
            del copy[width + index]
            del copy[index]
            return _made(tuple(copy), width - 1)
        parts = remove(root, key, CAPACITY, MAP)
        if parts is None:
            return self
        return _made(shrunk(parts), self._len - 1)

    # -- reads --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def get(self, key: K, default: Any = None) -> Any:
        """The value of ``key``, or ``default``. O(log n)."""
        node = leaf_for(self._root, key)
        if node is None:
            return default
        width = len(node) >> 1
        index = bisect_left(node, key, 0, width)
        if index < width and node[index] == key:
            return node[width + index]
        return default

    def __getitem__(self, key: K) -> V:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        try:
            return self.get(key, _MISSING) is not _MISSING  # type: ignore[arg-type]
        except TypeError:
            return False

    def __iter__(self) -> Iterator[K]:
        """The keys, ascending."""
        return self.iter_from(0)

    def __reversed__(self) -> Iterator[K]:
        return self.iter_from(self._len - 1, descending=True)

    def keys(self) -> Iterator[K]:
        return self.iter_from(0)

    def values(self) -> Iterator[V]:
        leaves = leaves_from(self._root, 0, MAP)
        return chain.from_iterable(leaf[len(leaf) >> 1 :] for leaf, _ in leaves)

    def items(self) -> Iterator[tuple[K, V]]:
        return zip(self.keys(), self.values(), strict=True)

    def index(self, key: K) -> int:
        """How many keys are less than ``key`` (its position if present). O(log n)."""
        return rank(self._root, key, MAP)

    def at(self, position: int) -> K:
        """The key at ``position`` (negative counts from the end). O(log n)."""
        return key_at(self._root, self._len, position, MAP)  # type: ignore[no-any-return]

    def iter_from(self, position: int = 0, *, descending: bool = False) -> Iterator[K]:
        """Keys from ``position`` on, ascending, or (``descending``) from it down to the first."""
        return keys_at(self._root, self._len, position, descending, MAP)

    def page(self, offset: int, limit: int, *, descending: bool = False) -> tuple[K, ...]:
        """Up to ``limit`` keys starting ``offset`` places from the first (or, ``descending``,
        from the last). O(log n + limit)."""
        if not descending:
            return self.page_items(offset, limit)[0]
        start = page_start(self._len, offset, limit, descending)
        return tuple(islice(self.iter_from(start, descending=True), min(limit, self._len)))

    def page_items(self, offset: int, limit: int) -> tuple[tuple[K, ...], tuple[V, ...]]:
        """Up to ``limit`` keys starting ``offset`` places from the first, and their values
        (checked like ``page``'s). Two slices when the map is one leaf; O(log n + limit) in
        general."""
        page_start(self._len, offset, limit, False)
        root = self._root
        if type(root) is not Inner:
            width = len(root) >> 1
            stop = offset + limit if offset + limit < width else width
            return root[offset:stop], root[width + offset : width + stop]
        keys: list[K] = []
        values: list[V] = []
        for leaf, start in leaves_from(root, offset, MAP):
            width = len(leaf) >> 1
            stop = min(width, start + limit - len(keys))
            keys.extend(leaf[start:stop])
            values.extend(leaf[width + start : width + stop])
            if len(keys) >= limit:
                break
        return tuple(keys), tuple(values)

    # -- value semantics ----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SortedMap):
            return NotImplemented
        if self._root is other._root:
            return True
        return self._len == other._len and all(
            a == b for a, b in zip(self.items(), other.items(), strict=True)
        )

    def __hash__(self) -> int:
        return hash(("icto.SortedMap", tuple(self.items())))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k!r}: {v!r}" for k, v in islice(self.items(), 10))
        more = ", …" if self._len > 10 else ""
        return f"SortedMap({{{shown}{more}}}, len={self._len})"


_new = object.__new__
_set_root, _set_len = slot_setters(SortedMap)


def _made(root: Any, length: int) -> SortedMap[Any, Any]:
    """A new map over ``root`` (the slot descriptors bypass the frozen ``__setattr__``)."""
    new: SortedMap[Any, Any] = _new(SortedMap)
    _set_root(new, root)
    _set_len(new, length)
    return new


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _build(keys: tuple[Any, ...], values: tuple[Any, ...]) -> Any:
    """A tree over sorted, distinct ``keys`` and their ``values``, bottom up in O(n)."""
    return build(
        tuple(
            keys[start : start + CAPACITY] + values[start : start + CAPACITY]
            for start in range(0, len(keys), CAPACITY)
        ),
        CAPACITY,
        MAP,
    )
