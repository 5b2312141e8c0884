"""The store file as an attacker or a careless operator hands it over (issue 15, items 2, 3, 5
and 11): links, foreign files, special files, permissions and URL spellings, each driven through
real processes and real files."""

from __future__ import annotations

import hashlib
import json
import os
import select
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TIMEOUT = 30

#: Starts a scheduler on each URL of its arguments in turn, optionally schedules a job, prints
#: one JSON line per URL: what happened at start (the error's class and message, or the jobs),
#: and how long start() took.
OPENER = """
    import asyncio, json, sys, time
    from asyncron import AsyncScheduler, IntervalTrigger

    def tick() -> None:
        pass

    async def main() -> None:
        for url in [arg for arg in sys.argv[1:] if arg != "--add"]:
            await one(url)

    async def one(url: str) -> None:
        began = time.monotonic()
        try:
            s = AsyncScheduler(store=url)
            await s.start()
        except Exception as exc:
            out = {"error": type(exc).__name__, "message": str(exc)}
        else:
            if "--add" in sys.argv:
                await s.schedule(tick, trigger=IntervalTrigger(hours=1), job_id="added",
                                 replace=True)
            out = {"error": None, "jobs": sorted(j.id for j in await s.list_jobs())}
            await s.stop()
        out["elapsed"] = time.monotonic() - began
        print(json.dumps(out))

    asyncio.run(main())
"""

#: Holds a scheduler on argv[1] until its stdin closes; prints "ready <pid>" once it has it.
HOLDER = """
    import asyncio, os, sys
    from asyncron import AsyncScheduler

    async def main() -> None:
        async with AsyncScheduler(store=sys.argv[1]):
            print("ready", os.getpid(), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())
"""


def _script(folder: Path, name: str, code: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


def _open_all_in_child(cwd: Path, *urls: str) -> list[dict[str, object]]:
    """Start a scheduler on each of ``urls`` in turn in one child process; what each start()
    did (``"--add"`` among them: schedule a job after each start)."""
    script = _script(cwd, "opener.py", OPENER)
    done = subprocess.run(
        [sys.executable, str(script), *urls],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.strip().splitlines()]


def _open_in_child(cwd: Path, url: str, *extra: str) -> dict[str, object]:
    """Start a scheduler on ``url`` in a child process; what its start() did."""
    [result] = _open_all_in_child(cwd, url, *extra)
    return result


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[object]:
    """``holder(url)`` starts a child process holding a scheduler on ``url``; returns its pid."""
    procs: list[subprocess.Popen[str]] = []

    def start(url: str) -> int:
        script = _script(tmp_path, "holder.py", HOLDER)
        proc = subprocess.Popen(
            [sys.executable, str(script), url],
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("ready "), f"holder did not start: {line!r}"
        return int(line.split()[1])

    yield start
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=TIMEOUT)  # closes its stdin: it stops
            assert proc.returncode == 0, err
        finally:
            proc.kill()
            proc.communicate()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


NAMES = {"json": "jobs.json", "sqlite": "jobs.db"}


# -- item 2: the single-owner lock is the real file's -------------------------------------------


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_a_symlink_to_a_held_store_cannot_open_beside_its_owner(
    tmp_path: Path, kind: str, holder: object
) -> None:
    real = tmp_path / NAMES[kind]
    (tmp_path / "other").mkdir()
    link = tmp_path / "other" / f"link{real.suffix}"
    link.symlink_to(real)
    pid = holder(str(real))  # type: ignore[operator]
    seen = _open_in_child(tmp_path, str(link))
    assert seen["error"] == "StoreLockedError", seen
    assert f"already open in another process (pid {pid})" in str(seen["message"])
    assert f"(lock file {real}.lock)" in str(seen["message"])
    assert not (tmp_path / "other" / f"link{real.suffix}.lock").exists()


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_a_hard_link_to_a_store_is_refused_held_or_not(
    tmp_path: Path, kind: str, holder: object
) -> None:
    real = tmp_path / NAMES[kind]
    assert _open_in_child(tmp_path, str(real), "--add")["jobs"] == ["added"]
    hard = tmp_path / f"hard{real.suffix}"
    os.link(real, hard)
    before = _digest(real)
    for url in (str(hard), str(real)):  # neither name may open while the other exists
        seen = _open_in_child(tmp_path, url)
        assert seen["error"] == "StoreError", seen
        assert "has 2 hard links" in str(seen["message"])
    assert _digest(real) == before
    # And while a scheduler holds the store, a link made afterwards cannot open beside it.
    hard.unlink()
    holder(str(real))  # type: ignore[operator]
    os.link(real, hard)
    seen = _open_in_child(tmp_path, str(hard))
    assert seen["error"] == "StoreError" and "has 2 hard links" in str(seen["message"]), seen
    assert not (tmp_path / f"hard{real.suffix}.lock").exists()


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_a_store_opened_through_a_symlink_writes_the_real_file_and_keeps_the_link(
    tmp_path: Path, kind: str
) -> None:
    real = tmp_path / NAMES[kind]
    link = tmp_path / f"link{real.suffix}"
    link.symlink_to(real.name)
    assert _open_in_child(tmp_path, str(link), "--add")["jobs"] == ["added"]
    assert link.is_symlink() and real.is_file() and not real.is_symlink()
    assert (tmp_path / f"{real.name}.lock").exists()
    assert _open_in_child(tmp_path, str(real))["jobs"] == ["added"]


def test_a_lock_file_that_is_a_symlink_is_refused_and_its_target_untouched(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / "jobs.json.lock").symlink_to(victim)
    seen = _open_in_child(tmp_path, str(tmp_path / "jobs.json"))
    assert seen["error"] == "StoreError" and "is a symbolic link" in str(seen["message"]), seen
    assert victim.read_text() == "precious\n"


# -- item 3: a file that is not ours is refused, never repaired ---------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [("app.db", None), ("config.json", '{"debug": true, "db": "app.db"}\n'),
     ("notes.db", "not a database at all\n" * 50)],
)  # fmt: skip
def test_the_scheduler_refuses_another_applications_file_and_leaves_it_alone(
    tmp_path: Path, name: str, content: str | None, foreign_sqlite: Callable[[Path], Path]
) -> None:
    path = tmp_path / name
    if content is None:
        foreign_sqlite(path)
    else:
        path.write_text(content)
    before, listing = _digest(path), _listing(tmp_path)
    seen = _open_in_child(tmp_path, str(path))
    assert seen["error"] == "NotAStoreError", seen
    assert "is not an asyncron store" in str(seen["message"])
    assert _digest(path) == before
    # Only the child's script and the lock file are new: nothing moved aside, no -wal/-shm.
    assert _listing(tmp_path) == sorted([*listing, "opener.py", f"{name}.lock"])
    if name == "app.db":
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        conn.close()


