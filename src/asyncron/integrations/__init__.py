"""Web-framework integrations: start the scheduler with the app, stop it gracefully with it.

* :mod:`asyncron.integrations.starlette`: Starlette and FastAPI (a lifespan).
* :mod:`asyncron.integrations.aiohttp`: aiohttp (a ``cleanup_ctx`` entry).

Each lives in its own module so that importing one never imports the other framework.
"""

from __future__ import annotations

import logging
import multiprocessing
from typing import TYPE_CHECKING

from .._core._hooks import hooks_of

if TYPE_CHECKING:
    from .._scheduler import AsyncScheduler

__all__: list[str] = []

_logger = logging.getLogger("asyncron")


def warn_if_one_of_several_workers(scheduler: AsyncScheduler) -> None:
    """Log a warning when the app looks like one of several worker processes (``uvicorn
    --workers N`` starts its workers with multiprocessing) while its scheduler neither claims
    fires in a shared store nor holds a ``leader_lock``: each worker would then run every job.
    Under ``uvicorn --reload`` (one worker, also started that way) the warning is a false alarm.
    """
    if multiprocessing.parent_process() is None:
        return
    hooks = hooks_of(scheduler)
    if hooks.claims_fires or hooks.has_leader_lock:
        return
    _logger.warning(
        "this app runs in a process started by another one (uvicorn --workers N, or --reload): "
        "if there are several worker processes, each of their schedulers runs every job. Give "
        "the scheduler a PostgreSQL store (each fire claimed once) or "
        "AsyncScheduler(leader_lock='/path/app.lock') (one worker fires, the others stand by); "
        "see the 'Several workers' section of the docs (web frameworks)"
    )
