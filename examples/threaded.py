"""The classic threaded Scheduler, for sync code: no async/await anywhere.

Run it:  python examples/threaded.py
It lets the jobs run for ASYNCRON_EXAMPLE_SECONDS seconds (default 3), then stops.

Every method is one blocking call into an AsyncScheduler running on a background loop thread;
calls from any number of threads are safe.
"""

from __future__ import annotations

import os
import threading
import time

from asyncron import IntervalTrigger, JobStatus, Scheduler

SECONDS = float(os.environ.get("ASYNCRON_EXAMPLE_SECONDS", "3"))

counter_lock = threading.Lock()
counter = {"visits": 0}


def count_visit() -> int:  # runs in the scheduler's thread pool
    with counter_lock:
        counter["visits"] += 1
        return counter["visits"]


def send_email(to: str, subject: str) -> str:
    print(f"email to {to}: {subject}", flush=True)
    return f"sent to {to}"


def main() -> None:
    scheduler = Scheduler(max_workers=4)  # the size of the thread pool for sync jobs

    # schedule(func, name=None, trigger=None, args=(), kwargs=None, max_runs=None) -> job id
    visits = scheduler.schedule(count_visit, name="visits", trigger=IntervalTrigger(seconds=0.2))
    welcome = scheduler.schedule(
        send_email, name="welcome", kwargs={"to": "ada@example.com", "subject": "Welcome!"}
    )  # no trigger: once, as soon as the scheduler runs
    nightly = scheduler.schedule(
        send_email, name="nightly", args=("ops@example.com", "report"), trigger="30 2 * * *"
    )  # a cron string works as a trigger
    three = scheduler.schedule(count_visit, name="three times", trigger=0.3, max_runs=3)

    scheduler.start()  # starts the loop thread; jobs begin to fire
    job = scheduler.wait_job(welcome)  # blocks until the one-shot job has finished
    print(f"welcome: {job.status.value}, result {job.result!r}")

    # run_now runs a job at once, blocks until it is done and returns its result (or re-raises
    # its error); the job's schedule is unchanged.
    print("run_now(nightly) returned", repr(scheduler.run_now(nightly)))

    time.sleep(SECONDS)
    finished = scheduler.get_job(three)
    assert finished is not None and finished.status is JobStatus.COMPLETED
    print(f"'three times' ran {finished.run_count} times and is {finished.status.value}")

    print("cancel(visits):", scheduler.cancel(visits))  # True: it was pending
    print("cancel(visits) again:", scheduler.cancel(visits))  # False: nothing left to cancel
    for job in scheduler.list_jobs():
        print(f"  {job.name:12} {job.status.value:10} runs={job.run_count}")
    scheduler.stop()  # waits for running jobs, then joins the loop thread
    print(f"stopped after {counter['visits']} visits counted")

    # register_task + run_pending: for programs that drive the scheduler from their own loop.
    manual = Scheduler()
    manual.register_task("every minute", "* * * * *", lambda: print("every-minute task ran"))
    manual.schedule(lambda: print("a one-shot job ran in run_pending"), name="one-shot")
    print("run_pending ran", manual.run_pending(), "job(s) in this thread")
    manual.stop()


if __name__ == "__main__":
    main()
