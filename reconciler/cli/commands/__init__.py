"""Importing this package registers every subcommand on the root group."""

from reconciler.cli.commands import validate  # noqa: F401
