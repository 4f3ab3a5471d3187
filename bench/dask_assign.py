"""Dask assignment: ``wangge assign --engine dask`` on a local cluster against the single process.

``python -m bench.dask_assign [--points N] [--grids G] [--workers W] [--threads T] [--whole-table]
[--memory-stop GB] [--results PATH]`` (also ``python -m bench --only dask``; the default run
of ``python -m bench`` does not run it). The points (default 50,000,000) are generated as
GeoParquet in chunks of 1M (never all in memory), uniform over the bench's 10k-grid tiling
(``data/make_demo.py build_scaled``), and cached under ``bench/_data/``. Every run is a whole
process: the single process is ``wangge assign POINTS --grids G --out OUT.parquet`` (which
streams GeoParquet a batch of rows at a time), the Dask run the same with ``--engine dask
--workers W --memory-limit M``; ``--whole-table`` adds the path that holds the whole table
(read_layer, assign_points, write_layer: what ``wangge assign`` did before it streamed).
Reported: wall time, CPU time (user + system of the process and its children), peak RSS of
the single process and of each Dask worker (``VmHWM`` read on every worker by a wrapper that
runs the command's code in-process), and whether the outputs agree row by row (streamed, row
group by row group: all keep the file order). A watchdog samples the resident memory of each
run's whole process tree and stops a run above ``--memory-stop`` (default 14 GB, so that
a run cannot push a shared machine into swap or the OOM killer); a stopped run is reported
with the memory and time at which it was stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.data import DATA_DIR, ROOT, assignment_data
from bench.machine import machine, replace_section

DEFAULT_POINTS = 50_000_000
CHUNK = 1_000_000
MEMORY_LIMIT = "2GB"
PARTITION_ROWS = 500_000
MEMORY_STOP_GB = 14.0


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


def run_dask(points: Path, grids: Path, out: Path, workers: int, memory_limit: str,
             threads: int = 1) -> dict:  # fmt: skip
    """What ``wangge assign --engine dask`` does, with each worker's peak RSS read at the end."""
    from gis.assign import GridIndex
    from gis.dask_assign import assign_on_cluster, dask_client
    from gis.io import read_layer

    start = time.perf_counter()
    index = GridIndex(read_layer(grids, geometry_type="polygon"), one_shot=True)
    with dask_client(workers=workers, memory_limit=memory_limit, threads=threads) as client:
        result = assign_on_cluster(points, index, out, client=client, partition_rows=PARTITION_ROWS)
        peaks = client.run(_peak_rss_mib)
    return {"wall_s": time.perf_counter() - start, "worker_peak_mib": sorted(peaks.values()),
            "client_peak_mib": _peak_rss_mib(), "points": result.points,
            "partitions": result.partitions, "arrow_rows": result.arrow_rows}  # fmt: skip


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


def run_whole_table(points: Path, grids: Path, out: Path) -> dict:
    """The whole-table path in this process: every point read at once (``read_layer``),
    assigned (``assign_points``) and written (``write_layer``), as ``wangge assign`` did
    before it streamed GeoParquet."""
    import shapely

    from gis.assign import assign_points
    from gis.io import ReadLimits, read_layer, set_read_limits, write_layer

    start = time.perf_counter()
    set_read_limits(ReadLimits(max_rows=None))  # as the command line reads the user's own files
    point_frame = read_layer(points, geometry_type="point", keep_file_coordinates=True)
    grid_frame = read_layer(grids, geometry_type="polygon")
    codes = assign_points(point_frame, grid_frame)
    result = point_frame
    result["grid_code"] = codes.astype(object).where(codes.notna(), None)
    result["outside"] = codes.isna().to_numpy()
    wgs84 = np.asarray(result.geometry.to_crs(4326).values)
    result["lon_wgs84"], result["lat_wgs84"] = shapely.get_x(wgs84), shapely.get_y(wgs84)
    write_layer(result, out)
    return {"wall_s": time.perf_counter() - start, "peak_mib": _peak_rss_mib()}


