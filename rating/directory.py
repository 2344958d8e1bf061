"""The declared state (and the money) authorization and rating need, held in memory: ONE view.

``rating.loading.load(conn, now=...)`` reads it from the switch database in one pass (customers,
authentications, routes, rate cards indexed once, packages, and the money as of ``now``).
``Directory(...)`` builds it from plain entries (the benchmarks and tests that need 1,000
customers without applying them). A directory is a snapshot: the sidecar loads a new one when a
revision is applied and swaps it in whole; ``revision`` is the newest ``trunkline_revisions.id``
at load time.

``authorize`` and the rater call the SAME two functions, so a CDR is rated as the customer and
route its INVITE was authorized for:

``Directory.identify(dialed=, source_ip=, source_port=, username=, realm=)``:

- ``username`` given (``user``, ``user@realm``, or ``realm`` separately): the SIP user. The user
  part is compared exactly (case-sensitive, RFC 3261 §19.1.4), the realm case-insensitively
  (RFC 3261 §22.1: realms are host names); a bare ``user`` matches the default realm
  ``trunkline.local`` first, else the one realm that has it (several: ambiguous, 403).
- else ``source_ip``: the Ingress IP authentications whose address/CIDR holds it, on
  ``source_port`` when given, and whose ``techPrefix`` (if any) starts the dialed number; the most
  specific wins (longest CIDR mask, then longest techPrefix, then lowest id). Its techPrefix is
  removed from the number, then ``stripDigits`` leading digits.

A leading ``+`` is dropped from the dialed number first. Failures are an ``Unidentified`` with
the SIP code authorization answers and the reason (the rater stores the reason).

``Directory.route(customer, number, tech_prefix)`` among the customer's ENABLED routes: the
techPrefix first (the one the IP authentication matched, else the longest route techPrefix the
number starts with, which is then removed; routes without a techPrefix when none applies), then
routes whose ``dialStrings`` match beat catch-alls (no dialStrings) and routes whose dialStrings
do not match are out, then the highest ``priority``, then the lowest id.

Indexes: IP authentications by ``(IP version, mask length) -> network address -> entries`` (a
lookup is one dict lookup per mask length in use, longest first); SIP users by exact username;
enabled routes per customer.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from rating import RatingError, periods
from rating.prefixes import PrefixIndex

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_ZERO = Decimal(0)
_DIGITS = re.compile(r"\d+")
DEFAULT_REALM = "trunkline.local"


@dataclass(frozen=True, slots=True)
class CliRule:
    cli: re.Pattern[str]
    pai: re.Pattern[str] | None = None
    rewrite_cli: str | None = None
    rewrite_pai: str | None = None
    forced: bool = False
    dialed_number_match: re.Pattern[str] | None = None
    position: int = 0


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    namespace: str
    name: str
    status: str = "Active"
    currency: str = "USD"
    debit_limit: Decimal = _ZERO
    channels: int = 0
    flow_speed: int = 0
    daily_spend_limit: Decimal | None = None
    cli_rules: tuple[CliRule, ...] = ()
    tax_percent: Decimal = _ZERO
    minimum_payment: Decimal = _ZERO

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class IpAuth:
    id: int
    namespace: str
    name: str
    customer_id: int
    network: IpNetwork
    port: int = 5060
    tech_prefix: str | None = None
    strip_digits: int = 0
    dial_pattern: re.Pattern[str] | None = None
    channels: int = 0
    flow_speed: int = 0


@dataclass(frozen=True, slots=True)
class SipUser:
    id: int
    namespace: str
    name: str
    customer_id: int
    username: str
    realm: str = DEFAULT_REALM
    ip_allow_list: tuple[IpNetwork, ...] = ()
    channels: int = 0
    flow_speed: int = 0


@dataclass(frozen=True, slots=True)
class DialString:
    """A route's dial string: digits are a prefix, anything else a regular expression (``search``)."""

    text: str
    prefix: str | None
    pattern: re.Pattern[str] | None

    @classmethod
    def parse(cls, text: str) -> DialString:
        if _DIGITS.fullmatch(text):
            return cls(text, text, None)
        return cls(text, None, re.compile(text))

    def matches(self, number: str) -> bool:
        if self.prefix is not None:
            return number.startswith(self.prefix)
        assert self.pattern is not None
        return self.pattern.search(number) is not None


@dataclass(frozen=True, slots=True)
class Route:
    id: int
    namespace: str
    name: str
    customer_id: int
    rate_card_id: int
    tech_prefix: str | None = None
    dial_strings: tuple[DialString, ...] = ()
    priority: int = 0
    recording: str = "Disabled"
    sampling_percent: Decimal | None = None
    channels: int = 0
    flow_speed: int = 0
    max_duration: int | None = None
    over_limit_sip_code: int = 503
    enabled: bool = True

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def dial_match(self, number: str) -> bool:
        return any(d.matches(number) for d in self.dial_strings)


