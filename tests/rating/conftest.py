"""Fixtures for the rating tests: tariffs small enough to check by hand, and the rating world.

- `engine` overrides the root one: a switch database at head on both backends, with the carrier
  of ``support.rating_world`` applied. Modules that need another starting point (an empty
  database, rated CDRs, statistics) define their own ``engine``.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from support.rating_world import apply_world

from rating.charges import Tariff
from switchdb.engine import open_database


@pytest.fixture
def per_second() -> Tariff:
    """0.0125/min, billed 1/1, precision 4, rounding up: the card most examples use."""
    return Tariff(per_minute=Decimal("0.0125"))


@pytest.fixture
def engine(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A switch database at head with ``support.rating_world`` applied, on SQLite and PostgreSQL."""
    engine = open_database(db_url)
    apply_world(engine, monkeypatch)
    yield engine
    engine.dispose()
