"""A node's own statements never deadlock, and a "lease lost" report means a lease was lost.

- renewals and outcome writes of one node, run hard against each other on the same rows in
  opposite orders, never meet in a lock cycle (they lock rows in one order);
- a node under a short lease, many short runs and a stop in the middle of them reports no lost
  lease and no fenced write, and the database agrees: one owner, outcome recorded, attempt 1;
- an outcome written twice (a retry after an unacknowledged commit) counts as written.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta

import pytest

from asyncron import AsyncScheduler, IntervalTrigger
from asyncron._cluster import ClusterJournal
from asyncron.stores.postgres import PostgresStore

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]

OWNER = "node-a"


async def _store_with_running_fires(dsn: str, schema: str, count: int) -> PostgresStore:
    store = PostgresStore(dsn, schema=schema)
    await store.open()
    await store.run(
        lambda c: c.execute(
            f'INSERT INTO "{schema}".fires (job_id, fire_us, owner, state, attempt, token, '
            f"on_crash, claimed_at, lease_until) SELECT 'j' || i, i, $1, 'running', 1, 1, "
            f"'rerun', now(), now() + interval '1 hour' FROM generate_series(1, $2) i",
            OWNER,
            count,
        )
    )
    return store


async def test_renewals_and_outcome_writes_run_hard_against_each_other_never_deadlock(
    pg_dsn: str, schema: str
) -> None:
    store = await _store_with_running_fires(pg_dsn, schema, 400)
    rng = random.Random(18)
    fires = [(f"j{i}", i, 1) for i in range(1, 401)]
    reset = f"UPDATE \"{schema}\".fires SET state = 'running', finished_at = NULL"
    try:
        for _ in range(25):
            await store.run(lambda c: c.execute(reset))
            renew_order = fires[:]
            rng.shuffle(renew_order)
            finish_order = [(*f, "succeeded", None) for f in reversed(fires)]

            async def renew(order: list[tuple[str, int, int]] = renew_order) -> None:
                for _ in range(3):
                    await store.renew_leases(OWNER, order, 30.0)

            # both statements lock hundreds of rows in opposite orders at the same moment:
            # without one lock order, PostgreSQL reports "deadlock detected" here
            results = await asyncio.gather(
                renew(),
                store.finish_fires(OWNER, finish_order),
                renew(list(reversed(renew_order))),
                return_exceptions=True,
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            assert errors == [], errors
            assert results[1] == {(f[0], f[1]) for f in fires}
    finally:
        await store.close()


async def test_an_outcome_written_twice_counts_as_written_but_a_taken_fire_does_not(
    pg_dsn: str, schema: str
) -> None:
    store = await _store_with_running_fires(pg_dsn, schema, 2)
    try:
        outcome = [("j1", 1, 1, "succeeded", None)]
        assert await store.finish_fires(OWNER, outcome) == {("j1", 1)}
        # the same write again (its first commit was not acknowledged): recorded already
        assert await store.finish_fires(OWNER, outcome) == {("j1", 1)}
        # j2 taken over by another node (new token): this node's write is fenced
        await store.run(
            lambda c: c.execute(
                f"UPDATE \"{schema}\".fires SET owner = 'node-b', token = 2 WHERE job_id = 'j2'"
            )
        )
        assert await store.finish_fires(OWNER, [("j2", 2, 1, "succeeded", None)]) == set()
        assert await store.renew_leases(OWNER, [("j2", 2, 1)], 5.0) == set()
    finally:
        await store.close()


runs = 0


async def quick() -> None:
    global runs
    runs += 1
    await asyncio.sleep(random.random() * 0.02)


async def test_short_leases_and_a_stop_under_load_report_no_lost_lease(
    pg_dsn: str, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    journal = ClusterJournal(PostgresStore(pg_dsn, schema=schema), lease=2.0, poll_interval=0.2)
    journal.registry.register("quick", quick)
    scheduler = AsyncScheduler(store=journal, stop_timeout=2.0)
    start = datetime.now(UTC) + timedelta(seconds=0.5)
    caplog.set_level(logging.WARNING, logger="asyncron")
    await scheduler.start()
    for i in range(60):
        await scheduler.schedule(
            quick,
            trigger=IntervalTrigger(seconds=0.1, start=start + timedelta(seconds=i / 600)),
            job_id=f"q{i:03d}",
            function_name="quick",
            on_crash="rerun",
            overlap="allow_all",
        )
    await asyncio.sleep(3.0)  # renewals every 0.67 s beside about 600 outcome writes a second
    await scheduler.stop()  # in the middle of runs and claims
    counters = journal.counters
    store = PostgresStore(pg_dsn, schema=schema)
    await store.open()
    try:
        fires = await store.list_fires()
    finally:
        await store.close()
    assert runs > 200, runs
    attempts = {f.attempt for f in fires}
    assert counters["leases_lost"] == 0, (counters, attempts)
    assert counters["fenced_writes"] == 0, counters
    lost = [r.getMessage() for r in caplog.records if "lease lost" in r.getMessage()]
    assert lost == []
    failed = [r.getMessage() for r in caplog.records if "loop failed" in r.getMessage()]
    assert failed == []
    # the database agrees: every fire has this node as its only owner, an outcome, attempt 1
    assert {f.owner for f in fires} == {journal.node_id}
    assert {f.attempt for f in fires} == {1}
    # ('released': won by a claim as the node stopped, handed back for another node to run)
    assert {f.state for f in fires} <= {"succeeded", "cancelled", "released"}, fires
