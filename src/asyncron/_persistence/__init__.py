"""The journal: the engine's write-behind bridge to a :class:`~asyncron.abc.Store`.

The engine calls the journal synchronously on the loop thread (``validate``, ``job_added``,
``job_changed``, ``run_started``); the journal only notes which jobs changed and wakes one writer
task, which snapshots those jobs and writes them in one ``Store.write_batch``. A fire therefore
never waits for the disk, and a burst of fires costs one transaction (RELIABILITY: the store is
off the hot path; APScheduler 4 makes several store round trips per fire).

At start (:meth:`StoreJournal.open`) every stored job is brought back through
the engine's hooks (``EngineHooks.restore_job``): function by registered name or allowed ``module:qualname``,
trigger from its document, arguments decoded (and decrypted), and the next fire decided by the
misfire policy (:func:`plan_misfires`, a pure function). A run left open by a crash is resolved
per job (``on_crash``). What cannot be brought back (unknown function or time zone, wrong key,
bad data) is *unresolved*: logged, listed in :attr:`StoreJournal.unresolved`, kept in the store
byte for byte, and retried when a function is registered (RELIABILITY R5).

The package, one concept a module:

- :mod:`._store_journal`: :class:`StoreJournal`, the engine's ``Journal``; it keeps the per-job
  records and composes the parts below;
- :mod:`._records`: the stored form of a job, its seal and encrypted fields (no I/O);
- :mod:`._writer`: write-behind, the writer task, flush waiters and start gates;
- :mod:`._crash`: a run cut short by a crash: the start gate's rule, the resolution at start;
- :mod:`._restore`: loading stored jobs at start; unresolved jobs;
- :mod:`._catchup`: replaying the fires a start decided to run;
- :mod:`._settings`: the settings the parts read from the journal.
"""

from __future__ import annotations

from .._misfire import MisfirePlan, MisfirePolicy, plan_misfires
from ._records import SEALED_REF, JobRecord, record_bytes
from ._restore import UnresolvedJob
from ._settings import OnCrash
from ._store_journal import StoreJournal

__all__ = [
    "SEALED_REF",
    "JobRecord",
    "MisfirePlan",
    "MisfirePolicy",
    "OnCrash",
    "StoreJournal",
    "UnresolvedJob",
    "plan_misfires",
    "record_bytes",
]
