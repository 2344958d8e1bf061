"""Telling people what the sync loop did: a JSON webhook and a Slack-compatible incoming webhook.

Three events leave the watch loop (``reconciler.watch``): ``applied`` (a new revision was written),
``failed`` (a tick could not fetch, load or apply) and ``drift`` (owned rows had been changed
behind Trunkline's back; ``corrected`` says whether they were put back). Each ``Event`` is POSTed

- as JSON ``{event, commit, summary, revision, message, time, source, corrected}`` to ``--notify-webhook``;
- as ``{"text": ...}`` to ``--notify-slack`` (Slack, Mattermost and Rocket.Chat incoming webhooks).

Delivery is ``rating.notify``'s webhook poster and retry loop (the alerts' webhooks use the same
code): the standard library (``urllib``) with a timeout and a few retries. A notification
that cannot be delivered is logged and dropped: the switch database is what matters, and a chat
service being down must never stop a sync. Webhook URLs are credentials (a Slack hook's path is its
token), so logs show only their scheme and host. Events carry plan summaries and field names,
never secret values (plans already show those as ``(sensitive)``).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from rating.notify import post_json, retry

log = logging.getLogger("trunkline.notify")

EventType = Literal["applied", "failed", "drift"]
SHORT_SHA = 12
USER_AGENT = "trunkline-notify/1"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Event:
    """One thing worth telling: what happened, at which commit, with which plan summary."""

    event: EventType
    source: str  # "<url>#<path>", credentials redacted
    message: str
    commit: str | None = None
    subject: str | None = None
    summary: Mapping[str, int] | None = None  # {"create": n, "update": n, "delete": n}
    revision: int | None = None
    corrected: bool | None = None  # drift only
    time: str = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "event": self.event,
            "commit": self.commit,
            "summary": dict(self.summary) if self.summary is not None else None,
            "revision": self.revision,
            "message": self.message,
            "time": self.time,
            "source": self.source,
        }
        if self.event == "drift":
            body["corrected"] = bool(self.corrected)
        return body

    def slack_text(self) -> str:
        at = f" at `{self.commit[:SHORT_SHA]}`" if self.commit else ""
        if self.subject:
            at += f" ({self.subject})"
        counts = ""
        if self.summary is not None:
            counts = " — {create} to create, {update} to update, {delete} to delete".format(
                **{"create": 0, "update": 0, "delete": 0, **self.summary}
            )
        if self.event == "applied":
            head = f":white_check_mark: Applied{at} to {self.source} as revision {self.revision}{counts}"
        elif self.event == "drift":
            verb = "Corrected drift" if self.corrected else "Drift detected (not corrected)"
            head = f":warning: {verb} in {self.source}{at}{counts}"
        else:
            head = f":x: Sync of {self.source} failed{at}"
        return f"{head}\n{self.message}" if self.message else head


def safe_url(url: str) -> str:
    """Scheme and host only: the rest of a webhook URL is often its secret."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}/…"


Post = Callable[[str, bytes, float], None]  # (url, JSON body, timeout): raises OSError on failure


def _post(url: str, body: bytes, timeout: float) -> None:
    post_json(url, body, timeout, user_agent=USER_AGENT)


@dataclass
class Notifier:
    """Where events go; with neither URL set, ``send`` does nothing."""

    webhook_url: str | None = None
    slack_url: str | None = None
    timeout: float = 5.0
    attempts: int = 3  # one try and two retries
    retry_delay: float = 1.0  # doubled after each failed attempt
    post: Post = _post

    def __post_init__(self) -> None:
        for url in (self.webhook_url, self.slack_url):
            if url is not None and urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"notification URL {safe_url(url)} must be http:// or https://")

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or self.slack_url)

    def send(self, event: Event) -> bool:
        """Deliver ``event`` to every configured endpoint; True when all of them took it."""
        delivered = True
        if self.webhook_url:
            delivered &= self._deliver(self.webhook_url, event.to_json(), "webhook")
        if self.slack_url:
            delivered &= self._deliver(self.slack_url, {"text": event.slack_text()}, "slack")
        return delivered

    def _deliver(self, url: str, payload: dict[str, Any], what: str) -> bool:
        body = json.dumps(payload).encode()

        def failed(attempt: int, exc: Exception) -> None:  # URLError/HTTPError/timeouts are OSErrors
            if attempt == self.attempts:
                log.warning("cannot notify %s %s after %d attempts: %s", what, safe_url(url), attempt, _reason(exc))
            else:
                log.info("cannot notify %s %s (attempt %d): %s; retrying", what, safe_url(url), attempt, _reason(exc))

        return retry(
            lambda: self.post(url, body, self.timeout),
            attempts=self.attempts,
            delay=self.retry_delay,
            sleep=time.sleep,
            failed=failed,
        )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__
