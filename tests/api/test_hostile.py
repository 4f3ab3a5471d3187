"""Hostile input over HTTP and through the CLI: each refused with a clear 4xx (413 for size) or
exit 2, by the product's own bounds (api/core/limits.py, gis/io.py), and the server still answers
``/health`` afterwards. The bounds are the defaults (20 MB, 100,000 vertices, depth 32,
100,000 rows, 200 MiB unzipped) except for the request timeout, shortened to test it."""

from __future__ import annotations

import datetime as dt
import json
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli_app
from api.core.limits import Limits
from api.db.models import Role
from tests.api.routes.conftest import Api, ManualClock, add_users

runner = CliRunner()
N_BOMB = 1_000_001
SQUARE = [[116.0, 39.0], [116.01, 39.0], [116.01, 39.01], [116.0, 39.01], [116.0, 39.0]]


def _polygon(ring) -> dict:
    return {"type": "Polygon", "coordinates": [ring]}


def _validate_body(grid_geometry: dict) -> dict:
    return {
        "grids": {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {"code": "a"}, "geometry": grid_geometry}
            ],
        },
        "boundary": _polygon(SQUARE),
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'hostile.db'}"
    add_users(url, {"admin": (Role.ADMIN, [])})


    app = create_app(
        url,
        secret_key="hostile-secret-0123456789abcdef0123456789",
        clock=ManualClock(dt.datetime.now(dt.UTC)),
    )
    with TestClient(app) as client:
        yield Api(client=client, url=url, clock=app.state.clock)


def _still_serving(api: Api) -> None:
    r = api.client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def _bomb_body(n: int) -> bytes:
    """A /divisions/validate body whose grid polygon has ``n`` vertices (built as bytes)."""
    ring = b"[" + b",".join([b"[116,39]"] * (n - 1)) + b",[116,39]]"
    head = json.dumps(_validate_body({"type": "Polygon", "coordinates": [[0]]})).encode()
    return head.replace(b"[[0]]", b"[" + ring + b"]")


# --------------------------------------------------------------------------- geometry bombs


def test_polygon_with_a_million_vertices_is_refused(hostile):
    body = _bomb_body(N_BOMB)
    assert len(body) < 20 * 1024 * 1024  # under the body bound: the vertex bound must act
    r = hostile.client.post(
        "/divisions/validate", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert "100,000" in r.json()["detail"] and "grids" in r.json()["detail"]
    # a house footprint goes through the same check
    footprint = {"type": "Polygon", "coordinates": [[[116, 39]] * 100_002]}
    admin = hostile.as_("admin")
    made = hostile.client.post(
        "/communities", headers=admin, json={"code": "310101002099", "name": "炸弹测试"}
    )
    assert made.status_code == 201, made.text
    house = {"community_id": made.json()["id"], "address": "测试路 1 号", "footprint": footprint}
    r = hostile.client.post("/houses", headers=admin, json=house)
    assert r.status_code == 422 and "100,000" in r.json()["detail"]
    _still_serving(hostile)


def test_polygon_at_the_bound_is_accepted(hostile):
    angles = np.linspace(0, 2 * np.pi, 99_999, endpoint=False)
    ring = shapely.LinearRing(np.c_[116 + 0.01 * np.cos(angles), 39 + 0.01 * np.sin(angles)])
    assert shapely.get_num_coordinates(ring) == 100_000  # closed: the first point repeated
    r = hostile.client.post(
        "/divisions/validate", json=_validate_body(shapely.geometry.mapping(shapely.Polygon(ring)))
    )
    assert r.status_code == 200, r.text[:300]


def test_geometry_bomb_file_is_refused_by_the_cli(tmp_path):
    path = tmp_path / "bomb.geojson"
    path.write_bytes(
        b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"a"},'
        b'"geometry":{"type":"Polygon","coordinates":[['
        + b",".join([b"[116,39]"] * N_BOMB)
        + b"]]}}]}"
    )
    boundary = tmp_path / "boundary.geojson"
    boundary.write_text(json.dumps(_polygon(SQUARE)))
    r = runner.invoke(cli_app, ["validate", str(path), "--boundary", str(boundary)])
    assert r.exit_code == 2, r.output
    assert "100,000" in r.output and "feature 1" in " ".join(r.output.split())


