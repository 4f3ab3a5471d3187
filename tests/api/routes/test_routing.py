"""Posts, departments and routing rules as data, on SpatiaLite and PostGIS: a deployment
built from scratch through the API routes a new report to the configured post; with nothing
configured every Open311 service code is still accepted (community head, unassigned, a
warning); an escalation is received only by its target department (403 with a reason
otherwise); a handler who leaves has their open items listed and gets no new ones;
``PATCH /staff`` changes only the fields sent."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import tempfile
from pathlib import Path

import geopandas as gpd
import pytest
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.db.models import Role
from gis.assign import assign_points
from tests.api.routes.conftest import PASSWORD, add_users

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"
COMMUNITY = "310101002005"


def _fc(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _point_in_grid(index: int) -> tuple[float, float, str]:
    """A point inside the demo grid ``index`` and its grid by gis.assign (not the API)."""
    grids = gpd.read_file(DEMO / "grids.geojson")
    p = grids.geometry.iloc[index].representative_point()
    frame = gpd.GeoDataFrame(geometry=[p], crs=grids.crs)
    return p.x, p.y, str(assign_points(frame, grids).iloc[0])


@pytest.fixture
def fresh(fresh_db_url, make_api):
    """An empty deployment: only an administrator, then the division through the API."""
    add_users(fresh_db_url, {"boss": (Role.ADMIN, [])})
    api = make_api(fresh_db_url)
    body = {
        "grids": _fc(DEMO / "grids.geojson"),
        "boundary": _fc(DEMO / "boundary.geojson")["features"][0],
        "community": "外滩源社区",
        "effective_date": "2026-01-01",
    }
    r = api.client.post("/divisions", json=body, headers=api.as_("boss"))
    assert r.status_code == 201, r.text
    api.community_id = r.json()["community"]["id"]
    return api


def _post(api, path, body, user="boss", status=201):
    r = api.client.post(path, json=body, headers=api.as_(user))
    assert r.status_code == status, (path, r.text)
    return r.json()


def _staff(api, name, **fields):
    body = {"name": name, "phone": "13800001111", "community_id": api.community_id, **fields}
    return _post(api, "/staff", body)


def _user(api, username, role, staff_id=None, grids=()):
    body = {"username": username, "password": PASSWORD, "role": role, "staff_id": staff_id,
            "grid_codes": list(grids)}  # fmt: skip
    return _post(api, "/users", body)


def _pdf_text(data: bytes, tmp: Path) -> str:
    pdf = tmp / "slip.pdf"
    pdf.write_bytes(data)
    done = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, text=True
    )
    return done.stdout


def _check_slip(api, iid: int, history: list[dict]) -> None:
    """The printed 信息反馈单 holds every step (who, role, department, time) and signature
    lines; its text read back with poppler's pdftotext."""
    r = api.client.get(f"/incidents/{iid}/slip.pdf", headers=api.as_("boss"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    with tempfile.TemporaryDirectory() as folder:
        text = _pdf_text(r.content, Path(folder))
    flat = " ".join(text.split())
    assert "信息反馈单" in flat and f"事件编号：{iid}" in flat
    for label in ("网格员（发现人）签字", "岗位责任人（承办人）签字", "签收人（上报对象）签字"):
        assert label in flat
    for step in history:
        local = dt.datetime.fromisoformat(step["at"])
        assert local.utcoffset() == dt.timedelta(hours=8)
        assert local.isoformat(sep=" ", timespec="seconds") in flat, step
    for name in ("市容员乙", "城管干部丙", "城市管理中心", "垃圾堆放", "市容巡查岗"):
        assert name in flat
    assert flat.count("+08:00") >= len(history) + 2  # steps, report time, deadline
    assert api.client.get(f"/incidents/{iid}/slip.pdf").status_code == 401
    # the same slip from the command line
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cli.pdf"
        done = CliRunner().invoke(
            cli_app, ["incidents", "slip", str(iid), "--out", str(out), "--db", api.url]
        )
        assert done.exit_code == 0, done.output
        assert "城管干部丙" in _pdf_text(out.read_bytes(), Path(folder))
        missing = CliRunner().invoke(
            cli_app, ["incidents", "slip", "999999", "--out", str(out), "--db", api.url]
        )
        assert missing.exit_code == 2


def test_nothing_configured_every_service_code_is_accepted_unassigned(fresh):
    api = fresh
    lon, lat, grid = _point_in_grid(0)
    head = _staff(api, "社区书记甲", role="grid_leader")
    _user(api, "head", "community_head", head["id"])
    _user(api, "gw", "grid_worker", grids=[grid])
    codes = [s["service_code"] for s in api.client.get("/open311/v2/services.json").json()]
    assert len(codes) >= 40
    ids = []
    for code in codes:
        r = api.client.post(
            "/incidents",
            json={"category_code": code, "lon": lon, "lat": lat, "description": f"测试 {code}"},
            headers=api.as_("gw"),
        )
        assert r.status_code == 201, (code, r.text)
        item = r.json()
        assert item["grid_code"] == grid and item["unassigned"] is True
        assert item["handler_staff_id"] is None and item["handler_user_id"] is None
        assert len(item["warnings"]) == 1 and "community head" in item["warnings"][0]
        ids.append(item["id"])
    inbox = api.client.get("/incidents/inbox", headers=api.as_("head")).json()
    assert {d["id"] for d in inbox["data"]} >= set(ids)


def test_deployment_from_scratch_routes_to_the_configured_post(fresh):
    api = fresh
    lon, lat, grid = _point_in_grid(3)
    # posts, departments, staff, routing rules: all through the API
    _post(api, "/posts", {"name": "市容巡查岗", "code": "SRXC"})
    assert _post(api, "/posts", {"name": "市容巡查岗"}, status=409)
    cg = _post(api, "/departments", {"code": "CGZX", "name": "城市管理中心"})
    pa = _post(api, "/departments", {"code": "PAB", "name": "平安办"})
    assert cg["members"] == [] and pa["members"] == []
    bad = api.client.put(
        "/routing",
        json=[{"category_code": "0303", "post": "市容巡查岗"},
              {"category_code": "0303", "post": "没有这个岗"},
              {"category_code": "9999"}],
        headers=api.as_("boss"),
    )  # fmt: skip
    assert bad.status_code == 422 and [e["row"] for e in bad.json()["errors"]] == [2, 3]
    unchanged = api.client.get("/routing", headers=api.as_("boss")).json()["data"]
    assert next(r for r in unchanged if r["category_code"] == "0303")["post"] == "城建管理岗"
    rule = api.client.put(
        "/routing/categories/0303",
        json={"post": "市容巡查岗", "department_code": "CGZX"},
        headers=api.as_("boss"),
    )
    assert rule.status_code == 200, rule.text
    assert rule.json() == {
        "category_code": "0303",
        "category_name": "垃圾未及时清运",
        "post": "市容巡查岗",
        "public": True,
        "department_code": "CGZX",
    }
    unknown = api.client.post(
        "/staff",
        json={"name": "某人", "role": "post_staff", "phone": "13800001112", "post": "不存在岗"},
        headers=api.as_("boss"),
    )
    assert unknown.status_code == 422 and "市容巡查岗" in unknown.json()["detail"]
    patrol = _staff(api, "市容员乙", role="post_staff", post="市容巡查岗", staff_no="G0002")
    assert patrol["post"] == "市容巡查岗" and patrol["staff_no"] == "G0002"
    head = _staff(api, "社区书记甲", role="grid_leader")
    officer = _staff(api, "城管干部丙", role="grid_instructor", department="CGZX", staff_no="J001")
    guard = _staff(api, "平安干部丁", role="grid_instructor", department="PAB")
    members = api.client.get("/departments", headers=api.as_("boss")).json()["data"]
    assert {d["code"]: [m["name"] for m in d["members"]] for d in members} == {
        "CGZX": ["城管干部丙"], "PAB": ["平安干部丁"]}  # fmt: skip
    _user(api, "patrol", "post_staff", patrol["id"])
    _user(api, "head", "community_head", head["id"])
    _user(api, "cg", "street_dept", officer["id"])
    _user(api, "pa", "street_dept", guard["id"])
    _user(api, "gw", "grid_worker", grids=[grid])

    # a new report goes to the configured post and its holder
    r = api.client.post(
        "/incidents",
        json={"category_code": "0303", "lon": lon, "lat": lat, "description": "垃圾堆放"},
        headers=api.as_("gw"),
    )
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["handler_post"] == "市容巡查岗" and item["handler_staff_id"] == patrol["id"]
    assert item["unassigned"] is False and item["warnings"] == []
    iid = item["id"]

    def step(user, action, **body):
        return api.client.post(
            f"/incidents/{iid}/transitions", json={"action": action, **body}, headers=api.as_(user)
        )

    assert step("gw", "feed_back").status_code == 200
    assert step("patrol", "start").status_code == 200
    escalated = step("patrol", "escalate", to="street_dept")
    assert escalated.status_code == 200, escalated.text
    assert escalated.json()["escalated_department_id"] == cg["id"]  # from the rule
    # the wrong department and the community head may not sign
    wrong = step("pa", "receive")
    assert wrong.status_code == 403
    assert "城市管理中心" in wrong.json()["detail"] and "not a member" in wrong.json()["detail"]
    head_try = step("head", "receive")
    assert head_try.status_code == 403 and "street_dept" in head_try.json()["detail"]
    inbox_pa = api.client.get("/incidents/inbox", headers=api.as_("pa")).json()["data"]
    inbox_cg = api.client.get("/incidents/inbox", headers=api.as_("cg")).json()["data"]
    assert iid not in {d["id"] for d in inbox_pa} and iid in {d["id"] for d in inbox_cg}
    assert step("cg", "receive").status_code == 200
    assert step("cg", "resolve", note="已清运").status_code == 200
    history = api.client.get(f"/incidents/{iid}/history", headers=api.as_("boss")).json()["data"]
    assert [(h["action"], h["name"], h["role_name"], h["department"]) for h in history] == [
        ("report", None, "网格员", None),
        ("feed_back", None, "网格员", None),
        ("start", "市容员乙", "岗位责任人", None),
        ("escalate", "市容员乙", "岗位责任人", None),
        ("receive", "城管干部丙", "街道部门", "城市管理中心"),
        ("resolve", "城管干部丙", "街道部门", "城市管理中心"),
    ]

    _check_slip(api, iid, history)

    # the handler leaves: their open items are listed, new ones are not routed to them
    second = _post(api, "/incidents", {"category_code": "0303", "lon": lon, "lat": lat}, "gw")
    assert second["handler_staff_id"] == patrol["id"]
    off = api.client.patch(
        f"/staff/{patrol['id']}", json={"active": False}, headers=api.as_("boss")
    )
    assert off.status_code == 200 and off.json()["active"] is False
    assert off.json()["post"] == "市容巡查岗" and off.json()["staff_no"] == "G0002"
    left = api.client.get(f"/staff/{patrol['id']}/open-incidents", headers=api.as_("head"))
    assert [d["id"] for d in left.json()["data"]] == [second["id"]]
    third = _post(api, "/incidents", {"category_code": "0303", "lon": lon, "lat": lat}, "gw")
    assert third["unassigned"] is True and third["warnings"]
    successor = _staff(api, "市容员戊", role="post_staff", post="市容巡查岗")
    refused = api.client.post(
        f"/incidents/{second['id']}/reassign",
        json={"staff_id": patrol["id"]},
        headers=api.as_("head"),
    )
    assert refused.status_code == 422
    moved = api.client.post(
        f"/incidents/{second['id']}/reassign",
        json={"staff_id": successor["id"]},
        headers=api.as_("head"),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["handler_staff_id"] == successor["id"]
    assert moved.json()["history"][-1]["action"] == "reassign"
    fourth = _post(api, "/incidents", {"category_code": "0303", "lon": lon, "lat": lat}, "gw")
    assert fourth["handler_staff_id"] == successor["id"]
    assert api.client.get(f"/staff/{patrol['id']}/open-incidents",
                          headers=api.as_("head")).json()["count"] == 0  # fmt: skip


def test_escalation_to_a_named_department_and_to_the_community_head(fresh):
    api = fresh
    lon, lat, grid = _point_in_grid(1)
    _post(api, "/departments", {"code": "PAB", "name": "平安办"})
    _post(api, "/departments", {"code": "CGZX", "name": "城市管理中心"})
    post = _staff(api, "综治员", role="post_staff", post="综治维稳岗")
    guard = _staff(api, "平安干部", role="grid_instructor", department="PAB")
    officer = _staff(api, "城管干部", role="grid_instructor", department="CGZX")
    head = _staff(api, "书记", role="grid_leader")
    for name, role, staff in (
        ("zz", "post_staff", post),
        ("pa", "street_dept", guard),
        ("cg", "street_dept", officer),
        ("head", "community_head", head),
    ):
        _user(api, name, role, staff["id"])  # fmt: skip
    _user(api, "gw", "grid_worker", grids=[grid])
    made = _post(api, "/incidents", {"category_code": "0605", "lon": lon, "lat": lat}, "gw")
    iid = made["id"]

    def step(user, action, **body):
        return api.client.post(
            f"/incidents/{iid}/transitions", json={"action": action, **body}, headers=api.as_(user)
        )

    assert step("gw", "feed_back").status_code == 200
    assert step("zz", "escalate", to="community_head").status_code == 200
    street_try = step("pa", "receive")  # escalated to the community head: not the street's
    assert street_try.status_code == 403 and "community_head" in street_try.json()["detail"]
    assert step("head", "receive").status_code == 200
    unknown = step("head", "escalate", department="NOPE")
    assert unknown.status_code == 422 and "PAB" in unknown.json()["detail"]
    assert step("head", "escalate", department="PAB").status_code == 200
    wrong = step("cg", "receive")
    assert wrong.status_code == 403 and "平安办" in wrong.json()["detail"]
    assert step("pa", "receive").status_code == 200


def test_patch_staff_changes_only_the_fields_sent(demo_api):
    api = demo_api
    staff = api.client.get("/staff", params={"limit": 1000}, headers=api.as_("admin")).json()
    no_phone = next(s for s in staff["data"] if s["phone"] is None)
    r = api.client.patch(
        f"/staff/{no_phone['id']}", json={"active": False}, headers=api.as_("admin")
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["active"] is False and after["phone"] is None
    assert {k: v for k, v in after.items() if k != "active"} == {
        k: v for k, v in no_phone.items() if k != "active"
    }
    # a field sent is still checked
    bad = api.client.patch(
        f"/staff/{no_phone['id']}", json={"phone": "12345"}, headers=api.as_("admin")
    )
    assert bad.status_code == 422 and "phone" in bad.text
    numbered = api.client.patch(
        f"/staff/{no_phone['id']}", json={"staff_no": "A-17"}, headers=api.as_("admin")
    )
    assert numbered.status_code == 200 and numbered.json()["staff_no"] == "A-17"
    assert numbered.json()["post"] == no_phone["post"]
