"""The monthly assessment in the database: draw, department scores, field data, scores, report.

The pure rules live in :mod:`api.services.assessment` (draw, comparison, deductions, ranking,
report);
this module reads the registry, records each step and answers the dashboard.

* :func:`draw` — the community's 10 sample points for a month, drawn once from its houses
  (seed derived from the community code and month, :func:`api.services.assessment.derive_seed`) and
  recorded with the seed, who drew and when; drawing again returns the recorded draw.
* :func:`set_department_score` — one of the five departments' 0–8 points with its reason
  (entered again: replaced, with the new author and time).
* :func:`read_field_data` / :func:`score_field_data` / :func:`score_household` — the field
  data (the ``wangge template field-check`` workbook, or one household from a form) compared
  with the registry *as it is when scored*; each sample point's field data, score and every
  deduction are stored (scoring a point again replaces it).
* :func:`community_result`, :func:`month_scores`, :func:`write_month_report`,
  :func:`dashboard` — totals, ranking, XLSX/PDF, and the dashboard's measures.

Field-check workbook (sheets 房屋, 人口, 特殊人群; headers as in the registry):

* a household is a row of 房屋 keyed by 房屋编号 (a sample point of the draw); blank cells were
  not checked and cost nothing;
* its people are the rows of 人口 with the same 房屋编号. 人口已核查: 是 = the people were
  checked (no rows: nobody lives there, so registered persons are stale), 否 = not
  checked (registered persons are not compared), blank = checked when it has rows;
* 特殊人群: one row per item field (房屋编号, 姓名, 类别, 项目, 值) or per category (项目
  blank: the item exists); a person with rows here had their special statuses checked (类别
  ``无``: checked, none); a person without rows was not checked for them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from api.core.timefmt import local_iso
from api.db.models import Community, House, Resident, SpecialStatus, utc_now
from api.db.models.assessment import AssessmentDeptScore, AssessmentPoint, AssessmentSample
from api.services.assessment import (
    DEPARTMENTS,
    SAMPLE_SIZE,
    CommunityScore,
    Deduction,
    DeptScore,
    HouseholdRecord,
    PointScore,
    ResidentRecord,
    draw_sample,
    rank_communities,
    score_community,
    score_sample_point,
)
from api.services.assessment.report import write_report
from api.services.assessment.sample import check_month
from api.services.community_data import find_community
from api.services.registry.codes import code_table, special_status_fields
from api.services.registry.importer import read_table
from api.services.registry.templates import FIELD_CHECK_SHEETS, normalise_header
from gis.errors import InputError, UnreadableFileError

__all__ = [
    "community_result",
    "community_score",
    "draw",
    "month_scores",
    "read_field_data",
    "registry_record",
    "score_field_data",
    "score_household",
    "set_department_score",
    "write_month_report",
]

_HOUSE_KEYS = ("house_key", "address", "owner", "floor_area_m2", "house_type", "use")
_PERSON_KEYS = tuple(f for f in ResidentRecord.__dataclass_fields__ if f != "special_statuses")
_NO = {"否", "no", "n", "false", "0", "未核查"}
_YES = {"是", "yes", "y", "true", "1", "已核查"}
_NONE_CATEGORY = {"无", "没有", "none", "-", "/"}


def _month(month: str) -> str:
    return check_month(month)


# --------------------------------------------------------------------------- draw


def _sample_dict(c: Community, s: AssessmentSample, session: Session, created: bool) -> dict:
    houses = {
        h.house_key: h.address
        for h in session.execute(
            sa.select(House.house_key, House.address).where(
                House.community_id == c.id, House.house_key.in_(s.house_keys or [""])
            )
        )
    }
    return {
        "community": {"id": c.id, "code": c.code, "name": c.name},
        "month": s.month,
        "seed": int(s.seed),
        "n_available": s.n_available,
        "households": [
            {"draw_order": i, "house_key": k, "address": houses.get(k)}
            for i, k in enumerate(s.house_keys, start=1)
        ],
        "note": s.note or "",
        "drawn_at": local_iso(s.drawn_at),
        "drawn_by": s.drawn_by,
        "created": created,
    }


def _sample(session: Session, community_id: int, month: str) -> AssessmentSample | None:
    return session.scalars(
        sa.select(AssessmentSample).where(
            AssessmentSample.community_id == community_id, AssessmentSample.month == month
        )
    ).first()


def draw(
    session: Session,
    community: str | int,
    month: str,
    *,
    seed: int | None = None,
    n: int = SAMPLE_SIZE,
    by: str | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """Draw and record a community's sample points for ``month`` (once; later calls read it).

    Households are the community's houses (house key, else door plate). Returns the draw:
    community, month, seed, households in drawing order, ``created`` (False: recorded
    earlier, returned as it was).
    """
    month = _month(month)
    c = find_community(session, community)
    existing = _sample(session, c.id, month)
    if existing is not None:
        return _sample_dict(c, existing, session, False)
    rows = session.execute(
        sa.select(House.house_key, House.address)
        .where(House.community_id == c.id)
        .order_by(House.id)
    ).all()
    if not rows:
        raise InputError(f"{c.name}: 社区没有登记房屋 / the community has no registered houses")
    households = pd.DataFrame(rows, columns=["house_key", "address"])
    sample = draw_sample(households, community=c.code, month=month, n=n, seed=seed)
    record = AssessmentSample(
        community_id=c.id,
        month=month,
        seed=sample.seed,
        house_keys=list(sample.household_ids),
        n_available=sample.n_available,
        note=sample.note,
        drawn_at=now or utc_now(),
        drawn_by=by,
    )
    session.add(record)
    session.flush()
    return _sample_dict(c, record, session, True)


# --------------------------------------------------------------------------- departments


def set_department_score(
    session: Session,
    community: str | int,
    month: str,
    *,
    dept: str,
    points: float,
    reason: str,
    by: str | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """Enter (or replace) one department's score (0–8, with a reason) of a community's month.

    ``dept`` is a code of :data:`api.services.assessment.DEPARTMENTS` or its Chinese name.
    """
    month = _month(month)
    c = find_community(session, community)
    score = DeptScore(dept, points, reason)
    row = session.scalars(
        sa.select(AssessmentDeptScore).where(
            AssessmentDeptScore.community_id == c.id,
            AssessmentDeptScore.month == month,
            AssessmentDeptScore.dept == score.dept,
        )
    ).first()
    if row is None:
        row = AssessmentDeptScore(community_id=c.id, month=month, dept=score.dept)
        session.add(row)
    row.points, row.reason = score.points, str(score.reason).strip()
    row.scored_by, row.scored_at = by, now or utc_now()
    session.flush()
    return {
        "community": c.code,
        "month": month,
        "dept": score.dept,
        "dept_zh": score.dept_zh,
        "points": score.points,
        "reason": row.reason,
        "scored_by": by,
    }


# --------------------------------------------------------------------------- registry records


def registry_record(session: Session, community_id: int, house_key: str) -> HouseholdRecord | None:
    """The registered household (house, residents, special statuses), or None if absent."""
    house = session.scalars(
        sa.select(House).where(House.community_id == community_id, House.house_key == house_key)
    ).first()
    if house is None:
        return None
    people = []
    residents = session.scalars(
        sa.select(Resident).where(Resident.house_id == house.id).order_by(Resident.id)
    ).all()
    statuses: dict[int, dict[str, dict]] = {}
    if residents:
        for s in session.scalars(
            sa.select(SpecialStatus)
            .where(SpecialStatus.resident_id.in_([r.id for r in residents]))
            .order_by(SpecialStatus.id)
        ):
            statuses.setdefault(s.resident_id, {})[s.category] = dict(s.fields or {})
    for r in residents:
        values = {k: getattr(r, k) for k in _PERSON_KEYS}
        people.append(
            ResidentRecord.from_mapping(values | {"special_statuses": statuses.get(r.id)})
        )
    house_values = {k: getattr(house, k) for k in _HOUSE_KEYS}
    return HouseholdRecord.from_mapping(house_values, people)


# --------------------------------------------------------------------------- field data


def _bool_cell(value: Any) -> bool | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise InputError(f"人口已核查须为 是/否 / residents checked must be 是 or 否: {value!r}")


def _sheets(path: Path) -> set[str]:
    try:
        wb = load_workbook(path, read_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise UnreadableFileError(f"{path}: 无法读取 XLSX / cannot read XLSX: {exc}") from exc
    try:
        return set(wb.sheetnames)
    finally:
        wb.close()


def _item_key(category: str, item: str) -> str:
    wanted = normalise_header(item)
    for spec in special_status_fields(category):
        if wanted in (normalise_header(spec.label_zh), normalise_header(spec.field)):
            return spec.field
    return str(item).strip()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def read_field_data(path: str | Path) -> dict[str, HouseholdRecord]:
    """Read a filled field-check workbook; return the households keyed by 房屋编号.

    Raises :class:`~gis.errors.UnreadableFileError` for a file that is not a readable XLSX
    with a 房屋 sheet, :class:`~gis.errors.InputError` naming the sheet and row of a bad row.
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise UnreadableFileError(f"{path}: 实地核查表须为 .xlsx / field data must be .xlsx")
    if not path.is_file():
        raise UnreadableFileError(f"{path}: 文件不存在 / file not found")
    present = _sheets(path)
    kinds = list(FIELD_CHECK_SHEETS)
    if FIELD_CHECK_SHEETS[kinds[0]] not in present:
        raise UnreadableFileError(
            f"{path}: 没有“房屋”工作表 / no sheet 房屋; use `wangge template field-check`"
        )
    houses: dict[str, dict] = {}
    checked: dict[str, bool | None] = {}
    rows, _ = read_table(path, kinds[0])
    for row in rows:
        key = str(row.values["house_key"] or "").strip()
        if not key:
            raise InputError(
                f"{path}: 房屋 第 {row.row} 行缺少房屋编号 / row {row.row}: no 房屋编号"
            )
        if key in houses:
            raise InputError(
                f"{path}: 房屋 第 {row.row} 行房屋编号重复 / row {row.row}: {key} twice"
            )
        checked[key] = _bool_cell(row.values.get("residents_checked"))
        houses[key] = {k: row.values.get(k) for k in _HOUSE_KEYS} | {"house_key": key}

    def _owner(sheet_kind: str, row) -> str:
        key = str(row.values.get("house_key") or "").strip()
        if key not in houses:
            sheet = FIELD_CHECK_SHEETS[sheet_kind]
            raise InputError(
                f"{path}: {sheet} 第 {row.row} 行的房屋编号 {key!r} 不在房屋表中 / "
                f"sheet {sheet} row {row.row}: house {key!r} is not on sheet 房屋"
            )
        return key

    specials: dict[tuple[str, str], dict[str, dict]] = {}
    if FIELD_CHECK_SHEETS[kinds[2]] in present:
        table = code_table("special_status")
        for row in read_table(path, kinds[2])[0]:
            key = _owner(kinds[2], row)
            name = str(row.values.get("name") or "").strip()
            category = str(row.values.get("category") or "").strip()
            items = specials.setdefault((key, name), {})
            if category.lower() in _NONE_CATEGORY:
                continue
            code = table.code_of(category) or category
            item = items.setdefault(code, {})
            if row.values.get("item") is not None:
                item[_item_key(code, str(row.values["item"]))] = row.values.get("value")

    people: dict[str, list[dict]] = {k: [] for k in houses}
    if FIELD_CHECK_SHEETS[kinds[1]] in present:
        for row in read_table(path, kinds[1])[0]:
            key = _owner(kinds[1], row)
            person = {k: row.values.get(k) for k in _PERSON_KEYS}
            name = str(person.get("name") or "").strip()
            person["special_statuses"] = specials.get((key, name))
            people[key].append(person)
    out = {}
    for key, house in houses.items():
        flag = checked[key]
        residents = people[key] if (flag is True or (flag is None and people[key])) else None
        out[key] = HouseholdRecord.from_mapping(house, residents)
    return out


