"""docs/persistence.md: "after a restart (or a crash) each job is back where it was: its trigger,
arguments, run count, max_runs, last result or error, and its next fire". Proven here across
processes: a real scheduler process on a real file is SIGKILLed while its jobs fire, and a new
process carries on from what the file holds (kill_node.py is the application)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from asyncron.abc import StoredJob
from asyncron.stores import store_from_url
from helpers import store_url

NODE = Path(__file__).with_name("kill_node.py")
CRASH_NODE = Path(__file__).with_name("crash_node.py")
ENV = "ASYNCRON_FAULTPOINT"  # docs/reliability.md: the fault points a test may arm
# What the file may lag behind the engine after a kill: the journal's max_write_lag (0.5 s)
# plus a wide margin for a loaded machine (writes go through a thread and fsync).
MAX_LAG = 1.5


def _node(
    url: str, audit: Path, log: Path, *args: str, script: Path = NODE, fault: str = ""
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(NODE.parent), *sys.path])}
    env.pop(ENV, None)
    if fault:
        env[ENV] = fault
    with log.open("a") as err:
        return subprocess.Popen(
            [sys.executable, str(script), url, str(audit), *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )


def _poll_until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    """Return once ``condition()`` holds (polled every 10 ms), or after ``seconds``; the
    caller's asserts then say what was missing."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def _reap(node: subprocess.Popen[str]) -> None:
    """Make sure ``node`` is gone (killed if a test failed before killing it)."""
    if node.poll() is None:
        node.kill()
        node.wait(timeout=10)
    if node.stdout is not None:
        node.stdout.close()


def _audit(audit: Path) -> list[tuple[int, float, float]]:
    """(pid, nominal fire time, wall time at the end of the run) per beat run."""
    rows = [line.split() for line in audit.read_text().splitlines()]
    return [(int(pid), float(fire), float(wall)) for pid, fire, wall, _ in rows]


def _rows_on_disk(url: str) -> dict[str, StoredJob]:
    async def read() -> dict[str, StoredJob]:
        store = store_from_url(url)
        await store.open()
        try:
            return {row.id: row for row in await store.list_jobs()}
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_jobs_survive_a_sigkill_with_their_history_in_a_new_process(
    tmp_path: Path, kind: str
) -> None:
    url = store_url(kind, tmp_path)
    audit, log = tmp_path / "audit.txt", tmp_path / "nodes.log"
    audit.touch()

    first = _node(url, audit, log, "schedule")
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "ready", (
            log.read_text()[-3000:]
        )
        _poll_until(lambda: len(_audit(audit)) >= 10)
        killed_at = time.time()
        first.send_signal(signal.SIGKILL)  # no clean-up, no final flush
        first.wait(timeout=10)
    finally:
        _reap(first)
    assert first.returncode == -signal.SIGKILL
    before = _audit(audit)
    assert len(before) >= 10, log.read_text()[-3000:]

    # What the file holds after the kill: every run that ended well before the kill, and
    # nothing that did not happen; the count and the last result come from the same write.
    disk = _rows_on_disk(url)
    beat, flaky = disk["beat"], disk["flaky"]
    settled = sum(1 for _, _, wall in before if wall < killed_at - MAX_LAG)
    assert settled <= beat.run_count <= len(before)
    assert beat.result == beat.run_count and beat.failure_count == 0
    assert beat.last_run is not None and beat.next_run is not None
    assert flaky.run_count == flaky.failure_count >= 1
    assert flaky.error is not None and flaky.error.startswith("ValueError: flaky f")

    # A new process: the jobs are back as they were, and go on from there.
    second = _node(url, audit, log, "resume", "3")
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, log.read_text()[-3000:]
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    jobs = report["jobs"]
    after = _audit(audit)
    new_runs = [row for row in after if row[0] == second.pid]
    assert len(new_runs) >= 3

    b = jobs["beat"]
    assert (b["name"], b["trigger"], b["args"], b["max_runs"]) == (
        "heartbeat",
        "IntervalTrigger(interval=datetime.timedelta(microseconds=100000))",
        ["b"],
        100_000,
    )
    interrupted = 1 if "beat" in report["interrupted"] else 0
    # the saved count, plus a run the kill cut short (recorded as a failed run), plus the new
    # process's own runs: nothing counted twice, nothing forgotten
    assert b["run_count"] == beat.run_count + interrupted + len(new_runs)
    assert b["failure_count"] == interrupted
    # the sequence number the job returns counts every run ever made, in both processes
    assert b["result"] == len(after)
    assert b["status"] == "paused"  # as kill_node left it, after its runs
    f = jobs["flaky"]
    assert f["run_count"] >= flaky.run_count and f["failure_count"] == f["run_count"]

    # No fire ran twice across the kill and restart (at most once: on_crash="abandon").
    fires = [fire for _, fire, _ in after]
    assert len(fires) == len(set(fires))
    assert min(fire for _, fire, _ in new_runs) > max(fire for _, fire, _ in before)
    # The restarted file is consistent with what the second process showed before stopping.
    disk = _rows_on_disk(url)
    assert disk["beat"].run_count == b["run_count"] and disk["beat"].result == b["result"]


