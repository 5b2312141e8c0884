"""FastAPI / Starlette: the lifespan starts the scheduler with the app and stops it gracefully."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asyncron import AsyncScheduler, JobStatus
from asyncron.errors import SchedulerStateError
from asyncron.integrations.starlette import asyncron_lifespan, get_scheduler
from helpers import free_port

pytestmark = pytest.mark.asyncio

Sched = Annotated[AsyncScheduler, Depends(get_scheduler)]


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


def _fastapi_app(scheduler: AsyncScheduler, fired: list[str]) -> FastAPI:
    app = FastAPI(lifespan=asyncron_lifespan(scheduler))

    async def tick(tag: str) -> None:
        fired.append(tag)

    @app.post("/jobs")
    async def add(scheduler: Sched, every: float = 0.01) -> dict[str, str]:
        return {"id": await scheduler.schedule(tick, trigger=every, args=("endpoint",))}

    @app.delete("/jobs/{job_id}")
    async def remove(job_id: str, scheduler: Sched) -> dict[str, bool]:
        return {"cancelled": await scheduler.cancel(job_id)}

    @app.get("/jobs/{job_id}")
    async def show(job_id: str, request: Request) -> dict[str, Any]:
        job = await request.app.state.scheduler.get_job(job_id)
        if job is None:
            raise HTTPException(404)
        return {"status": job.status.value, "runs": job.run_count}

    return app


async def test_fastapi_lifespan_starts_scheduler_and_decorated_jobs_fire(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    scheduler = AsyncScheduler()
    fired: list[str] = []

    @scheduler.every(seconds=0.01)
    async def beat() -> None:
        fired.append("beat")

    app = _fastapi_app(scheduler, fired)
    assert not scheduler.running
    async with app.router.lifespan_context(app):
        assert scheduler.running
        assert app.state.scheduler is scheduler
        await wait_for(lambda: fired.count("beat") >= 3)
    assert not scheduler.running


async def test_endpoint_schedules_and_cancels_a_job(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    scheduler = AsyncScheduler()
    fired: list[str] = []
    app = _fastapi_app(scheduler, fired)
    async with app.router.lifespan_context(app), _client(app) as client:
        response = await client.post("/jobs", params={"every": 0.01})
        assert response.status_code == 200
        job_id = response.json()["id"]
        await wait_for(lambda: fired.count("endpoint") >= 2)
        assert (await client.delete(f"/jobs/{job_id}")).json() == {"cancelled": True}
        shown = (await client.get(f"/jobs/{job_id}")).json()
        assert shown["status"] == JobStatus.CANCELLED.value
        count = len(fired)
        await asyncio.sleep(0.05)
        assert len(fired) == count  # no fire after the cancel
        assert (await client.delete(f"/jobs/{job_id}")).json() == {"cancelled": False}


async def test_shutdown_waits_for_running_jobs(wait_for: Callable[..., Awaitable[None]]) -> None:
    scheduler = AsyncScheduler(stop_timeout=5)
    events: list[str] = []

    async def slow() -> None:
        events.append("started")
        await asyncio.sleep(0.2)
        events.append("finished")

    app = FastAPI(lifespan=asyncron_lifespan(scheduler))
    async with app.router.lifespan_context(app):
        job_id = await scheduler.schedule(slow)
        await wait_for(lambda: "started" in events)
    assert events == ["started", "finished"]  # the lifespan exit waited for the run
    job = await scheduler.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED


async def test_shutdown_cancels_runs_past_the_stop_timeout(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    scheduler = AsyncScheduler()
    events: list[str] = []

    async def stuck() -> None:
        events.append("started")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    app = FastAPI(lifespan=asyncron_lifespan(scheduler, stop_timeout=0.05))
    async with app.router.lifespan_context(app):
        await scheduler.schedule(stuck)
        await wait_for(lambda: "started" in events)
    assert events == ["started", "cancelled"]


async def test_composes_with_the_apps_own_lifespan(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    scheduler = AsyncScheduler()
    order: list[str] = []

    @asynccontextmanager
    async def own(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        assert scheduler.running  # the scheduler is up before user startup code
        order.append("own start")
        await scheduler.schedule(lambda: order.append("job"), name="from-startup")
        yield {"db": "pool"}
        assert scheduler.running  # and still up during user shutdown code
        order.append("own stop")

    async def home(request: Request) -> JSONResponse:
        jobs = await get_scheduler(request).list_jobs()
        return JSONResponse({"jobs": [j.name for j in jobs]})

    app = Starlette(routes=[Route("/", home)], lifespan=asyncron_lifespan(scheduler, own))
    async with app.router.lifespan_context(app) as state, _client(app) as client:
        body = (await client.get("/")).json()
        await wait_for(lambda: "job" in order)
    # the lifespan state (request.state under a server) merges both
    assert state == {"scheduler": scheduler, "db": "pool"}
    assert body == {"jobs": ["from-startup"]}
    assert order == ["own start", "job", "own stop"]
    assert not scheduler.running


async def test_scheduler_started_elsewhere_is_left_running() -> None:
    async with AsyncScheduler() as scheduler:
        app = FastAPI(lifespan=asyncron_lifespan(scheduler))
        async with app.router.lifespan_context(app):
            pass
        assert scheduler.running


async def test_get_scheduler_without_the_lifespan_is_a_clear_error() -> None:
    app = FastAPI()

    @app.get("/")
    async def home(scheduler: Sched) -> str:
        return "unreachable"

    with pytest.raises(SchedulerStateError, match="lifespan=asyncron_lifespan"):
        async with _client(app) as client:
            await client.get("/")


async def test_lifespan_rejects_a_non_scheduler() -> None:
    with pytest.raises(TypeError, match="expected an AsyncScheduler, got str"):
        asyncron_lifespan("nope")  # type: ignore[arg-type]


async def test_real_uvicorn_server_runs_jobs_and_stops_gracefully(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is not installed")
    scheduler = AsyncScheduler()
    fired: list[str] = []
    events: list[str] = []
    app = _fastapi_app(scheduler, fired)

    async def slow() -> None:
        events.append("started")
        await asyncio.sleep(0.2)
        events.append("finished")

    @app.post("/slow")
    async def add_slow(request: Request) -> str:
        # under a real server the lifespan state reaches request.state
        scheduler: AsyncScheduler = request.state.scheduler
        return await scheduler.schedule(slow)

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: server.started)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            job_id = (await client.post("/jobs", params={"every": 0.01})).json()["id"]
            await wait_for(lambda: len(fired) >= 2)
            assert (await client.delete(f"/jobs/{job_id}")).json() == {"cancelled": True}
            await client.post("/slow")
        await wait_for(lambda: "started" in events)
    finally:
        server.should_exit = True
        await serving
    assert events == ["started", "finished"]
    assert not scheduler.running
