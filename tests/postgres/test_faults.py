"""Group A: crashes at each fault point, connections killed by the server, clocks ±1 h off."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from asyncron._cluster._claims import Claims
from asyncron._cluster._state import NodeState
from asyncron.stores.postgres import PostgresStore

from .conftest import PrivateServer, sql
from .harness import Cluster, check_each_fire_once, duplicates, expected_fires, plan_jobs
from .test_recovery import check_recovery

pytestmark = pytest.mark.postgres

POINTS = ["after_claim", "after_advance", "before_dispatch", "after_start", "before_finish"]


def test_a_crash_at_each_fault_point_loses_and_doubles_no_fire(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    cluster = Cluster(pg_dsn, schema, tmp_path, lease=1.0)
    try:
        cluster.start(1)  # a healthy node survives them all
        faulty = {
            point: cluster.start(1, env={"ASYNCRON_FAULTPOINT": f"{point}:exit@3"})[0]
            for point in [*POINTS, "before_renew"]
        }
        start = time.time() + 1.0
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
        cluster.go(jobs, until=end + 5.0)
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
    # a lease long enough that no run is taken for a dead node's while connections come back
    # on a loaded machine (recovery is what the other tests check)
    cluster = Cluster(pg_dsn, schema, tmp_path, lease=2.5)
    killed: list[int] = []

    def chaos() -> None:
        for at in (0.7, 1.5, 2.2):
            time.sleep(max(0.0, start + at - time.time()))
            killed.append(_terminate_scheduler_connections(schema))

    try:
        cluster.start(3)
        start = time.time() + 1.0
        end = start + 3.0
        # allow_all: with overlap="skip" a fire may rightly be skipped while the previous fire's end
        # waits to be written (the connection was killed); this test is about claims only
        jobs = plan_jobs(start, end, intervals=60, seconds=0.1, crons=10, overlap="allow_all")
        expected = expected_fires(jobs)
        cluster.go(jobs, until=end + 4.0)
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
    lines = [ln for e in errs for ln in e.splitlines() if "session" in ln or "stops its" in ln]
    assert seen == expected, (len(expected - seen), lines, errs[0][-2000:])
    # each outage is logged once per activity, not once per fire
    assert all(e.count("retrying with backoff") <= 20 for e in errs)


def test_nodes_with_clocks_one_hour_off_neither_double_nor_lose_fires(
    pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    cluster = Cluster(pg_dsn, schema, tmp_path, lease=5.0, track_end=True)
    try:
        cluster.start(1, offset=3600.0)
        cluster.start(1, offset=-3600.0)
        cluster.start(1, offset=0.0)
        start = time.time() + 1.0
        end = start + 2.0
        jobs = plan_jobs(start, end, intervals=40, seconds=0.2, crons=10)
        expected = expected_fires(jobs)
        cluster.go(jobs, until=end + 3.5)
        errs = cluster.wait()
    finally:
        cluster.close()
    check_each_fire_once(cluster, expected, errs)
    # the nodes an hour off say so once; only the node with the right clock claimed fires
    assert errs[0].count("differs from the database's by +3600") == 1, errs[0][-2000:]
    assert errs[1].count("differs from the database's by -3600") == 1, errs[1][-2000:]
    owners = {r[0].split(":")[-2] for r in sql(f'SELECT DISTINCT owner FROM "{schema}".fires')}
    assert owners == {str(cluster.procs[2].pid)}


def test_database_restarted_under_load_neither_doubles_nor_loses_fires(
    private_pg: PrivateServer, pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    """The store's server is shut down (fast), restarted, then crashed (immediate) and restarted
    while three nodes fire 50 jobs; the audit trail lives on another server, so it stays whole."""
    # A node that cannot show the database its session for 0.9 * node_timeout stops its runs
    # (it may be taken for dead); a restart on a loaded machine takes longer than the default
    # 1.2 s, so every node would cut its runs short and, on_crash="abandon", they would be
    # recorded abandoned, unrun. This test is about claims across restarts, so the nodes get
    # as long as the lease: no run in flight is stopped or taken over (recovery is what the
    # other tests check).
    cluster = Cluster(
        pg_dsn, schema, tmp_path, lease=4.0, store_dsn=private_pg.dsn, node_timeout=4.0
    )
    outages: list[float] = []

    def chaos() -> None:
        time.sleep(max(0.0, start + 1.0 - time.time()))
        began = time.time()
        private_pg.stop("fast")
        time.sleep(0.5)
        private_pg.start()
        outages.append(time.time() - began)
        time.sleep(max(0.0, start + 3.0 - time.time()))
        began = time.time()
        private_pg.stop("immediate")  # a crash: in-flight transactions are lost
        private_pg.start()  # with crash recovery
        outages.append(time.time() - began)

    try:
        cluster.start(3)
        start = time.time() + 1.0
        end = start + 5.0
        # allow_all: a fire that comes due while an earlier one waits for the database is claimed
        # and run late too (with the default overlap=skip it would be skipped, as overlapping)
        jobs = plan_jobs(
            start, end, intervals=40, seconds=0.2, crons=10, sleep=0.05, overlap="allow_all"
        )
        expected = expected_fires(jobs)
        # the lease and node_timeout outlast each outage: no run in flight is stopped
        cluster.go(jobs, until=end + 6.0)
        thread = threading.Thread(target=chaos)
        thread.start()
        errs = cluster.wait()
        thread.join()
    finally:
        cluster.close()
    assert len(outages) == 2, outages
    audit = cluster.audit()
    assert duplicates(audit) == {}
    seen = {(a[0], a[1]) for a in audit}
    assert len(seen) == len(audit)
    fires = cluster.fires()
    lost = [(k, fires.get(k)) for k in sorted(expected - seen)[:10]]
    assert seen == expected, (len(expected - seen), lost, errs[0][-3000:])
    # every node noticed the outages and came back by itself
    for err in errs:
        assert "retrying with backoff" in err, err[-2000:]


def test_database_outage_longer_than_the_lease_never_runs_a_fire_twice_at_once(
    private_pg: PrivateServer, pg_dsn: str, schema: str, tmp_path: Path
) -> None:
    """The store's server is down for twice the lease while long runs are in flight. Each node
    stops the runs whose lease may have lapsed before the database is back, so a ``rerun`` fire
    is run again once, after its first attempt stopped, never beside it; ``abandon`` fires are
    recorded as abandoned."""
    cluster = Cluster(
        pg_dsn,
        schema,
        tmp_path,
        lease=1.0,
        store_dsn=private_pg.dsn,
        track_end=True,
    )
    outage: list[float] = []

    def chaos() -> None:
        time.sleep(max(0.0, start + 1.3 - time.time()))
        outage.append(time.time())
        private_pg.stop("fast")
        time.sleep(2.0)
        outage.append(time.time())  # the server is about to accept connections again
        private_pg.start()

    try:
        cluster.start(2)
        start = time.time() + 1.0
        end = start + 4.0
        common: dict[str, Any] = {
            "intervals": 6,
            "seconds": 1.0,
            "sleep": 4.0,
            "overlap": "allow_all",
        }
        jobs = plan_jobs(start, end, on_crash="rerun", prefix="r", **common) + plan_jobs(
            start, end, on_crash="abandon", prefix="a", **common
        )
        cluster.go(jobs, until=end + 9.0)
        thread = threading.Thread(target=chaos)
        thread.start()
        errs = cluster.wait()
        thread.join()
    finally:
        cluster.close()
    assert len(outage) == 2 and outage[1] - outage[0] >= 2.0, outage
    # attempt 3 is allowed: on a starved machine a re-run's own 1 s lease may lapse too; what
    # must hold is that each attempt runs once and never beside another (checked below)
    counts = check_recovery(cluster, jobs, max_attempt=3)
    assert counts["reran"] > 0 and counts["abandoned"] > 0, counts
    # the attempts of one fire never overlap: each later one starts after the earlier one
    # ended or was cancelled
    by_fire: dict[tuple[str, int], list[tuple[int, float, float | None]]] = {}
    for job_id, fire_us, attempt, began_at, ended_at in cluster.spans():
        by_fire.setdefault((job_id, fire_us), []).append((attempt, began_at, ended_at))
    for key, spans in by_fire.items():
        spans.sort()
        for (_, first_start, first_end), (_, second_start, _) in itertools.pairwise(spans):
            assert first_end is not None and first_end <= second_start, (key, spans)
            if first_start < outage[0]:
                # cut short by its own node while the database was still down
                assert first_end < outage[1], (key, spans, outage)
    assert any("lease lost" in e for e in errs), errs[0][-2000:]


class _RecordingStore:
    """Stands in for the PostgresStore in a claim: records the order fires are claimed in."""

    description = "recording store"

    def __init__(self) -> None:
        self.claimed: list[float] = []

    async def claim_fires(self, requests: list[Any], *_: Any, **__: Any) -> dict[Any, int]:
        self.claimed.extend(r.fire_ts for r in requests)
        return {}


@pytest.mark.asyncio
async def test_a_jobs_fires_are_claimed_in_order_when_the_fence_lifts() -> None:
    """Claims waiting for a fence to lift wake in no particular order; a job's later fire
    claimed first would raise the job's claim watermark past the earlier one, which no node
    could claim any more: a fire with no record and no run (seen after database outages)."""
    store = _RecordingStore()
    node = NodeState(
        cast(PostgresStore, store),
        "n1",
        lease=10.0,
        poll_interval=1.0,
        max_clock_lead=0.25,
        max_early_wait=2.0,
        fire_retention=60.0,
        node_timeout=1.2,
    )
    node.errors = (ConnectionError,)
    node.fenced = True  # the node lost its session: claims wait
    claims = Claims(node, lambda _: False, asyncio.sleep)
    claims.open()
    loop_task = asyncio.create_task(claims.loop())
    opts = SimpleNamespace(overlap="allow_all", max_instances=None, on_crash="abandon")
    job: Any = SimpleNamespace(
        id="j", next_fire=None, next_ts=None, opts=opts, running=1, status=None
    )
    now = time.time()
    first = asyncio.create_task(claims.claim(job, now - 1.0))
    await asyncio.sleep(0.45)  # the first claim re-waits after its 0.5 s timeout, behind...
    second = asyncio.create_task(claims.claim(job, now - 0.9))  # ...this one
    await asyncio.sleep(0.15)
    node.fenced = False  # the session is back (Leases.back)
    node.unfenced.set()
    assert await asyncio.wait_for(asyncio.gather(first, second), 5.0) == [False, False]
    loop_task.cancel()
    await asyncio.gather(loop_task, return_exceptions=True)
    assert store.claimed == [now - 1.0, now - 0.9]
