"""aiohttp: run an :class:`~asyncron.AsyncScheduler` for the life of a ``web.Application``.

.. code-block:: python

    scheduler = AsyncScheduler()
    app = web.Application()
    setup_scheduler(app, scheduler)        # app[SCHEDULER_KEY] is the scheduler

    async def add(request: web.Request) -> web.Response:
        job_id = await get_scheduler(request).schedule(send_report, trigger="0 9 * * 1-5")
        return web.json_response(job_id)

The scheduler starts in the app's ``cleanup_ctx`` (before the first request) and stops
gracefully at cleanup: no new fires, running jobs are awaited up to the scheduler's
``stop_timeout``, then cancelled. aiohttp is an optional dependency: importing this module
without it raises ``ImportError`` saying what to install.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

try:
    from aiohttp import web
except ImportError as exc:  # pragma: no cover - exercised only without aiohttp
    raise ImportError("asyncron.integrations.aiohttp needs aiohttp: pip install aiohttp") from exc

from .._scheduler import AsyncScheduler
from ..errors import SchedulerStateError
from . import warn_if_one_of_several_workers

__all__ = ["SCHEDULER_KEY", "get_scheduler", "scheduler_context", "setup_scheduler"]

#: The typed application key under which the scheduler is kept: ``app[SCHEDULER_KEY]``.
SCHEDULER_KEY: web.AppKey[AsyncScheduler] = web.AppKey("asyncron_scheduler", AsyncScheduler)


def scheduler_context(
    scheduler: AsyncScheduler, *, stop_timeout: float | None = None
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry that starts ``scheduler`` at startup and stops it at cleanup.

    The stop is graceful: no new fires, running jobs are awaited up to ``stop_timeout``
    (default: the scheduler's own), then cancelled. A scheduler that was already running at
    startup is left running. Prefer :func:`setup_scheduler`, which also stores the scheduler
    under :data:`SCHEDULER_KEY`.

    Raises:
        TypeError: ``scheduler`` is not an AsyncScheduler.
    """
    if not isinstance(scheduler, AsyncScheduler):
        raise TypeError(
            f"scheduler_context: expected an AsyncScheduler, got {type(scheduler).__name__}"
        )

    async def context(app: web.Application) -> AsyncIterator[None]:
        owned = not scheduler.running
        warn_if_one_of_several_workers(scheduler)
        await scheduler.start()
        try:
            yield
        finally:
            if owned:
                await scheduler.stop(stop_timeout)

    return context


def setup_scheduler(
    app: web.Application, scheduler: AsyncScheduler, *, stop_timeout: float | None = None
) -> AsyncScheduler:
    """Store ``scheduler`` as ``app[SCHEDULER_KEY]`` and run it with the app (see
    :func:`scheduler_context`). Call it while building the app, before it starts. Returns the
    scheduler.

    Raises:
        TypeError: ``scheduler`` is not an AsyncScheduler.
        RuntimeError: the app is already frozen (started); aiohttp refuses changes then.
    """
    context = scheduler_context(scheduler, stop_timeout=stop_timeout)
    app[SCHEDULER_KEY] = scheduler
    app.cleanup_ctx.append(context)
    return scheduler


def get_scheduler(source: web.Request | web.Application) -> AsyncScheduler:
    """The scheduler of the app that ``source`` (a request, or the app) belongs to; from a
    request in a sub-application, the parent app's scheduler is found too.

    Raises:
        SchedulerStateError: the app was not set up with :func:`setup_scheduler`.
    """
    # a request sees its sub-app's and every parent app's keys through config_dict
    lookup = source.config_dict if isinstance(source, web.Request) else source
    scheduler = lookup.get(SCHEDULER_KEY)
    if scheduler is None:
        raise SchedulerStateError(
            "get_scheduler: this aiohttp app has no asyncron scheduler; call "
            "setup_scheduler(app, scheduler) while building it"
        )
    return scheduler
