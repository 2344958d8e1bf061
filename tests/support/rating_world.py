"""A small carrier for rating tests, applied through ``reconciler.reconcile.apply``, and CDR helpers.

Prices are chosen so every charge can be checked by hand:

- ``usd-test`` (precision 4, rounding up, defaults 6/6): ``1`` 0.0100/min; ``44`` 0.0500/min
  with a 0.0100 connect fee billed 30/6; ``4477`` blocked; ``1900`` 1.2000/min.
- ``usd-premium``: ``44`` 0.1000/min, 1/1.
- ``acme`` (USD, minimumPayment 100, taxPercent 10): IP 198.51.100.10:5060, CIDR 203.0.113.0/24
  with techPrefix 99 (premium route), SIP user ``acme1``; package ``acme-nanp``: 2 minutes a
  month to prefix ``1``.
- ``bluefin`` (EUR): route to the EUR card ``eur-test`` (``33`` 0.0200/min, 1/1), IP 192.0.2.20.
- ``COBALT`` (not in ``MANIFESTS``): ``cobalt`` (USD, route to ``usd-test``, IP 192.0.2.77), for
  tests that apply ``MANIFESTS + COBALT`` as a new revision.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import resources
from rating.cdr import Cdr, parse_jsonl
from reconciler.apply import RevisionInfo
from reconciler.reconcile import apply

SIP_PASSWORD_ENV = "TL_TEST_RATING_SIP_PASSWORD"

MANIFESTS = """\
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata: {name: acme}
spec:
  displayName: Acme VoIP
  currency: USD
  debitLimit: "500"
  minimumPayment: "100"
  taxPercent: "10"
---
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata: {name: bluefin}
spec:
  displayName: Bluefin Telecom
  currency: EUR
---
apiVersion: trunkline.dev/v1alpha1
kind: RateCard
metadata: {name: usd-test}
spec:
  currency: USD
  defaults: {initialIncrement: 6, subsequentIncrement: 6}
  rates:
    - {prefix: "1", name: NANP, perMinute: "0.0100"}
    - {prefix: "1900", name: NANP premium, perMinute: "1.2000"}
    - {prefix: "44", name: UK, perMinute: "0.0500", connectFee: "0.0100", initialIncrement: 30}
    - {prefix: "4477", name: UK mobile, perMinute: "0", blocked: true}
---
apiVersion: trunkline.dev/v1alpha1
kind: RateCard
metadata: {name: usd-premium}
spec:
  currency: USD
  rates:
    - {prefix: "44", perMinute: "0.1000"}
---
apiVersion: trunkline.dev/v1alpha1
kind: RateCard
metadata: {name: eur-test}
spec:
  currency: EUR
  rates:
    - {prefix: "33", perMinute: "0.0200"}
---
apiVersion: trunkline.dev/v1alpha1
kind: IngressRoute
metadata: {name: acme-standard}
spec: {customerRef: acme, rateCardRef: usd-test}
---
apiVersion: trunkline.dev/v1alpha1
kind: IngressRoute
metadata: {name: acme-premium}
spec: {customerRef: acme, rateCardRef: usd-premium, techPrefix: "99", priority: 10}
---
apiVersion: trunkline.dev/v1alpha1
kind: IngressRoute
metadata: {name: bluefin-standard}
spec: {customerRef: bluefin, rateCardRef: eur-test}
---
apiVersion: trunkline.dev/v1alpha1
kind: IpAuthentication
metadata: {name: acme-pbx}
spec: {customerRef: acme, address: 198.51.100.10}
---
apiVersion: trunkline.dev/v1alpha1
kind: IpAuthentication
metadata: {name: acme-premium-pool}
spec: {customerRef: acme, address: 203.0.113.0/24, techPrefix: "99"}
---
apiVersion: trunkline.dev/v1alpha1
kind: IpAuthentication
metadata: {name: bluefin-sbc}
spec: {customerRef: bluefin, address: 192.0.2.20}
---
apiVersion: trunkline.dev/v1alpha1
kind: CredentialAuthentication
metadata: {name: acme-user}
spec:
  customerRef: acme
  username: acme1
  passwordRef: {env: TL_TEST_RATING_SIP_PASSWORD}
---
apiVersion: trunkline.dev/v1alpha1
kind: Package
metadata: {name: acme-nanp}
spec:
  customerRef: acme
  name: NANP 2 minutes
  cost: "0"
  frequency: Monthly
  allowance: {minutes: 2, prefixes: ["1"]}
