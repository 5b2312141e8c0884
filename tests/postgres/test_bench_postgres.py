"""``benchmarks/bench_postgres.py`` in its quick mode, on demand only.

A benchmark is not a timed unit test: these runs take 20 s (asyncron) to 2 minutes (the
APScheduler 4 peer, whose SIGKILL recovery waits for its 30 s lease), so they run only with
``ASYNCRON_BENCH=1``. The peer half needs the ``.bench-venv`` described in
benchmarks/README.md and is skipped, saying so, when it is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_postgres.py"
PEER_PYTHON = ROOT / ".bench-venv" / "bin" / "python"

pytestmark = pytest.mark.skipif(
    os.environ.get("ASYNCRON_BENCH") != "1",
    reason="benchmarks run on demand: set ASYNCRON_BENCH=1 (they take 20 s to 2 min)",
)


def _quick(systems: str, pg_dsn: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--systems", systems],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "ASYNCRON_TEST_POSTGRES": pg_dsn},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_quick_asyncron(pg_dsn: str) -> None:
    out = _quick("asyncron", pg_dsn)
    row = next(ln for ln in out.splitlines() if ln.startswith("| 200/s"))
    assert "| asyncron |" in row
    kill = next(ln for ln in out.splitlines() if ln.startswith("| asyncron | 1 |"))
    assert "> " not in kill  # every interrupted fire was re-run within the observation


@pytest.mark.skipif(
    not PEER_PYTHON.exists(),
    reason=f"no APScheduler 4 peer venv at {PEER_PYTHON} (see benchmarks/README.md)",
)
def test_quick_with_peer(pg_dsn: str) -> None:
    out = _quick("asyncron,aps4-tuned", pg_dsn)
    assert "| APScheduler 4 tuned |" in out
