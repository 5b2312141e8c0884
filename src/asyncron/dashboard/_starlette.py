"""The dashboard as an ASGI app (Starlette), for ``app.mount(path, create_dashboard(...))``.

FastAPI apps are Starlette apps, so the same mount serves both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from .._scheduler import AsyncScheduler
from ._core import BASE_HEADERS, CSRF_COOKIE, AuthHook, DashboardCore, Reply

__all__ = ["create_dashboard"]


def _base(request: Request) -> str:
    """The mount's URL path, ending in ``/`` (``/scheduler/``), as the browser sees it."""
    root = str(request.scope.get("root_path", ""))
    return root.rstrip("/") + "/"


def _respond(reply: Reply) -> Response:
    headers = dict(BASE_HEADERS)
    headers.update(reply.headers)
    return Response(
        reply.encode(), status_code=reply.status, media_type=reply.content_type, headers=headers
    )


def create_dashboard(
    scheduler: AsyncScheduler,
    *,
    auth: AuthHook | None = None,
    allow_unauthenticated_actions: bool = False,
    show_arguments: bool = False,
    title: str = "asyncron",
) -> Starlette:
    """The dashboard and admin API as an ASGI app; mount it where you want it served::

        app.mount("/scheduler", create_dashboard(scheduler, auth=is_admin))

    Nothing is exposed until it is mounted. The app does not start the scheduler: run that
    with the app's own lifespan (:func:`asyncron.integrations.starlette.asyncron_lifespan`).

    Args:
        scheduler: the scheduler to show and steer (it must run on the server's loop).
        auth: ``auth(request) -> bool`` or ``async def``, called with the Starlette request for
            every page, API call and event stream; False means 403. It may also raise an
            ``HTTPException`` (FastAPI's or Starlette's), whose status and headers are sent
            (e.g. 401 with ``WWW-Authenticate``). Without it the page and reads are open
            (mount it behind your own middleware) and actions are refused...
        allow_unauthenticated_actions: ...unless this is True (only without ``auth``).
        show_arguments: show job arguments and results (their ``repr``, truncated). Off by
            default, as they may hold secrets; arguments encrypted at rest are never shown.
        title: the page title.

    Actions (pause, resume, run now, cancel) are POSTs that must also pass the CSRF check
    (see docs/dashboard.md).

    Raises:
        TypeError: ``scheduler`` is not an AsyncScheduler or ``auth`` is not callable.
        ValueError: both ``auth`` and ``allow_unauthenticated_actions=True`` were given.
    """
    core = DashboardCore(
        scheduler,
        auth=auth,
        allow_unauthenticated_actions=allow_unauthenticated_actions,
        show_arguments=show_arguments,
        title=title,
    )

    def guarded(
        handler: Callable[[Request, bool], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            verdict = await core.authenticate(request)
            if isinstance(verdict, Reply):
                return _respond(verdict)
            if not verdict:
                return _respond(Reply(403, {"error": "authentication required"}))
            return await handler(request, core.may_act(verdict))

        return endpoint

    def token_for(request: Request) -> str:
        return request.cookies.get(CSRF_COOKIE) or core.new_csrf_token()

    async def page(request: Request, may_act: bool) -> Response:
        if not request.url.path.endswith("/"):
            return RedirectResponse(request.url.replace(path=request.url.path + "/"), 307)
        base = _base(request)
        token = token_for(request)
        return _cookie(_respond(core.page(base, token)), request, token)

    def _cookie(response: Response, request: Request, token: str) -> Response:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            path=_base(request),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def csrf(request: Request, may_act: bool) -> Response:
        token = token_for(request)
        return _cookie(_respond(Reply(200, {"token": token})), request, token)

    async def info(request: Request, may_act: bool) -> Response:
        return _respond(core.info(may_act))

    async def jobs(request: Request, may_act: bool) -> Response:
        return _respond(await core.list_jobs(request.query_params))

    async def job(request: Request, may_act: bool) -> Response:
        return _respond(await core.job_detail(request.path_params["job_id"], request.query_params))

    async def timeline(request: Request, may_act: bool) -> Response:
        return _respond(await core.timeline(request.query_params))

    async def stats(request: Request, may_act: bool) -> Response:
        return _respond(core.statistics())

    async def openapi(request: Request, may_act: bool) -> Response:
        return _respond(core.openapi(_base(request)))

    async def events(request: Request, may_act: bool) -> Response:
        bad = core.validate_event_types(request.query_params)
        if bad is not None:
            return _respond(bad)
        return StreamingResponse(
            core.event_stream(request.query_params),
            media_type="text/event-stream",
            headers={**BASE_HEADERS, "X-Accel-Buffering": "no"},
        )

    async def action(request: Request, may_act: bool) -> Response:
        if not may_act:
            why = (
                "actions are disabled: pass auth=... to create_dashboard (or, at your own risk, "
                "allow_unauthenticated_actions=True)"
                if core.auth is None
                else "authentication required"
            )
            return _respond(Reply(403, {"error": why}))
        problem = core.check_csrf(
            request.headers,
            request.cookies.get(CSRF_COOKIE),
            request.headers.get("host"),
            request.url.scheme,
        )
        if problem is not None:
            return _respond(Reply(403, {"error": f"CSRF check failed: {problem}"}))
        return _respond(
            await core.action(request.path_params["job_id"], request.path_params["action"])
        )

    async def static(request: Request) -> Response:
        return _respond(core.static(request.path_params["name"]))

    routes: list[Any] = [
        Route("/", guarded(page), methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/openapi.json", guarded(openapi), methods=["GET"]),
        Route("/api/info", guarded(info), methods=["GET"]),
        Route("/api/csrf", guarded(csrf), methods=["GET"]),
        Route("/api/jobs", guarded(jobs), methods=["GET"]),
        # ``:path``: a job id may hold "/" (sent as %2F, which the server decodes before
        # routing); an action is the last segment, so "a/b/pause" is job "a/b", action pause.
        Route("/api/jobs/{job_id:path}/{action}", guarded(action), methods=["POST"]),
        Route("/api/jobs/{job_id:path}", guarded(job), methods=["GET"]),
        Route("/api/timeline", guarded(timeline), methods=["GET"]),
        Route("/api/stats", guarded(stats), methods=["GET"]),
        Route("/api/events", guarded(events), methods=["GET"]),
    ]
    dashboard = Starlette(routes=routes)
    dashboard.state.dashboard = core
    return dashboard
