"""CronTrigger as a value: construction, bounds, hashing (H), equality, description, CLI."""

from __future__ import annotations

import copy
import pickle
import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from asyncron.abc import Trigger
from asyncron.cli import main
from asyncron.errors import InvalidTriggerError
from asyncron.triggers.cron import CronTrigger
from helpers import T0_NOON as T0

SRC = Path(__file__).resolve().parents[2] / "src"


# -- construction and value behaviour --------------------------------------------------------


def test_cron_from_expression_builds_equal_trigger() -> None:
    a = CronTrigger.from_expression("0 9 * * 1-5", timezone="Europe/Berlin")
    b = CronTrigger("0 9 * * 1-5", ZoneInfo("Europe/Berlin"))
    assert isinstance(a, Trigger)
    assert a == b and hash(a) == hash(b)
    assert a.expression == "0 9 * * 1-5"
    assert a.timezone == ZoneInfo("Europe/Berlin")
    assert a != CronTrigger("0 9 * * 1-5", "UTC")
    assert a != CronTrigger("0 9 * * 1-5", "Europe/Berlin", end=datetime(2030, 1, 1))


def test_cron_default_zone_is_local_zone() -> None:
    from asyncron._tz import local_zone

    assert CronTrigger("* * * * *").timezone == local_zone()


def test_cron_trigger_is_immutable() -> None:
    trigger = CronTrigger("* * * * *", "UTC")
    with pytest.raises(AttributeError, match="CronTrigger is immutable; cannot set 'timezone'"):
        trigger.timezone = ZoneInfo("Europe/Berlin")  # type: ignore[misc]
    with pytest.raises(AttributeError, match="CronTrigger is immutable; cannot set 'expression'"):
        trigger.expression = "0 0 * * *"  # type: ignore[misc]
    assert trigger == CronTrigger("* * * * *", "UTC") and trigger.expression == "* * * * *"


def test_cron_trigger_repr_and_str() -> None:
    trigger = CronTrigger("0 9 * * 1-5", "Europe/Berlin")
    assert repr(trigger) == "CronTrigger('0 9 * * 1-5', timezone='Europe/Berlin')"
    assert str(trigger) == "at 09:00 on Monday through Friday"


def test_cron_trigger_pickles_and_copies() -> None:
    trigger = CronTrigger("H 3 * * *", "Europe/Berlin", end=datetime(2030, 1, 1), hash_key="job")
    for clone in (pickle.loads(pickle.dumps(trigger)), copy.deepcopy(trigger)):
        assert clone == trigger
        assert clone.get_next_run(datetime(2024, 1, 1)) == trigger.get_next_run(
            datetime(2024, 1, 1)
        )


