"""Tests of gis.balance.balance_report against values worked out by hand.

Two grids in EPSG:4549 (metres): A = 100 m × 100 m square, B = 200 m × 100 m east of it.
Area A = 10,000 m², B = 20,000 m²; Polsby-Popper A = 4π·10⁴/400² = π/4,
B = 4π·2·10⁴/600² = 2π/9.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod
from shapely import Point, box

from gis.balance import BALANCE_COLUMNS, balance_report
from gis.errors import InputError

CRS_M = 4549
X0, Y0 = 642_000.0, 3_459_000.0


def two_grids(**columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["A", "B"], **columns},
        geometry=[box(X0, Y0, X0 + 100, Y0 + 100), box(X0 + 100, Y0, X0 + 300, Y0 + 100)],
        crs=CRS_M,
    )


def test_grid_households_column_area_compactness_flags():
    report = balance_report(two_grids(households=[239, 360]))
    assert list(report.columns) == list(BALANCE_COLUMNS)
    assert report["code"].tolist() == ["A", "B"]
    assert report["area_m2"].tolist() == pytest.approx([10_000, 20_000], rel=1e-9)
    assert report["compactness"].tolist() == pytest.approx([math.pi / 4, 2 * math.pi / 9])
    assert report["flag"].tolist() == ["under", "ok"]  # 360 = 300 × 1.2 is in band
    assert report["share_of_target"].tolist() == pytest.approx([239 / 300, 1.2])
    assert report["residents"].isna().all()
    assert report["staff"].tolist() == ["", ""]
    assert report.attrs["households_total"] == 599
    assert (report.attrs["ok"], report.attrs["under"], report.attrs["over"]) == (1, 1, 0)
    assert report.attrs["area_m2_total"] == pytest.approx(30_000)


def test_houses_assigned_to_grids():
    houses = gpd.GeoDataFrame(
        {"households": [100, 150, None, 300, 62, 7, 40]},
        geometry=[
            Point(X0 + 10, Y0 + 10),  # A
            Point(X0 + 90, Y0 + 50),  # A
            Point(X0 + 50, Y0 + 50),  # A, empty value counts 1
            Point(X0 + 250, Y0 + 50),  # B
            Point(X0 + 150, Y0 + 99),  # B
            Point(X0 + 100, Y0 + 30),  # shared edge: code "A" sorts first
            Point(X0 + 500, Y0 + 50),  # outside every grid
        ],
        crs=CRS_M,
    )
    report = balance_report(two_grids(households=[0, 0]), houses=houses, target=300, band=0.1)
    assert report["households"].tolist() == [100 + 150 + 1 + 7, 300 + 62]
    # band 0.1: 258 < 270 under; 362 > 330 over
    assert report["flag"].tolist() == ["under", "over"]
    assert report.attrs["houses_outside"] == 1
    assert report.attrs["households_total"] == 258 + 362


def test_houses_without_households_field_count_one_each():
    houses = gpd.GeoDataFrame(
        geometry=[Point(X0 + 5, Y0 + 5), Point(X0 + 6, Y0 + 5), Point(X0 + 200, Y0 + 5)],
        crs=CRS_M,
    )
    report = balance_report(two_grids(), houses=houses, target=2, band=0.2)
    assert report["households"].tolist() == [2, 1]
    assert report["flag"].tolist() == ["ok", "under"]


def test_footprints_count_at_their_point_on_surface():
    houses = gpd.GeoDataFrame(
        {"households": [12]}, geometry=[box(X0 + 150, Y0 + 10, X0 + 170, Y0 + 30)], crs=CRS_M
    ).to_crs(4326)  # another CRS than the grids': reprojected before assigning
    report = balance_report(two_grids(), houses=houses)
    assert report["households"].tolist() == [0, 12]


def test_residents_by_code_and_by_point():
    table = pd.DataFrame({"grid_code": ["A", "B", "B", "B", "Z", None], "name": list("uvwxyz")})
    report = balance_report(two_grids(households=[300, 300]), residents=table)
    assert report["residents"].tolist() == [1, 3]
    assert report.attrs["residents_outside"] == 2  # unknown grid Z and no grid
    assert report.attrs["residents_total"] == 4
    points = gpd.GeoDataFrame(
        geometry=[Point(X0 + 1, Y0 + 1), Point(X0 + 299, Y0 + 99), Point(X0 - 1, Y0)], crs=CRS_M
    )
    report = balance_report(two_grids(households=[300, 300]), residents=points)
    assert report["residents"].tolist() == [1, 1]
    assert report.attrs["residents_outside"] == 1


def test_staff_names_joined_with_roles():
    staff = pd.DataFrame(
        {
            "grid_code": ["B", "A", "B", "C"],
            "name": ["王芳", "李强", "张伟", "赵六"],
            "role": ["网格长", "专职网格员", None, "网格员"],
        }
    )
    report = balance_report(two_grids(households=[300, 300]), staff=staff)
    assert report["staff"].tolist() == ["李强（专职网格员）", "王芳（网格长）、张伟"]
    assert report["staff_count"].tolist() == [1, 2]


def test_lonlat_grids_area_matches_ellipsoid():
    grids = two_grids(households=[300, 300]).to_crs(4326)
    report = balance_report(grids)
    geod = Geod(ellps="GRS80")
    expected = [abs(geod.geometry_area_perimeter(g)[0]) for g in grids.geometry]
    # Gauss-Krüger areas are within 0.1 % of the ellipsoid's this close to the meridian
    assert np.allclose(report["area_m2"], expected, rtol=1e-3)
    assert report["compactness"].tolist() == pytest.approx([math.pi / 4, 2 * math.pi / 9], 1e-3)


def test_bad_input():
    with pytest.raises(InputError, match="no households"):
        balance_report(two_grids())
    with pytest.raises(InputError, match="more than once"):
        balance_report(two_grids(households=[1, 2]).assign(code=["A", "A"]))
    with pytest.raises(InputError, match="no code field 'grid'"):
        balance_report(two_grids(households=[1, 2]), code_field="grid")
    with pytest.raises(InputError, match="target"):
        balance_report(two_grids(households=[1, 2]), target=0)
    with pytest.raises(InputError, match="grid_code"):
        balance_report(two_grids(households=[1, 2]), residents=pd.DataFrame({"name": ["x"]}))
    with pytest.raises(InputError, match="staff table lacks"):
        balance_report(two_grids(households=[1, 2]), staff=pd.DataFrame({"name": ["x"]}))
    houses = gpd.GeoDataFrame({"households": ["many"]}, geometry=[Point(X0, Y0)], crs=CRS_M)
    with pytest.raises(InputError, match="not a number"):
        balance_report(two_grids(), houses=houses)
