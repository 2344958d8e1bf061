"""Delivering alert notifications: SMTP email, a JSON webhook, and a record of every attempt.

``Notifier.deliver(recipient, message)`` sends one message to one recipient (``{"email": ...}``,
``{"webhook": ...}`` or ``{"phone": ...}`` as stored in ``alerts.recipients``) and returns one
``Attempt`` per try. A failed send is retried ``retries`` times, waiting ``backoff * 2**n``
seconds; it never raises, because one unreachable recipient must not stop the others or the
alert's state change. There is no SMS gateway: a phone recipient is recorded as an
``Unsupported`` channel, once, and is not retried. Email goes through ``smtplib`` to a
configured host:port (no TLS or login: the relay next to the switch), webhooks are an HTTP POST
of the message as JSON through ``urllib`` with a timeout.

``post_json`` and ``retry`` are the one webhook poster and retry loop of Trunkline: the sync
loop's notifications (``reconciler.notify``) use them too.
"""

from __future__ import annotations

import json
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from rating.ledger import money_text

SENT, FAILED, UNSUPPORTED = "Sent", "Failed", "Unsupported"


@dataclass(frozen=True, slots=True)
class Message:
    """What an alert says: which customer, which alert, the value seen and the threshold crossed."""

    customer: str  # namespace/name
    alert: str  # namespace/name of the Alert
    name: str  # spec.name, the alert's human name
    area: str
    operator: str
    threshold: Decimal
    value: Decimal
    event: str  # Fired | Repeat
    at: datetime

    @property
    def subject(self) -> str:
        condition = f"{self.area} {money_text(self.value)} {self.operator} {money_text(self.threshold)}"
        return f"[Trunkline] {self.customer}: {condition}"

    @property
    def body(self) -> str:
        again = " (repeat: still firing)" if self.event == "Repeat" else ""
        return (
            f"Alert {self.name!r} ({self.alert}) for customer {self.customer} is firing{again}.\n\n"
            f"Area:      {self.area}\n"
            f"Value:     {money_text(self.value)}\n"
            f"Condition: {self.area} {self.operator} {money_text(self.threshold)}\n"
            f"At:        {self.at.isoformat()}\n"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "alert": self.alert,
            "name": self.name,
            "area": self.area,
            "operator": self.operator,
            "threshold": money_text(self.threshold),
            "value": money_text(self.value),
            "event": self.event,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    channel: str  # email | webhook | phone
    recipient: str
    attempt: int  # 1-based
    outcome: str  # Sent | Failed | Unsupported
    error: str | None = None


def channel_of(recipient: dict[str, Any]) -> tuple[str, str]:
    for channel in ("email", "webhook", "phone"):
        if recipient.get(channel):
            return channel, str(recipient[channel])
    raise ValueError(f"recipient has no email, webhook or phone: {recipient!r}")


class Notifier:
    """Sends messages; the seams (``sleep``) are arguments so tests need not wait."""

    def __init__(
        self,
        *,
        smtp_host: str = "localhost",
        smtp_port: int = 25,
        sender: str = "trunkline@localhost",
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.sender = sender
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep

    def deliver(self, recipient: dict[str, Any], message: Message) -> list[Attempt]:
        channel, address = channel_of(recipient)
        if channel == "phone":
            return [Attempt(channel, address, 1, UNSUPPORTED, "no SMS gateway is configured")]
        send = self._email if channel == "email" else self._webhook
        attempts: list[Attempt] = []

        def failed(n: int, exc: Exception) -> None:
            attempts.append(Attempt(channel, address, n, FAILED, f"cannot send {channel}: {exc}"))

        if retry(
            lambda: send(address, message),
            attempts=self.retries + 1,
            delay=self.backoff,
            sleep=self.sleep,
            failed=failed,
            errors=(OSError, smtplib.SMTPException, ValueError),
        ):
            attempts.append(Attempt(channel, address, len(attempts) + 1, SENT))
        return attempts

    def _email(self, address: str, message: Message) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = address
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(message.at)
        mail["Message-ID"] = make_msgid(domain="trunkline")
        mail["X-Trunkline-Alert"] = message.alert
        mail["X-Trunkline-Customer"] = message.customer
        mail.set_content(message.body)
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout) as smtp:
            smtp.send_message(mail)

    def _webhook(self, url: str, message: Message) -> None:
        post_json(url, json.dumps(message.as_json()).encode(), self.timeout, user_agent="trunkline-alerts")


def post_json(url: str, body: bytes, timeout: float, *, user_agent: str) -> None:
    """POST a JSON body; an HTTP error status is an ``OSError`` saying it, a non-http(s) URL a ``ValueError``."""
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", "User-Agent": user_agent}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:  # a subclass of OSError; keep the status, never the URL
        raise OSError(f"HTTP {exc.code} {exc.reason}") from exc


def retry(
    send: Callable[[], None],
    *,
    attempts: int,
    delay: float,
    sleep: Callable[[float], None] = time.sleep,
    failed: Callable[[int, Exception], None] = lambda attempt, error: None,
    errors: tuple[type[Exception], ...] = (OSError, ValueError),
) -> bool:
    """Call ``send`` up to ``attempts`` times, waiting ``delay * 2**n`` after the n-th failure; True once it works.

    ``failed(attempt, error)`` hears of every failed attempt (1-based) before the wait.
    """
    for attempt in range(1, attempts + 1):
        try:
            send()
        except errors as exc:
            failed(attempt, exc)
            if attempt < attempts:
                sleep(delay * 2 ** (attempt - 1))
            continue
        return True
    return False
