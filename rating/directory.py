"""What ``authorize`` needs to know, held in memory: customers, authentications, routes, rate cards,
balances and package allowances, indexed for answering an INVITE in well under a millisecond.

``load(conn, now=...)`` reads it from the switch database in one pass (declared tables plus the
operational balances, ledger and package usage); ``Directory(...)`` builds it from plain entries
(the benchmark and tests that need 1,000 customers without applying them). A directory is a
snapshot: the sidecar loads a new one when a revision is applied, and swaps it in whole.

Indexes:

- IP authentications (Ingress only) by ``(IP version, mask length) -> network address -> entries``;
  a lookup tries each mask length in use, longest first, so it costs one dict lookup per distinct
  mask length, not one containment test per authentication.
- SIP users by lower-cased username (a username may exist in several realms).
- Routes per customer; rate cards by id with their ``PrefixIndex``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from rating.charges import Tariff
from rating.prefixes import Match, PrefixIndex
from switchdb.tables import declared
from switchdb.tables import rating as operational

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


@dataclass(frozen=True, slots=True)
class Card:
    id: int
    namespace: str
    name: str
    currency: str
    index: PrefixIndex


@dataclass(frozen=True, slots=True)
class Allowance:
    """Package minutes left in the current period; an empty ``prefixes`` covers every destination."""

    package: str
    seconds_left: int
    prefixes: tuple[str, ...] = ()

    def covers(self, number: str) -> bool:
        return not self.prefixes or any(number.startswith(p) for p in self.prefixes)


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
    _by_network: dict[tuple[int, int], dict[int, list[IpAuth]]] = field(init=False, repr=False)
    _masks: tuple[tuple[int, int], ...] = field(init=False, repr=False)
    _users: dict[str, list[SipUser]] = field(init=False, repr=False)
    _routes: dict[int, list[Route]] = field(init=False, repr=False)

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
            self._users.setdefault(user.username.lower(), []).append(user)
        self._routes = {}
        for route in self.routes:
            self._routes.setdefault(route.customer_id, []).append(route)

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
        return self._users.get(username.lower(), [])

    def routes_of(self, customer_id: int) -> list[Route]:
        return self._routes.get(customer_id, [])


def load(conn: Connection, *, now: datetime) -> Directory:
    """Read the directory from the switch database; balances and allowances as of ``now``."""
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
        )
        for row in conn.execute(select(declared.customers)).mappings()
    }
    ip = declared.ip_authentications
    ip_auths = []
    for row in conn.execute(select(ip).where(ip.c.direction == "Ingress")).mappings():
        try:
            network = ipaddress.ip_network(row["address"], strict=False)
        except ValueError:
            continue  # a hostname: an INVITE comes from an address, never a name
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
    return Directory(
        customers=customers,
        ip_auths=ip_auths,
        sip_users=sip_users,
        routes=routes,
        cards=_load_cards(conn),
        balances={
            row.customer_id: row.amount
            for row in conn.execute(select(operational.balances.c.customer_id, operational.balances.c.amount))
        },
        spent_today=_spent_today(conn, now),
        allowances=_allowances(conn, now),
    )


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
    return {
        card_id: Card(card_id, card["namespace"], card["name"], card["currency"], PrefixIndex(matches[card_id]))
        for card_id, card in cards.items()
    }


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
    """First day of the package period holding ``today`` (UTC days; weeks start on Monday)."""
    if frequency == "Daily":
        return today
    if frequency == "Weekly":
        return today - timedelta(days=today.weekday())
    if frequency == "Monthly":
        return today.replace(day=1)
    if frequency == "Yearly":
        return today.replace(month=1, day=1)
    return start or date.min  # OneOff: one period, from the start date


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
    for row in conn.execute(select(p).where(p.c.allowance_minutes.is_not(None))).mappings():
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
