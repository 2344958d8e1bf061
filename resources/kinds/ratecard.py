"""RateCard: what a call to each prefix costs. Decks of 100k+ rates are normal."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from resources.meta import Model, Resource
from resources.types import (
    Bool,
    CurrencyCode,
    Int,
    NonEmptyStr,
    NonNegativeInt,
    NonNegativeMoney,
    PositiveInt,
    Prefix,
    Str,
)


def _to_utc(value: Any) -> datetime:
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an RFC 3339 date-time or date") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise ValueError(f"{value.isoformat()} is out of range in UTC") from exc
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise ValueError("expected an RFC 3339 date-time or date")


UtcDateTime = Annotated[
    datetime,
    BeforeValidator(_to_utc),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A timestamp, normalised to UTC; a bare date means midnight UTC."""


class RateDefaults(Model):
    connect_fee: NonNegativeMoney = Field(default=Decimal(0))
    minimum_seconds: NonNegativeInt = 0
    initial_increment: PositiveInt = 1
    subsequent_increment: PositiveInt = 1


class Rate(Model):
    prefix: Prefix
    name: Str | None = None
    per_minute: NonNegativeMoney
    connect_fee: NonNegativeMoney | None = None
    minimum_seconds: NonNegativeInt | None = None
    initial_increment: PositiveInt | None = None
    subsequent_increment: PositiveInt | None = None
    effective_from: UtcDateTime | None = None
    blocked: Bool = False


class ConfigMapKeyRef(Model):
    name: NonEmptyStr
    key: NonEmptyStr


class RatesFrom(Model):
    """Where the deck lives: a CSV file (relative to the manifest) or a ConfigMap key."""

    csv: NonEmptyStr | None = None
    config_map_ref: ConfigMapKeyRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RatesFrom:
        if (self.csv is None) == (self.config_map_ref is None):
            raise ValueError("set exactly one of csv or configMapRef")
        if self.csv is not None:
            parts = PurePosixPath(self.csv.replace("\\", "/")).parts
            if PurePosixPath(self.csv).is_absolute() or ".." in parts or ":" in self.csv:
                # A manifest must not make Trunkline read files outside its own tree.
                raise ValueError(f"csv must be a relative path inside the manifests' directory, got {self.csv!r}")
        return self


class RateCardSpec(Model):
    currency: CurrencyCode
    description: Str | None = None
    precision: Annotated[Int, Field(ge=0, le=8)] = 4
    rounding: Literal["up", "down", "nearest"] = "up"
    defaults: RateDefaults = Field(default_factory=RateDefaults)
    rates: list[Rate] | None = None
    rates_from: RatesFrom | None = None

    @model_validator(mode="after")
    def _one_source(self) -> RateCardSpec:
        if (self.rates is None) == (self.rates_from is None):
            raise ValueError("set exactly one of rates or ratesFrom")
        return self


def duplicate_rates(rates: list[Rate]) -> list[tuple[int, str]]:
    """Indexes of rates repeating an earlier (prefix, effectiveFrom), with a message."""
    seen: dict[tuple[str, datetime | None], int] = {}
    found: list[tuple[int, str]] = []
    for index, rate in enumerate(rates):
        key = (rate.prefix, rate.effective_from)
        if key in seen:
            when = f" effective {rate.effective_from.isoformat()}" if rate.effective_from else ""
            found.append((index, f"prefix {rate.prefix}{when} repeats rate #{seen[key] + 1}"))
        else:
            seen[key] = index
    return found


class RateCard(Resource):
    kind: Literal["RateCard"] = "RateCard"
    spec: RateCardSpec

    plural: ClassVar[str] = "ratecards"
    short_names: ClassVar[tuple[str, ...]] = ("rc",)
    source_fields: ClassVar[tuple[str, ...]] = ("ratesFrom",)
    table_fields: ClassVar[tuple[str, ...]] = ("currency", "description", "precision", "rounding")
    immutable_fields: ClassVar[dict[str, str]] = {
        "currency": "rated CDRs and routes depend on the card's currency; create a new card instead",
    }
