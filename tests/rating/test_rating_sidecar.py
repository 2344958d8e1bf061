"""The rating sidecar's HTTP API over real HTTP on 127.0.0.1 (the app served from a thread)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from support.polling import wait_until
from support.rating_world import BATCH, BATCH_TOTAL, COBALT, MANIFESTS, apply_world, cdr_line, jsonl
from support.sidecar import ServerThread, http, metric, parse_metrics

from rating.ledger import read_balances
from rating.notify import Notifier
from rating.service import create_app
from switchdb.engine import open_database
from switchdb.tables import cdrs, customers, ledger, trunkline_revisions
from switchdb.tables.rating import stats_minute

ACME_IP = "198.51.100.10"
NDJSON = "application/x-ndjson"


@pytest.fixture
def world(engine: Any) -> Any:
    """The rating world (``engine`` of tests/rating/conftest.py), by the name these tests read best."""
    return engine


@pytest.fixture
def server(world: Any) -> Iterator[ServerThread]:
    with ServerThread(create_app(world, reload_interval=1.0)) as running:
        yield running


def invite(call_id: str | None = None, dialed: str = "442071234567", source: str = ACME_IP) -> dict[str, Any]:
    body: dict[str, Any] = {"sourceIp": source, "cli": "+15125550100", "dialed": dialed}
    if call_id:
        body["callId"] = call_id
    return body


def test_authorize_allowed_and_denied(server: ServerThread) -> None:
    status, allowed = http(server.url, "POST", "/v1/authorize", invite("a1"))
    assert status == 200
    assert allowed["allowed"] is True and allowed["sipCode"] == 200
    assert (allowed["customer"], allowed["route"], allowed["prefix"]) == ("default/acme", "default/acme-standard", "44")
    assert Decimal(allowed["perMinute"]) == Decimal("0.05")  # the stored scale differs: "0.0500" vs "0.05000000"
    assert allowed["callId"] == "a1" and allowed["steps"][0]["name"] == "identify"

    status, blocked = http(server.url, "POST", "/v1/authorize", invite("a2", dialed="447700900123"))
    assert status == 200
    assert (blocked["allowed"], blocked["sipCode"], blocked["reason"]) == (False, 403, "destination blocked")

    status, unknown = http(server.url, "POST", "/v1/authorize", invite("a3", source="192.0.2.99"))
    assert (status, unknown["allowed"], unknown["sipCode"]) == (200, False, 403)
    assert "unknown source IP" in unknown["reason"]

    status, user = http(server.url, "POST", "/v1/authorize", {"username": "acme1", "cli": "1", "dialed": "12125550100"})
    assert (status, user["allowed"], user["customer"]) == (200, True, "default/acme")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(b"{not json", None, id="malformed-json"),
        pytest.param(b"[1, 2]", "", id="not-an-object"),
        pytest.param(json.dumps({"sourceIp": ACME_IP, "dialed": "44"}).encode(), "cli", id="missing-cli"),
        pytest.param(json.dumps({"sourceIp": ACME_IP, "cli": "1"}).encode(), "dialed", id="missing-dialed"),
        pytest.param(json.dumps({"cli": "1", "dialed": "44"}).encode(), "sourceIp", id="no-source"),
        pytest.param(
            json.dumps({"sourceIp": "1.2.3.999", "cli": "1", "dialed": "44"}).encode(), "sourceIp", id="bad-ip"
        ),
        pytest.param(
            json.dumps({"sourceIp": ACME_IP, "sourcePort": "5060", "cli": "1", "dialed": "44"}).encode(),
            "sourcePort",
            id="port-as-text",
        ),
        pytest.param(
            json.dumps({"sourceIp": ACME_IP, "cli": "1", "dialed": "44", "dialled": "44"}).encode(),
            "dialled",
            id="unknown-field",
        ),
    ],
)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_authorize_malformed_is_400(server: ServerThread, raw: bytes, field: str | None) -> None:
    status, body = http(server.url, "POST", "/v1/authorize", raw=raw)
    assert status == 400
    assert body["error"]
    if field is not None:
        assert field in [p["field"] for p in body["problems"]]
    assert http(server.url, "GET", "/v1/calls/active")[1]["active"] == 0


def _balance(engine: Any, ref: str) -> Decimal:
    return next(b.amount for b in read_balances(engine) if b.customer == ref)


def test_cdrs_array_and_ndjson_are_rated_once(server: ServerThread, world: Any) -> None:
    records = [record for record, *_ in BATCH]
    status, first = http(server.url, "POST", "/v1/cdrs", records[:5])
    assert status == 200, first
    assert (first["rated"], first["rejected"], first["duplicate"]) == (4, 1, 0)
    assert first["errors"] == [
        {"line": 4, "callId": "c4", "status": "Rejected", "reason": first["errors"][0]["reason"]}
    ]
    status, second = http(server.url, "POST", "/v1/cdrs", raw=jsonl(records[5:]).encode(), content_type=NDJSON)
    assert status == 200, second
    assert (second["rated"], second["rejected"], second["duplicate"]) == (3, 1, 0)
    assert Decimal(first["charged"]["USD"]) + Decimal(second["charged"]["USD"]) == Decimal(BATCH_TOTAL)
    assert _balance(world, "default/acme") == -Decimal(BATCH_TOTAL)

    # Replaying everything (and a single object) charges nothing.
    status, replay = http(server.url, "POST", "/v1/cdrs", raw=jsonl(records).encode(), content_type=NDJSON)
    assert (status, replay["rated"], replay["duplicate"], replay["charged"]) == (200, 0, 9, {})
    status, single = http(server.url, "POST", "/v1/cdrs", records[1])
    assert (status, single["duplicate"]) == (200, 1)
    assert _balance(world, "default/acme") == -Decimal(BATCH_TOTAL)
    with world.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cdrs)).scalar_one() == 9
        assert conn.execute(select(func.count()).select_from(ledger)).scalar_one() == 5  # calls that cost money


def test_malformed_cdr_line_is_400_and_nothing_is_written(server: ServerThread, world: Any) -> None:
    good = cdr_line("m1", "442071234567", seconds=60)
    bad = {**cdr_line("m2", "442071234567", seconds=60), "anwser": "2026-03-01T10:00:00Z"}
    status, body = http(server.url, "POST", "/v1/cdrs", raw=jsonl([good, bad]).encode(), content_type=NDJSON)
    assert status == 400
    assert body["problems"] == [{"line": 2, "field": "anwser", "message": "is not a field of the CDR exchange format"}]
    status, body = http(server.url, "POST", "/v1/cdrs", [good, {**good, "callId": "m3", "sipCode": "200x"}])
    assert status == 400 and body["problems"][0]["line"] == 2 and body["problems"][0]["field"] == "sipCode"
    status, body = http(server.url, "POST", "/v1/cdrs", raw=b'[{"callId": ')
    assert status == 400
    with world.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cdrs)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(ledger)).scalar_one() == 0


def test_calls_lists_the_latest_rated_calls(server: ServerThread) -> None:
    http(server.url, "POST", "/v1/cdrs", [record for record, *_ in BATCH])
    status, body = http(server.url, "GET", "/v1/calls?customer=default/acme&limit=3")
    assert status == 200
    assert [c["callId"] for c in body["calls"]] == ["c9", "c5", "c4"]  # newest start first
    assert body["calls"][1]["cost"] == "0.04" and body["calls"][1]["customer"] == "default/acme"
    assert body["calls"][2]["status"] == "Rejected"
    status, everyone = http(server.url, "GET", "/v1/calls")
    assert status == 200 and len(everyone["calls"]) == 9
    assert http(server.url, "GET", "/v1/calls?customer=default/nobody")[0] == 404
    assert http(server.url, "GET", "/v1/calls?limit=0")[0] == 400
    assert http(server.url, "GET", "/v1/calls?limit=abc")[0] == 400


def test_active_dialogs_go_up_on_authorize_and_down_on_cdr(server: ServerThread) -> None:
    for call_id in ("d1", "d2"):
        assert http(server.url, "POST", "/v1/authorize", invite(call_id))[1]["allowed"]
    http(server.url, "POST", "/v1/authorize", invite("d1"))  # a retransmitted INVITE counts once
    http(server.url, "POST", "/v1/authorize", invite())  # no call id: nothing reserved
    status, active = http(server.url, "GET", "/v1/calls/active")
    assert status == 200
    assert (active["active"], active["channels"]) == (2, {"default/acme": 2})
    assert {c["callId"] for c in active["calls"]} == {"d1", "d2"}
    assert active["calls"][0]["route"] == "default/acme-standard"

    assert http(server.url, "POST", "/v1/cdrs", cdr_line("d1", "442071234567", seconds=30))[0] == 200
    status, active = http(server.url, "GET", "/v1/calls/active")
    assert (active["active"], active["channels"], active["calls"][0]["callId"]) == (1, {"default/acme": 1}, "d2")


def test_metrics_match_what_happened(server: ServerThread, world: Any) -> None:
    for call_id in ("p1", "p2"):
        http(server.url, "POST", "/v1/authorize", invite(call_id))
    http(server.url, "POST", "/v1/authorize", invite("p3", dialed="447700900123"))
    http(server.url, "POST", "/v1/authorize", invite("p4", source="192.0.2.99"))
    http(server.url, "POST", "/v1/cdrs", [record for record, *_ in BATCH])
    http(server.url, "POST", "/v1/cdrs", [BATCH[0][0]])  # a duplicate
    status, text = http(server.url, "GET", "/metrics")
    assert status == 200
    samples = parse_metrics(text)
    assert metric(samples, "trunkline_authorizations_total", customer="default/acme", result="allowed") == 2
    assert metric(samples, "trunkline_authorizations_total", customer="default/acme", result="rejected") == 1
    assert metric(samples, "trunkline_authorizations_total", customer="", result="rejected") == 1
    assert metric(samples, "trunkline_cdrs_rated_total", customer="default/acme", status="Rated") == 7
    assert metric(samples, "trunkline_cdrs_rated_total", customer="default/acme", status="Rejected") == 1  # c4 blocked
    assert metric(samples, "trunkline_cdrs_rated_total", customer="", status="Rejected") == 1  # c6 unknown source
    assert metric(samples, "trunkline_cdrs_rated_total", customer="default/acme", status="Duplicate") == 1
    assert metric(samples, "trunkline_active_channels", customer="default/acme") == 2
    assert metric(samples, "trunkline_balance", customer="default/acme", currency="USD") == -float(BATCH_TOTAL)
    assert ("trunkline_balance", frozenset({("customer", "default/bluefin"), ("currency", "EUR")})) in samples
    with world.connect() as conn:
        revision = conn.execute(select(func.max(trunkline_revisions.c.id))).scalar_one()
    assert metric(samples, "trunkline_revision") == revision
    assert metric(samples, "trunkline_authorize_duration_seconds_count") == 4
    assert metric(samples, "trunkline_authorize_duration_seconds_bucket", le="+Inf") == 4
    assert metric(samples, "trunkline_authorize_duration_seconds_sum") > 0


def test_a_new_revision_is_served_within_the_reload_interval(
    server: ServerThread, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, before = http(server.url, "POST", "/v1/authorize", invite(source="192.0.2.77"))
    assert (status, before["allowed"], before["sipCode"]) == (200, False, 403)
    status, health = http(server.url, "GET", "/healthz")
    assert status == 200 and health["status"] == "ok"
    apply_world(world, monkeypatch, MANIFESTS + COBALT)

    def known() -> dict[str, Any] | None:
        decision = http(server.url, "POST", "/v1/authorize", invite(source="192.0.2.77"))[1]
        return decision if decision["allowed"] else None

    # reload interval 1 s; 10 s is generous for a busy machine
    decision = wait_until(known, timeout=10, what="the sidecar to know cobalt")
    assert decision["customer"] == "default/cobalt"
    assert http(server.url, "GET", "/healthz")[1]["revision"] == health["revision"] + 1
    # A CDR posted right after an apply is rated against the new revision (checked per batch, not per poll).
    status, body = http(server.url, "POST", "/v1/cdrs", cdr_line("k1", "12125550100", seconds=60, source="192.0.2.77"))
    assert (status, body["rated"], body["charged"]) == (200, 1, {"USD": "0.01"})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_healthz_needs_a_revision(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = open_database(db_url)
    try:
        with ServerThread(create_app(engine, reload_interval=1.0)) as server:
            status, body = http(server.url, "GET", "/healthz")
            assert (status, body["status"]) == (503, "no revision loaded")
            assert http(server.url, "POST", "/v1/authorize", invite())[0] == 200  # an empty directory refuses
            apply_world(engine, monkeypatch)
            wait_until(lambda: http(server.url, "GET", "/healthz")[0] == 200, timeout=10, what="/healthz to answer 200")
            assert http(server.url, "POST", "/v1/authorize", invite())[1]["allowed"] is True
    finally:
        engine.dispose()


LOW_BALANCE_ALERT = """
---
apiVersion: trunkline.dev/v1alpha1
kind: Alert
metadata: {name: acme-low}
spec:
  customerRef: acme
  name: Acme in debt
  recipients: [{email: noc@acme.example}]
  area: Balance
  operator: "<"
  threshold: "0"
  penalty: 1h
