"""Dask assignment: ``wangge assign --engine dask`` on a local cluster against the single process.

``python -m bench.dask_assign [--points N] [--grids G] [--workers W] [--results PATH]``
(also ``python -m bench --only dask``). The points (default 50,000,000) are generated as
GeoParquet in chunks of 1M (never all in memory), uniform over the bench's 10k-grid tiling
(``data/make_demo.py build_scaled``), and cached under ``bench/_data/``. Both runs are whole
processes; the single process is ``wangge assign POINTS --grids G --out OUT.parquet``, the
Dask run the same with ``--engine dask --workers W --memory-limit M``. Reported: wall time,
peak RSS of the single process and of each Dask worker (``VmHWM`` read on every worker by a
wrapper that runs the command's code in-process), and whether the two outputs agree row by
row (streamed, row group by row group: both keep the file order).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.commands import machine_line
from bench.data import DATA_DIR, ROOT, assignment_data
from bench.machine import replace_section

DEFAULT_POINTS = 50_000_000
CHUNK = 1_000_000
MEMORY_LIMIT = "2GB"
PARTITION_ROWS = 500_000


def points_file(n_points: int, grids_folder: Path, seed: int = 7) -> Path:
    """GeoParquet of ``n_points`` uniform points over the grids' extent, written in chunks."""
    import geopandas as gpd
    import pyarrow as pa
    import shapely

    from gis.io.geoparquet_parts import GeoParquetWriter, geoparquet_schema

    path = DATA_DIR / f"dask_points_{n_points}_rg250k_{grids_folder.name}.parquet"
    if path.is_file():
        return path
    xmin, ymin, xmax, ymax = gpd.read_parquet(grids_folder / "grids.parquet").total_bounds
    schema = pa.schema(
        [("house_id", pa.string()), ("households", pa.int64()), ("lon", pa.float64()),
         ("lat", pa.float64()), ("geometry", pa.binary())]
    )  # fmt: skip
    schema = geoparquet_schema(
        schema, geometry="geometry", crs="EPSG:4326", geometry_types=["Point"]
    )
    with GeoParquetWriter(path, schema, row_group_size=250_000) as writer:
        for start in range(0, n_points, CHUNK):
            n = min(CHUNK, n_points - start)
            rng = np.random.default_rng(seed + start // CHUNK)
            lon, lat = rng.uniform(xmin, xmax, n), rng.uniform(ymin, ymax, n)
            ids = np.char.add("H", np.char.zfill(np.arange(start, start + n).astype(str), 9))
            writer.write(pa.table({
                "house_id": ids, "households": rng.integers(1, 4, n), "lon": lon, "lat": lat,
                "geometry": shapely.to_wkb(shapely.points(lon, lat), flavor="iso"),
            }, schema=schema))  # fmt: skip
    return path


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_dask(points: Path, grids: Path, out: Path, workers: int, memory_limit: str) -> dict:
    """What ``wangge assign --engine dask`` does, with each worker's peak RSS read at the end."""
    from gis.assign import GridIndex
    from gis.dask_assign import assign_on_cluster, dask_client
    from gis.io import read_layer

    start = time.perf_counter()
    index = GridIndex(read_layer(grids, geometry_type="polygon"), one_shot=True)
    with dask_client(workers=workers, memory_limit=memory_limit) as client:
        result = assign_on_cluster(points, index, out, client=client, partition_rows=PARTITION_ROWS)
        peaks = client.run(_peak_rss_mib)
    return {"wall_s": time.perf_counter() - start, "worker_peak_mib": sorted(peaks.values()),
            "client_peak_mib": _peak_rss_mib(), "points": result.points,
            "partitions": result.partitions}  # fmt: skip


def run_single(points: Path, grids: Path, out: Path) -> dict:
    """``wangge assign`` as a whole process: wall time and its peak RSS."""
    wangge = str(Path(sys.executable).with_name("wangge"))
    start = time.perf_counter()
    proc = subprocess.run([wangge, "assign", str(points), "--grids", str(grids), "--out", str(out)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"error": proc.stderr[-300:]}
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": wall, "peak_mib": peak}


def same_rows(a: Path, b: Path) -> int:
    """Rows whose grid_code differs between the two outputs (both in file order), streamed."""
    import pyarrow.parquet as pq

    differ = 0
    batches_b = pq.ParquetFile(b).iter_batches(
        batch_size=1_000_000, columns=["house_id", "grid_code"]
    )
    for batch_a in pq.ParquetFile(a).iter_batches(batch_size=1_000_000,
                                                   columns=["house_id", "grid_code"]):  # fmt: skip
        batch_b = next(batches_b)
        assert batch_a.column(0).equals(batch_b.column(0)), "rows out of order"
        ca, cb = batch_a.column(1).to_pylist(), batch_b.column(1).to_pylist()
        differ += sum(x != y for x, y in zip(ca, cb, strict=True))
    return differ


def _in_subprocess(kind: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.dask_assign", "--case", kind, *args],
                          cwd=ROOT, capture_output=True, text=True, check=False)  # fmt: skip
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout)[-300:]}
    return json.loads(lines[-1])


