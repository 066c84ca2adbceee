"""``Vector``: a persistent sequence that behaves like a tuple you can append to."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icto.collections import Vector
from icto.collections.vector import newest_first

operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers()),
        st.tuples(st.just("set"), st.integers(-50, 50), st.integers()),
    ),
    max_size=80,
)


@given(st.lists(st.integers(), max_size=40), operations)
def test_a_vector_reads_like_the_list_it_models(start: list[int], ops: list[tuple]) -> None:
    vector, model = Vector(start), list(start)
    versions = [(vector, list(model))]
    for op in ops:
        if op[0] == "append":
            vector, model = vector.append(op[1]), [*model, op[1]]
        elif -len(model) <= op[1] < len(model):
            vector = vector.set(op[1], op[2])
            model = list(model)
            model[op[1]] = op[2]
        else:
            with pytest.raises(IndexError):
                vector.set(op[1], op[2])
        versions.append((vector, list(model)))
    for version, expected in versions:
        assert list(version) == expected and len(version) == len(expected)
        assert version[:] == tuple(expected) and version[-3:] == tuple(expected[-3:])
        assert version[1:7:2] == tuple(expected[1:7:2])
        for position in range(-len(expected), len(expected)):
            assert version[position] == expected[position]


def test_out_of_range_positions_raise_index_error_and_change_nothing() -> None:
    vector = Vector([1, 2])
    for position in (2, -3):
        with pytest.raises(IndexError):
            vector[position]
        with pytest.raises(IndexError):
            vector.set(position, 0)
    assert list(vector) == [1, 2]


@pytest.mark.parametrize("position", [0.5, -0.5, 1.0, "1", None])
def test_a_non_integer_position_raises_type_error_and_changes_nothing(position: object) -> None:
    """As for a list: a fraction is no position (it used to be stored as a hidden key)."""
    vector = Vector([1, 2, 3])
    with pytest.raises(TypeError):
        vector[position]  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        vector.set(position, 0)  # type: ignore[arg-type]
    assert list(vector) == [1, 2, 3] and vector == Vector([1, 2, 3])


@given(total=st.integers(0, 50), offset=st.integers(0, 60), limit=st.integers(0, 60))
def test_newest_first_is_a_page_of_the_positions_reversed(
    total: int, offset: int, limit: int
) -> None:
    expected = list(reversed(range(total)))[offset : offset + limit]
    assert list(newest_first(total, offset, limit)) == expected


@pytest.mark.parametrize(
    ("offset", "limit", "error"),
    [(-1, 3, ValueError), (0, -1, ValueError), (0.5, 3, TypeError), (0, None, TypeError)],
)
def test_newest_first_refuses_a_negative_or_non_integer_offset_or_limit(
    offset: object, limit: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        newest_first(5, offset, limit)  # type: ignore[arg-type]


def test_a_vector_is_an_immutable_value() -> None:
    vector = Vector("abc")
    assert vector == Vector(["a", "b", "c"]) and hash(vector) == hash(Vector("abc"))
    assert vector != Vector("abd") and vector != ("a", "b", "c")
    assert pickle.loads(pickle.dumps(vector)) == vector
    with pytest.raises(AttributeError):
        vector._len = 0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del vector._items
    assert repr(Vector(range(12))).startswith("Vector([0, 1, 2") and "len=12" in repr(
        Vector(range(12))
    )
