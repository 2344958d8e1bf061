"""``trunkline history``: every applied revision, newest first."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from reconciler.cli.app import cli, db_option, output_option
from reconciler.cli.common import open_db
from reconciler.cli.output import console, print_json
from switchdb.tables import metadata


@cli.command()
@db_option
@click.option("--limit", default=20, show_default=True, help="how many revisions")
@output_option("json")
def history(db_url: str | None, limit: int, output: str) -> None:
    """List applied revisions: when, who, from where (path or git commit), what changed, and
    whether `trunkline rollback REV` can re-apply it (a snapshot was recorded)."""
    engine = open_db(db_url)
    table = metadata.tables["trunkline_revisions"]
    with engine.connect() as conn:
        # Not the snapshot itself (it can be megabytes): only whether there is one to roll back to.
        columns = [c for c in table.c if c.name != "desired"]
        query = select(*columns, table.c.desired.is_not(None).label("has_snapshot"))
        rows = conn.execute(query.order_by(table.c.id.desc()).limit(limit)).mappings().all()
    records = [
        {
            "revision": r["id"],
            "time": r["created_at"].isoformat(timespec="seconds") if r["created_at"] else None,
            "actor": r["actor"],
            "source": r["source"],
            "commit": r["commit_sha"],
            "author": r["commit_author"],
            "subject": r["commit_subject"],
            "summary": r["summary"],
            "snapshot": bool(r["has_snapshot"]),
        }
        for r in rows
    ]
    if output == "json":
        print_json(records)
        return
    if not records:
        console.print("No revisions yet.")
        return
    view = Table(box=None, header_style="bold")
    for header in ("REV", "TIME", "ACTOR", "SOURCE", "COMMIT", "AUTHOR", "SUBJECT", "+", "~", "-", "ROLLBACK"):
        view.add_column(header)
    for r in records:
        s = r["summary"] or {}
        view.add_row(
            str(r["revision"]),
            r["time"] or "",
            escape(r["actor"] or ""),
            escape(r["source"] or ""),
            (r["commit"] or "")[:12],
            escape(r["author"] or ""),
            escape(r["subject"] or ""),
            str(s.get("create", 0)),
            str(s.get("update", 0)),
            str(s.get("delete", 0)),
            "yes" if r["snapshot"] else "no",
        )
    console.print(view)
