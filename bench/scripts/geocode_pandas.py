"""Geocode addresses by exact match on a door-plate table, then find each point's grid.

Usage: python geocode_pandas.py ADDRESSES.csv DOOR_PLATES.csv GRIDS.gpkg OUT.csv
(columns: ``address`` in both tables, ``lon``/``lat`` in the door plates, ``code`` in grids).
"""

import sys

import geopandas as gpd
import pandas as pd

addresses_csv, plates_csv, grids_file, out_csv = sys.argv[1:5]
addresses = pd.read_csv(addresses_csv)
plates = pd.read_csv(plates_csv).drop_duplicates("address")
found = addresses.merge(plates[["address", "lon", "lat"]], on="address", how="left")
points = gpd.GeoDataFrame(found, geometry=gpd.points_from_xy(found.lon, found.lat), crs=4326)
grids = gpd.read_file(grids_file)[["code", "geometry"]].to_crs(4326)
joined = gpd.sjoin(points, grids, how="left", predicate="covered_by")
found["grid_code"] = joined.sort_values("code").groupby(level=0)["code"].first()
found.to_csv(out_csv, index=False)
