"""Kestrel Voice, the carrier of examples/*.yaml, declared as a Pulumi program.

Every one of the 34 objects of examples/*.yaml, with the same names and values, so `pulumi up`
writes the rows `trunkline apply examples/` writes (given the same TRUNKLINE_EXAMPLE_* password
variables): three customers, four rate cards (three inline, the USD deck read from its CSV
here), then tables of routes, IP and SIP authentications, DIDs, packages and alerts. References
are Outputs (`customer_ref=acme.name`), so Pulumi orders the writes as the engine would.

Run it from this directory: see README.md.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from provider import (
    Alert,
    AlertArgs,
    ContactArgs,
    CredentialAuthentication,
    CredentialAuthenticationArgs,
    Customer,
    CustomerArgs,
    Did,
    DidArgs,
    IngressRoute,
    IngressRouteArgs,
    IpAuthentication,
    IpAuthenticationArgs,
    Package,
    PackageArgs,
    RateCard,
    RateCardArgs,
    SecretRefArgs,
)
from resources.decks import load_deck
from resources.errors import ValidationError

HERE = Path(__file__).resolve().parent
DECK = HERE.parent / "ratecards" / "decks" / "usd-wholesale.csv"


def csv_rates(path: Path) -> list[dict[str, object]]:
    """A CSV deck as inline rates (snake_case), read by the parser `trunkline apply` uses: the
    program, not the provider, reads local files."""
    rates, problems = load_deck(path)
    if problems:
        raise ValidationError(problems)
    return [rate.model_dump(mode="json", exclude_unset=True) for rate in rates]


# -- customers ---------------------------------------------------------------------------------

acme = Customer(
    "acme-voip",
    CustomerArgs(
        display_name="Acme VoIP Inc.",
        status="Active",
        currency="USD",
        debit_limit="500.00",
        minimum_payment="100.00",
        tax_percent="0",
        portal_access=True,
        paypal_email="billing@acme-voip.example",
        website="https://acme-voip.example",
        address={
            "street": "500 Congress Avenue, Suite 200",
            "city": "Austin",
            "region": "TX",
            "postal_code": "78701",
            "country": "US",
        },
        channels=200,
        flow_speed=20,
        daily_spend_limit="1500.00",
        tags=["wholesale", "tier-1", "postpaid"],
        contacts=[
            ContactArgs(
                name="Dana Whitfield",
                email="noc@acme-voip.example",
                portal_login=True,
                password_ref=SecretRefArgs(env="TRUNKLINE_EXAMPLE_ACME_NOC_PASSWORD"),
                public_notes="24/7 network operations",
            ),
            ContactArgs(
                name="Luis Ortega",
                email="billing@acme-voip.example",
                portal_login=True,
                auto_generate_password=True,
                private_notes="Prefers invoices as PDF on the 1st",
            ),
        ],
        cli_rules=[
            {"cli": "^1512555[0-9]{4}$", "dialed_number_match": "^99", "notes": "premium route, Austin DIDs only"},
            {"cli": "^1[2-9][0-9]{9}$", "p_asserted_id": "^1(512|212)555[0-9]{4}$", "notes": "standard route"},
        ],
    ),
    labels={"tier": "gold", "region": "us"},
)

bluefin = Customer(
    "bluefin-telecom",
    CustomerArgs(
        display_name="Bluefin Telecom GmbH",
        status="Inactive",
        currency="EUR",
        debit_limit="0",
        minimum_payment="50.00",
        tax_percent="19",
        portal_access=True,
        website="https://bluefin-telecom.example",
        address={"street": "Friedrichstrasse 68", "city": "Berlin", "postal_code": "10117", "country": "DE"},
        channels=60,
        flow_speed=6,
        tags=["wholesale", "prepaid", "suspended"],
        contacts=[
            ContactArgs(
                name="Jonas Becker",
                email="ops@bluefin-telecom.example",
                portal_login=True,
                password_ref=SecretRefArgs(env="TRUNKLINE_EXAMPLE_BLUEFIN_OPS_PASSWORD"),
                private_notes="Suspended for an overdue invoice; reactivate once paid",
            )
        ],
    ),
    labels={"tier": "silver", "region": "eu"},
)

cobalt = Customer(
    "cobalt-comms",
    CustomerArgs(
        display_name="Cobalt Communications Ltd",
        status="PendingApproval",
        currency="GBP",
        minimum_payment="25.00",
        tax_percent="20",
        portal_access=False,
        address={
            "street": "1 Spinningfields Square",
            "city": "Manchester",
            "region": "Greater Manchester",
            "postal_code": "M3 3AP",
            "country": "GB",
        },
        channels=30,
        flow_speed=3,
        daily_spend_limit="250.00",
        tags=["smb", "trial"],
        contacts=[
            ContactArgs(
                name="Priya Shah",
                email="priya.shah@cobalt-comms.example",
                portal_login=False,
                public_notes="Signed up via the web form; KYC documents pending",
            )
        ],
        cli_rules=[
            {
                "cli": "^44(20|161)[0-9]{7,8}$",
                "rewrite_cli": "+442079460000",
                "forced": True,
                "notes": "forced rewrite to the main number",
            }
        ],
    ),
    labels={"tier": "bronze", "region": "uk"},
)

# -- rate cards (inline) -----------------------------------------------------------------------

usd_wholesale = RateCard(
    "usd-wholesale",
    RateCardArgs(
        currency="USD",
        description="A-Z wholesale termination, USD",
        precision=4,
        rounding="up",
        defaults={"connect_fee": "0", "minimum_seconds": 0, "initial_increment": 60, "subsequent_increment": 60},
        rates=csv_rates(DECK),
    ),
)

eur_standard = RateCard(
    "eur-standard",
    RateCardArgs(
        currency="EUR",
        description="Europe termination, EUR, 30/6 billing",
        precision=5,
        rounding="nearest",
        defaults={"connect_fee": "0", "minimum_seconds": 0, "initial_increment": 30, "subsequent_increment": 6},
        rates=[
            {"prefix": "49", "name": "Germany - Fixed", "per_minute": "0.0095"},
            {
                "prefix": "49",
                "name": "Germany - Fixed",
                "per_minute": "0.0089",
                "effective_from": "2025-07-01T00:00:00Z",
            },
            {"prefix": "4930", "name": "Germany - Berlin", "per_minute": "0.0078"},
            {"prefix": "4915", "name": "Germany - Mobile", "per_minute": "0.0215"},
            {"prefix": "4916", "name": "Germany - Mobile", "per_minute": "0.0215"},
            {"prefix": "4917", "name": "Germany - Mobile", "per_minute": "0.0215"},
            {
                "prefix": "4917",
                "name": "Germany - Mobile",
                "per_minute": "0.0198",
                "effective_from": "2025-07-01T00:00:00Z",
            },
            {"prefix": "49900", "name": "Germany - Premium Rate", "per_minute": "0", "blocked": True},
            {"prefix": "49137", "name": "Germany - Mass Calling", "per_minute": "0", "blocked": True},
            {"prefix": "43", "name": "Austria - Fixed", "per_minute": "0.0118"},
            {"prefix": "436", "name": "Austria - Mobile", "per_minute": "0.0420"},
            {"prefix": "41", "name": "Switzerland - Fixed", "per_minute": "0.0125"},
            {"prefix": "417", "name": "Switzerland - Mobile", "per_minute": "0.0580"},
            {"prefix": "33", "name": "France - Fixed", "per_minute": "0.0084"},
            {"prefix": "336", "name": "France - Mobile", "per_minute": "0.0150"},
            {"prefix": "337", "name": "France - Mobile", "per_minute": "0.0155"},
            {"prefix": "31", "name": "Netherlands - Fixed", "per_minute": "0.0102"},
            {"prefix": "316", "name": "Netherlands - Mobile", "per_minute": "0.0395"},
            {"prefix": "44", "name": "United Kingdom - Fixed", "per_minute": "0.0079"},
            {"prefix": "447", "name": "United Kingdom - Mobile", "per_minute": "0.0112"},
            {
                "prefix": "8816",
                "name": "Satellite - Iridium",
                "per_minute": "5.9000",
                "connect_fee": "0.5000",
                "minimum_seconds": 60,
                "initial_increment": 60,
                "subsequent_increment": 60,
            },
        ],
    ),
)

gbp_retail = RateCard(
    "gbp-retail",
    RateCardArgs(
        currency="GBP",
        description="UK and near-Europe, GBP, 1/1 billing",
        defaults={"connect_fee": "0", "initial_increment": 1, "subsequent_increment": 1},
        rates=[
            {"prefix": "44", "name": "United Kingdom - Fixed", "per_minute": "0.0065"},
            {"prefix": "4420", "name": "United Kingdom - London", "per_minute": "0.0058"},
            {"prefix": "44161", "name": "United Kingdom - Manchester", "per_minute": "0.0060"},
            {"prefix": "447", "name": "United Kingdom - Mobile", "per_minute": "0.0095", "connect_fee": "0.0010"},
            {
                "prefix": "4470",
                "name": "United Kingdom - Personal Numbering",
                "per_minute": "0.2800",
                "minimum_seconds": 60,
            },
            {"prefix": "449", "name": "United Kingdom - Premium Rate", "per_minute": "0", "blocked": True},
            {"prefix": "353", "name": "Ireland - Fixed", "per_minute": "0.0082"},
            {"prefix": "3538", "name": "Ireland - Mobile", "per_minute": "0.0165"},
            {"prefix": "33", "name": "France - Fixed", "per_minute": "0.0078"},
            {"prefix": "34", "name": "Spain - Fixed", "per_minute": "0.0066"},
        ],
    ),
)

provider_linebridge = RateCard(
    "provider-linebridge",
    RateCardArgs(
        currency="USD",
        description="LineBridge inbound DID minutes",
        defaults={"initial_increment": 6, "subsequent_increment": 6},
        rates=[
            {"prefix": "1", "name": "US/Canada inbound", "per_minute": "0.0012"},
            {"prefix": "1800", "name": "US toll-free inbound", "per_minute": "0.0095"},
            {"prefix": "44", "name": "UK inbound", "per_minute": "0.0030"},
            {"prefix": "49", "name": "Germany inbound", "per_minute": "0.0035"},
        ],
    ),
)

# -- everything that hangs off a customer: one table per kind, declared by one loop each ------------
# Each entry is the YAML object's name and its spec in snake_case; references are the Outputs
# of the resources above, so Pulumi creates the customers and cards first and deletes them last.

INGRESS_ROUTES = {
    "acme-standard": dict(
        customer_ref=acme.name,
        rate_card_ref=usd_wholesale.name,
        priority=0,
        recording="Sampling",
        sampling_percent="5",
        channels=150,
        flow_speed=15,
        max_duration=14400,
    ),
    "acme-premium": dict(
        customer_ref=acme.name,
        rate_card_ref=usd_wholesale.name,
        tech_prefix="99",
        dial_strings=["1", "44", "^(33|49)[1-9][0-9]{5,12}$"],
        priority=10,
        recording="Enabled",
        channels=50,
        flow_speed=5,
        max_duration=7200,
        over_limit_sip_code=486,
    ),
    "bluefin-standard": dict(
        customer_ref=bluefin.name, rate_card_ref=eur_standard.name, dial_strings=["4", "3"], max_duration=3600
    ),
    "cobalt-standard": dict(
        customer_ref=cobalt.name,
        rate_card_ref=gbp_retail.name,
        recording="Sampling",
        sampling_percent="10",
        channels=30,
        flow_speed=3,
        max_duration=7200,
        enabled=True,
    ),
}

# How the switch recognises each customer's calls (127.0.0.x: loopback for the SIP tests).
IP_AUTHENTICATIONS = {
    "acme-pbx": dict(
        customer_ref=acme.name,
        address="127.0.0.2",
        channels=150,
        flow_speed=15,
        codecs=["PCMU", "PCMA", "G729"],
        switch_manufacturer="FreeSWITCH",
        switch_version="1.10.11",
        protocol="udp",
        port=5060,
    ),
    "acme-pbx-premium": dict(
        customer_ref=acme.name,
        address="127.0.0.2",
        tech_prefix="99",
        channels=50,
        flow_speed=5,
        codecs=["PCMU", "PCMA"],
    ),
    "acme-sbc-pool": dict(
        customer_ref=acme.name,
        address="192.0.2.0/28",
        protocol="tcp",
        channels=100,
        flow_speed=10,
        codecs=["PCMU", "G729"],
        switch_manufacturer="Ribbon",
        switch_version="SBC 5400 V11",
        dial_pattern="^1[2-9]",
        bandwidth=20000,
    ),
    "bluefin-sbc": dict(
        customer_ref=bluefin.name,
        address="127.0.0.3",
        protocol="tls",
        port=5061,
        channels=60,
        flow_speed=6,
        codecs=["PCMA", "G722", "OPUS"],
        switch_manufacturer="Kamailio",
        switch_version="5.8",
    ),
    "bluefin-backup": dict(
        customer_ref=bluefin.name, address="198.51.100.0/26", channels=20, flow_speed=2, codecs=["PCMA"]
    ),
    "cobalt-pbx": dict(
        customer_ref=cobalt.name,
        address="127.0.0.4",
        channels=30,
        flow_speed=3,
        codecs=["PCMA", "PCMU"],
        switch_manufacturer="Asterisk",
        switch_version="20",
    ),
    "cobalt-office": dict(
        customer_ref=cobalt.name,
        address="203.0.113.10",
        port=5080,
        protocol="udp",
        cli_prefix="44",
        tech_prefix="7123#",
        strip_digits=5,
        force_from="sip:+442079460000@sip.kestrel.example",
        channels=10,
        flow_speed=1,
    ),
    # Egress: where Kestrel delivers Cobalt's DID calls; Cobalt's PBX challenges, so the switch registers.
    "cobalt-egress": dict(
        customer_ref=cobalt.name,
        direction="Egress",
        address="pbx.cobalt-comms.example",
        protocol="tls",
        port=5061,
        codecs=["PCMA"],
        credentials={
            "username": "kestrel-trunk",
            "password_ref": SecretRefArgs(env="TRUNKLINE_EXAMPLE_COBALT_TRUNK_PASSWORD"),
        },
    ),
}

# SIP users: only the HA1 digests reach the switch. Like the YAML, the passwords are passwordRefs
# read from the environment of `pulumi up`; `password=config.require_secret("...")` works too
# (docs/pulumi.md), but then the row records that reference instead of the env variable.
CREDENTIAL_AUTHENTICATIONS = {
    "acme-softswitch-1001": dict(
        customer_ref=acme.name,
        username="acme1001",
        realm="sip.kestrel.example",
        password_ref=SecretRefArgs(env="TRUNKLINE_EXAMPLE_ACME1001_PASSWORD"),
        channels=10,
        flow_speed=2,
        codecs=["PCMU", "PCMA"],
        ip_allow_list=["127.0.0.0/8", "192.0.2.0/24"],
    ),
    "cobalt-office-user": dict(
        customer_ref=cobalt.name,
        username="cobalt-office",
        realm="sip.kestrel.example",
        password_ref=SecretRefArgs(env="TRUNKLINE_EXAMPLE_COBALT_OFFICE_PASSWORD"),
        channels=4,
        flow_speed=1,
        codecs=["PCMA"],
    ),
    "bluefin-roaming": dict(
        customer_ref=bluefin.name,
        username="bluefin-roaming",  # realm defaults to trunkline.local
        password_ref=SecretRefArgs(env="TRUNKLINE_EXAMPLE_BLUEFIN_ROAMING_PASSWORD"),
        channels=2,
    ),
}

LINEBRIDGE = {"name": "LineBridge", "card_ref": provider_linebridge.name}
DIDS = {
    "acme-reception": dict(
        number="+12125550142",
        destination={"uri": "sip:reception@127.0.0.2:5060"},
        provider=LINEBRIDGE,
        customer_ref=acme.name,
        customer_card_ref=usd_wholesale.name,
        cost="0.35",
        retail="1.00",
        setup_cost="0",
        setup_retail="5.00",
        channels=10,
        flow_speed=2,
    ),
    "acme-after-hours": dict(
        number="+12125550143",
        destination={"external": "+15125550100"},
        provider=LINEBRIDGE,
        customer_ref=acme.name,
        customer_card_ref=usd_wholesale.name,
        cost="0.35",
        retail="1.00",
        max_duration=3600,
    ),
    "cobalt-main": dict(
        number="+442079460000",
        destination={"user": "cobalt-office"},
        provider={"name": "Thamesgate Numbers"},
        customer_ref=cobalt.name,
        customer_card_ref=gbp_retail.name,
        cost="0.60",
        retail="1.50",
        setup_retail="10.00",
        recording=True,
    ),
    "bluefin-berlin": dict(
        number="+493023125000",
        destination={"uri": "sip:+493023125000@198.51.100.10"},
        provider=LINEBRIDGE,
        customer_ref=bluefin.name,
        cost="0.90",
        retail="2.00",
        enabled=False,  # the customer is suspended
    ),
}

PACKAGES = {
    "acme-nanp-bundle": dict(
        customer_ref=acme.name,
        name="NANP 10k minutes",
        quantity=1,
        auto_decrement_credit=True,
        cost="250.00",
        frequency="Monthly",
        start_date="2025-01-01",
        allowance={"minutes": 10000, "prefixes": ["1"]},
    ),
    "acme-setup": dict(
        customer_ref=acme.name, name="Interconnect setup", auto_decrement_credit=True, cost="150.00", frequency="OneOff"
    ),
    "cobalt-uk-mobile": dict(
        customer_ref=cobalt.name,
        name="UK mobile 2000",
        quantity=2,
        auto_decrement_credit=True,
        cost="40.00",
        frequency="Monthly",
        start_date="2025-06-01",
        end_date="2026-05-31",
        allowance={"minutes": 2000, "prefixes": ["447"]},
        minimum_spend=True,
    ),
    "bluefin-support": dict(
        customer_ref=bluefin.name,
        name="Premium support",
        auto_decrement_credit=False,  # invoiced, not taken from the balance
        cost="1200.00",
        frequency="Yearly",
        start_date="2025-01-01",
    ),
}

ALERTS = {
    "acme-low-balance": dict(
        customer_ref=acme.name,
        name="Low balance",
        recipients=[{"email": "billing@acme-voip.example"}],
        area="Balance",
        operator="<",
        threshold="50",
        reset_threshold="100",
        repeat="6h",
    ),
    "acme-low-asr": dict(
        customer_ref=acme.name,
        name="ASR under 30%",
        recipients=[
            {"email": "noc@acme-voip.example"},
            {"webhook": "https://hooks.acme-voip.example/trunkline/alerts"},
        ],
        area="ASR",
        operator="<",
        threshold="30",
        reset_threshold="40",
        sample_period="15m",
        repeat="1h",
        penalty="30m",  # disable the customer for 30 minutes while it fires
    ),
    "cobalt-daily-spend": dict(
        customer_ref=cobalt.name,
        name="Spend over 200",
        recipients=[{"phone": "+447700900123"}],
        area="Spend",
        operator=">",
        threshold="200",
        reset_threshold="150",
    ),
    "bluefin-channels": dict(
        customer_ref=bluefin.name,
        name="Near channel limit",
        recipients=[{"email": "ops@bluefin-telecom.example"}],
        area="Channels",
        operator=">=",
        threshold="55",
        sample_period="5m",
    ),
}

for table, resource, args in [
    (INGRESS_ROUTES, IngressRoute, IngressRouteArgs),
    (IP_AUTHENTICATIONS, IpAuthentication, IpAuthenticationArgs),
    (CREDENTIAL_AUTHENTICATIONS, CredentialAuthentication, CredentialAuthenticationArgs),
    (DIDS, Did, DidArgs),
    (PACKAGES, Package, PackageArgs),
    (ALERTS, Alert, AlertArgs),
]:
    for name, spec in table.items():
        resource(name, args(**spec))

pulumi.export("customers", [acme.name, bluefin.name, cobalt.name])
