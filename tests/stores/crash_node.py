"""A scheduler process for the crash tests of test_kill_restart.py.

``python crash_node.py URL AUDIT WHERE ON_CRASH HOW BODY`` schedules one hourly job ``work``
(its first fire 0.3 s after the store opened) whose run dies at WHERE (crash_jobs.py; ``gate`` and ``end``
are the fault points ``mid_store_write`` and ``before_finish``, armed by the test), with ``on_crash=ON_CRASH`` set on the journal
(HOW ``journal``) or on the job (HOW ``job``); BODY is ``async`` or ``sync``. It prints
``ready <first fire>`` and runs until it is killed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import crash_jobs

from asyncron import AsyncScheduler, IntervalTrigger
from asyncron.stores import FunctionRegistry, StoreJournal, store_from_url


def registry() -> FunctionRegistry:
    names = FunctionRegistry()
    names.register("work", crash_jobs.work)
    names.register("work_sync", crash_jobs.work_sync)
    return names


async def main() -> None:
    url, audit, where, on_crash, how, body = sys.argv[1:7]
    crash_jobs.AUDIT[:] = [Path(audit)]
    crash_jobs.DOOMED[0] = True
    journal = StoreJournal(
        store_from_url(url), registry=registry(), on_crash="abandon" if how == "job" else on_crash
    )
    options: dict[str, Any] = {"on_crash": on_crash} if how == "job" else {}
    async with AsyncScheduler(store=journal) as scheduler:
        # taken once the store is open (a slow start on a loaded machine must not put the
        # first fire in the past), with room for the job's own write to land before it
        first = datetime.fromtimestamp(round(time.time() + 0.3, 3), UTC)
        await scheduler.schedule(
            crash_jobs.work if body == "async" else crash_jobs.work_sync,
            trigger=IntervalTrigger(hours=1, start=first),
            args=(where,),
            job_id="work",
            function_name="work" if body == "async" else "work_sync",
            **options,
        )
        await journal.flush()
        print(f"ready {first.timestamp()}", flush=True)
        await asyncio.sleep(60)  # until killed
    sys.exit(3)  # not killed: the test fails on this exit status


if __name__ == "__main__":
    asyncio.run(main())
