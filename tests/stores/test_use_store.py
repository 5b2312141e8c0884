"""AsyncScheduler.use_store: a store chosen after construction behaves like ``store=``."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncron import AsyncScheduler
from asyncron.errors import InvalidJobError, SchedulerStateError
from asyncron.testing import VirtualClock


async def tick() -> str:
    return "tick"


@pytest.mark.asyncio
async def test_jobs_scheduled_before_use_store_are_saved(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    s = AsyncScheduler(clock=VirtualClock())
    await s.schedule(tick, trigger="0 * * * *", job_id="early")
    s.use_store(url)
    async with s:
        await s.schedule(tick, trigger="0 * * * *", job_id="late")
    async with AsyncScheduler(clock=VirtualClock(), store=url) as again:
        assert [j.id for j in await again.list_jobs()] == ["early", "late"]


@pytest.mark.asyncio
async def test_use_store_on_a_running_scheduler_is_refused(tmp_path: Path) -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(SchedulerStateError, match="is running; choose its store before"):
            s.use_store(f"sqlite:///{tmp_path / 'jobs.db'}")
    assert not (tmp_path / "jobs.db").exists()


@pytest.mark.asyncio
async def test_a_second_store_is_refused() -> None:
    s = AsyncScheduler(clock=VirtualClock(), store="memory://")
    with pytest.raises(SchedulerStateError, match="already has a store"):
        s.use_store("memory://")


@pytest.mark.asyncio
async def test_an_unstorable_job_already_scheduled_names_it_and_keeps_no_store(
    tmp_path: Path,
) -> None:
    s = AsyncScheduler(clock=VirtualClock())
    await s.schedule(lambda: None, trigger="0 * * * *", job_id="anon")
    with pytest.raises(InvalidJobError, match=r"use_store: job 'anon' \(<lambda>\): func:"):
        s.use_store(f"sqlite:///{tmp_path / 'jobs.db'}")
    await s.remove("anon")
    s.use_store("memory://")  # nothing was kept from the refused store


def test_a_bad_url_is_a_clear_error() -> None:
    s = AsyncScheduler(clock=VirtualClock())
    with pytest.raises(InvalidJobError, match="ftp"):
        s.use_store("ftp://host/jobs")


def test_an_unknown_store_option_names_it_and_what_is_allowed() -> None:
    s = AsyncScheduler(clock=VirtualClock())
    with pytest.raises(
        InvalidJobError, match=r"store_options: unknown option 'flush_dealy'.*flush_delay"
    ):
        s.use_store("memory://", flush_dealy=0.1)
    with pytest.raises(InvalidJobError, match="store_options: unknown option 'colour'"):
        AsyncScheduler(store="memory://", store_options={"colour": "red"})
