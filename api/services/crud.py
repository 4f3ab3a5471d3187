"""Create, read, update, delete: keyword-only functions over a session (no HTTP).

Values are checked with :mod:`api.services.registry.validators` (a 422 naming each bad field), grid
scope with :mod:`api.services.privacy`. The functions flush, never commit: the caller owns
the transaction, so a failure leaves the database as it was. Change history of houses,
residents and special statuses is written by :mod:`api.db.history` on flush.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import Conflict, NotFound, Unprocessable, field_errors
from api.core.security import hash_password
from api.db.dialect import grid_code_at
from api.db.divisions import in_effect_clause
from api.db.models import (
    Community,
    Division,
    Grid,
    House,
    Resident,
    Role,
    SpecialStatus,
    Staff,
    User,
    to_db_geometry,
)
from api.services.accounts import change_password, check_password_policy, revoke_tokens
from api.services.geojson import geometry_from_geojson
from api.services.privacy import check_house_scope
from api.services.registry.validators import (
    FieldError,
    clean_house,
    clean_resident,
    clean_special_status,
    clean_staff,
)
from api.services.worklog import record_action

__all__ = [
    "create_community",
    "create_house",
    "create_resident",
    "create_special_status",
    "create_staff",
    "create_user",
    "delete_house",
    "delete_resident",
    "delete_staff",
    "get_or_404",
    "grid_in_effect",
    "update_community",
    "update_house",
    "update_resident",
    "update_staff",
    "update_user",
]

_GRID_CODE = re.compile(r"\d{15}")
_HOUSE_FIELDS = (
    "house_key",
    "address",
    "road",
    "number",
    "building",
    "owner",
    "floor_area_m2",
    "households",
    "house_type",
    "use",
)
_RESIDENT_FIELDS = tuple(
    c.key
    for c in sa.inspect(Resident).column_attrs
    if c.key not in {"id", "house_id", "created_at", "id_number_hash", "phone_hash"}
)
_STAFF_FIELDS = (
    "name", "role", "phone", "phone_published", "photo_path", "duties", "is_4050",
)


def get_or_404(session: Session, model: type, record_id: int, what: tuple[str, str]):
    """The row of ``model`` with ``record_id``, or a 404 naming it."""
    row = session.get(model, record_id)
    if row is None:
        raise NotFound(f"{what[0]} {record_id} 不存在 / {what[1]} {record_id} not found")
    return row


def _today(now: dt.datetime | None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).date()


def grid_in_effect(session: Session, code: str, day: dt.date) -> Grid | None:
    """The grid with ``code`` in a division in effect on ``day``, or None."""
    return session.scalars(
        sa.select(Grid)
        .join(Division, Grid.division_id == Division.id)
        .where(Grid.code == code, in_effect_clause(day))
        .order_by(Division.effective_from.desc())
        .limit(1)
    ).first()


def _check_grid_codes(codes: Iterable[str], field: str) -> list[str]:
    codes = [str(c).strip() for c in codes]
    bad = [c for c in codes if not _GRID_CODE.fullmatch(c)]
    if bad:
        raise field_errors(
            [FieldError(field, bad, "网格编码应为 15 位数字", "grid codes must be 15 digits")]
        )
    return codes


# --------------------------------------------------------------------------- communities


def create_community(session: Session, *, data: Mapping[str, Any]) -> Community:
    """Add a community (12-digit code unique: 409 when taken)."""
    if session.scalar(sa.select(Community.id).where(Community.code == data["code"])) is not None:
        raise Conflict(f"社区编码 {data['code']} 已存在 / community code {data['code']} exists")
    boundary = data.get("boundary")
    community = Community(
        code=data["code"],
        name=data["name"],
        street_name=data.get("street_name"),
        district_name=data.get("district_name"),
        geom=None
        if boundary is None
        else to_db_geometry(geometry_from_geojson(boundary, what="boundary"), multi=True),
    )
    session.add(community)
    session.flush()
    return community


def update_community(session: Session, *, community: Community, data: Mapping[str, Any]):
    for key in ("name", "street_name", "district_name"):
        if key in data:
            setattr(community, key, data[key])
    if data.get("boundary") is not None:
        geom = geometry_from_geojson(data["boundary"], what="boundary")
        community.geom = to_db_geometry(geom, multi=True)
    session.flush()
    return community


# --------------------------------------------------------------------------- houses


def _house_location(
    session: Session, clean: dict[str, Any], record: Mapping[str, Any], day: dt.date
) -> tuple[Any, str | None]:
    """(point for the database, grid code) from lon/lat and/or an explicit grid code."""
    lon, lat, given = clean.get("lon"), clean.get("lat"), clean.get("grid_code")
    if lon is not None and lat is not None:
        code = grid_code_at(session, lon, lat, on=day)
        if given is not None and given != code:
            raise field_errors(
                [
                    FieldError(
                        "grid_code",
                        given,
                        f"该点位于网格 {code or '（网格外）'}",
                        f"the point lies in grid {code or '(none: outside every grid)'}",
                    )
                ]
            )
        return to_db_geometry(shapely.Point(lon, lat)), code
    if given is not None and grid_in_effect(session, given, day) is None:
        raise field_errors(
            [
                FieldError(
                    "grid_code",
                    record.get("grid_code"),
                    f"{day} 生效的划分中没有此网格",
                    f"no such grid in the division in effect on {day}",
                )
            ]
        )
    return None, given


def _footprint(value: Any):
    if value is None:
        return None
    return to_db_geometry(geometry_from_geojson(value, what="footprint"), multi=True)


def _log(
    session: Session,
    user: User,
    kind: str,
    record: House | Resident,
    note: str,
    now: dt.datetime | None,
) -> None:
    """The signed work-log entry of a house or resident change by ``user``."""
    record_action(
        session, user, kind=kind, at=now, record_table=record.__tablename__,
        record_id=record.id, note=note,
    )  # fmt: skip


def create_house(
    session: Session, *, user: User, data: Mapping[str, Any], now: dt.datetime | None = None
) -> House:
    """Add a house; its grid is the one covering (lon, lat) in the division in effect today,
    or the grid code given (which must exist). Grid workers only in their own grids."""
    day = _today(now)
    clean, errors = clean_house(data, today=day)
    if errors:
        raise field_errors(errors)
    if session.get(Community, data["community_id"]) is None:
        raise field_errors(
            [FieldError("community_id", data["community_id"], "社区不存在", "no such community")]
        )
    geom, code = _house_location(session, clean, data, day)
    house = House(
        community_id=data["community_id"],
        geom=geom,
        grid_code=code,
        footprint=_footprint(data.get("footprint")),
        **{k: clean.get(k) for k in _HOUSE_FIELDS},
    )
    check_house_scope(user, house)
    session.add(house)
    session.flush()
    _log(session, user, "registered", house, f"登记房屋 {house.address or house.id}", now)
    return house


def update_house(
    session: Session,
    *,
    user: User,
    house: House,
    data: Mapping[str, Any],
    now: dt.datetime | None = None,
) -> House:
    """Change the fields given; a new lon/lat re-assigns the grid."""
    check_house_scope(user, house)
    day = _today(now)
    current = {k: getattr(house, k) for k in _HOUSE_FIELDS}
    clean, errors = clean_house({**current, **data}, today=day)
    if errors:
        raise field_errors(errors)
    for key in _HOUSE_FIELDS:
        if key in data:
            setattr(house, key, clean.get(key))
    if {"lon", "lat", "grid_code"} & set(data):
        geom, code = _house_location(session, clean, data, day)
        if geom is not None:
            house.geom = geom
        house.grid_code = code
    if "footprint" in data:
        house.footprint = _footprint(data["footprint"])
    check_house_scope(user, house)
    session.flush()
    _log(session, user, "updated", house, f"变更房屋 {house.address or house.id}", now)
    return house


def delete_house(session: Session, *, user: User, house: House) -> None:
    check_house_scope(user, house)
    _log(session, user, "updated", house, f"注销房屋 {house.address or house.id}", None)
    session.delete(house)
    session.flush()


# --------------------------------------------------------------------------- residents


def create_resident(
    session: Session, *, user: User, data: Mapping[str, Any], now: dt.datetime | None = None
) -> Resident:
    """Add a resident to a house the user may touch; every field checked (422 naming it)."""
    house = session.get(House, data["house_id"])
    if house is None:
        raise field_errors(
            [FieldError("house_id", data["house_id"], "房屋不存在", "no such house")]
        )
    check_house_scope(user, house)
    clean, errors = clean_resident(data, today=_today(now))
    if errors:
        raise field_errors(errors)
    resident = Resident(house=house, **{k: clean.get(k) for k in _RESIDENT_FIELDS})
    session.add(resident)
    session.flush()
    _log(session, user, "registered", resident, f"登记居民 {resident.id}", now)
    return resident


def update_resident(
    session: Session,
    *,
    user: User,
    resident: Resident,
    data: Mapping[str, Any],
    now: dt.datetime | None = None,
) -> Resident:
    """Change the fields given (the whole record is re-checked)."""
    check_house_scope(user, resident.house)
    if data.get("house_id") is not None and data["house_id"] != resident.house_id:
        house = session.get(House, data["house_id"])
        if house is None:
            raise field_errors(
                [FieldError("house_id", data["house_id"], "房屋不存在", "no such house")]
            )
        check_house_scope(user, house)
        resident.house = house
    current = {k: getattr(resident, k) for k in _RESIDENT_FIELDS}
    patch = {k: v for k, v in data.items() if k != "house_id"}
    clean, errors = clean_resident({**current, **patch}, today=_today(now))
    if errors:
        raise field_errors(errors)
    for key in _RESIDENT_FIELDS:
        if key in patch or getattr(resident, key) != clean.get(key):
            setattr(resident, key, clean.get(key))
    session.flush()
    _log(session, user, "updated", resident, f"变更居民 {resident.id}", now)
    return resident


def delete_resident(session: Session, *, user: User, resident: Resident) -> None:
    check_house_scope(user, resident.house)
    _log(session, user, "updated", resident, f"注销居民 {resident.id}", None)
    session.delete(resident)
    session.flush()


def create_special_status(
    session: Session,
    *,
    user: User,
    resident: Resident,
    data: Mapping[str, Any],
    now: dt.datetime | None = None,
) -> SpecialStatus:
    """Add a special-status record (category fields checked against the code tables)."""
    check_house_scope(user, resident.house)
    clean, errors = clean_special_status(data, today=_today(now))
    if errors:
        raise field_errors(errors)
    record = SpecialStatus(
        resident=resident,
        category=clean["category"],
        fields=clean.get("fields") or {},
        start_date=clean.get("start_date"),
        end_date=clean.get("end_date"),
        note=clean.get("note"),
    )
    session.add(record)
    session.flush()
    _log(session, user, "updated", resident, f"登记特殊身份 {record.category}", now)
    return record


# --------------------------------------------------------------------------- staff


def _staff_links(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """The post (by name, must exist) and department (by code) of staff ``data``, as columns,
    for the keys present."""
    from api.services.incidents.routing import department_by_code, find_post

    out: dict[str, Any] = {}
    if "post" in data:
        out["post"] = find_post(session, data["post"])
    if "department" in data:
        code = data["department"]
        out["department_id"] = department_by_code(session, code).id if code else None
    if "staff_no" in data:
        out["staff_no"] = (str(data["staff_no"]).strip() or None) if data["staff_no"] else None
    return out


def create_staff(session: Session, *, data: Mapping[str, Any]) -> Staff:
    """Add a staff member (name, role, phone required; grids by 15-digit code; a post by its
    name, a street department by its code, a staff number)."""
    clean, errors = clean_staff(data)
    if errors:
        raise field_errors(errors)
    links = _staff_links(session, data)
    staff = Staff(
        community_id=data.get("community_id"),
        **{k: clean.get(k) for k in _STAFF_FIELDS},
        **links,
    )
    staff.grid_codes = list(clean.get("grid_codes") or [])
    session.add(staff)
    session.flush()
    return staff


def update_staff(session: Session, *, staff: Staff, data: Mapping[str, Any]) -> Staff:
    """Change only the fields in ``data`` (as sent): a stored value that would not pass
    today's checks (a staff member without a phone) does not block other changes."""
    current = {k: getattr(staff, k) for k in _STAFF_FIELDS} | {"grid_codes": list(staff.grid_codes)}
    sent = {k: v for k, v in data.items() if k in current}
    clean, errors = clean_staff({**current, **sent})
    errors = [e for e in errors if e.field in sent]
    if errors:
        raise field_errors(errors)
    for key in _STAFF_FIELDS:
        if key in sent:
            setattr(staff, key, clean.get(key))
    if "grid_codes" in sent:
        staff.grid_codes = list(clean.get("grid_codes") or [])
    for key, value in _staff_links(session, data).items():
        setattr(staff, key, value)
    if data.get("community_id") is not None:
        staff.community_id = data["community_id"]
    if data.get("active") is not None:
        staff.active = data["active"]
    session.flush()
    return staff


