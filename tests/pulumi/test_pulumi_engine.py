"""examples/pulumi under the real Pulumi engine: `pulumi up/preview/refresh/destroy` with the
provider plugin, against a SQLite switch database, compared with what `trunkline apply` writes.

The CLI is built from Pulumi's Go modules (tests/pulumi/build.sh); the stack lives in a local
file backend with the passphrase secrets provider, and the program runs in this repository's
virtualenv (where `trunkline` is installed, which the provider plugin needs to unpickle the
provider).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, inspect, text
from support.db import scalar, sql
from support.pulumi_stack import DIRECT_PASSWORD, EXAMPLE_PASSWORDS, SIP_PASSWORD, PulumiProject

from provider import program as pulumi_program
from reconciler.export import manifest as export_manifest
from reconciler.mapping import kind_maps
from reconciler.observe import observe
from reconciler.rows import canonical
from resources.loader import load
from resources.meta import ObjectKey
from switchdb.engine import open_database

# One worker runs the whole module, in file order: the tests share one deployed stack and the
# destructive lifecycle test comes last (make test runs pytest-xdist with --dist loadgroup).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("pulumi-stack")]


@contextmanager
def connected(url: str) -> Iterator[Connection]:
    """A connection to the switch database at ``url``, in a transaction committed at the end."""
    engine = open_database(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def live_objects(url: str) -> dict[str, Any]:
    """Every object's rows as the engine compares them (every declared column and child row,
    references by name, no row ids or timestamps), keyed by `Kind/namespace/name`."""
    with connected(url) as conn:
        live = observe(conn, kind_maps())
    return {
        str(key): {"row": canonical(rows.row), "children": canonical(rows.children)} for key, rows in live.rows.items()
    }


#: What may differ between two databases holding the same objects: row ids (and the view column
#: `address.grp`, a customer id), timestamps, which revision wrote a row and that revision's spec
#: hash, and where a card's rates came from (`rates_from_csv`, informational: docs/decisions.md).
#: `trunkline_revisions` is the history itself (one revision per Pulumi resource, actor
#: trunkline-pulumi; one for the whole `trunkline apply`), so it is not part of the state compared.
IGNORED_COLUMNS = {"id", "row_id", "revision_id", "spec_hash", "rates_from_csv", "grp"}
IGNORED_TABLES = {"trunkline_revisions", "sqlite_sequence"}


def database(url: str) -> dict[str, list[str]]:
    """Every table and view of the database, each as a sorted list of its rows (JSON), without
    the IGNORED_COLUMNS and `*_at` timestamps; a foreign key is replaced by the referenced row's
    `namespace/name` (ids depend on the order of the writes)."""
    with connected(url) as conn:
        schema = inspect(conn)
        names: dict[str, dict[Any, str]] = {}
        for table in schema.get_table_names():
            columns = {c["name"] for c in schema.get_columns(table)}
            if {"id", "namespace", "name"} <= columns:
                rows = conn.execute(text(f"SELECT id, namespace, name FROM {table}"))
                names[table] = {r.id: f"{r.namespace}/{r.name}" for r in rows}
        dump: dict[str, list[str]] = {}
        for table in [*schema.get_table_names(), *schema.get_view_names()]:
            if table in IGNORED_TABLES:
                continue
            is_view = table in schema.get_view_names()
            refs = (
                {}
                if is_view
                else {
                    fk["constrained_columns"][0]: fk["referred_table"]
                    for fk in schema.get_foreign_keys(table)
                    if fk["referred_table"] in names and len(fk["constrained_columns"]) == 1
                }
            )
            rows = []
            for row in conn.execute(text(f"SELECT * FROM {table}")).mappings():
                kept = {
                    column: names[refs[column]][value] if column in refs and value is not None else value
                    for column, value in row.items()
                    if column not in IGNORED_COLUMNS and not column.endswith("_at")
                }
                rows.append(json.dumps(kept, sort_keys=True, default=str))
            dump[table] = sorted(rows)
        return dump


def switch_views(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What Kamailio reads (no ids): IP addresses with their customer tag, SIP users' digests."""
    return {
        "address": sorted(tuple(r) for r in sql(url, "SELECT ip_addr, mask, port, tag FROM address")),
        "subscriber": sorted(tuple(r) for r in sql(url, "SELECT username, domain, ha1, ha1b FROM subscriber")),
    }


#: A SIP user whose password comes from the stack's secret config (set by PulumiProject.create).
DIRECT_SIP_USER = """
CredentialAuthentication(
    "acme-softswitch-1002",
    CredentialAuthenticationArgs(
        customer_ref=acme.name,
        username="acme1002",
        realm="sip.kestrel.example",
        password=pulumi.Config().require_secret("acme1002Password"),
    ),
)
"""


