"""The sidecar's Prometheus metrics: counters, gauges and one histogram kept in memory, rendered by hand.

``Metrics.render`` writes the text exposition format 0.0.4 (``GET /metrics``): authorizations by
customer and result, CDRs by customer and rating status, malformed CDR lines by source, the
authorize latency histogram, active channels per customer, balances and the revision served.
"""

from __future__ import annotations

import threading
from bisect import bisect_left

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


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
