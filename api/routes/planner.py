"""The planners' drawing page ``/planner/{community}`` and the JSON endpoints behind it.

The page (``maps/static/planner/``: one HTML template, one plain JS file, one CSS file, with
Leaflet and Leaflet-Geoman served from ``/static/vendor/``) is public: it holds no data and
shows a sign-in form. Every endpoint under ``/planner/{community}/...`` needs a planner (or
admin) token. ``{community}`` is the name given to ``wangge load division --community`` (or
the 12-digit community code).

Nothing but ``save`` and ``restore`` writes: ``validate``, ``repair``, ``divide`` and the
``edit/*`` endpoints take the planner's working copy (a FeatureCollection of grids with a
``code`` property, lon/lat) and return a new one, so the page keeps its own undo history.
``save`` stores the working copy as the community's next division version through
:func:`api.services.divisions.load_division`, refused (422, with the findings) when it does
not validate; ``restore`` does the same with an older version's grids.

Roads and buildings are not stored in the database: the page shows the OSM layers of the
data folder (``data/demo/osm_bund.gpkg``) where they reach the community, else none.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from api.core.config import get_settings
from api.core.errors import NotFound
from api.db.divisions import division_in_effect
from api.db.models import Community, Division, Grid, House, Role, User, from_db_geometry
from api.routes.deps import Now, SessionDep, require_role
from api.routes.tiles import page_basemap, page_response
from api.services.community_data import find_community
from api.services.divisions import check_division, load_division
from api.services.geojson import (
    feature,
    feature_collection,
    frame_from_geojson,
    geometry_from_geojson,
)
from gis.balance import balance_report
from gis.codes import PREFIX_LENGTH, is_grid_code
from gis.coverage import changes_to_geojson, repair
from gis.crs import WGS84, metric_crs
from gis.divide import divide
from gis.edit import merge_grids, move_shared_boundary, split_grid
from gis.errors import InputError, WanggeError
from maps.assets import STATIC_DIR

__all__ = [
    "CONTEXT_FILE",
    "DEFAULT_BAND",
    "DEFAULT_TARGET_HOUSEHOLDS",
    "PAGE_TEMPLATE",
    "router",
]

router = APIRouter(prefix="/planner", tags=["planner"])
Planner = Annotated[User, Depends(require_role(Role.PLANNER))]

PAGE_TEMPLATE = STATIC_DIR / "planner" / "planner.html"
CONTEXT_FILE = "demo/osm_bund.gpkg"  # roads and buildings, relative to settings.data_dir
DEFAULT_TARGET_HOUSEHOLDS = 400.0  # 300-500 households: a comprehensive grid (docs/design.md §2)
DEFAULT_BAND = 0.25
MATCH_ENDS_M = 2.0  # a drawn boundary line's ends may miss the shared edge's ends by this


# --------------------------------------------------------------------------- request bodies


class _Band(BaseModel):
    target_households: float = Field(DEFAULT_TARGET_HOUSEHOLDS, gt=0, le=100_000)
    band: float = Field(DEFAULT_BAND, ge=0, lt=1)


class ValidateBody(_Band):
    grids: dict[str, Any]
    tolerance_m: float = Field(0.5, gt=0, le=100)


class RepairBody(BaseModel):
    grids: dict[str, Any]
    tolerance_m: float = Field(0.5, gt=0, le=100)


class DivideBody(_Band):
    pass


class SplitBody(BaseModel):
    grids: dict[str, Any]
    line: dict[str, Any]
    code: str | None = None


class MergeBody(BaseModel):
    grids: dict[str, Any]
    codes: list[str] = Field(min_length=2)


class MoveBody(BaseModel):
    grids: dict[str, Any]
    line: dict[str, Any]
    code_a: str | None = None
    code_b: str | None = None


class SaveBody(BaseModel):
    grids: dict[str, Any]
    effective_date: dt.date
    tolerance_m: float = Field(0.5, gt=0, le=100)


class RestoreBody(BaseModel):
    effective_date: dt.date


# --------------------------------------------------------------------------- helpers


def _community(session, community: str) -> Community:
    return find_community(session, community)


def _boundary(record: Community) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [record.code], "name": [record.name]},
        geometry=[from_db_geometry(record.geom)],
        crs=Community.geom.type.srid,
    ).to_crs(WGS84)


def _houses(session, record: Community) -> gpd.GeoDataFrame:
    rows = session.execute(
        sa.select(House.house_key, House.households, House.geom)
        .where(House.community_id == record.id, House.geom.is_not(None))
        .order_by(House.id)
    ).all()
    return gpd.GeoDataFrame(
        {
            "house_key": [r[0] for r in rows],
            "households": [1 if r[1] is None else int(r[1]) for r in rows],
        },
        geometry=[from_db_geometry(r[2]) for r in rows],
        crs=House.geom.type.srid,
    ).to_crs(WGS84)


@lru_cache(maxsize=8)
def _context_file_layers(path: str, bounds: tuple[float, ...]) -> tuple[Any, Any]:
    layers = []
    for layer in ("roads", "buildings"):
        try:
            layers.append(gpd.read_file(path, layer=layer, bbox=bounds).to_crs(WGS84))
        except Exception:  # a missing layer is "not available", not an error of the page
            layers.append(None)
    return tuple(layers)


def _context(boundary: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame | None, ...]:
    """Roads and buildings near the community (None when there are none)."""
    path = Path(get_settings().data_dir) / CONTEXT_FILE
    if not path.is_file():
        return None, None
    outline = shapely.union_all(boundary.geometry.to_numpy())
    bounds = tuple(float(v) for v in outline.bounds)
    out = []
    for frame in _context_file_layers(str(path), bounds):
        if frame is None:
            out.append(None)
            continue
        near = frame[frame.intersects(outline)]
        out.append(near if len(near) else None)
    return tuple(out)


def _grids(fc: dict[str, Any]) -> gpd.GeoDataFrame:
    """The working copy as a frame with a text ``code`` column (every grid must have one)."""
    frame = frame_from_geojson(fc, what="grids / 网格")
    if "code" not in frame.columns:
        raise InputError("网格缺少 code 属性 / grids have no 'code' property")
    frame["code"] = [None if c is None or pd.isna(c) else str(c) for c in frame["code"]]
    keep = [c for c in ("code", "name") if c in frame.columns]
    return frame[[*keep, "geometry"]]


def _grids_fc(grids: gpd.GeoDataFrame) -> dict[str, Any]:
    grids = grids.to_crs(WGS84) if grids.crs is not None else grids
    features = []
    for i, row in enumerate(grids.itertuples(index=False)):
        props = {"code": None if row.code is None else str(row.code)}
        name = getattr(row, "name", None)
        props["name"] = None if name is None or pd.isna(name) else str(name)
        geom = row.geometry
        if geom is not None and geom.geom_type == "MultiPolygon" and len(geom.geoms) == 1:
            geom = geom.geoms[0]  # the page edits plain polygons
        features.append(feature(props["code"] or f"#{i}", geom, props))
    return feature_collection(features)


def _frame_fc(frame: gpd.GeoDataFrame | None, columns: list[str]) -> dict[str, Any]:
    if frame is None:
        return feature_collection([])
    columns = [c for c in columns if c in frame.columns]
    features = []
    for i, (geom, props) in enumerate(
        zip(frame.geometry, frame[columns].to_dict("records"), strict=True)
    ):
        clean = {k: (None if _is_na(v) else v) for k, v in props.items()}
        features.append(feature(i, geom, clean))
    return feature_collection(features)


def _is_na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _json_number(value: Any) -> float | None:
    if value is None or _is_na(value):
        return None
    return float(value)


def _balance(
    grids: gpd.GeoDataFrame, houses: gpd.GeoDataFrame, target: float, band: float
) -> tuple[list[dict[str, Any]], dict[str, Any], str | None]:
    """Households, area and compactness per grid; an explanation instead when it cannot."""
    try:
        report = balance_report(grids, houses=houses, code_field="code", target=target, band=band)
    except (WanggeError, ValueError, shapely.errors.GEOSException) as exc:
        return [], {}, str(exc)
    rows = [
        {
            "code": str(r["code"]),
            "households": _json_number(r["households"]),
            "area_m2": _json_number(r["area_m2"]),
            "compactness": _json_number(r["compactness"]),
            "share_of_target": _json_number(r["share_of_target"]),
            "flag": str(r["flag"]),
        }
        for r in report.to_dict("records")
    ]
    totals = {
        k: (v if isinstance(v, str) else _json_number(v))
        for k, v in report.attrs.items()
        if isinstance(v, int | float | str | np.integer | np.floating)
    }
    return rows, totals, None


def _check(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame,
    houses: gpd.GeoDataFrame,
    *,
    target: float,
    band: float,
    tolerance_m: float,
) -> dict[str, Any]:
    findings, valid, kinds = check_division(
        grids, boundary, code_field="code", tolerance_m=tolerance_m
    )
    rows, totals, error = _balance(grids, houses, target, band)
    return {
        "valid": valid,
        "kinds": kinds,
        "findings": findings,
        "balance": rows,
        "totals": totals,
        "balance_error": error,
        "target_households": target,
        "band": band,
        "households_range": [target * (1 - band), target * (1 + band)],
    }


def _line(obj: dict[str, Any]) -> shapely.LineString:
    line = geometry_from_geojson(obj, what="line / 线", kinds=("LineString",))
    if len(line.coords) < 2:
        raise InputError("线至少需要两个点 / a line needs two points or more")
    return line


def _grids_crossed(grids: gpd.GeoDataFrame, line: shapely.LineString) -> list[str]:
    """Codes of the grids whose interior the line crosses, longest crossing (metres) first."""
    metric = metric_crs(grids)
    inside = gpd.GeoSeries(
        [shapely.intersection(line, g) for g in grids.geometry], crs=grids.crs
    ).to_crs(metric)
    lengths = inside.length.to_numpy()
    order = [int(i) for i in np.argsort(-lengths, kind="stable") if lengths[i] > 0.01]
    if not order:
        raise InputError("分割线没有穿过任何网格 / the line crosses no grid")
    return [str(grids["code"].iloc[i]) for i in order]


def _pair_for_line(grids: gpd.GeoDataFrame, line: shapely.LineString) -> tuple[str, str]:
    """The two neighbours whose shared boundary runs between the ends of ``line``."""
    metric = metric_crs(grids)
    geoms_m = np.asarray(grids.geometry.to_crs(metric).array, dtype=object)
    line_m = gpd.GeoSeries([line], crs=grids.crs).to_crs(metric).iloc[0]
    ends = shapely.points(np.asarray(line_m.coords)[[0, -1]])
    tree = shapely.STRtree(geoms_m)
    near = [set(tree.query(end, predicate="dwithin", distance=MATCH_ENDS_M)) for end in ends]
    candidates = sorted(int(i) for i in near[0] & near[1])
    best: tuple[float, int, int] | None = None
    for k, i in enumerate(candidates):
        for j in candidates[k + 1 :]:
            shared = shapely.line_merge(
                shapely.intersection(shapely.boundary(geoms_m[i]), shapely.boundary(geoms_m[j]))
            )
            parts = [p for p in shapely.get_parts(shared) if shapely.get_type_id(p) in (1, 2)]
            if len(parts) != 1 or parts[0].length <= 0.01:
                continue
            a, b = shapely.points(np.asarray(parts[0].coords)[[0, -1]])
            gap = min(
                max(shapely.distance(ends[0], a), shapely.distance(ends[1], b)),
                max(shapely.distance(ends[0], b), shapely.distance(ends[1], a)),
            )
            if gap <= MATCH_ENDS_M and (best is None or gap < best[0]):
                best = (gap, i, j)
    if best is None:
        raise InputError(
            "新边界须从两个相邻网格共享边的一端画到另一端 / draw the new boundary from one end "
            "of the edge two neighbouring grids share to its other end"
        )
    codes = grids["code"].to_numpy()
    return str(codes[best[1]]), str(codes[best[2]])


def _division(session, record: Community, version: int) -> Division:
    found = session.scalars(
        sa.select(Division).where(Division.community_id == record.id, Division.version == version)
    ).first()
    if found is None:
        raise NotFound(f"没有第 {version} 版划分 / no division version {version}")
    return found


def _division_grids(session, division: Division) -> gpd.GeoDataFrame:
    rows = session.execute(
        sa.select(Grid.code, Grid.name, Grid.geom)
        .where(Grid.division_id == division.id)
        .order_by(Grid.code)
    ).all()
    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "name": [r[1] for r in rows]},
        geometry=[from_db_geometry(r[2]) for r in rows],
        crs=Grid.geom.type.srid,
    ).to_crs(WGS84)


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _division_meta(division: Division, today: dt.date) -> dict[str, Any]:
    return {
        "version": division.version,
        "label": division.label,
        "effective_from": _iso(division.effective_from),
        "effective_to": _iso(division.effective_to),
        "in_effect": division.in_effect_on(today),
        "scheduled": division.effective_from is not None and division.effective_from > today,
        "created_at": _iso(division.created_at),
        "created_by": division.created_by,
        "note": division.note,
    }


def _store(session, record, grids, boundary, houses, effective_date, actor, today, tolerance_m):
    """Store ``grids`` as the next version (households recounted); 201, or 422 with findings."""
    grids = grids.copy()
    rows, _, _ = _balance(grids, houses, DEFAULT_TARGET_HOUSEHOLDS, DEFAULT_BAND)
    counts = {r["code"]: r["households"] for r in rows}
    grids["households"] = [counts.get(c) for c in grids["code"]]
    result = load_division(
        session,
        grids=grids,
        boundary=boundary,
        community=record.name,
        code_field="code",
        effective_date=effective_date,
        tolerance_m=tolerance_m,
        force=False,
        actor=actor,
        today=today,
    )
    if not result["stored"]:
        session.rollback()
        return JSONResponse(
            {
                "detail": "划分未通过校验，未保存 / the division does not validate and was not "
                f"saved: {result['kinds']}",
                "valid": False,
                "kinds": result["kinds"],
                "findings": result["findings"],
            },
            status_code=422,
        )
    session.commit()
    return JSONResponse(
        {k: result[k] for k in ("valid", "kinds", "division", "replaced", "grids", "houses")},
        status_code=201,
    )


# --------------------------------------------------------------------------- the page


@router.get("/{community}", response_class=HTMLResponse, include_in_schema=True)
def planner_page(community: str, request: Request) -> HTMLResponse:
    """网格规划绘制页面 / The planners' drawing page (sign-in form; data needs a planner)."""
    import json

    root = request.scope.get("root_path", "").rstrip("/")
    html = PAGE_TEMPLATE.read_text(encoding="utf-8")
    html = html.replace("{{ROOT}}", root)
    config = {
        "root": root,
        "community": community,
        "idleTimeoutSeconds": request.app.state.idle_timeout_s,
        "basemap": page_basemap(request),
    }
    # JSON inside a <script> data block: "</" must not end the element
    html = html.replace(
        "{{CONFIG_JSON}}", json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    )
    return page_response(request, html)


