"""The ``asyncron`` command, run for real in a subprocess (``python -m asyncron ...``)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TIMEOUT = 30


def _run(cwd: Path, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asyncron", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _write(path: Path, code: str) -> None:
    path.write_text(textwrap.dedent(code), encoding="utf-8")


def _wait_for_line(proc: subprocess.Popen[str], needle: str, seen: list[str]) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} not seen in output: {''.join(seen)}")


# -- demo ------------------------------------------------------------------------------------


def test_demo_runs_every_kind_of_job_and_prints_a_summary(tmp_path: Path) -> None:
    result = _run(tmp_path, "demo", "--duration", "1.6")
    assert result.returncode == 0, result.stderr
    assert "asyncron demo: 4 jobs" in result.stdout
    assert "p50 late ms" in result.stdout
    for name in ("once (async)", "every 0.7 s (async)", "every 1.3 s (sync)", "cron every second"):
        assert name in result.stdout
    assert result.stderr == ""


def test_demo_rejects_a_non_positive_duration(tmp_path: Path) -> None:
    result = _run(tmp_path, "demo", "--duration", "0")
    assert result.returncode == 2
    assert "--duration must be > 0" in result.stderr


# -- run ---------------------------------------------------------------------------------------

SCHEDULER_MODULE = """
    import asyncio
    from pathlib import Path
    from asyncron import AsyncScheduler

    scheduler = AsyncScheduler(stop_timeout=10)
    MARK = Path(__file__).with_name("marks.txt")

    @scheduler.every(seconds=0.05)
    async def tick() -> None:
        pass

    @scheduler.every(seconds=0.05, name="slow", max_runs=1)
    async def slow() -> None:
        with MARK.open("a") as f:
            f.write("started\\n")
        await asyncio.sleep(0.5)
        with MARK.open("a") as f:
            f.write("finished\\n")
