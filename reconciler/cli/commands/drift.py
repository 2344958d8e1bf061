"""``trunkline drift``: which owned rows no longer match their declarations. Never writes.

Exit codes for monitoring: 0 no drift, 2 drift found, 1 an error (invalid manifests included,
so a broken commit is never mistaken for drift).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from reconciler import drift as drifting
from reconciler import sync as syncing
from reconciler.cli.app import cli, db_option, output_option
from reconciler.cli.common import load_state, open_db
from reconciler.cli.gitoptions import git_source, repo_options
from reconciler.cli.output import console, print_json, report_error
from reconciler.rows import canonical
from resources.errors import TrunklineError

DRIFT_EXIT = 2


def _shown(value: Any) -> str:
    if value is None:
        return "(absent)"
    value = canonical(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


@cli.command()
@click.argument("paths", nargs=-1)
@db_option
@repo_options
@output_option("json")
def drift(
    paths: tuple[str, ...],
    db_url: str | None,
    repo: str | None,
    ref: str | None,
    path_in_repo: str,
    cache_dir: str | None,
    output: str,
) -> None:
    """Report owned rows whose live values differ from PATHS (or a commit of --repo); exit 2 on drift."""
    try:
        source = git_source(paths, repo, ref, cache_dir)
        commit = None
        if source is None:
            state = load_state(paths)
        else:
            commit = source.checkout()
            state = syncing.load_commit(commit, path_in_repo)
        engine = open_db(db_url)
        try:
            report = drifting.detect_drift(engine, state)
        finally:
            engine.dispose()
    except TrunklineError as exc:
        report_error(exc, output=output)
        sys.exit(1)  # not 2: that means drift
    if output == "json":
        body = report.to_json()
        if commit is not None:
            body["commit"] = {"sha": commit.commit_sha, "author": commit.author, "subject": commit.subject}
        print_json(body)
    else:
        _print(report)
        if commit is not None:
            short = commit.commit_sha[: syncing.SHORT_SHA]
            console.print(f"Compared with {short} ({commit.subject}).", markup=False)
    if report.drifted:
        sys.exit(DRIFT_EXIT)


def _print(report: drifting.DriftReport) -> None:
    if report.drift:
        view = Table(box=None, header_style="bold")
        for header in ("OBJECT", "FIELD", "DECLARED", "LIVE"):
            view.add_column(header, overflow="fold")
        for entry in report.drift:
            if entry.reason == "missing":
                view.add_row(escape(str(entry.key)), "(row)", "declared", "[red]missing (deleted)[/red]")
            else:
                view.add_row(
                    escape(str(entry.key)),
                    escape(entry.field or ""),
                    escape(_shown(entry.declared)),
                    f"[yellow]{escape(_shown(entry.live))}[/yellow]",
                )
        console.print(view)
    for item in report.unmanaged:
        why = "declared, not owned: `apply --adopt` takes it" if item.declared else "not declared"
        console.print(f"[dim]unmanaged {escape(str(item.key))} ({why})[/dim]")
    for key in report.pending:
        console.print(f"[dim]pending   {escape(str(key))} (declared, not applied yet)[/dim]")
    for key in report.undeclared:
        console.print(f"[dim]undeclared {escape(str(key))} (owned, no longer declared: a sync would delete it)[/dim]")
    objects = len(report.drifted_objects)
    if report.drifted:
        console.print(
            f"[bold red]Drift:[/bold red] {len(report.drift)} field{'s' if len(report.drift) != 1 else ''} on "
            f"{objects} object{'s' if objects != 1 else ''} ({report.in_sync} in sync, "
            f"{len(report.unmanaged)} unmanaged)."
        )
    else:
        console.print(
            f"[bold green]No drift:[/bold green] {report.in_sync} owned objects match their declarations "
            f"({len(report.unmanaged)} unmanaged)."
        )
