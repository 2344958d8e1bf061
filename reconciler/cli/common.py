"""What several commands share: loading manifests, opening the database, naming the actor."""

from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path

from sqlalchemy import Engine

import resources
from resources.state import DesiredState
from switchdb.engine import database_url, open_database


def load_state(paths: tuple[str, ...]) -> DesiredState:
    return resources.load(paths)


def open_db(db_url: str | None) -> Engine:
    return open_database(database_url(db_url))


def actor() -> str:
    """Who is applying: $TRUNKLINE_ACTOR, else user@host (recorded on every revision)."""
    explicit = os.environ.get("TRUNKLINE_ACTOR")
    if explicit:
        return explicit
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def describe_source(paths: tuple[str, ...]) -> str:
    return ", ".join(str(Path(p).resolve()) if p != "-" else "<stdin>" for p in paths)
