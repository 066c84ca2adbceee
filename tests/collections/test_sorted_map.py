"""SortedMap behaves as a dict whose keys are kept in order, and every version stays as it was."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from icto.collections import SortedMap

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
