"""The operator as a real process, and the example carrier as Kubernetes objects, for e2e tests and bench.

Why a subprocess: what the end-to-end tests prove is what a user gets from `trunkline operator`
(Kopf's watch streams, finalizers, status patches, events, timers, restarts), so the operator runs
exactly as it would in a Pod: `python -m reconciler.cli operator --db URL --standalone` with the
test cluster's KUBECONFIG, its output in a log file that failures print.

`example_objects(namespace)` turns `examples/` into what `kubectl apply` takes: every manifest in
``namespace``, the CSV deck as a ConfigMap (`ratesFrom.configMapRef`) and every `passwordRef.env`
as a `secretKeyRef` to one Secret, `example-passwords`, whose keys are the variable names.
`example_cli_tree(namespace, directory)` writes the same manifests, still file- and env-based, for
`trunkline apply`, so both front ends write the same namespace's rows. Database reads
(`table_rows`, `sql`, `scalar`) are in support.db; polling (`wait_until`) in support.polling.
"""

from __future__ import annotations

import base64
import copy
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

# Re-exported: bench/bench_operator.py imports wait_until from here.
from support.polling import Timeout, wait_until  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
EXAMPLE_FILES = (
    "customers.yaml",
    "ratecards/usd-wholesale.yaml",
    "ratecards/eur-standard.yaml",
    "ratecards/gbp-retail.yaml",
    "ratecards/provider-linebridge.yaml",
    "routes.yaml",
    "auth.yaml",
    "dids.yaml",
    "packages.yaml",
    "alerts.yaml",
)
PASSWORD_SECRET = "example-passwords"
DECK_CONFIG_MAP = "rate-decks"


def example_passwords() -> dict[str, str]:
    """A password for every TRUNKLINE_EXAMPLE_* variable the examples name (deterministic)."""
    names = set()
    for doc in _example_documents():
        for ref in _password_refs(doc):
            names.add(ref["env"])
    return {name: f"pw-{name.lower()}" for name in sorted(names)}


def example_objects(namespace: str) -> list[dict[str, Any]]:
    """The example carrier as Kubernetes objects in ``namespace`` (Secret and ConfigMap first)."""
    passwords = example_passwords()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": PASSWORD_SECRET, "namespace": namespace},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in passwords.items()},
    }
    decks: dict[str, str] = {}
    objects: list[dict[str, Any]] = []
    for doc, file in _example_documents_with_files():
        doc = copy.deepcopy(doc)
        doc["metadata"]["namespace"] = namespace
        for ref in _password_refs(doc):
            ref["secretKeyRef"] = {"name": PASSWORD_SECRET, "key": ref.pop("env")}
        rates_from = (doc.get("spec") or {}).get("ratesFrom") or {}
        if "csv" in rates_from:
            csv = rates_from.pop("csv")
            key = Path(csv).name
            decks[key] = (file.parent / csv).read_text()
            rates_from["configMapRef"] = {"name": DECK_CONFIG_MAP, "key": key}
        objects.append(doc)
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": DECK_CONFIG_MAP, "namespace": namespace},
        "data": decks,
    }
    return [secret, config_map, *objects]


def example_cli_tree(namespace: str, directory: Path) -> Path:
    """examples/ copied into ``directory`` with every manifest in ``namespace`` (for `trunkline apply`)."""
    for doc_file in EXAMPLE_FILES:
        source = EXAMPLES / doc_file
        target = directory / doc_file
        target.parent.mkdir(parents=True, exist_ok=True)
        docs = [d for d in yaml.safe_load_all(source.read_text()) if d]
        for doc in docs:
            doc["metadata"]["namespace"] = namespace
        target.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    decks = directory / "ratecards" / "decks"
    decks.mkdir(parents=True, exist_ok=True)
    for deck in (EXAMPLES / "ratecards" / "decks").iterdir():
        (decks / deck.name).write_text(deck.read_text())
    return directory


def _example_documents_with_files() -> Iterator[tuple[dict[str, Any], Path]]:
    for doc_file in EXAMPLE_FILES:
        path = EXAMPLES / doc_file
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield doc, path


def _example_documents() -> Iterator[dict[str, Any]]:
    for doc, _ in _example_documents_with_files():
        yield doc


def _password_refs(value: Any) -> Iterator[dict[str, Any]]:
    """Every mapping that is a `*Ref` with `env` (passwordRef, credentials' refs...)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("Ref") and isinstance(item, dict) and "env" in item:
                yield item
            else:
                yield from _password_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _password_refs(item)


def to_yaml(objects: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


# -- the operator process --------------------------------------------------------------------


class OperatorProcess:
    """`trunkline operator` in a subprocess against a test cluster; a context manager."""

    def __init__(
        self,
        env: dict[str, str],
        db_url: str,
        log: Path,
        *,
        drift_interval: float = 60.0,
        namespaces: tuple[str, ...] = (),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.env = {**env, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
        self.db_url = db_url
        self.log = log
        self.drift_interval = drift_interval
        self.namespaces = namespaces
        self.process: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "reconciler.cli",
            "operator",
            "--db",
            self.db_url,
            "--standalone",
            "--drift-interval",
            str(self.drift_interval),
            "--liveness",
            "",
        ]
        for namespace in self.namespaces:
            argv += ["--namespace", namespace]
        return argv

    def start(self) -> OperatorProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv(),
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the operator gets no chance to clean up, as when its node dies."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
