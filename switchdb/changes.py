"""The change counters' triggers (migration 0004), as the engine recreates them on SQLite.

SQLite has no statement triggers, so its counting triggers run once per row: ~7 µs a row, 2.5 s
of a 350k-row cold apply. A bulk insert of the engine's (``switchdb.bulk``) therefore drops the
table's INSERT trigger inside its own transaction, inserts, moves the counter itself and creates
the trigger again before anything commits. SQLite's DDL is transactional, so no other connection
ever sees the table without its trigger. ``INSERT_TRIGGER`` must stay the text migration 0004
created (``tests/switchdb`` compares them), or a database would change as it is written.
"""

from __future__ import annotations

from sqlalchemy import Connection

INSERT_TRIGGER = (
    "CREATE TRIGGER trunkline_count_{table}_insert AFTER INSERT ON {table} BEGIN "
    "UPDATE trunkline_table_changes SET changes = changes + 1 WHERE table_name = '{table}'; END"
)


def insert_trigger_sql(table: str) -> str:
    return INSERT_TRIGGER.format(table=table)


def has_insert_trigger(conn: Connection, table: str) -> bool:
    found = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?", (f"trunkline_count_{table}_insert",)
    ).first()
    return found is not None


def drop_insert_trigger(conn: Connection, table: str) -> None:
    conn.exec_driver_sql(f"DROP TRIGGER trunkline_count_{table}_insert")


def restore_insert_trigger(conn: Connection, table: str) -> None:
    """Count the rows just inserted (one step is enough: a counter says "moved", not how much)."""
    conn.exec_driver_sql("UPDATE trunkline_table_changes SET changes = changes + 1 WHERE table_name = ?", (table,))
    conn.exec_driver_sql(insert_trigger_sql(table))
