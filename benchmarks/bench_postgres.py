"""Several scheduler processes on one PostgreSQL database, asyncron beside APScheduler 4: fires/s
and p99 lateness at 1 and 3 nodes, and the time from a SIGKILL of a node to its fire re-run
on another node.

    .venv/bin/python benchmarks/bench_postgres.py                  # everything, ~15 min here
    .venv/bin/python benchmarks/bench_postgres.py --make-peer-venv # create .bench-venv first
    .venv/bin/python benchmarks/bench_postgres.py --quick          # a smoke run, ~1 min
    .venv/bin/python benchmarks/bench_postgres.py --no-kill        # throughput only
    .venv/bin/python benchmarks/bench_postgres.py --kill-only      # SIGKILL to recovery only

Systems (``--systems``, default all three):

* ``asyncron``: a cluster on ``postgresql://...?schema=<fresh>`` (the default journal options:
  ``lease=10``, ``node_timeout=1.2``), run by this interpreter.
* ``aps4``: APScheduler 4.0.0a6 *as shipped*: ``AsyncScheduler`` with its SQLAlchemy data store
  (asyncpg) and its asyncpg event broker, every other setting default, as its documentation
  shows. Every schedule of the benchmark calls the same function, so they share one task, whose
  ``max_running_jobs`` defaults to 1: its jobs run one at a time across the cluster.
* ``aps4-tuned``: the same, set up for throughput as its documentation allows:
  ``TaskDefaults(max_running_jobs=None)``. The ratios are given against this one.

Both APScheduler variants run in their own venv (``.bench-venv``: APScheduler 4.0.0a6 with
``anyio<4.14``, since its asyncpg event broker drops notifications with anyio >= 4.14 when sniffio
is installed); see benchmarks/README.md. A missing peer venv skips the peer, with a note saying how
to create it.

How a measurement runs, for every system alike: a fresh schema; a *set-up process* creates the
tables and stores the jobs (``--jobs`` interval jobs every ``--interval`` s, starts spread evenly
over one interval, so the offered load is jobs / interval fires per second), then exits; then
the ``--nodes`` node processes start together and only run the schedule. Every run whose
*scheduled* time falls in a ``--seconds`` window after ``--warmup`` s is counted if it starts
within ``--grace`` s of the window's end: fires/s = counted runs / window (a scheduler that falls
behind coalesces or skips fires, so it counts fewer), lateness = start - scheduled time.
*Runs started/s* counts every run that started inside the window, whatever its scheduled time:
what a scheduler that lags behind still gets done.

SIGKILL to recovery: 3 nodes, 200 interval jobs every 1 s whose body runs 0.5 s (asyncron:
``on_crash="rerun"``; APScheduler 4 re-runs a job whose lease expired); after the warm-up the
node with the most runs in progress is SIGKILLed, and the time is measured from the kill to
the start, on another node, of each fire it was running (same job, same scheduled time). Every
node prints each start and end on stdout, which the driver reads as it comes.

Needs PostgreSQL (``ASYNCRON_TEST_POSTGRES``, default ``postgresql://postgres@127.0.0.1:5432/test``,
user allowed to create schemas).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DSN = os.environ.get("ASYNCRON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
PEER_VENV = ROOT / ".bench-venv"
PEER_PACKAGES = [
    "apscheduler==4.0.0a6",
    "anyio<4.14",
    "sniffio",
    "greenlet",
    "asyncpg",
    "sqlalchemy",
]
PEER_HINT = "python3 -m venv .bench-venv && .bench-venv/bin/pip install " + " ".join(
    f"'{p}'" if "<" in p else p for p in PEER_PACKAGES
)
LABELS = {
    "asyncron": "asyncron",
    "aps4": "APScheduler 4 as shipped",
    "aps4-tuned": "APScheduler 4 tuned",
}
BUSY_SECONDS = 0.5

# -- the node side (runs under either interpreter; imports its scheduler lazily) -------------------

RUNS: list[tuple[float, float]] = []  # (scheduled, started) of every run of this node
TRACE = False  # print every start and end (the SIGKILL measurement)


def _started(key: str, scheduled: float) -> float:
    now = time.time()
    RUNS.append((scheduled, now))
    if TRACE:
        print(f"S {key} {now:.6f}", flush=True)
    return now


def _ended(key: str) -> None:
    if TRACE:
        print(f"E {key}", flush=True)


async def asyncron_tick() -> None:
    from asyncron import current_run

    run = current_run()
    assert run is not None
    _started(run.fire_id, run.scheduled_at.timestamp())


async def asyncron_busy() -> None:
    from asyncron import current_run

    run = current_run()
    assert run is not None
    _started(run.fire_id, run.scheduled_at.timestamp())
    await asyncio.sleep(BUSY_SECONDS)
    _ended(run.fire_id)


def _aps_key() -> tuple[str, float]:
    from apscheduler import current_job

    job = current_job.get()
    assert job.scheduled_fire_time is not None
    sched = job.scheduled_fire_time.timestamp()
    return f"{job.schedule_id}@{sched:.6f}", sched


async def aps_tick() -> None:
    key, sched = _aps_key()
    _started(key, sched)


async def aps_busy() -> None:
    key, sched = _aps_key()
    _started(key, sched)
    await asyncio.sleep(BUSY_SECONDS)
    _ended(key)


def _starts(cfg: dict[str, Any]) -> list[float]:
    n, interval, t0 = cfg["jobs"], cfg["interval"], cfg["t0"]
    return [t0 + interval * i / n for i in range(n)]


def _asyncron_scheduler(cfg: dict[str, Any]) -> Any:
    from asyncron import AsyncScheduler

    scheduler = AsyncScheduler(store=f"{cfg['dsn']}?schema={cfg['schema']}")
    scheduler.register_function("tick", asyncron_tick)
    scheduler.register_function("busy", asyncron_busy)
    return scheduler


async def setup_asyncron(cfg: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from asyncron import IntervalTrigger

    busy = cfg["body"] == "busy"
    scheduler = _asyncron_scheduler(cfg)
    await scheduler.start()
    for i, start in enumerate(_starts(cfg)):
        await scheduler.schedule(
            asyncron_busy if busy else asyncron_tick,
            trigger=IntervalTrigger(
                seconds=cfg["interval"], start=datetime.fromtimestamp(start, UTC)
            ),
            job_id=f"j{i}",
            function_name="busy" if busy else "tick",
            on_crash="rerun" if busy else "abandon",
        )
    await scheduler.stop()  # writes every job before it returns


async def node_asyncron(cfg: dict[str, Any]) -> None:
    scheduler = _asyncron_scheduler(cfg)
    await scheduler.start()
    print(f"ready {time.time():.6f}", flush=True)
    await asyncio.sleep(max(0.0, cfg["until"] - time.time()))
    await scheduler.stop()


def _aps_scheduler(cfg: dict[str, Any]) -> tuple[Any, Any]:
    from apscheduler import AsyncScheduler, TaskDefaults
    from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
    from apscheduler.eventbrokers.asyncpg import AsyncpgEventBroker
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(cfg["dsn"].replace("postgresql://", "postgresql+asyncpg://", 1))
    store = SQLAlchemyDataStore(engine, schema=cfg["schema"])
    broker = AsyncpgEventBroker.from_async_sqla_engine(engine)
    options: dict[str, Any] = {}
    if cfg["tuned"]:
        options["task_defaults"] = TaskDefaults(max_running_jobs=None)
    return AsyncScheduler(store, broker, **options), engine


async def setup_aps4(cfg: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from apscheduler import ConflictPolicy
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler, engine = _aps_scheduler(cfg)
    async with scheduler:  # creates the tables
        for i, start in enumerate(_starts(cfg)):
            await scheduler.add_schedule(
                aps_busy if cfg["body"] == "busy" else aps_tick,
                IntervalTrigger(
                    seconds=cfg["interval"], start_time=datetime.fromtimestamp(start, UTC)
                ),
                id=f"j{i}",
                conflict_policy=ConflictPolicy.do_nothing,
            )
    await engine.dispose()


async def node_aps4(cfg: dict[str, Any]) -> None:
    scheduler, engine = _aps_scheduler(cfg)
    async with scheduler:
        await scheduler.start_in_background()
        print(f"ready {time.time():.6f}", flush=True)
        await asyncio.sleep(max(0.0, cfg["until"] - time.time()))
        await scheduler.stop()
    await engine.dispose()


def run_node(kind: str, cfg: dict[str, Any]) -> None:
    global TRACE
    TRACE = bool(cfg.get("trace"))
    # a node that does not stop shows where it hangs (in the stderr the driver keeps)
    faulthandler.dump_traceback_later(max(5.0, cfg["until"] - time.time() + 60), exit=True)
    mains: dict[str, Callable[[dict[str, Any]], Any]] = {
        "setup-asyncron": setup_asyncron,
        "setup-aps4": setup_aps4,
        "node-asyncron": node_asyncron,
        "node-aps4": node_aps4,
    }
    began = time.time()
    asyncio.run(mains[kind](cfg))
    if kind.startswith("setup-"):
        print(f"@@SETUP {time.time() - began:.3f}", flush=True)
        return
    lo = cfg["t0"] + cfg["warmup"]
    hi = lo + cfg["seconds"]
    cutoff = hi + cfg["grace"]
    inside = [start - sched for sched, start in RUNS if lo <= sched < hi and start <= cutoff]
    result = {
        "runs": len(inside),
        "started": sum(1 for _, start in RUNS if lo <= start < hi),
        "lateness": inside,
        "all_runs": len(RUNS),
        "cpu_s": time.process_time(),
        "wall_s": time.time() - began,
    }
    print("@@RESULT " + json.dumps(result), flush=True)


# -- the driver ---------------------------------------------------------------------------------


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def peer_python() -> Path:
    return PEER_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def make_peer_venv() -> None:
    say(f"creating {PEER_VENV}: {PEER_HINT}")
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(peer_python()), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)


def peer_versions() -> dict[str, str] | None:
    """The versions in the peer venv, or None if it is missing or broken."""
    if not peer_python().exists():
        return None
    probe = (
        "import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in "
        "('apscheduler', 'anyio', 'sqlalchemy', 'asyncpg')}))"
    )
    done = subprocess.run([str(peer_python()), "-c", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    versions: dict[str, str] = json.loads(done.stdout)
    return versions


def _sql(statement: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(DSN)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(go())


@dataclass
class Node:
    """A node process whose stdout lines are read, with their arrival time, by a thread."""

    proc: subprocess.Popen[str]
    stderr: Any
    lines: list[tuple[float, str]] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    @classmethod
    def start(cls, python: str, kind: str, cfg: dict[str, Any]) -> Node:
        stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop())
        proc = subprocess.Popen(
            [python, str(HERE), "--node", kind, json.dumps(cfg)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        node = cls(proc, stderr)
        node.reader = threading.Thread(target=node._read, daemon=True)
        node.reader.start()
        return node

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.time(), line.rstrip("\n")))
            if line.startswith("ready"):
                self.ready.set()
        self.ready.set()

    def error(self) -> str:
        self.stderr.seek(0)
        return str(self.stderr.read())[-3000:]

    def wait(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"node did not stop:\n{self.error()}") from None
        assert self.reader is not None
        self.reader.join(5)

    def marked(self, mark: str) -> str | None:
        return next((ln[len(mark) :] for _, ln in self.lines if ln.startswith(mark)), None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


class System:
    """How to start one of the three systems."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.peer = name != "asyncron"
        self.python = str(peer_python()) if self.peer else sys.executable
        self.kind = "aps4" if self.peer else "asyncron"
        # seconds from the start of the set-up to the first fire; grows if it was too short
        self.lead_per_job = 0.04 if self.peer else 0.004
        self.lead_base = 8.0 if self.peer else 4.0

    def config(self, schema: str, **extra: Any) -> dict[str, Any]:
        return {"dsn": DSN, "schema": schema, "tuned": self.name == "aps4-tuned", **extra}


