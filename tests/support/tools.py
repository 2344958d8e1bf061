"""Test tools built or installed on first use: skip with the reason locally, fail under CI.

A missing Go, kube-apiserver, pulumi or kamailio must never let CI pass by skipping (CI sets
``CI``); on a developer's machine the tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str, *, where: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    print(f"\n{where}: skipping: {reason}")
    pytest.skip(reason)


def find_go() -> str | None:
    """As the build scripts look: $GO only when set (GO=none: no Go), else PATH, else /usr/local/go."""
    if go := os.environ.get("GO"):
        return shutil.which(go)
    return shutil.which("go") or ("/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None)


#: The first build on a fresh machine downloads hundreds of MB of modules and compiles for minutes.
BUILD_TIMEOUT = 45 * 60


def build_tools(script: Path, *, binaries: tuple[str, ...], where: str, timeout: float = BUILD_TIMEOUT) -> Path:
    """Run a tool build script (scripts/lib/gotool.sh) and return the directory it prints last.

    The script is a no-op once the binaries are cached. Without Go and without a cached build the
    caller's tests skip (fail under CI), as does a failed or timed-out build.
    """
    cached = Path(subprocess.run([str(script), "--print"], capture_output=True, text=True, check=True).stdout.strip())
    if not all((cached / name).exists() for name in binaries) and find_go() is None:
        skip_or_fail(f"Go is not installed, so {', '.join(binaries)} cannot be built ({script.name})", where=where)
    try:
        done = subprocess.run(
            [str(script)], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        skip_or_fail(f"{script} did not finish in {timeout / 60:.0f} minutes", where=where)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        skip_or_fail(f"{script} failed with status {done.returncode}:\n{tail}", where=where)
    return Path(done.stdout.strip().splitlines()[-1])


def require_programs(*programs: str, where: str, install: str) -> None:
    """Skip (fail under CI) unless every program is on PATH; ``install`` says how to get them."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        skip_or_fail(f"{', '.join(missing)} not installed ({install})", where=where)
