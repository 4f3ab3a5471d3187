"""The file-reading bounds of a command-line run, set at start-up without loading the web stack.

A user's own local files have no row bound unless one is asked for (``wangge --max-rows N``
or the setting ``max_local_rows``); the upload bound ``max_upload_rows`` is the server's. The
vertex and unzip bounds stay as configured (they guard against bombs, not big batches).
"""

from __future__ import annotations

from api.core.config import Settings, get_settings
from gis.io import ReadLimits, set_read_limits

__all__ = ["apply_cli_limits"]

_MIB = 1024 * 1024


def apply_cli_limits(settings: Settings | None = None, max_rows: int | None = None) -> ReadLimits:
    """Put the bounds for local files in force for this process's file readers.

    ``max_rows`` (``wangge --max-rows N``) wins over the setting ``max_local_rows`` (none by
    default: no row bound).
    """
    s = settings or get_settings()
    limits = ReadLimits(
        max_vertices=s.max_vertices,
        max_rows=max_rows or s.max_local_rows,
        max_unzipped_bytes=int(s.max_unzipped_mb * _MIB),
    )
    set_read_limits(limits)
    return limits
