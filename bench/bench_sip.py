"""SIP calls per second through Kamailio + the rating sidecar, on loopback, with sipp.

Sets up what tests/kamailio does (and reuses its helpers): ``trunkline apply`` of examples/ into a
throwaway SQLite database with Acme's channel and CPS limits lifted (0 = unlimited on the
customer, its IP authentication and its standard route), ``trunkline sidecar``, a sipp UAS that
answers every call, and ``examples/kamailio/kamailio.cfg`` with ``WITH_SIDECAR``. Then, for each
rate, one sipp UAC from 127.0.0.2:5060 (Acme's IP authentication) places ``--seconds`` * rate
short calls (INVITE → 200 → ACK → ``--hold-ms`` → BYE); every call is authorized
(``POST /v1/authorize``, from Kamailio's async workers) and rated (``POST /v1/cdrs`` at its end,
batched by Kamailio's CDR timer) by the sidecar. Kamailio gets ``--shm-mb`` of shared memory
(the tests' 32 MB runs out near 200 CPS).

Per rate it reports calls attempted / completed / failed (sipp's ``-trace_stat``), the share of
attempted calls answered within 50 ms of the INVITE (sipp ``-trace_rtt``: INVITE → 200 OK, which
includes the authorization, Kamailio's relay and the UAS's answer, so it is an upper bound on the
authorization time), and the share of authorizations the sidecar answered within 50 ms (its
``/metrics`` histogram, bucket ``le=0.05``, the difference over the run). The verdict is the
highest rate at which ≥ 99.9 % of the attempted calls were answered within 50 ms.

Two more figures say why a call was late: the sidecar's event loop stalls (its
``trunkline_event_loop_lag_seconds``: 10 ms timers that ran more than 50 ms late, during which
every authorization waited in its socket without showing in the handler histogram), and the CPU
of every other process on the machine during the rate (a neighbour's burst on 2 cores delays
Kamailio, sipp and the sidecar alike), with the children they reaped meanwhile (a test run's
subprocesses); a process that started and ended within the rate with no parent left to reap it
is missed.

Everything shares the machine (two sipps, Kamailio's workers, the sidecar, SQLite): on 2 cores the
figures are what this whole stack does on one box, not any one component's ceiling.

Run: ``.venv/bin/python bench/bench_sip.py [--rates 50,100,200,400,600] [--seconds 5] [--hold-ms 200]``.
Needs kamailio (+ sqlite, utils, json modules), kamcmd and sipp (scripts/install-system-deps.sh).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import ROOT, cpu_seconds, load_average, machine, processes, table

sys.path[:0] = [str(ROOT / "tests" / "kamailio"), str(ROOT / "tests")]
from conftest import Kamailio, SippUas, SwitchDb, uac_scenario  # noqa: E402
from support.sidecar import SidecarProcess, http, metric, parse_metrics  # noqa: E402

WITHIN = 0.05  # seconds
TARGET = 0.999


def unlimited_examples(workdir: Path) -> Path:
    """examples/ with Acme's channels and flowSpeed set to 0 (unlimited) on every level."""
    manifests = workdir / "manifests"
    shutil.copytree(ROOT / "examples", manifests)
    for file, names in (
        ("customers.yaml", {"acme-voip"}),
        ("auth.yaml", {"acme-pbx"}),
        ("routes.yaml", {"acme-standard"}),
    ):
        path = manifests / file
        documents = list(yaml.safe_load_all(path.read_text()))
        for document in documents:
            if document and document["metadata"]["name"] in names:
                document["spec"].update({"channels": 0, "flowSpeed": 0})
                if file == "customers.yaml":
                    document["spec"].pop("dailySpendLimit", None)
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return manifests


def sidecar_figures(url: str) -> tuple[float, float, float]:
    """(authorizations within 50 ms, all authorizations, loop lag samples over 50 ms) from /metrics."""
    _, text = http(url, "GET", "/metrics")
    samples = parse_metrics(text)
    within = metric(samples, "trunkline_authorize_duration_seconds_bucket", le="0.05")
    lag = "trunkline_event_loop_lag_seconds"
    stalls = metric(samples, f"{lag}_count") - metric(samples, f"{lag}_bucket", le="0.05")
    return within, metric(samples, "trunkline_authorize_duration_seconds_count"), stalls


