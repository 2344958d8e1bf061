"""Rating into the database: CDRs rated AND committed per second, against a raw bulk insert of the same rows.

The carrier is ``bench/gen.py``'s (``--customers`` customers, 5 IP authentications and one
ingress route each, one USD card with a ``--rates``-row deck), applied with ``reconcile.apply``
into SQLite and into a throwaway PostgreSQL (``tests/support/postgres.py``: fsync off). The
CDRs come from the customers' addresses and dial numbers under the deck's prefixes that the
routes' dialStrings (``^1[2-9]``, ``^44``, ``^49``) accept, 80% answered.

Steps, per backend:

- ``load``: ``rating.loading.load`` (the sidecar's snapshot: the deck indexed once).
- ``price``: in-process rating, no database: ``rater.price`` (identify, route, longest prefix)
  plus ``charges.charge`` for each CDR. The issue's goal: >= 100k CDRs/s.
- ``rate_cdrs``: end to end, batches of ``--batch`` CDRs, each ONE transaction (balances locked,
  exactly-once insert, ledger lines, balances) committed. The goal: >= 20k CDRs/s into PostgreSQL.
- ``raw insert``: the very CDR rows ``rate_cdrs`` stored, read back and written into an empty
  database with the same schema through the bare driver, in the same batch size: executemany
  (SQLite) or COPY (PostgreSQL), one transaction per batch. The ratio rate_cdrs / raw is the
  price of rating, ledger and exactly-once on top of the bare write.

Figures are printed, never asserted: CDRs/s by wall clock and by this process's CPU time (on a
busy machine the wall clock includes waiting for a core; a PostgreSQL server's work is in its own
processes, so for database steps the wall clock is the figure that counts). Run:
``.venv/bin/python bench/bench_rate_db.py [--customers N] [--rates N] [--cdrs N] [--batch N] [--backend B]``
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import Timing, databases, load_average, machine, profiled, ratio, table, timed
from gen import PASSWORD_ENV, generate
from sqlalchemy import Engine

import resources
from rating import loading
from rating.cdr import Cdr
from rating.charges import charge
from rating.rater import RATED, price, rate_cdrs
from reconciler.apply import RevisionInfo
from reconciler.reconcile import apply
from switchdb.engine import open_database
from switchdb.tables import cdrs as cdrs_table

T0 = datetime(2026, 6, 10, 8, 0, tzinfo=UTC)
ROUTED = ("12", "13", "14", "15", "16", "17", "18", "19", "44", "49")


def make_cdrs(count: int, customers: int, deck: Path, rng: random.Random) -> list[Cdr]:
    with deck.open(encoding="utf-8") as handle:
        prefixes = sorted({row[0] for row in csv.reader(handle) if row and row[0].startswith(ROUTED)})
    from gen import IPS_PER_CUSTOMER, _ip

    out: list[Cdr] = []
    for n in range(count):
        i = rng.randrange(customers)
        source = _ip(i * IPS_PER_CUSTOMER + rng.randrange(IPS_PER_CUSTOMER))
        prefix = rng.choice(prefixes)
        dialed = prefix + "".join(rng.choices("0123456789", k=max(0, 11 - len(prefix))))
        start = T0 + timedelta(milliseconds=n * 7)
        answered = rng.random() < 0.8
        answer = start + timedelta(seconds=3) if answered else None
        end = (answer or start) + timedelta(seconds=rng.randrange(1, 600) if answered else 0)
        out.append(
            Cdr(
                f"bench-{n:08d}",
                start,
                answer,
                end,
                "15125550100",
                dialed,
                200 if answered else 486,
                source_ip=source,
                source_port=5060,
                pdd_ms=rng.randrange(100, 3000),
            )
        )
    return out


def raw_rows(engine: Engine) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The stored CDR rows as the bare driver reads them (ids left out: the raw database numbers its own)."""
    columns = [c.name for c in cdrs_table.columns if c.name != "id"]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        listed = ", ".join(f'"{c}"' for c in columns)
        cur.execute(f"SELECT {listed} FROM cdrs ORDER BY id")
        rows = [tuple(r) for r in cur.fetchall()]
        cur.close()
        raw.rollback()
    finally:
        raw.close()
    return columns, rows


