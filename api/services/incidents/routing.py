"""Posts, street departments and routing rules as data; reassignment when a handler leaves.

- A **post** (岗位) is a name (城建管理岗...) staff hold (``staff.post``) and categories route
  to (``incident_categories.post``). The migration seeds the posts the category table names.
- A **department** of the street (一办四中心...) has a code, a name and members (staff whose
  ``department_id`` is its id). Escalations to the street target a department.
- **Routing rules**: category → post and whether it is public (columns of the category),
  and category (or its top-level group) → department for escalations
  (``escalation_rules``). :func:`routing_rows` lists them one row per category;
  :func:`apply_routing_rows` writes such rows (API, ``wangge routing import``) after checking
  every row (all or nothing, each error naming its row).
- When a handler leaves (staff deactivated), :func:`open_incidents_of` lists their open items
  and :func:`reassign` moves one to another active person of the post (history row
  ``reassign``, version + 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import Conflict, NotFound, Unprocessable
from api.db.lock_order import lock_change_counter
from api.db.models import Incident, Staff, Street, User
from api.db.models.incidents import (
    Department,
    EscalationRule,
    IncidentCategory,
    IncidentEvent,
    Post,
)
from api.services.incidents.timing import OPEN_STATES

__all__ = [
    "ROUTING_COLUMNS",
    "apply_routing_rows",
    "create_department",
    "create_post",
    "department_by_code",
    "department_dict",
    "department_for",
    "find_post",
    "list_departments",
    "list_posts",
    "open_incidents_of",
    "reassign",
    "routing_rows",
    "set_members",
]

ROUTING_COLUMNS = {
    "category_code": "类别编码",
    "category_name": "类别名称",
    "post": "承办岗位",
    "public": "是否公开",
    "department_code": "上报部门编码",
}
"""Columns of the routing table (API keys → Chinese headers of the template)."""


# --------------------------------------------------------------------------- posts


def list_posts(session: Session) -> list[Post]:
    """All posts by name."""
    return list(session.scalars(sa.select(Post).order_by(Post.name)))


def find_post(session: Session, name: str | None, *, field: str = "post") -> str | None:
    """``name`` if it is a known post (blank → None); 422 naming the known posts otherwise."""
    if name is None or not str(name).strip():
        return None
    name = str(name).strip()
    if session.scalar(sa.select(Post.id).where(Post.name == name)) is None:
        known = [p.name for p in list_posts(session)]
        raise Unprocessable(
            f"{field}: 未知岗位 {name!r}（已有：{'、'.join(known) or '无'}；先新增岗位）/ unknown "
            f"post {name!r} (known: {', '.join(known) or 'none'}; add it first: POST /posts)",
            errors=[{"field": field, "value": name, "known": known}],
        )
    return name


def create_post(
    session: Session, *, name: str, code: str | None = None, description: str | None = None
) -> Post:
    """Add a post (409 when the name or code is taken)."""
    name = (name or "").strip()
    if not name or len(name) > 32:
        raise Unprocessable("岗位名称须为 1–32 个字符 / a post name has 1-32 characters")
    taken = sa.or_(Post.name == name, Post.code == code) if code else Post.name == name
    if session.scalar(sa.select(Post.id).where(taken)) is not None:
        raise Conflict(f"岗位 {name!r} 已存在 / post {name!r} exists")
    post = Post(name=name, code=code, description=description)
    session.add(post)
    session.flush()
    return post


# --------------------------------------------------------------------------- departments


def list_departments(session: Session) -> list[Department]:
    """All departments by code."""
    return list(session.scalars(sa.select(Department).order_by(Department.code)))


def department_by_code(session: Session, code: str, *, field: str = "department") -> Department:
    """The department ``code``; 422 naming the known codes otherwise."""
    found = session.scalar(sa.select(Department).where(Department.code == str(code).strip()))
    if found is None:
        known = [d.code for d in list_departments(session)]
        raise Unprocessable(
            f"{field}: 未知部门 {code!r}（已有：{'、'.join(known) or '无'}）/ unknown department "
            f"{code!r} (known: {', '.join(known) or 'none'})",
            errors=[{"field": field, "value": code, "known": known}],
        )
    return found


def create_department(
    session: Session, *, code: str, name: str, street_code: str | None = None
) -> Department:
    """Add a department of the street ``street_code`` (409 when the code is taken)."""
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name:
        raise Unprocessable("部门编码与名称必填 / department code and name are required")
    if session.scalar(sa.select(Department.id).where(Department.code == code)) is not None:
        raise Conflict(f"部门编码 {code!r} 已存在 / department code {code!r} exists")
    street_id = None
    if street_code:
        street_id = session.scalar(sa.select(Street.id).where(Street.code == street_code))
        if street_id is None:
            raise Unprocessable(f"街道 {street_code!r} 不存在 / street {street_code!r} not found")
    department = Department(code=code, name=name, street_id=street_id, active=True)
    session.add(department)
    session.flush()
    return department


def set_members(session: Session, department: Department, staff_ids: Iterable[int]) -> None:
    """Make exactly ``staff_ids`` the members of ``department`` (404 for an unknown id)."""
    wanted = list(dict.fromkeys(int(i) for i in staff_ids))
    found = set(session.scalars(sa.select(Staff.id).where(Staff.id.in_(wanted))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"工作人员 {missing} 不存在 / staff {missing} not found")
    lock_change_counter(session)  # before the staff rows (api.db.lock_order)
    session.execute(
        sa.update(Staff)
        .where(Staff.department_id == department.id, Staff.id.not_in(wanted))
        .values(department_id=None)
    )
    if wanted:
        session.execute(
            sa.update(Staff).where(Staff.id.in_(wanted)).values(department_id=department.id)
        )
    session.flush()


def department_dict(session: Session, department: Department) -> dict[str, Any]:
    """A department with its members (id, name, staff number, post, active)."""
    members = session.scalars(
        sa.select(Staff).where(Staff.department_id == department.id).order_by(Staff.id)
    )
    return {
        "id": department.id,
        "code": department.code,
        "name": department.name,
        "street_id": department.street_id,
        "active": department.active,
        "members": [
            {"id": s.id, "name": s.name, "staff_no": s.staff_no, "post": s.post, "active": s.active}
            for s in members
        ],
    }


def department_for(session: Session, category_code: str) -> Department | None:
    """The department escalations of ``category_code`` go to: its own rule, else its
    top-level group's, else None."""
    category = session.get(IncidentCategory, category_code)
    codes = [category_code] + ([category.parent] if category and category.parent else [])
    for code in codes:
        rule = session.get(EscalationRule, code)
        if rule is not None:
            return session.get(Department, rule.department_id)
    return None


