"""How a customer's calls are recognised: by source address or by SIP digest credentials."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from resources.meta import ClearPassword, Model, Reference, Resource, Uniqueness
from resources.secrets import SecretRef
from resources.types import (
    Address,
    Cidr,
    DnsLabel,
    NonEmptyStr,
    NonNegativeInt,
    Port,
    PositiveInt,
    Prefix,
    Regex,
    Str,
    TechPrefix,
    classify_address,
)

SipUsername = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._~+-]+$", strict=True),
]
Realm = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.-]+$", strict=True)]
DEFAULT_REALM = "trunkline.local"


class EgressCredentials(Model):
    username: SipUsername
    password_ref: SecretRef
    password: ClearPassword = None


class IpAuthenticationSpec(Model):
    customer_ref: DnsLabel
    address: Address
    channels: NonNegativeInt = 0
    flow_speed: NonNegativeInt = 0
    codecs: list[NonEmptyStr] = Field(default_factory=list)
    switch_manufacturer: Str | None = None
    switch_version: Str | None = None
    protocol: Literal["udp", "tcp", "tls", "tls-srtp"] = "udp"
    port: Port = 5060
    dial_pattern: Regex | None = None
    cli_prefix: Prefix | None = None
    tech_prefix: TechPrefix | None = None
    strip_digits: NonNegativeInt = 0
    bandwidth: PositiveInt | None = None
    force_from: Str | None = None
    direction: Literal["Ingress", "Egress"] = "Ingress"
    credentials: EgressCredentials | None = None

    @model_validator(mode="after")
    def _direction_rules(self) -> IpAuthenticationSpec:
        if self.direction == "Ingress" and classify_address(self.address) == "hostname":
            raise ValueError("a hostname is allowed for direction: Egress only; ingress needs an IP or CIDR")
        if self.credentials is not None and self.direction != "Egress":
            raise ValueError("credentials are for direction: Egress only")
        return self


def _ip_key(spec: IpAuthenticationSpec) -> tuple[object, ...] | None:
    if spec.direction != "Ingress":
        return None
    return (spec.address, spec.port, spec.tech_prefix or "")


class IpAuthentication(Resource):
    kind: Literal["IpAuthentication"] = "IpAuthentication"
    spec: IpAuthenticationSpec

    plural: ClassVar[str] = "ipauthentications"
    short_names: ClassVar[tuple[str, ...]] = ("ipauth",)
    table_fields: ClassVar[tuple[str, ...]] = ("customerRef", "address", "port", "techPrefix", "direction", "channels")
    references: ClassVar[tuple[Reference, ...]] = (Reference(("customerRef",), "Customer"),)
    uniqueness: ClassVar[tuple[Uniqueness, ...]] = (
        Uniqueness(
            key=_ip_key,
            field="spec.address",
            message="address {0}, port {1}, techPrefix {2!r} is already claimed by {other}",
        ),
    )


class CredentialAuthenticationSpec(Model):
    customer_ref: DnsLabel
    username: SipUsername
    realm: Realm = DEFAULT_REALM
    password_ref: SecretRef
    password: ClearPassword = None
    channels: NonNegativeInt = 0
    flow_speed: NonNegativeInt = 0
    codecs: list[NonEmptyStr] = Field(default_factory=list)
    ip_allow_list: list[Cidr] = Field(default_factory=list)


class CredentialAuthentication(Resource):
    kind: Literal["CredentialAuthentication"] = "CredentialAuthentication"
    spec: CredentialAuthenticationSpec

    plural: ClassVar[str] = "credentialauthentications"
    short_names: ClassVar[tuple[str, ...]] = ("sipuser",)
    table_fields: ClassVar[tuple[str, ...]] = ("customerRef", "username", "realm", "channels", "flowSpeed")
    references: ClassVar[tuple[Reference, ...]] = (Reference(("customerRef",), "Customer"),)
    uniqueness: ClassVar[tuple[Uniqueness, ...]] = (
        Uniqueness(
            key=lambda spec: (spec.username.lower(), spec.realm.lower()),
            field="spec.username",
            message="username {0}@{1} is already used by {other}",
        ),
    )
