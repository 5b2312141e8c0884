"""Scheduler events: typed frozen values and a hub that never lets a subscriber slow dispatch.

The engine builds an event only when someone subscribed (one truth test otherwise). Each
subscription owns a bounded buffer drained by its own task: dispatch only appends, so a slow
subscriber costs it nothing; when a buffer is full the newest event is dropped and counted.
A sync callback is called in a worker thread (the loop's default executor), never on the loop
itself: a callback that blocks for a second would otherwise hold every job for that second.
An async callback runs on the loop, as a task.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import InvalidJobError

__all__ = [
    "Event",
    "EventHub",
    "FireMisfired",
    "FireSkipped",
    "JobAdded",
    "JobModified",
    "JobPaused",
    "JobRemoved",
    "JobResumed",
    "JobUnloadable",
    "RunFailed",
    "RunRetried",
    "RunStarted",
    "RunSucceeded",
    "SchedulerStarted",
    "SchedulerStopped",
    "Subscription",
]

logger = logging.getLogger("asyncron")


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event; ``timestamp`` is when it happened (scheduler clock, UTC)."""

    timestamp: datetime


@dataclass(frozen=True, slots=True)
class SchedulerStarted(Event):
    pass


@dataclass(frozen=True, slots=True)
class SchedulerStopped(Event):
    pass


@dataclass(frozen=True, slots=True)
class JobEvent(Event):
    job_id: str
    job_name: str


@dataclass(frozen=True, slots=True)
class JobAdded(JobEvent):
    pass


@dataclass(frozen=True, slots=True)
class JobRemoved(JobEvent):
    """The job was cancelled (it stays listed with status CANCELLED)."""


@dataclass(frozen=True, slots=True)
class JobPaused(JobEvent):
    pass


@dataclass(frozen=True, slots=True)
class JobResumed(JobEvent):
    pass


@dataclass(frozen=True, slots=True)
class JobModified(JobEvent):
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FireSkipped(JobEvent):
    """A fire did not run: ``reason`` is ``overlap``, ``buffer_full`` or ``dependency``."""

    scheduled_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class FireMisfired(JobEvent):
    """A fire was skipped because it came later than the job's ``misfire_grace_time``."""

    scheduled_at: datetime
    lateness: float


@dataclass(frozen=True, slots=True)
class RunStarted(JobEvent):
    scheduled_at: datetime
    attempt: int
    lateness: float


@dataclass(frozen=True, slots=True)
class RunSucceeded(JobEvent):
    scheduled_at: datetime
    attempt: int
    duration: float
    result: Any


@dataclass(frozen=True, slots=True)
class RunFailed(JobEvent):
    """``outcome`` is ``failed``, ``cancelled``, ``timed_out`` or ``abandoned``.

    ``error`` is the text (``"ValueError: boom"``); ``exception`` the exception object itself
    (None for a run that was cancelled or abandoned), ``exception_type`` its class and
    ``traceback`` the formatted traceback (what APScheduler's ``JobExecutionEvent`` carries).
    """

    scheduled_at: datetime
    attempt: int
    duration: float
    error: str
    outcome: str
    exception: BaseException | None = None
    traceback: str | None = None

    @property
    def exception_type(self) -> type[BaseException] | None:
        return None if self.exception is None else type(self.exception)


@dataclass(frozen=True, slots=True)
class RunRetried(JobEvent):
    scheduled_at: datetime
    attempt: int
    delay: float
    error: str
    exception: BaseException | None = None


@dataclass(frozen=True, slots=True)
class JobUnloadable(JobEvent):
    """A stored record was not loaded at start (or when unresolved jobs were retried): it is
    kept in the store untouched and never run. ``kind`` is ``"function"`` (the function is not
    vouched for or not found), ``"seal"`` (tampered, unsealed, or no key to check it) or
    ``"data"`` (a malformed record or value); ``reason`` says why, naming the job and the value.
    """

    func_ref: str
    kind: str
    reason: str


