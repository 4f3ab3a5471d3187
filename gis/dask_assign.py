"""Assign points to grids on a Dask cluster: tables larger than one machine's memory.

The same answers as the single-process path (:func:`gis.assign.assign_points` on what
:func:`gis.io.read_layer` reads), point for point, with memory bounded by the partition
size:

1. GeoParquet is taken a run of whole row groups (at most ``partition_rows`` rows) per
   task, with no Dask collection in between: each worker reads its run with pyarrow a batch
   at a time and assigns and writes each batch as :mod:`gis.assign_parquet` does in one
   process (plain 2D lon/lat WKB points decoded straight from their bytes, the other columns
   passed through as Arrow; any other batch through the general per-part path of
   :mod:`gis.point_parts`);
2. plain Parquet and CSV with lon/lat columns (and GeoParquet with ``spatial``) go through a
   Dask dataframe of partitions of at most ``partition_rows`` rows (Parquet row groups, CSV
   byte blocks), converted to lon/lat exactly as the single-process reader converts them
   (the file's CRS, or ``input_crs``); CSV columns become numbers where every value in the
   whole file is one and it is not an identifier, decided over all partitions first;
   ``spatial=True`` reorders the rows along a Hilbert curve over the grids' extent first (a
   disk-backed shuffle of the whole table: on a small machine it costs more than the
   look-ups it speeds up, see ``bench/``); without it the file's row groups stay as they
   are (GeoParquet written at scale is usually sorted along a space-filling curve already:
   DuckDB ``ORDER BY ST_Hilbert``, GDAL's ``SORT_BY_BBOX``);
3. the grid index (:class:`gis.assign.GridIndex`), built once by the caller, goes to every
   worker once (a worker plugin);
4. each task or partition is written by its worker as one Parquet part with one fixed
   schema; the parts become the output dataset (``out`` a directory) or are joined into one
   GeoParquet file (``out`` ending in ``.parquet``), under a temporary name until complete.

Output columns: every input column (the geometry included), then ``grid_code``,
``outside``, ``lon_wgs84``, ``lat_wgs84`` as the single-process ``wangge assign`` writes
them. Rows come partition by partition in file order (in Hilbert order with ``spatial``).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from distributed import WorkerPlugin

from gis.assign import GridIndex
from gis.assign_parquet import (
    BATCH_BYTES,
    DEFAULT_BATCH_ROWS,
    assign_batch,
    assigned_schema,
    direct_route,
    rows_within,
)
from gis.crs import WGS84, parse_input_crs
from gis.errors import InputError, UnreadableFileError
from gis.io import LAT_COLUMN_NAMES, LON_COLUMN_NAMES, find_column
from gis.io.geoparquet_parts import (
    GeoParquetWriter,
    arrow_table,
    empty_frame,
    geo_metadata,
    geoparquet_schema,
    output_schema,
    read_row_groups,
    row_group_batches,
)
from gis.io.parquet import _parquet_file
from gis.point_parts import (
    PointSpec,
    add_grid_columns,
    assigned_meta,
    grid_code_type,
    prepare_points,
)

__all__ = ["DEFAULT_PARTITION_ROWS", "DaskAssignResult", "assign_on_cluster", "dask_client"]

DEFAULT_PARTITION_ROWS = 500_000
_HILBERT_LEVEL = 16
_LOG = logging.getLogger("distributed.shuffle")


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None,
    *,
    workers: int = 2,
    memory_limit: str | int | None = "auto",
    threads: int = 1,
) -> Iterator:
    """A :class:`distributed.Client`: connected to ``scheduler`` (an address such as
    ``tcp://host:8786``), or to a local cluster of ``workers`` processes (``threads`` threads
    each, ``memory_limit`` per worker) that is shut down on leaving the block."""
    import dask
    from distributed import Client, LocalCluster

    _LOG.setLevel(logging.ERROR)  # its start and end are routine here, not warnings
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"无法连接调度器 / cannot connect to the Dask scheduler {scheduler!r}: {exc}"
            ) from exc
        with client:
            yield client
        return
    with (
        dask.config.set(_worker_settings(memory_limit, workers)),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _worker_settings(memory_limit: str | int | None, workers: int) -> dict:
    """Workers' allocator; buffer sizes of Dask's disk-backed (P2P) shuffle in proportion to
    a worker's memory: its defaults (1 GiB of send buffers, 100 MiB before writing to disk,
    per worker) would by themselves go past a small worker's limit, which pauses the worker
    and stalls the run.
    """
    from distributed.worker_memory import parse_memory_limit

    # Arrow's default allocator (mimalloc) keeps freed memory for reuse, which a worker's
    # limit counts as used: a worker paused at 80 % with almost nothing in hand. The system
    # allocator, trimmed as the Nanny already asks, gives it back after each partition.
    environ = {"distributed.nanny.pre-spawn-environ.ARROW_DEFAULT_MEMORY_POOL": "system"}
    limit = parse_memory_limit(memory_limit, 1, total_cores=workers, logger=_LOG)
    if not limit:
        return environ
    return environ | {
        "distributed.p2p.comm.buffer": max(limit // 10, 8 << 20),
        "distributed.p2p.storage.buffer": max(limit // 20, 4 << 20),
    }


@dataclass
class DaskAssignResult:
    """What :func:`assign_on_cluster` wrote: rows, rows outside every grid, the output; and
    how many rows the Arrow route assigned (GeoParquet of plain 2D lon/lat WKB points: decoded
    from the bytes, the other columns passed through) rather than the general one."""

    points: int
    outside: int
    out: Path
    partitions: int = 0
    files: list[Path] = field(default_factory=list)
    arrow_rows: int = 0


class _IndexPlugin(WorkerPlugin):
    """Carries the built grid index to each worker once (a Dask worker plugin)."""

    def __init__(self, name: str, index: GridIndex) -> None:
        self.name = name
        self.index = index

    def setup(self, worker) -> None:  # the plugin object itself is what workers look up
        pass


def _index_on_worker(name: str) -> GridIndex:
    from distributed import get_worker

    return get_worker().plugins[name].index


def _assign_part(gdf: gpd.GeoDataFrame, index_name: str) -> gpd.GeoDataFrame:
    """The rows with the columns ``wangge assign`` adds (spatial sort key dropped)."""
    return add_grid_columns(gdf, _index_on_worker(index_name))


def _write_part(gdf: gpd.GeoDataFrame, folder: str, schema, partition_info=None) -> pd.DataFrame:
    """Write one partition as ``part.NNNNN.parquet``; return its row and outside counts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    number = partition_info["number"] if partition_info else 0
    path = Path(folder) / f"part.{number:05d}.parquet"
    pq.write_table(arrow_table(gdf, schema), path)
    # Arrow's allocator keeps freed memory for reuse; a worker's limit counts it as used
    # (unmanaged) memory, so hand it back after each partition.
    pa.default_memory_pool().release_unused()
    return pd.DataFrame({"rows": [len(gdf)], "outside": [int(gdf["outside"].sum())]})


