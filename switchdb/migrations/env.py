"""Alembic environment: runs on the connection ``switchdb.engine.upgrade`` hands over.

At runtime no ``alembic.ini`` exists: ``upgrade`` builds the config in code and passes its
open connection (inside a transaction holding the migration lock) as
``config.attributes["connection"]``. For developers, ``alembic -c <ini>`` also works with the
URL from ``-x url=...`` or ``TRUNKLINE_DB``, e.g. to autogenerate the next revision.
"""

from __future__ import annotations

from alembic import context

from switchdb.engine import VERSION_TABLE, database_url, include_object, open_database
from switchdb.tables import metadata


def _configure_and_run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


config = context.config
connection = config.attributes.get("connection")
if connection is not None:
    _configure_and_run(connection)
elif context.is_offline_mode():
    url = context.get_x_argument(as_dictionary=True).get("url") or database_url(None)
    context.configure(
        url=url,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or database_url(None)
    engine = open_database(url, upgrade=False)
    try:
        with engine.connect() as conn:
            _configure_and_run(conn)
            conn.commit()
    finally:
        engine.dispose()
