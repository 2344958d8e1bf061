"""Traffic statistics per customer: rated CDRs rolled up per minute, read back per minute, day or month.

``roll_up(conn, since)`` recomputes every ``stats_minute`` row from the minute of ``since`` on,
from the ``cdrs`` table: the rows of those minutes are deleted and written again, so rolling up a
minute twice, or after more CDRs of it arrived, leaves exactly what the CDRs say. A call counts
in the minute of its ``start`` (the INVITE); calls that matched no customer count under id 0.

Figures (the definitions of the issue):

- attempts: CDRs; answered: CDRs with an ``answer`` time.
- ASR (ITU-T E.411) = answered ÷ attempts, in percent; a 486 Busy is not answered.
- NER (ITU-T E.425) = (answered + user-determined failures) ÷ attempts, in percent. The
  user-determined codes are counted as ``busy`` (486, 600), ``no_answer`` (480, 487) and
  ``rejected`` (603 Decline); 5xx and every other failure are network failures.
- ACD = answered seconds ÷ answered calls; a call's seconds are ``end - answer`` rounded up to
  whole seconds (the conversation, not the billed increments).
- PDD (RFC 6076 SRD) = ``pddMs`` of the CDR, average and p95 over calls that report it. The p95
  is computed from the raw ``cdrs.pdd_ms`` of the requested window (nearest rank), not from
  the minute rows: a percentile cannot be added up, and the CDRs are kept anyway.
- peak CPS: the most INVITEs (call starts) in one second of the minute.
- peak channels: the most calls up at once (``start`` ≤ t < ``end``) at any instant of the
  minute; a long call also makes rows for the minutes it spans without new attempts.

Days and months are queries over the minute rows (UTC calendar), not materialised: a month is
at most 44,640 rows per customer, and there is only one table to keep right.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection, delete, func, insert, or_, select

from rating.cdr import utc_text
from switchdb.tables.rating import cdrs, stats_minute

Granularity = Literal["minute", "day", "month"]
GRANULARITIES: tuple[Granularity, ...] = ("minute", "day", "month")

BUSY = frozenset({486, 600})
NO_ANSWER = frozenset({480, 487})
REJECTED = frozenset({603})
UNMATCHED_CUSTOMER = 0

_MINUTE = timedelta(minutes=1)
# pg_advisory_xact_lock key ("tlstats" in ASCII): one roll-up at a time, see ``roll_up``.
ROLL_UP_LOCK_KEY = 0x746C7374617473
_HUNDRED = Decimal(100)


def floor_minute(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def bucket_start(at: datetime, by: Granularity) -> datetime:
    """The UTC minute, day or month ``at`` falls in."""
    minute = floor_minute(at)
    if by == "minute":
        return minute
    day = minute.replace(hour=0, minute=0)
    return day if by == "day" else day.replace(day=1)


def p95(values: Iterable[int]) -> int | None:
    """Nearest-rank 95th percentile: the smallest value at least 95% of the values do not exceed."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


