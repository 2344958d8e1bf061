"""``trunkline crds generate|check``: the CustomResourceDefinitions under ``crds/``.

The files are generated from the kinds and never edited by hand; ``check`` is what CI (and a
test) runs to catch a model change whose CRDs were not regenerated.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.app import cli
from reconciler.cli.output import console, err_console
from resources import crds as crd_files
from resources.errors import TrunklineError

DIR_HELP = "directory holding the CRD files (repeatable)"
# crds/ for kubectl users, and the Helm chart's crds/ (Helm installs those before templates).
DEFAULT_DIRS = (Path("crds"), Path("helm/trunkline/crds"))


def _directory_option(function):  # type: ignore[no-untyped-def]
    return click.option(
        "--output-dir",
        "--dir",
        "directories",
        type=click.Path(file_okay=False, path_type=Path),
        multiple=True,
        default=DEFAULT_DIRS,
        show_default=True,
        help=DIR_HELP,
    )(function)


def _existing(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        return {}
    try:
        return {
            path.name: path.read_text(encoding="utf-8")
            for path in sorted(directory.iterdir())
            if path.is_file() and crd_files.is_crd_file(path.name)
        }
    except (OSError, UnicodeDecodeError) as exc:
        raise TrunklineError(f"cannot read CRD directory {directory}: {exc}") from exc


@cli.group()
def crds() -> None:
    """Kubernetes CustomResourceDefinitions generated from the kinds."""


@crds.command()
@_directory_option
def generate(directories: tuple[Path, ...]) -> None:
    """Write one CRD file per kind; remove files of kinds that no longer exist."""
    expected = crd_files.rendered()
    for directory in directories:
        _generate(directory, expected)


def _generate(directory: Path, expected: dict[str, str]) -> None:
    existing = _existing(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in expected.items():
            path = directory / name
            if existing.get(name) == text:
                console.print(f"unchanged {path}")
                continue
            path.write_text(text, encoding="utf-8")
            console.print(f"[green]wrote[/green] {path}")
        for name in existing:
            if name not in expected:
                (directory / name).unlink()
                console.print(f"[yellow]removed[/yellow] {directory / name}")
    except OSError as exc:
        raise TrunklineError(f"cannot write CRDs to {directory}: {exc}") from exc


@crds.command()
@_directory_option
@click.pass_context
def check(ctx: click.Context, directories: tuple[Path, ...]) -> None:
    """Exit 1 listing the CRD files that differ from what `crds generate` would write."""
    stale = False
    for directory in directories:
        problems = crd_files.stale(crd_files.rendered(), _existing(directory))
        if not problems:
            console.print(f"[green]up to date[/green]: {directory}")
            continue
        stale = True
        for name, reason in problems:
            err_console.print(f"[red]stale[/red] {directory / name}: {reason}")
    if stale:
        err_console.print("run `trunkline crds generate` and commit the result")
        ctx.exit(1)