"""


def test_run_logs_one_line_per_event_and_sigterm_stops_gracefully(tmp_path: Path) -> None:
    _write(tmp_path / "myjobs.py", SCHEDULER_MODULE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "asyncron", "run", "myjobs:scheduler"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        _wait_for_line(proc, "job(s)", seen)
        assert "2 job(s)" in seen[-1]
        _wait_for_line(proc, "run succeeded", seen)
        deadline = time.monotonic() + TIMEOUT
        marks = tmp_path / "marks.txt"
        while not (marks.exists() and "started" in marks.read_text()):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)  # while "slow" is running
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    out = "".join(seen) + out
    assert proc.returncode == 0, err
    assert marks.read_text().splitlines() == ["started", "finished"]  # waited for the run
    assert "run succeeded" in out and "job='tick'" in out
    assert "SIGTERM received, stopping gracefully (waiting for 1 running job(s))" in out
    assert "run succeeded" in out.split("SIGTERM received")[1]  # the slow run, logged at stop
    assert out.rstrip().endswith("asyncron: stopped")
    assert "Traceback" not in err


def test_run_a_fastapi_app_runs_its_lifespan_and_scheduler(tmp_path: Path) -> None:
    _write(
        tmp_path / "webapp.py",
        """
        from contextlib import asynccontextmanager
        from fastapi import FastAPI
        from asyncron import AsyncScheduler
        from asyncron.integrations.starlette import asyncron_lifespan

        scheduler = AsyncScheduler()

        @asynccontextmanager
        async def own(app):
            print("app startup", flush=True)
            yield
            print("app shutdown", flush=True)

        app = FastAPI(lifespan=asyncron_lifespan(scheduler, own))

        @scheduler.every(seconds=0.05)
        def beat() -> None:
            pass
        """,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "asyncron", "run", "webapp:app"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        _wait_for_line(proc, "app startup", seen)
        _wait_for_line(proc, "run succeeded", seen)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "SIGINT received" in out and "app shutdown" in out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nosuchmodule:app", "asyncron run: error: cannot import 'nosuchmodule': no module named"),
        ("myjobs:nothing", "asyncron run: error: module 'myjobs' has no attribute 'nothing'"),
        ("myjobs", "asyncron run: error: 'myjobs' is not a module:attribute reference"),
        ("myjobs:MARK", "asyncron run: error: expected an AsyncScheduler, a Starlette/FastAPI app"),
        ("broken:x", "asyncron run: error: importing 'broken' failed: ZeroDivisionError"),
    ],
)
def test_run_errors_are_one_line_without_traceback(
    tmp_path: Path, target: str, message: str
) -> None:
    _write(tmp_path / "myjobs.py", SCHEDULER_MODULE)
    _write(tmp_path / "broken.py", "x = 1 / 0\n")
    result = _run(tmp_path, "run", target)
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    _write(tmp_path / "broken.py", "x = 1 / 0\n")
    result = _run(tmp_path, "run", "broken:x", "--debug")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("asyncron run: error: importing")


def test_usage_error_exits_2(tmp_path: Path) -> None:
    result = _run(tmp_path, "jobs")
    assert result.returncode == 2
    assert "--store" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")
@pytest.mark.parametrize("rich", [True, False], ids=["rich", "plain"])
def test_run_on_a_terminal_shows_a_live_table(tmp_path: Path, rich: bool) -> None:
    import pty

    _write(tmp_path / "myjobs.py", SCHEDULER_MODULE)
    env = dict(os.environ, COLUMNS="160", LINES="40", TERM="xterm")
    if not rich:
        # hide rich from the child: a module named "rich" that cannot be imported
        (tmp_path / "hide").mkdir()
        _write(tmp_path / "hide" / "sitecustomize.py", "import sys\nsys.modules['rich'] = None\n")
        env["PYTHONPATH"] = str(tmp_path / "hide")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "asyncron", "run", "myjobs:scheduler", "--refresh", "0.1"],
        cwd=tmp_path,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    screen = b""
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    screen += os.read(leader, 65536)
                except OSError:
                    break
            text = screen.decode("utf-8", "replace")
            if "tick" in text and "succeeded" in text and "lateness" in text:
                break
        text = screen.decode("utf-8", "replace")
        for header in ("next fire", "last outcome", "lateness", "runs"):
            assert header in text, text
        assert "slow" in text and "Ctrl-C to stop" in text
        assert ("\x1b[H\x1b[2J" in text) is not rich  # the plain view clears and redraws
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        proc.kill()
        os.close(leader)


# -- store commands ----------------------------------------------------------------------------

TASKS = """
    import asyncron

    @asyncron.storable  # stored jobs may run it: a restart brings them back
    def add(a: int, b: int) -> int:
        return a + b

    @asyncron.storable
    def fail() -> None:
        raise RuntimeError("nope")

    def wipe(a: int, b: int) -> None:  # never scheduled, not storable
        open("WIPED", "w").close()
"""

MAKE_STORE = """
    import asyncio, sys
    from asyncron import AsyncScheduler
    from tasks import add, fail

    async def main() -> None:
        async with AsyncScheduler(store=sys.argv[1]) as s:
            await s.schedule(add, name="adder", trigger="0 9 * * *", args=(2, 3), job_id="adder")
            await s.schedule(fail, name="failer", trigger=3600, job_id="failer")

    asyncio.run(main())
