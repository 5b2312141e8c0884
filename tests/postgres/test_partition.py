"""A network partition of one node: its traffic to the server is black-holed (sockets open,
nothing forwarded), so the server keeps its session and lock, and only the lease can tell.
The cut-off node must stop its runs before its leases can lapse; the others re-run its fires
once the leases have expired; never two attempts of one fire at once, never two runs of a
``skip`` job at once."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from pathlib import Path

import pytest

from .conftest import BlackHoleProxy, sql
from .harness import Cluster, plan_jobs

pytestmark = pytest.mark.postgres

LEASE = 3.0


def test_a_partitioned_node_stops_its_runs_before_others_rerun_them_after_the_lease(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    proxy = BlackHoleProxy().start()
    cluster = Cluster(pg_dsn, schema, tmp_path, lease=LEASE, track_end=True)
    try:
        healthy = cluster.start(2)
        # (the audit rows still go straight to the server: only the store is cut off)
        cut_off = cluster.start(1, env={"ASYNCRON_TEST_STORE_DSN": proxy.dsn(pg_dsn)})[0]
        start = time.time() + 1.0
        end = start + 9.0
        jobs = plan_jobs(
            start, end, intervals=24, seconds=1.0, sleep=0.8, on_crash="rerun", stagger=True
        )
        cluster.go(jobs, until=end + 3.0)
        time.sleep(max(0.0, start + 2.5 - time.time()))
        node = next(
            r[0]
            for r in sql(f'SELECT node_id FROM "{schema}".nodes')
            if int(r[0].split(":")[-2]) == cut_off.pid
        )
        # cut it off while it runs fires (behind the proxy it loses some claim races: wait,
        # up to 3 s, for an instant it holds one)
        held: set[tuple[str, int]] = set()
        while not held and time.time() < start + 5.5:
            held = {
                (r[0], int(r[1]))
                for r in sql(
                    f'SELECT job_id, fire_us FROM "{schema}".fires '
                    "WHERE owner = $1 AND state = 'running'",
                    node,
                )
            }
            if not held:
                time.sleep(0.05)
        cut_at = time.time()
        proxy.cut()
        errs = []
        for proc in healthy:
            _, err = proc.communicate(timeout=end + 25 - time.time())
            errs.append(err)
    finally:
        cluster.close()
        proxy.close()
    assert held, "the node to cut off held no running fire"
    # a run that ended in the moment between the look and the cut was recorded by the node
    # itself (its outcome got through): nothing to take over there
    finished_before_cut = {
        (r[0], int(r[1]))
        for r in sql(
            f'SELECT job_id, fire_us FROM "{schema}".fires WHERE owner = $1 '
            "AND previous_owner IS NULL AND attempt = 1 AND state = 'succeeded' "
            "AND job_id = ANY($2::text[])",
            node,
            [job for job, _ in held],
        )
    }
    held -= finished_before_cut
    assert held, f"every fire the node held ended before the cut: {finished_before_cut}"
    # its fires were taken over by the others only after their leases expired (the server
    # still kept the node's session), and re-run there as attempt 2
    taken = sql(
        f"SELECT job_id, fire_us, extract(epoch FROM recovered_at)::float8, attempt "
        f'FROM "{schema}".fires WHERE previous_owner = $1 AND recovered_at IS NOT NULL',
        node,
    )
    assert {(r[0], int(r[1])) for r in taken} >= held, (held, taken)
    delays = sorted(float(r[2]) - cut_at for r in taken)
    print(f"take-over after the cut: {[round(d, 2) for d in delays]}")
    assert delays[0] > 0.5 and delays[-1] <= LEASE + 3.0, delays
    # never two attempts of one fire at once, never two runs of one job at once: the cut-off
    # node stopped its runs (recorded through its own audit connection) before the take-over
    rows = sql(
        "SELECT job_id, fire_us, attempt, pid, extract(epoch FROM at)::float8, "
        f'extract(epoch FROM coalesce(ended, cancelled))::float8 FROM "{schema}".audit'
    )
    by_job: dict[str, list[tuple[float, float, int, int, int]]] = defaultdict(list)
    for job_id, fire_us, attempt, pid, began, ended in rows:
        assert ended is not None or int(pid) == cut_off.pid, (job_id, fire_us, attempt)
        finish = float(ended) if ended is not None else float("inf")
        by_job[job_id].append((float(began), finish, int(fire_us), int(attempt), int(pid)))
    overlaps = []
    for job_id, spans in by_job.items():
        spans.sort()
        for a, b in itertools.pairwise(spans):
            if b[0] < a[1]:
                overlaps.append((job_id, a, b))
    assert overlaps == [], overlaps[:5]
    reran = {(r[0], int(r[1])) for r in rows if int(r[2]) == 2}
    assert held <= reran, held - reran
    for err in errs:
        assert "Traceback" not in err, err[-3000:]
