"""The app of the multi-worker tests (``test_multiworker.py``); every worker process imports it.

It is configured by environment variables, set by the test:

* ``MW_STORE``: the ``postgresql://...?schema=...`` URL all the workers share;
* ``MW_START`` / ``MW_END``: the window of the interval and cron jobs, as UNIX timestamps (the
  same on every worker, so every worker computes the same fire instants);
* ``MW_AUDIT``: a file to which every run appends ``<job id> <scheduled µs> <pid>``, and every
  worker ``ready <pid> <time>`` after its startup and ``stopped <pid> <time>`` after its scheduler stopped.

The jobs are defined the two ways an app defines them, and every worker defines all of them,
as every worker of a real app would: with the decorators at import time, and in the startup
code (``schedule()`` unless the job is already there). The store claims each fire once.

``app`` is a FastAPI app (``uvicorn multiworker_app:app --workers 2``); ``make_aiohttp_app`` is
an aiohttp app factory (``python -m aiohttp.web -P PORT multiworker_app:make_aiohttp_app``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from asyncron import AsyncScheduler, CronTrigger, IntervalTrigger, current_run
from asyncron.integrations.starlette import asyncron_lifespan, get_scheduler

STORE = os.environ.get("MW_STORE", "")
START = datetime.fromtimestamp(float(os.environ.get("MW_START", "0")), UTC)
END = datetime.fromtimestamp(float(os.environ.get("MW_END", "0")), UTC)
AUDIT = os.environ.get("MW_AUDIT", os.devnull)

#: The jobs scheduled in the startup code: id -> interval in seconds.
STARTUP_JOBS = {"interval-0.4s-async": 0.4, "interval-0.5s-sync": 0.5}


def record(line: str) -> None:
    """Append one line to the audit file: one ``write`` on an ``O_APPEND`` descriptor, so lines
    written by several processes at once never interleave."""
    fd = os.open(AUDIT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def record_run() -> None:
    run = current_run()
    assert run is not None, "called outside a job run"
    micros = round(run.scheduled_at.timestamp() * 1_000_000)
    record(f"{run.job_id} {micros} {os.getpid()}")


async def async_job() -> None:
    record_run()
    await asyncio.sleep(0.05)  # still running when the next fire of a fast job is claimed


def sync_job() -> None:  # runs in the scheduler's thread pool
    record_run()


def make_scheduler(store: Any) -> AsyncScheduler:
    scheduler = AsyncScheduler(store=store, stop_timeout=5)

    # The decorator form, run at import time in every worker.
    scheduler.every(seconds=0.7, start=START, end=END, job_id="decorated-0.7s")(async_job)
    scheduler.cron("* * * * * *", timezone="UTC", job_id="cron-every-second")(sync_job)
    return scheduler


async def schedule_startup_jobs(scheduler: AsyncScheduler) -> None:
    """What an app's startup code does on every worker: add the jobs that are not there yet."""
    for job_id, seconds in STARTUP_JOBS.items():
        if scheduler.get_job_nowait(job_id) is None:
            func = async_job if job_id.endswith("async") else sync_job
            trigger = IntervalTrigger(seconds=seconds, start=START, end=END)
            await scheduler.schedule(func, trigger=trigger, job_id=job_id, name=job_id)


async def schedule_once(scheduler: AsyncScheduler, job_id: str, at: float) -> str:
    """What an endpoint does: add a one-shot job (on whichever worker got the request)."""
    when = datetime.fromtimestamp(at, UTC)
    return await scheduler.schedule(sync_job, trigger=when, job_id=job_id, name=job_id)


def cron_window() -> CronTrigger:
    """The cron job's trigger within the window (used by the test to compute the expected fires)."""
    return CronTrigger.from_expression("* * * * * *", "UTC", start=START, end=END)


# -- FastAPI, under uvicorn --workers N ----------------------------------------------------------

scheduler = make_scheduler(STORE)
Sched = Annotated[AsyncScheduler, Depends(get_scheduler)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    async with asyncron_lifespan(scheduler)(app) as state:
        await schedule_startup_jobs(scheduler)
        record(f"ready {os.getpid()} {time.time()}")
        yield state
    record(f"stopped {os.getpid()} {time.time()}")  # after the scheduler's graceful stop


app = FastAPI(lifespan=lifespan)


@app.get("/jobs")
async def jobs(scheduler: Sched) -> dict[str, Any]:
    return {"pid": os.getpid(), "jobs": sorted(j.id for j in await scheduler.list_jobs())}


@app.post("/once")
async def once(job_id: str, at: float, scheduler: Sched) -> dict[str, Any]:
    return {"pid": os.getpid(), "id": await schedule_once(scheduler, job_id, at)}


# -- aiohttp, one process per port ----------------------------------------------------------------


def make_aiohttp_app(argv: list[str] | None = None) -> Any:
    """``python -m aiohttp.web`` calls this in each process (aiohttp has no multi-worker runner:
    several processes on the same store are its equivalent)."""
    from aiohttp import web

    from asyncron.integrations.aiohttp import get_scheduler as aio_scheduler
    from asyncron.integrations.aiohttp import setup_scheduler
    from asyncron.stores.postgres import PostgresStore

    # The store object this time (the FastAPI app passes the URL); the module-level FastAPI
    # scheduler is never started in this process.
    aio = make_scheduler(PostgresStore(STORE))

    async def startup_and_markers(app: web.Application) -> AsyncIterator[None]:
        await schedule_startup_jobs(aio)
        record(f"ready {os.getpid()} {time.time()}")
        yield

    async def stopped_marker(app: web.Application) -> AsyncIterator[None]:
        yield
        record(f"stopped {os.getpid()} {time.time()}")  # cleanup contexts unwind in reverse order

    async def list_jobs(request: web.Request) -> web.Response:
        found = await aio_scheduler(request).list_jobs()
        return web.json_response({"pid": os.getpid(), "jobs": sorted(j.id for j in found)})

    async def add_once(request: web.Request) -> web.Response:
        job_id = await schedule_once(
            aio_scheduler(request), request.query["job_id"], float(request.query["at"])
        )
        return web.json_response({"pid": os.getpid(), "id": job_id})

    aio_app = web.Application()
    aio_app.cleanup_ctx.append(stopped_marker)
    setup_scheduler(aio_app, aio)
    aio_app.cleanup_ctx.append(startup_and_markers)
    aio_app.router.add_get("/jobs", list_jobs)
    aio_app.router.add_post("/once", add_once)
    return aio_app
