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

Everything that touches the database runs in the loop's thread executor. The work behind the
routes and the background tasks (revision polls, CDR tail, statistics, alerts) is
``rating.sidecar.Sidecar``; the metrics are ``rating.metrics``. Penalties an alert writes reach
authorization at the next money reload, which the evaluation triggers at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy import Engine

from rating import RatingError
from rating.authorize import Request, authorize
from rating.cdr import Cdr, CdrError, cdr_from_mapping, parse_jsonl, utc_text
from rating.export import query_cdrs
from rating.ledger import money_text
from rating.limits import Dialog
from rating.rater import RateResult
from rating.sidecar import Sidecar

log = logging.getLogger(__name__)

MAX_BODY = 64 << 20
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_CALLS_LIMIT = 1000
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonl"})
_AUTHORIZE_FIELDS = ("sourceIp", "sourcePort", "username", "realm", "cli", "pai", "dialed", "callId")


SIDECAR = web.AppKey("sidecar", Sidecar)


def create_app(engine: Engine, **options: Any) -> web.Application:
    """The sidecar application; its startup loads the view and starts the background tasks.

    ``options`` are ``Sidecar``'s (``reload_interval``, ``cdr_dir``, ``stats_interval``, ``notifier``...).
    """
    sidecar = Sidecar(engine, **options)
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
        return utc_text(value)
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
    dialogs = request.app[SIDECAR].state.limits.active_dialogs()
    calls = [{"callId": dialog.call_id, "started": dialog.started, **dialog.details} for dialog in dialogs]
    body = {"active": len(dialogs), "channels": dict(sorted(_channels(dialogs).items())), "calls": calls}
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
    channels = _channels(sidecar.state.limits.active_dialogs())
    view = sidecar.state.view
    text = sidecar.metrics.render(
        revision=None if view is None else view.revision, channels=channels, balances=balances
    )
    return web.Response(body=text.encode("utf-8"), headers={"Content-Type": PROMETHEUS_TYPE})


def _channels(dialogs: list[Dialog]) -> dict[str, int]:
    """Active dialogs per customer (``namespace/name``)."""
    counts: dict[str, int] = {}
    for dialog in dialogs:
        customer = str(dialog.details.get("customer", ""))
        counts[customer] = counts.get(customer, 0) + 1
    return counts
