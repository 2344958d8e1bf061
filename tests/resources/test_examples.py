"""The shipped examples: examples/ is a valid carrier; examples/invalid/ reports exactly the
mistakes planted in it, as listed in examples/invalid/README.md."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import resources
from resources import ObjectKey
from resources.meta import Resource

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INVALID = EXAMPLES / "invalid"

EXPECTED_COUNTS = {
    "Customer": 3,
    "RateCard": 4,
    "IngressRoute": 4,
    "IpAuthentication": 8,
    "CredentialAuthentication": 3,
    "Did": 4,
    "Package": 4,
    "Alert": 4,
}

# (file relative to examples/invalid, line, message fragment): one row per planted mistake,
# the same rows as the table in examples/invalid/README.md.
PLANTED = [
    ("01-bad-indentation.yaml", 9, "invalid YAML: while parsing a block mapping did not find expected key"),
    ("02-unknown-api-version.yaml", 3, "apiVersion 'trunkline.dev/v1' is not served for Customer"),
    ("03-unknown-kind.yaml", 4, "unknown kind 'Carrier'"),
    ("04-unknown-field.yaml", 10, "unknown field 'debitLimt'; did you mean 'debitLimit'?"),
    ("05-wrong-type.yaml", 11, "Input should be a valid integer, got 'ten'"),
    ("06-bad-enum.yaml", 10, "Input should be 'Active', 'Inactive' or 'PendingApproval', got 'Enabled'"),
    ("07-bad-ip.yaml", 8, "'10.0.0.300' is not a valid IP address"),
    ("08-duplicate-name.yaml", 6, "duplicate object: Customer/default/north-star is declared twice"),
    ("09-dangling-reference.yaml", 8, "Customer 'ghost-telecom' is not declared in namespace default"),
    (
        "10-duplicate-address.yaml",
        19,
        "address 192.0.2.10, port 5060, techPrefix '' is already claimed by IpAuthentication/default/north-star-sbc",
    ),
    ("11-duplicate-did.yaml", 27, "number 12125550199 already belongs to Did/default/north-star-main"),
    ("12-clear-text-password.yaml", 11, "clear-text password is not accepted; use passwordRef"),
    ("12-clear-text-password.yaml", 8, "required field is missing"),
    ("13-currency-mismatch.yaml", 9, "rate card 'usd-basic' bills in USD but customer 'harbor-tel' pays in EUR"),
    ("decks/bad-rows.csv", 4, "expected a decimal number such as 0.0125, got '0.0O70'"),
    ("decks/bad-rows.csv", 7, "expected a whole number, got '6s'"),
    ("15-duplicate-prefix.yaml", 13, "prefix 44 repeats rate #1"),
]


@pytest.fixture(scope="module")
def carrier() -> resources.DesiredState:
    return resources.load([EXAMPLES])


@pytest.fixture(scope="module")
def planted() -> list[resources.Problem]:
    with pytest.raises(resources.ValidationError) as caught:
        resources.load([INVALID])
    return caught.value.problems


def _customers(state: resources.DesiredState) -> dict[str, Resource]:
    return {obj.metadata.name: obj for obj in state.of_kind("Customer")}


def test_examples_validate_clean_with_expected_counts(carrier):
    assert Counter(key.kind for key in carrier.objects) == EXPECTED_COUNTS


def test_examples_skip_what_trunklineignore_lists():
    lines = (EXAMPLES / ".trunklineignore").read_text().splitlines()
    assert {"invalid/", "ci/", "pulumi/", "kamailio/"} <= set(lines)


def test_customers_cover_every_state_and_currency(carrier):
    customers = _customers(carrier)
    assert {c.spec.status for c in customers.values()} == {"Active", "Inactive", "PendingApproval"}
    assert {c.spec.currency for c in customers.values()} == {"USD", "EUR", "GBP"}
    for customer in customers.values():
        assert customer.spec.contacts and customer.spec.address is not None
        assert customer.spec.channels > 0 and customer.spec.flow_speed > 0


def test_cli_rules_show_a_forced_rewrite_and_a_tech_prefix_rule(carrier):
    rules = [rule for c in carrier.of_kind("Customer") for rule in c.spec.cli_rules]
    assert any(rule.forced and rule.rewrite_cli for rule in rules)
    assert any(rule.dialed_number_match == "^99" for rule in rules)


def test_every_customer_has_a_card_in_its_currency(carrier):
    for route in carrier.of_kind("IngressRoute"):
        customer = carrier.get(ObjectKey("Customer", "default", route.spec.customer_ref))
        card = carrier.get(ObjectKey("RateCard", "default", route.spec.rate_card_ref))
        assert customer.spec.currency == card.spec.currency
    routed = {route.spec.customer_ref for route in carrier.of_kind("IngressRoute")}
    assert routed == set(_customers(carrier))


def test_rate_cards(carrier):
    cards = {card.metadata.name: card for card in carrier.of_kind("RateCard")}
    deck = cards["usd-wholesale"]
    assert deck.spec.rates_from is not None and deck.spec.rates_from.csv == "decks/usd-wholesale.csv"
    assert len(deck.spec.rates) >= 200
    increments = {(r.initial_increment, r.subsequent_increment) for r in deck.spec.rates}
    assert {(6, 6), (1, 1), (30, 6), (None, None)} <= increments  # None: the card default, 60/60
    inline = [c for c in cards.values() if c.spec.rates_from is None]
    assert any(any(r.effective_from for r in c.spec.rates) and any(r.blocked for r in c.spec.rates) for c in inline)


def test_routes_auth_and_numbers(carrier):
    routes = carrier.of_kind("IngressRoute")
    assert any(r.spec.recording == "Sampling" and r.spec.sampling_percent for r in routes)
    assert any(r.spec.tech_prefix for r in routes) and all(r.spec.max_duration for r in routes)
    ingress = [a for a in carrier.of_kind("IpAuthentication") if a.spec.direction == "Ingress"]
    loopback = {a.spec.customer_ref for a in ingress if a.spec.address.startswith("127.0.0.")}
    assert len(loopback) >= 2
    egress = [a for a in carrier.of_kind("IpAuthentication") if a.spec.direction == "Egress"]
    assert egress and all(a.spec.credentials and a.spec.credentials.password_ref.env for a in egress)
    destinations = [d.spec.destination for d in carrier.of_kind("Did")]
    assert all(any(getattr(d, f) for d in destinations) for f in ("uri", "external", "user"))


def test_packages_and_alerts(carrier):
    packages = carrier.of_kind("Package")
    assert any(p.spec.frequency == "Monthly" and p.spec.allowance for p in packages)
    assert any(p.spec.frequency == "OneOff" for p in packages)
    assert any(p.spec.auto_decrement_credit for p in packages)
    alerts = {(a.spec.area, a.spec.operator, str(a.spec.threshold)): a for a in carrier.of_kind("Alert")}
    assert any(r.email for r in alerts[("Balance", "<", "50")].spec.recipients)
    asr = alerts[("ASR", "<", "30")]
    assert asr.spec.sample_period == "15m" and asr.spec.reset_threshold is not None and asr.spec.penalty
    assert any(r.webhook for a in alerts.values() for r in a.spec.recipients)


def _env_refs(value) -> set[str]:
    """Every ``env`` of a SecretRef anywhere in a model."""
    from pydantic import BaseModel

    from resources.secrets import SecretRef

    if isinstance(value, SecretRef):
        return {value.env} if value.env else set()
    if isinstance(value, BaseModel):
        return set().union(*(_env_refs(getattr(value, name)) for name in type(value).model_fields))
    if isinstance(value, list | tuple):
        return set().union(*(_env_refs(item) for item in value))
    return set()


def test_secrets_come_from_documented_environment_variables(carrier):
    names = set().union(*(_env_refs(obj.spec) for obj in carrier))
    assert len(names) >= 5
    readme = (EXAMPLES / "README.md").read_text()
    for name in names:
        assert name.startswith("TRUNKLINE_EXAMPLE_"), name
        assert f"`{name}`" in readme, f"{name} is not documented in examples/README.md"


def test_cli_validates_examples(run_cli):
    result = run_cli("validate", str(EXAMPLES))
    assert result.code == 0, result.stderr
    assert "34 objects" in result.stdout


# ---------------------------------------------------------------- examples/invalid


def _located(problem: resources.Problem) -> tuple[str, int | None]:
    return Path(problem.file).relative_to(INVALID).as_posix(), problem.line


@pytest.mark.parametrize(("file", "line", "fragment"), [pytest.param(*row, id=f"{row[0]}:{row[1]}") for row in PLANTED])
def test_planted_problem_is_reported(planted, file, line, fragment):
    found = [p for p in planted if _located(p) == (file, line)]
    assert any(fragment in p.message for p in found), [p.render() for p in found]


def test_no_unexpected_problem(planted):
    expected = {(file, line) for file, line, _ in PLANTED}
    unexpected = [p.render() for p in planted if _located(p) not in expected]
    assert unexpected == []
    assert len(planted) == len(PLANTED)


def test_every_problem_has_a_position_and_yaml_ones_a_column(planted):
    for problem in planted:
        assert problem.line is not None and problem.line >= 1
        if problem.file.endswith(".yaml"):
            assert problem.column is not None and problem.column >= 1


def test_readme_lists_every_planted_problem():
    readme = (INVALID / "README.md").read_text()
    listed = re.findall(r"^\| `([^`:]+):(\d+)`", readme, flags=re.MULTILINE)
    assert sorted((file, int(line)) for file, line in listed) == sorted((file, line) for file, line, _ in PLANTED)


@pytest.mark.parametrize("path", sorted(p.name for p in INVALID.glob("*.yaml")))
def test_each_invalid_file_says_what_is_wrong(path):
    first = (INVALID / path).read_text().splitlines()[0]
    assert first.startswith("# ") and ("Planted error" in first or "Valid" in first)


def test_cli_reports_every_planted_problem(run_cli):
    result = run_cli("validate", str(INVALID))
    assert result.code == 2
    for file, line, _ in PLANTED:
        assert f"{INVALID / file}:{line}" in result.stderr
    assert f"{len(PLANTED)} problems" in result.stderr
