"""Supervision and public opinion, end to end on SpatiaLite and PostGIS: a closed incident's
feedback slip carries a one-time rating link (its QR code read back by an independent
decoder, zxing-cpp), the resident rates through it without signing in, a second rating is
refused (409); a staff call-back on another incident; surveys answered on the phone and on
paper; and the monthly appraisal per worker recomputed here from the raw rows.

Wilson intervals are checked against statsmodels' ``proportion_confint(method="wilson")``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess

import pytest
import sqlalchemy as sa
import zxingcpp
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from PIL import Image
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.core.config import get_settings
from api.db.engine import make_engine, session_factory
from api.db.models import Community, Incident, Role, Staff, StaffGrid, User
from api.db.models.assessment import (
    AssessmentDeptScore,
    AssessmentPoint,
    PatrolDay,
    PatrolTrack,
)
from api.db.models.opinion import Satisfaction
from api.services.appraisal.formula import check_weights, read_weights, wilson_interval
from api.services.assessment import service as assessment
from api.services.crud import create_user
from gis.errors import InputError
from tests.api.incident_helpers import demo_house, make_app, shared_env, token
from tests.api.routes.conftest import PASSWORD, ManualClock

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MONTH = "2026-11"
PUBLIC_URL = "https://wangge.example.gov.cn/base"
DEPTS = ("office", "social_affairs", "economy", "urban_management", "stability")
FAVOURABLE = {"satisfied", "basic"}  # 满意 + 基本满意 (data/codes/satisfaction_level.csv)
DEFAULT_WEIGHTS = {"assessment": 40.0, "on_time": 20.0, "patrol": 20.0, "satisfaction": 20.0}


# --------------------------------------------------------------------------- pure rules


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_agrees_with_statsmodels(kn):
    k, n = kn
    low, high = wilson_interval(k, n)
    ref_low, ref_high = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert low == pytest.approx(ref_low, abs=1e-12)
    assert high == pytest.approx(ref_high, abs=1e-12)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_interval_of_nothing_and_of_nonsense():
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_weights_are_validated(tmp_path):
    assert read_weights() == DEFAULT_WEIGHTS
    with pytest.raises(InputError, match="100"):
        check_weights({**DEFAULT_WEIGHTS, "patrol": 30})
    with pytest.raises(InputError, match="patrol"):
        check_weights({k: v for k, v in DEFAULT_WEIGHTS.items() if k != "patrol"})
    with pytest.raises(InputError, match="on_time"):
        check_weights({**DEFAULT_WEIGHTS, "on_time": -5, "assessment": 65})
    codes = tmp_path / "codes"
    codes.mkdir()
    (codes / "appraisal_weights.csv").write_text(
        "component,weight_percent\nassessment,40\non_time,20\npatrl,20\nsatisfaction,20\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"row 4.*patrl"):
        read_weights(tmp_path)


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def env(db_url, tmp_path_factory, request):
    return shared_env(db_url, tmp_path_factory, request)


@pytest.fixture
def public_url(monkeypatch):
    monkeypatch.setenv("WANGGE_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    yield PUBLIC_URL
    monkeypatch.delenv("WANGGE_PUBLIC_URL")
    get_settings.cache_clear()


@pytest.fixture
def web(env, public_url):
    clock = ManualClock(dt.datetime(2026, 11, 3, 9, 0, tzinfo=SHANGHAI))
    with TestClient(make_app(env.url, clock)) as client:
        yield client, clock


def _auth(client, user):
    return {"Authorization": f"Bearer {token(client, user)}"}


def _closed_incident(client, clock, description: str) -> int:
    address, *_ = demo_house(3)
    gw, post = _auth(client, "gw"), _auth(client, "post_cj")
    r = client.post(
        "/incidents",
        headers=gw,
        json={"category_code": "0303", "description": description, "address": address},
    )
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    for who, action in ((gw, "feed_back"), (post, "start"), (post, "resolve"), (gw, "close")):
        clock.advance(minutes=30)
        step = client.post(
            f"/incidents/{iid}/transitions",
            headers=who,
            json={"action": action, "note": "现场核查"},
        )
        assert step.status_code == 200, (action, step.text)
    return iid


def _qr_urls(pdf: bytes, tmp_path) -> list[str]:
    """Every QR code on the PDF's pages, decoded by zxing-cpp from a 300 dpi rendering."""
    (tmp_path / "slip.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "300", "-png", str(tmp_path / "slip.pdf"), str(tmp_path / "page")],
        check=True,
    )
    found = []
    for png in sorted(tmp_path.glob("page*.png")):
        found += [
            b.text
            for b in zxingcpp.read_barcodes(Image.open(png))
            if b.format == zxingcpp.BarcodeFormat.QRCode
        ]
    return found


