"""Several web workers, one PostgreSQL store: every worker runs a scheduler, each fire runs once.

A real ``uvicorn multiworker_app:app --workers 2`` (and, for aiohttp, which has no multi-worker
runner, two ``python -m aiohttp.web`` processes on two ports) serves the app of
``multiworker_app.py`` on 127.0.0.1. Every worker defines the same jobs (stable ids, a shared
window of fire instants); every run appends ``job id, scheduled instant, pid`` to an audit file.
After the window the server gets SIGTERM and stops gracefully. Then:

* no fire ran twice (strict, over every line of the audit, window or not);
* every fire of the window ran (the window starts when the first worker is ready: before that
  no scheduler existed that could have run it);
* two worker processes were up at the same time and served HTTP;
* a one-shot job scheduled through an endpoint ran exactly once;
* each worker stopped gracefully (its ``stopped`` marker follows the scheduler's stop).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from asyncron import CronTrigger, IntervalTrigger
from helpers import free_port

asyncpg = pytest.importorskip("asyncpg", reason="the multi-worker tests need asyncpg")

pytestmark = pytest.mark.postgres

HERE = Path(__file__).parent
DSN = os.environ.get("ASYNCRON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

#: Seconds from launching the servers to the window's start: time for two workers to import
#: FastAPI and asyncpg and join the store on a loaded 2-core machine (about 0.5 s when idle).
BOOT = 3.0
#: Length of the window of fires checked for losses.
WINDOW = 3.0
#: The jobs of ``multiworker_app``: id -> interval in seconds (None: the every-second cron job).
JOBS: dict[str, float | None] = {
    "interval-0.4s-async": 0.4,
    "interval-0.5s-sync": 0.5,
    "decorated-0.7s": 0.7,
    "cron-every-second": None,
}
ONCE_ID = "once-via-http"


def _postgres_problem() -> str | None:
    async def probe() -> None:
        conn = await asyncpg.connect(DSN, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL at {DSN} is not reachable: {type(exc).__name__}: {exc}"
    return None


def _sql(statement: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(DSN, timeout=5)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture
def store_url() -> Iterator[str]:
    """A ``postgresql://`` URL with a fresh schema, dropped after the test."""
    problem = _postgres_problem()
    if problem is not None:
        if os.environ.get("ASYNCRON_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem + " (ASYNCRON_REQUIRE_POSTGRES=1)")
        pytest.skip(problem)
    schema = "mw_" + secrets.token_hex(6)
    yield f"{DSN}?schema={schema}"
    _sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _micros(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def _expected(job_id: str, start: datetime, end: datetime, since: datetime) -> list[int]:
    """The fire instants (µs) of ``job_id``, whose window is ``start`` to ``end``, from
    ``since`` to ``end``, both included. Interval fires stay anchored at ``start`` even when the
    check begins later (a worker slow to boot), as the workers' triggers are."""
    seconds = JOBS[job_id]
    trigger = (
        CronTrigger.from_expression("* * * * * *", "UTC")
        if seconds is None
        else IntervalTrigger(seconds=seconds, start=start, end=end)
    )
    fires: list[int] = []
    fire = trigger.get_next_run(since - timedelta(microseconds=1))
    while fire is not None and fire <= end:
        fires.append(_micros(fire))
        fire = trigger.get_next_run(fire)
    return fires


@dataclass
class Audit:
    runs: list[tuple[str, int, int]] = field(default_factory=list)  # job id, fire µs, pid
    ready: dict[int, float] = field(default_factory=dict)  # pid -> time it was ready
    stopped: dict[int, float] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Audit:
        audit = cls()
        for line in path.read_text().splitlines() if path.exists() else []:
            kind, first, second = line.split()
            if kind == "ready":
                audit.ready[int(first)] = float(second)
            elif kind == "stopped":
                audit.stopped[int(first)] = float(second)
            else:
                audit.runs.append((kind, int(first), int(second)))
        return audit


def _http(method: str, url: str, *, wait: float = 0.0) -> dict[str, object]:
    """One JSON request; with ``wait``, a refused connection is retried for that long (aiohttp
    binds its port only after the app's startup, so "ready" comes a moment before it listens)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as r:
                assert r.status == 200
                body: dict[str, object] = json.loads(r.read())
                return body
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _wait_ready(audit_path: Path, procs: list[subprocess.Popen[str]], workers: int) -> Audit:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        audit = Audit.read(audit_path)
        if len(audit.ready) >= workers:
            return audit
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"a server exited early ({proc.returncode}): {_output(proc)}")
        time.sleep(0.05)
    raise AssertionError(f"{workers} workers were not ready within 30 s")


def _output(proc: subprocess.Popen[str]) -> str:
    with_timeout = proc.communicate(timeout=10) if proc.poll() is None else proc.communicate()
    return "\n".join(part for part in with_timeout if part)


@dataclass
class Servers:
    procs: list[subprocess.Popen[str]]
    base_urls: list[str]
    workers: int


def _popen(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *command],
        cwd=HERE,  # the app module is imported from here
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _launch(kind: str, env: dict[str, str]) -> Servers:
    if kind == "uvicorn":
        port = free_port()
        command = ["-m", "uvicorn", "multiworker_app:app", "--workers", "2", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--log-level", "warning"]
        return Servers([_popen(command, env)], [f"http://127.0.0.1:{port}"], workers=2)
    # aiohttp has no multi-worker runner: two processes on two ports are its equivalent
    ports = [free_port(), free_port()]
    procs = [
        _popen(
            [
                "-m",
                "aiohttp.web",
                "-H",
                "127.0.0.1",
                "-P",
                str(port),
                "multiworker_app:make_aiohttp_app",
            ],
            env,
        )
        for port in ports
    ]
    return Servers(procs, [f"http://127.0.0.1:{port}" for port in ports], workers=2)


@pytest.mark.parametrize("kind", ["uvicorn", "aiohttp"])
def test_each_fire_runs_once_across_worker_processes_sharing_a_postgres_store(
    kind: str, store_url: str, tmp_path: Path
) -> None:
    audit_path = tmp_path / "audit.log"
    launched = time.time()
    start = datetime.fromtimestamp(round(launched + BOOT, 1), UTC)
    end = start + timedelta(seconds=WINDOW)
    env = {
        **os.environ,
        "MW_STORE": store_url,
        "MW_START": str(start.timestamp()),
        "MW_END": str(end.timestamp()),
        "MW_AUDIT": str(audit_path),
        "PYTHONUNBUFFERED": "1",
    }
    servers = _launch(kind, env)
    try:
        ready = _wait_ready(audit_path, servers.procs, servers.workers)

        # HTTP answers, and every worker knows every job (its own and the stored ones).
        for base in servers.base_urls:
            listed = _http("GET", f"{base}/jobs", wait=10)
            assert isinstance(listed["jobs"], list) and set(JOBS) <= set(listed["jobs"]), listed
            assert listed["pid"] in ready.ready

        # An endpoint schedules a one-shot job on one worker; it must run once in the cluster.
        once_at = round(max(time.time() + 1.0, start.timestamp() + 1.0), 3)
        added = _http("POST", f"{servers.base_urls[0]}/once?job_id={ONCE_ID}&at={once_at}")
        assert added["id"] == ONCE_ID

        time.sleep(max(0.0, end.timestamp() + 1.0 - time.time()))
        for proc in servers.procs:
            proc.send_signal(signal.SIGTERM)
        outputs = [_output(proc) for proc in servers.procs]
    finally:
        for proc in servers.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    assert [proc.returncode for proc in servers.procs] == [0] * len(servers.procs), outputs
    audit = Audit.read(audit_path)

    # Two workers were up at once, and each stopped gracefully after its scheduler stopped.
    assert len(audit.ready) == servers.workers, audit.ready
    assert max(audit.ready.values()) < min(audit.stopped.values() or [float("inf")])
    assert set(audit.stopped) == set(audit.ready), (audit.ready, audit.stopped, outputs)
    assert {pid for _, _, pid in audit.runs} <= set(audit.ready)

    # No fire ran twice: strictly, over everything that ran.
    counts = Counter((job_id, fire) for job_id, fire, _ in audit.runs)
    doubles = {fire: n for fire, n in counts.items() if n > 1}
    assert not doubles, f"fires run more than once: {doubles}\n{outputs}"

    # No fire of the window was lost. The window starts when the first worker was ready: before
    # that no scheduler had these jobs. With BOOT's slack that is the whole window.
    first_ready = datetime.fromtimestamp(min(audit.ready.values()), UTC)
    checked_from = max(start, first_ready)
    assert end - checked_from >= timedelta(seconds=WINDOW / 2), (
        f"the workers took {first_ready.timestamp() - launched:.1f} s to start"
    )
    ran = set(counts)
    missing = {
        job_id: [f for f in _expected(job_id, start, end, checked_from) if (job_id, f) not in ran]
        for job_id in JOBS
    }
    assert not any(missing.values()), f"fires lost: {missing}\n{outputs}"
    expected_total = sum(len(_expected(job_id, start, end, checked_from)) for job_id in JOBS)
    assert expected_total >= 15

    # The interval jobs end with the window: nothing after it.
    for job_id, fire in counts:
        if JOBS.get(job_id) is not None:
            assert fire <= _micros(end), (job_id, fire)

    # The endpoint's one-shot job ran exactly once, at its instant.
    assert [key for key in counts if key[0] == ONCE_ID] == [(ONCE_ID, round(once_at * 1e6))]


UNANCHORED_NODE = """
import asyncio, os, sys
from asyncron import AsyncScheduler, current_run

def job() -> None:
    run = current_run()
    print(run.scheduled_at.timestamp(), os.getpid(), flush=True)

async def main() -> None:
    scheduler = AsyncScheduler(store=sys.argv[1])
    scheduler.every(seconds=0.5, job_id="unanchored")(job)  # no start=: as in most apps
    async with scheduler:
        print("ready", flush=True)
        await asyncio.sleep(float(sys.argv[2]))

asyncio.run(main())
"""


def test_interval_without_start_runs_at_its_rate_across_workers(
    store_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "node.py"
    script.write_text(UNANCHORED_NODE)
    first = subprocess.Popen(
        [sys.executable, str(script), store_url, "3.0"], stdout=subprocess.PIPE, text=True
    )
    assert first.stdout is not None and first.stdout.readline() == "ready\n"
    time.sleep(0.25)  # the second worker starts a quarter of an interval later
    second = subprocess.Popen(
        [sys.executable, str(script), store_url, "2.0"], stdout=subprocess.PIPE, text=True
    )
    outputs = [proc.communicate(timeout=30)[0] for proc in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0]
    pids: dict[float, str] = {}
    fires: list[float] = []
    for line in "".join(outputs).splitlines():
        if line != "ready":
            at, pid = line.split()
            fires.append(float(at))
            pids[float(at)] = pid
    fires.sort()
    assert len(set(fires)) == len(fires)  # each fire identity runs once: that part holds
    # One job, one phase: every fire is a whole number of intervals after the first, whatever
    # the number of workers (with the bug each worker adds its own phase, and the job runs
    # twice as often).
    phases = {round((at - fires[0]) % 0.5, 3) % 0.5 for at in fires}
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(fires)]
    assert phases == {0.0}, f"fire instants {fires} (gaps {gaps}) by pids {pids}"
