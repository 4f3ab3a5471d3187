"""Staff photos on the public page: GET /staff/{id}/photo, photo_url in /grids/locate, and the
look-up's memory (an edit through the API shows at once, one from elsewhere within the bound).

Truth comes from the files: the demo's staff.csv names each portrait, data/demo/staff_photos/
holds its bytes, PNG signatures are checked on the bytes served.
"""

from __future__ import annotations

import doctest
import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import sqlalchemy as sa

import api.services.images
import api.services.staff_photos
from api.db.engine import make_engine
from api.services.demo import load_demo
from tests.api.routes.conftest import DEMO_GRIDS, ROLE_USERS, Api, add_users

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def photo_api(fresh_db_url, make_api, tmp_path) -> Api:
    """The demo on a fresh database, its portraits in a folder of the test's own."""
    folder = tmp_path / "staff_photos"
    load_demo(db_url=fresh_db_url, staff_photo_dir=folder)
    add_users(fresh_db_url, ROLE_USERS)
    return make_api(fresh_db_url, staff_photo_dir=folder)


def _point_in(code: str) -> dict[str, float]:
    grids = gpd.read_file(DEMO / "grids.geojson")
    p = grids.loc[grids["code"] == code].geometry.iloc[0].representative_point()
    return {"lon": p.x, "lat": p.y}


def _staff_ids(api: Api, code: str) -> dict[str, int]:
    head = api.as_("community_head")
    r = api.client.get("/staff", params={"grid_code": code}, headers=head)
    assert r.status_code == 200, r.text
    return {s["name"]: s["id"] for s in r.json()["data"]}


