"""References to secrets: a password is never a value in a manifest, only where to find it."""

from __future__ import annotations

from pydantic import model_validator

from resources.meta import Model
from resources.types import NonEmptyStr


class SecretKeySelector(Model):
    name: NonEmptyStr
    key: NonEmptyStr


class SecretRef(Model):
    """Exactly one of ``env`` (variable name), ``file`` (path) or ``secretKeyRef`` (Kubernetes)."""

    env: NonEmptyStr | None = None
    file: NonEmptyStr | None = None
    secret_key_ref: SecretKeySelector | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [n for n in ("env", "file", "secret_key_ref") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("set exactly one of env, file or secretKeyRef")
        return self

    def describe(self) -> str:
        """Where the secret lives, never its value (safe for plans and logs)."""
        if self.env is not None:
            return f"env:{self.env}"
        if self.file is not None:
            return f"file:{self.file}"
        assert self.secret_key_ref is not None
        return f"secret:{self.secret_key_ref.name}/{self.secret_key_ref.key}"
