"""``trunkline rollback REVISION``: apply the snapshot an earlier revision stored, without git.

The snapshot is read from the revision row itself, so a rollback works when the repository,
the commit or the rate deck is gone. It is an apply like any other: a plan against the live
database, a confirmation (or ``--auto-approve``), one transaction, and a new revision whose
source says ``rollback to revision N``. Secrets are resolved now, from ``passwordRef``.
"""

from __future__ import annotations

import click
from sqlalchemy import Engine, select

from reconciler.apply import RevisionInfo
from reconciler.cli.app import cli, db_option, output_option
from reconciler.cli.approval import approve_and_apply
from reconciler.cli.common import actor, open_db
from reconciler.cli.output import console, print_json
from reconciler.reconcile import Options
from reconciler.snapshot import restore
from resources.errors import TrunklineError
from switchdb.tables import metadata


class RevisionError(TrunklineError):
    """The revision does not exist, or recorded no snapshot to roll back to."""

    exit_code = 1


def stored_snapshot(engine: Engine, revision: int) -> bytes:
    """The snapshot bytes recorded on ``revision``; RevisionError when there are none."""
    table = metadata.tables["trunkline_revisions"]
    with engine.connect() as conn:
        row = conn.execute(select(table.c.id, table.c.desired).where(table.c.id == revision)).first()
    if row is None:
        raise RevisionError(f"cannot roll back: revision {revision} does not exist (see `trunkline history`)")
    if row.desired is None:
        raise RevisionError(
            f"cannot roll back: revision {revision} has no snapshot "
            "(scoped applies by the operator or Pulumi record only the objects they touched)"
        )
    return bytes(row.desired)


@cli.command()
@click.argument("revision", type=click.IntRange(min=1))
@db_option
@output_option("json")
@click.option("--auto-approve", "-y", is_flag=True, help="apply without asking")
def rollback(revision: int, db_url: str | None, output: str, auto_approve: bool) -> None:
    """Re-apply the desired state recorded on REVISION (from the database; git is not needed)."""
    engine = open_db(db_url)
    try:
        data = stored_snapshot(engine, revision)
        state = restore(data)
        # The same bytes go on the new revision: rolling back to a rollback gives the same state.
        info = RevisionInfo(actor=actor(), source=f"rollback to revision {revision}", desired=data)
        result = approve_and_apply(
            engine,
            state,
            info=info,
            options=Options(),
            auto_approve=auto_approve,
            question=f"Roll back to revision {revision}?",
            quiet=output == "json",
        )
    finally:
        engine.dispose()
    if output == "json":
        print_json({**result.plan.to_json(), "revision": result.revision_id, "rolledBackTo": revision})
        return
    if result.revision_id is not None:
        console.print(f"[bold green]Rolled back[/bold green] to revision {revision} as revision {result.revision_id}.")
