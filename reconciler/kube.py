"""What the operator reads from Kubernetes besides its own objects: Secrets and ConfigMaps.

Kept behind two small functions so the engine never imports a Kubernetes client, and the
Secret value goes straight into a digest (see ``reconciler.derived``), never into a log.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.secrets import LocalSecrets, SecretUnavailable
from resources.secrets import SecretRef


def core_api() -> Any:
    """A CoreV1Api from the in-cluster service account, else from $KUBECONFIG."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CoreV1Api()


def _api_error(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None) or type(exc).__name__
    return f"{status} {reason}" if status else str(reason)


@dataclass
class KubernetesSecrets:
    """Resolves ``secretKeyRef`` from the object's namespace; env and file as the CLI does."""

    api: Any = None
    local: LocalSecrets = field(default_factory=LocalSecrets)

    def resolve(self, ref: SecretRef, *, namespace: str, base_dir: Path | None) -> str:
        if ref.secret_key_ref is None:
            return self.local.resolve(ref, namespace=namespace, base_dir=base_dir)
        api = self.api or core_api()
        name, key = ref.secret_key_ref.name, ref.secret_key_ref.key
        try:
            secret = api.read_namespaced_secret(name, namespace)
        except Exception as exc:  # kubernetes.client.ApiException and transport errors
            raise SecretUnavailable(f"cannot read Secret {namespace}/{name}: {_api_error(exc)}") from None
        data = secret.data or {}
        if key not in data:
            raise SecretUnavailable(f"Secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode("utf-8")


def config_map_data(api: Any, namespace: str, name: str) -> dict[str, str] | None:
    """A ConfigMap's data, or None when it does not exist."""
    try:
        found = api.read_namespaced_config_map(name, namespace)
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            return None
        raise SecretUnavailable(f"cannot read ConfigMap {namespace}/{name}: {_api_error(exc)}") from None
    return dict(found.data or {})
