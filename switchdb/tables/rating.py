"""Operational tables of the rating sidecar: balances, ledger, payments, CDRs, usage, stats.

Apply never writes these. History (ledger, payments, CDRs, stats) keeps ``customer_id``
without a foreign key: money records must outlive a deleted customer, and ids are never reused,
so an old row can never be attributed to a new customer. ``stats_minute.customer_id`` 0 counts
calls that matched no customer. Enumerations the sidecars write are CHECKed, because several
sidecars write the same rows. Amounts are ``Money``; arithmetic on them happens in Python.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from switchdb.tables.base import id_column, metadata
from switchdb.types import Json, Money, UtcDateTime

ENTRY_TYPES = ("call", "payment", "tax", "package", "adjustment", "recalc")
PAYMENT_STATUSES = ("Completed", "Pending", "Cancelled")
CDR_STATUSES = ("Rated", "Rejected", "Unrated")


def _counter(name: str) -> Column[int]:
    # A server default too, so an upsert written in plain SQL can name only what it counts.
    return Column(name, Integer(), nullable=False, default=0, server_default=text("0"))


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


balances = Table(
    "balances",
    metadata,
    Column("customer_id", Integer(), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("amount", Money(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

ledger = Table(
    "ledger",
    metadata,
    id_column(big=True),
    Column("customer_id", Integer(), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("entry_type", String(16), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reference", Text()),  # a call id, payment id, package period...
    Column("description", Text()),
    Column("balance_after", Money(), nullable=False),
    Index(None, "customer_id", "at"),
    _one_of("entry_type", ENTRY_TYPES),
)

payments = Table(
    "payments",
    metadata,
    id_column(),
    Column("customer_id", Integer(), nullable=False, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("description", Text()),
    Column("amount", Money(), nullable=False),
    Column("tax", Money(), nullable=False),
    Column("status", String(16), nullable=False),
    _one_of("status", PAYMENT_STATUSES),
)

# Column names follow the CDR exchange format (``end`` is quoted by SQLAlchemy; quote it in
# hand-written SQL). Rating fields are NULL until a CDR is rated.
cdrs = Table(
    "cdrs",
    metadata,
    id_column(big=True),
    Column("call_id", Text(), nullable=False, unique=True),  # SIP Call-IDs have no length limit
    Column("start", UtcDateTime(), nullable=False),
    Column("answer", UtcDateTime()),
    Column("end", UtcDateTime(), nullable=False),
    Column("source_ip", String(64)),
    Column("source_port", Integer()),
    Column("username", Text()),
    Column("cli", Text(), nullable=False),
    Column("pai", Text()),
    Column("dialed", Text(), nullable=False),
    Column("sip_code", Integer(), nullable=False),
    Column("pdd_ms", Integer()),
    Column("customer_id", Integer()),
    Column("route_id", Integer()),
    Column("rate_card_id", Integer()),
    Column("prefix", String(20)),
    Column("per_minute", Money()),
    _counter("billed_seconds"),
    _counter("package_seconds"),
    Column("connect_fee", Money()),
    Column("cost", Money()),
    Column("currency", String(3)),
    Column("status", String(16), nullable=False),
    Column("reason", Text()),
    Column("rated_at", UtcDateTime()),
    Index(None, "customer_id", "start"),
    _one_of("status", CDR_STATUSES),
)

package_usage = Table(
    "package_usage",
    metadata,
    id_column(),
    Column("package_id", Integer(), ForeignKey("packages.id", ondelete="CASCADE"), nullable=False),
    Column("period_start", Date(), nullable=False),
    _counter("seconds_used"),
    UniqueConstraint("package_id", "period_start"),  # also the index on package_id
)

_COUNTERS = (
    "attempts",
    "answered",
    "busy",
    "no_answer",
    "rejected",
    "answered_seconds",
    "pdd_sum_ms",
    "pdd_count",
    "peak_cps",
    "peak_channels",
)

stats_minute = Table(
    "stats_minute",
    metadata,
    Column("customer_id", Integer(), nullable=False),
    Column("minute", UtcDateTime(), nullable=False),
    *(_counter(name) for name in _COUNTERS),
    Column("sip_codes", Json(), nullable=False, default=dict, server_default=text("'{}'")),  # {"200": 41, "486": 3}
    PrimaryKeyConstraint("customer_id", "minute"),
)

DELIVERY_CHANNELS = ("email", "webhook", "phone")
DELIVERY_OUTCOMES = ("Sent", "Failed", "Unsupported")

# One row per delivery attempt of an alert notification (retries are separate rows). No foreign
# key: the record of who was told what outlives the alert and the customer.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    id_column(big=True),
    Column("alert_id", Integer(), nullable=False),
    Column("customer_id", Integer(), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("event", String(16), nullable=False),  # Fired | Repeat
    Column("channel", String(16), nullable=False),
    Column("recipient", Text(), nullable=False),
    Column("attempt", Integer(), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error", Text()),
    Index(None, "alert_id", "at"),
    _one_of("channel", DELIVERY_CHANNELS),
    _one_of("outcome", DELIVERY_OUTCOMES),
)

# A penalty in force: the alert set the customer Inactive and remembers the status to restore.
# Keyed by alert (one penalty per alert); no foreign keys, so a penalty whose alert or customer
# was deleted is still found and lifted.
alert_penalties = Table(
    "alert_penalties",
    metadata,
    Column("alert_id", Integer(), primary_key=True, autoincrement=False),
    Column("customer_id", Integer(), nullable=False, index=True),
    Column("previous_status", String(16), nullable=False),
    Column("since", UtcDateTime(), nullable=False),
    Column("until", UtcDateTime(), nullable=False),
)

PACKAGE_CHARGE_KINDS = ("period", "minimum_spend")

# The first day the package charger saw a package: no period that ended before it is charged,
# so declaring a package with a past startDate never bills months retroactively.
package_billing = Table(
    "package_billing",
    metadata,
    Column("package_id", Integer(), primary_key=True, autoincrement=False),
    Column("since", Date(), nullable=False),
)

# One row per package period charged (the cost at its start, or the minimum-spend shortfall at
# its end): the unique key makes a charge exactly-once however many chargers run. No foreign
# key, like the ledger line it explains.
package_charges = Table(
    "package_charges",
    metadata,
    id_column(big=True),
    Column("package_id", Integer(), nullable=False),
    Column("customer_id", Integer(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("period_start", Date(), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("charged_at", UtcDateTime(), nullable=False),
    UniqueConstraint("package_id", "kind", "period_start"),
    _one_of("kind", PACKAGE_CHARGE_KINDS),
)
