"""Fixtures for switchdb tests: an upgraded engine on each backend, and a customer factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from support.db import customer_row

from switchdb.tables import customers


@pytest.fixture
def add_customer() -> Callable[..., int]:
    """``add_customer(conn, name, namespace="default", **columns)`` inserts a valid row, returns its id."""

    def add(conn: sa.Connection, name: str = "acme", namespace: str = "default", **columns: Any) -> int:
        row = customer_row(name, namespace, **columns)
        return conn.execute(customers.insert().values(row)).inserted_primary_key[0]

    return add
