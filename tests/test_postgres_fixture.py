"""The PostgreSQL fixtures give a working server and one isolated database per test."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from support.postgres import PostgresServer


@pytest.mark.postgres
def test_postgres_url_is_a_working_database(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE customer (id integer PRIMARY KEY, name text NOT NULL)"))
            conn.execute(sa.text("INSERT INTO customer VALUES (1, 'acme'), (2, 'globex')"))
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, name FROM customer ORDER BY id")).all()
            server_version = conn.execute(sa.text("SHOW server_version_num")).scalar_one()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [(1, "acme"), (2, "globex")]
    assert engine.dialect.driver == "psycopg"
    assert int(server_version) >= 130000


@pytest.mark.postgres
def test_databases_are_isolated(postgres_server: PostgresServer, postgres_url: str) -> None:
    other_url = postgres_server.create_database("t_isolation_other")
    first, other = sa.create_engine(postgres_url), sa.create_engine(other_url)
    try:
        with first.begin() as conn:
            conn.execute(sa.text("CREATE TABLE only_here (x integer)"))
        with other.connect() as conn:
            tables = (
                conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
            )
        assert tables == []
        assert postgres_url != other_url
    finally:
        first.dispose()
        other.dispose()
        postgres_server.drop_database("t_isolation_other")


@pytest.mark.postgres
def test_server_settings_are_throwaway(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.conninfo()) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("fsync", "synchronous_commit", "full_page_writes", "listen_addresses")
        }
    assert settings == {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "listen_addresses": "127.0.0.1",
    }


def test_db_url_covers_both_backends(db_url: str, request: pytest.FixtureRequest) -> None:
    backend = request.node.callspec.id
    assert backend in ("sqlite", "postgres")
    expected_prefix = {"sqlite": "sqlite:///", "postgres": "postgresql+psycopg://"}[backend]
    assert db_url.startswith(expected_prefix)
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (x integer)"))
            conn.execute(sa.text("INSERT INTO t VALUES (42)"))
            assert conn.execute(sa.text("SELECT x FROM t")).scalar_one() == 42
    finally:
        engine.dispose()
