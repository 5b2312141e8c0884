"""Starlette and FastAPI: run an :class:`~asyncron.AsyncScheduler` for the life of the app.

.. code-block:: python

    scheduler = AsyncScheduler()
    app = FastAPI(lifespan=asyncron_lifespan(scheduler))

    @app.post("/reports")
    async def add(scheduler: Annotated[AsyncScheduler, Depends(get_scheduler)]) -> str:
        return await scheduler.schedule(send_report, trigger="0 9 * * 1-5")

The lifespan starts the scheduler before the app serves its first request and, at shutdown,
stops it gracefully: no new fires, running jobs are awaited (up to the scheduler's
``stop_timeout``, then cancelled). The scheduler is reachable from handlers as
``request.app.state.scheduler``, as ``request.state.scheduler`` (lifespan state) and through the
:func:`get_scheduler` dependency.

Only Starlette is imported here (FastAPI is built on it); nothing imports FastAPI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar, overload

from starlette.requests import HTTPConnection

from .._scheduler import AsyncScheduler
from ..errors import SchedulerStateError
from . import warn_if_one_of_several_workers

__all__ = ["STATE_KEY", "asyncron_lifespan", "get_scheduler"]

#: The attribute under which the scheduler is kept on ``app.state`` and in the lifespan state.
STATE_KEY = "scheduler"

_App = TypeVar("_App")
Lifespan = Callable[[_App], AbstractAsyncContextManager[Mapping[str, Any] | None]]


# Without a lifespan of yours nothing fixes the app type, so the factory takes any app (a single
# signature would leave the type variable unsolved, and ``asyncron_lifespan(s)(app)`` would not
# type-check).
@overload
def asyncron_lifespan(
    scheduler: AsyncScheduler, lifespan: None = None, *, stop_timeout: float | None = None
) -> Callable[[Any], AbstractAsyncContextManager[dict[str, Any]]]: ...


@overload
def asyncron_lifespan(
    scheduler: AsyncScheduler, lifespan: Lifespan[_App], *, stop_timeout: float | None = None
) -> Callable[[_App], AbstractAsyncContextManager[dict[str, Any]]]: ...


def asyncron_lifespan(
    scheduler: AsyncScheduler,
    lifespan: Lifespan[_App] | None = None,
    *,
    stop_timeout: float | None = None,
) -> Callable[[_App], AbstractAsyncContextManager[dict[str, Any]]]:
    """A lifespan (``Starlette(lifespan=...)``, ``FastAPI(lifespan=...)``) that runs ``scheduler``.

    At startup the scheduler is started, stored on ``app.state.scheduler`` and then the wrapped
    ``lifespan`` (your own, optional) is entered, so your startup code can already schedule
    jobs. At shutdown your lifespan exits first, then the scheduler stops gracefully: no new
    fires, running jobs are awaited up to ``stop_timeout`` (default: the scheduler's own) and
    then cancelled. The lifespan state (``request.state``) holds the scheduler under
    ``"scheduler"`` plus whatever your lifespan yields.

    A scheduler that was already running when the app started is left running at shutdown:
    whoever started it stops it.

    The returned factory may also be entered by hand inside a lifespan of your own:
    ``async with asyncron_lifespan(scheduler)(app): yield``.

    Raises:
        TypeError: ``scheduler`` is not an AsyncScheduler (at once, not at startup).
        AsyncronError: from :meth:`AsyncScheduler.start` at startup (e.g. the store cannot be
            opened); the app then fails to start.
    """
    if not isinstance(scheduler, AsyncScheduler):
        raise TypeError(
            f"asyncron_lifespan: expected an AsyncScheduler, got {type(scheduler).__name__}"
        )

    @asynccontextmanager
    async def run(app: _App) -> AsyncIterator[dict[str, Any]]:
        state = getattr(app, "state", None)
        if state is not None:
            setattr(state, STATE_KEY, scheduler)
        owned = not scheduler.running
        warn_if_one_of_several_workers(scheduler)
        await scheduler.start()
        try:
            merged: dict[str, Any] = {STATE_KEY: scheduler}
            if lifespan is None:
                yield merged
            else:
                async with lifespan(app) as user_state:
                    if user_state:
                        merged.update(user_state)
                    yield merged
        finally:
            if owned:
                await scheduler.stop(stop_timeout)

    return run


def get_scheduler(conn: HTTPConnection) -> AsyncScheduler:
    """The app's scheduler: a FastAPI dependency (``Depends(get_scheduler)``), or call it with a
    Starlette ``Request`` / ``WebSocket``.

    Raises:
        SchedulerStateError: the app was not set up with :func:`asyncron_lifespan` (or its
            lifespan has not run), so it has no scheduler.
    """
    scheduler = getattr(conn.app.state, STATE_KEY, None)
    if scheduler is None:
        scheduler = conn.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(scheduler, AsyncScheduler):
        raise SchedulerStateError(
            "get_scheduler: this app has no asyncron scheduler; create it with "
            "lifespan=asyncron_lifespan(scheduler) and make sure its lifespan runs"
        )
    return scheduler
