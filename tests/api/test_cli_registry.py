"""`wangge template | import | export` through a fresh Typer app, on both databases: exit codes,
JSON, reports, and what is (not) written."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.db.engine import make_engine
from api.services.registry.templates import COLUMNS, DATA_SHEET
from gis.io import read_layer
from tests.api.test_import import (
    COMMUNITY,
    demo_frames,
    make_id,
    refuse_house,
    store_demo,
    write_csv,
)

runner = CliRunner()


APP = cli_app  # the real `wangge` command, as users run it


@pytest.fixture
def url(fresh_db_url) -> str:
    store_demo(fresh_db_url, demo_frames())
    return fresh_db_url


def _scalar(url: str, sql: str, **params):
    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql), params).scalar_one()
    engine.dispose()
    return value


def _houses(url: str) -> int:
    return _scalar(url, "SELECT count(*) FROM houses")


def _said(result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def _json(result) -> dict:
    return json.loads(result.stdout)


@pytest.mark.parametrize("kind", ["houses", "residents", "staff"])
def test_template_writes_the_chinese_header_row(kind, tmp_path):
    result = runner.invoke(APP, ["template", kind, "--out", str(tmp_path / "t.xlsx"), "--json"])
    assert result.exit_code == 0, result.output
    headers = [c.header_zh for c in COLUMNS[kind]]
    assert _json(result)["columns"] == headers
    ws = load_workbook(tmp_path / "t.xlsx")[DATA_SHEET[kind]]
    assert [c.value for c in ws[1]] == headers


def test_template_bad_kind_or_extension_exits_2(tmp_path):
    assert (
        runner.invoke(APP, ["template", "people", "--out", str(tmp_path / "t.xlsx")]).exit_code == 2
    )
    result = runner.invoke(APP, ["template", "houses", "--out", str(tmp_path / "t.csv")])
    assert result.exit_code == 2 and "xlsx" in _said(result)


def test_import_good_file_exits_0_and_records_who(url, tmp_path):
    path = write_csv(
        tmp_path / "h.csv",
        [{"门牌号码": f"命令行路{i}号", "经度": 121.484, "纬度": 31.2398} for i in range(1, 4)],
    )
    before = _houses(url)
    args = ["import", "houses", str(path), "--community", COMMUNITY, "--db", url]
    result = runner.invoke(APP, [*args, "--user", "录入员", "--json"])
    assert result.exit_code == 0, result.output
    payload = _json(result)
    assert (payload["rows"], payload["imported"], payload["errors"]) == (3, 3, [])
    assert _houses(url) == before + 3
    who = _scalar(
        url,
        "SELECT count(*) FROM change_log WHERE table_name = 'houses' AND action = 'insert' "
        "AND username = :u",
        u="录入员",
    )
    assert who == 3


def test_import_with_bad_rows_exits_1_writes_nothing_and_reports(url, tmp_path):
    good = {"姓名": "好人", "身份证号码": make_id("19900307", 123), "人口类型": "户籍人口",
            "门牌号码": "上海市黄浦区九江路1号"}  # fmt: skip
    rows = [good, {**good, "姓名": "无房", "身份证号码": make_id("19900308", 125),
                   "门牌号码": "不存在路1号"}]  # fmt: skip
    path = write_csv(tmp_path / "r.csv", rows)
    report = tmp_path / "out" / "report.csv"
    args = ["import", "residents", str(path), "--community", COMMUNITY, "--db", url]
    result = runner.invoke(APP, [*args, "--report", str(report)])
    assert result.exit_code == 1, result.output
    assert "不存在路1号" in result.output and "nothing imported" in _said(result)
    assert _scalar(url, "SELECT count(*) FROM residents") == 0
    with report.open(encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))
    assert lines[0][0] == "行号 row"
    assert lines[1:] == [["3", "门牌号码", "door_plate", "不存在路1号",
                          "本社区没有此门牌号码的房屋",
                          "no house with this door plate in the community"]]  # fmt: skip

    result = runner.invoke(APP, [*args, "--only-good-rows", "--json"])
    assert result.exit_code == 1
    assert (_json(result)["imported"], _json(result)["rejected_rows"]) == (1, [3])
    assert _scalar(url, "SELECT count(*) FROM residents") == 1


def test_unusable_file_or_community_exits_2_and_writes_nothing(url, tmp_path):
    before = _houses(url)
    no_plate = write_csv(tmp_path / "a.csv", [{"产权人": "张三"}])
    good = write_csv(tmp_path / "b.csv", [{"门牌号码": "好路1号"}])
    cases = [
        (["houses", str(no_plate), "--community", COMMUNITY], "门牌号码"),
        (["houses", str(tmp_path / "none.xlsx"), "--community", COMMUNITY], "file not found"),
        (["houses", str(good), "--community", "310101002999"], "no community"),
    ]
    for args, message in cases:
        result = runner.invoke(APP, ["import", *args, "--db", url])
        assert result.exit_code == 2 and message in _said(result), result.output
    assert _houses(url) == before


def test_database_error_exits_2_and_writes_nothing(url, tmp_path):
    engine = make_engine(url)
    refuse_house(engine, "坏路2号")
    engine.dispose()
    path = write_csv(tmp_path / "h.csv", [{"门牌号码": f"坏路{i}号"} for i in range(1, 4)])
    before = _houses(url)
    result = runner.invoke(
        APP, ["import", "houses", str(path), "--community", COMMUNITY, "--db", url]
    )
    assert result.exit_code == 2
    assert "nothing written: refused by test trigger" in _said(result)
    assert _houses(url) == before


def test_export_writes_the_layer(url, tmp_path):
    out = tmp_path / "houses.gpkg"
    result = runner.invoke(
        APP,
        ["export", "houses", "--community", COMMUNITY, "--db", url, "--out", str(out), "--json"],
    )
    assert result.exit_code == 0, result.output
    assert _json(result)["rows"] == _houses(url) == len(read_layer(out))
    result = runner.invoke(
        APP,
        [
            "export",
            "grids",
            "--community",
            COMMUNITY,
            "--db",
            url,
            "--out",
            str(tmp_path / "g.shp"),
        ],
    )
    assert result.exit_code == 0 and "grids (current): 12" in _said(result)
    bad = runner.invoke(
        APP, ["export", "grids", "--community", "310101002999", "--db", url, "--out", str(out)]
    )
    assert bad.exit_code == 2 and "no community" in _said(bad)


def test_export_as_geoparquet_reads_back_as_the_geopackage_does(url, tmp_path):
    import shapely

    for layer in ("grids", "houses"):
        frames = []
        for ext in (".gpkg", ".parquet"):
            out = tmp_path / f"{layer}{ext}"
            args = ["export", layer, "--community", COMMUNITY, "--db", url, "--out", str(out)]
            result = runner.invoke(APP, args)
            assert result.exit_code == 0, result.output
            frames.append(read_layer(out))
        gpkg, parquet = frames
        assert len(parquet) == len(gpkg) > 0 and list(parquet.columns) == list(gpkg.columns)
        assert shapely.equals_exact(
            parquet.geometry.to_numpy(), gpkg.geometry.to_numpy(), tolerance=1e-9
        ).all()


def test_a_missing_database_is_created_and_migrated(tmp_path):
    db = tmp_path / "new.db"
    result = runner.invoke(
        APP,
        ["export", "houses", "--community", COMMUNITY, "--db", f"sqlite:///{db}",
         "--out", str(tmp_path / "h.gpkg")],
    )  # fmt: skip
    assert result.exit_code == 2 and "known: none" in _said(result)
    assert _scalar(f"sqlite:///{db}", "SELECT count(*) FROM alembic_version") == 1


def test_import_gcj02_houses_by_community_name_land_in_their_true_grids(url, tmp_path):
    """--input-crs gcj02 converts the house coordinates (made by a published converter);
    --community takes the name as well as the code."""
    import coord_convert.transform as cc
    import geopandas as gpd
    import shapely

    from tests.api.test_cli_crs import GRIDS, clear_of_edges, true_grid

    grids = gpd.read_file(GRIDS)
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = grids.total_bounds
    lon, lat = rng.uniform(minx, maxx, 60), rng.uniform(miny, maxy, 60)
    keep = clear_of_edges(lon, lat, grids)
    lon, lat = lon[keep], lat[keep]
    truth = true_grid(lon, lat, grids)
    rows = []
    for i, (x, y) in enumerate(zip(lon, lat, strict=True), start=1):
        gx, gy = cc.wgs2gcj(x, y)
        rows.append({"门牌号码": f"坐标路{i}号", "经度": gx, "纬度": gy})
    path = write_csv(tmp_path / "gcj.csv", rows)
    result = runner.invoke(APP, ["import", "houses", str(path), "--community", "外滩源社区",
                                 "--input-crs", "gcj02", "--db", url, "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT address, grid_code, ST_X(geom), ST_Y(geom) FROM houses "
                "WHERE address LIKE '坐标路%'"
            )
        ).all()
    engine.dispose()
    by_address = {r[0]: r for r in stored}
    assert len(by_address) == len(rows)
    for i, expected in enumerate(truth, start=1):
        _, code, x, y = by_address[f"坐标路{i}号"]
        assert code == expected
        assert shapely.Point(x, y).distance(shapely.Point(lon[i - 1], lat[i - 1])) < 1e-6


def test_community_name_and_code_are_the_same_for_export(url, tmp_path):
    paths = []
    for key in (COMMUNITY, "外滩源社区", " 外滩源社区 "):
        out = tmp_path / f"g{len(paths)}.geojson"
        result = runner.invoke(APP, ["export", "grids", "-c", key, "--db", url, "--out", str(out)])
        assert result.exit_code == 0, result.output
        paths.append(out)
    frames = [read_layer(p) for p in paths]
    assert all(f["code"].tolist() == frames[0]["code"].tolist() for f in frames)
    bad = runner.invoke(APP, ["export", "grids", "-c", "没有这个社区", "--db", url,
                              "--out", str(tmp_path / "x.gpkg")])  # fmt: skip
    assert bad.exit_code == 2
    assert "no community with code or name '没有这个社区'; known: 外滩源社区 (310101002005)" in (
        _said(bad)
    )
