"""``switchdb.bulk.insert_rows`` stores exactly what SQLAlchemy's insert stores, with the same checks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg
import pytest
import sqlalchemy as sa
from support.db import customer_row

from switchdb import bulk, changes
from switchdb.bulk import insert_rows
from switchdb.tables import COUNTED_TABLES, KIND_TABLES, child_tables_of, metadata, trunkline_objects
from switchdb.types import Money

CUSTOMER = customer_row(
    "acme",
    labels={"tier": "gold", "region": "us"},
    annotations={},
    debit_limit=Decimal("500.50"),
    tax_percent=Decimal("7.25"),
    daily_spend_limit=None,
    portal_access=True,
    channels=200,
    flow_speed=20,
    tags=["wholesale", "postpaid"],
)


def _read(engine: sa.Engine, name: str) -> dict:
    table = metadata.tables["customers"]
    with engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.name == name)).mappings().one()
    return {k: v for k, v in row.items() if k != "id" and k != "name"}


def test_the_same_row_as_sqlalchemys_insert_on_both_backends(engine: sa.Engine) -> None:
    table = metadata.tables["customers"]
    row = CUSTOMER
    with engine.begin() as conn:
        conn.execute(sa.insert(table), [{**row, "name": "by-sqlalchemy"}])
        insert_rows(conn, table, [{**row, "name": "by-driver"}])
    assert _read(engine, "by-driver") == _read(engine, "by-sqlalchemy")
    if engine.dialect.name == "sqlite":  # the stored text too: canonical money, sorted JSON keys
        with engine.connect() as conn:
            texts = conn.exec_driver_sql(
                "SELECT debit_limit, labels FROM customers WHERE name IN ('by-driver', 'by-sqlalchemy')"
            ).all()
        assert texts[0] == texts[1] == ("500.5", '{"region": "us", "tier": "gold"}')


def test_values_are_checked_as_on_binding(engine: sa.Engine) -> None:
    table = metadata.tables["customers"]
    row = CUSTOMER
    with pytest.raises(ValueError, match="more than 8 decimal places"), engine.begin() as conn:
        insert_rows(conn, table, [{**row, "debit_limit": Decimal("0.123456789")}])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0

    owners = {"kind": "Customer", "namespace": "default", "name": "x", "row_id": 1, "spec_hash": "h"}
    naive = {**owners, "generation": 1, "revision_id": 1, "applied_at": datetime(2026, 1, 1)}
    with pytest.raises(ValueError, match="naive datetime"), engine.begin() as conn:
        insert_rows(conn, trunkline_objects, [naive])


def test_no_written_table_relies_on_a_python_side_default() -> None:
    written = [*KIND_TABLES.values(), *(c for t in KIND_TABLES.values() for c in child_tables_of(t))]
    written.append(trunkline_objects)
    relying = [
        f"{t.name}.{c.name}"
        for t in written
        for c in t.columns
        if c.default is not None and c.server_default is None and not c.primary_key
    ]
    assert relying == [], "insert_rows leaves unnamed columns to the server's default"


def _triggers(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
    return dict(rows)


def _customer_row(i: int) -> dict:
    return {**CUSTOMER, "name": f"customer-{i}"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_big_sqlite_insert_steps_the_counting_trigger_aside_and_puts_it_back(engine: sa.Engine) -> None:
    migrated = _triggers(engine)
    assert {name: sql for name, sql in migrated.items() if name.endswith("_insert")} == {
        f"trunkline_count_{t}_insert": changes.insert_trigger_sql(t) for t in COUNTED_TABLES
    }, "the engine recreates exactly the trigger migration 0004 made"

    rows = [_customer_row(i) for i in range(bulk.UNCOUNTED_FROM)]
    with engine.begin() as conn:
        insert_rows(conn, metadata.tables["customers"], rows)
    assert _triggers(engine) == migrated
    with engine.connect() as conn:
        counter = "SELECT changes FROM trunkline_table_changes WHERE table_name = 'customers'"
        moved = conn.exec_driver_sql(counter).scalar()
    assert moved == 1

    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # a duplicate: nothing of it stays
        insert_rows(conn, metadata.tables["customers"], rows)
    assert _triggers(engine) == migrated
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM customers").scalar() == bulk.UNCOUNTED_FROM


def test_allocated_ids_are_fresh_and_never_reuse_a_deleted_customers(engine: sa.Engine) -> None:
    customers = metadata.tables["customers"]
    with engine.begin() as conn:
        first = bulk.allocate_ids(conn, customers, 3)
        insert_rows(conn, customers, [{**_customer_row(i), "id": i_d} for i, i_d in enumerate(first)])
    assert first == sorted(first) and len(set(first)) == 3
    with engine.begin() as conn:  # the newest customer goes: its id (an address group) stays retired
        conn.execute(sa.delete(customers).where(customers.c.id == first[-1]))
    with engine.begin() as conn:
        again = bulk.allocate_ids(conn, customers, 2)
        insert_rows(conn, customers, [{**_customer_row(10 + i), "id": i_d} for i, i_d in enumerate(again)])
    assert min(again) > max(first)
    with engine.begin() as conn:  # and the database's own default continues after them
        conn.execute(sa.insert(customers), [_customer_row(20)])
        newest = conn.execute(sa.select(sa.func.max(customers.c.id))).scalar_one()
    assert newest > max(again)
    with engine.connect() as conn:
        assert bulk.allocate_ids(conn, customers, 0) == []


def test_select_rows_reads_what_sqlalchemy_reads(engine: sa.Engine) -> None:
    table = metadata.tables["customers"]
    rows = [_customer_row(i) for i in range(40)]
    rows[3] = {**rows[3], "labels": {"nested": {"a": [1, 2]}}, "tags": [], "daily_spend_limit": Decimal("12.5")}
    with engine.begin() as conn:
        insert_rows(conn, table, rows)
        stmt = sa.select(table).order_by(table.c.name)
        expected = [tuple(r) for r in conn.execute(stmt).all()]
        got = bulk.select_rows(conn, stmt)
        assert got == expected
        assert [type(v) for v in got[3]] == [type(v) for v in expected[3]]
        labels = table.columns.keys().index("labels")
        assert got[0][labels] is not got[1][labels], "every row gets its own containers"
        got[0][labels]["changed"] = True
        assert "changed" not in got[1][labels]
        where = stmt.where(table.c.name.in_(["customer-1", "customer-2"]))
        assert bulk.select_rows(conn, where) == [tuple(r) for r in conn.execute(where).all()]
        assert bulk.select_rows(conn, stmt.where(table.c.name == "nobody")) == []


def test_repeated_values_are_bound_once_but_still_checked_by_type(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = metadata.tables["customers"]
    same_amount = [{**_customer_row(i), "debit_limit": Decimal("100")} for i in range(10)]
    bound: list[object] = []
    real = Money.process_bind_param
    monkeypatch.setattr(
        Money, "process_bind_param", lambda self, value, dialect: bound.append(value) or real(self, value, dialect)
    )
    with engine.begin() as conn:
        insert_rows(conn, table, same_amount)
    assert bound.count(Decimal("100")) == 1, "ten equal amounts, one conversion"
    monkeypatch.undo()
    with engine.connect() as conn:
        limits = conn.execute(sa.select(table.c.debit_limit)).scalars().all()
    assert limits == [Decimal("100")] * 10
    ones = [{**_customer_row(100 + i), "debit_limit": Decimal(1)} for i in range(5)]
    sneaky = [*ones, {**_customer_row(99), "debit_limit": True}]  # True == Decimal(1), same hash
    with pytest.raises(TypeError, match="must be a Decimal"), engine.begin() as conn:
        insert_rows(conn, table, sneaky)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_repeated_json_is_stored_as_sqlalchemy_stores_each_value(engine: sa.Engine) -> None:
    table = metadata.tables["customers"]
    variants = [
        ({"tier": "gold", "region": "us"}, ["wholesale", "gold"]),
        ({"region": "us", "tier": "gold"}, ["gold", "wholesale"]),  # same map, other order; other list
        ({"tier": "gold"}, ["wholesale"]),
        ({}, []),
        ({"n": 1}, [1, "1"]),
        ({"n": True}, [True, "1"]),  # equal to the row above (True == 1), stored apart
        ({"n": 1.0}, [1.0, "1"]),
        ({"n": {"deep": [1]}}, [[1], ["1"]]),
        ({"n": {"deep": [True]}}, [[True], ["1"]]),
    ]
    rows = [{**_customer_row(i), "labels": labels, "tags": tags} for i, (labels, tags) in enumerate(variants * 4)]
    with engine.begin() as conn:
        insert_rows(conn, table, rows)
        conn.execute(sa.insert(table), [{**r, "name": "sa-" + r["name"]} for r in rows])
        stored = dict(conn.exec_driver_sql("SELECT name, labels || ' ' || tags FROM customers").all())
    assert {name: text for name, text in stored.items() if not name.startswith("sa-")} == {
        name[3:]: text for name, text in stored.items() if name.startswith("sa-")
    }
    assert stored["customer-1"] == '{"region": "us", "tier": "gold"} ["gold", "wholesale"]'


def test_a_column_null_in_every_row_stays_null_and_a_default_is_never_taken_for_it(engine: sa.Engine) -> None:
    """Columns NULL in every row are left out of the INSERT, which must not change what is
    stored: NULL where the column has no default, and a refused NULL (not the default ``{}``)
    where it is NOT NULL with one."""
    table = metadata.tables["customers"]
    rows = [{**_customer_row(i), "daily_spend_limit": None, "website": None} for i in range(3)]
    with engine.begin() as conn:
        insert_rows(conn, table, rows)
        conn.execute(sa.insert(table), [{**r, "name": "sa-" + r["name"]} for r in rows])
    assert _read(engine, "customer-1") == _read(engine, "sa-customer-1")
    assert _read(engine, "customer-1")["daily_spend_limit"] is None
    assert _read(engine, "customer-1")["website"] is None
    no_labels = [{**_customer_row(10 + i), "labels": None} for i in range(3)]
    with pytest.raises((sa.exc.IntegrityError, psycopg.IntegrityError)), engine.begin() as conn:
        insert_rows(conn, table, no_labels)  # COPY raises the driver's own error
