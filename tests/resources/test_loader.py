"""Loading manifests: every kind of mistake reported once, positioned, all at once; files,
directories, stdin, rate decks; and ``trunkline validate`` on top of it."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import resources
from resources import ObjectKey
from resources.errors import Problem

CUSTOMER = """\
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata:
  name: {name}
spec:
  displayName: {name}
  currency: {currency}
"""


def _where(problem: Problem, root: Path) -> tuple:
    file = problem.file
    if file is not None and Path(file).is_absolute():
        file = Path(file).relative_to(root).as_posix()
    return (file, problem.line, problem.column, problem.kind, problem.namespace, problem.name, problem.field)


# Each case: extra files beside world.yaml (Customers acme/USD and euro-corp/EUR, RateCards usd
# and eur), then the one expected problem: (file, line, column, kind, namespace, name, field)
# and a fragment of its message.
ONE_PROBLEM = [
    pytest.param(
        {
            "bad.yaml": """\
            apiVersion: trunkline.dev/v1alpha1
            kind: Customer
            metadata:
              name: indent
            spec:
                displayName: Indent
              currency: USD
            """
        },
        ("bad.yaml", 7, 3, None, None, None, None),
        "invalid YAML: while parsing a block mapping",
        id="invalid-yaml-bad-indentation",
    ),
    pytest.param(
        {"bad.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: Customer\nmetadata: {name: x\nspec: {}\n"},
        ("bad.yaml", 4, 5, None, None, None, None),
        "invalid YAML",
        id="invalid-yaml-unclosed-flow-mapping",
    ),
    pytest.param(
        {"bad.yaml": "apiVersion: trunkline.dev/v1alpha1\n\tkind: Customer\n"},
        ("bad.yaml", 2, 1, None, None, None, None),
        "invalid YAML",
        id="invalid-yaml-tab-indentation",
    ),
    pytest.param(
        {
            "bad.yaml": "apiVersion: trunkline.dev/v1\nkind: Customer\nmetadata: {name: x}\n"
            "spec: {displayName: X, currency: USD}\n"
        },
        ("bad.yaml", 1, 1, "Customer", "default", "x", "apiVersion"),
        "apiVersion 'trunkline.dev/v1' is not served for Customer; use one of trunkline.dev/v1alpha1",
        id="unknown-api-version",
    ),
    pytest.param(
        {"bad.yaml": "apiVersion: example.com/v1alpha1\nkind: Customer\nmetadata: {name: x}\nspec: {}\n"},
        ("bad.yaml", 1, 1, "Customer", "default", "x", "apiVersion"),
        "is not served for Customer",
        id="api-version-of-another-group",
    ),
    pytest.param(
        {"bad.yaml": "kind: Customer\nmetadata: {name: x}\nspec: {displayName: X, currency: USD}\n"},
        ("bad.yaml", 1, 1, "Customer", "default", "x", "apiVersion"),
        "required field is missing",
        id="missing-api-version",
    ),
    pytest.param(
        {"bad.yaml": "apiVersion: trunkline.dev/v1alpha1\nmetadata: {name: x}\n"},
        ("bad.yaml", 1, 1, None, "default", "x", "kind"),
        "required field is missing",
        id="missing-kind",
    ),
    pytest.param(
        {
            "bad.yaml": "# upstream carriers are not declared here\napiVersion: trunkline.dev/v1alpha1\n"
            "kind: Carrier\nmetadata: {name: upstream, namespace: lab}\n"
        },
        ("bad.yaml", 3, 1, "Carrier", "lab", "upstream", None),
        "unknown kind 'Carrier'; Trunkline kinds are Customer",
        id="unknown-kind",
    ),
    pytest.param(
        {"bad.yaml": "- apiVersion: trunkline.dev/v1alpha1\n  kind: Customer\n"},
        ("bad.yaml", 1, 1, None, None, None, None),
        "expected a mapping with apiVersion and kind, got list",
        id="document-is-a-list",
    ),
    pytest.param(
        {"bad.yaml": CUSTOMER.format(name="typo", currency="USD") + "  debitLimt: '100'\n"},
        ("bad.yaml", 8, 3, "Customer", "default", "typo", "spec.debitLimt"),
        "unknown field 'debitLimt'; did you mean 'debitLimit'?",
        id="unknown-field-typo-with-hint",
    ),
    pytest.param(
        {
            "bad.yaml": CUSTOMER.format(name="typo", currency="USD")
            + "  contacts:\n    - name: NOC\n      email: noc@acme.example\n      portalLogn: true\n"
        },
        ("bad.yaml", 11, 7, "Customer", "default", "typo", "spec.contacts[0].portalLogn"),
        "unknown field 'portalLogn'; did you mean 'portalLogin'?",
        id="unknown-nested-field-in-list-item",
    ),
    pytest.param(
        {"bad.yaml": CUSTOMER.format(name="typo", currency="USD") + "  colour: blue\n"},
        ("bad.yaml", 8, 3, "Customer", "default", "typo", "spec.colour"),
        "unknown field 'colour'",
        id="unknown-field-without-close-match",
    ),
    pytest.param(
        {
            "bad.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: IpAuthentication\nmetadata:\n  name: gw\n"
            'spec:\n  customerRef: acme\n  address: 192.0.2.1\n  channels: "ten"\n'
        },
        ("bad.yaml", 8, 3, "IpAuthentication", "default", "gw", "spec.channels"),
        "Input should be a valid integer, got 'ten'",
        id="wrong-type",
    ),
    pytest.param(
        {"bad.yaml": CUSTOMER.format(name="enum", currency="USD") + "  status: Enabled\n"},
        ("bad.yaml", 8, 3, "Customer", "default", "enum", "spec.status"),
        "Input should be 'Active', 'Inactive' or 'PendingApproval', got 'Enabled'",
        id="bad-enum",
    ),
    pytest.param(
        {
            "bad.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: IpAuthentication\nmetadata:\n  name: gw\n"
            "spec:\n  customerRef: acme\n  address: 10.0.0.300\n"
        },
        ("bad.yaml", 7, 3, "IpAuthentication", "default", "gw", "spec.address"),
        "'10.0.0.300' is not a valid IP address",
        id="bad-ip",
    ),
    pytest.param(
        {
            "bad.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: Customer\nmetadata:\n  name: Acme_VoIP\n"
            "spec: {displayName: A, currency: USD}\n"
        },
        ("bad.yaml", 4, 3, "Customer", "default", "Acme_VoIP", "metadata.name"),
        "should match pattern",
        id="name-not-a-dns-label",
    ),
    pytest.param(
        {
            "bad.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: Customer\nmetadata:\n  name: nameless\n"
            "spec:\n  currency: USD\n"
        },
        ("bad.yaml", 5, 1, "Customer", "default", "nameless", "spec.displayName"),
        "required field is missing",
        id="missing-required-field-points-at-its-parent",
    ),
    pytest.param(
        {"x-again.yaml": CUSTOMER.format(name="acme", currency="USD")},
        ("x-again.yaml", 4, 3, "Customer", "default", "acme", "metadata.name"),
        "duplicate object: Customer/default/acme is declared twice (first at ",
        id="duplicate-name-across-files",
    ),
    pytest.param(
        {
            "route.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: r\n"
            "spec:\n  customerRef: ghost\n  rateCardRef: usd\n"
        },
        ("route.yaml", 6, 3, "IngressRoute", "default", "r", "spec.customerRef"),
        "Customer 'ghost' is not declared in namespace default",
        id="dangling-customer-ref",
    ),
    pytest.param(
        {
            "route.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: r\n"
            "  namespace: tenant-b\nspec:\n  customerRef: acme\n  rateCardRef: usd\n"
            "---\n"
            + CUSTOMER.format(name="acme", currency="USD").replace(
                "  name: acme\n", "  name: acme\n  namespace: tenant-b\n"
            )
        },
        ("route.yaml", 8, 3, "IngressRoute", "tenant-b", "r", "spec.rateCardRef"),
        "RateCard 'usd' is not declared in namespace tenant-b",
        id="references-do-not-cross-namespaces",
    ),
    pytest.param(
        {
            "did.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: Did\nmetadata:\n  name: d\nspec:\n"
            "  number: '+12125550100'\n  destination: {user: u}\n  provider:\n    name: P\n"
            "    cardRef: linebridge\n  customerRef: acme\n  cost: '1'\n  retail: '2'\n"
        },
        ("did.yaml", 10, 5, "Did", "default", "d", "spec.provider.cardRef"),
        "RateCard 'linebridge' is not declared",
        id="dangling-nested-card-ref",
    ),
    pytest.param(
        {
            "ip.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: IpAuthentication\nmetadata:\n  name: a\nspec:\n"
            "  customerRef: acme\n  address: 192.0.2.10\n---\n"
            "apiVersion: trunkline.dev/v1alpha1\nkind: IpAuthentication\nmetadata:\n  name: b\nspec:\n"
            "  customerRef: euro-corp\n  address: 192.0.2.10\n  port: 5060\n"
        },
        ("ip.yaml", 15, 3, "IpAuthentication", "default", "b", "spec.address"),
        "address 192.0.2.10, port 5060, techPrefix '' is already claimed by IpAuthentication/default/a",
        id="duplicate-address-port-tech-prefix",
    ),
    pytest.param(
        {
            "ip.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: IpAuthentication\nmetadata:\n  name: a\nspec:\n"
            "  customerRef: acme\n  address: 192.0.2.10\n  techPrefix: '77'\n---\n"
            "apiVersion: trunkline.dev/v1alpha1\nkind: IpAuthentication\nmetadata:\n  name: b\n"
            "  namespace: other\nspec:\n  customerRef: acme\n  address: 192.0.2.10\n  techPrefix: '77'\n"
            "---\n"
            + CUSTOMER.format(name="acme", currency="USD").replace(
                "  name: acme\n", "  name: acme\n  namespace: other\n"
            )
        },
        ("ip.yaml", 17, 3, "IpAuthentication", "other", "b", "spec.address"),
        "techPrefix '77' is already claimed by IpAuthentication/default/a",
        id="duplicate-address-across-namespaces",
    ),
    pytest.param(
        {
            "did.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: Did\nmetadata:\n  name: a\nspec:\n"
            "  number: '+12125550100'\n  destination: {user: u}\n  provider: {name: P}\n"
            "  customerRef: acme\n  cost: '1'\n  retail: '2'\n---\n"
            "apiVersion: trunkline.dev/v1alpha1\nkind: Did\nmetadata:\n  name: b\nspec:\n"
            "  number: 12125550100\n  destination: {user: u}\n  provider: {name: P}\n"
            "  customerRef: euro-corp\n  cost: '1'\n  retail: '2'\n"
        },
        ("did.yaml", 18, 3, "Did", "default", "b", "spec.number"),
        "number 12125550100 already belongs to Did/default/a",
        id="duplicate-did-number-with-and-without-plus",
    ),
    pytest.param(
        {
            "sip.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: CredentialAuthentication\nmetadata:\n  name: a\n"
            "spec:\n  customerRef: acme\n  username: Office\n  passwordRef: {env: A}\n---\n"
            "apiVersion: trunkline.dev/v1alpha1\nkind: CredentialAuthentication\nmetadata:\n  name: b\n"
            "spec:\n  customerRef: euro-corp\n  username: office\n  realm: TRUNKLINE.local\n"
            "  passwordRef: {env: B}\n"
        },
        ("sip.yaml", 16, 3, "CredentialAuthentication", "default", "b", "spec.username"),
        "username office@trunkline.local is already used by CredentialAuthentication/default/a",
        id="duplicate-sip-user-ignores-case",
    ),
    pytest.param(
        {
            "alerts.yaml": "".join(
                "---\napiVersion: trunkline.dev/v1alpha1\nkind: Alert\nmetadata:\n  name: " + n + "\nspec:\n"
                "  customerRef: acme\n  name: Low balance\n  recipients: [{email: a@acme.example}]\n"
                "  area: Balance\n  operator: '<'\n  threshold: '50'\n"
                for n in ("a", "b")
            )
        },
        ("alerts.yaml", 20, 3, "Alert", "default", "b", "spec.name"),
        "customer acme already has an alert named 'Low balance'",
        id="duplicate-alert-name-per-customer",
    ),
    pytest.param(
        {
            "sip.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: CredentialAuthentication\nmetadata:\n  name: a\n"
            "spec:\n  customerRef: acme\n  username: a1\n  passwordRef: {env: A1}\n"
            "  password: hunter2\n"
        },
        ("sip.yaml", 9, 3, "CredentialAuthentication", "default", "a", "spec.password"),
        "clear-text password is not accepted; use passwordRef",
        id="clear-text-password",
    ),
    pytest.param(
        {
            "egress.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: IpAuthentication\nmetadata:\n  name: e\n"
            "spec:\n  customerRef: acme\n  direction: Egress\n  address: pbx.acme.example\n"
            "  credentials:\n    username: trunk\n    passwordRef: {env: T}\n    password: hunter2\n"
        },
        ("egress.yaml", 12, 5, "IpAuthentication", "default", "e", "spec.credentials.password"),
        "clear-text password is not accepted",
        id="clear-text-password-in-egress-credentials",
    ),
    pytest.param(
        {
            "route.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: r\n"
            "spec:\n  customerRef: euro-corp\n  rateCardRef: usd\n"
        },
        ("route.yaml", 7, 3, "IngressRoute", "default", "r", "spec.rateCardRef"),
        "rate card 'usd' bills in USD but customer 'euro-corp' pays in EUR",
        id="currency-mismatch-on-route",
    ),
    pytest.param(
        {
            "did.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: Did\nmetadata:\n  name: d\nspec:\n"
            "  number: '+493023125000'\n  destination: {user: u}\n  provider: {name: P, cardRef: usd}\n"
            "  customerRef: euro-corp\n  customerCardRef: usd\n  cost: '1'\n  retail: '2'\n"
        },
        ("did.yaml", 10, 3, "Did", "default", "d", "spec.customerCardRef"),
        "rate card 'usd' bills in USD but customer 'euro-corp' pays in EUR",
        id="currency-mismatch-on-did-customer-card-provider-card-may-differ",
    ),
    pytest.param(
        {
            "card.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata:\n  name: c\nspec:\n"
            "  currency: USD\n  rates:\n    - {prefix: '44', perMinute: '0.01'}\n"
            "    - {prefix: '447', perMinute: '0.02'}\n    - {prefix: 44, perMinute: '0.03'}\n"
        },
        ("card.yaml", 10, 8, "RateCard", "default", "c", "spec.rates[2].prefix"),
        "prefix 44 repeats rate #1",
        id="duplicate-rate-prefix-inline",
    ),
    pytest.param(
        {
            "card.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata:\n  name: c\nspec:\n"
            "  currency: USD\n  ratesFrom: {csv: decks/c.csv}\n",
            "decks/c.csv": "prefix,name,perMinute,initialIncrement\n1,US,0.0045,6\n44,UK,0.0O85,1\n",
        },
        ("decks/c.csv", 3, None, "RateCard", "default", "c", "perMinute"),
        "expected a decimal number such as 0.0125, got '0.0O85'",
        id="bad-csv-row-value",
    ),
    pytest.param(
        {
            "card.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata:\n  name: c\nspec:\n"
            "  currency: USD\n  ratesFrom: {csv: decks/c.csv}\n",
            "decks/c.csv": "prefix,name,perMinute,initialIncrement\n1,US,0.0045,6\n\n44,UK,0.0085,1s\n",
        },
        ("decks/c.csv", 4, None, "RateCard", "default", "c", "initialIncrement"),
        "expected a whole number, got '1s'",
        id="bad-csv-row-line-counts-blank-lines",
    ),
    pytest.param(
        {
            "card.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata:\n  name: c\nspec:\n"
            "  currency: USD\n  ratesFrom: {csv: decks/c.csv}\n",
            "decks/c.csv": "prefix,name,perMinute\n1,US,0.0045\n44,United Kingdom, London,0.0085\n",
        },
        ("decks/c.csv", 3, None, "RateCard", "default", "c", None),
        "expected 3 values, found 4",
        id="bad-csv-row-unquoted-comma",
    ),
    pytest.param(
        {
            "card.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata:\n  name: c\nspec:\n"
            "  currency: USD\n  ratesFrom: {csv: decks/c.csv}\n",
            "decks/c.csv": "prefix,name,price\n1,US,0.0045\n",
        },
        ("decks/c.csv", 1, None, "RateCard", "default", "c", None),
        "unknown column(s) price; missing column(s) perMinute",
        id="csv-header-with-unknown-column",
    ),
    pytest.param(
        {
            "card.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata:\n  name: c\nspec:\n"
            "  currency: USD\n  ratesFrom: {csv: decks/c.csv}\n",
            "decks/c.csv": "prefix,name,perMinute\n1,US,0.0045\n44,UK,0.0085\n1,US again,0.0040\n",
        },
        ("decks/c.csv", 4, None, "RateCard", "default", "c", "prefix"),
        "prefix 1 repeats line 2",
        id="duplicate-prefix-in-csv-points-at-its-line",
    ),
    pytest.param(
        {
            "card.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata:\n  name: c\nspec:\n"
            "  currency: USD\n  ratesFrom:\n    csv: decks/missing.csv\n"
        },
        ("card.yaml", 8, 5, "RateCard", "default", "c", "spec.ratesFrom.csv"),
        "cannot read rate deck: No such file or directory",
        id="missing-csv-points-at-the-reference",
    ),
    pytest.param(
        {
            "card.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata:\n  name: c\nspec:\n"
            "  currency: USD\n  ratesFrom:\n    csv: decks/c.csv\n",
            "decks/c.csv": b"\xff\xfeprefix,perMinute\n",
        },
        ("card.yaml", 8, 5, "RateCard", "default", "c", "spec.ratesFrom.csv"),
        "cannot read rate deck: not UTF-8 text",
        id="binary-csv-points-at-the-reference",
    ),
    pytest.param(
        {
            "card.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata:\n  name: c\nspec:\n"
            "  currency: USD\n  ratesFrom:\n    configMapRef: {name: deck, key: rates.csv}\n"
        },
        ("card.yaml", 8, 5, "RateCard", "default", "c", "spec.ratesFrom.configMapRef"),
        "ConfigMap 'deck' with key 'rates.csv' is not declared in namespace default",
        id="config-map-not-declared",
    ),
]


@pytest.mark.parametrize(("files", "where", "fragment"), ONE_PROBLEM)
def test_one_problem(write, world, problems_of, files, where, fragment):
    root = write({"world.yaml": world, **files})
    problems = problems_of([root])
    assert [_where(p, root) for p in problems] == [where], [p.render() for p in problems]
    assert fragment in problems[0].message


def test_every_problem_across_files_at_once(write, world, problems_of):
    root = write(
        {
            "world.yaml": world,
            "a/customers.yaml": CUSTOMER.format(name="typo", currency="USD") + "  debitLimt: '1'\n"
            "---\n" + CUSTOMER.format(name="ok", currency="EUR"),
            "b/routes.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: r\nspec:\n"
            "  customerRef: ok\n  rateCardRef: usd\n  recording: On\n",
            "b/more.yml": "apiVersion: trunkline.dev/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: s\nspec:\n"
            "  customerRef: ok\n  rateCardRef: usd\n",
            "c/broken.yaml": "kind: [\n",
        }
    )
    problems = problems_of([root])
    assert [(*_where(p, root)[:3], p.field) for p in problems] == [
        ("a/customers.yaml", 8, 3, "spec.debitLimt"),
        ("b/more.yml", 7, 3, "spec.rateCardRef"),  # currency mismatch: ok pays in EUR
        ("b/routes.yaml", 8, 3, "spec.recording"),
        ("c/broken.yaml", 2, 1, None),
    ]


def test_problems_are_sorted_and_rendered(write, world, problems_of):
    root = write(
        {
            "world.yaml": world,
            "z.yaml": CUSTOMER.format(name="z", currency="XXX"),
            "a.yaml": CUSTOMER.format(name="a", currency="ABC"),
        }
    )
    problems = problems_of([root])
    assert [p.render() for p in problems] == [
        f"{root}/a.yaml:7:3: Customer/default/a: spec.currency: 'ABC' is not an ISO 4217 currency code",
        f"{root}/z.yaml:7:3: Customer/default/z: spec.currency: 'XXX' is not an ISO 4217 currency code",
    ]
    error = resources.ValidationError(problems)
    assert error.message.startswith("2 problems found\n") and error.exit_code == 2


# ---------------------------------------------------------------- files and directories


def test_directories_are_walked_recursively(write, world):
    root = write(
        {
            "world.yaml": world,
            "customers/b.yml": CUSTOMER.format(name="b", currency="USD"),
            "customers/deep/er/c.yaml": CUSTOMER.format(name="c", currency="USD"),
            "customers/notes.txt": "not a manifest: {{{",
            "customers/c.json": "{}",
            "customers/README.md": "# not YAML",
        }
    )
    state = resources.load([root])
    assert {k.name for k in state.objects if k.kind == "Customer"} == {"acme", "euro-corp", "b", "c"}
    assert state.sources[ObjectKey("Customer", "default", "c")].file == str(root / "customers/deep/er/c.yaml")


def test_hidden_files_and_ignored_globs_are_skipped(write, world):
    broken = "kind: [\n"
    root = write(
        {
            "world.yaml": world,
            ".hidden.yaml": broken,
            ".git/config.yaml": broken,
            ".trunklineignore": "# drafts and generated output\nvendor/\n*.draft.yaml\n\n",
            "vendor/x.yaml": broken,
            "a.draft.yaml": broken,
            "team/.trunklineignore": "old\n",
            "team/old/x.yaml": broken,
            "team/new.yaml": CUSTOMER.format(name="new", currency="USD"),
            "team/b.draft.yaml": broken,  # like .gitignore, a glob without a slash matches at any depth
            "team/oldest/x.yaml": CUSTOMER.format(name="oldest", currency="USD"),
        }
    )
    state = resources.load([root])
    assert {k.name for k in state.objects if k.kind == "Customer"} == {"acme", "euro-corp", "new", "oldest"}


def test_an_explicit_file_is_loaded_whatever_its_name(write, world):
    root = write({"world.txt": world})
    assert len(resources.load([root / "world.txt"])) == 4


def test_non_existent_path(problems_of, tmp_path):
    problems = problems_of([tmp_path / "nope"])
    assert [(p.file, p.line, p.message) for p in problems] == [
        (str(tmp_path / "nope"), None, "no such file or directory")
    ]


def test_binary_garbage_file(write, problems_of):
    root = write({"garbage.yaml": bytes(range(256)) * 4})
    [problem] = problems_of([root])
    assert problem.file == str(root / "garbage.yaml")
    assert problem.message.startswith("cannot read manifest")


def test_multi_document_with_empty_documents(write, world, problems_of):
    text = (
        "---\n---\n# only a comment\n---\n"
        + world
        + "---\n...\n---\n"
        + CUSTOMER.format(name="late", currency="USD")
        + "  channels: -1\n---\n"
    )
    root = write({"all.yaml": text})
    [problem] = problems_of([root])
    line = text.splitlines().index("  channels: -1") + 1
    assert (problem.line, problem.column, problem.name, problem.field) == (line, 3, "late", "spec.channels")


def test_stdin(world, dump, manifest):
    state = resources.load(["-"], stdin=io.StringIO(world))
    assert len(state) == 4
    assert {s.file for s in state.sources.values()} == {"<stdin>"}


def test_stdin_problem_is_reported_as_stdin(world, problems_of):
    text = world + "---\n" + CUSTOMER.format(name="x", currency="usdollar")
    with pytest.raises(resources.ValidationError) as caught:
        resources.load(["-"], stdin=io.StringIO(text))
    [problem] = caught.value.problems
    line = text.splitlines().index("  currency: usdollar") + 1
    assert (problem.file, problem.line, problem.field) == ("<stdin>", line, "spec.currency")


def test_stdin_together_with_files(write, world):
    root = write({"world.yaml": world})
    route = (
        "apiVersion: trunkline.dev/v1alpha1\nkind: IngressRoute\nmetadata: {name: r}\n"
        "spec: {customerRef: acme, rateCardRef: usd}\n"
    )
    state = resources.load([root, "-"], stdin=io.StringIO(route))
    assert state.sources[ObjectKey("IngressRoute", "default", "r")].file == "<stdin>"


def test_load_text_names_its_file(world):
    with pytest.raises(resources.ValidationError) as caught:
        resources.load_text(world + "---\nkind: Customer\n", file="from-operator")
    assert [(p.file, p.line) for p in caught.value.problems] == [("from-operator", 35)]


def test_namespaces_scope_names(world):
    text = (
        world
        + "---\n"
        + CUSTOMER.format(name="acme", currency="GBP").replace(
            "  name: acme\n", "  name: acme\n  namespace: tenant-b\n"
        )
    )
    state = resources.load_text(text)
    assert state.get(ObjectKey("Customer", "tenant-b", "acme")).spec.currency == "GBP"
    assert state.get(ObjectKey("Customer", "default", "acme")).spec.currency == "USD"


def test_positions_of_objects_and_fields(world):
    state = resources.load_text(world)
    key = ObjectKey("RateCard", "default", "eur")
    assert (state.position(key).line, state.position(key, ("spec", "currency")).line) == (26, 31)
    assert state.position(key, ("spec", "rates", 0, "perMinute")).column == 22


# ---------------------------------------------------------------- rate decks


def test_csv_deck_relative_to_its_manifest(write, world, monkeypatch, tmp_path):
    root = write(
        {
            "world.yaml": world,
            "cards/usd-a-z.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata:\n  name: usd-a-z\n"
            "spec:\n  currency: USD\n  defaults: {initialIncrement: 60, subsequentIncrement: 60}\n"
            "  ratesFrom:\n    csv: decks/usd-a-z.csv\n",
            "cards/decks/usd-a-z.csv": "\ufeffprefix,name,perMinute,connectFee,initialIncrement,subsequentIncrement,"
            "effectiveFrom,blocked\n"
            "1,United States,0.0045,,6,6,,\n"
            "44,United Kingdom,0.0085,,1,1,,\n"
            "\n"
            "447,United Kingdom - Mobile,0.0120,0.0010,1,1,,\n"
            "447,United Kingdom - Mobile,0.0105,,1,1,2025-07-01T00:00:00Z,\n"
            "8816,Iridium,6.20,,,,,true\n"
            '"4420","United Kingdom, London",0.0070,,1,1,,no\n',
        }
    )
    monkeypatch.chdir(tmp_path.parent)  # the deck is found from the manifest, not the working directory
    card = resources.load([root]).get(ObjectKey("RateCard", "default", "usd-a-z"))
    rates = card.spec.rates
    assert [r.prefix for r in rates] == ["1", "44", "447", "447", "8816", "4420"]
    assert rates[2].connect_fee is not None and str(rates[2].connect_fee) == "0.0010"
    assert rates[3].effective_from.year == 2025
    assert rates[4].blocked is True and rates[4].initial_increment is None
    assert rates[5].name == "United Kingdom, London" and rates[5].blocked is False


def test_csv_deck_with_relative_paths(write, world, monkeypatch):
    root = write(
        {
            "world.yaml": world,
            "cards/c.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata:\n  name: c\n"
            "spec:\n  currency: USD\n  ratesFrom:\n    csv: c.csv\n",
            "cards/c.csv": "prefix,perMinute\n1,0.01\n1,0.02\n",
        }
    )
    monkeypatch.chdir(root)
    with pytest.raises(resources.ValidationError) as caught:
        resources.load(["cards"])
    assert [p.render() for p in caught.value.problems] == [
        "cards/c.csv:3: RateCard/default/c: prefix: prefix 1 repeats line 2"
    ]


CONFIG_MAP_DECK = """\
apiVersion: trunkline.dev/v1alpha1
kind: RateCard
metadata:
  name: from-cm
  namespace: {namespace}
