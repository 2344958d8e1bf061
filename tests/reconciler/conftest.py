"""Fixtures for the reconciler: a carrier's manifests as text, an upgraded database, and helpers
to apply, poke the database behind the engine's back, and dump every table.

The manifests are one realistic set covering every kind (two customers, two rate cards with
inline rates, a route, IP authentications with a single address and a CIDR, a SIP user, a DID,
a package and an alert), kept as separate YAML documents so a test can drop or edit one.
Secrets come from environment variables set with ``monkeypatch`` for every test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support.db import dump, sql

import resources
from reconciler.apply import RevisionInfo
from reconciler.reconcile import ApplyResult, Options, apply
from resources.state import DesiredState
from switchdb.tables import metadata

SIP_PASSWORD = "Sup3r-S3cret-pw"
PORTAL_PASSWORD = "P0rtal-S3cret-pw"
SIP_PASSWORD_ENV = "TL_TEST_ACME_SIP_PASSWORD"
PORTAL_PASSWORD_ENV = "TL_TEST_ACME_NOC_PASSWORD"

DOCUMENTS: dict[str, str] = {
    "Customer/acme-voip": """\
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata:
  name: acme-voip
  labels: {tier: gold}
spec:
  displayName: Acme VoIP Inc.
  currency: USD
  debitLimit: "500.00"
  minimumPayment: "100.00"
  portalAccess: true
  address: {street: 500 Congress Avenue, city: Austin, region: TX, postalCode: "78701", country: US}
  channels: 200
  flowSpeed: 20
  tags: [wholesale, postpaid]
  contacts:
    - name: Dana Whitfield
      email: noc@acme-voip.example
      portalLogin: true
      passwordRef: {env: TL_TEST_ACME_NOC_PASSWORD}
    - name: Luis Ortega
      email: billing@acme-voip.example
      privateNotes: Prefers invoices as PDF
  cliRules:
    - cli: "^1512555[0-9]{4}$"
      dialedNumberMatch: "^99"
      notes: premium route
    - cli: "^1[2-9][0-9]{9}$"
      pAssertedId: "^1(512|212)555[0-9]{4}$"
""",
    "Customer/bluefin-telecom": """\
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata:
  name: bluefin-telecom
spec:
  displayName: Bluefin Telecom GmbH
  status: Inactive
  currency: EUR
  taxPercent: "19"
  channels: 60
  flowSpeed: 6
""",
    "RateCard/usd-wholesale": """\
apiVersion: trunkline.dev/v1alpha1
kind: RateCard
metadata:
  name: usd-wholesale
spec:
  currency: USD
  description: A-Z wholesale, USD
  defaults: {connectFee: "0", initialIncrement: 6, subsequentIncrement: 6}
  rates:
    - {prefix: "1", name: USA, perMinute: "0.0100"}
    - {prefix: "1", name: USA, perMinute: "0.0090", effectiveFrom: "2030-01-01T00:00:00Z"}
    - {prefix: "44", name: United Kingdom, perMinute: "0.0065", initialIncrement: 1, subsequentIncrement: 1}
    - {prefix: "447", name: United Kingdom - Mobile, perMinute: "0.0095", connectFee: "0.0010"}
    - {prefix: "449", name: United Kingdom - Premium, perMinute: "0", blocked: true}
""",
    "RateCard/eur-standard": """\
apiVersion: trunkline.dev/v1alpha1
kind: RateCard
metadata:
  name: eur-standard
spec:
  currency: EUR
  rates:
    - {prefix: "49", name: Germany, perMinute: "0.0070"}
""",
    "IngressRoute/acme-standard": """\
apiVersion: trunkline.dev/v1alpha1
kind: IngressRoute
metadata:
  name: acme-standard
spec:
  customerRef: acme-voip
  rateCardRef: usd-wholesale
  techPrefix: "99"
  dialStrings: ["1", "44"]
  priority: 10
  recording: Sampling
  samplingPercent: "5"
  channels: 150
  flowSpeed: 15
  maxDuration: 14400
""",
    "IpAuthentication/acme-pbx": """\
apiVersion: trunkline.dev/v1alpha1
kind: IpAuthentication
metadata:
  name: acme-pbx
spec:
  customerRef: acme-voip
  address: 127.0.0.2
  channels: 150
  flowSpeed: 15
  codecs: [PCMU, PCMA]
  port: 5060
""",
    "IpAuthentication/acme-sbc-pool": """\
apiVersion: trunkline.dev/v1alpha1
kind: IpAuthentication
metadata:
  name: acme-sbc-pool
spec:
  customerRef: acme-voip
  address: 192.0.2.0/28
  protocol: tcp
  port: 5080
  channels: 100
  codecs: [G729]
""",
    "CredentialAuthentication/acme-1001": """\
apiVersion: trunkline.dev/v1alpha1
kind: CredentialAuthentication
metadata:
  name: acme-1001
spec:
  customerRef: acme-voip
  username: acme1001
  realm: sip.kestrel.example
  passwordRef: {env: TL_TEST_ACME_SIP_PASSWORD}
  channels: 10
  flowSpeed: 2
  codecs: [PCMU]
  ipAllowList: [192.0.2.0/24]
""",
    "Did/acme-reception": """\
apiVersion: trunkline.dev/v1alpha1
kind: Did
metadata:
  name: acme-reception
spec:
  number: "+12125550142"
  destination: {uri: "sip:reception@127.0.0.2:5060"}
  provider: {name: LineBridge, cardRef: usd-wholesale}
  customerRef: acme-voip
  customerCardRef: usd-wholesale
  cost: "0.35"
  retail: "1.00"
  channels: 10
