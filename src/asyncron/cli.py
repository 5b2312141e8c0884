"""The ``asyncron`` command.

Subcommands register themselves in :data:`SUBCOMMANDS`: a name mapped to a builder that adds
its arguments to an argparse sub-parser and returns the function that runs it.

* ``asyncron cron EXPR``: explain a cron expression and print its next fire times.
* ``asyncron demo``: the README demo.
* ``asyncron run module:attr``: run a scheduler (or a Starlette/FastAPI/aiohttp app's scheduler)
  until Ctrl-C or SIGTERM, with a live table on a terminal and log lines otherwise.
* ``asyncron jobs``, ``pause``, ``resume``, ``run-now`` (also ``run ID``), ``remove``: look at and
  change the jobs kept in a store (``--store URL``). ``jobs`` only reads: it opens a file store
  read-only and creates nothing (no lock file, no table, no journal-mode change). Every store
  command first checks, read-only, that the file is an asyncron store: another application's
  file is refused (exit code 2) and left byte for byte.

Exit codes: 0 success, 1 an error (one line on stderr; ``--debug`` adds the traceback), 2
invalid input (argparse's convention for usage errors; also a ``--store`` that is not an
asyncron store), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import re
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from .errors import SchedulerStateError

if TYPE_CHECKING:
    from ._scheduler import AsyncScheduler
    from .abc import Store, StoredJob
    from .stores.postgres import PostgresStore

__all__ = ["SUBCOMMANDS", "CommandError", "main"]

Runner = Callable[[argparse.Namespace, TextIO, TextIO], int]
Builder = Callable[[argparse.ArgumentParser], Runner]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A failure reported as one line (``asyncron CMD: error: ...``) with exit code 1."""


def _caret_lines(expression: str, position: int | None, token: str | None) -> list[str]:
    """The expression and a caret line under ``token`` (at ``position``), for error output."""
    if position is None or position < 0 or position > len(expression):
        return []
    width = max(1, len(token or ""))
    width = min(width, max(1, len(expression) - position))
    return [f"  {expression}", "  " + " " * position + "^" * width]


#: The most fire times ``asyncron cron -n`` prints (a typo such as -n 100000000 would otherwise
#: print for minutes).
CRON_MAX_COUNT = 10_000


