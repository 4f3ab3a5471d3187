"""``wangge user create``, ``load division``, ``db copy`` (and ``serve`` in test_owslib.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.core.security import verify_password
from api.db.engine import make_engine

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
runner = CliRunner()


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    """The real `wangge` command, as users run it."""
    return cli_app


def _rows(url: str, sql: str):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).all()
    finally:
        engine.dispose()


def test_user_create_first_admin_on_a_fresh_database(cli, fresh_db_url):
    result = runner.invoke(
        cli,
        [
            "user",
            "create",
            "root",
            "--role",
            "admin",
            "--password-stdin",
            "--db",
            fresh_db_url,
            "--json",
        ],
        input="s3cret pass word\nrest\n",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["role"] == "admin"
    [(name, role, pw_hash)] = _rows(fresh_db_url, "SELECT username, role, password_hash FROM users")
    assert (name, role) == ("root", "admin")
    assert pw_hash.startswith("$argon2id$")
    assert verify_password("s3cret pass word", pw_hash)
    assert not verify_password("s3cret pass word\n", pw_hash)
    # with grids; a duplicate name, an unknown role, a short password and bad grid codes exit 2
    ok = runner.invoke(
        cli,
        [
            "user",
            "create",
            "gw",
            "--role",
            "grid_worker",
            "--grids",
            "310101002005001,310101002005002",
            "--password-stdin",
            "--db",
            fresh_db_url,
        ],
        input="another-password-7\n",
    )
    assert ok.exit_code == 0, ok.output and "gw" in ok.stdout
    grids = _rows(fresh_db_url, "SELECT grid_code FROM user_grids ORDER BY grid_code")
    assert [g for (g,) in grids] == ["310101002005001", "310101002005002"]
    for args, stdin, word in [
        (["root", "--role", "admin"], "another-password-7\n", "exists"),
        (["x", "--role", "boss"], "another-password-7\n", "unknown role"),
        (["y", "--role", "planner"], "short\n", "10 characters"),
        (["z", "--role", "planner", "--grids", "123"], "another-password-7\n", "15 digits"),
    ]:
        bad = runner.invoke(
            cli, ["user", "create", *args, "--password-stdin", "--db", fresh_db_url], input=stdin
        )
        assert bad.exit_code == 2, bad.output
        assert word in " ".join(bad.output.split())
    assert len(_rows(fresh_db_url, "SELECT id FROM users")) == 2


def test_user_create_prompts_for_the_password(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = runner.invoke(
        cli,
        ["user", "create", "ada", "--role", "planner", "--db", url],
        input="prompted-pass-9\nprompted-pass-9\n",
    )
    assert result.exit_code == 0, result.output
    [(pw_hash,)] = _rows(url, "SELECT password_hash FROM users")
    assert verify_password("prompted-pass-9", pw_hash)


def test_load_division_validates_stores_and_says_what_changed(cli, fresh_db_url):
    base = [
        "load",
        "division",
        "--boundary",
        str(DEMO / "boundary.geojson"),
        "--community",
        "外滩源社区",
        "--db",
        fresh_db_url,
    ]
    refused = runner.invoke(cli, [*base[:2], str(DEMO / "grids_defective.geojson"), *base[2:]])
    assert refused.exit_code == 1, refused.output
    assert "NOT stored" in refused.stdout
    assert _rows(fresh_db_url, "SELECT count(*) FROM grids")[0][0] == 0
    stored = runner.invoke(
        cli, [*base[:2], str(DEMO / "grids.geojson"), *base[2:], "--effective-date", "2026-01-01"]
    )
    assert stored.exit_code == 0, stored.output
    for text in ("外滩源社区 (310101002005", "created", "v1", "12", "2026-01-01"):
        assert text in stored.stdout
    again = runner.invoke(
        cli,
        [
            *base[:2],
            str(DEMO / "grids.geojson"),
            *base[2:],
            "--effective-date",
            "2026-02-01",
            "--json",
        ],
    )
    assert again.exit_code == 0, again.output
    payload = json.loads(again.stdout)
    assert payload["replaced"] == {"label": "v1", "effective_to": "2026-02-01"}
    assert payload["community"]["created"] is False and payload["division"]["version"] == 2
    rows = _rows(
        fresh_db_url, "SELECT label, effective_from, effective_to FROM divisions ORDER BY version"
    )
    assert [(r[0], str(r[1]), None if r[2] is None else str(r[2])) for r in rows] == [
        ("v1", "2026-01-01", "2026-02-01"),
        ("v2", "2026-02-01", None),
    ]
    # forced: a defective division is stored anyway (codes must exist, so it is bad input here)
    forced = runner.invoke(
        cli,
        [
            *base[:2],
            str(DEMO / "grids_defective.geojson"),
            *base[2:],
            "--force",
            "--effective-date",
            "2026-03-01",
        ],
    )
    assert forced.exit_code == 2 and "code" in forced.output
    for args in (["--effective-date", "tomorrow"], ["--code-field", "nope"]):
        bad = runner.invoke(cli, [*base[:2], str(DEMO / "grids.geojson"), *base[2:], *args])
        assert bad.exit_code == 2, bad.output
    missing = runner.invoke(cli, [*base[:2], str(DEMO / "nope.geojson"), *base[2:]])
    assert missing.exit_code == 2
    assert _rows(fresh_db_url, "SELECT count(*) FROM divisions")[0][0] == 2


@pytest.fixture
def empty_postgis(postgres_url, tmp_path_factory):
    """A new, empty PostGIS database (dropped afterwards)."""
    from tests.api.routes.conftest import _module_database

    gen = _module_database(postgres_url, tmp_path_factory)
    yield next(gen)
    next(gen, None)


def test_db_copy_sqlite_to_postgis_keeps_everything(cli, tmp_path, empty_postgis):
    from api.db.models import Role
    from api.services.demo import load_demo
    from tests.api.routes.conftest import add_users

    fresh_db_url = empty_postgis
    source = f"sqlite:///{tmp_path / 'source.db'}"
    load_demo(db_url=source)
    add_users(source, {"ada": (Role.ADMIN, ["310101002005001"])})
    tables = [
        "streets",
        "communities",
        "divisions",
        "grids",
        "houses",
        "incidents",
        "users",
        "user_grids",
        "change_log",
        "audit_log",
    ]
    result = runner.invoke(cli, ["db", "copy", "--from", source, "--to", fresh_db_url, "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)["tables"]
    for table in tables:
        want = _rows(source, f"SELECT count(*) FROM {table}")[0][0]
        assert _rows(fresh_db_url, f"SELECT count(*) FROM {table}")[0][0] == want == counts[table]
    src = dict(_rows(source, "SELECT code, AsBinary(geom) FROM grids"))
    dst = dict(_rows(fresh_db_url, "SELECT code, ST_AsBinary(geom) FROM grids"))
    assert src.keys() == dst.keys()
    for code, wkb in src.items():  # bit for bit
        assert shapely.from_wkb(bytes(wkb)).equals_exact(shapely.from_wkb(bytes(dst[code])), 0)
    assert _rows(fresh_db_url, "SELECT DISTINCT ST_SRID(geom) FROM houses") == [(4326,)]
    # sequences continue after the copied ids
    engine = make_engine(fresh_db_url)
    with engine.begin() as conn:
        new_id = conn.execute(
            sa.text("INSERT INTO streets (code, name) VALUES ('999999999', 'x') RETURNING id")
        ).scalar_one()
    engine.dispose()
    assert new_id > max(i for (i,) in _rows(source, "SELECT id FROM streets"))
    # a non-empty target is refused
    again = runner.invoke(cli, ["db", "copy", "--from", source, "--to", fresh_db_url])
    assert again.exit_code == 2 and "not empty" in " ".join(again.output.split())


def _load(cli, db: str, grids: Path, *extra: str):
    return runner.invoke(
        cli,
        ["load", "division", str(grids), "--boundary", str(DEMO / "boundary.geojson"),
         "--db", db, "--json", *extra],
    )  # fmt: skip


def test_load_division_keeps_kml_placemark_names_and_takes_a_code(cli, fresh_db_url, tmp_path):
    """A KML whose Placemark <name> holds each grid's name (GDAL: the 'Name' field); the new
    community is given by its 12-digit code and named from the boundary's name."""
    import geopandas as gpd

    grids = gpd.read_file(DEMO / "grids.geojson")[["code", "name", "geometry"]]
    kml = tmp_path / "grids.kml"
    grids.to_file(kml, driver="LIBKML")  # GDAL's default: 'name' becomes <name>
    assert "<name>外滩源社区第1网格</name>" in kml.read_text(encoding="utf-8")
    result = _load(cli, fresh_db_url, kml, "--community", "310101002005")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["community"] == {
        "id": payload["community"]["id"], "code": "310101002005", "name": "外滩源社区",
        "created": True,
    }  # fmt: skip
    stored = dict(_rows(fresh_db_url, "SELECT code, name FROM grids"))
    assert stored == dict(zip(grids["code"], grids["name"], strict=True))