def test_cron_result_is_aware_in_trigger_zone_and_strictly_after() -> None:
    trigger = CronTrigger("0 9 * * *", "Europe/Berlin")
    at_fire = datetime(2024, 6, 3, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    nxt = trigger.get_next_run(at_fire)
    assert nxt == at_fire + timedelta(days=1)
    assert nxt is not None and nxt.tzinfo is ZoneInfo("Europe/Berlin")
    assert trigger.get_next_run(at_fire - timedelta(microseconds=1)) == at_fire
    assert trigger.get_previous_run(at_fire) == at_fire - timedelta(days=1)
    assert trigger.get_previous_run(at_fire + timedelta(microseconds=1)) == at_fire


def test_cron_naive_from_time_is_read_in_trigger_zone() -> None:
    trigger = CronTrigger("0 9 * * *", "Asia/Tokyo")
    nxt = trigger.get_next_run(datetime(2024, 6, 3, 8, 59))
    assert nxt is not None and nxt.isoformat() == "2024-06-03T09:00:00+09:00"


def test_cron_default_from_time_is_now() -> None:
    trigger = CronTrigger("* * * * * *", "UTC")
    before = datetime.now(UTC)
    nxt = trigger.get_next_run()
    assert nxt is not None and before < nxt <= before + timedelta(seconds=1)
    prev = trigger.get_previous_run()
    assert prev is not None and prev <= datetime.now(UTC)


def test_cron_fixed_offset_zone_works() -> None:
    trigger = CronTrigger("30 8 * * *", timezone(timedelta(hours=5, minutes=30)))
    nxt = trigger.get_next_run(datetime(2024, 1, 1, tzinfo=UTC))
    assert nxt is not None and nxt.isoformat() == "2024-01-01T08:30:00+05:30"


def test_cron_bad_from_time_is_invalid_trigger_error() -> None:
    trigger = CronTrigger("* * * * *", "UTC")
    with pytest.raises(InvalidTriggerError, match="from_time: expected a datetime, got str"):
        trigger.get_next_run("2024-01-01")  # type: ignore[arg-type]


# -- start / end / exhaustion ------------------------------------------------------------------


def test_cron_start_and_end_bound_the_fires() -> None:
    trigger = CronTrigger(
        "0 12 * * *", "UTC",
        start=datetime(2024, 1, 10, 12, tzinfo=UTC), end=datetime(2024, 1, 12, 12),
    )  # fmt: skip
    assert trigger.get_next_run(datetime(2024, 1, 1, tzinfo=UTC)) == datetime(
        2024, 1, 10, 12, tzinfo=UTC
    )
    assert trigger.get_next_run(datetime(2024, 1, 11, 12, tzinfo=UTC)) == datetime(
        2024, 1, 12, 12, tzinfo=UTC
    )
    assert trigger.get_next_run(datetime(2024, 1, 12, 12, tzinfo=UTC)) is None
    assert trigger.get_previous_run(datetime(2024, 3, 1, tzinfo=UTC)) == datetime(
        2024, 1, 12, 12, tzinfo=UTC
    )
    assert trigger.get_previous_run(datetime(2024, 1, 10, 12, tzinfo=UTC)) is None


def test_cron_end_before_start_names_both() -> None:
    with pytest.raises(InvalidTriggerError, match=r"^end \(2024-01-01T00:00:00\+00:00\) is "
                       r"before start \(2024-02-01T00:00:00\+00:00\)"):  # fmt: skip
        CronTrigger("* * * * *", "UTC", start=datetime(2024, 2, 1), end=datetime(2024, 1, 1))


def test_cron_year_field_exhausts_and_far_future_is_none() -> None:
    assert (
        CronTrigger("0 0 0 1 1 * 2030", "UTC").get_next_run(datetime(2030, 6, 1, tzinfo=UTC))
        is None
    )
    assert CronTrigger("0 0 1 1 *", "UTC").get_next_run(datetime(9999, 6, 1, tzinfo=UTC)) is None
    assert CronTrigger("0 0 1 1 *", "UTC").get_previous_run(datetime(1, 1, 1, tzinfo=UTC)) is None


# -- hashed expressions ----------------------------------------------------------------------


def test_cron_hashed_fields_are_stable_and_spread_by_job_id() -> None:
    base = CronTrigger("H * * * *", "UTC")
    minutes = set()
    for i in range(60):
        job = base.for_job(f"job-{i}")
        assert isinstance(job, CronTrigger)
        assert job == base.for_job(f"job-{i}")  # stable: sha256, not hash()
        nxt = job.get_next_run(datetime(2024, 1, 1, tzinfo=UTC))
        assert nxt is not None
        minutes.add(nxt.minute)
    assert len(minutes) > 25
    assert CronTrigger("0 * * * *", "UTC").for_job("x") == CronTrigger("0 * * * *", "UTC")


def test_cron_hashed_forms_stay_in_their_ranges() -> None:
    for key in map(str, range(50)):
        spec = CronTrigger("H(0-29)/10 H(9-17) H * H", "UTC", hash_key=key)
        nxt = spec.get_next_run(datetime(2024, 1, 1, tzinfo=UTC))
        assert nxt is not None
        assert 9 <= nxt.hour <= 17 and nxt.minute % 10 == nxt.minute - (nxt.minute // 10) * 10
        assert nxt.minute <= 29 and nxt.day <= 28
        step = CronTrigger("H/15 * * * *", "UTC", hash_key=key)
        fires = [step.get_next_run(datetime(2024, 1, 1, tzinfo=UTC))]
        fires.append(step.get_next_run(fires[0]))
        assert fires[0] is not None and fires[1] is not None
        assert fires[1] - fires[0] == timedelta(minutes=15)


def test_cron_hash_seed_defaults_to_expression() -> None:
    a = CronTrigger("H H * * *", "UTC")
    assert a.get_next_run(datetime(2024, 1, 1, tzinfo=UTC)) == CronTrigger(
        "H H * * *", "UTC", hash_key="H H * * *"
    ).get_next_run(datetime(2024, 1, 1, tzinfo=UTC))


# -- description ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("0 9 * * 1-5", "at 09:00 on Monday through Friday"),
        ("* * * * *", "every minute"),
        ("*/5 * * * *", "every 5 minutes"),
        ("30 2 1,15 * *", "at 02:30 on day 1 and 15 of the month"),
        ("0 0 29 2 *", "at 00:00 on day 29 of the month in February"),
        ("0 12 * * 5L", "at 12:00 on the last Friday of the month"),
        ("15 14 1 * *", "at 14:15 on day 1 of the month"),
        ("@daily", "at 00:00 every day"),
        ("@hourly", "at minute 0 past every hour"),
        ("*/10 * * * * *", "every 10 seconds"),
        ("0 */2 * * *", "at minute 0 past every 2nd hour"),
        ("*/5 9-17 * * 1-5", "every 5 minutes during hours 09 through 17 on Monday through Friday"),
        ("0 0 13 * 5", "at 00:00 on day 13 of the month or on Friday"),
        ("0 0 */2 * 5", "at 00:00 on every 2nd day of the month if it is also Friday"),
        ("0 0 * * 1#2", "at 00:00 on the second Monday of the month"),
        ("0 0 LW * *", "at 00:00 on the last weekday of the month"),
        ("0 0 0 1 1 * 2030-2035", "at 00:00 on day 1 of the month in January in 2030 through 2035"),
    ],
)
def test_cron_describe_in_plain_english(expr: str, text: str) -> None:
    assert CronTrigger(expr, "UTC").describe() == text


