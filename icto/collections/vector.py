"""``Vector``: a persistent sequence for canister state that grows (block logs, id lists).

It is a 32-way trie of tuples with a tail, like Clojure's persistent vector: items sit in leaves of
32, the last 1 to 32 of them in ``_tail``, so ``append`` copies the tail (and once every 32 items
one root-to-leaf path of at most 32 entries per level), ``set`` copies one path, and indexing is
O(log32 n) (depth 4 for a million items). It costs about one pointer per item; a HAMT from
position to item (``immutables.Map``) took 40 to 80 bytes per item.

``pyrsistent.pvector`` is faster by a constant, but its nodes are C structures the garbage
collector cannot see one by one: a collection that meets a young pvector walks every item in it
(measured: ~20 ms per generation-0 collection with a million items), and a canister's state is
young after every message. These nodes are ordinary tuples, so a collection visits only new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain, islice
from typing import Any, Final, Generic, TypeVar, overload

T = TypeVar("T")

_BITS: Final = 5
_WIDTH: Final = 1 << _BITS
_MASK: Final = _WIDTH - 1


class Vector(Generic[T]):
    """An immutable sequence; ``append`` and ``set`` return a new vector."""

    __slots__ = ("_len", "_root", "_shift", "_tail")

    _root: tuple[Any, ...]
    """The trie over the first ``_len - len(_tail)`` items: leaves at level 0, ``_shift`` bits
    of position consumed above them."""
    _tail: tuple[T, ...]
    _len: int
    _shift: int

    def __init__(self, items: Iterable[T] = ()) -> None:
        every = tuple(items)
        length = len(every)
        in_tree = (length - 1) & ~_MASK if length else 0
        level: tuple[Any, ...] = tuple(every[i : i + _WIDTH] for i in range(0, in_tree, _WIDTH))
        shift = _BITS
        while len(level) > _WIDTH:
            level = tuple(level[i : i + _WIDTH] for i in range(0, len(level), _WIDTH))
            shift += _BITS
        _init(self, level, every[in_tree:], length, shift)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Vector is immutable: append() and set() return a new vector")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Vector is immutable: append() and set() return a new vector")

    # -- changes ------------------------------------------------------------------------------

    def append(self, item: T) -> Vector[T]:
        tail = self._tail
        length = self._len
        if len(tail) < _WIDTH:
            return _made(self._root, (*tail, item), length + 1, self._shift)
        in_tree = length - _WIDTH
        shift = self._shift
        if in_tree + _WIDTH > 1 << (shift + _BITS):
            root: tuple[Any, ...] = (self._root, _path(shift, tail))
            shift += _BITS
        else:
            root = _push(self._root, shift, tail, in_tree)
        return _made(root, (item,), length + 1, shift)

    def set(self, position: int, item: T) -> Vector[T]:
        """This vector with ``item`` at ``position`` (which must exist)."""
        if type(position) is not int or not 0 <= position < self._len:
            position = self._position(position)
        in_tree = self._len - len(self._tail)
        if position >= in_tree:
            tail = [*self._tail]
            tail[position - in_tree] = item
            return _made(self._root, tuple(tail), self._len, self._shift)
        return _made(
            _assoc(self._root, self._shift, position, item), self._tail, self._len, self._shift
        )

    # -- reads --------------------------------------------------------------------------------

    def _position(self, position: int) -> int:
        if position < 0:
            position += self._len
        if not 0 <= position < self._len:
            raise IndexError(f"position {position} out of range for {self._len} items")
        return position

    def _leaf(self, position: int) -> tuple[Any, ...]:
        """The leaf (or the tail) that holds ``position``."""
        if position >= self._len - len(self._tail):
            return self._tail
        node = self._root
        level = self._shift
        while level:
            node = node[(position >> level) & _MASK]
            level -= _BITS
        return node

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, key: int) -> T: ...
    @overload
    def __getitem__(self, key: slice) -> tuple[T, ...]: ...
    def __getitem__(self, key: int | slice) -> T | tuple[T, ...]:
        if type(key) is not int:
            if isinstance(key, slice):
                start, stop, step = key.indices(self._len)
                if step == 1:
                    return tuple(islice(self._iter_from(start), max(0, stop - start)))
                return tuple(self[i] for i in range(start, stop, step))
            key = self._position(key)
        elif not 0 <= key < self._len:
            key = self._position(key)
        in_tree = self._len - len(self._tail)
        if key >= in_tree:
            return self._tail[key - in_tree]
        node = self._root
        level = self._shift
        while level:
            node = node[(key >> level) & _MASK]
            level -= _BITS
        return node[key & _MASK]  # type: ignore[no-any-return]

    def _iter_from(self, start: int) -> Iterator[T]:
        """Items from position ``start`` on: the rest of its leaf, the leaves after it, the tail."""
        in_tree = self._len - len(self._tail)
        if start >= in_tree:
            return islice(self._tail, start - in_tree, None)
        first = start & ~_MASK
        leaves = (self._leaf(at) for at in range(first + _WIDTH, in_tree, _WIDTH))
        return chain(
            islice(self._leaf(first), start - first, None), chain.from_iterable(leaves), self._tail
        )

    def __iter__(self) -> Iterator[T]:
        return chain(_items(self._root, self._shift), self._tail)

    # -- value semantics ----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vector):
            return NotImplemented
        if self._len != other._len:
            return False
        if self._root is other._root and self._tail is other._tail:
            return True
        return all(a == b for a, b in zip(self, other, strict=True))

    def __hash__(self) -> int:
        return hash((Vector, tuple(self)))

    def __repr__(self) -> str:
        shown = ", ".join(repr(item) for item in self[:10])
        return f"Vector([{shown}{', …' if self._len > 10 else ''}], len={self._len})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Vector, (tuple(self),))


_new = object.__new__
_set_root = Vector.__dict__["_root"].__set__
_set_tail = Vector.__dict__["_tail"].__set__
_set_len = Vector.__dict__["_len"].__set__
_set_shift = Vector.__dict__["_shift"].__set__


def _init(vector: Vector[Any], root: tuple[Any, ...], tail: tuple[Any, ...], length: int,
          shift: int) -> None:  # fmt: skip
    """Fill a new vector's slots (the slot descriptors bypass the refusing ``__setattr__``)."""
    _set_root(vector, root)
    _set_tail(vector, tail)
    _set_len(vector, length)
    _set_shift(vector, shift)


