"""Group A: crashes at each fault point, connections killed by the server, clocks ±1 h off."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from .conftest import sql
from .harness import Cluster, duplicates, expected_fires, plan_jobs
from .test_recovery import check_recovery

pytestmark = pytest.mark.postgres

POINTS = ["after_claim", "after_advance", "before_dispatch", "after_start", "before_finish"]


def test_a_crash_at_each_fault_point_loses_and_doubles_no_fire(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    start = time.time() + 3.0
    end = start + 3.0
    jobs = plan_jobs(
        start,
        end,
        intervals=10,
        seconds=0.25,
        sleep=0.1,
        on_crash="rerun",
        prefix="r",
        overlap="allow_all",
        stagger=True,
    ) + plan_jobs(
        start,
        end,
        intervals=10,
        seconds=0.25,
        sleep=0.1,
        on_crash="abandon",
        prefix="a",
        overlap="allow_all",
        stagger=True,
    )
    # Staggered phases: each fault point is reached once per claim batch or per fire, so every
    # faulty node reaches its third hit well before the end even when it loses most claim races.
    cluster = Cluster(pg_dsn, schema, tmp_path, jobs, until=end + 5.0, lease=1.0)
    try:
        cluster.start(1)  # a healthy node survives them all
        faulty = {
            point: cluster.start(1, env={"ASYNCRON_FAULTPOINT": f"{point}:exit@3"}, wait=False)[0]
            for point in [*POINTS, "before_renew"]
        }
        for proc in faulty.values():
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        cluster.wait()
    finally:
        cluster.close()
    for point, proc in faulty.items():
        assert proc.returncode == 70, f"{point}: exit code {proc.returncode}"
    # a node recovering a fire may itself be one of the six that crash: a third attempt
    check_recovery(cluster, jobs, max_attempt=len(faulty))


def _terminate_scheduler_connections(schema: str) -> int:
    rows = sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        f"asyncron:{schema}",
    )
    return len(rows)


def test_scheduler_connections_killed_by_the_server_neither_double_nor_lose_fires(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    start = time.time() + 3.0
    end = start + 3.0
    jobs = plan_jobs(start, end, intervals=60, seconds=0.1, crons=10)
    expected = expected_fires(jobs)
    cluster = Cluster(pg_dsn, schema, tmp_path, jobs, until=end + 4.0, lease=1.0)
    killed: list[int] = []

    def chaos() -> None:
        for at in (0.7, 1.5, 2.2):
            time.sleep(max(0.0, start + at - time.time()))
            killed.append(_terminate_scheduler_connections(schema))

    try:
        cluster.start(3)
        thread = threading.Thread(target=chaos)
        thread.start()
        errs = cluster.wait()
        thread.join()
    finally:
        cluster.close()
    assert all(k > 0 for k in killed), killed
    audit = cluster.audit()
    assert duplicates(audit) == {}
    seen = {(a[0], a[1]) for a in audit}
    assert len(seen) == len(audit)
    assert seen == expected, (len(expected - seen), errs[0][-2000:])
    # each outage is logged once per activity, not once per fire
    assert all(e.count("retrying with backoff") <= 20 for e in errs)


def test_nodes_with_clocks_one_hour_off_neither_double_nor_lose_fires(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    start = time.time() + 3.0
    end = start + 2.0
    jobs = plan_jobs(start, end, intervals=40, seconds=0.2, crons=10)
    expected = expected_fires(jobs)
    cluster = Cluster(pg_dsn, schema, tmp_path, jobs, until=end + 3.5, lease=1.0)
    try:
        cluster.start(1, offset=3600.0)
        cluster.start(1, offset=-3600.0)
        cluster.start(1, offset=0.0)
        errs = cluster.wait()
    finally:
        cluster.close()
    audit = cluster.audit()
    assert duplicates(audit) == {}
    seen = {(a[0], a[1]) for a in audit}
    assert len(seen) == len(audit)
    assert seen == expected, (len(expected - seen), errs)
    # the nodes an hour off say so once; only the node with the right clock claimed fires
    assert errs[0].count("differs from the database's by +3600") == 1, errs[0][-2000:]
    assert errs[1].count("differs from the database's by -3600") == 1, errs[1][-2000:]
    owners = {r[0].split(":")[-2] for r in sql(f'SELECT DISTINCT owner FROM "{schema}".fires')}
    assert owners == {str(cluster.procs[2].pid)}
