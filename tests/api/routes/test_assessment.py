"""The assessment API and the dashboard on the shared demo database (both engines).

Hand-computed figures (docs/design.md §2): each sample point 6 points; a wrong house field 0.5;
a person found on the spot who is not registered 6 (the whole point); departments 5 × 8.
"""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from api.routes import assessment as assessment_routes
from api.services.registry.templates import FIELD_CHECK, write_template

COMMUNITY, MONTH = "310101002005", "2026-03"
DEPTS = ("office", "social_affairs", "economy", "urban_management", "stability")


@pytest.fixture
def client_api(api):
    app = api.client.app
    if not any(getattr(r, "path", "") == "/assessment/draws" for r in app.routes):
        app.include_router(assessment_routes.router)
    return api


def test_draw_score_report_and_dashboard(client_api, tmp_path):
    api, c = client_api, client_api.client
    dept, head = api.as_("street_dept"), api.as_("community_head")
    assert c.post("/assessment/draws", headers=head,
                  json={"community": COMMUNITY, "month": MONTH}).status_code == 403  # fmt: skip
    drawn = c.post("/assessment/draws", headers=dept, json={"community": COMMUNITY, "month": MONTH})
    assert drawn.status_code == 201, drawn.text
    keys = [h["house_key"] for h in drawn.json()["households"]]
    assert len(keys) == 10
    again = c.post("/assessment/draws", headers=dept, json={"community": COMMUNITY, "month": MONTH})
    assert again.json()["created"] is False and again.json()["seed"] == drawn.json()["seed"]

    for code in DEPTS:
        r = c.put("/assessment/department-scores", headers=dept,
                  json={"community": COMMUNITY, "month": MONTH, "dept": code, "points": 8,
                        "reason": "按期完成"})  # fmt: skip
        assert r.status_code == 200, r.text
    bad = c.put("/assessment/department-scores", headers=dept,
                json={"community": COMMUNITY, "month": MONTH, "dept": "office", "points": 8,
                      "reason": ""})  # fmt: skip
    assert bad.status_code == 422

    # Form entry: k0 owner wrong (5.5), k1 a person living there unregistered (0), rest 6.
    owner = c.post("/assessment/points", headers=dept,
                   json={"community": COMMUNITY, "month": MONTH, "house_key": keys[0],
                         "house": {"owner": "某乙"}})  # fmt: skip
    assert owner.status_code == 200, owner.text
    assert owner.json()["score"] == 5.5
    (d,) = owner.json()["deductions"]
    assert (d["field"], d["field_value"], d["points"]) == ("owner", "某乙", 0.5)
    stranger = c.post("/assessment/points", headers=dept,
                      json={"community": COMMUNITY, "month": MONTH, "house_key": keys[1],
                            "residents": [{"name": "钱九", "birth_date": "1990-1-1"}]})  # fmt: skip
    assert stranger.json()["score"] == 0.0
    assert stranger.json()["deductions"][0]["rule"] == "missing_registration"
    for key in keys[2:]:
        r = c.post("/assessment/points", headers=dept,
                   json={"community": COMMUNITY, "month": MONTH, "house_key": key})  # fmt: skip
        assert r.json()["score"] == 6.0
    result = c.get(f"/assessment/results?community={COMMUNITY}&month={MONTH}", headers=head)
    assert result.status_code == 200
    assert result.json()["total"] == 40 + 5.5 + 0 + 8 * 6  # 93.5

    # The workbook upload: k2's use found different (0.5) → 93.0.
    workbook = write_template(FIELD_CHECK, tmp_path / "f.xlsx")
    wb = load_workbook(workbook)
    ws = wb["房屋"]
    headers = [cell.value for cell in ws[1]]
    row = {"房屋编号": keys[2], "房屋用途": "群租"}
    ws.append([row.get(h) for h in headers])
    wb.save(workbook)
    up = c.post("/assessment/field-data", headers=dept,
                data={"community": COMMUNITY, "month": MONTH},
                files={"file": ("f.xlsx", workbook.read_bytes())})  # fmt: skip
    assert up.status_code == 200, up.text
    assert up.json()["total"] == 93.0

    xlsx = c.get(f"/assessment/report?month={MONTH}&format=xlsx", headers=head)
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.headers["content-type"]
    ranking = list(load_workbook(io.BytesIO(xlsx.content))["排名"].iter_rows(values_only=True))
    assert ranking[1][ranking[0].index("总分(100)")] == 93.0
    pdf = c.get(f"/assessment/report?month={MONTH}&format=pdf", headers=head)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert (
        c.get(f"/assessment/report?month={MONTH}", headers=api.as_("grid_worker")).status_code
        == 403
    )

    board = c.get(f"/dashboard/data?month={MONTH}", headers=head)
    assert board.status_code == 200, board.text
    (row,) = [r for r in board.json()["communities"] if r["community"]["code"] == COMMUNITY]
    assert row["score"] == 93.0
    # No patrol stored for March 2026: every ended worker-week (5 Mondays) is short of 15 h.
    patrol = row["patrol"]
    assert patrol["workers"] >= 11  # 10 demo staff grid workers + the grid_worker user
    assert patrol["worker_weeks"] == 5 * patrol["workers"] and patrol["compliant"] == 0
    assert row["patrol_compliance"] == 0.0
    assert row["on_time_share"] is None or 0.0 <= row["on_time_share"] <= 1.0


def test_old_dashboard_address_leads_to_the_staff_dashboard():
    from fastapi.testclient import TestClient

    from api.app import create_app

    client = TestClient(create_app("sqlite://", secret_key="x" * 32))
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/app/dashboard"
    page = client.get("/dashboard")
    assert page.status_code == 200 and 'data-page="dashboard"' in page.text
