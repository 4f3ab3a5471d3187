"""How a command opens the database named by ``--db`` (the configured one when not given).

The database is created and migrated when it does not exist yet
(:func:`api.db.engine.open_database`).
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

__all__ = ["open_sessions", "shown_url"]


def open_sessions(db: str | None) -> tuple[Engine, sessionmaker]:
    """Open (create and migrate when new) the database ``db``; return engine and session maker.

    The caller disposes of the engine when done.
    """
    from api.db.engine import open_database, session_factory

    engine = open_database(db)
    return engine, session_factory(engine)


def shown_url(engine: Engine) -> str:
    """The database's URL as printed to the user (password hidden)."""
    return engine.url.render_as_string(hide_password=True)
