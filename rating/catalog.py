"""A read-only, in-memory view of the declared state the rater needs, loaded in a few SELECTs.

``Catalog.load(conn)`` reads customers, Ingress IP authentications, SIP users, ingress routes,
rate cards (each indexed once into a ``PrefixIndex``: a 100k-row deck is one SELECT and a dict,
never a SQL scan per call) and packages with allowances. ``revision`` is the newest
``trunkline_revisions.id`` at load time; a caller compares it with ``current_revision(conn)``
and reloads after a new apply.

Identifying the customer of a call (``Catalog.identify``):

- ``username`` given: the SIP user ``username@realm``; a bare ``username`` matches the default
  realm ``trunkline.local`` first, else the one realm that has it (several: ambiguous, rejected).
- else ``sourceIp``: the Ingress IP authentications whose address/CIDR contains it (indexed by mask
  length, longest first: one dict lookup per mask length in use), on the CDR's
  ``sourcePort`` when given, and whose ``techPrefix`` (if any) starts the dialed number; the most
  specific wins (longest CIDR mask, then longest techPrefix). Its techPrefix is stripped from the
  dialed number, then ``stripDigits`` leading digits.

Choosing the route (``Catalog.route``) among the customer's enabled routes: the techPrefix first
(the one the IP authentication matched, else the longest route techPrefix starting the number,
which is then stripped; routes without a techPrefix when none applies), then routes whose
``dialStrings`` match the number beat catch-all routes (no dialStrings) and routes whose
dialStrings do not match are out, then the highest ``priority``, then the lowest id.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, func, select

from rating import RatingError
from rating.charges import Tariff
from rating.prefixes import Match, PrefixIndex
from switchdb.tables import (
    credential_authentications,
    customers,
    ingress_routes,
    ip_authentications,
    packages,
    rate_cards,
    rates,
    trunkline_revisions,
)

DEFAULT_REALM = "trunkline.local"
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    namespace: str
    name: str
    status: str
    currency: str
    debit_limit: Decimal
    daily_spend_limit: Decimal | None
    tax_percent: Decimal
    minimum_payment: Decimal

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class IpAuth:
    id: int
    customer_id: int
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    port: int
    tech_prefix: str | None
    strip_digits: int


@dataclass(frozen=True, slots=True)
class Route:
    id: int
    namespace: str
    name: str
    customer_id: int
    rate_card_id: int
    tech_prefix: str | None
    dial_strings: tuple[str, ...]
    priority: int
    matchers: tuple[Callable[[str], bool], ...] = field(repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def dial_match(self, number: str) -> bool:
        return any(matches(number) for matches in self.matchers)


@dataclass(frozen=True, slots=True)
class RateCard:
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
    id: int
    customer_id: int
    frequency: str
    start_date: date | None
    end_date: date | None
    allowance_seconds: int  # minutes x 60 x quantity
    prefixes: tuple[str, ...]  # empty: every destination

    def active_on(self, day: date) -> bool:
        return (self.start_date is None or self.start_date <= day) and (self.end_date is None or day <= self.end_date)

    def covers(self, number: str) -> bool:
        return not self.prefixes or number.startswith(self.prefixes)


@dataclass(frozen=True, slots=True)
class Identified:
    """Who sent a call and the number as the rate card sees it (tech prefix and strip digits removed)."""

    customer: Customer
    number: str
    tech_prefix: str | None


class Catalog:
    """What rating needs of the declared state; build with ``Catalog.load(conn)``."""

    def __init__(
        self,
        *,
        revision: int | None,
        customers: dict[int, Customer],
        ip_auths: list[IpAuth],
        sip_users: dict[str, int],
        routes: dict[int, list[Route]],
        cards: dict[int, RateCard],
        packages: dict[int, list[Package]],
    ) -> None:
        self.revision = revision
        self.customers = customers
        self.ip_auths = ip_auths
        self.sip_users = sip_users
        self.routes = routes
        self.cards = cards
        self.packages = packages
        self._by_ref = {c.ref: c for c in customers.values()}
        # (IP version, mask length, network bits) -> authentications on that network
        self._by_network: dict[tuple[int, int, int], list[IpAuth]] = {}
        for auth in ip_auths:
            net = auth.network
            key = (net.version, net.prefixlen, int(net.network_address) >> (net.max_prefixlen - net.prefixlen))
            self._by_network.setdefault(key, []).append(auth)
        self._masks = {
            version: sorted({length for v, length, _ in self._by_network if v == version}, reverse=True)
            for version in (4, 6)
        }
        self._by_username: dict[str, list[int]] = {}
        for user, customer_id in sip_users.items():
            self._by_username.setdefault(user.split("@", 1)[0], []).append(customer_id)
        self._route_prefixes = {
            cid: sorted({r.tech_prefix for r in rs if r.tech_prefix}, key=len, reverse=True)
            for cid, rs in routes.items()
        }

    @classmethod
    def load(cls, conn: Connection) -> Catalog:
        revision = current_revision(conn)
        by_id: dict[int, Customer] = {}
        for r in conn.execute(select(customers)).mappings():
            by_id[r["id"]] = Customer(
                id=r["id"],
                namespace=r["namespace"],
                name=r["name"],
                status=r["status"],
                currency=r["currency"],
                debit_limit=r["debit_limit"],
                daily_spend_limit=r["daily_spend_limit"],
                tax_percent=r["tax_percent"],
                minimum_payment=r["minimum_payment"],
            )
        ip_auths: list[IpAuth] = []
        ip = ip_authentications.c
        query = select(ip.id, ip.customer_id, ip.address, ip.port, ip.tech_prefix, ip.strip_digits).where(
            ip.direction == "Ingress"
        )
        for r in conn.execute(query).mappings():
            try:
                network = ipaddress.ip_network(r["address"], strict=False)
            except ValueError:
                continue  # a hostname: a CDR carries the address the call came from, never a name
            ip_auths.append(IpAuth(r["id"], r["customer_id"], network, r["port"], r["tech_prefix"], r["strip_digits"]))
        ca = credential_authentications.c
        sip_users = {
            f"{r.username}@{r.realm}": r.customer_id
            for r in conn.execute(select(ca.username, ca.realm, ca.customer_id))
        }
        routes: dict[int, list[Route]] = {}
        for r in conn.execute(select(ingress_routes).where(ingress_routes.c.enabled.is_(True))).mappings():
            strings = tuple(r["dial_strings"] or ())
            routes.setdefault(r["customer_id"], []).append(
                Route(
                    id=r["id"],
                    namespace=r["namespace"],
                    name=r["name"],
                    customer_id=r["customer_id"],
                    rate_card_id=r["rate_card_id"],
                    tech_prefix=r["tech_prefix"],
                    dial_strings=strings,
                    priority=r["priority"],
                    matchers=tuple(_matcher(s) for s in strings),
                )
            )
        cards = _load_cards(conn)
        pkgs: dict[int, list[Package]] = {}
        p = packages.c
        for r in conn.execute(select(packages).where(p.allowance_minutes.is_not(None)).order_by(p.id)).mappings():
            pkgs.setdefault(r["customer_id"], []).append(
                Package(
                    id=r["id"],
                    customer_id=r["customer_id"],
                    frequency=r["frequency"],
                    start_date=r["start_date"],
                    end_date=r["end_date"],
                    allowance_seconds=r["allowance_minutes"] * 60 * r["quantity"],
                    prefixes=tuple(r["allowance_prefixes"] or ()),
                )
            )
        return cls(
            revision=revision,
            customers=by_id,
            ip_auths=ip_auths,
            sip_users=sip_users,
            routes=routes,
            cards=cards,
            packages=pkgs,
        )

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

    def identify(
        self, *, username: str | None, source_ip: str | None, source_port: int | None, dialed: str
    ) -> Identified | str:
        """The customer of a call and the number to rate, or the reason none was found."""
        if username:
            customer_id = self.sip_users.get(username) if "@" in username else None
            if customer_id is None and "@" not in username:
                customer_id = self.sip_users.get(f"{username}@{DEFAULT_REALM}")
                if customer_id is None:
                    owners = self._by_username.get(username, [])
                    if len(owners) > 1:
                        return f"SIP user {username} is ambiguous: it exists in several realms"
                    customer_id = owners[0] if owners else None
            if customer_id is None:
                return f"unknown SIP user {username}"
            return Identified(self.customers[customer_id], dialed, None)
        if not source_ip:
            return "no sourceIp or username: the caller cannot be identified"
        parsed = _address(source_ip)
        if parsed is None:
            return f"unknown source {source_ip}"
        version, value, bits = parsed
        best: IpAuth | None = None
        for prefixlen in self._masks.get(version, ()):  # longest first: one dict lookup per mask length
            key = (version, prefixlen, value >> (bits - prefixlen))
            for auth in self._by_network.get(key, ()):
                if source_port is not None and auth.port != source_port:
                    continue
                if auth.tech_prefix and not dialed.startswith(auth.tech_prefix):
                    continue
                if best is None or _specificity(auth) > _specificity(best):
                    best = auth
            if best is not None:
                break
        if best is None:
            where = f"{source_ip}:{source_port}" if source_port is not None else source_ip
            return f"unknown source {where}"
        number = dialed[len(best.tech_prefix) :] if best.tech_prefix else dialed
        number = number[best.strip_digits :]
        return Identified(self.customers[best.customer_id], number, best.tech_prefix)

    def route(self, customer: Customer, number: str, tech_prefix: str | None) -> tuple[Route, str] | str:
        """The route for a call and the number after a route tech prefix, or why there is none."""
        routes = self.routes.get(customer.id, [])
        if not routes:
            return f"customer {customer.ref} has no enabled ingress route"
        candidates: list[Route] = []
        if tech_prefix:
            candidates = [r for r in routes if r.tech_prefix == tech_prefix]
        else:
            for prefix in self._route_prefixes.get(customer.id, ()):
                if number.startswith(prefix):
                    candidates = [r for r in routes if r.tech_prefix == prefix]
                    number = number[len(prefix) :]
                    break
        if not candidates:
            candidates = [r for r in routes if not r.tech_prefix]
        bare = number[1:] if number.startswith("+") else number
        matching = [r for r in candidates if r.dial_strings and r.dial_match(bare)]
        if not matching:
            matching = [r for r in candidates if not r.dial_strings]
        if not matching:
            return f"no route of customer {customer.ref} matches {number}"
        return min(matching, key=lambda r: (-r.priority, r.id)), number


def current_revision(conn: Connection) -> int | None:
    """The newest applied revision (compare with ``Catalog.revision`` to know when to reload)."""
    return conn.execute(select(func.max(trunkline_revisions.c.id))).scalar()


@lru_cache(maxsize=65536)
def _address(text: str) -> tuple[int, int, int] | None:
    """(version, integer value, bit width) of an IP address; a switch sends from few addresses."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.version, int(address), address.max_prefixlen


