"""Several scheduler processes on one PostgreSQL database: fires/s and lateness, asyncron vs
APScheduler 4 (SQLAlchemy data store + asyncpg event broker), in the same run, and the time from
a SIGKILL to the dead node's fires being taken over.

    .venv/bin/python benchmarks/bench_postgres.py [--jobs 3000] [--interval 1.5] [--seconds 5]
    .venv/bin/python benchmarks/bench_postgres.py --kill [--kills 5]

The peer runs twice, labelled: *as shipped* (every schedule of the benchmark shares one task,
whose ``max_running_jobs`` defaults to 1, so its jobs queue behind one another) and *tuned* as
its documentation allows (``TaskDefaults(max_running_jobs=None)``). Its tables are created by
the first node before the others start. The ratio that counts is against the tuned peer.

For 1, 2 and 3 nodes (OS processes), ``--jobs`` interval jobs with no-op async bodies are spread
evenly over ``--interval`` seconds (offered load = jobs / interval fires per second). After a
warm-up, every run whose *scheduled* time falls in a ``--seconds`` window is counted: throughput
is runs / window (a scheduler that falls behind coalesces missed fires, so it counts fewer), and
lateness is start time minus scheduled time. Each system gets a fresh schema.

Needs PostgreSQL (``ASYNCRON_TEST_POSTGRES``, default ``postgresql://postgres@127.0.0.1/test``)
and, for the peer, a venv ``.bench-venv`` (or ``benchmarks/.venvs/aps4``) with
``apscheduler==4.0.0a6 'anyio<4.14' sqlalchemy asyncpg`` (its asyncpg event broker drops
notifications with anyio >= 4.14 and sniffio installed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DSN = os.environ.get("ASYNCRON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
HERE = Path(__file__).resolve()
APS_PY = next(
    (
        p
        for p in (
            HERE.parents[1] / ".bench-venv" / "bin" / "python",
            HERE.parent / ".venvs" / "aps4" / "bin" / "python",
        )
        if p.exists()
    ),
    HERE.parents[1] / ".bench-venv" / "bin" / "python",
)
RUNS: list[tuple[float, float]] = []


async def asyncron_tick() -> None:
    from asyncron._scheduler import current_run

    run = current_run()
    assert run is not None
    sched = run.scheduled_at.timestamp()
    RUNS.append((sched, time.time() - sched))


async def aps_tick() -> None:
    from apscheduler import current_job

    job = current_job.get()
    assert job.scheduled_fire_time is not None
    sched = job.scheduled_fire_time.timestamp()
    RUNS.append((sched, time.time() - sched))


def _starts(cfg: dict[str, Any]) -> list[float]:
    n, interval, t0 = cfg["jobs"], cfg["interval"], cfg["t0"]
    return [t0 + interval * i / n for i in range(n)]


async def node_asyncron(cfg: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from asyncron import AsyncScheduler, IntervalTrigger
    from asyncron._cluster import ClusterJournal
    from asyncron.stores.postgres import PostgresStore

    journal = ClusterJournal(PostgresStore(cfg["dsn"], schema=cfg["schema"]), lease=10.0)
    journal.registry.register("tick", asyncron_tick)
    scheduler = AsyncScheduler(store=journal)
    await scheduler.start()
    if cfg["creator"]:
        for i, start in enumerate(_starts(cfg)):
            if scheduler.get_job_nowait(f"j{i}") is None:
                await scheduler.schedule(
                    asyncron_tick,
                    trigger=IntervalTrigger(
                        seconds=cfg["interval"], start=datetime.fromtimestamp(start, UTC)
                    ),
                    job_id=f"j{i}",
                    function_name="tick",
                )
        await journal.flush()
    print("ready", flush=True)
    await asyncio.sleep(max(0.0, cfg["until"] - time.time()))
    await scheduler.stop()


async def node_aps4(cfg: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from apscheduler import AsyncScheduler, ConflictPolicy, TaskDefaults
    from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
    from apscheduler.eventbrokers.asyncpg import AsyncpgEventBroker
    from apscheduler.triggers.interval import IntervalTrigger
    from sqlalchemy.ext.asyncio import create_async_engine

    url = cfg["dsn"].replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url)
    store = SQLAlchemyDataStore(engine, schema=cfg["schema"])
    broker = AsyncpgEventBroker.from_async_sqla_engine(engine)
    options: dict[str, Any] = {}
    if cfg.get("tuned"):
        options["task_defaults"] = TaskDefaults(max_running_jobs=None)
    async with AsyncScheduler(store, broker, **options) as scheduler:
        if cfg["creator"]:
            for i, start in enumerate(_starts(cfg)):
                await scheduler.add_schedule(
                    aps_tick,
                    IntervalTrigger(
                        seconds=cfg["interval"], start_time=datetime.fromtimestamp(start, UTC)
                    ),
                    id=f"j{i}",
                    conflict_policy=ConflictPolicy.do_nothing,
                )
        print("ready", flush=True)
        await scheduler.start_in_background()
        await asyncio.sleep(max(0.0, cfg["until"] - time.time()))
        await scheduler.stop()
    await engine.dispose()


def run_node() -> None:
    kind, cfg = sys.argv[2], json.loads(sys.argv[3])
    if kind == "asyncron-kill":
        asyncio.run(node_asyncron_kill(cfg))
        return
    main = node_asyncron if kind == "asyncron" else node_aps4
    asyncio.run(main(cfg))
    lo, hi = cfg["window"]
    inside = [late for sched, late in RUNS if lo <= sched < hi]
    print("@@RESULT " + json.dumps({"runs": len(inside), "lateness": inside}), flush=True)


def _sql(statement: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(DSN)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(go())


def measure(kind: str, nodes: int, args: argparse.Namespace) -> dict[str, Any]:
    tuned = kind == "aps4-tuned"
    kind = "aps4" if tuned else kind
    schema = f"bench_{kind}_{secrets.token_hex(4)}"
    if kind == "aps4":
        _sql(f'CREATE SCHEMA "{schema}"')
    python = str(APS_PY) if kind == "aps4" else sys.executable
    t0 = time.time() + args.setup
    window = (t0 + args.warmup, t0 + args.warmup + args.seconds)
    base = {
        "dsn": DSN,
        "schema": schema,
        "jobs": args.jobs,
        "interval": args.interval,
        "t0": t0,
        "until": window[1] + 1.0,
        "window": window,
        "tuned": tuned,
    }
    procs = []
    try:
        for i in range(nodes):
            cfg = {**base, "creator": i == 0}
            proc = subprocess.Popen(
                [python, str(HERE), "--node", kind, json.dumps(cfg)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            if i == 0:  # the creator writes the schedules before the others join
                line = proc.stdout.readline() if proc.stdout else ""
                if line.strip() != "ready":
                    raise RuntimeError(
                        f"{kind} node did not start: {proc.communicate()[1][-2000:]}"
                    )
        runs, late = 0, []
        for proc in procs:
            out, err = proc.communicate(timeout=base["until"] - time.time() + 60)
            line = next((ln for ln in out.splitlines() if ln.startswith("@@RESULT ")), None)
            if line is None:
                raise RuntimeError(f"{kind} node failed: {err[-2000:]}")
            data = json.loads(line[len("@@RESULT ") :])
            runs += data["runs"]
            late.extend(data["lateness"])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        _sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    late.sort()
    return {
        "fires_per_s": runs / args.seconds,
        "p50_ms": 1000 * late[len(late) // 2] if late else float("nan"),
        "p99_ms": 1000 * late[min(len(late) - 1, int(len(late) * 0.99))] if late else float("nan"),
        "runs": runs,
    }


async def node_asyncron_kill(cfg: dict[str, Any]) -> None:
    """A node for the recovery measurement: jobs that run 0.5 s, ``on_crash="rerun"``."""
    from datetime import UTC, datetime

    from asyncron import AsyncScheduler, IntervalTrigger
    from asyncron._cluster import ClusterJournal
    from asyncron.stores.postgres import PostgresStore

    async def busy() -> None:
        await asyncio.sleep(0.5)

    journal = ClusterJournal(PostgresStore(cfg["dsn"], schema=cfg["schema"]), lease=10.0)
    journal.registry.register("busy", busy)
    scheduler = AsyncScheduler(store=journal)
    await scheduler.start()
    if cfg["creator"]:
        for i, start in enumerate(_starts(cfg)):
            if scheduler.get_job_nowait(f"j{i}") is None:
                await scheduler.schedule(
                    busy,
                    trigger=IntervalTrigger(
                        seconds=cfg["interval"], start=datetime.fromtimestamp(start, UTC)
                    ),
                    job_id=f"j{i}",
                    function_name="busy",
                    on_crash="rerun",
                )
        await journal.flush()
    print("ready", flush=True)
    await asyncio.sleep(max(0.0, cfg["until"] - time.time()))
    await scheduler.stop()


def _fetch(statement: str, *args: Any) -> list[Any]:
    import asyncpg

    async def go() -> list[Any]:
        conn = await asyncpg.connect(DSN)
        try:
            return list(await conn.fetch(statement, *args))
        finally:
            await conn.close()

    return asyncio.run(go())


def measure_kill(args: argparse.Namespace) -> list[float]:
    """SIGKILL the busiest of 2 asyncron nodes (lease 10 s) ``--kills`` times; returns the
    seconds from each kill to the last take-over of a fire the dead node held."""
    out = []
    for _ in range(args.kills):
        schema = f"bench_kill_{secrets.token_hex(4)}"
        t0 = time.time() + 3.0
        cfg = {"dsn": DSN, "schema": schema, "jobs": 200, "interval": 1.0, "t0": t0}
        cfg["until"] = t0 + 6.0
        procs = []
        try:
            for i in range(2):
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        str(HERE),
                        "--node",
                        "asyncron-kill",
                        json.dumps({**cfg, "creator": i == 0}),
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                procs.append(proc)
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(max(0.0, t0 + 2.2 - time.time()))
            rows = _fetch(
                f"SELECT owner FROM \"{schema}\".fires WHERE state = 'running' "
                "GROUP BY owner ORDER BY count(*) DESC LIMIT 1"
            )
            owner = rows[0]["owner"]
            victim = next(p for p in procs if owner.split(":")[-2] == str(p.pid))
            killed = time.time()
            victim.kill()
            time.sleep(3.0)
            rows = _fetch(
                f"SELECT max(extract(epoch FROM recovered_at))::float8 AS t "
                f'FROM "{schema}".fires WHERE previous_owner = $1',
                owner,
            )
            if rows and rows[0]["t"] is not None:
                out.append(float(rows[0]["t"]) - killed)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.communicate()
            _sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--interval", type=float, default=1.5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--setup", type=float, default=None)
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--kill", action="store_true", help="measure SIGKILL-to-recovery")
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    if args.kill:
        times = sorted(measure_kill(args))
        print(
            "SIGKILL to take-over (2 nodes, 200 jobs at 1 s running 0.5 s, lease 10 s): "
            + ", ".join(f"{t:.2f} s" for t in times)
        )
        print("APScheduler 4.0.0a6: its job and schedule leases, 30 s by default (not measured)")
        return
    peers = ["aps4", "aps4-tuned"]
    kinds = ["asyncron"] + ([] if args.no_peer or not APS_PY.exists() else peers)
    offered = args.jobs / args.interval
    print(
        f"{args.jobs} interval jobs every {args.interval} s (offered {offered:.0f} fires/s), "
        f"window {args.seconds} s after {args.warmup} s warm-up; PostgreSQL {DSN}"
    )
    print(f"{'nodes':>5}  {'system':<22}{'fires/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}")
    labels = {
        "asyncron": "asyncron",
        "aps4": "APScheduler 4 shipped",
        "aps4-tuned": "APScheduler 4 tuned",
    }
    for nodes in [int(n) for n in args.nodes.split(",")]:
        results = {}
        for kind in kinds:
            setup = args.setup if args.setup is not None else (3.0 if kind == "asyncron" else 20.0)
            args_k = argparse.Namespace(**{**vars(args), "setup": setup})
            results[kind] = measure(kind, nodes, args_k)
        base = results.get("aps4-tuned", {}).get("fires_per_s")
        for kind, r in results.items():
            ratio = "" if not base else f"{r['fires_per_s'] / base:7.1f}x"
            print(
                f"{nodes:>5}  {labels[kind]:<22}{r['fires_per_s']:>9.0f}{r['p50_ms']:>9.1f}"
                f"{r['p99_ms']:>9.1f}{ratio:>8}",
                flush=True,
            )
    _ = statistics  # (kept for ad-hoc analysis in a REPL)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--node":
        run_node()
    else:
        main()