def _far_worker(env) -> str:
    """A grid worker serving a grid other than the demo house's (created once)."""
    name = "gw_far"
    near = demo_house(3)[3]
    engine = make_engine(env.url)
    with session_factory(engine).begin() as s:
        if s.scalar(sa.select(User.id).where(User.username == name)) is None:
            far = next(g for g in env.grid_codes if g != near)
            create_user(s, username=name, password=PASSWORD, role=Role.GRID_WORKER,
                        grid_codes=[far])  # fmt: skip
    engine.dispose()
    return name


def _raw_rows(url: str, staff_id: int, start: dt.datetime, end: dt.datetime):
    """The raw incident and satisfaction rows of one handler for the month."""
    engine = make_engine(url)
    with session_factory(engine)() as s:
        incidents = s.scalars(
            sa.select(Incident).where(
                Incident.handler_staff_id == staff_id,
                Incident.reported_at >= start,
                Incident.reported_at < end,
            )
        ).all()
        levels = s.scalars(
            sa.select(Satisfaction.level)
            .join(Incident, Incident.id == Satisfaction.incident_id)
            .where(
                Incident.handler_staff_id == staff_id,
                Satisfaction.recorded_at >= start,
                Satisfaction.recorded_at < end,
            )
        ).all()
    engine.dispose()
    return incidents, levels


