"""Per-kind rules of the declared model: defaults, strict types, and the rules inside one object.

Each case loads a realistic manifest (beside a small valid world, so references resolve) and
checks the user-facing problem: the field path in camelCase and a fragment of the message.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

import resources
from resources import KINDS, ObjectKey
from resources.kinds import (
    Alert,
    CredentialAuthentication,
    Customer,
    Did,
    IngressRoute,
    IpAuthentication,
    Package,
    RateCard,
)

DROP = object()  # a change that deletes the key


def _apply(spec: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Set (or with DROP, delete) dotted paths such as ``contacts.0.email`` in a spec."""
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        target: Any = spec
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
        key: Any = int(last) if isinstance(target, list) else last
        if value is DROP:
            del target[key]
        else:
            target[key] = value
    return spec


@pytest.fixture
def load_one(world, manifest, dump, spec_of):
    """Load the valid spec of ``kind`` with ``changes`` applied; return (object or None, problems)."""

    def load(kind: str, changes: dict[str, Any] | None = None, *, name: str = "x", minimal: dict | None = None):
        spec = minimal if minimal is not None else _apply(spec_of(kind), changes or {})
        text = world + "---\n" + dump(manifest(kind, spec, name=name))
        try:
            state = resources.load_text(text)
        except resources.ValidationError as exc:
            return None, exc.problems
        return state.get(ObjectKey(kind, "default", name)), []

    return load


def test_every_valid_spec_loads(load_one):
    for kind in KINDS:
        obj, problems = load_one(kind)
        assert problems == [], kind
        assert obj is not None and obj.kind == kind


# ---------------------------------------------------------------- defaults