"""


@pytest.fixture(params=["sqlite", "json"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    _write(tmp_path / "tasks.py", TASKS)
    _write(tmp_path / "make_store.py", MAKE_STORE)
    suffix = "db" if request.param == "sqlite" else "json"
    url = f"{request.param}:///{tmp_path / f'jobs.{suffix}'}"
    subprocess.run(
        [sys.executable, "make_store.py", url], cwd=tmp_path, check=True, timeout=TIMEOUT
    )
    return url


def _jobs(tmp_path: Path, url: str) -> dict[str, dict[str, object]]:
    result = _run(tmp_path, "jobs", "--store", url, "--json")
    assert result.returncode == 0, result.stderr
    return {job["id"]: job for job in json.loads(result.stdout)}


def test_jobs_lists_stored_jobs_as_a_table_and_as_json(tmp_path: Path, store_url: str) -> None:
    table = _run(tmp_path, "jobs", "--store", store_url)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["id", "name", "status", "trigger"]
    assert lines[1].startswith("adder") and "at 09:00 every day" in lines[1]
    assert lines[2].startswith("failer") and "every 1 h" in lines[2]
    jobs = _jobs(tmp_path, store_url)
    assert jobs["adder"]["function"] == "tasks:add"
    assert jobs["adder"]["status"] == "pending"
    assert jobs["adder"]["trigger"]["expression"] == "0 9 * * *"  # type: ignore[index]
    assert str(jobs["adder"]["next_run"]).endswith("T09:00:00+00:00")


def test_pause_resume_and_remove_change_the_store(tmp_path: Path, store_url: str) -> None:
    assert (
        _run(tmp_path, "pause", "adder", "--store", store_url).stdout
        == "paused job adder (adder)\n"
    )
    assert _jobs(tmp_path, store_url)["adder"]["status"] == "paused"
    again = _run(tmp_path, "pause", "adder", "--store", store_url)
    assert again.returncode == 0 and "already paused" in again.stdout
    assert _run(tmp_path, "resume", "adder", "--store", store_url).returncode == 0
    assert _jobs(tmp_path, store_url)["adder"]["status"] == "pending"
    removed = _run(tmp_path, "remove", "failer", "--store", store_url)
    assert removed.stdout == "removed job failer (failer)\n"
    assert list(_jobs(tmp_path, store_url)) == ["adder"]
    missing = _run(tmp_path, "remove", "failer", "--store", store_url)
    assert missing.returncode == 1
    assert missing.stderr.startswith("asyncron remove: error: no job with id 'failer' in ")


def test_run_now_runs_a_stored_job_and_records_the_run(tmp_path: Path, store_url: str) -> None:
    result = _run(tmp_path, "run-now", "adder", "--store", store_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran job adder (adder): 5\n"
    also = _run(tmp_path, "run", "adder", "--store", store_url)  # the short form
    assert also.stdout == "ran job adder (adder): 5\n"
    job = _jobs(tmp_path, store_url)["adder"]
    assert job["run_count"] == 2 and job["error"] is None and job["last_run"] is not None
    assert job["next_run"] is not None  # the schedule is unchanged


def test_run_now_refuses_a_record_edited_to_name_an_unvouched_function(tmp_path: Path) -> None:
    """The record's module is imported (its @storable marks count), but naming another of its
    functions does not make that one runnable."""
    _write(tmp_path / "tasks.py", TASKS)
    _write(tmp_path / "make_store.py", MAKE_STORE)
    path = tmp_path / "jobs.json"
    subprocess.run([sys.executable, "make_store.py", f"json:///{path}"], cwd=tmp_path, check=True)
    doc = json.loads(path.read_text())
    next(r for r in doc["jobs"] if r["id"] == "adder")["func_ref"] = "tasks:wipe"
    path.write_text(json.dumps(doc))
    result = _run(tmp_path, "run-now", "adder", "--store", f"json:///{path}")
    assert result.returncode == 1
    assert "cannot be loaded" in result.stderr and "did not vouch for it" in result.stderr
    assert not (tmp_path / "WIPED").exists()


def test_run_now_reports_the_jobs_failure_in_one_line(tmp_path: Path, store_url: str) -> None:
    result = _run(tmp_path, "run-now", "failer", "--store", store_url)
    assert result.returncode == 1
    assert (
        result.stderr == "asyncron run-now: error: job failer (failer) failed: RuntimeError: nope\n"
    )
    job = _jobs(tmp_path, store_url)["failer"]
    assert job["failure_count"] == 1 and job["error"] == "RuntimeError: nope"


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every name in ``folder`` and the bytes of each file: what "creates nothing, changes
    nothing" compares."""
    return {
        name: (folder / name).read_bytes() if (folder / name).is_file() else None
        for name in sorted(os.listdir(folder))
    }


