"""Two nodes started as ``asyncron run app:scheduler --store postgresql://...``: each fire runs once.

The store is chosen on the command line, after the app built its scheduler without one
(``AsyncScheduler.use_store``); the nodes must claim every fire exactly as a scheduler built
with ``store=`` does. Each run writes one row (fire time, node) into a table of the test's
schema; the rows are counted per fire.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from .conftest import sql

pytestmark = pytest.mark.postgres

APP = """\
import os

import asyncpg

from asyncron import AsyncScheduler, current_run

DSN = os.environ["APP_DSN"]
TABLE = os.environ["APP_TABLE"]

scheduler = AsyncScheduler()  # no store: the command line chooses it


async def tick() -> None:
    run = current_run()
    assert run is not None
    conn = await asyncpg.connect(DSN)
    try:
        await conn.execute(
            f"INSERT INTO {TABLE} (fire, node) VALUES ($1, $2)", run.fire_id, os.getpid()
        )
    finally:
        await conn.close()


scheduler.schedule_nowait(tick, trigger="* * * * * *", job_id="tick")  # every second
"""


def _node(tmp_path: Path, url: str, table: str, dsn: str) -> subprocess.Popen[str]:
    env = dict(os.environ, APP_DSN=dsn, APP_TABLE=table)  # `-m` puts the cwd (app.py) on the path
    return subprocess.Popen(
        [sys.executable, "-m", "asyncron", "run", "app:scheduler", "--store", url, "--plain"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_cli_nodes_with_a_postgres_store_run_each_fire_once(
    tmp_path: Path, pg_dsn: str, schema: str
) -> None:
    (tmp_path / "app.py").write_text(APP)
    table = f'"{schema}".runs'
    sql(f'CREATE SCHEMA "{schema}"')
    sql(f"CREATE TABLE {table} (fire text NOT NULL, node int NOT NULL)")
    url = f"{pg_dsn}?schema={schema}"
    nodes = [_node(tmp_path, url, table, pg_dsn) for _ in range(2)]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # firing, and a few more fires with both nodes up
            rows = sql(f"SELECT count(DISTINCT fire) AS n FROM {table}")
            if rows[0]["n"] >= 5 or any(p.poll() is not None for p in nodes):
                break
            time.sleep(0.2)
        for proc in nodes:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=30)[0] for proc in nodes]
    finally:
        for proc in nodes:
            proc.kill()
    for proc, output in zip(nodes, outputs, strict=True):
        assert proc.returncode == 0, output
    per_fire = Counter(row["fire"] for row in sql(f"SELECT fire FROM {table}"))
    assert len(per_fire) >= 5, per_fire  # it really ran, fire after fire
    doubles = {fire: n for fire, n in per_fire.items() if n != 1}
    assert doubles == {}, f"fires run more than once: {doubles}"