def _new_staff(api: Api, name: str, **fields) -> int:
    body = {"name": name, "role": "grid_worker", "phone": "13800009999"} | fields
    r = api.client.post("/staff", headers=api.as_("community_head"), json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_module_doctests():
    assert doctest.testmod(api.services.staff_photos).failed == 0
    assert doctest.testmod(api.services.images).failed == 0


def test_locate_gives_photo_urls_that_serve_the_demo_portraits(photo_api):
    code = DEMO_GRIDS[0]
    table = pd.read_csv(DEMO / "staff.csv", dtype=str)
    expected = {
        r["name"]: (DEMO / "staff_photos" / r["photo_path"]).read_bytes()
        for r in table.to_dict("records")
        if code in r["grid_codes"].split(",")
    }
    assert expected, "the first demo grid has staff"
    r = photo_api.client.get("/grids/locate", params=_point_in(code))
    assert r.status_code == 200, r.text
    staff = r.json()["staff"]
    assert {s["name"] for s in staff} == set(expected)
    ids = _staff_ids(photo_api, code)
    for person in staff:
        assert person["photo_url"] == f"/staff/{ids[person['name']]}/photo"
        photo = photo_api.client.get(person["photo_url"])  # no token: public
        assert photo.status_code == 200, photo.text
        assert photo.headers["content-type"] == "image/png"
        assert photo.headers["x-content-type-options"] == "nosniff"
        assert photo.content.startswith(PNG_SIGNATURE)
        assert photo.content == expected[person["name"]]


def test_photo_404_for_inactive_missing_and_unknown_staff(photo_api):
    api = photo_api
    head = api.as_("community_head")
    code = DEMO_GRIDS[0]
    name, staff_id = sorted(_staff_ids(api, code).items())[0]
    assert api.client.get(f"/staff/{staff_id}/photo").status_code == 200
    r = api.client.patch(f"/staff/{staff_id}", headers=head, json={"active": False})
    assert r.status_code == 200, r.text
    gone = api.client.get(f"/staff/{staff_id}/photo")
    assert gone.status_code == 404
    assert set(gone.json()) == {"detail"}
    names = {
        s["name"] for s in api.client.get("/grids/locate", params=_point_in(code)).json()["staff"]
    }
    assert name not in names

    no_photo = _new_staff(api, "无照片", grid_codes=[code])
    assert api.client.get(f"/staff/{no_photo}/photo").status_code == 404
    assert api.client.get("/staff/987654/photo").status_code == 404
    # the file named by a photo_path that does not exist in the folder
    missing = _new_staff(api, "缺文件", photo_path="none.png")
    assert api.client.get(f"/staff/{missing}/photo").status_code == 404


def test_photo_paths_leaving_the_folder_or_not_images_are_refused(photo_api, tmp_path):
    api = photo_api
    folder = api.client.app.state.staff_photo_dir
    real_png = (DEMO / "staff_photos" / "S001.png").read_bytes()
    outside = tmp_path / "secret.png"
    outside.write_bytes(real_png)  # a real image, but outside the folder
    (folder / "notes.png").write_text("<html>not an image</html>", encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "ok.png").write_bytes(real_png)
    link = folder / "link.png"
    try:
        link.symlink_to(outside)
    except OSError:  # pragma: no cover - a file system without links
        link = None
    attempts = ["../secret.png", "sub/../../secret.png", str(outside), "notes.png", "", "sub"]
    if link is not None:
        attempts.append("link.png")
    for photo_path in attempts:
        staff_id = _new_staff(api, f"越界{len(photo_path)}", photo_path=photo_path)
        photo = api.client.get(f"/staff/{staff_id}/photo")
        assert photo.status_code == 404, photo_path
        assert real_png not in photo.content
    # a sub-folder inside is fine, and encoded traversal in the URL finds no route
    inside = _new_staff(api, "子目录", photo_path="sub/ok.png")
    assert api.client.get(f"/staff/{inside}/photo").content == real_png
    assert api.client.get("/staff/..%2f..%2fetc%2fpasswd/photo").status_code in (404, 422)


def test_staff_and_grid_edits_through_the_api_show_in_the_next_locate(photo_api):
    api = photo_api
    head = api.as_("community_head")
    code = DEMO_GRIDS[0]
    where = _point_in(code)
    before = api.client.get("/grids/locate", params=where).json()  # now held in memory
    ids = _staff_ids(api, code)
    name, staff_id = sorted(ids.items())[0]
    assert name in {s["name"] for s in before["staff"]}

    r = api.client.patch(
        f"/staff/{staff_id}", headers=head, json={"name": "新名字", "phone_published": False}
    )
    assert r.status_code == 200, r.text
    after = {s["name"]: s for s in api.client.get("/grids/locate", params=where).json()["staff"]}
    assert name not in after
    assert after["新名字"]["phone"] is None

    r = api.client.patch(f"/staff/{staff_id}", headers=head, json={"grid_codes": [DEMO_GRIDS[1]]})
    assert r.status_code == 200, r.text
    staff = api.client.get("/grids/locate", params=where).json()["staff"]
    assert "新名字" not in {s["name"] for s in staff}
    other = api.client.get("/grids/locate", params=_point_in(DEMO_GRIDS[1])).json()["staff"]
    assert "新名字" in {s["name"] for s in other}

    grid = api.client.get("/grids", params={"limit": 1000}).json()["features"]
    grid_id = next(f["id"] for f in grid if f["properties"]["code"] == code)
    r = api.client.patch(f"/grids/{grid_id}", headers=api.as_("planner"), json={"name": "改名网格"})
    assert r.status_code == 200, r.text
    assert api.client.get("/grids/locate", params=where).json()["grid_name"] == "改名网格"


def test_an_edit_from_elsewhere_shows_once_the_bound_has_passed(photo_api):
    """A write outside this process's sessions (another process; here plain SQL on an engine
    of its own) is seen once ``max_age_s`` has passed, not before."""
    api = photo_api
    code = DEMO_GRIDS[0]
    where = _point_in(code)
    locator = api.client.app.state.locator
    now = [1000.0]
    locator.clock = lambda: now[0]
    first = api.client.get("/grids/locate", params=where).json()
    name = first["staff"][0]["name"]
    engine = make_engine(api.url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE staff SET name = :new WHERE name = :old"),
                         {"new": "别处改的", "old": name})  # fmt: skip
    finally:
        engine.dispose()
    now[0] += locator.max_age_s / 2
    held = api.client.get("/grids/locate", params=where).json()
    assert name in {s["name"] for s in held["staff"]}  # within the bound: from memory
    now[0] += locator.max_age_s
    seen = api.client.get("/grids/locate", params=where).json()
    assert "别处改的" in {s["name"] for s in seen["staff"]}
    assert name not in {s["name"] for s in seen["staff"]}


def test_staff_photo_dir_defaults_beside_the_sqlite_file(tmp_path):
    from api.core.config import Settings
    from api.services.staff_photos import staff_photo_dir

    db = tmp_path / "sub" / "w.db"
    assert staff_photo_dir(f"sqlite:///{db}", Settings(staff_photo_dir=None)) == (
        db.parent / "staff_photos"
    )
    assert staff_photo_dir("sqlite://", Settings(staff_photo_dir=None)) == Path("staff_photos")
    assert os.fspath(staff_photo_dir(f"sqlite:///{db}", Settings(staff_photo_dir=tmp_path))) == (
        os.fspath(tmp_path)
    )
