"""Incident maps: heat-map (optionally with a time slider) and counts per grid as a choropleth.

Incidents are a DataFrame with ``category_code``, ``reported_at`` and either a point geometry
(GeoDataFrame) or ``lon``/``lat`` columns in WGS84. Large point sets are binned on the server
(:func:`bin_points`) so that the browser gets weighted cells, not every point.
"""

from __future__ import annotations

import html
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd

from gis.assign import assign_points
from gis.crs import WGS84, metric_crs
from gis.errors import InputError
from maps.base import base_map, fit_to, to_map_frame
from maps.web import add_legend, grid_labels

__all__ = [
    "MAX_BROWSER_POINTS",
    "bin_points",
    "classify_counts",
    "count_per_grid",
    "filter_incidents",
    "incident_points",
    "render_incident_choropleth",
    "render_incident_heatmap",
]

MAX_BROWSER_POINTS = 20_000
CHOROPLETH_COLOURS = ("#fff5eb", "#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d", "#a63603")


def incident_points(incidents: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return incidents as a point GeoDataFrame (from its geometry, else ``lon``/``lat`` WGS84)."""
    if isinstance(incidents, gpd.GeoDataFrame) and incidents.geometry.name in incidents:
        return incidents
    missing = {"lon", "lat"} - set(incidents.columns)
    if missing:
        raise InputError(
            f"事件表缺少列 {sorted(missing)} / incidents lack columns {sorted(missing)}"
        )
    return gpd.GeoDataFrame(
        incidents, geometry=gpd.points_from_xy(incidents["lon"], incidents["lat"]), crs=WGS84
    )


def _timestamps(values: pd.Series) -> pd.Series:
    """Parse times; naive values are taken as China time (UTC+8)."""
    parsed = pd.to_datetime(values, utc=False, errors="coerce", format="ISO8601")
    if getattr(parsed.dt, "tz", None) is None:
        parsed = parsed.dt.tz_localize("Asia/Shanghai")
    return parsed


def _bound(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("Asia/Shanghai") if ts.tzinfo is None else ts


def filter_incidents(
    incidents: pd.DataFrame,
    *,
    category: str | list[str] | None = None,
    period: tuple[Any, Any] | None = None,
) -> pd.DataFrame:
    """Return the incidents of a category and period.

    Parameters
    ----------
    category : str or list of str, optional
        Category codes; a code matches itself and its sub-codes (``"06"`` matches ``"0602"``).
    period : (from, to), optional
        ``from`` inclusive, ``to`` exclusive; either may be None. Strings/dates without a time
        zone are China time. A date ``to`` such as ``"2026-10-01"`` means before that day.
    """
    keep = pd.Series(True, index=incidents.index)
    if category is not None:
        prefixes = [category] if isinstance(category, str) else list(category)
        codes = incidents["category_code"].astype(str).str.strip()
        keep &= codes.map(lambda c: any(c.startswith(str(p).strip()) for p in prefixes))
    if period is not None:
        start, end = (_bound(v) for v in period)
        if start is not None and end is not None and end <= start:
            raise InputError(
                f"时间段结束早于开始：{period[0]} – {period[1]} / period ends before it starts"
            )
        times = _timestamps(incidents["reported_at"])
        if start is not None:
            keep &= times >= start
        if end is not None:
            keep &= times < end
    return incidents[keep.to_numpy()]


def bin_points(points: gpd.GeoDataFrame, *, cell_m: float = 10.0) -> pd.DataFrame:
    """Return weighted bin centres ``lat, lon, weight`` of points binned to ``cell_m`` squares."""
    crs = metric_crs(points)
    xy = points.geometry.to_crs(crs).get_coordinates()
    ix = np.floor(xy["x"].to_numpy() / cell_m).astype(np.int64)
    iy = np.floor(xy["y"].to_numpy() / cell_m).astype(np.int64)
    cells = pd.DataFrame({"ix": ix, "iy": iy}).value_counts().rename("weight").reset_index()
    centres = gpd.GeoSeries(
        gpd.points_from_xy((cells["ix"] + 0.5) * cell_m, (cells["iy"] + 0.5) * cell_m), crs=crs
    ).to_crs(WGS84)
    return pd.DataFrame(
        {"lat": centres.y, "lon": centres.x, "weight": cells["weight"].astype(float)}
    )


def _heat_rows(points: gpd.GeoDataFrame, max_points: int, cell_m: float) -> list[list[float]]:
    if len(points) > max_points:
        binned = bin_points(points, cell_m=cell_m)
        return binned[["lat", "lon", "weight"]].to_numpy().tolist()
    xy = points.geometry.get_coordinates()
    return [[y, x, 1.0] for x, y in zip(xy["x"], xy["y"], strict=True)]


def render_incident_heatmap(
    incidents: pd.DataFrame,
    *,
    grids: gpd.GeoDataFrame | None = None,
    period: tuple[Any, Any] | None = None,
    category: str | list[str] | None = None,
    time_slider: bool = False,
    freq: str = "W",
    m: folium.Map | None = None,
    tiles: str | None = None,
    max_points: int = MAX_BROWSER_POINTS,
    cell_m: float = 10.0,
) -> folium.Map:
    """Draw a heat-map of incidents (filtered by category and period) over the grid outlines.

    Above ``max_points`` points the incidents are binned to ``cell_m`` squares on the server
    and sent as weights. With ``time_slider`` a HeatMapWithTime shows one frame per ``freq``
    period (pandas period alias: "D", "W", "M").
    """
    m = base_map(tiles) if m is None else m
    chosen = incident_points(filter_incidents(incidents, category=category, period=period))
    chosen = chosen[chosen.geometry.notna() & ~chosen.geometry.is_empty]
    points = to_map_frame(chosen, m) if len(chosen) else chosen
    if grids is not None:
        outline = to_map_frame(grids, m)
        folium.GeoJson(
            outline[[c for c in ("code", "name") if c in outline.columns] + ["geometry"]],
            name="网格 Grids",
            style_function=lambda f: {"color": "#555555", "weight": 1, "fillOpacity": 0},
            interactive=False,
        ).add_to(m)
        grid_labels(outline).add_to(m)
        fit_to(m, outline)
    elif len(points):
        fit_to(m, points)
    if not len(points):
        add_legend(m, "事件热力 Incidents", [("#ffffff", "无事件 No incidents")])
        return m
    if time_slider:
        times = _timestamps(points["reported_at"]).dt.tz_localize(None)
        frames = times.dt.to_period(freq)
        index, data = [], []
        for period_key in sorted(frames.dropna().unique()):
            in_frame = points[(frames == period_key).to_numpy()]
            data.append(_heat_rows(in_frame, max_points, cell_m))
            index.append(str(period_key))
        folium.plugins.HeatMapWithTime(
            data, index=index, name="事件热力 Heat", radius=25, auto_play=False, max_opacity=0.8
        ).add_to(m)
    else:
        folium.plugins.HeatMap(
            _heat_rows(points, max_points, cell_m), name="事件热力 Heat", radius=18, blur=15
        ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def count_per_grid(
    incidents: pd.DataFrame, grids: gpd.GeoDataFrame, *, code_field: str = "code"
) -> pd.Series:
    """Return the number of incidents per grid code (0 for grids with none), by point-in-grid."""
    points = incident_points(incidents)
    codes = assign_points(points, grids, code_field=code_field)
    counts = codes.dropna().astype(str).value_counts()
    index = grids[code_field].astype(str)
    return counts.reindex(index, fill_value=0).astype("int64").rename("count")


def classify_counts(counts: pd.Series, *, k: int | None = None, scheme: str | None = None):
    """Return a mapclassify classifier for counts: Natural Breaks, or Quantiles for small n.

    ``k`` defaults to min(5, number of distinct values); fewer than 3 distinct values use
    ``UserDefined`` bins at those values. ``scheme`` forces "NaturalBreaks" or "Quantiles".
    """
    values = np.asarray(counts, dtype=float)
    distinct = np.unique(values)
    if len(distinct) < 3:
        return mapclassify.UserDefined(values, bins=list(distinct))
    k = min(k or 5, len(distinct))
    scheme = scheme or ("NaturalBreaks" if len(values) >= 20 else "Quantiles")
    if scheme == "NaturalBreaks":
        return mapclassify.NaturalBreaks(values, k=k)
    if scheme == "Quantiles":
        return mapclassify.Quantiles(values, k=k)
    raise InputError(f"未知分级方法 {scheme!r} / unknown scheme {scheme!r}")


def render_incident_choropleth(
    counts_per_grid: pd.Series,
    grids: gpd.GeoDataFrame,
    *,
    m: folium.Map | None = None,
    tiles: str | None = None,
    code_field: str = "code",
    k: int | None = None,
    scheme: str | None = None,
) -> folium.Map:
    """Draw incident counts per grid (a Series indexed by grid code) classified with mapclassify."""
    m = base_map(tiles) if m is None else m
    frame = to_map_frame(grids, m)
    frame = frame[[c for c in (code_field, "name") if c in frame.columns] + ["geometry"]].copy()
    frame["count"] = (
        counts_per_grid.reindex(frame[code_field].astype(str)).fillna(0).astype(int).to_numpy()
    )
    classifier = classify_counts(frame["count"], k=k, scheme=scheme)
    n_classes = len(classifier.bins)
    palette = _ramp(n_classes)
    frame["_colour"] = [palette[int(c)] for c in classifier.yb]
    folium.GeoJson(
        frame,
        name="事件数 Incidents per grid",
        style_function=lambda f: {
            "fillColor": f["properties"]["_colour"],
            "color": "#444444",
            "weight": 1,
            "fillOpacity": 0.8,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=[c for c in (code_field, "name", "count") if c in frame.columns]
        ),
    ).add_to(m)
    grid_labels(frame, code_field=code_field).add_to(m)
    lower = [frame["count"].min(), *classifier.bins[:-1]]
    entries = [
        (palette[i], f"{_fmt(lo) if i == 0 else '>' + _fmt(lo)} – {_fmt(hi)}")
        for i, (lo, hi) in enumerate(zip(lower, classifier.bins, strict=True))
    ]
    add_legend(m, f"事件数 Incidents ({html.escape(type(classifier).__name__)})", entries)
    fit_to(m, frame)
    return m


def _fmt(value: float) -> str:
    return f"{value:g}"


def _ramp(n: int) -> list[str]:
    if n <= 1:
        return [CHOROPLETH_COLOURS[-1]]
    picks = np.linspace(0, len(CHOROPLETH_COLOURS) - 1, n).round().astype(int)
    return [CHOROPLETH_COLOURS[i] for i in picks]