def steps(result: dict[str, Any]) -> dict[str, str]:
    """`pulumi preview --json` steps as resource name → op, leaving out the ones that do nothing."""
    return {s["urn"].rsplit("::", 1)[-1]: s["op"] for s in result.get("steps", []) if s["op"] != "same"}


# -- one deployed stack, read only ----------------------------------------------------------------


def test_up_creates_every_object_and_a_second_preview_changes_nothing(deployed: PulumiProject) -> None:
    objects = live_objects(deployed.db_url)
    yaml_objects = {
        str(ObjectKey(o.kind, o.metadata.namespace, o.metadata.name)) for o in load([deployed.root / "examples"])
    }
    assert len(yaml_objects) == 34
    assert set(objects) == yaml_objects, "the program declares every object of examples/*.yaml"
    # exit code 0 only when the engine computed no change at all
    deployed.run("preview", "--expect-no-changes")


def test_up_writes_the_database_trunkline_apply_writes(deployed: PulumiProject, tmp_path) -> None:
    """The issue's "done when": the database after `pulumi up` of examples/pulumi equals the one
    after `trunkline apply examples/` (same TRUNKLINE_EXAMPLE_* variables for both), table by
    table, every row and column but ids, timestamps, revision ids, spec hashes and rates_from_csv."""
    cli_db = f"sqlite:///{tmp_path / 'cli.db'}"
    deployed.trunkline("apply", "--db", cli_db, "--auto-approve", str(deployed.root / "examples"))

    # The YAML's USD card reads its CSV deck (`ratesFrom.csv`); the program reads the deck itself
    # and gives the rates inline. Where rates came from is stored but not compared (docs/decisions.md).
    card = "SELECT rates_from_csv FROM rate_cards WHERE name = 'usd-wholesale'"
    assert scalar(cli_db, card) == "decks/usd-wholesale.csv" and scalar(deployed.db_url, card) is None

    by_pulumi, by_cli = database(deployed.db_url), database(cli_db)
    assert set(by_pulumi) == set(by_cli)
    assert len(by_cli["trunkline_objects"]) == 34 and len(by_cli["rates"]) > 200 and len(by_cli["subscriber"]) == 3
    different = {table for table in by_cli if by_pulumi[table] != by_cli[table]}
    assert different == set(), {
        table: (sorted(set(by_pulumi[table]) - set(by_cli[table])), sorted(set(by_cli[table]) - set(by_pulumi[table])))
        for table in different
    }

    # The engine's own view of the objects (every declared column and child row) agrees too.
    live_pulumi, live_cli = live_objects(deployed.db_url), live_objects(cli_db)
    for live in (live_pulumi, live_cli):
        live["RateCard/default/usd-wholesale"]["row"].pop("rates_from_csv")
    assert live_pulumi == live_cli


def test_stack_export_holds_no_clear_password(deployed: PulumiProject) -> None:
    exported = deployed.run("stack", "export").stdout
    assert "acme-softswitch-1001" in exported and "TRUNKLINE_EXAMPLE_ACME1001_PASSWORD" in exported
    for clear in [SIP_PASSWORD, *EXAMPLE_PASSWORDS.values()]:
        assert clear not in exported
    assert deployed.db_path.name not in exported, "the database URL is a secret"


# -- the lifecycle: change, drift, adoption, destroy (last: it tears the stack down) --------------