# -- CLI -------------------------------------------------------------------------------------


def test_cli_cron_prints_description_and_next_fires(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cron", "0 9 * * 1-5", "--tz", "Europe/Berlin", "-n", "3",
                 "--from", "2025-03-28T12:00"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out == (
        "at 09:00 on Monday through Friday (Europe/Berlin)\n"
        "2025-03-31T09:00:00+02:00  Mon\n"
        "2025-04-01T09:00:00+02:00  Tue\n"
        "2025-04-02T09:00:00+02:00  Wed\n"
    )


def test_cli_cron_invalid_expression_shows_caret_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cron", "0 25 * * *", "--tz", "UTC"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "asyncron cron: error: hour field: value 25 at position 2 is out of range; allowed 0-23\n"
        "  0 25 * * *\n"
        "    ^^\n"
    )


def test_cli_cron_bad_zone_and_bad_from(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cron", "* * * * *", "--tz", "Nowhere/City"]) == 2
    assert "unknown time zone 'Nowhere/City'" in capsys.readouterr().err
    assert main(["cron", "* * * * *", "--from", "yesterday"]) == 2
    assert "--from 'yesterday' is not an ISO 8601 date-time" in capsys.readouterr().err


def test_cli_cron_stops_when_schedule_is_exhausted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cron", "0 0 0 1 1 * 2030", "--tz", "UTC", "--from", "2029-06-01"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "2030-01-01T00:00:00+00:00  Tue", "(no more fire times)",
    ]  # fmt: skip


def test_cli_usage_error_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: asyncron" in capsys.readouterr().err