def delete_staff(session: Session, *, staff: Staff) -> None:
    session.delete(staff)
    session.flush()


# --------------------------------------------------------------------------- users


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role | str,
    grid_codes: Iterable[str] = (),
    staff_id: int | None = None,
) -> User:
    """Add a user with an argon2 password hash (409 when the name is taken)."""
    username = username.strip()
    if not username:
        raise Unprocessable("用户名不能为空 / username must not be empty")
    check_password_policy(password, username=username)
    try:
        role = Role(role)
    except ValueError:
        raise Unprocessable(
            f"未知角色 {role!r} / unknown role {role!r}; allowed: {', '.join(Role)}"
        ) from None
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户 {username} 已存在 / user {username} already exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        staff_id=staff_id,
        password_changed_at=dt.datetime.now(dt.UTC),
    )
    user.grid_codes = _check_grid_codes(grid_codes, "grid_codes")
    session.add(user)
    session.flush()
    return user


def update_user(session: Session, *, user: User, data: Mapping[str, Any]) -> User:
    # Two edits of one account at once would each replace the same user_grids rows (and the
    # second collide with the first's); the row lock makes the second wait, then read anew.
    session.refresh(user, with_for_update=True)
    if data.get("password") is not None:
        change_password(user, data["password"])
    if data.get("role") is not None:
        user.role = Role(data["role"]).value
    if data.get("grid_codes") is not None:
        user.grid_codes = _check_grid_codes(data["grid_codes"], "grid_codes")
    if data.get("active") is not None:
        if user.active and not data["active"]:
            revoke_tokens(user)
        user.active = data["active"]
    if "staff_id" in data:
        user.staff_id = data["staff_id"]
    session.flush()
    return user