def raw_insert(engine: Engine, columns: list[str], rows: list[tuple[Any, ...]], batch: int) -> None:
    """executemany (SQLite) or COPY (PostgreSQL), one committed transaction per ``batch`` rows."""
    raw = engine.raw_connection()
    quoted = ", ".join(f'"{c}"' for c in columns)
    try:
        if engine.dialect.name == "sqlite":
            cur = raw.cursor()
            marks = ", ".join("?" for _ in columns)
            for start in range(0, len(rows), batch):
                cur.execute("BEGIN IMMEDIATE")
                cur.executemany(f"INSERT INTO cdrs ({quoted}) VALUES ({marks})", rows[start : start + batch])
                cur.execute("COMMIT")
        else:
            conn = raw.driver_connection
            assert conn is not None
            with conn.cursor() as cur:
                for start in range(0, len(rows), batch):
                    with cur.copy(f"COPY cdrs ({quoted}) FROM STDIN") as copy:
                        for row in rows[start : start + batch]:
                            copy.write_row(row)
                    conn.commit()
    finally:
        raw.close()


def run_backend(kind: str, carrier: Path, cdrs: list[Cdr], batch: int, profile: bool = False) -> list[list[object]]:
    results: list[Timing] = []
    with (
        tempfile.TemporaryDirectory(prefix="trunkline-bench-rate-") as name,
        databases(kind, Path(name), "rate") as (url, raw_url, version),
    ):
        print(f"\n== {kind}: {version}", flush=True)
        engine = open_database(url)
        raw_engine = open_database(raw_url)
        with timed(f"{kind}: apply the carrier", results):
            apply(engine, resources.load([carrier]), info=RevisionInfo("bench", "bench"))
        with engine.connect() as conn, timed(f"{kind}: load the directory", results):
            loaded = loading.load(conn, now=T0)
        with timed(f"{kind}: price + charge in process ({len(cdrs):,} CDRs)", results) as step:
            priced = [price(loaded, cdr) for cdr in cdrs]
            for p in priced:
                if p.status == RATED and p.match is not None:
                    charge(p.cdr.duration_s, p.match.tariff)
        in_process, in_process_cpu = len(cdrs) / step.wall, len(cdrs) / max(step.cpu, 1e-9)
        statuses: dict[str, int] = {}
        for p in priced:
            statuses[p.status] = statuses.get(p.status, 0) + 1
        print(f"  statuses: {statuses}", flush=True)
        step_label = f"{kind}: rate_cdrs, {batch:,} per transaction"
        with profiled(profile, step_label), timed(step_label, results) as step:
            for start in range(0, len(cdrs), batch):
                rate_cdrs(engine, loaded, cdrs[start : start + batch], now=T0 + timedelta(days=1))
        rated, rated_cpu = len(cdrs) / step.wall, len(cdrs) / max(step.cpu, 1e-9)
        columns, rows = raw_rows(engine)
        assert len(rows) == len(cdrs), (len(rows), len(cdrs))
        with timed(f"{kind}: raw insert of the same rows, {batch:,} per transaction", results) as step:
            raw_insert(raw_engine, columns, rows, batch)
        raw, raw_cpu = len(rows) / step.wall, len(rows) / max(step.cpu, 1e-9)
        engine.dispose()
        raw_engine.dispose()
    return [
        [kind, "in-process price + charge", f"{in_process:,.0f}", f"{in_process_cpu:,.0f}", ""],
        [kind, "rate_cdrs (committed)", f"{rated:,.0f}", f"{rated_cpu:,.0f}", f"{ratio(raw, rated)} slower"],
        [kind, "raw bulk insert", f"{raw:,.0f}", f"{raw_cpu:,.0f}", ""],
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--rates", type=int, default=100_000)
    parser.add_argument("--cdrs", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile the rate_cdrs step (inflates its time)")
    args = parser.parse_args(argv)
    os.environ.setdefault(PASSWORD_ENV, "bench-password")
    print(machine({"customers": str(args.customers), "rates": str(args.rates), "cdrs": str(args.cdrs)}))
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="trunkline-bench-carrier-") as folder:
        carrier = Path(folder) / "carrier"
        summary = generate(carrier, customers=args.customers, deck_rows=args.rates, seed=args.seed)
        assert summary.deck is not None
        cdrs = make_cdrs(args.cdrs, args.customers, summary.deck, random.Random(args.seed))
        for kind in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
            rows.extend(run_backend(kind, carrier, cdrs, args.batch, args.profile))
    print()
    print(table(["backend", "step", "CDRs/s (wall)", "CDRs/s (this process's CPU)", "vs raw (wall)"], rows))
    print(f"\nload average after: {load_average()}")
    print("goals: in-process >= 100,000 CDRs/s; end to end into PostgreSQL >= 20,000 CDRs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
