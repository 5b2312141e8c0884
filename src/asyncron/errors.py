"""The asyncron error tree.

Every error asyncron raises derives from :class:`AsyncronError`; each leaf also derives from the
builtin exception a user would naturally catch (``ValueError``, ``LookupError``, ``RuntimeError``),
so ``except ValueError`` around ``CronTrigger.from_expression`` works as expected (the httpx /
Starlette convention).

A bad argument is reported as one error whether its type or its value is wrong: the
``Invalid...Error`` classes are both a ``ValueError`` and a ``TypeError``, so code written for
either convention (``IntervalTrigger(seconds="5")`` or ``schedule("not callable")`` caught as a
``TypeError``, as APScheduler raises them; ``IntervalTrigger(seconds=0)`` caught as a
``ValueError``) works unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

__all__ = [
    "ArgumentDecodeError",
    "AsyncronError",
    "CallableCancelledError",
    "CommandError",
    "CronParseError",
    "DeadlockError",
    "DecryptionError",
    "DependencyCycleError",
    "InvalidJobError",
    "InvalidPipelineError",
    "InvalidTriggerError",
    "JobLookupError",
    "JobNotFoundError",
    "JobStateError",
    "NotAStoreError",
    "PipelineError",
    "PipelineTimeoutError",
    "RunTimeoutError",
    "SchedulerStateError",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreVersionError",
    "TamperedRecordError",
    "UnresolvedJobError",
    "UnvouchedFunctionError",
]


class AsyncronError(Exception):
    """Root of every error raised by asyncron itself."""


class InvalidTriggerError(AsyncronError, ValueError, TypeError):
    """A trigger was given an argument it cannot accept (wrong value or wrong type).

    The message names the field, the value and what is allowed. Both a ``ValueError`` and a
    ``TypeError``.
    """


class CronParseError(InvalidTriggerError):
    """A cron expression could not be parsed.

    Attributes:
        expression: the whole expression as given.
        field: the name of the field at fault (``"minute"``, ``"day-of-week"``, ...), or None when
            the fault is not inside one field (wrong field count, empty expression).
        token: the offending token, or None.
        position: the 0-based character offset of ``token`` in ``expression``, or None.
    """

    def __init__(
        self,
        message: str,
        *,
        expression: str = "",
        field: str | None = None,
        token: str | None = None,
        position: int | None = None,
    ) -> None:
        super().__init__(message)
        self.expression = expression
        self.field = field
        self.token = token
        self.position = position

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self),), self.__dict__)


class InvalidJobError(AsyncronError, ValueError, TypeError):
    """A job was given an argument it cannot accept (bad callable, bad max_runs, ...).

    Both a ``ValueError`` and a ``TypeError``; the message names the argument.
    """


class JobLookupError(AsyncronError, KeyError):
    """No job with the given id exists.

    A ``LookupError``, and more precisely a ``KeyError``, so that code written for APScheduler
    (whose ``JobLookupError`` is a ``KeyError``) keeps working. Unlike a plain ``KeyError`` its
    ``str()`` is the message itself, not its quoted repr.
    """

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}")
        self.job_id = job_id

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.job_id,), self.__dict__)


class JobStateError(AsyncronError, RuntimeError):
    """The operation is not allowed in the job's current state (e.g. running a cancelled job)."""


class SchedulerStateError(AsyncronError, RuntimeError):
    """The operation is not allowed in the scheduler's current state."""


class DeadlockError(SchedulerStateError):
    """A blocking facade call was made from the scheduler's own event-loop thread.

    Waiting there for the loop would wait forever, so the call is refused instead.
    """


class DependencyCycleError(AsyncronError, ValueError):
    """Adding a dependency edge would close a cycle; the message names the cycle.

    Attributes:
        cycle: the job ids along the cycle, the first repeated at the end
            (``["a", "b", "c", "a"]``: a depends on b, b on c, c on a).
        names: the jobs' names along the cycle when known (else None); the message then shows
            them too, since ids alone are hard to read.
    """

    def __init__(self, cycle: list[str], names: list[str] | None = None) -> None:
        message = "dependency cycle: " + " -> ".join(cycle)
        if names is not None and names != cycle:
            message += " (jobs " + " -> ".join(names) + ")"
        super().__init__(message)
        self.cycle = cycle
        self.names = names

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.cycle, self.names), self.__dict__)


class RunTimeoutError(AsyncronError, TimeoutError):
    """A run took longer than its job's ``timeout``."""


# -- stores and stored data ----------------------------------------------------------------------


class StoreError(AsyncronError, RuntimeError):
    """A job store could not be opened, read or written."""


class StoreLockedError(StoreError):
    """Another process holds the store's file lock (a second scheduler on the same file)."""


class StoreVersionError(StoreError):
    """The store was written by a newer asyncron (unknown format version); it is left untouched."""


class StoreCorruptError(StoreError):
    """An asyncron store file could not be parsed. A scheduler moves it aside (never overwrites
    it); a read-only open (``asyncron jobs``) raises this and leaves the file where it is."""


