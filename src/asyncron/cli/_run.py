"""``asyncron run module:attr``: run a scheduler, or a Starlette/FastAPI/aiohttp app's
scheduler, until Ctrl-C or SIGTERM.

On a terminal a live job table (:mod:`._live`); otherwise (or with ``--plain``) one log line
per job event. SIGINT or SIGTERM stops the scheduler gracefully: runs in flight finish (and are
logged) first. The command also ends when something else stops the scheduler (a job calling
``stop()``). ``asyncron run ID --store URL`` (not a ``module:attr``) is ``run-now``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import sys
from datetime import UTC
from typing import Any, TextIO

from .. import _events as ev
from .._scheduler import AsyncScheduler
from ._common import EXIT_OK, CommandError, Runner, fmt_delta, logging_to
from ._jobs import run_store_command
from ._live import Ring, live_view
from ._target import TARGET, load_target, started, target_kind

__all__ = ["build_run"]


def build_run(parser: argparse.ArgumentParser) -> Runner:
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
    if not TARGET.match(args.target):
        if args.store is not None:  # `run ID --store URL`: the short form of run-now
            return run_store_command("run-now", args, out, err)
        raise CommandError(
            f"{args.target!r} is not a module:attribute reference (e.g. myapp.jobs:scheduler); "
            f"to run the stored job {args.target!r} now, add --store URL"
        )
    obj = load_target(args.target)
    kind = target_kind(obj)
    live = out.isatty() and not args.plain
    return asyncio.run(_serve(obj, kind, args, out, live))


def _event_line(event: Any) -> str | None:
    """One log line per job event (``asyncron run`` without a terminal)."""
    stamp = event.timestamp.astimezone(UTC).isoformat(timespec="milliseconds")
    if not isinstance(event, ev.JobEvent):
        return None
    who = f"job={event.job_name!r} id={event.job_id}"
    if isinstance(event, ev.RunStarted):
        what = f"run started scheduled={event.scheduled_at.isoformat()} lateness={fmt_delta(event.lateness)}"
    elif isinstance(event, ev.RunSucceeded):
        what = f"run succeeded duration={fmt_delta(event.duration)}"
    elif isinstance(event, ev.RunFailed):
        what = f"run {event.outcome} duration={fmt_delta(event.duration)} error={event.error!r}"
    elif isinstance(event, ev.RunRetried):
        what = (
            f"run retried attempt={event.attempt} in={fmt_delta(event.delay)} error={event.error!r}"
        )
    elif isinstance(event, ev.FireSkipped):
        what = f"fire skipped scheduled={event.scheduled_at.isoformat()} reason={event.reason}"
    elif isinstance(event, ev.FireMisfired):
        what = f"fire misfired scheduled={event.scheduled_at.isoformat()} lateness={fmt_delta(event.lateness)}"
    else:
        what = type(event).__name__
        what = re.sub(r"(?<!^)(?=[A-Z])", " ", what).lower()
    return f"{stamp} {what} {who}"


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

    ring = Ring()
    handler: logging.Handler = ring if live else logging.StreamHandler(sys.stderr)
    if not live:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    try:
        with logging_to(handler):
            async with started(obj, kind, args.store) as scheduler:
                jobs = await scheduler.list_jobs()
                title = f"asyncron run {args.target}: {len(jobs)} job(s)"
                view: asyncio.Task[None] | None = None
                if live:
                    view = loop.create_task(live_view(scheduler, title, ring, out, args.refresh))
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
