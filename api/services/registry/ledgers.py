"""Ledgers (台账) a street office files: one table per kind, Chinese headers, local times.

Kinds (:data:`LEDGER_COLUMNS` is the one list of each kind's columns, field → Chinese
header, in order; README lists them):

- ``incidents``: 事件编号, 类别代码, 类别, 严重程度, 上报时间, 地点, 网格编码, 上报人, 承办人,
  状态, 处置时限, 办结时间, 结案时间, 是否按时, 满意度, 描述;
- ``residents``: the registry fields with code names (男, 汉族...), 房屋地址, 网格编码,
  特殊身份;
- ``special``: one row per special-status record (类别, 姓名, 身份证号码, 联系电话, 地址,
  网格编码, 开始日期, 结束日期, 项目, 备注);
- ``staff``: 姓名, 工号, 角色, 岗位, 联系电话, 负责网格, 职责, 在岗;
- ``worklog``: the signed work-log entries and the manual patrol hours of the community's
  workers (日期, 时间, 网格员, 签名, 类型, 来源, 记录, 说明, 签名时间).

Times are Asia/Shanghai text with the offset (:func:`api.core.timefmt.local_text`). ID numbers
and phones are masked unless ``unmasked`` (the caller checks the grant and audits:
:mod:`api.services.ledger_export`). ``month`` (``YYYY-MM``) limits incidents (by report
time) and the work log (by day); ``category`` limits incidents (a category code or the code
of a group: its prefix) and special-status rosters (a special-status category code).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.timefmt import local_text
from api.db.models import Grid, House, Incident, Resident, SpecialStatus, Staff, User, UserGrid
from api.db.models.assessment import WORK_LOG_KIND_ZH, ManualPatrol, WorkLog
from api.db.models.incidents import IncidentCategory
from api.services.incidents.deadlines import SHANGHAI
from api.services.incidents.workflow import STATES
from api.services.registry.codes import code_table
from api.services.registry.validators import mask_id_number, mask_phone
from gis.errors import InputError

__all__ = [
    "LEDGER_COLUMNS",
    "LEDGER_KINDS",
    "MASKED_KINDS",
    "community_workers",
    "incident_rows",
    "incident_satisfaction",
    "ledger_frame",
    "masked_scope",
    "month_bounds",
    "on_time",
]

LEDGER_COLUMNS: dict[str, dict[str, str]] = {
    "incidents": {
        "external_id": "事件编号",
        "category_code": "类别代码",
        "category_name": "类别",
        "severity": "严重程度",
        "reported_at": "上报时间",
        "place": "地点",
        "grid_code": "网格编码",
        "reporter": "上报人",
        "handler": "承办人",
        "state": "状态",
        "due_at": "处置时限",
        "resolved_at": "办结时间",
        "closed_at": "结案时间",
        "on_time": "是否按时",
        "satisfaction": "满意度",
        "description": "描述",
    },
    "residents": {
        "name": "姓名",
        "gender": "性别",
        "ethnicity": "民族",
        "id_number": "身份证号码",
        "birth_date": "出生日期",
        "education": "文化程度",
        "relation_to_householder": "与户主关系",
        "marital_status": "婚姻状况",
        "political_status": "政治面貌",
        "hukou_address": "户籍详细地址",
        "population_type": "人口类型",
        "inflow_date": "流入日期",
        "residence_permit_no": "暂住证号",
        "phone": "联系电话",
        "address": "房屋地址",
        "grid_code": "网格编码",
        "special": "特殊身份",
    },
    "special": {
        "category": "类别",
        "name": "姓名",
        "id_number": "身份证号码",
        "phone": "联系电话",
        "address": "房屋地址",
        "grid_code": "网格编码",
        "start_date": "开始日期",
        "end_date": "结束日期",
        "fields": "项目",
        "note": "备注",
    },
    "staff": {
        "name": "姓名",
        "staff_no": "工号",
        "role": "角色",
        "post": "岗位",
        "phone": "联系电话",
        "grid_codes": "负责网格",
        "duties": "职责",
        "active": "在岗",
    },
    "worklog": {
        "date": "日期",
        "at": "时间",
        "worker": "网格员",
        "signed_name": "签名",
        "kind": "类型",
        "source": "来源",
        "record": "记录",
        "note": "说明",
        "signed_at": "签名时间",
    },
}
"""Columns of each ledger (field → Chinese header), in order."""

LEDGER_KINDS = tuple(LEDGER_COLUMNS)
MASKED_KINDS = frozenset({"residents", "special"})
"""Ledgers holding ID numbers and phones (masked unless a grant covers the export)."""

_RESIDENT_CODES = ("gender", "ethnicity", "education", "relation_to_householder",
                   "marital_status", "political_status", "population_type")  # fmt: skip
_SOURCE_ZH = {"auto": "自动", "manual": "手填"}
_MANUAL_ZH = {"requested": "待审批", "approved": "已批准", "rejected": "已驳回"}


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of ``YYYY-MM`` (InputError naming the value otherwise)."""
    try:
        first = dt.datetime.strptime(month, "%Y-%m").date()
    except (TypeError, ValueError):
        raise InputError(f"月份应为 YYYY-MM / month must be YYYY-MM, not {month!r}") from None
    following = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def _month_range_utc(month: str) -> tuple[dt.datetime, dt.datetime]:
    first, last = month_bounds(month)
    start = dt.datetime.combine(first, dt.time(), SHANGHAI)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), SHANGHAI)


