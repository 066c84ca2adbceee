"""The persistent B-tree under ``SortedSet`` and ``SortedMap``: one copy of its algorithms.

A tree is a leaf, or an ``Inner`` node of per-child greatest keys, per-child sizes and children.
Nodes are tuples, never changed: an operation copies one root-to-leaf path and returns the
node(s) that replace the one it was given, so every older root stays a valid snapshot.

A leaf is one flat tuple: a set's leaf its sorted keys, a map's leaf its sorted keys followed by
their values. Every function takes the tree's ``shift`` (``SET`` or ``MAP``), so a leaf's width
is ``len(leaf) >> shift`` and no per-entry objects exist. The sets' and maps' single-leaf fast
paths stay in their own classes: most indexes are one leaf.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from itertools import accumulate, chain, islice
from typing import Any, Final, NamedTuple


class Inner(NamedTuple):
    maxes: tuple[Any, ...]
    """The greatest key under each child."""
    sizes: tuple[int, ...]
    """How many entries are under each child."""
    children: tuple[Any, ...]


SET: Final = 0
MAP: Final = 1
"""A tree's ``shift``: a leaf holds its n sorted keys, followed in a map's tree by their n
values, so a leaf's width is ``len(leaf) >> shift``."""


def _halves(leaf: tuple[Any, ...], half: int, shift: int) -> tuple[Any, ...]:
    """``leaf`` cut into its first ``half`` entries and the rest."""
    if not shift:
        return (leaf[:half], leaf[half:])
    wide = len(leaf) >> 1
    return (leaf[:half] + leaf[wide : wide + half], leaf[half:wide] + leaf[wide + half :])


def _joined(left: tuple[Any, ...], right: tuple[Any, ...], shift: int) -> tuple[Any, ...]:
    """The entries of ``left`` then those of ``right`` (all of ``left``'s keys are less)."""
    if not shift:
        return left + right
    m, n = len(left) >> 1, len(right) >> 1
    return left[:m] + right[:n] + left[m:] + right[n:]


def size(node: Any, shift: int) -> int:
    return sum(node.sizes) if type(node) is Inner else len(node) >> shift


def width(node: Any, shift: int) -> int:
    return len(node.children) if type(node) is Inner else len(node) >> shift


def greatest(node: Any, shift: int) -> Any:
    return node.maxes[-1] if type(node) is Inner else node[(len(node) >> shift) - 1]


