"""The second specification's usage: a scheduler driven by your own loop, handing due callbacks
to a dispatcher, in test mode.

Run it:  python examples/seed_dispatcher.py
It drives the loop for ASYNCRON_EXAMPLE_SECONDS seconds (default 3), then stops.

``Scheduler(dispatcher)`` takes a ``concurrent.futures.Executor`` or any object with
``submit(fn, *args)`` or ``dispatch(fn)``; ``run_pending()`` hands every due callback to it and
waits for them. ``test_mode = True`` stores callbacks in plain form (no keyring needed); the
default, production mode, keeps stored callbacks encrypted and authenticated.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asyncron import Scheduler

SECONDS = float(os.environ.get("ASYNCRON_EXAMPLE_SECONDS", "3"))
runs: dict[str, int] = {}
runs_lock = threading.Lock()


def heartbeat() -> str:
    with runs_lock:
        runs["heartbeat"] = runs.get("heartbeat", 0) + 1
    return f"alive in {threading.current_thread().name}"


def rotate_logs() -> None:
    with runs_lock:
        runs["rotate_logs"] = runs.get("rotate_logs", 0) + 1


dispatcher = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dispatcher")
scheduler = Scheduler(dispatcher)
scheduler.test_mode = True

heartbeat_id = scheduler.register_task("heartbeat", "* * * * * *", heartbeat)  # every second
scheduler.register_task("rotate_logs", "0 3 * * *", rotate_logs)  # 03:00 every day

deadline = time.monotonic() + SECONDS
total = 0
while time.monotonic() < deadline:  # the application's own main loop
    total += scheduler.run_pending()
    time.sleep(0.05)

job = scheduler.get_job(heartbeat_id)
assert job is not None
print(f"run_pending ran {total} callback(s); heartbeat ran {runs.get('heartbeat', 0)} time(s)")
print(f"heartbeat: {job.status.value}, last result {job.result!r}")
print(f"rotate_logs ran {runs.get('rotate_logs', 0)} time(s) (next at 03:00)")
scheduler.stop()
dispatcher.shutdown()
print("stopped")
