"""The sidecar's Prometheus metrics: counters, gauges and histograms kept in memory, rendered by hand.

``Metrics.render`` writes the text exposition format 0.0.4 (``GET /metrics``): authorizations by
customer and result, CDRs by customer and rating status, malformed CDR lines by source, the
authorize latency histogram, the event loop's lag, active channels per customer, balances and the
revision served.

The authorize histogram times the handler only: a request that waited in the socket because the
event loop was busy elsewhere (a garbage collection, a rating thread holding the GIL) is not in
it. ``trunkline_event_loop_lag_seconds`` is that wait: how late the loop woke a timer
(``rating.sidecar`` samples it every ``LOOP_LAG_INTERVAL``).
"""

from __future__ import annotations

import threading
from bisect import bisect_left

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _Histogram:
    """Cumulative buckets, sum and count of observations (the caller holds the lock)."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.buckets = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.buckets[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def render(self, out: list[str], name: str) -> None:
        cumulative = 0
        for bound, n in zip(self.bounds, self.buckets):
            cumulative += n
            out.append(f'{name}_bucket{{le="{bound}"}} {cumulative}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{name}_sum {self.sum:.9f}")
        out.append(f"{name}_count {self.count}")


class Metrics:
    """Counters, gauges and histograms, kept in memory; thread-safe (rating runs in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.authorizations: dict[tuple[str, str], int] = {}
        self.cdrs: dict[tuple[str, str], int] = {}
        self.cdr_errors: dict[str, int] = {}
        self.customers_seen: set[str] = set()
        self._latency = _Histogram(LATENCY_BUCKETS)
        self._loop_lag = _Histogram(LAG_BUCKETS)

    def authorized(self, customer: str | None, allowed: bool, seconds: float) -> None:
        key = (customer or "", "allowed" if allowed else "rejected")
        with self._lock:
            self.authorizations[key] = self.authorizations.get(key, 0) + 1
            if customer:
                self.customers_seen.add(customer)
            self._latency.observe(seconds)

    def loop_lagged(self, seconds: float) -> None:
        with self._lock:
            self._loop_lag.observe(seconds)

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
            self._latency.render(out, "trunkline_authorize_duration_seconds")
            _family(
                out,
                "trunkline_event_loop_lag_seconds",
                "histogram",
                "How late the event loop ran a timer: what every request waited on top of its handler time.",
            )
            self._loop_lag.render(out, "trunkline_event_loop_lag_seconds")
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
