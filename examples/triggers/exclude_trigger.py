"""ExcludeTrigger: every 30 minutes during office hours, except the 12:00-13:59 lunch slots.

Run: python examples/triggers/exclude_trigger.py
"""

from datetime import UTC, datetime

from asyncron import CronTrigger, ExcludeTrigger

office = CronTrigger("*/30 9-16 * * 1-5", "Europe/London")
lunch = CronTrigger("*/30 12-13 * * *", "Europe/London")
trigger = office.exclude(lunch)  # the same as ExcludeTrigger(office, lunch)
assert trigger == ExcludeTrigger(office, lunch)

print(trigger.describe())
t = datetime(2026, 5, 4, 11, 0, tzinfo=UTC)  # 12:00 in London (BST)
for _ in range(3):
    t = trigger.get_next_run(t)
    print(" ", t.isoformat())
