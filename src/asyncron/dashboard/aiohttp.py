"""The dashboard and admin API in an aiohttp app: :func:`setup_dashboard`.

.. code-block:: python

    app = web.Application()
    setup_scheduler(app, scheduler)                     # asyncron.integrations.aiohttp
    setup_dashboard(app, scheduler, prefix="/scheduler", auth=is_admin)

The same core as the ASGI app (:func:`asyncron.dashboard.create_dashboard`) answers every
request; this module only adapts aiohttp's requests and responses to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

try:
    from aiohttp import web
except ImportError as exc:  # pragma: no cover - exercised only without aiohttp
    raise ImportError("asyncron.dashboard.aiohttp needs aiohttp: pip install aiohttp") from exc

from .._scheduler import AsyncScheduler
from ._core import BASE_HEADERS, CSRF_COOKIE, AuthHook, DashboardCore, Reply

__all__ = ["DASHBOARD_KEY", "setup_dashboard"]

#: The sub-application's key holding the dashboard core (for tests and introspection).
DASHBOARD_KEY: web.AppKey[DashboardCore] = web.AppKey("asyncron_dashboard", DashboardCore)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _respond(reply: Reply) -> web.Response:
    headers = dict(BASE_HEADERS)
    headers.update(reply.headers)
    content_type, _, params = reply.content_type.partition(";")
    charset = params.split("=", 1)[1].strip() if "charset=" in params else None
    return web.Response(
        body=reply.encode(),
        status=reply.status,
        content_type=content_type.strip(),
        charset=charset,
        headers=headers,
    )


def setup_dashboard(
    app: web.Application,
    scheduler: AsyncScheduler,
    *,
    prefix: str = "/scheduler",
    auth: AuthHook | None = None,
    allow_unauthenticated_actions: bool = False,
    show_arguments: bool = False,
    title: str = "asyncron",
) -> web.Application:
    """Serve the dashboard and admin API under ``prefix`` in ``app`` (a sub-application).

    Call it while building the app. The options are those of
    :func:`asyncron.dashboard.create_dashboard`; ``auth`` is called with the
    ``aiohttp.web.Request`` and may also raise an ``aiohttp.web.HTTPException`` (its status
    and headers are sent). Returns the sub-application.

    Raises:
        TypeError: ``scheduler`` is not an AsyncScheduler or ``auth`` is not callable.
        ValueError: ``prefix`` does not start with ``/``, or both ``auth`` and
            ``allow_unauthenticated_actions=True`` were given.
        RuntimeError: the app is already frozen (started).
    """
    if not prefix.startswith("/") or prefix.endswith("/"):
        raise ValueError(f"prefix: expected a path like '/scheduler', got {prefix!r}")
    core = DashboardCore(
        scheduler,
        auth=auth,
        allow_unauthenticated_actions=allow_unauthenticated_actions,
        show_arguments=show_arguments,
        title=title,
    )
    base = prefix + "/"

    def guarded(
        handler: Callable[[web.Request, bool], Awaitable[web.StreamResponse]],
    ) -> _Handler:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            verdict = await core.authenticate(request)
            if isinstance(verdict, Reply):
                return _respond(verdict)
            if not verdict:
                return _respond(Reply(403, {"error": "authentication required"}))
            return await handler(request, core.may_act(verdict))

        return endpoint

    def with_cookie(response: web.Response, request: web.Request, token: str) -> web.Response:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            path=base,
            httponly=True,
            samesite="Strict",
            secure=request.scheme == "https",
        )
        return response

    def token_for(request: web.Request) -> str:
        return request.cookies.get(CSRF_COOKIE) or core.new_csrf_token()

    async def page(request: web.Request, may_act: bool) -> web.StreamResponse:
        token = token_for(request)
        return with_cookie(_respond(core.page(base, token)), request, token)

    async def csrf(request: web.Request, may_act: bool) -> web.StreamResponse:
        token = token_for(request)
        return with_cookie(_respond(Reply(200, {"token": token})), request, token)

    async def info(request: web.Request, may_act: bool) -> web.StreamResponse:
        return _respond(core.info(may_act))

    async def jobs(request: web.Request, may_act: bool) -> web.StreamResponse:
        return _respond(await core.list_jobs(request.query))

    async def job(request: web.Request, may_act: bool) -> web.StreamResponse:
        return _respond(await core.job_detail(request.match_info["job_id"], request.query))

    async def timeline(request: web.Request, may_act: bool) -> web.StreamResponse:
        return _respond(await core.timeline(request.query))

    async def stats(request: web.Request, may_act: bool) -> web.StreamResponse:
        return _respond(core.statistics())

    async def openapi(request: web.Request, may_act: bool) -> web.StreamResponse:
        return _respond(core.openapi(base))

    async def events(request: web.Request, may_act: bool) -> web.StreamResponse:
        bad = core.validate_event_types(request.query)
        if bad is not None:
            return _respond(bad)
        response = web.StreamResponse(
            headers={**BASE_HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        stream = core.event_stream(request.query)
        try:
            async for chunk in stream:
                await response.write(chunk)
        except (ConnectionResetError, ConnectionError):
            pass  # the client went away
        finally:
            await stream.aclose()
        return response

    async def action(request: web.Request, may_act: bool) -> web.StreamResponse:
        if not may_act:
            why = (
                "actions are disabled: pass auth=... to setup_dashboard (or, at your own risk, "
                "allow_unauthenticated_actions=True)"
                if core.auth is None
                else "authentication required"
            )
            return _respond(Reply(403, {"error": why}))
        problem = core.check_csrf(
            request.headers, request.cookies.get(CSRF_COOKIE), request.host, request.scheme
        )
        if problem is not None:
            return _respond(Reply(403, {"error": f"CSRF check failed: {problem}"}))
        return _respond(
            await core.action(request.match_info["job_id"], request.match_info["action"])
        )

    async def static(request: web.Request) -> web.StreamResponse:
        return _respond(core.static(request.match_info["name"]))

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect(base)

    sub = web.Application()
    sub[DASHBOARD_KEY] = core
    routes: list[Any] = [
        web.get("/", guarded(page)),
        web.get("/static/{name:.*}", static),  # any name reaches core.static, which 404s it
        web.get("/openapi.json", guarded(openapi)),
        web.get("/api/info", guarded(info)),
        web.get("/api/csrf", guarded(csrf)),
        web.get("/api/jobs", guarded(jobs)),
        # a job id may hold "/" (sent as %2F); an action is the last segment
        web.get("/api/jobs/{job_id:.+}", guarded(job)),
        web.post("/api/jobs/{job_id:.+}/{action:[^/]+}", guarded(action)),
        web.get("/api/timeline", guarded(timeline)),
        web.get("/api/stats", guarded(stats)),
        web.get("/api/events", guarded(events)),
    ]
    sub.add_routes(routes)
    app.router.add_get(prefix, redirect)  # before the sub-app, which would answer 404
    app.add_subapp(prefix, sub)
    return sub