def _size_note(n_points: int) -> list[str]:
    if n_points == DEFAULT_POINTS:
        return []
    return [f"- the case's default is {DEFAULT_POINTS:,} points (`python -m bench --only dask`); "
            f"this run: {n_points:,} (`--dask-points`)"]  # fmt: skip


def section(n_points: int, n_grids: int, workers: int, single: dict, dask: dict, differ, info):
    lines = [
        "## Dask assignment (local cluster against the single process)",
        "",
        f"- run: {info['date']}; {info['cpu']}, {info['cores']} cores; load average at the "
        f"start {info['load']}; {n_points:,} points (GeoParquet, generated in chunks of "
        f"{CHUNK:,}) into {n_grids:,} grids; Dask: {workers} worker processes × 1 thread, "
        f"{MEMORY_LIMIT} each, partitions of {PARTITION_ROWS:,} rows, file order (no spatial "
        "shuffle); both whole runs including start-up and writing one GeoParquet file",
        *(_size_note(n_points)),
        "",
        "| case | wall | peak RSS | ratio (single / dask) | rows differing |",
        "|---|---|---|---|---|",
    ]
    if "error" in single:
        lines.append(f"| single process | not run: {single['error'][:80]} | — | — | — |")
    else:
        lines.append(f"| single process | {single['wall_s']:.1f} s | {single['peak_mib']:,.0f} "
                     "MiB | — | — |")  # fmt: skip
    if "error" in dask:
        lines.append(f"| dask | failed: {dask['error'][:80]} | — | — | — |")
    else:
        peaks = ", ".join(f"{p:,.0f}" for p in dask["worker_peak_mib"])
        ratio = f"{single['wall_s'] / dask['wall_s']:.2f}×" if "wall_s" in single else "—"
        lines.append(
            f"| dask, {workers} workers | {dask['wall_s']:.1f} s | workers {peaks} MiB; client "
            f"{dask['client_peak_mib']:,.0f} MiB | {ratio} | "
            f"{'—' if differ is None else differ} |"
        )
        lines.append("")
        lines.append(f"Dask assignment of {n_points:,} points: dask vs single process {ratio}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dask_assign")
    parser.add_argument("--points", type=int, default=DEFAULT_POINTS)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-single", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="200k points into 100 grids")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--case", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:  # internal: one run in this process, JSON on the last line
        kind, points, grids, out = args.case[0], *map(Path, args.case[1:4])
        if kind == "dask":
            print(json.dumps(run_dask(points, grids, out, args.workers, MEMORY_LIMIT)))
        else:
            print(json.dumps(run_single(points, grids, out)))
        return 0
    if args.smoke:
        args.points, args.grids = min(args.points, 200_000), 100
    info = machine_line()
    grids_folder = assignment_data(10_000, args.grids)
    points = points_file(args.points, grids_folder)
    grids = grids_folder / "grids.parquet"
    with tempfile.TemporaryDirectory(prefix="wangge-bench-dask-") as tmp:
        single_out, dask_out = Path(tmp) / "single.parquet", Path(tmp) / "dask.parquet"
        single = (
            {"error": "skipped (--skip-single)"} if args.skip_single
            else _in_subprocess("single", str(points), str(grids), str(single_out))
        )  # fmt: skip
        dask = _in_subprocess("dask", str(points), str(grids), str(dask_out),
                              "--workers", str(args.workers))  # fmt: skip
        differ = same_rows(single_out, dask_out) if "error" not in single | dask else None
    lines = section(args.points, args.grids, args.workers, single, dask, differ, info)
    print("\n".join(lines))
    if args.results is not None:
        replace_section(args.results, "Dask assignment", lines)
    return 1 if differ or "error" in dask else 0


if __name__ == "__main__":
    sys.exit(main())
