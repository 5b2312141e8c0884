"""Group A scenarios: several scheduler processes on one database, each fire run once."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from pathlib import Path

import pytest

from .harness import Cluster, check_each_fire_once, duplicates, expected_fires, plan_jobs

pytestmark = pytest.mark.postgres


def test_three_nodes_run_each_of_2000_fires_exactly_once(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    """Each of 2,000 fires (200 jobs at 5 fires/s, ~1,000 fires/s) is claimed by one node and
    run there once. The jobs keep the default overlap="skip": on a loaded machine a run can
    still be going when its job's next fire comes due (a fire is due every 0.2 s), and then
    that fire is recorded as skipped, never lost; each such skip must have a run of its job
    going on at the time, whose outcome was written promptly after it ended."""
    # (no fault here: a lease long enough that a loaded machine's stalls do not expire one)
    cluster = Cluster(pg_dsn, schema, tmp_path, lease=5.0, track_end=True)
    try:
        cluster.start(3)
        start = time.time() + 1.0
        end = start + 2.4
        jobs = plan_jobs(start, end, intervals=150, seconds=0.2, crons=50, cron="* * * * * *")
        expected = expected_fires(jobs)
        assert len(expected) >= 2000
        cluster.go(jobs, until=end + 3.5)
        errs = cluster.wait()
    finally:
        cluster.close()
    ran, skipped = check_each_fire_once(cluster, expected, errs)
    print(f"{ran} fires ran, {skipped} were skipped (the job's previous run was going)")


def test_a_job_that_must_not_overlap_runs_one_fire_at_a_time_across_the_cluster(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    """overlap="skip" (the default) holds across nodes: while a run of the job is going on one
    node, the fires that come due are recorded as skipped by whichever node claims them."""
    cluster = Cluster(pg_dsn, schema, tmp_path, track_end=True)
    try:
        cluster.start(3)
        start = time.time() + 1.0
        end = start + 3.0
        jobs = plan_jobs(start, end, intervals=6, seconds=0.25, sleep=0.6)  # overlap="skip"
        expected = expected_fires(jobs)
        cluster.go(jobs, until=end + 3.0)
        errs = cluster.wait()
    finally:
        cluster.close()
    fires = cluster.fires()
    # every fire was claimed once, by one node: run or recorded as skipped
    assert expected <= set(fires), (sorted(expected - set(fires))[:5], errs[0][-2000:])
    states = Counter(fires[k][0] for k in expected)
    assert set(states) <= {"succeeded", "skipped"}, states
    assert states["skipped"] > 0 and states["succeeded"] > 0, states
    # the runs of one job never overlap in time, whichever nodes ran them
    spans = cluster.spans()
    assert duplicates(cluster.audit()) == {}
    ran = {(s[0], s[1]) for s in spans}
    assert ran == {k for k in expected if fires[k][0] == "succeeded"}
    for job in jobs:
        mine = sorted((s[3], s[4]) for s in spans if s[0] == job["id"])
        for (_, first_end), (second_start, _) in itertools.pairwise(mine):
            assert first_end is not None and first_end <= second_start, (job["id"], mine)


def test_buffered_fires_are_claimed_too_so_none_runs_twice(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    """overlap="buffer_one" on 3 nodes: a fire buffered behind a run on one node is claimed
    before it runs there, so a fire that another node already ran is not run again."""
    cluster = Cluster(pg_dsn, schema, tmp_path)
    try:
        cluster.start(3)
        start = time.time() + 1.0
        end = start + 3.0
        jobs = plan_jobs(start, end, intervals=6, seconds=0.25, sleep=0.4, overlap="buffer_one")
        expected = expected_fires(jobs)
        cluster.go(jobs, until=end + 3.0)
        errs = cluster.wait()
    finally:
        cluster.close()
    audit = cluster.audit()
    assert duplicates(audit) == {}, errs[0][-2000:]
    seen = Counter((a[0], a[1]) for a in audit)
    assert max(seen.values()) == 1
    # every fire was claimed once by one node and ran there (buffered runs start late)
    fires = cluster.fires()
    assert expected <= set(fires)
    assert set(seen) <= expected
