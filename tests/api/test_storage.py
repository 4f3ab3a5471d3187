"""Storage on SpatiaLite and PostGIS: schema, spatial indexes, SRID, round trip, and the
database's point → grid answer agreeing with gis.assign on edges, vertices and boundaries."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, StatementError

from api.core.config import get_settings
from api.db import (
    STORAGE_SRID,
    Community,
    Grid,
    House,
    Incident,
    SpatiaLiteUnavailableError,
    check_spatialite,
    from_db_geometry,
    load_spatialite,
    normalise_url,
    to_db_geometry,
)
from api.db.dialect import assign_codes_in_db, grid_code_at, spatial_indexes
from gis.assign import assign_points

ROOT = Path(__file__).resolve().parents[2]
GEOMETRY_TABLES = {"communities", "grids", "houses", "incidents"}


def _dialect(session) -> str:
    return session.get_bind().dialect.name


def _store_division(session, division, *, name="current", code_prefix="") -> Community:
    community = session.scalar(sa.select(Community).where(Community.code == "310109011001"))
    if community is None:
        community = Community(
            code="310109011001",
            name="测试社区",
            street_name="测试街道",
            district_name="虹口区",
            geom=to_db_geometry(division.boundary, multi=True),
        )
        session.add(community)
        session.flush()
    for code, geom in zip(division.grids["code"], division.grids.geometry, strict=True):
        session.add(
            Grid(
                community_id=community.id,
                division=name,
                code=code_prefix + code,
                geom=to_db_geometry(geom, multi=True),
            )
        )
    session.flush()
    return community


def _store_points(session, community, points: gpd.GeoSeries, model=House) -> list[int]:
    rows = []
    for i, p in enumerate(points):
        if model is House:
            row = House(community_id=community.id, house_key=f"h{i}", geom=to_db_geometry(p))
        else:
            row = Incident(
                community_id=community.id,
                external_id=f"e{i}",
                category_code="0301",
                reported_at=dt.datetime(2024, 5, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
                geom=to_db_geometry(p),
            )
        rows.append(row)
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows]


def _near_edge_points(division, rng) -> gpd.GeoSeries:
    """Points 1e-13 .. 1e-9 degrees either side of shared and outer edges, and on them."""
    out = []
    for geom in division.grids.geometry:
        xy = shapely.get_coordinates(geom.exterior)
        for a, b in itertools.pairwise(xy):
            d = b - a
            normal = np.array([-d[1], d[0]]) / np.hypot(*d)
            for eps in (1e-13, 1e-11, 1e-9):
                f = rng.uniform(0.05, 0.95)
                base = a + d * f
                out.append(base + normal * eps)
                out.append(base - normal * eps)
    return gpd.GeoSeries(shapely.points(np.array(out)), crs=4326)


# --------------------------------------------------------------------------- schema


def test_schema_has_every_table_and_a_spatial_index_on_every_geometry_column(engine):
    with engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) >= GEOMETRY_TABLES
        assert spatial_indexes(conn) >= {(t, "geom") for t in GEOMETRY_TABLES}
        # the catalogue, asked directly
        if engine.dialect.name == "sqlite":
            rtrees = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%rtree%'"
            ).scalars()
            assert {f"idx_{t}_geom" for t in GEOMETRY_TABLES} <= set(rtrees)
        else:
            gist = conn.execute(
                sa.text(
                    "SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%USING gist (geom)%' "
                    "AND schemaname = ANY(current_schemas(false))"
                )
            ).scalars()
            assert set(gist) >= GEOMETRY_TABLES


def test_connection_settings(engine):
    """SQLite: SpatiaLite loaded, WAL, foreign keys on; PostgreSQL: the postgis extension."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("SELECT CheckSpatialMetaData()").scalar() >= 1
        else:
            ext = "SELECT extversion FROM pg_extension WHERE extname = 'postgis'"
            assert conn.exec_driver_sql(ext).scalar()


def test_foreign_keys_are_enforced(session):
    session.add(Grid(community_id=987_654, division="current", code="x", geom=None))
    with pytest.raises(IntegrityError):
        session.flush()


def test_spatial_index_is_filled_on_insert(session, division):
    _store_division(session, division)
    if _dialect(session) == "sqlite":
        n = session.execute(sa.text("SELECT count(*) FROM idx_grids_geom")).scalar()
        assert n == len(division.grids)
    else:  # the planner uses the GiST index for a covers query once seq scans are off
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            session.execute(
                sa.text(
                    "EXPLAIN SELECT code FROM grids "
                    "WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(121.49, 31.25), :srid))"
                ),
                {"srid": STORAGE_SRID},
            ).scalars()
        )
        assert "idx_grids_geom" in plan


