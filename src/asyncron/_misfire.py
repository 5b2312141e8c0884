"""Misfire policies (pure): what to do, at start, with the fires a job missed while the scheduler
was stopped. :func:`plan_misfires` decides from the trigger, the stored next fire, now and the
job's :class:`MisfirePolicy`; the journal carries the plan out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from .abc import Trigger
from .errors import InvalidJobError

__all__ = ["MisfirePlan", "MisfirePolicy", "plan_misfires"]

_ENUM_CAP = 10_000


@dataclass(frozen=True, slots=True)
class MisfirePolicy:
    """What happens to fires missed while the scheduler was down.

    Args:
        mode: ``"latest"`` (default; *coalesce*): the most recent missed fire runs once, late.
            ``"skip"``: missed fires never run; the job resumes at its next regular fire.
            ``"all"`` (*catch-up*): each missed fire runs, oldest first, bounded by ``max_count``
            (the newest ones are kept) and ``max_age``.
        grace_time: seconds; a missed fire later than this is skipped whatever the mode
            (APScheduler's ``misfire_grace_time``). None: no limit.
        max_count: at most this many catch-up runs per job in ``"all"`` mode.
        max_age: seconds; in ``"all"`` mode fires older than this are not replayed. None: no
            limit.

    Every skipped fire is counted and logged; none is dropped silently.

    Raises:
        InvalidJobError: an unknown mode, or a negative / non-numeric bound.
    """

    mode: Literal["latest", "skip", "all"] = "latest"
    grace_time: float | None = None
    max_count: int = 10
    max_age: float | None = 86_400.0

    def __post_init__(self) -> None:
        if self.mode not in ("latest", "skip", "all"):
            raise InvalidJobError(
                f"misfire mode: expected 'latest', 'skip' or 'all', got {self.mode!r}"
            )
        for name in ("grace_time", "max_age"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise InvalidJobError(f"{name}: expected seconds >= 0 or None, got {value!r}")
        if (
            isinstance(self.max_count, bool)
            or not isinstance(self.max_count, int)
            or (self.max_count < 1)
        ):
            raise InvalidJobError(f"max_count: expected an int >= 1, got {self.max_count!r}")

    def to_doc(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "grace_time": self.grace_time,
            "max_count": self.max_count,
            "max_age": self.max_age,
        }

    @classmethod
    def from_doc(cls, doc: Any) -> MisfirePolicy:
        if not isinstance(doc, dict):
            raise InvalidJobError(f"misfire policy: expected an object, got {doc!r}")
        return cls(**{k: v for k, v in doc.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class MisfirePlan:
    """The decision of :func:`plan_misfires`.

    ``run``: missed fires to run now, oldest first. ``skipped``: missed fires not run (a lower
    bound when ``capped``). ``next_fire``: the first regular fire after ``now`` (None: none left).
    """

    run: tuple[datetime, ...]
    skipped: int
    next_fire: datetime | None
    capped: bool = False

    @property
    def missed(self) -> int:
        return len(self.run) + self.skipped


def plan_misfires(
    trigger: Trigger, due: datetime | None, now: datetime, policy: MisfirePolicy
) -> MisfirePlan:
    """Decide which missed fires run after downtime. Pure: no clock, no I/O.

    ``due`` is the job's pending fire when the scheduler stopped (None: nothing pending). Fires
    ``due``, ``trigger.get_next_run(due)``, ... up to ``now`` (inclusive) are *missed*; the
    policy picks which of them run. At most ~10 000 missed fires are enumerated; past that the
    count is reported as a lower bound and enumeration resumes just before ``now`` (so a second
    job missed over a year costs milliseconds, not a scan of 31 million instants).
    """
    if due is None or due > now:
        return MisfirePlan((), 0, due)
    keep = 1 if policy.mode == "latest" else policy.max_count
    last: deque[datetime] = deque(maxlen=max(keep, 2))
    count = 0
    cur: datetime | None = due
    capped = False
    while cur is not None and cur <= now:
        if count >= _ENUM_CAP:
            # Too many to count: jump to a little before now, on the trigger's own grid.
            capped = True
            step = last[-1] - last[-2] if len(last) >= 2 else timedelta(seconds=1)
            jump_from = now - step * (keep + 1)
            if jump_from > cur:
                cur = trigger.get_next_run(jump_from)
                last.clear()
                if cur is None or cur > now:
                    break
            count = -(10**9)  # count no more; keep enumerating the tail only
        last.append(cur)
        count += 1
        cur = trigger.get_next_run(cur)
    total = count if not capped else _ENUM_CAP + len(last)
    if policy.mode == "skip":
        return MisfirePlan((), total, cur, capped)

    def eligible(fire: datetime) -> bool:
        late = (now - fire).total_seconds()
        if policy.grace_time is not None and late > policy.grace_time:
            return False
        return not (policy.mode == "all" and policy.max_age is not None and late > policy.max_age)

    candidates = list(last)[-keep:]
    run = tuple(f for f in candidates if eligible(f))
    return MisfirePlan(run, total - len(run), cur, capped)
