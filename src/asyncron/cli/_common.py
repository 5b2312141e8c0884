"""What every ``asyncron`` command shares: its signature, exit codes, the one-line error, and
the small formatting helpers of its output.

A command is a :data:`Builder`: it adds its arguments to an argparse sub-parser and returns
the :data:`Runner` that runs it with the parsed arguments, stdout and stderr, and returns the
exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TextIO

from ..errors import CommandError

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Builder",
    "CommandError",
    "Runner",
    "fmt_delta",
    "fmt_time",
    "logging_to",
    "plain_table",
]

Runner = Callable[[argparse.Namespace, TextIO, TextIO], int]
Builder = Callable[[argparse.ArgumentParser], Runner]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def fmt_time(value: datetime | None) -> str:
    """A time in the local zone, to the second (``-`` for none)."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def fmt_delta(seconds: float) -> str:
    """A duration in the unit that reads best (ms, s, min, h)."""
    if abs(seconds) < 1:
        return f"{seconds * 1000:.1f} ms"
    if abs(seconds) < 120:
        return f"{seconds:.1f} s"
    if abs(seconds) < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def plain_table(headers: list[str], rows: list[list[str]]) -> str:
    """``rows`` under ``headers`` in left-aligned columns, two spaces apart."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


@contextlib.contextmanager
def logging_to(handler: logging.Handler) -> Iterator[None]:
    """Send the ``asyncron`` logger's records (INFO and up) to ``handler`` only, for the block."""
    log = logging.getLogger("asyncron")
    old_level, old_propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
        log.propagate = old_propagate