def test_storage_srid_is_the_configured_one(session, division):
    assert get_settings().storage_srid == STORAGE_SRID
    _store_division(session, division)
    if _dialect(session) == "sqlite":
        catalogue = session.execute(
            sa.text("SELECT f_table_name, srid FROM geometry_columns")
        ).all()
    else:
        catalogue = session.execute(
            sa.text(
                "SELECT f_table_name, srid FROM geometry_columns "
                "WHERE f_table_schema = ANY(current_schemas(false))"
            )
        ).all()
    assert {t: s for t, s in catalogue if t in GEOMETRY_TABLES} == dict.fromkeys(
        GEOMETRY_TABLES, STORAGE_SRID
    )
    stored = session.execute(sa.text("SELECT DISTINCT ST_SRID(geom) FROM grids")).scalars()
    assert set(stored) == {STORAGE_SRID}


_SRID_SCRIPT = """
import sys, shapely, sqlalchemy as sa
from api.db import make_engine, init_db, session_factory, Community, to_db_geometry, STORAGE_SRID
engine = make_engine(sys.argv[1])
init_db(engine)
with session_factory(engine)() as s:
    s.add(Community(code="310109011001", name="x", geom=to_db_geometry(
        shapely.box(121.49, 31.25, 121.5, 31.26), multi=True)))
    s.commit()
    print(STORAGE_SRID, s.execute(sa.text("SELECT ST_SRID(geom) FROM communities")).scalar())
"""


