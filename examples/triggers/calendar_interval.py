"""CalendarIntervalTrigger: every two months on the 31st at 10:00, through DST changes.

Run: python examples/triggers/calendar_interval.py
"""

from datetime import UTC, date, datetime

from asyncron import CalendarIntervalTrigger

for policy in ("skip", "clamp"):
    trigger = CalendarIntervalTrigger(
        months=2, hour=10, timezone="Europe/Berlin", start=date(2026, 7, 31), missing_day=policy
    )
    print(trigger.describe())
    t = datetime(2026, 7, 1, tzinfo=UTC)
    for _ in range(4):
        t = trigger.get_next_run(t)
        print(" ", t.isoformat())

# 02:30 does not exist in Berlin on 2026-03-29: that day's fire runs at 03:00, the first
# instant after the gap; the wall-clock time is back to 02:30 the next day.
nightly = CalendarIntervalTrigger(days=1, hour=2, minute=30, timezone="Europe/Berlin",
                                  start=date(2026, 3, 28))
t = datetime(2026, 3, 27, tzinfo=UTC)
for _ in range(3):
    t = nightly.get_next_run(t)
    print(" ", t.isoformat())