def _windows(path: Path, size: int):
    """The file's rows as tables of exactly ``size`` rows (the last shorter), in file order,
    whatever its row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    held, n = [], 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
        held.append(batch)
        n += batch.num_rows
        while n >= size:
            table = pa.Table.from_batches(held).combine_chunks()
            yield table.slice(0, size)
            rest = table.slice(size)
            held, n = rest.to_batches(), rest.num_rows
    if n:
        yield pa.Table.from_batches(held)


def same_rows(a: Path, b: Path, size: int = 1_000_000) -> int:
    """Rows that differ in any column between the two outputs (both in file order; the
    geometry compared as WKB bytes), streamed a window of rows at a time."""
    import pyarrow.compute as pc

    differ = 0
    windows_b = _windows(b, size)
    for table_a in _windows(a, size):
        table_b = next(windows_b)
        assert table_a.column_names == table_b.column_names, "columns differ"
        assert table_a.num_rows == table_b.num_rows, "row counts differ"
        any_differs = None
        for name in table_a.column_names:
            ca, cb = table_a.column(name), table_b.column(name)
            if ca.type != cb.type:
                cb = cb.cast(ca.type)
            same = pc.or_kleene(
                pc.fill_null(pc.equal(ca, cb), False), pc.and_(pc.is_null(ca), pc.is_null(cb))
            )
            differs = pc.invert(same)
            any_differs = differs if any_differs is None else pc.or_(any_differs, differs)
        differ += int(pc.sum(any_differs).as_py() or 0)
    assert next(windows_b, None) is None, "row counts differ"
    return differ


def _tree_rss(root) -> int:
    """Resident bytes of ``root`` and all its descendants (0 for those already gone)."""
    import psutil

    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def _in_subprocess(kind: str, *args: str, memory_stop_gb: float = MEMORY_STOP_GB) -> dict:
    """One case in its own process (and its children), watched: its JSON result with the CPU
    time of the whole tree (user + system), the tree's peak resident memory as sampled, and,
    if the tree went above ``memory_stop_gb``, the memory and time at which it was stopped."""
    import psutil

    stop = memory_stop_gb * 1e9
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bench.dask_assign", "--case", kind, *args],
                                cwd=ROOT, stdout=out, stderr=err, text=True)  # fmt: skip
        root = psutil.Process(proc.pid)
        watch = {"peak": 0, "stopped": None}
        done = threading.Event()

        def watchdog() -> None:
            while not done.wait(0.5):
                rss = _tree_rss(root)
                watch["peak"] = max(watch["peak"], rss)
                if rss > stop:
                    watch["stopped"] = (rss, time.perf_counter() - start)
                    for child in [*root.children(recursive=True), root]:
                        with contextlib.suppress(psutil.Error):
                            child.kill()
                    return

        thread = threading.Thread(target=watchdog, daemon=True)
        thread.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        thread.join()
        out.seek(0)
        err.seek(0)
        lines, errors = out.read().strip().splitlines(), err.read()
    cpu = {"cpu_s": usage.ru_utime + usage.ru_stime, "tree_peak_mib": watch["peak"] / 2**20}
    if watch["stopped"] is not None:
        rss, at = watch["stopped"]
        return cpu | {"error": f"stopped by the watchdog at {rss / 2**30:.1f} GiB resident "
                               f"(limit {memory_stop_gb:g} GB) after {at:.0f} s",
                      "stopped_mib": rss / 2**20, "stopped_at_s": at}  # fmt: skip
    if proc.returncode != 0 or not lines:
        return cpu | {"error": (errors or "\n".join(lines))[-300:]}
    return cpu | json.loads(lines[-1])


def _threads(n: int) -> str:
    return f"{n} thread{'s' if n > 1 else ''}"


def _size_note(n_points: int) -> list[str]:
    if n_points == DEFAULT_POINTS:
        return []
    return [f"- the case's default is {DEFAULT_POINTS:,} points (`python -m bench --only dask`); "
            f"this run: {n_points:,} (`--dask-points`)"]  # fmt: skip


def _cpu(result: dict) -> str:
    return f"{result['cpu_s']:.1f} s" if "cpu_s" in result else "—"


def _ratio(single: dict, other: dict) -> str:
    if "wall_s" not in single or "wall_s" not in other:
        return "—"
    wall = single["wall_s"] / other["wall_s"]
    return f"{wall:.2f}× wall, {single['cpu_s'] / other['cpu_s']:.2f}× CPU"


def _row(case: str, result: dict, memory: str, ratio: str, differ) -> str:
    if "error" in result:
        at = (f"; tree {result['tree_peak_mib']:,.0f} MiB at most before"
              if "stopped_mib" not in result and result.get("tree_peak_mib") else "")  # fmt: skip
        error = result["error"][:160]
        return f"| {case} | not finished: {error}{at} | {_cpu(result)} | — | — | — |"
    return (f"| {case} | {result['wall_s']:.1f} s | {_cpu(result)} | {memory} | {ratio} | "
            f"{'—' if differ is None else differ} |")  # fmt: skip


def section(
    n_points: int, n_grids: int, workers: int, runs: dict, differ: dict, info: dict,
    load_after: str, memory_stop_gb: float = MEMORY_STOP_GB, threads: int = 1,
) -> list[str]:  # fmt: skip
    """The results section: one row per run (``runs``: "single", "dask", optionally
    "whole"), ``differ`` the rows differing from the single process's output per run."""
    single, dask = runs["single"], runs["dask"]
    lines = [
        "## Dask assignment (local cluster against the single process)",
        "",
        f"- run: {info['date']}; {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB "
        f"RAM, shared with other sessions; load average at the start {info['load']}, at the end "
        f"{load_after}; {n_points:,} points (GeoParquet, generated in chunks of {CHUNK:,}, row "
        f"groups of 250,000) into {n_grids:,} grids; Dask: {workers} worker processes × "
        f"{_threads(threads)}, {MEMORY_LIMIT} each, partitions of {PARTITION_ROWS:,} rows, "
        "file order (no "
        "spatial shuffle); every run a whole process including start-up and writing one "
        f"GeoParquet file, its process tree stopped by a watchdog above {memory_stop_gb:g} GB "
        "resident; CPU is user + system of the process and its children",
        *(_size_note(n_points)),
        "",
        "| case | wall | CPU | peak RSS | single / this | rows differing from the single process |",
        "|---|---|---|---|---|---|",
        _row("single process", single, f"{single.get('peak_mib', 0):,.0f} MiB", "—", None),
    ]
    if "error" not in dask:
        peaks = ", ".join(f"{p:,.0f}" for p in dask["worker_peak_mib"])
        memory = (f"workers {peaks} MiB; client {dask['client_peak_mib']:,.0f} MiB; whole tree "
                  f"{dask['tree_peak_mib']:,.0f} MiB")  # fmt: skip
    else:
        memory = "—"
    lines.append(_row(f"dask, {workers} workers × {_threads(threads)}", dask, memory,
                      _ratio(single, dask),
                      differ.get("dask")))  # fmt: skip
    if "whole" in runs:
        whole = runs["whole"]
        memory = f"{whole.get('peak_mib', 0):,.0f} MiB"
        lines.append(_row("whole table (before streaming)", whole, memory, _ratio(single, whole),
                          differ.get("whole")))  # fmt: skip
    if "error" not in dask and "wall_s" in single:
        lines += ["", f"Dask assignment of {n_points:,} points: dask vs single process "
                      f"{single['wall_s'] / dask['wall_s']:.2f}×"]  # fmt: skip
    return lines


