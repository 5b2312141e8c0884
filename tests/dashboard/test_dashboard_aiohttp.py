"""The aiohttp adapter: the same API under a prefix of an aiohttp app, on a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from helpers import job_vanished

pytest.importorskip(
    "aiohttp", reason="aiohttp is not installed (pip install aiohttp, or the [test] extra)"
)

from aiohttp import ClientSession, CookieJar, web

from asyncron import AsyncScheduler, JobStatus
from asyncron.dashboard import CSRF_COOKIE, CSRF_HEADER
from asyncron.dashboard.aiohttp import DASHBOARD_KEY, setup_dashboard
from asyncron.integrations.aiohttp import setup_scheduler

pytestmark = pytest.mark.asyncio


async def beat() -> str:
    return "beat"


def _session(url: str) -> ClientSession:
    # unsafe=True: aiohttp's cookie jar ignores cookies from IP addresses by default
    return ClientSession(url, cookie_jar=CookieJar(unsafe=True))


def _app(scheduler: AsyncScheduler, **options: Any) -> web.Application:
    app = web.Application()
    setup_scheduler(app, scheduler)
    setup_dashboard(app, scheduler, prefix="/ops/scheduler", **options)
    return app


async def test_api_page_and_actions_under_a_prefix(
    wait_for: Callable[..., Awaitable[None]],
    serve_aiohttp: Callable[..., AbstractAsyncContextManager[str]],
) -> None:
    scheduler = AsyncScheduler()
    job_id = await scheduler.schedule(beat, name="heartbeat", trigger=0.02)
    app = _app(scheduler, allow_unauthenticated_actions=True)
    async with serve_aiohttp(app, shutdown_timeout=1) as url, _session(url) as http:
        async with http.get("/ops/scheduler", allow_redirects=False) as response:
            assert response.status == 307
            assert response.headers["Location"] == "/ops/scheduler/"
        async with http.get("/ops/scheduler/") as page:
            assert page.status == 200 and page.content_type == "text/html"
            text = await page.text()
            assert 'data-base="/ops/scheduler/"' in text
            assert page.headers["X-Frame-Options"] == "DENY"
            token = page.cookies[CSRF_COOKIE].value
            assert page.cookies[CSRF_COOKIE]["httponly"]
        async with http.get("/ops/scheduler/static/dashboard.js") as js:
            assert js.status == 200 and js.content_type == "text/javascript"
        await wait_for(lambda: (scheduler.get_job_nowait(job_id) or job_vanished()).run_count >= 2)
        async with http.get("/ops/scheduler/api/jobs", params={"name": "heart"}) as response:
            body = await response.json()
            assert body["total"] == 1 and body["jobs"][0]["status"] in ("pending", "running")
        async with http.get(f"/ops/scheduler/api/jobs/{job_id}") as response:
            detail = await response.json()
            assert len(detail["next_fires"]) == 10
            assert detail["last_runs"][-1]["outcome"] == "succeeded"
        async with http.get("/ops/scheduler/openapi.json") as response:
            assert (await response.json())["servers"] == [{"url": "/ops/scheduler"}]
        async with http.get("/ops/scheduler/api/stats") as response:
            assert (await response.json())["fires"] >= 2
        async with http.post(f"/ops/scheduler/api/jobs/{job_id}/pause") as response:
            assert response.status == 403
            assert "missing X-Asyncron-CSRF header" in (await response.json())["error"]
        headers = {CSRF_HEADER: token, "Origin": url}
        async with http.post(
            f"/ops/scheduler/api/jobs/{job_id}/pause", headers=headers
        ) as response:
            assert response.status == 200
            reply = await response.json()
        # The pause took effect. A run of this 20 ms job may be in flight at that instant: the
        # job then shows "running" until that run ends, and "paused" from then on (the
        # documented pause semantics), so the reply alone cannot say "paused" every time.
        assert reply["changed"] is True
        await wait_for(lambda: scheduler.get_job_nowait(job_id).status is JobStatus.PAUSED)  # type: ignore[union-attr]
        runs = scheduler.get_job_nowait(job_id).run_count  # type: ignore[union-attr]
        await asyncio.sleep(0.1)  # five periods: no run starts while paused
        assert scheduler.get_job_nowait(job_id).run_count == runs  # type: ignore[union-attr]
        evil = {CSRF_HEADER: token, "Origin": "http://evil.example"}
        async with http.post(f"/ops/scheduler/api/jobs/{job_id}/resume", headers=evil) as response:
            assert response.status == 403


async def test_auth_hook_gets_the_aiohttp_request_and_may_raise_http_errors(
    wait_for: Callable[..., Awaitable[None]],
    serve_aiohttp: Callable[..., AbstractAsyncContextManager[str]],
) -> None:
    scheduler = AsyncScheduler()
    job_id = await scheduler.schedule(beat, name="heartbeat", trigger=60)

    def auth(request: web.Request) -> bool:
        if "Authorization" not in request.headers:
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": "Basic"})
        return request.headers["Authorization"] == "Basic YWRtaW46YWRtaW4="

    async with (
        serve_aiohttp(_app(scheduler, auth=auth), shutdown_timeout=1) as url,
        _session(url) as http,
    ):
        async with http.get("/ops/scheduler/api/jobs") as response:
            assert response.status == 401 and response.headers["WWW-Authenticate"] == "Basic"
        wrong = {"Authorization": "Basic bm9ib2R5Og=="}
        async with http.get("/ops/scheduler/api/jobs", headers=wrong) as response:
            assert response.status == 403
        admin = {"Authorization": "Basic YWRtaW46YWRtaW4="}
        async with http.get("/ops/scheduler/api/csrf", headers=admin) as response:
            token = (await response.json())["token"]
        async with http.post(
            f"/ops/scheduler/api/jobs/{job_id}/run", headers={**admin, CSRF_HEADER: token}
        ) as response:
            assert response.status == 202
        await wait_for(lambda: (scheduler.get_job_nowait(job_id) or job_vanished()).run_count == 1)


async def test_actions_are_refused_by_default_and_events_stream(
    serve_aiohttp: Callable[..., AbstractAsyncContextManager[str]],
) -> None:
    scheduler = AsyncScheduler()
    async with serve_aiohttp(_app(scheduler), shutdown_timeout=1) as url, _session(url) as http:
        async with http.get("/ops/scheduler/api/csrf") as response:
            token = (await response.json())["token"]
        job_id = await scheduler.schedule(beat, name="later", trigger=60)
        async with http.post(
            f"/ops/scheduler/api/jobs/{job_id}/cancel", headers={CSRF_HEADER: token}
        ) as response:
            assert response.status == 403
            assert "actions are disabled" in (await response.json())["error"]
        async with http.get("/ops/scheduler/api/events", params={"types": "Bogus"}) as response:
            assert response.status == 400
        async with http.get("/ops/scheduler/api/events") as response:
            assert response.content_type == "text/event-stream"
            assert (
                await response.content.readuntil(b"\n\n") == b"retry: 3000\n: asyncron events\n\n"
            )
            await scheduler.schedule(beat, name="probe", trigger=0.01, max_runs=1)
            async with asyncio.timeout(5):
                chunk = await response.content.readuntil(b"\n\n")
        kind, data = chunk.decode().strip().split("\n")
        assert kind == "event: JobAdded"
        assert json.loads(data.removeprefix("data: "))["job_name"] == "probe"


async def test_setup_returns_the_sub_app_and_the_prefix_must_be_a_path() -> None:
    scheduler = AsyncScheduler()
    sub = setup_dashboard(web.Application(), scheduler)
    assert sub[DASHBOARD_KEY].scheduler is scheduler
    with pytest.raises(ValueError, match="prefix: expected a path like '/scheduler', got 'ops/'"):
        setup_dashboard(web.Application(), AsyncScheduler(), prefix="ops/")
