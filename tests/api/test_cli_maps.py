"""Maps and printouts of a stored community: read back from the database, drawn, printed."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.db.engine import make_engine, session_factory
from api.services.community_data import read_community
from api.services.demo import load_demo
from api.services.registry.codes import code_table
from maps.assets import remote_links

DATA = Path(__file__).resolve().parents[2] / "data"
runner = CliRunner()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('maps') / 'demo.db'}"
    load_demo(db_url=url)
    return url


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_read_community_gives_what_was_stored(fresh_db_url):
    load_demo(db_url=fresh_db_url)
    engine = make_engine(fresh_db_url)
    with session_factory(engine)() as session:
        data = read_community(session, "外滩源社区")
        by_code = read_community(session, "310101002005")
    engine.dispose()
    grids = gpd.read_file(DATA / "demo/grids.geojson")
    staff = pd.read_csv(DATA / "demo/staff.csv", dtype=str)
    assert data.code == by_code.code == "310101002005"
    assert sorted(data.grids["code"]) == sorted(grids["code"])
    assert len(data.houses) == len(pd.read_csv(DATA / "demo/houses.csv"))
    assert data.houses["grid_code"].notna().all()
    assert len(data.incidents) == len(pd.read_csv(DATA / "demo/incidents.csv"))
    # one staff row per (person, grid served); roles read as their Chinese names
    expected = sum(len(codes.split(",")) for codes in staff["grid_codes"])
    assert len(data.staff) == expected
    roles = code_table("staff_role")
    assert set(data.staff["role"]) == {roles.name_zh(r) for r in staff["role"]}
    assert {"网格长", "专职网格员", "网格警员（社区民警）"} <= set(data.staff["role"])
    # staff numbers as stored from the file
    assert set(data.staff["staff_no"]) == set(staff["staff_no"])
    areas = data.grids.to_crs(4549).area.sum()
    assert areas == pytest.approx(data.boundary.to_crs(4549).area.sum(), rel=1e-9)


def test_map_division_is_offline_and_public(demo_db, tmp_path):
    out = tmp_path / "division.html"
    result = run("map", "division", "--community", "外滩源社区", "--db", demo_db, "--out", out)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert remote_links(html) == []
    grids = gpd.read_file(DATA / "demo/grids.geojson")
    assert all(code in html for code in grids["code"])
    houses = pd.read_csv(DATA / "demo/houses.csv")
    assert not any(address in html for address in houses["address"])  # public map: no houses
    staff_view = tmp_path / "staff.html"
    result = run(
        "map", "division", "-c", "外滩源社区", "--db", demo_db, "--out", staff_view, "--staff-view"
    )
    assert result.exit_code == 0
    assert houses["address"].iloc[0] in staff_view.read_text(encoding="utf-8")


@pytest.mark.parametrize("style", ["heatmap", "choropleth", "hotspots"])
def test_map_incidents_each_style(demo_db, tmp_path, style):
    out = tmp_path / f"{style}.html"
    result = run(
        "map", "incidents", "-c", "310101002005", "--db", demo_db, "--out", out,
        "--style", style, "--category", "03", "--from", "2026-08-01", "--to", "2026-11-01",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert remote_links(out.read_text(encoding="utf-8")) == []


def test_map_bad_input_exits_2(demo_db, tmp_path):
    out = tmp_path / "x.html"
    result = run("map", "division", "-c", "nowhere", "--db", demo_db, "--out", out)
    assert result.exit_code == 2 and "nowhere" in result.stderr
    result = run("map", "incidents", "-c", "外滩源社区", "--db", demo_db, "--out", out,
                 "--from", "yesterday")  # fmt: skip
    assert result.exit_code == 2 and "--from" in result.stderr
    assert not out.exists()


def test_print_division_pdf_has_the_chinese_title(demo_db, tmp_path):
    out = tmp_path / "division.pdf"
    result = run("print", "division", "-c", "外滩源社区", "--db", demo_db, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["out"] == [str(out)]
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "外滩源社区" in text and "OpenStreetMap" not in text  # no OSM roads drawn here


def test_print_boards_png_one_file_per_grid(demo_db, tmp_path):
    out = tmp_path / "board.png"
    result = run("print", "boards", "-c", "外滩源社区", "--db", demo_db, "--out", out,
                 "--paper", "A3", "--landscape", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)["out"]
    grids = gpd.read_file(DATA / "demo/grids.geojson")
    assert [Path(p).name for p in written] == [f"board-{c}.png" for c in sorted(grids["code"])]
    assert all(re.fullmatch(r"board-\d{15}\.png", Path(p).name) for p in written)


def _title(html: str) -> str:
    found = re.search(r"<title>([^<]*)</title>", html)
    return found.group(1).strip() if found else ""


def test_every_map_and_page_has_a_title(demo_db, tmp_path):
    """Each file ``wangge map`` writes, each /maps/ page and each app page has a <title>."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    written = []
    for kind, extra in (
        ("division", []),
        ("division", ["--staff-view"]),
        ("validation", []),
        *(("incidents", ["--style", s]) for s in ("heatmap", "choropleth", "hotspots")),
    ):
        out = tmp_path / f"{kind}-{len(written)}.html"
        result = run("map", kind, "-c", "外滩源社区", "--db", demo_db, "--out", out, *extra)
        assert result.exit_code == 0, result.output
        written.append(out)
    for path in written:
        assert _title(path.read_text(encoding="utf-8")), path.name
    assert "外滩源社区" in _title(written[0].read_text(encoding="utf-8"))
    community = "310101002005"
    urls = [
        f"/maps/division/{community}",
        f"/maps/validation/{community}",
        *(f"/maps/incidents?community={community}&style={s}" for s in ("heatmap", "hotspots")),
        "/app/", "/app/worker", "/app/inbox", "/app/incident/1", "/app/dashboard",
        "/app/approvals", "/app/import", "/app/audit", "/public", f"/planner/{community}",
    ]  # fmt: skip
    with TestClient(create_app(demo_db)) as client:
        for url in urls:
            response = client.get(url)
            if response.status_code != 200 or "html" not in response.headers["content-type"]:
                assert url.startswith("/planner"), (url, response.status_code)
                continue
            assert _title(response.text), url


