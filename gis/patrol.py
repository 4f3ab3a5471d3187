"""Patrol logs: time a grid worker spends inside their grids, from GPS tracks.

A track (GPX, or a CSV of time/lon/lat) is read by :func:`read_track`, cleaned by
:func:`clean_track`, clipped to the grids by :func:`time_in_grids` (hours per day and grid)
and summed per week by :func:`weekly_summary`; :func:`patrol_report` does all four and
returns the JSON shape of ``wangge patrol hours``.

Model
-----
Between two consecutive fixes of one track segment the worker is taken to move along the
straight line between them at constant speed (in the metric CRS of :func:`gis.crs.metric_crs`).
Time is therefore proportional to length along that line: the moment the line crosses a grid
edge is found on the line (the crossing's fraction of the length), not rounded to a fix.
A pair of fixes at the same place (less than 1 mm apart: the worker standing still) credits
its whole interval to the grid covering that place. Time is split at midnight
Asia/Shanghai, each day getting its own share.

Cleaning (defaults chosen for grid workers, who patrol on foot, by bicycle or e-bike):

* :data:`DEFAULT_MAX_SPEED_KMH` = 30 km/h. GB 17761-2018 caps e-bikes at 25 km/h; 30 leaves
  room for GPS noise. A fix farther from the previous *kept* fix (same segment) than
  ``max_speed × Δt + speed_slack_m`` is dropped; ``speed_slack_m`` (10 m) keeps the jitter
  of fixes one second apart from reading as speed. A fix at the same time as the previous
  kept fix is dropped (it adds no time).
* :data:`DEFAULT_MAX_ACCURACY_M` = 50 m. A grid is a few hundred metres across; a fix
  worse than 50 m cannot say which grid the worker was in. GPX ``<hdop>`` (else ``<pdop>``)
  is converted to metres as DOP × :data:`DOP_UERE_M` (5 m, a typical user range error of a
  phone GPS); an accuracy in the GPX extensions (metres) takes precedence. Fixes whose
  accuracy is unknown are kept.
* :data:`DEFAULT_MAX_GAP_S` = 600 s. Logging apps record every 1–60 s; ten minutes without a
  fix means lost signal or a stopped app, and at walking pace (5 km/h) covers ~830 m, about
  a grid's width, so a straight line says nothing about where the worker was. A gap longer
  than the cap credits nothing: the segment is split there. Gaps are measured between kept
  fixes, so a run of dropped fixes longer than the cap also credits nothing, and a bad first
  fix can hold back at most one gap's worth of good ones (after the cap the next fix starts
  a new segment and is kept).

Track segments (GPX ``<trkseg>``, a CSV ``segment`` column) are never joined to one another.

Tie-break: a stretch of track covered by several grids (running along a shared edge, or an
overlap in a defective division) is credited once, to the grid whose code sorts first as a
Python string — the rule of :data:`gis.assign.TIE_BREAK` for points. The track's edges
count as inside (covers, not contains).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
import xml.etree.ElementTree as ET  # nosec B405  # types only: parsing goes through defusedxml
from pathlib import Path

import defusedxml.ElementTree as SafeET
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from defusedxml import DefusedXmlException
from pyproj import CRS, Transformer

from gis.codes import require_code_field
from gis.crs import WGS84, lonlat_to_wgs84, metric_crs, parse_input_crs, require_crs
from gis.defaults import (
    DEFAULT_CODE_FIELD,
    DEFAULT_MAX_ACCURACY_M,
    DEFAULT_MAX_GAP_S,
    DEFAULT_MAX_SPEED_KMH,
    DEFAULT_SPEED_SLACK_M,
    DEFAULT_THRESHOLD_HOURS,
    DOP_UERE_M,
    TIMEZONE,
)
from gis.errors import GeometryTypeError, InputError, InputTypeError, UnreadableFileError
from gis.io import find_column, read_csv_text

__all__ = [
    "DEFAULT_MAX_ACCURACY_M",
    "DEFAULT_MAX_GAP_S",
    "DEFAULT_MAX_SPEED_KMH",
    "DEFAULT_SPEED_SLACK_M",
    "DEFAULT_THRESHOLD_HOURS",
    "DOP_UERE_M",
    "TIMEZONE",
    "TRACK_COLUMNS",
    "clean_track",
    "patrol_report",
    "read_track",
    "time_in_grids",
    "weekly_summary",
]


TRACK_COLUMNS = ("time", "lon", "lat", "segment", "accuracy_m")
"""Columns of a track frame: ``time`` tz-aware (Asia/Shanghai), ``lon``/``lat`` WGS84,
``segment`` int (fixes of different segments are never joined), ``accuracy_m`` float (NaN
when unknown)."""

TIME_COLUMN_NAMES = ("time", "timestamp", "datetime", "date_time", "时间", "定位时间")
LON_COLUMN_NAMES = ("lon", "lng", "longitude", "long", "经度")
LAT_COLUMN_NAMES = ("lat", "latitude", "纬度")
ACCURACY_COLUMN_NAMES = ("accuracy", "accuracy_m", "acc", "hacc", "精度")
SEGMENT_COLUMN_NAMES = ("segment", "seg", "track_segment", "段")

_GPX_ACCURACY_TAGS = ("accuracy", "hacc", "horizontal_accuracy", "horizontalaccuracy")
# Clipping snaps to a 1 µm grid, and a place within 1 µm of a grid is on it, so that a track
# run along an edge is on the edge (a shared edge: on both grids, and the tie-break decides)
# instead of zigzagging across it by the float noise (~1 nm) of projecting lon/lat.
_SNAP_M = 1e-6
_STILL_M = 1e-3  # fixes less than 1 mm apart: standing still
_EPOCH = pd.Timestamp(0, tz="UTC")
_SECOND = pd.Timedelta(seconds=1)
_DAY_COLUMNS = ("date", "grid_code", "seconds", "hours")
_WEEK_COLUMNS = ("week_start", "seconds", "hours", "under_15h")

# --- reading ---------------------------------------------------------------------------


def read_track(
    path: str | Path, *, gcj02: bool = False, input_crs: str | None = None
) -> pd.DataFrame:
    """Read a GPS track (GPX 1.0/1.1 or CSV) as a frame of :data:`TRACK_COLUMNS`.

    Parameters
    ----------
    path
        ``.gpx``: every ``trk/trkseg/trkpt`` (lat/lon attributes, ``<time>``; optional
        ``<hdop>``/``<pdop>`` or an accuracy in metres in ``<extensions>``); each
        ``<trkseg>`` is its own segment. GPX times without an offset are UTC, as the
        standard says. ``.csv``: columns found by name, case-insensitive —
        time ``time|timestamp|datetime|时间``, lon ``lon|lng|longitude|经度``,
        lat ``lat|latitude|纬度``, optional ``accuracy|accuracy_m|精度`` (metres) and
        ``segment``. CSV times are read with their offset (``+08:00``, ``Z``) or else as
        Asia/Shanghai; 10- or 13-digit numbers are Unix seconds or milliseconds.
    gcj02
        The coordinates are GCJ-02 (Amap/Tencent); they are converted to WGS84. The same
        as ``input_crs="gcj02"``.
    input_crs
        What the coordinates are: "wgs84" (default; GPX is WGS84 by its standard),
        "cgcs2000", "gcj02" or "bd09" (or an alias of :func:`gis.crs.parse_input_crs`);
        GCJ-02/BD-09 are converted to WGS84.

    Returns
    -------
    pandas.DataFrame
        One row per fix, sorted by segment then time (stable), index 0..n-1.

    Raises
    ------
    UnreadableFileError
        Missing file, unknown extension, XML or CSV that cannot be parsed.
    InputError
        A fix without a usable time or coordinate (naming the GPX ``trkpt`` or the CSV row
        as a spreadsheet shows it, header = row 1, and the reason), no fixes at all.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".gpx", ".csv"):
        raise UnreadableFileError(
            f"{path}: 不支持的轨迹格式 / unsupported track file type {ext or '(none)'!r}; "
            "supported: .gpx .csv"
        )
    if not path.is_file():
        raise UnreadableFileError(f"{path}: 文件不存在 / file not found")
    frame = _read_gpx(path) if ext == ".gpx" else _read_csv_track(path)
    if frame.empty:
        raise InputError(f"{path}: 轨迹中没有定位点 / the track has no fixes")
    source = parse_input_crs(input_crs) if input_crs is not None else None
    if gcj02 and source not in (None, "gcj02"):
        raise InputError(
            f"gcj02=True 与 input_crs={input_crs!r} 矛盾 / gcj02=True contradicts "
            f"input_crs={input_crs!r}; give one"
        )
    source = "gcj02" if gcj02 else source
    if source is not None:
        lon, lat = lonlat_to_wgs84(frame["lon"].to_numpy(), frame["lat"].to_numpy(), source)
        frame["lon"], frame["lat"] = np.asarray(lon), np.asarray(lat)
    return _sorted_track(frame)