# --------------------------------------------------------------------------- JSON shape


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_deeply_nested_json_is_refused_before_parsing(hostile, depth):
    body = b'{"grids": ' + b"[" * depth + b"]" * depth + b', "boundary": {}}'
    r = hostile.client.post(
        "/divisions/validate", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert "nested" in r.json()["detail"] and "32" in r.json()["detail"]
    r = hostile.client.post("/houses", headers=hostile.as_("admin"), content=body)  # no type
    assert r.status_code == 422
    _still_serving(hostile)


def test_nesting_of_32_passes_the_depth_check(hostile):
    body = b'{"grids": ' + b"[" * 31 + b"]" * 31 + b', "boundary": {}}'  # depth 32
    r = hostile.client.post(
        "/divisions/validate", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "nested" not in r.json()["detail"]  # the model says why


@pytest.mark.parametrize(
    ("coordinate", "reason"),
    [(b"NaN", "NaN"), (b"Infinity", "NaN or Infinity"), (b"-Infinity", "Infinity"),
     (b"1e999", "finite")],
)  # fmt: skip
def test_non_finite_coordinates_are_refused(hostile, coordinate, reason):
    body = json.dumps(_validate_body(_polygon(SQUARE))).encode()
    body = body.replace(b"116.01, 39.0]", b"116.01, " + coordinate + b"]", 1)
    r = hostile.client.post(
        "/divisions/validate", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and reason in r.json()["detail"], r.text
    _still_serving(hostile)


def test_swapped_lon_lat_and_wrong_crs(hostile, tmp_path):
    swapped = [[y, x] for x, y in SQUARE]
    r = hostile.client.post("/divisions/validate", json=_validate_body(_polygon(swapped)))
    assert r.status_code == 422 and "swapped" in r.json()["detail"]
    r = hostile.client.get("/grids/locate", params={"lon": 39.9, "lat": 116.4})
    assert r.status_code == 422
    r = hostile.client.get("/grids/locate", params={"lon": 116.4, "lat": 39.9, "crs": "moon"})
    assert 400 <= r.status_code < 500 and "moon" in r.json()["detail"]
    body = _validate_body(_polygon(SQUARE)) | {"grids_crs": "EPSG:999999"}
    r = hostile.client.post("/divisions/validate", json=body)
    assert 400 <= r.status_code < 500 and "999999" in r.json()["detail"]
    _still_serving(hostile)
    # the CLI: swapped columns and a CRS that does not exist
    csv = tmp_path / "points.csv"
    csv.write_text("lon,lat\n39.9,116.4\n")
    grids = tmp_path / "grids.geojson"
    gpd.GeoDataFrame({"code": ["a"]}, geometry=[shapely.Polygon(SQUARE)], crs=4326).to_file(grids)
    r = runner.invoke(
        cli_app, ["assign", str(csv), "--grids", str(grids), "--out", str(tmp_path / "o.csv")]
    )
    assert r.exit_code == 2 and "swapped" in r.output
    r = runner.invoke(
        cli_app, ["validate", str(grids), "--boundary", str(grids), "--grids-crs", "moon"]
    )
    assert r.exit_code == 2 and "moon" in r.output


# --------------------------------------------------------------------------- uploads


def _zip_bomb(path: Path, expanded_mib: int) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for ext in (".shx", ".dbf"):
            zf.writestr("grids" + ext, b"\0" * 100)
        with zf.open("grids.shp", "w", force_zip64=True) as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(expanded_mib):
                member.write(chunk)
    return path


def _planner_upload(api: Api, grids: Path, boundary: Path):
    return api.client.post(
        "/divisions/files",
        headers=api.as_("admin"),
        data={"community": "测试社区"},
        files={
            "grids": (grids.name, grids.read_bytes()),
            "boundary": (boundary.name, boundary.read_bytes()),
        },
    )


def test_zip_bomb_upload_is_refused_without_expanding(hostile, tmp_path):
    bomb = _zip_bomb(tmp_path / "grids.zip", 300)
    assert bomb.stat().st_size < 2 * 1024 * 1024  # small on the wire, 300 MiB inside
    boundary = tmp_path / "boundary.geojson"
    boundary.write_text(json.dumps(_polygon(SQUARE)))
    r = _planner_upload(hostile, bomb, boundary)
    assert r.status_code == 422, r.text
    assert "200 MiB" in r.json()["detail"] and "without expanding" in r.json()["detail"]
    _still_serving(hostile)
    r = runner.invoke(cli_app, ["validate", str(bomb), "--boundary", str(boundary)])
    assert r.exit_code == 2 and "200 MiB" in " ".join(r.output.split())


def test_shapefile_with_a_broken_dbf_encoding(hostile, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    frame = gpd.GeoDataFrame(
        {"code": ["a"], "name": ["XXXXXX"]}, geometry=[shapely.Polygon(SQUARE)], crs=4326
    )
    frame.to_file(folder / "grids.shp", engine="pyogrio")
    (folder / "grids.cpg").unlink()
    dbf = folder / "grids.dbf"
    dbf.write_bytes(dbf.read_bytes().replace(b"XXXXXX", b"\xff\xfe\xff\xfe\xff\xfe"))
    zipped = tmp_path / "grids.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    boundary = tmp_path / "boundary.geojson"
    boundary.write_text(json.dumps(_polygon(SQUARE)))
    r = _planner_upload(hostile, zipped, boundary)
    assert r.status_code == 400, r.text
    assert "neither UTF-8 nor GBK" in r.json()["detail"]
    _still_serving(hostile)
    r = runner.invoke(cli_app, ["validate", str(folder / "grids.shp"), "--boundary", str(boundary)])
    assert r.exit_code == 2 and "GBK" in r.output


def test_huge_xlsx_is_refused_by_the_importer_when_local_files_are_bounded(tmp_path):
    from openpyxl import Workbook

    path = tmp_path / "houses.xlsx"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("房屋")
    sheet.append(["门牌地址", "经度", "纬度"])
    for i in range(100_001):
        sheet.append([f"路 {i} 号", 116.0, 39.0])
    book.save(path)
    db = f"sqlite:///{tmp_path / 'import.db'}"
    bounded = ["--max-rows", "100000"]  # local files have no row bound unless asked for
    r = runner.invoke(
        cli_app,
        [*bounded, "import", "houses", str(path), "--community", "310101002005", "--db", db],
    )
    assert r.exit_code == 2, r.output
    assert "100,000" in r.output
    engine = sa.create_engine(db)
    with engine.connect() as conn:  # nothing was written
        assert conn.execute(sa.text("SELECT count(*) FROM houses")).scalar_one() == 0
    engine.dispose()
    # and the GIS reader (points from a spreadsheet) refuses it the same way
    grids = tmp_path / "grids.geojson"
    gpd.GeoDataFrame({"code": ["a"]}, geometry=[shapely.Polygon(SQUARE)], crs=4326).to_file(grids)
    r = runner.invoke(
        cli_app,
        [*bounded, "assign", str(path), "--grids", str(grids), "--out", str(tmp_path / "o.csv")],
    )
    assert r.exit_code == 2 and "100,000" in r.output


def test_oversized_body_is_413(hostile):
    body = b'{"grids": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    r = hostile.client.post(
        "/divisions/validate", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and "20 MiB" in r.json()["detail"]
    _still_serving(hostile)


# --------------------------------------------------------------------------- time


def test_slow_request_is_504_and_commits_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'slow.db'}"
    add_users(url, {"admin": (Role.ADMIN, [])})
    app = create_app(url, limits=Limits.from_settings(request_timeout_s=0.3))

    @app.post("/_slow_write")
    def slow_write() -> dict:  # a handler that writes only after the deadline
        time.sleep(1.0)
        with app.state.sessions() as session:
            session.execute(sa.text("INSERT INTO streets (code, name) VALUES ('1', 'late')"))
            session.commit()
        return {"ok": True}

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/_slow_write")
        assert r.status_code == 504
        assert "0.3 s" in r.json()["detail"] and "nothing was saved" in r.json()["detail"]
        assert client.get("/health").status_code == 200
        with app.state.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM streets")).scalar_one() == 0
