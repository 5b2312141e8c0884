"""``schedule(..., replace=True)`` on a PostgreSQL store (issue 16): the stored job of that id is
replaced in one step, on this node, on the others, and after a restart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from asyncron import AsyncScheduler, IntervalTrigger
from asyncron._cluster import ClusterJournal
from asyncron.errors import InvalidJobError
from asyncron.stores.postgres import PostgresStore

from .conftest import sql

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]


async def tick() -> None:
    """A job body (never fires during these tests: intervals of an hour and more)."""


def _node(dsn: str, schema: str) -> AsyncScheduler:
    journal = ClusterJournal(
        PostgresStore(dsn, schema=schema, application_name=f"asyncron:{schema}"),
        lease=1.0,
        poll_interval=0.5,
    )
    journal.registry.register("tick", tick)
    return AsyncScheduler(store=journal)


async def test_replace_true_replaces_the_stored_job_everywhere_and_for_good(
    pg_dsn: str, schema: str, wait_for: Callable[..., Awaitable[None]]
) -> None:
    a, b = _node(pg_dsn, schema), _node(pg_dsn, schema)
    async with a, b:
        await a.schedule(tick, "old", IntervalTrigger(hours=1), job_id="j1", function_name="tick")
        await wait_for(lambda: b.get_job_nowait("j1") is not None, timeout=5.0)
        with pytest.raises(InvalidJobError, match="replace=True"):
            await a.schedule(
                tick, "new", IntervalTrigger(hours=2), job_id="j1", function_name="tick"
            )
        await a.schedule(
            tick, "new", IntervalTrigger(hours=2), job_id="j1", function_name="tick", replace=True
        )
        assert [(j.id, j.name) for j in a.list_jobs_nowait()] == [("j1", "new")]

        def b_sees_the_new_job() -> bool:
            job = b.get_job_nowait("j1")
            return job is not None and job.name == "new"

        await wait_for(b_sees_the_new_job, timeout=5.0)
        job = b.get_job_nowait("j1")
        assert job is not None and job.trigger == IntervalTrigger(hours=2)
    rows = sql(f"SELECT id, doc->>'name' FROM \"{schema}\".jobs")
    assert [(r[0], r[1]) for r in rows] == [("j1", "new")]  # one row: replaced, not added
    c = _node(pg_dsn, schema)
    async with c:
        jobs = c.list_jobs_nowait()
    assert [(j.id, j.name, j.trigger) for j in jobs] == [("j1", "new", IntervalTrigger(hours=2))]
