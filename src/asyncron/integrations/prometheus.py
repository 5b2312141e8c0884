"""Prometheus metrics for a scheduler (the ``[prometheus]`` extra: ``prometheus_client``).

    from asyncron.integrations.prometheus import instrument
    instrument(scheduler)            # metrics appear in prometheus_client's default registry

Metrics (``namespace`` defaults to ``asyncron``), labelled by job name:

- ``asyncron_runs_total{job, outcome}``: finished runs (``succeeded``, ``failed``, ``cancelled``,
  ``timed_out``, ``abandoned``); retried attempts count as ``retried``.
- ``asyncron_fires_skipped_total{job, reason}`` and ``asyncron_fires_misfired_total{job}``.
- ``asyncron_fire_lateness_seconds{job}``: histogram of scheduled-to-start delay.
- ``asyncron_run_duration_seconds{job}``: histogram of run durations.
- ``asyncron_running_jobs``: gauge of runs in flight, read from the scheduler when scraped.

Metrics are fed from scheduler events through a subscription with a large buffer, so they never
slow dispatch.
"""

from __future__ import annotations

from typing import Any

from .._events import (
    Event,
    FireMisfired,
    FireSkipped,
    RunFailed,
    RunRetried,
    RunStarted,
    RunSucceeded,
    Subscription,
)
from .._scheduler import AsyncScheduler

__all__ = ["instrument"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def instrument(
    scheduler: AsyncScheduler,
    *,
    registry: Any = None,
    namespace: str = "asyncron",
    buffer: int = 100_000,
) -> Subscription:
    """Register the metrics in ``registry`` (default: prometheus_client's global one) and feed
    them from ``scheduler``'s events. Returns the subscription (``unsubscribe()`` to stop).

    Raises:
        ModuleNotFoundError: prometheus_client is not installed (``pip install asyncron[prometheus]``).
    """
    try:
        from prometheus_client import REGISTRY, Counter, Gauge, Histogram
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(
            "asyncron.integrations.prometheus needs prometheus_client: "
            "pip install 'asyncron[prometheus]'"
        ) from exc
    reg = REGISTRY if registry is None else registry
    runs = Counter(
        f"{namespace}_runs", "Finished job runs by outcome.", ["job", "outcome"], registry=reg
    )
    skipped = Counter(
        f"{namespace}_fires_skipped", "Fires that did not run.", ["job", "reason"], registry=reg
    )
    misfired = Counter(
        f"{namespace}_fires_misfired",
        "Fires skipped for exceeding misfire_grace_time.",
        ["job"],
        registry=reg,
    )
    lateness = Histogram(
        f"{namespace}_fire_lateness_seconds",
        "Delay from a fire's scheduled time to its run's start.",
        ["job"],
        buckets=_LATENCY_BUCKETS,
        registry=reg,
    )
    duration = Histogram(
        f"{namespace}_run_duration_seconds", "Duration of job runs.", ["job"], registry=reg
    )
    running = Gauge(f"{namespace}_running_jobs", "Job runs in flight.", registry=reg)
    running.set_function(lambda: float(scheduler.running_runs))

    async def on_event(event: Event) -> None:  # on the loop: cheap, and no thread hop
        if isinstance(event, RunStarted):
            lateness.labels(event.job_name).observe(max(event.lateness, 0.0))
        elif isinstance(event, RunSucceeded):
            runs.labels(event.job_name, "succeeded").inc()
            duration.labels(event.job_name).observe(event.duration)
        elif isinstance(event, RunFailed):
            runs.labels(event.job_name, event.outcome).inc()
            duration.labels(event.job_name).observe(event.duration)
        elif isinstance(event, RunRetried):
            runs.labels(event.job_name, "retried").inc()
        elif isinstance(event, FireSkipped):
            skipped.labels(event.job_name, event.reason).inc()
        elif isinstance(event, FireMisfired):
            misfired.labels(event.job_name).inc()

    return scheduler.subscribe(
        on_event,
        types=(RunStarted, RunSucceeded, RunFailed, RunRetried, FireSkipped, FireMisfired),
        buffer=buffer,
    )
