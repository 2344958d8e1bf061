"""API versions per kind, and the explicit functions that convert between them.

Like Kubernetes conversion webhooks, conversions work on plain manifests (dicts), so a
document written for any served version is turned into the storage version before the
storage model validates it. Adding ``v1beta1`` later means one ``register`` call per kind
with its two functions, and a test of each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from resources.kinds import KINDS
from resources.meta import GROUP, STORAGE_VERSION, Resource

Manifest = dict[str, Any]
Conversion = Callable[[Manifest], Manifest]


class UnknownKind(LookupError):
    pass


class UnknownVersion(LookupError):
    pass


@dataclass(frozen=True)
class ServedVersion:
    version: str
    to_storage: Conversion
    from_storage: Conversion


def _identity(manifest: Manifest) -> Manifest:
    return manifest


@dataclass
class Registry:
    """Which versions of which kinds are served, and how each converts to the storage version."""

    kinds: dict[str, type[Resource]] = field(default_factory=lambda: dict(KINDS))
    served: dict[str, dict[str, ServedVersion]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind in self.kinds:
            self.served.setdefault(kind, {})[STORAGE_VERSION] = ServedVersion(STORAGE_VERSION, _identity, _identity)

    def register(self, kind: str, version: str, *, to_storage: Conversion, from_storage: Conversion) -> None:
        if kind not in self.kinds:
            raise UnknownKind(kind)
        self.served[kind][version] = ServedVersion(version, to_storage, from_storage)

    def versions(self, kind: str) -> list[str]:
        return sorted(self.served[kind])

    def model(self, kind: str) -> type[Resource]:
        try:
            return self.kinds[kind]
        except KeyError:
            raise UnknownKind(kind) from None

    def _served(self, api_version: str, kind: str) -> ServedVersion:
        self.model(kind)
        group, _, version = api_version.rpartition("/")
        served = self.served[kind].get(version)
        if group != GROUP or served is None:
            raise UnknownVersion(
                f"apiVersion {api_version!r} is not served for {kind}; "
                f"use one of {', '.join(f'{GROUP}/{v}' for v in self.versions(kind))}"
            )
        return served

    def to_storage(self, manifest: Manifest) -> Manifest:
        """Convert a manifest of any served version to the storage version."""
        served = self._served(str(manifest.get("apiVersion")), str(manifest.get("kind")))
        converted = served.to_storage(manifest)
        return {**converted, "apiVersion": f"{GROUP}/{STORAGE_VERSION}"}

    def from_storage(self, manifest: Manifest, version: str) -> Manifest:
        """Convert a storage-version manifest to ``version`` (for export and CRD round trips)."""
        served = self._served(f"{GROUP}/{version}", str(manifest.get("kind")))
        converted = served.from_storage(manifest)
        return {**converted, "apiVersion": f"{GROUP}/{version}"}


DEFAULT_REGISTRY = Registry()
