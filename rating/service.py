"""The rating sidecar's HTTP API (aiohttp): ``create_app(engine, ...)`` builds the application.

Endpoints (JSON in and out; errors are ``{"error": message, ...}``):

- ``POST /v1/authorize``: ``{sourceIp?, sourcePort?, username?, realm?, cli, pai?, dialed, callId?}``
  → the ``Decision`` JSON (HTTP 200 whether the call is allowed or not: the decision carries the
  SIP code). A malformed body is HTTP 400 with the field. With a ``callId`` an allowed call takes
  its channels in the sidecar's ``CallLimits`` until its CDR arrives. Runs on the event loop: it
  is in-memory work well under a millisecond, a thread hop would cost more than it.
- ``POST /v1/cdrs``: a JSON array of CDRs, one object, or JSON lines (``Content-Type:
  application/x-ndjson``). Any malformed line → HTTP 400 listing every ``{line, field, message}``
  (``line`` is the 1-based item of an array) and NOTHING is rated. Otherwise the batch is rated in
  one transaction, exactly once per call id, and the response is sent only after the commit:
  ``{rated, duplicate, rejected, unrated, charged: {currency: amount}, errors: [{line, callId,
  status, reason}]}`` (``errors`` lists the lines rated as Rejected or Unrated). Every CDR of an
  accepted batch ends its dialog in ``CallLimits``.
- ``GET /v1/calls?customer=ns/name&limit=50``: the latest rated calls (export format), newest first.
- ``GET /v1/calls/active``: active dialogs and channels per customer.
- ``GET /healthz``: 200 when the database answers and a revision is loaded, else 503.
- ``GET /metrics``: Prometheus text exposition 0.0.4, written by hand.

Everything that touches the database runs in the loop's thread executor. Background tasks poll
``max(trunkline_revisions.id)`` every ``reload_interval`` seconds (``rating.state``) and, with a
``cdr_dir``, tail the CDR files there every ``tail_interval`` seconds (``rating.tail``).

Statistics: every ``stats_interval`` seconds, and right after each CDR batch (woken by it; batches
in between coalesce), ``rating.stats.roll_up`` recomputes the minutes from the earliest ``start``
of the batches not yet rolled up (at least the last two intervals, so minutes another sidecar
wrote CDRs into are redone too). A failed roll-up keeps its minutes pending for the next pass.

Alerts: with ``alerts_interval``, every that many seconds the pending minutes are rolled up and
``rating.alerts.evaluate`` runs with ``notifier``. Several sidecars may do it: on PostgreSQL the
evaluation takes a transaction-level advisory lock and a sidecar that cannot get it skips the
tick (SQLite's write lock serializes them), so a firing alert is sent once. Penalties it writes
reach authorization at the next money reload, which the evaluation triggers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import threading
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import Engine, func, select

from rating import RatingError, stats
from rating.alerts import evaluate
from rating.authorize import Request, authorize
from rating.cdr import Cdr, CdrError, cdr_from_mapping, parse_jsonl
from rating.directory import current_revision
from rating.export import query_cdrs
from rating.ledger import money_text, read_balances
from rating.notify import Notifier
from rating.rater import RateResult, rate_cdrs
from rating.state import SidecarState
from rating.tail import CdrTail

log = logging.getLogger(__name__)

MAX_BODY = 64 << 20
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_CALLS_LIMIT = 1000
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonl"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
ALERTS_LOCK_KEY = 0x7472756E6B  # pg advisory lock: one sidecar evaluates alerts at a time
_AUTHORIZE_FIELDS = ("sourceIp", "sourcePort", "username", "realm", "cli", "pai", "dialed", "callId")


class Metrics:
    """Counters, gauges and one histogram, kept in memory; thread-safe (rating runs in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.authorizations: dict[tuple[str, str], int] = {}
        self.cdrs: dict[tuple[str, str], int] = {}
        self.cdr_errors: dict[str, int] = {}
        self.customers_seen: set[str] = set()
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._latency_count = 0

    def authorized(self, customer: str | None, allowed: bool, seconds: float) -> None:
        key = (customer or "", "allowed" if allowed else "rejected")
        with self._lock:
            self.authorizations[key] = self.authorizations.get(key, 0) + 1
            if customer:
                self.customers_seen.add(customer)
            self._buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._latency_sum += seconds
            self._latency_count += 1

    def rated(self, counts: dict[tuple[str, str], int]) -> None:
        with self._lock:
            for key, n in counts.items():
                self.cdrs[key] = self.cdrs.get(key, 0) + n

    def malformed(self, source: str, n: int) -> None:
        with self._lock:
            self.cdr_errors[source] = self.cdr_errors.get(source, 0) + n

    def render(self, *, revision: int | None, channels: dict[str, int], balances: list[tuple[str, str, str]]) -> str:
        out: list[str] = []
        with self._lock:
            _family(out, "trunkline_authorizations_total", "counter", "Authorization requests by result.")
            for (customer, result), n in sorted(self.authorizations.items()):
                out.append(f"trunkline_authorizations_total{_labels(customer=customer, result=result)} {n}")
            _family(out, "trunkline_cdrs_rated_total", "counter", "CDRs by rating status (Duplicate: already rated).")
            for (customer, status), n in sorted(self.cdrs.items()):
                out.append(f"trunkline_cdrs_rated_total{_labels(customer=customer, status=status)} {n}")
            _family(out, "trunkline_cdr_errors_total", "counter", "Malformed CDR lines refused, by source.")
            for source, n in sorted(self.cdr_errors.items()):
                out.append(f"trunkline_cdr_errors_total{_labels(source=source)} {n}")
            seen = set(self.customers_seen)
            _family(out, "trunkline_authorize_duration_seconds", "histogram", "Time to answer POST /v1/authorize.")
            cumulative = 0
            for bound, n in zip(LATENCY_BUCKETS, self._buckets):
                cumulative += n
                out.append(f'trunkline_authorize_duration_seconds_bucket{{le="{bound}"}} {cumulative}')
            out.append(f'trunkline_authorize_duration_seconds_bucket{{le="+Inf"}} {self._latency_count}')
            out.append(f"trunkline_authorize_duration_seconds_sum {self._latency_sum:.9f}")
            out.append(f"trunkline_authorize_duration_seconds_count {self._latency_count}")
        _family(out, "trunkline_active_channels", "gauge", "Active dialogs counted by this sidecar, per customer.")
        for customer in sorted(seen | set(channels)):
            out.append(f"trunkline_active_channels{_labels(customer=customer)} {channels.get(customer, 0)}")
        _family(out, "trunkline_balance", "gauge", "Customer balance (credit is positive).")
        for customer, currency, amount in balances:
            out.append(f"trunkline_balance{_labels(customer=customer, currency=currency)} {amount}")
        _family(out, "trunkline_revision", "gauge", "Revision of the declared state this sidecar serves (0: none).")
        out.append(f"trunkline_revision {revision or 0}")
        return "\n".join(out) + "\n"


def _family(out: list[str], name: str, kind: str, help_text: str) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")


def _labels(**labels: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


class Sidecar:
    """State, metrics and the blocking operations the handlers run in the executor."""

    def __init__(
        self,
        engine: Engine,
        *,
        reload_interval: float = 5.0,
        cdr_dir: Path | None = None,
        tail_state: Path | None = None,
        tail_interval: float = 1.0,
        clock: Callable[[], datetime] | None = None,
        stats_interval: float = 60.0,
        alerts_interval: float | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.engine = engine
        self.stats_interval = stats_interval
        self.alerts_interval = alerts_interval
        self.notifier = notifier or Notifier()
        self._pending_since: datetime | None = None  # earliest CDR start not rolled up yet
        self._stats_lock = threading.Lock()
        self._stats_wake: asyncio.Event | None = None
        self.roll_ups = 0
        self.alert_runs = 0
        self.state = SidecarState(engine, clock=clock)
        self.metrics = Metrics()
        self.reload_interval = reload_interval
        self.cdr_dir = Path(cdr_dir) if cdr_dir else None
        self.tail_state = tail_state
        self.tail_interval = tail_interval
        self.tail: CdrTail | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def rate(self, cdrs: list[Cdr]) -> RateResult:
        """Rate a batch (blocking); committed when this returns. Ends the dialogs, counts the outcomes."""
        view = self.state.current()  # never rate against a directory older than the newest revision
        result = rate_cdrs(self.engine, view.directory, cdrs, now=self.state.now())
        for cdr in cdrs:
            self.state.limits.end(cdr.call_id)
        counts: dict[tuple[str, str], int] = {}
        for outcome in result.outcomes:
            key = (outcome.customer or "", outcome.status)
            counts[key] = counts.get(key, 0) + 1
        self.metrics.rated(counts)
        if cdrs:
            self._mark_pending(min(cdr.start for cdr in cdrs))
        if self._loop is not None:
            if result.rated and self._wake is not None:
                self._loop.call_soon_threadsafe(self._wake.set)  # balances moved: refresh the money soon
            if cdrs and self._stats_wake is not None:
                self._loop.call_soon_threadsafe(self._stats_wake.set)  # roll up the batch's minutes
        return result

    def _mark_pending(self, since: datetime) -> None:
        with self._stats_lock:
            if self._pending_since is None or since < self._pending_since:
                self._pending_since = since

    def roll_up(self) -> int:
        """Roll up the pending minutes (at least the last two stats intervals); returns rows written."""
        with self._stats_lock:
            pending, self._pending_since = self._pending_since, None
        recent = self.state.now() - timedelta(seconds=2 * self.stats_interval)
        since = recent if pending is None else min(pending, recent)
        try:
            with self.engine.begin() as conn:
                written = stats.roll_up(conn, since)
        except Exception:
            self._mark_pending(since)  # the next pass redoes these minutes
            raise
        self.roll_ups += 1
        return written

    def check_alerts(self) -> list[Any] | None:
        """Roll up, then evaluate every alert once; None when another sidecar is evaluating now."""
        self.roll_up()
        with self.engine.connect() as raw:
            conn = raw.execution_options(sqlite_begin="IMMEDIATE") if raw.dialect.name == "sqlite" else raw
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    locked = conn.execute(select(func.pg_try_advisory_xact_lock(ALERTS_LOCK_KEY))).scalar()
                    if not locked:
                        return None
                results = evaluate(conn, self.state.now(), notifier=self.notifier)
        self.alert_runs += 1
        if any(r.penalty for r in results) and self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)  # penalties moved: reload the money now
        return results

    def poll_tail(self) -> None:
        assert self.tail is not None
        result = self.tail.poll()
        if result.errors:
            self.metrics.malformed("file", len(result.errors))

    def health(self) -> tuple[bool, dict[str, Any]]:
        view = self.state.view
        body: dict[str, Any] = {"revision": None if view is None else view.revision}
        try:
            with self.engine.connect() as conn:
                body["databaseRevision"] = current_revision(conn)
        except Exception as exc:  # any failure means "not healthy", with its text
            body.update(status="database unreachable", error=str(exc).splitlines()[0])
            return False, body
        if view is None or view.revision is None:
            body["status"] = "no revision loaded"
            return False, body
        body["status"] = "ok"
        return True, body

    def balances(self) -> list[tuple[str, str, str]]:
        return [(b.customer, b.currency, money_text(b.amount)) for b in read_balances(self.engine)]

    async def run_background(self) -> AsyncIterator[None]:
        """aiohttp cleanup context: first load, then the reload poller and the CDR tail."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._wake = asyncio.Event()
        try:
            await loop.run_in_executor(None, self.state.load)
        except Exception:
            log.exception("first load of the switch database failed; retrying every %s s", self.reload_interval)
        self._stats_wake = asyncio.Event()
        tasks = [asyncio.create_task(self._poll_revisions()), asyncio.create_task(self._poll_stats())]
        if self.alerts_interval:
            tasks.append(asyncio.create_task(self._poll_alerts()))
        if self.cdr_dir is not None:
            self.tail = await loop.run_in_executor(
                None, lambda: CdrTail(self.cdr_dir, self.rate, state_file=self.tail_state)
            )
            tasks.append(asyncio.create_task(self._poll_files()))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll_revisions(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.reload_interval)
            self._wake.clear()
            try:
                await loop.run_in_executor(None, self.state.refresh)
            except Exception:
                log.exception("reloading the switch database failed; retrying in %s s", self.reload_interval)

    async def _poll_stats(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._stats_wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stats_wake.wait(), timeout=self.stats_interval)
            self._stats_wake.clear()
            try:
                await loop.run_in_executor(None, self.roll_up)
            except Exception:
                log.exception("rolling up statistics failed; retrying in %s s", self.stats_interval)

    async def _poll_alerts(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.alerts_interval
        while True:
            await asyncio.sleep(self.alerts_interval)
            try:
                await loop.run_in_executor(None, self.check_alerts)
            except Exception:
                log.exception("evaluating alerts failed; retrying in %s s", self.alerts_interval)

    async def _poll_files(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, self.poll_tail)
            except Exception:
                log.exception("tailing %s failed; retrying in %s s", self.cdr_dir, self.tail_interval)
            await asyncio.sleep(self.tail_interval)


SIDECAR = web.AppKey("sidecar", Sidecar)


def create_app(
    engine: Engine,
    *,
    reload_interval: float = 5.0,
    cdr_dir: Path | None = None,
    tail_state: Path | None = None,
    tail_interval: float = 1.0,
    clock: Callable[[], datetime] | None = None,
    stats_interval: float = 60.0,
    alerts_interval: float | None = None,
    notifier: Notifier | None = None,
) -> web.Application:
    """The sidecar application; its startup loads the view and starts the background tasks."""
    sidecar = Sidecar(
        engine,
        reload_interval=reload_interval,
        cdr_dir=cdr_dir,
        tail_state=tail_state,
        tail_interval=tail_interval,
        clock=clock,
        stats_interval=stats_interval,
        alerts_interval=alerts_interval,
        notifier=notifier,
    )
    app = web.Application(client_max_size=MAX_BODY)
    app[SIDECAR] = sidecar
    app.cleanup_ctx.append(lambda _app: sidecar.run_background())
    app.router.add_post("/v1/authorize", _authorize)
    app.router.add_post("/v1/cdrs", _cdrs)
    app.router.add_get("/v1/calls", _calls)
    app.router.add_get("/v1/calls/active", _active)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    return app


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise web.HTTPBadRequest(
            text=_dumps({"error": f"body is not UTF-8: {exc}"}), content_type="application/json"
        ) from None
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(
            text=_dumps({"error": f"invalid JSON: {exc.msg}", "line": exc.lineno, "column": exc.colno}),
            content_type="application/json",
        ) from None


def parse_authorize(body: Any) -> Request | list[dict[str, str]]:
    """A ``Request`` from the JSON body, or every problem as ``{field, message}``."""
    if not isinstance(body, dict):
        return [{"field": "", "message": "expected a JSON object"}]
    problems: list[dict[str, str]] = []

    def text(name: str, *, required: bool = False) -> str | None:
        value = body.get(name)
        if value is None:
            if required:
                problems.append({"field": name, "message": "is required"})
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            problems.append({"field": name, "message": "must be a non-empty string"})
            return None
        return value

    for name in body:
        if name not in _AUTHORIZE_FIELDS:
            problems.append({"field": name, "message": "is not a field of an authorization request"})
    cli, dialed = text("cli", required=True), text("dialed", required=True)
    source_ip, username, realm, pai, call_id = (text(n) for n in ("sourceIp", "username", "realm", "pai", "callId"))
    if source_ip is not None:
        try:
            source_ip = str(ipaddress.ip_address(source_ip.strip()))
        except ValueError:
            problems.append({"field": "sourceIp", "message": f"{source_ip!r} is not an IPv4 or IPv6 address"})
    port = body.get("sourcePort")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        problems.append({"field": "sourcePort", "message": "must be an integer between 1 and 65535"})
    if body.get("sourceIp") is None and body.get("username") is None:
        problems.append({"field": "sourceIp", "message": "give sourceIp or username: who sent the INVITE"})
    if problems:
        return problems
    assert cli is not None and dialed is not None
    return Request(
        cli=cli,
        dialed=dialed,
        source_ip=source_ip,
        source_port=port,
        username=username,
        realm=realm,
        pai=pai,
        call_id=call_id,
    )


async def _authorize(request: web.Request) -> web.Response:
    started = time.perf_counter()
    sidecar = request.app[SIDECAR]
    parsed = parse_authorize(await _json_body(request))
    if isinstance(parsed, list):
        first = parsed[0]
        return _error(
            400, f"{first['field']}: {first['message']}" if first["field"] else first["message"], problems=parsed
        )
    view = sidecar.state.view
    if view is None:
        return _error(503, "no revision loaded yet")
    decision = authorize(view.directory, parsed, now=sidecar.state.now(), limits=sidecar.state.limits)
    response = web.Response(text=_dumps(decision.to_json()), content_type="application/json")
    sidecar.metrics.authorized(decision.customer, decision.allowed, time.perf_counter() - started)
    return response


def parse_cdr_body(raw: bytes, content_type: str) -> tuple[list[Cdr], list[CdrError]]:
    """CDRs from a POST body: JSON lines by content type, else a JSON array or one object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [CdrError(1, None, f"body is not UTF-8: {exc}")]
    if content_type in NDJSON_TYPES:
        return parse_jsonl(text)
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [CdrError(exc.lineno, None, f"is not valid JSON: {exc.msg} at column {exc.colno}")]
    items = [body] if isinstance(body, dict) else body
    if not isinstance(items, list):
        return [], [CdrError(1, None, "expected a JSON array of CDRs or one CDR object")]
    cdrs: list[Cdr] = []
    errors: list[CdrError] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors.append(CdrError(number, None, "expected a JSON object"))
            continue
        cdr, problems = cdr_from_mapping(item, number)
        errors.extend(problems)
        if cdr is not None:
            cdrs.append(cdr)
    return cdrs, errors


async def _cdrs(request: web.Request) -> web.Response:
    sidecar = request.app[SIDECAR]
    cdrs, errors = parse_cdr_body(await request.read(), request.content_type)
    if errors:
        sidecar.metrics.malformed("http", len({e.line for e in errors}))
        problems = [{"line": e.line, "field": e.field, "message": e.detail} for e in errors]
        return _error(400, f"{len(problems)} malformed CDR field(s); nothing was rated", problems=problems)
    lines: dict[str, list[int]] = {}
    for number, cdr in enumerate(cdrs, start=1):
        lines.setdefault(cdr.call_id, []).append(number)
    try:
        result = await asyncio.get_running_loop().run_in_executor(None, sidecar.rate, cdrs)
    except RatingError as exc:
        return _error(503, str(exc))
    return web.Response(text=_dumps(_rate_response(result, lines)), content_type="application/json")


def _rate_response(result: RateResult, lines: dict[str, list[int]]) -> dict[str, Any]:
    repeats: dict[str, int] = {}
    problems = []
    for outcome in result.outcomes:
        where = lines.get(outcome.call_id, [0])
        if outcome.reason == "repeated in this batch":
            index = repeats[outcome.call_id] = repeats.get(outcome.call_id, 0) + 1
            line = where[min(index, len(where) - 1)]
        else:
            line = where[0]
        if outcome.status in ("Rejected", "Unrated"):
            problems.append(
                {"line": line, "callId": outcome.call_id, "status": outcome.status, "reason": outcome.reason}
            )
    return {
        "rated": result.rated,
        "duplicate": result.duplicates,
        "rejected": result.rejected,
        "unrated": result.unrated,
        "charged": {currency: money_text(amount) for currency, amount in sorted(result.charged.items())},
        "errors": sorted(problems, key=lambda p: p["line"]),
    }


async def _calls(request: web.Request) -> web.Response:
    sidecar = request.app[SIDECAR]
    raw_limit = request.query.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_CALLS_LIMIT:
        return _error(400, f"limit must be an integer between 1 and {MAX_CALLS_LIMIT}")
    view = sidecar.state.view
    if view is None:
        return _error(503, "no revision loaded yet")
    customer = None
    ref = request.query.get("customer")
    if ref:
        try:
            customer = view.directory.customer(ref)
        except RatingError as exc:
            return _error(404, str(exc))

    def fetch() -> list[dict[str, Any]]:
        return list(query_cdrs(sidecar.engine, customer=customer, limit=int(raw_limit), newest_first=True))

    calls = await asyncio.get_running_loop().run_in_executor(None, fetch)
    return web.Response(text=_dumps({"calls": calls}), content_type="application/json")


async def _active(request: web.Request) -> web.Response:
    sidecar = request.app[SIDECAR]
    dialogs = sidecar.state.limits.active_dialogs()
    channels: dict[str, int] = {}
    calls = []
    for dialog in dialogs:
        customer = str(dialog.details.get("customer", ""))
        channels[customer] = channels.get(customer, 0) + 1
        calls.append({"callId": dialog.call_id, "started": dialog.started, **dialog.details})
    body = {"active": len(dialogs), "channels": dict(sorted(channels.items())), "calls": calls}
    return web.Response(text=_dumps(body), content_type="application/json")


async def _healthz(request: web.Request) -> web.Response:
    healthy, body = await asyncio.get_running_loop().run_in_executor(None, request.app[SIDECAR].health)
    return web.json_response(body, status=200 if healthy else 503)


async def _metrics(request: web.Request) -> web.Response:
    sidecar = request.app[SIDECAR]
    try:
        balances = await asyncio.get_running_loop().run_in_executor(None, sidecar.balances)
    except Exception:  # the other metrics are still worth scraping
        log.exception("reading balances for /metrics failed")
        balances = []
    channels: dict[str, int] = {}
    for dialog in sidecar.state.limits.active_dialogs():
        customer = str(dialog.details.get("customer", ""))
        channels[customer] = channels.get(customer, 0) + 1
    view = sidecar.state.view
    text = sidecar.metrics.render(
        revision=None if view is None else view.revision, channels=channels, balances=balances
    )
    return web.Response(body=text.encode("utf-8"), headers={"Content-Type": PROMETHEUS_TYPE})