def _cluster(
    system: System, nodes: int, cfg: dict[str, Any], *, trace: bool = False
) -> tuple[str, list[Node], float]:
    """Set up a fresh schema with ``cfg``'s jobs and start ``nodes`` nodes that are all ready
    before the first fire; returns (schema, nodes, t0). Retries with a longer lead if the set-up
    took too long."""
    lead = system.lead_base + system.lead_per_job * cfg["jobs"]
    for _attempt in range(4):
        schema = f"bench_{system.kind}_{secrets.token_hex(4)}"
        _sql(f'CREATE SCHEMA "{schema}"')
        t0 = time.time() + lead
        run_cfg = {
            **system.config(schema),
            **cfg,
            "t0": t0,
            "until": t0 + cfg["runtime"],
            "trace": trace,
        }
        setup = Node.start(system.python, f"setup-{system.kind}", {**run_cfg, "until": t0 + 600})
        try:
            setup.wait(timeout=600)
        finally:
            setup.stop()
        took = setup.marked("@@SETUP ")
        if setup.proc.returncode != 0 or took is None:
            _sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            raise RuntimeError(f"{system.name} set-up failed:\n{setup.error()}")
        started = [Node.start(system.python, f"node-{system.kind}", run_cfg) for _ in range(nodes)]
        for node in started:
            node.ready.wait(timeout=max(1.0, t0 - time.time() + 60))
        late = [n for n in started if n.marked("ready ") is None]
        if late:
            errors = late[0].error()
            _teardown(schema, started)
            raise RuntimeError(f"{system.name} node did not start:\n{errors}")
        ready = max(float(n.marked("ready ") or 0) for n in started)
        if ready <= t0 - 0.3:
            return schema, started, t0
        say(
            f"  {system.name}: set-up took {float(took):.1f} s, nodes ready "
            f"{ready - t0:+.1f} s after the first fire; again with a longer lead"
        )
        _teardown(schema, started)
        lead = 1.5 * lead + (ready - t0)
    raise RuntimeError(f"{system.name}: could not set up in time")


