"""Crash harness (run as a script by test_crash_kill.py): fork a writer, SIGKILL it at a random
moment, check the store, repeat. Prints one JSON line with the outcome.

The harness imports asyncron once and forks each writer, so a kill costs milliseconds instead
of an interpreter start; that is what makes hundreds of kills fit in a few seconds.

A random kill proves nothing if it always lands between writes, so the harness also shows that
kills land mid-write: every fourth writer is armed with the ``mid_store_write`` fault point
(it SIGKILLs itself with a write half done: the JSON temp file synced but not renamed, the
SQLite rows written but not committed), and after every kill the directory is searched for the
evidence a torn write leaves (the dead writer's JSON temp file). Both are counted.
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
from asyncron.stores import StoreJournal, store_from_url

FAULT_ENV = "ASYNCRON_FAULTPOINT"


def writer(url: str, acks: str, seed: int) -> None:
    logging.disable(logging.CRITICAL)
    rng = random.Random(seed)

    async def main() -> None:
        fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        journal = StoreJournal(store_from_url(url))
        async with AsyncScheduler(store=journal) as s:
            live: list[str] = [j.id for j in await s.list_jobs() if not j.status.is_final]
            n = 0
            while True:
                n += 1
                if live and rng.random() < 0.4:
                    victim = live.pop(rng.randrange(len(live)))
                    await s.cancel(victim)
                    await journal.flush()
                    os.write(fd, f"cancel {victim}\n".encode())
                else:
                    jid = await s.schedule(
                        persist_jobs.arecord,
                        trigger=IntervalTrigger(seconds=rng.choice([0.02, 0.05, 0.3])),
                        args=(f"w{seed}-{n}",),
                        kwargs={"value": "x" * rng.randrange(0, 2000)},
                    )
                    await journal.flush()
                    os.write(fd, f"add {jid}\n".encode())
                    live.append(jid)
                await asyncio.sleep(rng.random() * 0.005)

    asyncio.run(main())


def check(url: str, acks: str) -> str | None:
    """None when the store is valid and holds every acknowledged operation, else the problem."""
    kind, path = url.split(":///", 1)
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
            tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
            # Killed while the first writer was creating the schema: a valid, empty database.
            docs = (
                conn.execute("SELECT doc FROM asyncron_jobs") if "asyncron_jobs" in tables else []
            )
            for (doc,) in docs:
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


def died_by_itself(pid: int, timeout: float) -> bool:
    """True when the writer ended on its own (at its fault point) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
                raise SystemExit(f"writer {pid} ended with status {status}, not at its fault point")
            return True
        time.sleep(0.002)
    return False


def main() -> None:
    url, acks, kills, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    path = Path(url.split(":///", 1)[1])
    at_fault_point = torn_files = 0
    for i in range(kills):
        armed = i % 4 == 3
        nth = rng.randint(1, 4)
        pid = os.fork()
        if pid == 0:  # the writer
            try:
                if armed:
                    os.environ[FAULT_ENV] = f"mid_store_write:kill@{nth}"
                writer(url, acks, seed * 100_000 + i)
            finally:
                os._exit(1)
        if armed:
            if not died_by_itself(pid, 10.0):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                print(
                    json.dumps(
                        {
                            "ok": False,
                            "kill": i,
                            "seed": seed,
                            "problem": "an armed writer never reached mid_store_write",
                        }
                    )
                )
                return
            at_fault_point += 1
        else:
            time.sleep(rng.uniform(0.01, 0.12))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        # The temp file of a JSON write the kill cut short (the next open removes it).
        if path.with_name(f"{path.name}.tmp-{pid}").exists():
            torn_files += 1
        problem = check(url, acks)
        if problem is not None:
            print(json.dumps({"ok": False, "kill": i, "seed": seed, "problem": problem}))
            return
    adds = sum(1 for line in Path(acks).read_text().splitlines() if line.startswith("add"))
    print(json.dumps({
        "ok": True, "kills": kills, "seed": seed, "acknowledged_adds": adds,
        "killed_at_fault_point": at_fault_point, "torn_temp_files": torn_files,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
