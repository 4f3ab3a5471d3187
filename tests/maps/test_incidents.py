"""Incident filters, counts per grid, classification, server-side binning, hot spots."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from maps.hotspots import hotspots, render_hotspot_map
from maps.incidents import (
    bin_points,
    classify_counts,
    count_per_grid,
    filter_incidents,
    render_incident_choropleth,
    render_incident_heatmap,
)
from maps.web import save_html


def test_filter_by_category_prefix_and_period(demo_incidents):
    codes = demo_incidents["category_code"]
    assert len(filter_incidents(demo_incidents, category="06")) == codes.str.startswith("06").sum()
    both = filter_incidents(demo_incidents, category=["0602", "0402"])
    assert set(both["category_code"]) <= {"0602", "0402"}
    assert len(both) == codes.isin(["0602", "0402"]).sum()
    times = pd.to_datetime(demo_incidents["reported_at"], utc=True)
    start = pd.Timestamp("2026-10-01T00:00:00+08:00")
    chosen = filter_incidents(demo_incidents, period=("2026-10-01", None))
    assert len(chosen) == (times >= start).sum()
    before = filter_incidents(demo_incidents, period=(None, "2026-10-01"))
    assert len(chosen) + len(before) == len(demo_incidents)
    with pytest.raises(ValueError, match="period"):
        filter_incidents(demo_incidents, period=("2026-10-02", "2026-10-01"))


def test_count_per_grid_matches_brute_force(demo_incidents, demo_grids):
    counts = count_per_grid(demo_incidents, demo_grids)
    points = gpd.points_from_xy(demo_incidents["lon"], demo_incidents["lat"])
    for code, geom in zip(demo_grids["code"], demo_grids.geometry, strict=True):
        inside = shapely.covers(geom, points).sum()
        assert counts[code] <= inside  # a point on a shared edge goes to one grid only
        assert counts[code] >= shapely.contains_properly(geom, points).sum()
    assert counts.sum() <= len(demo_incidents)


def test_classification_small_n_and_ties():
    assert len(classify_counts(pd.Series([0, 0, 3])).bins) == 2
    few = classify_counts(pd.Series([1, 2, 3, 4, 5, 6, 7, 8]))
    assert type(few).__name__ == "Quantiles" and len(few.bins) == 5
    many = classify_counts(pd.Series(np.arange(40)))
    assert type(many).__name__ == "NaturalBreaks"


def test_bin_points_keeps_every_point():
    rng = np.random.default_rng(1)
    pts = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(
            121.48 + rng.normal(0, 0.002, 30_000), 31.24 + rng.normal(0, 0.002, 30_000)
        ),
        crs="EPSG:4326",
    )
    binned = bin_points(pts, cell_m=10)
    assert binned["weight"].sum() == 30_000
    assert len(binned) < 30_000


def test_large_heatmap_is_aggregated(tmp_path, demo_grids):
    rng = np.random.default_rng(2)
    n = 50_000
    big = pd.DataFrame(
        {
            "lon": 121.485 + rng.normal(0, 0.002, n),
            "lat": 31.238 + rng.normal(0, 0.002, n),
            "category_code": "06",
            "reported_at": "2026-10-01T10:00:00+08:00",
        }
    )
    size = save_html(render_incident_heatmap(big, grids=demo_grids), tmp_path / "h.html")
    assert size.stat().st_size < 1.5e6  # 50,000 raw points would be ~2 MB of JSON alone


def test_choropleth_renders(tmp_path, demo_incidents, demo_grids):
    counts = count_per_grid(demo_incidents, demo_grids)
    html = save_html(render_incident_choropleth(counts, demo_grids), tmp_path / "c.html")
    assert "Quantiles" in html.read_text()


def _planted(seed: int = 0) -> tuple[pd.DataFrame, tuple[float, float]]:
    """Sparse uniform background over 2 km x 2 km plus a dense cluster; lon/lat WGS84."""
    rng = np.random.default_rng(seed)
    x0, y0 = 350_000.0, 3_460_000.0  # UTM 51N, Shanghai
    bx, by = rng.uniform(0, 2000, 300) + x0, rng.uniform(0, 2000, 300) + y0
    cx, cy = x0 + 1450.0, y0 + 650.0
    kx, ky = cx + rng.normal(0, 30, 150), cy + rng.normal(0, 30, 150)
    pts = gpd.GeoSeries(gpd.points_from_xy(np.r_[bx, kx], np.r_[by, ky]), crs="EPSG:32651")
    pts = pts.to_crs("EPSG:4326")
    centre = gpd.GeoSeries(gpd.points_from_xy([cx], [cy]), crs="EPSG:32651").to_crs(4326)
    frame = pd.DataFrame(
        {"lon": pts.x, "lat": pts.y, "category_code": "06", "reported_at": "2026-10-01"}
    )
    return frame, (centre.x[0], centre.y[0])


def test_planted_cluster_is_the_hot_spot_on_a_lattice(tmp_path):
    incidents, (lon, lat) = _planted()
    spots = hotspots(incidents, cell_m=100, permutations=199)
    centre = gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs=4326).to_crs(spots.crs)[0]
    at = spots[spots.geometry.covers(centre)].iloc[0]
    assert at["z"] > 1.96 and at["hotspot"].startswith("hot")
    far = spots[spots.geometry.distance(centre) > 300]
    assert not far["hotspot"].str.startswith("hot").any()
    again = hotspots(incidents, cell_m=100, permutations=199)
    assert (again["p"] == spots["p"]).all()  # seeded permutations repeat
    save_html(render_hotspot_map(spots), tmp_path / "hot.html")


def test_planted_cluster_is_the_hot_spot_over_grids():
    incidents, _ = _planted(seed=3)
    x0, y0 = 350_000.0, 3_460_000.0
    boxes = [
        shapely.box(x0 + i * 250, y0 + j * 250, x0 + (i + 1) * 250, y0 + (j + 1) * 250)
        for j in range(8)
        for i in range(8)
    ]
    grids = gpd.GeoDataFrame(
        {"code": [f"G{k:02d}" for k in range(64)]}, geometry=boxes, crs="EPSG:32651"
    )
    spots = hotspots(incidents, grids, permutations=199)
    cluster_code = grids.loc[grids.covers(shapely.Point(x0 + 1450, y0 + 650)), "code"].iloc[0]
    row = spots.set_index("unit").loc[cluster_code]
    assert row["z"] > 1.96 and row["hotspot"].startswith("hot")
    centre = gpd.GeoSeries([shapely.Point(x0 + 1450, y0 + 650)], crs=32651).to_crs(spots.crs)[0]
    far = spots[spots.geometry.distance(centre) > 300]  # beyond the cluster grid's neighbours
    assert not far["hotspot"].str.startswith("hot").any()
