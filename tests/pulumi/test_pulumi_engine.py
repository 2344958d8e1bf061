"""examples/pulumi under the real Pulumi engine: `pulumi up/preview/refresh/destroy` with the
provider plugin, against a SQLite switch database, compared with what `trunkline apply` writes.

The CLI is built from Pulumi's Go modules (tests/pulumi/build.sh); the stack lives in a local
file backend with the passphrase secrets provider, and the program runs in this repository's
virtualenv (where `trunkline` is installed, which the provider plugin needs to unpickle the
provider).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text
from support.pulumi_stack import EXAMPLE_PASSWORDS, SIP_PASSWORD, PulumiProject

from provider import program as pulumi_program
from reconciler.export import manifest as export_manifest
from reconciler.mapping import kind_maps
from reconciler.observe import observe
from reconciler.rows import canonical
from resources.meta import ObjectKey
from switchdb.engine import open_database

pytestmark = pytest.mark.e2e


def live_objects(url: str) -> dict[str, Any]:
    """Every object's rows as the engine compares them (every declared column and child row,
    references by name, no row ids or timestamps), keyed by `Kind/namespace/name`."""
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            live = observe(conn, kind_maps())
            return {
                str(key): {"row": canonical(rows.row), "children": canonical(rows.children)}
                for key, rows in live.rows.items()
            }
    finally:
        engine.dispose()


def switch_views(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What Kamailio reads (no ids): IP addresses with their customer tag, SIP users' digests."""
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            return {
                "address": sorted(tuple(r) for r in conn.execute(text("SELECT ip_addr, mask, port, tag FROM address"))),
                "subscriber": sorted(
                    tuple(r) for r in conn.execute(text("SELECT username, domain, ha1, ha1b FROM subscriber"))
                ),
            }
    finally:
        engine.dispose()


def scalar(url: str, sql: str, **params: Any) -> Any:
    engine = open_database(url)
    try:
        with engine.begin() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def execute(url: str, sql: str, **params: Any) -> None:
    engine = open_database(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def steps(result: dict[str, Any]) -> dict[str, str]:
    """`pulumi preview --json` steps as resource name → op, leaving out the ones that do nothing."""
    return {s["urn"].rsplit("::", 1)[-1]: s["op"] for s in result.get("steps", []) if s["op"] != "same"}


# -- one deployed stack, read only ----------------------------------------------------------------


def test_up_creates_every_object_and_a_second_preview_changes_nothing(deployed: PulumiProject) -> None:
    objects = live_objects(deployed.db_url)
    assert "Customer/default/acme-voip" in objects
    assert "CredentialAuthentication/default/acme-softswitch-1001" in objects
    assert len(objects) == 22
    # exit code 0 only when the engine computed no change at all
    deployed.run("preview", "--expect-no-changes")


def test_up_writes_the_rows_trunkline_apply_writes_for_the_same_objects(deployed: PulumiProject, tmp_path) -> None:
    cli_db = f"sqlite:///{tmp_path / 'cli.db'}"
    deployed.trunkline("apply", "--db", cli_db, "--auto-approve", str(deployed.root / "examples"))
    by_pulumi, by_cli = live_objects(deployed.db_url), live_objects(cli_db)
    assert set(by_pulumi) <= set(by_cli), "every object of the program is in examples/*.yaml"

    # acme1001's password is given from the stack config, not a passwordRef: the database
    # records where it came from (secretKeyRef pulumi vs env), and nothing else may differ.
    sip = "CredentialAuthentication/default/acme-softswitch-1001"
    ref_pulumi = by_pulumi[sip]["row"].pop("password_ref", None)
    ref_cli = by_cli[sip]["row"].pop("password_ref", None)
    assert "pulumi" in str(ref_pulumi) and "TRUNKLINE_EXAMPLE_ACME1001_PASSWORD" in str(ref_cli)

    # The YAML's USD card reads its CSV deck (`ratesFrom.csv`); the program reads the deck itself
    # and gives the rates inline. Where rates came from is stored but not compared (docs/decisions.md).
    card = "RateCard/default/usd-wholesale"
    assert by_cli[card]["row"].pop("rates_from_csv") == "decks/usd-wholesale.csv"
    assert by_pulumi[card]["row"].pop("rates_from_csv") is None

    different = [key for key in by_pulumi if by_pulumi[key] != by_cli[key]]
    assert different == [], {key: (by_pulumi[key], by_cli[key]) for key in different}

    # What the switch reads: the same addresses (examples/*.yaml has a few more IP authentications
    # for these customers) and the same SIP digests (same password).
    views_pulumi, views_cli = switch_views(deployed.db_url), switch_views(cli_db)
    assert views_pulumi["address"] and set(views_pulumi["address"]) <= set(views_cli["address"])
    users = {row[0] for row in views_pulumi["subscriber"]}
    assert views_pulumi["subscriber"] == [row for row in views_cli["subscriber"] if row[0] in users]
    assert users == {"acme1001", "cobalt-office"}


def test_stack_export_holds_no_clear_password(deployed: PulumiProject) -> None:
    exported = deployed.run("stack", "export").stdout
    assert "acme-softswitch-1001" in exported
    for clear in [SIP_PASSWORD, *EXAMPLE_PASSWORDS.values()]:
        assert clear not in exported
    assert deployed.db_path.name not in exported, "the database URL is a secret"
    assert "password_hash" in exported and "pbkdf2_sha256$" in exported


# -- the lifecycle: change, drift, adoption, destroy (last: it tears the stack down) --------------


def test_change_refresh_adopt_and_destroy(deployed: PulumiProject) -> None:
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
    execute(url, "UPDATE customers SET channels = 7 WHERE name = 'acme-voip'")
    refresh = deployed.run("refresh", "--yes", "--diff")
    assert re.search(r"~ channels\s*: 200 => 7", refresh.stdout), refresh.stdout
    assert re.search(r"~ 1 updated\n\s+22 unchanged", refresh.stdout), refresh.stdout
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
    deployed.trunkline("apply", "--db", url, "--auto-approve", str(deployed.root / "delta.yaml"))
    delta_id = scalar(url, "SELECT id FROM customers WHERE name = 'delta-tel'")
    revisions = scalar(url, "SELECT count(*) FROM trunkline_revisions")
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            key = ObjectKey("Customer", "default", "delta-tel")
            live = observe(conn, kind_maps(), {key})
            rendered = pulumi_program.render([export_manifest(kind_maps()["Customer"], live.rows[key])])
    finally:
        engine.dispose()
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

    # 4. Destroy removes every row the stack declared.
    deployed.run("destroy", "--yes", "--skip-preview")
    assert live_objects(url) == {}
    assert switch_views(url) == {"address": [], "subscriber": []}
    assert scalar(url, "SELECT count(*) FROM trunkline_objects") == 0
