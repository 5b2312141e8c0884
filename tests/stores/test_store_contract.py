"""The Store contract: every store passes these tests unchanged."""

from __future__ import annotations

import pytest

from asyncron.abc import Store, StoredJob
from asyncron.errors import InvalidJobError, JobLookupError
from conftest import StoreFactory

pytestmark = pytest.mark.asyncio

TRIGGER = {"type": "interval", "interval": [0, 60, 0], "start": None, "end": None}


def job(job_id: str, next_run: float | None = 100.0, **changes: object) -> StoredJob:
    base = StoredJob(
        id=job_id,
        name=f"name-{job_id}",
        func_ref="persist_jobs:record",
        trigger=TRIGGER,
        arguments={"args": [job_id], "kwargs": {}},
        next_run=next_run,
    )
    return base.evolve(**changes)


async def opened(factory: StoreFactory) -> Store:
    store = factory()
    await store.open()
    return store


async def test_add_then_get_returns_equal_record(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        await store.add_job(job("a"))
        assert await store.get_job("a") == job("a")
        assert await store.get_job("missing") is None
    finally:
        await store.close()


async def test_add_existing_id_is_refused(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        await store.add_job(job("a"))
        with pytest.raises(InvalidJobError, match="'a' is already in use"):
            await store.add_job(job("a", name="other"))
        assert (await store.get_job("a")) == job("a")
    finally:
        await store.close()


async def test_update_replaces_and_update_of_missing_raises(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        await store.add_job(job("a"))
        await store.update_job(job("a", run_count=3, error="ValueError: x"))
        got = await store.get_job("a")
        assert got is not None and got.run_count == 3 and got.error == "ValueError: x"
        with pytest.raises(JobLookupError):
            await store.update_job(job("nope"))
    finally:
        await store.close()


async def test_remove_reports_whether_it_existed(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        await store.add_job(job("a"))
        assert await store.remove_job("a") is True
        assert await store.remove_job("a") is False
        assert await store.list_jobs() == []
    finally:
        await store.close()


async def test_list_keeps_insertion_order_across_updates(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        for name in "cab":
            await store.add_job(job(name))
        await store.update_job(job("c", run_count=1))
        assert [j.id for j in await store.list_jobs()] == ["c", "a", "b"]
    finally:
        await store.close()


async def test_list_keeps_the_order_within_a_batch(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        await store.write_batch([job("b"), job("a"), job("c")])
        await store.write_batch([job("e"), job("a", run_count=1), job("d")])
        assert [j.id for j in await store.list_jobs()] == ["b", "a", "c", "e", "d"]
    finally:
        await store.close()


async def test_write_batch_naming_an_id_twice_keeps_the_last(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        await store.write_batch([job("a"), job("b"), job("a", run_count=2)])
        jobs = await store.list_jobs()
        assert [(j.id, j.run_count) for j in jobs] == [("a", 2), ("b", 0)]
    finally:
        await store.close()


async def test_write_batch_upserts_and_removes_together(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        await store.write_batch([job("a"), job("b")])
        await store.write_batch([job("a", run_count=5), job("c")], ["b"])
        jobs = {j.id: j for j in await store.list_jobs()}
        assert set(jobs) == {"a", "c"} and jobs["a"].run_count == 5
    finally:
        await store.close()


async def test_get_due_is_earliest_first_and_skips_final_jobs(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        await store.write_batch(
            [
                job("late", 300.0),
                job("early", 50.0),
                job("none", None),
                job("done", 10.0, status="completed"),
                job("mid", 100.0),
            ]
        )
        assert [j.id for j in await store.get_due(100.0)] == ["early", "mid"]
        assert [j.id for j in await store.get_due(1000.0, limit=2)] == ["early", "mid"]
    finally:
        await store.close()


async def test_run_started_then_outcome_updates_counts(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        await store.add_job(job("a"))
        await store.record_run_started("a", 100.0, 100.5)
        mid = await store.get_job("a")
        assert mid is not None and mid.running_fire == 100.0 and mid.last_run == 100.5
        await store.record_outcome("a", status="pending", next_run=160.0, error=None, result=7)
        got = await store.get_job("a")
        assert got is not None
        assert (got.running_fire, got.run_count, got.next_run, got.result) == (None, 1, 160.0, 7)
        assert got.version > mid.version
        await store.record_outcome("a", status="failed", next_run=None, error="E: x", result=1)
        got = await store.get_job("a")
        assert got is not None and got.failure_count == 1 and got.result is None
    finally:
        await store.close()


@pytest.mark.store_kinds(
    "memory",
    "json",
    "sqlite",
    reason="a store shared by several processes arbitrates each fire "
    "(test_claim_fire_is_won_once_in_shared_stores)",
)
async def test_claim_fire_succeeds_for_single_process_stores(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        assert store.supports_claims is False
        assert await store.claim_fire("a", 1.0, "me", 10.0) is True
    finally:
        await store.close()


@pytest.mark.store_kinds(
    "postgres", reason="a single-process store holds a lock instead: every claim is its own"
)
async def test_claim_fire_is_won_once_in_shared_stores(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    try:
        assert store.supports_claims is True
        await store.add_job(job("a"))
        assert await store.claim_fire("a", 1.0, "me", 10.0) is True
        assert await store.claim_fire("a", 1.0, "you", 10.0) is False  # the same fire
        assert await store.claim_fire("missing", 1.0, "you", 10.0) is False
    finally:
        await store.close()


async def test_records_survive_close_and_reopen(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    records = [job("a", run_count=2, result={"x": [1, 2]}), job("b", max_runs=3)]
    await store.write_batch(records)
    await store.close()
    store = await opened(store_factory)
    try:
        assert await store.list_jobs() == records
    finally:
        await store.close()


async def test_close_is_idempotent(store_factory: StoreFactory) -> None:
    store = await opened(store_factory)
    await store.write_batch([job("a")])
    await store.close()
    await store.close()  # no error, and nothing lost or left locked by the second call
    again = await opened(store_factory)
    try:
        assert await again.list_jobs() == [job("a")]
    finally:
        await again.close()
