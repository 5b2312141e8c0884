"""Changes made on one node reach the others: at once through NOTIFY, by polling without it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from asyncron import AsyncScheduler, IntervalTrigger, JobStatus
from asyncron._cluster import ClusterJournal
from asyncron.stores.postgres import PostgresStore

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]


async def tick() -> None:
    """A job body (never fires during these tests: one-hour interval)."""


async def wait_for(predicate: Callable[[], bool], timeout: float) -> float:
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not seen within {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - t0


def node(dsn: str, schema: str) -> tuple[AsyncScheduler, ClusterJournal]:
    journal = ClusterJournal(
        PostgresStore(dsn, schema=schema, application_name=f"asyncron:{schema}"),
        lease=1.0,
        poll_interval=0.5,
    )
    journal.registry.register("tick", tick)
    return AsyncScheduler(store=journal), journal


async def test_job_added_paused_rescheduled_and_cancelled_on_one_node_is_seen_by_another(
    pg_dsn: str, schema: str
) -> None:
    a, _ = node(pg_dsn, schema)
    b, jb = node(pg_dsn, schema)
    async with a, b:
        await a.schedule(tick, trigger=IntervalTrigger(hours=1), job_id="j1", function_name="tick")
        took = await wait_for(lambda: b.get_job_nowait("j1") is not None, 2.0)
        assert took < 0.5  # NOTIFY, not the fallback poll
        await a.pause("j1")
        await wait_for(lambda: b.get_job_nowait("j1").status is JobStatus.PAUSED, 2.0)  # type: ignore[union-attr]
        await a.resume("j1")
        await wait_for(lambda: b.get_job_nowait("j1").status is JobStatus.PENDING, 2.0)  # type: ignore[union-attr]
        await a.reschedule("j1", IntervalTrigger(minutes=5))
        await wait_for(
            lambda: b.get_job_nowait("j1").trigger == IntervalTrigger(minutes=5),  # type: ignore[union-attr]
            2.0,
        )
        await a.cancel("j1")
        await wait_for(lambda: b.get_job_nowait("j1").status is JobStatus.CANCELLED, 2.0)  # type: ignore[union-attr]
        # b applied remote changes without echoing them back as changes of its own
        assert jb.counters["remote_changes"] >= 4
        rows = await _changes(pg_dsn, schema, jb.node_id)
        assert rows == 0


async def test_without_the_listener_changes_arrive_by_polling_within_a_second(
    pg_dsn: str, schema: str
) -> None:
    a, _ = node(pg_dsn, schema)
    b, jb = node(pg_dsn, schema)
    async with a, b:
        await wait_for(lambda: bool(jb.statistics()["listening"]), 3.0)
        listener = jb.pg._listener
        assert listener is not None
        pid = listener.get_server_pid()
        real_listen = jb.pg.listen

        async def refused(*args: object) -> None:
            raise OSError("listener connections refused (test)")

        jb.pg.listen = refused  # type: ignore[method-assign]
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await conn.close()
        await wait_for(lambda: not jb.statistics()["listening"], 2.0)
        await a.schedule(tick, trigger=IntervalTrigger(hours=1), job_id="j2", function_name="tick")
        took = await wait_for(lambda: b.get_job_nowait("j2") is not None, 3.0)
        assert took <= 1.2  # the fallback poll (poll_interval 0.5 s)
        jb.pg.listen = real_listen  # type: ignore[method-assign]
        await wait_for(lambda: bool(jb.statistics()["listening"]), 3.0)
        await a.schedule(tick, trigger=IntervalTrigger(hours=1), job_id="j3", function_name="tick")
        took = await wait_for(lambda: b.get_job_nowait("j3") is not None, 3.0)
        assert took < 0.5


async def _changes(dsn: str, schema: str, node_id: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(f'SELECT count(*) FROM "{schema}".changes WHERE node = $1', node_id)
        )
    finally:
        await conn.close()


async def test_describe_shows_the_runs_of_every_node(pg_dsn: str, schema: str) -> None:
    """The run history that describe() (and so the dashboard) shows is the cluster's: runs made
    on another node appear, with their outcome; this node's own runs keep their results."""
    a, _ = node(pg_dsn, schema)
    b, _ = node(pg_dsn, schema)
    ran_on: dict[str, int] = {"a": 0, "b": 0}
    calls: list[str] = []

    async def work(tag: str) -> str:
        calls.append(tag)
        if len(calls) % 3 == 0:
            raise RuntimeError("every third run fails")
        return f"done {len(calls)}"

    for scheduler in (a, b):
        scheduler.register_function("work", work)
    async with a, b:
        job_id = await a.schedule(
            work,
            trigger=IntervalTrigger(seconds=0.1),
            args=("x",),
            job_id="w1",
            function_name="work",
            max_runs=12,
        )
        await wait_for(lambda: b.get_job_nowait("w1") is not None, 2.0)
        await wait_for(lambda: len(calls) >= 8, 5.0)
        await asyncio.sleep(0.3)  # outcomes are written in batches
        for scheduler, tag in ((a, "a"), (b, "b")):
            ran_on[tag] = len(await scheduler.get_run_history(job_id))
        desc_a = await a.describe(job_id, runs=50)
        desc_b = await b.describe(job_id, runs=50)
    # each node ran some of the fires; each describes all that ended, in order, once each
    assert ran_on["a"] + ran_on["b"] >= 8
    for desc in (desc_a, desc_b):
        keys = [(r.scheduled_at, r.attempt) for r in desc.last_runs]
        assert keys == sorted(set(keys))
        assert len(keys) >= max(ran_on["a"], ran_on["b"]) + min(ran_on["a"], ran_on["b"]) - 1
        outcomes = {r.outcome for r in desc.last_runs}
        assert outcomes <= {"succeeded", "failed"} and "failed" in outcomes
        assert all(r.error for r in desc.last_runs if r.outcome == "failed")
    # the runs made on the other node are there too
    if ran_on["a"]:
        assert len(desc_b.last_runs) > ran_on["b"]
    if ran_on["b"]:
        assert len(desc_a.last_runs) > ran_on["a"]
    # a node's own runs keep their results
    assert any(r.result and str(r.result).startswith("done") for r in desc_a.last_runs) or any(
        r.result and str(r.result).startswith("done") for r in desc_b.last_runs
    )


