"""APScheduler 3's job control (pause, resume, modify, reschedule, remove), ported to asyncron's
threaded facade. A VirtualClock makes the hours pass in milliseconds.

The original (APScheduler 3)::

    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    scheduler.add_job(backup, "interval", hours=1, id="backup", args=["/srv"])
    scheduler.pause_job("backup")            # job.next_run_time is None while paused
    ...
    scheduler.resume_job("backup")           # next run computed from now; missed runs dropped
    scheduler.modify_job("backup", args=["/home"])
    scheduler.reschedule_job("backup", trigger="cron", hour=3)
    print(scheduler.get_jobs())              # pending jobs, soonest first
    scheduler.remove_job("backup")
"""

from __future__ import annotations

from asyncron import CronTrigger, IntervalTrigger, JobStatus, Scheduler
from asyncron.testing import VirtualClock

ran: list[str] = []


def backup(path: str) -> None:
    ran.append(path)


with Scheduler(clock=VirtualClock(), timezone="UTC") as scheduler:
    scheduler.schedule(backup, trigger=IntervalTrigger(hours=1), job_id="backup", args=["/srv"])
    scheduler.schedule(backup, trigger=IntervalTrigger(hours=6), job_id="offsite", args=["/s3"])
    scheduler.advance(3600)
    scheduler.pause("backup")
    job = scheduler.get_job("backup")
    assert job is not None and job.status is JobStatus.PAUSED
    print(f"paused: status={job.status.value}, next_run kept: {job.next_run is not None}")
    scheduler.advance(3 * 3600)
    # resume_job() drops the missed runs: catch_up=False (the default catch-up runs one at once)
    scheduler.resume("backup", catch_up=False)
    scheduler.advance(0)
    print(f"after resume: runs so far {ran}")
    scheduler.modify("backup", args=["/home"])
    # reschedule_job(trigger="cron", hour=3)
    scheduler.reschedule("backup", CronTrigger(hour=3))
    # get_jobs(): pending jobs by next run
    print("get_jobs:", [j.id for j in scheduler.list_jobs(active=True, order="next_run")])
    scheduler.advance(24 * 3600)
    print(f"a day later: {ran.count('/home')} run(s) of /home")
    scheduler.remove("backup")  # remove_job(); the id is free again
    print("after remove:", [j.id for j in scheduler.list_jobs()])