def _one_case(kind: str, points: Path, grids: Path, out: Path, workers: int, threads: int) -> dict:
    if kind == "dask":
        return run_dask(points, grids, out, workers, MEMORY_LIMIT, threads)
    if kind == "whole":
        return run_whole_table(points, grids, out)
    return run_single(points, grids, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dask_assign")
    parser.add_argument("--points", type=int, default=DEFAULT_POINTS)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per Dask worker")
    parser.add_argument("--skip-single", action="store_true")
    parser.add_argument(
        "--whole-table",
        action="store_true",
        help="also run the whole-table path (what assign did before streaming)",
    )
    parser.add_argument(
        "--memory-stop",
        type=float,
        default=MEMORY_STOP_GB,
        help="stop a run whose process tree goes above this many GB resident",
    )
    parser.add_argument("--smoke", action="store_true", help="200k points into 100 grids")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--case", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:  # internal: one run in this process, JSON on the last line
        kind, points, grids, out = args.case[0], *map(Path, args.case[1:4])
        print(json.dumps(_one_case(kind, points, grids, out, args.workers, args.threads)))
        return 0
    if args.smoke:
        args.points, args.grids = min(args.points, 200_000), 100
    info = machine()
    grids_folder = assignment_data(10_000, args.grids)
    points = points_file(args.points, grids_folder)
    grids = grids_folder / "grids.parquet"
    kinds = ["single", "dask", *(["whole"] if args.whole_table else [])]
    runs, differ = {}, {}
    with tempfile.TemporaryDirectory(prefix="wangge-bench-dask-", dir=DATA_DIR) as tmp:
        outs = {kind: Path(tmp) / f"{kind}.parquet" for kind in kinds}
        for kind in kinds:
            if kind == "single" and args.skip_single:
                runs[kind] = {"error": "skipped (--skip-single)"}
                continue
            extra = (["--workers", str(args.workers), "--threads", str(args.threads)]
                     if kind == "dask" else [])  # fmt: skip
            runs[kind] = _in_subprocess(kind, str(points), str(grids), str(outs[kind]), *extra,
                                        memory_stop_gb=args.memory_stop)  # fmt: skip
            print(kind, json.dumps(runs[kind]), flush=True)
            if kind != "single" and "error" not in runs[kind] | runs["single"]:
                differ[kind] = same_rows(outs["single"], outs[kind])
            if kind != "single":
                outs[kind].unlink(missing_ok=True)  # the disk holds one output beside the single's
    load_after = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = section(args.points, args.grids, args.workers, runs, differ, info, load_after,
                    args.memory_stop, args.threads)  # fmt: skip
    print("\n".join(lines))
    if args.results is not None:
        replace_section(args.results, "Dask assignment", lines)
    return 1 if any(differ.values()) or "error" in runs["dask"] else 0


if __name__ == "__main__":
    sys.exit(main())
