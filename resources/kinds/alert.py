"""Alert: who hears about a customer's balance, spend or traffic quality going wrong."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from resources.meta import Model, Reference, Resource, Uniqueness
from resources.types import E164, DnsLabel, Duration, Email, HttpUrl, Money, NonEmptyStr

Area = Literal["Balance", "Spend", "ASR", "ACD", "PDD", "Channels", "CPS"]
Operator = Literal["<", "<=", ">", ">=", "=="]
STATS_AREAS = frozenset({"ASR", "ACD", "PDD", "Channels", "CPS"})


class Recipient(Model):
    email: Email | None = None
    phone: E164 | None = None
    webhook: HttpUrl | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Recipient:
        if sum(v is not None for v in (self.email, self.phone, self.webhook)) != 1:
            raise ValueError("set exactly one of email, phone or webhook")
        return self


class AlertSpec(Model):
    customer_ref: DnsLabel
    name: NonEmptyStr
    recipients: list[Recipient] = Field(min_length=1)
    area: Area
    operator: Operator
    threshold: Money
    reset_threshold: Money | None = None
    sample_period: Duration | None = None
    repeat: Duration | None = None
    penalty: Duration | None = None

    @model_validator(mode="after")
    def _hysteresis(self) -> AlertSpec:
        reset = self.reset_threshold
        if reset is not None:
            if self.operator in ("<", "<=") and reset < self.threshold:
                raise ValueError("resetThreshold must not be below threshold for operator " + self.operator)
            if self.operator in (">", ">=") and reset > self.threshold:
                raise ValueError("resetThreshold must not be above threshold for operator " + self.operator)
        if self.sample_period is not None and self.area not in STATS_AREAS:
            raise ValueError(f"samplePeriod applies to {', '.join(sorted(STATS_AREAS))} alerts only")
        return self


class Alert(Resource):
    kind: Literal["Alert"] = "Alert"
    spec: AlertSpec

    plural: ClassVar[str] = "alerts"
    table_fields: ClassVar[tuple[str, ...]] = ("customerRef", "name", "area", "operator", "threshold")
    references: ClassVar[tuple[Reference, ...]] = (Reference(("customerRef",), "Customer"),)
    uniqueness: ClassVar[tuple[Uniqueness, ...]] = (
        Uniqueness(
            key=lambda spec: (spec.customer_ref, spec.name),
            field="spec.name",
            message="customer {0} already has an alert named {1!r}: {other}",
            scope="namespace",
        ),
    )
