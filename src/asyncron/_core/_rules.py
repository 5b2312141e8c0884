"""Admission: the one rule set that decides what becomes of a fire, for every way a run can
start. :func:`decide` reads the job and returns a :class:`Decision`; it changes nothing. The
caller carries the decision out (the dispatcher for timer fires and ``run_pending``, the engine
for ``run_now``, ``backfill``, catch-up fires and fires recovered from a dead node).

The rules, in the order they are asked (a rule an entry point does not use is skipped):

=============  ======================================================  =======================
rule           when                                                    decision
=============  ======================================================  =======================
cancelled      the job was cancelled (explicit runs and recoveries)    ``REFUSE``
max_runs       no fire left under ``max_runs`` (timer, caller)         ``EXHAUSTED``
misfire        later than ``misfire_grace_time`` (timer, caller)       ``MISFIRE``
overlap        the job is running: its ``overlap`` policy decides      ``SKIP``, ``BUFFER``,
                                                                       ``BUFFER_FULL``,
                                                                       ``REPLACE`` or on
dependencies   a dependency has not succeeded since the last run       ``HOLD``, ``COALESCE``,
               (timer, caller)                                         ``BLOCKED``, ``WAIT``
otherwise                                                              ``RUN``
=============  ======================================================  =======================

Entry points differ only where they must: an explicit run (``run_now``, ``backfill``, a
catch-up) has already waited for the job to be idle and ignores ``max_runs``, misfires and
dependencies (the user asked for it); a recovered fire runs only if the overlap policy admits
another run *now* (nothing can wait for it); a caller driving jobs by hand (``run_pending``)
cannot buffer a fire or cancel a run in flight on the loop, so there a busy job's fire is
skipped unless ``overlap="allow_all"`` admits it, and a fire waiting for dependencies stays due
for a later ``run_pending``.

The dispatcher asks these rules for every fire, on its fast path too: for the common job (idle,
nothing in its side object, no misfire limit) the first test answers ``RUN``.
"""

from __future__ import annotations

from enum import IntEnum

from ._base import EngineBase
from ._state import _CANCELLED, _NO_EXTRAS, JobState

__all__ = ["Decision", "Entry", "decide", "dependencies", "lateness"]


class Entry(IntEnum):
    """How a fire asks to run."""

    TIMER = 0  #: the dispatcher: a deadline came (or a buffered/held fire is due)
    CALLER = 1  #: ``Scheduler.run_pending``: a caller runs due jobs in its own thread
    EXPLICIT = 2  #: ``run_now``, ``backfill``, a catch-up fire at start (job already idle)
    RECOVERED = 3  #: a fire taken over from a dead node of the cluster


class Decision(IntEnum):
    """What becomes of a fire."""

    RUN = 0  #: start a run now
    REPLACE = 1  #: stop the runs in flight (``cancel_other``), then as the dependencies say
    BUFFER = 2  #: keep the fire; it runs when the run in flight ends
    BUFFER_FULL = 3  #: the buffer is full: the fire is dropped (counted)
    SKIP = 4  #: the job is running and may not overlap: the fire is dropped (counted)
    HOLD = 5  #: keep the fire until every dependency has succeeded
    BLOCKED = 6  #: as HOLD, but a dependency can never succeed: skip the dependents
    COALESCE = 7  #: a fire is already held: this one is dropped (counted)
    WAIT = 8  #: dependencies not ready: leave the fire due (``run_pending`` retries it)
    MISFIRE = 9  #: too late for ``misfire_grace_time``: the fire is dropped (counted)
    EXHAUSTED = 10  #: ``max_runs`` is used up: the job ends after its runs in flight
    REFUSE = 11  #: not allowed now (cancelled; a recovered fire that cannot run here)


# module globals: an enum member is a class attribute look-up, a global is one dict probe
_TIMER, _CALLER, _EXPLICIT, _RECOVERED = Entry
RUN = Decision.RUN
REPLACE = Decision.REPLACE
BUFFER = Decision.BUFFER
BUFFER_FULL = Decision.BUFFER_FULL
SKIP = Decision.SKIP
HOLD = Decision.HOLD
BLOCKED = Decision.BLOCKED
COALESCE = Decision.COALESCE
WAIT = Decision.WAIT
MISFIRE = Decision.MISFIRE
EXHAUSTED = Decision.EXHAUSTED
REFUSE = Decision.REFUSE


def lateness(job: JobState, fire_ts: float, now: float) -> float:
    """How late the fire is, in seconds (the job's jitter is a chosen delay, not lateness)."""
    return now - fire_ts - job.jitter_offset


def decide(engine: EngineBase, job: JobState, fire_ts: float, now: float, entry: Entry) -> Decision:
    """The fate of the fire of ``job`` scheduled at ``fire_ts``, asked at ``now`` by ``entry``.
    Reads the job and its dependencies; changes nothing."""
    x = job.x
    opts = job.opts
    if entry <= _CALLER and x is _NO_EXTRAS and not job.running:
        # the common job: no max_runs, dependencies, pause or buffer, nothing in flight
        grace = opts.misfire_grace_time
        if grace is None or lateness(job, fire_ts, now) <= grace:
            return RUN
        return MISFIRE
    if entry is _EXPLICIT:
        return REFUSE if job.status is _CANCELLED else RUN
    if entry is _RECOVERED:
        if job.status is _CANCELLED:
            return REFUSE
        if job.running:
            if any(run.fire_ts == fire_ts for run in job.runs):
                return REFUSE  # this very fire is running here
            if opts.overlap != "allow_all" or (
                opts.max_instances is not None and job.running >= opts.max_instances
            ):
                return REFUSE
        return RUN
    if x.max_runs is not None and not job.fires_left() and x.held is None:
        return EXHAUSTED  # reached meanwhile (run_now, backfill)
    grace = opts.misfire_grace_time
    if grace is not None and lateness(job, fire_ts, now) > grace:
        return MISFIRE
    if job.running:
        policy = opts.overlap
        if policy == "allow_all":
            if opts.max_instances is not None and job.running >= opts.max_instances:
                return SKIP
        elif entry is _CALLER or policy == "skip":
            return SKIP  # the classic guarantee: a job never overlaps itself
        elif policy == "cancel_other":
            return REPLACE
        else:  # buffer_one, buffer_all
            limit = 1 if policy == "buffer_one" else opts.buffer_limit
            return BUFFER if len(x.buffer or ()) < limit else BUFFER_FULL
    return dependencies(engine, job, entry)


def dependencies(engine: EngineBase, job: JobState, entry: Entry) -> Decision:
    """The dependency rule alone: ``RUN`` when the job has none or all have succeeded since its
    previous run; asked by :func:`decide`, and after a ``REPLACE`` has stopped the runs."""
    x = job.x
    if not x.depends_on or engine._graph.is_ready(job.id):
        return RUN
    if entry is _CALLER:
        return BLOCKED if engine._dead_dependency(job) is not None else WAIT
    if x.held is not None:
        return COALESCE
    return BLOCKED if engine._dead_dependency(job) is not None else HOLD
