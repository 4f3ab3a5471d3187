"""Single-file tile archives: PMTiles v3 and MBTiles, written whole and read by ranges.

The ``--out``/``--basemap`` extension chooses the format (:data:`ARCHIVE_FORMATS`). Tiles are
stored gzip-compressed (the MBTiles convention for ``pbf``; PMTiles ``tile_compression`` 2).
:func:`write_archive` writes a temporary file beside the target and renames it, so a reader
never sees half an archive. :func:`open_archive` reads what a tile needs, no more: PMTiles by
positioned reads (``os.pread``) of the header, the directories (cached) and the tile's bytes;
MBTiles by one SQLite query per tile (SQLite reads the index and data pages it needs).
``bytes_read`` counts what a PMTiles reader took from the file.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from pmtiles.tile import (
    Compression,
    TileType,
    deserialize_directory,
    deserialize_header,
    find_tile,
    zxy_to_tileid,
)
from pmtiles.writer import Writer

from gis.errors import InputError, UnreadableFileError

__all__ = [
    "ARCHIVE_FORMATS",
    "GZIP_MAGIC",
    "MBTilesArchive",
    "PMTilesArchive",
    "TileArchive",
    "archive_format",
    "open_archive",
    "write_archive",
]

ARCHIVE_FORMATS = {".pmtiles": "pmtiles", ".mbtiles": "mbtiles"}

Tile = tuple[int, int, int, bytes]  # z, x, y, gzip-compressed MVT
GZIP_MAGIC = b"\x1f\x8b"  # the first bytes of a gzip stream


def archive_format(path: Path | str) -> str:
    """Return ``"pmtiles"`` or ``"mbtiles"`` for ``path``'s extension, else raise InputError.

    >>> archive_format("out/base.pmtiles")
    'pmtiles'
    >>> archive_format("base.zip")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gis.errors.InputError: base.zip: 不支持的瓦片包格式 .zip（应为 .pmtiles 或 .mbtiles）/ ...
    """
    suffix = Path(path).suffix.lower()
    if suffix not in ARCHIVE_FORMATS:
        raise InputError(
            f"{path}: 不支持的瓦片包格式 {suffix or '(无扩展名)'}（应为 .pmtiles 或 .mbtiles）/"
            f" unsupported tile archive {suffix or '(no extension)'}"
            " (expected .pmtiles or .mbtiles)"
        )
    return ARCHIVE_FORMATS[suffix]


def _e7(value: float) -> int:
    return round(value * 10_000_000)


def _write_pmtiles(f, tiles: Sequence[Tile], metadata: dict) -> None:
    writer = Writer(f)
    for z, x, y, data in sorted(tiles, key=lambda t: zxy_to_tileid(t[0], t[1], t[2])):
        writer.write_tile(zxy_to_tileid(z, x, y), data)
    west, south, east, north = metadata["bounds"]
    lon, lat, zoom = metadata["center"]
    header = {
        "tile_type": TileType.MVT,
        "tile_compression": Compression.GZIP,
        "min_lon_e7": _e7(west),
        "min_lat_e7": _e7(south),
        "max_lon_e7": _e7(east),
        "max_lat_e7": _e7(north),
        "center_zoom": int(zoom),
        "center_lon_e7": _e7(lon),
        "center_lat_e7": _e7(lat),
    }
    writer.finalize(header, metadata)


def _write_mbtiles(path: Path, tiles: Sequence[Tile], metadata: dict) -> None:
    con = sqlite3.connect(path)
    try:
        con.executescript(
            "CREATE TABLE metadata (name TEXT, value TEXT);"
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
            " tile_data BLOB);"
        )
        rows = {
            "name": metadata["name"],
            "format": "pbf",
            "minzoom": str(metadata["minzoom"]),
            "maxzoom": str(metadata["maxzoom"]),
            "bounds": ",".join(f"{v:.7f}" for v in metadata["bounds"]),
            "center": ",".join(str(v) for v in metadata["center"]),
            "attribution": metadata["attribution"],
            "type": "baselayer",
            "json": json.dumps({"vector_layers": metadata["vector_layers"]}, ensure_ascii=False),
            "generator": metadata.get("generator", ""),
        }
        con.executemany("INSERT INTO metadata VALUES (?, ?)", rows.items())
        con.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            ((z, x, (1 << z) - 1 - y, data) for z, x, y, data in tiles),  # TMS rows
        )
        con.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        con.commit()
    finally:
        con.close()


def write_archive(path: Path | str, tiles: Sequence[Tile], metadata: dict) -> int:
    """Write ``tiles`` (gzip-compressed MVT) and ``metadata`` to ``path``; return its size.

    ``metadata`` holds ``name``, ``minzoom``, ``maxzoom``, ``bounds`` (W, S, E, N),
    ``center`` (lon, lat, zoom), ``attribution`` and ``vector_layers`` (TileJSON).
    """
    path = Path(path)
    fmt = archive_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        if fmt == "pmtiles":
            with partial.open("wb") as f:
                _write_pmtiles(f, tiles, metadata)
        else:
            partial.unlink(missing_ok=True)
            _write_mbtiles(partial, tiles, metadata)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path.stat().st_size


class TileArchive:
    """A tile archive open for reading (see :func:`open_archive`)."""

    path: Path
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float]
    metadata: dict
    compression: str  # "gzip" or "none": how :meth:`get` returns the bytes

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of tile z/x/y, None when the archive has no such tile."""
        raise NotImplementedError

    def get_mvt(self, z: int, x: int, y: int) -> bytes | None:
        """Tile z/x/y as plain (uncompressed) MVT bytes, None when there is no such tile."""
        data = self.get(z, x, y)
        if data and data[:2] == GZIP_MAGIC:
            return gzip.decompress(data)
        return data

    def close(self) -> None:
        """Release the file."""

    @property
    def version(self) -> str:
        """Changes when the file does: size and modification time (for ETags)."""
        st = self.path.stat()
        return f"{st.st_size:x}-{st.st_mtime_ns:x}"