def on_time(incident: Incident, now: dt.datetime) -> str:
    """是 (handled by the deadline), 否 (handled late or overdue), 未到期 (open, not due),
    or blank without a deadline."""
    if incident.due_at is None:
        return ""
    done = incident.resolved_at or incident.closed_at
    if done is not None:
        return "是" if done <= incident.due_at else "否"
    if incident.state in ("closed", "rejected"):
        return ""
    return "否" if now > incident.due_at else "未到期"


def incident_satisfaction(session: Session, incident_ids: list[int]) -> dict[int, str]:
    """The satisfaction of each incident that has one (满意/基本满意/不满意): a staff
    call-back or the resident's own rating (:mod:`api.services.incidents.satisfaction`)."""
    from api.db.models.opinion import Satisfaction
    from api.services.appraisal.formula import satisfaction_levels

    if not incident_ids:
        return {}
    names = satisfaction_levels()
    rows = session.execute(
        sa.select(Satisfaction.incident_id, Satisfaction.level).where(
            Satisfaction.incident_id.in_(incident_ids)
        )
    )
    return {i: names.get(level, (level,))[0] for i, level in rows}


def _names(session: Session, model, ids: set[int], attr: str) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(sa.select(model.id, getattr(model, attr)).where(model.id.in_(ids)))
    return {i: n for i, n in rows}


def _handler(incident: Incident, staff: dict[int, str], users: dict[int, str]) -> str | None:
    """Who handles an incident: the staff member, else the user, else the post."""
    return (
        staff.get(incident.handler_staff_id)
        or users.get(incident.handler_user_id)
        or incident.handler_post
    )


def incident_rows(session: Session, community_id: int, *, month: str | None,
                  category: str | None, now: dt.datetime) -> list[dict]:  # fmt: skip
    """The incident ledger's rows (fields of :data:`LEDGER_COLUMNS` plus ``id`` and
    ``geom``), ordered by record id (the order reported)."""
    query = sa.select(Incident).where(Incident.community_id == community_id)
    if month is not None:
        start, end = _month_range_utc(month)
        query = query.where(Incident.reported_at >= start, Incident.reported_at < end)
    if category is not None:
        _check_category(session, "incidents", category)
        query = query.where(
            sa.or_(Incident.category_code == category, Incident.category_code.like(f"{category}%"))
        )
    incidents = session.scalars(query.order_by(Incident.id)).all()
    categories = dict(
        session.execute(sa.select(IncidentCategory.code, IncidentCategory.name_zh)).all()
    )
    staff = _names(session, Staff, {i.handler_staff_id for i in incidents} - {None}, "name")
    users = _names(session, User, {i.handler_user_id for i in incidents} - {None}, "username")
    rated = incident_satisfaction(session, [i.id for i in incidents])
    severity = {"major": "重大", "general": "一般"}
    return [
        {
            "id": i.id,
            "geom": i.geom,
            "external_id": i.external_id,
            "category_code": i.category_code,
            "category_name": categories.get(i.category_code),
            "severity": severity.get(i.severity, i.severity),
            "reported_at": local_text(i.reported_at),
            "place": i.address,
            "grid_code": i.grid_code,
            "reporter": i.reporter_name,
            "handler": _handler(i, staff, users),
            "state": STATES.get(i.state, (i.state,))[0],
            "due_at": local_text(i.due_at),
            "resolved_at": local_text(i.resolved_at),
            "closed_at": local_text(i.closed_at),
            "on_time": on_time(i, now),
            "satisfaction": rated.get(i.id),
            "description": i.description,
        }
        for i in incidents
    ]


