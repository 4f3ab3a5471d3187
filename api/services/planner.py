"""The planners' drawing board without HTTP: the data of a community, and what the
board does to a working copy (validate, repair, divide, split, merge, move a boundary),
save it as a new division version, list and restore versions.

A working copy is a FeatureCollection of grids with a ``code`` property (lon/lat). Nothing but
:func:`save_working_copy` and :func:`restore_version` writes, and they leave the commit to the
caller (``api/routes/planner.py`` commits a stored version and rolls back a refused one).

Roads and buildings are not stored in the database: the board shows (and the page snaps drawn
vertices to) the OSM layers of the data folder (:data:`CONTEXT_FILE`, the source the demo's base
map is cut from) where they reach the community, at full precision; without them, the base
map's own top-zoom tiles when the server has one (``--basemap``; decoded tile coordinates are
quantised to about 13 cm at zoom 16, :mod:`maps.basemap_features`); else none.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.config import (
    coverage_tolerances,
    default_household_band,
    default_target_households,
    default_tolerance_m,
    get_settings,
)
from api.core.errors import NotFound
from api.db.divisions import division_in_effect
from api.db.models import Community, Division, Grid, House, from_db_geometry
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
from gis.defaults import DEFAULT_HOUSEHOLD_BAND, DEFAULT_TARGET_HOUSEHOLDS
from gis.divide import divide
from gis.edit import merge_grids, move_shared_boundary, split_along_line, split_grid
from gis.errors import InputError, WanggeError
from maps.basemap_features import archive_features
from maps.tile_archive import TileArchive

__all__ = [
    "CONTEXT_FILE",
    "MATCH_ENDS_M",
    "ROAD_END_TOLERANCE_M",
    "board_data",
    "check_working_copy",
    "divide_community",
    "merge_working_copy",
    "move_boundary",
    "repair_working_copy",
    "restore_version",
    "save_working_copy",
    "split_along_road",
    "split_working_copy",
    "version_of",
    "versions_of",
]

CONTEXT_FILE = "demo/osm_bund.gpkg"  # roads and buildings, relative to settings.data_dir
MATCH_ENDS_M = 2.0  # a drawn boundary line's ends may miss the shared edge's ends by this
ROAD_END_TOLERANCE_M = 5.0  # a road ending this close to a grid's outline is carried across


# --------------------------------------------------------------------------- helpers


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


def _context_or_basemap(
    boundary: gpd.GeoDataFrame, basemap: TileArchive | None
) -> tuple[gpd.GeoDataFrame | None, ...]:
    """Roads and buildings near the community: the data folder's OSM layers, else the
    base map's top-zoom tiles (when the server has one), else none."""
    roads, buildings = _context(boundary)
    if roads is not None or buildings is not None or basemap is None:
        return roads, buildings
    outline = shapely.union_all(boundary.geometry.to_numpy())
    try:
        found = archive_features(basemap, tuple(float(v) for v in outline.bounds))
    except ValueError:  # a community too large to read from tiles: no context
        return None, None
    out = []
    for name in ("roads", "buildings"):
        near = found[name][found[name].intersects(outline)]
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


def _free_code(grids: gpd.GeoDataFrame, code: str) -> str:
    return _free_codes(grids, code, 1)[0]


def _free_codes(grids: gpd.GeoDataFrame, code: str, count: int) -> list[str]:
    """``count`` codes ``code-2``, ``code-3``, ... that no grid holds."""
    taken = set(grids["code"].astype(str))
    out: list[str] = []
    n = 2
    while len(out) < count:
        if f"{code}-{n}" not in taken:
            out.append(f"{code}-{n}")
        n += 1
    return out


