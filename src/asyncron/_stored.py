"""How the journal reads and writes a stored job's options and trigger (pure helpers): the
JSON document of its per-job options, the exception classes a stored ``retry_on`` names, and the
interval grid a job scheduled again at start-up takes over from its stored record.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

from ._model import Job
from ._refs import _lookup
from ._serialize import trigger_from_doc
from .abc import StoredJob, Trigger
from .triggers.interval import IntervalTrigger

__all__ = ["job_options_doc", "retry_on_from_doc", "stored_anchor"]

logger = logging.getLogger("asyncron")

_OPTION_TYPES = (str, int, float, bool, type(None))


_OPTS_CACHE: dict[int, tuple[Any, dict[str, Any]]] = {}


def job_options_doc(opts: Any) -> dict[str, Any]:
    """The JSON-storable fields of the engine's per-job options (``retry_on``, a tuple of
    exception classes, is not stored: classes are never rebuilt from stored data). Cached per
    options object: most jobs share the scheduler's defaults."""
    hit = _OPTS_CACHE.get(id(opts))
    if hit is not None and hit[0] is opts:
        return hit[1]
    doc = _options_doc(opts)
    if len(_OPTS_CACHE) > 256:
        _OPTS_CACHE.clear()
    _OPTS_CACHE[id(opts)] = (opts, doc)
    return doc


def _options_doc(opts: Any) -> dict[str, Any]:
    if not is_dataclass(opts):
        return {}
    out: dict[str, Any] = {}
    for f in fields(opts):
        value = getattr(opts, f.name)
        if f.name == "retry_on":
            if value != f.default and isinstance(value, tuple):
                out[f.name] = [f"{t.__module__}:{t.__qualname__}" for t in value]
        elif isinstance(value, _OPTION_TYPES) and value != f.default:
            out[f.name] = value
    return out


def retry_on_from_doc(doc: Any, row: StoredJob) -> tuple[type[BaseException], ...]:
    """The exception classes a stored ``retry_on`` names (``"module:qualname"`` each).

    A class is only looked up in a module that is already imported, and must be an exception
    class: nothing is imported or built from stored data. A name that does not resolve is left
    out with a warning, so that the job retries *fewer* exceptions than asked, never more (an
    unknown ``retry_on`` falling back to every exception would retry what the user excluded).
    """
    names = doc if isinstance(doc, list) else []
    found: list[type[BaseException]] = []
    missing: list[str] = []
    for name in names:
        module, _, qualname = str(name).partition(":")
        mod = sys.modules.get(module)
        obj = _lookup(mod, qualname) if mod is not None and qualname else None
        if isinstance(obj, type) and issubclass(obj, BaseException):
            found.append(obj)
        else:
            missing.append(str(name))
    if missing or not isinstance(doc, list):
        logger.warning(
            "job %r (%s): retry_on names %s, which %s not an exception class in an imported "
            "module; those exceptions are not retried. Import the module defining them before "
            "the scheduler starts",
            row.name,
            row.id,
            ", ".join(missing) or repr(doc),
            "is" if len(missing) == 1 else "are",
        )
    return tuple(found)


def stored_anchor(job: Job, row: StoredJob) -> Trigger | None:
    """The trigger a job scheduled again at start-up should take over from its stored record.

    An :class:`~asyncron.triggers.IntervalTrigger` without ``start`` counts from the moment it
    is scheduled, so every process (or restart) that schedules the same job id would fire it on
    a grid of its own: N web workers would run it N times per interval, each fire claimed once.
    When the stored record is the same interval, the live job keeps the stored grid instead:
    the stored ``start`` if it has one, else the stored next fire. None: nothing to adopt (a
    different trigger is a deliberate change, and the code's version wins).
    """
    live = job.trigger
    if not isinstance(live, IntervalTrigger) or live.start is not None:
        return None
    try:
        stored = trigger_from_doc(row.trigger, f"job {row.id} trigger")
    except (ValueError, TypeError, LookupError):
        return None
    if not isinstance(stored, IntervalTrigger) or (stored.interval, stored.end) != (
        live.interval,
        live.end,
    ):
        return None
    if stored.start is not None:
        anchor = stored.start
    elif row.next_run is not None:
        anchor = datetime.fromtimestamp(row.next_run, UTC)
    else:
        return None
    if job.next_run is not None:
        steps = (job.next_run - anchor) / live.interval
        if abs(steps - round(steps)) * live.interval.total_seconds() < 0.001:
            return None  # already on the stored grid
    return IntervalTrigger(live.interval, start=anchor, end=live.end)