def test_jobs_opens_the_store_read_only_and_creates_nothing(tmp_path: Path, store_url: str) -> None:
    name = store_url.rsplit("/", 1)[1]
    (tmp_path / f"{name}.lock").unlink()  # left by the scheduler that made the store
    before = _snapshot(tmp_path)
    relative = f"{store_url.split(':', 1)[0]}:///{name}"  # three slashes: the working directory
    for args in (("--store", store_url), ("--store", relative, "--json"), ("--store", name)):
        result = _run(tmp_path, "jobs", *args)
        assert result.returncode == 0, result.stderr
        assert "adder" in result.stdout
        assert _snapshot(tmp_path) == before  # no lock file, no -wal/-shm, not a byte changed


@pytest.mark.parametrize(
    ("name", "says"),
    [("app.db", "is not an asyncron store: it is an SQLite database with 1 table(s) of another"),
     ("config.json", "is not an asyncron store (ValueError"),
     ("fifo.json", "is a FIFO (named pipe), not a regular file")],
)  # fmt: skip
def test_store_commands_refuse_another_applications_file_with_exit_2(
    tmp_path: Path, name: str, says: str, foreign_sqlite: Callable[[Path], Path]
) -> None:
    path = tmp_path / name
    if name == "app.db":
        foreign_sqlite(path)
    elif name == "fifo.json":
        os.mkfifo(path)  # reading it would block: it must be refused without being opened
    else:
        path.write_text('{"debug": true, "database": "app.db"}\n')
    before = _snapshot(tmp_path)
    for command in (["jobs"], ["jobs", "--json"], ["pause", "x"], ["resume", "x"],
                    ["remove", "x"], ["run-now", "x"], ["run", "x"]):  # fmt: skip
        result = _run(tmp_path, *command, "--store", name)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith(f"asyncron {command[0]}: error: ")
        assert says in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""
        assert _snapshot(tmp_path) == before, command  # no table, no WAL, no lock, no rename


@pytest.mark.parametrize("kind", ["sqlite", "json"])
def test_store_commands_on_a_damaged_store_move_nothing(tmp_path: Path, kind: str) -> None:
    _write(tmp_path / "tasks.py", TASKS)
    _write(tmp_path / "make_store.py", MAKE_STORE)
    name = "jobs.db" if kind == "sqlite" else "jobs.json"
    subprocess.run(
        [sys.executable, "make_store.py", name], cwd=tmp_path, check=True, timeout=TIMEOUT
    )
    data = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])  # truncated
    before = _snapshot(tmp_path)
    for command in (["jobs"], ["pause", "adder"]):
        result = _run(tmp_path, *command, "--store", name)
        assert result.returncode == 1, result.stderr
        assert "is an asyncron store that cannot be read" in result.stderr
        assert "left where it is" in result.stderr
        assert _snapshot(tmp_path) == before  # a scheduler moves it aside; the CLI does not


def test_store_commands_refuse_a_missing_store(tmp_path: Path) -> None:
    result = _run(tmp_path, "jobs", "--store", f"sqlite:///{tmp_path / 'nope.db'}")
    assert result.returncode == 1
    assert (
        result.stderr
        == f"asyncron jobs: error: no store at {tmp_path / 'nope.db'} (from --store 'sqlite:///{tmp_path / 'nope.db'}')\n"
    )
    assert not (tmp_path / "nope.db").exists()
    bad = _run(tmp_path, "jobs", "--store", "ftp://x")
    assert bad.returncode == 1 and "unknown store URL" in bad.stderr


