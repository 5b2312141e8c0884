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

__all__ = [
    "AsyncronError",
    "CronParseError",
    "DeadlockError",
    "DependencyCycleError",
    "InvalidJobError",
    "InvalidTriggerError",
    "JobLookupError",
    "JobStateError",
    "RunTimeoutError",
    "SchedulerStateError",
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
