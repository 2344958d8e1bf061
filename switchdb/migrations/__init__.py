"""Alembic migrations of the switch database (run through ``switchdb.engine.upgrade``)."""
