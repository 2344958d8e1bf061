"""Every kind of the declared model, in dependency order (what others reference comes first)."""

from resources.kinds.alert import Alert
from resources.kinds.auth import CredentialAuthentication, IpAuthentication
from resources.kinds.customer import Customer
from resources.kinds.did import Did
from resources.kinds.package import Package
from resources.kinds.ratecard import RateCard
from resources.kinds.route import IngressRoute
from resources.meta import Resource

KINDS: dict[str, type[Resource]] = {
    cls.__name__: cls
    for cls in (
        Customer,
        RateCard,
        IngressRoute,
        IpAuthentication,
        CredentialAuthentication,
        Did,
        Package,
        Alert,
    )
}

__all__ = [
    "KINDS",
    "Alert",
    "CredentialAuthentication",
    "Customer",
    "Did",
    "IngressRoute",
    "IpAuthentication",
    "Package",
    "RateCard",
]
