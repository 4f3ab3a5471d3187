"""Find a stored community by its 12-digit code or its name: one rule for every caller."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.models import Community
from gis.errors import InputError

__all__ = ["UnknownCommunityError", "find_community", "lookup_community"]

_KNOWN_SHOWN = 20


class UnknownCommunityError(InputError):
    """No stored community has the code or name given."""


def lookup_community(session: Session, community: str) -> Community | None:
    """Return the community whose code or name is ``community`` (trimmed), or None.

    A code wins over a name (a community could be named like another's code). A name shared
    by several communities is an :class:`~gis.errors.InputError` listing their codes.
    """
    key = str(community).strip()
    by_code = session.scalars(sa.select(Community).where(Community.code == key)).first()
    if by_code is not None:
        return by_code
    named = session.scalars(
        sa.select(Community).where(Community.name == key).order_by(Community.code)
    ).all()
    if len(named) > 1:
        raise InputError(
            f"有 {len(named)} 个名为 {key!r} 的社区，请用编码 / {len(named)} communities are "
            f"named {key!r}, give the code: {', '.join(c.code for c in named)}"
        )
    return named[0] if named else None


def find_community(session: Session, community: str | int) -> Community:
    """Return the community whose 12-digit code or name is ``community`` (or whose id, int).

    The one way every service, route and command finds a community.

    Raises
    ------
    UnknownCommunityError
        None has that code, name or id; the message lists the known communities (name, code).
    InputError
        The name is shared by several communities (give the code).
    """
    if isinstance(community, int):
        by_id = session.get(Community, community)
        if by_id is None:
            raise UnknownCommunityError(
                f"没有社区 id {community} / no community with id {community}"
            )
        return by_id
    found = lookup_community(session, community)
    if found is not None:
        return found
    known = session.execute(
        sa.select(Community.name, Community.code).order_by(Community.code).limit(_KNOWN_SHOWN + 1)
    ).all()
    listed = ", ".join(f"{name} ({code})" for name, code in known[:_KNOWN_SHOWN]) or "none / 无"
    more = " ..." if len(known) > _KNOWN_SHOWN else ""
    raise UnknownCommunityError(
        f"没有社区 {str(community).strip()!r}（编码或名称）/ no community with code or name "
        f"{str(community).strip()!r}; known: {listed}{more}"
    )
