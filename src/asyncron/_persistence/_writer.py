"""Write-behind: the journal's changes reach the store in batches, off the engine's hot path.

:class:`WriteBehind` keeps the jobs changed (:meth:`~WriteBehind.mark`) and removed
(:meth:`~WriteBehind.remove`) since the last write, and one writer task that snapshots them and
writes them in one ``Store.write_batch``. Each change counts up a *generation*; a waiter (a
:meth:`~StoreJournal.flush`, or a start gate: :meth:`~WriteBehind.gate`) is a future done when
its generation is written, or failed with the :class:`~asyncron.errors.StoreError` of a failed
write. A failed batch is put back and retried with backoff (logged once per outage).

The writer waits ``flush_delay`` after a change to gather more (not when a start gate waits),
then behind any burst of fires the engine has not dispatched yet (at most ``max_write_lag``).
Everything here runs on the loop thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .._core._hooks import hooks_of
from .._core._state import JobState
from .._scheduler import AsyncScheduler
from .._serialize import StoreError
from ..abc import StoredJob
from ._settings import JournalSettings

__all__ = ["WriteBehind"]

logger = logging.getLogger("asyncron")


class WriteBehind:
    """The set of unwritten changes and the task that writes them.

    Args:
        settings: the journal (its ``store``, ``flush_delay`` and ``max_write_lag``).
        snapshot: the record to write for a changed job (``job_id``, the engine's job).
    """

    def __init__(
        self, settings: JournalSettings, snapshot: Callable[[str, JobState], StoredJob]
    ) -> None:
        self._settings = settings
        self._snapshot = snapshot
        self._engine: AsyncScheduler | None = None
        self.dirty: dict[str, JobState] = {}
        self.removed: set[str] = set()
        self._gen = 0
        self._written_gen = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[None] | None = None
        self._failing = False
        # a start gate is waiting for the writer (it then skips flush_delay)
        self._gated = False

    # -- changes, on the loop thread, never blocking --------------------------------------------

    def mark(self, job: JobState) -> None:
        """``job`` changed: write it in the next batch."""
        self.dirty[job.id] = job
        self._changed()

    def remove(self, job_id: str) -> None:
        """The job ``job_id`` was removed: delete its record in the next batch."""
        self.dirty.pop(job_id, None)
        self.forget(job_id)

    def forget(self, job_id: str) -> None:
        """Delete the record ``job_id`` in the next batch (a record never loaded, too)."""
        self.removed.add(job_id)
        self._changed()

    def _changed(self) -> None:
        self._gen += 1
        wake = self._wake
        if wake is not None and not wake.is_set():
            wake.set()

    def gate(self) -> asyncio.Future[None]:
        """A future done once every change made so far is written (a start gate): the writer
        then writes without waiting ``flush_delay``."""
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._gen, gate))
        self._gated = True
        return gate

    @property
    def running(self) -> bool:
        """The writer task runs (between :meth:`start` and :meth:`stop`)."""
        return self._task is not None

    @property
    def pending(self) -> bool:
        """Changes are waiting to be written."""
        return bool(self.dirty or self.removed)

    @property
    def up_to_date(self) -> bool:
        """Every change made so far is written."""
        return self._written_gen >= self._gen

    async def wait_written(self) -> None:
        """Wait until every change made so far is written by the writer task.

        Raises:
            StoreError: the write failed (it is retried in the background).
        """
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._gen, fut))
        assert self._wake is not None
        self._wake.set()
        await fut

    # -- the writer task ------------------------------------------------------------------------

    def start(self, engine: AsyncScheduler) -> None:
        """Start the writer task (on the loop, once the jobs are loaded)."""
        self._engine = engine
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            self._writer_loop(), name="asyncron-journal-writer"
        )
        if self.dirty:
            self._wake.set()

    async def stop(self) -> None:
        """Let a batch being written finish, then stop the writer task. Changes not yet
        written stay :attr:`pending`."""
        task, self._task = self._task, None
        if task is not None:
            writing = self._writing
            if writing is not None:
                await asyncio.gather(writing, return_exceptions=True)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._wake = None
        self._engine = None

    async def _behind_the_engine(self) -> None:
        """Stay behind a burst of fires: while the engine still has fires due and not yet
        dispatched, writing would take loop time from them; wait until the burst is through
        (at most ``max_write_lag`` seconds), then write its changes in one batch."""
        engine = self._engine
        lag = self._settings.max_write_lag
        if engine is not None and lag:
            await hooks_of(engine).wait_through_burst(lag)

    async def _writer_loop(self) -> None:
        wake = self._wake
        assert wake is not None
        backoff = 0.05
        while True:
            await wake.wait()
            wake.clear()
            delay = self._settings.flush_delay
            if delay and not self._gated:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)  # let this loop iteration finish its changes first
            await self._behind_the_engine()
            self._writing = asyncio.get_running_loop().create_future()
            try:
                await self.write_pending()
                backoff = 0.05
            except StoreError:
                await asyncio.sleep(backoff)  # logged once per outage in write_pending
                backoff = min(backoff * 2, 5.0)
                wake.set()
            finally:
                writing, self._writing = self._writing, None
                if writing is not None and not writing.done():
                    writing.set_result(None)

    async def write_pending(self) -> None:
        """Write every pending change in one batch now.

        Raises:
            StoreError: the write failed; the batch is kept for the next write.
        """
        if not self.dirty and not self.removed:
            self._release_waiters(None)
            return
        gen = self._gen
        self._gated = False
        batch, self.dirty = self.dirty, {}
        removed, self.removed = self.removed, set()
        store = self._settings.store
        puts = [self._snapshot(job_id, job) for job_id, job in batch.items()]
        try:
            await store.write_batch(puts, sorted(removed))
        except asyncio.CancelledError:
            # close() cancelled the writer mid-batch: put the batch back so close() writes it
            self._put_back(batch, removed)
            raise
        except Exception as exc:
            self._put_back(batch, removed)
            err = exc if isinstance(exc, StoreError) else StoreError(f"store write failed: {exc!r}")
            if not self._failing:
                logger.error("%s: %s; retrying in the background", store.description, err)
            self._failing = True
            self._release_waiters(err)
            raise err from exc
        if self._failing:
            logger.warning("%s: writes succeed again", store.description)
        self._failing = False
        self._written_gen = max(self._written_gen, gen)
        self._release_waiters(None)

    def _put_back(self, batch: dict[str, JobState], removed: set[str]) -> None:
        for job_id, job in batch.items():
            self.dirty.setdefault(job_id, job)
        self.removed |= removed

    def _release_waiters(self, error: BaseException | None) -> None:
        keep: list[tuple[int, asyncio.Future[None]]] = []
        for target, fut in self._waiters:
            if fut.done():
                continue
            if error is not None:
                fut.set_exception(error)
            elif target <= self._written_gen:
                fut.set_result(None)
            else:
                keep.append((target, fut))
        self._waiters = keep
