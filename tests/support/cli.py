"""``trunkline`` run in this process, as tests call it: exit code and captured output.

A subprocess costs a second of imports per call; ``reconciler.cli.main`` in-process costs nothing
and exits the same way (``SystemExit``). Tests that must prove the real process's exit status run
``python -m reconciler.cli`` themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from reconciler.cli import main


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliRun:
    """``main(args)`` with stdout and stderr captured; a ``SystemExit`` is the exit code."""
    capsys.readouterr()  # drop what came before
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:
        code = 0
    out, err = capsys.readouterr()
    return CliRun(code, out, err)
