"""The admin API over HTTP (httpx against real FastAPI / Starlette apps, lifespan included)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from starlette.applications import Starlette
from starlette.requests import Request

from asyncron import AsyncScheduler, CronTrigger, JobStatus
from asyncron.dashboard import CSRF_COOKIE, CSRF_HEADER, create_dashboard
from asyncron.integrations.starlette import asyncron_lifespan
from helpers import job_vanished

pytestmark = pytest.mark.asyncio

ORIGIN = "http://app"


async def tick(label: str, token: str = "") -> str:
    return f"tick {label}"


async def boom() -> None:
    raise ValueError("boom: disk full")


def _app(scheduler: AsyncScheduler, **options: Any) -> FastAPI:
    app = FastAPI(lifespan=asyncron_lifespan(scheduler))
    app.mount("/scheduler", create_dashboard(scheduler, **options))
    return app


@asynccontextmanager
async def _serve(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            yield client


async def _csrf(client: httpx.AsyncClient) -> dict[str, str]:
    """Load the page as a browser would: the cookie is stored, the token is returned."""
    response = await client.get("/scheduler/api/csrf")
    assert response.status_code == 200
    return {CSRF_HEADER: response.json()["token"]}


async def _scheduler_with_jobs() -> tuple[AsyncScheduler, dict[str, str]]:
    scheduler = AsyncScheduler()
    ids = {
        "report": await scheduler.schedule(
            tick,
            name="nightly report",
            trigger=CronTrigger.from_expression("0 3 * * *"),
            args=("emea",),
            kwargs={"token": "s3cret"},
        ),
        "beat": await scheduler.schedule(tick, name="heartbeat", trigger=0.02, args=("hb",)),
        "boom": await scheduler.schedule(boom, name="flaky import", trigger=0.02),
    }
    return scheduler, ids


async def test_list_jobs_filters_by_status_and_name_substring() -> None:
    scheduler, ids = await _scheduler_with_jobs()
    async with _serve(_app(scheduler)) as client:
        await scheduler.pause(ids["beat"])
        everything = (await client.get("/scheduler/api/jobs")).json()
        assert everything["total"] == 3
        assert [j["name"] for j in everything["jobs"]] == [
            "nightly report",
            "heartbeat",
            "flaky import",
        ]
        paused = (await client.get("/scheduler/api/jobs", params={"status": "paused"})).json()
        assert [j["id"] for j in paused["jobs"]] == [ids["beat"]]
        named = (await client.get("/scheduler/api/jobs", params={"name": "REPORT"})).json()
        assert [j["id"] for j in named["jobs"]] == [ids["report"]]
        both = await client.get("/scheduler/api/jobs", params={"name": "o", "status": "pending"})
        assert {j["id"] for j in both.json()["jobs"]} == {ids["report"], ids["boom"]}
        bad = await client.get("/scheduler/api/jobs", params={"status": "sleeping"})
        assert bad.status_code == 400
        assert bad.json()["error"].startswith("status: unknown status 'sleeping'; allowed: pending")
        window = (await client.get("/scheduler/api/jobs", params={"limit": 1, "offset": 1})).json()
        assert window["total"] == 3 and [j["id"] for j in window["jobs"]] == [ids["beat"]]


async def test_job_detail_has_trigger_next_ten_fires_and_runs_with_error_and_traceback(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    scheduler, ids = await _scheduler_with_jobs()
    async with _serve(_app(scheduler)) as client:
        await wait_for(
            lambda: (scheduler.get_job_nowait(ids["boom"]) or job_vanished()).run_count >= 2
        )
        report = (await client.get(f"/scheduler/api/jobs/{ids['report']}")).json()
        assert report["job"]["trigger"]["type"] == "cron"
        assert report["job"]["trigger"]["expression"] == "0 3 * * *"
        assert "03:00" in report["job"]["trigger"]["description"]
        assert len(report["next_fires"]) == 10
        assert report["next_fires"] == sorted(report["next_fires"])
        assert report["last_runs"] == []

        flaky = (await client.get(f"/scheduler/api/jobs/{ids['boom']}")).json()
        job = flaky["job"]
        assert job["status"] == "pending" and job["failure_count"] >= 2
        assert job["error"] == "ValueError: boom: disk full"
        assert "Traceback (most recent call last)" in job["traceback"]
        assert 'raise ValueError("boom: disk full")' in job["traceback"]
        run = flaky["last_runs"][-1]
        assert run["outcome"] == "failed" and run["error"] == "ValueError: boom: disk full"
        assert run["duration"] >= 0 and run["lateness"] >= 0 and run["attempt"] == 1

        missing = await client.get("/scheduler/api/jobs/nope")
        assert missing.status_code == 404 and missing.json() == {"error": "no job with id 'nope'"}


async def test_actions_are_refused_without_auth_unless_explicitly_allowed() -> None:
    scheduler, ids = await _scheduler_with_jobs()
    async with _serve(_app(scheduler)) as client:
        headers = await _csrf(client)
        refused = await client.post(f"/scheduler/api/jobs/{ids['beat']}/pause", headers=headers)
        assert refused.status_code == 403
        assert "actions are disabled: pass auth=..." in refused.json()["error"]
        assert (await scheduler.get_job(ids["beat"])).status is not JobStatus.PAUSED  # type: ignore[union-attr]
        info = (await client.get("/scheduler/api/info")).json()
        assert info["actions_allowed"] is False and info["authentication"] is False
        # reads stay open without a hook (mount it behind your own middleware)
        assert (await client.get("/scheduler/api/jobs")).status_code == 200


async def test_pause_resume_run_now_and_cancel(wait_for: Callable[..., Awaitable[None]]) -> None:
    scheduler, ids = await _scheduler_with_jobs()
    async with _serve(_app(scheduler, allow_unauthenticated_actions=True)) as client:
        headers = await _csrf(client)
        url = f"/scheduler/api/jobs/{ids['report']}"
        paused = await client.post(f"{url}/pause", headers=headers)
        assert paused.status_code == 200
        assert paused.json()["changed"] is True and paused.json()["job"]["status"] == "paused"
        again = await client.post(f"{url}/pause", headers=headers)
        assert again.json()["changed"] is False
        resumed = await client.post(f"{url}/resume", headers=headers)
        assert resumed.json()["job"]["status"] == "pending"

        ran = await client.post(f"{url}/run", headers=headers)
        assert ran.status_code == 202
        await wait_for(
            lambda: (scheduler.get_job_nowait(ids["report"]) or job_vanished()).run_count == 1
        )
        job = await scheduler.get_job(ids["report"])
        assert job is not None and job.result == "tick emea"

        cancelled = await client.post(f"{url}/cancel", headers=headers)
        assert cancelled.json()["job"]["status"] == "cancelled"
        too_late = await client.post(f"{url}/run", headers=headers)
        assert too_late.status_code == 409 and "was cancelled" in too_late.json()["error"]
        unknown = await client.post(f"{url}/explode", headers=headers)
        assert unknown.status_code == 404
        assert (
            unknown.json()["error"]
            == "unknown action 'explode'; allowed: pause, resume, run, cancel"
        )
        gone = await client.post("/scheduler/api/jobs/nope/pause", headers=headers)
        assert gone.status_code == 404
        read_only = await client.get(f"{url}/pause")
        assert read_only.status_code == 405


@pytest.mark.parametrize(
    ("headers", "cookie", "why"),
    [
        ({}, True, "missing X-Asyncron-CSRF header"),
        ({CSRF_HEADER: "forged"}, True, "does not match the asyncron_csrf cookie"),
        ({CSRF_HEADER: "TOKEN"}, False, "does not match the asyncron_csrf cookie"),
        ({CSRF_HEADER: "TOKEN", "Origin": "https://evil.example"}, True, "cross-origin request"),
        ({CSRF_HEADER: "TOKEN", "Origin": "null"}, True, "Origin: null"),
        ({CSRF_HEADER: "TOKEN", "Sec-Fetch-Site": "cross-site"}, True, "cross-site request"),
    ],
)
async def test_actions_without_a_valid_csrf_token_are_refused(
    headers: dict[str, str], cookie: bool, why: str
) -> None:
    scheduler, ids = await _scheduler_with_jobs()
    async with _serve(_app(scheduler, allow_unauthenticated_actions=True)) as client:
        token = (await _csrf(client))[CSRF_HEADER]
        if not cookie:
            client.cookies.clear()
        sent = {k: token if v == "TOKEN" else v for k, v in headers.items()}
        response = await client.post(f"/scheduler/api/jobs/{ids['beat']}/pause", headers=sent)
        assert response.status_code == 403
        assert response.json()["error"].startswith("CSRF check failed: ")
        assert why in response.json()["error"]
        job = await scheduler.get_job(ids["beat"])
        assert job is not None and job.status is not JobStatus.PAUSED
        same_origin = {CSRF_HEADER: token, "Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}
        if cookie:
            ok = await client.post(f"/scheduler/api/jobs/{ids['beat']}/pause", headers=same_origin)
            assert ok.status_code == 200, ok.text


async def test_auth_hook_guards_reads_and_actions() -> None:
    scheduler, ids = await _scheduler_with_jobs()
    seen: list[str] = []

    async def is_admin(request: Request) -> bool:
        seen.append(request.url.path)
        return request.headers.get("authorization") == "Bearer admin"

    async with _serve(_app(scheduler, auth=is_admin)) as client:
        for path in (
            "/scheduler/",
            "/scheduler/api/jobs",
            "/scheduler/api/stats",
            "/scheduler/openapi.json",
            f"/scheduler/api/jobs/{ids['beat']}",
        ):
            response = await client.get(path)
            assert response.status_code == 403, path
            assert response.json() == {"error": "authentication required"}
        # static assets hold no data and need no auth
        assert (await client.get("/scheduler/static/dashboard.js")).status_code == 200
        client.headers["authorization"] = "Bearer admin"
        headers = await _csrf(client)
        assert (await client.get("/scheduler/api/info")).json()["actions_allowed"] is True
        paused = await client.post(f"/scheduler/api/jobs/{ids['beat']}/pause", headers=headers)
        assert paused.status_code == 200 and paused.json()["job"]["status"] == "paused"
        client.headers["authorization"] = "Bearer someone"
        refused = await client.post(f"/scheduler/api/jobs/{ids['beat']}/resume", headers=headers)
        assert refused.status_code == 403
    assert "/scheduler/api/jobs" in seen


async def test_auth_hook_may_raise_http_exception_like_a_fastapi_dependency() -> None:
    scheduler, _ = await _scheduler_with_jobs()

    def require_token(request: Request) -> bool:
        if "authorization" not in request.headers:
            raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
        return True

    async with _serve(_app(scheduler, auth=require_token)) as client:
        response = await client.get("/scheduler/api/jobs")
        assert response.status_code == 401
        assert response.json() == {"error": "log in first"}
        assert response.headers["www-authenticate"] == "Bearer"
        ok = await client.get("/scheduler/api/jobs", headers={"Authorization": "Bearer x"})
        assert ok.status_code == 200


async def test_arguments_and_results_are_hidden_unless_enabled(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    scheduler, ids = await _scheduler_with_jobs()
    async with _serve(_app(scheduler)) as client:
        await wait_for(
            lambda: (scheduler.get_job_nowait(ids["beat"]) or job_vanished()).run_count >= 1
        )
        body = (await client.get("/scheduler/api/jobs")).text
        assert "s3cret" not in body and "emea" not in body and "tick hb" not in body
        report = (await client.get(f"/scheduler/api/jobs/{ids['report']}")).json()["job"]
        assert report["arguments"] == "hidden" and report["args"] is None
    scheduler, ids = await _scheduler_with_jobs()
    async with _serve(_app(scheduler, show_arguments=True)) as client:
        await wait_for(
            lambda: (scheduler.get_job_nowait(ids["beat"]) or job_vanished()).run_count >= 1
        )
        report = (await client.get(f"/scheduler/api/jobs/{ids['report']}")).json()["job"]
        assert report["arguments"] == "shown"
        assert report["args"] == ["'emea'"] and report["kwargs"] == {"token": "'s3cret'"}
        beat = (await client.get(f"/scheduler/api/jobs/{ids['beat']}")).json()
        assert beat["job"]["result"] == "'tick hb'"
        assert beat["last_runs"][-1]["result"] == "'tick hb'"


async def test_arguments_encrypted_at_rest_are_never_shown(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    pytest.importorskip("cryptography", reason="cryptography is not installed (the [crypto] extra)")
    from asyncron.stores import FunctionRegistry, Keyring, MemoryStore, StoreJournal

    registry = FunctionRegistry()
    registry.register("tick", tick)
    keyring = Keyring({"k1": os.urandom(32)})
    # only_named: jobs without function_name= stay in memory, unencrypted (and are shown)
    journal = StoreJournal(MemoryStore(), registry=registry, keyring=keyring, only_named=True)
    scheduler = AsyncScheduler(store=journal)
    async with _serve(_app(scheduler, show_arguments=True)) as client:
        secret = await scheduler.schedule(
            tick, name="secret", trigger=0.02, args=("card 4111",), function_name="tick"
        )
        plain = await scheduler.schedule(tick, name="plain", trigger=3600, args=("visible",))
        await wait_for(lambda: (scheduler.get_job_nowait(secret) or job_vanished()).run_count >= 1)
        body = (await client.get("/scheduler/api/jobs")).json()
        by_name = {j["name"]: j for j in body["jobs"]}
        assert by_name["secret"]["arguments"] == "encrypted"
        assert by_name["secret"]["args"] is None and by_name["secret"]["result"] is None
        assert by_name["plain"]["args"] == ["'visible'"]
        detail = (await client.get(f"/scheduler/api/jobs/{secret}")).text
        assert "4111" not in detail
        assert (await client.get(f"/scheduler/api/jobs/{plain}")).json()["job"][
            "arguments"
        ] == "shown"


async def test_statistics_timeline_and_openapi(wait_for: Callable[..., Awaitable[None]]) -> None:
    scheduler, ids = await _scheduler_with_jobs()
    async with _serve(_app(scheduler)) as client:
        await wait_for(lambda: scheduler.statistics().fires >= 3)
        stats = (await client.get("/scheduler/api/stats")).json()
        assert stats["jobs"] == 3 and stats["fires"] >= 3 and stats["failures"] >= 1
        # the two 20 ms jobs may be in a run at the instant of the snapshot
        by_status = stats["jobs_by_status"]
        assert by_status["pending"] + by_status["running"] == 3 and by_status["pending"] >= 1
        assert stats["lateness_p50"] is not None

        timeline = (await client.get("/scheduler/api/timeline", params={"hours": 1})).json()
        lanes = {lane["id"]: lane for lane in timeline["jobs"]}
        assert ids["report"] not in lanes or all(
            "T03:00" in f for f in lanes[ids["report"]]["fires"]
        )
        assert lanes[ids["beat"]]["truncated"] is True and len(lanes[ids["beat"]]["fires"]) == 120
        day = (await client.get("/scheduler/api/timeline", params={"hours": 24})).json()
        assert ids["report"] in {lane["id"] for lane in day["jobs"]}
        assert (
            await client.get("/scheduler/api/timeline", params={"hours": "-1"})
        ).status_code == 400

        spec = (await client.get("/scheduler/openapi.json")).json()
        assert spec["openapi"].startswith("3.")
        assert spec["servers"] == [{"url": "/scheduler"}]
        for path in (
            "/api/jobs",
            "/api/jobs/{job_id}",
            "/api/jobs/{job_id}/pause",
            "/api/jobs/{job_id}/resume",
            "/api/jobs/{job_id}/run",
            "/api/jobs/{job_id}/cancel",
            "/api/stats",
            "/api/events",
            "/api/timeline",
        ):
            assert path in spec["paths"], path
        assert "RunFailed" in spec["paths"]["/api/events"]["get"]["x-event-types"]


async def test_page_and_assets_are_served_with_a_strict_policy() -> None:
    scheduler, _ = await _scheduler_with_jobs()
    async with _serve(_app(scheduler)) as client:
        redirect = await client.get("/scheduler")
        assert redirect.status_code == 307 and redirect.headers["location"].endswith("/scheduler/")
        page = await client.get("/scheduler/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-frame-options"] == "DENY"
        token = client.cookies[CSRF_COOKIE]
        assert f'<meta name="asyncron-csrf" content="{token}">' in page.text
        assert 'data-base="/scheduler/"' in page.text
        assert 'src="/scheduler/static/dashboard.js"' in page.text
        assert "httponly" in page.headers["set-cookie"].lower()
        assert "samesite=strict" in page.headers["set-cookie"].lower()
        assert "path=/scheduler/" in page.headers["set-cookie"].lower()
        # the token is kept across loads, so two tabs do not invalidate each other
        await client.get("/scheduler/")
        assert client.cookies[CSRF_COOKIE] == token
        js = await client.get("/scheduler/static/dashboard.js")
        assert js.headers["content-type"].startswith("text/javascript")
        css = await client.get("/scheduler/static/dashboard.css")
        assert css.status_code == 200 and "--accent" in css.text
        for bad in ("..%2F_core.py", "_core.py", "index.html", ".hidden.js", "nope.js"):
            assert (await client.get(f"/scheduler/static/{bad}")).status_code == 404, bad


async def test_mounts_in_a_plain_starlette_app_and_nothing_is_served_unless_mounted() -> None:
    scheduler, _ = await _scheduler_with_jobs()
    app = Starlette(lifespan=asyncron_lifespan(scheduler))
    async with _serve(app) as client:
        assert (await client.get("/scheduler/api/jobs")).status_code == 404
    app.mount("/ops/jobs", create_dashboard(scheduler, title="ops"))
    async with _serve(app) as client:
        body = (await client.get("/ops/jobs/api/jobs")).json()
        assert body["total"] == 3
        page = await client.get("/ops/jobs/")
        assert 'data-base="/ops/jobs/"' in page.text and "<title>ops</title>" in page.text


async def test_configuration_errors_are_reported_at_once() -> None:
    scheduler = AsyncScheduler()
    with pytest.raises(TypeError, match="create_dashboard: expected an AsyncScheduler, got str"):
        create_dashboard("scheduler")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="auth: expected a callable"):
        create_dashboard(scheduler, auth="admin")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="allow_unauthenticated_actions=True has no meaning"):
        create_dashboard(scheduler, auth=lambda r: True, allow_unauthenticated_actions=True)


async def test_unresolved_jobs_are_listed_but_cannot_be_steered(tmp_path: Any) -> None:
    from asyncron.stores import FunctionRegistry, JsonFileStore, StoreJournal

    registry = FunctionRegistry()
    registry.register("tick", tick)
    path = tmp_path / "jobs.json"
    async with AsyncScheduler(store=StoreJournal(JsonFileStore(path), registry=registry)) as first:
        job_id = await first.schedule(tick, trigger=3600, args=("x",), function_name="tick")
    scheduler = AsyncScheduler(store=StoreJournal(JsonFileStore(path), registry=FunctionRegistry()))
    async with _serve(_app(scheduler, allow_unauthenticated_actions=True)) as client:
        listed = (await client.get("/scheduler/api/jobs", params={"status": "unresolved"})).json()
        assert [j["id"] for j in listed["jobs"]] == [job_id]
        assert listed["jobs"][0]["arguments"] == "hidden"
        detail = (await client.get(f"/scheduler/api/jobs/{job_id}")).json()
        assert detail["job"]["status"] == "unresolved" and detail["next_fires"] == []
        headers = await _csrf(client)
        refused = await client.post(f"/scheduler/api/jobs/{job_id}/pause", headers=headers)
        assert refused.status_code == 409 and "unresolved" in refused.json()["error"]
