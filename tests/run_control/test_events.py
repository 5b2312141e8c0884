"""Events (docs/events.md): frozen dataclasses, clocks, subscribers, iterators, dropped events."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from asyncron import AsyncScheduler, IntervalTrigger
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
from asyncron.testing import VirtualClock
from helpers import T0


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
