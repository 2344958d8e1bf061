"""Notifications from the sync loop, delivered to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from reconciler.gitsource import GitSource
from reconciler.notify import Event, Notifier
from reconciler.watch import Watcher

PROD = "clusters/prod"


class Receiver:
    """A webhook endpoint: records every POST; ``fail_next`` answers that many requests with 500."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_next:
                    receiver.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                assert self.headers["Content-Type"] == "application/json"
                receiver.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def bodies(self, path: str) -> list[dict]:
        return [body for p, body in self.received if p == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def notifying_watcher(engine, remote, cache_dir, receiver):
    def make(ref: str = "main", **kwargs) -> Watcher:
        notifier = Notifier(
            webhook_url=f"{receiver.url}/hooks/trunkline", slack_url=f"{receiver.url}/services/T000/B000/XXXX"
        )
        return Watcher(
            engine,
            GitSource(remote.url, ref, cache_dir=cache_dir),
            PROD,
            actor="gitops-watch",
            interval=3600,
            notifier=notifier,
            **kwargs,
        )

    return make


def test_an_applied_revision_is_posted_as_json_and_as_slack_text(remote, manifests, receiver, notifying_watcher):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")

    notifying_watcher().tick()

    [event] = receiver.bodies("/hooks/trunkline")
    assert set(event) == {"event", "commit", "summary", "revision", "message", "time", "source"}
    assert event["event"] == "applied"
    assert event["commit"] == sha
    assert event["revision"] == 1
    assert event["summary"] == {"create": 4, "update": 0, "delete": 0}
    assert event["source"] == f"{remote.url}#{PROD}"
    assert "create Customer/default/acme-voip" in event["message"]
    assert event["time"].endswith("Z")
    [slack] = receiver.bodies("/services/T000/B000/XXXX")
    assert list(slack) == ["text"]
    assert slack["text"].startswith(f":white_check_mark: Applied at `{sha[:12]}` (Onboard Acme VoIP) to {remote.url}#")
    assert "as revision 1 — 4 to create, 0 to update, 0 to delete" in slack["text"]


def test_a_failed_tick_is_posted_once_per_distinct_failure(remote, manifests, receiver, notifying_watcher):
    remote.commit(manifests(), "Onboard Acme VoIP")
    watcher = notifying_watcher()
    watcher.tick()
    bad = remote.commit(manifests(channels=-5), "Typo in channels")

    watcher.tick()
    watcher.tick()  # the same failure again: one incident, one message

    failed = [e for e in receiver.bodies("/hooks/trunkline") if e["event"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["commit"] == bad
    assert failed[0]["revision"] is None and failed[0]["summary"] is None
    assert f"commit {bad} (Typo in channels) is invalid; nothing was applied" in failed[0]["message"]
    assert "spec.channels" in failed[0]["message"]
    slack = receiver.bodies("/services/T000/B000/XXXX")[-1]["text"]
    assert slack.startswith(f":x: Sync of {remote.url}#{PROD} failed")


@pytest.mark.parametrize("correct", [True, False], ids=["corrected", "reported-only"])
def test_drift_is_posted_with_the_objects_and_fields(engine, remote, manifests, receiver, notifying_watcher, correct):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")
    watcher = notifying_watcher(correct_drift=correct)
    watcher.tick()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE customers SET channels = 999 WHERE name = 'acme-voip'"))

    watcher.tick()
    watcher.tick()  # uncorrected drift that did not change is not posted again

    drift = [e for e in receiver.bodies("/hooks/trunkline") if e["event"] == "drift"]
    assert len(drift) == 1
    assert drift[0]["corrected"] is correct
    assert drift[0]["commit"] == sha
    assert drift[0]["summary"] == {"create": 0, "update": 1, "delete": 0}
    assert drift[0]["revision"] == (2 if correct else None)
    assert drift[0]["message"] == "update Customer/default/acme-voip: channels: 999 → 200"
    text = receiver.bodies("/services/T000/B000/XXXX")[-1]["text"]
    assert text.startswith(":warning: Corrected drift" if correct else ":warning: Drift detected (not corrected)")


def test_delivery_is_retried(receiver):
    receiver.fail_next = 2
    notifier = Notifier(webhook_url=f"{receiver.url}/hook", retry_delay=0.01)
    assert notifier.send(Event("failed", "file:///repo#.", "cannot fetch"))
    assert [b["message"] for b in receiver.bodies("/hook")] == ["cannot fetch"]


def test_an_unreachable_endpoint_is_logged_without_its_secret_path_and_never_stops_the_sync(
    engine, remote, manifests, cache_dir, caplog, receiver
):
    receiver.server.shutdown()
    receiver.server.server_close()  # nothing listens on that port any more
    remote.commit(manifests(), "Onboard Acme VoIP")
    notifier = Notifier(slack_url=f"{receiver.url}/services/T000/B000/SECRETTOKEN", timeout=1, retry_delay=0.01)
    watcher = Watcher(engine, GitSource(remote.url, "main", cache_dir=cache_dir), PROD, actor="t", interval=60,
                      notifier=notifier)  # fmt: skip

    with caplog.at_level(logging.INFO, logger="trunkline"):
        tick = watcher.tick()

    assert tick.outcome == "applied"
    assert "cannot notify slack http://127.0.0.1:" in caplog.text
    assert "after 3 attempts" in caplog.text
    assert "SECRETTOKEN" not in caplog.text