def _teardown(schema: str, nodes: list[Node]) -> None:
    for node in nodes:
        node.stop()
    _sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def measure(
    system: System, nodes: int, jobs: int, interval: float, args: argparse.Namespace
) -> dict[str, Any]:
    cfg = {
        "jobs": jobs,
        "interval": interval,
        "body": "tick",
        "warmup": args.warmup,
        "seconds": args.seconds,
        "grace": args.grace,
        "runtime": args.warmup + args.seconds + args.grace,
    }
    schema, started, t0 = _cluster(system, nodes, cfg)
    try:
        runs, started_in_window, all_runs, late, cpu = 0, 0, 0, [], []
        for node in started:
            node.wait(timeout=t0 + cfg["runtime"] - time.time() + 90)
            line = node.marked("@@RESULT ")
            if line is None:
                raise RuntimeError(f"{system.name} node failed:\n{node.error()}")
            data = json.loads(line)
            runs += data["runs"]
            started_in_window += data["started"]
            all_runs += data["all_runs"]
            cpu.append(f"{data['cpu_s']:.1f}/{data['wall_s']:.1f}")
            late.extend(data["lateness"])
    finally:
        _teardown(schema, started)
    return {
        "fires_per_s": runs / args.seconds,
        "started_per_s": started_in_window / args.seconds,
        "p50_ms": 1000 * percentile(late, 0.50),
        "p99_ms": 1000 * percentile(late, 0.99),
        "runs": runs,
        "all_runs": all_runs,
        "cpu_wall_s": cpu,
    }


