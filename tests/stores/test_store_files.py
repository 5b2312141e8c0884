"""Embedded store files: corruption, versions, locking (RELIABILITY R6, B)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from asyncron.abc import StoredJob
from asyncron.errors import NotAStoreError
from asyncron.stores import (
    JsonFileStore,
    SQLiteStore,
    StoreLockedError,
    StoreVersionError,
    store_from_url,
)
from asyncron.stores.memory import MemoryStore

pytestmark = pytest.mark.asyncio

ROW = StoredJob("a", "a", "persist_jobs:record", {"type": "interval"}, {"args": [], "kwargs": {}})


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00" * 4096, b"{", b'{"format":"asyncron.jobs","version":1,"jobs":[{"id":',
     b'{"format":"asyncron.jobs","version":1,"jobs":{}}',
     b'{\n  "format": "asyncron.jobs",\n  "version": "one"\n}\n'],
)  # fmt: skip
async def test_corrupt_json_file_is_moved_aside_never_overwritten(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    store = JsonFileStore(path)
    with caplog.at_level(logging.WARNING, "asyncron.stores"):
        await store.open()
    try:
        assert store.moved_aside is not None and store.moved_aside.read_bytes() == content
        assert ".corrupt-" in store.moved_aside.name
        assert str(store.moved_aside) in caplog.text
        assert await store.list_jobs() == []
        await store.write_batch([ROW])
        assert store.moved_aside.read_bytes() == content
    finally:
        await store.close()


async def test_one_bad_record_is_kept_verbatim_and_the_rest_load(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    bad = {"id": "b", "name": 5}
    path.write_text(
        json.dumps({"format": "asyncron.jobs", "version": 1, "jobs": [ROW.to_doc(), bad]})
    )
    store = JsonFileStore(path)
    await store.open()
    assert [j.id for j in await store.list_jobs()] == ["a"] and len(store.quarantined) == 1
    await store.write_batch([ROW.evolve(run_count=1)])
    await store.close()
    assert bad in json.loads(path.read_text())["jobs"]


@pytest.mark.parametrize(
    "content",
    [b"\x00\x01garbage", b'{"format":"other"}', b"[]", b'{"debug": true}\n', b"null", b"key = 1\n"],
)
async def test_a_json_file_that_is_not_a_store_is_refused_and_left_alone(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(NotAStoreError, match=r"is not an asyncron store .*left untouched"):
        await JsonFileStore(path).open()
    assert path.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["state.json", "state.json.lock"]
    await JsonFileStore(path).close()


async def test_newer_json_format_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    content = json.dumps({"format": "asyncron.jobs", "version": 99, "jobs": []})
    path.write_text(content)
    with pytest.raises(StoreVersionError, match="version 99"):
        await JsonFileStore(path).open()
    assert path.read_text() == content
    await JsonFileStore(path).close()  # the lock was released: a new store can open later


async def test_newer_sqlite_schema_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "jobs.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE asyncron_meta SET value='7' WHERE key='schema_version'")
    with pytest.raises(StoreVersionError, match="schema version 7"):
        await SQLiteStore(path).open()


async def test_an_asyncron_database_with_a_clobbered_header_is_moved_aside(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    store = SQLiteStore(path)
    await store.open()
    await store.write_batch([ROW])
    await store.close()
    damaged = b"this is not a database" * 5 + path.read_bytes()[110:]
    path.write_bytes(damaged)
    store = SQLiteStore(path)
    await store.open()
    try:
        assert store.moved_aside is not None and store.moved_aside.read_bytes() == damaged
        assert await store.integrity_check() == "ok"
        assert await store.list_jobs() == []
    finally:
        await store.close()


async def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(NotAStoreError, match="cannot be read as an SQLite database"):
        await SQLiteStore(path).open()
    assert path.read_bytes() == b"this is not a database" * 100
    assert sorted(os.listdir(tmp_path)) == ["jobs.db", "jobs.db.lock"]


async def test_sqlite_uses_wal(tmp_path: Path) -> None:
    import sqlite3

    store = SQLiteStore(tmp_path / "jobs.db")
    await store.open()
    await store.write_batch([ROW])
    await store.close()
    with sqlite3.connect(tmp_path / "jobs.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("name", ["state.json", "jobs.db"])
async def test_second_process_on_same_file_gets_clear_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    store = store_from_url(f"{'json' if name.endswith('json') else 'sqlite'}:///{path}")
    await store.open()
    try:
        code = textwrap.dedent(
            f"""
            import asyncio
            from asyncron.stores import store_from_url, StoreLockedError
            async def main():
                try:
                    await store_from_url({str(store.description.split(" ", 2)[-1])!r}).open()
                except StoreLockedError as exc:
                    print("LOCKED", exc)
            asyncio.run(main())
            """
        )
        out = subprocess.run(  # noqa: ASYNC221 - a short child process
            [sys.executable, "-c", code], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert "LOCKED" in out.stdout
        # The message names the holder: this process, by its real pid, and the lock file.
        assert f"already open in another process (pid {os.getpid()})" in out.stdout
        assert f"(lock file {path}.lock)" in out.stdout
        assert "PostgreSQL" in out.stdout
    finally:
        await store.close()
    again = store_from_url(f"{'json' if name.endswith('json') else 'sqlite'}:///{path}")
    await again.open()  # released on close
    await again.close()


async def test_same_process_second_store_object_is_refused(tmp_path: Path) -> None:
    one, two = JsonFileStore(tmp_path / "s.json"), JsonFileStore(tmp_path / "s.json")
    await one.open()
    try:
        with pytest.raises(StoreLockedError):
            await two.open()
    finally:
        await one.close()


@pytest.mark.parametrize(
    ("url", "kind"),
    [("memory://", MemoryStore), ("json:////tmp/x/state.json", JsonFileStore),
     ("sqlite:////tmp/x/jobs.db", SQLiteStore), ("/tmp/x/a.json", JsonFileStore),
     ("rel/jobs.sqlite", SQLiteStore), ("sqlite:///rel/jobs.db", SQLiteStore)],
)  # fmt: skip
async def test_store_urls(url: str, kind: type) -> None:
    assert isinstance(store_from_url(url), kind)


async def test_unknown_store_url_lists_the_allowed_schemes() -> None:
    with pytest.raises(
        ValueError, match=re.escape("use memory://, json:///state.json or sqlite:///jobs.db")
    ):
        store_from_url("redis://localhost")


@pytest.mark.parametrize("name", ["state.json", "jobs.db"])
async def test_a_read_only_store_reads_and_refuses_every_write(tmp_path: Path, name: str) -> None:
    from asyncron.errors import StoreError

    path = tmp_path / name
    writer = store_from_url(str(path))
    await writer.open()
    await writer.write_batch([ROW])
    await writer.close()
    os.remove(f"{path}.lock")
    before = {p: (tmp_path / p).read_bytes() for p in sorted(os.listdir(tmp_path))}
    kind = JsonFileStore if name.endswith(".json") else SQLiteStore
    reader = kind(path, read_only=True)
    await reader.open()
    try:
        assert [job.id for job in await reader.list_jobs()] == ["a"]
        with pytest.raises(StoreError, match="opened read-only; nothing was written"):
            await reader.write_batch([ROW.evolve(run_count=1)])
        with pytest.raises(StoreError, match="opened read-only"):
            await reader.remove_job("a")
    finally:
        await reader.close()
    assert {p: (tmp_path / p).read_bytes() for p in sorted(os.listdir(tmp_path))} == before
