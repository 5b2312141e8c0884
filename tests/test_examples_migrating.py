"""The five migration programs in ``examples/migrating/`` run by themselves and do what their
APScheduler or `schedule` originals did (each file holds the original in its docstring)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "migrating"

EXPECTED: dict[str, list[str]] = {
    "background_cron_interval.py": [
        r"crm failed: ConnectionError\('crm\.internal refused the connection'\) "
        r"\(traceback: \d+ chars\)",
        r"report: next run \w{3} 09:00 CES?T",
        r"poll ran ([3-9]|[1-9]\d+) times; scheduler stopped",
    ],
    "fastapi_lifespan.py": [
        r"GET /jobs -> \['tokens'\]",
        r"tokens refreshed [1-9]\d* times; app stopped, scheduler running: False",
    ],
    "sqlite_fixed_ids.py": [
        r"first start: jobs \['compact', 'remind'\], compact runs=[1-9]",
        r"after restart: jobs \['compact', 'remind'\], compact runs=[1-9]",
    ],
    "pause_modify_reschedule.py": [
        r"paused: status=paused, next_run kept: True",
        r"after resume: runs so far \['/srv'\]",
        r"get_jobs: \['offsite', 'backup'\]",
        r"a day later: 1 run\(s\) of /home",
        r"after remove: \['offsite'\]",
    ],
    "schedule_loop.py": [
        r"heartbeat ran ([3-9]|[1-9]\d+) times without a loop",
        r"daily_digest: next \w{3} 10:30",
        r"monday_digest: next Mon 09:00 CES?T",
    ],
}

#: the facade the port must use where the original was threaded
THREADED = {
    "background_cron_interval.py": "Scheduler(",
    "sqlite_fixed_ids.py": "PersistentScheduler(",
    "pause_modify_reschedule.py": "Scheduler(",
    "schedule_loop.py": "Scheduler(",
}


def test_every_migration_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_migration_example_keeps_its_original_and_uses_the_right_facade(name: str) -> None:
    source = (EXAMPLES / name).read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source)) or ""
    assert "The original (" in doc
    assert "apscheduler" in doc.lower() or "import schedule" in doc
    if name in THREADED:
        code = source.split('"""', 2)[2]
        assert THREADED[name] in code and "AsyncScheduler" not in code


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_migration_example_runs(name: str) -> None:
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
    for pattern in EXPECTED[name]:
        assert re.search(pattern, result.stdout), f"{pattern!r} not in:\n{result.stdout}"
    assert "Traceback" not in result.stdout
    assert "Exception ignored" not in result.stderr