def test_storage_srid_4490_is_honoured(db_url, tmp_path, engine):
    """A deployment configured for CGCS2000 stores EPSG:4490 (fresh process, fresh database)."""
    fresh = None
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'cgcs2000.db'}"
    else:
        fresh = f"srid4490_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {fresh}")
            conn.exec_driver_sql(f"CREATE DATABASE {fresh}")
        url = sa.make_url(db_url).set(database=fresh).render_as_string(hide_password=False)
    # through the settings file (WANGGE_STORAGE_SRID=4490 in the environment is refused by
    # api/core/config.py's Literal[4326, 4490] at the time of writing: reported)
    config = tmp_path / "wangge.toml"
    config.write_text("[wangge]\nstorage_srid = 4490\n")
    env = {k: v for k, v in os.environ.items() if k != "WANGGE_STORAGE_SRID"}
    env |= {"WANGGE_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _SRID_SCRIPT, url],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        if fresh:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {fresh} WITH (FORCE)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["4490", "4490"]


def test_geometry_round_trip_within_1e_9_degree(session, division):
    community = _store_division(session, division)
    ids = _store_points(session, community, division.grids.geometry.representative_point())
    session.expire_all()
    boundary = from_db_geometry(session.get(Community, community.id).geom)
    assert boundary.geom_type == "MultiPolygon"
    original = shapely.get_coordinates(division.boundary)
    assert np.abs(shapely.get_coordinates(boundary) - original).max() <= 1e-9
    grids = session.scalars(sa.select(Grid).order_by(Grid.id)).all()
    for grid, geom in zip(grids, division.grids.geometry, strict=True):
        back = shapely.get_coordinates(from_db_geometry(grid.geom))
        assert np.abs(back - shapely.get_coordinates(geom)).max() <= 1e-9
    for house_id, point in zip(ids, division.grids.geometry.representative_point(), strict=True):
        back = from_db_geometry(session.get(House, house_id).geom)
        assert abs(back.x - point.x) <= 1e-9 and abs(back.y - point.y) <= 1e-9


def test_reported_at_is_timezone_aware_and_naive_times_are_refused(session, division):
    community = _store_division(session, division)
    shanghai = dt.datetime(2024, 5, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    session.add(
        Incident(community_id=community.id, category_code="0301", reported_at=shanghai, geom=None)
    )
    session.flush()
    session.expire_all()
    back = session.scalars(sa.select(Incident.reported_at)).one()
    assert back.utcoffset() == dt.timedelta(0)
    assert back == shanghai  # the same instant
    session.add(
        Incident(
            community_id=community.id,
            category_code="0301",
            reported_at=dt.datetime(2024, 5, 1, 9, 30),
        )
    )
    with pytest.raises(StatementError, match="time zone"):
        session.flush()


# --------------------------------------------------------------------------- agreement


def test_grid_code_at_agrees_with_assign_points(session, division, planted):
    _store_division(session, division)
    expected = assign_points(planted, division.grids)
    real = planted.geometry.notna()
    answers = [grid_code_at(session, p.x, p.y, division="current") for p in planted.geometry[real]]
    mismatches = [
        (kind, p.wkt, want, got)
        for kind, p, want, got in zip(
            planted["kind"][real], planted.geometry[real], expected[real], answers, strict=True
        )
        if want != got
    ]
    assert not mismatches
    assert set(planted.loc[real, "kind"]) >= {"shared_edge", "vertex_4", "outer_boundary"}


@pytest.mark.parametrize("model", [House, "incidents"])
def test_assign_codes_in_db_agrees_with_assign_points(session, division, planted, model):
    community = _store_division(session, division)
    table = Incident if model == "incidents" else House
    ids = _store_points(session, community, planted.geometry, model=table)
    counts = assign_codes_in_db(session, model, division="current")
    stored = dict(session.execute(sa.select(table.id, table.grid_code)).all())
    got = [stored[i] for i in ids]
    expected = assign_points(planted, division.grids).tolist()
    assert got == expected
    assert counts.assigned == sum(c is not None for c in expected)
    assert counts.outside == sum(c is None for c in expected)


def test_assign_codes_in_db_can_be_limited_to_one_community(session, division, planted):
    community = _store_division(session, division)
    ids = _store_points(session, community, planted.geometry)
    assert assign_codes_in_db(session, House, division="current", community_id=-1) == (0, 0)
    assert (
        session.scalars(sa.select(House.grid_code).where(House.grid_code.is_not(None))).all() == []
    )
    counts = assign_codes_in_db(session, House, division="current", community_id=community.id)
    assert counts.assigned + counts.outside == len(ids)
    assert counts.assigned == int(assign_points(planted, division.grids).notna().sum())


def test_database_agrees_with_assign_points_a_hair_either_side_of_every_edge(session, division):
    community = _store_division(session, division)
    points = _near_edge_points(division, np.random.default_rng(5))
    ids = _store_points(session, community, points)
    assign_codes_in_db(session, "houses", division="current")
    stored = dict(session.execute(sa.select(House.id, House.grid_code)).all())
    expected = assign_points(points, division.grids).tolist()
    assert [stored[i] for i in ids] == expected
    assert any(c is None for c in expected) and any(c is not None for c in expected)
    sample = range(0, len(points), 7)
    assert [
        grid_code_at(session, points.iloc[k].x, points.iloc[k].y, division="current")
        for k in sample
    ] == [expected[k] for k in sample]


def test_only_grids_of_the_requested_division_count(session, division, planted):
    _store_division(session, division)
    _store_division(session, division, name="draft", code_prefix="9")
    inside = planted[planted["n_covering"] >= 1].geometry
    want = assign_points(inside, division.grids).tolist()
    for code, p in zip(want, inside, strict=True):
        assert grid_code_at(session, p.x, p.y, division="current") == code
        assert grid_code_at(session, p.x, p.y, division="draft") == "9" + code
        assert grid_code_at(session, p.x, p.y, division="none") is None


def test_assign_codes_in_db_refuses_a_table_without_points(session):
    with pytest.raises(ValueError, match="grid_code"):
        assign_codes_in_db(session, "grids", division="current")


# --------------------------------------------------------------------------- set-up checks


def test_check_spatialite_reports_the_version_and_what_is_missing():
    assert check_spatialite()[0].isdigit()
    with pytest.raises(RuntimeError, match="libsqlite3-mod-spatialite"):
        check_spatialite("/nonexistent/mod_spatialite_missing")

    class NoExtensionsConnection:  # what a pyenv build without extension loading offers
        pass

    with pytest.raises(SpatiaLiteUnavailableError, match="pysqlite3-binary"):
        load_spatialite(NoExtensionsConnection())


_LOAD_ORDER_SCRIPT = """
from api.db.spatialite import check_spatialite
print(check_spatialite())
import geopandas as gpd, pyproj, shapely
frame = gpd.GeoDataFrame(geometry=[shapely.box(121.49, 31.25, 121.5, 31.26)], crs=4326)
frame.to_file("t.gpkg")
back = gpd.read_file("t.gpkg")
print(shapely.geos_version_string, len(shapely.to_wkb(back.geometry.iloc[0])))
print(round(float(back.to_crs(4549).area.iloc[0])))
"""


def test_geos_wheels_still_work_after_spatialite_is_loaded(tmp_path):
    """mod_spatialite is loaded RTLD_GLOBAL; shapely/pyogrio/pyproj imported later must keep
    their own GEOS/PROJ (fresh process, SpatiaLite loaded before anything else)."""
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_ORDER_SCRIPT],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert lines[1].split()[0] == shapely.geos_version_string
    # a 0.01 x 0.01 degree box at 31.25 N is about 1113 m x 951 m
    assert 1.0e6 < int(lines[2]) < 1.1e6


def test_postgresql_urls_use_psycopg3():
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"
