"""``trunkline sync``: apply one commit of a git repository to the switch database, once."""

from __future__ import annotations

import click
from rich.markup import escape

from reconciler import sync as syncing
from reconciler.cli.app import cli, db_option, output_option
from reconciler.cli.common import actor, open_db
from reconciler.cli.output import console, print_json
from reconciler.gitsource import CACHE_ENV, GitSource
from reconciler.reconcile import Options
from reconciler.render import print_plan


@cli.command()
@click.option("--repo", required=True, help="git URL (https://, ssh://, file://, git@host:path) or a local path")
@click.option("--ref", required=True, help="branch, tag, or full or short commit SHA")
@click.option("--path", "path_in_repo", default=".", show_default=True, help="manifest directory inside the repo")
@db_option
@click.option("--adopt", is_flag=True, help="take ownership of existing rows that match declarations")
@click.option(
    "--prune/--no-prune", default=True, show_default=True, help="delete owned objects that are no longer declared"
)
@click.option(
    "--cache-dir",
    envvar=CACHE_ENV,
    default=None,
    type=click.Path(file_okay=False),
    help="where repositories are cached (default: $TRUNKLINE_CACHE or ~/.cache/trunkline/git)",
)
@output_option("json")
def sync(
    repo: str,
    ref: str,
    path_in_repo: str,
    db_url: str | None,
    adopt: bool,
    prune: bool,
    cache_dir: str | None,
    output: str,
) -> None:
    """Fetch REPO, check out REF, and apply the manifests under PATH (one transaction, no prompt)."""
    source = GitSource(repo, ref, cache_dir=cache_dir)
    engine = open_db(db_url)
    try:
        result = syncing.sync_once(
            engine, source, path_in_repo, options=Options(adopt=adopt, prune=prune), actor=actor()
        )
    finally:
        engine.dispose()
    if output == "json":
        print_json(result.to_json())
        return
    commit = result.checkout
    short = commit.commit_sha[: syncing.SHORT_SHA]
    if not result.changed:
        print_plan(result.plan, console)  # still reports unmanaged rows
        console.print(f"No changes at {short} ({commit.subject}).", markup=False)
        return
    print_plan(result.plan, console)
    console.print(
        f"[bold green]Applied[/bold green] {short} ({escape(commit.subject)}) as revision {result.revision_id}.",
        emoji=False,
    )
