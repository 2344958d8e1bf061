"""Rendering for people (rich) and machines (JSON), and the error boundary of the CLI."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from resources.errors import TrunklineError, ValidationError

# Piped output (CI logs, `| less`) is not squeezed to 80 columns: tables stay readable.
_WIDTH = None if sys.stdout.isatty() else 200
console = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 200)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str, sort_keys=False))


def report_error(error: TrunklineError, *, output: str = "text") -> int:
    """Print a Trunkline error the way the chosen output wants it; return the exit code."""
    if isinstance(error, ValidationError):
        if output == "json":
            print_json({"valid": False, "problems": [p.to_json() for p in error.problems]})
        else:
            # Lines start with path:LINE:COL so editors and CI annotators can jump to them.
            for problem in error.problems:
                err_console.print(problem.render(), style="red", markup=False, emoji=False)
            count = len(error.problems)
            err_console.print(f"[bold red]{count} problem{'s' if count != 1 else ''}[/bold red] found")
    else:
        if output == "json":
            print_json({"error": error.message})
        else:
            err_console.print(f"[red]error[/red]: {escape(error.message)}", emoji=False)
    return error.exit_code


def run_guarded(command: click.Command, argv: Sequence[str] | None) -> int:
    """Run the click command; map every exception to a message and an exit code."""
    try:
        # With standalone_mode=False click returns ctx.exit(code) codes instead of raising.
        returned = command.main(args=list(argv) if argv is not None else None, standalone_mode=False)
        if isinstance(returned, int) and not isinstance(returned, bool):
            return returned
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 1
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return 2 if exc.exit_code == 2 else exc.exit_code
    except TrunklineError as exc:
        return report_error(exc, output=_output_of(argv))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("TRUNKLINE_DEBUG"):
            raise
        err_console.print(
            f"[red]internal error[/red] {type(exc).__name__}: {exc} (set TRUNKLINE_DEBUG=1 for a traceback)"
        )
        return 1
    return 0


def _output_of(argv: Sequence[str] | None) -> str:
    args = list(argv if argv is not None else sys.argv[1:])
    for index, arg in enumerate(args):
        if arg in ("--output", "-o") and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--output="):
            return arg.split("=", 1)[1]
    return "text"
