"""The switch database: tables for every declared kind, ownership and history, rating data,
and the Kamailio-compatible views, on SQLite (default) or PostgreSQL. Alembic owns the schema.

Public surface::

    from switchdb import open_database, metadata, DatabaseError
    engine = open_database()          # $TRUNKLINE_DB or sqlite:///trunkline.db, upgraded

Modules: ``engine`` (URLs, engines, upgrades), ``tables`` (the schema), ``types`` (Money,
UtcDateTime), ``naming`` (which column holds which spec field), ``errors``.
"""

from switchdb.engine import (
    DEFAULT_URL,
    current_revision,
    database_url,
    head_revision,
    open_database,
    redact_url,
    upgrade,
)
from switchdb.errors import DatabaseError
from switchdb.tables import metadata

__all__ = [
    "DEFAULT_URL",
    "DatabaseError",
    "current_revision",
    "database_url",
    "head_revision",
    "metadata",
    "open_database",
    "redact_url",
    "upgrade",
]
