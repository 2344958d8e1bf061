"""Did: an inbound number, what it rings, and what it costs and earns each month."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from resources.meta import Model, Reference, Resource, Uniqueness
from resources.types import (
    E164,
    Bool,
    DnsLabel,
    NonEmptyStr,
    NonNegativeInt,
    NonNegativeMoney,
    PositiveInt,
)

SipUri = Annotated[str, Field(pattern=r"^sips?:[^\s]+$", strict=True)]


class DidDestination(Model):
    """Exactly one of a SIP ``uri``, an ``external`` number, or a SIP ``user`` of the customer."""

    uri: SipUri | None = None
    external: E164 | None = None
    user: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DidDestination:
        if sum(v is not None for v in (self.uri, self.external, self.user)) != 1:
            raise ValueError("set exactly one of uri, external or user")
        return self


class DidProvider(Model):
    name: NonEmptyStr
    card_ref: DnsLabel | None = None


class DidSpec(Model):
    number: E164
    destination: DidDestination
    provider: DidProvider
    customer_ref: DnsLabel
    customer_card_ref: DnsLabel | None = None
    cost: NonNegativeMoney
    retail: NonNegativeMoney
    setup_cost: NonNegativeMoney | None = None
    setup_retail: NonNegativeMoney | None = None
    channels: NonNegativeInt | None = None
    flow_speed: NonNegativeInt | None = None
    recording: Bool | None = None
    max_duration: PositiveInt | None = None
    enabled: Bool = True


class Did(Resource):
    kind: Literal["Did"] = "Did"
    spec: DidSpec

    plural: ClassVar[str] = "dids"
    table_fields: ClassVar[tuple[str, ...]] = ("number", "customerRef", "retail", "cost", "enabled")
    references: ClassVar[tuple[Reference, ...]] = (
        Reference(("customerRef",), "Customer"),
        Reference(("customerCardRef",), "RateCard", same_currency_as=("customerRef",)),
        Reference(("provider", "cardRef"), "RateCard"),
    )
    uniqueness: ClassVar[tuple[Uniqueness, ...]] = (
        Uniqueness(
            key=lambda spec: (spec.number,),
            field="spec.number",
            message="number {0} already belongs to {other}",
        ),
    )