def _field_json(record: HouseholdRecord) -> dict:
    data = {k: _jsonable(getattr(record, k)) for k in _HOUSE_KEYS}
    data["residents"] = (
        None if record.residents is None else [_jsonable(asdict(r)) for r in record.residents]
    )
    return data


def _store_point(session, c: Community, month: str, key: str, field: HouseholdRecord,
                 point: PointScore, by: str | None, now: dt.datetime | None) -> None:  # fmt: skip
    row = session.scalars(
        sa.select(AssessmentPoint).where(
            AssessmentPoint.community_id == c.id,
            AssessmentPoint.month == month,
            AssessmentPoint.house_key == key,
        )
    ).first()
    if row is None:
        row = AssessmentPoint(community_id=c.id, month=month, house_key=key)
        session.add(row)
    row.address = point.address
    row.registered = point.registered
    row.field_data = _field_json(field)
    row.score = point.points
    row.deductions = [asdict(d) for d in point.deductions]
    row.scored_by, row.scored_at = by, now or utc_now()


def score_field_data(
    session: Session,
    community: str | int,
    month: str,
    households: dict[str, HouseholdRecord],
    *,
    by: str | None = None,
    now: dt.datetime | None = None,
) -> list[PointScore]:
    """Score field data of sample points against the registry and store each point.

    Every household must be a sample point of the month's recorded draw (draw first).
    A sample point whose house has left the registry since the draw is a missing
    registration (6 points).
    """
    month = _month(month)
    c = find_community(session, community)
    sample = _sample(session, c.id, month)
    if sample is None:
        raise InputError(
            f"{c.name} {month}: 尚未抽取样本点，请先 wangge assess draw / no draw yet: draw first"
        )
    strangers = [k for k in households if k not in sample.house_keys]
    if strangers:
        raise InputError(
            f"{c.name} {month}: 不是本月样本点 / not sample points of the month: "
            + ", ".join(strangers)
            + f"; sample: {', '.join(sample.house_keys)}"
        )
    points = []
    for key, field in households.items():
        point = score_sample_point(registry_record(session, c.id, key), field)
        _store_point(session, c, month, key, field, point, by, now)
        points.append(point)
    session.flush()
    return points


