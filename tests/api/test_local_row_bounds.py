"""A user's own files on the command line have no row bound; uploads through the API keep theirs.

One CSV of 150,000 houses (above the upload bound of 100,000): ``wangge assign`` and
``wangge import`` take it with no setting, on both databases; the same file uploaded to
``POST /imports/houses`` is refused with 422 naming the bound. Grid codes are checked against
the rule by brute force (``tests.conftest.expected_code``) on the demo grids.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli_app
from api.db.engine import make_engine
from api.db.models import Role
from gis.errors import InputError
from gis.io import get_read_limits
from tests.api.routes.conftest import Api, ManualClock, add_users
from tests.api.test_import import COMMUNITY, demo_frames, store_demo
from tests.conftest import expected_code

runner = CliRunner()
DATA = Path(__file__).resolve().parents[2] / "data"
N_ROWS = 150_000  # over the upload bound (100,000)


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    """150,000 houses at four places: three grids' inner points and one point outside."""
    grids = gpd.read_file(DATA / "demo" / "grids.geojson")
    places = [g.representative_point() for g in grids.geometry[:3]] + [shapely.Point(121, 31)]
    which = np.arange(N_ROWS) % len(places)
    frame = pd.DataFrame(
        {
            "门牌号码": [f"大表路{i}号" for i in range(N_ROWS)],
            "经度": [places[k].x for k in which],
            "纬度": [places[k].y for k in which],
        }
    )
    path = tmp_path_factory.mktemp("big") / "houses.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def test_assign_takes_a_big_local_csv_without_any_setting(big_csv, tmp_path, monkeypatch):
    monkeypatch.delenv("WANGGE_MAX_LOCAL_ROWS", raising=False)
    out = tmp_path / "assigned.csv"
    grid_file = str(DATA / "demo" / "grids.geojson")
    r = runner.invoke(cli_app, ["assign", str(big_csv), "--grids", grid_file, "--out", str(out)])
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(got) == N_ROWS
    grids = gpd.read_file(DATA / "demo" / "grids.geojson")
    truth = {
        (x, y): expected_code(grids, shapely.Point(float(x), float(y)))
        for x, y in set(zip(got["经度"], got["纬度"], strict=True))
    }
    expected = [truth[xy] or "" for xy in zip(got["经度"], got["纬度"], strict=True)]
    assert got["grid_code"].tolist() == expected
    assert (got["outside"] == "True").sum() == N_ROWS // 4
    # asked for, a bound on local files refuses the same file (exit 2, nothing written)
    bounded = tmp_path / "bounded.csv"
    bound = ["--max-rows", "100000"]
    r = runner.invoke(
        cli_app, [*bound, "assign", str(big_csv), "--grids", grid_file, "--out", str(bounded)]
    )
    assert r.exit_code == 2 and "100,000" in r.output and not bounded.exists()


def test_a_bound_on_local_files_covers_the_grids_read_beside_the_points(tmp_path):
    """``assign`` reads the grids on a second thread while it reads the points: the bound
    asked for (--max-rows) applies there too, refusing a grids file with more features."""
    grid_file = DATA / "demo" / "grids.geojson"
    n_grids = len(gpd.read_file(grid_file))
    points = tmp_path / "two.csv"
    pd.DataFrame({"lon": [121.0, 121.1], "lat": [31.0, 31.1]}).to_csv(points, index=False)
    out = tmp_path / "assigned.csv"
    bound = ["--max-rows", str(n_grids - 1)]
    args = ["assign", str(points), "--grids", str(grid_file), "--out", str(out)]
    before = get_read_limits()
    r = runner.invoke(cli_app, [*bound, *args])
    assert r.exit_code == 2 and f"{n_grids - 1:,}" in r.output and not out.exists(), r.output
    r = runner.invoke(cli_app, ["--max-rows", str(n_grids), *args])
    assert r.exit_code == 0, r.output
    # the bounds a run puts in force end with it: an in-process caller keeps its own
    assert get_read_limits() == before


def test_import_takes_it_and_the_api_upload_refuses_it(big_csv, fresh_db_url, monkeypatch):
    monkeypatch.delenv("WANGGE_MAX_LOCAL_ROWS", raising=False)
    store_demo(fresh_db_url, demo_frames())
    add_users(fresh_db_url, {"admin": (Role.ADMIN, [])})
    engine = make_engine(fresh_db_url)

    def houses() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM houses")).scalar_one()

    try:
        before = houses()
        app = create_app(
            fresh_db_url,
            secret_key="row-bounds-secret-0123456789abcdef0123456",
            clock=ManualClock(dt.datetime.now(dt.UTC)),
        )
        with TestClient(app) as client:
            api = Api(client=client, url=fresh_db_url, clock=app.state.clock)
            r = client.post(
                "/imports/houses",
                headers=api.as_("admin"),
                data={"community": COMMUNITY},
                files={"file": (big_csv.name, big_csv.read_bytes(), "text/csv")},
            )
        assert r.status_code == 422, r.text[:500]
        assert "100,000" in r.json()["detail"]
        assert houses() == before  # nothing written by the refused upload

        args = ["import", "houses", str(big_csv), "--community", COMMUNITY, "--db", fresh_db_url]
        r = runner.invoke(cli_app, [*args, "--json"])
        assert r.exit_code == 0, r.output[-2000:]
        assert houses() == before + N_ROWS
    finally:
        engine.dispose()


def test_a_parquet_register_reads_as_the_same_csv_does(tmp_path):
    from api.services.registry.importer import read_table

    frame = pd.DataFrame(
        {
            "门牌号码": ["甲路1号", "乙路2号"],
            "经度": ["121.48", "121.49"],
            "纬度": ["31.23", "31.24"],
        }
    )
    frame.to_csv(tmp_path / "h.csv", index=False, encoding="utf-8-sig")
    frame.to_parquet(tmp_path / "h.parquet")
    assert read_table(tmp_path / "h.parquet", "houses") == read_table(tmp_path / "h.csv", "houses")
    with pytest.raises(InputError, match="more than 1 data rows"):
        read_table(tmp_path / "h.parquet", "houses", max_rows=1)
