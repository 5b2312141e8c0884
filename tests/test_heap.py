from __future__ import annotations

import gc
import random
import weakref

from asyncron._heap import DeadlineHeap


def test_pop_due_returns_entries_in_deadline_then_insertion_order() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    heap.push(2.0, "b1")
    heap.push(1.0, "a")
    heap.push(2.0, "b2")
    heap.push(3.0, "c")
    assert [e[2] for e in heap.pop_due(2.0)] == ["a", "b1", "b2"]
    assert heap.next_deadline() == 3.0
    assert len(heap) == 1


class _Item:
    def __init__(self, n: int) -> None:
        self.n = n


def test_cancelled_entries_never_come_out_and_are_compacted() -> None:
    heap: DeadlineHeap[_Item] = DeadlineHeap()
    items = [_Item(i) for i in range(5000)]
    refs = [weakref.ref(item) for item in items]
    seqs = [heap.push(float(item.n), item) for item in items]
    del items
    for seq in seqs[::2]:
        heap.cancel(seq)
    assert len(heap) == 2500
    # compaction ran without any pop: the heap let go of every cancelled item
    gc.collect()
    assert [r for r in refs[::2] if r() is not None] == []
    assert all(r() is not None for r in refs[1::2])
    out = [e[2].n for e in heap.pop_due(10_000.0)]
    assert out == list(range(1, 5000, 2))
    assert heap.next_deadline() is None


def test_random_operations_match_a_sorted_reference() -> None:
    rng = random.Random(7)
    heap: DeadlineHeap[int] = DeadlineHeap()
    live: dict[int, tuple[float, int]] = {}
    for i in range(3000):
        if live and rng.random() < 0.3:
            seq = rng.choice(list(live))
            heap.cancel(seq)
            del live[seq]
        else:
            d = rng.uniform(0, 100)
            seq = heap.push(d, i)
            live[seq] = (d, i)
    expected = [i for (d, s, i) in sorted((d, s, i) for s, (d, i) in live.items()) if d <= 50]
    assert [e[2] for e in heap.pop_due(50.0)] == expected


def test_bursts_taken_in_bulk_keep_the_order_and_the_cancellations() -> None:
    # Most of the heap due at once, popped a few at a time: the due entries are taken off in
    # bulk into a sorted front run, merged with entries pushed meanwhile (earlier ones too).
    rng = random.Random(11)
    for round_ in range(40):
        heap: DeadlineHeap[int] = DeadlineHeap()
        live: dict[int, tuple[float, int]] = {}
        item = 0
        for _ in range(rng.choice((100, 500, 3000))):
            d = rng.uniform(0, 10) if rng.random() < 0.8 else rng.uniform(10, 20)
            live[heap.push(d, item)] = (d, item)
            item += 1
        now = 10.0
        got: list[int] = []
        while True:
            for _ in range(rng.randrange(4)):
                op = rng.random()
                if live and op < 0.4:
                    seq = rng.choice(list(live))
                    heap.cancel(seq)
                    del live[seq]
                else:
                    d = rng.uniform(0, 20) if op < 0.8 else rng.uniform(9.99, 10.0)
                    live[heap.push(d, item)] = (d, item)
                    item += 1
            if round_ % 3 == 0 and rng.random() < 0.1:
                now += 0.5  # time moves on during the burst
            expected = sorted((d, s, i) for s, (d, i) in live.items() if d <= now)[:64]
            batch = heap.pop_due(now, 64)
            assert [(d, s, i) for d, s, i in batch] == expected
            assert len(heap) == len(live) - len(batch)
            for _, s, _ in batch:
                del live[s]
            got += [i for _, _, i in batch]
            nxt = min(live.values(), default=None)
            assert heap.next_deadline() == (None if nxt is None else nxt[0])
            if len(batch) < 64:
                break
        assert all(d > now for d, _ in live.values())


def test_compaction_drops_cancelled_entries_of_a_burst_taken_in_bulk() -> None:
    heap: DeadlineHeap[_Item] = DeadlineHeap()
    items = [_Item(i) for i in range(5000)]
    refs = [weakref.ref(item) for item in items]
    seqs = [heap.push(float(item.n), item) for item in items]
    del items
    assert [e[2].n for e in heap.pop_due(10_000.0, 64)] == list(range(64))
    for seq in seqs[64::2]:
        heap.cancel(seq)
    assert len(heap) == 2468
    gc.collect()
    assert [r for r in refs[64::2] if r() is not None] == []
    out = [e[2].n for e in heap.pop_due(10_000.0)]
    assert out == list(range(65, 5000, 2))
    assert heap.next_deadline() is None
    assert len(heap) == 0