MINIMAL: dict[str, dict[str, Any]] = {
    "Customer": {"displayName": "Acme", "currency": "USD"},
    "RateCard": {"currency": "USD", "rates": [{"prefix": "1", "perMinute": "0.01"}]},
    "IngressRoute": {"customerRef": "acme", "rateCardRef": "usd"},
    "IpAuthentication": {"customerRef": "acme", "address": "192.0.2.1"},
    "CredentialAuthentication": {"customerRef": "acme", "username": "u1", "passwordRef": {"env": "U1"}},
    "Did": {
        "number": "12125550100",
        "destination": {"user": "u1"},
        "provider": {"name": "P"},
        "customerRef": "acme",
        "cost": "1",
        "retail": "2",
    },
    "Package": {"customerRef": "acme", "name": "P", "cost": "1", "frequency": "Monthly"},
    "Alert": {
        "customerRef": "acme",
        "name": "Low",
        "recipients": [{"email": "a@b.example"}],
        "area": "Balance",
        "operator": "<",
        "threshold": "50",
    },
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "Customer": {
        "status": "Active",
        "debit_limit": 0,
        "minimum_payment": 0,
        "tax_percent": 0,
        "portal_access": False,
        "channels": 0,
        "flow_speed": 0,
        "daily_spend_limit": None,
        "address": None,
        "tags": [],
        "contacts": [],
        "cli_rules": [],
    },
    "RateCard": {"precision": 4, "rounding": "up", "description": None, "rates_from": None},
    "IngressRoute": {
        "tech_prefix": None,
        "dial_strings": [],
        "priority": 0,
        "recording": "Disabled",
        "sampling_percent": None,
        "channels": 0,
        "flow_speed": 0,
        "max_duration": None,
        "over_limit_sip_code": 503,
        "enabled": True,
    },
    "IpAuthentication": {
        "port": 5060,
        "protocol": "udp",
        "direction": "Ingress",
        "channels": 0,
        "flow_speed": 0,
        "codecs": [],
        "strip_digits": 0,
        "tech_prefix": None,
        "credentials": None,
    },
    "CredentialAuthentication": {"realm": "trunkline.local", "channels": 0, "flow_speed": 0, "ip_allow_list": []},
    "Did": {"enabled": True, "customer_card_ref": None, "recording": None, "channels": None},
    "Package": {
        "quantity": 1,
        "auto_decrement_credit": False,
        "minimum_spend": False,
        "start_date": None,
        "allowance": None,
    },
    "Alert": {"reset_threshold": None, "sample_period": None, "repeat": None, "penalty": None},
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_defaults(load_one, kind):
    obj, problems = load_one(kind, minimal=MINIMAL[kind])
    assert problems == []
    assert obj.metadata.namespace == "default"
    assert obj.metadata.labels == {} and obj.metadata.annotations == {}
    for attribute, expected in DEFAULTS[kind].items():
        assert getattr(obj.spec, attribute) == expected, attribute


def test_rate_card_default_billing(load_one):
    card, _ = load_one("RateCard", minimal=MINIMAL["RateCard"])
    defaults = card.spec.defaults
    assert (defaults.connect_fee, defaults.minimum_seconds) == (0, 0)
    assert (defaults.initial_increment, defaults.subsequent_increment) == (1, 1)
    assert card.spec.rates[0].blocked is False and card.spec.rates[0].effective_from is None


# ---------------------------------------------------------------- accepted and normalised values


@pytest.mark.parametrize(
    ("kind", "changes", "read", "expected"),
    [
        pytest.param(
            "Customer",
            {"debitLimit": "0.0125"},
            lambda o: o.spec.debit_limit,
            Decimal("0.0125"),
            id="money-as-decimal-string-keeps-every-digit",
        ),
        pytest.param(
            "Customer",
            {"debitLimit": 0.05},
            lambda o: o.spec.debit_limit,
            Decimal("0.05"),
            id="money-as-yaml-float-is-read-back-through-its-text",
        ),
        pytest.param(
            "Customer", {"debitLimit": 500}, lambda o: o.spec.debit_limit, Decimal(500), id="money-as-integer"
        ),
        pytest.param(
            "Customer",
            {"taxPercent": "100"},
            lambda o: o.spec.tax_percent,
            Decimal(100),
            id="tax-percent-upper-bound-inclusive",
        ),
        pytest.param(
            "Customer", {"currency": "usd"}, lambda o: o.spec.currency, "USD", id="currency-code-is-upper-cased"
        ),
        pytest.param(
            "Customer",
            {"address.country": "gb"},
            lambda o: o.spec.address.country,
            "GB",
            id="country-code-is-upper-cased",
        ),
        pytest.param(
            "Customer",
            {"tags": ["yes", "no"]},
            lambda o: o.spec.tags,
            ["yes", "no"],
            id="yaml-1.2-yes-is-a-string-not-a-boolean",
        ),
        pytest.param(
            "Did",
            {"number": "+442079460000"},
            lambda o: o.spec.number,
            "442079460000",
            id="e164-with-plus-is-stored-as-digits",
        ),
        pytest.param(
            "Did", {"number": 442079460000}, lambda o: o.spec.number, "442079460000", id="e164-as-yaml-integer"
        ),
        pytest.param(
            "Did",
            {"destination": {"external": "+15125550100"}},
            lambda o: o.spec.destination.external,
            "15125550100",
            id="did-forward-to-external-number",
        ),
        pytest.param(
            "RateCard",
            {"rates": [{"prefix": 44, "perMinute": "0.01"}]},
            lambda o: o.spec.rates[0].prefix,
            "44",
            id="prefix-as-yaml-integer",
        ),
        pytest.param(
            "RateCard",
            {"rates": [{"prefix": "1", "perMinute": "0.01", "effectiveFrom": "2025-07-01"}]},
            lambda o: o.spec.rates[0].effective_from,
            datetime(2025, 7, 1, tzinfo=UTC),
            id="effective-from-date-means-midnight-utc",
        ),
        pytest.param(
            "RateCard",
            {"rates": [{"prefix": "1", "perMinute": "0.01", "effectiveFrom": "2025-07-01T02:00:00+02:00"}]},
            lambda o: o.spec.rates[0].effective_from,
            datetime(2025, 7, 1, tzinfo=UTC),
            id="effective-from-offset-is-normalised-to-utc",
        ),
        pytest.param(
            "Package",
            {"startDate": "2025-02-01", "endDate": "2025-02-01"},
            lambda o: (o.spec.start_date, o.spec.end_date),
            (date(2025, 2, 1), date(2025, 2, 1)),
            id="package-may-start-and-end-the-same-day",
        ),
        pytest.param(
            "Alert", {"samplePeriod": 900}, lambda o: o.spec.sample_period, "900s", id="duration-as-seconds-integer"
        ),
        pytest.param(
            "Alert",
            {"resetThreshold": "30"},
            lambda o: o.spec.reset_threshold,
            Decimal(30),
            id="alert-reset-equal-to-threshold",
        ),
        pytest.param(
            "IpAuthentication", {"address": "2001:db8::10"}, lambda o: o.spec.address, "2001:db8::10", id="ipv6-address"
        ),
        pytest.param(
            "IpAuthentication",
            {"address": "198.51.100.0/24"},
            lambda o: o.spec.address,
            "198.51.100.0/24",
            id="cidr-network",
        ),
        pytest.param(
            "IpAuthentication",
            {
                "direction": "Egress",
                "address": "pbx.acme.example",
                "techPrefix": DROP,
                "credentials": {"username": "trunk", "passwordRef": {"file": "/run/secrets/trunk"}},
            },
            lambda o: (o.spec.address, o.spec.credentials.password_ref.describe()),
            ("pbx.acme.example", "file:/run/secrets/trunk"),
            id="egress-hostname-with-credentials",
        ),
        pytest.param(
            "CredentialAuthentication",
            {"ipAllowList": ["192.0.2.7/24"]},
            lambda o: o.spec.ip_allow_list,
            ["192.0.2.0/24"],
            id="allow-list-network-is-normalised",
        ),
        pytest.param(
            "CredentialAuthentication",
            {"passwordRef": {"secretKeyRef": {"name": "sip", "key": "acme"}}},
            lambda o: o.spec.password_ref.describe(),
            "secret:sip/acme",
            id="password-from-kubernetes-secret",
        ),
    ],
)
def test_accepted(load_one, kind, changes, read, expected):
    obj, problems = load_one(kind, changes)
    assert problems == []
    assert read(obj) == expected


def test_money_is_never_a_float(load_one):
    card, _ = load_one("RateCard", {"rates": [{"prefix": "1", "perMinute": 0.1, "connectFee": 0.3}]})
    rate = card.spec.rates[0]
    assert isinstance(rate.per_minute, Decimal) and rate.per_minute == Decimal("0.1")
    assert rate.per_minute * 3 == Decimal("0.3")


# ---------------------------------------------------------------- rejected values

REJECTED = [
    # money
    (
        "Customer",
        {"debitLimit": True},
        "spec.debitLimit",
        "expected a decimal number, got a boolean",
        "money-rejects-boolean",
    ),
    (
        "Customer",
        {"debitLimit": "abc"},
        "spec.debitLimit",
        "expected a decimal number such as 0.0125",
        "money-rejects-text",
    ),
    (
        "Customer",
        {"debitLimit": "1e3"},
        "spec.debitLimit",
        "expected a decimal number such as 0.0125",
        "money-rejects-exponent-notation",
    ),
    ("Customer", {"debitLimit": float("nan")}, "spec.debitLimit", "finite", "money-rejects-nan"),
    ("Customer", {"debitLimit": float("inf")}, "spec.debitLimit", "finite", "money-rejects-infinity"),
    ("Customer", {"debitLimit": "-5"}, "spec.debitLimit", "must not be negative", "debit-limit-not-negative"),
    ("Customer", {"debitLimit": ["1"]}, "spec.debitLimit", "expected a decimal number, got list", "money-rejects-list"),
    ("Customer", {"taxPercent": "101"}, "spec.taxPercent", "between 0 and 100", "tax-percent-over-100"),
    (
        "RateCard",
        {"rates.0.perMinute": "0,012"},
        "spec.rates[0].perMinute",
        "expected a decimal number",
        "decimal-comma-is-not-a-decimal-point",
    ),
    # E.164 numbers and prefixes
    ("Did", {"number": "12ab"}, "spec.number", "expected an E.164 number", "e164-rejects-letters"),
    ("Did", {"number": "123"}, "spec.number", "(4-15 digits)", "e164-too-short"),
    ("Did", {"number": "1234567890123456"}, "spec.number", "(4-15 digits)", "e164-too-long"),
    ("Did", {"number": True}, "spec.number", "got a boolean", "e164-rejects-boolean"),
    ("Did", {"number": -12125550100}, "spec.number", "expected an E.164 number", "e164-rejects-negative-integer"),
    ("Did", {"number": "+1 212 555 0100"}, "spec.number", "expected an E.164 number", "e164-rejects-spaces"),
    (
        "RateCard",
        {"rates.0.prefix": "+44 20"},
        "spec.rates[0].prefix",
        "expected a dialing prefix",
        "prefix-rejects-spaces",
    ),
    (
        "Customer",
        {"cliRules.1.rewriteCli": "anonymous"},
        "spec.cliRules[1].rewriteCli",
        "expected an E.164 number",
        "rewrite-cli-must-be-a-number",
    ),
    # strict integers and booleans
    ("Customer", {"channels": "ten"}, "spec.channels", "valid integer, got 'ten'", "int-rejects-word"),
    ("Customer", {"channels": "10"}, "spec.channels", "valid integer", "int-rejects-quoted-number"),
    ("Customer", {"channels": 10.5}, "spec.channels", "valid integer", "int-rejects-float"),
    ("Customer", {"channels": True}, "spec.channels", "valid integer", "int-rejects-boolean"),
    ("Customer", {"channels": -1}, "spec.channels", "greater than or equal to 0", "channels-not-negative"),
    ("Customer", {"portalAccess": "yes"}, "spec.portalAccess", "valid boolean", "bool-rejects-yes-string"),
    ("Customer", {"portalAccess": 1}, "spec.portalAccess", "valid boolean", "bool-rejects-integer"),
    ("IpAuthentication", {"port": 0}, "spec.port", "greater than or equal to 1", "port-zero"),
    ("IpAuthentication", {"port": 65536}, "spec.port", "less than or equal to 65535", "port-too-high"),
    ("RateCard", {"precision": 99}, "spec.precision", "less than or equal to", "precision-too-high"),
    (
        "RateCard",
        {"defaults.initialIncrement": 0},
        "spec.defaults.initialIncrement",
        "greater than or equal to 1",
        "increment-must-be-positive",
    ),
    ("Package", {"quantity": 0}, "spec.quantity", "greater than or equal to 1", "package-quantity-at-least-one"),
    (
        "Package",
        {"allowance.minutes": 0},
        "spec.allowance.minutes",
        "greater than or equal to 1",
        "allowance-needs-minutes",
    ),
    # enums
    (
        "Customer",
        {"status": "Enabled"},
        "spec.status",
        "'Active', 'Inactive' or 'PendingApproval', got 'Enabled'",
        "customer-status-enum",
    ),
    ("RateCard", {"rounding": "ceil"}, "spec.rounding", "got 'ceil'", "rounding-enum"),
    ("IpAuthentication", {"protocol": "sctp"}, "spec.protocol", "got 'sctp'", "protocol-enum"),
    ("IpAuthentication", {"direction": "Both"}, "spec.direction", "got 'Both'", "direction-enum"),
    ("IngressRoute", {"recording": "On", "samplingPercent": DROP}, "spec.recording", "got 'On'", "recording-enum"),
    ("IngressRoute", {"overLimitSipCode": 404}, "spec.overLimitSipCode", "got 404", "over-limit-code-486-or-503"),
    ("Package", {"frequency": "Monthy"}, "spec.frequency", "got 'Monthy'", "frequency-enum-typo"),
    ("Alert", {"area": "Balances"}, "spec.area", "got 'Balances'", "alert-area-enum"),
    ("Alert", {"operator": "=>"}, "spec.operator", "got '=>'", "alert-operator-enum"),
    # codes and names
    ("Customer", {"currency": "DOL"}, "spec.currency", "is not an ISO 4217 currency code", "currency-not-iso"),
    ("Customer", {"address.country": "UK"}, "spec.address.country", "ISO 3166-1 alpha-2", "country-uk-is-gb"),
    ("IngressRoute", {"customerRef": "Acme"}, "spec.customerRef", "should match pattern", "reference-is-dns-label"),
    ("IpAuthentication", {"techPrefix": "9a"}, "spec.techPrefix", "should match pattern", "tech-prefix-digits"),
    (
        "CredentialAuthentication",
        {"username": "acme 1001"},
        "spec.username",
        "should match pattern",
        "sip-username-without-spaces",
    ),
    (
        "Did",
        {"destination": {"uri": "http://pbx.example"}},
        "spec.destination.uri",
        "should match pattern",
        "did-uri-must-be-sip",
    ),
    ("Customer", {"website": "ftp://acme.example"}, "spec.website", "is not an http(s) URL", "website-http-only"),
    (
        "Customer",
        {"contacts.0.email": "noc-at-acme"},
        "spec.contacts[0].email",
        "is not an email address",
        "contact-email-format",
    ),
    # regular expressions
    (
        "Customer",
        {"cliRules.0.cli": "([0-9]"},
        "spec.cliRules[0].cli",
        "regular expression does not compile",
        "cli-regex-does-not-compile",
    ),
    (
        "Customer",
        {"cliRules.0.dialedNumberMatch": "a{99999999999}"},
        "spec.cliRules[0].dialedNumberMatch",
        "regular expression does not compile",
        "regex-repeat-count-overflow",
    ),
    (
        "IngressRoute",
        {"dialStrings": ["1", "^(44"]},
        "spec.dialStrings[1]",
        "regular expression does not compile",
        "dial-string-regex-does-not-compile",
    ),
    (
        "IpAuthentication",
        {"dialPattern": "*1"},
        "spec.dialPattern",
        "regular expression does not compile",
        "dial-pattern-nothing-to-repeat",
    ),
    # addresses
    (
        "IpAuthentication",
        {"address": "10.0.0.300"},
        "spec.address",
        "'10.0.0.300' is not a valid IP address",
        "ip-octet-over-255",
    ),
    (
        "IpAuthentication",
        {"address": "192.0.2.1/24"},
        "spec.address",
        "is not a valid CIDR network",
        "cidr-with-host-bits",
    ),
    (
        "IpAuthentication",
        {"address": "bad host!"},
        "spec.address",
        "is not an IP address, CIDR network or hostname",
        "address-garbage",
    ),
    (
        "IpAuthentication",
        {"address": "pbx.acme.example"},
        "spec",
        "hostname is allowed for direction: Egress only",
        "hostname-for-ingress",
    ),
    (
        "IpAuthentication",
        {"credentials": {"username": "t", "passwordRef": {"env": "T"}}},
        "spec",
        "credentials are for direction: Egress only",
        "credentials-for-ingress",
    ),
    (
        "CredentialAuthentication",
        {"ipAllowList": ["192.0.2.300/24"]},
        "spec.ipAllowList[0]",
        "is not a valid IP network",
        "allow-list-bad-network",
    ),
    # exactly one of
    (
        "CredentialAuthentication",
        {"passwordRef": {}},
        "spec.passwordRef",
        "set exactly one of env, file or secretKeyRef",
        "secret-ref-empty",
    ),
    (
        "CredentialAuthentication",
        {"passwordRef": {"env": "A", "file": "/b"}},
        "spec.passwordRef",
        "set exactly one of env, file or secretKeyRef",
        "secret-ref-two-sources",
    ),
    (
        "Did",
        {"destination": {}},
        "spec.destination",
        "set exactly one of uri, external or user",
        "did-destination-empty",
    ),
    (
        "Did",
        {"destination": {"uri": "sip:a@192.0.2.1", "user": "a"}},
        "spec.destination",
        "set exactly one of uri, external or user",
        "did-destination-two",
    ),
    (
        "Alert",
        {"recipients": [{}]},
        "spec.recipients[0]",
        "set exactly one of email, phone or webhook",
        "recipient-empty",
    ),
    (
        "Alert",
        {"recipients": [{"email": "a@b.example", "phone": "+447700900123"}]},
        "spec.recipients[0]",
        "set exactly one of email, phone or webhook",
        "recipient-two-channels",
    ),
    ("Alert", {"recipients": []}, "spec.recipients", "at least 1 item", "alert-needs-a-recipient"),
    (
        "RateCard",
        {"ratesFrom": {"csv": "d.csv"}},
        "spec",
        "set exactly one of rates or ratesFrom",
        "rates-and-rates-from",
    ),
    ("RateCard", {"rates": DROP}, "spec", "set exactly one of rates or ratesFrom", "neither-rates-nor-rates-from"),
    (
        "RateCard",
        {"rates": DROP, "ratesFrom": {}},
        "spec.ratesFrom",
        "set exactly one of csv or configMapRef",
        "rates-from-empty",
    ),
    (
        "RateCard",
        {"rates": DROP, "ratesFrom": {"csv": "d.csv", "configMapRef": {"name": "d", "key": "k"}}},
        "spec.ratesFrom",
        "set exactly one of csv or configMapRef",
        "rates-from-csv-and-config-map",
    ),
    # alerts: hysteresis and sample periods
    (
        "Alert",
        {"resetThreshold": "20"},
        "spec",
        "resetThreshold must not be below threshold for operator <",
        "reset-below-threshold-would-never-re-arm",
    ),
    (
        "Alert",
        {"operator": ">", "resetThreshold": "50"},
        "spec",
        "resetThreshold must not be above threshold for operator >",
        "reset-above-threshold-for-greater-than",
    ),
    ("Alert", {"area": "Balance"}, "spec", "samplePeriod applies to", "sample-period-only-for-stats"),
    ("Alert", {"samplePeriod": "15 minutes"}, "spec.samplePeriod", "is not a duration", "duration-in-words"),
    ("Alert", {"repeat": "0s"}, "spec.repeat", "duration must be positive", "duration-zero"),
    # packages
    (
        "Package",
        {"startDate": "2025-06-01", "endDate": "2025-05-31"},
        "spec",
        "endDate is before startDate",
        "package-ends-before-it-starts",
    ),
    ("Package", {"startDate": "2025-13-01"}, "spec.startDate", "is not a date (YYYY-MM-DD)", "package-bad-month"),
    # routes: recording samples
    (
        "IngressRoute",
        {"samplingPercent": DROP},
        "spec",
        "samplingPercent is required with recording: Sampling",
        "sampling-without-percent",
    ),
    ("IngressRoute", {"recording": "Enabled"}, "spec", "and only then", "percent-without-sampling"),
    ("IngressRoute", {"samplingPercent": "150"}, "spec.samplingPercent", "between 0 and 100", "sampling-over-100"),
    # customers: CLI rules and contacts
    (
        "Customer",
        {"cliRules.1.rewriteCli": DROP},
        "spec.cliRules[1]",
        "a forced rule needs rewriteCli",
        "forced-cli-rule-needs-rewrite",
    ),
    (
        "Customer",
        {"contacts.1.email": "NOC@acme.example"},
        "spec",
        "contact email NOC@acme.example appears twice",
        "contact-email-is-the-login-so-unique",
    ),
    (
        "Customer",
        {"contacts.0.autoGeneratePassword": True},
        "spec.contacts[0]",
        "set autoGeneratePassword or passwordRef, not both",
        "contact-password-from-two-sources",
    ),
    (
        "Customer",
        {"contacts.1.password": "hunter2"},
        "spec.contacts[1].password",
        "clear-text password",
        "contact-clear-text-password",
    ),
    (
        "CredentialAuthentication",
        {"password": "hunter2"},
        "spec.password",
        "clear-text password is not accepted",
        "sip-user-clear-text-password",
    ),
    # rates
    (
        "RateCard",
        {"rates.0.effectiveFrom": "yesterday"},
        "spec.rates[0].effectiveFrom",
        "is not an RFC 3339 date-time or date",
        "effective-from-in-words",
    ),
    (
        "RateCard",
        {"rates.0.effectiveFrom": "0001-01-01T00:00:00+01:00"},
        "spec.rates[0].effectiveFrom",
        "out of range in UTC",
        "effective-from-before-year-one-in-utc",
    ),
    # envelope
    ("Customer", {"displayName": DROP}, "spec.displayName", "required field is missing", "display-name-required"),
    ("Customer", {"displayName": ""}, "spec.displayName", "at least 1 character", "display-name-not-empty"),
    ("Customer", {"address.zip": "78701"}, "spec.address.zip", "unknown field 'zip'", "unknown-nested-field"),
]


@pytest.mark.parametrize(("kind", "changes", "field", "fragment"), [pytest.param(*c[:4], id=c[4]) for c in REJECTED])
def test_rejected(load_one, kind, changes, field, fragment):
    obj, problems = load_one(kind, changes)
    assert obj is None
    assert [(p.field, p.kind, p.name) for p in problems] == [(field, kind, "x")], [p.render() for p in problems]
    assert fragment in problems[0].message
    assert problems[0].line is not None and problems[0].line >= 1


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        pytest.param("Acme", "should match pattern", id="upper-case"),
        pytest.param("acme_voip", "should match pattern", id="underscore"),
        pytest.param("-acme", "should match pattern", id="leading-dash"),
        pytest.param("a" * 64, "at most 63 characters", id="longer-than-a-dns-label"),
    ],
)
def test_metadata_name_is_a_dns_label(load_one, name, fragment):
    obj, problems = load_one("Customer", name=name)
    assert obj is None
    assert [p.field for p in problems] == ["metadata.name"]
    assert fragment in problems[0].message