def score_household(
    session: Session,
    community: str | int,
    month: str,
    *,
    house_key: str,
    house: dict[str, Any],
    residents: list[dict[str, Any]] | None,
    by: str | None = None,
    now: dt.datetime | None = None,
) -> PointScore:
    """Score one sample point from a form: house fields, and the people (None: not checked).

    Each person is a dict of population fields with an optional ``special_statuses``
    ``{category: {field: value}}``.
    """
    record = HouseholdRecord.from_mapping(
        {k: house.get(k) for k in _HOUSE_KEYS if k != "house_key"} | {"house_key": house_key},
        residents,
    )
    return score_field_data(session, community, month, {house_key: record}, by=by, now=now)[0]


# --------------------------------------------------------------------------- results


def _point_of(row: AssessmentPoint) -> PointScore:
    return PointScore(
        house_key=row.house_key,
        address=row.address,
        points=float(row.score),
        deductions=tuple(Deduction(**d) for d in row.deductions or []),
        registered=bool(row.registered),
    )


def _stored(session: Session, c: Community, month: str):
    depts = session.scalars(
        sa.select(AssessmentDeptScore)
        .where(AssessmentDeptScore.community_id == c.id, AssessmentDeptScore.month == month)
        .order_by(AssessmentDeptScore.id)
    ).all()
    points = session.scalars(
        sa.select(AssessmentPoint)
        .where(AssessmentPoint.community_id == c.id, AssessmentPoint.month == month)
        .order_by(AssessmentPoint.id)
    ).all()
    return depts, points


