"""Importing this package registers every subcommand on the root group."""

from reconciler.cli.commands import crds as crds
from reconciler.cli.commands import (
    db,  # noqa: F401
    drift,  # noqa: F401
    export,  # noqa: F401
    get,  # noqa: F401
    history,  # noqa: F401
    operator,  # noqa: F401
    plan,  # noqa: F401
    rollback,  # noqa: F401
    validate,  # noqa: F401
)
from reconciler.cli.commands import packages as packages
from reconciler.cli.commands import rating as rating
from reconciler.cli.commands import recalc as recalc
from reconciler.cli.commands import schema as schema
from reconciler.cli.commands import sidecar as sidecar
from reconciler.cli.commands import simulate as simulate
from reconciler.cli.commands import stats as stats
from reconciler.cli.commands import sync as sync
