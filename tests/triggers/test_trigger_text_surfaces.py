"""What a person reads: the CLI's --calendar and the dashboard's trigger description."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from asyncron import AsyncScheduler, BusinessCalendar, CronTrigger, IntervalTrigger
from asyncron.dashboard import create_dashboard
from asyncron.integrations.starlette import asyncron_lifespan

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asyncron.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=False)  # fmt: skip


def test_cli_cron_with_a_calendar_lists_business_day_fires() -> None:
    done = cli("cron", "0 18 * * *", "--tz", "Europe/Berlin", "--calendar", "DE-HE", "-n", "5",
               "--from", "2026-03-30T12:00")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "at 18:00 every day, Germany (Hessen) holidays and weekends excluded (Europe/Berlin)",
        "2026-03-30T18:00:00+02:00  Mon",
        "2026-03-31T18:00:00+02:00  Tue",
        "2026-04-01T18:00:00+02:00  Wed",
        "2026-04-02T18:00:00+02:00  Thu",
        "2026-04-07T18:00:00+02:00  Tue",
    ]


def test_cli_shift_previous_and_errors_exit_2_without_traceback() -> None:
    done = cli("cron", "0 18 3 * *", "--tz", "Europe/Berlin", "--calendar", "de-he", "--shift",
               "previous", "-n", "2", "--from", "2026-03-30T12:00")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == ["2026-04-02T18:00:00+02:00  Thu",
                                            "2026-04-30T18:00:00+02:00  Thu"]  # fmt: skip
    for args, message in [
        (("--calendar", "XX"), "--calendar: country: 'XX' is not a country the holidays package"),
        (("--calendar", "DE-ZZ"), "subdiv: 'ZZ' is not a subdivision of DE; allowed BB, BE"),
        (("--calendar", "Hesse!"), "'Hesse!' is not COUNTRY, COUNTRY-SUBDIVISION or MARKET"),
        (("--shift", "next"), "--shift needs --calendar"),
    ]:
        bad = cli("cron", "0 9 * * *", *args)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


async def tick() -> None:
    return None


@asynccontextmanager
async def _serve(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.mark.asyncio
async def test_dashboard_shows_plain_english_for_intervals_and_calendars() -> None:
    scheduler = AsyncScheduler()
    beat = await scheduler.schedule(tick, name="beat", trigger=IntervalTrigger(seconds=0.4))
    close = await scheduler.schedule(
        tick, name="close", trigger=CronTrigger("0 18 * * 1-5", "Europe/Berlin").exclude(
            BusinessCalendar("DE", "HE")),
    )  # fmt: skip
    app = FastAPI(lifespan=asyncron_lifespan(scheduler))
    app.mount("/scheduler", create_dashboard(scheduler))
    async with _serve(app) as client:
        jobs = {j["id"]: j for j in (await client.get("/scheduler/api/jobs")).json()["jobs"]}
    assert jobs[beat]["trigger"]["description"] == "every 0.4 s"
    assert jobs[close]["trigger"]["description"] == (
        "at 18:00 on Monday through Friday, Germany (Hessen) holidays and weekends excluded"
    )
