"""Bad input at the API: a failed schedule() leaves no trace, raw builtin errors become asyncron
errors naming the argument, and an interval job that would pass year 9999 ends cleanly."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from asyncron import (
    AsyncScheduler,
    CronTrigger,
    IntervalTrigger,
    JobStatus,
    PersistentScheduler,
    Scheduler,
)
from asyncron.errors import AsyncronError, InvalidJobError, InvalidTriggerError
from asyncron.testing import VirtualClock


async def noop() -> None:
    return None


def sync_noop() -> None:
    return None


class _BrokenTrigger(IntervalTrigger):
    """A user's trigger whose first fire cannot be computed."""

    def get_first_run(self, now: datetime) -> datetime | None:
        raise OverflowError("date value out of range")


# -- item 6: a failed schedule() leaves no trace --------------------------------------------


@pytest.mark.parametrize("trigger", [timedelta.max, _BrokenTrigger(seconds=1)])
@pytest.mark.asyncio
async def test_failed_schedule_leaves_no_job_behind_on_the_async_scheduler(trigger: Any) -> None:
    async with AsyncScheduler() as scheduler:
        with pytest.raises(InvalidTriggerError) as caught:
            await scheduler.schedule(noop, trigger=trigger, job_id="p")
        assert caught.value.args[0].startswith(("interval:", "trigger:"))
        assert await scheduler.list_jobs() == []
        assert await scheduler.get_job("p") is None
        assert scheduler.statistics().jobs_by_status.get("pending", 0) == 0
        # the id is free: the same id with a good trigger is accepted
        assert await scheduler.schedule(noop, trigger=60, job_id="p") == "p"


@pytest.mark.asyncio
async def test_failed_schedule_with_replace_keeps_the_old_job() -> None:
    async with AsyncScheduler() as scheduler:
        await scheduler.schedule(noop, trigger=60, job_id="p")
        with pytest.raises(InvalidTriggerError):
            await scheduler.schedule(
                noop, trigger=_BrokenTrigger(seconds=1), job_id="p", replace=True
            )
        job = await scheduler.get_job("p")
        assert job is not None and job.trigger == IntervalTrigger(seconds=60)


@pytest.mark.asyncio
async def test_failed_reschedule_leaves_the_job_as_it_was() -> None:
    async with AsyncScheduler() as scheduler:
        await scheduler.schedule(noop, trigger=60, job_id="p")
        before = await scheduler.get_job("p")
        with pytest.raises(InvalidTriggerError):
            await scheduler.reschedule("p", _BrokenTrigger(seconds=1))
        after = await scheduler.get_job("p")
        assert before is not None and after is not None
        assert (after.trigger, after.next_run, after.status) == (
            before.trigger,
            before.next_run,
            before.status,
        )


def test_failed_schedule_leaves_no_trace_through_the_threaded_scheduler() -> None:
    scheduler = Scheduler()
    scheduler.start()
    try:
        with pytest.raises(InvalidTriggerError, match=r"interval: .* is too long"):
            scheduler.schedule(sync_noop, trigger=timedelta.max, job_id="p")
        assert scheduler.list_jobs() == []
        assert scheduler.schedule(sync_noop, trigger=60, job_id="p") == "p"
    finally:
        scheduler.stop()


