"""``trunkline plan`` and ``trunkline apply``: Terraform's two verbs, for a carrier's switch."""

from __future__ import annotations

import sys

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reconciler import reconcile
from reconciler.apply import RevisionInfo
from reconciler.cli.app import cli, db_option, output_option
from reconciler.cli.common import actor, describe_source, load_state, open_db
from reconciler.cli.output import console, err_console, print_json
from reconciler.reconcile import Options, StalePlanError
from reconciler.render import plan_markdown, print_plan

PROGRESS_THRESHOLD = 1000  # below this many changes a bar is noise


def _options(adopt: bool, prune: bool) -> Options:
    return Options(adopt=adopt, prune=prune)


adopt_option = click.option("--adopt", is_flag=True, help="take ownership of existing rows that match declarations")
prune_option = click.option(
    "--prune/--no-prune", default=True, show_default=True, help="delete owned objects that are no longer declared"
)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@db_option
@output_option("json", "markdown")
@adopt_option
@prune_option
@click.option(
    "--detailed-exitcode", is_flag=True, help="exit 0 when there are no changes, 2 when there are, 1 on error"
)
def plan(
    paths: tuple[str, ...], db_url: str | None, output: str, adopt: bool, prune: bool, detailed_exitcode: bool
) -> None:
    """Show what apply would change in the switch database, without writing."""
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
    options = _options(adopt, prune)
    info = RevisionInfo(actor=actor(), source=describe_source(paths))
    expected = None
    if not auto_approve:
        expected = reconcile.plan(engine, state, options=options)
        print_plan(expected, console)
        if expected.empty:
            return
        if not sys.stdin.isatty():
            raise click.UsageError(
                "refusing to apply without confirmation: stdin is not a terminal (use --auto-approve)"
            )
        click.confirm("Apply these changes?", abort=True)
    try:
        result = _apply_with_progress(engine, state, info, options, expected, quiet=output == "json")
    except StalePlanError as exc:
        err_console.print("[yellow]The database changed since the plan was shown. The plan is now:[/yellow]")
        print_plan(exc.plan, err_console)
        raise
    if output == "json":
        print_json({**result.plan.to_json(), "revision": result.revision_id})
        return
    if auto_approve:
        print_plan(result.plan, console)
    if result.revision_id is not None:
        console.print(f"[bold green]Applied[/bold green] as revision {result.revision_id}.")


def _apply_with_progress(engine, state, info, options, expected, *, quiet: bool):  # type: ignore[no-untyped-def]
    if quiet or not err_console.is_terminal:
        return reconcile.apply(engine, state, info=info, options=options, expected=expected)
    with Progress(
        TextColumn("applying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console
    ) as bar:
        task = bar.add_task("apply", total=None)

        def progress(done: int, total: int) -> None:
            if total >= PROGRESS_THRESHOLD:
                bar.update(task, completed=done, total=total)

        return reconcile.apply(engine, state, info=info, options=options, expected=expected, progress=progress)
