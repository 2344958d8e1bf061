"""``trunkline cdr recalc``: preview, confirm, then recalculate one UTC day of rated calls (``rating.recalc``)."""

from __future__ import annotations

import sys
from datetime import date

import click
from rich.table import Table

from rating import RatingError
from rating.ledger import money_text
from rating.recalc import Recalc, recalc
from reconciler.cli.app import db_option
from reconciler.cli.commands.rating import InputError, _customer, _load_directory, cdr
from reconciler.cli.common import open_db
from reconciler.cli.output import console


@cdr.command("recalc")
@db_option
@click.option("--day", required=True, help="UTC day of the calls' start, YYYY-MM-DD")
@click.option("--customer", help="NS/NAME or NAME (default: every customer)")
@click.option("--min-duration", type=click.IntRange(1), help="only calls billed at least this many seconds")
@click.option("--new-duration", type=click.IntRange(1), help="their new duration in seconds (lost BYE)")
@click.option("--rerate", is_flag=True, help="price with the current rate cards and routes")
@click.option("--yes", is_flag=True, help="apply without asking")
def cdr_recalc(
    db_url: str | None,
    day: str,
    customer: str | None,
    min_duration: int | None,
    new_duration: int | None,
    rerate: bool,
    yes: bool,
) -> None:
    """Recalculate a day's rated calls: shorten calls that lost their BYE and/or re-rate them; preview first."""
    try:
        when = date.fromisoformat(day)
    except ValueError as exc:
        raise InputError(f"--day {day!r} is not a date (YYYY-MM-DD)") from exc
    engine = open_db(db_url)
    loaded = _load_directory(engine)
    who = _customer(loaded, customer)
    options = {"customer": who, "min_duration": min_duration, "new_duration": new_duration, "rerate": rerate}
    try:
        preview = recalc(engine, loaded, when, **options)  # type: ignore[arg-type]
    except RatingError as exc:
        raise InputError(exc.message) from exc
    _print(preview)
    if not preview.changes:
        console.print("Nothing to recalculate.")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("refusing to apply without confirmation: stdin is not a terminal (use --yes)")
        click.confirm(f"Apply the recalculation of {len(preview.changes)} call(s)?", abort=True)
    done = recalc(engine, loaded, when, apply=True, **options)  # type: ignore[arg-type]
    console.print(f"recalculated {len(done.changes)} call(s), {done.ledger_lines} ledger line(s)")
    for (owner, currency), (_, _, diff) in done.totals().items():
        console.print(f"  {owner}: {money_text(diff)} {currency}", markup=False)


def _print(result: Recalc) -> None:
    for call_id, why in result.skipped:
        console.print(f"skipped {call_id}: {why}", markup=False)
    if not result.changes:
        return
    view = Table(box=None, header_style="bold")
    for header in ("CALL ID", "CUSTOMER", "OLD S", "OLD BILLED", "OLD COST", "NEW S", "NEW BILLED", "NEW COST", "DIFF"):
        view.add_column(header)
    for c in result.changes:
        view.add_row(
            c.call_id,
            c.customer,
            str(c.old_duration),
            str(c.old_billed),
            f"{money_text(c.old_cost)} {c.currency}",
            str(c.new_duration),
            str(c.new_billed),
            f"{money_text(c.new_cost)} {c.currency}",
            money_text(c.difference),
        )
    console.print(view)
    totals = Table(box=None, header_style="bold")
    for header in ("CUSTOMER", "CURRENCY", "OLD COST", "NEW COST", "DIFF"):
        totals.add_column(header)
    for (owner, currency), (old, new, diff) in result.totals().items():
        totals.add_row(owner, currency, money_text(old), money_text(new), money_text(diff))
    console.print(totals)
