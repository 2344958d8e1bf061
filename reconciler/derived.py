"""Columns computed at apply time: SIP digests from secrets, Kamailio's address layout.

Registered per (kind, table) as data for ``reconciler.mapping``; each compute function takes
one spec (or list item) and a ``DeriveContext`` and returns ``{column: value}``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.mapping import Derived
from reconciler.secrets import SecretResolver
from resources.secrets import SecretRef
from resources.types import classify_address

PBKDF2_ITERATIONS = 20_000


@dataclass
class DeriveContext:
    secrets: SecretResolver
    namespace: str
    name: str
    base_dir: Path | None

    def secret(self, ref: SecretRef) -> str:
        return self.secrets.resolve(ref, namespace=self.namespace, base_dir=self.base_dir)


class SecretFieldError(Exception):
    def __init__(self, path: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def sip_digests(username: str, realm: str, password: str) -> dict[str, str]:
    """RFC 2617 HA1 and Kamailio's HA1b (username@realm as the user part)."""
    ha1 = hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()
    ha1b = hashlib.md5(f"{username}@{realm}:{realm}:{password}".encode()).hexdigest()
    return {"ha1": ha1, "ha1b": ha1b}


def _credential_digests(spec: Any, ctx: DeriveContext) -> dict[str, Any]:
    from reconciler.secrets import SecretUnavailable

    try:
        password = ctx.secret(spec.password_ref)
    except SecretUnavailable as exc:
        raise SecretFieldError(("passwordRef",), str(exc)) from None
    return sip_digests(spec.username, spec.realm, password)


def _address_columns(spec: Any, ctx: DeriveContext | None) -> dict[str, Any]:
    address = spec.address
    if "/" not in address and address.replace(".", "").isdigit():
        return {"ip_addr": address, "mask": 32}  # the common case, already validated as IPv4
    if classify_address(spec.address) == "hostname":
        return {"ip_addr": spec.address, "mask": None}
    network = ipaddress.ip_network(spec.address, strict=False)
    return {"ip_addr": str(network.network_address), "mask": network.prefixlen}


def portal_password_hash(login: str, password: str, *, salt_source: str) -> str:
    """PBKDF2 with a salt fixed per login, so an unchanged password plans as unchanged."""
    salt = hashlib.sha256(salt_source.encode()).hexdigest()[:16]
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), PBKDF2_ITERATIONS).hex()
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${salt}${digest}"


def _contact_password(contact: Any, ctx: DeriveContext) -> dict[str, Any]:
    from reconciler.secrets import SecretUnavailable

    if contact.password_ref is None:
        return {"password_hash": None}
    try:
        password = ctx.secret(contact.password_ref)
    except SecretUnavailable as exc:
        raise SecretFieldError(("passwordRef",), str(exc)) from None
    salt_source = f"{ctx.namespace}/{ctx.name}/{contact.email.lower()}"
    return {"password_hash": portal_password_hash(contact.email, password, salt_source=salt_source)}


DERIVED: dict[tuple[str, str], tuple[Derived, ...]] = {
    ("CredentialAuthentication", "credential_authentications"): (
        Derived(("ha1", "ha1b"), _credential_digests, sensitive=True, label="password"),
    ),
    ("IpAuthentication", "ip_authentications"): (Derived(("ip_addr", "mask"), _address_columns, reads_secrets=False),),
    ("Customer", "customer_contacts"): (
        Derived(("password_hash",), _contact_password, sensitive=True, label="password"),
    ),
}
