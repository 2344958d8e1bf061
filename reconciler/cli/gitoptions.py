"""Options naming a git source (``--repo --ref --path --cache-dir``) for commands that also take PATHS.

``plan`` and ``drift`` read either manifest paths or one commit of a repository, never both;
``sync`` has its own required options.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from reconciler.gitsource import CACHE_ENV, GitSource
from resources.errors import TrunklineError


class SourceUsageError(TrunklineError):
    """Neither or both of PATHS and --repo were given (exit 1: a mistake, not drift or changes)."""

    exit_code = 1


def repo_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--repo", default=None, help="git URL or local path: read a commit instead of PATHS"),
        click.option("--ref", default=None, help="with --repo: branch, tag, or full or short commit SHA"),
        click.option("--path", "path_in_repo", default=".", show_default=True, help="with --repo: manifest directory"),
        click.option(
            "--cache-dir",
            envvar=CACHE_ENV,
            default=None,
            type=click.Path(file_okay=False),
            help="with --repo: where repositories are cached (default: $TRUNKLINE_CACHE)",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def git_source(paths: tuple[str, ...], repo: str | None, ref: str | None, cache_dir: str | None) -> GitSource | None:
    """The git source to read, or None for PATHS; refuses neither/both."""
    if repo is None:
        if not paths:
            raise SourceUsageError("give manifest PATHS, or --repo URL --ref REF [--path DIR]")
        if ref is not None:
            raise SourceUsageError("--ref needs --repo")
        return None
    if paths:
        raise SourceUsageError("give manifest PATHS or --repo, not both")
    if not ref:
        raise SourceUsageError("--repo needs --ref (a branch, tag or commit SHA)")
    return GitSource(repo, ref, cache_dir=cache_dir)