def test_print_division_with_osm_base_map(demo_db, tmp_path):
    """--osm draws the base layers in the tile style's colours (water, buildings, major roads)."""
    import numpy as np
    from PIL import Image

    from maps.basemap_style import COLOURS

    osm = DATA / "demo/osm_bund.gpkg"
    shares = {}
    for name, extra in (("plain", []), ("base", ["--osm", osm])):
        out = tmp_path / f"{name}.png"
        result = run("print", "division", "-c", "外滩源社区", "--db", demo_db, "--out", out, *extra)
        assert result.exit_code == 0, result.output
        pixels = np.asarray(Image.open(out).convert("RGB"), dtype=int)
        shares[name] = {
            key: float((np.abs(pixels - _rgb(COLOURS[key])).max(axis=2) <= 3).mean())
            for key in ("water", "buildings", "road_major")
        }
    assert shares["base"]["water"] > 0.05  # the Huangpu, unblended outside the grids
    assert shares["base"]["buildings"] > 0.01 and shares["base"]["road_major"] > 0.001
    assert all(v < 1e-3 for v in shares["plain"].values())
    missing = tmp_path / "none.gpkg"
    bad = tmp_path / "bad.pdf"
    result = run("print", "division", "-c", "外滩源社区", "--db", demo_db, "--osm", missing,
                 "--out", bad)  # fmt: skip
    # rich wraps long paths in the message: compare without line breaks
    assert result.exit_code == 2 and "none.gpkg" in result.stderr.replace("\n", "")
    assert not bad.exists()


def _rgb(hex_colour: str) -> list[int]:
    return [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
