"""Helpers shared by the benchmark scripts.

This module must import only the standard library: the peer half of every benchmark runs it under
the Python of a peer's virtual environment (``benchmarks/.venvs/<peer>``), where neither asyncron
nor the other peer is installed.

How a benchmark is split:

* the main run (``python benchmarks/bench_x.py``) measures asyncron and the bare event loop in its
  own process, then starts ``benchmarks/.venvs/<peer>/bin/python benchmarks/bench_x.py --peer
  <peer>`` for each peer;
* the peer run measures that peer *and the bare event loop again, in its own process*, and prints
  one JSON line prefixed with :data:`RESULT_MARK`;
* the main run prints every candidate side by side, each with its ratio to the bare loop measured
  in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"
RESULT_MARK = "@@BENCH-RESULT "

#: peer key -> (label printed in tables, pip requirement that builds its venv)
PEERS: dict[str, tuple[str, str]] = {
    "aps3": ("APScheduler 3", "apscheduler==3.11.*"),
    "aps4": ("APScheduler 4", "apscheduler==4.0.0a6"),
}


# -- running the peer half ------------------------------------------------------------------------


def peer_python(peer: str) -> Path:
    """The interpreter of the peer's virtual environment (it may not exist)."""
    if os.name == "nt":
        return VENVS_DIR / peer / "Scripts" / "python.exe"
    return VENVS_DIR / peer / "bin" / "python"


def venv_hint(peer: str) -> str:
    requirement = PEERS[peer][1]
    return (
        f"python3 -m venv benchmarks/.venvs/{peer} && "
        f"benchmarks/.venvs/{peer}/bin/pip install '{requirement}'"
    )


@dataclass(frozen=True, slots=True)
class PeerOutcome:
    """What a peer run gave: its JSON result, or why there is none."""

    peer: str
    result: dict[str, Any] | None
    note: str = ""

    @property
    def label(self) -> str:
        return PEERS[self.peer][0]


def run_peer(script: Path, peer: str, args: Sequence[str], timeout: float = 900.0) -> PeerOutcome:
    """Run ``script --peer <peer> *args`` with the peer venv's Python; never raises."""
    python = peer_python(peer)
    if not python.exists():
        note = f"skipped: no venv at {python.parent.parent} (create it: {venv_hint(peer)})"
        return PeerOutcome(peer, None, note)
    result, note = run_child(python, [str(script), "--peer", peer, *args], PEERS[peer][0], timeout)
    return PeerOutcome(peer, result, note)


def run_child(
    python: Path | str, argv: Sequence[str], label: str, timeout: float = 900.0
) -> tuple[dict[str, Any] | None, str]:
    """Run ``python *argv`` and return its JSON result line, or None and the reason.

    The child's stderr is passed through (it shows progress); stdout is scanned for the result.
    """
    progress(f"running {label}: {' '.join(argv)}")
    try:
        proc = subprocess.run(
            [str(python), *argv],
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            check=False,
            cwd=BENCH_DIR,
        )
    except subprocess.TimeoutExpired:
        return None, f"failed: no result within {timeout:.0f} s"
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :]), ""
    return None, f"failed: exit code {proc.returncode}, no result line"


def emit_result(result: dict[str, Any]) -> None:
    """Print the peer half's result for the main run to pick up."""
    print(RESULT_MARK + json.dumps(result), flush=True)


def installed_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


# -- command line ---------------------------------------------------------------------------------


def base_parser(description: str, *, peer_flag: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    if peer_flag:
        parser.add_argument(
            "--peer",
            choices=sorted(PEERS),
            help="internal: measure this peer (run with that peer's venv Python), print JSON",
        )
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help="comma-separated peers to run after asyncron (default: %(default)s; '' for none)",
    )
    return parser


def selected_peers(spec: str) -> list[str]:
    peers = [p.strip() for p in spec.split(",") if p.strip()]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise SystemExit(f"--peers: unknown peer(s) {unknown}; known: {sorted(PEERS)}")
    return peers


# -- measuring ------------------------------------------------------------------------------------


def progress(message: str) -> None:
    """Progress goes to stderr so that stdout holds only results."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


def rss_bytes() -> int:
    """Resident set size of this process, from ``/proc/self/statm`` (psutil elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            resident_pages = int(f.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil  # type: ignore[import-untyped]  # only where /proc is missing

        return int(psutil.Process().memory_info().rss)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, nearest-rank."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


# -- printing -------------------------------------------------------------------------------------


def machine_line() -> str:
    return (
        f"{datetime.now(UTC):%Y-%m-%d} · Python {platform.python_version()} · "
        f"{platform.system()} {platform.machine()} · {os.cpu_count()} CPUs · default asyncio loop"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (readable as plain text too)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_notes(outcomes: Sequence[PeerOutcome]) -> None:
    for outcome in outcomes:
        if outcome.note:
            print(f"- {outcome.label}: {outcome.note}")
        elif outcome.result is not None and outcome.result.get("note"):
            print(f"- {outcome.label}: {outcome.result['note']}")