class NotAStoreError(StoreError):
    """The file is not an asyncron store (another application's database, a config file, a
    FIFO or a device); it was left byte for byte as it was, and nothing was created beside it."""


class ArgumentDecodeError(AsyncronError, ValueError):
    """A stored value is not valid tagged JSON (unknown tag, wrong shape); nothing was built."""


class DecryptionError(AsyncronError, ValueError):
    """Encrypted stored data could not be decrypted: missing key id, wrong key, or tampering."""


class TamperedRecordError(DecryptionError):
    """A stored record's seal does not match its content (edited, forged, copied from another
    job, or unsealed where seals are required). The record is kept untouched and never run."""


class UnresolvedJobError(AsyncronError, LookupError):
    """A stored job cannot be brought back yet (function not registered, unknown time zone,
    undecodable or undecryptable data). The stored record is kept untouched."""


class UnvouchedFunctionError(UnresolvedJobError):
    """A stored reference names a function the application did not vouch for in this process
    (a ``LookupError``). The record is kept in the store and never run."""


# -- pipelines ----------------------------------------------------------------------------------


class InvalidPipelineError(InvalidJobError):
    """A pipeline or a stage was given something it cannot accept.

    Like every :class:`~asyncron.errors.InvalidJobError` it is both a ``ValueError`` and a
    ``TypeError`` (most faults are a wrong type or a signature that cannot take the stage input),
    so either ``except`` works. The message names the stage index,
    the callable and what is allowed.
    """


class PipelineError(AsyncronError, ExceptionGroup[Exception]):
    """A stage failed under the ``"fail_fast"`` policy: the group holds every error it raised.

    The exceptions are ordered by callable index; each carries a note naming its stage and
    callable. ``except* ValueError`` and :meth:`split` keep the class and the attributes.

    Attributes:
        stage_index: 0-based index of the stage that failed.
        callable_indices: 0-based index, within the stage, of the callable behind each exception
            (parallel to :attr:`exceptions`).
        results: the result lists of the stages that completed before it.
    """

    stage_index: int
    callable_indices: tuple[int, ...]
    results: list[list[Any]]

    def __new__(
        cls,
        message: str,
        exceptions: Sequence[Exception],
        *,
        stage_index: int = 0,
        callable_indices: Sequence[int] = (),
        results: list[list[Any]] | None = None,
    ) -> Self:
        self = super().__new__(cls, message, exceptions)
        self.stage_index = stage_index
        self.callable_indices = tuple(callable_indices)
        self.results = [] if results is None else results
        return self

    def __init__(
        self,
        message: str,
        exceptions: Sequence[Exception],
        *,
        stage_index: int = 0,
        callable_indices: Sequence[int] = (),
        results: list[list[Any]] | None = None,
    ) -> None:
        super().__init__(message, exceptions)

    def derive(self, excs: Sequence[Exception]) -> PipelineError:  # type: ignore[override]
        """The same error around a subset of the exceptions (used by ``split``/``except*``)."""
        kept = {id(e): i for e, i in zip(self.exceptions, self.callable_indices, strict=True)}
        return PipelineError(
            self.message,
            excs,
            stage_index=self.stage_index,
            callable_indices=[kept.get(id(e), -1) for e in excs],
            results=self.results,
        )


class PipelineTimeoutError(AsyncronError, TimeoutError):
    """A stage, or the whole pipeline, ran past its timeout.

    Attributes:
        stage_index: 0-based index of the stage that was running.
        timeout: the timeout that expired, in seconds.
        scope: ``"stage"`` (the stage's own timeout) or ``"pipeline"`` (the whole run's).
        callable_index: in ``"continue"`` mode, where one of these stands in for the result of a
            callable that did not finish in time, that callable's 0-based index; else None.
        results: the result lists of the stages that completed before it.
    """

    def __init__(
        self,
        message: str,
        *,
        stage_index: int,
        timeout: float,
        scope: Literal["stage", "pipeline"],
        callable_index: int | None = None,
        results: list[list[Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.stage_index = stage_index
        self.timeout = timeout
        self.scope = scope
        self.callable_index = callable_index
        self.results = [] if results is None else results


class CallableCancelledError(AsyncronError, RuntimeError):
    """A stage callable ended cancelled although neither the pipeline nor the caller of ``run()``
    cancelled it (it raised ``CancelledError`` itself, or something else cancelled its task). It
    counts as that callable's error."""


class CommandError(AsyncronError, RuntimeError):
    """A command of the ``asyncron`` command line failed; reported as one line
    (``asyncron CMD: error: ...``) with exit code 1."""


class JobNotFoundError(JobLookupError, ValueError):
    """``asyncron.compat``: ``run_now()`` of an unknown job id. A ``ValueError`` (as the original
    threaded scheduler raised) and a ``KeyError`` (as asyncron's ``JobLookupError``)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.args = (f"Job not found: {job_id}",)
