"""``trunkline db upgrade|revision``: the switch database schema (Alembic)."""

from __future__ import annotations

import click

from reconciler.cli.app import cli, db_option
from reconciler.cli.output import console
from switchdb.engine import current_revision, database_url, head_revision, open_database, redact_url


@cli.group()
def db() -> None:
    """Manage the switch database schema."""


@db.command()
@db_option
def upgrade(db_url: str | None) -> None:
    """Create or migrate the database to the newest schema (also done on first use)."""
    url = database_url(db_url)
    engine = open_database(url, upgrade=True)
    console.print(f"{redact_url(url)} is at schema revision {current_revision(engine)} (head {head_revision()}).")


@db.command()
@db_option
def revision(db_url: str | None) -> None:
    """Print the database's schema revision."""
    engine = open_database(database_url(db_url), upgrade=False)
    click.echo(current_revision(engine) or "(empty)")