@dataclass(slots=True)
class Figures:
    """The counters of one customer over one period (a minute, a day, a month, an alert window)."""

    start: datetime | None = None
    attempts: int = 0
    answered: int = 0
    busy: int = 0
    no_answer: int = 0
    rejected: int = 0
    answered_seconds: int = 0
    pdd_sum_ms: int = 0
    pdd_count: int = 0
    peak_cps: int = 0
    peak_channels: int = 0
    sip_codes: dict[str, int] = field(default_factory=dict)
    pdd_p95_ms: int | None = None

    @property
    def asr(self) -> Decimal | None:
        """Answer-seizure ratio in percent; None without attempts."""
        return None if not self.attempts else Decimal(self.answered) * _HUNDRED / self.attempts

    @property
    def ner(self) -> Decimal | None:
        """Network effectiveness ratio in percent; None without attempts."""
        if not self.attempts:
            return None
        effective = self.answered + self.busy + self.no_answer + self.rejected
        return Decimal(effective) * _HUNDRED / self.attempts

    @property
    def acd(self) -> Decimal | None:
        """Average call duration in seconds; None without answered calls."""
        return None if not self.answered else Decimal(self.answered_seconds) / self.answered

    @property
    def pdd_avg_ms(self) -> Decimal | None:
        return None if not self.pdd_count else Decimal(self.pdd_sum_ms) / self.pdd_count

    def add(self, row: Any) -> None:
        """Fold one ``stats_minute`` row in: counters add up, peaks take the maximum."""
        for name in ("attempts", "answered", "busy", "no_answer", "rejected", "answered_seconds"):
            setattr(self, name, getattr(self, name) + row[name])
        self.pdd_sum_ms += row["pdd_sum_ms"]
        self.pdd_count += row["pdd_count"]
        self.peak_cps = max(self.peak_cps, row["peak_cps"])
        self.peak_channels = max(self.peak_channels, row["peak_channels"])
        for code, count in (row["sip_codes"] or {}).items():
            self.sip_codes[code] = self.sip_codes.get(code, 0) + count

    def as_json(self) -> dict[str, Any]:
        def rounded(value: Decimal | None, places: str = "0.01") -> float | None:
            return None if value is None else float(value.quantize(Decimal(places)))

        return {
            "start": None if self.start is None else utc_text(self.start),
            "attempts": self.attempts,
            "answered": self.answered,
            "busy": self.busy,
            "noAnswer": self.no_answer,
            "rejected": self.rejected,
            "asr": rounded(self.asr),
            "ner": rounded(self.ner),
            "acd": rounded(self.acd),
            "pddAvgMs": rounded(self.pdd_avg_ms, "0.1"),
            "pddP95Ms": self.pdd_p95_ms,
            "peakCps": self.peak_cps,
            "peakChannels": self.peak_channels,
            "sipCodes": dict(sorted(self.sip_codes.items())),
        }


def _seconds_up(answer: datetime, end: datetime) -> int:
    return max(0, math.ceil((end - answer).total_seconds()))


def _peak_channels(calls: list[tuple[datetime, datetime]]) -> dict[datetime, int]:
    """Minute → most calls up at once in it, by a sweep over starts and ends (an end frees first)."""
    events = sorted([(s, 1) for s, e in calls if e > s] + [(e, -1) for s, e in calls if e > s])
    peaks: dict[datetime, int] = {}
    current = 0
    cursor: datetime | None = None
    for at, delta in events:
        minute = floor_minute(at)
        if current > 0 and cursor is not None:
            # The level held from the previous event through every minute up to this one.
            while cursor <= minute:
                peaks[cursor] = max(peaks.get(cursor, 0), current)
                cursor += _MINUTE
        current += delta
        if current > 0:
            peaks[minute] = max(peaks.get(minute, 0), current)
        cursor = minute
    return peaks


