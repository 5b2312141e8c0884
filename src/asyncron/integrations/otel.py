"""OpenTelemetry spans per job run (the ``[otel]`` extra: ``opentelemetry-api``).

    from asyncron.integrations.otel import instrument
    instrument(scheduler)            # uses the global tracer provider

Each run (each attempt) becomes one span named ``asyncron.run <job name>``, with its real start
and end times and the attributes ``asyncron.job.id``, ``asyncron.job.name``,
``asyncron.fire.scheduled_at``, ``asyncron.fire.id``, ``asyncron.run.attempt``,
``asyncron.run.lateness_s`` and ``asyncron.run.outcome``; a failed run has status ERROR and the
error text. Spans are built from scheduler events after the run ends, so they are not the parent
of spans the job itself opens.
"""

from __future__ import annotations

from typing import Any

from .._events import Event, RunFailed, RunRetried, RunStarted, RunSucceeded, Subscription
from .._scheduler import AsyncScheduler

__all__ = ["instrument"]


def _ns(ts: float) -> int:
    return int(ts * 1_000_000_000)


def instrument(
    scheduler: AsyncScheduler, *, tracer_provider: Any = None, buffer: int = 100_000
) -> Subscription:
    """Emit a span per run of ``scheduler``'s jobs. Returns the subscription.

    Raises:
        ModuleNotFoundError: opentelemetry-api is not installed (``pip install asyncron[otel]``).
    """
    try:
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(
            "asyncron.integrations.otel needs opentelemetry-api: pip install 'asyncron[otel]'"
        ) from exc
    tracer = trace.get_tracer("asyncron", tracer_provider=tracer_provider)
    started: dict[tuple[str, float, int], tuple[float, float]] = {}

    async def on_event(event: Event) -> None:  # on the loop: cheap, and no thread hop
        if isinstance(event, RunStarted):
            key = (event.job_id, event.scheduled_at.timestamp(), event.attempt)
            started[key] = (event.timestamp.timestamp(), event.lateness)
            return
        assert isinstance(event, RunSucceeded | RunFailed | RunRetried)
        key = (event.job_id, event.scheduled_at.timestamp(), event.attempt)
        begin, late = started.pop(key, (event.timestamp.timestamp(), 0.0))
        if isinstance(event, RunSucceeded):
            outcome, error = "succeeded", None
        elif isinstance(event, RunFailed):
            outcome, error = event.outcome, event.error
        else:
            outcome, error = "retried", event.error
        span = tracer.start_span(
            f"asyncron.run {event.job_name}",
            start_time=_ns(begin),
            attributes={
                "asyncron.job.id": event.job_id,
                "asyncron.job.name": event.job_name,
                "asyncron.fire.scheduled_at": event.scheduled_at.isoformat(),
                "asyncron.fire.id": f"{event.job_id}@{event.scheduled_at.isoformat()}",
                "asyncron.run.attempt": event.attempt,
                "asyncron.run.lateness_s": late,
                "asyncron.run.outcome": outcome,
            },
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=_ns(event.timestamp.timestamp()))

    return scheduler.subscribe(
        on_event, types=(RunStarted, RunSucceeded, RunFailed, RunRetried), buffer=buffer
    )
