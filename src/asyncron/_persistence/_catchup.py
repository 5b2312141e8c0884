"""Catch-up fires: the fires a start decided to run now, outside the regular schedule.

Missed fires a job's misfire policy runs (mode ``"all"``, or several fires kept) and a run
``on_crash="rerun"`` gives back are queued while the jobs load (:meth:`CatchUp.add`), then
replayed by one task per start, in order, one job after another (:func:`replay_fires`), through
``EngineHooks.replay_fire``: the engine's own admission rules, as for ``run_now`` and
``backfill``. A fire stops its job's replay when the job is gone, final or at ``max_runs``; a
failing fire is recorded on the job and logged by the engine, and the next one still runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime

from .._core._hooks import hooks_of
from .._scheduler import AsyncScheduler

__all__ = ["CatchUp", "Pending", "Replay", "replay_fires"]

logger = logging.getLogger("asyncron")

#: Catch-up fires per job, in order: ``[(job_id, [fire, ...]), ...]``.
Pending = list[tuple[str, list[datetime]]]
#: What replays one batch: ``(engine, pending, previous batch's task)``.
Replay = Callable[
    [AsyncScheduler, Pending, "asyncio.Task[None] | None"], Coroutine[None, None, None]
]


async def replay_fires(
    engine: AsyncScheduler, pending: Pending, previous: asyncio.Task[None] | None
) -> None:
    """Run catch-up fires in order, one job after another, after ``previous`` (a batch queued
    by an earlier start or retry) has finished."""
    if previous is not None:
        await asyncio.gather(previous, return_exceptions=True)
    for job_id, fires in pending:
        for fire in fires:
            snap = engine.get_job_nowait(job_id)
            if snap is None or snap.status.is_final:
                break
            if snap.max_runs is not None and snap.run_count >= snap.max_runs:
                break
            logger.info("job %r (%s): catch-up run for %s", snap.name, job_id, fire.isoformat())
            try:
                await hooks_of(engine).replay_fire(job_id, fire)
            except asyncio.CancelledError:
                raise
            except Exception:  # recorded on the job and logged by the engine
                pass


class CatchUp:
    """The queued catch-up fires and the task replaying them."""

    def __init__(self) -> None:
        self._pending: Pending = []
        self._task: asyncio.Task[None] | None = None

    def add(self, job_id: str, fires: list[datetime]) -> None:
        """Queue ``fires`` of ``job_id`` for the next :meth:`start`."""
        self._pending.append((job_id, fires))

    def start(self, engine: AsyncScheduler | None, replay: Replay) -> None:
        """Replay the queued fires with ``replay`` in a task (after the previous batch)."""
        pending, self._pending = self._pending, []
        if not pending or engine is None:
            return
        self._task = asyncio.get_running_loop().create_task(
            replay(engine, pending, self._task), name="asyncron-journal-catchup"
        )

    async def stop(self) -> None:
        """Cancel the replay (fires not yet run are dropped) and wait for it to end."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
