"""SortedMap behaves as a dict whose keys are kept in order, and every version stays as it was."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto.collections import SortedMap
from icto.ic.codec import Decoder, encode

KEYS = st.integers(0, 400)
OPS = st.lists(st.tuples(st.booleans(), KEYS, st.integers()), max_size=300)


@settings(max_examples=min(60, settings().max_examples))
@given(ops=OPS)
def test_changes_match_a_dict_and_old_versions_do_not_move(
    ops: list[tuple[bool, int, int]],
) -> None:
    mapping: SortedMap[int, int] = SortedMap()
    model: dict[int, int] = {}
    versions = []
    for put, key, value in ops:
        versions.append((mapping, dict(model)))
        if put:
            mapping = mapping.set(key, value)
            model[key] = value
        else:
            mapping = mapping.discard(key)
            model.pop(key, None)
    versions.append((mapping, model))
    for version, expected in versions:
        ordered = sorted(expected)
        assert len(version) == len(expected)
        assert list(version) == ordered
        assert list(version.items()) == [(k, expected[k]) for k in ordered]
        assert all(version.get(k) == v and k in version for k, v in expected.items())
        assert version.get(-1, "none") == "none" and -1 not in version


@settings(max_examples=min(60, settings().max_examples))
@given(keys=st.sets(KEYS, max_size=300), offset=st.integers(0, 320), limit=st.integers(0, 40))
def test_ranks_and_pages_are_the_sorted_keys(keys: set[int], offset: int, limit: int) -> None:
    mapping = SortedMap((k, -k) for k in keys)
    ordered = sorted(keys)
    assert [mapping.index(k) for k in ordered] == list(range(len(ordered)))
    assert [mapping.at(i) for i in range(len(ordered))] == ordered
    window = ordered[offset : offset + limit]
    assert mapping.page(offset, limit) == tuple(window)
    assert mapping.page_items(offset, limit) == (tuple(window), tuple(-k for k in window))
    assert mapping.page(offset, limit, descending=True) == tuple(
        ordered[::-1][offset : offset + limit]
    )
    assert mapping == SortedMap({k: -k for k in keys})


def test_a_map_grown_to_three_levels_and_emptied_reads_as_a_dict_throughout() -> None:
    """Enough entries for leaves, inner nodes and a root above them to split, then removals in
    another order until nothing is left, so that every level merges again."""
    count = 5_000
    order = [(i * 7_919) % count for i in range(count)]
    mapping: SortedMap[int, str] = SortedMap()
    model: dict[int, str] = {}
    for step, key in enumerate(order):
        mapping, model[key] = mapping.set(key, str(key)), str(key)
        if step % 997 == 0:
            assert list(mapping.items()) == sorted(model.items())
    assert list(mapping.items()) == sorted(model.items())
    assert mapping.page_items(2_500, 3) == ((2_500, 2_501, 2_502), ("2500", "2501", "2502"))
    for step, key in enumerate(reversed(order[::2] + order[1::2])):
        mapping = mapping.discard(key)
        del model[key]
        if step % 499 == 0:
            ordered = sorted(model)
            assert list(mapping) == ordered
            assert list(mapping.values()) == [model[k] for k in ordered]
            assert all(mapping.index(k) == i for i, k in enumerate(ordered) if i % 50 == 0)
    assert len(mapping) == 0 and list(mapping) == [] and mapping == SortedMap()


def test_a_deep_map_saves_and_loads_also_under_its_nodes_former_class_name() -> None:
    """Files saved before the tree moved to ``icto.collections.btree`` name the inner nodes
    ``icto.collections.sorted_set:_Inner``; both names load the same map."""
    mapping = SortedMap((k, -k) for k in range(1_000))
    text = json.dumps(encode(mapping))
    assert "icto.collections.btree:Inner" in text
    former = text.replace("icto.collections.btree:Inner", "icto.collections.sorted_set:_Inner")
    for saved in (text, former):
        loaded = json.loads(saved, object_hook=Decoder().hook)
        assert loaded == mapping and list(loaded.items()) == list(mapping.items())


@pytest.mark.parametrize(("offset", "limit"), [(-1, 3), (0, -1), (-2, -2)])
@pytest.mark.parametrize("size", [10, 1_000])
@pytest.mark.parametrize("descending", [False, True])
def test_a_negative_offset_or_limit_is_refused(
    offset: int, limit: int, size: int, descending: bool
) -> None:
    mapping = SortedMap((k, -k) for k in range(size))
    with pytest.raises(ValueError, match="non-negative"):
        mapping.page(offset, limit, descending=descending)
    assert list(mapping.items()) == [(k, -k) for k in range(size)]


@pytest.mark.parametrize(("offset", "limit"), [(-1, 3), (0, -1), (-2, -2)])
@pytest.mark.parametrize("size", [0, 10, 1_000])
def test_a_page_of_items_refuses_a_negative_offset_or_limit(
    offset: int, limit: int, size: int
) -> None:
    """Unchecked, a negative offset slices from the end and puts keys among the values."""
    mapping = SortedMap((k, -k) for k in range(size))
    with pytest.raises(ValueError, match="non-negative"):
        mapping.page_items(offset, limit)
    assert list(mapping.items()) == [(k, -k) for k in range(size)]


@pytest.mark.parametrize(("offset", "limit"), [(1.5, 2), (0, 2.0), ("1", 2), (0, None)])
@pytest.mark.parametrize("size", [10, 1_000])
def test_a_non_integer_offset_or_limit_is_refused(offset: Any, limit: Any, size: int) -> None:
    mapping = SortedMap((k, -k) for k in range(size))
    for read in (
        lambda: mapping.page(offset, limit),
        lambda: mapping.page(offset, limit, descending=True),
        lambda: mapping.page_items(offset, limit),
    ):
        with pytest.raises(TypeError, match="must be ints"):
            read()
    assert list(mapping.items()) == [(k, -k) for k in range(size)]


@pytest.mark.parametrize("size", [0, 10, 1_000])
def test_a_limit_beyond_any_size_gives_every_entry_from_the_offset(size: int) -> None:
    mapping = SortedMap((k, -k) for k in range(size))
    keys = list(range(size))
    assert mapping.page(1, 2**63) == tuple(keys[1:])
    assert mapping.page(1, 2**63, descending=True) == tuple(keys[::-1][1:])
    assert mapping.page_items(1, 2**63) == (tuple(keys[1:]), tuple(-k for k in keys[1:]))
