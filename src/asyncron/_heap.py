"""The deadline heap: ``(deadline, seq, item)`` tuples with lazy cancellation.

Cancelling marks an entry dead instead of searching for it (O(1)); dead entries are dropped when
they reach the top, and the heap is rebuilt without them when they outnumber the live ones, so
the amortised cost of a cancel stays O(1) and memory stays bounded (trio's timer heap works the
same way). Pure and loop-free.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Generic, TypeVar

__all__ = ["DeadlineHeap"]

T = TypeVar("T")

# Rebuild when at least this many entries are dead *and* they are at least half the heap.
_COMPACT_MIN = 1024


class DeadlineHeap(Generic[T]):
    __slots__ = ("_dead", "_entries", "_seq")

    def __init__(self) -> None:
        self._entries: list[tuple[float, int, T]] = []
        self._dead: set[int] = set()
        self._seq = 0

    def __len__(self) -> int:
        """Number of live entries."""
        return len(self._entries) - len(self._dead)

    def push(self, deadline: float, item: T) -> int:
        """Add ``item`` due at ``deadline``; return its sequence number (its cancel token).

        Entries with equal deadlines come out in insertion order.
        """
        seq = self._seq = self._seq + 1
        heappush(self._entries, (deadline, seq, item))
        return seq

    def cancel(self, seq: int) -> None:
        """Mark the entry ``seq`` dead. ``seq`` must be live (pushed and not yet popped)."""
        self._dead.add(seq)
        if len(self._dead) >= _COMPACT_MIN and len(self._dead) * 2 >= len(self._entries):
            self.compact()

    def compact(self) -> None:
        """Drop every dead entry now (O(n))."""
        dead = self._dead
        self._entries = [e for e in self._entries if e[1] not in dead]
        heapify(self._entries)
        dead.clear()

    def next_deadline(self) -> float | None:
        """The earliest live deadline, or None when empty."""
        entries, dead = self._entries, self._dead
        while entries:
            seq = entries[0][1]
            if seq not in dead:
                return entries[0][0]
            heappop(entries)
            dead.discard(seq)
        return None

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[float, int, T]]:
        """Remove and return the live entries with ``deadline <= now`` (at most ``limit``), in
        deadline then insertion order."""
        entries, dead = self._entries, self._dead
        out: list[tuple[float, int, T]] = []
        if limit is None:
            limit = len(entries)
        while entries and entries[0][0] <= now and len(out) < limit:
            entry = heappop(entries)
            if dead and entry[1] in dead:
                dead.discard(entry[1])
                continue
            out.append(entry)
        return out
