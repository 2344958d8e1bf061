"""Alembic builds exactly the schema ``switchdb.tables`` declares, on both backends."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from switchdb.engine import VERSION_TABLE, current_revision, head_revision, include_object, open_database, upgrade
from switchdb.errors import DatabaseError
from switchdb.tables import KAMAILIO_TABLE_VERSIONS, KAMAILIO_VIEWS, metadata


def _schema_diff(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": include_object,
                "version_table": VERSION_TABLE,
            },
        )
        return list(compare_metadata(context, metadata))


def test_head_is_reached_on_an_empty_database(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        names = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(metadata.tables) <= names
    assert VERSION_TABLE in names


def test_migrated_schema_matches_metadata(engine: sa.Engine) -> None:
    assert _schema_diff(engine) == []


def test_kamailio_views_and_versions_exist(engine: sa.Engine) -> None:
    assert set(KAMAILIO_VIEWS) <= set(sa.inspect(engine).get_view_names())
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT table_name, table_version FROM version")).all()
    assert dict(rows) == KAMAILIO_TABLE_VERSIONS == {"address": 6, "subscriber": 7}


def test_upgrade_twice_changes_nothing(engine: sa.Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM version")).scalar_one() == 2
    assert _schema_diff(engine) == []


def test_downgrade_to_base_and_back(engine: sa.Engine) -> None:
    from alembic import command

    from switchdb.engine import _alembic_config

    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) <= {VERSION_TABLE}
    assert not set(KAMAILIO_VIEWS) & set(inspector.get_view_names())
    upgrade(engine)
    assert _schema_diff(engine) == []


def test_first_use_of_an_empty_sqlite_file_upgrades_it(tmp_path: Path) -> None:
    path = tmp_path / "switch.db"
    path.touch()  # empty file: SQLite treats it as an empty database
    engine = open_database(f"sqlite:///{path}")
    try:
        assert current_revision(engine) == head_revision()
        assert "customers" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_open_without_upgrade_leaves_the_database_alone(sqlite_url: str) -> None:
    engine = open_database(sqlite_url, upgrade=False)
    try:
        assert current_revision(engine) is None
    finally:
        engine.dispose()


def _open_at_once(url: str, count: int = 4) -> list[BaseException]:
    """``open_database(url)`` from ``count`` threads released together; what they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def open_one() -> None:
        try:
            start.wait()
            open_database(url).dispose()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_first_use_creates_the_schema_once(db_url: str) -> None:
    assert _open_at_once(db_url) == []
    engine = open_database(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM version")).scalar_one() == 2
    finally:
        engine.dispose()


def test_new_sqlite_files_opened_four_at_once_never_report_locked(tmp_path: Path) -> None:
    """Switching a new file to WAL takes an exclusive lock SQLite does not wait for: without the
    retry, 11 of 40 such races failed with "database is locked"; 12 rounds catch it nearly always."""
    errors = [e for round_ in range(12) for e in _open_at_once(f"sqlite:///{tmp_path / f'race-{round_}.db'}")]
    assert errors == []


def test_a_database_from_a_newer_trunkline_is_refused(sqlite_url: str) -> None:
    open_database(sqlite_url).dispose()
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(DatabaseError, match=r"cannot upgrade database .*revision '9999' is unknown"):
        open_database(sqlite_url)


def test_the_schema_comparison_would_notice_a_drift(engine: sa.Engine) -> None:
    # Guards the test above: a column added to the tables without a migration is a difference.
    drifted = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["customers"].append_column(sa.Column("shoe_size", sa.Integer()))
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "version_table": VERSION_TABLE}
        )
        diff = compare_metadata(context, drifted)
    assert [d[0] for d in diff] == ["add_column"]
