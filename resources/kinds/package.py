"""Package: something a customer bought, charged per period, maybe with bundled minutes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from resources.meta import Model, Reference, Resource
from resources.types import Bool, DnsLabel, NonEmptyStr, NonNegativeMoney, PositiveInt, Prefix


def _to_date(value: Any) -> date:
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # type: ignore[attr-defined]
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    raise ValueError("expected a date (YYYY-MM-DD)")


Date = Annotated[date, BeforeValidator(_to_date), WithJsonSchema({"type": "string", "format": "date"})]

Frequency = Literal["OneOff", "Daily", "Weekly", "Monthly", "Yearly"]


class Allowance(Model):
    minutes: PositiveInt
    prefixes: list[Prefix] = Field(default_factory=list, description="empty: every destination")


class PackageSpec(Model):
    customer_ref: DnsLabel
    name: NonEmptyStr
    quantity: PositiveInt = 1
    auto_decrement_credit: Bool = False
    cost: NonNegativeMoney
    frequency: Frequency
    start_date: Date | None = None
    end_date: Date | None = None
    allowance: Allowance | None = None
    minimum_spend: Bool = False

    @model_validator(mode="after")
    def _dates_in_order(self) -> PackageSpec:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("endDate is before startDate")
        return self


class Package(Resource):
    kind: Literal["Package"] = "Package"
    spec: PackageSpec

    plural: ClassVar[str] = "packages"
    short_names: ClassVar[tuple[str, ...]] = ("pkg",)
    table_fields: ClassVar[tuple[str, ...]] = ("customerRef", "name", "frequency", "cost", "quantity")
    references: ClassVar[tuple[Reference, ...]] = (Reference(("customerRef",), "Customer"),)
