"""Validate a division and store it: the service behind ``POST /divisions`` and
``wangge load division``.

:func:`load_division` validates the grids against the boundary (:func:`gis.coverage.validate`),
refuses a division with errors unless ``force``, finds the community by code or name (creating
it when new: named ``community``, its 12-digit code the boundary's ``code`` property, else the
common prefix of the 15-digit grid codes; or, when ``community`` is a 12-digit code, named by
the boundary's name property), stores the grids (each one's name from its ``name``, ``Name``
— a KML Placemark's name — or ``名称`` field) as the community's next division version, puts it in
effect from ``effective_date`` (closing the one it replaces) and, when that date has come,
re-assigns the community's houses to the new grids. One transaction: the caller commits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.config import coverage_tolerances
from api.db.communities import lookup_community
from api.db.divisions import put_in_effect
from api.db.models import Community, Division, Grid, Street, from_db_geometry, to_db_geometry
from api.services.registry.reassign import reassign_houses
from gis.codes import require_code_field
from gis.coverage import findings_to_geojson, validate
from gis.crs import to_lonlat
from gis.defaults import DEFAULT_CODE_FIELD
from gis.errors import InputError

__all__ = ["GRID_NAME_COLUMNS", "check_division", "grid_name_column", "load_division"]


def check_division(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame,
    *,
    code_field: str = DEFAULT_CODE_FIELD,
    tolerance_m: float | None = None,
) -> tuple[dict[str, Any], bool, dict[str, int]]:
    """Validate; return (findings FeatureCollection, valid, counts per kind).

    Without ``tolerance_m`` the setting applies (:func:`api.config.coverage_tolerances`), and
    the noise floor is always the setting's.
    """
    require_code_field(grids, code_field)
    tolerance_m, noise_m = coverage_tolerances(tolerance_m)
    findings = validate(
        grids, boundary, code_field=code_field, tolerance_m=tolerance_m, noise_m=noise_m
    )
    valid = not bool((findings["severity"] == "error").any()) if len(findings) else True
    kinds = {str(k): int(v) for k, v in findings["kind"].value_counts().sort_index().items()}
    return findings_to_geojson(findings), valid, kinds


def _community_code(grids: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame, code_field: str) -> str:
    if "code" in boundary.columns:
        codes = {str(c) for c in boundary["code"].dropna()}
        if len(codes) == 1 and len(code := codes.pop()) == 12 and code.isdigit():
            return code
    prefixes = {str(c)[:12] for c in grids[code_field]}
    if len(prefixes) == 1 and all(len(str(c)) == 15 for c in grids[code_field]):
        prefix = prefixes.pop()
        if prefix.isdigit():
            return prefix
    raise InputError(
        "新社区需要 12 位社区编码：边界的 code 属性，或网格 15 位编码的共同前缀 / a new "
        "community needs its 12-digit code: the boundary's 'code' property, or the common "
        "prefix of 15-digit grid codes"
    )


def _new_community_name_code(
    community: str, grids: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame, code_field: str
) -> tuple[str, str]:
    """Name and code of a community not stored yet: ``community`` is its name, or its code
    (then the name is the boundary's single ``name``/``Name``/``名称`` value)."""
    given = str(community).strip()
    if not (len(given) == 12 and given.isdigit()):
        return given, _community_code(grids, boundary, code_field)
    column = grid_name_column(boundary)
    names = {str(v).strip() for v in boundary[column].dropna()} if column else set()
    if len(names) != 1:
        raise InputError(
            f"没有编码为 {given} 的社区；新建社区需要名称：--community 写名称，或边界带 name "
            f"属性 / no community has the code {given}; a new community needs a name: give "
            "--community NAME, or a boundary with a 'name' property"
        )
    return names.pop(), given


GRID_NAME_COLUMNS = ("name", "Name", "NAME", "名称")
"""Columns a grid's (or boundary's) name is read from, first found: ``Name`` is what GDAL
calls a KML Placemark's ``<name>``; ``名称`` is common in Chinese attribute tables."""


def grid_name_column(frame: gpd.GeoDataFrame) -> str | None:
    """The first of :data:`GRID_NAME_COLUMNS` in ``frame``, or None."""
    return next((c for c in GRID_NAME_COLUMNS if c in frame.columns), None)


def _optional_int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def load_division(
    session: Session,
    *,
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame,
    community: str,
    code_field: str = DEFAULT_CODE_FIELD,
    effective_date: dt.date | None = None,
    tolerance_m: float | None = None,
    force: bool = False,
    actor: str | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Validate and store a division; return what changed (see the module docstring).

    The result has ``stored`` (False when refused: errors found and not ``force``), ``valid``,
    ``kinds`` (findings per kind), ``findings`` (FeatureCollection), and when stored
    ``community`` (id, code, name, created), ``division`` (id, label, version,
    effective_from), ``replaced`` (label, effective_to) or None, ``grids`` (count) and
    ``houses`` (assigned, outside) or None when the division is not in effect yet.
    Raises :class:`~gis.errors.InputError` for unusable input.
    """
    today = today or dt.date.today()
    effective_date = effective_date or today
    # judged in the CRS the division is drawn in (a straight edge of a projected file bows
    # once converted to lon/lat), stored in lon/lat
    findings, valid, kinds = check_division(
        grids, boundary, code_field=code_field, tolerance_m=tolerance_m
    )
    # long projected edges split first, so that the stored lon/lat division still validates
    grids = to_lonlat(grids) if grids.crs is not None else grids
    boundary = to_lonlat(boundary) if boundary.crs is not None else boundary
    result: dict[str, Any] = {"valid": valid, "kinds": kinds, "findings": findings}
    if not valid and not force:
        return result | {"stored": False}
    codes = grids[code_field]
    if codes.isna().any() or (codes.astype(str).str.strip() == "").any():
        raise InputError(f"有网格缺少编码 / a grid has no {code_field!r}")
    if codes.astype(str).duplicated().any():
        dup = sorted(set(codes.astype(str)[codes.astype(str).duplicated()]))
        raise InputError(f"网格编码重复 / duplicate grid codes: {', '.join(dup)}")

    record = lookup_community(session, community)
    created = record is None
    outline = shapely.union_all(boundary.geometry.to_numpy())
    if created:
        name, code = _new_community_name_code(community, grids, boundary, code_field)
        street = session.scalars(sa.select(Street).where(Street.code == code[:9])).first()
        record = Community(
            code=code, name=name, street=street, geom=to_db_geometry(outline, multi=True)
        )
        session.add(record)
        session.flush()
    else:
        old = from_db_geometry(record.geom)
        if old is None or not old.equals(outline):
            record.geom = to_db_geometry(outline, multi=True)
    version = (
        session.scalar(
            sa.select(sa.func.max(Division.version)).where(Division.community_id == record.id)
        )
        or 0
    ) + 1
    division = Division(
        community_id=record.id,
        label=f"v{version}",
        version=version,
        created_by=actor,
        note=None if valid else "forced / 强制入库（校验未通过）",
    )
    session.add(division)
    replaced = put_in_effect(session, division, effective_date)
    name_column = grid_name_column(grids)
    names = grids[name_column] if name_column else [None] * len(grids)
    households = grids["households"] if "households" in grids.columns else [None] * len(grids)
    session.add_all(
        Grid(
            community_id=record.id,
            division_id=division.id,
            division=division.label,
            code=str(code),
            name=None if name is None or pd.isna(name) else str(name),
            households=_optional_int(h),
            geom=to_db_geometry(geom, multi=True),
        )
        for code, name, h, geom in zip(codes, names, households, grids.geometry, strict=True)
    )
    session.flush()
    houses = None
    if effective_date <= today:
        # through the ORM, so that every house whose grid changes has it in its history
        moved = reassign_houses(session, record, today)
        total = moved.unchanged + len(moved.changed)
        houses = {
            "assigned": total - moved.outside,
            "outside": moved.outside,
            "changed": len(moved.changed),
        }
    return result | {
        "stored": True,
        "community": {
            "id": record.id,
            "code": record.code,
            "name": record.name,
            "created": created,
        },
        "division": {
            "id": division.id,
            "label": division.label,
            "version": version,
            "effective_from": effective_date.isoformat(),
        },
        "replaced": None
        if replaced is None
        else {"label": replaced.label, "effective_to": replaced.effective_to.isoformat()},
        "grids": len(grids),
        "houses": houses,
    }