def test_change_refresh_adopt_and_destroy(fresh_deployed: PulumiProject) -> None:
    deployed = fresh_deployed
    url = deployed.db_url
    main = deployed.program / "__main__.py"
    cobalt_id = scalar(url, "SELECT id FROM customers WHERE name = 'cobalt-comms'")
    before = live_objects(url)

    # 1. A change to one customer's channels updates exactly that resource.
    source = main.read_text(encoding="utf-8")
    edited = source.replace(
        'channels=30,\n        flow_speed=3,\n        daily_spend_limit="250.00"',
        'channels=45,\n        flow_speed=3,\n        daily_spend_limit="250.00"',
        1,
    )
    assert edited != source
    main.write_text(edited, encoding="utf-8")
    preview = deployed.json("preview", "--diff")
    assert steps(preview) == {"cobalt-comms": "update"}
    [step] = [s for s in preview["steps"] if s["op"] == "update"]
    assert step["oldState"]["inputs"]["spec"]["channels"] == 30, step["oldState"]
    assert step["newState"]["inputs"]["spec"]["channels"] == 45, step["newState"]
    deployed.run("up", "--yes", "--skip-preview")
    after = live_objects(url)
    assert after["Customer/default/cobalt-comms"]["row"]["channels"] == 45
    assert {k for k in after if after[k] != before[k]} == {"Customer/default/cobalt-comms"}
    assert scalar(url, "SELECT id FROM customers WHERE name = 'cobalt-comms'") == cobalt_id, "updated in place"
    deployed.run("preview", "--expect-no-changes")

    # 2. A direct SQL edit behind Pulumi's back shows in `pulumi refresh`, and `up` corrects it.
    sql(url, "UPDATE customers SET channels = 7 WHERE name = 'acme-voip'")
    refresh = deployed.run("refresh", "--yes", "--diff")
    assert re.search(r"~ channels\s*: 200 => 7", refresh.stdout), refresh.stdout
    assert re.search(r"~ 1 updated\n\s+34 unchanged", refresh.stdout), refresh.stdout
    assert steps(deployed.json("preview")) == {"acme-voip": "update"}
    deployed.run("up", "--yes", "--skip-preview")
    assert scalar(url, "SELECT channels FROM customers WHERE name = 'acme-voip'") == 200

    # 3. Adoption: an object `trunkline apply` wrote is declared in the program (as
    #    `trunkline export --format pulumi` renders it); `pulumi up` takes it over unchanged.
    (deployed.root / "delta.yaml").write_text(
        "apiVersion: trunkline.dev/v1alpha1\nkind: Customer\nmetadata: {name: delta-tel}\n"
        "spec: {displayName: Delta Tel, currency: USD, channels: 12}\n",
        encoding="utf-8",
    )
    # --no-prune: the rest of the database is not declared in delta.yaml (a pruning apply deletes it)
    deployed.trunkline("apply", "--db", url, "--auto-approve", "--no-prune", str(deployed.root / "delta.yaml"))
    assert set(live_objects(url)) == set(before) | {"Customer/default/delta-tel"}
    delta_id = scalar(url, "SELECT id FROM customers WHERE name = 'delta-tel'")
    revisions = scalar(url, "SELECT count(*) FROM trunkline_revisions")
    key = ObjectKey("Customer", "default", "delta-tel")
    with connected(url) as conn:
        live = observe(conn, kind_maps(), {key})
    rendered = pulumi_program.render([export_manifest(kind_maps()["Customer"], live.rows[key])])
    declaration = rendered[rendered.index("customer_delta_tel = Customer(") :]
    main.write_text(
        main.read_text(encoding="utf-8").replace("pulumi.export(", declaration + "\npulumi.export(", 1),
        encoding="utf-8",
    )
    assert steps(deployed.json("preview")) == {"delta-tel": "create"}
    deployed.run("up", "--yes", "--skip-preview")
    assert scalar(url, "SELECT id FROM customers WHERE name = 'delta-tel'") == delta_id, "adopted, not recreated"
    assert scalar(url, "SELECT count(*) FROM trunkline_revisions") == revisions, "nothing to change, nothing written"
    deployed.run("preview", "--expect-no-changes")

    # 4. A password given directly (`config.require_secret`) instead of by passwordRef: the switch
    #    gets its digests, the state only a salted hash of it and the encrypted input.
    main.write_text(
        main.read_text(encoding="utf-8").replace("pulumi.export(", DIRECT_SIP_USER + "\npulumi.export(", 1),
        encoding="utf-8",
    )
    assert steps(deployed.json("preview")) == {"acme-softswitch-1002": "create"}
    deployed.run("up", "--yes", "--skip-preview")
    ha1 = hashlib.md5(f"acme1002:sip.kestrel.example:{DIRECT_PASSWORD}".encode()).hexdigest()
    assert scalar(url, "SELECT ha1 FROM subscriber WHERE username = 'acme1002'") == ha1
    ref = scalar(url, "SELECT password_ref FROM credential_authentications WHERE username = 'acme1002'")
    assert "pulumi" in ref and DIRECT_PASSWORD not in ref
    exported = deployed.run("stack", "export").stdout
    assert DIRECT_PASSWORD not in exported
    assert "password_hash" in exported and "pbkdf2_sha256$" in exported
    deployed.run("preview", "--expect-no-changes")

    # 5. Destroy removes every row the stack declared.
    deployed.run("destroy", "--yes", "--skip-preview")
    assert live_objects(url) == {}
    assert switch_views(url) == {"address": [], "subscriber": []}
    assert scalar(url, "SELECT count(*) FROM trunkline_objects") == 0
