"""Which states are open, the due-soon window, and the clock of the incident services."""

from __future__ import annotations

import datetime as dt

from api.services.incidents.deadlines import to_shanghai

__all__ = ["DUE_SOON_WITHIN", "OPEN_STATES", "aware_utc", "utc_now"]


DUE_SOON_WITHIN = dt.timedelta(hours=24)
OPEN_STATES = ("registered", "fed_back", "in_progress", "escalated", "received")


def utc_now() -> dt.datetime:
    """Now, in UTC."""
    return dt.datetime.now(dt.UTC)


def aware_utc(value: dt.datetime | str | None, default: dt.datetime | None = None) -> dt.datetime:
    """A timezone-aware time (naive or text read as Asia/Shanghai), in UTC."""
    if value is None:
        return default or utc_now()
    return to_shanghai(value).astimezone(dt.UTC)
