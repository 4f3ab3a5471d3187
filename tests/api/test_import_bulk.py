"""Houses imported in bulk (Core multi-row inserts, change log written in bulk) store exactly
what the ORM stores, on both databases; a bad row anywhere in a large file writes nothing.

The reference is the ORM itself: the same cleaned records added as ``House`` objects and
flushed, their change log written by the flush hook (:mod:`api.db.history`) — the path every
other writer of houses takes. Grid codes are checked against brute force (plain
``shapely.covers``, smallest code wins) on the demo grids read from their GeoJSON file.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.db.engine import make_engine, session_factory
from api.db.history import set_actor
from api.db.models import Base, ChangeCounter, ChangeLog, Community, House, to_db_geometry, wkb_of
from api.services.registry.importer import import_file, read_table
from api.services.registry.validators import clean_house
from tests.api.test_import import (
    COMMUNITY,
    TODAY,
    demo_frames,
    refuse_house,
    store_demo,
    write_csv,
)
from tests.conftest import expected_code

runner = CliRunner()
HOUSE_FIELDS = ("house_key", "address", "road", "number", "building", "households",
                "floor_area_m2", "house_type", "use", "owner", "grid_code")  # fmt: skip


@pytest.fixture
def demo_url(fresh_db_url) -> str:
    store_demo(fresh_db_url, demo_frames())
    return fresh_db_url


@pytest.fixture(scope="module")
def grids():
    from gis.io import read_layer
    from tests.api.test_import import DATA

    return read_layer(DATA / "demo" / "grids.geojson")


def generated_rows(grids, n: int, seed: int) -> list[dict]:
    """``n`` house rows: random points over the community and around it, exact vertices
    shared by several grids (tie-breaks), rows without a point, and every optional column
    filled or left blank at random (type and use by name and by code)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = grids.total_bounds
    pad = 0.1 * (x1 - x0)
    vertices = np.unique(shapely.get_coordinates(grids.geometry.to_numpy()), axis=0)
    types, uses = ["住宅", "01", "商业", "04"], ["自住", "01", "出租", "02"]
    rows = []
    for i in range(n):
        row = {"门牌号码": f"生成路{i}号"}
        kind = rng.integers(10)
        if kind < 7:
            row["经度"] = float(rng.uniform(x0 - pad, x1 + pad))
            row["纬度"] = float(rng.uniform(y0 - pad, y1 + pad))
        elif kind < 9:
            row["经度"], row["纬度"] = (float(v) for v in vertices[rng.integers(len(vertices))])
        optional = {
            "产权人": f"业主{i}", "房屋面积(m²)": round(float(rng.uniform(20, 300)), 2),
            "房屋类型": types[rng.integers(len(types))], "房屋用途": uses[rng.integers(len(uses))],
            "房屋编号": f"G{i:05d}", "路名": "生成路", "门牌号": str(i), "楼栋": f"{i % 9}号楼",
            "户数": int(rng.integers(1, 9)),
        }  # fmt: skip
        row.update({k: v for k, v in optional.items() if rng.random() < 0.6})
        rows.append(row)
    return rows


def _through_the_orm(session, path, grids) -> list[int]:
    """The reference write: each cleaned record added as a ``House`` and flushed (the flush
    hook logs it), its grid by brute force over ``grids``."""
    community = session.scalar(sa.select(Community).where(Community.code == COMMUNITY))
    rows, _ = read_table(path, "houses")
    houses = []
    for src in rows:
        rec, errors = clean_house(src.values, today=TODAY)
        assert errors == []
        point = None if rec["lon"] is None else shapely.Point(rec["lon"], rec["lat"])
        fields = {k: rec.get(k) for k in HOUSE_FIELDS if k != "grid_code"}
        houses.append(
            House(community_id=community.id, geom=None if point is None else to_db_geometry(point),
                  grid_code=expected_code(grids, point), **fields)
        )  # fmt: skip
    session.add_all(houses)
    session.flush()
    return [h.id for h in houses]


