"""``IdentityMemo``: answers remembered for the very objects asked about, never for an equal one.

A value-keyed memo would confuse values that compare equal yet differ (``True == 1``,
``1 == 1.0``): the memo is keyed by identity, holds its subject weakly (it keeps no config alive,
and a later object taking a dead subject's ``id`` is not mistaken for it), and forgets its oldest
entry once full.
"""

from __future__ import annotations

import gc
import weakref

import attrs
import pytest

from icto.validation import IdentityMemo


@attrs.frozen
class Box:
    """An immutable record: equal boxes are different objects."""

    value: object = None


def test_the_same_objects_get_their_answer() -> None:
    memo: IdentityMemo[str] = IdentityMemo(4)
    subject, owner = Box(), Box()
    memo.put("answer", subject, owner)
    assert memo.get(subject, owner) == "answer"


@pytest.mark.parametrize(("asked", "other"), [(1, True), (0, False), (1, 1.0), (True, 1.0)])
def test_equal_values_of_another_type_are_not_confused(asked: object, other: object) -> None:
    assert asked == other and hash(asked) == hash(other)
    memo: IdentityMemo[str] = IdentityMemo(4)
    subject, lookalike = Box(asked), Box(other)
    assert subject == lookalike and hash(subject) == hash(lookalike)
    memo.put("asked", subject, asked)
    assert memo.get(lookalike, asked) is None
    assert memo.get(subject, other) is None
    assert memo.get(subject, asked) == "asked"


def test_an_equal_but_different_object_is_a_miss() -> None:
    memo: IdentityMemo[str] = IdentityMemo(4)
    memo.put("first", Box(1))
    assert memo.get(Box(1)) is None


def test_the_arguments_count_and_order() -> None:
    memo: IdentityMemo[str] = IdentityMemo(4)
    a, b = Box(), Box()
    memo.put("a then b", a, b)
    assert memo.get(b, a) is None
    assert memo.get(a) is None
    assert memo.get(a, b, None) is None


def test_the_memo_keeps_no_subject_alive() -> None:
    memo: IdentityMemo[str] = IdentityMemo(4)
    subject = Box()
    alive = weakref.ref(subject)
    memo.put("answer", subject)
    del subject
    gc.collect()
    assert alive() is None


def test_a_later_object_with_a_dead_subjects_id_is_a_miss() -> None:
    memo: IdentityMemo[str] = IdentityMemo(1_000)
    for _ in range(1_000):
        memo.put("for a box that is gone", Box())
    for _ in range(1_000):
        assert memo.get(Box()) is None


def test_a_subject_that_cannot_be_weakly_referenced_is_not_remembered() -> None:
    memo: IdentityMemo[str] = IdentityMemo(4)
    subject = (1, 2)
    memo.put("answer", subject)
    assert memo.get(subject) is None and len(memo) == 0


def test_the_memo_is_bounded_and_forgets_the_oldest_first() -> None:
    memo: IdentityMemo[int] = IdentityMemo(3)
    boxes = [Box() for _ in range(5)]
    for n, box in enumerate(boxes):
        memo.put(n, box)
        assert len(memo) <= 3
    assert [memo.get(box) for box in boxes] == [None, None, 2, 3, 4]


def test_storing_again_replaces_the_answer_without_growing() -> None:
    memo: IdentityMemo[int] = IdentityMemo(2)
    box = Box()
    memo.put(1, box)
    memo.put(2, box)
    assert len(memo) == 1 and memo.get(box) == 2


def test_clear_forgets_everything_and_a_memo_holds_at_least_one_entry() -> None:
    memo: IdentityMemo[int] = IdentityMemo(2)
    box = Box()
    memo.put(1, box)
    memo.clear()
    assert memo.get(box) is None and len(memo) == 0
    with pytest.raises(ValueError, match="at least one"):
        IdentityMemo(0)