def _made(root: tuple[Any, ...], tail: tuple[Any, ...], length: int, shift: int) -> Vector[Any]:
    new: Vector[Any] = _new(Vector)
    _set_root(new, root)
    _set_tail(new, tail)
    _set_len(new, length)
    _set_shift(new, shift)
    return new


def _path(level: int, leaf: tuple[Any, ...]) -> tuple[Any, ...]:
    """A chain of single-child nodes from ``level`` down to ``leaf``."""
    while level:
        leaf = (leaf,)
        level -= _BITS
    return leaf


def _push(node: tuple[Any, ...], level: int, leaf: tuple[Any, ...], at: int) -> tuple[Any, ...]:
    """``node`` with ``leaf`` added as the leaf for positions ``at`` to ``at + 31``."""
    child = (at >> level) & _MASK
    if level == _BITS or child == len(node):
        return (*node, _path(level - _BITS, leaf))
    return (*node[:child], _push(node[child], level - _BITS, leaf, at))


def _assoc(root: tuple[Any, ...], shift: int, position: int, item: Any) -> tuple[Any, ...]:
    """``root`` with ``item`` at ``position``: one path copied (through lists, which copy
    faster than slicing and joining tuples)."""
    path = []
    node = root
    level = shift
    while level:
        path.append(node)
        node = node[(position >> level) & _MASK]
        level -= _BITS
    copy = [*node]
    copy[position & _MASK] = item
    new = tuple(copy)
    for node in reversed(path):
        level += _BITS
        copy = [*node]
        copy[(position >> level) & _MASK] = new
        new = tuple(copy)
    return new


def _items(node: tuple[Any, ...], level: int) -> Iterator[Any]:
    if level == _BITS:
        return chain.from_iterable(node)
    return chain.from_iterable(_items(child, level - _BITS) for child in node)


def newest_first(total: int, offset: int, limit: int) -> range:
    """Positions of one page of an append-only sequence of ``total`` items, newest first."""
    return range(total - 1 - offset, max(-1, total - 1 - offset - limit), -1)