"""


COBALT = """\
---
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata: {name: cobalt}
spec: {displayName: Cobalt, currency: USD, debitLimit: "10"}
---
apiVersion: trunkline.dev/v1alpha1
kind: IngressRoute
metadata: {name: cobalt-standard}
spec: {customerRef: cobalt, rateCardRef: usd-test}
---
apiVersion: trunkline.dev/v1alpha1
kind: IpAuthentication
metadata: {name: cobalt-sbc}
spec: {customerRef: cobalt, address: 192.0.2.77}
"""


def apply_world(engine: Any, monkeypatch: pytest.MonkeyPatch, text: str = MANIFESTS) -> None:
    monkeypatch.setenv(SIP_PASSWORD_ENV, "s3cret-sip-pw")
    state = resources.load_text(text)
    apply(engine, state, info=RevisionInfo("test", "test"))


def cdr_line(
    call_id: str,
    dialed: str,
    *,
    seconds: int | None,
    source: str | None = "198.51.100.10",
    answer: str = "2026-03-01T10:00:00Z",
    username: str | None = None,
    port: int | None = None,
    sip_code: int | None = None,
) -> dict[str, Any]:
    """A CDR record: answered at ``answer`` lasting ``seconds`` (None = unanswered, started then)."""
    from datetime import datetime, timedelta

    start = datetime.fromisoformat(answer.replace("Z", "+00:00"))
    record: dict[str, Any] = {"callId": call_id, "start": answer, "cli": "15125550100", "dialed": dialed}
    if seconds is None:
        record["end"] = answer
        record["sipCode"] = sip_code or 486
    else:
        record["answer"] = answer
        record["end"] = (start + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
        record["sipCode"] = sip_code or 200
    if source:
        record["sourceIp"] = source
    if port is not None:
        record["sourcePort"] = port
    if username:
        record["username"] = username
    return record


def jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def parse(records: list[dict[str, Any]]) -> list[Cdr]:
    cdrs, errors = parse_jsonl(jsonl(records))
    assert not errors
    return cdrs


# The batch of the module docstring, in the order a switch might write it, with the hand-computed outcome:
# (record, status, cost or None, package seconds)
BATCH: list[tuple[dict[str, Any], str, str | None, int]] = [
    # 90 s to NANP, 6/6 -> 90 s, all in the 120 s package -> 0
    (cdr_line("c1", "12125550100", seconds=90, answer="2026-03-01T10:00:00Z"), "Rated", "0", 90),
    # 61 s -> 66 s billed; 30 s left in the package; 36 s x 0.01/60 = 0.006
    (cdr_line("c2", "13105550100", seconds=61, answer="2026-03-01T10:05:00Z"), "Rated", "0.006", 30),
    # package exhausted: 60 s x 0.01/60 = 0.01
    (cdr_line("c3", "13105550101", seconds=60, answer="2026-03-01T10:10:00Z"), "Rated", "0.01", 0),
    # 4477 is blocked
    (cdr_line("c4", "447700900123", seconds=30, answer="2026-03-01T10:11:00Z"), "Rejected", None, 0),
    # UK fixed, 30/6: 31 s -> 36 s; 0.01 + 0.05 x 36/60 = 0.04
    (cdr_line("c5", "442071234567", seconds=31, answer="2026-03-01T10:12:00Z"), "Rated", "0.04", 0),
    # unknown source address
    (cdr_line("c6", "442071234567", seconds=31, source="192.0.2.99"), "Rejected", None, 0),
    # SIP user acme1, 10 s -> 30 s: 0.01 + 0.05 x 30/60 = 0.035
    (cdr_line("c7", "442071234567", seconds=10, source=None, username="acme1"), "Rated", "0.035", 0),
    # CIDR with techPrefix 99 -> premium route, 45 s x 0.1/60 = 0.075
    (cdr_line("c8", "99442071234567", seconds=45, source="203.0.113.5"), "Rated", "0.075", 0),
    # unanswered: rated at nothing
    (cdr_line("c9", "12125550100", seconds=None, answer="2026-03-01T10:20:00Z"), "Rated", "0", 0),
]
BATCH_TOTAL = "0.166"


def rate_in_worker(url: str, records: list[dict[str, Any]], batch_size: int, barrier: Any, results: Any) -> None:
    """A sidecar in another process: rate ``records`` in batches once every worker is ready."""
    from datetime import UTC, datetime

    from rating import loading
    from rating.rater import RateResult, rate_cdrs
    from switchdb.engine import open_database

    engine = open_database(url)
    with engine.connect() as conn:
        catalog = loading.load(conn, now=datetime.now(UTC))
    cdrs = parse(records)
    total = RateResult()
    barrier.wait(timeout=60)
    for start in range(0, len(cdrs), batch_size):
        total.add(rate_cdrs(engine, catalog, cdrs[start : start + batch_size]))
    engine.dispose()
    results.put((total.rated, total.duplicates, str(total.charged.get("USD", 0)), str(total.charged.get("EUR", 0))))
