"""Package periods: which Daily/Weekly/Monthly/Yearly/OneOff period a day falls in, and the next.

One definition for the allowance the rater consumes and the charge the package charger debits,
so a package's minutes and its price always cover the same days. Periods are UTC calendar
periods: a day, a week from Monday, a month from the 1st, a year from 1 January. ``OneOff`` is
one period for the package's whole life, keyed by its start date (1970-01-01 without one).
"""

from __future__ import annotations

from datetime import date, timedelta

EPOCH = date(1970, 1, 1)


def period_start(frequency: str, day: date, start_date: date | None = None) -> date:
    """First day of the period of ``frequency`` holding ``day``."""
    if frequency == "Daily":
        return day
    if frequency == "Weekly":
        return day - timedelta(days=day.weekday())
    if frequency == "Monthly":
        return day.replace(day=1)
    if frequency == "Yearly":
        return day.replace(month=1, day=1)
    return start_date or EPOCH


def next_period_start(frequency: str, start: date) -> date | None:
    """First day of the period after the one starting ``start``; None for ``OneOff`` (no next)."""
    if frequency == "Daily":
        return start + timedelta(days=1)
    if frequency == "Weekly":
        return start + timedelta(days=7)
    if frequency == "Monthly":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    if frequency == "Yearly":
        return date(start.year + 1, 1, 1)
    return None
