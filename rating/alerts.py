"""Evaluating Alerts: measure, compare, move the state machine, notify, and apply penalties.

``evaluate(conn, now, notifier=...)`` looks at every declared Alert once, in id order:

- The value: ``Balance`` = the balance (0 without a balance row); ``Spend`` = money spent on
  calls since UTC midnight (as authorization counts the daily spend limit); ``ASR`` (percent),
  ``ACD`` (seconds), ``PDD`` (average ms), ``Channels`` and ``CPS`` (peaks) over the minute rows
  that started in the last ``samplePeriod`` (default 15m) — roll the stats up first
  (``rating.stats.roll_up``). A ratio without calls has no value: the alert is left as it is.
- States: ``Ready`` → ``Sent`` when ``value operator threshold`` holds: every recipient is told.
  While ``Sent`` the alert is re-sent every ``repeat`` (never without one). It re-arms
  (``Ready``) only when ``value operator resetThreshold`` no longer holds (hysteresis), or,
  without a resetThreshold, when the condition itself no longer holds. ``Paused`` while the
  customer is Inactive by declaration: nothing is measured or sent; it returns to ``Ready``.
- A fire whose every delivery failed keeps ``last_sent_at`` empty, so the next evaluation sends
  again; a phone recipient (no SMS gateway) counts as delivered for that purpose.
- ``penalty``: when the alert fires, a row of ``alert_penalties`` records the penalty in force
  until ``fired_at + penalty``; ``rating.directory`` loads the penalties in force and
  ``authorize`` refuses the customer's calls with 403 ``penalty: alert <ns/name> firing until
  <time>``. The declared ``customers.status`` is never touched, so a penalty is not drift and
  the next plan shows no change. The penalty is lifted (its row deleted) when the alert re-arms,
  when ``penalty`` has passed since it fired, when the customer becomes Inactive by declaration,
  or when the alert is gone. ``previous_status`` keeps the declared status at the time, for
  the record only.

Every delivery attempt is a row of ``alert_deliveries``. Sending happens inside the caller's
transaction: the alerter is one process, and a state written without its notification (or the
reverse) would be worse than a held transaction.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from rating.ledger import money_text
from rating.notify import FAILED, Attempt, Message, Notifier
from rating.stats import Figures, floor_minute, window
from resources.types import duration_seconds
from switchdb.tables.declared import alerts, customers
from switchdb.tables.rating import alert_deliveries, alert_penalties, balances, ledger

READY, SENT, PAUSED = "Ready", "Sent", "Paused"
INACTIVE = "Inactive"
DEFAULT_SAMPLE_PERIOD = "15m"
_ZERO = Decimal(0)

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": op.lt,
    "<=": op.le,
    ">": op.gt,
    ">=": op.ge,
    "==": op.eq,
}

_STATS: dict[str, Callable[[Figures], Decimal | int | None]] = {
    "ASR": lambda f: f.asr,
    "ACD": lambda f: f.acd,
    "PDD": lambda f: f.pdd_avg_ms,
    "Channels": lambda f: f.peak_channels,
    "CPS": lambda f: f.peak_cps,
}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What one evaluation did to one alert."""

    alert: str  # namespace/name
    customer: str
    area: str
    value: Decimal | None
    before: str
    after: str
    event: str | None = None  # Fired | Repeat | Reset | Paused | Resumed
    attempts: tuple[Attempt, ...] = field(default=())
    penalty: str | None = None  # Applied | Lifted

    def as_json(self) -> dict[str, Any]:
        return {
            "alert": self.alert,
            "customer": self.customer,
            "area": self.area,
            "value": None if self.value is None else money_text(self.value),
            "before": self.before,
            "after": self.after,
            "event": self.event,
            "penalty": self.penalty,
            "deliveries": [
                {"channel": a.channel, "recipient": a.recipient, "attempt": a.attempt, "outcome": a.outcome}
                for a in self.attempts
            ],
        }


def measure(
    conn: Connection, area: str, customer_id: int, *, now: datetime, sample_period: str | None
) -> Decimal | None:
    """The value an alert of ``area`` compares, or None when there is nothing to compare."""
    if area == "Balance":
        amount = conn.execute(select(balances.c.amount).where(balances.c.customer_id == customer_id)).scalar()
        return _ZERO if amount is None else Decimal(amount)
    if area == "Spend":
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        amounts = conn.execute(
            select(ledger.c.amount).where(
                ledger.c.customer_id == customer_id,
                ledger.c.entry_type == "call",
                ledger.c.at >= midnight,
                ledger.c.at <= now,
            )
        ).scalars()
        return -sum((Decimal(a) for a in amounts), _ZERO)  # Money is text on SQLite: summed here
    period = timedelta(seconds=duration_seconds(sample_period or DEFAULT_SAMPLE_PERIOD))
    current = floor_minute(now)
    figures = window(
        conn, customer_id, since=current - period + timedelta(minutes=1), until=current + timedelta(minutes=1)
    )
    value = _STATS[area](figures)
    return None if value is None else Decimal(value)