# --- reading ------------------------------------------------------------------------------


def _column_stats(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per text column: any value, all numbers, all integers, any missing, looks like a code
    (what :func:`gis.io.read_layer` decides a CSV column's type by)."""
    rows = []
    frame = frame.loc[frame.notna().any(axis=1).to_numpy()]
    for column in columns:
        raw = frame[column]
        text = raw.dropna().str.strip()
        numbers = pd.to_numeric(text, errors="coerce")
        rows.append(
            {
                "column": column,
                "any": not text.empty,
                "numeric": bool(numbers.notna().all()),
                "integer": numbers.dtype.kind in "iu" or text.empty,
                "missing": bool(raw.isna().any()),
                "code": bool(
                    text.str.match(r"^[+-]?0\d").any() or text.str.match(r"^\+?\d{11,}$").any()
                ),
            }
        )
    return pd.DataFrame(rows)


def _csv_numbers(ddf, columns: list[str]) -> dict:
    stats = ddf.map_partitions(
        _column_stats,
        columns,
        meta=pd.DataFrame({k: pd.Series(dtype=t) for k, t in (
            ("column", object), ("any", bool), ("numeric", bool), ("integer", bool),
            ("missing", bool), ("code", bool))}),
    ).compute()  # fmt: skip
    numbers = {}
    for column, group in stats.groupby("column", sort=False):
        if group["any"].any() and not group["code"].any() and group["numeric"].all():
            exact = group["integer"].all() and not group["missing"].any()
            numbers[column] = "int" if exact else "float"
    return numbers


def _lonlat_names(columns, label: str, lon_col: str | None, lat_col: str | None):
    lon = lon_col if lon_col is not None else find_column(columns, LON_COLUMN_NAMES)
    lat = lat_col if lat_col is not None else find_column(columns, LAT_COLUMN_NAMES)
    for given in (lon, lat):
        if given is not None and given not in columns:
            raise InputError(f"{label}: 没有列 {given!r} / no column {given!r}")
    if lon is None or lat is None:
        raise InputError(
            f"{label}: 找不到经纬度列 / cannot find lon/lat columns (found: "
            f"{', '.join(map(str, columns))}); expected one of {'|'.join(LON_COLUMN_NAMES)} and "
            f"one of {'|'.join(LAT_COLUMN_NAMES)}, or give --lon-col/--lat-col"
        )
    return lon, lat


def _read_parquet_part(
    batch: tuple[list[int], int], path: str, spec: PointSpec
) -> gpd.GeoDataFrame:
    row_groups, offset = batch
    return prepare_points(read_row_groups(path, row_groups), spec, offset)


def _read_points(path: Path, source, lon_col, lat_col, partition_rows: int):
    """The points as a Dask GeoDataFrame of prepared partitions."""
    import dask.dataframe as dd
    import dask_geopandas  # noqa: F401  (registers GeoDataFrame collections)

    label = str(path)
    ext = path.suffix.lower()
    if not path.is_file():
        raise UnreadableFileError(f"{label}: 文件不存在 / file not found")
    if ext == ".parquet":
        import pyarrow.parquet as pq

        geo = geo_metadata(path)
        batches = row_group_batches(path, partition_rows)
        if not batches:
            raise UnreadableFileError(f"{label}: 空文件 / empty file")
        if geo is None:
            names = pq.ParquetFile(path).schema_arrow.names
            lon, lat = _lonlat_names(names, label, lon_col, lat_col)
            spec = PointSpec(label, "table", source, lon, lat)
        else:
            spec = PointSpec(label, "geo", source)
        footer = pq.ParquetFile(path).metadata
        sizes = [sum(footer.row_group(g).num_rows for g in batch) for batch in batches]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
        parts = list(zip(batches, offsets, strict=True))
        head = prepare_points(empty_frame(path), spec, 0)
        return dd.from_map(
            _read_parquet_part, parts, path=str(path), spec=spec, meta=head,
            enforce_metadata=False,
        )  # fmt: skip
    if ext == ".csv":
        encoding = _csv_encoding(path)
        text = dd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], encoding=encoding,
            blocksize=max(partition_rows * 64, 1 << 16), skip_blank_lines=True,
        )  # fmt: skip
        columns = [str(c) for c in text.columns]
        lon, lat = _lonlat_names(columns, label, lon_col, lat_col)
        others = [c for c in columns if c not in (lon, lat)]
        spec = PointSpec(label, "table", source, lon, lat, _csv_numbers(text, others))
        head = prepare_points(text._meta, spec, None)
        return text.map_partitions(prepare_points, spec, None, meta=head)
    raise InputError(
        f"{label}: Dask 引擎读 .parquet 或 .csv / the dask engine reads .parquet (GeoParquet or "
        "lon/lat columns) or .csv points"
    )


