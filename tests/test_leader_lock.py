"""leader_lock: several processes of one app on one host, one of them fires; a standby takes
over when the leader stops or dies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from asyncron import AsyncScheduler, IntervalTrigger
from asyncron.errors import InvalidJobError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock")


async def _until(predicate: Callable[[], bool], timeout: float) -> None:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {timeout} s")


@pytest.mark.asyncio
async def test_one_scheduler_fires_the_other_stands_by_and_takes_over(tmp_path: Path) -> None:
    lock = tmp_path / "app.lock"
    fired: dict[str, int] = {"a": 0, "b": 0}

    def tick(who: str) -> None:
        fired[who] += 1

    a = AsyncScheduler(leader_lock=lock, leader_retry=0.05)
    b = AsyncScheduler(leader_lock=lock, leader_retry=0.05)
    for scheduler, who in ((a, "a"), (b, "b")):
        await scheduler.schedule(tick, args=(who,), trigger=IntervalTrigger(seconds=0.02))
    await a.start()
    await b.start()
    try:
        assert a.is_leader and not b.is_leader
        await asyncio.sleep(0.2)
        assert fired["a"] >= 3 and fired["b"] == 0  # the standby fires nothing
        await a.stop()
        await _until(lambda: b.is_leader, 2.0)
        before = fired["a"]
        await asyncio.sleep(0.2)
        assert fired["b"] >= 3 and fired["a"] == before
    finally:
        await a.stop()
        await b.stop()
    assert not b.is_leader


@pytest.mark.asyncio
async def test_a_file_store_is_opened_by_the_leader_only(tmp_path: Path) -> None:
    """With a JSON store, a second process would be refused the file; with leader_lock it
    stands by instead, and reads the leader's jobs when it takes over."""
    state = tmp_path / "jobs.json"
    lock = tmp_path / "app.lock"
    a = AsyncScheduler(store=f"json:///{state}", leader_lock=lock, leader_retry=0.05)
    b = AsyncScheduler(store=f"json:///{state}", leader_lock=lock, leader_retry=0.05)
    await a.start()
    await b.start()  # no StoreLockedError: it does not open the store while standing by
    try:
        job_id = await a.schedule(
            _stored_tick, trigger=IntervalTrigger(hours=1), job_id="hourly", name="hourly"
        )
        await a.stop()
        await _until(lambda: b.is_leader, 2.0)
        job = await b.get_job(job_id)
        assert job is not None and job.name == "hourly"
    finally:
        await a.stop()
        await b.stop()


def _stored_tick() -> None:
    """A module-level job body (storable by reference)."""


def test_bad_leader_arguments_are_refused() -> None:
    with pytest.raises(InvalidJobError, match="leader_lock"):
        AsyncScheduler(leader_lock=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidJobError, match="leader_retry"):
        AsyncScheduler(leader_lock="x.lock", leader_retry=0)


NODE = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from asyncron import AsyncScheduler, IntervalTrigger

    def tick() -> None:
        with open(sys.argv[2], "a") as f:
            f.write(f"{os.getpid()} {time.time()}\\n")

    async def main() -> None:
        scheduler = AsyncScheduler(leader_lock=sys.argv[1], leader_retry=0.1)
        await scheduler.schedule(tick, trigger=IntervalTrigger(seconds=0.05))
        async with scheduler:
            print("leader" if scheduler.is_leader else "standby", flush=True)
            await asyncio.sleep(30)

    asyncio.run(main())
    """
)


def test_a_standby_process_takes_over_when_the_leader_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "node.py"
    script.write_text(NODE)
    lock, audit = tmp_path / "app.lock", tmp_path / "audit.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.Popen(
        [sys.executable, str(script), str(lock), str(audit)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    second = None
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "leader"
        second = subprocess.Popen(
            [sys.executable, str(script), str(lock), str(audit)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert second.stdout is not None and second.stdout.readline().strip() == "standby"
        time.sleep(0.5)
        killed_at = time.time()  # before the kill: the standby may take over within 1 ms
        first.send_signal(signal.SIGKILL)  # no clean-up: the OS drops its lock
        first.wait(timeout=10)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            lines = audit.read_text().split()
            if str(second.pid) in lines[::2]:
                break
            time.sleep(0.05)
        rows = [line.split() for line in audit.read_text().splitlines()]
    finally:
        for proc in (first, second):
            if proc is not None:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
                if proc.stdout is not None:
                    proc.stdout.close()
    pids = [int(r[0]) for r in rows]
    assert pids.count(first.pid) >= 3  # the leader fired
    assert second is not None and pids.count(second.pid) >= 1  # the standby took over
    # never both at once: the standby's fires all come after the leader's last one
    last_first = max(float(r[1]) for r in rows if int(r[0]) == first.pid)
    first_second = min(float(r[1]) for r in rows if int(r[0]) == second.pid)
    assert last_first < first_second
    assert 0 < first_second - killed_at < 2.0  # within the retry interval, with slack


def _warning_in_a_worker(leader_lock: str | None, queue: Any) -> None:
    import logging

    from asyncron.integrations import warn_if_one_of_several_workers

    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logging.getLogger("asyncron").addHandler(Keep())
    warn_if_one_of_several_workers(AsyncScheduler(leader_lock=leader_lock))
    queue.put(records)


@pytest.mark.parametrize(("leader_lock", "warned"), [(None, True), ("app.lock", False)])
def test_a_worker_process_without_a_shared_store_or_leader_lock_is_warned(
    leader_lock: str | None, warned: bool
) -> None:
    """uvicorn --workers N starts its workers with multiprocessing: the web integrations warn
    there when every worker would run every job."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_warning_in_a_worker, args=(leader_lock, queue))
    proc.start()
    records = queue.get(timeout=30)
    proc.join(timeout=30)
    queue.close()
    queue.join_thread()
    assert any("each of their schedulers runs every job" in r for r in records) is warned
    # in the main process (not a worker) nothing is said
    from asyncron.integrations import warn_if_one_of_several_workers

    warn_if_one_of_several_workers(AsyncScheduler())


def test_the_threaded_facade_takes_a_leader_lock_too(tmp_path: Path) -> None:
    from asyncron import Scheduler

    lock = tmp_path / "app.lock"
    fired: list[str] = []
    first, second = Scheduler(leader_lock=lock), Scheduler(leader_lock=lock)
    for facade, who in ((first, "first"), (second, "second")):
        facade.schedule(fired.append, args=(who,), trigger=IntervalTrigger(seconds=0.02))
    first.start()
    second.start()
    try:
        time.sleep(0.2)
        assert first.engine.is_leader and not second.engine.is_leader
        assert "first" in fired and "second" not in fired
    finally:
        first.stop()
        second.stop()
