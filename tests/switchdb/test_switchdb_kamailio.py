"""A stock Kamailio 5.6 can read IP authentications and SIP users through the views."""

from __future__ import annotations

from collections.abc import Callable
from hashlib import md5

import sqlalchemy as sa

from switchdb.tables import credential_authentications, ip_authentications


def _ip_auth(customer_id: int, name: str, **columns: object) -> dict[str, object]:
    return {
        "namespace": "default",
        "name": name,
        "customer_id": customer_id,
        "address": "203.0.113.10",
        "channels": 0,
        "flow_speed": 0,
        "codecs": [],
        "protocol": "udp",
        "port": 5060,
        "strip_digits": 0,
        "direction": "Ingress",
        "ip_addr": "203.0.113.10",
        "mask": 32,
        **columns,
    }


def test_address_view_has_the_permissions_layout(engine: sa.Engine, add_customer: Callable[..., int]) -> None:
    with engine.begin() as conn:
        acme = add_customer(conn, "acme", namespace="tenant-a")
        conn.execute(
            ip_authentications.insert(),
            [
                _ip_auth(acme, "acme-sbc"),
                _ip_auth(acme, "acme-net", address="198.51.100.0/24", ip_addr="198.51.100.0", mask=24, port=5080),
                _ip_auth(acme, "acme-v6", address="2001:db8::1", ip_addr="2001:db8::1", mask=128),
                _ip_auth(acme, "acme-out", direction="Egress", address="sbc.example.net", ip_addr=None, mask=None),
            ],
        )
        result = conn.execute(sa.text("SELECT id, grp, ip_addr, mask, port, tag FROM address ORDER BY ip_addr"))
        columns = list(result.keys())
        rows = [tuple(row[1:]) for row in result]
    assert columns == ["id", "grp", "ip_addr", "mask", "port", "tag"]
    assert rows == [
        (acme, "198.51.100.0", 24, 5080, "tenant-a/acme"),
        (acme, "2001:db8::1", 128, 5060, "tenant-a/acme"),
        (acme, "203.0.113.10", 32, 5060, "tenant-a/acme"),
    ]


def test_address_view_columns_have_kamailio_types(engine: sa.Engine) -> None:
    # permissions reads grp, mask and port as integers and ip_addr, tag as strings.
    columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("address")}
    if engine.dialect.name == "postgresql":  # SQLite views carry no types for expressions
        for name in ("id", "grp", "mask", "port"):
            assert isinstance(columns[name], sa.Integer), name
        for name in ("ip_addr", "tag"):
            assert isinstance(columns[name], sa.String), name
    assert list(columns) == ["id", "grp", "ip_addr", "mask", "port", "tag"]


def test_subscriber_view_has_the_auth_db_layout(engine: sa.Engine, add_customer: Callable[..., int]) -> None:
    ha1 = md5(b"alice:sip.example.net:s3cret").hexdigest()
    ha1b = md5(b"alice@sip.example.net:sip.example.net:s3cret").hexdigest()
    with engine.begin() as conn:
        acme = add_customer(conn)
        row_id = conn.execute(
            credential_authentications.insert().values(
                namespace="default",
                name="alice",
                customer_id=acme,
                username="alice",
                realm="sip.example.net",
                password_ref={"env": "ALICE_PASSWORD"},
                channels=0,
                flow_speed=0,
                codecs=[],
                ip_allow_list=[],
                ha1=ha1,
                ha1b=ha1b,
            )
        ).inserted_primary_key[0]
        result = conn.execute(sa.text("SELECT id, username, domain, password, ha1, ha1b FROM subscriber"))
        columns = list(result.keys())
        rows = [tuple(row) for row in result]
    assert columns == ["id", "username", "domain", "password", "ha1", "ha1b"]
    assert rows == [(row_id, "alice", "sip.example.net", "", ha1, ha1b)]


def test_views_follow_deletes(engine: sa.Engine, add_customer: Callable[..., int]) -> None:
    with engine.begin() as conn:
        acme = add_customer(conn)
        conn.execute(ip_authentications.insert().values(_ip_auth(acme, "acme-sbc")))
        conn.execute(ip_authentications.delete())
        assert conn.execute(sa.text("SELECT count(*) FROM address")).scalar_one() == 0
