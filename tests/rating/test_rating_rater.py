"""Rating CDRs into the database: hand-computed charges, exactly once per call id, packages, the ledger.

The carrier and the batch are in ``support.rating_world`` with each expected figure worked out
beside its CDR. Pricing (customer, route, rate, reasons) is checked on one SQLite database per
module; everything that writes runs on both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, update
from support.rating_world import BATCH, BATCH_TOTAL, apply_world, cdr_line, parse

from rating import loading
from rating.directory import Directory
from rating.ledger import ledger_sum, read_balances
from rating.loading import current_revision
from rating.rater import price, rate_cdrs
from switchdb.engine import open_database
from switchdb.tables import balances, cdrs, customers, ingress_routes, ledger, package_usage, rate_cards


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    engine = open_database(f"sqlite:///{tmp_path_factory.mktemp('rating') / 'switch.db'}")
    with pytest.MonkeyPatch.context() as monkeypatch:
        apply_world(engine, monkeypatch)
    with engine.connect() as conn:
        yield loading.load(conn, now=datetime.now(UTC))
    engine.dispose()


def load(engine: Engine) -> Directory:
    with engine.connect() as conn:
        return loading.load(conn, now=datetime.now(UTC))


def acme_balance(engine: Engine) -> Decimal:
    (found,) = [b for b in read_balances(engine) if b.customer == "default/acme"]
    return found.amount


def acme_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(customers.c.id).where(customers.c.name == "acme")).scalar_one()


@pytest.mark.parametrize(
    ("record", "status", "reason", "route", "prefix", "number"),
    [
        pytest.param(
            cdr_line("p", "12125550100", seconds=1),
            "Rated",
            None,
            "acme-standard",
            "1",
            "12125550100",
            id="ip-address-standard-route",
        ),
        pytest.param(
            cdr_line("p", "+12125550100", seconds=1),
            "Rated",
            None,
            "acme-standard",
            "1",
            "12125550100",
            id="plus-sign-ignored-by-prefix",
        ),
        pytest.param(
            cdr_line("p", "19005550100", seconds=1, port=5060),
            "Rated",
            None,
            "acme-standard",
            "1900",
            "19005550100",
            id="longest-prefix-on-port",
        ),
        pytest.param(
            cdr_line("p", "442071234567", seconds=1, source=None, username="acme1"),
            "Rated",
            None,
            "acme-standard",
            "44",
            "442071234567",
            id="sip-user",
        ),
        pytest.param(
            cdr_line("p", "442071234567", seconds=1, source=None, username="acme1@trunkline.local"),
            "Rated",
            None,
            "acme-standard",
            "44",
            "442071234567",
            id="sip-user-with-realm",
        ),
        pytest.param(
            cdr_line("p", "99442071234567", seconds=1, source="203.0.113.77"),
            "Rated",
            None,
            "acme-premium",
            "44",
            "442071234567",
            id="cidr-tech-prefix-stripped-premium-route",
        ),
        pytest.param(
            cdr_line("p", "99442071234567", seconds=1),
            "Rated",
            None,
            "acme-premium",
            "44",
            "442071234567",
            id="route-tech-prefix-from-single-ip",
        ),
        pytest.param(
            cdr_line("p", "442071234567", seconds=1, source="203.0.113.77"),
            "Rejected",
            "unknown source IP 203.0.113.77",
            None,
            None,
            None,
            id="cidr-without-its-tech-prefix",
        ),
        pytest.param(
            cdr_line("p", "442071234567", seconds=1, source="192.0.2.99"),
            "Rejected",
            "unknown source IP 192.0.2.99",
            None,
            None,
            None,
            id="unknown-source",
        ),
        pytest.param(
            cdr_line("p", "442071234567", seconds=1, port=5080),
            "Rejected",
            "unknown source IP 198.51.100.10:5080",
            None,
            None,
            None,
            id="unknown-port",
        ),
        pytest.param(
            cdr_line("p", "442071234567", seconds=1, source=None, username="nobody"),
            "Rejected",
            "unknown SIP user nobody",
            None,
            None,
            None,
            id="unknown-sip-user",
        ),
        pytest.param(
            cdr_line("p", "447700900123", seconds=1),
            "Rejected",
            "prefix 4477 is blocked on rate card default/usd-test",
            "acme-standard",
            "4477",
            "447700900123",
            id="blocked-prefix",
        ),
        pytest.param(
            cdr_line("p", "861012345678", seconds=1),
            "Rejected",
            "no rate for 861012345678 on rate card default/usd-test",
            "acme-standard",
            None,
            "861012345678",
            id="no-rate",
        ),
        pytest.param(
            cdr_line("p", "33142685300", seconds=1, source="192.0.2.20"),
            "Rated",
            None,
            "bluefin-standard",
            "33",
            "33142685300",
            id="second-customer",
        ),
    ],
)
def test_price_identifies_customer_route_and_rate(world, record, status, reason, route, prefix, number):
    (cdr,) = parse([record])
    priced = price(world, cdr)
    assert (priced.status, priced.reason) == (status, reason)
    assert (priced.route.name if priced.route else None) == route
    assert (priced.match.prefix if priced.match else None) == prefix
    if number is not None:
        assert priced.number == number


def test_catalog_revision_is_the_latest_applied(world, tmp_path, monkeypatch):
    engine = open_database(f"sqlite:///{tmp_path / 's.db'}")
    with engine.connect() as conn:
        assert loading.load(conn, now=datetime.now(UTC)).revision is None
    apply_world(engine, monkeypatch)
    with engine.connect() as conn:
        catalog = loading.load(conn, now=datetime.now(UTC))
        assert catalog.revision == current_revision(conn) == 1
    assert {c.ref for c in catalog.customers.values()} == {"default/acme", "default/bluefin"}
    assert catalog.customer("acme").ref == catalog.customer("default/acme").ref == "default/acme"
    engine.dispose()


def test_a_batch_is_rated_once_and_replaying_it_charges_nothing(engine):
    records = [record for record, *_ in BATCH]
    result = rate_cdrs(engine, load(engine), parse(records))
    assert (result.rated, result.rejected, result.unrated, result.duplicates) == (7, 2, 0, 0)
    assert result.charged == {"USD": Decimal(BATCH_TOTAL)}
    with engine.connect() as conn:
        stored = {r.call_id: r for r in conn.execute(select(cdrs))}
    for record, status, cost, package_seconds in BATCH:
        row = stored[record["callId"]]
        expected = (status, None if cost is None else Decimal(cost), package_seconds)
        assert (row.status, row.cost, row.package_seconds) == expected, record["callId"]
    assert acme_balance(engine) == -Decimal(BATCH_TOTAL)
    with engine.connect() as conn:
        # lines follow the calls' answer times; balance_after runs down to the balance
        lines = conn.execute(select(ledger).order_by(ledger.c.id)).all()
        assert [line.reference for line in lines] == ["c7", "c8", "c2", "c3", "c5"]
        running = Decimal(0)
        for line in lines:
            running += line.amount
            assert line.balance_after == running
        assert sorted((line.reference, line.entry_type, line.amount) for line in lines) == [
            ("c2", "call", Decimal("-0.006")),
            ("c3", "call", Decimal("-0.01")),
            ("c5", "call", Decimal("-0.04")),
            ("c7", "call", Decimal("-0.035")),
            ("c8", "call", Decimal("-0.075")),
        ]
        assert lines[-1].balance_after == -Decimal(BATCH_TOTAL)
        assert ledger_sum(conn, acme_id(engine)) == acme_balance(engine)

    again = rate_cdrs(engine, load(engine), parse(records))
    assert (again.rated, again.rejected, again.duplicates, again.charged) == (0, 0, 9, {})
    assert acme_balance(engine) == -Decimal(BATCH_TOTAL)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ledger)).scalar_one() == 5
        assert conn.execute(select(func.count()).select_from(cdrs)).scalar_one() == 9


def test_a_line_repeated_inside_one_batch_is_charged_once(engine):
    uk = cdr_line("uk", "442071234567", seconds=31)  # 0.04
    result = rate_cdrs(engine, load(engine), parse([uk, uk, uk]))
    assert (result.rated, result.duplicates, result.charged) == (1, 2, {"USD": Decimal("0.04")})
    assert acme_balance(engine) == Decimal("-0.04")


def test_package_allowance_covers_part_of_a_call_then_is_exhausted_then_renews_next_month(engine):
    catalog = load(engine)
    # 100 s -> 102 s billed (6/6), all from the package: 18 s left
    first = rate_cdrs(engine, catalog, parse([cdr_line("m1", "12125550100", seconds=100)]))
    assert first.charged == {"USD": Decimal("0")}
    # 47 s -> 48 s billed: 18 s from the package, 30 s x 0.01/60 = 0.005
    second = rate_cdrs(
        engine, catalog, parse([cdr_line("m2", "12125550100", seconds=47, answer="2026-03-02T00:00:00Z")])
    )
    assert second.charged == {"USD": Decimal("0.005")}
    # exhausted: 60 s x 0.01/60 = 0.01
    third = rate_cdrs(
        engine, catalog, parse([cdr_line("m3", "12125550100", seconds=60, answer="2026-03-31T23:59:00Z")])
    )
    assert third.charged == {"USD": Decimal("0.01")}
    # April has its own 120 s
    april = rate_cdrs(
        engine, catalog, parse([cdr_line("m4", "12125550100", seconds=60, answer="2026-04-01T00:00:00Z")])
    )
    assert april.charged == {"USD": Decimal("0")}
    # not a package destination: 44 pays money
    uk = rate_cdrs(engine, catalog, parse([cdr_line("m5", "442071234567", seconds=30, answer="2026-04-01T00:01:00Z")]))
    assert uk.charged == {"USD": Decimal("0.035")}
    with engine.connect() as conn:
        usage = {(str(r.period_start), r.seconds_used) for r in conn.execute(select(package_usage))}
        stored = {r.call_id: r.package_seconds for r in conn.execute(select(cdrs.c.call_id, cdrs.c.package_seconds))}
        assert ledger_sum(conn, acme_id(engine)) == acme_balance(engine) == Decimal("-0.05")
    assert usage == {("2026-03-01", 120), ("2026-04-01", 60)}
    assert stored == {"m1": 102, "m2": 18, "m3": 0, "m4": 60, "m5": 0}


def test_calls_of_several_customers_debit_each_in_its_currency(engine):
    batch = [
        cdr_line("e1", "33142685300", seconds=90, source="192.0.2.20"),  # 90 s x 0.02/60 = 0.03 EUR
        cdr_line("u1", "442071234567", seconds=31),  # 0.04 USD
    ]
    result = rate_cdrs(engine, load(engine), parse(batch))
    assert result.charged == {"EUR": Decimal("0.03"), "USD": Decimal("0.04")}
    amounts = {b.customer: (b.amount, b.currency) for b in read_balances(engine)}
    assert amounts == {"default/acme": (Decimal("-0.04"), "USD"), "default/bluefin": (Decimal("-0.03"), "EUR")}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(balances)).scalar_one() == 2


def test_a_rate_card_in_another_currency_leaves_the_call_unrated(engine):
    # apply refuses this; a row edited behind its back must not debit EUR with USD prices
    with engine.begin() as conn:
        usd = conn.execute(select(rate_cards.c.id).where(rate_cards.c.name == "usd-test")).scalar_one()
        conn.execute(update(ingress_routes).where(ingress_routes.c.name == "bluefin-standard").values(rate_card_id=usd))
    result = rate_cdrs(engine, load(engine), parse([cdr_line("x", "33142685300", seconds=9, source="192.0.2.20")]))
    assert (result.unrated, result.charged) == (1, {})
    assert result.outcomes[0].reason == "rate card default/usd-test is in USD, customer default/bluefin pays in EUR"


def _catalog_of(auths: list[tuple[str, int, str | None, int]]) -> Directory:
    """A directory with one customer per authentication (customer id = list position + 1)."""
    from ipaddress import ip_network

    from rating.directory import Customer, IpAuth

    people = {i: Customer(i, "default", f"c{i}") for i in range(1, len(auths) + 1)}
    entries = [
        IpAuth(i, "default", f"ip{i}", i, ip_network(address, strict=False), port, tech, strip)
        for i, (address, port, tech, strip) in enumerate(auths, start=1)
    ]
    return Directory(customers=people, ip_auths=entries, revision=1)


@pytest.mark.parametrize(
    ("source", "port", "dialed", "customer", "number"),
    [
        pytest.param("10.1.2.3", None, "4420", "c2", "4420", id="longest-cidr-wins"),
        pytest.param("10.1.9.9", None, "4420", "c1", "4420", id="wider-cidr-when-narrow-misses"),
        pytest.param("10.1.2.3", None, "774420", "c3", "4420", id="tech-prefix-beats-none-on-same-network"),
        pytest.param("10.1.2.3", 5080, "4420", "c4", "20", id="port-selects-then-strip-digits"),
        pytest.param("2001:db8::7", None, "4420", "c5", "4420", id="ipv6"),
        pytest.param("10.2.0.1", None, "4420", None, None, id="no-match"),
    ],
)
def test_identify_by_source_address(source, port, dialed, customer, number):
    catalog = _catalog_of(
        [
            ("10.1.0.0/16", 5060, None, 0),
            ("10.1.2.0/24", 5060, None, 0),
            ("10.1.2.0/24", 5060, "77", 0),
            ("10.1.2.0/24", 5080, None, 2),
            ("2001:db8::/32", 5060, None, 0),
        ]
    )
    found = catalog.identify(username=None, source_ip=source, source_port=port, dialed=dialed)
    if customer is None:
        assert (found.sip_code, found.reason) == (403, f"unknown source IP {source}")
    else:
        assert (found.customer.name, found.number) == (customer, number)


def test_sip_user_part_is_case_sensitive_and_realm_is_not_for_rating_and_authorize_alike():
    """RFC 3261: the user part of a SIP URI is case-sensitive, the realm (a host name) is not."""
    from datetime import UTC, datetime

    from rating.authorize import Request, authorize
    from rating.cdr import Cdr
    from rating.directory import Customer, SipUser
    from rating.limits import CallLimits

    people = {1: Customer(1, "default", "upper"), 2: Customer(2, "default", "lower")}
    users = [
        SipUser(1, "default", "u1", 1, "Alice", "Example.COM"),
        SipUser(2, "default", "u2", 2, "alice", "trunkline.local"),
    ]
    loaded = Directory(customers=people, sip_users=users)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    for username, owner in [
        ("Alice@example.com", "default/upper"),
        ("Alice", "default/upper"),
        ("alice", "default/lower"),
        ("alice@TRUNKLINE.LOCAL", "default/lower"),
        ("ALICE", None),
        ("alice@example.com", None),
    ]:
        found = loaded.identify(username=username, dialed="4420")
        assert (found.customer.ref if hasattr(found, "customer") else None) == owner, username
        cdr = Cdr("x", now, None, now, "1", "4420", 200, username=username)
        assert (price(loaded, cdr).customer.ref if price(loaded, cdr).customer else None) == owner
        decision = authorize(loaded, Request(cli="1", dialed="4420", username=username), now=now, limits=CallLimits())
        assert decision.customer == owner, username
