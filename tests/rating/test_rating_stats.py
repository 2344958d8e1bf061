"""Per-minute roll-up of rated CDRs and the figures read back from it, checked against hand-computed values.

The minute of 10:00 holds ten calls (times are seconds after 10:00:00 UTC):

=====  =====  ======  =====  ====  ======
call   start  answer  end    code  pdd ms
=====  =====  ======  =====  ====  ======
a1     0      1       31     200   100
a2     0      1       61     200   200
a3     0      2       92     200   300
a4     10     11      131    200   400
a5     20     21      171    200   500
a6     40     41      221    200   600
b1     5      -       6      486   700
b2     5      -       7      486   800
f      50     -       51     503   -
c      55     -       85     487   1000
=====  =====  ======  =====  ====  ======

- ASR 6/10 = 60 %; NER (6 answered + 2 busy + 1 cancelled) / 10 = 90 % (the 503 is a network failure).
- ACD (30+60+90+120+150+180) / 6 = 105 s.
- PDD over the 9 calls that report it: 4600 / 9 = 511.1 ms; p95 (nearest rank 9 of 9) = 1000 ms.
- Peak CPS 3 (three INVITEs at 10:00:00). Channels: 6 at 10:00:50 and 10:00:55; 10:01 starts with
  a2..a6 and c up = 6; at 10:02 a4, a5, a6 = 3; at 10:03 a6 = 1; nothing at 10:04.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert, select

from rating.stats import Figures, p95, roll_up, series, window
from switchdb.engine import open_database
from switchdb.tables.rating import cdrs, stats_minute

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
ACME = 7

CALLS = [
    # call id, start s, answer s, end s, code, pdd
    ("a1", 0, 1, 31, 200, 100),
    ("a2", 0, 1, 61, 200, 200),
    ("a3", 0, 2, 92, 200, 300),
    ("a4", 10, 11, 131, 200, 400),
    ("a5", 20, 21, 171, 200, 500),
    ("a6", 40, 41, 221, 200, 600),
    ("b1", 5, None, 6, 486, 700),
    ("b2", 5, None, 7, 486, 800),
    ("f", 50, None, 51, 503, None),
    ("c", 55, None, 85, 487, 1000),
]


def cdr_row(
    call_id: str,
    start: float,
    answer: float | None,
    end: float,
    code: int,
    pdd: int | None,
    *,
    customer: int | None = ACME,
    t0: datetime = T0,
) -> dict[str, object]:
    at = lambda s: t0 + timedelta(seconds=s)  # noqa: E731
    return {
        "call_id": call_id,
        "start": at(start),
        "answer": None if answer is None else at(answer),
        "end": at(end),
        "cli": "15550001",
        "dialed": "442071234567",
        "sip_code": code,
        "pdd_ms": pdd,
        "customer_id": customer,
        "status": "Rated" if customer is not None else "Rejected",
    }


def store(engine: Engine, rows: list[dict[str, object]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(cdrs), rows)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_database(db_url)
    store(engine, [cdr_row(*call) for call in CALLS])
    yield engine
    engine.dispose()


def minute_rows(engine: Engine) -> dict[tuple[int, datetime], dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(select(stats_minute)).mappings().all()
    return {(r["customer_id"], r["minute"]): dict(r) for r in rows}


def test_roll_up_matches_the_hand_computed_minute(engine: Engine) -> None:
    with engine.begin() as conn:
        written = roll_up(conn, T0)
    rows = minute_rows(engine)
    assert written == 4
    first = rows[(ACME, T0)]
    assert {k: v for k, v in first.items() if k not in ("customer_id", "minute")} == {
        "attempts": 10,
        "answered": 6,
        "busy": 2,
        "no_answer": 1,
        "rejected": 0,
        "answered_seconds": 630,
        "pdd_sum_ms": 4600,
        "pdd_count": 9,
        "peak_cps": 3,
        "peak_channels": 6,
        "sip_codes": {"200": 6, "486": 2, "503": 1, "487": 1},
    }
    channels = {minute: row["peak_channels"] for (_, minute), row in rows.items()}
    assert channels == {T0: 6, T0 + timedelta(minutes=1): 6, T0 + timedelta(minutes=2): 3, T0 + timedelta(minutes=3): 1}
    assert all(row["attempts"] == 0 for (_, minute), row in rows.items() if minute != T0)


def test_figures_asr_ner_acd_pdd(engine: Engine) -> None:
    with engine.begin() as conn:
        roll_up(conn, T0)
        figures = window(conn, ACME, since=T0, until=T0 + timedelta(minutes=5))
    assert figures.asr == Decimal(60)
    assert figures.ner == Decimal(90)
    assert figures.acd == Decimal(105)
    assert figures.pdd_avg_ms is not None and round(figures.pdd_avg_ms, 1) == Decimal("511.1")
    assert figures.pdd_p95_ms == 1000
    assert (figures.peak_cps, figures.peak_channels) == (3, 6)
    assert figures.as_json()["ner"] == 90.0


def test_roll_up_again_replaces_the_minute(engine: Engine) -> None:
    with engine.begin() as conn:
        roll_up(conn, T0)
    before = minute_rows(engine)
    with engine.begin() as conn:
        roll_up(conn, T0)
    assert minute_rows(engine) == before
    # A late CDR of the same minute: rolling up again counts it once, not on top of the old row.
    store(engine, [cdr_row("late", 59, None, 59.5, 603, None)])
    with engine.begin() as conn:
        roll_up(conn, T0 + timedelta(seconds=30))
    row = minute_rows(engine)[(ACME, T0)]
    assert (row["attempts"], row["rejected"], row["sip_codes"]["603"]) == (11, 1, 1)


def test_roll_up_since_a_later_minute_keeps_earlier_rows_and_counts_calls_still_up(engine: Engine) -> None:
    with engine.begin() as conn:
        roll_up(conn, T0)
        # From 10:02 on: a4, a5, a6 started earlier but are up, so the channels are counted again.
        roll_up(conn, T0 + timedelta(minutes=2, seconds=10))
    rows = minute_rows(engine)
    assert rows[(ACME, T0)]["attempts"] == 10
    assert rows[(ACME, T0 + timedelta(minutes=2))]["peak_channels"] == 3


def test_unmatched_calls_count_under_customer_zero(engine: Engine) -> None:
    store(engine, [cdr_row("x", 0, None, 1, 403, 50, customer=None)])
    with engine.begin() as conn:
        roll_up(conn, T0)
        figures = window(conn, 0, since=T0, until=T0 + timedelta(minutes=1))
    assert (figures.attempts, figures.sip_codes, figures.pdd_p95_ms) == (1, {"403": 1}, 50)


def test_days_and_months_add_minutes_and_take_peaks(engine: Engine) -> None:
    next_day = T0 + timedelta(days=1, hours=3)
    next_month = datetime(2025, 4, 2, 8, 0, tzinfo=UTC)
    store(
        engine,
        [
            cdr_row("d1", 0, 0, 60, 200, 2000, t0=next_day),
            cdr_row("d2", 0, None, 1, 486, None, t0=next_day),
            cdr_row("m1", 0, 0, 10, 200, 300, t0=next_month),
        ],
    )
    with engine.begin() as conn:
        roll_up(conn, T0)
        days = series(conn, ACME, by="day", since=T0, until=datetime(2025, 5, 1, tzinfo=UTC))
        months = series(conn, ACME, by="month", since=T0, until=datetime(2025, 5, 1, tzinfo=UTC))
        minutes = series(conn, ACME, by="minute", since=T0, until=T0 + timedelta(minutes=2))
    assert [d.start for d in days] == [T0.replace(hour=0), next_day.replace(hour=0), next_month.replace(hour=0)]
    assert [(d.attempts, d.answered, d.answered_seconds, d.peak_channels) for d in days] == [
        (10, 6, 630, 6),
        (2, 1, 60, 2),
        (1, 1, 10, 1),
    ]
    march, april = months
    assert (march.attempts, march.answered, march.busy, march.peak_channels) == (12, 7, 3, 6)
    assert march.asr == Decimal(7) * 100 / 12
    # p95 of the month comes from the raw PDDs: 100..800, 1000, 2000 → nearest rank 10 of 10.
    assert march.pdd_p95_ms == 2000
    assert (april.start, april.attempts, april.pdd_p95_ms) == (datetime(2025, 4, 1, tzinfo=UTC), 1, 300)
    assert [m.start for m in minutes] == [T0, T0 + timedelta(minutes=1)]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([], None, id="no-values"),
        pytest.param([5], 5, id="one-value"),
        pytest.param(list(range(1, 21)), 19, id="twenty-values-rank-19"),
        pytest.param(list(range(1, 101)), 95, id="hundred-values-rank-95"),
        pytest.param([9, 1, 5], 9, id="unsorted-small-set-takes-the-max"),
    ],
)
def test_p95_nearest_rank(values: list[int], expected: int | None) -> None:
    assert p95(values) == expected


def test_empty_figures_have_no_ratios() -> None:
    empty = Figures()
    assert (empty.asr, empty.ner, empty.acd, empty.pdd_avg_ms) == (None, None, None, None)
