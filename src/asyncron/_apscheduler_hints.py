"""What to say to someone who writes APScheduler's spelling (pure; used by the engine's errors).

APScheduler 3 passes the trigger by name with its fields as keyword arguments
(``add_job(f, "interval", minutes=5, id="x", coalesce=True)``). asyncron takes a trigger object
and its own option names, so those calls fail; the errors should say how to write them here, not
only that they are wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["option_hints", "positional_trigger_hint", "trigger_name_hint"]

_TRIGGER_NAMES = {
    "interval": "IntervalTrigger(minutes=5) (or a timedelta, or a number of seconds)",
    "cron": 'CronTrigger(hour=9, day_of_week="mon-fri") or a cron string such as "0 9 * * mon-fri"',
    "date": "OnceTrigger(run_at) (or the datetime itself)",
    "calendarinterval": "IntervalTrigger(days=...) or a cron expression",
}

_TRIGGER_FIELDS = frozenset(
    {
        "weeks", "days", "hours", "minutes", "seconds", "start_date", "end_date", "run_date",
        "year", "month", "day", "week", "day_of_week", "hour", "minute", "second", "timezone",
    }
)  # fmt: skip

#: APScheduler's per-job options -> what asyncron does instead.
_OPTIONS = {
    "id": "the job id is job_id=",
    "replace_existing": "replace=True replaces the job with the same job_id",
    "coalesce": (
        "asyncron always coalesces fires missed while the process runs (one run, then the next "
        "fire on the trigger's grid; misfire_grace_time= drops a fire that is too late); for "
        "fires missed while the process was down, with a durable store, misfire='latest' is "
        "coalesce=True and misfire='all' (bounded by misfire_max_count and misfire_max_age) is "
        "coalesce=False"
    ),
    "next_run_time": (
        "there is no next_run_time=: give the trigger a start (IntervalTrigger(start=...)), or "
        "pause(job_id) to hold a job"
    ),
    "executor": "sync functions run in the thread pool and async ones on the loop; no executor=",
    "jobstore": "the store is the scheduler's: AsyncScheduler(store=...) or PersistentScheduler",
    "func": "the function is the first positional argument",
}


_CLASSES = {"interval": "IntervalTrigger", "cron": "CronTrigger", "date": "OnceTrigger"}


def trigger_name_hint(
    trigger: str, fields: Mapping[str, object] | None = None, *, as_name: bool = False
) -> str | None:
    """The message for a trigger given by APScheduler's name (``"interval"``), else None.

    ``fields`` are the keyword arguments that came with it (``minutes=5``): the suggestion is
    written with them. ``as_name``: the word came as ``schedule()``'s second positional
    argument, which is the job's name here.
    """
    key = trigger.strip().lower()
    suggestion = _TRIGGER_NAMES.get(key)
    if suggestion is None:
        return None
    given = {k: v for k, v in (fields or {}).items() if k in _TRIGGER_FIELDS}
    if given and key in _CLASSES:
        if key == "date":
            suggestion = f"OnceTrigger({given.get('run_date', 'run_at')!r})"
        else:
            args = ", ".join(f"{k}={v!r}" for k, v in given.items())
            suggestion = f"{_CLASSES[key]}({args})"
    where = (
        f"name={trigger!r}: the second positional argument of schedule() is the job's name, and "
        f"{trigger!r} is APScheduler's trigger name"
        if as_name
        else f"trigger: {trigger!r} is APScheduler's trigger name"
    )
    return f"{where}; asyncron takes a trigger object with its fields, e.g. trigger={suggestion}"


def positional_trigger_hint(name: object, options: Mapping[str, object]) -> str | None:
    """``schedule(f, "interval", minutes=5)``: the trigger name landed in ``name``."""
    if not isinstance(name, str) or not any(k in _TRIGGER_FIELDS for k in options):
        return None
    return trigger_name_hint(name, options, as_name=True)


def option_hints(unknown: Iterable[str]) -> str:
    """Hints for unknown job options that are APScheduler's (empty when none are)."""
    hints = [f"{name}=: {_OPTIONS[name]}" for name in unknown if name in _OPTIONS]
    fields = [name for name in unknown if name in _TRIGGER_FIELDS]
    if fields:
        hints.append(
            f"{', '.join(n + '=' for n in fields)}: trigger fields belong to the trigger "
            "(IntervalTrigger(minutes=5), CronTrigger(hour=9), OnceTrigger(run_at))"
        )
    return "; ".join(hints)
