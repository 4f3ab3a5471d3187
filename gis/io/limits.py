"""Bounds on what the readers of :mod:`gis.io` accept: rows, vertices, zip expansion."""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from gis.errors import (
    InputError,
    UnreadableFileError,
)

__all__ = [
    "ReadLimits",
    "check_zip_expansion",
    "defer_read_limits",
    "get_read_limits",
    "set_read_limits",
    "use_read_limits",
]


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what a reader accepts (hostile or accidental bombs are refused early)."""

    max_vertices: int = 100_000
    """Most coordinates in one geometry (all rings and parts together)."""
    max_rows: int | None = 100_000
    """Most features (vector files) or data rows (CSV/XLSX/Parquet) in one file; None: no
    bound (a user's own files on the command line, unless bounded there)."""
    max_unzipped_bytes: int = 200 * 1024 * 1024
    """Most bytes the members read from one zip (zipped SHP, XLSX) may expand to."""


class _Deferred:
    """Bounds made when a reader first asks for them (then kept)."""

    def __init__(self, make: Callable[[], ReadLimits]) -> None:
        self._make = make
        self._limits: ReadLimits | None = None

    def resolve(self) -> ReadLimits:
        if self._limits is None:
            self._limits = self._make()
        return self._limits


_READ_LIMITS: ContextVar[ReadLimits | _Deferred | None] = ContextVar(
    "wangge_read_limits", default=None
)


def get_read_limits() -> ReadLimits:
    """Return the bounds in force in this context (the defaults unless set)."""
    limits = _READ_LIMITS.get()
    if isinstance(limits, _Deferred):
        return limits.resolve()
    return limits or ReadLimits()


def set_read_limits(limits: ReadLimits) -> None:
    """Put ``limits`` in force for the rest of this context (e.g. a CLI process)."""
    _READ_LIMITS.set(limits)


@contextlib.contextmanager
def defer_read_limits(make: Callable[[], ReadLimits]) -> Iterator[None]:
    """Put in force inside the ``with`` block the bounds ``make()`` returns, made when a reader
    first asks for them: a CLI command's bounds come from its settings, which a command that
    reads no file (``--help`` among them) then never loads."""
    token = _READ_LIMITS.set(_Deferred(make))
    try:
        yield
    finally:
        _READ_LIMITS.reset(token)


@contextlib.contextmanager
def use_read_limits(limits: ReadLimits) -> Iterator[ReadLimits]:
    """Put ``limits`` in force inside the ``with`` block (one request, one test)."""
    token = _READ_LIMITS.set(limits)
    try:
        yield limits
    finally:
        _READ_LIMITS.reset(token)


def _over(n: int, max_rows: int | None) -> bool:
    """True if ``n`` rows break the bound ``max_rows`` (None: no bound)."""
    return max_rows is not None and n > max_rows


def _too_many_rows(label: str, n: int | str, max_rows: int) -> InputError:
    return InputError(
        f"{label}: 行数/要素数 {n} 超过上限 {max_rows:,} / more than {max_rows:,} rows or "
        f"features ({n}); split the file (bound: max_rows: WANGGE_MAX_UPLOAD_ROWS for uploads, "
        "--max-rows or WANGGE_MAX_LOCAL_ROWS for local files)"
    )


def check_zip_expansion(
    archive: zipfile.ZipFile, label: str, *, max_bytes: int, members: list[str] | None = None
) -> int:
    """Return the declared expanded size of ``members`` (default all); refuse over ``max_bytes``.

    Nothing is expanded: the sizes come from the zip's directory. Python's zip reader never
    yields more than a member's declared size, so a lying header cannot get past it either.

    Raises
    ------
    InputError
        The members would expand to more than ``max_bytes`` (a zip bomb, or just too big).
    """
    infos = archive.infolist() if members is None else [archive.getinfo(m) for m in members]
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        mib = max_bytes / 1024 / 1024
        raise InputError(
            f"{label}: 解压后 {total:,} 字节，超过上限 {mib:g} MiB / the zip expands to {total:,} "
            f"bytes, more than the bound of {mib:g} MiB (bound: max_unzipped_bytes, "
            "WANGGE_MAX_UNZIPPED_MB); refused without expanding it"
        )
    return total


def _extract_bounded(
    archive: zipfile.ZipFile, members: list[str], folder: Path, label: str, max_bytes: int
) -> None:
    """Extract ``members`` into ``folder``, stopping at ``max_bytes`` written in all."""
    budget = max_bytes
    root = folder.resolve()
    for name in members:
        target = (folder / name).resolve()
        if root not in target.parents:  # "../x" or an absolute name: never outside the folder
            raise UnreadableFileError(f"{label}: zip 内路径非法 / unsafe path in zip: {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(name) as src, target.open("wb") as dst:
            while chunk := src.read(1024 * 1024):
                budget -= len(chunk)
                if budget < 0:
                    raise InputError(
                        f"{label}: 解压超过上限 / the zip expands past the bound of "
                        f"{max_bytes / 1024 / 1024:g} MiB; refused"
                    )
                dst.write(chunk)
