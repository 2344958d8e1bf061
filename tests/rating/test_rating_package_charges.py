"""Package charging: each due period once, never the past before the package was seen, shortfalls of
minimum-spend commitments after their period, through ledger lines that sum to the balance."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from support.cli import run_cli
from support.polling import wait_until
from support.rating_world import MANIFESTS, apply_world, cdr_line, parse
from support.sidecar import SidecarProcess, http

from rating import loading
from rating.ledger import ledger_sum, money_text, read_balances
from rating.package_charges import PackageCharge, charge_packages
from rating.periods import next_period_start, period_start
from rating.rater import rate_cdrs
from switchdb.engine import open_database
from switchdb.tables import ledger, package_billing, package_charges

PACKAGES = """
---
apiVersion: trunkline.dev/v1alpha1
kind: Package
metadata: {name: monthly}
spec: {customerRef: acme, name: NANP bundle, quantity: 2, cost: "10", frequency: Monthly, autoDecrementCredit: true}
---
apiVersion: trunkline.dev/v1alpha1
kind: Package
metadata: {name: weekly}
spec:
  customerRef: acme
  name: Weekly support
  cost: "1"
  frequency: Weekly
  startDate: 2026-01-05          # months before the charger first runs: those weeks are not billed
  autoDecrementCredit: true
---
apiVersion: trunkline.dev/v1alpha1
kind: Package
metadata: {name: setup}
spec:
  customerRef: acme
  name: Interconnect setup
  cost: "150"
  frequency: OneOff
  startDate: 2026-12-01
  autoDecrementCredit: true
---
apiVersion: trunkline.dev/v1alpha1
kind: Package
metadata: {name: ending}
spec:
  customerRef: acme
  name: Promo
  cost: "5"
  frequency: Monthly
  endDate: 2026-12-15
  autoDecrementCredit: true
---
apiVersion: trunkline.dev/v1alpha1
kind: Package
metadata: {name: invoiced}
spec: {customerRef: acme, name: Premium support, cost: "1200", frequency: Yearly, autoDecrementCredit: false}
---
apiVersion: trunkline.dev/v1alpha1
kind: Package
metadata: {name: commitment}
spec:
  customerRef: bluefin
  name: Monthly commitment
  cost: "1"
  frequency: Monthly
  minimumSpend: true
  autoDecrementCredit: true
