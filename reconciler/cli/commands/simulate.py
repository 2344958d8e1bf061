"""``trunkline simulate``: what the switch would do with one call, step by step (ConnexCS *Simulate*).

The directory is loaded from the switch database as of ``--at`` and the call is authorized with
an empty ``CallLimits`` and without reserving a channel: a simulation never takes capacity, and
it cannot see the live channels of the sidecars (their ``/v1/calls`` can). Exit status: 0 when
the call would be allowed, 3 when it would be rejected (1 stays "error", 2 "usage").
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from rich.markup import escape

from rating import loading
from rating.authorize import Decision, Request, authorize
from rating.limits import CallLimits
from reconciler.cli.app import INSTANT, cli, db_option
from reconciler.cli.common import open_db
from reconciler.cli.output import console, print_json

REJECTED_EXIT = 3
_MARKS = {"pass": "[green]✓[/green]", "fail": "[red]✗[/red]", "info": "[dim]·[/dim]"}


@cli.command()
@click.option("--ip", "source_ip", help="source IP of the INVITE")
@click.option("--port", "source_port", type=click.IntRange(1, 65535), help="source port of the INVITE")
@click.option("--user", "username", help="SIP username (user or user@realm) that authenticated")
@click.option("--cli", "cli_", required=True, help="calling number (From / CLI)")
@click.option("--pai", help="P-Asserted-Identity number")
@click.option("--dialed", required=True, help="dialed number as the customer sent it")
@click.option("--call-id", default="simulate", show_default=True, help="call id (decides recording sampling)")
@click.option("--at", "at", type=INSTANT, help="simulate at this time (RFC 3339, UTC if no offset; default now)")
@db_option
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
def simulate(
    source_ip: str | None,
    source_port: int | None,
    username: str | None,
    cli_: str,
    pai: str | None,
    dialed: str,
    call_id: str,
    at: datetime | None,
    db_url: str | None,
    output: str,
) -> None:
    """Show whether a call would pass, as whom, on which route and rate, and why."""
    if source_ip is None and username is None:
        raise click.UsageError("give --ip or --user: the call's source IP or its SIP username")
    now = at or datetime.now(UTC)
    engine = open_db(db_url)
    with engine.connect() as conn:
        loaded = loading.load(conn, now=now)
    request = Request(
        cli=cli_,
        dialed=dialed,
        source_ip=source_ip,
        source_port=source_port,
        username=username,
        pai=pai,
        call_id=call_id,
    )
    decision = authorize(loaded, request, now=now, limits=CallLimits(), reserve=False)
    if output == "json":
        print_json(decision.to_json())
    else:
        render(decision, now)
    if not decision.allowed:
        # sys.exit, as `plan --detailed-exitcode` does: run_guarded drops a click Exit's code.
        sys.exit(REJECTED_EXIT)


def render(decision: Decision, now: datetime) -> None:
    width = max((len(s.name) for s in decision.steps), default=0)
    console.print(f"Simulating at {now.isoformat()}")
    for step in decision.steps:
        console.print(f"{_MARKS[step.outcome]} {step.name:<{width}}  {escape(step.detail)}", emoji=False)
    console.print()
    facts = [
        ("customer", decision.customer),
        ("route", decision.route),
        ("rate card", decision.rate_card),
        ("prefix", decision.prefix),
        ("rate", None if decision.per_minute is None else f"{decision.per_minute}/min {decision.currency or ''}"),
        ("CLI", decision.cli),
        ("PAI", decision.pai),
        ("dialed", decision.dialed),
    ]
    if decision.allowed:
        shown = "unlimited" if decision.max_duration_seconds is None else f"{decision.max_duration_seconds} s"
        facts += [("max duration", shown), ("record", "yes" if decision.record else "no")]
    for label, value in facts:
        if value is not None:
            console.print(f"  {label:<13} {escape(str(value).strip())}", emoji=False)
    console.print()
    if decision.allowed:
        console.print(f"[bold green]ALLOWED {decision.sip_code}[/bold green]")
    else:
        console.print(f"[bold red]REJECTED {decision.sip_code} {escape(decision.reason or '')}[/bold red]")
