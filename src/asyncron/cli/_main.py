"""The ``asyncron`` command: its sub-commands, argument parsing, and :func:`main`.

Subcommands register themselves in :data:`SUBCOMMANDS`: a name mapped to a builder that adds
its arguments to an argparse sub-parser and returns the function that runs it.

Exit codes: 0 success, 1 an error (one line on stderr; ``--debug`` adds the traceback), 2
invalid input (argparse's convention for usage errors; also a ``--store`` that is not an
asyncron store), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from ..errors import AsyncronError, NotAStoreError
from ._common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, Builder, CommandError, Runner
from ._cron import build_cron
from ._demo import build_demo
from ._jobs import build_job_command, build_jobs
from ._run import build_run

__all__ = ["SUBCOMMANDS", "CommandError", "main"]


SUBCOMMANDS: dict[str, tuple[str, Builder]] = {
    "cron": ("explain a cron expression and print its next fire times", build_cron),
    "demo": ("run the README demo: once, interval and cron jobs with their lateness", build_demo),
    "run": ("run a scheduler or app from your code until Ctrl-C / SIGTERM", build_run),
    "jobs": ("list the jobs kept in a store", build_jobs),
    "pause": (
        "pause a stored job (a scheduler on the store must be stopped)",
        build_job_command("pause"),
    ),
    "resume": ("resume a paused stored job", build_job_command("resume")),
    "run-now": ("run a stored job once, now, in this process", build_job_command("run-now")),
    "remove": ("remove a job from a store", build_job_command("remove")),
}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS,
        help="show the full traceback of an error",
    )  # fmt: skip
    parser = argparse.ArgumentParser(
        prog="asyncron", description="asyncron command line", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (help_text, build) in SUBCOMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        child.set_defaults(_runner=build(child))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Never raises for bad input or a failing command: usage errors print to stderr and return 2,
    other errors print one line (``asyncron CMD: error: ...``) and return 1; with ``--debug``
    the traceback is printed too. Ctrl-C returns 130.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    args.debug = getattr(args, "debug", False)
    runner: Runner = args._runner
    try:
        return runner(args, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        sys.stderr.write(f"asyncron {args.command}: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        known = isinstance(exc, CommandError | AsyncronError)  # their message says it all
        message = str(exc) if known else f"{type(exc).__name__}: {exc}"
        sys.stderr.write(
            f"asyncron {args.command}: error: {message.splitlines()[0] if message else type(exc).__name__}\n"
        )
        # --store names something that is not an asyncron store: invalid input
        return EXIT_USAGE if isinstance(exc, NotAStoreError) else EXIT_ERROR
