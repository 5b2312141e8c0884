"""``asyncron cron EXPR``: explain a cron expression and print its next fire times.

Prints the expression in words with its zone, then ``-n`` fire times (ISO 8601 and weekday),
optionally leaving out a business calendar's closed days (``--calendar``, ``--shift``). A bad
expression, zone, date or count is a usage error (exit code 2), with a caret under the
offending token of the expression.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TextIO

from .._tz import resolve_zone
from ..abc import Trigger
from ..errors import CronParseError, InvalidTriggerError
from ..triggers.calendars import BusinessCalendar
from ..triggers.combinations import describe_trigger
from ..triggers.cron import CronTrigger
from ._common import EXIT_OK, EXIT_USAGE, Runner

__all__ = ["CRON_MAX_COUNT", "build_cron"]

#: The most fire times ``asyncron cron -n`` prints (a typo such as -n 100000000 would otherwise
#: print for minutes).
CRON_MAX_COUNT = 10_000


def _caret_lines(expression: str, position: int | None, token: str | None) -> list[str]:
    """The expression and a caret line under ``token`` (at ``position``), for error output."""
    if position is None or position < 0 or position > len(expression):
        return []
    width = max(1, len(token or ""))
    width = min(width, max(1, len(expression) - position))
    return [f"  {expression}", "  " + " " * position + "^" * width]


def build_cron(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("expression", help='cron expression, e.g. "0 9 * * 1-5" (quote it)')
    parser.add_argument(
        "--tz", dest="tz", default=None, help="IANA time zone (default: the local zone)"
    )
    parser.add_argument(
        "-n",
        dest="count",
        type=int,
        default=5,
        help=f"how many fire times to print (default 5, at most {CRON_MAX_COUNT:,})",
    )
    parser.add_argument(
        "--from", dest="start", default=None,
        help="ISO 8601 instant to count from (default: now; naive values use --tz)",
    )  # fmt: skip
    parser.add_argument(
        "--calendar", dest="calendar", default=None, metavar="CC[-SUB]",
        help="leave out weekends and the public holidays of a country (and region) or the "
        "closing days of a market, e.g. DE-HE, US-CA, XNYS; needs the holidays package "
        "(asyncron[calendars])",
    )  # fmt: skip
    parser.add_argument(
        "--shift", dest="shift", default="skip", choices=("skip", "next", "previous"),
        help="with --calendar: drop a fire on a non-business day (skip, default) or move it to "
        "the next or previous business day",
    )  # fmt: skip
    return _run_cron


def _run_cron(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    expression: str = args.expression
    if not 0 <= args.count <= CRON_MAX_COUNT:
        err.write(
            f"asyncron cron: error: -n must be 0 to {CRON_MAX_COUNT:,} (fire times printed), "
            f"got {args.count}\n"
        )
        return EXIT_USAGE
    try:
        given = None if args.tz is None else resolve_zone(args.tz, field="--tz")
    except InvalidTriggerError as exc:
        err.write(f"asyncron cron: error: {exc}\n")
        return EXIT_USAGE
    try:
        trigger = CronTrigger.from_expression(expression, given)
    except CronParseError as exc:
        lines = [f"asyncron cron: error: {exc}"]
        lines += _caret_lines(expression, exc.position, exc.token)
        err.write("\n".join(lines) + "\n")
        return EXIT_USAGE
    except InvalidTriggerError as exc:
        err.write(f"asyncron cron: error: {exc}\n")
        return EXIT_USAGE
    shown: Trigger = trigger
    if args.calendar is not None:
        try:
            calendar = BusinessCalendar.from_spec(args.calendar)
        except (InvalidTriggerError, ModuleNotFoundError) as exc:
            err.write(f"asyncron cron: error: --calendar: {exc}\n")
            return EXIT_USAGE
        shown = trigger.exclude(calendar, shift=args.shift)
    elif args.shift != "skip":
        err.write("asyncron cron: error: --shift needs --calendar\n")
        return EXIT_USAGE
    start: datetime | None = None
    if args.start is not None:
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError:
            err.write(
                f"asyncron cron: error: --from {args.start!r} is not an ISO 8601 date-time; "
                "allowed e.g. 2025-03-30T01:00 or 2025-03-30T01:00+01:00\n"
            )
            return EXIT_USAGE
    zone = getattr(trigger.timezone, "key", None) or str(trigger.timezone)
    out.write(f"{describe_trigger(shown)} ({zone})\n")
    current = start
    for _ in range(args.count):
        fire = shown.get_next_run(current)
        if fire is None:
            out.write("(no more fire times)\n")
            break
        out.write(f"{fire.isoformat()}  {fire.strftime('%a')}\n")
        current = fire
    return EXIT_OK