def community_score(session: Session, c: Community, month: str) -> tuple[CommunityScore | None,
                                                                          list[str]]:  # fmt: skip
    """The community's score when complete, else None and what is missing."""
    sample = _sample(session, c.id, month)
    depts, rows = _stored(session, c, month)
    missing = []
    if sample is None:
        missing.append("样本点未抽取 / no draw")
    else:
        unscored = [k for k in sample.house_keys if k not in {r.house_key for r in rows}]
        if unscored:
            missing.append("样本点未评分 / sample points not scored: " + ", ".join(unscored))
    absent = [f"{code} {name}" for code, name in DEPARTMENTS.items()
              if code not in {d.dept for d in depts}]  # fmt: skip
    if absent:
        missing.append("部门未评分 / departments not scored: " + ", ".join(absent))
    if missing:
        return None, missing
    order = {k: i for i, k in enumerate(sample.house_keys)}
    points = sorted((_point_of(r) for r in rows), key=lambda p: order.get(p.house_key, 1 << 30))
    score = score_community(
        [DeptScore(d.dept, d.points, d.reason) for d in depts],
        points,
        community=c.name,
        month=month,
        expected_points=SAMPLE_SIZE,
    )
    return score, []


def community_result(session: Session, community: str | int, month: str) -> dict:
    """Everything recorded for a community's month: draw, department scores, sample points
    (each with its deductions), and the total when complete (``complete``/``missing``)."""
    month = _month(month)
    c = find_community(session, community)
    sample = _sample(session, c.id, month)
    depts, rows = _stored(session, c, month)
    score, missing = community_score(session, c, month)
    return {
        "community": {"id": c.id, "code": c.code, "name": c.name},
        "month": month,
        "draw": None if sample is None else _sample_dict(c, sample, session, False),
        "departments": [
            {
                "dept": d.dept,
                "dept_zh": DEPARTMENTS.get(d.dept, d.dept),
                "points": d.points,
                "reason": d.reason,
                "scored_by": d.scored_by,
                "scored_at": local_iso(d.scored_at),
            }
            for d in depts
        ],
        "points": [
            {
                "house_key": r.house_key,
                "address": r.address,
                "registered": bool(r.registered),
                "score": r.score,
                "deductions": r.deductions,
                "scored_by": r.scored_by,
            }
            for r in rows
        ],
        "complete": score is not None,
        "missing": missing,
        "department_points": None if score is None else score.department_points,
        "sample_points": None if score is None else score.sample_points,
        "total": None if score is None else score.total,
        "note": "" if score is None else score.note,
    }


