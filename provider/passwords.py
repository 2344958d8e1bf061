"""Passwords given directly from Pulumi: a salted hash for the state, the value for one call.

The state keeps ``password_hash`` (PBKDF2-SHA256 with a random salt) where the program gave
``password``; ``diff`` re-hashes the new value with the stored salt, so an unchanged secret is
no change and a rotated one is. The clear value reaches the engine only through
``CallSecrets``, a ``SecretResolver`` built for one create/update call and then dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from provider.fields import PULUMI_SECRET
from reconciler.secrets import LocalSecrets, SecretUnavailable
from resources.secrets import SecretRef

ITERATIONS = 100_000
SCHEME = "pbkdf2_sha256"


def hash_password(clear: str, *, salt: str | None = None) -> str:
    salt = salt if salt is not None else secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", clear.encode(), salt.encode(), ITERATIONS).hex()
    return f"{SCHEME}${ITERATIONS}${salt}${digest}"


def matches(clear: str, hashed: str | None) -> bool:
    """Does ``clear`` hash to ``hashed`` (with the salt and iterations recorded in it)?"""
    if not hashed:
        return False
    try:
        scheme, iterations, salt, digest = hashed.split("$")
    except ValueError:
        return False
    if scheme != SCHEME:
        return False
    again = hashlib.pbkdf2_hmac("sha256", clear.encode(), salt.encode(), int(iterations)).hex()
    return hmac.compare_digest(again, digest)


@dataclass
class CallSecrets:
    """Resolves the references ``fields.to_manifest`` made for direct passwords; the rest locally."""

    values: dict[str, str] = field(default_factory=dict)  # "spec.contacts[0]" → clear value
    fallback: LocalSecrets = field(default_factory=LocalSecrets)

    def resolve(self, ref: SecretRef, *, namespace: str, base_dir: Path | None) -> str:
        selector = ref.secret_key_ref
        if selector is not None and selector.name == PULUMI_SECRET:
            if selector.key not in self.values:
                raise SecretUnavailable(
                    f"{selector.key}.password is not in this Pulumi program's inputs; "
                    "give `password` (a pulumi.Output.secret) or a passwordRef"
                )
            return self.values[selector.key]
        return self.fallback.resolve(ref, namespace=namespace, base_dir=base_dir)