def test_cli_runs_as_module_in_subprocess() -> None:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(
        [sys.executable, "-m", "asyncron.cli", "cron", "@hourly", "--tz", "UTC", "-n", "2",
         "--from", "2024-01-01T00:30:00+00:00"],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == [
        "at minute 0 past every hour (UTC)",
        "2024-01-01T01:00:00+00:00  Mon",
        "2024-01-01T02:00:00+00:00  Mon",
    ]
    bad = subprocess.run(
        [sys.executable, "-m", "asyncron.cli", "cron", "*/0 * * * *"],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert bad.stderr.splitlines() == [
        "asyncron cron: error: minute field: step 0 at position 2 is out of range; allowed 1-999999999",
        "  */0 * * * *",
        "    ^",
    ]


def test_cron_docs_examples_run_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """Every ``$ asyncron ...`` block in docs/cron.md prints exactly what the doc shows."""
    doc = (SRC.parent / "docs" / "cron.md").read_text(encoding="utf-8")
    blocks = [b for b in doc.split("```") if b.lstrip().startswith("$ asyncron")]
    assert blocks
    checked = 0
    for block in blocks:
        for chunk in block.strip().split("\n\n"):
            command, *expected = chunk.splitlines()
            code = main(shlex.split(command.removeprefix("$ asyncron ")))
            captured = capsys.readouterr()
            assert (captured.out + captured.err).splitlines() == expected
            assert code == (0 if not captured.err else 2)
            checked += 1
    assert checked == 2
    trigger = CronTrigger.from_expression("0 9 * * 1-5", timezone="Europe/Berlin")
    assert trigger.describe() == "at 09:00 on Monday through Friday"


# -- from an expression: zones, fields, names, DST ------------------------------------------------


def test_cron_from_expression_with_zone_name() -> None:
    t = CronTrigger.from_expression("0 9 * * 1-5", timezone="Europe/Berlin")
    nxt = t.get_next_run(T0)  # a Sunday
    assert nxt == datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert nxt is not None and nxt.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    "tz",
    [ZoneInfo("Europe/Berlin"), UTC, timezone(timedelta(hours=2)), "UTC", "utc", None],
    ids=repr,
)
def test_cron_timezone_accepts_names_and_tzinfo_objects(tz: Any) -> None:
    t = CronTrigger.from_expression("30 6 * * *", timezone=tz)
    nxt = t.get_next_run(T0)
    assert nxt is not None and nxt.tzinfo is not None
    assert (nxt.hour, nxt.minute) == (6, 30)


def test_cron_timezone_positional() -> None:
    t = CronTrigger.from_expression("0 0 * * *", "Asia/Tokyo")
    nxt = t.get_next_run(T0)
    assert nxt is not None and nxt.utcoffset() == timedelta(hours=9)


def test_cron_unknown_timezone_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        CronTrigger.from_expression("* * * * *", timezone="Mars/Olympus")


def test_cron_naive_from_time_is_read_in_the_trigger_zone() -> None:
    t = CronTrigger.from_expression("0 9 * * *", timezone="America/New_York")
    nxt = t.get_next_run(datetime(2026, 6, 1, 8, 0))
    assert nxt == datetime(2026, 6, 1, 9, 0, tzinfo=ZoneInfo("America/New_York"))


def test_cron_result_is_in_the_trigger_zone() -> None:
    t = CronTrigger.from_expression("0 9 * * *", timezone="Asia/Kolkata")
    nxt = t.get_next_run(T0)
    assert nxt is not None and nxt.utcoffset() == timedelta(hours=5, minutes=30)


def test_cron_strictly_after_an_exact_fire_time() -> None:
    t = CronTrigger.from_expression("*/5 * * * *", timezone="UTC")
    assert t.get_next_run(T0) == T0 + timedelta(minutes=5)
    assert t.get_next_run(T0 - timedelta(microseconds=1)) == T0


def test_cron_get_previous_run() -> None:
    t = CronTrigger.from_expression("*/5 * * * *", timezone="UTC")
    assert t.get_previous_run(T0) == T0 - timedelta(minutes=5)
    assert t.get_previous_run(T0 + timedelta(seconds=1)) == T0
    prev = t.get_previous_run()
    assert prev is not None and prev < datetime.now(UTC)


def test_cron_six_fields_seconds_first_and_seven_with_year() -> None:
    six = CronTrigger.from_expression("*/10 * * * * *", timezone="UTC")
    assert six.get_next_run(T0) == T0 + timedelta(seconds=10)
    seven = CronTrigger.from_expression("0 0 0 1 1 * 2030", timezone="UTC")
    assert seven.get_next_run(T0) == datetime(2030, 1, 1, tzinfo=UTC)
    assert seven.get_next_run(datetime(2030, 1, 1, tzinfo=UTC)) is None


def test_cron_names_and_aliases() -> None:
    t = CronTrigger.from_expression("0 12 * jan-mar MON-fri", timezone="UTC")
    nxt = t.get_next_run(T0)
    assert nxt == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert CronTrigger.from_expression("@daily", timezone="UTC").get_next_run(T0) == datetime(
        2026, 3, 2, tzinfo=UTC
    )


def test_cron_dom_dow_or_semantics() -> None:
    t = CronTrigger.from_expression("0 0 13 * 5", timezone="UTC")  # the 13th OR any Friday
    nxt = t.get_next_run(T0)  # Sunday 1 March 2026 -> Friday 6 March
    assert nxt == datetime(2026, 3, 6, tzinfo=UTC)


def test_cron_describe_and_str() -> None:
    t = CronTrigger.from_expression("0 9 * * 1-5", timezone="UTC")
    text = t.describe()
    assert "09:00" in text and "Monday" in text and "Friday" in text
    assert str(t) == text


def test_cron_equality_hash_and_repr() -> None:
    a = CronTrigger.from_expression("0 9 * * *", timezone="Europe/Berlin")
    b = CronTrigger.from_expression("0 9 * * *", timezone=ZoneInfo("Europe/Berlin"))
    c = CronTrigger.from_expression("0 9 * * *", timezone="UTC")
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert "0 9 * * *" in repr(a) and "Europe/Berlin" in repr(a)


def test_cron_expression_and_timezone_are_readable() -> None:
    t = CronTrigger.from_expression("0 9 * * *", timezone="Europe/Berlin")
    assert t.expression == "0 9 * * *"
    assert str(t.timezone) == "Europe/Berlin"


def test_cron_dst_gap_fixed_time_runs_after_the_gap() -> None:
    t = CronTrigger.from_expression("30 2 * * *", timezone="America/New_York")
    nxt = t.get_next_run(datetime(2026, 3, 8, 0, 0, tzinfo=ZoneInfo("America/New_York")))
    assert nxt is not None
    assert nxt.astimezone(UTC) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT


def test_cron_dst_overlap_fixed_time_runs_once() -> None:
    ny = ZoneInfo("America/New_York")
    t = CronTrigger.from_expression("30 1 * * *", timezone=ny)
    first = t.get_next_run(datetime(2026, 11, 1, 0, 0, tzinfo=ny))
    assert first is not None
    second = t.get_next_run(first)
    assert second is not None
    assert second.astimezone(UTC) - first.astimezone(UTC) > timedelta(hours=23)
