"""Parquet files: GeoParquet layers and plain Parquet tables, opened and bounded."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from gis.errors import UnreadableFileError
from gis.io.common import _join_lists
from gis.io.limits import ReadLimits, _over, _too_many_rows


def _unreadable_parquet(label: str, exc: Exception) -> UnreadableFileError:
    return UnreadableFileError(f"{label}: 无法读取 Parquet / cannot read Parquet: {exc}")


def _parquet_file(path: Path, label: str | None = None):
    """The file opened for reading, or :class:`UnreadableFileError` naming ``label`` (the path
    unless given)."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise _unreadable_parquet(label or str(path), exc) from exc


def _is_geoparquet(path: Path, label: str) -> bool:
    """True if the Parquet file carries GeoParquet ``geo`` metadata."""
    metadata = _parquet_file(path, label).schema_arrow.metadata or {}
    return b"geo" in metadata


def _check_parquet_rows(path: Path, label: str, limits: ReadLimits) -> None:
    n = _parquet_file(path, label).metadata.num_rows
    if _over(n, limits.max_rows):
        raise _too_many_rows(label, n, limits.max_rows)


def _read_geoparquet(path: Path, label: str, limits: ReadLimits) -> gpd.GeoDataFrame:
    _check_parquet_rows(path, label, limits)
    try:
        return gpd.read_parquet(path)
    except (OSError, ValueError, TypeError) as exc:
        raise _unreadable_parquet(label, exc) from exc


def _read_plain_parquet(path: Path, label: str, limits: ReadLimits) -> pd.DataFrame:
    """A Parquet table without GeoParquet metadata (points in lon/lat or WKT columns)."""
    _check_parquet_rows(path, label, limits)
    try:
        return _parquet_file(path, label).read().to_pandas()
    except (OSError, ValueError, TypeError) as exc:
        raise _unreadable_parquet(label, exc) from exc


def _write_geoparquet(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    """GeoParquet: geometry as WKB, the frame's CRS in the metadata, list cells as lists."""
    if path.exists():
        path.unlink()
    _join_lists(gdf, keep_lists=True).to_parquet(path, index=False)
    return path
