"""Quickstart: an AsyncScheduler running once, interval and cron jobs, async and sync.

Run it:  python examples/quickstart.py
It runs for ASYNCRON_EXAMPLE_SECONDS seconds (default 5), printing every fire, then a summary.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta

from asyncron import AsyncScheduler, CronTrigger, IntervalTrigger, OnceTrigger, current_run

SECONDS = float(os.environ.get("ASYNCRON_EXAMPLE_SECONDS", "5"))


def say(what: str) -> None:
    # current_run() tells a job which fire it is running: its nominal (scheduled) instant.
    run = current_run()
    late = ""
    if run is not None:
        late = f" (lateness {(time.time() - run.scheduled_at.timestamp()) * 1000:.1f} ms)"
    print(f"{datetime.now().strftime('%H:%M:%S.%f')[:-3]}  {what}{late}", flush=True)


# A coroutine function runs as a task on the event loop.
async def poll_queue() -> int:
    say("poll_queue (async, interval 0.5 s)")
    await asyncio.sleep(0.01)  # pretend to do I/O
    return 3


# A plain function runs in the scheduler's bounded thread pool: blocking calls are fine here.
def rotate_logs() -> None:
    say(f"rotate_logs (sync, cron every second, thread {threading.current_thread().name})")
    time.sleep(0.01)


async def warm_up(cache: str) -> str:
    say(f"warm_up {cache} (async, once)")
    return f"{cache} warm"


def flaky() -> None:
    # A failing job never stops the scheduler: the error is recorded on the job and logged on
    # the "asyncron" logger.
    raise RuntimeError("the upstream API is down")


async def main() -> None:
    # Job failures are logged with their traceback on the "asyncron" logger.
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    async with AsyncScheduler() as scheduler:  # started here, stopped gracefully at the end
        # once, 0.2 s from now (no trigger at all would mean "once, now")
        soon = datetime.now(UTC) + timedelta(seconds=0.2)
        warm = await scheduler.schedule(warm_up, trigger=OnceTrigger(soon), args=("users",))

        # every 0.5 s; shorthand: trigger=0.5 (a number of seconds) does the same
        poll = await scheduler.schedule(poll_queue, trigger=IntervalTrigger(seconds=0.5))

        # cron, six fields: the first one is seconds, so this is "every second"
        await scheduler.schedule(
            rotate_logs, trigger=CronTrigger.from_expression("* * * * * *", timezone="UTC")
        )

        # the decorator form, handy for module-level job definitions
        @scheduler.every(seconds=1, max_runs=2)
        async def heartbeat() -> None:
            say("heartbeat (async, every second, at most twice)")

        bad = await scheduler.schedule(flaky, name="flaky")

        job = await scheduler.wait_job(warm)  # wait for the one-shot job to finish
        print(f"warm_up finished: status={job.status.value} result={job.result!r}", flush=True)
        await asyncio.sleep(SECONDS)

        print("summary:")
        for job in await scheduler.list_jobs():
            print(f"  {job.name:12} {job.status.value:10} runs={job.run_count} error={job.error}")
        assert (await scheduler.get_job(poll)) is not None
        failed = await scheduler.get_job(bad)
        assert failed is not None and failed.error == "RuntimeError: the upstream API is down"
    print("scheduler stopped")


if __name__ == "__main__":
    asyncio.run(main())
