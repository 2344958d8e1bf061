"""Terraform's apply flow, shared by ``apply`` and ``rollback``: plan, show, ask, apply.

The plan a person approved is passed to the engine as ``expected``; if the database moved in
between, the engine refuses (``StalePlanError``) and the new plan is shown instead.
"""

from __future__ import annotations

import sys

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from reconciler import reconcile
from reconciler.apply import RevisionInfo
from reconciler.cli.output import console, err_console
from reconciler.reconcile import ApplyResult, Options, StalePlanError
from reconciler.render import print_plan
from resources.state import DesiredState

PROGRESS_THRESHOLD = 1000  # below this many changes a bar is noise


def approve_and_apply(
    engine: Engine,
    state: DesiredState,
    *,
    info: RevisionInfo,
    options: Options,
    auto_approve: bool,
    question: str,
    quiet: bool,
) -> ApplyResult:
    """Apply ``state``; without ``auto_approve`` show the plan and ask first (not when it is empty)."""
    expected = None
    if not auto_approve:
        expected = reconcile.plan(engine, state, options=options)
        print_plan(expected, console)
        if expected.empty:
            return ApplyResult(expected, None)
        if not sys.stdin.isatty():
            raise click.UsageError(
                "refusing to apply without confirmation: stdin is not a terminal (use --auto-approve)"
            )
        click.confirm(question, abort=True)
    try:
        result = _apply(engine, state, info, options, expected, quiet=quiet)
    except StalePlanError as exc:
        err_console.print("[yellow]The database changed since the plan was shown. The plan is now:[/yellow]")
        print_plan(exc.plan, err_console)
        raise
    if auto_approve and not quiet:
        print_plan(result.plan, console)
    return result


def _apply(
    engine: Engine,
    state: DesiredState,
    info: RevisionInfo,
    options: Options,
    expected: reconcile.Plan | None,
    *,
    quiet: bool,
) -> ApplyResult:
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
