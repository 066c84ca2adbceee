"""``Vector``: a persistent sequence for canister state that grows (block logs, id lists).

It is a HAMT from position to item (``immutables.Map``). ``pyrsistent.pvector`` is faster by a
constant, but its nodes are C structures the garbage collector cannot see one by one: a collection
that meets a young pvector walks every item in it (measured: ~20 ms per generation-0 collection
with a million items), and a canister's state is young after every message. The HAMT's nodes are
ordinary collected objects, so a collection visits only the new ones.

``append``, ``set`` and indexing are O(log32 n); a slice is a tuple, O(log n + its length).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from operator import index
from typing import Any, Final, Generic, TypeVar, overload

import immutables

from icto.collections.btree import page_start
from icto.collections.records import slot_setters

T = TypeVar("T")

_EMPTY: immutables.Map[int, Any] = immutables.Map()


class Vector(Generic[T]):
    """An immutable sequence; ``append`` and ``set`` return a new vector."""

    __slots__ = ("_items", "_len")

    _items: immutables.Map[int, T]
    _len: int

    def __init__(self, items: Iterable[T] = ()) -> None:
        with _EMPTY.mutate() as building:
            length = 0
            for item in items:
                building[length] = item
                length += 1
            _set_items(self, building.finish())
        _set_len(self, length)

    @classmethod
    def _make(cls, items: immutables.Map[int, T], length: int) -> Vector[T]:
        new = _new_object(cls)
        _set_items(new, items)
        _set_len(new, length)
        return new

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Vector is immutable: append() and set() return a new vector")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Vector is immutable: append() and set() return a new vector")

    def append(self, item: T) -> Vector[T]:
        """This vector with ``item`` at the end. ``_make``'s body written out: a block or an
        audit entry is appended on every transaction, and the extra call is 0.7 % of a
        transfer."""
        length = self._len
        new = _new_object(self.__class__)
        _set_items(new, self._items.set(length, item))
        _set_len(new, length + 1)
        return new

    def set(self, position: int, item: T) -> Vector[T]:
        """This vector with ``item`` at ``position`` (which must exist)."""
        return self._make(self._items.set(self._position(position), item), self._len)

    def _position(self, position: int) -> int:
        """``position`` from the start; a ``TypeError`` for a non-integer, as a list gives, and
        an ``IndexError`` outside the vector."""
        position = index(position)
        if position < 0:
            position += self._len
        if not 0 <= position < self._len:
            raise IndexError(f"position {position} out of range for {self._len} items")
        return position

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, key: int) -> T: ...
    @overload
    def __getitem__(self, key: slice) -> tuple[T, ...]: ...
    def __getitem__(self, key: int | slice) -> T | tuple[T, ...]:
        if isinstance(key, slice):
            items = self._items
            return tuple(items[i] for i in range(*key.indices(self._len)))
        return self._items[self._position(key)]

    def __iter__(self) -> Iterator[T]:
        items = self._items
        return (items[i] for i in range(self._len))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vector):
            return NotImplemented
        return self._len == other._len and self._items == other._items

    def __hash__(self) -> int:
        return hash(("icto.Vector", tuple(self)))

    def __repr__(self) -> str:
        shown = ", ".join(repr(item) for item in self[:10])
        return f"Vector([{shown}{', …' if self._len > 10 else ''}], len={self._len})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Vector, (tuple(self),))


_new_object: Final = object.__new__
_set_items, _set_len = slot_setters(Vector, "_items", "_len")
"""The slots' own setters: a vector is made on every append (a block, an audit entry), and
storing into the slots directly skips the ``object.__setattr__`` dispatch (the class refuses
``setattr``)."""


def newest_first(total: int, offset: int, limit: int) -> range:
    """Positions of one page of an append-only sequence of ``total`` items, newest first: up to
    ``limit`` of them, skipping the ``offset`` newest. Checked like ``SortedSet.page``."""
    start = page_start(total, offset, limit, True)
    return range(start, max(-1, start - limit), -1)
