"""BusinessDayTrigger: 18:00 on the last business day of every month in Frankfurt, and the 3rd.

Needs the holidays package: pip install 'asyncron[calendars]'.
Run: python examples/triggers/business_day.py
"""

from datetime import UTC, datetime

from asyncron import BusinessCalendar, BusinessDayTrigger

hesse = BusinessCalendar("DE", "HE")
month_end = BusinessDayTrigger(hesse, -1, hour=18, timezone="Europe/Berlin")
third = BusinessDayTrigger(hesse, 3, hour=9, timezone="Europe/Berlin")
for trigger in (month_end, third):
    print(trigger.describe())
    t = datetime(2026, 3, 1, tzinfo=UTC)
    for _ in range(3):
        t = trigger.get_next_run(t)
        print(" ", t.isoformat(), t.strftime("%a"))
