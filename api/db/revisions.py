"""Is a database's schema at the newest revision? Answered without loading Alembic.

Every command that opens a database first makes sure its schema is current
(:func:`api.db.engine.init_db`). Loading Alembic and its migration scripts to learn that
nothing needs doing costs more than many commands' own work, so the common case is decided
here: the newest revision is read from the scripts' ``revision = ...`` and
``down_revision = ...`` lines (the one revision no other revises), the database's from its
``alembic_version`` table. Anything out of the ordinary (no scripts found, a line not in that
form, several heads, a database at another revision or at several) answers "not known to be
at head", and the caller lets Alembic decide (:mod:`api.db.migrate`).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import sqlalchemy as sa

__all__ = ["at_head", "script_head"]

VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"

_REVISION = re.compile(r"^revision(?:\s*:\s*str)?\s*=\s*([\"'])([^\"']+)\1\s*$", re.M)
_DOWN = re.compile(r"^down_revision\b[^=\n]*=\s*(.+?)\s*$", re.M)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")


@functools.cache
def script_head(versions: Path = VERSIONS_DIR) -> str | None:
    """The newest revision of the migration scripts in ``versions``, or None when they do not
    say it plainly (then ask Alembic: :func:`api.db.migrate.head_revision`)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        if path.name == "__init__.py":
            continue
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(text), _DOWN.findall(text)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0][1])
        if down[0] != "None":
            named = _QUOTED.findall(down[0])
            if not named:
                return None
            revised.update(named)
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 and revised <= revisions else None


def at_head(conn: sa.Connection) -> bool:
    """True when the database of ``conn`` is known to be at the scripts' newest revision."""
    head = script_head()
    if head is None or not sa.inspect(conn).has_table("alembic_version"):
        return False
    stored = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    return stored == [head]
