"""The registry schema on SpatiaLite and PostGIS: street → community → division → grid,
divisions in time, residents and their records, staff and users, append-only logs."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from api.db.audit_chain import seal
from api.db.dialect import assign_codes_in_db, grid_code_at
from api.db.divisions import division_in_effect, divisions_in_effect, put_in_effect
from api.db.models import (
    AccessRequest,
    AuditLog,
    ChangeLog,
    Community,
    Division,
    Grid,
    House,
    Resident,
    SpecialStatus,
    Staff,
    Street,
    User,
    from_db_geometry,
    to_db_geometry,
)
from gis.assign import assign_points
from gis.errors import InputError


def _community(session, division, code="310109011001") -> Community:
    street = Street(code=code[:9], name="测试街道", district_name="虹口区")
    community = Community(
        code=code, name="测试社区", street=street,
        geom=to_db_geometry(division.boundary, multi=True),
    )  # fmt: skip
    session.add(community)
    session.flush()
    return community


def _grids(session, community, division, record: Division, prefix="") -> None:
    for code, geom in zip(division.grids["code"], division.grids.geometry, strict=True):
        session.add(
            Grid(community_id=community.id, division_record=record, code=prefix + code,
                 geom=to_db_geometry(geom, multi=True))
        )  # fmt: skip
    session.flush()


def _savepoint_raises(session, sql: str, exc=DBAPIError, match: str = "append-only"):
    with pytest.raises(exc, match=match), session.begin_nested():
        session.execute(sa.text(sql))


# --------------------------------------------------------------------------- hierarchy


def test_statistics_roll_up_street_community_grid(session, division):
    community = _community(session, division)
    record = Division(community_id=community.id, label="2024", version=1)
    _grids(session, community, division, record)
    points = division.grids.geometry.representative_point()
    session.add_all(
        House(community_id=community.id, house_key=f"h{i}", households=i + 1,
              geom=to_db_geometry(p))
        for i, p in enumerate(points)
    )  # fmt: skip
    assign_codes_in_db(session, House, division="2024")
    per_street = session.execute(
        sa.select(Street.code, sa.func.count(House.id), sa.func.sum(House.households))
        .join(Community, Community.street_id == Street.id)
        .join(House, House.community_id == Community.id)
        .group_by(Street.code)
    ).all()
    n = len(points)
    assert per_street == [("310109011", n, n * (n + 1) // 2)]
    per_grid = dict(
        session.execute(sa.select(House.grid_code, sa.func.count()).group_by(House.grid_code)).all()
    )
    assert per_grid == dict.fromkeys(division.grids["code"], 1)
    assert community.street.district_code == "310109"
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Street(code="31010900", name="八位"))
        session.flush()


def test_a_grid_given_only_a_label_gets_a_division(session, division):
    community = _community(session, division)
    for i, label in enumerate(("current", "current", "draft")):
        session.add(Grid(community_id=community.id, division=label, code=f"31010901100100{i}"))
        session.flush()
    divisions = session.scalars(
        sa.select(Division).where(Division.community_id == community.id).order_by(Division.version)
    ).all()
    assert [(d.label, d.version, d.effective_from) for d in divisions] == [
        ("current", 1, None),
        ("draft", 2, None),
    ]
    grids = session.scalars(sa.select(Grid).where(Grid.community_id == community.id)).all()
    assert {g.division: g.division_id for g in grids} == {d.label: d.id for d in divisions}
    with pytest.raises(ValueError, match="disagrees"):
        session.add(Grid(community_id=community.id, division="other",
                         division_record=divisions[0], code="x"))  # fmt: skip
        session.flush()


def test_division_in_effect_and_replacement_keep_history(session, division, planted):
    community = _community(session, division)
    v1 = Division(community_id=community.id, label="2024版", version=1)
    v2 = Division(community_id=community.id, label="2025版", version=2)
    _grids(session, community, division, v1)
    _grids(session, community, division, v2, prefix="9")
    assert put_in_effect(session, v1, dt.date(2024, 1, 1)) is None
    assert put_in_effect(session, v2, dt.date(2025, 7, 1)) is v1
    assert (v1.effective_to, v2.effective_to) == (dt.date(2025, 7, 1), None)
    cid = community.id
    assert division_in_effect(session, cid, dt.date(2023, 12, 31)) is None
    assert division_in_effect(session, cid, dt.date(2024, 1, 1)) is v1
    assert division_in_effect(session, cid, dt.date(2025, 6, 30)) is v1
    assert division_in_effect(session, cid, dt.date(2025, 7, 1)) is v2
    assert divisions_in_effect(session, dt.date(2030, 1, 1)) == [v2]
    with pytest.raises(InputError, match="already has"), session.begin_nested():
        old = Division(community_id=cid, label="old", version=3)
        session.add(old)
        put_in_effect(session, old, dt.date(2025, 1, 1))

    inside = planted[planted["n_covering"] >= 1].geometry
    want = assign_points(inside, division.grids).tolist()
    for code, p in zip(want, inside, strict=True):
        assert grid_code_at(session, p.x, p.y, on=dt.date(2025, 6, 30)) == code
        assert grid_code_at(session, p.x, p.y, on=dt.date(2025, 7, 1)) == "9" + code
        assert grid_code_at(session, p.x, p.y, on=dt.date(2020, 1, 1)) is None
    session.add_all(
        House(community_id=cid, house_key=f"p{i}", geom=to_db_geometry(p))
        for i, p in enumerate(inside)
    )
    assign_codes_in_db(session, House, on=dt.date(2024, 3, 1))
    assert session.scalars(sa.select(House.grid_code).order_by(House.id)).all() == want
    counts = assign_codes_in_db(session, House, on=dt.date(2026, 1, 1), community_id=cid)
    assert counts == (len(want), 0)
    assert session.scalars(sa.select(House.grid_code).order_by(House.id)).all() == [
        "9" + c for c in want
    ]
    with pytest.raises(ValueError, match="exactly one"):
        grid_code_at(session, 0.0, 0.0, division="2024版", on=dt.date(2024, 3, 1))


def test_division_dates_must_be_in_order(session, division):
    community = _community(session, division)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Division(community_id=community.id, label="x", version=1,
                             effective_from=dt.date(2025, 1, 1),
                             effective_to=dt.date(2024, 1, 1)))  # fmt: skip
        session.flush()


# --------------------------------------------------------------------------- registry


def test_house_footprint_is_stored_and_spatially_indexed(session, division):
    community = _community(session, division)
    footprint = shapely.box(121.4901, 31.2501, 121.4903, 31.2503)
    house = House(community_id=community.id, address="上海市黄浦区圆明园路1号",
                  geom=to_db_geometry(footprint.centroid),
                  footprint=to_db_geometry(footprint, multi=True))  # fmt: skip
    session.add(house)
    session.flush()
    session.expire_all()
    back = from_db_geometry(session.get(House, house.id).footprint)
    assert back.geom_type == "MultiPolygon" and back.equals(shapely.MultiPolygon([footprint]))
    if session.get_bind().dialect.name == "sqlite":
        n = session.execute(sa.text("SELECT count(*) FROM idx_houses_footprint")).scalar()
        assert n == 1


def test_resident_with_special_statuses_round_trip(session, division):
    community = _community(session, division)
    house = House(community_id=community.id, address="上海市黄浦区圆明园路1号")
    resident = Resident(
        house=house, name="张三", gender="2", ethnicity="01", id_number="11010519491231002X",
        birth_date=dt.date(1949, 12, 31), population_type="10", phone="13812345678",
        special_statuses=[
            SpecialStatus(category="disability",
                          fields={"disability_cert_no": "A1", "disability_grade": "二级"},
                          start_date=dt.date(2020, 1, 1)),
        ],
    )  # fmt: skip
    session.add(resident)
    session.flush()
    session.expire_all()
    back = session.get(Resident, resident.id)
    assert back.house.address == "上海市黄浦区圆明园路1号"
    assert back.birth_date == dt.date(1949, 12, 31)
    assert back.special_statuses[0].fields == {
        "disability_cert_no": "A1",
        "disability_grade": "二级",
    }
    with pytest.raises(IntegrityError), session.begin_nested():  # one person, one record
        session.add(Resident(house=back.house, name="重复", id_number="11010519491231002X"))
        session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(
            SpecialStatus(
                resident_id=back.id,
                category="x",
                start_date=dt.date(2024, 1, 2),
                end_date=dt.date(2024, 1, 1),
            )
        )
        session.flush()  # fmt: skip
    # deleting the house removes its residents and their records (database cascade)
    session.execute(sa.delete(House).where(House.id == back.house.id))
    assert session.execute(sa.select(sa.func.count()).select_from(SpecialStatus)).scalar() == 0


def test_staff_users_and_access_requests(session, division):
    community = _community(session, division)
    codes = ["310109011001001", "310109011001002"]
    staff = Staff(name="李四", role="grid_worker", community_id=community.id,
                  phone="13912345678", grid_codes=codes)  # fmt: skip
    user = User(username="lisi", password_hash="$argon2id$...", role="grid_worker", staff=staff,
                grid_codes=["310109011001001"])  # fmt: skip
    leader = User(username="wang", password_hash="x", role="community_head")
    session.add_all([staff, user, leader])
    session.flush()
    session.expire_all()
    assert sorted(session.get(Staff, staff.id).grid_codes) == [
        "310109011001001",
        "310109011001002",
    ]
    assert session.get(User, user.id).grid_codes == ["310109011001001"]
    assert session.get(Staff, staff.id).phone_published is True
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(User(username="boss", password_hash="x", role="boss"))
        session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(User(username="lisi", password_hash="x", role="auditor"))
        session.flush()
    request = AccessRequest(requester_id=user.id, grid_code="310109011001001", reason="走访")
    session.add(request)
    session.flush()
    assert request.status == "requested" and request.requested_at.tzinfo is not None
    with pytest.raises(IntegrityError), session.begin_nested():  # no scope at all
        session.add(AccessRequest(requester_id=user.id, reason="全部"))
        session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(AccessRequest(requester_id=user.id, grid_code="1", reason="r", status="ok"))
        session.flush()


# --------------------------------------------------------------------------- append-only


@pytest.mark.parametrize("model", [AuditLog, ChangeLog])
def test_logs_are_append_only_in_the_database(session, model):
    if model is AuditLog:
        row = AuditLog(username="lisi", action="unmask", table_name="residents", record_id=1,
                       detail={"fields": ["id_number"]})  # fmt: skip
    else:
        row = ChangeLog(username="lisi", table_name="residents", record_id=1, action="update",
                        field="phone", old_value="13812345678", new_value=None)  # fmt: skip
    session.add(row)
    seal(session)  # audit rows are written at commit, or when sealed
    table = model.__tablename__
    _savepoint_raises(session, f"UPDATE {table} SET username = 'someone else'")
    _savepoint_raises(session, f"DELETE FROM {table}")
    if session.get_bind().dialect.name != "sqlite":
        _savepoint_raises(session, f"TRUNCATE {table}")
    session.add(model(**{c: getattr(row, c) for c in ("username", "table_name", "record_id")},
                      **({"action": "read"} if model is AuditLog else
                         {"action": "insert", "new_value": {"name": "x"}})))  # fmt: skip
    seal(session)  # appending still works
    assert session.execute(sa.select(sa.func.count()).select_from(model)).scalar() == 2
    session.expire_all()
    first = session.get(model, row.id)
    assert first.username == "lisi"
    if model is ChangeLog:
        assert (first.old_value, first.new_value) == ("13812345678", None)
