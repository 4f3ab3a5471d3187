"""The planner's drawing board as a service (:mod:`api.services.planner`), without HTTP.

On SpatiaLite and PostGIS with the demo community loaded. Truths are computed here: the grid
codes from ``data/demo/grids.geojson``, households by brute-force ``covers`` over the demo's
houses, merged areas by shapely's union, the versions by reading the database back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import mapping, shape

from api.core.errors import NotFound
from api.db.engine import make_engine, session_factory
from api.db.models import Division
from api.services import planner as board
from api.services.demo import load_demo
from tests.conftest import postgis_database

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
COMMUNITY = "外滩源社区"
TODAY = dt.date(2030, 1, 1)


@pytest.fixture(scope="module")
def sessions(db_url, tmp_path_factory) -> Iterator[session_factory]:
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('planner') / 'board.db'}"
        load_demo(db_url=url)
        engine = make_engine(url)
        yield session_factory(engine)
        engine.dispose()
        return
    with postgis_database(db_url, prefix="planner") as url:
        load_demo(db_url=url)
        engine = make_engine(url)
        yield session_factory(engine)
        engine.dispose()


def _fc(grids: dict[str, shapely.Geometry]) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": c}, "geometry": mapping(g)}
            for c, g in grids.items()
        ],
    }


def _grids(fc: dict) -> dict[str, shapely.Geometry]:
    return {f["properties"]["code"]: shape(f["geometry"]) for f in fc["features"]}


def _current(sessions) -> dict[str, shapely.Geometry]:
    with sessions() as session:
        data = board.board_data(session, COMMUNITY, today=TODAY)
    return _grids(data["division"]["grids"])


def test_board_data_is_the_stored_community_and_its_division(sessions):
    with sessions() as session:
        data = board.board_data(session, COMMUNITY, today=TODAY)
        stored_houses = session.execute(
            sa.text(
                "SELECT count(*) FROM houses h JOIN communities c ON c.id = h.community_id "
                "WHERE c.code = '310101002005'"
            )
        ).scalar_one()
    assert data["community"] == {"code": "310101002005", "name": COMMUNITY}
    demo_codes = sorted(gpd.read_file(DEMO / "grids.geojson")["code"])
    assert sorted(_grids(data["division"]["grids"])) == demo_codes
    assert len(data["houses"]["features"]) == stored_houses > 0
    assert data["defaults"]["today"] == TODAY.isoformat()


def test_check_counts_households_by_covering_grid(sessions):
    grids = _current(sessions)
    with sessions() as session:
        checked = board.check_working_copy(
            session, COMMUNITY, _fc(grids), target=400, band=0.25, tolerance_m=0.5
        )
    assert checked["valid"] and checked["findings"]["features"] == []
    table = pd.read_csv(DEMO / "houses.csv")
    houses = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.lon, table.lat), crs=4326)
    by_code = {row["code"]: row["households"] for row in checked["balance"]}
    for code, geom in grids.items():
        # a house on a shared edge counts for the smallest covering code
        owner = [
            min(c for c, g in grids.items() if g.covers(p)) if geom.covers(p) else None
            for p in houses.geometry
        ]
        assert by_code[code] == int(houses["households"][[o == code for o in owner]].sum())


def test_merge_gives_the_union_of_the_two_grids(sessions):
    grids = _current(sessions)
    codes = sorted(grids)
    a = codes[0]
    b = next(c for c in codes[1:] if grids[a].intersection(grids[c]).length > 1e-6)
    with sessions() as session:
        merged = board.merge_working_copy(session, COMMUNITY, _fc(grids), [a, b])
    out = _grids(merged["grids"])
    assert merged["kept"] == a and b not in out and len(out) == len(grids) - 1
    union = shapely.union(grids[a], grids[b])
    assert out[a].symmetric_difference(union).area < 1e-12 * max(union.area, 1)


def test_save_refuses_a_gap_then_stores_and_restores_versions(sessions):
    grids = _current(sessions)
    dropped = dict(list(grids.items())[1:])  # one grid left out: a gap in the community
    with sessions() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(Division))
        stored, answer = board.save_working_copy(
            session, COMMUNITY, _fc(dropped), effective_date=TODAY, actor="planner",
            today=TODAY, tolerance_m=0.5,
        )  # fmt: skip
        assert not stored and not answer["valid"]
        assert {f["properties"]["kind"] for f in answer["findings"]["features"]} & {"gap"}
        session.rollback()
        assert session.scalar(sa.select(sa.func.count()).select_from(Division)) == before

        stored, answer = board.save_working_copy(
            session, COMMUNITY, _fc(grids), effective_date=TODAY, actor="planner",
            today=TODAY, tolerance_m=0.5,
        )  # fmt: skip
        assert stored and answer["valid"]
        session.commit()
        new_version = answer["division"]["version"]
        versions = board.versions_of(session, COMMUNITY, today=TODAY)
        assert versions["count"] == len(versions["data"])
        assert versions["data"][0]["version"] == new_version
        assert versions["data"][0]["grids"] == len(grids)

        stored, answer = board.restore_version(
            session, COMMUNITY, 1, effective_date=TODAY + dt.timedelta(days=1),
            actor="planner", today=TODAY,
        )  # fmt: skip
        assert stored
        session.commit()
        restored = board.version_of(session, COMMUNITY, answer["division"]["version"], today=TODAY)
        assert sorted(_grids(restored["grids"])) == sorted(grids)
        with pytest.raises(NotFound):
            board.version_of(session, COMMUNITY, 999, today=TODAY)
