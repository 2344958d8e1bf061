"""Resolving ``passwordRef`` to the secret itself, at plan/apply time only.

The value lives in memory just long enough to compute a digest; it is never returned to a
caller that renders, logs or stores. Kubernetes Secrets are resolved by the operator, which
passes its own resolver; the CLI resolves ``env`` and ``file`` (relative to the manifest). A
``file`` holding age or SOPS ciphertext is decrypted in memory (``reconciler.encrypted``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reconciler import encrypted
from resources.secrets import SecretRef


class SecretUnavailable(Exception):
    """The reference cannot be resolved here; the message never contains the secret."""


class SecretResolver(Protocol):
    def resolve(self, ref: SecretRef, *, namespace: str, base_dir: Path | None) -> str: ...


@dataclass
class LocalSecrets:
    """``env`` from this process's environment, ``file`` relative to the manifest's directory."""

    environ: dict[str, str] | None = None

    def resolve(self, ref: SecretRef, *, namespace: str, base_dir: Path | None) -> str:
        environ = self.environ if self.environ is not None else os.environ
        if ref.env is not None:
            if ref.env not in environ:
                raise SecretUnavailable(f"environment variable {ref.env} is not set")
            return environ[ref.env]
        if ref.file is not None:
            path = Path(ref.file)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise SecretUnavailable(f"cannot read secret file {path}: {exc.strerror or exc}") from None
            if encrypted.detect(data) is not None:
                try:
                    return encrypted.decrypt(data, path=path, environ=environ)
                except encrypted.DecryptionError as exc:
                    raise SecretUnavailable(str(exc)) from None
            try:
                return data.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise SecretUnavailable(f"secret file {path} is not UTF-8 text") from None
        raise SecretUnavailable(
            f"{ref.describe()} is a Kubernetes Secret; it is resolved by the operator "
            "(`trunkline operator`), not from the command line"
        )


class ReferencesOnly:
    """Resolves every reference to one placeholder: comparisons see references, never secrets.

    For comparing two declarations without a database (a Pulumi preview): a changed reference
    shows, a secret is never read.
    """

    def resolve(self, ref: SecretRef, *, namespace: str, base_dir: Path | None) -> str:
        return ""
