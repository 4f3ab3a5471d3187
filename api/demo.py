"""Load the demo community into the database: read, validate, join, store, cross-check.

The whole load is one transaction: a failure leaves the database as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from rich.console import Console
from shapely import MultiPolygon, Polygon
from sqlalchemy import delete, select

from api.config import get_settings
from api.db import dialect
from api.db.engine import init_db, make_engine, session_factory
from api.db.models import Community, Grid, House, Incident
from gis.assign import assign_points
from gis.coverage import validate
from gis.crs import metric_crs
from gis.io import read_layer

__all__ = ["DEMO_FILES", "load_demo"]

DEMO_FILES = {
    "boundary": "demo/boundary.geojson",
    "grids": "demo/grids.geojson",
    "grids_defective": "demo/grids_defective.geojson",
    "houses": "demo/houses.csv",
    "incidents": "demo/incidents.csv",
}
DIVISIONS = {"current": "grids", "defective": "grids_defective"}


def _multi(geom) -> MultiPolygon:
    return MultiPolygon([geom]) if isinstance(geom, Polygon) else geom


def _ewkt(geom, srid: int) -> str:
    return f"SRID={srid};{geom.wkt}"


def _read_demo(data_dir: Path) -> dict[str, gpd.GeoDataFrame]:
    frames = {}
    for key, rel in DEMO_FILES.items():
        kind = "point" if rel.endswith(".csv") else "polygon"
        frames[key] = read_layer(data_dir / rel, geometry_type=kind)
    return frames


def _store(session, frames, codes, srid: int) -> Community:
    b = frames["boundary"].iloc[0]
    old = session.scalars(select(Community).where(Community.code == str(b["code"]))).all()
    for community in old:
        for model in (Incident, House, Grid):
            session.execute(delete(model).where(model.community_id == community.id))
        session.delete(community)
    session.flush()

    community = Community(
        code=str(b["code"]),
        name=b["name"],
        street_name=b.get("street_name"),
        district_name=b.get("district_name"),
        geom=_ewkt(_multi(b.geometry), srid),
    )
    session.add(community)
    session.flush()
    for division, key in DIVISIONS.items():
        session.add_all(
            Grid(
                community_id=community.id,
                division=division,
                code=None if pd.isna(g["code"]) else str(g["code"]),
                name=g.get("name"),
                households=int(g["households"]) if pd.notna(g.get("households")) else None,
                geom=_ewkt(_multi(g.geometry), srid),
            )
            for g in frames[key].to_dict("records")
            if g["geometry"] is not None
        )
    h = frames["houses"]
    session.add_all(
        House(
            community_id=community.id,
            house_key=str(r["house_id"]),
            address=r["address"],
            road=r["road"],
            number=str(r["number"]),
            building=None if pd.isna(r["building"]) else str(r["building"]),
            households=int(r["households"]),
            floor_area_m2=float(r["floor_area_m2"]),
            house_type=r["house_type"],
            use=r["use"],
            owner=r["owner"],
            geom=_ewkt(r["geometry"], srid),
            grid_code=codes["houses"][i],
        )
        for i, r in zip(h.index, h.to_dict("records"), strict=True)
    )
    inc = frames["incidents"]
    session.add_all(
        Incident(
            community_id=community.id,
            external_id=str(r["incident_id"]),
            category_code=str(r["category_code"]),
            reported_at=pd.Timestamp(r["reported_at"]).to_pydatetime(),
            description=r["description"],
            geom=_ewkt(r["geometry"], srid),
            grid_code=codes["incidents"][i],
        )
        for i, r in zip(inc.index, inc.to_dict("records"), strict=True)
    )
    session.flush()
    return community


def load_demo(
    *, db_url: str | None = None, data_dir: Path | None = None, console: Console | None = None
) -> dict[str, Any]:
    """Load the demo community into ``db_url`` (default: the configured database).

    Returns a summary: community, per-grid counts, validation of both divisions, and how
    many house/incident grid codes the database's own ST_Covers agrees with.
    """
    settings = get_settings()
    data_dir = Path(data_dir or settings.data_dir)
    srid = settings.storage_srid
    log = console.print if console is not None else (lambda *a, **k: None)

    frames = _read_demo(data_dir)
    log(f"读取 / read: {', '.join(f'{k} {len(v)}' for k, v in frames.items())}")

    validation = {}
    for division, key in DIVISIONS.items():
        findings = validate(frames[key], frames["boundary"])
        validation[division] = {
            "valid": not bool((findings["severity"] == "error").any()),
            "findings": len(findings),
            "kinds": findings["kind"].value_counts().sort_index().to_dict(),
        }
    log("校验完成 / validated both divisions")

    grids = frames["grids"]
    codes = {what: assign_points(frames[what], grids) for what in ("houses", "incidents")}
    codes = {k: v.astype(object).where(v.notna(), None) for k, v in codes.items()}

    engine = make_engine(db_url)
    init_db(engine)
    Session = session_factory(engine)
    with Session.begin() as session:
        community = _store(session, frames, codes, srid)
        agrees = {}
        for what, model in (("houses", House), ("incidents", Incident)):
            db_codes = dialect.grid_codes_by_covers(
                session, model, community_id=community.id, division="current"
            )
            ours = dict(zip(frames[what].index, codes[what], strict=True))
            keys = frames[what].index
            ext = frames[what]["house_id" if what == "houses" else "incident_id"].astype(str)
            agrees[what] = sum(
                db_codes.get(ext[k]) == ours[k] for k in keys
            )
    log(f"入库 / stored in {engine.url.render_as_string(hide_password=True)}")

    metric = metric_crs(frames["boundary"])
    grid_m = grids.to_crs(metric)
    houses = frames["houses"].assign(grid_code=codes["houses"])
    incidents = frames["incidents"].assign(grid_code=codes["incidents"])
    per_grid = []
    for code, name, area in zip(grid_m["code"], grid_m["name"], grid_m.area, strict=True):
        in_grid = houses["grid_code"] == code
        per_grid.append(
            {
                "code": str(code),
                "name": name,
                "area_m2": float(area),
                "houses": int(in_grid.sum()),
                "households": int(houses.loc[in_grid, "households"].sum()),
                "incidents": int((incidents["grid_code"] == code).sum()),
            }
        )
    b = frames["boundary"].iloc[0]
    return {
        "db": engine.url.render_as_string(hide_password=True),
        "community": {
            "code": str(b["code"]),
            "name": b["name"],
            "area_m2": float(frames["boundary"].to_crs(metric).area.sum()),
        },
        "grids": per_grid,
        "validation": validation,
        "houses": {
            "total": len(houses),
            "outside": int(houses["grid_code"].isna().sum()),
            "db_agrees": agrees["houses"],
        },
        "incidents": {
            "total": len(incidents),
            "outside": int(incidents["grid_code"].isna().sum()),
            "db_agrees": agrees["incidents"],
        },
    }
