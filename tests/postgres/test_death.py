"""A SIGKILLed node is seen dead within about ``node_timeout`` (1.2 s), not after its lease.

- kill -9 of a node with runs in flight: every fire it was running is re-run by a survivor
  within 2 s of the kill, although the lease is 10 s (the dead process's session ended, so the
  server freed its advisory lock), and the interrupted jobs' later fires are blocked no longer;
- the chaos run: 3 node processes, 200 jobs at 1 s, two SIGKILLs and a graceful restart. Every
  expected fire runs (except at most 2 per interrupted job), no two runs of a job overlap, no
  attempt of a fire overlaps another, nothing is left ``running``, each recovery takes <= 2 s,
  and no node logs a traceback. By default it runs about 60 s (52 s of fires, then the nodes
  drain); ``ASYNCRON_SOAK=1`` adds a 5-minute run with 10 kills and 5 graceful restarts.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from .conftest import sql
from .harness import Cluster, expected_fires, plan_jobs

pytestmark = pytest.mark.postgres

#: The bound asserted on the time from SIGKILL to the dead node's fires being taken over.
#: The design gives node_timeout (1.2 s) + one heartbeat period + one sweep (0.2 s each);
#: 2 s leaves room for a machine loaded by other test runs.
RECOVERY_BOUND = 2.0


def _owner_of(proc: subprocess.Popen[str], schema: str) -> str | None:
    rows = sql(f'SELECT node_id FROM "{schema}".nodes')
    return next((r[0] for r in rows if int(r[0].split(":")[-2]) == proc.pid), None)


def _recovery_times(schema: str, node: str, killed_at: float) -> list[float]:
    """Seconds from the kill to each take-over of a fire the killed node held."""
    rows = sql(
        f'SELECT extract(epoch FROM recovered_at)::float8 FROM "{schema}".fires '
        f"WHERE previous_owner = $1 AND recovered_at IS NOT NULL",
        node,
    )
    return [float(r[0]) - killed_at for r in rows]


def test_a_killed_node_is_seen_dead_in_under_two_seconds_not_after_its_lease(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    cluster = Cluster(pg_dsn, schema, tmp_path, lease=10.0)
    try:
        live = cluster.start(2)
        start = time.time() + 1.0
        end = start + 7.0
        jobs = plan_jobs(
            start, end, intervals=30, seconds=1.0, sleep=0.6, on_crash="rerun", stagger=True
        )
        # the lease is 10 s (the default): only the node's session can tell so fast
        cluster.go(jobs, until=end + 3.0)
        time.sleep(max(0.0, start + 2.3 - time.time()))
        victim = live[cluster.busiest(live)[0]]
        node = _owner_of(victim, schema)
        assert node is not None
        held = sql(
            f'SELECT job_id, fire_us FROM "{schema}".fires WHERE owner = $1 '
            f"AND state = 'running'",
            node,
        )
        killed_at = time.time()
        cluster.kill(victim)
        errs = cluster.wait()  # (the victim's pipes are closed here too)
    finally:
        cluster.close()
    times = _recovery_times(schema, node, killed_at)
    print(f"recovery after SIGKILL: {sorted(round(t, 3) for t in times)}")
    assert held and times, (held, times)
    assert max(times) <= RECOVERY_BOUND, sorted(times)
    audit = cluster.audit()
    reran = {(a[0], a[1]) for a in audit if a[2] == 2 and a[3]}
    # every fire the dead node was running (and every one it had just claimed) ran again
    assert {(r[0], int(r[1])) for r in held} <= reran | {(a[0], a[1]) for a in audit}
    assert len(reran) >= len(held) - 2, (held, reran)
    # later fires of the interrupted jobs were blocked at most about as long
    runs = {(a[0], a[1]) for a in audit}
    lost = expected_fires(jobs) - runs
    missing = Counter(job for job, _ in lost)
    fires = cluster.fires()
    detail = sorted((round(f / 1e6 - start, 2), j, fires.get((j, f))) for j, f in lost)
    assert all(n <= 2 for n in missing.values()), (missing, killed_at - start, detail[:30])
    rows = sql(f"SELECT count(*) FROM \"{schema}\".fires WHERE state IN ('running', 'released')")
    assert rows[0][0] == 0
    assert not any("Traceback" in e for e in errs), errs


def _chaos(
    pg_dsn: str, schema: str, tmp_path: Path, *, seconds: float, events: list[tuple[float, str]]
) -> dict[str, object]:
    cluster = Cluster(pg_dsn, schema, tmp_path, lease=10.0, track_end=True)
    kills: list[tuple[str, float]] = []  # (node id, when)
    killed_pids: dict[int, float] = {}
    logs: list[str] = []
    try:
        live = cluster.start(3)
        start = time.time() + 1.0
        end = start + seconds
        jobs = plan_jobs(
            start, end, intervals=200, seconds=1.0, sleep=0.1, on_crash="rerun", stagger=True
        )
        expected = expected_fires(jobs)
        cluster.go(jobs, until=end + 3.0)
        for at, what in events:
            time.sleep(max(0.0, start + at - time.time()))
            victim = live.pop(cluster.busiest(live)[0])
            node = _owner_of(victim, schema)
            assert node is not None
            if what == "kill":
                kills.append((node, time.time()))
                killed_pids[victim.pid] = time.time()
                cluster.kill(victim)
                _, err = victim.communicate(timeout=10)
                logs.append(err)
            else:
                victim.send_signal(signal.SIGTERM)
                _, err = victim.communicate(timeout=20)
                assert victim.returncode == 0, err[-3000:]
                logs.append(err)
            cluster.procs.remove(victim)
            live.extend(cluster.start(1))
        logs.extend(cluster.wait())
    finally:
        cluster.close()
    for err in logs:
        assert "Traceback" not in err, err[-3000:]
    # recovery after each SIGKILL
    recovery = [max(_recovery_times(schema, node, at), default=0.0) for node, at in kills]
    assert all(r <= RECOVERY_BOUND for r in recovery), recovery
    # nothing left running or waiting to be taken
    states = Counter(r[0] for r in sql(f'SELECT state FROM "{schema}".fires'))
    assert not {"running", "released"} & set(states), states
    # no overlap: the runs of one job (overlap=skip) never overlap, whichever attempt; a run
    # cut short by a SIGKILL ended at the kill
    rows = sql(
        "SELECT job_id, fire_us, attempt, pid, extract(epoch FROM at)::float8, "
        f'extract(epoch FROM coalesce(ended, cancelled))::float8 FROM "{schema}".audit'
    )
    by_job: dict[str, list[tuple[float, float, int, int]]] = defaultdict(list)
    for job_id, fire_us, attempt, pid, began, ended in rows:
        if ended is None:
            ended = killed_pids.get(int(pid))
            assert ended is not None, (job_id, fire_us, attempt, pid)
        by_job[job_id].append((float(began), float(ended), int(fire_us), int(attempt)))
    overlaps = []
    for job_id, spans in by_job.items():
        spans.sort()
        for a, b in itertools.pairwise(spans):
            if b[0] < a[1]:
                overlaps.append((job_id, a, b))
    assert overlaps == [], overlaps[:5]
    # lost fires: none, except at most 2 per job interrupted by a kill
    interrupted = {
        r[0]
        for r in sql(
            f'SELECT job_id FROM "{schema}".fires WHERE previous_owner = ANY($1::text[])',
            [node for node, _ in kills],
        )
    }
    ran = {(r[0], int(r[1])) for r in rows}
    lost = expected - ran
    missing = Counter(job for job, _ in lost)
    info = {
        (r[0], int(r[1])): (r[2], r[3], r[4])
        for r in sql(f'SELECT job_id, fire_us, state, owner, error FROM "{schema}".fires')
    }
    detail = sorted((round(f / 1e6 - start, 2), j, info.get((j, f))) for j, f in lost)
    when = [round(at - start, 2) for _, at in kills]
    assert set(missing) <= interrupted, (when, detail[:40])
    assert all(n <= 2 for n in missing.values()), (when, dict(missing), detail[:40])
    return {
        "expected": len(expected),
        "ran": len(ran),
        "lost": sum(missing.values()),
        "interrupted_jobs": len(interrupted),
        "recovery_s": [round(r, 3) for r in recovery],
        "states": dict(states),
    }


def test_chaos_three_nodes_two_kills_and_a_graceful_restart(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    report = _chaos(
        pg_dsn,
        schema,
        tmp_path,
        seconds=52.0,
        events=[(8.0, "kill"), (24.0, "term"), (40.0, "kill")],
    )
    print("chaos:", json.dumps(report))


@pytest.mark.skipif(os.environ.get("ASYNCRON_SOAK") != "1", reason="soak run: ASYNCRON_SOAK=1")
def test_soak_chaos_five_minutes_ten_kills_five_restarts(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("ASYNCRON_SOAK_SEED", "18")))
    events = []
    at = 5.0
    for k in range(15):
        events.append((at, "term" if k % 3 == 2 else "kill"))
        at += 15.0 + rng.random() * 5.0
    report = _chaos(pg_dsn, schema, tmp_path, seconds=at + 10.0, events=events)
    Path(os.environ.get("ASYNCRON_SOAK_REPORT", tmp_path / "soak.json")).write_text(
        json.dumps(report)
    )
    print("soak chaos:", json.dumps(report))