def run_rate(workdir: Path, switch: Kamailio, rate: int, calls: int, hold_ms: int) -> dict[str, float]:
    workdir.mkdir()
    (workdir / "uac.xml").write_text(uac_scenario(200, hold_ms=hold_ms, pai="15125550100"))
    command = [
        "sipp", switch.address, "-sf", "uac.xml", "-s", "12125550123",
        "-i", "127.0.0.2", "-p", "5060", "-bind_local",
        "-key", "cli", "15125550100", "-key", "from_domain", "127.0.0.2",
        "-m", str(calls), "-r", str(rate), "-l", str(max(50, rate * 2)),
        "-recv_timeout", "10000", "-timeout", f"{calls // rate + 30}s",
        "-nostdin", "-trace_stat", "-stf", "stats.csv", "-fd", "1",
        "-trace_rtt", "-rtt_freq", "1",
        # A 180 may reach the caller after the 200 (Kamailio relays the callee's replies from
        # parallel workers); a phone ignores it, sipp would abort the call: measure the switch.
        "-default_behaviors", "all,-abortunexp",
    ]  # fmt: skip
    started = time.monotonic()
    subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=calls // rate + 60)
    wall = time.monotonic() - started
    rows = list(csv.DictReader((workdir / "stats.csv").open(), delimiter=";"))
    last = {k.strip(): (v or "").strip() for k, v in rows[-1].items() if k}
    rtts: list[float] = []
    for path in workdir.glob("*_rtt.csv"):
        for row in csv.DictReader(path.open(), delimiter=";"):
            value = row.get("response_time") or row.get("response_time_ms") or ""
            if value.strip():
                rtts.append(float(value) / 1000)
    rtts.sort()
    return {
        "attempted": int(last["TotalCallCreated"]),
        "completed": int(last["SuccessfulCall(C)"]),
        "failed": int(last["FailedCall(C)"]),
        "within": sum(1 for r in rtts if r <= WITHIN),
        "p50": rtts[len(rtts) // 2] if rtts else float("nan"),
        "p99": rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))] if rtts else float("nan"),
        "wall": wall,
    }


# CPU by process group during a rate (and its 2 s of last CDRs), in % of one core. The UAC sipp
# exits before the second sample: its CPU comes from this process's reaped children. The
# sidecar's statistics process (rating.stats_worker) is a multiprocessing spawn child.
CPU_GROUPS = {
    "kamailio": ("kamailio",),
    "sidecar": ("reconciler.cli", "sidecar"),
    "sidecar stats": ("multiprocessing", "spawn_main"),
    "sipp uas": ("sipp",),
}
CPU_COLUMNS = ("kamailio", "sidecar", "sipp")


def _process_ticks() -> dict[int, tuple[str, int, int]]:
    """pid -> (command line, parent pid, CPU ticks so far with its reaped children's) of every live process."""
    # utime, stime, cutime, cstime: a test run's short-lived subprocesses count in its parent
    return {pid: (command, int(fields[1]), sum(int(f) for f in fields[11:15])) for pid, command, fields in processes()}


