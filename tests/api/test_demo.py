"""`wangge demo` on both databases: load, validate, join, and the database agreeing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app
from api.db.engine import make_engine
from api.services.demo import DEMO_FILES, RESIDENTS_FILE, SPECIALS_FILE, STAFF_FILE, load_demo
from gis.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture
def demo_url(fresh_db_url):
    """A database of its own for each demo test: the demo replaces whole communities."""
    return fresh_db_url


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        counts = {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in (
                "communities",
                "grids",
                "houses",
                "incidents",
                "residents",
                "special_statuses",
                "staff",
            )
        }
    engine.dispose()
    return counts


def test_demo_loads_validates_and_joins(demo_url):
    summary = load_demo(db_url=demo_url)
    houses = pd.read_csv(DATA / DEMO_FILES["houses"])
    incidents = pd.read_csv(DATA / DEMO_FILES["incidents"])
    grids = gpd.read_file(DATA / DEMO_FILES["grids"])

    assert summary["validation"]["current"]["valid"] is True
    assert summary["validation"]["current"]["findings"] == 0
    defective = summary["validation"]["defective"]
    assert defective["valid"] is False
    planted = json.loads((DATA / "demo/defects.json").read_text(encoding="utf-8"))["defects"]
    assert {d["kind"] for d in planted} <= set(defective["kinds"])

    assert summary["houses"] == {"total": len(houses), "outside": 0, "db_agrees": len(houses)}
    assert summary["incidents"]["db_agrees"] == len(incidents)
    per_grid = {g["code"]: g for g in summary["grids"]}
    assert set(per_grid) == set(grids["code"])
    assert sum(g["houses"] for g in per_grid.values()) == len(houses)
    assert sum(g["households"] for g in per_grid.values()) == houses["households"].sum()
    # the file's own household count per grid was computed by the generator independently
    for code, households in zip(grids["code"], grids["households"], strict=True):
        assert per_grid[code]["households"] == households
    assert 1e6 < summary["community"]["area_m2"] < 4e6

    counts = _counts(demo_url)
    assert counts["grids"] == len(grids)  # only the division that validates is stored
    assert counts["houses"] == len(houses) and counts["incidents"] == len(incidents)
    # the fictional residents went through the registry import, statuses beside them
    residents = pd.read_csv(DATA / RESIDENTS_FILE, dtype=str)
    specials = pd.read_csv(DATA / SPECIALS_FILE, dtype=str)
    assert summary["residents"] == {
        "residents": len(residents),
        "special_statuses": len(specials),
    }
    assert counts["residents"] == len(residents) and counts["special_statuses"] == len(specials)
    # the register's staff, plus the post staff the incident workflow run adds
    assert counts["staff"] >= len(pd.read_csv(DATA / STAFF_FILE))


def test_demo_twice_replaces_instead_of_duplicating(demo_url):
    load_demo(db_url=demo_url)
    first = _counts(demo_url)
    load_demo(db_url=demo_url)
    assert _counts(demo_url) == first


def test_demo_failure_writes_nothing(demo_url, tmp_path):
    load_demo(db_url=demo_url)
    before = _counts(demo_url)
    bad = tmp_path / "data"
    shutil.copytree(DATA, bad)
    houses = pd.read_csv(bad / DEMO_FILES["houses"], dtype=str)
    houses.loc[len(houses) - 1, "house_id"] = houses.loc[0, "house_id"]  # duplicate key
    houses.to_csv(bad / DEMO_FILES["houses"], index=False)
    with pytest.raises(InputError, match="nothing was written"):
        load_demo(db_url=demo_url, data_dir=bad)
    assert _counts(demo_url) == before


def test_demo_bad_time_names_the_row(tmp_path):
    bad = tmp_path / "data"
    shutil.copytree(DATA, bad)
    incidents = pd.read_csv(bad / DEMO_FILES["incidents"], dtype=str)
    incidents.loc[4, "reported_at"] = "yesterday"
    incidents.to_csv(bad / DEMO_FILES["incidents"], index=False)
    with pytest.raises(InputError, match="row 6"):
        load_demo(db_url=f"sqlite:///{tmp_path / 'x.db'}", data_dir=bad)


def test_demo_cli_json(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(app, ["demo", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {"db", "community", "grids", "validation", "houses", "incidents"} <= set(payload)
    assert payload["houses"]["db_agrees"] == payload["houses"]["total"]


def test_demo_division_is_in_effect_and_answers_locate_by_date(demo_url):
    import datetime as dt

    from api.db.dialect import grid_code_at
    from api.db.engine import session_factory
    from api.services.demo import DEMO_EFFECTIVE_FROM

    load_demo(db_url=demo_url)
    houses = pd.read_csv(DATA / DEMO_FILES["houses"])
    first = houses.iloc[0]
    engine = make_engine(demo_url)
    with session_factory(engine)() as session:
        on_day = grid_code_at(session, first["lon"], first["lat"], on=DEMO_EFFECTIVE_FROM)
        before = grid_code_at(
            session, first["lon"], first["lat"], on=DEMO_EFFECTIVE_FROM - dt.timedelta(days=1)
        )
    engine.dispose()
    grids = gpd.read_file(DATA / DEMO_FILES["grids"])
    point = gpd.points_from_xy([first["lon"]], [first["lat"]])[0]
    assert on_day == min(
        c for c, g in zip(grids["code"], grids.geometry, strict=True) if g.covers(point)
    )
    assert before is None  # no division was in effect before the demo's start date


def test_demo_writes_its_maps_and_printouts(tmp_path):
    from maps.assets import remote_links
    from maps.tile_archive import open_archive
    from maps.web import FINDING_STYLES

    out = tmp_path / "out"
    summary = load_demo(db_url=f"sqlite:///{tmp_path / 'demo.db'}", out_dir=out)
    outputs = {k: Path(v) for k, v in summary["outputs"].items()}
    assert set(outputs) == {
        "division_map", "validation_map", "incident_heatmap", "incident_hotspots",
        "division_diagram", "boards", "basemap",
    }  # fmt: skip
    assert all(p.parent == out and p.stat().st_size > 0 for p in outputs.values())
    tiles = open_archive(outputs["basemap"])
    assert (tiles.minzoom, tiles.maxzoom) == (10, 16)
    assert {v["id"] for v in tiles.metadata["vector_layers"]} >= {"roads", "buildings", "water"}
    html = outputs["division_map"].read_text(encoding="utf-8")
    assert remote_links(html) == [] and "© OpenStreetMap contributors" in html
    # the validation map shows the planted defects of the defective division
    validation = outputs["validation_map"].read_text(encoding="utf-8")
    planted = json.loads((DATA / "demo/defects.json").read_text(encoding="utf-8"))["defects"]
    assert all(FINDING_STYLES[d["kind"]][2] in validation for d in planted)
