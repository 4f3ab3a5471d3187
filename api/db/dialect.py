"""Every SQL difference between SpatiaLite and PostGIS, in one place.

The point → grid rule in SQL is the rule of :mod:`gis.assign`: a grid covers a point on its
edge (``ST_Covers``), and when several grids cover a point the code that sorts first wins
(``ORDER BY code LIMIT 1``; ``COLLATE "C"`` on PostgreSQL so that the order is code-point
order, as in Python; SQLite's default BINARY collation already is). Spatial indexes prefilter
by bounding box: the R*Tree ``idx_<table>_geom`` on SpatiaLite (its float32 boxes are rounded
outwards, so the inclusive comparison never loses a point on an edge), GiST on PostGIS.

PostGIS answers ``ST_Covers(polygon, point)`` with its own point-in-polygon code rather than
GEOS; the storage tests check that it agrees with GEOS (shapely, SpatiaLite) on points on
edges and vertices and on points 1e-13 to 1e-9 degrees either side of an edge.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.models import STORAGE_SRID, Base, ChangeLog, Grid, utc_now
from gis.errors import InputError

__all__ = [
    "POSTGIS_COVERS",
    "AssignCounts",
    "Reassigned",
    "assign_codes_in_db",
    "database_versions",
    "ensure_spatial_indexes",
    "geometry_bounds",
    "grid_code_at",
    "reassign_codes_in_db",
    "spatial_indexes",
]

# ST_Covers is index-aware on PostGIS: the planner adds the GiST bounding-box test itself.
POSTGIS_COVERS = "ST_Covers({grid}.geom, {point})"

_GRIDS = Grid.__tablename__


class AssignCounts(NamedTuple):
    """Result of :func:`assign_codes_in_db`: rows given a grid code, rows outside every grid."""

    assigned: int
    outside: int


def _dialect(session: Session | sa.Connection) -> str:
    return session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name


# bounding-box corners of one geometry: PostGIS casts it to a box, SpatiaLite reads its MBR
_BOUNDS_FUNCTIONS = {
    "postgresql": ("ST_XMin", "ST_YMin", "ST_XMax", "ST_YMax"),
    "sqlite": ("MbrMinX", "MbrMinY", "MbrMaxX", "MbrMaxY"),
}


def geometry_bounds(
    session: Session, geometries: sa.Select
) -> tuple[float, float, float, float] | None:
    """``(minx, miny, maxx, maxy)`` of the geometries ``geometries`` selects (its first
    column), computed in the database; None if it selects none."""
    column = geometries.subquery().c[0]
    names = _BOUNDS_FUNCTIONS[_dialect(session)]
    corners = [getattr(sa.func, name)(column) for name in names]
    row = session.execute(
        sa.select(
            sa.func.min(corners[0]),
            sa.func.min(corners[1]),
            sa.func.max(corners[2]),
            sa.func.max(corners[3]),
        )
    ).one()
    if any(v is None for v in row):
        return None
    return tuple(float(v) for v in row)  # type: ignore[return-value]


def _spatialite_covers(grid: str, x: str, y: str, point: str) -> str:
    return (
        f"{grid}.id IN (SELECT pkid FROM idx_{_GRIDS}_geom WHERE xmin <= {x} AND xmax >= {x} "  # nosec B608  # names are constants, x/y bound parameter names
        f"AND ymin <= {y} AND ymax >= {y}) AND ST_Covers({grid}.geom, {point}) = 1"
    )


def _division_filter(division: str | None, on: dt.date | None) -> tuple[str, dict]:
    """SQL restricting grids ``g`` to a division label, or to the divisions in effect ``on``."""
    if (division is None) == (on is None):
        raise InputError("给出 division 或 on 之一 / give exactly one of division= and on=")
    if division is not None:
        return "g.division = :division", {"division": division}
    return (
        "g.division_id IN (SELECT d.id FROM divisions AS d WHERE d.effective_from <= :on "
        "AND (d.effective_to IS NULL OR d.effective_to > :on))",
        {"on": on},
    )


def _text(sql: str, params: dict) -> sa.TextClause:
    clause = sa.text(sql)
    if "on" in params:
        clause = clause.bindparams(sa.bindparam("on", type_=sa.Date()))
    return clause


def grid_code_at(
    session: Session,
    lon: float,
    lat: float,
    *,
    division: str | None = None,
    on: dt.date | None = None,
    srid: int = STORAGE_SRID,
) -> str | None:
    """Return the code of the grid covering (lon, lat), or None (outside).

    The grids are those of the division labelled ``division``, or (``on=date``) those of the
    divisions in effect on that date (:mod:`api.db.divisions`). Coordinates are in the storage
    SRID. Same rule as :func:`gis.assign.assign_points`.
    """
    which, params = _division_filter(division, on)
    session.flush()
    if _dialect(session) == "sqlite":
        covers = _spatialite_covers("g", ":x", ":y", "MakePoint(:x, :y, :srid)")
        order = "g.code"
    else:
        covers = POSTGIS_COVERS.format(grid="g", point="ST_SetSRID(ST_MakePoint(:x, :y), :srid)")
        order = 'g.code COLLATE "C"'
    sql = _text(
        f"SELECT g.code FROM {_GRIDS} AS g WHERE {which} AND {covers} ORDER BY {order} LIMIT 1",  # nosec B608  # fragments are constants; values are bound parameters
        params,
    )
    row = session.execute(
        sql, {"x": float(lon), "y": float(lat), "srid": int(srid), **params}
    ).first()
    return None if row is None else row[0]


def _point_table(table: str | type | sa.Table) -> sa.Table:
    if isinstance(table, str):
        found = Base.metadata.tables.get(table)
    elif isinstance(table, sa.Table):
        found = table
    else:
        found = getattr(table, "__table__", None)
    if found is None or not {"geom", "grid_code"} <= set(found.columns.keys()):
        names = sorted(t.name for t in Base.metadata.tables.values() if "grid_code" in t.columns)
        raise InputError(
            f"表 {table!r} 没有 geom 和 grid_code 列 / table {table!r} has no geom and "
            f"grid_code columns; expected one of {names}"
        )
    return found


def assign_codes_in_db(
    session: Session,
    table: str | type | sa.Table,
    *,
    division: str | None = None,
    on: dt.date | None = None,
    community_id: int | None = None,
) -> AssignCounts:
    """Set ``grid_code`` of every row of ``table`` (houses, incidents) from grids of ``division``
    (a label), or of the divisions in effect ``on`` a date (e.g. when a new one takes effect).

    One UPDATE with the rule of :func:`grid_code_at`; rows covered by no grid (and rows
    without geometry) get NULL. ``community_id`` restricts the rows updated (grids of every
    community of the division are considered, as in :func:`gis.assign.assign_points`).
    Loaded ORM objects are expired so that they re-read the new codes.
    """
    target = _point_table(table).name
    which, params = _division_filter(division, on)
    session.flush()
    if _dialect(session) == "sqlite":
        t = target
        covers = _spatialite_covers("g", f"ST_X({t}.geom)", f"ST_Y({t}.geom)", f"{t}.geom")
        order, alias = "g.code", t
    else:
        t = "t"
        covers = POSTGIS_COVERS.format(grid="g", point="t.geom")
        order, alias = 'g.code COLLATE "C"', f"{target} AS t"
    where = ""
    if community_id is not None:
        where, params["community_id"] = f" WHERE {t}.community_id = :community_id", community_id
    session.execute(
        _text(
            f"UPDATE {alias} SET grid_code = (SELECT g.code FROM {_GRIDS} AS g "  # nosec B608  # fragments are constants; values are bound parameters
            f"WHERE {which} AND {covers} ORDER BY {order} LIMIT 1){where}",
            params,
        ),
        params,
    )
    counts = session.execute(
        sa.text(f"SELECT count(grid_code), count(*) - count(grid_code) FROM {alias}{where}"),  # nosec B608  # alias and where are constants; values are bound
        {k: v for k, v in params.items() if k not in {"division", "on"}},
    ).one()
    session.expire_all()
    return AssignCounts(int(counts[0]), int(counts[1]))


class Reassigned(NamedTuple):
    """Result of :func:`reassign_codes_in_db`: rows whose code changed ``(id, old, new)`` in id
    order, rows that kept theirs, rows covered by no grid."""

    changed: list[tuple[int, str | None, str | None]]
    unchanged: int
    outside: int


# the JSON text of a code (or JSON null) for the change log, as the ORM writes it
_JSON_OF = {
    "postgresql": "COALESCE(to_json({v}), 'null'::json)",
    "sqlite": "json_quote({v})",
}
_DISTINCT = {"postgresql": "IS DISTINCT FROM", "sqlite": "IS NOT"}
_REASSIGN_TABLE = "wangge_reassign"


def reassign_codes_in_db(
    session: Session,
    table: str | type | sa.Table,
    *,
    division_id: int | None,
    community_id: int,
    actor: tuple[int | None, str | None] | None = None,
) -> Reassigned:
    """Recompute ``grid_code`` of the rows of ``table`` in one community from the grids of one
    division (``division_id``; None: no division, every code NULL), in the database.

    The rule of :func:`grid_code_at` per row (``ST_Covers``, the smallest code on ties), in
    three statements in the caller's transaction: the new codes into a temporary table, a
    change-log row per changed row (``actor`` = (user id, user name), as
    :func:`api.db.history.set_actor` gives it; None: no log), then one ``UPDATE … FROM``
    of the rows whose code changed. Loaded ORM objects of ``table`` are expired.
    """
    target = _point_table(table)
    name = target.name
    dialect = _dialect(session)
    session.flush()
    if dialect == "sqlite":
        covers = _spatialite_covers("g", "ST_X(h.geom)", "ST_Y(h.geom)", "h.geom")
        order, temp = "g.code", f"CREATE TEMP TABLE {_REASSIGN_TABLE}"
    else:
        covers = POSTGIS_COVERS.format(grid="g", point="h.geom")
        order, temp = 'g.code COLLATE "C"', f"CREATE TEMP TABLE {_REASSIGN_TABLE} ON COMMIT DROP"
    differ = f"n.old_code {_DISTINCT[dialect]} n.code"
    params = {"division_id": division_id, "community_id": community_id}
    run = session.execute
    run(sa.text(f"DROP TABLE IF EXISTS {_REASSIGN_TABLE}"))
    run(
        sa.text(
            f"{temp} AS SELECT h.id AS id, h.grid_code AS old_code, (SELECT g.code "  # nosec B608  # fragments are constants; values are bound parameters
            f"FROM {_GRIDS} AS g WHERE g.division_id = :division_id AND {covers} "
            f"ORDER BY {order} LIMIT 1) AS code FROM {name} AS h "
            "WHERE h.community_id = :community_id"
        ),
        params,
    )
    if actor is not None:
        json_of = _JSON_OF[dialect]
        log = sa.text(
            f"INSERT INTO {ChangeLog.__tablename__} (at, user_id, username, table_name, "  # nosec B608  # fragments are constants; values are bound parameters
            "record_id, action, field, old_value, new_value) SELECT :at, :user_id, :username, "
            f":table_name, n.id, 'update', 'grid_code', {json_of.format(v='n.old_code')}, "
            f"{json_of.format(v='n.code')} FROM {_REASSIGN_TABLE} AS n WHERE {differ}"
        ).bindparams(sa.bindparam("at", type_=ChangeLog.__table__.c.at.type))
        run(
            log,
            {
                "at": utc_now(),
                "user_id": actor[0],
                "username": actor[1],
                "table_name": name,
            },
        )
    run(
        sa.text(
            f"UPDATE {name} SET grid_code = n.code FROM {_REASSIGN_TABLE} AS n "  # nosec B608  # fragments are constants
            f"WHERE {name}.id = n.id AND {differ}"
        )
    )
    changed = [
        (int(i), old, new)
        for i, old, new in run(
            sa.text(
                f"SELECT n.id, n.old_code, n.code FROM {_REASSIGN_TABLE} AS n "  # nosec B608  # the table name is a module constant
                f"WHERE {differ} ORDER BY n.id"
            )
        )
    ]
    total, outside = run(
        sa.text(f"SELECT count(*), count(*) - count(code) FROM {_REASSIGN_TABLE}")  # nosec B608  # the table name is a module constant
    ).one()
    run(sa.text(f"DROP TABLE {_REASSIGN_TABLE}"))
    mapper = next((m for m in Base.registry.mappers if m.local_table is target), None)
    if mapper is not None:
        for obj in list(session.identity_map.values()):
            if isinstance(obj, mapper.class_):
                session.expire(obj, ["grid_code"])
    return Reassigned(changed, int(total) - len(changed), int(outside))


def spatial_indexes(bind: sa.Connection | Session) -> set[tuple[str, str]]:
    """Return the (table, geometry column) pairs that have a spatial index, from the catalogue."""
    if _dialect(bind) == "sqlite":
        sql = (
            "SELECT f_table_name, f_geometry_column FROM geometry_columns "
            "WHERE spatial_index_enabled = 1"
        )
    else:
        sql = (
            "SELECT c.relname, a.attname FROM pg_index i "
            "JOIN pg_class ix ON ix.oid = i.indexrelid JOIN pg_am am ON am.oid = ix.relam "
            "JOIN pg_class c ON c.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
            "WHERE am.amname = 'gist' AND n.nspname = ANY(current_schemas(false))"
        )
    return {(str(t), str(c)) for t, c in bind.execute(sa.text(sql)).all()}


def ensure_spatial_indexes(conn: sa.Connection, metadata: sa.MetaData) -> None:
    """Make sure every geometry column with ``spatial_index=True`` has its index.

    The migrations create every spatial index (:mod:`api.db.migrations.ddl`); this remains for
    schemas made with ``metadata.create_all`` (e.g. a scratch database in a test).
    SpatiaLite: GeoAlchemy2 runs ``CreateSpatialIndex`` per column during ``create_all``.
    PostGIS: GeoAlchemy2 relies on ``Index`` objects in the metadata, which its SQLite DDL hook
    removes from the shared tables once a SpatiaLite schema was created in the same process
    (tests do both), so create the GiST indexes here, idempotently.
    """
    if conn.dialect.name == "sqlite":
        return
    from geoalchemy2 import Geometry

    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, Geometry) and column.type.spatial_index:
                conn.exec_driver_sql(
                    f"CREATE INDEX IF NOT EXISTS idx_{table.name}_{column.name} "
                    f"ON {table.name} USING gist ({column.name})"
                )


def database_versions(bind: sa.Connection | Session) -> dict[str, str]:
    """Return the versions of the spatial database: SpatiaLite or PostGIS, GEOS, PROJ."""
    if _dialect(bind) == "sqlite":
        row = bind.execute(
            sa.text("SELECT sqlite_version(), spatialite_version(), geos_version(), proj_version()")
        ).one()
        keys = ("SQLite", "SpatiaLite", "GEOS", "PROJ")
    else:
        row = bind.execute(
            sa.text(
                "SELECT current_setting('server_version'), postgis_lib_version(), "
                "postgis_geos_version(), postgis_proj_version()"
            )
        ).one()
        keys = ("PostgreSQL", "PostGIS", "GEOS", "PROJ")
    return {k: str(v) for k, v in zip(keys, row, strict=True)}
