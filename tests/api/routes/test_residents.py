"""Residents through HTTP: create, bad input leaves the database unchanged, masking, unmasking
with and without an approved request, audit rows per unmasked read, grid-worker scope."""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import pytest

from api.services.registry.validators import mask_id_number, mask_phone
from tests.api.routes.conftest import valid_id_number

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"
GRIDS = gpd.read_file(DEMO / "grids.geojson")
_serial = itertools.count(101, 2)  # odd: male


def _house(api, grid_index: int, who: str = "community_head") -> dict:
    p = GRIDS.geometry.iloc[grid_index].representative_point()
    community_id = api.client.get("/communities", headers=api.as_("admin")).json()["data"][0]["id"]
    r = api.client.post(
        "/houses",
        headers=api.as_(who),
        json={
            "community_id": community_id,
            "address": f"测试路 {next(_serial)} 号",
            "house_type": "01",
            "lon": p.x,
            "lat": p.y,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def _resident(api, house_id: int, who: str = "community_head") -> tuple[dict, str, str]:
    id_number = valid_id_number(next(_serial))
    phone = "13900001234"
    r = api.client.post(
        "/residents",
        headers=api.as_(who),
        json={
            "house_id": house_id,
            "name": "张三",
            "id_number": id_number,
            "gender": "1",
            "population_type": "10",
            "phone": phone,
            "ethnicity": "汉族",
        },
    )
    assert r.status_code == 201, r.text
    return r.json(), id_number, phone


def test_house_gets_the_grid_of_its_point(api):
    house = _house(api, 3)
    assert house["properties"]["grid_code"] == GRIDS["code"].iloc[3]
    assert house["geometry"]["type"] == "Point"
    history = api.client.get(f"/houses/{house['id']}/history", headers=api.as_("admin")).json()
    assert (
        history["data"][0]["action"] == "insert"
        and history["data"][0]["username"] == "community_head"
    )


def test_create_resident_is_masked_and_checked(api):
    house = _house(api, 0)
    body, id_number, phone = _resident(api, house["id"])
    assert body["masked"] is True
    assert body["id_number"] == mask_id_number(id_number) != id_number
    assert body["phone"] == mask_phone(phone)
    assert body["birth_date"] == "1980-01-01" and body["ethnicity"] == "01"
    assert body["grid_code"] == GRIDS["code"].iloc[0]


_GOOD = valid_id_number(7)
_BAD_CHECK = _GOOD[:-1] + ("1" if _GOOD[-1] != "1" else "2")
BAD_RESIDENTS = {
    "bad check digit": ({"id_number": _BAD_CHECK}, "id_number"),
    "gender disagrees": ({"gender": "2"}, "gender"),
    "unknown ethnicity": ({"ethnicity": "火星族"}, "ethnicity"),
    "bad phone": ({"phone": "12345"}, "phone"),
    "future inflow": ({"population_type": "30", "inflow_date": "2999-01-01"}, "inflow_date"),
}


@pytest.mark.parametrize("case", list(BAD_RESIDENTS))
def test_bad_resident_is_422_naming_the_field_and_writes_nothing(api, case):
    house = _house(api, 0)
    patch, field = BAD_RESIDENTS[case]
    good_id = valid_id_number(next(_serial))
    record = {
        "house_id": house["id"],
        "name": "李四",
        "id_number": good_id,
        "gender": "1",
        "population_type": "10",
    } | patch
    before = api.count("residents", "change_log", "audit_log")
    r = api.client.post("/residents", headers=api.as_("admin"), json=record)
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"] and field in {e["field"] for e in r.json()["errors"]}
    assert api.count("residents", "change_log", "audit_log") == before


def test_unknown_house_broken_json_extra_field_duplicate_id(api):
    house = _house(api, 0)
    _, id_number, _ = _resident(api, house["id"])
    before = api.count("residents", "houses", "change_log")
    r = api.client.post(
        "/residents",
        headers=api.as_("admin"),
        json={
            "house_id": 999999,
            "name": "王五",
            "population_type": "10",
            "id_number": valid_id_number(next(_serial)),
        },
    )
    assert r.status_code == 422 and "house_id" in r.json()["detail"]
    r = api.client.post(
        "/residents",
        headers={**api.as_("admin"), "Content-Type": "application/json"},
        content=b'{"house_id": 1, "name": ',
    )
    assert r.status_code == 422 and "JSON" in r.json()["detail"]
    r = api.client.post(
        "/residents",
        headers=api.as_("admin"),
        json={"house_id": house["id"], "name": "x", "shoe_size": 42},
    )
    assert r.status_code == 422 and "shoe_size" in r.json()["detail"]
    r = api.client.post(
        "/residents",
        headers=api.as_("admin"),
        json={
            "house_id": house["id"],
            "name": "重号",
            "id_number": id_number,
            "population_type": "10",
        },
    )
    assert r.status_code == 409 and r.json()["detail"].startswith("与已有数据冲突")
    assert api.count("residents", "houses", "change_log") == before


def test_house_in_unknown_grid_and_wrong_footprint_type(api):
    community_id = api.client.get("/communities", headers=api.as_("admin")).json()["data"][0]["id"]
    before = api.count("houses", "change_log")
    r = api.client.post(
        "/houses",
        headers=api.as_("admin"),
        json={
            "community_id": community_id,
            "address": "无网格路 1 号",
            "grid_code": "310101002005999",
        },
    )
    assert r.status_code == 422 and "grid_code" in r.json()["detail"]
    r = api.client.post(
        "/houses",
        headers=api.as_("admin"),
        json={
            "community_id": community_id,
            "address": "点状路 1 号",
            "footprint": {"type": "Point", "coordinates": [121.49, 31.23]},
        },
    )
    assert r.status_code == 422 and "Point" in r.json()["detail"]
    r = api.client.post(
        "/houses",
        headers=api.as_("admin"),
        json={
            "community_id": community_id,
            "address": "错网格路 1 号",
            "lon": GRIDS.geometry.iloc[0].representative_point().x,
            "lat": GRIDS.geometry.iloc[0].representative_point().y,
            "grid_code": GRIDS["code"].iloc[5],
        },
    )
    assert r.status_code == 422 and GRIDS["code"].iloc[0] in r.json()["detail"]
    assert api.count("houses", "change_log") == before


def _unmask_audits(api, resident_id: int) -> int:
    rows = api.client.get(
        "/audit",
        headers=api.as_("auditor"),
        params={"action": "unmask_read", "record_id": resident_id, "table_name": "residents"},
    ).json()
    return rows["count"]


def test_unmask_needs_an_approved_unexpired_request_and_is_audited(api):
    house = _house(api, 0)
    resident, id_number, phone = _resident(api, house["id"])
    rid = resident["id"]
    worker = api.as_("grid_worker")
    # masked read: no audit row
    masked = api.client.get(f"/residents/{rid}", headers=worker).json()
    assert masked["masked"] is True and masked["id_number"] == mask_id_number(id_number)
    # unmask without approval: 403, no audit row
    before = api.count("audit_log")
    r = api.client.get(f"/residents/{rid}", headers=worker, params={"unmask": True})
    assert r.status_code == 403 and "access request" in r.json()["detail"]
    assert api.count("audit_log") == before and _unmask_audits(api, rid) == 0
    # request, still pending: 403
    req = api.client.post(
        "/access-requests",
        headers=worker,
        json={"resident_id": rid, "reason": "入户核查 / household check"},
    )
    assert req.status_code == 201 and req.json()["status"] == "requested"
    assert (req.json()["requester_username"], req.json()["approver_username"]) == (
        "grid_worker",
        None,
    )
    assert (
        api.client.get(f"/residents/{rid}", headers=worker, params={"unmask": True}).status_code
        == 403
    )
    # the requester cannot approve; a grid worker cannot approve
    rid_req = req.json()["id"]
    # approved by the community head for 2 hours
    ok = api.client.post(
        f"/access-requests/{rid_req}/approve",
        headers=api.as_("community_head"),
        json={"valid_hours": 2},
    )
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert ok.json()["approver_username"] == "community_head"
    again = api.client.post(
        f"/access-requests/{rid_req}/approve", headers=api.as_("street_dept")
    )
    assert again.status_code == 409
    # the admin manages accounts and may not decide access requests (separation of duties)
    assert api.client.post(
        f"/access-requests/{rid_req}/reject", headers=api.as_("admin"), json={"reason": "x"}
    ).status_code == 403
    for n in (1, 2):
        full = api.client.get(f"/residents/{rid}", headers=worker, params={"unmask": True}).json()
        assert full["masked"] is False
        assert full["id_number"] == id_number and full["phone"] == phone
        assert _unmask_audits(api, rid) == n
    # the list unmasks only what the grant covers, with one audit row per resident unmasked
    listed = api.client.get(
        "/residents", headers=worker, params={"unmask": True, "house_id": house["id"]}
    ).json()
    assert [r["masked"] for r in listed["data"]] == [False] and _unmask_audits(api, rid) == 3
    # another reader (no grant of their own) still sees it masked
    other = api.client.get(
        f"/residents/{rid}", headers=api.as_("street_dept"), params={"unmask": True}
    )
    assert other.status_code == 403
    # after two hours the grant has expired
    api.clock.advance(hours=2, seconds=1)
    api.tokens.clear()
    late = api.client.get(
        f"/residents/{rid}", headers=api.as_("grid_worker"), params={"unmask": True}
    )
    assert late.status_code == 403 and _unmask_audits(api, rid) == 3
    audit = api.client.get(
        "/audit", headers=api.as_("auditor"), params={"action": "unmask_read", "record_id": rid}
    ).json()["data"]
    assert {a["username"] for a in audit} == {"grid_worker"}
    assert all(a["detail"]["access_request_id"] == rid_req for a in audit)
    api.tokens.clear()


def test_audit_log_is_append_only(api):
    import sqlalchemy as sa

    from api.db.engine import make_engine
    from api.db.models import AuditLog

    engine = make_engine(api.url)
    with engine.begin() as conn:  # a row of its own, so the test holds on an empty log too
        row_id = conn.execute(
            sa.insert(AuditLog).values(action="test", username="append-only").returning(AuditLog.id)
        ).scalar_one()
    for statement in (
        sa.delete(AuditLog).where(AuditLog.id == row_id),
        sa.update(AuditLog).where(AuditLog.id == row_id).values(username="changed"),
    ):
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
            conn.execute(statement)
    with engine.connect() as conn:
        kept = conn.execute(sa.select(AuditLog.username).where(AuditLog.id == row_id)).scalar_one()
    engine.dispose()
    assert kept == "append-only"


def test_grid_worker_sees_only_residents_of_their_grids(api):
    mine = _house(api, 0)
    theirs = _house(api, 1)
    my_resident, _, _ = _resident(api, mine["id"])
    their_resident, _, _ = _resident(api, theirs["id"])
    worker = api.as_("grid_worker")
    listed = api.client.get("/residents", headers=worker, params={"limit": 1000}).json()
    ids = {r["id"] for r in listed["data"]}
    assert my_resident["id"] in ids and their_resident["id"] not in ids
    assert {r["grid_code"] for r in listed["data"]} == {GRIDS["code"].iloc[0]}
    assert listed["count"] == len(listed["data"])
    r = api.client.get(f"/residents/{their_resident['id']}", headers=worker)
    assert r.status_code == 403 and "not in your grids" in r.json()["detail"]
    assert api.client.get(f"/houses/{theirs['id']}", headers=worker).status_code == 403
    # and cannot register a resident there either
    before = api.count("residents")
    r = api.client.post(
        "/residents",
        headers=worker,
        json={
            "house_id": theirs["id"],
            "name": "赵六",
            "population_type": "10",
            "id_number": valid_id_number(next(_serial)),
        },
    )
    assert r.status_code == 403 and api.count("residents") == before
    # the street department (no grid limit) sees both
    all_ids = {
        r["id"]
        for r in api.client.get(
            "/residents", headers=api.as_("street_dept"), params={"limit": 1000}
        ).json()["data"]
    }
    assert {my_resident["id"], their_resident["id"]} <= all_ids


def test_update_and_delete_resident_with_history(api):
    house = _house(api, 0)
    resident, _, _ = _resident(api, house["id"])
    rid = resident["id"]
    r = api.client.patch(
        f"/residents/{rid}", headers=api.as_("grid_worker"), json={"phone": "021-12345678"}
    )
    assert r.status_code == 200 and r.json()["phone"] == mask_phone("021-12345678")
    history = api.client.get(f"/residents/{rid}/history", headers=api.as_("admin")).json()["data"]
    change = next(h for h in history if h["field"] == "phone")
    assert change["username"] == "grid_worker" and change["new"] == mask_phone("021-12345678")
    assert api.client.delete(f"/residents/{rid}", headers=api.as_("admin")).status_code == 204
    assert api.client.get(f"/residents/{rid}", headers=api.as_("admin")).status_code == 404
