"""Admission: whether a fire may start a run now. (Mechanical step; reworked below.)"""

from __future__ import annotations

import logging
from collections import deque

from .._events import FireMisfired
from ._base import EngineBase
from ._state import JobState, _dt

__all__ = ["Rules"]

logger = logging.getLogger("asyncron")


class Rules(EngineBase):
    """The admission rules."""

    def _misfired(self, job: JobState, fire_ts: float, now: float) -> bool:
        """True (and the misfire recorded, logged and published) when the fire at ``fire_ts``
        is later than the job's ``misfire_grace_time``."""
        grace = job.opts.misfire_grace_time
        if grace is None:
            return False
        late = now - fire_ts - job.jitter_offset  # jitter is a chosen delay, not lateness
        if late <= grace:
            return False
        self._misfires += 1
        job.skipped_because = (
            f"fire of {_dt(fire_ts).isoformat()} misfired: {late:.3f} s late "
            f"(misfire_grace_time {grace} s)"
        )
        logger.warning(
            "job %r (%s): %s",
            job.name,
            job.id,
            job.skipped_because,
            extra={"job_id": job.id, "job_name": job.name},
        )
        if self._events.subscriptions:
            self._emit(FireMisfired, job, scheduled_at=_dt(fire_ts), lateness=late)
        return True

    def _overlap_admits(self, job: JobState, fire_ts: float) -> bool:
        """A fire arrives while the job is running: apply its overlap policy. True means start
        a run now."""
        opts = job.opts
        policy = opts.overlap
        if policy == "allow_all":
            if opts.max_instances is None or job.running < opts.max_instances:
                return True
            self._count_skip(job, fire_ts, "overlap")
            return False
        if policy == "cancel_other":
            for run in list(job.runs or ()):
                self._stop_run(run, superseded=True)
            return True
        if policy in ("buffer_one", "buffer_all"):
            limit = 1 if policy == "buffer_one" else opts.buffer_limit
            if job.buffer is None:
                job.buffer = deque()
            if len(job.buffer) < limit:
                job.buffer.append(fire_ts)
                return False
            self._count_skip(job, fire_ts, "buffer_full")
            return False
        # skip: the classic guarantee, a job never overlaps itself
        self._count_skip(job, fire_ts, "overlap")
        return False
