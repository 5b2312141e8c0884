"""APScheduler 3's AsyncIOScheduler started in a FastAPI lifespan, ported to asyncron.

The original (APScheduler 3)::

    from contextlib import asynccontextmanager
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = AsyncIOScheduler()

    async def refresh_tokens():
        ...

    @asynccontextmanager
    async def lifespan(app):
        scheduler.add_job(refresh_tokens, "interval", seconds=0.2, id="tokens")
        scheduler.start()
        yield
        scheduler.shutdown()

    app = FastAPI(lifespan=lifespan)

    @app.get("/jobs")
    def jobs():
        return [{"id": j.id, "next_run": str(j.next_run_time)} for j in scheduler.get_jobs()]
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from asyncron import AsyncScheduler, IntervalTrigger

SECONDS = float(os.environ.get("ASYNCRON_EXAMPLE_SECONDS", "1.2"))
scheduler = AsyncScheduler()
refreshed = 0


async def refresh_tokens() -> None:  # a coroutine runs on the app's own loop
    global refreshed
    refreshed += 1


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await scheduler.schedule(refresh_tokens, trigger=IntervalTrigger(seconds=0.2), job_id="tokens")
    async with scheduler:  # start() ... stop()
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/jobs")
async def jobs() -> list[dict[str, Any]]:
    # get_jobs(): the jobs that will still fire, soonest first
    pending = await scheduler.list_jobs(active=True, order="next_run")
    return [{"id": j.id, "next_run": j.next_run.isoformat() if j.next_run else None} for j in pending]


async def main() -> None:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            await asyncio.sleep(SECONDS / 2)
            body = (await client.get("/jobs")).json()
            print(f"GET /jobs -> {[job['id'] for job in body]}")
    print(f"tokens refreshed {refreshed} times; app stopped, scheduler running: {scheduler.running}")


if __name__ == "__main__":
    asyncio.run(main())
