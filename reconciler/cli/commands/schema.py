"""``trunkline schema KIND``: the JSON schema of a kind, for editors and other tools."""

from __future__ import annotations

import click

from reconciler.cli.app import cli, output_option
from reconciler.cli.output import print_json
from resources.schema import json_schema, to_yaml


@cli.command()
@click.argument("kind")
@output_option("yaml", default="json")
def schema(kind: str, output: str) -> None:
    """Print the JSON schema of KIND (a kind, its plural or short name), self-contained (no $ref)."""
    document = json_schema(kind)
    if output == "yaml":
        click.echo(to_yaml(document), nl=False)
    else:
        print_json(document)