def _build_cron(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("expression", help='cron expression, e.g. "0 9 * * 1-5" (quote it)')
    parser.add_argument(
        "--tz", dest="tz", default=None, help="IANA time zone (default: the local zone)"
    )
    parser.add_argument(
        "-n",
        dest="count",
        type=int,
        default=5,
        help=f"how many fire times to print (default 5, at most {CRON_MAX_COUNT:,})",
    )
    parser.add_argument(
        "--from", dest="start", default=None,
        help="ISO 8601 instant to count from (default: now; naive values use --tz)",
    )  # fmt: skip
    parser.add_argument(
        "--calendar", dest="calendar", default=None, metavar="CC[-SUB]",
        help="leave out weekends and the public holidays of a country (and region) or the "
        "closing days of a market, e.g. DE-HE, US-CA, XNYS; needs the holidays package "
        "(asyncron[calendars])",
    )  # fmt: skip
    parser.add_argument(
        "--shift", dest="shift", default="skip", choices=("skip", "next", "previous"),
        help="with --calendar: drop a fire on a non-business day (skip, default) or move it to "
        "the next or previous business day",
    )  # fmt: skip
    return _run_cron


def _run_cron(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._tz import resolve_zone
    from .abc import Trigger
    from .errors import CronParseError, InvalidTriggerError
    from .triggers.combinations import describe_trigger
    from .triggers.cron import CronTrigger

    expression: str = args.expression
    if not 0 <= args.count <= CRON_MAX_COUNT:
        err.write(
            f"asyncron cron: error: -n must be 0 to {CRON_MAX_COUNT:,} (fire times printed), "
            f"got {args.count}\n"
        )
        return EXIT_USAGE
    try:
        given = None if args.tz is None else resolve_zone(args.tz, field="--tz")
    except InvalidTriggerError as exc:
        err.write(f"asyncron cron: error: {exc}\n")
        return EXIT_USAGE
    try:
        trigger = CronTrigger.from_expression(expression, given)
    except CronParseError as exc:
        lines = [f"asyncron cron: error: {exc}"]
        lines += _caret_lines(expression, exc.position, exc.token)
        err.write("\n".join(lines) + "\n")
        return EXIT_USAGE
    except InvalidTriggerError as exc:
        err.write(f"asyncron cron: error: {exc}\n")
        return EXIT_USAGE
    shown: Trigger = trigger
    if args.calendar is not None:
        from .triggers.calendars import BusinessCalendar

        try:
            calendar = BusinessCalendar.from_spec(args.calendar)
        except (InvalidTriggerError, ModuleNotFoundError) as exc:
            err.write(f"asyncron cron: error: --calendar: {exc}\n")
            return EXIT_USAGE
        shown = trigger.exclude(calendar, shift=args.shift)
    elif args.shift != "skip":
        err.write("asyncron cron: error: --shift needs --calendar\n")
        return EXIT_USAGE
    start: datetime | None = None
    if args.start is not None:
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError:
            err.write(
                f"asyncron cron: error: --from {args.start!r} is not an ISO 8601 date-time; "
                "allowed e.g. 2025-03-30T01:00 or 2025-03-30T01:00+01:00\n"
            )
            return EXIT_USAGE
    zone = getattr(trigger.timezone, "key", None) or str(trigger.timezone)
    out.write(f"{describe_trigger(shown)} ({zone})\n")
    current = start
    for _ in range(args.count):
        fire = shown.get_next_run(current)
        if fire is None:
            out.write("(no more fire times)\n")
            break
        out.write(f"{fire.isoformat()}  {fire.strftime('%a')}\n")
        current = fire
    return EXIT_OK


# -- demo ----------------------------------------------------------------------------------------


def _build_demo(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument(
        "--duration", type=float, default=10.0, metavar="S",
        help="how long to run, in seconds (default 10)",
    )  # fmt: skip
    return _run_demo


def _run_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not args.duration > 0:
        err.write(f"asyncron demo: error: --duration must be > 0 seconds, got {args.duration}\n")
        return EXIT_USAGE
    from ._demo import run_demo

    def emit(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(args.duration, emit))
    return EXIT_OK


# -- loading user code ---------------------------------------------------------------------------

_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _load_target(spec: str) -> object:
    """Import ``module:attr`` (the working directory first on ``sys.path``, like uvicorn).

    Raises:
        CommandError: malformed spec, module or attribute not found, or the import failed.
    """
    if not _TARGET.match(spec):
        raise CommandError(
            f"{spec!r} is not a module:attribute reference; expected e.g. myapp.jobs:scheduler"
        )
    module_name, _, attr = spec.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise CommandError(
                f"cannot import {module_name!r}: no module named {exc.name!r} "
                f"(searched the working directory {cwd} and sys.path)"
            ) from exc
        raise CommandError(
            f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    except Exception as exc:
        raise CommandError(
            f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CommandError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _target_kind(obj: object) -> str:
    """ "scheduler", "asgi" (Starlette/FastAPI) or "aiohttp".

    Raises:
        CommandError: anything else.
    """
    from ._scheduler import AsyncScheduler

    if isinstance(obj, AsyncScheduler):
        return "scheduler"
    router = getattr(obj, "router", None)
    if router is not None and hasattr(router, "lifespan_context"):
        return "asgi"
    if type(obj).__module__.startswith("aiohttp"):
        return "aiohttp"
    raise CommandError(
        f"expected an AsyncScheduler, a Starlette/FastAPI app or an aiohttp Application, "
        f"got {type(obj).__module__}.{type(obj).__qualname__}"
    )


def _attach_store(scheduler: AsyncScheduler, url: str) -> None:
    """Give a not-yet-started scheduler without a store the store at ``url``.

    Raises:
        CommandError: the scheduler already has a store or is running.
    """
    try:
        scheduler.use_store(url)
    except SchedulerStateError as exc:
        raise CommandError(
            "--store: this scheduler already has a store (or is running); drop --store or "
            "create it as AsyncScheduler() without store="
        ) from exc


@contextlib.asynccontextmanager
async def _started(obj: object, kind: str, store: str | None) -> AsyncIterator[AsyncScheduler]:
    """Start the target (a scheduler, or an app with its startup code) and yield its scheduler;
    stop it gracefully on exit.

    Raises:
        CommandError: the app has no asyncron scheduler, or ``--store`` with an app.
    """
    from ._scheduler import AsyncScheduler

    if kind != "scheduler" and store is not None:
        raise CommandError(
            "--store works with a scheduler target only; for an app, create its scheduler with "
            "AsyncScheduler(store=...)"
        )
    if kind == "scheduler":
        assert isinstance(obj, AsyncScheduler)
        if store is not None:
            _attach_store(obj, store)
        await obj.start()
        try:
            yield obj
        finally:
            await obj.stop()
    elif kind == "asgi":
        app: Any = obj
        async with app.router.lifespan_context(app):
            scheduler = getattr(app.state, "scheduler", None)
            if not isinstance(scheduler, AsyncScheduler):
                raise CommandError(
                    "this app has no asyncron scheduler: create it with "
                    "lifespan=asyncron_lifespan(scheduler) (asyncron.integrations.starlette)"
                )
            yield scheduler
    else:
        from aiohttp import web

        from .integrations.aiohttp import SCHEDULER_KEY

        if not isinstance(obj, web.Application):
            raise CommandError(f"expected an aiohttp web.Application, got {type(obj).__name__}")
        found = obj.get(SCHEDULER_KEY)
        if found is None:
            raise CommandError(
                "this aiohttp app has no asyncron scheduler: call setup_scheduler(app, "
                "scheduler) (asyncron.integrations.aiohttp)"
            )
        runner = web.AppRunner(obj)
        await runner.setup()  # runs on_startup and cleanup_ctx, serves nothing
        try:
            yield found
        finally:
            await runner.cleanup()


# -- asyncron run --------------------------------------------------------------------------------


def _build_run(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument(
        "target",
        help="module:attribute naming an AsyncScheduler, a Starlette/FastAPI app using "
        "asyncron_lifespan, or an aiohttp app using setup_scheduler; "
        "or, with --store, a stored job's id to run now (same as run-now)",
    )
    parser.add_argument("--store", default=None, metavar="URL", help="store URL to use")
    parser.add_argument(
        "--plain", action="store_true", help="log lines even on a terminal (no live table)"
    )
    parser.add_argument(
        "--refresh", type=float, default=0.5, metavar="S",
        help="live table refresh period in seconds (default 0.5)",
    )  # fmt: skip
    return _run_run


def _run_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not _TARGET.match(args.target):
        if args.store is not None:  # `run ID --store URL`: the short form of run-now
            return _run_store_command("run-now", args, out, err)
        raise CommandError(
            f"{args.target!r} is not a module:attribute reference (e.g. myapp.jobs:scheduler); "
            f"to run the stored job {args.target!r} now, add --store URL"
        )
    obj = _load_target(args.target)
    kind = _target_kind(obj)
    live = out.isatty() and not args.plain
    return asyncio.run(_serve(obj, kind, args, out, live))


def _fmt_time(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _fmt_delta(seconds: float) -> str:
    if abs(seconds) < 1:
        return f"{seconds * 1000:.1f} ms"
    if abs(seconds) < 120:
        return f"{seconds:.1f} s"
    if abs(seconds) < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class _Ring(logging.Handler):
    """Keeps the last log lines for the live view (a log handler writing to the terminal would
    tear the table)."""

    def __init__(self, size: int = 6) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[str] = deque(maxlen=size)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record).splitlines()[0]  # the first line, not the traceback
        self.lines.append(text)


async def _rows(scheduler: AsyncScheduler, limit: int) -> tuple[list[list[str]], int]:
    """Table rows: id, name, status, next fire, last outcome, lateness, runs."""
    now = time.time()
    jobs = await scheduler.list_jobs()
    rows = []
    for job in jobs[:limit]:
        history = await scheduler.get_run_history(job.id)
        last = history[-1] if history else None
        if last is None:
            outcome, lateness = "-", "-"
        else:
            outcome = last.outcome if last.error is None else f"{last.outcome}: {last.error}"
            lateness = _fmt_delta((last.started_at - last.scheduled_at).total_seconds())
        if job.next_run is None:
            nxt = "-"
        else:
            nxt = f"{_fmt_time(job.next_run)} (in {_fmt_delta(job.next_run.timestamp() - now)})"
        rows.append(
            [job.id, job.name, job.status.value, nxt, outcome[:60], lateness, str(job.run_count)]
        )
    return rows, len(jobs)


_HEADERS = ["id", "name", "status", "next fire", "last outcome", "lateness", "runs"]


def _plain_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


async def _live_view(
    scheduler: AsyncScheduler, title: str, ring: _Ring, out: TextIO, period: float
) -> None:
    """Redraw the job table every ``period`` seconds until cancelled (rich if installed)."""
    import importlib.util

    if importlib.util.find_spec("rich") is not None:
        await _live_rich(scheduler, title, ring, out, period)
    else:
        await _live_plain(scheduler, title, ring, out, period)


async def _live_rich(
    scheduler: AsyncScheduler, title: str, ring: _Ring, out: TextIO, period: float
) -> None:
    from rich.console import Console, Group
    from rich.live import Live
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out)

    def render(rows: list[list[str]], total: int) -> Group:
        table = Table(title=title, caption="Ctrl-C to stop", expand=False)
        for header in _HEADERS:
            table.add_column(header, no_wrap=header != "last outcome")
        for row in rows:
            style = "red" if row[4].startswith(("failed", "timed_out")) else None
            table.add_row(*row, style=style)
        parts: list[Any] = [table]
        if total > len(rows):
            parts.append(Text(f"... and {total - len(rows)} more jobs"))
        parts += [Text(line, style="dim") for line in ring.lines]
        return Group(*parts)

    with Live(console=console, auto_refresh=False, transient=False) as live:
        while True:
            live.update(render(*await _rows(scheduler, 200)), refresh=True)
            await asyncio.sleep(period)


async def _live_plain(
    scheduler: AsyncScheduler, title: str, ring: _Ring, out: TextIO, period: float
) -> None:
    while True:
        rows, total = await _rows(scheduler, 200)
        text = f"{title}\n\n{_plain_table(_HEADERS, rows)}\n"
        if total > len(rows):
            text += f"... and {total - len(rows)} more jobs\n"
        text += "".join(f"{line}\n" for line in ring.lines)
        out.write("\x1b[H\x1b[2J" + text + "\nCtrl-C to stop\n")
        out.flush()
        await asyncio.sleep(period)


def _event_line(event: Any) -> str | None:
    """One log line per job event (``asyncron run`` without a terminal)."""
    from . import _events as ev

    stamp = event.timestamp.astimezone(UTC).isoformat(timespec="milliseconds")
    if not isinstance(event, ev.JobEvent):
        return None
    who = f"job={event.job_name!r} id={event.job_id}"
    if isinstance(event, ev.RunStarted):
        what = f"run started scheduled={event.scheduled_at.isoformat()} lateness={_fmt_delta(event.lateness)}"
    elif isinstance(event, ev.RunSucceeded):
        what = f"run succeeded duration={_fmt_delta(event.duration)}"
    elif isinstance(event, ev.RunFailed):
        what = f"run {event.outcome} duration={_fmt_delta(event.duration)} error={event.error!r}"
    elif isinstance(event, ev.RunRetried):
        what = f"run retried attempt={event.attempt} in={_fmt_delta(event.delay)} error={event.error!r}"
    elif isinstance(event, ev.FireSkipped):
        what = f"fire skipped scheduled={event.scheduled_at.isoformat()} reason={event.reason}"
    elif isinstance(event, ev.FireMisfired):
        what = f"fire misfired scheduled={event.scheduled_at.isoformat()} lateness={_fmt_delta(event.lateness)}"
    else:
        what = type(event).__name__
        what = re.sub(r"(?<!^)(?=[A-Z])", " ", what).lower()
    return f"{stamp} {what} {who}"


@contextlib.contextmanager
def _logging_to(handler: logging.Handler) -> Iterator[None]:
    log = logging.getLogger("asyncron")
    old_level, old_propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
        log.propagate = old_propagate


async def _serve(obj: object, kind: str, args: argparse.Namespace, out: TextIO, live: bool) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig.name)
        stop.set()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    ring = _Ring()
    handler: logging.Handler = ring if live else logging.StreamHandler(sys.stderr)
    if not live:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    try:
        with _logging_to(handler):
            async with _started(obj, kind, args.store) as scheduler:
                jobs = await scheduler.list_jobs()
                title = f"asyncron run {args.target}: {len(jobs)} job(s)"
                view: asyncio.Task[None] | None = None
                if live:
                    view = loop.create_task(_live_view(scheduler, title, ring, out, args.refresh))
                else:
                    say(f"{title}; SIGINT or SIGTERM stops it gracefully")

                    def log_event(event: Any) -> None:
                        line = _event_line(event)
                        if line is not None:
                            say(line)

                    # kept to the end: the runs that finish during the graceful stop are logged
                    scheduler.subscribe(log_event)
                stopper = loop.create_task(stop.wait())
                ended = loop.create_task(_wait_stopped(scheduler))
                try:
                    await asyncio.wait({stopper, ended}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (stopper, ended, view):
                        if task is not None:
                            task.cancel()
                    await asyncio.gather(
                        *(t for t in (stopper, ended, view) if t is not None),
                        return_exceptions=True,
                    )
                running = scheduler.statistics().running
                why = f"{received[0]} received" if received else "scheduler stopped"
                say(
                    f"asyncron: {why}, stopping gracefully"
                    + (f" (waiting for {running} running job(s))" if running else "")
                )
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    say("asyncron: stopped")
    return EXIT_OK


async def _wait_stopped(scheduler: AsyncScheduler) -> None:
    """Return when the scheduler was stopped by someone else (e.g. a job calling stop())."""
    # A coarse poll: AsyncScheduler has no public wait_stopped() (run_until_stopped() would stop
    # the scheduler when cancelled, before the app's own shutdown code).
    while scheduler.running:  # noqa: ASYNC110
        await asyncio.sleep(0.2)


# -- store commands ------------------------------------------------------------------------------


def _store_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", required=True, metavar="URL",
        help="the store: a path (jobs.db, /srv/app/jobs.json), sqlite:///jobs.db or "
        "json:///jobs.json (relative), sqlite:////srv/app/jobs.db (absolute), or "
        "postgresql://user@host/db?schema=NAME",
    )  # fmt: skip


def _build_jobs(parser: argparse.ArgumentParser) -> Runner:
    _store_arg(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return lambda args, out, err: _run_store_command("jobs", args, out, err)


def _build_job_command(command: str) -> Builder:
    def build(parser: argparse.ArgumentParser) -> Runner:
        parser.add_argument("job_id", metavar="ID", help="the job's id (see asyncron jobs)")
        _store_arg(parser)
        return lambda args, out, err: _run_store_command(command, args, out, err)

    return build


_POSTGRES_SCHEMES = ("postgresql", "postgres")


def _is_postgres(url: str) -> bool:
    return url.split("://", 1)[0].lower() in _POSTGRES_SCHEMES


def _open_store_url(url: str, *, read_only: bool = False) -> Store:
    """The store ``url`` names, refusing to create a new, empty one by mistake; a file store
    opens read-only when ``read_only`` (PostgreSQL: the schema is checked first instead).

    Raises:
        CommandError: bad URL, or no store file at that path.
    """
    from .errors import InvalidJobError
    from .stores import store_from_url

    if _is_postgres(url):
        try:
            from .stores.postgres import PostgresStore
        except ImportError as exc:
            raise CommandError(
                f"--store {url.split('://', 1)[0]}://: needs asyncpg "
                "(pip install 'asyncron[postgres]')"
            ) from exc
        try:
            return PostgresStore(url, min_size=1, max_size=2, application_name="asyncron-cli")
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
    try:
        store = store_from_url(url, read_only=read_only)
    except InvalidJobError as exc:
        raise CommandError(str(exc)) from exc
    path = getattr(store, "path", None)
    if path is not None and not os.path.exists(path):
        raise CommandError(f"no store at {path} (from --store {url!r})")
    return store


async def _check_postgres_schema(store: PostgresStore) -> None:
    """Refuse a PostgreSQL schema that holds no asyncron store: opening the store would create
    one, and a typo in ``?schema=`` would then show an empty store instead of an error.

    Raises:
        CommandError: the server cannot be reached, or the schema has no store.
    """
    import asyncpg  # type: ignore[import-untyped]

    try:
        conn = await asyncpg.connect(store.dsn, timeout=10)
    except Exception as exc:
        raise CommandError(f"{store.description}: cannot connect: {exc}") from exc
    try:
        found = await conn.fetchval("SELECT to_regclass($1)", f'"{store.schema}".jobs')
    finally:
        await conn.close()
    if found is None:
        raise CommandError(
            f"no store in {store.description}: the schema has no asyncron tables "
            "(check ?schema= in the URL; the default schema is asyncron)"
        )


@contextlib.asynccontextmanager
async def _opened(store: Store) -> AsyncIterator[Store]:
    if getattr(store, "supports_claims", False):
        from .stores.postgres import PostgresStore

        if isinstance(store, PostgresStore):
            await _check_postgres_schema(store)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def _trigger_text(doc: dict[str, Any]) -> str:
    from ._serialize import trigger_from_doc

    try:
        return str(trigger_from_doc(doc))
    except Exception:  # an unreadable trigger is still listed
        return str(doc.get("type", "?"))


def _job_doc(job: StoredJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "function": job.func_ref,
        "trigger": job.trigger,
        "next_run": _iso(job.next_run),
        "last_run": _iso(job.last_run),
        "run_count": job.run_count,
        "failure_count": job.failure_count,
        "max_runs": job.max_runs,
        "error": job.error,
    }


def _run_store_command(command: str, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if command == "jobs":  # only reads
        return asyncio.run(
            _store_command(command, _open_store_url(args.store, read_only=True), args, out)
        )
    store = _open_store_url(args.store)
    if not _is_postgres(args.store):
        # Look before writing: a file that is not an asyncron store (or a damaged one) is
        # refused by a read-only open, before the writable open could create tables in it or
        # move it aside.
        asyncio.run(_probe(_open_store_url(args.store, read_only=True)))
    return asyncio.run(_store_command(command, store, args, out))


async def _probe(store: Store) -> None:
    """Open and close ``store`` (read-only): raises what opening it raises."""
    async with _opened(store):
        pass


_FINAL = frozenset({"completed", "failed", "cancelled", "skipped"})


async def _store_command(command: str, store: Store, args: argparse.Namespace, out: TextIO) -> int:
    if command == "run-now":
        return await _run_now(store, args.job_id if "job_id" in args else args.target, args, out)
    async with _opened(store):
        if command == "jobs":
            jobs = await store.list_jobs()
            if args.json:
                out.write(json.dumps([_job_doc(j) for j in jobs], indent=2) + "\n")
            elif not jobs:
                out.write(f"no jobs in {store.description}\n")
            else:
                rows = [
                    [
                        j.id,
                        j.name,
                        j.status,
                        _trigger_text(j.trigger),
                        _fmt_time(
                            None if j.next_run is None else datetime.fromtimestamp(j.next_run, UTC)
                        ),
                        _fmt_time(
                            None if j.last_run is None else datetime.fromtimestamp(j.last_run, UTC)
                        ),
                        str(j.run_count),
                        (j.error or "")[:60],
                    ]
                    for j in jobs
                ]
                headers = [
                    "id",
                    "name",
                    "status",
                    "trigger",
                    "next run",
                    "last run",
                    "runs",
                    "error",
                ]
                out.write(_plain_table(headers, rows) + "\n")
            if not args.json:
                _write_quarantined(store, out)
            return EXIT_OK
        job = await store.get_job(args.job_id)
        if job is None:
            raise CommandError(f"no job with id {args.job_id!r} in {store.description}")
        if command == "remove":
            await store.remove_job(job.id)
            out.write(f"removed job {job.id} ({job.name})\n")
            return EXIT_OK
        if job.status in _FINAL:
            raise CommandError(
                f"job {job.id} ({job.name}) is {job.status}; it cannot be {command}d"
            )
        if command == "pause":
            if job.status == "paused":
                out.write(f"job {job.id} ({job.name}) was already paused\n")
                return EXIT_OK
            await store.update_job(job.evolve(status="paused", version=job.version + 1))
            out.write(f"paused job {job.id} ({job.name})\n")
            return EXIT_OK
        assert command == "resume"
        if job.status != "paused":
            out.write(f"job {job.id} ({job.name}) was not paused\n")
            return EXIT_OK
        await store.update_job(job.evolve(status="pending", version=job.version + 1))
        if getattr(store, "supports_claims", False):
            out.write(f"resumed job {job.id} ({job.name})\n")
        else:
            out.write(
                f"resumed job {job.id} ({job.name}); missed fires follow its misfire policy "
                "when a scheduler next opens the store\n"
            )
        return EXIT_OK


def _write_quarantined(store: Store, out: TextIO) -> None:
    """List the records the store kept but could not read (a scheduler does not run them)."""
    reasons = getattr(store, "quarantined", None) or []
    if reasons:
        out.write(f"{len(reasons)} record(s) kept in the store but not loaded (never run):\n")
        for reason in reasons:
            out.write(f"  {reason}\n")


async def _run_now(store: Store, job_id: str, args: argparse.Namespace, out: TextIO) -> int:
    """Run one stored job in this process, record the run in the store, print its result.

    The other stored jobs are loaded but the scheduler is not started, so nothing else fires.
    """
    from ._persistence import StoreJournal
    from ._refs import FunctionRegistry, is_stdlib_module
    from ._scheduler import AsyncScheduler

    async with _opened(store):
        row = await store.get_job(job_id)
    if row is None:
        raise CommandError(f"no job with id {job_id!r} in {store.description}")
    module, sep, _ = row.func_ref.partition(":")
    if not sep:
        raise CommandError(
            f"job {row.id} ({row.name}) names its function by the registered name "
            f"{row.func_ref!r}; only module:qualname functions can be run from the command line"
        )
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    # Import the job's module so that its @asyncron.storable marks (or vouch() calls) vouch for
    # its functions, but do not trust the module wholesale: the record may have been edited to
    # name another function of it, which must not run (see docs/persistence.md, threat model).
    if not is_stdlib_module(module):
        try:
            importlib.import_module(module)
        except Exception as exc:
            raise CommandError(
                f"job {row.id} ({row.name}): importing {module!r} failed: {exc!r}"
            ) from None
    registry = FunctionRegistry()
    # A plain journal, whatever the store: with PostgreSQL this process must not join the cluster
    # (it would claim fires and recover other nodes' leases); it loads the definitions and runs
    # the one job, as run_now does on any node (not claimed).
    journal = StoreJournal(store, registry=registry)
    engine = AsyncScheduler(store=journal)
    # The job's failure is reported in one line below: keep the engine's log quiet unless --debug.
    quiet = contextlib.nullcontext() if args.debug else _logging_to(logging.NullHandler())
    with quiet:
        # Load the jobs without starting the dispatcher: only run_now runs anything.
        await journal.open(engine)
        try:
            reason = journal.unresolved_reason(row.id)
            if reason is not None or await engine.get_job(row.id) is None:
                raise CommandError(f"job {row.id} ({row.name}) cannot be loaded: {reason or ''}")
            try:
                result = await engine.run_now(row.id)
            except Exception as exc:
                raise CommandError(
                    f"job {row.id} ({row.name}) failed: {type(exc).__name__}: {exc}"
                ) from exc
            finally:
                # flush() before close(): close() can drop a batch the writer is still writing
                await journal.flush()
        finally:
            await journal.close()
    out.write(f"ran job {row.id} ({row.name}): {result!r}\n")
    return EXIT_OK


SUBCOMMANDS: dict[str, tuple[str, Builder]] = {
    "cron": ("explain a cron expression and print its next fire times", _build_cron),
    "demo": ("run the README demo: once, interval and cron jobs with their lateness", _build_demo),
    "run": ("run a scheduler or app from your code until Ctrl-C / SIGTERM", _build_run),
    "jobs": ("list the jobs kept in a store", _build_jobs),
    "pause": (
        "pause a stored job (a scheduler on the store must be stopped)",
        _build_job_command("pause"),
    ),
    "resume": ("resume a paused stored job", _build_job_command("resume")),
    "run-now": ("run a stored job once, now, in this process", _build_job_command("run-now")),
    "remove": ("remove a job from a store", _build_job_command("remove")),
}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS,
        help="show the full traceback of an error",
    )  # fmt: skip
    parser = argparse.ArgumentParser(
        prog="asyncron", description="asyncron command line", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (help_text, build) in SUBCOMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        child.set_defaults(_runner=build(child))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Never raises for bad input or a failing command: usage errors print to stderr and return 2,
    other errors print one line (``asyncron CMD: error: ...``) and return 1; with ``--debug``
    the traceback is printed too. Ctrl-C returns 130.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    args.debug = getattr(args, "debug", False)
    runner: Runner = args._runner
    try:
        return runner(args, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        sys.stderr.write(f"asyncron {args.command}: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        message = str(exc) if isinstance(exc, CommandError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, CommandError) or _is_asyncron_error(exc):
            message = str(exc)
        sys.stderr.write(
            f"asyncron {args.command}: error: {message.splitlines()[0] if message else type(exc).__name__}\n"
        )
        return EXIT_USAGE if _is_not_a_store(exc) else EXIT_ERROR


def _is_asyncron_error(exc: BaseException) -> bool:
    from .errors import AsyncronError

    return isinstance(exc, AsyncronError)


def _is_not_a_store(exc: BaseException) -> bool:
    """``--store`` names something that is not an asyncron store: invalid input (exit code 2)."""
    from .errors import NotAStoreError

    return isinstance(exc, NotAStoreError)


if __name__ == "__main__":
    raise SystemExit(main())