def split(node: Any, capacity: int, shift: int) -> tuple[Any, ...]:
    """``node`` as one node, or two halves when it holds more than ``capacity`` entries."""
    if type(node) is not Inner:
        wide = len(node) >> shift
        return (node,) if wide <= capacity else _halves(node, wide // 2, shift)
    wide = len(node.children)
    if wide <= capacity:
        return (node,)
    half = wide // 2
    return (
        Inner(node.maxes[:half], node.sizes[:half], node.children[:half]),
        Inner(node.maxes[half:], node.sizes[half:], node.children[half:]),
    )


def concat(left: Any, right: Any, shift: int) -> Any:
    """Two neighbours of one level as one node."""
    if type(left) is Inner:
        return Inner(
            left.maxes + right.maxes, left.sizes + right.sizes, left.children + right.children
        )
    return _joined(left, right, shift)


def replace(
    node: Inner, start: int, stop: int, parts: tuple[Any, ...], capacity: int, shift: int
) -> tuple[Any, ...]:
    """``node`` with ``children[start:stop]`` replaced by ``parts``, split if it overflows."""
    new = Inner(
        node.maxes[:start] + tuple(greatest(part, shift) for part in parts) + node.maxes[stop:],
        node.sizes[:start] + tuple(size(part, shift) for part in parts) + node.sizes[stop:],
        node.children[:start] + parts + node.children[stop:],
    )
    return split(new, capacity, shift)


def child_for(node: Inner, key: Any) -> int:
    """The child ``key`` belongs in (the last one for a key above them all)."""
    index = bisect_left(node.maxes, key)
    return index if index < len(node.maxes) else index - 1


def leaf_for(node: Any, key: Any) -> Any:
    """The leaf that would hold ``key``; ``None`` when it is above every key."""
    while type(node) is Inner:
        index = bisect_left(node.maxes, key)
        if index == len(node.maxes):
            return None
        node = node.children[index]
    return node


def insert(
    node: Any, key: Any, value: Any, capacity: int, shift: int
) -> tuple[tuple[Any, ...], bool] | None:
    """The node(s) replacing ``node`` once ``key`` is in (with ``value``, in a map), and whether
    ``key`` is new; ``None`` if nothing changed (a set's key already there, a map's key already
    mapped to this very ``value``)."""
    if type(node) is not Inner:
        wide = len(node) >> shift
        index = bisect_left(node, key, 0, wide)
        at = wide + index
        if index < wide and node[index] == key:
            if not shift or node[at] is value:
                return None
            return ((*node[:at], value, *node[at + 1 :]),), False
        if shift:
            grown = (*node[:index], key, *node[index:at], value, *node[at:])
        else:
            grown = (*node[:index], key, *node[index:])
        return (split(grown, capacity, shift) if wide >= capacity else (grown,)), True
    index = child_for(node, key)
    done = insert(node.children[index], key, value, capacity, shift)
    if done is None:
        return None
    parts, added = done
    if len(parts) > 1:
        return replace(node, index, index + 1, parts, capacity, shift), True
    after = index + 1
    children = node.children[:index] + parts + node.children[after:]
    if not added:
        return (Inner(node.maxes, node.sizes, children),), False
    maxes = node.maxes
    if key > maxes[index]:
        maxes = (*maxes[:index], key, *maxes[after:])
    sizes = node.sizes
    return (Inner(maxes, (*sizes[:index], sizes[index] + 1, *sizes[after:]), children),), True


def remove(node: Any, key: Any, capacity: int, shift: int) -> tuple[Any, ...] | None:
    """The node(s) replacing ``node`` once ``key`` is out (maybe none); ``None`` if absent.

    A child left with fewer than a quarter of ``capacity`` entries is merged with a neighbour
    (and split again if that overflows), so the tree stays shallow under any mix of operations.
    """
    if type(node) is not Inner:
        wide = len(node) >> shift
        index = bisect_left(node, key, 0, wide)
        if index == wide or node[index] != key:
            return None
        if shift:
            rest = node[:index] + node[index + 1 : wide + index] + node[wide + index + 1 :]
        else:
            rest = node[:index] + node[index + 1 :]
        return (rest,) if rest else ()
    index = bisect_left(node.maxes, key)
    if index == len(node.maxes):
        return None
    parts = remove(node.children[index], key, capacity, shift)
    if parts is None:
        return None
    start, stop = index, index + 1
    if len(parts) == 1 and width(parts[0], shift) >= capacity // 4:
        sizes, children = node.sizes, node.children
        return (
            Inner(
                (*node.maxes[:start], greatest(parts[0], shift), *node.maxes[stop:]),
                (*sizes[:start], sizes[start] - 1, *sizes[stop:]),
                children[:start] + parts + children[stop:],
            ),
        )
    if len(parts) == 1 and len(node.children) > 1:
        if index + 1 < len(node.children):
            merged = concat(parts[0], node.children[index + 1], shift)
            parts, stop = split(merged, capacity, shift), stop + 1
        else:
            merged = concat(node.children[index - 1], parts[0], shift)
            parts, start = split(merged, capacity, shift), start - 1
    if not parts and len(node.children) == 1:
        return ()
    return replace(node, start, stop, parts, capacity, shift)


def parent(children: tuple[Any, ...], shift: int) -> Inner:
    """A new node over ``children``, neighbours of one level in key order."""
    return Inner(
        tuple(greatest(child, shift) for child in children),
        tuple(size(child, shift) for child in children),
        children,
    )


def root_of(parts: tuple[Any, ...], shift: int) -> Any:
    """The root over what an insert returned: the node itself, or a new level over two."""
    return parts[0] if len(parts) == 1 else parent(parts, shift)


def shrunk(parts: tuple[Any, ...]) -> Any:
    """The root over what a removal returned: empty, or the top without single-child levels."""
    root = parts[0] if parts else ()
    while type(root) is Inner and len(root.children) == 1:
        root = root.children[0]
    return root


def build(level: tuple[Any, ...], capacity: int, shift: int) -> Any:
    """The tree over ``level``, full leaves in key order, built bottom up in O(n)."""
    if not level:
        return ()
    while len(level) > 1:
        level = tuple(
            parent(level[i : i + capacity], shift) for i in range(0, len(level), capacity)
        )
    return level[0]


def rank(node: Any, key: Any, shift: int) -> int:
    """How many keys are less than ``key``."""
    before = 0
    while type(node) is Inner:
        index = bisect_left(node.maxes, key)
        if index == len(node.maxes):
            return before + sum(node.sizes)
        before += sum(node.sizes[:index])
        node = node.children[index]
    return before + bisect_left(node, key, 0, len(node) >> shift)


def locate(node: Inner, position: int) -> tuple[int, int]:
    """The child that holds ``position`` and the position inside it."""
    cumulative = tuple(accumulate(node.sizes))
    index = bisect_right(cumulative, position)
    return index, position - (cumulative[index - 1] if index else 0)


def leaves_from(node: Any, position: int, shift: int) -> Iterator[tuple[Any, int]]:
    """Each leaf from the one holding ``position`` on, with where to start in it."""
    if type(node) is not Inner:
        if position < len(node) >> shift:
            yield node, position
        return
    index, inner = locate(node, position)
    if index < len(node.children):
        yield from leaves_from(node.children[index], inner, shift)
    for child in islice(node.children, index + 1, None):
        yield from leaves_from(child, 0, shift)


def leaves_down(node: Any, position: int, shift: int) -> Iterator[tuple[Any, int]]:
    """Each leaf from the one holding ``position`` (less than the size) down to the first, with
    where to stop (inclusive) in it."""
    if type(node) is not Inner:
        yield node, position
        return
    index, inner = locate(node, position)
    yield from leaves_down(node.children[index], inner, shift)
    for child in reversed(node.children[:index]):
        yield from leaves_down(child, size(child, shift) - 1, shift)


def keys_from(node: Any, position: int, shift: int) -> Iterator[Any]:
    """The keys from ``position`` on, ascending."""
    return chain.from_iterable(
        islice(leaf, start, len(leaf) >> shift)
        for leaf, start in leaves_from(node, position, shift)
    )


def keys_down(node: Any, position: int, shift: int) -> Iterator[Any]:
    """The keys from ``position`` (less than the size) down to the first."""
    return chain.from_iterable(
        reversed(leaf[: stop + 1]) for leaf, stop in leaves_down(node, position, shift)
    )


def key_at(node: Any, count: int, position: int, shift: int) -> Any:
    """The key at ``position`` of a tree of ``count`` keys (negative counts from the end)."""
    if position < 0:
        position += count
    if not 0 <= position < count:
        raise IndexError(f"position {position} out of range for {count} keys")
    return next(keys_from(node, position, shift))


def page_start(count: int, offset: int, limit: int, descending: bool) -> int:
    """Where a page of ``limit`` keys ``offset`` places from the first (or, ``descending``, from
    the last) of ``count`` keys starts; a ``TypeError`` for an offset or limit that is not an
    int, a ``ValueError`` for a negative one."""
    if not (isinstance(offset, int) and isinstance(limit, int)):
        raise TypeError(f"offset and limit must be ints, got {offset!r}, {limit!r}")
    if offset < 0 or limit < 0:
        raise ValueError(f"offset and limit must be non-negative, got {offset}, {limit}")
    return count - 1 - offset if descending else offset


def keys_at(node: Any, count: int, position: int, descending: bool, shift: int) -> Iterator[Any]:
    """The keys of a tree of ``count`` keys from ``position`` on, ascending, or (``descending``)
    from it down to the first; none for a negative position."""
    if position < 0 or not count:
        return iter(())
    if descending:
        return keys_down(node, min(position, count - 1), shift)
    return keys_from(node, position, shift) if position < count else iter(())
