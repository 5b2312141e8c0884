"""Odd job ids and asset names through the dashboard's real ASGI app (httpx): every id can be
opened and steered, and a bad asset name is a 404, never a server error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from asyncron import AsyncScheduler, IntervalTrigger, JobStatus
from asyncron.dashboard import CSRF_HEADER, create_dashboard

pytestmark = pytest.mark.asyncio

ORIGIN = "http://app"
ODD_IDS = [
    "reports/nightly",
    "a/b/c",
    "/leading",
    "trailing/",
    "pause",
    "x/pause",
    "50%",
    "%2F",
    "what?",
    "#1",
    "with space",
    "ünï/cødé ✓",
    "a/../b",
    "a+b&c=d;e",
]


async def tick() -> str:
    return "tick"


@asynccontextmanager
async def _client(scheduler: AsyncScheduler) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(
        routes=[
            Mount(
                "/scheduler",
                create_dashboard(scheduler, allow_unauthenticated_actions=True),
            )
        ]
    )
    async with scheduler:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            yield client


def _job_url(job_id: str) -> str:
    # what the page's script sends: encodeURIComponent(id), so "/" travels as %2F
    return "/scheduler/api/jobs/" + quote(job_id, safe="")


async def test_every_odd_job_id_can_be_opened_paused_resumed_run_and_cancelled() -> None:
    scheduler = AsyncScheduler()
    for job_id in ODD_IDS:
        await scheduler.schedule(tick, trigger=IntervalTrigger(hours=1), job_id=job_id)
    async with _client(scheduler) as client:
        token = (await client.get("/scheduler/api/csrf")).json()["token"]
        headers = {CSRF_HEADER: token, "Origin": ORIGIN}
        for job_id in ODD_IDS:
            detail = await client.get(_job_url(job_id))
            assert detail.status_code == 200, (job_id, detail.text)
            assert detail.json()["job"]["id"] == job_id
            for action, status in (("pause", JobStatus.PAUSED), ("resume", JobStatus.PENDING)):
                reply = await client.post(f"{_job_url(job_id)}/{action}", headers=headers)
                assert reply.status_code == 200, (job_id, action, reply.text)
                assert reply.json()["job"]["id"] == job_id
                job = await scheduler.get_job(job_id)
                assert job is not None and job.status is status, (job_id, action)
            ran = await client.post(f"{_job_url(job_id)}/run", headers=headers)
            assert ran.status_code == 202, (job_id, ran.text)
        for job_id in ODD_IDS:
            await _until_ran(scheduler, job_id)
            cancelled = await client.post(f"{_job_url(job_id)}/cancel", headers=headers)
            assert cancelled.status_code == 200, (job_id, cancelled.text)
            job = await scheduler.get_job(job_id)
            assert job is not None and job.status is JobStatus.CANCELLED
            assert job.run_count == 1, job_id
        # the others are untouched by each other's actions: "x/pause" is not job "x" + pause
        listed = (await client.get("/scheduler/api/jobs")).json()
        assert sorted(j["id"] for j in listed["jobs"]) == sorted(ODD_IDS)


async def _until_ran(scheduler: AsyncScheduler, job_id: str) -> None:
    for _ in range(500):
        job = await scheduler.get_job(job_id)
        if job is not None and job.run_count >= 1 and job.status is not JobStatus.RUNNING:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {job_id!r} did not run")


async def test_unknown_odd_id_is_a_404_naming_it() -> None:
    scheduler = AsyncScheduler()
    async with _client(scheduler) as client:
        reply = await client.get(_job_url("no/such job"))
        assert reply.status_code == 404
        assert reply.json() == {"error": "no job with id 'no/such job'"}


async def test_get_on_an_action_of_a_job_with_slashes_is_405_not_a_lookup() -> None:
    scheduler = AsyncScheduler()
    await scheduler.schedule(tick, trigger=IntervalTrigger(hours=1), job_id="a/b")
    async with _client(scheduler) as client:
        reply = await client.get(_job_url("a/b") + "/pause")
        assert reply.status_code == 405 and reply.headers["allow"] == "POST"
        assert reply.json()["error"] == "pause is an action on job 'a/b': send it as a POST"


@pytest.mark.parametrize(
    "path",
    [
        "/scheduler/static/x%00.css",
        "/scheduler/static/%00",
        "/scheduler/static/" + "a" * 5000 + ".css",
        "/scheduler/static/" + "a" * 5000,
        "/scheduler/static/..%2Fdashboard.css",
        "/scheduler/static/%2E%2E%2F_core.py",
        "/scheduler/static/..%5Cx.js",
        "/scheduler/static/.hidden.css",
        "/scheduler/static/index.html",
        "/scheduler/static/nope.css",
        "/scheduler/static/%ff%fe.js",
    ],
)
async def test_bad_asset_names_are_404_never_500(path: str) -> None:
    scheduler = AsyncScheduler()
    async with _client(scheduler) as client:
        reply = await client.get(path)
        assert reply.status_code == 404, reply.text[:200]
        assert len(reply.text) < 400  # the message does not echo a 5,000-character name


async def test_raw_dot_dot_in_the_asset_path_is_404() -> None:
    # sent as is (no client-side normalisation), the way a hostile client would
    scheduler = AsyncScheduler()
    async with _client(scheduler) as client:
        request = client.build_request("GET", "/scheduler/static/x")
        request.url = request.url.copy_with(raw_path=b"/scheduler/static/../x")
        reply = await client.send(request)
        assert reply.status_code == 404


async def test_real_assets_are_still_served() -> None:
    scheduler = AsyncScheduler()
    async with _client(scheduler) as client:
        css = await client.get("/scheduler/static/dashboard.css")
        js = await client.get("/scheduler/static/dashboard.js")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]


async def test_aiohttp_adapter_opens_and_steers_odd_ids_and_404s_bad_assets() -> None:
    pytest.importorskip("aiohttp", reason="aiohttp is not installed (the [test] extra has it)")
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from asyncron.dashboard.aiohttp import setup_dashboard

    scheduler = AsyncScheduler()
    for job_id in ODD_IDS:
        await scheduler.schedule(tick, trigger=IntervalTrigger(hours=1), job_id=job_id)
    app = web.Application()
    setup_dashboard(app, scheduler, prefix="/scheduler", allow_unauthenticated_actions=True)
    async with scheduler, TestClient(TestServer(app)) as client:
        token = (await (await client.get("/scheduler/api/csrf")).json())["token"]
        headers = {CSRF_HEADER: token}
        for job_id in ODD_IDS:
            url = _job_url(job_id)
            detail = await client.get(url)
            assert detail.status == 200, (job_id, await detail.text())
            assert (await detail.json())["job"]["id"] == job_id
            paused = await client.post(f"{url}/pause", headers=headers)
            assert paused.status == 200, (job_id, await paused.text())
            job = await scheduler.get_job(job_id)
            assert job is not None and job.status is JobStatus.PAUSED, job_id
        for path in ("/scheduler/static/x%00.css", "/scheduler/static/" + "a" * 5000 + ".css",
                     "/scheduler/static/..%2Fdashboard.css"):  # fmt: skip
            reply = await client.get(path)
            assert reply.status == 404, (path[:60], reply.status)