async def test_a_dependent_job_never_runs_a_fire_twice_across_nodes(
    pg_dsn: str, schema: str
) -> None:
    """Dependencies are tracked per node, but a held fire is claimed before it runs: whichever
    node releases it, it runs once."""
    a, _ = node(pg_dsn, schema)
    b, _ = node(pg_dsn, schema)
    ran: list[tuple[str, str]] = []

    async def step(name: str) -> None:
        from asyncron import current_run

        info = current_run()
        assert info is not None
        ran.append((name, info.fire_id))

    for scheduler in (a, b):
        scheduler.register_function("step", step)
    async with a, b:
        trigger = IntervalTrigger(seconds=0.1)
        await a.schedule(step, args=("up",), trigger=trigger, job_id="up", function_name="step")
        await a.schedule(
            step,
            args=("down",),
            trigger=trigger,
            job_id="down",
            function_name="step",
            depends_on=["up"],
        )
        await wait_for(lambda: b.get_job_nowait("down") is not None, 2.0)
        await asyncio.sleep(1.5)
    downs = [fire for name, fire in ran if name == "down"]
    ups = [fire for name, fire in ran if name == "up"]
    assert len(ups) >= 5 and len(set(ups)) == len(ups)
    assert len(set(downs)) == len(downs)  # no fire of the dependent ran twice
    assert downs  # and it did run


async def test_a_background_loop_that_fails_unexpectedly_is_restarted(
    pg_dsn: str, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An error the journal does not expect (a driver bug, say) is logged with its traceback and
    the loop starts again: the claims it was making are made again, and the fire runs."""
    a, ja = node(pg_dsn, schema)
    ran: list[str] = []

    async def once() -> None:
        ran.append("ran")

    ja.registry.register("once", once)
    real = ja.pg.claim_fires
    calls = 0

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("an unforeseen driver error")
        return await real(*args, **kwargs)

    ja.pg.claim_fires = flaky  # type: ignore[method-assign]
    async with a:
        job_id = await a.schedule(once, function_name="once", job_id="o1")
        await asyncio.wait_for(a.wait_job(job_id), 5.0)
    assert ran == ["ran"] and calls >= 2
    assert any("loop failed; restarting it" in r.getMessage() for r in caplog.records)