# -- item 5: damaged and special files -----------------------------------------------------------


def test_a_truncated_sqlite_store_is_moved_aside_and_the_scheduler_starts(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    assert _open_in_child(tmp_path, str(path), "--add")["jobs"] == ["added"]
    data = path.read_bytes()
    assert len(data) >= 4 * 4096  # a few pages: half of them are cut off
    path.write_bytes(data[: len(data) // 2])
    seen = _open_in_child(tmp_path, str(path))
    assert seen["error"] is None and seen["jobs"] == [], seen
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == data[: len(data) // 2]


def test_a_fifo_a_device_or_a_directory_is_refused_within_a_second(tmp_path: Path) -> None:
    paths = []
    for kind, suffix in (("json", ".json"), ("sqlite", ".db")):
        for special in ("fifo", "/dev/zero", "directory"):
            path = tmp_path / f"{kind}-{special.strip('/').replace('/', '-')}{suffix}"
            if special == "fifo":
                os.mkfifo(path)
            elif special == "directory":
                path.mkdir()
            else:
                path.symlink_to(special)
            paths.append(path)
    listing = _listing(tmp_path)
    for path, seen in zip(paths, _open_all_in_child(tmp_path, *map(str, paths)), strict=True):
        assert seen["error"] == "NotAStoreError", (path, seen)
        assert "not a regular file" in str(seen["message"])
        assert float(seen["elapsed"]) < 1.0  # type: ignore[arg-type]
    assert _listing(tmp_path) == sorted([*listing, "opener.py"])  # no lock file beside any


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_a_read_only_store_is_refused_not_replaced_by_a_writable_one(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / NAMES[kind]
    assert _open_in_child(tmp_path, str(path), "--add")["jobs"] == ["added"]
    path.chmod(0o444)
    before = _digest(path)
    seen = _open_in_child(tmp_path, str(path), "--add")
    assert seen["error"] == "StoreError" and "is read-only (mode 0444)" in str(seen["message"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o444 and _digest(path) == before


def test_a_private_json_store_stays_private_across_rewrites(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    assert _open_in_child(tmp_path, str(path), "--add")["jobs"] == ["added"]
    path.chmod(0o600)
    assert _open_in_child(tmp_path, str(path), "--add")["error"] is None  # rewrites the file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- item 11: URL slashes as in SQLAlchemy --------------------------------------------------------


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_three_slashes_are_relative_and_four_absolute(tmp_path: Path, kind: str) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    (work / "here").mkdir(parents=True)
    elsewhere.mkdir()
    name = NAMES[kind]
    assert _open_in_child(work, f"{kind}:///here/{name}", "--add")["error"] is None
    assert (work / "here" / name).is_file()
    assert _open_in_child(work, f"{kind}:///{elsewhere / name}", "--add")["error"] is None
    assert (elsewhere / name).is_file()
    # The spelling an older asyncron read as absolute is refused with the fix, not obeyed
    # relative to the working directory (which would start an empty store).
    seen = _open_in_child(work, f"{kind}://{elsewhere / name}")
    assert seen["error"] == "InvalidJobError", seen
    assert f"write {kind}:///{elsewhere / name} (four slashes)" in str(seen["message"])
    assert sorted(os.listdir(work)) == ["here", "opener.py"]


@pytest.mark.parametrize(
    ("url", "message"),
    [("sqlite://host/jobs.db", "has a host part ('host')"),
     ("json://rel/state.json", "has a host part ('rel')"),
     ("sqlite:///jobs.db?mode=ro", "has a query or fragment ('?mode=ro')"),
     ("json:///state.json#x", "has a query or fragment ('#x')"),
     ("sqlite://", "has no file path"), ("json:///", "has no file path")],
)  # fmt: skip
def test_ambiguous_file_urls_are_refused_with_the_spelling_to_use(url: str, message: str) -> None:
    from asyncron.errors import InvalidJobError
    from asyncron.stores import store_from_url

    with pytest.raises(InvalidJobError, match="store: ") as info:
        store_from_url(url)
    assert message in str(info.value)
    assert ":///" in str(info.value)  # the spelling to use


def test_a_bare_path_is_taken_as_it_is(tmp_path: Path) -> None:
    from asyncron.stores import store_from_url

    odd = tmp_path / "a%20b#c?.json"
    store = store_from_url(str(odd))
    assert store.path == odd  # type: ignore[attr-defined]