def test_failed_schedule_leaves_no_trace_in_a_persistent_store(tmp_path: Path) -> None:
    """Black box: the failed call in one process, the store read back by another."""
    state = tmp_path / "jobs.json"
    script = textwrap.dedent(
        f"""
        from datetime import timedelta
        from asyncron import PersistentScheduler
        from asyncron.errors import InvalidTriggerError

        def work() -> None:
            pass

        s = PersistentScheduler({str(state)!r})
        s.register_function("work", work)
        s.start()
        try:
            s.schedule(work, function_name="work", trigger=timedelta.max, job_id="p")
        except InvalidTriggerError as exc:
            print("refused:", str(exc).split(";")[0])
        print("listed:", [j.id for j in s.list_jobs()])
        s.schedule(work, function_name="work", trigger=60, job_id="p")
        s.stop()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "refused: interval: interval=timedelta(seconds=8.64e+13) is too long" in done.stdout
    assert "listed: []" in done.stdout
    reopened = PersistentScheduler(str(state))
    reopened.register_function("work", sync_noop)
    reopened.start()
    try:
        assert [(j.id, j.trigger) for j in reopened.list_jobs()] == [
            ("p", IntervalTrigger(seconds=60))
        ]
    finally:
        reopened.stop()


# -- item 7: asyncron errors naming the argument ----------------------------------------------


@pytest.mark.asyncio
async def test_wait_job_and_stop_refuse_a_nan_or_negative_timeout() -> None:
    async with AsyncScheduler() as scheduler:
        job_id = await scheduler.schedule(noop, trigger=60)
        for bad in (math.nan, -1.0, math.inf, "5", True):
            with pytest.raises(InvalidJobError) as caught:
                await scheduler.wait_job(job_id, timeout=bad)  # type: ignore[arg-type]
            assert str(caught.value) == (
                f"timeout: expected a number of seconds >= 0 or None, got {bad!r}"
            )
        with pytest.raises(InvalidJobError, match=r"timeout: .* got nan"):
            await scheduler.stop(timeout=math.nan)
    with pytest.raises(InvalidJobError, match=r"stop_timeout: .* got nan"):
        AsyncScheduler(stop_timeout=math.nan)


@pytest.mark.asyncio
async def test_describe_and_backfill_refuse_counts_that_are_not_whole_numbers() -> None:
    async with AsyncScheduler() as scheduler:
        job_id = await scheduler.schedule(noop, trigger=60)
        with pytest.raises(
            InvalidJobError, match=r"describe: fires: expected a whole number >= 0, got nan"
        ):
            await scheduler.describe(job_id, fires=math.nan)  # type: ignore[arg-type]
        start = datetime(2020, 1, 1, tzinfo=UTC)
        with pytest.raises(
            InvalidJobError, match=r"backfill: limit: expected a whole number >= 1, got 0"
        ):
            await scheduler.backfill(job_id, start, start, limit=0)


@pytest.mark.asyncio
async def test_backfill_from_year_1_is_bounded_by_its_limit_not_an_overflow() -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    async with AsyncScheduler(clock=clock) as scheduler:
        job_id = await scheduler.schedule(noop, trigger=IntervalTrigger(days=365 * 100))
        count = await scheduler.backfill(job_id, datetime.min.replace(tzinfo=UTC), clock.now())
        assert 19 <= count <= 21  # about one fire a century since year 1


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1" + "0" * 10_000 + " * * * *", "minute field: value 10000000000000000000...00000000 "
         "(10001 characters) at position 0 is out of range; allowed 0-59"),
        ("1-" + "9" * 5000 + " * * * *", "minute field: value 99999999999999999999...99999999 "
         "(5000 characters) at position 2 is out of range; allowed 0-59"),
        ("*/" + "9" * 5000 + " * * * *", "minute field: step 99999999999999999999...99999999 "
         "(5000 characters) at position 2 is out of range; allowed 1-999999999"),
        ("0 0 L-" + "9" * 5000 + " * *", "day-of-month field: offset 99999999999999999999..."
         "99999999 (5000 characters) at position 6 is out of range; allowed L-1 to L-30"),
        ("0 0 " + "9" * 5000 + "W * *", "day-of-month field: value 99999999999999999999..."
         "99999999 (5000 characters) at position 4 is out of range; allowed 1-31"),
        ("0 0 * * 1#" + "9" * 5000, "day-of-week field: occurrence #99999999999999999999..."
         "99999999 (5000 characters) at position 10 is out of range; allowed #1-#5"),
        ("0 0 * * " + "x" * 5000, "day-of-week field: unknown name 'xxxxxxxxxxxxxxxxxxxx..."
         "xxxxxxxx (5000 characters)' at position 8; allowed"),
    ],
)  # fmt: skip
def test_huge_cron_tokens_are_a_short_cron_parse_error(expression: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        CronTrigger.from_expression(expression, "UTC")
    assert isinstance(caught.value, AsyncronError)
    assert str(caught.value).startswith(message)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    "zone", ["a" * 5000, "Europe/" + "b" * 300, "../../etc/passwd", "/etc/localtime", "zone.tab",
             "Europe/Berlin\x00", "\udcff", "Europe/"],
)  # fmt: skip
def test_every_zone_entry_point_refuses_a_bad_zone_with_one_clear_error(zone: str) -> None:
    from asyncron import BusinessDayTrigger, CalendarIntervalTrigger
    from asyncron.triggers import BusinessCalendar

    entry_points = [
        lambda: CronTrigger.from_expression("0 9 * * *", zone),
        lambda: CronTrigger("0 9 * * *", zone),
        lambda: IntervalTrigger(seconds=5, timezone=zone),
        lambda: CalendarIntervalTrigger(days=1, timezone=zone),
        lambda: BusinessCalendar(timezone=zone),
        lambda: BusinessDayTrigger(BusinessCalendar(), timezone=zone),
        lambda: AsyncScheduler(timezone=zone),
    ]
    for build in entry_points:
        with pytest.raises(InvalidTriggerError) as caught:
            build()
        text = str(caught.value)
        assert "unknown time zone" in text and "use an IANA name such as 'Europe/Berlin'" in text
        assert len(text) < 300


def test_a_zone_name_that_makes_the_file_system_raise_is_still_an_unknown_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With the tzdata package installed (Windows, slim images), zoneinfo opens the name as a
    # resource and a 5,000-character name raises OSError (file name too long).
    import zoneinfo

    from asyncron import _tz

    def too_long(key: str) -> zoneinfo.ZoneInfo:
        raise OSError(36, "File name too long")

    monkeypatch.setattr(_tz, "ZoneInfo", too_long)
    with pytest.raises(InvalidTriggerError, match="timezone: unknown time zone 'Mars/Olympus'"):
        CronTrigger.from_expression("0 9 * * *", "Mars/Olympus")


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"k": "not base64!!"}, "keys['k']: not valid base64 text (12 characters)"),
        ("abc", "keys: expected a mapping of key id -> 32-byte key"),
        ({"k": 42}, "keys['k']: expected bytes or base64 text, got int"),
        ({"k": "AAAA"}, "keys['k']: expected a 32-byte AES-256 key (Keyring.generate_key()), got 3 bytes"),
    ],
)  # fmt: skip
def test_keyring_refuses_bad_keys_with_an_invalid_job_error(keys: Any, message: str) -> None:
    from asyncron._crypto import Keyring

    with pytest.raises(InvalidJobError) as caught:
        Keyring(keys)
    assert str(caught.value).startswith(message)
    assert "not base64!!" not in str(caught.value)  # key material is never echoed


def test_keyring_accepts_generated_keys_in_both_base64_alphabets_and_raw_bytes() -> None:
    import base64

    from asyncron._crypto import Keyring

    raw = bytes(range(250, 256)) * 5 + b"\xfb\xff"
    ring = Keyring(
        {
            "url": base64.urlsafe_b64encode(raw).decode(),
            "std": base64.b64encode(raw).decode(),
            "raw": raw,
            "gen": Keyring.generate_key(),
        }
    )
    assert ring.key_ids == ("url", "std", "raw", "gen")


# -- the CLI's --tz and -n ------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asyncron", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_cron_refuses_a_5000_character_zone_in_one_short_line() -> None:
    done = _cli("cron", "0 9 * * *", "--tz", "a" * 5000)
    assert done.returncode == 2
    assert done.stdout == ""
    line = done.stderr.strip()
    assert "\n" not in line and len(line) < 300
    assert line.startswith("asyncron cron: error: --tz: unknown time zone 'aaaa")


def test_cli_cron_caps_the_count_and_says_so() -> None:
    done = _cli("cron", "0 9 * * *", "--tz", "UTC", "-n", "100000000")
    assert done.returncode == 2
    assert done.stderr == (
        "asyncron cron: error: -n must be 0 to 10,000 (fire times printed), got 100000000\n"
    )
    ok = _cli("cron", "* * * * *", "--tz", "UTC", "-n", "10000", "--from", "2026-01-01T00:00")
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.splitlines()) == 10_001  # the description line, then 10,000 fires


# -- item 8: an interval job that would pass year 9999 ends cleanly -------------------------


@pytest.mark.asyncio
async def test_interval_job_past_year_9999_completes_like_a_cron_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock(datetime(9999, 12, 31, 20, tzinfo=UTC))
    runs: list[str] = []

    async def record(label: str) -> None:
        runs.append(label)

    caplog.set_level(logging.WARNING, logger="asyncron")
    async with AsyncScheduler(clock=clock) as scheduler:
        await scheduler.schedule(
            record, args=("iv",), trigger=IntervalTrigger(hours=1), job_id="iv"
        )
        await scheduler.schedule(
            record, args=("cron",), trigger=CronTrigger.from_expression("0 * * * *", "UTC"),
            job_id="cron",
        )  # fmt: skip
        await clock.advance(timedelta(hours=3, minutes=59, seconds=59))
        for job_id in ("iv", "cron"):
            job = await scheduler.wait_job(job_id, timeout=5)
            assert job.status is JobStatus.COMPLETED, job_id
            assert job.next_run is None
            assert job.run_count == 3  # 21:00, 22:00, 23:00 on 9999-12-31
    assert runs.count("iv") == 3 and runs.count("cron") == 3
    assert not [r for r in caplog.records if "could not fire" in r.getMessage()]


@pytest.mark.asyncio
async def test_interval_job_with_a_start_grid_past_year_9999_completes() -> None:
    clock = VirtualClock(datetime(9999, 12, 31, 22, 30, tzinfo=UTC))
    async with AsyncScheduler(clock=clock) as scheduler:
        job_id = await scheduler.schedule(
            noop, trigger=IntervalTrigger(minutes=40, start=datetime(9999, 1, 1, tzinfo=UTC))
        )
        await clock.advance(timedelta(hours=1, minutes=29))
        job = await scheduler.wait_job(job_id, timeout=5)
        assert job.status is JobStatus.COMPLETED and job.next_run is None
        assert job.run_count == 2  # 22:40 and 23:20; 24:00 would be year 10000


class _FailsAfterFirst(IntervalTrigger):
    """A user's trigger with a bug: it cannot compute any fire after its first."""

    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        raise OverflowError("date value out of range")


@pytest.mark.asyncio
async def test_a_trigger_that_fails_after_a_fire_ends_the_job_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    caplog.set_level(logging.ERROR, logger="asyncron")
    async with AsyncScheduler(clock=clock) as scheduler:
        start = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
        job_id = await scheduler.schedule(noop, trigger=_FailsAfterFirst(hours=1, start=start))
        await clock.advance(timedelta(hours=5))
        job = await scheduler.wait_job(job_id, timeout=5)
        assert job.status is JobStatus.COMPLETED and job.next_run is None and job.run_count == 1
    failures = [r.getMessage() for r in caplog.records if "its trigger" in r.getMessage()]
    assert len(failures) == 1
    assert (
        "failed (OverflowError: date value out of range); the job has no further fire"
        in (failures[0])
    )
