"""Change history of houses and residents: written on every flush, in the same transaction."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from shapely import Point

from api.db.history import read_history, set_actor
from api.db.models import ChangeLog, Community, House, Resident, to_db_geometry


def _house(session) -> House:
    community = Community(code="310101002999", name="测试社区")
    session.add(community)
    session.flush()
    house = House(
        community_id=community.id,
        house_key="T1",
        address="上海市黄浦区九江路1号",
        households=2,
        geom=to_db_geometry(Point(121.485, 31.24)),
    )
    session.add(house)
    session.flush()
    return house


def test_insert_update_delete_are_recorded_with_who(session):
    set_actor(session, user_id=7, username="张三")
    house = _house(session)
    house.households = 3
    house.address = "上海市黄浦区九江路3号"
    session.flush()
    resident = Resident(house_id=house.id, name="李四", birth_date=dt.date(1990, 3, 7))
    session.add(resident)
    session.flush()
    session.delete(resident)
    session.flush()

    rows = read_history(session, "houses", house.id)
    assert [r.action for r in rows] == ["insert", "update", "update"]
    assert rows[0].new_value["households"] == 2 and rows[0].username == "张三"
    updates = {r.field: (r.old_value, r.new_value) for r in rows[1:]}
    assert updates == {
        "households": (2, 3),
        "address": ("上海市黄浦区九江路1号", "上海市黄浦区九江路3号"),
    }
    assert all(r.user_id == 7 for r in rows)
    res_rows = read_history(session, "residents", resident.id)
    assert [r.action for r in res_rows] == ["insert", "delete"]
    assert res_rows[1].old_value["birth_date"] == "1990-03-07"


def test_moving_a_house_records_the_geometry(session):
    house = _house(session)
    house.geom = to_db_geometry(Point(121.486, 31.241))
    session.flush()
    (move,) = [r for r in read_history(session, "houses", house.id) if r.action == "update"]
    assert move.field == "geom" and move.new_value == "POINT (121.486 31.241)"


def test_unchanged_assignment_writes_nothing(session):
    house = _house(session)
    house.households = 2  # same value
    session.flush()
    assert [r.action for r in read_history(session, "houses", house.id)] == ["insert"]


def test_history_cannot_be_edited(session):
    house = _house(session)
    with pytest.raises(sa.exc.DBAPIError), session.begin_nested():
        session.execute(sa.update(ChangeLog).values(username="x"))
    assert read_history(session, "houses", house.id)


def test_bulk_inserted_records_are_logged_as_the_hook_logs_them(session):
    """log_inserts (for rows written through Core) writes the row the flush hook writes for
    the same record: same fields in the same order, sensitive resident fields sealed (opened
    by reveal to the same values), the actor of the session."""
    from api.core.crypto import is_ciphertext
    from api.db.history import log_inserts, reveal

    set_actor(session, user_id=3, username="批量")
    house = _house(session)
    resident = Resident(
        house_id=house.id, name="王五", id_number="11010519491231002X", phone="13812345678",
        birth_date=dt.date(1949, 12, 31),
    )  # fmt: skip
    session.add(resident)
    session.flush()
    (hooked,) = read_history(session, "residents", resident.id)
    columns = [c.key for c in sa.inspect(Resident).column_attrs]
    record = {key: getattr(resident, key) for key in columns}
    log_inserts(session, Resident, [record])
    bulk = read_history(session, "residents", resident.id)[-1]
    assert bulk.id != hooked.id
    assert (bulk.action, bulk.field, bulk.old_value) == ("insert", None, None)
    assert (bulk.user_id, bulk.username) == (3, "批量")
    assert list(bulk.new_value) == list(hooked.new_value)  # the hashes left out by both
    assert is_ciphertext(bulk.new_value["id_number"]) and is_ciphertext(bulk.new_value["phone"])
    assert reveal(None, bulk.new_value) == reveal(None, hooked.new_value)
    assert reveal(None, bulk.new_value)["id_number"] == "11010519491231002X"
    assert bulk.new_value["birth_date"] == "1949-12-31"
    log_inserts(session, Resident, [])  # nothing to log: no row
    assert len(read_history(session, "residents", resident.id)) == 2
