"""Shared fixtures: the database on both engines, and a small planted division.

``db_url`` runs a test once on SpatiaLite (a file in a temp folder) and once on PostGIS
(``WANGGE_TEST_POSTGRES_URL`` if set, each xdist worker in its own schema; otherwise a
throw-away cluster per worker, see ``bench/pg.py``). Missing PostgreSQL is a failure, not a
skip: CI must never pass with the database tests silently skipped.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.crypto import new_data_key
from bench.pg import PostgresUnavailableError, ThrowawayPostgres, find_pg_bin, postgis_version

pytest_plugins = ["tests.no_skips", "pytester"]

POSTGRES_URL_ENV = "WANGGE_TEST_POSTGRES_URL"

# Residents' ID numbers and phones are stored encrypted and refused without a data key: the
# tests, and the servers and commands they start as processes, share one key made for the run.
os.environ.setdefault("WANGGE_DATA_KEY", new_data_key())
# The TOTP second factor is switched on per test (tests/api/routes/test_sign_in.py); the other
# tests sign in every role with a password only.
os.environ.setdefault("WANGGE_SECOND_FACTOR_ROLES", "")
METRIC_EPSG = 4549  # CGCS2000 / 3-degree Gauss-Kruger CM 120E (Shanghai)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


# --------------------------------------------------------------------------- report header


def _spatialite_header() -> str:
    try:
        from api.db.spatialite import load_spatialite

        conn = sqlite3.connect(":memory:")
        load_spatialite(conn)
        row = conn.execute("SELECT spatialite_version(), geos_version(), proj_version()").fetchone()
        conn.close()
        return f"SQLite {sqlite3.sqlite_version}, SpatiaLite {row[0]}, GEOS {row[1]}, PROJ {row[2]}"
    except Exception as exc:  # the header must never stop the run; the tests will fail
        return f"SpatiaLite unavailable: {exc}"


def _postgis_header() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        try:
            from api.db.dialect import database_versions
            from api.db.engine import make_engine

            engine = make_engine(url)
            with engine.connect() as conn:
                versions = database_versions(conn)
            engine.dispose()
            return f"{POSTGRES_URL_ENV}: " + ", ".join(f"{k} {v}" for k, v in versions.items())
        except Exception as exc:
            return f"{POSTGRES_URL_ENV} unreachable: {exc}"
    try:
        pg_bin = find_pg_bin()
    except PostgresUnavailableError as exc:
        return str(exc)
    return (
        f"PostgreSQL {pg_bin.parent.name} ({pg_bin}), PostGIS {postgis_version(pg_bin)} "
        "(throw-away cluster per worker)"
    )


def pytest_report_header(config) -> list[str]:
    return [
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), "
        f"pyproj {pyproj.__version__} (PROJ {pyproj.proj_version_str})",
        _spatialite_header(),
        _postgis_header(),
    ]


# --------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a PostGIS database for this worker (given by env, else a throw-away cluster)."""
    given = os.environ.get(POSTGRES_URL_ENV)
    if given:
        schema = f"wangge_test_{_worker()}".lower()
        admin = sa.create_engine(sa.make_url(given).set(drivername="postgresql+psycopg"))
        with admin.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        separator = "&" if "?" in given else "?"
        yield f"{given}{separator}options={quote(f'-csearch_path={schema},public')}"
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()
        return
    try:
        cluster = ThrowawayPostgres().start()
    except PostgresUnavailableError as exc:
        pytest.fail(f"PostGIS 测试数据库无法启动 / cannot start PostGIS for tests: {exc}", False)
    yield cluster.url
    cluster.stop()


@pytest.fixture(scope="session", params=["spatialite", "postgis"])
def db_url(request, tmp_path_factory) -> str:
    """Database URL, once per engine (ids ``spatialite`` and ``postgis``)."""
    if request.param == "spatialite":
        return f"sqlite:///{tmp_path_factory.mktemp('spatialite') / 'wangge.db'}"
    return request.getfixturevalue("postgres_url")


