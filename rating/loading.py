"""Reading the directory (``rating.directory``) from the switch database.

``load(conn, now=...)`` reads it in one pass: customers with their CLI rules, Ingress IP
authentications, SIP users, ingress routes, rate cards (each deck indexed once into a
``PrefixIndex``: a 100k-row deck is one SELECT and a dict, never a SQL scan per call), packages,
and the money as of ``now``. ``load_money(conn, now)`` is the one loader of the part that moves
without an apply (balances, today's spend, package allowances left, active alert penalties): the
sidecar re-reads only that between revisions. ``current_revision`` is what it polls.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from rating import RatingError
from rating.charges import Tariff
from rating.directory import (
    Allowance,
    Card,
    CliRule,
    Customer,
    DialString,
    Directory,
    IpAuth,
    Money,
    Package,
    Penalty,
    Route,
    SipUser,
)
from rating.prefixes import Match, PrefixIndex
from switchdb.tables import declared, trunkline_revisions
from switchdb.tables import rating as operational

_ZERO = Decimal(0)


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
    packages = _load_packages(conn)
    money = load_money(conn, now, packages=packages)
    return Directory(
        customers=customers,
        ip_auths=ip_auths,
        sip_users=sip_users,
        routes=routes,
        cards=_load_cards(conn),
        balances=money.balances,
        spent_today=money.spent_today,
        allowances=money.allowances,
        packages=packages,
        penalties=money.penalties,
        revision=revision,
    )


def load_money(conn: Connection, now: datetime, *, packages: dict[int, tuple[Package, ...]] | None = None) -> Money:
    """Balances, money spent on calls today, package allowances left and penalties in force, as of ``now``.

    ``packages`` are the directory's (declared state: they move only with a revision); read when not given.
    """
    b = operational.balances
    return Money(
        balances={row.customer_id: row.amount for row in conn.execute(select(b.c.customer_id, b.c.amount))},
        spent_today=_spent_today(conn, now),
        allowances=_allowances(conn, now, _load_packages(conn) if packages is None else packages),
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


def _load_packages(conn: Connection) -> dict[int, tuple[Package, ...]]:
    """Packages with an allowance, per customer, in package id order (the order allowances are used in)."""
    p = declared.packages
    found: dict[int, list[Package]] = {}
    for row in conn.execute(select(p).where(p.c.allowance_minutes.is_not(None)).order_by(p.c.id)).mappings():
        found.setdefault(row["customer_id"], []).append(
            Package(
                id=row["id"],
                customer_id=row["customer_id"],
                frequency=row["frequency"],
                start_date=row["start_date"],
                end_date=row["end_date"],
                allowance_seconds=row["allowance_minutes"] * 60 * row["quantity"],
                prefixes=tuple(row["allowance_prefixes"] or ()),
                name=f"{row['namespace']}/{row['spec_name']}",
            )
        )
    return {customer: tuple(items) for customer, items in found.items()}


def _allowances(
    conn: Connection, now: datetime, packages: dict[int, tuple[Package, ...]]
) -> dict[int, tuple[Allowance, ...]]:
    today = now.astimezone(UTC).date()
    usage = operational.package_usage
    used: dict[tuple[int, date], int] = {
        (package_id, start): seconds
        for package_id, start, seconds in conn.execute(
            select(usage.c.package_id, usage.c.period_start, func.sum(usage.c.seconds_used)).group_by(
                usage.c.package_id, usage.c.period_start
            )
        )
    }
    found: dict[int, list[Allowance]] = {}
    for customer, owned in packages.items():
        for pkg in owned:
            if not pkg.active_on(today):
                continue
            left = pkg.allowance_seconds - used.get((pkg.id, pkg.period_start(today)), 0)
            if left > 0:
                found.setdefault(customer, []).append(Allowance(pkg.name, left, pkg.prefixes))
    return {customer: tuple(items) for customer, items in found.items()}