def test_rating_link_on_the_slip_one_rating_and_the_appraisal(env, web, tmp_path):
    client, clock = web
    start = dt.datetime(2026, 11, 1, tzinfo=SHANGHAI)
    end = dt.datetime(2026, 12, 1, tzinfo=SHANGHAI)
    phone = "13912345678"
    iid = _closed_incident(client, clock, f"垃圾未清运，联系电话{phone}")
    head = _auth(client, "head")

    # an open incident cannot be rated
    address, *_ = demo_house(4)
    still_open = client.post(
        "/incidents",
        headers=_auth(client, "gw"),
        json={"category_code": "0303", "description": "井边杂物", "address": address},
    ).json()["id"]
    refused = client.post(f"/incidents/{still_open}/satisfaction/link", headers=head)
    assert refused.status_code == 409 and "尚未办结" in refused.json()["detail"]

    # the slip of the closed incident carries a one-time link, read back from its QR code
    clock.advance(hours=1)
    slip = client.get(f"/incidents/{iid}/slip.pdf", headers=head)
    assert slip.status_code == 200 and slip.content.startswith(b"%PDF")
    (url,) = _qr_urls(slip.content, tmp_path)
    assert url.startswith(f"{PUBLIC_URL}/rate/")
    token_ = url.rsplit("/", 1)[1]
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=slip.content, capture_output=True, check=True
    ).stdout.decode()
    assert "扫码评价" in text
    # only the hash is stored
    engine = make_engine(env.url)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql(
            f"SELECT token_hash FROM satisfaction_links WHERE incident_id = {iid}"
        ).scalar_one()
    engine.dispose()
    assert token_ not in stored and len(stored) == 64

    appraisal_before = client.get(
        f"/appraisal?community=310101002005&month={MONTH}", headers=head
    ).json()

    # the resident: no sign-in; the page and the facts of that incident only
    anon = TestClient(client.app)
    page = anon.get(f"/rate/{token_}")
    assert page.status_code == 200 and "满意度" in page.text
    facts = anon.get(f"/rate/{token_}/facts")
    assert facts.status_code == 200, facts.text
    body = facts.json()
    assert body["incident_id"] == iid and body["state"] == "closed" and not body["rated"]
    assert body["category_code"] == "0303"
    assert phone not in json.dumps(body, ensure_ascii=False)
    assert not {"reporter_name", "handler_staff_id", "address", "lon", "history"} & set(body)
    assert anon.get("/rate/not-a-token/facts").status_code == 404

    clock.advance(minutes=5)
    first = anon.post(f"/rate/{token_}", json={"level": "基本满意", "note": "处理及时"})
    assert first.status_code == 201, first.text
    assert first.json()["level"] == "basic"
    second = anon.post(f"/rate/{token_}", json={"level": "不满意"})
    assert second.status_code == 409
    assert (
        "已评价" in second.json()["detail"] and "one rating per incident" in second.json()["detail"]
    )
    callback = client.post(f"/incidents/{iid}/satisfaction", headers=head, json={"level": "满意"})
    assert callback.status_code == 409
    record = client.get(f"/incidents/{iid}/satisfaction", headers=head).json()
    assert (record["level"], record["source"]) == ("basic", "resident")
    assert anon.get(f"/rate/{token_}/facts").json()["rated"] is True

    # a second incident: a staff call-back (不满意), with who called and when
    other = _closed_incident(client, clock, "路灯不亮")
    # a grid worker of another grid does not read it in full: may not rate it or issue a link
    far = _far_worker(env)
    assert client.post(f"/incidents/{other}/satisfaction/link", headers=_auth(client, far)
                       ).status_code in (403, 404)  # fmt: skip
    refused = client.post(
        f"/incidents/{other}/satisfaction", headers=_auth(client, far), json={"level": "满意"}
    )
    assert refused.status_code in (403, 404)
    called_at = clock().isoformat()
    cb = client.post(
        f"/incidents/{other}/satisfaction",
        headers=head,
        json={
            "level": "dissatisfied",
            "note": "回访：仍有异味",
            "called_by": "李四",
            "called_at": called_at,
        },
    )
    assert cb.status_code == 201, cb.text
    assert cb.json()["called_by"] == "李四" and cb.json()["source"] == "callback"
    assert client.post(f"/incidents/{other}/satisfaction/link", headers=head).status_code == 409
    bad = client.post(f"/incidents/{still_open}/satisfaction", headers=head, json={"level": "好"})
    assert bad.status_code in (409, 422)

    # a complete assessment for the month and planted patrol hours of a demo grid worker
    engine = make_engine(env.url)
    with session_factory(engine).begin() as s:
        drawn = assessment.draw(s, "310101002005", MONTH, by="test")
        for dept, points in zip(DEPTS, (8, 7.5, 6, 8, 7), strict=True):
            assessment.set_department_score(
                s, "310101002005", MONTH, dept=dept, points=points, reason="测试"
            )
        for i, h in enumerate(drawn["households"]):
            house = {"owner": "某乙"} if i == 0 else {}
            assessment.score_household(
                s,
                "310101002005",
                MONTH,
                house_key=h["house_key"],
                house=house,
                residents=None,
                by="test",
            )
        worker = s.scalar(
            sa.select(Staff)
            .join(StaffGrid, StaffGrid.staff_id == Staff.id)
            .where(Staff.role == "grid_worker")
            .order_by(Staff.id)
        )
        track = PatrolTrack(
            worker=worker.name,
            staff_id=worker.id,
            file_name="t.gpx",
            sha256=f"{worker.id:064d}",
            fixes=2,
        )
        s.add(track)
        s.flush()
        code = worker.grid_codes[0]
        for day, hours in (
            (dt.date(2026, 11, 3), 16.0),
            (dt.date(2026, 11, 10), 9.0),
            (dt.date(2026, 11, 12), 5.5),
            (dt.date(2026, 11, 18), 15.0),
        ):
            s.add(
                PatrolDay(
                    track_id=track.id,
                    worker=worker.name,
                    staff_id=worker.id,
                    date=day,
                    grid_code=code,
                    seconds=hours * 3600,
                )
            )
        worker_id, grid_worker_grids = worker.id, list(worker.grid_codes)
        community_id = s.scalar(sa.select(Community.id).where(Community.code == "310101002005"))
        assessment_total = sum(
            s.scalars(
                sa.select(AssessmentDeptScore.points).where(
                    AssessmentDeptScore.community_id == community_id,
                    AssessmentDeptScore.month == MONTH,
                )
            )
        ) + sum(
            s.scalars(
                sa.select(AssessmentPoint.score).where(
                    AssessmentPoint.community_id == community_id, AssessmentPoint.month == MONTH
                )
            )
        )
    engine.dispose()
    assert assessment_total == pytest.approx(8 + 7.5 + 6 + 8 + 7 + 5.5 + 9 * 6)

    # rewards and accountability
    rec = client.post(
        "/appraisal/records",
        headers=head,
        json={
            "staff_id": env.city_staff_id,
            "kind": "奖励",
            "reason": "月度表扬",
            "decided_by": "街道办事处",
            "decided_on": "2026-11-20",
        },
    )
    assert rec.status_code == 201, rec.text
    assert (
        client.post(
            "/appraisal/records",
            headers=head,
            json={
                "staff_id": env.city_staff_id,
                "kind": "问责",
                "reason": "",
                "decided_by": "x",
                "decided_on": "2026-11-20",
            },
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/appraisal/records",
            headers=head,
            json={
                "staff_id": 10**6,
                "kind": "问责",
                "reason": "r",
                "decided_by": "x",
                "decided_on": "2026-11-20",
            },
        ).status_code
        == 404
    )

    # the appraisal, recomputed from the raw rows
    clock.now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)
    now = clock()
    head = _auth(client, "head")
    got = client.get(f"/appraisal?community=310101002005&month={MONTH}", headers=head)
    assert got.status_code == 200, got.text
    result = got.json()
    incidents, levels = _raw_rows(env.url, env.city_staff_id, start, end)
    resolved = [i for i in incidents if i.resolved_at is not None]
    overdue = [
        i
        for i in incidents
        if i.resolved_at is None
        and i.state != "rejected"
        and i.due_at is not None
        and i.due_at < now
    ]
    on_time = (
        100 * sum(i.resolved_at <= i.due_at for i in resolved) / (len(resolved) + len(overdue))
    )
    assert sorted(levels) == sorted(
        ["basic", "dissatisfied"]
    )  # this month's ratings of the handler
    satisfaction = 100 * sum(v in FAVOURABLE for v in levels) / len(levels)
    expected = (
        40 * assessment_total + 20 * on_time + 20 * satisfaction
    ) / 80  # post staff: no patrol
    (city,) = [w for w in result["workers"] if w["staff_id"] == env.city_staff_id]
    assert city["components"]["satisfaction"] == pytest.approx(satisfaction, abs=0.01)
    assert city["components"]["on_time"] == pytest.approx(on_time, abs=0.01)
    assert city["components"]["assessment"] == pytest.approx(assessment_total)
    assert city["missing"] == ["patrol"]
    assert city["score"] == pytest.approx(expected, abs=0.01)
    assert [r["reason"] for r in city["rewards"]] == ["月度表扬"] and city["accountability"] == []
    (before,) = [w for w in appraisal_before["workers"] if w["staff_id"] == env.city_staff_id]
    assert before["components"]["satisfaction"] is None  # the rating made the difference

    # the grid worker: weeks with Mondays 2, 9, 16 Nov have ended by 25 Nov; ≥ 15 h: 2 Nov, 16 Nov
    (gw_row,) = [w for w in result["workers"] if w["staff_id"] == worker_id]
    weeks = {
        dt.date(2026, 11, 2): 16.0,
        dt.date(2026, 11, 9): 9.0 + 5.5,
        dt.date(2026, 11, 16): 15.0,
    }
    patrol = 100 * sum(h >= 15 for h in weeks.values()) / len(weeks)
    assert gw_row["components"]["patrol"] == pytest.approx(patrol, abs=0.01)
    assert gw_row["grids"] == sorted(grid_worker_grids)

    # the same through the CLI, and the reports
    runner = CliRunner()
    cli = runner.invoke(
        cli_app,
        ["appraise", "--community", "310101002005", "--month", MONTH, "--json", "--db", env.url],
    )
    assert cli.exit_code == 0, cli.output
    printed = json.loads(cli.output)
    (cli_city,) = [w for w in printed["workers"] if w["staff_id"] == env.city_staff_id]
    assert cli_city["components"]["satisfaction"] == pytest.approx(satisfaction, abs=0.01)
    xlsx = tmp_path / "a.xlsx"
    assert (
        runner.invoke(
            cli_app,
            [
                "appraise",
                "-c",
                "310101002005",
                "--month",
                MONTH,
                "--out",
                str(xlsx),
                "--db",
                env.url,
            ],
        ).exit_code
        == 0
    )
    sheet = load_workbook(xlsx)["绩效"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("姓名", "工号", "角色", "网格")
    city_name = next(r for r in rows[1:] if r[0] == city["name"])
    assert city_name[rows[0].index("满意率")] == pytest.approx(satisfaction, abs=0.01)
    assert city_name[rows[0].index("绩效得分")] == pytest.approx(expected, abs=0.01)
    pdf = client.get(
        f"/appraisal/report?community=310101002005&month={MONTH}&format=pdf", headers=head
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    pdf_text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True
    ).stdout.decode()
    assert "月度绩效" in pdf_text and city["name"] in pdf_text
    assert (
        runner.invoke(
            cli_app, ["appraise", "-c", "310101002005", "--month", "2026-13", "--db", env.url]
        ).exit_code
        == 2
    )
    assert (
        runner.invoke(
            cli_app, ["appraise", "-c", "没有这个社区", "--month", MONTH, "--db", env.url]
        ).exit_code
        == 2
    )

    # the dashboard's data carries the appraisal; roles outside are refused
    board = client.get(f"/dashboard/data?month={MONTH}", headers=head).json()
    (row,) = [r for r in board["communities"] if r["community"]["code"] == "310101002005"]
    (dash_city,) = [w for w in row["appraisal"]["rows"] if w["staff_id"] == env.city_staff_id]
    assert dash_city["score"] == city["score"]
    assert (
        client.get(
            f"/appraisal?community=310101002005&month={MONTH}", headers=_auth(client, "gw")
        ).status_code
        == 403
    )


def test_survey_on_the_phone_and_on_paper(env, web):
    client, clock = web
    head = _auth(client, "head")
    grids = env.grid_codes
    r = client.post(
        "/surveys",
        headers=head,
        json={
            "community": "310101002005",
            "title": "2026年11月民意测评",
            "opens_on": "2026-11-01",
            "closes_on": "2026-11-30",
        },
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    anon = TestClient(client.app)
    form = anon.get(f"/surveys/{sid}/form").json()
    assert form["open"] and {g["code"] for g in form["grids"]} >= set(grids[:2])
    assert form["questions"][0]["headline"] and len(form["questions"]) == 5
    assert "民意测评" in anon.get(f"/survey/{sid}").text

    # grid 0: 7 phone answers, 5 favourable; grid 1: 2 paper sheets, 0 favourable
    answers = ["满意", "基本满意", "不满意", "satisfied", "basic", "dissatisfied", "满意"]
    for level in answers:
        ok = anon.post(
            f"/surveys/{sid}/responses",
            json={"grid_code": grids[0], "answers": {"overall": level, "safety": "满意"}},
        )
        assert ok.status_code == 201, ok.text
    for _ in range(2):
        paper = client.post(
            f"/surveys/{sid}/paper-responses",
            headers=_auth(client, "gw"),
            json={"grid_code": grids[1], "answers": {"overall": "不满意"}},
        )
        assert paper.status_code == 201, paper.text
    bad_level = anon.post(
        f"/surveys/{sid}/responses", json={"grid_code": grids[0], "answers": {"overall": "还行"}}
    )
    assert bad_level.status_code == 422 and "overall" in bad_level.json()["detail"]
    bad_question = anon.post(
        f"/surveys/{sid}/responses", json={"grid_code": grids[0], "answers": {"weather": "满意"}}
    )
    assert bad_question.status_code == 422 and "weather" in bad_question.json()["detail"]
    bad_grid = anon.post(
        f"/surveys/{sid}/responses", json={"grid_code": "999", "answers": {"overall": "满意"}}
    )
    assert bad_grid.status_code == 422
    assert anon.get(f"/surveys/{sid}/results").status_code == 401

    results = client.get(f"/surveys/{sid}/results", headers=head).json()
    by_grid = {g["grid_code"]: g for g in results["grids"]}
    favourable = sum(level in ("满意", "基本满意", "satisfied", "basic") for level in answers)
    for code, k, n in ((grids[0], favourable, len(answers)), (grids[1], 0, 2)):
        overall = by_grid[code]["questions"]["overall"]
        assert (overall["responses"], overall["favourable"]) == (n, k)
        ref = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert overall["wilson_low"] == pytest.approx(ref[0], abs=1e-4)
        assert overall["wilson_high"] == pytest.approx(ref[1], abs=1e-4)
    assert by_grid[grids[1]]["questions"]["safety"]["responses"] == 0
    assert by_grid[grids[1]]["questions"]["safety"]["wilson_low"] is None
    # per worker: a staff member serving grid 0 gets grid 0's answers
    (leader,) = [w for w in results["workers"] if w["grids"] == [grids[0]]][:1]
    assert leader["questions"]["overall"]["responses"] == len(answers)

    # closed survey: the phone page refuses, paper is still entered
    clock.now = dt.datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI)
    late = anon.post(
        f"/surveys/{sid}/responses", json={"grid_code": grids[0], "answers": {"overall": "满意"}}
    )
    assert late.status_code == 409
    assert (
        client.post(
            f"/surveys/{sid}/paper-responses",
            headers=_auth(client, "head"),
            json={"grid_code": grids[0], "answers": {"overall": "满意"}},
        ).status_code
        == 201
    )


def test_appraisal_rejects_bad_input(env, web):
    client, _ = web
    head = _auth(client, "head")
    assert (
        client.get("/appraisal?community=310101002005&month=2026-13", headers=head).status_code
        == 422
    )
    missing = client.get("/appraisal?community=nowhere&month=2026-11", headers=head)
    assert missing.status_code in (404, 422) and "nowhere" in missing.json()["detail"]
    assert (
        client.post(
            "/surveys",
            headers=head,
            json={
                "community": "310101002005",
                "title": "x",
                "template": "nope",
                "opens_on": "2026-11-01",
                "closes_on": "2026-11-30",
            },
        ).status_code
        == 422
    )
    assert re.search(
        "nope",
        client.post(
            "/surveys",
            headers=head,
            json={
                "community": "310101002005",
                "title": "x",
                "template": "nope",
                "opens_on": "2026-11-01",
                "closes_on": "2026-11-30",
            },
        ).json()["detail"],
    )
