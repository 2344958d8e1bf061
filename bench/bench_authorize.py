"""In-process ``authorize`` throughput and latency: the budget an INVITE spends in the sidecar.

Builds a directory of 1,000 customers (each an IP authentication — /32s, with some /24s and
/16s overlapping them so the longest-match index has several mask lengths —, two routes, a third
with CLI rules, balances) sharing a 100k-prefix rate card, then authorizes ``--calls`` INVITEs
from random customers to random numbers with channel/CPS limits in force. Every admitted call is
ended straight away, so the limit counters stay small and steady as in a long-running sidecar.

Reports authorizations per second (wall and CPU, best of ``--repeat``) and per-call latency
percentiles (p50, p99, p99.9, max) measured with ``perf_counter_ns`` around each call. The goal
is p99 under 2 ms in-process. The latency of one call on a shared machine includes being
descheduled; compare runs on the same machine only.

Run: ``.venv/bin/python bench/bench_authorize.py [--customers N] [--rates N] [--calls N] [--seed N]``.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import random
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rating import directory
from rating.authorize import Request, authorize
from rating.charges import Tariff
from rating.limits import CallLimits
from rating.prefixes import Match, PrefixIndex
from resources import gcpause

NOW = datetime(2026, 6, 20, 12, tzinfo=UTC)
SWITCH = datetime(2026, 6, 15, tzinfo=UTC)


def make_card(count: int, rng: random.Random) -> tuple[directory.Card, list[str]]:
    tariffs = [Tariff(per_minute=Decimal(rng.randrange(1, 5000)) / 10_000) for _ in range(1000)]
    blocked = Tariff(per_minute=Decimal("0.1"), blocked=True)
    prefixes: set[str] = set()
    while len(prefixes) < count:
        prefixes.add(str(rng.randrange(1, 10)) + "".join(rng.choices("0123456789", k=rng.randrange(1, 8))))
    matches: list[Match] = []
    for prefix in sorted(prefixes):
        matches.append(Match(prefix, blocked if rng.random() < 0.01 else rng.choice(tariffs)))
        if rng.random() < 0.1:
            matches.append(Match(prefix, rng.choice(tariffs), effective_from=SWITCH))
    return directory.Card(1, "default", "wholesale", "USD", PrefixIndex(matches)), sorted(prefixes)


def make_directory(customers: int, card: directory.Card, rng: random.Random) -> directory.Directory:
    people: dict[int, directory.Customer] = {}
    auths: list[directory.IpAuth] = []
    routes: list[directory.Route] = []
    balances: dict[int, Decimal] = {}
    rules = (
        directory.CliRule(cli=re.compile(r"44\d{9,10}"), position=0),
        directory.CliRule(cli=re.compile(r"1\d{10}"), pai=re.compile(r"1\d{10}"), position=1),
        directory.CliRule(cli=re.compile(r"\d+"), rewrite_cli="442070000000", forced=True, position=2),
    )
    for n in range(1, customers + 1):
        people[n] = directory.Customer(
            id=n,
            namespace="default",
            name=f"customer-{n}",
            debit_limit=Decimal(rng.choice([0, 0, 100])),
            channels=rng.choice([0, 100, 500]),
            flow_speed=rng.choice([0, 50]),
            daily_spend_limit=None,
            cli_rules=rules if n % 3 == 0 else (),
        )
        balances[n] = Decimal(rng.randrange(0, 100_000)) / 100
        address = ipaddress.ip_network(f"10.{n // 250}.{n % 250}.1/32")
        auths.append(directory.IpAuth(n, "default", f"ip-{n}", n, address, channels=rng.choice([0, 200])))
        if n % 10 == 0:  # a /24 around some /32s, owned by the next customer: overlapping CIDRs
            wider = ipaddress.ip_network(f"10.{n // 250}.{n % 250}.0/24")
            auths.append(directory.IpAuth(100_000 + n, "default", f"net-{n}", n % customers + 1, wider))
        routes.append(directory.Route(2 * n, "default", f"r-{n}", n, card.id, priority=0, max_duration=7200))
        routes.append(
            directory.Route(
                2 * n + 1,
                "default",
                f"r-{n}-uk",
                n,
                card.id,
                dial_strings=(directory.DialString.parse("44"), directory.DialString.parse(r"^1[2-9]\d+$")),
                priority=5,
                channels=300,
                flow_speed=100,
                recording="Sampling",
                sampling_percent=Decimal(10),
            )
        )
    auths.append(directory.IpAuth(999_999, "default", "all", 1, ipaddress.ip_network("10.0.0.0/8")))
    return directory.Directory(people, auths, (), routes, {card.id: card}, balances)


def make_requests(count: int, customers: int, prefixes: list[str], rng: random.Random) -> list[Request]:
    requests = []
    for n in range(count):
        c = rng.randrange(1, customers + 1)
        ip = f"10.{c // 250}.{c % 250}.{1 if rng.random() < 0.95 else rng.randrange(2, 255)}"
        number = (rng.choice(prefixes) + "".join(rng.choices("0123456789", k=10)))[:15]
        cli = rng.choice(["441234567890", "12125550100", "3312345678"])
        requests.append(Request(cli=cli, dialed=number, source_ip=ip, source_port=5060, call_id=f"call-{n}"))
    return requests


def run(dir_: directory.Directory, requests: list[Request]) -> tuple[float, float, list[int], int]:
    limits = CallLimits()
    latencies: list[int] = []
    allowed = 0
    clock = time.perf_counter_ns
    wall, cpu = time.perf_counter(), time.process_time()
    for n, request in enumerate(requests):
        # Time advances 0.1 ms per call: 10k INVITEs per second of switch time.
        now = NOW + timedelta(microseconds=100 * n)
        began = clock()
        decision = authorize(dir_, request, now=now, limits=limits)
        latencies.append(clock() - began)
        if decision.allowed:
            allowed += 1
            limits.end(request.call_id or "")
    return time.perf_counter() - wall, time.process_time() - cpu, latencies, allowed


def percentile(sorted_ns: list[int], p: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * p))] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--rates", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    began = time.perf_counter()
    card, prefixes = make_card(args.rates, rng)
    dir_ = make_directory(args.customers, card, rng)
    requests = make_requests(args.calls, args.customers, prefixes, rng)
    print(
        f"directory: {args.customers:,} customers, {len(dir_.ip_auths):,} IP authentications, "
        f"{len(dir_.routes):,} routes, {len(card.index):,} prefixes (built in {time.perf_counter() - began:.1f} s)"
    )
    gc.collect()
    gcpause.freeze_heap()  # the directory is long-lived: keep the collector from rescanning it
    best: tuple[float, float, list[int], int] | None = None
    for _ in range(args.repeat):
        result = run(dir_, requests)
        if best is None or result[0] < best[0]:
            best = result
    assert best is not None
    wall, cpu, latencies, allowed = best
    latencies.sort()
    count = len(requests)
    print(f"authorized {count:,} INVITEs ({allowed:,} allowed), best of {args.repeat}")
    print(f"  wall {wall:7.3f} s  {count / wall:>10,.0f} authorizations/s")
    print(f"  cpu  {cpu:7.3f} s  {count / max(cpu, 1e-9):>10,.0f} authorizations/s")
    print(
        "  latency µs: "
        f"p50 {percentile(latencies, 0.50):.1f}  p99 {percentile(latencies, 0.99):.1f}  "
        f"p99.9 {percentile(latencies, 0.999):.1f}  max {latencies[-1] / 1000:.1f}"
    )


if __name__ == "__main__":
    main()
