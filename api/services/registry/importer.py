"""Bulk import of houses, residents and staff from the spreadsheets staff keep (XLSX/CSV).

:func:`read_table` reads a file whose header row uses the Chinese headers of
:mod:`api.services.registry.templates` (English headers and field names are accepted too); CSV may
be
UTF-8 (with or without BOM) or GBK. :func:`import_file` validates every row with the registry
validators plus the checks that need the database (door plate of a resident's house, duplicate
ID numbers, door plates and house ids, grid codes of staff), and returns an
:class:`ImportResult` whose :attr:`~ImportResult.errors` is the per-row report: the row number
as Excel shows it (header = row 1), the column, the value, the reason in Chinese and English.

A file with a rejected row imports nothing, unless ``only_good_rows=True``. Rows are written
in the caller's session (its transaction), never committed: run it inside one transaction
(``with session_factory(engine).begin() as session``) so that a failure on any row leaves
nothing written. Houses get their grid code on import: :func:`gis.assign.assign_lonlat` on the
grids of the community's division in effect on ``today`` (the rule of
:func:`api.db.dialect.assign_codes_in_db`), and go in as bulk Core inserts (a few multi-row
``INSERT ... RETURNING`` statements) with their change-log rows written the same way
(:func:`api.db.history.log_inserts`), the rows the ORM would have written. Residents and staff
go through the ORM. The change log gets the actor of the session
(:func:`api.db.history.set_actor`).

Reading a CSV or Parquet register and importing houses needs neither geopandas nor openpyxl;
they are imported where an XLSX file or a GeoDataFrame is.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.communities import UnknownCommunityError, find_community
from api.db.divisions import division_in_effect
from api.db.encrypted import blind_index
from api.db.history import log_inserts
from api.db.models import (
    STORAGE_SRID,
    Community,
    Grid,
    House,
    Resident,
    Staff,
    StaffGrid,
    wkb_of,
)
from api.db.models.incidents import Post
from api.services.registry.templates import (
    COLUMNS,
    DATA_SHEET,
    KINDS,
    column,
    header_map,
    normalise_header,
)
from api.services.registry.validators import FieldError, clean_house, clean_resident, clean_staff
from gis.assign import GridArrays, assign_lonlat
from gis.crs import lonlat_to_wgs84, parse_input_crs
from gis.errors import InputError, UnreadableFileError
from gis.io import check_zip_expansion, get_read_limits

__all__ = [
    "ImportResult",
    "RowError",
    "SourceRow",
    "UnknownCommunityError",
    "find_community",
    "grids_in_effect",
    "import_file",
    "import_rows",
    "read_table",
    "write_report",
]

_CLEANERS = {"houses": clean_house, "residents": clean_resident, "staff": clean_staff}


@dataclass(frozen=True)
class SourceRow:
    """One data row of a file: its row number as a spreadsheet shows it, and field → value."""

    row: int
    values: dict[str, Any]


@dataclass(frozen=True)
class RowError:
    """A rejected value of one row: row number (header = 1), column, field, value, reasons."""

    row: int
    column: str
    field: str
    value: Any
    reason_zh: str
    reason_en: str

    def as_dict(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, dt.date | dt.datetime):
            value = value.isoformat()
        return {
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "value": value,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
        }


@dataclass
class ImportResult:
    """What an import did: rows read, rows written, the rejected rows and why."""

    kind: str
    community: str
    rows: int
    imported: int = 0
    written: bool = False
    errors: list[RowError] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    outside: int = 0  # houses written without a grid (no point, or outside every grid)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def rejected_rows(self) -> list[int]:
        """Row numbers with at least one error, ascending."""
        return sorted({e.row for e in self.errors})

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "community": self.community,
            "rows": self.rows,
            "imported": self.imported,
            "written": self.written,
            "rejected_rows": self.rejected_rows,
            "outside": self.outside,
            "ignored_columns": self.ignored_columns,
            "errors": [e.as_dict() for e in self.errors],
        }


# --------------------------------------------------------------------------- reading


def _cell(value: Any) -> Any:
    """Normalise a cell: stripped text (None when blank), whole floats as ints."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, float):
        if np.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return int(value)
    return value


