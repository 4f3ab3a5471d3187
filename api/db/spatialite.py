"""Load SpatiaLite (``mod_spatialite``) into SQLite connections, and say clearly when we cannot.

Two things can be missing on a Debian machine (docs/design.md §3 "Storage"):

1. the Python build's ``sqlite3`` cannot load extensions (some pyenv builds have no
   ``Connection.enable_load_extension``): use Debian's ``/usr/bin/python3`` (install.sh does),
   or a bundled SQLite such as ``pysqlite3-binary`` / ``sqlean-py`` as the DB-API module;
2. ``mod_spatialite`` itself is not installed: ``apt-get install libsqlite3-mod-spatialite``.

Load order matters. SQLite opens extensions with ``RTLD_GLOBAL``, so loading mod_spatialite
puts the system's GEOS and PROJ in the process-wide symbol scope; a wheel that bundles its own
GEOS/PROJ (shapely, pyproj, pyogrio) imported *afterwards* binds to the system copies and
corrupts memory (seen: shapely 2.2/GEOS 3.14 after SpatiaLite 5.0/GEOS 3.11 fails in
``to_wkb`` and aborts with "double free"). :func:`load_spatialite` therefore imports those
wheels first: shapely and pyproj, and pyogrio's GDAL library, which is *loaded* (bound now,
privately, as importing pyogrio would) rather than pyogrio imported, since the pyogrio package
imports geopandas and pandas, a third of a second of CPU a command reading no GIS file would
pay for nothing.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import importlib.util
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from api.core.errors import ServiceUnavailable

__all__ = ["SpatiaLiteUnavailableError", "check_spatialite", "load_spatialite", "spatialite_module"]

_NO_EXTENSIONS = (
    "此 Python 的 sqlite3 不能加载扩展 / this Python's sqlite3 cannot load extensions "
    "(no enable_load_extension; e.g. a pyenv build): use Debian's /usr/bin/python3 "
    "(install.sh does) or install pysqlite3-binary/sqlean-py and use it as the DB-API module"
)
_NO_MODULE = (
    "找不到 SpatiaLite 扩展 mod_spatialite / mod_spatialite not found ({module}: {error}): "
    "apt-get install libsqlite3-mod-spatialite, or set WANGGE_SPATIALITE_PATH"
)


class SpatiaLiteUnavailableError(ServiceUnavailable, RuntimeError):
    """SQLite cannot load SpatiaLite; the message says what is missing and how to fix it."""


def spatialite_module(path: str | None = None) -> str:
    """Return the extension to load: ``path``, else settings.spatialite_path, else the default."""
    if path:
        return path
    from api.core.config import get_settings

    return get_settings().spatialite_path or "mod_spatialite"


def _import_bundled_geos_proj_first() -> None:
    """Bind the wheels' own GEOS/PROJ before mod_spatialite makes the system's global."""
    import pyproj  # noqa: F401
    import shapely  # noqa: F401

    _load_pyogrio_gdal()


def _load_pyogrio_gdal() -> None:
    """Load pyogrio's compiled core, and with it the GDAL (and the GEOS/PROJ inside) it links,
    the way importing pyogrio loads it: every symbol bound now (``RTLD_NOW``), to its own
    copies, kept private (``RTLD_LOCAL``). Importing pyogrio later reuses that library."""
    if "pyogrio" in sys.modules:
        return
    spec = importlib.util.find_spec("pyogrio")  # a top-level spec: pyogrio is not imported
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: nothing to protect
    folder = Path(next(iter(spec.submodule_search_locations)))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        core = folder / f"_ogr{suffix}"
        if core.is_file():
            ctypes.CDLL(str(core), mode=os.RTLD_NOW | os.RTLD_LOCAL)
            return
    import pyogrio  # noqa: F401  (a layout not seen before: import it after all)


def load_spatialite(dbapi_conn: Any, connection_record: Any = None, *, path: str | None = None):
    """Load mod_spatialite into a DB-API SQLite connection (usable as a SQLAlchemy connect event).

    Raises :class:`SpatiaLiteUnavailableError` explaining what is missing.
    """
    _import_bundled_geos_proj_first()
    if not hasattr(dbapi_conn, "enable_load_extension"):
        raise SpatiaLiteUnavailableError(_NO_EXTENSIONS)
    module = spatialite_module(path)
    dbapi_conn.enable_load_extension(True)
    try:
        dbapi_conn.load_extension(module)
    except Exception as exc:  # sqlite3.OperationalError, or the bundled module's own error
        raise SpatiaLiteUnavailableError(_NO_MODULE.format(module=module, error=exc)) from exc
    finally:
        dbapi_conn.enable_load_extension(False)


def check_spatialite(path: str | None = None) -> str:
    """Return the SpatiaLite version this Python can load, or raise explaining what is missing.

    >>> check_spatialite().count(".") >= 1
    True
    """
    conn = sqlite3.connect(":memory:")
    try:
        load_spatialite(conn, path=path)
        return str(conn.execute("SELECT spatialite_version()").fetchone()[0])
    finally:
        conn.close()
