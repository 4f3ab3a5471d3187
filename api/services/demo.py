"""Load the demo community into the database: read, validate, join, store, cross-check.

The whole load is one transaction: a failure leaves the database as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from api.core.config import get_settings
from api.db.dialect import assign_codes_in_db
from api.db.divisions import put_in_effect
from api.db.dry_run import write_scope
from api.db.lock_order import lock_change_counter
from api.db.models import (
    Community,
    Division,
    Grid,
    House,
    Incident,
    SpecialStatus,
    Staff,
    StaffGrid,
    Street,
    to_db_geometry,
)
from api.services.community_data import read_community
from api.services.incidents.demo import run_demo_workflow
from api.services.map_outputs import (
    write_boards,
    write_division_diagram,
    write_division_map,
    write_incident_map,
    write_validation_map,
)
from api.services.registry.importer import SourceRow, import_rows
from api.services.registry.validators import clean_special_status
from api.services.staff_photos import staff_photo_dir as default_staff_photo_dir
from gis.assign import assign_points
from gis.coverage import validate
from gis.crs import metric_crs
from gis.errors import InputError
from gis.io import read_layer
from gis.osm import read_osm_layers
from maps.basemap import build_basemap

__all__ = ["DEMO_FILES", "copy_staff_photos", "load_demo"]

DEMO_FILES = {
    "boundary": "demo/boundary.geojson",
    "grids": "demo/grids.geojson",
    "grids_defective": "demo/grids_defective.geojson",
    "houses": "demo/houses.csv",
    "incidents": "demo/incidents.csv",
}
DEMO_EFFECTIVE_FROM = dt.date(2026, 1, 1)  # the demo division is in effect from this day
DEMO_STEPS = 4  # read, validate, join, store
DEMO_SEED = 20261101  # the incident workflow run (api.services.incidents.demo)
STAFF_FILE = "demo/staff.csv"
RESIDENTS_FILE = "demo/residents.csv"  # fictional residents of the demo houses
SPECIALS_FILE = "demo/special_statuses.csv"  # their special statuses (by ID number)
STAFF_PHOTOS = "demo/staff_photos"  # placeholder portraits named by staff.csv photo_path
ROADS_FILE, ROADS_LAYER = "demo/osm_bund.gpkg", "roads"
DIVISIONS = {"current": "grids", "defective": "grids_defective"}


def _read_demo(data_dir: Path) -> dict[str, gpd.GeoDataFrame]:
    staff = pd.read_csv(data_dir / STAFF_FILE, dtype=str)
    if "photo_path" not in staff.columns:  # a staff table without portraits
        staff["photo_path"] = None
    frames: dict[str, Any] = {"staff": staff}
    for key, rel in (("residents", RESIDENTS_FILE), ("special_statuses", SPECIALS_FILE)):
        path = data_dir / rel
        frames[key] = pd.read_csv(path, dtype=str) if path.is_file() else pd.DataFrame()
    for key, rel in DEMO_FILES.items():
        kind = "point" if rel.endswith(".csv") else "polygon"
        frames[key] = read_layer(data_dir / rel, geometry_type=kind)
    times = pd.to_datetime(frames["incidents"]["reported_at"], errors="coerce", format="ISO8601")
    if times.isna().any():
        row = int(times.isna().to_numpy().argmax()) + 2  # header is line 1
        raise InputError(
            f"{data_dir / DEMO_FILES['incidents']}: 第 {row} 行 reported_at 不是 ISO 8601 时间 /"
            f" row {row}: reported_at is not an ISO 8601 time"
        )
    return frames


def _store(session, frames) -> Community:
    """Replace the demo community: boundary, the valid division, houses and incidents.

    Only a division that validates is stored; the defective one is validated from its file.
    Houses and incidents are stored without grid codes: the database assigns them.
    """
    b = frames["boundary"].iloc[0]
    lock_change_counter(session)  # before the staff and grid rows (api.db.lock_order)
    for old in session.scalars(select(Community).where(Community.code == str(b["code"]))):
        session.execute(delete(Staff).where(Staff.community_id == old.id))
        for model in (Incident, House, Grid):
            session.execute(delete(model).where(model.community_id == old.id))
        session.delete(old)
    session.flush()

    code = str(b["code"])
    street = session.scalars(select(Street).where(Street.code == code[:9])).first()
    if street is None:
        street = Street(
            code=code[:9], name=b.get("street_name"), district_name=b.get("district_name")
        )
        session.add(street)
    community = Community(
        code=code,
        name=b["name"],
        street=street,
        street_name=b.get("street_name"),
        district_name=b.get("district_name"),
        geom=to_db_geometry(b.geometry, multi=True),
    )
    session.add(community)
    session.flush()
    division = Division(
        community_id=community.id,
        label="current",
        version=1,
        created_by="wangge demo",
        note="示例社区网格划分 / demo division",
    )
    session.add(division)
    put_in_effect(session, division, DEMO_EFFECTIVE_FROM)
    session.add_all(
        Grid(
            community_id=community.id,
            division_id=division.id,
            division="current",
            code=str(g["code"]),
            name=g.get("name"),
            households=int(g["households"]) if pd.notna(g.get("households")) else None,
            geom=to_db_geometry(g["geometry"], multi=True),
        )
        for g in frames["grids"].to_dict("records")
    )
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
            geom=to_db_geometry(r["geometry"]),
        )
        for r in frames["houses"].to_dict("records")
    )
    session.add_all(
        Incident(
            community_id=community.id,
            external_id=str(r["incident_id"]),
            category_code=str(r["category_code"]),
            reported_at=pd.Timestamp(r["reported_at"]).to_pydatetime(),
            description=r["description"],
            geom=to_db_geometry(r["geometry"]),
        )
        for r in frames["incidents"].to_dict("records")
    )
    for r in frames["staff"].to_dict("records"):
        person = Staff(
            name=r["name"],
            role=r["role"],
            community_id=community.id,
            phone=r["phone"],
            phone_published=str(r["phone_published"]).lower() == "true",
            duties=r["duties"],
            photo_path=r["photo_path"] if pd.notna(r["photo_path"]) else None,
            staff_no=r.get("staff_no") if pd.notna(r.get("staff_no")) else None,
            is_4050=str(r.get("is_4050")).lower() == "true",
        )
        person.grids = [
            StaffGrid(grid_code=code, community_id=community.id)
            for code in str(r["grid_codes"]).split(",")
        ]
        session.add(person)
    session.flush()
    return community


def _store_residents(session, community: Community, frames) -> dict[str, int]:
    """Register the demo residents through the registry's import (the same checks and storage
    as ``wangge import residents``), then their special statuses."""
    table = frames["residents"]
    if not len(table):
        return {"residents": 0, "special_statuses": 0}
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    rows = [SourceRow(row=i + 2, values=rec) for i, rec in enumerate(records)]
    result = import_rows(session, "residents", rows, community=community)
    if result.errors:
        first = result.errors[0]
        raise InputError(
            f"{RESIDENTS_FILE}: 第 {first.row} 行 {first.field} 有误 / row {first.row} "
            f"{first.field}: {first.reason_zh} / {first.reason_en}"
        )
    ids = dict(zip(table["id_number"], result.ids, strict=True))
    specials = 0
    for r in frames["special_statuses"].to_dict("records"):
        clean, errors = clean_special_status(
            {"category": r["category"], "fields": json.loads(r["fields"]),
             "start_date": r.get("start_date")}
        )  # fmt: skip
        if errors:
            raise InputError(
                f"{SPECIALS_FILE}: {r['id_number'][:6]}… {errors[0].field}: {errors[0].reason_zh}"
                f" / {errors[0].reason_en}"
            )
        session.add(
            SpecialStatus(
                resident_id=ids[r["id_number"]],
                category=clean["category"],
                fields=clean.get("fields") or {},
                start_date=clean.get("start_date"),
            )
        )
        specials += 1
    session.flush()
    return {"residents": len(result.ids), "special_statuses": specials}


def _db_agreement(session, community: Community, model, keys: pd.Series, ours: pd.Series) -> int:
    """Let the database assign grid codes (ST_Covers) and count rows agreeing with gis.assign."""
    assign_codes_in_db(session, model, division="current", community_id=community.id)
    key_col = model.house_key if model is House else model.external_id
    db = dict(
        session.execute(
            select(key_col, model.grid_code).where(model.community_id == community.id)
        ).all()
    )
    return sum(db.get(k) == c for k, c in zip(keys.astype(str), ours, strict=True))


def copy_staff_photos(staff: pd.DataFrame, source: Path, target: Path) -> int:
    """Copy the portraits ``staff.photo_path`` names from ``source`` into ``target``.

    A file already there with the same bytes is left alone; a new one is written whole
    (temporary file, then rename), so a server reading the folder never sees half a photo.
    Returns how many files were written. A named file missing from ``source`` is an
    :class:`~gis.errors.InputError`.
    """
    written = 0
    for name in staff["photo_path"].dropna():
        src, dst = source / str(name), target / str(name)
        if not src.is_file():
            raise InputError(f"{source}: 缺少照片 / missing photo {name} named in {STAFF_FILE}")
        data = src.read_bytes()
        if dst.is_file() and dst.read_bytes() == data:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        partial = dst.with_name(f".{dst.name}.{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, dst)
        written += 1
    return written


def _write_outputs(sessions, frames, data_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Draw and print the stored demo community (read back from the database), and cut the
    offline base map (``basemap.pmtiles``) from the demo's OSM extract."""
    code = str(frames["boundary"].iloc[0]["code"])
    with sessions() as session:
        data = read_community(session, code)
    roads = read_layer(data_dir / ROADS_FILE, layer=ROADS_LAYER)
    base = read_osm_layers([data_dir / ROADS_FILE])
    basemap = build_basemap(base, out_dir / "basemap.pmtiles", processes=1).path
    validation, _ = write_validation_map(
        frames["grids_defective"], frames["boundary"], out_dir / "validation.html",
        basemap=basemap,
    )  # fmt: skip
    return {
        "division_map": write_division_map(
            data, out_dir / "division.html", roads=roads, basemap=basemap
        ),
        "validation_map": validation,
        "incident_heatmap": write_incident_map(data, out_dir / "incidents.html", basemap=basemap),
        "incident_hotspots": write_incident_map(
            data, out_dir / "hotspots.html", kind="hotspots", basemap=basemap
        ),
        "division_diagram": write_division_diagram(data, out_dir / "division.pdf", base=base),
        "boards": write_boards(data, out_dir / "boards.pdf", roads=roads)[0],
        "basemap": basemap,
    }


