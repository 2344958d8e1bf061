"""Field types of the declared model: strict, and carrying their JSON-schema constraints.

Every type rejects what a carrier would regret accepting (a float for money, ``yes`` for a
boolean, a regex that does not compile) and carries ``pattern``/``enum``/bounds into the JSON
schema, so the CRDs generated from these models make the API server reject the same input.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, WithJsonSchema

from resources.iso import COUNTRIES, CURRENCIES

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
# What the database keeps exactly: NUMERIC(20, 8). More would be rounded, then plan as drift.
MONEY_DECIMALS = 8
MONEY_INTEGER_DIGITS = 12


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("expected a decimal number, got a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        # YAML gives floats for 0.05; str() keeps the digits the user wrote.
        result = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(DECIMAL_PATTERN, text):
            raise ValueError(f"expected a decimal number such as 0.0125, got {value!r}")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - pattern already checked
            raise ValueError(f"expected a decimal number, got {value!r}") from exc
    else:
        raise ValueError(f"expected a decimal number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError("expected a finite decimal number")
    _, digits, exponent = result.normalize().as_tuple()
    assert isinstance(exponent, int)
    if -exponent > MONEY_DECIMALS:
        raise ValueError(f"at most {MONEY_DECIMALS} decimal places are kept, got {value!r}")
    if len(digits) + exponent > MONEY_INTEGER_DIGITS:
        raise ValueError(f"at most {MONEY_INTEGER_DIGITS} digits before the decimal point, got {value!r}")
    return result


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


_MONEY_SCHEMA = {
    "type": "string",
    "pattern": DECIMAL_PATTERN,
    "description": "decimal amount (quote it in YAML to keep every digit)",
}

Money = Annotated[Decimal, BeforeValidator(_to_decimal), WithJsonSchema(_MONEY_SCHEMA)]
"""A decimal amount; never a binary float in storage."""

NonNegativeMoney = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    AfterValidator(_non_negative),
    WithJsonSchema({**_MONEY_SCHEMA, "pattern": r"^[0-9]+(\.[0-9]+)?$"}),
]


def _percent(value: Decimal) -> Decimal:
    if not (0 <= value <= 100):
        raise ValueError("must be between 0 and 100")
    return value


Percent = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    AfterValidator(_percent),
    WithJsonSchema({**_MONEY_SCHEMA, "pattern": r"^[0-9]{1,3}(\.[0-9]+)?$"}),
]

Int = Annotated[int, Strict()]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
PositiveInt = Annotated[int, Strict(), Field(ge=1)]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]
NonEmptyStr = Annotated[str, Strict(), Field(min_length=1)]
Port = Annotated[int, Strict(), Field(ge=1, le=65535)]


def _code(table: frozenset[str], what: str):
    def check(value: Any) -> str:
        if not isinstance(value, str) or value.upper() not in table:
            raise ValueError(f"{value!r} is not an {what}")
        return value.upper()

    return check


CurrencyCode = Annotated[
    str,
    BeforeValidator(_code(CURRENCIES, "ISO 4217 currency code")),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z]{3}$"}),
]
CountryCode = Annotated[
    str,
    BeforeValidator(_code(COUNTRIES, "ISO 3166-1 alpha-2 country code")),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z]{2}$"}),
]


def _digits(*, min_len: int, max_len: int, what: str):
    def check(value: Any) -> str:
        if isinstance(value, bool):
            raise ValueError(f"expected {what}, got a boolean")
        if isinstance(value, int) and value >= 0:
            value = str(value)
        if not isinstance(value, str):
            raise ValueError(f"expected {what}, got {type(value).__name__}")
        text = value.strip()
        if text.startswith("+"):
            text = text[1:]
        if not text.isascii() or not text.isdigit() or not (min_len <= len(text) <= max_len):
            raise ValueError(f"expected {what} ({min_len}-{max_len} digits), got {value!r}")
        return text

    return check


E164 = Annotated[
    str,
    BeforeValidator(_digits(min_len=4, max_len=15, what="an E.164 number")),
    WithJsonSchema({"type": "string", "pattern": r"^\+?[0-9]{4,15}$"}),
]
"""An E.164 number, stored as digits without ``+``; YAML ints are accepted."""

Prefix = Annotated[
    str,
    BeforeValidator(_digits(min_len=1, max_len=20, what="a dialing prefix")),
    WithJsonSchema({"type": "string", "pattern": r"^\+?[0-9]{1,20}$"}),
]
TechPrefix = Annotated[
    str,
    Strict(),
    Field(pattern=r"^[0-9#*]{1,10}$", description="digits (or # and *) before the number"),
]


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}, deep nesting
        raise ValueError(f"regular expression does not compile: {exc}") from exc
    return value


Regex = Annotated[str, Strict(), Field(min_length=1), AfterValidator(_regex)]

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def classify_address(value: str) -> str:
    """Return ``ip``, ``cidr`` or ``hostname`` for a valid address; raise ValueError otherwise."""
    if "/" in value:
        try:
            ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid CIDR network: {exc}") from exc
        return "cidr"
    try:
        ipaddress.ip_address(value)
        return "ip"
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", value):
        raise ValueError(f"{value!r} is not a valid IP address")
    if not _HOSTNAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an IP address, CIDR network or hostname")
    return "hostname"


def _address(value: str) -> str:
    classify_address(value)
    return value


Address = Annotated[str, Strict(), AfterValidator(_address)]


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid IP network: {exc}") from exc


Cidr = Annotated[str, Strict(), AfterValidator(_cidr)]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DnsLabel = Annotated[
    str,
    Strict(),
    Field(
        min_length=1,
        max_length=63,
        pattern=DNS_LABEL,
        description="lower-case letters, digits and '-', at most 63 characters",
    ),
]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_DURATION_UNITS = (86400, 3600, 60, 1)


def duration_seconds(text: str) -> int:
    """``1h30m`` → 5400. Raises ValueError for anything else."""
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m, 1h or 1d")
    return sum(int(g) * unit for g, unit in zip(match.groups(), _DURATION_UNITS) if g)


def _duration(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value}s"
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 30s, 15m, 1h or 1d")
    if duration_seconds(value) <= 0:
        raise ValueError("duration must be positive")
    return value


Duration = Annotated[
    str,
    BeforeValidator(_duration),
    WithJsonSchema({"type": "string", "pattern": r"^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"}),
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


Email = Annotated[str, Strict(), AfterValidator(_email)]


def _url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/$.?#].[^\s]*", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


HttpUrl = Annotated[str, Strict(), AfterValidator(_url)]