def test_a_store_held_by_a_running_scheduler_is_a_clear_error(
    tmp_path: Path, store_url: str
) -> None:
    _write(
        tmp_path / "runner.py",
        "import tasks  # its @storable functions: the stored jobs may run them\n"
        "from asyncron import AsyncScheduler\nscheduler = AsyncScheduler()\n",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "asyncron", "run", "runner:scheduler", "--store", store_url],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        _wait_for_line(proc, "job(s)", seen)
        assert "2 job(s)" in seen[-1]  # the stored jobs were loaded
        result = _run(tmp_path, "pause", "adder", "--store", store_url)
        assert result.returncode == 1
        assert result.stderr.startswith("asyncron pause: error: ")
        assert "is already open in another process" in result.stderr
        assert result.stderr.count("\n") == 1
        listed = _run(tmp_path, "jobs", "--store", store_url, "--json")  # reading needs no lock
        assert listed.returncode == 0, listed.stderr
        assert sorted(job["id"] for job in json.loads(listed.stdout)) == ["adder", "failer"]
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 0


# -- run ID --store URL: the short form of run-now ----------------------------------------------


def test_run_with_a_job_id_and_a_store_runs_the_stored_job(tmp_path: Path, store_url: str) -> None:
    result = _run(tmp_path, "run", "adder", "--store", store_url)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "ran job adder (adder): 5\n",
        "",
    )
    assert _jobs(tmp_path, store_url)["adder"]["run_count"] == 1


@pytest.mark.parametrize(
    ("job_id", "message"),
    [
        ("failer", "asyncron run: error: job failer (failer) failed: RuntimeError: nope\n"),
        ("nope", "asyncron run: error: no job with id 'nope' in "),
    ],
)
def test_run_with_a_job_id_reports_errors_in_one_line(
    tmp_path: Path, store_url: str, job_id: str, message: str
) -> None:
    result = _run(tmp_path, "run", job_id, "--store", store_url)
    assert result.returncode == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""
    debug = _run(tmp_path, "run", job_id, "--store", store_url, "--debug")
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1].startswith(message.rstrip("\n"))


def test_run_with_a_job_id_but_no_store_says_to_add_one(tmp_path: Path) -> None:
    result = _run(tmp_path, "run", "adder")
    assert result.returncode == 1
    assert result.stderr == (
        "asyncron run: error: 'adder' is not a module:attribute reference "
        "(e.g. myapp.jobs:scheduler); to run the stored job 'adder' now, add --store URL\n"
    )


# -- the store commands against PostgreSQL ------------------------------------------------------

