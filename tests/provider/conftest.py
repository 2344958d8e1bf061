"""Fixtures for the Pulumi provider: one small carrier as Pulumi properties and as YAML.

``OBJECTS`` holds each object twice, written independently: the snake_case properties a Pulumi
program produces, and the manifest `trunkline apply` reads. The tests drive the provider with
the first and the CLI with the second, and compare what each wrote.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.cli import run_cli

from provider.provider import TrunklineProvider, dispose_engines

SIP_PASSWORD = "Sip-S3cret-1001"
PORTAL_PASSWORD = "P0rtal-S3cret"


@dataclass(frozen=True)
class Declared:
    kind: str
    name: str
    spec: dict[str, Any]  # snake_case, as a Pulumi program gives it (numbers as doubles, as on the wire)
    yaml: str  # the equivalent manifest


OBJECTS: tuple[Declared, ...] = (
    Declared(
        "Customer",
        "acme-voip",
        {
            "display_name": "Acme VoIP Inc.",
            "currency": "USD",
            "debit_limit": "500.00",
            "channels": 200.0,
            "flow_speed": 20.0,
            "address": {"city": "Austin", "postal_code": "78701", "country": "US"},
            "tags": ["wholesale"],
            "contacts": [
                {
                    "name": "Dana Whitfield",
                    "email": "noc@acme-voip.example",
                    "portal_login": True,
                    "password_ref": {"env": "TL_PULUMI_PORTAL_PASSWORD"},
                }
            ],
            "cli_rules": [{"cli": "^1512555[0-9]{4}$", "dialed_number_match": "^99"}],
        },
        """\
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata: {name: acme-voip, labels: {tier: gold}}
spec:
  displayName: Acme VoIP Inc.
  currency: USD
  debitLimit: "500.00"
  channels: 200
  flowSpeed: 20
  address: {city: Austin, postalCode: "78701", country: US}
  tags: [wholesale]
  contacts:
    - name: Dana Whitfield
      email: noc@acme-voip.example
      portalLogin: true
      passwordRef: {env: TL_PULUMI_PORTAL_PASSWORD}
  cliRules:
    - {cli: "^1512555[0-9]{4}$", dialedNumberMatch: "^99"}
""",
    ),
    Declared(
        "RateCard",
        "usd-wholesale",
        {
            "currency": "USD",
            "defaults": {"initial_increment": 6.0, "subsequent_increment": 6.0},
            "rates": [
                {"prefix": "1", "name": "NANP", "per_minute": "0.0045"},
                {"prefix": "44", "per_minute": "0.0065", "effective_from": "2025-07-01T00:00:00Z"},
                {"prefix": "449", "per_minute": "0", "blocked": True},
            ],
        },
        """\
apiVersion: trunkline.dev/v1alpha1
kind: RateCard
metadata: {name: usd-wholesale}
spec:
  currency: USD
  defaults: {initialIncrement: 6, subsequentIncrement: 6}
  rates:
    - {prefix: "1", name: NANP, perMinute: "0.0045"}
    - {prefix: "44", perMinute: "0.0065", effectiveFrom: "2025-07-01T00:00:00Z"}
    - {prefix: "449", perMinute: "0", blocked: true}
""",
    ),
    Declared(
        "IngressRoute",
        "acme-standard",
        {
            "customer_ref": "acme-voip",
            "rate_card_ref": "usd-wholesale",
            "dial_strings": ["1", "44"],
            "recording": "Sampling",
            "sampling_percent": "5",
            "max_duration": 14400.0,
        },
        """\
apiVersion: trunkline.dev/v1alpha1
kind: IngressRoute
metadata: {name: acme-standard}
spec: {customerRef: acme-voip, rateCardRef: usd-wholesale, dialStrings: ["1", "44"], recording: Sampling,
       samplingPercent: "5", maxDuration: 14400}
""",
    ),
    Declared(
        "IpAuthentication",
        "acme-sbc-pool",
        {"customer_ref": "acme-voip", "address": "192.0.2.0/28", "protocol": "tcp", "codecs": ["PCMU", "G729"]},
        """\
apiVersion: trunkline.dev/v1alpha1
kind: IpAuthentication
metadata: {name: acme-sbc-pool}
spec: {customerRef: acme-voip, address: 192.0.2.0/28, protocol: tcp, codecs: [PCMU, G729]}
""",
    ),
    Declared(
        "CredentialAuthentication",
        "acme-softswitch-1001",
        {
            "customer_ref": "acme-voip",
            "username": "acme1001",
            "realm": "sip.kestrel.example",
            "password_ref": {"env": "TL_PULUMI_SIP_PASSWORD"},
            "ip_allow_list": ["127.0.0.0/8"],
        },
        """\