def test_load_division_layer_choice_and_grids_crs(cli, fresh_db_url, tmp_path):
    import coord_convert.transform as cc
    import geopandas as gpd
    import numpy as np

    grids = gpd.read_file(DEMO / "grids.geojson")
    gpkg = tmp_path / "plan.gpkg"
    grids.to_file(gpkg, layer="grids", driver="GPKG")
    grids.head(2).to_file(gpkg, layer="draft", driver="GPKG")
    several = _load(cli, fresh_db_url, gpkg, "--community", "外滩源社区")
    assert several.exit_code == 2
    said = " ".join(several.output.split())
    assert "several layers" in said and "--layer" in said and "grids, draft" in said

    # grids traced on an Amap base map (GCJ-02) in a GeoPackage that says EPSG:4326
    def to_gcj(xy: np.ndarray) -> np.ndarray:
        return np.array([cc.wgs2gcj(x, y) for x, y in xy])

    gcj = grids.copy()
    gcj.geometry = shapely.transform(grids.geometry.to_numpy(), to_gcj)
    gcj.to_file(gpkg, layer="gcj", driver="GPKG")
    as_declared = _load(cli, fresh_db_url, gpkg, "--layer", "gcj", "--community", "外滩源社区")
    assert as_declared.exit_code == 1  # read as WGS84: hundreds of metres off the boundary
    assert json.loads(as_declared.stdout)["stored"] is False
    converted = _load(cli, fresh_db_url, gpkg, "--layer", "gcj", "--grids-crs", "gcj02",
                      "--community", "外滩源社区")  # fmt: skip
    assert converted.exit_code == 0, converted.output
    engine = make_engine(fresh_db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT code, ST_AsBinary(geom) FROM grids")).all()
    engine.dispose()
    truth = dict(zip(grids["code"], grids.geometry, strict=True))
    for code, wkb in rows:
        back = shapely.from_wkb(bytes(wkb))
        # vertices within 1e-7 degrees (about 1 cm) of the true WGS84 grid
        assert shapely.hausdorff_distance(back, truth[code]) < 1e-7
