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

import functools
import itertools
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Connection, Dialect, Select, Table, type_coerce
from sqlalchemy.types import NullType

from switchdb import changes

Processor = Callable[[Any], Any] | None
Binder = Callable[[Sequence[Any]], Sequence[Any]]  # a column's values -> the driver's
_SCALARS = frozenset({str, int, float, bool, type(None)})
_NUMBERS = frozenset({bool, int, float, Decimal})  # equal across types: True == 1 == Decimal(1)
_JSON_OK = frozenset({dict, list, *_SCALARS})  # types whose repr tells values apart (nested too)
_NONES = itertools.repeat(None)
UNCOUNTED_FROM = 500  # rows: from here on SQLite, the counting trigger steps aside (``switchdb.changes``)


def _binders(conn: Connection, table: Table, columns: Sequence[str]) -> list[Binder | None]:
    """How each column's values become the driver's (None: as they are): JSON through its text,
    the rest through the type's bind processor, each once per distinct value."""
    dialect = conn.dialect
    binders: list[Binder | None] = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            binders.append(functools.partial(_json_bound, process=_json_text(dialect)))
        else:
            process = _processor(column_type, dialect)
            binders.append(None if process is None else functools.partial(_once_per_distinct, process=process))
    return binders


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


def _once_per_distinct(values: Sequence[Any], process: Callable[[Any], Any]) -> list[Any]:
    """A column through a bind or result processor, once per distinct value: a deck's 100k rates
    have a few thousand distinct amounts and one date. Values of two number types go by (type,
    value), so that ``True`` is still refused where ``Decimal(1)`` (equal, same hash) is
    accepted; otherwise by value alone. Unhashable values (JSON) go one by one."""
    if len(set(map(type, values)) & _NUMBERS) > 1:
        keys: Sequence[Any] = list(zip(map(type, values), values))
        unpack = True
    else:
        keys, unpack = values, False
    try:
        distinct = set(keys)
    except TypeError:
        return list(map(process, values))
    if 2 * len(distinct) > len(values):
        return list(map(process, values))
    table = {key: process(key[1] if unpack else key) for key in distinct}
    return list(map(table.__getitem__, keys))


def _json_bound(values: Sequence[Any], process: Callable[[Any], Any]) -> list[Any]:
    """A JSON column as text, each distinct value serialized once: ``{}``, ``["PCMU", "PCMA"]``
    and labels repeat across 100k rows. Values are told apart by ``repr`` (made in C, a pass
    over the column with no Python per row): it keeps ``[1]``, ``[True]`` and ``["1"]`` apart,
    and two equal values whose reprs differ (a map in another order) are only serialized twice."""
    types = set(map(type, values))
    if types <= _JSON_OK:  # the engine's JSON is plain data (``model_dump(mode='json')``)
        if len(types) == 1 and not any(values):  # all ``{}`` (most labels), all ``[]``
            return [process(values[0])] * len(values)
        reprs = list(map(repr, values))
        texts = {text: process(value) for text, value in dict(zip(reprs, values)).items()}
        return list(map(texts.__getitem__, reprs))
    return list(map(process, values))  # something unusual (a custom type): one by one


def columns_of(rows: Sequence[Mapping[str, Any]]) -> dict[str, Sequence[Any]]:
    """Dicts with the same keys, column by column: one ``itemgetter`` call per row, then one
    transposition, both in C."""
    if not rows:
        return {}
    names = list(rows[0])
    if len(names) == 1:
        return {names[0]: [row[names[0]] for row in rows]}
    return dict(zip(names, zip(*map(operator.itemgetter(*names), rows), strict=True), strict=True))


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys) into ``table`` inside ``conn``'s transaction."""
    insert_columns(conn, table, columns_of(rows))


