"""Errors raised by the spatial core.

Every error says which file, row or feature is at fault and why, so that the CLI can
exit 2 and the API can answer 4xx with the message as ``detail``.

This is the root of the one error tree of wangge: ``maps`` and ``api`` errors subclass
:class:`WanggeError` too, and one table in ``api`` maps each class to its HTTP status and
CLI exit code. Classes that replace a built-in exception a caller may already catch also
subclass it (:class:`InputError` is a ``ValueError``, :class:`MissingFieldError` a
``KeyError``, :class:`InputTypeError` a ``TypeError``).
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "CRSMismatchError",
    "GeometryTypeError",
    "InputError",
    "InputTypeError",
    "MissingFieldError",
    "MissingFileError",
    "UnknownCRSError",
    "UnknownKeyError",
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


class InputTypeError(InputError, TypeError):
    """An argument of the wrong Python type (e.g. a DataFrame where a GeoDataFrame is needed)."""


class UnknownKeyError(InputError, KeyError):
    """A name or code that the table looked in does not hold.

    A ``KeyError`` too, for callers that catch one; its message reads like any other error
    (``KeyError`` would print it quoted).
    """

    def __str__(self) -> str:
        return Exception.__str__(self)


class MissingFieldError(UnknownKeyError):
    """A column the input must have is missing (e.g. the grid code field)."""


class MissingFileError(UnreadableFileError, FileNotFoundError):
    """A file that must exist does not (a ``FileNotFoundError`` too)."""
