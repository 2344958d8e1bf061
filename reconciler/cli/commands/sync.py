"""``trunkline sync``: apply one commit of a git repository to the switch database, once or in a loop."""

from __future__ import annotations

import logging
import sys

import click
from rich.markup import escape

from reconciler import sync as syncing
from reconciler import watch as watching
from reconciler.cli.app import INTERVAL, cli, db_option, output_option
from reconciler.cli.common import actor, open_db
from reconciler.cli.output import console, print_json
from reconciler.gitsource import CACHE_ENV, GitSource
from reconciler.notify import Notifier
from reconciler.reconcile import Options
from reconciler.render import print_plan


@cli.command()
@click.option("--repo", required=True, help="git URL (https://, ssh://, file://, git@host:path) or a local path")
@click.option(
    "--ref", default=None, help="branch, tag, or full or short commit SHA (required unless --suspend/--resume)"
)
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
@click.option("--watch", is_flag=True, help="keep syncing: fetch every --interval, apply new commits, correct drift")
@click.option("--interval", type=INTERVAL, default="60s", show_default=True, help="with --watch: time between ticks")
@click.option(
    "--correct-drift/--no-correct-drift",
    default=True,
    show_default=True,
    help="with --watch: put back owned rows changed behind Trunkline's back (or only report them)",
)
@click.option(
    "--suspend-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="while this file exists, --watch ticks do nothing (default: 'suspended' in the repo's cache directory)",
)
@click.option("--suspend", "suspend_now", is_flag=True, help="create the suspend file (pause watchers) and exit")
@click.option("--resume", "resume_now", is_flag=True, help="remove the suspend file (resume watchers) and exit")
@click.option(
    "--notify-webhook", envvar="TRUNKLINE_NOTIFY_WEBHOOK", default=None, help="with --watch: POST JSON events here"
)
@click.option(
    "--notify-slack", envvar="TRUNKLINE_NOTIFY_SLACK", default=None, help="with --watch: Slack incoming-webhook URL"
)
@output_option("json")
def sync(
    repo: str,
    ref: str | None,
    path_in_repo: str,
    db_url: str | None,
    adopt: bool,
    prune: bool,
    cache_dir: str | None,
    watch: bool,
    interval: float,
    correct_drift: bool,
    suspend_file: str | None,
    suspend_now: bool,
    resume_now: bool,
    notify_webhook: str | None,
    notify_slack: str | None,
    output: str,
) -> None:
    """Fetch REPO, check out REF, and apply the manifests under PATH (one transaction, no prompt).

    With --watch, keep doing so every --interval until SIGTERM/SIGINT.
    """
    if suspend_now or resume_now:
        _suspend_or_resume(repo, ref, cache_dir, suspend_file, suspend=suspend_now, resume=resume_now)
        return
    if ref is None:
        raise click.UsageError("Missing option '--ref'.")
    source = GitSource(repo, ref, cache_dir=cache_dir)
    options = Options(adopt=adopt, prune=prune)
    if watch:
        notifier = _notifier(notify_webhook, notify_slack)
        _watch(source, path_in_repo, db_url, options, interval, correct_drift, suspend_file, notifier)
        return
    engine = open_db(db_url)
    try:
        result = syncing.sync_once(engine, source, path_in_repo, options=options, actor=actor())
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


def _suspend_or_resume(
    repo: str, ref: str | None, cache_dir: str | None, suspend_file: str | None, *, suspend: bool, resume: bool
) -> None:
    from pathlib import Path

    if suspend and resume:
        raise click.UsageError("--suspend and --resume exclude each other")
    source = GitSource(repo, ref or "main", cache_dir=cache_dir)  # the file is per repository, not per ref
    path = Path(suspend_file) if suspend_file else watching.suspend_file(source)
    if suspend:
        watching.suspend(path, actor=actor())
        console.print(f"Suspended syncs of {source.display_url} ({path}).", markup=False)
    elif watching.resume(path):
        console.print(f"Resumed syncs of {source.display_url}.", markup=False)
    else:
        console.print(f"Syncs of {source.display_url} were not suspended.", markup=False)


def _watch(
    source: GitSource,
    path_in_repo: str,
    db_url: str | None,
    options: Options,
    interval: float,
    correct_drift: bool,
    suspend_file: str | None,
    notifier: Notifier,
) -> None:
    from pathlib import Path

    _log_to_stderr()
    engine = open_db(db_url)
    watcher = watching.Watcher(
        engine,
        source,
        path_in_repo,
        actor=actor(),
        interval=interval,
        options=options,
        correct_drift=correct_drift,
        suspend_path=Path(suspend_file) if suspend_file else None,
        notifier=notifier,
    )
    try:
        watcher.run()
    finally:
        engine.dispose()


def _notifier(webhook: str | None, slack: str | None) -> Notifier:
    try:
        return Notifier(webhook_url=webhook, slack_url=slack)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _log_to_stderr() -> None:
    # A long-running loop logs (journald/kubectl logs read stderr); one line per event, UTC times.
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = __import__("time").gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger("trunkline")
    if not any(getattr(h, "_trunkline", False) for h in root.handlers):
        handler._trunkline = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.INFO)
