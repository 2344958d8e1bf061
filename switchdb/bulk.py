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

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Dialect, Table

from switchdb import changes

Processor = Callable[[Any], Any] | None
UNCOUNTED_FROM = 500  # rows: from here on SQLite, the counting trigger steps aside (``switchdb.changes``)


def _processors(conn: Connection, table: Table, columns: Sequence[str]) -> list[Processor]:
    dialect = conn.dialect
    return [
        _json_text(dialect) if isinstance(table.c[name].type, JSON) else _processor(table.c[name].type, dialect)
        for name in columns
    ]


def _processor(column_type: Any, dialect: Dialect) -> Processor:
    processor: Processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _json_text(dialect: Dialect) -> Callable[[Any], Any]:
    """JSON as the engine's serializer writes it (sorted keys), as text on both backends.

    PostgreSQL parses the text into JSONB as COPY reads it; SQLAlchemy's own path would hand
    psycopg a wrapper that it serializes again per row. Most labels and annotations are ``{}``:
    that text is made once. ``None`` is SQL NULL (the columns are ``none_as_null``).
    """
    serialize: Callable[[Any], str] = getattr(dialect, "_json_serializer", None) or json.dumps
    empty_dict, empty_list = serialize({}), serialize([])

    def text(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is dict and not value:
            return empty_dict
        if type(value) is list and not value:
            return empty_list
        return serialize(value)

    return text


def _tuples(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], processors: list[Processor]) -> list[tuple]:
    """Column by column (``map`` loops in C), then zipped into rows: no generator per row."""
    values = []
    for column, process in zip(columns, processors, strict=True):
        raw = list(map(operator.itemgetter(column), rows))
        values.append(raw if process is None else list(map(process, raw)))
    return list(zip(*values, strict=True))


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
