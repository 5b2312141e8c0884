"""Fault points: named places where a test can make the process die on purpose.

Set ``ASYNCRON_FAULTPOINT=<name>:<action>`` (several separated by ``,``) in a scheduler process's
environment. Actions:

- ``exit``: ``os._exit(70)`` at once: no cleanup, no flush (what a crash looks like to the
  database: connections drop, leases stop being renewed).
- ``kill``: ``SIGKILL`` to itself (POSIX).
- ``exit@N`` / ``kill@N``: only at the N-th time the point is reached (1-based).

Unset (the normal case) every fault point costs one dictionary lookup. Names in use:
``after_claim`` (the claim committed, the run not started), ``before_dispatch`` (the run is about
to start), ``after_start`` (the run started, its fire recorded as running), ``after_advance``
(the job's next fire computed), ``before_finish`` (the run ended, its outcome not yet written),
``after_recover`` (an expired lease taken over, the re-run not started), ``before_renew`` (a
lease renewal about to be sent), ``mid_store_write`` (an embedded store's write half done: the
JSON temp file written and synced but not renamed, the SQLite transaction's rows written but
not committed).
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV", "POINTS", "fault_point", "reload"]

ENV = "ASYNCRON_FAULTPOINT"
POINTS = frozenset(
    {
        "after_claim",
        "before_dispatch",
        "after_start",
        "after_advance",
        "before_finish",
        "after_recover",
        "before_renew",
        "mid_store_write",
    }
)

_armed: dict[str, tuple[str, int]] = {}
_hits: dict[str, int] = {}
_source: str | None = None


def reload() -> None:
    """Re-read the environment variable (done automatically when its value changes).

    Raises:
        ValueError: an unknown point name or action (the message lists what is allowed).
    """
    global _source
    raw = os.environ.get(ENV, "")
    _source = raw
    _armed.clear()
    _hits.clear()
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, _, action = item.partition(":")
        action, _, nth = action.partition("@")
        if name not in POINTS:
            raise ValueError(
                f"{ENV}: unknown fault point {name!r}; known: {', '.join(sorted(POINTS))}"
            )
        if action not in ("exit", "kill"):
            raise ValueError(f"{ENV}: unknown action {action!r} for {name!r}; use exit or kill")
        _armed[name] = (action, int(nth) if nth else 1)


def fault_point(name: str) -> None:
    """Die here if the environment arms this point; otherwise do nothing."""
    if os.environ.get(ENV, "") != (_source or ""):
        reload()
    armed = _armed.get(name)
    if armed is None:
        return
    action, nth = armed
    count = _hits[name] = _hits.get(name, 0) + 1
    if count != nth:
        return
    if action == "kill" and hasattr(signal, "SIGKILL"):
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(70)