apiVersion: trunkline.dev/v1alpha1
kind: CredentialAuthentication
metadata: {name: acme-softswitch-1001}
spec: {customerRef: acme-voip, username: acme1001, realm: sip.kestrel.example,
       passwordRef: {env: TL_PULUMI_SIP_PASSWORD}, ipAllowList: [127.0.0.0/8]}
""",
    ),
    Declared(
        "Did",
        "acme-reception",
        {
            "number": "+12125550142",
            "destination": {"uri": "sip:reception@127.0.0.2:5060"},
            "provider": {"name": "LineBridge", "card_ref": "usd-wholesale"},
            "customer_ref": "acme-voip",
            "cost": "0.35",
            "retail": "1.00",
        },
        """\
apiVersion: trunkline.dev/v1alpha1
kind: Did
metadata: {name: acme-reception}
spec: {number: "+12125550142", destination: {uri: "sip:reception@127.0.0.2:5060"},
       provider: {name: LineBridge, cardRef: usd-wholesale}, customerRef: acme-voip, cost: "0.35", retail: "1.00"}
""",
    ),
    Declared(
        "Package",
        "acme-nanp-bundle",
        {
            "customer_ref": "acme-voip",
            "name": "NANP 10k minutes",
            "auto_decrement_credit": True,
            "cost": "250.00",
            "frequency": "Monthly",
            "start_date": "2025-01-01",
            "allowance": {"minutes": 10000.0, "prefixes": ["1"]},
        },
        """\
apiVersion: trunkline.dev/v1alpha1
kind: Package
metadata: {name: acme-nanp-bundle}
spec: {customerRef: acme-voip, name: NANP 10k minutes, autoDecrementCredit: true, cost: "250.00",
       frequency: Monthly, startDate: 2025-01-01, allowance: {minutes: 10000, prefixes: ["1"]}}
""",
    ),
    Declared(
        "Alert",
        "acme-low-balance",
        {
            "customer_ref": "acme-voip",
            "name": "Low balance",
            "recipients": [{"email": "billing@acme-voip.example"}],
            "area": "Balance",
            "operator": "<",
            "threshold": "50",
            "repeat": "6h",
        },
        """\
apiVersion: trunkline.dev/v1alpha1
kind: Alert
metadata: {name: acme-low-balance}
spec: {customerRef: acme-voip, name: Low balance, recipients: [{email: billing@acme-voip.example}], area: Balance,
       operator: "<", threshold: "50", repeat: 6h}
""",
    ),
)


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TL_PULUMI_SIP_PASSWORD", SIP_PASSWORD)
    monkeypatch.setenv("TL_PULUMI_PORTAL_PASSWORD", PORTAL_PASSWORD)
    monkeypatch.delenv("TRUNKLINE_DB", raising=False)


@pytest.fixture
def provider() -> TrunklineProvider:
    return TrunklineProvider()


@pytest.fixture(autouse=True)
def _engines() -> Iterator[None]:
    """The provider keeps one engine per database URL for the process; each test's database goes with it."""
    yield
    dispose_engines()


@pytest.fixture
def props(db_url: str) -> Callable[..., dict[str, Any]]:
    """``props(declared, **overrides)``: a resource's properties as the provider receives them."""

    def make(declared: Declared, **overrides: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": declared.kind,
            "name": declared.name,
            "namespace": "default",
            "db_url": db_url,
            "spec": declared.spec,
            "__provider": "opaque",
        }
        if declared.kind == "Customer":
            out["labels"] = {"tier": "gold"}
        out.update(overrides)
        return out

    return make


@pytest.fixture
def reference_url(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database on the same backend as ``db_url``."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'reference.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"ref_{uuid.uuid4().hex[:12]}"
    yield server.create_database(name)
    server.drop_database(name)


@pytest.fixture
def trunkline(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """``trunkline(*args)``: the CLI in-process (``support.cli.run_cli``); (exit code, stdout + stderr)."""

    def run(*args: str) -> tuple[int, str]:
        result = run_cli(capsys, *args)
        return result.returncode, result.stdout + result.stderr

    return run


@pytest.fixture
def carrier() -> dict[str, Declared]:
    """The declared objects by kind, in dependency order."""
    return {d.kind: d for d in OBJECTS}


@pytest.fixture
def sip_password() -> str:
    return SIP_PASSWORD
