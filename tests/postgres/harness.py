"""Helpers for the multi-process tests: plan jobs, start nodes, check the audit trail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asyncron import CronTrigger, IntervalTrigger
from asyncron.stores.postgres import to_us

from .conftest import sql

WORKER = Path(__file__).with_name("worker.py")
ROOT = Path(__file__).resolve().parents[2]


def plan_jobs(
    start: float,
    end: float,
    *,
    intervals: int,
    seconds: float,
    crons: int = 0,
    cron: str = "* * * * * *",
    sleep: float = 0.0,
    on_crash: str = "abandon",
    prefix: str = "",
    overlap: str = "skip",
    stagger: bool = False,
) -> list[dict[str, Any]]:
    """Job specs for the worker processes.

    With ``stagger`` the interval jobs' phases are spread evenly over one interval, so that their
    fires are claimed in many small batches instead of one batch per instant.
    """
    jobs: list[dict[str, Any]] = []
    for i in range(intervals):
        jobs.append(
            {
                "id": f"{prefix}iv{i:03d}",
                "kind": "interval",
                "seconds": seconds,
                "start": start + (i * seconds / intervals if stagger else 0.0),
                "end": end,
                "sleep": sleep,
                "on_crash": on_crash,
                "overlap": overlap,
            }
        )
    for i in range(crons):
        jobs.append(
            {
                "id": f"{prefix}cr{i:03d}",
                "kind": "cron",
                "cron": cron,
                "start": start,
                "end": end,
                "sleep": sleep,
                "on_crash": on_crash,
                "overlap": overlap,
            }
        )
    return jobs


def expected_fires(jobs: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """Every (job id, fire us) the triggers produce between each job's start and end."""
    out: set[tuple[str, int]] = set()
    for spec in jobs:
        start = datetime.fromtimestamp(spec["start"], UTC)
        end = datetime.fromtimestamp(spec["end"], UTC)
        if spec["kind"] == "interval":
            trig: Any = IntervalTrigger(seconds=spec["seconds"], start=start, end=end)
        else:
            trig = CronTrigger.from_expression(spec["cron"], "UTC", start=start, end=end)
        t = trig.get_next_run(start - timedelta(microseconds=1))
        while t is not None:
            out.add((spec["id"], to_us(t.timestamp())))
            t = trig.get_next_run(t)
    return out


@dataclass
class Cluster:
    """Scheduler node processes sharing one schema."""

    dsn: str
    schema: str
    tmp: Path
    jobs: list[dict[str, Any]]
    until: float
    lease: float = 1.0
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    config: Path | None = None
    #: where the nodes' store lives, when not on ``dsn`` (the audit table always is on ``dsn``)
    store_dsn: str | None = None
    #: the jobs record when each run ended or was cancelled (see :meth:`spans`)
    track_end: bool = False

    def __post_init__(self) -> None:
        sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        sql(
            f'CREATE TABLE "{self.schema}".audit (job_id text, fire_us bigint, pid int, '
            f"node text, attempt int, recovering bool, at timestamptz DEFAULT clock_timestamp(), "
            f"ended timestamptz, cancelled timestamptz)"
        )
        self.config = self.tmp / f"cluster-{self.schema}.json"
        self.config.write_text(
            json.dumps(
                {
                    "dsn": self.store_dsn or self.dsn,
                    "audit_dsn": self.dsn,
                    "schema": self.schema,
                    "jobs": self.jobs,
                    "until": self.until,
                    "lease": self.lease,
                    "poll_interval": 0.3,
                    "track_end": self.track_end,
                }
            )
        )

    def start(
        self,
        count: int = 1,
        *,
        offset: float = 0.0,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> list[subprocess.Popen[str]]:
        started = []
        for _ in range(count):
            environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
            proc = subprocess.Popen(
                [sys.executable, str(WORKER), str(self.config), str(offset)],
                cwd=ROOT,
                env=environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            started.append(proc)
        if wait:
            for proc in started:
                line = proc.stdout.readline() if proc.stdout else ""
                if line.strip() != "ready":
                    proc.kill()
                    _, err = proc.communicate(timeout=10)
                    raise AssertionError(f"worker did not start: {line!r}\n{err}")
        self.procs.extend(started)
        return started

    def busiest(self, procs: list[subprocess.Popen[str]]) -> list[int]:
        """Indexes in ``procs``, the node holding the most running fires first."""
        rows = sql(
            f"SELECT owner, count(*) FROM \"{self.schema}\".fires WHERE state = 'running' "
            "GROUP BY owner ORDER BY count(*) DESC",
            dsn=self.store_dsn or self.dsn,
        )
        busy = [int(r[0].split(":")[-2]) for r in rows]
        return sorted(
            range(len(procs)),
            key=lambda i: busy.index(procs[i].pid) if procs[i].pid in busy else len(busy),
        )

    def kill(self, proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
        proc.send_signal(sig)
        if sig == signal.SIGKILL:
            proc.wait(timeout=10)

    def wait(self, extra: float = 3.0) -> list[str]:
        """Wait for every node to finish (they stop at ``until``); returns their stderr."""
        errs = []
        deadline = self.until + extra + 10
        for proc in self.procs:
            try:
                _, err = proc.communicate(timeout=max(1.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            errs.append(err or "")
        return errs

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    def audit(self) -> list[tuple[str, int, int, bool]]:
        rows = sql(f'SELECT job_id, fire_us, attempt, recovering FROM "{self.schema}".audit')
        return [(r[0], int(r[1]), int(r[2]), bool(r[3])) for r in rows]

    def spans(self) -> list[tuple[str, int, int, float, float | None]]:
        """Each run as (job id, fire us, attempt, start, end or cancellation); the end is None
        for a run that neither ended nor saw its cancellation (its process died)."""
        rows = sql(
            "SELECT job_id, fire_us, attempt, extract(epoch FROM at), "
            f'extract(epoch FROM coalesce(ended, cancelled)) FROM "{self.schema}".audit'
        )
        return [
            (r[0], int(r[1]), int(r[2]), float(r[3]), None if r[4] is None else float(r[4]))
            for r in rows
        ]

    def fires(self) -> dict[tuple[str, int], tuple[str, int]]:
        rows = sql(
            f'SELECT job_id, fire_us, state, attempt FROM "{self.schema}".fires',
            dsn=self.store_dsn or self.dsn,
        )
        return {(r[0], int(r[1])): (r[2], int(r[3])) for r in rows}


def duplicates(audit: list[tuple[str, int, int, bool]]) -> dict[tuple[str, int, int], int]:
    """(job, fire, attempt) recorded more than once."""
    counts = Counter((a[0], a[1], a[2]) for a in audit)
    return {k: n for k, n in counts.items() if n > 1}