def _code_name(table: str, code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return code_table(table).name_zh(code)
    except KeyError:
        return code


def _masker(unmasked: bool) -> Callable[[dict], dict]:
    def apply(row: dict) -> dict:
        if not unmasked:
            row["id_number"] = mask_id_number(row["id_number"])
            row["phone"] = mask_phone(row["phone"])
        return row

    return apply


def _residents(session: Session, community_id: int, *, unmasked: bool) -> list[dict]:
    residents = session.scalars(
        sa.select(Resident)
        .join(House, Resident.house_id == House.id)
        .where(House.community_id == community_id)
        .order_by(House.grid_code, Resident.id)
    ).all()
    special = code_table("special_status")
    mask = _masker(unmasked)
    rows = []
    for r in residents:
        row = {f: getattr(r, f) for f in LEDGER_COLUMNS["residents"] if hasattr(Resident, f)}
        for field in _RESIDENT_CODES:
            row[field] = _code_name(field, row[field])
        row["address"] = r.house.address
        row["grid_code"] = r.house.grid_code
        row["special"] = "、".join(
            _code_name("special_status", s.category) if s.category in special.codes
            else s.category
            for s in r.special_statuses
        ) or None  # fmt: skip
        rows.append(mask(row))
    return rows


def _special(session: Session, community_id: int, *, category: str | None,
             unmasked: bool) -> list[dict]:  # fmt: skip
    query = (
        sa.select(SpecialStatus)
        .join(Resident, SpecialStatus.resident_id == Resident.id)
        .join(House, Resident.house_id == House.id)
        .where(House.community_id == community_id)
    )
    if category is not None:
        _check_category(session, "special", category)
        query = query.where(SpecialStatus.category == category)
    records = session.scalars(query.order_by(SpecialStatus.category, SpecialStatus.id)).all()
    mask = _masker(unmasked)
    return [
        mask({
            "category": _code_name("special_status", s.category),
            "name": s.resident.name,
            "id_number": s.resident.id_number,
            "phone": s.resident.phone,
            "address": s.resident.house.address,
            "grid_code": s.resident.house.grid_code,
            "start_date": s.start_date,
            "end_date": s.end_date,
            "fields": json.dumps(s.fields, ensure_ascii=False) if s.fields else None,
            "note": s.note,
        })
        for s in records
    ]  # fmt: skip


def _staff(session: Session, community_id: int) -> list[dict]:
    staff = session.scalars(
        sa.select(Staff).where(Staff.community_id == community_id).order_by(Staff.id)
    ).all()
    return [
        {
            "name": s.name,
            "staff_no": s.staff_no,
            "role": _code_name("staff_role", s.role),
            "post": s.post,
            "phone": s.phone,
            "grid_codes": ",".join(sorted(s.grid_codes)),
            "duties": s.duties,
            "active": "是" if s.active else "否",
        }
        for s in staff
    ]


def community_workers(session: Session, community_id: int) -> tuple[set[int], set[int]]:
    """User ids and staff ids of the community's workers (staff of the community, users
    serving one of its grids or linked to its staff)."""
    staff_ids = set(session.scalars(sa.select(Staff.id).where(Staff.community_id == community_id)))
    codes = sa.select(Grid.code).where(Grid.community_id == community_id)
    user_ids = set(
        session.scalars(sa.select(UserGrid.user_id).where(UserGrid.grid_code.in_(codes)))
    )
    if staff_ids:
        user_ids |= set(session.scalars(sa.select(User.id).where(User.staff_id.in_(staff_ids))))
    return user_ids, staff_ids


def _worklog(session: Session, community_id: int, *, month: str | None) -> list[dict]:
    user_ids, staff_ids = community_workers(session, community_id)
    rows: list[dict] = []
    for model, day_col in ((WorkLog, WorkLog.date), (ManualPatrol, ManualPatrol.date)):
        query = sa.select(model).where(
            sa.or_(model.user_id.in_(user_ids or {-1}), model.staff_id.in_(staff_ids or {-1}))
        )
        if month is not None:
            query = query.where(day_col.between(*month_bounds(month)))
        for e in session.scalars(query):
            if isinstance(e, WorkLog):
                record = f"{e.record_table}#{e.record_id}" if e.record_table else None
                rows.append({
                    "date": e.date, "at": local_text(e.at), "worker": e.worker,
                    "signed_name": e.signed_name or e.worker,
                    "kind": WORK_LOG_KIND_ZH.get(e.kind, e.kind),
                    "source": _SOURCE_ZH.get(e.source, e.source), "record": record,
                    "note": e.note, "signed_at": local_text(e.signed_at),
                })  # fmt: skip
            else:
                rows.append({
                    "date": e.date, "at": local_text(e.start_at), "worker": e.worker,
                    "signed_name": e.entered_by or e.worker, "kind": "补录巡查",
                    "source": _SOURCE_ZH["manual"], "record": f"patrol_manual#{e.id}",
                    "note": f"{local_text(e.start_at)}–{local_text(e.end_at)[11:]} "
                            f"{e.grid_code} {e.seconds / 3600:.2f} 小时；"
                            f"{_MANUAL_ZH[e.status]}"
                            + (f"（{e.decided_by}）" if e.decided_by else "")
                            + (f"；{e.note}" if e.note else ""),
                    "signed_at": local_text(e.entered_at),
                })  # fmt: skip
    rows.sort(key=lambda r: (r["date"], r["at"] or "", r["worker"]))
    return rows


def _check_category(session: Session, kind: str, category: str) -> None:
    """InputError for a category the code tables do not know (listing some that they do)."""
    if kind == "incidents":
        known = set(session.scalars(sa.select(IncidentCategory.code)))
    else:
        known = set(code_table("special_status").codes)
    if category not in known:
        shown = ", ".join(sorted(known)[:12])
        raise InputError(f"未知类别 / unknown {kind} category {category!r}; e.g. {shown}")


def masked_scope(
    session: Session, kind: str, community_id: int, *, category: str | None = None
) -> list[tuple[int, int, str | None]]:
    """(resident id, house id, grid code) of every resident a masked ledger shows: what an
    access request must cover for the ledger to be exported unmasked."""
    query = (
        sa.select(Resident.id, House.id, House.grid_code)
        .join(House, Resident.house_id == House.id)
        .where(House.community_id == community_id)
    )
    if kind == "special":
        query = query.join(SpecialStatus, SpecialStatus.resident_id == Resident.id)
        if category is not None:
            query = query.where(SpecialStatus.category == category)
    return [tuple(r) for r in session.execute(query.distinct())]


def ledger_frame(
    session: Session,
    kind: str,
    community_id: int,
    *,
    month: str | None = None,
    category: str | None = None,
    unmasked: bool = False,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """The ledger ``kind`` of a community as a frame with the Chinese headers of
    :data:`LEDGER_COLUMNS` (in that order). Raises InputError for an unknown kind, a bad
    month, or an option the kind does not take."""
    if kind not in LEDGER_COLUMNS:
        raise InputError(
            f"未知台账 / unknown ledger {kind!r}; expected one of {', '.join(LEDGER_KINDS)}"
        )
    if month is not None:
        month_bounds(month)
        if kind not in ("incidents", "worklog"):
            raise InputError(f"--month 只用于事件和工作日志 / --month applies to incidents and "
                             f"worklog, not {kind}")  # fmt: skip
    if category is not None and kind not in ("incidents", "special"):
        raise InputError(f"--category 只用于事件和特殊人群 / --category applies to incidents "
                         f"and special, not {kind}")  # fmt: skip
    now = now or dt.datetime.now(dt.UTC)
    if kind == "incidents":
        rows = incident_rows(session, community_id, month=month, category=category, now=now)
    elif kind == "residents":
        rows = _residents(session, community_id, unmasked=unmasked)
    elif kind == "special":
        rows = _special(session, community_id, category=category, unmasked=unmasked)
    elif kind == "staff":
        rows = _staff(session, community_id)
    else:
        rows = _worklog(session, community_id, month=month)
    columns = LEDGER_COLUMNS[kind]
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    return frame.rename(columns=columns)