def month_scores(session: Session, month: str) -> tuple[list[CommunityScore], dict[str, list]]:
    """Complete community scores of ``month`` and, per incomplete community, what is missing."""
    month = _month(month)
    scores, incomplete = [], {}
    for c in session.scalars(sa.select(Community).order_by(Community.code)):
        score, missing = community_score(session, c, month)
        if score is not None:
            scores.append(score)
        elif _sample(session, c.id, month) is not None or _stored(session, c, month)[0]:
            incomplete[c.name] = missing
    return scores, incomplete


def write_month_report(
    session: Session, month: str, out: str | Path, *, mask: bool = True
) -> tuple[Path, pd.DataFrame, dict[str, list]]:
    """Write the month's results (XLSX or PDF by extension); return path, ranking, incomplete.

    Only complete communities are reported; raises InputError when there is none.
    """
    scores, incomplete = month_scores(session, month)
    if not scores:
        detail = "; ".join(f"{k}: {'; '.join(v)}" for k, v in incomplete.items())
        raise InputError(
            f"{month}: 没有完成考核的社区 / no community has a complete assessment"
            + (f" ({detail})" if detail else "")
        )
    return write_report(scores, out, mask=mask), rank_communities(scores), incomplete


# --------------------------------------------------------------------------- dashboard
