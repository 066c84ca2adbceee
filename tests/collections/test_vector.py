"""``Vector``: a persistent sequence that behaves like a tuple you can append to."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icto.collections import Vector

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