def _others_cpu(before: dict[int, tuple[str, int, int]], wall: float) -> float:
    """% of one core used by processes outside CPU_GROUPS (and not this one) since ``before``.

    A process that ended meanwhile is in its (living) parent's reaped-children ticks with its
    whole life: what it had used before the rate is taken off again.
    """

    def other(pid: int, command: str) -> bool:
        return pid != os.getpid() and not any(all(w in command for w in words) for words in CPU_GROUPS.values())

    after = _process_ticks()
    ticks = sum(
        now - (before[pid][2] if pid in before else 0)
        for pid, (command, _, now) in after.items()
        if other(pid, command)
    )
    for pid, (command, parent, then) in before.items():
        if pid not in after and parent in after and other(parent, after[parent][0]) and other(pid, command):
            ticks -= then
    return 100 * ticks / os.sysconf("SC_CLK_TCK") / wall


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_shares(before: dict[str, float], children_before: float, wall: float) -> dict[str, float]:
    after = cpu_seconds(CPU_GROUPS)
    spent = {name: after[name] - before[name] for name in after}
    spent["sipp"] = spent.pop("sipp uas") + _children_cpu() - children_before
    spent["sidecar"] += spent.pop("sidecar stats")
    return {name: 100 * seconds / wall for name, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="50,100,200,400,600", help="calls per second, comma-separated")
    parser.add_argument("--seconds", type=int, default=5, help="calls per rate = seconds * rate")
    parser.add_argument("--hold-ms", type=int, default=200, help="answered call length")
    parser.add_argument("--children", type=int, default=8, help="Kamailio UDP workers (TL_CHILDREN; 8 as in the cfg)")
    parser.add_argument("--authorize-workers", type=int, default=32, help="Kamailio's authorize async workers")
    parser.add_argument("--shm-mb", type=int, default=256, help="Kamailio shared memory (-m); the tests' 32 runs out")
    args = parser.parse_args()
    for program in ("kamailio", "kamcmd", "sipp"):
        if shutil.which(program) is None:
            sys.exit(f"{program} not installed (scripts/install-system-deps.sh)")
    rates = [int(r) for r in args.rates.split(",")]

    header = machine()  # with the load average at start
    workdir = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    db = SwitchDb(workdir / "switch.db")
    db.apply(unlimited_examples(workdir))
    uas = SippUas(workdir)
    sidecar = SidecarProcess(db.url, workdir / "sidecar.log")
    (workdir / "kamailio").mkdir()
    switch = Kamailio(
        workdir / "kamailio", db, uas.uri,
        {
            "WITH_SIDECAR": None, "TL_SIDECAR": f'"{sidecar.url}"', "TL_CHILDREN": str(args.children),
            "TL_AUTHORIZE_GROUP": f'"name=authorize;workers={args.authorize_workers};nonblock=0;usleep=0"',
        },
        shm_mb=args.shm_mb,
    )  # fmt: skip
    rows: list[list[object]] = []
    best: int | None = None
    best_auth: int | None = None
    try:
        for rate in rates:
            before = sidecar_figures(sidecar.url)
            cpu_before, sipp_before, started = cpu_seconds(CPU_GROUPS), _children_cpu(), time.monotonic()
            others_before = _process_ticks()
            result = run_rate(workdir / f"uac-{rate}", switch, rate, rate * args.seconds, args.hold_ms)
            time.sleep(2)  # the last CDRs
            wall = time.monotonic() - started
            shares = _cpu_shares(cpu_before, sipp_before, wall)
            others = _others_cpu(others_before, wall)
            after = sidecar_figures(sidecar.url)
            auth_within, auth_all, stalls = after[0] - before[0], after[1] - before[1], after[2] - before[2]
            share = result["within"] / result["attempted"] if result["attempted"] else 0.0
            auth_share = auth_within / auth_all if auth_all else 0.0
            if share >= TARGET:
                best = rate
            if auth_share >= TARGET and auth_all >= TARGET * result["attempted"]:
                best_auth = rate
            rows.append([
                rate, result["attempted"], result["completed"], result["failed"],
                f"{result['attempted'] / result['wall']:.0f}",
                f"{share * 100:.2f}", f"{result['p50'] * 1000:.1f}", f"{result['p99'] * 1000:.1f}",
                int(auth_all), f"{auth_share * 100:.2f}", int(stalls),
                *(f"{shares[group]:.0f}" for group in CPU_COLUMNS), f"{others:.0f}",
            ])  # fmt: skip
            print(f"rate {rate}: {result}", file=sys.stderr)
    finally:
        switch.stop()
        sidecar.stop()
        uas.stop()
    print(header)
    print(f"- load average (1/5/15 min) at end: {load_average()}")
    print(
        f"Kamailio: {args.children} UDP workers, {args.authorize_workers} authorize workers, {args.shm_mb} MB "
        "shared memory (CDRs batched); sidecar on SQLite; "
        f"{args.hold_ms} ms calls, {args.seconds} s per rate"
    )
    print(
        table(
            [
                "CPS", "attempted", "completed", "failed", "achieved CPS", "answered ≤50 ms %",
                "INVITE→200 p50 ms", "p99 ms", "authorizations", "authorized ≤50 ms % (sidecar)",
                "sidecar loop stalls >50 ms", *(f"{group} % core" for group in CPU_COLUMNS), "others % core",
            ],
            rows,
        )
    )  # fmt: skip
    verdict = f"{best} CPS" if best is not None else f"none of {args.rates}"
    print(f"highest rate with ≥ {TARGET * 100:.1f} % of calls answered within {WITHIN * 1000:.0f} ms: {verdict}")
    verdict = f"{best_auth} CPS" if best_auth is not None else f"none of {args.rates}"
    print(f"highest rate with ≥ {TARGET * 100:.1f} % of calls authorized by the sidecar within 50 ms: {verdict}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
