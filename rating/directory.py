"""The declared state (and the money) authorization and rating need, held in memory: ONE view.

``load(conn, now=...)`` reads it from the switch database in one pass: customers with their CLI
rules, Ingress IP authentications, SIP users, ingress routes, rate cards (each deck indexed once
into a ``PrefixIndex``: a 100k-row deck is one SELECT and a dict, never a SQL scan per call),
packages, and the money as of ``now`` (``load_money``: balances, today's spend, package
allowances left, active alert penalties). ``Directory(...)`` builds it from plain entries (the
benchmarks and tests that need 1,000 customers without applying them). A directory is a
snapshot: the sidecar loads a new one when a revision is applied and swaps it in whole;
``revision`` is the newest ``trunkline_revisions.id`` at load time.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, func, select

from rating import RatingError
from rating.charges import Tariff
from rating.prefixes import Match, PrefixIndex
from switchdb.tables import declared, trunkline_revisions
from switchdb.tables import rating as operational

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_ZERO = Decimal(0)
_DIGITS = re.compile(r"\d+")
_EPOCH = date(1970, 1, 1)
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


RateCard = Card


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

    def active_on(self, day: date) -> bool:
        return (self.start_date is None or self.start_date <= day) and (self.end_date is None or day <= self.end_date)

    def covers(self, number: str) -> bool:
        return not self.prefixes or number.startswith(self.prefixes)


@dataclass(frozen=True, slots=True)
class Allowance:
    """Package minutes left in the current period; an empty ``prefixes`` covers every destination."""

    package: str
    seconds_left: int
    prefixes: tuple[str, ...] = ()

    def covers(self, number: str) -> bool:
        return not self.prefixes or any(number.startswith(p) for p in self.prefixes)


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
        dialed = _digits(dialed)
        if username:
            user = self._sip_user(username, realm)
            if isinstance(user, Unidentified):
                return user
            return Identified(self.customers[user.customer_id], user, dialed, None)
        if not source_ip:
            return Unidentified(400, "no source IP or SIP username")
        address = _address(source_ip)
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


def current_revision(conn: Connection) -> int | None:
    """The newest applied revision (compare with ``Directory.revision`` to know when to reload)."""
    return conn.execute(select(func.max(trunkline_revisions.c.id))).scalar()


def load(conn: Connection, *, now: datetime) -> Directory:
    """Read the directory from the switch database; the money as of ``now``."""
    revision = current_revision(conn)
    rules: dict[int, list[CliRule]] = {}
    cr = declared.customer_cli_rules
    for row in conn.execute(select(cr).order_by(cr.c.customer_id, cr.c.position)).mappings():
        rules.setdefault(row["customer_id"], []).append(
            CliRule(
                cli=re.compile(row["cli"]),
                pai=_compile(row["p_asserted_id"]),
                rewrite_cli=row["rewrite_cli"],
                rewrite_pai=row["rewrite_p_asserted_id"],
                forced=row["forced"],
                dialed_number_match=_compile(row["dialed_number_match"]),
                position=row["position"],
            )
        )
    customers = {
        row["id"]: Customer(
            id=row["id"],
            namespace=row["namespace"],
            name=row["name"],
            status=row["status"],
            currency=row["currency"],
            debit_limit=row["debit_limit"],
            channels=row["channels"],
            flow_speed=row["flow_speed"],
            daily_spend_limit=row["daily_spend_limit"],
            cli_rules=tuple(rules.get(row["id"], ())),
            tax_percent=row["tax_percent"],
            minimum_payment=row["minimum_payment"],
        )
        for row in conn.execute(select(declared.customers)).mappings()
    }
    ip = declared.ip_authentications
    ip_auths = []
    for row in conn.execute(select(ip).where(ip.c.direction == "Ingress")).mappings():
        try:
            network = ipaddress.ip_network(row["address"], strict=False)
        except ValueError:
            continue  # a hostname: an INVITE (and its CDR) comes from an address, never a name
        ip_auths.append(
            IpAuth(
                id=row["id"],
                namespace=row["namespace"],
                name=row["name"],
                customer_id=row["customer_id"],
                network=network,
                port=row["port"],
                tech_prefix=row["tech_prefix"] or None,
                strip_digits=row["strip_digits"],
                dial_pattern=_compile(row["dial_pattern"]),
                channels=row["channels"],
                flow_speed=row["flow_speed"],
            )
        )
    sip_users = [
        SipUser(
            id=row["id"],
            namespace=row["namespace"],
            name=row["name"],
            customer_id=row["customer_id"],
            username=row["username"],
            realm=row["realm"],
            ip_allow_list=tuple(ipaddress.ip_network(c, strict=False) for c in row["ip_allow_list"] or ()),
            channels=row["channels"],
            flow_speed=row["flow_speed"],
        )
        for row in conn.execute(select(declared.credential_authentications)).mappings()
    ]
    routes = [
        Route(
            id=row["id"],
            namespace=row["namespace"],
            name=row["name"],
            customer_id=row["customer_id"],
            rate_card_id=row["rate_card_id"],
            tech_prefix=row["tech_prefix"] or None,
            dial_strings=tuple(DialString.parse(s) for s in row["dial_strings"] or ()),
            priority=row["priority"],
            recording=row["recording"],
            sampling_percent=row["sampling_percent"],
            channels=row["channels"],
            flow_speed=row["flow_speed"],
            max_duration=row["max_duration"],
            over_limit_sip_code=row["over_limit_sip_code"],
            enabled=row["enabled"],
        )
        for row in conn.execute(select(declared.ingress_routes)).mappings()
    ]
    packages: dict[int, list[Package]] = {}
    p = declared.packages
    for row in conn.execute(select(p).where(p.c.allowance_minutes.is_not(None)).order_by(p.c.id)).mappings():
        packages.setdefault(row["customer_id"], []).append(
            Package(
                id=row["id"],
                customer_id=row["customer_id"],
                frequency=row["frequency"],
                start_date=row["start_date"],
                end_date=row["end_date"],
                allowance_seconds=row["allowance_minutes"] * 60 * row["quantity"],
                prefixes=tuple(row["allowance_prefixes"] or ()),
            )
        )
    money = load_money(conn, now)
    return Directory(
        customers=customers,
        ip_auths=ip_auths,
        sip_users=sip_users,
        routes=routes,
        cards=_load_cards(conn),
        balances=money.balances,
        spent_today=money.spent_today,
        allowances=money.allowances,
        packages={customer: tuple(items) for customer, items in packages.items()},
        penalties=money.penalties,
        revision=revision,
    )


def load_money(conn: Connection, now: datetime) -> Money:
    """Balances, money spent on calls today, package allowances left and penalties in force, as of ``now``."""
    b = operational.balances
    return Money(
        balances={row.customer_id: row.amount for row in conn.execute(select(b.c.customer_id, b.c.amount))},
        spent_today=_spent_today(conn, now),
        allowances=_allowances(conn, now),
        penalties=load_penalties(conn, now),
    )


def load_penalties(conn: Connection, now: datetime) -> dict[int, tuple[Penalty, ...]]:
    """Alert penalties still in force at ``now``, per customer."""
    ap, al = operational.alert_penalties, declared.alerts
    query = (
        select(ap.c.customer_id, ap.c.until, al.c.namespace, al.c.name)
        .join(al, al.c.id == ap.c.alert_id)
        .where(ap.c.until > now)
        .order_by(ap.c.customer_id, ap.c.alert_id)
    )
    found: dict[int, list[Penalty]] = {}
    for customer_id, until, namespace, name in conn.execute(query):
        found.setdefault(customer_id, []).append(Penalty(f"{namespace}/{name}", customer_id, until))
    return {customer: tuple(items) for customer, items in found.items()}


def _digits(number: str) -> str:
    number = number.strip()
    return number[1:] if number.startswith("+") else number


@lru_cache(maxsize=65536)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A parsed IP address; a switch sends from few addresses, so parsing is cached."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _specificity(auth: IpAuth) -> tuple[int, int, int]:
    return (auth.network.prefixlen, len(auth.tech_prefix or ""), -auth.id)


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    return None if pattern is None else re.compile(pattern)


def _load_cards(conn: Connection) -> dict[int, Card]:
    cards: dict[int, dict[str, Any]] = {
        row["id"]: dict(row) for row in conn.execute(select(declared.rate_cards)).mappings()
    }
    matches: dict[int, list[Match]] = {card_id: [] for card_id in cards}
    tariffs: dict[tuple[object, ...], Tariff] = {}
    r = declared.rates
    columns = (
        r.c.rate_card_id,
        r.c.prefix,
        r.c.name,
        r.c.per_minute,
        r.c.connect_fee,
        r.c.minimum_seconds,
        r.c.initial_increment,
        r.c.subsequent_increment,
        r.c.effective_from,
        r.c.blocked,
    )
    for card_id, prefix, name, per_minute, fee, minimum, initial, subsequent, start, blocked in conn.execute(
        select(*columns)
    ):
        card = cards[card_id]
        key = (card_id, per_minute, fee, minimum, initial, subsequent, blocked)
        tariff = tariffs.get(key)
        if tariff is None:
            # The card's defaults folded under the rate, as Tariff.from_rate does for models.
            tariff = tariffs[key] = Tariff(
                per_minute=per_minute,
                connect_fee=card["defaults_connect_fee"] if fee is None else fee,
                minimum_seconds=card["defaults_minimum_seconds"] if minimum is None else minimum,
                initial_increment=card["defaults_initial_increment"] if initial is None else initial,
                subsequent_increment=card["defaults_subsequent_increment"] if subsequent is None else subsequent,
                precision=card["precision"],
                rounding=card["rounding"],
                blocked=blocked,
            )
        matches[card_id].append(Match(prefix, tariff, name, start))
    loaded: dict[int, Card] = {}
    for card_id, card in cards.items():
        try:
            index, error = PrefixIndex(matches[card_id]), None
        except RatingError as exc:  # one bad deck must not stop the sidecar serving every other card
            index, error = None, str(exc)
        loaded[card_id] = Card(card_id, card["namespace"], card["name"], card["currency"], index, error)
    return loaded


def _spent_today(conn: Connection, now: datetime) -> dict[int, Decimal]:
    """Money spent on calls since UTC midnight (call entries are negative amounts in the ledger)."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    ledger = operational.ledger
    spent: dict[int, Decimal] = {}
    # Summed in Python: Money is text on SQLite.
    query = select(ledger.c.customer_id, ledger.c.amount).where(
        ledger.c.entry_type == "call", ledger.c.at >= midnight, ledger.c.at < midnight + timedelta(days=1)
    )
    for customer_id, amount in conn.execute(query):
        spent[customer_id] = spent.get(customer_id, _ZERO) - amount
    return spent