@dataclass(frozen=True, slots=True)
class Card:
    id: int
    namespace: str
    name: str
    currency: str
    index: PrefixIndex | None  # None when the deck cannot be indexed (``error`` says why)
    error: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Package:
    """A declared package with an allowance (the rater consumes it; ``Allowance`` is what is left)."""

    id: int
    customer_id: int
    frequency: str
    start_date: date | None
    end_date: date | None
    allowance_seconds: int  # minutes x 60 x quantity
    prefixes: tuple[str, ...] = ()  # empty: every destination
    name: str = ""  # namespace/spec name, as an Allowance shows it

    def active_on(self, day: date) -> bool:
        return (self.start_date is None or self.start_date <= day) and (self.end_date is None or day <= self.end_date)

    def covers(self, number: str) -> bool:
        return not self.prefixes or number.startswith(self.prefixes)

    def period_start(self, day: date) -> date:
        """First day of the allowance period holding ``day`` (``rating.periods``)."""
        return periods.period_start(self.frequency, day, self.start_date)


@dataclass(frozen=True, slots=True)
class Allowance:
    """Package minutes left in the current period; an empty ``prefixes`` covers every destination."""

    package: str
    seconds_left: int
    prefixes: tuple[str, ...] = ()

    def covers(self, number: str) -> bool:
        return not self.prefixes or number.startswith(self.prefixes)


@dataclass(frozen=True, slots=True)
class Penalty:
    """An alert penalty in force: authorization refuses the customer's calls until ``until``."""

    alert: str  # namespace/name of the Alert
    customer_id: int
    until: datetime


@dataclass(frozen=True, slots=True)
class Money:
    """The part of the directory that moves without an apply (``load_money``)."""

    balances: dict[int, Decimal]
    spent_today: dict[int, Decimal]
    allowances: dict[int, tuple[Allowance, ...]]
    penalties: dict[int, tuple[Penalty, ...]]


@dataclass(frozen=True, slots=True)
class Identified:
    """Who sent a call, how (the SIP user or IP authentication), and the number after the authentication."""

    customer: Customer
    auth: IpAuth | SipUser
    number: str  # leading + dropped; the IP authentication's techPrefix and stripDigits removed
    tech_prefix: str | None  # the IP authentication's techPrefix


@dataclass(frozen=True, slots=True)
class Unidentified:
    sip_code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Routed:
    route: Route
    number: str  # without the route techPrefix when one was taken off
    tech_prefix: str | None  # the techPrefix that selected the route, if any


