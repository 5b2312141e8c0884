"""A graceful stop (SIGTERM) under load hands back every fire it will not run: a rolling
restart of three nodes, one by one, loses and doubles nothing and leaves nothing ``running``."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from .conftest import sql
from .harness import Cluster, expected_fires, plan_jobs

pytestmark = pytest.mark.postgres


def _owned(schema: str, node_pid: int) -> list[tuple[str, str]]:
    rows = sql(
        f"SELECT state, owner FROM \"{schema}\".fires WHERE state IN ('running', 'released')"
    )
    return [(r[0], r[1]) for r in rows if int(r[1].split(":")[-2]) == node_pid]


def _node_of(proc: subprocess.Popen[str], schema: str) -> str | None:
    if not sql(f"SELECT 1 FROM pg_tables WHERE schemaname = '{schema}' AND tablename = 'nodes'"):
        return None
    rows = sql(f'SELECT node_id FROM "{schema}".nodes')
    return next((r[0] for r in rows if int(r[0].split(":")[-2]) == proc.pid), None)


def test_rolling_restart_under_load_hands_back_every_claim_and_loses_nothing(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    cluster = Cluster(pg_dsn, schema, tmp_path, lease=5.0)
    stopped_logs: list[str] = []
    left_behind: list[list[tuple[str, str]]] = []
    try:
        nodes = cluster.start(3)
        start = time.time() + 1.0
        end = start + 11.0
        # 150 jobs at 1 s with their phases spread over the second: claims go on all the time,
        # so every stop finds fires claimed a moment ago and not started yet
        jobs = plan_jobs(
            start, end, intervals=150, seconds=1.0, sleep=0.05, on_crash="rerun", stagger=True
        )
        expected = expected_fires(jobs)
        cluster.go(jobs, until=end + 4.0)
        time.sleep(max(0.0, start + 1.0 - time.time()))
        registered = []
        for proc in nodes:
            registered.append(_node_of(proc, schema) is not None)  # in the nodes table
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)
            assert proc.returncode == 0, err[-2000:]
            stopped_logs.append(err)
            # right after the exit: nothing of that node is left running, and what it handed
            # back is taken by the other nodes at once (they are told by a NOTIFY)
            left = _owned(schema, proc.pid)
            running = [item for item in left if item[0] == "running"]
            taken_by = time.monotonic() + 1.0
            while left and time.monotonic() < taken_by:
                time.sleep(0.05)
                left = _owned(schema, proc.pid)
            left_behind.append(running + left)
            registered.append(_node_of(proc, schema) is None)  # and it left the table
            cluster.procs.remove(proc)
            cluster.start(1)
        errs = cluster.wait()
    finally:
        cluster.close()
    assert left_behind == [[], [], []], left_behind
    assert registered == [True] * 6
    audit = cluster.audit()
    runs = Counter((a[0], a[1]) for a in audit)
    doubled = {k: n for k, n in runs.items() if n > 1}
    assert doubled == {}, list(doubled.items())[:10]
    missing = expected - set(runs)
    states = Counter(state for state, _ in cluster.fires().values())
    assert missing == set(), (len(missing), sorted(missing)[:10], states)
    # each fire ran once, as a first attempt: nothing was recovered as if a node had died
    assert {a[2] for a in audit} == {1}
    assert not any(a[3] for a in audit)
    assert set(states) == {"succeeded"}, states
    for err in stopped_logs + errs:
        assert "Traceback" not in err, err[-3000:]
        assert "stopped renewing" not in err, err[-3000:]
        assert "lease lost" not in err, err[-3000:]
