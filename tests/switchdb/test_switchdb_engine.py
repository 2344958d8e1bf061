"""Opening the database: which URL, per-backend settings, and errors a user can act on."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from resources.errors import TrunklineError
from switchdb.engine import DEFAULT_URL, database_url, open_database, redact_url
from switchdb.errors import DatabaseError


@pytest.mark.parametrize(
    ("explicit", "env", "expected"),
    [
        pytest.param("sqlite:///a.db", "sqlite:///b.db", "sqlite:///a.db", id="explicit beats the environment"),
        pytest.param(None, "sqlite:///b.db", "sqlite:///b.db", id="environment beats the default"),
        pytest.param(None, None, DEFAULT_URL, id="default when nothing is given"),
        pytest.param("", None, DEFAULT_URL, id="an empty --db counts as not given"),
    ],
)
def test_database_url_precedence(
    monkeypatch: pytest.MonkeyPatch, explicit: str | None, env: str | None, expected: str
) -> None:
    if env is None:
        monkeypatch.delenv("TRUNKLINE_DB", raising=False)
    else:
        monkeypatch.setenv("TRUNKLINE_DB", env)
    assert database_url(explicit) == expected


def test_default_url_is_a_local_sqlite_file() -> None:
    assert DEFAULT_URL == "sqlite:///trunkline.db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "postgresql://trunkline:hunter2@db:5432/switch",
            "postgresql://trunkline:***@db:5432/switch",
            id="password in the authority",
        ),
        pytest.param(
            "postgresql://trunkline@db/switch?password=hunter2",
            "postgresql://trunkline@db/switch?password=***",
            id="password as a query parameter",
        ),
        pytest.param("sqlite:///switch.db", "sqlite:///switch.db", id="nothing to hide"),
        pytest.param("not a url:hunter2@x", "not a url:hunter2@x", id="unparseable without authority"),
        pytest.param("weird://u:hunter2@h/[", "weird://u:***@h/[", id="unparseable still hides the password"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_unreachable_postgres_is_a_database_error_without_the_password(scheme: str) -> None:
    url = f"{scheme}://trunkline:hunter2@127.0.0.1:{_closed_port()}/switch"
    with pytest.raises(DatabaseError) as info:
        open_database(url)
    message = str(info.value)
    assert message.startswith("cannot connect to database postgresql+psycopg://trunkline:***@127.0.0.1:")
    assert "hunter2" not in message
    assert isinstance(info.value, TrunklineError)
    assert isinstance(info.value.__cause__, sa.exc.OperationalError)


def test_unreachable_postgres_fails_even_without_upgrade() -> None:
    with pytest.raises(DatabaseError, match="cannot connect to database"):
        open_database(f"postgresql://u:p@127.0.0.1:{_closed_port()}/switch", upgrade=False)


@pytest.mark.postgres
def test_postgres_urls_use_psycopg_3(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgres://")
    engine = open_database(plain)
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM customers")).scalar_one() == 0
    finally:
        engine.dispose()


def test_sqlite_in_a_missing_directory_is_a_database_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match=r"cannot connect to database sqlite:///.*/nowhere/switch.db: "):
        open_database(f"sqlite:///{tmp_path / 'nowhere' / 'switch.db'}")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("mysql://u:hunter2@h/db", r"unsupported backend 'mysql'", id="unsupported backend"),
        pytest.param("::not a url::", r"cannot parse database URL", id="not a URL"),
    ],
)
def test_unusable_urls_are_database_errors(url: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=message) as info:
        open_database(url)
    assert "hunter2" not in str(info.value)


def test_sqlite_connections_are_configured(sqlite_url: str) -> None:
    engine = open_database(sqlite_url)
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000}


def test_sqlite_enforces_foreign_keys(sqlite_url: str) -> None:
    engine = open_database(sqlite_url)
    try:
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO balances (customer_id, amount, currency, updated_at) "
                    "VALUES (42, '0', 'USD', '2025-01-01 00:00:00')"
                )
            )
    finally:
        engine.dispose()


def test_sqlite_immediate_transactions_take_the_write_lock_at_begin(sqlite_url: str) -> None:
    # What apply relies on: plan and write under one lock, so no other writer slips in between.
    engine = open_database(sqlite_url)
    other = sa.create_engine(sqlite_url, connect_args={"timeout": 0})
    try:
        with engine.connect() as conn:
            conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                conn.execute(sa.text("SELECT count(*) FROM customers")).scalar_one()  # reads only
                with pytest.raises(sa.exc.OperationalError, match="locked"), other.begin() as blocked:
                    blocked.exec_driver_sql("DELETE FROM version WHERE table_name = 'nothing'")
    finally:
        other.dispose()
        engine.dispose()


def test_sqlite_deferred_is_the_default(sqlite_url: str) -> None:
    engine = open_database(sqlite_url)
    other = sa.create_engine(sqlite_url, connect_args={"timeout": 0})
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT count(*) FROM customers")).scalar_one()
            with other.begin() as free:
                free.exec_driver_sql("DELETE FROM version WHERE table_name = 'nothing'")
    finally:
        other.dispose()
        engine.dispose()


def test_sqlite_begin_mode_is_checked(sqlite_url: str) -> None:
    engine = open_database(sqlite_url)
    try:
        with engine.connect() as conn:
            conn.execution_options(sqlite_begin="SOMETIMES")
            with pytest.raises(ValueError, match="sqlite_begin"):
                conn.begin()
    finally:
        engine.dispose()


def test_engines_are_usable_from_threads(db_url: str) -> None:
    engine = open_database(db_url)
    counts: list[int] = []

    def count() -> None:
        with engine.connect() as conn:
            counts.append(conn.execute(sa.text("SELECT count(*) FROM version")).scalar_one())

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert counts == [2, 2, 2, 2]