"""


def test_cdr_batches_are_rolled_up_into_minute_statistics(world: Any) -> None:
    with ServerThread(create_app(world, reload_interval=1.0, stats_interval=3600)) as server:
        records = [record for record, *_ in BATCH]
        assert http(server.url, "POST", "/v1/cdrs", records)[0] == 200

        def attempts() -> int | None:
            with world.connect() as conn:
                total = conn.execute(select(func.sum(stats_minute.c.attempts))).scalar()
            return total if total == len(records) else None

        # The hourly timer never fires in this test: the batch itself woke the roll-up.
        assert wait_until(attempts, timeout=10, what="the batch rolled up into stats_minute") == len(records)


def test_alerts_timer_fires_mails_and_penalises_through_authorize(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.controller import Controller

    received: list[bytes] = []

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope.content)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        apply_world(world, monkeypatch, MANIFESTS + LOW_BALANCE_ALERT)
        notifier = Notifier(smtp_host="127.0.0.1", smtp_port=port)
        app = create_app(world, reload_interval=30, alerts_interval=0.2, notifier=notifier)
        with ServerThread(app) as server:
            assert http(server.url, "POST", "/v1/authorize", invite())[1]["allowed"] is True
            assert http(server.url, "POST", "/v1/cdrs", [record for record, *_ in BATCH])[0] == 200  # acme < 0

            def refused() -> dict[str, Any] | None:
                decision = http(server.url, "POST", "/v1/authorize", invite())[1]
                return None if decision["allowed"] else decision

            decision = wait_until(refused, timeout=10, what="authorize to refuse acme")
            assert decision["sipCode"] == 403
            assert decision["reason"].startswith("penalty: alert default/acme-low firing until ")
            wait_until(lambda: received, timeout=10, what="the alert mail")
            assert b"Acme in debt" in received[0] and b"X-Trunkline-Alert: default/acme-low" in received[0]
        with world.connect() as conn:
            assert conn.execute(select(customers.c.status).where(customers.c.name == "acme")).scalar_one() == "Active"
    finally:
        controller.stop()


def test_after_a_batch_only_its_minutes_are_rolled_up_and_the_wide_pass_once_an_interval(world: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from support.rating_world import parse

    from rating import loading
    from rating.rater import rate_cdrs
    from rating.sidecar import Sidecar

    now = [datetime(2026, 3, 1, 10, 30, tzinfo=UTC)]
    sidecar = Sidecar(world, stats_interval=3600, clock=lambda: now[0])
    sidecar.state.load()
    records = [record for record, *_ in BATCH]
    sidecar.rate(parse(records[:5]))
    assert sidecar.roll_up() > 0  # the first pass is a wide one

    # Another sidecar rates a call of 09:50 into the same database: only a wide pass sees it.
    with world.connect() as conn:
        directory = loading.load(conn, now=now[0])
    other = cdr_line("other", "12125550100", seconds=60, answer="2026-03-01T09:50:00Z")
    rate_cdrs(world, directory, parse([other]), now=now[0])

    def minutes() -> set[str]:
        with world.connect() as conn:
            return {m.strftime("%H:%M") for m in conn.execute(select(stats_minute.c.minute)).scalars()}

    sidecar.rate(parse(records[5:]))  # calls from 10:00 on
    sidecar.roll_up()
    assert "09:50" not in minutes(), "after a batch, only the batch's minutes are redone"
    assert sidecar.roll_up() == 0  # nothing pending, the interval not over: no work at all

    now[0] += timedelta(seconds=3600)  # the wide pass reaches back to 09:30
    sidecar.roll_up()
    assert "09:50" in minutes(), "once an interval, the last two intervals are redone"
