"""Export a community's layers and ledgers (台账): grids, houses and incidents to GeoPackage,
Shapefile, XLSX, CSV and GeoJSON; residents, special-status rosters, staff and work logs to
XLSX and CSV (the ledgers of :mod:`api.services.registry.ledgers`).

Layers (one row per record, ordered by grid code / record id, geometry in the storage CRS;
GeoJSON and XLSX in WGS84 lon/lat as :func:`gis.io.write_layer` writes them):

- ``grids``: the division in effect today, or the one labelled ``division``: code, name,
  households, division label, version, effective dates (ISO text), area in m² (computed in the
  metric CRS of :func:`gis.crs.metric_crs`); polygons.
- ``houses``: the registry fields (owner included; residents are not exported here) and the
  grid code; points (a house without a point has no geometry).
- ``incidents``: the incident ledger (number, category, severity, report time, place, grid,
  reporter, handler, state, deadline, resolved and closed times, on time, satisfaction,
  description; times as Asia/Shanghai text with the offset); points.
- ``residents``, ``special``, ``staff``, ``worklog``: tables without geometry (XLSX/CSV
  only) with the columns of :data:`api.services.registry.ledgers.LEDGER_COLUMNS`. ID numbers and
  phones are masked unless ``unmask`` and the exporting user's approved requests cover the
  export (:func:`api.services.privacy.export_grants`); an unmasked export writes one audit
  row (``unmask_export``).

CSV is written UTF-8 with a byte-order mark (Excel opens it as UTF-8), Chinese headers as
XLSX.

Field names are the field names in GeoPackage and GeoJSON. XLSX uses the Chinese headers
(houses: those of :mod:`api.services.registry.templates`, so an exported sheet can be imported
again)
with ``经度``/``纬度`` columns for points and a ``wkt`` column for grids. A Shapefile limits
field names to 10 bytes: :data:`SHAPEFILE_FIELD_NAMES` is the documented short-name mapping
(names not listed are already short enough), and the ``.cpg`` says UTF-8.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.timefmt import local_text
from api.db.audit_chain import seal
from api.db.communities import find_community
from api.db.divisions import division_in_effect
from api.db.models import (
    STORAGE_SRID,
    Division,
    Grid,
    House,
    User,
    from_db_geometry,
    utc_now,
)
from api.services.registry.ledgers import (
    LEDGER_COLUMNS,
    MASKED_KINDS,
    incident_rows,
    ledger_frame,
    masked_scope,
    month_bounds,
)
from api.services.registry.templates import COLUMNS
from gis.crs import metric_crs
from gis.errors import InputError
from gis.io import write_layer

__all__ = [
    "EXPORT_FORMATS",
    "EXPORT_LAYERS",
    "SHAPEFILE_FIELD_NAMES",
    "SPATIAL_LAYERS",
    "TABLE_FORMATS",
    "XLSX_HEADERS",
    "ExportResult",
    "export_layer",
    "grids_frame",
    "houses_frame",
    "incidents_frame",
]

SPATIAL_LAYERS = ("grids", "houses", "incidents")
EXPORT_LAYERS = (*SPATIAL_LAYERS, "residents", "special", "staff", "worklog")
EXPORT_FORMATS = (".gpkg", ".shp", ".xlsx", ".csv", ".geojson", ".parquet")
TABLE_FORMATS = (".xlsx", ".csv")
"""Formats of the ledgers without geometry."""

SHAPEFILE_FIELD_NAMES: dict[str, dict[str, str]] = {
    "grids": {"effective_from": "eff_from", "effective_to": "eff_to"},
    "houses": {"floor_area_m2": "area_m2"},
    "incidents": {
        "external_id": "ext_id",
        "category_code": "category",
        "category_name": "cat_name",
        "reported_at": "reported",
        "resolved_at": "resolved",
        "satisfaction": "satisfied",
        "description": "descr",
    },
}
"""Shapefile field name (≤ 10 bytes) of each exported field longer than that, per layer."""

XLSX_HEADERS: dict[str, dict[str, str]] = {
    "grids": {
        "code": "网格编码",
        "name": "网格名称",
        "households": "户数",
        "division": "划分",
        "version": "版本",
        "effective_from": "生效日期",
        "effective_to": "失效日期",
        "area_m2": "面积(m²)",
    },
    "houses": {c.field: c.header_zh for c in COLUMNS["houses"] if c.field not in ("lon", "lat")}
    | {"grid_code": "网格编码"},
    "incidents": LEDGER_COLUMNS["incidents"],
}
"""Chinese XLSX header of each exported field, per layer."""

_HOUSE_FIELDS = (
    "house_key", "address", "road", "number", "building", "households", "floor_area_m2",
    "house_type", "use", "owner", "grid_code",
)  # fmt: skip


@dataclass(frozen=True)
class ExportResult:
    """What was exported: layer, community, division (grids), rows, file written."""

    layer: str
    community: str
    rows: int
    path: Path
    division: str | None = None
    masked: bool | None = None
    audit_id: int | None = None

    def as_dict(self) -> dict:
        return {
            "layer": self.layer,
            "community": self.community,
            "division": self.division,
            "rows": self.rows,
            "out": str(self.path),
            "masked": self.masked,
            "audit_id": self.audit_id,
        }


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    """Dates as dates; times in Asia/Shanghai with the offset (one time zone rule)."""
    if isinstance(value, dt.datetime):
        return local_text(value)
    return None if value is None else value.isoformat()


def _frame(records: list[dict], geoms: list, columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    df = pd.DataFrame.from_records(records, columns=list(columns))
    for name in ("households", "version"):
        if name in df.columns:
            df[name] = df[name].astype("Int64")
    return gpd.GeoDataFrame(df, geometry=geoms, crs=STORAGE_SRID)


def grids_frame(
    session: Session, community_id: int, *, division: str | None = None
) -> tuple[gpd.GeoDataFrame, Division]:
    """Return the grids of the division in effect today (or labelled ``division``)."""
    if division is None:
        record = division_in_effect(session, community_id)
        if record is None:
            raise InputError(
                "社区今天没有生效的网格划分，请用 --division 指定 / the community has no division "
                "in effect today; name one with --division"
            )
    else:
        record = session.scalars(
            sa.select(Division).where(
                Division.community_id == community_id, Division.label == division
            )
        ).first()
        if record is None:
            labels = session.scalars(
                sa.select(Division.label)
                .where(Division.community_id == community_id)
                .order_by(Division.version)
            ).all()
            raise InputError(
                f"没有划分 {division!r} / no division {division!r}; "
                f"known: {', '.join(labels) or 'none'}"
            )
    grids = session.scalars(
        sa.select(Grid).where(Grid.division_id == record.id).order_by(Grid.code)
    ).all()
    columns = ("code", "name", "households", "division", "version", "effective_from",
               "effective_to", "area_m2")  # fmt: skip
    records = [
        {
            "code": g.code,
            "name": g.name,
            "households": g.households,
            "division": record.label,
            "version": record.version,
            "effective_from": _iso(record.effective_from),
            "effective_to": _iso(record.effective_to),
        }
        for g in grids
    ]
    frame = _frame(records, [from_db_geometry(g.geom) for g in grids], columns)
    if len(frame):
        frame["area_m2"] = frame.to_crs(metric_crs(frame)).area.to_numpy()
    else:
        frame["area_m2"] = pd.Series(dtype=float)
    return frame, record


def houses_frame(session: Session, community_id: int) -> gpd.GeoDataFrame:
    """Return the houses of the community (registry fields, owner, grid code; points)."""
    houses = session.scalars(
        sa.select(House).where(House.community_id == community_id).order_by(House.id)
    ).all()
    records = [{k: getattr(h, k) for k in _HOUSE_FIELDS} for h in houses]
    return _frame(records, [from_db_geometry(h.geom) for h in houses], _HOUSE_FIELDS)


def incidents_frame(
    session: Session,
    community_id: int,
    *,
    month: str | None = None,
    category: str | None = None,
    now: dt.datetime | None = None,
) -> gpd.GeoDataFrame:
    """Return the incident ledger of the community (fields of
    :data:`api.services.registry.ledgers.LEDGER_COLUMNS`, times as Asia/Shanghai text with the
    offset, ``YYYY-MM-DD HH:MM:SS+08:00``; points), ordered by record id."""
    rows = incident_rows(session, community_id, month=month, category=category,
                         now=now or utc_now())  # fmt: skip
    geoms = [from_db_geometry(r.pop("geom")) for r in rows]
    return _frame(rows, geoms, tuple(LEDGER_COLUMNS["incidents"]))


def _write_table(frame: pd.DataFrame, path: Path, sheet: str) -> Path:
    """Write a ledger without geometry to XLSX (one sheet) or CSV (UTF-8 with BOM)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8-sig")
    else:
        frame.to_excel(path, index=False, sheet_name=sheet, engine="openpyxl")
    return path


