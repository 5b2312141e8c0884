"""A FastAPI app that runs an AsyncScheduler: lifespan, decorators, endpoints that schedule,
list and cancel jobs.

Serve it for real:  uvicorn fastapi_app:app --app-dir examples     (then open /docs)
Or run the script:  python examples/fastapi_app.py
which starts the app in-process (its lifespan included), calls the endpoints with an HTTP client,
lets the jobs fire for ASYNCRON_EXAMPLE_SECONDS seconds (default 3), and stops.

Several workers (uvicorn --workers 4)? Each would run every job: use the PostgreSQL store (see
postgres_cluster.py) or run the scheduler in one process with `asyncron run fastapi_app:app`.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException

from asyncron import AsyncScheduler, IntervalTrigger
from asyncron.integrations.starlette import asyncron_lifespan, get_scheduler

SECONDS = float(os.environ.get("ASYNCRON_EXAMPLE_SECONDS", "3"))

scheduler = AsyncScheduler(stop_timeout=10)  # shutdown waits up to 10 s for running jobs

# `Scheduler` in a handler's signature gives it the app's scheduler.
Scheduler = Annotated[AsyncScheduler, Depends(get_scheduler)]


# Jobs defined with the decorators start firing when the app starts.
@scheduler.every(seconds=1)
async def refresh_cache() -> None:
    print("refresh_cache: cache refreshed", flush=True)


@scheduler.cron("0 9 * * 1-5", timezone="Europe/Berlin")
def morning_report() -> None:  # sync functions run in the scheduler's thread pool
    print("morning_report: sent")


# The lifespan starts the scheduler before the first request and stops it gracefully at shutdown.
app = FastAPI(title="asyncron example", lifespan=asyncron_lifespan(scheduler))


async def ping(host: str) -> str:
    print(f"ping: {host} is up", flush=True)
    return "up"


@app.post("/pings")
async def add_ping(host: str, every: float, scheduler: Scheduler) -> dict[str, str]:
    """Ping ``host`` every ``every`` seconds; returns the new job's id."""
    job_id = await scheduler.schedule(
        ping, name=f"ping {host}", trigger=IntervalTrigger(seconds=every), args=(host,)
    )
    return {"id": job_id}


@app.delete("/pings/{job_id}")
async def remove_ping(job_id: str, scheduler: Scheduler) -> dict[str, bool]:
    if not await scheduler.cancel(job_id):
        raise HTTPException(404, f"no pending job {job_id}")
    return {"cancelled": True}


@app.get("/jobs")
async def list_jobs(scheduler: Scheduler) -> list[dict[str, Any]]:
    return [
        {
            "id": job.id,
            "name": job.name,
            "status": job.status.value,
            "runs": job.run_count,
            "next_run": job.next_run.isoformat() if job.next_run else None,
        }
        for job in await scheduler.list_jobs()
    ]


async def demo() -> None:
    """Drive the app without a server: its lifespan, then real HTTP requests over ASGI."""
    import httpx

    async with app.router.lifespan_context(app):  # what uvicorn does at startup / shutdown
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
            created = await client.post("/pings", params={"host": "db.internal", "every": 0.5})
            job_id = created.json()["id"]
            print(f"POST /pings -> {created.status_code} {created.json()}")
            await asyncio.sleep(SECONDS)
            for job in (await client.get("/jobs")).json():
                print(f"GET /jobs: {job['name']} {job['status']} runs={job['runs']}")
            deleted = await client.delete(f"/pings/{job_id}")
            print(f"DELETE /pings/{job_id} -> {deleted.status_code} {deleted.json()}")
            again = await client.delete(f"/pings/{job_id}")
            print(f"DELETE again -> {again.status_code}")
    print("app stopped, scheduler stopped:", not scheduler.running)


if __name__ == "__main__":
    asyncio.run(demo())
