"""The live job table of ``asyncron run`` on a terminal.

Redraws the scheduler's jobs (id, name, status, next fire, last outcome, lateness, runs) every
``--refresh`` seconds, with the last log lines under it (:class:`Ring`: a log handler writing
to the terminal would tear the table). Drawn with rich when it is installed
(``asyncron[cli]``), else as a plain table repainted with ANSI escapes.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import time
from collections import deque
from typing import Any, TextIO

from .._scheduler import AsyncScheduler
from ._common import fmt_delta, fmt_time, plain_table

__all__ = ["HEADERS", "Ring", "live_view"]

HEADERS = ["id", "name", "status", "next fire", "last outcome", "lateness", "runs"]


class Ring(logging.Handler):
    """Keeps the last log lines for the live view (a log handler writing to the terminal would
    tear the table)."""

    def __init__(self, size: int = 6) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[str] = deque(maxlen=size)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record).splitlines()[0]  # the first line, not the traceback
        self.lines.append(text)


async def _rows(scheduler: AsyncScheduler, limit: int) -> tuple[list[list[str]], int]:
    """Table rows: id, name, status, next fire, last outcome, lateness, runs."""
    now = time.time()
    jobs = await scheduler.list_jobs()
    rows = []
    for job in jobs[:limit]:
        history = await scheduler.get_run_history(job.id)
        last = history[-1] if history else None
        if last is None:
            outcome, lateness = "-", "-"
        else:
            outcome = last.outcome if last.error is None else f"{last.outcome}: {last.error}"
            lateness = fmt_delta((last.started_at - last.scheduled_at).total_seconds())
        if job.next_run is None:
            nxt = "-"
        else:
            nxt = f"{fmt_time(job.next_run)} (in {fmt_delta(job.next_run.timestamp() - now)})"
        rows.append(
            [job.id, job.name, job.status.value, nxt, outcome[:60], lateness, str(job.run_count)]
        )
    return rows, len(jobs)


async def live_view(
    scheduler: AsyncScheduler, title: str, ring: Ring, out: TextIO, period: float
) -> None:
    """Redraw the job table every ``period`` seconds until cancelled (rich if installed)."""
    if importlib.util.find_spec("rich") is not None:
        await _live_rich(scheduler, title, ring, out, period)
    else:
        await _live_plain(scheduler, title, ring, out, period)


async def _live_rich(
    scheduler: AsyncScheduler, title: str, ring: Ring, out: TextIO, period: float
) -> None:
    # imported here: rich is an optional extra (asyncron[cli])
    from rich.console import Console, Group
    from rich.live import Live
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out)

    def render(rows: list[list[str]], total: int) -> Group:
        table = Table(title=title, caption="Ctrl-C to stop", expand=False)
        for header in HEADERS:
            table.add_column(header, no_wrap=header != "last outcome")
        for row in rows:
            style = "red" if row[4].startswith(("failed", "timed_out")) else None
            table.add_row(*row, style=style)
        parts: list[Any] = [table]
        if total > len(rows):
            parts.append(Text(f"... and {total - len(rows)} more jobs"))
        parts += [Text(line, style="dim") for line in ring.lines]
        return Group(*parts)

    with Live(console=console, auto_refresh=False, transient=False) as live:
        while True:
            live.update(render(*await _rows(scheduler, 200)), refresh=True)
            await asyncio.sleep(period)


async def _live_plain(
    scheduler: AsyncScheduler, title: str, ring: Ring, out: TextIO, period: float
) -> None:
    while True:
        rows, total = await _rows(scheduler, 200)
        text = f"{title}\n\n{plain_table(HEADERS, rows)}\n"
        if total > len(rows):
            text += f"... and {total - len(rows)} more jobs\n"
        text += "".join(f"{line}\n" for line in ring.lines)
        out.write("\x1b[H\x1b[2J" + text + "\nCtrl-C to stop\n")
        out.flush()
        await asyncio.sleep(period)
