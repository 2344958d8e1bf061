"""Errors of the switch database layer.

Tree::

    TrunklineError (resources.errors)
    └── DatabaseError   the database cannot be reached, opened or upgraded

Foreign exceptions (SQLAlchemy, the DB driver, Alembic) are translated once, in
``switchdb.engine``, and chained with ``from`` so the cause stays in the traceback while the
user sees one sentence with the password redacted.
"""

from __future__ import annotations

from resources.errors import TrunklineError


class DatabaseError(TrunklineError):
    """``cannot connect to database <url>: <reason>`` and its siblings (open, upgrade)."""
