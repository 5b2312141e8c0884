"""BusinessCalendar: 09:00 on weekdays except Hesse's public holidays; or moved to a business day.

Needs the holidays package: pip install 'asyncron[calendars]'.
Run: python examples/triggers/business_calendar.py
"""

from datetime import UTC, date, datetime

from asyncron import BusinessCalendar, CronTrigger

hesse = BusinessCalendar("DE", "HE", extra_holidays=[date(2026, 12, 24)])
print("Good Friday 2026 is a business day:", hesse.is_business_day(date(2026, 4, 3)))

standup = CronTrigger("0 9 * * 1-5", "Europe/Berlin").exclude(hesse)
print(standup.describe())
t = datetime(2026, 4, 1, tzinfo=UTC)
for _ in range(3):
    t = standup.get_next_run(t)
    print(" ", t.isoformat(), t.strftime("%a"))

# A report due on the 3rd of each month: on a holiday or weekend, run it the business day before.
report = CronTrigger("0 18 3 * *", "Europe/Berlin").exclude(hesse, shift="previous")
print(report.describe())
t = datetime(2026, 3, 30, tzinfo=UTC)
for _ in range(3):
    t = report.get_next_run(t)
    print(" ", t.isoformat(), t.strftime("%a"))
