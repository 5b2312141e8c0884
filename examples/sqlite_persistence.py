"""Jobs that survive a restart: an AsyncScheduler with a SQLite store.

Run it:  python examples/sqlite_persistence.py
It runs the scheduler in a child process, stops it, then starts a *new* process on the same
database file: the jobs are back with their run counts, results and next fire times, and go on.
Each process runs for ASYNCRON_EXAMPLE_SECONDS seconds (default 3).

Or run one process yourself, twice:  python examples/sqlite_persistence.py /tmp/jobs.db
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asyncron import AsyncScheduler, storable

SECONDS = float(os.environ.get("ASYNCRON_EXAMPLE_SECONDS", "3"))


# Stored jobs name their function, never pickle it: a module-level function is stored as
# "module:qualname". At the next start a stored job runs only a function this process vouches
# for: @storable does that here, so the jobs come back before (and without) being scheduled
# again; anything else a store file names is reported and never run. Arguments are JSON.
@storable
def compact_table(table: str) -> str:
    return f"compacted {table}"


@storable
async def send_reminder(to: str) -> None:
    print(f"reminder sent to {to}")


async def one_process(path: Path) -> None:
    # "sqlite:///abs/path.db"; a bare path ending in .db works too. The file is locked while the
    # scheduler runs: a second process on the same file gets a clear StoreLockedError.
    async with AsyncScheduler(store=f"sqlite:///{path}") as scheduler:
        jobs = await scheduler.list_jobs()
        if jobs:
            print(f"[pid {os.getpid()}] restarted: {len(jobs)} jobs loaded from {path.name}")
            for job in jobs:
                print(f"  {job.id:10} runs={job.run_count} result={job.result!r}")
        else:
            print(f"[pid {os.getpid()}] first start: scheduling the jobs")
            # Stable ids make "schedule unless it is already stored" easy.
            await scheduler.schedule(compact_table, trigger=0.5, args=("events",), job_id="compact")
            later = datetime.now(UTC) + timedelta(hours=1)
            await scheduler.schedule(
                send_reminder, trigger=later, kwargs={"to": "ada@example.com"}, job_id="reminder"
            )
        await asyncio.sleep(SECONDS)
        compact = await scheduler.get_job("compact")
        assert compact is not None
        print(f"[pid {os.getpid()}] stopping: compact has run {compact.run_count} times in total")
    # Leaving the block stops the scheduler gracefully and writes the last changes.


def main() -> None:
    if len(sys.argv) > 1:  # one process on the given file
        asyncio.run(one_process(Path(sys.argv[1]).resolve()))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jobs.db"
        for _ in range(2):  # two separate processes: a real restart
            subprocess.run([sys.executable, __file__, str(path)], check=True)


if __name__ == "__main__":
    main()