def insert_columns(conn: Connection, table: Table, columns: Mapping[str, Sequence[Any]]) -> None:
    """INSERT rows given column by column (``{column: values}``, all of one length).

    Column-major is how the engine has them (a column of ids, a column of names...) and how
    they are cheapest to convert: ``map`` loops in C, then one ``zip`` makes the rows.
    """
    names = list(columns)
    if not names or not columns[names[0]]:
        return
    # A column that is NULL in every row and has no default is left out: the same NULLs, and
    # 100k rates without a connect fee or a minimum bind nothing for them.
    names = [
        n for n in names if table.c[n].server_default is not None or any(map(operator.is_not, columns[n], _NONES))
    ] or names[:1]
    columns = {n: columns[n] for n in names}
    values = [
        cells if bind is None else bind(cells)
        for cells, bind in zip(columns.values(), _binders(conn, table, names), strict=True)
    ]
    rows = list(zip(*values, strict=True))
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in names)
    name = conn.dialect.identifier_preparer.format_table(table)
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in names)
    statement = f"INSERT INTO {name} ({quoted}) VALUES ({marks})"
    if len(rows) < UNCOUNTED_FROM or not changes.has_insert_trigger(conn, table.name):
        conn.exec_driver_sql(statement, rows)
        return
    changes.drop_insert_trigger(conn, table.name)
    conn.exec_driver_sql(statement, rows)
    changes.restore_insert_trigger(conn, table.name)


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """``count`` fresh ids for ``table``'s rows, so a bulk insert needs no read-back by key.

    PostgreSQL draws them from the column's sequence, as a default would. SQLite starts past
    both the largest id and, for AUTOINCREMENT tables, ``sqlite_sequence`` (ids of deleted
    customers are never reused: Kamailio's address groups are customer ids). On SQLite this
    must run in the transaction that inserts: a concurrent writer then fails it (busy), it
    cannot take the same ids.
    """
    if count <= 0:
        return []
    name = table.name
    if conn.dialect.name == "postgresql":
        drawn = conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence(%(table)s, 'id')) FROM generate_series(1, %(count)s)",
            {"table": name, "count": count},
        )
        return [int(row[0]) for row in drawn]
    quoted = conn.dialect.identifier_preparer.format_table(table)
    start = int(conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {quoted}").scalar_one())
    if table.dialect_options["sqlite"]["autoincrement"]:
        seq = conn.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = ?", (name,)).scalar()
        start = max(start, int(seq or 0))
    return list(range(start + 1, start + 1 + count))


def _result_processor(column: Any, dialect: Dialect, type_code: Any) -> Processor:
    processor: Processor = column.type.dialect_impl(dialect).result_processor(dialect, type_code)
    return processor


def _processed(values: list[Any], column: Any, process: Callable[[Any], Any]) -> list[Any]:
    """One column's values through its result processor, once per distinct value; JSON such as
    ``["PCMU", "PCMA"]`` or ``{}`` is parsed once per distinct text, each row getting its own
    containers."""
    if not isinstance(column.type, JSON):
        return _once_per_distinct(values, process)
    try:
        made = {text: _json_maker(text, process) for text in set(values)}
    except TypeError:  # a driver that hands over parsed JSON already
        return list(map(process, values))
    return [make() for make in map(made.__getitem__, values)]


def _json_maker(text: Any, process: Callable[[Any], Any]) -> Callable[[], Any]:
    """Makes one row's value: every row gets its own containers (callers may change them), by
    a shallow copy when the parsed value holds only scalars, else by parsing again."""
    value = process(text)
    if isinstance(value, list) and all(type(v) in _SCALARS for v in value):
        return functools.partial(list, value)
    if isinstance(value, dict) and all(type(v) in _SCALARS for v in value.values()):
        return functools.partial(dict, value)
    if type(value) in _SCALARS:
        return lambda: value
    return functools.partial(process, text)


def select_rows(conn: Connection, stmt: Select[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``stmt`` as tuples of Python values, the mirror of ``insert_rows``.

    SQLAlchemy fetches the driver's values (its own per-row processing is switched off by
    ``type_coerce``) and each column's result processor then runs column-wise: the same values
    as ``conn.execute(stmt).all()``, at a fraction of the cost for the 350k rows a plan reads.
    """
    columns = list(stmt.selected_columns)
    result = conn.execute(stmt.with_only_columns(*(type_coerce(c, NullType()) for c in columns)))
    type_codes = [d[1] for d in result.cursor.description]  # PostgreSQL's processors depend on them
    raw = result.all()
    if not raw:
        return []
    values = []
    for index, column in enumerate(columns):
        cells = list(map(operator.itemgetter(index), raw))
        process = _result_processor(column, conn.dialect, type_codes[index])
        values.append(cells if process is None else _processed(cells, column, process))
    return list(zip(*values, strict=True))