# --------------------------------------------------------------------------- JSON endpoints


@router.get("/{community}/data")
def planner_data(community: str, session: SessionDep, user: Planner, now: Now) -> dict[str, Any]:
    """底图与当前划分 / Boundary, roads, buildings, houses and the division being edited.

    The division is the one in effect today, else the latest version (else none).
    """
    record = _community(session, community)
    boundary = _boundary(record)
    roads, buildings = _context(boundary)
    houses = _houses(session, record)
    today = now.date()
    division = (
        division_in_effect(session, record.id, today)
        or session.scalars(
            sa.select(Division)
            .where(Division.community_id == record.id)
            .order_by(Division.version.desc())
            .limit(1)
        ).first()
    )
    current = None
    if division is not None:
        grids = _grids_fc(_division_grids(session, division))
        current = _division_meta(division, today) | {"grids": grids}
    return {
        "community": {"code": record.code, "name": record.name},
        "boundary": feature(record.code, boundary.geometry.iloc[0], {"name": record.name}),
        "roads": _frame_fc(roads, ["name", "name_zh", "kind"]),
        "buildings": _frame_fc(buildings, ["name_zh"]),
        "houses": _frame_fc(houses, ["house_key", "households"]),
        "division": current,
        "defaults": {
            "target_households": DEFAULT_TARGET_HOUSEHOLDS,
            "band": DEFAULT_BAND,
            "tolerance_m": 0.5,
            "today": today.isoformat(),
        },
    }


