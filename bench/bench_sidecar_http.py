"""Authorizations per second over HTTP: ``trunkline sidecar`` as a real process, an aiohttp client.

Applies ``--customers`` customers (one /32 IP authentication and one route each) sharing a rate
card of ``--rates`` prefixes to a throwaway SQLite database, starts ``trunkline sidecar`` on
127.0.0.1 (a free port), then sends ``POST /v1/authorize`` requests from ``--concurrency``
client tasks over keep-alive connections until ``--requests`` are done or ``--seconds`` have
passed. Reports requests per second and client-side latency percentiles (p50, p99, max), and the
server-side mean from the sidecar's own ``/metrics`` histogram. With ``--call-ids`` every request
carries a fresh call id (each allowed call then takes a channel that is never released).

The client and the server share the machine: on 2 cores the figure is what one sidecar process
answers while a client loads it, not the server's ceiling. Nothing leaves 127.0.0.1.

Run: ``.venv/bin/python bench/bench_sidecar_http.py [--requests N] [--concurrency N] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, load_average, machine

import resources
from reconciler.apply import RevisionInfo
from reconciler.reconcile import apply
from switchdb.engine import open_database


def manifests(customers: int, rates: int, rng: random.Random) -> str:
    docs = []
    prefixes = sorted({str(rng.randrange(10, 10 ** rng.randrange(2, 7))) for _ in range(rates * 2)})[:rates]
    rows = "\n".join(f'    - {{prefix: "{p}", perMinute: "0.{rng.randrange(1, 9999):04d}"}}' for p in prefixes)
    docs.append(
        "apiVersion: trunkline.dev/v1alpha1\nkind: RateCard\nmetadata: {name: bench}\n"
        f"spec:\n  currency: USD\n  rates:\n    - {{prefix: '1', perMinute: '0.01'}}\n{rows}\n"
    )
    for n in range(customers):
        docs.append(
            f"apiVersion: trunkline.dev/v1alpha1\nkind: Customer\nmetadata: {{name: c{n}}}\n"
            f'spec: {{displayName: C{n}, currency: USD, debitLimit: "1000"}}\n---\n'
            f"apiVersion: trunkline.dev/v1alpha1\nkind: IngressRoute\nmetadata: {{name: c{n}-route}}\n"
            f"spec: {{customerRef: c{n}, rateCardRef: bench}}\n---\n"
            f"apiVersion: trunkline.dev/v1alpha1\nkind: IpAuthentication\nmetadata: {{name: c{n}-ip}}\n"
            f"spec: {{customerRef: c{n}, address: 10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}}}\n"
        )
    return "---\n".join(docs)


def start_sidecar(db_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, "-m", "reconciler.cli", "sidecar", "--db", db_url, "--listen", "127.0.0.1:0"]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log.open("wb"), env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert process.stdout is not None
    for line in process.stdout:
        text = line.decode().strip()
        if text.startswith("listening on "):
            return process, text.removeprefix("listening on ")
    raise SystemExit(f"the sidecar did not start:\n{log.read_text()}")


async def load(url: str, args: argparse.Namespace, customers: int) -> tuple[list[float], float, int, dict[int, int]]:
    import aiohttp

    latencies: list[float] = []
    codes: dict[int, int] = {}
    allowed = 0
    sent = 0
    deadline = time.perf_counter() + args.seconds
    rng = random.Random(args.seed)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(worker_id: int) -> None:
            nonlocal sent, allowed
            while sent < args.requests and time.perf_counter() < deadline:
                sent += 1
                n = rng.randrange(customers)
                body = {
                    "sourceIp": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
                    "cli": "15125550100",
                    "dialed": str(rng.randrange(10**10, 10**11)),
                }
                if args.call_ids:
                    body["callId"] = f"bench-{worker_id}-{sent}"
                started = time.perf_counter()
                async with session.post(url + "/v1/authorize", json=body) as response:
                    decision = await response.json()
                latencies.append(time.perf_counter() - started)
                codes[response.status] = codes.get(response.status, 0) + 1
                allowed += decision.get("allowed") is True

        # warm-up (connections, first requests), not measured
        async with session.post(
            url + "/v1/authorize", json={"sourceIp": "10.0.0.0", "cli": "1", "dialed": "1"}
        ) as response:
            await response.read()
        began = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(args.concurrency)))
        elapsed = time.perf_counter() - began
        async with session.get(url + "/metrics") as response:
            metrics = await response.text()
    server_sum = server_count = 0.0
    for line in metrics.splitlines():
        if line.startswith("trunkline_authorize_duration_seconds_sum "):
            server_sum = float(line.split()[1])
        elif line.startswith("trunkline_authorize_duration_seconds_count "):
            server_count = float(line.split()[1])
    print(f"server-side mean (from /metrics): {1000 * server_sum / max(server_count, 1):.3f} ms")
    return latencies, elapsed, allowed, codes


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--rates", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20_000, help="stop after this many requests")
    parser.add_argument("--seconds", type=float, default=30.0, help="stop after this long")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--call-ids", action="store_true", help="send a call id (reserve a channel) per request")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(machine({"load": load_average()}))
    with tempfile.TemporaryDirectory(prefix="trunkline-bench-sidecar-") as folder:
        db_url = f"sqlite:///{Path(folder) / 'switch.db'}"
        engine = open_database(db_url)
        began = time.perf_counter()
        text = manifests(args.customers, args.rates, random.Random(args.seed))
        apply(engine, resources.load_text(text), info=RevisionInfo("bench", "bench"))
        engine.dispose()
        print(f"applied {args.customers} customers, {args.rates} rates in {time.perf_counter() - began:.1f} s")
        process, url = start_sidecar(db_url, Path(folder) / "sidecar.log")
        try:
            latencies, elapsed, allowed, codes = asyncio.run(load(url, args, args.customers))
        finally:
            process.terminate()
            process.wait(30)
    done = len(latencies)
    print(f"requests: {done} in {elapsed:.2f} s, concurrency {args.concurrency}; HTTP {codes}; allowed {allowed}")
    print(f"throughput: {done / elapsed:,.0f} authorizations/s")
    print(
        f"latency (client, round trip): p50 {1000 * percentile(latencies, 50):.2f} ms, "
        f"p99 {1000 * percentile(latencies, 99):.2f} ms, max {1000 * max(latencies):.2f} ms"
    )


if __name__ == "__main__":
    main()
