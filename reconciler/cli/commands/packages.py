"""``trunkline packages charge``: debit the package periods that are due (``rating.package_charges``).

The sidecar charges on its own timer; this command is for a switch run without one (cron) and
for a look first: ``--dry-run`` prints the same charges and writes nothing. Running it twice
charges nothing the second time.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import click
from rich.table import Table

from rating.ledger import money_text
from rating.package_charges import charge_packages
from reconciler.cli.app import INSTANT, cli, db_option, output_option
from reconciler.cli.common import open_db
from reconciler.cli.output import console, print_json


@cli.group()
def packages() -> None:
    """Packages customers bought: charging their periods."""


@packages.command("charge")
@db_option
@click.option("--at", "at", type=INSTANT, help="charge what is due at this time (default: now)")
@click.option("--dry-run", is_flag=True, help="show the charges that are due; write nothing")
@output_option("json")
def packages_charge(db_url: str | None, at: datetime | None, dry_run: bool, output: str) -> None:
    """Debit each auto-decrement package's cost (or minimum-spend shortfall) for the periods due."""
    charges = charge_packages(open_db(db_url), at or datetime.now(UTC), dry_run=dry_run)
    if output == "json":
        print_json({"dryRun": dry_run, "charges": [c.as_json() for c in charges]})
        return
    if not charges:
        console.print("no package charges due")
        return
    view = Table(box=None, header_style="bold")
    for header in ("PACKAGE", "CUSTOMER", "KIND", "PERIOD", "AMOUNT", "BALANCE AFTER"):
        view.add_column(header)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for c in charges:
        balance = "" if c.balance_after is None else f"{money_text(c.balance_after)} {c.currency}"
        view.add_row(c.package, c.customer, c.kind, c.period, f"{money_text(c.amount)} {c.currency}", balance)
        totals[c.currency] += c.amount
    console.print(view)
    total = ", ".join(f"{money_text(amount)} {currency}" for currency, amount in sorted(totals.items()))
    verb = "would be charged (dry run: nothing written)" if dry_run else "charged"
    console.print(f"{len(charges)} package period(s) {verb}: {total}", markup=False)
