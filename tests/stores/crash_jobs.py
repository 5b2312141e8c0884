"""Job bodies for the crash tests in test_kill_restart.py (stored by registered name).

Each run appends ``start <pid> <nominal fire time>`` to the audit file, then, in a process that
crash_node.py started, dies the way the run's argument says (``start``: SIGKILL at once;
``middle``: sleeps until the test kills it), and appends ``end <pid> <fire time>`` when it
returns. In any other process (the test's restart) a run just starts and ends.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from asyncron import current_run

#: The audit file (crash_node.py sets it from its arguments; the tests set it too).
AUDIT: list[Path] = []
#: True in the process crash_node.py runs: there, runs die as their argument says.
DOOMED: list[bool] = [False]


def _note(what: str) -> None:
    run = current_run()
    assert run is not None
    with AUDIT[0].open("a") as f:
        f.write(f"{what} {os.getpid()} {run.scheduled_at.timestamp()}\n")


async def work(where: str) -> str:
    _note("start")
    if DOOMED[0] and where == "start":
        os.kill(os.getpid(), signal.SIGKILL)
    if DOOMED[0] and where == "middle":
        await asyncio.sleep(60)  # the test kills the process meanwhile
    _note("end")
    return where


def work_sync(where: str) -> str:
    _note("start")
    if DOOMED[0] and where == "start":
        os.kill(os.getpid(), signal.SIGKILL)
    if DOOMED[0] and where == "middle":
        time.sleep(60)  # the test kills the process meanwhile
    _note("end")
    return where
