"""The timer queue: a persistent priority queue of (deadline, timer id) → timer.

A leftist heap of immutable tuples gives O(log n) insert and pop from any version, so the queue can
live in the world state and be snapshotted by reference. Cancelling removes the timer from ``live``
and leaves a tombstone in the heap, skipped when popped; the heap is rebuilt when tombstones
outnumber live timers, which keeps every operation amortised O(log n).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs
import immutables

from icto.ic.principal import Principal

# A heap node: (rank, key, left, right) with key = (deadline, timer_id); None is the empty heap.
_Node: TypeAlias = tuple[int, tuple[int, int], Any, Any] | None


def _rank(node: _Node) -> int:
    return 0 if node is None else node[0]


def _merge(a: _Node, b: _Node) -> _Node:
    if a is None:
        return b
    if b is None:
        return a
    if b[1] < a[1]:
        a, b = b, a
    _, key, left, right = a
    merged = _merge(right, b)
    if _rank(left) < _rank(merged):
        left, merged = merged, left
    return (_rank(merged) + 1, key, left, merged)


@attrs.frozen(slots=True)
class Timer:
    """A pending timer: at ``deadline`` the IC calls ``method(*args)`` on ``canister_id``."""

    timer_id: int
    canister_id: Principal
    deadline: int
    method: str
    args: tuple[Any, ...]


@attrs.frozen(slots=True)
class TimerQueue:
    live: immutables.Map[int, Timer] = immutables.Map()
    heap: _Node = None
    heap_size: int = 0
    next_id: int = 1

    def __len__(self) -> int:
        return len(self.live)

    def add(
        self, canister_id: Principal, deadline: int, method: str, args: tuple[Any, ...]
    ) -> tuple[TimerQueue, int]:
        """Schedule a timer; return the new queue and the timer's id (creation order)."""
        timer_id = self.next_id
        timer = Timer(timer_id, canister_id, deadline, method, args)
        heap = _merge(self.heap, (1, (deadline, timer_id), None, None))
        return (
            TimerQueue(self.live.set(timer_id, timer), heap, self.heap_size + 1, timer_id + 1),
            timer_id,
        )

    def requeue(self, timer: Timer) -> TimerQueue:
        """Put back a popped timer with its own id (for timers deferred while a canister is
        stopped)."""
        heap = _merge(self.heap, (1, (timer.deadline, timer.timer_id), None, None))
        return TimerQueue(
            self.live.set(timer.timer_id, timer), heap, self.heap_size + 1, self.next_id
        )

    def cancel(self, timer_ids: Any) -> TimerQueue:
        """Drop the given timers (ids not pending are ignored)."""
        mutation = self.live.mutate()
        for timer_id in timer_ids:
            mutation.pop(timer_id, None)
        live = mutation.finish()
        queue = TimerQueue(live, self.heap, self.heap_size, self.next_id)
        if queue.heap_size > 2 * len(live) + 64:
            queue = queue._rebuilt()
        return queue

    def _rebuilt(self) -> TimerQueue:
        heap: _Node = None
        for timer in self.live.values():
            heap = _merge(heap, (1, (timer.deadline, timer.timer_id), None, None))
        return TimerQueue(self.live, heap, len(self.live), self.next_id)

    def peek(self) -> Timer | None:
        """The live timer with the smallest (deadline, id), without removing it."""
        queue = self._without_tombstones()
        return None if queue.heap is None else queue.live[queue.heap[1][1]]

    def pop(self) -> tuple[TimerQueue, Timer | None]:
        """Remove and return the live timer with the smallest (deadline, id)."""
        queue = self._without_tombstones()
        if queue.heap is None:
            return queue, None
        _, (_, timer_id), left, right = queue.heap
        timer = queue.live[timer_id]
        return (
            TimerQueue(
                queue.live.delete(timer_id), _merge(left, right), queue.heap_size - 1, queue.next_id
            ),
            timer,
        )

    def _without_tombstones(self) -> TimerQueue:
        heap, size, live = self.heap, self.heap_size, self.live
        while heap is not None and heap[1][1] not in live:
            heap = _merge(heap[2], heap[3])
            size -= 1
        if heap is self.heap:
            return self
        return TimerQueue(live, heap, size, self.next_id)
