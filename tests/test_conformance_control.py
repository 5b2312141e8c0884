"""Conformance audit for run control (issue 6) and persistence (issue 5).

Written from docs/controlling-jobs.md, docs/events.md, docs/persistence.md and docs/testing.md:
one user-visible promise per test. Time-dependent tests use the virtual clock; the few real-time
ones wait well under a second.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from asyncron import (
    AsyncScheduler,
    CronTrigger,
    IntervalTrigger,
    JobStatus,
    OnceTrigger,
    PersistentScheduler,
    RunRecord,
    SchedulerStatistics,
    current_run,
)
from asyncron import errors as E
from asyncron.events import (
    Event,
    FireMisfired,
    FireSkipped,
    JobAdded,
    JobModified,
    JobPaused,
    JobRemoved,
    JobResumed,
    RunFailed,
    RunRetried,
    RunStarted,
    RunSucceeded,
    SchedulerStarted,
    SchedulerStopped,
)
from asyncron.stores import (
    FunctionRegistry,
    JsonFileStore,
    NotAStoreError,
    StoreJournal,
    StoreLockedError,
    StoreVersionError,
    store_from_url,
)
from asyncron.testing import VirtualClock

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Gate:
    """An async job body that blocks until released and records its concurrency."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.active = 0
        self.peak = 0
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await self.release.wait()
        finally:
            self.active -= 1
        return "released"