def load_demo(
    *,
    db_url: str | None = None,
    data_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
    out_dir: Path | None = None,
    staff_photo_dir: Path | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Load the demo community into ``db_url`` (default: the configured database).

    With ``dry_run`` everything is done inside one transaction that is rolled back, and the
    photos, maps and printouts are written into a temporary folder that is removed; the
    summary then has ``would_write`` (:meth:`api.db.dry_run.WriteReport.as_dict`).

    ``on_step`` is called with a message after each of the :data:`DEMO_STEPS` steps (one
    more when ``out_dir`` is given: the maps and printouts written there, read back from the
    database). The demo staff's placeholder portraits are copied into ``staff_photo_dir``
    (default: the database's staff photo folder, :func:`api.services.staff_photos.staff_photo_dir`
    — ``staff_photos/`` beside a SQLite file), where ``wangge serve`` on the same database
    finds them.
    Returns a summary: community, per-grid counts, validation of both divisions, and how
    many house/incident grid codes the database's own ST_Covers agrees with.
    """
    settings = get_settings()
    data_dir = Path(data_dir or settings.data_dir)
    log = on_step or (lambda message: None)

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
    log("空间连接完成 / joined houses and incidents to grids")

    outputs: dict[str, Path] = {}
    with write_scope(db_url, dry_run=dry_run) as scope:
        where = scope.url
        try:
            with scope.sessions.begin() as session:
                community = _store(session, frames)
                people = _store_residents(session, community, frames)
                agrees = {
                    what: _db_agreement(session, community, model, frames[what][key], codes[what])
                    for what, model, key in (
                        ("houses", House, "house_id"),
                        ("incidents", Incident, "incident_id"),
                    )
                }
                workflow = run_demo_workflow(session, seed=DEMO_SEED, community_id=community.id)
        except IntegrityError as exc:
            raise InputError(
                f"数据违反约束，未写入任何数据 / data violates a constraint, nothing was written:"
                f" {exc.orig}"
            ) from exc
        log(f"入库 / stored in {where}")
        photo_dir = Path(staff_photo_dir or default_staff_photo_dir(scope.real_url))
        copy_staff_photos(frames["staff"], data_dir / STAFF_PHOTOS, scope.output(photo_dir))
        if out_dir is not None:
            written = _write_outputs(scope.sessions, frames, data_dir, scope.output(Path(out_dir)))
            outputs = {name: scope.outputs.shown(path) for name, path in written.items()}
            log(f"地图与打印件 / maps and printouts → {out_dir}")

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
        "db": where,
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
        "residents": people,
        "outputs": {name: str(path) for name, path in outputs.items()},
        "staff_photo_dir": str(photo_dir),
        "incidents": {
            "total": len(incidents),
            "outside": int(incidents["grid_code"].isna().sum()),
            "db_agrees": agrees["incidents"],
            "workflow": workflow,
        },
    } | ({"dry_run": True, "would_write": scope.report.as_dict()} if dry_run else {})
