"""The incident categories (table ``incident_categories``, loaded by the migrations)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.models.incidents import IncidentCategory
from gis.errors import InputError

__all__ = ["get_category", "list_categories"]


def list_categories(session: Session) -> list[IncidentCategory]:
    """All categories (top level first within each code range), ordered by code."""
    return list(session.scalars(sa.select(IncidentCategory).order_by(IncidentCategory.code)))


def get_category(session: Session, code: str) -> IncidentCategory:
    """The category ``code``; :class:`InputError` (422) naming a few known codes otherwise."""
    found = session.get(IncidentCategory, str(code).strip())
    if found is None:
        known = [c.code for c in list_categories(session) if c.parent][:8]
        raise InputError(
            f"未知事件类别 {code!r}（例如：{', '.join(known)}）/ unknown incident category "
            f"{code!r} (e.g. {', '.join(known)})"
        )
    return found
