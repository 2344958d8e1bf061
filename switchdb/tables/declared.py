"""Tables of the declared kinds: one main table per kind, child tables for lists of models.

Column names follow ``switchdb.naming`` exactly (a test walks every model to prove it). Types
are chosen so that any value the model accepts fits: ``String(n)`` where the model bounds the
length (labels, codes, E.164 digits, SIP usernames, literals), ``Text`` for free text the model
leaves unbounded (names, notes, regexes, URLs), so no valid manifest can fail on PostgreSQL
with "value too long". Columns that are not spec fields carry ``info``: ``derived`` (computed
by the engine from the spec), ``sensitive`` (never shown in a plan or log), ``operational``
(state written by the rating sidecar, never by apply).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from switchdb.tables.base import (
    DERIVED,
    DERIVED_SECRET,
    OPERATIONAL,
    id_column,
    key_columns,
    metadata,
    parent,
    reference,
)
from switchdb.types import Json, Money, Percent, UtcDateTime

CURRENCY = String(3)
E164 = String(15)
PREFIX = String(20)
TECH_PREFIX = String(10)
ENUM = String(16)  # every Literal of the model fits
SIP_USERNAME = String(64)
HOSTNAME = String(253)  # also the longest realm, IP or CIDR


def _main(kind: str, name: str, *columns: Column | UniqueConstraint | Index | CheckConstraint) -> Table:
    return Table(
        name,
        metadata,
        id_column(),
        *key_columns(),
        *columns,
        UniqueConstraint("namespace", "name"),
        # Ids are never reused (Kamailio's grp, CDRs and the ledger keep them after a delete).
        sqlite_autoincrement=True,
        info={"kind": kind},
    )


def _child(name: str, parent_table: str, parent_id: str, spec_field: str, *columns: Column | Index) -> Table:
    return Table(
        name,
        metadata,
        id_column(),
        parent(parent_id, parent_table),
        Column("position", Integer(), nullable=False),
        *columns,
        info={"parent": parent_table, "spec_field": spec_field},
    )


customers = _main(
    "Customer",
    "customers",
    Column("display_name", Text(), nullable=False),
    Column("status", ENUM, nullable=False),
    Column("currency", CURRENCY, nullable=False),
    Column("debit_limit", Money(), nullable=False),
    Column("minimum_payment", Money(), nullable=False),
    Column("tax_percent", Percent(), nullable=False),
    Column("portal_access", Boolean(), nullable=False),
    Column("paypal_email", Text()),
    Column("website", Text()),
    Column("address_street", Text()),
    Column("address_city", Text()),
    Column("address_region", Text()),
    Column("address_postal_code", Text()),
    Column("address_country", String(2)),
    Column("channels", Integer(), nullable=False),
    Column("flow_speed", Integer(), nullable=False),
    Column("daily_spend_limit", Money()),
    Column("tags", Json(), nullable=False),
)

customer_contacts = _child(
    "customer_contacts",
    "customers",
    "customer_id",
    "contacts",
    Column("name", Text(), nullable=False),
    Column("email", Text(), nullable=False),
    Column("portal_login", Boolean(), nullable=False),
    Column("auto_generate_password", Boolean(), nullable=False),
    Column("password_ref", Json()),
    # A portal password hash (bcrypt/argon2 text), derived from passwordRef or generated.
    Column("password_hash", String(255), info=DERIVED_SECRET),
    Column("public_notes", Text()),
    Column("private_notes", Text()),
)

customer_cli_rules = _child(
    "customer_cli_rules",
    "customers",
    "customer_id",
    "cliRules",
    Column("cli", Text(), nullable=False),
    Column("p_asserted_id", Text()),
    Column("rewrite_cli", E164),
    Column("rewrite_p_asserted_id", E164),
    Column("forced", Boolean(), nullable=False),
    Column("dialed_number_match", Text()),
    Column("notes", Text()),
)

rate_cards = _main(
    "RateCard",
    "rate_cards",
    Column("currency", CURRENCY, nullable=False),
    Column("description", Text()),
    Column("precision", Integer(), nullable=False),
    Column("rounding", ENUM, nullable=False),
    Column("defaults_connect_fee", Money(), nullable=False),
    Column("defaults_minimum_seconds", Integer(), nullable=False),
    Column("defaults_initial_increment", Integer(), nullable=False),
    Column("defaults_subsequent_increment", Integer(), nullable=False),
    Column("rates_from_csv", Text()),
    Column("rates_from_config_map_ref", Json()),
)

# No position (decks are keyed by prefix + effective_from) and no separate index on
# rate_card_id: the (rate_card_id, prefix) index serves both, and 100k-row decks pay per index.
rates = Table(
    "rates",
    metadata,
    id_column(big=True),
    parent("rate_card_id", "rate_cards", index=False),
    Column("prefix", PREFIX, nullable=False),
    Column("name", Text()),
    Column("per_minute", Money(), nullable=False),
    Column("connect_fee", Money()),
    Column("minimum_seconds", Integer()),
    Column("initial_increment", Integer()),
    Column("subsequent_increment", Integer()),
    Column("effective_from", UtcDateTime()),
    Column("blocked", Boolean(), nullable=False),
    Index(None, "rate_card_id", "prefix"),
    info={"parent": "rate_cards", "spec_field": "rates"},
)

ingress_routes = _main(
    "IngressRoute",
    "ingress_routes",
    reference("customer_id", "customers"),
    reference("rate_card_id", "rate_cards"),
    Column("tech_prefix", TECH_PREFIX),
    Column("dial_strings", Json(), nullable=False),
    Column("priority", Integer(), nullable=False),
    Column("recording", ENUM, nullable=False),
    Column("sampling_percent", Percent()),
    Column("channels", Integer(), nullable=False),
    Column("flow_speed", Integer(), nullable=False),
    Column("max_duration", Integer()),
    Column("over_limit_sip_code", Integer(), nullable=False),
    Column("enabled", Boolean(), nullable=False),
)

ip_authentications = _main(
    "IpAuthentication",
    "ip_authentications",
    reference("customer_id", "customers"),
    Column("address", HOSTNAME, nullable=False),
    Column("channels", Integer(), nullable=False),
    Column("flow_speed", Integer(), nullable=False),
    Column("codecs", Json(), nullable=False),
    Column("switch_manufacturer", Text()),
    Column("switch_version", Text()),
    Column("protocol", ENUM, nullable=False),
    Column("port", Integer(), nullable=False),
    Column("dial_pattern", Text()),
    Column("cli_prefix", PREFIX),
    Column("tech_prefix", TECH_PREFIX),
    Column("strip_digits", Integer(), nullable=False),
    Column("bandwidth", Integer()),
    Column("force_from", Text()),
    Column("direction", ENUM, nullable=False),
    Column("credentials_username", SIP_USERNAME),
    Column("credentials_password_ref", Json()),
    # Kamailio's address layout: the network address of `address` and its prefix length (32 or
    # 128 for one IP). An Egress hostname has no prefix length; the engine may store the
    # hostname itself, hence HOSTNAME's length. The address view shows Ingress rows only.
    Column("ip_addr", HOSTNAME, index=True, info=DERIVED),
    Column("mask", Integer(), info=DERIVED),
)

credential_authentications = _main(
    "CredentialAuthentication",
    "credential_authentications",
    reference("customer_id", "customers"),
    Column("username", SIP_USERNAME, nullable=False),
    Column("realm", HOSTNAME, nullable=False),
    Column("password_ref", Json(), nullable=False),
    Column("channels", Integer(), nullable=False),
    Column("flow_speed", Integer(), nullable=False),
    Column("codecs", Json(), nullable=False),
    Column("ip_allow_list", Json(), nullable=False),
    # SIP digest secrets as Kamailio's auth_db reads them (MD5 hex):
    # ha1 = md5(username:realm:password), ha1b = md5(username@realm:realm:password).
    Column("ha1", String(64), nullable=False, info=DERIVED_SECRET),
    Column("ha1b", String(64), nullable=False, info=DERIVED_SECRET),
    UniqueConstraint("username", "realm"),
)

dids = _main(
    "Did",
    "dids",
    Column("number", E164, nullable=False, unique=True),
    Column("destination_uri", Text()),
    Column("destination_external", E164),
    Column("destination_user", Text()),
    Column("provider_name", Text(), nullable=False),
    reference("provider_card_id", "rate_cards", nullable=True),
    reference("customer_id", "customers"),
    reference("customer_card_id", "rate_cards", nullable=True),
    Column("cost", Money(), nullable=False),
    Column("retail", Money(), nullable=False),
    Column("setup_cost", Money()),
    Column("setup_retail", Money()),
    Column("channels", Integer()),
    Column("flow_speed", Integer()),
    Column("recording", Boolean()),
    Column("max_duration", Integer()),
    Column("enabled", Boolean(), nullable=False),
)

packages = _main(
    "Package",
    "packages",
    reference("customer_id", "customers"),
    Column("spec_name", Text(), nullable=False),
    Column("quantity", Integer(), nullable=False),
    Column("auto_decrement_credit", Boolean(), nullable=False),
    Column("cost", Money(), nullable=False),
    Column("frequency", ENUM, nullable=False),
    Column("start_date", Date()),
    Column("end_date", Date()),
    Column("allowance_minutes", Integer()),
    Column("allowance_prefixes", Json()),
    Column("minimum_spend", Boolean(), nullable=False),
)

alerts = _main(
    "Alert",
    "alerts",
    reference("customer_id", "customers"),
    Column("spec_name", Text(), nullable=False),
    Column("recipients", Json(), nullable=False),
    Column("area", ENUM, nullable=False),
    Column("operator", ENUM, nullable=False),
    Column("threshold", Money(), nullable=False),
    Column("reset_threshold", Money()),
    Column("sample_period", Text()),
    Column("repeat", Text()),
    Column("penalty", Text()),
    # Written by the alerter, never by apply: Ready → Sent (firing) → Ready, or Paused.
    Column("state", ENUM, nullable=False, default="Ready", server_default=text("'Ready'"), info=OPERATIONAL),
    Column("last_value", Money(), info=OPERATIONAL),
    Column("fired_at", UtcDateTime(), info=OPERATIONAL),
    Column("last_sent_at", UtcDateTime(), info=OPERATIONAL),
    Column("paused_until", UtcDateTime(), info=OPERATIONAL),
    CheckConstraint("state IN ('Ready', 'Sent', 'Paused')", name="state"),
)
