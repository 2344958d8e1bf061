"""Test tools built or installed on first use: skip with the reason locally, fail under CI.

A missing Go, kube-apiserver, pulumi or kamailio must never let CI pass by skipping (CI sets
``CI``); on a developer's machine the tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
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