@dataclass(slots=True)
class Directory:
    customers: dict[int, Customer]
    ip_auths: Sequence[IpAuth] = ()
    sip_users: Sequence[SipUser] = ()
    routes: Sequence[Route] = ()
    cards: dict[int, Card] = field(default_factory=dict)
    balances: dict[int, Decimal] = field(default_factory=dict)
    spent_today: dict[int, Decimal] = field(default_factory=dict)
    allowances: dict[int, tuple[Allowance, ...]] = field(default_factory=dict)
    packages: dict[int, tuple[Package, ...]] = field(default_factory=dict)
    penalties: dict[int, tuple[Penalty, ...]] = field(default_factory=dict)
    revision: int | None = None
    _by_network: dict[tuple[int, int], dict[int, list[IpAuth]]] = field(init=False, repr=False)
    _masks: tuple[tuple[int, int], ...] = field(init=False, repr=False)
    _users: dict[str, list[SipUser]] = field(init=False, repr=False)
    _routes: dict[int, list[Route]] = field(init=False, repr=False)
    _route_prefixes: dict[int, list[str]] = field(init=False, repr=False)
    _by_ref: dict[str, Customer] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_network = {}
        for auth in self.ip_auths:
            net = auth.network
            bucket = self._by_network.setdefault((net.version, net.prefixlen), {})
            bucket.setdefault(int(net.network_address), []).append(auth)
        # Longest mask first: the most specific network is found first.
        self._masks = tuple(sorted(self._by_network, key=lambda vm: (vm[0], -vm[1])))
        self._users = {}
        for user in self.sip_users:
            self._users.setdefault(user.username, []).append(user)
        self._routes = {}
        for route in self.routes:
            if route.enabled:
                self._routes.setdefault(route.customer_id, []).append(route)
        self._route_prefixes = {
            cid: sorted({r.tech_prefix for r in rs if r.tech_prefix}, key=len, reverse=True)
            for cid, rs in self._routes.items()
        }
        self._by_ref = {c.ref: c for c in self.customers.values()}

    def with_money(self, money: Money) -> Directory:
        """The same declared state with other money (the sidecar's cheap reload)."""
        return Directory(
            customers=self.customers,
            ip_auths=self.ip_auths,
            sip_users=self.sip_users,
            routes=self.routes,
            cards=self.cards,
            balances=money.balances,
            spent_today=money.spent_today,
            allowances=money.allowances,
            packages=self.packages,
            penalties=money.penalties,
            revision=self.revision,
        )

    # -- lookups ---------------------------------------------------------------------------------

    def customer(self, ref: str) -> Customer:
        """A customer by ``namespace/name``, or by ``name`` (``default`` first, else the only one)."""
        if "/" in ref:
            found = self._by_ref.get(ref)
            if found is None:
                raise RatingError(f"no customer {ref}")
            return found
        found = self._by_ref.get(f"default/{ref}")
        if found is not None:
            return found
        named = [c for c in self.customers.values() if c.name == ref]
        if len(named) == 1:
            return named[0]
        if not named:
            raise RatingError(f"no customer {ref}")
        raise RatingError(f"customer name {ref} is ambiguous: {', '.join(sorted(c.ref for c in named))}")

    def ip_auths_for(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[IpAuth]:
        """Ingress authentications whose network holds ``ip``, longest mask first."""
        found: list[IpAuth] = []
        value = int(ip)
        bits = ip.max_prefixlen
        for version, length in self._masks:
            if version != ip.version:
                continue
            network = value & (((1 << length) - 1) << (bits - length)) if length else 0
            entries = self._by_network[(version, length)].get(network)
            if entries:
                found.extend(entries)
        return found

    def sip_users_named(self, username: str) -> list[SipUser]:
        """SIP users with exactly this user part (case-sensitive, RFC 3261), in every realm."""
        return self._users.get(username, [])

    def routes_of(self, customer_id: int) -> list[Route]:
        """The customer's enabled routes."""
        return self._routes.get(customer_id, [])

    def active_penalty(self, customer_id: int, now: datetime) -> Penalty | None:
        """The penalty in force at ``now`` that lasts longest, if any."""
        live = [p for p in self.penalties.get(customer_id, ()) if p.until > now]
        return max(live, key=lambda p: (p.until, p.alert)) if live else None

    # -- the two decisions authorize and the rater share --------------------------------------------

    def identify(
        self,
        *,
        dialed: str,
        source_ip: str | None = None,
        source_port: int | None = None,
        username: str | None = None,
        realm: str | None = None,
    ) -> Identified | Unidentified:
        """The customer of a call and the number after its authentication, or why there is none."""
        dialed = digits(dialed)
        if username:
            user = self._sip_user(username, realm)
            if isinstance(user, Unidentified):
                return user
            return Identified(self.customers[user.customer_id], user, dialed, None)
        if not source_ip:
            return Unidentified(400, "no source IP or SIP username")
        address = parse_address(source_ip)
        if address is None:
            return Unidentified(400, f"invalid source IP {source_ip!r}")
        best: IpAuth | None = None
        for auth in self.ip_auths_for(address):
            if source_port is not None and auth.port != source_port:
                continue
            if auth.tech_prefix and not dialed.startswith(auth.tech_prefix):
                continue
            if best is None or _specificity(auth) > _specificity(best):
                best = auth
        if best is None:
            where = f"{address}:{source_port}" if source_port is not None else str(address)
            return Unidentified(403, f"unknown source IP {where}")
        number = dialed[len(best.tech_prefix) :] if best.tech_prefix else dialed
        number = number[best.strip_digits :]
        return Identified(self.customers[best.customer_id], best, number, best.tech_prefix)

    def _sip_user(self, username: str, realm: str | None) -> SipUser | Unidentified:
        shown = username if realm is None else f"{username}@{realm}"
        if realm is None and "@" in username:
            username, realm = username.split("@", 1)
        users = self.sip_users_named(username)
        if realm is not None:
            wanted = realm.lower()
            users = [u for u in users if u.realm.lower() == wanted]
        elif len(users) > 1:
            default = [u for u in users if u.realm.lower() == DEFAULT_REALM]
            if not default:
                realms = ", ".join(sorted(u.realm for u in users))
                return Unidentified(403, f"SIP user {username} is ambiguous: it exists in realms {realms}")
            users = default
        if not users:
            return Unidentified(403, f"unknown SIP user {shown}")
        return users[0]

    def route(self, customer: Customer, number: str, tech_prefix: str | None) -> Routed | str:
        """The route of a call and the number it rates (without a route techPrefix), or why there is none."""
        routes = self.routes_of(customer.id)
        candidates: list[Route] = []
        tech = tech_prefix
        if tech:
            candidates = [r for r in routes if r.tech_prefix == tech]
        else:
            for prefix in self._route_prefixes.get(customer.id, ()):
                if number.startswith(prefix):
                    candidates = [r for r in routes if r.tech_prefix == prefix]
                    tech, number = prefix, number[len(prefix) :]
                    break
        if not candidates:
            tech = None
            candidates = [r for r in routes if not r.tech_prefix]
        matching = [r for r in candidates if r.dial_strings and r.dial_match(number)]
        if not matching:
            matching = [r for r in candidates if not r.dial_strings]
        if not matching:
            return f"no route of {customer.ref} for {number}"
        return Routed(min(matching, key=lambda r: (-r.priority, r.id)), number, tech)


def digits(number: str) -> str:
    """A number as stored: surrounding blanks and a leading ``+`` dropped."""
    number = number.strip()
    return number[1:] if number.startswith("+") else number


@lru_cache(maxsize=65536)
def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A parsed IP address; a switch sends from few addresses, so parsing is cached."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _specificity(auth: IpAuth) -> tuple[int, int, int]:
    return (auth.network.prefixlen, len(auth.tech_prefix or ""), -auth.id)
