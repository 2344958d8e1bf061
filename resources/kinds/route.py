"""IngressRoute: assigns a rate card to a customer, with the limits of that route."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from resources.meta import Model, Reference, Resource
from resources.types import Bool, DnsLabel, Int, NonNegativeInt, Percent, PositiveInt, Regex, TechPrefix

Recording = Literal["Disabled", "Enabled", "Sampling"]


class IngressRouteSpec(Model):
    customer_ref: DnsLabel
    rate_card_ref: DnsLabel
    tech_prefix: TechPrefix | None = None
    dial_strings: list[Regex] = Field(
        default_factory=list,
        description="prefixes (digits) or regular expressions on the dialed number",
    )
    priority: Int = 0
    recording: Recording = "Disabled"
    sampling_percent: Percent | None = None
    channels: NonNegativeInt = 0
    flow_speed: NonNegativeInt = 0
    max_duration: PositiveInt | None = None
    over_limit_sip_code: Literal[486, 503] = 503
    enabled: Bool = True

    @model_validator(mode="after")
    def _sampling(self) -> IngressRouteSpec:
        if (self.recording == "Sampling") != (self.sampling_percent is not None):
            raise ValueError("samplingPercent is required with recording: Sampling, and only then")
        return self


class IngressRoute(Resource):
    kind: Literal["IngressRoute"] = "IngressRoute"
    spec: IngressRouteSpec

    plural: ClassVar[str] = "ingressroutes"
    short_names: ClassVar[tuple[str, ...]] = ("ir",)
    table_fields: ClassVar[tuple[str, ...]] = ("customerRef", "rateCardRef", "techPrefix", "priority", "enabled")
    references: ClassVar[tuple[Reference, ...]] = (
        Reference(("customerRef",), "Customer"),
        Reference(("rateCardRef",), "RateCard", same_currency_as=("customerRef",)),
    )
