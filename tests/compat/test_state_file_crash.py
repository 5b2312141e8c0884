"""The compat PersistentScheduler's state file survives ``kill -9`` in the middle of saves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

WRITER = textwrap.dedent(
    """
    import sys
    from asyncron.compat import PersistentScheduler, every

    def task(n):
        return n

    s = PersistentScheduler(state_path=sys.argv[1])
    s.register_function("task", task)
    print("ready", flush=True)
    n = 0
    while True:  # every schedule() rewrites the whole file
        n += 1
        s.schedule(task, function_name="task", args=(n,), trigger=every(hours=1))
    """
)


def test_kill_9_mid_save_leaves_a_whole_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    kept = 0
    for round_ in range(3):
        child = subprocess.Popen(
            [sys.executable, str(script), str(state)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(0.3 + 0.1 * round_)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        saved = json.loads(state.read_text())  # never half a file
        assert all(j["function"] == "task" and len(j["args"]) == 1 for j in saved["jobs"])
        # the records of earlier rounds (loaded before "task" was registered) are all kept
        assert len(saved["jobs"]) > kept
        kept = len(saved["jobs"])
    # the next start cleans up a temporary file a kill left behind
    from asyncron.compat import PersistentScheduler

    restarted = PersistentScheduler(state_path=str(state))
    assert not list(tmp_path.glob(".state.json.*.tmp"))
    restarted.stop()
