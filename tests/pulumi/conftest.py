"""Fixtures for the tests that run the real Pulumi engine over the provider (tests/pulumi/).

- `pulumi_tools` (session): the directory holding `pulumi`, the Python language host and the
  SDK's two scripts, built by tests/pulumi/build.sh into a per-version cache (a no-op once built;
  `make test` builds first).
- `deployed` (module): the example program after `pulumi up` into an empty SQLite switch
  database (`support.pulumi_stack.PulumiProject`: a copy of examples/ in a temporary directory,
  this repository's virtualenv, a local file backend, its own PULUMI_HOME, passphrase secrets).

Skipped when Go is not installed (nothing to build with), except under CI (`CI` set), where that
and a failed build are failures: a CI run that silently skipped these tests would prove nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.pulumi_stack import PulumiProject
from support.tools import build_tools

PULUMI_DIR = Path(__file__).resolve().parent
BUILD_SCRIPT = PULUMI_DIR / "build.sh"


@pytest.fixture(scope="session")
def pulumi_tools() -> Path:
    """Build (when missing) and return the directory with pulumi and the Python language host."""
    return build_tools(BUILD_SCRIPT, binaries=("pulumi",), where="tests/pulumi")


@pytest.fixture(scope="module")
def deployed(pulumi_tools: Path, tmp_path_factory: pytest.TempPathFactory) -> PulumiProject:
    """The example program after a successful `pulumi up` into an empty SQLite switch database."""
    project = PulumiProject.create(pulumi_tools, tmp_path_factory.mktemp("pulumi"))
    project.run("up", "--yes", "--skip-preview")
    return project


@pytest.fixture
def fresh_deployed(pulumi_tools: Path, tmp_path_factory: pytest.TempPathFactory) -> PulumiProject:
    """A stack of its own for a test that changes and destroys it (the shared one stays intact)."""
    project = PulumiProject.create(pulumi_tools, tmp_path_factory.mktemp("pulumi-lifecycle"))
    project.run("up", "--yes", "--skip-preview")
    return project
