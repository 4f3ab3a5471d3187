"""One time zone rule: times are stored in UTC and shown in Asia/Shanghai with the offset.

Every API field, export and printout goes through :func:`local_iso` (or the Pydantic type
:data:`LocalDateTime`, which serialises the same way), so a client never sees ``Z`` or
``+00:00`` from one endpoint and ``+08:00`` from another. A naive datetime is taken as UTC
(the database's convention); dates without a time are left as dates.

>>> import datetime as dt
>>> local_iso(dt.datetime(2026, 9, 30, 16, 0, tzinfo=dt.UTC))
'2026-10-01T00:00:00+08:00'
>>> local_iso(dt.datetime(2026, 9, 30, 16, 0))
'2026-10-01T00:00:00+08:00'
>>> local_text(dt.datetime(2026, 9, 30, 16, 0, 5, 120, tzinfo=dt.UTC))
'2026-10-01 00:00:05+08:00'
>>> local_iso(None) is None
True
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import PlainSerializer

__all__ = ["SHANGHAI", "LocalDateTime", "local_iso", "local_text", "localise"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _shanghai(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(SHANGHAI)


def local_iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in Asia/Shanghai with its offset (``…+08:00``); None stays None."""
    return None if value is None else _shanghai(value).isoformat()


def local_text(value: dt.datetime | None) -> str | None:
    """For spreadsheets and printouts: ``YYYY-MM-DD HH:MM:SS+08:00`` (whole seconds)."""
    return None if value is None else _shanghai(value).isoformat(sep=" ", timespec="seconds")


def localise(value: Any) -> Any:
    """``value`` with every datetime inside (dicts, lists, tuples) as :func:`local_iso`."""
    if isinstance(value, dt.datetime):
        return local_iso(value)
    if isinstance(value, dict):
        return {k: localise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [localise(v) for v in value]
    return value


LocalDateTime = Annotated[dt.datetime, PlainSerializer(local_iso, return_type=str)]
"""A datetime field of a response model, serialised by :func:`local_iso`."""
