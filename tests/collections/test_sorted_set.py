"""Specification of ``icto.collections.SortedSet``, the persistent B-tree sorted set.

The main check is a stateful comparison with the simplest possible model, a sorted Python list
without duplicates: random adds and discards (of small ints, so keys collide and are removed
again) on sets with tiny capacities (4..8 keys per node), so that every few steps a leaf or an
inner node splits or merges and the tree grows and shrinks by whole levels. After every step every
read (iteration both ways, membership, rank, position, pages both ways, ranges, ``iter_from``)
must agree with the list, and every version kept from earlier steps must still read as it did then.

Targeted tests then pin the rest of the contract: identity when nothing changes, construction,
value semantics, pickling, immutability, argument errors and tuple keys (the audit log keys
entries by ``(timestamp, id)``).
"""

from __future__ import annotations

import pickle
from bisect import bisect_left
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from icto import Principal
from icto.collections import SortedSet

KEY_RANGE = 64
keys = st.integers(0, KEY_RANGE - 1)
# Probes reach just outside the key range so "below everything" and "above everything" are read.
PROBES = range(-2, KEY_RANGE + 2)
RANGE_BOUNDS = (None, -1, 0, 7, 31, 32, 50, KEY_RANGE - 1, KEY_RANGE)


def expected_page(model: list[int], offset: int, limit: int, descending: bool) -> list[int]:
    ordered = model[::-1] if descending else model
    return ordered[offset : offset + limit]


def expected_iter_from(model: list[int], position: int, descending: bool) -> list[int]:
    if position < 0 or not model:
        return []
    if descending:
        return model[min(position, len(model) - 1) :: -1]
    return model[position:]


def expected_irange(model: list[int], low: int | None, high: int | None) -> list[int]:
    return [key for key in model if (low is None or low <= key) and (high is None or key <= high)]


def assert_reads_like(s: SortedSet[Any], model: list[Any]) -> None:
    """Every read of ``s`` agrees with the sorted, duplicate-free list ``model``."""
    n = len(model)
    assert list(s) == model
    assert len(s) == n
    assert bool(s) == bool(model)
    assert list(reversed(s)) == model[::-1]
    for position in range(-n, n):
        assert s.at(position) == model[position]
    for bad in (n, -n - 1):
        with pytest.raises(IndexError):
            s.at(bad)