class SyncGate:
    """A sync job body (runs in a thread) that blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.calls = 0

    def __call__(self) -> str:
        with self.lock:
            self.calls += 1
            self.active += 1
            self.peak = max(self.peak, self.active)
        self.started.set()
        try:
            self.release.wait(5)
        finally:
            with self.lock:
                self.active -= 1
        return "released"


def _every_second() -> IntervalTrigger:
    return IntervalTrigger(seconds=1, start=T0 + timedelta(seconds=1))


# ==================================================================================================
# Overlap policies, async and sync
# ==================================================================================================


@pytest.mark.parametrize(
    ("overlap", "runs", "skipped"),
    [("skip", 1, 3), ("buffer_one", 2, 2), ("buffer_all", 4, 0), ("allow_all", 4, 0)],
)
@pytest.mark.asyncio
async def test_overlap_policy_for_sync_jobs(
    overlap: str, runs: int, skipped: int, wait_for: Callable[..., Awaitable[None]]
) -> None:
    clock = VirtualClock()
    gate = SyncGate()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(gate, trigger=_every_second(), overlap=overlap)
        await clock.advance(1, wait_for_runs=False)
        await asyncio.get_running_loop().run_in_executor(None, gate.started.wait, 2)
        for _ in range(3):
            await clock.advance(1, wait_for_runs=False)
        await s.pause(job_id)
        gate.release.set()
        await wait_for(lambda: gate.calls == runs and gate.active == 0)
        await clock.wait_idle()
        job = await s.get_job(job_id)
    assert job is not None
    assert (job.run_count, job.skipped_fires) == (runs, skipped)
    assert gate.peak == (runs if overlap == "allow_all" else 1)


@pytest.mark.asyncio
async def test_skip_is_the_default_and_counts_in_statistics_and_events() -> None:
    clock = VirtualClock()
    gate = Gate()
    skipped: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(skipped.append, types=FireSkipped)
        job_id = await s.schedule(gate, trigger=_every_second())
        job = await s.get_job(job_id)
        assert job is not None and job.options is not None and job.options.overlap == "skip"
        for _ in range(3):
            await clock.advance(1, wait_for_runs=False)
        stats = s.statistics()
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
        await asyncio.sleep(0)
    assert stats.skipped_fires == 2
    assert len(skipped) == 2
    first = skipped[0]
    assert isinstance(first, FireSkipped) and first.reason == "overlap"
    assert first.job_id == job_id and first.scheduled_at == T0 + timedelta(seconds=2)


@pytest.mark.asyncio
async def test_buffer_one_keeps_one_fire_and_shows_it_buffered() -> None:
    clock = VirtualClock()
    gate = Gate()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(gate, trigger=_every_second(), overlap="buffer_one")
        for _ in range(4):
            await clock.advance(1, wait_for_runs=False)
        during = await s.get_job(job_id)
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
        history = await s.get_run_history(job_id)
    assert during is not None and during.buffered_fires == 1 and during.skipped_fires == 2
    # the buffered run keeps its nominal time: the first fire dropped was t=3, t=2 was kept
    assert [r.scheduled_at for r in history] == [
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=2),
    ]


@pytest.mark.asyncio
async def test_buffer_all_is_bounded_by_buffer_limit_and_counts_the_rest() -> None:
    clock = VirtualClock()
    gate = Gate()
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=FireSkipped)
        job_id = await s.schedule(
            gate, trigger=_every_second(), overlap="buffer_all", buffer_limit=2
        )
        for _ in range(5):
            await clock.advance(1, wait_for_runs=False)
        during = await s.get_job(job_id)
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
        job = await s.get_job(job_id)
        await asyncio.sleep(0)
    assert during is not None and during.buffered_fires == 2
    assert job is not None and job.run_count == 3 and job.skipped_fires == 2
    assert [e.reason for e in seen if isinstance(e, FireSkipped)] == ["buffer_full"] * 2


@pytest.mark.asyncio
async def test_buffered_runs_run_one_after_another_in_fire_order() -> None:
    clock = VirtualClock()
    gate = Gate()
    order: list[datetime] = []

    async def body() -> None:
        info = current_run()
        assert info is not None
        order.append(info.scheduled_at)
        await gate()

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(body, trigger=_every_second(), overlap="buffer_all")
        for _ in range(3):
            await clock.advance(1, wait_for_runs=False)
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
    assert gate.peak == 1
    assert order == [T0 + timedelta(seconds=n) for n in (1, 2, 3)]


@pytest.mark.asyncio
async def test_cancel_other_on_a_sync_job_abandons_the_running_run(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    clock = VirtualClock()
    gate = SyncGate()
    async with AsyncScheduler(clock=clock, stop_timeout=0.2) as s:
        job_id = await s.schedule(gate, trigger=_every_second(), overlap="cancel_other")
        await clock.advance(1, wait_for_runs=False)
        await asyncio.get_running_loop().run_in_executor(None, gate.started.wait, 2)
        gate.started.clear()
        await clock.advance(1, wait_for_runs=False)
        await asyncio.get_running_loop().run_in_executor(None, gate.started.wait, 2)
        history = await s.get_run_history(job_id)
        await s.pause(job_id)
        gate.release.set()
        await wait_for(lambda: gate.active == 0)
        await clock.wait_idle()
    assert gate.calls == 2
    assert history[0].outcome == "abandoned"


@pytest.mark.asyncio
async def test_cancel_other_cancelled_run_is_reported_as_a_cancelled_run_event() -> None:
    clock = VirtualClock()
    gate = Gate()
    failed: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(failed.append, types=RunFailed)
        job_id = await s.schedule(gate, trigger=_every_second(), overlap="cancel_other")
        await clock.advance(1, wait_for_runs=False)
        await clock.advance(1, wait_for_runs=False)
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
        await asyncio.sleep(0)
    assert [e.outcome for e in failed if isinstance(e, RunFailed)] == ["cancelled"]


@pytest.mark.asyncio
async def test_allow_all_max_instances_for_sync_jobs(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    clock = VirtualClock()
    gate = SyncGate()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            gate, trigger=_every_second(), overlap="allow_all", max_instances=2
        )
        for _ in range(4):
            await clock.advance(1, wait_for_runs=False)
        await wait_for(lambda: gate.active == 2)
        stats = s.statistics()
        await s.pause(job_id)
        gate.release.set()
        await wait_for(lambda: gate.active == 0)
        await clock.wait_idle()
        job = await s.get_job(job_id)
    assert gate.peak == 2
    assert job is not None and job.run_count == 2 and job.skipped_fires == 2
    assert stats.running == 2


@pytest.mark.asyncio
async def test_max_instances_alone_means_allow_all_like_apscheduler() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        job = await s.get_job(await s.schedule(lambda: 1, trigger=_every_second(), max_instances=3))
    assert job is not None and job.options is not None
    assert (job.options.overlap, job.options.max_instances) == ("allow_all", 3)


@pytest.mark.asyncio
async def test_max_instances_with_buffer_policy_is_refused_naming_both() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(E.InvalidJobError, match=r"max_instances.*buffer_one"):
            await s.schedule(lambda: 1, overlap="buffer_one", max_instances=2)


@pytest.mark.asyncio
async def test_unknown_overlap_policy_lists_the_allowed_ones() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(
            ValueError, match="skip, buffer_one, buffer_all, cancel_other, allow_all"
        ):
            await s.schedule(lambda: 1, overlap="queue")


# ==================================================================================================
# Retries
# ==================================================================================================


@pytest.mark.asyncio
async def test_exhausted_retries_fail_the_job_and_history_keeps_every_attempt() -> None:
    clock = VirtualClock(autojump=True)
    calls = 0

    async def always_fails() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError(f"try {calls}")

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(always_fails, retries=2, retry_delay=1, max_retry_delay=2)
        job = await s.wait_job(job_id, timeout=5)
        history = await s.get_run_history(job_id)
    await clock.aclose()
    assert calls == 3
    assert job.status is JobStatus.FAILED and job.error == "ConnectionError: try 3"
    assert [r.outcome for r in history] == ["retried", "retried", "failed"]
    assert [r.attempt for r in history] == [1, 2, 3]
    assert all(r.scheduled_at == history[0].scheduled_at for r in history)


@pytest.mark.asyncio
async def test_retry_delay_is_capped_by_max_retry_delay() -> None:
    clock = VirtualClock(autojump=True)
    starts: list[float] = []

    def fails() -> None:
        starts.append(clock.time())
        raise OSError("down")

    async with AsyncScheduler(clock=clock) as s:
        await s.wait_job(
            await s.schedule(fails, retries=5, retry_delay=4, max_retry_delay=5), timeout=5
        )
    await clock.aclose()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 5
    assert all(0 < g <= 5 for g in gaps)
    assert 2 <= gaps[0] <= 4  # attempt 1 waits in [d/2, d] with d = retry_delay


@pytest.mark.asyncio
async def test_retry_on_accepts_a_tuple_of_exception_classes() -> None:
    clock = VirtualClock(autojump=True)
    calls = 0

    def fails() -> None:
        nonlocal calls
        calls += 1
        raise TimeoutError("slow")

    async with AsyncScheduler(clock=clock) as s:
        job = await s.wait_job(
            await s.schedule(fails, retries=2, retry_delay=1, retry_on=(KeyError, TimeoutError)),
            timeout=5,
        )
    await clock.aclose()
    assert calls == 3 and job.status is JobStatus.FAILED


@pytest.mark.asyncio
async def test_retry_event_carries_the_delay_and_error() -> None:
    clock = VirtualClock(autojump=True)
    seen: list[Event] = []
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("first")
        return "ok"

    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=(RunRetried, RunSucceeded, RunFailed))
        await s.wait_job(await s.schedule(flaky, retries=1, retry_delay=2), timeout=5)
        await asyncio.sleep(0)
    await clock.aclose()
    retried = [e for e in seen if isinstance(e, RunRetried)]
    assert len(retried) == 1 and 1 <= retried[0].delay <= 2
    assert retried[0].error == "ConnectionError: first"
    assert not any(isinstance(e, RunFailed) for e in seen)  # a retried attempt is not a failure
    assert any(isinstance(e, RunSucceeded) and e.attempt == 2 for e in seen)


@pytest.mark.asyncio
async def test_recurring_job_with_retries_keeps_its_schedule_after_exhausting_them() -> None:
    clock = VirtualClock()
    calls = 0

    def fails() -> None:
        nonlocal calls
        calls += 1
        raise OSError("no")

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            fails, trigger=IntervalTrigger(minutes=1), retries=1, retry_delay=1
        )
        await clock.advance(150)
        job = await s.get_job(job_id)
    assert calls == 4  # two fires, each tried twice
    assert job is not None and job.status is JobStatus.PENDING and job.error == "OSError: no"


@pytest.mark.asyncio
async def test_failure_counter_counts_failed_runs_not_retried_attempts() -> None:
    clock = VirtualClock(autojump=True)

    def fails() -> None:
        raise OSError("no")

    async with AsyncScheduler(clock=clock) as s:
        await s.wait_job(await s.schedule(fails, retries=2, retry_delay=1), timeout=5)
        stats = s.statistics()
    await clock.aclose()
    assert stats.failures == 1 and stats.retries == 2


# ==================================================================================================
# Timeouts
# ==================================================================================================


@pytest.mark.asyncio
async def test_timeout_failure_is_a_run_timeout_error_and_a_builtin_timeout_error() -> None:
    assert issubclass(E.RunTimeoutError, TimeoutError)
    assert issubclass(E.RunTimeoutError, E.AsyncronError)


@pytest.mark.asyncio
async def test_async_timeout_outcome_is_timed_out_in_history_and_event() -> None:
    seen: list[Event] = []

    async def slow() -> None:
        await asyncio.sleep(5)

    async with AsyncScheduler() as s:
        s.subscribe(seen.append, types=RunFailed)
        job_id = await s.schedule(slow, timeout=0.02)
        job = await s.wait_job(job_id, timeout=2)
        history = await s.get_run_history(job_id)
        await asyncio.sleep(0.01)
    assert job.status is JobStatus.FAILED
    assert history[-1].outcome == "timed_out"
    assert [e.outcome for e in seen if isinstance(e, RunFailed)] == ["timed_out"]


@pytest.mark.asyncio
async def test_timed_out_attempt_is_retried_when_timeouts_are_retried() -> None:
    calls = 0

    async def slow_then_fast() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(5)
        return "fast"

    async with AsyncScheduler() as s:
        job = await s.wait_job(
            await s.schedule(slow_then_fast, timeout=0.02, retries=1, retry_delay=0.01),
            timeout=2,
        )
    assert job.status is JobStatus.COMPLETED and job.result == "fast" and calls == 2


@pytest.mark.asyncio
async def test_sync_timeout_frees_the_job_to_fire_again(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    gate = SyncGate()
    async with AsyncScheduler(stop_timeout=0.1) as s:
        job_id = await s.schedule(gate, trigger=IntervalTrigger(seconds=0.05), timeout=0.02)
        await wait_for(lambda: gate.calls >= 2)
        history = await s.get_run_history(job_id)
        await s.cancel(job_id)
        gate.release.set()
    assert history[0].outcome == "timed_out"
    assert gate.peak >= 2  # the abandoned thread is still going when the next fire starts


@pytest.mark.asyncio
async def test_cancelling_the_task_that_awaits_run_now_is_not_turned_into_a_timeout() -> None:
    async def slow() -> None:
        await asyncio.sleep(5)

    async with AsyncScheduler() as s:
        job_id = await s.schedule(slow, trigger=IntervalTrigger(hours=1), timeout=1)
        caller = asyncio.ensure_future(s.run_now(job_id))
        await asyncio.sleep(0.01)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller


@pytest.mark.asyncio
async def test_stop_cancels_a_run_with_a_timeout_as_cancelled_not_timed_out() -> None:
    async def slow() -> None:
        await asyncio.sleep(5)

    s = AsyncScheduler(stop_timeout=0.02)
    await s.start()
    job_id = await s.schedule(slow, timeout=3)
    await asyncio.sleep(0.01)
    await s.stop()
    history = await s.get_run_history(job_id)
    assert history[-1].outcome == "cancelled"


# ==================================================================================================
# Jitter, start/end, exhausted triggers
# ==================================================================================================


@pytest.mark.asyncio
async def test_jitter_keeps_the_nominal_time_in_current_run() -> None:
    clock = VirtualClock()
    seen: list[tuple[datetime, float]] = []

    def body() -> None:
        info = current_run()
        assert info is not None
        seen.append((info.scheduled_at, clock.time()))

    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(body, trigger=IntervalTrigger(minutes=1), jitter=10)
        await clock.advance(5 * 60 + 11)
    assert len(seen) == 5
    for nominal, started in seen:
        assert nominal.second == 0
        assert 0 <= started - nominal.timestamp() <= 10


@pytest.mark.asyncio
async def test_negative_jitter_is_refused() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(E.InvalidJobError, match="jitter"):
            await s.schedule(lambda: 1, jitter=-1)


@pytest.mark.asyncio
async def test_interval_job_with_end_completes_after_its_last_fire() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: 1,
            trigger=IntervalTrigger(
                minutes=1, start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3)
            ),
        )
        await clock.advance(10 * 60)
        job = await s.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED
    assert job.run_count == 3 and job.next_run is None  # 00:01, 00:02, 00:03 (end inclusive)


@pytest.mark.asyncio
async def test_interval_job_scheduled_at_its_start_fires_at_start() -> None:
    clock = VirtualClock()
    hits: list[datetime] = []
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(
            lambda: hits.append(clock.now()),
            trigger=IntervalTrigger(minutes=1, start=T0, end=T0 + timedelta(minutes=2)),
        )
        await clock.advance(300)
    assert hits == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]


@pytest.mark.asyncio
async def test_cron_job_with_start_and_end_runs_only_inside_the_window() -> None:
    clock = VirtualClock()
    hits: list[datetime] = []

    def body() -> None:
        hits.append(clock.now())

    trigger = CronTrigger.from_expression(
        "0 * * * *", "UTC", start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=4)
    )
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(body, trigger=trigger)
        await clock.advance(timedelta(hours=8))
        job = await s.get_job(job_id)
    assert [h.hour for h in hits] == [2, 3, 4]
    assert job is not None and job.status is JobStatus.COMPLETED


@pytest.mark.asyncio
async def test_once_trigger_job_ends_completed_or_failed() -> None:
    clock = VirtualClock()

    def bad() -> None:
        raise ValueError("x")

    async with AsyncScheduler(clock=clock) as s:
        ok = await s.schedule(lambda: 1, trigger=OnceTrigger(T0 + timedelta(minutes=1)))
        ko = await s.schedule(bad, trigger=OnceTrigger(T0 + timedelta(minutes=1)))
        await clock.advance(120)
        a, b = await s.get_job(ok), await s.get_job(ko)
    assert a is not None and a.status is JobStatus.COMPLETED
    assert b is not None and b.status is JobStatus.FAILED and b.error == "ValueError: x"


@pytest.mark.asyncio
async def test_trigger_whose_window_is_already_over_completes_without_running() -> None:
    clock = VirtualClock(start=T0 + timedelta(days=1))
    ran: list[int] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: ran.append(1),
            trigger=IntervalTrigger(minutes=1, start=T0, end=T0 + timedelta(hours=1)),
        )
        await clock.advance(60)
        job = await s.get_job(job_id)
    assert ran == []
    assert job is not None and job.status.is_final and job.next_run is None


# ==================================================================================================
# pause / resume / reschedule / modify
# ==================================================================================================


@pytest.mark.asyncio
async def test_pause_and_resume_emit_events() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=(JobPaused, JobResumed))
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        await s.pause(job_id)
        await s.resume(job_id)
        await asyncio.sleep(0)
    assert [type(e) for e in seen] == [JobPaused, JobResumed]
    assert all(isinstance(e, JobPaused | JobResumed) and e.job_id == job_id for e in seen)


@pytest.mark.asyncio
async def test_paused_job_keeps_its_next_run_visible() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        await s.pause(job_id)
        job = await s.get_job(job_id)
    assert job is not None and job.status is JobStatus.PAUSED
    assert job.next_run == T0 + timedelta(minutes=1)


@pytest.mark.asyncio
async def test_resume_with_grace_time_skips_fires_missed_too_long_ago() -> None:
    clock = VirtualClock()
    hits: list[float] = []
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=FireMisfired)
        job_id = await s.schedule(
            lambda: hits.append(clock.time()),
            trigger=IntervalTrigger(minutes=1),
            misfire_grace_time=30,
        )
        await s.pause(job_id)
        await clock.advance(10 * 60 + 45)
        await s.resume(job_id)
        await clock.advance(0)
        job = await s.get_job(job_id)
        stats = s.statistics()
    assert hits == []
    assert job is not None and job.next_run == T0 + timedelta(minutes=11)
    # the fire held since 00:01 is 9 min 45 s late: a misfire, published like any other
    [misfired] = seen
    assert isinstance(misfired, FireMisfired) and misfired.job_id == job_id
    assert misfired.scheduled_at == T0 + timedelta(minutes=1)
    assert misfired.lateness == pytest.approx(9 * 60 + 45)
    # counted twice: that fire, and the 02:00..10:00 fires coalesced past now
    assert stats.misfires == 2


@pytest.mark.asyncio
async def test_misfire_emits_fire_misfired_with_lateness() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=FireMisfired)
        job_id = await s.schedule(
            lambda: 1, trigger=IntervalTrigger(seconds=10), misfire_grace_time=1
        )
        clock.jump(15)  # the loop was blocked: the t=10 fire is 5 s late
        await clock.advance(0)
        await asyncio.sleep(0)
    assert len(seen) == 1
    ev = seen[0]
    assert isinstance(ev, FireMisfired) and ev.job_id == job_id
    assert ev.lateness == pytest.approx(5)


@pytest.mark.asyncio
async def test_pause_while_running_lets_the_run_finish_then_status_is_paused() -> None:
    clock = VirtualClock()
    gate = Gate()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(gate, trigger=_every_second())
        await clock.advance(1, wait_for_runs=False)
        assert await s.pause(job_id) is True
        during = await s.get_job(job_id)
        gate.release.set()
        await clock.wait_idle()
        after = await s.get_job(job_id)
        await clock.advance(10)
        later = await s.get_job(job_id)
    assert during is not None and during.status is JobStatus.RUNNING
    assert after is not None and after.status is JobStatus.PAUSED and after.run_count == 1
    assert later is not None and later.run_count == 1


@pytest.mark.asyncio
async def test_pause_unknown_job_is_a_lookup_error() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(LookupError):
            await s.pause("nope")
        with pytest.raises(LookupError):
            await s.resume("nope")
        with pytest.raises(LookupError):
            await s.modify("nope", name="x")
        with pytest.raises(LookupError):
            await s.reschedule("nope", IntervalTrigger(minutes=1))
        with pytest.raises(LookupError):
            await s.describe("nope")


@pytest.mark.asyncio
async def test_pause_all_skips_finished_and_already_paused_jobs() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        done = await s.schedule(lambda: 1)
        await clock.advance(1)
        a = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        b = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        await s.pause(a)
        assert await s.pause_all() == 1
        assert await s.resume_all() == 2
        statuses = [(await s.get_job(j)).status for j in (done, a, b)]  # type: ignore[union-attr]
    assert statuses == [JobStatus.COMPLETED, JobStatus.PENDING, JobStatus.PENDING]


@pytest.mark.asyncio
async def test_resume_at_the_same_instant_as_a_fire_runs_it_once() -> None:
    clock = VirtualClock()
    hits: list[float] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: hits.append(clock.time()), trigger=IntervalTrigger(seconds=10)
        )
        await s.pause(job_id)
        clock.jump(10)  # the fire is due right now
        await s.resume(job_id)
        await clock.advance(0)
        await clock.advance(5)
    assert hits == [T0.timestamp() + 10]


@pytest.mark.asyncio
async def test_reschedule_at_the_same_instant_as_a_due_fire_uses_the_new_trigger() -> None:
    clock = VirtualClock()
    hits: list[float] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: hits.append(clock.time()), trigger=IntervalTrigger(seconds=10)
        )
        clock.jump(10)  # the old trigger's fire is due, dispatcher not run yet
        await s.reschedule(job_id, IntervalTrigger(seconds=30))
        await clock.advance(0)
        await clock.advance(30)
    assert hits == [T0.timestamp() + 40]


@pytest.mark.asyncio
async def test_modify_at_the_same_instant_as_a_due_fire_uses_the_new_args() -> None:
    clock = VirtualClock()
    seen: list[str] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(seen.append, args=("old",), trigger=IntervalTrigger(seconds=10))
        clock.jump(10)
        await s.modify(job_id, args=("new",))
        await clock.advance(0)
    assert seen == ["new"]


@pytest.mark.asyncio
async def test_modify_unknown_field_names_it_and_leaves_the_job_unchanged() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, name="keep", trigger=IntervalTrigger(minutes=1))
        before = await s.get_job(job_id)
        with pytest.raises(E.InvalidJobError, match="colour") as info:
            await s.modify(job_id, name="changed", colour="red")
        after = await s.get_job(job_id)
    assert isinstance(info.value, ValueError)
    assert before == after and after is not None and after.name == "keep"


@pytest.mark.asyncio
async def test_modify_bad_value_leaves_every_field_unchanged() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, name="keep", trigger=IntervalTrigger(minutes=1))
        with pytest.raises(E.InvalidJobError, match="retries"):
            await s.modify(job_id, name="changed", retries=-3)
        after = await s.get_job(job_id)
    assert after is not None and after.name == "keep"
    assert after.options is not None and after.options.retries == 0


@pytest.mark.asyncio
async def test_modify_trigger_points_to_reschedule() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        with pytest.raises(E.InvalidJobError, match="reschedule"):
            await s.modify(job_id, trigger=IntervalTrigger(minutes=5))


@pytest.mark.asyncio
async def test_modify_emits_job_modified_listing_the_changed_fields() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=JobModified)
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        await s.modify(job_id, retries=3, name="x")
        await s.reschedule(job_id, IntervalTrigger(minutes=2))
        await asyncio.sleep(0)
    assert [e.changed for e in seen if isinstance(e, JobModified)] == [
        ("name", "retries"),
        ("trigger",),
    ]


@pytest.mark.asyncio
async def test_modify_during_a_run_applies_to_the_next_run_only() -> None:
    clock = VirtualClock()
    seen: list[str] = []
    release = asyncio.Event()

    async def body(tag: str) -> None:
        seen.append(tag)
        await release.wait()

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(body, args=("a",), trigger=_every_second(), overlap="buffer_one")
        await clock.advance(1, wait_for_runs=False)
        await s.modify(job_id, args=("b",))
        release.set()
        await clock.wait_idle()
        await clock.advance(1)
    assert seen[:2] == ["a", "b"]


@pytest.mark.asyncio
async def test_reschedule_a_completed_job_brings_it_back() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1)
        await clock.advance(1)
        job = await s.reschedule(job_id, IntervalTrigger(minutes=1))
        await clock.advance(120)
        after = await s.get_job(job_id)
    assert job.status is JobStatus.PENDING
    assert after is not None and after.run_count == 3


@pytest.mark.asyncio
async def test_reschedule_a_cancelled_job_is_refused() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        await s.cancel(job_id)
        with pytest.raises(E.JobStateError, match="cancelled"):
            await s.reschedule(job_id, IntervalTrigger(minutes=2))


# ==================================================================================================
# Inside a job; cancelling running jobs; backfill
# ==================================================================================================


@pytest.mark.asyncio
async def test_async_job_schedules_another_job_from_inside() -> None:
    clock = VirtualClock()
    seen: list[str] = []
    s = AsyncScheduler(clock=clock)

    async def parent() -> None:
        await s.schedule(seen.append, args=("child",))
        seen.append("parent")

    async with s:
        await s.schedule(parent)
        await clock.advance(1)
        await clock.advance(1)
    assert seen == ["parent", "child"]


@pytest.mark.asyncio
async def test_async_job_cancels_itself_and_its_run_is_not_lost() -> None:
    clock = VirtualClock()
    s = AsyncScheduler(clock=clock)
    ids: list[str] = []

    async def once_then_stop() -> str:
        await s.cancel(ids[0])
        return "last"

    async with s:
        ids.append(await s.schedule(once_then_stop, trigger=IntervalTrigger(minutes=1)))
        await clock.advance(300)
        job = await s.get_job(ids[0])
    assert job is not None and job.status is JobStatus.CANCELLED
    assert job.run_count == 1


@pytest.mark.asyncio
async def test_cancel_a_running_async_job_cancels_its_task() -> None:
    cleaned = asyncio.Event()
    started = asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.sleep(5)
        finally:
            cleaned.set()

    async with AsyncScheduler() as s:
        job_id = await s.schedule(work)
        await asyncio.wait_for(started.wait(), 2)
        assert await s.cancel(job_id) is True
        await asyncio.wait_for(cleaned.wait(), 2)
        history = await s.get_run_history(job_id)
        job = await s.get_job(job_id)
    assert history[-1].outcome == "cancelled"
    assert job is not None and job.status is JobStatus.CANCELLED


@pytest.mark.asyncio
async def test_cancel_a_running_job_emits_job_removed() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    gate = Gate()
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=(JobRemoved, RunFailed))
        job_id = await s.schedule(gate)
        await clock.advance(0, wait_for_runs=False)
        await s.cancel(job_id)
        await clock.wait_idle()
        await asyncio.sleep(0)
    kinds = {type(e) for e in seen}
    assert JobRemoved in kinds


@pytest.mark.asyncio
async def test_backfill_honours_buffer_and_counts_runs() -> None:
    clock = VirtualClock(start=datetime(2026, 3, 10, tzinfo=UTC))
    hits: list[datetime] = []

    def body() -> None:
        info = current_run()
        assert info is not None
        hits.append(info.scheduled_at)

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(body, trigger=IntervalTrigger(hours=6, start=T0))
        n = await s.backfill(
            job_id, datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 9, 18, tzinfo=UTC)
        )
        job = await s.get_job(job_id)
        history = await s.get_run_history(job_id)
    assert n == 3 and [h.hour for h in hits] == [6, 12, 18]
    assert job is not None and job.run_count == 3
    assert [r.scheduled_at.hour for r in history] == [6, 12, 18]


@pytest.mark.asyncio
async def test_backfill_window_reaching_into_the_future_does_not_run_future_fires() -> None:
    clock = VirtualClock(start=datetime(2026, 3, 10, tzinfo=UTC))
    hits: list[datetime] = []

    def body() -> None:
        info = current_run()
        assert info is not None
        hits.append(info.scheduled_at)

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(body, trigger=IntervalTrigger(hours=6, start=T0))
        # docs: "the window stops at the current time" (a refusal is a failure)
        n = await s.backfill(
            job_id, datetime(2026, 3, 9, 12, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC)
        )
        assert n == 2
        assert hits == [datetime(2026, 3, 9, 18, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)]
        await clock.advance(timedelta(hours=12))
    # 03-10 06:00 and 12:00 are regular fires: each runs exactly once, after the backfill
    assert hits[2:] == [datetime(2026, 3, 10, 6, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC)]


@pytest.mark.asyncio
async def test_backfill_end_before_start_is_refused() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        with pytest.raises(E.InvalidJobError, match="before start"):
            await s.backfill(job_id, T0, T0 - timedelta(days=1))


# ==================================================================================================
# Events
# ==================================================================================================


@pytest.mark.parametrize(
    "cls",
    [
        SchedulerStarted,
        SchedulerStopped,
        JobAdded,
        JobRemoved,
        JobPaused,
        JobResumed,
        JobModified,
        FireSkipped,
        FireMisfired,
        RunStarted,
        RunSucceeded,
        RunFailed,
        RunRetried,
    ],
)
@pytest.mark.asyncio
async def test_every_event_is_a_frozen_dataclass_with_a_timestamp(cls: type[Event]) -> None:
    assert issubclass(cls, Event)
    params = dataclasses.fields(cls)  # type: ignore[arg-type]
    assert params[0].name == "timestamp"
    values: dict[str, Any] = {}
    for f in params:
        values[f.name] = {"timestamp": T0, "changed": ("name",)}.get(f.name)
    event = cls(**values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.timestamp = T0  # type: ignore[misc]


@pytest.mark.asyncio
async def test_event_timestamps_come_from_the_scheduler_clock() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=RunSucceeded)
        await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        await clock.advance(3600)
        await asyncio.sleep(0)
    assert seen and seen[0].timestamp == T0 + timedelta(hours=1)
    assert seen[0].timestamp.tzinfo is not None


@pytest.mark.asyncio
async def test_run_events_carry_the_fire_time_attempt_and_lateness() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=(RunStarted, RunSucceeded))
        await s.schedule(lambda: "r", trigger=IntervalTrigger(minutes=1))
        await clock.advance(60)
        await asyncio.sleep(0)
    started, succeeded = seen[0], seen[1]
    assert isinstance(started, RunStarted) and isinstance(succeeded, RunSucceeded)
    assert started.scheduled_at == T0 + timedelta(minutes=1) and started.attempt == 1
    assert started.lateness == 0
    assert succeeded.result == "r" and succeeded.duration >= 0


@pytest.mark.asyncio
async def test_async_callback_subscriber_is_awaited() -> None:
    clock = VirtualClock()
    got: list[str] = []

    async def on_event(event: Event) -> None:
        await asyncio.sleep(0)
        got.append(type(event).__name__)

    async with AsyncScheduler(clock=clock) as s:
        sub = s.subscribe(on_event, types=JobAdded)
        await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        await sub.aclose()
    assert got == ["JobAdded"]


@pytest.mark.asyncio
async def test_unsubscribe_stops_delivery() -> None:
    clock = VirtualClock()
    got: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        sub = s.subscribe(got.append, types=JobAdded)
        await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        await asyncio.sleep(0)
        sub.unsubscribe()
        await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        await asyncio.sleep(0)
    assert len(got) == 1


@pytest.mark.asyncio
async def test_raising_subscriber_is_logged_and_keeps_its_subscription(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    calls: list[Event] = []

    def bad(event: Event) -> None:
        calls.append(event)
        raise RuntimeError("subscriber bug")

    caplog.set_level(logging.ERROR, logger="asyncron")
    async with AsyncScheduler(clock=clock) as s:
        sub = s.subscribe(bad, types=JobAdded)
        await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        await asyncio.sleep(0)
        await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        await sub.aclose()
    assert len(calls) == 2
    # Each failed delivery is logged with the subscriber's own exception and the event it got.
    failures = [
        r
        for r in caplog.records
        if r.name == "asyncron"
        and r.levelno == logging.ERROR
        and r.exc_info is not None
        and isinstance(r.exc_info[1], RuntimeError)
        and str(r.exc_info[1]) == "subscriber bug"
    ]
    assert len(failures) == 2
    assert [r.args[1] for r in failures if isinstance(r.args, tuple)] == calls


@pytest.mark.asyncio
async def test_subscribe_rejects_a_non_event_type_naming_it() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(ValueError, match="types"):
            s.subscribe(print, types=int)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_one_shot_subscription_delivers_one_event_then_ends() -> None:
    clock = VirtualClock()
    got: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        sub = s.subscribe(got.append, types=JobAdded, one_shot=True)
        first = await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        await clock.wait_idle()
        assert sub.closed
        await sub.aclose()
    assert len(got) == 1
    assert isinstance(got[0], JobAdded) and got[0].job_id == first


@pytest.mark.asyncio
async def test_events_iterator_filters_by_type() -> None:
    clock = VirtualClock()
    got: list[Event] = []
    s = AsyncScheduler(clock=clock)
    await s.start()

    async def consume(stream: AsyncIterator[Event]) -> None:
        async for event in stream:
            got.append(event)

    consumer = asyncio.ensure_future(consume(s.events(types=RunSucceeded)))
    await asyncio.sleep(0)
    await s.schedule(lambda: 5)
    await clock.advance(1)
    await s.stop()
    await asyncio.wait_for(consumer, 2)
    assert [type(e) for e in got] == [RunSucceeded]


@pytest.mark.asyncio
async def test_events_iterator_started_before_start_sees_scheduler_started() -> None:
    clock = VirtualClock()
    s = AsyncScheduler(clock=clock)
    got: list[Event] = []
    stream = s.events()

    async def consume() -> None:
        async for event in stream:
            got.append(event)

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    await s.start()
    await s.stop()
    await asyncio.wait_for(consumer, 2)
    assert [type(e) for e in got] == [SchedulerStarted, SchedulerStopped]


@pytest.mark.asyncio
async def test_events_iterator_on_a_stopped_scheduler_does_not_hang() -> None:
    s = AsyncScheduler(clock=VirtualClock())
    await s.start()
    await s.stop()
    got: list[Event] = []

    async def consume() -> None:
        async for event in s.events():
            got.append(event)

    consumer = asyncio.ensure_future(consume())
    done, _ = await asyncio.wait({consumer}, timeout=0.2)
    if not done:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
    assert done, "events() of a stopped scheduler waits forever"


@pytest.mark.asyncio
async def test_slow_iterator_consumer_drops_are_counted_and_dispatch_continues() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        stream = s.events(buffer=3)
        first = asyncio.ensure_future(anext(stream))  # subscribe, then never read again
        await asyncio.sleep(0)
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        await clock.advance(20)
        job = await s.get_job(job_id)
        stats = s.statistics()
        await first
    assert job is not None and job.run_count == 20
    assert stats.events_dropped > 0


# ==================================================================================================
# History, describe, statistics
# ==================================================================================================


@pytest.mark.asyncio
async def test_run_history_is_bounded_by_the_history_option() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1), history=5)
        await clock.advance(12)
        history = await s.get_run_history(job_id)
    assert len(history) == 5
    assert [r.scheduled_at for r in history] == [T0 + timedelta(seconds=n) for n in range(8, 13)]


@pytest.mark.asyncio
async def test_run_history_default_keeps_20() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        await clock.advance(30)
        history = await s.get_run_history(job_id)
    assert len(history) == 20


@pytest.mark.asyncio
async def test_run_record_has_the_documented_fields() -> None:
    clock = VirtualClock()

    def bad() -> None:
        raise KeyError("k")

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(bad, trigger=IntervalTrigger(seconds=1))
        await clock.advance(1)
        (rec,) = await s.get_run_history(job_id)
    assert isinstance(rec, RunRecord)
    assert rec.outcome == "failed" and rec.error == "KeyError: 'k'" and rec.result is None
    assert rec.attempt == 1 and rec.duration >= 0 and rec.lateness == 0
    assert rec.started_at <= rec.ended_at
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.outcome = "x"  # type: ignore[misc]


@pytest.mark.asyncio
async def test_describe_next_fires_stop_at_max_runs_and_trigger_end() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        a = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1), max_runs=3)
        b = await s.schedule(
            lambda: 1, trigger=IntervalTrigger(minutes=1, start=T0, end=T0 + timedelta(minutes=4))
        )
        da = await s.describe(a)
        db = await s.describe(b)
    assert len(da.next_fires) == 3
    assert db.next_fires[-1] == T0 + timedelta(minutes=4) and len(db.next_fires) <= 5


@pytest.mark.asyncio
async def test_describe_shows_only_the_last_ten_runs() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        await clock.advance(15)
        desc = await s.describe(job_id)
    assert len(desc.last_runs) == 10
    assert desc.last_runs[-1].scheduled_at == T0 + timedelta(seconds=15)


@pytest.mark.asyncio
async def test_statistics_is_an_immutable_snapshot() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        before = s.statistics()
        await clock.advance(5)
        after = s.statistics()
    assert isinstance(before, SchedulerStatistics)
    assert before.fires == 0 and after.fires == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.fires = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        after.jobs_by_status["pending"] = 9  # type: ignore[index]


@pytest.mark.asyncio
async def test_statistics_counts_jobs_by_status_and_failures() -> None:
    clock = VirtualClock()

    def bad() -> None:
        raise ValueError("x")

    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(lambda: 1)
        await s.schedule(bad)
        paused = await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        await s.pause(paused)
        await clock.advance(1)
        stats = s.statistics()
    assert stats.jobs == 3
    assert stats.jobs_by_status["completed"] == 1
    assert stats.jobs_by_status["failed"] == 1
    assert stats.jobs_by_status["paused"] == 1
    assert stats.failures == 1 and stats.fires == 2


@pytest.mark.asyncio
async def test_statistics_lateness_percentiles() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        assert s.statistics().lateness_p50 is None
        await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        await clock.advance(10)
        stats = s.statistics()
    assert stats.lateness_p50 == 0 and stats.lateness_max == 0


# ==================================================================================================
# Persistence
# ==================================================================================================


def stored_body(tag: str = "x") -> str:
    return f"ran {tag}"


def stored_fail(tag: str = "x") -> None:
    raise RuntimeError(f"failed {tag}")


STORED_CALLS: list[Any] = []


def stored_record(*args: Any, **kwargs: Any) -> str:
    STORED_CALLS.append((args, kwargs))
    return "recorded"


@pytest.fixture(params=["json", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    STORED_CALLS.clear()
    name = "state.json" if request.param == "json" else "jobs.db"
    return f"{request.param}:///{tmp_path / name}"


def _glob(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern))


def _read(path: Path) -> str:
    return path.read_text()


def _path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


@pytest.mark.asyncio
async def test_store_url_slashes_follow_sqlalchemy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three slashes: relative to the working directory; four: absolute (issue 15, item 11).
    monkeypatch.chdir(tmp_path)
    for scheme, name in (("json", "a.json"), ("sqlite", "a.db")):
        for url, target in ((f"{scheme}:///{name}", tmp_path / name),
                            (f"{scheme}:///{tmp_path / 'abs'}-{name}", tmp_path / f"abs-{name}")):  # fmt: skip
            async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
                await s.schedule(stored_body, trigger=IntervalTrigger(hours=1))
            assert target.exists()
        # The old absolute spelling names nothing here: refused with the fix, not a new store.
        with pytest.raises(ValueError, match=re.escape(f"write {scheme}:///{tmp_path}")):
            AsyncScheduler(clock=VirtualClock(), store=f"{scheme}://{tmp_path / name}")


@pytest.mark.asyncio
async def test_restart_keeps_jobs_run_counts_max_runs_and_last_result(url: str) -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock, store=url) as s:
        jid = await s.schedule(
            stored_body, name="b", trigger=IntervalTrigger(minutes=1), args=("a",), max_runs=4
        )
        await clock.advance(120)
    async with AsyncScheduler(
        clock=VirtualClock(start=T0 + timedelta(seconds=150)), store=url
    ) as s:
        job = await s.get_job(jid)
    assert job is not None
    assert (job.name, job.run_count, job.max_runs, job.result) == ("b", 2, 4, "ran a")
    assert job.status is JobStatus.PENDING and job.args == ("a",)


@pytest.mark.asyncio
async def test_restart_keeps_the_last_error(url: str) -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock, store=url) as s:
        jid = await s.schedule(stored_fail, trigger=IntervalTrigger(minutes=1), args=("e",))
        await clock.advance(60)
    async with AsyncScheduler(clock=VirtualClock(start=T0 + timedelta(seconds=90)), store=url) as s:
        job = await s.get_job(jid)
    assert job is not None and job.error == "RuntimeError: failed e"


@pytest.mark.asyncio
async def test_completed_job_stays_completed_after_restart(url: str) -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock, store=url) as s:
        jid = await s.schedule(stored_record, trigger=IntervalTrigger(minutes=1), max_runs=2)
        await clock.advance(300)
    async with AsyncScheduler(clock=VirtualClock(start=T0 + timedelta(hours=1)), store=url) as s:
        job = await s.get_job(jid)
        await s.clock.advance(600)  # type: ignore[attr-defined]
    assert job is not None and job.status is JobStatus.COMPLETED and job.run_count == 2
    assert len(STORED_CALLS) == 2


@pytest.mark.asyncio
async def test_restart_keeps_job_options(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(
            stored_body,
            trigger=IntervalTrigger(minutes=1),
            retries=3,
            retry_delay=2.5,
            overlap="buffer_all",
            timeout=30,
            misfire_grace_time=10,
            retry_on=(ConnectionError, TimeoutError),
        )
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        job = await s.get_job(jid)
    assert job is not None and job.options is not None
    o = job.options
    assert (o.retries, o.retry_delay, o.overlap, o.timeout, o.misfire_grace_time) == (
        3,
        2.5,
        "buffer_all",
        30,
        10,
    )
    assert set(o.retry_on) == {ConnectionError, TimeoutError}


@pytest.mark.asyncio
async def test_paused_job_stays_paused_after_restart(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(stored_record, trigger=IntervalTrigger(minutes=1))
        await s.pause(jid)
    clock = VirtualClock(start=T0 + timedelta(minutes=10))
    async with AsyncScheduler(clock=clock, store=url) as s:
        job = await s.get_job(jid)
        await clock.advance(300)
    assert job is not None and job.status is JobStatus.PAUSED
    assert STORED_CALLS == []


@pytest.mark.asyncio
async def test_cancelled_job_stays_cancelled_after_restart(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(stored_record, trigger=IntervalTrigger(minutes=1))
        await s.cancel(jid)
    clock = VirtualClock(start=T0 + timedelta(minutes=10))
    async with AsyncScheduler(clock=clock, store=url) as s:
        job = await s.get_job(jid)
        await clock.advance(300)
    assert job is None or job.status is JobStatus.CANCELLED
    assert STORED_CALLS == []


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 5, 1, 12, 30, tzinfo=UTC),
        date(2026, 5, 1),
        Decimal("12.50"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        b"\x00\xffbytes",
        timedelta(minutes=3),
        {"nested": [1, 2.5, None, True, "s"]},
    ],
)
@pytest.mark.asyncio
async def test_special_argument_types_round_trip_through_a_restart(url: str, value: Any) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(
            stored_record, trigger=IntervalTrigger(minutes=1), args=(value,), kwargs={"k": value}
        )
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock, store=url) as s:
        job = await s.get_job(jid)
        await clock.advance(60)
    assert job is not None and job.args == (value,) and job.kwargs == {"k": value}
    assert [((value,), {"k": value})] == STORED_CALLS
    assert type(STORED_CALLS[0][0][0]) is type(value)


@pytest.mark.parametrize(
    ("args", "kwargs", "culprit"),
    [
        ((object(),), None, "args[0]"),
        ((), {"s": {1, 2}}, "kwargs['s']"),
        (([1, threading.Lock()],), None, "args[0][1]"),
        ((), {"f": float("nan")}, "kwargs['f']"),
    ],
)
@pytest.mark.asyncio
async def test_unstorable_arguments_are_refused_at_schedule_time(
    url: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None, culprit: str
) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        with pytest.raises(ValueError) as info:
            await s.schedule(stored_record, args=args, kwargs=kwargs)
        assert culprit in str(info.value)
        assert await s.list_jobs() == []


@pytest.mark.asyncio
async def test_lambda_and_closure_are_refused_with_advice_to_register(url: str) -> None:
    def make() -> Any:
        def inner() -> None:
            pass

        return inner

    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        for func in (lambda: 1, make()):
            with pytest.raises(E.InvalidJobError, match="regist"):
                await s.schedule(func)
        assert await s.list_jobs() == []


@pytest.mark.asyncio
async def test_bound_method_of_an_unregistered_object_is_refused(url: str) -> None:
    class Worker:
        def run(self) -> None:
            pass

    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        with pytest.raises(E.InvalidJobError, match="regist"):
            await s.schedule(Worker().run)


@pytest.mark.asyncio
async def test_modify_args_to_something_unstorable_is_refused_and_job_unchanged(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(stored_record, args=(1,), trigger=IntervalTrigger(minutes=1))
        with pytest.raises(ValueError, match="args"):
            await s.modify(jid, args=(object(),))
        job = await s.get_job(jid)
    assert job is not None and job.args == (1,)


@pytest.mark.asyncio
async def test_modify_func_to_a_lambda_is_refused_with_a_store(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(stored_record, trigger=IntervalTrigger(minutes=1))
        with pytest.raises(E.InvalidJobError, match="regist"):
            await s.modify(jid, func=lambda: 1)


@pytest.mark.asyncio
async def test_modified_job_is_saved(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(stored_record, args=(1,), trigger=IntervalTrigger(minutes=1))
        await s.modify(jid, args=(2,), name="renamed", retries=4)
        await s.reschedule(jid, IntervalTrigger(minutes=7))
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        job = await s.get_job(jid)
    assert job is not None and job.args == (2,) and job.name == "renamed"
    assert job.options is not None and job.options.retries == 4
    assert job.trigger == IntervalTrigger(minutes=7) and job.next_run == T0 + timedelta(minutes=7)


@pytest.mark.asyncio
async def test_unregistered_function_is_reported_in_list_jobs_and_comes_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.json"
    reg = FunctionRegistry()
    reg.register("report", stored_record)
    async with AsyncScheduler(
        clock=VirtualClock(), store=StoreJournal(JsonFileStore(path), registry=reg)
    ) as s:
        jid = await s.schedule(
            stored_record, trigger=IntervalTrigger(minutes=1), function_name="report"
        )
    raw = path.read_bytes()
    STORED_CALLS.clear()
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock, store=StoreJournal(JsonFileStore(path))) as s:
        listed = await s.list_jobs(JobStatus.UNRESOLVED)
        assert [j.id for j in listed] == [jid]
        assert listed[0].error is not None and "report" in listed[0].error
        await clock.advance(120)
        assert STORED_CALLS == []  # unresolved: not fired
        assert path.read_bytes() == raw  # and kept byte for byte
        assert s.register_function("report", stored_record) == 1
        job = await s.get_job(jid)
        assert job is not None and job.status is JobStatus.PENDING
        assert job.next_run == clock.now()  # back at once: the missed fires coalesce to now
        await clock.advance(0)
        assert len(STORED_CALLS) == 1
        await clock.advance(60)  # and then on its schedule
        job = await s.get_job(jid)
        assert job is not None and job.run_count == 2 and len(STORED_CALLS) == 2
        assert job.next_run == T0 + timedelta(minutes=4)


@pytest.mark.asyncio
async def test_unresolved_job_is_counted_in_statistics(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    reg = FunctionRegistry()
    reg.register("report", stored_record)
    async with AsyncScheduler(
        clock=VirtualClock(), store=StoreJournal(JsonFileStore(path), registry=reg)
    ) as s:
        await s.schedule(stored_record, trigger=IntervalTrigger(minutes=1), function_name="report")
    async with AsyncScheduler(clock=VirtualClock(), store=StoreJournal(JsonFileStore(path))) as s:
        stats = s.statistics()
        listed = await s.list_jobs()
    assert len(listed) == 1
    assert stats.jobs == 1 and stats.jobs_by_status["unresolved"] == 1


@pytest.mark.asyncio
async def test_corrupt_json_is_moved_aside_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"format": "asyncron.jobs", "version": 1, "jobs": [')
    caplog.set_level(logging.WARNING, logger="asyncron")
    async with AsyncScheduler(clock=VirtualClock(), store=f"json:///{path}") as s:
        assert await s.list_jobs() == []
        await s.schedule(stored_body, trigger=IntervalTrigger(hours=1))
    aside = _glob(tmp_path, "state.json.corrupt-*")
    assert len(aside) == 1
    assert aside[0].read_text() == '{"format": "asyncron.jobs", "version": 1, "jobs": ['
    assert any(str(aside[0]) in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "content",
    ["", '{"format":"asyncron.jobs"', '{"format": "asyncron.jobs", "jobs": 5}',
     '{"format": "asyncron.jobs", "version": null, "jobs": []}',
     '{"format":"asyncron.jobs","version":1,"jobs":[{"id": 3}'],
)  # fmt: skip
@pytest.mark.asyncio
async def test_malformed_json_never_crashes_start_and_is_not_overwritten(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    async with AsyncScheduler(clock=VirtualClock(), store=f"json:///{path}") as s:
        await s.list_jobs()
        await s.schedule(stored_body, trigger=IntervalTrigger(hours=1))
    # The unreadable file is moved aside byte for byte, once; the live file is a fresh one.
    aside = _glob(tmp_path, "state.json.corrupt-*")
    assert len(aside) == 1 and _read(aside[0]) == content
    doc = json.loads(path.read_text())
    assert doc["format"] == "asyncron.jobs" and len(doc["jobs"]) == 1


@pytest.mark.parametrize(
    "content", ["[]", '{"jobs": 5}', "null", '{"version": 1, "jobs": [{"id": 3}]}']
)
@pytest.mark.asyncio
async def test_a_json_file_that_is_not_a_store_is_refused_not_moved(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    s = AsyncScheduler(clock=VirtualClock(), store=f"json:///{path}")
    with pytest.raises(NotAStoreError, match="is not an asyncron store"):
        await s.start()
    assert not s.running and _read(path) == content
    assert _glob(tmp_path, "state.json.corrupt-*") == []


@pytest.mark.asyncio
async def test_second_scheduler_on_the_same_file_is_a_clear_error(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url):
        other = AsyncScheduler(clock=VirtualClock(), store=url)
        with pytest.raises(StoreLockedError) as info:
            await other.start()
        message = str(info.value)
        assert str(_path(url)) in message
        assert f"(pid {os.getpid()})" in message and f"(lock file {_path(url)}.lock)" in message
        assert not other.running


@pytest.mark.asyncio
async def test_store_is_released_after_stop(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url):
        pass
    async with AsyncScheduler(clock=VirtualClock(), store=url) as again:
        assert again.running


@pytest.mark.asyncio
async def test_newer_json_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    text = json.dumps({"format": "asyncron.jobs", "version": 999, "jobs": []})
    path.write_text(text)
    s = AsyncScheduler(clock=VirtualClock(), store=f"json:///{path}")
    with pytest.raises(StoreVersionError, match="999"):
        await s.start()
    assert path.read_text() == text and not s.running


@pytest.mark.asyncio
async def test_misfire_latest_runs_one_late_fire_after_downtime(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(
            stored_record, trigger=CronTrigger.from_expression("0 * * * *", "UTC")
        )
    clock = VirtualClock(start=T0 + timedelta(hours=4, minutes=45))
    async with AsyncScheduler(clock=clock, store=url) as s:
        await clock.advance(0)
        await clock.advance(1)
        job = await s.get_job(jid)
    assert len(STORED_CALLS) == 1
    assert job is not None and job.next_run == T0 + timedelta(hours=5)


@pytest.mark.asyncio
async def test_misfire_all_bounded_by_count_through_options(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(
            stored_record,
            trigger=CronTrigger.from_expression("0 * * * *", "UTC"),
            misfire="all",
            misfire_max_count=2,
        )
    clock = VirtualClock(start=T0 + timedelta(hours=4, minutes=45))
    async with AsyncScheduler(clock=clock, store=url) as s:
        await clock.advance(1)
        await clock.wait_idle()
        history = await s.get_run_history(jid)
    assert [r.scheduled_at.hour for r in history] == [3, 4]


@pytest.mark.asyncio
async def test_misfire_all_bounded_by_age_through_options(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(
            stored_record,
            trigger=CronTrigger.from_expression("0 * * * *", "UTC"),
            misfire="all",
            misfire_max_age=7200,
        )
    clock = VirtualClock(start=T0 + timedelta(hours=4, minutes=45))
    async with AsyncScheduler(clock=clock, store=url) as s:
        await clock.advance(1)
        await clock.wait_idle()
        history = await s.get_run_history(jid)
    assert [r.scheduled_at.hour for r in history] == [3, 4]


@pytest.mark.asyncio
async def test_misfire_skip_runs_nothing_after_downtime(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(
            stored_record, trigger=CronTrigger.from_expression("0 * * * *", "UTC"), misfire="skip"
        )
    clock = VirtualClock(start=T0 + timedelta(hours=4, minutes=45))
    async with AsyncScheduler(clock=clock, store=url) as s:
        await clock.advance(1)
        job = await s.get_job(jid)
    assert STORED_CALLS == []
    assert job is not None and job.next_run == T0 + timedelta(hours=5)


@pytest.mark.asyncio
async def test_misfire_grace_time_applies_to_downtime(url: str) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        await s.schedule(
            stored_record,
            trigger=CronTrigger.from_expression("0 * * * *", "UTC"),
            misfire_grace_time=1800,
        )
    clock = VirtualClock(start=T0 + timedelta(hours=4, minutes=45))
    async with AsyncScheduler(clock=clock, store=url) as s:
        await clock.advance(1)
    assert STORED_CALLS == []


NOMINAL: list[datetime] = []


def stored_nominal() -> None:
    info = current_run()
    assert info is not None
    NOMINAL.append(info.scheduled_at)


@pytest.mark.asyncio
async def test_catch_up_runs_see_their_own_nominal_fire_time(url: str) -> None:
    NOMINAL.clear()
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(
            stored_nominal,
            trigger=CronTrigger.from_expression("0 * * * *", "UTC"),
            misfire="all",
            misfire_max_count=10,
        )
    clock = VirtualClock(start=T0 + timedelta(hours=3, minutes=30))
    async with AsyncScheduler(clock=clock, store=url) as s:
        await clock.advance(1)
        for _ in range(5):
            await clock.wait_idle()
        history = await s.get_run_history(jid)
    expected = [T0 + timedelta(hours=h) for h in (1, 2, 3)]
    assert expected == NOMINAL
    assert [r.scheduled_at for r in history] == expected


# -- PersistentScheduler ---------------------------------------------------------------------------


def test_persistent_scheduler_keeps_run_count_and_result_across_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    s = PersistentScheduler(state)
    s.register_function("body", stored_body)
    s.start()
    jid = s.schedule(stored_body, args=("p",), function_name="body")
    s.wait_job(jid, timeout=5)
    s.stop()
    again = PersistentScheduler(state)
    again.register_function("body", stored_body)
    again.start()
    try:
        job = again.get_job(jid)
    finally:
        again.stop()
    assert job is not None and job.status is JobStatus.COMPLETED
    assert (job.run_count, job.result) == (1, "ran p")


def test_persistent_scheduler_reports_unregistered_stored_jobs(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    s = PersistentScheduler(state)
    s.register_function("body", stored_body)
    jid = s.schedule(stored_body, trigger="@daily", function_name="body")
    s.stop()
    again = PersistentScheduler(state)
    again.start()
    try:
        unresolved = again.unresolved_jobs()
        again.register_function("body", stored_body)
        back = again.get_job(jid)
    finally:
        again.stop()
    assert [u.id for u in unresolved] == [jid]
    assert back is not None and back.status is JobStatus.PENDING


class StoredRetryError(Exception):
    """A module-level exception class named by a stored retry_on."""


RETRY_CALLS: list[str] = []


def stored_flaky(kind: str) -> None:
    RETRY_CALLS.append(kind)
    if kind == "retry":
        raise StoredRetryError("retry me")
    raise KeyError("not me")


@pytest.mark.asyncio
async def test_retry_on_survives_a_restart(url: str) -> None:
    RETRY_CALLS.clear()
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        a = await s.schedule(
            stored_flaky, args=("retry",), trigger="@hourly", retries=2, retry_on=StoredRetryError
        )
        b = await s.schedule(
            stored_flaky, args=("other",), trigger="@hourly", retries=2, retry_on=StoredRetryError
        )
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock, store=url) as s:
        ja, jb = await s.get_job(a), await s.get_job(b)
        await clock.advance(3600 + 600)  # the fire and every retry (at most 1 s + 2 s later)
    assert ja is not None and ja.options is not None
    assert ja.options.retry_on == (StoredRetryError,)
    assert jb is not None and jb.options is not None
    assert RETRY_CALLS.count("retry") == 3 and RETRY_CALLS.count("other") == 1


@pytest.mark.asyncio
async def test_stored_retry_on_naming_an_unknown_class_retries_nothing_and_warns(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        jid = await s.schedule(stored_body, trigger="@hourly", retries=2, retry_on=StoredRetryError)
    caplog.set_level(logging.WARNING, logger="asyncron")
    store = store_from_url(url)  # edit the saved row while no scheduler has the file open
    await store.open()
    row = await store.get_job(jid)
    assert row is not None
    opts = dict(row.options)
    opts["job"] = {**opts["job"], "retry_on": ["not_imported_pkg.errors:Gone"]}
    await store.write_batch([row.evolve(options=opts)])
    await store.close()
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        job = await s.get_job(jid)
    assert job is not None and job.options is not None and job.options.retry_on == ()
    assert "not_imported_pkg.errors:Gone" in caplog.text


@pytest.mark.asyncio
async def test_backfill_reads_naive_datetimes_as_local_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time as _time

    monkeypatch.setenv("TZ", "America/New_York")
    _time.tzset()
    try:
        clock = VirtualClock(start=datetime(2026, 3, 10, tzinfo=UTC))
        async with AsyncScheduler(clock=clock) as s:
            job_id = await s.schedule(
                lambda: 1, trigger=CronTrigger.from_expression("0 12 * * *", "UTC")
            )
            # 2026-03-09 06:00 to 09:00 New York time is 10:00 to 13:00 UTC: holds 12:00 UTC
            n = await s.backfill(job_id, datetime(2026, 3, 9, 6), datetime(2026, 3, 9, 9))
    finally:
        monkeypatch.undo()
        _time.tzset()
    assert n == 1
