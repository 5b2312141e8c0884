"""``asyncron demo``: the README demo (once, interval and cron jobs with their lateness),
printed line by line for ``--duration`` seconds; Ctrl-C ends it early with exit code 0."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import TextIO

from .._demo import run_demo
from ._common import EXIT_OK, EXIT_USAGE, Runner

__all__ = ["build_demo"]


def build_demo(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument(
        "--duration", type=float, default=10.0, metavar="S",
        help="how long to run, in seconds (default 10)",
    )  # fmt: skip
    return _run_demo


def _run_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not args.duration > 0:
        err.write(f"asyncron demo: error: --duration must be > 0 seconds, got {args.duration}\n")
        return EXIT_USAGE

    def emit(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(args.duration, emit))
    return EXIT_OK
