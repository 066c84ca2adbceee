"""``SortedSet``: a persistent sorted set with ranks, for indexes kept in canister state.

It is a B-tree whose nodes are tuples: a leaf is a tuple of keys, an inner node an ``_Inner`` of
per-child greatest keys, per-child sizes and children. An operation copies one root-to-leaf path
of at most ``capacity`` entries per level, so ``add``, ``discard``, ``in``, ``index`` and
``at`` cost O(log n) (depth 3 for a million keys at the default capacity) and every older version
stays valid and unchanged: keeping a reference is a snapshot. ``len`` is O(1); a page costs
O(log n + page).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from itertools import accumulate, islice
from typing import Any, Final, Generic, NamedTuple, TypeVar

K = TypeVar("K")

DEFAULT_CAPACITY: Final = 64
"""Most keys in a leaf and most children of an inner node."""


class _Inner(NamedTuple):
    maxes: tuple[Any, ...]
    """The greatest key under each child."""
    sizes: tuple[int, ...]
    """How many keys are under each child."""
    children: tuple[Any, ...]


def _is_inner(node: Any) -> bool:
    return type(node) is _Inner


def _size(node: Any) -> int:
    return sum(node.sizes) if type(node) is _Inner else len(node)


def _width(node: Any) -> int:
    return len(node.children) if type(node) is _Inner else len(node)


def _greatest(node: Any) -> Any:
    return node.maxes[-1] if type(node) is _Inner else node[-1]


def _split(node: Any, capacity: int) -> tuple[Any, ...]:
    """``node`` as one node, or two halves when it holds more than ``capacity`` entries."""
    width = _width(node)
    if width <= capacity:
        return (node,)
    half = width // 2
    if type(node) is _Inner:
        return (
            _Inner(node.maxes[:half], node.sizes[:half], node.children[:half]),
            _Inner(node.maxes[half:], node.sizes[half:], node.children[half:]),
        )
    return (node[:half], node[half:])


def _concat(left: Any, right: Any) -> Any:
    if type(left) is _Inner:
        return _Inner(
            left.maxes + right.maxes, left.sizes + right.sizes, left.children + right.children
        )
    return left + right


def _replace(
    node: _Inner, start: int, stop: int, parts: tuple[Any, ...], capacity: int
) -> tuple[Any, ...]:
    """``node`` with ``children[start:stop]`` replaced by ``parts``, split if it overflows."""
    new = _Inner(
        node.maxes[:start] + tuple(_greatest(part) for part in parts) + node.maxes[stop:],
        node.sizes[:start] + tuple(_size(part) for part in parts) + node.sizes[stop:],
        node.children[:start] + parts + node.children[stop:],
    )
    return _split(new, capacity)


def _child_for(node: _Inner, key: Any) -> int:
    index = bisect_left(node.maxes, key)
    return index if index < len(node.maxes) else index - 1


def _insert(node: Any, key: Any, capacity: int) -> tuple[Any, ...] | None:
    """The node(s) replacing ``node`` once ``key`` is in; ``None`` if it already was."""
    if type(node) is not _Inner:
        index = bisect_left(node, key)
        if index < len(node) and node[index] == key:
            return None
        return _split((*node[:index], key, *node[index:]), capacity)
    index = _child_for(node, key)
    parts = _insert(node.children[index], key, capacity)
    if parts is None:
        return None
    if len(parts) == 1:
        after = index + 1
        maxes = node.maxes
        if key > maxes[index]:
            maxes = (*maxes[:index], key, *maxes[after:])
        sizes = node.sizes
        return (
            _Inner(
                maxes,
                (*sizes[:index], sizes[index] + 1, *sizes[after:]),
                node.children[:index] + parts + node.children[after:],
            ),
        )
    return _replace(node, index, index + 1, parts, capacity)


def _remove(node: Any, key: Any, capacity: int) -> tuple[Any, ...] | None:
    """The node(s) replacing ``node`` once ``key`` is out (maybe none); ``None`` if absent.

    A child left with fewer than a quarter of ``capacity`` entries is merged with a neighbour
    (and split again if that overflows), so the tree stays shallow under any mix of operations.
    """
    if type(node) is not _Inner:
        index = bisect_left(node, key)
        if index == len(node) or node[index] != key:
            return None
        rest = node[:index] + node[index + 1 :]
        return (rest,) if rest else ()
    index = bisect_left(node.maxes, key)
    if index == len(node.maxes):
        return None
    parts = _remove(node.children[index], key, capacity)
    if parts is None:
        return None
    start, stop = index, index + 1
    if len(parts) == 1 and _width(parts[0]) >= capacity // 4:
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
            parts, stop = _split(_concat(parts[0], node.children[index + 1]), capacity), stop + 1
        else:
            parts, start = _split(_concat(node.children[index - 1], parts[0]), capacity), start - 1
    if not parts and len(node.children) == 1:
        return ()
    return _replace(node, start, stop, parts, capacity)


def _contains(node: Any, key: Any) -> bool:
    while type(node) is _Inner:
        index = bisect_left(node.maxes, key)
        if index == len(node.maxes):
            return False
        node = node.children[index]
    index = bisect_left(node, key)
    return index < len(node) and node[index] == key


def _rank(node: Any, key: Any) -> int:
    """How many keys are less than ``key``."""
    before = 0
    while type(node) is _Inner:
        index = bisect_left(node.maxes, key)
        if index == len(node.maxes):
            return before + sum(node.sizes)
        before += sum(node.sizes[:index])
        node = node.children[index]
    return before + bisect_left(node, key)


def _locate(node: Any, rank: int) -> tuple[Any, int]:
    """The child that holds position ``rank`` and the position inside it."""
    cumulative = tuple(accumulate(node.sizes))
    index = bisect_right(cumulative, rank)
    return index, rank - (cumulative[index - 1] if index else 0)


def _iter_from(node: Any, rank: int) -> Iterator[Any]:
    """Keys in ascending order, starting at position ``rank``."""
    if type(node) is not _Inner:
        yield from islice(node, rank, None)
        return
    index, inner = _locate(node, rank)
    if index < len(node.children):
        yield from _iter_from(node.children[index], inner)
    for child in islice(node.children, index + 1, None):
        yield from _iter_from(child, 0)


def _iter_down_from(node: Any, rank: int) -> Iterator[Any]:
    """Keys in descending order, starting at position ``rank`` (inclusive, < the size)."""
    if type(node) is not _Inner:
        for index in range(min(rank, len(node) - 1), -1, -1):
            yield node[index]
        return
    index, inner = _locate(node, rank)
    yield from _iter_down_from(node.children[index], inner)
    for child in reversed(node.children[:index]):
        yield from _iter_down_from(child, _size(child) - 1)


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
        parts = _insert(root, key, capacity)
        if parts is None:
            return self
        return self._make(_root_of(parts), self._len + 1, capacity)

    def discard(self, key: K) -> SortedSet[K]:
        """This set without ``key``; the same object if it was not there. O(log n)."""
        root: Any = self._root
        if type(root) is not _Inner:
            index = bisect_left(root, key)
            if index == len(root) or root[index] != key:
                return self
            return self._make(root[:index] + root[index + 1 :], self._len - 1, self._capacity)
        parts = _remove(root, key, self._capacity)
        if parts is None:
            return self
        root = parts[0] if parts else ()
        while type(root) is _Inner and len(root.children) == 1:
            root = root.children[0]
        return self._make(root, self._len - 1, self._capacity)

    # -- reads --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def __contains__(self, key: object) -> bool:
        if not self._len:
            return False
        try:
            return _contains(self._root, key)
        except TypeError:
            return False

    def __iter__(self) -> Iterator[K]:
        return _iter_from(self._root, 0) if self._len else iter(())

    def __reversed__(self) -> Iterator[K]:
        return _iter_down_from(self._root, self._len - 1) if self._len else iter(())

    def index(self, key: K) -> int:
        """How many keys are less than ``key`` (its position if present). O(log n)."""
        return _rank(self._root, key) if self._len else 0

    def at(self, position: int) -> K:
        """The key at ``position`` (negative counts from the end). O(log n)."""
        if position < 0:
            position += self._len
        if not 0 <= position < self._len:
            raise IndexError(f"position {position} out of range for {self._len} keys")
        return next(_iter_from(self._root, position))  # type: ignore[no-any-return]

    def iter_from(self, position: int = 0, *, descending: bool = False) -> Iterator[K]:
        """Keys from ``position`` on, ascending, or (``descending``) from it down to the first."""
        if position < 0 or not self._len:
            return iter(())
        if descending:
            return _iter_down_from(self._root, min(position, self._len - 1))
        return _iter_from(self._root, position) if position < self._len else iter(())

    def page(self, offset: int, limit: int, *, descending: bool = False) -> tuple[K, ...]:
        """Up to ``limit`` keys starting ``offset`` places from the first (or, ``descending``,
        from the last). O(log n + limit)."""
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must be non-negative, got {offset}, {limit}")
        start = self._len - 1 - offset if descending else offset
        return tuple(islice(self.iter_from(start, descending=descending), limit))

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
        return hash((SortedSet, tuple(self)))

    def __repr__(self) -> str:
        shown = list(islice(self, 10))
        more = ", …" if self._len > 10 else ""
        return f"SortedSet([{', '.join(map(repr, shown))}{more}], len={self._len})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (tuple(self), self._capacity))


_set_root: Final = vars(SortedSet)["_root"].__set__
_set_len: Final = vars(SortedSet)["_len"].__set__
_set_capacity: Final = vars(SortedSet)["_capacity"].__set__
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


def _root_of(parts: tuple[Any, ...]) -> Any:
    """The root over what an insert returned: the node itself, or a new level over two."""
    if len(parts) == 1:
        return parts[0]
    return _Inner(tuple(map(_greatest, parts)), tuple(map(_size, parts)), parts)


def _build(keys: tuple[Any, ...], capacity: int) -> Any:
    """A tree over sorted, distinct ``keys``, bottom up in O(n): full leaves, full levels."""
    level: tuple[Any, ...] = tuple(
        keys[start : start + capacity] for start in range(0, len(keys), capacity)
    )
    if not level:
        return ()
    while len(level) > 1:
        level = tuple(
            _Inner(tuple(map(_greatest, group)), tuple(map(_size, group)), group)
            for group in (level[i : i + capacity] for i in range(0, len(level), capacity))
        )
    return level[0]


def _rebuild(keys: tuple[Any, ...], capacity: int) -> SortedSet[Any]:
    return SortedSet(keys, capacity=capacity)
