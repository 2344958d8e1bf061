"""Rating from the command line: ``rate``, ``cdr export``, ``calls``, ``payments add``, ``balance``.

``trunkline rate FILE...`` reads every file first (``.csv`` as CSV, anything else as JSON lines);
if any line of any file is malformed, every problem is printed as ``FILE:LINE: field: message``
and the command exits 2 having written nothing. Otherwise the CDRs are rated in transactions of
``--batch-size`` calls; a file rated twice charges nothing the second time.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from rich.table import Table

from rating import loading
from rating.cdr import Cdr, CdrError, parse_csv, parse_jsonl
from rating.directory import Customer, Directory
from rating.export import latest_calls, query_cdrs, to_csv, to_jsonl
from rating.ledger import money_text, read_balances
from rating.payments import add_payment
from rating.rater import RateResult, rate_cdrs
from rating.stats import roll_up
from reconciler.cli.app import INSTANT, cli, db_option, output_option
from reconciler.cli.common import open_db
from reconciler.cli.output import console, err_console, print_json
from resources.errors import TrunklineError
from switchdb.tables.rating import PAYMENT_STATUSES


class InputError(TrunklineError):
    exit_code = 2


def _load_directory(engine) -> Directory:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return loading.load(conn, now=datetime.now(UTC))


def _customer(loaded: Directory, ref: str | None) -> Customer | None:
    if ref is None:
        return None
    try:
        return loaded.customer(ref)
    except TrunklineError as exc:
        raise InputError(exc.message) from exc


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@db_option
@click.option("--batch-size", default=10_000, show_default=True, type=click.IntRange(1), help="CDRs per transaction")
@output_option("json")
def rate(files: tuple[Path, ...], db_url: str | None, batch_size: int, output: str) -> None:
    """Rate CDR files (JSON lines, or CSV by the .csv extension) into the switch database, exactly once per call."""
    parsed: list[Cdr] = []
    problems: list[str] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from exc
        cdrs, errors = (parse_csv if path.suffix.lower() == ".csv" else parse_jsonl)(text)
        problems.extend(_where(path, error) for error in errors)
        parsed.extend(cdrs)
    if problems:
        for problem in problems:
            err_console.print(problem, style="red", markup=False, emoji=False)
        raise InputError(f"{len(problems)} malformed CDR field(s); nothing was rated")
    engine = open_db(db_url)
    loaded = _load_directory(engine)
    total = RateResult()
    for start in range(0, len(parsed), batch_size):
        total.add(rate_cdrs(engine, loaded, parsed[start : start + batch_size]))
    if parsed:
        # Keep `trunkline stats` current for the minutes these calls touched, as the sidecar does.
        with engine.begin() as conn:
            roll_up(conn, min(cdr.start for cdr in parsed))
    charged = {currency: money_text(amount) for currency, amount in sorted(total.charged.items())}
    if output == "json":
        print_json(
            {
                "rated": total.rated,
                "duplicate": total.duplicates,
                "rejected": total.rejected,
                "unrated": total.unrated,
                "charged": charged,
            }
        )
        return
    console.print(
        f"rated {total.rated}, duplicate {total.duplicates}, rejected {total.rejected}, unrated {total.unrated}"
    )
    for currency, amount in charged.items():
        console.print(f"charged {amount} {currency}")
    for outcome in total.outcomes:
        if outcome.status in ("Rejected", "Unrated"):
            console.print(f"  {outcome.status.lower()} {outcome.call_id}: {outcome.reason}", markup=False)


def _where(path: Path, error: CdrError) -> str:
    return f"{path}:{error.line}: " + (f"{error.field}: " if error.field else "") + error.detail


@cli.group()
def cdr() -> None:
    """Stored CDRs."""


@cdr.command("export")
@db_option
@click.option("--customer", help="NS/NAME or NAME")
@click.option("--from", "start_from", type=INSTANT, help="calls starting at or after this time (UTC if no offset)")
@click.option("--to", "start_to", type=INSTANT, help="calls starting before this time")
@click.option("--output", "-o", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def cdr_export(
    db_url: str | None, customer: str | None, start_from: datetime | None, start_to: datetime | None, output: str
) -> None:
    """Write rated CDRs to stdout as JSON lines or CSV, oldest first."""
    engine = open_db(db_url)
    who = _customer(_load_directory(engine), customer)
    records = query_cdrs(engine, customer=who, start_from=start_from, start_to=start_to)
    if output == "csv":
        for chunk in to_csv(records):
            sys.stdout.write(chunk)
    else:
        for line in to_jsonl(records):
            sys.stdout.write(line + "\n")


@cli.command()
@db_option
@click.option("--customer", required=True, help="NS/NAME or NAME")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="how many calls")
@output_option("json")
def calls(db_url: str | None, customer: str, limit: int, output: str) -> None:
    """A customer's latest calls, newest first."""
    engine = open_db(db_url)
    who = _customer(_load_directory(engine), customer)
    assert who is not None
    records = latest_calls(engine, who, limit)
    if output == "json":
        print_json(records)
        return
    if not records:
        console.print(f"No calls for {who.ref}.")
        return
    view = Table(box=None, header_style="bold")
    for header in ("START", "CALL ID", "DIALED", "SIP", "BILLED", "PKG", "COST", "STATUS", "REASON"):
        view.add_column(header)
    for r in records:
        cost = f"{r['cost']} {r['currency']}" if r["cost"] is not None else ""
        view.add_row(
            r["start"],
            r["callId"],
            r["dialed"],
            str(r["sipCode"]),
            str(r["billedSeconds"]),
            str(r["packageSeconds"]),
            cost,
            r["status"],
            r["reason"] or "",
        )
    console.print(view)