class SortedSetAgainstList(RuleBasedStateMachine):
    """A ``SortedSet`` and a sorted list, changed in lockstep, must always read alike."""

    def __init__(self) -> None:
        super().__init__()
        self.s: SortedSet[int] = SortedSet()
        self.model: list[int] = []
        self.versions: list[tuple[SortedSet[int], list[int]]] = []

    @initialize(
        capacity=st.integers(4, 8),
        initial=st.lists(st.integers(0, KEY_RANGE - 1), max_size=3 * KEY_RANGE // 2),
    )
    def start(self, capacity: int, initial: list[int]) -> None:
        self.s = SortedSet(initial, capacity=capacity)
        self.model = sorted(set(initial))
        self._keep()

    def _keep(self) -> None:
        self.versions.append((self.s, list(self.model)))

    def _add(self, key: int) -> None:
        before = self.s
        self.s = self.s.add(key)
        if key in self.model:
            assert self.s is before, "adding a present key must return the same set"
        else:
            assert self.s is not before
            self.model.insert(bisect_left(self.model, key), key)

    def _discard(self, key: int) -> None:
        before = self.s
        self.s = self.s.discard(key)
        if key in self.model:
            assert self.s is not before
            self.model.remove(key)
        else:
            assert self.s is before, "discarding an absent key must return the same set"

    @rule(key=keys)
    def add(self, key: int) -> None:
        self._add(key)
        self._keep()

    @rule(key=st.integers(-2, KEY_RANGE + 1))
    def discard(self, key: int) -> None:
        self._discard(key)
        self._keep()

    @rule(start=keys, length=st.integers(1, 24), step=st.sampled_from([1, -1, 3]))
    def add_run(self, start: int, length: int, step: int) -> None:
        """Many adds in a row (ascending, descending or spread) split nodes level after level."""
        for i in range(length):
            self._add((start + step * i) % KEY_RANGE)
        self._keep()

    @rule(start=keys, length=st.integers(1, 24), step=st.sampled_from([1, -1, 3]))
    def discard_run(self, start: int, length: int, step: int) -> None:
        """Many discards in a row empty leaves and merge nodes until levels disappear."""
        for i in range(length):
            self._discard((start + step * i) % KEY_RANGE)
        self._keep()

    @rule(
        position=st.integers(-2, KEY_RANGE + 2),
        descending=st.booleans(),
    )
    def iterate_from(self, position: int, descending: bool) -> None:
        expected = expected_iter_from(self.model, position, descending)
        assert list(self.s.iter_from(position, descending=descending)) == expected

    @invariant()
    def reads_agree_with_the_model(self) -> None:
        assert_reads_like(self.s, self.model)

    @invariant()
    def membership_and_rank(self) -> None:
        present = set(self.model)
        for probe in PROBES:
            assert (probe in self.s) == (probe in present), probe
            assert self.s.index(probe) == bisect_left(self.model, probe), probe

    @invariant()
    def pages_both_ways(self) -> None:
        n = len(self.model)
        for descending in (False, True):
            for offset in range(n + 2):
                for limit in (0, 1, 3):
                    expected = expected_page(self.model, offset, limit, descending)
                    assert list(self.s.page(offset, limit, descending=descending)) == expected
            whole = self.s.page(0, n + 5, descending=descending)
            assert list(whole) == (self.model[::-1] if descending else self.model)

    @invariant()
    def ranges(self) -> None:
        for low in RANGE_BOUNDS:
            for high in RANGE_BOUNDS:
                expected = expected_irange(self.model, low, high)
                assert list(self.s.irange(low, high)) == expected, (low, high)

    @invariant()
    def iteration_from_edges(self) -> None:
        n = len(self.model)
        for position in (-1, 0, 1, n // 2, n - 1, n, n + 1):
            for descending in (False, True):
                expected = expected_iter_from(self.model, position, descending)
                got = list(self.s.iter_from(position, descending=descending))
                assert got == expected, (position, descending)

    @invariant()
    def older_versions_are_unchanged(self) -> None:
        for version, snapshot in self.versions:
            assert len(version) == len(snapshot)
            assert list(version) == snapshot


SortedSetAgainstList.TestCase.settings = settings(
    max_examples=80, stateful_step_count=25, deadline=None
)
TestSortedSetAgainstList = SortedSetAgainstList.TestCase


# -- deep trees, built deterministically --------------------------------------------------------


def test_a_thousand_keys_in_scrambled_order_at_the_smallest_capacity() -> None:
    """At capacity 4 a thousand keys make a tree five or more levels deep; inserting them in a
    scrambled order and removing all but a few must keep every read exact."""
    n = 1000
    order = [(i * 389) % n for i in range(n)]  # 389 is coprime to 1000: a permutation
    s: SortedSet[int] = SortedSet(capacity=4)
    for key in order:
        s = s.add(key)
    assert_reads_like(s, list(range(n)))
    assert s == SortedSet(range(n), capacity=4)
    assert [s.index(k) for k in range(0, n, 97)] == list(range(0, n, 97))

    kept = set(range(0, n, 111))
    for key in reversed(order):
        if key not in kept:
            s = s.discard(key)
    assert_reads_like(s, sorted(kept))
    assert list(s.irange(100, 500)) == [111, 222, 333, 444]
    assert s.page(1, 3, descending=True) == (888, 777, 666)


def test_emptying_a_deep_set_leaves_an_empty_set_that_grows_again() -> None:
    s: SortedSet[int] = SortedSet(range(200), capacity=4)
    for key in range(200):
        s = s.discard(key)
    assert_reads_like(s, [])
    assert s == SortedSet()
    assert s.index(5) == 0
    assert s.page(0, 10) == ()
    assert s.page(0, 10, descending=True) == ()
    assert list(s.irange()) == []
    s = s.add(7).add(3)
    assert_reads_like(s, [3, 7])


# -- persistence and identity -------------------------------------------------------------------


def test_older_versions_are_snapshots() -> None:
    """Keeping a reference is a snapshot: later adds and discards never show through it."""
    v0: SortedSet[int] = SortedSet(range(0, 40, 2), capacity=4)
    v1 = v0.add(5).add(41).discard(10)
    v2 = v1.discard(0).discard(38).add(-1)
    assert list(v0) == list(range(0, 40, 2))
    assert list(v1) == sorted({*range(0, 40, 2), 5, 41} - {10})
    assert list(v2) == sorted(({*range(0, 40, 2), 5, 41, -1}) - {10, 0, 38})
    assert (len(v0), len(v1), len(v2)) == (20, 21, 20)


@given(
    initial=st.lists(keys, max_size=40),
    key=keys,
    capacity=st.integers(4, 8),
)
@settings(max_examples=60, deadline=None)
def test_adding_a_present_key_or_discarding_an_absent_one_returns_the_same_set(
    initial: list[int], key: int, capacity: int
) -> None:
    s = SortedSet(initial, capacity=capacity)
    with_key = s.add(key)
    without_key = s.discard(key)
    assert with_key.add(key) is with_key
    assert without_key.discard(key) is without_key
    assert key in with_key
    assert key not in without_key


# -- construction and value semantics -----------------------------------------------------------


def test_construction_sorts_and_drops_duplicates() -> None:
    s = SortedSet([5, 1, 3, 5, 1, 9, 3])
    assert list(s) == [1, 3, 5, 9]
    assert len(s) == 4
    assert SortedSet(iter([2, 2, 1])) == SortedSet([1, 2])  # any iterable, consumed once
    empty: SortedSet[int] = SortedSet()
    assert len(empty) == 0
    assert not empty
    assert list(empty) == []
    assert list(reversed(empty)) == []


@given(initial=st.lists(keys, max_size=60), capacity=st.integers(4, 8))
@settings(max_examples=60, deadline=None)
def test_construction_equals_adding_one_by_one(initial: list[int], capacity: int) -> None:
    built = SortedSet(initial, capacity=capacity)
    grown: SortedSet[int] = SortedSet(capacity=capacity)
    for key in initial:
        grown = grown.add(key)
    assert built == grown
    assert hash(built) == hash(grown)
    assert_reads_like(built, sorted(set(initial)))


def test_equality_and_hash_depend_on_the_keys_only() -> None:
    """Sets with the same keys are equal and hash alike, whatever their capacity or history."""
    a = SortedSet([1, 2, 3], capacity=4)
    b = SortedSet([3, 2, 1, 4], capacity=64).discard(4)
    assert a == b
    assert hash(a) == hash(b)
    assert a != a.add(4)
    assert a != SortedSet([1, 2, 4])
    assert a != [1, 2, 3]
    assert a != {1, 2, 3}
    assert len({a, b, SortedSet([1, 2])}) == 2


def test_membership_of_an_incomparable_key_is_false() -> None:
    s = SortedSet(range(50), capacity=4)
    assert "a" not in s
    assert None not in s
    assert (1, 2) not in s


@given(initial=st.lists(keys, max_size=60), capacity=st.integers(4, 8))
@settings(max_examples=40, deadline=None)
def test_pickling_round_trips(initial: list[int], capacity: int) -> None:
    s = SortedSet(initial, capacity=capacity)
    copy = pickle.loads(pickle.dumps(s))
    assert copy == s
    assert type(copy) is SortedSet
    assert_reads_like(copy, sorted(set(initial)))
    # The copy is a working set, independent of the original.
    changed = copy.add(KEY_RANGE).discard(initial[0] if initial else 0)
    assert KEY_RANGE in changed
    assert list(s) == sorted(set(initial))


def test_the_set_is_immutable() -> None:
    s = SortedSet([1, 2, 3])
    with pytest.raises(AttributeError):
        s.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        s._len = 0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s._root = ()  # type: ignore[misc]
    assert list(s) == [1, 2, 3]
    assert len(s) == 3


# -- bad arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [3, 2, 0, -4, 4.0, "8", None])
def test_a_capacity_below_four_or_not_an_int_is_refused(capacity: Any) -> None:
    with pytest.raises(ValueError, match="capacity"):
        SortedSet([1, 2], capacity=capacity)


def test_the_smallest_capacity_is_accepted() -> None:
    assert list(SortedSet(range(10), capacity=4)) == list(range(10))


@pytest.mark.parametrize(("offset", "limit"), [(-1, 3), (0, -1), (-2, -2)])
@pytest.mark.parametrize("descending", [False, True])
def test_a_negative_offset_or_limit_is_refused(offset: int, limit: int, descending: bool) -> None:
    s = SortedSet(range(20), capacity=4)
    with pytest.raises(ValueError, match="non-negative"):
        s.page(offset, limit, descending=descending)
    assert list(s) == list(range(20))


@pytest.mark.parametrize(("offset", "limit"), [(1.5, 2), (0, 2.0), ("1", 2), (0, None)])
@pytest.mark.parametrize("descending", [False, True])
def test_a_non_integer_offset_or_limit_is_refused(
    offset: Any, limit: Any, descending: bool
) -> None:
    s = SortedSet(range(20), capacity=4)
    with pytest.raises(TypeError, match="must be ints"):
        s.page(offset, limit, descending=descending)
    assert list(s) == list(range(20))


@pytest.mark.parametrize("size", [0, 5, 200])
@pytest.mark.parametrize("descending", [False, True])
def test_a_limit_beyond_any_size_gives_every_key_from_the_offset(
    size: int, descending: bool
) -> None:
    keys = list(range(size))
    s = SortedSet(keys, capacity=4)
    expected = keys[::-1] if descending else keys
    assert s.page(1, 2**63, descending=descending) == tuple(expected[1:])


@pytest.mark.parametrize("position", [5, 6, 100, -6, -100])
def test_at_out_of_range_raises_index_error(position: int) -> None:
    s = SortedSet([10, 20, 30, 40, 50], capacity=4)
    with pytest.raises(IndexError):
        s.at(position)
    assert list(s) == [10, 20, 30, 40, 50]


def test_at_on_an_empty_set_raises_index_error() -> None:
    with pytest.raises(IndexError):
        SortedSet().at(0)
    with pytest.raises(IndexError):
        SortedSet().at(-1)


# -- tuple keys -----------------------------------------------------------------------------------

ALICE = Principal.from_name("alice")
BOB = Principal.from_name("bob")


def test_tuple_keys_order_by_timestamp_then_id() -> None:
    """Audit entries are keyed by ``(timestamp, id)``: equal timestamps are ordered by id, and a
    range over timestamps is taken with ``(t,)`` / ``(t, max_id)`` style bounds."""
    low, high = sorted([ALICE, BOB])
    entries = [(30, high), (10, low), (20, high), (20, low), (10, low), (40, low)]
    s = SortedSet(entries, capacity=4)
    expected = [(10, low), (20, low), (20, high), (30, high), (40, low)]
    assert_reads_like(s, expected)
    assert (20, high) in s
    assert (20, low) in s
    assert (25, low) not in s
    assert s.index((20,)) == 1  # (20,) sorts before every (20, id)
    assert s.index((30,)) == 3
    assert list(s.irange((20,), (30, high))) == [(20, low), (20, high), (30, high)]
    assert s.page(0, 2, descending=True) == ((40, low), (30, high))
    s2 = s.discard((20, low)).add((20, low)).discard((10, low))
    assert list(s2) == expected[1:]
    assert list(s) == expected


@given(
    entries=st.lists(
        st.tuples(st.integers(0, 20), st.sampled_from(["a", "b", "c", "d"])), max_size=60
    ),
    removed=st.lists(
        st.tuples(st.integers(0, 20), st.sampled_from(["a", "b", "c", "d"])), max_size=30
    ),
    capacity=st.integers(4, 8),
)
@settings(max_examples=40, deadline=None)
def test_tuple_keys_behave_like_any_other_keys(
    entries: list[tuple[int, str]], removed: list[tuple[int, str]], capacity: int
) -> None:
    s: SortedSet[tuple[int, str]] = SortedSet(capacity=capacity)
    for entry in entries:
        s = s.add(entry)
    for entry in removed:
        s = s.discard(entry)
    model = sorted(set(entries) - set(removed))
    assert_reads_like(s, model)
    for t in range(0, 21, 5):
        assert s.index((t,)) == bisect_left(model, (t,))
        assert list(s.irange((t,), (t + 5,))) == [e for e in model if t <= e[0] < t + 5]