def measure_kill(system: System, args: argparse.Namespace) -> dict[str, Any]:
    """One SIGKILL of the busiest of 3 nodes; seconds from the kill to the start elsewhere of
    each fire the dead node was running."""
    observe = args.observe_peer if system.peer else args.observe
    cfg = {
        "jobs": args.kill_jobs,
        "interval": 1.0,
        "body": "busy",
        "warmup": 0.0,
        "seconds": 0.0,
        "grace": 0.0,
        "runtime": args.kill_warmup + observe + 2.0,
    }
    schema, started, t0 = _cluster(system, args.kill_nodes, cfg, trace=True)
    try:
        time.sleep(max(0.0, t0 + args.kill_warmup - time.time()))

        def in_flight(node: Node) -> set[str]:
            begun, ended = set(), set()
            for _, line in list(node.lines):
                if line.startswith("S "):
                    begun.add(line.split()[1])
                elif line.startswith("E "):
                    ended.add(line.split()[1])
            return begun - ended

        deadline = time.time() + 10.0
        victim = max(started, key=lambda n: len(in_flight(n)))
        while not in_flight(victim) and time.time() < deadline:
            time.sleep(0.05)
            victim = max(started, key=lambda n: len(in_flight(n)))
        killed = time.time()
        victim.proc.kill()
        victim.wait(timeout=10)  # the reader has every line the node printed before it died
        lost = in_flight(victim)
        survivors = [n for n in started if n is not victim]
        jobs = {key.split("@")[0] for key in lost}
        recovered: dict[str, float] = {}
        resumed: dict[str, float] = {}  # a later fire of an interrupted job starts
        end = killed + observe
        while time.time() < end:
            for node in survivors:
                for _, line in list(node.lines):
                    if not line.startswith("S "):
                        continue
                    _, key, at = line.split()
                    job = key.split("@")[0]
                    if key in lost and key not in recovered:
                        recovered[key] = float(at) - killed
                    later = key not in lost and float(at) > killed
                    if later and job in jobs and job not in resumed:
                        resumed[job] = float(at) - killed
            if len(recovered) == len(lost) and len(resumed) == len(jobs):
                break
            time.sleep(0.1)
    finally:
        _teardown(schema, started)
    times = sorted(recovered.values())
    return {
        "interrupted": len(lost),
        "recovered": len(recovered),
        "observed_s": observe,
        "first_s": times[0] if times else None,
        "last_s": times[-1] if len(times) == len(lost) and times else None,
        "resumed_s": max(resumed.values()) if len(resumed) == len(jobs) and resumed else None,
    }