def _specificity(auth: IpAuth) -> tuple[int, int, int]:
    return (auth.network.prefixlen, len(auth.tech_prefix or ""), -auth.id)


def _matcher(dial_string: str) -> Callable[[str], bool]:
    if _DIGITS.fullmatch(dial_string):
        return lambda number: number.startswith(dial_string)
    pattern = re.compile(dial_string)
    return lambda number: pattern.search(number) is not None


def _load_cards(conn: Connection) -> dict[int, RateCard]:
    headers: dict[int, Any] = {r["id"]: r for r in conn.execute(select(rate_cards)).mappings()}
    matches: dict[int, list[Match]] = {card_id: [] for card_id in headers}
    tariffs: dict[tuple[object, ...], Tariff] = {}
    c = rates.c
    query = select(
        c.rate_card_id,
        c.prefix,
        c.name,
        c.per_minute,
        c.connect_fee,
        c.minimum_seconds,
        c.initial_increment,
        c.subsequent_increment,
        c.effective_from,
        c.blocked,
    )
    for row in conn.execute(query):
        card = headers[row.rate_card_id]
        key = (row.rate_card_id, *row[3:8], row.blocked)
        tariff = tariffs.get(key)
        if tariff is None:
            tariff = tariffs[key] = Tariff(
                per_minute=row.per_minute,
                connect_fee=card["defaults_connect_fee"] if row.connect_fee is None else row.connect_fee,
                minimum_seconds=_default(row.minimum_seconds, card["defaults_minimum_seconds"]),
                initial_increment=_default(row.initial_increment, card["defaults_initial_increment"]),
                subsequent_increment=_default(row.subsequent_increment, card["defaults_subsequent_increment"]),
                precision=card["precision"],
                rounding=card["rounding"],
                blocked=row.blocked,
            )
        matches[row.rate_card_id].append(Match(row.prefix, tariff, row.name, row.effective_from))
    cards: dict[int, RateCard] = {}
    for card_id, header in headers.items():
        try:
            index, error = PrefixIndex(matches[card_id]), None
        except RatingError as exc:
            index, error = None, str(exc)
        cards[card_id] = RateCard(card_id, header["namespace"], header["name"], header["currency"], index, error)
    return cards


def _default(value: int | None, default: int) -> int:
    return default if value is None else value
