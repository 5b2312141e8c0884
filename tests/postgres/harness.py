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
    #: the jobs and when the nodes stop (real time); None until :meth:`go` (nodes started
    #: before that come up and wait for them)
    jobs: list[dict[str, Any]] | None = None
    until: float = 0.0
    lease: float = 1.0
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    config: Path | None = None
    #: where the nodes' store lives, when not on ``dsn`` (the audit table always is on ``dsn``)
    store_dsn: str | None = None
    #: the jobs record when each run ended or was cancelled (see :meth:`spans`)
    track_end: bool = False
    #: the nodes' ``node_timeout`` (None: the journal's default)
    node_timeout: float | None = None

    def __post_init__(self) -> None:
        sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        sql(
            f'CREATE TABLE "{self.schema}".audit (job_id text, fire_us bigint, pid int, '
            f"node text, attempt int, recovering bool, at timestamptz DEFAULT clock_timestamp(), "
            f"ended timestamptz, cancelled timestamptz)"
        )
        self.config = self.tmp / f"cluster-{self.schema}.json"
        self.plan = self.tmp / f"plan-{self.schema}.json"
        self._waiting: list[subprocess.Popen[str]] = []  # up, not told to go yet
        if self.jobs is not None:
            self._write_plan()
        self.config.write_text(
            json.dumps(
                {
                    "dsn": self.store_dsn or self.dsn,
                    "audit_dsn": self.dsn,
                    "schema": self.schema,
                    "plan": str(self.plan),
                    "lease": self.lease,
                    "poll_interval": 0.3,
                    "track_end": self.track_end,
                    **({} if self.node_timeout is None else {"node_timeout": self.node_timeout}),
                }
            )
        )

    def _write_plan(self) -> None:
        self.plan.write_text(json.dumps({"jobs": self.jobs, "until": self.until}))

    def start(
        self,
        count: int = 1,
        *,
        offset: float = 0.0,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> list[subprocess.Popen[str]]:
        """Start ``count`` nodes. With the jobs known (:meth:`go` was called, or they were given
        to the constructor) the nodes get them at once and, with ``wait``, this returns when
        they have scheduled them (see :meth:`ready`); before that, when they are up."""
        started = []
        for _ in range(count):
            environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
            proc = subprocess.Popen(
                [sys.executable, str(WORKER), str(self.config), str(offset)],
                cwd=ROOT,
                env=environ,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            started.append(proc)
        self.procs.extend(started)
        if self.jobs is not None:
            for proc in started:
                self._go(proc)
        if wait:
            self.ready(started, "up")
            if self.jobs is not None:
                self.ready(started)
            else:
                self._waiting.extend(started)
        return started

    def go(self, jobs: list[dict[str, Any]], until: float) -> None:
        """Give the nodes started so far the jobs (planned now that they are up) and the end
        time; returns when each has scheduled them."""
        self.jobs, self.until = jobs, until
        self._write_plan()
        waiting, self._waiting = self._waiting, []
        for proc in waiting:
            self._go(proc)
        self.ready(waiting)

    def _go(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()

    def ready(self, procs: list[subprocess.Popen[str]], word: str = "ready") -> None:
        """Wait until each node prints ``word`` (``up``, then ``ready``)."""
        for proc in procs:
            line = proc.stdout.readline() if proc.stdout else ""
            if line.strip() == "up" and word == "ready":
                line = proc.stdout.readline() if proc.stdout else ""
            if line.strip() != word:
                proc.kill()
                _, err = proc.communicate(timeout=10)
                raise AssertionError(f"worker did not start: {line!r}\n{err}")

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


#: Seconds between an outcome statement's clock and its commit that a skip may fall into.
COMMIT_SLACK = 0.1


def unjustified_skips(schema: str, *, dsn: str | None = None) -> list[dict[str, Any]]:
    """Fires recorded ``skipped`` (overlap), each with whether a run of the same job was going
    on when it came due: a fire is skipped justly when an earlier fire of its job was claimed
    before the skip was recorded and had its outcome written after the skipped fire was due
    (``outcome_lag_s`` is None for a skip without such a run). Each skip also reports how late its blocker's
    outcome was written after that run's body ended (``audit.ended``, with ``track_end``).

    ``finished_at`` is the outcome statement's clock, not its commit: a skip decided in the
    few milliseconds between the two still saw the run going (seen on a quiet machine: an
    outcome at +0 ms, the skip due at +0.4 ms, claimed at +5 ms, the outcome not yet committed),
    so an outcome up to COMMIT_SLACK before the skipped fire's instant counts as going on."""
    rows = sql(
        "SELECT s.job_id, s.fire_us, "
        "(SELECT max(extract(epoch FROM p.finished_at - a.ended)) "
        f' FROM "{schema}".fires p JOIN "{schema}".audit a '
        "   ON a.job_id = p.job_id AND a.fire_us = p.fire_us "
        "  WHERE p.job_id = s.job_id AND p.fire_us < s.fire_us AND p.state <> 'skipped' "
        "    AND p.claimed_at < s.claimed_at "
        f"    AND p.finished_at > to_timestamp(s.fire_us / 1e6) - interval '{COMMIT_SLACK} s') "
        f"FROM \"{schema}\".fires s WHERE s.state = 'skipped'",
        dsn=dsn,
    )
    return [
        {"fire": (r[0], int(r[1])), "outcome_lag_s": None if r[2] is None else float(r[2])}
        for r in rows
    ]


def check_each_fire_once(
    cluster: Cluster, expected: set[tuple[str, int]], errs: list[str]
) -> tuple[int, int]:
    """Assert that each expected fire was claimed once by one node: run there once, or (jobs
    with the default overlap="skip", on a loaded machine where a run can still be going when
    its job's next fire comes due) recorded as skipped, each skip with a run of its job going
    on at the time whose outcome was written soon after it ended (``track_end`` needed).
    Returns (fires run, fires skipped)."""
    audit = cluster.audit()
    ran = {(a[0], a[1]) for a in audit}
    assert duplicates(audit) == {}
    assert len(audit) == len(ran)
    fires = cluster.fires()
    skipped = {k for k, (state, _) in fires.items() if state == "skipped"}
    assert not ran & skipped
    missing = sorted(expected - ran - skipped)
    assert ran | skipped == expected, (
        len(missing),
        len((ran | skipped) - expected),
        [(m, fires.get(m)) for m in missing[:8]],
        errs,
    )
    assert {fires[k][0] for k in ran} == {"succeeded"}
    skips = unjustified_skips(cluster.schema, dsn=cluster.store_dsn)
    assert [s for s in skips if s["outcome_lag_s"] is None] == []
    # an outcome is written soon after the run's end (not after a deadlock timeout or at the
    # lease): that is how long a finished run can still block its job's next fire
    lags = sorted(s["outcome_lag_s"] for s in skips)
    assert not lags or lags[-1] <= 2.0, lags[-10:]
    assert all("Traceback" not in e for e in errs), errs
    return len(ran), len(skipped)
