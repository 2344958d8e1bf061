"""Delivering alert notifications: SMTP email, a JSON webhook, and a record of every attempt.

``Notifier.deliver(recipient, message)`` sends one message to one recipient (``{"email": ...}``,
``{"webhook": ...}`` or ``{"phone": ...}`` as stored in ``alerts.recipients``) and returns one
``Attempt`` per try. A failed send is retried ``retries`` times, waiting ``backoff * 2**n``
seconds; it never raises, because one unreachable recipient must not stop the others or the
alert's state change. There is no SMS gateway: a phone recipient is recorded as an
``Unsupported`` channel, once, and is not retried. Email goes through ``smtplib`` to a
configured host:port (no TLS or login: the relay next to the switch), webhooks are an HTTP POST
of the message as JSON through ``urllib`` with a timeout.
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
        return f"[Trunkline] {self.customer}: {self.area} {_text(self.value)} {self.operator} {_text(self.threshold)}"

    @property
    def body(self) -> str:
        again = " (repeat: still firing)" if self.event == "Repeat" else ""
        return (
            f"Alert {self.name!r} ({self.alert}) for customer {self.customer} is firing{again}.\n\n"
            f"Area:      {self.area}\n"
            f"Value:     {_text(self.value)}\n"
            f"Condition: {self.area} {self.operator} {_text(self.threshold)}\n"
            f"At:        {self.at.isoformat()}\n"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "alert": self.alert,
            "name": self.name,
            "area": self.area,
            "operator": self.operator,
            "threshold": _text(self.threshold),
            "value": _text(self.value),
            "event": self.event,
            "at": self.at.isoformat(),
        }


def _text(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")


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
        for n in range(1, self.retries + 2):
            try:
                send(address, message)
            except (OSError, smtplib.SMTPException, ValueError) as exc:
                attempts.append(Attempt(channel, address, n, FAILED, f"cannot send {channel}: {exc}"))
                if n <= self.retries:
                    self.sleep(self.backoff * 2 ** (n - 1))
                continue
            attempts.append(Attempt(channel, address, n, SENT))
            break
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
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {url}")
        request = urllib.request.Request(
            url,
            data=json.dumps(message.as_json()).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "trunkline-alerts"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:  # a subclass of OSError; keep the status in the record
            raise OSError(f"HTTP {exc.code} {exc.reason}") from exc
