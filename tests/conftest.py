"""Fixtures for the whole suite: the switch database on both backends Trunkline supports.

- `postgres_server` (session): a real PostgreSQL server, one per pytest-xdist worker. Skipped
  when no PostgreSQL binaries are installed, except under CI (`CI` set), where that is a failure:
  a CI run that silently skipped every PostgreSQL test would prove nothing.
- `postgres_url`: a fresh, empty database on that server per test (dropped afterwards).
- `sqlite_url`: a fresh SQLite file per test.
- `db_url`: parametrized over `sqlite` and `postgres`, so one test body covers both backends.
- `engine`: an upgraded switch database (`open_database(db_url)`) on both backends.

Folder-specific fixtures belong in that folder's own `conftest.py`, not here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.postgres import PostgresServer, PostgresUnavailable
from support.tools import in_ci

from switchdb.engine import open_database


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        if in_ci():
            pytest.fail(f"{exc} (CI is set, so a missing PostgreSQL fails instead of skipping)")
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    # The test's name in the database name helps when reading server logs; the suffix keeps it unique.
    stem = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t_{stem}_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'switch.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """A switch database at head, on SQLite and on PostgreSQL (rating tests override it with their own)."""
    engine = open_database(db_url)
    yield engine
    engine.dispose()