def _unmask_audit(session: Session, *, user: User, layer: str, community, scope, grants,
                  rows: int, month, category, path: Path, now) -> int:  # fmt: skip
    from api.services.privacy import audit

    row = audit(
        session, user=user, action="unmask_export",
        table_name="residents" if layer == "residents" else "special_statuses",
        detail={
            "export": layer, "community": community.code, "category": category,
            "month": month, "rows": rows, "residents": len(scope), "file": path.name,
            "access_request_ids": [g.id for g in grants],
            "purposes": [g.reason for g in grants],
        },
        at=now,
    )  # fmt: skip
    seal(session)  # the id goes into the result: written now, as the transaction's last write
    return row.id


def export_layer(
    session: Session,
    layer: str,
    path: str | Path,
    *,
    community: str,
    division: str | None = None,
    month: str | None = None,
    category: str | None = None,
    unmask: bool = False,
    user: User | None = None,
    now: dt.datetime | None = None,
    allow_truncate: bool = False,
) -> ExportResult:
    """Write ``layer`` (one of :data:`EXPORT_LAYERS`) of ``community`` (code or name) to
    ``path`` (.gpkg, .shp, .xlsx, .csv, .geojson, .parquet as GeoParquet, by extension;
    ledgers without geometry .xlsx and .csv); return what was written.

    ``unmask`` (residents, special) shows ID numbers and phones in full when ``user``'s
    approved requests cover the export, and writes one audit row (the caller commits);
    :class:`~api.core.errors.Forbidden` when they do not.

    Raises :class:`~gis.errors.InputError` for an unknown layer, format, community, division
    or month, an option the layer does not take, and for a Shapefile that would truncate
    text (unless ``allow_truncate``).
    """
    if layer not in EXPORT_LAYERS:
        raise InputError(
            f"未知图层 / unknown layer {layer!r}; expected one of {', '.join(EXPORT_LAYERS)}"
        )
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in EXPORT_FORMATS:
        raise InputError(
            f"{path}: 不支持的导出格式 / unsupported export format {ext or '(none)'!r}; "
            f"use one of {' '.join(EXPORT_FORMATS)}"
        )
    if division is not None and layer != "grids":
        raise InputError("--division 只用于导出网格 / --division applies to grids only")
    if layer not in SPATIAL_LAYERS and ext not in TABLE_FORMATS:
        raise InputError(
            f"{path}: {layer} 台账没有几何，只能导出 .xlsx 或 .csv / the {layer} ledger has no "
            f"geometry: export it to .xlsx or .csv"
        )
    if unmask and layer not in MASKED_KINDS:
        raise InputError(f"--unmask 只用于居民和特殊人群台账 / --unmask applies to "
                         f"residents and special, not {layer}")  # fmt: skip
    if unmask and user is None:
        raise InputError("不脱敏导出须指明导出人 / an unmasked export needs the exporting user")
    if month is not None:
        month_bounds(month)
    record = find_community(session, community)
    now = now or utc_now()
    if layer not in SPATIAL_LAYERS:
        grants = []
        if unmask:
            from api.services.privacy import export_grants

            scope = masked_scope(session, layer, record.id, category=category)
            grants = export_grants(session, user=user, community_id=record.id, scope=scope,
                                   now=now)  # fmt: skip
        table = ledger_frame(session, layer, record.id, month=month, category=category,
                             unmasked=bool(grants), now=now)  # fmt: skip
        written = _write_table(table, path, layer)
        audit_id = None
        if grants:
            audit_id = _unmask_audit(
                session, user=user, layer=layer, community=record, scope=scope, grants=grants,
                rows=len(table), month=month, category=category, path=path, now=now,
            )  # fmt: skip
        masked = None if layer not in MASKED_KINDS else not grants
        return ExportResult(layer, record.code, len(table), written, None, masked, audit_id)
    if (month is not None or category is not None) and layer != "incidents":
        raise InputError(f"--month/--category 不用于 {layer} / --month and --category do not "
                         f"apply to {layer}")  # fmt: skip
    label = None
    if layer == "grids":
        frame, div = grids_frame(session, record.id, division=division)
        label = div.label
    elif layer == "houses":
        frame = houses_frame(session, record.id)
    else:
        frame = incidents_frame(session, record.id, month=month, category=category, now=now)
    out = frame
    if ext == ".shp":
        out = frame.rename(columns=SHAPEFILE_FIELD_NAMES[layer])
    elif ext in TABLE_FORMATS:
        out = frame.rename(columns=XLSX_HEADERS[layer])
        if layer != "grids":
            out["经度"], out["纬度"] = float("nan"), float("nan")  # filled by write_layer
    written = write_layer(out, path, layer=layer, allow_truncate=allow_truncate)
    return ExportResult(layer, record.code, len(frame), written, label)
