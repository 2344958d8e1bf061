"""``trunkline export``: the live database as manifests, to adopt a switch that predates Trunkline."""

from __future__ import annotations

from pathlib import Path

import click
from ruamel.yaml import YAML

from reconciler.cli.app import cli, db_option
from reconciler.cli.common import open_db
from reconciler.cli.output import console, print_json
from reconciler.export import export_manifests
from reconciler.mapping import kind_maps
from reconciler.observe import observe
from resources.schema import resolve_kind


@cli.command()
@db_option
@click.option("--kind", "kinds", multiple=True, help="only these kinds (repeatable)")
@click.option("--unmanaged", is_flag=True, help="only rows Trunkline does not own yet")
@click.option("--output", "-o", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), help="write one file per kind")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["manifests", "pulumi"]),
    default="manifests",
    show_default=True,
    help="manifests (YAML/JSON), or a Pulumi program (__main__.py) declaring the rows",
)
def export(
    db_url: str | None, kinds: tuple[str, ...], unmanaged: bool, output: str, output_dir: Path | None, format_: str
) -> None:
    """Write manifests for the rows in the database (then `apply --adopt` takes them over)."""
    wanted = {resolve_kind(k).__name__ for k in kinds} or None
    engine = open_db(db_url)
    with engine.connect() as conn:
        live = observe(conn, kind_maps())
    keys = [k for k in live.rows if (wanted is None or k.kind in wanted) and (not unmanaged or k not in live.owned)]
    manifests = export_manifests(live, keys)
    if format_ == "pulumi":
        from provider.program import render  # the Pulumi front end; imported only when asked for

        program = render(manifests)
        if output_dir is None:
            console.file.write(program)
            return
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "__main__.py").write_text(program, encoding="utf-8")
        console.print(f"wrote {output_dir / '__main__.py'} ({len(manifests)} objects)")
        return
    if output == "json" and output_dir is None:
        print_json(manifests)
        return
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[attr-defined]
    if output_dir is None:
        yaml.dump_all(manifests, console.file)
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    by_kind: dict[str, list[dict]] = {}
    for manifest in manifests:
        by_kind.setdefault(manifest["kind"], []).append(manifest)
    for kind, items in by_kind.items():
        path = output_dir / f"{kind_maps()[kind].model.plural}.yaml"
        with path.open("w", encoding="utf-8") as handle:
            yaml.dump_all(items, handle)
        console.print(f"wrote {path} ({len(items)} objects)")
