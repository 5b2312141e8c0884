"""Dependents: jobs that wait for other jobs (``depends_on``). The graph itself
(:class:`~asyncron._graph.DependencyGraph`) is pure; here a success upstream releases each held
dependent that is now ready (in the completion callback: no polling), and a failure or a
cancellation skips every held dependent, transitively, with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .._model import JobStatus
from ..errors import InvalidJobError, JobLookupError
from ._base import EngineBase
from ._state import JobState

__all__ = ["Dependencies"]

logger = logging.getLogger("asyncron")


class Dependencies(EngineBase):
    """Checks, releases and skips dependents."""

    def _check_deps(self, depends_on: Iterable[str] | None) -> list[str]:
        if depends_on is None:
            return []
        if isinstance(depends_on, str) or not isinstance(depends_on, Iterable):
            raise InvalidJobError(
                f"depends_on: expected a list of job ids, got {type(depends_on).__name__} "
                f"{depends_on!r}"
            )
        deps = list(depends_on)
        for dep in deps:
            if not isinstance(dep, str):
                raise InvalidJobError(f"depends_on: job ids are str, got {dep!r}")
            if dep not in self._jobs:
                raise JobLookupError(dep)
        if deps and self._claims_fires() and not self._warned_deps:
            self._warned_deps = True
            logger.warning(
                "dependencies are tracked per node: with a shared store, a dependent job waits "
                "for its dependencies' runs on its own node, so with several nodes it may be held "
                "or run out of step; for dependent steps in a cluster, schedule one JobPipeline "
                "job (claimed once, its stages run on the node that claims it)"
            )
        return deps

    def _dep_done_for_good(self, dep_id: str) -> bool:
        """A dependency that completed and will never run again stays satisfied."""
        dep = self._jobs.get(dep_id)
        return dep is not None and dep.status is JobStatus.COMPLETED and dep.run_count > 0

    def _dead_dependency(self, job: JobState) -> str | None:
        """Why ``job`` can never become ready (a dependency failed, was cancelled or skipped for
        good), or None."""
        for dep_id in job.depends_on:
            dep = self._jobs.get(dep_id)
            if dep is None:  # removed
                continue
            if dep.status is JobStatus.COMPLETED and dep.run_count == 0:
                return f"upstream job {dep.name!r} ({dep.id}) completed without ever running"
            if dep.status in (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SKIPPED):
                return f"upstream job {dep.name!r} ({dep.id}) is {dep.status.value}" + (
                    f": {dep.error}" if dep.error and dep.status is JobStatus.FAILED else ""
                )
        return None

    def _release_dependents(self, job: JobState) -> None:
        """``job`` succeeded: start each held dependent that is now ready (no polling: this
        runs in the completion callback, so the dependent starts in the same loop pass)."""
        now = self._clock.time()
        for dep_id in self._graph.succeeded(job.id):
            dependent = self._jobs[dep_id]
            fire_ts = dependent.held
            if fire_ts is None or dependent.running or dependent.status is JobStatus.CANCELLED:
                continue
            if dependent.paused or not self._running or self._stopping:
                continue  # released on resume() / start()
            self._start_held(dependent, now)

    def _skip_dependents_of(
        self, upstream: JobState | None, seeds: list[tuple[JobState, str]] | None = None
    ) -> None:
        """``upstream`` failed or was cancelled: every held dependent, transitively, has its
        held fire skipped with the reason. A dependent with no fire left ends SKIPPED (and
        keeps its held fire, so that a later success upstream, e.g. ``run_now``, releases it)."""
        queue: list[tuple[JobState, str]] = list(seeds or [])
        if upstream is not None:
            cancelled = upstream.status is JobStatus.CANCELLED or (upstream.error or "").startswith(
                "CancelledError"
            )
            why = f"upstream job {upstream.name!r} ({upstream.id}) " + (
                "was cancelled" if cancelled else f"failed: {upstream.error}"
            )
            queue.extend((self._jobs[d], why) for d in self._graph.dependents(upstream.id))
        while queue:
            dependent, why = queue.pop()
            if dependent.held is None or dependent.status in (
                JobStatus.CANCELLED,
                JobStatus.SKIPPED,
            ):
                continue
            dependent.skipped_because = why
            self._count_skip(dependent, dependent.held, "dependency")
            logger.warning(
                "job %r (%s) skipped: %s",
                dependent.name,
                dependent.id,
                why,
                extra={"job_id": dependent.id, "job_name": dependent.name},
            )
            if dependent.next_fire is None and not dependent.running:
                self._finalize(dependent, JobStatus.SKIPPED)
            else:
                dependent.held = None
            onward = f"upstream job {dependent.name!r} ({dependent.id}) was skipped: {why}"
            queue.extend((self._jobs[d], onward) for d in self._graph.dependents(dependent.id))
