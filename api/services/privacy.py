"""Who may read what about residents: roles, grid scope, masking, access requests, audit.

Rules (docs/design.md "Confidentiality"):

- residents are read by :data:`RESIDENT_READERS`; a grid worker only those living in a house
  of their own grids (``User.grid_codes``), other roles every resident;
- ID numbers and phones are masked (``1101**********1234``, ``138****5678``) unless the reader
  holds an access request that covers the resident (the resident, their house or their grid),
  approved by one of :data:`APPROVERS` (never the requester), and not expired; admins too;
- separation of duties (MLPS 2.0: 系统管理员, 安全管理员, 审计员): the administrator, who
  manages accounts, neither decides access requests (:data:`APPROVERS`: community head, street
  department) nor reads the audit log (:data:`AUDIT_READERS`: the auditor);
- every unmasked read writes one append-only :class:`~api.db.models.AuditLog` row per
  resident (action ``unmask_read``), in the same transaction as the read;
- a ledger of residents or special-status rosters is exported unmasked only when the
  exporter's approved, unexpired requests cover every resident in it (a community-roster
  request for that community covers all of them; else each resident needs a request naming
  them, their house or their grid): :func:`export_grants`. Each unmasked export writes one
  audit row (action ``unmask_export``) naming the ledger, the scope, the requests and the
  row count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from api.db.communities import find_community
from api.db.models import (
    AccessRequest,
    AccessStatus,
    AuditLog,
    House,
    Resident,
    Role,
    SpecialStatus,
    User,
)
from api.services.registry.codes import code_table
from api.services.registry.validators import mask_id_number, mask_phone
from gis.errors import InputError

__all__ = [
    "APPROVERS",
    "AUDIT_READERS",
    "RESIDENT_READERS",
    "RESIDENT_WRITERS",
    "active_grant",
    "audit",
    "check_house_scope",
    "decide_access",
    "export_grants",
    "grid_scope",
    "list_access_requests",
    "list_residents",
    "read_resident",
    "request_access",
    "resident_public",
]

RESIDENT_READERS = frozenset(
    {Role.GRID_WORKER, Role.POST_STAFF, Role.COMMUNITY_HEAD, Role.STREET_DEPT, Role.ADMIN}
)
RESIDENT_WRITERS = frozenset({Role.GRID_WORKER, Role.COMMUNITY_HEAD, Role.ADMIN})
APPROVERS = frozenset({Role.COMMUNITY_HEAD, Role.STREET_DEPT})  # not admin: duties separated
AUDIT_READERS = frozenset({Role.AUDITOR})  # not admin: duties separated
_MASKED_FIELDS = ("id_number", "phone")


def audit(
    session: Session,
    *,
    user: User | None,
    action: str,
    table_name: str | None = None,
    record_id: int | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditLog:
    """Add one audit row (flushed with the session's transaction)."""
    row = AuditLog(
        user_id=None if user is None else user.id,
        username=None if user is None else user.username,
        action=action,
        table_name=table_name,
        record_id=record_id,
        detail=detail,
    )
    if at is not None:
        row.at = at
    session.add(row)
    return row


def grid_scope(user: User) -> frozenset[str] | None:
    """The grid codes ``user`` is limited to, or None (no grid limit)."""
    if user.role == Role.GRID_WORKER:
        return frozenset(user.grid_codes)
    return None


def _require(user: User, roles: frozenset[Role], what: str) -> None:
    if user.role not in roles:
        raise Forbidden(
            f"角色 {user.role} 无权{what[0]} / role {user.role} may not {what[1]}; "
            f"allowed: {', '.join(sorted(roles))}"
        )


def check_house_scope(user: User, house: House) -> None:
    """403 when a grid worker touches a house outside their grids."""
    scope = grid_scope(user)
    if scope is not None and house.grid_code not in scope:
        raise Forbidden(
            f"房屋 {house.id} 不在您负责的网格内 / house {house.id} is not in your grids "
            f"({', '.join(sorted(scope)) or 'none'})"
        )


def active_grant(
    session: Session, *, user: User, resident: Resident, now: dt.datetime
) -> AccessRequest | None:
    """The approved, unexpired access request of ``user`` covering ``resident``, or None."""
    cover = [AccessRequest.resident_id == resident.id, AccessRequest.house_id == resident.house_id]
    if resident.house.grid_code is not None:
        cover.append(AccessRequest.grid_code == resident.house.grid_code)
    return session.scalars(
        sa.select(AccessRequest)
        .where(
            AccessRequest.requester_id == user.id,
            AccessRequest.status == AccessStatus.APPROVED.value,
            AccessRequest.expires_at > now,
            sa.or_(*cover),
        )
        .order_by(AccessRequest.expires_at.desc())
        .limit(1)
    ).first()


def export_grants(
    session: Session,
    *,
    user: User,
    community_id: int,
    scope: list[tuple[int, int, str | None]],
    now: dt.datetime,
) -> list[AccessRequest]:
    """The approved, unexpired requests of ``user`` that together cover every
    ``(resident_id, house_id, grid_code)`` of ``scope``; 403 naming how many residents are
    not covered otherwise."""
    grants = session.scalars(
        sa.select(AccessRequest)
        .where(
            AccessRequest.requester_id == user.id,
            AccessRequest.status == AccessStatus.APPROVED.value,
            AccessRequest.expires_at > now,
        )
        .order_by(AccessRequest.id)
    ).all()
    roster = [g for g in grants if g.community_id == community_id]
    if roster:
        return roster[:1]
    used: dict[int, AccessRequest] = {}
    missing = 0
    for resident_id, house_id, grid_code in scope:
        grant = next(
            (
                g for g in grants
                if g.resident_id == resident_id or g.house_id == house_id
                or (grid_code is not None and g.grid_code == grid_code)
            ),
            None,
        )  # fmt: skip
        if grant is None:
            missing += 1
        else:
            used[grant.id] = grant
    if missing or not grants:
        raise Forbidden(
            f"不脱敏导出需要已批准且覆盖全部 {len(scope)} 名居民的查阅申请，尚有 {missing} 名"
            f"未覆盖 / an unmasked export needs approved, unexpired access requests covering "
            f"all {len(scope)} residents in it ({missing} not covered); request the "
            "community roster (POST /access-requests with community)"
        )
    return list(used.values())


def resident_public(resident: Resident, *, unmasked: bool) -> dict[str, Any]:
    """The resident as the API shows it; ID number and phone masked unless ``unmasked``."""
    out = {c.key: getattr(resident, c.key) for c in sa.inspect(Resident).column_attrs}
    for internal in ("created_at", "id_number_hash", "phone_hash"):
        out.pop(internal, None)
    out["grid_code"] = resident.house.grid_code
    if not unmasked:
        out["id_number"] = mask_id_number(resident.id_number)
        out["phone"] = mask_phone(resident.phone)
    out["masked"] = not unmasked
    return out


def _unmasked_view(
    session: Session, *, user: User, resident: Resident, grant: AccessRequest, now: dt.datetime
) -> dict[str, Any]:
    audit(
        session,
        user=user,
        action="unmask_read",
        table_name="residents",
        record_id=resident.id,
        detail={"access_request_id": grant.id, "fields": list(_MASKED_FIELDS)},
        at=now,
    )
    return resident_public(resident, unmasked=True)


def read_resident(
    session: Session, *, user: User, resident_id: int, unmask: bool, now: dt.datetime
) -> dict[str, Any]:
    """One resident as ``user`` may see it; ``unmask=True`` needs an active grant (else 403)
    and writes an audit row. The caller commits."""
    _require(user, RESIDENT_READERS, ("查看居民", "read residents"))
    resident = session.get(Resident, resident_id)
    if resident is None:
        raise NotFound(f"居民 {resident_id} 不存在 / resident {resident_id} not found")
    check_house_scope(user, resident.house)
    if not unmask:
        return resident_public(resident, unmasked=False)
    grant = active_grant(session, user=user, resident=resident, now=now)
    if grant is None:
        raise Forbidden(
            f"查看居民 {resident_id} 的完整信息需要已批准且未过期的查阅申请 / reading resident "
            f"{resident_id} unmasked needs an approved, unexpired access request "
            "(POST /access-requests)"
        )
    return _unmasked_view(session, user=user, resident=resident, grant=grant, now=now)


def list_residents(
    session: Session,
    *,
    user: User,
    house_id: int | None = None,
    grid_code: str | None = None,
    special: str | None = None,
    unmask: bool = False,
    limit: int = 100,
    offset: int = 0,
    now: dt.datetime,
) -> tuple[list[dict[str, Any]], int]:
    """Residents ``user`` may see (ordered by id), masked unless ``unmask`` and a grant covers
    each one (those get an audit row each; the others stay masked); ``special`` (a category
    code of the special-status table, 422 otherwise) keeps those with a record of that
    category. Returns (page, count)."""
    _require(user, RESIDENT_READERS, ("查看居民", "read residents"))
    query = sa.select(Resident).join(House, Resident.house_id == House.id)
    scope = grid_scope(user)
    if scope is not None:
        query = query.where(House.grid_code.in_(sorted(scope)))
    if house_id is not None:
        query = query.where(Resident.house_id == house_id)
    if grid_code is not None:
        query = query.where(House.grid_code == grid_code)
    if special is not None:
        table = code_table("special_status")
        if special not in table.codes:
            raise Unprocessable(
                f"未知特殊身份类别 / unknown special-status category {special!r}; known: "
                + ", ".join(table.codes)
            )
        query = query.where(
            sa.exists().where(
                SpecialStatus.resident_id == Resident.id, SpecialStatus.category == special
            )
        )
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    page = session.scalars(query.order_by(Resident.id).limit(limit).offset(offset)).all()
    out = []
    for resident in page:
        grant = active_grant(session, user=user, resident=resident, now=now) if unmask else None
        if grant is None:
            out.append(resident_public(resident, unmasked=False))
        else:
            out.append(_unmasked_view(session, user=user, resident=resident, grant=grant, now=now))
    return out, int(count or 0)


def request_access(
    session: Session,
    *,
    user: User,
    reason: str,
    resident_id: int | None = None,
    house_id: int | None = None,
    grid_code: str | None = None,
    community: str | None = None,
    now: dt.datetime,
) -> AccessRequest:
    """File a request to read unmasked data of one resident, house, grid or community roster
    (``community``: code or name); ``reason`` is the purpose."""
    _require(user, RESIDENT_READERS, ("申请查阅居民信息", "request access to residents"))
    if (resident_id, house_id, grid_code, community) == (None, None, None, None):
        raise Unprocessable(
            "请给出 resident_id、house_id、grid_code 或 community 之一 / give resident_id, "
            "house_id, grid_code or community: the scope of the request"
        )
    community_id = None
    if community is not None:
        try:
            community_id = find_community(session, community).id
        except InputError as exc:
            raise Unprocessable(str(exc)) from exc
    if resident_id is not None and session.get(Resident, resident_id) is None:
        raise Unprocessable(f"居民 {resident_id} 不存在 / resident {resident_id} not found")
    if house_id is not None and session.get(House, house_id) is None:
        raise Unprocessable(f"房屋 {house_id} 不存在 / house {house_id} not found")
    request = AccessRequest(
        requester_id=user.id,
        resident_id=resident_id,
        house_id=house_id,
        grid_code=grid_code,
        community_id=community_id,
        reason=reason,
        status=AccessStatus.REQUESTED.value,
        requested_at=now,
    )
    session.add(request)
    session.flush()
    audit(
        session,
        user=user,
        action="access_request",
        table_name="access_requests",
        record_id=request.id,
        detail={"reason": reason, "community_id": community_id},
        at=now,
    )
    return request


def decide_access(
    session: Session,
    *,
    approver: User,
    request_id: int,
    approve: bool,
    valid_hours: float = 24.0,
    note: str | None = None,
    now: dt.datetime,
) -> AccessRequest:
    """Approve (valid ``valid_hours`` from ``now``) or reject a pending request."""
    _require(approver, APPROVERS, ("审批查阅申请", "decide access requests"))
    request = session.get(AccessRequest, request_id)
    if request is None:
        raise NotFound(f"查阅申请 {request_id} 不存在 / access request {request_id} not found")
    if request.requester_id == approver.id:
        raise Forbidden("不能审批自己的申请 / you cannot decide your own request")
    if request.status != AccessStatus.REQUESTED.value:
        raise Conflict(
            f"申请 {request_id} 已处理（{request.status}）/ request {request_id} is already "
            f"{request.status}"
        )
    request.status = (AccessStatus.APPROVED if approve else AccessStatus.REJECTED).value
    request.approved_by = approver.id
    request.approved_at = now
    request.decision_note = note
    if approve:
        request.expires_at = now + dt.timedelta(hours=valid_hours)
    session.flush()
    audit(
        session,
        user=approver,
        action="access_" + request.status,
        table_name="access_requests",
        record_id=request.id,
        detail={"valid_hours": valid_hours if approve else None},
        at=now,
    )
    return request


def list_access_requests(
    session: Session, *, user: User, status: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[AccessRequest], int]:
    """Requests ``user`` may see: approvers and auditors all, others their own."""
    query = sa.select(AccessRequest)
    if user.role not in APPROVERS | AUDIT_READERS:
        query = query.where(AccessRequest.requester_id == user.id)
    if status is not None:
        query = query.where(AccessRequest.status == status)
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(AccessRequest.id).limit(limit).offset(offset)).all()
    return list(rows), int(count or 0)
