"""Fixtures for the declared model (resources/): manifests written to tmp_path, a valid spec of
every kind, and the ``trunkline`` CLI run in-process.

- `valid_specs` (session): kind -> a valid spec using most fields, referring to Customer
  ``acme`` (USD) and RateCard ``usd`` (USD); tests copy and break it.
- `world`: the YAML declaring ``acme`` and ``usd`` (and ``eur``/``euro-corp``), to put beside a
  manifest so its references resolve and only the planted mistake is reported.
- `manifest`: builds one object as a dict; `dump` turns dicts into multi-document YAML.
- `write`: writes ``{relative path: text}`` under tmp_path (texts are dedented).
- `problems_of`: loads paths or text and returns the problems (failing if it loads clean).
- `run_cli`: runs ``trunkline ARGS`` in-process; returns exit code, stdout and stderr.
"""

from __future__ import annotations

import copy
import io
import sys
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

import resources
from resources.errors import Problem

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

WORLD = """\
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata:
  name: acme
spec:
  displayName: Acme VoIP
  currency: USD
---
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata:
  name: euro-corp
spec:
  displayName: Euro Corp
  currency: EUR
---
apiVersion: trunkline.dev/v1alpha1
kind: RateCard
metadata:
  name: usd
spec:
  currency: USD
  rates:
    - {prefix: "1", perMinute: "0.0050"}
---
apiVersion: trunkline.dev/v1alpha1
kind: RateCard
metadata:
  name: eur
spec:
  currency: EUR
  rates:
    - {prefix: "49", perMinute: "0.0085"}
"""

VALID_SPECS: dict[str, dict[str, Any]] = {
    "Customer": {
        "displayName": "Acme VoIP",
        "status": "Active",
        "currency": "USD",
        "debitLimit": "100.00",
        "minimumPayment": "10",
        "taxPercent": "7.5",
        "portalAccess": True,
        "paypalEmail": "billing@acme.example",
        "website": "https://acme.example",
        "address": {"street": "1 Main St", "city": "Austin", "region": "TX", "postalCode": "78701", "country": "US"},
        "channels": 100,
        "flowSpeed": 10,
        "dailySpendLimit": "500",
        "tags": ["wholesale"],
        "contacts": [
            {"name": "NOC", "email": "noc@acme.example", "portalLogin": True, "passwordRef": {"env": "NOC_PW"}},
            {"name": "Billing", "email": "billing@acme.example", "autoGeneratePassword": True},
        ],
        "cliRules": [
            {"cli": "^1512555[0-9]{4}$", "dialedNumberMatch": "^99"},
            {"cli": "^1[2-9][0-9]{9}$", "rewriteCli": "+15125550100", "forced": True},
        ],
    },
    "RateCard": {
        "currency": "USD",
        "description": "test card",
        "precision": 4,
        "rounding": "up",
        "defaults": {"connectFee": "0", "minimumSeconds": 0, "initialIncrement": 6, "subsequentIncrement": 6},
        "rates": [
            {"prefix": "1", "name": "US", "perMinute": "0.0045"},
            {"prefix": "1", "name": "US", "perMinute": "0.0040", "effectiveFrom": "2025-07-01T00:00:00Z"},
            {"prefix": "449", "name": "UK premium", "perMinute": "0", "blocked": True},
        ],
    },
    "IngressRoute": {
        "customerRef": "acme",
        "rateCardRef": "usd",
        "techPrefix": "99",
        "dialStrings": ["1", "^44[0-9]+$"],
        "priority": 10,
        "recording": "Sampling",
        "samplingPercent": "5",
        "channels": 50,
        "flowSpeed": 5,
        "maxDuration": 7200,
        "enabled": True,
    },
    "IpAuthentication": {
        "customerRef": "acme",
        "address": "192.0.2.10",
        "channels": 10,
        "flowSpeed": 2,
        "codecs": ["PCMU", "PCMA"],
        "protocol": "udp",
        "port": 5060,
        "techPrefix": "99",
        "stripDigits": 2,
    },
    "CredentialAuthentication": {
        "customerRef": "acme",
        "username": "acme1001",
        "realm": "sip.example",
        "passwordRef": {"env": "ACME1001_PASSWORD"},
        "channels": 4,
        "codecs": ["PCMU"],
        "ipAllowList": ["192.0.2.0/24"],
    },
    "Did": {
        "number": "+12125550142",
        "destination": {"uri": "sip:reception@192.0.2.10"},
        "provider": {"name": "LineBridge", "cardRef": "usd"},
        "customerRef": "acme",
        "customerCardRef": "usd",
        "cost": "0.35",
        "retail": "1.00",
        "maxDuration": 3600,
    },
    "Package": {
        "customerRef": "acme",
        "name": "NANP bundle",
        "quantity": 1,
        "autoDecrementCredit": True,
        "cost": "250.00",
        "frequency": "Monthly",
        "startDate": "2025-01-01",
        "endDate": "2025-12-31",
        "allowance": {"minutes": 10000, "prefixes": ["1"]},
    },
    "Alert": {
        "customerRef": "acme",
        "name": "Low ASR",
        "recipients": [{"email": "noc@acme.example"}, {"webhook": "https://hooks.acme.example/a"}],
        "area": "ASR",
        "operator": "<",
        "threshold": "30",
        "resetThreshold": "40",
        "samplePeriod": "15m",
        "repeat": "1h",
        "penalty": "30m",
    },
}


def build_manifest(kind: str, spec: dict[str, Any], *, name: str = "x", namespace: str | None = None) -> dict:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": resources.API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def dump_yaml(*documents: Any) -> str:
    stream = io.StringIO()
    yaml = YAML(typ="safe", pure=False)
    yaml.default_flow_style = False
    yaml.dump_all(list(documents), stream)
    return stream.getvalue()


@pytest.fixture(scope="session")
def valid_specs() -> dict[str, dict[str, Any]]:
    return VALID_SPECS


@pytest.fixture
def spec_of() -> Callable[[str], dict[str, Any]]:
    """A fresh deep copy of the valid spec of a kind, safe to break."""
    return lambda kind: copy.deepcopy(VALID_SPECS[kind])


@pytest.fixture(scope="session")
def world() -> str:
    return WORLD


@pytest.fixture(scope="session")
def manifest() -> Callable[..., dict]:
    return build_manifest


@pytest.fixture(scope="session")
def dump() -> Callable[..., str]:
    return dump_yaml


@pytest.fixture
def write(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    def write_files(files: dict[str, str | bytes]) -> Path:
        for relative, content in files.items():
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content), encoding="utf-8")
        return tmp_path

    return write_files


@pytest.fixture(scope="session")
def problems_of() -> Callable[..., list[Problem]]:
    def load_problems(paths: Iterable[str | Path] | None = None, *, text: str | None = None) -> list[Problem]:
        with pytest.raises(resources.ValidationError) as caught:
            if text is not None:
                resources.load_text(text)
            else:
                resources.load(list(paths or []))
        return caught.value.problems

    return load_problems


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    from reconciler.cli import cli
    from reconciler.cli.output import run_guarded

    def run(*args: str, stdin: str | None = None) -> CliResult:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = run_guarded(cli, list(args))
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
