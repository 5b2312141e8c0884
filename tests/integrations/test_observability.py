from __future__ import annotations

import asyncio

import pytest

from asyncron import AsyncScheduler, IntervalTrigger
from asyncron.testing import VirtualClock

pytestmark = pytest.mark.asyncio


async def test_prometheus_metrics_count_runs_by_outcome_and_observe_lateness() -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    from asyncron.integrations.prometheus import instrument

    registry = prometheus_client.CollectorRegistry()
    clock = VirtualClock()

    async def boom() -> None:
        raise ValueError("x")

    async with AsyncScheduler(clock=clock) as s:
        sub = instrument(s, registry=registry)
        await s.schedule(lambda: 1, name="ok", trigger=IntervalTrigger(seconds=1), max_runs=3)
        await s.schedule(boom, name="bad")
        await clock.advance(5)
        await sub.aclose()
        running = registry.get_sample_value("asyncron_running_jobs")

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("asyncron_runs_total", job="ok", outcome="succeeded") == 3
    assert value("asyncron_runs_total", job="bad", outcome="failed") == 1
    assert value("asyncron_fire_lateness_seconds_count", job="ok") == 3
    assert value("asyncron_run_duration_seconds_count", job="bad") == 1
    assert running == 0


async def test_otel_emits_one_span_per_run_with_outcome_and_error_status() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    from asyncron.integrations.otel import instrument

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async def boom() -> None:
        raise ValueError("bad input")

    async with AsyncScheduler() as s:
        sub = instrument(s, tracer_provider=provider)
        await s.wait_job(await s.schedule(lambda: 1, name="ok"), timeout=5)
        await s.wait_job(await s.schedule(boom, name="bad"), timeout=5)
        await asyncio.sleep(0.01)
        await sub.aclose()
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"asyncron.run ok", "asyncron.run bad"}
    ok, bad = spans["asyncron.run ok"], spans["asyncron.run bad"]
    assert ok.attributes is not None and ok.attributes["asyncron.run.outcome"] == "succeeded"
    assert bad.status.status_code is StatusCode.ERROR
    assert bad.status.description == "ValueError: bad input"
    assert ok.end_time is not None and ok.start_time is not None and ok.end_time >= ok.start_time