# --------------------------------------------------------------------------- routing rules


def routing_rows(session: Session) -> list[dict[str, Any]]:
    """One row per category: code, name, post, public, escalation department code."""
    departments = {d.id: d.code for d in list_departments(session)}
    rules = {r.category_code: departments.get(r.department_id) for r in
             session.scalars(sa.select(EscalationRule))}  # fmt: skip
    return [
        {
            "category_code": c.code,
            "category_name": c.name_zh,
            "post": c.post,
            "public": bool(c.public),
            "department_code": rules.get(c.code),
        }
        for c in session.scalars(sa.select(IncidentCategory).order_by(IncidentCategory.code))
    ]


_YES = {"1", "true", "yes", "y", "是", "公开"}
_NO = {"0", "false", "no", "n", "否", "不公开", ""}


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in _YES:
        return True
    if text in _NO:
        return False
    return None


def apply_routing_rows(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write routing rows (keys of :data:`ROUTING_COLUMNS`; a key left out keeps its value;
    an empty ``department_code`` removes the rule). Every row is checked first: one 422 naming
    each bad row (1-based) and why, nothing written. Returns the number of rows applied."""
    rows = [dict(r) for r in rows]
    posts = {p.name for p in list_posts(session)}
    departments = {d.code: d for d in list_departments(session)}
    errors: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=1):
        code = str(row.get("category_code") or "").strip()
        if session.get(IncidentCategory, code) is None:
            errors.append({"row": n, "field": "category_code", "value": code,
                           "reason": "未知类别 / unknown category"})  # fmt: skip
        post = row.get("post")
        if post not in (None, "") and str(post).strip() not in posts:
            errors.append({"row": n, "field": "post", "value": post,
                           "reason": "未知岗位 / unknown post"})  # fmt: skip
        if "public" in row and _flag(row["public"]) is None:
            errors.append({"row": n, "field": "public", "value": row["public"],
                           "reason": "应为 是/否 / must be yes or no"})  # fmt: skip
        dept = row.get("department_code")
        if dept not in (None, "") and str(dept).strip() not in departments:
            errors.append({"row": n, "field": "department_code", "value": dept,
                           "reason": "未知部门 / unknown department"})  # fmt: skip
    if errors:
        listed = "; ".join(f"第 {e['row']} 行 row {e['row']} {e['field']}={e['value']!r}: "
                           f"{e['reason']}" for e in errors)  # fmt: skip
        raise Unprocessable(f"路由规则有误，未写入 / routing rules refused, nothing written: "
                            f"{listed}", errors=errors)  # fmt: skip
    for row in rows:
        category = session.get(IncidentCategory, str(row["category_code"]).strip())
        if "post" in row:
            category.post = (str(row["post"]).strip() or None) if row["post"] else None
        if "public" in row:
            category.public = bool(_flag(row["public"]))
        if "department_code" in row:
            rule = session.get(EscalationRule, category.code)
            dept = str(row["department_code"] or "").strip()
            if not dept and rule is not None:
                session.delete(rule)
            elif dept and rule is None:
                session.add(EscalationRule(category_code=category.code,
                                           department_id=departments[dept].id))  # fmt: skip
            elif dept:
                rule.department_id = departments[dept].id
    session.flush()
    return len(rows)


# --------------------------------------------------------------------------- reassignment


def open_incidents_of(session: Session, staff_id: int) -> list[Incident]:
    """Open incidents handled by staff member ``staff_id`` (or their users), by id."""
    users = sa.select(User.id).where(User.staff_id == staff_id)
    return list(
        session.scalars(
            sa.select(Incident)
            .where(
                Incident.state.in_(OPEN_STATES),
                sa.or_(Incident.handler_staff_id == staff_id, Incident.handler_user_id.in_(users)),
            )
            .order_by(Incident.id)
        )
    )


def reassign(
    session: Session,
    incident: Incident,
    staff_id: int,
    *,
    actor_username: str | None,
    actor_role: str,
    actor_user_id: int | None,
    at: dt.datetime,
    note: str | None = None,
) -> Incident:
    """Hand ``incident`` to the active staff member ``staff_id`` (their post becomes the
    handling post); a history row ``reassign`` records who and when. 422 for an inactive
    person, 409 for a closed item."""
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"工作人员 {staff_id} 不存在 / staff member {staff_id} not found")
    if not staff.active:
        raise Unprocessable(
            f"{staff.name}（{staff_id}）已离岗，不能承办 / staff member {staff_id} is inactive"
        )
    if incident.state not in OPEN_STATES:
        raise Conflict(f"事件 {incident.id} 已结束 / incident {incident.id} is no longer open")
    user_id = session.scalar(
        sa.select(User.id).where(User.staff_id == staff_id, User.active.is_(True)).limit(1)
    )
    version = incident.version + 1
    session.execute(
        sa.update(Incident)
        .where(Incident.id == incident.id, Incident.version == incident.version)
        .values(
            handler_staff_id=staff_id,
            handler_user_id=user_id,
            handler_post=staff.post or incident.handler_post,
            version=version,
            updated_at=at,
        )
    )
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            seq=version,
            from_state=incident.state,
            to_state=incident.state,
            action="reassign",
            user_id=actor_user_id,
            username=actor_username,
            role=actor_role,
            at=at,
            note=note or f"改由 {staff.name} 承办 / reassigned to {staff.name}",
        )
    )
    session.flush()
    session.refresh(incident)
    return incident
