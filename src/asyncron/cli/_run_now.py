"""``asyncron run-now ID --store URL`` (also ``run ID --store URL``): run one stored job in
this process, record the run in the store, print its result.

The job's module is imported so that its ``@asyncron.storable`` marks vouch for its functions,
but the module is not trusted wholesale: a record edited to name another function of it does not
run (docs/persistence.md, threat model). The other stored jobs are loaded but the scheduler is
not started, so nothing else fires; with PostgreSQL this process does not join the cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from typing import TextIO

from .._persistence import StoreJournal
from .._refs import FunctionRegistry, is_stdlib_module
from .._scheduler import AsyncScheduler
from ..abc import Store
from ._common import EXIT_OK, CommandError, logging_to
from ._stores import opened

__all__ = ["run_now"]


async def run_now(store: Store, job_id: str, args: argparse.Namespace, out: TextIO) -> int:
    """Run one stored job in this process, record the run in the store, print its result.

    The other stored jobs are loaded but the scheduler is not started, so nothing else fires.
    """
    async with opened(store):
        row = await store.get_job(job_id)
    if row is None:
        raise CommandError(f"no job with id {job_id!r} in {store.description}")
    module, sep, _ = row.func_ref.partition(":")
    if not sep:
        raise CommandError(
            f"job {row.id} ({row.name}) names its function by the registered name "
            f"{row.func_ref!r}; only module:qualname functions can be run from the command line"
        )
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    # Import the job's module so that its @asyncron.storable marks (or vouch() calls) vouch for
    # its functions, but do not trust the module wholesale: the record may have been edited to
    # name another function of it, which must not run (see docs/persistence.md, threat model).
    if not is_stdlib_module(module):
        try:
            importlib.import_module(module)
        except Exception as exc:
            raise CommandError(
                f"job {row.id} ({row.name}): importing {module!r} failed: {exc!r}"
            ) from None
    registry = FunctionRegistry()
    # A plain journal, whatever the store: with PostgreSQL this process must not join the cluster
    # (it would claim fires and recover other nodes' leases); it loads the definitions and runs
    # the one job, as run_now does on any node (not claimed).
    journal = StoreJournal(store, registry=registry)
    engine = AsyncScheduler(store=journal)
    # The job's failure is reported in one line below: keep the engine's log quiet unless --debug.
    quiet = contextlib.nullcontext() if args.debug else logging_to(logging.NullHandler())
    with quiet:
        # Load the jobs without starting the dispatcher: only run_now runs anything.
        await journal.open(engine)
        try:
            reason = journal.unresolved_reason(row.id)
            if reason is not None or await engine.get_job(row.id) is None:
                raise CommandError(f"job {row.id} ({row.name}) cannot be loaded: {reason or ''}")
            try:
                result = await engine.run_now(row.id)
            except Exception as exc:
                raise CommandError(
                    f"job {row.id} ({row.name}) failed: {type(exc).__name__}: {exc}"
                ) from exc
            finally:
                # flush() before close(): close() can drop a batch the writer is still writing
                await journal.flush()
        finally:
            await journal.close()
    out.write(f"ran job {row.id} ({row.name}): {result!r}\n")
    return EXIT_OK
