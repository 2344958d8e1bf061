"""``trunkline history``: every applied revision, newest first."""

from __future__ import annotations

import click
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
    """List applied revisions: when, who, from where (path or git commit), and what changed."""
    engine = open_db(db_url)
    table = metadata.tables["trunkline_revisions"]
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.id.desc()).limit(limit)).mappings().all()
    records = [
        {
            "revision": r["id"],
            "time": r["created_at"].isoformat(timespec="seconds") if r["created_at"] else None,
            "actor": r["actor"],
            "source": r["source"],
            "commit": r["commit_sha"],
            "subject": r["commit_subject"],
            "summary": r["summary"],
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
    for header in ("REV", "TIME", "ACTOR", "SOURCE", "+", "~", "-"):
        view.add_column(header)
    for r in records:
        s = r["summary"] or {}
        source = f"{r['commit'][:12]} {r['subject'] or ''}".strip() if r["commit"] else r["source"]
        view.add_row(
            str(r["revision"]),
            r["time"] or "",
            r["actor"] or "",
            source or "",
            str(s.get("create", 0)),
            str(s.get("update", 0)),
            str(s.get("delete", 0)),
        )
    console.print(view)