def period_start(frequency: str, today: date, start: date | None) -> date:
    """First day of the package period holding ``today`` (UTC days; weeks start on Monday).

    ``OneOff`` is one period for the package's whole life, keyed by its start date (1970-01-01
    without one): the rater writes usage under this key and authorization reads it back.
    """
    if frequency == "Daily":
        return today
    if frequency == "Weekly":
        return today - timedelta(days=today.weekday())
    if frequency == "Monthly":
        return today.replace(day=1)
    if frequency == "Yearly":
        return today.replace(month=1, day=1)
    return start or _EPOCH


def _allowances(conn: Connection, now: datetime) -> dict[int, tuple[Allowance, ...]]:
    today = now.astimezone(UTC).date()
    p, usage = declared.packages, operational.package_usage
    used: dict[tuple[int, date], int] = {
        (package_id, start): seconds
        for package_id, start, seconds in conn.execute(
            select(usage.c.package_id, usage.c.period_start, func.sum(usage.c.seconds_used)).group_by(
                usage.c.package_id, usage.c.period_start
            )
        )
    }
    found: dict[int, list[Allowance]] = {}
    for row in conn.execute(select(p).where(p.c.allowance_minutes.is_not(None)).order_by(p.c.id)).mappings():
        if (row["start_date"] and row["start_date"] > today) or (row["end_date"] and row["end_date"] < today):
            continue
        total = row["allowance_minutes"] * 60 * row["quantity"]
        spent = used.get((row["id"], period_start(row["frequency"], today, row["start_date"])), 0)
        if total > spent:
            found.setdefault(row["customer_id"], []).append(
                Allowance(
                    f"{row['namespace']}/{row['spec_name']}", total - spent, tuple(row["allowance_prefixes"] or ())
                )
            )
    return {customer: tuple(items) for customer, items in found.items()}


def networks(texts: Iterable[str]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(t, strict=False) for t in texts)
