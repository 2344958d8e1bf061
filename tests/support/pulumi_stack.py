"""A Pulumi project for the engine tests (tests/pulumi/): examples/ copied to a temporary
directory, its examples/pulumi program run by the CLI that tests/pulumi/build.sh built, under this
repository's virtualenv, a local file backend and its own PULUMI_HOME, one stack `test` with the
passphrase secrets provider, and the switch database in SQLite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)  # the virtualenv running the tests is the program's Python
EXAMPLES = REPO / "examples"
#: One `pulumi up` of the example (34 resources, one Python plugin process) on a busy machine.
COMMAND_TIMEOUT = 15 * 60

SIP_PASSWORD = "Acme-1001-S3cret!"
#: The password the engine tests give a SIP user directly (`config.require_secret`), not by passwordRef.
DIRECT_PASSWORD = "Direct-1002-S3cret!"
#: passwordRef env variables the example and examples/*.yaml read: set for `pulumi up` (whose
#: provider process inherits them) and for `trunkline apply` alike, so the digests are the same.
EXAMPLE_PASSWORDS = {
    "TRUNKLINE_EXAMPLE_ACME_NOC_PASSWORD": "Noc-Portal-Pass-1",
    "TRUNKLINE_EXAMPLE_BLUEFIN_OPS_PASSWORD": "Ops-Portal-Pass-2",
    "TRUNKLINE_EXAMPLE_COBALT_TRUNK_PASSWORD": "Trunk-Pass-3",
    "TRUNKLINE_EXAMPLE_COBALT_OFFICE_PASSWORD": "Office-Pass-4",
    "TRUNKLINE_EXAMPLE_BLUEFIN_ROAMING_PASSWORD": "Roaming-Pass-5",
    "TRUNKLINE_EXAMPLE_ACME1001_PASSWORD": SIP_PASSWORD,
}


class PulumiFailed(AssertionError):
    """A `pulumi` or `trunkline` command of the test exited non-zero (its output tails attached)."""


@dataclass
class PulumiProject:
    """examples/ copied to `root`, the Pulumi program in root/examples/pulumi, one stack `test`."""

    tools: Path
    root: Path
    db_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def program(self) -> Path:
        return self.root / "examples" / "pulumi"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    @classmethod
    def create(cls, tools: Path, root: Path) -> PulumiProject:
        shutil.copytree(EXAMPLES, root / "examples")
        project = cls(tools, root, root / "switch.db")
        project._use_this_virtualenv()
        home = root / "pulumi-home"
        state = root / "pulumi-state"
        home.mkdir()
        state.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
        env.update(EXAMPLE_PASSWORDS)
        env.pop("TRUNKLINE_DB", None)  # the stack config names the database
        env.update(
            {
                # tools first: the engine finds the language host and the dynamic provider on PATH
                "PATH": os.pathsep.join([str(tools), str(VENV / "bin"), env.get("PATH", "")]),
                "PULUMI_HOME": str(home),
                "PULUMI_SKIP_UPDATE_CHECK": "1",
                "PULUMI_CONFIG_PASSPHRASE": "test",
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "PULUMI_SKIP_CONFIRMATIONS": "1",
                "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "1",
                "NO_COLOR": "1",
            }
        )
        project.env = env
        project.run("login", f"file://{state}")
        project.run("stack", "init", "test", "--secrets-provider", "passphrase")
        project.run("config", "set", "--secret", "trunkline:dbUrl", project.db_url)
        project.run("config", "set", "--secret", "acme1002Password", DIRECT_PASSWORD)
        return project

    def _use_this_virtualenv(self) -> None:
        """Pulumi.yaml names ../../.venv; in the copy, name this checkout's virtualenv."""
        from ruamel.yaml import YAML

        yaml = YAML()
        path = self.program / "Pulumi.yaml"
        doc = yaml.load(path.read_text(encoding="utf-8"))
        doc["runtime"]["options"]["virtualenv"] = str(VENV)
        # Workaround (reported): Pulumi refuses a project file that declares another namespace's key
        # without a value ("Configuration key 'trunkline:dbUrl' is namespaced and must provide an
        # attribute 'value'"); the stack config sets it instead.
        for key in [k for k in doc.get("config") or {} if ":" in k]:
            del doc["config"][key]
        with path.open("w", encoding="utf-8") as handle:
            yaml.dump(doc, handle)

    def run(self, *args: str, check: bool = True, timeout: int = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """``pulumi ARGS`` in the program's directory."""
        return self._command([str(self.tools / "pulumi"), "--non-interactive", *args], self.program, check, timeout)

    def json(self, *args: str) -> Any:
        done = self.run(*args, "--json")
        return json.loads(done.stdout)

    def trunkline(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``trunkline ARGS`` (this virtualenv's) in the copy of the repository."""
        return self._command([str(VENV / "bin" / "trunkline"), *args], self.root, check, COMMAND_TIMEOUT)

    def _command(self, argv: list[str], cwd: Path, check: bool, timeout: int) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise PulumiFailed(
                f"{Path(argv[0]).name} {' '.join(argv[1:])} exited {done.returncode}\n"
                f"--- stdout\n{done.stdout[-6000:]}\n--- stderr\n{done.stderr[-6000:]}"
            )
        return done