"""

FIRST_SEEN = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
NEW_YEAR = datetime(2027, 1, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    engine = open_database(db_url)
    apply_world(engine, monkeypatch, MANIFESTS + PACKAGES)
    yield engine
    engine.dispose()


def summary(charges: list[PackageCharge]) -> list[tuple[str, str, str, str]]:
    return sorted((c.package, c.kind, c.period_start.isoformat(), money_text(c.amount)) for c in charges)


def balance(engine: Engine, ref: str) -> Decimal:
    return {b.customer: b.amount for b in read_balances(engine)}[ref]


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_each_period_is_charged_once_from_the_first_run_on(engine: Engine) -> None:
    first = charge_packages(engine, FIRST_SEEN)
    # The month and the week holding 25 November; the OneOff starts in December, the invoiced
    # package is never debited and a commitment is settled when its month is over.
    assert summary(first) == [
        ("default/ending", "period", "2026-11-01", "5"),
        ("default/monthly", "period", "2026-11-01", "20"),
        ("default/weekly", "period", "2026-11-23", "1"),
    ]
    assert balance(engine, "default/acme") == Decimal("-26")
    assert charge_packages(engine, FIRST_SEEN.replace(hour=23)) == []  # same periods: nothing more

    # The charger was down through December: the missed periods are caught up, in order.
    caught_up = charge_packages(engine, NEW_YEAR)
    weeks = [("default/weekly", "period", day, "1") for day in ("2026-11-30", "2026-12-07", "2026-12-14")]
    weeks += [("default/weekly", "period", day, "1") for day in ("2026-12-21", "2026-12-28")]
    assert summary(caught_up) == sorted(
        [
            ("default/commitment", "minimum_spend", "2026-11-01", "1"),
            ("default/commitment", "minimum_spend", "2026-12-01", "1"),
            ("default/ending", "period", "2026-12-01", "5"),  # not January: it ended 15 December
            ("default/monthly", "period", "2026-12-01", "20"),
            ("default/monthly", "period", "2027-01-01", "20"),
            ("default/setup", "period", "2026-12-01", "150"),
            *weeks,
        ]
    )
    assert balance(engine, "default/acme") == Decimal("-26") - 5 - 40 - 150 - 5
    assert balance(engine, "default/bluefin") == Decimal("-2")
    assert charge_packages(engine, NEW_YEAR) == []


def test_ledger_lines_explain_every_charge_and_sum_to_the_balance(engine: Engine) -> None:
    charged = charge_packages(engine, FIRST_SEEN)
    with engine.connect() as conn:
        acme_id = conn.execute(select(ledger.c.customer_id).limit(1)).scalar_one()
        lines = conn.execute(
            select(ledger.c.entry_type, ledger.c.amount, ledger.c.reference, ledger.c.description).order_by(ledger.c.id)
        ).all()
        assert ledger_sum(conn, acme_id) == balance(engine, "default/acme") == Decimal("-26")
    assert [(line.entry_type, line.amount) for line in lines] == [("package", -c.amount) for c in charged]
    monthly = next(line for line in lines if line.reference == "package:default/monthly:period:2026-11-01")
    assert monthly.description == "package NANP bundle (Monthly 2026-11-01..2026-11-30, 2 x 10)"
    running = [sum((-c.amount for c in charged[: i + 1]), Decimal(0)) for i in range(len(charged))]
    assert [c.balance_after for c in charged] == running and running[-1] == Decimal("-26")


def test_a_minimum_spend_commitment_charges_only_the_shortfall(engine: Engine) -> None:
    charge_packages(engine, FIRST_SEEN)  # first seen in November: November's commitment counts
    with engine.connect() as conn:
        directory = loading.load(conn, now=FIRST_SEEN)
    # Bluefin's calls to 33 cost 0.02/min, 1/1: 30 s = 0.01 in November, 3000 s = 1.00 in December.
    calls = [
        cdr_line("nov", "33142685300", seconds=30, source="192.0.2.20", answer="2026-11-26T09:00:00Z"),
        cdr_line("dec", "33142685300", seconds=3000, source="192.0.2.20", answer="2026-12-03T09:00:00Z"),
    ]
    rate_cdrs(engine, directory, parse(calls), now=NEW_YEAR)
    shortfalls = [c for c in charge_packages(engine, NEW_YEAR) if c.kind == "minimum_spend"]
    assert [(c.period_start, c.amount) for c in shortfalls] == [
        (date(2026, 11, 1), Decimal("0.99")),
        (date(2026, 12, 1), Decimal("0")),  # spent the whole commitment: recorded, nothing debited
    ]
    assert "committed 1, spent 0.01" in shortfalls[0].description
    assert balance(engine, "default/bluefin") == Decimal("-0.01") - Decimal("1.00") - Decimal("0.99")
    with engine.connect() as conn:
        refs = conn.execute(select(ledger.c.reference).where(ledger.c.entry_type == "package")).scalars().all()
    assert "package:default/commitment:minimum_spend:2026-12-01" not in refs


def test_dry_run_shows_the_same_charges_and_writes_nothing(engine: Engine) -> None:
    preview = charge_packages(engine, FIRST_SEEN, dry_run=True)
    assert (count(engine, package_charges), count(engine, package_billing), count(engine, ledger)) == (0, 0, 0)
    assert charge_packages(engine, FIRST_SEEN) == preview


def test_two_chargers_at_once_charge_each_period_once(db_url: str, engine: Engine) -> None:
    barrier = threading.Barrier(2)
    results: list[list[PackageCharge]] = []

    def charger() -> None:
        own = open_database(db_url)
        barrier.wait()
        results.append(charge_packages(own, FIRST_SEEN))
        own.dispose()

    threads = [threading.Thread(target=charger) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(len(r) for r in results) == [0, 3]
    assert count(engine, package_charges) == count(engine, ledger) == 3
    assert balance(engine, "default/acme") == Decimal("-26")


def test_cli_previews_then_charges(engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    preview = run_cli(capsys, "packages", "charge", "--db", db_url, "--at", "2026-11-25T10:00:00Z", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "default/monthly" in preview.stdout and "Monthly 2026-11-01..2026-11-30" in preview.stdout
    assert "3 package period(s) would be charged (dry run: nothing written): 26 USD" in preview.stdout
    assert count(engine, ledger) == 0

    done = run_cli(capsys, "packages", "charge", "--db", db_url, "--at", "2026-11-25T10:00:00Z", "-o", "json")
    assert done.returncode == 0, done.stderr
    assert '"balanceAfter": "-26"' in done.stdout and '"dryRun": false' in done.stdout
    again = run_cli(capsys, "packages", "charge", "--db", db_url, "--at", "2026-11-25T11:00:00Z")
    assert (again.returncode, again.stdout.strip()) == (0, "no package charges due")

    bad = run_cli(capsys, "packages", "charge", "--db", db_url, "--at", "yesterday")
    assert bad.returncode == 2 and "'yesterday' is not a date or an RFC 3339 time" in bad.stderr


@pytest.mark.parametrize(
    ("frequency", "day", "start", "following"),
    [
        ("Daily", date(2026, 12, 31), date(2026, 12, 31), date(2027, 1, 1)),
        ("Weekly", date(2026, 11, 29), date(2026, 11, 23), date(2026, 11, 30)),  # a Sunday: week from Monday
        ("Monthly", date(2026, 12, 15), date(2026, 12, 1), date(2027, 1, 1)),
        ("Monthly", date(2028, 2, 29), date(2028, 2, 1), date(2028, 3, 1)),
        ("Yearly", date(2026, 7, 4), date(2026, 1, 1), date(2027, 1, 1)),
        ("OneOff", date(2026, 7, 4), date(2026, 3, 1), None),
    ],
)
def test_periods(frequency: str, day: date, start: date, following: date | None) -> None:
    assert period_start(frequency, day, date(2026, 3, 1)) == start
    assert next_period_start(frequency, start) == following


@pytest.mark.e2e
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_sidecar_charges_what_is_due_when_it_starts(engine: Engine, db_url: str, tmp_path: Path) -> None:
    quiet = SidecarProcess(db_url, tmp_path / "quiet.log", "--no-charge-packages", "--packages-interval", "1s")
    try:
        assert http(quiet.url, "GET", "/healthz")[0] == 200
        time.sleep(3)  # three passes, were charging on: a pass over six packages takes milliseconds
    finally:
        assert quiet.stop() == 0
    assert count(engine, package_charges) == 0

    today = datetime.now(UTC).date()
    sidecar = SidecarProcess(db_url, tmp_path / "sidecar.log", "--packages-interval", "1h")
    try:
        wait_until(lambda: count(engine, package_charges) >= 3, timeout=30, what="the due package periods charged")
    finally:
        assert sidecar.stop() == 0
    with engine.connect() as conn:
        rows = conn.execute(select(package_charges.c.kind, package_charges.c.period_start)).all()
    assert ("period", today.replace(day=1)) in rows  # the monthly package's current month
    assert "charged default/monthly (period, Monthly" in (tmp_path / "sidecar.log").read_text()
