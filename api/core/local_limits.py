"""The file-reading bounds of a command-line run, set at start-up without loading the web stack.

A user's own local files have no row bound unless one is asked for (``wangge --max-rows N``
or the setting ``max_local_rows``); the upload bound ``max_upload_rows`` is the server's. The
vertex and unzip bounds stay as configured (they guard against bombs, not big batches).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from gis.io.limits import ReadLimits, defer_read_limits, set_read_limits

if TYPE_CHECKING:
    from api.core.config import Settings

__all__ = ["apply_cli_limits", "defer_cli_limits"]

_MIB = 1024 * 1024


def cli_limits(settings: Settings | None = None, max_rows: int | None = None) -> ReadLimits:
    """The bounds for local files: ``max_rows`` (``wangge --max-rows N``) wins over the
    setting ``max_local_rows`` (none by default: no row bound)."""
    from api.core.config import get_settings

    s = settings or get_settings()
    return ReadLimits(
        max_vertices=s.max_vertices,
        max_rows=max_rows or s.max_local_rows,
        max_unzipped_bytes=int(s.max_unzipped_mb * _MIB),
    )


def apply_cli_limits(settings: Settings | None = None, max_rows: int | None = None) -> ReadLimits:
    """Put the bounds for local files in force for this process's file readers."""
    limits = cli_limits(settings, max_rows)
    set_read_limits(limits)
    return limits


def defer_cli_limits(max_rows: int | None = None) -> AbstractContextManager[None]:
    """:func:`apply_cli_limits` inside the ``with`` block (a command's run), made when a reader
    first asks for the bounds: the settings load only for a command that reads a file, not
    for ``--help`` or a database command."""
    return defer_read_limits(lambda: cli_limits(max_rows=max_rows))
