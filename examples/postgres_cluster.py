"""Several scheduler processes on one PostgreSQL database: each fire runs once (optional).

Run it:  python examples/postgres_cluster.py [postgresql://user@host/db]
(default: $ASYNCRON_EXAMPLE_POSTGRES, else postgresql://postgres@127.0.0.1:5432/test; needs
``pip install 'asyncron[postgres]'``). Without a reachable server it says so and exits.

It starts three node processes, as three web workers or three machines would run. Every node
schedules the same jobs at start (stable ids, interval triggers with a fixed ``start`` so that
every node computes the same instants); the store lets exactly one node claim each fire. The
nodes run for ASYNCRON_EXAMPLE_SECONDS seconds (default 4); then the fires are counted.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

from asyncron import AsyncScheduler, IntervalTrigger, current_run, storable

SECONDS = float(os.environ.get("ASYNCRON_EXAMPLE_SECONDS", "4"))
DSN = os.environ.get("ASYNCRON_EXAMPLE_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
NODES = 3


# A node runs a stored job only if its function is vouched for in that process. Scheduling the
# function does it on the node that scheduled it; @storable does it on every node, including
# those that find the job already stored and so never schedule it themselves.
@storable
def report() -> None:
    run = current_run()
    assert run is not None
    # current_run().fire_id ("<job id>@<instant>") is the same on every node: use it as the
    # idempotency key of side effects.
    print(f"fire {run.fire_id} ran on pid {os.getpid()}", flush=True)


async def node(url: str, start: float, until: float) -> None:
    # A postgresql:// URL selects the PostgreSQL store (?schema= names the schema; it is created
    # and migrated on first use, under an advisory lock so that nodes starting together are fine).
    async with AsyncScheduler(store=url) as scheduler:
        if scheduler.get_job_nowait("report") is None:  # every node runs this at start
            trigger = IntervalTrigger(seconds=0.5, start=datetime.fromtimestamp(start, UTC))
            await scheduler.schedule(report, trigger=trigger, job_id="report")
        await asyncio.sleep(max(0.0, until - time.time()))


async def reachable(dsn: str) -> str | None:
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed (pip install 'asyncron[postgres]')"
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except Exception as exc:
        return f"PostgreSQL at {dsn} is not reachable ({type(exc).__name__}: {exc})"
    await conn.close()
    return None


async def drop_schema(dsn: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--node":
        asyncio.run(node(sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
        return
    dsn = sys.argv[1] if len(sys.argv) > 1 else DSN
    problem = asyncio.run(reachable(dsn))
    if problem is not None:
        print(f"skipped: {problem}")
        return
    schema = "asyncron_example_" + secrets.token_hex(4)  # a fresh schema, dropped at the end
    url = f"{dsn}?schema={schema}"
    start = round(time.time() + 1.5, 1)  # time for the nodes to start
    until = start + SECONDS
    print(f"{NODES} nodes, one job every 0.5 s, schema {schema}")
    try:
        nodes = [
            subprocess.Popen(
                [sys.executable, __file__, "--node", url, str(start), str(until)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(NODES)
        ]
        lines = [line for proc in nodes for line in proc.communicate(timeout=60)[0].splitlines()]
        assert all(proc.returncode == 0 for proc in nodes)
    finally:
        asyncio.run(drop_schema(dsn, schema))
    fires = Counter(line.split()[1] for line in lines)
    per_node = Counter(line.split()[-1] for line in lines)
    print(f"{len(fires)} fires, run {sum(fires.values())} times, by {len(per_node)} nodes:")
    for pid, count in sorted(per_node.items()):
        print(f"  pid {pid}: {count} fires")
    doubles = [fire for fire, count in fires.items() if count > 1]
    print("each fire ran once" if not doubles else f"fires run twice: {doubles}")


if __name__ == "__main__":
    main()
