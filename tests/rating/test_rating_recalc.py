"""``cdr recalc``: lost BYEs shortened, re-rating after a rate card change; hand-computed, both backends.

usd-test ``44``: 0.0500/min + 0.0100 connect fee, 30/6, precision 4 rounding up (support.rating_world).

- 3,700 s -> 30 + ceil(3670/6)*6 = 3,702 s billed; 0.01 + 0.05 x 3702/60 = 3.095
- 60 s -> 60 s billed; 0.01 + 0.05 x 60/60 = 0.06; refund 3.095 - 0.06 = 3.035
- 31 s -> 36 s billed; 0.01 + 0.05 x 36/60 = 0.04; at 0.1000/min: 0.01 + 0.1 x 36/60 = 0.07
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from support.rating_world import MANIFESTS, apply_world, cdr_line, parse

from rating import RatingError, loading
from rating.directory import Directory
from rating.ledger import ledger_sum, read_balances
from rating.rater import rate_cdrs
from rating.recalc import recalc
from reconciler.cli import main
from switchdb.tables import cdrs, customers, ledger, package_usage

DAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def load(engine: Engine) -> Directory:
    with engine.connect() as conn:
        return loading.load(conn, now=datetime.now(UTC))


def rate(engine: Engine, *records: dict) -> None:
    rate_cdrs(engine, load(engine), parse(list(records)), now=NOW)


def acme(engine: Engine) -> tuple[Decimal, Decimal, list[tuple[str, str | None, Decimal, Decimal]]]:
    """Balance, sum of the ledger, and the recalc lines (type, reference, amount, balance after)."""
    (balance,) = [b.amount for b in read_balances(engine) if b.customer == "default/acme"]
    with engine.connect() as conn:
        cid = conn.execute(select(customers.c.id).where(customers.c.name == "acme")).scalar_one()
        total = ledger_sum(conn, cid)
        lines = [
            (r.entry_type, r.reference, r.amount, r.balance_after)
            for r in conn.execute(
                select(ledger).where(ledger.c.customer_id == cid, ledger.c.entry_type == "recalc").order_by(ledger.c.id)
            )
        ]
    return balance, total, lines


def row(engine: Engine, call_id: str):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(cdrs).where(cdrs.c.call_id == call_id)).one()


def snapshot(engine: Engine) -> tuple:
    with engine.connect() as conn:
        return (
            [tuple(r) for r in conn.execute(select(cdrs).order_by(cdrs.c.call_id))],
            conn.execute(select(func.count()).select_from(ledger)).scalar_one(),
            acme(engine)[0],
        )


LONG = cdr_line("long", "442071234567", seconds=3700, answer="2026-11-01T10:00:00Z")
SHORT = cdr_line("short", "442071234567", seconds=31, answer="2026-11-01T11:00:00Z")
OTHER_DAY = cdr_line("other-day", "442071234567", seconds=3700, answer="2026-11-02T00:00:00Z")


def test_lost_bye_is_shortened_and_refunded_exactly_once(engine: Engine) -> None:
    rate(engine, LONG, SHORT, OTHER_DAY)
    assert acme(engine)[0] == Decimal("-6.23")  # 3.095 + 0.04 + 3.095
    before = snapshot(engine)

    preview = recalc(engine, load(engine), DAY, min_duration=3600, new_duration=60, now=NOW)
    assert [(c.call_id, c.old_duration, c.old_billed, c.old_cost, c.new_duration, c.new_billed, c.new_cost)
            for c in preview.changes] == [("long", 3700, 3702, Decimal("3.095"), 60, 60, Decimal("0.06"))]  # fmt: skip
    assert preview.changes[0].difference == Decimal("-3.035")
    assert preview.totals() == {("default/acme", "USD"): (Decimal("3.095"), Decimal("0.06"), Decimal("-3.035"))}
    assert snapshot(engine) == before  # the preview writes nothing

    done = recalc(engine, load(engine), DAY, min_duration=3600, new_duration=60, apply=True, now=NOW)
    assert done.applied and done.ledger_lines == 1
    balance, total, lines = acme(engine)
    assert balance == total == Decimal("-3.195")  # -6.23 + 3.035
    assert lines == [("recalc", "long", Decimal("3.035"), Decimal("-3.195"))]
    stored = row(engine, "long")
    assert (stored.billed_seconds, stored.cost, stored.reason) == (
        60,
        Decimal("0.06"),
        "recalc: original duration 3700 s",
    )
    assert stored.end == stored.answer + timedelta(seconds=60)
    assert row(engine, "other-day").billed_seconds == 3702  # another day is not touched

    after = snapshot(engine)
    again = recalc(engine, load(engine), DAY, min_duration=3600, new_duration=60, apply=True, now=NOW)
    assert again.changes == [] and again.ledger_lines == 0
    assert snapshot(engine) == after


def test_rerate_charges_the_changed_rate_card(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    rate(engine, LONG, SHORT)
    changed = MANIFESTS.replace(
        '{prefix: "44", name: UK, perMinute: "0.0500"', '{prefix: "44", name: UK, perMinute: "0.1000"'
    )
    assert changed != MANIFESTS
    apply_world(engine, monkeypatch, changed)

    # Without --rerate the stored price stays: the lost BYE costs 0.06 as before the change.
    recalc(engine, load(engine), DAY, min_duration=3600, new_duration=60, apply=True, now=NOW)
    assert row(engine, "long").cost == Decimal("0.06")
    # --rerate: 60 s -> 0.01 + 0.1 = 0.11; 31 s -> 0.07.
    done = recalc(engine, load(engine), DAY, rerate=True, apply=True, now=NOW)
    assert sorted((c.call_id, c.old_cost, c.new_cost) for c in done.changes) == [
        ("long", Decimal("0.06"), Decimal("0.11")),
        ("short", Decimal("0.04"), Decimal("0.07")),
    ]
    balance, total, lines = acme(engine)
    assert balance == total == Decimal("-0.18")
    assert [(r, a) for _, r, a, _ in lines] == [
        ("long", Decimal("3.035")),
        ("long", Decimal("-0.05")),
        ("short", Decimal("-0.03")),
    ]
    assert row(engine, "short").per_minute == Decimal("0.1")

    after = snapshot(engine)
    assert recalc(engine, load(engine), DAY, rerate=True, apply=True, now=NOW).changes == []
    assert snapshot(engine) == after


def test_package_seconds_do_not_move(engine: Engine) -> None:
    # 90 s to NANP, fully in the 120 s package: cost 0. Shortened to 60 s: 60 package s, still 0, no ledger line.
    rate(engine, cdr_line("nanp", "12125550100", seconds=90, answer="2026-11-01T10:00:00Z"))
    with engine.connect() as conn:
        used = conn.execute(select(package_usage.c.seconds_used)).scalars().all()
    done = recalc(engine, load(engine), DAY, min_duration=90, new_duration=60, apply=True, now=NOW)
    assert (done.ledger_lines, row(engine, "nanp").package_seconds, row(engine, "nanp").cost) == (0, 60, 0)
    with engine.connect() as conn:
        assert conn.execute(select(package_usage.c.seconds_used)).scalars().all() == used == [90]
    assert acme(engine)[2] == []


def test_options_are_checked(engine: Engine) -> None:
    with pytest.raises(RatingError, match="go together"):
        recalc(engine, load(engine), DAY, min_duration=3600)
    with pytest.raises(RatingError, match="nothing to recalculate"):
        recalc(engine, load(engine), DAY)


def test_cli_previews_refuses_without_terminal_and_applies_with_yes(
    engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRUNKLINE_DB", raising=False)
    rate(engine, LONG, SHORT)
    before = snapshot(engine)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(["cdr", "recalc", "--day", "2026-11-01", *args, "--db", db_url])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            code = 0
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = run("--min-duration", "3600", "--new-duration", "60")
    assert code == 2 and "not a terminal" in err
    assert "long" in out and "3.095" in out and "0.06" in out and "-3.035" in out
    assert snapshot(engine) == before

    code, out, _ = run("--customer", "acme", "--min-duration", "3600", "--new-duration", "60", "--yes")
    assert code == 0 and "recalculated 1 call(s), 1 ledger line(s)" in out
    assert acme(engine)[0] == Decimal("-0.1")

    code, out, _ = run("--min-duration", "3600", "--new-duration", "60", "--yes")
    assert code == 0 and "Nothing to recalculate." in out
