"""Export of grids, houses and incidents (GPKG, SHP, XLSX, GeoJSON) on both databases: files read
back with gis.io give the rows and geometries stored."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from pyproj import Geod

from api.db.engine import make_engine, session_factory
from api.db.models import Division, Grid, House, Incident, from_db_geometry, to_db_geometry
from api.services.registry.exporter import SHAPEFILE_FIELD_NAMES, XLSX_HEADERS, export_layer
from gis.errors import InputError
from gis.io import read_layer
from tests.api.test_import import COMMUNITY, demo_frames, store_demo

FORMATS = (".gpkg", ".shp", ".xlsx", ".geojson")
HOUSE_FIELDS = ("house_key", "address", "road", "number", "building", "households",
                "floor_area_m2", "house_type", "use", "owner", "grid_code")  # fmt: skip


@pytest.fixture
def Session(fresh_db_url):
    store_demo(fresh_db_url, demo_frames())
    engine = make_engine(fresh_db_url)
    yield session_factory(engine)
    engine.dispose()


def _blank(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _same(a, b) -> bool:
    if _blank(a) or _blank(b):
        return _blank(a) and _blank(b)
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-12)
    return a == b


def _read_back(path: Path, layer: str):
    """Read an exported file with gis.io, with the field names of the database."""
    frame = read_layer(path)
    if path.suffix == ".shp":
        frame = frame.rename(columns={v: k for k, v in SHAPEFILE_FIELD_NAMES[layer].items()})
    elif path.suffix == ".xlsx":
        frame = frame.rename(columns={v: k for k, v in XLSX_HEADERS[layer].items()})
    return frame


def _single(geom):
    """A one-part Multi* as its part (a Shapefile does not say Multi for one part)."""
    parts = shapely.get_parts(geom)
    return parts[0] if len(parts) == 1 else geom


def _same_geometry(stored, got, ext: str) -> bool:
    a, b = (shapely.normalize(_single(g)) for g in (stored, got))
    return bool(shapely.equals_exact(a, b, _geometry_tolerance(ext)))


def _geometry_tolerance(ext: str) -> float:
    return 0.0 if ext in (".gpkg", ".shp") else 1e-12  # GeoJSON/XLSX carry decimal text


def test_houses_round_trip_in_every_format(Session, tmp_path):
    with Session() as s:
        truth = s.execute(
            sa.select(*(getattr(House, f) for f in HOUSE_FIELDS), House.geom).order_by(House.id)
        ).all()
        assert len(truth) == 388
        for ext in FORMATS:
            result = export_layer(s, "houses", tmp_path / f"houses{ext}", community=COMMUNITY)
            assert result.rows == 388
            back = _read_back(result.path, "houses")
            assert len(back) == len(truth), ext
            for row, (_, got) in zip(truth, back.iterrows(), strict=True):
                for i, name in enumerate(HOUSE_FIELDS):
                    assert _same(row[i], got[name]), (ext, name, row[i], got[name])
                stored = from_db_geometry(row[-1])
                assert _same_geometry(stored, got.geometry, ext), ext
    # owners (Chinese) survive the Shapefile's .dbf, which says UTF-8
    assert (tmp_path / "houses.cpg").read_text().strip().upper() in {"UTF-8", "UTF8"}


def test_shapefile_field_names_fit_in_10_bytes(Session, tmp_path):
    with Session() as s:
        for layer in ("grids", "houses", "incidents"):
            path = export_layer(s, layer, tmp_path / f"{layer}.shp", community=COMMUNITY).path
            names = [c for c in read_layer(path).columns if c != "geometry"]
            assert all(len(n.encode()) <= 10 for n in names), names
            for long_name, short in SHAPEFILE_FIELD_NAMES[layer].items():
                assert len(long_name.encode()) > 10 and short in names


def test_grids_of_the_division_in_effect_or_a_named_one(Session, tmp_path):
    geod = Geod(ellps="GRS80")
    with Session.begin() as s:
        community_id = s.scalar(sa.text("SELECT id FROM communities WHERE code = :c"),
                                {"c": COMMUNITY})  # fmt: skip
        stored = {
            g.code: (g.name, from_db_geometry(g.geom))
            for g in s.scalars(sa.select(Grid).where(Grid.division == "current"))
        }
        draft = Division(community_id=community_id, label="draft-2", version=2)
        s.add(draft)
        s.flush()
        one = shapely.box(121.48, 31.23, 121.481, 31.231)
        s.add(Grid(community_id=community_id, division_id=draft.id, code="310101002005901",
                   name="草案网格", geom=to_db_geometry(one, multi=True)))  # fmt: skip
    assert len(stored) == 12
    with Session() as s:
        for ext in FORMATS:
            result = export_layer(s, "grids", tmp_path / f"grids{ext}", community=COMMUNITY)
            assert (result.division, result.rows) == ("current", 12)
            back = _read_back(result.path, "grids")
            assert sorted(back["code"]) == sorted(stored)
            for _, got in back.iterrows():
                name, geom = stored[got["code"]]
                assert got["name"] == name and got["division"] == "current"
                # GeoJSON readers turn ISO date text into dates
                assert pd.Timestamp(got["effective_from"]) == pd.Timestamp("2026-01-01"), ext
                assert _blank(got["effective_to"]) or pd.isna(got["effective_to"])
                assert _same_geometry(geom, got.geometry, ext), ext
                area_m2 = abs(geod.geometry_area_perimeter(geom)[0])
                assert got["area_m2"] == pytest.approx(area_m2, rel=1e-3)
        named = export_layer(
            s, "grids", tmp_path / "draft.gpkg", community=COMMUNITY, division="draft-2"
        )
        back = read_layer(named.path)
        assert (named.division, list(back["code"]), list(back["version"])) == (
            "draft-2", ["310101002005901"], [2])  # fmt: skip
        assert back.geometry.iloc[0].equals(one) and _blank(back["effective_from"].iloc[0])


def test_incidents_keep_their_time_and_grid(Session, tmp_path):
    with Session() as s:
        truth = s.execute(
            sa.select(
                Incident.external_id, Incident.reported_at, Incident.grid_code, Incident.geom
            ).order_by(Incident.id)
        ).all()
        for ext in (".shp", ".xlsx"):
            path = export_layer(s, "incidents", tmp_path / f"i{ext}", community=COMMUNITY).path
            back = _read_back(path, "incidents")
            assert list(back["external_id"]) == [t.external_id for t in truth]
            times = [dt.datetime.fromisoformat(v) for v in back["reported_at"]]
            assert times == [t.reported_at for t in truth]
            assert all(t.tzinfo is not None for t in times)
            assert [None if _blank(v) else v for v in back["grid_code"]] == [
                t.grid_code for t in truth
            ]
            assert all(
                _same_geometry(from_db_geometry(t.geom), g, ext)
                for t, g in zip(truth, back.geometry, strict=True)
            )


def test_a_house_without_a_point_is_exported_without_geometry(Session, tmp_path):
    with Session.begin() as s:
        community_id = s.scalar(sa.text("SELECT id FROM communities WHERE code = :c"),
                                {"c": COMMUNITY})  # fmt: skip
        s.add(House(community_id=community_id, address="无坐标路1号", owner="某某"))
    with Session() as s:
        path = export_layer(s, "houses", tmp_path / "h.gpkg", community=COMMUNITY).path
    back = read_layer(path)
    last = back.iloc[-1]
    assert len(back) == 389 and last["address"] == "无坐标路1号" and last.geometry is None


def test_bad_export_requests_say_why(Session, tmp_path):
    with Session() as s:
        cases = [
            (dict(layer="roads"), "unknown layer 'roads'"),
            (dict(layer="houses", path=tmp_path / "h.kml"), "unsupported export format '.kml'"),
            (
                dict(community="310101002999"),
                r"no community with code or name '310101002999'; "
                r"known: 外滩源社区 \(310101002005\)",
            ),
            (dict(layer="grids", division="nope"), "no division 'nope'; known: current"),
            (dict(division="current"), "applies to grids only"),
        ]
        for given, message in cases:
            args = {"layer": "houses", "path": tmp_path / "x.gpkg", "community": COMMUNITY} | given
            with pytest.raises(InputError, match=message):
                export_layer(s, args.pop("layer"), args.pop("path"), **args)


def test_exported_houses_sheet_imports_into_another_community(Session, tmp_path):
    from api.db.models import Community
    from api.services.registry.codes import code_table
    from api.services.registry.importer import import_file

    with Session.begin() as s:
        path = export_layer(s, "houses", tmp_path / "houses.xlsx", community=COMMUNITY).path
        s.add(Community(code="310101002006", name="另一社区"))
    with Session.begin() as s:
        result = import_file(s, "houses", path, community="310101002006")
    assert (result.rows, result.imported, result.errors) == (388, 388, [])
    assert result.ignored_columns == ["网格编码"]  # assigned, not taken from the file
    assert result.outside == 388  # the new community has no division yet
    with Session() as s:
        rows = s.execute(
            sa.select(House.community_id, House.address, House.owner, House.floor_area_m2,
                      House.house_type, House.use, House.geom)
            .order_by(House.id)
        ).all()  # fmt: skip
    old, new = rows[:388], rows[388:]
    assert len(new) == 388
    for a, b in zip(old, new, strict=True):
        assert (b.address, b.owner, b.floor_area_m2) == (a.address, a.owner, a.floor_area_m2)
        assert b.house_type == code_table("house_type").code_of(a.house_type)
        assert b.use == code_table("house_use").code_of(a.use)
        assert _same_geometry(from_db_geometry(a.geom), from_db_geometry(b.geom), ".xlsx")
