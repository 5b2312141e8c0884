"""``PostgresStore(read_only=True)``, what ``asyncron jobs`` opens: it reads a store, creates and
migrates nothing, and every write is refused."""

from __future__ import annotations

import pytest

from asyncron.abc import StoredJob
from asyncron.errors import StoreError, StoreVersionError
from asyncron.stores.postgres import PostgresStore

from .conftest import sql

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]

JOB = StoredJob(
    id="a",
    name="a",
    func_ref="persist_jobs:record",
    trigger={"type": "interval", "interval": [0, 60, 0], "start": None, "end": None},
    arguments={"args": [], "kwargs": {}},
    next_run=100.0,
)


async def test_a_read_only_store_lists_jobs_and_refuses_every_write(
    pg_dsn: str, schema: str
) -> None:
    writer = PostgresStore(pg_dsn, schema=schema)
    await writer.open()
    await writer.add_job(JOB)
    await writer.close()
    reader = PostgresStore(pg_dsn, schema=schema, read_only=True)
    await reader.open()
    try:
        assert [job.id for job in await reader.list_jobs()] == ["a"]
        with pytest.raises(StoreError, match="opened read-only: nothing was written"):
            await reader.update_job(JOB.evolve(name="changed"))
        with pytest.raises(StoreError, match="opened read-only"):
            await reader.remove_job("a")
    finally:
        await reader.close()
    assert [row["name"] for row in sql(f"SELECT doc->>'name' AS name FROM \"{schema}\".jobs")] == [
        "a"
    ]


async def test_a_read_only_open_creates_no_schema(pg_dsn: str, schema: str) -> None:
    with pytest.raises(StoreError, match=f"schema {schema} holds no asyncron store"):
        await PostgresStore(pg_dsn, schema=schema, read_only=True).open()
    assert sql("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema) == []


async def test_a_read_only_open_of_an_older_schema_migrates_nothing(
    pg_dsn: str, schema: str
) -> None:
    writer = PostgresStore(pg_dsn, schema=schema)
    await writer.open()
    await writer.close()
    sql(f"UPDATE \"{schema}\".meta SET value = '1' WHERE key = 'schema_version'")
    with pytest.raises(StoreVersionError, match="has schema version 1, older than"):
        await PostgresStore(pg_dsn, schema=schema, read_only=True).open()
    assert sql(f"SELECT value FROM \"{schema}\".meta WHERE key = 'schema_version'")[0][0] == "1"
