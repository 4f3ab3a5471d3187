"""Errors raised by the spatial core.

Every error says which file, row or feature is at fault and why, so that the CLI can
exit 2 and the API can answer 4xx with the message as ``detail``.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "CRSMismatchError",
    "GeometryTypeError",
    "InputError",
    "UnknownCRSError",
    "UnreadableFileError",
    "WanggeError",
]


class WanggeError(Exception):
    """Base of every wangge error."""


class InputError(WanggeError, ValueError):
    """Input that cannot be used (bad file, bad value, wrong type). CLI exit 2, HTTP 4xx."""


class UnreadableFileError(InputError):
    """A file that cannot be opened or parsed (missing, truncated, unknown format)."""


class CRSError(InputError):
    """A coordinate reference system problem."""


class UnknownCRSError(CRSError):
    """The CRS of the input cannot be known (e.g. a Shapefile without .prj)."""


class CRSMismatchError(CRSError):
    """Two inputs that must share a CRS do not."""


class GeometryTypeError(InputError):
    """A geometry of the wrong type (e.g. points where polygons were expected)."""
