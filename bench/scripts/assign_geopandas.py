"""Assign houses to grids with geopandas: the ten-line script a user would write instead.

Usage: python assign_geopandas.py HOUSES.csv GRIDS.gpkg OUT.csv (grid code column ``code``).
"""

import sys

import geopandas as gpd
import pandas as pd

houses_csv, grids_file, out_csv = sys.argv[1:4]
houses = pd.read_csv(houses_csv)
points = gpd.GeoDataFrame(houses, geometry=gpd.points_from_xy(houses.lon, houses.lat), crs=4326)
grids = gpd.read_file(grids_file)[["code", "geometry"]].to_crs(4326)
joined = gpd.sjoin(points, grids, how="left", predicate="covered_by")
smallest = joined.sort_values("code").groupby(level=0)["code"].first()  # tie: smallest code
houses["grid_code"] = smallest.reindex(houses.index)
houses.to_csv(out_csv, index=False)
