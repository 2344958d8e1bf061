"""One Pulumi resource class per Trunkline kind, all over the one ``TrunklineProvider``.

The classes are thin declarations: the kind's name and its Args class (built from the model in
``provider.args``). Every resource takes the metadata as keyword arguments (``name`` defaults to
the Pulumi resource name, ``namespace`` to ``default``) and exposes ``name``, ``namespace`` and
``spec`` as outputs, so references read ``customer_ref=customer.name``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic

from provider import args as _args
from provider.provider import DB_ENV, TrunklineProvider

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
            "namespace": namespace if namespace is not None else "default",
            "labels": labels,
            "annotations": annotations,
            "db_url": pulumi.Output.secret(db_url) if db_url is not None else default_db_url(),
            "spec": _args.plain(args) if args is not None else {},
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["db_url"])
        super().__init__(PROVIDER, resource_name, props, pulumi.ResourceOptions.merge(secret, opts))


CustomerArgs = _args.args_class("Customer")
RateCardArgs = _args.args_class("RateCard")
IngressRouteArgs = _args.args_class("IngressRoute")
IpAuthenticationArgs = _args.args_class("IpAuthentication")
CredentialAuthenticationArgs = _args.args_class("CredentialAuthentication")
DidArgs = _args.args_class("Did")
PackageArgs = _args.args_class("Package")
AlertArgs = _args.args_class("Alert")


class Customer(TrunklineResource, module=MODULE, name="Customer"):
    trunkline_kind = "Customer"
    args_type = CustomerArgs


class RateCard(TrunklineResource, module=MODULE, name="RateCard"):
    trunkline_kind = "RateCard"
    args_type = RateCardArgs


class IngressRoute(TrunklineResource, module=MODULE, name="IngressRoute"):
    trunkline_kind = "IngressRoute"
    args_type = IngressRouteArgs


class IpAuthentication(TrunklineResource, module=MODULE, name="IpAuthentication"):
    trunkline_kind = "IpAuthentication"
    args_type = IpAuthenticationArgs


class CredentialAuthentication(TrunklineResource, module=MODULE, name="CredentialAuthentication"):
    trunkline_kind = "CredentialAuthentication"
    args_type = CredentialAuthenticationArgs


class Did(TrunklineResource, module=MODULE, name="Did"):
    trunkline_kind = "Did"
    args_type = DidArgs


class Package(TrunklineResource, module=MODULE, name="Package"):
    trunkline_kind = "Package"
    args_type = PackageArgs


class Alert(TrunklineResource, module=MODULE, name="Alert"):
    trunkline_kind = "Alert"
    args_type = AlertArgs


RESOURCES: dict[str, type[TrunklineResource]] = {
    cls.trunkline_kind: cls
    for cls in (Customer, RateCard, IngressRoute, IpAuthentication, CredentialAuthentication, Did, Package, Alert)
}
