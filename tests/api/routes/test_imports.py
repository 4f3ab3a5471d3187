"""``POST /imports/{kind}``: the registers imported over HTTP in one transaction, on both
databases — all rows or none, every rejected row's reason, who may call it. Each test has a
database of its own (``demo_api``): imported houses would change the shared demo's counts."""

from __future__ import annotations

import shapely
import sqlalchemy as sa

from api.db.engine import make_engine
from gis.io import read_layer
from tests.api.routes.conftest import valid_id_number
from tests.api.test_import import COMMUNITY, DATA, fill_template, write_csv


def _upload(api, kind: str, path, *, who: str = "community_head", **form):
    return api.client.post(
        f"/imports/{kind}",
        headers=api.as_(who),
        data={"community": COMMUNITY, **form},
        files={"file": (path.name, path.read_bytes())},
    )


def _grid_code_of(lon: float, lat: float) -> str:
    """The demo grid covering a point, by shapely on the demo file (smallest code on an edge)."""
    grids = read_layer(DATA / "demo" / "grids.geojson")
    point = shapely.Point(lon, lat)
    return min(grids.loc[grids.covers(point), "code"])


def _inside_point() -> tuple[float, float]:
    grids = read_layer(DATA / "demo" / "grids.geojson")
    centre = grids.geometry.iloc[3].representative_point()
    return centre.x, centre.y


def test_houses_csv_is_imported_with_their_grids(demo_api, tmp_path):
    api = demo_api
    lon, lat = _inside_point()
    rows = [{"门牌号码": f"接口导入路{i}号", "经度": lon, "纬度": lat} for i in range(1, 4)]
    path = write_csv(tmp_path / "房屋.csv", rows)
    before = api.count("houses")["houses"]
    r = _upload(api, "houses", path)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["rows"], body["imported"], body["written"], body["errors"]) == (3, 3, True, [])
    assert api.count("houses")["houses"] == before + 3
    engine = make_engine(api.url)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT DISTINCT grid_code FROM houses WHERE address LIKE '%接口导入路%'")
        ).all()
        who = conn.execute(
            sa.text(
                "SELECT DISTINCT c.username FROM change_log c JOIN houses h ON h.id = c.record_id"
                " WHERE c.table_name = 'houses' AND c.action = 'insert'"
                " AND h.address LIKE '%接口导入路%'"
            )
        ).all()
    engine.dispose()
    assert [s[0] for s in stored] == [_grid_code_of(lon, lat)]
    assert [w[0] for w in who] == ["community_head"]


def test_a_rejected_row_writes_nothing_and_names_the_row(demo_api, tmp_path):
    api = demo_api
    good = valid_id_number(11, birth="19900315")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")  # wrong check character
    house = api.client.get("/houses", headers=api.as_("admin"), params={"limit": 1}).json()
    address = house["features"][0]["properties"]["address"]
    rows = [
        {"姓名": "甲", "身份证号码": good, "门牌号码": address, "人口类型": "户籍人口"},
        {"姓名": "乙", "身份证号码": bad, "门牌号码": address, "人口类型": "户籍人口"},
    ]
    path = fill_template("residents", tmp_path / "人口.xlsx", rows)
    before = api.count("residents", "change_log")
    r = _upload(api, "residents", path)
    assert r.status_code == 422, r.text
    body = r.json()
    assert "人口.xlsx" in body["detail"] and "nothing imported" in body["detail"]
    assert {(e["row"], e["field"]) for e in body["errors"]} == {(3, "id_number")}
    assert api.count("residents", "change_log") == before
    # the good rows only, when asked
    r = _upload(api, "residents", path, only_good_rows="true")
    assert r.status_code == 201, r.text
    assert (r.json()["imported"], r.json()["rejected_rows"]) == (1, [3])
    assert api.count("residents")["residents"] == before["residents"] + 1


def test_unusable_files_are_4xx_naming_the_upload(demo_api, tmp_path):
    api = demo_api
    text = tmp_path / "houses.txt"
    text.write_text("not a register")
    r = _upload(api, "houses", text)
    assert r.status_code == 400 and "houses.txt" in r.json()["detail"]
    assert "/tmp" not in r.json()["detail"]
    no_column = write_csv(tmp_path / "h.csv", [{"备注": "x"}])
    r = _upload(api, "houses", no_column)
    assert r.status_code == 422 and "h.csv" in r.json()["detail"], r.text
    lon, lat = _inside_point()
    good = write_csv(tmp_path / "g.csv", [{"门牌号码": "无此社区路1号", "经度": lon, "纬度": lat}])
    r = _upload(api, "houses", good, community="999999999999")
    assert r.status_code == 422 and "999999999999" in r.json()["detail"], r.text
    assert _upload(api, "people", no_column).status_code == 422


def test_only_the_community_head_and_admin_may_import(demo_api, tmp_path):
    api = demo_api
    lon, lat = _inside_point()
    path = write_csv(tmp_path / "h.csv", [{"门牌号码": "权限测试路1号", "经度": lon, "纬度": lat}])
    before = api.count("houses")["houses"]
    for who in ("grid_worker", "post_staff", "street_dept", "planner", "auditor"):
        assert _upload(api, "houses", path, who=who).status_code == 403, who
    r = api.client.post(
        "/imports/houses",
        data={"community": COMMUNITY},
        files={"file": (path.name, path.read_bytes())},
    )
    assert r.status_code == 401
    assert api.count("houses")["houses"] == before
    assert _upload(api, "houses", path, who="admin").status_code == 201
