"""The store commands: ``asyncron jobs``, ``pause``, ``resume``, ``remove`` and ``run-now``
(also ``run ID --store URL``), on the jobs kept in the store ``--store URL`` names.

``jobs`` only reads: it opens a file store read-only and creates nothing (no lock file, no
table, no journal-mode change), and lists records the store could not read. The commands that
write first check, read-only, that the file is an asyncron store: another application's file is
refused (exit code 2) and left byte for byte. ``pause``/``resume``/``remove`` change the record
directly (a scheduler on a file store must be stopped; PostgreSQL nodes see the change at
once); ``run-now`` runs the job in this process (:mod:`._run_now`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import Any, TextIO

from .._serialize import trigger_from_doc
from ..abc import Store, StoredJob
from ._common import EXIT_OK, Builder, CommandError, Runner, fmt_time, plain_table
from ._run_now import run_now
from ._stores import is_postgres, open_store_url, opened, probe, store_arg

__all__ = ["build_job_command", "build_jobs", "run_store_command"]

_FINAL = frozenset({"completed", "failed", "cancelled", "skipped"})


def build_jobs(parser: argparse.ArgumentParser) -> Runner:
    store_arg(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return lambda args, out, err: run_store_command("jobs", args, out, err)


def build_job_command(command: str) -> Builder:
    """The builder of ``asyncron COMMAND ID --store URL``."""

    def build(parser: argparse.ArgumentParser) -> Runner:
        parser.add_argument("job_id", metavar="ID", help="the job's id (see asyncron jobs)")
        store_arg(parser)
        return lambda args, out, err: run_store_command(command, args, out, err)

    return build


def run_store_command(command: str, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the store command ``command`` (``jobs``, ``pause``, ``resume``, ``remove``,
    ``run-now``) on ``args.store``."""
    if command == "jobs":  # only reads
        return asyncio.run(
            _store_command(command, open_store_url(args.store, read_only=True), args, out)
        )
    store = open_store_url(args.store)
    if not is_postgres(args.store):
        # Look before writing: a file that is not an asyncron store (or a damaged one) is
        # refused by a read-only open, before the writable open could create tables in it or
        # move it aside.
        asyncio.run(probe(open_store_url(args.store, read_only=True)))
    return asyncio.run(_store_command(command, store, args, out))


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def _trigger_text(doc: dict[str, Any]) -> str:
    try:
        return str(trigger_from_doc(doc))
    except Exception:  # an unreadable trigger is still listed
        return str(doc.get("type", "?"))


def _job_doc(job: StoredJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "function": job.func_ref,
        "trigger": job.trigger,
        "next_run": _iso(job.next_run),
        "last_run": _iso(job.last_run),
        "run_count": job.run_count,
        "failure_count": job.failure_count,
        "max_runs": job.max_runs,
        "error": job.error,
    }


async def _store_command(command: str, store: Store, args: argparse.Namespace, out: TextIO) -> int:
    if command == "run-now":
        return await run_now(store, args.job_id if "job_id" in args else args.target, args, out)
    async with opened(store):
        if command == "jobs":
            return await _list_jobs(store, args.json, out)
        return await _change_job(command, store, args.job_id, out)


_HEADERS = ["id", "name", "status", "trigger", "next run", "last run", "runs", "error"]


def _when(ts: float | None) -> str:
    return fmt_time(None if ts is None else datetime.fromtimestamp(ts, UTC))


async def _list_jobs(store: Store, as_json: bool, out: TextIO) -> int:
    """``asyncron jobs``: a table (or JSON) of the stored jobs, then the unreadable records."""
    jobs = await store.list_jobs()
    if as_json:
        out.write(json.dumps([_job_doc(j) for j in jobs], indent=2) + "\n")
    elif not jobs:
        out.write(f"no jobs in {store.description}\n")
    else:
        rows = [
            [
                j.id,
                j.name,
                j.status,
                _trigger_text(j.trigger),
                _when(j.next_run),
                _when(j.last_run),
                str(j.run_count),
                (j.error or "")[:60],
            ]
            for j in jobs
        ]
        out.write(plain_table(_HEADERS, rows) + "\n")
    if not as_json:
        _write_quarantined(store, out)
    return EXIT_OK


async def _change_job(command: str, store: Store, job_id: str, out: TextIO) -> int:
    """``asyncron remove``, ``pause`` or ``resume``: change one stored record.

    Raises:
        CommandError: no such job, or a final job to pause or resume.
    """
    job = await store.get_job(job_id)
    if job is None:
        raise CommandError(f"no job with id {job_id!r} in {store.description}")
    if command == "remove":
        await store.remove_job(job.id)
        out.write(f"removed job {job.id} ({job.name})\n")
        return EXIT_OK
    if job.status in _FINAL:
        raise CommandError(f"job {job.id} ({job.name}) is {job.status}; it cannot be {command}d")
    if command == "pause":
        if job.status == "paused":
            out.write(f"job {job.id} ({job.name}) was already paused\n")
            return EXIT_OK
        await store.update_job(job.evolve(status="paused", version=job.version + 1))
        out.write(f"paused job {job.id} ({job.name})\n")
        return EXIT_OK
    assert command == "resume"
    if job.status != "paused":
        out.write(f"job {job.id} ({job.name}) was not paused\n")
        return EXIT_OK
    await store.update_job(job.evolve(status="pending", version=job.version + 1))
    if getattr(store, "supports_claims", False):
        out.write(f"resumed job {job.id} ({job.name})\n")
    else:
        out.write(
            f"resumed job {job.id} ({job.name}); missed fires follow its misfire policy "
            "when a scheduler next opens the store\n"
        )
    return EXIT_OK


def _write_quarantined(store: Store, out: TextIO) -> None:
    """List the records the store kept but could not read (a scheduler does not run them)."""
    reasons = getattr(store, "quarantined", None) or []
    if reasons:
        out.write(f"{len(reasons)} record(s) kept in the store but not loaded (never run):\n")
        for reason in reasons:
            out.write(f"  {reason}\n")