def _too_many_rows(path: Path, max_rows: int) -> InputError:
    return InputError(
        f"{path}: 数据行超过上限 {max_rows:,} / more than {max_rows:,} data rows; split the "
        "file (bound: WANGGE_MAX_UPLOAD_ROWS for uploads, --max-rows or WANGGE_MAX_LOCAL_ROWS "
        "for local files)"
    )


def _bounded_rows(path: Path, rows: Iterable, max_rows: int | None) -> list[list[Any]]:
    """The rows as lists; refuse more than ``max_rows`` non-blank rows after the first."""
    if max_rows is None:
        return [list(r) for r in rows]
    out: list[list[Any]] = []
    filled = 0
    for r in rows:
        row = list(r)
        out.append(row)
        if any(_cell(v) is not None for v in row):
            filled += 1
            if filled > max_rows + 1:  # the header row is not a data row
                raise _too_many_rows(path, max_rows)
    return out


def _read_csv_rows(path: Path, encoding: str | None, max_rows: int | None) -> list[list[Any]]:
    data = path.read_bytes()
    for codec in [encoding] if encoding else ["utf-8-sig", "gbk"]:
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        try:
            return _bounded_rows(path, csv.reader(io.StringIO(text, newline="")), max_rows)
        except csv.Error as exc:
            raise UnreadableFileError(f"{path}: 无法读取 CSV / cannot read CSV: {exc}") from exc
    raise UnreadableFileError(
        f"{path}: 文本既不是 UTF-8 也不是 GBK / text is neither UTF-8 nor GBK"
    )


def _read_parquet_rows(path: Path, max_rows: int | None) -> list[list[Any]]:
    """A Parquet register as rows, the column names first (a GeoParquet geometry is left out:
    a register's points are its lon/lat columns)."""
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
        n = source.metadata.num_rows
        if max_rows is not None and n > max_rows:
            raise _too_many_rows(path, max_rows)
        table = source.read()
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        if isinstance(exc, InputError):
            raise
        raise UnreadableFileError(f"{path}: 无法读取 Parquet / cannot read Parquet: {exc}") from exc
    names = [c for c in table.column_names if c != "geometry"]
    columns = [table.column(c).to_pylist() for c in names]
    return [names, *(list(row) for row in zip(*columns, strict=True))]


def _read_xlsx_rows(path: Path, kind: str, max_rows: int | None) -> list[list[Any]]:
    try:
        with zipfile.ZipFile(path) as archive:
            check_zip_expansion(archive, str(path), max_bytes=get_read_limits().max_unzipped_bytes)
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
    except InputError:
        raise
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise UnreadableFileError(f"{path}: 无法读取 XLSX / cannot read XLSX: {exc}") from exc
    try:
        name = DATA_SHEET[kind] if DATA_SHEET[kind] in wb.sheetnames else wb.sheetnames[0]
        return _bounded_rows(path, wb[name].iter_rows(values_only=True), max_rows)
    finally:
        wb.close()


