"""Every script in ``examples/triggers/`` runs by itself and prints what docs/triggers.md shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "triggers"

EXPECTED: dict[str, list[str]] = {
    "or_trigger.py": [
        "at 09:00 on Monday through Friday; or at 12:00 on Saturday",
        "  2026-03-27T09:00:00+01:00 Fri",
        "  2026-03-28T12:00:00+01:00 Sat",
        "  2026-03-30T09:00:00+02:00 Mon",
    ],
    "and_trigger.py": [
        "  2026-02-13 Fri", "  2026-03-13 Fri", "  2026-11-13 Fri",
        "Monday and Tuesday at once: None",
    ],
    "exclude_trigger.py": [
        "  2026-05-04T14:00:00+01:00", "  2026-05-04T14:30:00+01:00",
    ],
    "calendar_interval.py": [
        "at 10:00 every 2 months from 2026-07-31 (a month without day 31 is skipped)",
        "  2027-01-31T10:00:00+01:00",
        "  2026-09-30T10:00:00+02:00",
        "  2026-03-29T03:00:00+02:00",
        "  2026-03-30T02:30:00+02:00",
    ],
    "business_calendar.py": [
        "Good Friday 2026 is a business day: False",
        "  2026-04-07T09:00:00+02:00 Tue",
        "  2026-04-02T18:00:00+02:00 Thu",
        "  2026-04-30T18:00:00+02:00 Thu",
    ],
    "business_day.py": [
        "at 18:00 on the last business day of every month, Germany (Hessen) holidays and "
        "weekends excluded",
        "  2026-04-30T18:00:00+02:00 Thu",
        "  2026-04-07T09:00:00+02:00 Tue",
    ],
}  # fmt: skip


def test_every_trigger_example_is_checked() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_trigger_example_runs_and_prints_its_fires(name: str) -> None:
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for line in EXPECTED[name]:
        assert line in lines, (line, done.stdout)
    if name == "and_trigger.py":
        assert "no instant where all members fire" in done.stderr