PG_DSN = os.environ.get("ASYNCRON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _pg(statement: str) -> None:
    asyncpg = pytest.importorskip("asyncpg", reason="needs asyncpg (asyncron[postgres])")

    async def go() -> None:
        conn = await asyncpg.connect(PG_DSN, timeout=5)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    """A PostgreSQL store (fresh schema) holding the jobs of MAKE_STORE."""
    try:
        _pg("SELECT 1")
    except Exception as exc:
        problem = f"PostgreSQL at {PG_DSN} is not reachable: {type(exc).__name__}: {exc}"
        if os.environ.get("ASYNCRON_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem + " (ASYNCRON_REQUIRE_POSTGRES=1)")
        pytest.skip(problem)
    schema = "cli_" + secrets.token_hex(6)
    url = f"{PG_DSN}?schema={schema}"
    _write(tmp_path / "tasks.py", TASKS)
    _write(tmp_path / "make_store.py", MAKE_STORE)
    subprocess.run([sys.executable, "make_store.py", url], cwd=tmp_path, check=True, timeout=60)
    yield url
    _pg(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_store_commands_work_against_a_postgres_store(tmp_path: Path, pg_url: str) -> None:
    table = _run(tmp_path, "jobs", "--store", pg_url)
    assert table.returncode == 0, table.stderr
    assert [line.split()[0] for line in table.stdout.splitlines()] == ["id", "adder", "failer"]
    assert (
        _run(tmp_path, "pause", "adder", "--store", pg_url).stdout == "paused job adder (adder)\n"
    )
    assert _jobs(tmp_path, pg_url)["adder"]["status"] == "paused"
    resumed = _run(tmp_path, "resume", "adder", "--store", pg_url)
    assert resumed.stdout == "resumed job adder (adder)\n"
    assert _jobs(tmp_path, pg_url)["adder"]["status"] == "pending"
    ran = _run(tmp_path, "run", "adder", "--store", pg_url)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "ran job adder (adder): 5\n", "")
    failed = _run(tmp_path, "run-now", "failer", "--store", pg_url)
    assert (
        failed.stderr == "asyncron run-now: error: job failer (failer) failed: RuntimeError: nope\n"
    )
    removed = _run(tmp_path, "remove", "failer", "--store", pg_url)
    assert removed.stdout == "removed job failer (failer)\n"
    assert list(_jobs(tmp_path, pg_url)) == ["adder"]


@pytest.mark.postgres
def test_a_postgres_schema_without_a_store_is_an_error_and_is_not_created(
    tmp_path: Path, pg_url: str
) -> None:
    typo = pg_url.rsplit("=", 1)[0] + "=cli_no_such_schema"
    result = _run(tmp_path, "jobs", "--store", typo)
    assert result.returncode == 1
    assert result.stderr.startswith("asyncron jobs: error: no store in PostgreSQL store ")
    assert "(schema cli_no_such_schema): the schema has no asyncron tables" in result.stderr
    assert result.stderr.count("\n") == 1
    again = _run(tmp_path, "jobs", "--store", typo)  # still not there: nothing was created
    assert again.returncode == 1
    bad = _run(tmp_path, "jobs", "--store", "postgresql://127.0.0.1/x?schema=1bad")
    assert bad.returncode == 1 and "schema: expected letters, digits and '_'" in bad.stderr


def _pg_value(statement: str) -> object:
    asyncpg = pytest.importorskip("asyncpg", reason="needs asyncpg (asyncron[postgres])")

    async def go() -> object:
        conn = await asyncpg.connect(PG_DSN, timeout=5)
        try:
            return await conn.fetchval(statement)
        finally:
            await conn.close()

    return asyncio.run(go())


@pytest.mark.postgres
def test_jobs_on_postgres_only_reads_an_older_schema_is_refused_not_migrated(
    tmp_path: Path, pg_url: str
) -> None:
    schema = pg_url.rsplit("=", 1)[1]
    version = f"SELECT value FROM \"{schema}\".meta WHERE key = 'schema_version'"
    current = int(str(_pg_value(version)))
    listed = _run(tmp_path, "jobs", "--store", pg_url)
    assert listed.returncode == 0, listed.stderr
    _pg(f"UPDATE \"{schema}\".meta SET value = '{current - 1}' WHERE key = 'schema_version'")
    older = _run(tmp_path, "jobs", "--store", pg_url)
    assert older.returncode != 0
    assert f"has schema version {current - 1}, older than {current}" in older.stderr
    assert "a read-only open does not migrate it" in older.stderr
    assert older.stderr.count("\n") == 1  # one line, no traceback
    assert _pg_value(version) == str(current - 1)  # left as it was


@pytest.mark.postgres
def test_pause_against_postgres_reaches_a_running_scheduler(tmp_path: Path, pg_url: str) -> None:
    _write(
        tmp_path / "runner.py",
        "import tasks  # its @storable functions: the stored jobs may run them\n"
        "from asyncron import AsyncScheduler\nscheduler = AsyncScheduler()\n",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "asyncron", "run", "runner:scheduler", "--store", pg_url],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        _wait_for_line(proc, "job(s)", seen)
        assert "2 job(s)" in seen[-1]
        paused = _run(tmp_path, "pause", "adder", "--store", pg_url)  # no "store in use" error
        assert paused.returncode == 0, paused.stderr
        _wait_for_line(proc, "job paused", seen)  # the node applied it (LISTEN/NOTIFY)
        assert "job='adder'" in seen[-1]
        assert _run(tmp_path, "resume", "adder", "--store", pg_url).returncode == 0
        _wait_for_line(proc, "job resumed", seen)
        assert "job='adder'" in seen[-1]
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 0
