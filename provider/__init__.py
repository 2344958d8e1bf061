"""Trunkline as Pulumi resources: one dynamic resource class per kind over ``TrunklineProvider``.

    from provider import Customer, CustomerArgs
    acme = Customer("acme-voip", CustomerArgs(display_name="Acme VoIP Inc.", currency="USD"))

See docs/pulumi.md. The provider is importable from here (not ``__main__``) so Pulumi's
pickled copy of it unpickles in the provider plugin by reference.
"""

from provider import args
from provider.provider import TrunklineProvider
from provider.resources import (
    PROVIDER,
    RESOURCES,
    Alert,
    AlertArgs,
    CredentialAuthentication,
    CredentialAuthenticationArgs,
    Customer,
    CustomerArgs,
    Did,
    DidArgs,
    IngressRoute,
    IngressRouteArgs,
    IpAuthentication,
    IpAuthenticationArgs,
    Package,
    PackageArgs,
    RateCard,
    RateCardArgs,
    TrunklineResource,
)


def __getattr__(name: str) -> type:
    # Nested Args classes (ContactArgs, PostalAddressArgs, SecretRefArgs ...) are built from the models.
    found = args.all_args().get(name)
    if found is None:
        raise AttributeError(f"module 'provider' has no attribute {name!r}")
    return found


__all__ = [
    "PROVIDER",
    "RESOURCES",
    "Alert",
    "AlertArgs",
    "CredentialAuthentication",
    "CredentialAuthenticationArgs",
    "Customer",
    "CustomerArgs",
    "Did",
    "DidArgs",
    "IngressRoute",
    "IngressRouteArgs",
    "IpAuthentication",
    "IpAuthenticationArgs",
    "Package",
    "PackageArgs",
    "RateCard",
    "RateCardArgs",
    "TrunklineProvider",
    "TrunklineResource",
]