def read_table(
    path: str | Path, kind: str, *, encoding: str | None = None, max_rows: int | None = None
) -> tuple[list[SourceRow], list[str]]:
    """Read the data rows of an XLSX/CSV register of ``kind``; return (rows, ignored headers).

    The first row is the header; it is mapped with
    :func:`~api.services.registry.templates.header_map`.
    Blank rows are skipped (the others keep the numbers a spreadsheet shows). XLSX: the sheet
    named as in the template (:data:`~api.services.registry.templates.DATA_SHEET`), else the first.
    More than ``max_rows`` data rows (default the row bound in force,
    :func:`gis.io.get_read_limits`: ``max_upload_rows`` in a request, none for a local file
    on the command line unless bounded there) is refused
    while reading, before the rest of the file is read; an XLSX whose zip would expand past
    :attr:`gis.io.ReadLimits.max_unzipped_bytes` is refused before it is opened.

    Raises
    ------
    UnreadableFileError
        Missing file, not XLSX/CSV, unreadable or undecodable content, no header row.
    InputError
        A required column missing, or two columns meaning the same field; too many rows.
    """
    if max_rows is None:
        max_rows = get_read_limits().max_rows
    path = Path(path)
    headers_of = header_map(kind)
    ext = path.suffix.lower()
    if ext not in (".xlsx", ".csv", ".parquet"):
        raise UnreadableFileError(
            f"{path}: 须为 .xlsx、.csv 或 .parquet / must be an .xlsx, .csv or .parquet file "
            f"(got {ext or 'none'!r})"
        )
    if not path.is_file():
        raise UnreadableFileError(f"{path}: 文件不存在 / file not found")
    if ext == ".csv":
        raw = _read_csv_rows(path, encoding, max_rows)
    elif ext == ".parquet":
        raw = _read_parquet_rows(path, max_rows)
    else:
        raw = _read_xlsx_rows(path, kind, max_rows)
    header_index = next(
        (i for i, r in enumerate(raw) if any(_cell(v) is not None for v in r)), None
    )
    if header_index is None:
        raise UnreadableFileError(f"{path}: 空文件，没有表头 / empty file, no header row")
    fields: dict[int, str] = {}
    ignored: list[str] = []
    seen: dict[str, str] = {}
    for j, text in enumerate(raw[header_index]):
        text = _cell(text)
        if text is None:
            continue
        name = headers_of.get(normalise_header(text))
        if name is None:
            ignored.append(str(text))
            continue
        if name in seen:
            raise InputError(
                f"{path}: 列 {seen[name]!r} 与 {text!r} 是同一字段 {name} / columns "
                f"{seen[name]!r} and {text!r} both mean field {name}"
            )
        seen[name] = str(text)
        fields[j] = name
    missing = [c.header_zh for c in COLUMNS[kind] if c.required and c.field not in seen]
    if missing:
        found = ", ".join(str(_cell(v)) for v in raw[header_index] if _cell(v) is not None)
        raise InputError(
            f"{path}: 缺少必填列 {'、'.join(missing)} / required columns missing: "
            f"{', '.join(missing)} (found: {found or 'none'}); see `wangge template {kind}`"
        )
    rows = []
    for i in range(header_index + 1, len(raw)):
        values = {name: _cell(raw[i][j]) if j < len(raw[i]) else None for j, name in fields.items()}
        if any(v is not None for v in values.values()):
            rows.append(SourceRow(row=i + 1, values=values))
    return rows, ignored


# --------------------------------------------------------------------------- database look-ups


def _grid_rows(session: Session, community_id: int, day: dt.date | None) -> list:
    division = division_in_effect(session, community_id, day)
    if division is None:
        return []
    return list(
        session.execute(
            sa.select(Grid.code, Grid.name, wkb_of(Grid.geom).label("wkb"))
            .where(Grid.division_id == division.id)
            .order_by(Grid.code)
        )
    )


def _geometries(rows: list) -> np.ndarray:
    return shapely.from_wkb(np.array([r.wkb for r in rows], dtype=object))


def grids_in_effect(session: Session, community_id: int, day: dt.date | None = None):
    """Return the grids (``code``, ``name``, geometry) of the community's division in effect
    on ``day`` (default today), in the storage CRS, as a GeoDataFrame; empty when none is in
    effect."""
    import geopandas as gpd

    rows = _grid_rows(session, community_id, day)
    return gpd.GeoDataFrame(
        {"code": [r.code for r in rows], "name": [r.name for r in rows]},
        geometry=_geometries(rows),
        crs=STORAGE_SRID,
    )


def _grid_arrays(session: Session, community_id: int, day: dt.date | None) -> GridArrays:
    """:func:`grids_in_effect` as arrays (codes, shapely geometries), without geopandas."""
    rows = _grid_rows(session, community_id, day)
    return GridArrays(
        np.array([r.code for r in rows], dtype=object), _geometries(rows), STORAGE_SRID
    )


# --------------------------------------------------------------------------- checking rows


def _error(kind: str, row: int, fe: FieldError) -> RowError:
    try:
        header = column(kind, fe.field).header_zh
    except KeyError:
        header = fe.field
    reason_zh, reason_en = fe.reason_zh, fe.reason_en
    if fe.field == "id_number" and isinstance(fe.value, int | float):
        # Excel keeps 15 significant digits: an ID number typed into a number cell is lost
        reason_zh += "（Excel 存成了数字，请把该列设为文本后重新填写）"
        reason_en += " (Excel stored it as a number; format the column as text and retype it)"
    return RowError(row, header, fe.field, fe.value, reason_zh, reason_en)


