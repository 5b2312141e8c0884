"""What to say to someone who writes APScheduler's spelling (pure; used by the engine's errors).

APScheduler 3 passes the trigger by name with its fields as keyword arguments
(``add_job(f, "interval", minutes=5, id="x", coalesce=True)``). asyncron takes a trigger object
and its own option names, so those calls fail; the errors should say how to write them here, not
only that they are wrong.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["option_hints", "trigger_name_hint"]

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


def trigger_name_hint(trigger: str) -> str | None:
    """The message for a trigger given by APScheduler's name (``"interval"``), else None."""
    key = trigger.strip().lower()
    suggestion = _TRIGGER_NAMES.get(key)
    if suggestion is None:
        return None
    return (
        f"trigger: {trigger!r} is APScheduler's trigger name; asyncron takes a trigger object "
        f"with its fields, e.g. trigger={suggestion}"
    )


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