def _fmt_s(value: float | None, observe: float) -> str:
    return f"> {observe:.0f} s" if value is None else f"{value:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--systems", default="asyncron,aps4,aps4-tuned")
    parser.add_argument(
        "--loads",
        default="600x1.5,1000x1",
        help="JOBSxINTERVAL pairs, comma-separated (offered = jobs / interval fires/s)",
    )
    parser.add_argument("--nodes", default="1,3")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--grace", type=float, default=5.0, help="a run counts if it starts by then"
    )
    parser.add_argument("--no-kill", action="store_true", help="skip the SIGKILL measurement")
    parser.add_argument("--kill-only", action="store_true", help="only the SIGKILL measurement")
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs per system")
    parser.add_argument("--kill-nodes", type=int, default=3)
    parser.add_argument("--kill-jobs", type=int, default=200)
    parser.add_argument("--kill-warmup", type=float, default=4.0)
    parser.add_argument("--observe", type=float, default=15.0, help="asyncron: wait for recovery")
    parser.add_argument(
        "--observe-peer", type=float, default=50.0, help="APScheduler 4: wait (its lease is 30 s)"
    )
    parser.add_argument("--make-peer-venv", action="store_true", help=f"run: {PEER_HINT}")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small, short, 1 node")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    if args.quick:  # about 20 s for asyncron alone; the peer's recovery takes its 30 s lease
        args.loads, args.nodes, args.seconds, args.warmup, args.grace = "200x1", "1", 2.0, 1.0, 2.0
        args.kills, args.kill_nodes, args.kill_jobs, args.observe = 1, 2, 50, 8.0
        args.observe_peer = 40.0
    if args.make_peer_venv and not peer_python().exists():
        make_peer_venv()
    versions = peer_versions()
    systems = [s for s in args.systems.split(",") if s]
    if any(s != "asyncron" for s in systems) and versions is None:
        say(f"APScheduler 4 skipped: no peer venv at {PEER_VENV}; create it with\n  {PEER_HINT}")
        systems = [s for s in systems if s == "asyncron"]
    elif versions is not None and any(s != "asyncron" for s in systems):
        anyio = tuple(int(p) for p in versions["anyio"].split(".")[:2])
        if versions["apscheduler"] != "4.0.0a6" or anyio >= (4, 14):
            say(
                f"warning: the peer venv has {versions}; the benchmark is set up for "
                "apscheduler 4.0.0a6 with anyio < 4.14"
            )

    loads = [(int(j), float(i)) for j, i in (p.split("x") for p in args.loads.split(","))]
    node_counts = [int(n) for n in args.nodes.split(",")]
    report: dict[str, Any] = {"versions": versions, "dsn": DSN, "throughput": [], "kill": {}}
    print(
        f"PostgreSQL {DSN}; window {args.seconds:g} s after {args.warmup:g} s warm-up, runs "
        f"counted if started within {args.grace:g} s of its end; peer venv: {versions}"
    )
    if not args.kill_only:
        print()
        print(
            "| offered | nodes | system | fires/s on time | runs started/s | p50 lateness "
            "| p99 lateness | fires/s vs tuned | p99 vs tuned |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for jobs, interval in loads:
            offered = jobs / interval
            for nodes in node_counts:
                results: dict[str, dict[str, Any]] = {}
                for name in systems:
                    say(f"{name}: {jobs} jobs every {interval:g} s on {nodes} node(s)")
                    results[name] = measure(System(name), nodes, jobs, interval, args)
                    say(f"  {results[name]}")
                tuned = results.get("aps4-tuned")
                for name, r in results.items():
                    ratio = p99 = ""
                    if tuned and name != "aps4-tuned" and tuned["fires_per_s"]:
                        ratio = f"{r['fires_per_s'] / tuned['fires_per_s']:.1f}x"
                        if name == "asyncron" and r["p99_ms"] > 0:  # NaN compares False
                            p99 = f"{tuned['p99_ms'] / r['p99_ms']:.0f}x lower"
                    print(
                        f"| {offered:,.0f}/s ({jobs:,} jobs) | {nodes} | {LABELS[name]} | "
                        f"{r['fires_per_s']:,.0f} | {r['started_per_s']:,.0f} | "
                        f"{r['p50_ms']:,.1f} ms | {r['p99_ms']:,.1f} ms | "
                        f"{ratio} | {p99} |",
                        flush=True,
                    )
                    report["throughput"].append(
                        {"jobs": jobs, "interval": interval, "nodes": nodes, "system": name, **r}
                    )
    if not args.no_kill:
        print()
        print(
            f"SIGKILL of the busiest of {args.kill_nodes} nodes, {args.kill_jobs} jobs every 1 s "
            f"running {BUSY_SECONDS} s, {args.kills} kill(s) per system:"
        )
        print()
        print(
            "| system | kill | fires interrupted | re-run elsewhere | kill -> first re-run | kill -> last re-run | kill -> next fire of those jobs |"
        )
        print("|---|---|---|---|---|---|---|")
        for name in systems:
            report["kill"][name] = []
            for k in range(args.kills):
                say(f"{name}: SIGKILL {k + 1}/{args.kills}")
                r = measure_kill(System(name), args)
                say(f"  {r}")
                report["kill"][name].append(r)
                obs = r["observed_s"]
                first = _fmt_s(r["first_s"], obs) if r["interrupted"] else "-"
                print(
                    f"| {LABELS[name]} | {k + 1} | {r['interrupted']} | {r['recovered']} | {first} | "
                    f"{_fmt_s(r['last_s'], obs) if r['interrupted'] else '-'} | "
                    f"{_fmt_s(r['resumed_s'], obs) if r['interrupted'] else '-'} |",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--node":
        run_node(sys.argv[2], json.loads(sys.argv[3]))
    else:
        main()
