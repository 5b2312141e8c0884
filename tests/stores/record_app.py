"""A small application over a real store file, for the black-box tests of stored records.

usage: ``python record_app.py STORE MODE OUT [OPTIONS_JSON]``

* ``MODE=setup``: schedule the app's jobs (``good``, ``victim``, ``p``) to run once, 0.2 s
  later, and stop at once (so they are stored, due, and run at the next start).
* ``MODE=restart``: start on the store without scheduling anything (the jobs come back from the
  store), let fires that are due run, print one JSON line: every job as ``list_jobs()`` shows it
  and the ``JobUnloadable`` events, then stop.
* ``MODE=reschedule``: like ``restart``, but first schedule ``victim`` again by object with
  ``replace=True`` (what an app that re-creates its jobs at start does).
* ``MODE=another``: like ``restart``, but schedule a new job of the victim's function by object.

Each job appends its name to the file ``OUT``; ``wipe`` (never scheduled, never vouched) writes
``WIPED`` there, so a test sees at once whether a tampered record ran it. Options (JSON):
``victims`` (the ids of the jobs like ``good`` to
tamper with; default ``["victim"]``), ``keyring`` (key id -> key), ``test_mode``, ``accept_unsealed``, ``allowed_modules``,
``vouch`` (true: vouch for ``record_jobs.plain`` at start).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import record_jobs

from asyncron import AsyncScheduler, OnceTrigger
from asyncron.events import Event, JobUnloadable
from asyncron.stores import Keyring, vouch


def main() -> None:
    url, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
    opts: dict[str, Any] = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    store_options: dict[str, Any] = {}
    if "keyring" in opts:
        store_options["keyring"] = Keyring(opts["keyring"])
    for name in ("test_mode", "accept_unsealed", "allowed_modules"):
        if name in opts:
            store_options[name] = opts[name]
    if opts.get("vouch"):
        vouch(record_jobs.plain)

    async def run() -> None:
        events: list[Event] = []
        scheduler = AsyncScheduler(store=url, store_options=store_options)
        scheduler.subscribe(events.append, JobUnloadable)
        now = OnceTrigger(datetime.now(UTC) + timedelta(seconds=0.05))
        async with scheduler:
            if mode == "setup":
                soon = OnceTrigger(datetime.now(UTC) + timedelta(seconds=0.2))
                victims = [(v, record_jobs.good) for v in opts.get("victims", ["victim"])]
                for job_id, func in [
                    ("good", record_jobs.good),
                    *victims,
                    ("p", record_jobs.plain),
                ]:
                    await scheduler.schedule(func, trigger=soon, args=(out,), job_id=job_id)
                return
            if mode == "reschedule":
                await scheduler.schedule(
                    record_jobs.plain, trigger=now, args=(out,), job_id="p", replace=True
                )
            if mode == "another":
                await scheduler.schedule(record_jobs.plain, trigger=now, args=(out,), job_id="q")
            await asyncio.sleep(0.5)  # due fires (made due by the test) run now
            await asyncio.sleep(0)
            jobs = await scheduler.list_jobs()
        report = {
            "jobs": {j.id: {"status": j.status.value, "error": j.error} for j in jobs},
            "events": [
                {"job_id": e.job_id, "kind": e.kind, "reason": e.reason}
                for e in events
                if isinstance(e, JobUnloadable)
            ],
        }
        print(json.dumps(report))

    asyncio.run(run())


if __name__ == "__main__":
    main()
