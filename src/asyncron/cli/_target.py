"""Loading the user's code for ``asyncron run module:attr`` and starting what it names.

:func:`load_target` imports ``module:attr`` with the working directory first on ``sys.path``
(as uvicorn does); :func:`target_kind` tells a scheduler from a Starlette/FastAPI or aiohttp
app; :func:`started` starts it (an app with its own startup code) and stops it gracefully.
Every failure is a :class:`~._common.CommandError` with a one-line message.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

from .._scheduler import AsyncScheduler
from ..errors import SchedulerStateError
from ._common import CommandError

__all__ = ["TARGET", "attach_store", "load_target", "started", "target_kind"]

#: A ``module:attribute`` reference.
TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def load_target(spec: str) -> object:
    """Import ``module:attr`` (the working directory first on ``sys.path``, like uvicorn).

    Raises:
        CommandError: malformed spec, module or attribute not found, or the import failed.
    """
    if not TARGET.match(spec):
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


def target_kind(obj: object) -> str:
    """ "scheduler", "asgi" (Starlette/FastAPI) or "aiohttp".

    Raises:
        CommandError: anything else.
    """
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


def attach_store(scheduler: AsyncScheduler, url: str) -> None:
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
async def started(obj: object, kind: str, store: str | None) -> AsyncIterator[AsyncScheduler]:
    """Start the target (a scheduler, or an app with its startup code) and yield its scheduler;
    stop it gracefully on exit.

    Raises:
        CommandError: the app has no asyncron scheduler, or ``--store`` with an app.
    """
    if kind != "scheduler" and store is not None:
        raise CommandError(
            "--store works with a scheduler target only; for an app, create its scheduler with "
            "AsyncScheduler(store=...)"
        )
    if kind == "scheduler":
        assert isinstance(obj, AsyncScheduler)
        if store is not None:
            attach_store(obj, store)
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
        # imported here: aiohttp is an optional extra, needed only for an aiohttp app
        from aiohttp import web

        from ..integrations.aiohttp import SCHEDULER_KEY

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
