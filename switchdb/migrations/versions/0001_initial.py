"""Initial schema: declared kinds, ownership and history, rating, Kamailio views.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written out in full (not ``metadata.create_all``) so this revision never changes when the
tables do; a test proves head matches ``switchdb.tables.metadata``. Types are frozen here too:
Money is NUMERIC on PostgreSQL and TEXT on SQLite, exactly as ``switchdb.types`` maps it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(20, 8).with_variant(sa.Text(), "sqlite")
PERCENT = sa.Numeric(11, 8).with_variant(sa.Text(), "sqlite")
UTC_DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Kamailio 5.6 checks these versions before reading the tables (permissions: address 6,
# auth_db: subscriber 7).
KAMAILIO_TABLE_VERSIONS = {"address": 6, "subscriber": 7}


def _address_view(dialect: str) -> str:
    # permissions module layout: id, grp, ip_addr, mask, port, tag. grp is the customer id and
    # tag the customer's namespace/name. Only Ingress rows: Egress rows are peers we send to,
    # and only they may hold a hostname.
    create = "CREATE OR REPLACE VIEW" if dialect == "postgresql" else "CREATE VIEW"
    tag = "c.namespace || '/' || c.name"
    if dialect == "postgresql":
        tag = f"CAST({tag} AS VARCHAR(127))"
    return f"""
        {create} address AS
        SELECT a.id AS id,
               a.customer_id AS grp,
               a.ip_addr AS ip_addr,
               a.mask AS mask,
               COALESCE(a.port, 0) AS port,
               {tag} AS tag
        FROM ip_authentications AS a
        JOIN customers AS c ON c.id = a.customer_id
        WHERE a.direction = 'Ingress' AND a.ip_addr IS NOT NULL
    """


def _subscriber_view(dialect: str) -> str:
    # auth_db layout: id, username, domain, password, ha1, ha1b. The clear password is never
    # stored: Kamailio must run with calculate_ha1 0 (its default) and read ha1/ha1b.
    create = "CREATE OR REPLACE VIEW" if dialect == "postgresql" else "CREATE VIEW"
    password = "CAST('' AS VARCHAR(64))" if dialect == "postgresql" else "''"
    return f"""
        {create} subscriber AS
        SELECT s.id AS id,
               s.username AS username,
               s.realm AS domain,
               {password} AS password,
               s.ha1 AS ha1,
               s.ha1b AS ha1b
        FROM credential_authentications AS s
    """


def upgrade() -> None:
    op.create_table('version',
        sa.Column('table_name', sa.String(length=32), nullable=False),
        sa.Column('table_version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('table_name', name='pk_version')
    )
    op.create_table('trunkline_revisions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('created_at', UTC_DATETIME, nullable=False),
        sa.Column('actor', sa.String(length=255), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('commit_sha', sa.String(length=40), nullable=True),
        sa.Column('commit_author', sa.Text(), nullable=True),
        sa.Column('commit_subject', sa.Text(), nullable=True),
        sa.Column('summary', JSON, nullable=False),
        sa.Column('changes', JSON, nullable=True),
        sa.Column('desired', sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_trunkline_revisions'),
        sqlite_autoincrement=True
    )
    op.create_table('trunkline_objects',
        sa.Column('kind', sa.String(length=63), nullable=False),
        sa.Column('namespace', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('row_id', sa.Integer(), nullable=False),
        sa.Column('spec_hash', sa.String(length=64), nullable=False),
        sa.Column('generation', sa.Integer(), nullable=False),
        sa.Column('revision_id', sa.Integer(), nullable=False),
        sa.Column('applied_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['revision_id'], ['trunkline_revisions.id'], name='fk_trunkline_objects_revision_id_trunkline_revisions'),
        sa.PrimaryKeyConstraint('kind', 'namespace', 'name', name='pk_trunkline_objects'),
        sa.UniqueConstraint('kind', 'row_id', name='uq_trunkline_objects_kind_row_id')
    )
    op.create_index('ix_trunkline_objects_revision_id', 'trunkline_objects', ['revision_id'])
    op.create_table('customers',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('namespace', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('labels', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('annotations', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('display_name', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('debit_limit', MONEY, nullable=False),
        sa.Column('minimum_payment', MONEY, nullable=False),
        sa.Column('tax_percent', PERCENT, nullable=False),
        sa.Column('portal_access', sa.Boolean(), nullable=False),
        sa.Column('paypal_email', sa.Text(), nullable=True),
        sa.Column('website', sa.Text(), nullable=True),
        sa.Column('address_street', sa.Text(), nullable=True),
        sa.Column('address_city', sa.Text(), nullable=True),
        sa.Column('address_region', sa.Text(), nullable=True),
        sa.Column('address_postal_code', sa.Text(), nullable=True),
        sa.Column('address_country', sa.String(length=2), nullable=True),
        sa.Column('channels', sa.Integer(), nullable=False),
        sa.Column('flow_speed', sa.Integer(), nullable=False),
        sa.Column('daily_spend_limit', MONEY, nullable=True),
        sa.Column('tags', JSON, nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_customers'),
        sa.UniqueConstraint('namespace', 'name', name='uq_customers_namespace_name'),
        sqlite_autoincrement=True
    )
    op.create_table('customer_contacts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('email', sa.Text(), nullable=False),
        sa.Column('portal_login', sa.Boolean(), nullable=False),
        sa.Column('auto_generate_password', sa.Boolean(), nullable=False),
        sa.Column('password_ref', JSON, nullable=True),
        sa.Column('password_hash', sa.String(length=255), nullable=True),
        sa.Column('public_notes', sa.Text(), nullable=True),
        sa.Column('private_notes', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_customer_contacts_customer_id_customers', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_customer_contacts')
    )
    op.create_index('ix_customer_contacts_customer_id', 'customer_contacts', ['customer_id'])
    op.create_table('customer_cli_rules',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('cli', sa.Text(), nullable=False),
        sa.Column('p_asserted_id', sa.Text(), nullable=True),
        sa.Column('rewrite_cli', sa.String(length=15), nullable=True),
        sa.Column('rewrite_p_asserted_id', sa.String(length=15), nullable=True),
        sa.Column('forced', sa.Boolean(), nullable=False),
        sa.Column('dialed_number_match', sa.Text(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_customer_cli_rules_customer_id_customers', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_customer_cli_rules')
    )
    op.create_index('ix_customer_cli_rules_customer_id', 'customer_cli_rules', ['customer_id'])
    op.create_table('rate_cards',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('namespace', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('labels', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('annotations', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('precision', sa.Integer(), nullable=False),
        sa.Column('rounding', sa.String(length=16), nullable=False),
        sa.Column('defaults_connect_fee', MONEY, nullable=False),
        sa.Column('defaults_minimum_seconds', sa.Integer(), nullable=False),
        sa.Column('defaults_initial_increment', sa.Integer(), nullable=False),
        sa.Column('defaults_subsequent_increment', sa.Integer(), nullable=False),
        sa.Column('rates_from_csv', sa.Text(), nullable=True),
        sa.Column('rates_from_config_map_ref', JSON, nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_rate_cards'),
        sa.UniqueConstraint('namespace', 'name', name='uq_rate_cards_namespace_name'),
        sqlite_autoincrement=True
    )
    op.create_table('rates',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('rate_card_id', sa.Integer(), nullable=False),
        sa.Column('prefix', sa.String(length=20), nullable=False),
        sa.Column('name', sa.Text(), nullable=True),
        sa.Column('per_minute', MONEY, nullable=False),
        sa.Column('connect_fee', MONEY, nullable=True),
        sa.Column('minimum_seconds', sa.Integer(), nullable=True),
        sa.Column('initial_increment', sa.Integer(), nullable=True),
        sa.Column('subsequent_increment', sa.Integer(), nullable=True),
        sa.Column('effective_from', UTC_DATETIME, nullable=True),
        sa.Column('blocked', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['rate_card_id'], ['rate_cards.id'], name='fk_rates_rate_card_id_rate_cards', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_rates')
    )
    op.create_index('ix_rates_rate_card_id_prefix', 'rates', ['rate_card_id', 'prefix'])
    op.create_table('ingress_routes',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('namespace', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('labels', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('annotations', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('rate_card_id', sa.Integer(), nullable=False),
        sa.Column('tech_prefix', sa.String(length=10), nullable=True),
        sa.Column('dial_strings', JSON, nullable=False),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('recording', sa.String(length=16), nullable=False),
        sa.Column('sampling_percent', PERCENT, nullable=True),
        sa.Column('channels', sa.Integer(), nullable=False),
        sa.Column('flow_speed', sa.Integer(), nullable=False),
        sa.Column('max_duration', sa.Integer(), nullable=True),
        sa.Column('over_limit_sip_code', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_ingress_routes_customer_id_customers', ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['rate_card_id'], ['rate_cards.id'], name='fk_ingress_routes_rate_card_id_rate_cards', ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name='pk_ingress_routes'),
        sa.UniqueConstraint('namespace', 'name', name='uq_ingress_routes_namespace_name'),
        sqlite_autoincrement=True
    )
    op.create_index('ix_ingress_routes_customer_id', 'ingress_routes', ['customer_id'])
    op.create_index('ix_ingress_routes_rate_card_id', 'ingress_routes', ['rate_card_id'])
    op.create_table('ip_authentications',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('namespace', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('labels', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('annotations', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=253), nullable=False),
        sa.Column('channels', sa.Integer(), nullable=False),
        sa.Column('flow_speed', sa.Integer(), nullable=False),
        sa.Column('codecs', JSON, nullable=False),
        sa.Column('switch_manufacturer', sa.Text(), nullable=True),
        sa.Column('switch_version', sa.Text(), nullable=True),
        sa.Column('protocol', sa.String(length=16), nullable=False),
        sa.Column('port', sa.Integer(), nullable=False),
        sa.Column('dial_pattern', sa.Text(), nullable=True),
        sa.Column('cli_prefix', sa.String(length=20), nullable=True),
        sa.Column('tech_prefix', sa.String(length=10), nullable=True),
        sa.Column('strip_digits', sa.Integer(), nullable=False),
        sa.Column('bandwidth', sa.Integer(), nullable=True),
        sa.Column('force_from', sa.Text(), nullable=True),
        sa.Column('direction', sa.String(length=16), nullable=False),
        sa.Column('credentials_username', sa.String(length=64), nullable=True),
        sa.Column('credentials_password_ref', JSON, nullable=True),
        sa.Column('ip_addr', sa.String(length=253), nullable=True),
        sa.Column('mask', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_ip_authentications_customer_id_customers', ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name='pk_ip_authentications'),
        sa.UniqueConstraint('namespace', 'name', name='uq_ip_authentications_namespace_name'),
        sqlite_autoincrement=True
    )
    op.create_index('ix_ip_authentications_customer_id', 'ip_authentications', ['customer_id'])
    op.create_index('ix_ip_authentications_ip_addr', 'ip_authentications', ['ip_addr'])
    op.create_table('credential_authentications',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('namespace', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('labels', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('annotations', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('realm', sa.String(length=253), nullable=False),
        sa.Column('password_ref', JSON, nullable=False),
        sa.Column('channels', sa.Integer(), nullable=False),
        sa.Column('flow_speed', sa.Integer(), nullable=False),
        sa.Column('codecs', JSON, nullable=False),
        sa.Column('ip_allow_list', JSON, nullable=False),
        sa.Column('ha1', sa.String(length=64), nullable=False),
        sa.Column('ha1b', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_credential_authentications_customer_id_customers', ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name='pk_credential_authentications'),
        sa.UniqueConstraint('namespace', 'name', name='uq_credential_authentications_namespace_name'),
        sa.UniqueConstraint('username', 'realm', name='uq_credential_authentications_username_realm'),
        sqlite_autoincrement=True
    )
    op.create_index('ix_credential_authentications_customer_id', 'credential_authentications', ['customer_id'])
    op.create_table('dids',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('namespace', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('labels', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('annotations', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('number', sa.String(length=15), nullable=False),
        sa.Column('destination_uri', sa.Text(), nullable=True),
        sa.Column('destination_external', sa.String(length=15), nullable=True),
        sa.Column('destination_user', sa.Text(), nullable=True),
        sa.Column('provider_name', sa.Text(), nullable=False),
        sa.Column('provider_card_id', sa.Integer(), nullable=True),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('customer_card_id', sa.Integer(), nullable=True),
        sa.Column('cost', MONEY, nullable=False),
        sa.Column('retail', MONEY, nullable=False),
        sa.Column('setup_cost', MONEY, nullable=True),
        sa.Column('setup_retail', MONEY, nullable=True),
        sa.Column('channels', sa.Integer(), nullable=True),
        sa.Column('flow_speed', sa.Integer(), nullable=True),
        sa.Column('recording', sa.Boolean(), nullable=True),
        sa.Column('max_duration', sa.Integer(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['customer_card_id'], ['rate_cards.id'], name='fk_dids_customer_card_id_rate_cards', ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_dids_customer_id_customers', ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['provider_card_id'], ['rate_cards.id'], name='fk_dids_provider_card_id_rate_cards', ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name='pk_dids'),
        sa.UniqueConstraint('namespace', 'name', name='uq_dids_namespace_name'),
        sa.UniqueConstraint('number', name='uq_dids_number'),
        sqlite_autoincrement=True
    )
    op.create_index('ix_dids_customer_card_id', 'dids', ['customer_card_id'])
    op.create_index('ix_dids_customer_id', 'dids', ['customer_id'])
    op.create_index('ix_dids_provider_card_id', 'dids', ['provider_card_id'])
    op.create_table('packages',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('namespace', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('labels', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('annotations', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('spec_name', sa.Text(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('auto_decrement_credit', sa.Boolean(), nullable=False),
        sa.Column('cost', MONEY, nullable=False),
        sa.Column('frequency', sa.String(length=16), nullable=False),
        sa.Column('start_date', sa.Date(), nullable=True),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('allowance_minutes', sa.Integer(), nullable=True),
        sa.Column('allowance_prefixes', JSON, nullable=True),
        sa.Column('minimum_spend', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_packages_customer_id_customers', ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name='pk_packages'),
        sa.UniqueConstraint('namespace', 'name', name='uq_packages_namespace_name'),
        sqlite_autoincrement=True
    )
    op.create_index('ix_packages_customer_id', 'packages', ['customer_id'])
    op.create_table('alerts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('namespace', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('labels', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('annotations', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('spec_name', sa.Text(), nullable=False),
        sa.Column('recipients', JSON, nullable=False),
        sa.Column('area', sa.String(length=16), nullable=False),
        sa.Column('operator', sa.String(length=16), nullable=False),
        sa.Column('threshold', MONEY, nullable=False),
        sa.Column('reset_threshold', MONEY, nullable=True),
        sa.Column('sample_period', sa.Text(), nullable=True),
        sa.Column('repeat', sa.Text(), nullable=True),
        sa.Column('penalty', sa.Text(), nullable=True),
        sa.Column('state', sa.String(length=16), server_default=sa.text("'Ready'"), nullable=False),
        sa.Column('last_value', MONEY, nullable=True),
        sa.Column('fired_at', UTC_DATETIME, nullable=True),
        sa.Column('last_sent_at', UTC_DATETIME, nullable=True),
        sa.Column('paused_until', UTC_DATETIME, nullable=True),
        sa.CheckConstraint("state IN ('Ready', 'Sent', 'Paused')", name='ck_alerts_state'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_alerts_customer_id_customers', ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name='pk_alerts'),
        sa.UniqueConstraint('namespace', 'name', name='uq_alerts_namespace_name'),
        sqlite_autoincrement=True
    )
    op.create_index('ix_alerts_customer_id', 'alerts', ['customer_id'])
    op.create_table('balances',
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('amount', MONEY, nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('updated_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_balances_customer_id_customers', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('customer_id', name='pk_balances')
    )
    op.create_table('ledger',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('at', UTC_DATETIME, nullable=False),
        sa.Column('entry_type', sa.String(length=16), nullable=False),
        sa.Column('amount', MONEY, nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('reference', sa.Text(), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('balance_after', MONEY, nullable=False),
        sa.CheckConstraint("entry_type IN ('call', 'payment', 'tax', 'package', 'adjustment', 'recalc')", name='ck_ledger_entry_type'),
        sa.PrimaryKeyConstraint('id', name='pk_ledger')
    )
    op.create_index('ix_ledger_customer_id_at', 'ledger', ['customer_id', 'at'])
    op.create_table('payments',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('created_at', UTC_DATETIME, nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('amount', MONEY, nullable=False),
        sa.Column('tax', MONEY, nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.CheckConstraint("status IN ('Completed', 'Pending', 'Cancelled')", name='ck_payments_status'),
        sa.PrimaryKeyConstraint('id', name='pk_payments')
    )
    op.create_index('ix_payments_customer_id', 'payments', ['customer_id'])
    op.create_table('cdrs',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('call_id', sa.Text(), nullable=False),
        sa.Column('start', UTC_DATETIME, nullable=False),
        sa.Column('answer', UTC_DATETIME, nullable=True),
        sa.Column('end', UTC_DATETIME, nullable=False),
        sa.Column('source_ip', sa.String(length=64), nullable=True),
        sa.Column('source_port', sa.Integer(), nullable=True),
        sa.Column('username', sa.Text(), nullable=True),
        sa.Column('cli', sa.Text(), nullable=False),
        sa.Column('pai', sa.Text(), nullable=True),
        sa.Column('dialed', sa.Text(), nullable=False),
        sa.Column('sip_code', sa.Integer(), nullable=False),
        sa.Column('pdd_ms', sa.Integer(), nullable=True),
        sa.Column('customer_id', sa.Integer(), nullable=True),
        sa.Column('route_id', sa.Integer(), nullable=True),
        sa.Column('rate_card_id', sa.Integer(), nullable=True),
        sa.Column('prefix', sa.String(length=20), nullable=True),
        sa.Column('per_minute', MONEY, nullable=True),
        sa.Column('billed_seconds', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('package_seconds', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('connect_fee', MONEY, nullable=True),
        sa.Column('cost', MONEY, nullable=True),
        sa.Column('currency', sa.String(length=3), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('rated_at', UTC_DATETIME, nullable=True),
        sa.CheckConstraint("status IN ('Rated', 'Rejected', 'Unrated')", name='ck_cdrs_status'),
        sa.PrimaryKeyConstraint('id', name='pk_cdrs'),
        sa.UniqueConstraint('call_id', name='uq_cdrs_call_id')
    )
    op.create_index('ix_cdrs_customer_id_start', 'cdrs', ['customer_id', 'start'])
    op.create_table('package_usage',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('package_id', sa.Integer(), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('seconds_used', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.ForeignKeyConstraint(['package_id'], ['packages.id'], name='fk_package_usage_package_id_packages', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_package_usage'),
        sa.UniqueConstraint('package_id', 'period_start', name='uq_package_usage_package_id_period_start')
    )
    op.create_table('stats_minute',
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('minute', UTC_DATETIME, nullable=False),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('answered', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('busy', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('no_answer', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('rejected', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('answered_seconds', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('pdd_sum_ms', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('pdd_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('peak_cps', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('peak_channels', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('sip_codes', JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.PrimaryKeyConstraint('customer_id', 'minute', name='pk_stats_minute')
    )

    dialect = op.get_bind().dialect.name
    op.execute(_address_view(dialect))
    op.execute(_subscriber_view(dialect))
    version = sa.table("version", sa.column("table_name", sa.String), sa.column("table_version", sa.Integer))
    op.bulk_insert(
        version,
        [{"table_name": name, "table_version": v} for name, v in KAMAILIO_TABLE_VERSIONS.items()],
    )


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS subscriber")
    op.execute("DROP VIEW IF EXISTS address")
    op.drop_table('stats_minute')
    op.drop_table('package_usage')
    op.drop_table('cdrs')
    op.drop_table('payments')
    op.drop_table('ledger')
    op.drop_table('balances')
    op.drop_table('alerts')
    op.drop_table('packages')
    op.drop_table('dids')
    op.drop_table('credential_authentications')
    op.drop_table('ip_authentications')
    op.drop_table('ingress_routes')
    op.drop_table('rates')
    op.drop_table('rate_cards')
    op.drop_table('customer_cli_rules')
    op.drop_table('customer_contacts')
    op.drop_table('customers')
    op.drop_table('trunkline_objects')
    op.drop_table('trunkline_revisions')
    op.drop_table('version')
