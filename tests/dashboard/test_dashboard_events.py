"""The server-sent events stream, over a real uvicorn connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from asyncron import AsyncScheduler
from asyncron.dashboard import create_dashboard
from asyncron.integrations.starlette import asyncron_lifespan

from ._servers import uvicorn_in_loop

pytestmark = pytest.mark.asyncio


async def ok() -> str:
    return "fine"


async def fails() -> None:
    raise RuntimeError("no route to host")


Message = tuple[str, dict[str, Any]]


async def _messages(response: httpx.Response) -> AsyncIterator[Message]:
    """(event type, data) for each server-sent event; comments are skipped."""
    kind, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            yield kind, json.loads(data)
            kind, data = "message", ""


async def _collect(messages: AsyncIterator[Message], until: str, limit: int = 50) -> list[Message]:
    seen: list[Message] = []
    async with asyncio.timeout(5):
        async for message in messages:
            seen.append(message)
            if message[0] == until or len(seen) >= limit:
                break
    return seen


def _app(scheduler: AsyncScheduler, **options: Any) -> FastAPI:
    app = FastAPI(lifespan=asyncron_lifespan(scheduler))
    app.mount("/scheduler", create_dashboard(scheduler, **options))
    return app


async def test_event_stream_sends_typed_scheduler_events() -> None:
    scheduler = AsyncScheduler()
    async with (
        uvicorn_in_loop(_app(scheduler)) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("GET", "/scheduler/api/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        job_id = await scheduler.schedule(ok, name="probe", args=(), max_runs=1, trigger=0.01)
        seen = await _collect(_messages(response), until="RunSucceeded")
    kinds = [kind for kind, _ in seen]
    assert kinds[:3] == ["JobAdded", "RunStarted", "RunSucceeded"]
    added, started, succeeded = (data for _, data in seen[:3])
    assert added == {
        "type": "JobAdded",
        "timestamp": added["timestamp"],
        "job_id": job_id,
        "job_name": "probe",
    }
    assert started["attempt"] == 1 and started["lateness"] >= 0
    assert succeeded["duration"] >= 0
    assert succeeded["result"] is None  # results are hidden unless show_arguments=True


async def test_event_stream_filters_by_type_and_ends_when_the_scheduler_stops() -> None:
    scheduler = AsyncScheduler()
    async with uvicorn_in_loop(_app(scheduler)) as url, httpx.AsyncClient(base_url=url) as client:
        bad = await client.get("/scheduler/api/events", params={"types": "RunFailed,Nope"})
        assert bad.status_code == 400
        assert bad.json()["error"].startswith("types: unknown event type 'Nope'; allowed: ")
        params = {"types": "RunFailed"}
        async with client.stream("GET", "/scheduler/api/events", params=params) as response:
            messages = _messages(response)
            await scheduler.schedule(ok, trigger=0.01, max_runs=1)
            await scheduler.schedule(fails, name="ping", trigger=0.01, max_runs=1)
            ((kind, data),) = await _collect(messages, until="RunFailed")
            assert kind == "RunFailed" and data["job_name"] == "ping"
            assert data["error"] == "RuntimeError: no route to host" and data["outcome"] == "failed"
            await scheduler.stop()
            rest = await _collect(messages, until="SchedulerStopped")
        assert [kind for kind, _ in rest] == ["SchedulerStopped"]
