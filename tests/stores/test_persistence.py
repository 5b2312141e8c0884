"""Persistence through the engine (docs/persistence.md): restarts keep jobs, options and
outcomes; what cannot be stored is refused; broken, locked or newer files; downtime misfires."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
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
    PersistentScheduler,
    current_run,
)
from asyncron import errors as E
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
from helpers import T0, store_url


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
    return store_url(request.param, tmp_path)


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


# -- PersistentScheduler --------------------------------------------------------------------------


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
