"""APScheduler 3's BackgroundScheduler with a cron job, an interval job and an error listener,
ported to asyncron's threaded facade.

The original (APScheduler 3)::

    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.events import EVENT_JOB_ERROR

    def on_error(event):
        print(f"{event.job_id} failed: {event.exception!r}")
        print(event.traceback)

    scheduler = BackgroundScheduler(timezone="Europe/Berlin")
    scheduler.add_job(send_report, "cron", day_of_week="mon-fri", hour=9, id="report")
    scheduler.add_job(poll_inbox, "interval", seconds=0.2, id="poll", max_instances=1)
    scheduler.add_job(sync_crm, "interval", seconds=0.3, id="crm")
    scheduler.add_listener(on_error, EVENT_JOB_ERROR)
    scheduler.start()
    time.sleep(1.2)
    scheduler.shutdown()
"""

from __future__ import annotations

import os
import time

from asyncron import CronTrigger, IntervalTrigger, Scheduler
from asyncron.events import RunFailed

SECONDS = float(os.environ.get("ASYNCRON_EXAMPLE_SECONDS", "1.2"))
polls = 0


def send_report() -> None:
    print("report sent")


def poll_inbox() -> None:
    global polls
    polls += 1


def sync_crm() -> None:
    raise ConnectionError("crm.internal refused the connection")


def on_error(event: RunFailed) -> None:  # runs in a worker thread, never on the loop
    assert event.exception_type is ConnectionError and event.traceback
    print(f"{event.job_id} failed: {event.exception!r} (traceback: {len(event.traceback)} chars)")


# timezone= is the zone of triggers built without one, as in APScheduler
scheduler = Scheduler(timezone="Europe/Berlin")
# "cron", day_of_week="mon-fri", hour=9  ->  the same fields by keyword (names are safe;
# numbers would follow cron: 1 is Monday)
scheduler.schedule(send_report, trigger=CronTrigger(day_of_week="mon-fri", hour=9), job_id="report")
# max_instances=1 is the default: a job never overlaps itself (overlap="skip")
scheduler.schedule(poll_inbox, trigger=IntervalTrigger(seconds=0.2), job_id="poll")
scheduler.schedule(sync_crm, trigger=IntervalTrigger(seconds=0.3), job_id="crm")
scheduler.subscribe(on_error, RunFailed)  # add_listener(on_error, EVENT_JOB_ERROR)
scheduler.start()
time.sleep(SECONDS)
report = scheduler.get_job("report")
assert report is not None and report.next_run is not None
print(f"report: next run {report.next_run:%a %H:%M %Z}")  # in the trigger's zone
scheduler.stop()  # shutdown(); stop() also delivers the events still queued
print(f"poll ran {polls} times; scheduler stopped")
