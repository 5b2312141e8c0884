"""A scheduler node for the multi-process tests: ``python worker.py <config.json> <offset>``.

It joins the cluster in the config's schema and prints ``up``. Then it waits for a ``go`` line
on stdin, reads the jobs and the end time from the config's ``plan`` file (written by the test
once every node is up, so that a slow start on a loaded machine never eats into the planned
fires), schedules the jobs unless they are already stored (every node does, as every web worker
of an app would), prints ``ready`` and runs until the plan's ``until`` (real time), or until
SIGTERM (a graceful stop). Each job inserts one row into ``audit`` (no unique key) when it
starts, then sleeps for its ``sleep`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from asyncron import AsyncScheduler, CronTrigger, IntervalTrigger
from asyncron._clock import SystemClock
from asyncron._cluster import ClusterJournal
from asyncron._scheduler import current_run
from asyncron.stores.postgres import PostgresStore, to_us

POOL: asyncpg.Pool | None = None
NODE = ""
TRACK_END = False  # also record when each run ends or is cancelled (config "track_end")


class OffsetClock(SystemClock):
    """The system clock shifted by ``offset`` seconds (a node whose clock is wrong)."""

    def __init__(self, offset: float) -> None:
        super().__init__()
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset

    def call_at(self, when: float, callback: Any) -> Any:
        delay = min(when - self.time(), self.max_sleep)
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)


async def audit(sleep: float = 0.0, fail: bool = False) -> None:
    run = current_run()
    assert run is not None and POOL is not None
    await POOL.execute(
        "INSERT INTO audit (job_id, fire_us, pid, node, attempt, recovering) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        run.job_id,
        to_us(run.scheduled_at.timestamp()),
        os.getpid(),
        NODE,
        run.attempt,
        run.recovering,
    )
    if TRACK_END:
        where = "job_id = $1 AND fire_us = $2 AND attempt = $3 AND pid = $4"
        key = (run.job_id, to_us(run.scheduled_at.timestamp()), run.attempt, os.getpid())
        try:
            if sleep:
                await asyncio.sleep(sleep)
        except asyncio.CancelledError:
            await POOL.execute(
                f"UPDATE audit SET cancelled = clock_timestamp() WHERE {where}", *key
            )
            raise
        await POOL.execute(f"UPDATE audit SET ended = clock_timestamp() WHERE {where}", *key)
    elif sleep:
        await asyncio.sleep(sleep)
    if fail:
        raise RuntimeError("asked to fail")


def trigger_for(spec: dict[str, Any]) -> Any:
    start = datetime.fromtimestamp(spec["start"], UTC)
    end = datetime.fromtimestamp(spec["end"], UTC)
    if spec["kind"] == "interval":
        return IntervalTrigger(seconds=spec["seconds"], start=start, end=end)
    return CronTrigger.from_expression(spec["cron"], "UTC", start=start, end=end)


async def main(config: dict[str, Any]) -> None:
    global POOL, NODE, TRACK_END
    TRACK_END = bool(config.get("track_end", False))
    offset = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    logging.basicConfig(
        level=logging.WARNING, format=f"[{os.getpid()}] %(levelname)s %(name)s: %(message)s"
    )
    # (a node may reach the store another way, e.g. through a test proxy)
    dsn = os.environ.get("ASYNCRON_TEST_STORE_DSN", config["dsn"])
    schema = config["schema"]
    POOL = await asyncpg.create_pool(
        config.get("audit_dsn", dsn),
        min_size=2,
        max_size=10,
        server_settings={"search_path": schema},
    )
    journal = ClusterJournal(
        PostgresStore(dsn, schema=schema, application_name=f"asyncron:{schema}"),
        lease=config.get("lease", 1.0),
        poll_interval=config.get("poll_interval", 0.5),
        **({"node_timeout": config["node_timeout"]} if "node_timeout" in config else {}),
    )
    NODE = journal.node_id
    journal.registry.register("audit", audit)
    scheduler = AsyncScheduler(clock=OffsetClock(offset), store=journal, stop_timeout=0.5)
    await scheduler.start()
    print("up", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    if line.strip() != "go":
        raise SystemExit(f"expected 'go' on stdin, got {line!r}")
    config.update(json.loads(await asyncio.to_thread(Path(config["plan"]).read_text)))
    for spec in config["jobs"]:
        if scheduler.get_job_nowait(spec["id"]) is None:
            await scheduler.schedule(
                audit,
                trigger=trigger_for(spec),
                job_id=spec["id"],
                name=spec["id"],
                kwargs={"sleep": spec.get("sleep", 0.0)},
                function_name="audit",
                on_crash=spec.get("on_crash", "abandon"),
                overlap=spec.get("overlap", "skip"),
            )
    await journal.flush()
    print("ready", flush=True)
    terminated = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminated.set)
    try:
        await asyncio.wait_for(terminated.wait(), max(0.0, config["until"] - time.time()))
    except TimeoutError:
        pass
    stats = journal.statistics()
    await scheduler.stop()
    await POOL.close()
    print("stats " + json.dumps(stats), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
