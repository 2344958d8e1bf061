"""Importing this package registers every subcommand on the root group."""

from reconciler.cli.commands import crds as crds
from reconciler.cli.commands import (
    plan,  # noqa: F401
    validate,  # noqa: F401
)
from reconciler.cli.commands import schema as schema
