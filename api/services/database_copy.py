"""Copy every table of the schema from one database to another, empty one.

Used by ``wangge db copy`` and by :func:`api.services.backup.restore` (a backup is a
SpatiaLite file copied into the target).
"""

from __future__ import annotations

import sqlalchemy as sa

from api.core.errors import Conflict
from api.db.engine import open_database
from api.db.migrate import SEEDED_TABLES
from api.db.models import Base

__all__ = ["TargetNotEmptyError", "copy_database"]


class TargetNotEmptyError(Conflict, ValueError):
    """A ``db copy`` or a restore refuses a target that already holds tables or rows."""


def copy_database(source_url: str, target_url: str, *, batch: int = 2000) -> dict[str, int]:
    """Copy every table of the schema from ``source_url`` to ``target_url``; return row counts.

    The target is created and migrated when missing and must hold no rows, except in the
    code tables the migrations fill (:data:`api.db.migrate.SEEDED_TABLES`), which take the
    source's rows. Tables go in
    dependency order (parents first) in one transaction on the target; geometry is copied as
    EWKB (SRID kept); the append-only audit and change logs are copied too (inserts only).
    On PostgreSQL the id sequences are then set past the largest id.
    """

    source_engine = open_database(source_url)
    target_engine = open_database(target_url)
    tables = Base.metadata.sorted_tables
    counts: dict[str, int] = {}
    try:
        with target_engine.begin() as dst:
            busy = [
                t.name
                for t in tables
                if t.name not in SEEDED_TABLES
                and dst.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            ]
            if busy:
                raise TargetNotEmptyError(
                    f"目标数据库非空 / target database is not empty: {', '.join(busy)} hold rows;"
                    " copy into a new, empty database"
                )
            # tables the migrations fill (code tables) take the source's rows instead
            for table in reversed(tables):
                if table.name in SEEDED_TABLES:
                    dst.execute(sa.delete(table))
            with source_engine.connect() as src:
                for table in tables:
                    pk = list(table.primary_key.columns)
                    result = src.execution_options(yield_per=batch).execute(
                        sa.select(table).order_by(*pk)
                    )
                    n = 0
                    for chunk in result.partitions(batch):
                        dst.execute(sa.insert(table), [dict(row._mapping) for row in chunk])
                        n += len(chunk)
                    counts[table.name] = n
            if dst.dialect.name == "postgresql":
                for table in tables:
                    if "id" in table.c and table.c.id.primary_key:
                        dst.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # nosec B608  # table names come from the ORM metadata, not from input
                            f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                        )
    finally:
        source_engine.dispose()
        target_engine.dispose()
    return counts
