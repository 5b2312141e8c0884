"""The dashboard's framework-neutral core: what each endpoint answers, and the security checks.

The Starlette app (:mod:`asyncron.dashboard._starlette`) and the aiohttp adapter
(:mod:`asyncron.dashboard.aiohttp`) only translate their framework's request into the plain
values these methods take, and a :class:`Reply` back into a response. Everything the API shows
comes from the engine's public API (``list_jobs``, ``describe``, ``statistics``, ``subscribe``),
so it works on every store; with the PostgreSQL store the view is the cluster's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
import math
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from html import escape
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from .. import events as ev
from .._core._hooks import hooks_of
from .._model import Job, JobStatus, RunRecord, SchedulerStatistics
from .._scheduler import AsyncScheduler
from ..errors import JobLookupError, JobStateError
from ._openapi import openapi_document

__all__ = [
    "ACTIONS",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "AuthHook",
    "DashboardCore",
    "Reply",
]

logger = logging.getLogger("asyncron.dashboard")

#: The header every action must carry, holding the token from the page (or ``GET api/csrf``).
CSRF_HEADER = "X-Asyncron-CSRF"
#: The cookie holding the same token (double-submit: a cross-site page can read neither).
CSRF_COOKIE = "asyncron_csrf"

#: ``auth(request) -> bool`` or an awaitable of it; the request is the framework's own.
AuthHook = Callable[[Any], "bool | Awaitable[bool]"]

ACTIONS = ("pause", "resume", "run", "cancel")
_STATUSES = tuple(s.value for s in JobStatus)
_EVENT_TYPES: dict[str, type[ev.Event]] = {
    name: getattr(ev, name)
    for name in ev.__all__
    if isinstance(getattr(ev, name), type)
    and issubclass(getattr(ev, name), ev.Event)
    and getattr(ev, name) not in (ev.Event, ev.JobEvent)
}
_REPR_LIMIT = 200
_STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
#: Sent with every response: no caching of job data, no MIME sniffing.
BASE_HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
#: Sent with the page: no inline script or style, no framing (clickjacking), same-origin only.
PAGE_HEADERS: dict[str, str] = {
    **BASE_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True, slots=True)
class Reply:
    """A framework-neutral response: JSON (``body`` is a value) or raw bytes (``raw``)."""

    status: int
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body, separators=(",", ":"), default=str).encode("utf-8")


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the page
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    if len(text) > _REPR_LIMIT:
        text = text[: _REPR_LIMIT - 1] + "…"
    return text


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 6)


def _trigger(job: Job) -> dict[str, Any] | None:
    trig = job.trigger
    if trig is None:
        return None
    kind = type(trig).__name__.removesuffix("Trigger").lower() or type(trig).__name__
    doc: dict[str, Any] = {"type": kind, "description": str(trig), "repr": repr(trig)}
    expression = getattr(trig, "expression", None)
    if isinstance(expression, str):
        doc["expression"] = expression
    tz = getattr(trig, "timezone", None)
    if tz is not None and kind == "cron":
        doc["timezone"] = str(getattr(tz, "key", tz))
    return doc


def _options(job: Job) -> dict[str, Any] | None:
    opts = job.options
    if opts is None:
        return None
    return {
        "overlap": opts.overlap,
        "max_instances": opts.max_instances,
        "retries": opts.retries,
        "timeout": opts.timeout,
        "jitter": opts.jitter,
        "misfire_grace_time": opts.misfire_grace_time,
        "history": opts.history,
    }


class _Gate:
    """Whether values of a job (arguments, results) may be shown, and how."""

    def __init__(self, scheduler: AsyncScheduler, show: bool) -> None:
        self.show = show
        self.scheduler = scheduler

    def encrypted(self, job_id: str) -> bool:
        """True when the job's stored arguments and results are encrypted at rest.

        The engine holds them decrypted in memory (it must call the function); the dashboard
        never shows them, whatever ``show_arguments`` says, because whoever encrypted them
        decided they are secret.
        """
        journal = hooks_of(self.scheduler).journal
        if journal is None or getattr(journal, "keyring", None) is None:
            return False
        is_persisted = getattr(journal, "is_persisted", None)
        return bool(is_persisted(job_id)) if callable(is_persisted) else True


class DashboardCore:
    """The dashboard's logic, shared by every framework adapter.

    Args:
        scheduler: the engine to show and steer.
        auth: ``auth(request) -> bool`` (or awaitable); None: no authentication.
        allow_unauthenticated_actions: allow actions when ``auth`` is None.
        show_arguments: show job arguments and results (``repr``, truncated); never those
            encrypted at rest.
        title: the page title.
    """

    def __init__(
        self,
        scheduler: AsyncScheduler,
        *,
        auth: AuthHook | None = None,
        allow_unauthenticated_actions: bool = False,
        show_arguments: bool = False,
        title: str = "asyncron",
        keepalive: float = 15.0,
    ) -> None:
        if not isinstance(scheduler, AsyncScheduler):
            raise TypeError(
                f"create_dashboard: expected an AsyncScheduler, got {type(scheduler).__name__}"
            )
        if auth is not None and not callable(auth):
            raise TypeError(f"auth: expected a callable(request) -> bool, got {auth!r}")
        if auth is not None and allow_unauthenticated_actions:
            raise ValueError(
                "allow_unauthenticated_actions=True has no meaning with auth=...: "
                "actions then need auth to pass; pass one or the other"
            )
        self.scheduler = scheduler
        self.auth = auth
        self.allow_unauthenticated_actions = bool(allow_unauthenticated_actions)
        self.title = title
        self.keepalive = keepalive
        self._gate = _Gate(scheduler, bool(show_arguments))
        self._background: set[asyncio.Task[Any]] = set()
        self._static: dict[str, bytes] = {}
        self._names: frozenset[str] | None = None

    # -- security ------------------------------------------------------------------------------

    async def authenticate(self, request: object) -> bool | Reply:
        """Run the auth hook: True when it passes, False when it refuses, or the Reply to send
        when it raised an HTTP error of its own (e.g. a FastAPI ``HTTPException(401)``)."""
        if self.auth is None:
            return True
        try:
            result = self.auth(request)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
            if isinstance(status, int) and 400 <= status < 600:
                detail = getattr(exc, "detail", None) or getattr(exc, "reason", None) or str(exc)
                headers = {
                    str(k): str(v)
                    for k, v in dict(getattr(exc, "headers", None) or {}).items()
                    if str(k).lower() not in ("content-type", "content-length")
                }
                return Reply(status, {"error": str(detail)}, headers=headers)
            raise
        return bool(result)

    def may_act(self, authenticated: bool) -> bool:
        """Whether a request that passed (or, without a hook, skipped) auth may run actions."""
        if self.auth is None:
            return self.allow_unauthenticated_actions
        return authenticated

    @staticmethod
    def new_csrf_token() -> str:
        return secrets.token_urlsafe(32)

    @staticmethod
    def check_csrf(
        headers: Mapping[str, str], cookie: str | None, host: str | None, scheme: str
    ) -> str | None:
        """None when an action request is safe from cross-site forgery, else why it is not.

        Three independent checks (OWASP's "custom request header" and "double-submit cookie"
        patterns plus an origin check): the ``X-Asyncron-CSRF`` header must equal the
        ``asyncron_csrf`` cookie, which only a same-origin page can read from the dashboard
        page (a cross-site page cannot send a custom header without a CORS preflight, which
        the dashboard never grants); and the ``Origin`` (or ``Sec-Fetch-Site``) the browser
        sends must be this host.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        token = lowered.get(CSRF_HEADER.lower())
        if not token:
            return f"missing {CSRF_HEADER} header (get the token from GET api/csrf)"
        if not cookie or not secrets.compare_digest(token.encode(), cookie.encode()):
            return f"{CSRF_HEADER} header does not match the {CSRF_COOKIE} cookie"
        fetch_site = lowered.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return f"cross-site request refused (Sec-Fetch-Site: {fetch_site})"
        origin = lowered.get("origin")
        if origin is not None and origin != "null" and host is not None:
            parts = urlsplit(origin)
            if parts.netloc.lower() != host.lower():
                return f"cross-origin request refused (Origin {origin} is not {scheme}://{host})"
        elif origin == "null":
            return "cross-origin request refused (Origin: null)"
        return None

    # -- serialisation -------------------------------------------------------------------------

    def job_doc(self, job: Job) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": job.id,
            "name": job.name,
            "status": job.status.value,
            "func": job.func_name,
            "trigger": _trigger(job),
            "next_run": _iso(job.next_run),
            "last_run": _iso(job.last_run),
            "run_count": job.run_count,
            "max_runs": job.max_runs,
            "failure_count": job.failure_count,
            "skipped_fires": job.skipped_fires,
            "buffered_fires": job.buffered_fires,
            "error": job.error,
            "traceback": job.traceback,
            "progress": job.progress,
            "depends_on": list(job.depends_on),
            "skipped_because": job.skipped_because,
            "options": _options(job),
        }
        doc.update(self._values(job))
        return doc

    def _values(self, job: Job) -> dict[str, Any]:
        if job.status is JobStatus.UNRESOLVED or self._gate.encrypted(job.id):
            return {
                "arguments": "encrypted" if job.status is not JobStatus.UNRESOLVED else "hidden",
                "args": None,
                "kwargs": None,
                "result": None,
            }
        if not self._gate.show:
            return {"arguments": "hidden", "args": None, "kwargs": None, "result": None}
        return {
            "arguments": "shown",
            "args": [_short_repr(a) for a in job.args],
            "kwargs": {str(k): _short_repr(v) for k, v in job.kwargs.items()},
            "result": None if job.result is None else _short_repr(job.result),
        }

    def run_doc(self, run: RunRecord, show_result: bool) -> dict[str, Any]:
        return {
            "scheduled_at": _iso(run.scheduled_at),
            "started_at": _iso(run.started_at),
            "ended_at": _iso(run.ended_at),
            "attempt": run.attempt,
            "outcome": run.outcome,
            "duration": _number(run.duration),
            "lateness": _number(run.lateness),
            "error": run.error,
            "result": _short_repr(run.result) if show_result and run.result is not None else None,
        }

    @staticmethod
    def stats_doc(stats: SchedulerStatistics) -> dict[str, Any]:
        doc = {f.name: getattr(stats, f.name) for f in dataclasses.fields(stats)}
        doc["jobs_by_status"] = dict(stats.jobs_by_status)
        for key in ("lateness_p50", "lateness_p99", "lateness_max"):
            doc[key] = _number(doc[key])
        return doc

    def event_doc(self, event: ev.Event) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": type(event).__name__}
        for f in dataclasses.fields(event):
            if f.name in ("exception", "traceback"):  # the error text says it; no frames
                continue
            value = getattr(event, f.name)
            if f.name == "result":
                job_id = getattr(event, "job_id", "")
                shown = self._gate.show and not self._gate.encrypted(job_id)
                value = _short_repr(value) if shown and value is not None else None
            elif isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, float):
                value = _number(value)
            elif isinstance(value, Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            doc[f.name] = value
        return doc

    # -- endpoints -----------------------------------------------------------------------------

    def info(self, may_act: bool) -> Reply:
        return Reply(
            200,
            {
                "title": self.title,
                "actions_allowed": may_act,
                "authentication": self.auth is not None,
                "show_arguments": self._gate.show,
                "running": self.scheduler.running,
                "statuses": list(_STATUSES),
            },
        )

    async def list_jobs(self, query: Mapping[str, str]) -> Reply:
        status = query.get("status") or None
        if status is not None and status not in _STATUSES:
            return _error(
                400, f"status: unknown status {status!r}; allowed: {', '.join(_STATUSES)}"
            )
        try:
            limit = int(query.get("limit", "1000"))
            offset = int(query.get("offset", "0"))
        except ValueError:
            return _error(400, "limit and offset: expected integers")
        if limit < 1 or limit > 10_000 or offset < 0:
            return _error(400, "limit: expected 1..10000; offset: expected >= 0")
        needle = (query.get("name") or "").casefold()
        jobs = await self.scheduler.list_jobs(status)
        if needle:
            jobs = [j for j in jobs if needle in j.name.casefold()]
        page = jobs[offset : offset + limit]
        return Reply(200, {"total": len(jobs), "jobs": [self.job_doc(j) for j in page]})

    async def job_detail(self, job_id: str, query: Mapping[str, str]) -> Reply:
        try:
            fires = int(query.get("fires", "10"))
            runs = int(query.get("runs", "50"))
        except ValueError:
            return _error(400, "fires and runs: expected integers")
        if not (0 <= fires <= 1000 and 0 <= runs <= 1000):
            return _error(400, "fires and runs: expected 0..1000")
        job = await self.scheduler.get_job(job_id)
        if job is None:
            # ids may hold "/": a GET of "<id>/pause" is job "<id>/pause" when there is one,
            # else a GET on job <id>'s action, which must be a POST
            owner, _, action = job_id.rpartition("/")
            if action in ACTIONS and await self.scheduler.get_job(owner) is not None:
                return Reply(
                    405,
                    {"error": f"{action} is an action on job {owner!r}: send it as a POST"},
                    headers={"Allow": "POST"},
                )
            return _error(404, f"no job with id {job_id!r}")
        if job.status is JobStatus.UNRESOLVED:
            return Reply(200, {"job": self.job_doc(job), "next_fires": [], "last_runs": []})
        try:
            desc = await self.scheduler.describe(job_id, fires=fires, runs=runs)
        except JobLookupError:
            return _error(404, f"no job with id {job_id!r}")
        show_result = self._gate.show and not self._gate.encrypted(job_id)
        return Reply(
            200,
            {
                "job": self.job_doc(desc.job),
                "next_fires": [t.isoformat() for t in desc.next_fires],
                "last_runs": [self.run_doc(r, show_result) for r in desc.last_runs],
            },
        )

    async def timeline(self, query: Mapping[str, str]) -> Reply:
        """Upcoming fires of every job within the next ``hours`` (at most ``per_job`` each)."""
        try:
            hours = float(query.get("hours", "1"))
            per_job = int(query.get("per_job", "120"))
        except ValueError:
            return _error(400, "hours and per_job: expected numbers")
        if not (0 < hours <= 24 * 31) or not (1 <= per_job <= 1000):
            return _error(400, "hours: expected 0 < hours <= 744; per_job: expected 1..1000")
        now = self.scheduler.clock.now()
        horizon = now.timestamp() + hours * 3600
        lanes: list[dict[str, Any]] = []
        for job in await self.scheduler.list_jobs():
            if job.status.is_final or job.status is JobStatus.UNRESOLVED or job.next_run is None:
                continue
            if job.next_run.timestamp() > horizon:
                continue
            try:
                desc = await self.scheduler.describe(job.id, fires=per_job + 1, runs=0)
            except JobLookupError:
                continue
            fires = [t for t in desc.next_fires if t.timestamp() <= horizon]
            lanes.append(
                {
                    "id": job.id,
                    "name": job.name,
                    "status": job.status.value,
                    "fires": [t.isoformat() for t in fires[:per_job]],
                    "truncated": len(fires) > per_job,
                }
            )
        return Reply(
            200,
            {
                "now": now.isoformat(),
                "until": datetime.fromtimestamp(horizon, now.tzinfo).isoformat(),
                "jobs": lanes,
            },
        )

    def statistics(self) -> Reply:
        return Reply(200, self.stats_doc(self.scheduler.statistics()))

    async def action(self, job_id: str, action: str) -> Reply:
        """Run an action (the caller has checked auth and CSRF)."""
        if action not in ACTIONS:
            return _error(404, f"unknown action {action!r}; allowed: {', '.join(ACTIONS)}")
        job = await self.scheduler.get_job(job_id)
        if job is None:
            return _error(404, f"no job with id {job_id!r}")
        if job.status is JobStatus.UNRESOLVED:
            return _error(409, f"job {job_id!r} is unresolved ({job.error}); it cannot be steered")
        try:
            if action == "pause":
                changed = await self.scheduler.pause(job_id)
            elif action == "resume":
                changed = await self.scheduler.resume(job_id)
            elif action == "cancel":
                changed = await self.scheduler.cancel(job_id)
            else:
                if job.status is JobStatus.CANCELLED:
                    return _error(409, f"job {job_id!r} ({job.name}) was cancelled; it cannot run")
                self._run_in_background(job_id)
                changed = True
        except JobLookupError:
            return _error(404, f"no job with id {job_id!r}")
        except JobStateError as exc:
            return _error(409, str(exc))
        logger.info("dashboard: %s job %r (%s) -> %s", action, job.name, job_id, changed)
        after = await self.scheduler.get_job(job_id)
        status = 202 if action == "run" else 200
        return Reply(
            status, {"changed": changed, "job": self.job_doc(after) if after is not None else None}
        )

    def _run_in_background(self, job_id: str) -> None:
        # run_now() waits for the run and re-raises its error; the run's outcome is recorded
        # on the job and logged by the engine, so the request returns at once (202).
        async def run() -> None:
            try:
                await self.scheduler.run_now(job_id)
            except Exception:
                pass

        task = asyncio.get_running_loop().create_task(
            run(), name=f"asyncron-dashboard-run-{job_id}"
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def openapi(self, base: str) -> Reply:
        return Reply(200, openapi_document(base, sorted(_EVENT_TYPES), _STATUSES))

    async def event_stream(self, query: Mapping[str, str]) -> AsyncGenerator[bytes, None]:
        """Server-sent events: one ``event: <Type>`` per scheduler event, a comment every
        ``keepalive`` seconds, ``dropped`` when this client fell behind; the stream ends with
        ``SchedulerStopped`` (sent whatever ``types`` asks for) when the scheduler stops, and
        the browser's EventSource then reconnects by itself."""
        wanted: list[type[ev.Event]] = []
        for name in filter(None, (query.get("types") or "").split(",")):
            kind = _EVENT_TYPES.get(name.strip())
            if kind is None:
                raise ValueError(
                    f"types: unknown event type {name!r}; allowed: {', '.join(sorted(_EVENT_TYPES))}"
                )
            wanted.append(kind)
        queue: asyncio.Queue[ev.Event] = asyncio.Queue(maxsize=1000)
        dropped = 0

        async def push(event: ev.Event) -> None:  # on the loop (asyncio.Queue)
            nonlocal dropped
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                dropped += 1

        # always watch SchedulerStopped, so the stream ends with the scheduler
        types = [*wanted, ev.SchedulerStopped] if wanted else None
        sub = self.scheduler.subscribe(push, types)
        try:
            yield b"retry: 3000\n: asyncron events\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), self.keepalive)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if dropped:
                    yield f"event: dropped\ndata: {json.dumps({'count': dropped})}\n\n".encode()
                    dropped = 0
                stopped = isinstance(event, ev.SchedulerStopped)
                if stopped or not wanted or isinstance(event, tuple(wanted)):
                    data = json.dumps(self.event_doc(event), default=str)
                    yield f"event: {type(event).__name__}\ndata: {data}\n\n".encode()
                if stopped:
                    return
        finally:
            await sub.aclose()

    def validate_event_types(self, query: Mapping[str, str]) -> Reply | None:
        for name in filter(None, (query.get("types") or "").split(",")):
            if name.strip() not in _EVENT_TYPES:
                return _error(
                    400,
                    f"types: unknown event type {name!r}; allowed: {', '.join(sorted(_EVENT_TYPES))}",
                )
        return None

    # -- page and assets -----------------------------------------------------------------------

    def _asset(self, name: str) -> bytes:
        data = self._static.get(name)
        if data is None:
            data = resources.files(__package__).joinpath("static", name).read_bytes()
            self._static[name] = data
        return data

    def page(self, base: str, csrf_token: str) -> Reply:
        """The dashboard page; ``base`` is the mount's URL path ending in ``/``."""
        html = self._asset("index.html").decode("utf-8")
        html = (
            html.replace("{{BASE}}", escape(base, quote=True))
            .replace("{{CSRF}}", escape(csrf_token, quote=True))
            .replace("{{TITLE}}", escape(self.title))
        )
        return Reply(
            200,
            raw=html.encode("utf-8"),
            content_type="text/html; charset=utf-8",
            headers=PAGE_HEADERS,
        )

    def static(self, name: str) -> Reply:
        """One of the packaged assets, by its plain file name; anything else is a 404 (a path,
        a NUL byte, a 5,000-character name, ``index.html``), never a server error."""
        kind = next((t for ext, t in _STATIC_TYPES.items() if name.endswith(ext)), None)
        if kind is None or name == "index.html" or name not in self._asset_names():
            return _error(404, f"no asset {_short_repr(name)}")
        try:
            data = self._asset(name)
        except OSError:
            return _error(404, f"no asset {_short_repr(name)}")
        return Reply(
            200,
            raw=data,
            content_type=kind,
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    def _asset_names(self) -> frozenset[str]:
        """The packaged asset files: a request names one of them or nothing (no path is ever
        built from a request)."""
        names = self._names
        if names is None:
            folder = resources.files(__package__).joinpath("static")
            names = self._names = frozenset(
                entry.name for entry in folder.iterdir() if entry.is_file()
            )
        return names
