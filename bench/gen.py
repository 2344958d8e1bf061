"""Generate a realistic carrier as Trunkline manifests, for the loader and engine benchmarks.

Per customer: 1 Customer (with one contact), 5 IpAuthentications (unique addresses counted up
from 10.0.0.1), 2 CredentialAuthentications (``passwordRef: {env: TRUNKLINE_BENCH_PW}``),
3 Dids (unique numbers) and 1 IngressRoute: 12 objects, so 10,000 customers are 120,000
objects (110,000 of them the customers' children: the issue's "≈110k"). Plus one RateCard
whose deck is a CSV of ``--deck-rows`` rates (prefixes of 1-8 digits under real country codes,
per-minute decimals, billing increments, a few blocked destinations and a few announced price
changes with ``effectiveFrom``).

Layout (multi-document YAML, split by kind and by ``--chunk`` customers per file)::

    OUT/ratecards/usd-wholesale.yaml        OUT/ratecards/decks/usd-wholesale.csv
    OUT/customers/customers-0000.yaml       OUT/ipauths/ipauths-0000.yaml
    OUT/sipusers/sipusers-0000.yaml         OUT/dids/dids-0000.yaml
    OUT/routes/routes-0000.yaml             ...

Output is deterministic for a given ``--seed``. ``--change-percent P`` writes the same carrier
with P% of the declared objects (drawn at random, at least one) carrying one changed field
(channels, priority or retail price): generate the baseline, apply it, then regenerate with
``--change-percent 1`` (into the same or another directory) to measure a 1% change.

    python bench/gen.py --out /tmp/carrier                       # 10k customers, 100k rates
    python bench/gen.py --out /tmp/carrier --change-percent 1    # the same, 1% changed
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

API = "trunkline.dev/v1alpha1"
CARD = "usd-wholesale"
PASSWORD_ENV = "TRUNKLINE_BENCH_PW"
IPS_PER_CUSTOMER = 5
SIP_USERS_PER_CUSTOMER = 2
DIDS_PER_CUSTOMER = 3
OBJECTS_PER_CUSTOMER = 1 + IPS_PER_CUSTOMER + SIP_USERS_PER_CUSTOMER + DIDS_PER_CUSTOMER + 1

# (country code, name): enough of the world for decks that look like a carrier's A-Z.
COUNTRIES = [
    ("1", "United States"), ("1204", "Canada - Manitoba"), ("1416", "Canada - Toronto"), ("1876", "Jamaica"),
    ("20", "Egypt"), ("212", "Morocco"), ("213", "Algeria"), ("216", "Tunisia"), ("221", "Senegal"),
    ("225", "Cote d'Ivoire"), ("233", "Ghana"), ("234", "Nigeria"), ("237", "Cameroon"), ("254", "Kenya"),
    ("255", "Tanzania"), ("256", "Uganda"), ("27", "South Africa"), ("30", "Greece"), ("31", "Netherlands"),
    ("32", "Belgium"), ("33", "France"), ("34", "Spain"), ("351", "Portugal"), ("353", "Ireland"),
    ("358", "Finland"), ("359", "Bulgaria"), ("36", "Hungary"), ("370", "Lithuania"), ("380", "Ukraine"),
    ("381", "Serbia"), ("385", "Croatia"), ("39", "Italy"), ("40", "Romania"), ("41", "Switzerland"),
    ("420", "Czech Republic"), ("421", "Slovakia"), ("43", "Austria"), ("44", "United Kingdom"),
    ("45", "Denmark"), ("46", "Sweden"), ("47", "Norway"), ("48", "Poland"), ("49", "Germany"),
    ("51", "Peru"), ("52", "Mexico"), ("53", "Cuba"), ("54", "Argentina"), ("55", "Brazil"), ("56", "Chile"),
    ("57", "Colombia"), ("58", "Venezuela"), ("60", "Malaysia"), ("61", "Australia"), ("62", "Indonesia"),
    ("63", "Philippines"), ("64", "New Zealand"), ("65", "Singapore"), ("66", "Thailand"), ("7", "Russia"),
    ("81", "Japan"), ("82", "South Korea"), ("84", "Vietnam"), ("852", "Hong Kong"), ("86", "China"),
    ("880", "Bangladesh"), ("886", "Taiwan"), ("90", "Turkey"), ("91", "India"), ("92", "Pakistan"),
    ("93", "Afghanistan"), ("94", "Sri Lanka"), ("95", "Myanmar"), ("960", "Maldives"), ("961", "Lebanon"),
    ("962", "Jordan"), ("963", "Syria"), ("964", "Iraq"), ("965", "Kuwait"), ("966", "Saudi Arabia"),
    ("971", "United Arab Emirates"), ("972", "Israel"), ("974", "Qatar"), ("977", "Nepal"), ("98", "Iran"),
    ("992", "Tajikistan"), ("994", "Azerbaijan"), ("995", "Georgia"), ("998", "Uzbekistan"),
]  # fmt: skip
DESTINATION_TYPES = ["Fixed", "Mobile", "Mobile", "Mobile", "Fixed - City", "Premium", "Shared Cost"]
INCREMENTS = [("", ""), ("1", "1"), ("6", "6"), ("30", "6"), ("60", "60"), ("60", "1")]
WORDS = [
    "Acme", "Blue", "Cobalt", "Delta", "Echo", "Falcon", "Granite", "Harbor", "Iris", "Juniper", "Kestrel",
    "Lumen", "Meridian", "Nimbus", "Orion", "Pioneer", "Quartz", "Ridge", "Summit", "Tidal", "Union",
    "Vertex", "Willow", "Zenith",
]  # fmt: skip
SUFFIXES = ["Telecom", "Voice", "Networks", "Communications", "VoIP", "Carrier Services"]
TIERS = ["gold", "silver", "silver", "bronze", "bronze", "bronze"]
REGIONS = ["us", "eu", "uk", "apac", "latam", "mea"]
CODECS = ["[PCMU, PCMA]", "[PCMU, PCMA, G729]", "[PCMA, G722, OPUS]", "[G729]"]
SWITCHES = [("FreeSWITCH", "1.10.11"), ("Asterisk", "20.5"), ("Kamailio", "5.8"), ("Ribbon", "SBC 5400 V11")]
DECK_COLUMNS = [
    "prefix", "name", "perMinute", "connectFee", "minimumSeconds", "initialIncrement", "subsequentIncrement",
    "effectiveFrom", "blocked",
]  # fmt: skip
AREA_CODES = ["212", "312", "415", "512", "617", "702", "786", "919"]


@dataclass
class Summary:
    customers: int = 0
    objects: int = 0
    changed: int = 0
    deck_rows: int = 0
    files: list[Path] = field(default_factory=list)
    deck: Path | None = None

    def by_kind(self) -> dict[str, int]:
        n = self.customers
        return {
            "Customer": n,
            "IpAuthentication": n * IPS_PER_CUSTOMER,
            "CredentialAuthentication": n * SIP_USERS_PER_CUSTOMER,
            "Did": n * DIDS_PER_CUSTOMER,
            "IngressRoute": n,
            "RateCard": 1,
        }


def _ip(ordinal: int) -> str:
    ordinal += 1  # 10.0.0.1 first
    return f"10.{(ordinal >> 16) & 255}.{(ordinal >> 8) & 255}.{ordinal & 255}"


def _customer(i: int, rng: random.Random, changed: bool) -> str:
    name = f"cust-{i:05d}"
    company = f"{WORDS[i % len(WORDS)]} {WORDS[(i // len(WORDS)) % len(WORDS)]} {SUFFIXES[i % len(SUFFIXES)]}"
    channels = 50 + (i % 20) * 10 + (1 if changed else 0)
    debit = rng.choice(["0", "250.00", "500.00", "1000.00", "5000.00"])
    return f"""apiVersion: {API}
