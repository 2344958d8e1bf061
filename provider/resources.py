"""One Pulumi resource class per Trunkline kind, all over the one ``TrunklineProvider``.

The classes are made here from ``resources.kinds.KINDS``: each is the kind's name and its Args
class (built from the model in ``provider.args``), so a new kind needs no code here. Every
resource takes the metadata as keyword arguments (``name`` defaults to the Pulumi resource name,
``namespace`` to ``default``) and exposes ``name``, ``namespace`` and ``spec`` as outputs, so
references read ``customer_ref=customer.name``.
"""

from __future__ import annotations

import os
import types
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic

from provider import args as _args
from provider.provider import DB_ENV, TrunklineProvider
from resources.kinds import KINDS
from resources.meta import DEFAULT_NAMESPACE

PROVIDER = TrunklineProvider()
MODULE = "trunkline"


def default_db_url() -> pulumi.Input[str] | None:
    """``trunkline:dbUrl`` from the stack config (a secret), else ``$TRUNKLINE_DB``; always secret."""
    try:
        configured = pulumi.Config(MODULE).get_secret("dbUrl")
    except Exception:  # no stack (unit tests without mocks): fall back to the environment
        configured = None
    if configured is not None:
        return configured
    env = os.environ.get(DB_ENV)
    return pulumi.Output.secret(env) if env else None


class TrunklineResource(pulumi.dynamic.Resource):
    """Base of the per-kind classes; subclasses set ``trunkline_kind`` and ``args_type``."""

    trunkline_kind: ClassVar[str]
    args_type: ClassVar[type]

    kind: pulumi.Output[str]
    name: pulumi.Output[str]
    namespace: pulumi.Output[str]
    labels: pulumi.Output[dict[str, str]]
    annotations: pulumi.Output[dict[str, str]]
    spec: pulumi.Output[dict[str, Any]]
    db_url: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: Any = None,
        opts: pulumi.ResourceOptions | None = None,
        *,
        name: pulumi.Input[str] | None = None,
        namespace: pulumi.Input[str] | None = None,
        labels: pulumi.Input[dict[str, str]] | None = None,
        annotations: pulumi.Input[dict[str, str]] | None = None,
        db_url: pulumi.Input[str] | None = None,
    ) -> None:
        if args is not None and not isinstance(args, self.args_type | dict):
            raise TypeError(f"{type(self).__name__} takes {self.args_type.__name__}, not {type(args).__name__}")
        props: dict[str, Any] = {
            "kind": self.trunkline_kind,
            "name": name if name is not None else resource_name,
            "namespace": namespace if namespace is not None else DEFAULT_NAMESPACE,
            "labels": labels,
            "annotations": annotations,
            "db_url": pulumi.Output.secret(db_url) if db_url is not None else default_db_url(),
            "spec": _args.plain(args) if args is not None else {},
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["db_url"])
        super().__init__(PROVIDER, resource_name, props, pulumi.ResourceOptions.merge(secret, opts))


def _resource_class(kind: str) -> type[TrunklineResource]:
    """``Customer``, ``RateCard`` ...: the class of one kind, typed ``dynamic/trunkline:<Kind>``."""

    args_type = _args.args_class(kind)

    def body(namespace: dict[str, Any]) -> None:
        namespace.update(trunkline_kind=kind, args_type=args_type, __module__=__name__, __qualname__=kind)
        namespace["__doc__"] = f"A Trunkline {kind} (see docs/pulumi.md); arguments: ``{args_type.__name__}``."

    return types.new_class(kind, (TrunklineResource,), {"module": MODULE, "name": kind}, body)


# One class per kind, in dependency order, importable by name (``from provider import Customer``);
# a new kind in resources.kinds.KINDS is a new resource class without a line here.
RESOURCES: dict[str, type[TrunklineResource]] = {kind: _resource_class(kind) for kind in KINDS}
ARGS: dict[str, type] = {kind: cls.args_type for kind, cls in RESOURCES.items()}
globals().update(RESOURCES)
globals().update({cls.__name__: cls for cls in ARGS.values()})