class PMTilesArchive(TileArchive):
    """PMTiles v3 read by positioned reads; header and directories parsed once each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        self.bytes_read = 0
        self.reads = 0
        try:
            self._header = deserialize_header(self._read(0, 127))
        except Exception as exc:
            os.close(self._fd)
            raise UnreadableFileError(
                f"{path}: 不是 PMTiles v3 文件 / not a PMTiles v3 file"
            ) from exc
        h = self._header
        meta = self._read(h["metadata_offset"], h["metadata_length"])
        if h["internal_compression"] == Compression.GZIP:
            meta = gzip.decompress(meta)
        self.metadata = json.loads(meta) if meta else {}
        self.minzoom, self.maxzoom = int(h["min_zoom"]), int(h["max_zoom"])
        self.bounds = tuple(
            h[k] / 1e7 for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7")
        )
        self.compression = {Compression.GZIP: "gzip", Compression.NONE: "none"}.get(
            h["tile_compression"], "unknown"
        )
        self._directory = lru_cache(maxsize=256)(self._read_directory)

    def _read(self, offset: int, length: int) -> bytes:
        data = os.pread(self._fd, length, offset)
        self.bytes_read += len(data)
        self.reads += 1
        return data

    def _read_directory(self, offset: int, length: int):
        return deserialize_directory(self._read(offset, length))

    def get(self, z: int, x: int, y: int) -> bytes | None:
        h = self._header
        tile_id = zxy_to_tileid(z, x, y)
        offset, length = h["root_offset"], h["root_length"]
        for _ in range(4):  # root, then up to three levels of leaves
            entry = find_tile(self._directory(offset, length), tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                return self._read(h["tile_data_offset"] + entry.offset, entry.length)
            offset, length = h["leaf_directory_offset"] + entry.offset, entry.length
        return None

    def close(self) -> None:
        os.close(self._fd)


class MBTilesArchive(TileArchive):
    """MBTiles read one tile per query; one read-only SQLite connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        try:
            meta = dict(self._con().execute("SELECT name, value FROM metadata").fetchall())
        except sqlite3.Error as exc:
            raise UnreadableFileError(f"{path}: 不是 MBTiles 文件 / not an MBTiles file") from exc
        extra = json.loads(meta.get("json") or "{}")
        self.metadata = {**meta, **extra}
        zooms = self._con().execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        self.minzoom = int(meta.get("minzoom", zooms[0] or 0))
        self.maxzoom = int(zooms[1] if zooms[1] is not None else meta.get("maxzoom", 0))
        bounds = meta.get("bounds", "-180,-85.0511,180,85.0511")
        self.bounds = tuple(float(v) for v in bounds.split(","))
        self.compression = "gzip" if meta.get("format", "pbf") == "pbf" else "none"

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.con = con
        return con

    def get(self, z: int, x: int, y: int) -> bytes | None:
        row = (
            self._con()
            .execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ?"
                " AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),
            )
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()


def open_archive(path: Path | str) -> TileArchive:
    """Open a ``.pmtiles`` or ``.mbtiles`` archive for reading tiles by z/x/y."""
    path = Path(path)
    fmt = archive_format(path)
    if not path.is_file():
        raise UnreadableFileError(f"{path}: 文件不存在 / no such file")
    return PMTilesArchive(path) if fmt == "pmtiles" else MBTilesArchive(path)