def _stored(session, ids: list[int]) -> dict:
    """What a write left: the houses (every column but the id, the point as WKB), their
    change-log rows (the record's id replaced by its door plate, key order kept), the change
    counters and the row count of every table."""
    houses = session.execute(
        sa.select(House.id, *(getattr(House, f) for f in HOUSE_FIELDS), House.community_id,
                  wkb_of(House.geom).label("wkb"), wkb_of(House.footprint).label("fp"))
        .where(House.id.in_(ids))
    ).all()  # fmt: skip
    address_of = {h.id: h.address for h in houses}
    log = session.execute(
        sa.select(ChangeLog).where(ChangeLog.table_name == "houses", ChangeLog.record_id.in_(ids))
    ).scalars()
    logged = {}
    for row in log:
        new = dict(row.new_value)
        new["id"] = address_of[new["id"]]
        logged[address_of[row.record_id]] = (
            row.user_id,
            row.username,
            row.action,
            row.field,
            row.old_value,
            new,
            list(new),  # the record's keys in the order the log holds them
        )
    counts = {
        t.name: session.scalar(sa.select(sa.func.count()).select_from(t))
        for t in Base.metadata.sorted_tables
    }
    return {
        "address_of": address_of,
        "houses": {h.address: tuple(h)[1:] for h in houses},
        "log": logged,
        "counters": sorted(session.execute(sa.select(ChangeCounter.name, ChangeCounter.value))),
        "counts": counts,
    }


def test_bulk_import_stores_what_the_orm_stores(demo_url, grids, tmp_path):
    rows = generated_rows(grids, 1_300, seed=20261207)  # more than one 1,000-row INSERT
    path = write_csv(tmp_path / "houses.csv", rows)
    engine = make_engine(demo_url)
    sessions = session_factory(engine)
    try:
        with sessions() as s:
            set_actor(s, user_id=None, username="导入员")
            result = import_file(s, "houses", path, community=COMMUNITY, today=TODAY)
            assert (result.rows, result.imported, result.errors) == (len(rows), len(rows), [])
            bulk = _stored(s, result.ids)
            s.rollback()
        with sessions() as s:
            set_actor(s, user_id=None, username="导入员")
            orm = _stored(s, _through_the_orm(s, path, grids))
            s.rollback()
    finally:
        engine.dispose()

    # one id per row, in the file's order
    assert [bulk["address_of"][i] for i in result.ids] == [r["门牌号码"] for r in rows]
    assert bulk["houses"] == orm["houses"]
    assert bulk["log"] == orm["log"]
    assert bulk["counters"] == orm["counters"]
    assert bulk["counts"] == orm["counts"]
    # and independently of both writers: points exact, grids by brute force
    for row in rows:
        stored = bulk["houses"][row["门牌号码"]]
        point = None if "经度" not in row else shapely.Point(row["经度"], row["纬度"])
        geom = None if stored[-2] is None else shapely.from_wkb(bytes(stored[-2]))
        assert (geom is None) == (point is None)
        if point is not None:
            assert (geom.x, geom.y) == (point.x, point.y)
        assert stored[HOUSE_FIELDS.index("grid_code")] == expected_code(grids, point)
    codes = [bulk["houses"][r["门牌号码"]][HOUSE_FIELDS.index("grid_code")] for r in rows]
    assert result.outside == sum(c is None for c in codes)
    assert sum(c is None for c in codes) > 0 and len({c for c in codes if c}) > 3


def _counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        houses = conn.execute(sa.select(sa.func.count()).select_from(House)).scalar_one()
        log = conn.execute(sa.select(sa.func.count()).select_from(ChangeLog)).scalar_one()
    engine.dispose()
    return houses, log


def test_a_bad_row_in_the_middle_of_a_large_file_writes_nothing(demo_url, grids, tmp_path):
    rows = generated_rows(grids, 2_500, seed=7)
    rows[1_500]["房屋面积(m²)"] = "八十"  # spreadsheet row 1502
    path = write_csv(tmp_path / "houses.csv", rows)
    before = _counts(demo_url)
    args = ["import", "houses", str(path), "--community", COMMUNITY, "--db", demo_url]
    result = runner.invoke(cli_app, args)
    said = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "1502" in said and "not a number" in said and "nothing imported" in said
    assert _counts(demo_url) == before


def test_a_database_refusal_in_a_later_batch_writes_nothing(demo_url, grids, tmp_path):
    """The first 1,000-row INSERT has gone in when a row of the third is refused: all of it
    is rolled back, the change log too, and the command exits 2 naming the reason."""
    rows = generated_rows(grids, 2_500, seed=8)
    engine = make_engine(demo_url)
    refuse_house(engine, "生成路2200号")
    engine.dispose()
    path = write_csv(tmp_path / "houses.csv", rows)
    before = _counts(demo_url)
    args = ["import", "houses", str(path), "--community", COMMUNITY, "--db", demo_url]
    result = runner.invoke(cli_app, args)
    assert result.exit_code == 2, result.output
    assert "nothing written: refused by test trigger" in " ".join(result.output.split())
    assert _counts(demo_url) == before
