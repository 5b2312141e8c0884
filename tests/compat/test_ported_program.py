"""A program written for the original threaded scheduler runs on asyncron with only its import
lines changed (issue 13's "done means")."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORIGINAL = "codomyrmex.orchestrator.scheduler"


def test_original_program_runs_with_only_the_import_changed(tmp_path: Path) -> None:
    source = (HERE / "original_program.py").read_text(encoding="utf-8")
    assert source.count(f"from {ORIGINAL}") == 2
    ported = source.replace(f"from {ORIGINAL}", "from asyncron.compat")
    # nothing but the two import lines differs
    changed = [
        (a, b) for a, b in zip(source.splitlines(), ported.splitlines(), strict=True) if a != b
    ]
    assert len(changed) == 2
    program = tmp_path / "program.py"
    program.write_text(ported, encoding="utf-8")
    state = tmp_path / "scheduler_state.json"
    shutil.copy(HERE / "original_state.json", state)

    result = subprocess.run(
        [sys.executable, str(program), str(state)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("ALL OK"), result.stdout
    assert "FAILED:" not in result.stdout

    # The records the program could not load (function not registered) are still in the file.
    saved = json.loads(state.read_text(encoding="utf-8"))
    names = {job["name"] for job in saved["jobs"]}
    assert {"purge_cache", "adhoc", "weekly"} <= names
    assert "nightly_report" not in names  # it ran once and completed
