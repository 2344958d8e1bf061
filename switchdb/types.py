"""Column types that keep money exact and time zones explicit on both backends.

SQLite has no decimal type: a NUMERIC column there goes through REAL and loses cents. So
``Money`` is NUMERIC(20, 8) on PostgreSQL and TEXT (canonical decimal digits) on SQLite, and
Python always sees ``Decimal``. Values that a NUMERIC(20, 8) cannot hold exactly are refused on
*both* backends, so a deck that applies on SQLite cannot fail or be silently rounded on
PostgreSQL (a rounded value would also make every later plan show a change).

``UtcDateTime`` refuses naive datetimes and always returns aware UTC ones: timestamptz on
PostgreSQL, ISO text via SQLAlchemy's DateTime on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import JSON, Dialect, Numeric, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine

MONEY_PRECISION = 20
MONEY_SCALE = 8


@cache
def _limit(digits: int) -> Decimal:
    return Decimal(10) ** digits


def _check_fits(value: Decimal, *, precision: int, scale: int, what: str) -> None:
    # Runs for every amount written (300k+ in a cold apply): normalize only when the digits as
    # given have too many places, which trailing zeros may explain.
    if not value.is_finite():
        raise ValueError(f"{what} {value} is not a finite number")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > scale:
        exponent = value.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        if -exponent > scale:
            raise ValueError(f"{what} {value} has more than {scale} decimal places; it cannot be stored exactly")
    if abs(value) >= _limit(precision - scale):
        raise ValueError(f"{what} {value} has more than {precision - scale} digits before the point")


def _canonical_text(number: Decimal) -> str:
    """``Decimal('1.50')`` → ``'1.5'``, ``1E+2`` → ``'100'``: one text per value, so that SQL
    equality, DISTINCT and GROUP BY on SQLite treat equal amounts as equal."""
    return "0" if number == 0 else format(number.normalize(), "f")


class Money(TypeDecorator[Decimal]):
    """An exact decimal amount: NUMERIC(20, 8) on PostgreSQL, decimal text on SQLite.

    Compare values read back by value, not by text: PostgreSQL returns ``Decimal('0.50000000')``
    for ``Decimal('0.5')``. On SQLite, do money arithmetic in Python, not SQL (it is text there).
    """

    impl = Numeric
    cache_ok = True
    precision = MONEY_PRECISION
    scale = MONEY_SCALE
    what = "amount"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
            # A float has already lost the digits; refusing it here finds the bug at its source.
            raise TypeError(f"{self.what} must be a Decimal, int or decimal string, not {type(value).__name__}")
        number = Decimal(value)
        _check_fits(number, precision=self.precision, scale=self.scale, what=self.what)
        if dialect.name == "sqlite":
            return _canonical_text(number)
        return number

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class Percent(Money):
    """0 to 100 with up to 8 decimals: NUMERIC(11, 8) on PostgreSQL, decimal text on SQLite."""

    cache_ok = True
    precision = 11
    what = "percentage"


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, returned in UTC. Naive datetimes are refused, not guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, not {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a time zone (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite stores the text SQLAlchemy renders; without an offset it sorts and compares
            # correctly because every stored value is UTC.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def Json() -> TypeEngine[Any]:
    """JSON (JSONB on PostgreSQL); Python ``None`` is SQL NULL, not the JSON text ``null``."""
    return JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
