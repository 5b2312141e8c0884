"""The one-shot trigger."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from .._tz import ensure_aware, local_zone
from ..abc import Trigger

__all__ = ["OnceTrigger"]


class OnceTrigger(Trigger):
    """Fires once, at ``run_at``.

    A naive ``run_at`` is read in the local time zone. A job given a ``run_at`` that has already
    passed when it is scheduled runs at once (its lateness shows how late); the classic "no trigger
    means run once, now" is ``OnceTrigger(now)``.
    """

    __slots__ = ("run_at",)

    run_at: datetime

    def __init__(self, run_at: datetime) -> None:
        object.__setattr__(self, "run_at", ensure_aware(run_at, local_zone(), field="run_at"))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        if from_time is None:
            from_time = datetime.now(UTC)
        else:
            from_time = ensure_aware(from_time, local_zone(), field="from_time")
        return self.run_at if self.run_at > from_time else None

    def get_first_run(self, now: datetime) -> datetime | None:
        return self.run_at

    @property
    def timezone(self) -> tzinfo | None:
        """The zone of ``run_at`` (the zone a job's ``next_run`` is shown in)."""
        return self.run_at.tzinfo

    def __reduce__(self) -> tuple[object, ...]:
        # The default reduce would restore the slot through __setattr__, which refuses.
        return (OnceTrigger, (self.run_at,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OnceTrigger) and other.run_at == self.run_at

    def __hash__(self) -> int:
        return hash((OnceTrigger, self.run_at))

    def __repr__(self) -> str:
        return f"OnceTrigger({self.run_at.isoformat()!r})"

    def __str__(self) -> str:
        return f"once at {self.run_at.isoformat()}"
