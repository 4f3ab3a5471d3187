"""One benchmark case per process: ``python -m bench.cases CASE DATA_DIR OUT_PREFIX [ARG]``.

Each case loads its data, times its work, and writes ``OUT_PREFIX.json`` (times in seconds,
peak RSS of this process in MiB from ``VmHWM``) and, for assignment cases,
``OUT_PREFIX.npy``: per house the position of its grid code in the sorted codes, -1 outside.
Running every case in a fresh process keeps peak memory per case honest.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["CASES", "main"]


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _timed(fn, repeat: int = 1):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, times


def _load(data: Path):
    import geopandas as gpd

    grids = gpd.read_parquet(data / "grids.parquet", columns=["code", "geometry"])
    houses = gpd.read_parquet(data / "houses.parquet", columns=["lon", "lat", "geometry"])
    return grids, houses


def _positions(codes_sorted: np.ndarray, answer) -> np.ndarray:
    answer = np.asarray(answer, dtype=object)
    out = np.full(len(answer), -1, dtype=np.int32)
    hit = np.array([a is not None and a == a for a in answer], dtype=bool)
    if hit.any():
        out[hit] = np.searchsorted(codes_sorted, answer[hit].astype(str))
    return out


def case_wangge(data: Path, arg: str | None) -> tuple[dict, np.ndarray]:
    from gis.assign import GridIndex, assign_points

    grids, houses = _load(data)
    codes = np.sort(grids["code"].to_numpy().astype(str))
    repeat = int(arg or 3)
    index, build = _timed(lambda: GridIndex(grids), 1)
    points = houses.geometry
    answer, assign = _timed(lambda: index.assign(points), repeat)
    lon, lat = houses["lon"].to_numpy(), houses["lat"].to_numpy()
    many, locate_many = _timed(lambda: index.locate_many(lon, lat), repeat)
    n_single = min(len(lon), 200_000)
    xs, ys = lon[:n_single].tolist(), lat[:n_single].tolist()
    locate = index.locate
    singles, single = _timed(lambda: [locate(x, y) for x, y in zip(xs, ys, strict=True)], 1)
    _, end_to_end = _timed(lambda: assign_points(houses, grids), 1)
    agree_internal = bool(
        (many == answer.to_numpy()).all() and singles == answer.iloc[:n_single].tolist()
    )
    raster = index._raster
    stats = {
        "build_s": build[0],
        "assign_s": min(assign),
        "assign_median_s": statistics.median(assign),
        "locate_many_s": min(locate_many),
        "single_points_per_s": n_single / single[0],
        "assign_points_end_to_end_s": end_to_end[0],
        "internal_agree": agree_internal,
        "raster_cells": raster.ncols * raster.nrows if raster else 0,
        "boundary_cells": raster.n_boundary_cells if raster else 0,
    }
    return stats, _positions(codes, answer.to_numpy())


def case_sjoin(data: Path, arg: str | None) -> tuple[dict, np.ndarray]:
    import geopandas as gpd

    grids, houses = _load(data)
    codes = np.sort(grids["code"].to_numpy().astype(str))
    points = houses[["geometry"]]

    def join():
        pairs = gpd.sjoin(points, grids, how="left", predicate="covered_by")
        return pairs.groupby(level=0, sort=True)["code"].min().reindex(points.index)

    answer, times = _timed(join, 1)
    return {"query_s": times[0]}, _positions(codes, answer.to_numpy())


def _spatial_extension() -> Path:
    import duckdb_extension_spatial

    root = pathlib.Path(duckdb_extension_spatial.__file__).parent
    return next(root.glob("extensions/*/spatial.duckdb_extension"))


def case_duckdb(data: Path, arg: str | None) -> tuple[dict, np.ndarray]:
    import duckdb

    threads = int(arg) if arg else os.cpu_count()
    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    con.execute(f"LOAD '{_spatial_extension()}'")
    t0 = time.perf_counter()
    con.execute(
        "CREATE TABLE grids AS SELECT code, geometry::GEOMETRY AS geom "
        f"FROM read_parquet('{data / 'grids.parquet'}')"
    )
    con.execute(
        "CREATE TABLE houses AS SELECT (row_number() OVER ()) - 1 AS i, "
        f"geometry::GEOMETRY AS geom FROM read_parquet('{data / 'houses.parquet'}')"
    )
    load = time.perf_counter() - t0
    n = con.execute("SELECT count(*) FROM houses").fetchone()[0]
    codes = np.sort(np.array([r[0] for r in con.execute("SELECT code FROM grids").fetchall()]))
    sql = (
        "SELECT h.i, arg_min(g.code, g.code) AS code FROM houses h "
        "JOIN grids g ON ST_Covers(g.geom, h.geom) GROUP BY h.i"
    )
    result, times = _timed(lambda: con.execute(sql).fetchnumpy(), 1)
    answer = np.full(n, None, dtype=object)
    answer[result["i"].astype(np.int64)] = np.asarray(result["code"], dtype=object)
    version = con.execute(
        "SELECT extension_version FROM duckdb_extensions() WHERE extension_name = 'spatial'"
    ).fetchone()[0]
    stats = {
        "query_s": times[0],
        "load_s": load,
        "threads": threads,
        "duckdb": duckdb.__version__,
        "spatial": version,
    }
    return stats, _positions(codes, answer)


def case_postgis(data: Path, arg: str | None) -> tuple[dict, np.ndarray]:
    import psycopg
    import shapely

    from bench.pg import ThrowawayPostgres

    grids, houses = _load(data)
    codes = np.sort(grids["code"].to_numpy().astype(str))
    pg = ThrowawayPostgres(dbname="wangge_bench").start()
    try:
        url = pg.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, autocommit=True) as con:
            t0 = time.perf_counter()
            con.execute("CREATE TABLE grids (code text, geom geometry(Geometry, 4326))")
            con.execute("CREATE TABLE houses (i integer, geom geometry(Point, 4326))")
            grid_wkb = shapely.to_wkb(
                shapely.set_srid(grids.geometry.to_numpy(), 4326), hex=True, include_srid=True
            )
            house_wkb = shapely.to_wkb(
                shapely.set_srid(houses.geometry.to_numpy(), 4326), hex=True, include_srid=True
            )
            with con.cursor().copy("COPY grids (code, geom) FROM STDIN") as copy:
                copy.write(
                    "".join(f"{c}\t{w}\n" for c, w in zip(grids["code"], grid_wkb, strict=True))
                )
            with con.cursor().copy("COPY houses (i, geom) FROM STDIN") as copy:
                copy.write("".join(f"{i}\t{w}\n" for i, w in enumerate(house_wkb)))
            con.execute("CREATE INDEX ON grids USING gist (geom)")
            con.execute("CREATE INDEX ON houses USING gist (geom)")
            con.execute("ANALYZE grids")
            con.execute("ANALYZE houses")
            load = time.perf_counter() - t0
            sql = (
                "SELECT DISTINCT ON (h.i) h.i, g.code FROM houses h "
                "JOIN grids g ON ST_Covers(g.geom, h.geom) "
                'ORDER BY h.i, g.code COLLATE "C"'
            )
            rows, times = _timed(lambda: con.execute(sql).fetchall(), 1)
            version = con.execute("SELECT postgis_full_version()").fetchone()[0]
            pg_version = con.execute("SHOW server_version").fetchone()[0]
            workers = con.execute("SHOW max_parallel_workers_per_gather").fetchone()[0]
    finally:
        pg.stop()
    answer = np.full(len(houses), None, dtype=object)
    if rows:
        idx = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        answer[idx] = [r[1] for r in rows]
    stats = {
        "query_s": times[0],
        "load_s": load,
        "postgis": version.split('"')[1] if '"' in version else version,
        "postgresql": pg_version,
        "max_parallel_workers_per_gather": workers,
        "note": "peak RSS is the client's; the server runs in its own processes",
    }
    return stats, _positions(codes, answer)


def _division(data: Path):
    import geopandas as gpd

    grids = gpd.read_parquet(data / "grids.parquet")
    boundary = gpd.read_parquet(data / "boundary.parquet")
    return grids, boundary


def case_validate(data: Path, arg: str | None) -> tuple[dict, None]:
    from gis.coverage import validate

    grids, boundary = _division(data)
    findings, times = _timed(lambda: validate(grids, boundary), 1)
    kinds = findings["kind"].value_counts().to_dict() if len(findings) else {}
    return {"time_s": times[0], "grids": len(grids), "findings": kinds}, None


def case_validate_floor(data: Path, arg: str | None) -> tuple[dict, None]:
    """The GEOS floor: ``coverage_invalid_edges`` on the defective division, plus
    ``coverage_union_all`` on the same division before the defects were planted (on the
    defective one GEOS refuses: "CoverageUnion cannot process incorrectly noded inputs")."""
    import geopandas as gpd
    import shapely

    grids, _ = _division(data)
    geoms = grids.geometry.to_numpy()
    clean = gpd.read_parquet(data / "grids_clean.parquet").geometry.to_numpy()
    edges, t_edges = _timed(lambda: shapely.coverage_invalid_edges(geoms), 1)
    _, t_union = _timed(lambda: shapely.coverage_union_all(clean), 1)
    try:
        shapely.coverage_union_all(geoms)
        defective_union = "ok"
    except shapely.errors.GEOSException as exc:
        defective_union = str(exc)
    bad = int((~shapely.is_empty(edges)).sum())
    return {
        "time_s": t_edges[0] + t_union[0],
        "invalid_edges_s": t_edges[0],
        "union_clean_s": t_union[0],
        "union_on_defective": defective_union,
        "grids": len(grids),
        "grids_with_invalid_edges": bad,
    }, None


def case_validate_naive(data: Path, arg: str | None) -> tuple[dict, None]:
    """Pairwise intersections of neighbours (overlaps) and a plain union (gaps)."""
    import shapely

    grids, boundary = _division(data)
    geoms = grids.geometry.to_numpy()
    frame = boundary.geometry.union_all()

    def naive():
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        keep = left < right
        overlaps = shapely.intersection(geoms[left[keep]], geoms[right[keep]])
        overlaps = overlaps[shapely.area(overlaps) > 1e-6]
        union = shapely.union_all(geoms)
        gaps = shapely.get_parts(shapely.difference(frame, union))
        return overlaps, gaps[shapely.area(gaps) > 1e-6]

    (overlaps, gaps), times = _timed(naive, 1)
    return {"time_s": times[0], "overlaps": len(overlaps), "gaps": len(gaps)}, None


def _geocode_inputs(path: Path):
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False)


def case_geocode(data: Path, arg: str | None) -> tuple[dict, None]:
    """wangge: build the gazetteer, geocode the table end to end, score door plates and roads."""
    import pandas as pd

    from bench.geocoding import GAZETTEER
    from gis.address import normalise
    from gis.geocode import Gazetteer, geocode_table

    table = _geocode_inputs(data)
    gaz, build = _timed(lambda: Gazetteer.from_file(GAZETTEER, road_column="road"), 1)
    out, run = _timed(lambda: geocode_table(table, column="input", gazetteer=gaz), 1)
    parsed, parse = _timed(lambda: [gaz.parse(a) for a in table["input"]], 1)
    address_of = dict(zip(gaz.frame["id"], gaz.frame["address"], strict=True))
    truth = table["expected_house_id"].map(address_of)
    right = (out["matched_address"] == truth) & out["match_level"].isin(
        ["doorplate", "lane", "building", "unit", "room"]
    )
    wrong = out["matched_address"].notna() & (out["match_level"] != "road") & ~right
    roads = [normalise(r) for r in table["expected_road"]]
    road_ok = sum(p.road == r for p, r in zip(parsed, roads, strict=True))
    return {
        "addresses": len(table),
        "distinct": int(table["input"].nunique()),
        "gazetteer_rows": len(gaz),
        "build_s": build[0],
        "geocode_s": run[0],
        "parse_s": parse[0],
        "per_s": len(table) / run[0],
        "parse_per_s": len(table) / parse[0],
        "found": int(right.sum()),
        "wrong": int(wrong.sum()),
        "road_split_ok": int(road_ok),
        "levels": pd.Series(out["match_level"]).value_counts().to_dict(),
    }, None


def case_cpca(data: Path, arg: str | None) -> tuple[dict, None]:
    """cpca (parsing only): place names split from the street; the rest must start with the road."""
    import cpca

    table = _geocode_inputs(data)
    texts = table["input"].tolist()
    cpca.transform(texts[:10])  # its tables load on first use: not part of the batch
    out, run = _timed(lambda: cpca.transform(texts), 1)
    rest = out["地址"].fillna("").astype(str).str.replace(r"\s+", "", regex=True)
    road_ok = sum(r.startswith(road) for r, road in zip(rest, table["expected_road"], strict=True))
    import importlib.metadata as md

    return {
        "addresses": len(table),
        "parse_s": run[0],
        "parse_per_s": len(table) / run[0],
        "road_split_ok": int(road_ok),
        "district_found": int(out["区"].notna().sum()),
        "version": md.version("cpca"),
    }, None


CASES = {
    "wangge": case_wangge,
    "sjoin": case_sjoin,
    "duckdb": case_duckdb,
    "postgis": case_postgis,
    "validate": case_validate,
    "validate_floor": case_validate_floor,
    "validate_naive": case_validate_naive,
    "geocode": case_geocode,
    "cpca": case_cpca,
}


def main(argv: list[str]) -> None:
    name, data, out = argv[0], Path(argv[1]), Path(argv[2])
    arg = argv[3] if len(argv) > 3 else None
    rss_start = _status_mib("VmRSS")
    stats, answer = CASES[name](data, arg)
    stats["peak_rss_mib"] = _status_mib("VmHWM")
    stats["rss_at_start_mib"] = rss_start
    if answer is not None:
        np.save(out.with_suffix(".npy"), answer)
    out.with_suffix(".json").write_text(json.dumps(stats, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
