"""Staff photos (notice boards, the public page): where they live and which file is whose.

A staff member's ``photo_path`` is a path relative to the staff photo folder: the
``WANGGE_STAFF_PHOTO_DIR`` setting, else ``staff_photos/`` beside the SQLite database file
(``./staff_photos`` for PostGIS or an in-memory database). A path that leaves the folder
(``..``, an absolute path, a symbolic link pointing out), a missing file, or a file that is not
a JPEG, PNG or WebP image by its first bytes resolves to nothing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url

from api.core.config import Settings, get_settings
from api.services.images import IMAGE_HEAD_BYTES, image_type

__all__ = ["STAFF_PHOTO_FOLDER", "resolve_staff_photo", "staff_photo_dir"]

STAFF_PHOTO_FOLDER = "staff_photos"


def staff_photo_dir(db_url: str | URL | None = None, settings: Settings | None = None) -> Path:
    """The staff photo folder of the database at ``db_url`` (default: the configured one).

    >>> staff_photo_dir("sqlite:////srv/wangge/wangge.db", Settings(staff_photo_dir=None))
    PosixPath('/srv/wangge/staff_photos')
    >>> staff_photo_dir("sqlite:////srv/w.db", Settings(staff_photo_dir="/photos"))
    PosixPath('/photos')
    >>> staff_photo_dir("postgresql+psycopg://u@h/db", Settings(staff_photo_dir=None))
    PosixPath('staff_photos')
    """
    settings = settings or get_settings()
    if settings.staff_photo_dir is not None:
        return Path(settings.staff_photo_dir)
    url = make_url(db_url if db_url is not None else settings.database_url)
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        return Path(database).parent / STAFF_PHOTO_FOLDER
    return Path(STAFF_PHOTO_FOLDER)


def resolve_staff_photo(folder: Path, photo_path: str | None) -> tuple[Path, str] | None:
    """``(file, media type)`` of a staff photo inside ``folder``, or None.

    None when ``photo_path`` is empty, leaves ``folder`` once resolved (``..``, absolute,
    a link pointing out), is not a file, or is not a JPEG/PNG/WebP image.
    """
    if not photo_path or "\x00" in photo_path:
        return None
    root = Path(folder).resolve()
    try:
        path = (root / photo_path).resolve()
    except (OSError, RuntimeError):  # a link loop
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    try:
        with path.open("rb") as f:
            kind = image_type(f.read(IMAGE_HEAD_BYTES))
    except OSError:
        return None
    return None if kind is None else (path, kind)
