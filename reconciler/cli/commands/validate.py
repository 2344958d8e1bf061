"""``trunkline validate PATH...``: load and check manifests, write nothing."""

from __future__ import annotations

from collections import Counter

import click

import resources
from reconciler.cli.app import cli, output_option
from reconciler.cli.output import console, print_json


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@output_option("json")
def validate(paths: tuple[str, ...], output: str) -> None:
    """Check manifests (files, directories, or - for stdin); exit 2 listing every problem."""
    state = resources.load(paths)
    counts = Counter(key.kind for key in state.objects)
    if output == "json":
        print_json({"valid": True, "objects": len(state), "kinds": dict(counts)})
        return
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "no objects"
    console.print(f"[green]valid[/green]: {len(state)} objects ({summary})")
