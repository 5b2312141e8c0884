"""Every script in ``examples/`` runs to completion by itself and prints what it promises.

Each runs in a subprocess from the repository root, with ``ASYNCRON_EXAMPLE_SECONDS`` small so
that the ones that wait in real time finish in a second or two.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: example -> regular expressions that must each match somewhere in its stdout.
EXPECTED: dict[str, list[str]] = {
    "quickstart.py": [
        r"warm_up users \(async, once\) \(lateness \d+\.\d ms\)",
        r"warm_up finished: status=completed result='users warm'",
        r"poll_queue \(async, interval 0\.5 s\)",
        r"rotate_logs \(sync, cron every second, thread asyncron",
        r"flaky +failed +runs=1 error=RuntimeError: the upstream API is down",
        r"scheduler stopped",
    ],
    "fastapi_app.py": [
        r"POST /pings -> 200 \{'id': '[^']+'\}",
        r"ping: db\.internal is up",
        r"GET /jobs: ping db\.internal pending runs=[1-9]",
        r"GET /jobs: morning_report pending runs=0",
        r"DELETE /pings/\S+ -> 200 \{'cancelled': True\}",
        r"DELETE again -> 404",
        r"app stopped, scheduler stopped: True",
    ],
    "threaded.py": [
        r"welcome: completed, result 'sent to ada@example\.com'",
        r"run_now\(nightly\) returned 'sent to ops@example\.com'",
        r"'three times' ran 3 times and is completed",
        r"cancel\(visits\): True\ncancel\(visits\) again: False",
        r"visits +cancelled +runs=[1-9]",
        r"a one-shot job ran in run_pending\nrun_pending ran 1 job\(s\) in this thread",
    ],
    "seed_dispatcher.py": [
        r"run_pending ran [1-9]\d* callback\(s\); heartbeat ran [1-9]\d* time\(s\)",
        r"heartbeat: pending, last result 'alive in dispatcher_\d'",
        r"rotate_logs ran 0 time\(s\)",
        r"stopped",
    ],
    "cron_time_zones.py": [
        r"at 09:00 on Monday through Friday \(Europe/Berlin\)",
        r"2025-03-28T09:00:00\+01:00  = 08:00 UTC  Fri\n  2025-03-31T09:00:00\+02:00  = 07:00 UTC",
        r"2025-03-07T09:00:00-05:00  = 14:00 UTC  Fri\n  2025-03-10T09:00:00-04:00  = 13:00 UTC",
        r"2025-03-29T02:30:00\+01:00\n  2025-03-30T03:00:00\+02:00\n  2025-03-31T02:30:00\+02:00",
        r"error: hour field: value 25 at position 2 is out of range; allowed 0-23",
        r"a simulated week: \{.*'standup': 5.*\} in \d+ ms",
    ],
    "etl_pipeline.py": [
        r"transform: \{'Ada': 38, 'Grace': 12\}\n.*load: wrote 2 rows",
        r"load job: completed, result 'loaded'",
        r"restock: skipped because upstream job 'extract_inventory' \(\S+\) failed: "
        r"OSError: inventory source offline",
        r"restock: completed, result 'restocked'",
        r"pipeline job: 2 runs, last result \[\[10, 20, 5\], \[35\]\]",
    ],
    "sqlite_persistence.py": [
        r"first start: scheduling the jobs",
        r"stopping: compact has run [1-9]\d* times in total",
        r"restarted: 2 jobs loaded from jobs\.db\n  compact +runs=[1-9]\d* result='compacted events'"
        r"\n  reminder +runs=0 result=None",
    ],
    "postgres_cluster.py": [
        r"3 nodes, one job every 0\.5 s",
        r"(\d+) fires, run \1 times, by [1-3] nodes",
        r"each fire ran once",
    ],
}


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=[pytest.mark.postgres] if "postgres" in name else [])
        for name in EXPECTED
    ],
)
def test_example_runs_by_itself(name: str) -> None:
    env = {**os.environ, "ASYNCRON_EXAMPLE_SECONDS": "1.2", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    if name == "postgres_cluster.py" and result.stdout.startswith("skipped: "):
        if os.environ.get("ASYNCRON_REQUIRE_POSTGRES") == "1":
            pytest.fail(result.stdout + " (ASYNCRON_REQUIRE_POSTGRES=1)")
        pytest.skip(result.stdout.strip())
    for pattern in EXPECTED[name]:
        assert re.search(pattern, result.stdout), f"{pattern!r} not in:\n{result.stdout}"
    assert "Traceback" not in result.stdout
