"""Ledgers (台账) over the API and the CLI, on both databases: every ledger opens in openpyxl
with its documented Chinese headers and the rows the database holds; residents and special
rosters are masked unless an approved request covers the whole export, which leaves one
audit row; API-reported incidents get a 事件编号; a worker's own actions write signed
work-log rows; ``GET /residents?special=``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from pathlib import Path

import geopandas as gpd
import openpyxl
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.db.engine import make_engine, session_factory
from api.db.models import Role
from api.services.crud import create_user
from api.services.incidents.workflow import STATES
from api.services.registry.ledgers import LEDGER_COLUMNS
from api.services.registry.validators import mask_id_number, mask_phone
from tests.api.routes.conftest import DEMO_GRIDS, PASSWORD, valid_id_number

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"
GRIDS = gpd.read_file(DEMO / "grids.geojson").set_index("code")
_serial = itertools.count(301, 2)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _sql(api, query: str, **params):
    engine = make_engine(api.url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query), params).all()
    finally:
        engine.dispose()


def _community(api) -> dict:
    return api.client.get("/communities", headers=api.as_("admin")).json()["data"][0]


def _house(api, grid: str, who: str) -> dict:
    p = GRIDS.geometry[grid].representative_point()
    r = api.client.post("/houses", headers=api.as_(who), json={
        "community_id": _community(api)["id"], "address": f"台账路 {next(_serial)} 号",
        "house_type": "01", "lon": p.x, "lat": p.y,
    })  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


def _resident(api, house_id: int, who: str) -> tuple[dict, str, str]:
    serial = next(_serial)
    id_number, phone = valid_id_number(serial), f"139{serial:08d}"
    r = api.client.post("/residents", headers=api.as_(who), json={
        "house_id": house_id, "name": f"居民{serial}", "id_number": id_number, "gender": "1",
        "population_type": "10", "phone": phone, "ethnicity": "汉族",
    })  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json(), id_number, phone


def _disability(api, resident_id: int, who: str) -> None:
    r = api.client.post(f"/residents/{resident_id}/special-statuses", headers=api.as_(who),
                        json={"category": "disability", "fields": {
                            "disability_cert_no": "31010119800101001X", "disability_kind": "肢体",
                            "disability_grade": "二级"}})  # fmt: skip
    assert r.status_code == 201, r.text


def _export(api, kind: str, who: str = "street_dept", **params):
    query = {"community": _community(api)["code"], **params}
    return api.client.get(f"/exports/{kind}", headers=api.as_(who), params=query)


def _sheet(response) -> tuple[list[str], list[list]]:
    assert response.status_code == 200, response.text
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    rows = [list(r) for r in book.active.iter_rows(values_only=True)]
    return [str(h) for h in rows[0]], rows[1:]


def _column(header: list[str], rows: list[list], name: str) -> list:
    return [r[header.index(name)] for r in rows]


def test_every_ledger_opens_with_its_documented_columns(demo_api, tmp_path):
    api = demo_api
    house = _house(api, DEMO_GRIDS[0], "grid_worker")
    resident, _, _ = _resident(api, house["id"], "grid_worker")
    _disability(api, resident["id"], "grid_worker")
    p = GRIDS.geometry[DEMO_GRIDS[0]].representative_point()
    reported = api.client.post("/incidents", headers=api.as_("grid_worker"), json={
        "category_code": "0201", "description": "新开商铺", "lon": p.x, "lat": p.y})  # fmt: skip
    assert reported.status_code == 201, reported.text
    incident = reported.json()
    # an API-reported incident gets a number: SJ + local report date + id
    local_day = dt.datetime.fromisoformat(incident["reported_at"]).strftime("%Y%m%d")
    assert incident["external_id"] == f"SJ{local_day}-{incident['id']:06d}"
    fed = api.client.post(f"/incidents/{incident['id']}/transitions", headers=api.as_(
        "grid_worker"), json={"action": "feed_back"})  # fmt: skip
    assert fed.status_code == 200, fed.text

    counts = {
        "incidents": "SELECT count(*) FROM incidents i JOIN communities c ON c.id = "
                     "i.community_id WHERE c.code = :c",
        "residents": "SELECT count(*) FROM residents r JOIN houses h ON h.id = r.house_id "
                     "JOIN communities c ON c.id = h.community_id WHERE c.code = :c",
        "special": "SELECT count(*) FROM special_statuses s JOIN residents r ON r.id = "
                   "s.resident_id JOIN houses h ON h.id = r.house_id JOIN communities c ON "
                   "c.id = h.community_id WHERE c.code = :c",
        "staff": "SELECT count(*) FROM staff s JOIN communities c ON c.id = s.community_id "
                 "WHERE c.code = :c",
        "worklog": "SELECT count(*) FROM work_log WHERE worker = 'grid_worker'",
    }  # fmt: skip
    code = _community(api)["code"]
    for kind, query in counts.items():
        response = _export(api, kind)
        assert response.headers["content-type"] == XLSX
        header, rows = _sheet(response)
        # the incident ledger has points: WGS84 经度/纬度 close it
        points = ["经度", "纬度"] if kind == "incidents" else []
        assert header == [*LEDGER_COLUMNS[kind].values(), *points], kind
        assert len(rows) == _sql(api, query, c=code)[0][0] > 0, kind
        as_csv = _export(api, kind, format="csv")
        table = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
        assert table[0] == header and len(table) - 1 == len(rows), kind

    header, rows = _sheet(_export(api, "incidents"))
    mine = next(r for r in rows if r[header.index("事件编号")] == incident["external_id"])
    got = dict(zip(header, mine, strict=True))
    assert (got["类别代码"], got["网格编码"], got["上报人"]) == ("0201", DEMO_GRIDS[0],
                                                           "grid_worker")  # fmt: skip
    assert got["状态"] == STATES["fed_back"][0] and got["上报时间"].endswith("+08:00")
    assert got["处置时限"].endswith("+08:00") and got["是否按时"] == "未到期"
    assert all(_column(header, rows, "事件编号"))  # every incident has a number
    # 满意度: a staff call-back on a closed incident shows in its row, by its Chinese name
    closed = _sql(api, "SELECT i.id, i.external_id FROM incidents i JOIN communities c ON "
                       "c.id = i.community_id WHERE c.code = :c AND i.state = 'closed' "
                       "ORDER BY i.id", c=_community(api)["code"])[0]  # fmt: skip
    called = api.client.post(
        f"/incidents/{closed[0]}/satisfaction",
        headers=api.as_("street_dept"),
        json={"level": "基本满意"},
    )
    assert called.status_code == 201, called.text
    header, rows = _sheet(_export(api, "incidents"))
    rated = {r[header.index("事件编号")]: r[header.index("满意度")] for r in rows}
    assert rated[closed[1]] == "基本满意"
    assert sum(1 for v in rated.values() if v) == _sql(
        api, "SELECT count(*) FROM satisfaction s JOIN incidents i ON i.id = s.incident_id "
             "JOIN communities c ON c.id = i.community_id WHERE c.code = :c",
        c=_community(api)["code"])[0][0]  # fmt: skip
    # --month keeps that month's reports only; --category a category or its group
    month = dt.datetime.fromisoformat(incident["reported_at"]).strftime("%Y-%m")
    _, in_month = _sheet(_export(api, "incidents", month=month, category="02"))
    assert [r[0] for r in in_month] == [incident["external_id"]]
    assert _export(api, "residents", month="2026-13").status_code == 422
    assert _export(api, "staff", category="02").status_code == 422
    assert _export(api, "incidents", category="%").status_code == 422
    assert _export(api, "special", category="nonsense").status_code == 422

    # The worker's own actions are in the work log, signed: the house, the resident, the
    # special status, the report and the feed-back.
    header, rows = _sheet(_export(api, "worklog"))
    kinds = sorted((r[header.index("类型")], r[header.index("记录")]) for r in rows
                   if r[header.index("网格员")] == "grid_worker")  # fmt: skip
    assert kinds == sorted([
        ("登记", f"houses#{house['id']}"), ("登记", f"residents#{resident['id']}"),
        ("变更", f"residents#{resident['id']}"), ("登记", f"incidents#{incident['id']}"),
        ("反馈", f"incidents#{incident['id']}"),
    ])  # fmt: skip
    assert all(r[header.index("签名")] and r[header.index("签名时间")].endswith("+08:00")
               for r in rows)  # fmt: skip

    # The same over the CLI; a ledger without geometry refuses a spatial format (exit 2).
    app = cli_app
    runner = CliRunner()
    out = tmp_path / "staff.xlsx"
    done = runner.invoke(app, ["export", "staff", "--community", code, "--out", str(out),
                               "--db", api.url, "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    book = openpyxl.load_workbook(out)
    assert [c.value for c in book.active[1]] == list(LEDGER_COLUMNS["staff"].values())
    bad = runner.invoke(app, ["export", "residents", "--community", code, "--out",
                              str(tmp_path / "r.gpkg"), "--db", api.url])  # fmt: skip
    assert bad.exit_code == 2 and not (tmp_path / "r.gpkg").exists()
    # grid workers may not export; a community head only their own community
    assert _export(api, "staff", who="grid_worker").status_code == 403
    assert _export(api, "staff", who="community_head").status_code == 403
    leader = _sql(api, "SELECT s.id FROM staff s JOIN communities c ON c.id = s.community_id "
                       "WHERE c.code = :c ORDER BY s.id", c=code)[0][0]  # fmt: skip
    engine = make_engine(api.url)
    with session_factory(engine).begin() as session:
        create_user(session, username="head_here", password=PASSWORD,
                    role=Role.COMMUNITY_HEAD, staff_id=leader)  # fmt: skip
    engine.dispose()
    assert _export(api, "staff", who="head_here").status_code == 200


def _request(api, who: str, **scope) -> int:
    body = {"reason": "年度台账报送 / annual ledger filing", **scope}
    r = api.client.post("/access-requests", headers=api.as_(who), json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _audit_rows(api) -> list:
    return _sql(api, "SELECT username, detail FROM audit_log WHERE action = 'unmask_export' "
                     "ORDER BY id")  # fmt: skip


def _without_demo_residents(api) -> None:
    """Remove the demo's fictional residents, so the test's own are the whole roster."""
    engine = make_engine(api.url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM special_statuses"))
            conn.execute(sa.text("DELETE FROM residents"))
    finally:
        engine.dispose()


def test_unmasked_export_needs_a_covering_request_and_is_audited(demo_api, tmp_path):
    api = demo_api
    _without_demo_residents(api)
    people = []
    for grid in DEMO_GRIDS:
        house = _house(api, grid, "community_head")
        resident, id_number, phone = _resident(api, house["id"], "community_head")
        _disability(api, resident["id"], "community_head")
        people.append((id_number, phone))
    # masked by default, and no audit row
    header, rows = _sheet(_export(api, "residents"))
    assert sorted(_column(header, rows, "身份证号码")) == sorted(
        mask_id_number(i) for i, _ in people
    )
    assert sorted(_column(header, rows, "联系电话")) == sorted(mask_phone(p) for _, p in people)
    assert _export(api, "residents").headers["x-masked"] == "true"
    # unmask without any request: refused
    assert _export(api, "residents", unmask="true").status_code == 403
    # a grid request covers only one of the two residents: still refused
    grid_req = _request(api, "street_dept", grid_code=DEMO_GRIDS[0])
    assert api.client.post(f"/access-requests/{grid_req}/approve",
                           headers=api.as_("community_head")).status_code == 200  # fmt: skip
    refused = _export(api, "residents", unmask="true")
    assert refused.status_code == 403 and "1" in refused.json()["detail"]
    # ...but it covers a special roster of that grid's residents? No: the roster holds both.
    assert _export(api, "special", unmask="true", category="disability").status_code == 403
    assert _audit_rows(api) == []
    # a community-roster request, rejected: still refused; approved: unmasked and audited
    code = _community(api)["code"]
    rejected = _request(api, "street_dept", community=code)
    assert api.client.post(f"/access-requests/{rejected}/reject",
                           headers=api.as_("community_head")).status_code == 200  # fmt: skip
    assert _export(api, "residents", unmask="true").status_code == 403
    roster = _request(api, "street_dept", community=code)
    approved = api.client.post(
        f"/access-requests/{roster}/approve",
        headers=api.as_("community_head"),  # approvers are not the account administrator
        json={"valid_hours": 2},
    )
    assert approved.status_code == 200 and approved.json()["community_id"] is not None
    full = _export(api, "residents", unmask="true")
    header, rows = _sheet(full)
    assert full.headers["x-masked"] == "false"
    assert sorted(_column(header, rows, "身份证号码")) == sorted(i for i, _ in people)
    assert sorted(_column(header, rows, "联系电话")) == sorted(p for _, p in people)
    audit = _audit_rows(api)
    assert len(audit) == 1
    username, detail = audit[0]
    detail = detail if isinstance(detail, dict) else __import__("json").loads(detail)
    assert username == "street_dept" and detail["export"] == "residents"
    assert detail["community"] == code and detail["rows"] == len(rows)
    assert detail["access_request_ids"] == [roster]
    special = _export(api, "special", unmask="true", category="disability", format="csv")
    table = list(csv.reader(io.StringIO(special.content.decode("utf-8-sig"))))
    ids = [r[table[0].index("身份证号码")] for r in table[1:]]
    assert sorted(ids) == sorted(i for i, _ in people) and len(_audit_rows(api)) == 2
    # the request expires: masked again (refused when asked unmasked)
    api.clock.advance(hours=3)
    assert _export(api, "residents", unmask="true").status_code == 403
    assert len(_audit_rows(api)) == 2
    # the CLI needs --user for --unmask, and that user's covering request
    app = cli_app
    runner = CliRunner()
    args = ["export", "residents", "--community", code, "--db", api.url, "--unmask"]
    no_user = runner.invoke(app, [*args, "--out", str(tmp_path / "a.xlsx")])
    assert no_user.exit_code == 2 and not (tmp_path / "a.xlsx").exists()
    stranger = runner.invoke(app, [*args, "--user", "planner", "--out", str(tmp_path / "b.xlsx")])
    assert stranger.exit_code == 2 and len(_audit_rows(api)) == 2
    # street_dept's roster request is still valid by the wall clock the CLI reads
    out = tmp_path / "c.xlsx"
    done = runner.invoke(app, [*args, "--user", "street_dept", "--out", str(out)])
    assert done.exit_code == 0, done.output
    sheet = openpyxl.load_workbook(out).active
    column = [c.value for c in sheet[1]].index("身份证号码")
    full_ids = sorted(row[column] for row in sheet.iter_rows(min_row=2, values_only=True))
    assert full_ids == sorted(i for i, _ in people) and len(_audit_rows(api)) == 3