kind: Customer
metadata:
  name: {name}
  labels:
    tier: {TIERS[i % len(TIERS)]}
    region: {REGIONS[i % len(REGIONS)]}
spec:
  displayName: "{company} #{i}"
  status: Active
  currency: USD
  debitLimit: "{debit}"
  minimumPayment: "100.00"
  taxPercent: "0"
  portalAccess: true
  website: https://{name}.example
  address:
    street: "{100 + i % 900} Main Street"
    city: Austin
    region: TX
    postalCode: "78701"
    country: US
  channels: {channels}
  flowSpeed: {5 + i % 20}
  dailySpendLimit: "2500.00"
  tags: [wholesale, {TIERS[i % len(TIERS)]}]
  contacts:
    - name: "NOC {company}"
      email: noc@{name}.example
      portalLogin: false
      publicNotes: 24/7 network operations
"""


def _ip_auth(i: int, j: int, ordinal: int, changed: bool) -> str:
    maker, version = SWITCHES[(i + j) % len(SWITCHES)]
    channels = 20 + j * 10 + (1 if changed else 0)
    return f"""apiVersion: {API}
kind: IpAuthentication
metadata:
  name: cust-{i:05d}-ip{j + 1}
spec:
  customerRef: cust-{i:05d}
  address: {_ip(ordinal)}
  channels: {channels}
  flowSpeed: {2 + j}
  codecs: {CODECS[(i + j) % len(CODECS)]}
  switchManufacturer: {maker}
  switchVersion: "{version}"
  protocol: udp
  port: 5060
