"""PersistentScheduler: the classic threaded facade with jobs saved to a file."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from ._core._hooks import hooks_of, schedule_request
from ._model import JobOptions
from ._persistence import MisfirePolicy, OnCrash, StoreJournal, UnresolvedJob
from ._refs import FunctionRegistry
from ._scheduler import AsyncScheduler
from ._sync import Scheduler, _classic
from .abc import Clock, Store, Trigger
from .stores._url import store_from_path, store_from_url

if TYPE_CHECKING:
    from ._crypto import Keyring

__all__ = ["PersistentScheduler"]


def _store_for(state_file: str | os.PathLike[str] | Store) -> Store:
    if isinstance(state_file, Store):
        return state_file
    text = os.fspath(state_file)
    if "://" in text:
        return store_from_url(text)
    return store_from_path(text, default="json")


class PersistentScheduler(Scheduler):
    """The classic :class:`~asyncron.Scheduler` whose named jobs survive a restart.

    Jobs scheduled with ``function_name=`` are saved at once (the call returns after the write);
    other jobs stay in memory, as in the classic API. Saved jobs are loaded by :meth:`start`;
    fires missed while the process was down follow ``misfire``; a stored job whose function is
    not registered is kept in the file, listed by :meth:`unresolved_jobs`, and comes back when
    :meth:`register_function` registers it. A fixed ``job_id=`` keeps a job's identity across
    restarts (``replace=True`` replaces the stored job of that id). Without :meth:`stop`, the
    state is saved at interpreter exit. The other keyword arguments (``max_workers``,
    ``stop_timeout``, ``clock``, ``use_uvloop``, ``leader_lock``, ``job_defaults``,
    ``timezone``) are those of :class:`~asyncron.Scheduler`.

    Args:
        state_file: a JSON file path (default kind), a path ending in ``.db``/``.sqlite``
            (SQLite), a store URL (``sqlite:////var/lib/app/jobs.db``) or a
            :class:`~asyncron.abc.Store`.
        keyring: encrypt and seal stored jobs (``asyncron[crypto]``): in production mode (the
            default, ``test_mode = False``) each saved job's function reference and arguments
            are encrypted and the whole record is authenticated (AES-GCM), so the file can be
            neither read nor edited to call something else; ``test_mode = True`` saves them in
            plain form, for tests.
        misfire: the default misfire policy (default: run the latest missed fire once).
        on_crash: what to do with a run cut short by a crash: ``"abandon"`` or ``"rerun"``.
        allowed_modules: module prefixes whose functions stored ``module:qualname``
            references may name (and import). Jobs saved by this facade name their functions by
            ``function_name``, which :meth:`register_function` vouches for.
        accept_unsealed: with a keyring, load saved jobs that have no seal yet (saved before the
            keyring was given, or by an older asyncron) and seal them; for one start.
        dispatcher: what runs due sync callbacks (see :class:`~asyncron.Scheduler`).

    Raises:
        InvalidJobError: an unknown store URL scheme.
    """

    def __init__(
        self,
        state_file: str | os.PathLike[str] | Store,
        *,
        keyring: Keyring | None = None,
        misfire: MisfirePolicy | None = None,
        on_crash: OnCrash = "abandon",
        allowed_modules: Iterable[str] = (),
        accept_unsealed: bool = False,
        max_workers: int | None = None,
        stop_timeout: float = 10.0,
        clock: Clock | None = None,
        use_uvloop: bool | None = None,
        leader_lock: str | os.PathLike[str] | None = None,
        job_defaults: dict[str, Any] | JobOptions | None = None,
        timezone: str | tzinfo | None = None,
        dispatcher: object | None = None,
    ) -> None:
        self._journal = StoreJournal(
            _store_for(state_file),
            registry=FunctionRegistry(allowed_modules),
            keyring=keyring,
            misfire=misfire,
            on_crash=on_crash,
            only_named=True,
            accept_unsealed=accept_unsealed,
        )
        super().__init__(
            dispatcher,
            max_workers=max_workers,
            stop_timeout=stop_timeout,
            clock=clock,
            use_uvloop=use_uvloop,
            leader_lock=leader_lock,
            job_defaults=job_defaults,
            timezone=timezone,
        )

    def _set_test_mode(self, value: bool) -> None:
        super()._set_test_mode(value)
        self._journal.test_mode = value  # saved from the next write on

    def _make_engine(self, **options: Any) -> AsyncScheduler:
        return AsyncScheduler(store=self._journal, **options)

    @property
    def journal(self) -> StoreJournal:
        """The journal between the engine and the store (unresolved jobs, misfire report)."""
        return self._journal

    @_classic
    def schedule(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        trigger: Trigger | str | timedelta | float | datetime | None = None,
        args: Iterable[Any] = (),
        kwargs: dict[str, Any] | None = None,
        max_runs: int | None = None,
        function_name: str | None = None,
        *,
        job_id: str | None = None,
        replace: bool = False,
        depends_on: Iterable[str] | None = None,
        **options: Any,
    ) -> str:
        """Add a job (see :meth:`Scheduler.schedule`, whose keyword options it takes). With
        ``function_name`` the job is stored: ``func`` is registered under that name if the name
        is new, its arguments must be JSON data, and the call returns once the job is written.
        A fixed ``job_id`` keeps the job's identity across restarts: scheduled before
        :meth:`start`, it takes over the stored job of that id (keeping its place on the stored
        grid); after, ``replace=True`` replaces it.

        Raises:
            InvalidJobError: a bad argument; with ``function_name``, also arguments that cannot
                be stored (the message names the argument) or a name registered for another
                function.
            StoreError: the job could not be written (it is kept and retried in the background).
        """
        request = schedule_request(
            func,
            name,
            trigger,
            args,
            kwargs,
            max_runs,
            job_id=job_id,
            function_name=function_name,
            replace=replace,
            depends_on=depends_on,
            **options,
        )
        add = functools.partial(hooks_of(self._engine).schedule, request)
        if function_name is None:
            return self._call_nowait(add)
        if self._on_loop_thread():  # from an async job: cannot wait here; saved write-behind
            return add()
        new_id: str = self._call("schedule", self._schedule_saved, add)
        return new_id

    async def _schedule_saved(self, add: Callable[[], str]) -> str:
        job_id = add()
        await self._journal.flush()
        return job_id

    def save(self) -> None:
        """Write every pending change now.

        Raises:
            StoreError: the write failed.
        """
        if self._thread is not None:
            self._call("save", self._journal.flush)

    def unresolved_jobs(self) -> list[UnresolvedJob]:
        """Stored jobs that could not be loaded (function not registered, wrong key, ...)."""
        return self._call_nowait(lambda: self._journal.unresolved)

    def stop(self) -> None:
        """Save, stop firing, wait for running jobs, release the file. Idempotent."""
        thread = self._thread
        if thread is not None and not self._on_loop_thread() and not self._engine.running:
            # Jobs saved before start() opened the store: release it here.
            thread.call(self._journal.close)
        super().stop()