@router.post("/{community}/validate")
def planner_validate(
    community: str, body: ValidateBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """校验工作稿 / Findings, households per grid against the band, and compactness."""
    record = _community(session, community)
    return _check(
        _grids(body.grids),
        _boundary(record),
        _houses(session, record),
        target=body.target_households,
        band=body.band,
        tolerance_m=body.tolerance_m,
    )


@router.post("/{community}/repair")
def planner_repair(
    community: str, body: RepairBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """自动修复（不保存）/ The working copy repaired, with the change log (not saved)."""
    record = _community(session, community)
    grids = _grids(body.grids)
    repaired, changes = repair(grids, _boundary(record), tolerance_m=body.tolerance_m)
    return {"grids": _grids_fc(repaired), "changes": changes_to_geojson(changes)}


@router.post("/{community}/divide")
def planner_divide(
    community: str, body: DivideBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """自动划分（不保存）/ A proposed division along roads (not saved)."""
    record = _community(session, community)
    boundary = _boundary(record)
    roads, buildings = _context(boundary)
    if roads is None:
        roads = gpd.GeoDataFrame(geometry=[], crs=WGS84)
    grids, report = divide(
        boundary,
        roads,
        _houses(session, record),
        target_households=body.target_households,
        band=body.band,
        code_prefix=record.code if len(record.code) == PREFIX_LENGTH else None,
        buildings=buildings,
    )
    rows = [
        {
            "code": str(r["code"]),
            "households": _json_number(r["households"]),
            "share_of_target": _json_number(r["share_of_target"]),
            "compactness": _json_number(r["polsby_popper"]),
            "status": str(r["status"]),
        }
        for r in report.to_dict("records")
    ]
    return {"grids": _grids_fc(grids), "report": rows}


@router.post("/{community}/edit/split")
def planner_split(
    community: str, body: SplitBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """用线分割网格 / Cut one grid in two with a line (the neighbours keep shared vertices).

    Without ``code``: the grid the line cuts in exactly two, the longest crossing first.
    """
    _community(session, community)
    grids = _grids(body.grids)
    line = _line(body.line)
    candidates = [body.code] if body.code else _grids_crossed(grids, line)
    first_error: InputError | None = None
    for code in candidates:  # the grid the line cuts in two, trying the longest crossing first
        new_code = None if is_grid_code(code) else _free_code(grids, code)
        try:
            out = split_grid(grids, code, line, new_code=new_code)
        except InputError as exc:
            first_error = first_error or exc
            continue
        return {"grids": _grids_fc(out), "split": code}
    raise first_error


def _free_code(grids: gpd.GeoDataFrame, code: str) -> str:
    taken = set(grids["code"].astype(str))
    n = 2
    while f"{code}-{n}" in taken:
        n += 1
    return f"{code}-{n}"


@router.post("/{community}/edit/merge")
def planner_merge(
    community: str, body: MergeBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """合并相邻网格 / Merge neighbouring grids (the first code is kept)."""
    _community(session, community)
    out = merge_grids(_grids(body.grids), body.codes)
    return {"grids": _grids_fc(out), "kept": body.codes[0]}


@router.post("/{community}/edit/move-boundary")
def planner_move_boundary(
    community: str, body: MoveBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """移动共享边界 / Replace the edge two neighbours share; both grids follow.

    Without ``code_a``/``code_b``, the pair is the one whose shared edge runs between the
    line's two ends (within 2 m).
    """
    _community(session, community)
    grids = _grids(body.grids)
    line = _line(body.line)
    if body.code_a and body.code_b:
        code_a, code_b = body.code_a, body.code_b
    else:
        code_a, code_b = _pair_for_line(grids, line)
    out = move_shared_boundary(grids, code_a, code_b, line, tolerance_m=MATCH_ENDS_M)
    return {"grids": _grids_fc(out), "moved": [code_a, code_b]}


@router.post("/{community}/save", status_code=201)
def planner_save(
    community: str, body: SaveBody, session: SessionDep, user: Planner, now: Now
) -> JSONResponse:
    """保存为新版本 / Store the working copy as a new version in effect from a date.

    Refused (422, with the findings) when it does not validate.
    """
    record = _community(session, community)
    return _store(
        session,
        record,
        _grids(body.grids),
        _boundary(record),
        _houses(session, record),
        body.effective_date,
        user.username,
        now.date(),
        body.tolerance_m,
    )


@router.get("/{community}/versions")
def planner_versions(
    community: str, session: SessionDep, user: Planner, now: Now
) -> dict[str, Any]:
    """划分历史版本 / Every version of the community's division, newest first."""
    record = _community(session, community)
    counts = dict(
        session.execute(
            sa.select(Grid.division_id, sa.func.count())
            .where(Grid.community_id == record.id)
            .group_by(Grid.division_id)
        ).all()
    )
    rows = session.scalars(
        sa.select(Division)
        .where(Division.community_id == record.id)
        .order_by(Division.version.desc())
    ).all()
    data = [_division_meta(d, now.date()) | {"grids": counts.get(d.id, 0)} for d in rows]
    return {"data": data, "count": len(data)}


@router.get("/{community}/versions/{version}")
def planner_version(
    community: str, version: int, session: SessionDep, user: Planner, now: Now
) -> dict[str, Any]:
    """查看某一版本 / One version: its dates and its grids (FeatureCollection)."""
    record = _community(session, community)
    division = _division(session, record, version)
    return _division_meta(division, now.date()) | {
        "grids": _grids_fc(_division_grids(session, division))
    }


@router.post("/{community}/versions/{version}/restore", status_code=201)
def planner_restore(
    community: str, version: int, body: RestoreBody, session: SessionDep, user: Planner, now: Now
) -> JSONResponse:
    """恢复旧版本 / Store an older version's grids as a new version from a new date."""
    record = _community(session, community)
    division = _division(session, record, version)
    grids = _division_grids(session, division)
    if not len(grids):
        raise InputError(f"第 {version} 版没有网格 / version {version} has no grids")
    return _store(
        session,
        record,
        grids,
        _boundary(record),
        _houses(session, record),
        body.effective_date,
        user.username,
        now.date(),
        0.5,
    )