@cli.group()
def payments() -> None:
    """Customer payments."""


@payments.command("add")
@db_option
@click.option("--customer", required=True, help="NS/NAME or NAME")
@click.option("--amount", required=True, help="amount credited to the balance (tax is added on top)")
@click.option("--status", type=click.Choice(list(PAYMENT_STATUSES)), default="Completed", show_default=True)
@click.option("--description", default=None)
@output_option("json")
def payments_add(
    db_url: str | None, customer: str, amount: str, status: str, description: str | None, output: str
) -> None:
    """Record a payment; a Completed one credits the balance (with a tax ledger line)."""
    try:
        value = Decimal(amount)
    except InvalidOperation as exc:
        raise InputError(f"--amount {amount!r} is not a decimal number") from exc
    engine = open_db(db_url)
    who = _customer(_load_directory(engine), customer)
    assert who is not None
    payment = add_payment(engine, who, value, status, description)
    record = {
        "id": payment.id,
        "customer": payment.customer,
        "amount": money_text(payment.amount),
        "tax": money_text(payment.tax),
        "status": payment.status,
        "balance": None if payment.balance_after is None else money_text(payment.balance_after),
    }
    if output == "json":
        print_json(record)
        return
    line = f"payment {payment.id} {payment.status}: {record['amount']} {who.currency} + tax {record['tax']}"
    if record["balance"] is not None:
        line += f"; balance {record['balance']} {who.currency}"
    console.print(line, markup=False)


@cli.command()
@db_option
@click.option("--customer", help="NS/NAME or NAME (default: every customer)")
@output_option("json")
def balance(db_url: str | None, customer: str | None, output: str) -> None:
    """Customer balances (positive = credit)."""
    engine = open_db(db_url)
    who = _customer(_load_directory(engine), customer)
    rows = read_balances(engine, who)
    if output == "json":
        print_json([{"customer": b.customer, "amount": money_text(b.amount), "currency": b.currency} for b in rows])
        return
    view = Table(box=None, header_style="bold")
    for header in ("CUSTOMER", "BALANCE", "CURRENCY"):
        view.add_column(header)
    for b in rows:
        view.add_row(b.customer, money_text(b.amount), b.currency)
    console.print(view)
