"""The deadline heap: ``(deadline, seq, item)`` tuples with lazy cancellation.

Cancelling marks an entry dead instead of searching for it (O(1)); dead entries are dropped when
they reach the top, and the heap is rebuilt without them when they outnumber the live ones, so
the amortised cost of a cancel stays O(1) and memory stays bounded (trio's timer heap works the
same way). Pure and loop-free.

A burst (most of the heap due at once: 10,000 jobs scheduled for now) is taken off in bulk: a
``heappop`` costs about a microsecond on a heap of 10,000 tuples, as much as the rest of a fire,
while sorting the list (a sorted list is a valid heap) and cutting off its due prefix costs a
tenth of that per entry. The due entries then wait in a sorted *front run*, which
:meth:`DeadlineHeap.pop_due` merges with the heap, so the order stays deadline then insertion.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from heapq import heapify, heappop, heappush
from typing import Generic, TypeVar

__all__ = ["DeadlineHeap"]

T = TypeVar("T")

# Rebuild when at least this many entries are dead *and* they are at least half the heap.
_COMPACT_MIN = 1024
# A pop limited to ``limit`` entries that leaves more due looks at this many entries spread over
# the heap's list; when at least half of them are due, the due entries are taken off in bulk.
_SAMPLES = 16


def _deadline(entry: tuple[float, int, object]) -> float:
    return entry[0]


class DeadlineHeap(Generic[T]):
    __slots__ = ("_dead", "_entries", "_front", "_seq")

    def __init__(self) -> None:
        self._entries: list[tuple[float, int, T]] = []
        # entries taken off the heap in bulk, sorted; never empty while it is not None
        self._front: deque[tuple[float, int, T]] | None = None
        self._dead: set[int] = set()
        self._seq = 0

    def __len__(self) -> int:
        """Number of live entries."""
        front = self._front
        return len(self._entries) + (len(front) if front else 0) - len(self._dead)

    def push(self, deadline: float, item: T) -> int:
        """Add ``item`` due at ``deadline``; return its sequence number (its cancel token).

        Entries with equal deadlines come out in insertion order.
        """
        seq = self._seq = self._seq + 1
        heappush(self._entries, (deadline, seq, item))
        return seq

    def cancel(self, seq: int) -> None:
        """Mark the entry ``seq`` dead. ``seq`` must be live (pushed and not yet popped)."""
        dead = self._dead
        dead.add(seq)
        if len(dead) >= _COMPACT_MIN:
            front = self._front
            if len(dead) * 2 >= len(self._entries) + (len(front) if front else 0):
                self.compact()

    def compact(self) -> None:
        """Drop every dead entry now (O(n))."""
        dead = self._dead
        entries = self._entries
        if self._front is not None:
            entries.extend(self._front)  # the front run goes back into the heap
            self._front = None
        self._entries = [e for e in entries if e[1] not in dead]
        heapify(self._entries)
        dead.clear()

    def next_deadline(self) -> float | None:
        """The earliest live deadline, or None when empty."""
        entries, dead, front = self._entries, self._dead, self._front
        while front:
            seq = front[0][1]
            if seq not in dead:
                break
            front.popleft()
            dead.discard(seq)
        else:
            self._front = front = None
        while entries:
            seq = entries[0][1]
            if seq not in dead:
                if front and front[0] < entries[0]:
                    return front[0][0]
                return entries[0][0]
            heappop(entries)
            dead.discard(seq)
        return front[0][0] if front else None

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[float, int, T]]:
        """Remove and return the live entries with ``deadline <= now`` (at most ``limit``), in
        deadline then insertion order."""
        entries, dead = self._entries, self._dead
        out: list[tuple[float, int, T]] = []
        limited = limit is not None
        if limit is None:
            limit = len(self)
        front = self._front
        if front is not None:
            self._pop_merged(front, now, limit, out)
            if not front:
                self._front = None
        while entries and entries[0][0] <= now and len(out) < limit:
            entry = heappop(entries)
            if dead and entry[1] in dead:
                dead.discard(entry[1])
                continue
            out.append(entry)
        if limited and len(out) == limit and self._front is None and self._mostly_due(now):
            self._take_front(now)
        return out

    def _pop_merged(
        self,
        front: deque[tuple[float, int, T]],
        now: float,
        limit: int,
        out: list[tuple[float, int, T]],
    ) -> None:
        """Move due entries of the front run and the heap to ``out``, smallest first."""
        entries, dead = self._entries, self._dead
        while front and len(out) < limit:
            head = front[0]
            if entries and entries[0] < head and entries[0][0] <= now:
                entry = heappop(entries)
            elif head[0] <= now:
                entry = front.popleft()
            else:  # neither is due (the heap's top, if before the head, is not)
                return
            if dead and entry[1] in dead:
                dead.discard(entry[1])
                continue
            out.append(entry)

    def _mostly_due(self, now: float) -> bool:
        """True when at least half of a sample of the heap's entries are due at ``now``."""
        entries = self._entries
        n = len(entries)
        if n < 4 * _SAMPLES:
            return False
        step = n // _SAMPLES
        due = 0
        for i in range(step - 1, n, step):
            if entries[i][0] <= now:
                due += 1
        return 2 * due >= _SAMPLES

    def _take_front(self, now: float) -> None:
        """Move every entry due at ``now`` from the heap to the front run, sorted: O(n log n)
        in C (and O(n) for a list already in order, as a heap of increasing deadlines is)."""
        entries = self._entries
        entries.sort()  # still a valid heap
        cut = bisect_right(entries, now, key=_deadline)
        if cut:
            self._front = deque(entries[:cut])
            del entries[:cut]  # the sorted rest is a valid heap too