def roll_up(conn: Connection, since: datetime) -> int:
    """Recompute ``stats_minute`` for every customer from the minute of ``since`` on; returns rows written.

    On PostgreSQL roll-ups take turns (a transaction-level advisory lock, before reading): two at
    once both deleted the minutes, then the second inserted rows the first had just inserted.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(ROLL_UP_LOCK_KEY)))
    first = floor_minute(since)
    end = cdrs.c["end"]
    query = select(cdrs.c.customer_id, cdrs.c.start, cdrs.c.answer, end, cdrs.c.sip_code, cdrs.c.pdd_ms).where(
        or_(end > first, cdrs.c.start >= first)
    )
    minutes: dict[tuple[int, datetime], Figures] = {}
    per_second: dict[tuple[int, datetime], int] = {}
    spans: dict[int, list[tuple[datetime, datetime]]] = {}
    for customer_id, start, answer, stop, sip_code, pdd_ms in conn.execute(query):
        customer = UNMATCHED_CUSTOMER if customer_id is None else customer_id
        spans.setdefault(customer, []).append((start, stop))
        if start < first:
            continue  # only its channel counts in the minutes rolled up
        minute = floor_minute(start)
        figures = minutes.setdefault((customer, minute), Figures(start=minute))
        figures.attempts += 1
        if answer is not None:
            figures.answered += 1
            figures.answered_seconds += _seconds_up(answer, stop)
        elif sip_code in BUSY:
            figures.busy += 1
        elif sip_code in NO_ANSWER:
            figures.no_answer += 1
        elif sip_code in REJECTED:
            figures.rejected += 1
        if pdd_ms is not None:
            figures.pdd_sum_ms += pdd_ms
            figures.pdd_count += 1
        code = str(sip_code)
        figures.sip_codes[code] = figures.sip_codes.get(code, 0) + 1
        second = (customer, start.replace(microsecond=0))
        per_second[second] = per_second.get(second, 0) + 1
    for (customer, second), count in per_second.items():
        figures = minutes[(customer, floor_minute(second))]
        figures.peak_cps = max(figures.peak_cps, count)
    for customer, calls in spans.items():
        for minute, peak in _peak_channels(calls).items():
            if minute >= first:
                figures = minutes.setdefault((customer, minute), Figures(start=minute))
                figures.peak_channels = max(figures.peak_channels, peak)
    conn.execute(delete(stats_minute).where(stats_minute.c.minute >= first))
    rows = [_row(customer, figures) for (customer, _), figures in sorted(minutes.items())]
    if rows:
        conn.execute(insert(stats_minute), rows)
    return len(rows)


def _row(customer_id: int, figures: Figures) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "minute": figures.start,
        "attempts": figures.attempts,
        "answered": figures.answered,
        "busy": figures.busy,
        "no_answer": figures.no_answer,
        "rejected": figures.rejected,
        "answered_seconds": figures.answered_seconds,
        "pdd_sum_ms": figures.pdd_sum_ms,
        "pdd_count": figures.pdd_count,
        "peak_cps": figures.peak_cps,
        "peak_channels": figures.peak_channels,
        "sip_codes": figures.sip_codes,
    }


def _minute_rows(conn: Connection, customer_id: int, since: datetime, until: datetime) -> Iterator[Any]:
    query = (
        select(stats_minute)
        .where(
            stats_minute.c.customer_id == customer_id,
            stats_minute.c.minute >= since,
            stats_minute.c.minute < until,
        )
        .order_by(stats_minute.c.minute)
    )
    return iter(conn.execute(query).mappings())


def _pdd_values(conn: Connection, customer_id: int, since: datetime, until: datetime) -> Iterator[tuple[datetime, int]]:
    customer = None if customer_id == UNMATCHED_CUSTOMER else customer_id
    query = select(cdrs.c.start, cdrs.c.pdd_ms).where(
        cdrs.c.customer_id.is_(None) if customer is None else cdrs.c.customer_id == customer,
        cdrs.c.start >= since,
        cdrs.c.start < until,
        cdrs.c.pdd_ms.is_not(None),
    )
    return iter(conn.execute(query).tuples())


def series(conn: Connection, customer_id: int, *, by: Granularity, since: datetime, until: datetime) -> list[Figures]:
    """One ``Figures`` per minute, day or month in [since, until) that has a minute row, oldest first."""
    since, until = floor_minute(since), floor_minute(until - timedelta(microseconds=1)) + _MINUTE
    buckets: dict[datetime, Figures] = {}
    for row in _minute_rows(conn, customer_id, since, until):
        start = bucket_start(row["minute"], by)
        buckets.setdefault(start, Figures(start=start)).add(row)
    pdds: dict[datetime, list[int]] = {}
    for start, pdd in _pdd_values(conn, customer_id, since, until):
        pdds.setdefault(bucket_start(start, by), []).append(pdd)
    for start, figures in buckets.items():
        figures.pdd_p95_ms = p95(pdds.get(start, ()))
    return [buckets[start] for start in sorted(buckets)]


def window(conn: Connection, customer_id: int, *, since: datetime, until: datetime) -> Figures:
    """All minutes in [since, until) as one ``Figures`` (what an alert's samplePeriod looks at)."""
    figures = Figures(start=since)
    for row in _minute_rows(conn, customer_id, since, until):
        figures.add(row)
    figures.pdd_p95_ms = p95(pdd for _, pdd in _pdd_values(conn, customer_id, since, until))
    return figures
