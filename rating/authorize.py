"""May this INVITE pass, as whom, on which route, at what rate, for how long: ``authorize``.

The answer is a ``Decision`` that records every step that led to it (``Step(name, outcome,
detail)``), as ConnexCS's *Simulate* dialog shows what decided a call. The steps, in order:

1. ``identify``: ``Directory.identify`` (the function the rater uses too, so a CDR is rated as
   the customer it was authorized for): a SIP user (user part case-sensitive, realm not), or an
   Ingress IP authentication (longest CIDR, then techPrefix, then lowest id); then a SIP user's
   ``ipAllowList``, when set, must hold the source IP.
2. ``customer``: ``Inactive`` and ``PendingApproval`` customers get 403, and so does a customer
   under an alert penalty (``penalty: alert <ns/name> firing until <time>``).
3. ``number``: an IP authentication's techPrefix is removed, then ``stripDigits`` leading digits;
   its ``dialPattern`` must then match (``re.search``).
4. ``cli``: no rules, every CLI passes. With rules, deny by default: a rule applies when its
   ``dialedNumberMatch`` (``re.search`` on the number as received) is absent or matches; the
   first applying rule whose ``cli`` and ``pAssertedId`` fully match passes the call (and its
   ``rewriteCli``/``rewritePAssertedId`` replace them); failing that, the first applying
   ``forced`` rule rewrites the CLI; failing that, 403.
5. ``route``: ``Directory.route`` (shared with the rater) among the customer's enabled routes:
   those with the IP authentication's techPrefix, else those with the longest route techPrefix
   the number starts with (removed from the number), else those without one; routes whose
   dialStrings match beat catch-alls (no dialStrings); then the highest priority, then the
   lowest id. None: 404. A card whose deck cannot be indexed, or in another currency than the
   customer's, is 503: the rater could not price the call.
6. ``rate``: longest prefix at ``now`` on the route's card; blocked: 403, none: 404.
7. ``balance``: ``balance <= -debitLimit``: 402; daily spend limit reached: 403.
8. ``duration``: the shortest of the route's ``maxDuration`` and what the money left buys at the
   rate (balance + debit limit, and the daily spend left, minus the connect fee), floored to the
   increments; package minutes covering the prefix add to it.
9. ``limits``: channels and CPS of the customer, the authentication and the route (0 =
   unlimited); over a limit gets the route's ``overLimitSipCode``. With a call id and
   ``reserve``, the dialog is started in ``CallLimits`` (ended by ``limits.end(call_id)``).
10. ``recording``: ``Enabled``, or ``Sampling`` decided by a hash of the call id, so every sidecar
    and every retry of a call id decides the same.

A leading ``+`` is removed from the CLI, PAI and dialed number: numbers are stored as digits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal

from rating.cdr import utc_text
from rating.charges import Tariff, billed_seconds
from rating.directory import Customer, Directory, Identified, IpAuth, Route, SipUser, digits, parse_address
from rating.ledger import money_text
from rating.limits import CallLimits, Scope

Outcome = Literal["pass", "fail", "info"]
_ZERO = Decimal(0)
_SIXTY = Decimal(60)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Request:
    """An INVITE as the switch sees it: who sent it (IP/port or SIP user), CLI, PAI, dialed number."""

    cli: str
    dialed: str
    source_ip: str | None = None
    source_port: int | None = None
    username: str | None = None
    realm: str | None = None
    pai: str | None = None
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    outcome: Outcome
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "outcome": self.outcome, "detail": self.detail}


@dataclass(slots=True)
class Decision:
    allowed: bool = False
    sip_code: int = 200
    reason: str | None = None
    customer: str | None = None  # namespace/name
    authentication: str | None = None
    route: str | None = None
    rate_card: str | None = None
    prefix: str | None = None
    per_minute: Decimal | None = None
    currency: str | None = None
    cli: str | None = None
    pai: str | None = None
    dialed: str | None = None
    record: bool = False
    max_duration_seconds: int | None = None
    call_id: str | None = None
    steps: list[Step] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "sipCode": self.sip_code,
            "reason": self.reason,
            "callId": self.call_id,
            "customer": self.customer,
            "authentication": self.authentication,
            "route": self.route,
            "rateCard": self.rate_card,
            "prefix": self.prefix,
            "perMinute": None if self.per_minute is None else money_text(self.per_minute),
            "currency": self.currency,
            "cli": self.cli,
            "pai": self.pai,
            "dialed": self.dialed,
            "record": self.record,
            "maxDurationSeconds": self.max_duration_seconds,
            "steps": [s.to_json() for s in self.steps],
        }


class _Refused(Exception):
    """Internal: a step refused the call (never leaves this module)."""

    def __init__(self, sip_code: int, reason: str) -> None:
        self.sip_code = sip_code
        self.reason = reason


def authorize(
    directory: Directory, request: Request, *, now: datetime, limits: CallLimits, reserve: bool = True
) -> Decision:
    """Decide one INVITE at ``now``; with ``reserve`` and a call id, an allowed call takes its channels."""
    decision = Decision(
        call_id=request.call_id,
        cli=digits(request.cli),
        pai=None if request.pai is None else digits(request.pai),
        dialed=digits(request.dialed),
    )
    try:
        _run(directory, request, decision, now, limits, reserve)
    except _Refused as refused:
        decision.allowed = False
        decision.sip_code = refused.sip_code
        decision.reason = refused.reason
    else:
        decision.allowed = True
        decision.sip_code = 200
    return decision


def _run(
    directory: Directory, request: Request, decision: Decision, now: datetime, limits: CallLimits, reserve: bool
) -> None:
    steps = decision.steps
    received = decision.dialed or ""

    # 1. identify
    found = _identify(directory, request, received, steps)
    auth, customer = found.auth, found.customer
    decision.customer = customer.ref
    decision.currency = customer.currency

    # 2. customer status and alert penalties
    if customer.status == "Inactive":
        _fail(steps, "customer", 403, "customer inactive")
    if customer.status == "PendingApproval":
        _fail(steps, "customer", 403, "customer pending approval")
    penalty = directory.active_penalty(customer.id, now)
    if penalty is not None:
        until = utc_text(penalty.until.astimezone(UTC))
        _fail(steps, "customer", 403, f"penalty: alert {penalty.alert} firing until {until}")
    steps.append(Step("customer", "pass", f"{customer.ref} is {customer.status}"))

    # 3. number normalisation
    number = _normalise(found, received, steps)

    # 4. CLI rules
    decision.cli, decision.pai = _cli_rules(customer, decision.cli or "", decision.pai, received, steps)

    # 5. route
    route, number = _select_route(directory, customer, auth, number, steps)
    decision.dialed = number
    decision.route = route.ref
    card = directory.cards.get(route.rate_card_id)
    if card is None:  # the database's foreign key makes this a hand-built directory's mistake
        _fail(steps, "rate", 404, "no rate")
    decision.rate_card = card.ref
    if card.index is None:
        _fail(steps, "rate", 503, f"rate card {card.ref} cannot be used: {card.error}")
    if card.currency != customer.currency:
        _fail(steps, "rate", 503, f"rate card {card.ref} is in {card.currency}, customer pays in {customer.currency}")

    # 6. rate
    match = card.index.lookup(number, now)
    if match is None:
        _fail(steps, "rate", 404, "no rate")
    decision.prefix = match.prefix
    decision.per_minute = match.tariff.per_minute
    if match.blocked:
        _fail(steps, "rate", 403, "destination blocked")
    since = f" since {match.effective_from.isoformat()}" if match.effective_from else ""
    steps.append(
        Step("rate", "pass", f"prefix {match.prefix} at {match.tariff.per_minute}/min on {decision.rate_card}{since}")
    )

    # 7. balance and daily spend
    money = _money_left(directory, customer, steps)

    # 8. maximum duration
    decision.max_duration_seconds = _max_duration(directory, customer, route, match.tariff, number, money, steps)

    # 9. limits
    scopes = [
        Scope(("customer", customer.id), f"customer {customer.ref}", customer.channels, customer.flow_speed),
        _auth_scope(auth),
        Scope(("route", route.id), f"route {decision.route}", route.channels, route.flow_speed),
    ]
    refusal = limits.admit(
        request.call_id,
        scopes,
        now,
        reserve=reserve,
        details={"customer": customer.ref, "route": decision.route, "dialed": number, "cli": decision.cli},
    )
    if refusal is not None:
        _fail(steps, "limits", route.over_limit_sip_code, refusal.reason)
    steps.append(Step("limits", "pass", "channels and CPS within limits"))

    # 10. recording
    decision.record = _recording(route, request.call_id, steps)


def _fail(steps: list[Step], name: str, sip_code: int, reason: str) -> Any:
    steps.append(Step(name, "fail", reason))
    raise _Refused(sip_code, reason)


def _identify(directory: Directory, request: Request, received: str, steps: list[Step]) -> Identified:
    found = directory.identify(
        dialed=received,
        source_ip=request.source_ip,
        source_port=request.source_port,
        username=request.username,
        realm=request.realm,
    )
    if not isinstance(found, Identified):
        return _fail(steps, "identify", found.sip_code, found.reason)
    auth, customer = found.auth, found.customer
    if isinstance(auth, SipUser):
        steps.append(Step("identify", "pass", f"SIP user {auth.username}@{auth.realm} of {customer.ref}"))
        if auth.ip_allow_list:
            source = None
            if request.source_ip is not None:
                source = parse_address(request.source_ip)
                if source is None:
                    _fail(steps, "identify", 400, f"invalid source IP {request.source_ip!r}")
            if source is None or not any(source in net for net in auth.ip_allow_list):
                _fail(steps, "ip allow list", 403, f"source IP {request.source_ip} not in the allow list")
            steps.append(Step("ip allow list", "pass", f"{source} is allowed"))
        return found
    tech = f", techPrefix {auth.tech_prefix}" if auth.tech_prefix else ""
    source = parse_address(request.source_ip or "")  # identify parsed it (cached): never None here
    steps.append(Step("identify", "pass", f"IP {source} in {auth.network}{tech} ({auth.name}) of {customer.ref}"))
    return found


def _normalise(found: Identified, received: str, steps: list[Step]) -> str:
    """``Directory.identify`` removed the techPrefix and stripDigits already; say so, then check the dialPattern."""
    auth, number = found.auth, found.number
    if not isinstance(auth, IpAuth):
        return number  # a route's techPrefix may still be removed when the route is chosen
    notes = []
    if auth.tech_prefix:
        notes.append(f"techPrefix {auth.tech_prefix} removed")
    if auth.strip_digits:
        notes.append(f"{auth.strip_digits} digits stripped")
    if auth.dial_pattern is not None:
        if auth.dial_pattern.search(number) is None:
            _fail(
                steps, "number", 403, f"dialed number {number} does not match dialPattern {auth.dial_pattern.pattern}"
            )
        notes.append(f"matches dialPattern {auth.dial_pattern.pattern}")
    if notes:
        steps.append(Step("number", "pass", f"{received} → {number} ({'; '.join(notes)})"))
    return number


def _cli_rules(
    customer: Customer, cli: str, pai: str | None, received: str, steps: list[Step]
) -> tuple[str, str | None]:
    if not customer.cli_rules:
        steps.append(Step("cli", "pass", "no CLI rules: every CLI passes"))
        return cli, pai
    applying = [
        r for r in customer.cli_rules if r.dialed_number_match is None or r.dialed_number_match.search(received)
    ]
    for rule in applying:
        if rule.cli.fullmatch(cli) is None:
            continue
        if rule.pai is not None and (pai is None or rule.pai.fullmatch(pai) is None):
            continue
        # A forced rule's rewriteCli is for CLIs it does not match; a plain rule's replaces the match.
        new_cli = rule.rewrite_cli if rule.rewrite_cli and not rule.forced else cli
        new_pai = rule.rewrite_pai if rule.rewrite_pai and not rule.forced else pai
        steps.append(
            Step(
                "cli",
                "pass",
                f"CLI {cli} matches rule {rule.position + 1} ({rule.cli.pattern})"
                + _rewrites(cli, new_cli, pai, new_pai),
            )
        )
        return new_cli, new_pai
    for rule in applying:
        if rule.forced and rule.rewrite_cli:
            new_pai = rule.rewrite_pai or pai
            steps.append(
                Step(
                    "cli",
                    "pass",
                    f"no rule matches CLI {cli}; forced rule {rule.position + 1}"
                    + _rewrites(cli, rule.rewrite_cli, pai, new_pai),
                )
            )
            return rule.rewrite_cli, new_pai
    shown = f"CLI {cli}" + (f" / PAI {pai}" if pai is not None else "")
    return _fail(steps, "cli", 403, f"CLI not allowed: {shown} matches no CLI rule")


def _rewrites(cli: str, new_cli: str, pai: str | None, new_pai: str | None) -> str:
    parts = []
    if new_cli != cli:
        parts.append(f"CLI → {new_cli}")
    if new_pai != pai:
        parts.append(f"PAI → {new_pai}")
    return f"; {', '.join(parts)}" if parts else ""


def _select_route(
    directory: Directory, customer: Customer, auth: IpAuth | SipUser, number: str, steps: list[Step]
) -> tuple[Route, str]:
    """The route and the number it rates (without the route's techPrefix): ``Directory.route``, as the rater."""
    routed = directory.route(customer, number, auth.tech_prefix if isinstance(auth, IpAuth) else None)
    if isinstance(routed, str):
        return _fail(steps, "route", 404, routed)
    route, number, tech = routed.route, routed.number, routed.tech_prefix
    why = []
    if tech:
        why.append(f"techPrefix {tech}")
    if route.dial_strings:
        why.append("dialStrings " + ", ".join(d.text for d in route.dial_strings))
    why.append(f"priority {route.priority}")
    steps.append(Step("route", "pass", f"{route.namespace}/{route.name} ({'; '.join(why)}), number {number}"))
    if not number:
        _fail(steps, "number", 484, "dialed number is empty")
    return route, number


def _money_left(directory: Directory, customer: Customer, steps: list[Step]) -> Decimal:
    """Money the customer may still spend: down to the debit limit, and within today's spend limit."""
    balance = directory.balances.get(customer.id, _ZERO)
    floor = -customer.debit_limit
    if balance <= floor:
        _fail(
            steps,
            "balance",
            402,
            f"insufficient balance: {balance} {customer.currency} with debit limit {customer.debit_limit}",
        )
    left = balance - floor
    detail = f"balance {balance} {customer.currency}, debit limit {customer.debit_limit}"
    if customer.daily_spend_limit is not None:
        spent = directory.spent_today.get(customer.id, _ZERO)
        if spent >= customer.daily_spend_limit:
            _fail(steps, "balance", 403, f"daily spend limit reached: {spent} of {customer.daily_spend_limit}")
        left = min(left, customer.daily_spend_limit - spent)
        detail += f", spent today {spent} of {customer.daily_spend_limit}"
    steps.append(Step("balance", "pass", detail))
    return left


def _max_duration(
    directory: Directory,
    customer: Customer,
    route: Route,
    tariff: Tariff,
    number: str,
    money: Decimal,
    steps: list[Step],
) -> int | None:
    package = sum(a.seconds_left for a in directory.allowances.get(customer.id, ()) if a.covers(number))
    bought: int | None = None
    if tariff.per_minute > 0:
        raw = int(((money - tariff.connect_fee) / tariff.per_minute * _SIXTY).to_integral_value(rounding=ROUND_FLOOR))
        bought = _floor_to_increments(raw, tariff)
    elif money < tariff.connect_fee:
        bought = 0  # free minutes, but not even the connect fee is covered
    seconds: int | None = None if bought is None else bought + package
    if seconds is not None and seconds <= 0:
        _fail(steps, "duration", 402, "insufficient balance: it does not buy the first increment")
    limits = [s for s in (seconds, route.max_duration) if s is not None]
    result = min(limits) if limits else None
    parts = []
    if bought is not None:
        parts.append(f"balance buys {bought} s")
    if package:
        parts.append(f"package {package} s")
    if route.max_duration is not None:
        parts.append(f"route maxDuration {route.max_duration} s")
    shown = "unlimited" if result is None else f"{result} s"
    steps.append(Step("duration", "pass", f"{shown}" + (f" ({', '.join(parts)})" if parts else "")))
    return result


def _floor_to_increments(seconds: int, tariff: Tariff) -> int:
    """The longest duration whose billed seconds fit in ``seconds`` (0: not even the first block)."""
    if seconds < billed_seconds(1, tariff):
        return 0
    # Past the first block, billed seconds lie on initial + k * step: the largest such point.
    initial = tariff.initial_increment
    return initial + (seconds - initial) // tariff.subsequent_increment * tariff.subsequent_increment


def _auth_scope(auth: IpAuth | SipUser) -> Scope:
    if isinstance(auth, IpAuth):
        return Scope(("ip", auth.id), f"IP authentication {auth.namespace}/{auth.name}", auth.channels, auth.flow_speed)
    return Scope(("sip", auth.id), f"SIP user {auth.namespace}/{auth.name}", auth.channels, auth.flow_speed)


def _recording(route: Route, call_id: str | None, steps: list[Step]) -> bool:
    if route.recording == "Enabled":
        steps.append(Step("recording", "info", "recording enabled"))
        return True
    if route.recording == "Sampling" and route.sampling_percent is not None:
        draw = sample_point(call_id or "")
        record = draw < route.sampling_percent
        steps.append(
            Step(
                "recording",
                "info",
                f"sampling {route.sampling_percent}%: call draws {draw} → {'record' if record else 'skip'}",
            )
        )
        return record
    steps.append(Step("recording", "info", "recording disabled"))
    return False


def sample_point(call_id: str) -> Decimal:
    """Where a call id falls in [0, 100): the same on every machine and every run (SHA-256, not hash())."""
    value = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big") % 10_000
    return Decimal(value) / _HUNDRED
