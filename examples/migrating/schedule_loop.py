"""A `schedule` (dbader/schedule) program with its run_pending() loop, ported to asyncron's
threaded facade: the loop goes away, the jobs run on time by themselves.

The original (schedule)::

    import schedule, time

    def heartbeat():
        print("alive")

    def daily_digest():
        ...

    schedule.every(0.1).seconds.do(heartbeat)
    schedule.every().day.at("10:30").do(daily_digest)
    schedule.every().monday.at("09:00", "Europe/Amsterdam").do(daily_digest)
    while True:
        schedule.run_pending()
        time.sleep(1)
"""

from __future__ import annotations

import os
import time

from asyncron import CronTrigger, IntervalTrigger, Scheduler

SECONDS = float(os.environ.get("ASYNCRON_EXAMPLE_SECONDS", "1.2"))
beats = 0


def heartbeat() -> None:
    global beats
    beats += 1


def daily_digest() -> None:
    print("digest sent")


scheduler = Scheduler()
scheduler.schedule(heartbeat, trigger=IntervalTrigger(seconds=0.1))
scheduler.schedule(daily_digest, trigger="30 10 * * *")  # .day.at("10:30")
scheduler.schedule(
    daily_digest, "monday_digest",
    CronTrigger(day_of_week="mon", hour=9, timezone="Europe/Amsterdam"),
)  # fmt: skip
scheduler.start()  # replaces the `while True: run_pending(); sleep(1)` loop
time.sleep(SECONDS)
scheduler.stop()
print(f"heartbeat ran {beats} times without a loop")
for job in scheduler.list_jobs(active=True, order="next_run"):
    print(f"  {job.name}: next {job.next_run:%a %H:%M %Z}")
