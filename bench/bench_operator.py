"""Operator benchmark: N custom resources applied with one `kubectl apply`, until all are Ready.

For each size in ``--sizes``, against one throwaway Kubernetes API server (etcd + the real
kube-apiserver from tests/support/kube.py, built by tests/k8s/build.sh): a fresh namespace, a
fresh SQLite database and a fresh `trunkline operator --standalone` process watching that
namespace; then one `kubectl apply -f` of N `Customer`s (a generated file), and a poll of the
Ready conditions (`kubectl get -o jsonpath`, once a second) until every object is Ready.

Printed per size: seconds for the `kubectl apply` itself, seconds from its start until all N are
Ready (the goal for 1,000 objects is under 60 s), objects/s, and the operator's resident memory
(VmRSS from /proc): idle before the apply, the peak sampled while converging, and after it settled
(``--settle`` seconds later, drift timers running). Memory per object is the slope between sizes,
and the figure for 10,000 objects is extrapolated from it when 10,000 was not run.

    python bench/bench_operator.py                         # 1000 objects
    python bench/bench_operator.py --sizes 1000,2000,5000  # and the memory slope
    python bench/bench_operator.py --sizes 10000 --timeout 1800

The drift timer re-applies every object once per ``--drift-interval`` (default 60 s, as the
chart): from a few thousand objects on, that load alone competes with convergence, so
``--drift-interval 3600`` measures convergence and memory without it.

Customers only: the operator's cost per object is the same generic handler for every kind, and
customers have no references, so the order the operator sees them in does not matter.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.kube import KubeCluster  # noqa: E402
from support.operator_process import OperatorProcess, rss_bytes, wait_until  # noqa: E402

from bench.common import machine  # noqa: E402

CRDS = ROOT / "crds"
BUILD = ROOT / "tests" / "k8s" / "build.sh"
READY = '{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'


def customers_yaml(count: int, namespace: str) -> str:
    docs = []
    for i in range(count):
        docs.append(
            "apiVersion: trunkline.dev/v1alpha1\nkind: Customer\n"
            f"metadata:\n  name: customer-{i:05d}\n  namespace: {namespace}\n  labels: {{tier: bench}}\n"
            f'spec:\n  displayName: Bench customer {i}\n  currency: USD\n  debitLimit: "{i % 500}.00"\n'
            f"  channels: {10 + i % 90}\n  flowSpeed: {1 + i % 20}\n  tags: [bench]\n"
        )
    return "---\n".join(docs)


def ready_count(cluster: KubeCluster, namespace: str) -> int:
    out = cluster.kubectl("get", "customers", "-n", namespace, "-o", f"jsonpath={READY}", timeout=120).stdout
    return sum(1 for line in out.splitlines() if line.strip() == "True")


def run_size(cluster: KubeCluster, count: int, work: Path, *, drift: float, timeout: float, settle: float) -> dict:
    namespace = f"bench-{count}-{int(time.time())}"
    cluster.kubectl("create", "namespace", namespace)
    manifest = work / f"customers-{count}.yaml"
    manifest.write_text(customers_yaml(count, namespace))
    db = f"sqlite:///{work / f'operator-{count}.db'}"
    log = work / f"operator-{count}.log"
    operator = OperatorProcess(cluster.env(), db, log, drift_interval=drift, namespaces=(namespace,))
    operator.start()
    try:
        wait_until(
            lambda: "Initial authentication has finished" in log.read_text(), timeout=60, what="the operator to start"
        )
        time.sleep(2)  # let the watches start
        assert operator.process is not None
        pid = operator.process.pid
        idle = rss_bytes(pid)
        peak = [idle]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], rss_bytes(pid))
                except OSError:
                    return
                done.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        subprocess.run(
            [str(cluster.kubectl_bin), "apply", "-f", str(manifest)],
            env=cluster.env(),
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        applied = time.perf_counter() - started
        last = 0
        while True:
            last = ready_count(cluster, namespace)
            if last >= count:
                break
            if time.perf_counter() - started > timeout or not operator.running():
                raise SystemExit(
                    f"{count}: only {last} Ready after {time.perf_counter() - started:.0f}s\n{operator.tail()}"
                )
            time.sleep(1.0)
        all_ready = time.perf_counter() - started
        time.sleep(settle)
        done.set()
        sampler.join()
        settled = rss_bytes(pid)
        return {"count": count, "apply": applied, "ready": all_ready, "idle": idle, "peak": peak[0], "settled": settled}
    finally:
        operator.stop()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000", help="comma-separated object counts (default 1000)")
    parser.add_argument("--drift-interval", type=float, default=60.0, help="the operator's drift timer (s)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per size")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after all Ready before the RSS")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    tools = Path(subprocess.run([str(BUILD)], capture_output=True, text=True, check=True).stdout.split()[-1])
    print(machine())
    mib = 1024 * 1024
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp, KubeCluster(tools) as cluster:
        cluster.kubectl("apply", "-f", str(CRDS))
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRDS), timeout=90)
        for count in sizes:
            result = run_size(
                cluster, count, Path(tmp), drift=args.drift_interval, timeout=args.timeout, settle=args.settle
            )
            results.append(result)
            print(
                f"{count:>6} objects: kubectl apply {result['apply']:6.1f} s | all Ready {result['ready']:6.1f} s "
                f"({count / result['ready']:5.1f} objects/s) | operator RSS idle {result['idle'] / mib:5.0f} MiB, "
                f"peak {result['peak'] / mib:5.0f} MiB, settled {result['settled'] / mib:5.0f} MiB",
                flush=True,
            )
    if any(r["count"] == 1000 for r in results):
        r = next(r for r in results if r["count"] == 1000)
        print(f"goal: 1000 objects Ready in < 60 s: {'met' if r['ready'] < 60 else 'NOT met'} ({r['ready']:.1f} s)")
    if len(results) >= 2:
        a, b = results[0], results[-1]
        slope = (b["settled"] - a["settled"]) / (b["count"] - a["count"])
        print(f"memory per object (settled, {a['count']}→{b['count']}): {slope / 1024:.1f} KiB")
        if not any(r["count"] == 10000 for r in results):
            estimate = b["settled"] + slope * (10000 - b["count"])
            print(f"extrapolated settled RSS with 10,000 objects: {estimate / mib:.0f} MiB (not measured)")


if __name__ == "__main__":
    main()
