"""Combination and calendar triggers are shared by a cluster: stored as tagged JSON, equal on
every node."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from asyncron import (
    AsyncScheduler,
    BusinessCalendar,
    BusinessDayTrigger,
    CalendarIntervalTrigger,
    CronTrigger,
)
from asyncron._cluster import ClusterJournal
from asyncron.stores.postgres import PostgresStore

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]


async def tick() -> None:
    """A job body (never fires during this test: the fires are days away)."""


async def wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not seen within {timeout} s")
        await asyncio.sleep(0.01)


def node(dsn: str, schema: str) -> AsyncScheduler:
    journal = ClusterJournal(PostgresStore(dsn, schema=schema), lease=1.0, poll_interval=0.5)
    journal.registry.register("tick", tick)
    return AsyncScheduler(store=journal)


async def test_calendar_triggers_reach_another_node_unchanged(pg_dsn: str, schema: str) -> None:
    hesse = BusinessCalendar("DE", "HE", extra_holidays=["2031-12-24"])
    triggers = {
        "close": CronTrigger("0 18 * * 1-5", "Europe/Berlin").exclude(hesse, shift="previous"),
        "month_end": BusinessDayTrigger(hesse, -1, hour=18, timezone="Europe/Berlin"),
        "either": CronTrigger("0 3 1 * *", "UTC")
        | CalendarIntervalTrigger(months=2, hour=10, timezone="Europe/Berlin"),
    }
    a, b = node(pg_dsn, schema), node(pg_dsn, schema)
    async with a, b:
        for job_id, trigger in triggers.items():
            await a.schedule(tick, trigger=trigger, job_id=job_id, function_name="tick")
        for job_id, trigger in triggers.items():
            await wait_for(lambda j=job_id: b.get_job_nowait(j) is not None, 3.0)
            seen = b.get_job_nowait(job_id)
            assert seen is not None and seen.trigger == trigger
            mine = a.get_job_nowait(job_id)
            assert mine is not None and seen.next_run == mine.next_run
