"""aiohttp: the cleanup_ctx entry starts the scheduler with the app and stops it gracefully."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import pytest

from asyncron import AsyncScheduler, JobStatus
from asyncron.errors import SchedulerStateError

pytest.importorskip(
    "aiohttp", reason="aiohttp is not installed (pip install aiohttp, or the [test] extra)"
)

from aiohttp import ClientSession, web

from asyncron.integrations.aiohttp import (
    SCHEDULER_KEY,
    get_scheduler,
    setup_scheduler,
)

pytestmark = pytest.mark.asyncio


def _app(scheduler: AsyncScheduler, fired: list[str]) -> web.Application:
    async def tick() -> None:
        fired.append("endpoint")

    async def add(request: web.Request) -> web.Response:
        job_id = await get_scheduler(request).schedule(tick, trigger=0.01)
        return web.json_response({"id": job_id})

    async def remove(request: web.Request) -> web.Response:
        cancelled = await get_scheduler(request).cancel(request.match_info["job_id"])
        return web.json_response({"cancelled": cancelled})

    app = web.Application()
    app.router.add_post("/jobs", add)
    app.router.add_delete("/jobs/{job_id}", remove)
    setup_scheduler(app, scheduler)
    return app


async def test_jobs_fire_and_an_endpoint_schedules_and_cancels(
    wait_for: Callable[..., Awaitable[None]],
    serve_aiohttp: Callable[..., AbstractAsyncContextManager[str]],
) -> None:
    scheduler = AsyncScheduler()
    fired: list[str] = []

    @scheduler.every(seconds=0.01)
    async def beat() -> None:
        fired.append("beat")

    app = _app(scheduler, fired)
    assert app[SCHEDULER_KEY] is scheduler
    async with serve_aiohttp(app) as url, ClientSession(url) as http:
        assert scheduler.running
        await wait_for(lambda: fired.count("beat") >= 2)
        async with http.post("/jobs") as response:
            job_id = (await response.json())["id"]
        await wait_for(lambda: fired.count("endpoint") >= 2)
        async with http.delete(f"/jobs/{job_id}") as response:
            assert await response.json() == {"cancelled": True}
        job = await scheduler.get_job(job_id)
        assert job is not None and job.status is JobStatus.CANCELLED
    assert not scheduler.running


async def test_cleanup_waits_for_running_jobs(
    wait_for: Callable[..., Awaitable[None]],
    serve_aiohttp: Callable[..., AbstractAsyncContextManager[str]],
) -> None:
    scheduler = AsyncScheduler(stop_timeout=5)
    events: list[str] = []

    async def slow() -> None:
        events.append("started")
        await asyncio.sleep(0.2)
        events.append("finished")

    async with serve_aiohttp(_app(scheduler, [])):
        await scheduler.schedule(slow)
        await wait_for(lambda: "started" in events)
    assert events == ["started", "finished"]


async def test_sub_app_handlers_find_the_parent_scheduler(
    serve_aiohttp: Callable[..., AbstractAsyncContextManager[str]],
) -> None:
    scheduler = AsyncScheduler()

    async def count(request: web.Request) -> web.Response:
        return web.json_response(len(await get_scheduler(request).list_jobs()))

    sub = web.Application()
    sub.router.add_get("/count", count)
    app = _app(scheduler, [])
    app.add_subapp("/admin", sub)
    async with serve_aiohttp(app) as url, ClientSession(url) as http:
        await scheduler.schedule(lambda: None, trigger=60)
        async with http.get("/admin/count") as response:
            assert await response.json() == 1


async def test_get_scheduler_on_an_app_without_it_is_a_clear_error() -> None:
    with pytest.raises(SchedulerStateError, match=r"setup_scheduler\(app, scheduler\)"):
        get_scheduler(web.Application())


async def test_setup_rejects_a_non_scheduler() -> None:
    with pytest.raises(TypeError, match="expected an AsyncScheduler, got int"):
        setup_scheduler(web.Application(), 3)  # type: ignore[arg-type]