def _flag_duplicates(
    kind: str,
    cleaned: list[tuple[SourceRow, dict[str, Any]]],
    key: str,
    bad: dict[int, list[RowError]],
    *,
    taken: set[str],
    taken_zh: str,
    taken_en: str,
) -> None:
    """Reject every row sharing ``key`` with another row, and rows whose key is in ``taken``."""
    rows_of: dict[str, list[int]] = defaultdict(list)
    for src, rec in cleaned:
        if rec.get(key) is not None:
            rows_of[rec[key]].append(src.row)
    header = column(kind, key).header_zh
    for src, rec in cleaned:
        value = rec.get(key)
        if value is None:
            continue
        others = [r for r in rows_of[value] if r != src.row]
        if others:
            listed = "、".join(map(str, others))
            bad[src.row].append(
                RowError(src.row, header, key, src.values.get(key),
                         f"文件中重复（第 {listed} 行）",
                         f"duplicated in the file (rows {', '.join(map(str, others))})")
            )  # fmt: skip
        if value in taken:
            bad[src.row].append(
                RowError(src.row, header, key, src.values.get(key), taken_zh, taken_en)
            )


def _check_houses(session, community, cleaned, bad, input_crs) -> None:
    if input_crs:
        parse_input_crs(input_crs)  # an unknown CRS is refused before anything is written
    existing = session.execute(
        sa.select(House.address, House.house_key).where(House.community_id == community.id)
    ).all()
    _flag_duplicates(
        "houses", cleaned, "address", bad, taken={a for a, _ in existing if a},
        taken_zh="本社区已登记此门牌号码", taken_en="door plate already registered here",
    )  # fmt: skip
    _flag_duplicates(
        "houses", cleaned, "house_key", bad, taken={k for _, k in existing if k},
        taken_zh="本社区已有此房屋编号", taken_en="house id already used here",
    )  # fmt: skip


