"""Group A scenarios: several scheduler processes on one database, each fire run once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .harness import Cluster, duplicates, expected_fires, plan_jobs

pytestmark = pytest.mark.postgres


def test_three_nodes_run_each_of_2000_fires_exactly_once(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    start = time.time() + 3.0
    end = start + 2.4
    jobs = plan_jobs(start, end, intervals=150, seconds=0.2, crons=50, cron="* * * * * *")
    expected = expected_fires(jobs)
    assert len(expected) >= 2000
    cluster = Cluster(pg_dsn, schema, tmp_path, jobs, until=end + 3.5)
    try:
        cluster.start(3)
        errs = cluster.wait()
    finally:
        cluster.close()
    audit = cluster.audit()
    seen = {(a[0], a[1]) for a in audit}
    assert duplicates(audit) == {}
    assert len(audit) == len(seen)
    assert seen == expected, (len(expected - seen), len(seen - expected), errs)
    assert all("Traceback" not in e for e in errs), errs
