"""Secret files committed encrypted: age (armored or binary) and SOPS, decrypted in memory only.

A ``passwordRef.file`` in a repository may hold ciphertext instead of the password, so the secret
can live in git next to the manifest that uses it. It is decrypted at plan/apply time with a key
from the environment of the machine that syncs:

    TRUNKLINE_AGE_KEY        one or more ``AGE-SECRET-KEY-1...`` lines (an age identity)
    TRUNKLINE_AGE_KEY_FILE   a file in age's identity format (``age-keygen`` output; ``#`` comments)

age is decrypted in process with ``pyrage`` (a binding of the Rust age implementation). SOPS files
(YAML or JSON with a ``sops`` section, including SOPS's "binary" ``{"data": ...}`` form) need the
``sops`` program on ``PATH`` (or ``$TRUNKLINE_SOPS``); the age identity is handed to it in its
environment (``SOPS_AGE_KEY``), never on disk. The cleartext never leaves memory: it is not
written to the cache, and no message here contains it (``DecryptionError`` names the file only).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

AGE_KEY_ENV = "TRUNKLINE_AGE_KEY"
AGE_KEY_FILE_ENV = "TRUNKLINE_AGE_KEY_FILE"
SOPS_ENV = "TRUNKLINE_SOPS"
AGE_BINARY_HEADER = b"age-encryption.org/v1\n"
AGE_ARMOR_HEADER = b"-----BEGIN AGE ENCRYPTED FILE-----"
SOPS_TIMEOUT = 30  # seconds; a KMS-backed sops file could otherwise hang a sync

Format = Literal["age", "sops"]


class DecryptionError(Exception):
    """An encrypted secret file cannot be decrypted here; the message never holds cleartext."""


def detect(data: bytes) -> Format | None:
    """``age`` or ``sops`` when ``data`` is ciphertext of that kind, else None (a plain secret)."""
    head = data.lstrip()[:64]
    if data.startswith(AGE_BINARY_HEADER) or head.startswith(AGE_ARMOR_HEADER):
        return "age"
    if b"sops" in data and b"mac" in data and _sops_document(data) is not None:
        return "sops"
    return None


def _sops_document(data: bytes) -> dict | None:
    from ruamel.yaml import YAML, YAMLError  # YAML 1.2 is a superset of JSON: one parser for both

    try:
        doc = YAML(typ="safe", pure=True).load(data)
    except (YAMLError, ValueError, UnicodeDecodeError):
        return None
    if isinstance(doc, dict) and isinstance(doc.get("sops"), dict) and "mac" in doc["sops"]:
        return doc
    return None


def age_identities(environ: Mapping[str, str]) -> list[str]:
    """The ``AGE-SECRET-KEY-1`` lines from ``$TRUNKLINE_AGE_KEY`` and ``$TRUNKLINE_AGE_KEY_FILE``."""
    text = environ.get(AGE_KEY_ENV, "")
    key_file = environ.get(AGE_KEY_FILE_ENV)
    if key_file:
        try:
            text += "\n" + Path(key_file).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise DecryptionError(f"cannot read {AGE_KEY_FILE_ENV} {key_file}: {exc.strerror or exc}") from None
    keys = [line.strip() for line in text.splitlines() if line.strip().upper().startswith("AGE-SECRET-KEY-1")]
    if not keys:
        raise DecryptionError(f"no age identity: set {AGE_KEY_ENV} (AGE-SECRET-KEY-1...) or {AGE_KEY_FILE_ENV}")
    return keys


def decrypt(data: bytes, *, path: Path, environ: Mapping[str, str]) -> str:
    """The cleartext of the encrypted secret file ``path`` (whose bytes are ``data``), one value."""
    kind = detect(data)
    if kind == "age":
        return _as_secret(_decrypt_age(data, path, age_identities(environ)), path)
    if kind == "sops":
        return _decrypt_sops(path, environ)
    raise DecryptionError(f"{path} is not an age or SOPS file")


def _as_secret(plain: bytes, path: Path) -> str:
    try:
        return plain.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise DecryptionError(f"decrypted {path} is not UTF-8 text") from None


def _decrypt_age(data: bytes, path: Path, keys: list[str]) -> bytes:
    try:
        import pyrage
    except ImportError:  # pragma: no cover - pyrage is a dependency; a broken install lands here
        raise DecryptionError(f"cannot decrypt {path}: the age implementation (pyrage) is not installed") from None
    try:
        identities = [pyrage.x25519.Identity.from_str(key) for key in keys]
    except pyrage.IdentityError:
        # Not the key in the message: it is the one secret that must never be shown.
        raise DecryptionError(f"{AGE_KEY_ENV}/{AGE_KEY_FILE_ENV} holds a malformed age identity") from None
    try:
        return pyrage.decrypt(data, identities)
    except pyrage.DecryptError as exc:
        raise DecryptionError(f"cannot decrypt {path} with the configured age identity: {exc}") from None


def sops_program(environ: Mapping[str, str]) -> str | None:
    return environ.get(SOPS_ENV) or shutil.which("sops")


def _decrypt_sops(path: Path, environ: Mapping[str, str]) -> str:
    program = sops_program(environ)
    if program is None:
        raise DecryptionError(f"{path} is SOPS-encrypted, but the sops program is not installed (or set {SOPS_ENV})")
    # sops reads the identity from its environment; HOME/PATH only, so no other SOPS_* setting leaks in.
    env = {name: os.environ[name] for name in ("PATH", "HOME", "TMPDIR") if name in os.environ}
    env["SOPS_AGE_KEY"] = "\n".join(age_identities(environ))
    suffix = path.suffix.lower()
    input_type = "json" if suffix == ".json" else "yaml"  # YAML also reads SOPS's binary/JSON form
    try:
        done = subprocess.run(
            [program, "decrypt", "--input-type", input_type, "--output-type", "json", str(path)],
            env=env,
            capture_output=True,
            timeout=SOPS_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DecryptionError(f"cannot run sops on {path}: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        reason = lines[-1].strip()[:300] if lines else f"sops exited with status {done.returncode}"
        raise DecryptionError(f"cannot decrypt {path} with sops: {reason}")
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        raise DecryptionError(f"sops printed something other than JSON for {path}") from None
    values = [v for k, v in doc.items() if k != "sops"] if isinstance(doc, dict) else []
    if len(values) != 1 or not isinstance(values[0], str):
        raise DecryptionError(f"SOPS file {path} must hold exactly one string value (e.g. `password: ...`)")
    return values[0].rstrip("\r\n")
