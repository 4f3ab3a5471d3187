"""Who acts on incidents, and the communities a user belongs to.

A user belongs to the community of their staff record (``users.staff_id`` →
``staff.community_id``), else to the communities of the grids they serve (``user_grids``; a
grid code starts with its 12-digit community code). A street department user with a staff
record sees the escalations of their community's street; without one, all escalations to
street departments.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import NotFound
from api.db.models import Community, Staff, User, UserGrid

__all__ = ["Actor", "actor_of", "community_ids_of_user", "find_user", "user_communities"]


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (id, username, role, staff id) or a named system/channel actor."""

    role: str
    username: str | None = None
    user_id: int | None = None
    staff_id: int | None = None


def actor_of(user: User) -> Actor:
    """The :class:`Actor` of a signed-in user."""
    return Actor(role=user.role, username=user.username, user_id=user.id, staff_id=user.staff_id)


def community_ids_of_user(session: Session, user_id: int | None, staff_id: int | None) -> set:
    ids: set[int] = set()
    if staff_id is not None:
        cid = session.scalar(sa.select(Staff.community_id).where(Staff.id == staff_id))
        if cid is not None:
            ids.add(int(cid))
    if not ids and user_id is not None:
        codes = session.scalars(sa.select(UserGrid.grid_code).where(UserGrid.user_id == user_id))
        prefixes = {c[:12] for c in codes}
        if prefixes:
            ids |= set(session.scalars(sa.select(Community.id).where(Community.code.in_(prefixes))))
    return ids


def user_communities(session: Session, user: User) -> set[int]:
    """The communities a user belongs to (staff record, else grids served; see module doc)."""
    return community_ids_of_user(session, user.id, user.staff_id)


def find_user(session: Session, username: str) -> User:
    """The user called ``username``; :class:`NotFound` otherwise."""
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户 {username!r} 不存在 / user {username!r} not found")
    return user