# -- a run killed at its start, in its middle and at its end -----------------------------------
#
# One hourly job, its first fire 0.1 s after a scheduler process started; that process dies
# during the run: while its start is being written (``gate``: the fault point mid_store_write
# at the second write, the first being the job's own), at its first statement (the job
# SIGKILLs its own process), in its middle (the test SIGKILLs it while the job sleeps) or at
# its end (the job returned; the fault point ``before_finish`` kills the process before the
# outcome is written). Then the test restarts the
# scheduler on the same file, as an application would, and checks what it shows and how often
# the job's body ran (crash_jobs.py appends a line at the start and at the end of each run).


def _lines(audit: Path) -> list[tuple[str, int, float]]:
    rows = [line.split() for line in audit.read_text().splitlines()]
    return [(what, int(pid), float(fire)) for what, pid, fire in rows]


def _kill_during_the_run(
    tmp_path: Path, kind: str, where: str, on_crash: str, how: str, body: str
) -> tuple[str, Path, float, int]:
    """Start crash_node.py and let its run die at ``where``: (url, audit, fire, pid)."""
    url = store_url(kind, tmp_path)
    audit, log = tmp_path / "audit.txt", tmp_path / "node.log"
    audit.touch()
    fault = {"end": "before_finish:kill", "gate": "mid_store_write:kill@2"}.get(where, "")
    node = _node(url, audit, log, where, on_crash, how, body, script=CRASH_NODE, fault=fault)
    try:
        assert node.stdout is not None
        ready = node.stdout.readline().split()
        assert ready[:1] == ["ready"], log.read_text()[-3000:]
        if where == "middle":
            _poll_until(lambda: bool(_lines(audit)))
            time.sleep(0.1)  # into the run
            node.send_signal(signal.SIGKILL)
        node.wait(timeout=20)
    finally:
        _reap(node)
    assert node.returncode == -signal.SIGKILL, log.read_text()[-3000:]
    return url, audit, float(ready[1]), node.pid


async def _restart(url: str, audit: Path, where: str, on_crash: str, how: str) -> dict[str, Any]:
    """Open the file again in this process, as the application would after the crash; wait
    for the re-run when one is due; report what the scheduler shows."""
    import crash_jobs
    import crash_node

    from asyncron import AsyncScheduler
    from asyncron.events import Event, RunSucceeded
    from asyncron.stores import StoreJournal

    crash_jobs.AUDIT[:] = [audit]
    journal = StoreJournal(
        store_from_url(url),
        registry=crash_node.registry(),
        on_crash="abandon" if how == "job" else on_crash,  # type: ignore[arg-type]
    )
    ran = asyncio.Event()

    def succeeded(event: Event) -> None:
        ran.set()

    scheduler = AsyncScheduler(store=journal)
    scheduler.subscribe(succeeded, types=RunSucceeded)
    async with scheduler:
        shown_at_start = await scheduler.get_job("work")
        if on_crash == "rerun" or where == "gate":
            await asyncio.wait_for(ran.wait(), 20)
        else:  # give a wrong re-run the time to happen (it would start at once)
            await asyncio.sleep(0.2)
        [job] = await scheduler.list_jobs()
        history = await scheduler.get_run_history("work")
    return {
        "at_start": shown_at_start,
        "job": job,
        "history": history,
        "interrupted": journal.interrupted,
    }