def _sorted_track(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values(["segment", "time"], kind="stable").reset_index(drop=True)
    return frame.loc[:, list(TRACK_COLUMNS)]


def _frame(
    epoch_ns: list[int], lon: list[float], lat: list[float], seg: list[int], acc: list[float]
) -> pd.DataFrame:
    times = pd.to_datetime(np.asarray(epoch_ns, dtype="int64"), unit="ns", utc=True)
    return pd.DataFrame(
        {
            "time": times.tz_convert(TIMEZONE),
            "lon": np.asarray(lon, dtype=float),
            "lat": np.asarray(lat, dtype=float),
            "segment": np.asarray(seg, dtype="int64"),
            "accuracy_m": np.asarray(acc, dtype=float),
        }
    )


def _parse_time(text: object, naive_tz: str) -> int:
    """Return nanoseconds since the Unix epoch for one time value, or raise InputError."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        raise InputError("时间为空 / time is empty")
    value = str(text).strip()
    if not value:
        raise InputError("时间为空 / time is empty")
    if re.fullmatch(r"\d{10}(\.\d+)?|\d{13}(\.\d+)?", value):
        seconds = float(value) / (1000.0 if len(value.split(".")[0]) == 13 else 1.0)
        return round(seconds * 1e9)
    if not re.search(r"\d", value):  # pandas reads "now" and "today" as times
        raise InputError(f"不是时间 / is not a time: {value!r}")
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise InputError(f"不是时间 / is not a time: {value!r}")
    if stamp.tzinfo is None:
        try:
            stamp = stamp.tz_localize(naive_tz, ambiguous="raise", nonexistent="raise")
        except Exception as exc:  # pytz/zoneinfo errors for DST gaps and folds
            raise InputError(f"本地时间不存在或有歧义 / ambiguous local time: {value!r}") from exc
    return int(stamp.value)


def _parse_number(text: object, what: str, *, optional: bool = False) -> float:
    if text is None or (isinstance(text, float) and math.isnan(text)) or str(text).strip() == "":
        if optional:
            return math.nan
        raise InputError(f"{what} 为空 / {what} is empty")
    try:
        number = float(str(text).strip())
    except ValueError:
        raise InputError(f"{what} 不是数字 / {what} is not a number: {text!r}") from None
    if not math.isfinite(number):
        raise InputError(f"{what} 不是有限数 / {what} is not finite: {text!r}")
    return number


def _check_lon_lat(lon: float, lat: float) -> None:
    if not -180.0 <= lon <= 180.0:
        raise InputError(f"经度超出范围 / lon out of range: {lon}")
    if not -90.0 <= lat <= 90.0:
        hint = " (经纬度可能颠倒 / lon and lat swapped?)" if -90 <= lon <= 90 else ""
        raise InputError(f"纬度超出范围 / lat out of range: {lat}{hint}")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return child.text
    return None


def _gpx_accuracy_m(point: ET.Element) -> float:
    for extensions in _children(point, "extensions"):
        for element in extensions.iter():
            if _local(element.tag) in _GPX_ACCURACY_TAGS and element.text is not None:
                return _parse_number(element.text, "accuracy 精度")
    for dop in ("hdop", "pdop"):
        text = _child_text(point, dop)
        if text is not None:
            return _parse_number(text, dop) * DOP_UERE_M
    return math.nan


def _read_gpx(path: Path) -> pd.DataFrame:
    try:
        # uploaded files: no entity expansion, no external entities or DTDs (defusedxml)
        root = SafeET.parse(path, forbid_dtd=True).getroot()
    except (ET.ParseError, DefusedXmlException) as exc:
        raise UnreadableFileError(f"{path}: 无法解析 GPX / cannot parse GPX: {exc}") from exc
    if _local(root.tag) != "gpx":
        raise UnreadableFileError(f"{path}: 不是 GPX 文件 / not a GPX file (root <{root.tag}>)")
    epoch_ns, lons, lats, segs, accs = [], [], [], [], []
    number = 0
    segment = -1
    for trk in _children(root, "trk"):
        for trkseg in _children(trk, "trkseg"):
            segment += 1
            for point in _children(trkseg, "trkpt"):
                number += 1
                try:
                    lon = _parse_number(point.get("lon"), "lon 经度")
                    lat = _parse_number(point.get("lat"), "lat 纬度")
                    _check_lon_lat(lon, lat)
                    epoch_ns.append(_parse_time(_child_text(point, "time"), "UTC"))
                    accs.append(_gpx_accuracy_m(point))
                except ValueError as exc:
                    raise InputError(
                        f"{path}: 第 {number} 个轨迹点 / trkpt {number} "
                        f"(trkseg {segment + 1}): {exc}"
                    ) from None
                lons.append(lon)
                lats.append(lat)
                segs.append(segment)
    return _frame(epoch_ns, lons, lats, segs, accs)


def _read_csv_track(path: Path) -> pd.DataFrame:
    table = read_csv_text(path, empty_is_missing=False, skip_blank_lines=True)
    columns = {
        "time": find_column(table.columns, TIME_COLUMN_NAMES),
        "lon": find_column(table.columns, LON_COLUMN_NAMES),
        "lat": find_column(table.columns, LAT_COLUMN_NAMES),
    }
    missing = [key for key, column in columns.items() if column is None]
    if missing:
        raise InputError(
            f"{path}: 缺少列 / missing column(s) {', '.join(missing)}; "
            f"columns: {', '.join(map(str, table.columns))}"
        )
    accuracy = find_column(table.columns, ACCURACY_COLUMN_NAMES)
    segment = find_column(table.columns, SEGMENT_COLUMN_NAMES)
    epoch_ns, lons, lats, segs, accs = [], [], [], [], []
    for i, row in enumerate(table.itertuples(index=False, name=None)):
        record = dict(zip(table.columns, row, strict=True))
        try:
            lon = _parse_number(record[columns["lon"]], "lon 经度")
            lat = _parse_number(record[columns["lat"]], "lat 纬度")
            _check_lon_lat(lon, lat)
            epoch_ns.append(_parse_time(record[columns["time"]], TIMEZONE))
            acc = math.nan
            if accuracy is not None:
                acc = _parse_number(record[accuracy], "accuracy 精度", optional=True)
                if acc < 0:
                    raise InputError(f"精度为负 / accuracy is negative: {acc}")
            seg = 0
            if segment is not None:
                seg_value = _parse_number(record[segment], "segment 段")
                if seg_value != int(seg_value):
                    raise InputError(f"段号不是整数 / segment is not an integer: {seg_value}")
                seg = int(seg_value)
        except ValueError as exc:
            raise InputError(f"{path}: 第 {i + 2} 行 / row {i + 2}: {exc}") from None
        lons.append(lon)
        lats.append(lat)
        accs.append(acc)
        segs.append(seg)
    return _frame(epoch_ns, lons, lats, segs, accs)


# --- cleaning --------------------------------------------------------------------------


def _check_track(track: pd.DataFrame) -> None:
    missing = [c for c in ("time", "lon", "lat", "segment") if c not in track.columns]
    if missing:
        raise InputError(f"轨迹缺少列 / track lacks column(s): {', '.join(missing)}")
    if len(track) and getattr(track["time"].dt, "tz", None) is None:
        raise InputError("轨迹时间没有时区 / track times must be tz-aware")


def _epoch_s(times: pd.Series) -> np.ndarray:
    return ((times - _EPOCH) / _SECOND).to_numpy(dtype=float)


def _track_points(track: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(track["lon"], track["lat"]), crs=WGS84, index=track.index
    )


_transformers = threading.local()


def _from_wgs84(crs: CRS) -> Transformer:
    """A WGS84 → ``crs`` transformer, cached per thread (building one takes ~0.1 s)."""
    cache = _transformers.__dict__.setdefault("by_crs", {})
    key = crs.to_wkt()
    if key not in cache:
        cache[key] = Transformer.from_crs(WGS84, crs, always_xy=True)
    return cache[key]


def _project(track: pd.DataFrame, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    transformer = _from_wgs84(crs)
    x, y = transformer.transform(track["lon"].to_numpy(float), track["lat"].to_numpy(float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def clean_track(
    track: pd.DataFrame,
    *,
    max_speed_kmh: float | None = DEFAULT_MAX_SPEED_KMH,
    max_accuracy_m: float | None = DEFAULT_MAX_ACCURACY_M,
    max_gap_s: float | None = DEFAULT_MAX_GAP_S,
    speed_slack_m: float = DEFAULT_SPEED_SLACK_M,
) -> pd.DataFrame:
    """Drop implausible fixes and split segments at long gaps (defaults: module docstring).

    A fix is dropped when its accuracy is worse than ``max_accuracy_m``, when it has the
    same time as the previous kept fix of its segment, or when it lies farther from that fix
    than ``max_speed_kmh × Δt + speed_slack_m``. Where two consecutive kept fixes are more
    than ``max_gap_s`` apart, a new segment begins (the later fix is then not speed-tested:
    after a gap the worker may be anywhere). ``None`` turns a test off.

    Returns
    -------
    pandas.DataFrame
        The kept rows, sorted by (segment, time), with their original index labels (so
        ``track.index.difference(result.index)`` are the dropped fixes) and ``segment``
        renumbered 0, 1, … over the split segments.

    >>> t = pd.to_datetime(["2024-05-06 08:00:00", "2024-05-06 08:00:10"]).tz_localize(TIMEZONE)
    >>> jump = pd.DataFrame({"time": t, "lon": [121.49, 121.50], "lat": [31.24, 31.24],
    ...                      "segment": [0, 0], "accuracy_m": [5.0, 5.0]})
    >>> clean_track(jump).index.tolist()  # 950 m in 10 s: the second fix is dropped
    [0]
    """
    _check_track(track)
    ordered = track.sort_values(["segment", "time"], kind="stable")
    if ordered.empty:
        return ordered.copy()
    keep = np.ones(len(ordered), dtype=bool)
    if max_accuracy_m is not None and "accuracy_m" in ordered.columns:
        keep &= ~(ordered["accuracy_m"].to_numpy(dtype=float) > max_accuracy_m)
    t = _epoch_s(ordered["time"])
    x, y = _project(ordered, metric_crs(_track_points(ordered)))
    segment = ordered["segment"].to_numpy()
    speed_mps = math.inf if max_speed_kmh is None else max_speed_kmh / 3.6
    gap_s = math.inf if max_gap_s is None else max_gap_s
    new_segment = np.zeros(len(ordered), dtype="int64")
    last, current = -1, -1
    for i in np.flatnonzero(keep).tolist():
        if last < 0 or segment[i] != segment[last] or t[i] - t[last] > gap_s:
            current += 1
        else:
            elapsed = t[i] - t[last]
            distance = math.hypot(x[i] - x[last], y[i] - y[last])
            if elapsed <= 0 or distance > speed_mps * elapsed + speed_slack_m:
                keep[i] = False
                continue
        new_segment[i] = current
        last = i
    result = ordered.loc[keep].copy()
    result["segment"] = new_segment[keep]
    return result


# --- time inside grids -----------------------------------------------------------------


def _prepared_grids(grids: gpd.GeoDataFrame, code_field: str) -> tuple[np.ndarray, np.ndarray]:
    """Grid codes (str, sorted: tie-break order) and their geometries, one per code."""
    if not isinstance(grids, gpd.GeoDataFrame):
        raise InputTypeError(f"grids must be a GeoDataFrame, not {type(grids).__name__}")
    require_code_field(grids, code_field)
    geoms = grids.geometry.to_numpy()
    types = shapely.get_type_id(geoms)
    bad = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms) & ~np.isin(types, (3, 6))
    if bad.any():
        i = int(np.argmax(bad))
        raise GeometryTypeError(
            f"网格第 {i + 1} 个要素不是面 / grid feature {i + 1} is a "
            f"{geoms[i].geom_type}, not a Polygon or MultiPolygon"
        )
    codes = grids[code_field]
    usable = codes.notna().to_numpy() & ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    frame = pd.DataFrame(
        {"code": codes[usable].astype(str).to_numpy(), "i": np.arange(usable.sum())}
    )
    kept = geoms[usable]
    order = sorted(frame.groupby("code", sort=False)["i"].agg(list).items())
    merged = [kept[i[0]] if len(i) == 1 else shapely.union_all(kept[i]) for _, i in order]
    return np.array([code for code, _ in order], dtype=object), np.array(merged, dtype=object)


def _subtract(interval: tuple[float, float], claimed: list[tuple[float, float]]):
    """Parts of ``interval`` not inside any of ``claimed`` (sorted, disjoint)."""
    pieces, start, end = [], *interval
    for a, b in claimed:
        if b <= start or a >= end:
            continue
        if a > start:
            pieces.append((start, a))
        start = max(start, b)
        if start >= end:
            break
    if start < end:
        pieces.append((start, end))
    return pieces


def _resolve_shared(pair: np.ndarray, rank: np.ndarray, f0: np.ndarray, f1: np.ndarray):
    """Credit a stretch covered by several grids once, to the lowest rank (first code)."""
    table = pd.DataFrame({"pair": pair, "rank": rank, "f0": f0, "f1": f1})
    ranks_per_pair = table.groupby("pair")["rank"].transform("nunique")
    simple = table[ranks_per_pair == 1]
    resolved = [simple]
    rows = []
    shared = table[ranks_per_pair > 1].sort_values(["pair", "rank", "f0"], kind="stable")
    for pair_id, group in shared.groupby("pair", sort=False):
        claimed: list[tuple[float, float]] = []
        for row in group.itertuples(index=False):
            for a, b in _subtract((row.f0, row.f1), claimed):
                rows.append((pair_id, row.rank, a, b))
            claimed = sorted([*claimed, (row.f0, row.f1)])
            merged: list[tuple[float, float]] = []
            for a, b in claimed:
                if merged and a <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], b))
                else:
                    merged.append((a, b))
            claimed = merged
    if rows:
        resolved.append(pd.DataFrame(rows, columns=["pair", "rank", "f0", "f1"]))
    return pd.concat(resolved, ignore_index=True)


def _split_at_midnight(start_s: np.ndarray, end_s: np.ndarray, rank: np.ndarray) -> pd.DataFrame:
    """Rows (date, rank, seconds): each interval cut at local midnights."""
    if len(start_s) == 0:
        return pd.DataFrame({"date": [], "rank": [], "seconds": []})
    start_local = pd.Series(pd.to_datetime(start_s, unit="s", utc=True)).dt.tz_convert(TIMEZONE)
    day = start_local.dt.tz_localize(None).dt.normalize()
    next_midnight = (day + pd.Timedelta(days=1)).dt.tz_localize(TIMEZONE)
    next_s = _epoch_s(next_midnight)
    single = end_s <= next_s
    dates = [d.date() for d in day]
    rows = pd.DataFrame(
        {
            "date": np.array(dates, dtype=object)[single],
            "rank": rank[single],
            "seconds": (end_s - start_s)[single],
        }
    )
    extra = []
    for i in np.flatnonzero(~single).tolist():
        date, start, end = dates[i], float(start_s[i]), float(end_s[i])
        while start < end:
            following = date + dt.timedelta(days=1)
            midnight = (pd.Timestamp(following).tz_localize(TIMEZONE) - _EPOCH) / _SECOND
            piece_end = min(end, midnight)
            extra.append((date, rank[i], piece_end - start))
            start, date = piece_end, following
    if extra:
        rows = pd.concat([rows, pd.DataFrame(extra, columns=["date", "rank", "seconds"])])
    return rows


def time_in_grids(
    track: pd.DataFrame,
    grids: gpd.GeoDataFrame,
    *,
    code_field: str = DEFAULT_CODE_FIELD,
    max_gap_s: float | None = DEFAULT_MAX_GAP_S,
) -> pd.DataFrame:
    """Return the time spent inside each grid per day (Asia/Shanghai) along ``track``.

    Every consecutive pair of fixes of one segment, at most ``max_gap_s`` apart (``None``:
    no cap), is a straight line travelled at constant speed in the metric CRS
    (:func:`gis.crs.metric_crs` of grids and track); its time is shared among the grids in
    proportion to the length of the line each covers, found on the line itself, and split at
    local midnight. A pair at one place credits its whole time to the grid covering it. A
    stretch covered by several grids goes to the one whose code sorts first (module
    docstring). The track is used as given: clean it first (:func:`clean_track`).

    Parameters
    ----------
    track
        Frame of :data:`TRACK_COLUMNS` (WGS84 lon/lat, tz-aware times), e.g. from
        :func:`read_track`.
    grids
        Polygons with a CRS and a ``code_field`` column; rows sharing a code are one grid;
        rows without a code or geometry take no part.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime.date), ``grid_code`` (str), ``seconds``, ``hours``; one
        row per (date, grid) with time > 0, sorted by date then code.
    """
    _check_track(track)
    codes, geoms = _prepared_grids(grids, code_field)
    empty = pd.DataFrame(
        {c: pd.Series(dtype=object if c in ("date", "grid_code") else float) for c in _DAY_COLUMNS}
    )
    if len(track) < 2 or len(codes) == 0:
        return empty
    require_crs(grids, "grids 网格")
    ordered = track.sort_values(["segment", "time"], kind="stable")
    crs = metric_crs(grids, _track_points(ordered))
    geoms_m = gpd.GeoSeries(geoms, crs=grids.crs).to_crs(crs).to_numpy()
    x, y = _project(ordered, crs)
    t = _epoch_s(ordered["time"])
    segment = ordered["segment"].to_numpy()

    elapsed = t[1:] - t[:-1]
    usable = (segment[1:] == segment[:-1]) & (elapsed > 0)
    if max_gap_s is not None:
        usable &= elapsed <= max_gap_s
    first = np.flatnonzero(usable)
    if len(first) == 0:
        return empty
    x0, y0, x1, y1 = x[first], y[first], x[first + 1], y[first + 1]
    t0, span = t[first], elapsed[first]
    tree = shapely.STRtree(geoms_m)

    # Moving pairs: clip the straight line to the grids, pieces as fractions of its length.
    moving = np.hypot(x1 - x0, y1 - y0) >= _STILL_M
    lines = shapely.linestrings(
        np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)[moving]
    )
    line_of = np.flatnonzero(moving)
    hit_line, hit_grid = tree.query(lines, predicate="dwithin", distance=_SNAP_M)
    clipped = shapely.intersection(lines[hit_line], geoms_m[hit_grid], grid_size=_SNAP_M)
    parts, part_of = shapely.get_parts(clipped, return_index=True)
    parts, sub_of = shapely.get_parts(parts, return_index=True)  # collections inside
    part_of = part_of[sub_of]
    is_line = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 0)
    parts, part_of = parts[is_line], part_of[is_line]
    whole = lines[hit_line[part_of]]
    a = shapely.line_locate_point(whole, shapely.get_point(parts, 0), normalized=True)
    b = shapely.line_locate_point(whole, shapely.get_point(parts, -1), normalized=True)
    # A piece ending within the snap distance of a fix ends at the fix (snapping moved it).
    near_end = _SNAP_M / shapely.length(whole)
    f0, f1 = np.minimum(a, b), np.maximum(a, b)
    f0 = np.where(f0 <= near_end, 0.0, f0)
    f1 = np.where(f1 >= 1.0 - near_end, 1.0, f1)
    pieces = _resolve_shared(line_of[hit_line[part_of]], hit_grid[part_of], f0, f1)
    pair = pieces["pair"].to_numpy()
    start = t0[pair] + pieces["f0"].to_numpy() * span[pair]
    end = t0[pair] + pieces["f1"].to_numpy() * span[pair]
    rank = pieces["rank"].to_numpy()

    # Standing still: the whole interval goes to the first grid covering the place.
    still = np.flatnonzero(~moving)
    if len(still):
        points = shapely.points(x0[still], y0[still])
        hit_point, hit_rank = tree.query(points, predicate="dwithin", distance=_SNAP_M)
        best = np.full(len(still), len(codes), dtype=np.intp)
        np.minimum.at(best, hit_point, hit_rank)
        inside = best < len(codes)
        pairs_still = still[inside]
        start = np.concatenate([start, t0[pairs_still]])
        end = np.concatenate([end, t0[pairs_still] + span[pairs_still]])
        rank = np.concatenate([rank, best[inside]])

    keep = end > start
    rows = _split_at_midnight(start[keep], end[keep], rank[keep].astype(np.intp))
    rows = rows[rows["seconds"] > 0]
    if rows.empty:
        return empty
    rows = rows.assign(grid_code=codes[rows["rank"].to_numpy(dtype=np.intp)])
    days = rows.groupby(["date", "grid_code"], as_index=False, sort=True)["seconds"].sum()
    days["hours"] = days["seconds"] / 3600.0
    return days.loc[:, list(_DAY_COLUMNS)].reset_index(drop=True)


# --- weeks and the report ----------------------------------------------------------------


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weekly_summary(
    days: pd.DataFrame,
    *,
    threshold_hours: float = DEFAULT_THRESHOLD_HOURS,
    period: tuple[dt.date, dt.date] | None = None,
) -> pd.DataFrame:
    """Sum a worker's hours per week (Monday–Sunday, Asia/Shanghai) over all their grids.

    Parameters
    ----------
    days
        Output of :func:`time_in_grids` (``date`` and ``seconds`` or ``hours``).
    threshold_hours
        A week with fewer hours (compared before rounding) is flagged ``under_15h``; exactly
        the threshold is not under it.
    period
        First and last date the log covers (e.g. the track's first and last fix): every week
        touching it is listed, a week without any time inside the grids with 0 hours
        (flagged). Default: the weeks from the first to the last date in ``days``.

    Returns
    -------
    pandas.DataFrame
        Columns ``week_start`` (the Monday, datetime.date), ``seconds``, ``hours``,
        ``under_15h`` (bool), sorted by week.

    >>> days = pd.DataFrame({"date": [dt.date(2024, 5, 6), dt.date(2024, 5, 20)],
    ...                      "seconds": [15 * 3600.0, 3600.0]})
    >>> weekly_summary(days)[["week_start", "hours", "under_15h"]].to_dict("list")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'week_start': [datetime.date(2024, 5, 6), datetime.date(2024, 5, 13),
                    datetime.date(2024, 5, 20)],
     'hours': [15.0, 0.0, 1.0], 'under_15h': [False, True, True]}
    """
    seconds = (
        days["seconds"].to_numpy(dtype=float)
        if "seconds" in days.columns
        else days["hours"].to_numpy(dtype=float) * 3600.0
    )
    mondays = [_monday(d) for d in days["date"]]
    if period is not None:
        first, last = _monday(period[0]), _monday(period[1])
    elif mondays:
        first, last = min(mondays), max(mondays)
    else:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c == "week_start" else float) for c in _WEEK_COLUMNS}
        ).astype({"under_15h": bool})
    weeks = [first + dt.timedelta(weeks=k) for k in range((last - first).days // 7 + 1)]
    totals = pd.Series(seconds, index=mondays, dtype=float).groupby(level=0).sum()
    week_seconds = np.array([float(totals.get(w, 0.0)) for w in weeks])
    return pd.DataFrame(
        {
            "week_start": np.array(weeks, dtype=object),
            "seconds": week_seconds,
            "hours": week_seconds / 3600.0,
            "under_15h": week_seconds < threshold_hours * 3600.0,
        }
    )


def patrol_report(
    track: pd.DataFrame,
    grids: gpd.GeoDataFrame,
    *,
    code_field: str = DEFAULT_CODE_FIELD,
    max_speed_kmh: float | None = DEFAULT_MAX_SPEED_KMH,
    max_accuracy_m: float | None = DEFAULT_MAX_ACCURACY_M,
    max_gap_s: float | None = DEFAULT_MAX_GAP_S,
    threshold_hours: float = DEFAULT_THRESHOLD_HOURS,
    digits: int = 3,
) -> dict:
    """Clean ``track``, time it inside ``grids`` and return the ``patrol hours`` JSON shape.

    ``{"days": [{"date", "grid_code", "hours"}], "weeks": [{"week_start", "hours",
    "under_15h"}]}`` with ISO dates (Asia/Shanghai) and hours rounded to ``digits``
    (3: 3.6 s). The weeks cover the whole track, first fix to last, so a week of logging
    with no time inside the grids is listed with 0 hours and flagged.
    """
    cleaned = clean_track(
        track, max_speed_kmh=max_speed_kmh, max_accuracy_m=max_accuracy_m, max_gap_s=max_gap_s
    )
    days = time_in_grids(cleaned, grids, code_field=code_field, max_gap_s=max_gap_s)
    period = None
    if len(track):
        local = track["time"].dt.tz_convert(TIMEZONE)
        period = (local.min().date(), local.max().date())
    weeks = weekly_summary(days, threshold_hours=threshold_hours, period=period)
    return {
        "days": [
            {"date": d.isoformat(), "grid_code": str(code), "hours": round(float(h), digits)}
            for d, code, h in zip(days["date"], days["grid_code"], days["hours"], strict=True)
        ],
        "weeks": [
            {"week_start": w.isoformat(), "hours": round(float(h), digits), "under_15h": bool(u)}
            for w, h, u in zip(weeks["week_start"], weeks["hours"], weeks["under_15h"], strict=True)
        ],
    }
