"""Dependency overhead: release latency, a 10,000-job chain, a 10,000-wide fan-out/fan-in.

    python benchmarks/bench_dependencies.py

Prints asyncron beside the bare-loop equivalent (tasks chained by hand with futures).
"""

from __future__ import annotations

import asyncio
import statistics
import time

from asyncron import AsyncScheduler


async def noop() -> None:
    return None


async def release_latency(samples: int = 200) -> list[float]:
    out: list[float] = []
    async with AsyncScheduler() as s:
        for _ in range(samples):
            ended: list[float] = []
            started: list[float] = []

            async def up(ended: list[float] = ended) -> None:
                ended.append(time.perf_counter())

            async def down(started: list[float] = started) -> None:
                started.append(time.perf_counter())

            a = await s.schedule(up)
            b = await s.schedule(down, depends_on=[a])
            await s.wait_job(b)
            out.append((started[0] - ended[0]) * 1e6)
    return out


async def chain(n: int) -> float:
    async with AsyncScheduler() as s:
        t0 = time.perf_counter()
        prev = await s.schedule(noop)
        for _ in range(n - 1):
            prev = await s.schedule(noop, depends_on=[prev])
        await s.wait_job(prev)
        return time.perf_counter() - t0


async def fan(n: int) -> float:
    async with AsyncScheduler() as s:
        t0 = time.perf_counter()
        root = await s.schedule(noop)
        leaves = [await s.schedule(noop, depends_on=[root]) for _ in range(n)]
        sink = await s.schedule(noop, depends_on=leaves)
        await s.wait_job(sink)
        return time.perf_counter() - t0


async def bare_chain(n: int) -> float:
    t0 = time.perf_counter()
    prev: asyncio.Task[None] | None = None
    for _ in range(n):

        async def step(before: asyncio.Task[None] | None = prev) -> None:
            if before is not None:
                await before

        prev = asyncio.ensure_future(step())
    assert prev is not None
    await prev
    return time.perf_counter() - t0


async def bare_fan(n: int) -> float:
    t0 = time.perf_counter()
    root = asyncio.ensure_future(noop())

    async def leaf() -> None:
        await root

    leaves = [asyncio.ensure_future(leaf()) for _ in range(n)]
    await asyncio.gather(*leaves)
    await noop()
    return time.perf_counter() - t0


async def main() -> None:
    lat = sorted(await release_latency())
    print(
        f"release latency (last dependency end -> dependent start): p50 {statistics.median(lat):.1f} µs, "
        f"p99 {lat[int(len(lat) * 0.99) - 1]:.1f} µs, max {lat[-1]:.1f} µs  (target < 1000 µs)"
    )
    n = 10_000
    ours, bare = await chain(n), await bare_chain(n)
    print(
        f"chain of {n}: asyncron {ours * 1e3:.1f} ms ({ours / n * 1e6:.1f} µs/edge incl. scheduling), "
        f"bare tasks {bare * 1e3:.1f} ms, ratio {ours / bare:.1f}x"
    )
    ours, bare = await fan(n), await bare_fan(n)
    print(
        f"fan-out/fan-in {n}: asyncron {ours * 1e3:.1f} ms ({ours / (2 * n) * 1e6:.1f} µs/edge), "
        f"bare tasks {bare * 1e3:.1f} ms, ratio {ours / bare:.1f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
