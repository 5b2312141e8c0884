"""AndTrigger: Friday the 13th at midnight, found by leapfrogging, never by scanning days.

Run: python examples/triggers/and_trigger.py
"""

import logging
from datetime import UTC, datetime

from asyncron import AndTrigger, CronTrigger

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

thirteenth = CronTrigger("0 0 13 * *", "UTC")
friday = CronTrigger("0 0 * * 5", "UTC")
friday_13th = AndTrigger(thirteenth, friday)  # or: thirteenth & friday

print(friday_13th.describe())
t = datetime(2026, 1, 1, tzinfo=UTC)
for _ in range(3):
    t = friday_13th.get_next_run(t)
    print(" ", t.date().isoformat(), t.strftime("%a"))

# Members that can never agree: a bounded search answers None (and logs why), never hangs.
never = CronTrigger("0 0 * * 1", "UTC") & CronTrigger("0 0 * * 2", "UTC")
print("Monday and Tuesday at once:", never.get_next_run(t))