@pytest.mark.parametrize(
    ("model", "kind"),
    [
        pytest.param(Customer, "RateCard", id="customer-model-refuses-another-kind"),
        pytest.param(RateCard, "Customer", id="rate-card-model-refuses-another-kind"),
    ],
)
def test_model_checks_its_kind(model, kind, manifest, spec_of):
    from pydantic import ValidationError

    document = manifest(kind, spec_of(model.__name__))
    with pytest.raises(ValidationError):
        model.model_validate(document)


def test_models_are_frozen(load_one):
    from pydantic import ValidationError

    obj, _ = load_one("Customer")
    with pytest.raises(ValidationError):
        obj.spec.channels = 5


@pytest.mark.parametrize(
    ("model", "plural", "references"),
    [
        pytest.param(Customer, "customers", set(), id="customer-refers-to-nothing"),
        pytest.param(RateCard, "ratecards", set(), id="rate-card-refers-to-nothing"),
        pytest.param(IngressRoute, "ingressroutes", {("customerRef",), ("rateCardRef",)}, id="route"),
        pytest.param(IpAuthentication, "ipauthentications", {("customerRef",)}, id="ip-authentication"),
        pytest.param(CredentialAuthentication, "credentialauthentications", {("customerRef",)}, id="sip-user"),
        pytest.param(Did, "dids", {("customerRef",), ("customerCardRef",), ("provider", "cardRef")}, id="did"),
        pytest.param(Package, "packages", {("customerRef",)}, id="package"),
        pytest.param(Alert, "alerts", {("customerRef",)}, id="alert"),
    ],
)
def test_kind_metadata(model, plural, references):
    assert model.plural == plural
    assert {ref.path for ref in model.references} == references
