"""A run cut short by a crash (``on_crash``), on both sides of the crash.

Before a run (:func:`crash_policy`): a job whose interrupted run must be *abandoned*, not run
twice, on a store that outlives the process, gets a *start gate* from
:meth:`StoreJournal.run_started <asyncron._persistence.StoreJournal.run_started>`: the engine
calls the job only once its start is written, so that a crash during the run is always seen.

At the next start (:func:`resolve_crash`): a record still holding an open run
(``running_fire``) was cut short. ``"rerun"`` runs that fire once more (a catch-up fire);
``"abandon"`` records it as a failed run with an ``Interrupted`` error. See "A run cut short
by a crash" in docs/persistence.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from .._core._state import JobState
from ..abc import StoredJob
from ._records import JobRecord
from ._settings import OnCrash

__all__ = ["Interrupted", "crash_policy", "resolve_crash"]

logger = logging.getLogger("asyncron")


def crash_policy(job: JobState, rec: JobRecord, default: OnCrash) -> OnCrash:
    """The job's ``on_crash`` as the next start will read it from the stored record:
    ``configure_job()``, else the engine's per-job option, else the journal's ``default``."""
    policy = rec.options.get("on_crash")
    if policy is not None:
        return policy  # type: ignore[no-any-return]
    opts = getattr(job, "opts", None)
    if opts is not None and opts.on_crash == "rerun":
        return "rerun"
    return default


@dataclass(frozen=True, slots=True)
class Interrupted:
    """A stored run cut short by a crash, and what becomes of it."""

    #: the scheduled time of the interrupted fire
    fire: datetime
    #: run the fire once more (``on_crash="rerun"``); else it is recorded as failed
    rerun: bool
    #: the failed run's error (``on_crash="abandon"``), else None
    error: str | None


def resolve_crash(row: StoredJob, on_crash: str) -> Interrupted | None:
    """What becomes of the run ``row`` left open (None: it left none); logs a warning."""
    if row.running_fire is None:
        return None
    fire = datetime.fromtimestamp(row.running_fire, UTC)
    if on_crash == "rerun":
        logger.warning(
            "job %r (%s): its run scheduled at %s was interrupted by a crash; running it "
            "again (on_crash='rerun')",
            row.name,
            row.id,
            fire.isoformat(),
        )
        return Interrupted(fire, True, None)
    error = (
        f"Interrupted: the process stopped during the run scheduled at "
        f"{fire.isoformat()}; it was not re-run (on_crash='abandon')"
    )
    logger.warning("job %r (%s): %s", row.name, row.id, error)
    return Interrupted(fire, False, error)