def evaluate(conn: Connection, now: datetime, *, notifier: Notifier) -> list[Evaluation]:
    """Evaluate every alert at ``now``; returns what happened to each, in alert id order."""
    rows = conn.execute(
        select(
            alerts,
            customers.c.namespace.label("customer_namespace"),
            customers.c.name.label("customer_name"),
            customers.c.status.label("customer_status"),  # the status apply wrote (a penalty never changes it)
        )
        .join(customers, customers.c.id == alerts.c.customer_id)
        .order_by(alerts.c.id)
    ).mappings()
    results = []
    alive: set[int] = set()
    for row in rows.all():
        alive.add(row["id"])
        results.append(_evaluate_one(conn, row, now, notifier))
    for alert_id, customer_id in conn.execute(select(alert_penalties.c.alert_id, alert_penalties.c.customer_id)).all():
        if alert_id not in alive:
            _lift(conn, alert_id, customer_id)
    return results


def _penalty_of(conn: Connection, alert_id: int) -> Any:
    return conn.execute(select(alert_penalties).where(alert_penalties.c.alert_id == alert_id)).mappings().first()


def _evaluate_one(conn: Connection, row: Any, now: datetime, notifier: Notifier) -> Evaluation:
    alert_id, customer_id, before = row["id"], row["customer_id"], row["state"]
    names = {
        "alert": f"{row['namespace']}/{row['name']}",
        "customer": f"{row['customer_namespace']}/{row['customer_name']}",
        "area": row["area"],
    }
    penalty = None
    held = _penalty_of(conn, alert_id)
    if held is not None and held["until"] <= now:
        _lift(conn, alert_id, customer_id)
        held, penalty = None, "Lifted"
    if row["customer_status"] == INACTIVE:
        if held is not None:
            _lift(conn, alert_id, customer_id)
            penalty = "Lifted"
        if before != PAUSED:
            _write(conn, alert_id, state=PAUSED, fired_at=None)
        return Evaluation(**names, value=None, before=before, after=PAUSED, event="Paused", penalty=penalty)
    state, event = before, None
    if state == PAUSED:
        state, event = READY, "Resumed"
        _write(conn, alert_id, state=READY, fired_at=None, last_sent_at=None)
    value = measure(conn, row["area"], customer_id, now=now, sample_period=row["sample_period"])
    if value is None:
        return Evaluation(**names, value=None, before=before, after=state, event=event, penalty=penalty)
    compare = OPERATORS[row["operator"]]
    firing = compare(value, Decimal(row["threshold"]))
    attempts: list[Attempt] = []
    changes: dict[str, Any] = {"last_value": value}
    if state == READY and firing:
        state, event = SENT, "Fired"
        attempts = _send(conn, row, names, value, "Fired", now, notifier)
        changes.update(state=SENT, fired_at=now, last_sent_at=_sent_at(attempts, now))
        if row["penalty"]:
            _impose(conn, row, now)
            penalty = "Applied"
    elif state == SENT:
        reset = row["reset_threshold"]
        still = compare(value, Decimal(reset)) if reset is not None else firing
        if not still:
            state, event = READY, "Reset"
            changes.update(state=READY, fired_at=None, last_sent_at=None)
            if held is not None:
                _lift(conn, alert_id, customer_id)
                penalty = "Lifted"
        elif _due(row, now):
            event = "Repeat"
            attempts = _send(conn, row, names, value, "Repeat", now, notifier)
            changes["last_sent_at"] = _sent_at(attempts, now)
    _write(conn, alert_id, **changes)
    return Evaluation(
        **names, value=value, before=before, after=state, event=event, attempts=tuple(attempts), penalty=penalty
    )


def _due(row: Any, now: datetime) -> bool:
    last = row["last_sent_at"]
    if last is None:
        return True  # every delivery of the last send failed: try again
    repeat = row["repeat"]
    return repeat is not None and now - last >= timedelta(seconds=duration_seconds(repeat))


def _sent_at(attempts: Sequence[Attempt], now: datetime) -> datetime | None:
    delivered = {(a.channel, a.recipient) for a in attempts if a.outcome != FAILED}
    return now if delivered or not attempts else None


def _send(
    conn: Connection, row: Any, names: dict[str, str], value: Decimal, event: str, now: datetime, notifier: Notifier
) -> list[Attempt]:
    message = Message(
        customer=names["customer"],
        alert=names["alert"],
        name=row["spec_name"],
        area=row["area"],
        operator=row["operator"],
        threshold=Decimal(row["threshold"]),
        value=value,
        event=event,
        at=now,
    )
    attempts = [a for recipient in row["recipients"] or () for a in notifier.deliver(recipient, message)]
    if attempts:
        conn.execute(
            insert(alert_deliveries),
            [
                {
                    "alert_id": row["id"],
                    "customer_id": row["customer_id"],
                    "at": now,
                    "event": event,
                    "channel": a.channel,
                    "recipient": a.recipient,
                    "attempt": a.attempt,
                    "outcome": a.outcome,
                    "error": a.error,
                }
                for a in attempts
            ],
        )
    return attempts


def _impose(conn: Connection, row: Any, now: datetime) -> None:
    until = now + timedelta(seconds=duration_seconds(row["penalty"]))
    conn.execute(delete(alert_penalties).where(alert_penalties.c.alert_id == row["id"]))
    conn.execute(
        insert(alert_penalties).values(
            alert_id=row["id"],
            customer_id=row["customer_id"],
            previous_status=row["customer_status"],
            since=now,
            until=until,
        )
    )


def _lift(conn: Connection, alert_id: int, customer_id: int) -> None:
    """End the alert's penalty: authorization serves the customer again at the next money reload."""
    conn.execute(
        delete(alert_penalties).where(
            alert_penalties.c.alert_id == alert_id, alert_penalties.c.customer_id == customer_id
        )
    )


def _write(conn: Connection, alert_id: int, **values: Any) -> None:
    conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))
