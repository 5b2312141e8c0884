"""APScheduler 3 with an SQLAlchemyJobStore on SQLite and fixed job ids, ported to asyncron's
PersistentScheduler. The program "restarts" once (a second scheduler on the same file), as the
original does every time it is deployed.

The original (APScheduler 3)::

    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore("sqlite:///jobs.db")})
    scheduler.add_job(compact, "interval", seconds=0.1, id="compact", replace_existing=True)
    scheduler.add_job(remind, "cron", hour=8, id="remind", args=["ada"], replace_existing=True)
    scheduler.start()
    ...
    scheduler.shutdown()
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from asyncron import CronTrigger, IntervalTrigger, PersistentScheduler

SECONDS = float(os.environ.get("ASYNCRON_EXAMPLE_SECONDS", "1.2"))


def compact() -> str:
    return "compacted"


def remind(user: str) -> str:
    return f"reminded {user}"


def run_once(path: Path, label: str) -> None:
    scheduler = PersistentScheduler(path)  # a path ending in .db is SQLite
    # functions are stored by name, arguments as JSON (never pickled)
    scheduler.register_function("compact", compact)
    scheduler.register_function("remind", remind)
    scheduler.start()
    # replace_existing=True -> replace=True: the stored job of that id is replaced
    scheduler.schedule(
        compact, "compact", IntervalTrigger(seconds=0.1), function_name="compact",
        job_id="compact", replace=True,
    )  # fmt: skip
    scheduler.schedule(
        remind, "remind", CronTrigger(hour=8), args=["ada"], function_name="remind",
        job_id="remind", replace=True,
    )  # fmt: skip
    time.sleep(SECONDS / 3)
    jobs = {job.id: job for job in scheduler.list_jobs()}
    print(f"{label}: jobs {sorted(jobs)}, compact runs={jobs['compact'].run_count}")
    scheduler.stop()  # forgetting it is fine too: it runs at exit, and the state is saved


with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "jobs.db"
    run_once(path, "first start")
    run_once(path, "after restart")  # still two jobs: the fixed ids were replaced, not added
