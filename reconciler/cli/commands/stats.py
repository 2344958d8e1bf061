"""Traffic statistics and alerts from the command line: ``stats`` and ``alerts check``.

``trunkline stats --customer acme --by day`` reads the per-minute roll-up (it does not roll up:
the sidecar and ``alerts check`` do) and prints one line per minute, day or month; ``--chart -``
adds a terminal sparkline of ASR and ACD, ``--chart PATH.png`` draws a PNG when matplotlib is
installed (it is optional). ``trunkline alerts check`` rolls up the recent minutes, evaluates
every alert and delivers notifications; without ``--once`` it repeats every ``--interval``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import click
from rich.table import Table
from sqlalchemy import select

from rating.alerts import DEFAULT_SAMPLE_PERIOD, evaluate
from rating.ledger import money_text
from rating.notify import Notifier
from rating.stats import GRANULARITIES, Figures, roll_up, series
from reconciler.cli.app import INSTANT, cli, db_option, output_option
from reconciler.cli.common import open_db
from reconciler.cli.output import console, print_json
from resources.errors import TrunklineError
from resources.types import duration_seconds
from switchdb.tables import alerts as alerts_table
from switchdb.tables import customers

BLOCKS = "▁▂▃▄▅▆▇█"
_SPAN = {"minute": timedelta(hours=1), "day": timedelta(days=30), "month": timedelta(days=366)}


class StatsInputError(TrunklineError):
    exit_code = 2


def sparkline(values: list[Decimal | None]) -> str:
    """One block per value scaled between the smallest and largest; a gap for no value."""
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    span = high - low
    return "".join(
        " " if v is None else BLOCKS[-1 if span == 0 else int((v - low) / span * (len(BLOCKS) - 1))] for v in values
    )


def _fmt(value: Decimal | None, places: str = "0.1") -> str:
    return "-" if value is None else str(value.quantize(Decimal(places)))


def _png(path: str, rows: list[Figures]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise StatsInputError(
            "--chart PATH.png needs matplotlib (pip install matplotlib); use --chart - instead"
        ) from exc
    starts = [r.start for r in rows]
    figure, (asr, acd) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
    asr.plot(starts, [None if r.asr is None else float(r.asr) for r in rows], marker="o")
    asr.set_ylabel("ASR %")
    acd.plot(starts, [None if r.acd is None else float(r.acd) for r in rows], marker="o", color="tab:orange")
    acd.set_ylabel("ACD s")
    figure.autofmt_xdate()
    figure.savefig(path)
    plt.close(figure)


@cli.command()
@click.option("--customer", "customer_ref", required=True, help="customer name or namespace/name")
@click.option("--by", type=click.Choice(GRANULARITIES), default="day", show_default=True)
@click.option("--from", "since", type=INSTANT, help="start (date or RFC 3339 time, UTC if no offset)")
@click.option("--to", "until", type=INSTANT, help="end, exclusive (default: now)")
@click.option("--chart", default=None, help="'-' for a terminal chart of ASR and ACD, or PATH.png (needs matplotlib)")
@db_option
@output_option("table", "json", default="table")
def stats(
    customer_ref: str,
    by: str,
    since: datetime | None,
    until: datetime | None,
    chart: str | None,
    db_url: str | None,
    output: str,
) -> None:
    """Per-customer traffic statistics (attempts, ASR, NER, ACD, PDD, CPS, channels) per minute, day or month."""
    namespace, _, name = customer_ref.rpartition("/")
    end = until or datetime.now(UTC)
    start = since or end - _SPAN[by]
    engine = open_db(db_url)
    try:
        with engine.connect() as conn:
            customer_id = conn.execute(
                select(customers.c.id).where(
                    customers.c.namespace == (namespace or "default"), customers.c.name == name
                )
            ).scalar()
            if customer_id is None:
                raise StatsInputError(f"cannot find customer {customer_ref}")
            rows = series(conn, customer_id, by=by, since=start, until=end)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    if chart is not None and chart != "-":
        _png(chart, rows)
    if output == "json":
        print_json([r.as_json() for r in rows])
        return
    table = Table(box=None)
    for column in ("start", "attempts", "answered", "ASR %", "NER %", "ACD s", "PDD avg ms", "PDD p95 ms", "CPS", "ch"):
        table.add_column(column, justify="left" if column == "start" else "right")
    for r in rows:
        assert r.start is not None
        table.add_row(
            r.start.strftime({"minute": "%Y-%m-%d %H:%M", "day": "%Y-%m-%d", "month": "%Y-%m"}[by]),
            str(r.attempts),
            str(r.answered),
            _fmt(r.asr),
            _fmt(r.ner),
            _fmt(r.acd),
            _fmt(r.pdd_avg_ms, "1"),
            "-" if r.pdd_p95_ms is None else str(r.pdd_p95_ms),
            str(r.peak_cps),
            str(r.peak_channels),
        )
    console.print(table)
    if chart == "-":
        console.print(f"ASR {sparkline([r.asr for r in rows])}  (min-max of the rows)", markup=False)
        console.print(f"ACD {sparkline([r.acd for r in rows])}", markup=False)


@cli.group()
def alerts() -> None:
    """Evaluate alerts and deliver their notifications."""


def _smtp(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise StatsInputError(f"--smtp must be HOST:PORT, not {value!r}")
    return host, int(port)


@alerts.command("check")
@db_option
@click.option("--smtp", "smtp", default="localhost:25", show_default=True, help="SMTP relay HOST:PORT")
@click.option("--sender", default="trunkline@localhost", show_default=True, help="From address of alert emails")
@click.option("--once", is_flag=True, help="evaluate once and exit (default: repeat every --interval)")
@click.option("--interval", default=60, show_default=True, type=click.IntRange(1), help="seconds between checks")
@output_option("json")
def check(db_url: str | None, smtp: str, sender: str, once: bool, interval: int, output: str) -> None:
    """Roll up recent statistics, evaluate every alert and send what fires."""
    host, port = _smtp(smtp)
    notifier = Notifier(smtp_host=host, smtp_port=port, sender=sender)
    engine = open_db(db_url)
    try:
        while True:
            now = datetime.now(UTC)
            with engine.begin() as conn:
                periods = conn.execute(select(alerts_table.c.sample_period)).scalars().all()
                longest = max((duration_seconds(p or DEFAULT_SAMPLE_PERIOD) for p in periods), default=0)
                # An hour more than the longest window, for CDRs that arrive late.
                roll_up(conn, now - timedelta(seconds=longest) - timedelta(hours=1))
                results = evaluate(conn, now, notifier=notifier)
            if output == "json":
                print_json([r.as_json() for r in results])
            else:
                for r in results:
                    value = "-" if r.value is None else money_text(r.value)
                    sent = sum(a.outcome == "Sent" for a in r.attempts)
                    extra = f" {r.event}" if r.event else ""
                    extra += f", {sent}/{len(r.attempts)} delivered" if r.attempts else ""
                    extra += f", penalty {r.penalty}" if r.penalty else ""
                    console.print(
                        f"{r.alert} ({r.customer}) {r.area}={value} {r.before}→{r.after}{extra}", markup=False
                    )
            if once:
                return
            time.sleep(interval)
    finally:
        engine.dispose()
