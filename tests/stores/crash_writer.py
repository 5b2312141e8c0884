"""Crash harness (run as a script by test_crash_kill.py): fork a writer, SIGKILL it at a random
moment, check the store, repeat. Prints one JSON line with the outcome.

The harness imports asyncron once and forks each writer, so a kill costs milliseconds instead
of an interpreter start; that is what makes hundreds of kills fit in a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import persist_jobs

from asyncron import AsyncScheduler, IntervalTrigger
from asyncron.abc import StoredJob


def writer(url: str, acks: str, seed: int) -> None:
    logging.disable(logging.CRITICAL)
    rng = random.Random(seed)

    async def main() -> None:
        fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        async with AsyncScheduler(store=url) as s:
            journal = s._journal
            assert journal is not None
            live: list[str] = [j.id for j in await s.list_jobs() if not j.status.is_final]
            n = 0
            while True:
                n += 1
                if live and rng.random() < 0.4:
                    victim = live.pop(rng.randrange(len(live)))
                    await s.cancel(victim)
                    await journal.flush()  # type: ignore[attr-defined]
                    os.write(fd, f"cancel {victim}\n".encode())
                else:
                    jid = await s.schedule(
                        persist_jobs.arecord,
                        trigger=IntervalTrigger(seconds=rng.choice([0.02, 0.05, 0.3])),
                        args=(f"w{seed}-{n}",),
                        kwargs={"value": "x" * rng.randrange(0, 2000)},
                    )
                    await journal.flush()  # type: ignore[attr-defined]
                    os.write(fd, f"add {jid}\n".encode())
                    live.append(jid)
                await asyncio.sleep(rng.random() * 0.005)

    asyncio.run(main())


def check(url: str, acks: str) -> str | None:
    """None when the store is valid and holds every acknowledged operation, else the problem."""
    kind, path = url.split("://", 1)
    rows: dict[str, StoredJob] = {}
    if kind == "json":
        if not os.path.exists(path):
            docs = []
        else:
            try:
                doc = json.loads(Path(path).read_bytes())
            except ValueError as exc:
                return f"json file unreadable: {exc}"
            docs = doc["jobs"]
        for d in docs:
            rows[d["id"]] = StoredJob.from_doc(d)
    else:
        with sqlite3.connect(path) as conn:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                return f"integrity_check: {ok}"
            for (doc,) in conn.execute("SELECT doc FROM asyncron_jobs"):
                d = json.loads(doc)
                rows[d["id"]] = StoredJob.from_doc(d)
        conn.close()
    for line in Path(acks).read_text().splitlines():
        op, jid = line.split()
        if jid not in rows:
            return f"acknowledged {op} of {jid} is missing"
        if op == "cancel" and rows[jid].status != "cancelled":
            return f"acknowledged cancel of {jid} not applied ({rows[jid].status})"
    leftovers = [p for p in os.listdir(os.path.dirname(path)) if ".corrupt-" in p]
    if leftovers:
        return f"a load moved a file aside: {leftovers}"
    return None


def main() -> None:
    url, acks, kills, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    for i in range(kills):
        pid = os.fork()
        if pid == 0:  # the writer
            try:
                writer(url, acks, seed * 100_000 + i)
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.01, 0.12))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        problem = check(url, acks)
        if problem is not None:
            print(json.dumps({"ok": False, "kill": i, "seed": seed, "problem": problem}))
            return
    adds = sum(1 for line in Path(acks).read_text().splitlines() if line.startswith("add"))
    print(json.dumps({"ok": True, "kills": kills, "seed": seed, "acknowledged_adds": adds}))


if __name__ == "__main__":
    main()
