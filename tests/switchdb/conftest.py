"""Fixtures for switchdb tests: an upgraded engine on each backend, and a customer factory."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from switchdb.tables import customers


@pytest.fixture
def add_customer() -> Callable[..., int]:
    """``add_customer(conn, name, namespace="default", **columns)`` inserts a valid row, returns its id."""

    def add(conn: sa.Connection, name: str = "acme", namespace: str = "default", **columns: Any) -> int:
        row: dict[str, Any] = {
            "namespace": namespace,
            "name": name,
            "display_name": name.title(),
            "status": "Active",
            "currency": "USD",
            "debit_limit": Decimal(0),
            "minimum_payment": Decimal(0),
            "tax_percent": Decimal(0),
            "portal_access": False,
            "channels": 0,
            "flow_speed": 0,
            "tags": [],
            **columns,
        }
        return conn.execute(customers.insert().values(row)).inserted_primary_key[0]

    return add
