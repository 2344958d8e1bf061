"""Fixtures for the rating core: tariffs and rate cards small enough to check by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rating.charges import Tariff


@pytest.fixture
def per_second() -> Tariff:
    """0.0125/min, billed 1/1, precision 4, rounding up: the card most examples use."""
    return Tariff(per_minute=Decimal("0.0125"))
