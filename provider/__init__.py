"""Trunkline as Pulumi resources: one dynamic resource class per kind over ``TrunklineProvider``.

    from provider import Customer, CustomerArgs
    acme = Customer("acme-voip", CustomerArgs(display_name="Acme VoIP Inc.", currency="USD"))

The classes (``Customer`` ... ``Alert`` and their ``...Args``) are made from the kinds in
``resources.kinds.KINDS`` (``provider.resources``); nested Args classes (``ContactArgs``,
``PostalAddressArgs``, ``SecretRefArgs`` ...) from the models (``provider.args``). See
docs/pulumi.md. The provider is importable from here (not ``__main__``) so Pulumi's pickled
copy of it unpickles in the provider plugin by reference.
"""

from provider import args
from provider.provider import TrunklineProvider
from provider.resources import ARGS, PROVIDER, RESOURCES, TrunklineResource


def __getattr__(name: str) -> type:
    found = RESOURCES.get(name) or args.all_args().get(name)
    if found is None:
        raise AttributeError(f"module 'provider' has no attribute {name!r}")
    return found


__all__ = [
    "PROVIDER",
    "RESOURCES",
    "TrunklineProvider",
    "TrunklineResource",
    *RESOURCES,
    *(cls.__name__ for cls in ARGS.values()),
]
