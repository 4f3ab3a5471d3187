"""Build the wangge demo community (and scaled benchmark data) from real OpenStreetMap geometry.

Run from the repository root::

    .venv/bin/python data/make_demo.py                      # demo into data/demo/
    .venv/bin/python data/make_demo.py --out /tmp/d --seed 7
    .venv/bin/python data/make_demo.py --houses 1000000 --grids 10000 --out /tmp/big
    .venv/bin/python data/make_demo.py \
        --osm-source path/to/shanghai_bund_osm.gpkg   # re-cut from a full OSM extract

The demo reads the committed OSM clip ``data/demo/osm_bund.gpkg`` (roads, buildings, water;
© OpenStreetMap contributors, ODbL 1.0). ``--osm-source`` re-cuts that clip from the full
extract first. Everything not in OSM (door plates, households, owners, incidents) is generated
here from ``--seed``; the same seed always gives byte-identical files.
All metric work (areas, buffers, shifts) is done in ``gis.crs.metric_crs`` of the data;
files are written in lon/lat, EPSG:4326.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gis.crs import WGS84, metric_crs  # noqa: E402

if str(ROOT / "data") not in sys.path:  # the generator's pieces and the portraits beside this file
    sys.path.insert(0, str(ROOT / "data"))
from demo_maker.blocks import block_faces, community_faces, road_network  # noqa: E402
from demo_maker.defects import plant_defects  # noqa: E402
from demo_maker.files import ATTRIBUTION, write_geojson  # noqa: E402
from demo_maker.grids import grow_grids, number_grids  # noqa: E402
from demo_maker.houses import building_houses, door_plates  # noqa: E402
from demo_maker.incidents import make_incidents, read_categories  # noqa: E402
from demo_maker.osm import extract_osm  # noqa: E402
from demo_maker.people import build_people, fake_names  # noqa: E402
from demo_maker.scaled import build_scaled  # noqa: E402
from demo_maker.settings import COMMUNITY, COMMUNITY_WINDOW, N_GRIDS, SEED  # noqa: E402

__all__ = [
    "COMMUNITY",
    "build_demo",
    "build_scaled",
    "extract_osm",
    "main",
    "number_grids",
]

DEMO_DIR = ROOT / "data" / "demo"
OSM_CLIP = "osm_bund.gpkg"


def _to_lonlat(geoms, crs: CRS) -> np.ndarray:
    return gpd.GeoSeries(geoms, crs=crs).to_crs(WGS84).values


def build_demo(out: Path, seed: int = SEED, osm_clip: Path | None = None) -> dict:
    """Write the demo community into ``out``; return a summary dict."""
    out.mkdir(parents=True, exist_ok=True)
    clip = osm_clip or DEMO_DIR / OSM_CLIP
    rng = np.random.default_rng(seed)
    roads = gpd.read_file(clip, layer="roads")
    buildings = gpd.read_file(clip, layer="buildings")
    water = gpd.read_file(clip, layer="water")
    crs = metric_crs(roads)
    roads_m, buildings_m, water_m = roads.to_crs(crs), buildings.to_crs(crs), water.to_crs(crs)
    window_m = gpd.GeoSeries([COMMUNITY_WINDOW], crs=WGS84).to_crs(crs).iloc[0]

    faces_all = block_faces(road_network(roads_m))
    faces, boundary = community_faces(faces_all, water_m.geometry.values, window_m)

    houses = building_houses(buildings_m, boundary, rng)
    houses = door_plates(houses, roads_m, rng)
    houses = houses.sort_values(["building", "entrance"], kind="stable").reset_index(drop=True)

    face_of_house = shapely.STRtree(faces).query(houses.geometry.values, predicate="within")
    load = np.zeros(len(faces))
    np.add.at(load, face_of_house[1], houses["households"].to_numpy()[face_of_house[0]])
    label = grow_grids(faces, load, N_GRIDS)
    grid_geoms = np.array([shapely.union_all(faces[label == g]) for g in range(N_GRIDS)])
    for g in grid_geoms:
        assert g.geom_type == "Polygon" and g.is_valid, g.geom_type
    seq = number_grids(grid_geoms, boundary)
    order = np.argsort(seq)
    grid_geoms = grid_geoms[order]
    hh_grid = np.bincount(label, weights=load, minlength=N_GRIDS)[order].astype(int)
    cc = COMMUNITY["code"]
    codes = [f"{cc}{k + 1:03d}" for k in range(N_GRIDS)]
    grids = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [f"{COMMUNITY['name']}第{k + 1}网格" for k in range(N_GRIDS)],
            "households": hh_grid,
            "area_m2": np.round(shapely.area(grid_geoms), 1),
        },
        geometry=list(grid_geoms),
        crs=crs,
    )
    assert shapely.coverage_is_valid(grid_geoms)

    # --- files
    desc = f"{COMMUNITY['name']} demo, built from OpenStreetMap data {ATTRIBUTION}"
    bnd = gpd.GeoDataFrame(
        [
            {k: COMMUNITY[k] for k in ("code", "name", "street_name", "district_name")}
            | {"area_m2": round(boundary.area, 1)}
        ],
        geometry=[boundary],
        crs=crs,
    )
    write_geojson(bnd, out / "boundary.geojson", desc)
    write_geojson(grids, out / "grids.geojson", desc)

    d_geoms, d_codes, records = plant_defects(list(grid_geoms), codes, boundary, rng)
    dgrids = gpd.GeoDataFrame(
        {"code": d_codes, "name": grids["name"].tolist()}, geometry=d_geoms, crs=crs
    )
    write_geojson(dgrids, out / "grids_defective.geojson", desc + " (planted defects)")
    pts_ll = _to_lonlat([r["point_m"] for r in records], crs)
    defects = []
    for r, p in zip(records, pts_ll, strict=True):
        rec = {
            "kind": r["kind"],
            "grid_codes": r["grid_codes"],
            "original_codes": r["original_codes"],
        }
        for key in ("area_m2", "width_m", "length_m"):
            if key in r:
                rec[key] = round(float(r[key]), 3)
        rec["lon"], rec["lat"] = round(p.x, 9), round(p.y, 9)
        rec["description"] = r["description"]
        defects.append(rec)
    (out / "defects.json").write_text(
        json.dumps(
            {"source": "grids_defective.geojson", "defects": defects}, ensure_ascii=False, indent=2
        )
        + "\n",
        encoding="utf-8",
    )

    # houses.csv
    hrng = np.random.default_rng(seed + 1)
    n = len(houses)
    types = houses["house_type"].to_numpy()
    use_by_type = {
        "住宅": (["自住", "出租", "空置"], [0.7, 0.25, 0.05]),
        "商住": (["自住", "出租", "经营"], [0.4, 0.3, 0.3]),
        "商业": (["经营", "出租", "空置"], [0.7, 0.25, 0.05]),
        "办公": (["办公", "出租", "空置"], [0.7, 0.25, 0.05]),
    }
    uses = [str(hrng.choice(use_by_type[t][0], p=use_by_type[t][1])) for t in types]
    owners = fake_names(hrng, n)
    ll = _to_lonlat(houses.geometry.values, crs)
    prefix = f"{COMMUNITY['city']}{COMMUNITY['district_name']}"
    table = pd.DataFrame(
        {
            "house_id": [f"H{k + 1:05d}" for k in range(n)],
            "address": [
                f"{prefix}{r}{num}号"
                for r, num in zip(houses["road"], houses["number"], strict=True)
            ],
            "road": houses["road"],
            "number": houses["number"],
            "building": houses["building"],
            "households": houses["households"],
            "floor_area_m2": houses["floor_area_m2"],
            "house_type": types,
            "use": uses,
            "owner": owners,
            "lon": np.round(shapely.get_x(ll), 8),
            "lat": np.round(shapely.get_y(ll), 8),
        }
    )
    table.to_csv(out / "houses.csv", index=False, encoding="utf-8", lineterminator="\n")

    # the OSM clip travels with the demo
    if (out / OSM_CLIP).resolve() != clip.resolve():
        shutil.copyfile(clip, out / OSM_CLIP)

    # incidents.csv
    cats = read_categories(ROOT / "data" / "codes" / "incident_categories.csv")
    inc = make_incidents(boundary, houses, cats, np.random.default_rng(seed + 2))
    ill = _to_lonlat(inc.geometry.values, crs)
    inc = pd.DataFrame(inc.drop(columns="geometry"))
    inc["lon"], inc["lat"] = np.round(shapely.get_x(ill), 8), np.round(shapely.get_y(ill), 8)
    inc.to_csv(out / "incidents.csv", index=False, encoding="utf-8", lineterminator="\n")

    # staff, residents: separate streams of random numbers, so the files above do not change
    people = build_people(out, seed)

    return {
        "metric_crs": crs.to_epsg(),
        "boundary_km2": boundary.area / 1e6,
        "faces": len(faces),
        "houses": n,
        "households": int(table["households"].sum()),
        "grid_households_min": int(hh_grid.min()),
        "grid_households_max": int(hh_grid.max()),
        "incidents": len(inc),
        "defects": [d["kind"] for d in defects],
        **people,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="output folder (default data/demo)")
    p.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    p.add_argument("--houses", type=int, default=None, help="scaled mode: number of houses")
    p.add_argument("--grids", type=int, default=None, help="scaled mode: number of grids")
    p.add_argument(
        "--osm-source",
        type=Path,
        default=None,
        help="re-cut data/demo/osm_bund.gpkg from this full OSM extract first",
    )
    args = p.parse_args(argv)
    if args.houses is not None or args.grids is not None:
        if args.out is None:
            p.error("--out is required with --houses/--grids")
        summary = build_scaled(args.out, args.houses or 1000, args.grids or 100, args.seed)
    else:
        if args.osm_source is not None:
            extract_osm(args.osm_source, DEMO_DIR / OSM_CLIP)
        summary = build_demo(args.out or DEMO_DIR, args.seed)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
