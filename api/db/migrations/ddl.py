"""Dialect-specific DDL for migrations: geometry columns, spatial indexes, append-only triggers.

Migrations create geometry columns with ``spatial_index=False`` (GeoAlchemy2's table events
still register them: ``RecoverGeometryColumn`` on SpatiaLite, a typed ``geometry`` column on
PostGIS) and then create the spatial index explicitly, named ``idx_<table>_<column>`` on both
engines (SpatiaLite's R*Tree virtual table is called that by ``CreateSpatialIndex``).
Dropping such a table on SpatiaLite first disables the index, drops the R*Tree and discards
the geometry column (which removes SpatiaLite's own triggers).
"""

from __future__ import annotations

from alembic import op
from geoalchemy2 import Geometry

__all__ = [
    "append_only_sql",
    "create_append_only",
    "create_spatial_index",
    "drop_append_only",
    "drop_append_only_sql",
    "drop_spatial_table",
    "geometry",
    "storage_srid",
]

APPEND_ONLY_FUNCTION = "wangge_append_only"


def storage_srid() -> int:
    """The deployment's storage SRID (4326 or 4490), read when the migration runs."""
    from api.core.config import get_settings

    return int(get_settings().storage_srid)


def geometry(kind: str) -> Geometry:
    """A geometry column type in the storage SRID, without an automatic spatial index."""
    return Geometry(geometry_type=kind, srid=storage_srid(), spatial_index=False, nullable=True)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def create_spatial_index(table: str, column: str) -> None:
    """Create the spatial index ``idx_<table>_<column>`` (R*Tree / GiST)."""
    if _sqlite():
        op.execute(f"SELECT CreateSpatialIndex('{table}', '{column}')")
    else:
        op.execute(f"CREATE INDEX idx_{table}_{column} ON {table} USING gist ({column})")


def drop_spatial_table(table: str, columns: tuple[str, ...]) -> None:
    """Drop a table with geometry columns (cleaning SpatiaLite's metadata first)."""
    if _sqlite():
        for column in columns:
            op.execute(f"SELECT DisableSpatialIndex('{table}', '{column}')")
            op.execute(f"DROP TABLE IF EXISTS idx_{table}_{column}")
            op.execute(f"SELECT DiscardGeometryColumn('{table}', '{column}')")
    op.drop_table(table)


def append_only_sql(table: str, *, sqlite: bool) -> list[str]:
    """The statements making ``table`` append-only (UPDATE, DELETE, TRUNCATE raise)."""
    message = f"{table} 只可追加 / {table} is append-only"
    if sqlite:
        return [
            f"CREATE TRIGGER tr_{table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    return [
        f"CREATE OR REPLACE FUNCTION {APPEND_ONLY_FUNCTION}() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION '% 只可追加 / % is append-only', TG_TABLE_NAME, TG_TABLE_NAME "
        "USING ERRCODE = 'restrict_violation'; "
        "END $$",
        f"CREATE TRIGGER tr_{table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {APPEND_ONLY_FUNCTION}()",
        f"CREATE TRIGGER tr_{table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {APPEND_ONLY_FUNCTION}()",
    ]


def drop_append_only_sql(table: str, *, sqlite: bool, last: bool = False) -> list[str]:
    """The statements removing the append-only triggers of ``table`` (and the function)."""
    if sqlite:
        return [f"DROP TRIGGER IF EXISTS tr_{table}_no_{verb}" for verb in ("update", "delete")]
    return [
        f"DROP TRIGGER IF EXISTS tr_{table}_append_only ON {table}",
        f"DROP TRIGGER IF EXISTS tr_{table}_no_truncate ON {table}",
    ] + ([f"DROP FUNCTION IF EXISTS {APPEND_ONLY_FUNCTION}()"] if last else [])


def create_append_only(table: str) -> None:
    """Make ``table`` append-only: UPDATE and DELETE (and TRUNCATE on PostgreSQL) raise."""
    for statement in append_only_sql(table, sqlite=_sqlite()):
        op.execute(statement)


def drop_append_only(table: str, *, last: bool = False) -> None:
    """Remove the append-only triggers of ``table`` (and the function when ``last``)."""
    for statement in drop_append_only_sql(table, sqlite=_sqlite(), last=last):
        op.execute(statement)
