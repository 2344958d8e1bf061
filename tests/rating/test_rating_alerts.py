"""Alerts end to end: declared through apply, evaluated against balances, ledger and stats, delivered for real.

Email goes to a real aiosmtpd server on 127.0.0.1 and webhooks to a real ``http.server`` in a
thread; the test reads what arrived. Only the backoff sleep is replaced (recorded, not slept).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, delete, insert, select, update
from test_rating_stats import CALLS, T0, cdr_row

import resources
from rating import loading
from rating.alerts import evaluate
from rating.authorize import Request, authorize
from rating.limits import CallLimits
from rating.notify import Notifier
from rating.stats import roll_up
from reconciler.apply import RevisionInfo
from reconciler.reconcile import apply, plan
from switchdb.engine import open_database
from switchdb.tables import alerts, balances, cdrs, customers, ledger
from switchdb.tables.rating import alert_deliveries, alert_penalties

NOW = datetime(2025, 3, 1, 10, 5, tzinfo=UTC)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


class _Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Hook)
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.failures_left = 0


class _Hook(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.server.failures_left > 0:
            self.server.failures_left -= 1
            self.send_response(500)
        else:
            self.server.bodies.append((self.headers["Content-Type"], body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def manifests(alert: str, *, status: str = "Active") -> str:
    return f"""\
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata: {{name: acme}}
spec: {{displayName: Acme VoIP, currency: USD, status: {status}}}
---
apiVersion: trunkline.dev/v1alpha1
kind: Alert
metadata: {{name: acme-alert}}
spec:
  customerRef: acme
  name: Acme trouble
{alert}"""


def declare(engine: Engine, text: str) -> int:
    apply(engine, resources.load_text(text), info=RevisionInfo("t", "t"))
    with engine.connect() as conn:
        return conn.execute(select(customers.c.id).where(customers.c.name == "acme")).scalar_one()


def set_balance(engine: Engine, customer_id: int, amount: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(balances).where(balances.c.customer_id == customer_id))
        conn.execute(
            insert(balances).values(customer_id=customer_id, amount=Decimal(amount), currency="USD", updated_at=NOW)
        )


def alert_row(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(alerts)).mappings().one())


def status_of(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(select(customers.c.status).where(customers.c.name == "acme")).scalar_one()


def deliveries(engine: Engine) -> list[tuple[str, str, int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(alert_deliveries).order_by(alert_deliveries.c.id)).mappings().all()
    return [(r["event"], r["channel"], r["attempt"], r["outcome"]) for r in rows]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_database(db_url)
    yield engine
    engine.dispose()


def run(engine: Engine, at: datetime, notifier: Notifier) -> list[Any]:
    with engine.begin() as conn:
        return evaluate(conn, at, notifier=notifier)


BALANCE_ALERT = """\
  recipients: [{email: noc@acme.example}, {webhook: "WEBHOOK"}, {phone: "+15550100"}]
  area: Balance
  operator: "<"
  threshold: "50"
  resetThreshold: "100"