class Subscription:
    """A live subscription: ``unsubscribe()`` ends it; ``dropped`` counts events lost because
    its buffer was full."""

    def __init__(
        self,
        hub: EventHub,
        callback: Callable[[Event], Any] | None,
        types: tuple[type[Event], ...],
        one_shot: bool,
        buffer: int,
    ) -> None:
        self._hub = hub
        self._callback = callback
        self._types = types
        self._one_shot = one_shot
        self._limit = buffer
        self._queue: deque[Event] = deque()
        self._ready: asyncio.Event | None = None
        self._pump: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._abandoned = False  # set by a stop that stopped waiting for this subscriber
        self._is_async = callback is not None and _is_async_callback(callback)
        self.dropped = 0
        self.closed = False

    def wants(self, event: Event) -> bool:
        return not self._types or isinstance(event, self._types)

    def push(self, event: Event) -> None:
        if len(self._queue) >= self._limit:
            self.dropped += 1
            self._hub.dropped += 1
            return
        self._queue.append(event)
        if self._one_shot:
            self._hub.remove(self)
            self.closed = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet (a job scheduled at import time): delivered with the next event
        self._loop = loop
        if self._ready is None:
            self._ready = asyncio.Event()
        self._ready.set()
        if self._callback is not None and (self._pump is None or self._pump.done()):
            self._pump = pump = loop.create_task(self._deliver(), name="asyncron-event-delivery")
            # the hub knows every subscription with a delivery in flight, a one-shot's too (it
            # has left the hub's subscriptions already), so that stop() waits for it as well
            self._hub.delivering.add(self)
            pump.add_done_callback(self._delivered)

    def _delivered(self, pump: asyncio.Task[None]) -> None:
        if self._pump is pump:  # (not a newer delivery started since)
            self._hub.delivering.discard(self)

    async def _deliver(self) -> None:
        callback = self._callback
        assert callback is not None
        if self._is_async:
            while self._queue:
                await _call_here(callback, self._queue.popleft())
            return
        # A sync callback runs in a worker thread, fed in batches (one thread hop per batch,
        # not per event), one batch at a time: events still arrive in order.
        loop = asyncio.get_running_loop()
        while self._queue:
            batch = list(self._queue)
            self._queue.clear()
            self._abandoned = False  # only the batch in hand when a stop gave up is cut short
            try:
                await loop.run_in_executor(None, self._call_each, batch, loop)
            except RuntimeError:  # the executor is shut down (interpreter exit): call here
                for event in batch:
                    await _call_here(callback, event)

    def _call_each(self, batch: list[Event], loop: asyncio.AbstractEventLoop) -> None:
        """Deliver ``batch`` in a worker thread, stopping early once the subscription is
        abandoned (a stop that could not wait any longer): the rest is counted as dropped."""
        callback = self._callback
        assert callback is not None
        for i, event in enumerate(batch):
            if self._abandoned:
                self.dropped += len(batch) - i
                self._hub.dropped += len(batch) - i
                return
            try:
                result = callback(event)
                if inspect.iscoroutine(result):  # a sync callable that returned a coroutine
                    asyncio.run_coroutine_threadsafe(result, loop).result()
            except Exception:
                logger.exception("event subscriber %r failed on %r", callback, event)

    async def wait_delivered(self, timeout: float | None = None) -> bool:
        """Wait until every queued event has been handed to the callback (and it returned);
        True if that happened within ``timeout`` seconds. The subscription stays open."""
        pump = self._pump
        if pump is None or pump.done():
            return True
        done, _ = await asyncio.wait({pump}, timeout=timeout)
        return bool(done)

    def unsubscribe(self) -> None:
        """End the subscription; safe from any thread (a sync callback's, say)."""
        self._hub.remove(self)
        self.closed = True
        ready = self._ready
        if ready is None:
            return
        loop = self._loop
        try:
            on_loop = loop is None or asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            ready.set()
            return
        assert loop is not None
        try:
            loop.call_soon_threadsafe(ready.set)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    async def _iterate(self) -> AsyncIterator[Event]:
        try:
            while True:
                while self._queue:
                    yield self._queue.popleft()
                if self.closed:
                    return
                if self._ready is None:
                    self._ready = asyncio.Event()
                self._ready.clear()
                await self._ready.wait()
        finally:
            self.unsubscribe()

    async def aclose(self) -> None:
        """Unsubscribe and wait for queued callback deliveries to finish."""
        self.unsubscribe()
        if self._pump is not None:
            await asyncio.gather(self._pump, return_exceptions=True)


def _is_async_callback(callback: Callable[..., Any]) -> bool:
    target: Any = callback
    while isinstance(target, functools.partial):
        target = target.func
    call = getattr(type(target), "__call__", None)  # noqa: B004 (async __call__ objects)
    return inspect.iscoroutinefunction(target) or (
        not inspect.isroutine(target) and inspect.iscoroutinefunction(call)
    )


async def _call_here(callback: Callable[[Event], Any], event: Event) -> None:
    try:
        result = callback(event)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("event subscriber %r failed on %r", callback, event)


class EventHub:
    """Fan-out of events to subscriptions."""

    def __init__(self) -> None:
        self.subscriptions: list[Subscription] = []
        self.dropped = 0
        #: every subscription with a delivery in flight, whether or not it is still open (a
        #: one-shot leaves ``subscriptions`` when its event arrives, before its callback runs)
        self.delivering: set[Subscription] = set()

    def __bool__(self) -> bool:
        return bool(self.subscriptions)

    def subscribe(
        self,
        callback: Callable[[Event], Any] | None,
        types: type[Event] | Iterable[type[Event]] | None = None,
        one_shot: bool = False,
        buffer: int = 1000,
    ) -> Subscription:
        if callback is not None and not callable(callback):
            raise InvalidJobError(f"callback: expected a callable, got {callback!r}")
        if types is None:
            wanted: tuple[type[Event], ...] = ()
        elif isinstance(types, type):
            wanted = (types,)
        else:
            wanted = tuple(types)
        for t in wanted:
            if not (isinstance(t, type) and issubclass(t, Event)):
                raise InvalidJobError(f"types: expected Event subclasses, got {t!r}")
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise InvalidJobError(f"buffer: expected a positive int, got {buffer!r}")
        sub = Subscription(self, callback, wanted, one_shot, buffer)
        self.subscriptions.append(sub)
        return sub

    def remove(self, sub: Subscription) -> None:
        try:
            self.subscriptions.remove(sub)
        except ValueError:
            pass

    def emit(self, event: Event) -> None:
        for sub in list(self.subscriptions):
            if sub.wants(event):
                sub.push(event)

    async def drain(self, timeout: float | None) -> bool:
        """Wait (up to ``timeout`` seconds) until every callback has been handed the events
        queued for it; True if all were. Subscriptions stay open."""
        busy = {
            sub._pump: sub
            for sub in self.delivering
            if sub._pump is not None and not sub._pump.done()
        }
        if not busy:
            return True
        _, pending = await asyncio.wait(set(busy), timeout=timeout)
        for pump in pending:  # the callback in progress finishes; the rest is dropped
            sub = busy[pump]
            sub._abandoned = True
            sub.dropped += len(sub._queue)
            self.dropped += len(sub._queue)
            sub._queue.clear()
        return not pending

    def close_all(self) -> None:
        for sub in list(self.subscriptions):
            if sub._callback is None:  # iterators end; callbacks keep their subscription
                sub.unsubscribe()