def _csv_encoding(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    for codec in ("utf-8-sig", "gbk"):
        try:
            head.decode(codec)
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not merely a character cut at the sample's end
                continue
        return codec
    raise UnreadableFileError(
        f"{path}: 文本既不是 UTF-8 也不是 GBK / text is neither UTF-8 nor GBK"
    )


# --- the whole run -------------------------------------------------------------------------


def assign_on_cluster(
    points: str | Path,
    index: GridIndex,
    out: str | Path,
    *,
    client,
    input_crs: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    spatial: bool = False,
) -> DaskAssignResult:
    """Assign every point of the file ``points`` to the grid of ``index`` that covers it,
    on the cluster of ``client``; write the points with the grid columns to ``out``.

    Parameters
    ----------
    points
        GeoParquet, or a Parquet/CSV table with lon/lat columns (found by name as
        :func:`gis.io.read_layer` finds them, or ``lon_col``/``lat_col``).
    index
        The grid index, built once; every worker receives it once.
    out
        A ``.parquet`` file (one GeoParquet file), or a directory (a Parquet dataset of
        ``part.NNNNN.parquet`` files, each GeoParquet). Replaced when complete; nothing is
        left behind on failure. With a remote scheduler it must be on storage the workers
        and this process share.
    input_crs
        What the points' lon/lat are ("wgs84", "cgcs2000", "gcj02", "bd09"), as ``--input-crs``.
    partition_rows
        At most this many rows per partition (whole Parquet row groups; CSV blocks of about
        64 bytes a row): the unit of memory on a worker.
    spatial
        Shuffle the points into spatially compact partitions (Hilbert curve over the grids'
        extent) before assigning them; default: the file's row groups as they are.
    """
    import dask

    # Text columns keep the dtype the single-process reader gives them (Dask would make
    # them pyarrow strings, and the output's pandas metadata would say so).
    with dask.config.set({"dataframe.convert-string": False}):
        return _assign_on_cluster(
            Path(points), index, Path(out), client=client, input_crs=input_crs,
            lon_col=lon_col, lat_col=lat_col, partition_rows=partition_rows, spatial=spatial,
        )  # fmt: skip


def _assign_on_cluster(
    points: Path, index: GridIndex, out: Path, *, client, input_crs, lon_col, lat_col,
    partition_rows: int, spatial: bool,
) -> DaskAssignResult:  # fmt: skip
    source = parse_input_crs(input_crs) if input_crs is not None else None
    runs = _geoparquet_runs(points, partition_rows)
    if runs is not None and not (spatial and len(runs) > 1 and len(index)):
        spec = PointSpec(str(points), "geo", source)
        schema = assigned_schema(points, spec, index)

        def tasks(name: str, folder: str | None, write) -> list[tuple[int, int, int]]:
            task = (str(points), spec, schema, name, folder)
            return _run_in_order(client, runs, task, write)

        return _run_on_cluster(client, index, out, schema, tasks, join=False)
    ddf = _read_points(points, source, lon_col, lat_col, partition_rows)
    n_in = ddf.npartitions
    if spatial and n_in > 1 and len(index):
        bounds = _lonlat_bounds(index)
        distance = ddf.hilbert_distance(total_bounds=bounds, level=_HILBERT_LEVEL)
        ddf = ddf.set_index(distance, npartitions=n_in, shuffle_method="p2p")
    meta = assigned_meta(ddf._meta)
    schema = geoparquet_schema(
        output_schema(meta, {"grid_code": grid_code_type(index)}),
        geometry=meta.geometry.name, crs=meta.crs, geometry_types=["Point"],
    )  # fmt: skip

    def frames(name: str, folder: str, _write) -> list[tuple[int, int, int]]:
        assigned = ddf.map_partitions(_assign_part, name, meta=meta, enforce_metadata=False)
        counts = assigned.map_partitions(
            _write_part, folder, schema,
            meta=pd.DataFrame({"rows": pd.Series(dtype="int64"),
                               "outside": pd.Series(dtype="int64")}),
        ).compute()  # fmt: skip
        return [(rows, outside, 0) for rows, outside in zip(counts["rows"], counts["outside"],
                                                             strict=True)]  # fmt: skip

    return _run_on_cluster(client, index, out, schema, frames, join=True)


def _run_on_cluster(
    client, index: GridIndex, out: Path, schema, run, *, join: bool
) -> DaskAssignResult:
    """Ship ``index`` to the workers and let ``run(index_name, folder, write)`` assign the
    points, returning each task's rows, rows outside and rows assigned by the Arrow route.
    The workers write their parts in ``folder`` (then moved into place as the directory
    ``out``, or with ``join`` joined into the file ``out``); or, for a file ``out`` without
    ``join``, ``folder`` is None and the tasks' tables are given in order to ``write``."""
    name = f"wangge-grid-index-{uuid.uuid4().hex}"
    directory = out.suffix.lower() != ".parquet"
    client.register_plugin(_IndexPlugin(name, index), name=name)
    try:
        if not directory and not join:
            with GeoParquetWriter(out, schema) as writer:
                counts = run(name, None, writer.write)
            files = [out]
        else:
            counts, files = _staged(out, schema, lambda folder: run(name, folder, None))
    finally:
        with contextlib.suppress(Exception):
            client.unregister_worker_plugin(name)
    return DaskAssignResult(
        points=sum(int(c[0]) for c in counts), outside=sum(int(c[1]) for c in counts), out=out,
        partitions=len(counts), files=files, arrow_rows=sum(int(c[2]) for c in counts),
    )  # fmt: skip


def _staged(out: Path, schema, run) -> tuple[list, list[Path]]:
    """``run(folder)`` writes part files in a staging folder; they become the directory
    ``out``, or are joined into the file ``out``; nothing is left behind on failure."""
    staging = out.parent / f".{out.name}.parts-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        counts = run(str(staging))
        if out.suffix.lower() != ".parquet":
            _replace_dir(staging, out)
            return counts, sorted(out.glob("part.*.parquet"))
        _join_parts(sorted(staging.glob("part.*.parquet")), out, schema)
        shutil.rmtree(staging)
        return counts, [out]
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --- GeoParquet: row group runs read, assigned and written as Arrow --------------------------


def _geoparquet_runs(path: Path, partition_rows: int) -> list[tuple[list[int], int]] | None:
    """The file's runs of row groups (at most ``partition_rows`` rows each, one task each)
    with the row each starts at, when ``path`` is GeoParquet; None for any other input."""
    if path.suffix.lower() != ".parquet" or not path.is_file() or geo_metadata(path) is None:
        return None
    runs = row_group_batches(path, partition_rows)
    if not runs:
        raise UnreadableFileError(f"{path}: 空文件 / empty file")
    footer = _parquet_file(path).metadata
    offsets, start = [], 0
    for run in runs:
        offsets.append(start)
        start += sum(footer.row_group(g).num_rows for g in run)
    return list(zip(runs, offsets, strict=True))


def _run_in_order(client, runs, task: tuple, write) -> list[tuple[int, int, int]]:
    """One task per run of row groups (no Dask collection: nothing to plan, no metadata to
    carry), a few more in flight than the cluster has threads, taken in file order: each
    task's table goes to ``write`` (when the workers do not write their own parts) before
    the next task is submitted, so finished tables wait on the workers for two at most per
    thread. The first error met cancels the rest."""
    from collections import deque

    ahead = 2 * max(sum(client.nthreads().values()), 1)
    waiting = iter(enumerate(runs))
    pending: deque = deque()

    def submit() -> None:
        for number, (run, offset) in waiting:
            pending.append(client.submit(_assign_run, number, run, offset, *task, pure=False))
            return

    for _ in range(ahead):
        submit()
    counts = []
    try:
        while pending:
            future = pending.popleft()
            table, *count = future.result()
            future.release()
            submit()
            if write is not None:
                write(table)
            counts.append(tuple(count))
    except BaseException:
        client.cancel(list(pending))
        raise
    return counts


def _assign_run(number: int, row_groups: list[int], offset: int, path: str, spec: PointSpec,
                schema, index_name: str, folder: str | None):  # fmt: skip
    """On a worker: read the row groups a batch at a time and assign each batch (the Arrow
    route of :mod:`gis.assign_parquet` where it applies, else the general one); write them as
    ``folder/part.NNNNN.parquet``, or with no ``folder`` return them as one table. Returns
    that table (or None), the rows, rows outside and rows that took the Arrow route."""
    import pyarrow as pa

    index = _index_on_worker(index_name)
    source = Path(path)
    file = _parquet_file(source)
    geo = geo_metadata(source)
    direct = direct_route(file.schema_arrow, schema, geo, spec, index, "code")
    batch_rows = rows_within(file.metadata, DEFAULT_BATCH_ROWS, BATCH_BYTES)
    tables = []
    rows = outside = arrow_rows = 0
    part = Path(folder) / f"part.{number:05d}.parquet" if folder is not None else None
    writer = GeoParquetWriter(part, schema) if part is not None else None
    with writer if writer is not None else contextlib.nullcontext():
        batches = file.iter_batches(batch_size=batch_rows, row_groups=row_groups,
                                    use_threads=False)  # fmt: skip
        for batch in batches:
            table, arrow = assign_batch(batch, offset + rows, direct, source, geo, spec, index,
                                        schema)  # fmt: skip
            if writer is not None:
                writer.write(table)
            else:
                tables.append(table)
            arrow_rows += table.num_rows if arrow else 0
            rows += table.num_rows
            outside += int(np.count_nonzero(table.column("outside").to_numpy()))
    result = None if writer is not None else pa.concat_tables([schema.empty_table(), *tables])
    del tables
    # Arrow's allocator keeps freed memory for reuse; a worker's limit counts it as used.
    pa.default_memory_pool().release_unused()
    return result, rows, outside, arrow_rows


def _lonlat_bounds(index: GridIndex) -> tuple[float, float, float, float]:
    geoms = gpd.GeoSeries(index._grids.geoms, crs=index.crs)
    if not index.crs.is_geographic:
        geoms = geoms.to_crs(WGS84)
    return tuple(float(v) for v in geoms.total_bounds)


def _join_parts(parts: list[Path], out: Path, schema) -> None:
    """Stream the part files, row group by row group, into one GeoParquet file."""
    import pyarrow.parquet as pq

    with GeoParquetWriter(out, schema) as writer:
        for part in parts:
            file = pq.ParquetFile(part)
            for i in range(file.metadata.num_row_groups):
                writer.write(file.read_row_group(i))


def _replace_dir(staging: Path, out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: 已存在且不是目录 / exists and is not a directory")
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old)
