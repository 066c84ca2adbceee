"""``SortedSet``: a persistent sorted set with ranks, for indexes kept in canister state.

It is the B-tree of ``icto.collections.btree`` with leaves that are tuples of keys. An operation
copies one root-to-leaf path of at most ``capacity`` entries per level, so ``add``, ``discard``,
``in``, ``index`` and ``at`` cost O(log n) (depth 3 for a million keys at the default capacity)
and every older version stays valid and unchanged: keeping a reference is a snapshot. ``len`` is
O(1); a page costs O(log n + page).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, Final, Generic, TypeVar

from icto.collections.btree import (
    SET,
    build,
    insert,
    key_at,
    keys_at,
    keys_down,
    keys_from,
    leaf_for,
    page_start,
    rank,
    remove,
    root_of,
    shrunk,
)

# Files saved before the tree had a module of its own name its inner nodes
# ``icto.collections.sorted_set._Inner``: the alias keeps them loadable.
from icto.collections.btree import Inner as _Inner
from icto.collections.records import slot_setters

K = TypeVar("K")

DEFAULT_CAPACITY: Final = 64
"""Most keys in a leaf and most children of an inner node."""


class SortedSet(Generic[K]):
    """An immutable sorted set of mutually comparable keys; changes return a new set.

    >>> s = SortedSet([5, 1, 3])
    >>> s.add(2).discard(5).page(1, 2)
    (2, 3)
    """

    __slots__ = ("_capacity", "_len", "_root")

    _root: Any
    _len: int
    _capacity: int

    def __init__(self, keys: Iterable[K] = (), *, capacity: int = DEFAULT_CAPACITY) -> None:
        _check_capacity(capacity)
        unique = tuple(sorted(set(keys)))  # type: ignore[type-var]
        _set_root(self, _build(unique, capacity))
        _set_len(self, len(unique))
        _set_capacity(self, capacity)

    @classmethod
    def from_sorted(cls, keys: Iterable[K], *, capacity: int = DEFAULT_CAPACITY) -> SortedSet[K]:
        """A set of ``keys`` that are already sorted and distinct (not checked): O(n), without
        the sort the constructor does."""
        _check_capacity(capacity)
        ordered = tuple(keys)
        return cls._make(_build(ordered, capacity), len(ordered), capacity)

    @classmethod
    def _make(cls, root: Any, length: int, capacity: int) -> SortedSet[K]:
        new = object.__new__(cls)
        _set_root(new, root)
        _set_len(new, length)
        _set_capacity(new, capacity)
        return new

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("SortedSet is immutable: add() and discard() return a new set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("SortedSet is immutable: add() and discard() return a new set")

    # -- changes ------------------------------------------------------------------------------

    def add(self, key: K) -> SortedSet[K]:
        """This set with ``key``; the same object if it was already there. O(log n).

        A set that fits in one leaf (most indexes of one user or one key) takes the leaf's new
        tuple directly, without the tree walk."""
        root, capacity = self._root, self._capacity
        if type(root) is not _Inner:
            index = bisect_left(root, key)
            if index < len(root) and root[index] == key:
                return self
            if len(root) < capacity:
                return self._make((*root[:index], key, *root[index:]), self._len + 1, capacity)
        done = insert(root, key, None, capacity, SET)
        if done is None:
            return self
        return self._make(root_of(done[0], SET), self._len + 1, capacity)

    def discard(self, key: K) -> SortedSet[K]:
        """This set without ``key``; the same object if it was not there. O(log n)."""
        root: Any = self._root
        if type(root) is not _Inner:
            index = bisect_left(root, key)
            if index == len(root) or root[index] != key:
                return self
            return self._make(root[:index] + root[index + 1 :], self._len - 1, self._capacity)
        parts = remove(root, key, self._capacity, SET)
        if parts is None:
            return self
        return self._make(shrunk(parts), self._len - 1, self._capacity)

    # -- reads --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def __contains__(self, key: object) -> bool:
        if not self._len:
            return False
        try:
            leaf = leaf_for(self._root, key)
            if leaf is None:
                return False
            index = bisect_left(leaf, key)
            return index < len(leaf) and leaf[index] == key
        except TypeError:
            return False

    def __iter__(self) -> Iterator[K]:
        return keys_from(self._root, 0, SET) if self._len else iter(())

    def __reversed__(self) -> Iterator[K]:
        return keys_down(self._root, self._len - 1, SET) if self._len else iter(())

    def index(self, key: K) -> int:
        """How many keys are less than ``key`` (its position if present). O(log n)."""
        return rank(self._root, key, SET) if self._len else 0

    def at(self, position: int) -> K:
        """The key at ``position`` (negative counts from the end). O(log n)."""
        return key_at(self._root, self._len, position, SET)  # type: ignore[no-any-return]

    def iter_from(self, position: int = 0, *, descending: bool = False) -> Iterator[K]:
        """Keys from ``position`` on, ascending, or (``descending``) from it down to the first."""
        return keys_at(self._root, self._len, position, descending, SET)

    def page(self, offset: int, limit: int, *, descending: bool = False) -> tuple[K, ...]:
        """Up to ``limit`` keys starting ``offset`` places from the first (or, ``descending``,
        from the last). O(log n + limit)."""
        start = page_start(self._len, offset, limit, descending)
        return tuple(islice(self.iter_from(start, descending=descending), min(limit, self._len)))

    def irange(self, low: K | None = None, high: K | None = None) -> Iterator[K]:
        """Keys ``k`` with ``low <= k <= high`` (``None`` is unbounded), ascending."""
        start = 0 if low is None else self.index(low)
        keys = self.iter_from(start)
        if high is None:
            return keys
        return _take_while_le(keys, high)

    # -- value semantics ----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SortedSet):
            return NotImplemented
        return self._len == other._len and all(a == b for a, b in zip(self, other, strict=True))

    def __hash__(self) -> int:
        return hash(("icto.SortedSet", tuple(self)))

    def __repr__(self) -> str:
        shown = list(islice(self, 10))
        more = ", …" if self._len > 10 else ""
        return f"SortedSet([{', '.join(map(repr, shown))}{more}], len={self._len})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (tuple(self), self._capacity))


_set_root, _set_len, _set_capacity = slot_setters(SortedSet, "_root", "_len", "_capacity")
"""The slots' own setters: a set is made on every index change, and storing into the slots
directly skips the ``object.__setattr__`` dispatch (the class refuses ``setattr``)."""


def _check_capacity(capacity: object) -> None:
    if not isinstance(capacity, int) or capacity < 4:
        raise ValueError(f"capacity must be an int >= 4, got {capacity!r}")


def _take_while_le(keys: Iterator[Any], high: Any) -> Iterator[Any]:
    for key in keys:
        if high < key:
            return
        yield key


def _build(keys: tuple[Any, ...], capacity: int) -> Any:
    """A tree over sorted, distinct ``keys``, bottom up in O(n): full leaves, full levels."""
    return build(
        tuple(keys[start : start + capacity] for start in range(0, len(keys), capacity)),
        capacity,
        SET,
    )


def _rebuild(keys: tuple[Any, ...], capacity: int) -> SortedSet[Any]:
    return SortedSet(keys, capacity=capacity)