def _store(
    session: Session,
    record: Community,
    grids: gpd.GeoDataFrame,
    *,
    effective_date: dt.date,
    actor: str,
    today: dt.date,
    tolerance_m: float,
) -> tuple[bool, dict[str, Any]]:
    """Store ``grids`` as the next version (households recounted): (stored, what to answer)."""
    grids = grids.copy()
    houses = _houses(session, record)
    rows, _, _ = _balance(grids, houses, DEFAULT_TARGET_HOUSEHOLDS, DEFAULT_HOUSEHOLD_BAND)
    counts = {r["code"]: r["households"] for r in rows}
    grids["households"] = [counts.get(c) for c in grids["code"]]
    result = load_division(
        session,
        grids=grids,
        boundary=_boundary(record),
        community=record.name,
        code_field="code",
        effective_date=effective_date,
        tolerance_m=tolerance_m,
        force=False,
        actor=actor,
        today=today,
    )
    if not result["stored"]:
        return False, {
            "detail": "划分未通过校验，未保存 / the division does not validate and was not "
            f"saved: {result['kinds']}",
            "valid": False,
            "kinds": result["kinds"],
            "findings": result["findings"],
        }
    return True, {
        k: result[k] for k in ("valid", "kinds", "division", "replaced", "grids", "houses")
    }


# --------------------------------------------------------------------------- the board


def board_data(
    session: Session, community: str, *, today: dt.date, basemap: TileArchive | None = None
) -> dict[str, Any]:
    """Boundary, roads, buildings, houses and the division being edited.

    The division is the one in effect ``today``, else the latest version (else none). Roads
    and buildings (what the page snaps drawn vertices to) come from the data folder's OSM
    layers, else from ``basemap``'s top-zoom tiles.
    """
    record = find_community(session, community)
    boundary = _boundary(record)
    roads, buildings = _context_or_basemap(boundary, basemap)
    houses = _houses(session, record)
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
            "target_households": default_target_households(),
            "band": default_household_band(),
            "tolerance_m": default_tolerance_m(),
            "today": today.isoformat(),
        },
    }


def check_working_copy(
    session: Session,
    community: str,
    grids: dict[str, Any],
    *,
    target: float,
    band: float,
    tolerance_m: float,
) -> dict[str, Any]:
    """Findings, households per grid against the band, and compactness of a working copy."""
    record = find_community(session, community)
    return _check(
        _grids(grids),
        _boundary(record),
        _houses(session, record),
        target=target,
        band=band,
        tolerance_m=tolerance_m,
    )


def repair_working_copy(
    session: Session, community: str, grids: dict[str, Any], *, tolerance_m: float
) -> dict[str, Any]:
    """The working copy repaired, with the change log (nothing stored)."""
    record = find_community(session, community)
    tolerance_m, noise_m = coverage_tolerances(tolerance_m)
    repaired, changes = repair(
        _grids(grids), _boundary(record), tolerance_m=tolerance_m, noise_m=noise_m
    )
    return {"grids": _grids_fc(repaired), "changes": changes_to_geojson(changes)}


