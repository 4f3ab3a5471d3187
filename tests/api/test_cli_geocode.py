"""`wangge geocode` and `wangge geocode-eval`, registered on a fresh Typer app."""

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from api.cli.gazetteer import app as gazetteer_app
from api.cli.geocode import geocode_command, geocode_eval_command

ROOT = Path(__file__).resolve().parents[2]
HOUSES = ROOT / "data" / "demo" / "houses.csv"
GRIDS = ROOT / "data" / "demo" / "grids.geojson"
CASES = ROOT / "tests" / "gis" / "geocode_cases.csv"

app = typer.Typer()
app.command("geocode")(geocode_command)
app.command("geocode-eval")(geocode_eval_command)
app.add_typer(gazetteer_app, name="gazetteer")
runner = CliRunner()

ADDRESSES = ["上海市黄浦区九江路1号", "四川路12号", "", "九江路12弄", "北京市东城区永安路11号"]


@pytest.fixture()
def table(tmp_path) -> Path:
    path = tmp_path / "addresses.csv"
    pd.DataFrame({"编号": range(1, 6), "地址": ADDRESSES}).to_csv(path, index=False)
    return path


def test_geocode_csv_to_csv_keeps_every_row(table, tmp_path):
    out = tmp_path / "result.csv"
    result = runner.invoke(
        app,
        [
            "geocode",
            str(table),
            "--column",
            "地址",
            "--gazetteer",
            str(HOUSES),
            "--grids",
            str(GRIDS),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(written["编号"]) == ["1", "2", "3", "4", "5"]
    assert list(written["match_level"]) == ["doorplate", "none", "none", "road", "none"]
    houses = pd.read_csv(HOUSES)
    first = houses[houses["address"] == "上海市黄浦区九江路1号"].iloc[0]
    assert float(written.loc[0, "lon"]) == pytest.approx(first["lon"])
    assert written.loc[0, "grid_code"] != ""
    assert json.loads(written.loc[1, "candidates"])
    assert "doorplate" in result.output


def test_geocode_json_summary_and_geojson(table, tmp_path):
    out = tmp_path / "result.geojson"
    result = runner.invoke(
        app,
        [
            "geocode",
            str(table),
            "--column",
            "地址",
            "--gazetteer",
            str(HOUSES),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["rows"] == 5
    assert summary["by_level"] == {"doorplate": 1, "road": 1, "none": 3}
    assert summary["ambiguous"] == 1
    assert summary["unmatched"] == 2
    frame = gpd.read_file(out)
    assert len(frame) == 5
    assert frame.geometry.notna().sum() == 2


def test_geocode_xlsx_in_and_out(tmp_path):
    source = tmp_path / "addresses.xlsx"
    pd.DataFrame({"地址": ADDRESSES[:2]}).to_excel(source, index=False)
    out = tmp_path / "result.xlsx"
    result = runner.invoke(
        app,
        ["geocode", str(source), "--column", "地址", "--gazetteer", str(HOUSES), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert list(pd.read_excel(out)["match_level"]) == ["doorplate", "none"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--db", "sqlite:///{tmp}/empty.db"], "no door plates"),
        ([], "no gazetteer"),
        (["--gazetteer", str(HOUSES), "--address-column", "地址"], "地址"),
    ],
)
def test_geocode_bad_input_exits_2(table, tmp_path, extra, message):
    extra = [e.format(tmp=tmp_path) for e in extra]
    result = runner.invoke(
        app, ["geocode", str(table), "--column", "地址", "--out", str(tmp_path / "o.csv"), *extra]
    )
    assert result.exit_code == 2
    assert message in result.output


def test_geocode_missing_column_exits_2(table, tmp_path):
    result = runner.invoke(
        app,
        [
            "geocode",
            str(table),
            "--column",
            "address",
            "--gazetteer",
            str(HOUSES),
            "--out",
            str(tmp_path / "o.csv"),
        ],
    )
    assert result.exit_code == 2
    assert not (tmp_path / "o.csv").exists()


def test_geocode_eval_prints_the_report(tmp_path):
    result = runner.invoke(app, ["geocode-eval", str(CASES), "--gazetteer", str(HOUSES), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["meets_targets"] is True
    assert report["levels"]["doorplate"]["precision"] >= 0.98


def test_geocode_from_the_database_door_plates_and_grids(fresh_db_url, tmp_path):
    from api.services.demo import load_demo

    load_demo(db_url=fresh_db_url)
    houses = pd.read_csv(HOUSES)
    sample = houses.sample(20, random_state=3)
    source = tmp_path / "in.csv"
    pd.DataFrame({"地址": sample["address"].str.replace("上海市黄浦区", "", regex=False)}).to_csv(
        source, index=False
    )
    out = tmp_path / "out.csv"
    result = runner.invoke(
        app,
        ["geocode", str(source), "--column", "地址", "--db", fresh_db_url, "--out", str(out),
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out, dtype={"grid_code": str})
    assert (got["match_level"] == "doorplate").all()
    assert got["lon"].to_numpy() == pytest.approx(sample["lon"].to_numpy())
    # the grid comes from the division in effect in the database: the house's own grid
    grids = gpd.read_file(ROOT / "data/demo/grids.geojson")
    points = gpd.GeoSeries(gpd.points_from_xy(sample["lon"], sample["lat"]), crs=4326)
    expected = [min(c for c, g in zip(grids["code"], grids.geometry, strict=True) if g.covers(p))
                for p in points]  # fmt: skip
    assert got["grid_code"].tolist() == expected


def test_gazetteer_build_from_osm_then_geocode(tmp_path):
    gpkg = ROOT / "data" / "demo" / "osm_bund.gpkg"
    out = tmp_path / "gazetteer.csv"
    built = runner.invoke(
        app,
        [
            "gazetteer",
            "build",
            "--from",
            str(gpkg),
            "--out",
            str(out),
            "--prefix",
            "上海市",
            "--json",
        ],
    )
    assert built.exit_code == 0, built.output
    summary = json.loads(built.output)
    plates = pd.read_csv(out, dtype=str)
    assert summary["door_plates"] == len(plates) > 50
    assert plates["address"].str.startswith("上海市").all()
    buildings = gpd.read_file(gpkg, layer="buildings")
    tagged = buildings[buildings["addr_street"].notna() & buildings["addr_housenumber"].notna()]
    assert set(plates["road"]) == set(tagged["addr_street"])
    # the gazetteer is usable at once: its own door plates geocode to themselves
    table = tmp_path / "a.csv"
    first = plates.iloc[0]
    pd.DataFrame({"地址": [f"上海{first['road']}{first['number']}"]}).to_csv(table, index=False)
    result = runner.invoke(
        app,
        ["geocode", str(table), "--column", "地址", "--gazetteer", str(out), "--road-column",
         "road", "--out", str(tmp_path / "r.csv")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "r.csv")["matched_address"][0] == first["address"]


def test_gazetteer_build_bad_input_exits_2(tmp_path):
    missing = runner.invoke(
        app,
        ["gazetteer", "build", "--from", str(tmp_path / "x.osm"), "--out", str(tmp_path / "g.csv")],
    )
    assert missing.exit_code == 2
    assert "x.osm" in missing.output
    wrong_ext = runner.invoke(
        app, ["gazetteer", "build", "--from", str(HOUSES), "--out", str(tmp_path / "g.xlsx")]
    )
    assert wrong_ext.exit_code == 2
    assert not (tmp_path / "g.xlsx").exists()


def test_geocode_eval_on_the_real_set_reports_levels_and_classes():
    real = ROOT / "data" / "geocode_real"
    result = runner.invoke(
        app,
        ["geocode-eval", str(real / "cases.csv"), "--gazetteer", str(real / "door_plates.csv"),
         "--id-column", "id", "--road-column", "road", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert "lane" in report["levels"]
    assert {"plain", "prefix_run_together", "lane_building"} <= set(report["variants"])
    assert report["overall"]["precision"] >= 0.99 and report["overall"]["recall"] >= 0.95


def test_geocode_summary_counts_roads_in_several_grids(tmp_path):
    houses = pd.read_csv(HOUSES)
    grids = gpd.read_file(GRIDS)
    points = gpd.GeoSeries(gpd.points_from_xy(houses["lon"], houses["lat"]), crs=4326)
    codes = gpd.sjoin(gpd.GeoDataFrame(geometry=points), grids, predicate="within")["code"]
    per_road = houses.assign(code=codes).groupby("road")["code"].nunique()
    crossing, single = per_road[per_road > 1].index[0], per_road[per_road == 1].index[0]
    table = tmp_path / "roads.csv"
    pd.DataFrame({"地址": [crossing, single]}).to_csv(table, index=False)
    out = tmp_path / "r.csv"
    result = runner.invoke(
        app,
        ["geocode", str(table), "--column", "地址", "--gazetteer", str(HOUSES), "--grids",
         str(GRIDS), "--out", str(out), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["several_grids"], summary["outside_grids"]) == (1, 0)
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert written.loc[0, "grid_code"] == "" and json.loads(written.loc[0, "grid_candidates"])
    assert written.loc[1, "grid_code"] != "" and written.loc[1, "grid_candidates"] == ""
