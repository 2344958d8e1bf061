"""The ``trunkline`` command line: one click group, one module per command family.

Exit codes are for scripts: 0 success, 1 an operational error (database, git, I/O),
2 invalid input (or, with ``plan --detailed-exitcode``, changes present). No traceback ever
reaches a user for a ``TrunklineError``; anything else is reported as an internal error.
"""

from __future__ import annotations

import sys

from reconciler.cli import commands as _commands  # noqa: F401  (registers the subcommands)
from reconciler.cli.app import cli


def main(argv: list[str] | None = None) -> None:
    from reconciler.cli.output import run_guarded

    sys.exit(run_guarded(cli, argv))


__all__ = ["cli", "main"]