def divide_community(
    session: Session, community: str, *, target: float, band: float
) -> dict[str, Any]:
    """A proposed division along roads, with its report (nothing stored)."""
    record = find_community(session, community)
    boundary = _boundary(record)
    roads, buildings = _context(boundary)
    if roads is None:
        roads = gpd.GeoDataFrame(geometry=[], crs=WGS84)
    grids, report = divide(
        boundary,
        roads,
        _houses(session, record),
        target_households=target,
        band=band,
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


def split_working_copy(
    session: Session,
    community: str,
    grids: dict[str, Any],
    line: dict[str, Any],
    *,
    code: str | None = None,
) -> dict[str, Any]:
    """Cut one grid in two with a line (the neighbours keep shared vertices).

    Without ``code``: the grid the line cuts in exactly two, the longest crossing first.
    """
    find_community(session, community)
    frame = _grids(grids)
    cut = _line(line)
    candidates = [code] if code else _grids_crossed(frame, cut)
    first_error: InputError | None = None
    for candidate in candidates:  # the grid the line cuts in two, longest crossing first
        new_code = None if is_grid_code(candidate) else _free_code(frame, candidate)
        try:
            out = split_grid(frame, candidate, cut, new_code=new_code)
        except InputError as exc:
            first_error = first_error or exc
            continue
        return {"grids": _grids_fc(out), "split": candidate}
    raise first_error


def split_along_road(
    session: Session,
    community: str,
    grids: dict[str, Any],
    code: str,
    road: dict[str, Any],
    *,
    tolerance_m: float = ROAD_END_TOLERANCE_M,
) -> dict[str, Any]:
    """Cut grid ``code`` along a road's centreline (:func:`gis.edit.split_along_line`).

    ``road`` is a GeoJSON LineString or MultiLineString (the ways of one road, lon/lat); an
    end within ``tolerance_m`` metres of the grid's outline is carried across it. The largest
    piece keeps ``code``; the others get new codes, listed in ``new_codes`` (largest first).
    """
    find_community(session, community)
    frame = _grids(grids)
    line = geometry_from_geojson(road, what="road / 道路", kinds=("LineString", "MultiLineString"))
    new_codes = None
    if not is_grid_code(code):  # a hand-made code: its pieces become "A-2", "A-3", ...
        new_codes = _free_codes(frame, code, len(shapely.get_coordinates(line)) + 2)
    out = split_along_line(frame, code, line, tolerance_m=tolerance_m, new_codes=new_codes)
    added = [str(c) for c in out["code"].iloc[len(frame) :]]
    return {"grids": _grids_fc(out), "split": code, "new_codes": added}


def merge_working_copy(
    session: Session, community: str, grids: dict[str, Any], codes: list[str]
) -> dict[str, Any]:
    """Merge neighbouring grids (the first code is kept)."""
    find_community(session, community)
    out = merge_grids(_grids(grids), codes)
    return {"grids": _grids_fc(out), "kept": codes[0]}


def move_boundary(
    session: Session,
    community: str,
    grids: dict[str, Any],
    line: dict[str, Any],
    *,
    code_a: str | None = None,
    code_b: str | None = None,
) -> dict[str, Any]:
    """Replace the edge two neighbours share; both grids follow.

    Without ``code_a``/``code_b``, the pair is the one whose shared edge runs between the
    line's two ends (within :data:`MATCH_ENDS_M`).
    """
    find_community(session, community)
    frame = _grids(grids)
    new_edge = _line(line)
    if not (code_a and code_b):
        code_a, code_b = _pair_for_line(frame, new_edge)
    out = move_shared_boundary(frame, code_a, code_b, new_edge, tolerance_m=MATCH_ENDS_M)
    return {"grids": _grids_fc(out), "moved": [code_a, code_b]}


def save_working_copy(
    session: Session,
    community: str,
    grids: dict[str, Any],
    *,
    effective_date: dt.date,
    actor: str,
    today: dt.date,
    tolerance_m: float,
) -> tuple[bool, dict[str, Any]]:
    """Store the working copy as a new version in effect from ``effective_date``.

    Returns (stored, answer): not stored, with the findings, when it does not validate.
    """
    record = find_community(session, community)
    return _store(
        session,
        record,
        _grids(grids),
        effective_date=effective_date,
        actor=actor,
        today=today,
        tolerance_m=tolerance_m,
    )


def versions_of(session: Session, community: str, *, today: dt.date) -> dict[str, Any]:
    """Every version of the community's division, newest first, with its grid count."""
    record = find_community(session, community)
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
    data = [_division_meta(d, today) | {"grids": counts.get(d.id, 0)} for d in rows]
    return {"data": data, "count": len(data)}


def version_of(session: Session, community: str, version: int, *, today: dt.date) -> dict[str, Any]:
    """One version: its dates and its grids (FeatureCollection)."""
    record = find_community(session, community)
    division = _division(session, record, version)
    return _division_meta(division, today) | {
        "grids": _grids_fc(_division_grids(session, division))
    }


def restore_version(
    session: Session,
    community: str,
    version: int,
    *,
    effective_date: dt.date,
    actor: str,
    today: dt.date,
) -> tuple[bool, dict[str, Any]]:
    """Store an older version's grids as a new version from ``effective_date``."""
    record = find_community(session, community)
    division = _division(session, record, version)
    grids = _division_grids(session, division)
    if not len(grids):
        raise InputError(f"第 {version} 版没有网格 / version {version} has no grids")
    return _store(
        session,
        record,
        grids,
        effective_date=effective_date,
        actor=actor,
        today=today,
        tolerance_m=default_tolerance_m(),
    )