@contextlib.contextmanager
def postgis_database(db_url: str, *, prefix: str) -> Iterator[str]:
    """A new PostGIS database on the server of ``db_url``, dropped afterwards; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    server = sa.make_url(db_url)
    admin = sa.create_engine(
        server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = server.set(database=name)
    setup = sa.create_engine(url.set(drivername="postgresql+psycopg"))
    with setup.begin() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    setup.dispose()
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(scope="session")
def session_cleanups(db_url) -> Iterator[contextlib.ExitStack]:
    """Callbacks run at the end of the session while the database of ``db_url`` still runs.

    ``config.add_cleanup`` would run them after the throw-away cluster is stopped; this
    fixture depends on ``db_url``, so pytest tears it down first.
    """
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def fresh_db_url(db_url, tmp_path) -> str:
    """URL of an empty database of its own, on the engine of ``db_url``.

    SpatiaLite: a new file. PostGIS: a new database (with the postgis extension) on the same
    server, dropped afterwards; a schema would not do, as ``public`` stays on the search path
    and its tables (``alembic_version`` among them) would show through.
    """
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with postgis_database(db_url, prefix="fresh") as url:
        yield url


@pytest.fixture
def empty_target(db_url, tmp_path) -> Iterator[str]:
    """A second, truly empty database on the engine of ``db_url`` (no postgis extension on
    PostGIS, a path not yet made on SpatiaLite): where a restore or copy may go."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"restore_{uuid.uuid4().hex[:12]}"
    server = sa.make_url(db_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(scope="session")
def engine(db_url):
    """An engine with the schema created (``init_db``), shared by the session."""
    from api.db.engine import init_db, make_engine

    eng = make_engine(db_url)
    init_db(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine):
    """An ORM session inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        trans = conn.begin()
        sess = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            yield sess
        finally:
            sess.close()
            trans.rollback()


# --------------------------------------------------------------------------- planted division


@dataclass(frozen=True)
class PlantedDivision:
    """A small division built in metres (EPSG:4549) and stored in lon/lat (EPSG:4326)."""

    grids: gpd.GeoDataFrame  # code, geometry in EPSG:4326
    grids_m: gpd.GeoDataFrame  # the same in EPSG:4549
    boundary: shapely.Polygon  # the community boundary (union of the grids) in EPSG:4326


def build_division(origin_e: float = 450_000.0, origin_n: float = 3_457_000.0) -> PlantedDivision:
    """Cut a 400 m x 300 m community by a vertical road, a slanted road and a bent lane.

    The cuts meet in vertices shared by 3 and 4 grids. Codes are 15 digits and given in an
    order unrelated to position, so that the tie-break is not the geometric order.
    """
    e, n = origin_e, origin_n
    outer = shapely.box(e, n, e + 400, n + 300)
    cuts = [
        shapely.LineString([(e + 200, n - 10), (e + 200, n + 310)]),  # vertical road
        shapely.LineString([(e - 10, n + 151), (e + 410, n + 119)]),  # slanted road
        shapely.LineString([(e + 90, n - 10), (e + 117, n + 310)]),  # lane through...
        shapely.LineString([(e + 200, n + 210), (e + 410, n + 260)]),  # ...and a spur
    ]
    # 20 m vertices along roads: more segments, so more exactly representable edge points
    noded = shapely.union_all(shapely.segmentize([outer.boundary, *cuts], 20.0))
    faces = [f for f in shapely.get_parts(shapely.polygonize([noded])) if outer.covers(f)]
    faces.sort(key=lambda f: (-f.centroid.y, f.centroid.x))
    rng = np.random.default_rng(7)
    seq = rng.permutation(len(faces)) + 1
    codes = [f"310109011001{s:03d}" for s in seq]
    grids_m = gpd.GeoDataFrame({"code": codes}, geometry=faces, crs=METRIC_EPSG)
    grids = grids_m.to_crs(4326)
    boundary = shapely.coverage_union_all(grids.geometry.to_numpy())
    return PlantedDivision(grids=grids, grids_m=grids_m, boundary=boundary)


def covering_codes(grids: gpd.GeoDataFrame, point: shapely.Geometry | None) -> list[str]:
    """Brute force, one grid at a time with plain shapely.covers: the codes covering point."""
    if point is None or point.is_empty:
        return []
    return sorted(
        str(code) for code, geom in zip(grids["code"], grids.geometry, strict=True)
        if shapely.covers(geom, point)
    )  # fmt: skip


def expected_code(grids: gpd.GeoDataFrame, point: shapely.Geometry | None) -> str | None:
    """The rule, by brute force: the smallest covering code, else None."""
    codes = covering_codes(grids, point)
    return codes[0] if codes else None


def _exact_points_on_segment(a: np.ndarray, b: np.ndarray, limit: int) -> list[tuple]:
    """Up to ``limit`` floating-point points lying exactly on segment a-b (ends excluded).

    Within one binade, doubles are integers times the spacing; the lattice points on the
    segment are a + t (b - a) / g for t = 1..g-1, g = gcd of the integer differences.
    """
    exps = [math.frexp(v)[1] for v in (a[0], b[0])], [math.frexp(v)[1] for v in (a[1], b[1])]
    if exps[0][0] != exps[0][1] or exps[1][0] != exps[1][1]:
        return []
    shift_x, shift_y = 53 - exps[0][0], 53 - exps[1][0]
    ax, bx = (int(math.ldexp(v, shift_x)) for v in (a[0], b[0]))
    ay, by = (int(math.ldexp(v, shift_y)) for v in (a[1], b[1]))
    g = math.gcd(bx - ax, by - ay)
    if g <= 1:
        return []
    steps = sorted({max(1, min(g - 1, round(g * k / (limit + 1)))) for k in range(1, limit + 1)})
    return [
        (
            math.ldexp(ax + t * (bx - ax) // g, -shift_x),
            math.ldexp(ay + t * (by - ay) // g, -shift_y),
        )
        for t in steps
    ]


_TO_4326 = pyproj.Transformer.from_crs(METRIC_EPSG, 4326, always_xy=True)


def _segments(lines: shapely.Geometry):
    """Yield (start, end) coordinate pairs of every segment of a (multi)line geometry."""
    for part in shapely.get_parts(shapely.line_merge(lines) if lines.geom_type != "Point" else []):
        xy = shapely.get_coordinates(part)
        yield from itertools.pairwise(xy)


def planted_points(division: PlantedDivision) -> gpd.GeoDataFrame:
    """Points on shared vertices and edges, on the outer boundary, 1 mm in/out, far, None.

    Columns: ``kind`` and ``n_covering`` (how many grids cover the point, by brute force).
    Edge points are kept only where plain shapely.covers really is true for both grids.
    """
    grids = division.grids
    geoms = list(grids.geometry)
    rows: list[tuple[str, shapely.Geometry | None]] = []
    # vertices shared by 3 or 4 grids (and by 2, and outer corners held by 1)
    coords = np.unique(shapely.get_coordinates(grids.geometry.to_numpy()), axis=0)
    for xy in coords:
        p = shapely.Point(xy)
        k = len(covering_codes(grids, p))
        rows.append((f"vertex_{min(k, 4)}", p))
    # points on shared edges, covered by both grids: in floating point a slanted segment passes
    # exactly through few points; find them with integer arithmetic, keep those that plain
    # shapely.covers really puts in both grids
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            shared = shapely.intersection(geoms[i].boundary, geoms[j].boundary)
            if shared.length == 0:
                continue
            for seg_a, seg_b in _segments(shared):
                for xy in _exact_points_on_segment(seg_a, seg_b, limit=3):
                    p = shapely.Point(xy)
                    both = shapely.covers(geoms[i], p) and shapely.covers(geoms[j], p)
                    if both and len(covering_codes(grids, p)) == 2:
                        rows.append(("shared_edge", p))
    # points exactly on the outer boundary, between vertices
    for seg_a, seg_b in _segments(division.boundary.exterior):
        for xy in _exact_points_on_segment(seg_a, seg_b, limit=1):
            rows.append(("outer_boundary", shapely.Point(xy)))
    # 1 mm inside / outside the south and east edges (placed in metres); far away; None
    xmin, ymin, xmax, _ = division.grids_m.total_bounds
    for kind, x, y in [
        ("inside_1mm", xmin + 137, ymin + 0.001),
        ("outside_1mm", xmin + 137, ymin - 0.001),
        ("inside_1mm", xmax - 0.001, ymin + 77),
        ("outside_1mm", xmax + 0.001, ymin + 77),
    ]:
        rows.append((kind, shapely.Point(_TO_4326.transform(x, y))))
    rows.append(("far_outside", shapely.Point(116.39, 39.91)))
    rows.append(("none", None))
    kinds, points = zip(*rows, strict=True)
    n_cov = [len(covering_codes(grids, p)) for p in points]
    return gpd.GeoDataFrame({"kind": kinds, "n_covering": n_cov}, geometry=list(points), crs=4326)


@pytest.fixture(scope="session")
def division() -> PlantedDivision:
    return build_division()


@pytest.fixture(scope="session")
def planted(division) -> gpd.GeoDataFrame:
    return planted_points(division)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    """argon2id with small parameters in the test process: the tests sign in often (real
    hashes stay argon2id; servers started as processes keep the real parameters)."""
    from argon2 import PasswordHasher

    from api.core.security import set_password_hasher

    set_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


# --------------------------------------------------------------------------- harness counts


def pytest_sessionfinish(session) -> None:
    """A pytest-xdist worker sends what the differential harness ran, and the reports of
    :mod:`tests.reports`, to the controller."""
    from tests.gis.harness.counts import COUNTS
    from tests.reports import REPORTS

    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["differential_harness"] = dict(COUNTS)
        session.config.workeroutput["reports"] = [list(r) for r in REPORTS]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """The controller adds up the workers' harness counts and reports (pytest-xdist hook)."""
    from tests.gis.harness.counts import COUNTS
    from tests.reports import REPORTS

    output = getattr(node, "workeroutput", {})
    COUNTS.update(output.get("differential_harness", {}))
    REPORTS.extend(tuple(r) for r in output.get("reports", []))


def pytest_terminal_summary(terminalreporter) -> None:
    """The tests' reports, then ``differential harness: N tilings, M planted defects, K
    points`` when it ran."""
    from tests.gis.harness.counts import COUNTS, summary
    from tests.reports import REPORTS

    for title, text in sorted(REPORTS):
        terminalreporter.write_sep("-", title)
        terminalreporter.write_line(text)
    if COUNTS:
        terminalreporter.write_sep("-", summary(COUNTS))