CRASHES = [  # (where, body, on_crash, set on): each body kind and each way to set on_crash
    ("gate", "async", "abandon", "journal"),
    ("start", "async", "abandon", "journal"),
    ("start", "sync", "abandon", "journal"),
    ("middle", "async", "abandon", "journal"),
    ("end", "sync", "abandon", "journal"),
    ("start", "async", "rerun", "journal"),
    ("middle", "sync", "rerun", "job"),
    ("end", "async", "rerun", "job"),
]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("kind", ["json", "sqlite"])
@pytest.mark.parametrize(("where", "body", "on_crash", "how"), CRASHES)
def test_a_run_killed_at_its_start_middle_or_end_runs_as_on_crash_promises(
    tmp_path: Path,
    kind: str,
    where: str,
    body: str,
    on_crash: str,
    how: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from asyncron import JobStatus

    url, audit, fire, pid = _kill_during_the_run(tmp_path, kind, where, on_crash, how, body)
    fire_at = datetime.fromtimestamp(fire, UTC)
    before = _lines(audit)
    # the killed process started the run once (not at all when killed at the gate); it ended
    # only when killed at the end
    assert before == {
        "gate": [],
        "end": [("start", pid, fire), ("end", pid, fire)],
    }.get(where, [("start", pid, fire)])

    with caplog.at_level(logging.WARNING, "asyncron"):
        shown = asyncio.run(_restart(url, audit, where, on_crash, how))
    job, at_start = shown["job"], shown["at_start"]
    assert job.next_run == fire_at + timedelta(hours=1)  # the fire is not due again
    assert job.status is JobStatus.PENDING  # not left "running"
    after = _lines(audit)[len(before) :]
    me = os.getpid()
    if where == "gate":
        # its start was not on disk, so neither was its next fire: the file shows the fire
        # still due, and the misfire policy (by default: once, late) runs it now, once
        assert shown["interrupted"] == []
        assert after == [("start", me, fire), ("end", me, fire)]
        [record] = shown["history"]
        assert record.scheduled_at == fire_at and record.outcome == "succeeded"
        assert (job.run_count, job.failure_count, job.error, job.result) == (1, 0, None, where)
    elif on_crash == "abandon":
        # at most once: never run again, recorded as a failed run (even when killed after
        # the job had returned: its outcome was not written yet)
        assert after == []
        assert shown["interrupted"] == [("work", fire_at)]  # its start was written before it ran
        assert (job.run_count, job.failure_count) == (1, 1)
        assert job.error is not None and job.error.startswith("Interrupted: ")
        assert fire_at.isoformat() in job.error and "on_crash='abandon'" in job.error
        assert at_start is not None and at_start.error == job.error
        assert shown["history"] == []
        assert f"job {job.name!r} (work): {job.error}" in caplog.messages  # said so in the log
    else:
        # at least once: run once more, for the same nominal fire time (its idempotency key)
        # its start is written behind the run (no wait): a kill before that write makes the
        # fire look missed rather than interrupted; either way it runs once more
        assert shown["interrupted"] in ([("work", fire_at)], [])
        if shown["interrupted"]:
            assert any("interrupted by a crash; running it again" in m for m in caplog.messages)
        assert after == [("start", me, fire), ("end", me, fire)]
        [record] = shown["history"]
        assert record.scheduled_at == fire_at and record.outcome == "succeeded"
        assert (job.run_count, job.failure_count, job.error) == (1, 0, None)
        assert job.result == where
    # the file says the same as the scheduler did
    row = _rows_on_disk(url)["work"]
    assert (row.run_count, row.failure_count, row.error) == (
        job.run_count,
        job.failure_count,
        job.error,
    )
    assert row.running_fire is None and row.status == "pending"
