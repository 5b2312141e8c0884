"""OrTrigger: fire at 09:00 on weekdays and also at 12:00 on Saturdays (each instant once).

Run: python examples/triggers/or_trigger.py
"""

from datetime import UTC, datetime

from asyncron import CronTrigger, OrTrigger

weekday_mornings = CronTrigger("0 9 * * 1-5", "Europe/Berlin")
saturday_noon = CronTrigger("0 12 * * 6", "Europe/Berlin")
either = OrTrigger(weekday_mornings, saturday_noon)  # or: weekday_mornings | saturday_noon
assert either == weekday_mornings | saturday_noon

print(either.describe())
t = datetime(2026, 3, 26, tzinfo=UTC)
for _ in range(4):
    t = either.get_next_run(t)
    print(" ", t.isoformat(), t.strftime("%a"))
