"""Customer: the account that sends calls and pays for them (ConnexCS "Customer Management")."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from resources.meta import ClearPassword, Model, Resource, Uniqueness
from resources.secrets import SecretRef
from resources.types import (
    E164,
    Bool,
    CountryCode,
    CurrencyCode,
    Email,
    HttpUrl,
    NonEmptyStr,
    NonNegativeInt,
    NonNegativeMoney,
    Percent,
    Regex,
    Str,
)

CustomerStatus = Literal["Active", "Inactive", "PendingApproval"]


class PostalAddress(Model):
    street: Str | None = None
    city: Str | None = None
    region: Str | None = None
    postal_code: Str | None = None
    country: CountryCode | None = None


class Contact(Model):
    name: NonEmptyStr
    email: Email
    portal_login: Bool = False
    auto_generate_password: Bool = False
    password_ref: SecretRef | None = None
    password: ClearPassword = None
    public_notes: Str | None = None
    private_notes: Str | None = None

    @model_validator(mode="after")
    def _one_password_source(self) -> Contact:
        if self.auto_generate_password and self.password_ref is not None:
            raise ValueError("set autoGeneratePassword or passwordRef, not both")
        return self


class CliRule(Model):
    """A caller-ID rule: with any rules, a call passes only when its CLI and PAI match one."""

    cli: Regex
    p_asserted_id: Regex | None = None
    rewrite_cli: E164 | None = None
    rewrite_p_asserted_id: E164 | None = None
    forced: Bool = False
    dialed_number_match: Regex | None = None
    notes: Str | None = None

    @model_validator(mode="after")
    def _forced_needs_rewrite(self) -> CliRule:
        if self.forced and self.rewrite_cli is None:
            raise ValueError("a forced rule needs rewriteCli: the CLI that replaces a non-matching one")
        return self


class CustomerSpec(Model):
    display_name: NonEmptyStr
    status: CustomerStatus = "Active"
    currency: CurrencyCode
    debit_limit: NonNegativeMoney = Field(default=Decimal(0))
    minimum_payment: NonNegativeMoney = Field(default=Decimal(0))
    tax_percent: Percent = Field(default=Decimal(0))
    portal_access: Bool = False
    paypal_email: Email | None = None
    website: HttpUrl | None = None
    address: PostalAddress | None = None
    channels: NonNegativeInt = 0
    flow_speed: NonNegativeInt = 0
    daily_spend_limit: NonNegativeMoney | None = None
    tags: list[Str] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)
    cli_rules: list[CliRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_contact_logins(self) -> CustomerSpec:
        seen: set[str] = set()
        for contact in self.contacts:
            login = contact.email.lower()
            if login in seen:
                raise ValueError(f"contact email {contact.email} appears twice; it is the login")
            seen.add(login)
        return self


class Customer(Resource):
    kind: Literal["Customer"] = "Customer"
    spec: CustomerSpec

    plural: ClassVar[str] = "customers"
    short_names: ClassVar[tuple[str, ...]] = ("cust",)
    status_field: ClassVar[str | None] = "status"
    table_fields: ClassVar[tuple[str, ...]] = (
        "displayName",
        "status",
        "currency",
        "debitLimit",
        "channels",
        "flowSpeed",
    )
    immutable_fields: ClassVar[dict[str, str]] = {
        "currency": "balances, payments and CDRs are kept in the account currency; "
        "create a new customer for another currency",
    }
    uniqueness: ClassVar[tuple[Uniqueness, ...]] = ()
