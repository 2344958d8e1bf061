"""``trunkline plan`` and ``trunkline apply``: Terraform's two verbs, for a carrier's switch."""

from __future__ import annotations

import html
import sys

import click

from reconciler import reconcile
from reconciler import sync as syncing
from reconciler.apply import RevisionInfo
from reconciler.cli.app import cli, db_option, output_option
from reconciler.cli.approval import approve_and_apply
from reconciler.cli.common import actor, describe_source, load_state, open_db
from reconciler.cli.gitoptions import git_source, repo_options
from reconciler.cli.output import console, print_json
from reconciler.gitsource import GitSource
from reconciler.reconcile import Options
from reconciler.render import plan_markdown, print_plan


def _options(adopt: bool, prune: bool) -> Options:
    return Options(adopt=adopt, prune=prune)


adopt_option = click.option("--adopt", is_flag=True, help="take ownership of existing rows that match declarations")
prune_option = click.option(
    "--prune/--no-prune", default=True, show_default=True, help="delete owned objects that are no longer declared"
)


@cli.command()
@click.argument("paths", nargs=-1)
@db_option
@repo_options
@output_option("json", "markdown")
@adopt_option
@prune_option
@click.option(
    "--detailed-exitcode", is_flag=True, help="exit 0 when there are no changes, 2 when there are, 1 on error"
)
def plan(
    paths: tuple[str, ...],
    db_url: str | None,
    repo: str | None,
    ref: str | None,
    path_in_repo: str,
    cache_dir: str | None,
    output: str,
    adopt: bool,
    prune: bool,
    detailed_exitcode: bool,
) -> None:
    """Show what apply would change in the switch database, without writing.

    With --repo, plan one commit of a git repository, as `trunkline sync` would apply it (a
    pull request's preview: `--output markdown` is a comment naming the commit).
    """
    source = git_source(paths, repo, ref, cache_dir)
    if source is not None:
        _plan_commit(source, path_in_repo, db_url, output, _options(adopt, prune), detailed_exitcode)
        return
    state = load_state(paths)
    engine = open_db(db_url)
    result = reconcile.plan(engine, state, options=_options(adopt, prune))
    if output == "json":
        print_json(result.to_json())
    elif output == "markdown":
        click.echo(plan_markdown(result))
    else:
        print_plan(result, console)
    if detailed_exitcode and not result.empty:
        sys.exit(2)


def _plan_commit(
    source: GitSource, path_in_repo: str, db_url: str | None, output: str, options: Options, detailed_exitcode: bool
) -> None:
    engine = open_db(db_url)
    try:
        commit, result = syncing.plan_once(engine, source, path_in_repo, options=options)
    finally:
        engine.dispose()
    where = syncing.describe(source, path_in_repo)
    short = commit.commit_sha[: syncing.SHORT_SHA]
    if output == "json":
        body = {"sha": commit.commit_sha, "author": commit.author, "subject": commit.subject}
        print_json({**result.to_json(), "source": where, "commit": body})
    elif output == "markdown":
        text = plan_markdown(result, title=f"Trunkline plan for `{short}` {_md(commit.subject)}")
        head, _, rest = text.partition("\n")
        click.echo(f"{head}\n\nCommit `{commit.commit_sha}` by {_md(commit.author)}, `{where}`.\n{rest}", nl=False)
    else:
        print_plan(result, console)
        console.print(f"Plan for {short} ({commit.subject}).", markup=False)
    if detailed_exitcode and not result.empty:
        sys.exit(2)


def _md(text: str) -> str:
    # A commit subject or author goes into a comment: no HTML, no accidental markdown or mentions.
    return html.escape(text).replace("@", "@\u200b").replace("`", "'").replace("*", "\\*").replace("_", "\\_")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@db_option
@output_option("json")
@adopt_option
@prune_option
@click.option("--auto-approve", "-y", is_flag=True, help="apply without asking")
def apply(
    paths: tuple[str, ...], db_url: str | None, output: str, adopt: bool, prune: bool, auto_approve: bool
) -> None:
    """Plan, ask, and apply the changes in one transaction (all or nothing)."""
    state = load_state(paths)
    engine = open_db(db_url)
    info = RevisionInfo(actor=actor(), source=describe_source(paths))
    result = approve_and_apply(
        engine,
        state,
        info=info,
        options=_options(adopt, prune),
        auto_approve=auto_approve,
        question="Apply these changes?",
        quiet=output == "json",
    )
    if output == "json":
        print_json({**result.plan.to_json(), "revision": result.revision_id})
        return
    if result.revision_id is not None:
        console.print(f"[bold green]Applied[/bold green] as revision {result.revision_id}.")
