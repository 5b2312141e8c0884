"""The ``asyncron`` command (``asyncron.cli:main``; ``python -m asyncron.cli`` works too).

* ``asyncron cron EXPR``: explain a cron expression and print its next fire times.
* ``asyncron demo``: the README demo.
* ``asyncron run module:attr``: run a scheduler (or a Starlette/FastAPI/aiohttp app's scheduler)
  until Ctrl-C or SIGTERM, with a live table on a terminal and log lines otherwise.
* ``asyncron jobs``, ``pause``, ``resume``, ``run-now`` (also ``run ID``), ``remove``: look at and
  change the jobs kept in a store (``--store URL``). ``jobs`` only reads: it opens a file store
  read-only and creates nothing (no lock file, no table, no journal-mode change). Every store
  command first checks, read-only, that the file is an asyncron store: another application's
  file is refused (exit code 2) and left byte for byte.

Exit codes: 0 success, 1 an error (one line on stderr; ``--debug`` adds the traceback), 2
invalid input (argparse's convention for usage errors; also a ``--store`` that is not an
asyncron store), 130 interrupted.

The package, one command (or concern) a module: :mod:`._main` (sub-commands, parsing,
:func:`main`), :mod:`._common` (exit codes, errors, formatting), :mod:`._cron`, :mod:`._demo`,
:mod:`._run` (with :mod:`._target`, loading the user's code, and :mod:`._live`, the live
table), :mod:`._jobs` (the store commands, with :mod:`._stores`, opening ``--store``, and
:mod:`._run_now`).
"""

from __future__ import annotations

from ._main import SUBCOMMANDS, CommandError, main

__all__ = ["SUBCOMMANDS", "CommandError", "main"]