spec:
  currency: USD
  ratesFrom:
    configMapRef:
      name: usd-deck
      key: rates.csv
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: usd-deck
  namespace: {namespace}
data:
  rates.csv: |
    prefix,name,perMinute
    1,United States,0.0045
    44,United Kingdom,{uk}
"""


def test_config_map_deck(world):
    text = (
        world
        + "---\n"
        + CUSTOMER.format(name="acme", currency="USD").replace("  name: acme\n", "  name: acme\n  namespace: lab\n")
        + "---\n"
        + CONFIG_MAP_DECK.format(namespace="lab", uk="0.0085")
    )
    state = resources.load_text(text)
    card = state.get(ObjectKey("RateCard", "lab", "from-cm"))
    assert [(r.prefix, str(r.per_minute)) for r in card.spec.rates] == [("1", "0.0045"), ("44", "0.0085")]
    assert ("lab", "usd-deck") in state.config_maps
    assert len(state) == 6  # a ConfigMap is an input, not a Trunkline object


def test_config_map_deck_bad_row(world, problems_of):
    [problem] = problems_of(text=world + "---\n" + CONFIG_MAP_DECK.format(namespace="default", uk="cheap"))
    assert (problem.file, problem.line, problem.field, problem.name) == (
        "ConfigMap/default/usd-deck[rates.csv]",
        3,
        "perMinute",
        "from-cm",
    )
    assert "got 'cheap'" in problem.message


def test_config_map_in_another_namespace_does_not_resolve(world, problems_of):
    text = (
        world
        + "---\n"
        + CONFIG_MAP_DECK.format(namespace="default", uk="0.01").replace(
            "  name: usd-deck\n  namespace: default\n", "  name: usd-deck\n  namespace: lab\n"
        )
    )
    [problem] = problems_of(text=text)
    assert problem.field == "spec.ratesFrom.configMapRef"
    assert "is not declared in namespace default" in problem.message


def test_config_map_needs_string_data(world, problems_of):
    text = world + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: {rates: 5}\n"
    [problem] = problems_of(text=text)
    assert (problem.kind, problem.line) == ("ConfigMap", 35)
    assert "needs metadata.name and string data" in problem.message


def test_same_prefix_with_different_effective_dates_is_not_a_duplicate(world):
    text = world.replace(
        '    - {prefix: "49", perMinute: "0.0085"}\n',
        '    - {prefix: "49", perMinute: "0.0085"}\n'
        '    - {prefix: "49", perMinute: "0.0080", effectiveFrom: 2025-07-01}\n',
    )
    card = resources.load_text(text).get(ObjectKey("RateCard", "default", "eur"))
    assert len(card.spec.rates) == 2


# ---------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("[" * 100_000, "nested deeper than 1000 levels", id="deep-flow-nesting-would-crash-libyaml"),
        pytest.param("- " * 50_000, "nested deeper than 1000 levels", id="deep-block-nesting-on-one-line"),
        pytest.param(
            "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 1500)),
            "nested deeper than 1000 levels",
            id="deep-block-nesting-by-indentation",
        ),
        pytest.param("key: \x00\n", "invalid YAML", id="nul-byte"),
        pytest.param("a: 1\na: 2\n", "invalid YAML", id="duplicate-key"),
        pytest.param("a: *nowhere\n", "invalid YAML", id="undefined-alias"),
        pytest.param("a: !!python/object:os.system x\n", "invalid YAML", id="python-tag-is-not-executed"),
        pytest.param("x: 0x" + "f" * 5000 + "\n", "required field is missing", id="huge-hex-integer"),
    ],
)
def test_hostile_text_is_a_validation_error(text, fragment, problems_of):
    problems = problems_of(text=text)
    assert any(fragment in p.message for p in problems), [p.render() for p in problems]


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        pytest.param(
            "a: 1\nb: [1, \x1f]\n",
            2,
            8,
            "unacceptable character U+001F: control characters are not allowed",
            id="control-character",
        ),
        pytest.param(
            "a: 1\nb: 'é😀\x7f'\n", 2, 7, "unacceptable character U+007F", id="column-counts-characters-not-bytes"
        ),
        pytest.param(
            "spec:\n  startDate: 2025-02-30\n",
            2,
            14,
            "cannot read '2025-02-30': day is out of range",
            id="impossible-date",
        ),
        pytest.param(
            "spec:\n  channels: " + "9" * 5000 + "\n",
            2,
            13,
            "Exceeds the limit (4300 digits)",
            id="integer-too-long-to-convert",
        ),
        pytest.param("a: 1\na: 2\n", 2, 1, "found duplicate key", id="duplicate-key"),
    ],
)
def test_yaml_errors_are_positioned(problems_of, text, line, column, fragment):
    [problem] = problems_of(text=text)
    assert (problem.file, problem.line, problem.column) == ("<input>", line, column)
    assert problem.message.startswith("invalid YAML: ") and fragment in problem.message
    assert len(problem.message) < 400


def test_alias_expansion_is_not_exponential(problems_of):
    # Nine levels of ten aliases: 10**9 leaves if anything walked the expanded value.
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    text = (
        "apiVersion: trunkline.dev/v1alpha1\nkind: IngressRoute\nmetadata: {name: r}\n"
        "x:\n"
        + "".join(f"  {line}\n" for line in lines)
        + "spec: {customerRef: acme, rateCardRef: usd, priority: *a9, dialStrings: *a9}\n"
    )
    problems = problems_of(text=text)
    priority = next(p for p in problems if p.field == "spec.priority")
    assert len(priority.message) < 300


@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        pytest.param(
            "techPrefix",
            "Input should be a valid string, got int value too large to show",
            id="shown-without-converting-to-text",
        ),
        pytest.param("overLimitSipCode", "exceeded maximum size", id="literal-of-integers"),
    ],
)
def test_huge_integer_where_a_small_value_belongs(world, problems_of, field, fragment):
    # 0x... is a YAML 1.2 integer of any size; Python refuses to turn one this big into text.
    text = (
        world + "---\napiVersion: trunkline.dev/v1alpha1\nkind: IngressRoute\nmetadata: {name: r}\n"
        f"spec: {{customerRef: acme, rateCardRef: usd, {field}: 0x" + "f" * 5000 + "}\n"
    )
    [problem] = problems_of(text=text)
    assert problem.field == f"spec.{field}" and fragment in problem.message


# ---------------------------------------------------------------- trunkline validate

LINE = re.compile(r"^(?:error )?(?P<where>\S+?):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<rest>.*)$")


def test_cli_valid(run_cli, write, world):
    root = write({"world.yaml": world})
    result = run_cli("validate", str(root))
    assert result.code == 0
    assert "valid" in result.stdout and "4 objects" in result.stdout
    assert result.stderr == ""


def test_cli_valid_json(run_cli, write, world):
    root = write({"world.yaml": world})
    result = run_cli("validate", "--output", "json", str(root))
    assert result.code == 0
    assert json.loads(result.stdout) == {"valid": True, "objects": 4, "kinds": {"Customer": 2, "RateCard": 2}}


def test_cli_human_format(run_cli, write, world):
    root = write(
        {
            "world.yaml": world,
            "bad.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: IpAuthentication\nmetadata:\n  name: gw\n"
            'spec:\n  customerRef: ghost\n  address: 192.0.2.1\n  channels: "ten"\n',
            "route.yaml": "apiVersion: trunkline.dev/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: r\n"
            "spec:\n  customerRef: ghost\n  rateCardRef: usd\n",
        }
    )
    result = run_cli("validate", str(root))
    assert result.code == 2
    lines = [LINE.match(line) for line in result.stderr.splitlines()[:-1]]
    assert [m.group(0).removeprefix("error ") for m in lines] == [
        f"{root}/bad.yaml:8:3: IpAuthentication/default/gw: spec.channels: Input should be a valid integer, got 'ten'",
        f"{root}/route.yaml:6:3: IngressRoute/default/r: spec.customerRef: "
        "Customer 'ghost' is not declared in namespace default",
    ]
    assert result.stderr.splitlines()[-1] == "2 problems found"
    assert result.stdout == ""


def test_cli_human_format_keeps_brackets(run_cli, write, world):
    root = write({"all.yaml": world + "---\n" + CONFIG_MAP_DECK.format(namespace="default", uk="cheap")})
    result = run_cli("validate", str(root))
    assert "ConfigMap/default/usd-deck[rates.csv]:3: RateCard/default/from-cm: perMinute:" in result.stderr


def test_cli_json_problems(run_cli, write, world):
    root = write({"world.yaml": world, "bad.yaml": CUSTOMER.format(name="bad", currency="USD") + "  status: On\n"})
    result = run_cli("validate", "-o", "json", str(root))
    assert result.code == 2
    assert json.loads(result.stdout) == {
        "valid": False,
        "problems": [
            {
                "message": "Input should be 'Active', 'Inactive' or 'PendingApproval', got 'On'",
                "file": f"{root}/bad.yaml",
                "line": 8,
                "column": 3,
                "kind": "Customer",
                "namespace": "default",
                "name": "bad",
                "field": "spec.status",
            }
        ],
    }


def test_cli_stdin(run_cli, world):
    result = run_cli("validate", "-", stdin=world + "---\nkind: Customer\n")
    assert result.code == 2
    assert LINE.match(result.stderr.splitlines()[0]).group("where") == "<stdin>"


def test_cli_non_existent_path(run_cli, tmp_path):
    result = run_cli("validate", str(tmp_path / "nope.yaml"))
    assert result.code == 2
    assert f"{tmp_path / 'nope.yaml'}: no such file or directory" in result.stderr


def test_cli_needs_a_path(run_cli):
    assert run_cli("validate").code == 2


def test_cli_binary_garbage_has_no_traceback(write):
    root = write({"garbage.yaml": bytes(range(256)) * 16, "nested.yaml": "[" * 100_000})
    done = subprocess.run(
        [str(Path(sys.executable).parent / "trunkline"), "validate", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert f"{root}/garbage.yaml: cannot read manifest" in done.stderr
    assert f"{root}/nested.yaml:1:1001: invalid YAML: nested deeper than 1000 levels" in done.stderr
