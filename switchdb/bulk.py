"""Bulk inserts through the driver: SQLite's executemany, PostgreSQL's COPY.

A cold apply writes ~350k rows. Through ``conn.execute(insert(table), dicts)`` SQLAlchemy builds
a parameter dict per row and calls each column's bind processor through several layers, which
was a quarter of the cold apply (bench/RESULTS.md, hot spots). Here each column's processor is
looked up once and applied in a tight loop to plain tuples, which go to the driver on the
connection of the caller's transaction: the same values, the same checks (``Money`` refuses
what NUMERIC(20, 8) cannot hold, ``UtcDateTime`` a naive time), the same JSON text. Columns a
row does not name get their server defaults, as with SQLAlchemy (no table here has a Python-side
default that a bulk insert relies on; ``tests/switchdb`` checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Table

from switchdb import changes

Processor = Callable[[Any], Any] | None
UNCOUNTED_FROM = 500  # rows: from here on SQLite, the counting trigger steps aside (``switchdb.changes``)


def _processors(conn: Connection, table: Table, columns: Sequence[str]) -> list[Processor]:
    dialect = conn.dialect
    found = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    return [_empty_first(p) if _is_json(table.c[n].type) and p is not None else p for n, p in zip(columns, found)]


def _is_json(column_type: Any) -> bool:
    return isinstance(column_type, JSON)


def _empty_first(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Most labels and annotations are ``{}``: serialize that once, not once per row."""
    empty_dict, empty_list = process({}), process([])

    def fast(value: Any) -> Any:
        if value == {} and type(value) is dict:
            return empty_dict
        if value == [] and type(value) is list:
            return empty_list
        return process(value)

    return fast


def _tuples(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], processors: list[Processor]) -> list[tuple]:
    pairs = list(zip(columns, processors, strict=True))
    plain = all(p is None for _, p in pairs)
    if plain:
        return [tuple(row[c] for c in columns) for row in rows]
    return [tuple(row[c] if p is None else p(row[c]) for c, p in pairs) for row in rows]


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys) into ``table`` inside ``conn``'s transaction."""
    if not rows:
        return
    columns = list(rows[0])
    values = _tuples(rows, columns, _processors(conn, table, columns))
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    name = conn.dialect.identifier_preparer.format_table(table)
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
        return
    marks = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {name} ({quoted}) VALUES ({marks})"
    if len(values) < UNCOUNTED_FROM or not changes.has_insert_trigger(conn, table.name):
        conn.exec_driver_sql(statement, values)
        return
    changes.drop_insert_trigger(conn, table.name)
    conn.exec_driver_sql(statement, values)
    changes.restore_insert_trigger(conn, table.name)
