"""Reading and poking a switch database from tests: one statement, a whole-database dump.

- `sql(db, statement, **params)`: one statement in its own transaction; the rows, if any.
- `dump(engine)`: every Trunkline table and Kamailio view, all rows, sorted: equal dumps mean an
  untouched database (for "this failed and wrote nothing" checks).
- `table_rows(url)`: every table without the columns that differ between two databases holding
  the same objects (ids, timestamps, hashes, revision bookkeeping): for "both front ends wrote the
  same rows" checks.
- `customer_row(name, namespace, **columns)`: a valid ``customers`` row, for tests that write
  the table directly.

``db`` is an Engine or a URL (a URL gets a short-lived engine of its own).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from switchdb.tables import metadata

#: Kamailio reads these views (switchdb); a dump includes them so a change behind them shows.
KAMAILIO_VIEWS = ("address", "subscriber")


@contextmanager
def _engine(db: sa.Engine | str) -> Iterator[sa.Engine]:
    if isinstance(db, sa.Engine):
        yield db
        return
    engine = sa.create_engine(db)
    try:
        yield engine
    finally:
        engine.dispose()


def sql(db: sa.Engine | str, statement: str, **params: Any) -> list[Any]:
    """Run one statement in its own transaction; its rows when it returns any, else ``[]``."""
    with _engine(db) as engine, engine.begin() as conn:
        result = conn.execute(sa.text(statement), params)
        return list(result) if result.returns_rows else []


def scalar(db: sa.Engine | str, statement: str, **params: Any) -> Any:
    """The first column of the first row (``None`` without rows)."""
    rows = sql(db, statement, **params)
    return rows[0][0] if rows else None


def _sorted(rows: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(row) for row in rows), key=repr)


def dump(db: sa.Engine | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every Trunkline table and Kamailio view, all rows, sorted; for before/after comparisons."""
    with _engine(db) as engine, engine.connect() as conn:
        out = {table.name: _sorted(conn.execute(sa.select(table))) for table in metadata.sorted_tables}
        for view in KAMAILIO_VIEWS:
            out[view] = _sorted(conn.execute(sa.text(f"SELECT * FROM {view}")))
    return out


#: Columns that differ between two databases holding the same objects: surrogate keys,
#: timestamps, revision bookkeeping and the hash of the spec as written (env vs secretKeyRef).
_VOLATILE = ("id", "spec_hash", "generation", "revision_id", "row_id")
_SKIPPED_TABLES = ("trunkline_revisions", "trunkline_table_changes", "alembic_version")


def table_rows(db: sa.Engine | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows as sorted tuples, without volatile columns (ids, *_at, hashes)."""
    with _engine(db) as engine:
        meta = sa.MetaData()
        meta.reflect(engine)
        result: dict[str, list[tuple[Any, ...]]] = {}
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                if table.name in _SKIPPED_TABLES:
                    continue
                columns = [c for c in table.columns if not _volatile(c.name)]
                rows = conn.execute(sa.select(*columns)).all()
                result[table.name] = sorted((tuple(_plain(v) for v in row) for row in rows), key=repr)
        return result


def _volatile(column: str) -> bool:
    # `*_ref` and `rates_from_*` say where a secret or a deck lives (env vs Secret, CSV vs
    # ConfigMap), which differs by front end; the values read from there (HA1, digests, rates) stay.
    return column in _VOLATILE or column.endswith(("_id", "_at", "_ref")) or column.startswith("rates_from_")


def _plain(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def customer_row(name: str = "acme", namespace: str = "default", **columns: Any) -> dict[str, Any]:
    """A ``customers`` row with every NOT NULL column set; ``columns`` override or add."""
    return {
        "namespace": namespace,
        "name": name,
        "display_name": name.title(),
        "status": "Active",
        "currency": "USD",
        "debit_limit": Decimal(0),
        "minimum_payment": Decimal(0),
        "tax_percent": Decimal(0),
        "portal_access": False,
        "channels": 0,
        "flow_speed": 0,
        "tags": [],
        **columns,
    }