def _chunks(values: list[str], size: int = 5000) -> Iterable[list[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _check_residents(session, community, cleaned, bad) -> None:
    houses: dict[str, list[int]] = defaultdict(list)
    for address, house_id in session.execute(
        sa.select(House.address, House.id).where(House.community_id == community.id)
    ):
        if address is not None:
            houses[address.strip()].append(house_id)
    header = column("residents", "door_plate").header_zh
    for src, rec in cleaned:
        plate = rec.get("door_plate")
        if plate is None:
            continue  # reported as required
        rec["door_plate"] = plate = str(plate).strip()
        found = houses.get(plate, [])
        if len(found) == 1:
            rec["house_id"] = found[0]
            continue
        reason = (
            ("本社区没有此门牌号码的房屋", "no house with this door plate in the community")
            if not found
            else (f"本社区有 {len(found)} 处房屋同此门牌号码", f"{len(found)} houses share it")
        )
        bad[src.row].append(RowError(src.row, header, "door_plate", plate, *reason))
    ids = sorted({rec["id_number"] for _, rec in cleaned if rec.get("id_number")})
    # ID numbers are stored encrypted: look them up by their keyed hash
    by_hash = {blind_index(i, context="residents.id_number"): i for i in ids}
    taken: set[str] = set()
    for chunk in _chunks(sorted(by_hash)):
        hits = session.scalars(
            sa.select(Resident.id_number_hash).where(Resident.id_number_hash.in_(chunk))
        )
        taken.update(by_hash[h] for h in hits)
    _flag_duplicates(
        "residents", cleaned, "id_number", bad, taken=taken,
        taken_zh="此身份证号码已登记", taken_en="ID number already registered",
    )  # fmt: skip


def _check_staff(session, community, cleaned, bad, today) -> None:
    grids = _grid_arrays(session, community.id, today)
    if len(grids.ids):
        known = set(grids.ids)
    else:
        known = set(session.scalars(sa.select(Grid.code).where(Grid.community_id == community.id)))
    header = column("staff", "grid_codes").header_zh
    for src, rec in cleaned:
        unknown = [c for c in rec.get("grid_codes") or [] if c not in known]
        if unknown:
            bad[src.row].append(
                RowError(src.row, header, "grid_codes", src.values.get("grid_codes"),
                         f"不是本社区现行网格：{'、'.join(unknown)}",
                         f"not a grid of the community's division: {', '.join(unknown)}")
            )  # fmt: skip
    posts = set(session.scalars(sa.select(Post.name)))
    for src, rec in cleaned:
        if rec.get("post") and rec["post"] not in posts:
            bad[src.row].append(
                RowError(src.row, column("staff", "post").header_zh, "post", rec["post"],
                         f"未知岗位（已有：{'、'.join(sorted(posts))}）",
                         f"unknown post (known: {', '.join(sorted(posts))})")
            )  # fmt: skip
    existing = set(
        tuple(row)
        for row in session.execute(
            sa.select(Staff.name, Staff.phone).where(Staff.community_id == community.id)
        )
    )
    for src, rec in cleaned:
        if (rec.get("name"), rec.get("phone")) in existing:
            bad[src.row].append(
                RowError(src.row, column("staff", "name").header_zh, "name", rec["name"],
                         "本社区已登记同名同电话的人员",
                         "staff with this name and phone already registered here")
            )  # fmt: skip


# --------------------------------------------------------------------------- writing


def _coordinates(records: list[dict[str, Any]], input_crs: str | None) -> tuple[np.ndarray, ...]:
    """lon, lat arrays of the records in WGS84 (converted from ``input_crs``); NaN: no point."""
    lon = np.array([np.nan if r.get("lon") is None else r["lon"] for r in records], dtype=float)
    lat = np.array([np.nan if r.get("lat") is None else r["lat"] for r in records], dtype=float)
    source = parse_input_crs(input_crs) if input_crs else "wgs84"
    if source != "wgs84" and len(records):
        lon, lat = lonlat_to_wgs84(lon, lat, source)
    return lon, lat


def _insert_houses(session, community, records, today, input_crs) -> tuple[list[int], int]:
    """Insert the houses in bulk with their grid codes and change-log rows; return their ids
    (in the order of ``records``) and how many got no grid.

    The rows are those the ORM wrote one by one before: the same columns, the point bound as
    the same EWKT text (``SRID=...;POINT (lon lat)``, every double kept), and one change-log
    row per house holding the whole record (:func:`api.db.history.log_inserts`).
    """
    lon, lat = _coordinates(records, input_crs)
    codes = assign_lonlat(lon, lat, STORAGE_SRID, _grid_arrays(session, community.id, today))
    has_point = ~(np.isnan(lon) | np.isnan(lat))
    points = np.full(len(records), None, dtype=object)
    points[has_point] = shapely.points(lon[has_point], lat[has_point])
    wkt = shapely.to_wkt(points, rounding_precision=-1)  # as the ORM bound it (shapely's .wkt)
    srid = f"SRID={STORAGE_SRID};"
    house_fields = [c.field for c in COLUMNS["houses"] if c.field not in ("lon", "lat")]
    rows = [
        {
            "community_id": community.id,
            **{k: rec.get(k) for k in house_fields},
            "geom": None if text is None else srid + text,
            "grid_code": code,
        }
        for rec, text, code in zip(records, wkt, codes, strict=True)
    ]
    table = House.__table__
    # Multi-row INSERTs (SQLAlchemy's "insertmanyvalues"), whose RETURNING rows come back in
    # no promised order: each id is matched to its row by the door plate, unique among the
    # rows written (duplicates were rejected). Asking for the rows' order instead would make
    # SQLite insert one row per statement.
    returned = session.execute(sa.insert(table).returning(table.c.id, table.c.address), rows)
    id_of = {address: house_id for house_id, address in returned}
    if len(id_of) != len(rows):
        raise RuntimeError(f"{len(rows)} houses inserted but {len(id_of)} ids returned")
    ids = [id_of[row["address"]] for row in rows]
    for row, house_id, text in zip(rows, ids, wkt, strict=True):
        row["id"], row["geom"] = house_id, text  # the log holds the point as WKT
    log_inserts(session, House, rows)
    return ids, sum(c is None for c in codes)


def _add_residents(session, community, records, today) -> list[Resident]:
    resident_fields = [c.field for c in COLUMNS["residents"] if c.field != "door_plate"]
    residents = [
        Resident(house_id=rec["house_id"], **{k: rec.get(k) for k in resident_fields})
        for rec in records
    ]
    session.add_all(residents)
    return residents


def _add_staff(session, community, records, today) -> list[Staff]:
    staff = []
    for rec in records:
        member = Staff(
            community_id=community.id,
            name=rec["name"],
            role=rec["role"],
            phone=rec.get("phone"),
            phone_published=rec.get("phone_published", True),
            duties=rec.get("duties"),
            photo_path=rec.get("photo_path"),
            post=rec.get("post"),
            staff_no=rec.get("staff_no"),
            is_4050=bool(rec.get("is_4050")),
        )
        member.grids = [
            StaffGrid(grid_code=code, community_id=community.id)
            for code in dict.fromkeys(rec.get("grid_codes") or [])
        ]
        staff.append(member)
    session.add_all(staff)
    return staff


def import_rows(
    session: Session,
    kind: str,
    rows: Iterable[SourceRow],
    *,
    community: str | Community,
    only_good_rows: bool = False,
    today: dt.date | None = None,
    input_crs: str | None = None,
) -> ImportResult:
    """Validate ``rows`` of ``kind`` and add them to ``session`` (flushed, not committed).

    Nothing is added when a row is rejected, unless ``only_good_rows``. ``today`` dates the
    validation ("not in the future") and picks the division whose grids houses are assigned
    to (default: the current date). ``input_crs`` (``wgs84``, ``gcj02``, ``bd09``, ...) says
    what the houses' lon/lat are; GCJ-02/BD-09 are converted to WGS84.
    """
    if kind not in KINDS:
        raise InputError(f"未知的登记类型 / unknown kind {kind!r}; expected {', '.join(KINDS)}")
    today = today or dt.date.today()
    rows = list(rows)
    if not isinstance(community, Community):
        community = find_community(session, community)
    result = ImportResult(kind=kind, community=community.code, rows=len(rows))
    bad: dict[int, list[RowError]] = defaultdict(list)
    cleaned: list[tuple[SourceRow, dict[str, Any]]] = []
    for src in rows:
        rec, field_errors = _CLEANERS[kind](src.values, today=today)
        bad[src.row].extend(_error(kind, src.row, fe) for fe in field_errors)
        cleaned.append((src, rec))
    with session.no_autoflush:
        if kind == "houses":
            _check_houses(session, community, cleaned, bad, input_crs)
        elif kind == "residents":
            _check_residents(session, community, cleaned, bad)
        else:
            _check_staff(session, community, cleaned, bad, today)
    result.errors = [e for src in rows for e in bad.get(src.row, [])]
    good = [rec for src, rec in cleaned if not bad.get(src.row)]
    if result.errors and not only_good_rows:
        return result
    if good and kind == "houses":
        result.ids, result.outside = _insert_houses(session, community, good, today, input_crs)
    elif good:
        if kind == "residents":
            added = _add_residents(session, community, good, today)
        else:
            added = _add_staff(session, community, good, today)
        session.flush()
        result.ids = [obj.id for obj in added]
    result.imported = len(good)
    result.written = bool(good)
    return result


def import_file(
    session: Session,
    kind: str,
    path: str | Path,
    *,
    community: str | Community,
    only_good_rows: bool = False,
    today: dt.date | None = None,
    encoding: str | None = None,
    input_crs: str | None = None,
) -> ImportResult:
    """Read ``path`` (:func:`read_table`) and import its rows (:func:`import_rows`).

    Raises :class:`~gis.errors.UnreadableFileError` / :class:`~gis.errors.InputError` for a
    file that cannot be used at all (nothing is added then).
    """
    rows, ignored = read_table(path, kind, encoding=encoding)
    result = import_rows(
        session, kind, rows, community=community, only_good_rows=only_good_rows, today=today,
        input_crs=input_crs,
    )  # fmt: skip
    result.ignored_columns = ignored
    return result


REPORT_HEADERS = ("行号 row", "列 column", "字段 field", "值 value", "原因", "reason")


def write_report(result: ImportResult, path: str | Path) -> Path:
    """Write the per-row report (one line per rejected value) as XLSX or CSV (UTF-8 with BOM)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".xlsx", ".csv"):
        raise InputError(f"{path}: 报告须为 .xlsx 或 .csv / the report must be .xlsx or .csv")
    lines = [
        (e.row, e.column, e.field, None if e.value is None else str(e.as_dict()["value"]),
         e.reason_zh, e.reason_en)
        for e in result.errors
    ]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(REPORT_HEADERS)
            writer.writerows(lines)
        return path
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "导入报告"
    ws.append(REPORT_HEADERS)
    for line in lines:
        ws.append(line)
        ws.cell(row=ws.max_row, column=4).number_format = "@"
    wb.save(path)
    return path