"""


def test_balance_alert_fires_once_delivers_everywhere_and_rearms_with_hysteresis(
    engine: Engine, smtp: tuple[int, _Inbox], hook: _Receiver
) -> None:
    port, inbox = smtp
    url = f"http://127.0.0.1:{hook.server_address[1]}/alerts"
    acme = declare(engine, manifests(BALANCE_ALERT.replace("WEBHOOK", url)))
    notifier = Notifier(smtp_host="127.0.0.1", smtp_port=port, sender="alerts@carrier.example")
    set_balance(engine, acme, "40")

    (result,) = run(engine, NOW, notifier)
    assert (result.before, result.after, result.event, result.value) == ("Ready", "Sent", "Fired", Decimal(40))
    (mail_from, rcpt, content) = inbox.messages[0]
    mail = message_from_bytes(content)
    assert (mail_from, rcpt) == ("alerts@carrier.example", ["noc@acme.example"])
    assert mail["Subject"] == "[Trunkline] default/acme: Balance 40 < 50"
    assert (mail["To"], mail["X-Trunkline-Alert"], mail["X-Trunkline-Customer"]) == (
        "noc@acme.example",
        "default/acme-alert",
        "default/acme",
    )
    assert "Acme trouble" in mail.get_payload() and "Condition: Balance < 50" in mail.get_payload()
    ((content_type, body),) = hook.bodies
    assert content_type == "application/json"
    assert body | {"at": None} == {
        "customer": "default/acme",
        "alert": "default/acme-alert",
        "name": "Acme trouble",
        "area": "Balance",
        "operator": "<",
        "threshold": "50",
        "value": "40",
        "event": "Fired",
        "at": None,
    }
    assert deliveries(engine) == [
        ("Fired", "email", 1, "Sent"),
        ("Fired", "webhook", 1, "Sent"),
        ("Fired", "phone", 1, "Unsupported"),
    ]
    row = alert_row(engine)
    assert (row["state"], row["fired_at"], row["last_sent_at"], Decimal(row["last_value"])) == (
        "Sent",
        NOW,
        NOW,
        Decimal(40),
    )

    # Still firing, no repeat configured: nothing more is sent.
    (result,) = run(engine, NOW + timedelta(hours=1), notifier)
    assert (result.after, result.event, len(inbox.messages)) == ("Sent", None, 1)
    # Above the threshold but under resetThreshold: hysteresis keeps it Sent.
    set_balance(engine, acme, "70")
    assert run(engine, NOW + timedelta(hours=2), notifier)[0].after == "Sent"
    # Crossing resetThreshold re-arms it; a new fall fires again.
    set_balance(engine, acme, "100")
    assert run(engine, NOW + timedelta(hours=3), notifier)[0].event == "Reset"
    assert alert_row(engine)["state"] == "Ready"
    set_balance(engine, acme, "10")
    assert run(engine, NOW + timedelta(hours=4), notifier)[0].event == "Fired"
    assert len(inbox.messages) == 2


def test_repeat_resends_while_firing(sqlite_url: str, smtp: tuple[int, _Inbox]) -> None:
    engine = open_database(sqlite_url)
    port, inbox = smtp
    alert = '  recipients: [{email: noc@acme.example}]\n  area: Balance\n  operator: "<="\n  threshold: "0"\n'
    declare(engine, manifests(alert + "  repeat: 10m\n"))
    notifier = Notifier(smtp_host="127.0.0.1", smtp_port=port)
    events = [run(engine, NOW + timedelta(minutes=m), notifier)[0].event for m in (0, 5, 10, 15, 20)]
    assert events == ["Fired", None, "Repeat", None, "Repeat"]
    assert [message_from_bytes(m[2])["Subject"] for m in inbox.messages] == [
        "[Trunkline] default/acme: Balance 0 <= 0"
    ] * 3
    engine.dispose()


def test_failed_webhook_is_retried_with_backoff_and_every_attempt_recorded(sqlite_url: str, hook: _Receiver) -> None:
    engine = open_database(sqlite_url)
    url = f"http://127.0.0.1:{hook.server_address[1]}/x"
    declare(
        engine, manifests(f'  recipients: [{{webhook: "{url}"}}]\n  area: Balance\n  operator: "<"\n  threshold: "1"\n')
    )
    waits: list[float] = []
    hook.failures_left = 2
    (result,) = run(engine, NOW, Notifier(retries=2, backoff=0.5, sleep=waits.append))
    assert [a.outcome for a in result.attempts] == ["Failed", "Failed", "Sent"]
    assert "HTTP 500" in (result.attempts[0].error or "")
    assert waits == [0.5, 1.0]
    assert deliveries(engine) == [("Fired", "webhook", n, o) for n, o in ((1, "Failed"), (2, "Failed"), (3, "Sent"))]
    assert len(hook.bodies) == 1
    engine.dispose()


def test_undeliverable_fire_is_sent_again_next_time(sqlite_url: str, smtp: tuple[int, _Inbox]) -> None:
    engine = open_database(sqlite_url)
    declare(
        engine,
        manifests('  recipients: [{email: noc@acme.example}]\n  area: Balance\n  operator: "<"\n  threshold: "1"\n'),
    )
    dead = Notifier(smtp_host="127.0.0.1", smtp_port=_free_port(), retries=1, sleep=lambda _: None)
    (result,) = run(engine, NOW, dead)
    assert [a.outcome for a in result.attempts] == ["Failed", "Failed"]
    assert (alert_row(engine)["state"], alert_row(engine)["last_sent_at"]) == ("Sent", None)
    port, inbox = smtp
    (result,) = run(engine, NOW + timedelta(minutes=1), Notifier(smtp_host="127.0.0.1", smtp_port=port))
    assert (result.event, len(inbox.messages)) == ("Repeat", 1)
    engine.dispose()


PBX = """
---
apiVersion: trunkline.dev/v1alpha1
kind: IpAuthentication
metadata: {name: acme-pbx}
spec: {customerRef: acme, address: 198.51.100.10}
"""


def penalty_reason(engine: Engine, at: datetime) -> str | None:
    """Why authorize refuses an acme call at ``at`` in the customer step (None: it passes that step)."""
    with engine.connect() as conn:
        loaded = loading.load(conn, now=at)
    request = Request(cli="15550100", dialed="442071234567", source_ip="198.51.100.10")
    decision = authorize(loaded, request, now=at, limits=CallLimits(), reserve=False)
    (step,) = [s for s in decision.steps if s.name == "customer"]
    return step.detail if step.outcome == "fail" else None


def test_penalty_refuses_calls_while_firing_without_touching_the_declared_status(engine: Engine) -> None:
    alert = '  recipients: [{phone: "+15550100"}]\n  area: Balance\n  operator: "<"\n  threshold: "0"\n  penalty: 1h\n'
    acme = declare(engine, manifests(alert) + PBX)
    notifier = Notifier()
    set_balance(engine, acme, "-5")
    assert run(engine, NOW, notifier)[0].penalty == "Applied"
    assert status_of(engine) == "Active"
    assert penalty_reason(engine, NOW) == "penalty: alert default/acme-alert firing until 2025-03-01T11:05:00Z"
    # The status is the declared one: the alert stays Sent, not Paused.
    assert run(engine, NOW + timedelta(minutes=1), notifier)[0].after == "Sent"
    with engine.connect() as conn:
        assert conn.execute(select(alert_penalties.c.previous_status)).scalar_one() == "Active"
    set_balance(engine, acme, "20")
    result = run(engine, NOW + timedelta(minutes=2), notifier)[0]
    assert (result.event, result.penalty, status_of(engine)) == ("Reset", "Lifted", "Active")
    assert penalty_reason(engine, NOW + timedelta(minutes=2)) is None

    # Still firing when the penalty's time is up: the penalty ends, the alert stays Sent.
    set_balance(engine, acme, "-1")
    run(engine, NOW + timedelta(minutes=3), notifier)
    assert penalty_reason(engine, NOW + timedelta(minutes=4)) is not None
    assert penalty_reason(engine, NOW + timedelta(minutes=63)) is None  # expired, even before the alerter runs
    result = run(engine, NOW + timedelta(minutes=63), notifier)[0]
    assert (result.after, result.penalty, status_of(engine)) == ("Sent", "Lifted", "Active")
    with engine.connect() as conn:
        assert conn.execute(select(alert_penalties)).first() is None


def test_a_plan_after_a_penalty_shows_no_changes(engine: Engine) -> None:
    alert = '  recipients: [{phone: "+15550100"}]\n  area: Balance\n  operator: "<"\n  threshold: "0"\n  penalty: 1h\n'
    text = manifests(alert) + PBX
    acme = declare(engine, text)
    set_balance(engine, acme, "-5")
    assert run(engine, NOW, Notifier())[0].penalty == "Applied"
    assert plan(engine, resources.load_text(text)).empty
    assert penalty_reason(engine, NOW) is not None


def test_paused_while_the_customer_is_inactive_by_declaration(sqlite_url: str) -> None:
    engine = open_database(sqlite_url)
    alert = '  recipients: [{phone: "+15550100"}]\n  area: Balance\n  operator: "<"\n  threshold: "10"\n'
    declare(engine, manifests(alert, status="Inactive"))
    result = run(engine, NOW, Notifier())[0]
    assert (result.after, result.attempts, deliveries(engine)) == ("Paused", (), [])
    declare(engine, manifests(alert))
    result = run(engine, NOW + timedelta(minutes=1), Notifier())[0]
    assert (result.before, result.after, result.event) == ("Paused", "Sent", "Fired")
    engine.dispose()


def test_asr_alert_over_the_sample_period_without_reset_threshold(engine: Engine) -> None:
    alert = (
        '  recipients: [{phone: "+15550100"}]\n  area: ASR\n  operator: "<"\n  threshold: "70"\n  samplePeriod: 15m\n'
    )
    acme = declare(engine, manifests(alert))
    with engine.begin() as conn:
        conn.execute(insert(cdrs), [cdr_row(*call, customer=acme) for call in CALLS])
        roll_up(conn, T0)
    (result,) = run(engine, NOW, Notifier())
    assert (result.value, result.event) == (Decimal(60), "Fired")
    # 20 minutes later the 10:00 calls are out of the window: no ASR, the alert is left alone.
    (result,) = run(engine, NOW + timedelta(minutes=20), Notifier())
    assert (result.value, result.after) == (None, "Sent")
    # Four more answered calls at 10:25: ASR 100 %, condition false, no resetThreshold: re-armed.
    later = T0 + timedelta(minutes=25)
    with engine.begin() as conn:
        conn.execute(insert(cdrs), [cdr_row(f"n{i}", 0, 1, 9, 200, 90, customer=acme, t0=later) for i in range(4)])
        roll_up(conn, later)
    (result,) = run(engine, later + timedelta(minutes=1), Notifier())
    assert (result.value, result.event, result.after) == (Decimal(100), "Reset", "Ready")


def test_spend_alert_counts_todays_call_charges(sqlite_url: str) -> None:
    engine = open_database(sqlite_url)
    alert = '  recipients: [{phone: "+15550100"}]\n  area: Spend\n  operator: ">="\n  threshold: "25"\n'
    acme = declare(engine, manifests(alert))
    entries = [
        (NOW - timedelta(days=1), "-100", "call"),
        (NOW, "-20", "call"),
        (NOW, "-5.5", "call"),
        (NOW, "50", "payment"),
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(ledger),
            [
                {
                    "customer_id": acme,
                    "at": at,
                    "entry_type": kind,
                    "amount": Decimal(a),
                    "currency": "USD",
                    "balance_after": 0,
                }
                for at, a, kind in entries
            ],
        )
    (result,) = run(engine, NOW, Notifier())
    assert (result.value, result.event) == (Decimal("25.5"), "Fired")
    engine.dispose()


def test_penalty_of_a_deleted_alert_is_lifted(sqlite_url: str) -> None:
    engine = open_database(sqlite_url)
    alert = '  recipients: [{phone: "+15550100"}]\n  area: Balance\n  operator: "<"\n  threshold: "1"\n  penalty: 1d\n'
    declare(engine, manifests(alert) + PBX)
    run(engine, NOW, Notifier())
    assert penalty_reason(engine, NOW) is not None
    with engine.begin() as conn:
        conn.execute(update(alerts).values(state="Ready"))
        conn.execute(delete(alerts))
    run(engine, NOW + timedelta(minutes=1), Notifier())
    assert penalty_reason(engine, NOW + timedelta(minutes=1)) is None
    with engine.connect() as conn:
        assert conn.execute(select(alert_penalties)).first() is None
    assert status_of(engine) == "Active"
    engine.dispose()