""",
    "Package/acme-bundle": """\
apiVersion: trunkline.dev/v1alpha1
kind: Package
metadata:
  name: acme-bundle
spec:
  customerRef: acme-voip
  name: NANP 10k minutes
  quantity: 1
  autoDecrementCredit: true
  cost: "250.00"
  frequency: Monthly
  startDate: 2025-01-01
  allowance: {minutes: 10000, prefixes: ["1"]}
""",
    "Alert/acme-low-balance": """\
apiVersion: trunkline.dev/v1alpha1
kind: Alert
metadata:
  name: acme-low-balance
spec:
  customerRef: acme-voip
  name: Low balance
  recipients:
    - email: billing@acme-voip.example
  area: Balance
  operator: "<"
  threshold: "50"
  resetThreshold: "100"
  repeat: 6h
""",
}


@dataclass
class Manifests:
    """The documents of one test, editable: ``edit``, ``drop``, then ``text()`` or ``state()``."""

    documents: dict[str, str] = field(default_factory=lambda: dict(DOCUMENTS))

    def copy(self) -> Manifests:
        return Manifests(dict(self.documents))

    def edit(self, name: str, old: str, new: str) -> Manifests:
        """Replace ``old`` (which must occur exactly once) in document ``name``."""
        doc = self.documents[name]
        assert doc.count(old) == 1, f"{old!r} occurs {doc.count(old)} times in {name}"
        self.documents[name] = doc.replace(old, new)
        return self

    def drop(self, *names: str) -> Manifests:
        for name in names:
            del self.documents[name]
        return self

    def only(self, *names: str) -> Manifests:
        self.documents = {n: d for n, d in self.documents.items() if n in names}
        return self

    def text(self) -> str:
        return "---\n".join(self.documents.values())

    def state(self) -> DesiredState:
        return resources.load_text(self.text(), file="manifests.yaml")

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "switch.yaml"
        path.write_text(self.text(), encoding="utf-8")
        return path


@dataclass(frozen=True)
class Secret:
    env: str
    value: str


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, Secret]:
    """The passwords the manifests refer to, set in the environment (subprocesses inherit them too):
    ``sip`` for the SIP user acme1001@sip.kestrel.example, ``portal`` for acme-voip's first contact."""
    monkeypatch.setenv(SIP_PASSWORD_ENV, SIP_PASSWORD)
    monkeypatch.setenv(PORTAL_PASSWORD_ENV, PORTAL_PASSWORD)
    return {"sip": Secret(SIP_PASSWORD_ENV, SIP_PASSWORD), "portal": Secret(PORTAL_PASSWORD_ENV, PORTAL_PASSWORD)}


@pytest.fixture
def manifests() -> Manifests:
    return Manifests()


@pytest.fixture
def apply_state() -> Callable[..., ApplyResult]:
    """``apply_state(engine, state, **kwargs)``: apply with a test RevisionInfo."""

    def run(engine: sa.Engine, state: DesiredState, **kwargs: Any) -> ApplyResult:
        kwargs.setdefault("options", Options())
        return apply(engine, state, info=RevisionInfo(actor="pytest", source="tests/reconciler"), **kwargs)

    return run


@pytest.fixture(name="sql")
def sql_fixture() -> Callable[..., list[Any]]:
    """``sql(engine, statement, **params)``: run one statement in its own transaction; rows if any."""
    return sql


@pytest.fixture(name="dump")
def dump_fixture() -> Callable[[sa.Engine], dict[str, list[tuple[Any, ...]]]]:
    """``dump(engine)``: every table and Kamailio view, all rows, sorted; for before/after comparisons."""
    return dump


@pytest.fixture
def revisions(sql: Callable[..., list[Any]]) -> Callable[[sa.Engine], int]:
    """``revisions(engine)``: how many rows trunkline_revisions holds."""

    def count(engine: sa.Engine) -> int:
        return int(sql(engine, "SELECT count(*) FROM trunkline_revisions")[0][0])

    return count


UNOWNED_DEFAULTS: dict[str, dict[str, Any]] = {
    "customers": {
        "namespace": "default",
        "display_name": "Legacy",
        "status": "Active",
        "currency": "USD",
        "debit_limit": 0,
        "minimum_payment": 0,
        "tax_percent": 0,
        "portal_access": False,
        "channels": 0,
        "flow_speed": 0,
        "tags": [],
    },
    "dids": {"namespace": "default", "provider_name": "Legacy Numbers", "cost": 0, "retail": 0, "enabled": True},
    "credential_authentications": {
        "namespace": "default",
        "password_ref": {"env": "LEGACY"},
        "channels": 0,
        "flow_speed": 0,
        "codecs": [],
        "ip_allow_list": [],
        "ha1": "0" * 32,
        "ha1b": "0" * 32,
    },
}


@pytest.fixture
def insert_unowned() -> Callable[..., int]:
    """``insert_unowned(engine, table, **columns)``: a row written by someone else (no ownership record).

    A foreign key may be given by name as ``customer="acme"``. Returns the new row's id.
    """

    def insert(engine: sa.Engine, table_name: str, **columns: Any) -> int:
        table = metadata.tables[table_name]
        row = {**UNOWNED_DEFAULTS.get(table_name, {}), **columns}
        with engine.begin() as conn:
            customer = row.pop("customer", None)
            if customer is not None:
                customers = metadata.tables["customers"]
                row["customer_id"] = conn.execute(
                    sa.select(customers.c.id).where(customers.c.name == customer)
                ).scalar_one()
            return int(conn.execute(table.insert().values(row).returning(table.c.id)).scalar_one())

    return insert