"""


def _sip_user(i: int, j: int, changed: bool) -> str:
    channels = 10 + j * 5 + (1 if changed else 0)
    return f"""apiVersion: {API}
kind: CredentialAuthentication
metadata:
  name: cust-{i:05d}-sip{j + 1}
spec:
  customerRef: cust-{i:05d}
  username: c{i:05d}u{j + 1}
  passwordRef:
    env: {PASSWORD_ENV}
  channels: {channels}
  flowSpeed: 2
  codecs: [PCMU, PCMA]
  ipAllowList: [{_ip(i * IPS_PER_CUSTOMER)}/32]
"""


def _did(i: int, j: int, ordinal: int, changed: bool) -> str:
    number = f"1{AREA_CODES[ordinal % len(AREA_CODES)]}{2_000_000 + ordinal:07d}"
    uri = f'uri: "sip:{number}@{_ip(i * IPS_PER_CUSTOMER + j)}:5060"'
    destination = f"user: c{i:05d}u1" if j == 0 else uri
    retail = "1.50" if changed else "1.25"
    return f"""apiVersion: {API}
kind: Did
metadata:
  name: cust-{i:05d}-did{j + 1}
spec:
  number: "+{number}"
  destination:
    {destination}
  provider:
    name: Linebridge
  customerRef: cust-{i:05d}
  cost: "0.40"
  retail: "{retail}"
  setupCost: "0"
  setupRetail: "2.00"
  channels: {4 + j}
"""


def _route(i: int, changed: bool) -> str:
    return f"""apiVersion: {API}
kind: IngressRoute
metadata:
  name: cust-{i:05d}-main
spec:
  customerRef: cust-{i:05d}
  rateCardRef: {CARD}
  dialStrings: ["^1[2-9]", "^44", "^49"]
  priority: {1 if changed else 0}
  recording: Disabled
  channels: {50 + (i % 20) * 10}
  flowSpeed: {5 + i % 20}
  maxDuration: 7200
"""


def _rate_card(deck: str) -> str:
    return f"""# {CARD}: the A-Z deck every benchmark customer is billed from.
apiVersion: {API}
kind: RateCard
metadata:
  name: {CARD}
spec:
  currency: USD
  description: A-Z wholesale termination, USD
  precision: 4
  rounding: up
  defaults:
    connectFee: "0"
    minimumSeconds: 0
    initialIncrement: 60
    subsequentIncrement: 60
  ratesFrom:
    csv: {deck}
