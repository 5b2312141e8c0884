"""A scheduler process for test_kill_restart.py, built the way docs/persistence.md says.

``python kill_node.py URL AUDIT schedule``: schedule the two jobs, print ``ready``, run until
killed. ``python kill_node.py URL AUDIT resume N``: load the saved jobs, run until ``beat`` has
run N more times, pause them, stop cleanly and print one JSON line: both jobs as the stopped
scheduler shows them, and the interrupted runs it found at start.

``beat`` appends one line per run to AUDIT (pid, nominal fire time, wall time) and returns its
sequence number (the lines in AUDIT so far, from every process); ``flaky`` fails on every run.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from asyncron import AsyncScheduler, IntervalTrigger, Job, current_run
from asyncron.events import Event, RunSucceeded
from asyncron.stores import FunctionRegistry, StoreJournal, store_from_url

AUDIT = Path(sys.argv[2])


def beat(tag: str) -> int:
    run = current_run()
    assert run is not None
    with AUDIT.open("a") as f:
        f.write(f"{os.getpid()} {run.scheduled_at.timestamp()} {time.time()} {tag}\n")
    return len(AUDIT.read_text().splitlines())


def flaky(tag: str) -> None:
    raise ValueError(f"flaky {tag}")


registry = FunctionRegistry()
registry.register("beat", beat)
registry.register("flaky", flaky)


def shown(job: Job | None) -> dict[str, Any]:
    assert job is not None
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status.value,
        "trigger": repr(job.trigger),
        "args": list(job.args),
        "max_runs": job.max_runs,
        "run_count": job.run_count,
        "failure_count": job.failure_count,
        "result": job.result,
        "error": job.error,
        "last_run": None if job.last_run is None else job.last_run.timestamp(),
    }


async def main() -> None:
    url, mode = sys.argv[1], sys.argv[3]
    journal = StoreJournal(store_from_url(url), registry=registry)
    async with AsyncScheduler(store=journal) as scheduler:
        if mode == "schedule":
            await scheduler.schedule(
                beat, trigger=IntervalTrigger(seconds=0.1), args=("b",), job_id="beat",
                name="heartbeat", max_runs=100_000, function_name="beat",
            )  # fmt: skip
            await scheduler.schedule(
                flaky, trigger=IntervalTrigger(seconds=0.15), args=("f",), job_id="flaky",
                function_name="flaky",
            )  # fmt: skip
            await journal.flush()
            print("ready", flush=True)
            await asyncio.sleep(3600)  # until SIGKILL
            return
        more = int(sys.argv[4])
        interrupted = [job_id for job_id, _ in journal.interrupted]
        done = asyncio.Event()
        runs = 0

        def count(event: Event) -> None:
            nonlocal runs
            if event.job_id == "beat":
                runs += 1
                if runs >= more:
                    done.set()

        scheduler.subscribe(count, types=RunSucceeded)
        await done.wait()
        await scheduler.pause_all()
    # stopped cleanly (stop() waited for the last run): what it shows is what is on disk
    jobs = {j: shown(await scheduler.get_job(j)) for j in ("beat", "flaky")}
    print(json.dumps({"jobs": jobs, "interrupted": interrupted}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
