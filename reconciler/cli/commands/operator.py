"""``trunkline operator``: run the Kopf operator (a thin wrapper around ``kopf run``)."""

from __future__ import annotations

import os

import click

from reconciler.cli.app import cli, db_option
from switchdb.engine import database_url, open_database, redact_url


@cli.command()
@db_option
@click.option("--namespace", "-n", "namespaces", multiple=True, help="watch only these namespaces (default: all)")
@click.option("--standalone", is_flag=True, help="no peering: for a single replica or local runs")
@click.option("--peering", default="trunkline", show_default=True, help="Kopf peering name (active/standby pair)")
@click.option("--priority", default=0, show_default=True, help="peering priority; the highest is active")
@click.option("--liveness", default="http://0.0.0.0:8080/healthz", show_default=True, help="liveness endpoint")
@click.option(
    "--drift-interval",
    default=300.0,
    show_default=True,
    help="seconds between drift checks of each object (about 1,000 objects per minute of interval)",
)
def operator(
    db_url: str | None,
    namespaces: tuple[str, ...],
    standalone: bool,
    peering: str,
    priority: int,
    liveness: str,
    drift_interval: float,
) -> None:
    """Reconcile Trunkline custom resources in Kubernetes into the switch database."""
    url = database_url(db_url)
    open_database(url).dispose()  # fail early, and migrate once before watching anything
    os.environ["TRUNKLINE_DB"] = url
    os.environ["TRUNKLINE_DRIFT_INTERVAL"] = str(drift_interval)
    os.environ["TRUNKLINE_PEERING"] = peering
    click.echo(f"trunkline operator: database {redact_url(url)}, peering {'off' if standalone else peering}")

    import kopf

    import reconciler.operator  # noqa: F401  (registers the handlers)

    kopf.configure(verbose=False)  # kopf.run, unlike `kopf run`, leaves logging unconfigured: silent
    kopf.run(
        standalone=standalone,
        priority=priority,
        # A peering name makes peering mandatory in Kopf, which then pauses every watch until a
        # peering object exists, even with standalone=True; so a standalone run names none.
        peering_name=None if standalone else peering,
        liveness_endpoint=liveness or None,
        clusterwide=not namespaces,
        namespaces=namespaces,
    )