"""


def deck_csv(rows: int, seed: int) -> str:
    """``rows`` CSV rates: unique (prefix, effectiveFrom), ~3% of them announced price changes."""
    rng = random.Random(seed)
    lines = [",".join(DECK_COLUMNS)]
    seen: set[str] = set()
    ordered: list[tuple[str, str]] = []
    for code, country in COUNTRIES:  # every country code itself first, like a real A-Z
        if len(ordered) < rows and code not in seen:
            seen.add(code)
            ordered.append((code, f"{country} - Fixed"))
    dated = rows // 33
    while len(ordered) < rows - dated:
        code, country = rng.choice(COUNTRIES)
        length = rng.choice((4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8))
        if length <= len(code):
            continue
        prefix = code + "".join(rng.choice("0123456789") for _ in range(length - len(code)))
        if prefix in seen:
            continue
        seen.add(prefix)
        ordered.append((prefix, f"{country} - {rng.choice(DESTINATION_TYPES)}"))
    changes = rng.sample(range(len(ordered)), min(dated, len(ordered), rows - len(ordered)))
    out: list[tuple[str, str, str]] = [(p, n, "") for p, n in ordered]
    out.extend((ordered[k][0], ordered[k][1], "2026-07-01T00:00:00Z") for k in changes)
    for prefix, name, effective in out:
        blocked = "Premium" in name and rng.random() < 0.5
        per_minute = "0" if blocked else f"{rng.lognormvariate(-4.0, 1.1):.4f}"
        connect = "0.0100" if rng.random() < 0.05 else ""
        minimum = "30" if rng.random() < 0.02 else ""
        initial, subsequent = INCREMENTS[rng.randrange(len(INCREMENTS))]
        lines.append(
            f"{prefix},{name},{per_minute},{connect},{minimum},{initial},{subsequent},{effective},"
            f"{'true' if blocked else ''}"
        )
    return "\n".join(lines) + "\n"


def _write(path: Path, documents: list[str], summary: Summary) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n".join(documents), encoding="utf-8")
    summary.files.append(path)


def generate(
    out: Path,
    *,
    customers: int = 10_000,
    deck_rows: int = 100_000,
    change_percent: float = 0.0,
    chunk: int = 1000,
    seed: int = 1,
    clean: bool = True,
) -> Summary:
    """Write the carrier into ``out`` (emptied first with ``clean``); return what was written."""
    if clean and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = Summary(customers=customers, objects=customers * OBJECTS_PER_CUSTOMER + 1, deck_rows=deck_rows)
    total = customers * OBJECTS_PER_CUSTOMER
    wanted = max(1, round(total * change_percent / 100)) if change_percent > 0 else 0
    changed = set(random.Random(seed + 1).sample(range(total), min(wanted, total)))
    summary.changed = len(changed)

    deck = out / "ratecards" / "decks" / f"{CARD}.csv"
    deck.parent.mkdir(parents=True, exist_ok=True)
    deck.write_text(deck_csv(deck_rows, seed), encoding="utf-8")
    summary.deck = deck
    _write(out / "ratecards" / f"{CARD}.yaml", [_rate_card(f"decks/{CARD}.csv")], summary)

    rng = random.Random(seed)
    for start in range(0, customers, chunk):
        part = start // chunk
        docs: dict[str, list[str]] = {k: [] for k in ("customers", "ipauths", "sipusers", "dids", "routes")}
        for i in range(start, min(start + chunk, customers)):
            # This customer's objects are numbered base .. base + 11, in the order below.
            ordinal = iter(range(i * OBJECTS_PER_CUSTOMER, (i + 1) * OBJECTS_PER_CUSTOMER))
            docs["customers"].append(_customer(i, rng, next(ordinal) in changed))
            for j in range(IPS_PER_CUSTOMER):
                docs["ipauths"].append(_ip_auth(i, j, i * IPS_PER_CUSTOMER + j, next(ordinal) in changed))
            for j in range(SIP_USERS_PER_CUSTOMER):
                docs["sipusers"].append(_sip_user(i, j, next(ordinal) in changed))
            for j in range(DIDS_PER_CUSTOMER):
                docs["dids"].append(_did(i, j, i * DIDS_PER_CUSTOMER + j, next(ordinal) in changed))
            docs["routes"].append(_route(i, next(ordinal) in changed))
        for kind, documents in docs.items():
            _write(out / kind / f"{kind}-{part:04d}.yaml", documents, summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to write (emptied first)")
    parser.add_argument("--customers", type=int, default=10_000, help="customers (12 objects each; default 10000)")
    parser.add_argument("--deck-rows", type=int, default=100_000, help="rows of the CSV rate deck (default 100000)")
    parser.add_argument("--change-percent", type=float, default=0.0, help="percent of objects with a changed field")
    parser.add_argument("--chunk", type=int, default=1000, help="customers per file (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    summary = generate(
        args.out,
        customers=args.customers,
        deck_rows=args.deck_rows,
        change_percent=args.change_percent,
        chunk=args.chunk,
        seed=args.seed,
    )
    print(
        f"wrote {summary.objects} objects ({summary.changed} changed) in {len(summary.files)} files "
        f"and a {summary.deck_rows}-row deck to {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
