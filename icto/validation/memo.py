"""``IdentityMemo``: remember a pure function's answer for the very objects it was asked about.

A config crosses several canisters in one deployment (the backend's admission, the factory, the
contract's ``init``), and each must check its own input. The value is immutable, so checking the
same object again can only give the same answer: a memo lets each boundary keep its check while
the work is done once.

The memo is keyed by the arguments' *identity*, never by their value. Value equality is too
loose for a check: ``True == 1`` and ``hash(True) == hash(1)``, so a record holding ``True``
equals (and hashes like) one holding ``1``, yet only one is a valid ``int`` field. An equal but
different object is simply a miss and is computed afresh, so the memo never answers for a value
it was not asked about.

The subject (the first argument, e.g. a config) is held by a weak reference: the memo keeps no
config alive. A hit needs the reference to give back the very object asked about (``is``), so
the entry of a subject that is gone never matches again, even if a later object takes its
``id``: it is overwritten or forgotten in turn.
Other arguments (e.g. an owner principal) are small and held as they are, checked with ``is``
too. A subject that cannot be weakly referenced is not remembered. The memo holds at most
``size`` entries and forgets the oldest first.

An answer never depends on what the memo holds (a miss computes what a hit returns); only
answers that cannot change may be stored, which the caller decides: e.g. a check stores only
"valid", which it says only of values made of immutable parts.
"""

from __future__ import annotations

import operator
import weakref
from typing import Generic, TypeVar

T = TypeVar("T")

_Entry = tuple["weakref.ref[object]", tuple[object, ...], T]


class IdentityMemo(Generic[T]):
    """A bounded map from (subject, *keys) objects, by identity, to the answer computed for
    them; the subject is held weakly."""

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a memo holds at least one entry, got size {size}")
        self._size = size
        self._entries: dict[tuple[int, ...], _Entry[T]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, subject: object, *keys: object) -> T | None:
        """The answer stored for exactly these objects, or ``None``."""
        entry = self._entries.get((id(subject), *map(id, keys)))
        if entry is None:
            return None
        ref, kept, answer = entry
        if ref() is not subject or not all(map(operator.is_, kept, keys)):
            return None
        return answer

    def put(self, answer: T, subject: object, *keys: object) -> None:
        """Remember ``answer`` for these objects (unless ``subject`` cannot be weakly
        referenced), forgetting the oldest entry when full."""
        try:
            ref = weakref.ref(subject)
        except TypeError:
            return
        key = (id(subject), *map(id, keys))
        entries = self._entries
        if key not in entries and len(entries) >= self._size:
            del entries[next(iter(entries))]
        entries[key] = (ref, keys, answer)

    def clear(self) -> None:
        self._entries.clear()
