"""``SortedMap``: a persistent map whose keys stay in order, with ranks, for per-key lists kept in
canister state (e.g. a user's contracts, each with the user's roles in it).

It is ``SortedSet``'s B-tree (the same inner nodes, O(log n) changes, O(log n + page) pages, every
version a snapshot) with the values in the leaves: a leaf is one flat tuple, its keys followed by
their values. A map of up to ``CAPACITY`` entries is therefore a single tuple, about two pointers
per entry, and a page of keys with their values is two slices.

It is a frozen attrs record whose fields are the tree, so the world codec saves and loads it like
any other record.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain, islice
from typing import Any, Final, Generic, TypeVar

import attrs

from icto.collections.sorted_set import _Inner, _locate

K = TypeVar("K")
V = TypeVar("V")

CAPACITY: Final = 64
"""Most entries in a leaf and most children of an inner node."""
_LOW: Final = CAPACITY // 4
"""A child left narrower than this after a removal is merged with a neighbour."""

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
        object.__setattr__(self, "_root", _build(keys, values))
        object.__setattr__(self, "_len", len(keys))

    # -- changes ------------------------------------------------------------------------------

    def set(self, key: K, value: V) -> SortedMap[K, V]:
        """This map with ``key`` → ``value``; the same object if ``key`` already maps to this
        very value. O(log n)."""
        root = self._root
        if type(root) is not _Inner:
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
        done = _put(root, key, value)
        if done is None:
            return self
        parts, added = done
        return _made(_root_of(parts), self._len + added)

    def discard(self, key: K) -> SortedMap[K, V]:
        """This map without ``key``; the same object if it was not there. O(log n)."""
        root: Any = self._root
        if type(root) is not _Inner:
            width = len(root) >> 1
            index = bisect_left(root, key, 0, width)
            if index == width or root[index] != key:
                return self
            copy = [*root]
            del copy[width + index]
            del copy[index]
            return _made(tuple(copy), width - 1)
        parts = _remove(root, key)
        if parts is None:
            return self
        root = parts[0] if parts else ()
        while type(root) is _Inner and len(root.children) == 1:
            root = root.children[0]
        return _made(root, self._len - 1)

    # -- reads --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def get(self, key: K, default: Any = None) -> Any:
        """The value of ``key``, or ``default``. O(log n)."""
        node = self._root
        while type(node) is _Inner:
            index = bisect_left(node.maxes, key)
            if index == len(node.maxes):
                return default
            node = node.children[index]
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
        return chain.from_iterable(leaf[len(leaf) >> 1 :] for leaf, _ in _leaves(self._root, 0))

    def items(self) -> Iterator[tuple[K, V]]:
        return zip(self.keys(), self.values(), strict=True)

    def index(self, key: K) -> int:
        """How many keys are less than ``key`` (its position if present). O(log n)."""
        return _rank(self._root, key)

    def at(self, position: int) -> K:
        """The key at ``position`` (negative counts from the end). O(log n)."""
        if position < 0:
            position += self._len
        if not 0 <= position < self._len:
            raise IndexError(f"position {position} out of range for {self._len} keys")
        return next(self.iter_from(position))

    def iter_from(self, position: int = 0, *, descending: bool = False) -> Iterator[K]:
        """Keys from ``position`` on, ascending, or (``descending``) from it down to the first."""
        if position < 0 or not self._len:
            return iter(())
        if descending:
            return chain.from_iterable(
                reversed(leaf[: stop + 1])
                for leaf, stop in _leaves_down(self._root, min(position, self._len - 1))
            )
        return chain.from_iterable(
            islice(leaf, start, len(leaf) >> 1) for leaf, start in _leaves(self._root, position)
        )

    def page(self, offset: int, limit: int, *, descending: bool = False) -> tuple[K, ...]:
        """Up to ``limit`` keys starting ``offset`` places from the first (or, ``descending``,
        from the last). O(log n + limit)."""
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must be non-negative, got {offset}, {limit}")
        if descending:
            return tuple(islice(self.iter_from(self._len - 1 - offset, descending=True), limit))
        return self.page_items(offset, limit)[0]

    def page_items(self, offset: int, limit: int) -> tuple[tuple[K, ...], tuple[V, ...]]:
        """Up to ``limit`` keys starting ``offset`` places from the first, and their values.
        Two slices when the map is one leaf; O(log n + limit) in general."""
        root = self._root
        if type(root) is not _Inner:
            width = len(root) >> 1
            stop = offset + limit if offset + limit < width else width
            return root[offset:stop], root[width + offset : width + stop]
        keys: list[K] = []
        values: list[V] = []
        for leaf, start in _leaves(root, offset):
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
        return hash((SortedMap, tuple(self.items())))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k!r}: {v!r}" for k, v in islice(self.items(), 10))
        more = ", …" if self._len > 10 else ""
        return f"SortedMap({{{shown}{more}}}, len={self._len})"


_new = object.__new__
_set_root = SortedMap.__dict__["_root"].__set__
_set_len = SortedMap.__dict__["_len"].__set__


def _made(root: Any, length: int) -> SortedMap[Any, Any]:
    """A new map over ``root`` (the slot descriptors bypass the frozen ``__setattr__``)."""
    new: SortedMap[Any, Any] = _new(SortedMap)
    _set_root(new, root)
    _set_len(new, length)
    return new


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


# -- nodes: a leaf is a flat tuple (keys..., values...), an inner node an ``_Inner`` ------------


def _size(node: Any) -> int:
    return sum(node.sizes) if type(node) is _Inner else len(node) >> 1


def _width(node: Any) -> int:
    return len(node.children) if type(node) is _Inner else len(node) >> 1


def _greatest(node: Any) -> Any:
    return node.maxes[-1] if type(node) is _Inner else node[(len(node) >> 1) - 1]


def _split(node: Any) -> tuple[Any, ...]:
    """``node`` as one node, or two halves when it holds more than ``CAPACITY`` entries."""
    width = _width(node)
    if width <= CAPACITY:
        return (node,)
    half = width // 2
    if type(node) is _Inner:
        return (
            _Inner(node.maxes[:half], node.sizes[:half], node.children[:half]),
            _Inner(node.maxes[half:], node.sizes[half:], node.children[half:]),
        )
    return (
        node[:half] + node[width : width + half],
        node[half:width] + node[width + half :],
    )


def _concat(left: Any, right: Any) -> Any:
    if type(left) is _Inner:
        return _Inner(
            left.maxes + right.maxes, left.sizes + right.sizes, left.children + right.children
        )
    m, n = len(left) >> 1, len(right) >> 1
    return left[:m] + right[:n] + left[m:] + right[n:]


def _replace(node: _Inner, start: int, stop: int, parts: tuple[Any, ...]) -> tuple[Any, ...]:
    """``node`` with ``children[start:stop]`` replaced by ``parts``, split if it overflows."""
    new = _Inner(
        node.maxes[:start] + tuple(_greatest(part) for part in parts) + node.maxes[stop:],
        node.sizes[:start] + tuple(_size(part) for part in parts) + node.sizes[stop:],
        node.children[:start] + parts + node.children[stop:],
    )
    return _split(new)


def _child_for(node: _Inner, key: Any) -> int:
    index = bisect_left(node.maxes, key)
    return index if index < len(node.maxes) else index - 1


def _put(node: Any, key: Any, value: Any) -> tuple[tuple[Any, ...], bool] | None:
    """The node(s) replacing ``node`` once ``key`` maps to ``value``, and whether ``key`` is
    new; ``None`` if it already mapped to this very value."""
    if type(node) is not _Inner:
        width = len(node) >> 1
        index = bisect_left(node, key, 0, width)
        if index < width and node[index] == key:
            at = width + index
            if node[at] is value:
                return None
            return ((*node[:at], value, *node[at + 1 :]),), False
        grown = (*node[:index], key, *node[index : width + index], value, *node[width + index :])
        return _split(grown), True
    index = _child_for(node, key)
    done = _put(node.children[index], key, value)
    if done is None:
        return None
    parts, added = done
    if len(parts) > 1:
        return _replace(node, index, index + 1, parts), True
    after = index + 1
    children = node.children[:index] + parts + node.children[after:]
    if not added:
        return (_Inner(node.maxes, node.sizes, children),), False
    maxes = node.maxes
    if key > maxes[index]:
        maxes = (*maxes[:index], key, *maxes[after:])
    sizes = node.sizes
    return (_Inner(maxes, (*sizes[:index], sizes[index] + 1, *sizes[after:]), children),), True


def _remove(node: Any, key: Any) -> tuple[Any, ...] | None:
    """The node(s) replacing ``node`` once ``key`` is out (maybe none); ``None`` if absent. A
    child left narrower than ``_LOW`` is merged with a neighbour (and split again if that
    overflows), so the tree stays shallow under any mix of operations."""
    if type(node) is not _Inner:
        width = len(node) >> 1
        index = bisect_left(node, key, 0, width)
        if index == width or node[index] != key:
            return None
        rest = node[:index] + node[index + 1 : width + index] + node[width + index + 1 :]
        return (rest,) if rest else ()
    index = bisect_left(node.maxes, key)
    if index == len(node.maxes):
        return None
    parts = _remove(node.children[index], key)
    if parts is None:
        return None
    start, stop = index, index + 1
    if len(parts) == 1 and _width(parts[0]) >= _LOW:
        sizes, children = node.sizes, node.children
        return (
            _Inner(
                (*node.maxes[:start], _greatest(parts[0]), *node.maxes[stop:]),
                (*sizes[:start], sizes[start] - 1, *sizes[stop:]),
                children[:start] + parts + children[stop:],
            ),
        )
    if len(parts) == 1 and len(node.children) > 1:
        if index + 1 < len(node.children):
            parts, stop = _split(_concat(parts[0], node.children[index + 1])), stop + 1
        else:
            parts, start = _split(_concat(node.children[index - 1], parts[0])), start - 1
    if not parts and len(node.children) == 1:
        return ()
    return _replace(node, start, stop, parts)


def _rank(node: Any, key: Any) -> int:
    """How many keys are less than ``key``."""
    before = 0
    while type(node) is _Inner:
        index = bisect_left(node.maxes, key)
        if index == len(node.maxes):
            return before + sum(node.sizes)
        before += sum(node.sizes[:index])
        node = node.children[index]
    return before + bisect_left(node, key, 0, len(node) >> 1)


def _leaves(node: Any, rank: int) -> Iterator[tuple[tuple[Any, ...], int]]:
    """Each leaf from the one holding position ``rank`` on, with where to start in it."""
    if type(node) is not _Inner:
        if rank < len(node) >> 1:
            yield node, rank
        return
    index, inner = _locate(node, rank)
    if index < len(node.children):
        yield from _leaves(node.children[index], inner)
    for child in islice(node.children, index + 1, None):
        yield from _leaves(child, 0)


def _leaves_down(node: Any, rank: int) -> Iterator[tuple[tuple[Any, ...], int]]:
    """Each leaf from the one holding position ``rank`` down to the first, with where to stop
    (inclusive) in it; ``rank`` is less than the size."""
    if type(node) is not _Inner:
        yield node, rank
        return
    index, inner = _locate(node, rank)
    yield from _leaves_down(node.children[index], inner)
    for child in reversed(node.children[:index]):
        yield from _leaves_down(child, _size(child) - 1)


def _root_of(parts: tuple[Any, ...]) -> Any:
    """The root over what an insert returned: the node itself, or a new level over two."""
    if len(parts) == 1:
        return parts[0]
    return _Inner(tuple(map(_greatest, parts)), tuple(map(_size, parts)), parts)


def _build(keys: tuple[Any, ...], values: tuple[Any, ...]) -> Any:
    """A tree over sorted, distinct ``keys`` and their ``values``, bottom up in O(n)."""
    level: tuple[Any, ...] = tuple(
        keys[start : start + CAPACITY] + values[start : start + CAPACITY]
        for start in range(0, len(keys), CAPACITY)
    )
    if not level:
        return ()
    while len(level) > 1:
        level = tuple(
            _Inner(tuple(map(_greatest, group)), tuple(map(_size, group)), group)
            for group in (level[i : i + CAPACITY] for i in range(0, len(level), CAPACITY))
        )
    return level[0]
