"""docs/persistence.md: "after a restart (or a crash) each job is back where it was: its trigger,
arguments, run count, max_runs, last result or error, and its next fire". Proven here across
processes: a real scheduler process on a real file is SIGKILLed while its jobs fire, and a new
process carries on from what the file holds (kill_node.py is the application)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from asyncron.abc import StoredJob
from asyncron.stores import store_from_url

NODE = Path(__file__).with_name("kill_node.py")
# What the file may lag behind the engine after a kill: the journal's max_write_lag (0.5 s)
# plus a wide margin for a loaded machine (writes go through a thread and fsync).
MAX_LAG = 1.5


def _node(url: str, audit: Path, log: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(NODE.parent), *sys.path])}
    with log.open("a") as err:
        return subprocess.Popen(
            [sys.executable, str(NODE), url, str(audit), *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )


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
    url = f"{kind}:///{tmp_path / ('state.json' if kind == 'json' else 'jobs.db')}"
    audit, log = tmp_path / "audit.txt", tmp_path / "nodes.log"
    audit.touch()

    first = _node(url, audit, log, "schedule")
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "ready", (
            log.read_text()[-3000:]
        )
        deadline = time.monotonic() + 20
        while len(_audit(audit)) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        killed_at = time.time()
        first.send_signal(signal.SIGKILL)  # no clean-up, no final flush
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
        if first.stdout is not None:
            first.stdout.close()
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
