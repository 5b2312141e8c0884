"""An operations script written for the original threaded scheduler (codomyrmex's
``orchestrator.scheduler``), untouched except that tests/compat/test_ported_program.py swaps
its import lines for ``asyncron.compat`` before running it.

Usage: python original_program.py STATE_FILE   (a state file the original wrote)
"""

import asyncio
import json
import sys
import threading
import time
from datetime import datetime, timedelta

from codomyrmex.orchestrator.scheduler import (
    CronTrigger,
    DependencyScheduler,
    IntervalTrigger,
    Job,
    JobPipeline,
    JobStatus,
    OnceTrigger,
    PersistentScheduler,
    ScheduledRecurrence,
    Scheduler,
    TriggerType,
    at,
    cron,
    every,
)
from codomyrmex.orchestrator.scheduler.advanced import (
    DependencyStatus,
    describe_cron,
    parse_cron,
)

STATE_FILE = sys.argv[1]
events = []
events_lock = threading.Lock()


def note(event):
    with events_lock:
        events.append(event)


def check(condition, what):
    if not condition:
        print("FAILED:", what)
        sys.exit(1)
    print("ok:", what)


def wait_until(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def heartbeat():
    note("heartbeat")
    return "alive"


def send_report(recipient, fmt="pdf"):
    note(f"report {recipient} {fmt}")
    return f"{recipient}.{fmt}"


def sync_inventory():
    raise RuntimeError("inventory service unavailable")


def extract():
    note("extract")
    return [3, 1, 2]


def transform():
    note("transform")
    return "sorted"


def load():
    note("load")
    return "loaded"


# -- triggers and helpers ----------------------------------------------------------------
in_two_hours = datetime.now() + timedelta(hours=2)
once = OnceTrigger(run_at=in_two_hours)
check(once.get_next_run() == in_two_hours, "OnceTrigger returns its naive run_at")
check(once.get_next_run(in_two_hours + timedelta(seconds=1)) is None, "OnceTrigger exhausted")
check(once.get_type() == TriggerType.ONCE, "OnceTrigger type")

interval = IntervalTrigger(minutes=1, seconds=30)
check(interval.interval_seconds == 90, "IntervalTrigger.interval_seconds")
start = datetime(2030, 1, 1, 8, 0)
grid = IntervalTrigger(hours=1, start_time=start, end_time=start + timedelta(hours=3))
check(
    grid.get_next_run(datetime(2030, 1, 1, 9, 30)) == datetime(2030, 1, 1, 10, 0), "interval grid"
)
check(grid.get_next_run(datetime(2030, 1, 1, 11, 0)) is None, "interval end_time")
check(interval.get_type() == TriggerType.INTERVAL, "IntervalTrigger type")

weekdays = CronTrigger.from_expression("30 8 * * 1-5")
check((weekdays.minute, weekdays.hour, weekdays.day_of_week) == ("30", "8", "1-5"), "cron fields")
nxt = weekdays.get_next_run(datetime(2030, 6, 14, 9, 0))  # a Friday, after 08:30
check(nxt is not None and nxt.tzinfo is None and nxt.minute == 30 and nxt.hour == 8, "cron naive")
check(weekdays.get_type() == TriggerType.CRON, "CronTrigger type")
try:
    CronTrigger.from_expression("30 8 *")
except ValueError as exc:
    check("Invalid cron expression" in str(exc), "bad cron expression raises ValueError")
else:
    check(False, "bad cron expression raises ValueError")

check(every(minutes=10).interval_seconds == 600, "every()")
check(isinstance(cron("*/5 * * * *"), CronTrigger), "cron()")
tea = at("23:59")
check(tea.run_at > datetime.now() and (tea.run_at.hour, tea.run_at.minute) == (23, 59), "at()")

# -- jobs built by hand ------------------------------------------------------------------
later = Job(id="later", name="later", func=lambda: None, trigger=OnceTrigger(in_two_hours))
sooner = Job(
    id="sooner",
    name="sooner",
    func=lambda a, b: a + b,
    args=(2, 3),
    trigger=OnceTrigger(in_two_hours - timedelta(hours=1)),
)
check([j.id for j in sorted([later, sooner])] == ["sooner", "later"], "jobs order by next_run")
check(sooner.execute() == 5 and sooner.status == JobStatus.COMPLETED, "Job.execute()")
broken = Job(id="broken", name="broken", func=sync_inventory, trigger=OnceTrigger(in_two_hours))
try:
    broken.execute()
except RuntimeError:
    pass
check(
    broken.status == JobStatus.FAILED and broken.error == "inventory service unavailable",
    "a failed execute() records the error",
)

# -- the scheduler -----------------------------------------------------------------------
scheduler = Scheduler(max_workers=4)
beat = scheduler.schedule(heartbeat, name="heartbeat", trigger=every(seconds=1))
report = scheduler.schedule(
    send_report,
    name="report",
    args=("ceo@example.com",),
    kwargs={"fmt": "html"},
    trigger=cron("0 7 * * *"),
)
inventory = scheduler.schedule(sync_inventory, name="inventory", trigger=every(hours=6))
check(all(j.startswith("job_") for j in (beat, report, inventory)), "job ids start with job_")
check(scheduler.get_job(beat).name == "heartbeat", "get_job")
check(scheduler.get_job("no-such-job") is None, "get_job of an unknown id")
check(scheduler.run_now(report) == "ceo@example.com.html", "run_now returns the result")
try:
    scheduler.run_now("no-such-job")
except ValueError as exc:
    check("Job not found" in str(exc), "run_now of an unknown id raises ValueError")
try:
    scheduler.run_now(inventory)
except RuntimeError:
    pass
job = scheduler.get_job(inventory)
check(job.status == JobStatus.FAILED, "a failed run_now leaves the job FAILED")
check(job.error == "inventory service unavailable", "... with the error text")
check(job.next_run is not None and job.next_run > datetime.now(), "... and its next fire")

scheduler.start()
beat_job = scheduler.get_job(beat)
check(wait_until(lambda: beat_job.run_count >= 1), "the interval job ran in the background")
check(beat_job.result == "alive" and beat_job.last_run is not None, "its result and last_run")
check(scheduler.cancel(inventory) is True, "cancel")
cancelled = scheduler.list_jobs(status=JobStatus.CANCELLED)
check([j.id for j in cancelled] == [inventory], "list_jobs(status=CANCELLED)")
check(len(scheduler.list_jobs()) == 3, "list_jobs()")
scheduler.stop()

# -- dependencies ------------------------------------------------------------------------
deps = DependencyScheduler(max_workers=2)
extract_id = deps.schedule(extract, name="extract")
transform_id = deps.schedule_with_deps(transform, depends_on=[extract_id], name="transform")
load_id = deps.schedule(load, name="load")
deps.add_dependency(load_id, [transform_id])
check(deps._check_dependencies(load_id) == DependencyStatus.WAITING, "load waits")
deps.start()
check(wait_until(lambda: deps.get_job(load_id).status == JobStatus.COMPLETED), "the chain ran")
check(deps._check_dependencies(load_id) == DependencyStatus.SATISFIED, "load satisfied")
deps.stop()
with events_lock:
    chain = [e for e in events if e in ("extract", "transform", "load")]
check(chain == ["extract", "transform", "load"], "dependencies ran in order")

# -- persistence with the state file the original wrote ----------------------------------
persistent = PersistentScheduler(state_path=STATE_FILE)
persistent.register_function("send_report", send_report)
persistent._load_state()
loaded = [j for j in persistent.list_jobs() if j.name == "nightly_report"]
check(len(loaded) == 1 and loaded[0].args == ("ops@example.com",), "stored job loaded")
persistent.start()
check(wait_until(lambda: loaded[0].status == JobStatus.COMPLETED), "the stored job ran")
with events_lock:
    check("report ops@example.com csv" in events, "with its stored arguments")
new_id = persistent.schedule(
    send_report,
    function_name="send_report",
    name="weekly",
    args=("board@example.com",),
    trigger=cron("0 9 * * 1"),
)
persistent.stop()
with open(STATE_FILE) as f:
    state = json.load(f)
saved = {j["id"]: j for j in state["jobs"]}
check("saved_at" in state and new_id in saved, "stop() saved the state")
check(
    saved[new_id]["function"] == "send_report" and saved[new_id]["args"] == ["board@example.com"],
    "the saved job names its function and arguments",
)

# -- a pipeline --------------------------------------------------------------------------
pipeline = JobPipeline(Scheduler())
pipeline.add_stage(extract).add_stage(transform, load)
results = asyncio.run(pipeline.run())
check(results == [[[3, 1, 2]], ["sorted", "loaded"]], "pipeline results per stage")

# -- small helpers -----------------------------------------------------------------------
recurrence = ScheduledRecurrence(every=2, unit="hours", on_days=["mon", "fri"])
check(recurrence.every == 2 and recurrence.at_time is None, "ScheduledRecurrence")
check(parse_cron("15 3 * * 0")["hour"] == "3", "parse_cron")
check(describe_cron("0 0 * * 0") == "Every Sunday at midnight", "describe_cron")
check(describe_cron("15 3 * * 0").startswith("Custom:"), "describe_cron custom")

print("ALL OK")
